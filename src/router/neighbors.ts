// NeighborCache: the router's ARP (IPv4) and NDP (IPv6) neighbor table: which MAC each next hop is at, per
// router interface. Pure logic: the router hands in what ARP/NS/NA packets said with the time, and gets its
// solicitations and its queued packets back through callbacks; its timers hang off the data plane's one
// TimerWheel, which the router's creator advances.
//
// Policy, and the defence behind it:
// - States and timers are those of RFC 4861 7.3.2 (used for ARP too, as Linux does): INCOMPLETE sends
//   `maxProbes` broadcast/multicast solicitations `retransMs` apart, then FAILED; REACHABLE lasts `reachableMs`
//   after the last confirmation, then STALE; a STALE entry is still used, and using it starts DELAY; after
//   `delayMs` without confirmation, PROBE sends `maxProbes` unicast solicitations to the cached MAC, then FAILED.
//   reachableMs is not randomised (RFC 4861 6.3.2 asks for 0.5..1.5 x): the router's tests want a fixed clock.
// - What a packet says is merged by the rules of the standards (see `learn4`; the NA cases are the predicates
//   `ignoresOverrideClear` and `stateAfterLearn` of neighbor-entry.ts): RFC 826 (an ARP from a known sender updates its entry; only
//   an ARP addressed to us creates one) and RFC 4861 7.2.5/7.2.6. Permanent entries never change by a packet.
// - Packets to an unresolved next hop wait on the entry, at most `queueMax` of them (the oldest is dropped, as
//   Linux does with unres_qlen); when the entry fails each goes back once to `events.unreachable`. A FAILED
//   entry answers "unreachable" at once for `failedHoldMs`, so traffic to a dead host costs no new
//   solicitations and no queue (Linux keeps FAILED entries for the same reason).
// - At most `maxEntries` dynamic entries (permanent ones do not count, as in the bridge's Fdb). This is the
//   defence against a scan of a big on-link subnet (or a flood of NS with forged sources) filling the table,
//   the job of Linux's gc_thresh: a new entry evicts first a FAILED entry, then the entry that has been STALE
//   the longest (using a STALE entry moves it to DELAY, so that is least-recently-used in O(1), not an exact
//   LRU). REACHABLE, DELAY, PROBE and INCOMPLETE entries are never evicted: when nothing else is left, the new
//   resolution is refused (`refused`), and its packet is dropped (the `drop` event, reason 'refused'), not
//   reported unreachable: the host may well exist, the table is just busy.
// - STALE and FAILED entries not used for `gcMs` are removed (`expired`).
//
// Costs: a hit is one Map lookup (IPv4 key `iface * 2**32 + addr`; IPv6 key `iface * 2**32 + hash6(address)`,
// a seeded 32-bit hash of the four words with collision chaining, so no string is built) and creates no object.
// Each entry has at most one timer on the wheel (`Entry.timer`), due no later than its next step: a deadline
// that moves later (a REACHABLE entry confirmed again) costs nothing until that timer fires, which then
// re-arms it for the real deadline; a deadline that moves earlier cancels the timer (O(1)) and schedules
// another. When a timer fires the entry makes the step that is due at that `now` (and, through timers it
// schedules for times already past, any step after it). flushInterface() scans the whole table.
//
// Events are called after the table is consistent again, so they may call back into the cache (an unreachable
// packet makes the router resolve the sender's address). They must not throw: a packet batch being handed back
// would be cut short.
import { formatIpv4 } from '../wire/ipv4.js';
import { formatIpv6 } from '../wire/ipv6.js';
import type { TimerWheel } from '../time/timer-wheel.js';
import { Entry, EntryList, compareEntries, hash6, ignoresOverrideClear, isValidState, stateAfterLearn, type LearnHow, type NeighborState } from './neighbor-entry.js';

export { hash6, isValidState, type LearnHow, type NeighborState };

