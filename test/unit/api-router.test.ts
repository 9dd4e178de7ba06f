// The router's REST API (links, router interfaces, routes, neighbors, the summary) through inject(), over a
// daemon whose data plane runs on in-memory devices (no root): success, precise 4xx bodies for bad input
// that change nothing, the IN_USE rules between objects, undo when the state cannot be saved, persistence
// and the pending chain (a link whose namespace is missing, and what waits for it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { topology } from '../../src/daemon/specs.js';
import { StateStore } from '../../src/daemon/state-store.js';
import { Metrics } from '../../src/metrics/metrics.js';

const silent = { info() {}, warn() {}, error() {} };
// FAKES is the fake devices module the data plane worker loads in these tests (no root).
const FAKES = new URL('../../src/ports/fake-port.js', import.meta.url).href;
const NETNS = ['h1', 'u', 'v'];

interface Ctx {
  dir: string;
  store: StateStore;
  daemon: Daemon;
  app: FastifyInstance;
}

async function start(dir = mkdtempSync(join(tmpdir(), 'twrouter-'))): Promise<Ctx> {
  const store = new StateStore(dir);
  const daemon = await Daemon.start(silent, { store, fakeDevices: { module: FAKES, netns: NETNS, interfaces: ['veth0'] } });
  const app = await buildApp(daemon, { metrics: new Metrics(daemon) });
  await app.ready();
  return { dir, store, daemon, app };
}

async function stop(c: Ctx, keep = false): Promise<void> {
  await c.app.close();
  await c.daemon.close();
  if (!keep) rmSync(c.dir, { recursive: true, force: true });
}

type Json = Record<string, unknown>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** snapshot is everything a request could change: what the API shows (counters aside) and the saved state. */
async function snapshot(c: Ctx): Promise<unknown> {
  const strip = <T extends { counters?: unknown }>(xs: T[]) => xs.map(({ counters: _c, ...x }) => x);
  const bridges = await c.daemon.bridges();
  let saved = '';
  try {
    saved = readFileSync(c.store.path, 'utf8');
  } catch {
    // nothing saved yet
  }
  return {
    bridges: strip(bridges),
    ports: strip(await c.daemon.ports()),
    links: strip(await c.daemon.links()),
    interfaces: strip(await c.daemon.routerInterfaces()),
    routes: await c.daemon.routes(),
    saved,
  };
}

async function call(c: Ctx, method: Method, url: string, payload?: unknown) {
  const r = await c.app.inject({ method, url, payload: payload as Json });
  const body = r.body === '' ? undefined : (JSON.parse(r.body) as unknown);
  return { status: r.statusCode, body, type: String(r.headers['content-type'] ?? '') };
}

/** ok makes a request that must succeed with `status` and returns its body. */
async function ok(c: Ctx, method: Method, url: string, payload: unknown, status: number): Promise<Json> {
  const r = await call(c, method, url, payload);
  assert.equal(r.status, status, `${method} ${url} ${JSON.stringify(payload)} -> ${JSON.stringify(r.body)}`);
  return r.body as Json;
}

/** rejects checks that the request fails with `status`/`code` (detail matching `detail`) and changes nothing. */
async function rejects(c: Ctx, method: Method, url: string, payload: unknown, status: number, code: string, detail?: RegExp): Promise<void> {
  const before = await snapshot(c);
  const r = await call(c, method, url, payload);
  const b = r.body as Json;
  assert.equal(r.status, status, `${method} ${url} ${JSON.stringify(payload)} -> ${JSON.stringify(r.body)}`);
  assert.match(r.type, /^application\/problem\+json/);
  assert.equal(b.code, code, JSON.stringify(b));
  assert.equal(b.status, status);
  if (detail !== undefined) assert.match(String(b.detail), detail);
  assert.deepEqual(await snapshot(c), before, `${method} ${url} changed something although it failed`);
}

const ZERO = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 0, drops: {} };
const names = (xs: unknown) => (xs as Json[]).map((x) => x.name);
const routesOf = (xs: unknown) =>
  (xs as Json[]).map((r) => `${String(r.prefix)} ${typeof r.via === 'string' ? r.via : '-'} ${String(r.interface)} ${String(r.kind)}${r.pending === true ? ' pending' : ''}`).sort();

