// Routes: the router's routing information base over the longest-prefix-match RouteTable. Each route is a
// connected route (one per interface address: its subnet, reached on-link) or a static route (a prefix via
// a next hop on a connected subnet, or out of an interface on-link). The table maps prefixes to route ids;
// forwarding reads `byId[id]` for the egress interface and the next hop.
//
// Rules, each checked here so that the data plane never holds an inconsistent table:
// - one route per prefix: a static route may not replace a connected one, nor another static one;
// - a next hop must lie in a connected subnet (of the named interface, when one is named) and must not
//   be one of the router's own addresses;
// - an interface with static routes through it cannot be removed until they are (TW_ERR_IN_USE).
import { TwError } from '../errors.js';
import { RouteTable } from './route-table.js';
import { u32 } from '../wire/bytes.js';
import { formatIpv4 } from '../wire/ipv4.js';
import { formatIpv6 } from '../wire/ipv6.js';

/** Route is one entry of the table. */
export interface Route {
  readonly id: number;
  readonly family: 4 | 6;
  /** prefix holds the masked prefix bytes (4 or 16). */
  readonly prefix: Uint8Array;
  readonly prefixLength: number;
  readonly kind: 'connected' | 'static';
  /** iface is the egress router interface id. */
  readonly iface: number;
  /** via4 is the IPv4 next hop, -1 for on-link. */
  readonly via4: number;
  /** via6 is the IPv6 next hop, undefined for on-link. */
  readonly via6: Uint8Array | undefined;
}

/** StaticRouteRequest is what addStatic takes: a prefix, and a next hop and/or an interface. */
export interface StaticRouteRequest {
  family: 4 | 6;
  prefix: Uint8Array;
  prefixLength: number;
  via?: Uint8Array;
  /** iface restricts the next hop to one interface, or (without via) makes the route on-link there. */
  iface?: number;
}

/** maskPrefix returns a copy of `addr` with the bits beyond `len` cleared. */
export function maskPrefix(addr: Uint8Array, len: number): Uint8Array {
  const out = Uint8Array.from(addr);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** inPrefix tells whether `addr` lies in prefix/len (same length arrays). */
export function inPrefix(addr: Uint8Array, prefix: Uint8Array, len: number): boolean {
  const masked = maskPrefix(addr, len);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== prefix[i]) return false;
  return true;
}

/** Routes is the routing information base; see the comment at the top of this file. */
export class Routes {
  readonly table = new RouteTable();
  /** byId holds every route by id (ids are reused after removal). */
  readonly byId: (Route | undefined)[] = [];
  private readonly freeIds: number[] = [];

  /** size4 and size6 count the routes per family. */
  get size4(): number {
    return this.table.size4;
  }

  get size6(): number {
    return this.table.size6;
  }

  /** lookup4 returns the route for an IPv4 destination, or undefined. */
  lookup4(addr: number): Route | undefined {
    const id = this.table.lookup4(addr);
    return id < 0 ? undefined : this.byId[id];
  }

  /** lookup6 returns the route for the IPv6 destination at buf[off..off+16), or undefined. */
  lookup6(buf: Uint8Array, off: number): Route | undefined {
    const id = this.table.lookup6(buf, off);
    return id < 0 ? undefined : this.byId[id];
  }

  /** addConnected adds the subnet of an interface address; it throws TW_ERR_EXISTS if the prefix has a route. */
  addConnected(iface: number, family: 4 | 6, address: Uint8Array, prefixLength: number): Route {
    const prefix = maskPrefix(address, prefixLength);
    this.refuseTaken(family, prefix, prefixLength);
    return this.insert({ family, prefix, prefixLength, kind: 'connected', iface, via4: -1, via6: undefined });
  }

  /** removeConnected removes the connected route of an interface address (if it is this interface's). */
  removeConnected(iface: number, family: 4 | 6, address: Uint8Array, prefixLength: number): void {
    const prefix = maskPrefix(address, prefixLength);
    const id = this.table.get(family, prefix, prefixLength);
    const r = id < 0 ? undefined : this.byId[id];
    if (r !== undefined && r.kind === 'connected' && r.iface === iface) this.delete(r);
  }