/** NeighborOptions configure a cache; times are in milliseconds. */
export interface NeighborOptions {
  /** reachableMs is how long a confirmation keeps an entry REACHABLE (RFC 4861 REACHABLE_TIME). */
  reachableMs?: number;
  /** delayMs is how long a used STALE entry waits for a confirmation before probing (DELAY_FIRST_PROBE_TIME). */
  delayMs?: number;
  /** retransMs is the time between solicitations (RETRANS_TIMER). */
  retransMs?: number;
  /** maxProbes is the number of broadcast/multicast solicitations of INCOMPLETE, and of unicast ones of PROBE. */
  maxProbes?: number;
  /** queueMax is the number of packets held per unresolved entry; the oldest is dropped beyond it. */
  queueMax?: number;
  /** maxEntries caps the dynamic entries; see the policy at the top of the file. */
  maxEntries?: number;
  /** gcMs: a STALE or FAILED entry not used for this long is removed. */
  gcMs?: number;
  /** failedHoldMs is how long a FAILED entry answers "unreachable" at once before a new resolution. */
  failedHoldMs?: number;
  /** hashSeed seeds the IPv6 key hash (default random, against chosen collisions); tests fix it. */
  hashSeed?: number;
}

/** NEIGHBOR_DEFAULTS are the defaults of NeighborOptions (RFC 4861 10 and Linux). */
export const NEIGHBOR_DEFAULTS = {
  reachableMs: 30_000,
  delayMs: 5_000,
  retransMs: 1_000,
  maxProbes: 3,
  queueMax: 16,
  maxEntries: 8192,
  gcMs: 60_000,
  failedHoldMs: 3_000,
} as const;

/** NeighborDropReason says why a packet handed to the cache was dropped rather than released or reported. */
export type NeighborDropReason = 'queue-full' | 'refused' | 'flushed';

/** NeighborEvents are the router's callbacks; P is the router's queued packet type. */
export interface NeighborEvents<P> {
  /** solicit asks the router to send an ARP request (family 4) or a Neighbor Solicitation (family 6) for `addr` out of `iface`; `unicastMac` is the known MAC for a unicast probe (PROBE state) or -1 for broadcast/solicited-node multicast. `addr` is the cache's own copy for family 6: do not modify it. */
  solicit(iface: number, family: 4 | 6, addr: number | Uint8Array, unicastMac: number): void;
  /** release hands back a queued packet now that its next hop resolved to `mac`. */
  release(iface: number, mac: number, packet: P): void;
  /** unreachable hands back a queued packet whose next hop failed to resolve (the router sends host/address unreachable); `now` is the time of the resolve or timer that found it so. */
  unreachable(iface: number, packet: P, now: number): void;
  /** drop, if given, hands back a packet the cache dropped (to recycle its buffer); it is counted either way. */
  drop?(iface: number, packet: P, reason: NeighborDropReason): void;
  /** sizeChanged, if given, is told the number of entries whenever an entry is added or removed (for a gauge); it must only read. */
  sizeChanged?(size: number): void;
}

/** NeighborRow is one row of the table, as the API shows it. */
export interface NeighborRow {
  iface: number;
  family: 4 | 6;
  /** address is dotted-quad or RFC 5952 text. */
  address: string;
  /** mac is -1 when unknown (INCOMPLETE, FAILED). */
  mac: number;
  state: NeighborState;
  /** ageMs is the time since the entry was last confirmed or changed (0 for permanent entries). */
  ageMs: number;
}

/** NeighborStats are the cache's own counters. */
export interface NeighborStats {
  /** solicitsSent counts solicit events (broadcast and unicast). */
  solicitsSent: number;
  /** resolved counts INCOMPLETE entries that learned their MAC. */
  resolved: number;
  /** failed counts entries that went to FAILED. */
  failed: number;
  /** queued counts packets put on a queue. */
  queued: number;
  /** queueDrops counts packets dropped from a full queue (the oldest, or the new one when queueMax is 0). */
  queueDrops: number;
  /** unreachable counts packets handed to events.unreachable. */
  unreachable: number;
  /** expired counts entries removed by garbage collection. */
  expired: number;
  /** evicted counts entries removed to make room at the cap. */
  evicted: number;
  /** refused counts new entries not created because the table was full of entries it may not evict. */
  refused: number;
  /** flushDrops counts queued packets dropped because their entry was removed or its interface flushed. */
  flushDrops: number;
}

