// PrefixMap: the exact set of prefixes of one address family and their values (RouteTable's control plane).
//
// RouteTable's trie answers "longest match" fast but cannot say which prefixes exist exactly (a prefix can
// be hidden under longer ones in every slot it covers), so this table keeps the truth: `get`, `insert`,
// `remove`, `entries` and the fallback search after a removal ask it, never the packet path.
// Policy: open addressing with linear probing in one Int32Array (no object per prefix: 100k prefixes cost
// a few MB), load factor at most 1/2, and backward-shift deletion so that removals leave no tombstones and
// a table that churns never degrades.
// A record is [length + 1 (0: empty), value, word 0 .. word W-1]; keys are the prefix's big-endian 32-bit
// words, already masked to its length (the caller masks; two spellings of one prefix are one key).

const EMPTY = 0;
const MIN_CAPACITY = 16;

/** PrefixMap maps (masked prefix words, length) to a non-negative value; see the top of this file. */
export class PrefixMap {
  /** words is the number of 32-bit words in a key: 1 for IPv4, 4 for IPv6. */
  readonly words: number;
  private readonly rec: number;
  private table: Int32Array;
  private mask: number;
  private count = 0;

  constructor(words: number) {
    this.words = words;
    this.rec = words + 2;
    this.table = new Int32Array(MIN_CAPACITY * this.rec);
    this.mask = MIN_CAPACITY - 1;
  }

  /** size is the number of prefixes held. */
  get size(): number {
    return this.count;
  }

  /** get returns the value of `key`/`len`, or -1. */
  get(key: Int32Array, len: number): number {
    const i = this.find(key, len);
    return i < 0 ? -1 : this.table[i + 1]!;
  }

  /** set stores `value` for `key`/`len`; it returns the value it replaced, or -1 for a new key. */
  set(key: Int32Array, len: number, value: number): number {
    const found = this.find(key, len);
    if (found >= 0) {
      const old = this.table[found + 1]!;
      this.table[found + 1] = value;
      return old;
    }
    if ((this.count + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    this.place(key, 0, len, value);
    this.count++;
    return -1;
  }

  /** delete removes `key`/`len`; it returns the value it held, or -1 when it was absent. */
  delete(key: Int32Array, len: number): number {
    const t = this.table;
    const r = this.rec;
    let i = this.find(key, len);
    if (i < 0) return -1;
    const old = t[i + 1]!;
    this.count--;
    // Backward shift (Knuth's algorithm R): pull later records of the probe run into the hole unless their
    // home slot lies cyclically in (hole, record], where moving them would put them before their home.
    let hole = i / r;
    let j = hole;
    for (;;) {
      j = (j + 1) & this.mask;
      const at = j * r;
      if (t[at] === EMPTY) break;
      const home = this.hash(t, at + 2, t[at]! - 1);
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      t.copyWithin(hole * r, at, at + r);
      hole = j;
    }
    i = hole * r;
    t.fill(0, i, i + r);
    return old;
  }

  /** forEach calls `fn` with every key (a view valid only during the call), length and value. */
  forEach(fn: (key: Int32Array, len: number, value: number) => void): void {
    const t = this.table;
    for (let i = 0; i < t.length; i += this.rec) {
      if (t[i] !== EMPTY) fn(t.subarray(i + 2, i + 2 + this.words), t[i]! - 1, t[i + 1]!);
    }
  }

  /** clear forgets every prefix and returns the memory. */
  clear(): void {
    this.table = new Int32Array(MIN_CAPACITY * this.rec);
    this.mask = MIN_CAPACITY - 1;
    this.count = 0;
  }

  /** byteLength is the memory held by the table, for reports. */
  get byteLength(): number {
    return this.table.byteLength;
  }

  /** find returns the record offset of `key`/`len`, or -1. */
  private find(key: Int32Array, len: number): number {
    const t = this.table;
    const r = this.rec;
    const tag = len + 1;
    for (let j = this.hash(key, 0, len); ; j = (j + 1) & this.mask) {
      const at = j * r;
      const v = t[at]!;
      if (v === EMPTY) return -1;
      if (v === tag && this.sameKey(t, at + 2, key)) return at;
    }
  }

  private sameKey(t: Int32Array, at: number, key: Int32Array): boolean {
    for (let w = 0; w < this.words; w++) if (t[at + w] !== key[w]) return false;
    return true;
  }

  /** place writes a record into the first empty slot of its probe run (the key is known to be absent). */
  private place(src: Int32Array, from: number, len: number, value: number): void {
    const t = this.table;
    let j = this.hash(src, from, len);
    while (t[j * this.rec] !== EMPTY) j = (j + 1) & this.mask;
    const at = j * this.rec;
    t[at] = len + 1;
    t[at + 1] = value;
    for (let w = 0; w < this.words; w++) t[at + 2 + w] = src[from + w]!;
  }

  private resize(capacity: number): void {
    const old = this.table;
    this.table = new Int32Array(capacity * this.rec);
    this.mask = capacity - 1;
    for (let i = 0; i < old.length; i += this.rec) {
      if (old[i] !== EMPTY) this.place(old, i + 2, old[i]! - 1, old[i + 1]!);
    }
  }

  /** hash mixes the key words and the length (murmur3's finalizer per word) into a slot number. */
  private hash(src: Int32Array, from: number, len: number): number {
    let h = Math.imul(len + 1, 0x9e3779b1);
    for (let w = 0; w < this.words; w++) {
      h = Math.imul(h ^ src[from + w]!, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
    return h & this.mask;
  }
}
