// Daemon: the facade of tapwire's control plane, what the REST API, the topology file and the process entry
// call. Each change is validated as input (specs.ts) and against the desired state (desired-state.ts, the
// rules between objects), applied to the data plane (reconcile.ts), and saved (state-store.ts); reads join
// what the data plane has with what waits to be built, and the shared counters.
//
// Changes are serialized (one at a time, in arrival order), so the saved state always matches what the
// data plane has. A change the data plane refuses changes nothing; a change that cannot be saved is
// undone in the data plane and reported, so what runs is always what a restart would rebuild.
import { TwError } from '../errors.js';
import type { BridgeInfo, FdbRow, LinkInfo, NeighborInfo, PortEvent, PortInfo, RouteInfo, RouterInterfaceInfo } from '../dataplane/protocol.js';
import type { FdGrant, FdRefusal, PeerCred } from '../ports/fd-server.js';
import type { SocketPathPolicy } from '../ports/socket-path.js';
import { DataPlaneClient, FakeDevices, WorkerLog } from './dataplane-client.js';
import { DesiredState, savedLink, savedPort, savedRoute, savedRouterInterface } from './desired-state.js';
import { Applied, Logger, Reconciler, describeError } from './reconcile.js';
import type { BridgeStatus, LinkStatus, PortStatus, RouteStatus, RouterInterfaceStatus, RouterStatus } from './resources.js';
import { bridgePatch, bridgeSpec, checkMacOrGroup, checkName, checkPrefix, checkUnicastMac, linkSpec, portSpec, routeSpec, routerInterfaceSpec, Topology } from './specs.js';
import type { SavedState, StateStore } from './state-store.js';
import { pendingLink, pendingPort, pendingRoute, pendingRouterInterface } from './status.js';
import { vmFdFor } from './vm-fd.js';

export type { FakeDevices, Logger, PortEvent };

/** DaemonOptions configure a daemon; without a store nothing is persisted (tests, library use). */
export interface DaemonOptions {
  store?: StateStore;
  /** onFatal is called if the data plane dies. */
  onFatal?: (reason: string) => void;
  /** fakeDevices runs the data plane over in-memory devices (tests without root). */
  fakeDevices?: FakeDevices;
  /** socketDir is the directory socket ports must be in (tapwired's --socket-dir); without it any directory. */
  socketDir?: string;
  /** ownSockets are the daemon's own sockets (the API socket, the fd socket), which no socket port may take. */
  ownSockets?: readonly { path: string; what: string }[];
}