describe('router API', () => {
  let c: Ctx;
  before(async () => {
    c = await start();
    await ok(c, 'POST', '/v1/bridges', { name: 'br0' }, 201);
    await ok(c, 'POST', '/v1/bridges', { name: 'br1' }, 201);
    await ok(c, 'POST', '/v1/bridges/br0/ports', { name: 'h1', kind: 'tap', netns: 'h1', addresses: ['10.0.0.1/24'] }, 201);
  });
  after(async () => {
    await stop(c);
  });

  test('links: create, list, show, delete', async () => {
    const l = await ok(c, 'POST', '/v1/links', { name: 'tun0', kind: 'tun', netns: 'u', addresses: ['10.9.0.1/30', 'FD09::1/64'], peer: '10.9.0.2', mtu: 1400, routes: ['10.0.0.0/8'] }, 201);
    assert.deepEqual(l, {
      name: 'tun0',
      kind: 'tun',
      ifname: 'tun0',
      netns: 'u',
      addresses: ['10.9.0.1/30', 'fd09::1/64'],
      peer: '10.9.0.2',
      mtu: 1400,
      routes: ['10.0.0.0/8'],
      state: 'up',
      counters: ZERO,
    });
    await ok(c, 'POST', '/v1/links', { name: 'tun1', kind: 'tun' }, 201);
    assert.deepEqual(names(await ok(c, 'GET', '/v1/links', undefined, 200)), ['tun0', 'tun1']);
    assert.equal((await ok(c, 'GET', '/v1/links/tun1', undefined, 200)).mtu, 1500);
    const saved = JSON.parse(readFileSync(c.store.path, 'utf8')) as Json;
    assert.deepEqual(saved.links, [
      { name: 'tun0', kind: 'tun', netns: 'u', addresses: ['10.9.0.1/30', 'fd09::1/64'], peer: '10.9.0.2', mtu: 1400, routes: ['10.0.0.0/8'] },
      { name: 'tun1', kind: 'tun', addresses: [], routes: [] },
    ]);
    assert.equal((await call(c, 'DELETE', '/v1/links/tun1')).status, 204);
    assert.equal((await call(c, 'GET', '/v1/links/tun1')).status, 404);
    assert.deepEqual(
      (JSON.parse(readFileSync(c.store.path, 'utf8')) as { links: Json[] }).links.map((x) => x.name),
      ['tun0'],
    );
  });

  test('links: each kind of bad input, 404 and 409 change nothing', async () => {
    const url = '/v1/links';
    await rejects(c, 'POST', url, { name: 'tun2' }, 400, 'TW_ERR_VALIDATION', /kind/);
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tap' }, 400, 'TW_ERR_VALIDATION', /kind must be one of "tun"/);
    await rejects(c, 'POST', url, { name: 'a-name-of-16-byte', kind: 'tun' }, 400, 'TW_ERR_VALIDATION', /name/);
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tun', mac: '02:00:00:00:00:01' }, 400, 'TW_ERR_VALIDATION', /unknown field "mac"/);
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tun', addresses: ['10.9.1.1'] }, 400, 'TW_ERR_VALIDATION', /addresses/);
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tun', addresses: ['10.9.1.256/24'] }, 400, 'TW_ERR_VALIDATION', /addresses\[0\]/);
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tun', addresses: ['10.9.1.1/30'], peer: '10.9.1.2/30' }, 400, 'TW_ERR_VALIDATION', /peer/);
    await rejects(
      c,
      'POST',
      url,
      { name: 'tun2', kind: 'tun', addresses: ['10.9.1.1/30'], peer: 'fd00::2' },
      400,
      'TW_ERR_VALIDATION',
      /link\.peer fd00::2 is IPv6, but link\.addresses has no IPv6 address/,
    );
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tun', mtu: 65522 }, 400, 'TW_ERR_VALIDATION', /mtu/);
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tun', addresses: ['fd00::1/64'], mtu: 1200 }, 400, 'TW_ERR_VALIDATION', /link\.mtu must be at least 1280 with IPv6/);
    await rejects(
      c,
      'POST',
      url,
      { name: 'tun2', kind: 'tun', routes: ['10.1.2.3/16'] },
      400,
      'TW_ERR_VALIDATION',
      /link\.routes\[0\]: 10\.1\.2\.3\/16 has host bits set; the prefix is 10\.1\.0\.0\/16/,
    );
    await rejects(c, 'POST', url, { name: 'tun2', kind: 'tun', netns: 'nowhere' }, 400, 'TW_ERR_VALIDATION', /nowhere does not exist/);
    await rejects(c, 'POST', url, { name: 'tun0', kind: 'tun' }, 409, 'TW_ERR_EXISTS', /link tun0 already exists/);
    // Ports, links and router interfaces share one name space, both ways.
    await rejects(c, 'POST', url, { name: 'h1', kind: 'tun' }, 409, 'TW_ERR_EXISTS', /port h1 of bridge br0 already exists/);
    await rejects(c, 'POST', '/v1/bridges/br0/ports', { name: 'tun0', kind: 'tap' }, 409, 'TW_ERR_EXISTS', /link tun0 already exists/);
    await rejects(c, 'GET', '/v1/links/nope', undefined, 404, 'TW_ERR_NOT_FOUND', /no link named nope/);
    await rejects(c, 'DELETE', '/v1/links/nope', undefined, 404, 'TW_ERR_NOT_FOUND', /no link named nope/);
    await rejects(c, 'DELETE', '/v1/links/bad name!', undefined, 400, 'TW_ERR_VALIDATION');
  });

  test('router interfaces: on a bridge (derived MAC, RAs) and on a link; list, show', async () => {
    const r0 = await ok(c, 'POST', '/v1/router/interfaces', { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24', 'fd00::fe/64'], routerAdvertisements: true }, 201);
    assert.equal(r0.bridge, 'br0');
    assert.equal(r0.link, undefined);
    assert.deepEqual(r0.addresses, ['10.0.0.254/24', 'fd00::fe/64']);
    assert.equal(r0.mac, '02:74:77:dd:19:16', '02:74:77 + the first 3 bytes of sha256("r0")');
    assert.equal(r0.routerAdvertisements, true);
    assert.equal(r0.state, 'up');
    assert.equal(r0.mtu, 1500);
    assert.match(String(r0.linkLocal), /^fe80::/);
    const ru = await ok(c, 'POST', '/v1/router/interfaces', { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30', 'fd09::2/64'] }, 201);
    assert.equal(ru.link, 'tun0');
    assert.equal(ru.mac, undefined);
    assert.equal(ru.routerAdvertisements, false);
    assert.deepEqual(names(await ok(c, 'GET', '/v1/router/interfaces', undefined, 200)), ['r0', 'ru']);
    assert.equal((await ok(c, 'GET', '/v1/router/interfaces/ru', undefined, 200)).link, 'tun0');
    assert.equal((await ok(c, 'GET', '/v1/links/tun0', undefined, 200)).routerInterface, 'ru');
    const saved = JSON.parse(readFileSync(c.store.path, 'utf8')) as Json;
    assert.deepEqual(saved.routerInterfaces, [
      { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24', 'fd00::fe/64'], mac: '02:74:77:dd:19:16', routerAdvertisements: true },
      { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30', 'fd09::2/64'], routerAdvertisements: false },
    ]);
    assert.deepEqual(routesOf(await ok(c, 'GET', '/v1/routes', undefined, 200)), [
      '10.0.0.0/24 - r0 connected',
      '10.9.0.0/30 - ru connected',
      'fd00::/64 - r0 connected',
      'fd09::/64 - ru connected',
    ]);
  });

  test('router interfaces: bad input, missing bridge or link, one per bridge and link, names and addresses taken', async () => {
    const url = '/v1/router/interfaces';
    await rejects(c, 'POST', url, { name: 'r1', addresses: ['10.1.0.254/24'] }, 400, 'TW_ERR_VALIDATION', /needs exactly one of "bridge".*or "link"/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1', link: 'tun0', addresses: ['10.1.0.254/24'] }, 400, 'TW_ERR_VALIDATION', /exactly one of/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1' }, 400, 'TW_ERR_VALIDATION', /addresses/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1', addresses: [] }, 400, 'TW_ERR_VALIDATION', /addresses/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1', addresses: ['10.1.0.0/24'] }, 400, 'TW_ERR_VALIDATION', /10\.1\.0\.0 is the network address of 10\.1\.0\.0\/24/);
    for (const address of ['224.0.0.1/24', '127.0.0.1/8', '0.0.0.0/8', 'ff02::1/64', '::1/128', '::/64']) {
      await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1', addresses: [address] }, 400, 'TW_ERR_VALIDATION', /an interface needs a unicast host address/);
    }
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1', addresses: ['10.1.0.254/24'], vlan: 1 }, 400, 'TW_ERR_VALIDATION', /unknown field "vlan"/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1', addresses: ['10.1.0.254/24'], mac: '01:00:5e:00:00:01' }, 400, 'TW_ERR_VALIDATION', /unicast/);
    await rejects(
      c,
      'POST',
      url,
      { name: 'r1', bridge: 'br1', addresses: ['10.1.0.254/24'], routerAdvertisements: true },
      400,
      'TW_ERR_VALIDATION',
      /routerAdvertisements needs an IPv6 address/,
    );
    await ok(c, 'POST', '/v1/links', { name: 'tun1', kind: 'tun', addresses: ['10.8.0.1/30'] }, 201);
    await rejects(c, 'POST', url, { name: 'r1', link: 'tun1', addresses: ['10.8.0.2/30'], mac: '02:00:00:00:00:01' }, 400, 'TW_ERR_VALIDATION', /mac is only for an interface on a bridge/);
    await rejects(
      c,
      'POST',
      url,
      { name: 'r1', link: 'tun1', addresses: ['fd08::2/64'], routerAdvertisements: true },
      400,
      'TW_ERR_VALIDATION',
      /routerAdvertisements is only for an interface on a bridge/,
    );
    await rejects(c, 'POST', url, { name: 'r1', link: 'tun1', addresses: ['10.8.0.1/30'] }, 400, 'TW_ERR_VALIDATION', /10\.8\.0\.1 is the host side's address on link tun1/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'nope', addresses: ['10.1.0.254/24'] }, 404, 'TW_ERR_NOT_FOUND', /no bridge named nope/);
    await rejects(c, 'POST', url, { name: 'r1', link: 'nope', addresses: ['10.1.0.254/24'] }, 404, 'TW_ERR_NOT_FOUND', /no link named nope/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br0', addresses: ['10.1.0.254/24'] }, 409, 'TW_ERR_EXISTS', /bridge br0 already has router interface r0/);
    await rejects(c, 'POST', url, { name: 'r1', link: 'tun0', addresses: ['10.1.0.254/24'] }, 409, 'TW_ERR_EXISTS', /link tun0 already has router interface ru/);
    await rejects(c, 'POST', url, { name: 'r0', bridge: 'br1', addresses: ['10.1.0.254/24'] }, 409, 'TW_ERR_EXISTS', /router interface r0 already exists/);
    await rejects(c, 'POST', url, { name: 'h1', bridge: 'br1', addresses: ['10.1.0.254/24'] }, 409, 'TW_ERR_EXISTS', /port h1 of bridge br0 already exists/);
    await rejects(c, 'POST', url, { name: 'tun1', bridge: 'br1', addresses: ['10.1.0.254/24'] }, 409, 'TW_ERR_EXISTS', /link tun1 already exists/);
    await rejects(c, 'POST', '/v1/bridges/br1/ports', { name: 'r0', kind: 'tap' }, 409, 'TW_ERR_EXISTS', /router interface r0 already exists/);
    await rejects(c, 'POST', url, { name: 'r1', bridge: 'br1', addresses: ['10.0.0.254/16'] }, 409, 'TW_ERR_EXISTS', /10\.0\.0\.254 is already an address of router interface r0/);
    await rejects(
      c,
      'POST',
      url,
      { name: 'r1', bridge: 'br1', addresses: ['10.0.0.253/24'] },
      409,
      'TW_ERR_EXISTS',
      /the network 10\.0\.0\.0\/24 is already connected on router interface r0/,
    );
    await rejects(c, 'GET', `${url}/nope`, undefined, 404, 'TW_ERR_NOT_FOUND', /no router interface named nope/);
    await rejects(c, 'DELETE', `${url}/nope`, undefined, 404, 'TW_ERR_NOT_FOUND', /no router interface named nope/);
    assert.equal((await call(c, 'DELETE', '/v1/links/tun1')).status, 204);
  });

  test('routes: static routes by next hop or interface, listed with the connected ones; deleted by prefix', async () => {
    const viaLink = await ok(c, 'POST', '/v1/routes', { prefix: '10.100.0.0/16', via: '10.9.0.1' }, 201);
    assert.deepEqual(viaLink, { prefix: '10.100.0.0/16', via: '10.9.0.1', interface: 'ru', kind: 'static' }, 'the interface is the one whose network holds the next hop');
    await ok(c, 'POST', '/v1/routes', { prefix: 'fd64::/48', interface: 'ru' }, 201);
    await ok(c, 'POST', '/v1/routes', { prefix: '192.168.0.0/16', via: '10.0.0.1', interface: 'r0' }, 201);
    await ok(c, 'POST', '/v1/routes', { prefix: '0.0.0.0/0', via: '10.0.0.1' }, 201);
    assert.deepEqual(routesOf(await ok(c, 'GET', '/v1/routes', undefined, 200)), [
      '0.0.0.0/0 10.0.0.1 r0 static',
      '10.0.0.0/24 - r0 connected',
      '10.100.0.0/16 10.9.0.1 ru static',
      '10.9.0.0/30 - ru connected',
      '192.168.0.0/16 10.0.0.1 r0 static',
      'fd00::/64 - r0 connected',
      'fd09::/64 - ru connected',
      'fd64::/48 - ru static',
    ]);
    const saved = JSON.parse(readFileSync(c.store.path, 'utf8')) as Json;
    assert.deepEqual(saved.routes, [
      { prefix: '10.100.0.0/16', via: '10.9.0.1' },
      { prefix: 'fd64::/48', interface: 'ru' },
      { prefix: '192.168.0.0/16', via: '10.0.0.1', interface: 'r0' },
      { prefix: '0.0.0.0/0', via: '10.0.0.1' },
    ]);
    const summary = await ok(c, 'GET', '/v1/router', undefined, 200);
    assert.equal(summary.interfaces, 2);
    assert.equal(summary.routes, 8);
    const counters = summary.counters as Json;
    assert.equal(counters.routes4, 5);
    assert.equal(counters.routes6, 3);
    assert.equal(counters.forwarded4, 0);
    assert.equal(typeof counters.drops, 'object');
    assert.ok(Array.isArray(counters.icmpSent) && (counters.icmpSent as Json[]).some((i) => i.family === 6 && i.type === 'packet_too_big'));
    assert.equal((await call(c, 'DELETE', `/v1/routes?prefix=${encodeURIComponent('0.0.0.0/0')}`)).status, 204);
    assert.equal((await call(c, 'DELETE', '/v1/routes?prefix=FD64:0::/48')).status, 204, 'the prefix is compared in its canonical form');
    assert.deepEqual(
      (JSON.parse(readFileSync(c.store.path, 'utf8')) as { routes: Json[] }).routes.map((r) => r.prefix),
      ['10.100.0.0/16', '192.168.0.0/16'],
    );
  });

  test('routes: bad input, next hops off-link, duplicates and connected prefixes change nothing', async () => {
    const url = '/v1/routes';
    await rejects(c, 'POST', url, { prefix: '10.1.2.3/16', via: '10.0.0.1' }, 400, 'TW_ERR_VALIDATION', /route\.prefix: 10\.1\.2\.3\/16 has host bits set; the prefix is 10\.1\.0\.0\/16/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0', via: '10.0.0.1' }, 400, 'TW_ERR_VALIDATION', /prefix/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/33', via: '10.0.0.1' }, 400, 'TW_ERR_VALIDATION', /above 32/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/16' }, 400, 'TW_ERR_VALIDATION', /route needs "via".*"interface".*or both/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/16', via: 'fd00::1' }, 400, 'TW_ERR_VALIDATION', /route\.via fd00::1 is IPv6 but route\.prefix 10\.1\.0\.0\/16 is IPv4/);
    await rejects(c, 'POST', url, { prefix: 'fd01::/64', via: 'fe80::1' }, 400, 'TW_ERR_VALIDATION', /link-local: give route\.interface too/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/16', via: '10.0.0.1', metric: 1 }, 400, 'TW_ERR_VALIDATION', /unknown field "metric"/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/16', via: '10.55.0.1' }, 400, 'TW_ERR_VALIDATION', /route\.via 10\.55\.0\.1 is not on a connected network of any router interface/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/16', via: '10.9.0.1', interface: 'r0' }, 400, 'TW_ERR_VALIDATION', /route\.via 10\.9\.0\.1 is not on a network of router interface r0/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/16', via: '10.0.0.254' }, 400, 'TW_ERR_VALIDATION', /10\.0\.0\.254 is the router's own address on router interface r0/);
    await rejects(c, 'POST', url, { prefix: '10.1.0.0/16', interface: 'nope' }, 404, 'TW_ERR_NOT_FOUND', /no router interface named nope/);
    await rejects(c, 'POST', url, { prefix: '10.100.0.0/16', via: '10.0.0.1' }, 409, 'TW_ERR_EXISTS', /a static route for 10\.100\.0\.0\/16 already exists/);
    await rejects(c, 'POST', url, { prefix: '10.0.0.0/24', via: '10.9.0.1' }, 409, 'TW_ERR_EXISTS', /10\.0\.0\.0\/24 is the connected network of router interface r0/);
    // An interface address whose network has a static route is refused too: one route per prefix.
    await rejects(
      c,
      'POST',
      '/v1/router/interfaces',
      { name: 'r1', bridge: 'br1', addresses: ['192.168.0.1/16'] },
      409,
      'TW_ERR_EXISTS',
      /the network 192\.168\.0\.0\/16 has a static route/,
    );
    await rejects(c, 'DELETE', `${url}?prefix=${encodeURIComponent('10.0.0.0/24')}`, undefined, 409, 'TW_ERR_IN_USE', /10\.0\.0\.0\/24 is the connected route of router interface r0/);
    await rejects(c, 'DELETE', `${url}?prefix=${encodeURIComponent('10.77.0.0/16')}`, undefined, 404, 'TW_ERR_NOT_FOUND', /no static route for 10\.77\.0\.0\/16/);
    await rejects(c, 'DELETE', `${url}?prefix=${encodeURIComponent('10.100.1.0/16')}`, undefined, 400, 'TW_ERR_VALIDATION', /host bits set/);
    await rejects(c, 'DELETE', url, undefined, 400, 'TW_ERR_VALIDATION', /prefix/);
    await rejects(c, 'DELETE', `${url}?prefix=10.100.0.0%2F16&force=true`, undefined, 400, 'TW_ERR_VALIDATION', /unknown field "force"/);
  });

  test('what another object needs cannot be deleted (409 TW_ERR_IN_USE), force or not', async () => {
    await rejects(c, 'DELETE', '/v1/bridges/br0', undefined, 409, 'TW_ERR_IN_USE', /bridge br0 has router interface r0/);
    await rejects(c, 'DELETE', '/v1/bridges/br0?force=true', undefined, 409, 'TW_ERR_IN_USE', /bridge br0 has router interface r0; delete the interface first/);
    await rejects(c, 'DELETE', '/v1/links/tun0', undefined, 409, 'TW_ERR_IN_USE', /link tun0 has router interface ru/);
    await rejects(c, 'DELETE', '/v1/router/interfaces/ru', undefined, 409, 'TW_ERR_IN_USE', /static routes go out of router interface ru: 10\.100\.0\.0\/16; delete them first/);
    await rejects(c, 'DELETE', '/v1/router/interfaces/r0', undefined, 409, 'TW_ERR_IN_USE', /router interface r0: 192\.168\.0\.0\/16/);
    // Deleted in the order of the dependencies, everything goes.
    assert.equal((await call(c, 'DELETE', `/v1/routes?prefix=${encodeURIComponent('10.100.0.0/16')}`)).status, 204);
    assert.equal((await call(c, 'DELETE', '/v1/router/interfaces/ru')).status, 204);
    assert.equal((await ok(c, 'GET', '/v1/links/tun0', undefined, 200)).routerInterface, undefined);
    assert.equal((await call(c, 'DELETE', '/v1/links/tun0')).status, 204);
    assert.equal((await call(c, 'DELETE', `/v1/routes?prefix=${encodeURIComponent('192.168.0.0/16')}`)).status, 204);
    assert.equal((await call(c, 'DELETE', '/v1/router/interfaces/r0')).status, 204);
    assert.deepEqual(await ok(c, 'GET', '/v1/routes', undefined, 200), []);
    assert.equal((await call(c, 'DELETE', '/v1/bridges/br1')).status, 204);
    const saved = JSON.parse(readFileSync(c.store.path, 'utf8')) as Json;
    assert.deepEqual([saved.links, saved.routerInterfaces, saved.routes], [[], [], []]);
  });

  test('GET /v1/neighbors lists the ARP/NDP cache', async () => {
    const r = await call(c, 'GET', '/v1/neighbors');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, []);
  });

  test('GET /metrics has the router series and links among the port series', async () => {
    await ok(c, 'POST', '/v1/links', { name: 'tunm', kind: 'tun' }, 201);
    const r = await c.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /^tapwire_router_forwarded_total\{family="4"\} 0$/m);
    assert.match(r.body, /^tapwire_router_drops_total\{reason="no_route"\} 0$/m);
    assert.match(r.body, /^tapwire_router_icmp_sent_total\{family="6",type="packet_too_big"\} 0$/m);
    assert.match(r.body, /^tapwire_router_routes\{family="6"\} 0$/m);
    assert.match(r.body, /^tapwire_router_neighbors 0$/m);
    assert.match(r.body, /^tapwire_port_rx_frames_total\{bridge="",port="tunm",kind="tun"\} 0$/m);
    assert.equal((await call(c, 'DELETE', '/v1/links/tunm')).status, 204);
  });
});

