// PortTable: the data plane's slots. Every port-like thing holds one slot index, which keys its counters
// in the shared block, the bridge's view of it and the router's interface id:
// - a `switch` entry: a Port of any kind on a bridge;
// - a `link` entry: the Port of a routed link (a TUN device), whose frames go to the router;
// - a `router` entry: the router's own port on a bridge; no device, its frames go to the router.
// Ports, links and router interfaces share one name space.
import { TwError } from '../errors.js';
import type { Bridge } from '../bridge/bridge.js';
import type { Port, SwitchPort } from '../ports/port.js';
import { MAX_BRIDGES, MAX_PORTS } from './counters.js';
import type { LinkSpec, PortSpec, RouterInterfaceSpec } from './protocol.js';

/** BridgeEntry is a bridge with its slot in the bridge counters and its ports by name. */
export interface BridgeEntry {
  readonly bridge: Bridge;
  readonly slot: number;
  readonly ports: Map<string, SwitchEntry>;
}

/** SwitchEntry is a device port on a bridge. */
export interface SwitchEntry {
  readonly role: 'switch';
  readonly port: Port;
  readonly sw: SwitchPort;
  readonly spec: PortSpec;
  readonly bridge: BridgeEntry;
  readonly base: number;
}

/** LinkEntry is a routed link's TUN device; its packets go to the router. */
export interface LinkEntry {
  readonly role: 'link';
  readonly port: Port;
  readonly sw: SwitchPort;
  readonly spec: LinkSpec;
  readonly base: number;
  /** routerInterface is the spec of the router interface on the link, if any. */
  routerInterface: RouterInterfaceSpec | undefined;
}

/** RouterEntry is the router's port on a bridge. */
export interface RouterEntry {
  readonly role: 'router';
  readonly port: undefined;
  readonly sw: SwitchPort;
  readonly spec: RouterInterfaceSpec;
  readonly bridge: BridgeEntry;
  readonly base: number;
}

/** Entry is whatever holds a slot. */
export type Entry = SwitchEntry | LinkEntry | RouterEntry;

/** PortTable holds the slots and the name maps; see the comment at the top of this file. */
export class PortTable {
  /** slots[i] is the entry of slot i. */
  readonly slots: (Entry | undefined)[] = new Array(MAX_PORTS);
  readonly ports = new Map<string, SwitchEntry>();
  readonly links = new Map<string, LinkEntry>();
  readonly routerPorts = new Map<string, RouterEntry>();
  readonly bridges = new Map<string, BridgeEntry>();
  private readonly bridgeSlots: boolean[] = new Array(MAX_BRIDGES).fill(false);
  /** reserved slots are promised to ports still being made (a socket port opening its socket). */
  private readonly reserved = new Set<number>();

  /** refuseTakenName throws TW_ERR_EXISTS when a port, link or router interface is called `name`. */
  refuseTakenName(name: string): void {
    if (this.ports.has(name)) throw new TwError('TW_ERR_EXISTS', `port ${name} already exists`);
    if (this.links.has(name)) throw new TwError('TW_ERR_EXISTS', `link ${name} already exists (ports, links and router interfaces share one name space)`);
    if (this.routerPorts.has(name)) throw new TwError('TW_ERR_EXISTS', `router interface ${name} already exists (ports, links and router interfaces share one name space)`);
  }

  /** freeSlot returns the lowest free slot index. */
  freeSlot(): number {
    for (let i = 0; i < MAX_PORTS; i++) if (this.slots[i] === undefined && !this.reserved.has(i)) return i;
    throw new TwError('TW_ERR_VALIDATION', `at most ${MAX_PORTS} ports, links and router interfaces`);
  }

  /** reserve takes a free slot for a port that is made asynchronously; put() or unreserve() ends it. */
  reserve(): number {
    const i = this.freeSlot();
    this.reserved.add(i);
    return i;
  }

  /** unreserve gives back a reserved slot that was not used. */
  unreserve(index: number): void {
    this.reserved.delete(index);
  }

  /** takeBridgeSlot takes the lowest free bridge slot. */
  takeBridgeSlot(): number {
    const slot = this.bridgeSlots.indexOf(false);
    if (slot < 0) throw new TwError('TW_ERR_VALIDATION', `at most ${MAX_BRIDGES} bridges`);
    this.bridgeSlots[slot] = true;
    return slot;
  }

  /** releaseBridgeSlot gives a bridge slot back. */
  releaseBridgeSlot(slot: number): void {
    this.bridgeSlots[slot] = false;
  }

  /** put places an entry in its slot and its name map. */
  put(e: Entry): void {
    this.reserved.delete(e.sw.index);
    this.slots[e.sw.index] = e;
    if (e.role === 'switch') {
      this.ports.set(e.spec.name, e);
      e.bridge.ports.set(e.spec.name, e);
    } else if (e.role === 'link') this.links.set(e.spec.name, e);
    else this.routerPorts.set(e.spec.name, e);
  }

  /** take removes an entry from its slot and its name map. */
  take(e: Entry): void {
    if (this.slots[e.sw.index] === e) this.slots[e.sw.index] = undefined;
    if (e.role === 'switch') {
      this.ports.delete(e.spec.name);
      e.bridge.ports.delete(e.spec.name);
    } else if (e.role === 'link') this.links.delete(e.spec.name);
    else this.routerPorts.delete(e.spec.name);
  }

  /** holds says whether `e` is still the entry of its slot (a port deleted meanwhile is not). */
  holds(e: Entry): boolean {
    return this.slots[e.sw.index] === e;
  }

  bridge(name: string): BridgeEntry {
    const b = this.bridges.get(name);
    if (b === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no bridge named ${name}`);
    return b;
  }

  link(name: string): LinkEntry {
    const l = this.links.get(name);
    if (l === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no link named ${name}`);
    return l;
  }
}
