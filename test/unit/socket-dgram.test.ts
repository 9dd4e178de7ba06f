// `socket` ports in `dgram` mode, without root: real AF_UNIX datagram sockets in a temporary directory. The
// emulator's side ("QEMU": bound at QPATH, sending to the port's path) is the native UnixDgram itself, or a
// python3 child with a blocking socket where a sender must wait for a full queue (the burst).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createServer } from 'node:net';
import { native, type UnixDgram } from '../../src/native/index.js';
import { openDgramSocketPort } from '../../src/ports/socket-dgram.js';
import { MAX_FRAME, type SocketEvents } from '../../src/ports/socket.js';

const LOADER = new URL('../../src/native/index.js', import.meta.url).href;

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tapwire-dgram-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

let serial = 0;
function socketPath(tag: string): string {
  return join(dir, `${tag}${serial++}.sock`);
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** frameOf builds an Ethernet frame of `length` bytes whose bytes depend on `seed`. */
function frameOf(length: number, seed: number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (i * 7 + seed * 13) & 0xff;
  f.set([0x52, 0x54, 0, 0x12, 0x34, seed & 0xff], 0);
  f.set([0x52, 0x54, 0, 0xab, 0xcd, 0xef], 6);
  f.set([0x08, 0x00], 12);
  return f;
}

/** Recorder is a SocketEvents that keeps copies of everything the port reports. */
class Recorder implements SocketEvents {
  frames: Uint8Array[] = [];
  bad: number[] = [];
  peers: boolean[] = [];
  frame = (f: Uint8Array): void => {
    this.frames.push(Uint8Array.from(f));
  };
  badFraming = (length: number): void => {
    this.bad.push(length);
  };
  peer = (connected: boolean): void => {
    this.peers.push(connected);
  };
}

/** Qemu is the emulator's end: a UnixDgram bound at its own path, keeping copies of what it receives. */
class Qemu {
  readonly sock: UnixDgram;
  readonly frames: Uint8Array[] = [];
  constructor(readonly path: string) {
    this.sock = new (native().UnixDgram)({ path }, (count) => {
      const buf = new Uint8Array(this.sock.rxBuffer);
      for (let i = 0; i < count; i++) {
        const off = this.sock.rxOffsets[i]!;
        this.frames.push(buf.slice(off, off + this.sock.rxLengths[i]!));
      }
    });
  }
  close(unlink: boolean): void {
    this.sock.close();
    if (unlink) unlinkSync(this.path);
  }
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

test('frames cross both ways byte for byte; the peer is learned from the first datagram', async () => {
  const dpath = socketPath('d');
  const ev = new Recorder();
  const uid = process.getuid!();
  const gid = process.getgid!();
  const port = await openDgramSocketPort({ name: 'vm0', path: dpath, mode: 'dgram', uid, gid }, ev);
  const qemu = new Qemu(socketPath('q'));
  try {
    const st = lstatSync(dpath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.uid, uid);
    assert.equal(st.gid, gid);
    assert.equal(port.path, dpath);
    assert.equal(port.connected, false);
    assert.equal(port.send(frameOf(60, 1)), 'no_peer');
    assert.deepEqual(ev.peers, []);

    const up = [frameOf(60, 2), frameOf(1514, 3), frameOf(MAX_FRAME, 4)];
    for (const f of up) assert.equal(qemu.sock.sendTo(dpath, f), 0);
    await waitFor('3 frames at the port', () => ev.frames.length === 3);
    assert.deepEqual(ev.frames, up);
    assert.deepEqual(ev.peers, [true]);
    assert.deepEqual(ev.bad, []);
    assert.equal(port.connected, true);

    const down = [frameOf(64, 5), frameOf(9000, 6), frameOf(MAX_FRAME, 7)];
    for (const f of down) assert.equal(port.send(f), 'sent');
    await waitFor('3 frames at QEMU', () => qemu.frames.length === 3);
    assert.deepEqual(qemu.frames, down);
    // QEMU sees the port's own path as the sender: the daemon answers from its bound address.
    assert.equal(qemu.sock.peer, dpath);

    // More datagrams from the same peer are no news.
    assert.equal(qemu.sock.sendTo(dpath, frameOf(60, 8)), 0);
    await waitFor('4th frame', () => ev.frames.length === 4);
    assert.deepEqual(ev.peers, [true]);
  } finally {
    qemu.close(true);
    port.close();
  }
});

test('runts and datagrams longer than the largest frame are bad framing, not frames', async () => {
  const dpath = socketPath('d');
  const ev = new Recorder();
  const port = await openDgramSocketPort({ name: 'vm0', path: dpath, mode: 'dgram' }, ev);
  const qemu = new Qemu(socketPath('q'));
  try {
    const good = frameOf(100, 9);
    assert.equal(qemu.sock.sendTo(dpath, new Uint8Array(10)), 0);
    assert.equal(qemu.sock.sendTo(dpath, new Uint8Array(0)), 0);
    assert.equal(qemu.sock.sendTo(dpath, new Uint8Array(13).fill(0xaa)), 0);
    assert.equal(qemu.sock.sendTo(dpath, frameOf(MAX_FRAME + 1, 2)), 0);
    assert.equal(qemu.sock.sendTo(dpath, frameOf(70000, 3)), 0);
    assert.equal(qemu.sock.sendTo(dpath, good), 0);
    await waitFor('the good frame', () => ev.frames.length === 1);
    assert.deepEqual(ev.bad, [10, 0, 13, MAX_FRAME + 1, 70000]);
    assert.deepEqual(ev.frames, [good]);
    // A bad datagram still tells who the peer is.
    assert.deepEqual(ev.peers, [true]);
  } finally {
    qemu.close(true);
    port.close();
  }
});

test('the native batch flags a truncated datagram and keeps its real length', async () => {
  const dpath = socketPath('d');
  const seen: Array<{ length: number; truncated: number }> = [];
  const sock: UnixDgram = new (native().UnixDgram)({ path: dpath }, (count, _peerChanged, errno) => {
    assert.equal(errno, 0);
    for (let i = 0; i < count; i++) seen.push({ length: sock.rxLengths[i]!, truncated: sock.rxTruncated[i]! });
  });
  const qemu = new Qemu(socketPath('q'));
  try {
    assert.equal(sock.maxFrame, MAX_FRAME);
    assert.equal(qemu.sock.sendTo(dpath, new Uint8Array(MAX_FRAME)), 0);
    assert.equal(qemu.sock.sendTo(dpath, new Uint8Array(MAX_FRAME + 1)), 0);
    assert.equal(qemu.sock.sendTo(dpath, new Uint8Array(200000)), 0);
    await waitFor('3 datagrams', () => seen.length === 3);
    assert.deepEqual(seen, [
      { length: MAX_FRAME, truncated: 0 },
      { length: MAX_FRAME + 1, truncated: 1 },
      { length: 200000, truncated: 1 },
    ]);
  } finally {
    qemu.close(true);
    sock.close();
    unlinkSync(dpath);
  }
});

test('a peer that went away is forgotten (ECONNREFUSED, ENOENT) and the next one is learned', async () => {
  const dpath = socketPath('d');
  const ev = new Recorder();
  const port = await openDgramSocketPort({ name: 'vm0', path: dpath, mode: 'dgram' }, ev);
  const q1 = new Qemu(socketPath('q'));
  const q2 = new Qemu(socketPath('q'));
  const q3 = new Qemu(socketPath('q'));
  try {
    assert.equal(q1.sock.sendTo(dpath, frameOf(60, 1)), 0);
    await waitFor('peer 1', () => ev.peers.length === 1);
    // Closed but its file left behind: the kernel refuses (ECONNREFUSED).
    q1.close(false);
    assert.equal(port.send(frameOf(60, 2)), 'no_peer');
    assert.deepEqual(ev.peers, [true, false]);
    assert.equal(port.connected, false);
    assert.equal(port.send(frameOf(60, 3)), 'no_peer');
    assert.deepEqual(ev.peers, [true, false]);

    assert.equal(q2.sock.sendTo(dpath, frameOf(60, 4)), 0);
    await waitFor('peer 2', () => ev.peers.length === 3);
    assert.equal(port.connected, true);
    assert.equal(port.send(frameOf(60, 5)), 'sent');
    await waitFor('q2 receives', () => q2.frames.length === 1);

    // Another emulator sends: replies go to it from now on.
    assert.equal(q3.sock.sendTo(dpath, frameOf(60, 6)), 0);
    await waitFor('peer 3', () => ev.peers.length === 4);
    assert.deepEqual(ev.peers, [true, false, true, true]);
    assert.equal(port.send(frameOf(60, 7)), 'sent');
    await waitFor('q3 receives', () => q3.frames.length === 1);
    assert.equal(q2.frames.length, 1);

    // Gone with its file: ENOENT.
    q3.close(true);
    assert.equal(port.send(frameOf(60, 8)), 'no_peer');
    assert.deepEqual(ev.peers, [true, false, true, true, false]);
    assert.equal(port.connected, false);
  } finally {
    q2.close(true);
    unlinkSync(q1.path);
    port.close();
  }
});

test('a burst of 2000 datagrams arrives whole, in order, in batches', async (t) => {
  const dpath = socketPath('d');
  const qpath = socketPath('q');
  const total = 2000;
  const received: number[] = [];
  let batches = 0;
  let bad = 0;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const sock: UnixDgram = new (native().UnixDgram)({ path: dpath }, (count, _changed, errno) => {
    assert.equal(errno, 0);
    batches++;
    const view = new DataView(sock.rxBuffer);
    for (let i = 0; i < count; i++) {
      if (sock.rxLengths[i] !== 60 || sock.rxTruncated[i] !== 0) bad++;
      else received.push(view.getUint32(sock.rxOffsets[i]! + 14));
    }
    // A busy data plane: 1 ms per batch, so the sender refills the queue meanwhile (whatever the machine's load).
    Atomics.wait(nap, 0, 0, 1);
  });
  try {
    // A blocking sender waits while the port's queue is full, as QEMU does, so nothing may be lost.
    const script = [
      'import socket, struct, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'for i in range(int(sys.argv[3])):',
      "    s.sendto(bytes(14) + struct.pack('>I', i) + bytes(42), sys.argv[2])",
    ].join('\n');
    const child = spawn('python3', ['-c', script, qpath, dpath, String(total)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('python3 sender timed out'));
      }, 10000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, stderr);
    await waitFor(`${total} datagrams`, () => received.length + bad >= total);
    assert.equal(bad, 0);
    assert.equal(received.length, total);
    assert.deepEqual(
      received,
      Array.from({ length: total }, (_, i) => i),
    );
    assert.ok(batches < total, `${batches} batches for ${total} datagrams`);
    t.diagnostic(`${total} datagrams in ${batches} batches`);
    assert.equal(sock.peer, qpath);
  } finally {
    sock.close();
    unlinkSync(dpath);
    rmSync(qpath, { force: true });
  }
});

test('what is queued when the loop wakes up comes in one batch, one JS call', async () => {
  const dpath = socketPath('d');
  const calls: number[] = [];
  const got: Uint8Array[] = [];
  const sock: UnixDgram = new (native().UnixDgram)({ path: dpath, batch: 4096 }, (count, _changed, errno) => {
    assert.equal(errno, 0);
    calls.push(count);
    const buf = new Uint8Array(sock.rxBuffer);
    for (let i = 0; i < count; i++) got.push(buf.slice(sock.rxOffsets[i], sock.rxOffsets[i]! + sock.rxLengths[i]!));
  });
  const qemu = new Qemu(socketPath('q'));
  try {
    // Synchronously, so the loop cannot read in between: send until the queue is full (net.unix.max_dgram_qlen).
    let queued = 0;
    for (;;) {
      const rc = qemu.sock.sendTo(dpath, frameOf(60, queued));
      if (rc === constants.errno.EAGAIN) break;
      assert.equal(rc, 0);
      queued++;
      assert.ok(queued < 100000, 'the queue never filled');
    }
    assert.ok(queued > 1);
    await waitFor(`${queued} datagrams`, () => got.length === queued);
    assert.deepEqual(calls, queued <= sock.batch ? [queued] : calls);
    assert.ok(calls.length <= Math.ceil(queued / sock.batch) + 1);
    assert.deepEqual(
      got,
      Array.from({ length: queued }, (_, i) => frameOf(60, i)),
    );
  } finally {
    qemu.close(true);
    sock.close();
    unlinkSync(dpath);
  }
});

test('close() frees the fd, removes the file, and is safe twice', async () => {
  const dpath = socketPath('d');
  const ev = new Recorder();
  const before = fdCount();
  const port = await openDgramSocketPort({ name: 'vm0', path: dpath, mode: 'dgram' }, ev);
  assert.equal(fdCount(), before + 1);
  assert.ok(existsSync(dpath));
  port.close();
  assert.equal(fdCount(), before);
  assert.equal(existsSync(dpath), false);
  port.close();
  assert.equal(port.send(frameOf(60, 1)), 'no_peer');
  assert.equal(port.connected, false);

  const sock: UnixDgram = new (native().UnixDgram)({ path: dpath }, () => undefined);
  // Non-blocking and close-on-exec (fdinfo flags are octal).
  const flags = parseInt(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${sock.fd}`, 'utf8'))![1]!, 8);
  assert.equal(flags & 0o4000, 0o4000);
  assert.equal(flags & 0o2000000, 0o2000000);
  sock.close();
  sock.close();
  assert.equal(sock.send(frameOf(60, 1)), constants.errno.EBADF);
  assert.equal(fdCount(), before);
  // The native close never unlinks: that is the port's job.
  assert.ok(lstatSync(dpath).isSocket());
  unlinkSync(dpath);
});

test('a stale socket file is replaced; any other file is refused and left alone', async () => {
  const dpath = socketPath('d');
  const stale: UnixDgram = new (native().UnixDgram)({ path: dpath }, () => undefined);
  stale.close();
  assert.ok(lstatSync(dpath).isSocket());
  const port = await openDgramSocketPort({ name: 'vm0', path: dpath, mode: 'dgram' }, new Recorder());
  port.close();

  const file = socketPath('f');
  writeFileSync(file, 'not a socket');
  await assert.rejects(openDgramSocketPort({ name: 'vm0', path: file, mode: 'dgram' }, new Recorder()), { code: 'EADDRINUSE', syscall: 'bind' });
  assert.ok(lstatSync(file).isFile());
});

test('a socket something is bound to or listens on is refused with EADDRINUSE and left working', async () => {
  const dpath = socketPath('live');
  let got = 0;
  const live: UnixDgram = new (native().UnixDgram)({ path: dpath }, (count: number) => (got += count));
  try {
    const opened = await openDgramSocketPort({ name: 'vm0', path: dpath, mode: 'dgram' }, new Recorder()).then(
      (p) => (p.close(), 'opened'),
      (e: NodeJS.ErrnoException) => e.code,
    );
    assert.equal(opened, 'EADDRINUSE');
    // The bound socket still has its file: a datagram sent to the path reaches it.
    const peer: UnixDgram = new (native().UnixDgram)({ path: socketPath('p') }, () => undefined);
    try {
      assert.equal(peer.sendTo(dpath, frameOf(60, 3)), 0);
      await waitFor('the datagram at the live socket', () => got === 1);
    } finally {
      peer.close();
    }
  } finally {
    live.close();
  }
  const spath = socketPath('stream');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(spath, resolve));
  try {
    const opened = await openDgramSocketPort({ name: 'vm0', path: spath, mode: 'dgram' }, new Recorder()).then(
      (p) => (p.close(), 'opened'),
      (e: NodeJS.ErrnoException) => e.code,
    );
    assert.equal(opened, 'EADDRINUSE');
    assert.ok(lstatSync(spath).isSocket());
  } finally {
    server.close();
  }
});

test('UnixDgram refuses bad arguments and reports kernel errors by errno name', () => {
  const addon = native();
  assert.throws(() => new addon.UnixDgram({ path: join(dir, 'x'.repeat(120)) }, () => undefined), TypeError);
  assert.throws(() => new addon.UnixDgram({ path: socketPath('d'), batch: 0 }, () => undefined), TypeError);
  assert.throws(() => new addon.UnixDgram({ path: join(dir, 'missing', 'd.sock') }, () => undefined), { code: 'ENOENT', syscall: 'bind' });
  const path = socketPath('d');
  const sock: UnixDgram = new (native().UnixDgram)({ path, mode: 0o600 }, () => undefined);
  try {
    assert.equal(lstatSync(path).mode & 0o777, 0o600);
    assert.equal(sock.send(frameOf(60, 1)), constants.errno.ENOTCONN);
    assert.equal(sock.peer, null);
    assert.equal(sock.sendTo(join(dir, 'nobody.sock'), frameOf(60, 1)), constants.errno.ENOENT);
    assert.throws(() => sock.sendTo('', frameOf(60, 1)), TypeError);
  } finally {
    sock.close();
  }
});

test('a thread that exits with its UnixDgram open does not abort the process', async () => {
  const path = socketPath('w');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.loader).then(({ native }) => {
      const sock = new (native().UnixDgram)({ path: workerData.path }, () => undefined);
      parentPort.postMessage(require('node:fs').readlinkSync('/proc/self/fd/' + sock.fd));
      // The poll keeps this thread's loop alive: only process.exit ends it, with the socket still open.
      setTimeout(() => process.exit(0), 20);
    });`;
  const worker = new Worker(code, { eval: true, workerData: { loader: LOADER, path } });
  let link = '';
  worker.on('message', (m: string) => (link = m));
  const exitCode = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker did not exit')), 5000);
    worker.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
    worker.once('error', reject);
  });
  assert.equal(exitCode, 0);
  assert.match(link, /^socket:\[\d+\]$/);
  // The cleanup hook closed the worker's socket (the process lives on, so a leak would show).
  const open = readdirSync('/proc/self/fd').filter((n) => {
    try {
      return readlinkSync(`/proc/self/fd/${n}`) === link;
    } catch {
      return false;
    }
  });
  assert.deepEqual(open, []);
  unlinkSync(path);
});