const TWO32 = 4294967296;
const MAX_IFACE = 1 << 20;
const MAX_MAC = 2 ** 48;

/** NeighborCache is a router's ARP/NDP table; see the comment at the top of this file for its policy. */
export class NeighborCache<P> {
  private readonly v4 = new Map<number, Entry<P>>();
  /** v6 maps a key to the head of its collision chain. */
  private readonly v6 = new Map<number, Entry<P>>();
  private count = 0;
  private dynamicCount = 0;
  private readonly staleList = new EntryList<P>();
  private readonly failedList = new EntryList<P>();
  private readonly reachableMs: number;
  private readonly delayMs: number;
  private readonly retransMs: number;
  private readonly maxProbes: number;
  private readonly queueMax: number;
  private readonly maxEntries: number;
  private readonly gcMs: number;
  private readonly failedHoldMs: number;
  private readonly seed: number;
  /** stats are the cache's own counters. */
  readonly stats: NeighborStats = {
    solicitsSent: 0,
    resolved: 0,
    failed: 0,
    queued: 0,
    queueDrops: 0,
    unreachable: 0,
    expired: 0,
    evicted: 0,
    refused: 0,
    flushDrops: 0,
  };

  constructor(
    private readonly events: NeighborEvents<P>,
    private readonly timers: TimerWheel,
    options: NeighborOptions = {},
  ) {
    const d = NEIGHBOR_DEFAULTS;
    this.reachableMs = positive('reachableMs', options.reachableMs ?? d.reachableMs);
    this.delayMs = positive('delayMs', options.delayMs ?? d.delayMs);
    this.retransMs = positive('retransMs', options.retransMs ?? d.retransMs);
    this.gcMs = positive('gcMs', options.gcMs ?? d.gcMs);
    this.failedHoldMs = positive('failedHoldMs', options.failedHoldMs ?? d.failedHoldMs);
    this.maxProbes = integer('maxProbes', options.maxProbes ?? d.maxProbes, 1);
    this.queueMax = integer('queueMax', options.queueMax ?? d.queueMax, 0);
    this.maxEntries = integer('maxEntries', options.maxEntries ?? d.maxEntries, 1);
    this.seed = options.hashSeed ?? (Math.random() * TWO32) >>> 0;
  }

  /** size is the number of entries, permanent ones included. */
  get size(): number {
    return this.count;
  }

  /** resolve4 returns the MAC to send to next hop `addr` on `iface` now, or -1; on -1 the packet (if given) is queued (an incomplete entry is created and a solicitation sent) or, if the entry is failed and within failedHoldMs, handed to events.unreachable at once, or (table full) dropped. A STALE entry is used and moves to DELAY (RFC 4861 7.3.3). Allocates nothing on a hit. */
  resolve4(iface: number, addr: number, now: number, packet?: P): number {
    addr >>>= 0;
    const key = iface * TWO32 + addr;
    const e = this.v4.get(key);
    if (e !== undefined && isValidState(e.state)) return this.use(e, now);
    return this.miss(e, iface, 4, key, addr, null, now, packet);
  }

  /** resolve6 is resolve4 for the IPv6 address at buf[off..off+16) (read in place; copied only when an entry is created). */
  resolve6(iface: number, buf: Uint8Array, off: number, now: number, packet?: P): number {
    const key = iface * TWO32 + hash6(buf, off, this.seed);
    const e = this.find6(key, buf, off);
    if (e !== undefined && isValidState(e.state)) return this.use(e, now);
    return this.miss(e, iface, 6, key, 0, e === undefined ? buf : null, now, packet, off);
  }