describe('router API: a change that cannot be saved is undone', () => {
  test('add and delete of links, interfaces and routes: 500, and neither the data plane nor the file changed', async () => {
    const c = await start();
    try {
      await ok(c, 'POST', '/v1/bridges', { name: 'br0' }, 201);
      await ok(c, 'POST', '/v1/links', { name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'] }, 201);
      await ok(c, 'POST', '/v1/router/interfaces', { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'] }, 201);
      await ok(c, 'POST', '/v1/routes', { prefix: '10.100.0.0/16', via: '10.9.0.1' }, 201);
      // StateStore writes <state.json>.<pid>.tmp first: a directory in its place makes every save fail.
      const blocker = `${c.store.path}.${process.pid}.tmp`;
      mkdirSync(blocker);
      const attempts: [Method, string, unknown][] = [
        ['POST', '/v1/links', { name: 'tun1', kind: 'tun' }],
        ['POST', '/v1/router/interfaces', { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'] }],
        ['POST', '/v1/routes', { prefix: '10.101.0.0/16', via: '10.9.0.1' }],
        ['DELETE', `/v1/routes?prefix=${encodeURIComponent('10.100.0.0/16')}`, undefined],
      ];
      for (const [method, url, body] of attempts) await rejects(c, method, url, body, 500, 'TW_ERR_INTERNAL', /could not be saved, so it was undone/);
      rmdirSync(blocker);
      assert.equal((await call(c, 'DELETE', `/v1/routes?prefix=${encodeURIComponent('10.100.0.0/16')}`)).status, 204);
      mkdirSync(blocker);
      await rejects(c, 'DELETE', '/v1/router/interfaces/ru', undefined, 500, 'TW_ERR_INTERNAL', /undone/);
      rmdirSync(blocker);
      assert.equal((await call(c, 'DELETE', '/v1/router/interfaces/ru')).status, 204);
      mkdirSync(blocker);
      await rejects(c, 'DELETE', '/v1/links/tun0', undefined, 500, 'TW_ERR_INTERNAL', /undone/);
      rmdirSync(blocker);
      // The undone changes left the data plane as it was: the same requests now succeed.
      await ok(c, 'POST', '/v1/router/interfaces', { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'] }, 201);
      await ok(c, 'POST', '/v1/links', { name: 'tun1', kind: 'tun' }, 201);
    } finally {
      await stop(c);
    }
  });
});

describe('router persistence', () => {
  test('a restart on the same state directory rebuilds links, router interfaces and routes', async () => {
    const c = await start();
    await ok(c, 'POST', '/v1/bridges', { name: 'br0' }, 201);
    await ok(c, 'POST', '/v1/bridges/br0/ports', { name: 'h1', kind: 'tap', netns: 'h1', addresses: ['10.0.0.1/24'] }, 201);
    await ok(c, 'POST', '/v1/links', { name: 'tun0', kind: 'tun', netns: 'u', addresses: ['10.9.0.1/30', 'fd09::1/64'], peer: '10.9.0.2', routes: ['10.0.0.0/8'] }, 201);
    await ok(c, 'POST', '/v1/links', { name: 'tun1', kind: 'tun', mtu: 9000 }, 201);
    await ok(c, 'POST', '/v1/router/interfaces', { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24', 'fd00::fe/64'], mac: '02:00:00:00:00:fe', routerAdvertisements: true }, 201);
    await ok(c, 'POST', '/v1/router/interfaces', { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30', 'fd09::2/64'], mtu: 1400 }, 201);
    await ok(c, 'POST', '/v1/routes', { prefix: '10.100.0.0/16', via: '10.9.0.1' }, 201);
    await ok(c, 'POST', '/v1/routes', { prefix: 'fd64::/48', interface: 'ru' }, 201);
    await ok(c, 'POST', '/v1/routes', { prefix: '0.0.0.0/0', via: '10.0.0.1' }, 201);
    assert.equal((await call(c, 'DELETE', '/v1/links/tun1')).status, 204);
    const before = await snapshot(c);
    await stop(c, true);
    const saved = JSON.parse(readFileSync(join(c.dir, 'state.json'), 'utf8')) as Json;
    assert.equal(saved.version, 1);
    assert.deepEqual(names(saved.links), ['tun0']);
    assert.deepEqual(names(saved.routerInterfaces), ['r0', 'ru']);
    assert.equal((saved.routes as Json[]).length, 3);
    const again = await start(c.dir);
    try {
      assert.deepEqual(await snapshot(again), before);
      assert.equal((await ok(again, 'GET', '/v1/router/interfaces/r0', undefined, 200)).mac, '02:00:00:00:00:fe');
    } finally {
      await stop(again);
    }
  });

  test('a state file written before the router (no links, routerInterfaces, routes) loads as having none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twrouter-'));
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, bridges: [{ name: 'br0', agingSeconds: 300, fdbMax: 8192, ports: [], fdb: [] }] }));
    const c = await start(dir);
    try {
      assert.deepEqual(await ok(c, 'GET', '/v1/links', undefined, 200), []);
      assert.deepEqual(await ok(c, 'GET', '/v1/routes', undefined, 200), []);
      await ok(c, 'POST', '/v1/links', { name: 'tun0', kind: 'tun' }, 201);
      const saved = JSON.parse(readFileSync(c.store.path, 'utf8')) as Json;
      assert.deepEqual([names(saved.bridges), names(saved.links), saved.routerInterfaces, saved.routes], [['br0'], ['tun0'], [], []]);
    } finally {
      await stop(c);
    }
  });

  test('a saved link whose namespace is missing stays pending with what waits for it; invalid entries are dropped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twrouter-'));
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({
        version: 1,
        bridges: [{ name: 'br0', agingSeconds: 300, fdbMax: 8192, ports: [{ name: 'h1', kind: 'tap', addresses: [], up: true }], fdb: [] }],
        links: [
          { name: 'tl', kind: 'tun', netns: 'later', addresses: ['10.9.0.1/30'], routes: [] },
          { name: 'h1', kind: 'tun', addresses: [], routes: [] },
          { name: 'bad name!', kind: 'tun', addresses: [], routes: [] },
          null,
        ],
        routerInterfaces: [
          { name: 'rl', link: 'tl', addresses: ['10.9.0.2/30'], routerAdvertisements: false },
          { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'], mac: '02:74:77:00:00:01', routerAdvertisements: false },
          { name: 'rx', bridge: 'nope', addresses: ['10.5.0.254/24'], routerAdvertisements: false },
          { name: 'ry', link: 'tl', addresses: ['10.6.0.254/24'], mac: '02:00:00:00:00:01', routerAdvertisements: false },
        ],
        routes: [
          { prefix: '10.100.0.0/16', via: '10.9.0.1' },
          { prefix: '10.200.0.0/16', via: '10.0.0.1' },
          { prefix: '10.1.2.3/16', via: '10.0.0.1' },
          { prefix: '10.7.0.0/16', via: '10.77.0.1' },
        ],
      }),
    );
    const c = await start(dir);
    try {
      const links = (await ok(c, 'GET', '/v1/links', undefined, 200)) as unknown as Json[];
      assert.deepEqual(
        links.map((l) => [l.name, l.state, l.netns, l.routerInterface]),
        [['tl', 'error', 'later', 'rl']],
      );
      const ifaces = (await ok(c, 'GET', '/v1/router/interfaces', undefined, 200)) as unknown as Json[];
      assert.deepEqual(
        ifaces.map((r) => [r.name, r.state]),
        [
          ['r0', 'up'],
          ['rl', 'error'],
        ],
      );
      assert.deepEqual(routesOf(await ok(c, 'GET', '/v1/routes', undefined, 200)), [
        '10.0.0.0/24 - r0 connected',
        '10.100.0.0/16 10.9.0.1 rl static pending',
        '10.200.0.0/16 10.0.0.1 r0 static',
      ]);
      const saved = () => JSON.parse(readFileSync(c.store.path, 'utf8')) as { links: Json[]; routerInterfaces: Json[]; routes: Json[] };
      assert.deepEqual(names(saved().links), ['tl'], 'the pending link stays saved; the invalid ones are dropped');
      assert.deepEqual(names(saved().routerInterfaces), ['rl', 'r0']);
      assert.deepEqual(
        saved().routes.map((r) => r.prefix),
        ['10.100.0.0/16', '10.200.0.0/16'],
      );
      // Routes to a pending interface wait with it; the names of pending objects stay taken.
      const r = await ok(c, 'POST', '/v1/routes', { prefix: '10.101.0.0/16', interface: 'rl' }, 201);
      assert.equal(r.pending, true);
      await rejects(c, 'POST', '/v1/links', { name: 'tl', kind: 'tun' }, 409, 'TW_ERR_EXISTS');
      await rejects(c, 'DELETE', '/v1/links/tl', undefined, 409, 'TW_ERR_IN_USE', /router interface rl/);
      await rejects(c, 'DELETE', '/v1/router/interfaces/rl', undefined, 409, 'TW_ERR_IN_USE', /10\.100\.0\.0\/16, 10\.101\.0\.0\/16/);
      // Deleted in order, the pending chain leaves the state without touching the data plane.
      for (const p of ['10.100.0.0/16', '10.101.0.0/16']) assert.equal((await call(c, 'DELETE', `/v1/routes?prefix=${encodeURIComponent(p)}`)).status, 204);
      assert.equal((await call(c, 'DELETE', '/v1/router/interfaces/rl')).status, 204);
      assert.equal((await call(c, 'DELETE', '/v1/links/tl')).status, 204);
      assert.deepEqual([saved().links, names(saved().routerInterfaces), saved().routes.map((x) => x.prefix)], [[], ['r0'], ['10.200.0.0/16']]);
      assert.deepEqual(await ok(c, 'GET', '/v1/links', undefined, 200), []);
    } finally {
      await stop(c);
    }
  });

  test('a saved link in a namespace that exists is rebuilt with its interface, then the route through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twrouter-'));
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({
        version: 1,
        bridges: [],
        links: [{ name: 'tv', kind: 'tun', netns: 'v', addresses: ['10.9.0.1/30'], routes: [] }],
        routerInterfaces: [{ name: 'rv', link: 'tv', addresses: ['10.9.0.2/30'], routerAdvertisements: false }],
        routes: [{ prefix: '10.100.0.0/16', via: '10.9.0.1' }],
      }),
    );
    const c = await start(dir);
    try {
      assert.deepEqual(
        ((await ok(c, 'GET', '/v1/links', undefined, 200)) as unknown as Json[]).map((l) => l.state),
        ['up'],
      );
      assert.deepEqual(routesOf(await ok(c, 'GET', '/v1/routes', undefined, 200)), ['10.100.0.0/16 10.9.0.1 rv static', '10.9.0.0/30 - rv connected']);
    } finally {
      await stop(c);
    }
  });
});