/** Daemon is tapwire's control plane; see the comment at the top of this file. */
export class Daemon {
  private desired = DesiredState.EMPTY;
  private readonly reconcile: Reconciler;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly plane: DataPlaneClient,
    private readonly log: Logger,
    private readonly store: StateStore | undefined,
    sockets: SocketPathPolicy,
  ) {
    this.reconcile = new Reconciler(
      plane,
      log,
      (retry) => this.serial(retry),
      () => this.desired,
      sockets,
    );
  }

  /** onPortEvent calls `listener` with every port state change the data plane reports (a peer or an
   * emulator came or went, a device failed); it returns the function that stops it. */
  onPortEvent(listener: (e: PortEvent) => void): () => void {
    const safe = (e: PortEvent): void => {
      try {
        listener(e);
      } catch (error) {
        this.log.error({ error: String(error) }, 'a port event listener failed');
      }
    };
    this.plane.events.on('port', safe);
    return () => void this.plane.events.off('port', safe);
  }

  /** start runs the data plane and rebuilds the saved state (if a store is given). */
  static async start(log: Logger, options: DaemonOptions = {}): Promise<Daemon> {
    // Warnings of the load itself (stale temporary files removed) are logged too.
    if (options.store !== undefined) options.store.onWarning = (message) => log.warn({}, message);
    const saved = options.store?.load(); // throws StateError before anything is started
    const plane = new DataPlaneClient(
      (l: WorkerLog) => log[l.level](l.fields ?? {}, l.msg),
      (code) => options.onFatal?.(`data plane exited with code ${code}`),
      options.fakeDevices,
    );
    await plane.started();
    const daemon = new Daemon(plane, log, options.store, { dir: options.socketDir, own: options.ownSockets });
    if (saved !== undefined) await daemon.restore(saved);
    return daemon;
  }

  /** restore rebuilds the saved state (see Reconciler.restore), saves it again when entries were dropped,
   * and retries what is pending. */
  private async restore(saved: SavedState): Promise<void> {
    const { state, dropped } = await this.reconcile.restore(saved);
    this.desired = state;
    if (dropped > 0) this.store?.save(state.toSaved());
    this.reconcile.retryWhilePending();
    this.log.info(
      {
        bridges: state.bridges.size,
        ports: state.portCount(),
        links: state.links.size,
        routerInterfaces: state.interfaces.size,
        routes: state.routes.size,
        pending: this.reconcile.pendingCount(),
      },
      'state restored',
    );
  }

  /** serial runs `change` after every change before it, so the saved state follows the data plane. */
  private serial<T>(change: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TwError('TW_ERR_INTERNAL', 'the daemon is shutting down'));
    const next = this.queue.then(change, change);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** commit saves `next` after the data plane took `applied`, and makes it the desired state; if saving
   * fails, the change is undone in the data plane and reported. */
  private async commit(next: DesiredState, applied: Applied): Promise<void> {
    try {
      this.store?.save(next.toSaved());
    } catch (e) {
      await applied.undo().catch((u: unknown) => this.log.error({ err: describeError(u) }, 'could not undo a change that could not be saved'));
      throw new TwError('TW_ERR_INTERNAL', `the change could not be saved, so it was undone: ${(e as Error).message}`);
    }
    this.desired = next;
    applied.settle();
  }

  /** addBridge validates and creates a bridge. */
  addBridge(input: unknown): Promise<BridgeStatus> {
    const spec = bridgeSpec(input);
    return this.serial(async () => {
      const next = this.desired.addBridge(spec);
      await this.commit(next, await this.reconcile.addBridge(spec));
      this.log.info({ bridge: spec.name }, 'bridge added');
      return this.bridge(spec.name);
    });
  }

  /** updateBridge changes a bridge's aging time and/or FDB cap. */
  updateBridge(name: string, input: unknown): Promise<BridgeStatus> {
    checkName(name, 'bridge');
    const patch = bridgePatch(input);
    return this.serial(async () => {
      const b = this.desired.bridge(name);
      const next = this.desired.updateBridge(name, patch);
      await this.commit(next, await this.reconcile.updateBridge(name, patch, { agingSeconds: b.agingSeconds, fdbMax: b.fdbMax }));
      this.log.info({ bridge: name, ...patch }, 'bridge changed');
      return this.bridge(name);
    });
  }

  /** removeBridge deletes a bridge; with ports on it only when `force`. */
  removeBridge(name: string, force = false): Promise<void> {
    checkName(name, 'bridge');
    return this.serial(async () => {
      const next = this.desired.removeBridge(name, force);
      await this.commit(next, await this.reconcile.removeBridge(this.desired.bridge(name), force));
      this.log.info({ bridge: name, force }, 'bridge removed');
    });
  }

  /** addPort validates and creates a port on a bridge. */
  addPort(bridge: string, input: unknown): Promise<PortStatus> {
    checkName(bridge, 'bridge');
    const spec = portSpec(input);
    return this.serial(async () => {
      this.desired.bridge(bridge);
      if (this.reconcile.pending.ports.has(spec.name)) throw new TwError('TW_ERR_EXISTS', `port ${spec.name} already exists (saved, waiting to be rebuilt)`);
      const next = this.desired.addPort(bridge, spec);
      const applied = await this.reconcile.addPort(bridge, spec);
      await this.commit(next, applied);
      this.log.info({ bridge, port: applied.info.name, kind: applied.info.kind, netns: applied.info.netns }, 'port added');
      return this.port(bridge, spec.name);
    });
  }

  /** removePort deletes a port (and the static FDB entries that point at it). */
  removePort(bridge: string, name: string): Promise<void> {
    checkName(bridge, 'bridge');
    checkName(name, 'port');
    return this.serial(async () => {
      const next = this.desired.removePort(bridge, name);
      const b = this.desired.bridge(bridge);
      const saved = b.ports.find((p) => p.name === name)!;
      const applied = await this.reconcile.removePort(
        bridge,
        saved,
        b.fdb.filter((f) => f.port === name),
      );
      await this.commit(next, applied);
      this.log.info({ bridge, port: name, pending: applied.pending }, 'port removed');
    });
  }

  /** fdbAdd pins a unicast MAC to a port of the bridge. */
  fdbAdd(bridge: string, mac: unknown, port: unknown): Promise<FdbRow> {
    checkName(bridge, 'bridge');
    const m = checkUnicastMac(mac, 'mac');
    const p = checkName(port, 'port');
    return this.serial(async () => {
      const before = this.desired.bridge(bridge).fdb.find((f) => f.mac === m);
      const next = this.desired.pinMac(bridge, m, p);
      await this.commit(next, await this.reconcile.pinMac(bridge, m, p, before));
      return { mac: m, port: p, static: true, ageSeconds: 0 };
    });
  }

  /** fdbDelete removes one entry, static or learned. */
  fdbDelete(bridge: string, mac: unknown): Promise<void> {
    checkName(bridge, 'bridge');
    const m = checkMacOrGroup(mac, 'mac');
    return this.serial(async () => {
      const pinned = this.desired.bridge(bridge).fdb.find((f) => f.mac === m);
      const next = this.desired.unpinMac(bridge, m);
      await this.commit(next, await this.reconcile.unpinMac(bridge, m, pinned));
    });
  }

  /** fdbFlush forgets the learned entries of a bridge; static entries stay. */
  fdbFlush(bridge: string): Promise<number> {
    checkName(bridge, 'bridge');
    return this.serial(async () => {
      this.desired.bridge(bridge);
      return this.plane.call<number>({ op: 'fdbFlush', bridge });
    });
  }

  /** addLink validates and creates a link. */
  addLink(input: unknown): Promise<LinkStatus> {
    const spec = linkSpec(input);
    return this.serial(async () => {
      const next = this.desired.addLink(spec);
      await this.commit(next, await this.reconcile.addLink(spec));
      this.log.info({ link: spec.name, netns: spec.netns }, 'link added');
      return this.link(spec.name);
    });
  }

  /** removeLink deletes a link (its TUN device goes); refused while a router interface is on it. */
  removeLink(name: string): Promise<void> {
    checkName(name, 'link');
    return this.serial(async () => {
      const next = this.desired.removeLink(name);
      const applied = await this.reconcile.removeLink(this.desired.links.get(name)!);
      await this.commit(next, applied);
      this.log.info({ link: name, pending: applied.pending }, 'link removed');
    });
  }

  /** addRouterInterface validates and creates a router interface on a bridge or a link. On a link that
   * waits to be rebuilt it is saved and waits with it. */
  addRouterInterface(input: unknown): Promise<RouterInterfaceStatus> {
    const spec = routerInterfaceSpec(input);
    return this.serial(async () => {
      const next = this.desired.addRouterInterface(spec);
      const applied = await this.reconcile.addRouterInterface(spec);
      await this.commit(next, applied);
      this.log.info({ routerInterface: spec.name, bridge: spec.bridge, link: spec.link, pending: applied.pending }, 'router interface added');
      return this.routerInterface(spec.name);
    });
  }

  /** removeRouterInterface deletes a router interface and its connected routes; refused while static
   * routes go out of it. */
  removeRouterInterface(name: string): Promise<void> {
    checkName(name, 'router interface');
    return this.serial(async () => {
      const next = this.desired.removeRouterInterface(name);
      const applied = await this.reconcile.removeRouterInterface(this.desired.interfaces.get(name)!);
      await this.commit(next, applied);
      this.log.info({ routerInterface: name, pending: applied.pending }, 'router interface removed');
    });
  }

  /** addRoute validates and adds a static route. One whose interface waits to be rebuilt is saved and
   * waits with it. */
  addRoute(input: unknown): Promise<RouteStatus> {
    const spec = routeSpec(input);
    const prefix = spec.prefix.text;
    return this.serial(async () => {
      const { state: next, egress } = this.desired.addRoute(spec);
      const applied = await this.reconcile.addRoute(spec, egress);
      await this.commit(next, applied);
      this.log.info({ route: prefix, via: spec.via?.text, interface: egress, pending: applied.pending }, 'static route added');
      const route = (await this.routes()).find((r) => r.kind === 'static' && r.prefix === prefix);
      if (route === undefined) throw new TwError('TW_ERR_INTERNAL', `the route for ${prefix} was added but the router does not list it`);
      return route;
    });
  }

  /** removeRoute deletes a static route. A connected route is refused with TW_ERR_IN_USE: it belongs to
   * its interface's address and goes with the interface. */
  removeRoute(prefixInput: unknown): Promise<void> {
    const prefix = checkPrefix(prefixInput, 'prefix');
    return this.serial(async () => {
      const next = this.desired.removeRoute(prefix);
      const applied = await this.reconcile.removeRoute(prefix, this.desired.routes.get(prefix.text)!);
      await this.commit(next, applied);
      this.log.info({ route: prefix.text, pending: applied.pending }, 'static route removed');
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

  /** ports lists the ports of one bridge (or of all) with their counters, then those waiting to be rebuilt. */
  async ports(bridge?: string): Promise<PortStatus[]> {
    if (bridge !== undefined) checkName(bridge, 'bridge');
    const list = await this.plane.call<PortInfo[]>({ op: 'listPorts', bridge });
    const live: PortStatus[] = list.map(({ index, offloads: _offloads, ...p }) => ({ ...p, counters: this.plane.counters.readPort(index) }));
    for (const [name, { bridge: owner }] of this.reconcile.pending.ports) {
      if (bridge !== undefined && owner !== bridge) continue;
      const saved = this.desired.bridges.get(owner)?.ports.find((p) => p.name === name);
      if (saved !== undefined) live.push(pendingPort(owner, saved));
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

  /** links lists every link with its counters, then those waiting to be rebuilt. */
  async links(): Promise<LinkStatus[]> {
    const list = await this.plane.call<LinkInfo[]>({ op: 'listLinks' });
    const live: LinkStatus[] = list.map(({ index, ...l }) => ({ ...l, counters: this.plane.counters.readPort(index) }));
    for (const name of this.reconcile.pending.links.keys()) {
      const saved = this.desired.links.get(name);
      if (saved !== undefined) live.push(pendingLink(saved, this.desired.interfaceOf({ link: name })?.name));
    }
    return live;
  }

  /** link returns one link, or throws TW_ERR_NOT_FOUND. */
  async link(name: string): Promise<LinkStatus> {
    checkName(name, 'link');
    const l = (await this.links()).find((x) => x.name === name);
    if (l === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no link named ${name}`);
    return l;
  }

  /** routerInterfaces lists the router's interfaces with their counters, then those waiting to be rebuilt. */
  async routerInterfaces(): Promise<RouterInterfaceStatus[]> {
    const list = await this.plane.call<RouterInterfaceInfo[]>({ op: 'listRouterInterfaces' });
    const live: RouterInterfaceStatus[] = list.map(({ index, ...r }) => ({ ...r, state: 'up', counters: this.plane.counters.readPort(index) }));
    for (const name of this.reconcile.pending.interfaces.keys()) {
      const saved = this.desired.interfaces.get(name);
      if (saved !== undefined) live.push(pendingRouterInterface(saved));
    }
    return live;
  }

  /** routerInterface returns one router interface, or throws TW_ERR_NOT_FOUND. */
  async routerInterface(name: string): Promise<RouterInterfaceStatus> {
    checkName(name, 'router interface');
    const r = (await this.routerInterfaces()).find((x) => x.name === name);
    if (r === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no router interface named ${name}`);
    return r;
  }

  /** routes lists the router's table (connected and static routes), then the static routes that wait to
   * be rebuilt. */
  async routes(): Promise<RouteStatus[]> {
    const list: RouteStatus[] = await this.plane.call<RouteInfo[]>({ op: 'listRoutes' });
    for (const prefix of this.reconcile.pending.routes.keys()) {
      const saved = this.desired.routes.get(prefix);
      if (saved !== undefined) list.push(pendingRoute(saved, this.desired.egressOf(saved)));
    }
    return list;
  }

  /** neighbors lists the router's ARP and NDP cache. */
  neighbors(): Promise<NeighborInfo[]> {
    return this.plane.call<NeighborInfo[]>({ op: 'listNeighbors' });
  }

  /** router sums up the router: how many interfaces and routes it has now (those waiting to be rebuilt
   * not counted) and its counters. */
  async router(): Promise<RouterStatus> {
    const [interfaces, routes] = await Promise.all([this.plane.call<RouterInterfaceInfo[]>({ op: 'listRouterInterfaces' }), this.plane.call<RouteInfo[]>({ op: 'listRoutes' })]);
    return { interfaces: interfaces.length, routes: routes.length, counters: this.plane.counters.readRouter() };
  }

  /** vmFd answers `tapwire exec`'s request for an fd of vm port `port`'s TAP (see vm-fd.ts). */
  async vmFd(port: string, cred: PeerCred): Promise<FdGrant | FdRefusal> {
    const list = await this.plane.call<PortInfo[]>({ op: 'listPorts' });
    return vmFdFor(
      port,
      list.find((x) => x.name === port),
      cred,
      this.log,
    );
  }

  /** apply builds what a topology file has and the state has not yet: bridges (with their ports), links,
   * router interfaces, routes, each through the same path as the API's. If any part fails, everything it
   * built is removed again (from the data plane and the saved state), in reverse order, and the error
   * rethrown. */
  async apply(t: Topology): Promise<void> {
    const undo: (() => Promise<void>)[] = [];
    try {
      for (const b of t.bridges) {
        if (this.desired.bridges.has(b.spec.name)) {
          this.log.info({ bridge: b.spec.name }, 'bridge of the topology file already in the state; left as it is');
          continue;
        }
        await this.addBridge(b.spec);
        undo.push(() => this.removeBridge(b.spec.name, true));
        for (const p of b.ports) await this.addPort(b.spec.name, savedPort(p));
      }
      for (const l of t.links) {
        if (this.desired.links.has(l.name)) {
          this.log.info({ link: l.name }, 'link of the topology file already in the state; left as it is');
          continue;
        }
        await this.addLink(savedLink(l));
        undo.push(() => this.removeLink(l.name));
      }
      for (const r of t.routerInterfaces) {
        if (this.desired.interfaces.has(r.name)) {
          this.log.info({ routerInterface: r.name }, 'router interface of the topology file already in the state; left as it is');
          continue;
        }
        await this.addRouterInterface(savedRouterInterface(r));
        undo.push(() => this.removeRouterInterface(r.name));
      }
      for (const r of t.routes) {
        if (this.desired.routes.has(r.prefix.text)) {
          this.log.info({ route: r.prefix.text }, 'route of the topology file already in the state; left as it is');
          continue;
        }
        await this.addRoute(savedRoute(r));
        undo.push(() => this.removeRoute(r.prefix.text));
      }
    } catch (e) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      throw e;
    }
  }

  /** close stops the data plane: every device is closed, so non-persistent TAPs disappear. The saved
   * state stays: the next start rebuilds it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reconcile.stop();
    // A change in flight gets a while to finish (each data plane call is bounded too).
    await Promise.race([this.queue, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.plane.stop();
  }
}
