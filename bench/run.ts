// Benchmark: the same small topologies switched by the Linux kernel bridge, by vde_switch and by tapwired,
// measured one switch after the other in one run, and printed as a table of figures and ratios.
//
// Topology, per switch: a switch namespace `sw` and four host namespaces h1..h4 (10.77.0.N/24), each host
// joined to the switch by one link:
//   kernel   a `bridge` in sw, veth pairs sw <-> hN (made inside the namespaces, never in the root one);
//   vde      vde_switch in sw creates the TAPs (-t), which are then moved into hN and configured;
//   relay    bench/relay.c (compiled by the run) in sw: TAPs made as tapwired makes them, frames copied
//            h1 <-> h2 and h3 <-> h4 with poll/read/write and nothing else. It is a reference, not a switch:
//            the floor any process between two TAPs pays on this machine (kernel, devices, wake-ups);
//   tapwire  tapwired in sw with a topology file; its TAPs land in hN already configured and up.
// Each switch gets a fresh Lab, and no two switches carry traffic at the same time: the machine has two
// cores and the figures would measure the contention.
//
// Ping first: all three switches are set up side by side (idle ones cost nothing) and pinged in
// interleaved rounds (kernel, vde, tapwire, kernel, ...), so that a slow drift of the machine (another
// guest on the host, a CPU waking slower) hits all three alike; on this kind of virtual machine the RTT is
// mostly the time to wake an idle vCPU, which moves a lot from one minute to the next. Then each switch
// alone for the throughput figures.
//
// Figures (after a warm-up ping in both directions so ARP and MAC learning are done):
//   ping   average RTT h1 -> h2 in µs over PING_ROUNDS rounds of `ping -c PING_COUNT -i 0.005 -q`
//          (lower is better);
//   tcp1   iperf3 TCP, one stream h1 -> h2, receiver's Gb/s (`end.sum_received` of `iperf3 -J`);
//   tcp2x  two concurrent iperf3 TCP flows h1 -> h2 and h3 -> h4, sum of the receivers' Gb/s;
//   udp64  iperf3 UDP with 64-byte payloads at full speed (`-u -b 0 -l 64`) h1 -> h2, packets per second
//          delivered: the receiver's packets minus the lost ones, over its seconds. Beside it (udp64Detail
//          in the JSON, one line per switch under the table): what the sender sent, what the switch handed
//          to h2's interface (its rx packets), and what h2's UDP socket had to drop for want of buffer
//          (RcvbufErrors): with two cores the receiving iperf3 is the bottleneck, so `delivered` tells how
//          much CPU the receiver was left, and `forwarded` how fast the switch was.
// The duration of each iperf3 test is `--seconds N` (or env BENCH_SECONDS), 5 by default.
// Then the routed path (bench/routed.ts: one TCP stream through the kernel's forwarding and through
// tapwire's router, hosts in two subnets) and the route table microbenchmark (bench/route-lookup.ts:
// lookups/s with 100,000 routes per family).
//
// Output: the table on stdout, progress on stderr, and every raw figure, ratio, the kernel version and the
// targets (pass/fail) in bench-results/bench-<ISO 8601 time>.json. The exit code is 0 when every figure was
// measured, whether or not the targets are met (it is a measurement), and 1 when some figure could not be.
// Every command has a timeout and a watchdog bounds the whole run; SIGINT/SIGTERM clean up before exiting.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Lab } from '../test/helpers/lab.js';
import { RunningDaemon, startDaemon } from '../test/helpers/daemon.js';
import { routedBench } from './routed.js';
import { routeLookupBench } from './route-lookup.js';

/** FAMILY marks the benchmark's namespaces (Lab removes stale ones of dead runs of this family). */
export const FAMILY = 'twb';
/** HOSTS is the number of host namespaces on every switch. */
export const HOSTS = 4;
/** SWITCHES are the switches measured, in the order they run. */
export const SWITCHES = ['kernel', 'vde', 'relay', 'tapwire'] as const;
/** SwitchName names one of SWITCHES. */
export type SwitchName = (typeof SWITCHES)[number];
/** FIGURES are the measured figures, in table order. */
export const FIGURES = ['tcp1', 'tcp2x', 'udp64', 'ping'] as const;
/** Figure names one of FIGURES. */
export type Figure = (typeof FIGURES)[number];

/** FIGURE_INFO says how each figure is shown and which direction is better. */
export const FIGURE_INFO: Record<Figure, { label: string; unit: string; higherIsBetter: boolean }> = {
  tcp1: { label: 'tcp1', unit: 'Gb/s', higherIsBetter: true },
  tcp2x: { label: 'tcp2x', unit: 'Gb/s', higherIsBetter: true },
  udp64: { label: 'udp64', unit: 'pkt/s', higherIsBetter: true },
  ping: { label: 'ping avg', unit: 'µs', higherIsBetter: false },
};

