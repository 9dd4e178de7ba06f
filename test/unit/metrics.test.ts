import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { BridgeStatus, LinkStatus, PortStatus, RouterInterfaceStatus, RouterStatus } from '../../src/daemon/resources.js';
import { BRIDGE_FIELDS } from '../../src/dataplane/counters.js';
import { Metrics, MetricsSource, UNMATCHED_ROUTE } from '../../src/metrics/metrics.js';
import { DROP_REASONS } from '../../src/ports/drop-reason.js';
import { ICMP_SENT, ROUTER_DROP_REASONS } from '../../src/router/stats.js';

// FakeSource is a daemon with two bridges; tests edit `bridgeList`/`portList` and count the reads.
class FakeSource implements MetricsSource {
  reads = 0;
  fail = false;
  bridgeList: BridgeStatus[] = [
    {
      name: 'br0',
      agingSeconds: 300,
      fdbMax: 8192,
      ports: ['h1', 'h2'],
      counters: { fdbEntries: 2, fdbLearned: 5, fdbMoved: 1, fdbExpired: 3, fdbEvicted: 0, floods: 42 },
    },
    {
      name: 'lab.net-1',
      agingSeconds: 60,
      fdbMax: 16,
      ports: ['vm1'],
      counters: { fdbEntries: 16, fdbLearned: 100, fdbMoved: 0, fdbExpired: 0, fdbEvicted: 84, floods: 7 },
    },
  ];
  portList: PortStatus[] = [
    port('br0', 'h1', 'up', {
      rxFrames: 10,
      rxBytes: 12_345,
      txFrames: 20,
      txBytes: 2 ** 40,
      rxGsoFrames: 3,
      txGsoFrames: 4,
      rxBatches: 5,
      drops: { same_port: 2, reserved_group: 1 },
    }),
    port('br0', 'h2', 'down', {
      rxFrames: 0,
      rxBytes: 0,
      txFrames: 0,
      txBytes: 0,
      rxGsoFrames: 0,
      txGsoFrames: 0,
      rxBatches: 0,
      drops: { port_down: 9 },
    }),
    port('lab.net-1', 'vm1', 'up', {
      rxFrames: 1,
      rxBytes: 60,
      txFrames: 2,
      txBytes: 120,
      rxGsoFrames: 0,
      txGsoFrames: 0,
      rxBatches: 1,
      drops: {},
    }),
  ];

  async bridges(): Promise<BridgeStatus[]> {
    this.reads++;
    await Promise.resolve();
    if (this.fail) throw new Error('data plane gone');
    return structuredClone(this.bridgeList);
  }

  async ports(): Promise<PortStatus[]> {
    await Promise.resolve();
    if (this.fail) throw new Error('data plane gone');
    return structuredClone(this.portList);
  }
}

