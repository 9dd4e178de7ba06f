// ICMP for IPv4 (RFC 792) with the router's rules from RFC 1812 4.3: the test that keeps a router from
// answering an ICMP error with another, the error builder (quoting at most what fits in 576 bytes, with
// precedence 6) and the echo reply. Builders return complete IPv4 packets with both checksums computed.
// Not supported: redirects, timestamps, address masks, and copying IP options into replies (RFC 1122
// 3.2.2.6 asks that Record Route and Timestamp be carried over; tapwire replies without options).
import { put16, put32 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { IP_PROTO, IPV4, ipv4Check, ipv4HeaderLen, ipv4Id, ipv4Src, ipv4Tos, ipv4TotalLen, isIpv4FirstFragment, isIpv4Fragment, writeIpv4Header } from './ipv4.js';

/** ICMP4 names the ICMP message types. */
export const ICMP4 = {
  ECHO_REPLY: 0,
  DEST_UNREACH: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  ROUTER_ADVERT: 9,
  ROUTER_SOLICIT: 10,
  TIME_EXCEEDED: 11,
  PARAM_PROBLEM: 12,
  TIMESTAMP: 13,
  TIMESTAMP_REPLY: 14,
} as const;

/** UNREACH names the Destination Unreachable codes (RFC 792, RFC 1812 5.2.7.1). */
export const UNREACH = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAG_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
  NET_UNKNOWN: 6,
  HOST_UNKNOWN: 7,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  ADMIN: 13,
} as const;

/** EXCEEDED names the Time Exceeded codes. */
export const EXCEEDED = { TTL: 0, REASSEMBLY: 1 } as const;

/** PARAM_PROBLEM names the Parameter Problem codes (0: the pointer in `rest` locates the bad byte). */
export const PARAM_PROBLEM = { POINTER: 0, MISSING_OPTION: 1, BAD_LENGTH: 2 } as const;

/** ICMP4_HDR holds the ICMP header field offsets; REST is the 4 bytes after the checksum (ID and SEQ in echoes). */
export const ICMP4_HDR = { TYPE: 0, CODE: 1, CSUM: 2, REST: 4, ID: 4, SEQ: 6, HEADER_LEN: 8 } as const;

/** ICMP4_ERROR_MAX is the largest ICMP error packet, IP header included (RFC 1812 4.3.2.3). */
export const ICMP4_ERROR_MAX = 576;

/**
 * isIcmp4ErrorType tells whether an ICMP type is an error: Destination Unreachable, Source Quench,
 * Redirect, Time Exceeded, Parameter Problem, and, as Linux's icmp_send assumes, any type above 18 that
 * this code does not know (better to stay silent about an unknown message than to answer an error).
 */
export function isIcmp4ErrorType(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12 || type > 18;
}

/**
 * isIcmp4Error tells whether the IPv4 packet of `len` bytes at `ipOff` is an ICMP error message, the
 * case in which a router must not send an ICMP error in turn (RFC 1812 4.3.2.7, RFC 1122 3.2.2). Only the
 * type byte is needed. When it cannot be read, the answer is false: a non-initial fragment (which gets
 * no ICMP error anyway, by the same rule; callers test isIpv4FirstFragment) or a packet that ends with
 * its IP header (it carries no ICMP message at all, so answering it cannot start a loop; Linux's
 * icmp_send stays silent there instead). It never reads outside `len` bytes.
 */
export function isIcmp4Error(buf: Uint8Array, ipOff: number, len: number): boolean {
  if (len < IPV4.MIN_HEADER || ipOff + len > buf.length) return false;
  if (buf[ipOff + IPV4.PROTO] !== IP_PROTO.ICMP) return false;
  if (!isIpv4FirstFragment(buf, ipOff)) return false;
  const end = Math.min(len, ipv4TotalLen(buf, ipOff));
  const hl = ipv4HeaderLen(buf, ipOff);
  if (hl >= end) return false;
  return isIcmp4ErrorType(buf[ipOff + hl]!);
}