const PING_COUNT = 100;
const PING_ROUNDS = 5;
const PING_INTERVAL = '0.005';
const IPERF_PORT = '5201';
const DEFAULT_SECONDS = 5;
const MAX_SECONDS = 60;

/** hostAddress is host N's IPv4 address (N from 1). */
export function hostAddress(n: number): string {
  return `10.77.0.${n}`;
}

function hostShort(n: number): string {
  return `h${n}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.length > 600 ? `${text.slice(0, 600)}...` : text;
}

function progress(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

/** withTimeout rejects with `what` timed out when `p` takes longer than `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** parseSeconds reads the iperf3 duration from `--seconds N`, else env BENCH_SECONDS, else the default. */
export function parseSeconds(argv: string[], env: NodeJS.ProcessEnv): number {
  const { values } = parseArgs({ args: argv, options: { seconds: { type: 'string' } }, strict: true, allowPositionals: false });
  const raw = values.seconds ?? env.BENCH_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_SECONDS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SECONDS) throw new Error(`--seconds must be an integer from 1 to ${MAX_SECONDS}; got ${JSON.stringify(raw)}`);
  return n;
}

// ---------------------------------------------------------------------------------------------- rigs

/** Rig is one switch set up in its own Lab; close() is safe to call twice (and concurrently). */
export interface Rig {
  readonly lab: Lab;
  /** diagnostics returns switch-specific counters for the JSON report (tapwired's stats), if any. */
  diagnostics(): Promise<unknown>;
  close(): Promise<void>;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

async function addNamespaces(lab: Lab): Promise<void> {
  await lab.addNs('sw');
  for (let n = 1; n <= HOSTS; n++) await lab.addNs(hostShort(n));
}

async function configureHost(lab: Lab, n: number, ifname: string): Promise<void> {
  await lab.ip(hostShort(n), 'addr', 'add', `${hostAddress(n)}/24`, 'dev', ifname);
  await lab.ip(hostShort(n), 'link', 'set', ifname, 'up');
}

/** kernelRig builds a kernel bridge in sw with a veth pair to each host. */
export async function kernelRig(lab: Lab): Promise<Rig> {
  await addNamespaces(lab);
  const br = lab.name('br');
  await lab.ip('sw', 'link', 'add', br, 'type', 'bridge');
  for (let n = 1; n <= HOSTS; n++) {
    const swEnd = lab.name(`p${n}`);
    const hostEnd = lab.name(`e${n}`);
    await lab.ip('sw', 'link', 'add', swEnd, 'type', 'veth', 'peer', 'name', hostEnd, 'netns', lab.name(hostShort(n)));
    await lab.ip('sw', 'link', 'set', swEnd, 'master', br);
    await lab.ip('sw', 'link', 'set', swEnd, 'up');
    await configureHost(lab, n, hostEnd);
  }
  await lab.ip('sw', 'link', 'set', br, 'up');
  return { lab, diagnostics: () => Promise.resolve(undefined), close: once(() => lab.close()) };
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${ms} ms`);
    await sleep(50);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** stopVde ends the vde_switch whose pid is `pid`, checking first that the pid is still vde_switch. */
async function stopVde(pid: number): Promise<void> {
  let comm = '';
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return; // already gone
  }
  if (comm !== 'vde_switch') return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (processAlive(pid) && Date.now() < deadline) await sleep(50);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
}

/** vdeRig runs vde_switch (daemonized, with a pid file) in sw; its TAPs are moved into the hosts. */
export async function vdeRig(lab: Lab): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-vde-`));
  const pidFile = join(dir, 'vde.pid');
  let pid: number | undefined;
  const close = once(async () => {
    if (pid !== undefined) await stopVde(pid).catch(() => undefined);
    await lab.close(); // also kills whatever still runs in sw, vde_switch included
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await addNamespaces(lab);
    const taps = Array.from({ length: HOSTS }, (_, i) => lab.name(`t${i + 1}`));
    const args = [...taps.flatMap((t) => ['-t', t]), '-s', join(dir, 'ctl'), '-M', join(dir, 'mgmt'), '-d', '-p', pidFile];
    await lab.exec('sw', 'vde_switch', args, { timeoutMs: 10_000 });
    pid = await waitFor('vde_switch pid file', 5000, async () => {
      const n = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    });
    for (const [i, tap] of taps.entries()) {
      await waitFor(`vde TAP ${tap}`, 5000, () => lab.ip('sw', 'link', 'show', tap).then(() => true));
      await lab.ip('sw', 'link', 'set', tap, 'netns', lab.name(hostShort(i + 1)));
      await configureHost(lab, i + 1, tap);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { lab, diagnostics: () => Promise.resolve({ pid }), close };
}

let relayBinary: Promise<string> | undefined;

/** buildRelay compiles bench/relay.c once per run into a temporary directory; returns the program. */
function buildRelay(): Promise<string> {
  relayBinary ??= (async () => {
    const source = fileURLToPath(new URL('../../bench/relay.c', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), `${FAMILY}-relay-`));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'relay');
    await promisify(execFile)('cc', ['-O2', '-Wall', '-Wextra', '-o', out, source], { timeout: 60_000 });
    return out;
  })();
  return relayBinary;
}

