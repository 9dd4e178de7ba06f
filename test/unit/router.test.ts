// The router over a fake RouterOutput, a timer wheel and a manual clock: two bridge interfaces with a host
// behind each, a TUN link, and literal packets in and out. Drops are what the router reports through
// RouterOutput.drop. At the end, the few rules that belong to the data plane around the router (one router
// interface per bridge, what may be deleted while the router uses it, GSO accounting on the router's port)
// are checked through the DataPlane over fake devices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterBlock } from '../../src/dataplane/counters.js';
import { DataPlane } from '../../src/dataplane/dataplane.js';
import { FakeIo, FakePorts } from '../../src/ports/fake-port.js';
import { TapPortSpec } from '../../src/dataplane/protocol.js';
import { Router, type RouterOutput } from '../../src/router/router.js';
import { ROUTER_STRIDE, readRouterCounters, type RouterDropReason } from '../../src/router/stats.js';
import { TimerWheel } from '../../src/time/timer-wheel.js';
import { ARP_OP, emitArp, parseArp } from '../../src/wire/arp.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { parseCidr } from '../../src/wire/cidr.js';
import { BROADCAST, emitEthernet, formatMac, l3OffsetAt, macAt, parseMac } from '../../src/wire/ethernet.js';
import { emitNs, emitRs, parseNdp } from '../../src/wire/icmpv6.js';
import { IP_PROTO, emitIpv4, ipv4Check, parseIpv4 } from '../../src/wire/ipv4.js';
import { emitIpv6, parseIpv6 } from '../../src/wire/ipv6.js';
import { GSO, VNET_FLAG, VNET_HDR_LEN, emitVnetHeader, gsoSegmentLength, isGsoAt } from '../../src/wire/virtio-net.js';

const H1 = 0x02_00_00_00_00_01;
const H2 = 0x02_00_00_00_00_02;
const RA_MAC = '02:00:00:00:01:fe';
const RB_MAC = '02:00:00:00:02:fe';
/** RA, RB and RU are the router interface ids (the data plane's port slots): bridges a and b, and a TUN link. */
const RA = 1;
const RB = 2;
const RU = 3;
const ip4 = parseIpv4;

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

/** gso4 is a TCP/IPv4 GSO frame from H1 to 10.2.0.1 with 3000 bytes of data cut into `mss`-byte segments, DF set, partial checksum. */
function gso4(mss: number): Uint8Array {
  const tcp = new Uint8Array(20 + 3000);
  tcp[12] = 0x50;
  const ip = emitIpv4({ src: ip4('10.1.0.1'), dst: ip4('10.2.0.1'), proto: IP_PROTO.TCP, ttl: 64, dontFragment: true }, tcp);
  const f = frame(parseMac(RA_MAC), H1, 0x0800, ip);
  emitVnetHeader({ flags: VNET_FLAG.NEEDS_CSUM, gsoType: GSO.TCPV4, hdrLen: 54, gsoSize: mss, csumStart: 34, csumOffset: 16, numBuffers: 0 }, f);
  return f;
}

/** ipv4Frames keeps the IPv4 frames (the router's RAs on ra are not what these tests count). */
function ipv4Frames(frames: Uint8Array[]): Uint8Array[] {
  return frames.filter((f) => f[VNET_HDR_LEN + 12] === 0x08 && f[VNET_HDR_LEN + 13] === 0x00);
}

/** ipOf returns the IP packet of a written frame (after the vnet and Ethernet headers). */
function ipOf(f: Uint8Array): Uint8Array {
  return f.subarray(VNET_HDR_LEN + 14);
}

/** arpRequest is host H1's (or another's) ARP request for a router address, broadcast. */
function arpRequest(senderMac: number, senderIp: string, targetIp: string): Uint8Array {
  return frame(BROADCAST, senderMac, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac, senderIp: ip4(senderIp), targetMac: 0, targetIp: ip4(targetIp) }));
}

interface Sent {
  bytes: Uint8Array;
  segmentLen: number;
}

