// TunDevice: the TUN end of a routed link. The daemon creates it (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR,
// offloads on, so the host stack hands over whole GSO packets) and holds its fd; the netdev is the host's
// (or a namespace's) end of the link, configured there. Not persistent: it disappears with the fd.
// Order: open + ioctls -> MTU -> move -> addresses (point-to-point when a peer is given) -> up -> routes
// (a route needs the device up). If a step fails the fd is closed, which removes the half-made netdev.
import { native } from '../native/index.js';
import type { TunSpec } from '../ports/devices.js';
import { FdPort } from '../ports/fd-port.js';
import type { Port } from '../ports/port.js';

const DEFAULT_MTU = 1500;

/** openTunPort makes the TUN device of a routed link over the native addon; the port is in slot `index`. */
export function openTunPort(spec: TunSpec, index: number): Port {
  const n = native();
  const { fd, name, offloads } = n.openTun({ name: spec.name, mode: 'tun', vnetHdrSize: 12, offload: true, exclusive: true });
  const port = new FdPort({ index, kind: 'tun', name: spec.name, ifname: name, fd, offloads, mtu: spec.mtu ?? DEFAULT_MTU, up: true, release: () => n.closeFd(fd) });
  try {
    if (spec.mtu !== undefined) n.linkSet({ ifname: name, mtu: spec.mtu });
    if (spec.netns !== undefined) n.linkMove({ ifname: name, to: spec.netns });
    for (const a of spec.addresses) {
      const peer = spec.peer !== undefined && spec.peer.family === a.family ? spec.peer.address : undefined;
      n.addrAdd({ ifname: name, netns: spec.netns, family: a.family, address: a.address, prefixLength: a.prefixLength, nodad: true, peer });
    }
    n.linkSet({ ifname: name, netns: spec.netns, up: true });
    for (const r of spec.routes) {
      n.routeAdd({ ifname: name, netns: spec.netns, family: r.family, destination: r.address, prefixLength: r.prefixLength });
    }
  } catch (e) {
    port.close();
    throw e;
  }
  return port;
}
