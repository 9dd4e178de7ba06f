// End to end for a frame the kernel cannot hand over (issue 12): a guest writes a legacy UFO frame (GSO_UDP)
// into its vm port's TAP. The kernel takes the write, but the daemon's AF_PACKET socket on the TAP cannot
// describe the frame with a virtio-net header and its recv fails with EINVAL. That must cost one frame
// (an `rx_frame_error` drop), never the port: the next frame from the guest still crosses the bridge and
// the port stays `up`. No emulator is needed: a helper process in the daemon's namespace opens the TAP by
// name with IFF_VNET_HDR, as QEMU does (openVmQueue's way: the native openTun, offloads off), and writes
// the two frames; a listener in the host namespace sees the second one arrive. Both read paths of the
// native loop are run: io_uring and one read() per frame.
import { type TestContext, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Lab } from '../helpers/lab.js';
import { RunningDaemon, startDaemon } from '../helpers/daemon.js';
import { api } from '../helpers/curl.js';
import { requirePrivileges } from '../helpers/privileged.js';

const NATIVE = new URL('../../src/native/index.js', import.meta.url).href;
const ETHERTYPE = 0x88b5; // IEEE local experimental: nothing else in the lab sends it

interface PortView {
  state: string;
  counters: { rxFrames: number; drops: Record<string, number> };
}

/**
 * WRITER opens TAP argv[1] as an emulator would, says `attached`, and on a `go` line writes a UFO frame
 * (vnet header 01 03 2a00 7805 2200 0600 0000 and a valid 3,000-byte UDP/IPv4 frame), then a plain
 * 60-byte frame of ETHERTYPE, says `written` and keeps the TAP until its stdin closes.
 */
const WRITER = `
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
const { native } = await import(${JSON.stringify(NATIVE)});
const { fd } = native().openTun({ name: process.argv[1], mode: 'tap', vnetHdrSize: 12, offload: false });
const hex = (s) => Buffer.from(s.replace(/\\s+/g, ''), 'hex');
const ip = hex('4500 0baa 0000 0000 4011 0000 0a4e0064 0a4e0001');
let sum = 0;
for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
ip.writeUInt16BE(~sum & 0xffff, 10);
const ufo = Buffer.alloc(12 + 3000);
hex('01 03 2a00 7805 2200 0600 0000').copy(ufo, 0);
hex('ffffffffffff 02000000000a 0800').copy(ufo, 12);
ip.copy(ufo, 12 + 14);
hex('04d2 162e 0b96 0000').copy(ufo, 12 + 34); // UDP 1234 -> 5678, length 2966, checksum left to the offload
const plain = Buffer.alloc(12 + 60);
hex('ffffffffffff 02000000000b ${ETHERTYPE.toString(16)}').copy(plain, 12);
console.log('attached');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line !== 'go') continue;
  writeSync(fd, ufo);
  writeSync(fd, plain);
  console.log('written');
}
`;

/** LISTENER binds an AF_PACKET socket for ETHERTYPE on interface argv[1], says `ready`, and prints the source MAC of the first frame. */
const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(${ETHERTYPE}))
s.bind((sys.argv[1], 0))
s.settimeout(20)
print('ready', flush=True)
print('from', s.recv(2048)[6:12].hex(), flush=True)
`;

/** lineWaiter reads `proc`'s stdout by lines; the function it returns resolves with the first line that starts with `prefix` (bounded). */
function lineWaiter(proc: ChildProcess): (prefix: string, timeoutMs?: number) => Promise<string> {
  const seen: string[] = [];
  let exited: number | null | undefined;
  createInterface({ input: proc.stdout! }).on('line', (l) => seen.push(l));
  proc.once('exit', (code) => (exited = code));
  return async (prefix, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = seen.find((l) => l.startsWith(prefix));
      if (line !== undefined) return line;
      if (exited !== undefined) throw new Error(`exited (${exited}) before '${prefix}': ${seen.join(' | ')}`);
      if (Date.now() > deadline) throw new Error(`no '${prefix}' line in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
}

/** scenario runs the test once on a fresh lab, with the daemon's environment `env` (which read path). */
async function scenario(t: TestContext, env: Record<string, string>): Promise<void> {
  const lab = await Lab.create('twu');
  let daemon: RunningDaemon | undefined;
  const children: ChildProcess[] = [];
  try {
    const d = await lab.addNs('d');
    const h1 = await lab.addNs('h1');
    const th1 = lab.name('th1');
    daemon = await startDaemon(lab, 'd', { bridges: [{ name: 'br0', ports: [{ name: th1, kind: 'tap', netns: h1, addresses: ['10.78.0.1/24'] }] }] }, env);
    const sock = daemon.files.socket;
    const port = async (name: string): Promise<PortView> => (await api(sock, 'GET', `/v1/bridges/br0/ports/${name}`)) as PortView;
    await api(sock, 'POST', '/v1/bridges/br0/ports', { name: 'vm1', kind: 'vm', owner: 0 });

    const listener = spawn('ip', ['netns', 'exec', h1, 'python3', '-c', LISTENER, th1], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(listener);
    const fromListener = lineWaiter(listener);
    await fromListener('ready');
    const writer = spawn('ip', ['netns', 'exec', d, process.execPath, '--input-type=module', '-e', WRITER, 'vm1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(writer);
    const fromWriter = lineWaiter(writer);
    await fromWriter('attached');

    const deadline = Date.now() + 10_000;
    while ((await port('vm1')).state !== 'up') {
      assert.ok(Date.now() < deadline, 'the vm port came up with the helper on its TAP');
      await new Promise((r) => setTimeout(r, 100));
    }
    writer.stdin.write('go\n');
    await fromWriter('written');
    assert.equal(await fromListener('from'), 'from 02000000000b', 'the frame after the UFO frame crossed the bridge');
    let view = await port('vm1');
    while (view.counters.drops.rx_frame_error === undefined && Date.now() < deadline + 5_000) {
      await new Promise((r) => setTimeout(r, 100));
      view = await port('vm1');
    }
    t.diagnostic(`vm1 after the UFO frame: ${JSON.stringify(view)}`);
    assert.equal(view.counters.drops.rx_frame_error, 1, 'the UFO frame is one rx_frame_error drop');
    assert.equal(view.counters.drops.read_error, undefined, 'not a read error');
    assert.equal(view.state, 'up', 'the port stays up');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await daemon?.stop();
    await lab.close();
  }
}

test('vm port: a UFO frame from the guest costs one frame (rx_frame_error), not the port', { timeout: 240_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'python3'])) return;
  await t.test('io_uring reads (where the kernel allows them)', (tt) => scenario(tt, {}));
  await t.test('plain read() per frame (TAPWIRE_IO_URING=0)', (tt) => scenario(tt, { TAPWIRE_IO_URING: '0' }));
});
