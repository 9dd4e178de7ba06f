// Problem details (RFC 9457) for every error the API returns, with the codes of the error table.
import { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, ErrorCode, TwError } from '../errors.js';
import type { ProblemBody } from './schemas.js';

export type { ProblemBody };

/** problem builds the body for `code` with `detail`. */
export function problem(code: ErrorCode, detail: string): ProblemBody {
  const e = ERRORS[code];
  return { type: `urn:tapwire:error:${code}`, title: e.title, status: e.status, detail, code };
}

/** sendProblem answers with a problem+json body. */
export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(body);
}

function validationDetail(e: FastifyError): string {
  const v = e.validation?.[0];
  if (v === undefined) return e.message;
  const where = `${e.validationContext ?? 'request'}${v.instancePath.replaceAll('/', '.')}`;
  if (v.keyword === 'additionalProperties') return `${where}: unknown field ${JSON.stringify((v.params as { additionalProperty: string }).additionalProperty)}`;
  if (v.keyword === 'enum') return `${where} must be one of ${(v.params as { allowedValues: unknown[] }).allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
  return `${where} ${v.message ?? 'is invalid'}`;
}

const BY_STATUS: Record<number, ErrorCode> = {
  401: 'TW_ERR_UNAUTHORIZED',
  404: 'TW_ERR_NOT_FOUND',
  413: 'TW_ERR_TOO_LARGE',
  415: 'TW_ERR_UNSUPPORTED_MEDIA_TYPE',
};

/** errorHandler turns anything thrown by a route into a problem response. */
export function errorHandler(this: unknown, error: FastifyError | TwError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof TwError) {
    if (error.status >= 500) request.log.error({ code: error.code, detail: error.detail }, 'request failed');
    return sendProblem(reply, problem(error.code, error.detail));
  }
  const fe = error as FastifyError;
  if (fe.validation !== undefined) return sendProblem(reply, problem('TW_ERR_VALIDATION', validationDetail(fe)));
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return sendProblem(reply, problem(BY_STATUS[status] ?? 'TW_ERR_VALIDATION', fe.message));
  request.log.error({ err: error }, 'request failed');
  return sendProblem(reply, problem('TW_ERR_INTERNAL', 'internal error; see the daemon log'));
}
