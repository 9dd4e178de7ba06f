// The REST API through inject(), over a daemon whose data plane runs on in-memory devices (no root):
// every route's success, each kind of bad input, 404, 409, and that a failed request changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server } from 'node:net';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { OPENAPI_FILE, renderOpenApi } from '../../src/api/export-openapi.js';
import { Daemon, type PortEvent } from '../../src/daemon/daemon.js';
import { StateError, StateStore } from '../../src/daemon/state-store.js';
import { Metrics } from '../../src/metrics/metrics.js';

const silent = { info() {}, warn() {}, error() {} };
// FAKES is the fake devices module the data plane worker loads in these tests (no root).
const FAKES = new URL('../../src/ports/fake-port.js', import.meta.url).href;
const NETNS = ['h1', 'h2', 'h3'];

interface Ctx {
  dir: string;
  store: StateStore;
  daemon: Daemon;
  app: FastifyInstance;
}

async function start(dir = mkdtempSync(join(tmpdir(), 'twapi-')), token?: string): Promise<Ctx> {
  const store = new StateStore(dir);
  const daemon = await Daemon.start(silent, { store, fakeDevices: { module: FAKES, netns: NETNS, interfaces: ['veth0'] } });
  const app = await buildApp(daemon, { token, metrics: new Metrics(daemon) });
  await app.ready();
  return { dir, store, daemon, app };
}

async function stop(c: Ctx, keep = false): Promise<void> {
  await c.app.close();
  await c.daemon.close();
  if (!keep) rmSync(c.dir, { recursive: true, force: true });
}

/** snapshot is everything a request could change: what the API shows and the saved state. */
async function snapshot(c: Ctx): Promise<unknown> {
  const bridges = await c.daemon.bridges();
  const ports = await c.daemon.ports();
  const fdb = await Promise.all(bridges.map((b) => c.daemon.fdb(b.name)));
  let saved = '';
  try {
    saved = readFileSync(c.store.path, 'utf8');
  } catch {
    // nothing saved yet
  }
  return { bridges: bridges.map(({ counters: _c, ...b }) => b), ports: ports.map(({ counters: _c, ...p }) => p), fdb, saved };
}

type Json = Record<string, unknown>;

async function call(c: Ctx, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) {
  const r = await c.app.inject({ method, url, payload: payload as Json, headers });
  const body = r.body === '' ? undefined : (JSON.parse(r.body) as unknown);
  return { status: r.statusCode, body, type: String(r.headers['content-type'] ?? '') };
}

/** rejects checks that the request fails with `status`/`code` (detail matching `detail`) and changes nothing. */
async function rejects(c: Ctx, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload: unknown, status: number, code: string, detail?: RegExp): Promise<void> {
  const before = await snapshot(c);
  const r = await call(c, method, url, payload);
  const b = r.body as Json;
  assert.equal(r.status, status, `${method} ${url} ${JSON.stringify(payload)} -> ${JSON.stringify(r.body)}`);
  assert.match(r.type, /^application\/problem\+json/);
  assert.equal(b.code, code, JSON.stringify(b));
  assert.equal(b.status, status);
  assert.equal(typeof b.title, 'string');
  assert.equal(typeof b.type, 'string');
  if (detail !== undefined) assert.match(String(b.detail), detail);
  assert.deepEqual(await snapshot(c), before, `${method} ${url} changed something although it failed`);
}

