// StateStore: the daemon's desired state on disk, <state-dir>/state.json. Every accepted change is written
// atomically (a temporary file in the same directory, fsync, rename over the old file, fsync the
// directory), so a crash or kill -9 at any moment leaves either the old or the new state, never a torn one.
// A file that cannot be read as a state of a known version is never overwritten: load() throws and the
// daemon refuses to start, keeping the file for a person to look at.
// A save killed between creating its temporary file (state.json.<pid>.tmp) and the rename leaves that file
// behind. The daemon is the only writer of its state directory, so load(), which runs once at start before
// any save, removes the temporary files of processes that are gone, and of its own pid (a former process
// that had the same pid, as pid 1 in a container): no save of this process is under way yet. A file of a
// live process other than this one is left alone, in case another tapwired is wrongly saving there now.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cidr } from '../wire/cidr.js';
import type { BridgeSpec, FdbRow, IpAddress, LinkSpec, NetdevPortSpec, RouteSpec, RouterInterfaceSpec, SocketPortSpec, TapPortSpec, VmPortSpec } from '../dataplane/protocol.js';

/** STATE_VERSION is the format version this build writes and reads. */
export const STATE_VERSION = 1;

/** AsText is a validated spec as it is saved: its parsed addresses and prefixes back in canonical text. */
export type AsText<T> = { [K in keyof T]: NonNullable<T[K]> extends Cidr[] ? string[] : NonNullable<T[K]> extends Cidr | IpAddress ? string : T[K] };

/** SavedTapPort is a `tap` port as the user asked for it (normalized). */
export type SavedTapPort = AsText<TapPortSpec>;

/** SavedNetdevPort is a `netdev` port. */
export type SavedNetdevPort = NetdevPortSpec;

/** SavedVmPort is a `vm` port as validated, with owner and group as the user gave them: the uid and gid
 * they stand for are looked up again at each start. */
export type SavedVmPort = Omit<VmPortSpec, 'uid' | 'gid'>;

/** SavedSocketPort is a `socket` port, kept like a vm port (owner and group, not ids). */
export type SavedSocketPort = Omit<SocketPortSpec, 'uid' | 'gid'>;

/** SavedPort is a port as the user asked for it (normalized). */
export type SavedPort = SavedTapPort | SavedNetdevPort | SavedVmPort | SavedSocketPort;

/** SavedFdbEntry is a static FDB entry: a unicast MAC pinned to a port. */
export type SavedFdbEntry = Pick<FdbRow, 'mac' | 'port'>;

/** SavedBridge is a bridge with its ports and static FDB entries. */
export type SavedBridge = BridgeSpec & { ports: SavedPort[]; fdb: SavedFdbEntry[] };

/** SavedLink is a routed link (a TUN device) as the user asked for it (normalized). */
export type SavedLink = AsText<LinkSpec>;

/** SavedRouterInterface is a router interface; `mac` is kept (given or derived) for bridge interfaces. */
export type SavedRouterInterface = AsText<Omit<RouterInterfaceSpec, 'mac'>> & { mac?: string };

/** SavedRoute is a static route. */
export type SavedRoute = AsText<RouteSpec>;

/**
 * SavedState is the content of state.json. `links`, `routerInterfaces` and `routes` came with the router
 * and are optional within version 1: a file written before them has none, and loads as a state without
 * links, router interfaces or routes (so STATE_VERSION stays 1). This build always writes them.
 */
export interface SavedState {
  version: typeof STATE_VERSION;
  bridges: SavedBridge[];
  links?: SavedLink[];
  routerInterfaces?: SavedRouterInterface[];
  routes?: SavedRoute[];
}

/** STATE_DIR_MODE is the mode a state directory is created with (its files are 0640, the API token 0600). */
export const STATE_DIR_MODE = 0o750;

/** StateError says why a state file cannot be used. */
export class StateError extends Error {
  override name = 'StateError';
}

/** StateStore reads and atomically writes state.json in `dir`. */
export class StateStore {
  readonly path: string;

  /** onWarning receives problems that do not fail a save (set by the daemon to its log). */
  onWarning?: (message: string) => void;

  constructor(readonly dir: string) {
    this.path = join(dir, 'state.json');
  }

  /** load returns the saved state, undefined when there is none yet, or throws StateError. It first
   * removes stale temporary files (see the comment at the top of this file). */
  load(): SavedState | undefined {
    this.removeStaleTemporaries();
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateError(`cannot read ${this.path}: ${(e as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new StateError(`${this.path} is not valid JSON (${(e as Error).message}); the daemon will not overwrite it: fix or move it away`);
    }
    const version = (data as { version?: unknown } | null)?.version;
    if (version !== STATE_VERSION) {
      throw new StateError(`${this.path} has format version ${JSON.stringify(version)}, this tapwired reads version ${STATE_VERSION}; the daemon will not overwrite it`);
    }
    if (!Array.isArray((data as { bridges?: unknown }).bridges)) throw new StateError(`${this.path}: "bridges" must be an array`);
    for (const key of ['links', 'routerInterfaces', 'routes'] as const) {
      const v = (data as Record<string, unknown>)[key];
      if (v !== undefined && !Array.isArray(v)) throw new StateError(`${this.path}: "${key}" must be an array when present`);
    }
    return data as SavedState;
  }

  /** removeStaleTemporaries removes state.json.<pid>.tmp files whose pid is this process's or no
   * process's, and returns their names; failures to list or remove are reported to onWarning only. */
  removeStaleTemporaries(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.onWarning?.(`cannot list ${this.dir}: ${(e as Error).message}`);
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      const m = /^state\.json\.(\d+)\.tmp$/.exec(name);
      if (m === null) continue;
      const pid = Number(m[1]);
      if (pid !== process.pid && isAlive(pid)) continue;
      try {
        unlinkSync(join(this.dir, name));
        removed.push(name);
      } catch (e) {
        this.onWarning?.(`cannot remove the stale ${join(this.dir, name)}: ${(e as Error).message}`);
      }
    }
    return removed;
  }

  /** save writes `state` atomically (see the comment at the top of this file). */
  save(state: SavedState): void {
    mkdirSync(this.dir, { recursive: true, mode: STATE_DIR_MODE });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o640);
    try {
      writeFileSync(fd, `${JSON.stringify(state, null, 2)}\n`); // loops over short writes; throws on ENOSPC
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      unlinkSync(tmp);
      throw e;
    }
    closeSync(fd);
    renameSync(tmp, this.path);
    // From here the new state is in place: a failure to make the rename durable is not a failed save
    // (undoing the change would contradict the file), so it is only reported to the caller's log.
    try {
      const dirFd = openSync(this.dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch (e) {
      this.onWarning?.(`state saved, but fsync of ${this.dir} failed: ${(e as Error).message}`);
    }
  }
}

// isAlive tells whether a process with `pid` exists (EPERM: it does, under another user).
function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
