// Model-based test of Fdb with time: random operation sequences run on the Fdb and on Model, a plain
// reference written from the policy in the header comment of src/bridge/fdb.ts and nothing else (it imports
// nothing from the code under test but the class it checks; every constant is written out here). After every
// operation the two must agree on the result of the operation, lookup of every address ever used, size,
// portCount of every port, the counters, nextExpiry and the listed entries.
//
// The policy, as the model implements it (by brute force: arrays and scans, no clever structure):
// - A learned entry has a port, lastSeen, and a position: a (time, sequence number) taken when it is learned,
//   when it moves to another port, and when a frame on the same port comes 1000 ms or more after the time of
//   its position. Other frames only set lastSeen.
// - expire(now) goes through the learned entries by position, oldest first, removes each with
//   lastSeen + aging <= now, and stops at the first that has not aged. nextExpiry() is lastSeen + aging of the
//   entry with the oldest position, Infinity when nothing is learned.
// - A new address when `max` entries are learned first evicts, on the port with the most learned entries,
//   the learned entry with the oldest position; among ports with equally many, the port whose count changed
//   last. A move changes the old port's count, then the new one's.
// - Static entries never age, never move, are never evicted and count neither against max nor for eviction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Fdb } from '../../src/bridge/fdb.js';

const PORTS = 12;
const POOL = 300;
const macAt = (k: number): number => 0x02_00_00_00_00_00 + k * 0x01_00_00_01;

interface ModelEntry {
  port: number;
  lastSeen: number;
  isStatic: boolean;
  /** posTime and posSeq are the entry's position (learned entries only). */
  posTime: number;
  posSeq: number;
}

interface Counters {
  learned: number;
  moved: number;
  expired: number;
  evicted: number;
}

/** Model is the reference: the policy of the Fdb written as plainly as possible. */
class Model {
  readonly entries = new Map<number, ModelEntry>();
  /** changed[port] is when (a sequence number) the port's count of learned entries last changed. */
  readonly changed = new Map<number, number>();
  readonly stats: Counters = { learned: 0, moved: 0, expired: 0, evicted: 0 };
  private seq = 0;
  /** tiedEvictions counts evictions where two ports or more held the most learned entries. */
  tiedEvictions = 0;
  /** repositions counts frames that gave a known entry a new position on its own port. */
  repositions = 0;

  constructor(
    public aging: number,
    public max: number,
  ) {}

  learnedCount(): number {
    return [...this.entries.values()].filter((e) => !e.isStatic).length;
  }

  /** byPosition lists the learned addresses, oldest position first. */
  byPosition(): number[] {
    return [...this.entries]
      .filter(([, e]) => !e.isStatic)
      .sort(([, a], [, b]) => a.posSeq - b.posSeq)
      .map(([mac]) => mac);
  }

  private countChanged(port: number): void {
    this.changed.set(port, ++this.seq);
  }

  private place(e: ModelEntry, now: number): void {
    e.posTime = now;
    e.posSeq = ++this.seq;
  }

  lookup(mac: number): number {
    return this.entries.get(mac)?.port ?? -1;
  }

  portCount(port: number): number {
    return [...this.entries.values()].filter((e) => e.port === port).length;
  }

  learn(mac: number, port: number, now: number): void {
    const e = this.entries.get(mac);
    if (e !== undefined) {
      if (e.isStatic) return;
      if (e.port === port) {
        if (now - e.posTime >= 1000) {
          this.place(e, now);
          this.repositions++;
        }
        e.lastSeen = now;
        return;
      }
      this.countChanged(e.port);
      e.port = port;
      e.lastSeen = now;
      this.place(e, now);
      this.countChanged(port);
      this.stats.moved++;
      return;
    }
    if (this.learnedCount() >= this.max) this.evict();
    const fresh: ModelEntry = { port, lastSeen: now, isStatic: false, posTime: 0, posSeq: 0 };
    this.place(fresh, now);
    this.entries.set(mac, fresh);
    this.countChanged(port);
    this.stats.learned++;
  }

  private evict(): void {
    const counts = new Map<number, number>();
    for (const e of this.entries.values()) if (!e.isStatic) counts.set(e.port, (counts.get(e.port) ?? 0) + 1);
    if (counts.size === 0) return;
    const most = Math.max(...counts.values());
    const heaviest = [...counts].filter(([, n]) => n === most).map(([p]) => p);
    if (heaviest.length > 1) this.tiedEvictions++;
    const victimPort = heaviest.reduce((a, b) => (this.changed.get(b)! > this.changed.get(a)! ? b : a));
    const victim = this.byPosition().find((mac) => this.entries.get(mac)!.port === victimPort)!;
    this.removeLearned(victim);
    this.stats.evicted++;
  }

