import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BROADCAST,
  emitEthernet,
  formatMac,
  isGroupMac,
  isGroupMacAt,
  isReservedGroupAt,
  isVlanTpid,
  isZeroMacAt,
  l3OffsetAt,
  macAt,
  macBytes,
  parseEthernet,
  parseMac,
  vlanTagLenAt,
} from '../../src/wire/ethernet.js';
import { GSO, VNET_FLAG, emitVnetHeader, gsoSegmentLength, gsoSizeAt, isGsoAt, parseVnetHeader, vnetHeaderValid } from '../../src/wire/virtio-net.js';
import { parseCidr } from '../../src/wire/cidr.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// An ARP request "who-has 10.0.0.2 tell 10.0.0.1" as tcpdump -xx shows it on a TAP.
const ARP_REQUEST = hex(`
  ffff ffff ffff 0200 0000 0001 0806
  0001 0800 0604 0001 0200 0000 0001 0a00 0001 0000 0000 0000 0a00 0002`);

test('ethernet: takes a literal ARP frame apart and builds it again byte for byte', () => {
  const h = parseEthernet(ARP_REQUEST);
  assert.deepEqual(h, { dst: BROADCAST, src: 0x02_00_00_00_00_01, etherType: 0x0806 });
  const rebuilt = emitEthernet(h, ARP_REQUEST.subarray(14));
  assert.deepEqual(rebuilt, ARP_REQUEST);
  assert.equal(parseEthernet(ARP_REQUEST.subarray(0, 13)), undefined);
});

test('ethernet: VLAN tags are recognised by their TPID, 802.1Q and 802.1ad alike', () => {
  // An echo request tagged with VID 10 (802.1Q), as tcpdump -xx -e shows it, at an offset in a batch buffer.
  const tagged = hex(`
    eeee eeee
    0200 0000 0002 0200 0000 0001 8100 000a 0800
    4500 0054 0000 4000 4001 0000 0a00 0001 0a00 0002`);
  assert.equal(vlanTagLenAt(tagged, 4), 4);
  assert.equal(l3OffsetAt(tagged, 4), 18);
  assert.equal(tagged[4 + l3OffsetAt(tagged, 4)], 0x45, 'the IPv4 header starts behind the tag');
  const sTagged = Uint8Array.from(tagged);
  sTagged[4 + 12] = 0x88;
  sTagged[4 + 13] = 0xa8;
  assert.equal(vlanTagLenAt(sTagged, 4), 4, 'an 802.1ad service tag');
  assert.equal(l3OffsetAt(sTagged, 4), 18);
  assert.equal(vlanTagLenAt(ARP_REQUEST, 0), 0);
  assert.equal(l3OffsetAt(ARP_REQUEST, 0), 14);
  assert.deepEqual([0x8100, 0x88a8, 0x0800, 0x86dd, 0x0806, 0x9100, 0x8101, 0x81].map(isVlanTpid), [true, true, false, false, false, false, false, false]);
});

