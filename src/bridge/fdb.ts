// Fdb: the forwarding database of one bridge: which port each MAC address was last seen on.
//
// Policy, and the defence behind it:
// - Learned entries age out `agingMs` after the last frame from that address (default 300 s), within
//   REORDER_MS (1 s): for an entry whose last frame came at t, expire(now) never removes it while
//   now < t + agingMs, and after any expire(now) with now >= t + agingMs + REORDER_MS it is gone. Precisely,
//   expire(now) walks the learned entries in position order (below), oldest first, removes each one with
//   lastSeen + agingMs <= now and stops at the first that has not aged. nextExpiry() is the time from which
//   expire removes something (the oldest entry's lastSeen + agingMs, the same sum), so that the data plane
//   can arm one timer instead of polling. setAging applies the new time at the next expire(), by the same rule.
// - Position order: an entry takes the newest position when it is learned, when it moves, and when a frame
//   refreshes it at least REORDER_MS after it last took one (its `orderedAt`); other frames only set lastSeen.
//   So orderedAt <= lastSeen < orderedAt + REORDER_MS, which gives the bound above, and the hot path (a frame
//   from a known address on the same port) is one Map lookup and two comparisons nearly always.
// - At most `max` learned entries (default 8192). When the table is full, a new address first evicts the
//   learned entry with the oldest position on the port that holds the most learned entries, as Open vSwitch
//   does: a port that floods random source MACs then evicts its own entries, never the few entries of
//   quieter ports. Among ports holding equally many, the victim is the port whose count became that number
//   last (it grew or shrank to it most recently): the port that keeps growing pays first.
// - An address seen on another port moves there (counted as `moved`); it leaves the old port's count before
//   it joins the new one's.
// - Static entries never age, never move and are never evicted; they do not count against `max`, nor in the
//   per-port counts that choose the eviction victim.
// The clock `now` must not go backwards (the data plane passes performance.now()); the bounds rely on it.
// Ports are int32 numbers (the data plane's port indexes).
//
// Data structures, and their cost (n learned entries in the table, k of them on the port concerned):
// - `table` maps an address to a slot number; a slot's fields live in typed arrays (port; lastSeen and
//   orderedAt side by side; links), so that a hit reads the Map and two array cells and allocates nothing,
//   and a million entries are a few typed arrays instead of a million objects for the garbage collector.
//   Freed slots go on a free list and are reused before the arrays grow (by doubling; they never shrink).
// - Every learned slot sits on two intrusive doubly linked lists in position order, oldest first: the
//   table's and its port's. Taking the newest position moves the slot to the new end of both: a few array
//   writes. expire() walks the table's list from the oldest and stops at the first entry that has not aged:
//   O(1 + expired). nextExpiry() reads the oldest: O(1).
// - Ports sit in buckets by their number of learned entries, each bucket a list with the port that became
//   that count last in front, and the highest non-empty bucket is known (an LFU structure: a count only
//   changes by one, so a port moves to a neighbouring bucket and the top moves by at most one). Eviction
//   takes the front port of the top bucket and the oldest slot on its list: O(1).
// - learn, remove and addStatic are O(1); flush(port) and removePort O(k); flush() O(n); entries() O(n log n).

/** FdbEntry is one row of the table. */
export interface FdbEntry {
  readonly mac: number;
  port: number;
  lastSeen: number;
  readonly isStatic: boolean;
}

/** FdbStats are the table's own counters. */
export interface FdbStats {
  learned: number;
  moved: number;
  expired: number;
  evicted: number;
}

/** FdbOptions configure a table; times are in milliseconds. */
export interface FdbOptions {
  agingMs?: number;
  max?: number;
}

/** FDB_DEFAULTS are the defaults of FdbOptions. */
export const FDB_DEFAULTS = { agingMs: 300_000, max: 8192 } as const;

/** AGING_SECONDS_RANGE is the accepted range of the aging time, in seconds. */
export const AGING_SECONDS_RANGE = { min: 10, max: 1_000_000 } as const;

/** REORDER_MS is the least time between two positions of an entry: see the comment at the top of this file. */
const REORDER_MS = 1000;

/** NONE ends a list of slots. */
const NONE = -1;

