// Microbenchmark of RouteTable: lookups per second, insert time and heap with 100k routes per family.
//
// Route sets (a seeded PRNG, so every run builds the same tables):
//   IPv4  random prefixes of length 8..32, half of them /24;
//   IPv6  four /32 allocations; prefixes /16../64 inside them (random bits below the allocation), 5% /128.
// Both families live in one table, as in the router. Lookups run over a prepared array of addresses, 90%
// drawn inside a random route (they hit, often deep) and 10% uniformly random; a lookup of IPv6 reads the
// 16 bytes in place from a byte buffer, as from a packet.
// Timing: best of ROUNDS rounds, each a loop of chunks that stops once `seconds` (default 0.3) have passed
// or after MAX_CHUNKS chunks, whichever comes first: the run ends by itself.
// Before timing, a sample of the addresses is checked against a linear scan of the routes, so that the
// benchmark cannot report the speed of a wrong table (it throws instead).
// Heap: with `node --expose-gc`, heapUsed + arrayBuffers after a gc, before and after the inserts of each
// family (the IPv4 figures include both first-level tables, about 1.2 MB). Without --expose-gc the figures
// include garbage; `tableBytes` is the size of the table's typed arrays and needs no gc.
// Run alone: `node --expose-gc dist/bench/route-lookup.js [routes] [seconds]` prints JSON.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { RouteTable } from '../src/router/route-table.js';

const ROUNDS = 5;
const CHUNK = 1 << 16;
const MAX_CHUNKS = 2000;
const SAMPLE = 1000;

/** RouteLookupFigures are the measurements of one family. */
export interface RouteLookupFigures {
  routes: number;
  lookupsPerSec: number;
  insertMs: number;
  heapBytes: number;
  /** tableBytes is the size of the family's typed arrays (trie pool and prefix map), gc or not. */
  tableBytes: number;
}

/** RouteLookupOptions size the run: routes per family, addresses prepared per family, seconds per round. */
export interface RouteLookupOptions {
  routes?: number;
  lookups?: number;
  seconds?: number;
}

/** sink keeps the lookups' results alive so that the compiler cannot drop the loop. */
export let sink = 0;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function maskBits(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return -1 << (32 - bits);
}

/** RouteSet is a family's routes as parallel arrays: `words` per route (masked), length, value = index. */
interface RouteSet {
  words: number;
  key: Int32Array;
  len: Uint8Array;
  count: number;
}

/** heapNow returns heapUsed + arrayBuffers after a gc; array buffers are freed by a sweeper after the gc, so it waits. */
async function heapNow(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function toBytes(words: Int32Array, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n * 4);
  const view = new DataView(out.buffer);
  for (let w = 0; w < n; w++) view.setUint32(w * 4, words[at + w]! >>> 0);
  return out;
}

/** makeRoutes draws `n` distinct random prefixes with `draw`, which fills words (masked) and returns the length. */
function makeRoutes(n: number, words: number, draw: (key: Int32Array) => number): RouteSet {
  const key = new Int32Array(n * words);
  const len = new Uint8Array(n);
  const seen = new Set<string>();
  const one = new Int32Array(words);
  let count = 0;
  for (let tries = 0; count < n && tries < n * 20; tries++) {
    const l = draw(one);
    for (let w = 0; w < words; w++) one[w] = one[w]! & maskBits(l - 32 * w);
    const id = `${one.join(',')}/${l}`;
    if (seen.has(id)) continue;
    seen.add(id);
    key.set(one, count * words);
    len[count++] = l;
  }
  return { words, key, len, count };
}

/** reference is the linear scan: the index of the longest route containing the address, or -1. */
function reference(set: RouteSet, addr: Int32Array): number {
  let best = -1;
  let bestLen = -1;
  const W = set.words;
  for (let r = 0; r < set.count; r++) {
    const l = set.len[r]!;
    if (l <= bestLen) continue;
    let hit = true;
    for (let w = 0; w < W && hit; w++) {
      if (((set.key[r * W + w]! ^ addr[w]!) & maskBits(l - 32 * w)) !== 0) hit = false;
    }
    if (hit) {
      best = r;
      bestLen = l;
    }
  }
  return best;
}

/** addresses draws `n` addresses: 90% inside a random route, 10% uniform. */
function addresses(set: RouteSet, n: number, rnd: () => number): Int32Array {
  const W = set.words;
  const out = new Int32Array(n * W);
  for (let i = 0; i < n; i++) {
    const inside = rnd() < 0.9;
    const r = (rnd() * set.count) | 0;
    for (let w = 0; w < W; w++) {
      const random = (rnd() * 4294967296) | 0;
      const m = maskBits(set.len[r]! - 32 * w);
      out[i * W + w] = inside ? (set.key[r * W + w]! & m) | (random & ~m) : random;
    }
  }
  return out;
}

