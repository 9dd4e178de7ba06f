// IPv4 headers (RFC 791) as a router sees them (RFC 1812): the validity check done once on a received
// packet, accessors over (buf, off) that read in place, the TTL decrement with its incremental checksum
// update, the martian-address predicates, building and fragmenting. An address is a uint32 number
// ((a<<24|b<<16|c<<8|d)>>>0). The check, the accessors and decrementTtl4 never allocate; emitIpv4 and
// fragmentIpv4 return new arrays. Options are kept and copied as RFC 791 says, never interpreted.
import { put16, put32, u16, u32 } from './bytes.js';
import { foldChecksum, internetChecksum, sum16, updateChecksum16 } from './checksum.js';

/** IPV4 holds the IPv4 header field offsets and the size of a header without options. */
export const IPV4 = { VER_IHL: 0, TOS: 1, TOTAL_LEN: 2, ID: 4, FLAGS_FRAG: 6, TTL: 8, PROTO: 9, CSUM: 10, SRC: 12, DST: 16, MIN_HEADER: 20 } as const;

/** IP_PROTO names the IP protocol numbers (IANA), shared by IPv4's protocol and IPv6's next header. */
export const IP_PROTO = {
  HOPOPT: 0,
  ICMP: 1,
  IGMP: 2,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  IPV6_ROUTE: 43,
  IPV6_FRAG: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  IPV6_NONXT: 59,
  IPV6_OPTS: 60,
} as const;

/** IPV4_MIN_MTU is the smallest MTU an IPv4 link may have (RFC 791: 68 octets). */
export const IPV4_MIN_MTU = 68;

/** IPV4_MAX_HEADER is the largest header, IHL 15. */
export const IPV4_MAX_HEADER = 60;

const FLAG_DF = 0x40; // in the FLAGS_FRAG byte
const FLAG_MF = 0x20;
const FRAG_OFFSET_MASK = 0x1fff;

/** Ipv4Fault names why ipv4Check rejected a packet; each one is a drop reason for the router. */
export type Ipv4Fault = 'ip_short' | 'ip_version' | 'ip_header_len' | 'ip_total_len' | 'ip_checksum';

/**
 * ipv4Check validates a received packet of `len` bytes at `off` as RFC 1812 5.2.2 asks: at least 20
 * bytes, version 4, IHL at least 5, a total length that covers the header and fits in `len`, and a header
 * checksum that verifies. It returns null when the packet passes; after that no accessor in this file
 * reads outside the header, and ipv4TotalLen bytes are there (bytes beyond it, e.g. Ethernet padding,
 * are not part of the packet). A `len` reaching past the end of `buf` counts as 'ip_short'.
 */
export function ipv4Check(buf: Uint8Array, off: number, len: number): Ipv4Fault | null {
  if (len < IPV4.MIN_HEADER || off < 0 || off + len > buf.length) return 'ip_short';
  const verIhl = buf[off]!;
  if (verIhl >>> 4 !== 4) return 'ip_version';
  const hl = (verIhl & 0x0f) * 4;
  if (hl < IPV4.MIN_HEADER) return 'ip_header_len';
  const total = u16(buf, off + IPV4.TOTAL_LEN);
  if (total < hl || total > len) return 'ip_total_len';
  if (foldChecksum(sum16(buf, off, hl)) !== 0) return 'ip_checksum';
  return null;
}

/** ipv4Src reads the source address. */
export function ipv4Src(buf: Uint8Array, off: number): number {
  return u32(buf, off + IPV4.SRC);
}

/** ipv4Dst reads the destination address. */
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return u32(buf, off + IPV4.DST);
}

/** ipv4HeaderLen reads the header length in bytes (IHL * 4), options included. */
export function ipv4HeaderLen(buf: Uint8Array, off: number): number {
  return (buf[off]! & 0x0f) * 4;
}

/** ipv4TotalLen reads the total length in bytes, header included. */
export function ipv4TotalLen(buf: Uint8Array, off: number): number {
  return u16(buf, off + IPV4.TOTAL_LEN);
}

/** ipv4Tos reads the type-of-service byte (DSCP and ECN). */
export function ipv4Tos(buf: Uint8Array, off: number): number {
  return buf[off + IPV4.TOS]!;
}