  /**
   * learn4 records what an ARP packet said: `addr` is at `mac` (learn6 does the same for an NS or NA). The rules:
   * - RFC 826 merge: an existing entry is updated by any packet from it; a missing one is created only when
   *   `how.create` is set (an ARP addressed to us, an NS with a source link-layer option), as REACHABLE if
   *   `how.solicited`, else STALE.
   * - An INCOMPLETE or FAILED entry takes the MAC and becomes REACHABLE if solicited, else STALE (7.2.5);
   *   an INCOMPLETE entry's queue is released to it.
   * - On a valid entry, a different MAC without `how.override` is not taken, but moves REACHABLE to STALE
   *   (7.2.5 case I). Otherwise the MAC is taken; solicited -> REACHABLE; unsolicited -> STALE if the MAC
   *   changed, else the state is kept (7.2.5 case II, 7.2.3 for NS).
   * - A permanent entry never changes.
   * For ARP the router passes solicited = a reply unicast to us (as Linux does) and override = true; `mac` -1
   * means the NA carried no target link-layer option (it then only confirms).
   */
  learn4(iface: number, addr: number, mac: number, now: number, how: LearnHow): void {
    addr >>>= 0;
    const key = iface * TWO32 + addr;
    const e = this.v4.get(key);
    if (e !== undefined) this.update(e, mac, now, how);
    else if (how.create && mac >= 0) this.createLearned(iface, 4, key, addr, null, 0, mac, now, how);
  }

  /** learn6 is learn4 for IPv6 (an NS or NA about the 16-byte address `addr`, which is copied if kept). */
  learn6(iface: number, addr: Uint8Array, mac: number, now: number, how: LearnHow): void {
    check16(addr);
    const key = iface * TWO32 + hash6(addr, 0, this.seed);
    const e = this.find6(key, addr, 0);
    if (e !== undefined) this.update(e, mac, now, how);
    else if (how.create && mac >= 0) this.createLearned(iface, 6, key, 0, addr, 0, mac, now, how);
  }

  /** confirm marks a neighbor with a known MAC REACHABLE on upper-layer evidence (RFC 4861 7.3.1); it returns whether it did. */
  confirm(iface: number, family: 4 | 6, addr: number | Uint8Array, now: number): boolean {
    const e = this.find(iface, family, addr);
    if (e === undefined || e.state === 'permanent' || !isValidState(e.state)) return false;
    e.updated = now;
    this.enter(e, 'reachable', now);
    this.schedule(e);
    return true;
  }

  /** addPermanent pins `addr` on `iface` to `mac`, replacing any entry (an INCOMPLETE one's queue is released to `mac`). */
  addPermanent(iface: number, family: 4 | 6, addr: number | Uint8Array, mac: number): void {
    if (!Number.isInteger(mac) || mac < 0 || mac >= MAX_MAC) throw new RangeError('mac must be a 48-bit number');
    checkIface(iface);
    let e = this.find(iface, family, addr);
    if (e === undefined) {
      if (family === 4) {
        const a = (addr as number) >>> 0;
        e = this.insert(new Entry<P>(iface, 4, iface * TWO32 + a, a, null, 'permanent', 0));
      } else {
        const a = addr as Uint8Array;
        e = this.insert(new Entry<P>(iface, 6, iface * TWO32 + hash6(a, 0, this.seed), 0, copy16(a, 0), 'permanent', 0));
      }
      e.mac = mac;
      return;
    }
    if (e.state !== 'permanent') this.dynamicCount--;
    const wasIncomplete = e.state === 'incomplete';
    this.enter(e, 'permanent', e.since);
    e.mac = mac;
    e.probes = 0;
    if (wasIncomplete) this.stats.resolved++;
    this.releaseQueue(e);
  }

  /** remove deletes the entry of `addr` on `iface`, permanent or not; queued packets are dropped ('flushed'). It returns whether there was one. */
  remove(iface: number, family: 4 | 6, addr: number | Uint8Array): boolean {
    const e = this.find(iface, family, addr);
    if (e === undefined) return false;
    this.delete(e);
    this.dropQueue(e);
    return true;
  }

