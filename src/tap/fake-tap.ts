// FakeTapOpener: an in-memory TapOpener for unit tests. Devices get made-up fds; nothing touches the kernel.
import { Device, TapOpener, TapSpec } from './tap-device.js';

/** FakeTaps hands out fake devices and remembers what was made and closed. */
export class FakeTaps {
  private nextFd = 100;
  readonly open = new Map<number, { spec: TapSpec; device: Device }>();
  /** failNext, when set, makes the next open throw this error (to test that failures change nothing). */
  failNext: Error | undefined;

  readonly opener: TapOpener = (spec) => {
    if (this.failNext !== undefined) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
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

  /** fdOf returns the fd of the open device named `name`. */
  fdOf(name: string): number {
    for (const [fd, d] of this.open) if (d.spec.name === name) return fd;
    throw new Error(`no fake TAP named ${name}`);
  }
}