/** Link offsets in a slot's four cells of `links`. */
const OLDER = 0;
const NEWER = 1;
const PORT_OLDER = 2;
const PORT_NEWER = 3;

const INITIAL_SLOTS = 64;

/** PortEntries holds what the table keeps of one port: its learned slots in position order, its static addresses, its bucket links. */
class PortEntries {
  oldest = NONE;
  newest = NONE;
  learned = 0;
  readonly statics = new Set<number>();
  /** above and below are the neighbours in the bucket of ports with the same `learned` (above is nearer the front). */
  above: PortEntries | null = null;
  below: PortEntries | null = null;

  constructor(readonly index: number) {}
}

/** Fdb is a bridge's MAC table; see the comment at the top of this file for its policy. */
export class Fdb {
  /** table maps an address to its slot. */
  private readonly table = new Map<number, number>();
  private readonly ports = new Map<number, PortEntries>();
  // The slots: slot i is macs[i], portOf[i], times[2i] (lastSeen) and times[2i + 1] (orderedAt, -Infinity
  // for a static entry, so that a frame from it never takes the hot path), links[4i ..], isStatic[i].
  private macs = new Float64Array(INITIAL_SLOTS);
  private portOf = new Int32Array(INITIAL_SLOTS);
  private times = new Float64Array(2 * INITIAL_SLOTS);
  private links = new Int32Array(4 * INITIAL_SLOTS);
  private isStatic = new Uint8Array(INITIAL_SLOTS);
  /** used is the number of slots ever handed out; free heads the list of freed ones, chained through NEWER. */
  private used = 0;
  private free = NONE;
  /** oldest and newest are the ends of the position-order list of every learned slot. */
  private oldest = NONE;
  private newest = NONE;
  private dynamicCount = 0;
  /** buckets[c] is the front port of those with c learned entries (buckets[0] is unused); top is the highest non-empty c, 0 when none. */
  private readonly buckets: (PortEntries | null)[] = [null];
  private top = 0;
  private aging: number;
  private cap: number;
  readonly stats: FdbStats = { learned: 0, moved: 0, expired: 0, evicted: 0 };

  constructor(options: FdbOptions = {}) {
    this.aging = options.agingMs ?? FDB_DEFAULTS.agingMs;
    this.cap = options.max ?? FDB_DEFAULTS.max;
    if (!(this.aging > 0)) throw new RangeError('agingMs must be positive');
    if (!Number.isInteger(this.cap) || this.cap < 1) throw new RangeError('max must be a positive integer');
  }

  /** size is the number of entries, static ones included. */
  get size(): number {
    return this.table.size;
  }

  /** agingMs is the aging time of learned entries, in ms. */
  get agingMs(): number {
    return this.aging;
  }

  /** max is the cap on learned entries. */
  get max(): number {
    return this.cap;
  }

  /** setAging changes the aging time; the next expire() removes entries already older, by the rule at the top of this file. */
  setAging(ms: number): void {
    if (!(ms > 0)) throw new RangeError('agingMs must be positive');
    this.aging = ms;
  }

  /** setMax changes the cap, evicting (by the fair policy) until the table fits. */
  setMax(max: number): void {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
    this.cap = max;
    while (this.dynamicCount > this.cap && this.evictOne()) {
      // evictOne counted it
    }
  }

  /** lookup returns the port of `mac`, or -1 when it is unknown. */
  lookup(mac: number): number {
    const i = this.table.get(mac);
    return i === undefined ? -1 : this.portOf[i]!;
  }

  /** learn records that `mac` was seen as a source on `port` at `now`. */
  learn(mac: number, port: number, now: number): void {
    const i = this.table.get(mac);
    if (i === undefined) {
      this.learnNew(mac, port, now);
      return;
    }
    const t = this.times;
    if (this.portOf[i] === port && now - t[2 * i + 1]! < REORDER_MS) {
      t[2 * i] = now;
      return;
    }
    this.learnAgain(i, port, now);
  }

  /**
   * nextExpiry is the time (the clock of `now`) from which expire() removes something, Infinity when nothing
   * is learned; right after expire(now) it is later than now, so a timer armed for it never spins.
   */
  nextExpiry(): number {
    return this.oldest === NONE ? Infinity : this.times[2 * this.oldest]! + this.aging;
  }

