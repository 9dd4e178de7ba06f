// FdServer hands local clients an fd of a `vm` port's TAP over a unix socket (SCM_RIGHTS), the way libvirt
// gives qemu `-netdev tap,fd=N`, so that `tapwire exec` can run an emulator unprivileged on the daemon's TAP.
//
// Protocol: one request per connection. The client sends one JSON line, {"port":"vm1"} (at most
// maxRequestBytes; a newline or the end of its stream ends it) within requestTimeoutMs. The server answers
// one JSON line and closes: {"ok":true,"port":"vm1",...} carrying exactly one fd, or {"ok":false,"error":"..."}
// without an fd. A bad, oversized or late request gets an error line and changes nothing.
//
// Access: the socket file is 0660 (and group-owned when `gid` is given); on top of that the resolver decides,
// with the credentials the peer had at connect() (SO_PEERCRED, plus its supplementary groups through
// SO_PEERGROUPS), which the kernel vouches for and the client cannot forge. The resolver's grant is closed
// (its close()) whatever happens to the connection, so the daemon never keeps a copy it handed out.
//
// Design: the listening socket and accept() are native (UnixListener, native/fdpass.cc explains why); each
// accepted fd is read with a plain net.Socket, and the reply that carries the fd is sent natively on it.
// Nothing here throws out of the event loop: every failure of a connection ends only that connection.
//
// It lives with the ports: it is a device of the daemon's side (it passes a TAP's fd), it uses the native
// addon, and it knows nothing of the daemon; tapwired (src/tapwired.ts) gives it the daemon's resolver.
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { Socket, connect } from 'node:net';
import { dirname } from 'node:path';
import { native, type PeerCred, type UnixListener } from '../native/index.js';

export type { PeerCred };

/** PORT_NAME_RE is the daemon's rule for port names (NAME_RE in src/daemon/specs.ts, restated here because
 * the fd server sits below the daemon; test/unit/specs.test.ts checks that the two agree). */
export const PORT_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

/** FdGrant is a resolver's yes: the daemon's own fd to pass, and close() for the daemon's copy once sent. */
export interface FdGrant {
  fd: number;
  close(): void;
  /** Extra fields for the reply line (e.g. the interface name); `ok` and `port` are set by the server. */
  info?: Record<string, unknown>;
}

/** FdRefusal is a resolver's no: `error` is shown to the user as is. */
export interface FdRefusal {
  error: string;
}

/** FdResolver decides whether the peer with `cred` may have an fd of `port`, and opens it. */
export type FdResolver = (port: string, cred: PeerCred) => FdGrant | FdRefusal | Promise<FdGrant | FdRefusal>;

/** FdServerLogger is the slice of pino the server uses. */
export interface FdServerLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** FdServerOptions configure an FdServer. */
export interface FdServerOptions {
  /** The socket file; a stale one (nobody answers) is replaced, anything else is refused. */
  path: string;
  resolver: FdResolver;
  /** The socket file's mode, default 0o660. */
  mode?: number;
  /** The socket file's group, default the daemon's. */
  gid?: number;
  /** Largest request line, default 1024 bytes. */
  maxRequestBytes?: number;
  /** Time from accept to the reply, default 5000 ms. */
  requestTimeoutMs?: number;
  /** Connections served at once; more are answered "busy", default 32. */
  maxConnections?: number;
  logger?: FdServerLogger;
}

/** FdServerCounters count what happened to each connection, once each. */
export interface FdServerCounters {
  granted: number;
  refused: number;
  badRequest: number;
  timedOut: number;
  busy: number;
  failed: number;
}

/** fdSocketFor is where tapwired serves vm port fds when nothing else is said: beside its API socket,
 * `tapwired.sock` -> `tapwired-fd.sock`. The CLI's `tapwire exec` finds it the same way. */
export function fdSocketFor(apiSocket: string): string {
  return apiSocket.endsWith('.sock') ? `${apiSocket.slice(0, -'.sock'.length)}-fd.sock` : `${apiSocket}-fd`;
}

function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * prepareSocket makes a unix socket's directory and removes a stale socket left by a daemon that died; it
 * refuses when another daemon still answers there, or when the path is not a socket. The fd server and the
 * API's unix socket (src/tapwired.ts) both take their path this way.
 */
export async function prepareSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await listening(path)) throw new Error(`another tapwired is already listening on ${path}`);
  unlinkSync(path);
}

/** FD_REQUEST_MAX is the default cap of a request line. */
export const FD_REQUEST_MAX = 1024;
/** FD_REQUEST_TIMEOUT_MS is the default time a client has to send its request. */
export const FD_REQUEST_TIMEOUT_MS = 5000;
// Longest error text sent back, so a chatty resolver cannot make a reply the client refuses.
const MAX_ERROR_TEXT = 1000;
// Pause before accepting again after accept() failed (EMFILE and the like), so the loop does not spin.
const ACCEPT_RETRY_MS = 1000;