/** FakeOutput is RouterOutput as a recorder: the frames sent out of each interface (copied: the router reuses its buffers) and every drop. */
class FakeOutput implements RouterOutput {
  readonly sent = new Map<number, Sent[]>();
  readonly drops: RouterDropReason[] = [];

  transmit(iface: number, buf: Uint8Array, off: number, len: number, segmentLen: number): void {
    const list = this.sent.get(iface) ?? [];
    list.push({ bytes: buf.slice(off, off + len), segmentLen });
    this.sent.set(iface, list);
  }

  drop(reason: RouterDropReason): void {
    this.drops.push(reason);
  }

  /** take returns and forgets what went out of `iface`. */
  take(iface: number): Sent[] {
    const list = this.sent.get(iface) ?? [];
    this.sent.delete(iface);
    return list;
  }

  /** dropCounts counts the drops by reason, as the data plane's accounting would. */
  dropCounts(): Partial<Record<RouterDropReason, number>> {
    const out: Partial<Record<RouterDropReason, number>> = {};
    for (const r of this.drops) out[r] = (out[r] ?? 0) + 1;
    return out;
  }
}

function setup(options: { random?: () => number } = {}) {
  const errors: unknown[] = [];
  const timers = new TimerWheel({ onError: (e) => errors.push(e) });
  const counters = new Float64Array(ROUTER_STRIDE);
  const out = new FakeOutput();
  let now = 1000;
  const router = new Router(out, { counters, base: 0, timers, ...options });
  router.addInterface(
    RA,
    { name: 'ra', kind: 'bridge', mac: parseMac(RA_MAC), mtu: 1500, addresses: [parseCidr('10.1.0.254/24'), parseCidr('fd01::fe/64')], routerAdvertisements: true },
    now,
  );
  router.addInterface(
    RB,
    { name: 'rb', kind: 'bridge', mac: parseMac(RB_MAC), mtu: 1280, addresses: [parseCidr('10.2.0.254/24'), parseCidr('fd02::fe/64')], routerAdvertisements: false },
    now,
  );
  out.take(RA); // the gratuitous ARPs
  out.take(RB);
  /** deliver hands frames to interface `iface` as the data plane does (GSO frames with their segment length). */
  const deliver = (iface: number, frames: Uint8Array[]): void => {
    for (const f of frames) {
      const l3 = iface === RU ? 0 : l3OffsetAt(f, VNET_HDR_LEN);
      const segmentLen = isGsoAt(f, 0) ? gsoSegmentLength(f, 0, f.length - VNET_HDR_LEN, l3) : 0;
      router.receive(iface, f, 0, f.length, segmentLen, true, now);
    }
  };
  /** take returns the frames that went out of `iface`. */
  const take = (iface: number): Uint8Array[] => out.take(iface).map((s) => s.bytes);
  const stats = () => ({ ...readRouterCounters(counters, 0), drops: out.dropCounts() });
  /** clock moves the manual clock on and advances the wheel, as the data plane does. */
  const clock = (ms: number): void => {
    now += ms;
    timers.advance(now);
  };
  /** learnB teaches the router that 10.2.0.1 is at H2 (an ARP request from host b for the router). */
  const learnB = (): void => {
    deliver(RB, [frame(parseMac(RB_MAC), H2, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H2, senderIp: ip4('10.2.0.1'), targetMac: 0, targetIp: ip4('10.2.0.254') }))]);
    take(RB);
  };
  /** learnA teaches the router that 10.1.0.1 is at H1. */
  const learnA = (): void => {
    deliver(RA, [arpRequest(H1, '10.1.0.1', '10.1.0.254')]);
    take(RA);
  };
  return { router, timers, counters, out, deliver, take, stats, clock, learnA, learnB, errors };
}

