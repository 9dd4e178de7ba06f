// ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861) for the router: the checksum over the IPv6
// pseudo-header, the test that keeps a router from answering an ICMPv6 error with another, the error
// builder (quoting at most what fits in 1280 bytes), the echo reply, and NDP's four host/router messages
// parsed with RFC 4861's validation and built. Positions are IPv6 packets (ipOff = the IPv6 header);
// builders return complete IPv6 packets. Link-layer addresses are Ethernet MACs as 48-bit numbers.
// Not supported: Redirect (parsed as null, never sent), NDP messages behind extension headers, options
// other than source/target link-layer address, prefix information and MTU (ignored, as RFC 4861 asks).
import { put16, put32, u16, u32 } from './bytes.js';
import { foldChecksum, pseudoHeaderSum6, sum16 } from './checksum.js';
import { macAt, writeMac } from './ethernet.js';
import { IP_PROTO } from './ipv4.js';
import {
  ALL_ROUTERS6,
  IPV6,
  IPV6_MIN_MTU,
  ipv6Check,
  ipv6PayloadLen,
  ipv6TrafficClass,
  isLinkLocal6,
  isMulticast6,
  isSolicitedNode6,
  isUnspecified6,
  solicitedNodeAddress,
  writeIpv6Header,
} from './ipv6.js';

/** ICMP6 names the ICMPv6 message types; those below 128 are errors (RFC 4443 2.1). */
export const ICMP6 = {
  DEST_UNREACH: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAM_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  RS: 133,
  RA: 134,
  NS: 135,
  NA: 136,
  REDIRECT: 137,
} as const;

/** UNREACH6 names the Destination Unreachable codes (RFC 4443 3.1). */
export const UNREACH6 = { NO_ROUTE: 0, ADMIN: 1, BEYOND_SCOPE: 2, ADDRESS: 3, PORT: 4, SOURCE_POLICY: 5, REJECT_ROUTE: 6 } as const;

/** EXCEEDED6 names the Time Exceeded codes (RFC 4443 3.3). */
export const EXCEEDED6 = { HOP_LIMIT: 0, REASSEMBLY: 1 } as const;

/** PARAM_PROBLEM6 names the Parameter Problem codes (RFC 4443 3.4); `param` is then the pointer. */
export const PARAM_PROBLEM6 = { HEADER_FIELD: 0, NEXT_HEADER: 1, OPTION: 2 } as const;

/** ICMP6_HDR holds the ICMPv6 header field offsets; REST is the 4 bytes after the checksum. */
export const ICMP6_HDR = { TYPE: 0, CODE: 1, CSUM: 2, REST: 4, ID: 4, SEQ: 6, HEADER_LEN: 8 } as const;

/** NDP_OPT names the Neighbor Discovery option types (RFC 4861 4.6). */
export const NDP_OPT = { SOURCE_LLA: 1, TARGET_LLA: 2, PREFIX_INFO: 3, REDIRECTED_HEADER: 4, MTU: 5 } as const;

/** NDP_HOP_LIMIT is the hop limit of every NDP message, sent and accepted (RFC 4861 7.1). */
export const NDP_HOP_LIMIT = 255;

const RA_FLAG = { MANAGED: 0x80, OTHER: 0x40 } as const;
const NA_FLAG = { ROUTER: 0x80, SOLICITED: 0x40, OVERRIDE: 0x20 } as const;
const PREFIX_FLAG = { ON_LINK: 0x80, AUTONOMOUS: 0x40 } as const;

/** ndpMinLength is the fixed length of an NDP message of `type` (RFC 4861 4.1-4.4), or 0 for other types. */
function ndpMinLength(type: number): number {
  if (type === ICMP6.RS) return 8;
  if (type === ICMP6.RA) return 16;
  if (type === ICMP6.NS || type === ICMP6.NA) return 24;
  return 0;
}

/**
 * icmp6ChecksumValid tells whether the IPv6 packet of `len` bytes at `ipOff` carries an ICMPv6 message
 * directly after its fixed header (next header 58) whose checksum verifies over the pseudo-header and
 * the whole payload. False for anything else, including a payload too short to hold a checksum.
 */
