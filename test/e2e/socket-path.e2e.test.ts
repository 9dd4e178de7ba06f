// End to end for where a socket port may listen (tapwired --socket-dir): a socket port asked for the daemon's
// own API socket or fd socket, or for a path outside the directory, is refused and the API keeps answering;
// after kill -9, a saved socket port on the API socket (a state written before the check existed) does not
// stop the restart: it stays pending (state error) and the API socket is the daemon's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../helpers/lab.js';
import { RunningDaemon, daemonFiles, startDaemon } from '../helpers/daemon.js';
import { requirePrivileges } from '../helpers/privileged.js';
import { curl } from '../helpers/curl.js';

interface Problem {
  code: string;
  detail: string;
}

test(
  'socket ports: only new paths or stale sockets in --socket-dir, never the daemon own sockets; a saved one that cannot listen does not stop a restart',
  { timeout: 120_000 },
  async (t) => {
    if (!requirePrivileges(t, ['ip', 'curl'])) return;
    const lab = await Lab.create('tws');
    let daemon: RunningDaemon | undefined;
    try {
      await lab.addNs('d');
      const files = daemonFiles(lab);
      const ports = join(files.dir, 'ports');
      const args = ['--socket-dir', ports];
      daemon = await startDaemon(lab, 'd', undefined, {}, { files, args });
      const sock = files.socket;
      const fdSock = join(files.dir, 'api-fd.sock');
      const health = async (): Promise<void> => assert.deepEqual((await curl(sock, 'GET', '/v1/health')).body, { status: 'ok', version: '0.1.0' });
      assert.equal((await curl(sock, 'POST', '/v1/bridges', { name: 'br0' })).status, 201);

      for (const [path, status, code, detail] of [
        [sock, 400, 'TW_ERR_VALIDATION', /is the daemon's API socket/],
        [fdSock, 400, 'TW_ERR_VALIDATION', /is the daemon's fd socket/],
        [join(files.dir, 'outside.sock'), 400, 'TW_ERR_VALIDATION', new RegExp(`outside ${ports}`)],
        [`${ports}/../outside.sock`, 400, 'TW_ERR_VALIDATION', new RegExp(`outside ${ports}`)],
      ] as const) {
        const r = await curl(sock, 'POST', '/v1/bridges/br0/ports', { name: 'sk1', kind: 'socket', path });
        assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
        assert.equal((r.body as Problem).code, code);
        assert.match((r.body as Problem).detail, detail);
        await health();
      }
      const ok = await curl(sock, 'POST', '/v1/bridges/br0/ports', { name: 'sk1', kind: 'socket', path: join(ports, 'sk1.sock') });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      // A second port on the first one's live socket is refused.
      const taken = await curl(sock, 'POST', '/v1/bridges/br0/ports', { name: 'sk2', kind: 'socket', path: join(ports, 'sk1.sock') });
      assert.equal(taken.status, 409, JSON.stringify(taken.body));
      assert.equal((taken.body as Problem).code, 'TW_ERR_EXISTS');
      await health();

      // kill -9, then a state with a socket port on the API socket, as an earlier build let one be saved.
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
      const stateFile = join(files.stateDir, 'state.json');
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { bridges: { ports: unknown[] }[] };
      state.bridges[0]!.ports.push({ name: 'sk3', kind: 'socket', path: sock, mode: 'stream' });
      mkdirSync(files.stateDir, { recursive: true });
      writeFileSync(stateFile, JSON.stringify(state));
      daemon = await startDaemon(lab, 'd', undefined, {}, { files, args });
      await health();
      const listed = (await curl(sock, 'GET', '/v1/bridges/br0/ports')).body as { name: string; state: string }[];
      assert.deepEqual(Object.fromEntries(listed.map((p) => [p.name, p.state])), { sk1: 'down', sk3: 'error' });
      assert.equal((JSON.parse(readFileSync(stateFile, 'utf8')) as typeof state).bridges[0]!.ports.length, 2, 'the pending port stays saved');
      assert.equal((await curl(sock, 'DELETE', '/v1/bridges/br0/ports/sk3')).status, 204);
      await health();
    } finally {
      await daemon?.stop();
      await lab.close();
    }
  },
);