test('router: answers ARP for its address and learns the asker', () => {
  const { router, deliver, take } = setup();
  deliver(RA, [arpRequest(H1, '10.1.0.1', '10.1.0.254')]);
  const out = take(RA);
  assert.equal(out.length, 1);
  const reply = parseArp(out[0]!, VNET_HDR_LEN + 14, 28)!;
  assert.deepEqual(reply, { op: ARP_OP.REPLY, senderMac: parseMac(RA_MAC), senderIp: ip4('10.1.0.254'), targetMac: H1, targetIp: ip4('10.1.0.1') });
  assert.equal(macAt(out[0]!, VNET_HDR_LEN), H1, 'unicast to the asker');
  assert.deepEqual(
    router.neighbors.entries(0).map((n) => [n.address, formatMac(n.mac), router.interfaceName(n.iface)]),
    [['10.1.0.1', '02:00:00:00:00:01', 'ra']],
  );
});

test('router: forwards between bridges, resolving the next hop first; TTL and checksum fixed', () => {
  const { router, deliver, take, stats } = setup();
  const pkt = echo4('10.1.0.1', '10.2.0.1');
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, pkt)]);
  const asked = take(RB);
  assert.equal(asked.length, 1, 'an ARP request for the next hop');
  assert.equal(macAt(asked[0]!, VNET_HDR_LEN), BROADCAST);
  assert.equal(parseArp(asked[0]!, VNET_HDR_LEN + 14, 28)!.targetIp, ip4('10.2.0.1'));
  // b answers; the queued packet leaves
  deliver(RB, [frame(parseMac(RB_MAC), H2, 0x0806, emitArp({ op: ARP_OP.REPLY, senderMac: H2, senderIp: ip4('10.2.0.1'), targetMac: parseMac(RB_MAC), targetIp: ip4('10.2.0.254') }))]);
  const fwd = take(RB);
  assert.equal(fwd.length, 1);
  assert.equal(macAt(fwd[0]!, VNET_HDR_LEN), H2);
  assert.equal(macAt(fwd[0]!, VNET_HDR_LEN + 6), parseMac(RB_MAC));
  const out = ipOf(fwd[0]!);
  assert.equal(out[8], 63, 'TTL decremented');
  assert.equal(ipv4Check(out, 0, out.length), null, 'header checksum still valid');
  assert.deepEqual(out.subarray(20), pkt.subarray(20), 'payload untouched');
  // the next packet goes at once, rewritten in place in the received buffer
  const again = frame(parseMac(RA_MAC), H1, 0x0800, pkt);
  deliver(RA, [again]);
  assert.equal(take(RB).length, 1);
  assert.equal(macAt(again, VNET_HDR_LEN), H2, 'the received frame itself was rewritten and sent');
  assert.equal(stats().forwarded4, 2);
  assert.equal(take(RA).length, 0);
  assert.ok(router.neighbors.entries(0).some((n) => n.address === '10.2.0.1' && n.state === 'reachable'));
});

test('router: TTL 1 gets Time Exceeded from the ingress address; no route gets Net Unreachable', () => {
  const { deliver, take, stats, learnA } = setup();
  learnA();
  const expired = echo4('10.1.0.1', '10.2.0.1', 1);
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, expired)]);
  let out = take(RA);
  assert.equal(out.length, 1);
  let ip = ipOf(out[0]!);
  assert.equal(ip[9], IP_PROTO.ICMP);
  assert.deepEqual([...ip.subarray(12, 16)], [10, 1, 0, 254], 'from the router address on the ingress side');
  assert.deepEqual([ip[20], ip[21]], [11, 0], 'Time Exceeded, TTL exceeded in transit');
  assert.deepEqual(ip.subarray(28, 28 + 20), expired.subarray(0, 20), 'quotes the offending header');
  assert.equal(internetChecksum(ip, 20, ip.length - 20), 0, 'ICMP checksum valid');

  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '192.0.2.9'))]);
  out = take(RA);
  ip = ipOf(out[0]!);
  assert.deepEqual([ip[20], ip[21]], [3, 0], 'Destination Unreachable, net');
  const r = stats();
  assert.deepEqual(r.drops, { ttl_expired: 1, no_route: 1 });
  assert.equal(r.icmpSent.find((k) => k.family === 4 && k.type === 'time_exceeded')!.count, 1);
});

