// End to end for emulator ports, with real emulators (QEMU with TCG, User-Mode Linux) booting the test guest
// (scripts/build-guest.sh): tapwired runs in its own namespace with a bridge that has a tap port into a host
// namespace (where a TCP peer listens) and the emulators' ports. Each guest pings the host and moves 8 MiB
// over TCP each way, checked by sha256 at both ends:
//   - `vm` ports: QEMU virtio-net-pci (TSO frames from the guest must cross whole) and e1000 opening the TAP
//     by name; UML's vector transport on a vm port; an emulator stopped and started again on the same port
//     (state down, then up, traffic resumes with no API call); a daemon restart under a running emulator;
//   - `tapwire exec`: QEMU as an unprivileged user with the TAP fd passed by the daemon (and refused to a
//     user who is neither the port's owner nor in its group);
//   - `socket` ports: QEMU as an unprivileged user on `-netdev stream` and on `-netdev dgram` (the host's
//     GSO frames are cut into segments for it in software).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Lab } from '../helpers/lab.js';
import { RunningDaemon, daemonFiles, startDaemon } from '../helpers/daemon.js';
import { api } from '../helpers/curl.js';
import { requirePrivileges } from '../helpers/privileged.js';
import { bootQemu, bootUml, ensureGuest, GuestImage, GuestParams, GuestResult, qemuArgv, startQemu, startTcpPeer, TcpPeer } from '../helpers/guest.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PORT = 5001;
const BYTES = 8 * 1024 * 1024;
const HOST = '10.78.0.1';
const NOBODY = 65534;

function params(ip: string, extra: Partial<GuestParams> = {}): GuestParams {
  return { ip: `${ip}/24`, ping: [HOST], tcptx: { host: HOST, port: PORT, bytes: BYTES }, tcprx: { host: HOST, port: PORT, bytes: BYTES }, ...extra };
}

function explain(r: GuestResult): string {
  return `${r.reason ?? 'PASS'} after ${r.ms} ms; console tail:\n${r.output.split('\n').slice(-30).join('\n')}`;
}

interface PortView {
  name: string;
  state: string;
  mac?: string;
  counters: { rxFrames: number; txFrames: number; rxGsoFrames: number; txGsoFrames: number; drops: Record<string, number> };
}

