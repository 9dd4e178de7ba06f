// WritePlan: the frames a batch sends, written together when the batch is done (or the plan is full).
// Every egress goes through here, whatever the port kind: frames in the receive arena are planned, and at
// flush the entries of fd ports become one native write call, while ports that do their own I/O (fd -1)
// get theirs through Port.send; frames in any other buffer (the router's, a socket port's arena) are
// written at once by `now`. Each result is counted by the one Accounting.
import { writeErrorReason, type TxTally } from '../ports/port.js';
import type { Io } from '../ports/batch-io.js';
import { VNET_HDR_LEN } from '../wire/virtio-net.js';
import type { Accounting } from './accounting.js';
import type { LinkEntry, SwitchEntry } from './port-table.js';

/** Egress is an entry that can be written to: a device port or a link. */
export type Egress = SwitchEntry | LinkEntry;

/** WritePlan holds one batch's writes; see the comment at the top of this file. */
export class WritePlan {
  private n = 0;
  private readonly entries: (Egress | undefined)[];
  private readonly offs: Int32Array;
  private readonly lens: Int32Array;
  private readonly gsos: Uint8Array;
  /** slot maps a native plan slot back to the plan entry it came from. */
  private readonly slot: Int32Array;
  private readonly tally: TxTally = { frames: 0, bytes: 0, drop: null };

  constructor(
    private readonly io: Io,
    private readonly acct: Accounting,
  ) {
    const size = io.planSize;
    this.entries = new Array(size);
    this.offs = new Int32Array(size);
    this.lens = new Int32Array(size);
    this.gsos = new Uint8Array(size);
    this.slot = new Int32Array(size);
  }

  /** write sends buf[off..off+len) (virtio-net header first) out of `out`: planned when buf is the receive
   * arena, at once otherwise. */
  write(out: Egress, buf: Uint8Array, off: number, len: number, gso: boolean): void {
    if (buf === this.io.rx) this.add(out, off, len, gso);
    else this.now(out, buf, off, len, gso);
  }

  private add(out: Egress, off: number, len: number, gso: boolean): void {
    if (this.n === this.entries.length) this.flush();
    const k = this.n++;
    this.entries[k] = out;
    this.offs[k] = off;
    this.lens[k] = len;
    this.gsos[k] = gso ? 1 : 0;
  }

  /** now writes a frame that is not in the receive arena, and counts the result. */
  private now(out: Egress, buf: Uint8Array, off: number, len: number, gso: boolean): void {
    const port = out.port;
    if (port.fd < 0) {
      this.sendSelf(out, buf, off, len);
      return;
    }
    const err = this.io.send(port.fd, buf.subarray(off, off + len));
    if (err !== 0) this.acct.drop(port.index, writeErrorReason(err));
    else this.acct.tx(out.base, 1, len - VNET_HDR_LEN, gso);
  }

  private sendSelf(out: Egress, buf: Uint8Array, off: number, len: number): void {
    const t = this.tally;
    out.port.send(buf, off, len, t);
    // The port wrote plain frames (segments of a GSO frame, if it was one): none went out whole.
    if (t.frames > 0) this.acct.tx(out.base, t.frames, t.bytes, false);
    if (t.drop !== null) this.acct.drop(out.port.index, t.drop);
  }

  /** flush writes and counts everything planned; the arena may be reused afterwards. */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    this.n = 0;
    const io = this.io;
    const plan = io.plan;
    let m = 0;
    for (let k = 0; k < n; k++) {
      const port = this.entries[k]!.port;
      if (port.fd < 0) continue;
      plan[3 * m] = port.fd;
      plan[3 * m + 1] = this.offs[k]!;
      plan[3 * m + 2] = this.lens[k]!;
      this.slot[m++] = k;
    }
    const failures = m > 0 ? io.flush(m) : 0;
    for (let j = 0; j < m; j++) {
      const k = this.slot[j]!;
      const out = this.entries[k]!;
      const err = failures > 0 ? io.result[j]! : 0;
      if (err !== 0) this.acct.drop(out.port.index, writeErrorReason(err));
      else this.acct.tx(out.base, 1, this.lens[k]! - VNET_HDR_LEN, this.gsos[k] === 1);
    }
    if (m < n) {
      for (let k = 0; k < n; k++) {
        const out = this.entries[k]!;
        if (out.port.fd < 0) this.sendSelf(out, io.rx, this.offs[k]!, this.lens[k]!);
      }
    }
  }
}
