// Forwarder: the data plane's hot path. A batch of frames from one port (read by the native loop into the
// receive arena, or handed over by a port that does its own I/O) is handled in one pass: each frame is
// checked, the bridge (or, for a routed link, the router) decides its fate as a verdict, deliveries go
// into the one write plan, and the plan is written when the batch is done. Everything is counted by the
// one Accounting. A frame whose handling throws (a bug in a parser, say) is dropped and counted as
// `internal_error`, logged at most once per LOG_EVERY_MS, and the batch goes on: nothing a frame carries
// may stop forwarding or reach napi_fatal_exception. Read errors come in the native loop's two classes
// (native/ioloop.cc): a frame the kernel failed to hand over (EINVAL, EMSGSIZE, ENOBUFS, ENOMEM; say a UFO
// frame a guest wrote into its TAP, which the AF_PACKET socket cannot describe with a virtio-net header)
// is one `rx_frame_error` drop and the port reads on, since a guest must not be able to disable its port;
// any other errno means the device is gone, and readFailed ends the port.
import type { Router, RouterOutput } from '../router/router.js';
import type { RouterDropReason } from '../router/stats.js';
import { DELIVER, Verdict } from '../ports/verdict.js';
import { ETH, l3OffsetAt } from '../wire/ethernet.js';
import { VNET_HDR_LEN, gsoSegmentLength, isGsoAt, vnetHeaderValid } from '../wire/virtio-net.js';
import type { Accounting } from './accounting.js';
import { MAX_PORTS } from './counters.js';
import type { LinkEntry, PortTable, SwitchEntry } from './port-table.js';
import type { WritePlan } from './write-plan.js';

/** LOG_EVERY_MS is the least time between two log lines about frames that made the forwarder throw. */
export const LOG_EVERY_MS = 10_000;

/** ForwarderHooks are what the forwarder tells the rest of the data plane. */
export interface ForwarderHooks {
  /** clock returns monotonic milliseconds. */
  clock(): number;
  /** readFailed reports that reading a port failed with `errno` (after its last frames were handled). */
  readFailed(entry: SwitchEntry | LinkEntry, errno: number): void;
  /** batchDone is called after each batch was written. */
  batchDone(): void;
  /** internalError reports a throw while handling a frame of `entry`; `suppressed` earlier ones were not logged. */
  internalError(entry: SwitchEntry | LinkEntry, error: unknown, suppressed: number): void;
}

