// Benchmark of the routed path: one iperf3 TCP stream between two hosts in different subnets, through the
// Linux kernel forwarding between namespaces (ip_forward=1) and through tapwire's router, in one run.
//
// Topology, per router: a router namespace `rt` and two hosts r1 (10.91.1.1/24) and r2 (10.91.2.1/24),
// each with a default route via .254 of its subnet:
//   kernel   veth pairs rt <-> r1, rt <-> r2, the gateway addresses on the rt ends, forwarding on in rt;
//   tapwire  tapwired in rt with two bridges, one TAP port into each host, and a router interface with the
//            gateway address on each bridge (built through the REST API, as a user would).
// The two rigs are measured one after the other, alternating ROUNDS times, and the best stream of each is
// kept: on this 2-core virtual machine a single run moves by ±20%, and the best run is the one least
// disturbed by the host.
import { Lab } from '../test/helpers/lab.js';
import { daemonFiles, startDaemon } from '../test/helpers/daemon.js';
import { api } from '../test/helpers/curl.js';

const ROUNDS = 2;
const PORT = '5202';
const R2 = '10.91.2.1';

/** RoutedFigures are the routed TCP figures of one run, in Gb/s (null when a rig failed). */
export interface RoutedFigures {
  kernel: number | null;
  tapwire: number | null;
  ratio: number | null;
  runs: { kernel: number[]; tapwire: number[] };
  errors: string[];
}

interface RoutedRig {
  lab: Lab;
  close(): Promise<void>;
}

async function hosts(lab: Lab): Promise<void> {
  for (const ns of ['rt', 'r1', 'r2']) await lab.addNs(ns);
}

async function kernelRouter(lab: Lab): Promise<RoutedRig> {
  await hosts(lab);
  for (const [h, net] of [
    ['r1', '1'],
    ['r2', '2'],
  ] as const) {
    const inner = lab.name(`g${net}`);
    const outer = lab.name(`e${net}`);
    await lab.ip('rt', 'link', 'add', inner, 'type', 'veth', 'peer', 'name', outer, 'netns', lab.name(h));
    await lab.ip('rt', 'addr', 'add', `10.91.${net}.254/24`, 'dev', inner);
    await lab.ip('rt', 'link', 'set', inner, 'up');
    await lab.ip(h, 'addr', 'add', `10.91.${net}.1/24`, 'dev', outer);
    await lab.ip(h, 'link', 'set', outer, 'up');
    await lab.ip(h, 'route', 'add', 'default', 'via', `10.91.${net}.254`);
  }
  await lab.exec('rt', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  return { lab, close: () => lab.close() };
}

async function tapwireRouter(lab: Lab): Promise<RoutedRig> {
  await hosts(lab);
  const files = daemonFiles(lab);
  const daemon = await startDaemon(lab, 'rt', undefined, {}, { files });
  const close = async (): Promise<void> => {
    await daemon.stop();
    await lab.close();
  };
  try {
    for (const [h, net] of [
      ['r1', '1'],
      ['r2', '2'],
    ] as const) {
      await api(files.socket, 'POST', '/v1/bridges', { name: `br${net}` });
      await api(files.socket, 'POST', `/v1/bridges/br${net}/ports`, { name: lab.name(`t${net}`), kind: 'tap', netns: lab.name(h), addresses: [`10.91.${net}.1/24`] });
      await api(files.socket, 'POST', '/v1/router/interfaces', { name: `gw${net}`, bridge: `br${net}`, addresses: [`10.91.${net}.254/24`] });
      await lab.ip(h, 'route', 'add', 'default', 'via', `10.91.${net}.254`);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { lab, close };
}

/** tcpThrough runs one iperf3 TCP stream r1 -> r2 for `seconds` and returns the receiver's Gb/s. */
async function tcpThrough(lab: Lab, seconds: number): Promise<number> {
  await lab.exec('r1', 'ping', ['-c', '1', '-W', '3', R2], { timeoutMs: 10_000 });
  const server = lab.spawn('r2', 'iperf3', ['-s', '-1', '-p', PORT, '-B', R2]);
  try {
    for (let i = 0; i < 50; i++) {
      const r = await lab.exec('r2', 'ss', ['-Hltn', 'sport', '=', `:${PORT}`], { timeoutMs: 3000 });
      if (r.stdout.trim() !== '') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const out = await lab.exec('r1', 'iperf3', ['-c', R2, '-p', PORT, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 });
    const bps = (JSON.parse(out.stdout) as { end?: { sum_received?: { bits_per_second?: number } } }).end?.sum_received?.bits_per_second;
    if (typeof bps !== 'number') throw new Error('iperf3 report without end.sum_received.bits_per_second');
    return bps / 1e9;
  } finally {
    server.kill('SIGKILL');
  }
}

/** routedBench measures TCP through the kernel's forwarding and through tapwire's router, alternating. */
export async function routedBench(family: string, seconds: number, progress: (s: string) => void, labs: Lab[]): Promise<RoutedFigures> {
  const runs = { kernel: [] as number[], tapwire: [] as number[] };
  const errors: string[] = [];
  const rigs = { kernel: kernelRouter, tapwire: tapwireRouter };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of ['kernel', 'tapwire'] as const) {
      const lab = await Lab.create(family);
      labs.push(lab);
      let rig: RoutedRig | undefined;
      try {
        rig = await rigs[name](lab);
        const gbps = await tcpThrough(lab, seconds);
        runs[name].push(gbps);
        progress(`routed ${name}: ${gbps.toFixed(2)} Gb/s`);
      } catch (e) {
        errors.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
        progress(`routed ${name} failed: ${errors[errors.length - 1]}`);
      } finally {
        await (rig?.close() ?? lab.close());
      }
    }
  }
  const best = (xs: number[]): number | null => (xs.length === 0 ? null : Math.max(...xs));
  const kernel = best(runs.kernel);
  const tapwire = best(runs.tapwire);
  return { kernel, tapwire, ratio: kernel === null || tapwire === null || kernel === 0 ? null : tapwire / kernel, runs, errors };
}
