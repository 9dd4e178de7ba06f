// Router: tapwire's IPv4/IPv6 router, by the rules of RFC 1812 (IPv4) and RFC 8200/4443/4861 (IPv6).
// It has interfaces on bridges (it owns a port there, with its own MAC, answers ARP/NDP and sends RAs) and
// on TUN links (bare IP packets). Packets arrive one at a time from the data plane with their virtio-net
// header; the router decides, rewrites in place where it can, and hands frames back through RouterOutput.
//
// Per packet, in order (each discard reported once, under one ROUTER_DROP_REASONS reason, to RouterOutput.drop):
// 1. Layer 2 (bridge interfaces): a frame that reached the router only as a flooded copy of someone else's
//    unicast is ignored; a group-addressed frame is only looked at for the router's own business (ARP,
//    NDP, echo to all-nodes) and never forwarded (RFC 1812 5.3.4). Tagged frames are dropped.
// 2. Header checks (RFC 1812 5.2.2; RFC 8200): version, lengths, IPv4 header checksum.
// 3. To the router itself: echo requests are answered, UDP gets Port Unreachable, NDP/ARP feed the
//    neighbor cache (arp.ts, ndp.ts); everything else is dropped as `unsupported` (no fragment reassembly).
// 4. Not to be forwarded: multicast and broadcast destinations, link-local scope; martian sources and
//    destinations (RFC 1812 5.3.7, RFC 6890; IPv6 loopback, multicast source, unspecified).
// 5. Forwarding (forwarder.ts): route lookup (longest prefix), TTL / hop limit, egress MTU (a GSO frame by
//    its segment length); then TTL decrement with an incremental checksum update (RFC 1624), next-hop MAC
//    from the neighbor cache (packets wait in a bounded queue while ARP/NDP resolves), and out.
// ICMP errors follow icmp-errors.ts (never about an ICMP error, a non-first fragment, a packet from a
// broadcast/multicast/unspecified/own source, or one that came as a link-layer broadcast; one token
// bucket). A received GSO frame is routed whole: TTL and checksum are fixed on its one header and the
// kernel cuts the segments from it later. Time is what the data plane passes in (`now`) and the timer
// wheel it advances: the neighbor timers and the RAs (ra.ts) hang off that wheel.
import { TwError } from '../errors.js';
import type { Cidr } from '../wire/cidr.js';
import { ETH, ETHERTYPE, etherTypeAt, isGroupMacAt, isVlanTpid, macAt } from '../wire/ethernet.js';
import { ICMP4, UNREACH, echoReply4 } from '../wire/icmp.js';
import { ICMP6, echoReply6 } from '../wire/icmpv6.js';
import {
  IP_PROTO,
  formatIpv4,
  ipv4Check,
  ipv4Dst,
  ipv4FragOffset,
  ipv4MoreFragments,
  ipv4Src,
  ipv4TotalLen,
  isLimitedBroadcast4,
  isMartianDestination4,
  isMartianSource4,
  isMulticast4,
} from '../wire/ipv4.js';
import { IPV6, ipv6Check, ipv6PayloadLen, isLinkLocal6, isMartianDestination6, isMartianSource6, isMulticast6, isUnspecified6 } from '../wire/ipv6.js';
import { VNET_HDR_LEN } from '../wire/virtio-net.js';
import type { TimerWheel } from '../time/timer-wheel.js';
import { Arp } from './arp.js';
import { Forwarder, type Pending } from './forwarder.js';
import { IcmpErrors } from './icmp-errors.js';
import { RouterInterfaces, makeIface, type Iface, type RouterInterfaceConfig } from './interfaces.js';
import { Ndp } from './ndp.js';
import { NeighborCache, type NeighborOptions } from './neighbors.js';
import { FRAME_SLOT, LinkOutput, type RouterOutput } from './output.js';
import { RouterAdvertiser } from './ra.js';
import { type Route, Routes, addressText, routeText } from './routes.js';
import { R, RI, type RouterDropReason } from './stats.js';

export type { RouterInterfaceConfig, RouterOutput };