test('router: DF and too big gets Fragmentation Needed with the MTU; without DF it fragments', () => {
  const { deliver, take, stats, learnA, learnB } = setup();
  learnB();
  learnA();
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.1', 64, { df: true, size: 1400 }))]);
  const err = take(RA);
  assert.equal(err.length, 1);
  const ip = ipOf(err[0]!);
  assert.deepEqual([ip[20], ip[21]], [3, 4], 'Fragmentation Needed');
  assert.equal((ip[26]! << 8) | ip[27]!, 1280, 'next-hop MTU');
  assert.equal(take(RB).length, 0);

  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.1', 64, { df: false, size: 1400 }))]);
  const frags = take(RB).map(ipOf);
  assert.equal(frags.length, 2);
  assert.ok(frags.every((f) => f.length <= 1280 && ipv4Check(f, 0, f.length) === null && f[8] === 63));
  assert.equal(stats().fragmentsCreated, 2);
  assert.deepEqual(stats().drops, { too_big: 1 });
});

test('router: no ICMP error about an ICMP error, from a martian source, or for a non-first fragment', () => {
  const { deliver, take, stats, learnA } = setup();
  learnA();
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
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, icmpErr), frame(parseMac(RA_MAC), H1, 0x0800, fragment), frame(parseMac(RA_MAC), H1, 0x0800, echo4('127.0.0.1', '10.2.0.1'))]);
  assert.equal(take(RA).length, 0);
  assert.deepEqual(stats().drops, { ttl_expired: 2, martian_source: 1 });
});

test('router: ICMP errors draw on a token bucket', () => {
  const { deliver, take, stats, clock, learnA } = setup();
  learnA();
  for (let i = 0; i < 8; i++)
    deliver(
      RA,
      Array.from({ length: 8 }, () => frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '192.0.2.9'))),
    );
  assert.equal(take(RA).length, 50, 'the burst');
  assert.equal(stats().icmpRateLimited, 14);
  clock(10); // 10 ms at 1000/s: 10 more tokens
  deliver(
    RA,
    Array.from({ length: 8 }, () => frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '192.0.2.9'))),
  );
  assert.equal(ipv4Frames(take(RA)).length, 8);
  assert.deepEqual(stats().drops, { no_route: 72 }, 'each packet dropped once, whether or not an error went back');
});

test('router: an unresolvable next hop gets Host Unreachable after the retries', () => {
  const { deliver, take, stats, clock, learnA, timers } = setup();
  learnA();
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.77'))]);
  for (let i = 0; i < 5; i++) clock(1000);
  assert.equal(take(RB).length, 3, 'three ARP requests');
  const err = ipv4Frames(take(RA)).map(ipOf);
  assert.equal(err.length, 1);
  assert.deepEqual([err[0]![20], err[0]![21]], [3, 1], 'Host Unreachable');
  assert.deepEqual(stats().drops, { neighbor_unreachable: 1 });
  assert.ok(timers.size > 0, 'the FAILED entry and the RAs still have timers');
});

test('router: a full neighbor queue and an interface going away drop the waiting packets, once each', () => {
  const { router, deliver, out, learnA } = setup();
  learnA();
  for (let i = 0; i < 20; i++) deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.77'))]);
  assert.deepEqual(out.dropCounts(), { neighbor_queue_full: 4 }, 'queueMax 16: the 4 oldest went');
  router.removeInterface(RB);
  assert.deepEqual(out.dropCounts(), { neighbor_queue_full: 4, interface_down: 16 });
});

test('router: echo to its own address is answered', () => {
  const { deliver, take, stats, learnA } = setup();
  learnA();
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.254'))]);
  const out = take(RA).map(ipOf);
  assert.equal(out.length, 1);
  assert.deepEqual([...out[0]!.subarray(12, 20)], [10, 2, 0, 254, 10, 1, 0, 1]);
  assert.equal(out[0]![20], 0, 'Echo Reply');
  assert.equal(stats().delivered4, 1);
  assert.deepEqual(stats().drops, {});
});

