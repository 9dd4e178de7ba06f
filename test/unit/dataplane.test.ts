import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TwError } from '../../src/errors.js';
import { CounterBlock } from '../../src/dataplane/counters.js';
import { DataPlane, HOUSEKEEPING_MS, type DataPlaneDeps } from '../../src/dataplane/dataplane.js';
import { FakeIo, FakePorts } from '../../src/ports/fake-port.js';
import type { BatchHandler } from '../../src/native/index.js';
import { BROADCAST, emitEthernet } from '../../src/wire/ethernet.js';
import { GSO, VNET_FLAG, VNET_HDR_LEN, emitVnetHeader } from '../../src/wire/virtio-net.js';
import { parseCidr } from '../../src/wire/cidr.js';
import { TapPortSpec } from '../../src/dataplane/protocol.js';

const H1 = 0x02_00_00_00_00_01;
const H2 = 0x02_00_00_00_00_02;

function withVnet(eth: Uint8Array, gsoSize = 0): Uint8Array {
  const out = new Uint8Array(VNET_HDR_LEN + eth.length);
  out.set(eth, VNET_HDR_LEN);
  if (gsoSize > 0) {
    // TCP/IPv4 without options: the transport header at 34, its data offset says 20 bytes.
    emitVnetHeader({ flags: VNET_FLAG.NEEDS_CSUM, gsoType: GSO.TCPV4, hdrLen: 66, gsoSize, csumStart: 34, csumOffset: 16, numBuffers: 0 }, out);
    out[VNET_HDR_LEN + 14] = 0x45;
    out[VNET_HDR_LEN + 14 + 9] = 6;
    out[VNET_HDR_LEN + 34 + 12] = 0x50;
  }
  return out;
}

function eth(dst: number, src: number, payload = 46): Uint8Array {
  return emitEthernet({ dst, src, etherType: 0x0800 }, new Uint8Array(payload).fill(0xab));
}

function tap(name: string, extra: Partial<TapPortSpec> = {}): TapPortSpec {
  return { name, kind: 'tap', addresses: [], up: true, ...extra };
}

/** makePlane builds a data plane over fake ports with bridge br0 and no ports; `now` is a manual clock. */
function makePlane(options: { slotSize?: number; agingSeconds?: number; log?: DataPlaneDeps['log']; wake?: DataPlaneDeps['wake'] } = {}) {
  const counters = new CounterBlock();
  const taps = new FakePorts();
  let io!: FakeIo;
  let onBatch!: BatchHandler;
  let now = 0;
  const plane = new DataPlane({
    counters,
    io: (handler) => {
      onBatch = handler;
      return (io = new FakeIo(handler, 8, options.slotSize ?? 2048, 64));
    },
    devices: taps,
    clock: () => now,
    log: options.log,
    wake: options.wake,
  });
  plane.addBridge({ name: 'br0', agingSeconds: options.agingSeconds ?? 300, fdbMax: 8192 });
  return { plane, io, taps, counters, onBatch, tick: (ms: number) => (now += ms), setNow: (t: number) => (now = t) };
}

/** setup is makePlane with three tap ports a, b, c. */
function setup() {
  const p = makePlane();
  const a = p.plane.addPort('br0', tap('a'));
  const b = p.plane.addPort('br0', tap('b'));
  const c = p.plane.addPort('br0', tap('c'));
  return { ...p, a, b, c };
}

test('dataplane: frames cross with their vnet header; counters count frames and bytes', () => {
  const { io, taps, counters, a, b, c } = setup();
  const f = withVnet(eth(BROADCAST, H1));
  io.deliver(a.index, [f]);
  assert.deepEqual(io.take(taps.fdOf('b')), [f]);
  assert.deepEqual(io.take(taps.fdOf('c')), [f]);
  assert.deepEqual(io.take(taps.fdOf('a')), [], 'never back out of the ingress port');
  io.deliver(b.index, [withVnet(eth(H1, H2))]);
  assert.equal(io.take(taps.fdOf('a')).length, 1);
  assert.equal(io.take(taps.fdOf('c')).length, 0, 'learned unicast does not reach c');
  const ca = counters.readPort(a.index);
  assert.deepEqual(ca, { rxFrames: 1, rxBytes: 60, txFrames: 1, txBytes: 60, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 1, drops: {} });
  assert.equal(counters.readPort(c.index).txFrames, 1);
});

