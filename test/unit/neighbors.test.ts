import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Address6 } from 'ip-address';
import { NeighborCache, hash6, type NeighborDropReason, type NeighborEvents, type NeighborOptions } from '../../src/router/neighbors.js';
import { TimerWheel } from '../../src/time/timer-wheel.js';

const A = 0x02_00_00_00_00_0a;
const B = 0x02_00_00_00_00_0b;
const C = 0x02_00_00_00_00_0c;
const GW = 0x0a_00_00_01; // 10.0.0.1
const H2 = 0x0a_00_00_02;
const H3 = 0x0a_00_00_03;

const REPLY = { solicited: true, override: true, create: true } as const; // ARP reply to us / solicited NA with O
const REQUEST = { solicited: false, override: true, create: true } as const; // ARP request to us / NS with SLLAO
const OVERHEARD = { solicited: false, override: true, create: false } as const; // ARP not addressed to us

type Event =
  | { kind: 'solicit'; iface: number; family: 4 | 6; addr: number | string; unicastMac: number }
  | { kind: 'release'; iface: number; mac: number; packet: string }
  | { kind: 'unreachable'; iface: number; packet: string }
  | { kind: 'drop'; iface: number; packet: string; reason: NeighborDropReason };

/** recorder is a fake router: it records every event, with IPv6 addresses as text. */
function recorder(): NeighborEvents<string> & { log: Event[]; take(): Event[] } {
  const log: Event[] = [];
  return {
    log,
    take() {
      return log.splice(0, log.length);
    },
    solicit(iface, family, addr, unicastMac) {
      log.push({ kind: 'solicit', iface, family, addr: typeof addr === 'number' ? addr : v6text(addr), unicastMac });
    },
    release(iface, mac, packet) {
      log.push({ kind: 'release', iface, mac, packet });
    },
    unreachable(iface, packet) {
      log.push({ kind: 'unreachable', iface, packet });
    },
    drop(iface, packet, reason) {
      log.push({ kind: 'drop', iface, packet, reason });
    },
  };
}

function v6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const bytes = new Address6(text).toUnsignedByteArray();
  out.set(bytes, 16 - bytes.length);
  return out;
}

function v6text(b: Uint8Array): string {
  return Address6.fromUnsignedByteArray([...b]).correctForm();
}

/** wheel is a timer wheel driven by the test's manual clock (wheel.advance); a timer callback never throws here. */
function wheel(): TimerWheel {
  return new TimerWheel({
    onError: (e) => {
      throw e;
    },
  });
}

function setup(options: NeighborOptions = {}) {
  const ev = recorder();
  const timers = wheel();
  return { ev, timers, nc: new NeighborCache<string>(ev, timers, { hashSeed: 1, ...options }) };
}

function stateOf(nc: NeighborCache<string>, iface: number, address: string): string | undefined {
  return nc.entries(0).find((r) => r.iface === iface && r.address === address)?.state;
}

test('neighbors: a miss sends one solicitation and queues; the answer releases the queue in order', () => {
  const { ev, nc, timers } = setup();
  assert.equal(nc.resolve4(1, GW, 0, 'p1'), -1);
  assert.deepEqual(ev.take(), [{ kind: 'solicit', iface: 1, family: 4, addr: GW, unicastMac: -1 }]);
  assert.equal(nc.resolve4(1, GW, 10, 'p2'), -1);
  assert.equal(nc.resolve4(1, GW, 20, 'p3'), -1);
  assert.deepEqual(ev.take(), [], 'no second solicitation while one is outstanding');
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'incomplete');
  nc.learn4(1, GW, A, 30, REPLY);
  assert.deepEqual(ev.take(), [
    { kind: 'release', iface: 1, mac: A, packet: 'p1' },
    { kind: 'release', iface: 1, mac: A, packet: 'p2' },
    { kind: 'release', iface: 1, mac: A, packet: 'p3' },
  ]);
  assert.equal(nc.resolve4(1, GW, 40, 'p4'), A);
  assert.equal(nc.resolve4(2, GW, 40), -1, 'the same address on another interface is another neighbor');
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'reachable');
  assert.deepEqual({ solicitsSent: nc.stats.solicitsSent, resolved: nc.stats.resolved, queued: nc.stats.queued }, { solicitsSent: 2, resolved: 1, queued: 3 });
  timers.advance(1_000_000);
  assert.equal(ev.log.filter((e) => e.kind === 'release').length, 0, 'released packets are never handed back again');
});

