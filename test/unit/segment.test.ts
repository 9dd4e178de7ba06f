import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_SEGMENTS, SEGMENT_FAULTS, SEGMENT_SCRATCH_LEN, type SegmentFault, needsSoftwareOffload, segmentFrame } from '../../src/wire/segment.js';
import { GSO } from '../../src/wire/virtio-net.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const scratch = new Uint8Array(SEGMENT_SCRATCH_LEN);

/** run segments the whole of `input` (vnet header at 0) and returns the result with copies of the frames. */
function run(input: Uint8Array): { fault: SegmentFault | null; frames: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  const fault = segmentFrame(input, 0, input.length, scratch, (f) => frames.push(f.slice()));
  return { fault, frames };
}

// ---- an independent checksum: 32-bit reads through a DataView, folded with a different loop ----------

/** refSum is the folded (not complemented) one's complement sum of the parts laid end to end. */
function refSum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts.map((p) => Buffer.from(p)));
  const padded = new Uint8Array(all.length + 4);
  padded.set(all);
  const v = new DataView(padded.buffer);
  let s = 0n;
  for (let i = 0; i < all.length; i += 4) s += BigInt(v.getUint32(i));
  while (s > 0xffffn) s = (s & 0xffffn) + (s >> 16n);
  return Number(s);
}

function pseudo4(ip: Uint8Array, proto: number, len: number): Uint8Array {
  const b = new Uint8Array(12);
  b.set(ip.subarray(12, 20), 0);
  b[9] = proto;
  new DataView(b.buffer).setUint16(10, len);
  return b;
}

function pseudo6(ip: Uint8Array, proto: number, len: number): Uint8Array {
  const b = new Uint8Array(40);
  b.set(ip.subarray(8, 40), 0);
  new DataView(b.buffer).setUint32(32, len);
  b[39] = proto;
  return b;
}

interface Parsed {
  l3: number;
  l4: number;
  v6: boolean;
  proto: number;
  hdrEnd: number;
}

/**
 * verifyFrame takes an output frame apart on its own (Ethernet, one tag, IPv4 or IPv6 with Hop-by-Hop
 * and Destination Options, TCP or UDP) and checks every length and checksum in it. It returns the layout,
 * or throws through assert.
 */
function verifyFrame(f: Uint8Array): Parsed {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  let l3 = 14;
  let type = v.getUint16(12);
  if (type === 0x8100) {
    type = v.getUint16(16);
    l3 = 18;
  }
  let l4: number;
  let proto: number;
  const v6 = type === 0x86dd;
  if (type === 0x0800) {
    const ihl = (f[l3]! & 0x0f) * 4;
    assert.equal(f[l3]! >>> 4, 4);
    assert.equal(v.getUint16(l3 + 2), f.length - l3, 'IPv4 total length');
    assert.equal(refSum(f.subarray(l3, l3 + ihl)), 0xffff, 'IPv4 header checksum');
    proto = f[l3 + 9]!;
    l4 = l3 + ihl;
  } else {
    assert.equal(type, 0x86dd);
    assert.equal(v.getUint16(l3 + 4), f.length - l3 - 40, 'IPv6 payload length');
    proto = f[l3 + 6]!;
    l4 = l3 + 40;
    while (proto === 0 || proto === 60) {
      proto = f[l4]!;
      l4 += (f[l4 + 1]! + 1) * 8;
    }
  }
  const ip = f.subarray(l3);
  const l4Len = f.length - l4;
  const ph = v6 ? pseudo6(ip, proto, l4Len) : pseudo4(ip, proto, l4Len);
  let hdrEnd: number;
  if (proto === 6) {
    hdrEnd = l4 + (f[l4 + 12]! >>> 4) * 4;
  } else {
    assert.equal(proto, 17);
    assert.equal(v.getUint16(l4 + 4), l4Len, 'UDP length');
    assert.notEqual(v.getUint16(l4 + 6), 0, 'a UDP checksum is never sent as 0');
    hdrEnd = l4 + 8;
  }
  assert.equal(refSum(ph, f.subarray(l4)), 0xffff, 'transport checksum');
  return { l3, l4, v6, proto, hdrEnd };
}

// ---- a frame builder (independent of src/wire) ------------------------------------------------------

const SRC4 = Uint8Array.of(10, 0, 0, 1);
const DST4 = Uint8Array.of(10, 0, 1, 1);
const SRC6 = hex('20010db8000000000000000000000001');
const DST6 = hex('20010db8000000000000000000000002');

interface Spec {
  payload: Uint8Array;
  gsoSize: number;
  v6?: boolean;
  udp?: boolean;
  vlan?: boolean;
  gsoType?: number;
  needsCsum?: boolean;
  hdrLen?: number;
  seq?: number;
  tcpFlags?: number;
  ipId?: number;
  tcpOptWords?: number;
  ipOptWords?: number;
  /** ext is IPv6 extension headers placed after the fixed header; the fixed header's next header is extFirst. */
  ext?: Uint8Array;
  extFirst?: number;
}

interface Built {
  frame: Uint8Array;
  tcp: boolean;
  l3: number;
  l4: number;
  hdrEnd: number;
}

