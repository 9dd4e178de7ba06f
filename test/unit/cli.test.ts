// The `tapwire` CLI against a fake tapwired: a node:http server on a unix socket (and one on TCP for --url) that
// records each request and answers canned responses per /work/shared/API.md. The compiled CLI runs as a child
// process, as a user runs it, so exit codes and the stdout/stderr split are what is tested.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderFields, renderTable } from '../../src/cli/table.js';
import { VERSION } from '../../src/version.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

interface Canned {
  status: number;
  body?: unknown;
  raw?: string;
}

// FakeDaemon answers `METHOD /url` with what `answer` set, and a problem+json 404 for anything else.
class FakeDaemon {
  requests: Recorded[] = [];
  private routes = new Map<string, Canned>();
  readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? '';
      const url = req.url ?? '';
      this.requests.push({ method, url, headers: req.headers, body: text === '' ? undefined : JSON.parse(text) });
      const canned = this.routes.get(`${method} ${url}`) ?? problem(404, 'TW_ERR_NOT_FOUND', `no canned answer for ${method} ${url}`);
      if (canned.raw !== undefined) {
        res.writeHead(canned.status, { 'content-type': 'text/plain' }).end(canned.raw);
      } else if (canned.body === undefined) {
        res.writeHead(canned.status).end();
      } else {
        const type = canned.status >= 400 ? 'application/problem+json' : 'application/json';
        res.writeHead(canned.status, { 'content-type': type }).end(JSON.stringify(canned.body));
      }
    });
  });

  answer(method: string, url: string, status: number, body?: unknown): void {
    this.routes.set(`${method} ${url}`, { status, body });
  }

  answerRaw(method: string, url: string, status: number, raw: string): void {
    this.routes.set(`${method} ${url}`, { status, raw });
  }

  reset(): void {
    this.requests = [];
    this.routes.clear();
  }

  listen(where: string | { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(where, () => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

function problem(status: number, code: string, detail: string): Canned {
  return { status, body: { type: 'about:blank', title: code, status, detail, code } };
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The environment the CLI runs in: the caller's, without any TAPWIRE_* that would change where it connects.
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TAPWIRE_')));

function runCli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...ENV, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir = '';
let sock = '';
const unix = new FakeDaemon();
const tcp = new FakeDaemon();
let tcpUrl = '';
let tokenFile = '';
const TOKEN = 'tok-3f9a1c-secret';

// cli runs `tapwire --socket <the fake's socket> ...args`.
const cli = (...args: string[]): Promise<Result> => runCli(['--socket', sock, ...args]);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twcli-'));
  sock = join(dir, 'tapwired.sock');
  tokenFile = join(dir, 'api-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  await unix.listen(sock);
  await tcp.listen({ host: '127.0.0.1', port: 0 });
  tcpUrl = `http://127.0.0.1:${(tcp.server.address() as AddressInfo).port}`;
});

after(async () => {
  await Promise.all([unix.close(), tcp.close()]);
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  unix.reset();
  tcp.reset();
});

const BR0 = {
  name: 'br0',
  agingSeconds: 300,
  fdbMax: 8192,
  ports: ['h1', 'h2'],
  counters: { fdbEntries: 2, fdbLearned: 5, fdbMoved: 1, fdbExpired: 3, fdbEvicted: 0, floods: 7 },
};
const LAB = {
  name: 'lab-backbone',
  agingSeconds: 60,
  fdbMax: 100,
  ports: [],
  counters: { fdbEntries: 0, fdbLearned: 0, fdbMoved: 0, fdbExpired: 0, fdbEvicted: 0, floods: 0 },
};
const H1 = {
  name: 'h1',
  bridge: 'br0',
  kind: 'tap',
  ifname: 'tw-h1',
  netns: 'h1',
  addresses: ['10.0.0.1/24'],
  mac: '02:00:00:00:00:01',
  mtu: 1500,
  state: 'up',
  counters: { rxFrames: 1200, rxBytes: 150000, txFrames: 1100, txBytes: 140000, rxGsoFrames: 3, txGsoFrames: 2, rxBatches: 40, drops: { noRoute: 3, fdbFull: 1 } },
};
const H2 = {
  name: 'h2',
  bridge: 'br0',
  kind: 'tap',
  ifname: 'tw-h2',
  addresses: [],
  mtu: 9000,
  state: 'down',
  counters: { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 0, drops: {} },
};
const FDB = [
  { mac: '02:00:00:00:00:01', port: 'h1', static: false, ageSeconds: 12 },
  { mac: '02:00:00:00:00:99', port: 'h2', static: true, ageSeconds: 0 },
];

// only gives the one request the CLI made, checking there was exactly one.
function only(daemon: FakeDaemon = unix): Recorded {
  assert.equal(daemon.requests.length, 1, `requests: ${JSON.stringify(daemon.requests.map((r) => `${r.method} ${r.url}`))}`);
  return daemon.requests[0]!;
}

function ok(r: Result): void {
  assert.equal(r.code, 0, `exit ${r.code}; stderr: ${r.stderr}`);
  assert.equal(r.stderr, '');
}

// lines gives the non-empty lines of a table, and checks they are aligned: with right-aligned last columns every
// line of a table is as long as its header.
function tableLines(stdout: string): string[] {
  const lines = stdout.split('\n').filter((l) => l !== '');
  assert.equal(new Set(lines.map((l) => l.length)).size, 1, `ragged table:\n${stdout}`);
  return lines;
}

test('health: GET /v1/health, prints the status and the daemon version', async () => {
  unix.answer('GET', '/v1/health', 200, { status: 'ok', version: '9.9.9' });
  const r = await cli('health');
  ok(r);
  const req = only();
  assert.equal(req.method, 'GET');
  assert.equal(req.url, '/v1/health');
  assert.equal(req.body, undefined);
  assert.equal(req.headers['content-type'], undefined, 'no body, no content-type (fastify refuses an empty JSON body)');
  assert.equal(req.headers.authorization, undefined, 'the unix socket takes no token');
  assert.match(r.stdout, /^ok .*9\.9\.9/);
});

test('version: prints the CLI version and the daemon version, or both as JSON', async () => {
  unix.answer('GET', '/v1/health', 200, { status: 'ok', version: '9.9.9' });
  const r = await cli('version');
  ok(r);
  assert.equal(r.stdout, `tapwire ${VERSION}\ntapwired 9.9.9\n`);
  const j = await cli('--json', 'version');
  ok(j);
  assert.deepEqual(JSON.parse(j.stdout), { cli: VERSION, daemon: '9.9.9' });
});

test('bridge add: POST /v1/bridges with the numbers given, and shows the bridge', async () => {
  unix.answer('POST', '/v1/bridges', 201, { ...LAB });
  const r = await cli('bridge', 'add', 'lab-backbone', '--aging', '60', '--fdb-max', '100');
  ok(r);
  const req = only();
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/v1/bridges');
  assert.match(String(req.headers['content-type']), /^application\/json/);
  assert.deepEqual(req.body, { name: 'lab-backbone', agingSeconds: 60, fdbMax: 100 });
  assert.match(r.stdout, /name\s+lab-backbone/);
  assert.match(r.stdout, /aging\s+60s/);
});

test("bridge add: without flags sends only the name; out-of-range numbers are the server's to judge", async () => {
  unix.answer('POST', '/v1/bridges', 201, BR0);
  ok(await cli('bridge', 'add', 'br0'));
  assert.deepEqual(only().body, { name: 'br0' });

  unix.reset();
  unix.answer('POST', '/v1/bridges', 400, problem(400, 'TW_ERR_VALIDATION', 'agingSeconds must be at least 1').body);
  const r = await cli('bridge', 'add', 'br0', '--aging=-5', '--fdb-max', '2.5');
  assert.deepEqual(only().body, { name: 'br0', agingSeconds: -5, fdbMax: 2.5 });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'tapwire: agingSeconds must be at least 1 (TW_ERR_VALIDATION)\n');
});

test('bridge ls: an aligned table of the bridges', async () => {
  unix.answer('GET', '/v1/bridges', 200, [BR0, LAB]);
  const r = await cli('bridge', 'ls');
  ok(r);
  assert.equal(only().url, '/v1/bridges');
  const [head, br0, lab, ...more] = tableLines(r.stdout);
  assert.deepEqual(more, []);
  assert.deepEqual(head?.split(/\s+/), ['NAME', 'AGING', 'FDB-MAX', 'PORTS', 'FDB-ENTRIES']);
  assert.deepEqual(br0?.split(/\s+/), ['br0', '300s', '8192', '2', '2']);
  assert.deepEqual(lab?.split(/\s+/), ['lab-backbone', '60s', '100', '0', '0']);
});

test('bridge ls: an empty list is the header alone', async () => {
  unix.answer('GET', '/v1/bridges', 200, []);
  const r = await cli('bridge', 'ls');
  ok(r);
  assert.equal(r.stdout, 'NAME  AGING  FDB-MAX  PORTS  FDB-ENTRIES\n');
});

test("--json prints the server's JSON, pretty, before or after the command", async () => {
  unix.answer('GET', '/v1/bridges', 200, [BR0, LAB]);
  for (const args of [
    ['--json', 'bridge', 'ls'],
    ['bridge', 'ls', '--json'],
  ]) {
    const r = await cli(...args);
    ok(r);
    assert.equal(r.stdout, `${JSON.stringify([BR0, LAB], null, 2)}\n`);
  }
});

test('bridge show: GET the bridge, shows its ports and counters', async () => {
  unix.answer('GET', '/v1/bridges/br0', 200, BR0);
  const r = await cli('bridge', 'show', 'br0');
  ok(r);
  assert.equal(only().url, '/v1/bridges/br0');
  assert.match(r.stdout, /ports\s+h1, h2/);
  assert.match(r.stdout, /fdb\s+2 entries \(learned 5, moved 1, expired 3, evicted 0\)/);
  assert.match(r.stdout, /floods\s+7/);
});

test('bridge set: PATCH only the fields given; with none it is a usage error', async () => {
  unix.answer('PATCH', '/v1/bridges/br0', 200, { ...BR0, agingSeconds: 30 });
  const r = await cli('bridge', 'set', 'br0', '--aging', '30');
  ok(r);
  const req = only();
  assert.equal(req.method, 'PATCH');
  assert.deepEqual(req.body, { agingSeconds: 30 });
  assert.match(r.stdout, /aging\s+30s/);

  unix.reset();
  unix.answer('PATCH', '/v1/bridges/br0', 200, BR0);
  ok(await cli('bridge', 'set', 'br0', '--fdb-max', '50', '--aging', '10'));
  assert.deepEqual(only().body, { agingSeconds: 10, fdbMax: 50 });

  unix.reset();
  const none = await cli('bridge', 'set', 'br0');
  assert.equal(none.code, 2);
  assert.deepEqual(unix.requests, []);
});

test('bridge rm: DELETE, with ?force=true for --force; prints nothing', async () => {
  unix.answer('DELETE', '/v1/bridges/br0', 204);
  const r = await cli('bridge', 'rm', 'br0');
  ok(r);
  assert.equal(r.stdout, '');
  const req = only();
  assert.equal(req.method, 'DELETE');
  assert.equal(req.url, '/v1/bridges/br0');
  assert.equal(req.headers['content-type'], undefined);

  unix.reset();
  unix.answer('DELETE', '/v1/bridges/br0?force=true', 204);
  ok(await cli('bridge', 'rm', 'br0', '--force'));
  assert.equal(only().url, '/v1/bridges/br0?force=true');
});

test('bridge rm: a bridge in use gives the problem on stderr and exit 1', async () => {
  unix.answer('DELETE', '/v1/bridges/br0', 409, problem(409, 'TW_ERR_IN_USE', 'bridge br0 has 2 ports').body);
  const r = await cli('bridge', 'rm', 'br0');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'tapwire: bridge br0 has 2 ports (TW_ERR_IN_USE)\n');
});

test('port add: POST every flag given, --address repeated, --down as up: false', async () => {
  unix.answer('POST', '/v1/bridges/br0/ports', 201, H1);
  const r = await cli(
    'port',
    'add',
    'br0',
    'h1',
    '--kind',
    'tap',
    '--netns',
    'h1',
    '--address',
    '10.0.0.1/24',
    '--address',
    'fd00::1/64',
    '--mac',
    '02:00:00:00:00:01',
    '--mtu',
    '1400',
    '--down',
  );
  ok(r);
  const req = only();
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/v1/bridges/br0/ports');
  assert.deepEqual(req.body, {
    name: 'h1',
    kind: 'tap',
    netns: 'h1',
    addresses: ['10.0.0.1/24', 'fd00::1/64'],
    mac: '02:00:00:00:00:01',
    mtu: 1400,
    up: false,
  });
  assert.match(r.stdout, /ifname\s+tw-h1/);
});

test('port add: minimal body; any --kind is passed through for the server to judge', async () => {
  unix.answer('POST', '/v1/bridges/br0/ports', 201, H2);
  ok(await cli('port', 'add', 'br0', 'h2', '--kind', 'tap'));
  assert.deepEqual(only().body, { name: 'h2', kind: 'tap' });

  unix.reset();
  unix.answer('POST', '/v1/bridges/br0/ports', 400, problem(400, 'TW_ERR_VALIDATION', 'a vm port needs owner or group').body);
  const r = await cli('port', 'add', 'br0', 'vm1', '--kind', 'vm');
  assert.deepEqual(only().body, { name: 'vm1', kind: 'vm' });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'tapwire: a vm port needs owner or group (TW_ERR_VALIDATION)\n');
});

