// What the router does to a packet's offload metadata, the virtio-net header it travels with, when it
// changes the packet around it: when the link-layer header in front of the IP header grows or goes (a TUN
// packet gets an Ethernet header, a frame leaves through a TUN), the header's frame-relative offsets move
// with it; when a packet with a partial checksum must be fragmented, the checksum is completed first,
// because nobody downstream would finish it on fragments. Both work in place on the header at `vnet`.
import { put16, put16le, u16le } from '../wire/bytes.js';
import { foldChecksum, sum16 } from '../wire/checksum.js';
import { IP_PROTO, ipv4TotalLen } from '../wire/ipv4.js';
import { VNET, VNET_FLAG, VNET_HDR_LEN } from '../wire/virtio-net.js';

/**
 * shiftVnet moves the frame-relative offsets of the vnet header at `off` by `delta` bytes, for a frame
 * whose link-layer header grew (delta > 0: an Ethernet header put in front of a TUN packet) or went away.
 */
export function shiftVnet(buf: Uint8Array, off: number, delta: number): void {
  if (delta === 0) return;
  if ((buf[off + VNET.FLAGS]! & VNET_FLAG.NEEDS_CSUM) !== 0) put16le(buf, off + VNET.CSUM_START, u16le(buf, off + VNET.CSUM_START) + delta);
  const hdrLen = u16le(buf, off + VNET.HDR_LEN);
  if (hdrLen !== 0) put16le(buf, off + VNET.HDR_LEN, Math.max(0, hdrLen + delta));
}

/**
 * finishChecksum completes a partial checksum (NEEDS_CSUM: the field holds the pseudo-header sum) of the
 * IPv4 packet `l2` bytes into the frame behind the vnet header at `vnet`, so the packet can be cut into
 * fragments, which the receiver's stack would otherwise never checksum.
 */
export function finishChecksum(buf: Uint8Array, vnet: number, l2: number): void {
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