/**
 * build lays out a GSO (or, with gsoType NONE, a plain NEEDS_CSUM) frame as a Linux sender would: a
 * virtio-net header, Ethernet, IPv4 (correct header checksum) or IPv6, TCP (timestamps-like NOP
 * options) or UDP, whose checksum field holds the folded pseudo-header sum (CHECKSUM_PARTIAL).
 */
function build(s: Spec): Built {
  const udp = s.udp === true;
  const v6 = s.v6 === true;
  const proto = udp ? 17 : 6;
  const l3 = s.vlan === true ? 18 : 14;
  const ipHl = v6 ? 40 + (s.ext?.length ?? 0) : 20 + 4 * (s.ipOptWords ?? 0);
  const l4 = l3 + ipHl;
  const thl = udp ? 8 : 20 + 4 * (s.tcpOptWords ?? 0);
  const hdrEnd = l4 + thl;
  const frameLen = hdrEnd + s.payload.length;
  const out = new Uint8Array(12 + frameLen);
  const v = new DataView(out.buffer);
  const type = s.gsoType ?? (udp ? GSO.UDP_L4 : v6 ? GSO.TCPV6 : GSO.TCPV4);
  out[0] = s.needsCsum === false ? 0 : 1;
  out[1] = type;
  v.setUint16(2, s.hdrLen ?? hdrEnd, true);
  v.setUint16(4, s.gsoSize, true);
  v.setUint16(6, l4, true);
  v.setUint16(8, udp ? 6 : 16, true);
  const f = out.subarray(12);
  const fv = new DataView(f.buffer, f.byteOffset);
  f.set(hex('020000000002 020000000001'), 0);
  if (s.vlan === true) {
    fv.setUint16(12, 0x8100);
    fv.setUint16(14, 0x2064); // PCP 1, VLAN 100
  }
  fv.setUint16(l3 - 2, v6 ? 0x86dd : 0x0800);
  if (v6) {
    fv.setUint32(l3, 0x60012345); // flow label 0x12345
    fv.setUint16(l3 + 4, frameLen - l3 - 40);
    f[l3 + 6] = s.ext !== undefined ? s.extFirst! : proto;
    f[l3 + 7] = 64;
    f.set(SRC6, l3 + 8);
    f.set(DST6, l3 + 24);
    if (s.ext !== undefined) f.set(s.ext, l3 + 40);
  } else {
    f[l3] = 0x40 | (ipHl / 4);
    f[l3 + 1] = 0x02; // ECT(0)
    fv.setUint16(l3 + 2, frameLen - l3);
    fv.setUint16(l3 + 4, s.ipId ?? 0x1c46);
    fv.setUint16(l3 + 6, 0x4000);
    f[l3 + 8] = 64;
    f[l3 + 9] = proto;
    f.set(SRC4, l3 + 12);
    f.set(DST4, l3 + 16);
    f.fill(1, l3 + 20, l3 + ipHl); // NOP options
    fv.setUint16(l3 + 10, ~refSum(f.subarray(l3, l3 + ipHl)) & 0xffff);
  }
  if (udp) {
    fv.setUint16(l4, 40000);
    fv.setUint16(l4 + 2, 4789);
    fv.setUint16(l4 + 4, frameLen - l4);
  } else {
    fv.setUint16(l4, 0xa1b2);
    fv.setUint16(l4 + 2, 5201);
    fv.setUint32(l4 + 4, s.seq ?? 1000);
    fv.setUint32(l4 + 8, 0x01020304);
    f[l4 + 12] = (thl / 4) << 4;
    f[l4 + 13] = s.tcpFlags ?? 0x18;
    fv.setUint16(l4 + 14, 0xfaf0);
    f.fill(1, l4 + 20, hdrEnd);
  }
  f.set(s.payload, hdrEnd);
  const ip = f.subarray(l3);
  const ph = v6 ? pseudo6(ip, proto, frameLen - l4) : pseudo4(ip, proto, frameLen - l4);
  fv.setUint16(l4 + (udp ? 6 : 16), refSum(ph));
  return { frame: out, tcp: !udp, l3, l4, hdrEnd };
}

function pattern(n: number, seed = 7): Uint8Array {
  const p = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = x & 0xff;
  }
  return p;
}

/**
 * checkSegments asserts what must hold between a GSO input and its segments: each verifies on its own,
 * the header bytes that are not rewritten are the input's, IPv4 IDs count up, TCP sequence numbers are
 * contiguous with FIN/PSH only on the last and CWR only on the first segment, no payload exceeds
 * gso_size, and the payloads laid end to end are the input's.
 */
