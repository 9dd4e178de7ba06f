// TapDevice: a TAP the daemon creates and holds (IFF_VNET_HDR, offloads on), its netdev configured and
// left in the daemon's namespace or moved into a named one. The device is not persistent: its netdev
// disappears when the fd closes, so a daemon that dies leaves nothing behind.
// Order: open + ioctls (native openTun) -> MAC, MTU in the daemon's namespace -> move -> addresses -> up.
// If any step fails the fd is closed, which removes the half-made netdev wherever it is.
import { native } from '../native/index.js';
import { Cidr } from '../wire/cidr.js';

/** TapSpec says how to make and place a TAP. */
export interface TapSpec {
  name: string;
  /** netns names an existing namespace (/run/netns/NAME) to move the netdev into. */
  netns?: string;
  addresses: Cidr[];
  mac?: Uint8Array;
  mtu?: number;
  up: boolean;
}

/** Device is a held device fd with the name of its netdev. */
export interface Device {
  readonly fd: number;
  readonly name: string;
  /** offloads are the TUN_F_* bits the kernel accepted (0 where they do not apply). */
  readonly offloads: number;
  /** mtu is the interface's MTU where the device found it (netdev ports), else undefined. */
  readonly mtu?: number;
  /** close releases the fd (and so removes a non-persistent netdev); safe to call twice. */
  close(): void;
}

/** TapOpener makes a TAP device from a spec; the data plane takes one so that tests can fake devices. */
export type TapOpener = (spec: TapSpec) => Device;

/** openTapDevice is the real TapOpener, over the native addon. */
export function openTapDevice(spec: TapSpec): Device {
  const n = native();
  // exclusive: never attach to an existing (e.g. a VM's persistent) TAP of the same name.
  const { fd, name, offloads } = n.openTun({ name: spec.name, mode: 'tap', vnetHdrSize: 12, offload: true, exclusive: true });
  let closed = false;
  const device: Device = {
    fd,
    name,
    offloads,
    close() {
      if (closed) return;
      closed = true;
      n.closeFd(fd);
    },
  };
  try {
    if (spec.mac !== undefined || spec.mtu !== undefined) n.linkSet({ ifname: name, mac: spec.mac, mtu: spec.mtu });
    if (spec.netns !== undefined) n.linkMove({ ifname: name, to: spec.netns });
    for (const a of spec.addresses) {
      n.addrAdd({ ifname: name, netns: spec.netns, family: a.family, address: a.address, prefixLength: a.prefixLength, nodad: true });
    }
    if (spec.up) n.linkSet({ ifname: name, netns: spec.netns, up: true });
  } catch (e) {
    device.close();
    throw e;
  }
  return device;
}