test('neighbors: retries every retransMs, then FAILED and each queued packet unreachable exactly once', () => {
  const { ev, nc, timers } = setup();
  nc.resolve4(1, GW, 0, 'p1');
  nc.resolve4(1, GW, 500, 'p2');
  ev.take();
  timers.advance(999);
  assert.deepEqual(ev.take(), []);
  timers.advance(1000);
  assert.deepEqual(ev.take(), [{ kind: 'solicit', iface: 1, family: 4, addr: GW, unicastMac: -1 }]);
  timers.advance(1500);
  assert.deepEqual(ev.take(), []);
  timers.advance(2000);
  assert.equal(ev.take().length, 1, 'third solicitation');
  nc.resolve4(1, GW, 2500, 'p3');
  timers.advance(2999);
  assert.deepEqual(ev.take(), []);
  timers.advance(3000);
  assert.deepEqual(ev.take(), [
    { kind: 'unreachable', iface: 1, packet: 'p1' },
    { kind: 'unreachable', iface: 1, packet: 'p2' },
    { kind: 'unreachable', iface: 1, packet: 'p3' },
  ]);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'failed');
  for (let t = 3000; t <= 5000; t += 100) timers.advance(t);
  assert.deepEqual(ev.take(), [], 'reported once, no more solicitations');
  assert.equal(nc.stats.solicitsSent, 3);
  assert.equal(nc.stats.failed, 1);
  assert.equal(nc.stats.unreachable, 3);
});

test('neighbors: a FAILED entry answers unreachable at once for failedHoldMs, then resolves afresh', () => {
  const { ev, nc, timers } = setup({ failedHoldMs: 3000 });
  nc.resolve4(1, GW, 0);
  for (let t = 1000; t <= 3000; t += 1000) timers.advance(t);
  ev.take();
  assert.equal(nc.resolve4(1, GW, 3500, 'q1'), -1);
  assert.equal(nc.resolve4(1, GW, 5999, 'q2'), -1);
  assert.deepEqual(ev.take(), [
    { kind: 'unreachable', iface: 1, packet: 'q1' },
    { kind: 'unreachable', iface: 1, packet: 'q2' },
  ]);
  assert.equal(nc.resolve4(1, GW, 6000, 'q3'), -1);
  assert.deepEqual(ev.take(), [{ kind: 'solicit', iface: 1, family: 4, addr: GW, unicastMac: -1 }], 'a fresh resolution');
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'incomplete');
  timers.advance(7000);
  timers.advance(8000);
  assert.equal(ev.take().length, 2, 'the fresh resolution has its full maxProbes');
  nc.learn4(1, GW, A, 8500, REPLY);
  assert.deepEqual(ev.take(), [{ kind: 'release', iface: 1, mac: A, packet: 'q3' }]);
});

test('neighbors: the queue holds queueMax packets, dropping (and counting) the oldest', () => {
  const { ev, nc } = setup({ queueMax: 3 });
  for (let i = 1; i <= 5; i++) nc.resolve4(1, GW, i, `p${i}`);
  assert.deepEqual(ev.take().slice(1), [
    { kind: 'drop', iface: 1, packet: 'p1', reason: 'queue-full' },
    { kind: 'drop', iface: 1, packet: 'p2', reason: 'queue-full' },
  ]);
  assert.equal(nc.stats.queueDrops, 2);
  assert.equal(nc.stats.queued, 5);
  nc.learn4(1, GW, A, 10, REPLY);
  assert.deepEqual(
    ev.take().map((e) => (e.kind === 'release' ? e.packet : e.kind)),
    ['p3', 'p4', 'p5'],
  );
  const zero = setup({ queueMax: 0 });
  zero.nc.resolve4(1, GW, 0, 'x');
  assert.equal(zero.nc.stats.queueDrops, 1);
  assert.deepEqual(
    zero.ev.log.filter((e) => e.kind === 'drop'),
    [{ kind: 'drop', iface: 1, packet: 'x', reason: 'queue-full' }],
  );
});

