// Router: tapwire's IPv4/IPv6 router, by the rules of RFC 1812 (IPv4) and RFC 8200/4443/4861 (IPv6).
// It has interfaces on bridges (it owns a port there, with its own MAC, answers ARP/NDP and sends RAs) and
// on TUN links (bare IP packets). Packets arrive one at a time from the data plane with their virtio-net
// header; the router decides, rewrites in place where it can, and hands frames back through RouterOutput.
//
// Per packet, in order (each discard counted under one ROUTER_DROP_REASONS reason):
// 1. Layer 2 (bridge interfaces): a frame that reached the router only as a flooded copy of someone else's
//    unicast is ignored; a group-addressed frame is only looked at for the router's own business (ARP,
//    NDP, echo to all-nodes) and never forwarded (RFC 1812 5.3.4). Tagged frames are dropped.
// 2. Header checks (RFC 1812 5.2.2; RFC 8200): version, lengths, IPv4 header checksum.
// 3. To the router itself: echo requests are answered, UDP gets Port Unreachable, NDP/ARP feed the
//    neighbor cache; everything else is dropped as `unsupported` (no fragment reassembly).
// 4. Not to be forwarded: multicast and broadcast destinations, link-local scope; martian sources and
//    destinations (RFC 1812 5.3.7, RFC 6890; IPv6 loopback, multicast source, unspecified).
// 5. Route lookup (longest prefix), TTL / hop limit, egress MTU (a GSO frame by its segment length); then
//    TTL decrement with an incremental checksum update (RFC 1624), next-hop MAC from the neighbor cache
//    (packets wait in a bounded queue while ARP/NDP resolves), and out.
// ICMP errors (Time Exceeded, Destination Unreachable, Fragmentation Needed / Packet Too Big) are never
// sent about an ICMP error, a non-first fragment, a packet from a broadcast/multicast/unspecified/own
// source, or one that came as a link-layer broadcast (RFC 1812 4.3.2.7, RFC 4443 2.4e), and they draw on
// one token bucket. A received GSO frame is routed whole: TTL and checksum are fixed on its one header and
// the kernel cuts the segments from it later.
import { TwError } from '../errors.js';
import { put16, put16le, u16, u16le, u32 } from '../wire/bytes.js';
import { Cidr } from '../wire/cidr.js';
import { ETH, ETHERTYPE, BROADCAST, etherTypeAt, isGroupMacAt, isVlanTpid, macAt, writeMac } from '../wire/ethernet.js';
import { VNET, VNET_FLAG, VNET_HDR_LEN } from '../wire/virtio-net.js';
import { sum16, foldChecksum } from '../wire/checksum.js';
import {
  IP_PROTO,
  decrementTtl4,
  formatIpv4,
  fragmentIpv4,
  ipv4Check,
  ipv4DontFragment,
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
import { ALL_NODES6, ALL_ROUTERS6, IPV6, ipv6Check, ipv6PayloadLen, ipv6Equal, isLinkLocal6, isMartianDestination6, isMartianSource6, isMulticast6, isUnspecified6, linkLocalFromMac, multicastMac6, solicitedNodeAddress } from '../wire/ipv6.js';
import { ICMP4, UNREACH, echoReply4, icmp4Error, isIcmp4Error } from '../wire/icmp.js';
import { ICMP6, echoReply6, emitNa, emitRa, emitNs, icmp6Error, isIcmp6Error, parseNdp } from '../wire/icmpv6.js';
import { ARP_OP, emitArp, parseArp } from '../wire/arp.js';
import type { TimerHandle, TimerWheel } from '../time/timer-wheel.js';
import { NeighborCache, NeighborOptions } from './neighbors.js';
import { Route, Routes, addressText, inPrefix, maskPrefix, routeText } from './routes.js';
import { IcmpSent, R, RI, RouterDropReason } from './stats.js';

/** RouterOutput is how the router sends: the data plane implements it. */
export interface RouterOutput {
  /**
   * transmit sends `len` bytes at buf[off]: a virtio-net header, then an Ethernet frame (bridge interface)
   * or an IP packet (TUN interface), out of router interface `iface`. `segmentLen` is the IP length of
   * the segments of a GSO frame (0 otherwise). When `buf` is the receive arena the data plane may queue the
   * write and send it after the batch; any other buffer is written before transmit returns.
   */
  transmit(iface: number, buf: Uint8Array, off: number, len: number, segmentLen: number): void;
  /** drop reports one packet the router discards; the data plane counts it (one place counts). */
  drop(reason: RouterDropReason): void;
}

/** RouteRow is a route as the API shows it. */
export interface RouteRow {
  prefix: string;
  via?: string;
  interface: string;
  kind: 'connected' | 'static';
}

/** RouterInterfaceConfig describes an interface to addInterface. */
export interface RouterInterfaceConfig {
  name: string;
  kind: 'bridge' | 'tun';
  /** mac is the router's MAC on a bridge (ignored on TUN). */
  mac: number;
  mtu: number;
  addresses: Cidr[];
  routerAdvertisements: boolean;
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

interface V4Address {
  addr: number;
  prefixLength: number;
  bytes: Uint8Array;
}

interface V6Address {
  addr: Uint8Array;
  prefixLength: number;
}

interface Iface {
  readonly id: number;
  readonly name: string;
  readonly kind: 'bridge' | 'tun';
  readonly mac: number;
  readonly mtu: number;
  readonly v4: V4Address[];
  readonly v6: V6Address[];
  readonly linkLocal: Uint8Array | undefined;
  readonly ra: boolean;
  readonly cidrs: Cidr[];
  nextRa: number;
  rasSent: number;
  lastRa: number;
  /** raTimer is the timer of the next RA (interfaces that send them). */
  raTimer: TimerHandle | null;
}

/** Pending is a packet waiting for its next hop: its vnet header (offsets relative to the IP header), then the packet. */
interface Pending {
  readonly family: 4 | 6;
  readonly data: Uint8Array;
  readonly segmentLen: number;
  readonly ingress: number;
}

/** RA timing (RFC 4861 6.2.1 / 10, shortened for labs): 3 initial RAs 4 s apart, then every 20-60 s. */
const RA = { initialCount: 3, initialMs: 4000, minMs: 20_000, maxMs: 60_000, minGapMs: 3000, routerLifetime: 1800, validLifetime: 86400, preferredLifetime: 14400 } as const;

const ALL_NODES = ALL_NODES6;
const ALL_ROUTERS = ALL_ROUTERS6;
const SLOT = 66048;

/** Router is the layer-3 forwarder; see the comment at the top of this file. */
export class Router {
  readonly routes = new Routes();
  readonly neighbors: NeighborCache<Pending>;
  private readonly ifaces: (Iface | undefined)[] = [];
  private readonly own4 = new Map<number, number>();
  private readonly directedBroadcast4 = new Set<number>();
  private readonly c: Float64Array;
  private readonly base: number;
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private tokensAt = 0;
  private readonly random: () => number;
  private readonly timers: TimerWheel;
  /** scratch builds frames; local holds locally made packets behind a zero vnet header; copy holds a shared frame. */
  private readonly scratch = new Uint8Array(SLOT);
  private readonly local = new Uint8Array(SLOT);
  private readonly copy = new Uint8Array(SLOT);
  /** ethSrc is the source MAC of the frame being handled (0 on TUN). */
  private ethSrc = 0;
  private now = 0;

  constructor(
    private readonly out: RouterOutput,
    options: RouterOptions,
  ) {
    this.c = options.counters;
    this.base = options.base;
    this.rate = options.icmpRatePerSec ?? 1000;
    this.burst = options.icmpBurst ?? 50;
    this.tokens = this.burst;
    this.random = options.random ?? Math.random;
    this.timers = options.timers;
    this.neighbors = new NeighborCache<Pending>(
      {
        solicit: (iface, family, addr, unicastMac) => this.solicit(iface, family, addr, unicastMac),
        release: (iface, mac, p) => this.release(iface, mac, p),
        unreachable: (_iface, p, now) => {
          this.now = now;
          this.unresolved(p);
        },
        drop: (_iface, _p, reason) => this.drop(reason === 'flushed' ? 'interface_down' : 'neighbor_queue_full'),
        sizeChanged: (size) => {
          this.c[this.base + R.neighborEntries] = size;
        },
      },
      this.timers,
      options.neighbor,
    );
  }

  // ---- configuration --------------------------------------------------------------------------------

  /** addInterface adds interface `id` (the data plane's port slot) with its addresses and connected routes. */
  addInterface(id: number, cfg: RouterInterfaceConfig, now: number): void {
    if (this.ifaces[id] !== undefined) throw new TwError('TW_ERR_EXISTS', `router interface ${id} exists`);
    for (const a of cfg.addresses) {
      if (this.isOwn(a.family, a.address)) throw new TwError('TW_ERR_EXISTS', `${a.text.split('/')[0]} is already a router address`);
    }
    const v4: V4Address[] = [];
    const v6: V6Address[] = [];
    const added: Cidr[] = [];
    try {
      for (const a of cfg.addresses) {
        this.routes.addConnected(id, a.family, a.address, a.prefixLength);
        added.push(a);
        if (a.family === 4) v4.push({ addr: u32(a.address, 0), prefixLength: a.prefixLength, bytes: Uint8Array.from(a.address) });
        else v6.push({ addr: Uint8Array.from(a.address), prefixLength: a.prefixLength });
      }
    } catch (e) {
      for (const a of added) this.routes.removeConnected(id, a.family, a.address, a.prefixLength);
      throw e;
    }
    const ifc: Iface = {
      id,
      name: cfg.name,
      kind: cfg.kind,
      mac: cfg.kind === 'bridge' ? cfg.mac : 0,
      mtu: cfg.mtu,
      v4,
      v6,
      linkLocal: cfg.kind === 'bridge' ? linkLocalFromMac(cfg.mac) : undefined,
      ra: cfg.kind === 'bridge' && cfg.routerAdvertisements && v6.length > 0,
      cidrs: cfg.addresses,
      nextRa: now,
      rasSent: 0,
      lastRa: -Infinity,
      raTimer: null,
    };
    this.ifaces[id] = ifc;
    if (ifc.ra) this.armRa(ifc);
    this.rebuildOwn();
    this.publishGauges();
    // Gratuitous ARP (RFC 5227 announcement) so hosts that cached an old MAC for the address update it.
    if (ifc.kind === 'bridge') for (const a of ifc.v4) this.sendArp(ifc, ARP_OP.REQUEST, a.addr, BROADCAST, a.addr, BROADCAST);
    this.now = now;
  }

  /** removeInterface removes interface `id`; it throws TW_ERR_IN_USE while static routes go out of it. */
  removeInterface(id: number): void {
    const ifc = this.iface(id);
    this.routes.removeInterface(id, ifc.name);
    this.neighbors.flushInterface(id);
    if (ifc.raTimer !== null) this.timers.cancel(ifc.raTimer);
    this.ifaces[id] = undefined;
    this.rebuildOwn();
    this.publishGauges();
  }

  /** interfaceName returns the name of interface `id`. */
  interfaceName(id: number): string {
    return this.ifaces[id]?.name ?? `#${id}`;
  }

  /** interfaceId finds an interface by name, or -1. */
  interfaceId(name: string): number {
    return this.ifaces.findIndex((i) => i?.name === name);
  }

  /** linkLocal returns the IPv6 link-local address of a bridge interface. */
  linkLocal(id: number): Uint8Array | undefined {
    return this.ifaces[id]?.linkLocal;
  }

  /** addRoute adds a static route. */
  addRoute(req: { family: 4 | 6; prefix: Uint8Array; prefixLength: number; via?: Uint8Array; iface?: number }): Route {
    const r = this.routes.addStatic(req, (f, a) => this.isOwn(f, a), (id) => this.interfaceName(id));
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

  // ---- receive --------------------------------------------------------------------------------------

  /**
   * receive handles one frame that reached interface `id`: `len` bytes at buf[off], the virtio-net header
   * first. `segmentLen` is the IP length of a GSO frame's segments (0 for a plain frame). `exclusive` is
   * false when the same bytes also go to other ports (a flood): the router then works on a copy.
   */
  receive(id: number, buf: Uint8Array, off: number, len: number, segmentLen: number, exclusive: boolean, now: number): void {
    const ifc = this.ifaces[id];
    if (ifc === undefined) return;
    this.now = now;
    try {
      this.handle(ifc, buf, off, len, segmentLen, exclusive);
    } catch {
      // A builder refused what the checks let through (e.g. IPv4 options too broken to fragment): the
      // packet is dropped and counted, the data plane goes on.
      this.drop('malformed');
    }
  }

  private handle(ifc: Iface, buf: Uint8Array, off: number, len: number, segmentLen: number, exclusive: boolean): void {
    if (ifc.kind === 'tun') {
      this.ethSrc = 0;
      const ip = off + VNET_HDR_LEN;
      if (len - VNET_HDR_LEN < 1) return this.drop('ip_short');
      const version = buf[ip]! >>> 4;
      if (version === 4) this.ipv4(ifc, buf, off, ip, len - VNET_HDR_LEN, segmentLen, false);
      else if (version === 6) this.ipv6(ifc, buf, off, ip, len - VNET_HDR_LEN, segmentLen, false);
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
    if (type === ETHERTYPE.ARP) return this.arp(ifc, buf, l3, avail);
    if (avail < 1) return this.drop('ip_short');
    const version = buf[l3]! >>> 4;
    if (type === ETHERTYPE.IPV4 && version === 4) return this.ipv4(ifc, buf, off, l3, avail, segmentLen, group);
    if (type === ETHERTYPE.IPV6 && version === 6) return this.ipv6(ifc, buf, off, l3, avail, segmentLen, group);
    this.drop('ip_version');
  }

  private ipv4(ifc: Iface, buf: Uint8Array, vnet: number, ip: number, avail: number, segmentLen: number, linkGroup: boolean): void {
    const fault = ipv4Check(buf, ip, avail);
    if (fault !== null) return this.drop(fault);
    const total = ipv4TotalLen(buf, ip);
    const src = ipv4Src(buf, ip);
    const dst = ipv4Dst(buf, ip);
    if (this.own4.has(dst)) return this.local4(ifc, buf, ip, total, src, dst, linkGroup);
    if (isLimitedBroadcast4(dst) || isMulticast4(dst) || this.directedBroadcast4.has(dst)) {
      if (!linkGroup) this.drop('not_forwarded');
      return; // a broadcast or multicast the router is not a member of: nothing to do
    }
    if (linkGroup) return this.drop('not_forwarded');
    if (isMartianSource4(src) || this.own4.has(src)) return this.drop('martian_source');
    if (isMartianDestination4(dst)) return this.drop('martian_destination');
    const route = this.routes.lookup4(dst);
    if (route === undefined) {
      this.icmp4(ifc, buf, ip, total, ICMP4.DEST_UNREACH, UNREACH.NET, 0, '4/net_unreachable');
      return this.drop('no_route');
    }
    if (buf[ip + 8]! <= 1) {
      this.icmp4(ifc, buf, ip, total, ICMP4.TIME_EXCEEDED, 0, 0, '4/time_exceeded');
      return this.drop('ttl_expired');
    }
    const out = this.ifaces[route.iface];
    if (out === undefined) return this.drop('interface_down');
    const nh = route.via4 >= 0 ? route.via4 : dst;
    if (segmentLen > 0 ? segmentLen > out.mtu : total > out.mtu) {
      if (segmentLen > 0 || ipv4DontFragment(buf, ip)) {
        this.icmp4(ifc, buf, ip, total, ICMP4.DEST_UNREACH, UNREACH.FRAG_NEEDED, out.mtu & 0xffff, '4/frag_needed');
        return this.drop('too_big');
      }
      finishChecksum(buf, vnet, ip - vnet - VNET_HDR_LEN);
      decrementTtl4(buf, ip);
      this.c[this.base + R.forwarded4]!++;
      for (const f of fragmentIpv4(buf.subarray(ip, ip + total), out.mtu)) {
        this.c[this.base + R.fragmentsCreated]!++;
        this.local.fill(0, 0, VNET_HDR_LEN);
        this.local.set(f, VNET_HDR_LEN);
        this.output4(out, nh, this.local, 0, VNET_HDR_LEN, f.length, 0, ifc.id);
      }
      return;
    }
    decrementTtl4(buf, ip);
    this.c[this.base + R.forwarded4]!++;
    this.output4(out, nh, buf, vnet, ip, total, segmentLen, ifc.id);
  }

  private ipv6(ifc: Iface, buf: Uint8Array, vnet: number, ip: number, avail: number, segmentLen: number, linkGroup: boolean): void {
    const fault = ipv6Check(buf, ip, avail);
    if (fault !== null) return this.drop(fault);
    const total = IPV6.HEADER_LEN + ipv6PayloadLen(buf, ip);
    const dst = ip + 24;
    const src = ip + 8;
    if (isMulticast6(buf, dst)) {
      if (this.isOurGroup6(ifc, buf, dst)) return this.local6(ifc, buf, ip, total, true);
      if (!linkGroup) this.drop('not_forwarded');
      return;
    }
    if (this.ownIface6(buf, dst) !== undefined) return this.local6(ifc, buf, ip, total, linkGroup);
    if (linkGroup) return this.drop('not_forwarded');
    if (isMartianSource6(buf, src) || isUnspecified6(buf, src) || this.ownIface6(buf, src) !== undefined) return this.drop('martian_source');
    if (isMartianDestination6(buf, dst)) return this.drop('martian_destination');
    if (isLinkLocal6(buf, dst)) return this.drop('not_forwarded');
    const route = this.routes.lookup6(buf, dst);
    if (route === undefined) {
      this.icmp6(ifc, buf, ip, total, ICMP6.DEST_UNREACH, 0, 0, '6/no_route');
      return this.drop('no_route');
    }
    if (isLinkLocal6(buf, src)) {
      this.icmp6(ifc, buf, ip, total, ICMP6.DEST_UNREACH, 2, 0, '6/beyond_scope');
      return this.drop('not_forwarded');
    }
    if (buf[ip + 7]! <= 1) {
      this.icmp6(ifc, buf, ip, total, ICMP6.TIME_EXCEEDED, 0, 0, '6/time_exceeded');
      return this.drop('ttl_expired');
    }
    const out = this.ifaces[route.iface];
    if (out === undefined) return this.drop('interface_down');
    if (segmentLen > 0 ? segmentLen > out.mtu : total > out.mtu) {
      this.icmp6(ifc, buf, ip, total, ICMP6.PACKET_TOO_BIG, 0, out.mtu, '6/packet_too_big');
      return this.drop('too_big');
    }
    buf[ip + 7]!--;
    this.c[this.base + R.forwarded6]!++;
    if (route.via6 !== undefined) this.output6(out, route.via6, 0, buf, vnet, ip, total, segmentLen, ifc.id);
    else this.output6(out, buf, dst, buf, vnet, ip, total, segmentLen, ifc.id);
  }

  // ---- the router's own business --------------------------------------------------------------------

  private local4(ifc: Iface, buf: Uint8Array, ip: number, total: number, src: number, dst: number, linkGroup: boolean): void {
    if (isMartianSource4(src) || this.own4.has(src)) return this.drop('martian_source');
    if (ipv4FragOffset(buf, ip) > 0 || ipv4MoreFragments(buf, ip)) return this.drop('unsupported'); // no reassembly
    const proto = buf[ip + 9]!;
    if (proto === IP_PROTO.ICMP) {
      const ihl = (buf[ip]! & 0x0f) * 4;
      if (total > ihl && buf[ip + ihl] === ICMP4.ECHO_REQUEST) {
        const reply = echoReply4(buf.subarray(ip, ip + total), dst);
        if (reply === null) return this.drop('unsupported');
        this.c[this.base + R.delivered4]!++;
        this.c[this.base + RI['4/echo_reply']]!++;
        return this.sendLocal4(reply);
      }
      this.c[this.base + R.delivered4]!++; // other ICMP to the router (errors about its own packets): consumed
      return;
    }
    if (proto === IP_PROTO.UDP && !linkGroup) this.icmp4(ifc, buf, ip, total, ICMP4.DEST_UNREACH, UNREACH.PORT, 0, '4/port_unreachable');
    this.drop('unsupported');
  }

  private local6(ifc: Iface, buf: Uint8Array, ip: number, total: number, linkGroup: boolean): void {
    const src = ip + 8;
    if (isMartianSource6(buf, src)) return this.drop('martian_source');
    const next = buf[ip + 6]!;
    if (next === IP_PROTO.ICMPV6 && total >= 44) {
      const type = buf[ip + 40]!;
      if (type >= ICMP6.RS && type <= ICMP6.REDIRECT) return this.ndp(ifc, buf, ip, total);
      if (type === ICMP6.ECHO_REQUEST) {
        const from = isMulticast6(buf, ip + 24) || isLinkLocal6(buf, ip + 24) ? (isLinkLocal6(buf, src) ? ifc.linkLocal : this.source6(ifc, buf, src)) : buf.slice(ip + 24, ip + 40);
        if (from === undefined) return this.drop('unsupported');
        const reply = echoReply6(buf.subarray(ip, ip + total), from);
        if (reply === null) return this.drop('unsupported');
        this.c[this.base + R.delivered6]!++;
        this.c[this.base + RI['6/echo_reply']]!++;
        return this.sendLocal6(reply, ifc);
      }
      this.c[this.base + R.delivered6]!++;
      return;
    }
    if (next === IP_PROTO.UDP && !linkGroup) this.icmp6(ifc, buf, ip, total, ICMP6.DEST_UNREACH, 4, 0, '6/port_unreachable');
    this.drop('unsupported');
  }

  private arp(ifc: Iface, buf: Uint8Array, off: number, avail: number): void {
    this.c[this.base + R.arpReceived]!++;
    const a = parseArp(buf, off, avail);
    if (a === null) return this.drop('bad_arp');
    const ours = ifc.v4.some((x) => x.addr === a.targetIp);
    if (a.senderIp !== 0 && !this.own4.has(a.senderIp) && this.onLink4(ifc, a.senderIp)) {
      this.neighbors.learn4(ifc.id, a.senderIp, a.senderMac, this.now, { solicited: a.op === ARP_OP.REPLY && ours, override: true, create: ours });
    }
    if (a.op === ARP_OP.REQUEST && ours && a.senderIp !== a.targetIp) {
      this.sendArp(ifc, ARP_OP.REPLY, a.targetIp, a.senderMac, a.senderIp, a.senderMac);
    }
  }

  private ndp(ifc: Iface, buf: Uint8Array, ip: number, total: number): void {
    if (ifc.kind !== 'bridge') return;
    this.c[this.base + R.ndpReceived]!++;
    const m = parseNdp(buf, ip, total);
    if (m === null) return this.drop('bad_ndp');
    const src = buf.subarray(ip + 8, ip + 24);
    const now = this.now;
    switch (m.type) {
      case 'ns': {
        if (!this.ownOn6(ifc, m.target)) return;
        if (isUnspecified6(src, 0)) {
          // Someone runs DAD on one of our addresses: defend it (RFC 4862 5.4.3).
          this.sendNdp(ifc, emitNa(m.target, ALL_NODES, m.target, ifc.mac, { router: true, solicited: false, override: true }), multicastMac6(ALL_NODES));
          return;
        }
        const mac = m.sourceMac ?? this.ethSrc;
        if (m.sourceMac !== undefined) this.neighbors.learn6(ifc.id, src, m.sourceMac, now, { solicited: false, override: true, create: true });
        this.sendNdp(ifc, emitNa(m.target, src, m.target, ifc.mac, { router: true, solicited: true, override: true }), mac);
        return;
      }
      case 'na':
        if (m.targetMac !== undefined) this.neighbors.learn6(ifc.id, m.target, m.targetMac, now, { solicited: m.solicited, override: m.override, create: false });
        return;
      case 'rs':
        if (m.sourceMac !== undefined && !isUnspecified6(src, 0)) this.neighbors.learn6(ifc.id, src, m.sourceMac, now, { solicited: false, override: true, create: true });
        if (!ifc.ra) return;
        ifc.nextRa = Math.min(ifc.nextRa, Math.max(now, ifc.lastRa + RA.minGapMs));
        if (now >= ifc.nextRa) this.sendRa(ifc, now);
        else if (ifc.raTimer === null || ifc.raTimer.at > ifc.nextRa) this.armRa(ifc);
        return;
      default:
        return; // RAs of other routers and redirects: the router does not listen to them
    }
  }

  // ---- output -----------------------------------------------------------------------------------------

  private output4(out: Iface, nh: number, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number, ingress: number): void {
    if (out.kind === 'tun') return this.toTun(out, buf, vnet, ip, len, segmentLen);
    let mac = this.neighbors.resolve4(out.id, nh, this.now);
    if (mac < 0) {
      mac = this.neighbors.resolve4(out.id, nh, this.now, this.pending(4, buf, vnet, ip, len, segmentLen, ingress));
      if (mac < 0) return;
    }
    this.toBridge(out, mac, ETHERTYPE.IPV4, buf, vnet, ip, len, segmentLen);
  }

  private output6(out: Iface, nhBuf: Uint8Array, nhOff: number, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number, ingress: number): void {
    if (out.kind === 'tun') return this.toTun(out, buf, vnet, ip, len, segmentLen);
    let mac: number;
    if (isMulticast6(nhBuf, nhOff)) mac = multicastMac6(nhBuf.subarray(nhOff, nhOff + 16));
    else {
      mac = this.neighbors.resolve6(out.id, nhBuf, nhOff, this.now);
      if (mac < 0) {
        mac = this.neighbors.resolve6(out.id, nhBuf, nhOff, this.now, this.pending(6, buf, vnet, ip, len, segmentLen, ingress));
        if (mac < 0) return;
      }
    }
    this.toBridge(out, mac, ETHERTYPE.IPV6, buf, vnet, ip, len, segmentLen);
  }

  private pending(family: 4 | 6, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number, ingress: number): Pending {
    const data = new Uint8Array(VNET_HDR_LEN + len);
    data.set(buf.subarray(vnet, vnet + VNET_HDR_LEN));
    shiftVnet(data, 0, -(ip - vnet - VNET_HDR_LEN));
    data.set(buf.subarray(ip, ip + len), VNET_HDR_LEN);
    return { family, data, segmentLen, ingress };
  }

  private release(iface: number, mac: number, p: Pending): void {
    const out = this.ifaces[iface];
    if (out === undefined) return this.drop('interface_down');
    this.toBridge(out, mac, p.family === 4 ? ETHERTYPE.IPV4 : ETHERTYPE.IPV6, p.data, 0, VNET_HDR_LEN, p.data.length - VNET_HDR_LEN, p.segmentLen);
  }

  private unresolved(p: Pending): void {
    this.drop('neighbor_unreachable');
    const ingress = this.ifaces[p.ingress];
    if (ingress === undefined) return;
    const ip = VNET_HDR_LEN;
    const len = p.data.length - ip;
    if (p.family === 4) this.icmp4(ingress, p.data, ip, len, ICMP4.DEST_UNREACH, UNREACH.HOST, 0, '4/host_unreachable');
    else this.icmp6(ingress, p.data, ip, len, ICMP6.DEST_UNREACH, 3, 0, '6/address_unreachable');
  }

  /** toBridge sends an IP packet out of a bridge interface to `mac`: in place when an Ethernet header is already in front of it. */
  private toBridge(out: Iface, mac: number, etherType: number, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number): void {
    const l2 = ip - vnet - VNET_HDR_LEN;
    let frame = buf;
    let at = vnet;
    if (l2 !== ETH.HEADER_LEN) {
      frame = this.scratch;
      at = 0;
      frame.set(buf.subarray(vnet, vnet + VNET_HDR_LEN), 0);
      shiftVnet(frame, 0, ETH.HEADER_LEN - l2);
      frame.set(buf.subarray(ip, ip + len), VNET_HDR_LEN + ETH.HEADER_LEN);
    }
    const eth = at + VNET_HDR_LEN;
    writeMac(mac, frame, eth + ETH.DST);
    writeMac(out.mac, frame, eth + ETH.SRC);
    put16(frame, eth + ETH.TYPE, etherType);
    this.out.transmit(out.id, frame, at, VNET_HDR_LEN + ETH.HEADER_LEN + len, segmentLen);
  }

  /** toTun sends an IP packet out of a TUN interface: the vnet header moves up to the IP header in place. */
  private toTun(out: Iface, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number): void {
    const l2 = ip - vnet - VNET_HDR_LEN;
    if (l2 > 0) {
      buf.copyWithin(ip - VNET_HDR_LEN, vnet, vnet + VNET_HDR_LEN);
      shiftVnet(buf, ip - VNET_HDR_LEN, -l2);
    }
    this.out.transmit(out.id, buf, ip - VNET_HDR_LEN, VNET_HDR_LEN + len, segmentLen);
  }

  /** sendLocal4 routes a packet the router made (in a fresh buffer) toward its destination. */
  private sendLocal4(pkt: Uint8Array): void {
    const dst = u32(pkt, 16);
    const route = this.routes.lookup4(dst);
    const out = route === undefined ? undefined : this.ifaces[route.iface];
    if (route === undefined || out === undefined) return this.drop('no_route');
    const nh = route.via4 >= 0 ? route.via4 : dst;
    const pieces = pkt.length > out.mtu ? (ipv4DontFragment(pkt, 0) ? [] : fragmentIpv4(pkt, out.mtu)) : [pkt];
    if (pieces.length === 0) return this.drop('too_big');
    for (const p of pieces) {
      this.local.fill(0, 0, VNET_HDR_LEN);
      this.local.set(p, VNET_HDR_LEN);
      this.output4(out, nh, this.local, 0, VNET_HDR_LEN, p.length, 0, out.id);
    }
  }

  /** sendLocal6 routes a packet the router made; link-scoped destinations go out of `scope`. */
  private sendLocal6(pkt: Uint8Array, scope: Iface): void {
    let out: Iface | undefined;
    let nhBuf: Uint8Array = this.local;
    let nhOff = VNET_HDR_LEN + 24;
    if (isLinkLocal6(pkt, 24) || isMulticast6(pkt, 24)) out = scope;
    else {
      const route = this.routes.lookup6(pkt, 24);
      out = route === undefined ? undefined : this.ifaces[route.iface];
      if (route?.via6 !== undefined) {
        nhBuf = route.via6;
        nhOff = 0;
      }
    }
    if (out === undefined) return this.drop('no_route');
    if (pkt.length > out.mtu) return this.drop('too_big');
    this.local.fill(0, 0, VNET_HDR_LEN);
    this.local.set(pkt, VNET_HDR_LEN);
    this.output6(out, nhBuf, nhOff, this.local, 0, VNET_HDR_LEN, pkt.length, 0, out.id);
  }

  // ---- ICMP errors --------------------------------------------------------------------------------------

  private icmp4(ifc: Iface, buf: Uint8Array, ip: number, len: number, type: number, code: number, rest: number, kind: IcmpSent): void {
    const src = ipv4Src(buf, ip);
    if (src === 0 || isMartianSource4(src) || isMulticast4(src) || this.directedBroadcast4.has(src) || this.own4.has(src)) return;
    if (ipv4FragOffset(buf, ip) > 0 || isIcmp4Error(buf, ip, len)) return;
    if (!this.takeToken()) return;
    const from = this.source4(ifc, src);
    if (from === undefined) return;
    this.c[this.base + RI[kind]]!++;
    this.sendLocal4(icmp4Error(type, code, rest, buf.subarray(ip, ip + len), from));
  }

  private icmp6(ifc: Iface, buf: Uint8Array, ip: number, len: number, type: number, code: number, param: number, kind: IcmpSent): void {
    const src = ip + 8;
    if (isUnspecified6(buf, src) || isMulticast6(buf, src) || this.ownIface6(buf, src) !== undefined) return;
    if (isIcmp6Error(buf, ip, len)) return;
    if (!this.takeToken()) return;
    const from = isLinkLocal6(buf, src) ? ifc.linkLocal : this.source6(ifc, buf, src);
    if (from === undefined) return;
    this.c[this.base + RI[kind]]!++;
    this.sendLocal6(icmp6Error(type, code, param, buf.subarray(ip, ip + len), from), ifc);
  }

  private takeToken(): boolean {
    const now = this.now;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.tokensAt) * this.rate) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) {
      this.c[this.base + R.icmpRateLimited]!++;
      return false;
    }
    this.tokens -= 1;
    return true;
  }

  /** source4 picks the router address an error to `dst` comes from: the arrival interface's (RFC 1812 4.3.2.4). */
  private source4(ifc: Iface, dst: number): number | undefined {
    const onLink = ifc.v4.find((a) => sameSubnet4(a, dst));
    if (onLink !== undefined) return onLink.addr;
    if (ifc.v4.length > 0) return ifc.v4[0]!.addr;
    for (const other of this.ifaces) if (other !== undefined && other.v4.length > 0) return other.v4[0]!.addr;
    return undefined;
  }

  private source6(ifc: Iface, buf: Uint8Array, dstOff: number): Uint8Array | undefined {
    const dst = buf.subarray(dstOff, dstOff + 16);
    const onLink = ifc.v6.find((a) => inPrefix(dst, maskPrefix(a.addr, a.prefixLength), a.prefixLength));
    if (onLink !== undefined) return onLink.addr;
    if (ifc.v6.length > 0) return ifc.v6[0]!.addr;
    for (const other of this.ifaces) if (other !== undefined && other.v6.length > 0) return other.v6[0]!.addr;
    return ifc.linkLocal;
  }

  // ---- ARP / NDP / RA senders ------------------------------------------------------------------------

  private solicit(iface: number, family: 4 | 6, addr: number | Uint8Array, unicastMac: number): void {
    const ifc = this.ifaces[iface];
    if (ifc === undefined || ifc.kind !== 'bridge') return;
    if (family === 4) {
      const target = addr as number;
      const from = ifc.v4.find((a) => sameSubnet4(a, target)) ?? ifc.v4[0];
      if (from === undefined) return;
      this.sendArp(ifc, ARP_OP.REQUEST, from.addr, unicastMac >= 0 ? unicastMac : BROADCAST, target, 0);
      return;
    }
    const target = addr as Uint8Array;
    const onLink = ifc.v6.find((a) => inPrefix(target, maskPrefix(a.addr, a.prefixLength), a.prefixLength));
    const from = isLinkLocal6(target, 0) ? ifc.linkLocal : (onLink?.addr ?? ifc.linkLocal);
    if (from === undefined) return;
    const dst = unicastMac >= 0 ? target : solicitedNodeAddress(target);
    this.sendNdp(ifc, emitNs(from, target, ifc.mac, dst), unicastMac >= 0 ? unicastMac : multicastMac6(dst));
  }

  private sendArp(ifc: Iface, op: number, senderIp: number, dstMac: number, targetIp: number, targetMac: number): void {
    const body = emitArp({ op, senderMac: ifc.mac, senderIp, targetMac: targetMac === BROADCAST ? 0 : targetMac, targetIp });
    this.c[this.base + R.arpSent]!++;
    this.sendFrame(ifc, dstMac, ETHERTYPE.ARP, body);
  }

  private sendNdp(ifc: Iface, pkt: Uint8Array, dstMac: number): void {
    this.c[this.base + R.ndpSent]!++;
    this.sendFrame(ifc, dstMac, ETHERTYPE.IPV6, pkt);
  }

  private sendRa(ifc: Iface, now: number): void {
    if (ifc.linkLocal === undefined) return;
    const ra = emitRa(ifc.linkLocal, ALL_NODES, {
      curHopLimit: 64,
      managed: false,
      other: false,
      routerLifetime: RA.routerLifetime,
      reachableTime: 0,
      retransTimer: 0,
      sourceMac: ifc.mac,
      mtu: ifc.mtu,
      prefixes: ifc.v6
        .filter((a) => !isLinkLocal6(a.addr, 0))
        .map((a) => ({ prefix: maskPrefix(a.addr, a.prefixLength), length: a.prefixLength, onLink: true, autonomous: a.prefixLength === 64, validLifetime: RA.validLifetime, preferredLifetime: RA.preferredLifetime })),
    });
    this.c[this.base + R.raSent]!++;
    this.sendNdp(ifc, ra, multicastMac6(ALL_NODES));
    ifc.rasSent++;
    ifc.lastRa = now;
    ifc.nextRa = now + (ifc.rasSent < RA.initialCount ? RA.initialMs : RA.minMs + this.random() * (RA.maxMs - RA.minMs));
    this.armRa(ifc);
  }

  /** armRa (re)schedules the interface's next RA for ifc.nextRa. */
  private armRa(ifc: Iface): void {
    if (ifc.raTimer !== null) this.timers.cancel(ifc.raTimer);
    ifc.raTimer = this.timers.schedule(ifc.nextRa, (now) => {
      ifc.raTimer = null;
      this.now = now;
      this.sendRa(ifc, now);
    });
  }

  private sendFrame(ifc: Iface, dstMac: number, etherType: number, payload: Uint8Array): void {
    const s = this.scratch;
    s.fill(0, 0, VNET_HDR_LEN);
    const eth = VNET_HDR_LEN;
    writeMac(dstMac, s, eth + ETH.DST);
    writeMac(ifc.mac, s, eth + ETH.SRC);
    put16(s, eth + ETH.TYPE, etherType);
    s.set(payload, eth + ETH.HEADER_LEN);
    this.out.transmit(ifc.id, s, 0, VNET_HDR_LEN + ETH.HEADER_LEN + payload.length, 0);
  }

  // ---- addresses --------------------------------------------------------------------------------------

  private iface(id: number): Iface {
    const ifc = this.ifaces[id];
    if (ifc === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no router interface ${id}`);
    return ifc;
  }

  private rebuildOwn(): void {
    this.own4.clear();
    this.directedBroadcast4.clear();
    for (const ifc of this.ifaces) {
      if (ifc === undefined) continue;
      for (const a of ifc.v4) {
        this.own4.set(a.addr, ifc.id);
        if (a.prefixLength < 31) this.directedBroadcast4.add((a.addr | (0xffffffff >>> a.prefixLength)) >>> 0);
      }
    }
  }

  private publishGauges(): void {
    this.c[this.base + R.routes4] = this.routes.size4;
    this.c[this.base + R.routes6] = this.routes.size6;
    this.c[this.base + R.neighborEntries] = this.neighbors.size;
  }

  /** isOwn tells whether `addr` is one of the router's addresses. */
  isOwn(family: 4 | 6, addr: Uint8Array): boolean {
    return family === 4 ? this.own4.has(u32(addr, 0)) : this.ownIface6(addr, 0) !== undefined;
  }

  private ownIface6(buf: Uint8Array, off: number): Iface | undefined {
    for (const ifc of this.ifaces) {
      if (ifc === undefined) continue;
      if (ifc.linkLocal !== undefined && ipv6Equal(ifc.linkLocal, 0, buf, off)) return ifc;
      for (const a of ifc.v6) if (ipv6Equal(a.addr, 0, buf, off)) return ifc;
    }
    return undefined;
  }

  private ownOn6(ifc: Iface, addr: Uint8Array): boolean {
    if (ifc.linkLocal !== undefined && ipv6Equal(ifc.linkLocal, 0, addr, 0)) return true;
    return ifc.v6.some((a) => ipv6Equal(a.addr, 0, addr, 0));
  }

  /** isOurGroup6 tells whether a multicast destination is one the router listens to on `ifc`. */
  private isOurGroup6(ifc: Iface, buf: Uint8Array, off: number): boolean {
    if (ipv6Equal(ALL_NODES, 0, buf, off) || ipv6Equal(ALL_ROUTERS, 0, buf, off)) return true;
    // ff02::1:ffXX:XXXX, the solicited-node group of one of our addresses
    if (buf[off] !== 0xff || buf[off + 1] !== 0x02 || buf[off + 11] !== 1 || buf[off + 12] !== 0xff) return false;
    const matches = (a: Uint8Array): boolean => a[13] === buf[off + 13] && a[14] === buf[off + 14] && a[15] === buf[off + 15];
    return (ifc.linkLocal !== undefined && matches(ifc.linkLocal)) || ifc.v6.some((a) => matches(a.addr));
  }

  private onLink4(ifc: Iface, addr: number): boolean {
    return ifc.v4.some((a) => sameSubnet4(a, addr));
  }

  private drop(reason: RouterDropReason): void {
    this.out.drop(reason);
  }
}

function sameSubnet4(a: V4Address, addr: number): boolean {
  if (a.prefixLength === 0) return true;
  const mask = (0xffffffff << (32 - a.prefixLength)) >>> 0;
  return ((a.addr & mask) >>> 0) === ((addr & mask) >>> 0);
}

/**
 * shiftVnet moves the frame-relative offsets of the vnet header at `off` by `delta` bytes, for a frame
 * whose link-layer header grew (delta > 0: an Ethernet header put in front of a TUN packet) or went away.
 */
function shiftVnet(buf: Uint8Array, off: number, delta: number): void {
  if (delta === 0) return;
  if ((buf[off + VNET.FLAGS]! & VNET_FLAG.NEEDS_CSUM) !== 0) put16le(buf, off + VNET.CSUM_START, u16le(buf, off + VNET.CSUM_START) + delta);
  const hdrLen = u16le(buf, off + VNET.HDR_LEN);
  if (hdrLen !== 0) put16le(buf, off + VNET.HDR_LEN, Math.max(0, hdrLen + delta));
}

/**
 * finishChecksum completes a partial checksum (NEEDS_CSUM: the field holds the pseudo-header sum) so the
 * packet can be cut into fragments, which the receiver's stack would otherwise never checksum.
 */
function finishChecksum(buf: Uint8Array, vnet: number, l2: number): void {
  if ((buf[vnet + VNET.FLAGS]! & VNET_FLAG.NEEDS_CSUM) === 0) return;
  const frame = vnet + VNET_HDR_LEN;
  const start = frame + u16le(buf, vnet + VNET.CSUM_START);
  const field = start + u16le(buf, vnet + VNET.CSUM_OFFSET);
  const ip = frame + l2;
  const end = ip + ipv4TotalLen(buf, ip);
  let sum = foldChecksum(sum16(buf, start, end - start));
  if (sum === 0 && buf[ip + 9] === IP_PROTO.UDP) sum = 0xffff; // RFC 768: 0 means "no checksum"
  put16(buf, field, sum);
  buf[vnet + VNET.FLAGS] = buf[vnet + VNET.FLAGS]! & ~VNET_FLAG.NEEDS_CSUM;
}