export function icmp6ChecksumValid(buf: Uint8Array, ipOff: number, len: number): boolean {
  if (len < IPV6.HEADER_LEN || ipOff + len > buf.length) return false;
  if (buf[ipOff + IPV6.NEXT_HEADER] !== IP_PROTO.ICMPV6) return false;
  const plen = ipv6PayloadLen(buf, ipOff);
  if (plen < 4 || IPV6.HEADER_LEN + plen > len) return false;
  const pseudo = pseudoHeaderSum6(buf, ipOff + IPV6.SRC, ipOff + IPV6.DST, IP_PROTO.ICMPV6, plen);
  return foldChecksum(sum16(buf, ipOff + IPV6.HEADER_LEN, plen, pseudo)) === 0;
}

/**
 * isIcmp6Error tells whether the IPv6 packet of `len` bytes at `ipOff` is an ICMPv6 error message (type
 * below 128), the case in which no ICMPv6 error may be sent about it (RFC 4443 2.4 e.1). It walks the
 * simple extension headers first: Hop-by-Hop, Routing, Destination Options, Authentication Header, and
 * Fragment; a non-first fragment answers false, as any chain it cannot read to the end (a truncated or
 * unknown header): such a packet is not known to be an error. RFC 4443 2.4 e.2-e.5 (multicast
 * destinations, link-layer multicast, sources that are not a unicast node) are the caller's to apply.
 * It never reads outside the `len` bytes nor past the payload length.
 */
export function isIcmp6Error(buf: Uint8Array, ipOff: number, len: number): boolean {
  if (len < IPV6.HEADER_LEN || ipOff + len > buf.length) return false;
  const end = ipOff + Math.min(len, IPV6.HEADER_LEN + ipv6PayloadLen(buf, ipOff));
  let next = buf[ipOff + IPV6.NEXT_HEADER]!;
  let p = ipOff + IPV6.HEADER_LEN;
  for (;;) {
    switch (next) {
      case IP_PROTO.ICMPV6:
        return p < end && buf[p]! < 128;
      case IP_PROTO.HOPOPT:
      case IP_PROTO.IPV6_ROUTE:
      case IP_PROTO.IPV6_OPTS:
        if (p + 2 > end) return false;
        next = buf[p]!;
        p += (buf[p + 1]! + 1) * 8;
        break;
      case IP_PROTO.AH:
        if (p + 2 > end) return false;
        next = buf[p]!;
        p += (buf[p + 1]! + 2) * 4;
        break;
      case IP_PROTO.IPV6_FRAG:
        if (p + 8 > end) return false;
        if ((u16(buf, p + 2) & 0xfff8) !== 0) return false;
        next = buf[p]!;
        p += 8;
        break;
      default:
        return false;
    }
  }
}

/**
 * icmp6Error builds an ICMPv6 error about `offending` (the received IPv6 packet from its header on) and
 * returns the complete IPv6 packet, addressed to the offending packet's source from `src`. `param` fills
 * the 4 bytes after the checksum (the MTU for PACKET_TOO_BIG, the pointer for PARAM_PROBLEM, else 0). The
 * message quotes as much of the offending packet (up to its payload length) as keeps the whole error
 * within 1280 bytes, the IPv6 minimum MTU (RFC 4443 2.4 c). The caller applies the rules about when not
 * to send (isIcmp6Error, RFC 4443 2.4 e, rate limiting 2.4 f). It throws a RangeError if `offending` is
 * shorter than an IPv6 header or `src` is not 16 bytes.
 */
export function icmp6Error(type: number, code: number, param: number, offending: Uint8Array, src: Uint8Array, hopLimit = 64): Uint8Array {
  if (offending.length < IPV6.HEADER_LEN) throw new RangeError('the offending packet is shorter than an IPv6 header');
  let quote = offending.length;
  const plen = ipv6PayloadLen(offending, 0);
  const jumbo = plen === 0 && offending[IPV6.NEXT_HEADER] === IP_PROTO.HOPOPT;
  if (!jumbo && IPV6.HEADER_LEN + plen < quote) quote = IPV6.HEADER_LEN + plen;
  quote = Math.min(quote, IPV6_MIN_MTU - IPV6.HEADER_LEN - ICMP6_HDR.HEADER_LEN);
  const icmpLen = ICMP6_HDR.HEADER_LEN + quote;
  const out = new Uint8Array(IPV6.HEADER_LEN + icmpLen);
  const dst = offending.subarray(IPV6.SRC, IPV6.SRC + 16);
  writeIpv6Header(out, 0, { src, dst, nextHeader: IP_PROTO.ICMPV6, hopLimit }, icmpLen);
  const i = IPV6.HEADER_LEN;
  out[i + ICMP6_HDR.TYPE] = type;
  out[i + ICMP6_HDR.CODE] = code;
  put32(out, i + ICMP6_HDR.REST, param);
  out.set(offending.subarray(0, quote), i + ICMP6_HDR.HEADER_LEN);
  setChecksum6(out);
  return out;
}