const silent: FdServerLogger = { warn() {}, error() {} };

/** parseFdRequest reads a request line into a port name, or says what is wrong with it. */
export function parseFdRequest(line: string): { port: string } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: 'bad request: not a JSON line' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'bad request: expected a JSON object' };
  const extra = Object.keys(value).filter((k) => k !== 'port');
  if (extra.length > 0) return { error: `bad request: unknown field ${JSON.stringify(extra[0])}` };
  const port = (value as { port?: unknown }).port;
  if (typeof port !== 'string' || !PORT_NAME_RE.test(port)) return { error: 'bad request: "port" must be a port name (1-15 characters)' };
  return { port };
}

function isGrant(v: unknown): v is FdGrant {
  const g = v as FdGrant;
  return typeof v === 'object' && v !== null && Number.isInteger(g.fd) && g.fd >= 0 && typeof g.close === 'function';
}

function isRefusal(v: unknown): v is FdRefusal {
  return typeof v === 'object' && v !== null && typeof (v as FdRefusal).error === 'string';
}

function line(obj: object): Buffer {
  return Buffer.from(JSON.stringify(obj) + '\n');
}

// One accepted connection: reading -> resolving -> done.
interface Conn {
  socket: Socket;
  fd: number;
  state: 'reading' | 'resolving' | 'done';
}

/** FdServer is the fd-passing socket of tapwired; see the file's header for the protocol. */
export class FdServer {
  readonly counters: FdServerCounters = { granted: 0, refused: 0, badRequest: 0, timedOut: 0, busy: 0, failed: 0 };
  private readonly conns = new Set<Conn>();
  private listener: UnixListener | null;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly maxRequestBytes: number;
  private readonly requestTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly log: FdServerLogger;
  // The socket file this server made, so close() removes it only if it is still that file.
  private readonly ino: bigint;
  private readonly dev: bigint;

  private constructor(private readonly options: FdServerOptions) {
    this.maxRequestBytes = options.maxRequestBytes ?? FD_REQUEST_MAX;
    this.requestTimeoutMs = options.requestTimeoutMs ?? FD_REQUEST_TIMEOUT_MS;
    this.maxConnections = options.maxConnections ?? 32;
    this.log = options.logger ?? silent;
    const opts = { path: options.path, mode: options.mode ?? 0o660, ...(options.gid === undefined ? {} : { gid: options.gid }) };
    this.listener = new (native().UnixListener)(opts, (fd, errno) => this.onAccept(fd, errno));
    const st = lstatSync(options.path, { bigint: true });
    this.ino = st.ino;
    this.dev = st.dev;
  }

  /** listen replaces a stale socket file at options.path and starts serving. */
  static async listen(options: FdServerOptions): Promise<FdServer> {
    await prepareSocket(options.path);
    return new FdServer(options);
  }

  /** path is the socket file served. */
  get path(): string {
    return this.options.path;
  }

  /** connections is how many connections are open now. */
  get connections(): number {
    return this.conns.size;
  }

  /** close stops accepting, ends open connections (their grants are still closed) and removes the socket file; safe to call twice. */
  close(): void {
    if (this.listener === null) return;
    this.listener.close();
    this.listener = null;
    clearTimeout(this.retryTimer);
    for (const c of this.conns) {
      c.state = 'done';
      c.socket.destroy();
    }
    this.conns.clear();
    try {
      const st = lstatSync(this.options.path, { bigint: true });
      if (st.isSocket() && st.ino === this.ino && st.dev === this.dev) unlinkSync(this.options.path);
    } catch {
      // Already gone: nothing to remove.
    }
  }

