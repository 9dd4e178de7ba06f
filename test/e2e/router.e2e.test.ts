// End to end for the router: hosts on two bridges in different IPv4/IPv6 subnets, and a namespace behind
// a TUN link, reach each other through tapwire's router, built over the REST API; the hosts' own kernels
// (ping, tracepath, iperf3, SLAAC) judge the ICMP errors, the fragmentation and the router advertisements.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/lab.js';
import { RunningDaemon, daemonFiles, startDaemon } from '../helpers/daemon.js';
import { requirePrivileges } from '../helpers/privileged.js';
import { api } from '../helpers/curl.js';

interface RouterView {
  counters: { forwarded4: number; forwarded6: number; fragmentsCreated: number; raSent: number; drops: Record<string, number>; icmpSent: { family: number; type: string; count: number }[] };
}

/** sent returns how many ICMP messages of family/type the router sent. */
function sent(r: RouterView, family: number, type: string): number {
  return r.counters.icmpSent.find((k) => k.family === family && k.type === type)?.count ?? 0;
}

/** failing runs a command that is expected to exit non-zero (an ICMP error makes ping fail) and returns its output. */
async function failing(lab: Lab, ns: string, cmd: string, args: string[]): Promise<string> {
  try {
    const r = await lab.exec(ns, cmd, args);
    return r.stdout;
  } catch (e) {
    return (e as Error).message; // run() puts the command's output in the message
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('router end to end: two bridges and a TUN link', { timeout: 300_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping', 'curl', 'tracepath', 'iperf3'])) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    for (const ns of ['d', 'a1', 'b1', 'u']) await lab.addNs(ns);
    const files = daemonFiles(lab);
    daemon = await startDaemon(lab, 'd', undefined, {}, { files });
    const sock = files.socket;
    const link = lab.name('up');

    await api(sock, 'POST', '/v1/bridges', { name: 'bra' });
    await api(sock, 'POST', '/v1/bridges', { name: 'brb' });
    // a1 has only an IPv4 address: its IPv6 address and default route come from the router's RAs.
    await api(sock, 'POST', '/v1/bridges/bra/ports', { name: lab.name('ta1'), kind: 'tap', netns: lab.name('a1'), addresses: ['10.81.1.1/24'] });
    await api(sock, 'POST', '/v1/bridges/brb/ports', { name: lab.name('tb1'), kind: 'tap', netns: lab.name('b1'), addresses: ['10.81.2.1/24', 'fd81:2::1/64'] });
    await api(sock, 'POST', '/v1/links', { name: link, kind: 'tun', netns: lab.name('u'), addresses: ['10.81.9.1/30', 'fd81:9::1/64'], routes: ['10.81.0.0/16', 'fd81::/16'] });
    await api(sock, 'POST', '/v1/router/interfaces', { name: 'ra', bridge: 'bra', addresses: ['10.81.1.254/24', 'fd81:1::fe/64'], routerAdvertisements: true });
    await api(sock, 'POST', '/v1/router/interfaces', { name: 'rb', bridge: 'brb', addresses: ['10.81.2.254/24', 'fd81:2::fe/64'] });
    await api(sock, 'POST', '/v1/router/interfaces', { name: 'ru', link, addresses: ['10.81.9.2/30', 'fd81:9::2/64'], mtu: 1400 });
    await api(sock, 'POST', '/v1/routes', { prefix: '10.81.100.0/24', via: '10.81.9.1' });
    await api(sock, 'POST', '/v1/routes', { prefix: 'fd81:100::/64', via: 'fd81:9::1' });
    // Behind the link: addresses on u's loopback, reached only through the router's static routes.
    await lab.ip('u', 'addr', 'add', '10.81.100.1/32', 'dev', 'lo');
    await lab.ip('u', '-6', 'addr', 'add', 'fd81:100::1/128', 'dev', 'lo');
    await lab.ip('a1', 'route', 'add', 'default', 'via', '10.81.1.254');
    await lab.ip('b1', 'route', 'add', 'default', 'via', '10.81.2.254');
    await lab.ip('b1', '-6', 'route', 'add', 'default', 'via', 'fd81:2::fe');
    const router = async (): Promise<RouterView> => (await api(sock, 'GET', '/v1/router')) as RouterView;

    await t.test('a host configures itself from the router advertisements (SLAAC)', async () => {
      await until('a SLAAC address on a1', async () => {
        const out = (await lab.ip('a1', '-6', 'addr', 'show', 'scope', 'global')).stdout;
        return /inet6 (fd81:1:[0-9a-f:]+)\/64/.exec(out)?.[1];
      });
      const routes = (await lab.ip('a1', '-6', 'route', 'show', 'default')).stdout;
      assert.match(routes, /default via fe80::/, 'the default route points at the router link-local address');
      assert.ok((await router()).counters.raSent >= 1);
    });

    await t.test('hosts on two subnets ping each other through the router (v4 and v6)', async () => {
      await lab.exec('a1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.81.2.1']);
      await lab.exec('b1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.81.1.1']);
      await until('a1 reaching b1 over IPv6', async () => ((await failing(lab, 'a1', 'ping', ['-6', '-c', '1', '-W', '2', 'fd81:2::1'])).includes(' 0% packet loss') ? true : undefined));
      await lab.exec('a1', 'ping', ['-c', '1', '-W', '3', '10.81.1.254']);
      await lab.exec('b1', 'ping', ['-6', '-c', '1', '-W', '3', 'fd81:2::fe']);
      const r = await router();
      assert.ok(r.counters.forwarded4 >= 4 && r.counters.forwarded6 >= 2, JSON.stringify(r.counters));
      const neighbors = (await api(sock, 'GET', '/v1/neighbors')) as { address: string; interface: string; mac: string | null }[];
      assert.ok(
        neighbors.some((n) => n.address === '10.81.1.1' && n.interface === 'ra' && n.mac !== null),
        JSON.stringify(neighbors),
      );
      assert.ok(
        neighbors.some((n) => n.address === 'fd81:2::1' && n.interface === 'rb'),
        JSON.stringify(neighbors),
      );
    });

    await t.test('a namespace behind the TUN link is reached through static routes', async () => {
      await lab.exec('a1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.81.100.1']);
      await lab.exec('b1', 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '3', 'fd81:100::1']);
      await lab.exec('u', 'ping', ['-c', '1', '-W', '3', '-I', '10.81.100.1', '10.81.2.1']);
    });

    await t.test('TTL 1 across the router gets Time Exceeded from the router address', async () => {
      const before = await router();
      const out = await failing(lab, 'a1', 'ping', ['-c', '1', '-t', '1', '-W', '2', '10.81.2.1']);
      assert.match(out, /From 10\.81\.1\.254 .*Time to live exceeded/);
      const out6 = await failing(lab, 'b1', 'ping', ['-6', '-c', '1', '-t', '1', '-W', '2', 'fd81:100::1']);
      assert.match(out6, /From fd81:2::fe .*Time exceeded: Hop limit/);
      const after = await router();
      assert.equal(sent(after, 4, 'time_exceeded'), sent(before, 4, 'time_exceeded') + 1);
      assert.equal(sent(after, 6, 'time_exceeded'), sent(before, 6, 'time_exceeded') + 1);
    });

    await t.test('no route gets Destination Unreachable (net / no route)', async () => {
      const out = await failing(lab, 'a1', 'ping', ['-c', '1', '-W', '2', '10.81.200.1']);
      assert.match(out, /From 10\.81\.1\.254 .*Destination Net Unreachable/);
      const out6 = await failing(lab, 'b1', 'ping', ['-6', '-c', '1', '-W', '2', 'fd81:200::1']);
      assert.match(out6, /From fd81:2::fe .*Destination unreachable: No route/);
    });

    await t.test('IPv4 without DF is fragmented to the egress MTU (before a1 learns the path MTU)', async () => {
      const before = (await router()).counters.fragmentsCreated;
      const r = await lab.exec('a1', 'ping', ['-c', '2', '-i', '0.2', '-M', 'dont', '-s', '1450', '-W', '3', '10.81.100.1']);
      assert.match(r.stdout, /2 received/);
      assert.ok((await router()).counters.fragmentsCreated >= before + 4, 'two fragments per echo request');
    });

    await t.test('DF packets larger than the egress MTU get Fragmentation Needed / Packet Too Big with the MTU', async () => {
      const out = await failing(lab, 'a1', 'ping', ['-c', '1', '-M', 'do', '-s', '1400', '-W', '2', '10.81.100.1']);
      assert.match(out, /Frag needed and DF set \(mtu = 1400\)/);
      const out6 = await failing(lab, 'b1', 'ping', ['-6', '-c', '1', '-M', 'do', '-s', '1400', '-W', '2', 'fd81:100::1']);
      assert.match(out6, /Packet too big: mtu=1400/);
    });

    await t.test('tracepath shows the router hop', async () => {
      const out = await failing(lab, 'a1', 'tracepath', ['-n', '-m', '4', '10.81.2.1']);
      assert.match(out, /1: +10\.81\.1\.254/, out);
      assert.match(out, /2: +10\.81\.2\.1 /, out);
      const out6 = await failing(lab, 'b1', 'tracepath', ['-n', '-m', '4', 'fd81:100::1']);
      assert.match(out6, /1: +fd81:2::fe/, out6);
    });

    await t.test('an iperf3 TCP transfer crosses the router as whole GSO frames', async () => {
      const server = lab.spawn('b1', 'iperf3', ['-s', '-1', '-B', '10.81.2.1']);
      try {
        await new Promise((r) => setTimeout(r, 500));
        const before = await router();
        const out = await lab.exec('a1', 'iperf3', ['-c', '10.81.2.1', '-t', '2', '-J']);
        const result = JSON.parse(out.stdout) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
        assert.ok(result.end.sum_received.bytes > 10_000_000, `received ${result.end.sum_received.bytes} bytes`);
        const after = await router();
        const frames = after.counters.forwarded4 - before.counters.forwarded4;
        assert.ok(frames > 0 && result.end.sum_received.bytes / frames > 3000, `forwarded ${frames} packets for ${result.end.sum_received.bytes} bytes: GSO frames crossed whole`);
        t.diagnostic(`iperf3 through the router: ${(result.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gb/s`);
      } finally {
        server.kill();
      }
    });

    await t.test('the router counts what it refused, and the interfaces cannot go while routes use them', async () => {
      const r = await router();
      assert.ok((r.counters.drops.no_route ?? 0) >= 2 && (r.counters.drops.ttl_expired ?? 0) >= 2 && (r.counters.drops.too_big ?? 0) >= 2, JSON.stringify(r.counters.drops));
      const { curl } = await import('../helpers/curl.js');
      const refused = await curl(sock, 'DELETE', '/v1/router/interfaces/ru');
      assert.equal(refused.status, 409);
      await api(sock, 'DELETE', `/v1/routes?prefix=${encodeURIComponent('10.81.100.0/24')}`);
      const gone = await failing(lab, 'a1', 'ping', ['-c', '1', '-W', '2', '10.81.100.1']);
      assert.match(gone, /Destination Net Unreachable/);
    });
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});
