// Counters shared between the data plane (the only writer) and the control plane (readers: metrics, the
// API) through one SharedArrayBuffer, so reading them costs the data plane nothing. Values are float64:
// exact integers up to 2^53, written with plain stores (a reader may see a value one batch old).
import { DROP_REASONS, DROP_INDEX, DropReason } from '../ports/drop-reason.js';
import { ROUTER_STRIDE, RouterCounters, readRouterCounters } from '../router/stats.js';

/** PORT_FIELDS are the per-port counters before the drop counters. */
export const PORT_FIELDS = ['rxFrames', 'rxBytes', 'txFrames', 'txBytes', 'rxGsoFrames', 'txGsoFrames', 'rxBatches'] as const;
/** BRIDGE_FIELDS are the per-bridge counters. */
export const BRIDGE_FIELDS = ['fdbEntries', 'fdbLearned', 'fdbMoved', 'fdbExpired', 'fdbEvicted', 'floods'] as const;

/** P is the offset of each port counter within a port's block. */
export const P = Object.fromEntries(PORT_FIELDS.map((f, i) => [f, i])) as Record<(typeof PORT_FIELDS)[number], number>;
/** B is the offset of each bridge counter within a bridge's block. */
export const B = Object.fromEntries(BRIDGE_FIELDS.map((f, i) => [f, i])) as Record<(typeof BRIDGE_FIELDS)[number], number>;

/** PORT_STRIDE is the size of one port's block. */
export const PORT_STRIDE = PORT_FIELDS.length + DROP_REASONS.length;
const DROPS = PORT_FIELDS.length;
/** MAX_PORTS bounds the number of ports of one daemon. */
export const MAX_PORTS = 4096;
/** MAX_BRIDGES bounds the number of bridges of one daemon. */
export const MAX_BRIDGES = 1024;
const BRIDGE_BASE = MAX_PORTS * PORT_STRIDE;
const ROUTER_BASE = BRIDGE_BASE + MAX_BRIDGES * BRIDGE_FIELDS.length;

/** PortCounters is one port's counters as the API reports them. */
export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  rxGsoFrames: number;
  txGsoFrames: number;
  /** rxBatches counts wake-ups that read frames: rxFrames / rxBatches is the average batch size. */
  rxBatches: number;
  drops: Partial<Record<DropReason, number>>;
}

/** BridgeCounters is one bridge's counters. */
export type BridgeCounters = Record<(typeof BRIDGE_FIELDS)[number], number>;

/** CounterBlock is a view over the shared counters. */
export class CounterBlock {
  readonly buffer: SharedArrayBuffer;
  readonly values: Float64Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer((ROUTER_BASE + ROUTER_STRIDE) * 8);
    this.values = new Float64Array(this.buffer);
  }

  /** portBase returns the index of port `port`'s first counter in `values`. */
  portBase(port: number): number {
    return port * PORT_STRIDE;
  }

  /** dropSlot returns the index of a drop counter of `port` in `values`. */
  dropSlot(port: number, reason: DropReason): number {
    return port * PORT_STRIDE + DROPS + DROP_INDEX[reason];
  }

  /** bridgeBase returns the index of bridge slot `bridge`'s first counter in `values`. */
  bridgeBase(bridge: number): number {
    return BRIDGE_BASE + bridge * BRIDGE_FIELDS.length;
  }

  /** routerBase returns the index of the router block's first counter in `values`. */
  get routerBase(): number {
    return ROUTER_BASE;
  }

  /** readRouter copies out the router's counters. */
  readRouter(): RouterCounters {
    return readRouterCounters(this.values, ROUTER_BASE);
  }

  /** resetPort zeroes a port slot before it is (re)used. */
  resetPort(port: number): void {
    this.values.fill(0, this.portBase(port), this.portBase(port) + PORT_STRIDE);
  }

  /** resetBridge zeroes a bridge slot before it is (re)used. */
  resetBridge(bridge: number): void {
    this.values.fill(0, this.bridgeBase(bridge), this.bridgeBase(bridge) + BRIDGE_FIELDS.length);
  }

  /** readPort copies out one port's counters; drop reasons that never happened are left out. */
  readPort(port: number): PortCounters {
    const v = this.values;
    const b = this.portBase(port);
    const drops: Partial<Record<DropReason, number>> = {};
    DROP_REASONS.forEach((r, i) => {
      const n = v[b + DROPS + i]!;
      if (n > 0) drops[r] = n;
    });
    return {
      rxFrames: v[b + P.rxFrames]!,
      rxBytes: v[b + P.rxBytes]!,
      txFrames: v[b + P.txFrames]!,
      txBytes: v[b + P.txBytes]!,
      rxGsoFrames: v[b + P.rxGsoFrames]!,
      txGsoFrames: v[b + P.txGsoFrames]!,
      rxBatches: v[b + P.rxBatches]!,
      drops,
    };
  }

  /** readBridge copies out one bridge's counters. */
  readBridge(bridge: number): BridgeCounters {
    const b = this.bridgeBase(bridge);
    return Object.fromEntries(BRIDGE_FIELDS.map((f, i) => [f, this.values[b + i]!])) as BridgeCounters;
  }
}