  /** flushInterface removes every entry of `iface`, permanent ones too (interface deleted or address removed); queued packets are dropped and counted (`flushDrops`), not reported unreachable. It returns how many entries went. */
  flushInterface(iface: number): number {
    const gone: Entry<P>[] = [];
    this.forEach((e) => {
      if (e.iface === iface) gone.push(e);
    });
    for (const e of gone) this.delete(e);
    for (const e of gone) this.dropQueue(e);
    return gone.length;
  }

  /** entries lists the table for the API, ordered by interface, family and address. */
  entries(now: number): NeighborRow[] {
    const all: Entry<P>[] = [];
    this.forEach((e) => all.push(e));
    all.sort(compareEntries);
    return all.map((e) => ({
      iface: e.iface,
      family: e.family,
      address: e.v6 === null ? formatIpv4(e.v4) : formatIpv6(e.v6),
      mac: isValidState(e.state) ? e.mac : -1,
      state: e.state,
      ageMs: e.state === 'permanent' ? 0 : Math.max(0, now - e.updated),
    }));
  }

  // ---- hot path ----

  private use(e: Entry<P>, now: number): number {
    e.used = now;
    if (e.state === 'stale') {
      this.enter(e, 'delay', now);
      this.schedule(e);
    }
    return e.mac;
  }

  private miss(e: Entry<P> | undefined, iface: number, family: 4 | 6, key: number, v4: number, v6src: Uint8Array | null, now: number, packet: P | undefined, off = 0): number {
    if (e === undefined) {
      if (!this.makeRoom()) {
        this.stats.refused++;
        if (packet !== undefined) this.events.drop?.(iface, packet, 'refused');
        return -1;
      }
      const v6 = v6src === null ? null : copy16(v6src, off);
      e = this.insert(new Entry<P>(iface, family, key, v4, v6, 'incomplete', now));
      this.dynamicCount++;
      this.enqueue(e, packet);
      this.solicit(e, now, -1);
      return -1;
    }
    e.used = now;
    if (e.state === 'failed') {
      if (now - e.since < this.failedHoldMs) {
        if (packet !== undefined) {
          this.stats.unreachable++;
          this.events.unreachable(iface, packet, now);
        }
        return -1;
      }
      this.enter(e, 'incomplete', now);
      this.enqueue(e, packet);
      this.solicit(e, now, -1);
      return -1;
    }
    this.enqueue(e, packet); // incomplete
    return -1;
  }

  private find6(key: number, buf: Uint8Array, off: number): Entry<P> | undefined {
    for (let e: Entry<P> | null | undefined = this.v6.get(key); e; e = e.chain) {
      if (e.holds6(buf, off)) return e;
    }
    return undefined;
  }

  // ---- learning ----

  private update(e: Entry<P>, mac: number, now: number, how: LearnHow): void {
    if (e.state === 'permanent') return;
    if (!isValidState(e.state)) {
      if (mac < 0) return; // nothing to resolve with
      const wasIncomplete = e.state === 'incomplete';
      e.mac = mac;
      e.updated = now;
      this.enter(e, how.solicited ? 'reachable' : 'stale', now);
      this.schedule(e);
      if (wasIncomplete) this.stats.resolved++;
      this.releaseQueue(e);
      return;
    }
    const differs = mac >= 0 && mac !== e.mac;
    if (ignoresOverrideClear(how, differs)) {
      if (e.state === 'reachable') {
        this.enter(e, 'stale', now);
        this.schedule(e);
      }
      return;
    }
    if (differs) {
      e.mac = mac;
      e.updated = now;
    }
    const next = stateAfterLearn(e.state, how, differs);
    if (next === 'reachable') e.updated = now;
    if (next !== e.state) this.enter(e, next, now);
    this.schedule(e);
  }

