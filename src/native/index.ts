// The one typed loader of the native addon (native/*.cc, built by node-gyp into build/Release).
// Only the device and port code imports this module.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** OpenTunOptions are the arguments of openTun(). */
export interface OpenTunOptions {
  /** Interface name (at most 15 bytes); empty lets the kernel choose. */
  name: string;
  mode: 'tap' | 'tun';
  /** Size of the virtio-net header in front of each frame: 12 (the default), 10, or 0 for none. */
  vnetHdrSize?: number;
  /** Ask for checksum, TSO and USO offloads (TUNSETOFFLOAD); default true. */
  offload?: boolean;
  multiQueue?: boolean;
  /** Fail with EBUSY rather than attach to an existing device of that name (IFF_TUN_EXCL). */
  exclusive?: boolean;
}

/** OpenTunResult describes an attached TUN/TAP queue. */
export interface OpenTunResult {
  fd: number;
  name: string;
  /** The TUN_F_* offload bits that took effect. */
  offloads: number;
}

/** LinkOptions name an interface, in the daemon's namespace or in a named one (/run/netns). */
export interface LinkRef {
  ifname: string;
  netns?: string;
}

/** IoLoop is the batched poller of native/ioloop.cc; its header comment is the contract. */
export interface IoLoop {
  readonly rxBuffer: ArrayBuffer;
  readonly rxLengths: Int32Array;
  /** Offsets of the frames of the last batch in rxBuffer (each at a slot boundary). */
  readonly rxOffsets: Int32Array;
  /** Whether reads and writes go through io_uring (each falls back to read()/write() on its own). */
  readonly ioUring: { reads: boolean; writes: boolean };
  /** Triples [fd, offset, length] into rxBuffer, written by JS before flush(n). */
  readonly txPlan: Int32Array;
  /** 0 or the errno of each write of the last flush. */
  readonly txResult: Int32Array;
  readonly slots: number;
  readonly slotSize: number;
  readonly planSize: number;
  add(fd: number, port: number): void;
  remove(port: number): boolean;
  flush(n: number): number;
  send(fd: number, frame: Uint8Array): number;
  close(): void;
}

/** IoLoopOptions size the receive arena and the write plan. */
export interface IoLoopOptions {
  slots: number;
  slotSize: number;
  planSize: number;
  /** Use io_uring where the kernel allows it (default true). */
  ioUring?: boolean;
}

/**
 * BatchHandler receives `count` frames read from `port`, the errno that stopped its polling (0 if none:
 * the device is gone), and `skipped`, the frames the kernel failed to hand over one by one while reading
 * went on (absent counts as 0; native/ioloop.cc's header comment says which errors are which).
 */
export type BatchHandler = (port: number, count: number, errno: number, skipped?: number) => void;

/** NativeAddon is the surface of build/Release/tapwire.node. */
export interface NativeAddon {
  openTun(options: OpenTunOptions): OpenTunResult;
  setPersist(fd: number, on: boolean): void;
  setOwner(fd: number, uid: number): void;
  setGroup(fd: number, gid: number): void;
  closeFd(fd: number): void;
  /** openPacket opens an AF_PACKET socket on an existing interface (12-byte vnet headers, promiscuous). */
  openPacket(options: { ifname: string }): { fd: number; ifindex: number; mtu: number };
  /** linkSet changes an interface's MAC, MTU, up/down and (noarp) IFF_NOARP, in one RTM_NEWLINK. */
  linkSet(options: LinkRef & { mac?: Uint8Array; mtu?: number; up?: boolean; noarp?: boolean }): void;
  linkMove(options: LinkRef & { to: string }): void;
  linkDel(options: LinkRef): void;
  linkIndex(options: LinkRef): number;
  /** addrAdd adds an address; with `peer` (same family) it is a point-to-point address to that peer. */
  addrAdd(options: LinkRef & { family: 4 | 6; address: Uint8Array; prefixLength: number; nodad?: boolean; peer?: Uint8Array }): void;
  /** routeAdd adds a route in the main table out of `ifname` (on-link, or via `gateway`). */
  routeAdd(options: LinkRef & { family: 4 | 6; destination: Uint8Array; prefixLength: number; gateway?: Uint8Array }): void;
  offloadFlags: { CSUM: number; TSO4: number; TSO6: number; TSO_ECN: number; USO4: number; USO6: number };
  IoLoop: new (options: IoLoopOptions, onBatch: BatchHandler) => IoLoop;