test('port ls: an aligned table with the drops summed over reasons', async () => {
  unix.answer('GET', '/v1/bridges/br0/ports', 200, [H1, H2]);
  const r = await cli('port', 'ls', 'br0');
  ok(r);
  assert.equal(only().url, '/v1/bridges/br0/ports');
  const [head, h1, h2] = tableLines(r.stdout);
  assert.deepEqual(head?.split(/\s+/), ['NAME', 'KIND', 'IFNAME', 'NETNS', 'STATE', 'MTU', 'RX-FRAMES', 'TX-FRAMES', 'DROPS']);
  assert.deepEqual(h1?.split(/\s+/), ['h1', 'tap', 'tw-h1', 'h1', 'up', '1500', '1200', '1100', '4']);
  assert.deepEqual(h2?.split(/\s+/), ['h2', 'tap', 'tw-h2', '-', 'down', '9000', '0', '0', '0']);
});

test('port show: GET the port, shows addresses, counters and drops by reason', async () => {
  unix.answer('GET', '/v1/bridges/br0/ports/h1', 200, { ...H1, owner: 'qemu' });
  const r = await cli('port', 'show', 'br0', 'h1');
  ok(r);
  assert.equal(only().url, '/v1/bridges/br0/ports/h1');
  assert.match(r.stdout, /addresses\s+10\.0\.0\.1\/24/);
  assert.match(r.stdout, /rx\s+1200 frames, 150000 bytes \(3 GSO, 40 batches\)/);
  assert.match(r.stdout, /drops\s+noRoute=3, fdbFull=1/);
  assert.match(r.stdout, /owner\s+qemu/, 'fields of other kinds are shown too');
});