  private createLearned(iface: number, family: 4 | 6, key: number, v4: number, v6src: Uint8Array | null, off: number, mac: number, now: number, how: LearnHow): void {
    if (!this.makeRoom()) {
      this.stats.refused++;
      return;
    }
    const v6 = v6src === null ? null : copy16(v6src, off);
    const e = this.insert(new Entry<P>(iface, family, key, v4, v6, 'incomplete', now));
    this.dynamicCount++;
    e.mac = mac;
    this.enter(e, how.solicited ? 'reachable' : 'stale', now);
    this.schedule(e);
  }

  // ---- states and timers ----

  /** enter moves `e` to `state`, keeping the eviction lists right; the caller re-arms the timer. */
  private enter(e: Entry<P>, state: NeighborState, now: number): void {
    if (e.state === state) return;
    if (e.list !== null) e.list.unlink(e);
    e.state = state;
    e.since = now;
    if (state === 'stale') this.staleList.push(e);
    else if (state === 'failed') this.failedList.push(e);
    if (state !== 'incomplete' && state !== 'probe') e.probes = 0;
  }

  /** dueAt is when `e` next needs its timer to fire, from its state and times. */
  private dueAt(e: Entry<P>): number {
    switch (e.state) {
      case 'incomplete':
      case 'probe':
        return e.solicitedAt + this.retransMs;
      case 'reachable':
        return e.updated + this.reachableMs;
      case 'delay':
        return e.since + this.delayMs;
      case 'stale':
        return e.used + this.gcMs;
      case 'failed':
        return Math.max(e.used + this.gcMs, e.since + this.failedHoldMs);
      case 'permanent':
        return Infinity;
    }
  }

  /** schedule makes sure the entry's timer is due no later than dueAt(e); an earlier timer stays and re-arms when it fires. */
  private schedule(e: Entry<P>): void {
    const at = this.dueAt(e);
    const armed = e.timer;
    if (armed !== null && armed.pending) {
      if (armed.at <= at) return;
      this.timers.cancel(armed);
    }
    e.timer = at === Infinity ? null : this.timers.schedule(at, (e.fire ??= (now) => this.onTimer(e, now)));
  }

  /** onTimer runs when the entry's timer fires: the step that is due, or a later timer if the deadline moved. */
  private onTimer(e: Entry<P>, now: number): void {
    e.timer = null;
    if (this.dueAt(e) > now) this.schedule(e);
    else this.expire(e, now);
  }

  /** expire makes the one step that is due for `e`. */
  private expire(e: Entry<P>, now: number): void {
    switch (e.state) {
      case 'incomplete':
      case 'probe':
        if (e.probes < this.maxProbes) this.solicit(e, now, e.state === 'probe' ? e.mac : -1);
        else this.fail(e, now);
        return;
      case 'reachable':
        this.enter(e, 'stale', now);
        this.schedule(e);
        return;
      case 'delay':
        this.enter(e, 'probe', now);
        this.solicit(e, now, e.mac);
        return;
      case 'stale':
      case 'failed':
        this.delete(e);
        this.stats.expired++;
        return;
      case 'permanent':
        return;
    }
  }

  private solicit(e: Entry<P>, now: number, unicastMac: number): void {
    e.probes++;
    e.solicitedAt = now;
    this.schedule(e);
    this.stats.solicitsSent++;
    this.events.solicit(e.iface, e.family, e.v6 ?? e.v4, unicastMac);
  }

  private fail(e: Entry<P>, now: number): void {
    this.enter(e, 'failed', now);
    e.mac = -1;
    this.stats.failed++;
    this.schedule(e);
    const q = e.queue;
    e.queue = null;
    if (q === null) return;
    this.stats.unreachable += q.length;
    for (const p of q) this.events.unreachable(e.iface, p, now);
  }

  // ---- queues ----

  private enqueue(e: Entry<P>, packet: P | undefined): void {
    if (packet === undefined) return;
    if (this.queueMax === 0) {
      this.stats.queueDrops++;
      this.events.drop?.(e.iface, packet, 'queue-full');
      return;
    }
    const q = (e.queue ??= []);
    q.push(packet);
    this.stats.queued++;
    if (q.length > this.queueMax) {
      const oldest = q.shift()!;
      this.stats.queueDrops++;
      this.events.drop?.(e.iface, oldest, 'queue-full');
    }
  }

