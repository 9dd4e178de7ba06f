// The tapwired process itself, where no root is needed: a state file it cannot use stops it with a clear
// message and is left untouched; bad flags are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
