// Problem details (RFC 9457) for every error the API returns, with the codes of the error table: the
// errors of the daemon (TwError), of the schemas, and fastify's own, routing errors included (buildApp
// hands them here through frameworkErrors), so that no answer is fastify's plain JSON.
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

// FASTIFY_ERRORS maps the errors fastify raises itself (FST_ERR_*) to the error table. The status sent is
// the table's: a path parameter over 100 characters (FST_ERR_MAX_PARAM_LENGTH, 414 in fastify) is an
// invalid parameter like any other, 400 TW_ERR_VALIDATION, since every parameter is a name of at most 15
// bytes or a MAC address. A 4xx code not listed here is mapped by its status (BY_STATUS), else to
// TW_ERR_VALIDATION; anything else is TW_ERR_INTERNAL.
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; detail?: string }> = {
  FST_ERR_NOT_FOUND: { code: 'TW_ERR_NOT_FOUND' },
  FST_ERR_VALIDATION: { code: 'TW_ERR_VALIDATION' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'TW_ERR_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'TW_ERR_UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'TW_ERR_VALIDATION' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'TW_ERR_VALIDATION' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'TW_ERR_VALIDATION' },
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: { code: 'TW_ERR_VALIDATION' },
  FST_ERR_ROUTE_MISSING_CONTENT: { code: 'TW_ERR_VALIDATION' },
  FST_ERR_BAD_URL: { code: 'TW_ERR_VALIDATION', detail: 'the path is not valid percent-encoded UTF-8' },
  FST_ERR_INVALID_URL: { code: 'TW_ERR_VALIDATION', detail: 'the URL is not valid' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'TW_ERR_VALIDATION', detail: 'a path parameter is longer than 100 characters; names are at most 15 bytes' },
};

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
  const known = typeof fe.code === 'string' ? FASTIFY_ERRORS[fe.code] : undefined;
  if (known !== undefined) return sendProblem(reply, problem(known.code, known.detail ?? fe.message));
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return sendProblem(reply, problem(BY_STATUS[status] ?? 'TW_ERR_VALIDATION', fe.message));
  request.log.error({ err: error }, 'request failed');
  return sendProblem(reply, problem('TW_ERR_INTERNAL', 'internal error; see the daemon log'));
}
