// Bearer-token check for the TCP listener. The token is compared in constant time (as SHA-256 digests,
// so that its length does not leak either) and never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import { FastifyReply, FastifyRequest } from 'fastify';
import { problem, sendProblem } from './problem.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** bearerAuth returns an onRequest hook that lets only requests carrying `token` through. */
export function bearerAuth(token: string) {
  const want = digest(token);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m !== null && timingSafeEqual(digest(m[1]!), want)) return;
    reply.header('www-authenticate', 'Bearer realm="tapwire"');
    await sendProblem(reply, problem('TW_ERR_UNAUTHORIZED', m === null ? 'this listener needs "Authorization: Bearer <token>"' : 'wrong bearer token'));
  };
}
