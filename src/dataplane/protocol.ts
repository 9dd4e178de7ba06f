// The messages between the control plane (main thread) and the data plane (worker): validated specs in,
// plain results or a TwError's { code, detail } out.
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

/** PortState is what the API reports as a port's `state`. */
export type PortState = 'up' | 'down' | 'error';

/** PortInfo describes a port; counters are read from the shared block by `index`. */
export interface PortInfo {
  name: string;
  bridge: string;
  kind: PortSpec['kind'];
  index: number;
  ifname: string;
  netns?: string;
  addresses: string[];
  mac?: string;
  mtu: number;
  state: PortState;
  offloads: number;
  /** path and mode are a `socket` port's; connected says whether its peer is there. */
  path?: string;
  mode?: string;
  /** uid and gid own a `vm` port's TAP. */
  uid?: number;
  gid?: number;
}

/** BridgeInfo describes a bridge; its counters are at `slot` in the shared block. */
export interface BridgeInfo {
  name: string;
  agingSeconds: number;
  fdbMax: number;
  slot: number;
  ports: string[];
}

/** FdbRow is one FDB entry as the API reports it. */
export interface FdbRow {
  mac: string;
  port: string;
  static: boolean;
  ageSeconds: number;
}

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

/** LinkInfo describes a link. */
export interface LinkInfo {
  name: string;
  kind: 'tun';
  ifname: string;
  netns?: string;
  addresses: string[];
  peer?: string;
  mtu: number;
  routes: string[];
  /** index is the link's port slot: its counters are read from the shared block there. */
  index: number;
  state: PortState;
  /** routerInterface is the router interface attached to the link, if any. */
  routerInterface?: string;
}

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

/** RouterInterfaceInfo describes a router interface. */
export interface RouterInterfaceInfo {
  name: string;
  bridge?: string;
  link?: string;
  addresses: string[];
  /** linkLocal is the IPv6 link-local address (bridge interfaces). */
  linkLocal?: string;
  mac?: string;
  mtu: number;
  routerAdvertisements: boolean;
  /** index is the port slot whose counters count what the router received and sent on this interface. */
  index: number;
}

/** RouteSpec is a validated static route. */
export interface RouteSpec {
  prefix: Cidr;
  via?: IpAddress;
  /** interface names the router interface to send out of (needed when `via` is absent). */
  interface?: string;
}

/** RouteInfo describes a route of the router's table. */
export interface RouteInfo {
  prefix: string;
  via?: string;
  interface: string;
  kind: 'connected' | 'static';
}

/** NeighborInfo is one ARP/NDP cache entry. */
export interface NeighborInfo {
  address: string;
  mac: string | null;
  interface: string;
  state: string;
  ageSeconds: number;
}

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