test('neighbors: REACHABLE -> STALE -> (used) DELAY -> PROBE (unicast) -> REACHABLE on a solicited answer', () => {
  const { ev, nc, timers } = setup({ reachableMs: 30_000, delayMs: 5_000, retransMs: 1_000 });
  nc.resolve4(1, GW, 0);
  nc.learn4(1, GW, A, 0, REPLY);
  ev.take();
  timers.advance(29_999);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'reachable');
  timers.advance(30_000);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'stale');
  assert.equal(nc.resolve4(1, GW, 31_000, 'p'), A, 'a STALE entry is still used');
  assert.deepEqual(ev.take(), [], 'the packet was not queued');
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'delay');
  timers.advance(35_999);
  assert.deepEqual(ev.take(), []);
  timers.advance(36_000);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'probe');
  assert.deepEqual(ev.take(), [{ kind: 'solicit', iface: 1, family: 4, addr: GW, unicastMac: A }]);
  assert.equal(nc.resolve4(1, GW, 36_500), A, 'PROBE still sends to the cached MAC');
  nc.learn4(1, GW, A, 36_600, { solicited: true, override: false, create: false });
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'reachable');
  timers.advance(37_000);
  assert.deepEqual(ev.take(), [], 'no more probes');
  assert.equal(nc.entries(40_000)[0]!.ageMs, 3_400);
  timers.advance(66_599);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'reachable', 'the confirmation restarted reachableMs');
  timers.advance(66_600);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'stale');
});

test('neighbors: PROBE without an answer sends maxProbes unicast probes, then FAILED', () => {
  const { ev, nc, timers } = setup({ reachableMs: 30_000, delayMs: 5_000 });
  nc.learn4(1, GW, A, 0, REQUEST); // STALE
  nc.resolve4(1, GW, 100);
  timers.advance(5_100);
  timers.advance(6_100);
  timers.advance(7_100);
  assert.deepEqual(
    ev.take().map((e) => (e.kind === 'solicit' ? e.unicastMac : e.kind)),
    [A, A, A],
  );
  assert.equal(nc.resolve4(1, GW, 7_200), A);
  timers.advance(8_100);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'failed');
  assert.equal(nc.entries(8_100)[0]!.mac, -1);
  assert.equal(nc.resolve4(1, GW, 8_200, 'p'), -1);
  assert.deepEqual(ev.take(), [{ kind: 'unreachable', iface: 1, packet: 'p' }]);
  assert.equal(nc.stats.failed, 1);
});

test('neighbors: upper-layer confirmation makes a known neighbor REACHABLE', () => {
  const { nc } = setup();
  nc.learn4(1, GW, A, 0, REQUEST);
  assert.equal(nc.confirm(1, 4, GW, 10), true);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'reachable');
  assert.equal(nc.confirm(1, 4, H2, 10), false);
  nc.resolve4(1, H2, 10);
  assert.equal(nc.confirm(1, 4, H2, 10), false, 'an INCOMPLETE entry has no MAC to confirm');
});