test('dataplane: runts, truncated reads and bad vnet headers are dropped and counted by reason', () => {
  const { io, counters, a } = setup();
  const badVnet = withVnet(eth(BROADCAST, H1));
  badVnet[1] = 2; // unknown GSO type
  io.deliver(a.index, [
    new Uint8Array(VNET_HDR_LEN + 13),
    new Uint8Array(4),
    new Uint8Array(2048),
    badVnet,
    withVnet(eth(0x01_80_c2_00_00_00, H1)),
    withVnet(eth(BROADCAST, 0x01_00_00_00_00_01)),
  ]);
  assert.deepEqual(counters.readPort(a.index).drops, { runt: 2, truncated: 1, bad_vnet_hdr: 1, reserved_group: 1, group_source: 1 });
  assert.equal(counters.readPort(a.index).rxFrames, 6);
});

test('dataplane: GSO frames pass whole and are counted; write errors become port_down / write_error', () => {
  const { io, taps, counters, a, b, c } = setup();
  const big = withVnet(eth(BROADCAST, H1, 1900), 1448); // larger than the 1500 MTU, but a GSO frame
  io.deliver(a.index, [big]);
  assert.equal(io.take(taps.fdOf('b'))[0]!.length, big.length);
  assert.equal(counters.readPort(a.index).rxGsoFrames, 1);
  assert.equal(counters.readPort(b.index).txGsoFrames, 1);
  io.failing.set(taps.fdOf('b'), 5); // EIO: the netdev is down
  io.failing.set(taps.fdOf('c'), 22);
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1))]);
  assert.deepEqual(counters.readPort(b.index).drops, { port_down: 1 });
  assert.deepEqual(counters.readPort(c.index).drops, { write_error: 1 });
  const plain = withVnet(eth(BROADCAST, H1, 1501));
  io.failing.clear();
  io.deliver(a.index, [plain]);
  assert.equal(counters.readPort(b.index).drops.too_big, 1);
});

test('dataplane: a GSO frame is checked by the IP length of its segments, headers included', () => {
  const { plane, io, taps, counters, a } = setup();
  const narrow = plane.addPort('br0', tap('d', { mtu: 1480 }));
  // MSS 1448 segments are 20 + 20 + 1448 = 1488 bytes of IP: they fit 1500, not 1480.
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1, 1900), 1448)]);
  assert.equal(io.take(taps.fdOf('b')).length, 1);
  assert.equal(io.take(taps.fdOf('d')).length, 0);
  assert.equal(counters.readPort(narrow.index).drops.too_big, 1);
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1, 1900), 1440)]);
  assert.equal(io.take(taps.fdOf('d')).length, 1, '20 + 20 + 1440 = 1480 fits');
});

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/**
 * gsoFrame is a vnet header (as hex) and a 4,000-byte TCP frame from H1 to broadcast behind it: IPv4
 * (no options) or IPv6, a 20-byte TCP header, zero payload.
 */
function gsoFrame(vnet: string, v6: boolean): Uint8Array {
  const ethernet = v6 ? 'ffffffffffff 020000000001 86dd' : 'ffffffffffff 020000000001 0800';
  const ip = v6
    ? '6000 0000 0f6a 0640 fd000000000000000000000000000001 fd000000000000000000000000000002' // payload 4000 - 54
    : '4500 0f92 0000 4000 4006 0000 0a000001 0a000002'; // total length 4000 - 14
  const tcp = '3039 0050 00000001 00000000 5010 ffff 0000 0000';
  const head = hex(vnet + ethernet + ip + tcp);
  const out = new Uint8Array(VNET_HDR_LEN + 4000);
  out.set(head, 0);
  return out;
}

