// DataPlaneClient: the control plane's handle on the data plane worker. It sends commands and awaits their
// replies, reads counters straight from the shared block, and passes the worker's port events on.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { TwError, isErrorCode } from '../errors.js';
import { CounterBlock } from '../dataplane/counters.js';
import type { Command, PortEvent, Reply, WorkerInit, WorkerMessage } from '../dataplane/protocol.js';

/** WorkerLog is a log line the worker asks the main thread to write. */
export interface WorkerLog {
  level: 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

/** FakeDevices runs the data plane over in-memory devices, for tests without root: `module` is the file URL
 * of the fake devices module the worker loads (the worker imports no fakes of its own), `netns` are the
 * namespaces and `interfaces` the existing interfaces that exist for them. */
export interface FakeDevices {
  module: string;
  netns: string[];
  interfaces?: string[];
}

/** CALL_TIMEOUT_MS bounds how long a command may take (device creation included). */
export const CALL_TIMEOUT_MS = 30_000;

/** DataPlaneClient runs the data plane worker; see the comment at the top of this file. */
export class DataPlaneClient {
  readonly counters = new CounterBlock();
  /** events emits 'port' with each PortEvent of the data plane (a peer, an emulator or a device came, went or failed). */
  readonly events = new EventEmitter<{ port: [PortEvent] }>();
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited = false;
  private readonly ready: Promise<void>;

  /** `fake` runs the data plane over in-memory devices (see FakeDevices). */
  constructor(onLog: (log: WorkerLog) => void, onExit: (code: number) => void, fake?: FakeDevices) {
    const init: WorkerInit = { counters: this.counters.buffer };
    if (fake !== undefined) init.fake = { module: fake.module, netns: fake.netns, interfaces: fake.interfaces };
    this.worker = new Worker(new URL('../dataplane/worker.js', import.meta.url), { workerData: init });
    this.ready = new Promise((resolve, reject) => {
      this.worker.once('error', reject);
      this.worker.on('message', (m: Reply | WorkerMessage) => {
        if ('ready' in m) {
          this.worker.off('error', reject);
          resolve();
        } else if ('log' in m) {
          onLog(m.log);
        } else if ('event' in m) {
          this.events.emit('port', m.event);
        } else {
          this.settle(m);
        }
      });
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.failAll(new Error(`data plane worker exited with code ${code}`));
      onExit(code);
    });
  }

  /** started resolves once the worker is up. */
  started(): Promise<void> {
    return this.ready;
  }

  /**
   * call sends a command and resolves with its result, or rejects with a TwError. A data plane that does
   * not answer within `timeoutMs` is stuck: it is terminated (the daemon's onExit handler decides what
   * follows) rather than left to hang every later change.
   */
  call<T>(command: Command, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    if (this.exited) return Promise.reject(new TwError('TW_ERR_INTERNAL', 'the data plane is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TwError('TW_ERR_INTERNAL', `the data plane did not answer ${command.op} within ${timeoutMs} ms`));
        void this.worker.terminate();
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          (resolve as (v: unknown) => void)(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.worker.postMessage({ id, command });
    });
  }

  /** stop shuts the data plane down (devices closed) and waits for the worker to end. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exit = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    try {
      await this.call({ op: 'shutdown' }, 5000);
    } finally {
      const timer = setTimeout(() => void this.worker.terminate(), 5000);
      await exit;
      clearTimeout(timer);
    }
  }

  private settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new TwError(isErrorCode(reply.error.code) ? reply.error.code : 'TW_ERR_INTERNAL', reply.error.detail));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(new TwError('TW_ERR_INTERNAL', e.message));
    this.pending.clear();
  }
}
