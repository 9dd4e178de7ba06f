import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Address6 } from 'ip-address';
import { foldChecksum, internetChecksum, pseudoHeaderSum4, pseudoHeaderSum6, sum16, updateChecksum16 } from '../../src/wire/checksum.js';
import {
  IP_PROTO,
  decrementTtl4,
  emitIpv4,
  formatIpv4,
  fragmentIpv4,
  ipv4Check,
  ipv4DontFragment,
  ipv4Dst,
  ipv4FragOffset,
  ipv4HeaderLen,
  ipv4Id,
  ipv4MoreFragments,
  ipv4Proto,
  ipv4Src,
  ipv4TotalLen,
  ipv4Ttl,
  isIpv4FirstFragment,
  isIpv4Fragment,
  isLimitedBroadcast4,
  isLinkLocal4,
  isMartianDestination4,
  isMartianSource4,
  isMulticast4,
  parseIpv4,
} from '../../src/wire/ipv4.js';
import {
  ALL_NODES6,
  IPV6,
  decrementHopLimit6,
  emitIpv6,
  formatIpv6,
  ipv6Check,
  ipv6FlowLabel,
  ipv6HopLimit,
  ipv6NextHeader,
  ipv6PayloadLen,
  ipv6TrafficClass,
  isLinkLocal6,
  isLoopback6,
  isMartianDestination6,
  isMartianSource6,
  isMulticast6,
  isSolicitedNode6,
  isUnspecified6,
  linkLocalFromMac,
  multicastMac6,
  parseIpv6,
  solicitedNodeAddress,
} from '../../src/wire/ipv6.js';
import { ICMP4, UNREACH, echoReply4, icmp4Error, isIcmp4Error } from '../../src/wire/icmp.js';
import { ICMP6, UNREACH6, echoReply6, emitNa, emitNs, emitRa, emitRs, icmp6ChecksumValid, icmp6Error, isIcmp6Error, parseNdp } from '../../src/wire/icmpv6.js';
import { ARP_OP, emitArp, isArpProbe, isGratuitousArp, parseArp } from '../../src/wire/arp.js';
import { ETH, emitEthernet, formatMac, parseMac } from '../../src/wire/ethernet.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ip4 = parseIpv4;
const ip6 = parseIpv6;

// Literal packets, laid out as tcpdump -xx prints them. Their checksums were computed outside this code
// (a separate Python script over the same fields), so building them here is a real cross-check.

// ping -c1 10.0.1.1 from 10.0.0.1: Linux's echo request, TTL 64, DF, id 0x0d2a seq 1, a 16-byte timeval and 0x10..0x37.
const PING = hex(`
  4500 0054 1c46 4000 4001 0962 0a00 0001
  0a00 0101 0800 32a5 0d2a 0001 661b 5ca3
  0000 0000 2a9e 0c00 0000 0000 1011 1213
  1415 1617 1819 1a1b 1c1d 1e1f 2021 2223
  2425 2627 2829 2a2b 2c2d 2e2f 3031 3233
  3435 3637`);

// The reply 10.0.1.1 sends: TOS and IP ID of the request, no DF, TTL 64, type 0.
const PING_REPLY = hex(`
  4500 0054 1c46 0000 4001 4962 0a00 0101
  0a00 0001 0000 3aa5 0d2a 0001 661b 5ca3
  0000 0000 2a9e 0c00 0000 0000 1011 1213
  1415 1617 1819 1a1b 1c1d 1e1f 2021 2223
  2425 2627 2829 2a2b 2c2d 2e2f 3031 3233
  3435 3637`);

// Time Exceeded about PING from router 10.0.0.254: precedence 6 (TOS 0xc0), the whole request quoted.
const TIME_EXCEEDED = hex(`
  45c0 0070 1c46 0000 4001 4889 0a00 00fe
  0a00 0001 0b00 f4ff 0000 0000 4500 0054
  1c46 4000 4001 0962 0a00 0001 0a00 0101
  0800 32a5 0d2a 0001 661b 5ca3 0000 0000
  2a9e 0c00 0000 0000 1011 1213 1415 1617
  1819 1a1b 1c1d 1e1f 2021 2223 2425 2627
  2829 2a2b 2c2d 2e2f 3031 3233 3435 3637`);

// who-has 10.0.0.2 tell 10.0.0.1 (02:00:00:00:00:01), and 10.0.0.2 is-at 02:00:00:00:00:02.
const ARP_REQUEST = hex('0001 0800 0604 0001 0200 0000 0001 0a00 0001 0000 0000 0000 0a00 0002');
const ARP_REPLY = hex('0001 0800 0604 0002 0200 0000 0002 0a00 0002 0200 0000 0001 0a00 0001');

// NS from 2001:db8::2 (02:00:00:00:00:02) for 2001:db8::1 to its solicited-node group, with a source LLA option.
const NS = hex(`
  6000 0000 0020 3aff 2001 0db8 0000 0000
  0000 0000 0000 0002 ff02 0000 0000 0000
  0000 0001 ff00 0001 8700 1c27 0000 0000
  2001 0db8 0000 0000 0000 0000 0000 0001
  0101 0200 0000 0002`);

// The NA 2001:db8::1 answers with: Solicited and Override, target LLA 02:00:00:00:00:01.
const NA = hex(`
  6000 0000 0020 3aff 2001 0db8 0000 0000
  0000 0000 0000 0001 2001 0db8 0000 0000
  0000 0000 0000 0002 8800 8a73 6000 0000
  2001 0db8 0000 0000 0000 0000 0000 0001
  0201 0200 0000 0001`);

// An RA from fe80::ff:fe00:1 to ff02::1: hop limit 64, lifetime 1800 s, source LLA, MTU 1500, and
// 2001:db8::/64 on-link and autonomous, valid 30 days, preferred 7 days.
const RA = hex(`
  6000 0000 0040 3aff fe80 0000 0000 0000
  0000 00ff fe00 0001 ff02 0000 0000 0000
  0000 0000 0000 0001 8600 eee9 4000 0708
  0000 0000 0000 0000 0101 0200 0000 0001
  0501 0000 0000 05dc 0304 40c0 0027 8d00
  0009 3a80 0000 0000 2001 0db8 0000 0000
  0000 0000 0000 0000`);

// ping -6 2001:db8::1 from 2001:db8::2 (id 0x1234 seq 1, "abcdefgh") and its reply.
const ECHO6 = hex(`
  6000 0000 0010 3a40 2001 0db8 0000 0000
  0000 0000 0000 0002 2001 0db8 0000 0000
  0000 0000 0000 0001 8000 8075 1234 0001
  6162 6364 6566 6768`);
const ECHO6_REPLY = hex(`
  6000 0000 0010 3a40 2001 0db8 0000 0000
  0000 0000 0000 0001 2001 0db8 0000 0000
  0000 0000 0000 0002 8100 7f75 1234 0001
  6162 6364 6566 6768`);

// A UDP packet 10.0.0.1 -> 10.0.1.1 with IHL 8: options Stream ID 88 04 12 34 (copied flag set), Record
// Route 07 07 04 00000000 (not copied) and an End of Option List; 1400 data bytes follow (FRAG_DATA).
const FRAG_HEADER = hex('4800 0598 beef 0000 4011 f924 0a00 0001 0a00 0101 8804 1234 0707 0400 0000 0000');
const FRAG_DATA = Uint8Array.from({ length: 1400 }, (_, i) => (i * 7 + 3) & 0xff);
// Its second fragment at MTU 576: IHL 6 with only the Stream ID option, MF, offset 544 (68 units).
const FRAG576_SECOND_HEADER = hex('4600 0240 beef 2044 4011 e93f 0a00 0001 0a00 0101 8804 1234');

const MAC1 = parseMac('02:00:00:00:00:01');
const MAC2 = parseMac('02:00:00:00:00:02');

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** fix4 recomputes the IPv4 header checksum of a packet at 0, so a test changes one field only. */
function fix4(p: Uint8Array): Uint8Array {
  const hl = (p[0]! & 0x0f) * 4;
  p[10] = 0;
  p[11] = 0;
  const c = internetChecksum(p, 0, Math.min(hl, p.length));
  p[10] = c >>> 8;
  p[11] = c & 0xff;
  return p;
}

