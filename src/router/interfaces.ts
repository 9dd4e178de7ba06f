// The router's interfaces and its own addresses: what each interface is (bridge or TUN, MAC, MTU, the
// addresses configured on it and its derived link-local address), the lookups every path of the router
// asks ("is this one of ours?", "is this group one we listen to?", "which interface holds this address?"),
// and the choice of the source address of the packets the router makes itself (RFC 1812 4.3.2.4: the
// address of the interface the offending packet came in on). The interface ids are the data plane's port
// slots; the table is a sparse array indexed by them.
import { u32 } from '../wire/bytes.js';
import type { Cidr } from '../wire/cidr.js';
import { ALL_NODES6, ALL_ROUTERS6, ipv6Equal, linkLocalFromMac } from '../wire/ipv6.js';
import { inPrefix, maskPrefix } from './routes.js';

/** RouterInterfaceConfig describes an interface to Router.addInterface. */
export interface RouterInterfaceConfig {
  name: string;
  kind: 'bridge' | 'tun';
  /** mac is the router's MAC on a bridge (ignored on TUN). */
  mac: number;
  mtu: number;
  addresses: Cidr[];
  routerAdvertisements: boolean;
}

/** V4Address is an IPv4 interface address: the address as a number, its prefix length, and its bytes. */
export interface V4Address {
  readonly addr: number;
  readonly prefixLength: number;
  readonly bytes: Uint8Array;
}

/** V6Address is an IPv6 interface address and its prefix length. */
export interface V6Address {
  readonly addr: Uint8Array;
  readonly prefixLength: number;
}

/** Iface is one router interface as every part of the router sees it. */
export interface Iface {
  readonly id: number;
  readonly name: string;
  readonly kind: 'bridge' | 'tun';
  /** mac is the router's MAC on a bridge interface, 0 on a TUN. */
  readonly mac: number;
  readonly mtu: number;
  readonly v4: V4Address[];
  readonly v6: V6Address[];
  /** linkLocal is fe80::/64 with the EUI-64 of `mac` on a bridge interface, undefined on a TUN. */
  readonly linkLocal: Uint8Array | undefined;
  /** ra tells whether the router advertises itself here: a bridge interface with IPv6 addresses that asked for it. */
  readonly ra: boolean;
  readonly cidrs: Cidr[];
}

/** makeIface builds interface `id` from its configuration (the caller has checked and routed the addresses). */
export function makeIface(id: number, cfg: RouterInterfaceConfig): Iface {
  const v4: V4Address[] = [];
  const v6: V6Address[] = [];
  for (const a of cfg.addresses) {
    if (a.family === 4) v4.push({ addr: u32(a.address, 0), prefixLength: a.prefixLength, bytes: Uint8Array.from(a.address) });
    else v6.push({ addr: Uint8Array.from(a.address), prefixLength: a.prefixLength });
  }
  const bridge = cfg.kind === 'bridge';
  return {
    id,
    name: cfg.name,
    kind: cfg.kind,
    mac: bridge ? cfg.mac : 0,
    mtu: cfg.mtu,
    v4,
    v6,
    linkLocal: bridge ? linkLocalFromMac(cfg.mac) : undefined,
    ra: bridge && cfg.routerAdvertisements && v6.length > 0,
    cidrs: cfg.addresses,
  };
}

/** sameSubnet4 tells whether `addr` lies in the subnet of interface address `a`. */
export function sameSubnet4(a: V4Address, addr: number): boolean {
  if (a.prefixLength === 0) return true;
  const mask = (0xffffffff << (32 - a.prefixLength)) >>> 0;
  return (a.addr & mask) >>> 0 === (addr & mask) >>> 0;
}

/** inSubnet6 tells whether the 16-byte `addr` lies in the subnet of interface address `a`. */
export function inSubnet6(a: V6Address, addr: Uint8Array): boolean {
  return inPrefix(addr, maskPrefix(a.addr, a.prefixLength), a.prefixLength);
}

/** RouterInterfaces is the table of interfaces and the index of the router's own IPv4 addresses. */
export class RouterInterfaces {
  private readonly list: (Iface | undefined)[] = [];
  /** own4 maps each router IPv4 address to its interface id. */
  private readonly own4 = new Map<number, number>();
  /** directedBroadcast4 holds the subnet broadcast address of every IPv4 interface address (prefixes below /31). */
  private readonly directedBroadcast4 = new Set<number>();

  /** get returns interface `id`, or undefined. */
  get(id: number): Iface | undefined {
    return this.list[id];
  }

  /** add puts `ifc` in its slot (which the caller has checked is free). */
  add(ifc: Iface): void {
    this.list[ifc.id] = ifc;
    this.rebuildOwn();
  }

  /** remove empties slot `id`. */
  remove(id: number): void {
    this.list[id] = undefined;
    this.rebuildOwn();
  }

