// JSON schemas of the REST API: request bodies, parameters and responses. The same objects validate
// requests (ajv, through fastify), shape responses (fast-json-stringify) and make the OpenAPI document.
// Syntax is checked here; meaning (a CIDR that parses, a unicast MAC) is checked by src/daemon/specs.ts.
import { DROP_REASONS } from '../ports/drop-reason.js';
import { AGING_SECONDS_RANGE } from '../bridge/fdb.js';
import { ACCOUNT_RE, FDB_MAX_RANGE, ID_MAX, MTU_RANGE, NAME_RE, NETNS_RE } from '../daemon/specs.js';
import { ROUTER_DROP_REASONS, ROUTER_FIELDS } from '../router/stats.js';

const name = { type: 'string', pattern: NAME_RE.source, maxLength: 15, description: 'An interface-style name: 1-15 of letters, digits, _ . -' } as const;
const mac = { type: 'string', pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$', description: 'A MAC address, e.g. 02:00:00:00:00:01' } as const;
const cidr = { type: 'string', maxLength: 64, pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$', description: 'An address with prefix length, e.g. 10.0.0.1/24 or fd00::1/64' } as const;
const agingSeconds = { type: 'integer', minimum: AGING_SECONDS_RANGE.min, maximum: AGING_SECONDS_RANGE.max, description: 'FDB aging time in seconds' } as const;
const fdbMax = { type: 'integer', minimum: FDB_MAX_RANGE.min, maximum: FDB_MAX_RANGE.max, description: 'Most learned FDB entries' } as const;
const address = { type: 'string', maxLength: 45, pattern: '^[0-9a-fA-F:.]+$', description: 'An IPv4 or IPv6 address without a prefix length, e.g. 10.0.0.254 or fd00::1' } as const;
const prefix = { type: 'string', maxLength: 64, pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$', description: 'A network prefix (host bits zero), e.g. 10.2.0.0/16 or fd00:2::/64' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const mtu = { type: 'integer', minimum: MTU_RANGE.min, maximum: MTU_RANGE.max } as const;

// The counters of a port, a link or a router interface: frames and bytes each way, drops by reason.
const portCounters = {
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
} as const;

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

/** account is a user or group, by id or by name. */
const account = { oneOf: [{ type: 'integer', minimum: 0, maximum: ID_MAX }, { type: 'string', pattern: ACCOUNT_RE.source }] } as const;

/** PortCreate is the body of POST /v1/bridges/{bridge}/ports; more kinds join `kind` with their issue. */
export const PortCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: {
    name,
    kind: {
      type: 'string',
      enum: ['tap', 'vm', 'netdev', 'socket'],
      description:
        'tap: a TAP device the daemon creates and holds; vm: a persistent TAP for an emulator (QEMU, UML), owned by a user and/or group; netdev: an existing interface, switched through AF_PACKET; socket: a unix socket the daemon listens on, in QEMU\'s -netdev stream framing',
    },
    path: { type: 'string', minLength: 2, maxLength: 107, pattern: '^/', description: 'socket: the absolute path of the socket file the daemon listens on (mode 0660)' },
    mode: { type: 'string', enum: ['stream', 'dgram'], description: 'socket: the framing, as QEMU\'s -netdev stream (4-byte big-endian length before each frame; the default) or -netdev dgram (one frame per datagram)' },
    owner: { ...account, description: 'vm: the user (name or uid) who may attach an emulator to the TAP; socket: the owner of the socket file' },
    group: { ...account, description: 'vm: the group (name or gid) whose members may attach an emulator to the TAP; socket: the group of the socket file (mode 0660)' },
    ifname: { ...name, description: 'netdev: the existing interface (in the daemon\'s namespace)' },
    netns: { type: 'string', pattern: NETNS_RE.source, description: 'tap: move the netdev into this existing network namespace' },
    addresses: { type: 'array', maxItems: 64, items: cidr, description: 'tap: addresses set on the netdev' },
    mac: { ...mac, description: 'tap: the netdev MAC; vm: the MAC suggested to the guest (default 52:54:00 and three bytes derived from the name)' },
    mtu,
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
    mac: { type: 'string', description: 'tap: the netdev MAC (when set); vm: the MAC suggested to the guest' },
    mtu: { type: 'integer' },
    path: { type: 'string', description: 'socket: the path the daemon listens on' },
    mode: { type: 'string', description: 'socket: the framing' },
    uid: { type: 'integer', description: 'vm: the owner of the TAP; socket: of the socket file' },
    gid: { type: 'integer', description: 'vm: the group of the TAP; socket: of the socket file' },
    state: { type: 'string', enum: ['up', 'down', 'error'], description: 'vm: up while an emulator holds the TAP' },
    counters: portCounters,
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

/** LinkCreate is the body of POST /v1/links. */
export const LinkCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind'],
  properties: {
    name,
    kind: { type: 'string', enum: ['tun'], description: 'tun: a TUN device the daemon creates and holds; its netdev is the host\'s (or the namespace\'s) end of the link' },
    netns: { type: 'string', pattern: NETNS_RE.source, description: 'Move the netdev into this existing network namespace' },
    addresses: { type: 'array', maxItems: 64, items: cidr, description: 'Addresses set on the netdev (the host side)' },
    peer: { ...address, description: 'Makes the netdev\'s addresses of this family point-to-point to this address (typically the router interface\'s)' },
    mtu,
    routes: { type: 'array', maxItems: 64, items: prefix, description: 'Prefixes the host side sends into the link (kernel routes out of the netdev)' },
  },
} as const;

/** Link is a link as the API returns it. */
export const Link = {
  $id: 'Link',
  type: 'object',
  required: ['name', 'kind', 'ifname', 'addresses', 'mtu', 'routes', 'state', 'counters'],
  properties: {
    name,
    kind: { type: 'string' },
    ifname: { type: 'string' },
    netns: { type: 'string' },
    addresses: { type: 'array', items: { type: 'string' } },
    peer: { type: 'string' },
    mtu: { type: 'integer' },
    routes: { type: 'array', items: { type: 'string' } },
    state: { type: 'string', enum: ['up', 'down', 'error'], description: 'error: saved, waiting to be rebuilt (its namespace is missing)' },
    routerInterface: { type: 'string', description: 'The router interface on the link, if any' },
    counters: portCounters,
  },
} as const;

/** RouterInterfaceCreate is the body of POST /v1/router/interfaces. */
export const RouterInterfaceCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'addresses'],
  properties: {
    name: { ...name, description: 'On a bridge, also the name of the router\'s port there (ports, links and router interfaces share one name space)' },
    bridge: { ...name, description: 'The bridge the router joins (exactly one of bridge and link)' },
    link: { ...name, description: 'The link the router routes over (exactly one of bridge and link)' },
    addresses: { type: 'array', minItems: 1, maxItems: 64, items: cidr, description: 'The router\'s own addresses; each one\'s network becomes a connected route' },
    mac: { ...mac, description: 'Bridge interfaces only; default 02:74:77 followed by the first 3 bytes of sha256(name)' },
    routerAdvertisements: { type: 'boolean', description: 'Bridge interfaces only: send IPv6 router advertisements for the IPv6 prefixes (default false)' },
    mtu,
  },
} as const;

/** RouterInterface is a router interface as the API returns it. */
export const RouterInterface = {
  $id: 'RouterInterface',
  type: 'object',
  required: ['name', 'addresses', 'mtu', 'routerAdvertisements', 'state', 'counters'],
  properties: {
    name,
    bridge: name,
    link: name,
    addresses: { type: 'array', items: { type: 'string' } },
    linkLocal: { type: 'string', description: 'The IPv6 link-local address (bridge interfaces)' },
    mac: { type: 'string' },
    mtu: { type: 'integer' },
    routerAdvertisements: { type: 'boolean' },
    state: { type: 'string', enum: ['up', 'down', 'error'], description: 'error: saved, waiting for its link to be rebuilt' },
    counters: { ...portCounters, description: 'What the router received and sent on this interface' },
  },
} as const;

/** RouteCreate is the body of POST /v1/routes. */
export const RouteCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['prefix'],
  properties: {
    prefix,
    via: { ...address, description: 'The next hop, on a connected network (same family as the prefix)' },
    interface: { ...name, description: 'The router interface to send out of (needed without via, and with a link-local via)' },
  },
} as const;

