// Listeners of the API: the unix socket (the default, mode 0660, no token: file permissions guard it),
// an optional TCP listener that requires the bearer token, and an optional metrics-only listener.
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/** HostPort is a parsed HOST:PORT. */
export interface HostPort {
  host: string;
  port: number;
}

/** parseHostPort reads "127.0.0.1:8080", "[::1]:8080" or "localhost:8080". */
export function parseHostPort(text: string, flag: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !(port > 0 && port < 65536)) throw new Error(`${flag} must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080); got ${JSON.stringify(text)}`);
  return { host: m[1] ?? m[2]!, port };
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
 * prepareSocket makes the socket's directory and removes a stale socket left by a daemon that died; it
 * refuses when another daemon still answers there, or when the path is not a socket.
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

/** restrictSocket sets the socket's mode to 0660 (owner and group may use the API). */
export function restrictSocket(path: string): void {
  chmodSync(path, 0o660);
}
