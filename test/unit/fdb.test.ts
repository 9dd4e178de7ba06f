import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fdb } from '../../src/bridge/fdb.js';

const A = 0x02_00_00_00_00_0a;
const B = 0x02_00_00_00_00_0b;
const C = 0x02_00_00_00_00_0c;

test('fdb: learns, refreshes and ages out with a manual clock', () => {
  const fdb = new Fdb({ agingMs: 10_000 });
  fdb.learn(A, 1, 0);
  fdb.learn(B, 2, 0);
  assert.equal(fdb.lookup(A), 1);
  assert.equal(fdb.lookup(C), -1);
  fdb.learn(A, 1, 6_000); // refreshed
  assert.equal(fdb.expire(9_999), 0);
  assert.equal(fdb.expire(10_000), 1, 'B was last seen at 0');
  assert.equal(fdb.lookup(B), -1);
  assert.equal(fdb.lookup(A), 1);
  assert.equal(fdb.expire(16_000), 1);
  assert.equal(fdb.size, 0);
  assert.deepEqual(fdb.stats, { learned: 2, moved: 0, expired: 2, evicted: 0 });
});

test('fdb: a MAC seen on another port moves', () => {
  const fdb = new Fdb();
  fdb.learn(A, 1, 0);
  fdb.learn(A, 3, 5);
  assert.equal(fdb.lookup(A), 3);
  assert.equal(fdb.portCount(1), 0);
  assert.equal(fdb.portCount(3), 1);
  assert.equal(fdb.stats.moved, 1);
  assert.equal(fdb.stats.learned, 1);
});

test('fdb: at the cap, evicts from the port holding the most MACs, oldest first', () => {
  const fdb = new Fdb({ max: 6 });
  fdb.learn(A, 1, 0);
  fdb.learn(B, 2, 0);
  // port 3 floods random source MACs
  for (let i = 0; i < 100; i++) fdb.learn(0x02_00_00_01_00_00 + i, 3, 10 + i);
  assert.equal(fdb.size, 6);
  assert.equal(fdb.lookup(A), 1, 'the quiet port keeps its MAC');
  assert.equal(fdb.lookup(B), 2, 'the quiet port keeps its MAC');
  assert.equal(fdb.portCount(3), 4);
  for (let i = 96; i < 100; i++) assert.equal(fdb.lookup(0x02_00_00_01_00_00 + i), 3, 'the newest flood MACs stay');
  assert.equal(fdb.stats.evicted, 96);
});

test('fdb: eviction prefers the least recently refreshed entry of the heaviest port', () => {
  const fdb = new Fdb({ max: 3 });
  fdb.learn(A, 1, 0);
  fdb.learn(B, 1, 0);
  fdb.learn(A, 1, 5_000); // A refreshed after B: B is now the oldest of port 1
  fdb.learn(C, 2, 5_000);
  fdb.learn(0x02_00_00_00_00_0d, 2, 6_000); // full: port 1 holds 2, port 2 holds 1 -> evict B
  assert.equal(fdb.lookup(B), -1);
  assert.equal(fdb.lookup(A), 1);
  assert.equal(fdb.stats.evicted, 1);
});

test('fdb: static entries never age, move or get evicted, and survive a flush', () => {
  const fdb = new Fdb({ agingMs: 10_000, max: 2 });
  fdb.addStatic(A, 1);
  fdb.learn(A, 2, 0); // a frame from A on another port does not move a static entry
  assert.equal(fdb.lookup(A), 1);
  fdb.learn(B, 2, 0);
  fdb.learn(C, 2, 0);
  fdb.learn(0x02_00_00_00_00_0d, 2, 0);
  assert.equal(fdb.lookup(A), 1, 'not evicted, and not counted against the cap');
  assert.equal(fdb.size, 3);
  assert.equal(fdb.expire(1_000_000), 2);
  assert.equal(fdb.lookup(A), 1);
  fdb.learn(B, 2, 1_000_000);
  assert.equal(fdb.flush(), 1);
  assert.equal(fdb.lookup(A), 1);
  assert.equal(fdb.remove(A), true);
  assert.equal(fdb.remove(A), false);
  assert.equal(fdb.size, 0);
});