/** relayRig runs bench/relay.c in sw over one TAP per host (pairs h1-h2, h3-h4); the TAPs move to the hosts. */
export async function relayRig(lab: Lab): Promise<Rig> {
  const close = once(() => lab.close()); // kills the relay with everything else spawned in the lab
  try {
    const program = await buildRelay();
    await addNamespaces(lab);
    const taps = Array.from({ length: HOSTS }, (_, i) => lab.name(`t${i + 1}`));
    // Bounded like every load here: the relay ends by itself after the longest a run may take.
    const proc = lab.spawn('sw', program, ['3600', ...taps]);
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    for (const [i, tap] of taps.entries()) {
      await waitFor(`relay TAP ${tap}`, 5000, () => lab.ip('sw', 'link', 'show', tap).then(() => true)).catch((e: unknown) => {
        throw new Error(`${message(e)}${proc.exitCode !== null ? `; relay exited ${proc.exitCode}: ${err.trim()}` : ''}`);
      });
      await lab.ip('sw', 'link', 'set', tap, 'netns', lab.name(hostShort(i + 1)));
      await configureHost(lab, i + 1, tap);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { lab, diagnostics: () => Promise.resolve(undefined), close };
}

/** tapwireTopology is the topology file for tapwired: one bridge, one TAP per host. */
export function tapwireTopology(lab: Lab): unknown {
  const ports = Array.from({ length: HOSTS }, (_, i) => ({
    name: lab.name(`t${i + 1}`),
    kind: 'tap',
    netns: lab.name(hostShort(i + 1)),
    addresses: [`${hostAddress(i + 1)}/24`],
  }));
  return { bridges: [{ name: 'br0', ports }] };
}

async function stopDaemon(d: RunningDaemon): Promise<void> {
  try {
    await withTimeout(d.stop(), 10_000, 'tapwired stop');
  } catch {
    d.proc.kill('SIGKILL');
  }
}

/** tapwireRig runs tapwired in sw; the helper waits for its `ready` line. */
export async function tapwireRig(lab: Lab): Promise<Rig> {
  let daemon: RunningDaemon | undefined;
  const close = once(async () => {
    if (daemon !== undefined) await stopDaemon(daemon);
    await lab.close();
  });
  try {
    await addNamespaces(lab);
    daemon = await startDaemon(lab, 'sw', tapwireTopology(lab));
  } catch (e) {
    await close();
    throw e;
  }
  const d = daemon;
  return { lab, diagnostics: () => withTimeout(d.stats(), 5000, 'tapwired stats'), close };
}

const RIGS: Record<SwitchName, (lab: Lab) => Promise<Rig>> = { kernel: kernelRig, vde: vdeRig, relay: relayRig, tapwire: tapwireRig };

// ------------------------------------------------------------------------------------------ measures

/** warmUp pings each host pair both ways until a reply comes (ARP resolved, MACs learned). */
export async function warmUp(lab: Lab): Promise<void> {
  for (let n = 1; n <= HOSTS; n += 2) {
    for (const [from, to] of [
      [n, n + 1],
      [n + 1, n],
    ] as const) {
      await waitFor(`a ping reply ${hostAddress(from)} -> ${hostAddress(to)}`, 10_000, () =>
        lab.exec(hostShort(from), 'ping', ['-c', '1', '-W', '1', hostAddress(to)], { timeoutMs: 3000 }).then(() => true),
      );
      await lab.exec(hostShort(from), 'ping', ['-c', '5', '-i', '0.01', '-q', '-W', '1', hostAddress(to)], { timeoutMs: 5000 });
    }
  }
}

/** PingResult is a parsed ping summary (times in µs). */
export interface PingResult {
  minUs: number;
  avgUs: number;
  maxUs: number;
  mdevUs: number;
  transmitted: number;
  received: number;
}

/** parsePing reads the summary lines of iputils ping. */
export function parsePing(text: string): PingResult {
  const rtt = /rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(text);
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(text);
  if (rtt === null || counts === null) throw new Error(`cannot parse ping output: ${text.trim()}`);
  const us = (i: number): number => Number(rtt[i]) * 1000;
  return { minUs: us(1), avgUs: us(2), maxUs: us(3), mdevUs: us(4), transmitted: Number(counts[1]), received: Number(counts[2]) };
}

/** measurePing returns h1 -> h2 ping statistics. */
export async function measurePing(lab: Lab): Promise<PingResult> {
  const r = await lab.exec(hostShort(1), 'ping', ['-c', String(PING_COUNT), '-i', PING_INTERVAL, '-q', '-W', '1', hostAddress(2)], { timeoutMs: 30_000 });
  return parsePing(r.stdout);
}

/** IperfJson is the part of `iperf3 -J` output the benchmark reads. */
export interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second?: number; seconds?: number };
    sum?: { packets?: number; lost_packets?: number; seconds?: number };
  };
}