test('port rm: DELETE the port', async () => {
  unix.answer('DELETE', '/v1/bridges/br0/ports/h1', 204);
  const r = await cli('port', 'rm', 'br0', 'h1');
  ok(r);
  assert.equal(r.stdout, '');
  const req = only();
  assert.equal(req.method, 'DELETE');
  assert.equal(req.url, '/v1/bridges/br0/ports/h1');
});

test('fdb ls: MAC PORT STATIC AGE, no age for static entries', async () => {
  unix.answer('GET', '/v1/bridges/br0/fdb', 200, FDB);
  const r = await cli('fdb', 'ls', 'br0');
  ok(r);
  assert.equal(only().url, '/v1/bridges/br0/fdb');
  const [head, learned, fixed] = tableLines(r.stdout);
  assert.deepEqual(head?.split(/\s+/), ['MAC', 'PORT', 'STATIC', 'AGE']);
  assert.deepEqual(learned?.split(/\s+/), ['02:00:00:00:00:01', 'h1', 'no', '12s']);
  assert.deepEqual(fixed?.split(/\s+/), ['02:00:00:00:00:99', 'h2', 'yes', '-']);
});

test('fdb add / rm / flush: the calls, with the MAC readable in the path', async () => {
  const mac = '02:00:00:00:00:99';
  unix.answer('POST', '/v1/bridges/br0/fdb', 201, FDB[1]);
  const add = await cli('fdb', 'add', 'br0', mac, 'h2');
  ok(add);
  let req = only();
  assert.equal(req.method, 'POST');
  assert.deepEqual(req.body, { mac, port: 'h2' });
  assert.match(add.stdout, /02:00:00:00:00:99\s+h2\s+yes/);

  unix.reset();
  unix.answer('DELETE', `/v1/bridges/br0/fdb/${mac}`, 204);
  ok(await cli('fdb', 'rm', 'br0', mac));
  req = only();
  assert.equal(req.method, 'DELETE');
  assert.equal(req.url, `/v1/bridges/br0/fdb/${mac}`);

  unix.reset();
  unix.answer('DELETE', '/v1/bridges/br0/fdb', 200, { flushed: 3 });
  const flush = await cli('fdb', 'flush', 'br0');
  ok(flush);
  req = only();
  assert.equal(req.method, 'DELETE');
  assert.equal(req.url, '/v1/bridges/br0/fdb');
  assert.match(flush.stdout, /flushed 3 /);
  const json = await cli('fdb', 'flush', 'br0', '--json');
  assert.deepEqual(JSON.parse(json.stdout), { flushed: 3 });
});

