// NetdevDevice: an existing interface switched as a port through an AF_PACKET socket (12-byte virtio-net
// headers, promiscuous, blind to its own sends). The interface stays the user's: the daemon neither
// creates, configures nor removes it; closing the port closes the socket only.
import { native } from '../native/index.js';
import { Device } from '../tap/tap-device.js';

/** NetdevOpener opens the socket of a `netdev` port; the data plane takes one so tests can fake it. */
export type NetdevOpener = (ifname: string) => Device;

/** openNetdevDevice is the real NetdevOpener. */
export function openNetdevDevice(ifname: string): Device {
  const n = native();
  const { fd, mtu } = n.openPacket({ ifname });
  let closed = false;
  return {
    fd,
    name: ifname,
    offloads: 0,
    mtu,
    close() {
      if (closed) return;
      closed = true;
      n.closeFd(fd);
    },
  };
}
