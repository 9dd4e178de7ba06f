// The messages between the control plane (main thread) and the data plane (worker): validated specs in,
// plain results or a TwError's { code, detail } out.
//
// What the data plane reports (PortInfo, BridgeInfo, FdbRow, LinkInfo, RouterInterfaceInfo, RouteInfo,
// NeighborInfo) is written once, here, as a JSON schema (TypeBox) whose type is derived from it: the API's
// resources (src/daemon/resources.ts) are these shapes with the control plane's fields added and the
// internal ones (counter slots, offload bits) left out. The specs the data plane takes stay plain types:
// they hold parsed forms (Cidr, IpAddress), not what crosses HTTP.
import { PORT_STATES } from '../ports/port.js';
import { Type, type Static } from '@sinclair/typebox';
import { ErrorCode } from '../errors.js';
import { Cidr } from '../wire/cidr.js';

/** BridgeSpec is a validated bridge definition. */
export interface BridgeSpec {
  name: string;
  agingSeconds: number;
  fdbMax: number;
}

/** TapPortSpec is a validated `tap` port definition. */
export interface TapPortSpec {
  name: string;
  kind: 'tap';
  netns?: string;
  addresses: Cidr[];
  /** mac as "02:00:00:00:00:01". */
  mac?: string;
  mtu?: number;
  up: boolean;
}

/** NetdevPortSpec is a validated `netdev` port: an existing interface switched through AF_PACKET. */
export interface NetdevPortSpec {
  name: string;
  kind: 'netdev';
  ifname: string;
}

/** VmPortSpec is a validated `vm` port: a persistent TAP for an emulator, switched through AF_PACKET.
 * `owner`/`group` are as the user gave them (ids or names); the daemon resolves them into `uid`/`gid`
 * before the data plane sees the spec. */
export interface VmPortSpec {
  name: string;
  kind: 'vm';
  owner?: string | number;
  group?: string | number;
  uid?: number;
  gid?: number;
  /** mac is the MAC suggested to the guest ("52:54:00:..."), given or derived from the name. */
  mac: string;
  mtu?: number;
}

/** SocketPortSpec is a validated `socket` port: a unix socket the daemon listens on, in QEMU's framing. */
export interface SocketPortSpec {
  name: string;
  kind: 'socket';
  /** path is the absolute path of the socket file. */
  path: string;
  mode: 'stream' | 'dgram';
  mtu?: number;
  /** owner/group (as given) and uid/gid (resolved by the daemon) own the socket file: who may connect. */
  owner?: string | number;
  group?: string | number;
  uid?: number;
  gid?: number;
}

/** PortSpec is any port kind (more kinds join this union with their issue). */
export type PortSpec = TapPortSpec | NetdevPortSpec | VmPortSpec | SocketPortSpec;

export { PORT_STATES };

/** PortState is what the API reports as a port's `state`. */
export const PortState = Type.Unsafe<(typeof PORT_STATES)[number]>({ type: 'string', enum: [...PORT_STATES] });
export type PortState = Static<typeof PortState>;

/** PortInfo describes a port; counters are read from the shared block by `index`, and `offloads` are the
 * TUN_F_* bits its device took. `kind` is documented as a plain string: kinds come with later issues. */
export const PortInfo = Type.Object({
  name: Type.String(),
  bridge: Type.String(),
  kind: Type.Unsafe<PortSpec['kind']>({ type: 'string' }),
  ifname: Type.String(),
  netns: Type.Optional(Type.String()),
  addresses: Type.Array(Type.String()),
  mac: Type.Optional(Type.String({ description: 'tap: the netdev MAC (when set); vm: the MAC suggested to the guest' })),
  mtu: Type.Integer(),
  path: Type.Optional(Type.String({ description: 'socket: the path the daemon listens on' })),
  mode: Type.Optional(Type.String({ description: 'socket: the framing' })),
  uid: Type.Optional(Type.Integer({ description: 'vm: the owner of the TAP; socket: of the socket file' })),
  gid: Type.Optional(Type.Integer({ description: 'vm: the group of the TAP; socket: of the socket file' })),
  state: Type.Unsafe<PortState>({ ...PortState, description: 'vm: up while an emulator holds the TAP' }),
  index: Type.Integer(),
  offloads: Type.Integer(),
});
export type PortInfo = Static<typeof PortInfo>;

/** BridgeInfo describes a bridge; its counters are at `slot` in the shared block. */
export const BridgeInfo = Type.Object({
  name: Type.String(),
  agingSeconds: Type.Integer(),
  fdbMax: Type.Integer(),
  ports: Type.Array(Type.String()),
  slot: Type.Integer(),
});
export type BridgeInfo = Static<typeof BridgeInfo>;

/** FdbRow is one FDB entry as the API reports it. */
export const FdbRow = Type.Object({
  mac: Type.String(),
  port: Type.String(),
  static: Type.Boolean(),
  ageSeconds: Type.Integer({ minimum: 0 }),
});
export type FdbRow = Static<typeof FdbRow>;

/** IpAddress is one parsed address without a prefix length. */
export interface IpAddress {
  family: 4 | 6;
  /** address holds 4 or 16 bytes in network order. */
  address: Uint8Array;
  /** text is the canonical notation. */
  text: string;
}

/** LinkSpec is a validated routed link: a TUN device whose netdev is the host's (or a namespace's) end. */
export interface LinkSpec {
  name: string;
  kind: 'tun';
  /** netns names an existing namespace to move the TUN netdev into. */
  netns?: string;
  /** addresses are set on the netdev (the host side of the link). */
  addresses: Cidr[];
  /** peer makes the addresses of its family point-to-point to this address (typically the router's). */
  peer?: IpAddress;
  mtu?: number;
  /** routes are prefixes the host side sends into the link (kernel routes out of the netdev). */
  routes: Cidr[];
}