test('neighbors: NA rules of RFC 4861 7.2.5 (solicited, override)', () => {
  const NA = (solicited: boolean, override: boolean) => ({ solicited, override, create: false });
  const { ev, nc } = setup();
  const X = v6('2001:db8::7');
  const at = (t: string) => stateOf(nc, 0, t);
  const macOf = () => nc.entries(0)[0]!.mac;

  nc.learn6(0, X, A, 0, NA(true, true));
  assert.equal(nc.size, 0, 'an NA creates no entry');

  nc.resolve6(0, X, 0, 0, 'p');
  nc.learn6(0, X, A, 1, NA(false, false));
  assert.equal(at('2001:db8::7'), 'stale', 'unsolicited NA on INCOMPLETE: STALE, whatever the O flag');
  assert.equal(macOf(), A);
  assert.deepEqual(ev.log.at(-1), { kind: 'release', iface: 0, mac: A, packet: 'p' });

  nc.learn6(0, X, B, 2, NA(true, false));
  assert.equal(macOf(), A, 'O clear: a different MAC is not taken');
  assert.equal(at('2001:db8::7'), 'stale', 'and a non-REACHABLE state is kept');

  nc.learn6(0, X, A, 3, NA(true, false));
  assert.equal(at('2001:db8::7'), 'reachable', 'solicited, same MAC: REACHABLE even with O clear');

  nc.learn6(0, X, B, 4, NA(false, false));
  assert.equal(macOf(), A);
  assert.equal(at('2001:db8::7'), 'stale', 'O clear, different MAC: REACHABLE -> STALE');

  nc.learn6(0, X, A, 5, NA(true, true));
  nc.learn6(0, X, A, 6, NA(false, true));
  assert.equal(at('2001:db8::7'), 'reachable', 'unsolicited, same MAC: state kept');

  nc.learn6(0, X, B, 7, NA(false, true));
  assert.equal(macOf(), B, 'O set: the new MAC is taken');
  assert.equal(at('2001:db8::7'), 'stale', 'unsolicited with a new MAC: STALE');

  nc.learn6(0, X, C, 8, NA(true, true));
  assert.equal(macOf(), C);
  assert.equal(at('2001:db8::7'), 'reachable');

  nc.learn6(0, X, -1, 9, NA(true, false));
  assert.equal(macOf(), C, 'an NA without a target link-layer option only confirms');
  assert.equal(nc.entries(9)[0]!.ageMs, 0);

  const Y = v6('2001:db8::8');
  nc.learn6(0, Y, A, 10, REQUEST);
  assert.equal(at('2001:db8::8'), 'stale', 'an NS with a source link-layer option creates a STALE entry');
  nc.resolve6(0, v6('2001:db8::9'), 0, 10, 'q');
  nc.learn6(0, v6('2001:db8::9'), -1, 11, NA(true, true));
  assert.equal(at('2001:db8::9'), 'incomplete', 'no MAC, nothing to resolve with');
});

test('neighbors: RFC 826 merge: only an ARP addressed to us creates an entry; any ARP from a known sender updates it', () => {
  const { nc } = setup();
  nc.learn4(1, GW, A, 0, OVERHEARD);
  assert.equal(nc.size, 0, 'an overheard ARP creates nothing');
  nc.learn4(1, GW, A, 0, REQUEST);
  assert.equal(stateOf(nc, 1, '10.0.0.1'), 'stale');
  nc.learn4(1, GW, B, 10, OVERHEARD);
  assert.equal(nc.resolve4(1, GW, 20), B, 'the overheard ARP updated the known sender');
  nc.learn4(1, H2, A, 0, REPLY);
  assert.equal(stateOf(nc, 1, '10.0.0.2'), 'reachable', 'a reply unicast to us creates a REACHABLE entry');
  nc.learn4(1, GW | 0x8000_0000, A, 0, REQUEST);
  assert.equal(nc.resolve4(1, (GW | 0x8000_0000) >>> 0, 1), A, 'signed and unsigned forms of an address are one key');
});