test('dataplane: a GSO frame without NEEDS_CSUM is checked by its segments with their headers (flags 0 and 2, IPv4 and IPv6)', () => {
  const { plane, io, taps, counters } = makePlane({ slotSize: 8192 });
  const a = plane.addPort('br0', tap('a'));
  const narrow = plane.addPort('br0', tap('n')); // MTU 1500
  const fits4 = plane.addPort('br0', tap('f4', { mtu: 1510 })); // 20 + 20 + 1470
  const fits6 = plane.addPort('br0', tap('f6', { mtu: 1508 })); // 40 + 20 + 1448
  // IP length of each segment: IPv4 20 + 20 + 1470 = 1510, IPv6 40 + 20 + 1448 = 1508.
  const cases = [
    { vnet: '00 01 3600 be05 0000 0000 0000', v6: false, f4: 1, f6: 0 },
    { vnet: '02 01 3600 be05 0000 0000 0000', v6: false, f4: 1, f6: 0 },
    { vnet: '00 04 4a00 a805 0000 0000 0000', v6: true, f4: 1, f6: 1 },
  ];
  for (const [k, c] of cases.entries()) {
    const f = gsoFrame(c.vnet, c.v6);
    io.deliver(a.index, [f]);
    assert.deepEqual(io.take(taps.fdOf('n')), [], `${c.vnet}: the segments do not fit MTU 1500`);
    assert.equal(counters.readPort(narrow.index).drops.too_big, k + 1, c.vnet);
    assert.deepEqual(io.take(taps.fdOf('f4')), c.f4 ? [f] : [], `${c.vnet}: MTU 1510`);
    assert.deepEqual(io.take(taps.fdOf('f6')), c.f6 ? [f] : [], `${c.vnet}: MTU 1508`);
  }
  assert.equal(counters.readPort(fits6.index).drops.too_big, 2, 'the IPv4 segments (1510) do not fit 1508');
  assert.equal(counters.readPort(fits4.index).drops.too_big, undefined);
});

test('dataplane: a GSO frame whose packet headers cannot be read is dropped as bad_gso, not passed on', () => {
  const { plane, io, taps, counters } = makePlane({ slotSize: 8192 });
  const a = plane.addPort('br0', tap('a'));
  plane.addPort('br0', tap('wide', { mtu: 9000 }));
  const notIp = gsoFrame('00 01 3600 be05 0000 0000 0000', false);
  notIp[VNET_HDR_LEN + 14] = 0xab; // version 10
  const shortIhl = gsoFrame('00 01 3600 be05 0000 0000 0000', false);
  shortIhl[VNET_HDR_LEN + 14] = 0x44; // IHL 16 bytes
  const badDataOffset = gsoFrame('00 01 3600 be05 0000 0000 0000', false);
  badDataOffset[VNET_HDR_LEN + 34 + 12] = 0x40; // a 16-byte TCP header
  const v6Cut = gsoFrame('00 04 4a00 a805 0000 0000 0000', true).subarray(0, VNET_HDR_LEN + 14 + 36); // IPv6 header cut
  const cut = gsoFrame('00 01 3600 be05 0000 0000 0000', false).subarray(0, VNET_HDR_LEN + 14 + 20 + 10); // TCP header cut
  io.deliver(a.index, [notIp, shortIhl, badDataOffset, v6Cut, cut]);
  assert.deepEqual(io.take(taps.fdOf('wide')), []);
  assert.deepEqual(counters.readPort(a.index).drops, { bad_gso: 5 });
});

test('dataplane: a read error marks the port error and counts read_error', () => {
  const { io, plane, counters, a } = setup();
  io.fail(a.index, 77);
  assert.equal(counters.readPort(a.index).drops.read_error, 1);
  assert.equal(plane.listPorts('br0').find((p) => p.name === 'a')!.state, 'error');
});

