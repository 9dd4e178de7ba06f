// The one closed set of reasons for which a frame or packet is not delivered, layer 2 and layer 3 together;
// nothing is dropped silently. It has two parts by where a drop is counted:
// - DROP_REASONS, counted per port (the `reason` label of tapwire_port_drops_total): ingress reasons on
//   the port the frame came from, egress reasons on the port it failed to leave by;
// - ROUTER_DROP_REASONS, counted by the router (tapwire_router_drops_total): RFC 1812 / RFC 8200 discards.
// A reason that means the same in both (too_big: larger than the egress MTU) has one name.

/** DROP_REASONS lists the reasons counted per port, in the order of the counter slots. */
export const DROP_REASONS = [
  /** ingress: shorter than the virtio-net header plus an Ethernet header */
  'runt',
  /** ingress: the frame filled the whole read slot, so it may have been cut */
  'truncated',
  /** ingress: a virtio-net header with an unknown GSO type or a checksum request outside the frame */
  'bad_vnet_hdr',
  /** ingress: a multicast or broadcast source MAC */
  'group_source',
  /** ingress: source MAC 00:00:00:00:00:00 */
  'zero_source',
  /** ingress: destination in 01:80:C2:00:00:00-0F, which bridges never relay */
  'reserved_group',
  /** ingress: the destination was learned on the ingress port itself */
  'same_port',
  /** ingress: flooded, but the bridge has no other port that is up */
  'no_egress',
  /** egress: larger than the egress port's MTU (a GSO frame: its segment size is) */
  'too_big',
  /** egress: the port (or the device behind it) is down */
  'port_down',
  /** egress: the device refused the write for another reason */
  'write_error',
  /** ingress: reading from the device failed for good (the device is gone); the port goes to `error` */
  'read_error',
  /** ingress: a socket port's peer sent a length no frame can have; its connection is closed */
  'bad_framing',
  /** egress: a socket port's peer reads too slowly: its send queue is full */
  'backlog',
  /** ingress: a GSO frame whose packet headers cannot be read (so its segment size is unknown); egress, to a port without offloads: a GSO frame whose header does not match its packet (type, lengths, offsets) */
  'bad_gso',
  /** egress, to a port without offloads: a GSO frame tapwire does not segment (UFO, IPv6 routing/fragment/AH/ESP headers, QinQ) */
  'unsupported_gso',
  /** egress, to a port without offloads: a GSO frame that would make more than 512 segments */
  'too_many_segments',
  /** any: handling the frame threw (a bug): the frame is dropped, logged (rate-limited), and forwarding goes on */
  'internal_error',
  /** ingress: the kernel took one frame off the device's queue and failed to hand it over (EINVAL, EMSGSIZE,
   * ENOBUFS, ENOMEM; e.g. a UFO frame a guest wrote into its TAP); reading goes on */
  'rx_frame_error',
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

/** DropReason is one of DROP_REASONS. */
export type DropReason = (typeof DROP_REASONS)[number];

/** DROP_INDEX maps a reason to its counter slot. */
export const DROP_INDEX: Readonly<Record<DropReason, number>> = Object.fromEntries(DROP_REASONS.map((r, i) => [r, i])) as Record<DropReason, number>;

/** AnyDropReason is any reason of the closed set, wherever it is counted. */
export type AnyDropReason = DropReason | RouterDropReason;
