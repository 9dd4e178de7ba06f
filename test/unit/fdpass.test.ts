// fd passing for `vm` ports, without root: an FdServer in this process hands out fds of plain files in a
// temporary directory. requestFd blocks its thread, so a client in this process runs on a worker thread (the
// fd it gets is the process's, so the test can use it); `tapwire exec` runs as a child process, as a user
// runs it, and its own child writes to fd 3.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { execWithFd } from '../../src/cli/exec.js';
import { CliError } from '../../src/cli/client.js';
import { FdServer, type FdResolver } from '../../src/ports/fd-server.js';
import { native, type PeerCred } from '../../src/native/index.js';

const LOADER = new URL('../../src/native/index.js', import.meta.url).href;
const EXEC = new URL('../../src/cli/exec.js', import.meta.url).href;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-fdpass-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let serial = 0;
function socketPath(): string {
  return join(dir, `fd${serial++}.sock`);
}

interface Received {
  fd: number | null;
  reply: string;
}

// requestInWorker runs the blocking native().requestFd on a worker thread, so this thread's FdServer can answer.
function requestInWorker(path: string, request: string, timeoutMs = 3000): Promise<Received> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.loader).then(({ native }) => {
      try {
        const r = native().requestFd(workerData.path, Buffer.from(workerData.request), workerData.timeoutMs);
        parentPort.postMessage({ fd: r.fd, reply: r.reply.toString('utf8') });
      } catch (e) {
        parentPort.postMessage({ error: { code: e.code, message: e.message } });
      }
    });`;
  const worker = new Worker(code, { eval: true, workerData: { loader: LOADER, path, request, timeoutMs } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: Received & { error?: { code: string; message: string } }) => {
      if (m.error !== undefined) reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else resolve({ fd: m.fd, reply: m.reply });
    });
    worker.once('error', reject);
  });
}

// rawExchange sends `bytes` with Node's net (optionally without ending the stream) and collects the reply.
function rawExchange(path: string, bytes: string | Buffer, end = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const chunks: Buffer[] = [];
    s.on('connect', () => {
      if (end) s.end(bytes);
      else s.write(bytes);
    });
    s.on('data', (c: Buffer) => chunks.push(c));
    // The server may close with our unread bytes still queued (ECONNRESET): the reply is read first.
    s.on('error', (e: NodeJS.ErrnoException) => (chunks.length > 0 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(e)));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

// fileGrant is a resolver that grants a fresh fd of `file` and counts what it was asked and what it closed.
function fileGrant(file: string) {
  const seen: { port: string; cred: PeerCred }[] = [];
  let closed = 0;
  const resolver: FdResolver = (port, cred) => {
    seen.push({ port, cred });
    if (port !== 'vm1') return { error: `no vm port named ${port}` };
    const fd = openSync(file, 'a+');
    return {
      fd,
      info: { ifname: 'tw-vm1' },
      close: () => {
        closed++;
        closeSync(fd);
      },
    };
  };
  return { resolver, seen, closedCount: () => closed };
}

// openFiles lists what this process's fds refer to ("socket:[ino]", a path, ...).
function openFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // Closed while listing (the one readdir used, for one).
    }
  }
  return out;
}

function parse(reply: string): Record<string, unknown> {
  assert.ok(reply.endsWith('\n'), `reply is one line: ${JSON.stringify(reply)}`);
  return JSON.parse(reply) as Record<string, unknown>;
}

test('the granted fd arrives and is the same open file; the daemon closes its copy', async () => {
  const file = join(dir, 'granted.txt');
  writeFileSync(file, 'from the daemon\n');
  const g = fileGrant(file);
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver });
  try {
    const r = await requestInWorker(server.path, '{"port":"vm1"}\n');
    assert.notEqual(r.fd, null);
    const fd = r.fd!;
    try {
      assert.deepEqual(parse(r.reply), { ifname: 'tw-vm1', ok: true, port: 'vm1' });
      assert.equal(fstatSync(fd).ino, statSync(file).ino);
      // Received close-on-exec: only a child given it explicitly (stdio index 3) inherits it.
      const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      assert.ok(flags !== undefined && (parseInt(flags, 8) & 0o2000000) !== 0, `O_CLOEXEC in flags ${flags}`);
      writeSync(fd, 'through the passed fd\n');
      assert.equal(readFileSync(file, 'utf8'), 'from the daemon\nthrough the passed fd\n');
      const buf = Buffer.alloc(64);
      const n = readSync(fd, buf, 0, buf.length, 0);
      assert.equal(buf.subarray(0, n).toString(), 'from the daemon\nthrough the passed fd\n');
    } finally {
      closeSync(fd);
    }
    assert.equal(g.closedCount(), 1, 'the grant was closed once');
    assert.equal(server.counters.granted, 1);
  } finally {
    server.close();
  }
});

test('the resolver gets the peer credentials of this process: pid, uid, gid and groups', async () => {
  const g = fileGrant(join(dir, 'cred.txt'));
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver });
  try {
    const r = await requestInWorker(server.path, '{"port":"vm1"}\n');
    if (r.fd !== null) closeSync(r.fd);
    assert.equal(g.seen.length, 1);
    const { port, cred } = g.seen[0]!;
    assert.equal(port, 'vm1');
    assert.equal(cred.pid, process.pid);
    assert.equal(cred.uid, process.getuid!());
    assert.equal(cred.gid, process.getgid!());
    // SO_PEERGROUPS is in every kernel this runs on (4.13+): the supplementary groups are this process's
    // (process.getgroups() adds the effective gid to them).
    assert.ok(Array.isArray(cred.groups));
    const sorted = (a: number[]) => [...new Set(a)].sort((x, y) => x - y);
    assert.deepEqual(sorted([...cred.groups, cred.gid]), sorted(process.getgroups!()));
  } finally {
    server.close();
  }
});

test('a refusal comes back as the error text, with no fd, and nothing is opened', async () => {
  const g = fileGrant(join(dir, 'refused.txt'));
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver });
  try {
    const r = await requestInWorker(server.path, '{"port":"vm9"}\n');
    assert.equal(r.fd, null);
    assert.deepEqual(parse(r.reply), { ok: false, error: 'no vm port named vm9' });
    assert.equal(g.closedCount(), 0);
    assert.equal(server.counters.refused, 1);
  } finally {
    server.close();
  }
});

test('bad, oversized, silent and unknown-field requests get an error line and the server keeps serving', async () => {
  const file = join(dir, 'bad.txt');
  const g = fileGrant(file);
  const before = openFiles();
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver, maxRequestBytes: 256, requestTimeoutMs: 300 });
  try {
    const garbage = parse(await rawExchange(server.path, 'not json at all\n'));
    assert.equal(garbage.ok, false);
    assert.match(String(garbage.error), /not a JSON line/);

    const huge = parse(await rawExchange(server.path, Buffer.alloc(8192, 0x41)));
    assert.equal(huge.ok, false);
    assert.match(String(huge.error), /over 256 bytes/);

    const unknown = parse(await rawExchange(server.path, '{"port":"vm1","uid":0}\n'));
    assert.match(String(unknown.error), /unknown field "uid"/);

    const badName = parse(await rawExchange(server.path, '{"port":"../../etc/passwd"}\n'));
    assert.match(String(badName.error), /"port" must be a port name/);

    const notObject = parse(await rawExchange(server.path, '["vm1"]\n'));
    assert.match(String(notObject.error), /expected a JSON object/);

    const empty = parse(await rawExchange(server.path, ''));
    assert.match(String(empty.error), /not a JSON line/);

    const started = Date.now();
    const silent = parse(await rawExchange(server.path, '{"port":', false));
    assert.match(String(silent.error), /no request line within 300 ms/);
    assert.ok(Date.now() - started >= 250);

    // The same too-long request through the real client: an error, no fd.
    const viaClient = await requestInWorker(server.path, `{"port":"${'x'.repeat(300)}"}\n`);
    assert.equal(viaClient.fd, null);
    assert.match(String(parse(viaClient.reply).error), /over 256 bytes/);

    assert.equal(g.seen.length, 0, 'the resolver never saw a bad request');
    assert.equal(server.counters.badRequest, 7);
    assert.equal(server.counters.timedOut, 1);

    const good = await requestInWorker(server.path, '{"port":"vm1"}');
    assert.notEqual(good.fd, null, 'a request ended by end of stream (no newline) is served');
    closeSync(good.fd!);
    assert.equal(parse(good.reply).ok, true);
    // The server forgets a connection at its socket's 'close' event, which may come after the client has
    // its reply: wait for it (bounded) rather than race it.
    for (let i = 0; i < 100 && server.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.connections, 0);
  } finally {
    server.close();
  }
  // Every connection, the listening socket and every granted copy are closed again.
  await new Promise((r) => setTimeout(r, 50));
  const left = openFiles().filter((t) => !before.includes(t) && (t.startsWith('socket:') || t === file));
  assert.deepEqual(left, []);
});

test('over maxConnections, a client is told "busy" before it is read, and gets no fd', async () => {
  const g = fileGrant(join(dir, 'busy.txt'));
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver, maxConnections: 0 });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await requestInWorker(server.path, '{"port":"vm1"}\n');
      assert.equal(r.fd, null);
      assert.match(String(parse(r.reply).error), /^busy/);
    }
    assert.equal(server.counters.busy, 3);
    assert.equal(g.seen.length, 0);
  } finally {
    server.close();
  }
});

test('a resolver that throws or answers nonsense gets "internal error"; an async resolver works', async () => {
  const file = join(dir, 'async.txt');
  let calls = 0;
  const server = await FdServer.listen({
    path: socketPath(),
    resolver: async (port) => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      if (port === 'boom') throw new Error('resolver bug');
      if (port === 'odd') return { fd: -1 } as never;
      const fd = openSync(file, 'w');
      return { fd, close: () => closeSync(fd) };
    },
  });
  try {
    const boom = await requestInWorker(server.path, '{"port":"boom"}\n');
    assert.equal(boom.fd, null);
    assert.deepEqual(parse(boom.reply), { ok: false, error: 'internal error' });
    const odd = await requestInWorker(server.path, '{"port":"odd"}\n');
    assert.equal(odd.fd, null);
    assert.equal(parse(odd.reply).error, 'internal error');
    const fine = await requestInWorker(server.path, '{"port":"vm2"}\n');
    assert.notEqual(fine.fd, null);
    writeSync(fine.fd!, 'late but fine');
    closeSync(fine.fd!);
    assert.equal(readFileSync(file, 'utf8'), 'late but fine');
    assert.equal(calls, 3);
    assert.equal(server.counters.failed, 2);
  } finally {
    server.close();
  }
});

test('the socket file: mode 0660, a stale one replaced, a live one or a non-socket refused, removed on close', async () => {
  const path = socketPath();
  // A stale socket: bound and closed by a listener that never removed its file.
  const stale = new (native().UnixListener)({ path, mode: 0o600 }, () => {});
  stale.close();
  stale.close();
  assert.ok(lstatSync(path).isSocket());
  const server = await FdServer.listen({ path, resolver: () => ({ error: 'no' }) });
  assert.equal(lstatSync(path).mode & 0o7777, 0o660);
  await assert.rejects(FdServer.listen({ path, resolver: () => ({ error: 'no' }) }), /already listening/);
  server.close();
  server.close();
  assert.equal(existsSync(path), false);

  const plain = join(dir, 'not-a-socket');
  writeFileSync(plain, 'keep me');
  await assert.rejects(FdServer.listen({ path: plain, resolver: () => ({ error: 'no' }) }), /not a socket/);
  assert.equal(readFileSync(plain, 'utf8'), 'keep me');
});

test('requestFd gives up with ETIMEDOUT when the server never answers', async () => {
  const path = socketPath();
  const held: number[] = [];
  const listener = new (native().UnixListener)({ path, mode: 0o600 }, (fd) => held.push(fd));
  try {
    const started = Date.now();
    await assert.rejects(requestInWorker(path, '{"port":"vm1"}\n', 200), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
    const took = Date.now() - started;
    assert.ok(took >= 150 && took < 3000, `took ${took} ms`);
  } finally {
    for (const fd of held) native().closeFd(fd);
    listener.close();
    rmSync(path, { force: true });
  }
});

test('a server that hangs up without a word gives no fd and an empty reply', async () => {
  const path = socketPath();
  const listener = new (native().UnixListener)({ path, mode: 0o600 }, (fd) => native().closeFd(fd));
  try {
    const r = await requestInWorker(path, '{"port":"vm1"}\n');
    assert.deepEqual(r, { fd: null, reply: '' });
  } finally {
    listener.close();
    rmSync(path, { force: true });
  }
});

test('sendFd and peerCred report kernel refusals by errno name; bad arguments are TypeErrors', () => {
  const file = join(dir, 'plain.txt');
  writeFileSync(file, '');
  const fd = openSync(file, 'r');
  try {
    assert.throws(
      () => native().sendFd(fd, fd, Buffer.from('x')),
      (e: NodeJS.ErrnoException) => e.code === 'ENOTSOCK' && e.syscall === 'sendmsg(SCM_RIGHTS)',
    );
    assert.throws(
      () => native().peerCred(fd),
      (e: NodeJS.ErrnoException) => e.code === 'ENOTSOCK',
    );
    assert.throws(() => native().sendFd(fd, fd, new Uint8Array(0)), TypeError);
    assert.throws(() => native().requestFd(join(dir, 'x'.repeat(120)), Buffer.from('{}'), 100), TypeError);
    // bind() on an existing file fails with EADDRINUSE and leaves that file alone.
    assert.throws(
      () => new (native().UnixListener)({ path: file, mode: 0o660 }, () => {}),
      (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE' && e.syscall === 'bind',
    );
    assert.ok(lstatSync(file).isFile());
  } finally {
    closeSync(fd);
  }
});

// runExec runs execWithFd in a child process, as the `tapwire` CLI would, and returns its exit status.
function runExec(path: string, port: string, command: string[], onStdout?: (text: string, pid: number) => void, prefix: string[] = []) {
  const script = `
    import { execWithFd } from ${JSON.stringify(EXEC)};
    const [socketPath, port, ...command] = process.argv.slice(1);
    try {
      process.exitCode = await execWithFd({ socketPath, port, command });
    } catch (e) {
      process.stderr.write('tapwire: ' + e.message + '\\n');
      process.exitCode = 1;
    }`;
  const argv = [...prefix, process.execPath, '--input-type=module', '-e', script, path, port, ...command];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    onStdout?.(stdout, child.pid!);
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('execWithFd runs the command with the fd as its fd 3 and returns its exit code', async () => {
  const file = join(dir, 'exec.txt');
  writeFileSync(file, '');
  const g = fileGrant(file);
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver });
  try {
    const writer = "const fs = require('node:fs'); fs.writeSync(3, 'written to fd 3 by ' + process.argv[1] + '\\n'); process.exitCode = 7;";
    const r = await runExec(server.path, 'vm1', [process.execPath, '-e', writer, 'the emulator']);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 7);
    assert.equal(readFileSync(file, 'utf8'), 'written to fd 3 by the emulator\n');
    assert.equal(g.closedCount(), 1);
  } finally {
    server.close();
  }
});

test('execWithFd forwards SIGTERM and reports a killing signal as 128 + its number', async () => {
  const g = fileGrant(join(dir, 'signal.txt'));
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver });
  try {
    const waiter = "process.stdout.write('ready\\n'); setInterval(() => {}, 1000);";
    let sent = false;
    const r = await runExec(server.path, 'vm1', [process.execPath, '-e', waiter], (out, pid) => {
      if (!sent && out.includes('ready')) {
        sent = true;
        process.kill(pid, 'SIGTERM');
      }
    });
    assert.equal(r.signal, null, 'exec itself is not killed: it waits for its child');
    assert.equal(r.code, 128 + 15, r.stderr);

    const killer = "process.kill(process.pid, 'SIGKILL');";
    const k = await runExec(server.path, 'vm1', [process.execPath, '-e', killer]);
    assert.equal(k.code, 128 + 9);
  } finally {
    server.close();
  }
});

test('execWithFd fails clearly, without running the command, when tapwired refuses', async () => {
  const marker = join(dir, 'must-not-exist');
  const g = fileGrant(join(dir, 'refusal.txt'));
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver });
  try {
    const toucher = `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`;
    const r = await runExec(server.path, 'vm7', [process.execPath, '-e', toucher]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tapwired gave no fd for port "vm7": no vm port named vm7/);
    assert.equal(existsSync(marker), false);
  } finally {
    server.close();
  }
});

test('execWithFd fails clearly when the socket is missing, and when the command cannot start', async () => {
  const missing = join(dir, 'nobody-here.sock');
  await assert.rejects(
    execWithFd({ socketPath: missing, port: 'vm1', command: [process.execPath, '-e', ''] }),
    (e: unknown) => e instanceof CliError && e.code === 'ENOENT' && /no such socket; is tapwired running\?/.test(e.message) && e.message.includes(missing),
  );
  await assert.rejects(execWithFd({ socketPath: missing, port: 'vm1', command: [] }), /needs a command/);

  // The command cannot start: the error names it, and the fd is not left open here.
  const g = fileGrant(join(dir, 'nocmd.txt'));
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver });
  try {
    const r = await runExec(server.path, 'vm1', [join(dir, 'no-such-program')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot run ".*no-such-program": ENOENT/);
  } finally {
    server.close();
  }
});

const canSwitchUser = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');

test('an unprivileged user in the socket group gets the fd of a root-only file; its groups reach the resolver', { skip: canSwitchUser ? false : 'needs root and setpriv' }, async () => {
  const file = join(dir, 'root-only.txt');
  writeFileSync(file, '', { mode: 0o600 });
  chmodSync(dir, 0o711);
  const g = fileGrant(file);
  const server = await FdServer.listen({ path: socketPath(), resolver: g.resolver, gid: 4242 });
  try {
    assert.equal(lstatSync(server.path).gid, 4242);
    const asNobody = ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--groups=4343,4242', '--'];
    const writer = "require('node:fs').writeSync(3, 'uid ' + process.getuid() + ' was here\\n');";
    const r = await runExec(server.path, 'vm1', [process.execPath, '-e', writer], undefined, asNobody);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(readFileSync(file, 'utf8'), 'uid 65534 was here\n');
    const cred = g.seen[0]!.cred;
    assert.equal(cred.uid, 65534);
    assert.equal(cred.gid, 65534);
    assert.deepEqual(
      [...cred.groups!].sort((a, b) => a - b),
      [4242, 4343],
    );

    // Outside the socket's group, the socket file's mode keeps the user out before the resolver is asked.
    const outsider = ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--groups=4343', '--'];
    const denied = await runExec(server.path, 'vm1', [process.execPath, '-e', ''], undefined, outsider);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /permission denied/);
    assert.equal(g.seen.length, 1);
  } finally {
    server.close();
    chmodSync(dir, 0o700);
  }
});