test('dataplane: a frame the kernel failed to hand over is one rx_frame_error drop; the port stays up and reads on', () => {
  const { plane, io, taps, counters, onBatch } = makePlane();
  const a = plane.addPort('br0', tap('a'));
  plane.addPort('br0', tap('b'));
  // As the native loop reports it: one frame read, one lost with EINVAL (a UFO frame on an AF_PACKET socket).
  const f = withVnet(eth(BROADCAST, H1));
  io.rx.set(f, 0);
  io.offsets[0] = 0;
  io.lengths[0] = f.length;
  onBatch(a.index, 1, 0, 1);
  assert.deepEqual(io.take(taps.fdOf('b')), [f], 'the frame read in the same batch crosses');
  onBatch(a.index, 0, 0, 2);
  assert.deepEqual(counters.readPort(a.index).drops, { rx_frame_error: 3 });
  assert.equal(plane.listPorts('br0').find((p) => p.name === 'a')!.state, 'up');
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1))]);
  assert.equal(io.take(taps.fdOf('b')).length, 1, 'the port is still polled');
});

test('dataplane: a frame that makes the forwarder throw is dropped as internal_error, logged once, and the batch goes on', () => {
  const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
  const { plane, io, taps, counters } = makePlane({ log: (_l, msg, fields) => logs.push({ msg, fields }) });
  const a = plane.addPort('br0', tap('a'));
  const b = plane.addPort('br0', tap('b'));
  plane.addRouterInterface({ name: 'r0', bridge: 'br0', addresses: [parseCidr('10.9.0.254/24')], mac: '02:00:00:00:00:fe', routerAdvertisements: false });
  io.take(taps.fdOf('b')); // the router's gratuitous ARP
  // The fault: the router's parser throws on whatever it is handed.
  plane.router.receive = () => {
    throw new RangeError('injected parser fault');
  };
  io.deliver(b.index, [withVnet(eth(BROADCAST, H2))]); // b's host is known: unicast to it skips the router
  io.take(taps.fdOf('a'));
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1)), withVnet(eth(BROADCAST, H1)), withVnet(eth(H2, H1))]);
  assert.equal(counters.readPort(a.index).drops.internal_error, 2, 'the two broadcasts reached the throwing router');
  assert.equal(counters.readPort(b.index).drops.internal_error, 1);
  assert.equal(io.take(taps.fdOf('b')).length, 3, 'every frame of the batch still reached b, the one after the faults too');
  const faults = logs.filter((l) => l.msg.includes('internal_error'));
  assert.equal(faults.length, 1, 'logged once within LOG_EVERY_MS');
  assert.match(String(faults[0]!.fields!.error), /injected parser fault/);
  assert.equal(faults[0]!.fields!.port, 'b', 'the first fault, from b, is the one logged');
});

test('dataplane: one timer wheel drives RAs, FDB aging and port state; the owner is woken for its earliest deadline', () => {
  const wakes: number[] = [];
  const { plane, io, taps, counters, setNow } = makePlane({ agingSeconds: 10, wake: (at) => wakes.push(at) });
  plane.armWake();
  assert.deepEqual(wakes, [HOUSEKEEPING_MS], 'the first wake-up is the housekeeping second');
  const a = plane.addPort('br0', tap('a'));
  plane.addPort('br0', tap('b'));
  plane.addRouterInterface({ name: 'r0', bridge: 'br0', addresses: [parseCidr('fd09::fe/64')], mac: '02:00:00:00:00:fe', routerAdvertisements: true });
  plane.armWake();
  assert.equal(wakes.at(-1), 0, 'the first RA is due at once: the owner is asked to wake now');
  io.take(taps.fdOf('a'));
  plane.runTimers();
  const ra = io.take(taps.fdOf('a'));
  assert.equal(ra.length, 1, 'the RA went out through the bridge when the timers ran');
  assert.equal(ra[0]![VNET_HDR_LEN + 14 + 40], 134, 'ICMPv6 type 134, a Router Advertisement');
  assert.ok(wakes.at(-1)! > 0 && wakes.at(-1)! <= HOUSEKEEPING_MS, `then the next deadline (${wakes.at(-1)})`);
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1))]);
  assert.equal(plane.fdbList('br0').filter((r) => !r.static).length, 1);
  for (let t = 1; t <= 11; t++) {
    setNow(t * HOUSEKEEPING_MS);
    plane.runTimers();
  }
  assert.equal(plane.fdbList('br0').filter((r) => !r.static).length, 0, 'H1 aged out after 10 s, by the housekeeping timer');
  assert.equal(counters.readBridge(plane.listBridges()[0]!.slot).fdbExpired, 1);
  assert.ok(io.take(taps.fdOf('b')).length >= 3, 'the initial RAs (every 4 s) kept coming');
});

