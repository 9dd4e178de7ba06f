import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The tests run compiled, from dist/test/unit.
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const UNIT = join(REPO, 'systemd', 'tapwired.service');
const SYSUSERS = join(REPO, 'systemd', 'tapwire.sysusers.conf');
const MAIN = join(REPO, 'dist', 'src', 'tapwired.js');

// unitSettings returns each `Key=value` of a unit file, by section, values in order (comments skipped).
function unitSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not a setting: ${line}`);
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

// run starts `cmd` with an argument array (no shell) and collects the result; a missing program resolves
// with `missing: true`.
function run(cmd: string, args: string[], cwd?: string): Promise<{ missing: boolean; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') resolvePromise({ missing: true, code: null, stdout, stderr });
      else reject(e);
    });
    child.on('close', (code) => resolvePromise({ missing: false, code, stdout, stderr }));
  });
}

// needTool skips the test (or fails it under CI=true) when a program is missing.
function needTool(t: TestContext, name: string, pkg: string): void {
  const reason = `${name} is not installed (Debian package ${pkg})`;
  if (process.env.CI === 'true') assert.fail(`${reason}; CI must install it`);
  t.skip(reason);
}

// testableCopy writes the unit into a temporary directory with ExecStart pointing at a small script that
// runs the compiled daemon (verify requires an existing executable) and returns the copy's path.
function testableCopy(dir: string): string {
  const script = join(dir, 'tapwired');
  const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  writeFileSync(script, `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(MAIN)} "$@"\n`);
  chmodSync(script, 0o755);
  const text = readFileSync(UNIT, 'utf8');
  assert.match(text, /^ExecStart=\/usr\/bin\/tapwired$/m);
  const unitDir = join(dir, 'units');
  mkdirSync(unitDir);
  const copy = join(unitDir, 'tapwired.service');
  writeFileSync(copy, text.replace(/^ExecStart=\/usr\/bin\/tapwired$/m, `ExecStart=${script}`));
  return copy;
}

test('systemd: the unit runs tapwired as user tapwire with only the privileges it needs', () => {
  const u = unitSettings(readFileSync(UNIT, 'utf8'));
  const one = (key: string): string | undefined => {
    const v = u.get(key);
    assert.ok(v === undefined || v.length === 1, `${key} is set more than once`);
    return v?.[0];
  };
  const words = (key: string): string[] => (u.get(key) ?? []).join(' ').split(/\s+/).filter(Boolean).sort();

  assert.equal(one('Service.Type'), 'simple');
  assert.equal(one('Service.ExecStart'), '/usr/bin/tapwired');
  assert.equal(one('Service.User'), 'tapwire');
  assert.equal(one('Service.Group'), 'tapwire');
  assert.equal(one('Service.DynamicUser'), undefined, 'persistent TAPs need a stable owner uid');
  assert.equal(one('Service.Restart'), 'on-failure');
  assert.equal(one('Service.EnvironmentFile'), '-/etc/default/tapwired');

  // CAP_SYS_ADMIN is there for setns(CLONE_NEWNET) only, CAP_CHOWN for socket port files: see the unit's comment.
  const caps = ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'];
  assert.deepEqual(words('Service.AmbientCapabilities'), caps);
  assert.deepEqual(words('Service.CapabilityBoundingSet'), caps);
  assert.equal(one('Service.NoNewPrivileges'), 'yes');

  assert.equal(one('Service.ProtectSystem'), 'strict');
  assert.equal(one('Service.ProtectHome'), 'yes');
  assert.equal(one('Service.PrivateTmp'), 'yes');
  assert.equal(one('Service.RuntimeDirectory'), 'tapwire');
  assert.equal(one('Service.StateDirectory'), 'tapwire');
  assert.match(one('Service.Environment') ?? '', /(^| )TAPWIRE_SOCKET=\/run\/tapwire\/tapwired\.sock( |$)/);
  assert.match(one('Service.Environment') ?? '', /(^| )TAPWIRE_STATE_DIR=\/var\/lib\/tapwire( |$)/);

  assert.equal(one('Service.DevicePolicy'), 'closed');
  assert.deepEqual(u.get('Service.DeviceAllow'), ['/dev/net/tun rw']);
  assert.deepEqual(words('Service.RestrictAddressFamilies'), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET', 'AF_UNIX']);
  assert.equal(one('Service.RestrictNamespaces'), 'net', 'network namespaces only: the daemon enters /run/netns/NAME');
  const filter = words('Service.SystemCallFilter');
  for (const call of ['@system-service', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'setns']) assert.ok(filter.includes(call), call);

  // These would break the daemon (V8's JIT, namespaces, the host's network): see the unit's comments.
  for (const key of ['MemoryDenyWriteExecute', 'PrivateNetwork', 'PrivateUsers', 'PrivateDevices']) {
    assert.equal(one(`Service.${key}`), undefined, `${key} must stay unset`);
  }
  assert.deepEqual(u.get('Install.WantedBy'), ['multi-user.target']);
});

test('systemd: systemd-analyze verify accepts the unit without warnings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-unit-'));
  try {
    const copy = testableCopy(dir);
    const r = await run('systemd-analyze', ['verify', copy]);
    if (r.missing) return needTool(t, 'systemd-analyze', 'systemd');
    assert.equal(r.code, 0, `systemd-analyze verify exited ${r.code}:\n${r.stderr}${r.stdout}`);
    const aboutUnit = r.stderr.split('\n').filter((l) => l.includes('tapwired') || l.includes(dir));
    assert.deepEqual(aboutUnit, [], `systemd-analyze verify warned:\n${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('systemd: systemd-analyze security rates the unit 3.0 or better', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-unit-'));
  try {
    const copy = testableCopy(dir);
    // The threshold is in tenths (30 = an exposure of 3.0 out of 10); systemd 252 rates the unit 2.8.
    const r = await run('systemd-analyze', ['security', '--offline=yes', '--threshold=30', '--no-pager', copy]);
    if (r.missing) return needTool(t, 'systemd-analyze', 'systemd');
    if (/unrecognized option/.test(r.stderr)) {
      t.skip(`this systemd-analyze cannot rate unit files offline (systemd 250 or later can): ${r.stderr.trim()}`);
      return;
    }
    assert.equal(r.code, 0, `exposure above 3.0:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('systemd: the sysusers.d file creates user and group tapwire', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tapwire-sysusers-'));
  try {
    mkdirSync(join(root, 'etc'));
    const r = await run('systemd-sysusers', [`--root=${root}`, SYSUSERS]);
    if (r.missing) return needTool(t, 'systemd-sysusers', 'systemd');
    assert.equal(r.code, 0, `systemd-sysusers exited ${r.code}:\n${r.stderr}${r.stdout}`);
    assert.equal(r.stderr.split('\n').filter((l) => /warn|ignor|invalid|fail/i.test(l)).length, 0, r.stderr);
    const user = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('tapwire:'));
    assert.ok(user, 'no user tapwire');
    const [, , uid, gid, , home, shell] = user.split(':');
    assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system uid: ${uid}`);
    assert.equal(home, '/var/lib/tapwire');
    assert.match(shell ?? '', /nologin$/);
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('tapwire:'));
    assert.equal(group?.split(':')[2], gid, "group tapwire is the user's primary group");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