test('neighbors: permanent entries never change, age or get evicted', () => {
  const { ev, nc, timers } = setup({ maxEntries: 1 });
  nc.resolve4(1, GW, 0, 'p');
  nc.addPermanent(1, 4, GW, A);
  assert.deepEqual(ev.log.at(-1), { kind: 'release', iface: 1, mac: A, packet: 'p' }, 'an INCOMPLETE queue goes to the pinned MAC');
  nc.addPermanent(1, 6, v6('fe80::1'), B);
  nc.learn4(1, GW, C, 1, REPLY);
  nc.learn4(1, GW, C, 1, { solicited: false, override: false, create: false });
  nc.learn6(1, v6('fe80::1'), C, 1, REPLY);
  timers.advance(10_000_000);
  assert.equal(nc.resolve4(1, GW, 10_000_000), A);
  assert.equal(nc.resolve6(1, v6('fe80::1'), 0, 10_000_000), B);
  nc.resolve4(1, H2, 10_000_000);
  nc.resolve4(1, H3, 10_000_000);
  assert.equal(nc.stats.refused, 1, 'permanent entries do not count against maxEntries, and are not evicted');
  assert.deepEqual(
    nc.entries(10_000_000).filter((r) => r.state === 'permanent'),
    [
      { iface: 1, family: 4, address: '10.0.0.1', mac: A, state: 'permanent', ageMs: 0 },
      { iface: 1, family: 6, address: 'fe80::1', mac: B, state: 'permanent', ageMs: 0 },
    ],
  );
  assert.equal(nc.remove(1, 4, GW), true);
  assert.equal(nc.remove(1, 4, GW), false);
  assert.throws(() => nc.addPermanent(1, 4, H2, 2 ** 48), RangeError);
  assert.throws(() => nc.addPermanent(1, 4, v6('::1'), A), TypeError);
});

test('neighbors: flushInterface drops queues (counted, not unreachable) and stops the timers', () => {
  const { ev, nc, timers } = setup();
  nc.resolve4(1, GW, 0, 'a');
  nc.resolve4(1, GW, 0, 'b');
  nc.learn4(1, H2, A, 0, REQUEST);
  nc.addPermanent(1, 4, H3, B);
  nc.resolve4(2, GW, 0, 'c');
  nc.resolve6(1, v6('2001:db8::1'), 0, 0, 'd');
  ev.take();
  assert.equal(nc.flushInterface(1), 4);
  assert.deepEqual(ev.take(), [
    { kind: 'drop', iface: 1, packet: 'a', reason: 'flushed' },
    { kind: 'drop', iface: 1, packet: 'b', reason: 'flushed' },
    { kind: 'drop', iface: 1, packet: 'd', reason: 'flushed' },
  ]);
  assert.equal(nc.stats.flushDrops, 3);
  assert.equal(nc.size, 1);
  for (let t = 1000; t <= 4000; t += 1000) timers.advance(t);
  assert.deepEqual(
    ev.take().map((e) => [e.kind, e.iface]),
    [
      ['solicit', 2],
      ['solicit', 2],
      ['unreachable', 2],
    ],
  );
  assert.equal(nc.stats.unreachable, 1);
  assert.equal(nc.flushInterface(7), 0);
});