describe('REST API', () => {
  let c: Ctx;
  before(async () => {
    c = await start();
  });
  after(async () => {
    await stop(c);
  });

  test('GET /v1/health', async () => {
    const r = await call(c, 'GET', '/v1/health');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ok', version: '0.1.0' });
  });

  test('bridges: create, list, show, change, delete', async () => {
    let r = await call(c, 'POST', '/v1/bridges', { name: 'br0' });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body, { name: 'br0', agingSeconds: 300, fdbMax: 8192, ports: [], counters: { fdbEntries: 0, fdbLearned: 0, fdbMoved: 0, fdbExpired: 0, fdbEvicted: 0, floods: 0 } });
    r = await call(c, 'POST', '/v1/bridges', { name: 'lab.1', agingSeconds: 60, fdbMax: 100 });
    assert.equal(r.status, 201);
    r = await call(c, 'GET', '/v1/bridges');
    assert.deepEqual(
      (r.body as Json[]).map((b) => b.name),
      ['br0', 'lab.1'],
    );
    r = await call(c, 'GET', '/v1/bridges/lab.1');
    assert.equal((r.body as Json).fdbMax, 100);
    r = await call(c, 'PATCH', '/v1/bridges/lab.1', { agingSeconds: 30 });
    assert.equal(r.status, 200);
    assert.equal((r.body as Json).agingSeconds, 30);
    assert.equal((r.body as Json).fdbMax, 100);
    r = await call(c, 'DELETE', '/v1/bridges/lab.1');
    assert.equal(r.status, 204);
    assert.equal(r.body, undefined);
    assert.equal((await call(c, 'GET', '/v1/bridges/lab.1')).status, 404);
  });

  test('bridges: bad input, 404 and 409 change nothing', async () => {
    await rejects(c, 'POST', '/v1/bridges', { name: 'a-name-of-16-byte' }, 400, 'TW_ERR_VALIDATION', /name/);
    await rejects(c, 'POST', '/v1/bridges', { name: 'br 0' }, 400, 'TW_ERR_VALIDATION', /name/);
    await rejects(c, 'POST', '/v1/bridges', { name: '' }, 400, 'TW_ERR_VALIDATION');
    await rejects(c, 'POST', '/v1/bridges', { name: 'brx', colour: 'red' }, 400, 'TW_ERR_VALIDATION', /unknown field "colour"/);
    await rejects(c, 'POST', '/v1/bridges', { name: 'brx', agingSeconds: 5 }, 400, 'TW_ERR_VALIDATION', /agingSeconds/);
    await rejects(c, 'POST', '/v1/bridges', { name: 'brx', fdbMax: '10' }, 400, 'TW_ERR_VALIDATION', /fdbMax/);
    await rejects(c, 'POST', '/v1/bridges', {}, 400, 'TW_ERR_VALIDATION', /name/);
    await rejects(c, 'POST', '/v1/bridges', { name: 'br0' }, 409, 'TW_ERR_EXISTS');
    await rejects(c, 'GET', '/v1/bridges/nope', undefined, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'GET', '/v1/bridges/bad name!', undefined, 400, 'TW_ERR_VALIDATION');
    await rejects(c, 'PATCH', '/v1/bridges/nope', { agingSeconds: 20 }, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'PATCH', '/v1/bridges/br0', { name: 'other' }, 400, 'TW_ERR_VALIDATION', /unknown field "name"/);
    await rejects(c, 'PATCH', '/v1/bridges/br0', { fdbMax: 0 }, 400, 'TW_ERR_VALIDATION');
    await rejects(c, 'DELETE', '/v1/bridges/nope', undefined, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'DELETE', '/v1/bridges/br0?force=yes', undefined, 400, 'TW_ERR_VALIDATION');
  });

  test('ports: create, list, show, delete; a bridge with ports is in use', async () => {
    let r = await call(c, 'POST', '/v1/bridges/br0/ports', { name: 'p1', kind: 'tap', netns: 'h1', addresses: ['10.0.0.1/24', 'fd00::1/64'], mac: '02:00:00:00:00:01', mtu: 9000 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const p1 = r.body as Json;
    assert.equal(p1.name, 'p1');
    assert.equal(p1.bridge, 'br0');
    assert.equal(p1.kind, 'tap');
    assert.equal(p1.ifname, 'p1');
    assert.equal(p1.netns, 'h1');
    assert.deepEqual(p1.addresses, ['10.0.0.1/24', 'fd00::1/64']);
    assert.equal(p1.mac, '02:00:00:00:00:01');
    assert.equal(p1.mtu, 9000);
    assert.equal(p1.state, 'up');
    assert.deepEqual(p1.counters, { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 0, drops: {} });
    r = await call(c, 'POST', '/v1/bridges/br0/ports', { name: 'p2', kind: 'tap', up: false });
    assert.equal(r.status, 201);
    assert.equal((r.body as Json).state, 'down');
    r = await call(c, 'GET', '/v1/bridges/br0/ports');
    assert.deepEqual(
      (r.body as Json[]).map((p) => p.name),
      ['p1', 'p2'],
    );
    r = await call(c, 'GET', '/v1/bridges/br0/ports/p2');
    assert.equal((r.body as Json).mtu, 1500);
    assert.equal((await call(c, 'GET', '/v1/bridges/br0')).body && ((await call(c, 'GET', '/v1/bridges/br0')).body as Json).ports instanceof Array, true);
    await rejects(c, 'DELETE', '/v1/bridges/br0', undefined, 409, 'TW_ERR_IN_USE');
    r = await call(c, 'DELETE', '/v1/bridges/br0/ports/p2');
    assert.equal(r.status, 204);
    assert.equal((await call(c, 'GET', '/v1/bridges/br0/ports/p2')).status, 404);
  });

  test('ports: each kind of bad input, 404 and 409 change nothing', async () => {
    const url = '/v1/bridges/br0/ports';
    await rejects(c, 'POST', url, { name: 'this-name-is-too-long', kind: 'tap' }, 400, 'TW_ERR_VALIDATION', /name/);
    await rejects(c, 'POST', url, { name: 'p/3', kind: 'tap' }, 400, 'TW_ERR_VALIDATION', /name/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'vxlan' }, 400, 'TW_ERR_VALIDATION', /kind must be one of "tap", "vm", "netdev", "socket"/);
    await rejects(c, 'POST', url, { name: 'p3' }, 400, 'TW_ERR_VALIDATION', /kind/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', mac: '02:00:00:00:00' }, 400, 'TW_ERR_VALIDATION', /mac/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', mac: '01:00:5e:00:00:01' }, 400, 'TW_ERR_VALIDATION', /unicast/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', addresses: ['10.0.0.3'] }, 400, 'TW_ERR_VALIDATION', /addresses/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', addresses: ['10.0.0.256/24'] }, 400, 'TW_ERR_VALIDATION', /addresses\[0\]/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', addresses: ['fd00::1/129'] }, 400, 'TW_ERR_VALIDATION', /128/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', mtu: 67 }, 400, 'TW_ERR_VALIDATION', /mtu/);
    for (const mtu of [68, 1000]) {
      await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', addresses: ['fd00::3/64'], mtu }, 400, 'TW_ERR_VALIDATION', /port\.mtu must be at least 1280 with IPv6/);
    }
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', up: 'yes' }, 400, 'TW_ERR_VALIDATION', /up/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', ifname: 'x' }, 400, 'TW_ERR_VALIDATION', /unknown field "ifname"/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'tap', netns: 'nowhere' }, 400, 'TW_ERR_VALIDATION', /nowhere does not exist/);
    await rejects(c, 'POST', url, { name: 'p1', kind: 'tap' }, 409, 'TW_ERR_EXISTS');
    await rejects(c, 'POST', url, { name: 'p3', kind: 'netdev' }, 400, 'TW_ERR_VALIDATION', /ifname/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'netdev', ifname: 'nosuch0' }, 400, 'TW_ERR_VALIDATION', /no interface named nosuch0/);
    await rejects(c, 'POST', url, { name: 'p3', kind: 'netdev', ifname: 'veth0', mtu: 1500 }, 400, 'TW_ERR_VALIDATION', /unknown field "mtu"/);
    await rejects(c, 'POST', '/v1/bridges/nope/ports', { name: 'p3', kind: 'tap' }, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'GET', '/v1/bridges/nope/ports', undefined, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'GET', '/v1/bridges/br0/ports/nope', undefined, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'DELETE', '/v1/bridges/br0/ports/nope', undefined, 404, 'TW_ERR_NOT_FOUND');
    // A port name is unique in the daemon, whatever bridge holds it.
    assert.equal((await call(c, 'POST', '/v1/bridges', { name: 'br1' })).status, 201);
    await rejects(c, 'POST', '/v1/bridges/br1/ports', { name: 'p1', kind: 'tap' }, 409, 'TW_ERR_EXISTS');
    assert.equal((await call(c, 'DELETE', '/v1/bridges/br1')).status, 204);
  });

  test('netdev ports: an existing interface joins the bridge, saved and listed like any port', async () => {
    const r = await call(c, 'POST', '/v1/bridges/br0/ports', { name: 'c1', kind: 'netdev', ifname: 'veth0' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(
      { ...(r.body as Json), counters: undefined },
      { name: 'c1', bridge: 'br0', kind: 'netdev', ifname: 'veth0', addresses: [], mtu: 1500, state: 'up', counters: undefined },
    );
    const saved = JSON.parse(readFileSync(c.store.path, 'utf8')) as { bridges: { ports: unknown[] }[] };
    assert.deepEqual(saved.bridges[0]!.ports.at(-1), { name: 'c1', kind: 'netdev', ifname: 'veth0' });
    assert.equal((await call(c, 'DELETE', '/v1/bridges/br0/ports/c1')).status, 204);
  });

  test("port events: a socket port's peer coming and going reaches the control plane as events", async () => {
    const events: PortEvent[] = [];
    const stopListening = c.daemon.onPortEvent((e) => events.push(e));
    const path = join(c.dir, 'ev.sock');
    const r = await call(c, 'POST', '/v1/bridges/br0/ports', { name: 'ev1', kind: 'socket', path });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const peer = connect(path);
    await once(peer, 'connect');
    const until = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && events.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await until(1);
    peer.destroy();
    await until(2);
    stopListening();
    assert.deepEqual(
      events.map((e) => [e.type, e.port, e.bridge, e.state]),
      [
        ['port-state', 'ev1', 'br0', 'up'],
        ['port-state', 'ev1', 'br0', 'down'],
      ],
    );
    assert.equal((await call(c, 'DELETE', '/v1/bridges/br0/ports/ev1')).status, 204);
  });

  test('fdb: static entries, list, delete, flush', async () => {
    let r = await call(c, 'POST', '/v1/bridges/br0/fdb', { mac: '02:AA:00:00:00:01', port: 'p1' });
    assert.equal(r.status, 201);
    assert.deepEqual(r.body, { mac: '02:aa:00:00:00:01', port: 'p1', static: true, ageSeconds: 0 });
    r = await call(c, 'GET', '/v1/bridges/br0/fdb');
    assert.deepEqual(r.body, [{ mac: '02:aa:00:00:00:01', port: 'p1', static: true, ageSeconds: 0 }]);
    await rejects(c, 'POST', '/v1/bridges/br0/fdb', { mac: '01:00:00:00:00:01', port: 'p1' }, 400, 'TW_ERR_VALIDATION', /unicast/);
    await rejects(c, 'POST', '/v1/bridges/br0/fdb', { mac: 'zz', port: 'p1' }, 400, 'TW_ERR_VALIDATION');
    await rejects(c, 'POST', '/v1/bridges/br0/fdb', { mac: '02:00:00:00:00:09', port: 'nope' }, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'POST', '/v1/bridges/br0/fdb', { mac: '02:00:00:00:00:09', port: 'p1', vlan: 'x' }, 400, 'TW_ERR_VALIDATION', /unknown field "vlan"/);
    await rejects(c, 'POST', '/v1/bridges/nope/fdb', { mac: '02:00:00:00:00:09', port: 'p1' }, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'DELETE', '/v1/bridges/br0/fdb/02:00:00:00:00:09', undefined, 404, 'TW_ERR_NOT_FOUND');
    await rejects(c, 'DELETE', '/v1/bridges/br0/fdb/not-a-mac', undefined, 400, 'TW_ERR_VALIDATION');
    r = await call(c, 'DELETE', '/v1/bridges/br0/fdb');
    assert.deepEqual(r.body, { flushed: 0 });
    assert.equal((await call(c, 'GET', '/v1/bridges/br0/fdb')).body instanceof Array, true);
    r = await call(c, 'DELETE', '/v1/bridges/br0/fdb/02:aa:00:00:00:01');
    assert.equal(r.status, 204);
    assert.deepEqual((await call(c, 'GET', '/v1/bridges/br0/fdb')).body, []);
  });

  test('unknown routes, bodies that are not JSON, too large or of another type', async () => {
    await rejects(c, 'GET', '/v1/nothing', undefined, 404, 'TW_ERR_NOT_FOUND');
    const before = await snapshot(c);
    let r = await c.app.inject({ method: 'POST', url: '/v1/bridges', payload: '{"name":', headers: { 'content-type': 'application/json' } });
    assert.equal(r.statusCode, 400);
    assert.equal(JSON.parse(r.body).code, 'TW_ERR_VALIDATION');
    r = await c.app.inject({ method: 'POST', url: '/v1/bridges', payload: JSON.stringify({ name: 'big', pad: 'x'.repeat(70_000) }), headers: { 'content-type': 'application/json' } });
    assert.equal(r.statusCode, 413);
    assert.equal(JSON.parse(r.body).code, 'TW_ERR_TOO_LARGE');
    r = await c.app.inject({ method: 'POST', url: '/v1/bridges', payload: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.statusCode, 415);
    assert.equal(JSON.parse(r.body).code, 'TW_ERR_UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(await snapshot(c), before);
  });

  test("fastify's own errors and bodies that are not plain UTF-8 JSON are problems of the error table too", async () => {
    // A path parameter over 100 characters (fastify's 414) is an invalid name; a path that is not UTF-8 is invalid.
    await rejects(c, 'GET', `/v1/bridges/${'a'.repeat(101)}`, undefined, 400, 'TW_ERR_VALIDATION', /longer than 100 characters/);
    await rejects(c, 'DELETE', `/v1/bridges/br0/ports/${'p'.repeat(200)}`, undefined, 400, 'TW_ERR_VALIDATION', /longer than 100 characters/);
    await rejects(c, 'GET', '/v1/bridges/%E0%A4%A', undefined, 400, 'TW_ERR_VALIDATION', /not valid percent-encoded UTF-8/);
    const before = await snapshot(c);
    const post = async (payload: string | Buffer, contentType: string, status: number, code: string, detail: RegExp) => {
      const r = await c.app.inject({ method: 'POST', url: '/v1/bridges', payload, headers: { 'content-type': contentType } });
      assert.equal(r.statusCode, status, `${contentType}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
      const b = JSON.parse(r.body) as Json;
      assert.deepEqual(Object.keys(b).sort(), ['code', 'detail', 'status', 'title', 'type']);
      assert.equal(b.code, code);
      assert.equal(b.status, status);
      assert.match(String(b.detail), detail);
    };
    const json = '{"name":"brx"}';
    await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]), 'application/json', 400, 'TW_ERR_VALIDATION', /byte order mark/);
    await post(Buffer.from(`\ufeff${json}`, 'utf16le'), 'application/json; charset=utf-16', 415, 'TW_ERR_UNSUPPORTED_MEDIA_TYPE', /must be UTF-8.*"utf-16"/);
    await post(json, 'application/json; charset=utf-16', 415, 'TW_ERR_UNSUPPORTED_MEDIA_TYPE', /"utf-16"/);
    await post(json, 'application/json;charset="ISO-8859-1"', 415, 'TW_ERR_UNSUPPORTED_MEDIA_TYPE', /"iso-8859-1"/);
    assert.deepEqual(await snapshot(c), before);
    for (const contentType of ['application/json; charset=UTF-8', 'application/json;charset="utf-8"', 'application/json']) {
      const r = await c.app.inject({ method: 'POST', url: '/v1/bridges', payload: json, headers: { 'content-type': contentType } });
      assert.equal(r.statusCode, 201, `${contentType}: ${r.body}`);
      assert.equal((await call(c, 'DELETE', '/v1/bridges/brx')).status, 204);
    }
  });

  test('GET /metrics serves the Prometheus text format', async () => {
    const r = await c.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /text\/plain/);
    assert.match(r.body, /tapwire_port_rx_frames_total\{[^}]*port="p1"/);
    assert.match(r.body, /tapwire_bridge_fdb_entries\{bridge="br0"\} 0/);
    assert.match(r.body, /tapwire_api_request_duration_seconds_count\{/);
  });

  test('the OpenAPI document served equals the committed api/openapi.json', async () => {
    const r = await call(c, 'GET', '/v1/openapi.json');
    assert.equal(r.status, 200);
    const served = r.body as Json;
    assert.equal(served.openapi, '3.0.3');
    const committed = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as unknown;
    assert.deepEqual(served, committed, 'api/openapi.json is stale: run `npm run openapi` and commit it');
    assert.equal(await renderOpenApi(), readFileSync(OPENAPI_FILE, 'utf8'));
  });
});

describe('REST API with a bearer token (the TCP listener)', () => {
  let c: Ctx;
  const token = 'test-token-0123456789abcdef';
  before(async () => {
    c = await start(undefined, token);
  });
  after(async () => {
    await stop(c);
  });

  test('requests without the token or with a wrong one get 401 and change nothing', async () => {
    const before = await snapshot(c);
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token' }, { authorization: `Basic ${token}` }, { authorization: 'Bearer' }]) {
      const r = await call(c, 'POST', '/v1/bridges', { name: 'br0' }, headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.equal((r.body as Json).code, 'TW_ERR_UNAUTHORIZED');
      assert.doesNotMatch(JSON.stringify(r.body), new RegExp(token));
    }
    assert.equal((await call(c, 'GET', '/metrics', undefined, {})).status, 401);
    assert.deepEqual(await snapshot(c), before);
    const ok = await call(c, 'POST', '/v1/bridges', { name: 'br0' }, { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 201);
  });

  test('the log never holds the token: request lines carry the path without its query, and authorization headers are redacted', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
        done();
      },
    });
    const app = await buildApp(c.daemon, { token, logger: pino({ level: 'trace' }, stream) });
    await app.ready();
    try {
      const bearer = { authorization: `Bearer ${token}` };
      for (const [url, headers, status] of [
        [`/v1/bridges?token=${token}`, {}, 401],
        [`/v1/bridges?token=${token}`, { authorization: 'Bearer wrong-token' }, 401],
        [`/v1/bridges?token=${token}`, bearer, 200],
        [`/v1/nothing?token=${token}`, bearer, 404],
        [`/v1/bridges/${'a'.repeat(101)}?token=${token}`, bearer, 400],
      ] as const) {
        const r = await app.inject({ method: 'GET', url, headers });
        assert.equal(r.statusCode, status, url);
      }
      app.log.info({ headers: bearer, req: { method: 'GET', url: `/v1/bridges?token=${token}`, headers: bearer } }, 'a line that names the headers');
      const incoming = lines.map((l) => JSON.parse(l) as { msg: string; req?: { url: string } }).filter((l) => l.msg === 'incoming request');
      assert.equal(incoming.length, 5, lines.join('\n'));
      assert.deepEqual(incoming[0]!.req, { method: 'GET', url: '/v1/bridges', host: 'localhost:80', remoteAddress: '127.0.0.1' });
      assert.match(lines.at(-1)!, /a line that names the headers/);
      for (const l of lines) assert.doesNotMatch(l, new RegExp(token), l);
    } finally {
      await app.close();
    }
  });
});

/** staleSocket leaves a socket file nobody listens on at `path`: a process that listened there and died. */
function staleSocket(path: string): void {
  execFileSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.exit(0))", path]);
}

async function listenAt(path: string): Promise<Server> {
  const server = createServer((s) => s.end());
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

/** answers says whether something accepts a connection on the socket at `path`. */
async function answers(path: string): Promise<boolean> {
  const s = connect(path);
  try {
    await once(s, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    s.destroy();
  }
}

describe('socket ports: where they may listen', () => {
  let dir: string;
  let ports: string;
  let apiSocket: string;
  let api: Server;
  let c: Ctx;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twapi-sock-'));
    ports = join(dir, 'ports');
    mkdirSync(ports);
    // The daemon's API socket, live, inside the allowed directory: only its being the daemon's refuses it.
    apiSocket = join(ports, 'api.sock');
    api = await listenAt(apiSocket);
    const store = new StateStore(join(dir, 'state'));
    const daemon = await Daemon.start(silent, {
      store,
      fakeDevices: { module: FAKES, netns: [] },
      socketDir: ports,
      ownSockets: [
        { path: apiSocket, what: 'API socket' },
        { path: join(ports, 'fd.sock'), what: 'fd socket' },
      ],
    });
    const app = await buildApp(daemon, { metrics: new Metrics(daemon) });
    c = { dir, store, daemon, app };
    assert.equal((await call(c, 'POST', '/v1/bridges', { name: 'br0' })).status, 201);
  });
  after(async () => {
    await stop(c, true);
    api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the daemon's own sockets are refused, and the API socket still answers", async () => {
    const inode = statSync(apiSocket).ino;
    await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 's1', kind: 'socket', path: apiSocket }, 400, 'TW_ERR_VALIDATION', /is the daemon's API socket/);
    await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 's1', kind: 'socket', path: join(ports, 'x', '..', 'api.sock') }, 400, 'TW_ERR_VALIDATION', /API socket/);
    await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 's1', kind: 'socket', path: join(ports, 'fd.sock') }, 400, 'TW_ERR_VALIDATION', /is the daemon's fd socket/);
    assert.equal(statSync(apiSocket).ino, inode, 'the API socket file is the same one');
    assert.ok(await answers(apiSocket), 'the API socket still answers');
  });

  test('a socket another process listens on is refused (409) and keeps working', async () => {
    for (const mode of ['stream', 'dgram']) {
      const path = join(ports, `foreign-${mode}.sock`);
      const foreign = await listenAt(path);
      try {
        await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 's2', kind: 'socket', path, mode }, 409, 'TW_ERR_EXISTS', /in use/);
        assert.ok(await answers(path), 'the other process still listens');
      } finally {
        foreign.close();
      }
    }
    const file = join(ports, 'plain-file');
    writeFileSync(file, 'x');
    await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 's2', kind: 'socket', path: file }, 409, 'TW_ERR_EXISTS', /not a socket/);
    assert.equal(readFileSync(file, 'utf8'), 'x');
  });

  test('a stale socket nobody listens on is replaced', async () => {
    for (const mode of ['stream', 'dgram']) {
      const path = join(ports, `stale-${mode}.sock`);
      staleSocket(path);
      assert.equal(await answers(path), false);
      const r = await call(c, 'POST', '/v1/bridges/br0/ports', { name: 's3', kind: 'socket', path, mode });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      if (mode === 'stream') assert.ok(await answers(path), 'the port listens there now');
      assert.equal((await call(c, 'DELETE', '/v1/bridges/br0/ports/s3')).status, 204);
    }
  });

  test('a path outside the socket directory is refused, after .. and symlinks of its directory', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'twapi-out-'));
    try {
      symlinkSync(outside, join(ports, 'link'));
      const named = new RegExp(`outside ${ports.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
      for (const path of [join(outside, 'a.sock'), `${ports}/../a.sock`, join(ports, 'link', 'a.sock'), join(dir, 'a.sock')]) {
        await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 's4', kind: 'socket', path }, 400, 'TW_ERR_VALIDATION', named);
      }
      await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 's4', kind: 'socket', path: join(ports, 'nodir', 'a.sock') }, 400, 'TW_ERR_VALIDATION', /cannot be used/);
      const r = await call(c, 'POST', '/v1/bridges/br0/ports', { name: 's4', kind: 'socket', path: join(ports, 'inside.sock') });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal((await call(c, 'DELETE', '/v1/bridges/br0/ports/s4')).status, 204);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test("a restart whose saved socket port cannot listen starts, with the port pending (error), and takes no one's socket", async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'twapi-restart-'));
    try {
      const p2 = join(d2, 'ports');
      mkdirSync(p2);
      // As after kill -9 of a daemon whose socket port had taken its API socket: the API socket is stale.
      const own = join(p2, 'api.sock');
      staleSocket(own);
      const inode = statSync(own).ino;
      const saved = {
        version: 1,
        bridges: [
          {
            name: 'br0',
            ports: [
              { name: 'sa', kind: 'socket', path: own, mode: 'stream' },
              { name: 'sb', kind: 'socket', path: join(d2, 'outside.sock'), mode: 'stream' },
              { name: 'sc', kind: 'socket', path: join(p2, 'fine.sock'), mode: 'stream' },
            ],
            fdb: [],
          },
        ],
      };
      mkdirSync(join(d2, 'state'));
      writeFileSync(join(d2, 'state', 'state.json'), JSON.stringify(saved));
      const store = new StateStore(join(d2, 'state'));
      const daemon = await Daemon.start(silent, { store, fakeDevices: { module: FAKES, netns: [] }, socketDir: p2, ownSockets: [{ path: own, what: 'API socket' }] });
      try {
        const states = Object.fromEntries((await daemon.ports()).map((p) => [p.name, p.state]));
        assert.deepEqual(states, { sa: 'error', sb: 'error', sc: 'down' });
        assert.equal(statSync(own).ino, inode, 'the stale API socket was not taken');
        assert.equal(await answers(own), false);
        assert.equal((JSON.parse(readFileSync(store.path, 'utf8')) as typeof saved).bridges[0]!.ports.length, 3, 'the pending ports stay in the state');
      } finally {
        await daemon.close();
      }
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });
});

describe('persistence', () => {
  test('a restart on the same state directory rebuilds bridges, ports and static entries', async () => {
    const c = await start();
    await call(c, 'POST', '/v1/bridges', { name: 'br0', agingSeconds: 42 });
    await call(c, 'POST', '/v1/bridges', { name: 'br1' });
    await call(c, 'POST', '/v1/bridges/br0/ports', { name: 'p1', kind: 'tap', netns: 'h1', addresses: ['10.0.0.1/24'] });
    await call(c, 'POST', '/v1/bridges/br0/ports', { name: 'p2', kind: 'tap', mtu: 9000 });
    await call(c, 'POST', '/v1/bridges/br0/fdb', { mac: '02:00:00:00:00:22', port: 'p2' });
    await call(c, 'DELETE', '/v1/bridges/br1');
    const before = await snapshot(c);
    await stop(c, true);
    const saved = JSON.parse(readFileSync(join(c.dir, 'state.json'), 'utf8')) as Json;
    assert.equal(saved.version, 1);
    const again = await start(c.dir);
    try {
      assert.deepEqual(await snapshot(again), before);
    } finally {
      await stop(again);
    }
  });

  test('removing a port drops its static entries from the saved state too', async () => {
    const c = await start();
    try {
      await call(c, 'POST', '/v1/bridges', { name: 'br0' });
      await call(c, 'POST', '/v1/bridges/br0/ports', { name: 'p1', kind: 'tap' });
      await call(c, 'POST', '/v1/bridges/br0/fdb', { mac: '02:00:00:00:00:22', port: 'p1' });
      await call(c, 'DELETE', '/v1/bridges/br0/ports/p1');
      const saved = JSON.parse(readFileSync(c.store.path, 'utf8')) as { bridges: { fdb: unknown[]; ports: unknown[] }[] };
      assert.deepEqual(saved.bridges[0]!.fdb, []);
      assert.deepEqual(saved.bridges[0]!.ports, []);
    } finally {
      await stop(c);
    }
  });

  test('a saved port whose namespace is not there stays in the state as pending (state error) until removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twapi-'));
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({
        version: 1,
        bridges: [
          {
            name: 'br0',
            agingSeconds: 300,
            fdbMax: 8192,
            ports: [
              { name: 'p1', kind: 'tap', netns: 'later', addresses: ['10.0.0.1/24'], up: true },
              { name: 'p2', kind: 'tap', addresses: [], up: true },
              { name: 'bad name!', kind: 'tap', addresses: [], up: true },
            ],
            fdb: [
              { mac: '02:00:00:00:00:AA', port: 'p1' },
              { mac: '02:00:00:00:00:bb', port: 'nope' },
            ],
          },
          null,
        ],
      }),
    );
    const c = await start(dir);
    try {
      const ports = (await call(c, 'GET', '/v1/bridges/br0/ports')).body as Json[];
      assert.deepEqual(
        ports.map((p) => [p.name, p.state]),
        [
          ['p2', 'up'],
          ['p1', 'error'],
        ],
      );
      assert.equal(((await call(c, 'GET', '/v1/bridges/br0/ports/p1')).body as Json).netns, 'later');
      const saved = () => JSON.parse(readFileSync(c.store.path, 'utf8')) as { bridges: { ports: { name: string }[]; fdb: { mac: string }[] }[] };
      assert.deepEqual(saved().bridges.length, 1, 'the invalid bridge entry is dropped');
      assert.deepEqual(
        saved().bridges[0]!.ports.map((p) => p.name),
        ['p1', 'p2'],
        'the pending port stays saved; the invalid one is dropped',
      );
      assert.deepEqual(
        saved().bridges[0]!.fdb.map((f) => f.mac),
        ['02:00:00:00:00:aa'],
        'normalized; the entry for an unknown port dropped',
      );
      await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 'p1', kind: 'tap' }, 409, 'TW_ERR_EXISTS');
      await rejects(c, 'DELETE', '/v1/bridges/br0', undefined, 409, 'TW_ERR_IN_USE');
      assert.equal((await call(c, 'DELETE', '/v1/bridges/br0/ports/p1')).status, 204);
      assert.deepEqual(
        saved().bridges[0]!.ports.map((p) => p.name),
        ['p2'],
      );
      assert.deepEqual(saved().bridges[0]!.fdb, []);
      assert.deepEqual(
        ((await call(c, 'GET', '/v1/bridges/br0/ports')).body as Json[]).map((p) => p.name),
        ['p2'],
      );
    } finally {
      await stop(c);
    }
  });

  test('a corrupt or unknown-version state file stops the start and is kept as it was', async () => {
    for (const content of ['{"version": 1, "bridges": [', '{"version": 99, "bridges": []}', '[]']) {
      const dir = mkdtempSync(join(tmpdir(), 'twapi-'));
      try {
        writeFileSync(join(dir, 'state.json'), content);
        await assert.rejects(Daemon.start(silent, { store: new StateStore(dir), fakeDevices: { module: FAKES, netns: [] } }), StateError);
        assert.equal(readFileSync(join(dir, 'state.json'), 'utf8'), content);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