function checkSegments(b: Built, gsoSize: number, frames: Uint8Array[]): void {
  const input = b.frame.subarray(12);
  const payload = input.subarray(b.hdrEnd);
  assert.equal(frames.length, Math.max(1, Math.ceil(payload.length / gsoSize)), 'segment count');
  const iv = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const v6 = iv.getUint16(b.l3 - 2) === 0x86dd;
  const tcp = b.tcp;
  const seq0 = tcp ? iv.getUint32(b.l4 + 4) : 0;
  const flags0 = tcp ? input[b.l4 + 13]! : 0;
  const id0 = v6 ? 0 : iv.getUint16(b.l3 + 4);
  const joined: Uint8Array[] = [];
  let seq = seq0;
  frames.forEach((f, i) => {
    const p = verifyFrame(f);
    assert.equal(p.l4, b.l4);
    assert.equal(p.hdrEnd, b.hdrEnd);
    const fv = new DataView(f.buffer, f.byteOffset, f.byteLength);
    const seg = f.subarray(b.hdrEnd);
    assert.ok(seg.length <= gsoSize, 'no segment carries more than gso_size');
    assert.ok(seg.length > 0 || payload.length === 0);
    // Everything up to the transport header but the rewritten IP fields is the input's.
    const same = (from: number, to: number, what: string): void => assert.equal(toHex(f.subarray(from, to)), toHex(input.subarray(from, to)), what);
    if (v6) {
      same(0, b.l3 + 4, 'Ethernet and IPv6 version/class/flow');
      same(b.l3 + 6, b.l4, 'IPv6 rest and extension headers');
    } else {
      same(0, b.l3 + 2, 'Ethernet and IPv4 version/TOS');
      same(b.l3 + 6, b.l3 + 10, 'IPv4 flags/TTL/protocol');
      same(b.l3 + 12, b.l4, 'IPv4 addresses and options');
      assert.equal(fv.getUint16(b.l3 + 4), (id0 + i) & 0xffff, 'IPv4 ID counts up per segment');
    }
    if (tcp) {
      same(b.l4, b.l4 + 4, 'ports');
      same(b.l4 + 8, b.l4 + 13, 'ack and data offset');
      same(b.l4 + 14, b.l4 + 16, 'window');
      same(b.l4 + 18, b.hdrEnd, 'urgent pointer and options');
      assert.equal(fv.getUint32(b.l4 + 4), seq, 'sequence numbers are contiguous');
      seq = (seq + seg.length) >>> 0;
      const last = i === frames.length - 1;
      const want = (flags0 & ~(0x01 | 0x08) & ~(i > 0 ? 0x80 : 0)) | (last ? flags0 & 0x09 : 0);
      assert.equal(f[b.l4 + 13], want, `TCP flags of segment ${i}`);
    } else {
      same(b.l4, b.l4 + 4, 'ports');
    }
    joined.push(seg);
  });
  assert.equal(toHex(Buffer.concat(joined)), toHex(payload), 'the payloads laid end to end are the input payload');
}

// ---- literal frames -----------------------------------------------------------------------------------
// Computed outside this code (a short Python script with struct and its own checksum), the inputs as a
// Linux sender would hand them over: checksum field holding the folded pseudo-header sum.

// TSO over IPv4, 10.0.0.1:41394 -> 10.0.1.1:5201: gso_size 4, 10 payload bytes "abcdefghij", sequence
// 0xfffffffa (so the third segment wraps), flags CWR|ACK|PSH|FIN, IP ID 0x1c46, DF.
const TSO4_IN = hex(`
  0101 3600 0400 2200 1000 0000
  0200 0000 0002 0200 0000 0001 0800 4500 0032 1c46 4000 4006 097f 0a00 0001 0a00 0101 a1b2 1451 ffff
  fffa 0102 0304 5099 faf0 1526 0000 6162 6364 6566 6768 696a`);
const TSO4_OUT = [
  hex(`0200 0000 0002 0200 0000 0001 0800 4500 002c 1c46 4000 4006 0985 0a00 0001 0a00 0101 a1b2 1451 ffff
       fffa 0102 0304 5090 faf0 2093 0000 6162 6364`),
  hex(`0200 0000 0002 0200 0000 0001 0800 4500 002c 1c47 4000 4006 0984 0a00 0001 0a00 0101 a1b2 1451 ffff
       fffe 0102 0304 5010 faf0 1907 0000 6566 6768`),
  hex(`0200 0000 0002 0200 0000 0001 0800 4500 002a 1c48 4000 4006 0985 0a00 0001 0a00 0101 a1b2 1451 0000
       0002 0102 0304 5019 faf0 7c61 0000 696a`),
];

// USO over IPv6, 2001:db8::1:5353 -> 2001:db8::2:4789, gso_size 3, 7 payload bytes "0123456".
const USO6_IN = hex(`
  0105 3e00 0300 3600 0600 0000
  0200 0000 0002 0200 0000 0001 86dd 6000 0000 000f 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2001
  0db8 0000 0000 0000 0000 0000 0002 14e9 12b5 000f 5b95 3031 3233 3435 36`);
const USO6_OUT = [
  hex(`0200 0000 0002 0200 0000 0001 86dd 6000 0000 000b 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2001
       0db8 0000 0000 0000 0000 0000 0002 14e9 12b5 000b 1a94 3031 32`),
  hex(`0200 0000 0002 0200 0000 0001 86dd 6000 0000 000b 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2001
       0db8 0000 0000 0000 0000 0000 0002 14e9 12b5 000b 1491 3334 35`),
  hex(`0200 0000 0002 0200 0000 0001 86dd 6000 0000 0009 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2001
       0db8 0000 0000 0000 0000 0000 0002 14e9 12b5 0009 46c9 36`),
];

// A DNS query for www.google.com, 10.0.0.1:40000 -> 10.0.1.1:53, NEEDS_CSUM only (csum_start 34, offset 6).
const CSUM_UDP4_IN = hex(`
  0100 0000 0000 2200 0600 0000
  0200 0000 0002 0200 0000 0001 0800 4500 003c 2a2a 4000 4011 fb85 0a00 0001 0a00 0101 9c40 0035 0028
  153b 1234 0100 0001 0000 0000 0000 0377 7777 0667 6f6f 676c 6503 636f 6d00 0001 0001`);
