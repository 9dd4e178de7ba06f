// Fakes of the port layer for unit tests (and only for them: production code never imports this file; a
// daemon under test loads it into its worker by URL, see fakeDevices). FakePorts is a PortDevices that
// makes in-memory ports with made-up fds and remembers what was made and closed; FakeIo is the batch
// loop: tests push frames into a port with deliver() and read what the data plane wrote per fd. Socket
// ports are real: a unix socket needs no privilege.
import type { BatchHandler } from '../native/index.js';
import type { Io, IoFactory } from './batch-io.js';
import type { NetdevSpec, PortDevices, SocketSpec, TapSpec, TunSpec, VmSpec } from './devices.js';
import { FdPort } from './fd-port.js';
import type { Port } from './port.js';
import { openUnixSocketPort, type SocketTransportOpener } from './unix-socket-port.js';
import { VmPort } from './vm.js';

const DEFAULT_MTU = 1500;

function errnoError(message: string, code: string, errno: number, syscall: string): Error {
  return Object.assign(new Error(message), { code, errno, syscall });
}

/** FakeVmTap is a fake persistent TAP: it outlives the port's close() and goes with remove(); `carrier`
 * stands for an emulator holding it. */
export interface FakeVmTap {
  uid?: number;
  gid?: number;
  carrier: boolean;
}

/** FakePorts makes fake ports; see the comment at the top of this file. */
export class FakePorts implements PortDevices {
  private nextFd = 100;
  /** open maps each open fake fd to what it was made from. */
  readonly open = new Map<number, { name: string; port: Port }>();
  /** failNext, when set, makes the next tap/tun open throw this error (to test that failures change nothing). */
  failNext: Error | undefined;
  /** vmTaps are the persistent TAPs of vm ports, by name. */
  readonly vmTaps = new Map<string, FakeVmTap>();

  /** namespaces, when given, are the only network namespaces a spec may name (others fail like the
   * kernel: ENOENT opening /run/netns/NAME); interfaces are the ones a netdev port may open. */
  constructor(
    private readonly namespaces?: string[],
    private readonly interfaces: string[] = [],
    private readonly openSocket?: SocketTransportOpener,
  ) {}

  tap(spec: TapSpec, index: number): Port {
    return this.make('tap', spec.name, spec.netns, index, spec.mtu ?? DEFAULT_MTU, spec.up);
  }

  tun(spec: TunSpec, index: number): Port {
    return this.make('tun', spec.name, spec.netns, index, spec.mtu ?? DEFAULT_MTU, true);
  }

  netdev(spec: NetdevSpec, index: number): Port {
    if (!this.interfaces.includes(spec.ifname)) {
      throw errnoError(`if_nametoindex(${spec.ifname}): No such device (ENODEV)`, 'ENODEV', 19, `if_nametoindex(${spec.ifname})`);
    }
    const fd = this.nextFd++;
    const port = new FdPort({ index, kind: 'netdev', name: spec.name, ifname: spec.ifname, fd, offloads: 0, mtu: DEFAULT_MTU, up: true, release: () => this.open.delete(fd) });
    this.open.set(fd, { name: spec.ifname, port });
    return port;
  }

  vm(spec: VmSpec, index: number): Port {
    const existing = this.vmTaps.get(spec.name);
    const taken = [...this.open.values()].some((d) => d.name === spec.name);
    if (taken || (existing !== undefined && (existing.uid !== spec.uid || existing.gid !== spec.gid))) {
      throw errnoError(`an interface named ${spec.name} exists and is not a vm TAP of this owner`, 'EEXIST', 17, 'vm port');
    }
    const tap = existing ?? { uid: spec.uid, gid: spec.gid, carrier: false };
    this.vmTaps.set(spec.name, tap);
    const fd = this.nextFd++;
    const port = new VmPort({
      index,
      name: spec.name,
      fd,
      mtu: spec.mtu ?? DEFAULT_MTU,
      adopted: existing !== undefined,
      carrier: () => (this.vmTaps.has(spec.name) ? tap.carrier : undefined),
      release: () => this.open.delete(fd),
      removeTap: () => this.vmTaps.delete(spec.name),
    });
    this.open.set(fd, { name: spec.name, port });
    return port;
  }

  socket(spec: SocketSpec, index: number): Promise<Port> {
    return openUnixSocketPort(spec, index, this.openSocket);
  }

  /** fdOf returns the fd of the open fake device named `name`. */
  fdOf(name: string): number {
    for (const [fd, d] of this.open) if (d.name === name) return fd;
    throw new Error(`no fake device named ${name}`);
  }