/** fix6 recomputes the ICMPv6 checksum of a packet with ICMPv6 right after the fixed header. */
function fix6(p: Uint8Array): Uint8Array {
  const len = p.length - 40;
  p[42] = 0;
  p[43] = 0;
  const c = foldChecksum(sum16(p, 40, len, pseudoHeaderSum6(p, 8, 24, 58, len)));
  p[42] = c >>> 8;
  p[43] = c & 0xff;
  return p;
}

/** headerChecksum recomputes an IPv4 header checksum from scratch, the reference for incremental updates. */
function headerChecksum(h: Uint8Array): number {
  const copy = h.slice(0, (h[0]! & 0x0f) * 4);
  copy[10] = 0;
  copy[11] = 0;
  return internetChecksum(copy, 0, copy.length);
}

// ---- checksum ------------------------------------------------------------------------------------------

test('checksum: the RFC 1071 example, odd lengths and chaining', () => {
  const b = hex('0001 f203 f4f5 f6f7');
  assert.equal(sum16(b, 0, 8), 0x2ddf0);
  assert.equal(foldChecksum(sum16(b, 0, 8)), ~0xddf2 & 0xffff);
  assert.equal(internetChecksum(b, 0, 8), 0x220d);
  assert.equal(sum16(hex('ab'), 0, 1), 0xab00, 'an odd byte is the high byte of a zero-padded word');
  assert.equal(sum16(hex('0102 03'), 0, 3), 0x0102 + 0x0300);
  assert.equal(sum16(b, 4, 4, sum16(b, 0, 4)), sum16(b, 0, 8), 'partial sums chain through acc');
  assert.equal(foldChecksum(0), 0xffff);
  assert.equal(foldChecksum(0xffff), 0);
  assert.equal(foldChecksum(0xffff * 0x10000 * 3), 0, 'large partial sums fold exactly');
  assert.equal(internetChecksum(PING, 0, 20), 0, 'a received header verifies to 0');
  assert.equal(internetChecksum(PING, 20, 64), 0, 'so does its ICMP message');
});

test('checksum: pseudo-header sums equal the sum of the pseudo-header bytes', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 0xffff }),
      (src, dst, proto, len) => {
        const b = new Uint8Array(12);
        const v = new DataView(b.buffer);
        v.setUint32(0, src);
        v.setUint32(4, dst);
        v.setUint8(9, proto);
        v.setUint16(10, len);
        assert.equal(foldChecksum(pseudoHeaderSum4(src, dst, proto, len)), internetChecksum(b, 0, 12));
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 255 }), (addrs, len, nh) => {
      const b = new Uint8Array(40);
      b.set(addrs, 0);
      new DataView(b.buffer).setUint32(32, len);
      b[39] = nh;
      assert.equal(foldChecksum(pseudoHeaderSum6(addrs, 0, 16, nh, len)), internetChecksum(b, 0, 40));
    }),
    { numRuns: 300 },
  );
  // The NS literal: its ICMPv6 checksum verifies over the pseudo-header built from its own addresses.
  assert.equal(foldChecksum(sum16(NS, 40, 32, pseudoHeaderSum6(NS, 8, 24, 58, 32))), 0);
});

test('checksum: RFC 1624 eqn. 3 gives 0x0000 where recomputation does (section 4 example)', () => {
  // The rest of the header sums to 0xCD7A; m changes from 0x5555 to 0x3285, so the new sum is 0xFFFF and
  // the recomputed checksum is ~0xFFFF = 0x0000. Eqn. 2 (HC - ~m - m') would give 0xFFFF, the other zero.
  const hc = foldChecksum(0xcd7a + 0x5555);
  assert.equal(hc, 0xdd2f);
  assert.equal(updateChecksum16(hc, 0x5555, 0x3285), 0x0000);
  assert.equal(foldChecksum(0xcd7a + 0x3285), 0x0000, 'recomputation');
  // Eqn. 2 in one's complement arithmetic (a - b = a + ~b) lands on the other zero, 0xFFFF.
  assert.equal(~foldChecksum(hc + 0x5555 + (~0x3285 & 0xffff)) & 0xffff, 0xffff);
  // And back: from 0x0000 to the original.
  assert.equal(updateChecksum16(0x0000, 0x3285, 0x5555), 0xdd2f);
  // An unchanged word leaves the checksum as it was.
  assert.equal(updateChecksum16(0x1234, 0xabcd, 0xabcd), 0x1234);
});

const header20 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((h) => {
  h[0] = 0x45;
  h[10] = 0;
  h[11] = 0;
  const c = internetChecksum(h, 0, 20);
  h[10] = c >>> 8;
  h[11] = c & 0xff;
  return h;
});

test('checksum: updateChecksum16 equals full recomputation for any header and any word changed', () => {
  fc.assert(
    fc.property(
      header20,
      fc.integer({ min: 0, max: 9 }).filter((w) => w !== 5),
      fc.integer({ min: 0, max: 0xffff }),
      (h, word, v) => {
        // Word 0 keeps version 4 and a header length (a TOS rewrite): an IP header is never all zeros, the
        // one case where recomputation gives 0xFFFF and eqn. 3 the equivalent 0x0000.
        const value = word === 0 ? 0x4500 | (v & 0x0fff) : v;
        const old = (h[word * 2]! << 8) | h[word * 2 + 1]!;
        const csum = (h[10]! << 8) | h[11]!;
        h[word * 2] = value >>> 8;
        h[word * 2 + 1] = value & 0xff;
        const inc = updateChecksum16(csum, old, value);
        assert.equal(inc, headerChecksum(h));
        h[10] = inc >>> 8;
        h[11] = inc & 0xff;
        assert.equal(internetChecksum(h, 0, 20), 0);
      },
    ),
    { numRuns: 2000 },
  );
});

test('checksum: the 0x0000 corner over random headers: the new sum is 0xFFFF and both ways give 0x0000', () => {
  fc.assert(
    fc.property(
      header20,
      fc.integer({ min: 1, max: 9 }).filter((w) => w !== 5),
      (h, word) => {
        // Choose the new value of `word` so that the header's sum without its checksum becomes 0xFFFF.
        const old = (h[word * 2]! << 8) | h[word * 2 + 1]!;
        const csum = (h[10]! << 8) | h[11]!;
        const others = h.slice();
        others[10] = others[11] = others[word * 2] = others[word * 2 + 1] = 0;
        const value = 0xffff - (~foldChecksum(sum16(others, 0, 20)) & 0xffff); // the others fold to 1..0xFFFF
        h[word * 2] = value >>> 8;
        h[word * 2 + 1] = value & 0xff;
        assert.equal(headerChecksum(h), 0x0000, 'full recomputation');
        assert.equal(updateChecksum16(csum, old, value), 0x0000, 'incremental, eqn. 3');
      },
    ),
    { numRuns: 1000 },
  );
});

// ---- IPv4 ----------------------------------------------------------------------------------------------

test('ipv4: takes the literal ping apart and builds it again byte for byte', () => {
  assert.equal(ipv4Check(PING, 0, PING.length), null);
  assert.equal(ipv4Src(PING, 0), ip4('10.0.0.1'));
  assert.equal(ipv4Dst(PING, 0), ip4('10.0.1.1'));
  assert.equal(ipv4HeaderLen(PING, 0), 20);
  assert.equal(ipv4TotalLen(PING, 0), 84);
  assert.equal(ipv4Ttl(PING, 0), 64);
  assert.equal(ipv4Proto(PING, 0), IP_PROTO.ICMP);
  assert.equal(ipv4Id(PING, 0), 0x1c46);
  assert.equal(ipv4DontFragment(PING, 0), true);
  assert.equal(ipv4MoreFragments(PING, 0), false);
  assert.equal(ipv4FragOffset(PING, 0), 0);
  assert.equal(isIpv4FirstFragment(PING, 0), true);
  assert.equal(isIpv4Fragment(PING, 0), false);
  const built = emitIpv4({ src: ip4('10.0.0.1'), dst: ip4('10.0.1.1'), proto: IP_PROTO.ICMP, ttl: 64, id: 0x1c46, dontFragment: true }, PING.subarray(20));
  assert.equal(toHex(built), toHex(PING));
  // In a bigger buffer at an offset, with Ethernet padding behind it.
  const framed = concat(new Uint8Array(14), PING, new Uint8Array(6));
  assert.equal(ipv4Check(framed, 14, framed.length - 14), null);
  assert.equal(ipv4TotalLen(framed, 14), 84);
  assert.throws(() => emitIpv4({ src: 0, dst: 0, proto: 17, ttl: 1 }, new Uint8Array(65516)), RangeError);
});