/** ipv4Id reads the identification field. */
export function ipv4Id(buf: Uint8Array, off: number): number {
  return u16(buf, off + IPV4.ID);
}

/** ipv4Ttl reads the time to live. */
export function ipv4Ttl(buf: Uint8Array, off: number): number {
  return buf[off + IPV4.TTL]!;
}

/** ipv4Proto reads the protocol number (IP_PROTO). */
export function ipv4Proto(buf: Uint8Array, off: number): number {
  return buf[off + IPV4.PROTO]!;
}

/** ipv4DontFragment tells whether DF is set. */
export function ipv4DontFragment(buf: Uint8Array, off: number): boolean {
  return (buf[off + IPV4.FLAGS_FRAG]! & FLAG_DF) !== 0;
}

/** ipv4MoreFragments tells whether MF is set. */
export function ipv4MoreFragments(buf: Uint8Array, off: number): boolean {
  return (buf[off + IPV4.FLAGS_FRAG]! & FLAG_MF) !== 0;
}

/** ipv4FragOffset reads the fragment offset in bytes (the field counts 8-byte units). */
export function ipv4FragOffset(buf: Uint8Array, off: number): number {
  return (u16(buf, off + IPV4.FLAGS_FRAG) & FRAG_OFFSET_MASK) * 8;
}

/**
 * isIpv4FirstFragment tells whether the packet carries the start of its datagram (fragment offset 0),
 * so the transport header follows the IP header: true for every unfragmented packet too. RFC 1812
 * 4.3.2.7 forbids ICMP errors about any packet for which this is false.
 */
export function isIpv4FirstFragment(buf: Uint8Array, off: number): boolean {
  return (u16(buf, off + IPV4.FLAGS_FRAG) & FRAG_OFFSET_MASK) === 0;
}

/** isIpv4Fragment tells whether the packet is a piece of a larger datagram (MF set or a non-zero offset). */
export function isIpv4Fragment(buf: Uint8Array, off: number): boolean {
  return (u16(buf, off + IPV4.FLAGS_FRAG) & (FRAG_OFFSET_MASK | (FLAG_MF << 8))) !== 0;
}

/**
 * decrementTtl4 lowers the TTL by one in place and patches the header checksum incrementally (RFC 1624
 * eqn. 3 on the TTL/protocol word), so a valid header stays valid; it returns the new TTL. The router
 * checks the TTL first (RFC 1812 5.3.1: a packet whose TTL would reach 0 is dropped with Time Exceeded,
 * not forwarded); a TTL already 0 is left alone and 0 is returned.
 */
export function decrementTtl4(buf: Uint8Array, off: number): number {
  const ttl = buf[off + IPV4.TTL]!;
  if (ttl === 0) return 0;
  const proto = buf[off + IPV4.PROTO]!;
  const oldCsum = u16(buf, off + IPV4.CSUM);
  const csum = updateChecksum16(oldCsum, (ttl << 8) | proto, ((ttl - 1) << 8) | proto);
  buf[off + IPV4.TTL] = ttl - 1;
  put16(buf, off + IPV4.CSUM, csum);
  return ttl - 1;
}

// Martian addresses (RFC 1812 5.3.7, with the special-purpose registry of RFC 6890). What a forwarding
// router refuses, as source and as destination:
//   0.0.0.0/8     "this network": never a source on the wire (0.0.0.0 only while a host has no address,
//                 e.g. DHCP, which a router delivers locally but never forwards), never a destination.
//   127.0.0.0/8   loopback: never seen on a wire in either direction.
//   224.0.0.0/4   multicast: never a source (RFC 1812 5.3.7). As a destination it is legal but not
//                 forwarded by a unicast router; that is a separate rule, isMulticast4, not a martian.
//   240.0.0.0/4   reserved ("class E"), which includes 255.255.255.255: never a source. As a destination,
//                 martian except 255.255.255.255, the limited broadcast, which is received but never
//                 forwarded (RFC 1812 5.3.5.1); that is isLimitedBroadcast4, also not a martian.
// Link-local 169.254.0.0/16 is not martian (hosts use it on the link) but must not be forwarded in either
// direction (RFC 3927 7): isLinkLocal4. Private ranges (RFC 1918) and shared space are routable here.

