// The router inside the data plane, over fake devices and a manual clock: two bridges with a host each, a
// TUN link, and literal packets in and out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterBlock } from '../../src/dataplane/counters.js';
import { DataPlane } from '../../src/dataplane/dataplane.js';
import { FakeIo, FakePorts } from '../../src/ports/fake-port.js';
import { BROADCAST, emitEthernet, macAt, parseMac } from '../../src/wire/ethernet.js';
import { GSO, VNET_FLAG, VNET_HDR_LEN, emitVnetHeader } from '../../src/wire/virtio-net.js';
import { parseCidr } from '../../src/wire/cidr.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { IP_PROTO, emitIpv4, ipv4Check, parseIpv4 } from '../../src/wire/ipv4.js';
import { emitIpv6, parseIpv6 } from '../../src/wire/ipv6.js';
import { ARP_OP, emitArp, parseArp } from '../../src/wire/arp.js';
import { emitNs, parseNdp } from '../../src/wire/icmpv6.js';
import { TapPortSpec } from '../../src/dataplane/protocol.js';

const H1 = 0x02_00_00_00_00_01;
const H2 = 0x02_00_00_00_00_02;
const RA_MAC = '02:00:00:00:01:fe';
const RB_MAC = '02:00:00:00:02:fe';
const ip4 = parseIpv4;

function tap(name: string): TapPortSpec {
  return { name, kind: 'tap', addresses: [], up: true };
}

function frame(dst: number, src: number, etherType: number, payload: Uint8Array): Uint8Array {
  const e = emitEthernet({ dst, src, etherType }, payload);
  const out = new Uint8Array(VNET_HDR_LEN + e.length);
  out.set(e, VNET_HDR_LEN);
  return out;
}

function echo4(src: string, dst: string, ttl = 64, opts: { df?: boolean; size?: number } = {}): Uint8Array {
  const icmp = new Uint8Array(8 + (opts.size ?? 32)).fill(0x61);
  icmp[0] = 8;
  icmp[1] = 0;
  icmp[2] = 0;
  icmp[3] = 0;
  icmp[4] = 0x12;
  icmp[5] = 0x34;
  icmp[6] = 0;
  icmp[7] = 1;
  const c = internetChecksum(icmp, 0, icmp.length);
  icmp[2] = c >>> 8;
  icmp[3] = c & 0xff;
  return emitIpv4({ src: ip4(src), dst: ip4(dst), proto: IP_PROTO.ICMP, ttl, dontFragment: opts.df ?? true }, icmp);
}

function udp6(src: string, dst: string, hopLimit = 64, size = 16): Uint8Array {
  const udp = new Uint8Array(8 + size);
  udp[5] = udp.length;
  return emitIpv6({ src: parseIpv6(src), dst: parseIpv6(dst), nextHeader: IP_PROTO.UDP, hopLimit }, udp);
}

/** ipv4Frames keeps the IPv4 frames (the router's RAs on bra are not what these tests count). */
function ipv4Frames(frames: Uint8Array[]): Uint8Array[] {
  return frames.filter((f) => f[VNET_HDR_LEN + 12] === 0x08 && f[VNET_HDR_LEN + 13] === 0x00);
}

/** ipOf returns the IP packet of a written frame (after the vnet and Ethernet headers). */
function ipOf(f: Uint8Array): Uint8Array {
  return f.subarray(VNET_HDR_LEN + 14);
}

function setup() {
  const counters = new CounterBlock();
  const taps = new FakePorts();
  let io!: FakeIo;
  let now = 1000;
  const plane = new DataPlane({
    counters,
    io: (onBatch) => (io = new FakeIo(onBatch, 8, 4096, 64)),
    devices: taps,
    clock: () => now,
  });
  plane.addBridge({ name: 'bra', agingSeconds: 300, fdbMax: 8192 });
  plane.addBridge({ name: 'brb', agingSeconds: 300, fdbMax: 8192 });
  const a = plane.addPort('bra', tap('a'));
  const b = plane.addPort('brb', tap('b'));
  const ra = plane.addRouterInterface({ name: 'ra', bridge: 'bra', addresses: [parseCidr('10.1.0.254/24'), parseCidr('fd01::fe/64')], mac: RA_MAC, routerAdvertisements: true });
  const rb = plane.addRouterInterface({ name: 'rb', bridge: 'brb', addresses: [parseCidr('10.2.0.254/24'), parseCidr('fd02::fe/64')], mac: RB_MAC, routerAdvertisements: false, mtu: 1280 });
  const fa = taps.fdOf('a');
  const fb = taps.fdOf('b');
  io.take(fa);
  io.take(fb);
  const router = () => counters.readRouter();
  const clock = (ms: number) => {
    now += ms;
    plane.tickRouter();
  };
  /** resolveB teaches the router that 10.2.0.1 / fd02::1 are at H2 (an ARP reply / NA from host b). */
  const learnB = () => {
    io.deliver(b.index, [frame(parseMac(RB_MAC), H2, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H2, senderIp: ip4('10.2.0.1'), targetMac: 0, targetIp: ip4('10.2.0.254') }))]);
    io.take(fb);
  };
  return { plane, io, taps, counters, a, b, ra, rb, fa, fb, router, clock, learnB };
}

