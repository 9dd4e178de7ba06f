// Listeners of the API: the unix socket (the default, mode 0660, no token: file permissions guard it; its
// path is prepared by prepareSocket of src/ports/fd-server.ts, like the fd server's), an optional TCP
// listener that requires the bearer token, and an optional metrics-only listener.
import { chmodSync } from 'node:fs';

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

/** restrictSocket sets the socket's mode to 0660 (owner and group may use the API). */
export function restrictSocket(path: string): void {
  chmodSync(path, 0o660);
}
