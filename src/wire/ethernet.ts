// Ethernet II frames: header offsets, MAC address keys and the group-address predicates the bridge uses.
// A MAC address is handled as a 48-bit integer key (exact in a JS number), read straight from the frame.
// VLAN tags (IEEE 802.1Q C-tag 0x8100, 802.1ad S-tag 0x88a8) are recognised here once, by their tag
// protocol identifier in the EtherType position (isVlanTpid, vlanTagLenAt, l3OffsetAt): every layer that
// must step over a tag or refuse a tagged frame asks these, so "tagged" means the same thing everywhere.
import { put16, put32, u16, u32 } from './bytes.js';

/** ETH holds the Ethernet header field offsets. */
export const ETH = { DST: 0, SRC: 6, TYPE: 12, HEADER_LEN: 14 } as const;

/** ETHERTYPE names the EtherTypes tapwire looks at. */
export const ETHERTYPE = { IPV4: 0x0800, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8, IPV6: 0x86dd } as const;

/** VLAN_TAG_LEN is the size of one 802.1Q tag. */
export const VLAN_TAG_LEN = 4;

/**
 * isVlanTpid tells whether `etherType`, read where a frame's EtherType sits, is a VLAN tag protocol
 * identifier: 0x8100 (802.1Q customer tag) or 0x88a8 (802.1ad service tag, QinQ). The frame then carries a
 * 4-byte tag there, and its real EtherType follows the tag.
 */
export function isVlanTpid(etherType: number): boolean {
  return etherType === ETHERTYPE.VLAN || etherType === ETHERTYPE.QINQ;
}

/** BROADCAST is ff:ff:ff:ff:ff:ff as a key. */
export const BROADCAST = 0xffff_ffff_ffff;

const TWO_POW_32 = 0x1_0000_0000;

/** macAt reads the MAC address at `off` as a 48-bit key; the caller has checked the bounds. */
export function macAt(buf: Uint8Array, off: number): number {
  return u16(buf, off) * TWO_POW_32 + u32(buf, off + 2);
}

/** writeMac stores a 48-bit key as six bytes at `off`. */
export function writeMac(key: number, buf: Uint8Array, off: number): void {
  const hi = Math.floor(key / TWO_POW_32);
  const lo = key >>> 0;
  put16(buf, off, hi);
  put32(buf, off + 2, lo);
}

/** isGroupMac tells whether a key is a group (multicast or broadcast) address: the I/G bit is set. */
export function isGroupMac(key: number): boolean {
  return Math.floor(key / 0x100_0000_0000) % 2 === 1;
}

/** isGroupMacAt is isGroupMac on the address at `off`, without building a key. */
export function isGroupMacAt(buf: Uint8Array, off: number): boolean {
  return (buf[off]! & 1) === 1;
}

/**
 * isReservedGroupAt tells whether the address at `off` is one of 01:80:C2:00:00:00-0F, the IEEE 802.1D
 * link-local group a bridge must never relay (STP, LACP, 802.1X, LLDP, pause frames).
 */
export function isReservedGroupAt(buf: Uint8Array, off: number): boolean {
  return buf[off] === 0x01 && buf[off + 1] === 0x80 && buf[off + 2] === 0xc2 && buf[off + 3] === 0x00 && buf[off + 4] === 0x00 && (buf[off + 5]! & 0xf0) === 0;
}

/** isZeroMacAt tells whether the address at `off` is 00:00:00:00:00:00, never a valid source. */
export function isZeroMacAt(buf: Uint8Array, off: number): boolean {
  return (buf[off]! | buf[off + 1]! | buf[off + 2]! | buf[off + 3]! | buf[off + 4]! | buf[off + 5]!) === 0;
}

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** parseMac turns "02:00:5e:10:00:01" into a key; it throws a RangeError on anything else. */
export function parseMac(text: string): number {
  if (!MAC_RE.test(text)) throw new RangeError(`not a MAC address (want six hex pairs with colons): ${JSON.stringify(text)}`);
  return parseInt(text.replaceAll(':', ''), 16);
}

/** isMac tells whether `text` is a MAC address in colon notation. */
export function isMac(text: string): boolean {
  return MAC_RE.test(text);
}

/** formatMac turns a key into lower-case colon notation. */
export function formatMac(key: number): string {
  return key
    .toString(16)
    .padStart(12, '0')
    .replace(/(..)(?!$)/g, '$1:');
}

/** macBytes turns a key into six bytes. */
export function macBytes(key: number): Uint8Array {
  const out = new Uint8Array(6);
  writeMac(key, out, 0);
  return out;
}

/** EthernetHeader is a parsed Ethernet II header. */
export interface EthernetHeader {
  dst: number;
  src: number;
  etherType: number;
}

/** parseEthernet reads the header of `frame`, or returns undefined if it is shorter than one. */
export function parseEthernet(frame: Uint8Array): EthernetHeader | undefined {
  if (frame.length < ETH.HEADER_LEN) return undefined;
  return { dst: macAt(frame, ETH.DST), src: macAt(frame, ETH.SRC), etherType: u16(frame, ETH.TYPE) };
}

/** emitEthernet builds a frame from a header and a payload. */
export function emitEthernet(h: EthernetHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(ETH.HEADER_LEN + payload.length);
  writeMac(h.dst, out, ETH.DST);
  writeMac(h.src, out, ETH.SRC);
  put16(out, ETH.TYPE, h.etherType);
  out.set(payload, ETH.HEADER_LEN);
  return out;
}

/** etherTypeAt reads the EtherType of the frame that starts at `off`. */
export function etherTypeAt(buf: Uint8Array, off: number): number {
  return u16(buf, off + ETH.TYPE);
}

/**
 * vlanTagLenAt returns VLAN_TAG_LEN (4) when the frame that starts at `off` carries a VLAN tag (its
 * EtherType field, buf[off + 12..14), holds 0x8100 or 0x88a8), else 0. It looks at the outer tag only; the
 * caller has checked that the 14-byte header is there.
 */
export function vlanTagLenAt(buf: Uint8Array, off: number): number {
  return isVlanTpid(etherTypeAt(buf, off)) ? VLAN_TAG_LEN : 0;
}

/**
 * l3OffsetAt returns where the network header of the frame at `off` starts, counted from `off`: 14, or 18
 * behind one VLAN tag. A second (inner) tag is not stepped over: the bytes at 18 are then that tag.
 */
export function l3OffsetAt(buf: Uint8Array, off: number): number {
  return ETH.HEADER_LEN + vlanTagLenAt(buf, off);
}