/** parseIperf parses `iperf3 -J` output and throws its `error`, if any. */
export function parseIperf(text: string): IperfJson {
  let j: IperfJson;
  try {
    j = JSON.parse(text) as IperfJson;
  } catch {
    throw new Error(`iperf3 output is not JSON: ${text.slice(0, 300)}`);
  }
  if (typeof j.error === 'string') throw new Error(`iperf3: ${j.error}`);
  return j;
}

/** IperfServer is a one-shot `iperf3 -s -1 -J` in a host namespace. */
interface IperfServer {
  /** output resolves with the server's JSON report when it exits. */
  output: Promise<string>;
  kill(): void;
}

/** startIperfServer spawns a one-shot server in host `n` and waits until it listens. */
async function startIperfServer(lab: Lab, n: number): Promise<IperfServer> {
  const proc = lab.spawn(hostShort(n), 'iperf3', ['-s', '-1', '-J', '-p', IPERF_PORT]);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const output = new Promise<string>((resolve) => proc.once('exit', () => resolve(out)));
  const server = { output, kill: () => void proc.kill('SIGKILL') };
  try {
    await waitFor(`iperf3 server in ${hostShort(n)} listening`, 5000, async () => {
      if (proc.exitCode !== null) throw new Error(`iperf3 server exited: ${out}`);
      const r = await lab.exec(hostShort(n), 'ss', ['-Hltn', 'sport', '=', `:${IPERF_PORT}`], { timeoutMs: 3000 });
      return r.stdout.trim() !== '' ? true : undefined;
    });
  } catch (e) {
    server.kill();
    throw e;
  }
  return server;
}

/** finishServer waits briefly for the server's report, then kills it; returns its output. */
async function finishServer(server: IperfServer): Promise<string> {
  try {
    return await withTimeout(server.output, 5000, 'iperf3 server exit');
  } catch {
    return '';
  } finally {
    server.kill(); // a no-op when it has exited
  }
}

function iperfClient(lab: Lab, from: number, to: number, seconds: number, extra: string[]): Promise<string> {
  const args = ['-c', hostAddress(to), '-p', IPERF_PORT, '-t', String(seconds), '-J', ...extra];
  return lab.exec(hostShort(from), 'iperf3', args, { timeoutMs: (seconds + 20) * 1000 }).then((r) => r.stdout);
}

/** tcpFlow runs one iperf3 TCP test from host `from` to host `to`; returns the receiver's Gb/s. */
export async function tcpFlow(lab: Lab, from: number, to: number, seconds: number): Promise<number> {
  const server = await startIperfServer(lab, to);
  try {
    const j = parseIperf(await iperfClient(lab, from, to, seconds, []));
    const bps = j.end?.sum_received?.bits_per_second;
    if (typeof bps !== 'number') throw new Error('iperf3 TCP report has no end.sum_received.bits_per_second');
    return bps / 1e9;
  } finally {
    await finishServer(server);
  }
}

/** measureTcp1 is one TCP stream h1 -> h2, in Gb/s. */
export function measureTcp1(lab: Lab, seconds: number): Promise<number> {
  return tcpFlow(lab, 1, 2, seconds);
}

/** measureTcp2x is the sum of two concurrent TCP flows h1 -> h2 and h3 -> h4, in Gb/s. */
export async function measureTcp2x(lab: Lab, seconds: number): Promise<number> {
  const flows = await Promise.allSettled([tcpFlow(lab, 1, 2, seconds), tcpFlow(lab, 3, 4, seconds)]);
  let sum = 0;
  for (const f of flows) {
    if (f.status === 'rejected') throw f.reason;
    sum += f.value;
  }
  return sum;
}

/** deliveredPps is (packets - lost) / seconds of an iperf3 UDP `end.sum`, or undefined if incomplete. */
export function deliveredPps(j: IperfJson): number | undefined {
  const s = j.end?.sum;
  if (s === undefined || typeof s.packets !== 'number' || typeof s.lost_packets !== 'number' || typeof s.seconds !== 'number' || s.seconds <= 0) return undefined;
  return (s.packets - s.lost_packets) / s.seconds;
}

