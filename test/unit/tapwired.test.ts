// The tapwired process itself, where no root is needed: a state file it cannot use stops it with a clear
// message and is left untouched; bad flags are refused; --listen with a state directory that does not exist
// yet starts (the directory is made before the token is written into it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/tapwired.js', import.meta.url));

function tapwired(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 20_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? null), stderr });
    });
  });
}

test('tapwired refuses a corrupt or unknown-version state file, says why, and keeps it', async () => {
  for (const [content, why] of [
    ['{"version":1,"bridges":[', /not valid JSON/],
    ['{"version":7,"bridges":[]}', /format version 7/],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'twd-'));
    try {
      writeFileSync(join(dir, 'state.json'), content);
      const r = await tapwired(['--socket', join(dir, 'api.sock'), '--state-dir', dir, '--socket-dir', join(dir, 'ports')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, why);
      assert.match(r.stderr, /will not overwrite/);
      assert.equal(readFileSync(join(dir, 'state.json'), 'utf8'), content);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('tapwired refuses bad flags with the usage', async () => {
  for (const args of [['--bogus'], ['--listen', 'localhost'], ['--metrics-listen', '127.0.0.1:99999'], ['--log-level', 'loud']]) {
    const r = await tapwired(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /tapwired: /);
  }
});

/** freePort is a TCP port on 127.0.0.1 that nothing listens on (the kernel's choice, released again). */
async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  await once(s, 'close');
  return port;
}

test('tapwired --listen with a new --state-dir makes the directory, then the token in it, and serves the API', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'twd-'));
  const stateDir = join(dir, 'new', 'state');
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, '--socket', join(dir, 'api.sock'), '--state-dir', stateDir, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(child, 'exit');
  try {
    while (!out.includes('"msg":"ready"') && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const ready = child.exitCode === null;
    assert.ok(ready, `tapwired did not start: ${err}${out}`);
    assert.equal(statSync(stateDir).mode & 0o777, 0o750);
    const tokenFile = join(stateDir, 'api-token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.ok(token.length >= 16);
    const r = await fetch(`http://127.0.0.1:${port}/v1/bridges`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), []);
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
