// TunDevice: the TUN end of a routed link. The daemon creates it (IFF_TUN | IFF_NO_PI | IFF_VNET_HDR,
// offloads on, so the host stack hands over whole GSO packets) and holds its fd; the netdev is the host's
// (or a namespace's) end of the link, configured there. Not persistent: it disappears with the fd.
// Order: open + ioctls -> MTU -> move -> addresses (point-to-point when a peer is given) -> up -> routes
// (a route needs the device up). If a step fails the fd is closed, which removes the half-made netdev.
import { native } from '../native/index.js';
import { Cidr } from '../wire/cidr.js';
import { Device } from '../tap/tap-device.js';

/** TunSpec says how to make and place a TUN device. */
export interface TunSpec {
  name: string;
  netns?: string;
  addresses: Cidr[];
  /** peer, when given, is the point-to-point peer of the addresses of its family. */
  peer?: { family: 4 | 6; address: Uint8Array };
  mtu?: number;
  /** routes are prefixes routed out of the netdev on its side. */
  routes: Cidr[];
}

/** TunOpener makes a TUN device from a spec; the data plane takes one so that tests can fake devices. */
export type TunOpener = (spec: TunSpec) => Device;

/** openTunDevice is the real TunOpener, over the native addon. */
export function openTunDevice(spec: TunSpec): Device {
  const n = native();
  const { fd, name, offloads } = n.openTun({ name: spec.name, mode: 'tun', vnetHdrSize: 12, offload: true, exclusive: true });
  let closed = false;
  const device: Device = {
    fd,
    name,
    offloads,
    mtu: spec.mtu,
    close() {
      if (closed) return;
      closed = true;
      n.closeFd(fd);
    },
  };
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
    device.close();
    throw e;
  }
  return device;
}