  /** addStatic pins `mac` to `port`, replacing a learned entry for it. */
  addStatic(mac: number, port: number): void {
    this.remove(mac);
    const i = this.allocate(mac, port);
    this.isStatic[i] = 1;
    this.times[2 * i] = 0;
    this.times[2 * i + 1] = -Infinity;
    this.table.set(mac, i);
    this.portEntries(port).statics.add(mac);
  }

  /** remove deletes the entry of `mac`, static or learned; it returns whether there was one. */
  remove(mac: number): boolean {
    const i = this.table.get(mac);
    if (i === undefined) return false;
    this.drop(i);
    return true;
  }

  /** flush removes learned entries (of one port, or all); static entries stay. It returns how many. */
  flush(port?: number): number {
    let n = 0;
    if (port === undefined) {
      while (this.oldest !== NONE) {
        this.drop(this.oldest);
        n++;
      }
      return n;
    }
    const p = this.ports.get(port);
    while (p !== undefined && p.oldest !== NONE) {
      this.drop(p.oldest);
      n++;
    }
    return n;
  }

  /** removePort forgets every entry on `port`, static ones too (the port is gone). */
  removePort(port: number): number {
    const p = this.ports.get(port);
    if (p === undefined) return 0;
    let n = this.flush(port);
    for (const mac of [...p.statics]) {
      this.drop(this.table.get(mac)!);
      n++;
    }
    return n;
  }

  /**
   * expire removes learned entries not refreshed within the aging time, oldest position first, and stops at
   * the first that has not aged (the bound is at the top of this file); it returns how many.
   */
  expire(now: number): number {
    let n = 0;
    while (this.oldest !== NONE && this.times[2 * this.oldest]! + this.aging <= now) {
      this.drop(this.oldest);
      n++;
    }
    this.stats.expired += n;
    return n;
  }

  /** entries lists the table (a copy, ordered by MAC). */
  entries(): FdbEntry[] {
    const rows: FdbEntry[] = [];
    for (const [mac, i] of this.table) rows.push({ mac, port: this.portOf[i]!, lastSeen: this.times[2 * i]!, isStatic: this.isStatic[i] === 1 });
    return rows.sort((a, b) => a.mac - b.mac);
  }

  /** portCount returns how many entries `port` holds, static ones included. */
  portCount(port: number): number {
    const p = this.ports.get(port);
    return p === undefined ? 0 : p.learned + p.statics.size;
  }

  /** learnNew adds `mac`, evicting first when the table is full. */
  private learnNew(mac: number, port: number, now: number): void {
    if (this.dynamicCount >= this.cap) this.evictOne();
    const i = this.allocate(mac, port);
    this.isStatic[i] = 0;
    this.times[2 * i] = now;
    this.times[2 * i + 1] = now;
    this.table.set(mac, i);
    const p = this.portEntries(port);
    this.linkLearned(i, p);
    this.countLearned(p, 1);
    this.dynamicCount++;
    this.stats.learned++;
  }

  /** learnAgain is learn's slow path for a known address: a static one, a new position, or a move. */
  private learnAgain(i: number, port: number, now: number): void {
    if (this.isStatic[i] === 1) return;
    this.times[2 * i] = now;
    this.times[2 * i + 1] = now;
    const from = this.ports.get(this.portOf[i]!)!;
    if (from.index === port) {
      if (i !== this.newest) {
        this.unlinkLearned(i, from);
        this.linkLearned(i, from);
      }
      return;
    }
    this.unlinkLearned(i, from);
    this.countLearned(from, -1);
    this.forgetIfEmpty(from);
    this.portOf[i] = port;
    const to = this.portEntries(port);
    this.linkLearned(i, to);
    this.countLearned(to, 1);
    this.stats.moved++;
  }

  /** allocate takes a free slot (growing the arrays when there is none) and gives it `mac` and `port`. */
  private allocate(mac: number, port: number): number {
    let i = this.free;
    if (i !== NONE) {
      this.free = this.links[4 * i + NEWER]!;
    } else {
      if (this.used === this.macs.length) this.grow();
      i = this.used++;
    }
    this.macs[i] = mac;
    this.portOf[i] = port;
    return i;
  }