test('ipv4: every fault of ipv4Check', () => {
  const p = (): Uint8Array => PING.slice();
  assert.equal(ipv4Check(PING, 0, 19), 'ip_short');
  assert.equal(ipv4Check(PING.subarray(0, 19), 0, 19), 'ip_short');
  assert.equal(ipv4Check(PING, 70, 20), 'ip_short', 'len reaching past the buffer');
  const v6 = p();
  v6[0] = 0x65;
  assert.equal(ipv4Check(fix4(v6), 0, 84), 'ip_version');
  const ihl4 = p();
  ihl4[0] = 0x44;
  assert.equal(ipv4Check(ihl4, 0, 84), 'ip_header_len');
  const short = p();
  short[2] = 0;
  short[3] = 19;
  assert.equal(ipv4Check(fix4(short), 0, 84), 'ip_total_len', 'total length below the header');
  const long = p();
  long[3] = 85;
  assert.equal(ipv4Check(fix4(long), 0, 84), 'ip_total_len', 'total length beyond the bytes received');
  assert.equal(ipv4Check(PING, 0, 83), 'ip_total_len');
  const ihl15 = p();
  ihl15[0] = 0x4f;
  ihl15[2] = 0;
  ihl15[3] = 40;
  assert.equal(ipv4Check(fix4(ihl15), 0, 84), 'ip_total_len', 'a 60-byte header in a 40-byte packet');
  const bad = p();
  bad[15] = bad[15]! ^ 1;
  assert.equal(ipv4Check(bad, 0, 84), 'ip_checksum');
  const hdrOnly = p().subarray(0, 20);
  hdrOnly[3] = 20;
  assert.equal(ipv4Check(fix4(hdrOnly), 0, 20), null, 'a bare 20-byte header is a valid packet');
});

test('ipv4: decrementTtl4 patches the checksum as full recomputation would', () => {
  const p = PING.slice();
  assert.equal(decrementTtl4(p, 0), 63);
  assert.equal(ipv4Ttl(p, 0), 63);
  assert.equal(ipv4Check(p, 0, p.length), null);
  assert.equal(toHex(p.subarray(10, 12)), '0a62');
  const zero = PING.slice();
  zero[8] = 0;
  fix4(zero);
  const before = toHex(zero);
  assert.equal(decrementTtl4(zero, 0), 0);
  assert.equal(toHex(zero), before, 'a TTL of 0 is left alone');
  fc.assert(
    fc.property(header20, fc.integer({ min: 1, max: 255 }), fc.integer({ min: 0, max: 40 }), (h, ttl, off) => {
      h[8] = ttl;
      h[10] = h[11] = 0;
      const c = internetChecksum(h, 0, 20);
      h[10] = c >>> 8;
      h[11] = c & 0xff;
      const buf = new Uint8Array(off + 20);
      buf.set(h, off);
      assert.equal(decrementTtl4(buf, off), ttl - 1);
      const view = buf.subarray(off);
      assert.equal((view[10]! << 8) | view[11]!, headerChecksum(view));
    }),
    { numRuns: 2000 },
  );
});

test('ipv4: martian, multicast, broadcast and link-local predicates at their boundaries', () => {
  const src = (t: string): boolean => isMartianSource4(ip4(t));
  const dst = (t: string): boolean => isMartianDestination4(ip4(t));
  for (const t of ['0.0.0.0', '0.255.255.255', '127.0.0.0', '127.0.0.1', '127.255.255.255', '224.0.0.0', '239.255.255.255', '240.0.0.0', '255.255.255.254', '255.255.255.255']) {
    assert.equal(src(t), true, t);
  }
  for (const t of ['1.0.0.0', '10.0.0.1', '126.255.255.255', '128.0.0.0', '169.254.1.1', '192.168.1.1', '223.255.255.255']) assert.equal(src(t), false, t);
  for (const t of ['0.0.0.0', '0.255.255.255', '127.0.0.0', '127.255.255.255', '240.0.0.0', '255.255.255.254']) assert.equal(dst(t), true, t);
  for (const t of ['1.0.0.0', '126.255.255.255', '128.0.0.0', '223.255.255.255', '224.0.0.1', '239.255.255.255', '255.255.255.255']) {
    assert.equal(dst(t), false, t);
  }
  assert.equal(isLimitedBroadcast4(ip4('255.255.255.255')), true);
  assert.equal(isLimitedBroadcast4(ip4('255.255.255.254')), false);
  assert.equal(isLimitedBroadcast4(ip4('10.0.0.255')), false);
  assert.equal(isMulticast4(ip4('223.255.255.255')), false);
  assert.equal(isMulticast4(ip4('224.0.0.0')), true);
  assert.equal(isMulticast4(ip4('239.255.255.255')), true);
  assert.equal(isMulticast4(ip4('240.0.0.0')), false);
  assert.equal(isLinkLocal4(ip4('169.253.255.255')), false);
  assert.equal(isLinkLocal4(ip4('169.254.0.0')), true);
  assert.equal(isLinkLocal4(ip4('169.254.255.255')), true);
  assert.equal(isLinkLocal4(ip4('169.255.0.0')), false);
});

test('ipv4: address text both ways', () => {
  for (const t of ['0.0.0.0', '10.0.0.1', '192.168.255.1', '255.255.255.255', '1.2.3.4']) assert.equal(formatIpv4(parseIpv4(t)), t);
  assert.equal(parseIpv4('10.0.1.1'), 0x0a000101);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(formatIpv4(0xc0a80001), '192.168.0.1');
  for (const bad of ['', '10.0.0', '10.0.0.1.2', '10.0.0.256', '010.0.0.1', '10.0.0.-1', ' 10.0.0.1', '10.0.0.1 ', '0x0a.0.0.1', '10.0.0.1/24', '1e1.0.0.1', '::1']) {
    assert.throws(() => parseIpv4(bad), RangeError, bad);
  }
});

/** fragmentData returns the data of a fragment (after its header). */
const fragData = (f: Uint8Array): Uint8Array => f.subarray(ipv4HeaderLen(f, 0), ipv4TotalLen(f, 0));