  // --- fd passing (native/fdpass.cc; its header comment is the contract) ---
  /** sendFd sends `fd` (SCM_RIGHTS) with `payload` (at least 1 byte) on a connected AF_UNIX stream socket; returns the bytes sent (short only on a full send buffer). */
  sendFd(socketFd: number, fd: number, payload: Uint8Array): number;
  /** peerCred gives the peer's credentials at connect(); `groups` (SO_PEERGROUPS) is null on kernels before 4.13. */
  peerCred(socketFd: number): PeerCred;
  /** requestFd connects to `path`, sends `request` and blocks (at most timeoutMs in all) for the reply line and at most one fd (close-on-exec). */
  requestFd(path: string, request: Uint8Array, timeoutMs: number): { fd: number | null; reply: Buffer };
  /** UnixListener listens on a unix stream socket (bind, chmod, chown, then listen) and hands each accepted fd to onAccept. */
  UnixListener: new (options: UnixListenerOptions, onAccept: AcceptHandler) => UnixListener;

  // --- unix datagram sockets (native/dgram.cc; its header comment is the contract) ---
  /** UnixDgram binds an AF_UNIX datagram socket (bind, chmod, chown, then poll) and hands each batch of received datagrams to onFrames. */
  UnixDgram: new (options: UnixDgramOptions, onFrames: DgramHandler) => UnixDgram;
}

/** PeerCred is what SO_PEERCRED and SO_PEERGROUPS tell about the process at the other end of a unix socket. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
  /** Supplementary groups, or null where the kernel cannot tell (before Linux 4.13). */
  groups: number[] | null;
}

/** UnixListenerOptions are the socket file's path (1-107 bytes), its mode, and optionally its group. */
export interface UnixListenerOptions {
  path: string;
  mode: number;
  gid?: number;
  backlog?: number;
}

/** AcceptHandler gets each accepted connection (non-blocking, close-on-exec; the handler owns it), or fd -1 and the errno that stopped accepting until resume(). */
export type AcceptHandler = (fd: number, errno: number) => void;

/** UnixListener is the listening socket of native/fdpass.cc. */
export interface UnixListener {
  readonly fd: number;
  /** resume polls again after an accept error stopped it. */
  resume(): void;
  /** close stops accepting and closes the listening fd (not the socket file); safe to call twice. */
  close(): void;
}
// --- end of fd passing ---

// --- unix datagram sockets (native/dgram.cc) ---
/** UnixDgramOptions are the socket file's path (1-107 bytes; no file may exist there), its mode (default 0o660), its owner and group, and the most datagrams per batch (1..4096, default 256). */
export interface UnixDgramOptions {
  path: string;
  mode?: number;
  uid?: number;
  gid?: number;
  batch?: number;
}

/** DgramHandler gets each batch: `count` datagrams described by rxOffsets/rxLengths/rxTruncated, whether the peer changed (it is the sender of the batch's last datagram from a bound socket), and 0 or the errno that stopped receiving until resume(). */
export type DgramHandler = (count: number, peerChanged: boolean, errno: number) => void;

/** UnixDgram is the datagram socket of native/dgram.cc. */
export interface UnixDgram {
  readonly fd: number;
  /** rxBuffer holds the datagrams of the current batch; it is reused by the next one. */
  readonly rxBuffer: ArrayBuffer;
  readonly rxOffsets: Int32Array;
  /** The real length of each datagram, also for a truncated one. */
  readonly rxLengths: Int32Array;
  /** 1 for a datagram longer than maxFrame: its bytes are not in rxBuffer. */
  readonly rxTruncated: Uint8Array;
  /** maxFrame is the longest datagram received whole (14 + 4 + 65535). */
  readonly maxFrame: number;
  readonly batch: number;
  /** peer is the address replies go to ("@name" when abstract), or null before the first datagram and after the peer went away. */
  readonly peer: string | null;
  /** send sends one datagram to the peer: 0, or ENOTCONN (no peer), EAGAIN (full), ECONNREFUSED/ENOENT (the peer went away and is forgotten), another errno, EBADF after close. */
  send(frame: Uint8Array): number;
  /** sendTo sends one datagram to `path` (the peer is untouched): 0 or an errno. */
  sendTo(path: string, frame: Uint8Array): number;
  /** resume polls again after a receive error stopped it. */
  resume(): void;
  /** close stops receiving and closes the fd at once (not the socket file); safe to call twice. */
  close(): void;
}
// --- end of unix datagram sockets ---

/** NativeError is what the addon throws when the kernel refuses: `code` is the errno name. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

/** isNativeError tells a kernel refusal from the addon apart from other errors. */
export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as NativeError).errno === 'number' && typeof (e as NativeError).syscall === 'string';
}

function findAddon(): string {
  // dist/src/native/index.js and src/native/index.ts both sit below the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', 'tapwire.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('tapwire native addon not found: run `npm ci` (or `npx node-gyp rebuild`) to build build/Release/tapwire.node');
}

let cached: NativeAddon | undefined;

/** native returns the loaded addon, loading it on first use (per thread). */
export function native(): NativeAddon {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    cached = require(findAddon()) as NativeAddon;
  }
  return cached;
}
