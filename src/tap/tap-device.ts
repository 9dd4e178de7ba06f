// TapDevice: a TAP the daemon creates and holds (IFF_VNET_HDR, offloads on), its netdev configured and
// left in the daemon's namespace or moved into a named one. The device is not persistent: its netdev
// disappears when the fd closes, so a daemon that dies leaves nothing behind.
// Order: open + ioctls (native openTun) -> MAC, MTU in the daemon's namespace -> move -> addresses -> up.
// If any step fails the fd is closed, which removes the half-made netdev wherever it is.
import { native } from '../native/index.js';
import type { TapSpec } from '../ports/devices.js';
import { FdPort } from '../ports/fd-port.js';
import type { Port } from '../ports/port.js';

const DEFAULT_MTU = 1500;

/** openTapPort makes the TAP of a `tap` port over the native addon and returns the port in slot `index`. */
export function openTapPort(spec: TapSpec, index: number): Port {
  const n = native();
  // exclusive: never attach to an existing (e.g. a VM's persistent) TAP of the same name.
  const { fd, name, offloads } = n.openTun({ name: spec.name, mode: 'tap', vnetHdrSize: 12, offload: true, exclusive: true });
  const port = new FdPort({ index, kind: 'tap', name: spec.name, ifname: name, fd, offloads, mtu: spec.mtu ?? DEFAULT_MTU, up: spec.up, release: () => n.closeFd(fd) });
  try {
    if (spec.mac !== undefined || spec.mtu !== undefined) n.linkSet({ ifname: name, mac: spec.mac, mtu: spec.mtu });
    if (spec.netns !== undefined) n.linkMove({ ifname: name, to: spec.netns });
    for (const a of spec.addresses) {
      n.addrAdd({ ifname: name, netns: spec.netns, family: a.family, address: a.address, prefixLength: a.prefixLength, nodad: true });
    }
    if (spec.up) n.linkSet({ ifname: name, netns: spec.netns, up: true });
  } catch (e) {
    port.close();
    throw e;
  }
  return port;
}