  /** nameOf returns the name of interface `id`, or "#id". */
  nameOf(id: number): string {
    return this.list[id]?.name ?? `#${id}`;
  }

  /** idOf finds an interface by name, or -1. */
  idOf(name: string): number {
    return this.list.findIndex((i) => i?.name === name);
  }

  /** isOwn4 tells whether the IPv4 address `addr` is one of the router's. */
  isOwn4(addr: number): boolean {
    return this.own4.has(addr);
  }

  /** isDirectedBroadcast4 tells whether `addr` is the broadcast address of one of the router's IPv4 subnets. */
  isDirectedBroadcast4(addr: number): boolean {
    return this.directedBroadcast4.has(addr);
  }

  /** isOwn tells whether `addr` (4 or 16 bytes) is one of the router's addresses. */
  isOwn(family: 4 | 6, addr: Uint8Array): boolean {
    return family === 4 ? this.own4.has(u32(addr, 0)) : this.ownIface6(addr, 0) !== undefined;
  }

  /** ownIface6 returns the interface that holds the IPv6 address at buf[off] (its link-local address included), or undefined. */
  ownIface6(buf: Uint8Array, off: number): Iface | undefined {
    for (const ifc of this.list) {
      if (ifc === undefined) continue;
      if (ifc.linkLocal !== undefined && ipv6Equal(ifc.linkLocal, 0, buf, off)) return ifc;
      for (const a of ifc.v6) if (ipv6Equal(a.addr, 0, buf, off)) return ifc;
    }
    return undefined;
  }

  /** ownOn6 tells whether the 16-byte `addr` is an address of `ifc` (its link-local one included). */
  ownOn6(ifc: Iface, addr: Uint8Array): boolean {
    if (ifc.linkLocal !== undefined && ipv6Equal(ifc.linkLocal, 0, addr, 0)) return true;
    return ifc.v6.some((a) => ipv6Equal(a.addr, 0, addr, 0));
  }

  /** isOurGroup6 tells whether the multicast address at buf[off] is one the router listens to on `ifc`. */
  isOurGroup6(ifc: Iface, buf: Uint8Array, off: number): boolean {
    if (ipv6Equal(ALL_NODES6, 0, buf, off) || ipv6Equal(ALL_ROUTERS6, 0, buf, off)) return true;
    // ff02::1:ffXX:XXXX, the solicited-node group of one of our addresses
    if (buf[off] !== 0xff || buf[off + 1] !== 0x02 || buf[off + 11] !== 1 || buf[off + 12] !== 0xff) return false;
    const matches = (a: Uint8Array): boolean => a[13] === buf[off + 13] && a[14] === buf[off + 14] && a[15] === buf[off + 15];
    return (ifc.linkLocal !== undefined && matches(ifc.linkLocal)) || ifc.v6.some((a) => matches(a.addr));
  }

  /** onLink4 tells whether `addr` lies in one of the IPv4 subnets of `ifc`. */
  onLink4(ifc: Iface, addr: number): boolean {
    return ifc.v4.some((a) => sameSubnet4(a, addr));
  }

  /** source4 picks the router address a packet to `dst` made because of traffic on `ifc` comes from: the arrival interface's (RFC 1812 4.3.2.4), on `dst`'s subnet if one is. */
  source4(ifc: Iface, dst: number): number | undefined {
    const onLink = ifc.v4.find((a) => sameSubnet4(a, dst));
    if (onLink !== undefined) return onLink.addr;
    if (ifc.v4.length > 0) return ifc.v4[0]!.addr;
    for (const other of this.list) if (other !== undefined && other.v4.length > 0) return other.v4[0]!.addr;
    return undefined;
  }

  /** source6 is source4 for IPv6 (the destination at buf[dstOff]); without any global address it is the link-local one. */
  source6(ifc: Iface, buf: Uint8Array, dstOff: number): Uint8Array | undefined {
    const dst = buf.subarray(dstOff, dstOff + 16);
    const onLink = ifc.v6.find((a) => inSubnet6(a, dst));
    if (onLink !== undefined) return onLink.addr;
    if (ifc.v6.length > 0) return ifc.v6[0]!.addr;
    for (const other of this.list) if (other !== undefined && other.v6.length > 0) return other.v6[0]!.addr;
    return ifc.linkLocal;
  }

  private rebuildOwn(): void {
    this.own4.clear();
    this.directedBroadcast4.clear();
    for (const ifc of this.list) {
      if (ifc === undefined) continue;
      for (const a of ifc.v4) {
        this.own4.set(a.addr, ifc.id);
        if (a.prefixLength < 31) this.directedBroadcast4.add((a.addr | (0xffffffff >>> a.prefixLength)) >>> 0);
      }
    }
  }
}
