// The router's counters: one closed set of drop reasons (RFC 1812 / RFC 8200 discards), the ICMP messages
// it sends by family and type, and its activity. The data plane writes them into the shared counter block;
// metrics and the API read them there.

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

/** ROUTER_DROP_REASONS are why the router discards a packet; each is counted once per packet. */
export const ROUTER_DROP_REASONS = [
  /** shorter than the minimum IP header */
  'ip_short',
  /** version field does not match the EtherType / is neither 4 nor 6 */
  'ip_version',
  /** IPv4 IHL below 5 or beyond the packet */
  'ip_header_len',
  /** the IP length field disagrees with the packet */
  'ip_total_len',
  /** IPv4 header checksum wrong */
  'ip_checksum',
  /** source is loopback, multicast, reserved, unspecified or one of the router's own addresses */
  'martian_source',
  /** destination is loopback, reserved or unspecified */
  'martian_destination',
  /** valid but not to be routed: link-layer broadcast, multicast or link-local scope, limited broadcast */
  'not_forwarded',
  /** no route to the destination (Destination Unreachable sent) */
  'no_route',
  /** TTL / hop limit would reach 0 (Time Exceeded sent) */
  'ttl_expired',
  /** larger than the egress MTU and not fragmentable (Fragmentation Needed / Packet Too Big sent) */
  'too_big',
  /** the next hop did not answer ARP/NDP (Host/Address Unreachable sent) */
  'neighbor_unreachable',
  /** the queue of packets waiting for a next hop was full */
  'neighbor_queue_full',
  /** addressed to the router with a protocol it does not serve */
  'unsupported',
  /** an ARP packet that is not Ethernet/IPv4 or is malformed */
  'bad_arp',
  /** an NDP message that fails RFC 4861 validation */
  'bad_ndp',
  /** an 802.1Q-tagged frame reached the router, which has no VLAN interfaces */
  'vlan_tagged',
  /** the egress interface is down or gone */
  'interface_down',
  /** passed the header checks but could not be handled (e.g. IPv4 options too broken to fragment) */
  'malformed',
] as const;

/** RouterDropReason is one of ROUTER_DROP_REASONS. */
export type RouterDropReason = (typeof ROUTER_DROP_REASONS)[number];

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