/**
 * echoReply6 answers an ICMPv6 echo request (`request`: a whole IPv6 packet, ICMPv6 directly after the
 * fixed header) with the complete reply from `src` to the request's source, or returns null if it is not
 * a valid echo request: ipv6Check, type 128, at least the 8-byte echo header, a valid checksum. The
 * identifier, sequence number and data come back unchanged (RFC 4443 4.2), the traffic class too. Which
 * unicast `src` answers a request to a multicast group is the caller's choice (RFC 4443 4.2).
 */
export function echoReply6(request: Uint8Array, src: Uint8Array, hopLimit = 64): Uint8Array | null {
  if (ipv6Check(request, 0, request.length) !== null || !icmp6ChecksumValid(request, 0, request.length)) return null;
  const icmpLen = ipv6PayloadLen(request, 0);
  const i = IPV6.HEADER_LEN;
  if (icmpLen < ICMP6_HDR.HEADER_LEN || request[i + ICMP6_HDR.TYPE] !== ICMP6.ECHO_REQUEST) return null;
  const out = new Uint8Array(IPV6.HEADER_LEN + icmpLen);
  const dst = request.subarray(IPV6.SRC, IPV6.SRC + 16);
  writeIpv6Header(out, 0, { src, dst, nextHeader: IP_PROTO.ICMPV6, hopLimit, trafficClass: ipv6TrafficClass(request, 0) }, icmpLen);
  out.set(request.subarray(i, i + icmpLen), i);
  out[i + ICMP6_HDR.TYPE] = ICMP6.ECHO_REPLY;
  out[i + ICMP6_HDR.CODE] = 0;
  setChecksum6(out);
  return out;
}

/** NdpPrefix is a Prefix Information option (RFC 4861 4.6.2); lifetimes are seconds, 0xffffffff = infinity. */
export interface NdpPrefix {
  /** prefix holds 16 bytes, the bits after `length` zero. */
  prefix: Uint8Array;
  length: number;
  onLink: boolean;
  autonomous: boolean;
  validLifetime: number;
  preferredLifetime: number;
}

/** NdpRs is a Router Solicitation. */
export interface NdpRs {
  type: 'rs';
  src: Uint8Array;
  dst: Uint8Array;
  sourceMac: number | undefined;
}

/** NdpRa is a Router Advertisement; times are as on the wire (lifetime in seconds, the timers in ms). */
export interface NdpRa {
  type: 'ra';
  src: Uint8Array;
  dst: Uint8Array;
  curHopLimit: number;
  managed: boolean;
  other: boolean;
  routerLifetime: number;
  reachableTime: number;
  retransTimer: number;
  sourceMac: number | undefined;
  mtu: number | undefined;
  prefixes: NdpPrefix[];
}

/** NdpNs is a Neighbor Solicitation. */
export interface NdpNs {
  type: 'ns';
  src: Uint8Array;
  dst: Uint8Array;
  target: Uint8Array;
  sourceMac: number | undefined;
}

/** NdpNa is a Neighbor Advertisement. */
export interface NdpNa {
  type: 'na';
  src: Uint8Array;
  dst: Uint8Array;
  target: Uint8Array;
  targetMac: number | undefined;
  router: boolean;
  solicited: boolean;
  override: boolean;
}

/** Ndp is a parsed Neighbor Discovery message, told apart by `type`. */
export type Ndp = NdpRs | NdpRa | NdpNs | NdpNa;

interface NdpOptions {
  sourceMac: number | undefined;
  targetMac: number | undefined;
  mtu: number | undefined;
  prefixes: NdpPrefix[];
}