/** isMartianSource4 tells whether `addr` may never be the source of a packet a router forwards (see above). */
export function isMartianSource4(addr: number): boolean {
  const a = addr >>> 24;
  return a === 0 || a === 127 || a >= 224;
}

/**
 * isMartianDestination4 tells whether `addr` may never be the destination of a packet on the wire (see
 * above): 0/8, 127/8 and 240/4 but for 255.255.255.255. Multicast is not martian.
 */
export function isMartianDestination4(addr: number): boolean {
  const a = addr >>> 24;
  return a === 0 || a === 127 || (a >= 240 && addr >>> 0 !== 0xffffffff);
}

/** isMulticast4 tells whether `addr` is in 224.0.0.0/4, which a unicast router does not forward. */
export function isMulticast4(addr: number): boolean {
  return addr >>> 28 === 0xe;
}

/** isLimitedBroadcast4 tells whether `addr` is 255.255.255.255, delivered on the link but never forwarded. */
export function isLimitedBroadcast4(addr: number): boolean {
  return addr >>> 0 === 0xffffffff;
}

/** isLinkLocal4 tells whether `addr` is in 169.254.0.0/16, which a router must not forward (RFC 3927 7). */
export function isLinkLocal4(addr: number): boolean {
  return addr >>> 16 === 0xa9fe;
}

/** formatIpv4 turns an address into dotted-quad text. */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/**
 * parseIpv4 turns dotted-quad text into an address; it throws a RangeError on anything else, including
 * leading zeros ("010.0.0.1", which inet_aton would read as octal) and the short forms ("10.1").
 */
export function parseIpv4(text: string): number {
  const m = typeof text === 'string' ? DOTTED_QUAD.exec(text) : null;
  if (m === null) throw new RangeError(`not an IPv4 address (want a.b.c.d): ${JSON.stringify(text)}`);
  let addr = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) throw new RangeError(`IPv4 address part above 255: ${JSON.stringify(text)}`);
    addr = addr * 256 + n;
  }
  return addr;
}

/** Ipv4Fields are what emitIpv4 needs to build a header; tos and id default to 0, dontFragment to false. */
export interface Ipv4Fields {
  src: number;
  dst: number;
  proto: number;
  ttl: number;
  tos?: number;
  id?: number;
  dontFragment?: boolean;
}

/**
 * writeIpv4Header writes a 20-byte header (no options) for a packet of `totalLen` bytes at `off`, checksum
 * computed, so a builder can lay the payload behind it without a second copy.
 */
export function writeIpv4Header(buf: Uint8Array, off: number, h: Ipv4Fields, totalLen: number): void {
  buf[off + IPV4.VER_IHL] = 0x45;
  buf[off + IPV4.TOS] = (h.tos ?? 0) & 0xff;
  put16(buf, off + IPV4.TOTAL_LEN, totalLen);
  put16(buf, off + IPV4.ID, (h.id ?? 0) & 0xffff);
  buf[off + IPV4.FLAGS_FRAG] = h.dontFragment === true ? FLAG_DF : 0;
  buf[off + IPV4.FLAGS_FRAG + 1] = 0;
  buf[off + IPV4.TTL] = h.ttl & 0xff;
  buf[off + IPV4.PROTO] = h.proto & 0xff;
  put16(buf, off + IPV4.CSUM, 0);
  put32(buf, off + IPV4.SRC, h.src);
  put32(buf, off + IPV4.DST, h.dst);
  put16(buf, off + IPV4.CSUM, internetChecksum(buf, off, IPV4.MIN_HEADER));
}

/**
 * emitIpv4 builds a packet with a 20-byte header (no options) in front of `payload`, checksum computed.
 * It throws a RangeError if the packet would exceed 65535 bytes.
 */
export function emitIpv4(h: Ipv4Fields, payload: Uint8Array): Uint8Array {
  const total = IPV4.MIN_HEADER + payload.length;
  if (total > 0xffff) throw new RangeError(`IPv4 packet of ${total} bytes exceeds 65535`);
  const out = new Uint8Array(total);
  writeIpv4Header(out, 0, h, total);
  out.set(payload, IPV4.MIN_HEADER);
  return out;
}