test('ipv4: fragmentation at MTU 1280, 576 and 68: sizes, offsets, MF, checksums, reassembly', () => {
  const packet = concat(FRAG_HEADER, FRAG_DATA);
  assert.equal(ipv4Check(packet, 0, packet.length), null);
  const expect: Record<number, Array<[offset: number, mf: boolean, len: number]>> = {
    1280: [
      [0, true, 1280],
      [1248, false, 24 + 152],
    ],
    576: [
      [0, true, 576],
      [544, true, 576],
      [1096, false, 24 + 304],
    ],
  };
  const at68 = [[0, true, 64]] as Array<[number, boolean, number]>;
  for (let k = 0; k < 34; k++) at68.push([32 + 40 * k, true, 64]);
  at68.push([1392, false, 24 + 8]);
  expect[68] = at68;
  for (const mtu of [1280, 576, 68]) {
    const frags = fragmentIpv4(packet, mtu);
    assert.deepEqual(
      frags.map((f) => [ipv4FragOffset(f, 0), ipv4MoreFragments(f, 0), f.length]),
      expect[mtu],
      `mtu ${mtu}`,
    );
    for (const [i, f] of frags.entries()) {
      assert.equal(ipv4Check(f, 0, f.length), null, `mtu ${mtu} fragment ${i}`);
      assert.ok(f.length <= mtu);
      assert.equal(ipv4TotalLen(f, 0), f.length);
      assert.equal(ipv4Id(f, 0), 0xbeef);
      assert.equal(ipv4DontFragment(f, 0), false);
      if (ipv4MoreFragments(f, 0)) assert.equal(fragData(f).length % 8, 0, 'data of all but the last is a multiple of 8');
      // The options copy rule: the first fragment has them all, later ones only the copied Stream ID.
      if (i === 0) assert.equal(toHex(f.subarray(20, 32)), toHex(FRAG_HEADER.subarray(20, 32)));
      else assert.equal(toHex(f.subarray(20, 24)), '88041234');
    }
    assert.deepEqual(concat(...frags.map(fragData)), FRAG_DATA, `mtu ${mtu}: the data reassembles by concatenation`);
  }
  // The second fragment at 576, byte for byte, header literal computed outside this code.
  const second = fragmentIpv4(packet, 576)[1]!;
  assert.equal(toHex(second.subarray(0, 24)), toHex(FRAG576_SECOND_HEADER));
  assert.deepEqual(second.subarray(24), FRAG_DATA.subarray(544, 1096));
});

test('ipv4: fragmenting a fragment keeps its offset and gives its MF to the last piece', () => {
  const packet = concat(FRAG_HEADER, FRAG_DATA);
  const [first, last] = fragmentIpv4(packet, 1280) as [Uint8Array, Uint8Array];
  const again = fragmentIpv4(first, 576); // MF set, offset 0, all options
  assert.deepEqual(
    again.map((f) => [ipv4FragOffset(f, 0), ipv4MoreFragments(f, 0)]),
    [
      [0, true],
      [544, true],
      [1096, true],
    ],
    'the last piece of a fragment with MF keeps MF',
  );
  const tail = fragmentIpv4(last, 68); // MF clear, offset 1248, Stream ID only
  assert.deepEqual(
    tail.map((f) => [ipv4FragOffset(f, 0), ipv4MoreFragments(f, 0), f.length]),
    [
      [1248, true, 64],
      [1288, true, 64],
      [1328, true, 64],
      [1368, false, 24 + 32],
    ],
  );
  const all = [...again, ...tail].sort((a, b) => ipv4FragOffset(a, 0) - ipv4FragOffset(b, 0));
  assert.deepEqual(concat(...all.map(fragData)), FRAG_DATA);
  for (const f of [...again, ...tail]) assert.equal(ipv4Check(f, 0, f.length), null);
  assert.equal(isIpv4FirstFragment(tail[0]!, 0), false);
  assert.equal(isIpv4Fragment(tail[3]!, 0), true, 'the last fragment is still a fragment');
});

test('ipv4: fragmentation refusals and the packet that already fits', () => {
  const packet = concat(FRAG_HEADER, FRAG_DATA);
  assert.throws(() => fragmentIpv4(packet, 67), RangeError);
  assert.throws(() => fragmentIpv4(packet, NaN), RangeError);
  const df = packet.slice();
  df[6] = 0x40;
  fix4(df);
  assert.throws(() => fragmentIpv4(df, 1280), /DF/);
  assert.equal(fragmentIpv4(df, 1500).length, 1, 'DF does not matter when the packet fits');
  const fits = fragmentIpv4(concat(PING, new Uint8Array(4)), 84);
  assert.equal(fits.length, 1);
  assert.deepEqual(fits[0], PING, 'a copy of the packet without its link padding');
  const badOpt = packet.slice();
  badOpt[25] = 9; // Record Route claims 9 bytes in an 8-byte space
  assert.throws(() => fragmentIpv4(fix4(badOpt), 576), RangeError);
  const corrupt = packet.slice();
  corrupt[12] = corrupt[12]! ^ 1;
  assert.throws(() => fragmentIpv4(corrupt, 576), /ip_checksum/);
  // No options: later fragments have a plain 20-byte header.
  const plain = emitIpv4({ src: ip4('10.0.0.1'), dst: ip4('10.0.1.1'), proto: 17, ttl: 64 }, FRAG_DATA);
  const pieces = fragmentIpv4(plain, 1000);
  assert.deepEqual(
    pieces.map((f) => [ipv4HeaderLen(f, 0), ipv4FragOffset(f, 0), f.length]),
    [
      [20, 0, 996],
      [20, 976, 444],
    ],
  );
});

// ---- IPv6 ----------------------------------------------------------------------------------------------

test('ipv6: takes the literal NS header apart and builds it again byte for byte', () => {
  assert.equal(ipv6Check(NS, 0, NS.length), null);
  assert.equal(ipv6PayloadLen(NS, 0), 32);
  assert.equal(ipv6NextHeader(NS, 0), IP_PROTO.ICMPV6);
  assert.equal(ipv6HopLimit(NS, 0), 255);
  assert.equal(ipv6TrafficClass(NS, 0), 0);
  assert.equal(ipv6FlowLabel(NS, 0), 0);
  assert.equal(formatIpv6(NS, IPV6.SRC), '2001:db8::2');
  assert.equal(formatIpv6(NS, IPV6.DST), 'ff02::1:ff00:1');
  const built = emitIpv6({ src: ip6('2001:db8::2'), dst: ip6('ff02::1:ff00:1'), nextHeader: 58, hopLimit: 255 }, NS.subarray(40));
  assert.equal(toHex(built), toHex(NS));
  const tc = emitIpv6({ src: ip6('::1'), dst: ip6('::1'), nextHeader: 59, hopLimit: 1, trafficClass: 0xb8, flowLabel: 0x12345 }, new Uint8Array(0));
  assert.equal(toHex(tc.subarray(0, 8)), '6b8123450000' + '3b01');
  assert.equal(ipv6TrafficClass(tc, 0), 0xb8);
  assert.equal(ipv6FlowLabel(tc, 0), 0x12345);
  assert.throws(() => emitIpv6({ src: new Uint8Array(4), dst: ip6('::1'), nextHeader: 59, hopLimit: 1 }, new Uint8Array(0)), RangeError);
  const p = ECHO6.slice();
  assert.equal(decrementHopLimit6(p, 0), 63);
  assert.equal(ipv6HopLimit(p, 0), 63);
});

test('ipv6: every fault of ipv6Check, and the jumbogram', () => {
  assert.equal(ipv6Check(NS, 0, 39), 'ip_short');
  assert.equal(ipv6Check(NS, 40, 40), 'ip_short', 'len reaching past the buffer');
  const v4 = NS.slice();
  v4[0] = 0x40;
  assert.equal(ipv6Check(v4, 0, v4.length), 'ip_version');
  assert.equal(ipv6Check(NS, 0, NS.length - 1), 'ip_total_len', 'payload length beyond the bytes received');
  const jumbo = NS.slice();
  jumbo[4] = jumbo[5] = 0;
  jumbo[6] = IP_PROTO.HOPOPT;
  assert.equal(ipv6Check(jumbo, 0, jumbo.length), 'ip_total_len', 'payload length 0 before a hop-by-hop header: a jumbogram, not supported');
  const empty = NS.slice(0, 40);
  empty[4] = empty[5] = 0;
  empty[6] = IP_PROTO.IPV6_NONXT;
  assert.equal(ipv6Check(empty, 0, 40), null, 'payload length 0 with No Next Header is an empty packet');
  assert.equal(ipv6Check(concat(NS, new Uint8Array(8)), 0, NS.length + 8), null, 'bytes after the payload are ignored');
});