const CSUM_UDP4_OUT = hex(`
  0200 0000 0002 0200 0000 0001 0800 4500 003c 2a2a 4000 4011 fb85 0a00 0001 0a00 0101 9c40 0035 0028
  ad4b 1234 0100 0001 0000 0000 0000 0377 7777 0667 6f6f 676c 6503 636f 6d00 0001 0001`);

test('segment: a literal TSO frame over IPv4 gives the literal segments, sequence wrapping past 2^32', () => {
  const before = toHex(TSO4_IN);
  const { fault, frames } = run(TSO4_IN);
  assert.equal(fault, null);
  assert.deepEqual(frames.map(toHex), TSO4_OUT.map(toHex));
  assert.equal(toHex(TSO4_IN), before, 'the input is not written to');
  for (const f of TSO4_OUT) verifyFrame(f);
  // And the builder lays out the same input, so the generated cases below rest on the same ground.
  const b = build({ payload: new TextEncoder().encode('abcdefghij'), gsoSize: 4, seq: 0xfffffffa, tcpFlags: 0x99 });
  b.frame[12 + 15] = 0; // the literal has TOS 0
  b.frame[12 + 24] = 0;
  b.frame[12 + 25] = 0;
  const c = ~refSum(b.frame.subarray(26, 46)) & 0xffff;
  b.frame[12 + 24] = c >>> 8;
  b.frame[12 + 25] = c & 0xff;
  assert.equal(toHex(b.frame), toHex(TSO4_IN));
});

test('segment: a literal USO frame over IPv6 gives the literal datagrams', () => {
  const { fault, frames } = run(USO6_IN);
  assert.equal(fault, null);
  assert.deepEqual(frames.map(toHex), USO6_OUT.map(toHex));
  for (const f of USO6_OUT) verifyFrame(f);
});

test('segment: a literal NEEDS_CSUM UDP datagram gets its checksum completed', () => {
  const before = toHex(CSUM_UDP4_IN);
  const { fault, frames } = run(CSUM_UDP4_IN);
  assert.equal(fault, null);
  assert.deepEqual(frames.map(toHex), [toHex(CSUM_UDP4_OUT)]);
  assert.equal(toHex(CSUM_UDP4_IN), before, 'the input is not written to');
  verifyFrame(CSUM_UDP4_OUT);
});

// ---- generated frames -----------------------------------------------------------------------------------

test('segment: TSO over IPv4, 3000 bytes at gso_size 1448, field by field', () => {
  const b = build({ payload: pattern(3000), gsoSize: 1448, seq: 0x10000000, tcpFlags: 0x99, ipId: 0xfffe, tcpOptWords: 3 });
  const { fault, frames } = run(b.frame);
  assert.equal(fault, null);
  assert.deepEqual(
    frames.map((f) => f.length),
    [14 + 20 + 32 + 1448, 14 + 20 + 32 + 1448, 14 + 20 + 32 + 104],
  );
  const fields = frames.map((f) => {
    const v = new DataView(f.buffer, f.byteOffset);
    return { totalLen: v.getUint16(16), id: v.getUint16(18), seq: v.getUint32(38), flags: f[47] };
  });
  assert.deepEqual(fields, [
    { totalLen: 1500, id: 0xfffe, seq: 0x10000000, flags: 0x90 }, // CWR|ACK
    { totalLen: 1500, id: 0xffff, seq: 0x10000000 + 1448, flags: 0x10 }, // ACK
    { totalLen: 156, id: 0x0000, seq: 0x10000000 + 2896, flags: 0x19 }, // ACK|PSH|FIN, ID wrapped
  ]);
  checkSegments(b, 1448, frames);
});

test('segment: TSO over IPv6, 3000 bytes at gso_size 1428', () => {
  const b = build({ v6: true, payload: pattern(3000, 11), gsoSize: 1428, seq: 5, tcpFlags: 0x18, tcpOptWords: 3 });
  const { fault, frames } = run(b.frame);
  assert.equal(fault, null);
  assert.deepEqual(
    frames.map((f) => [f.length, new DataView(f.buffer, f.byteOffset).getUint16(18)]),
    [
      [14 + 40 + 32 + 1428, 32 + 1428],
      [14 + 40 + 32 + 1428, 32 + 1428],
      [14 + 40 + 32 + 144, 32 + 144],
    ],
  );
  assert.deepEqual(
    frames.map((f) => f[14 + 40 + 13]),
    [0x10, 0x10, 0x18],
    'PSH on the last segment only',
  );
  checkSegments(b, 1428, frames);
});

test('segment: TSO over IPv6 steps over Hop-by-Hop and Destination Options and copies them', () => {
  // Hop-by-Hop (next: Destination Options), 8 bytes with a PadN; Destination Options (next: TCP), 16 bytes.
  const ext = hex('3c00 0104 0000 0000' + '0601 0104 0000 0000 0106 0000 0000 0000');
  const b = build({ v6: true, payload: pattern(2500, 3), gsoSize: 1000, ext, extFirst: 0, tcpFlags: 0x11 });
  const { fault, frames } = run(b.frame);
  assert.equal(fault, null);
  assert.equal(frames.length, 3);
  checkSegments(b, 1000, frames);
  for (const f of frames) assert.equal(toHex(f.subarray(54, 78)), toHex(ext));
});

