// Microbenchmark of Fdb at a million learned entries: expire() when nothing or 1% expires, learn() of
// known addresses (hits), of new addresses at the cap (each one evicts), and the fill itself.
//
// Not part of `npm run bench`: run it by hand, `node --expose-gc dist/bench/fdb-bench.js [entries] [module...]`.
// Each `module` is the path of a compiled fdb.js to measure (default: this tree's), so that an older fdb.ts
// compiled elsewhere runs the same workload. Each round of each implementation runs in a fresh process (so
// that no call site sees two classes), the implementations take turns round by round, and each figure is
// the median of ROUNDS rounds (figures on a shared VM move a lot between runs). The loops over many
// operations are timed in CPU time of the process (wall time on a shared VM mostly measures the neighbours;
// CPU time includes the GC threads); the two expire() calls, short and single-threaded, in wall time.
// heapMB is what the filled table adds to the heap and array buffers. It prints JSON.
//
// The table: `entries` addresses (scrambled, all distinct) on PORTS ports, address i learned at i + 0.5 ms
// (times are fractional, as performance.now() is), with an aging time of 2,000 s (longer than the fill), so
// that expire(aging - 1) removes nothing (timed as the median of 5 calls) and expire(aging + entries / 100 - 0.5)
// removes the oldest 1%.
// Hits: now advances 1 ms every 1,000 frames (1 M frames/s), over random addresses of the whole table
// (every lookup misses the CPU caches) and over a hot set of 1,024 addresses; lookups of the same random
// addresses give the floor of a hit (one Map lookup).
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

interface FdbLike {
  learn(mac: number, port: number, now: number): void;
  lookup(mac: number): number;
  expire(now: number): number;
  readonly size: number;
}
type FdbClass = new (options: { agingMs?: number; max?: number }) => FdbLike;

const PORTS = 16;
const AGING_MS = 2_000_000;
const ROUNDS = 5;
const HITS = 4_000_000;
const HOT = 1024;
const FRESH = 250_000;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** scrambled returns address i: an odd multiplier is a bijection of 32 bits, so they are all distinct. */
function scrambled(i: number): number {
  return 0x02_00_00_00_00_00 + ((Math.imul(i, 0x9e37_79b1) >>> 0) % 0x1_0000_0000);
}

