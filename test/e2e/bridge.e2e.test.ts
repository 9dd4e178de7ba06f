// End to end: tapwired in its own namespace switches between host namespaces through real TAPs, with the
// hosts' own kernels (ping, iperf3, tcpdump) as the peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Lab } from '../helpers/lab.js';
import { RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { requirePrivileges } from '../helpers/privileged.js';

const INJECT = fileURLToPath(new URL('../../../test/helpers/inject.py', import.meta.url));
const HOSTS = ['h1', 'h2', 'h3'] as const;
const V4 = { h1: '10.71.0.1', h2: '10.71.0.2', h3: '10.71.0.3' } as const;
const V6 = { h1: 'fd71::1', h2: 'fd71::2', h3: 'fd71::3' } as const;

/** capture runs tcpdump in a namespace until stop() and returns the number of packets it captured. */
async function capture(lab: Lab, ns: string, ifname: string, filter: string[]): Promise<{ stop: () => Promise<number> }> {
  const proc = lab.spawn(ns, 'tcpdump', ['-n', '-l', '-i', ifname, ...filter]);
  let err = '';
  proc.stdout!.resume();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 300));
      proc.kill('SIGINT');
      await new Promise((r) => proc.once('exit', r));
      const m = /(\d+) packets? captured/.exec(err);
      if (m === null) throw new Error(`tcpdump gave no summary: ${err}`);
      return Number(m[1]);
    },
  };
}

test('bridge end to end: tap ports in namespaces', { timeout: 300_000 }, async (t) => {
  if (!requirePrivileges(t)) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    await lab.addNs('d');
    for (const h of [...HOSTS, 'j1', 'j2']) await lab.addNs(h);
    const tap = (h: string) => lab.name(`t${h}`);
    daemon = await startDaemon(lab, 'd', {
      bridges: [
        {
          name: 'br0',
          ports: HOSTS.map((h) => ({ name: tap(h), kind: 'tap', netns: lab.name(h), addresses: [`${V4[h]}/24`, `${V6[h]}/64`] })),
        },
        {
          name: 'jumbo',
          ports: ['j1', 'j2'].map((h, i) => ({ name: tap(h), kind: 'tap', netns: lab.name(h), mtu: 9000, addresses: [`10.72.0.${i + 1}/24`] })),
        },
      ],
    });
    const d = daemon;

    await t.test('every pair of hosts pings over IPv4 and IPv6', async () => {
      for (const from of HOSTS) {
        for (const to of HOSTS) {
          if (from === to) continue;
          await lab.exec(from, 'ping', ['-c', '1', '-W', '3', V4[to]]);
          await lab.exec(from, 'ping', ['-6', '-c', '1', '-W', '3', V6[to]]);
        }
      }
    });

    await t.test('MTU 9000 ports pass 9000-byte packets unfragmented (9014-byte frames)', async () => {
      // j1's first IPv6 packets may have flooded before j2 joined (no_egress): judge the pings alone.
      const before = await d.stats();
      const r = await lab.exec('j1', 'ping', ['-M', 'do', '-s', '8972', '-c', '3', '-i', '0.2', '-W', '3', '10.72.0.2']);
      assert.match(r.stdout, /3 received/);
      const s = await d.stats();
      assert.ok(s.ports[tap('j2')]!.counters.rxBytes - before.ports[tap('j2')]!.counters.rxBytes >= 3 * 9014, 'the 9014-byte replies crossed');
      assert.deepEqual(s.ports[tap('j1')]!.counters.drops, before.ports[tap('j1')]!.counters.drops, 'the pings made no drops');
    });

    await t.test('after learning, unicast between two hosts does not reach the third', async () => {
      await lab.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', V4.h2]);
      const cap = await capture(lab, 'h3', tap('h3'), ['icmp']);
      const before = await d.stats();
      await lab.exec('h1', 'ping', ['-c', '100', '-i', '0.01', '-W', '3', V4.h2]);
      const after = await d.stats();
      assert.equal(await cap.stop(), 0, 'h3 captured none of the ICMP between h1 and h2');
      const delta = (n: string) => after.ports[n]!.counters.txFrames - before.ports[n]!.counters.txFrames;
      assert.ok(delta(tap('h2')) >= 100, `h2 got the requests (${delta(tap('h2'))})`);
      assert.ok(delta(tap('h3')) < 10, `h3 got no unicast (${delta(tap('h3'))} frames, only stray multicast allowed)`);
      const fdb = after.bridges.br0!.counters;
      assert.ok(fdb.fdbEntries! >= 3 && fdb.fdbLearned! >= 3, JSON.stringify(fdb));
    });

    await t.test('broadcast reaches every other host', async () => {
      const caps = await Promise.all(['h2', 'h3'].map((h) => capture(lab, h, tap(h), ['ether', 'broadcast', 'and', 'icmp'])));
      await lab.exec('h1', 'ping', ['-b', '-c', '3', '-i', '0.2', '-W', '1', '10.71.0.255']).catch(() => undefined);
      const seen = await Promise.all(caps.map((c) => c.stop()));
      assert.deepEqual(seen, [3, 3]);
    });

    await t.test('reserved-group destinations and group source MACs are not relayed, and are counted', async () => {
      const filter = ['ether', 'proto', '0x88b5'];
      const caps = await Promise.all(['h2', 'h3'].map((h) => capture(lab, h, tap(h), filter)));
      const before = await d.stats();
      await lab.exec('h1', 'python3', [INJECT, tap('h1'), '01:80:c2:00:00:00', '02:71:00:00:00:01', '88b5', '3']);
      await lab.exec('h1', 'python3', [INJECT, tap('h1'), 'ff:ff:ff:ff:ff:ff', '03:71:00:00:00:01', '88b5', '4']);
      // A positive control: the same kind of frame with a good source crosses, so the captures work.
      await lab.exec('h1', 'python3', [INJECT, tap('h1'), 'ff:ff:ff:ff:ff:ff', '02:71:00:00:00:01', '88b5', '1']);
      const seen = await Promise.all(caps.map((c) => c.stop()));
      assert.deepEqual(seen, [1, 1], 'only the control frame reached h2 and h3');
      const after = await d.stats();
      const drops = (s: typeof after) => s.ports[tap('h1')]!.counters.drops;
      assert.equal((drops(after).reserved_group ?? 0) - (drops(before).reserved_group ?? 0), 3);
      assert.equal((drops(after).group_source ?? 0) - (drops(before).group_source ?? 0), 4);
    });

    await t.test('an iperf3 TCP transfer completes with GSO frames crossing whole', async () => {
      const server = lab.spawn('h2', 'iperf3', ['-s', '-1', '-B', V4.h2]);
      await new Promise((r) => setTimeout(r, 500));
      const before = await d.stats();
      const r = await lab.exec('h1', 'iperf3', ['-c', V4.h2, '-t', '3', '-J'], { timeoutMs: 30_000 });
      await new Promise((res) => (server.exitCode !== null ? res(null) : server.once('exit', res)));
      const result = JSON.parse(r.stdout) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
      assert.ok(result.end.sum_received.bytes > 10_000_000, `received ${result.end.sum_received.bytes} bytes`);
      const after = await d.stats();
      const c1 = after.ports[tap('h1')]!.counters;
      const c1b = before.ports[tap('h1')]!.counters;
      const gso = c1.rxGsoFrames - c1b.rxGsoFrames;
      const frames = c1.rxFrames - c1b.rxFrames;
      const bytes = c1.rxBytes - c1b.rxBytes;
      assert.ok(gso > 0, 'GSO frames were received');
      assert.ok(bytes / frames > 1514, `average frame ${Math.round(bytes / frames)} bytes is above the 1514-byte MTU frame`);
      assert.ok(after.ports[tap('h2')]!.counters.txGsoFrames - before.ports[tap('h2')]!.counters.txGsoFrames > 0, 'and went out whole');
      t.diagnostic(`iperf3 through tapwire: ${(result.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gb/s, ${gso} GSO frames, average ${Math.round(bytes / frames)} bytes`);
    });

    await t.test('killing the daemon (SIGKILL) leaves no TAP behind', async () => {
      d.proc.kill('SIGKILL');
      await d.exited;
      await new Promise((r) => setTimeout(r, 200));
      for (const ns of ['d', ...HOSTS, 'j1', 'j2']) {
        const links = (await lab.ip(ns, '-o', 'link', 'show')).stdout;
        assert.doesNotMatch(links, new RegExp(lab.prefix), `no ${lab.prefix}* link left in ${ns}`);
      }
    });
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});

