// The one closed set of reasons for which a frame is not delivered. Every drop is counted per port under
// one of these (and exported as the `reason` label of tapwire_port_drops_total); nothing is dropped
// silently. Ingress reasons count on the port the frame came from, egress reasons on the port it failed
// to leave by.

/** DROP_REASONS lists every reason, in the order of the counter slots. */
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
  /** ingress: reading from the device failed */
  'read_error',
  /** ingress: a socket port's peer sent a length no frame can have; its connection is closed */
  'bad_framing',
  /** egress: a socket port's peer reads too slowly: its send queue is full */
  'backlog',
  /** egress, to a port without offloads: a GSO frame whose header does not match its packet (type, lengths, offsets) */
  'bad_gso',
  /** egress, to a port without offloads: a GSO frame tapwire does not segment (UFO, IPv6 routing/fragment/AH/ESP headers, QinQ) */
  'unsupported_gso',
  /** egress, to a port without offloads: a GSO frame that would make more than 512 segments */
  'too_many_segments',
  /** any: handling the frame threw (a bug): the frame is dropped, logged (rate-limited), and forwarding goes on */
  'internal_error',
] as const;

/** DropReason is one of DROP_REASONS. */
export type DropReason = (typeof DROP_REASONS)[number];

/** DROP_INDEX maps a reason to its counter slot. */
export const DROP_INDEX: Readonly<Record<DropReason, number>> = Object.fromEntries(
  DROP_REASONS.map((r, i) => [r, i]),
) as Record<DropReason, number>;