/** Route is a route of the router's table. */
export const Route = {
  $id: 'Route',
  type: 'object',
  required: ['prefix', 'interface', 'kind'],
  properties: {
    prefix: { type: 'string' },
    via: { type: 'string' },
    interface: { type: 'string' },
    kind: { type: 'string', enum: ['connected', 'static'], description: 'connected: from a router interface\'s address (deleted with the interface); static: added by a user' },
    pending: { type: 'boolean', description: 'A saved static route waiting for its interface to be rebuilt' },
  },
} as const;

/** Neighbor is one ARP/NDP cache entry. */
export const Neighbor = {
  $id: 'Neighbor',
  type: 'object',
  required: ['address', 'mac', 'interface', 'state', 'ageSeconds'],
  properties: {
    address: { type: 'string' },
    mac: { type: 'string', nullable: true, description: 'null while the address is being resolved' },
    interface: { type: 'string' },
    state: { type: 'string' },
    ageSeconds: count,
  },
} as const;

/** RouterSummary is the answer of GET /v1/router. */
export const RouterSummary = {
  type: 'object',
  required: ['interfaces', 'routes', 'counters'],
  properties: {
    interfaces: { ...count, description: 'Router interfaces built now' },
    routes: { ...count, description: 'Routes in the table now, connected and static' },
    counters: {
      type: 'object',
      required: [...ROUTER_FIELDS, 'drops', 'icmpSent'],
      properties: {
        ...Object.fromEntries(ROUTER_FIELDS.map((f) => [f, count])),
        drops: {
          type: 'object',
          description: 'Packets the router discarded, by reason (reasons that never happened are left out)',
          properties: Object.fromEntries(ROUTER_DROP_REASONS.map((r) => [r, count])),
          additionalProperties: false,
        },
        icmpSent: {
          type: 'array',
          description: 'ICMP messages the router sent, by family and type',
          items: {
            type: 'object',
            required: ['family', 'type', 'count'],
            properties: { family: { type: 'integer', enum: [4, 6] }, type: { type: 'string' }, count },
          },
        },
      },
    },
  },
} as const;

/** PrefixQuery is the query of DELETE /v1/routes. */
export const PrefixQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['prefix'],
  properties: { prefix: { ...prefix, description: 'The static route\'s prefix, URL-encoded (10.2.0.0%2F16)' } },
} as const;

/** params builds the path parameter schema for the named parameters. */
export function params(...names: ('bridge' | 'port' | 'mac' | 'link' | 'interface')[]) {
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
