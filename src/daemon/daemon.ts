// Daemon: the control plane's model of tapwire. It validates what users ask for, hands it to the data
// plane worker, keeps the desired state and persists it after every accepted change, and reads the shared
// counters. The REST API, the topology file and the saved state all go through here.
//
// Changes are serialized (one at a time, in arrival order), so the saved state always matches what the
// data plane has. A change the data plane refuses changes nothing; a change that cannot be saved is
// undone in the data plane and reported, so what runs is always what a restart would rebuild.
import { TwError } from '../errors.js';
import { BridgeInfo, FdbRow, PortInfo, PortSpec } from '../dataplane/protocol.js';
import { BridgeCounters, PortCounters } from '../dataplane/counters.js';
import { DataPlaneClient, WorkerLog } from './dataplane-client.js';
import { SavedBridge, SavedPort, SavedState, STATE_VERSION, StateStore } from './state-store.js';
import { Topology, bridgePatch, bridgeSpec, checkName, checkUnicastMac, portSpec } from './specs.js';

/** Logger is the slice of pino the daemon uses. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** PortStatus is a port with its counters. */
export type PortStatus = Omit<PortInfo, 'index' | 'offloads'> & { counters: PortCounters };
/** BridgeStatus is a bridge with its counters. */
export type BridgeStatus = Omit<BridgeInfo, 'slot'> & { counters: BridgeCounters };

/** DaemonOptions configure a daemon; without a store nothing is persisted (tests, library use). */
export interface DaemonOptions {
  store?: StateStore;
  /** onFatal is called if the data plane dies. */
  onFatal?: (reason: string) => void;
  /** fakeDevices runs the data plane over in-memory devices, for tests without root: `netns` are the
   * namespaces and `interfaces` the existing interfaces that exist for them. */
  fakeDevices?: { netns: string[]; interfaces?: string[] };
}

function savedPort(spec: PortSpec): SavedPort {
  if (spec.kind === 'netdev') return { name: spec.name, kind: 'netdev', ifname: spec.ifname };
  const p: SavedPort = { name: spec.name, kind: spec.kind, addresses: spec.addresses.map((a) => a.text), up: spec.up };
  if (spec.netns !== undefined) p.netns = spec.netns;
  if (spec.mac !== undefined) p.mac = spec.mac;
  if (spec.mtu !== undefined) p.mtu = spec.mtu;
  return p;
}

