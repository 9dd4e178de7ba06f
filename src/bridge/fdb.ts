// Fdb: the forwarding database of one bridge: which port each MAC address was last seen on.
//
// Policy, and the defence behind it:
// - Learned entries age out `agingMs` after the last frame from that address (default 300 s).
// - At most `max` learned entries (default 8192). When the table is full, a new address evicts the least
//   recently refreshed entry of the port that holds the most entries, as Open vSwitch does: a port that
//   floods random source MACs then evicts its own entries, never the few entries of quieter ports.
// - An address seen on another port moves there (counted as `moved`).
// - Static entries never age, never move and are never evicted; they do not count against `max`.
// Per port, entries are kept in a Map in refresh order (re-inserted at most once a REORDER_MS, so that the
// hot path stays one Map lookup), which gives eviction its "least recently refreshed" in O(1).

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

const REORDER_MS = 1000;

/** Fdb is a bridge's MAC table; see the comment at the top of this file for its policy. */
export class Fdb {
  private readonly table = new Map<number, FdbEntry>();
  private readonly byPort = new Map<number, Map<number, FdbEntry>>();
  private dynamicCount = 0;
  /** learnedOn counts the learned (not static) entries per port: eviction ranks ports by it. */
  private readonly learnedOn = new Map<number, number>();
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

  get agingMs(): number {
    return this.aging;
  }

  get max(): number {
    return this.cap;
  }

  /** setAging changes the aging time; entries already older expire at the next expire(). */
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
    const e = this.table.get(mac);
    return e === undefined ? -1 : e.port;
  }

  /** learn records that `mac` was seen as a source on `port` at `now`. */
  learn(mac: number, port: number, now: number): void {
    const e = this.table.get(mac);
    if (e !== undefined) {
      if (e.isStatic) return;
      if (e.port === port) {
        if (now - e.lastSeen >= REORDER_MS) {
          const own = this.byPort.get(port)!;
          own.delete(mac);
          own.set(mac, e);
        }
        e.lastSeen = now;
        return;
      }
      this.portMap(e.port, false)?.delete(mac);
      this.dropEmpty(e.port);
      this.countLearned(e.port, -1);
      e.port = port;
      e.lastSeen = now;
      this.portMap(port, true)!.set(mac, e);
      this.countLearned(port, 1);
      this.stats.moved++;
      return;
    }
    if (this.dynamicCount >= this.cap) this.evictOne();
    const entry: FdbEntry = { mac, port, lastSeen: now, isStatic: false };
    this.table.set(mac, entry);
    this.portMap(port, true)!.set(mac, entry);
    this.countLearned(port, 1);
    this.dynamicCount++;
    this.stats.learned++;
  }

  /** addStatic pins `mac` to `port`, replacing a learned entry for it. */
  addStatic(mac: number, port: number): void {
    this.remove(mac);
    const entry: FdbEntry = { mac, port, lastSeen: 0, isStatic: true };
    this.table.set(mac, entry);
    this.portMap(port, true)!.set(mac, entry);
  }

  /** remove deletes the entry of `mac`, static or learned; it returns whether there was one. */
  remove(mac: number): boolean {
    const e = this.table.get(mac);
    if (e === undefined) return false;
    this.table.delete(mac);
    this.portMap(e.port, false)?.delete(mac);
    this.dropEmpty(e.port);
    if (!e.isStatic) {
      this.dynamicCount--;
      this.countLearned(e.port, -1);
    }
    return true;
  }

  /** flush removes learned entries (of one port, or all); static entries stay. It returns how many. */
  flush(port?: number): number {
    let n = 0;
    for (const e of [...this.table.values()]) {
      if (e.isStatic || (port !== undefined && e.port !== port)) continue;
      this.remove(e.mac);
      n++;
    }
    return n;
  }

  /** removePort forgets every entry on `port`, static ones too (the port is gone). */
  removePort(port: number): number {
    const own = this.byPort.get(port);
    if (own === undefined) return 0;
    const n = own.size;
    for (const mac of [...own.keys()]) this.remove(mac);
    return n;
  }

  /** expire removes learned entries not refreshed within the aging time; it returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const e of this.table.values()) {
      if (!e.isStatic && now - e.lastSeen >= this.aging) {
        this.remove(e.mac);
        n++;
      }
    }
    this.stats.expired += n;
    return n;
  }

  /** entries lists the table (a copy, ordered by MAC). */
  entries(): FdbEntry[] {
    return [...this.table.values()].map((e) => ({ ...e })).sort((a, b) => a.mac - b.mac);
  }

  /** portCount returns how many entries `port` holds. */
  portCount(port: number): number {
    return this.byPort.get(port)?.size ?? 0;
  }

  private portMap(port: number, create: boolean): Map<number, FdbEntry> | undefined {
    let m = this.byPort.get(port);
    if (m === undefined && create) {
      m = new Map();
      this.byPort.set(port, m);
    }
    return m;
  }

  private countLearned(port: number, delta: number): void {
    const n = (this.learnedOn.get(port) ?? 0) + delta;
    if (n === 0) this.learnedOn.delete(port);
    else this.learnedOn.set(port, n);
  }

  private dropEmpty(port: number): void {
    if (this.byPort.get(port)?.size === 0) this.byPort.delete(port);
  }

  /** evictOne removes the least recently refreshed learned entry of the port holding the most learned entries. */
  private evictOne(): boolean {
    let heaviest = -1;
    let most = 0;
    for (const [port, n] of this.learnedOn) {
      if (n > most) {
        most = n;
        heaviest = port;
      }
    }
    if (heaviest < 0) return false;
    for (const e of this.byPort.get(heaviest)!.values()) {
      if (e.isStatic) continue;
      this.remove(e.mac);
      this.stats.evicted++;
      return true;
    }
    return false;
  }
}