test('neighbors: at the cap a new entry evicts FAILED first, then the longest STALE, and is refused when none is left', () => {
  const { ev, nc, timers } = setup({ maxEntries: 4 });
  nc.learn4(1, 0x0a_00_00_0a, A, 0, REQUEST); // stale since 0
  nc.learn4(1, 0x0a_00_00_0b, A, 100, REQUEST); // stale since 100
  nc.resolve4(1, 0x0a_00_00_0c, 0); // fails at 3000
  nc.learn4(1, 0x0a_00_00_0d, A, 0, REPLY); // reachable until 30000
  for (let t = 1000; t <= 3000; t += 1000) timers.advance(t);
  assert.equal(stateOf(nc, 1, '10.0.0.12'), 'failed');
  ev.take();

  nc.resolve4(1, 0x0a_00_00_20, 3000);
  assert.equal(stateOf(nc, 1, '10.0.0.12'), undefined, 'the FAILED entry went first');
  nc.resolve4(1, 0x0a_00_00_21, 3000);
  assert.equal(stateOf(nc, 1, '10.0.0.10'), undefined, 'then the entry STALE the longest');
  assert.equal(stateOf(nc, 1, '10.0.0.11'), 'stale');
  nc.learn4(1, 0x0a_00_00_22, A, 3000, REQUEST);
  assert.equal(stateOf(nc, 1, '10.0.0.11'), undefined);
  assert.equal(nc.stats.evicted, 3);
  assert.equal(nc.size, 4);
  // left: two INCOMPLETE, one STALE (just created), one REACHABLE
  nc.resolve4(1, 0x0a_00_00_22, 3001); // STALE -> DELAY: not evictable either
  ev.take();
  assert.equal(nc.resolve4(1, 0x0a_00_00_30, 3002, 'scan'), -1);
  assert.deepEqual(ev.take(), [{ kind: 'drop', iface: 1, packet: 'scan', reason: 'refused' }], 'no solicitation, no unreachable');
  nc.learn4(1, 0x0a_00_00_31, A, 3002, REQUEST);
  assert.equal(nc.stats.refused, 2);
  assert.equal(nc.size, 4);
  assert.equal(nc.stats.evicted, 3);
});

test('neighbors: IPv6 is read in place at any offset and copied only when kept', () => {
  const { ev, nc } = setup();
  const addr = v6('2001:db8:0:0:1::42');
  const frame = Buffer.alloc(64, 0xee);
  frame.set(addr, 22);
  assert.equal(nc.resolve6(3, frame, 22, 0, 'p'), -1);
  assert.deepEqual(ev.take(), [{ kind: 'solicit', iface: 3, family: 6, addr: '2001:db8::1:0:0:42', unicastMac: -1 }]);
  frame.fill(0); // the packet buffer is reused: the entry must hold its own copy
  assert.equal(stateOf(nc, 3, '2001:db8::1:0:0:42'), 'incomplete');
  nc.learn6(3, addr, A, 1, REPLY);
  assert.deepEqual(ev.take(), [{ kind: 'release', iface: 3, mac: A, packet: 'p' }]);
  const other = new Uint8Array(40);
  other.set(addr, 7);
  assert.equal(nc.resolve6(3, other, 7, 2), A);
  assert.equal(nc.resolve6(3, other, 6, 2), -1, 'another address');
  const learned = v6('fe80::5');
  nc.learn6(3, learned, B, 3, REQUEST);
  learned.fill(0xff);
  assert.equal(stateOf(nc, 3, 'fe80::5'), 'stale', 'learn6 copies the address it keeps');
});

test('neighbors: IPv6 keys that collide in the hash are chained', () => {
  const seed = 7;
  // find two addresses with the same 32-bit hash (a birthday search over a fixed sequence: deterministic)
  const seen = new Map<number, number>();
  const mk = (i: number) => {
    const b = new Uint8Array(16);
    b[0] = 0x20;
    b[1] = 0x01;
    new DataView(b.buffer).setUint32(12, i);
    new DataView(b.buffer).setUint32(8, Math.imul(i, 0x9e3779b1) >>> 0);
    return b;
  };
  let pair: [number, number] | undefined;
  for (let i = 0; pair === undefined && i < 1 << 20; i++) {
    const h = hash6(mk(i), 0, seed);
    const j = seen.get(h);
    if (j !== undefined) pair = [j, i];
    else seen.set(h, i);
  }
  assert.ok(pair, 'a collision exists');
  const [x, y] = [mk(pair[0]), mk(pair[1])];
  assert.equal(hash6(x, 0, seed), hash6(y, 0, seed));
  const { nc } = setup({ hashSeed: seed });
  const z = mk(pair[0] + 1);
  nc.learn6(0, x, A, 0, REQUEST);
  nc.learn6(0, y, B, 0, REQUEST);
  nc.learn6(0, z, C, 0, REQUEST);
  assert.equal(nc.resolve6(0, x, 0, 1), A);
  assert.equal(nc.resolve6(0, y, 0, 1), B);
  assert.equal(nc.remove(0, 6, y), true, 'the chain head');
  assert.equal(nc.resolve6(0, x, 0, 2), A);
  nc.learn6(0, y, B, 3, REQUEST);
  assert.equal(nc.remove(0, 6, x), true, 'inside the chain');
  assert.equal(nc.resolve6(0, y, 0, 4), B);
  assert.equal(nc.resolve6(0, x, 0, 4), -1);
  assert.equal(nc.resolve6(0, z, 0, 4), C);
  assert.equal(nc.size, 3);
});

