// What the bridge (and later the router) knows of a port: an index, an MTU and whether it is up. The
// device behind it (TAP fd, AF_PACKET socket, unix socket) is the data plane's business.

/** SwitchPort is the bridge's view of one port. */
export interface SwitchPort {
  /** index is the port's slot in the data plane: unique among all ports, reused after removal. */
  readonly index: number;
  readonly name: string;
  /** mtu is the largest IP packet the port carries; the largest frame is mtu + 14 (+ 4 when tagged). */
  mtu: number;
  /** up is false while the device cannot take frames; the bridge does not flood to such a port. */
  up: boolean;
}
