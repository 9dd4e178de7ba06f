// ARP (RFC 826) for Ethernet and IPv4 only: the 28-byte packet that follows an Ethernet header with
// EtherType 0x0806. MACs are 48-bit numbers (ethernet.ts), IPv4 addresses uint32 numbers (ipv4.ts).
// Not supported: other hardware or protocol types (parseArp returns null), RARP and InARP opcodes.
import { put16, put32, u16, u32 } from './bytes.js';
import { macAt, writeMac } from './ethernet.js';

/** ARP holds the ARP packet field offsets and its length for Ethernet/IPv4. */
export const ARP = { HTYPE: 0, PTYPE: 2, HLEN: 4, PLEN: 5, OPER: 6, SHA: 8, SPA: 14, THA: 18, TPA: 24, LEN: 28 } as const;

/** ARP_OP names the ARP operations. */
export const ARP_OP = { REQUEST: 1, REPLY: 2 } as const;

const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

/** ArpPacket is an Ethernet/IPv4 ARP packet taken apart. */
export interface ArpPacket {
  op: number;
  senderMac: number;
  senderIp: number;
  targetMac: number;
  targetIp: number;
}

/**
 * parseArp takes apart the ARP packet of `len` bytes at `off`, or returns null unless it is at least 28
 * bytes of Ethernet (htype 1, hlen 6) / IPv4 (ptype 0x0800, plen 4) with op 1 (request) or 2 (reply).
 * Bytes after the 28 (Ethernet padding) are ignored.
 */
export function parseArp(buf: Uint8Array, off: number, len: number): ArpPacket | null {
  if (len < ARP.LEN || off < 0 || off + ARP.LEN > buf.length) return null;
  if (u16(buf, off + ARP.HTYPE) !== HTYPE_ETHERNET || u16(buf, off + ARP.PTYPE) !== PTYPE_IPV4) return null;
  if (buf[off + ARP.HLEN] !== 6 || buf[off + ARP.PLEN] !== 4) return null;
  const op = u16(buf, off + ARP.OPER);
  if (op !== ARP_OP.REQUEST && op !== ARP_OP.REPLY) return null;
  return {
    op,
    senderMac: macAt(buf, off + ARP.SHA),
    senderIp: u32(buf, off + ARP.SPA),
    targetMac: macAt(buf, off + ARP.THA),
    targetIp: u32(buf, off + ARP.TPA),
  };
}

/** emitArp builds the 28-byte ARP packet for `a`; the caller puts the Ethernet header in front. */
export function emitArp(a: ArpPacket): Uint8Array {
  const out = new Uint8Array(ARP.LEN);
  put16(out, ARP.HTYPE, HTYPE_ETHERNET);
  put16(out, ARP.PTYPE, PTYPE_IPV4);
  out[ARP.HLEN] = 6;
  out[ARP.PLEN] = 4;
  put16(out, ARP.OPER, a.op);
  writeMac(a.senderMac, out, ARP.SHA);
  put32(out, ARP.SPA, a.senderIp);
  writeMac(a.targetMac, out, ARP.THA);
  put32(out, ARP.TPA, a.targetIp);
  return out;
}

/**
 * isGratuitousArp tells whether `a` announces its sender's own address (RFC 5227 3, RFC 5944 4.6): a
 * request or reply whose sender and target IP are the same, and not 0.0.0.0. A neighbour cache
 * updates an existing entry from one but should not create entries for every announcement it hears.
 */
export function isGratuitousArp(a: ArpPacket): boolean {
  return a.senderIp === a.targetIp && a.senderIp !== 0;
}

/**
 * isArpProbe tells whether `a` is an RFC 5227 2.1.1 probe: a request from sender IP 0.0.0.0, sent while a
 * host checks that an address is free. It must not update any cache (the sender has no address yet).
 */
export function isArpProbe(a: ArpPacket): boolean {
  return a.op === ARP_OP.REQUEST && a.senderIp === 0;
}
