// Port: the one interface every kind of port implements (tap, vm, netdev, socket stream/dgram, the TUN of
// a routed link, and later vxlan). The data plane sees nothing of a kind but this.
//
// Receiving. A port is read in one of two ways, fixed for its life:
// - `fd >= 0`: the data plane's native batch loop polls the fd and reads up to a batch of frames into the
//   shared receive arena (each behind a 12-byte virtio-net header); the port does no I/O of its own.
// - `fd === -1` (socket ports): the port reads by itself and hands each burst to `PortSink.receive` as
//   one batch in an arena of its own, every frame behind a virtio-net header (zero when the peer speaks
//   plain frames), exactly the shape the native loop delivers.
// Sending. Frames leave through the data plane's one write plan: frames of fd ports are written by the
// native loop in one call per batch; frames of `fd === -1` ports go through `send`, which does whatever
// the port needs (framing, software segmentation when `plainFrames`). A failed write is a drop reason.
// Events. A port reports its state changes (a peer connecting, an emulator's carrier, a dead device) to the
// sink; ports whose state the kernel does not announce re-read it in `refresh`, which the data plane calls
// once a second.
// Lifecycle. `close()` releases what the port holds (fd, socket, listener) and is safe to call twice.
import type { DropReason } from './drop-reason.js';

/** PortKind names the kinds of ports a bridge or the router can have. */
export type PortKind = 'tap' | 'vm' | 'netdev' | 'socket' | 'tun';

/** PORT_STATES are the values of a port's (a link's, a router interface's) `state`: up, down (no peer, no
 * carrier, admin down) or error (the device failed). */
export const PORT_STATES = ['up', 'down', 'error'] as const;

/** PortState is one of PORT_STATES. */
export type PortState = (typeof PORT_STATES)[number];

/** SwitchPort is what the bridge and the router read of a port. */
export interface SwitchPort {
  /** index is the port's slot in the data plane: unique among all ports, reused after removal. */
  readonly index: number;
  readonly name: string;
  /** mtu is the largest IP packet the port carries; the largest frame is mtu + 14 (+ 4 when tagged). */
  mtu: number;
  /** up is false while the device cannot take frames; the bridge does not flood to such a port. */
  up: boolean;
}

/** TxTally is what one `send` did: frames and bytes (without virtio-net headers) written, or why not. */
export interface TxTally {
  frames: number;
  bytes: number;
  /** drop is the reason the frame (or what was left of it) was not sent, or null. */
  drop: DropReason | null;
}

/** PortSink is how a port reaches the data plane. */
export interface PortSink {
  /** receive takes `count` frames of `port` at buf[offsets[i]], lengths[i] bytes each (virtio-net header
   * included); the views are valid during the call only. */
  receive(port: Port, buf: Uint8Array, offsets: Int32Array, lengths: Int32Array, count: number): void;
  /** drop counts something the port refused before it was a frame (e.g. a socket peer's bad framing). */
  drop(port: Port, reason: DropReason): void;
  /** state reports a change of the port's state, with a sentence for the log. */
  state(port: Port, state: PortState, why: string): void;
}

/** Port is one port of any kind; see the comment at the top of this file. */
export interface Port extends SwitchPort {
  readonly kind: PortKind;
  /** ifname is the interface (or, for a socket port, the socket path) behind the port. */
  readonly ifname: string;
  /** fd is what the native batch loop reads and writes, or -1 for a port that does its own I/O. */
  readonly fd: number;
  /** offloads are the TUN_F_* bits the kernel accepted (0 where they do not apply). */
  readonly offloads: number;
  /** state is the port's state as last reported. */
  state: PortState;
  /** start begins receiving (fd === -1 ports) and reporting events to `sink`; called once, after the
   * port has its slot. */
  start(sink: PortSink): void;
  /** send writes one frame (virtio-net header first) for a port with fd === -1, filling `tally`. */
  send(buf: Uint8Array, off: number, len: number, tally: TxTally): void;
  /** refresh re-reads state the kernel does not announce (a vm TAP's carrier); optional. */
  refresh?(): void;
  /** close releases the port's resources; safe to call twice. What is meant to outlive the daemon (a vm
   * port's persistent TAP, with its emulator) stays. */
  close(): void;
  /** remove closes the port and deletes what close() leaves (a vm port's TAP), when the port is deleted;
   * ports without such a thing do not have it. */
  remove?(): void;
  /** adopted is true for a port that took over a device an earlier daemon left (a vm port's TAP): a
   * failed setup then closes it rather than removing it. */
  readonly adopted?: boolean;
}

const EIO = 5;
const ENETDOWN = 100;

/** writeErrorReason names the drop for a write that failed with `errno`: a TAP whose netdev is down
 * fails with EIO (ENETDOWN for some devices), anything else is a write error. */
export function writeErrorReason(errno: number): DropReason {
  return errno === EIO || errno === ENETDOWN ? 'port_down' : 'write_error';
}
