// FakeTapOpener: an in-memory TapOpener for unit tests. Devices get made-up fds; nothing touches the kernel.
import { Device, TapOpener, TapSpec } from './tap-device.js';
import { TunOpener } from '../tun/tun-device.js';
import { VmDevice, VmOpener } from '../ports/vm.js';

/** FakeTaps hands out fake devices and remembers what was made and closed. */
export class FakeTaps {
  private nextFd = 100;
  readonly open = new Map<number, { spec: TapSpec; device: Device }>();
  /** failNext, when set, makes the next open throw this error (to test that failures change nothing). */
  failNext: Error | undefined;

  /** namespaces, when given, are the only network namespaces a spec may name (others fail like the
   * kernel: ENOENT opening /run/netns/NAME). */
  constructor(
    private readonly namespaces?: string[],
    private readonly interfaces: string[] = [],
  ) {}

  /** netdevOpener opens a fake AF_PACKET socket on one of `interfaces` (others fail with ENODEV). */
  readonly netdevOpener = (ifname: string): Device => {
    if (!this.interfaces.includes(ifname)) {
      throw Object.assign(new Error(`if_nametoindex(${ifname}): No such device (ENODEV)`), { code: 'ENODEV', errno: 19, syscall: `if_nametoindex(${ifname})` });
    }
    const fd = this.nextFd++;
    const device: Device = { fd, name: ifname, offloads: 0, mtu: 1500, close: () => this.open.delete(fd) };
    this.open.set(fd, { spec: { name: ifname, addresses: [], up: true }, device });
    return device;
  };

  readonly opener: TapOpener = (spec) => {
    if (this.failNext !== undefined) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (spec.netns !== undefined && this.namespaces !== undefined && !this.namespaces.includes(spec.netns)) {
      throw Object.assign(new Error(`open(/run/netns/${spec.netns}): No such file or directory (ENOENT)`), { code: 'ENOENT', errno: 2, syscall: `open(/run/netns/${spec.netns})` });
    }
    for (const d of this.open.values()) {
      if (d.spec.name === spec.name) throw Object.assign(new Error('ioctl(TUNSETIFF): Device or resource busy (EBUSY)'), { code: 'EBUSY', errno: 16, syscall: 'ioctl(TUNSETIFF)' });
    }
    const fd = this.nextFd++;
    const device: Device = {
      fd,
      name: spec.name,
      offloads: 0,
      close: () => {
        this.open.delete(fd);
      },
    };
    this.open.set(fd, { spec, device });
    return device;
  };

  /** tunOpener makes fake TUN devices, failing like the kernel for a missing namespace or a name in use. */
  readonly tunOpener: TunOpener = (spec) => this.opener({ name: spec.name, netns: spec.netns, addresses: spec.addresses, mtu: spec.mtu, up: true });

  /** vmTaps are the persistent TAPs of vm ports: they outlive close() and go with remove(); `carrier`
   * stands for an emulator holding the TAP. */
  readonly vmTaps = new Map<string, { uid?: number; gid?: number; carrier: boolean }>();

  /** vmOpener makes (or adopts, when owned alike) the fake persistent TAP of a vm port. */
  readonly vmOpener: VmOpener = (spec) => {
    const existing = this.vmTaps.get(spec.name);
    const taken = [...this.open.values()].some((d) => d.spec.name === spec.name);
    if (taken || (existing !== undefined && (existing.uid !== spec.uid || existing.gid !== spec.gid))) {
      throw Object.assign(new Error(`an interface named ${spec.name} exists and is not a vm TAP of this owner`), { code: 'EEXIST', errno: 17, syscall: 'vm port' });
    }
    const tap = existing ?? { uid: spec.uid, gid: spec.gid, carrier: false };
    this.vmTaps.set(spec.name, tap);
    const fd = this.nextFd++;
    const close = (): void => {
      this.open.delete(fd);
    };
    const device: VmDevice = {
      fd,
      name: spec.name,
      offloads: 0,
      mtu: spec.mtu ?? 1500,
      adopted: existing !== undefined,
      close,
      remove: () => {
        close();
        this.vmTaps.delete(spec.name);
      },
      carrier: () => (this.vmTaps.has(spec.name) ? tap.carrier : undefined),
    };
    this.open.set(fd, { spec: { name: spec.name, addresses: [], up: true }, device });
    return device;
  };

  /** fdOf returns the fd of the open device named `name`. */
  fdOf(name: string): number {
    for (const [fd, d] of this.open) if (d.spec.name === name) return fd;
    throw new Error(`no fake TAP named ${name}`);
  }
}