const TUN0 = {
  name: 'tun0',
  kind: 'tun',
  ifname: 'tun0',
  netns: 'u',
  addresses: ['10.9.0.1/30', 'fd09::1/64'],
  peer: '10.9.0.2',
  mtu: 1400,
  routes: ['10.0.0.0/8'],
  state: 'up',
  routerInterface: 'ru',
  counters: { rxFrames: 50, rxBytes: 5000, txFrames: 40, txBytes: 4000, rxGsoFrames: 1, txGsoFrames: 0, rxBatches: 9, drops: { write_error: 2 } },
};
const TUN1 = {
  ...TUN0,
  name: 'tun1',
  ifname: 'tun1',
  netns: undefined,
  addresses: [],
  peer: undefined,
  routes: [],
  mtu: 1500,
  state: 'error',
  routerInterface: undefined,
  counters: H2.counters,
};
const R0 = {
  name: 'r0',
  bridge: 'br0',
  addresses: ['10.0.0.254/24', 'fd00::fe/64'],
  linkLocal: 'fe80::74:77ff:fedd:1916',
  mac: '02:74:77:dd:19:16',
  mtu: 1500,
  routerAdvertisements: true,
  state: 'up',
  counters: { ...H1.counters, drops: {} },
};
const RU = { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'], mtu: 1400, routerAdvertisements: false, state: 'up', counters: TUN0.counters };
const ROUTES = [
  { prefix: '10.0.0.0/24', interface: 'r0', kind: 'connected' },
  { prefix: '10.100.0.0/16', via: '10.9.0.1', interface: 'ru', kind: 'static' },
  { prefix: 'fd64::/48', interface: 'ru', kind: 'static', pending: true },
];

test('link add: POST /v1/links with kind tun and every flag given, --address and --route repeated', async () => {
  unix.answer('POST', '/v1/links', 201, TUN0);
  const r = await cli(
    'link',
    'add',
    'tun0',
    '--netns',
    'u',
    '--address',
    '10.9.0.1/30',
    '--address',
    'fd09::1/64',
    '--peer',
    '10.9.0.2',
    '--mtu',
    '1400',
    '--route',
    '10.0.0.0/8',
    '--route',
    'fd00::/16',
  );
  ok(r);
  const req = only();
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/v1/links');
  assert.deepEqual(req.body, { name: 'tun0', kind: 'tun', netns: 'u', addresses: ['10.9.0.1/30', 'fd09::1/64'], peer: '10.9.0.2', mtu: 1400, routes: ['10.0.0.0/8', 'fd00::/16'] });
  assert.match(r.stdout, /peer\s+10\.9\.0\.2/);
  assert.match(r.stdout, /routes\s+10\.0\.0\.0\/8/);
  assert.match(r.stdout, /router-iface\s+ru/);

  unix.reset();
  unix.answer('POST', '/v1/links', 201, TUN1);
  ok(await cli('link', 'add', 'tun1'));
  assert.deepEqual(only().body, { name: 'tun1', kind: 'tun' });
});

test('link ls / show / del (and rm): the table, the details, the DELETE', async () => {
  unix.answer('GET', '/v1/links', 200, [TUN0, TUN1]);
  const ls = await cli('link', 'ls');
  ok(ls);
  const [head, t0, t1] = tableLines(ls.stdout);
  assert.deepEqual(head?.split(/\s+/), ['NAME', 'KIND', 'NETNS', 'STATE', 'ADDRESSES', 'ROUTER-IFACE', 'MTU', 'RX-FRAMES', 'TX-FRAMES', 'DROPS']);
  assert.deepEqual(t0?.split(/\s+/), ['tun0', 'tun', 'u', 'up', '10.9.0.1/30,fd09::1/64', 'ru', '1400', '50', '40', '2']);
  assert.deepEqual(t1?.split(/\s+/), ['tun1', 'tun', '-', 'error', '-', '-', '1500', '0', '0', '0']);

  unix.reset();
  unix.answer('GET', '/v1/links/tun0', 200, TUN0);
  const show = await cli('link', 'show', 'tun0');
  ok(show);
  assert.match(show.stdout, /drops\s+write_error=2/);

  for (const word of ['del', 'rm']) {
    unix.reset();
    unix.answer('DELETE', '/v1/links/tun0', 204);
    const del = await cli('link', word, 'tun0');
    ok(del);
    assert.equal(del.stdout, '');
    assert.equal(only().method, 'DELETE');
  }

  unix.reset();
  unix.answer('DELETE', '/v1/links/tun0', 409, problem(409, 'TW_ERR_IN_USE', 'link tun0 has router interface ru; delete the interface first').body);
  const refused = await cli('link', 'del', 'tun0');
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, 'tapwire: link tun0 has router interface ru; delete the interface first (TW_ERR_IN_USE)\n');
});

