// End to end for the control plane: a topology built only through the REST API (curl over the unix
// socket) and through the CLI passes traffic; kill -9 and a restart on the same state bring it back; the
// TCP listener wants the token; /metrics counters move with traffic and pass promtool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, run } from '../helpers/lab.js';
import { RunningDaemon, daemonFiles, startDaemon } from '../helpers/daemon.js';
import { requirePrivileges } from '../helpers/privileged.js';
import { curl } from '../helpers/curl.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

async function tapwire(socket: string, ...args: string[]): Promise<string> {
  return (await run(process.execPath, [CLI, '--socket', socket, ...args])).stdout;
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  throw new Error(`no ${name} ${JSON.stringify(labels)} in the metrics`);
}

function promtoolCheck(text: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out }));
    p.stdin.end(text);
  });
}

test('control plane end to end: REST, CLI, kill -9 and restart, metrics', { timeout: 240_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping', 'curl', 'promtool'])) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    await lab.addNs('d');
    for (const h of ['h1', 'h2', 'h3', 'h4']) await lab.addNs(h);
    const files = daemonFiles(lab);
    daemon = await startDaemon(lab, 'd', undefined, {}, { files });
    const sock = files.socket;

    await t.test('a topology built with curl over the unix socket passes traffic', async () => {
      assert.deepEqual((await curl(sock, 'GET', '/v1/health')).body, { status: 'ok', version: '0.1.0' });
      assert.equal(statSync(sock).mode & 0o777, 0o660, 'the socket is mode 0660');
      assert.equal((await curl(sock, 'POST', '/v1/bridges', { name: 'br0' })).status, 201);
      for (const [h, a] of [
        ['h1', '10.74.0.1/24'],
        ['h2', '10.74.0.2/24'],
      ] as const) {
        const r = await curl(sock, 'POST', '/v1/bridges/br0/ports', { name: lab.name(`t${h}`), kind: 'tap', netns: lab.name(h), addresses: [a] });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      const bad = await curl(sock, 'POST', '/v1/bridges/br0/ports', { name: lab.name('tx'), kind: 'tap', netns: lab.name('nowhere') });
      assert.equal(bad.status, 400);
      assert.equal((bad.body as { code: string }).code, 'TW_ERR_VALIDATION');
      assert.doesNotMatch((await lab.ip('d', '-o', 'link', 'show')).stdout, new RegExp(lab.name('tx')), 'the failed request left no TAP');
      await lab.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.74.0.2']);
    });

    await t.test('a topology built with the tapwire CLI passes traffic', async () => {
      await tapwire(sock, 'bridge', 'add', 'br1');
      await tapwire(sock, 'port', 'add', 'br1', lab.name('th3'), '--kind', 'tap', '--netns', lab.name('h3'), '--address', '10.75.0.3/24');
      await tapwire(sock, 'port', 'add', 'br1', lab.name('th4'), '--kind', 'tap', '--netns', lab.name('h4'), '--address', '10.75.0.4/24');
      await lab.exec('h3', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.75.0.4']);
      const ports = JSON.parse(await tapwire(sock, '--json', 'port', 'ls', 'br1')) as { name: string; counters: { rxFrames: number } }[];
      assert.deepEqual(ports.map((p) => p.name).sort(), [lab.name('th3'), lab.name('th4')]);
      assert.ok(ports.every((p) => p.counters.rxFrames > 0));
      assert.match(await tapwire(sock, 'bridge', 'ls'), /br1/);
    });

    await t.test('metrics move with traffic and pass promtool check metrics', async () => {
      const labels = { bridge: 'br0', port: lab.name('th1') };
      const before = metricValue(String((await curl(sock, 'GET', '/metrics')).body), 'tapwire_port_rx_frames_total', labels);
      await lab.exec('h1', 'ping', ['-c', '5', '-i', '0.05', '-W', '3', '10.74.0.2']);
      const text = String((await curl(sock, 'GET', '/metrics')).body);
      assert.ok(metricValue(text, 'tapwire_port_rx_frames_total', labels) >= before + 5);
      assert.ok(metricValue(text, 'tapwire_bridge_fdb_entries', { bridge: 'br0' }) >= 2);
      const check = await promtoolCheck(text);
      assert.equal(check.code, 0, check.out);
      assert.equal(check.out.trim(), '', `promtool found problems: ${check.out}`);
    });

    await t.test('after kill -9 and a restart on the same state, the bridges and ports come back and hosts ping', async () => {
      daemon!.proc.kill('SIGKILL');
      await daemon!.exited;
      assert.doesNotMatch((await lab.ip('h1', '-o', 'link', 'show')).stdout, new RegExp(lab.name('th1')), 'the TAP went with the daemon');
      daemon = await startDaemon(lab, 'd', undefined, {}, { files });
      await lab.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.74.0.2']);
      await lab.exec('h3', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.75.0.4']);
      const bridges = (await curl(sock, 'GET', '/v1/bridges')).body as { name: string; ports: string[] }[];
      assert.deepEqual(
        bridges.map((b) => [b.name, b.ports.length]),
        [
          ['br0', 2],
          ['br1', 2],
        ],
      );
    });
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});

test('the TCP listener requires the bearer token; the metrics listener serves only /metrics, openly', { timeout: 60_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'curl'])) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    await lab.addNs('d');
    const files = daemonFiles(lab);
    const tokenFile = join(files.dir, 'token');
    const token = 'e2e-token-3f9a0c5d7b1e2f48';
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    daemon = await startDaemon(lab, 'd', undefined, {}, { files, args: ['--listen', '127.0.0.1:7411', '--token-file', tokenFile, '--metrics-listen', '127.0.0.1:7412'] });
    const req = async (auth: string | undefined, method: string, path: string, body?: unknown) => {
      const args = ['-sS', '-X', method, '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:7411${path}`];
      if (auth !== undefined) args.push('-H', `authorization: ${auth}`);
      if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
      const r = await lab.exec('d', 'curl', args);
      const i = r.stdout.lastIndexOf('\n');
      return { status: Number(r.stdout.slice(i + 1)), text: r.stdout.slice(0, i) };
    };
    for (const auth of [undefined, 'Bearer not-the-token', `Basic ${token}`]) {
      const r = await req(auth, 'POST', '/v1/bridges', { name: 'br0' });
      assert.equal(r.status, 401, String(auth));
      assert.equal((JSON.parse(r.text) as { code: string }).code, 'TW_ERR_UNAUTHORIZED');
    }
    assert.equal((await req(`Bearer ${token}`, 'GET', '/v1/bridges')).text, '[]', 'the refused requests changed nothing');
    assert.equal((await req(`Bearer ${token}`, 'POST', '/v1/bridges', { name: 'br0' })).status, 201);
    assert.equal((await curl(files.socket, 'GET', '/v1/bridges/br0')).status, 200, 'the unix socket needs no token');
    // A token put in the query string by mistake is refused and, like the header, never reaches the log.
    assert.equal((await req(undefined, 'GET', `/v1/bridges?token=${token}`)).status, 401);
    assert.equal((await req(`Bearer ${token}`, 'GET', `/v1/bridges/br0?token=${token}`)).status, 200);
    const long = await req(`Bearer ${token}`, 'GET', `/v1/bridges/${'b'.repeat(101)}?token=${token}`);
    assert.equal(long.status, 400, long.text);
    assert.equal((JSON.parse(long.text) as { code: string }).code, 'TW_ERR_VALIDATION');
    await daemon.waitFor((l) => l.msg === 'incoming request' && (l.req as { url?: string } | undefined)?.url === '/v1/bridges/br0');
    await daemon.waitFor((l) => l.msg === 'incoming request' && (l.req as { url?: string } | undefined)?.url === `/v1/bridges/${'b'.repeat(101)}`);
    assert.doesNotMatch(daemon.lines.map((l) => JSON.stringify(l)).join('\n'), new RegExp(token), 'the token is never logged');
    const open = async (path: string) => {
      const r = await lab.exec('d', 'curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:7412${path}`]);
      const i = r.stdout.lastIndexOf('\n');
      return { status: Number(r.stdout.slice(i + 1)), text: r.stdout.slice(0, i) };
    };
    const m = await open('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /tapwire_bridge_fdb_entries\{bridge="br0"\} 0/);
    assert.equal((await open('/v1/bridges')).status, 404, 'the metrics listener is not the API');
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});

test('a saved port whose namespace appears only after the start is built as soon as it exists', { timeout: 60_000 }, async (t) => {
  if (!requirePrivileges(t, ['ip', 'ping', 'curl'])) return;
  const lab = await Lab.create('twt');
  let daemon: RunningDaemon | undefined;
  try {
    await lab.addNs('d');
    await lab.addNs('h1');
    const files = daemonFiles(lab);
    mkdirSync(files.stateDir, { recursive: true });
    const late = lab.name('late');
    writeFileSync(
      join(files.stateDir, 'state.json'),
      JSON.stringify({
        version: 1,
        bridges: [
          {
            name: 'br0',
            agingSeconds: 300,
            fdbMax: 8192,
            ports: [
              { name: lab.name('ta'), kind: 'tap', netns: lab.name('h1'), addresses: ['10.78.0.1/24'], up: true },
              { name: lab.name('tb'), kind: 'tap', netns: late, addresses: ['10.78.0.2/24'], up: true },
            ],
            fdb: [],
          },
        ],
      }),
    );
    daemon = await startDaemon(lab, 'd', undefined, {}, { files });
    const state = async () => ((await curl(files.socket, 'GET', `/v1/bridges/br0/ports/${lab.name('tb')}`)).body as { state: string }).state;
    assert.equal(await state(), 'error', 'pending while its namespace is missing');
    await lab.addNs('late');
    const deadline = Date.now() + 15_000;
    while ((await state()) !== 'up') {
      if (Date.now() > deadline) throw new Error('the pending port was not built within 15 s of its namespace appearing');
      await new Promise((r) => setTimeout(r, 500));
    }
    await lab.exec('h1', 'ping', ['-c', '2', '-i', '0.2', '-W', '3', '10.78.0.2']);
  } finally {
    await daemon?.stop();
    await lab.close();
  }
});