/** UdpDetail says where the packets of a udp64 test went, each in packets per second of the test. */
export interface UdpDetail {
  /** sent is what the sending iperf3 sent. */
  sent: number;
  /** forwarded is what h2's interface received: what the switch handed over. */
  forwarded: number;
  /** delivered is what the receiving iperf3 got (the udp64 figure). */
  delivered: number;
  /** receiverDrops is what h2's UDP layer dropped for want of socket buffer (RcvbufErrors). */
  receiverDrops: number;
}

/** HostCounters are the counters of one host namespace that UdpDetail is made of. */
interface HostCounters {
  rxPackets: number;
  rcvbufErrors: number;
}

/** parseSnmpField reads field `name` of protocol `proto` from /proc/net/snmp (header line, value line). */
export function parseSnmpField(text: string, proto: string, name: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${proto}:`));
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const keys = lines[i]!.split(/\s+/).slice(1);
    const values = lines[i + 1]!.split(/\s+/).slice(1);
    const k = keys.indexOf(name);
    if (k >= 0 && values[k] !== undefined && /^\d+$/.test(values[k])) return Number(values[k]);
  }
  throw new Error(`/proc/net/snmp has no ${proto} ${name}`);
}

/** hostCounters sums the rx packets of host `n`'s interfaces (loopback aside) and reads its UDP drops. */
async function hostCounters(lab: Lab, n: number): Promise<HostCounters> {
  const links = JSON.parse((await lab.ip(hostShort(n), '-j', '-s', 'link', 'show')).stdout) as { ifname?: string; stats64?: { rx?: { packets?: number } } }[];
  let rxPackets = 0;
  for (const l of links) if (l.ifname !== 'lo') rxPackets += l.stats64?.rx?.packets ?? 0;
  const snmp = await lab.exec(hostShort(n), 'cat', ['/proc/net/snmp'], { timeoutMs: 3000 });
  return { rxPackets, rcvbufErrors: parseSnmpField(snmp.stdout, 'Udp', 'RcvbufErrors') };
}

/** measureUdp64 floods 64-byte UDP payloads h1 -> h2; returns the packets/s the receiver got, and where
 * the packets went. */
export async function measureUdp64(lab: Lab, seconds: number): Promise<{ pps: number; detail: UdpDetail | undefined }> {
  const server = await startIperfServer(lab, 2);
  let client: IperfJson;
  let before: HostCounters | undefined;
  try {
    before = await hostCounters(lab, 2).catch(() => undefined);
    client = parseIperf(await iperfClient(lab, 1, 2, seconds, ['-u', '-b', '0', '-l', '64']));
  } catch (e) {
    server.kill();
    throw e;
  }
  // The receiver's own report is the primary figure; the client's end.sum carries the same numbers as
  // reported back by the server, and is the fallback if the server's JSON is missing.
  const serverText = await finishServer(server);
  let pps: number | undefined;
  try {
    pps = deliveredPps(parseIperf(serverText));
  } catch {
    pps = undefined;
  }
  pps ??= deliveredPps(client);
  if (pps === undefined) throw new Error('iperf3 UDP report has no end.sum packets/lost_packets/seconds');
  const after = await hostCounters(lab, 2).catch(() => undefined);
  const sum = client.end?.sum;
  let detail: UdpDetail | undefined;
  if (before !== undefined && after !== undefined && typeof sum?.packets === 'number' && typeof sum.seconds === 'number' && sum.seconds > 0) {
    const per = (v: number): number => v / sum.seconds!;
    detail = {
      sent: per(sum.packets),
      forwarded: per(after.rxPackets - before.rxPackets),
      delivered: pps,
      receiverDrops: per(after.rcvbufErrors - before.rcvbufErrors),
    };
  }
  return { pps, detail };
}

// ---------------------------------------------------------------------------------------------- run

/** hostLinkStats reads `ip -s -j link` of every host's interface (loopback left out). */
export async function hostLinkStats(lab: Lab): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (let n = 1; n <= HOSTS; n++) {
    const links = JSON.parse((await lab.ip(hostShort(n), '-j', '-s', 'link', 'show')).stdout) as { ifname?: string; stats64?: unknown }[];
    for (const l of links) if (l.ifname !== undefined && l.ifname !== 'lo') out[`${hostShort(n)}/${l.ifname}`] = l.stats64;
  }
  return out;
}

/** SwitchResult holds one switch's figures (null when not measured) and why any is missing. */
export interface SwitchResult {
  figures: Record<Figure, number | null>;
  errors: Partial<Record<Figure | 'setup', string>>;
  ping?: PingResult;
  /** pingRounds is the average RTT of each interleaved round, in µs. */
  pingRounds?: number[];
  /** diagnostics is the switch's own counters (tapwired's `stats` line; vde's pid). */
  diagnostics?: unknown;
  /** udp64Detail is where the udp64 test's packets went (undefined if the counters could not be read). */
  udp64Detail?: UdpDetail;
  /** hostLinks is each host interface's kernel counters after the run: drops there are frames the
   * switch did not take off (or hand to) the link fast enough, which no switch counter shows. */
  hostLinks?: Record<string, unknown>;
}

// What a signal or the watchdog must clean up: every lab made (closing a closed one is a no-op), the rig
// being measured (to stop tapwired and vde_switch gently first), and the step in flight, which must settle
// before the last sweep so that a setup cut short cannot add a namespace after it.
let stopping = false;
const labs: Lab[] = [];
let activeRig: Rig | undefined;
let inFlight: Promise<unknown> = Promise.resolve();

class Stopping extends Error {
  constructor() {
    super('stopping');
  }
}

async function measureFigure(result: SwitchResult, name: SwitchName, fig: Figure, fn: () => Promise<number>): Promise<void> {
  if (stopping) return;
  try {
    const v = await fn();
    result.figures[fig] = v;
    progress(`${name} ${fig} = ${formatValue(fig, v)} ${FIGURE_INFO[fig].unit}`);
  } catch (e) {
    result.errors[fig] = message(e);
    progress(`${name} ${fig} failed: ${message(e)}`);
  }
}

/** emptyResult is a SwitchResult with nothing measured yet. */
function emptyResult(): SwitchResult {
  return { figures: { tcp1: null, tcp2x: null, udp64: null, ping: null }, errors: {} };
}

/** runPingRounds sets up every switch side by side and pings them in interleaved rounds. */
export async function runPingRounds(results: Record<SwitchName, SwitchResult>): Promise<void> {
  const rigs: Partial<Record<SwitchName, Rig>> = {};
  try {
    for (const name of SWITCHES) {
      if (stopping) throw new Stopping();
      progress(`${name}: setting up for ping`);
      const lab = await Lab.create(FAMILY);
      labs.push(lab);
      try {
        const rig = await withTimeout(RIGS[name](lab), 60_000, `${name} setup`);
        rigs[name] = rig;
        await warmUp(lab);
      } catch (e) {
        results[name].errors.ping = message(e);
        progress(`${name} ping setup failed: ${message(e)}`);
      }
    }
    const rounds: Partial<Record<SwitchName, PingResult[]>> = {};
    for (let r = 0; r < PING_ROUNDS; r++) {
      for (const name of SWITCHES) {
        const rig = rigs[name];
        if (rig === undefined || stopping) continue;
        try {
          (rounds[name] ??= []).push(await measurePing(rig.lab));
        } catch (e) {
          results[name].errors.ping = message(e);
        }
      }
    }
    for (const name of SWITCHES) {
      const list = rounds[name];
      if (list === undefined || list.length !== PING_ROUNDS) continue;
      const sum = (f: (p: PingResult) => number): number => list.reduce((a, p) => a + f(p), 0);
      results[name].ping = {
        minUs: Math.min(...list.map((p) => p.minUs)),
        avgUs: sum((p) => p.avgUs * p.received) / sum((p) => p.received),
        maxUs: Math.max(...list.map((p) => p.maxUs)),
        mdevUs: Math.max(...list.map((p) => p.mdevUs)),
        transmitted: sum((p) => p.transmitted),
        received: sum((p) => p.received),
      };
      results[name].pingRounds = list.map((p) => p.avgUs);
      results[name].figures.ping = results[name].ping.avgUs;
      progress(`${name} ping = ${formatValue('ping', results[name].ping.avgUs)} µs (rounds: ${list.map((p) => p.avgUs.toFixed(0)).join(' ')})`);
    }
  } finally {
    for (const name of SWITCHES) await rigs[name]?.close();
  }
}

/** runSwitch sets up one switch, measures the throughput figures, and removes it all again. */
export async function runSwitch(name: SwitchName, seconds: number, result: SwitchResult): Promise<SwitchResult> {
  progress(`${name}: setting up`);
  const lab = await Lab.create(FAMILY);
  labs.push(lab);
  let rig: Rig | undefined;
  try {
    if (stopping) throw new Stopping();
    rig = await withTimeout(RIGS[name](lab), 60_000, `${name} setup`);
    activeRig = rig;
    await warmUp(lab);
  } catch (e) {
    result.errors.setup = message(e);
    progress(`${name} setup failed: ${result.errors.setup}`);
    await (rig?.close() ?? lab.close());
    activeRig = undefined;
    return result;
  }
  try {
    await measureFigure(result, name, 'tcp1', () => measureTcp1(lab, seconds));
    await measureFigure(result, name, 'tcp2x', () => measureTcp2x(lab, seconds));
    await measureFigure(result, name, 'udp64', async () => {
      const { pps, detail } = await measureUdp64(lab, seconds);
      if (detail !== undefined) result.udp64Detail = detail;
      return pps;
    });
    result.diagnostics = await rig.diagnostics().catch((e: unknown) => ({ error: message(e) }));
    result.hostLinks = await hostLinkStats(lab).catch((e: unknown) => ({ error: message(e) }));
  } finally {
    await rig.close();
    activeRig = undefined;
  }
  return result;
}

// ------------------------------------------------------------------------------------------- report

/** Ratios are tapwire's figure over the kernel's and vde's (null when either is missing). */
export type Ratios = Record<Figure, { kernel: number | null; vde: number | null; relay: number | null }>;

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** computeRatios divides tapwire's figures by the other switches'. */
export function computeRatios(results: Record<SwitchName, SwitchResult>): Ratios {
  const out = {} as Ratios;
  for (const f of FIGURES) {
    const tw = results.tapwire.figures[f];
    out[f] = { kernel: ratio(tw, results.kernel.figures[f]), vde: ratio(tw, results.vde.figures[f]), relay: ratio(tw, results.relay.figures[f]) };
  }
  return out;
}

/** Target is one goal of the project with its outcome (null when it could not be judged). */
export interface Target {
  name: string;
  pass: boolean | null;
  value: number | null;
  /** unit of value when it is not a ratio (e.g. "M/s") */
  unit?: string;
}

function target(name: string, value: number | null, ok: (v: number) => boolean, unit?: string): Target {
  const t: Target = { name, value, pass: value === null ? null : ok(value) };
  if (unit !== undefined) t.unit = unit;
  return t;
}

/** judgeTargets checks the project's targets against the ratios. */
export function judgeTargets(r: Ratios): Target[] {
  return [
    target('tcp1 >= 0.5x kernel', r.tcp1.kernel, (v) => v >= 0.5),
    target('tcp1 >= 6x vde', r.tcp1.vde, (v) => v >= 6),
    target('udp64 >= 1.3x vde', r.udp64.vde, (v) => v >= 1.3),
    target('ping avg < vde', r.ping.vde, (v) => v < 1),
  ];
}

function formatValue(f: Figure, v: number | null): string {
  if (v === null) return 'n/a';
  if (f === 'udp64') return Math.round(v).toLocaleString('en-US');
  if (f === 'ping') return v.toFixed(1);
  return v.toFixed(2);
}

function formatRatio(v: number | null): string {
  return v === null ? 'n/a' : `${v.toFixed(2)}x`;
}

/** formatTable lays the figures and ratios out as a text table. */
export function formatTable(results: Record<SwitchName, SwitchResult>, ratios: Ratios): string {
  const head = ['figure', ...SWITCHES, 'tapwire/kernel', 'tapwire/vde', 'tapwire/relay'];
  const rows = FIGURES.map((f) => [
    `${FIGURE_INFO[f].label} (${FIGURE_INFO[f].unit})${FIGURE_INFO[f].higherIsBetter ? '' : ' *'}`,
    ...SWITCHES.map((s) => formatValue(f, results[s].figures[f])),
    formatRatio(ratios[f].kernel),
    formatRatio(ratios[f].vde),
    formatRatio(ratios[f].relay),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '* lower is better: a ratio below 1 means tapwire is faster',
    'relay: bench/relay.c, a poll/read/write copy between TAP pairs (a reference floor, not a switch)',
  ].join('\n');
}

/** formatUdpDetail lays out, per switch, where the packets of the udp64 test went. */
export function formatUdpDetail(results: Record<SwitchName, SwitchResult>): string {
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  const lines = SWITCHES.map((s) => {
    const d = results[s].udp64Detail;
    if (d === undefined) return `  ${s.padEnd(8)} n/a`;
    return `  ${s.padEnd(8)} sent ${n(d.sent)}, forwarded to h2 ${n(d.forwarded)}, delivered ${n(d.delivered)}, dropped at h2's socket ${n(d.receiverDrops)}`;
  });
  return ['udp64 packets/s, where they went:', ...lines].join('\n');
}

