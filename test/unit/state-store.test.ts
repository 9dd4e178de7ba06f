// The state store on its own: what a start finds in the state directory besides state.json. A save killed
// between writing its temporary file and the rename leaves state.json.<pid>.tmp behind; the next load
// removes those of processes that are gone (and of its own pid, which has saved nothing yet), and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore } from '../../src/daemon/state-store.js';

/** deadPid is the pid of a process that has exited (and was reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test('state store: load removes the temporary files of saves whose process is gone, and keeps everything else', () => {
  for (const withState of [true, false]) {
    const dir = mkdtempSync(join(tmpdir(), 'twstate-'));
    try {
      const store = new StateStore(dir);
      if (withState) store.save({ version: 1, bridges: [{ name: 'br0', agingSeconds: 300, fdbMax: 8192, ports: [], fdb: [] }] });
      const dead = [deadPid(), deadPid()];
      for (const pid of [...dead, process.pid, 1]) writeFileSync(join(dir, `state.json.${pid}.tmp`), '{"version":1,"bri');
      for (const other of ['state.json.bak', 'state.json.x1.tmp', 'api-token', 'other.json.123.tmp']) writeFileSync(join(dir, other), 'x');
      const loaded = store.load();
      assert.equal(loaded?.bridges[0]?.name, withState ? 'br0' : undefined);
      const left = readdirSync(dir).sort();
      const expected = ['api-token', 'other.json.123.tmp', 'state.json.1.tmp', 'state.json.bak', 'state.json.x1.tmp', ...(withState ? ['state.json'] : [])].sort();
      assert.deepEqual(left, expected, 'pid 1 is alive: its file stays; the dead ones and our own are gone');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  // A state directory that does not exist yet is no error.
  assert.equal(new StateStore(join(tmpdir(), 'twstate-none', 'sub')).load(), undefined);
});
