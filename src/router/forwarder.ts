// Forwarder: the router's path from "this packet is to be forwarded" to the wire (RFC 1812 5.2-5.3, RFC
// 8200): longest-prefix route lookup, TTL / hop limit, the egress MTU (a GSO frame by its segment length),
// then the TTL decrement with an incremental checksum update (RFC 1624), the next hop's MAC from the
// neighbor cache, and out through LinkOutput. The packets the router makes itself (echo replies, ICMP
// errors) take the same path from the route lookup on (sendLocal4/sendLocal6). A packet whose next hop is
// still being resolved is copied into a Pending and waits on the neighbor entry; it comes back through
// release (resolved) or unresolved (failed: Host/Address Unreachable to its sender). Every discard is
// reported once through LinkOutput.drop; the checks before forwarding (martians, scope, packets to the
// router) are the Router's.
import { u32 } from '../wire/bytes.js';
import { ETHERTYPE } from '../wire/ethernet.js';
import { ICMP4, UNREACH } from '../wire/icmp.js';
import { ICMP6 } from '../wire/icmpv6.js';
import { decrementTtl4, fragmentIpv4, ipv4DontFragment } from '../wire/ipv4.js';
import { isLinkLocal6, isMulticast6, multicastMac6 } from '../wire/ipv6.js';
import { VNET_HDR_LEN } from '../wire/virtio-net.js';
import type { IcmpErrors } from './icmp-errors.js';
import type { Iface, RouterInterfaces } from './interfaces.js';
import type { NeighborCache } from './neighbors.js';
import { finishChecksum, shiftVnet } from './offload.js';
import { FRAME_SLOT, type LinkOutput } from './output.js';
import type { Routes } from './routes.js';
import { R } from './stats.js';

/** Pending is a packet waiting for its next hop: its vnet header (offsets relative to the IP header), then the packet. */
export interface Pending {
  readonly family: 4 | 6;
  readonly data: Uint8Array;
  readonly segmentLen: number;
  /** ingress is the interface the packet came in on, where an unreachable error goes back. */
  readonly ingress: number;
}

/** Forwarder forwards packets and the router's own; see the comment at the top of this file. */
export class Forwarder {
  /** local holds a packet the router made (or a fragment) behind a zero vnet header while it goes out. */
  private readonly local = new Uint8Array(FRAME_SLOT);

  constructor(
    private readonly ifaces: RouterInterfaces,
    private readonly routes: Routes,
    private readonly neighbors: NeighborCache<Pending>,
    private readonly link: LinkOutput,
    private readonly icmp: IcmpErrors,
    private readonly c: Float64Array,
    private readonly base: number,
  ) {}

  /**
   * forward4 forwards the checked IPv4 packet of `total` bytes at buf[ip] (vnet header at buf[vnet]) to
   * `dst`, that arrived on `ifc`: route, TTL, MTU (fragmenting a packet without DF), out.
   */
  forward4(ifc: Iface, buf: Uint8Array, vnet: number, ip: number, total: number, dst: number, segmentLen: number, now: number): void {
    const route = this.routes.lookup4(dst);
    if (route === undefined) {
      this.icmp.error4(ifc, buf, ip, total, ICMP4.DEST_UNREACH, UNREACH.NET, 0, '4/net_unreachable', now);
      return this.link.drop('no_route');
    }
    if (buf[ip + 8]! <= 1) {
      this.icmp.error4(ifc, buf, ip, total, ICMP4.TIME_EXCEEDED, 0, 0, '4/time_exceeded', now);
      return this.link.drop('ttl_expired');
    }
    const out = this.ifaces.get(route.iface);
    if (out === undefined) return this.link.drop('interface_down');
    const nh = route.via4 >= 0 ? route.via4 : dst;
    if (segmentLen > 0 ? segmentLen > out.mtu : total > out.mtu) {
      if (segmentLen > 0 || ipv4DontFragment(buf, ip)) {
        this.icmp.error4(ifc, buf, ip, total, ICMP4.DEST_UNREACH, UNREACH.FRAG_NEEDED, out.mtu & 0xffff, '4/frag_needed', now);
        return this.link.drop('too_big');
      }
      finishChecksum(buf, vnet, ip - vnet - VNET_HDR_LEN);
      decrementTtl4(buf, ip);
      this.c[this.base + R.forwarded4]!++;
      for (const f of fragmentIpv4(buf.subarray(ip, ip + total), out.mtu)) {
        this.c[this.base + R.fragmentsCreated]!++;
        this.local.fill(0, 0, VNET_HDR_LEN);
        this.local.set(f, VNET_HDR_LEN);
        this.output4(out, nh, this.local, 0, VNET_HDR_LEN, f.length, 0, ifc.id, now);
      }
      return;
    }
    decrementTtl4(buf, ip);
    this.c[this.base + R.forwarded4]!++;
    this.output4(out, nh, buf, vnet, ip, total, segmentLen, ifc.id, now);
  }