test('ipv6: address predicates at their boundaries', () => {
  const a = (t: string): Uint8Array => ip6(t);
  assert.equal(isMulticast6(a('ff00::'), 0), true);
  assert.equal(isMulticast6(a('feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 0), false);
  assert.equal(isLinkLocal6(a('fe80::'), 0), true);
  assert.equal(isLinkLocal6(a('febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 0), true);
  assert.equal(isLinkLocal6(a('fec0::'), 0), false);
  assert.equal(isLinkLocal6(a('fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 0), false);
  assert.equal(isUnspecified6(a('::'), 0), true);
  assert.equal(isUnspecified6(a('::1'), 0), false);
  assert.equal(isUnspecified6(a('8000::'), 0), false);
  assert.equal(isLoopback6(a('::1'), 0), true);
  assert.equal(isLoopback6(a('::2'), 0), false);
  assert.equal(isLoopback6(a('1::1'), 0), false);
  const src = (t: string): boolean => isMartianSource6(a(t), 0);
  const dst = (t: string): boolean => isMartianDestination6(a(t), 0);
  for (const t of ['ff02::1', 'ff00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::1', '::ffff:0.0.0.0', '::ffff:10.0.0.1', '::ffff:255.255.255.255']) assert.equal(src(t), true, t);
  for (const t of ['::', '::2', 'feff::', 'fe80::1', '2001:db8::1', '::fffe:0:0', '::1:ffff:0:0', '64:ff9b::a00:1', 'fd00::1']) assert.equal(src(t), false, t);
  for (const t of ['::', '::1', '::ffff:10.0.0.1', 'ff00::1', 'ff01::1', 'ff31::1', 'ff10::1']) assert.equal(dst(t), true, t);
  for (const t of ['::2', 'ff02::1', 'ff05::2', 'ff0e::1', 'ff12::1', 'fe80::1', '2001:db8::1', 'ff02::1:ff00:1']) assert.equal(dst(t), false, t);
  assert.equal(isSolicitedNode6(a('ff02::1:ff00:0'), 0), true);
  assert.equal(isSolicitedNode6(a('ff02::1:ffff:ffff'), 0), true);
  assert.equal(isSolicitedNode6(a('ff02::1:fe00:1'), 0), false);
  assert.equal(isSolicitedNode6(a('ff02::2:ff00:1'), 0), false);
});

test('ipv6: RFC 5952 canonical text and every RFC 4291 input form', () => {
  const cases: Array<[string, string]> = [
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0:0::1', '2001:db8::1'],
    ['2001:db8::0:1', '2001:db8::1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:DB8::AbCd', '2001:db8::abcd'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['FE80::0202:B3FF:FE1E:8329', 'fe80::202:b3ff:fe1e:8329'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::ffff:c000:0201', '::ffff:192.0.2.1'],
    ['0:0:0:0:0:ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['ff02::1:ff00:1', 'ff02::1:ff00:1'],
  ];
  for (const [input, canonical] of cases) {
    assert.equal(formatIpv6(parseIpv6(input)), canonical, input);
    assert.equal(formatIpv6(parseIpv6(canonical)), canonical, canonical);
  }
  assert.equal(toHex(parseIpv6('2001:db8::1')), '20010db8000000000000000000000001');
  const bad = [
    '',
    ':',
    '::::',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::',
    ':1::',
    '1::2:',
    'fe80::1%eth0',
    '::/64',
    '[::1]',
    '1.2.3.4',
    '::1.2.3',
    '::01.2.3.4',
    '::1.2.3.256',
    '1.2.3.4::',
    '::1.2.3.4:1',
    '1::2:3:4:5:6:7:8',
    '::1:2:3:4:5:6:7:8',
    ' ::1',
    '::1 ',
    '1:2:3:4:5:6:7:1.2.3.4',
  ];
  for (const t of bad) assert.throws(() => parseIpv6(t), RangeError, t);
});

test('ipv6: text round-trips and agrees with the ip-address package on random addresses', () => {
  // Biased towards zero groups so that compression gets exercised.
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (words) => {
      const b = new Uint8Array(16);
      words.forEach((w, i) => {
        b[i * 2] = w >>> 8;
        b[i * 2 + 1] = w & 0xff;
      });
      const text = formatIpv6(b);
      assert.deepEqual(parseIpv6(text), b);
      const ref = Address6.fromUnsignedByteArray([...b]);
      if (!(words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff)) assert.equal(text, ref.correctForm());
      assert.deepEqual(parseIpv6(ref.canonicalForm()), b, 'the full form');
      assert.deepEqual(parseIpv6(ref.to4in6()), b, 'the mixed form');
    }),
    { numRuns: 1000 },
  );
});

test('ipv6: solicited-node groups, multicast MACs and EUI-64 link-local addresses', () => {
  assert.equal(formatIpv6(solicitedNodeAddress(ip6('2001:db8::1'))), 'ff02::1:ff00:1');
  assert.equal(formatIpv6(solicitedNodeAddress(ip6('fe80::21b:21ff:fe3a:4f5c'))), 'ff02::1:ff3a:4f5c');
  assert.equal(formatMac(multicastMac6(ip6('ff02::1:ff00:1'))), '33:33:ff:00:00:01');
  assert.equal(formatMac(multicastMac6(ALL_NODES6)), '33:33:00:00:00:01');
  assert.equal(formatMac(multicastMac6(ip6('ff05::1:3'))), '33:33:00:01:00:03');
  assert.equal(formatMac(multicastMac6(ip6('ff02::ffff:ffff'))), '33:33:ff:ff:ff:ff');
  assert.equal(formatIpv6(linkLocalFromMac(MAC1)), 'fe80::ff:fe00:1');
  assert.equal(formatIpv6(linkLocalFromMac(parseMac('00:1b:21:3a:4f:5c'))), 'fe80::21b:21ff:fe3a:4f5c', 'universal bit set');
  assert.equal(formatIpv6(linkLocalFromMac(parseMac('fe:ff:ff:ff:ff:ff'))), 'fe80::fcff:ffff:feff:ffff');
});

// ---- ICMPv4 --------------------------------------------------------------------------------------------

test('icmp: the literal ping gets the literal reply, and only a valid echo request gets one', () => {
  const reply = echoReply4(PING, ip4('10.0.1.1'));
  assert.ok(reply);
  assert.equal(toHex(reply), toHex(PING_REPLY));
  assert.equal(toHex(echoReply4(concat(PING, new Uint8Array(6)), ip4('10.0.1.1'))!), toHex(PING_REPLY), 'link padding is not echoed');
  assert.equal(echoReply4(PING, ip4('10.0.1.1'), 255)![8], 255);
  const badIcmp = PING.slice();
  badIcmp[83] = badIcmp[83]! ^ 0xff;
  assert.equal(echoReply4(badIcmp, 1), null, 'ICMP checksum');
  const badIp = PING.slice();
  badIp[10] = badIp[10]! ^ 1;
  assert.equal(echoReply4(badIp, 1), null, 'IP checksum');
  assert.equal(echoReply4(PING_REPLY, 1), null, 'a reply is not a request');
  const frag = PING.slice();
  frag[6] = 0x20; // MF
  assert.equal(echoReply4(fix4(frag), 1), null, 'a fragment');
  const udp = PING.slice();
  udp[9] = 17;
  assert.equal(echoReply4(fix4(udp), 1), null, 'not ICMP');
  const truncated = PING.slice(0, 27);
  truncated[3] = 27;
  assert.equal(echoReply4(fix4(truncated), 1), null, 'shorter than an echo header');
  assert.equal(echoReply4(PING.subarray(0, 19), 1), null);
});

test('icmp: Time Exceeded about the literal ping, byte for byte', () => {
  const te = icmp4Error(ICMP4.TIME_EXCEEDED, 0, 0, PING, ip4('10.0.0.254'));
  assert.equal(toHex(te), toHex(TIME_EXCEEDED));
  assert.equal(isIcmp4Error(te, 0, te.length), true);
  assert.equal(toHex(icmp4Error(ICMP4.TIME_EXCEEDED, 0, 0, concat(PING, new Uint8Array(10)), ip4('10.0.0.254'))), toHex(TIME_EXCEEDED), 'padding not quoted');
});

test('icmp: an error quotes as much as fits in 576 bytes, with valid checksums', () => {
  const big = emitIpv4(
    { src: ip4('10.0.0.1'), dst: ip4('10.0.1.1'), proto: IP_PROTO.UDP, ttl: 1, id: 7 },
    Uint8Array.from({ length: 1480 }, (_, i) => i & 0xff),
  );
  const e = icmp4Error(ICMP4.DEST_UNREACH, UNREACH.FRAG_NEEDED, 1400, big, ip4('10.0.0.254'), 63);
  assert.equal(e.length, 576);
  assert.equal(ipv4Check(e, 0, e.length), null);
  assert.equal(internetChecksum(e, 20, 556), 0);
  assert.equal(ipv4Src(e, 0), ip4('10.0.0.254'));
  assert.equal(ipv4Dst(e, 0), ip4('10.0.0.1'));
  assert.equal(ipv4Ttl(e, 0), 63);
  assert.equal(ipv4Proto(e, 0), IP_PROTO.ICMP);
  assert.equal(e[1], 0xc0, 'precedence 6');
  assert.equal(toHex(e.subarray(20, 28)).slice(0, 4), '0304');
  assert.equal(toHex(e.subarray(24, 28)), '00000578', 'next-hop MTU in the low 16 bits');
  assert.deepEqual(e.subarray(28), big.subarray(0, 548));
  for (const size of [20, 100, 547, 548, 549, 1000]) {
    const off = emitIpv4({ src: ip4('10.0.0.1'), dst: ip4('10.0.1.1'), proto: IP_PROTO.UDP, ttl: 1 }, new Uint8Array(size - 20));
    const err = icmp4Error(ICMP4.PARAM_PROBLEM, 0, 8 << 24, off, ip4('10.0.0.254'));
    assert.equal(err.length, Math.min(576, 28 + size), `offending ${size}`);
    assert.equal(ipv4Check(err, 0, err.length), null);
    assert.equal(internetChecksum(err, 20, err.length - 20), 0);
    assert.equal(err[24], 8, 'the pointer in the top byte');
  }
  assert.throws(() => icmp4Error(3, 1, 0, new Uint8Array(19), 1), RangeError);
});

test('icmp: isIcmp4Error tells errors from queries and from what it cannot read', () => {
  const withType = (type: number): Uint8Array => {
    const p = PING.slice();
    p[20] = type;
    return p;
  };
  for (const t of [3, 4, 5, 11, 12, 19, 42, 255]) assert.equal(isIcmp4Error(withType(t), 0, 84), true, `type ${t}`);
  for (const t of [0, 8, 9, 10, 13, 14, 17, 18]) assert.equal(isIcmp4Error(withType(t), 0, 84), false, `type ${t}`);
  assert.equal(isIcmp4Error(TIME_EXCEEDED, 0, TIME_EXCEEDED.length), true);
  const framed = concat(new Uint8Array(14), TIME_EXCEEDED);
  assert.equal(isIcmp4Error(framed, 14, TIME_EXCEEDED.length), true);
  const udp = withType(3);
  udp[9] = 17;
  assert.equal(isIcmp4Error(udp, 0, 84), false, 'not ICMP');
  const later = withType(3);
  later[7] = 1; // a non-initial fragment: byte 20 is data, not a type
  assert.equal(isIcmp4Error(later, 0, 84), false);
  const bare = withType(3).subarray(0, 20);
  bare[3] = 20;
  assert.equal(isIcmp4Error(bare, 0, 20), false, 'the type cannot be read: the packet ends with its header');
  assert.equal(isIcmp4Error(withType(3), 0, 20), false, 'nor when len stops at the header');
  assert.equal(isIcmp4Error(withType(3), 0, 21), true, 'one byte is enough');
  assert.equal(isIcmp4Error(PING, 0, 10), false);
});

// ---- ICMPv6 --------------------------------------------------------------------------------------------

test('icmpv6: checksums of the literal packets, and what fails them', () => {
  for (const p of [NS, NA, RA, ECHO6, ECHO6_REPLY]) assert.equal(icmp6ChecksumValid(p, 0, p.length), true);
  const framed = concat(new Uint8Array(14), NA, new Uint8Array(3));
  assert.equal(icmp6ChecksumValid(framed, 14, NA.length + 3), true);
  const flipped = NA.slice();
  flipped[70] = flipped[70]! ^ 1;
  assert.equal(icmp6ChecksumValid(flipped, 0, flipped.length), false);
  const otherSrc = NA.slice();
  otherSrc[23] = 9; // the pseudo-header covers the addresses
  assert.equal(icmp6ChecksumValid(otherSrc, 0, otherSrc.length), false);
  const udp = NA.slice();
  udp[6] = IP_PROTO.UDP;
  assert.equal(icmp6ChecksumValid(udp, 0, udp.length), false);
  assert.equal(icmp6ChecksumValid(NA, 0, NA.length - 1), false, 'truncated');
});

test('icmpv6: the literal echo request gets the literal reply', () => {
  const reply = echoReply6(ECHO6, ip6('2001:db8::1'));
  assert.ok(reply);
  assert.equal(toHex(reply), toHex(ECHO6_REPLY));
  const tc = ECHO6.slice();
  tc[0] = 0x6b;
  tc[1] = 0x80;
  assert.equal(ipv6TrafficClass(echoReply6(tc, ip6('2001:db8::1'))!, 0), 0xb8, 'traffic class echoed');
  const bad = ECHO6.slice();
  bad[50] = bad[50]! ^ 1;
  assert.equal(echoReply6(bad, ip6('2001:db8::1')), null, 'checksum');
  assert.equal(echoReply6(ECHO6_REPLY, ip6('2001:db8::1')), null, 'not a request');
  assert.equal(echoReply6(NS, ip6('2001:db8::1')), null);
  assert.equal(echoReply6(ECHO6.subarray(0, 50), ip6('2001:db8::1')), null, 'truncated');
});

test('icmpv6: an error quotes as much as fits in 1280 bytes, with a valid checksum', () => {
  const src = ip6('2001:db8:1::10');
  const router = ip6('2001:db8::ffff');
  const big = emitIpv6(
    { src, dst: ip6('2001:db8:2::20'), nextHeader: IP_PROTO.UDP, hopLimit: 64 },
    Uint8Array.from({ length: 1460 }, (_, i) => i & 0xff),
  );
  const e = icmp6Error(ICMP6.PACKET_TOO_BIG, 0, 1400, big, router);
  assert.equal(e.length, 1280);
  assert.equal(ipv6Check(e, 0, e.length), null);
  assert.equal(icmp6ChecksumValid(e, 0, e.length), true);
  assert.equal(formatIpv6(e, IPV6.SRC), '2001:db8::ffff');
  assert.equal(formatIpv6(e, IPV6.DST), '2001:db8:1::10');
  assert.equal(ipv6HopLimit(e, 0), 64);
  assert.equal(toHex(e.subarray(40, 48)).slice(0, 4), '0200');
  assert.equal(toHex(e.subarray(44, 48)), '00000578');
  assert.deepEqual(e.subarray(48), big.subarray(0, 1232));
  assert.equal(isIcmp6Error(e, 0, e.length), true);
  for (const size of [40, 100, 1231, 1232, 1233, 1500]) {
    const off = emitIpv6({ src, dst: router, nextHeader: IP_PROTO.UDP, hopLimit: 1 }, new Uint8Array(size - 40));
    const err = icmp6Error(ICMP6.DEST_UNREACH, UNREACH6.PORT, 0, concat(off, new Uint8Array(4)), router, 255);
    assert.equal(err.length, Math.min(1280, 48 + size), `offending ${size}`);
    assert.equal(icmp6ChecksumValid(err, 0, err.length), true);
    assert.equal(ipv6HopLimit(err, 0), 255);
  }
  assert.throws(() => icmp6Error(1, 0, 0, new Uint8Array(39), router), RangeError);
});

test('icmpv6: isIcmp6Error looks past simple extension headers', () => {
  const router = ip6('2001:db8::ffff');
  const err = icmp6Error(ICMP6.TIME_EXCEEDED, 0, 0, ECHO6, router);
  assert.equal(isIcmp6Error(err, 0, err.length), true);
  assert.equal(isIcmp6Error(ECHO6, 0, ECHO6.length), false);
  assert.equal(isIcmp6Error(NS, 0, NS.length), false);
  const icmp = err.subarray(40);
  const chain = (...exts: Uint8Array[]): Uint8Array => {
    const p = emitIpv6({ src: router, dst: ip6('2001:db8::2'), nextHeader: IP_PROTO.HOPOPT, hopLimit: 64 }, concat(...exts, icmp));
    return p;
  };
  // Hop-by-Hop (8 bytes, PadN) -> Destination Options (16 bytes) -> ICMPv6.
  const hbh = hex('3c00 0104 0000 0000');
  const dopts = hex('3a01 010c 0000 0000 0000 0000 0000 0000');
  const p1 = chain(hbh, dopts);
  assert.equal(isIcmp6Error(p1, 0, p1.length), true);
  assert.equal(isIcmp6Error(p1, 0, 40 + 8 + 16), false, 'the ICMPv6 type is beyond len');
  assert.equal(isIcmp6Error(p1, 0, 40 + 1), false, 'a truncated extension header');
  // Hop-by-Hop -> Fragment (first fragment, M set) -> ICMPv6.
  const first = chain(hex('2c00 0104 0000 0000'), hex('3a00 0001 0000 abcd'));
  assert.equal(isIcmp6Error(first, 0, first.length), true);
  const later = chain(hex('2c00 0104 0000 0000'), hex('3a00 0100 0000 abcd'));
  assert.equal(isIcmp6Error(later, 0, later.length), false, 'a non-first fragment cannot show its type');
  // Routing header, then an echo request: not an error.
  const routed = emitIpv6({ src: router, dst: ip6('2001:db8::2'), nextHeader: IP_PROTO.IPV6_ROUTE, hopLimit: 64 }, concat(hex('3a00 0400 0000 0000'), ECHO6.subarray(40)));
  assert.equal(isIcmp6Error(routed, 0, routed.length), false);
  routed[48] = 1;
  assert.equal(isIcmp6Error(routed, 0, routed.length), true);
  const udp = ECHO6.slice();
  udp[6] = IP_PROTO.UDP;
  udp[40] = 1;
  assert.equal(isIcmp6Error(udp, 0, udp.length), false);
  assert.equal(isIcmp6Error(ECHO6, 0, 30), false);
});

// ---- NDP -----------------------------------------------------------------------------------------------

test('ndp: the literal NS and NA, taken apart and built byte for byte', () => {
  const ns = parseNdp(NS, 0, NS.length);
  assert.ok(ns && ns.type === 'ns');
  assert.equal(formatIpv6(ns.target), '2001:db8::1');
  assert.equal(formatIpv6(ns.src), '2001:db8::2');
  assert.equal(formatIpv6(ns.dst), 'ff02::1:ff00:1');
  assert.equal(ns.sourceMac, MAC2);
  assert.equal(toHex(emitNs(ip6('2001:db8::2'), ip6('2001:db8::1'), MAC2)), toHex(NS));
  assert.equal(toHex(emitNs(ns.src, ns.target, ns.sourceMac, ns.dst)), toHex(NS));
  const na = parseNdp(NA, 0, NA.length);
  assert.deepEqual(na, {
    type: 'na',
    src: ip6('2001:db8::1'),
    dst: ip6('2001:db8::2'),
    target: ip6('2001:db8::1'),
    targetMac: MAC1,
    router: false,
    solicited: true,
    override: true,
  });
  assert.equal(toHex(emitNa(ip6('2001:db8::1'), ip6('2001:db8::2'), ip6('2001:db8::1'), MAC1, { router: false, solicited: true, override: true })), toHex(NA));
  // In a frame behind an Ethernet header, with padding.
  const framed = concat(new Uint8Array(14), NA, new Uint8Array(2));
  assert.equal(parseNdp(framed, 14, NA.length + 2)?.type, 'na');
  // The result does not alias the receive buffer.
  const copy = NS.slice();
  const parsed = parseNdp(copy, 0, copy.length)!;
  copy.fill(0);
  assert.equal(parsed.type === 'ns' && formatIpv6(parsed.target), '2001:db8::1');
});

test('ndp: the literal RA, taken apart and built byte for byte', () => {
  const ra = parseNdp(RA, 0, RA.length);
  assert.deepEqual(ra, {
    type: 'ra',
    src: ip6('fe80::ff:fe00:1'),
    dst: ALL_NODES6,
    curHopLimit: 64,
    managed: false,
    other: false,
    routerLifetime: 1800,
    reachableTime: 0,
    retransTimer: 0,
    sourceMac: MAC1,
    mtu: 1500,
    prefixes: [{ prefix: ip6('2001:db8::'), length: 64, onLink: true, autonomous: true, validLifetime: 2592000, preferredLifetime: 604800 }],
  });
  const built = emitRa(linkLocalFromMac(MAC1), ALL_NODES6, {
    curHopLimit: 64,
    managed: false,
    other: false,
    routerLifetime: 1800,
    reachableTime: 0,
    retransTimer: 0,
    sourceMac: MAC1,
    mtu: 1500,
    prefixes: [{ prefix: ip6('2001:db8::1234'), length: 64, onLink: true, autonomous: true, validLifetime: 2592000, preferredLifetime: 604800 }],
  });
  assert.equal(toHex(built), toHex(RA), 'host bits of the prefix are sent as zero');
  // Without the optional options, with M/O flags and two prefixes, through parse again.
  const two = emitRa(linkLocalFromMac(MAC1), ip6('fe80::2'), {
    curHopLimit: 0,
    managed: true,
    other: true,
    routerLifetime: 0,
    reachableTime: 30000,
    retransTimer: 1000,
    sourceMac: null,
    prefixes: [
      { prefix: ip6('fd00:1:2:3::'), length: 64, onLink: true, autonomous: false, validLifetime: 0xffffffff, preferredLifetime: 0xffffffff },
      { prefix: ip6('2001:db8:ffff::'), length: 36, onLink: false, autonomous: true, validLifetime: 10, preferredLifetime: 5 },
    ],
  });
  const back = parseNdp(two, 0, two.length);
  assert.ok(back && back.type === 'ra');
  assert.equal(back.managed && back.other, true);
  assert.equal(back.sourceMac, undefined);
  assert.equal(back.mtu, undefined);
  assert.equal(back.reachableTime, 30000);
  assert.equal(back.retransTimer, 1000);
  assert.deepEqual(
    back.prefixes.map((p) => [formatIpv6(p.prefix), p.length, p.onLink, p.autonomous, p.validLifetime, p.preferredLifetime]),
    [
      ['fd00:1:2:3::', 64, true, false, 0xffffffff, 0xffffffff],
      ['2001:db8:f000::', 36, false, true, 10, 5],
    ],
  );
  assert.throws(
    () =>
      emitRa(linkLocalFromMac(MAC1), ALL_NODES6, {
        curHopLimit: 64,
        managed: false,
        other: false,
        routerLifetime: 0,
        reachableTime: 0,
        retransTimer: 0,
        prefixes: [{ prefix: ip6('::'), length: 129, onLink: true, autonomous: true, validLifetime: 0, preferredLifetime: 0 }],
      }),
    RangeError,
  );
});

test('ndp: RS both ways, and DAD probes', () => {
  const rs = emitRs(linkLocalFromMac(MAC2), MAC2);
  assert.equal(ipv6HopLimit(rs, 0), 255);
  assert.deepEqual(parseNdp(rs, 0, rs.length), { type: 'rs', src: linkLocalFromMac(MAC2), dst: ip6('ff02::2'), sourceMac: MAC2 });
  const anon = emitRs(ip6('::'), null);
  assert.deepEqual(parseNdp(anon, 0, anon.length), { type: 'rs', src: ip6('::'), dst: ip6('ff02::2'), sourceMac: undefined });
  assert.throws(() => emitRs(ip6('::'), MAC2), RangeError);
  const dad = emitNs(ip6('::'), ip6('2001:db8::1'), null);
  const parsed = parseNdp(dad, 0, dad.length);
  assert.ok(parsed && parsed.type === 'ns' && parsed.sourceMac === undefined && isUnspecified6(parsed.src, 0));
  assert.throws(() => emitNs(ip6('::'), ip6('2001:db8::1'), MAC2), RangeError);
  assert.throws(() => emitNa(ip6('2001:db8::1'), ALL_NODES6, ip6('2001:db8::1'), MAC1, { router: true, solicited: true, override: true }), RangeError);
  const unsolicited = emitNa(ip6('2001:db8::1'), ALL_NODES6, ip6('2001:db8::1'), MAC1, { router: true, solicited: false, override: true });
  assert.deepEqual(parseNdp(unsolicited, 0, unsolicited.length), {
    type: 'na',
    src: ip6('2001:db8::1'),
    dst: ALL_NODES6,
    target: ip6('2001:db8::1'),
    targetMac: MAC1,
    router: true,
    solicited: false,
    override: true,
  });
});

test('ndp: RFC 4861 validation failures are rejected', () => {
  const rejects = (p: Uint8Array, why: string): void => assert.equal(parseNdp(p, 0, p.length), null, why);
  const hop254 = NS.slice();
  hop254[7] = 254; // the hop limit is not in the checksum: only the hop-limit rule can reject it
  assert.equal(icmp6ChecksumValid(hop254, 0, hop254.length), true);
  rejects(hop254, 'hop limit 254');
  const badSum = NS.slice();
  badSum[43] = badSum[43]! ^ 1;
  rejects(badSum, 'bad checksum');
  const code = NS.slice();
  code[41] = 1;
  rejects(fix6(code), 'code 1');
  const zeroOpt = NS.slice();
  zeroOpt[65] = 0;
  rejects(fix6(zeroOpt), 'an option of length 0');
  const longOpt = NS.slice();
  longOpt[65] = 2;
  rejects(fix6(longOpt), 'an option running past the message');
  const oddLla = concat(NS.slice(0, 64), hex('0102 0200 0000 0002 0000 0000 0000 0000'));
  oddLla[5] = 40;
  rejects(fix6(oddLla), 'a link-layer address option of 16 bytes on Ethernet');
  const mcTarget = NS.slice();
  mcTarget[48] = 0xff;
  rejects(fix6(mcTarget), 'NS for a multicast target');
  const dadWithLla = NS.slice();
  dadWithLla.fill(0, 8, 24);
  rejects(fix6(dadWithLla), 'NS from :: with a source link-layer option');
  const dadUnicast = emitNs(ip6('::'), ip6('2001:db8::1'), null, ip6('2001:db8::1'));
  rejects(dadUnicast, 'NS from :: not to a solicited-node group');
  const naToGroup = NA.slice();
  naToGroup.set(ALL_NODES6, 24);
  rejects(fix6(naToGroup), 'NA with the S flag to a multicast destination');
  const naMcTarget = NA.slice();
  naMcTarget[48] = 0xff;
  rejects(fix6(naMcTarget), 'NA for a multicast target');
  const short = NS.slice(0, 40 + 20);
  short[5] = 20;
  rejects(fix6(short), 'NS shorter than 24 bytes');
  const raGlobal = RA.slice();
  raGlobal.set(ip6('2001:db8::1'), 8);
  rejects(fix6(raGlobal), 'RA from a global address');
  const rsWithLla = emitRs(ip6('fe80::1'), MAC1);
  rsWithLla.fill(0, 8, 24);
  rejects(fix6(rsWithLla), 'RS from :: with a source link-layer option');
  const withExt = emitIpv6({ src: ip6('2001:db8::2'), dst: ip6('ff02::1:ff00:1'), nextHeader: IP_PROTO.HOPOPT, hopLimit: 255 }, concat(hex('3a00 0104 0000 0000'), NS.subarray(40)));
  rejects(withExt, 'behind an extension header (not supported)');
  rejects(ECHO6, 'not NDP');
  const redirect = NS.slice();
  redirect[40] = ICMP6.REDIRECT;
  rejects(fix6(redirect), 'a redirect');
  rejects(NS.subarray(0, 60), 'truncated');
  // And what is merely ignored: an unknown option, a second source option, a prefix option of the wrong size.
  const extra = concat(NS, hex('fe01 0000 0000 0000'), hex('0101 0200 0000 0009'), hex('0301 0000 0000 0000'));
  extra[5] = 32 + 24;
  const ok = parseNdp(fix6(extra), 0, extra.length);
  assert.ok(ok && ok.type === 'ns');
  assert.equal(ok.sourceMac, MAC2, 'the first source link-layer option counts');
});

// ---- ARP -----------------------------------------------------------------------------------------------

test('arp: the literal request and reply, taken apart and built byte for byte', () => {
  const req = parseArp(ARP_REQUEST, 0, ARP_REQUEST.length);
  assert.deepEqual(req, { op: ARP_OP.REQUEST, senderMac: MAC1, senderIp: ip4('10.0.0.1'), targetMac: 0, targetIp: ip4('10.0.0.2') });
  assert.equal(toHex(emitArp(req)), toHex(ARP_REQUEST));
  const rep = parseArp(ARP_REPLY, 0, ARP_REPLY.length);
  assert.deepEqual(rep, { op: ARP_OP.REPLY, senderMac: MAC2, senderIp: ip4('10.0.0.2'), targetMac: MAC1, targetIp: ip4('10.0.0.1') });
  assert.equal(toHex(emitArp({ op: ARP_OP.REPLY, senderMac: MAC2, senderIp: ip4('10.0.0.2'), targetMac: MAC1, targetIp: ip4('10.0.0.1') })), toHex(ARP_REPLY));
  // In a minimum-size Ethernet frame (padded to 60 bytes), as the wire tests' literal frame is.
  const frame = concat(emitEthernet({ dst: 0xffff_ffff_ffff, src: MAC1, etherType: 0x0806 }, ARP_REQUEST), new Uint8Array(18));
  assert.equal(toHex(frame.subarray(0, 42)), 'ffffffffffff020000000001' + '0806' + toHex(ARP_REQUEST));
  assert.deepEqual(parseArp(frame, ETH.HEADER_LEN, frame.length - ETH.HEADER_LEN), req);
});

test('arp: anything but Ethernet/IPv4 request or reply is refused', () => {
  const rejects = (at: number, value: number, why: string): void => {
    const p = ARP_REQUEST.slice();
    p[at] = value;
    assert.equal(parseArp(p, 0, p.length), null, why);
  };
  rejects(1, 6, 'htype 6 (IEEE 802)');
  rejects(2, 0x86, 'ptype 0x8600');
  rejects(4, 8, 'hlen 8');
  rejects(5, 16, 'plen 16');
  rejects(7, 3, 'op 3 (RARP request)');
  rejects(7, 0, 'op 0');
  rejects(6, 1, 'op 0x0101');
  assert.equal(parseArp(ARP_REQUEST, 0, 27), null, 'short');
  assert.equal(parseArp(ARP_REQUEST, 1, 28), null, 'len past the buffer');
});

test('arp: gratuitous announcements and probes', () => {
  const a = ip4('10.0.0.5');
  assert.equal(isGratuitousArp({ op: ARP_OP.REQUEST, senderMac: MAC1, senderIp: a, targetMac: 0, targetIp: a }), true, 'announcement as a request');
  assert.equal(isGratuitousArp({ op: ARP_OP.REPLY, senderMac: MAC1, senderIp: a, targetMac: 0xffff_ffff_ffff, targetIp: a }), true, 'as a reply');
  assert.equal(isGratuitousArp(parseArp(ARP_REQUEST, 0, 28)!), false);
  const probe = { op: ARP_OP.REQUEST, senderMac: MAC1, senderIp: 0, targetMac: 0, targetIp: a };
  assert.equal(isGratuitousArp(probe), false);
  assert.equal(isArpProbe(probe), true);
  assert.equal(isGratuitousArp({ ...probe, targetIp: 0 }), false, 'sender and target 0.0.0.0 is not an announcement');
  assert.equal(isArpProbe(parseArp(ARP_REQUEST, 0, 28)!), false);
});
