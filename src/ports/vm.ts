// VmDevice: the switch's side of a `vm` port. The daemon creates a persistent TAP that an emulator attaches
// to (by name, `-netdev tap,ifname=NAME`, or through an fd the daemon passes), and switches the frames of
// that TAP's netdev through an AF_PACKET socket (the same 12-byte virtio-net headers as every port, blind
// to its own sends): the emulator may come and go, the port stays.
//
// Creation: TUNSETIFF with IFF_TUN_EXCL (never attach to a stranger's device) -> TUNSETPERSIST ->
// TUNSETOWNER / TUNSETGROUP (a persistent TAP with neither could be taken by anyone who can open
// /dev/net/tun, so the spec must carry one) -> close the creating fd -> disable IPv6 and ARP on the host
// side so that the host stack stays silent on the VM's segment -> MTU, up -> the AF_PACKET socket.
// If a step fails, a TAP made here is deleted again.
//
// Adoption: a daemon restart finds the TAP still there (an emulator may hold it). It is taken over only if
// it is a persistent TAP with the owner and group the spec asks for; anything else of that name is refused.
//
// The port is `up` while the TAP has carrier, that is while an emulator holds it; `down` otherwise.
import { readFileSync, writeFileSync } from 'node:fs';
import { isNativeError, native } from '../native/index.js';
import type { VmSpec } from './devices.js';
import { FdPort } from './fd-port.js';

/** VmPortInit is what a VmPort is made of: its fd and how to read the carrier, release the fd and delete
 * the TAP (the real ones here; the fakes of the unit tests give their own). */
export interface VmPortInit {
  index: number;
  name: string;
  fd: number;
  mtu: number;
  /** adopted is true when the TAP was there already (a restart) and was taken over. */
  adopted: boolean;
  /** carrier says whether an emulator holds the TAP; undefined when the TAP is gone. */
  carrier: () => boolean | undefined;
  release: () => void;
  removeTap: () => void;
}

/** VmPort is a `vm` port: the AF_PACKET socket on the persistent TAP, whose carrier is the port's state. */
export class VmPort extends FdPort {
  readonly adopted: boolean;
  /** carrier says whether an emulator holds the TAP; undefined when the TAP is gone. */
  readonly carrier: () => boolean | undefined;
  private readonly removeTap: () => void;

  constructor(init: VmPortInit) {
    super({ index: init.index, kind: 'vm', name: init.name, ifname: init.name, fd: init.fd, offloads: 0, mtu: init.mtu, up: false, release: init.release });
    this.adopted = init.adopted;
    this.carrier = init.carrier;
    this.removeTap = init.removeTap;
    this.up = this.carrier() === true;
    this.state = this.up ? 'up' : 'down';
  }

  /** refresh follows the carrier: up while an emulator holds the TAP, down otherwise (a down port gets no
   * floods: what the bridge would send there is lost in the TAP anyway). A failed port stays failed. */
  refresh(): void {
    if (this.state === 'error') return;
    const carrier = this.carrier();
    const up = carrier === true;
    if (up === this.up) return;
    this.setState(up ? 'up' : 'down', up ? 'an emulator attached to a vm port' : `the emulator of a vm port went away (TAP ${carrier === undefined ? 'gone' : 'present'})`);
  }

  /** remove closes the socket and deletes the TAP (deleting the port); close() leaves the TAP in place. */
  remove(): void {
    this.close();
    this.removeTap();
  }
}

const IFF_TAP = 0x0002;
const IFF_PERSIST = 0x0800;
const NO_ID = 4294967295; // (uid_t)-1: "not set" in /sys/class/net/NAME/owner and group

