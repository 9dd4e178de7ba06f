// IPv6 headers (RFC 8200) as a router sees them: the validity check done once on a received packet,
// accessors and address predicates over (buf, off) that read in place, address text in and out, the
// multicast mappings NDP needs, and building. An address is 16 bytes: a Uint8Array of its own, or a
// position (buf, off) inside a packet. The check, accessors and predicates never allocate.
// Not supported: jumbograms (RFC 2675); extension headers are left to the callers that need them.
import { put16, u16, u32 } from './bytes.js';
import { parseIpv4 } from './ipv4.js';
import { writeMac } from './ethernet.js';

/** IPV6 holds the IPv6 header field offsets and the size of the fixed header. */
export const IPV6 = { VER_TC_FLOW: 0, PAYLOAD_LEN: 4, NEXT_HEADER: 6, HOP_LIMIT: 7, SRC: 8, DST: 24, HEADER_LEN: 40 } as const;

/** IPV6_MIN_MTU is the smallest MTU an IPv6 link may have (RFC 8200 5), the limit for ICMPv6 errors. */
export const IPV6_MIN_MTU = 1280;

/** ALL_NODES6 is ff02::1, the link-scope all-nodes group. Shared: never write into it. */
export const ALL_NODES6: Uint8Array = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

/** ALL_ROUTERS6 is ff02::2, the link-scope all-routers group. Shared: never write into it. */
export const ALL_ROUTERS6: Uint8Array = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2);

/** UNSPECIFIED6 is ::, the source of a node that has no address yet. Shared: never write into it. */
export const UNSPECIFIED6: Uint8Array = new Uint8Array(16);

/**
 * Ipv6Fault names why ipv6Check rejected a packet; 'ip_short' and 'ip_version' mean what they do for
 * IPv4, so the router counts both families under the same reasons.
 */
export type Ipv6Fault = 'ip_short' | 'ip_version' | 'ip_total_len';

/**
 * ipv6Check validates a received packet of `len` bytes at `off`: at least the 40-byte header, version 6,
 * and a payload length with 40 + payload length <= len. A payload length of 0 with a Hop-by-Hop header
 * next is a jumbogram (RFC 2675), which tapwire does not support: 'ip_total_len'. A payload length of 0
 * with any other next header is an empty packet (e.g. No Next Header, 59) and passes, as in Linux's
 * ipv6_rcv. It returns null when the packet passes; after that the fixed header can be read and
 * 40 + ipv6PayloadLen bytes are there. A `len` reaching past the end of `buf` counts as 'ip_short'.
 */
export function ipv6Check(buf: Uint8Array, off: number, len: number): Ipv6Fault | null {
  if (len < IPV6.HEADER_LEN || off < 0 || off + len > buf.length) return 'ip_short';
  if (buf[off]! >>> 4 !== 6) return 'ip_version';
  const plen = ipv6PayloadLen(buf, off);
  if (plen === 0 && buf[off + IPV6.NEXT_HEADER] === 0) return 'ip_total_len';
  if (IPV6.HEADER_LEN + plen > len) return 'ip_total_len';
  return null;
}

/** ipv6PayloadLen reads the payload length: the bytes after the fixed header, extension headers included. */
export function ipv6PayloadLen(buf: Uint8Array, off: number): number {
  return u16(buf, off + IPV6.PAYLOAD_LEN);
}

/** ipv6NextHeader reads the next header (IP_PROTO numbering). */
export function ipv6NextHeader(buf: Uint8Array, off: number): number {
  return buf[off + IPV6.NEXT_HEADER]!;
}

/** ipv6HopLimit reads the hop limit. */
export function ipv6HopLimit(buf: Uint8Array, off: number): number {
  return buf[off + IPV6.HOP_LIMIT]!;
}

/** ipv6TrafficClass reads the traffic class (DSCP and ECN). */
export function ipv6TrafficClass(buf: Uint8Array, off: number): number {
  return ((buf[off]! & 0x0f) << 4) | (buf[off + 1]! >>> 4);
}

/** ipv6FlowLabel reads the 20-bit flow label. */
export function ipv6FlowLabel(buf: Uint8Array, off: number): number {
  return ((buf[off + 1]! & 0x0f) << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
}

/**
 * decrementHopLimit6 lowers the hop limit by one in place and returns the new value (IPv6 has no header
 * checksum to patch). As with decrementTtl4 the router checks first (RFC 8200 3: a packet whose hop
 * limit would reach 0 is dropped with Time Exceeded); a hop limit already 0 is left alone.
 */
export function decrementHopLimit6(buf: Uint8Array, off: number): number {
  const hl = buf[off + IPV6.HOP_LIMIT]!;
  if (hl === 0) return 0;
  buf[off + IPV6.HOP_LIMIT] = hl - 1;
  return hl - 1;
}

/** isMulticast6 tells whether the address at `off` is multicast (ff00::/8). */
export function isMulticast6(buf: Uint8Array, off: number): boolean {
  return buf[off] === 0xff;
}

/** isLinkLocal6 tells whether the address at `off` is link-local unicast (fe80::/10), never forwarded (RFC 4291 2.5.6). */
export function isLinkLocal6(buf: Uint8Array, off: number): boolean {
  return buf[off] === 0xfe && (buf[off + 1]! & 0xc0) === 0x80;
}

/** isUnspecified6 tells whether the address at `off` is :: (RFC 4291 2.5.2). */
export function isUnspecified6(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0) return false;
  return true;
}