  private make(kind: 'tap' | 'tun', name: string, netns: string | undefined, index: number, mtu: number, up: boolean): Port {
    if (this.failNext !== undefined) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (netns !== undefined && this.namespaces !== undefined && !this.namespaces.includes(netns)) {
      throw errnoError(`open(/run/netns/${netns}): No such file or directory (ENOENT)`, 'ENOENT', 2, `open(/run/netns/${netns})`);
    }
    for (const d of this.open.values()) {
      if (d.name === name) throw errnoError('ioctl(TUNSETIFF): Device or resource busy (EBUSY)', 'EBUSY', 16, 'ioctl(TUNSETIFF)');
    }
    const fd = this.nextFd++;
    const port = new FdPort({ index, kind, name, ifname: name, fd, offloads: 0, mtu, up, release: () => this.open.delete(fd) });
    this.open.set(fd, { name, port });
    return port;
  }
}

/** FakeIo records the writes of the data plane and lets a test deliver batches; writes to an fd listed in
 * `failing` fail with that errno. */
export class FakeIo implements Io {
  readonly slotSize: number;
  readonly planSize: number;
  readonly rx: Uint8Array;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly plan: Int32Array;
  readonly result: Int32Array;
  /** written maps an fd to the frames (with vnet header) written to it. */
  readonly written = new Map<number, Uint8Array[]>();
  readonly polled = new Map<number, number>();
  readonly failing = new Map<number, number>();
  closed = false;

  constructor(
    private readonly onBatch: BatchHandler,
    slots = 8,
    slotSize = 2048,
    planSize = 64,
  ) {
    this.slotSize = slotSize;
    this.planSize = planSize;
    this.rx = new Uint8Array(slots * slotSize);
    this.lengths = new Int32Array(slots);
    this.offsets = new Int32Array(slots);
    this.plan = new Int32Array(planSize * 3);
    this.result = new Int32Array(planSize);
  }

  add(fd: number, port: number): void {
    this.polled.set(port, fd);
  }

  remove(port: number): void {
    this.polled.delete(port);
  }

  /** deliver reads `frames` (each with its vnet header) from `port` as one batch. */
  deliver(port: number, frames: Uint8Array[]): void {
    if (!this.polled.has(port)) throw new Error(`port ${port} is not polled`);
    frames.forEach((f, i) => {
      const n = Math.min(f.length, this.slotSize);
      this.rx.set(f.subarray(0, n), i * this.slotSize);
      this.offsets[i] = i * this.slotSize;
      this.lengths[i] = n;
    });
    this.onBatch(port, frames.length, 0);
  }

  /** fail reports a read error on `port`, as the native loop does. */
  fail(port: number, errno: number): void {
    this.polled.delete(port);
    this.onBatch(port, 0, errno);
  }

  flush(n: number): number {
    let failures = 0;
    for (let i = 0; i < n; i++) {
      const fd = this.plan[3 * i]!;
      const off = this.plan[3 * i + 1]!;
      const len = this.plan[3 * i + 2]!;
      const err = this.failing.get(fd) ?? 0;
      this.result[i] = err;
      if (err !== 0) {
        failures++;
        continue;
      }
      this.record(fd, this.rx.slice(off, off + len));
    }
    return failures;
  }

  send(fd: number, frame: Uint8Array): number {
    const err = this.failing.get(fd) ?? 0;
    if (err === 0) this.record(fd, frame.slice());
    return err;
  }

  describe(): Record<string, unknown> {
    return { fake: true };
  }

  close(): void {
    this.closed = true;
    this.polled.clear();
  }

  /** take returns and forgets the frames written to `fd`. */
  take(fd: number): Uint8Array[] {
    const frames = this.written.get(fd) ?? [];
    this.written.delete(fd);
    return frames;
  }

  private record(fd: number, frame: Uint8Array): void {
    let list = this.written.get(fd);
    if (list === undefined) {
      list = [];
      this.written.set(fd, list);
    }
    list.push(frame);
  }
}

/** FakeDeviceOptions are what a daemon under test asks of its fake devices. */
export interface FakeDeviceOptions {
  /** netns are the namespaces that "exist"; interfaces the ones a netdev port may open. */
  netns: string[];
  interfaces?: string[];
}

/** fakeDevices is what the data plane worker loads (by this module's URL) to run over fakes. */
export function fakeDevices(options: FakeDeviceOptions): { devices: PortDevices; io: IoFactory } {
  return { devices: new FakePorts(options.netns, options.interfaces), io: (onBatch) => new FakeIo(onBatch) };
}