/** cpuMs is the CPU time of this process (user + system, GC threads included), in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** heapBytes is what the heap and the array buffers hold (after a gc when --expose-gc is given). */
function heapBytes(): number {
  for (let k = 0; k < 3; k++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function fill(Fdb: FdbClass, n: number): { fdb: FdbLike; ms: number; heapMB: number } {
  const base = heapBytes();
  const fdb = new Fdb({ agingMs: AGING_MS, max: n });
  const t0 = cpuMs();
  for (let i = 0; i < n; i++) fdb.learn(scrambled(i), i % PORTS, i + 0.5);
  const ms = cpuMs() - t0;
  if (fdb.size !== n) throw new Error(`fill: size ${fdb.size}, want ${n}`);
  return { fdb, ms, heapMB: (heapBytes() - base) / 1e6 };
}

/** randomIndexes is a seeded xorshift sequence of indexes below n. */
function randomIndexes(count: number, n: number, seed: number): Uint32Array {
  const out = new Uint32Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x % n;
  }
  return out;
}

/** Frames are prepared addresses with the port each was learned on, so that a hit stays a hit. */
interface Frames {
  macs: Float64Array;
  ports: Uint8Array;
}

function frames(indexes: Uint32Array): Frames {
  const macs = new Float64Array(indexes.length);
  const ports = new Uint8Array(indexes.length);
  for (let j = 0; j < indexes.length; j++) {
    macs[j] = scrambled(indexes[j]!);
    ports[j] = indexes[j]! % PORTS;
  }
  return { macs, ports };
}

function lookups(fdb: FdbLike, f: Frames): number {
  const { macs, ports } = f;
  let wrong = 0;
  const t0 = cpuMs();
  for (let j = 0; j < macs.length; j++) if (fdb.lookup(macs[j]!) !== ports[j]) wrong++;
  const ns = ((cpuMs() - t0) * 1e6) / macs.length;
  if (wrong !== 0) throw new Error(`${wrong} lookups missed`);
  return ns;
}

function hits(fdb: FdbLike, f: Frames, start: number, n: number): number {
  const { macs, ports } = f;
  const t0 = cpuMs();
  for (let j = 0; j < macs.length; j++) fdb.learn(macs[j]!, ports[j]!, start + j / 1000);
  const ns = ((cpuMs() - t0) * 1e6) / macs.length;
  if (fdb.size !== n) throw new Error('hits changed the table');
  return ns;
}

/** Figures are one implementation's measurements, one value per round. */
interface Figures {
  fillMs: number[];
  heapMB: number[];
  expireNothingMs: number[];
  expireOnePercentMs: number[];
  lookupRandomNs: number[];
  hitRandomNsPerLearn: number[];
  hitHotSetNsPerLearn: number[];
  newAtCapNsPerLearn: number[];
}

/** Workload is the prepared input of every round, the same for every implementation. */
interface Workload {
  n: number;
  random: Frames;
  hot: Frames;
}

function round(Fdb: FdbClass, w: Workload, out: Figures): void {
  const { n } = w;
  const { fdb, ms, heapMB } = fill(Fdb, n);
  out.fillMs.push(ms);
  out.heapMB.push(heapMB);
  gc();
  // the median of 5 calls, so that the first call's compilation does not count
  const calls: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t = performance.now();
    const none = fdb.expire(AGING_MS - 1);
    calls.push(performance.now() - t);
    if (none !== 0) throw new Error(`expire removed ${none}, want 0`);
  }
  out.expireNothingMs.push(median(calls));

  gc();
  let t0 = performance.now();
  const some = fdb.expire(AGING_MS + n / 100 - 0.5);
  out.expireOnePercentMs.push(performance.now() - t0);
  if (some !== n / 100) throw new Error(`expire removed ${some}, want ${n / 100}`);

  // learn the expired 1% again, so that every frame below hits
  for (let i = 0; i < n / 100; i++) fdb.learn(scrambled(i), i % PORTS, n + i + 0.5);
  gc();
  out.lookupRandomNs.push(lookups(fdb, w.random));
  gc();
  out.hitRandomNsPerLearn.push(hits(fdb, w.random, 2 * n, n));
  gc();
  out.hitHotSetNsPerLearn.push(hits(fdb, w.hot, 3 * n, n));

  // new addresses at the cap: each one evicts the oldest entry of the heaviest port
  gc();
  t0 = cpuMs();
  for (let j = 0; j < FRESH; j++) fdb.learn(0x04_00_00_00_00_00 + j, j % PORTS, 4 * n + j / 1000);
  out.newAtCapNsPerLearn.push(((cpuMs() - t0) * 1e6) / FRESH);
  if (fdb.size !== n) throw new Error('eviction did not keep the table at its cap');
}

/** oneRound measures one implementation in this process and prints its figures as JSON. */
/** emptyFigures is a Figures with no measurement yet. */
function emptyFigures(): Figures {
  return { fillMs: [], heapMB: [], expireNothingMs: [], expireOnePercentMs: [], lookupRandomNs: [], hitRandomNsPerLearn: [], hitHotSetNsPerLearn: [], newAtCapNsPerLearn: [] };
}

async function oneRound(module: string, n: number): Promise<void> {
  const { Fdb } = (await import(module)) as { Fdb: FdbClass };
  const hotSet = randomIndexes(HOT, n, 777);
  const w: Workload = { n, random: frames(randomIndexes(HITS, n, 12345)), hot: frames(randomIndexes(HITS, HOT, 4242).map((k) => hotSet[k]!)) };
  const figures = emptyFigures();
  round(Fdb, w, figures);
  console.log(JSON.stringify(figures));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--one') return oneRound(process.argv[3]!, Number(process.argv[4]));
  const n = Number(process.argv[2] ?? 1_000_000);
  const paths = process.argv.slice(3);
  const modules = paths.length > 0 ? paths.map((p) => pathToFileURL(resolve(p)).href) : [new URL('../src/bridge/fdb.js', import.meta.url).href];
  const figures = modules.map(emptyFigures);
  for (let r = 0; r < ROUNDS; r++) {
    modules.forEach((module, i) => {
      const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--one', module, String(n)], { encoding: 'utf8' });
      const one = JSON.parse(out) as Figures;
      for (const key of Object.keys(one) as (keyof Figures)[]) figures[i]![key].push(...one[key]);
    });
  }
  const report = modules.map((module, i) => {
    const medians: Record<string, number> = {};
    for (const [name, xs] of Object.entries(figures[i]!) as [string, number[]][]) medians[name] = Number(median(xs).toPrecision(4));
    return { module, entries: n, ports: PORTS, rounds: ROUNDS, ...medians };
  });
  console.log(JSON.stringify(report, null, 2));
}

await main();