test('segment: TSO over IPv4 copies IP options into every segment', () => {
  const b = build({ payload: pattern(2000, 5), gsoSize: 700, ipOptWords: 2 });
  const { fault, frames } = run(b.frame);
  assert.equal(fault, null);
  assert.equal(frames.length, 3);
  for (const f of frames) assert.equal(f[14], 0x47);
  checkSegments(b, 700, frames);
});

test('segment: a VLAN-tagged TSO frame keeps its tag in every segment', () => {
  const b = build({ vlan: true, payload: pattern(3000, 9), gsoSize: 1448, tcpFlags: 0x11 });
  const { fault, frames } = run(b.frame);
  assert.equal(fault, null);
  assert.equal(frames.length, 3);
  for (const f of frames) assert.equal(toHex(f.subarray(12, 18)), '810020640800');
  assert.deepEqual(
    frames.map((f) => new DataView(f.buffer, f.byteOffset).getUint16(20)),
    [20 + 20 + 1448, 20 + 20 + 1448, 20 + 20 + 104],
  );
  checkSegments(b, 1448, frames);
  const b6 = build({ vlan: true, v6: true, udp: true, payload: pattern(2000, 13), gsoSize: 1200 });
  const r6 = run(b6.frame);
  assert.equal(r6.fault, null);
  checkSegments(b6, 1200, r6.frames);
});

test('segment: USO over IPv4 and IPv6, each datagram with its own length and checksum', () => {
  for (const v6 of [false, true]) {
    const b = build({ v6, udp: true, payload: pattern(3000, 17), gsoSize: 1200, ipId: 7 });
    const { fault, frames } = run(b.frame);
    assert.equal(fault, null);
    const l4 = v6 ? 54 : 34;
    assert.deepEqual(
      frames.map((f) => new DataView(f.buffer, f.byteOffset).getUint16(l4 + 4)),
      [1208, 1208, 608],
      'UDP lengths',
    );
    if (!v6)
      assert.deepEqual(
        frames.map((f) => new DataView(f.buffer, f.byteOffset).getUint16(18)),
        [7, 8, 9],
        'IPv4 IDs',
      );
    checkSegments(b, 1200, frames);
  }
});

test('segment: a USO datagram whose checksum comes to 0 carries 0xffff', () => {
  // Make the last datagram's sum 0xffff by choosing two of its payload bytes.
  const payload = pattern(2500, 23);
  const b = build({ udp: true, payload, gsoSize: 1000 });
  const lastLen = 500;
  const hdr = new Uint8Array(8);
  const hv = new DataView(hdr.buffer);
  hv.setUint16(0, 40000);
  hv.setUint16(2, 4789);
  hv.setUint16(4, 8 + lastLen);
  const last = payload.slice(2000);
  last[0] = 0;
  last[1] = 0;
  const s = refSum(pseudo4(b.frame.subarray(26), 17, 8 + lastLen), hdr, last);
  const slot = 0xffff - s;
  b.frame[12 + 42 + 2000] = slot >>> 8;
  b.frame[12 + 42 + 2001] = slot & 0xff;
  const { fault, frames } = run(b.frame);
  assert.equal(fault, null);
  assert.equal(toHex(frames[2]!.subarray(40, 42)), 'ffff');
  checkSegments(b, 1000, frames);
});

test('segment: NEEDS_CSUM only, TCP over IPv4 and (tagged) IPv6 and UDP giving 0 written 0xffff', () => {
  for (const [v6, vlan] of [
    [false, false],
    [true, true],
  ] as const) {
    const b = build({ v6, vlan, payload: pattern(1000, 29), gsoSize: 0, gsoType: GSO.NONE });
    const { fault, frames } = run(b.frame);
    assert.equal(fault, null);
    assert.equal(frames.length, 1);
    const f = frames[0]!;
    verifyFrame(f);
    const at = b.l4 + 16;
    assert.equal(toHex(f.subarray(0, at)), toHex(b.frame.subarray(12, 12 + at)), 'only the checksum changes');
    assert.equal(toHex(f.subarray(at + 2)), toHex(b.frame.subarray(12 + at + 2)));
  }
  // UDP whose sum comes to 0xffff: the checksum 0 is written 0xffff (RFC 768).
  const payload = pattern(101, 31);
  payload[0] = 0;
  payload[1] = 0;
  const b = build({ udp: true, payload, gsoSize: 0, gsoType: GSO.NONE });
  const hdr = b.frame.slice(12 + 34, 12 + 42);
  hdr[6] = 0;
  hdr[7] = 0;
  const slot = 0xffff - refSum(pseudo4(b.frame.subarray(26), 17, 109), hdr, payload);
  b.frame[12 + 42] = slot >>> 8;
  b.frame[12 + 43] = slot & 0xff;
  const { fault, frames } = run(b.frame);
  assert.equal(fault, null);
  assert.equal(toHex(frames[0]!.subarray(40, 42)), 'ffff');
  verifyFrame(frames[0]!);
});