test('neighbors: garbage collection removes STALE and FAILED entries unused for gcMs', () => {
  const { nc, timers } = setup({ gcMs: 60_000, reachableMs: 30_000 });
  nc.learn4(1, GW, A, 0, REQUEST); // stale, used (created) at 0
  nc.learn4(1, H2, A, 0, REPLY); // reachable until 30000, then stale
  nc.resolve4(1, H3, 0); // failed at 3000
  nc.resolve4(1, H3, 40_000); // used during the hold: gc counts from here
  timers.advance(30_000);
  assert.equal(stateOf(nc, 1, '10.0.0.2'), 'stale');
  for (let t = 1000; t < 60_000; t += 1000) timers.advance(t);
  assert.equal(nc.size, 3);
  timers.advance(60_000);
  assert.equal(nc.size, 1, 'both STALE entries were last used at 0');
  timers.advance(99_999);
  assert.equal(nc.size, 1);
  timers.advance(100_000);
  assert.equal(nc.size, 0);
  assert.equal(nc.stats.expired, 3);
  assert.equal(timers.size, 0, 'no timer left on the wheel');
  assert.equal(timers.nextDeadline(), Infinity);
});

test('neighbors: deadlines that move earlier again and again do not grow the timer wheel', () => {
  const { nc, timers } = setup({ reachableMs: 100, delayMs: 10, gcMs: 1_000_000 });
  nc.learn4(1, GW, A, 0, REQUEST);
  let t = 0;
  for (let i = 0; i < 2000; i++) {
    t += 1;
    nc.resolve4(1, GW, t); // STALE -> DELAY: an earlier deadline than the gc node
    nc.learn4(1, GW, A, t, REPLY); // REACHABLE
    t += 100;
    timers.advance(t); // -> STALE
    assert.equal(stateOf(nc, 1, '10.0.0.1'), 'stale');
  }
  assert.ok(timers.size <= nc.size, `${timers.size} timers armed for ${nc.size} entries`);
  assert.ok(timers.storage <= 2 * nc.size + 64, `the wheel holds ${timers.storage} nodes`);
  const lastUse = t - 100;
  timers.advance(lastUse + 999_999);
  assert.equal(nc.size, 1);
  timers.advance(lastUse + 1_000_000);
  assert.equal(nc.size, 0, 'the gc deadline survived the rebuilds');
});

test('neighbors: entries() rows are formatted and ordered', () => {
  const { nc } = setup();
  nc.learn4(2, 0xc0_a8_01_01, A, 1000, REPLY);
  nc.resolve4(1, 0x0a_00_00_fe, 1500);
  nc.learn6(1, v6('2001:db8:0:0:1:0:0:1'), B, 0, REQUEST);
  nc.learn6(1, v6('::1'), B, 0, REQUEST);
  assert.deepEqual(nc.entries(2000), [
    { iface: 1, family: 4, address: '10.0.0.254', mac: -1, state: 'incomplete', ageMs: 500 },
    { iface: 1, family: 6, address: '::1', mac: B, state: 'stale', ageMs: 2000 },
    { iface: 1, family: 6, address: '2001:db8::1:0:0:1', mac: B, state: 'stale', ageMs: 2000 },
    { iface: 2, family: 4, address: '192.168.1.1', mac: A, state: 'reachable', ageMs: 1000 },
  ]);
});