/** Daemon is tapwire's control plane; see the comment at the top of this file. */
export class Daemon {
  private readonly desired = new Map<string, SavedBridge>();
  /** pending holds saved ports that could not be rebuilt at start (their namespace is not there yet):
   * they stay in the state, show as `error`, and are retried every RETRY_MS until they can be built. */
  private readonly pending = new Map<string, { bridge: string; reason: string }>();
  private retryTimer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly plane: DataPlaneClient,
    private readonly log: Logger,
    private readonly store: StateStore | undefined,
  ) {}

  /** start runs the data plane and rebuilds the saved state (if a store is given). */
  static async start(log: Logger, options: DaemonOptions = {}): Promise<Daemon> {
    const saved = options.store?.load(); // throws StateError before anything is started
    const plane = new DataPlaneClient(
      (l: WorkerLog) => log[l.level](l.fields ?? {}, l.msg),
      (code) => options.onFatal?.(`data plane exited with code ${code}`),
      options.fakeDevices,
    );
    await plane.started();
    const daemon = new Daemon(plane, log, options.store);
    if (options.store !== undefined) options.store.onWarning = (message) => log.warn({}, message);
    if (saved !== undefined) await daemon.restore(saved);
    return daemon;
  }

  /**
   * restore rebuilds a saved state. Entries that are not valid are logged and dropped from the state;
   * ports that are valid but cannot be built now (a namespace not created yet, e.g. right after boot) stay
   * in the state as pending and are retried.
   */
  private async restore(saved: SavedState): Promise<void> {
    let dropped = 0;
    const drop = (what: object, e: unknown, msg: string): void => {
      this.log.error({ ...what, err: describe(e) }, msg);
      dropped++;
    };
    for (const raw of saved.bridges as unknown[]) {
      const rb = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof SavedBridge, unknown>>;
      let spec;
      try {
        spec = bridgeSpec({ name: rb.name, agingSeconds: rb.agingSeconds, fdbMax: rb.fdbMax });
        await this.plane.call({ op: 'addBridge', spec });
      } catch (e) {
        drop({ bridge: rb.name }, e, 'a saved bridge is not valid; dropped from the state');
        continue;
      }
      const bridge: SavedBridge = { ...spec, ports: [], fdb: [] };
      this.desired.set(spec.name, bridge);
      for (const p of Array.isArray(rb.ports) ? (rb.ports as unknown[]) : []) {
        let ps;
        try {
          ps = portSpec(p);
          if (this.portExists(ps.name)) throw new TwError('TW_ERR_EXISTS', `port ${ps.name} is saved twice`);
        } catch (e) {
          drop({ bridge: spec.name, port: (p as { name?: unknown } | null)?.name }, e, 'a saved port is not valid; dropped from the state');
          continue;
        }
        bridge.ports.push(savedPort(ps));
        try {
          await this.plane.call({ op: 'addPort', bridge: spec.name, spec: ps });
        } catch (e) {
          this.pending.set(ps.name, { bridge: spec.name, reason: e instanceof TwError ? e.detail : String(e) });
          this.log.warn({ bridge: spec.name, port: ps.name, err: describe(e) }, `cannot rebuild a saved port now; retrying every ${RETRY_MS / 1000} s`);
        }
      }
      for (const f of Array.isArray(rb.fdb) ? (rb.fdb as unknown[]) : []) {
        const rf = (typeof f === 'object' && f !== null ? f : {}) as { mac?: unknown; port?: unknown };
        let entry;
        try {
          entry = { mac: checkUnicastMac(rf.mac, 'mac'), port: checkName(rf.port, 'port') };
          if (!bridge.ports.some((x) => x.name === entry!.port)) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${spec.name} has no port ${entry.port}`);
        } catch (e) {
          drop({ bridge: spec.name, mac: rf.mac }, e, 'a saved static FDB entry is not valid; dropped from the state');
          continue;
        }
        bridge.fdb.push(entry);
        if (this.pending.has(entry.port)) continue;
        await this.plane.call({ op: 'fdbAdd', bridge: spec.name, ...entry }).catch((e: unknown) => this.log.error({ bridge: spec.name, mac: entry.mac, err: describe(e) }, 'cannot rebuild a static FDB entry'));
      }
    }
    if (dropped > 0) this.persist();
    if (this.pending.size > 0) this.retryTimer = setInterval(() => void this.retryPending(), RETRY_MS).unref();
    this.log.info({ bridges: this.desired.size, ports: [...this.desired.values()].reduce((n, b) => n + b.ports.length, 0), pending: this.pending.size }, 'state restored');
  }

  /** retryPending tries to build the pending ports again (and their static FDB entries). */
  private retryPending(): Promise<void> {
    return this.serial(async () => {
      for (const [name, { bridge }] of [...this.pending]) {
        const b = this.desired.get(bridge);
        const saved = b?.ports.find((p) => p.name === name);
        if (b === undefined || saved === undefined) {
          this.pending.delete(name);
          continue;
        }
        try {
          await this.plane.call({ op: 'addPort', bridge, spec: portSpec(saved) });
        } catch (e) {
          this.pending.set(name, { bridge, reason: e instanceof TwError ? e.detail : String(e) });
          continue;
        }
        this.pending.delete(name);
        for (const f of b.fdb.filter((x) => x.port === name)) {
          await this.plane.call({ op: 'fdbAdd', bridge, ...f }).catch((e: unknown) => this.log.error({ bridge, mac: f.mac, err: describe(e) }, 'cannot rebuild a static FDB entry'));
        }
        this.log.info({ bridge, port: name }, 'a pending saved port is built now');
      }
      if (this.pending.size === 0 && this.retryTimer !== undefined) {
        clearInterval(this.retryTimer);
        this.retryTimer = undefined;
      }
    });
  }

  private portExists(name: string): boolean {
    for (const b of this.desired.values()) if (b.ports.some((p) => p.name === name)) return true;
    return false;
  }

  /** serial runs `change` after every change before it, so the saved state follows the data plane. */
  private serial<T>(change: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TwError('TW_ERR_INTERNAL', 'the daemon is shutting down'));
    const next = this.queue.then(change, change);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** commit persists after a data plane change; if saving fails, `undo` restores the data plane. */
  private async commit(apply: () => void, revert: () => void, undo: () => Promise<unknown>): Promise<void> {
    apply();
    try {
      this.persist();
    } catch (e) {
      revert();
      await undo().catch((u: unknown) => this.log.error({ err: describe(u) }, 'could not undo a change that could not be saved'));
      throw new TwError('TW_ERR_INTERNAL', `the change could not be saved, so it was undone: ${(e as Error).message}`);
    }
  }

  private persist(): void {
    this.store?.save({ version: STATE_VERSION, bridges: [...this.desired.values()] });
  }

  private desiredBridge(name: string): SavedBridge {
    const b = this.desired.get(name);
    if (b === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no bridge named ${name}`);
    return b;
  }

  /** addBridge validates and creates a bridge. */
  addBridge(input: unknown): Promise<BridgeStatus> {
    const spec = bridgeSpec(input);
    return this.serial(async () => {
      await this.plane.call<BridgeInfo>({ op: 'addBridge', spec });
      await this.commit(
        () => this.desired.set(spec.name, { ...spec, ports: [], fdb: [] }),
        () => this.desired.delete(spec.name),
        () => this.plane.call({ op: 'removeBridge', name: spec.name, force: true }),
      );
      this.log.info({ bridge: spec.name }, 'bridge added');
      return this.bridge(spec.name);
    });
  }

  /** updateBridge changes a bridge's aging time and/or FDB cap. */
  updateBridge(name: string, input: unknown): Promise<BridgeStatus> {
    checkName(name, 'bridge');
    const patch = bridgePatch(input);
    return this.serial(async () => {
      const b = this.desiredBridge(name);
      const before = { agingSeconds: b.agingSeconds, fdbMax: b.fdbMax };
      await this.plane.call({ op: 'updateBridge', name, ...patch });
      await this.commit(
        () => Object.assign(b, patch),
        () => Object.assign(b, before),
        () => this.plane.call({ op: 'updateBridge', name, ...before }),
      );
      this.log.info({ bridge: name, ...patch }, 'bridge changed');
      return this.bridge(name);
    });
  }

  /** removeBridge deletes a bridge; with ports on it only when `force`. */
  removeBridge(name: string, force = false): Promise<void> {
    checkName(name, 'bridge');
    return this.serial(async () => {
      const b = this.desiredBridge(name);
      if (b.ports.length > 0 && !force) throw new TwError('TW_ERR_IN_USE', `bridge ${name} still has ${b.ports.length} port(s); delete them first or use force`);
      await this.plane.call({ op: 'removeBridge', name, force });
      const pendingHere = [...this.pending].filter(([, v]) => v.bridge === name);
      await this.commit(
        () => {
          this.desired.delete(name);
          for (const [port] of pendingHere) this.pending.delete(port);
        },
        () => {
          this.desired.set(name, b);
          for (const [port, v] of pendingHere) this.pending.set(port, v);
        },
        () => this.rebuild(b),
      );
      this.log.info({ bridge: name, force }, 'bridge removed');
    });
  }

  private async rebuild(b: SavedBridge): Promise<void> {
    await this.plane.call({ op: 'addBridge', spec: { name: b.name, agingSeconds: b.agingSeconds, fdbMax: b.fdbMax } });
    for (const p of b.ports) if (!this.pending.has(p.name)) await this.plane.call({ op: 'addPort', bridge: b.name, spec: portSpec(p) });
    for (const f of b.fdb) if (!this.pending.has(f.port)) await this.plane.call({ op: 'fdbAdd', bridge: b.name, mac: f.mac, port: f.port });
  }

  /** addPort validates and creates a port on a bridge. */
  addPort(bridge: string, input: unknown): Promise<PortStatus> {
    checkName(bridge, 'bridge');
    const spec = portSpec(input);
    return this.serial(async () => {
      const b = this.desiredBridge(bridge);
      if (this.pending.has(spec.name)) throw new TwError('TW_ERR_EXISTS', `port ${spec.name} already exists (saved, waiting to be rebuilt)`);
      const info = await this.plane.call<PortInfo>({ op: 'addPort', bridge, spec });
      const saved = savedPort(spec);
      await this.commit(
        () => b.ports.push(saved),
        () => b.ports.splice(b.ports.indexOf(saved), 1),
        () => this.plane.call({ op: 'removePort', bridge, name: spec.name }),
      );
      this.log.info({ bridge, port: info.name, kind: info.kind, netns: info.netns }, 'port added');
      return this.port(bridge, spec.name);
    });
  }

  /** removePort deletes a port (and the static FDB entries that point at it). */
  removePort(bridge: string, name: string): Promise<void> {
    checkName(bridge, 'bridge');
    checkName(name, 'port');
    return this.serial(async () => {
      const b = this.desiredBridge(bridge);
      const saved = b.ports.find((p) => p.name === name);
      const waiting = this.pending.get(name);
      // A pending port was never built: only the state knows it, and there is nothing to undo.
      const built = waiting === undefined || waiting.bridge !== bridge;
      if (built) await this.plane.call({ op: 'removePort', bridge, name });
      const ports = b.ports;
      const fdb = b.fdb;
      await this.commit(
        () => {
          b.ports = ports.filter((p) => p.name !== name);
          b.fdb = fdb.filter((f) => f.port !== name);
          if (!built) this.pending.delete(name);
        },
        () => {
          b.ports = ports;
          b.fdb = fdb;
          if (!built) this.pending.set(name, waiting!);
        },
        async () => {
          if (!built || saved === undefined) return;
          await this.plane.call({ op: 'addPort', bridge, spec: portSpec(saved) });
          for (const f of fdb.filter((x) => x.port === name)) await this.plane.call({ op: 'fdbAdd', bridge, mac: f.mac, port: f.port });
        },
      );
      this.log.info({ bridge, port: name, pending: !built }, 'port removed');
    });
  }

  /** fdbAdd pins a unicast MAC to a port of the bridge. */
  fdbAdd(bridge: string, mac: unknown, port: unknown): Promise<FdbRow> {
    checkName(bridge, 'bridge');
    const m = checkUnicastMac(mac, 'mac');
    const p = checkName(port, 'port');
    return this.serial(async () => {
      const b = this.desiredBridge(bridge);
      const fdb = b.fdb;
      const before = fdb.find((f) => f.mac === m);
      await this.plane.call({ op: 'fdbAdd', bridge, mac: m, port: p });
      await this.commit(
        () => (b.fdb = [...fdb.filter((f) => f.mac !== m), { mac: m, port: p }]),
        () => (b.fdb = fdb),
        // Put back what was there: the earlier pin, or nothing.
        () => (before === undefined ? this.plane.call({ op: 'fdbDelete', bridge, mac: m }) : this.plane.call({ op: 'fdbAdd', bridge, mac: m, port: before.port })),
      );
      return { mac: m, port: p, static: true, ageSeconds: 0 };
    });
  }

  /** fdbDelete removes one entry, static or learned. */
  fdbDelete(bridge: string, mac: unknown): Promise<void> {
    checkName(bridge, 'bridge');
    const m = checkUnicastMacOrGroup(mac);
    return this.serial(async () => {
      const b = this.desiredBridge(bridge);
      const fdb = b.fdb;
      const pinned = fdb.find((f) => f.mac === m);
      await this.plane.call({ op: 'fdbDelete', bridge, mac: m });
      await this.commit(
        () => (b.fdb = fdb.filter((f) => f.mac !== m)),
        () => (b.fdb = fdb),
        () => (pinned === undefined ? Promise.resolve() : this.plane.call({ op: 'fdbAdd', bridge, mac: m, port: pinned.port })),
      );
    });
  }

  /** fdbFlush forgets the learned entries of a bridge; static entries stay. */
  fdbFlush(bridge: string): Promise<number> {
    checkName(bridge, 'bridge');
    return this.serial(async () => {
      this.desiredBridge(bridge);
      return this.plane.call<number>({ op: 'fdbFlush', bridge });
    });
  }

  /** bridges lists every bridge with its counters. */
  async bridges(): Promise<BridgeStatus[]> {
    const list = await this.plane.call<BridgeInfo[]>({ op: 'listBridges' });
    return list.map(({ slot, ...b }) => ({ ...b, counters: this.plane.counters.readBridge(slot) }));
  }

  /** bridge returns one bridge, or throws TW_ERR_NOT_FOUND. */
  async bridge(name: string): Promise<BridgeStatus> {
    checkName(name, 'bridge');
    const b = (await this.bridges()).find((x) => x.name === name);
    if (b === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no bridge named ${name}`);
    return b;
  }

  /** ports lists the ports of one bridge (or of all) with their counters. */
  async ports(bridge?: string): Promise<PortStatus[]> {
    if (bridge !== undefined) checkName(bridge, 'bridge');
    const list = await this.plane.call<PortInfo[]>({ op: 'listPorts', bridge });
    const live: PortStatus[] = list.map(({ index, offloads: _offloads, ...p }) => ({ ...p, counters: this.plane.counters.readPort(index) }));
    for (const [name, { bridge: owner }] of this.pending) {
      if (bridge !== undefined && owner !== bridge) continue;
      const saved = this.desired.get(owner)?.ports.find((p) => p.name === name);
      if (saved !== undefined) live.push(pendingStatus(owner, saved));
    }
    return live;
  }

  /** port returns one port, or throws TW_ERR_NOT_FOUND. */
  async port(bridge: string, name: string): Promise<PortStatus> {
    checkName(name, 'port');
    const p = (await this.ports(bridge)).find((x) => x.name === name);
    if (p === undefined) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridge} has no port ${name}`);
    return p;
  }

  /** fdb lists a bridge's forwarding database. */
  fdb(bridge: string): Promise<FdbRow[]> {
    return this.plane.call<FdbRow[]>({ op: 'fdbList', bridge: checkName(bridge, 'bridge') });
  }

  /** apply builds the bridges of a topology file that are not there yet; if any part fails, every
   * bridge it built is removed again (from the data plane and the saved state) and the error rethrown. */
  async apply(t: Topology): Promise<void> {
    const built: string[] = [];
    try {
      for (const b of t.bridges) {
        if (this.desired.has(b.spec.name)) {
          this.log.info({ bridge: b.spec.name }, 'bridge of the topology file already in the state; left as it is');
          continue;
        }
        await this.addBridge(b.spec);
        built.push(b.spec.name);
        for (const p of b.ports) await this.addPort(b.spec.name, savedPort(p));
      }
    } catch (e) {
      for (const name of built.reverse()) await this.removeBridge(name, true).catch(() => undefined);
      throw e;
    }
  }

  /** close stops the data plane: every device is closed, so non-persistent TAPs disappear. The saved
   * state stays: the next start rebuilds it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== undefined) clearInterval(this.retryTimer);
    // A change in flight gets a while to finish (each data plane call is bounded too).
    await Promise.race([this.queue, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.plane.stop();
  }
}

/** RETRY_MS is how often pending saved ports are tried again. */
export const RETRY_MS = 5000;

function pendingStatus(bridge: string, p: SavedPort): PortStatus {
  const status: PortStatus = {
    name: p.name,
    bridge,
    kind: p.kind,
    ifname: p.kind === 'netdev' ? p.ifname : p.name,
    addresses: p.kind === 'tap' ? p.addresses : [],
    mtu: (p.kind === 'tap' ? p.mtu : undefined) ?? 1500,
    state: 'error',
    counters: { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 0, drops: {} },
  };
  if (p.kind === 'tap' && p.netns !== undefined) status.netns = p.netns;
  if (p.kind === 'tap' && p.mac !== undefined) status.mac = p.mac;
  return status;
}

function checkUnicastMacOrGroup(mac: unknown): string {
  // Deleting accepts any MAC the table may hold; checkUnicastMac's message is right for the rest.
  if (typeof mac === 'string' && /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) return mac.toLowerCase();
  return checkUnicastMac(mac, 'mac');
}

function describe(e: unknown): unknown {
  return e instanceof TwError ? { code: e.code, detail: e.detail } : e instanceof Error ? e.message : e;
}