  private removeLearned(mac: number): void {
    const e = this.entries.get(mac)!;
    this.entries.delete(mac);
    if (!e.isStatic) this.countChanged(e.port);
  }

  addStatic(mac: number, port: number): void {
    this.remove(mac);
    this.entries.set(mac, { port, lastSeen: 0, isStatic: true, posTime: 0, posSeq: 0 });
  }

  remove(mac: number): boolean {
    if (!this.entries.has(mac)) return false;
    this.removeLearned(mac);
    return true;
  }

  flush(port?: number): number {
    const gone = this.byPosition().filter((mac) => port === undefined || this.entries.get(mac)!.port === port);
    for (const mac of gone) this.removeLearned(mac);
    return gone.length;
  }

  removePort(port: number): number {
    const gone = [...this.entries].filter(([, e]) => e.port === port).map(([mac]) => mac);
    for (const mac of gone) this.removeLearned(mac);
    return gone.length;
  }

  expire(now: number): number {
    let n = 0;
    for (const mac of this.byPosition()) {
      if (this.entries.get(mac)!.lastSeen + this.aging > now) break;
      this.removeLearned(mac);
      n++;
    }
    this.stats.expired += n;
    return n;
  }

  nextExpiry(): number {
    const oldest = this.byPosition()[0];
    return oldest === undefined ? Infinity : this.entries.get(oldest)!.lastSeen + this.aging;
  }

  setAging(ms: number): void {
    this.aging = ms;
  }

  setMax(max: number): void {
    this.max = max;
    while (this.learnedCount() > this.max) this.evict();
  }

  rows(): { mac: number; port: number; lastSeen: number; isStatic: boolean }[] {
    return [...this.entries].map(([mac, e]) => ({ mac, port: e.port, lastSeen: e.lastSeen, isStatic: e.isStatic })).sort((a, b) => a.mac - b.mac);
  }
}

type Op =
  | { op: 'learn'; mac: number; port: number | undefined; dt: number }
  | { op: 'flood'; first: number; count: number; port: number; dt: number }
  | { op: 'expire'; dt: number }
  | { op: 'ticks'; count: number; step: number }
  | { op: 'addStatic'; mac: number; port: number }
  | { op: 'remove'; mac: number }
  | { op: 'flush'; port: number | undefined }
  | { op: 'removePort'; port: number }
  | { op: 'setAging'; ms: number }
  | { op: 'setMax'; max: number };

/** dt is how far the clock moves before an operation: often not at all or less than 1000 ms, sometimes exactly 1000 ms, sometimes past the aging time. */
const dt = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 999 }), weight: 4 },
  { arbitrary: fc.constant(1000), weight: 1 },
  { arbitrary: fc.integer({ min: 1000, max: 3000 }), weight: 2 },
  { arbitrary: fc.integer({ min: 3000, max: 40_000 }), weight: 1 },
);
/** aging is an aging time, often short, so that entries age within a run and a frame within 1000 ms of a position is common. */
const aging = fc.oneof({ arbitrary: fc.integer({ min: 500, max: 3000 }), weight: 3 }, { arbitrary: fc.integer({ min: 3000, max: 20_000 }), weight: 1 });
/** mac is an index into the pool of addresses, often among the first 20 so that they are seen again and move. */
const mac = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 19 }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: POOL - 1 }), weight: 1 });
const port = fc.integer({ min: 1, max: PORTS });
/** homePort is where address k usually sends from: a learn without a port uses it, so that most frames hit. */
const homePort = (k: number): number => 1 + (k % PORTS);

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('learn' as const), mac, port: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: port, weight: 1 }), dt }), weight: 12 },
  { arbitrary: fc.record({ op: fc.constant('flood' as const), first: fc.integer({ min: 0, max: POOL - 1 }), count: fc.integer({ min: 1, max: 30 }), port, dt }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('expire' as const), dt }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('ticks' as const), count: fc.integer({ min: 2, max: 20 }), step: fc.integer({ min: 1, max: 400 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('addStatic' as const), mac, port }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('remove' as const), mac }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('flush' as const), port: fc.option(port, { nil: undefined, freq: 4 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('removePort' as const), port }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('setAging' as const), ms: fc.oneof(fc.integer({ min: 1, max: 999 }), aging) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('setMax' as const), max: fc.integer({ min: 1, max: 40 }) }), weight: 1 },
);

/** Coverage counts, across every run, what the runs exercised: the test fails if one of them never happened. */
const coverage = { evicted: 0, expired: 0, tiedEvictions: 0, moved: 0, lateExpiries: 0, repositions: 0 };

