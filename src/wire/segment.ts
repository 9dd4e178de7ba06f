// Software offload completion: what the kernel's validate_xmit_skb does for a device without offloads,
// done in tapwire for the ports that cannot take a virtio-net header (a unix socket speaking QEMU's
// framing, an AF_PACKET netdev opened without offloads). A frame arrives behind its 12-byte header; it
// leaves as plain Ethernet frames a receiver without offloads accepts:
//   - nothing to do (no NEEDS_CSUM, no GSO): the Ethernet frame itself, a subarray of the input;
//   - NEEDS_CSUM alone: the frame with its checksum completed, as skb_checksum_help does (the field holds
//     the pseudo-header sum, CHECKSUM_PARTIAL style, so the sum runs from csum_start to the end of the
//     frame; a result of 0 is written 0xffff, for UDP's sake and, as Linux does, for everyone);
//   - GSO TCPV4/TCPV6 (TSO): gso_size-byte TCP segments, each with copied Ethernet/IP/TCP headers, its own
//     IPv4 total length, ID (+1 per segment, as inet_gso_segment) and header checksum or IPv6 payload
//     length, its own sequence number, FIN and PSH on the last segment only, CWR on the first only, and a
//     full TCP checksum;
//   - GSO UDP_L4 (USO): gso_size-byte UDP datagrams, each with its UDP length, IP length/ID/checksum and a
//     full UDP checksum (0 written 0xffff).
// Refused, with a reason: the legacy GSO_UDP (UFO, which would need IP fragmentation), IPv6 Routing,
// Fragment, AH and ESP headers (Hop-by-Hop and Destination Options are copied like the rest of the
// header), QinQ and double tags, headers longer than SEGMENT_MAX_HEADER, and more than MAX_SEGMENTS
// segments (an amplification guard: a 64 KiB frame with gso_size 1 would be 65535 frames).
//
// Hot-path choices: nothing throws on what is in the frame; a frame that cannot be completed gives a
// SegmentFault (one closed union, the drop reason to count) and nothing is emitted for it, since every
// check runs before the first segment is written. The segments are built one after another in a scratch
// buffer the caller owns (SEGMENT_SCRATCH_LEN bytes, allocated once per worker), so there is no
// per-segment buffer: each is handed to `emit` as a view, and the views stay valid until the scratch is
// used again, which lets the caller either write each at once or collect the batch for one sendmmsg.
// The input is never written to (a flooded frame may still go out with its header to other ports). The
// only per-segment allocations are two subarray views (the payload copy and the emitted frame). Checksums
// are recomputed from scratch over each segment rather than patched from the GSO frame's field, so a
// sender's odd pseudo-header sum (full length, zero length, or none) cannot leak into the output.
import { put16, put32, u16, u16le, u32 } from './bytes.js';
import { foldChecksum, internetChecksum, pseudoHeaderSum4, pseudoHeaderSum6, sum16 } from './checksum.js';
import { ETH, ETHERTYPE, VLAN_TAG_LEN } from './ethernet.js';
import { IPV4, IP_PROTO } from './ipv4.js';
import { IPV6 } from './ipv6.js';
import { GSO, VNET, VNET_FLAG, VNET_HDR_LEN } from './virtio-net.js';

/**
 * SEGMENT_FAULTS lists why segmentFrame refuses a frame. 'runt' and 'bad_vnet_hdr' carry the meaning they
 * have in DROP_REASONS; the others are about GSO:
 *   runt               shorter than the virtio-net header plus an Ethernet header (or outside `buf`);
 *   bad_vnet_hdr       the header alone is wrong, whatever the packet: an unknown GSO type, gso_size 0
 *                      with a GSO type, csum_start + csum_offset + 2 beyond the frame, hdr_len beyond
 *                      the frame (GSO), a frame longer than MAX_FRAME_LEN;
 *   bad_gso            the header does not match the packet: a GSO type for another protocol or IP
 *                      version, IP/TCP/UDP lengths that do not add up to the frame, csum_start not at
 *                      the transport header or csum_offset not its checksum field, an IPv4 fragment;
 *   unsupported_gso    well formed, but not done here: UFO, IPv6 Routing/Fragment/AH/ESP headers,
 *                      QinQ, headers longer than SEGMENT_MAX_HEADER;
 *   too_many_segments  more than MAX_SEGMENTS segments.
 */
