// The router's Router Advertisements (RFC 4861 6.2) on the bridge interfaces that ask for them: the
// interface's link-local address as source, to all-nodes, with its MTU, its MAC and one prefix option per
// global address (autonomous when the prefix is a /64, so hosts configure themselves by SLAAC). Timing is
// RFC 4861 6.2.4's, shortened for labs: three initial RAs 4 s apart (the first at once), then one every
// 20-60 s (uniformly random, so routers on one link drift apart); a Router Solicitation brings the next RA
// forward to now, but never closer than 3 s after the last one (MIN_DELAY_BETWEEN_RAS). Each advertising
// interface holds one timer on the data plane's wheel.
import { ETHERTYPE } from '../wire/ethernet.js';
import { emitRa } from '../wire/icmpv6.js';
import { ALL_NODES6, isLinkLocal6, multicastMac6 } from '../wire/ipv6.js';
import type { TimerHandle, TimerWheel } from '../time/timer-wheel.js';
import type { Iface } from './interfaces.js';
import type { LinkOutput } from './output.js';
import { maskPrefix } from './routes.js';
import { R } from './stats.js';

/** RA_TIMING holds the RA intervals (ms) and the lifetimes (s) the RAs carry. */
export const RA_TIMING = { initialCount: 3, initialMs: 4000, minMs: 20_000, maxMs: 60_000, minGapMs: 3000, routerLifetime: 1800, validLifetime: 86400, preferredLifetime: 14400 } as const;

/** RaState is the advertising state of one interface. */
interface RaState {
  readonly ifc: Iface;
  nextRa: number;
  rasSent: number;
  lastRa: number;
  timer: TimerHandle | null;
}

/** RouterAdvertiser sends the router's RAs; see the comment at the top of this file. */
export class RouterAdvertiser {
  private readonly states = new Map<number, RaState>();

  constructor(
    private readonly timers: TimerWheel,
    private readonly link: LinkOutput,
    private readonly random: () => number,
    private readonly c: Float64Array,
    private readonly base: number,
  ) {}

  /** start begins advertising on `ifc` (if it advertises at all): the first RA goes with the wheel's first advance at or after `now`. */
  start(ifc: Iface, now: number): void {
    if (!ifc.ra) return;
    const s: RaState = { ifc, nextRa: now, rasSent: 0, lastRa: -Infinity, timer: null };
    this.states.set(ifc.id, s);
    this.arm(s);
  }

  /** stop ends advertising on interface `id`. */
  stop(id: number): void {
    const s = this.states.get(id);
    if (s === undefined) return;
    if (s.timer !== null) this.timers.cancel(s.timer);
    this.states.delete(id);
  }

  /** solicited answers a Router Solicitation on `ifc`: the next RA comes now, or 3 s after the last one. */
  solicited(ifc: Iface, now: number): void {
    const s = this.states.get(ifc.id);
    if (s === undefined) return;
    s.nextRa = Math.min(s.nextRa, Math.max(now, s.lastRa + RA_TIMING.minGapMs));
    if (now >= s.nextRa) this.send(s, now);
    else if (s.timer === null || s.timer.at > s.nextRa) this.arm(s);
  }

  private send(s: RaState, now: number): void {
    const ifc = s.ifc;
    if (ifc.linkLocal === undefined) return;
    const ra = emitRa(ifc.linkLocal, ALL_NODES6, {
      curHopLimit: 64,
      managed: false,
      other: false,
      routerLifetime: RA_TIMING.routerLifetime,
      reachableTime: 0,
      retransTimer: 0,
      sourceMac: ifc.mac,
      mtu: ifc.mtu,
      prefixes: ifc.v6
        .filter((a) => !isLinkLocal6(a.addr, 0))
        .map((a) => ({
          prefix: maskPrefix(a.addr, a.prefixLength),
          length: a.prefixLength,
          onLink: true,
          autonomous: a.prefixLength === 64,
          validLifetime: RA_TIMING.validLifetime,
          preferredLifetime: RA_TIMING.preferredLifetime,
        })),
    });
    this.c[this.base + R.raSent]!++;
    this.c[this.base + R.ndpSent]!++;
    this.link.sendFrame(ifc, multicastMac6(ALL_NODES6), ETHERTYPE.IPV6, ra);
    s.rasSent++;
    s.lastRa = now;
    s.nextRa = now + (s.rasSent < RA_TIMING.initialCount ? RA_TIMING.initialMs : RA_TIMING.minMs + this.random() * (RA_TIMING.maxMs - RA_TIMING.minMs));
    this.arm(s);
  }

  /** arm (re)schedules the interface's next RA for s.nextRa. */
  private arm(s: RaState): void {
    if (s.timer !== null) this.timers.cancel(s.timer);
    s.timer = this.timers.schedule(s.nextRa, (now) => {
      s.timer = null;
      this.send(s, now);
    });
  }
}
