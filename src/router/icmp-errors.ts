// When the router sends an ICMP error, and from which address. An error (Time Exceeded, Destination
// Unreachable, Fragmentation Needed / Packet Too Big) is never sent about an ICMP error, a non-first
// fragment, or a packet whose source is unspecified, broadcast, multicast, martian or one of the router's
// own (RFC 1812 4.3.2.7, RFC 4443 2.4 e); the ones that pass draw on one token bucket shared by both
// families (RFC 4443 2.4 f; Linux's default of 1000/s with a burst of 50). The error comes from the address
// of the interface the offending packet arrived on (RFC 1812 4.3.2.4; link-local for a link-local
// destination) and is routed like any packet the router makes, through the IcmpSender it is given.
import { icmp4Error, isIcmp4Error } from '../wire/icmp.js';
import { icmp6Error, isIcmp6Error } from '../wire/icmpv6.js';
import { ipv4FragOffset, ipv4Src, isMartianSource4, isMulticast4 } from '../wire/ipv4.js';
import { isLinkLocal6, isMulticast6, isUnspecified6 } from '../wire/ipv6.js';
import type { Iface, RouterInterfaces } from './interfaces.js';
import { type IcmpSent, R, RI } from './stats.js';

/** IcmpSender routes a packet the router made: the forwarder implements it. */
export interface IcmpSender {
  /** sendLocal4 routes an IPv4 packet toward its destination. */
  sendLocal4(pkt: Uint8Array, now: number): void;
  /** sendLocal6 routes an IPv6 packet; link-scoped destinations go out of `scope`. */
  sendLocal6(pkt: Uint8Array, scope: Iface, now: number): void;
}

/** IcmpRate sizes the token bucket: `ratePerSec` tokens a second, at most `burst` saved up. */
export interface IcmpRate {
  ratePerSec: number;
  burst: number;
}

/** IcmpErrors decides and sends the router's ICMP errors; see the comment at the top of this file. */
export class IcmpErrors {
  private tokens: number;
  private tokensAt = 0;

  constructor(
    private readonly ifaces: RouterInterfaces,
    private readonly send: IcmpSender,
    private readonly rate: IcmpRate,
    private readonly c: Float64Array,
    private readonly base: number,
  ) {
    this.tokens = rate.burst;
  }

  /**
   * error4 sends ICMP `type`/`code` (with `rest` in the 4 bytes after the checksum) about the IPv4 packet of
   * `len` bytes at buf[ip] that arrived on `ifc`, unless the rules forbid it or the bucket is empty; `kind`
   * names the counter of the message.
   */
  error4(ifc: Iface, buf: Uint8Array, ip: number, len: number, type: number, code: number, rest: number, kind: IcmpSent, now: number): void {
    const src = ipv4Src(buf, ip);
    if (src === 0 || isMartianSource4(src) || isMulticast4(src) || this.ifaces.isDirectedBroadcast4(src) || this.ifaces.isOwn4(src)) return;
    if (ipv4FragOffset(buf, ip) > 0 || isIcmp4Error(buf, ip, len)) return;
    if (!this.takeToken(now)) return;
    const from = this.ifaces.source4(ifc, src);
    if (from === undefined) return;
    this.c[this.base + RI[kind]]!++;
    this.send.sendLocal4(icmp4Error(type, code, rest, buf.subarray(ip, ip + len), from), now);
  }

  /** error6 is error4 for IPv6; `param` fills the 4 bytes after the checksum (the MTU of Packet Too Big). */
  error6(ifc: Iface, buf: Uint8Array, ip: number, len: number, type: number, code: number, param: number, kind: IcmpSent, now: number): void {
    const src = ip + 8;
    if (isUnspecified6(buf, src) || isMulticast6(buf, src) || this.ifaces.ownIface6(buf, src) !== undefined) return;
    if (isIcmp6Error(buf, ip, len)) return;
    if (!this.takeToken(now)) return;
    const from = isLinkLocal6(buf, src) ? ifc.linkLocal : this.ifaces.source6(ifc, buf, src);
    if (from === undefined) return;
    this.c[this.base + RI[kind]]!++;
    this.send.sendLocal6(icmp6Error(type, code, param, buf.subarray(ip, ip + len), from), ifc, now);
  }

  private takeToken(now: number): boolean {
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.tokensAt) * this.rate.ratePerSec) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) {
      this.c[this.base + R.icmpRateLimited]!++;
      return false;
    }
    this.tokens -= 1;
    return true;
  }
}
