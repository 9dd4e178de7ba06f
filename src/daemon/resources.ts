// The resources tapwired serves, each shape written once as a JSON schema (TypeBox) with its type derived
// from it: the bodies the API takes (BridgeCreate, PortCreate, ...) and what it answers (Bridge, Port, ...).
// The same objects validate requests (ajv, through fastify), shape responses (fast-json-stringify), make
// the OpenAPI document, and type the daemon's facade, the metrics and the CLI. What the data plane reports
// is written in src/dataplane/protocol.ts; a resource here is that shape without the data plane's internal
// fields (counter slots, offload bits), with the name rules of the API and the counters added.
//
// Syntax is checked here; meaning (a CIDR that parses, a unicast MAC, the rules between objects) is checked
// by specs.ts and desired-state.ts.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { AGING_SECONDS_RANGE } from '../bridge/fdb.js';
import { BRIDGE_FIELDS, PORT_FIELDS, type BridgeCounters as BridgeCountersType, type PortCounters as PortCountersType } from '../dataplane/counters.js';
import { BridgeInfo, FdbRow, LinkInfo, NeighborInfo, PortInfo, PortState, RouteInfo, RouterInterfaceInfo } from '../dataplane/protocol.js';
import { DROP_REASONS } from '../ports/drop-reason.js';
import { ROUTER_DROP_REASONS, ROUTER_FIELDS, type RouterCounters as RouterCountersType } from '../router/stats.js';
import { ACCOUNT_RE, FDB_MAX_RANGE, ID_MAX, MTU_RANGE, NAME_RE, NETNS_RE, PORT_KINDS, SOCKET_MODES } from './specs.js';

/** described is `schema` with its own description (the same field, explained for one place). */
export function described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

// stringEnum is a string limited to `values`, written as JSON Schema's `enum` (TypeBox's unions would be
// anyOf/const, which the OpenAPI document does not use).
function stringEnum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description === undefined ? {} : { description }) });
}

// fields maps each key to `schema`; `optional` makes each key optional (counters that never happened are
// left out of `drops`).
function fields<K extends string, S extends TSchema>(keys: readonly K[], schema: S): { [P in K]: S } {
  return Object.fromEntries(keys.map((k) => [k, schema])) as { [P in K]: S };
}
function optionalFields<K extends string, S extends TSchema>(keys: readonly K[], schema: S) {
  return fields(keys, Type.Optional(schema));
}