  /**
   * forward6 forwards the checked IPv6 packet of `total` bytes at buf[ip], to a destination that is neither
   * the router's, multicast, martian nor link-local: route, source scope, hop limit, MTU (never fragmented), out.
   */
  forward6(ifc: Iface, buf: Uint8Array, vnet: number, ip: number, total: number, segmentLen: number, now: number): void {
    const dst = ip + 24;
    const route = this.routes.lookup6(buf, dst);
    if (route === undefined) {
      this.icmp.error6(ifc, buf, ip, total, ICMP6.DEST_UNREACH, 0, 0, '6/no_route', now);
      return this.link.drop('no_route');
    }
    if (isLinkLocal6(buf, ip + 8)) {
      this.icmp.error6(ifc, buf, ip, total, ICMP6.DEST_UNREACH, 2, 0, '6/beyond_scope', now);
      return this.link.drop('not_forwarded');
    }
    if (buf[ip + 7]! <= 1) {
      this.icmp.error6(ifc, buf, ip, total, ICMP6.TIME_EXCEEDED, 0, 0, '6/time_exceeded', now);
      return this.link.drop('ttl_expired');
    }
    const out = this.ifaces.get(route.iface);
    if (out === undefined) return this.link.drop('interface_down');
    if (segmentLen > 0 ? segmentLen > out.mtu : total > out.mtu) {
      this.icmp.error6(ifc, buf, ip, total, ICMP6.PACKET_TOO_BIG, 0, out.mtu, '6/packet_too_big', now);
      return this.link.drop('too_big');
    }
    buf[ip + 7]!--;
    this.c[this.base + R.forwarded6]!++;
    if (route.via6 !== undefined) this.output6(out, route.via6, 0, buf, vnet, ip, total, segmentLen, ifc.id, now);
    else this.output6(out, buf, dst, buf, vnet, ip, total, segmentLen, ifc.id, now);
  }

  /** sendLocal4 routes a packet the router made (in a fresh buffer) toward its destination. */
  sendLocal4(pkt: Uint8Array, now: number): void {
    const dst = u32(pkt, 16);
    const route = this.routes.lookup4(dst);
    const out = route === undefined ? undefined : this.ifaces.get(route.iface);
    if (route === undefined || out === undefined) return this.link.drop('no_route');
    const nh = route.via4 >= 0 ? route.via4 : dst;
    const pieces = pkt.length > out.mtu ? (ipv4DontFragment(pkt, 0) ? [] : fragmentIpv4(pkt, out.mtu)) : [pkt];
    if (pieces.length === 0) return this.link.drop('too_big');
    for (const p of pieces) {
      this.local.fill(0, 0, VNET_HDR_LEN);
      this.local.set(p, VNET_HDR_LEN);
      this.output4(out, nh, this.local, 0, VNET_HDR_LEN, p.length, 0, out.id, now);
    }
  }