export const SEGMENT_FAULTS = ['runt', 'bad_vnet_hdr', 'bad_gso', 'unsupported_gso', 'too_many_segments'] as const;

/** SegmentFault is one of SEGMENT_FAULTS. */
export type SegmentFault = (typeof SEGMENT_FAULTS)[number];

/** SegmentSink receives each output frame; the view is valid until the scratch buffer is used again. */
export type SegmentSink = (frame: Uint8Array) => void;

/**
 * MAX_SEGMENTS is the most segments one GSO frame may be cut into: 64 KiB at an MSS of 128. Linux
 * caps USO at UDP_MAX_SEGMENTS (128 or 256 by version); TCP senders keep MSS far above 128 in practice.
 */
export const MAX_SEGMENTS = 512;

/** SEGMENT_MAX_HEADER is the longest header (Ethernet, tag, IP with options or extensions, TCP/UDP) copied into each segment. */
export const SEGMENT_MAX_HEADER = 256;

/** MAX_FRAME_LEN is the longest Ethernet frame taken: a 65535-byte IP packet behind a tagged Ethernet header. */
export const MAX_FRAME_LEN = ETH.HEADER_LEN + VLAN_TAG_LEN + 0xffff;

/** SEGMENT_SCRATCH_LEN is the scratch size segmentFrame needs: room for every header copy and the whole frame. */
export const SEGMENT_SCRATCH_LEN = MAX_SEGMENTS * SEGMENT_MAX_HEADER + MAX_FRAME_LEN;

const TCP = { SEQ: 4, DATA_OFF: 12, FLAGS: 13, CSUM: 16, MIN_HEADER: 20 } as const;
const UDP = { LEN: 4, CSUM: 6, HEADER_LEN: 8 } as const;
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;
const IPV4_MF_OFFSET = 0x3fff; // MF and the fragment offset in the FLAGS_FRAG word

/**
 * needsSoftwareOffload tells whether the frame behind the virtio-net header at `off` needs segmentFrame
 * before it may leave by a port without offloads: NEEDS_CSUM is set or the GSO type is not NONE. Two
 * byte reads; the caller has checked that the header is there.
 */
export function needsSoftwareOffload(buf: Uint8Array, off: number): boolean {
  return (buf[off + VNET.FLAGS]! & VNET_FLAG.NEEDS_CSUM) !== 0 || (buf[off + VNET.GSO_TYPE]! & ~GSO.ECN) !== GSO.NONE;
}

/**
 * segmentFrame turns the `len` bytes at `off` (a virtio-net header, then an Ethernet frame, optionally
 * with one 802.1Q tag) into plain Ethernet frames, handing each to `emit` in order (see the file comment
 * for what is done to them). It returns null when the frame went out, as one frame or as segments, or the
 * SegmentFault that kept it from going out, in which case `emit` was not called. A frame that needs
 * nothing is emitted as a subarray of `buf`; every other output is a view into `scratch`, valid until
 * `scratch` is passed again. The input is not modified. `scratch` must hold SEGMENT_SCRATCH_LEN bytes
 * (a RangeError otherwise: a caller's bug, not the frame's); an exception thrown by `emit` propagates.
 */
