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
