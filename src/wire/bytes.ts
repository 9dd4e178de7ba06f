// Byte access: the one home of the integer reads and writes every protocol file needs. Network headers are
// big-endian (u16, u32, put16, put32); the virtio-net header is little-endian (u16le, put16le: virtio 1.0,
// and what a TUN/TAP with IFF_VNET_HDR speaks on the little-endian hosts tapwire runs on).
//
// Contract shared by all of them: the caller has checked that the bytes are there (a wire view checks the
// length of untrusted input once, then reads without bounds checks); reads return unsigned values; writes
// store `v` modulo 2^16 or 2^32 (so a sequence number advanced past the wrap, or -1, is stored as the
// field's bits), like a C store into a uint16_t/uint32_t. They allocate nothing and are small enough for V8
// to inline at every call site.

/** u16 reads the big-endian unsigned 16-bit integer at buf[off]. */
export function u16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/** u32 reads the big-endian unsigned 32-bit integer at buf[off] (an IPv4 address, a sequence number). */
export function u32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** put16 stores `v` modulo 2^16 at buf[off], big-endian. */
export function put16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 8) & 0xff;
  buf[off + 1] = v & 0xff;
}

/** put32 stores `v` modulo 2^32 at buf[off], big-endian. */
export function put32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = (v >>> 24) & 0xff;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/** u16le reads the little-endian unsigned 16-bit integer at buf[off] (a virtio-net header field). */
export function u16le(buf: Uint8Array, off: number): number {
  return buf[off]! | (buf[off + 1]! << 8);
}

/** put16le stores `v` modulo 2^16 at buf[off], little-endian. */
export function put16le(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
}
