// TimerWheel against a brute-force reference (every pending timer in an array, the due one found by a
// linear scan), on random schedule/cancel/advance sequences whose callbacks schedule, cancel and throw;
// then the contract's corners one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TimerWheel, type TimerHandle } from '../../src/time/timer-wheel.js';

/** Script is what a timer's callback does when it fires: schedule at now + each delta, cancel timers by index, maybe throw. */
interface Script {
  schedule: number[];
  cancel: number[];
  throws: boolean;
}

interface RefTimer {
  id: number;
  at: number;
  seq: number;
  state: 'pending' | 'fired' | 'cancelled';
}

/** RefWheel is the reference: the contract written as plainly as possible. */
class RefWheel {
  readonly timers: RefTimer[] = [];
  private seq = 0;

  constructor(private readonly chainLimit: number) {}

  schedule(id: number, at: number): RefTimer {
    const t: RefTimer = { id, at, seq: this.seq++, state: 'pending' };
    this.timers.push(t);
    return t;
  }

  cancel(t: RefTimer): void {
    if (t.state === 'pending') t.state = 'cancelled';
  }

  advance(now: number, run: (t: RefTimer) => void): void {
    const firstNew = this.seq;
    const deferred = new Set<RefTimer>();
    let chained = 0;
    for (;;) {
      let due: RefTimer | undefined;
      for (const t of this.timers) {
        if (t.state !== 'pending' || t.at > now || deferred.has(t)) continue;
        if (due === undefined || t.at < due.at || (t.at === due.at && t.seq < due.seq)) due = t;
      }
      if (due === undefined) return;
      if (due.seq >= firstNew) {
        if (chained >= this.chainLimit) {
          deferred.add(due);
          continue;
        }
        chained++;
      }
      due.state = 'fired';
      run(due);
    }
  }

  get size(): number {
    return this.timers.filter((t) => t.state === 'pending').length;
  }

  nextDeadline(): number {
    return Math.min(Infinity, ...this.timers.filter((t) => t.state === 'pending').map((t) => t.at));
  }
}

type Op = { k: 'schedule'; dt: number } | { k: 'cancel'; i: number } | { k: 'advance'; dt: number };

const delta = fc.oneof(fc.integer({ min: -30, max: 120 }), fc.double({ min: -30, max: 120, noNaN: true }), fc.constantFrom(0, 10, 20));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('schedule' as const), dt: delta }),
  fc.record({ k: fc.constant('cancel' as const), i: fc.nat() }),
  fc.record({ k: fc.constant('advance' as const), dt: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.double({ min: 0, max: 60, noNaN: true })) }),
);
const scriptArb: fc.Arbitrary<Script> = fc.record({
  schedule: fc.array(fc.oneof(fc.integer({ min: -10, max: 40 }), fc.constant(0)), { maxLength: 2 }),
  cancel: fc.array(fc.nat(), { maxLength: 2 }),
  throws: fc.boolean(),
});

