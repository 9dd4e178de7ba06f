// DesiredState: what the user asked tapwired to run (bridges with their ports and static FDB entries, links,
// router interfaces, static routes) and the rules between those objects. It is the one validator of those
// rules: the API, the topology file (--config) and the saved state (state.json) all change it through the
// methods below, each of which checks its rule and returns a new state. A state is never changed in place,
// so a change that fails afterwards (in the data plane, or on disk) leaves nothing to undo here. It is pure:
// no data plane, no files, no timers. Whether an object is built yet is reconcile.ts's business.
//
// The rules. The router's objects depend on each other and on bridges: a router interface sits on a bridge
// or on a link, and a static route goes out of a router interface. Removing something that another object
// needs is refused with TW_ERR_IN_USE naming the dependant (a bridge's `force` deletes ports, never a router
// interface). Ports, links and router interfaces share one name space (a router interface on a bridge is a
// port of that name there). The router's table holds one route per prefix: a static route cannot have the
// prefix of a connected network, and a connected route is removed only with its interface.
import { TwError } from '../errors.js';
import type { BridgeSpec, LinkSpec, PortSpec, RouteSpec, RouterInterfaceSpec } from '../dataplane/protocol.js';
import { Cidr, parseCidr } from '../wire/cidr.js';
import { isLinkLocal6, parseIpAddress, prefixContains, prefixOf } from './specs.js';
import type { BridgePatch } from './resources.js';
import { SavedBridge, SavedLink, SavedPort, SavedRoute, SavedRouterInterface, SavedState, SavedTapPort, STATE_VERSION } from './state-store.js';

/** savedPort is a validated port as the state keeps it: vm and socket ports without the resolved ids (a
 * renumbered user is looked up anew), tap ports with their addresses as text. */
export function savedPort(spec: PortSpec): SavedPort {
  if (spec.kind === 'netdev') return { name: spec.name, kind: 'netdev', ifname: spec.ifname };
  if (spec.kind === 'vm' || spec.kind === 'socket') {
    const { uid: _uid, gid: _gid, ...saved } = spec;
    return saved;
  }
  const p: SavedTapPort = { name: spec.name, kind: spec.kind, addresses: spec.addresses.map((a) => a.text), up: spec.up };
  if (spec.netns !== undefined) p.netns = spec.netns;
  if (spec.mac !== undefined) p.mac = spec.mac;
  if (spec.mtu !== undefined) p.mtu = spec.mtu;
  return p;
}

/** savedLink is a validated link as the state keeps it. */
export function savedLink(spec: LinkSpec): SavedLink {
  const l: SavedLink = { name: spec.name, kind: spec.kind, addresses: spec.addresses.map((a) => a.text), routes: spec.routes.map((r) => r.text) };
  if (spec.netns !== undefined) l.netns = spec.netns;
  if (spec.peer !== undefined) l.peer = spec.peer.text;
  if (spec.mtu !== undefined) l.mtu = spec.mtu;
  return l;
}

/** savedRouterInterface is a validated router interface as the state keeps it. The MAC of a bridge
 * interface is saved, given or derived, so that it never changes under the hosts' ARP/NDP caches; a link
 * interface has none. */
export function savedRouterInterface(spec: RouterInterfaceSpec): SavedRouterInterface {
  const on = spec.bridge !== undefined ? { bridge: spec.bridge } : { link: spec.link };
  const mac = spec.bridge !== undefined ? { mac: spec.mac } : {};
  const r: SavedRouterInterface = { name: spec.name, ...on, addresses: spec.addresses.map((a) => a.text), ...mac, routerAdvertisements: spec.routerAdvertisements };
  if (spec.mtu !== undefined) r.mtu = spec.mtu;
  return r;
}

/** savedRoute is a validated static route as the state keeps it. */
export function savedRoute(spec: RouteSpec): SavedRoute {
  const r: SavedRoute = { prefix: spec.prefix.text };
  if (spec.via !== undefined) r.via = spec.via.text;
  if (spec.interface !== undefined) r.interface = spec.interface;
  return r;
}

// withEntry is a copy of `map` with `key` set to `value` (at the end when new, in its place when not);
// without is a copy without `key`.
function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): Map<K, V> {
  return new Map(map).set(key, value);
}

function without<K, V>(map: ReadonlyMap<K, V>, key: K): Map<K, V> {
  const out = new Map(map);
  out.delete(key);
  return out;
}

const addressOf = (cidrText: string): string => cidrText.split('/')[0]!;