/** Forwarder is the hot path; see the comment at the top of this file. */
export class Forwarder implements RouterOutput {
  private readonly verdict = new Verdict(MAX_PORTS + 1);
  private now = 0;
  private router: Router | undefined;
  private lastLog = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly table: PortTable,
    private readonly plan: WritePlan,
    private readonly acct: Accounting,
    private readonly arena: { rx: Uint8Array; slotSize: number },
    private readonly hooks: ForwarderHooks,
  ) {}

  /** attachRouter gives the forwarder the router it hands layer-3 frames to (the router needs the
   * forwarder as its output first). */
  attachRouter(router: Router): void {
    this.router = router;
  }

  /** setNow sets the time the router's output is handled at (timers run outside a batch). */
  setNow(now: number): void {
    this.now = now;
  }

  /** onBatch handles `count` frames the native loop read from slot `index` into the arena, counts the
   * `skipped` ones the kernel failed to hand over, then the read error that stopped it, if any. */
  onBatch(index: number, count: number, errno: number, skipped: number, offsets: Int32Array, lengths: Int32Array): void {
    const e = this.table.slots[index];
    if (e === undefined || e.role === 'router') return;
    for (let i = 0; i < skipped; i++) this.acct.drop(e.sw.index, 'rx_frame_error');
    this.receive(e, this.arena.rx, offsets, lengths, count);
    if (errno !== 0) this.hooks.readFailed(e, errno);
  }

  /** receive handles a batch of `count` frames of `e` at buf[offsets[i]], lengths[i] bytes each. */
  receive(e: SwitchEntry | LinkEntry, buf: Uint8Array, offsets: Int32Array, lengths: Int32Array, count: number): void {
    this.now = this.hooks.clock();
    if (count > 0) this.acct.batch(e.base);
    const limit = buf === this.arena.rx ? this.arena.slotSize : Infinity;
    for (let i = 0; i < count; i++) {
      try {
        this.frame(e, buf, offsets[i]!, lengths[i]!, limit);
      } catch (err) {
        this.caught(e, err);
      }
    }
    try {
      this.plan.flush();
    } catch (err) {
      this.caught(e, err);
    }
    this.hooks.batchDone();
  }

  private frame(e: SwitchEntry | LinkEntry, buf: Uint8Array, off: number, len: number, limit: number): void {
    const acct = this.acct;
    const index = e.sw.index;
    const frameLen = len - VNET_HDR_LEN;
    acct.rx(e.base, frameLen > 0 ? frameLen : 0);
    if (len >= limit) return acct.drop(index, 'truncated');
    const routed = e.role === 'link';
    if (frameLen < (routed ? 1 : ETH.HEADER_LEN)) return acct.drop(index, 'runt');
    if (!vnetHeaderValid(buf, off, frameLen)) return acct.drop(index, 'bad_vnet_hdr');
    const gso = isGsoAt(buf, off);
    if (gso) acct.rxGso(e.base);
    if (routed) {
      if (e.routerInterface === undefined || this.router === undefined) return acct.drop(index, 'no_egress');
      const segment = gso ? gsoSegmentLength(buf, off, frameLen, 0) : 0;
      if (segment < 0) return acct.drop(index, 'bad_gso');
      this.router.receive(index, buf, off, len, segment, true, this.now);
      return;
    }
    // A GSO frame whose headers cannot be read has no segment size to check against an MTU: dropped here.
    const segment = gso ? gsoSegmentLength(buf, off, frameLen, l3OffsetAt(buf, off + VNET_HDR_LEN)) : 0;
    if (segment < 0) return acct.drop(index, 'bad_gso');
    const v = this.verdict;
    v.reset();
    e.bridge.bridge.forward(e.sw, buf, off + VNET_HDR_LEN, frameLen, segment, this.now, v);
    const slots = this.table.slots;
    let deliveries = 0;
    let routerSlot = -1;
    for (let k = 0; k < v.length; k++) {
      const code = v.reasons[k]!;
      if (code !== DELIVER) {
        acct.dropCode(v.ports[k]!, code);
        continue;
      }
      deliveries++;
      const out = slots[v.ports[k]!]!;
      if (out.role === 'router') routerSlot = out.sw.index;
      else this.plan.write(out, buf, off, len, gso);
    }
    // The router gets the frame after the other deliveries are planned: what it sends back takes the same
    // verdict scratch and plan. Shared bytes (a flood) are copied by the router before it changes them.
    if (routerSlot >= 0 && this.router !== undefined) {
      const r = slots[routerSlot]!;
      acct.rx(r.base, frameLen);
      if (gso) acct.rxGso(r.base);
      this.router.receive(routerSlot, buf, off, len, segment, deliveries === 1, this.now);
    }
  }

  /**
   * transmit sends what the router made or rewrote out of router interface `iface` (RouterOutput): into the
   * bridge through the router's port, or into the TUN of a link, by the write plan.
   */
  transmit(iface: number, buf: Uint8Array, off: number, len: number, segmentLen: number): void {
    const e = this.table.slots[iface];
    if (e === undefined || e.role === 'switch') return;
    const gso = isGsoAt(buf, off);
    if (e.role === 'link') {
      this.plan.write(e, buf, off, len, gso);
      return;
    }
    this.acct.tx(e.base, 1, len - VNET_HDR_LEN, gso);
    const v = this.verdict;
    v.reset();
    e.bridge.bridge.forward(e.sw, buf, off + VNET_HDR_LEN, len - VNET_HDR_LEN, segmentLen, this.now, v);
    const slots = this.table.slots;
    for (let k = 0; k < v.length; k++) {
      const code = v.reasons[k]!;
      if (code !== DELIVER) {
        this.acct.dropCode(v.ports[k]!, code);
        continue;
      }
      const out = slots[v.ports[k]!];
      if (out !== undefined && out.role === 'switch') this.plan.write(out, buf, off, len, gso);
    }
  }

  /** drop counts a packet the router discarded (RouterOutput). */
  drop(reason: RouterDropReason): void {
    this.acct.routerDrop(reason);
  }

  /** flush writes what the router planned outside a batch (timers). */
  flush(): void {
    this.plan.flush();
  }

  private caught(e: SwitchEntry | LinkEntry, err: unknown): void {
    this.acct.drop(e.sw.index, 'internal_error');
    const now = this.hooks.clock();
    if (now - this.lastLog < LOG_EVERY_MS) {
      this.suppressed++;
      return;
    }
    this.lastLog = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.hooks.internalError(e, err, suppressed);
  }
}
