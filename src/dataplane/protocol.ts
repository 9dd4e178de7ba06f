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

/** PortSpec is any port kind (more kinds join this union with their issue). */
export type PortSpec = TapPortSpec | NetdevPortSpec;

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
  | { op: 'shutdown' };

/** Request wraps a command with its id. */
export interface Request {
  id: number;
  command: Command;
}

/** Reply answers the request with the same id. */
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { code: ErrorCode; detail: string } };