/**
 * parseNdp takes apart the RS, RA, NS or NA in the IPv6 packet of `len` bytes at `ipOff`, or returns null
 * if it is none of these or fails the validation of RFC 4861 6.1.1, 6.1.2, 7.1.1 and 7.1.2: ipv6Check, ICMPv6
 * directly after the fixed header, hop limit 255, a valid checksum, code 0, at least the message's fixed
 * length, every option of non-zero length and inside the message; for RS, no source link-layer option
 * from the unspecified address; for RA, a link-local source; for NS, a target that is not multicast and,
 * from the unspecified address, a solicited-node destination and no source link-layer option; for NA, a
 * target that is not multicast and no Solicited flag towards a multicast destination. As in Linux's
 * ndisc, a link-layer address option whose length is not 1 (8 bytes, for Ethernet) fails the message.
 * Unknown options, and prefix and MTU options of the wrong size, are skipped; of repeated link-layer and
 * MTU options the first counts; an absent one is undefined. The result owns its bytes (addresses are copies), so the receive buffer
 * can be reused.
 */
export function parseNdp(buf: Uint8Array, ipOff: number, len: number): Ndp | null {
  if (ipv6Check(buf, ipOff, len) !== null) return null;
  if (buf[ipOff + IPV6.NEXT_HEADER] !== IP_PROTO.ICMPV6 || buf[ipOff + IPV6.HOP_LIMIT] !== NDP_HOP_LIMIT) return null;
  const plen = ipv6PayloadLen(buf, ipOff);
  const i = ipOff + IPV6.HEADER_LEN;
  if (plen < ICMP6_HDR.HEADER_LEN) return null;
  const type = buf[i]!;
  const min = ndpMinLength(type);
  if (min === 0 || plen < min || buf[i + ICMP6_HDR.CODE] !== 0) return null;
  if (!icmp6ChecksumValid(buf, ipOff, len)) return null;
  const opts = parseOptions(buf, i + min, i + plen);
  if (opts === null) return null;
  const srcOff = ipOff + IPV6.SRC;
  const dstOff = ipOff + IPV6.DST;
  const src = buf.slice(srcOff, srcOff + 16);
  const dst = buf.slice(dstOff, dstOff + 16);
  const fromUnspecified = isUnspecified6(buf, srcOff);
  switch (type) {
    case ICMP6.RS:
      if (fromUnspecified && opts.sourceMac !== undefined) return null;
      return { type: 'rs', src, dst, sourceMac: opts.sourceMac };
    case ICMP6.RA:
      if (!isLinkLocal6(buf, srcOff)) return null;
      return {
        type: 'ra',
        src,
        dst,
        curHopLimit: buf[i + 4]!,
        managed: (buf[i + 5]! & RA_FLAG.MANAGED) !== 0,
        other: (buf[i + 5]! & RA_FLAG.OTHER) !== 0,
        routerLifetime: u16(buf, i + 6),
        reachableTime: u32(buf, i + 8),
        retransTimer: u32(buf, i + 12),
        sourceMac: opts.sourceMac,
        mtu: opts.mtu,
        prefixes: opts.prefixes,
      };
    case ICMP6.NS:
      if (isMulticast6(buf, i + 8)) return null;
      if (fromUnspecified && (!isSolicitedNode6(buf, dstOff) || opts.sourceMac !== undefined)) return null;
      return { type: 'ns', src, dst, target: buf.slice(i + 8, i + 24), sourceMac: opts.sourceMac };
    case ICMP6.NA: {
      const flags = buf[i + 4]!;
      const solicited = (flags & NA_FLAG.SOLICITED) !== 0;
      if (isMulticast6(buf, i + 8) || (solicited && isMulticast6(buf, dstOff))) return null;
      return {
        type: 'na',
        src,
        dst,
        target: buf.slice(i + 8, i + 24),
        targetMac: opts.targetMac,
        router: (flags & NA_FLAG.ROUTER) !== 0,
        solicited,
        override: (flags & NA_FLAG.OVERRIDE) !== 0,
      };
    }
  }
  return null;
}