test('router: answers ARP for its address and learns the asker', () => {
  const { io, a, fa, plane } = setup();
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  const out = io.take(fa);
  assert.equal(out.length, 1);
  const reply = parseArp(out[0]!, VNET_HDR_LEN + 14, 28)!;
  assert.deepEqual(reply, { op: ARP_OP.REPLY, senderMac: parseMac(RA_MAC), senderIp: ip4('10.1.0.254'), targetMac: H1, targetIp: ip4('10.1.0.1') });
  assert.equal(macAt(out[0]!, VNET_HDR_LEN), H1, 'unicast to the asker');
  assert.deepEqual(plane.listNeighbors().map((n) => [n.address, n.mac, n.interface]), [['10.1.0.1', '02:00:00:00:00:01', 'ra']]);
});

test('router: forwards between bridges, resolving the next hop first; TTL and checksum fixed', () => {
  const { io, a, b, fa, fb, router, plane } = setup();
  const pkt = echo4('10.1.0.1', '10.2.0.1');
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, pkt)]);
  const asked = io.take(fb);
  assert.equal(asked.length, 1, 'an ARP request for the next hop');
  assert.equal(macAt(asked[0]!, VNET_HDR_LEN), BROADCAST);
  assert.equal(parseArp(asked[0]!, VNET_HDR_LEN + 14, 28)!.targetIp, ip4('10.2.0.1'));
  // b answers; the queued packet leaves
  io.deliver(b.index, [frame(parseMac(RB_MAC), H2, 0x0806, emitArp({ op: ARP_OP.REPLY, senderMac: H2, senderIp: ip4('10.2.0.1'), targetMac: parseMac(RB_MAC), targetIp: ip4('10.2.0.254') }))]);
  const fwd = io.take(fb);
  assert.equal(fwd.length, 1);
  assert.equal(macAt(fwd[0]!, VNET_HDR_LEN), H2);
  assert.equal(macAt(fwd[0]!, VNET_HDR_LEN + 6), parseMac(RB_MAC));
  const out = ipOf(fwd[0]!);
  assert.equal(out[8], 63, 'TTL decremented');
  assert.equal(ipv4Check(out, 0, out.length), null, 'header checksum still valid');
  assert.deepEqual(out.subarray(20), pkt.subarray(20), 'payload untouched');
  // the next packet goes at once (in place, planned with the batch)
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, pkt)]);
  assert.equal(io.take(fb).length, 1);
  assert.equal(router().forwarded4, 2);
  assert.equal(io.take(fa).length, 0);
  assert.ok(plane.listNeighbors().some((n) => n.address === '10.2.0.1' && n.state === 'reachable'));
});

test('router: TTL 1 gets Time Exceeded from the ingress address; no route gets Net Unreachable', () => {
  const { io, a, fa, router } = setup();
  // the router learns a's MAC from its ARP request first
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  io.take(fa);
  const expired = echo4('10.1.0.1', '10.2.0.1', 1);
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, expired)]);
  let out = io.take(fa);
  assert.equal(out.length, 1);
  let ip = ipOf(out[0]!);
  assert.equal(ip[9], IP_PROTO.ICMP);
  assert.deepEqual([...ip.subarray(12, 16)], [10, 1, 0, 254], 'from the router address on the ingress side');
  assert.deepEqual([ip[20], ip[21]], [11, 0], 'Time Exceeded, TTL exceeded in transit');
  assert.deepEqual(ip.subarray(28, 28 + 20), expired.subarray(0, 20), 'quotes the offending header');
  assert.equal(internetChecksum(ip, 20, ip.length - 20), 0, 'ICMP checksum valid');

  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '192.0.2.9'))]);
  out = io.take(fa);
  ip = ipOf(out[0]!);
  assert.deepEqual([ip[20], ip[21]], [3, 0], 'Destination Unreachable, net');
  const r = router();
  assert.deepEqual(r.drops, { ttl_expired: 1, no_route: 1 });
  assert.equal(r.icmpSent.find((k) => k.family === 4 && k.type === 'time_exceeded')!.count, 1);
});