test('router: IPv6 answers NS for its address, forwards with hop limit - 1, sends Packet Too Big and Time Exceeded', () => {
  const { deliver, take, stats } = setup();
  const ns = emitNs(parseIpv6('fd01::1'), parseIpv6('fd01::fe'), H1);
  deliver(RA, [frame(0x33_33_ff_00_00_fe, H1, 0x86dd, ns)]);
  const na = take(RA);
  assert.equal(na.length, 1);
  const m = parseNdp(na[0]!, VNET_HDR_LEN + 14, na[0]!.length - VNET_HDR_LEN - 14);
  assert.ok(m !== null && m.type === 'na' && m.solicited && m.router);
  // b's address is learned from its own NS
  deliver(RB, [frame(0x33_33_ff_00_00_fe, H2, 0x86dd, emitNs(parseIpv6('fd02::1'), parseIpv6('fd02::fe'), H2))]);
  take(RB);
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x86dd, udp6('fd01::1', 'fd02::1'))]);
  const fwd = take(RB);
  assert.equal(fwd.length, 1);
  assert.equal(ipOf(fwd[0]!)[7], 63);
  assert.equal(macAt(fwd[0]!, VNET_HDR_LEN), H2);
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x86dd, udp6('fd01::1', 'fd02::1', 64, 1300)), frame(parseMac(RA_MAC), H1, 0x86dd, udp6('fd01::1', 'fd02::1', 1))]);
  const errs = take(RA).map(ipOf);
  assert.equal(errs.length, 2);
  assert.equal(errs[0]![40], 2, 'Packet Too Big');
  assert.equal(((errs[0]![44]! << 24) | (errs[0]![45]! << 16) | (errs[0]![46]! << 8) | errs[0]![47]!) >>> 0, 1280);
  assert.equal(errs[1]![40], 3, 'Time Exceeded');
  assert.equal(stats().forwarded6, 1);
  assert.deepEqual(stats().drops, { too_big: 1, ttl_expired: 1 });
});

test('router: sends router advertisements with the interface prefix', () => {
  const { take, clock, stats } = setup();
  clock(100);
  const ras = take(RA).filter((f) => f[VNET_HDR_LEN + 12] === 0x86 && f[VNET_HDR_LEN + 14 + 40] === 134);
  assert.equal(ras.length, 1);
  const m = parseNdp(ras[0]!, VNET_HDR_LEN + 14, ras[0]!.length - VNET_HDR_LEN - 14);
  assert.ok(m !== null && m.type === 'ra');
  assert.equal(m.prefixes.length, 1);
  assert.equal(m.prefixes[0]!.length, 64);
  assert.ok(m.prefixes[0]!.autonomous);
  assert.equal(stats().raSent, 1);
  assert.equal(take(RB).length, 0, 'rb does not advertise');
});

test('router: RAs keep RFC 4861 timing on the wheel: 3 initial ones 4 s apart, then 20-60 s; an RS brings the next one forward', () => {
  const { router, deliver, take, clock, stats, timers } = setup({ random: () => 0.5 });
  const raTimes: number[] = [];
  let t = 0;
  const tick = (): void => {
    clock(100);
    t += 100;
    for (const f of take(RA)) if (f[VNET_HDR_LEN + 14 + 40] === 134) raTimes.push(t);
  };
  while (t < 100_000) tick();
  assert.deepEqual(raTimes, [100, 4100, 8100, 48_100, 88_100], 'the first at once, two more 4 s apart, then 20 + 0.5 * 40 s');
  // a Router Solicitation 12 s after the last RA (due 28 s later) is answered at once
  while (t < 100_100) tick();
  const before = stats().raSent;
  deliver(RA, [frame(0x33_33_00_00_00_02, H1, 0x86dd, emitRs(parseIpv6('fe80::1'), H1))]);
  assert.equal(take(RA).filter((f) => f[VNET_HDR_LEN + 14 + 40] === 134).length, 1);
  assert.equal(stats().raSent, before + 1);
  // a second RS 1 s later waits until 3 s after that RA (RFC 4861 MIN_DELAY_BETWEEN_RAS)
  for (let i = 0; i < 10; i++) tick();
  raTimes.length = 0;
  deliver(RA, [frame(0x33_33_00_00_00_02, H1, 0x86dd, emitRs(parseIpv6('fe80::1'), H1))]);
  assert.equal(take(RA).filter((f) => f[VNET_HDR_LEN + 14 + 40] === 134).length, 0);
  while (t < 105_000) tick();
  assert.deepEqual(raTimes, [103_100], '3 s after the RA that answered the first RS');
  router.removeInterface(RA);
  assert.equal(timers.size, 0, "removing the interface stopped its RA timer and its neighbors' timers");
});