describe('topology file with links, router interfaces and routes', () => {
  test('apply builds what the state lacks, and undoes everything it built when a part fails', async () => {
    const c = await start();
    try {
      const t = topology({
        bridges: [{ name: 'br0', ports: [{ name: 'h1', kind: 'tap' }] }],
        links: [{ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'] }],
        routerInterfaces: [
          { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'] },
          { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'] },
        ],
        routes: [{ prefix: '10.100.0.0/16', via: '10.9.0.1' }],
      });
      await c.daemon.apply(t);
      assert.deepEqual(names(await c.daemon.routerInterfaces()), ['r0', 'ru']);
      assert.deepEqual(routesOf(await c.daemon.routes()), ['10.0.0.0/24 - r0 connected', '10.100.0.0/16 10.9.0.1 ru static', '10.9.0.0/30 - ru connected']);
      await c.daemon.apply(t); // everything is there already: nothing changes
      const before = await snapshot(c);
      const bad = topology({
        links: [{ name: 'tun1', kind: 'tun', addresses: ['10.8.0.1/30'] }],
        routerInterfaces: [{ name: 'r1', link: 'tun1', addresses: ['10.8.0.2/30'] }],
        routes: [{ prefix: '10.200.0.0/16', via: '10.55.0.1' }],
      });
      await assert.rejects(c.daemon.apply(bad), /not on a connected network/);
      assert.deepEqual(await snapshot(c), before, 'the link and interface the failed file built are gone again');
    } finally {
      await stop(c);
    }
  });
});