/** RouteRow is a route as the API shows it. */
export interface RouteRow {
  prefix: string;
  via?: string;
  interface: string;
  kind: 'connected' | 'static';
}

/**
 * RouterOptions tune the router; `counters` is the router block of the shared counters, from slot `base`,
 * where the router keeps its activity counters and gauges (its drops go to RouterOutput.drop); `timers` is
 * the data plane's timer wheel, which its owner advances: the neighbor timers and the RAs hang off it.
 */
export interface RouterOptions {
  counters: Float64Array;
  base: number;
  timers: TimerWheel;
  /** icmpRatePerSec and icmpBurst size the token bucket of ICMP errors (default 1000/s, burst 50, as Linux). */
  icmpRatePerSec?: number;
  icmpBurst?: number;
  neighbor?: NeighborOptions;
  /** random returns a number in [0, 1), for RA intervals (injected for tests). */
  random?: () => number;
}

/** Router is the layer-3 forwarder; see the comment at the top of this file. */
export class Router {
  readonly routes = new Routes();
  readonly neighbors: NeighborCache<Pending>;
  private readonly ifaces = new RouterInterfaces();
  private readonly link: LinkOutput;
  private readonly forwarder: Forwarder;
  private readonly icmp: IcmpErrors;
  private readonly arp: Arp<Pending>;
  private readonly ndp: Ndp<Pending>;
  private readonly ra: RouterAdvertiser;
  private readonly c: Float64Array;
  private readonly base: number;
  /** copy holds a frame the bridge also floods elsewhere, so that rewriting it in place harms no other port. */
  private readonly copy = new Uint8Array(FRAME_SLOT);
  /** ethSrc is the source MAC of the frame being handled (0 on TUN), where an NS without a source option is answered. */
  private ethSrc = 0;

  constructor(out: RouterOutput, options: RouterOptions) {
    const c = (this.c = options.counters);
    const base = (this.base = options.base);
    const link = (this.link = new LinkOutput(out));
    this.neighbors = new NeighborCache<Pending>(
      {
        solicit: (iface, family, addr, unicastMac) => this.solicit(iface, family, addr, unicastMac),
        release: (iface, mac, p) => this.forwarder.release(iface, mac, p),
        unreachable: (_iface, p, now) => this.forwarder.unresolved(p, now),
        drop: (_iface, _p, reason) => link.drop(reason === 'flushed' ? 'interface_down' : 'neighbor_queue_full'),
        sizeChanged: (size) => {
          c[base + R.neighborEntries] = size;
        },
      },
      options.timers,
      options.neighbor,
    );
    const rate = { ratePerSec: options.icmpRatePerSec ?? 1000, burst: options.icmpBurst ?? 50 };
    const send = {
      sendLocal4: (pkt: Uint8Array, now: number) => this.forwarder.sendLocal4(pkt, now),
      sendLocal6: (pkt: Uint8Array, scope: Iface, now: number) => this.forwarder.sendLocal6(pkt, scope, now),
    };
    this.icmp = new IcmpErrors(this.ifaces, send, rate, c, base);
    this.forwarder = new Forwarder(this.ifaces, this.routes, this.neighbors, link, this.icmp, c, base);
    this.arp = new Arp(this.ifaces, this.neighbors, link, c, base);
    this.ra = new RouterAdvertiser(options.timers, link, options.random ?? Math.random, c, base);
    this.ndp = new Ndp(this.ifaces, this.neighbors, link, this.ra, c, base);
  }

  // ---- configuration --------------------------------------------------------------------------------