export function segmentFrame(buf: Uint8Array, off: number, len: number, scratch: Uint8Array, emit: SegmentSink): SegmentFault | null {
  if (scratch.length < SEGMENT_SCRATCH_LEN) throw new RangeError(`segment scratch of ${scratch.length} bytes, need ${SEGMENT_SCRATCH_LEN}`);
  if (!(off >= 0) || !(len >= VNET_HDR_LEN + ETH.HEADER_LEN) || off + len > buf.length) return 'runt';
  const f = off + VNET_HDR_LEN;
  const frameLen = len - VNET_HDR_LEN;
  const needsCsum = (buf[off + VNET.FLAGS]! & VNET_FLAG.NEEDS_CSUM) !== 0;
  const type = buf[off + VNET.GSO_TYPE]! & ~GSO.ECN;
  const csumStart = u16le(buf, off + VNET.CSUM_START);
  const csumOffset = u16le(buf, off + VNET.CSUM_OFFSET);

  if (type === GSO.NONE) {
    if (!needsCsum) {
      emit(buf.subarray(f, f + frameLen));
      return null;
    }
    if (frameLen > MAX_FRAME_LEN || csumStart + csumOffset + 2 > frameLen) return 'bad_vnet_hdr';
    scratch.set(buf.subarray(f, f + frameLen), 0);
    const at = csumStart + csumOffset;
    const c = foldChecksum(sum16(scratch, csumStart, frameLen - csumStart)) || 0xffff;
    put16(scratch, at, c);
    emit(scratch.subarray(0, frameLen));
    return null;
  }

  // The header on its own.
  if (type !== GSO.TCPV4 && type !== GSO.TCPV6 && type !== GSO.UDP_L4 && type !== GSO.UDP) return 'bad_vnet_hdr';
  const gsoSize = u16le(buf, off + VNET.GSO_SIZE);
  if (gsoSize === 0) return 'bad_vnet_hdr';
  if (needsCsum && csumStart + csumOffset + 2 > frameLen) return 'bad_vnet_hdr';
  // hdr_len is a hint (Linux senders put skb_headlen there, which may reach into the payload); like
  // tun_get_user, only check that it lies inside the frame, and take the real length from the packet.
  if (u16le(buf, off + VNET.HDR_LEN) > frameLen) return 'bad_vnet_hdr';
  if (frameLen > MAX_FRAME_LEN) return 'bad_vnet_hdr';
  if (type === GSO.UDP) return 'unsupported_gso';

  // The packet against the header. Offsets l3, l4 and hdrEnd count from the start of the Ethernet frame.
  const tcp = type !== GSO.UDP_L4;
  const proto = tcp ? IP_PROTO.TCP : IP_PROTO.UDP;
  let l3 = ETH.HEADER_LEN;
  let etherType = u16(buf, f + ETH.TYPE);
  if (etherType === ETHERTYPE.VLAN) {
    if (frameLen < ETH.HEADER_LEN + VLAN_TAG_LEN) return 'bad_gso';
    l3 += VLAN_TAG_LEN;
    etherType = u16(buf, f + ETH.TYPE + VLAN_TAG_LEN);
  }
  const v4 = etherType === ETHERTYPE.IPV4;
  let l4: number;
  if (v4) {
    if (type === GSO.TCPV6 || frameLen < l3 + IPV4.MIN_HEADER) return 'bad_gso';
    const ip = f + l3;
    const hl = (buf[ip]! & 0x0f) * 4;
    if (buf[ip]! >>> 4 !== 4 || hl < IPV4.MIN_HEADER || l3 + hl > frameLen) return 'bad_gso';
    if (u16(buf, ip + IPV4.TOTAL_LEN) !== frameLen - l3) return 'bad_gso';
    if ((u16(buf, ip + IPV4.FLAGS_FRAG) & IPV4_MF_OFFSET) !== 0) return 'bad_gso';
    if (buf[ip + IPV4.PROTO] !== proto) return 'bad_gso';
    l4 = l3 + hl;
  } else if (etherType === ETHERTYPE.IPV6) {
    if (type === GSO.TCPV4 || frameLen < l3 + IPV6.HEADER_LEN) return 'bad_gso';
    const ip = f + l3;
    if (buf[ip]! >>> 4 !== 6 || u16(buf, ip + IPV6.PAYLOAD_LEN) !== frameLen - l3 - IPV6.HEADER_LEN) return 'bad_gso';
    const at = ipv6TransportOffset(buf, f, l3, frameLen, proto);
    if (typeof at === 'string') return at;
    l4 = at;
  } else if (etherType === ETHERTYPE.VLAN || etherType === ETHERTYPE.QINQ) {
    return 'unsupported_gso';
  } else {
    return 'bad_gso';
  }
  let hdrEnd: number;
  if (tcp) {
    if (l4 + TCP.MIN_HEADER > frameLen) return 'bad_gso';
    const thl = (buf[f + l4 + TCP.DATA_OFF]! >>> 4) * 4;
    if (thl < TCP.MIN_HEADER || l4 + thl > frameLen) return 'bad_gso';
    hdrEnd = l4 + thl;
  } else {
    if (l4 + UDP.HEADER_LEN > frameLen || u16(buf, f + l4 + UDP.LEN) !== frameLen - l4) return 'bad_gso';
    hdrEnd = l4 + UDP.HEADER_LEN;
  }
  if (needsCsum && (csumStart !== l4 || csumOffset !== (tcp ? TCP.CSUM : UDP.CSUM))) return 'bad_gso';
  if (hdrEnd > SEGMENT_MAX_HEADER) return 'unsupported_gso';
  const payload = frameLen - hdrEnd;
  const segments = payload === 0 ? 1 : Math.ceil(payload / gsoSize);
  if (segments > MAX_SEGMENTS) return 'too_many_segments';

  // Every check passed: cut. Segment i goes at `o` in scratch; its header is copied from the frame.
  const ipHl = l4 - l3;
  const ipId = v4 ? u16(buf, f + l3 + IPV4.ID) : 0;
  const src4 = v4 ? u32(buf, f + l3 + IPV4.SRC) : 0;
  const dst4 = v4 ? u32(buf, f + l3 + IPV4.DST) : 0;
  const seq = tcp ? u32(buf, f + l4 + TCP.SEQ) : 0;
  const tcpFlags = tcp ? buf[f + l4 + TCP.FLAGS]! : 0;
  const csumAt = tcp ? TCP.CSUM : UDP.CSUM;
  let o = 0;
  let pos = hdrEnd;
  for (let i = 0; i < segments; i++) {
    const take = Math.min(gsoSize, frameLen - pos);
    const segLen = hdrEnd + take;
    for (let j = 0; j < hdrEnd; j++) scratch[o + j] = buf[f + j]!;
    if (take > 0) scratch.set(buf.subarray(f + pos, f + pos + take), o + hdrEnd);
    const ip = o + l3;
    const th = o + l4;
    const l4Len = segLen - l4;
    if (v4) {
      put16(scratch, ip + IPV4.TOTAL_LEN, segLen - l3);
      put16(scratch, ip + IPV4.ID, (ipId + i) & 0xffff);
      put16(scratch, ip + IPV4.CSUM, 0);
      put16(scratch, ip + IPV4.CSUM, internetChecksum(scratch, ip, ipHl));
    } else {
      put16(scratch, ip + IPV6.PAYLOAD_LEN, segLen - l3 - IPV6.HEADER_LEN);
    }
    if (tcp) {
      put32(scratch, th + TCP.SEQ, seq + i * gsoSize);
      let fl = tcpFlags & ~(TCP_FIN | TCP_PSH);
      if (i > 0) fl &= ~TCP_CWR;
      if (i === segments - 1) fl |= tcpFlags & (TCP_FIN | TCP_PSH);
      scratch[th + TCP.FLAGS] = fl;
    } else {
      put16(scratch, th + UDP.LEN, l4Len);
    }
    put16(scratch, th + csumAt, 0);
    const pseudo = v4 ? pseudoHeaderSum4(src4, dst4, proto, l4Len) : pseudoHeaderSum6(scratch, ip + IPV6.SRC, ip + IPV6.DST, proto, l4Len);
    let c = foldChecksum(sum16(scratch, th, l4Len, pseudo));
    if (!tcp && c === 0) c = 0xffff; // RFC 768: 0 means "no checksum"
    put16(scratch, th + csumAt, c);
    emit(scratch.subarray(o, o + segLen));
    o += segLen;
    pos += take;
  }
  return null;
}