  /**
   * addStatic adds a static route. `isOwn` tells whether an address is one of the router's; `ifaceName`
   * names interfaces for messages.
   */
  addStatic(req: StaticRouteRequest, isOwn: (family: 4 | 6, addr: Uint8Array) => boolean, ifaceName: (id: number) => string): Route {
    const prefix = maskPrefix(req.prefix, req.prefixLength);
    this.refuseTaken(req.family, prefix, req.prefixLength);
    if (req.via === undefined) {
      if (req.iface === undefined) throw new TwError('TW_ERR_VALIDATION', 'a route needs a next hop (via) or an interface');
      return this.insert({ family: req.family, prefix, prefixLength: req.prefixLength, kind: 'static', iface: req.iface, via4: -1, via6: undefined });
    }
    if (isOwn(req.family, req.via)) throw new TwError('TW_ERR_VALIDATION', `the next hop ${text(req.family, req.via)} is one of the router's own addresses`);
    const connected = this.connectedFor(req.family, req.via, req.iface);
    if (connected === undefined) {
      const where = req.iface === undefined ? 'any router interface' : `router interface ${ifaceName(req.iface)}`;
      throw new TwError('TW_ERR_VALIDATION', `the next hop ${text(req.family, req.via)} is not in a subnet of ${where}`);
    }
    return this.insert({
      family: req.family,
      prefix,
      prefixLength: req.prefixLength,
      kind: 'static',
      iface: connected.iface,
      via4: req.family === 4 ? u32(req.via, 0) : -1,
      via6: req.family === 6 ? Uint8Array.from(req.via) : undefined,
    });
  }

  /** removeStatic removes the static route of exactly prefix/len; it throws if there is none or it is connected. */
  removeStatic(family: 4 | 6, prefix: Uint8Array, prefixLength: number): void {
    const id = this.table.get(family, maskPrefix(prefix, prefixLength), prefixLength);
    const r = id < 0 ? undefined : this.byId[id];
    const t = `${text(family, maskPrefix(prefix, prefixLength))}/${prefixLength}`;
    if (r === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no route for ${t}`);
    if (r.kind === 'connected') throw new TwError('TW_ERR_IN_USE', `${t} is the connected route of an interface address; remove the address's interface instead`);
    this.delete(r);
  }

  /** staticThrough lists the static routes whose egress is `iface`. */
  staticThrough(iface: number): Route[] {
    return this.byId.filter((r): r is Route => r !== undefined && r.kind === 'static' && r.iface === iface);
  }

  /** removeInterface removes the connected routes of `iface`; it throws TW_ERR_IN_USE while static routes use it. */
  removeInterface(iface: number, ifaceName: string): void {
    const statics = this.staticThrough(iface);
    if (statics.length > 0) {
      throw new TwError('TW_ERR_IN_USE', `router interface ${ifaceName} carries static route(s) ${statics.map(routeText).join(', ')}; delete them first`);
    }
    for (const r of [...this.byId]) if (r !== undefined && r.iface === iface) this.delete(r);
  }

  /** all lists the routes: IPv4 then IPv6, by prefix. */
  all(): Route[] {
    return this.table
      .entries()
      .map((e) => this.byId[e.value])
      .filter((r): r is Route => r !== undefined);
  }

  private connectedFor(family: 4 | 6, addr: Uint8Array, iface: number | undefined): Route | undefined {
    let best: Route | undefined;
    for (const r of this.byId) {
      if (r === undefined || r.kind !== 'connected' || r.family !== family) continue;
      if (iface !== undefined && r.iface !== iface) continue;
      if (inPrefix(addr, r.prefix, r.prefixLength) && (best === undefined || r.prefixLength > best.prefixLength)) best = r;
    }
    return best;
  }

  private refuseTaken(family: 4 | 6, prefix: Uint8Array, len: number): void {
    const id = this.table.get(family, prefix, len);
    if (id >= 0) {
      const r = this.byId[id]!;
      throw new TwError('TW_ERR_EXISTS', `${text(family, prefix)}/${len} already has a ${r.kind} route`);
    }
  }

  private insert(r: Omit<Route, 'id'>): Route {
    const id = this.freeIds.pop() ?? this.byId.length;
    const route: Route = { id, ...r };
    this.byId[id] = route;
    this.table.insert(r.family, r.prefix, r.prefixLength, id);
    return route;
  }

  private delete(r: Route): void {
    this.table.remove(r.family, r.prefix, r.prefixLength);
    this.byId[r.id] = undefined;
    this.freeIds.push(r.id);
  }
}

/** addressText formats 4 or 16 address bytes. */
export function addressText(family: 4 | 6, b: Uint8Array): string {
  return text(family, b);
}

/** routeText formats a route's prefix, e.g. "10.1.0.0/16". */
export function routeText(r: Route): string {
  return `${text(r.family, r.prefix)}/${r.prefixLength}`;
}

function text(family: 4 | 6, b: Uint8Array): string {
  return family === 4 ? formatIpv4(u32(b, 0)) : formatIpv6(b);
}
