// The Internet checksum (RFC 1071) and its incremental update (RFC 1624), shared by IPv4, ICMP, ICMPv6,
// UDP and TCP. A partial sum is a plain non-negative integer: sum16 adds big-endian 16-bit words without
// folding, which stays exact in a double for any buffer below 2^36 bytes, so partial sums can be chained
// through `acc` freely; foldChecksum folds the carries back in once, at the end. Nothing here allocates.

/**
 * sum16 adds the `len` bytes at `off` to `acc` as big-endian 16-bit words, the last odd byte padded with a
 * zero on the right (RFC 1071 4.1). The result is an unfolded partial sum (any non-negative integer):
 * pass it on as `acc` or to foldChecksum. Only the last piece of a chain may have an odd length (an odd
 * piece in the middle would shift the bytes after it). It is exact as long as the total stays below 2^53, that is for
 * any input that fits in memory.
 */
export function sum16(buf: Uint8Array, off: number, len: number, acc = 0): number {
  const end = off + len;
  const even = off + (len & ~1);
  let i = off;
  for (; i < even; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) acc += buf[i]! << 8;
  return acc;
}

/**
 * foldChecksum folds a partial sum to 16 bits with end-around carry and returns its one's complement:
 * the value to store in a checksum field. A received header whose sum, checksum field included, folds
 * to 0xffff gives 0 here, which is how a checksum is verified.
 */
export function foldChecksum(acc: number): number {
  while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

/** internetChecksum is the RFC 1071 checksum of the `len` bytes at `off` (0 when they verify). */
export function internetChecksum(buf: Uint8Array, off: number, len: number): number {
  return foldChecksum(sum16(buf, off, len));
}

/**
 * pseudoHeaderSum4 is the partial sum of the IPv4 pseudo-header (RFC 793 3.1, RFC 768): source,
 * destination, protocol and the upper-layer length.
 */
export function pseudoHeaderSum4(src: number, dst: number, proto: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
}

/**
 * pseudoHeaderSum6 is the partial sum of the IPv6 pseudo-header (RFC 8200 8.1): the 16-byte source and
 * destination read from `buf` at `srcOff` and `dstOff`, the 32-bit upper-layer length and the next header.
 */
export function pseudoHeaderSum6(buf: Uint8Array, srcOff: number, dstOff: number, nextHeader: number, length: number): number {
  return sum16(buf, dstOff, 16, sum16(buf, srcOff, 16)) + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader;
}

/**
 * updateChecksum16 returns the checksum field after one 16-bit word of the covered data changed from
 * `oldWord` to `newWord`, by RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike eqn. 2 (HC - ~m - m') it gives
 * the same value as recomputing from scratch, including 0x0000 where the new sum is 0xffff (RFC 1624
 * section 4), provided `oldCsum` was itself computed in full and the data is not all zeros afterwards
 * (recomputation then gives 0xFFFF, this 0x0000, the other zero; an IP header never gets there).
 */
export function updateChecksum16(oldCsum: number, oldWord: number, newWord: number): number {
  return foldChecksum((~oldCsum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff));
}