test('ethernet: MAC keys round-trip through text and bytes', () => {
  for (const text of ['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '02:00:5e:10:00:01', '80:00:00:00:00:01', 'fe:dc:ba:98:76:54']) {
    const key = parseMac(text);
    assert.equal(formatMac(key), text);
    assert.equal(macAt(macBytes(key), 0), key);
    assert.equal(formatMac(parseMac(text.toUpperCase())), text);
  }
  assert.throws(() => parseMac('02:00:00:00:00'), RangeError);
  assert.throws(() => parseMac('02-00-00-00-00-01'), RangeError);
  assert.throws(() => parseMac('0g:00:00:00:00:01'), RangeError);
});

test('ethernet: group, reserved and zero predicates', () => {
  assert.equal(isGroupMac(BROADCAST), true);
  assert.equal(isGroupMac(parseMac('01:00:5e:00:00:01')), true);
  assert.equal(isGroupMac(parseMac('33:33:ff:00:00:01')), true);
  assert.equal(isGroupMac(parseMac('02:00:00:00:00:01')), false);
  assert.equal(isGroupMacAt(macBytes(parseMac('03:00:00:00:00:00')), 0), true);
  for (let last = 0; last <= 0x0f; last++) assert.equal(isReservedGroupAt(hex(`0180c20000${last.toString(16).padStart(2, '0')}`), 0), true);
  assert.equal(isReservedGroupAt(hex('0180c2000010'), 0), false);
  assert.equal(isReservedGroupAt(hex('0180c2000100'), 0), false);
  assert.equal(isZeroMacAt(hex('000000000000'), 0), true);
  assert.equal(isZeroMacAt(hex('000000000100'), 0), false);
});

// The header the kernel puts before a TCP/IPv4 GSO frame: NEEDS_CSUM, TCPV4, hdr_len 66, gso_size 1448,
// csum_start 34, csum_offset 16.
const VNET_TCP4_GSO = hex('0101 4200 a805 2200 1000 0000');

test('virtio-net: takes a literal header apart and builds it again byte for byte', () => {
  const h = parseVnetHeader(VNET_TCP4_GSO);
  assert.deepEqual(h, { flags: VNET_FLAG.NEEDS_CSUM, gsoType: GSO.TCPV4, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16, numBuffers: 0 });
  const out = new Uint8Array(12);
  emitVnetHeader(h, out);
  assert.deepEqual(out, VNET_TCP4_GSO);
  assert.equal(isGsoAt(VNET_TCP4_GSO, 0), true);
  assert.equal(gsoSizeAt(VNET_TCP4_GSO, 0), 1448);
  assert.equal(isGsoAt(hex('0000 0000 0000 0000 0000 0000'), 0), false);
  assert.equal(isGsoAt(hex('0080 0000 0000 0000 0000 0000'), 0), false, 'the ECN bit alone is not GSO');
});

test('virtio-net: header validity', () => {
  assert.equal(vnetHeaderValid(VNET_TCP4_GSO, 0, 65000), true);
  assert.equal(vnetHeaderValid(VNET_TCP4_GSO, 0, 40), false, 'checksum field beyond the frame');
  assert.equal(vnetHeaderValid(hex('0002 0000 0000 0000 0000 0000'), 0, 60), false, 'unknown GSO type 2');
  assert.equal(vnetHeaderValid(hex('0001 0000 0000 0000 0000 0000'), 0, 60), false, 'GSO with gso_size 0');
  assert.equal(vnetHeaderValid(hex('0085 0000 a805 0000 0000 0000'), 0, 60), true, 'UDP_L4 with ECN bit');
  assert.equal(vnetHeaderValid(hex('0000 0000 0000 0000 0000 0000'), 0, 14), true);
});

test('cidr: parses IPv4 and IPv6 with prefix lengths and rejects the rest', () => {
  assert.deepEqual(parseCidr('10.0.0.1/24'), { family: 4, address: Uint8Array.from([10, 0, 0, 1]), prefixLength: 24, text: '10.0.0.1/24' });
  const v6 = parseCidr('FD00:0::1/64');
  assert.equal(v6.family, 6);
  assert.equal(v6.text, 'fd00::1/64');
  assert.deepEqual(v6.address, hex('fd00 0000 0000 0000 0000 0000 0000 0001'));
  assert.deepEqual(parseCidr('::1/128').address, hex('0000 0000 0000 0000 0000 0000 0000 0001'));
  for (const bad of ['10.0.0.1', '10.0.0.1/33', '10.0.0.256/24', 'fd00::1/129', 'fe80::1%eth0/64', '10.0.0.1/-1', '10.0.0.1/2x', 'hello/8', '']) {
    assert.throws(() => parseCidr(bad), RangeError, bad);
  }
});

test('virtio-net: the segment length of a GSO frame counts its IP and transport headers', () => {
  const frame = new Uint8Array(12 + 14 + 20 + 32 + 3000);
  frame.set(VNET_TCP4_GSO, 0); // csum_start 34, gso_size 1448
  frame.set(hex('4500 0c18 0000 4000 4006'), 12 + 14); // IPv4, TCP
  frame[12 + 34 + 12] = 0x80; // a 32-byte TCP header (timestamps)
  assert.equal(gsoSegmentLength(frame, 0, frame.length - 12, 14), 20 + 32 + 1448);
  const udp = new Uint8Array(12 + 14 + 40 + 8 + 3000);
  emitVnetHeader({ flags: VNET_FLAG.NEEDS_CSUM, gsoType: GSO.UDP_L4, hdrLen: 62, gsoSize: 1200, csumStart: 54, csumOffset: 6, numBuffers: 0 }, udp);
  udp.set(hex('6000 0000 0bc0 1140'), 12 + 14); // IPv6, UDP
  assert.equal(gsoSegmentLength(udp, 0, udp.length - 12, 14), 40 + 8 + 1200, 'UDP over IPv6');
});

test('virtio-net: the segment length comes from the packet whatever the flags, hdr_len and csum_start say', () => {
  // flags 0 (no NEEDS_CSUM), csum_start 0, hdr_len 0x36: TCP/IPv4 with a 24-byte IP header (options).
  const v4 = new Uint8Array(12 + 14 + 24 + 20 + 3000);
  v4.set(hex('00 01 3600 be05 0000 0000 0000'), 0);
  v4.set(hex('4600 0c24 0000 4000 4006'), 12 + 14);
  v4[12 + 38 + 12] = 0x50;
  assert.equal(gsoSegmentLength(v4, 0, v4.length - 12, 14), 24 + 20 + 1470);
  v4[0] = VNET_FLAG.DATA_VALID;
  assert.equal(gsoSegmentLength(v4, 0, v4.length - 12, 14), 24 + 20 + 1470, 'DATA_VALID');
  const routed = new Uint8Array(v4.length - 14);
  routed.set(v4.subarray(0, 12), 0);
  routed.set(v4.subarray(26), 12);
  assert.equal(gsoSegmentLength(routed, 0, routed.length - 12, 0), 24 + 20 + 1470, 'a routed link: IP at 0');
  // TCP/IPv6 behind a Hop-by-Hop header of 8 bytes.
  const v6 = new Uint8Array(12 + 14 + 40 + 8 + 20 + 3000);
  v6.set(hex('00 04 0000 a805 0000 0000 0000'), 0);
  v6.set(hex('6000 0000 0bd4 0040'), 12 + 14); // next header 0 (Hop-by-Hop)
  v6.set(hex('0600 0000 0000 0000'), 12 + 54); // then TCP
  v6[12 + 62 + 12] = 0x50;
  assert.equal(gsoSegmentLength(v6, 0, v6.length - 12, 14), 40 + 8 + 20 + 1448);
  // Nonsense gives -1.
  const bad = (mutate: (f: Uint8Array) => void, what: string): void => {
    const f = v4.slice();
    mutate(f);
    assert.equal(gsoSegmentLength(f, 0, f.length - 12, 14), -1, what);
  };
  bad((f) => (f[26] = 0x55), 'IP version 5');
  bad((f) => (f[26] = 0x44), 'IHL 16');
  bad((f) => (f[26] = 0x4f), 'IHL 60 is fine, but the TCP data offset read there is 0');
  bad((f) => (f[12 + 38 + 12] = 0x10), 'data offset 4 bytes');
  assert.equal(gsoSegmentLength(v4, 0, 14 + 24 + 10, 14), -1, 'TCP header cut by the end of the frame');
});