// RouterSource is FakeSource with a router: a link with its router interface, a router port on br0.
class RouterSource extends FakeSource {
  linkList: LinkStatus[] = [
    {
      name: 'tun0',
      kind: 'tun',
      ifname: 'tun0',
      netns: 'u',
      addresses: ['10.9.0.1/30'],
      mtu: 1500,
      routes: [],
      state: 'up',
      routerInterface: 'ru',
      counters: { rxFrames: 7, rxBytes: 700, txFrames: 8, txBytes: 800, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 3, drops: { write_error: 1 } },
    },
  ];
  interfaceList: RouterInterfaceStatus[] = [
    {
      name: 'r0',
      bridge: 'br0',
      addresses: ['10.0.0.254/24'],
      mac: '02:74:77:dd:19:16',
      mtu: 1500,
      routerAdvertisements: false,
      state: 'up',
      counters: { rxFrames: 30, rxBytes: 3000, txFrames: 31, txBytes: 3100, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 10, drops: {} },
    },
    { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'], mtu: 1500, routerAdvertisements: false, state: 'up', counters: this.linkList[0]!.counters },
  ];
  routerStatus: RouterStatus = {
    interfaces: 2,
    routes: 4,
    counters: {
      forwarded4: 100,
      forwarded6: 50,
      delivered4: 3,
      delivered6: 2,
      fragmentsCreated: 4,
      arpReceived: 5,
      arpSent: 6,
      ndpReceived: 7,
      ndpSent: 8,
      raSent: 9,
      icmpRateLimited: 11,
      neighborEntries: 2,
      routes4: 3,
      routes6: 1,
      drops: { no_route: 12, ttl_expired: 13 },
      icmpSent: ICMP_SENT.map((k) => ({ family: k.family, type: k.type, count: k.family === 4 && k.type === 'time_exceeded' ? 13 : 0 })),
    },
  };

  async links(): Promise<LinkStatus[]> {
    return structuredClone(this.linkList);
  }

  async routerInterfaces(): Promise<RouterInterfaceStatus[]> {
    return structuredClone(this.interfaceList);
  }

  async router(): Promise<RouterStatus> {
    return structuredClone(this.routerStatus);
  }
}

function port(bridge: string, name: string, state: PortStatus['state'], counters: PortStatus['counters']): PortStatus {
  return { name, bridge, kind: 'tap', ifname: `tw-${name}`, addresses: [], mtu: 1500, state, counters };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// samples parses the sample lines of the Prometheus text format (label values without escapes).
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

// find returns the samples called `name` whose labels include `labels`.
function find(all: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

// value returns the one sample called `name` with exactly `labels`.
function value(all: Sample[], name: string, labels: Record<string, string>): number {
  const hits = all.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()));
  assert.equal(hits.length, 1, `${name}${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0]!.value;
}

test('metrics: port counters, state and bridge counters are exported with their values', async () => {
  const src = new FakeSource();
  const text = await new Metrics(src).render();
  const all = samples(text);
  const h1 = { bridge: 'br0', port: 'h1', kind: 'tap' };
  assert.equal(value(all, 'tapwire_port_rx_frames_total', h1), 10);
  assert.equal(value(all, 'tapwire_port_rx_bytes_total', h1), 12_345);
  assert.equal(value(all, 'tapwire_port_tx_frames_total', h1), 20);
  assert.equal(value(all, 'tapwire_port_tx_bytes_total', h1), 2 ** 40);
  assert.equal(value(all, 'tapwire_port_rx_gso_frames_total', h1), 3);
  assert.equal(value(all, 'tapwire_port_tx_gso_frames_total', h1), 4);
  assert.equal(value(all, 'tapwire_port_rx_batches_total', h1), 5);
  assert.equal(value(all, 'tapwire_port_up', h1), 1);
  assert.equal(value(all, 'tapwire_port_up', { bridge: 'br0', port: 'h2', kind: 'tap' }), 0);
  const vm1 = { bridge: 'lab.net-1', port: 'vm1', kind: 'tap' };
  assert.equal(value(all, 'tapwire_port_tx_bytes_total', vm1), 120);
  assert.equal(find(all, 'tapwire_port_rx_frames_total').length, 3);
  assert.match(text, /^# TYPE tapwire_port_rx_frames_total counter$/m);
  assert.match(text, /^# TYPE tapwire_port_up gauge$/m);

  const bridges: Array<[string, (typeof BRIDGE_FIELDS)[number]]> = [
    ['tapwire_bridge_fdb_learned_total', 'fdbLearned'],
    ['tapwire_bridge_fdb_moved_total', 'fdbMoved'],
    ['tapwire_bridge_fdb_expired_total', 'fdbExpired'],
    ['tapwire_bridge_fdb_evicted_total', 'fdbEvicted'],
    ['tapwire_bridge_floods_total', 'floods'],
    ['tapwire_bridge_fdb_entries', 'fdbEntries'],
  ];
  for (const b of src.bridgeList) {
    for (const [name, field] of bridges) assert.equal(value(all, name, { bridge: b.name }), b.counters[field], `${name} ${b.name}`);
    assert.equal(value(all, 'tapwire_bridge_fdb_max', { bridge: b.name }), b.fdbMax);
  }
  assert.match(text, /^# TYPE tapwire_bridge_fdb_entries gauge$/m);
  assert.match(text, /^# TYPE tapwire_bridge_floods_total counter$/m);

  // prom-client's default process metrics are in the same registry.
  assert.ok(find(all, 'process_cpu_seconds_total').length === 1);
  assert.ok(find(all, 'nodejs_heap_size_used_bytes').length === 1);
  assert.ok(find(all, 'tapwire_build_info').length === 1);
});

test('metrics: every drop reason has a series on every port, zero included', async () => {
  const all = samples(await new Metrics(new FakeSource()).render());
  for (const p of ['h1', 'h2']) {
    const series = find(all, 'tapwire_port_drops_total', { bridge: 'br0', port: p, kind: 'tap' });
    assert.deepEqual(series.map((s) => s.labels.reason).sort(), [...DROP_REASONS].sort());
  }
  assert.equal(find(all, 'tapwire_port_drops_total').length, 3 * DROP_REASONS.length);
  const h1 = { bridge: 'br0', port: 'h1', kind: 'tap' };
  assert.equal(value(all, 'tapwire_port_drops_total', { ...h1, reason: 'same_port' }), 2);
  assert.equal(value(all, 'tapwire_port_drops_total', { ...h1, reason: 'reserved_group' }), 1);
  assert.equal(value(all, 'tapwire_port_drops_total', { ...h1, reason: 'runt' }), 0);
  assert.equal(value(all, 'tapwire_port_drops_total', { bridge: 'br0', port: 'h2', kind: 'tap', reason: 'port_down' }), 9);
});

test('metrics: each scrape reads fresh values, and a removed port or bridge loses its series', async () => {
  const src = new FakeSource();
  const metrics = new Metrics(src);
  let all = samples(await metrics.render());
  assert.equal(src.reads, 1, 'one reading of the source per scrape, shared by every collector');
  assert.ok(find(all, 'tapwire_port_drops_total', { port: 'h2' }).length > 0);

  src.portList = src.portList.filter((p) => p.name !== 'h2');
  src.portList[0]!.counters.rxFrames = 11;
  src.bridgeList = src.bridgeList.filter((b) => b.name !== 'lab.net-1');
  src.portList = src.portList.filter((p) => p.bridge !== 'lab.net-1');
  all = samples(await metrics.render());
  assert.equal(src.reads, 2);
  assert.deepEqual(
    all.filter((s) => s.labels.port === 'h2'),
    [],
  );
  assert.deepEqual(
    all.filter((s) => s.labels.bridge === 'lab.net-1'),
    [],
  );
  assert.equal(value(all, 'tapwire_port_rx_frames_total', { bridge: 'br0', port: 'h1', kind: 'tap' }), 11);
  assert.equal(find(all, 'tapwire_port_drops_total').length, DROP_REASONS.length);
  assert.equal(find(all, 'tapwire_bridge_fdb_max').length, 1);

  src.portList = [];
  src.bridgeList = [];
  const text = await metrics.render();
  assert.deepEqual(
    samples(text).filter((s) => s.name.startsWith('tapwire_port_') || s.name.startsWith('tapwire_bridge_')),
    [],
  );
  assert.match(text, /^# HELP tapwire_port_drops_total /m, 'the metric stays described without series');
});

test('metrics: a failed reading fails the scrape, and the next scrape reads again', async () => {
  const src = new FakeSource();
  const metrics = new Metrics(src);
  src.fail = true;
  await assert.rejects(metrics.render(), /data plane gone/);
  src.fail = false;
  const all = samples(await metrics.render());
  assert.equal(find(all, 'tapwire_port_up').length, 3);
});

test('metrics: observeRequest fills the API histogram by method, route pattern and status code', async () => {
  const metrics = new Metrics(new FakeSource());
  metrics.observeRequest('GET', '/v1/bridges/:bridge', 200, 0.003);
  metrics.observeRequest('get', '/v1/bridges/:bridge', 200, 0.2);
  metrics.observeRequest('POST', '/v1/bridges', 409, 0.0004);
  metrics.observeRequest('GET', '', 404, 0.0001);
  const all = samples(await metrics.render());
  const get = { method: 'GET', route: '/v1/bridges/:bridge', status_code: '200' };
  assert.equal(value(all, 'tapwire_api_request_duration_seconds_count', get), 2);
  assert.ok(Math.abs(value(all, 'tapwire_api_request_duration_seconds_sum', get) - 0.203) < 1e-9);
  assert.equal(value(all, 'tapwire_api_request_duration_seconds_bucket', { ...get, le: '0.005' }), 1);
  assert.equal(value(all, 'tapwire_api_request_duration_seconds_bucket', { ...get, le: '+Inf' }), 2);
  assert.equal(value(all, 'tapwire_api_request_duration_seconds_count', { method: 'POST', route: '/v1/bridges', status_code: '409' }), 1);
  assert.equal(value(all, 'tapwire_api_request_duration_seconds_count', { method: 'GET', route: UNMATCHED_ROUTE, status_code: '404' }), 1);
});

test('metrics: each Metrics has its own registry', async () => {
  const a = new Metrics(new FakeSource());
  const b = new Metrics(new FakeSource());
  assert.notEqual(a.registry, b.registry);
  a.observeRequest('GET', '/v1/health', 200, 0.001);
  assert.equal(find(samples(await b.render()), 'tapwire_api_request_duration_seconds_count').length, 0);
  assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
});

test("metrics: the router's counters and gauges, every drop reason and ICMP type, links and router ports as ports", async () => {
  const src = new RouterSource();
  const metrics = new Metrics(src);
  const text = await metrics.render();
  const all = samples(text);
  assert.equal(value(all, 'tapwire_router_forwarded_total', { family: '4' }), 100);
  assert.equal(value(all, 'tapwire_router_forwarded_total', { family: '6' }), 50);
  assert.equal(value(all, 'tapwire_router_delivered_total', { family: '6' }), 2);
  assert.equal(value(all, 'tapwire_router_fragments_created_total', {}), 4);
  assert.equal(value(all, 'tapwire_router_arp_packets_total', { direction: 'received' }), 5);
  assert.equal(value(all, 'tapwire_router_ndp_packets_total', { direction: 'sent' }), 8);
  assert.equal(value(all, 'tapwire_router_ra_sent_total', {}), 9);
  assert.equal(value(all, 'tapwire_router_icmp_rate_limited_total', {}), 11);
  assert.equal(value(all, 'tapwire_router_neighbors', {}), 2);
  assert.equal(value(all, 'tapwire_router_routes', { family: '4' }), 3);
  assert.equal(value(all, 'tapwire_router_routes', { family: '6' }), 1);
  assert.equal(value(all, 'tapwire_router_interfaces', {}), 2);
  assert.match(text, /^# TYPE tapwire_router_forwarded_total counter$/m);
  assert.match(text, /^# TYPE tapwire_router_routes gauge$/m);
  assert.match(text, /^# TYPE tapwire_router_neighbors gauge$/m);
  // Every reason and every ICMP message has a series, zero included.
  assert.deepEqual(
    find(all, 'tapwire_router_drops_total')
      .map((s) => s.labels.reason)
      .sort(),
    [...ROUTER_DROP_REASONS].sort(),
  );
  assert.equal(value(all, 'tapwire_router_drops_total', { reason: 'no_route' }), 12);
  assert.equal(value(all, 'tapwire_router_drops_total', { reason: 'too_big' }), 0);
  assert.equal(find(all, 'tapwire_router_icmp_sent_total').length, ICMP_SENT.length);
  assert.equal(value(all, 'tapwire_router_icmp_sent_total', { family: '4', type: 'time_exceeded' }), 13);
  assert.equal(value(all, 'tapwire_router_icmp_sent_total', { family: '6', type: 'packet_too_big' }), 0);
  // A link is a port without a bridge; the router's port on a bridge is a port of that bridge. A link's router
  // interface counts on the link's slot, so it has no series of its own.
  const tun0 = { bridge: '', port: 'tun0', kind: 'tun' };
  assert.equal(value(all, 'tapwire_port_rx_frames_total', tun0), 7);
  assert.equal(value(all, 'tapwire_port_drops_total', { ...tun0, reason: 'write_error' }), 1);
  assert.equal(value(all, 'tapwire_port_up', tun0), 1);
  assert.equal(value(all, 'tapwire_port_tx_bytes_total', { bridge: 'br0', port: 'r0', kind: 'router' }), 3100);
  assert.deepEqual(find(all, 'tapwire_port_rx_frames_total', { port: 'ru' }), []);
  assert.equal(find(all, 'tapwire_port_rx_frames_total').length, 5);

  src.linkList = [];
  src.interfaceList = [];
  const after = samples(await metrics.render());
  assert.deepEqual(
    after.filter((s) => s.labels.port === 'tun0' || s.labels.port === 'r0'),
    [],
    'a removed link or interface loses its series',
  );
});

test('metrics: a source without a router counts nothing for it (no labeled series, the others 0)', async () => {
  const router = samples(await new Metrics(new FakeSource()).render()).filter((s) => s.name.startsWith('tapwire_router_'));
  assert.deepEqual(
    router.filter((s) => Object.keys(s.labels).length > 0 || s.value !== 0),
    [],
  );
});

// run starts `cmd` with an argument array (no shell), writes `input` to its stdin and collects the result;
// a missing program resolves with `missing: true`.
function run(cmd: string, args: string[], input: string): Promise<{ missing: boolean; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // EPIPE if the program exits early; its exit code tells.
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') resolve({ missing: true, code: null, stdout, stderr });
      else reject(e);
    });
    child.on('close', (code) => resolve({ missing: false, code, stdout, stderr }));
    child.stdin.end(input);
  });
}

// needTool skips the test (or fails it under CI=true) when a program is missing.
function needTool(t: TestContext, name: string, pkg: string): void {
  const reason = `${name} is not installed (Debian package ${pkg})`;
  if (process.env.CI === 'true') assert.fail(`${reason}; CI must install it`);
  t.skip(reason);
}

test('metrics: promtool check metrics accepts the output with no lint problems', async (t) => {
  const metrics = new Metrics(new RouterSource());
  metrics.observeRequest('GET', '/v1/bridges/:bridge/ports', 200, 0.002);
  const text = await metrics.render();
  const r = await run('promtool', ['check', 'metrics'], text);
  if (r.missing) return needTool(t, 'promtool', 'prometheus');
  assert.equal(r.code, 0, `promtool check metrics exited ${r.code}:\n${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'promtool reported lint problems');
});