test('router: DF and too big gets Fragmentation Needed with the MTU; without DF it fragments', () => {
  const { io, a, fa, fb, router, learnB } = setup();
  learnB();
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  io.take(fa);
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.1', 64, { df: true, size: 1400 }))]);
  const err = io.take(fa);
  assert.equal(err.length, 1);
  const ip = ipOf(err[0]!);
  assert.deepEqual([ip[20], ip[21]], [3, 4], 'Fragmentation Needed');
  assert.equal((ip[26]! << 8) | ip[27]!, 1280, 'next-hop MTU');
  assert.equal(io.take(fb).length, 0);

  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.1', 64, { df: false, size: 1400 }))]);
  const frags = io.take(fb).map(ipOf);
  assert.equal(frags.length, 2);
  assert.ok(frags.every((f) => f.length <= 1280 && ipv4Check(f, 0, f.length) === null && f[8] === 63));
  assert.equal(router().fragmentsCreated, 2);
});

test('router: no ICMP error about an ICMP error, from a martian source, or for a non-first fragment', () => {
  const { io, a, fa, router } = setup();
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  io.take(fa);
  const unreach = new Uint8Array(36);
  unreach[0] = 3;
  const c = internetChecksum(unreach, 0, unreach.length);
  unreach[2] = c >>> 8;
  unreach[3] = c & 0xff;
  const icmpErr = emitIpv4({ src: ip4('10.1.0.1'), dst: ip4('10.2.0.1'), proto: IP_PROTO.ICMP, ttl: 1 }, unreach);
  const fragment = echo4('10.1.0.1', '10.2.0.1', 1, { df: false });
  fragment[6] = 0;
  fragment[7] = 10; // offset 80 bytes
  fragment[10] = 0;
  fragment[11] = 0;
  const fc = internetChecksum(fragment, 0, 20);
  fragment[10] = fc >>> 8;
  fragment[11] = fc & 0xff;
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, icmpErr), frame(parseMac(RA_MAC), H1, 0x0800, fragment), frame(parseMac(RA_MAC), H1, 0x0800, echo4('127.0.0.1', '10.2.0.1'))]);
  assert.equal(io.take(fa).length, 0);
  assert.deepEqual(router().drops, { ttl_expired: 2, martian_source: 1 });
});

test('router: ICMP errors draw on a token bucket', () => {
  const { io, a, fa, router, clock } = setup();
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  io.take(fa);
  for (let i = 0; i < 8; i++) io.deliver(a.index, Array.from({ length: 8 }, () => frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '192.0.2.9'))));
  assert.equal(io.take(fa).length, 50, 'the burst');
  assert.equal(router().icmpRateLimited, 14);
  clock(10); // 10 ms at 1000/s: 10 more tokens
  io.deliver(a.index, Array.from({ length: 8 }, () => frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '192.0.2.9'))));
  assert.equal(ipv4Frames(io.take(fa)).length, 8);
});

test('router: an unresolvable next hop gets Host Unreachable after the retries', () => {
  const { io, a, fa, fb, router, clock } = setup();
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  io.take(fa);
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.77'))]);
  for (let i = 0; i < 5; i++) clock(1000);
  assert.equal(io.take(fb).length, 3, 'three ARP requests');
  const err = ipv4Frames(io.take(fa)).map(ipOf);
  assert.equal(err.length, 1);
  assert.deepEqual([err[0]![20], err[0]![21]], [3, 1], 'Host Unreachable');
  assert.equal(router().drops.neighbor_unreachable, 1);
});

test('router: echo to its own address is answered', () => {
  const { io, a, fa, router } = setup();
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  io.take(fa);
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.254'))]);
  const out = io.take(fa).map(ipOf);
  assert.equal(out.length, 1);
  assert.deepEqual([...out[0]!.subarray(12, 20)], [10, 2, 0, 254, 10, 1, 0, 1]);
  assert.equal(out[0]![20], 0, 'Echo Reply');
  assert.equal(router().delivered4, 1);
});