/** isLoopback6 tells whether the address at `off` is ::1 (RFC 4291 2.5.3). */
export function isLoopback6(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 15; i++) if (buf[off + i] !== 0) return false;
  return buf[off + 15] === 1;
}

/** isIpv4Mapped6 tells whether the address at `off` is IPv4-mapped (::ffff:0:0/96, RFC 4291 2.5.5.2). */
export function isIpv4Mapped6(buf: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (buf[off + i] !== 0) return false;
  return buf[off + 10] === 0xff && buf[off + 11] === 0xff;
}

/**
 * isMartianSource6 tells whether the address at `off` may never be the source of a packet received from
 * a link: multicast (RFC 4291 2.7), loopback ::1 (RFC 4291 2.5.3) and IPv4-mapped ::ffff:0:0/96 (RFC 4291
 * 2.5.5.2 gives it to IPv4-only nodes inside a dual stack; Linux's ip6_rcv_core drops it, after
 * draft-itojun-v6ops-v4mapped-harmful). The unspecified address :: is not included: NDP's duplicate
 * address detection sends from it on the link (RFC 4862 5.4.2), so the forwarding path refuses it itself
 * (RFC 4291 2.5.2: never forwarded). Link-local sources are legal on the link and not forwarded
 * (isLinkLocal6).
 */
export function isMartianSource6(buf: Uint8Array, off: number): boolean {
  return isMulticast6(buf, off) || isLoopback6(buf, off) || isIpv4Mapped6(buf, off);
}

/**
 * isMartianDestination6 tells whether the address at `off` may never be the destination of a packet
 * received from a link: the unspecified address (RFC 4291 2.5.2), loopback (RFC 4291 2.5.3: dropped when
 * received on an interface), IPv4-mapped (as for sources), and multicast of scope 0, reserved, or 1,
 * interface-local (RFC 4291 2.7: scope 0 must be dropped; interface-local is loopback-only, as Linux's
 * ip6_rcv_core enforces).
 */
export function isMartianDestination6(buf: Uint8Array, off: number): boolean {
  if (isMulticast6(buf, off)) return (buf[off + 1]! & 0x0f) <= 1;
  return isUnspecified6(buf, off) || isLoopback6(buf, off) || isIpv4Mapped6(buf, off);
}

/**
 * ipv6Equal tells whether the 16 bytes at `a[aOff]` and `b[bOff]` are the same address (or, with
 * `bytes`, the same first `bytes` bytes: a prefix test on whole bytes).
 */
export function ipv6Equal(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, bytes = 16): boolean {
  for (let i = 0; i < bytes; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

// Address text is parsed and formatted here rather than with the ip-address package (which cidr.ts uses):
// that package accepts more than an address (zone ids "%eth0", prefixes "/64"), which every caller would
// have to filter out, goes through BigInt and objects, and its correctForm does not write IPv4-mapped
// addresses in the mixed notation RFC 5952 5 recommends. Both directions are short and exact; the tests
// check them against ip-address on random addresses.

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * parseIpv6 turns any RFC 4291 2.2 text form into 16 bytes: eight groups of 1 to 4 hex digits, "::" once
 * for one or more zero groups, and a dotted-quad IPv4 address as the last 32 bits. It throws a RangeError
 * on anything else, including zone ids ("fe80::1%eth0"), prefixes ("/64"), brackets, and a "::" that
 * stands for no group at all ("1::2:3:4:5:6:7:8").
 */
export function parseIpv6(text: string): Uint8Array {
  const bad = (): RangeError => new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) throw bad();
  const halves = text.split('::');
  if (halves.length > 2) throw bad();
  const compressed = halves.length === 2;
  const head = groups(halves[0]!, !compressed, bad);
  const tail = compressed ? groups(halves[1]!, true, bad) : [];
  if (compressed ? head.length + tail.length > 7 : head.length !== 8) throw bad();
  const out = new Uint8Array(16);
  head.forEach((w, i) => put16(out, i * 2, w));
  tail.forEach((w, i) => put16(out, 16 - (tail.length - i) * 2, w));
  return out;
}

/** groups parses colon-separated hex groups into 16-bit words; a dotted quad may end them if `v4Last`. */
function groups(part: string, v4Last: boolean, bad: () => RangeError): number[] {
  if (part === '') return [];
  const pieces = part.split(':');
  const words: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (HEX_GROUP.test(p)) {
      words.push(parseInt(p, 16));
    } else if (v4Last && i === pieces.length - 1 && p.includes('.')) {
      let v4: number;
      try {
        v4 = parseIpv4(p);
      } catch {
        throw bad();
      }
      words.push(v4 >>> 16, v4 & 0xffff);
    } else {
      throw bad();
    }
  }
  return words;
}