test('router: a TUN link takes bare IP packets both ways', () => {
  const { router, deliver, take, learnB } = setup();
  learnB();
  router.addInterface(RU, { name: 'ru', kind: 'tun', mac: 0, mtu: 1500, addresses: [parseCidr('10.9.0.2/30')], routerAdvertisements: false }, 1000);
  router.addRoute({ family: 4, prefix: new Uint8Array([10, 100, 0, 0]), prefixLength: 24, via: new Uint8Array([10, 9, 0, 1]) });
  assert.equal(take(RU).length, 0, 'no gratuitous ARP on a TUN');
  // from a host to the link: the Ethernet header goes, the vnet header stays
  deliver(RA, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.100.0.1'))]);
  const toTun = take(RU);
  assert.equal(toTun.length, 1);
  assert.equal(toTun[0]!.length, VNET_HDR_LEN + 60);
  assert.equal(toTun[0]![VNET_HDR_LEN]! >>> 4, 4);
  assert.equal(toTun[0]![VNET_HDR_LEN + 8], 63);
  // from the link to host b: an Ethernet header is put in front
  const inbound = new Uint8Array(VNET_HDR_LEN + 60);
  inbound.set(echo4('10.100.0.1', '10.2.0.1'), VNET_HDR_LEN);
  deliver(RU, [inbound]);
  const toB = take(RB);
  assert.equal(toB.length, 1);
  assert.equal(macAt(toB[0]!, VNET_HDR_LEN), H2);
  assert.equal(ipOf(toB[0]!)[8], 63);
  assert.equal(take(RA).length, 0);
  assert.throws(() => router.removeInterface(RU), /static route/);
  assert.deepEqual(
    router.listRoutes().find((r) => r.prefix === '10.100.0.0/24'),
    { prefix: '10.100.0.0/24', via: '10.9.0.1', interface: 'ru', kind: 'static' },
  );
});

test('router: refuses overlapping subnets and bad next hops, and a refused interface leaves nothing behind', () => {
  const { router } = setup();
  const routes = router.listRoutes();
  assert.throws(
    () =>
      router.addInterface(
        4,
        { name: 'rc', kind: 'bridge', mac: parseMac('02:00:00:00:03:01'), mtu: 1500, addresses: [parseCidr('10.3.0.1/24'), parseCidr('10.1.0.1/24')], routerAdvertisements: false },
        1000,
      ),
    /already has a connected route/,
  );
  assert.equal(router.interfaceId('rc'), -1);
  assert.deepEqual(router.listRoutes(), routes, 'the refused interface left no route behind');
  assert.throws(() => router.addInterface(RA, { name: 'rx', kind: 'bridge', mac: 1, mtu: 1500, addresses: [], routerAdvertisements: false }, 1000), /exists/);
  assert.throws(
    () => router.addInterface(5, { name: 'ry', kind: 'bridge', mac: 1, mtu: 1500, addresses: [parseCidr('10.1.0.254/16')], routerAdvertisements: false }, 1000),
    /already a router address/,
  );
  assert.throws(() => router.addRoute({ family: 4, prefix: new Uint8Array([10, 50, 0, 0]), prefixLength: 16, via: new Uint8Array([10, 9, 9, 9]) }), /not in a subnet/);
  assert.throws(() => router.addRoute({ family: 4, prefix: new Uint8Array([10, 1, 0, 0]), prefixLength: 24 }), /already has a connected route/);
  assert.throws(() => router.removeInterface(9), /no router interface/);
});

test('router: a GSO frame is routed whole when its segments fit the egress MTU, else Fragmentation Needed', () => {
  const { deliver, take, stats, learnA, learnB } = setup();
  learnB();
  learnA();
  deliver(RA, [gso4(1200)]);
  const out = take(RB);
  assert.equal(out.length, 1, 'one frame: the kernel cuts the segments later');
  assert.equal(out[0]!.length, VNET_HDR_LEN + 14 + 20 + 20 + 3000);
  assert.deepEqual(out[0]!.subarray(0, VNET_HDR_LEN), gso4(1200).subarray(0, VNET_HDR_LEN), 'the vnet header passes unchanged');
  assert.ok(isGsoAt(out[0]!, 0), 'sent as a GSO frame');
  assert.equal(ipOf(out[0]!)[8], 63);
  // segments of 20 + 20 + 1400 bytes do not fit rb's MTU of 1280
  deliver(RA, [gso4(1400)]);
  assert.equal(take(RB).length, 0);
  const err = ipv4Frames(take(RA)).map(ipOf);
  assert.deepEqual([err[0]![20], err[0]![21]], [3, 4]);
  assert.deepEqual(stats().drops, { too_big: 1 });
});

test('router: random frames never throw out of the router, and the checks (not the last-resort catch) refuse them', async () => {
  const fc = await import('fast-check');
  const { router, deliver, out, errors, counters } = setup();
  router.addInterface(RU, { name: 'ru', kind: 'tun', mac: 0, mtu: 1500, addresses: [parseCidr('10.9.0.2/30')], routerAdvertisements: false }, 1000);
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
        deliver(RU, [f]);
      } else {
        deliver(RA, [frame(parseMac(RA_MAC), H1, etherType, body)]);
      }
    }),
    { numRuns: 2000 },
  );
  const drops = out.dropCounts();
  assert.equal(drops.malformed ?? 0, 0, JSON.stringify(drops));
  assert.ok(out.drops.length > 1000, 'most random frames were refused by a named check');
  assert.deepEqual(readRouterCounters(counters, 0).drops, {}, 'the router reports drops; it counts none itself');
  assert.deepEqual(errors, []);
});

