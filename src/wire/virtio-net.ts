// The virtio-net header (struct virtio_net_hdr_v1, 12 bytes) that the kernel puts in front of every frame
// of a TUN/TAP opened with IFF_VNET_HDR, and expects in front of every frame written to it. tapwire uses
// one size everywhere (TUNSETVNETHDRSZ 12), so a received header can be passed on untouched. Fields are
// little-endian (the host order on the machines tapwire runs on; the kernel's legacy default).
import { put16le, u16le } from './bytes.js';

/** VNET_HDR_LEN is the header size used on every device. */
export const VNET_HDR_LEN = 12;

/** VNET holds the header field offsets. */
export const VNET = { FLAGS: 0, GSO_TYPE: 1, HDR_LEN: 2, GSO_SIZE: 4, CSUM_START: 6, CSUM_OFFSET: 8, NUM_BUFFERS: 10 } as const;

/** VNET_FLAG holds the flag bits. */
export const VNET_FLAG = { NEEDS_CSUM: 1, DATA_VALID: 2, RSC_INFO: 4 } as const;

/** GSO holds the gso_type values (ECN is a bit on top of the type). */
export const GSO = { NONE: 0, TCPV4: 1, UDP: 3, TCPV6: 4, UDP_L4: 5, ECN: 0x80 } as const;

/** VnetHeader is a parsed virtio-net header. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  numBuffers: number;
}

/** parseVnetHeader reads the header at `off`; the caller has checked that 12 bytes are there. */
export function parseVnetHeader(buf: Uint8Array, off = 0): VnetHeader {
  return {
    flags: buf[off + VNET.FLAGS]!,
    gsoType: buf[off + VNET.GSO_TYPE]!,
    hdrLen: u16le(buf, off + VNET.HDR_LEN),
    gsoSize: u16le(buf, off + VNET.GSO_SIZE),
    csumStart: u16le(buf, off + VNET.CSUM_START),
    csumOffset: u16le(buf, off + VNET.CSUM_OFFSET),
    numBuffers: u16le(buf, off + VNET.NUM_BUFFERS),
  };
}

/** emitVnetHeader writes `h` at `off`. */
export function emitVnetHeader(h: VnetHeader, buf: Uint8Array, off = 0): void {
  buf[off + VNET.FLAGS] = h.flags;
  buf[off + VNET.GSO_TYPE] = h.gsoType;
  put16le(buf, off + VNET.HDR_LEN, h.hdrLen);
  put16le(buf, off + VNET.GSO_SIZE, h.gsoSize);
  put16le(buf, off + VNET.CSUM_START, h.csumStart);
  put16le(buf, off + VNET.CSUM_OFFSET, h.csumOffset);
  put16le(buf, off + VNET.NUM_BUFFERS, h.numBuffers);
}

/** isGsoAt tells whether the header at `off` describes a GSO frame (one that will be segmented later). */
export function isGsoAt(buf: Uint8Array, off: number): boolean {
  return (buf[off + VNET.GSO_TYPE]! & ~GSO.ECN) !== GSO.NONE;
}

/** gsoSizeAt reads gso_size of the header at `off`. */
export function gsoSizeAt(buf: Uint8Array, off: number): number {
  return u16le(buf, off + VNET.GSO_SIZE);
}

/**
 * vnetHeaderValid checks a received header against the frame of `frameLen` bytes behind it: a known GSO
 * type with a non-zero gso_size, and a checksum request that lies inside the frame. The kernel would
 * refuse to take a frame that fails this (EINVAL), so the bridge drops it on ingress instead.
 */
export function vnetHeaderValid(buf: Uint8Array, off: number, frameLen: number): boolean {
  const type = buf[off + VNET.GSO_TYPE]! & ~GSO.ECN;
  if (type !== GSO.NONE) {
    if (type !== GSO.TCPV4 && type !== GSO.TCPV6 && type !== GSO.UDP && type !== GSO.UDP_L4) return false;
    if (u16le(buf, off + VNET.GSO_SIZE) === 0) return false;
  }
  if ((buf[off + VNET.FLAGS]! & VNET_FLAG.NEEDS_CSUM) !== 0) {
    if (u16le(buf, off + VNET.CSUM_START) + u16le(buf, off + VNET.CSUM_OFFSET) + 2 > frameLen) return false;
  }
  return true;
}

/** IPV6_EXT_MAX is how many IPv6 extension headers gsoSegmentLength walks before it gives up on a packet. */
const IPV6_EXT_MAX = 8;

/**
 * gsoSegmentLength returns the IP length of each segment a GSO frame will be cut into: its network and
 * transport headers plus gso_size, which is what the bridge and the router compare with an egress MTU.
 * The header lengths are read from the packet itself whatever the flags say (IPv4 IHL, or IPv6's 40
 * bytes and its extension headers; TCP's data offset, or 8 for UDP), as the kernel's
 * skb_gso_validate_network_len does: hdr_len and csum_start are the sender's word and may be 0 (a
 * header without NEEDS_CSUM), so they are never used. The transport header is taken to be what the GSO
 * type says (TCP for TCPV4/TCPV6, UDP otherwise); whether the packet agrees (IP version, protocol) is
 * segmentFrame's check (bad_gso) at a port without offloads, the kernel's at one with them. It returns
 * -1 when the lengths cannot be read: not IPv4 or IPv6, an IHL or TCP data offset below the minimum,
 * more than IPV6_EXT_MAX extension headers, or headers cut by the end of the frame. Such a frame has no
 * segment size and is dropped (bad_gso), never passed on as if it fitted. `off` is the vnet header, the
 * frame follows it (`frameLen` bytes); `l3Start` is where the IP header starts in the frame (0 on a
 * routed link).
 */
export function gsoSegmentLength(buf: Uint8Array, off: number, frameLen: number, l3Start: number): number {
  const type = buf[off + VNET.GSO_TYPE]! & ~GSO.ECN;
  const l3 = off + VNET_HDR_LEN + l3Start;
  const end = off + VNET_HDR_LEN + frameLen;
  if (l3 + 1 > end) return -1;
  const version = buf[l3]! >>> 4;
  let l4: number;
  if (version === 4) {
    const ihl = (buf[l3]! & 0x0f) * 4;
    if (ihl < 20 || l3 + ihl > end) return -1;
    l4 = l3 + ihl;
  } else if (version === 6) {
    if (l3 + 40 > end) return -1;
    l4 = l3 + 40;
    let proto = buf[l3 + 6]!;
    // Hop-by-Hop, Routing, Destination Options, Fragment and AH come before the transport header.
    for (let n = 0; proto === 0 || proto === 43 || proto === 60 || proto === 44 || proto === 51; n++) {
      if (n === IPV6_EXT_MAX || l4 + 8 > end) return -1;
      const next = buf[l4]!;
      l4 += proto === 44 ? 8 : proto === 51 ? (buf[l4 + 1]! + 2) * 4 : (buf[l4 + 1]! + 1) * 8;
      proto = next;
    }
  } else {
    return -1;
  }
  let l4Header = 8;
  if (type === GSO.TCPV4 || type === GSO.TCPV6) {
    if (l4 + 13 > end) return -1;
    l4Header = (buf[l4 + 12]! >>> 4) * 4;
    if (l4Header < 20) return -1;
  }
  if (l4 + l4Header > end) return -1;
  return l4 - l3 + l4Header + gsoSizeAt(buf, off);
}