test('tapwired: a clean stop (SIGTERM) removes its TAPs and exits 0', { timeout: 60_000 }, async (t) => {
  if (!requirePrivileges(t)) return;
  const lab = await Lab.create('twt');
  try {
    await lab.addNs('d');
    await lab.addNs('h1');
    const daemon = await startDaemon(lab, 'd', {
      bridges: [
        {
          name: 'br0',
          ports: [
            { name: lab.name('ta'), kind: 'tap' },
            { name: lab.name('tb'), kind: 'tap', netns: lab.name('h1') },
          ],
        },
      ],
    });
    assert.match((await lab.ip('d', '-o', 'link', 'show')).stdout, new RegExp(lab.name('ta')));
    assert.equal(await daemon.stop(), 0);
    assert.doesNotMatch((await lab.ip('d', '-o', 'link', 'show')).stdout, new RegExp(lab.prefix));
    assert.doesNotMatch((await lab.ip('h1', '-o', 'link', 'show')).stdout, new RegExp(lab.prefix));
  } finally {
    await lab.close();
  }
});

test('tapwired: a topology that cannot be built stops the daemon with the reason and leaves nothing', { timeout: 60_000 }, async (t) => {
  if (!requirePrivileges(t)) return;
  const lab = await Lab.create('twt');
  try {
    await lab.addNs('d');
    await assert.rejects(
      startDaemon(lab, 'd', {
        bridges: [
          {
            name: 'br0',
            ports: [
              { name: lab.name('ta'), kind: 'tap' },
              { name: lab.name('tb'), kind: 'tap', netns: lab.name('nope') },
            ],
          },
        ],
      }),
      /does not exist/,
    );
    assert.doesNotMatch((await lab.ip('d', '-o', 'link', 'show')).stdout, new RegExp(lab.prefix));
  } finally {
    await lab.close();
  }
});

test('tapwired: with io_uring off (TAPWIRE_IO_URING=0) frames cross by plain read()/write()', { timeout: 60_000 }, async (t) => {
  if (!requirePrivileges(t)) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    for (const ns of ['d', 'h1', 'h2']) await lab.addNs(ns);
    daemon = await startDaemon(
      lab,
      'd',
      {
        bridges: [
          {
            name: 'br0',
            ports: ['h1', 'h2'].map((h, i) => ({ name: lab.name(`t${h}`), kind: 'tap', netns: lab.name(h), addresses: [`10.73.0.${i + 1}/24`] })),
          },
        ],
      },
      { TAPWIRE_IO_URING: '0' },
    );
    const io = await daemon.waitFor((l) => l.msg === 'data plane started');
    assert.equal(io.ioUringReads, false);
    assert.equal(io.ioUringWrites, false);
    const r = await lab.exec('h1', 'ping', ['-c', '20', '-i', '0.01', '-W', '3', '10.73.0.2']);
    assert.match(r.stdout, /20 received/);
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});
