// socket-path: where a `socket` port may listen. A socket port takes a file path from an API caller, and the
// daemon runs as root: left unchecked it would unlink and take over any socket file on the host (its own API
// socket, a database's socket). So a socket port may only create a new file, or replace a stale socket
// file that nobody listens on (a connect answered with ECONNREFUSED), never one of the daemon's own sockets,
// and only inside one allowed directory (--socket-dir), judged after `..` and the symlinks of the parent
// directory are resolved. The daemon checks this before the data plane opens the port (at every attempt: a
// request, a restart, a retry); the port's opener checks liveness again right before it unlinks.
import { lstat, realpath } from 'node:fs/promises';
import { connect } from 'node:net';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { TwError } from '../errors.js';

/** SocketPathPolicy is what the daemon tells the socket port check, as plain values. */
export interface SocketPathPolicy {
  /** dir is the directory socket ports must be in; undefined allows any directory (library use, tests). */
  readonly dir?: string;
  /** own are the daemon's own sockets (the API socket, the fd socket), by what they are: never taken. */
  readonly own?: readonly { path: string; what: string }[];
}

/** SocketProbe is what a connect to an existing socket file said: `stale` (ECONNREFUSED: nobody listens)
 * or `live` (a listener answered, or the connect failed for another reason, when the file is kept). */
export type SocketProbe = 'stale' | 'live';

/** probeSocket connects to the socket file at `path`: ECONNREFUSED means stale, anything else (a
 * connection, EPROTOTYPE from a bound datagram socket, EACCES...) is treated as live. */
export function probeSocket(path: string): Promise<SocketProbe> {
  return new Promise((done) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      done('live');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      s.destroy();
      done(e.code === 'ECONNREFUSED' ? 'stale' : 'live');
    });
  });
}

// resolveParent is `path` with its parent directory's symlinks and `..` resolved (the file itself is not
// followed); a parent that does not exist is refused.
async function resolveParent(path: string, field: string): Promise<string> {
  const abs = resolve(path);
  try {
    return join(await realpath(dirname(abs)), basename(abs));
  } catch (e) {
    throw new TwError('TW_ERR_VALIDATION', `${field}: the directory of ${path} cannot be used: ${(e as Error).message}`);
  }
}

// resolveQuietly is resolveParent for a path of the daemon's own, which may not exist yet.
async function resolveQuietly(path: string): Promise<string> {
  const abs = resolve(path);
  try {
    return join(await realpath(dirname(abs)), basename(abs));
  } catch {
    return abs;
  }
}

/** checkSocketPath refuses a socket port's path that is outside policy.dir (TW_ERR_VALIDATION, naming
 * it), one of the daemon's own sockets (TW_ERR_VALIDATION), a file that is not a socket or a socket
 * someone listens on (TW_ERR_EXISTS); it resolves when the path is new or a stale socket. */
export async function checkSocketPath(path: string, policy: SocketPathPolicy, field = 'path'): Promise<void> {
  const real = await resolveParent(path, field);
  for (const own of policy.own ?? []) {
    if (real === (await resolveQuietly(own.path)) || resolve(path) === resolve(own.path)) {
      throw new TwError('TW_ERR_VALIDATION', `${field}: ${path} is the daemon's ${own.what}; a socket port cannot take it`);
    }
  }
  if (policy.dir !== undefined) {
    let dir: string;
    try {
      dir = await realpath(policy.dir);
    } catch (e) {
      throw new TwError('TW_ERR_VALIDATION', `${field}: the socket port directory ${policy.dir} cannot be used: ${(e as Error).message}`);
    }
    if (dirname(real) !== dir && !dirname(real).startsWith(dir.endsWith(sep) ? dir : dir + sep)) {
      throw new TwError('TW_ERR_VALIDATION', `${field}: ${path} is outside ${policy.dir}, the directory socket ports may be in (--socket-dir)`);
    }
  }
  let isSocket: boolean;
  try {
    isSocket = (await lstat(real)).isSocket();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new TwError('TW_ERR_VALIDATION', `${field}: cannot look at ${path}: ${(e as Error).message}`);
  }
  if (!isSocket) throw new TwError('TW_ERR_EXISTS', `${path} exists and is not a socket; a socket port only replaces a stale socket`);
  if ((await probeSocket(real)) === 'live') throw new TwError('TW_ERR_EXISTS', `${path} is a socket in use (something listens on it); a socket port only replaces a stale socket`);
}
