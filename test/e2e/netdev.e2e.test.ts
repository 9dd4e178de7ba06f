// End to end for `netdev` ports: a veth whose peer sits in a "container" namespace joins the bridge through
// AF_PACKET, next to a tap port; ping (IPv4, IPv6 with NDP) and iperf3 TCP both ways, with the veth's GSO
// frames passing whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../helpers/lab.js';
import { RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { requirePrivileges } from '../helpers/privileged.js';

async function iperf(lab: Lab, from: string, to: string, address: string): Promise<number> {
  const server = lab.spawn(to, 'iperf3', ['-s', '-1', '-B', address]);
  await new Promise((r) => setTimeout(r, 500));
  const r = await lab.exec(from, 'iperf3', ['-c', address, '-t', '2', '-J'], { timeoutMs: 30_000 });
  await new Promise((res) => (server.exitCode !== null ? res(null) : server.once('exit', res)));
  return (JSON.parse(r.stdout) as { end: { sum_received: { bytes: number } } }).end.sum_received.bytes;
}

/** container makes namespaces d (the daemon's), h1 and c1, and a veth from d into c1 with `addresses` on
 * the c1 end; `offloads` (ethtool -K words) are set on both ends before they come up. */
async function container(lab: Lab, addresses: string[], offloads: string[] = []): Promise<{ vd: string; vc: string }> {
  for (const ns of ['d', 'h1', 'c1']) await lab.addNs(ns);
  const vd = lab.name('vd');
  const vc = lab.name('vc');
  await lab.ip('d', 'link', 'add', vd, 'type', 'veth', 'peer', 'name', vc, 'netns', lab.name('c1'));
  if (offloads.length > 0) {
    await lab.exec('d', 'ethtool', ['-K', vd, ...offloads]);
    await lab.exec('c1', 'ethtool', ['-K', vc, ...offloads]);
  }
  await lab.ip('d', 'link', 'set', vd, 'up');
  for (const a of addresses) await lab.ip('c1', 'addr', 'add', a, 'dev', vc, ...(a.includes(':') ? ['nodad'] : []));
  await lab.ip('c1', 'link', 'set', vc, 'up');
  return { vd, vc };
}

test('netdev port: a veth into a container namespace switched with a tap port', { timeout: 120_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping', 'iperf3'])) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    const { vd } = await container(lab, ['10.79.0.2/24', 'fd79::2/64']);
    const tap = lab.name('th1');
    daemon = await startDaemon(lab, 'd', {
      bridges: [
        {
          name: 'br0',
          ports: [
            { name: tap, kind: 'tap', netns: lab.name('h1'), addresses: ['10.79.0.1/24', 'fd79::1/64'] },
            { name: 'c1', kind: 'netdev', ifname: vd },
          ],
        },
      ],
    });
    const d = daemon;
    await lab.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.79.0.2']);
    await lab.exec('c1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.79.0.1']);
    await lab.exec('h1', 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '3', 'fd79::2']);
    const before = (await d.stats()).ports.c1!.counters;
    assert.ok((await iperf(lab, 'h1', 'c1', '10.79.0.2')) > 10_000_000, 'TCP tap -> veth');
    assert.ok((await iperf(lab, 'c1', 'h1', '10.79.0.1')) > 10_000_000, 'TCP veth -> tap');
    const after = (await d.stats()).ports.c1!.counters;
    assert.ok(after.txGsoFrames > before.txGsoFrames, 'GSO frames went out to the veth whole');
    assert.ok(after.rxGsoFrames > before.rxGsoFrames, 'GSO frames came in from the veth whole');
    assert.deepEqual(after.drops, {}, JSON.stringify(after.drops));
    const link = JSON.parse((await lab.ip('d', '-d', '-j', 'link', 'show', vd)).stdout) as { promiscuity: number }[];
    assert.ok(link[0]!.promiscuity > 0, 'the interface is promiscuous while it is a port');
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});

test('netdev port: a veth with every offload off on both ends still carries TCP both ways', { timeout: 120_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping', 'iperf3', 'ethtool'])) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    // The kernel must segment and checksum what tapwire writes as GSO / partial-checksum frames to an
    // interface that takes neither, and the container's end must get correct plain frames.
    const { vd } = await container(lab, ['10.79.1.2/24'], ['tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off', 'sg', 'off']);
    const tap = lab.name('th1');
    daemon = await startDaemon(lab, 'd', {
      bridges: [
        {
          name: 'br0',
          ports: [
            { name: tap, kind: 'tap', netns: lab.name('h1'), addresses: ['10.79.1.1/24'] },
            { name: 'c1', kind: 'netdev', ifname: vd },
          ],
        },
      ],
    });
    await lab.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.79.1.2']);
    assert.ok((await iperf(lab, 'h1', 'c1', '10.79.1.2')) > 10_000_000, 'TCP tap (GSO frames) -> veth without offloads');
    assert.ok((await iperf(lab, 'c1', 'h1', '10.79.1.1')) > 10_000_000, 'TCP veth without offloads -> tap');
    const c = (await daemon.stats()).ports.c1!.counters;
    assert.ok(c.txGsoFrames > 0, 'GSO frames were handed to the interface, which segmented them');
    assert.equal(c.rxGsoFrames, 0, 'nothing larger than the MTU came from an interface without GSO');
    assert.deepEqual(c.drops, {}, JSON.stringify(c.drops));
    // The container's stack saw no bad checksums.
    const snmp = (await lab.exec('c1', 'cat', ['/proc/net/snmp'])).stdout;
    const tcpLines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
    const fields = Object.fromEntries(
      tcpLines[0]!
        .split(/\s+/)
        .slice(1)
        .map((k, i) => [k, Number(tcpLines[1]!.split(/\s+/)[i + 1])]),
    );
    assert.equal(fields.InCsumErrors, 0, 'no TCP checksum errors in the container');
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});
