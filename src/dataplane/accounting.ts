// Accounting: the one place where the data plane counts. Every frame received, written or dropped, on a
// port or by the router, is counted here, into the shared counter block the control plane reads. The
// deciders (bridge, router) and the ports only report what happened (verdicts, tallies, drop calls).
import type { DropReason } from '../ports/drop-reason.js';
import type { RouterDropReason } from '../router/stats.js';
import { RD } from '../router/stats.js';
import { reasonOf } from '../ports/verdict.js';
import { type CounterBlock, P } from './counters.js';

/** Accounting writes the counters; see the comment at the top of this file. */
export class Accounting {
  readonly values: Float64Array;

  constructor(readonly block: CounterBlock) {
    this.values = block.values;
  }

  /** batch counts one wake-up of port slot `base` that read frames. */
  batch(base: number): void {
    this.values[base + P.rxBatches]!++;
  }

  /** rx counts one received frame of `bytes` (without the virtio-net header). */
  rx(base: number, bytes: number): void {
    const c = this.values;
    c[base + P.rxFrames]!++;
    c[base + P.rxBytes]! += bytes;
  }

  /** rxGso counts one received GSO frame (counted by rx as well). */
  rxGso(base: number): void {
    this.values[base + P.rxGsoFrames]!++;
  }

  /** tx counts `frames` written, `bytes` in all (without virtio-net headers); `gso` once per frame handed over whole. */
  tx(base: number, frames: number, bytes: number, gso: boolean): void {
    const c = this.values;
    c[base + P.txFrames]! += frames;
    c[base + P.txBytes]! += bytes;
    if (gso) c[base + P.txGsoFrames]!++;
  }

  /** drop counts one frame dropped on port slot `port`. */
  drop(port: number, reason: DropReason): void {
    this.values[this.block.dropSlot(port, reason)]!++;
  }

  /** dropCode counts a drop given as a Verdict reason code. */
  dropCode(port: number, code: number): void {
    this.drop(port, reasonOf(code));
  }

  /** routerDrop counts one packet the router discarded. */
  routerDrop(reason: RouterDropReason): void {
    this.values[this.block.routerBase + RD[reason]]!++;
  }
}
