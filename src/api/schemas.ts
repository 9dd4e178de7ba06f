// JSON schemas of the REST API: request bodies, parameters and responses. The same objects validate
// requests (ajv, through fastify), shape responses (fast-json-stringify) and make the OpenAPI document.
// Syntax is checked here; meaning (a CIDR that parses, a unicast MAC) is checked by src/daemon/specs.ts.
import { DROP_REASONS } from '../ports/drop-reason.js';
import { AGING_SECONDS_RANGE } from '../bridge/fdb.js';
import { FDB_MAX_RANGE, MTU_RANGE, NAME_RE, NETNS_RE } from '../daemon/specs.js';

const name = { type: 'string', pattern: NAME_RE.source, maxLength: 15, description: 'An interface-style name: 1-15 of letters, digits, _ . -' } as const;
const mac = { type: 'string', pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$', description: 'A MAC address, e.g. 02:00:00:00:00:01' } as const;
const cidr = { type: 'string', maxLength: 64, pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$', description: 'An address with prefix length, e.g. 10.0.0.1/24 or fd00::1/64' } as const;
const agingSeconds = { type: 'integer', minimum: AGING_SECONDS_RANGE.min, maximum: AGING_SECONDS_RANGE.max, description: 'FDB aging time in seconds' } as const;
const fdbMax = { type: 'integer', minimum: FDB_MAX_RANGE.min, maximum: FDB_MAX_RANGE.max, description: 'Most learned FDB entries' } as const;
const count = { type: 'integer', minimum: 0 } as const;

/** Problem is the body of every error (RFC 9457 problem details). */
export const Problem = {
  $id: 'Problem',
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', description: 'A stable error code, e.g. TW_ERR_NOT_FOUND' },
  },
} as const;

/** BridgeCreate is the body of POST /v1/bridges. */
export const BridgeCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name, agingSeconds, fdbMax },
} as const;

/** BridgePatch is the body of PATCH /v1/bridges/{bridge}. */
export const BridgePatch = {
  type: 'object',
  additionalProperties: false,
  properties: { agingSeconds, fdbMax },
} as const;

/** Bridge is a bridge as the API returns it. */
export const Bridge = {
  $id: 'Bridge',
  type: 'object',
  required: ['name', 'agingSeconds', 'fdbMax', 'ports', 'counters'],
  properties: {
    name,
    agingSeconds,
    fdbMax,
    ports: { type: 'array', items: { type: 'string' } },
    counters: {
      type: 'object',
      required: ['fdbEntries', 'fdbLearned', 'fdbMoved', 'fdbExpired', 'fdbEvicted', 'floods'],
      properties: { fdbEntries: count, fdbLearned: count, fdbMoved: count, fdbExpired: count, fdbEvicted: count, floods: count },
    },
  },
} as const;

/** PortCreate is the body of POST /v1/bridges/{bridge}/ports; more kinds join `kind` with their issue. */
export const PortCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: {
    name,
    kind: { type: 'string', enum: ['tap', 'netdev'], description: 'tap: a TAP device the daemon creates and holds; netdev: an existing interface, switched through AF_PACKET' },
    ifname: { ...name, description: 'netdev: the existing interface (in the daemon\'s namespace)' },
    netns: { type: 'string', pattern: NETNS_RE.source, description: 'tap: move the netdev into this existing network namespace' },
    addresses: { type: 'array', maxItems: 64, items: cidr, description: 'tap: addresses set on the netdev' },
    mac: { ...mac, description: 'tap: the netdev MAC' },
    mtu: { type: 'integer', minimum: MTU_RANGE.min, maximum: MTU_RANGE.max },
    up: { type: 'boolean', description: 'tap: bring the netdev up (default true)' },
  },
} as const;

/** Port is a port as the API returns it. */
export const Port = {
  $id: 'Port',
  type: 'object',
  required: ['name', 'bridge', 'kind', 'ifname', 'addresses', 'mtu', 'state', 'counters'],
  properties: {
    name,
    bridge: name,
    kind: { type: 'string' },
    ifname: { type: 'string' },
    netns: { type: 'string' },
    addresses: { type: 'array', items: { type: 'string' } },
    mac: { type: 'string' },
    mtu: { type: 'integer' },
    state: { type: 'string', enum: ['up', 'down', 'error'] },
    counters: {
      type: 'object',
      required: ['rxFrames', 'rxBytes', 'txFrames', 'txBytes', 'rxGsoFrames', 'txGsoFrames', 'rxBatches', 'drops'],
      properties: {
        rxFrames: count,
        rxBytes: count,
        txFrames: count,
        txBytes: count,
        rxGsoFrames: count,
        txGsoFrames: count,
        rxBatches: count,
        drops: {
          type: 'object',
          description: 'Dropped frames by reason (reasons that never happened are left out)',
          properties: Object.fromEntries(DROP_REASONS.map((r) => [r, count])),
          additionalProperties: false,
        },
      },
    },
  },
} as const;

/** FdbEntry is one FDB row. */
export const FdbEntry = {
  $id: 'FdbEntry',
  type: 'object',
  required: ['mac', 'port', 'static', 'ageSeconds'],
  properties: { mac, port: { type: 'string' }, static: { type: 'boolean' }, ageSeconds: count },
} as const;

/** FdbCreate is the body of POST /v1/bridges/{bridge}/fdb. */
export const FdbCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['mac', 'port'],
  properties: { mac, port: name },
} as const;

/** params builds the path parameter schema for the named parameters. */
export function params(...names: ('bridge' | 'port' | 'mac')[]) {
  return {
    type: 'object',
    required: names,
    properties: Object.fromEntries(names.map((n) => [n, n === 'mac' ? mac : name])),
  } as const;
}

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } }) as const;

/** errors are the error responses every route may give. */
export const errors = {
  '4xx': problemResponse('Bad input (400 TW_ERR_VALIDATION), no token (401), not found (404), conflict (409 TW_ERR_EXISTS / TW_ERR_IN_USE), body too large (413), wrong media type (415)'),
  '5xx': problemResponse('The kernel refused (TW_ERR_DEVICE) or an internal error'),
} as const;

/** noContent is the schema of a 204 response. */
export const noContent = { type: 'null', description: 'Done; no body' } as const;