/** LinkInfo describes a link; `index` is its port slot: its counters are read from the shared block there.
 * `routerInterface` is the router interface attached to the link, if any. */
export const LinkInfo = Type.Object({
  name: Type.String(),
  kind: Type.Unsafe<LinkSpec['kind']>({ type: 'string' }),
  ifname: Type.String(),
  netns: Type.Optional(Type.String()),
  addresses: Type.Array(Type.String()),
  peer: Type.Optional(Type.String()),
  mtu: Type.Integer(),
  routes: Type.Array(Type.String()),
  state: PortState,
  routerInterface: Type.Optional(Type.String({ description: 'The router interface on the link, if any' })),
  index: Type.Integer(),
});
export type LinkInfo = Static<typeof LinkInfo>;

/** RouterInterfaceSpec is a validated router interface: on a bridge (the router gets a port there) or on a link. */
export interface RouterInterfaceSpec {
  name: string;
  bridge?: string;
  link?: string;
  /** addresses are the router's own on this interface; each adds a connected route. */
  addresses: Cidr[];
  /** mac is the router's MAC on a bridge (derived from the name when not given). */
  mac: string;
  /** routerAdvertisements sends IPv6 RAs for the interface's IPv6 prefixes (bridge interfaces only). */
  routerAdvertisements: boolean;
  mtu?: number;
}

/** RouterInterfaceInfo describes a router interface; `index` is the port slot whose counters count what
 * the router received and sent on it. */
export const RouterInterfaceInfo = Type.Object({
  name: Type.String(),
  bridge: Type.Optional(Type.String()),
  link: Type.Optional(Type.String()),
  addresses: Type.Array(Type.String()),
  linkLocal: Type.Optional(Type.String({ description: 'The IPv6 link-local address (bridge interfaces)' })),
  mac: Type.Optional(Type.String()),
  mtu: Type.Integer(),
  routerAdvertisements: Type.Boolean(),
  index: Type.Integer(),
});
export type RouterInterfaceInfo = Static<typeof RouterInterfaceInfo>;

/** RouteSpec is a validated static route. */
export interface RouteSpec {
  prefix: Cidr;
  via?: IpAddress;
  /** interface names the router interface to send out of (needed when `via` is absent). */
  interface?: string;
}

/** ROUTE_KINDS are where a route of the router's table comes from. */
export const ROUTE_KINDS = ['connected', 'static'] as const;

/** RouteInfo describes a route of the router's table. */
export const RouteInfo = Type.Object({
  prefix: Type.String(),
  via: Type.Optional(Type.String()),
  interface: Type.String(),
  kind: Type.Unsafe<(typeof ROUTE_KINDS)[number]>({
    type: 'string',
    enum: [...ROUTE_KINDS],
    description: "connected: from a router interface's address (deleted with the interface); static: added by a user",
  }),
});
export type RouteInfo = Static<typeof RouteInfo>;

/** NeighborInfo is one ARP/NDP cache entry; `mac` is null while the address is being resolved. */
export const NeighborInfo = Type.Object({
  address: Type.String(),
  mac: Type.Unsafe<string | null>({ type: 'string', nullable: true, description: 'null while the address is being resolved' }),
  interface: Type.String(),
  state: Type.String(),
  ageSeconds: Type.Integer({ minimum: 0 }),
});
export type NeighborInfo = Static<typeof NeighborInfo>;

/** Command is every request the data plane takes. */
export type Command =
  | { op: 'addBridge'; spec: BridgeSpec }
  | { op: 'updateBridge'; name: string; agingSeconds?: number; fdbMax?: number }
  | { op: 'removeBridge'; name: string; force: boolean }
  | { op: 'listBridges' }
  | { op: 'addPort'; bridge: string; spec: PortSpec }
  | { op: 'removePort'; bridge: string; name: string }
  | { op: 'listPorts'; bridge?: string }
  | { op: 'fdbList'; bridge: string }
  | { op: 'fdbAdd'; bridge: string; mac: string; port: string }
  | { op: 'fdbDelete'; bridge: string; mac: string }
  | { op: 'fdbFlush'; bridge: string }
  | { op: 'addLink'; spec: LinkSpec }
  | { op: 'removeLink'; name: string }
  | { op: 'listLinks' }
  | { op: 'addRouterInterface'; spec: RouterInterfaceSpec }
  | { op: 'removeRouterInterface'; name: string }
  | { op: 'listRouterInterfaces' }
  | { op: 'addRoute'; spec: RouteSpec }
  | { op: 'removeRoute'; prefix: Cidr }
  | { op: 'listRoutes' }
  | { op: 'listNeighbors' }
  | { op: 'shutdown' };

/** Request wraps a command with its id. */
export interface Request {
  id: number;
  command: Command;
}

/** Reply answers the request with the same id. */
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { code: ErrorCode; detail: string } };

/** PortEvent tells the control plane that a port's (or a link's) state changed: a peer or an emulator
 * came or went, or its device failed. */
export interface PortEvent {
  type: 'port-state';
  port: string;
  bridge?: string;
  state: PortState;
  reason: string;
}

/** WorkerInit is the workerData the control plane passes to the data plane worker. */
export interface WorkerInit {
  counters: SharedArrayBuffer;
  /** fake runs the data plane over in-memory devices (tests without root): `module` is the URL of the
   * fakes (src/ports/fake-port.js, which production code never imports), `netns` the namespaces that
   * "exist", `interfaces` those a netdev port may open. */
  fake?: { module: string; netns: string[]; interfaces?: string[] };
}

/** WorkerMessage is what the worker posts besides replies. */
export type WorkerMessage = { ready: true } | { log: { level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> } } | { event: PortEvent };