/** parseOptions reads the NDP options from `p` to `end`, or returns null if one is malformed. */
function parseOptions(buf: Uint8Array, p: number, end: number): NdpOptions | null {
  const o: NdpOptions = { sourceMac: undefined, targetMac: undefined, mtu: undefined, prefixes: [] };
  while (p < end) {
    if (p + 2 > end) return null;
    const type = buf[p]!;
    const olen = buf[p + 1]! * 8;
    if (olen === 0 || p + olen > end) return null;
    if (type === NDP_OPT.SOURCE_LLA || type === NDP_OPT.TARGET_LLA) {
      if (olen !== 8) return null;
      if (type === NDP_OPT.SOURCE_LLA) o.sourceMac ??= macAt(buf, p + 2);
      else o.targetMac ??= macAt(buf, p + 2);
    } else if (type === NDP_OPT.MTU && olen === 8) {
      o.mtu ??= u32(buf, p + 4);
    } else if (type === NDP_OPT.PREFIX_INFO && olen === 32 && buf[p + 2]! <= 128) {
      const length = buf[p + 2]!;
      const prefix = buf.slice(p + 16, p + 32);
      maskPrefix(prefix, length);
      o.prefixes.push({
        prefix,
        length,
        onLink: (buf[p + 3]! & PREFIX_FLAG.ON_LINK) !== 0,
        autonomous: (buf[p + 3]! & PREFIX_FLAG.AUTONOMOUS) !== 0,
        validLifetime: u32(buf, p + 4),
        preferredLifetime: u32(buf, p + 8),
      });
    }
    p += olen;
  }
  return o;
}

/**
 * emitNs builds a Neighbor Solicitation for `target` from `src`, with a source link-layer address option
 * when `srcMac` is given (not null or undefined), to `dst` (by default the target's solicited-node group). Duplicate address
 * detection sends from :: without the option (RFC 4862 5.4.2); it throws a RangeError if asked for one.
 */
export function emitNs(src: Uint8Array, target: Uint8Array, srcMac: number | null | undefined, dst: Uint8Array = solicitedNodeAddress(target)): Uint8Array {
  const lla = srcMac !== null && srcMac !== undefined;
  if (lla && isUnspecified6(src, 0)) throw new RangeError('an NS from the unspecified address carries no source link-layer address');
  const body = new Uint8Array(24 + (lla ? 8 : 0));
  body[0] = ICMP6.NS;
  body.set(target.subarray(0, 16), 8);
  if (lla) writeLlaOption(body, 24, NDP_OPT.SOURCE_LLA, srcMac);
  return ndpPacket(src, dst, body);
}

/** NaFlags are the three flags of a Neighbor Advertisement. */
export interface NaFlags {
  router: boolean;
  solicited: boolean;
  override: boolean;
}

/**
 * emitNa builds a Neighbor Advertisement for `target` from `src` to `dst`, with a target link-layer
 * address option when `targetMac` is given (not null or undefined). It throws a RangeError for a solicited NA to a multicast
 * destination, which receivers must drop (RFC 4861 7.1.2).
 */
export function emitNa(src: Uint8Array, dst: Uint8Array, target: Uint8Array, targetMac: number | null | undefined, flags: NaFlags): Uint8Array {
  if (flags.solicited && isMulticast6(dst, 0)) throw new RangeError('a solicited NA goes to a unicast address');
  const lla = targetMac !== null && targetMac !== undefined;
  const body = new Uint8Array(24 + (lla ? 8 : 0));
  body[0] = ICMP6.NA;
  body[4] = (flags.router ? NA_FLAG.ROUTER : 0) | (flags.solicited ? NA_FLAG.SOLICITED : 0) | (flags.override ? NA_FLAG.OVERRIDE : 0);
  body.set(target.subarray(0, 16), 8);
  if (lla) writeLlaOption(body, 24, NDP_OPT.TARGET_LLA, targetMac);
  return ndpPacket(src, dst, body);
}

/** RaFields are what emitRa advertises; a `sourceMac` or `mtu` that is null or absent leaves out its option. */
export interface RaFields {
  curHopLimit: number;
  managed: boolean;
  other: boolean;
  routerLifetime: number;
  reachableTime: number;
  retransTimer: number;
  sourceMac?: number | null;
  mtu?: number | null;
  prefixes: NdpPrefix[];
}

/**
 * emitRa builds a Router Advertisement from `src` (a link-local address, RFC 4861 6.1.2) to `dst`, with
 * its options in the order source link-layer address, MTU, prefix information. Prefix bits after the
 * prefix length are sent as zero (RFC 4861 4.6.2). It throws a RangeError for a prefix length above 128.
 */
