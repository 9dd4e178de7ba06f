// The router's counters: its drops by reason (the router's part of the one closed set of drop reasons,
// ports/drop-reason.ts), the ICMP messages it sends by family and type, and its activity. The data plane
// writes them into the shared counter block; metrics and the API read them there.
import { ROUTER_DROP_REASONS, type RouterDropReason } from '../ports/drop-reason.js';

export { ROUTER_DROP_REASONS, type RouterDropReason };

/** ROUTER_FIELDS are the router's activity counters and gauges, in slot order. */
export const ROUTER_FIELDS = [
  /** IPv4 packets forwarded (a GSO frame counts once) */
  'forwarded4',
  'forwarded6',
  /** packets addressed to the router itself and handled (echo, ARP/NDP excluded) */
  'delivered4',
  'delivered6',
  /** IPv4 fragments made because a packet without DF was larger than the egress MTU */
  'fragmentsCreated',
  'arpReceived',
  'arpSent',
  'ndpReceived',
  'ndpSent',
  'raSent',
  /** ICMP errors not sent because the token bucket was empty */
  'icmpRateLimited',
  /** gauges: neighbor cache entries, routes per family */
  'neighborEntries',
  'routes4',
  'routes6',
] as const;

/** ICMP_SENT lists the ICMP messages the router sends, by family and type, in slot order. */
export const ICMP_SENT = [
  { family: 4, type: 'echo_reply' },
  { family: 4, type: 'net_unreachable' },
  { family: 4, type: 'host_unreachable' },
  { family: 4, type: 'port_unreachable' },
  { family: 4, type: 'frag_needed' },
  { family: 4, type: 'time_exceeded' },
  { family: 6, type: 'echo_reply' },
  { family: 6, type: 'no_route' },
  { family: 6, type: 'address_unreachable' },
  { family: 6, type: 'port_unreachable' },
  { family: 6, type: 'beyond_scope' },
  { family: 6, type: 'packet_too_big' },
  { family: 6, type: 'time_exceeded' },
] as const;

/** IcmpSent names one ICMP_SENT slot, e.g. "4/time_exceeded". */
export type IcmpSent = `${(typeof ICMP_SENT)[number]['family']}/${(typeof ICMP_SENT)[number]['type']}`;

/** R is the slot of each field in the router block. */
export const R = Object.fromEntries(ROUTER_FIELDS.map((f, i) => [f, i])) as Record<(typeof ROUTER_FIELDS)[number], number>;
/** RD is the slot of each drop reason in the router block. */
export const RD = Object.fromEntries(ROUTER_DROP_REASONS.map((f, i) => [f, ROUTER_FIELDS.length + i])) as Record<RouterDropReason, number>;
/** RI is the slot of each ICMP counter in the router block. */
export const RI = Object.fromEntries(ICMP_SENT.map((k, i) => [`${k.family}/${k.type}`, ROUTER_FIELDS.length + ROUTER_DROP_REASONS.length + i])) as Record<IcmpSent, number>;
/** ROUTER_STRIDE is the size of the router block. */
export const ROUTER_STRIDE = ROUTER_FIELDS.length + ROUTER_DROP_REASONS.length + ICMP_SENT.length;

/** RouterCounters is the router block as the API reports it. */
export type RouterCounters = Record<(typeof ROUTER_FIELDS)[number], number> & {
  drops: Partial<Record<RouterDropReason, number>>;
  icmpSent: { family: 4 | 6; type: string; count: number }[];
};

/** readRouterCounters copies the router block at `base` of `values` out. */
export function readRouterCounters(values: Float64Array, base: number): RouterCounters {
  const out = Object.fromEntries(ROUTER_FIELDS.map((f, i) => [f, values[base + i]!])) as unknown as RouterCounters;
  out.drops = {};
  for (const r of ROUTER_DROP_REASONS) {
    const n = values[base + RD[r]]!;
    if (n > 0) out.drops[r] = n;
  }
  out.icmpSent = ICMP_SENT.map((k) => ({ family: k.family, type: k.type, count: values[base + RI[`${k.family}/${k.type}`]]! }));
  return out;
}
