// DgramSocketPort: a `socket` port in `dgram` mode: a unix datagram socket the daemon binds, speaking QEMU's
// `-netdev dgram` framing (one Ethernet frame per datagram, no length, no virtio-net header), so that an
// emulator with no privilege at all joins a bridge:
//   qemu-system-x86_64 ... -netdev dgram,id=n0,local.type=unix,local.path=QPATH,remote.type=unix,remote.path=PATH
// The socket file at PATH is mode 0660, owned by the port's owner and group when given: that is who may send
// to it. A datagram socket has no connection, so the peer is learned: it is the sender of the latest
// datagram (an emulator restarted with another QPATH takes over at its first frame), and it is forgotten
// when a send finds its socket gone (ECONNREFUSED, ENOENT). The port is `up` while a peer is known.
//
// The datagrams are read natively (native/dgram.cc: Node has no AF_UNIX SOCK_DGRAM) in batches, one JS call
// per batch, on the worker's event loop. A frame the peer cannot take now (its queue is full) is dropped
// and reported as 'backlog', never queued here. A datagram shorter than an Ethernet header, or longer than
// the largest frame (its tail was cut off), is not a frame: it is reported through badFraming and the
// rest goes on, since datagrams keep their boundaries and nothing after it is out of step.
import { constants } from 'node:os';
import { native, type UnixDgram } from '../native/index.js';
import { MIN_FRAME, removeStale, replaceStale, type SocketEvents, type SocketTransport } from './socket.js';

/** DgramSocketSpec says where a `dgram` socket port binds (SocketSpec of ./socket.ts only has mode 'stream'). */
export interface DgramSocketSpec {
  name: string;
  path: string;
  mode: 'dgram';
  /** uid and gid own the socket file (mode 0660): who, besides root, may send to it. */
  uid?: number;
  gid?: number;
}

/** RESUME_DELAY_MS is how long a socket whose receiving failed (ENOMEM and the like) rests before polling again. */
export const RESUME_DELAY_MS = 100;

const E = constants.errno;

/** openDgramSocketPort binds spec.path (a stale socket file there is replaced; a live socket or any other
 * file is refused with EADDRINUSE) and returns the port, receiving at once. */
export async function openDgramSocketPort(spec: DgramSocketSpec, events: SocketEvents): Promise<SocketTransport> {
  await replaceStale(spec.path);
  let connected = false;
  let closed = false;
  let resumeTimer: NodeJS.Timeout | undefined;
  const options: { path: string; mode: number; uid?: number; gid?: number } = { path: spec.path, mode: 0o660 };
  if (spec.uid !== undefined) options.uid = spec.uid;
  if (spec.gid !== undefined) options.gid = spec.gid;

  const onFrames = (count: number, peerChanged: boolean, errno: number): void => {
    if (closed) return;
    // The peer first: a frame of this batch may be answered at once, and the answer goes to this peer.
    if (peerChanged) {
      connected = true;
      events.peer(true);
    }
    const buf = rx;
    const offsets = sock.rxOffsets;
    const lengths = sock.rxLengths;
    const truncated = sock.rxTruncated;
    for (let i = 0; i < count; i++) {
      const len = lengths[i]!;
      if (truncated[i] !== 0 || len < MIN_FRAME) events.badFraming(len);
      else {
        const off = offsets[i]!;
        events.frame(buf.subarray(off, off + len));
      }
    }
    if (errno !== 0 && !closed && resumeTimer === undefined) {
      resumeTimer = setTimeout(() => {
        resumeTimer = undefined;
        if (!closed) sock.resume();
      }, RESUME_DELAY_MS);
      resumeTimer.unref();
    }
  };
  const sock: UnixDgram = new (native().UnixDgram)(options, onFrames);
  // onFrames runs from the event loop only, after this line: it sees the arena.
  const rx = new Uint8Array(sock.rxBuffer);

  return {
    path: spec.path,
    get connected() {
      return connected;
    },
    send(frame) {
      if (closed) return 'no_peer';
      const err = sock.send(frame);
      switch (err) {
        case 0:
          return 'sent';
        case E.EAGAIN:
        case E.ENOBUFS:
        case E.ENOMEM:
          return 'backlog';
        case E.ECONNREFUSED:
        case E.ENOENT:
          // The native side has forgotten the peer; its next datagram makes it known again.
          if (connected) {
            connected = false;
            events.peer(false);
          }
          return 'no_peer';
        default:
          // ENOTCONN (none yet), or a peer that refuses us (EPERM, EACCES): nobody to deliver to.
          return 'no_peer';
      }
    },
    close() {
      if (closed) return;
      closed = true;
      connected = false;
      if (resumeTimer !== undefined) clearTimeout(resumeTimer);
      sock.close();
      try {
        removeStale(spec.path);
      } catch {
        // the file is gone or not a socket: nothing of ours to remove
      }
    },
  };
}