test('dataplane: failed commands change nothing', () => {
  const { plane, taps, io } = setup();
  const before = { bridges: plane.listBridges(), ports: plane.listPorts(), fds: [...taps.open.keys()], polled: [...io.polled] };
  assert.throws(
    () => plane.addBridge({ name: 'br0', agingSeconds: 300, fdbMax: 10 }),
    (e: TwError) => e.code === 'TW_ERR_EXISTS',
  );
  assert.throws(
    () => plane.addPort('nope', tap('d')),
    (e: TwError) => e.code === 'TW_ERR_NOT_FOUND',
  );
  assert.throws(
    () => plane.addPort('br0', tap('a')),
    (e: TwError) => e.code === 'TW_ERR_EXISTS',
  );
  taps.failNext = Object.assign(new Error('ioctl(TUNSETIFF): Device or resource busy (EBUSY)'), { code: 'EBUSY', errno: 16, syscall: 'ioctl(TUNSETIFF)' });
  assert.throws(
    () => plane.addPort('br0', tap('d', { addresses: [parseCidr('10.0.0.1/24')] })),
    (e: TwError) => e.code === 'TW_ERR_EXISTS',
  );
  taps.failNext = Object.assign(new Error('open(/run/netns/<name>): No such file or directory (ENOENT)'), { code: 'ENOENT', errno: 2, syscall: 'open(/run/netns/<name>)' });
  assert.throws(
    () => plane.addPort('br0', tap('d', { netns: 'missing' })),
    (e: TwError) => e.code === 'TW_ERR_VALIDATION' && /missing does not exist/.test(e.detail),
  );
  assert.throws(
    () => plane.removePort('br0', 'zz'),
    (e: TwError) => e.code === 'TW_ERR_NOT_FOUND',
  );
  assert.throws(
    () => plane.removeBridge('br0', false),
    (e: TwError) => e.code === 'TW_ERR_IN_USE',
  );
  assert.throws(
    () => plane.fdbDelete('br0', '02:00:00:00:00:09'),
    (e: TwError) => e.code === 'TW_ERR_NOT_FOUND',
  );
  assert.throws(
    () => plane.fdbAdd('br0', '01:00:00:00:00:09', 'a'),
    (e: TwError) => e.code === 'TW_ERR_VALIDATION',
  );
  assert.deepEqual({ bridges: plane.listBridges(), ports: plane.listPorts(), fds: [...taps.open.keys()], polled: [...io.polled] }, before);
});

test('dataplane: static FDB entries, flush, aging by tick, removal closes devices', () => {
  const { plane, io, taps, counters, a, b, tick } = setup();
  plane.fdbAdd('br0', '02:00:00:00:00:02', 'b');
  io.deliver(a.index, [withVnet(eth(H2, H1))]);
  assert.equal(io.take(taps.fdOf('b')).length, 1);
  assert.equal(io.take(taps.fdOf('c')).length, 0, 'static entry: no flood');
  assert.deepEqual(
    plane.fdbList('br0').map((r) => [r.mac, r.port, r.static]),
    [
      ['02:00:00:00:00:01', 'a', false],
      ['02:00:00:00:00:02', 'b', true],
    ],
  );
  tick(301_000);
  plane.runTimers();
  assert.deepEqual(
    plane.fdbList('br0').map((r) => r.mac),
    ['02:00:00:00:00:02'],
  );
  const bc = counters.readBridge(plane.listBridges()[0]!.slot);
  assert.equal(bc.fdbExpired, 1);
  assert.equal(bc.fdbEntries, 1);
  assert.equal(plane.fdbFlush('br0'), 0);
  plane.fdbDelete('br0', '02:00:00:00:00:02');
  plane.removePort('br0', 'b');
  assert.equal(io.polled.has(b.index), false);
  assert.equal(taps.open.size, 2);
  plane.removeBridge('br0', true);
  assert.equal(taps.open.size, 0);
  plane.close();
  plane.close();
  assert.equal(io.closed, true);
});

