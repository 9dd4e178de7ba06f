// Who may have an fd of a `vm` port's TAP (`tapwire exec`, served by the FdServer of src/ports/fd-server.ts):
// root, the port's owner, or a member of its group, judged by the credentials the kernel gives for the
// caller. A granted fd is a new queue attached to the persistent TAP, which fails while another emulator
// holds it; the caller's copy is its own, and the daemon's is closed once it is sent.
import type { PortInfo } from '../dataplane/protocol.js';
import type { FdGrant, FdRefusal, PeerCred } from '../ports/fd-server.js';
import { closeVmQueue, openVmQueue } from '../ports/vm.js';
import type { Logger } from './reconcile.js';

/** vmFdFor answers a request for an fd of vm port `port`, given the port as the data plane lists it (or
 * undefined when there is none) and the caller's credentials. */
export function vmFdFor(port: string, p: PortInfo | undefined, cred: PeerCred, log: Logger): FdGrant | FdRefusal {
  if (p === undefined || p.kind !== 'vm') return { error: `there is no vm port named ${port}` };
  const member = p.gid !== undefined && (cred.gid === p.gid || (cred.groups ?? []).includes(p.gid));
  if (cred.uid !== 0 && cred.uid !== p.uid && !member) {
    log.warn({ port, uid: cred.uid, pid: cred.pid }, 'refused a vm port fd');
    return {
      error: `permission denied: vm port ${port} belongs to ${p.uid !== undefined ? `uid ${p.uid}` : ''}${p.uid !== undefined && p.gid !== undefined ? ' and ' : ''}${p.gid !== undefined ? `gid ${p.gid}` : ''}`,
    };
  }
  let fd: number;
  try {
    fd = openVmQueue(p.ifname);
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { error: code === 'EBUSY' ? `the TAP of vm port ${port} is held by another emulator` : `cannot open the TAP of vm port ${port}: ${(e as Error).message}` };
  }
  log.info({ port, uid: cred.uid, pid: cred.pid }, 'passed a vm port fd');
  return { fd, close: () => closeVmQueue(fd), info: { ifname: p.ifname, mac: p.mac } };
}