test('fdb: flush of one port, removePort, setMax and setAging', () => {
  const fdb = new Fdb({ agingMs: 300_000, max: 10 });
  fdb.learn(A, 1, 0);
  fdb.learn(B, 2, 0);
  fdb.learn(C, 2, 0);
  fdb.addStatic(0x02_00_00_00_00_0d, 2);
  assert.equal(fdb.flush(1), 1);
  assert.equal(fdb.lookup(B), 2);
  assert.equal(fdb.removePort(2), 3, 'static entries of a removed port go too');
  assert.equal(fdb.size, 0);
  for (let i = 0; i < 10; i++) fdb.learn(0x02_00_00_02_00_00 + i, i % 2, i);
  fdb.setMax(4);
  assert.equal(fdb.size, 4);
  assert.equal(fdb.stats.evicted, 6);
  fdb.setAging(1000);
  assert.equal(fdb.expire(2000), 4);
  assert.throws(() => fdb.setMax(0), RangeError);
  assert.throws(() => fdb.setAging(0), RangeError);
  assert.throws(() => new Fdb({ max: 1.5 }), RangeError);
});

test('fdb: entries lists rows ordered by MAC', () => {
  const fdb = new Fdb();
  fdb.learn(C, 1, 0);
  fdb.addStatic(A, 2);
  const rows = fdb.entries();
  assert.deepEqual(
    rows.map((r) => [r.mac, r.port, r.isStatic]),
    [
      [A, 2, true],
      [C, 1, false],
    ],
  );
});

test('fdb: static entries do not make their port the eviction victim', () => {
  const fdb = new Fdb({ max: 4 });
  for (let i = 0; i < 10; i++) fdb.addStatic(0x02_00_00_03_00_00 + i, 1); // port 1: many pins, one learned MAC
  fdb.learn(A, 1, 0);
  for (let i = 0; i < 10; i++) fdb.learn(0x02_00_00_04_00_00 + i, 2, 1 + i); // port 2 floods
  assert.equal(fdb.lookup(A), 1, 'the learned MAC of the port with pins survives the flood');
  assert.equal(fdb.portCount(2), 3);
});

test('fdb: nextExpiry is when expire first removes something, and follows setAging', () => {
  const fdb = new Fdb({ agingMs: 10_000 });
  assert.equal(fdb.nextExpiry(), Infinity);
  fdb.addStatic(C, 1);
  assert.equal(fdb.nextExpiry(), Infinity, 'static entries never expire');
  fdb.learn(A, 1, 100);
  fdb.learn(B, 2, 300);
  assert.equal(fdb.nextExpiry(), 10_100);
  assert.equal(fdb.expire(10_099), 0);
  assert.equal(fdb.expire(10_100), 1);
  assert.equal(fdb.nextExpiry(), 10_300);
  fdb.setAging(5_000);
  assert.equal(fdb.nextExpiry(), 5_300, 'the new aging time applies to entries already learned');
  assert.equal(fdb.expire(10_101), 1);
  assert.equal(fdb.nextExpiry(), Infinity);
  assert.equal(fdb.lookup(C), 1);
});

test('fdb: expire stops at the first entry that has not aged, so an entry may go up to REORDER_MS late', () => {
  const fdb = new Fdb({ agingMs: 10_000 });
  fdb.learn(A, 1, 0); // position at 0
  fdb.learn(B, 1, 200); // position at 200, after A
  fdb.learn(A, 1, 700); // less than 1000 ms after A's position: lastSeen only, A keeps the older position
  assert.equal(fdb.nextExpiry(), 10_700, 'A has the oldest position');
  assert.equal(fdb.expire(10_300), 0, 'B has aged but waits behind A');
  assert.equal(fdb.lookup(B), 1);
  assert.equal(fdb.expire(10_700), 2, 'both go once A has aged: B 500 ms late, within the bound');
  assert.equal(fdb.stats.expired, 2);
});