/** bestRate runs `chunk(i)` (CHUNK lookups starting at chunk i) in rounds and returns the best lookups/s. */
function bestRate(seconds: number, chunks: number, chunk: (i: number) => number): number {
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let done = 0;
    const start = performance.now();
    let elapsed = 0;
    for (let c = 0; c < MAX_CHUNKS; c++) {
      sink = (sink + chunk(c % chunks)) | 0;
      done += CHUNK;
      elapsed = (performance.now() - start) / 1000;
      if (elapsed >= seconds) break;
    }
    best = Math.max(best, done / elapsed);
  }
  return Math.round(best);
}

/**
 * routeLookupBench builds `routes` (default 100,000) random routes per family, checks a sample of lookups
 * against a linear scan, and measures lookups per second (best of 5 rounds of `seconds`, default 0.3),
 * insert time and heap. `lookups` is the number of prepared addresses per family (default 2^19).
 */
export async function routeLookupBench(opts: RouteLookupOptions = {}): Promise<{ v4: RouteLookupFigures; v6: RouteLookupFigures }> {
  const n = opts.routes ?? 100_000;
  const nAddr = Math.max(CHUNK, Math.ceil((opts.lookups ?? 1 << 19) / CHUNK) * CHUNK);
  const seconds = opts.seconds ?? 0.3;
  const rnd = mulberry32(0x7a9_2024);

  const set4 = makeRoutes(n, 1, (k) => {
    k[0] = (rnd() * 4294967296) | 0;
    return rnd() < 0.5 ? 24 : 8 + ((rnd() * 25) | 0);
  });
  const allocations = [0, 1, 2, 3].map(() => 0x20000000 | ((rnd() * 0x20000000) | 0) | 0);
  const set6 = makeRoutes(n, 4, (k) => {
    k[0] = allocations[(rnd() * allocations.length) | 0]!;
    for (let w = 1; w < 4; w++) k[w] = (rnd() * 4294967296) | 0;
    if (rnd() < 0.05) return 128;
    const l = 16 + ((rnd() * 49) | 0);
    if (l > 32) return l;
    // Shorter than the allocation: keep the allocation's bits, as an aggregate of it would.
    k[1] = 0;
    return l;
  });
  const addr4 = addresses(set4, nAddr, rnd);
  const addr6 = new Uint8Array(addresses(set6, nAddr, rnd).buffer).map((_, i, a) => a[(i & ~3) + 3 - (i & 3)]!);

  const base = await heapNow();
  const table = new RouteTable();
  let t0 = performance.now();
  for (let r = 0; r < set4.count; r++) table.insert(4, toBytes(set4.key, r, 1), set4.len[r]!, r);
  const insert4 = performance.now() - t0;
  const after4 = await heapNow();
  const bytes4 = table.byteLength;
  t0 = performance.now();
  for (let r = 0; r < set6.count; r++) table.insert(6, toBytes(set6.key, r * 4, 4), set6.len[r]!, r);
  const insert6 = performance.now() - t0;
  const after6 = await heapNow();
  const bytes6 = table.byteLength - bytes4;

  // The check: a sample of the very addresses that are timed, against the linear scan.
  const a = new Int32Array(4);
  const step = Math.max(1, Math.floor(nAddr / SAMPLE));
  for (let i = 0; i < nAddr; i += step) {
    a[0] = addr4[i]!;
    const want4 = reference(set4, a);
    const got4 = table.lookup4(addr4[i]! >>> 0);
    if (got4 !== want4) throw new Error(`route-lookup: IPv4 lookup ${i} gave ${got4}, the linear scan ${want4}`);
    for (let w = 0; w < 4; w++) a[w] = new DataView(addr6.buffer).getInt32(i * 16 + w * 4);
    const want6 = reference(set6, a);
    const got6 = table.lookup6(addr6, i * 16);
    if (got6 !== want6) throw new Error(`route-lookup: IPv6 lookup ${i} gave ${got6}, the linear scan ${want6}`);
  }

  const chunks = nAddr / CHUNK;
  const rate4 = bestRate(seconds, chunks, (c) => {
    let s = 0;
    for (let i = c * CHUNK, end = i + CHUNK; i < end; i++) s = (s + table.lookup4(addr4[i]! >>> 0)) | 0;
    return s;
  });
  const rate6 = bestRate(seconds, chunks, (c) => {
    let s = 0;
    for (let i = c * CHUNK, end = i + CHUNK; i < end; i++) s = (s + table.lookup6(addr6, i << 4)) | 0;
    return s;
  });
  return {
    v4: { routes: table.size4, lookupsPerSec: rate4, insertMs: Math.round(insert4), heapBytes: after4 - base, tableBytes: bytes4 },
    v6: { routes: table.size6, lookupsPerSec: rate6, insertMs: Math.round(insert6), heapBytes: after6 - after4, tableBytes: bytes6 },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const routes = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const seconds = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  const result = await routeLookupBench({ routes, seconds });
  console.log(JSON.stringify({ ...result, gc: typeof (globalThis as { gc?: unknown }).gc === 'function' }, null, 2));
}