  private onAccept(fd: number, errno: number): void {
    if (fd < 0) {
      this.log.error({ errno, path: this.options.path }, 'fd socket: accept failed; retrying in 1 s');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        try {
          this.listener?.resume();
        } catch (e) {
          this.log.error({ err: e }, 'fd socket: cannot resume accepting');
        }
      }, ACCEPT_RETRY_MS);
      return;
    }
    // The credentials come first, before the client has said anything.
    let cred: PeerCred | null = null;
    let credError: unknown;
    try {
      cred = native().peerCred(fd);
    } catch (e) {
      credError = e;
    }
    let socket: Socket;
    try {
      // allowHalfOpen: the client shuts down its side after the request; we still answer on ours.
      socket = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    } catch (e) {
      this.counters.failed++;
      this.log.error({ err: e }, 'fd socket: cannot wrap an accepted connection');
      try {
        native().closeFd(fd);
      } catch {
        // Nothing more can be done about that fd.
      }
      return;
    }
    const conn: Conn = { socket, fd, state: 'reading' };
    this.conns.add(conn);
    socket.on('error', () => {
      // A client that goes away mid-exchange only ends its own connection.
      socket.destroy();
    });
    socket.on('close', () => {
      conn.state = 'done';
      this.conns.delete(conn);
    });
    if (this.listener === null) {
      this.finish(conn, { ok: false, error: 'tapwired is shutting down' });
      return;
    }
    if (cred === null) {
      this.counters.failed++;
      this.log.error({ err: credError }, 'fd socket: cannot read the peer credentials');
      this.finish(conn, { ok: false, error: 'internal error: cannot read the peer credentials' });
      return;
    }
    if (this.conns.size > this.maxConnections) {
      this.counters.busy++;
      this.finish(conn, { ok: false, error: 'busy: too many fd requests at once; try again' });
      return;
    }
    socket.setTimeout(this.requestTimeoutMs, () => {
      if (conn.state === 'done') return;
      this.counters.timedOut++;
      if (conn.state === 'reading') this.finish(conn, { ok: false, error: `bad request: no request line within ${this.requestTimeoutMs} ms` });
      else socket.destroy();
    });
    const peer = cred;
    const chunks: Buffer[] = [];
    let size = 0;
    const onRequest = (text: string): void => {
      socket.off('data', onData);
      socket.pause();
      conn.state = 'resolving';
      const parsed = parseFdRequest(text);
      if ('error' in parsed) {
        this.counters.badRequest++;
        this.finish(conn, { ok: false, error: parsed.error });
        return;
      }
      void this.resolve(conn, parsed.port, peer);
    };
    const onData = (chunk: Buffer): void => {
      if (conn.state !== 'reading') return;
      const nl = chunk.indexOf(0x0a);
      const take = nl < 0 ? chunk : chunk.subarray(0, nl);
      size += take.length;
      if (size > this.maxRequestBytes) {
        socket.off('data', onData);
        this.counters.badRequest++;
        this.finish(conn, { ok: false, error: `bad request: over ${this.maxRequestBytes} bytes` });
        return;
      }
      chunks.push(take);
      if (nl >= 0) onRequest(Buffer.concat(chunks).toString('utf8'));
    };
    socket.on('data', onData);
    socket.on('end', () => {
      if (conn.state === 'reading') onRequest(Buffer.concat(chunks).toString('utf8'));
    });
  }

  private async resolve(conn: Conn, port: string, cred: PeerCred): Promise<void> {
    let answer: unknown;
    try {
      answer = await this.options.resolver(port, { ...cred, groups: cred.groups === null ? null : [...cred.groups] });
    } catch (e) {
      this.counters.failed++;
      this.log.error({ err: e, port }, 'fd socket: the resolver threw');
      this.finish(conn, { ok: false, error: 'internal error' });
      return;
    }
    if (isGrant(answer)) {
      try {
        this.send(conn, port, answer);
      } finally {
        try {
          answer.close();
        } catch (e) {
          this.log.error({ err: e, port }, 'fd socket: closing the granted fd failed');
        }
      }
      return;
    }
    if (isRefusal(answer)) {
      this.counters.refused++;
      this.finish(conn, { ok: false, error: answer.error.slice(0, MAX_ERROR_TEXT) });
      return;
    }
    // A resolver bug: anything with a close() is closed all the same.
    if (typeof answer === 'object' && answer !== null && typeof (answer as FdGrant).close === 'function') {
      try {
        (answer as FdGrant).close();
      } catch {
        // Already reported below.
      }
    }
    this.counters.failed++;
    this.log.error({ port }, 'fd socket: the resolver returned neither a grant nor an error');
    this.finish(conn, { ok: false, error: 'internal error' });
  }

  // send passes the grant's fd with the success line. Node closes a destroyed socket's fd at once, so while
  // the socket is not destroyed conn.fd is still this connection.
  private send(conn: Conn, port: string, grant: FdGrant): void {
    if (conn.state === 'done' || conn.socket.destroyed) return;
    const payload = line({ ...grant.info, ok: true, port });
    let sent: number;
    try {
      sent = native().sendFd(conn.fd, grant.fd, payload);
    } catch (e) {
      this.counters.failed++;
      this.log.warn({ err: e, port }, 'fd socket: sending the fd failed');
      conn.state = 'done';
      conn.socket.destroy();
      return;
    }
    this.counters.granted++;
    conn.state = 'done';
    // The fd went with the first byte; a short send (never for a line this small) finishes through Node.
    const rest = payload.subarray(sent);
    if (rest.length > 0) conn.socket.end(rest, () => conn.socket.destroy());
    else conn.socket.end(() => conn.socket.destroy());
  }

  private finish(conn: Conn, reply: { ok: false; error: string }): void {
    if (conn.socket.destroyed) {
      conn.state = 'done';
      return;
    }
    conn.state = 'done';
    conn.socket.end(line(reply), () => conn.socket.destroy());
  }
}
