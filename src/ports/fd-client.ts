// The client side of the fd socket of `tapwire exec`: ask tapwired for a vm port's TAP fd (SCM_RIGHTS).
// The server side is fd-server.ts; the addon does the blocking request so that the CLI needs no event loop
// tricks before it execs the command.
import { isNativeError, native } from '../native/index.js';

/** FdAnswer is the server's reply line and the fd that came with it, if any. */
export interface FdAnswer {
  fd: number | null;
  reply: Buffer;
}

/** FdRequestError is a request that failed before an answer came, with the errno name (ENOENT, EACCES, ...). */
export class FdRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** requestFd connects to the fd socket at `socketPath`, asks for an fd of `port` and waits at most
 * `timeoutMs` for the answer; it throws FdRequestError when the socket cannot be reached or does not answer. */
export function requestFd(socketPath: string, port: string, timeoutMs: number): FdAnswer {
  try {
    return native().requestFd(socketPath, Buffer.from(JSON.stringify({ port }) + '\n'), timeoutMs);
  } catch (e) {
    if (isNativeError(e)) throw new FdRequestError(e.message, e.code);
    throw e;
  }
}