test('router: IPv6 answers NS for its address, forwards with hop limit - 1, sends Packet Too Big and Time Exceeded', () => {
  const { io, a, b, fa, fb, router } = setup();
  const ns = emitNs(parseIpv6('fd01::1'), parseIpv6('fd01::fe'), H1);
  io.deliver(a.index, [frame(0x33_33_ff_00_00_fe, H1, 0x86dd, ns)]);
  const na = io.take(fa);
  assert.equal(na.length, 1);
  const m = parseNdp(na[0]!, VNET_HDR_LEN + 14, na[0]!.length - VNET_HDR_LEN - 14);
  assert.ok(m !== null && m.type === 'na' && m.solicited && m.router);
  // b's address is learned from its own NS
  io.deliver(b.index, [frame(0x33_33_ff_00_00_fe, H2, 0x86dd, emitNs(parseIpv6('fd02::1'), parseIpv6('fd02::fe'), H2))]);
  io.take(fb);
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x86dd, udp6('fd01::1', 'fd02::1'))]);
  const fwd = io.take(fb);
  assert.equal(fwd.length, 1);
  assert.equal(ipOf(fwd[0]!)[7], 63);
  assert.equal(macAt(fwd[0]!, VNET_HDR_LEN), H2);
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x86dd, udp6('fd01::1', 'fd02::1', 64, 1300)), frame(parseMac(RA_MAC), H1, 0x86dd, udp6('fd01::1', 'fd02::1', 1))]);
  const errs = io.take(fa).map(ipOf);
  assert.equal(errs.length, 2);
  assert.equal(errs[0]![40], 2, 'Packet Too Big');
  assert.equal(((errs[0]![44]! << 24) | (errs[0]![45]! << 16) | (errs[0]![46]! << 8) | errs[0]![47]!) >>> 0, 1280);
  assert.equal(errs[1]![40], 3, 'Time Exceeded');
  assert.equal(router().forwarded6, 1);
});

test('router: sends router advertisements with the interface prefix', () => {
  const { io, fa, clock, router } = setup();
  clock(100);
  const ras = io.take(fa).filter((f) => f[VNET_HDR_LEN + 12] === 0x86 && f[VNET_HDR_LEN + 14 + 40] === 134);
  assert.equal(ras.length, 1);
  const m = parseNdp(ras[0]!, VNET_HDR_LEN + 14, ras[0]!.length - VNET_HDR_LEN - 14);
  assert.ok(m !== null && m.type === 'ra');
  assert.equal(m.prefixes.length, 1);
  assert.equal(m.prefixes[0]!.length, 64);
  assert.ok(m.prefixes[0]!.autonomous);
  assert.equal(router().raSent, 1);
});

test('router: a TUN link takes bare IP packets both ways', () => {
  const { plane, io, taps, a, fa, learnB, fb } = setup();
  learnB();
  plane.addLink({ name: 'up0', kind: 'tun', addresses: [], routes: [] });
  plane.addRouterInterface({ name: 'ru', link: 'up0', addresses: [parseCidr('10.9.0.2/30')], mac: '02:00:00:00:09:02', routerAdvertisements: false });
  plane.addRoute({ prefix: parseCidr('10.100.0.0/24'), via: { family: 4, address: new Uint8Array([10, 9, 0, 1]), text: '10.9.0.1' } });
  const link = plane.listLinks()[0]!;
  const ft = taps.fdOf('up0');
  // from a host to the link: the Ethernet header goes, the vnet header stays
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.100.0.1'))]);
  const toTun = io.take(ft);
  assert.equal(toTun.length, 1);
  assert.equal(toTun[0]!.length, VNET_HDR_LEN + 60);
  assert.equal(toTun[0]![VNET_HDR_LEN]! >>> 4, 4);
  assert.equal(toTun[0]![VNET_HDR_LEN + 8], 63);
  // from the link to host b: an Ethernet header is put in front
  const inbound = new Uint8Array(VNET_HDR_LEN + 60);
  inbound.set(echo4('10.100.0.1', '10.2.0.1'), VNET_HDR_LEN);
  io.deliver(link.index, [inbound]);
  const toB = io.take(fb);
  assert.equal(toB.length, 1);
  assert.equal(macAt(toB[0]!, VNET_HDR_LEN), H2);
  assert.equal(ipOf(toB[0]!)[8], 63);
  assert.equal(io.take(fa).length, 0);
  assert.throws(() => plane.removeRouterInterface('ru'), /static route/);
  assert.throws(() => plane.removeLink('up0'), /router interface ru/);
});