  /** addInterface adds interface `id` (the data plane's port slot) with its addresses and connected routes. */
  addInterface(id: number, cfg: RouterInterfaceConfig, now: number): void {
    if (this.ifaces.get(id) !== undefined) throw new TwError('TW_ERR_EXISTS', `router interface ${id} exists`);
    for (const a of cfg.addresses) {
      if (this.isOwn(a.family, a.address)) throw new TwError('TW_ERR_EXISTS', `${a.text.split('/')[0]} is already a router address`);
    }
    const added: Cidr[] = [];
    try {
      for (const a of cfg.addresses) {
        this.routes.addConnected(id, a.family, a.address, a.prefixLength);
        added.push(a);
      }
    } catch (e) {
      for (const a of added) this.routes.removeConnected(id, a.family, a.address, a.prefixLength);
      throw e;
    }
    const ifc = makeIface(id, cfg);
    this.ifaces.add(ifc);
    this.ra.start(ifc, now);
    this.publishGauges();
    if (ifc.kind === 'bridge') this.arp.announce(ifc);
  }

  /** removeInterface removes interface `id`; it throws TW_ERR_IN_USE while static routes go out of it. */
  removeInterface(id: number): void {
    const ifc = this.ifaces.get(id);
    if (ifc === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no router interface ${id}`);
    this.routes.removeInterface(id, ifc.name);
    this.neighbors.flushInterface(id);
    this.ra.stop(id);
    this.ifaces.remove(id);
    this.publishGauges();
  }

  /** interfaceName returns the name of interface `id`. */
  interfaceName(id: number): string {
    return this.ifaces.nameOf(id);
  }

  /** interfaceId finds an interface by name, or -1. */
  interfaceId(name: string): number {
    return this.ifaces.idOf(name);
  }

  /** linkLocal returns the IPv6 link-local address of a bridge interface. */
  linkLocal(id: number): Uint8Array | undefined {
    return this.ifaces.get(id)?.linkLocal;
  }

  /** addRoute adds a static route. */
  addRoute(req: { family: 4 | 6; prefix: Uint8Array; prefixLength: number; via?: Uint8Array; iface?: number }): Route {
    const r = this.routes.addStatic(
      req,
      (f, a) => this.isOwn(f, a),
      (id) => this.interfaceName(id),
    );
    this.publishGauges();
    return r;
  }

  /** removeRoute removes the static route of exactly prefix/len. */
  removeRoute(family: 4 | 6, prefix: Uint8Array, prefixLength: number): void {
    this.routes.removeStatic(family, prefix, prefixLength);
    this.publishGauges();
  }

  /** listRoutes describes every route. */
  listRoutes(): RouteRow[] {
    return this.routes.all().map((r) => this.describeRoute(r));
  }

  /** describeRoute gives a route as the API shows it. */
  describeRoute(r: Route): RouteRow {
    const row: RouteRow = { prefix: routeText(r), interface: this.interfaceName(r.iface), kind: r.kind };
    if (r.via4 >= 0) row.via = formatIpv4(r.via4);
    if (r.via6 !== undefined) row.via = addressText(6, r.via6);
    return row;
  }

  /** isOwn tells whether `addr` is one of the router's addresses. */
  isOwn(family: 4 | 6, addr: Uint8Array): boolean {
    return this.ifaces.isOwn(family, addr);
  }

  // ---- receive --------------------------------------------------------------------------------------

  /**
   * receive handles one frame that reached interface `id`: `len` bytes at buf[off], the virtio-net header
   * first. `segmentLen` is the IP length of a GSO frame's segments (0 for a plain frame). `exclusive` is
   * false when the same bytes also go to other ports (a flood): the router then works on a copy.
   */
  receive(id: number, buf: Uint8Array, off: number, len: number, segmentLen: number, exclusive: boolean, now: number): void {
    const ifc = this.ifaces.get(id);
    if (ifc === undefined) return;
    try {
      this.handle(ifc, buf, off, len, segmentLen, exclusive, now);
    } catch {
      // A builder refused what the checks let through (e.g. IPv4 options too broken to fragment): the
      // packet is dropped and counted, the data plane goes on.
      this.drop('malformed');
    }
  }

  private handle(ifc: Iface, buf: Uint8Array, off: number, len: number, segmentLen: number, exclusive: boolean, now: number): void {
    if (ifc.kind === 'tun') {
      this.ethSrc = 0;
      const ip = off + VNET_HDR_LEN;
      if (len - VNET_HDR_LEN < 1) return this.drop('ip_short');
      const version = buf[ip]! >>> 4;
      if (version === 4) this.ipv4(ifc, buf, off, ip, len - VNET_HDR_LEN, segmentLen, false, now);
      else if (version === 6) this.ipv6(ifc, buf, off, ip, len - VNET_HDR_LEN, segmentLen, false, now);
      else this.drop('ip_version');
      return;
    }
    const eth = off + VNET_HDR_LEN;
    const group = isGroupMacAt(buf, eth + ETH.DST);
    if (!group && macAt(buf, eth + ETH.DST) !== ifc.mac) return; // a flooded copy of another host's unicast
    const type = etherTypeAt(buf, eth);
    if (isVlanTpid(type)) return this.drop('vlan_tagged');
    if (type !== ETHERTYPE.IPV4 && type !== ETHERTYPE.IPV6 && type !== ETHERTYPE.ARP) return;
    if (!group && !exclusive) {
      this.copy.set(buf.subarray(off, off + len));
      buf = this.copy;
      off = 0;
    }
    this.ethSrc = macAt(buf, off + VNET_HDR_LEN + ETH.SRC);
    const l3 = off + VNET_HDR_LEN + ETH.HEADER_LEN;
    const avail = len - VNET_HDR_LEN - ETH.HEADER_LEN;
    if (type === ETHERTYPE.ARP) return this.arp.receive(ifc, buf, l3, avail, now);
    if (avail < 1) return this.drop('ip_short');
    const version = buf[l3]! >>> 4;
    if (type === ETHERTYPE.IPV4 && version === 4) return this.ipv4(ifc, buf, off, l3, avail, segmentLen, group, now);
    if (type === ETHERTYPE.IPV6 && version === 6) return this.ipv6(ifc, buf, off, l3, avail, segmentLen, group, now);
    this.drop('ip_version');
  }

  private ipv4(ifc: Iface, buf: Uint8Array, vnet: number, ip: number, avail: number, segmentLen: number, linkGroup: boolean, now: number): void {
    const fault = ipv4Check(buf, ip, avail);
    if (fault !== null) return this.drop(fault);
    const total = ipv4TotalLen(buf, ip);
    const src = ipv4Src(buf, ip);
    const dst = ipv4Dst(buf, ip);
    const own = this.ifaces;
    if (own.isOwn4(dst)) return this.local4(ifc, buf, ip, total, src, dst, linkGroup, now);
    if (isLimitedBroadcast4(dst) || isMulticast4(dst) || own.isDirectedBroadcast4(dst)) {
      if (!linkGroup) this.drop('not_forwarded');
      return; // a broadcast or multicast the router is not a member of: nothing to do
    }
    if (linkGroup) return this.drop('not_forwarded');
    if (isMartianSource4(src) || own.isOwn4(src)) return this.drop('martian_source');
    if (isMartianDestination4(dst)) return this.drop('martian_destination');
    this.forwarder.forward4(ifc, buf, vnet, ip, total, dst, segmentLen, now);
  }

  private ipv6(ifc: Iface, buf: Uint8Array, vnet: number, ip: number, avail: number, segmentLen: number, linkGroup: boolean, now: number): void {
    const fault = ipv6Check(buf, ip, avail);
    if (fault !== null) return this.drop(fault);
    const total = IPV6.HEADER_LEN + ipv6PayloadLen(buf, ip);
    const dst = ip + 24;
    const src = ip + 8;
    const own = this.ifaces;
    if (isMulticast6(buf, dst)) {
      if (own.isOurGroup6(ifc, buf, dst)) return this.local6(ifc, buf, ip, total, true, now);
      if (!linkGroup) this.drop('not_forwarded');
      return;
    }
    if (own.ownIface6(buf, dst) !== undefined) return this.local6(ifc, buf, ip, total, linkGroup, now);
    if (linkGroup) return this.drop('not_forwarded');
    if (isMartianSource6(buf, src) || isUnspecified6(buf, src) || own.ownIface6(buf, src) !== undefined) return this.drop('martian_source');
    if (isMartianDestination6(buf, dst)) return this.drop('martian_destination');
    if (isLinkLocal6(buf, dst)) return this.drop('not_forwarded');
    this.forwarder.forward6(ifc, buf, vnet, ip, total, segmentLen, now);
  }

  // ---- the router's own business --------------------------------------------------------------------

  private local4(ifc: Iface, buf: Uint8Array, ip: number, total: number, src: number, dst: number, linkGroup: boolean, now: number): void {
    if (isMartianSource4(src) || this.ifaces.isOwn4(src)) return this.drop('martian_source');
    if (ipv4FragOffset(buf, ip) > 0 || ipv4MoreFragments(buf, ip)) return this.drop('unsupported'); // no reassembly
    const proto = buf[ip + 9]!;
    if (proto === IP_PROTO.ICMP) {
      const ihl = (buf[ip]! & 0x0f) * 4;
      if (total > ihl && buf[ip + ihl] === ICMP4.ECHO_REQUEST) {
        const reply = echoReply4(buf.subarray(ip, ip + total), dst);
        if (reply === null) return this.drop('unsupported');
        this.c[this.base + R.delivered4]!++;
        this.c[this.base + RI['4/echo_reply']]!++;
        return this.forwarder.sendLocal4(reply, now);
      }
      this.c[this.base + R.delivered4]!++; // other ICMP to the router (errors about its own packets): consumed
      return;
    }
    if (proto === IP_PROTO.UDP && !linkGroup) this.icmp.error4(ifc, buf, ip, total, ICMP4.DEST_UNREACH, UNREACH.PORT, 0, '4/port_unreachable', now);
    this.drop('unsupported');
  }

  private local6(ifc: Iface, buf: Uint8Array, ip: number, total: number, linkGroup: boolean, now: number): void {
    const src = ip + 8;
    if (isMartianSource6(buf, src)) return this.drop('martian_source');
    const next = buf[ip + 6]!;
    if (next === IP_PROTO.ICMPV6 && total >= 44) {
      const type = buf[ip + 40]!;
      if (type >= ICMP6.RS && type <= ICMP6.REDIRECT) return this.ndp.receive(ifc, buf, ip, total, this.ethSrc, now);
      if (type === ICMP6.ECHO_REQUEST) {
        const toGroupOrLink = isMulticast6(buf, ip + 24) || isLinkLocal6(buf, ip + 24);
        const from = toGroupOrLink ? (isLinkLocal6(buf, src) ? ifc.linkLocal : this.ifaces.source6(ifc, buf, src)) : buf.slice(ip + 24, ip + 40);
        if (from === undefined) return this.drop('unsupported');
        const reply = echoReply6(buf.subarray(ip, ip + total), from);
        if (reply === null) return this.drop('unsupported');
        this.c[this.base + R.delivered6]!++;
        this.c[this.base + RI['6/echo_reply']]!++;
        return this.forwarder.sendLocal6(reply, ifc, now);
      }
      this.c[this.base + R.delivered6]!++;
      return;
    }
    if (next === IP_PROTO.UDP && !linkGroup) this.icmp.error6(ifc, buf, ip, total, ICMP6.DEST_UNREACH, 4, 0, '6/port_unreachable', now);
    this.drop('unsupported');
  }

  /** solicit sends the ARP request or Neighbor Solicitation the neighbor cache asks for. */
  private solicit(iface: number, family: 4 | 6, addr: number | Uint8Array, unicastMac: number): void {
    const ifc = this.ifaces.get(iface);
    if (ifc === undefined || ifc.kind !== 'bridge') return;
    if (family === 4) this.arp.request(ifc, addr as number, unicastMac);
    else this.ndp.solicit(ifc, addr as Uint8Array, unicastMac);
  }

  private publishGauges(): void {
    this.c[this.base + R.routes4] = this.routes.size4;
    this.c[this.base + R.routes6] = this.routes.size6;
    this.c[this.base + R.neighborEntries] = this.neighbors.size;
  }

  private drop(reason: RouterDropReason): void {
    this.link.drop(reason);
  }
}
