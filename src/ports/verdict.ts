// Verdict: where one frame goes, as the bridge (and the forwarder around the router) decides it: a list
// of entries, each an egress port to deliver to, or a port and the one DropReason it is counted under.
// The deciders only write here; the data plane's accounting is the one place that counts.
// A Verdict is scratch, reused for every frame: reset() before each decision.
import { DROP_INDEX, DROP_REASONS, type DropReason } from './drop-reason.js';

/** DELIVER is the reason code of an entry that delivers. */
export const DELIVER = 0;

/** Verdict is the fate of one frame; see the comment at the top of this file. */
export class Verdict {
  /** ports[i] is the port of entry i (egress, or where the drop counts). */
  readonly ports: Int32Array;
  /** reasons[i] is DELIVER, or 1 + the index of the entry's drop reason in DROP_REASONS. */
  readonly reasons: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.ports = new Int32Array(capacity);
    this.reasons = new Uint8Array(capacity);
  }

  /** reset empties the verdict. */
  reset(): void {
    this.length = 0;
  }

  /** deliver adds an egress port. */
  deliver(port: number): void {
    const k = this.length++;
    this.ports[k] = port;
    this.reasons[k] = DELIVER;
  }

  /** drop adds a drop counted on `port`. */
  drop(port: number, reason: DropReason): void {
    const k = this.length++;
    this.ports[k] = port;
    this.reasons[k] = DROP_INDEX[reason] + 1;
  }

  /** deliveries counts the entries that deliver. */
  deliveries(): number {
    let n = 0;
    for (let k = 0; k < this.length; k++) if (this.reasons[k] === DELIVER) n++;
    return n;
  }
}

/** reasonOf names the drop reason of a code from Verdict.reasons (not DELIVER). */
export function reasonOf(code: number): DropReason {
  return DROP_REASONS[code - 1]!;
}
