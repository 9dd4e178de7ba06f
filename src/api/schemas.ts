// JSON schemas of the REST API's own parts: the problem body of every error, path parameters, queries and
// the error responses every route may give. The resources themselves (bodies and answers) are written in
// src/daemon/resources.ts, below the API, because the daemon, the metrics and the CLI use their types too.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ErrorCode } from '../errors.js';
import { Mac, Name, Prefix, described } from '../daemon/resources.js';

/** Problem is the body of every error (RFC 9457 problem details). */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.Unsafe<ErrorCode>({ type: 'string', description: 'A stable error code, e.g. TW_ERR_NOT_FOUND' }),
  },
  { $id: 'Problem' },
);
/** ProblemBody is an error response body. */
export type ProblemBody = Static<typeof Problem>;

/** PrefixQuery is the query of DELETE /v1/routes. */
export const PrefixQuery = Type.Object({ prefix: described(Prefix, "The static route's prefix, URL-encoded (10.2.0.0%2F16)") }, { additionalProperties: false });

/** ForceQuery is the query of DELETE /v1/bridges/{bridge}. */
export const ForceQuery = Type.Object({ force: Type.Optional(Type.Unsafe<'true' | 'false'>({ type: 'string', enum: ['true', 'false'] })) }, { additionalProperties: false });

const PARAMS = { bridge: Name, port: Name, mac: Mac, link: Name, interface: Name } as const;
type ParamName = keyof typeof PARAMS;

/** params builds the path parameter schema for the named parameters. */
export function params<const N extends ParamName>(...names: N[]) {
  return Type.Object(Object.fromEntries(names.map((n) => [n, PARAMS[n]])) as { [K in N]: (typeof PARAMS)[K] });
}

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } }) as const;

/** errors are the error responses every route may give. */
export const errors = {
  '4xx': problemResponse('Bad input (400 TW_ERR_VALIDATION), no token (401), not found (404), conflict (409 TW_ERR_EXISTS / TW_ERR_IN_USE), body too large (413), wrong media type (415)'),
  '5xx': problemResponse('The kernel refused (TW_ERR_DEVICE) or an internal error'),
} as const;

/** noContent is the schema of a 204 response: no body at all (typed so, which lets a route send nothing). */
export const noContent = Type.Unsafe<undefined>({ type: 'null', description: 'Done; no body' });

/** ref is a reference to a shared resource schema (registered with addSchema under its $id), typed as it. */
export function ref<T extends TSchema>(schema: T) {
  if (schema.$id === undefined) throw new Error('ref: the schema has no $id');
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#` });
}
