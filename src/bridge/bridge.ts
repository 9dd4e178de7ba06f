// Bridge: an IEEE 802.1D-style learning switch between ports, deciding per frame where it goes.
//
// The rules, in order, each with one home below:
// 1. Ingress checks (drop and count on the ingress port): a group or all-zero source MAC, a destination in
//    the reserved 01:80:C2:00:00:0X block (never relayed).
// 2. Learn the source MAC on the ingress port (only frames that passed the checks teach the table).
// 3. A known unicast destination goes to its one port; if that is the ingress port the frame is dropped
//    (`same_port`). Unknown unicast, broadcast and multicast flood to every port that is up but the
//    ingress.
// 4. Egress checks (drop and count on the egress port): larger than the egress MTU (for a GSO frame, the
//    IP length of the segments it will be cut into), port down.
// Frames are never copied: the bridge reads the headers in place and writes its decision, egress ports and
// drops with their reasons, into a Verdict; it counts nothing itself (the data plane does, in one place).
import type { SwitchPort } from '../ports/port.js';
import type { Verdict } from '../ports/verdict.js';
import { ETH, isGroupMacAt, isReservedGroupAt, isZeroMacAt, macAt, vlanTagLenAt } from '../wire/ethernet.js';
import { Fdb, FdbOptions } from './fdb.js';

/** BridgeOptions configure a bridge and its Fdb. */
export type BridgeOptions = FdbOptions;

/** BridgeStats are the bridge's counters beyond those of its Fdb. */
export interface BridgeStats {
  /** floods counts frames sent to every port (unknown unicast, broadcast, multicast). */
  floods: number;
}

/** Bridge is one learning switch; see the comment at the top of this file. */
export class Bridge {
  readonly fdb: Fdb;
  readonly stats: BridgeStats = { floods: 0 };
  private members: SwitchPort[] = [];
  private readonly byIndex = new Map<number, SwitchPort>();

  constructor(
    readonly name: string,
    options: BridgeOptions = {},
  ) {
    this.fdb = new Fdb(options);
  }

  /** ports lists the member ports. */
  get ports(): readonly SwitchPort[] {
    return this.members;
  }

  /** addPort makes `port` a member. */
  addPort(port: SwitchPort): void {
    if (this.members.some((p) => p.index === port.index)) throw new Error(`port ${port.index} already on bridge ${this.name}`);
    this.members = [...this.members, port];
    this.byIndex.set(port.index, port);
  }

  /** removePort takes a member out and forgets what the table learned on it. */
  removePort(index: number): void {
    this.members = this.members.filter((p) => p.index !== index);
    this.byIndex.delete(index);
    this.fdb.removePort(index);
  }

  /** member returns the member port with `index`, if any. */
  member(index: number): SwitchPort | undefined {
    return this.byIndex.get(index);
  }

  /**
   * forward decides the fate of the frame of `len` bytes at `off` in `buf` (from the Ethernet header on;
   * the caller has checked len >= 14), received on `ingress` at time `now` (ms), appending it to `verdict`:
   * the egress ports, and every drop with the port it counts on. `segmentLen` is, for a GSO frame, the IP
   * length of each segment it will be cut into (gsoSegmentLength), 0 for a plain one.
   */
  forward(ingress: SwitchPort, buf: Uint8Array, off: number, len: number, segmentLen: number, now: number, verdict: Verdict): void {
    if (isGroupMacAt(buf, off + ETH.SRC)) return verdict.drop(ingress.index, 'group_source');
    if (isZeroMacAt(buf, off + ETH.SRC)) return verdict.drop(ingress.index, 'zero_source');
    const groupDst = isGroupMacAt(buf, off + ETH.DST);
    if (groupDst && isReservedGroupAt(buf, off + ETH.DST)) return verdict.drop(ingress.index, 'reserved_group');
    this.fdb.learn(macAt(buf, off + ETH.SRC), ingress.index, now);

    const maxLen = frameLimit(buf, off, len);
    if (!groupDst) {
      const target = this.fdb.lookup(macAt(buf, off + ETH.DST));
      if (target >= 0) {
        if (target === ingress.index) return verdict.drop(ingress.index, 'same_port');
        const port = this.member(target);
        // A static entry may name a port that is not (or no longer) a member: treat it as unknown.
        if (port !== undefined) {
          if (!port.up) return verdict.drop(port.index, 'port_down');
          if (!fits(port, maxLen, segmentLen)) return verdict.drop(port.index, 'too_big');
          return verdict.deliver(port.index);
        }
      }
    }
    this.flood(ingress, maxLen, segmentLen, verdict);
  }

  private flood(ingress: SwitchPort, needed: number, segmentLen: number, verdict: Verdict): void {
    this.stats.floods++;
    let candidates = 0;
    for (const port of this.members) {
      if (port.index === ingress.index || !port.up) continue;
      candidates++;
      if (fits(port, needed, segmentLen)) verdict.deliver(port.index);
      else verdict.drop(port.index, 'too_big');
    }
    if (candidates === 0) verdict.drop(ingress.index, 'no_egress');
  }
}

/**
 * frameLimit returns the frame length measured against an MTU: the length less the Ethernet header and
 * less one 802.1Q tag when the frame carries one (a tagged frame may be 4 bytes longer).
 */
function frameLimit(buf: Uint8Array, off: number, len: number): number {
  return len - ETH.HEADER_LEN - vlanTagLenAt(buf, off);
}

/** fits tells whether an IP packet of `needed` bytes (or GSO segments of `segmentLen`) fits `port`'s MTU. */
function fits(port: SwitchPort, needed: number, segmentLen: number): boolean {
  return segmentLen > 0 ? segmentLen <= port.mtu : needed <= port.mtu;
}