  /** sendLocal6 routes a packet the router made; link-scoped destinations go out of `scope`. */
  sendLocal6(pkt: Uint8Array, scope: Iface, now: number): void {
    let out: Iface | undefined;
    let nhBuf: Uint8Array = this.local;
    let nhOff = VNET_HDR_LEN + 24;
    if (isLinkLocal6(pkt, 24) || isMulticast6(pkt, 24)) out = scope;
    else {
      const route = this.routes.lookup6(pkt, 24);
      out = route === undefined ? undefined : this.ifaces.get(route.iface);
      if (route?.via6 !== undefined) {
        nhBuf = route.via6;
        nhOff = 0;
      }
    }
    if (out === undefined) return this.link.drop('no_route');
    if (pkt.length > out.mtu) return this.link.drop('too_big');
    this.local.fill(0, 0, VNET_HDR_LEN);
    this.local.set(pkt, VNET_HDR_LEN);
    this.output6(out, nhBuf, nhOff, this.local, 0, VNET_HDR_LEN, pkt.length, 0, out.id, now);
  }

  /** release sends a packet whose next hop resolved to `mac` (the neighbor cache's release event). */
  release(iface: number, mac: number, p: Pending): void {
    const out = this.ifaces.get(iface);
    if (out === undefined) return this.link.drop('interface_down');
    this.link.toBridge(out, mac, p.family === 4 ? ETHERTYPE.IPV4 : ETHERTYPE.IPV6, p.data, 0, VNET_HDR_LEN, p.data.length - VNET_HDR_LEN, p.segmentLen);
  }

  /** unresolved drops a packet whose next hop did not answer and tells its sender (the neighbor cache's unreachable event). */
  unresolved(p: Pending, now: number): void {
    this.link.drop('neighbor_unreachable');
    const ingress = this.ifaces.get(p.ingress);
    if (ingress === undefined) return;
    const ip = VNET_HDR_LEN;
    const len = p.data.length - ip;
    if (p.family === 4) this.icmp.error4(ingress, p.data, ip, len, ICMP4.DEST_UNREACH, UNREACH.HOST, 0, '4/host_unreachable', now);
    else this.icmp.error6(ingress, p.data, ip, len, ICMP6.DEST_UNREACH, 3, 0, '6/address_unreachable', now);
  }

  private output4(out: Iface, nh: number, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number, ingress: number, now: number): void {
    if (out.kind === 'tun') return this.link.toTun(out, buf, vnet, ip, len, segmentLen);
    let mac = this.neighbors.resolve4(out.id, nh, now);
    if (mac < 0) {
      mac = this.neighbors.resolve4(out.id, nh, now, this.pending(4, buf, vnet, ip, len, segmentLen, ingress));
      if (mac < 0) return;
    }
    this.link.toBridge(out, mac, ETHERTYPE.IPV4, buf, vnet, ip, len, segmentLen);
  }

  private output6(out: Iface, nhBuf: Uint8Array, nhOff: number, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number, ingress: number, now: number): void {
    if (out.kind === 'tun') return this.link.toTun(out, buf, vnet, ip, len, segmentLen);
    let mac: number;
    if (isMulticast6(nhBuf, nhOff)) mac = multicastMac6(nhBuf.subarray(nhOff, nhOff + 16));
    else {
      mac = this.neighbors.resolve6(out.id, nhBuf, nhOff, now);
      if (mac < 0) {
        mac = this.neighbors.resolve6(out.id, nhBuf, nhOff, now, this.pending(6, buf, vnet, ip, len, segmentLen, ingress));
        if (mac < 0) return;
      }
    }
    this.link.toBridge(out, mac, ETHERTYPE.IPV6, buf, vnet, ip, len, segmentLen);
  }

  private pending(family: 4 | 6, buf: Uint8Array, vnet: number, ip: number, len: number, segmentLen: number, ingress: number): Pending {
    const data = new Uint8Array(VNET_HDR_LEN + len);
    data.set(buf.subarray(vnet, vnet + VNET_HDR_LEN));
    shiftVnet(data, 0, -(ip - vnet - VNET_HDR_LEN));
    data.set(buf.subarray(ip, ip + len), VNET_HDR_LEN);
    return { family, data, segmentLen, ingress };
  }
}