/**
 * icmp4Error builds an ICMP error about `offending` (the received IP packet, from its header on, as it
 * arrived) and returns the complete IPv4 packet, addressed to the offending packet's source from `src`.
 * `rest` fills the 4 bytes after the checksum (the next-hop MTU in its low 16 bits for FRAG_NEEDED, the
 * pointer in its top 8 bits for PARAM_PROBLEM, 0 otherwise). The message quotes as much of the
 * offending packet (up to its total length) as keeps the whole error within 576 bytes (RFC 1812
 * 4.3.2.3). Precedence is 6, internetwork control (RFC 1812 4.3.2.5); the IP ID is the offending packet's,
 * which varies as its sender's does without keeping state here. The caller applies the rules about
 * when not to send (isIcmp4Error, non-initial fragments, broadcast and multicast, martian sources, rate
 * limiting). It throws a RangeError if `offending` is shorter than an IPv4 header.
 */
export function icmp4Error(type: number, code: number, rest: number, offending: Uint8Array, src: number, ttl = 64): Uint8Array {
  if (offending.length < IPV4.MIN_HEADER) throw new RangeError('the offending packet is shorter than an IPv4 header');
  let quote = offending.length;
  const total = ipv4TotalLen(offending, 0);
  if (total >= IPV4.MIN_HEADER && total < quote) quote = total;
  quote = Math.min(quote, ICMP4_ERROR_MAX - IPV4.MIN_HEADER - ICMP4_HDR.HEADER_LEN);
  const icmpLen = ICMP4_HDR.HEADER_LEN + quote;
  const out = new Uint8Array(IPV4.MIN_HEADER + icmpLen);
  writeIpv4Header(out, 0, { src, dst: ipv4Src(offending, 0), proto: IP_PROTO.ICMP, ttl, tos: 0xc0, id: ipv4Id(offending, 0) }, out.length);
  const i = IPV4.MIN_HEADER;
  out[i + ICMP4_HDR.TYPE] = type;
  out[i + ICMP4_HDR.CODE] = code;
  put32(out, i + ICMP4_HDR.REST, rest);
  out.set(offending.subarray(0, quote), i + ICMP4_HDR.HEADER_LEN);
  const csum = internetChecksum(out, i, icmpLen);
  put16(out, i + ICMP4_HDR.CSUM, csum);
  return out;
}

/**
 * echoReply4 answers an ICMP echo request (`request`: a whole IPv4 packet) with the complete reply packet
 * from `src` to the request's source, or returns null if `request` is not a valid echo request: it must
 * pass ipv4Check, be ICMP type 8, not be a fragment (tapwire does not reassemble), hold the 8-byte echo
 * header and have a valid ICMP checksum. Any code is accepted (as Linux does) and the reply has code 0.
 * The identifier, sequence number and data come back unchanged (RFC 792, RFC 1122 3.2.2.6); TOS and IP
 * ID are the request's; options are not copied.
 */
export function echoReply4(request: Uint8Array, src: number, ttl = 64): Uint8Array | null {
  if (ipv4Check(request, 0, request.length) !== null) return null;
  if (request[IPV4.PROTO] !== IP_PROTO.ICMP || isIpv4Fragment(request, 0)) return null;
  const hl = ipv4HeaderLen(request, 0);
  const icmpLen = ipv4TotalLen(request, 0) - hl;
  if (icmpLen < ICMP4_HDR.HEADER_LEN || request[hl] !== ICMP4.ECHO_REQUEST) return null;
  if (internetChecksum(request, hl, icmpLen) !== 0) return null;
  const out = new Uint8Array(IPV4.MIN_HEADER + icmpLen);
  writeIpv4Header(out, 0, { src, dst: ipv4Src(request, 0), proto: IP_PROTO.ICMP, ttl, tos: ipv4Tos(request, 0), id: ipv4Id(request, 0) }, out.length);
  const i = IPV4.MIN_HEADER;
  out.set(request.subarray(hl, hl + icmpLen), i);
  out[i + ICMP4_HDR.TYPE] = ICMP4.ECHO_REPLY;
  out[i + ICMP4_HDR.CODE] = 0;
  out[i + ICMP4_HDR.CSUM] = 0;
  out[i + ICMP4_HDR.CSUM + 1] = 0;
  const csum = internetChecksum(out, i, icmpLen);
  put16(out, i + ICMP4_HDR.CSUM, csum);
  return out;
}