test('timer wheel: agrees with a brute-force reference on random schedules, cancels and advances (callbacks schedule, cancel and throw)', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), fc.array(scriptArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 12 }), (ops, scripts, chainLimit) => {
      const log: string[] = [];
      const refLog: string[] = [];
      const errors: string[] = [];
      const refErrors: string[] = [];
      const wheel = new TimerWheel({ onError: (e) => errors.push((e as Error).message), chainLimit });
      const ref = new RefWheel(chainLimit);
      const handles: TimerHandle[] = [];
      const refTimers: RefTimer[] = [];
      let now = 0;

      // The real timers' callbacks act on the real wheel as it runs; the reference acts during its own
      // advance. Each side numbers its timers in scheduling order, so equal logs mean equal behaviour.
      const scheduleReal = (at: number): void => {
        const id = handles.length;
        const script = scripts[id % scripts.length]!;
        handles.push(
          wheel.schedule(at, (t) => {
            log.push(`${id}@${t}`);
            for (const d of script.schedule) scheduleReal(t + d);
            for (const i of script.cancel) wheel.cancel(handles[i % handles.length]!);
            if (script.throws) throw new Error(`t${id}`);
          }),
        );
      };
      const runRef = (t: RefTimer): void => {
        refLog.push(`${t.id}@${now}`);
        const script = scripts[t.id % scripts.length]!;
        for (const d of script.schedule) refTimers.push(ref.schedule(refTimers.length, now + d));
        for (const i of script.cancel) ref.cancel(refTimers[i % refTimers.length]!);
        if (script.throws) refErrors.push(`t${t.id}`);
      };

      for (const op of ops) {
        if (op.k === 'schedule') {
          scheduleReal(now + op.dt);
          refTimers.push(ref.schedule(refTimers.length, now + op.dt));
        } else if (op.k === 'cancel') {
          if (handles.length > 0) {
            wheel.cancel(handles[op.i % handles.length]!);
            ref.cancel(refTimers[op.i % refTimers.length]!);
          }
        } else {
          now += op.dt;
          wheel.advance(now);
          ref.advance(now, runRef);
        }
        assert.equal(handles.length, refTimers.length, 'both sides scheduled the same timers');
        assert.deepEqual(log, refLog);
        assert.deepEqual(errors, refErrors);
        assert.equal(wheel.size, ref.size);
        assert.equal(wheel.nextDeadline(), ref.nextDeadline());
        assert.ok(wheel.storage <= 2 * wheel.size + 64, `storage ${wheel.storage} for ${wheel.size} timers`);
        handles.forEach((h, i) => assert.equal(h.pending, refTimers[i]!.state === 'pending'));
      }
    }),
    { numRuns: 500 },
  );
});

test('timer wheel: deadline order, equal deadlines in scheduling order, callbacks get the advance time', () => {
  const wheel = new TimerWheel({ onError: (e) => assert.fail(String(e)) });
  const fired: string[] = [];
  for (const [name, at] of [
    ['c', 30],
    ['a', 10],
    ['b1', 20],
    ['b2', 20],
    ['d', 30.5],
    ['b3', 20],
  ] as const) {
    wheel.schedule(at, (now) => fired.push(`${name}@${now}`));
  }
  assert.equal(wheel.size, 6);
  assert.equal(wheel.nextDeadline(), 10);
  wheel.advance(9.999);
  assert.deepEqual(fired, []);
  wheel.advance(30);
  assert.deepEqual(fired, ['a@30', 'b1@30', 'b2@30', 'b3@30', 'c@30']);
  assert.equal(wheel.nextDeadline(), 30.5);
  wheel.advance(1e9);
  assert.equal(fired.at(-1), 'd@1000000000');
  assert.equal(wheel.size, 0);
  assert.equal(wheel.nextDeadline(), Infinity);
});

test('timer wheel: a timer scheduled by a callback for a time already past runs in the same advance, by its deadline', () => {
  const wheel = new TimerWheel({ onError: (e) => assert.fail(String(e)) });
  const fired: string[] = [];
  wheel.schedule(10, (now) => {
    fired.push('a');
    wheel.schedule(5, () => fired.push('past'));
    wheel.schedule(now, () => fired.push('now'));
    wheel.schedule(now + 1, () => fired.push('later'));
  });
  wheel.schedule(15, () => fired.push('b'));
  wheel.advance(20);
  assert.deepEqual(fired, ['a', 'past', 'b', 'now']);
  assert.equal(wheel.nextDeadline(), 21);
});

test('timer wheel: cancel is safe on fired, cancelled and foreign handles', () => {
  const wheel = new TimerWheel({ onError: (e) => assert.fail(String(e)) });
  const other = new TimerWheel({ onError: (e) => assert.fail(String(e)) });
  let ran = 0;
  const fired = wheel.schedule(1, () => ran++);
  const cancelled = wheel.schedule(2, () => ran++);
  const kept = wheel.schedule(3, () => ran++);
  const foreign = other.schedule(1, () => ran++);
  wheel.advance(1);
  assert.equal(fired.pending, false);
  wheel.cancel(cancelled);
  wheel.cancel(cancelled);
  wheel.cancel(fired);
  wheel.cancel(foreign);
  wheel.cancel({ at: 3, pending: true });
  assert.equal(wheel.size, 1);
  assert.equal(foreign.pending, true, "another wheel's timer is not touched");
  assert.equal(wheel.nextDeadline(), 3);
  wheel.advance(10);
  assert.equal(ran, 2);
  assert.equal(kept.pending, false);
  assert.equal(wheel.size, 0);
});