test('dataplane: a vm port follows its TAP carrier, gets no floods while down, and keeps its TAP at shutdown', () => {
  const { plane, io, taps, counters, a, b, tick } = setup();
  const vm = plane.addPort('br0', { name: 'vm1', kind: 'vm', owner: 'alice', uid: 1000, mac: '52:54:00:00:00:01' });
  assert.equal(vm.state, 'down', 'no emulator holds the TAP yet');
  assert.equal(vm.uid, 1000);
  assert.equal(vm.mac, '52:54:00:00:00:01');
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1))]);
  assert.equal(io.take(taps.fdOf('vm1')).length, 0, 'no flood to a vm port without its emulator');
  assert.equal(io.take(taps.fdOf('b')).length, 1);

  taps.vmTaps.get('vm1')!.carrier = true; // the emulator attaches
  tick(HOUSEKEEPING_MS);
  plane.runTimers();
  assert.equal(plane.listPorts('br0').find((p) => p.name === 'vm1')!.state, 'up');
  io.deliver(a.index, [withVnet(eth(BROADCAST, H1))]);
  assert.equal(io.take(taps.fdOf('vm1')).length, 1, 'flooded once the emulator is there');
  io.deliver(vm.index, [withVnet(eth(H1, H2))]);
  assert.equal(io.take(taps.fdOf('a')).length, 1, 'the guest reaches the learned host');
  assert.equal(counters.readPort(vm.index).rxFrames, 1);

  taps.vmTaps.get('vm1')!.carrier = false; // the emulator stops
  tick(HOUSEKEEPING_MS);
  plane.runTimers();
  assert.equal(plane.listPorts('br0').find((p) => p.name === 'vm1')!.state, 'down');

  plane.close();
  assert.ok(taps.vmTaps.has('vm1'), 'the persistent TAP outlives the daemon');
  void b;
});

test('dataplane: a vm port is adopted only when owned alike, and deleting it removes the TAP', () => {
  const { plane, taps } = setup();
  const spec = { name: 'vm1', kind: 'vm' as const, group: 'kvm', gid: 107, mac: '52:54:00:00:00:01' };
  plane.addPort('br0', spec);
  plane.removePort('br0', 'vm1');
  assert.equal(taps.vmTaps.has('vm1'), false, 'deleting the port deletes the TAP');
  taps.vmTaps.set('vm1', { gid: 107, carrier: true }); // left by an earlier daemon, an emulator on it
  const adopted = plane.addPort('br0', spec);
  assert.equal(adopted.state, 'up');
  plane.removePort('br0', 'vm1');
  taps.vmTaps.set('vm1', { uid: 0, carrier: false });
  assert.throws(
    () => plane.addPort('br0', spec),
    (e: unknown) => e instanceof TwError && e.code === 'TW_ERR_EXISTS',
  );
  assert.equal(
    plane.listPorts('br0').some((p) => p.name === 'vm1'),
    false,
    'a refused port changes nothing',
  );
  assert.throws(
    () => plane.addPort('br0', { name: 'vm2', kind: 'vm', mac: '52:54:00:00:00:02' }),
    (e: unknown) => e instanceof TwError && e.code === 'TW_ERR_VALIDATION' && /owner or a group/.test(e.detail),
  );
});