export function emitRa(src: Uint8Array, dst: Uint8Array, ra: RaFields): Uint8Array {
  const mac = ra.sourceMac ?? null;
  const mtu = ra.mtu ?? null;
  const body = new Uint8Array(16 + (mac === null ? 0 : 8) + (mtu === null ? 0 : 8) + 32 * ra.prefixes.length);
  body[0] = ICMP6.RA;
  body[4] = ra.curHopLimit & 0xff;
  body[5] = (ra.managed ? RA_FLAG.MANAGED : 0) | (ra.other ? RA_FLAG.OTHER : 0);
  put16(body, 6, ra.routerLifetime);
  put32(body, 8, ra.reachableTime);
  put32(body, 12, ra.retransTimer);
  let p = 16;
  if (mac !== null) {
    writeLlaOption(body, p, NDP_OPT.SOURCE_LLA, mac);
    p += 8;
  }
  if (mtu !== null) {
    body[p] = NDP_OPT.MTU;
    body[p + 1] = 1;
    put32(body, p + 4, mtu);
    p += 8;
  }
  for (const pi of ra.prefixes) {
    if (!(pi.length >= 0 && pi.length <= 128)) throw new RangeError(`prefix length ${pi.length} is not 0-128`);
    body[p] = NDP_OPT.PREFIX_INFO;
    body[p + 1] = 4;
    body[p + 2] = pi.length;
    body[p + 3] = (pi.onLink ? PREFIX_FLAG.ON_LINK : 0) | (pi.autonomous ? PREFIX_FLAG.AUTONOMOUS : 0);
    put32(body, p + 4, pi.validLifetime);
    put32(body, p + 8, pi.preferredLifetime);
    body.set(pi.prefix.subarray(0, 16), p + 16);
    maskPrefix(body.subarray(p + 16, p + 32), pi.length);
    p += 32;
  }
  return ndpPacket(src, dst, body);
}

/**
 * emitRs builds a Router Solicitation from `src` to `dst` (all-routers by default), with a source
 * link-layer address option when `srcMac` is given. It throws a RangeError for the option from ::.
 */
export function emitRs(src: Uint8Array, srcMac: number | null | undefined, dst: Uint8Array = ALL_ROUTERS6): Uint8Array {
  const lla = srcMac !== null && srcMac !== undefined;
  if (lla && isUnspecified6(src, 0)) throw new RangeError('an RS from the unspecified address carries no source link-layer address');
  const body = new Uint8Array(8 + (lla ? 8 : 0));
  body[0] = ICMP6.RS;
  if (lla) writeLlaOption(body, 8, NDP_OPT.SOURCE_LLA, srcMac);
  return ndpPacket(src, dst, body);
}

function ndpPacket(src: Uint8Array, dst: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(IPV6.HEADER_LEN + body.length);
  writeIpv6Header(out, 0, { src, dst, nextHeader: IP_PROTO.ICMPV6, hopLimit: NDP_HOP_LIMIT }, body.length);
  out.set(body, IPV6.HEADER_LEN);
  setChecksum6(out);
  return out;
}

function writeLlaOption(buf: Uint8Array, off: number, type: number, mac: number): void {
  buf[off] = type;
  buf[off + 1] = 1;
  writeMac(mac, buf, off + 2);
}

/** setChecksum6 fills the ICMPv6 checksum of a packet built here (ICMPv6 right after the fixed header). */
function setChecksum6(pkt: Uint8Array): void {
  const i = IPV6.HEADER_LEN;
  const len = pkt.length - i;
  pkt[i + ICMP6_HDR.CSUM] = 0;
  pkt[i + ICMP6_HDR.CSUM + 1] = 0;
  const csum = foldChecksum(sum16(pkt, i, len, pseudoHeaderSum6(pkt, IPV6.SRC, IPV6.DST, IP_PROTO.ICMPV6, len)));
  put16(pkt, i + ICMP6_HDR.CSUM, csum);
}

function maskPrefix(prefix: Uint8Array, length: number): void {
  for (let b = 0; b < 16; b++) {
    const keep = length - b * 8;
    if (keep <= 0) prefix[b] = 0;
    else if (keep < 8) prefix[b] = prefix[b]! & (0xff << (8 - keep));
  }
}
