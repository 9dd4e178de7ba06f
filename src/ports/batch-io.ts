// Io: the batched frame I/O the data plane runs on. TAPWIRE_IO_URING=0 turns io_uring off (plain
// read()/write() per frame), e.g. to compare or on a host whose seccomp profile forbids it. The real one is the native IoLoop (its header comment
// in native/ioloop.cc is the contract); FakeIo stands in for it in unit tests.
import { type BatchHandler, native } from '../native/index.js';

/** Io is the data plane's view of batched I/O. */
export interface Io {
  /** rx is the receive arena; frame i of a batch is at offsets[i], its length in lengths[i]. */
  readonly rx: Uint8Array;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly slotSize: number;
  /** plan holds [fd, offset, length] triples for flush(). */
  readonly plan: Int32Array;
  readonly result: Int32Array;
  readonly planSize: number;
  add(fd: number, port: number): void;
  remove(port: number): void;
  flush(n: number): number;
  send(fd: number, frame: Uint8Array): number;
  close(): void;
  /** describe says how the I/O is done, for the log. */
  describe(): Record<string, unknown>;
}

/** IoFactory makes the Io of a data plane, given the function to call per batch. */
export type IoFactory = (onBatch: BatchHandler) => Io;

/** IO_SIZES: 64 slots of 64 KiB + the vnet header + slack, so a GSO frame is never cut. */
export const IO_SIZES = { slots: 64, slotSize: 66048, planSize: 8192 } as const;

/** nativeIo is the real IoFactory. */
export const nativeIo: IoFactory = (onBatch) => {
  const loop = new (native().IoLoop)({ ...IO_SIZES, ioUring: process.env.TAPWIRE_IO_URING !== '0' }, onBatch);
  return {
    rx: new Uint8Array(loop.rxBuffer),
    offsets: loop.rxOffsets,
    lengths: loop.rxLengths,
    slotSize: loop.slotSize,
    plan: loop.txPlan,
    result: loop.txResult,
    planSize: loop.planSize,
    add: (fd, port) => loop.add(fd, port),
    remove: (port) => {
      loop.remove(port);
    },
    flush: (n) => loop.flush(n),
    send: (fd, frame) => loop.send(fd, frame),
    close: () => loop.close(),
    describe: () => ({ ioUringReads: loop.ioUring.reads, ioUringWrites: loop.ioUring.writes, ...IO_SIZES }),
  };
};