test('fdb: a frame 1000 ms or more after the position gives a new one, an earlier frame does not', () => {
  // The position decides the eviction order on a port: watch which entry a new address evicts.
  const early = new Fdb({ max: 2 });
  early.learn(A, 1, 0);
  early.learn(B, 1, 10);
  early.learn(A, 1, 999); // 999 ms: lastSeen only
  early.learn(C, 1, 2_000);
  assert.equal(early.lookup(A), -1, 'A kept the oldest position and was evicted');
  assert.equal(early.lookup(B), 1);

  const late = new Fdb({ max: 2 });
  late.learn(A, 1, 0);
  late.learn(B, 1, 10);
  late.learn(A, 1, 1_000); // 1000 ms: a new position, after B's
  late.learn(C, 1, 2_000);
  assert.equal(late.lookup(B), -1, 'B now has the oldest position');
  assert.equal(late.lookup(A), 1);
  assert.deepEqual(late.stats, { learned: 3, moved: 0, expired: 0, evicted: 1 });
});

test('fdb: among ports holding equally many, the one whose count changed last is the victim', () => {
  const mac = (i: number): number => 0x02_00_00_00_01_00 + i;
  const fdb = new Fdb({ max: 4 });
  fdb.learn(A, 1, 0);
  fdb.learn(B, 1, 1);
  fdb.learn(C, 2, 2);
  fdb.learn(mac(0), 2, 3); // ports 1 and 2 both hold 2; port 2 reached it last
  fdb.learn(mac(1), 3, 4);
  assert.equal(fdb.lookup(C), -1, 'the oldest entry of port 2 goes, not one of port 1 (the lower index)');
  fdb.remove(mac(0)); // port 2 is empty; ports 1 and 3 hold 2 and 1
  // A port that keeps growing pays first: port 3 floods while port 1 holds as many as it.
  fdb.learn(mac(2), 3, 5); // port 3 reaches 2, last
  fdb.learn(mac(3), 3, 6); // full: ports 1 and 3 tie at 2 -> port 3 loses its oldest, then grows back to 2
  fdb.learn(mac(4), 3, 7); // the same again
  assert.equal(fdb.lookup(mac(1)), -1);
  assert.equal(fdb.lookup(mac(2)), -1);
  assert.deepEqual([fdb.lookup(A), fdb.lookup(B), fdb.lookup(mac(3)), fdb.lookup(mac(4))], [1, 1, 3, 3]);
  assert.equal(fdb.stats.evicted, 3);
});

test('fdb: frames from a static address change nothing; a learned one that moves is counted', () => {
  const fdb = new Fdb({ agingMs: 10_000 });
  fdb.addStatic(A, 1);
  fdb.learn(A, 1, 5_000);
  fdb.learn(A, 2, 6_000);
  assert.deepEqual(fdb.entries(), [{ mac: A, port: 1, lastSeen: 0, isStatic: true }]);
  fdb.learn(B, 1, 0);
  fdb.learn(B, 2, 500);
  assert.deepEqual(fdb.entries()[1], { mac: B, port: 2, lastSeen: 500, isStatic: false });
  assert.deepEqual([fdb.portCount(1), fdb.portCount(2)], [1, 1]);
  assert.deepEqual(fdb.stats, { learned: 1, moved: 1, expired: 0, evicted: 0 });
});

test('fdb: thousands of entries learned, flushed and learned again reuse their slots', () => {
  const fdb = new Fdb({ agingMs: 100_000, max: 5_000 });
  const mac = (i: number): number => 0x02_00_00_10_00_00 + i;
  for (let i = 0; i < 3_000; i++) fdb.learn(mac(i), i % 3, i);
  assert.equal(fdb.flush(1), 1_000);
  for (let i = 3_000; i < 5_000; i++) fdb.learn(mac(i), 1, i);
  assert.equal(fdb.size, 4_000);
  for (let i = 0; i < 5_000; i++) assert.equal(fdb.lookup(mac(i)), i < 3_000 && i % 3 === 1 ? -1 : i < 3_000 ? i % 3 : 1);
  assert.equal(fdb.nextExpiry(), 100_000, 'mac(0), learned at 0, has the oldest position');
  assert.equal(fdb.expire(100_000 + 2_999), 2_000, 'every entry learned before 3,000 ms has aged');
  assert.equal(fdb.size, 2_000);
  assert.deepEqual([fdb.portCount(0), fdb.portCount(1), fdb.portCount(2)], [0, 2_000, 0]);
  assert.equal(fdb.removePort(1), 2_000);
  assert.equal(fdb.size, 0);
  assert.equal(fdb.nextExpiry(), Infinity);
});