// ---- the router inside the data plane ----------------------------------------------------------------

function tap(name: string): TapPortSpec {
  return { name, kind: 'tap', addresses: [], up: true };
}

function planeSetup() {
  const counters = new CounterBlock();
  const taps = new FakePorts();
  let io!: FakeIo;
  const plane = new DataPlane({
    counters,
    io: (onBatch) => (io = new FakeIo(onBatch, 8, 4096, 64)),
    devices: taps,
    clock: () => 1000,
  });
  plane.addBridge({ name: 'bra', agingSeconds: 300, fdbMax: 8192 });
  plane.addBridge({ name: 'brb', agingSeconds: 300, fdbMax: 8192 });
  const a = plane.addPort('bra', tap('a'));
  const b = plane.addPort('brb', tap('b'));
  plane.addRouterInterface({ name: 'ra', bridge: 'bra', addresses: [parseCidr('10.1.0.254/24'), parseCidr('fd01::fe/64')], mac: RA_MAC, routerAdvertisements: true });
  const rb = plane.addRouterInterface({ name: 'rb', bridge: 'brb', addresses: [parseCidr('10.2.0.254/24'), parseCidr('fd02::fe/64')], mac: RB_MAC, routerAdvertisements: false, mtu: 1280 });
  const fa = taps.fdOf('a');
  const fb = taps.fdOf('b');
  io.take(fa);
  io.take(fb);
  return { plane, io, taps, counters, a, b, rb, fa, fb };
}

