// deviceError: what the kernel (or a socket) refused, as the TwError the API answers with, judged by the
// call that failed. One table for every port kind.
import { TwError } from '../errors.js';
import { isNativeError } from '../native/index.js';

/** deviceError turns a failure to make `name`'s device into a TwError with the errno text. */
export function deviceError(e: unknown, name: string, netns?: string): TwError {
  if (e instanceof TwError) return e;
  if (isNativeError(e)) {
    if (e.code === 'ENOENT' && e.syscall.startsWith('open(/run/netns')) return new TwError('TW_ERR_VALIDATION', `network namespace ${netns ?? '?'} does not exist`);
    // TUNSETIFF: EBUSY for a TUN/TAP of that name in use (or persistent, with IFF_TUN_EXCL), EINVAL for an
    // interface of that name that is not a TUN/TAP (lo, eth0). Moving: EEXIST when the target has one.
    if (e.syscall === 'ioctl(TUNSETIFF)' && (e.code === 'EBUSY' || e.code === 'EINVAL')) return new TwError('TW_ERR_EXISTS', `an interface named ${name} already exists (${e.message})`);
    if (e.syscall.includes('netns') && e.code === 'EEXIST') return new TwError('TW_ERR_EXISTS', `namespace ${netns ?? '?'} already has an interface named ${name}`);
    if (e.syscall.startsWith('rtnetlink RTM_NEWADDR') && e.code === 'EEXIST') return new TwError('TW_ERR_VALIDATION', `${name}: an address is already on the interface (${e.message})`);
    return new TwError('TW_ERR_DEVICE', `${name}: ${e.message}`);
  }
  return new TwError('TW_ERR_DEVICE', `${name}: ${e instanceof Error ? e.message : String(e)}`);
}

/** netdevError is deviceError for a `netdev` port: a missing interface is the caller's mistake. */
export function netdevError(e: unknown, ifname: string): TwError {
  if (isNativeError(e) && e.code === 'ENODEV') return new TwError('TW_ERR_VALIDATION', `there is no interface named ${ifname} in the daemon's namespace`);
  return deviceError(e, ifname);
}

/** vmError is deviceError for a `vm` port: a TAP of that name that cannot be adopted is refused as such. */
export function vmError(e: unknown, name: string): TwError {
  if (isNativeError(e) && e.syscall === 'vm port') return new TwError(e.code === 'EEXIST' ? 'TW_ERR_EXISTS' : 'TW_ERR_VALIDATION', e.message);
  return deviceError(e, name);
}

/** socketError is deviceError for a `socket` port's listening socket. */
export function socketError(e: unknown, path: string): TwError {
  if (e instanceof TwError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') return new TwError('TW_ERR_EXISTS', `${path} exists and is not a stale socket (or is in use)`);
  if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOTDIR') return new TwError('TW_ERR_VALIDATION', `cannot listen on ${path}: ${err.message}`);
  return new TwError('TW_ERR_DEVICE', `cannot listen on ${path}: ${err.message}`);
}