test('router iface add: on a bridge with --ra and --mac, or on a link; the body has only what was given', async () => {
  unix.answer('POST', '/v1/router/interfaces', 201, R0);
  const r = await cli('router', 'iface', 'add', 'r0', '--bridge', 'br0', '--address', '10.0.0.254/24', '--address', 'fd00::fe/64', '--ra', '--mac', '02:74:77:dd:19:16', '--mtu', '1500');
  ok(r);
  const req = only();
  assert.equal(req.url, '/v1/router/interfaces');
  assert.deepEqual(req.body, { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24', 'fd00::fe/64'], mac: '02:74:77:dd:19:16', routerAdvertisements: true, mtu: 1500 });
  assert.match(r.stdout, /bridge\s+br0/);
  assert.match(r.stdout, /link-local\s+fe80::74:77ff:fedd:1916/);
  assert.match(r.stdout, /ra\s+yes/);

  unix.reset();
  unix.answer('POST', '/v1/router/interfaces', 201, RU);
  ok(await cli('router', 'iface', 'add', 'ru', '--link', 'tun0', '--address', '10.9.0.2/30'));
  assert.deepEqual(only().body, { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'] });
});

test('router iface ls / show / del, router show', async () => {
  unix.answer('GET', '/v1/router/interfaces', 200, [R0, RU]);
  const ls = await cli('router', 'iface', 'ls');
  ok(ls);
  const [head, r0, ru] = tableLines(ls.stdout);
  assert.deepEqual(head?.split(/\s+/), ['NAME', 'ON', 'ADDRESSES', 'MAC', 'RA', 'STATE', 'MTU', 'RX-FRAMES', 'TX-FRAMES']);
  assert.deepEqual(r0?.split(/\s+/), ['r0', 'bridge:br0', '10.0.0.254/24,fd00::fe/64', '02:74:77:dd:19:16', 'yes', 'up', '1500', '1200', '1100']);
  assert.deepEqual(ru?.split(/\s+/), ['ru', 'link:tun0', '10.9.0.2/30', '-', 'no', 'up', '1400', '50', '40']);

  unix.reset();
  unix.answer('GET', '/v1/router/interfaces/ru', 200, RU);
  const show = await cli('router', 'iface', 'show', 'ru');
  ok(show);
  assert.match(show.stdout, /link\s+tun0/);

  for (const word of ['del', 'rm']) {
    unix.reset();
    unix.answer('DELETE', '/v1/router/interfaces/ru', 204);
    ok(await cli('router', 'iface', word, 'ru'));
    assert.equal(only().url, '/v1/router/interfaces/ru');
  }

  unix.reset();
  const counters = {
    forwarded4: 10,
    forwarded6: 4,
    delivered4: 2,
    delivered6: 1,
    fragmentsCreated: 0,
    arpReceived: 3,
    arpSent: 5,
    ndpReceived: 6,
    ndpSent: 7,
    raSent: 2,
    icmpRateLimited: 1,
    neighborEntries: 3,
    routes4: 5,
    routes6: 3,
    drops: { no_route: 2, ttl_expired: 1 },
    icmpSent: [
      { family: 4, type: 'net_unreachable', count: 2 },
      { family: 6, type: 'time_exceeded', count: 0 },
    ],
  };
  unix.answer('GET', '/v1/router', 200, { interfaces: 2, routes: 8, counters });
  const router = await cli('router', 'show');
  ok(router);
  assert.equal(only().url, '/v1/router');
  assert.match(router.stdout, /^interfaces\s+2$/m);
  assert.match(router.stdout, /^routes\s+8 \(IPv4 5, IPv6 3\)$/m);
  assert.match(router.stdout, /^forwarded\s+IPv4 10, IPv6 4$/m);
  assert.match(router.stdout, /^icmp sent\s+v4 net_unreachable=2$/m);
  assert.match(router.stdout, /^drops\s+no_route=2, ttl_expired=1$/m);
  const json = await cli('--json', 'router', 'show');
  assert.deepEqual(JSON.parse(json.stdout), { interfaces: 2, routes: 8, counters });
});

test('route add / ls / del: the prefix URL-encoded in DELETE, pending routes marked', async () => {
  unix.answer('POST', '/v1/routes', 201, ROUTES[1]);
  const add = await cli('route', 'add', '10.100.0.0/16', '--via', '10.9.0.1');
  ok(add);
  assert.deepEqual(only().body, { prefix: '10.100.0.0/16', via: '10.9.0.1' });
  assert.match(add.stdout, /^10\.100\.0\.0\/16\s+10\.9\.0\.1\s+ru\s+static$/m);

  unix.reset();
  unix.answer('POST', '/v1/routes', 201, ROUTES[2]);
  ok(await cli('route', 'add', 'fd64::/48', '--interface', 'ru'));
  assert.deepEqual(only().body, { prefix: 'fd64::/48', interface: 'ru' });

  unix.reset();
  unix.answer('GET', '/v1/routes', 200, ROUTES);
  const ls = await cli('route', 'ls');
  ok(ls);
  const lines = ls.stdout.split('\n').filter((l) => l !== '');
  assert.deepEqual(
    lines.map((l) => l.split(/\s+/)),
    [
      ['PREFIX', 'VIA', 'INTERFACE', 'KIND'],
      ['10.0.0.0/24', '-', 'r0', 'connected'],
      ['10.100.0.0/16', '10.9.0.1', 'ru', 'static'],
      ['fd64::/48', '-', 'ru', 'static(pending)'],
    ],
  );

  for (const [word, prefix] of [
    ['del', '10.100.0.0/16'],
    ['rm', 'fd64::/48'],
  ] as const) {
    unix.reset();
    const url = `/v1/routes?prefix=${encodeURIComponent(prefix)}`;
    unix.answer('DELETE', url, 204);
    ok(await cli('route', word, prefix));
    const req = only();
    assert.equal(req.method, 'DELETE');
    assert.equal(req.url, url);
  }
  assert.equal(encodeURIComponent('10.100.0.0/16'), '10.100.0.0%2F16');

  unix.reset();
  const connected = `/v1/routes?prefix=${encodeURIComponent('10.0.0.0/24')}`;
  unix.answer('DELETE', connected, 409, problem(409, 'TW_ERR_IN_USE', '10.0.0.0/24 is the connected route of router interface r0').body);
  const refused = await cli('route', 'del', '10.0.0.0/24');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /connected route of router interface r0 \(TW_ERR_IN_USE\)/);
});

test('neighbor ls: ADDRESS MAC INTERFACE STATE AGE, "-" for an unresolved MAC', async () => {
  unix.answer('GET', '/v1/neighbors', 200, [
    { address: '10.0.0.1', mac: '02:00:00:00:00:01', interface: 'r0', state: 'reachable', ageSeconds: 12 },
    { address: 'fd00::9', mac: null, interface: 'r0', state: 'incomplete', ageSeconds: 0 },
  ]);
  const r = await cli('neighbor', 'ls');
  ok(r);
  assert.equal(only().url, '/v1/neighbors');
  const [head, a, b] = tableLines(r.stdout);
  assert.deepEqual(head?.split(/\s+/), ['ADDRESS', 'MAC', 'INTERFACE', 'STATE', 'AGE']);
  assert.deepEqual(a?.split(/\s+/), ['10.0.0.1', '02:00:00:00:00:01', 'r0', 'reachable', '12s']);
  assert.deepEqual(b?.split(/\s+/), ['fd00::9', '-', 'r0', 'incomplete', '0s']);
});

test('router commands: bad usage exits 2 and sends nothing; help covers the groups', async () => {
  const cases = [
    ['link'],
    ['link', 'add'],
    ['link', 'add', 'tun0', '--kind', 'tap'],
    ['link', 'add', 'tun0', '--mtu', 'big'],
    ['link', 'ls', 'tun0'],
    ['link', 'del'],
    ['router'],
    ['router', 'bogus'],
    ['router', 'iface'],
    ['router', 'iface', 'bogus'],
    ['router', 'iface', 'add', 'r0', '--address', '10.0.0.254/24'],
    ['router', 'iface', 'add', 'r0', '--bridge', 'br0', '--link', 'tun0', '--address', '10.0.0.254/24'],
    ['router', 'iface', 'add', 'r0', '--bridge', 'br0'],
    ['router', 'iface', 'add', 'r0', '--bridge', 'br0', '--address', '10.0.0.254/24', '--via', '10.0.0.1'],
    ['router', 'show', 'extra'],
    ['route', 'add', '10.0.0.0/8'],
    ['route', 'add', '10.0.0.0/8', '--peer', '10.0.0.1'],
    ['route', 'ls', '--via', 'x'],
    ['route', 'del'],
    ['neighbor'],
    ['neighbor', 'ls', 'r0'],
  ];
  for (const args of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `tapwire ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, /^tapwire: .+\n\nUsage/, args.join(' '));
  }
  assert.match((await cli('router', 'iface')).stderr, /^tapwire: router iface: missing command/);
  assert.match((await cli('router', 'iface', 'bogus')).stderr, /^tapwire: unknown command 'router iface bogus'/);
  assert.deepEqual(unix.requests, []);

  const top = await cli('--help');
  ok(top);
  for (const c of [
    'link add NAME',
    'link ls',
    'link del NAME',
    'router show',
    'router iface add NAME (--bridge BRIDGE | --link LINK)',
    'router iface ls',
    'route add PREFIX',
    'route del PREFIX',
    'neighbor ls',
  ]) {
    assert.ok(top.stdout.includes(`tapwire ${c}`), c);
  }
  const group = await cli('router', '--help');
  ok(group);
  assert.ok(group.stdout.includes('tapwire router show') && group.stdout.includes('tapwire router iface add'));
  assert.ok(!group.stdout.includes('tapwire route add'));
  const sub = await cli('router', 'iface', '--help');
  ok(sub);
  assert.ok(sub.stdout.includes('tapwire router iface ls') && !sub.stdout.includes('tapwire router show'));
  const one = await cli('route', 'add', '--help');
  ok(one);
  assert.ok(one.stdout.includes('--via ADDR') && one.stdout.includes('--interface NAME') && !one.stdout.includes('route ls'));
  assert.deepEqual(unix.requests, []);
});

test("errors: the problem's detail and code on stderr, exit 1, nothing on stdout", async () => {
  const r = await cli('bridge', 'show', 'br9'); // the fake's default: 404 TW_ERR_NOT_FOUND
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'tapwire: no canned answer for GET /v1/bridges/br9 (TW_ERR_NOT_FOUND)\n');

  unix.answer('POST', '/v1/bridges', 409, problem(409, 'TW_ERR_EXISTS', 'bridge br0 exists').body);
  const json = await cli('--json', 'bridge', 'add', 'br0');
  assert.equal(json.code, 1);
  assert.equal(json.stdout, '');
  assert.equal(json.stderr, 'tapwire: bridge br0 exists (TW_ERR_EXISTS)\n');

  unix.answerRaw('GET', '/v1/bridges', 502, 'bad gateway');
  const raw = await cli('bridge', 'ls');
  assert.equal(raw.code, 1);
  assert.match(raw.stderr, /^tapwire: HTTP 502/);
});

test('an unreachable daemon: exit 1 with a message naming the socket or the URL', async () => {
  const missing = join(dir, 'nobody-here.sock');
  const r = await runCli(['--socket', missing, 'bridge', 'ls']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^tapwire: cannot reach tapwired at unix socket .*nobody-here\.sock/);

  const closed = new FakeDaemon();
  await closed.listen({ host: '127.0.0.1', port: 0 });
  const port = (closed.server.address() as AddressInfo).port;
  await closed.close();
  const t = await runCli(['--url', `http://127.0.0.1:${port}`, '--token-file', tokenFile, 'health']);
  assert.equal(t.code, 1);
  assert.ok(t.stderr.includes(`cannot reach tapwired at http://127.0.0.1:${port}`), t.stderr);
});

test('bad usage: exit 2 with usage on stderr, and nothing is sent', async () => {
  const cases = [
    [],
    ['--json'],
    ['bogus'],
    ['toString'],
    ['bridge'],
    ['bridge', 'bogus'],
    ['bridge', 'ls', '--nope'],
    ['bridge', 'ls', '--aging', '5'],
    ['bridge', 'ls', 'extra'],
    ['bridge', 'add'],
    ['bridge', 'add', 'a', 'b'],
    ['bridge', 'add', 'br0', '--aging', 'soon'],
    ['bridge', 'add', 'br0', '--aging'],
    ['bridge', 'rm', 'br0', '--force=yes'],
    ['port', 'add', 'br0', 'h1'],
    ['port', 'add', 'br0', 'h1', '--kind', 'tap', '--mtu', 'big'],
    ['port', 'ls'],
    ['fdb', 'add', 'br0', '02:00:00:00:00:01'],
    ['fdb', 'flush', 'br0', '--force'],
    ['--url', 'http://127.0.0.1:1', 'health'],
  ];
  for (const args of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `tapwire ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.match(r.stderr, /^tapwire: .+\n\nUsage/, args.join(' '));
  }
  assert.deepEqual(unix.requests, []);
});

test('--help at any level prints usage on stdout and exits 0', async () => {
  const top = await cli('--help');
  ok(top);
  assert.match(top.stdout, /^Usage: tapwire /);
  for (const c of ['health', 'version', 'bridge add', 'bridge rm', 'port add', 'port ls', 'fdb flush']) assert.ok(top.stdout.includes(`tapwire ${c}`), c);
  assert.ok(top.stdout.includes('--token-file'));

  const group = await cli('bridge', '-h');
  ok(group);
  assert.ok(group.stdout.includes('tapwire bridge set NAME'));
  assert.ok(group.stdout.includes('--fdb-max N'));
  assert.ok(!group.stdout.includes('port add'));

  const one = await cli('port', 'add', '--help');
  ok(one);
  assert.ok(one.stdout.includes('tapwire port add BRIDGE NAME --kind tap'));
  assert.ok(one.stdout.includes('--netns NS'));
  assert.ok(!one.stdout.includes('port ls'));
  assert.deepEqual(unix.requests, []);
});

test('--url with --token-file: the bearer token is sent, trimmed, and never printed', async () => {
  tcp.answer('GET', '/v1/bridges', 200, [BR0]);
  const r = await runCli(['--url', tcpUrl, '--token-file', tokenFile, 'bridge', 'ls']);
  ok(r);
  assert.equal(only(tcp).headers.authorization, `Bearer ${TOKEN}`);
  assert.match(r.stdout, /^br0 /m);

  tcp.reset();
  tcp.answer('GET', '/v1/bridges', 401, problem(401, 'TW_ERR_UNAUTHORIZED', 'a valid bearer token is required').body);
  const denied = await runCli(['--url', tcpUrl, '--token-file', tokenFile, 'bridge', 'ls']);
  assert.equal(denied.code, 1);
  assert.equal(denied.stderr, 'tapwire: a valid bearer token is required (TW_ERR_UNAUTHORIZED)\n');
  assert.ok(!`${denied.stdout}${denied.stderr}`.includes(TOKEN));
  assert.deepEqual(unix.requests, []);
});

test("--url: a path prefix (a reverse proxy's) goes before /v1", async () => {
  tcp.answer('GET', '/tapwire/v1/health', 200, { status: 'ok', version: '9.9.9' });
  ok(await runCli(['--url', `${tcpUrl}/tapwire/`, '--token-file', tokenFile, 'health']));
  assert.equal(only(tcp).url, '/tapwire/v1/health');
});

test('--url: without a token file it is a usage error; an unreadable one is exit 1', async () => {
  const none = await runCli(['--url', tcpUrl, 'health']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--token-file/);
  const missing = await runCli(['--url', tcpUrl, '--token-file', join(dir, 'no-token'), 'health']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tapwire: cannot read the token file .*no-token: ENOENT/);
  const bad = await runCli(['--url', 'ftp://x', '--token-file', tokenFile, 'health']);
  assert.equal(bad.code, 2);
  assert.deepEqual(tcp.requests, []);
});

test('environment: TAPWIRE_URL + TAPWIRE_TOKEN_FILE, and TAPWIRE_SOCKET; flags win over it', async () => {
  tcp.answer('GET', '/v1/health', 200, { status: 'ok', version: '9.9.9' });
  ok(await runCli(['health'], { TAPWIRE_URL: tcpUrl, TAPWIRE_TOKEN_FILE: tokenFile }));
  assert.equal(only(tcp).headers.authorization, `Bearer ${TOKEN}`);

  unix.answer('GET', '/v1/health', 200, { status: 'ok', version: '9.9.9' });
  ok(await runCli(['health'], { TAPWIRE_SOCKET: sock, TAPWIRE_TOKEN_FILE: tokenFile }));
  assert.equal(only(unix).headers.authorization, undefined, 'no token over the unix socket');

  unix.reset();
  tcp.reset();
  unix.answer('GET', '/v1/health', 200, { status: 'ok', version: '9.9.9' });
  ok(await runCli(['--socket', sock, 'health'], { TAPWIRE_URL: tcpUrl, TAPWIRE_TOKEN_FILE: tokenFile }));
  only(unix);
  assert.deepEqual(tcp.requests, []);
});

test('renderTable: padded columns two spaces apart, right-aligned numbers, no trailing spaces', () => {
  const rows = [
    { name: 'a', n: 5, note: 'x' },
    { name: 'longer', n: 12345, note: '' },
  ];
  const columns = [
    { header: 'NAME', cell: (r: (typeof rows)[number]) => r.name },
    { header: 'N', cell: (r: (typeof rows)[number]) => String(r.n), align: 'right' as const },
    { header: 'NOTE', cell: (r: (typeof rows)[number]) => r.note },
  ];
  assert.equal(renderTable(columns, rows), ['NAME        N  NOTE', 'a           5  x', 'longer  12345'].join('\n'));
  assert.equal(renderTable(columns, []), 'NAME  N  NOTE');
  assert.equal(
    renderFields([
      ['name', 'br0'],
      ['fdb-max', '8192'],
      ['ports', ''],
    ]),
    'name     br0\nfdb-max  8192\nports',
  );
});