  private releaseQueue(e: Entry<P>): void {
    const q = e.queue;
    e.queue = null;
    if (q === null) return;
    for (const p of q) this.events.release(e.iface, e.mac, p);
  }

  private dropQueue(e: Entry<P>): void {
    const q = e.queue;
    e.queue = null;
    if (q === null) return;
    this.stats.flushDrops += q.length;
    for (const p of q) this.events.drop?.(e.iface, p, 'flushed');
  }

  // ---- table ----

  private find(iface: number, family: 4 | 6, addr: number | Uint8Array): Entry<P> | undefined {
    if (family === 4) {
      if (typeof addr !== 'number' || !Number.isInteger(addr) || addr < -(2 ** 31) || addr >= TWO32) {
        throw new TypeError('an IPv4 address is a 32-bit number');
      }
      return this.v4.get(iface * TWO32 + (addr >>> 0));
    }
    if (!(addr instanceof Uint8Array)) throw new TypeError('an IPv6 address is a Uint8Array');
    check16(addr);
    return this.find6(iface * TWO32 + hash6(addr, 0, this.seed), addr, 0);
  }

  private insert(e: Entry<P>): Entry<P> {
    if (e.family === 4) this.v4.set(e.key, e);
    else {
      const head = this.v6.get(e.key);
      if (head !== undefined) e.chain = head;
      this.v6.set(e.key, e);
    }
    this.count++;
    if (e.state === 'stale') this.staleList.push(e);
    else if (e.state === 'failed') this.failedList.push(e);
    this.events.sizeChanged?.(this.count);
    return e;
  }

  /** delete takes `e` out of the table and its lists; its queue is the caller's business. */
  private delete(e: Entry<P>): void {
    if (e.family === 4) this.v4.delete(e.key);
    else {
      const head = this.v6.get(e.key);
      if (head === e) {
        if (e.chain === null) this.v6.delete(e.key);
        else this.v6.set(e.key, e.chain);
      } else {
        for (let p: Entry<P> | null | undefined = head; p; p = p.chain) {
          if (p.chain === e) {
            p.chain = e.chain;
            break;
          }
        }
      }
      e.chain = null;
    }
    if (e.list !== null) e.list.unlink(e);
    if (e.timer !== null) this.timers.cancel(e.timer);
    e.timer = null;
    this.count--;
    if (e.state !== 'permanent') this.dynamicCount--;
    this.events.sizeChanged?.(this.count);
  }

  /** makeRoom returns whether a new dynamic entry fits, evicting a FAILED, else the longest-STALE entry if needed. */
  private makeRoom(): boolean {
    if (this.dynamicCount < this.maxEntries) return true;
    const victim = this.failedList.head ?? this.staleList.head;
    if (victim === null) return false;
    this.delete(victim);
    this.stats.evicted++;
    return true;
  }

  private forEach(fn: (e: Entry<P>) => void): void {
    for (const e of this.v4.values()) fn(e);
    for (const head of this.v6.values()) for (let e: Entry<P> | null = head; e; e = e.chain) fn(e);
  }
}

function positive(name: string, v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive number of milliseconds`);
  return v;
}

function integer(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer of at least ${min}`);
  return v;
}

function checkIface(iface: number): void {
  if (!Number.isInteger(iface) || iface < 0 || iface >= MAX_IFACE) throw new RangeError(`iface must be an integer in [0, ${MAX_IFACE})`);
}

function check16(addr: Uint8Array): void {
  if (addr.length !== 16) throw new RangeError('an IPv6 address is 16 bytes');
}

/** copy16 copies 16 bytes into a new array (Buffer#slice would return a view of the packet). */
function copy16(buf: Uint8Array, off: number): Uint8Array {
  return new Uint8Array(buf.subarray(off, off + 16));
}
