// NetdevDevice: an existing interface switched as a port through an AF_PACKET socket (12-byte virtio-net
// headers, promiscuous, blind to its own sends). The interface stays the user's: the daemon neither
// creates, configures nor removes it; closing the port closes the socket only.
import { native } from '../native/index.js';
import type { NetdevSpec } from './devices.js';
import { FdPort } from './fd-port.js';
import type { Port } from './port.js';

/** openNetdevPort opens the AF_PACKET socket of a `netdev` port on spec.ifname; the port is in slot `index`. */
export function openNetdevPort(spec: NetdevSpec, index: number): Port {
  const n = native();
  const { fd, mtu } = n.openPacket({ ifname: spec.ifname });
  return new FdPort({ index, kind: 'netdev', name: spec.name, ifname: spec.ifname, fd, offloads: 0, mtu, up: true, release: () => n.closeFd(fd) });
}