test('segment: a frame that needs nothing comes out as the Ethernet frame itself, not a copy', () => {
  const buf = new Uint8Array(200);
  const b = build({ payload: pattern(100), gsoSize: 0, gsoType: GSO.NONE, needsCsum: false });
  buf.set(b.frame, 30);
  for (const flags of [0, 2]) {
    buf[30] = flags; // none, DATA_VALID
    buf[31] = GSO.ECN; // the ECN bit on type NONE is no work either
    assert.equal(needsSoftwareOffload(buf, 30), false);
    const seen: Uint8Array[] = [];
    assert.equal(
      segmentFrame(buf, 30, b.frame.length, scratch, (f) => seen.push(f)),
      null,
    );
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.buffer, buf.buffer);
    assert.equal(seen[0]!.byteOffset, 42);
    assert.equal(seen[0]!.length, b.frame.length - 12);
  }
});

test('segment: needsSoftwareOffload reads NEEDS_CSUM and the GSO type', () => {
  const h = new Uint8Array(12);
  assert.equal(needsSoftwareOffload(h, 0), false);
  h[0] = 1;
  assert.equal(needsSoftwareOffload(h, 0), true);
  h[0] = 2;
  assert.equal(needsSoftwareOffload(h, 0), false, 'DATA_VALID is no work');
  for (const t of [GSO.TCPV4, GSO.TCPV6, GSO.UDP, GSO.UDP_L4, GSO.TCPV4 | GSO.ECN, 9]) {
    h[1] = t;
    assert.equal(needsSoftwareOffload(h, 0), true, `gso_type ${t}`);
  }
});

test('segment: hdr_len is a hint, NEEDS_CSUM is optional on GSO, and the ECN bit is accepted', () => {
  const base = build({ payload: pattern(3000, 37), gsoSize: 1448, tcpFlags: 0x99 });
  const want = run(base.frame).frames.map(toHex);
  const variants: Array<(f: Uint8Array) => void> = [
    (f) => (f[2] = 0), // hdr_len 0
    (f) => (f[2] = 200), // past the headers (a Linux sender's skb_headlen)
    (f) => (f[0] = 0), // no NEEDS_CSUM
    (f) => (f[1] = GSO.TCPV4 | GSO.ECN),
    (f) => (f[12 + 50] = f[12 + 50]! ^ 0x5a), // whatever the sender left in the checksum field
  ];
  for (const change of variants) {
    const f = base.frame.slice();
    change(f);
    assert.deepEqual(run(f).frames.map(toHex), want);
  }
});

test('segment: a GSO frame with no more than gso_size bytes goes out whole, checksummed, flags kept', () => {
  for (const len of [0, 1, 1448]) {
    const b = build({ payload: pattern(len, 41), gsoSize: 1448, tcpFlags: 0x99 });
    const { fault, frames } = run(b.frame);
    assert.equal(fault, null);
    assert.equal(frames.length, 1);
    assert.equal(frames[0]![47], 0x99);
    checkSegments(b, 1448, frames);
  }
});

test('segment: the views stay valid until the scratch is used again, laid one after another', () => {
  const b = build({ payload: pattern(5000, 43), gsoSize: 1000 });
  const views: Uint8Array[] = [];
  assert.equal(
    segmentFrame(b.frame, 0, b.frame.length, scratch, (f) => views.push(f)),
    null,
  );
  assert.equal(views.length, 5);
  let at = 0;
  for (const v of views) {
    assert.equal(v.buffer, scratch.buffer);
    assert.equal(v.byteOffset, at);
    at += v.length;
  }
  checkSegments(
    b,
    1000,
    views.map((v) => v.slice()),
  );
});

test('segment: segments at MAX_SEGMENTS pass, one more is refused', () => {
  const ok = build({ payload: pattern(MAX_SEGMENTS * 2, 47), gsoSize: 2 });
  const r = run(ok.frame);
  assert.equal(r.fault, null);
  assert.equal(r.frames.length, MAX_SEGMENTS);
  checkSegments(ok, 2, r.frames);
  const over = build({ payload: pattern(MAX_SEGMENTS * 2 + 1, 47), gsoSize: 2 });
  assert.deepEqual(run(over.frame), { fault: 'too_many_segments', frames: [] });
  const tiny = build({ payload: pattern(3000, 47), gsoSize: 1 });
  assert.deepEqual(run(tiny.frame), { fault: 'too_many_segments', frames: [] });
});

test('segment: a scratch shorter than SEGMENT_SCRATCH_LEN is a caller bug (RangeError)', () => {
  assert.throws(() => segmentFrame(TSO4_IN, 0, TSO4_IN.length, new Uint8Array(100), () => {}), RangeError);
});

// ---- malformed input: every case names its reason, emits nothing and does not throw -------------------

function mutated(s: Spec, change: (frame: Uint8Array, b: Built) => void): Uint8Array {
  const b = build(s);
  change(b.frame, b);
  return b.frame;
}

const TCP4: Spec = { payload: pattern(3000, 53), gsoSize: 1448 };
const TCP6: Spec = { v6: true, payload: pattern(3000, 53), gsoSize: 1448 };
const UDP4: Spec = { udp: true, payload: pattern(3000, 53), gsoSize: 1448 };
const set16be = (f: Uint8Array, at: number, v: number): void => new DataView(f.buffer, f.byteOffset).setUint16(at, v);
const set16le = (f: Uint8Array, at: number, v: number): void => new DataView(f.buffer, f.byteOffset).setUint16(at, v, true);