function formatTargets(targets: Target[]): string {
  return targets
    .map((t) => `${t.pass === null ? 'UNKNOWN' : t.pass ? 'PASS' : 'FAIL'}  ${t.name}  (${t.unit === undefined ? formatRatio(t.value) : `${t.value?.toFixed(1) ?? 'n/a'} ${t.unit}`})`)
    .join('\n');
}

/** resultsDir is bench-results/ at the repository root (git-ignored). */
function resultsDir(): string {
  return fileURLToPath(new URL('../../bench-results/', import.meta.url));
}

/** isoBasic is an ISO 8601 time in basic format (no colons, so safe in file names): 20250102T030405Z. */
export function isoBasic(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function writeReport(report: unknown, started: Date): string {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${isoBasic(started)}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

// --------------------------------------------------------------------------------------------- main

async function cleanUpAll(): Promise<void> {
  await activeRig?.close();
  await withTimeout(inFlight, 30_000, 'the step in flight').catch(() => undefined);
  for (const lab of labs) await lab.close();
}

/** abort cleans everything up and exits with `code`; only the first call acts. */
async function abort(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  progress(`${reason}: cleaning up`);
  await withTimeout(cleanUpAll(), 60_000, 'cleanup').catch((e: unknown) => progress(message(e)));
  process.exit(code);
}

function installGuards(seconds: number): void {
  process.once('SIGINT', () => void abort('SIGINT', 130));
  process.once('SIGTERM', () => void abort('SIGTERM', 143));
  // Setup, warm-up and close are bounded by ~150 s per switch, the four measures by their own timeouts.
  // The routed path: 2 rounds x 2 rigs, each bounded by setup + one iperf3 test; the lookups take seconds.
  const limitMs = (SWITCHES.length * (150 + 4 * (seconds + 30)) + 4 * (90 + seconds + 30) + 120) * 1000;
  setTimeout(() => void abort(`watchdog: run exceeded ${limitMs / 1000} s`, 2), limitMs).unref();
}

async function main(): Promise<number> {
  const seconds = parseSeconds(process.argv.slice(2), process.env);
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, TAP devices)');
  installGuards(seconds);
  const started = new Date();
  const load = loadavg();
  progress(`${seconds} s per iperf3 test; kernel ${release()}; load ${load.map((l) => l.toFixed(2)).join(' ')}`);
  const results = { kernel: emptyResult(), vde: emptyResult(), relay: emptyResult(), tapwire: emptyResult() };
  const pings = runPingRounds(results);
  inFlight = pings;
  await pings;
  for (const s of SWITCHES) {
    if (stopping) throw new Stopping();
    const step = runSwitch(s, seconds, results[s]);
    inFlight = step;
    await step;
  }
  if (stopping) throw new Stopping();
  progress('routed path: kernel forwarding vs tapwire router');
  const routedStep = routedBench(FAMILY, seconds, progress, labs);
  inFlight = routedStep;
  const routed = await routedStep;
  if (stopping) throw new Stopping();
  progress('route table: 100,000 routes per family');
  const lookups = await routeLookupBench();
  const ratios = computeRatios(results);
  const targets = [
    ...judgeTargets(ratios),
    target('routed tcp >= 0.4x kernel forwarding', routed.ratio, (v) => v >= 0.4),
    target('route lookups v4 >= 3M/s (100k routes)', lookups.v4.lookupsPerSec / 1e6, (v) => v >= 3, 'M/s'),
    target('route lookups v6 >= 3M/s (100k routes)', lookups.v6.lookupsPerSec / 1e6, (v) => v >= 3, 'M/s'),
  ];
  const routedLine = `routed TCP 1 stream (Gb/s): kernel forwarding ${routed.kernel?.toFixed(2) ?? 'n/a'}, tapwire router ${routed.tapwire?.toFixed(2) ?? 'n/a'}, ratio ${formatRatio(routed.ratio)}`;
  const lookupLine = `route lookups, 100k routes: IPv4 ${(lookups.v4.lookupsPerSec / 1e6).toFixed(1)} M/s (${(lookups.v4.heapBytes / 2 ** 20).toFixed(1)} MiB), IPv6 ${(lookups.v6.lookupsPerSec / 1e6).toFixed(1)} M/s (${(lookups.v6.heapBytes / 2 ** 20).toFixed(1)} MiB)`;
  process.stdout.write(`${formatTable(results, ratios)}\n\n${formatUdpDetail(results)}\n\n${routedLine}\n${lookupLine}\n\ntargets:\n${formatTargets(targets)}\n`);
  const report = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    kernel: release(),
    node: process.version,
    cpus: cpus().length,
    loadavgAtStart: load,
    seconds,
    ping: { count: PING_COUNT, rounds: PING_ROUNDS, interval: Number(PING_INTERVAL) },
    units: Object.fromEntries(FIGURES.map((f) => [f, FIGURE_INFO[f].unit])),
    results,
    ratios,
    routed,
    routeLookups: lookups,
    targets,
  };
  progress(`wrote ${writeReport(report, started)}`);
  const missing = SWITCHES.some((s) => FIGURES.some((f) => results[s].figures[f] === null)) || routed.ratio === null;
  return missing ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => void abort(`error: ${message(e)}`, 1), // a no-op when a signal is already stopping the run
);
