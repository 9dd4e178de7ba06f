// openSocketPort: the transport of a `socket` port in `stream` mode: a unix stream socket the daemon listens on, speaking QEMU's
// `-netdev stream` framing (each Ethernet frame behind its length as a 4-byte big-endian number, no
// virtio-net header), so that an emulator with no privilege at all joins a bridge:
//   qemu-system-x86_64 ... -netdev stream,id=n0,server=off,addr.type=unix,addr.path=PATH
// The socket file is mode 0660, owned by the port's owner and group when given (else root's): that is who
// may connect. One peer at a time: a new connection replaces the old one (an emulator restarted before the daemon saw
// the old connection close), and the port is `up` while a peer is connected.
//
// The frames cross the worker's event loop through node:net rather than the native batch loop: a socket
// port is for an emulator that has no privileges, not for the fastest path. A frame the port cannot take
// (the peer reads too slowly and MAX_BACKLOG bytes are queued) is dropped and counted, never buffered
// without bound. A length that no Ethernet frame can have means the stream is out of step: the connection
// is closed (counted as bad_framing), since nothing after it can be trusted.
import { createServer, Server, Socket } from 'node:net';
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import { ETH, VLAN_TAG_LEN } from '../wire/ethernet.js';
import type { SocketSpec } from './devices.js';
import { probeSocket } from './socket-path.js';

/** SocketEvents are how a socket port reaches the data plane. */
export interface SocketEvents {
  /** frame is one received Ethernet frame (a view valid during the call). */
  frame(frame: Uint8Array): void;
  /** badFraming is a length that cannot be a frame; the connection is closed after it. */
  badFraming(length: number): void;
  /** peer says whether a peer is connected now. */
  peer(connected: boolean): void;
}

/** SocketTransport is a listening socket port. */
export interface SocketTransport {
  readonly path: string;
  /** connected is true while a peer is there. */
  readonly connected: boolean;
  /** send queues one frame to the peer; false when there is no peer or its backlog is full. */
  send(frame: Uint8Array): 'sent' | 'no_peer' | 'backlog';
  close(): void;
}

/** MIN_FRAME and MAX_FRAME bound a frame on the stream: an Ethernet header, up to a 65535-byte packet behind a tag. */
export const MIN_FRAME = ETH.HEADER_LEN;
export const MAX_FRAME = ETH.HEADER_LEN + VLAN_TAG_LEN + 65535;
/** MAX_BACKLOG is how many bytes may wait for a slow peer before frames are dropped. */
export const MAX_BACKLOG = 4 * 1024 * 1024;

/** StreamDecoder cuts a byte stream into length-prefixed frames. */
export class StreamDecoder {
  private pending: Buffer | undefined;

  /** push takes a chunk and calls `frame` for each whole frame; it returns the bad length that ends the
   * stream, or -1. */
  push(chunk: Buffer, frame: (f: Uint8Array) => void): number {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let pos = 0;
    while (buf.length - pos >= 4) {
      const len = buf.readUInt32BE(pos);
      if (len < MIN_FRAME || len > MAX_FRAME) {
        this.pending = undefined;
        return len;
      }
      if (buf.length - pos - 4 < len) break;
      frame(buf.subarray(pos + 4, pos + 4 + len));
      pos += 4 + len;
    }
    // Keep only the tail, copied when small so that a big chunk is not held for a few bytes.
    if (pos === buf.length) this.pending = undefined;
    else {
      buf = buf.subarray(pos);
      this.pending = buf.length < 4096 ? Buffer.from(buf) : buf;
    }
    return -1;
  }
}

/** encodeFrame puts the 4-byte big-endian length before a frame. */
export function encodeFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + frame.length);
  out.writeUInt32BE(frame.length, 0);
  out.set(frame, 4);
  return out;
}

/** removeStale removes a socket file left at `path` (by an earlier daemon); anything else is left alone. */
export function removeStale(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** replaceStale makes room for a socket port at `path`: a socket file nobody listens on (a connect gets
 * ECONNREFUSED) is removed; a socket something listens on is refused with EADDRINUSE, never unlinked
 * (socket-path.ts); any other file is left for listen or bind to refuse. */
export async function replaceStale(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if ((await probeSocket(path)) === 'live') throw Object.assign(new Error(`${path} is a socket something listens on`), { code: 'EADDRINUSE' });
  removeStale(path);
}

/** openSocketPort is the real SocketOpener for `stream` mode (`dgram` is openDgramSocketPort, in
 * socket-dgram.ts): it listens on spec.path (a stale socket file there is
 * replaced; a live socket or any other file is refused with EADDRINUSE). */
export async function openSocketPort(spec: SocketSpec, events: SocketEvents): Promise<SocketTransport> {
  await replaceStale(spec.path);
  let peer: Socket | undefined;
  let closed = false;
  const server: Server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (socket) => {
    if (closed) {
      socket.destroy();
      return;
    }
    if (peer !== undefined) peer.destroy();
    peer = socket;
    socket.setNoDelay?.(true);
    const decoder = new StreamDecoder();
    events.peer(true);
    socket.on('data', (chunk: Buffer) => {
      const bad = decoder.push(chunk, events.frame);
      if (bad >= 0) {
        events.badFraming(bad);
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (peer === socket) {
        peer = undefined;
        if (!closed) events.peer(false);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Who may connect is the socket file's mode: the owner (root) and its group, as the API socket.
  chmodSync(spec.path, 0o660);
  if (spec.uid !== undefined || spec.gid !== undefined) {
    try {
      chownSync(spec.path, spec.uid ?? -1, spec.gid ?? -1);
    } catch (e) {
      server.close();
      removeStale(spec.path);
      throw e;
    }
  }
  server.on('error', () => undefined);
  return {
    path: spec.path,
    get connected() {
      return peer !== undefined;
    },
    send(frame) {
      const p = peer;
      if (p === undefined) return 'no_peer';
      if (p.writableLength > MAX_BACKLOG) return 'backlog';
      p.write(encodeFrame(frame));
      return 'sent';
    },
    close() {
      if (closed) return;
      closed = true;
      peer?.destroy();
      peer = undefined;
      server.close();
      try {
        removeStale(spec.path);
      } catch {
        // the file is gone or not a socket: nothing of ours to remove
      }
    },
  };
}