/**
 * fragmentIpv4 cuts a packet into fragments of at most `mtu` bytes as RFC 791 does: the data of every
 * fragment but the last is a multiple of 8 bytes; the first fragment keeps the whole header with all its
 * options, later ones only the options whose copied flag is set (padded with End of Option List to a
 * 4-byte boundary); offsets count from the packet's own fragment offset, and the last piece keeps the
 * packet's own MF, so a fragment can be fragmented again. Checksums are recomputed. A packet that already
 * fits is returned as a single copy. Bytes past the total length (link padding) are ignored.
 * It throws a RangeError if `mtu` is below 68, if the packet does not pass ipv4Check, if it needs
 * fragmenting but has DF set (the caller sends Fragmentation Needed instead), or if its options are
 * malformed (an option running past the header or with a length below 2), or if a fragment's offset
 * would not fit the 13-bit field (a hostile fragment near the end of the 64 KiB datagram space).
 */
export function fragmentIpv4(packet: Uint8Array, mtu: number): Uint8Array[] {
  if (!(mtu >= IPV4_MIN_MTU)) throw new RangeError(`MTU ${mtu} is below the IPv4 minimum of ${IPV4_MIN_MTU}`);
  const fault = ipv4Check(packet, 0, packet.length);
  if (fault !== null) throw new RangeError(`not a valid IPv4 packet: ${fault}`);
  const total = ipv4TotalLen(packet, 0);
  if (total <= mtu) return [packet.slice(0, total)];
  if (ipv4DontFragment(packet, 0)) throw new RangeError(`packet of ${total} bytes has DF set and exceeds MTU ${mtu}`);

  const hl = ipv4HeaderLen(packet, 0);
  const copied = copiedOptions(packet, hl);
  const laterHl = (IPV4.MIN_HEADER + copied.length + 3) & ~3;
  const baseOffset = ipv4FragOffset(packet, 0);
  const lastMf = ipv4MoreFragments(packet, 0);
  const dataLen = total - hl;
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < dataLen) {
    const first = pos === 0;
    const fhl = first ? hl : laterHl;
    const room = (mtu - fhl) & ~7;
    const take = Math.min(room, dataLen - pos);
    const last = pos + take === dataLen;
    const frag = new Uint8Array(fhl + take);
    if (first) {
      frag.set(packet.subarray(0, hl), 0);
    } else {
      frag.set(packet.subarray(0, IPV4.MIN_HEADER), 0);
      frag.set(copied, IPV4.MIN_HEADER); // the padding after it stays 0: End of Option List
      frag[IPV4.VER_IHL] = 0x40 | (fhl >>> 2);
    }
    put16(frag, IPV4.TOTAL_LEN, fhl + take);
    const units = (baseOffset + pos) / 8;
    if (units > FRAG_OFFSET_MASK) throw new RangeError('fragment offset beyond 65528');
    const mf = last ? lastMf : true;
    frag[IPV4.FLAGS_FRAG] = (mf ? FLAG_MF : 0) | (units >>> 8);
    frag[IPV4.FLAGS_FRAG + 1] = units & 0xff;
    put16(frag, IPV4.CSUM, 0);
    put16(frag, IPV4.CSUM, internetChecksum(frag, 0, fhl));
    frag.set(packet.subarray(hl + pos, hl + pos + take), fhl);
    out.push(frag);
    pos += take;
  }
  return out;
}

/** copiedOptions returns the options of the header (length `hl`) whose copied flag (0x80) is set. */
function copiedOptions(packet: Uint8Array, hl: number): Uint8Array {
  const keep: number[] = [];
  let p = IPV4.MIN_HEADER;
  while (p < hl) {
    const type = packet[p]!;
    if (type === 0) break; // End of Option List
    if (type === 1) {
      p++; // No Operation: copied flag clear
      continue;
    }
    if (p + 1 >= hl) throw new RangeError(`IPv4 option ${type} runs past the header`);
    const olen = packet[p + 1]!;
    if (olen < 2 || p + olen > hl) throw new RangeError(`IPv4 option ${type} has a bad length ${olen}`);
    if ((type & 0x80) !== 0) for (let i = 0; i < olen; i++) keep.push(packet[p + i]!);
    p += olen;
  }
  return Uint8Array.from(keep);
}
