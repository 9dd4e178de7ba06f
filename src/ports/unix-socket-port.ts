// UnixSocketPort: the Port of a `socket` port, over its transport (socket.ts for `stream`, socket-dgram.ts
// for `dgram`). The port does its own I/O (fd -1): the frames of one burst from the peer (one stream chunk,
// one native datagram batch) are copied behind zero virtio-net headers into the port's own arena and
// handed to the data plane as one batch, the shape the native loop delivers; a batch is also handed over
// when the arena or the slot table is full. Frames to the peer leave through send(): the peer takes plain
// frames only, so GSO frames are cut into segments and partial checksums completed first.
import { SEGMENT_SCRATCH_LEN, needsSoftwareOffload, segmentFrame } from '../wire/segment.js';
import { VNET_HDR_LEN } from '../wire/virtio-net.js';
import type { SocketSpec } from './devices.js';
import type { Port, PortSink, PortState, TxTally } from './port.js';
import { MAX_FRAME, openSocketPort, type SocketEvents, type SocketTransport } from './socket.js';
import { openDgramSocketPort } from './socket-dgram.js';

/** ARENA_BYTES is the size of a socket port's receive arena: room for several frames of the largest size. */
export const ARENA_BYTES = 4 * (VNET_HDR_LEN + MAX_FRAME);
/** ARENA_SLOTS is the most frames one batch from a socket port holds. */
export const ARENA_SLOTS = 64;

const DEFAULT_MTU = 1500;

/** SocketTransportOpener opens a socket port's transport; tests may pass their own. */
export type SocketTransportOpener = (spec: SocketSpec, events: SocketEvents) => Promise<SocketTransport>;

/** openSocketTransport is the real SocketTransportOpener, by the spec's mode. */
export const openSocketTransport: SocketTransportOpener = (spec, events) =>
  spec.mode === 'dgram' ? openDgramSocketPort({ name: spec.name, path: spec.path, mode: 'dgram', uid: spec.uid, gid: spec.gid }, events) : openSocketPort(spec, events);

/** openUnixSocketPort listens (or binds) on spec.path and returns the port in slot `index`. */
export async function openUnixSocketPort(spec: SocketSpec, index: number, open: SocketTransportOpener = openSocketTransport): Promise<UnixSocketPort> {
  const port = new UnixSocketPort(spec, index);
  port.attach(await open(spec, port.events));
  return port;
}

/** UnixSocketPort is a `socket` port; see the comment at the top of this file. */
export class UnixSocketPort implements Port {
  readonly kind = 'socket' as const;
  readonly fd = -1;
  readonly offloads = 0;
  readonly name: string;
  readonly ifname: string;
  mtu: number;
  up = false;
  state: PortState = 'down';
  private transport: SocketTransport | undefined;
  private sink: PortSink | undefined;
  private readonly arena = new Uint8Array(ARENA_BYTES);
  private readonly offsets = new Int32Array(ARENA_SLOTS);
  private readonly lengths = new Int32Array(ARENA_SLOTS);
  private count = 0;
  private used = 0;
  private scheduled = false;
  private scratch: Uint8Array | undefined;
  private closed = false;

  constructor(
    spec: SocketSpec,
    readonly index: number,
  ) {
    this.name = spec.name;
    this.ifname = spec.path;
    this.mtu = spec.mtu ?? DEFAULT_MTU;
  }

  /** events are what the transport reports to the port. */
  readonly events: SocketEvents = {
    frame: (f) => this.take(f),
    badFraming: () => {
      if (this.sink !== undefined && !this.closed) this.sink.drop(this, 'bad_framing');
    },
    peer: (connected) => {
      if (this.closed) return;
      this.up = connected;
      const state: PortState = connected ? 'up' : 'down';
      if (state === this.state) return;
      this.state = state;
      this.sink?.state(this, state, connected ? 'a peer connected to a socket port' : 'the peer of a socket port went away');
    },
  };

  /** attach gives the port its open transport. */
  attach(transport: SocketTransport): void {
    this.transport = transport;
    this.up = transport.connected;
    this.state = this.up ? 'up' : 'down';
  }

  start(sink: PortSink): void {
    this.sink = sink;
  }

  /** take copies one frame from the peer into the arena; the batch goes out after the current burst. */
  private take(frame: Uint8Array): void {
    if (this.sink === undefined || this.closed) return;
    const need = VNET_HDR_LEN + frame.length;
    if (this.count === ARENA_SLOTS || this.used + need > this.arena.length) this.deliver();
    const at = this.used;
    this.arena.fill(0, at, at + VNET_HDR_LEN);
    this.arena.set(frame, at + VNET_HDR_LEN);
    this.offsets[this.count] = at;
    this.lengths[this.count] = need;
    this.count++;
    this.used += need;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.deliver());
    }
  }

  private deliver(): void {
    this.scheduled = false;
    const n = this.count;
    this.count = 0;
    this.used = 0;
    if (n > 0 && this.sink !== undefined && !this.closed) this.sink.receive(this, this.arena, this.offsets, this.lengths, n);
  }

  /** send writes a frame to the peer, in segments with checksums completed when it is a GSO or
   * partial-checksum frame; the segmenter's faults are drop reasons of their own. */
  send(buf: Uint8Array, off: number, len: number, tally: TxTally): void {
    tally.frames = 0;
    tally.bytes = 0;
    tally.drop = null;
    if (!needsSoftwareOffload(buf, off)) {
      this.sendPlain(buf.subarray(off + VNET_HDR_LEN, off + len), tally);
      return;
    }
    this.scratch ??= new Uint8Array(SEGMENT_SCRATCH_LEN);
    const fault = segmentFrame(buf, off, len, this.scratch, (f) => this.sendPlain(f, tally));
    if (fault !== null) tally.drop = fault;
  }

  private sendPlain(frame: Uint8Array, tally: TxTally): void {
    const r = this.transport === undefined || this.closed ? 'no_peer' : this.transport.send(frame);
    if (r === 'sent') {
      tally.frames++;
      tally.bytes += frame.length;
    } else {
      tally.drop = r === 'backlog' ? 'backlog' : 'port_down';
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.up = false;
    this.transport?.close();
  }
}