function sysfs(name: string, file: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function refused(message: string, code = 'EEXIST', errno = 17): Error {
  return Object.assign(new Error(message), { code, errno, syscall: 'vm port' });
}

/** checkAdoptable throws unless NAME is a persistent TAP owned as the spec asks. */
function checkAdoptable(spec: VmSpec): void {
  const flags = sysfs(spec.name, 'tun_flags');
  if (flags === undefined) throw refused(`an interface named ${spec.name} exists and is not a TAP`);
  const f = Number.parseInt(flags, 16);
  if ((f & IFF_TAP) === 0 || (f & IFF_PERSIST) === 0) throw refused(`an interface named ${spec.name} exists and is not a persistent TAP`);
  const owner = Number(sysfs(spec.name, 'owner') ?? NO_ID);
  const group = Number(sysfs(spec.name, 'group') ?? NO_ID);
  const want = (id: number | undefined): number => id ?? NO_ID;
  if ((owner === -1 ? NO_ID : owner) !== want(spec.uid) || (group === -1 ? NO_ID : group) !== want(spec.gid)) {
    throw refused(`a TAP named ${spec.name} exists with another owner/group (owner ${owner}, group ${group}); delete it or name the port otherwise`);
  }
}

/** openVmPort makes (or adopts) the TAP of a `vm` port and opens its socket; the port is in slot `index`. */
export function openVmPort(spec: VmSpec, index: number): VmPort {
  if (spec.uid === undefined && spec.gid === undefined) throw refused(`vm port ${spec.name}: an owner or a group is required`, 'EINVAL', 22);
  const n = native();
  let adopted = false;
  try {
    const { fd } = n.openTun({ name: spec.name, mode: 'tap', vnetHdrSize: 12, offload: true, exclusive: true });
    try {
      n.setPersist(fd, true);
      if (spec.uid !== undefined) n.setOwner(fd, spec.uid);
      if (spec.gid !== undefined) n.setGroup(fd, spec.gid);
    } catch (e) {
      try {
        n.setPersist(fd, false);
      } catch {
        // the close below still removes a TAP that never became persistent
      }
      n.closeFd(fd);
      throw e;
    }
    n.closeFd(fd);
  } catch (e) {
    if (!(isNativeError(e) && e.code === 'EBUSY')) throw e;
    checkAdoptable(spec);
    adopted = true;
  }
  const removeTap = (): void => {
    try {
      n.linkDel({ ifname: spec.name });
    } catch (e) {
      if (!(isNativeError(e) && e.code === 'ENODEV')) throw e;
    }
  };
  let fd: number;
  let mtu: number;
  try {
    // The host side carries the VM's frames only: no IPv6 link-local address, no ARP, no host traffic.
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${spec.name}/disable_ipv6`, '1');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // IPv6 off in the kernel: nothing to do
    }
    n.linkSet({ ifname: spec.name, mtu: spec.mtu, noarp: true, up: true });
    ({ fd, mtu } = n.openPacket({ ifname: spec.name }));
  } catch (e) {
    if (!adopted) removeTap();
    throw e;
  }
  const carrier = (): boolean | undefined => {
    if (sysfs(spec.name, 'operstate') === undefined) return undefined;
    // `carrier` cannot be read while the link is administratively down (EINVAL): no carrier then.
    return sysfs(spec.name, 'carrier') === '1';
  };
  return new VmPort({ index, name: spec.name, fd, mtu, adopted, carrier, release: () => n.closeFd(fd), removeTap });
}

/** openVmQueue attaches to the TAP of a `vm` port and returns the fd, for an emulator that gets it passed
 * (`-netdev tap,fd=N`). The fd has IFF_VNET_HDR; the emulator sets the header size and offloads it wants.
 * It fails with EBUSY while another emulator holds the TAP. */
export function openVmQueue(name: string): number {
  const flags = sysfs(name, 'tun_flags');
  if (flags === undefined || (Number.parseInt(flags, 16) & IFF_TAP) === 0) throw refused(`${name} is not a TAP`, 'ENODEV', 19);
  return native().openTun({ name, mode: 'tap', vnetHdrSize: 12, offload: false }).fd;
}

/** closeVmQueue closes an fd from openVmQueue (the daemon's copy, once it has been passed on). */
export function closeVmQueue(fd: number): void {
  native().closeFd(fd);
}
