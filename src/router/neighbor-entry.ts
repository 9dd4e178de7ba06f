// One entry of the router's neighbor table (neighbors.ts) and what belongs to it alone: its states (RFC 4861
// 7.3.2 plus Linux's FAILED and PERMANENT), the merge rules of RFC 4861 7.2.5 as named predicates, the
// intrusive lists that give eviction its order, and the IPv6 key hash. The NeighborCache owns the entries
// and their timers; nothing here knows about time beyond the timestamps an entry carries.
import { u32 } from '../wire/bytes.js';
import { ipv6Equal } from '../wire/ipv6.js';
import type { TimerCallback, TimerHandle } from '../time/timer-wheel.js';

/** NeighborState is the state of an entry, as RFC 4861 7.3.2 names them, plus FAILED and PERMANENT (Linux). */
export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'permanent';

/** LearnHow says what kind of packet a learn call reports (see NeighborCache.learn4). */
export interface LearnHow {
  solicited: boolean;
  override: boolean;
  create: boolean;
}

/** isValidState says whether an entry in `state` has a MAC that packets may be sent to (Linux NUD_VALID). */
export function isValidState(state: NeighborState): boolean {
  return state === 'reachable' || state === 'stale' || state === 'delay' || state === 'probe' || state === 'permanent';
}

/** ignoresOverrideClear is RFC 4861 7.2.5 case I: an NA without O for a different MAC keeps the cached MAC. */
export function ignoresOverrideClear(how: LearnHow, differs: boolean): boolean {
  return !how.override && differs;
}

/** stateAfterLearn is the state a learn call leaves a valid (not INCOMPLETE/FAILED) entry in: RFC 4861 7.2.5 case II. */
export function stateAfterLearn(current: NeighborState, how: LearnHow, changedMac: boolean): NeighborState {
  if (how.solicited) return 'reachable';
  return changedMac ? 'stale' : current;
}

/** hash6 is the 32-bit hash of the IPv6 address at buf[off..off+16) used in IPv6 keys. */
export function hash6(buf: Uint8Array, off: number, seed: number): number {
  let h = seed | 0;
  for (let i = off; i < off + 16; i += 4) {
    h = Math.imul(h ^ u32(buf, i), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** Entry is one neighbor: an address on an interface, its MAC and state, its timestamps, its queue and its timer. */
export class Entry<P> {
  /** chain links IPv6 entries whose keys collide. */
  chain: Entry<P> | null = null;
  /** prev/next link the entry into the stale or failed eviction list it is on (`list`). */
  prev: Entry<P> | null = null;
  next: Entry<P> | null = null;
  list: EntryList<P> | null = null;
  mac = -1;
  /** updated is the time of the last confirmation or change; REACHABLE ends reachableMs after it. */
  updated: number;
  /** used is the time of the last resolve on this entry (or its creation); GC counts from it. */
  used: number;
  /** since is when the state was entered (DELAY and FAILED time from it). */
  since: number;
  /** solicitedAt is the time of the last solicitation (INCOMPLETE, PROBE). */
  solicitedAt = 0;
  probes = 0;
  queue: P[] | null = null;
  /** timer is the entry's one armed timer on the wheel, due no later than the entry's next step, or null. */
  timer: TimerHandle | null = null;
  /** fire is the callback of the entry's timers, made once per entry. */
  fire: TimerCallback | null = null;

  constructor(
    readonly iface: number,
    readonly family: 4 | 6,
    readonly key: number,
    readonly v4: number,
    readonly v6: Uint8Array | null,
    public state: NeighborState,
    now: number,
  ) {
    this.updated = now;
    this.used = now;
    this.since = now;
  }

  /** holds6 tells whether this IPv6 entry is for the address at buf[off..off+16). */
  holds6(buf: Uint8Array, off: number): boolean {
    return ipv6Equal(this.v6!, 0, buf, off);
  }
}

/** EntryList is an intrusive doubly linked list in insertion order (the eviction order of one state). */
export class EntryList<P> {
  head: Entry<P> | null = null;
  tail: Entry<P> | null = null;

  push(e: Entry<P>): void {
    e.list = this;
    e.prev = this.tail;
    e.next = null;
    if (this.tail === null) this.head = e;
    else this.tail.next = e;
    this.tail = e;
  }

  unlink(e: Entry<P>): void {
    if (e.prev === null) this.head = e.next;
    else e.prev.next = e.next;
    if (e.next === null) this.tail = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = null;
    e.list = null;
  }
}

/** compareEntries orders entries for listing: by interface, then family, then address. */
export function compareEntries<P>(a: Entry<P>, b: Entry<P>): number {
  if (a.iface !== b.iface) return a.iface - b.iface;
  if (a.family !== b.family) return a.family - b.family;
  if (a.v6 === null || b.v6 === null) return a.v4 - b.v4;
  for (let i = 0; i < 16; i++) if (a.v6[i] !== b.v6[i]) return a.v6[i]! - b.v6[i]!;
  return 0;
}
