// The router's Neighbor Discovery (RFC 4861) on its bridge interfaces: it answers Neighbor Solicitations
// for its own addresses (solicited NAs with the Router flag, to the asker's MAC), defends them against
// duplicate address detection (an NS from :: is answered with an unsolicited NA to all-nodes, RFC 4862
// 5.4.3), feeds NS/NA/RS link-layer options into the neighbor cache (RFC 4861 7.2.3-7.2.5; an NA never
// creates an entry), hands Router Solicitations to the RouterAdvertiser, and sends the solicitations the
// cache asks for (to the solicited-node group, or unicast to the cached MAC when probing). RAs of other
// routers and Redirects are not listened to. Messages failing RFC 4861 validation are dropped as bad_ndp.
import { ETHERTYPE } from '../wire/ethernet.js';
import { emitNa, emitNs, parseNdp } from '../wire/icmpv6.js';
import { ALL_NODES6, isLinkLocal6, isUnspecified6, multicastMac6, solicitedNodeAddress } from '../wire/ipv6.js';
import { inSubnet6, type Iface, type RouterInterfaces } from './interfaces.js';
import type { NeighborCache } from './neighbors.js';
import type { LinkOutput } from './output.js';
import type { RouterAdvertiser } from './ra.js';
import { R } from './stats.js';

/** Ndp is the router's NDP responder and solicitor; see the comment at the top of this file. */
export class Ndp<P> {
  constructor(
    private readonly ifaces: RouterInterfaces,
    private readonly neighbors: NeighborCache<P>,
    private readonly link: LinkOutput,
    private readonly ra: RouterAdvertiser,
    private readonly c: Float64Array,
    private readonly base: number,
  ) {}

  /**
   * receive handles the NDP message (ICMPv6 types 133-137) in the IPv6 packet of `total` bytes at buf[ip]
   * that reached `ifc`; `ethSrc` is the frame's source MAC, where an NS without a source link-layer option
   * is answered.
   */
  receive(ifc: Iface, buf: Uint8Array, ip: number, total: number, ethSrc: number, now: number): void {
    if (ifc.kind !== 'bridge') return;
    this.c[this.base + R.ndpReceived]!++;
    const m = parseNdp(buf, ip, total);
    if (m === null) return this.link.drop('bad_ndp');
    const src = buf.subarray(ip + 8, ip + 24);
    switch (m.type) {
      case 'ns': {
        if (!this.ifaces.ownOn6(ifc, m.target)) return;
        if (isUnspecified6(src, 0)) {
          // Someone runs DAD on one of our addresses: defend it (RFC 4862 5.4.3).
          this.send(ifc, emitNa(m.target, ALL_NODES6, m.target, ifc.mac, { router: true, solicited: false, override: true }), multicastMac6(ALL_NODES6));
          return;
        }
        const mac = m.sourceMac ?? ethSrc;
        if (m.sourceMac !== undefined) this.neighbors.learn6(ifc.id, src, m.sourceMac, now, { solicited: false, override: true, create: true });
        this.send(ifc, emitNa(m.target, src, m.target, ifc.mac, { router: true, solicited: true, override: true }), mac);
        return;
      }
      case 'na':
        if (m.targetMac !== undefined) this.neighbors.learn6(ifc.id, m.target, m.targetMac, now, { solicited: m.solicited, override: m.override, create: false });
        return;
      case 'rs':
        if (m.sourceMac !== undefined && !isUnspecified6(src, 0)) this.neighbors.learn6(ifc.id, src, m.sourceMac, now, { solicited: false, override: true, create: true });
        this.ra.solicited(ifc, now);
        return;
      default:
        return; // RAs of other routers and redirects: the router does not listen to them
    }
  }

  /** solicit sends a Neighbor Solicitation for `target` out of `ifc`; `unicastMac` -1 sends it to the solicited-node group. */
  solicit(ifc: Iface, target: Uint8Array, unicastMac: number): void {
    const onLink = ifc.v6.find((a) => inSubnet6(a, target));
    const from = isLinkLocal6(target, 0) ? ifc.linkLocal : (onLink?.addr ?? ifc.linkLocal);
    if (from === undefined) return;
    const dst = unicastMac >= 0 ? target : solicitedNodeAddress(target);
    this.send(ifc, emitNs(from, target, ifc.mac, dst), unicastMac >= 0 ? unicastMac : multicastMac6(dst));
  }

  private send(ifc: Iface, pkt: Uint8Array, dstMac: number): void {
    this.c[this.base + R.ndpSent]!++;
    this.link.sendFrame(ifc, dstMac, ETHERTYPE.IPV6, pkt);
  }
}