function check(fdb: Fdb, model: Model, used: Set<number>): void {
  for (const m of used) assert.equal(fdb.lookup(m), model.lookup(m), `lookup ${m.toString(16)}`);
  assert.equal(fdb.size, model.entries.size, 'size');
  for (let p = 0; p <= PORTS; p++) assert.equal(fdb.portCount(p), model.portCount(p), `portCount ${p}`);
  assert.deepEqual({ ...fdb.stats }, model.stats, 'stats');
  assert.equal(fdb.nextExpiry(), model.nextExpiry(), 'nextExpiry');
  assert.deepEqual(fdb.entries(), model.rows(), 'entries');
}

/** expire runs expire(now) on both, and checks the bounds of the header comment on the table itself, not only against the model. */
function expire(fdb: Fdb, model: Model, now: number): void {
  const before = fdb.entries();
  assert.equal(fdb.expire(now), model.expire(now), 'expire');
  const after = new Set(fdb.entries().map((e) => e.mac));
  for (const e of before) {
    if (e.isStatic) continue;
    if (!after.has(e.mac)) {
      assert.ok(e.lastSeen + fdb.agingMs <= now, 'an entry expired early');
    } else {
      assert.ok(now - e.lastSeen < fdb.agingMs + 1000, 'an entry outlived aging + 1000 ms');
      if (e.lastSeen + fdb.agingMs <= now) coverage.lateExpiries++;
    }
  }
  assert.ok(fdb.nextExpiry() > now, 'nextExpiry after expire(now) is later than now');
}

function run(start: number, aging: number, max: number, ops: Op[]): void {
  const fdb = new Fdb({ agingMs: aging, max });
  const model = new Model(aging, max);
  const used = new Set<number>();
  let now = start;
  for (const o of ops) {
    switch (o.op) {
      case 'learn': {
        now += o.dt;
        const m = macAt(o.mac);
        const p = o.port ?? homePort(o.mac);
        used.add(m);
        fdb.learn(m, p, now);
        model.learn(m, p, now);
        break;
      }
      case 'flood': {
        now += o.dt;
        for (let k = 0; k < o.count; k++) {
          const m = macAt((o.first + k) % POOL);
          used.add(m);
          fdb.learn(m, o.port, now);
          model.learn(m, o.port, now);
        }
        break;
      }
      case 'expire':
        now += o.dt;
        expire(fdb, model, now);
        break;
      case 'ticks':
        // the data plane's timer: expire again and again as the clock moves in small steps
        for (let k = 0; k < o.count; k++) {
          now += o.step;
          expire(fdb, model, now);
          if (k < o.count - 1) check(fdb, model, used);
        }
        break;
      case 'addStatic': {
        const m = macAt(o.mac);
        used.add(m);
        fdb.addStatic(m, o.port);
        model.addStatic(m, o.port);
        break;
      }
      case 'remove': {
        const m = macAt(o.mac);
        used.add(m);
        assert.equal(fdb.remove(m), model.remove(m), 'remove');
        break;
      }
      case 'flush':
        assert.equal(fdb.flush(o.port), model.flush(o.port), 'flush');
        break;
      case 'removePort':
        assert.equal(fdb.removePort(o.port), model.removePort(o.port), 'removePort');
        break;
      case 'setAging':
        fdb.setAging(o.ms);
        model.setAging(o.ms);
        break;
      case 'setMax':
        fdb.setMax(o.max);
        model.setMax(o.max);
        break;
    }
    check(fdb, model, used);
  }
  coverage.evicted += model.stats.evicted;
  coverage.expired += model.stats.expired;
  coverage.moved += model.stats.moved;
  coverage.tiedEvictions += model.tiedEvictions;
  coverage.repositions += model.repositions;
}

test('fdb model: random operations with time agree with the reference, and keep the stated aging bounds', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), aging, fc.integer({ min: 1, max: 40 }), fc.array(op, { minLength: 1, maxLength: 200, size: 'max' }), (start, aging, max, ops) =>
      run(start, aging, max, ops),
    ),
    { numRuns: 400 },
  );
  // A scripted run through the same checks, for the case random runs reach only now and then: an entry that
  // has aged stays behind an older-positioned one that a frame refreshed without a new position, until that
  // one ages too (late, but within aging + 1000 ms).
  const late = coverage.lateExpiries;
  run(0, 10_000, 10, [
    { op: 'learn', mac: 0, port: undefined, dt: 0 },
    { op: 'learn', mac: 1, port: undefined, dt: 200 },
    { op: 'learn', mac: 0, port: undefined, dt: 500 }, // 700 ms after its position: lastSeen only
    { op: 'expire', dt: 9600 }, // 10,300: address 1 has aged, address 0 (older position) has not
    { op: 'ticks', count: 5, step: 100 },
  ]);
  assert.ok(coverage.lateExpiries > late, 'the scripted run has a late expiry');
  // The runs must have reached the parts of the policy that matter, or agreeing proves little.
  for (const [what, n] of Object.entries(coverage)) assert.ok(n > 0, `no run exercised ${what}`);
});
