// End to end for the test guest itself (scripts/build-guest.sh, test/helpers/guest.ts), with no tapwire daemon:
// plain kernel TAPs in a namespace this test makes, QEMU (TCG, virtio-net and e1000) and User-Mode Linux
// (vector transport) inside that namespace; each guest pings the TAP's address and moves 8 MiB over TCP
// each way against a peer in the namespace. A guest that cannot reach its peer says why; a held guest keeps
// answering pings until stop() kills it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Lab } from '../helpers/lab.js';
import { requirePrivileges } from '../helpers/privileged.js';
import { bootQemu, bootUml, ensureGuest, GuestImage, GuestParams, GuestResult, startQemu, startTcpPeer, TcpPeer } from '../helpers/guest.js';

const PORT = 5001;
const BYTES = 8 * 1024 * 1024;

/** params asks the guest at HOST_PREFIX.2 to ping HOST_PREFIX.1 and move BYTES each way to the peer there. */
function params(subnet: string): GuestParams {
  const host = `${subnet}.1`;
  return {
    ip: `${subnet}.2/24`,
    ping: [host],
    tcptx: { host, port: PORT, bytes: BYTES },
    tcprx: { host, port: PORT, bytes: BYTES },
  };
}

function explain(r: GuestResult): string {
  return `${r.reason ?? 'PASS'} after ${r.ms} ms; console tail:\n${r.output.split('\n').slice(-40).join('\n')}`;
}

/** bigFrames counts TCP frames longer than any MTU-sized one that `from` sends out through `tap` (GSO). */
function bigFrames(lab: Lab, tap: string, from: string): { proc: ChildProcess; count: () => number } {
  const proc = lab.spawn('a', 'tcpdump', ['-l', '-n', '-q', '-i', tap, `src host ${from} and tcp and greater 1600`]);
  let n = 0;
  createInterface({ input: proc.stdout! }).on('line', () => n++);
  return { proc, count: () => n };
}

test('test guest on plain kernel TAPs: QEMU virtio-net and e1000, UML vector', { timeout: 15 * 60_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping', 'tcpdump'])) return;
  const image: GuestImage = await ensureGuest();
  t.diagnostic(`guest: kernel ${image.kernelVersion}, UML ${image.umlVersion}, cache ${image.dir}`);
  const lab = await Lab.create('gs');
  let peer: TcpPeer | undefined;
  try {
    const ns = await lab.addNs('a');
    peer = await startTcpPeer(ns, PORT);
    const p = peer;
    const addTap = async (short: string, subnet: string): Promise<string> => {
      const tap = lab.name(short);
      await lab.ip('a', 'tuntap', 'add', tap, 'mode', 'tap');
      await lab.ip('a', 'addr', 'add', `${subnet}.1/24`, 'dev', tap);
      await lab.ip('a', 'link', 'set', tap, 'up');
      return tap;
    };
    const checkPeer = async (subnet: string): Promise<void> => {
      const put = await p.waitFor('PUT', `${subnet}.2`);
      const get = await p.waitFor('GET', `${subnet}.2`);
      assert.ok(put.ok && put.bytes === BYTES, `peer got ${put.bytes} bytes from the guest`);
      assert.ok(get.ok && get.bytes === BYTES, `peer sent ${get.bytes} bytes to the guest`);
    };

    await t.test('QEMU virtio-net-pci on a TAP (TSO on)', async (tt) => {
      const subnet = '10.77.1';
      const tap = await addTap('tv', subnet);
      const dump = bigFrames(lab, tap, `${subnet}.2`);
      const r = await bootQemu({
        image,
        params: params(subnet),
        netns: ns,
        netdev: ['-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:77:01:02'],
      });
      dump.proc.kill('SIGKILL');
      assert.ok(r.pass, explain(r));
      await checkPeer(subnet);
      tt.diagnostic(`virtio-net: PASS in ${r.ms} ms, ${dump.count()} GSO frames from the guest`);
      assert.ok(dump.count() > 0, 'the guest sent TSO frames larger than the MTU through the TAP');
    });

    await t.test('QEMU e1000 on a TAP', async (tt) => {
      const subnet = '10.77.2';
      const tap = await addTap('te', subnet);
      const r = await bootQemu({
        image,
        params: params(subnet),
        netns: ns,
        netdev: ['-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', 'e1000,netdev=n0,mac=52:54:00:77:02:02'],
      });
      assert.ok(r.pass, explain(r));
      await checkPeer(subnet);
      tt.diagnostic(`e1000: PASS in ${r.ms} ms`);
    });

    await t.test('User-Mode Linux with the vector transport on a TAP', async (tt) => {
      const subnet = '10.77.3';
      const tap = await addTap('tu', subnet);
      const dump = bigFrames(lab, tap, `${subnet}.2`);
      const r = await bootUml({
        image,
        params: params(subnet),
        netns: ns,
        net: [`vec0:transport=tap,ifname=${tap},mac=52:54:00:77:03:02,gro=1`],
      });
      dump.proc.kill('SIGKILL');
      assert.ok(r.pass, explain(r));
      assert.match(r.output, /TWGUEST INFO nic vec0 /, 'UML names its NIC vec0');
      await checkPeer(subnet);
      tt.diagnostic(`UML: PASS in ${r.ms} ms, ${dump.count()} GSO frames from the guest`);
    });

    await t.test('a guest whose peer never answers reports FAIL with the reason', async (tt) => {
      const subnet = '10.77.5';
      const tap = await addTap('tf', subnet);
      const r = await bootQemu({
        image,
        params: { ip: `${subnet}.2/24`, ping: [`${subnet}.99`], tries: 2 },
        netns: ns,
        netdev: ['-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:77:05:02'],
      });
      assert.equal(r.pass, false, explain(r));
      assert.match(r.reason ?? '', /^ping 10\.77\.5\.99: no reply in 2 tries$/, explain(r));
      tt.diagnostic(`failing guest: FAIL (${r.reason}) in ${r.ms} ms`);
    });

    await t.test('a held QEMU guest answers pings until stop() kills it', async (tt) => {
      const subnet = '10.77.4';
      const tap = await addTap('th', subnet);
      const g = startQemu({
        image,
        params: { ip: `${subnet}.2/24`, ping: [`${subnet}.1`], holdSeconds: 120 },
        netns: ns,
        netdev: ['-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:77:04:02'],
      });
      try {
        const r = await g.result;
        assert.ok(r.pass, explain(r));
        await lab.exec('a', 'ping', ['-c', '2', '-i', '0.2', '-W', '5', `${subnet}.2`], { timeoutMs: 20_000 });
        const t0 = Date.now();
        await g.stop();
        tt.diagnostic(`held guest: PASS in ${r.ms} ms, stopped in ${Date.now() - t0} ms`);
        await assert.rejects(lab.exec('a', 'ping', ['-c', '1', '-W', '1', `${subnet}.2`], { timeoutMs: 10_000 }), 'no answer once stopped');
      } finally {
        await g.stop();
      }
    });
  } finally {
    await peer?.close();
    await lab.close();
  }
});
