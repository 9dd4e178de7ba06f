// FakeIo: an in-memory Io for unit tests. Tests push frames into a port with deliver() and read what the
// data plane wrote per fd; writes to an fd listed in `failing` fail with that errno.
import { BatchHandler } from '../native/index.js';
import { Io } from './io.js';

/** FakeIo records the writes of the data plane and lets a test deliver batches. */
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
