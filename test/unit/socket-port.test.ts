// Socket ports over a real unix stream socket (no root needed): QEMU's -netdev stream framing both ways,
// one peer at a time, GSO frames cut into segments on the way out, and a peer out of step cut off and
// counted. The data plane runs over fake devices for its other ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CounterBlock } from '../../src/dataplane/counters.js';
import { DataPlane } from '../../src/dataplane/dataplane.js';
import { FakeIo, FakePorts } from '../../src/ports/fake-port.js';
import { StreamDecoder, encodeFrame, MAX_FRAME, openSocketPort, type SocketEvents } from '../../src/ports/socket.js';
import { BROADCAST, emitEthernet } from '../../src/wire/ethernet.js';
import { internetChecksum } from '../../src/wire/checksum.js';
import { GSO, VNET_FLAG, VNET_HDR_LEN, emitVnetHeader } from '../../src/wire/virtio-net.js';

const GUEST = 0x52_54_00_00_00_01;
const HOST = 0x02_00_00_00_00_02;

function eth(dst: number, src: number, payload = 46): Uint8Array {
  return emitEthernet({ dst, src, etherType: 0x0800 }, new Uint8Array(payload).fill(0xab));
}

/** tsoFrame is a TCP/IPv4 frame of `payload` bytes behind a TSO virtio-net header (gso_size `mss`). */
function tsoFrame(dst: number, src: number, payload: number, mss: number): Uint8Array {
  const ip = new Uint8Array(20 + 20 + payload);
  ip[0] = 0x45;
  ip[2] = ip.length >> 8;
  ip[3] = ip.length & 0xff;
  ip[8] = 64;
  ip[9] = 6;
  ip.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  ip[32] = 0x50; // TCP data offset 5
  ip[33] = 0x18; // PSH ACK
  for (let i = 40; i < ip.length; i++) ip[i] = i & 0xff;
  const e = emitEthernet({ dst, src, etherType: 0x0800 }, ip);
  const out = new Uint8Array(VNET_HDR_LEN + e.length);
  out.set(e, VNET_HDR_LEN);
  emitVnetHeader({ flags: VNET_FLAG.NEEDS_CSUM, gsoType: GSO.TCPV4, hdrLen: 54, gsoSize: mss, csumStart: 34, csumOffset: 16, numBuffers: 0 }, out);
  return out;
}

function withVnet(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(VNET_HDR_LEN + frame.length);
  out.set(frame, VNET_HDR_LEN);
  return out;
}