const MALFORMED: Array<[string, SegmentFault, () => Uint8Array]> = [
  ['shorter than header + Ethernet', 'runt', () => TSO4_IN.slice(0, 25)],
  ['unknown GSO type 2', 'bad_vnet_hdr', () => mutated(TCP4, (f) => (f[1] = 2))],
  ['unknown GSO type 6', 'bad_vnet_hdr', () => mutated(TCP4, (f) => (f[1] = 6))],
  ['gso_size 0 with a GSO type', 'bad_vnet_hdr', () => mutated(TCP4, (f) => set16le(f, 4, 0))],
  ['csum_start past the frame', 'bad_vnet_hdr', () => mutated(TCP4, (f) => set16le(f, 6, 0xfff0))],
  ['csum_offset past the frame', 'bad_vnet_hdr', () => mutated(TCP4, (f) => set16le(f, 8, f.length - 12 - 34 - 1))],
  ['hdr_len past the frame', 'bad_vnet_hdr', () => mutated(TCP4, (f) => set16le(f, 2, f.length))],
  ['NEEDS_CSUM only, checksum field past the end', 'bad_vnet_hdr', () => mutated({ ...TCP4, gsoType: GSO.NONE, payload: pattern(10) }, (f) => set16le(f, 8, f.length - 12 - 34 - 1))],
  ['TCPV4 on an IPv6 packet', 'bad_gso', () => mutated(TCP6, (f) => (f[1] = GSO.TCPV4))],
  ['TCPV6 on an IPv4 packet', 'bad_gso', () => mutated(TCP4, (f) => (f[1] = GSO.TCPV6))],
  ['UDP_L4 on a TCP packet', 'bad_gso', () => mutated(TCP4, (f) => (f[1] = GSO.UDP_L4))],
  ['TCPV4 on a UDP packet', 'bad_gso', () => mutated(UDP4, (f) => (f[1] = GSO.TCPV4))],
  ['TCPV4 on an ARP frame', 'bad_gso', () => mutated(TCP4, (f) => set16be(f, 24, 0x0806))],
  ['IPv4 version 6 under EtherType IPv4', 'bad_gso', () => mutated(TCP4, (f) => (f[26] = 0x65))],
  ['IPv4 IHL 4', 'bad_gso', () => mutated(TCP4, (f) => (f[26] = 0x44))],
  ['IPv4 total length one too long', 'bad_gso', () => mutated(TCP4, (f) => set16be(f, 28, f.length - 26 + 1))],
  ['IPv4 total length one too short (a trailing byte)', 'bad_gso', () => mutated(TCP4, (f) => set16be(f, 28, f.length - 26 - 1))],
  ['IPv4 total length 0 (BIG TCP)', 'bad_gso', () => mutated(TCP4, (f) => set16be(f, 28, 0))],
  ['an IPv4 fragment (MF)', 'bad_gso', () => mutated(TCP4, (f) => (f[32] = 0x20))],
  ['an IPv4 fragment (offset)', 'bad_gso', () => mutated(TCP4, (f) => (f[33] = 0x01))],
  ['IPv6 payload length one too long', 'bad_gso', () => mutated(TCP6, (f) => set16be(f, 30, f.length - 66 + 1))],
  ['IPv6 version 4 under EtherType IPv6', 'bad_gso', () => mutated(TCP6, (f) => (f[26] = 0x40))],
  ['IPv6 next header No Next Header', 'bad_gso', () => mutated(TCP6, (f) => (f[32] = 59))],
  ['csum_start not at the TCP header', 'bad_gso', () => mutated(TCP4, (f) => set16le(f, 6, 36))],
  ['csum_offset not the TCP checksum', 'bad_gso', () => mutated(TCP4, (f) => set16le(f, 8, 6))],
  ['csum_offset not the UDP checksum', 'bad_gso', () => mutated(UDP4, (f) => set16le(f, 8, 16))],
  ['TCP data offset 4', 'bad_gso', () => mutated(TCP4, (f) => (f[12 + 34 + 12] = 0x40))],
  ['TCP header past the frame', 'bad_gso', () => mutated({ ...TCP4, payload: pattern(10) }, (f) => (f[12 + 34 + 12] = 0xf0))],
  ['UDP length off by one', 'bad_gso', () => mutated(UDP4, (f) => set16be(f, 12 + 34 + 4, f.length - 46 - 1))],
  ['a GSO frame cut inside its IPv4 header', 'bad_gso', () => build({ ...TCP4, needsCsum: false, hdrLen: 0 }).frame.slice(0, 12 + 14 + 10)],
  ['a tagged GSO frame cut inside its tag', 'bad_gso', () => build({ ...TCP4, vlan: true, needsCsum: false, hdrLen: 0 }).frame.slice(0, 12 + 16)],
  ['GSO_UDP (UFO)', 'unsupported_gso', () => mutated(UDP4, (f) => (f[1] = GSO.UDP))],
  ['an IPv6 Routing header', 'unsupported_gso', () => build({ ...TCP6, ext: hex('0600 0000 0000 0000'), extFirst: 43 }).frame],
  ['an IPv6 Fragment header', 'unsupported_gso', () => build({ ...TCP6, ext: hex('0600 0000 0000 0000'), extFirst: 44 }).frame],
  ['Hop-by-Hop after Destination Options', 'bad_gso', () => build({ ...TCP6, ext: hex('0000 0104 0000 0000 0600 0104 0000 0000'), extFirst: 60 }).frame],
  ['an extension header running past the frame', 'bad_gso', () => build({ ...TCP6, payload: pattern(0), ext: hex('06ff 0104 0000 0000'), extFirst: 60 }).frame],
  ['QinQ', 'unsupported_gso', () => mutated({ ...TCP4, vlan: true }, (f) => set16be(f, 24, 0x88a8))],
  ['two 802.1Q tags', 'unsupported_gso', () => mutated({ ...TCP4, vlan: true }, (f) => set16be(f, 28, 0x8100))],
  ['gso_size 1 on 3000 bytes', 'too_many_segments', () => mutated(TCP4, (f) => set16le(f, 4, 1))],
];