/** Name is an interface-style name: of a bridge, a port, a link, a router interface. */
export const Name = Type.String({ pattern: NAME_RE.source, maxLength: 15, description: 'An interface-style name: 1-15 of letters, digits, _ . -' });
/** Mac is a MAC address in colon notation. */
export const Mac = Type.String({ pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$', description: 'A MAC address, e.g. 02:00:00:00:00:01' });
const cidr = Type.String({ maxLength: 64, pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$', description: 'An address with prefix length, e.g. 10.0.0.1/24 or fd00::1/64' });
const agingSeconds = Type.Integer({ minimum: AGING_SECONDS_RANGE.min, maximum: AGING_SECONDS_RANGE.max, description: 'FDB aging time in seconds' });
const fdbMax = Type.Integer({ minimum: FDB_MAX_RANGE.min, maximum: FDB_MAX_RANGE.max, description: 'Most learned FDB entries' });
const address = Type.String({ maxLength: 45, pattern: '^[0-9a-fA-F:.]+$', description: 'An IPv4 or IPv6 address without a prefix length, e.g. 10.0.0.254 or fd00::1' });
/** Prefix is a network prefix (host bits zero). */
export const Prefix = Type.String({ maxLength: 64, pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$', description: 'A network prefix (host bits zero), e.g. 10.2.0.0/16 or fd00:2::/64' });
const count = Type.Integer({ minimum: 0 });
const mtu = Type.Integer({ minimum: MTU_RANGE.min, maximum: MTU_RANGE.max });
const netns = Type.String({ pattern: NETNS_RE.source });
/** account is a user or group, by id or by name (oneOf: the two never overlap). */
const account = Type.Unsafe<string | number>({ oneOf: [Type.Integer({ minimum: 0, maximum: ID_MAX }), Type.String({ pattern: ACCOUNT_RE.source })] });

/** PortCounters are the counters of a port, a link or a router interface: frames and bytes each way, drops
 * by reason. */
export const PortCounters = Type.Object({
  ...fields(PORT_FIELDS, count),
  drops: Type.Object(optionalFields(DROP_REASONS, count), { description: 'Dropped frames by reason (reasons that never happened are left out)', additionalProperties: false }),
});

/** BridgeCounters are a bridge's FDB counters and floods. */
export const BridgeCounters = Type.Object(fields(BRIDGE_FIELDS, count));

/** RouterCounters are the router's counters: packets by fate, drops by reason, ICMP sent by type. */
export const RouterCounters = Type.Object({
  ...fields(ROUTER_FIELDS, count),
  drops: Type.Object(optionalFields(ROUTER_DROP_REASONS, count), {
    description: 'Packets the router discarded, by reason (reasons that never happened are left out)',
    additionalProperties: false,
  }),
  icmpSent: Type.Array(Type.Object({ family: Type.Unsafe<4 | 6>({ type: 'integer', enum: [4, 6] }), type: Type.String(), count }), {
    description: 'ICMP messages the router sent, by family and type',
  }),
});

// The counters' types are the data plane's (src/dataplane/counters.ts, src/router/stats.ts), which reads
// them out of the shared block; these lines stop the build if a schema and its type part.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
/** CountersMatch is `true` while the counter schemas describe the data plane's counter types exactly. */
export type CountersMatch = Assert<
  [Same<Static<typeof PortCounters>, PortCountersType>, Same<Static<typeof BridgeCounters>, BridgeCountersType>, Same<Static<typeof RouterCounters>, RouterCountersType>] extends [
    true,
    true,
    true,
  ]
    ? true
    : false
>;

/** Health is the answer of GET /v1/health. */
export const Health = Type.Object({ status: stringEnum(['ok']), version: Type.String() });
export type Health = Static<typeof Health>;

/** BridgeCreate is the body of POST /v1/bridges; absent fields take the defaults. */
export const BridgeCreate = Type.Object({ name: Name, agingSeconds: Type.Optional(agingSeconds), fdbMax: Type.Optional(fdbMax) }, { additionalProperties: false });
export type BridgeCreate = Static<typeof BridgeCreate>;

/** BridgePatch is the body of PATCH /v1/bridges/{bridge}. */
export const BridgePatch = Type.Object({ agingSeconds: Type.Optional(agingSeconds), fdbMax: Type.Optional(fdbMax) }, { additionalProperties: false });
export type BridgePatch = Static<typeof BridgePatch>;

const { slot: _slot, ...bridgeFields } = BridgeInfo.properties;
/** Bridge is a bridge as the API returns it. */
export const Bridge = Type.Object({ ...bridgeFields, name: Name, agingSeconds, fdbMax, counters: BridgeCounters }, { $id: 'Bridge' });
/** BridgeStatus is a bridge with its counters. */
export type BridgeStatus = Static<typeof Bridge>;

/** PortCreate is the body of POST /v1/bridges/{bridge}/ports: the fields of every kind, each saying which
 * kinds take it (specs.ts refuses the others); more kinds join `kind` with their issue. */
export const PortCreate = Type.Object(
  {
    name: Name,
    kind: stringEnum(
      PORT_KINDS,
      "tap: a TAP device the daemon creates and holds; vm: a persistent TAP for an emulator (QEMU, UML), owned by a user and/or group; netdev: an existing interface, switched through AF_PACKET; socket: a unix socket the daemon listens on, in QEMU's -netdev stream framing",
    ),
    path: Type.Optional(Type.String({ minLength: 2, maxLength: 107, pattern: '^/', description: 'socket: the absolute path of the socket file the daemon listens on (mode 0660)' })),
    mode: Type.Optional(
      stringEnum(SOCKET_MODES, "socket: the framing, as QEMU's -netdev stream (4-byte big-endian length before each frame; the default) or -netdev dgram (one frame per datagram)"),
    ),
    owner: Type.Optional(described(account, 'vm: the user (name or uid) who may attach an emulator to the TAP; socket: the owner of the socket file')),
    group: Type.Optional(described(account, 'vm: the group (name or gid) whose members may attach an emulator to the TAP; socket: the group of the socket file (mode 0660)')),
    ifname: Type.Optional(described(Name, "netdev: the existing interface (in the daemon's namespace)")),
    netns: Type.Optional(described(netns, 'tap: move the netdev into this existing network namespace')),
    addresses: Type.Optional(Type.Array(cidr, { maxItems: 64, description: 'tap: addresses set on the netdev' })),
    mac: Type.Optional(described(Mac, 'tap: the netdev MAC; vm: the MAC suggested to the guest (default 52:54:00 and three bytes derived from the name)')),
    mtu: Type.Optional(mtu),
    up: Type.Optional(Type.Boolean({ description: 'tap: bring the netdev up (default true)' })),
  },
  { additionalProperties: false },
);
export type PortCreate = Static<typeof PortCreate>;

const { index: _portIndex, offloads: _offloads, ...portFields } = PortInfo.properties;
/** Port is a port as the API returns it. */
export const Port = Type.Object({ ...portFields, name: Name, bridge: Name, counters: PortCounters }, { $id: 'Port' });
/** PortStatus is a port with its counters. */
export type PortStatus = Static<typeof Port>;

/** FdbEntry is one FDB row. */
export const FdbEntry = Type.Object({ ...FdbRow.properties, mac: Mac }, { $id: 'FdbEntry' });
export type FdbEntry = Static<typeof FdbEntry>;

/** FdbCreate is the body of POST /v1/bridges/{bridge}/fdb. */
export const FdbCreate = Type.Object({ mac: Mac, port: Name }, { additionalProperties: false });
export type FdbCreate = Static<typeof FdbCreate>;

/** Flushed is the answer of DELETE /v1/bridges/{bridge}/fdb: how many learned entries went. */
export const Flushed = Type.Object({ flushed: Type.Integer({ minimum: 0 }) });
export type Flushed = Static<typeof Flushed>;

/** LinkCreate is the body of POST /v1/links. */
export const LinkCreate = Type.Object(
  {
    name: Name,
    kind: stringEnum(['tun'], "tun: a TUN device the daemon creates and holds; its netdev is the host's (or the namespace's) end of the link"),
    netns: Type.Optional(described(netns, 'Move the netdev into this existing network namespace')),
    addresses: Type.Optional(Type.Array(cidr, { maxItems: 64, description: 'Addresses set on the netdev (the host side)' })),
    peer: Type.Optional(described(address, "Makes the netdev's addresses of this family point-to-point to this address (typically the router interface's)")),
    mtu: Type.Optional(mtu),
    routes: Type.Optional(Type.Array(Prefix, { maxItems: 64, description: 'Prefixes the host side sends into the link (kernel routes out of the netdev)' })),
  },
  { additionalProperties: false },
);
export type LinkCreate = Static<typeof LinkCreate>;

const { index: _linkIndex, ...linkFields } = LinkInfo.properties;
/** Link is a link as the API returns it. */
export const Link = Type.Object(
  { ...linkFields, name: Name, state: described(PortState, 'error: saved, waiting to be rebuilt (its namespace is missing)'), counters: PortCounters },
  { $id: 'Link' },
);
/** LinkStatus is a link with its counters (those of its TUN device, as a port's). */
export type LinkStatus = Static<typeof Link>;

/** RouterInterfaceCreate is the body of POST /v1/router/interfaces. */
export const RouterInterfaceCreate = Type.Object(
  {
    name: described(Name, "On a bridge, also the name of the router's port there (ports, links and router interfaces share one name space)"),
    bridge: Type.Optional(described(Name, 'The bridge the router joins (exactly one of bridge and link)')),
    link: Type.Optional(described(Name, 'The link the router routes over (exactly one of bridge and link)')),
    addresses: Type.Array(cidr, { minItems: 1, maxItems: 64, description: "The router's own addresses; each one's network becomes a connected route" }),
    mac: Type.Optional(described(Mac, 'Bridge interfaces only; default 02:74:77 followed by the first 3 bytes of sha256(name)')),
    routerAdvertisements: Type.Optional(Type.Boolean({ description: 'Bridge interfaces only: send IPv6 router advertisements for the IPv6 prefixes (default false)' })),
    mtu: Type.Optional(mtu),
  },
  { additionalProperties: false },
);
export type RouterInterfaceCreate = Static<typeof RouterInterfaceCreate>;

const { index: _interfaceIndex, ...interfaceFields } = RouterInterfaceInfo.properties;
/** RouterInterface is a router interface as the API returns it; `state` is `error` while a saved interface
 * waits for its link to be rebuilt. */
export const RouterInterface = Type.Object(
  {
    ...interfaceFields,
    name: Name,
    bridge: Type.Optional(Name),
    link: Type.Optional(Name),
    state: described(PortState, 'error: saved, waiting for its link to be rebuilt'),
    counters: described(PortCounters, 'What the router received and sent on this interface'),
  },
  { $id: 'RouterInterface' },
);
/** RouterInterfaceStatus is a router interface with its counters: what the router received and sent on it. */
export type RouterInterfaceStatus = Static<typeof RouterInterface>;

/** RouteCreate is the body of POST /v1/routes. */
export const RouteCreate = Type.Object(
  {
    prefix: Prefix,
    via: Type.Optional(described(address, 'The next hop, on a connected network (same family as the prefix)')),
    interface: Type.Optional(described(Name, 'The router interface to send out of (needed without via, and with a link-local via)')),
  },
  { additionalProperties: false },
);
export type RouteCreate = Static<typeof RouteCreate>;

/** Route is a route of the router's table; `pending` marks a saved static route waiting to be rebuilt. */
export const Route = Type.Object(
  { ...RouteInfo.properties, pending: Type.Optional(Type.Boolean({ description: 'A saved static route waiting for its interface to be rebuilt' })) },
  { $id: 'Route' },
);
/** RouteStatus is a route of the router's table as the API shows it. */
export type RouteStatus = Static<typeof Route>;

/** Neighbor is one ARP/NDP cache entry. */
export const Neighbor = Type.Object(NeighborInfo.properties, { $id: 'Neighbor' });
export type Neighbor = Static<typeof Neighbor>;

/** RouterSummary is the answer of GET /v1/router: interfaces and routes the router has now, and its counters. */
export const RouterSummary = Type.Object({
  interfaces: described(count, 'Router interfaces built now'),
  routes: described(count, 'Routes in the table now, connected and static'),
  counters: RouterCounters,
});
/** RouterStatus is the router's summary. */
export type RouterStatus = Static<typeof RouterSummary>;