test('router in the data plane: frames cross from bridge to bridge through the router, and neighbors are listed by interface name', () => {
  const { plane, io, a, b, fa, fb } = planeSetup();
  io.deliver(a.index, [arpRequest(H1, '10.1.0.1', '10.1.0.254')]);
  assert.equal(io.take(fa).length, 1, 'the ARP reply reached port a through the bridge');
  assert.deepEqual(
    plane.listNeighbors().map((n) => [n.address, n.mac, n.interface]),
    [['10.1.0.1', '02:00:00:00:00:01', 'ra']],
  );
  io.deliver(b.index, [frame(parseMac(RB_MAC), H2, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H2, senderIp: ip4('10.2.0.1'), targetMac: 0, targetIp: ip4('10.2.0.254') }))]);
  io.take(fb);
  io.deliver(a.index, [frame(parseMac(RA_MAC), H1, 0x0800, echo4('10.1.0.1', '10.2.0.1'))]);
  const fwd = io.take(fb);
  assert.equal(fwd.length, 1);
  assert.equal(macAt(fwd[0]!, VNET_HDR_LEN), H2);
  assert.equal(ipOf(fwd[0]!)[8], 63);
});

test('router in the data plane: one router interface per bridge, and what the router uses cannot be deleted under it', () => {
  const { plane } = planeSetup();
  assert.throws(
    () => plane.addRouterInterface({ name: 'rx', bridge: 'bra', addresses: [parseCidr('10.3.0.1/24')], mac: '02:00:00:00:03:01', routerAdvertisements: false }),
    /already has router interface/,
  );
  plane.addBridge({ name: 'brc', agingSeconds: 300, fdbMax: 8192 });
  assert.throws(
    () => plane.addRouterInterface({ name: 'rc', bridge: 'brc', addresses: [parseCidr('10.1.0.1/24')], mac: '02:00:00:00:03:01', routerAdvertisements: false }),
    /already has a connected route/,
  );
  assert.equal(plane.listRouterInterfaces().length, 2, 'the refused interface left nothing behind');
  assert.throws(() => plane.addRoute({ prefix: parseCidr('10.50.0.0/16'), via: { family: 4, address: new Uint8Array([10, 9, 9, 9]), text: '10.9.9.9' } }), /not in a subnet/);
  assert.throws(() => plane.addRoute({ prefix: parseCidr('10.1.0.0/24') }), /already has a connected route/);
  assert.throws(() => plane.removeBridge('bra', true), /router interface ra/);
  plane.addLink({ name: 'up0', kind: 'tun', addresses: [], routes: [] });
  plane.addRouterInterface({ name: 'ru', link: 'up0', addresses: [parseCidr('10.9.0.2/30')], mac: '02:00:00:00:09:02', routerAdvertisements: false });
  plane.addRoute({ prefix: parseCidr('10.100.0.0/24'), via: { family: 4, address: new Uint8Array([10, 9, 0, 1]), text: '10.9.0.1' } });
  assert.throws(() => plane.removeRouterInterface('ru'), /static route/);
  assert.throws(() => plane.removeLink('up0'), /router interface ru/);
});

test('router in the data plane: a routed GSO frame leaves whole and is counted as one on the router port', () => {
  const { io, a, b, fa, fb, counters, rb } = planeSetup();
  io.deliver(b.index, [frame(parseMac(RB_MAC), H2, 0x0806, emitArp({ op: ARP_OP.REQUEST, senderMac: H2, senderIp: ip4('10.2.0.1'), targetMac: 0, targetIp: ip4('10.2.0.254') }))]);
  io.take(fb);
  io.deliver(a.index, [arpRequest(H1, '10.1.0.1', '10.1.0.254')]);
  io.take(fa);
  io.deliver(a.index, [gso4(1200)]);
  const out = io.take(fb);
  assert.equal(out.length, 1, 'one frame: the kernel cuts the segments later');
  assert.equal(out[0]!.length, VNET_HDR_LEN + 14 + 20 + 20 + 3000);
  assert.equal(counters.readPort(rb.index).txGsoFrames, 1);
});