test('segment: malformed frames give their reason and emit nothing', () => {
  for (const [what, reason, make] of MALFORMED) {
    const frame = make();
    let emitted = 0;
    const fault = segmentFrame(frame, 0, frame.length, scratch, () => emitted++);
    assert.equal(fault, reason, what);
    assert.equal(emitted, 0, what);
  }
  // `len` reaching past the buffer, or a negative offset, counts as a runt rather than a read past the end.
  assert.equal(
    segmentFrame(TSO4_IN, 0, TSO4_IN.length + 1, scratch, () => assert.fail()),
    'runt',
  );
  assert.equal(
    segmentFrame(TSO4_IN, -1, 30, scratch, () => assert.fail()),
    'runt',
  );
  assert.ok(MALFORMED.every(([, r]) => (SEGMENT_FAULTS as readonly string[]).includes(r)));
  assert.deepEqual(new Set(MALFORMED.map(([, r]) => r)), new Set(SEGMENT_FAULTS), 'every reason is reached');
});

// ---- properties ---------------------------------------------------------------------------------------

test('segment: random GSO frames are cut into verifying segments that put the payload back together', () => {
  const spec = fc
    .record({
      v6: fc.boolean(),
      udp: fc.boolean(),
      vlan: fc.boolean(),
      len: fc.integer({ min: 0, max: 65535 }),
      gso: fc.integer({ min: 1, max: 9000 }),
      seq: fc.integer({ min: 0, max: 0xffffffff }),
      tcpFlags: fc.integer({ min: 0, max: 0xff }),
      ipId: fc.integer({ min: 0, max: 0xffff }),
      tcpOptWords: fc.integer({ min: 0, max: 10 }),
      ipOptWords: fc.integer({ min: 0, max: 10 }),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
    })
    .map((r) => {
      // The IP packet must fit in 65535 bytes: cut the payload to what the headers leave.
      const headers = (r.v6 ? 40 : 20 + 4 * r.ipOptWords) + (r.udp ? 8 : 20 + 4 * r.tcpOptWords);
      const len = Math.min(r.len, 65535 - headers);
      return { ...r, len, gso: Math.max(r.gso, Math.ceil(len / MAX_SEGMENTS)) };
    });
  fc.assert(
    fc.property(spec, (r) => {
      const b = build({
        v6: r.v6,
        udp: r.udp,
        vlan: r.vlan,
        payload: pattern(r.len, r.seed),
        gsoSize: r.gso,
        seq: r.seq,
        tcpFlags: r.tcpFlags,
        ipId: r.ipId,
        tcpOptWords: r.tcpOptWords,
        ipOptWords: r.v6 ? 0 : r.ipOptWords,
      });
      const { fault, frames } = run(b.frame);
      assert.equal(fault, null);
      checkSegments(b, r.gso, frames);
    }),
    { numRuns: 150 },
  );
});

test('segment: random bytes and damaged frames never throw, and what passes verifies', () => {
  const check = (frame: Uint8Array): void => {
    const frames: Uint8Array[] = [];
    const fault = segmentFrame(frame, 0, frame.length, scratch, (f) => frames.push(f.slice()));
    if (fault !== null) {
      assert.ok((SEGMENT_FAULTS as readonly string[]).includes(fault));
      assert.equal(frames.length, 0);
      return;
    }
    assert.ok(frames.length >= 1);
    // A GSO frame that was accepted went through every check, so each segment must verify on its own.
    if ((frame[1]! & 0x7f) !== 0) for (const f of frames) verifyFrame(f);
  };
  const gsoType = fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 0x81, 0x84, 0x85, 0xff);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), gsoType, fc.integer({ min: 0, max: 3 }), (bytes, type, flags) => {
      if (bytes.length > 1) {
        bytes[0] = flags;
        bytes[1] = type;
      }
      check(bytes);
    }),
    { numRuns: 1000 },
  );
  const damage = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 3000 }),
      fc.integer({ min: 1, max: 1500 }),
      damage,
      fc.integer({ min: 0, max: 100 }),
      (v6, udp, vlan, len, gso, hits, cut) => {
        const b = build({ v6, udp, vlan, payload: pattern(len, len + 1), gsoSize: gso });
        const hdr = Math.min(b.frame.length, 12 + b.hdrEnd + 8); // aim at the headers
        for (const [at, v] of hits) b.frame[at % hdr] = v;
        check(b.frame.subarray(0, Math.max(0, b.frame.length - cut)));
      },
    ),
    { numRuns: 1000 },
  );
});