  /** grow doubles the slot arrays. */
  private grow(): void {
    const n = 2 * this.macs.length;
    const macs = new Float64Array(n);
    const portOf = new Int32Array(n);
    const times = new Float64Array(2 * n);
    const links = new Int32Array(4 * n);
    const isStatic = new Uint8Array(n);
    macs.set(this.macs);
    portOf.set(this.portOf);
    times.set(this.times);
    links.set(this.links);
    isStatic.set(this.isStatic);
    this.macs = macs;
    this.portOf = portOf;
    this.times = times;
    this.links = links;
    this.isStatic = isStatic;
  }

  /** portEntries returns the record of `port`, creating it; forgetIfEmpty deletes it once it holds nothing. */
  private portEntries(port: number): PortEntries {
    let p = this.ports.get(port);
    if (p === undefined) {
      p = new PortEntries(port);
      this.ports.set(port, p);
    }
    return p;
  }

  /** forgetIfEmpty deletes the record of a port that holds nothing any more. */
  private forgetIfEmpty(p: PortEntries): void {
    if (p.learned === 0 && p.statics.size === 0) this.ports.delete(p.index);
  }

  /** drop removes slot `i` from every structure and frees it (the caller counts why). */
  private drop(i: number): void {
    const mac = this.macs[i]!;
    this.table.delete(mac);
    const p = this.ports.get(this.portOf[i]!)!;
    if (this.isStatic[i] === 1) {
      p.statics.delete(mac);
    } else {
      this.unlinkLearned(i, p);
      this.countLearned(p, -1);
      this.dynamicCount--;
    }
    this.forgetIfEmpty(p);
    this.links[4 * i + NEWER] = this.free;
    this.free = i;
  }

  /** linkLearned appends learned slot `i` at the new end of the table's list and of the list of its port `p`. */
  private linkLearned(i: number, p: PortEntries): void {
    const l = this.links;
    l[4 * i + OLDER] = this.newest;
    l[4 * i + NEWER] = NONE;
    if (this.newest === NONE) this.oldest = i;
    else l[4 * this.newest + NEWER] = i;
    this.newest = i;
    l[4 * i + PORT_OLDER] = p.newest;
    l[4 * i + PORT_NEWER] = NONE;
    if (p.newest === NONE) p.oldest = i;
    else l[4 * p.newest + PORT_NEWER] = i;
    p.newest = i;
  }

  /** unlinkLearned takes learned slot `i` out of the table's list and of the list of its port `p`. */
  private unlinkLearned(i: number, p: PortEntries): void {
    const l = this.links;
    const older = l[4 * i + OLDER]!;
    const newer = l[4 * i + NEWER]!;
    if (older === NONE) this.oldest = newer;
    else l[4 * older + NEWER] = newer;
    if (newer === NONE) this.newest = older;
    else l[4 * newer + OLDER] = older;
    const portOlder = l[4 * i + PORT_OLDER]!;
    const portNewer = l[4 * i + PORT_NEWER]!;
    if (portOlder === NONE) p.oldest = portNewer;
    else l[4 * portOlder + PORT_NEWER] = portNewer;
    if (portNewer === NONE) p.newest = portOlder;
    else l[4 * portNewer + PORT_OLDER] = portOlder;
  }

  /** countLearned changes the learned count of `p` by `delta`, moving it to the front of its new bucket. */
  private countLearned(p: PortEntries, delta: 1 | -1): void {
    const from = p.learned;
    if (from > 0) {
      if (p.above === null) this.buckets[from] = p.below;
      else p.above.below = p.below;
      if (p.below !== null) p.below.above = p.above;
    }
    const to = from + delta;
    p.learned = to;
    p.above = null;
    p.below = null;
    if (to > 0) {
      if (to === this.buckets.length) this.buckets.push(null);
      const front = this.buckets[to] ?? null;
      p.below = front;
      if (front !== null) front.above = p;
      this.buckets[to] = p;
    }
    if (to > this.top) this.top = to;
    else if (from === this.top && this.buckets[from] === null) this.top = to;
  }

  /** evictOne removes the learned entry with the oldest position on the port chosen by the fair policy; false when nothing is learned. */
  private evictOne(): boolean {
    const p = this.buckets[this.top] ?? null;
    if (p === null) return false;
    this.drop(p.oldest);
    this.stats.evicted++;
    return true;
  }
}