/** Peer is a test client speaking the stream framing. */
class Peer {
  readonly frames: Uint8Array[] = [];
  private readonly decoder = new StreamDecoder();
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk, (f) => this.frames.push(Uint8Array.from(f)));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(path: string): Promise<Peer> {
    const s = connect(path);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new Peer(s);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** until waits (bounded) for a condition on what arrived. */
  async until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tw-sock-'));
  const counters = new CounterBlock();
  const taps = new FakePorts();
  let io!: FakeIo;
  const plane = new DataPlane({
    counters,
    io: (onBatch) => (io = new FakeIo(onBatch, 8, 70000, 64)),
    devices: taps,
    clock: () => 0,
  });
  plane.addBridge({ name: 'br0', agingSeconds: 300, fdbMax: 8192 });
  const host = plane.addPort('br0', { name: 'host', kind: 'tap', addresses: [], up: true });
  const path = join(dir, 'vm.sock');
  const sock = await plane.addPort('br0', { name: 'qemu', kind: 'socket', path, mode: 'stream' });
  return {
    plane,
    io,
    taps,
    counters,
    host,
    sock,
    path,
    cleanup: () => {
      plane.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('socket port: frames cross both ways in the 4-byte big-endian framing; up only with a peer', async () => {
  const t = await setup();
  try {
    assert.equal(t.sock.state, 'down', 'no peer yet');
    assert.equal(t.sock.path, t.path);
    assert.equal(statSync(t.path).mode & 0o777, 0o660);
    const peer = await Peer.connect(t.path);
    await waitFor(() => t.plane.listPorts('br0').find((p) => p.name === 'qemu')!.state === 'up', 'the port to be up');

    // From the peer: two frames in one write, the second split across two writes.
    const a = eth(BROADCAST, GUEST);
    const b = eth(HOST, GUEST, 100);
    const wire = Buffer.concat([encodeFrame(a), encodeFrame(b)]);
    peer.socket.write(wire.subarray(0, 70));
    await new Promise((r) => setTimeout(r, 20));
    peer.socket.write(wire.subarray(70));
    const hostFd = t.taps.fdOf('host');
    await waitFor(() => t.counters.readPort(t.sock.index).rxFrames === 2, 'two frames from the peer');
    const got = t.io.take(hostFd);
    assert.deepEqual(got, [withVnet(a), withVnet(b)], 'each frame reaches the TAP port behind a zero virtio-net header');

    // To the peer: a frame from the host (learned: the guest's MAC is on the socket port).
    const reply = eth(GUEST, HOST, 60);
    t.io.deliver(t.host.index, [withVnet(reply)]);
    await peer.until(() => peer.frames.length === 1, 'the reply');
    assert.deepEqual(peer.frames[0], reply);
    const c = t.counters.readPort(t.sock.index);
    assert.equal(c.txFrames, 1);
    assert.equal(c.txBytes, reply.length);

    peer.socket.destroy();
    await waitFor(() => t.plane.listPorts('br0').find((p) => p.name === 'qemu')!.state === 'down', 'the port to go down');
    t.io.deliver(t.host.index, [withVnet(eth(GUEST, HOST, 60))]);
    assert.equal(t.counters.readPort(t.sock.index).drops.port_down, 1, 'a frame for a port without its peer is counted');
  } finally {
    t.cleanup();
  }
});

test('socket port: a GSO frame leaves as checksummed segments; a new peer replaces the old one', async () => {
  const t = await setup();
  try {
    const old = await Peer.connect(t.path);
    const peer = await Peer.connect(t.path);
    await old.until(() => old.closed, 'the first peer to be replaced');
    peer.socket.write(encodeFrame(eth(BROADCAST, GUEST)));
    await waitFor(() => t.counters.readPort(t.sock.index).rxFrames === 1, 'the guest to be learned');
    t.io.deliver(t.host.index, [tsoFrame(GUEST, HOST, 3000, 1448)]);
    await peer.until(() => peer.frames.length === 3, 'three segments');
    const lengths = peer.frames.map((f) => f.length);
    assert.deepEqual(lengths, [14 + 40 + 1448, 14 + 40 + 1448, 14 + 40 + 104]);
    let seq = 0;
    for (const f of peer.frames) {
      assert.equal(internetChecksum(f, 14, 20), 0, 'the IPv4 header checksum verifies');
      const dv = new DataView(f.buffer, f.byteOffset);
      assert.equal(dv.getUint16(16), f.length - 14, 'each segment has its own total length');
      assert.equal(dv.getUint32(38), seq, 'sequence numbers follow the payload');
      seq += f.length - 54;
    }
    assert.equal(t.counters.readPort(t.sock.index).txFrames, 3);
  } finally {
    t.cleanup();
  }
});

test("socket port: a GSO frame that cannot be cut is dropped and counted by the segmenter's reason", async () => {
  const t = await setup();
  try {
    const peer = await Peer.connect(t.path);
    peer.socket.write(encodeFrame(eth(BROADCAST, GUEST)));
    await waitFor(() => t.counters.readPort(t.sock.index).rxFrames === 1, 'the guest to be learned');
    const mismatch = tsoFrame(GUEST, HOST, 3000, 1448);
    mismatch[VNET_HDR_LEN + 14 + 9] = 17; // the header says TCP segmentation, the packet is UDP
    const ufo = tsoFrame(GUEST, HOST, 3000, 1448);
    ufo[1] = GSO.UDP; // legacy UFO would need IP fragmentation
    t.io.deliver(t.host.index, [mismatch, ufo]);
    const c = t.counters.readPort(t.sock.index);
    assert.equal(c.drops.bad_gso, 1);
    assert.equal(c.drops.unsupported_gso, 1);
    assert.equal(c.txFrames, 0, 'nothing of either frame went out');
    peer.socket.write(encodeFrame(eth(BROADCAST, GUEST)));
    t.io.deliver(t.host.index, [withVnet(eth(GUEST, HOST, 60))]);
    await peer.until(() => peer.frames.length === 1, 'the next good frame');
  } finally {
    t.cleanup();
  }
});

test('socket port: a length no frame can have cuts the peer off and is counted; the port takes the next peer', async () => {
  const t = await setup();
  try {
    const bad = await Peer.connect(t.path);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME + 1);
    bad.socket.write(header);
    await bad.until(() => bad.closed, 'the connection to be closed');
    assert.equal(t.counters.readPort(t.sock.index).drops.bad_framing, 1);
    const good = await Peer.connect(t.path);
    good.socket.write(encodeFrame(eth(BROADCAST, GUEST)));
    await waitFor(() => t.io.take(t.taps.fdOf('host')).length === 1, 'a frame from the next peer');
  } finally {
    t.cleanup();
  }
});

test('socket port: the decoder cuts any split of a stream into the same frames', () => {
  const frames = [eth(BROADCAST, GUEST), eth(HOST, GUEST, 1500), eth(GUEST, HOST, 47)];
  const wire = Buffer.concat(frames.map(encodeFrame));
  for (let step = 1; step <= wire.length; step += 97) {
    const d = new StreamDecoder();
    const out: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i += step)
      assert.equal(
        d.push(wire.subarray(i, i + step), (f) => out.push(Uint8Array.from(f))),
        -1,
      );
    assert.deepEqual(out, frames, `chunks of ${step}`);
  }
  const d = new StreamDecoder();
  assert.equal(
    d.push(Buffer.from([0, 0, 0, 13]), () => assert.fail('a 13-byte frame is no frame')),
    13,
  );
});

test('socket port: a socket another process listens on is refused with EADDRINUSE and keeps its listener; a stale one is replaced', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-sockpath-'));
  const events: SocketEvents = { frame: () => undefined, badFraming: () => undefined, peer: () => undefined };
  try {
    const path = join(dir, 'live.sock');
    let accepted = 0;
    const other = createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => other.listen(path, resolve));
    try {
      const opened = await openSocketPort({ name: 'q', path, mode: 'stream' }, events).then(
        (p) => (p.close(), 'opened'),
        (e: NodeJS.ErrnoException) => e.code,
      );
      assert.equal(opened, 'EADDRINUSE');
      const c = connect(path);
      await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
      c.destroy();
      await waitFor(() => accepted === 2, 'the other listener to take a connection');
    } finally {
      other.close();
    }

    const stale = join(dir, 'stale.sock');
    execFileSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.exit(0))", stale]);
    assert.ok(lstatSync(stale).isSocket());
    const port = await openSocketPort({ name: 'q', path: stale, mode: 'stream' }, events);
    const c = connect(stale);
    await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
    c.destroy();
    port.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