/** runMarked runs a command line that ends in a guest boot and waits (bounded) for the guest's marker. */
async function runMarked(proc: ChildProcess, timeoutMs: number): Promise<{ pass: boolean; line: string; output: string; code: number | null }> {
  const lines: string[] = [];
  const collect = (s: NodeJS.ReadableStream | null): void => {
    if (s !== null) createInterface({ input: s }).on('line', (l) => lines.push(l));
  };
  collect(proc.stdout);
  collect(proc.stderr);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + timeoutMs;
  let marker: string | undefined;
  while (Date.now() < deadline) {
    marker = lines.find((l) => /TWGUEST (PASS|FAIL)/.test(l));
    if (marker !== undefined || proc.exitCode !== null || proc.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (proc.exitCode === null && proc.signalCode === null) {
    // The guest powers off after its marker; give it a moment, then make sure nothing is left.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  const code = await exited;
  marker ??= lines.find((l) => /TWGUEST (PASS|FAIL)/.test(l));
  return { pass: marker !== undefined && /TWGUEST PASS/.test(marker), line: marker ?? '(no marker)', output: lines.slice(-30).join('\n'), code };
}

async function waitState(socket: string, port: string, state: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    last = ((await api(socket, 'GET', `/v1/bridges/br0/ports/${port}`)) as PortView).state;
    if (last === state) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`port ${port} stayed ${last}, not ${state}`);
}

test('emulator ports: vm (QEMU virtio-net and e1000, UML, restart), tapwire exec, socket', { timeout: 20 * 60_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping', 'setpriv'])) return;
  const image: GuestImage = await ensureGuest();
  const lab = await Lab.create('twv');
  let daemon: RunningDaemon | undefined;
  let peer: TcpPeer | undefined;
  try {
    const d = await lab.addNs('d');
    const h1 = await lab.addNs('h1');
    // The socket ports below listen in the daemon's own temporary directory: it is their --socket-dir.
    const files = daemonFiles(lab);
    const socketDir = ['--socket-dir', files.dir];
    daemon = await startDaemon(
      lab,
      'd',
      { bridges: [{ name: 'br0', ports: [{ name: lab.name('th1'), kind: 'tap', netns: h1, addresses: [`${HOST}/24`] }] }] },
      {},
      { files, args: socketDir },
    );
    const sock = daemon.files.socket;
    // The daemon's directory is 0700; `tapwire exec` and the emulators below run as nobody and must reach
    // the fd socket (0666) and a socket port's file (0660, owned by nobody) in it.
    chmodSync(daemon.files.dir, 0o711);
    peer = await startTcpPeer(h1, PORT);
    const p = peer;
    const transfers = async (ip: string): Promise<void> => {
      const put = await p.waitFor('PUT', ip);
      const get = await p.waitFor('GET', ip);
      assert.ok(put.ok && put.bytes === BYTES, `the host got ${put.bytes} bytes from the guest`);
      assert.ok(get.ok && get.bytes === BYTES, `the host sent ${get.bytes} bytes to the guest`);
    };
    const port = async (name: string): Promise<PortView> => (await api(sock, 'GET', `/v1/bridges/br0/ports/${name}`)) as PortView;

    await t.test('vm port: QEMU virtio-net-pci opens the TAP by name; TSO frames cross whole', async (tt) => {
      const vm = (await api(sock, 'POST', '/v1/bridges/br0/ports', { name: 'vm1', kind: 'vm', owner: 0 })) as PortView;
      assert.equal(vm.state, 'down', 'no emulator yet');
      const r = await bootQemu({
        image,
        params: params('10.78.0.11'),
        netns: d,
        netdev: ['-netdev', 'tap,id=n0,ifname=vm1,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${vm.mac}`],
      });
      assert.ok(r.pass, explain(r));
      await transfers('10.78.0.11');
      const c = (await port('vm1')).counters;
      tt.diagnostic(`virtio-net on a vm port: PASS in ${r.ms} ms; ${c.rxGsoFrames} GSO frames from the guest, ${c.txGsoFrames} to it`);
      assert.ok(c.rxGsoFrames > 0, 'the guest sent TSO frames and they crossed whole');
      await waitState(sock, 'vm1', 'down');
    });

    await t.test('vm port: QEMU e1000', async (tt) => {
      const vm = (await api(sock, 'POST', '/v1/bridges/br0/ports', { name: 'vm2', kind: 'vm', group: 0 })) as PortView;
      const r = await bootQemu({
        image,
        params: params('10.78.0.12'),
        netns: d,
        netdev: ['-netdev', 'tap,id=n0,ifname=vm2,script=no,downscript=no', '-device', `e1000,netdev=n0,mac=${vm.mac}`],
      });
      assert.ok(r.pass, explain(r));
      await transfers('10.78.0.12');
      tt.diagnostic(`e1000 on a vm port: PASS in ${r.ms} ms`);
    });

    await t.test('vm port: an emulator stopped and started again on the same port resumes', async () => {
      const netdev = ['-netdev', 'tap,id=n0,ifname=vm1,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:78:00:13'];
      for (const round of [1, 2]) {
        const g = startQemu({ image, params: { ip: '10.78.0.13/24', ping: [HOST], holdSeconds: 120 }, netns: d, netdev });
        try {
          const r = await g.result;
          assert.ok(r.pass, `round ${round}: ${explain(r)}`);
          await waitState(sock, 'vm1', 'up');
          await lab.exec('h1', 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.78.0.13'], { timeoutMs: 20_000 });
        } finally {
          await g.stop();
        }
        await waitState(sock, 'vm1', 'down');
      }
    });

    await t.test('vm port: a daemon restart leaves the running emulator its TAP and adopts it', async () => {
      const netdev = ['-netdev', 'tap,id=n0,ifname=vm1,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:78:00:13'];
      const g = startQemu({ image, params: { ip: '10.78.0.13/24', ping: [HOST], holdSeconds: 120 }, netns: d, netdev });
      try {
        const r = await g.result;
        assert.ok(r.pass, explain(r));
        await waitState(sock, 'vm1', 'up');
        await daemon!.stop(true);
        const link = await lab.ip('d', '-br', 'link', 'show', 'vm1');
        assert.match(link.stdout, /^vm1\s/, 'the TAP outlives the daemon, with the emulator on it');
        daemon = await startDaemon(lab, 'd', undefined, {}, { files: daemon!.files, args: socketDir });
        assert.equal((await port('vm1')).state, 'up', 'adopted, with the emulator still attached');
        await lab.exec('h1', 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.78.0.13'], { timeoutMs: 20_000 });
      } finally {
        await g.stop();
      }
      await waitState(sock, 'vm1', 'down');
    });

    await t.test('tapwire exec: QEMU as an unprivileged user gets the TAP fd from the daemon', async (tt) => {
      const vm = (await api(sock, 'POST', '/v1/bridges/br0/ports', { name: 'vm3', kind: 'vm', owner: NOBODY })) as PortView;
      const qemu = qemuArgv({
        image,
        params: params('10.78.0.14'),
        netdev: ['-netdev', 'tap,id=n0,fd=3', '-device', `virtio-net-pci,netdev=n0,mac=${vm.mac}`],
      });
      const asUser = (uid: number, gid: number): ChildProcess =>
        lab.spawn('d', 'setpriv', ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', process.execPath, CLI, '--socket', sock, 'exec', '--port', 'vm3', '--', ...qemu]);
      const refused = await runMarked(asUser(NOBODY - 1, NOBODY - 1), 30_000);
      assert.equal(refused.code, 1, `a stranger is refused: ${refused.output}`);
      assert.match(refused.output, /permission denied/);
      const t0 = Date.now();
      const r = await runMarked(asUser(NOBODY, NOBODY), 180_000);
      assert.ok(r.pass, `${r.line}\n${r.output}`);
      assert.equal(r.code, 0, "tapwire exec exits with the emulator's status");
      await transfers('10.78.0.14');
      tt.diagnostic(`QEMU as uid ${NOBODY} through tapwire exec: PASS in ${Date.now() - t0} ms`);
    });

    await t.test('socket port: QEMU as an unprivileged user on -netdev stream', async (tt) => {
      const path = join(daemon!.files.dir, 'qemu.sock');
      const sp = (await api(sock, 'POST', '/v1/bridges/br0/ports', { name: 'sk1', kind: 'socket', path, mode: 'stream', owner: NOBODY })) as PortView;
      assert.equal(sp.state, 'down');
      const r = await bootQemu({
        image,
        params: params('10.78.0.15'),
        uid: NOBODY,
        gid: NOBODY,
        netdev: ['-netdev', `stream,id=n0,server=off,addr.type=unix,addr.path=${path}`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:78:00:15'],
      });
      assert.ok(r.pass, explain(r));
      await transfers('10.78.0.15');
      const c = (await port('sk1')).counters;
      tt.diagnostic(`socket port: PASS in ${r.ms} ms; ${c.rxFrames} frames in, ${c.txFrames} out, drops ${JSON.stringify(c.drops)}`);
      for (const r of ['bad_gso', 'unsupported_gso', 'too_many_segments']) assert.equal(c.drops[r] ?? 0, 0, r);
      assert.equal(c.drops.bad_framing ?? 0, 0);
    });

    await t.test('socket port: QEMU as an unprivileged user on -netdev dgram', async (tt) => {
      const path = join(daemon!.files.dir, 'dgram.sock');
      // QEMU binds its own end; nobody must be able to create it.
      const own = mkdtempSync(join(tmpdir(), `${lab.prefix}-q-`));
      chownSync(own, NOBODY, NOBODY);
      try {
        await api(sock, 'POST', '/v1/bridges/br0/ports', { name: 'sk2', kind: 'socket', path, mode: 'dgram', owner: NOBODY });
        const r = await bootQemu({
          image,
          params: params('10.78.0.17'),
          uid: NOBODY,
          gid: NOBODY,
          netdev: [
            '-netdev',
            `dgram,id=n0,local.type=unix,local.path=${join(own, 'q.sock')},remote.type=unix,remote.path=${path}`,
            '-device',
            'virtio-net-pci,netdev=n0,mac=52:54:00:78:00:17',
          ],
        });
        assert.ok(r.pass, explain(r));
        await transfers('10.78.0.17');
        const c = (await port('sk2')).counters;
        tt.diagnostic(`dgram socket port: PASS in ${r.ms} ms; ${c.rxFrames} frames in, ${c.txFrames} out, drops ${JSON.stringify(c.drops)}`);
        for (const r of ['bad_gso', 'unsupported_gso', 'too_many_segments']) assert.equal(c.drops[r] ?? 0, 0, r);
        assert.equal(c.drops.bad_framing ?? 0, 0);
      } finally {
        rmSync(own, { recursive: true, force: true });
      }
    });

    await t.test('vm port: User-Mode Linux with the vector transport', async (tt) => {
      const vm = (await api(sock, 'POST', '/v1/bridges/br0/ports', { name: 'vm4', kind: 'vm', owner: 0 })) as PortView;
      const r = await bootUml({ image, params: params('10.78.0.16'), netns: d, net: [`vec0:transport=tap,ifname=vm4,mac=${vm.mac},gro=1`] });
      assert.ok(r.pass, explain(r));
      await transfers('10.78.0.16');
      tt.diagnostic(`UML on a vm port: PASS in ${r.ms} ms`);
    });

    await t.test('deleting a vm port removes its TAP', async () => {
      await api(sock, 'DELETE', '/v1/bridges/br0/ports/vm2');
      const r = await lab.ip('d', '-br', 'link');
      assert.doesNotMatch(r.stdout, /^vm2\s/m);
      assert.match(r.stdout, /^vm1\s/m);
    });
  } finally {
    await peer?.close();
    await daemon?.stop();
    await lab.close();
  }
});