/**
 * formatIpv6 writes the address at `off` in the canonical text form of RFC 5952: lower-case hex without
 * leading zeros, the longest run of two or more zero groups (the first of equal runs) as "::", and an
 * IPv4-mapped address as ::ffff:a.b.c.d (section 5). Other embedded-IPv4 forms stay in hex.
 */
export function formatIpv6(buf: Uint8Array, off = 0): string {
  if (isIpv4Mapped6(buf, off)) return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(u16(buf, off + i * 2));
  let bestAt = -1;
  let bestLen = 1; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(w);
  return `${hex(w.slice(0, bestAt))}::${hex(w.slice(bestAt + bestLen))}`;
}

/** solicitedNodeAddress returns ff02::1:ffXX:XXXX, the group of the last 24 bits of `target` (RFC 4291 2.7.1). */
export function solicitedNodeAddress(target: Uint8Array, off = 0): Uint8Array {
  const out = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0);
  out[13] = target[off + 13]!;
  out[14] = target[off + 14]!;
  out[15] = target[off + 15]!;
  return out;
}

const SOLICITED_PREFIX = Uint8Array.of(0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff);

/** isSolicitedNode6 tells whether the address at `off` is a solicited-node group, ff02::1:ff00:0/104. */
export function isSolicitedNode6(buf: Uint8Array, off: number): boolean {
  return ipv6Equal(buf, off, SOLICITED_PREFIX, 0, 13);
}

/** multicastMac6 returns the Ethernet group address of an IPv6 multicast address: 33:33 and its last 4 bytes (RFC 2464 7). */
export function multicastMac6(addr: Uint8Array, off = 0): number {
  return 0x3333 * 0x1_0000_0000 + u32(addr, off + 12);
}

/**
 * linkLocalFromMac returns fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291
 * appendix A, RFC 2464 4): ff:fe inserted in the middle and the universal/local bit inverted.
 */
export function linkLocalFromMac(mac: number): Uint8Array {
  const m = new Uint8Array(6);
  writeMac(mac, m, 0);
  return Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0]! ^ 0x02, m[1]!, m[2]!, 0xff, 0xfe, m[3]!, m[4]!, m[5]!);
}

/** Ipv6Fields are what emitIpv6 needs to build a header; trafficClass and flowLabel default to 0. */
export interface Ipv6Fields {
  src: Uint8Array;
  dst: Uint8Array;
  nextHeader: number;
  hopLimit: number;
  trafficClass?: number;
  flowLabel?: number;
}

/**
 * writeIpv6Header writes the 40-byte header for a payload of `payloadLen` bytes at `off`, so a builder can
 * lay the payload behind it without a second copy. It throws a RangeError if an address is not 16 bytes.
 */
export function writeIpv6Header(buf: Uint8Array, off: number, h: Ipv6Fields, payloadLen: number): void {
  if (h.src.length !== 16 || h.dst.length !== 16) throw new RangeError('IPv6 addresses are 16 bytes');
  const tc = (h.trafficClass ?? 0) & 0xff;
  const flow = (h.flowLabel ?? 0) & 0xfffff;
  buf[off] = 0x60 | (tc >>> 4);
  buf[off + 1] = ((tc & 0x0f) << 4) | (flow >>> 16);
  buf[off + 2] = (flow >>> 8) & 0xff;
  buf[off + 3] = flow & 0xff;
  put16(buf, off + IPV6.PAYLOAD_LEN, payloadLen);
  buf[off + IPV6.NEXT_HEADER] = h.nextHeader & 0xff;
  buf[off + IPV6.HOP_LIMIT] = h.hopLimit & 0xff;
  buf.set(h.src, off + IPV6.SRC);
  buf.set(h.dst, off + IPV6.DST);
}

/**
 * emitIpv6 builds a packet with a 40-byte header in front of `payload` (which holds any extension
 * headers). It throws a RangeError if the payload exceeds 65535 bytes (no jumbograms) or an address is not
 * 16 bytes long.
 */
export function emitIpv6(h: Ipv6Fields, payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`IPv6 payload of ${payload.length} bytes exceeds 65535`);
  const out = new Uint8Array(IPV6.HEADER_LEN + payload.length);
  writeIpv6Header(out, 0, h, payload.length);
  out.set(payload, IPV6.HEADER_LEN);
  return out;
}
