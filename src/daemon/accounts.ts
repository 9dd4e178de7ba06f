// Users and groups by name or id, for the owner and group of a `vm` port's TAP. Names are looked up with
// getent(1), so that every source the system's NSS knows (files, LDAP, systemd's dynamic users) is asked,
// as `ip tuntap add user NAME` would; ids are taken as they are. Lookups happen when a port is created or
// restored, never per frame.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TwError } from '../errors.js';

const run = promisify(execFile);

async function lookup(database: 'passwd' | 'group', name: string): Promise<number> {
  let out: string;
  try {
    ({ stdout: out } = await run('getent', [database, '--', name], { timeout: 10_000 }));
  } catch (e) {
    const err = e as Error & { code?: unknown };
    // getent exits 2 when the key is not found.
    if (err.code === 2) throw new TwError('TW_ERR_VALIDATION', `there is no ${database === 'passwd' ? 'user' : 'group'} named ${name}`);
    throw new TwError('TW_ERR_DEVICE', `getent ${database} ${name} failed: ${err.message}`);
  }
  const id = Number(out.split('\n')[0]!.split(':')[2]);
  if (!Number.isInteger(id) || id < 0) throw new TwError('TW_ERR_DEVICE', `getent ${database} ${name} gave no id`);
  return id;
}

/** resolveUser turns a user name or uid into a uid. */
export function resolveUser(value: string | number): Promise<number> {
  return typeof value === 'number' ? Promise.resolve(value) : lookup('passwd', value);
}

/** resolveGroup turns a group name or gid into a gid. */
export function resolveGroup(value: string | number): Promise<number> {
  return typeof value === 'number' ? Promise.resolve(value) : lookup('group', value);
}
