// PortDevices: how the data plane makes a port of each kind. The real one opens kernel devices through the
// native addon (src/dataplane/devices.ts wires the kinds' openers); the fake one (fake-port.ts) makes
// in-memory ports for unit tests. The specs here are what a kind needs to make its device, already
// checked and parsed: the API's shapes are the daemon's business.
import type { Cidr } from '../wire/cidr.js';
import type { Port } from './port.js';

/** TapSpec says how to make and place a TAP. */
export interface TapSpec {
  name: string;
  /** netns names an existing namespace (/run/netns/NAME) to move the netdev into. */
  netns?: string;
  addresses: Cidr[];
  mac?: Uint8Array;
  mtu?: number;
  up: boolean;
}

/** TunSpec says how to make and place a TUN device. */
export interface TunSpec {
  name: string;
  netns?: string;
  addresses: Cidr[];
  /** peer, when given, is the point-to-point peer of the addresses of its family. */
  peer?: { family: 4 | 6; address: Uint8Array };
  mtu?: number;
  /** routes are prefixes routed out of the netdev on its side. */
  routes: Cidr[];
}

/** VmSpec says how to make the TAP of a `vm` port. */
export interface VmSpec {
  name: string;
  uid?: number;
  gid?: number;
  mtu?: number;
}

/** NetdevSpec names a `netdev` port and the existing interface it switches. */
export interface NetdevSpec {
  name: string;
  ifname: string;
}

/** SocketSpec says where a socket port listens (stream) or binds (dgram). */
export interface SocketSpec {
  name: string;
  path: string;
  mode: 'stream' | 'dgram';
  /** uid and gid own the socket file (mode 0660): who, besides root, may connect or send. */
  uid?: number;
  gid?: number;
  mtu?: number;
}

/** PortDevices makes ports; each opener throws (a NativeError, or a Node errno error) when it cannot, and
 * leaves nothing behind then. `index` is the slot the data plane gives the port. */
export interface PortDevices {
  tap(spec: TapSpec, index: number): Port;
  tun(spec: TunSpec, index: number): Port;
  netdev(spec: NetdevSpec, index: number): Port;
  vm(spec: VmSpec, index: number): Port;
  socket(spec: SocketSpec, index: number): Promise<Port>;
}