test('neighbors: IPv6 text is RFC 5952, as ip-address writes it, IPv4-mapped in mixed notation (random addresses with zero runs)', () => {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
      const b = new Uint8Array(16);
      groups.forEach((g, i) => {
        b[2 * i] = g >> 8;
        b[2 * i + 1] = g & 0xff;
      });
      const nc = new NeighborCache<string>(recorder(), wheel());
      nc.addPermanent(0, 6, b, A);
      const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
      const want = mapped ? `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}` : v6text(b);
      assert.equal(nc.entries(0)[0]!.address, want);
    }),
    { numRuns: 300 },
  );
});

test('neighbors: every packet comes back exactly once and every timer fires (random operations)', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('resolve' as const), i: fc.integer({ min: 0, max: 1 }), a: fc.integer({ min: 0, max: 7 }) }),
    fc.record({
      k: fc.constant('learn' as const),
      i: fc.integer({ min: 0, max: 1 }),
      a: fc.integer({ min: 0, max: 7 }),
      mac: fc.constantFrom(A, B, -1),
      solicited: fc.boolean(),
      override: fc.boolean(),
      create: fc.boolean(),
    }),
    fc.record({ k: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ k: fc.constant('perm' as const), i: fc.integer({ min: 0, max: 1 }), a: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ k: fc.constant('remove' as const), i: fc.integer({ min: 0, max: 1 }), a: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ k: fc.constant('flush' as const), i: fc.integer({ min: 0, max: 1 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), fc.boolean(), (ops, six) => {
      const ev = recorder();
      const opts = { reachableMs: 50, delayMs: 20, retransMs: 10, gcMs: 100, failedHoldMs: 30, queueMax: 2, maxEntries: 5 };
      const timers = wheel();
      const nc = new NeighborCache<string>(ev, timers, { ...opts, hashSeed: 3 });
      const addr = (a: number) => (six ? v6(`fe80::${a + 1}`) : 0x0a_00_00_01 + a);
      const direct = new Set<string>();
      let now = 0;
      let n = 0;
      let sent = 0;
      for (const o of ops) {
        if (o.k === 'resolve') {
          const p = `p${n++}`;
          sent++;
          const a = addr(o.a);
          const mac = typeof a === 'number' ? nc.resolve4(o.i, a, now, p) : nc.resolve6(o.i, a, 0, now, p);
          if (mac >= 0) direct.add(p);
        } else if (o.k === 'learn') {
          const a = addr(o.a);
          if (typeof a === 'number') nc.learn4(o.i, a, o.mac, now, o);
          else nc.learn6(o.i, a, o.mac, now, o);
        } else if (o.k === 'tick') {
          now += o.dt;
          timers.advance(now);
        } else if (o.k === 'perm') nc.addPermanent(o.i, six ? 6 : 4, addr(o.a), C);
        else if (o.k === 'remove') nc.remove(o.i, six ? 6 : 4, addr(o.a));
        else nc.flushInterface(o.i);
        const dynamic = nc.entries(now).filter((r) => r.state !== 'permanent').length;
        assert.ok(dynamic <= opts.maxEntries);
        assert.equal(nc.size, nc.entries(now).length);
      }
      // without traffic every dynamic entry runs down to gc: proof that no timer was lost
      for (let k = 0; k < 100; k++) timers.advance((now += 10));
      assert.deepEqual(
        nc.entries(now).filter((r) => r.state !== 'permanent'),
        [],
      );
      const back = new Map<string, number>();
      for (const e of ev.log) if (e.kind !== 'solicit') back.set(e.packet, (back.get(e.packet) ?? 0) + 1);
      for (const p of direct) back.set(p, (back.get(p) ?? 0) + 1);
      assert.equal(back.size, sent, 'every packet came back');
      for (const [p, count] of back) assert.equal(count, 1, `${p} came back once`);
    }),
    { numRuns: 300 },
  );
});