test('router: refuses overlapping subnets, bad next hops and a second interface on a bridge', () => {
  const { plane } = setup();
  assert.throws(() => plane.addRouterInterface({ name: 'rx', bridge: 'bra', addresses: [parseCidr('10.3.0.1/24')], mac: '02:00:00:00:03:01', routerAdvertisements: false }), /already has router interface/);
  plane.addBridge({ name: 'brc', agingSeconds: 300, fdbMax: 8192 });
  assert.throws(() => plane.addRouterInterface({ name: 'rc', bridge: 'brc', addresses: [parseCidr('10.1.0.1/24')], mac: '02:00:00:00:03:01', routerAdvertisements: false }), /already has a connected route/);
  assert.equal(plane.listRouterInterfaces().length, 2, 'the refused interface left nothing behind');
  assert.throws(() => plane.addRoute({ prefix: parseCidr('10.50.0.0/16'), via: { family: 4, address: new Uint8Array([10, 9, 9, 9]), text: '10.9.9.9' } }), /not in a subnet/);
  assert.throws(() => plane.addRoute({ prefix: parseCidr('10.1.0.0/24') }), /already has a connected route/);
  assert.throws(() => plane.removeBridge('bra', true), /router interface ra/);
});

test('router: a GSO frame is routed whole when its segments fit the egress MTU, else Fragmentation Needed', () => {
  const { io, a, fa, fb, router, learnB, counters, rb } = setup();
  learnB();
  io.deliver(a.index, [frame(BROADCAST, H1, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H1, senderIp: ip4('10.1.0.1'), targetMac: 0, targetIp: ip4('10.1.0.254') }))]);
  io.take(fa);
  /** gso4 is a TCP/IPv4 GSO frame of 3000 bytes of data cut into `mss`-byte segments, DF set, partial checksum. */
  const gso4 = (mss: number): Uint8Array => {
    const tcp = new Uint8Array(20 + 3000);
    tcp[12] = 0x50;
    const ip = emitIpv4({ src: ip4('10.1.0.1'), dst: ip4('10.2.0.1'), proto: IP_PROTO.TCP, ttl: 64, dontFragment: true }, tcp);
    const f = frame(parseMac(RA_MAC), H1, 0x0800, ip);
    emitVnetHeader({ flags: VNET_FLAG.NEEDS_CSUM, gsoType: GSO.TCPV4, hdrLen: 54, gsoSize: mss, csumStart: 34, csumOffset: 16, numBuffers: 0 }, f);
    return f;
  };
  io.deliver(a.index, [gso4(1200)]);
  const out = io.take(fb);
  assert.equal(out.length, 1, 'one frame: the kernel cuts the segments later');
  assert.equal(out[0]!.length, VNET_HDR_LEN + 14 + 20 + 20 + 3000);
  assert.deepEqual(out[0]!.subarray(0, VNET_HDR_LEN), gso4(1200).subarray(0, VNET_HDR_LEN), 'the vnet header passes unchanged');
  assert.equal(ipOf(out[0]!)[8], 63);
  assert.equal(counters.readPort(rb.index).txGsoFrames, 1);
  // segments of 20 + 20 + 1400 bytes do not fit rb's MTU of 1280
  io.deliver(a.index, [gso4(1400)]);
  assert.equal(io.take(fb).length, 0);
  const err = ipv4Frames(io.take(fa)).map(ipOf);
  assert.deepEqual([err[0]![20], err[0]![21]], [3, 4]);
  assert.equal(router().drops.too_big, 1);
});

test('router: random frames never throw out of the data plane, and the checks (not the last-resort catch) refuse them', async () => {
  const fc = await import('fast-check');
  const { io, a, plane, router } = setup();
  plane.addLink({ name: 'up0', kind: 'tun', addresses: [], routes: [] });
  plane.addRouterInterface({ name: 'ru', link: 'up0', addresses: [parseCidr('10.9.0.2/30')], mac: '02:00:00:00:09:02', routerAdvertisements: false });
  const link = plane.listLinks()[0]!;
  const ethertypes = [0x0800, 0x86dd, 0x0806, 0x8100];
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), fc.constantFrom(...ethertypes), fc.boolean(), fc.integer({ min: 0, max: 255 }), (body, etherType, toLink, ttl) => {
      // bias towards plausible headers: a version nibble and TTL that pass the first checks
      if (body.length > 8) {
        body[0] = etherType === 0x86dd ? 0x60 | (body[0]! & 0x0f) : 0x45;
        body[8] = ttl;
      }
      if (toLink) {
        const f = new Uint8Array(VNET_HDR_LEN + body.length);
        f.set(body, VNET_HDR_LEN);
        io.deliver(link.index, [f]);
      } else {
        io.deliver(a.index, [frame(parseMac(RA_MAC), H1, etherType, body)]);
      }
    }),
    { numRuns: 2000 },
  );
  const r = router();
  assert.equal(r.drops.malformed ?? 0, 0, JSON.stringify(r.drops));
  assert.ok(Object.values(r.drops).reduce((x, y) => x + y, 0) > 1000, 'most random frames were refused by a named check');
});