/** DesiredState is one desired state; see the comment at the top of this file. Its maps keep insertion
 * order, which is the order of the saved state. Static routes are keyed by their prefix's canonical text. */
export class DesiredState {
  private constructor(
    readonly bridges: ReadonlyMap<string, SavedBridge>,
    readonly links: ReadonlyMap<string, SavedLink>,
    readonly interfaces: ReadonlyMap<string, SavedRouterInterface>,
    readonly routes: ReadonlyMap<string, SavedRoute>,
  ) {}

  /** EMPTY is the state of a daemon without anything. */
  static readonly EMPTY = new DesiredState(new Map(), new Map(), new Map(), new Map());

  private with(parts: {
    bridges?: ReadonlyMap<string, SavedBridge>;
    links?: ReadonlyMap<string, SavedLink>;
    interfaces?: ReadonlyMap<string, SavedRouterInterface>;
    routes?: ReadonlyMap<string, SavedRoute>;
  }): DesiredState {
    return new DesiredState(parts.bridges ?? this.bridges, parts.links ?? this.links, parts.interfaces ?? this.interfaces, parts.routes ?? this.routes);
  }

  /** toSaved is the state as state.json holds it. */
  toSaved(): SavedState {
    return {
      version: STATE_VERSION,
      bridges: [...this.bridges.values()],
      links: [...this.links.values()],
      routerInterfaces: [...this.interfaces.values()],
      routes: [...this.routes.values()],
    };
  }

  /** portCount is the number of ports over every bridge. */
  portCount(): number {
    return [...this.bridges.values()].reduce((n, b) => n + b.ports.length, 0);
  }

  /** bridge returns a bridge, or throws TW_ERR_NOT_FOUND. */
  bridge(name: string): SavedBridge {
    const b = this.bridges.get(name);
    if (b === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no bridge named ${name}`);
    return b;
  }

  /** port finds a port by name on any bridge. */
  port(name: string): { bridge: string; port: SavedPort } | undefined {
    for (const b of this.bridges.values()) {
      const port = b.ports.find((p) => p.name === name);
      if (port !== undefined) return { bridge: b.name, port };
    }
    return undefined;
  }

  /** interfaceOf returns the router interface on a bridge or a link, if there is one. */
  interfaceOf(on: { bridge: string } | { link: string }): SavedRouterInterface | undefined {
    for (const r of this.interfaces.values()) if ('bridge' in on ? r.bridge === on.bridge : r.link === on.link) return r;
    return undefined;
  }

  /** nameOwner says what holds `name` in the one name space of ports, links and router interfaces. */
  nameOwner(name: string): string | undefined {
    const p = this.port(name);
    if (p !== undefined) return `port ${name} of bridge ${p.bridge}`;
    if (this.links.has(name)) return `link ${name}`;
    if (this.interfaces.has(name)) return `router interface ${name}`;
    return undefined;
  }

  private checkNameFree(name: string): void {
    const owner = this.nameOwner(name);
    if (owner !== undefined) throw new TwError('TW_ERR_EXISTS', `${owner} already exists (ports, links and router interfaces share one name space)`);
  }

  /** addBridge adds a bridge without ports. */
  addBridge(spec: BridgeSpec): DesiredState {
    if (this.bridges.has(spec.name)) throw new TwError('TW_ERR_EXISTS', `bridge ${spec.name} already exists`);
    return this.with({ bridges: withEntry(this.bridges, spec.name, { ...spec, ports: [], fdb: [] }) });
  }

  /** updateBridge changes a bridge's aging time and/or FDB cap. */
  updateBridge(name: string, patch: BridgePatch): DesiredState {
    return this.with({ bridges: withEntry(this.bridges, name, { ...this.bridge(name), ...patch }) });
  }

  /** removeBridge removes a bridge: refused while a router interface is on it, and while it has ports
   * unless `force` (which removes them with it). */
  removeBridge(name: string, force: boolean): DesiredState {
    const b = this.bridge(name);
    const ri = this.interfaceOf({ bridge: name });
    if (ri !== undefined) throw new TwError('TW_ERR_IN_USE', `bridge ${name} has router interface ${ri.name}; delete the interface first (force deletes ports only)`);
    if (b.ports.length > 0 && !force) throw new TwError('TW_ERR_IN_USE', `bridge ${name} still has ${b.ports.length} port(s); delete them first or use force`);
    return this.with({ bridges: without(this.bridges, name) });
  }

  /** addPort adds a port to a bridge; its name must be free among ports, links and router interfaces. */
  addPort(bridge: string, spec: PortSpec): DesiredState {
    const b = this.bridge(bridge);
    if (this.links.has(spec.name) || this.interfaces.has(spec.name)) this.checkNameFree(spec.name);
    if (this.port(spec.name) !== undefined) throw new TwError('TW_ERR_EXISTS', `port ${spec.name} already exists`);
    return this.with({ bridges: withEntry(this.bridges, bridge, { ...b, ports: [...b.ports, savedPort(spec)] }) });
  }

  /** removePort removes a port and the static FDB entries that point at it. */
  removePort(bridge: string, name: string): DesiredState {
    const b = this.bridge(bridge);
    if (!b.ports.some((p) => p.name === name)) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridge} has no port ${name}`);
    return this.with({ bridges: withEntry(this.bridges, bridge, { ...b, ports: b.ports.filter((p) => p.name !== name), fdb: b.fdb.filter((f) => f.port !== name) }) });
  }