/**
 * ipv6TransportOffset walks the extension headers of the IPv6 packet at frame offset `l3` to the one
 * that should be `proto`, and returns its frame offset. Hop-by-Hop (first only) and Destination Options
 * are stepped over; Routing (the pseudo-header would need the final destination), Fragment, AH and ESP
 * are 'unsupported_gso'; any other next header, or a header running past the frame, is 'bad_gso'.
 */
function ipv6TransportOffset(buf: Uint8Array, f: number, l3: number, frameLen: number, proto: number): number | SegmentFault {
  let nh = buf[f + l3 + IPV6.NEXT_HEADER]!;
  let p = l3 + IPV6.HEADER_LEN;
  for (;;) {
    if (nh === proto) return p;
    if (nh === IP_PROTO.IPV6_OPTS || (nh === IP_PROTO.HOPOPT && p === l3 + IPV6.HEADER_LEN)) {
      if (p + 8 > frameLen) return 'bad_gso';
      nh = buf[f + p]!;
      p += (buf[f + p + 1]! + 1) * 8;
      if (p > frameLen) return 'bad_gso';
      if (p > SEGMENT_MAX_HEADER) return 'unsupported_gso';
      continue;
    }
    if (nh === IP_PROTO.IPV6_ROUTE || nh === IP_PROTO.IPV6_FRAG || nh === IP_PROTO.AH || nh === IP_PROTO.ESP) return 'unsupported_gso';
    return 'bad_gso';
  }
}
