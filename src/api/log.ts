// What the API writes to the log about a request. The bearer token must never reach the log: a client may
// put it in the query string by mistake (GET /v1/bridges?token=...), and it is in the authorization header
// of every TCP request. So request lines carry the path without its query string and no headers at all,
// and any line that names an authorization header anyway (a route logging headers, an error with them)
// has it replaced by "[redacted]" (pino's redact). Every listener's logger goes through apiLogger.
import type { FastifyBaseLogger } from 'fastify';

/** REDACTED_PATHS are the log fields pino replaces with "[redacted]", wherever a line has them. */
export const REDACTED_PATHS = ['headers.authorization', 'req.headers.authorization', 'request.headers.authorization'];

/** RequestLine is what a log line says about a request. */
export interface RequestLine {
  method: string;
  url: string;
  host?: string;
  remoteAddress?: string;
  remotePort?: number;
}

/** LoggedRequest is what requestLine reads of a request (a fastify request, or whatever a line calls `req`). */
export interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** requestLine is the serializer of `req` in log lines: the method, the path without its query string
 * (which may hold a token), the host and the peer; no headers. */
export function requestLine(req: LoggedRequest): RequestLine {
  const line: RequestLine = { method: String(req.method), url: String(req.url ?? '').split('?')[0]! };
  if (req.host !== undefined) line.host = req.host;
  if (req.ip !== undefined) line.remoteAddress = req.ip;
  const port = req.socket?.remotePort;
  if (port !== undefined) line.remotePort = port;
  return line;
}

/** apiLogger is `logger` as a listener uses it: request lines by requestLine, authorization redacted. */
export function apiLogger(logger: FastifyBaseLogger): FastifyBaseLogger {
  return logger.child({}, { serializers: { req: requestLine }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