test('timer wheel: a callback that throws is reported and the others still run; a throwing onError is contained', () => {
  const errors: unknown[] = [];
  const wheel = new TimerWheel({ onError: (e) => errors.push(e) });
  const fired: number[] = [];
  wheel.schedule(1, () => fired.push(1));
  wheel.schedule(2, () => {
    throw new Error('boom');
  });
  wheel.schedule(3, () => fired.push(3));
  wheel.advance(5);
  assert.deepEqual(fired, [1, 3]);
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, 'boom');

  const loud = new TimerWheel({
    onError: () => {
      throw new Error('the reporter fails too');
    },
  });
  loud.schedule(1, () => {
    throw new Error('first');
  });
  loud.schedule(2, () => fired.push(2));
  loud.advance(2);
  assert.deepEqual(fired, [1, 3, 2]);
  assert.equal(loud.size, 0);
});

test('timer wheel: a callback that reschedules itself for "now" forever is cut at chainLimit, and the pending timers still run', () => {
  const wheel = new TimerWheel({ onError: (e) => assert.fail(String(e)), chainLimit: 1000 });
  let spins = 0;
  const spin = (now: number): void => {
    spins++;
    wheel.schedule(now - 1, spin); // always already due
  };
  const fired: number[] = [];
  wheel.schedule(1, spin);
  wheel.schedule(50, () => fired.push(50));
  wheel.advance(100);
  assert.equal(spins, 1001, 'the original timer and chainLimit rescheduled ones');
  assert.deepEqual(fired, [50], 'a timer that was pending when advance began ran');
  assert.equal(wheel.size, 1);
  assert.ok(wheel.nextDeadline() <= 100, 'the deferred timer is reported as due');
  wheel.advance(100);
  assert.equal(spins, 2002, 'the next advance goes on where this one stopped');
  const dflt = new TimerWheel({ onError: (e) => assert.fail(String(e)) });
  let n = 0;
  const again = (now: number): void => {
    n++;
    dflt.schedule(now, again);
  };
  dflt.schedule(0, again);
  dflt.advance(0);
  assert.equal(n, 65_537, 'the default chain limit');
});

test('timer wheel: advance is not re-entrant; bad deadlines are refused', () => {
  const errors: unknown[] = [];
  const wheel = new TimerWheel({ onError: (e) => errors.push(e) });
  wheel.schedule(1, (now) => wheel.advance(now + 10));
  let later = false;
  wheel.schedule(5, () => (later = true));
  wheel.advance(1);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /not re-entrant/);
  assert.equal(later, false, 'the nested advance ran nothing');
  assert.throws(() => wheel.schedule(NaN, () => {}), RangeError);
  assert.throws(() => wheel.schedule(Infinity, () => {}), RangeError);
  assert.throws(() => wheel.advance(NaN), RangeError);
  assert.throws(() => new TimerWheel({ onError: () => {}, chainLimit: -1 }), RangeError);
  wheel.advance(Infinity);
  assert.equal(later, true);
});

test('timer wheel: cancelled timers do not pile up (storage stays within 2 * size + 64)', () => {
  const wheel = new TimerWheel({ onError: (e) => assert.fail(String(e)) });
  const keep = Array.from({ length: 100 }, (_, i) => wheel.schedule(1e6 + i, () => {}));
  for (let i = 0; i < 100_000; i++) {
    const h = wheel.schedule(1000 + (i % 977), () => assert.fail('cancelled'));
    wheel.cancel(h);
    assert.ok(wheel.storage <= 2 * wheel.size + 64);
  }
  assert.equal(wheel.size, 100);
  assert.equal(wheel.nextDeadline(), 1e6);
  for (const h of keep) wheel.cancel(h);
  assert.equal(wheel.size, 0);
  assert.ok(wheel.storage <= 64);
  assert.equal(wheel.nextDeadline(), Infinity);
  assert.equal(wheel.storage, 0, 'nextDeadline dropped the cancelled nodes from the top');
});