  /** pinMac pins a unicast MAC to a port of the bridge, in place of an earlier pin of that MAC. */
  pinMac(bridge: string, mac: string, port: string): DesiredState {
    const b = this.bridge(bridge);
    if (!b.ports.some((p) => p.name === port)) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridge} has no port ${port}`);
    return this.with({ bridges: withEntry(this.bridges, bridge, { ...b, fdb: [...b.fdb.filter((f) => f.mac !== mac), { mac, port }] }) });
  }

  /** unpinMac removes the pin of a MAC, if there is one (a learned entry has none). */
  unpinMac(bridge: string, mac: string): DesiredState {
    const b = this.bridge(bridge);
    return this.with({ bridges: withEntry(this.bridges, bridge, { ...b, fdb: b.fdb.filter((f) => f.mac !== mac) }) });
  }

  /** addLink adds a link; its name must be free among ports, links and router interfaces. */
  addLink(spec: LinkSpec): DesiredState {
    this.checkNameFree(spec.name);
    return this.with({ links: withEntry(this.links, spec.name, savedLink(spec)) });
  }

  /** removeLink removes a link; refused while a router interface is on it. */
  removeLink(name: string): DesiredState {
    if (!this.links.has(name)) throw new TwError('TW_ERR_NOT_FOUND', `no link named ${name}`);
    const ri = this.interfaceOf({ link: name });
    if (ri !== undefined) throw new TwError('TW_ERR_IN_USE', `link ${name} has router interface ${ri.name}; delete the interface first`);
    return this.with({ links: without(this.links, name) });
  }

  /**
   * addRouterInterface adds a router interface after checking it against the state: its name, its bridge
   * or link (which must exist and have no router interface yet), and its addresses (none already the
   * router's, no network connected twice or holding a static route, none the host side's of its link).
   */
  addRouterInterface(spec: RouterInterfaceSpec): DesiredState {
    this.checkNameFree(spec.name);
    const others = [...this.interfaces.values()];
    if (spec.bridge !== undefined) {
      this.bridge(spec.bridge);
      const other = this.interfaceOf({ bridge: spec.bridge });
      if (other !== undefined) throw new TwError('TW_ERR_EXISTS', `bridge ${spec.bridge} already has router interface ${other.name} (one per bridge)`);
    } else if (spec.link !== undefined) {
      const link = this.links.get(spec.link);
      if (link === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no link named ${spec.link}`);
      const other = this.interfaceOf({ link: spec.link });
      if (other !== undefined) throw new TwError('TW_ERR_EXISTS', `link ${spec.link} already has router interface ${other.name} (one per link)`);
      spec.addresses.forEach((a, i) => {
        const address = addressOf(a.text);
        if (link.addresses.some((h) => addressOf(h) === address))
          throw new TwError('TW_ERR_VALIDATION', `routerInterface.addresses[${i}]: ${address} is the host side's address on link ${spec.link}; the router needs its own`);
      });
    }
    spec.addresses.forEach((a, i) => {
      const address = addressOf(a.text);
      const network = prefixOf(a).text;
      for (const o of others) {
        for (const text of o.addresses) {
          if (addressOf(text) === address) throw new TwError('TW_ERR_EXISTS', `routerInterface.addresses[${i}]: ${address} is already an address of router interface ${o.name}`);
          if (prefixOf(parseCidr(text)).text === network)
            throw new TwError('TW_ERR_EXISTS', `routerInterface.addresses[${i}]: the network ${network} is already connected on router interface ${o.name}`);
        }
      }
      if (this.routes.has(network)) throw new TwError('TW_ERR_EXISTS', `routerInterface.addresses[${i}]: the network ${network} has a static route; delete it first (one route per prefix)`);
    });
    return this.with({ interfaces: withEntry(this.interfaces, spec.name, savedRouterInterface(spec)) });
  }

  /** removeRouterInterface removes a router interface (and with it its connected routes); refused while
   * static routes go out of it. */
  removeRouterInterface(name: string): DesiredState {
    if (!this.interfaces.has(name)) throw new TwError('TW_ERR_NOT_FOUND', `no router interface named ${name}`);
    const using = [...this.routes.values()].filter((r) => this.egressOf(r) === name).map((r) => r.prefix);
    if (using.length > 0) throw new TwError('TW_ERR_IN_USE', `static routes go out of router interface ${name}: ${using.join(', ')}; delete them first`);
    return this.with({ interfaces: without(this.interfaces, name) });
  }

  /** connectedOwner names the router interface whose address makes `prefix` (canonical) a connected network. */
  connectedOwner(prefix: string): string | undefined {
    for (const r of this.interfaces.values()) if (r.addresses.some((a) => prefixOf(parseCidr(a)).text === prefix)) return r.name;
    return undefined;
  }

  /** egressOf is the router interface a static route goes out of: the one it names, or the one whose
   * connected network holds its next hop (the longest such prefix); undefined when there is none. */
  egressOf(route: { via?: string; interface?: string }): string | undefined {
    if (route.interface !== undefined) return route.interface;
    if (route.via === undefined) return undefined;
    const via = parseIpAddress(route.via);
    let best: { name: string; length: number } | undefined;
    for (const r of this.interfaces.values()) {
      for (const text of r.addresses) {
        const c = parseCidr(text);
        if (prefixContains(c, via) && (best === undefined || c.prefixLength > best.length)) best = { name: r.name, length: c.prefixLength };
      }
    }
    return best?.name;
  }

  /**
   * addRoute adds a static route after checking it against the state, and says which interface it goes out
   * of. One route per prefix; the next hop must not be the router's and must be on a connected network (of
   * the route's interface, when it names one on a bridge; a link interface needs no neighbor, so any next
   * hop is taken there).
   */
  addRoute(spec: RouteSpec): { state: DesiredState; egress: string } {
    const prefix = spec.prefix.text;
    if (this.routes.has(prefix)) throw new TwError('TW_ERR_EXISTS', `a static route for ${prefix} already exists`);
    const connected = this.connectedOwner(prefix);
    if (connected !== undefined) throw new TwError('TW_ERR_EXISTS', `${prefix} is the connected network of router interface ${connected} (one route per prefix)`);
    const via = spec.via;
    if (via !== undefined) {
      for (const r of this.interfaces.values()) {
        if (r.addresses.some((a) => addressOf(a) === via.text))
          throw new TwError('TW_ERR_VALIDATION', `route.via ${via.text} is the router's own address on router interface ${r.name}; the next hop is another host`);
      }
    }
    const saved = savedRoute(spec);
    const state = this.with({ routes: withEntry(this.routes, prefix, saved) });
    if (spec.interface !== undefined) {
      const ri = this.interfaces.get(spec.interface);
      if (ri === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no router interface named ${spec.interface}`);
      if (via !== undefined && ri.bridge !== undefined && !isLinkLocal6(via.address) && !ri.addresses.some((a) => prefixContains(parseCidr(a), via))) {
        throw new TwError('TW_ERR_VALIDATION', `route.via ${via.text} is not on a network of router interface ${spec.interface} (${ri.addresses.join(', ')})`);
      }
      return { state, egress: spec.interface };
    }
    const egress = this.egressOf(saved);
    if (egress === undefined) {
      throw new TwError(
        'TW_ERR_VALIDATION',
        `route.via ${via?.text ?? '?'} is not on a connected network of any router interface; add an interface with an address on its network, or give route.interface`,
      );
    }
    return { state, egress };
  }

  /** removeRoute removes a static route. A connected route is refused with TW_ERR_IN_USE: it belongs to its
   * interface's address and goes with the interface. */
  removeRoute(prefix: Cidr): DesiredState {
    if (!this.routes.has(prefix.text)) {
      const owner = this.connectedOwner(prefix.text);
      if (owner !== undefined) throw new TwError('TW_ERR_IN_USE', `${prefix.text} is the connected route of router interface ${owner}; it goes when the interface is deleted`);
      throw new TwError('TW_ERR_NOT_FOUND', `no static route for ${prefix.text}`);
    }
    return this.with({ routes: without(this.routes, prefix.text) });
  }
}
