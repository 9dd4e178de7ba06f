// realDevices: the PortDevices of a running daemon, each kind's opener over the kernel.
import type { PortDevices } from '../ports/devices.js';
import { openNetdevPort } from '../ports/netdev.js';
import { openUnixSocketPort } from '../ports/unix-socket-port.js';
import { openVmPort } from '../ports/vm.js';
import { openTapPort } from '../tap/tap-device.js';
import { openTunPort } from '../tun/tun-device.js';

/** realDevices makes real ports. */
export const realDevices: PortDevices = {
  tap: openTapPort,
  tun: openTunPort,
  netdev: openNetdevPort,
  vm: openVmPort,
  socket: (spec, index) => openUnixSocketPort(spec, index),
};
