// Daemon: the control plane's model of tapwire. It validates what users ask for, hands it to the data
// plane worker, keeps the desired state and persists it after every accepted change, and reads the shared
// counters. The REST API, the topology file and the saved state all go through here.
//
// Changes are serialized (one at a time, in arrival order), so the saved state always matches what the
// data plane has. A change the data plane refuses changes nothing; a change that cannot be saved is
// undone in the data plane and reported, so what runs is always what a restart would rebuild.
//
// The router's objects depend on each other and on bridges: a router interface sits on a bridge or on a
// link, and a static route goes out of a router interface. Removing something that another object needs is
// refused with TW_ERR_IN_USE naming the dependant (a bridge's `force` deletes ports, never a router
// interface). Ports, links and router interfaces share one name space (a router interface on a bridge is a
// port of that name there). The router's table holds one route per prefix: a static route cannot have the
// prefix of a connected network, and a connected route is removed only with its interface.
import { TwError } from '../errors.js';
import { BridgeInfo, FdbRow, LinkInfo, LinkSpec, NeighborInfo, PortInfo, PortSpec, RouteInfo, RouteSpec, RouterInterfaceInfo, RouterInterfaceSpec } from '../dataplane/protocol.js';
import { PortCounters } from '../dataplane/counters.js';
import type { BridgeStatus, LinkStatus, PortStatus, RouteStatus, RouterInterfaceStatus, RouterStatus } from './resources.js';
import { parseCidr } from '../wire/cidr.js';
import { resolveGroup, resolveUser } from './accounts.js';
import type { FdGrant, FdRefusal, PeerCred } from '../ports/fd-server.js';
import { closeVmQueue, openVmQueue } from '../ports/vm.js';
import { DataPlaneClient, FakeDevices, WorkerLog } from './dataplane-client.js';
import { SavedBridge, SavedLink, SavedPort, SavedRoute, SavedRouterInterface, SavedState, SavedTapPort, STATE_VERSION, StateStore } from './state-store.js';
import {
  Topology,
  bridgePatch,
  bridgeSpec,
  checkName,
  checkPrefix,
  checkUnicastMac,
  isLinkLocal6,
  linkSpec,
  parseIpAddress,
  portSpec,
  prefixContains,
  prefixOf,
  routeSpec,
  routerInterfaceSpec,
} from './specs.js';

export type { FakeDevices };

/** Logger is the slice of pino the daemon uses. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** DaemonOptions configure a daemon; without a store nothing is persisted (tests, library use). */
export interface DaemonOptions {
  store?: StateStore;
  /** onFatal is called if the data plane dies. */
  onFatal?: (reason: string) => void;
  /** fakeDevices runs the data plane over in-memory devices (tests without root). */
  fakeDevices?: FakeDevices;
}

/** withIds resolves a vm port's owner and group (names or ids) into the uid and gid the data plane sets. */
async function withIds(spec: PortSpec): Promise<PortSpec> {
  if (spec.kind !== 'vm' && spec.kind !== 'socket') return spec;
  const out = { ...spec };
  if (spec.owner !== undefined) out.uid = await resolveUser(spec.owner);
  if (spec.group !== undefined) out.gid = await resolveGroup(spec.group);
  return out;
}

function savedPort(spec: PortSpec): SavedPort {
  if (spec.kind === 'netdev') return { name: spec.name, kind: 'netdev', ifname: spec.ifname };
  if (spec.kind === 'vm' || spec.kind === 'socket') {
    // Kept as the user gave them: the resolved ids are not saved (a renumbered user is looked up anew).
    const { uid: _uid, gid: _gid, ...saved } = spec;
    return saved;
  }
  const p: SavedTapPort = { name: spec.name, kind: spec.kind, addresses: spec.addresses.map((a) => a.text), up: spec.up };
  if (spec.netns !== undefined) p.netns = spec.netns;
  if (spec.mac !== undefined) p.mac = spec.mac;
  if (spec.mtu !== undefined) p.mtu = spec.mtu;
  return p;
}

function savedLink(spec: LinkSpec): SavedLink {
  const l: SavedLink = { name: spec.name, kind: spec.kind, addresses: spec.addresses.map((a) => a.text), routes: spec.routes.map((r) => r.text) };
  if (spec.netns !== undefined) l.netns = spec.netns;
  if (spec.peer !== undefined) l.peer = spec.peer.text;
  if (spec.mtu !== undefined) l.mtu = spec.mtu;
  return l;
}

function savedRouterInterface(spec: RouterInterfaceSpec): SavedRouterInterface {
  // The MAC of a bridge interface is saved, given or derived, so that it never changes under the hosts'
  // ARP/NDP caches; a link interface has none.
  const on = spec.bridge !== undefined ? { bridge: spec.bridge } : { link: spec.link };
  const mac = spec.bridge !== undefined ? { mac: spec.mac } : {};
  const r: SavedRouterInterface = { name: spec.name, ...on, addresses: spec.addresses.map((a) => a.text), ...mac, routerAdvertisements: spec.routerAdvertisements };
  if (spec.mtu !== undefined) r.mtu = spec.mtu;
  return r;
}

function savedRoute(spec: RouteSpec): SavedRoute {
  const r: SavedRoute = { prefix: spec.prefix.text };
  if (spec.via !== undefined) r.via = spec.via.text;
  if (spec.interface !== undefined) r.interface = spec.interface;
  return r;
}

/** Daemon is tapwire's control plane; see the comment at the top of this file. */
export class Daemon {
  private readonly desired = new Map<string, SavedBridge>();
  /** pending holds saved ports that could not be rebuilt at start (their namespace is not there yet):
   * they stay in the state, show as `error`, and are retried every RETRY_MS until they can be built. */
  private readonly pending = new Map<string, { bridge: string; reason: string }>();
  private readonly desiredLinks = new Map<string, SavedLink>();
  private readonly desiredInterfaces = new Map<string, SavedRouterInterface>();
  /** desiredRoutes are the static routes by their prefix's canonical text. */
  private readonly desiredRoutes = new Map<string, SavedRoute>();
  /** pendingRouter holds, with the reason, the saved links that could not be rebuilt at start (like ports),
   * and the router interfaces and routes that wait for them: they are built, in that order, once the link
   * is. Each map's keys are names (prefixes for routes) of desired entries. */
  private readonly pendingRouter = { links: new Map<string, string>(), interfaces: new Map<string, string>(), routes: new Map<string, string>() };
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
          await this.plane.call({ op: 'addPort', bridge: spec.name, spec: await withIds(ps) });
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
    dropped += await this.restoreRouter(saved);
    if (dropped > 0) this.persist();
    if (this.pendingCount() > 0) this.retryTimer = setInterval(() => void this.retryPending(), RETRY_MS).unref();
    this.log.info(
      {
        bridges: this.desired.size,
        ports: [...this.desired.values()].reduce((n, b) => n + b.ports.length, 0),
        links: this.desiredLinks.size,
        routerInterfaces: this.desiredInterfaces.size,
        routes: this.desiredRoutes.size,
        pending: this.pendingCount(),
      },
      'state restored',
    );
  }

  /** restoreRouter rebuilds the saved links, then router interfaces, then static routes (after the bridges
   * and ports, which interfaces need). An entry that is not valid or that the data plane refuses is logged
   * and dropped, except a link (kept pending and retried, like a port: its namespace may come later) and
   * what waits for a pending link. Returns how many entries were dropped. */
  private async restoreRouter(saved: SavedState): Promise<number> {
    let dropped = 0;
    const drop = (what: object, e: unknown, msg: string): void => {
      this.log.error({ ...what, err: describe(e) }, msg);
      dropped++;
    };
    const nameOf = (raw: unknown, key = 'name'): unknown => (typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[key] : raw);
    for (const raw of asArray(saved.links)) {
      let spec: LinkSpec;
      try {
        spec = linkSpec(raw);
        this.checkNameFree(spec.name);
      } catch (e) {
        drop({ link: nameOf(raw) }, e, 'a saved link is not valid; dropped from the state');
        continue;
      }
      this.desiredLinks.set(spec.name, savedLink(spec));
      try {
        await this.plane.call({ op: 'addLink', spec });
      } catch (e) {
        this.pendingRouter.links.set(spec.name, reasonOf(e));
        this.log.warn({ link: spec.name, err: describe(e) }, `cannot rebuild a saved link now; retrying every ${RETRY_MS / 1000} s`);
      }
    }
    for (const raw of asArray(saved.routerInterfaces)) {
      let spec: RouterInterfaceSpec;
      try {
        spec = routerInterfaceSpec(raw);
        this.checkRouterInterface(spec);
      } catch (e) {
        drop({ routerInterface: nameOf(raw) }, e, 'a saved router interface is not valid; dropped from the state');
        continue;
      }
      if (spec.link !== undefined && this.pendingRouter.links.has(spec.link)) {
        this.desiredInterfaces.set(spec.name, savedRouterInterface(spec));
        this.pendingRouter.interfaces.set(spec.name, `link ${spec.link} is not built yet`);
        continue;
      }
      try {
        await this.plane.call({ op: 'addRouterInterface', spec });
      } catch (e) {
        drop({ routerInterface: spec.name }, e, 'cannot rebuild a saved router interface; dropped from the state');
        continue;
      }
      this.desiredInterfaces.set(spec.name, savedRouterInterface(spec));
    }
    for (const raw of asArray(saved.routes)) {
      let spec: RouteSpec;
      let egress: string;
      try {
        spec = routeSpec(raw);
        egress = this.checkRoute(spec);
      } catch (e) {
        drop({ route: nameOf(raw, 'prefix') }, e, 'a saved static route is not valid; dropped from the state');
        continue;
      }
      if (this.pendingRouter.interfaces.has(egress)) {
        this.desiredRoutes.set(spec.prefix.text, savedRoute(spec));
        this.pendingRouter.routes.set(spec.prefix.text, `router interface ${egress} is not built yet`);
        continue;
      }
      try {
        await this.plane.call({ op: 'addRoute', spec });
      } catch (e) {
        drop({ route: spec.prefix.text }, e, 'cannot rebuild a saved static route; dropped from the state');
        continue;
      }
      this.desiredRoutes.set(spec.prefix.text, savedRoute(spec));
    }
    return dropped;
  }

  private pendingCount(): number {
    return this.pending.size + this.pendingRouter.links.size + this.pendingRouter.interfaces.size + this.pendingRouter.routes.size;
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
          await this.plane.call({ op: 'addPort', bridge, spec: await withIds(portSpec(saved)) });
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
      await this.retryPendingRouter();
      if (this.pendingCount() === 0 && this.retryTimer !== undefined) {
        clearInterval(this.retryTimer);
        this.retryTimer = undefined;
      }
    });
  }

  /** retryPendingRouter builds the pending links, then what waited for them. */
  private async retryPendingRouter(): Promise<void> {
    const { links, interfaces, routes } = this.pendingRouter;
    for (const name of [...links.keys()]) {
      const saved = this.desiredLinks.get(name);
      if (saved === undefined) {
        links.delete(name);
        continue;
      }
      try {
        await this.plane.call({ op: 'addLink', spec: linkSpec(saved) });
      } catch (e) {
        links.set(name, reasonOf(e));
        continue;
      }
      links.delete(name);
      this.log.info({ link: name }, 'a pending saved link is built now');
    }
    for (const name of [...interfaces.keys()]) {
      const saved = this.desiredInterfaces.get(name);
      if (saved === undefined) {
        interfaces.delete(name);
        continue;
      }
      if (saved.link !== undefined && links.has(saved.link)) continue;
      try {
        await this.plane.call({ op: 'addRouterInterface', spec: routerInterfaceSpec(saved) });
      } catch (e) {
        interfaces.set(name, reasonOf(e));
        continue;
      }
      interfaces.delete(name);
      this.log.info({ routerInterface: name }, 'a pending saved router interface is built now');
    }
    for (const prefix of [...routes.keys()]) {
      const saved = this.desiredRoutes.get(prefix);
      if (saved === undefined) {
        routes.delete(prefix);
        continue;
      }
      const egress = this.egressOf(saved);
      if (egress !== undefined && interfaces.has(egress)) continue;
      try {
        await this.plane.call({ op: 'addRoute', spec: routeSpec(saved) });
      } catch (e) {
        routes.set(prefix, reasonOf(e));
        continue;
      }
      routes.delete(prefix);
      this.log.info({ route: prefix }, 'a pending saved static route is built now');
    }
  }

  /** nameOwner says what holds `name` in the one name space of ports, links and router interfaces. */
  private nameOwner(name: string): string | undefined {
    for (const b of this.desired.values()) if (b.ports.some((p) => p.name === name)) return `port ${name} of bridge ${b.name}`;
    if (this.desiredLinks.has(name)) return `link ${name}`;
    if (this.desiredInterfaces.has(name)) return `router interface ${name}`;
    return undefined;
  }

  private checkNameFree(name: string): void {
    const owner = this.nameOwner(name);
    if (owner !== undefined) throw new TwError('TW_ERR_EXISTS', `${owner} already exists (ports, links and router interfaces share one name space)`);
  }

  /** checkRouterInterface checks a new router interface against the desired state: its name, its bridge or
   * link (which must exist and have no router interface yet), and its addresses (none already the
   * router's, no network connected twice, none the host side's of its link). */
  private checkRouterInterface(spec: RouterInterfaceSpec): void {
    this.checkNameFree(spec.name);
    const others = [...this.desiredInterfaces.values()];
    if (spec.bridge !== undefined) {
      this.desiredBridge(spec.bridge);
      const other = others.find((r) => r.bridge === spec.bridge);
      if (other !== undefined) throw new TwError('TW_ERR_EXISTS', `bridge ${spec.bridge} already has router interface ${other.name} (one per bridge)`);
    } else if (spec.link !== undefined) {
      const link = this.desiredLinks.get(spec.link);
      if (link === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no link named ${spec.link}`);
      const other = others.find((r) => r.link === spec.link);
      if (other !== undefined) throw new TwError('TW_ERR_EXISTS', `link ${spec.link} already has router interface ${other.name} (one per link)`);
      spec.addresses.forEach((a, i) => {
        const address = a.text.split('/')[0]!;
        if (link.addresses.some((h) => h.split('/')[0] === address)) throw new TwError('TW_ERR_VALIDATION', `routerInterface.addresses[${i}]: ${address} is the host side's address on link ${spec.link}; the router needs its own`);
      });
    }
    spec.addresses.forEach((a, i) => {
      const address = a.text.split('/')[0]!;
      const network = prefixOf(a).text;
      for (const o of others) {
        for (const text of o.addresses) {
          const oa = parseCidr(text);
          if (text.split('/')[0] === address) throw new TwError('TW_ERR_EXISTS', `routerInterface.addresses[${i}]: ${address} is already an address of router interface ${o.name}`);
          if (prefixOf(oa).text === network) throw new TwError('TW_ERR_EXISTS', `routerInterface.addresses[${i}]: the network ${network} is already connected on router interface ${o.name}`);
        }
      }
      if (this.desiredRoutes.has(network)) throw new TwError('TW_ERR_EXISTS', `routerInterface.addresses[${i}]: the network ${network} has a static route; delete it first (one route per prefix)`);
    });
  }

  /** connectedOwner names the router interface whose address makes `prefix` (canonical) a connected network. */
  private connectedOwner(prefix: string): string | undefined {
    for (const r of this.desiredInterfaces.values()) if (r.addresses.some((a) => prefixOf(parseCidr(a)).text === prefix)) return r.name;
    return undefined;
  }

  /** egressOf is the router interface a static route goes out of: the one it names, or the one whose
   * connected network holds its next hop (the longest such prefix); undefined when there is none. */
  private egressOf(route: { via?: string; interface?: string }): string | undefined {
    if (route.interface !== undefined) return route.interface;
    if (route.via === undefined) return undefined;
    const via = parseIpAddress(route.via);
    let best: { name: string; length: number } | undefined;
    for (const r of this.desiredInterfaces.values()) {
      for (const text of r.addresses) {
        const c = parseCidr(text);
        if (prefixContains(c, via) && (best === undefined || c.prefixLength > best.length)) best = { name: r.name, length: c.prefixLength };
      }
    }
    return best?.name;
  }

  /** checkRoute checks a new static route against the desired state and returns the interface it goes
   * out of. The next hop must be on a connected network (of the route's interface, when it names one on a
   * bridge; a link interface needs no neighbor, so any next hop is taken there). */
  private checkRoute(spec: RouteSpec): string {
    const prefix = spec.prefix.text;
    if (this.desiredRoutes.has(prefix)) throw new TwError('TW_ERR_EXISTS', `a static route for ${prefix} already exists`);
    const connected = this.connectedOwner(prefix);
    if (connected !== undefined) throw new TwError('TW_ERR_EXISTS', `${prefix} is the connected network of router interface ${connected} (one route per prefix)`);
    const via = spec.via;
    if (via !== undefined) {
      for (const r of this.desiredInterfaces.values()) {
        if (r.addresses.some((a) => a.split('/')[0] === via.text)) throw new TwError('TW_ERR_VALIDATION', `route.via ${via.text} is the router's own address on router interface ${r.name}; the next hop is another host`);
      }
    }
    if (spec.interface !== undefined) {
      const ri = this.desiredInterfaces.get(spec.interface);
      if (ri === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no router interface named ${spec.interface}`);
      if (via !== undefined && ri.bridge !== undefined && !isLinkLocal6(via.address) && !ri.addresses.some((a) => prefixContains(parseCidr(a), via))) {
        throw new TwError('TW_ERR_VALIDATION', `route.via ${via.text} is not on a network of router interface ${spec.interface} (${ri.addresses.join(', ')})`);
      }
      return spec.interface;
    }
    const egress = this.egressOf(savedRoute(spec));
    if (egress === undefined) {
      throw new TwError('TW_ERR_VALIDATION', `route.via ${via?.text ?? '?'} is not on a connected network of any router interface; add an interface with an address on its network, or give route.interface`);
    }
    return egress;
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
    this.store?.save({
      version: STATE_VERSION,
      bridges: [...this.desired.values()],
      links: [...this.desiredLinks.values()],
      routerInterfaces: [...this.desiredInterfaces.values()],
      routes: [...this.desiredRoutes.values()],
    });
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
      const ri = [...this.desiredInterfaces.values()].find((r) => r.bridge === name);
      if (ri !== undefined) throw new TwError('TW_ERR_IN_USE', `bridge ${name} has router interface ${ri.name}; delete the interface first (force deletes ports only)`);
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
    for (const p of b.ports) if (!this.pending.has(p.name)) await this.plane.call({ op: 'addPort', bridge: b.name, spec: await withIds(portSpec(p)) });
    for (const f of b.fdb) if (!this.pending.has(f.port)) await this.plane.call({ op: 'fdbAdd', bridge: b.name, mac: f.mac, port: f.port });
  }

  /** addPort validates and creates a port on a bridge. */
  addPort(bridge: string, input: unknown): Promise<PortStatus> {
    checkName(bridge, 'bridge');
    const spec = portSpec(input);
    return this.serial(async () => {
      const b = this.desiredBridge(bridge);
      if (this.pending.has(spec.name)) throw new TwError('TW_ERR_EXISTS', `port ${spec.name} already exists (saved, waiting to be rebuilt)`);
      if (this.desiredLinks.has(spec.name) || this.desiredInterfaces.has(spec.name)) this.checkNameFree(spec.name);
      const info = await this.plane.call<PortInfo>({ op: 'addPort', bridge, spec: await withIds(spec) });
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
          await this.plane.call({ op: 'addPort', bridge, spec: await withIds(portSpec(saved)) });
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
  /**
   * vmFd decides whether the process with `cred` may have an fd of vm port `port`'s TAP (root, the port's
   * owner, or a member of its group may) and opens one (a new queue fd attached to the persistent TAP;
   * fails while another emulator holds it). This is `tapwire exec`'s side, served by an FdServer.
   */
  async vmFd(port: string, cred: PeerCred): Promise<FdGrant | FdRefusal> {
    const list = await this.plane.call<PortInfo[]>({ op: 'listPorts' });
    const p = list.find((x) => x.name === port);
    if (p === undefined || p.kind !== 'vm') return { error: `there is no vm port named ${port}` };
    const member = p.gid !== undefined && (cred.gid === p.gid || (cred.groups ?? []).includes(p.gid));
    if (cred.uid !== 0 && cred.uid !== p.uid && !member) {
      this.log.warn({ port, uid: cred.uid, pid: cred.pid }, 'refused a vm port fd');
      return { error: `permission denied: vm port ${port} belongs to ${p.uid !== undefined ? `uid ${p.uid}` : ''}${p.uid !== undefined && p.gid !== undefined ? ' and ' : ''}${p.gid !== undefined ? `gid ${p.gid}` : ''}` };
    }
    let fd: number;
    try {
      fd = openVmQueue(p.ifname);
    } catch (e) {
      const code = (e as { code?: string }).code;
      return { error: code === 'EBUSY' ? `the TAP of vm port ${port} is held by another emulator` : `cannot open the TAP of vm port ${port}: ${(e as Error).message}` };
    }
    this.log.info({ port, uid: cred.uid, pid: cred.pid }, 'passed a vm port fd');
    return { fd, close: () => closeVmQueue(fd), info: { ifname: p.ifname, mac: p.mac } };
  }

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

  /** addLink validates and creates a link. */
  addLink(input: unknown): Promise<LinkStatus> {
    const spec = linkSpec(input);
    return this.serial(async () => {
      this.checkNameFree(spec.name);
      await this.plane.call<LinkInfo>({ op: 'addLink', spec });
      await this.commit(
        () => this.desiredLinks.set(spec.name, savedLink(spec)),
        () => this.desiredLinks.delete(spec.name),
        () => this.plane.call({ op: 'removeLink', name: spec.name }),
      );
      this.log.info({ link: spec.name, netns: spec.netns }, 'link added');
      return this.link(spec.name);
    });
  }

  /** removeLink deletes a link (its TUN device goes); refused while a router interface is on it. */
  removeLink(name: string): Promise<void> {
    checkName(name, 'link');
    return this.serial(async () => {
      const saved = this.desiredLinks.get(name);
      if (saved === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no link named ${name}`);
      const ri = [...this.desiredInterfaces.values()].find((r) => r.link === name);
      if (ri !== undefined) throw new TwError('TW_ERR_IN_USE', `link ${name} has router interface ${ri.name}; delete the interface first`);
      const waiting = this.pendingRouter.links.get(name);
      // A pending link was never built: only the state knows it, and there is nothing to undo.
      const built = waiting === undefined;
      if (built) await this.plane.call({ op: 'removeLink', name });
      const before = [...this.desiredLinks];
      await this.commit(
        () => {
          this.desiredLinks.delete(name);
          this.pendingRouter.links.delete(name);
        },
        () => {
          refill(this.desiredLinks, before);
          if (!built) this.pendingRouter.links.set(name, waiting);
        },
        () => (built ? this.plane.call({ op: 'addLink', spec: linkSpec(saved) }) : Promise.resolve()),
      );
      this.log.info({ link: name, pending: !built }, 'link removed');
    });
  }

  /** links lists every link with its counters. */
  async links(): Promise<LinkStatus[]> {
    const list = await this.plane.call<LinkInfo[]>({ op: 'listLinks' });
    const live: LinkStatus[] = list.map(({ index, ...l }) => ({ ...l, counters: this.plane.counters.readPort(index) }));
    for (const name of this.pendingRouter.links.keys()) {
      const saved = this.desiredLinks.get(name);
      if (saved === undefined) continue;
      const status: LinkStatus = {
        name,
        kind: saved.kind,
        ifname: name,
        addresses: saved.addresses,
        mtu: saved.mtu ?? 1500,
        routes: saved.routes,
        state: 'error',
        counters: noCounters(),
      };
      if (saved.netns !== undefined) status.netns = saved.netns;
      if (saved.peer !== undefined) status.peer = saved.peer;
      const ri = [...this.desiredInterfaces.values()].find((r) => r.link === name);
      if (ri !== undefined) status.routerInterface = ri.name;
      live.push(status);
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

  /** addRouterInterface validates and creates a router interface on a bridge or a link. On a link that
   * waits to be rebuilt it is saved and waits with it. */
  addRouterInterface(input: unknown): Promise<RouterInterfaceStatus> {
    const spec = routerInterfaceSpec(input);
    return this.serial(async () => {
      this.checkRouterInterface(spec);
      const waitsFor = spec.link !== undefined && this.pendingRouter.links.has(spec.link) ? spec.link : undefined;
      if (waitsFor === undefined) await this.plane.call<RouterInterfaceInfo>({ op: 'addRouterInterface', spec });
      await this.commit(
        () => {
          this.desiredInterfaces.set(spec.name, savedRouterInterface(spec));
          if (waitsFor !== undefined) this.pendingRouter.interfaces.set(spec.name, `link ${waitsFor} is not built yet`);
        },
        () => {
          this.desiredInterfaces.delete(spec.name);
          this.pendingRouter.interfaces.delete(spec.name);
        },
        () => (waitsFor === undefined ? this.plane.call({ op: 'removeRouterInterface', name: spec.name }) : Promise.resolve()),
      );
      this.log.info({ routerInterface: spec.name, bridge: spec.bridge, link: spec.link, pending: waitsFor !== undefined }, 'router interface added');
      return this.routerInterface(spec.name);
    });
  }

  /** removeRouterInterface deletes a router interface and its connected routes; refused while static
   * routes go out of it. */
  removeRouterInterface(name: string): Promise<void> {
    checkName(name, 'router interface');
    return this.serial(async () => {
      const saved = this.desiredInterfaces.get(name);
      if (saved === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no router interface named ${name}`);
      const using = [...this.desiredRoutes.values()].filter((r) => this.egressOf(r) === name).map((r) => r.prefix);
      if (using.length > 0) throw new TwError('TW_ERR_IN_USE', `static routes go out of router interface ${name}: ${using.join(', ')}; delete them first`);
      const waiting = this.pendingRouter.interfaces.get(name);
      const built = waiting === undefined;
      if (built) await this.plane.call({ op: 'removeRouterInterface', name });
      const before = [...this.desiredInterfaces];
      await this.commit(
        () => {
          this.desiredInterfaces.delete(name);
          this.pendingRouter.interfaces.delete(name);
        },
        () => {
          refill(this.desiredInterfaces, before);
          if (!built) this.pendingRouter.interfaces.set(name, waiting);
        },
        () => (built ? this.plane.call({ op: 'addRouterInterface', spec: routerInterfaceSpec(saved) }) : Promise.resolve()),
      );
      this.log.info({ routerInterface: name, pending: !built }, 'router interface removed');
    });
  }

  /** routerInterfaces lists the router's interfaces with their counters. */
  async routerInterfaces(): Promise<RouterInterfaceStatus[]> {
    const list = await this.plane.call<RouterInterfaceInfo[]>({ op: 'listRouterInterfaces' });
    const live: RouterInterfaceStatus[] = list.map(({ index, ...r }) => ({ ...r, state: 'up', counters: this.plane.counters.readPort(index) }));
    for (const name of this.pendingRouter.interfaces.keys()) {
      const saved = this.desiredInterfaces.get(name);
      if (saved === undefined) continue;
      const { mtu, ...rest } = saved;
      live.push({ ...rest, mtu: mtu ?? 1500, state: 'error', counters: noCounters() });
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

  /** addRoute validates and adds a static route. One whose interface waits to be rebuilt is saved and
   * waits with it. */
  addRoute(input: unknown): Promise<RouteStatus> {
    const spec = routeSpec(input);
    const prefix = spec.prefix.text;
    return this.serial(async () => {
      const egress = this.checkRoute(spec);
      const waitsFor = this.pendingRouter.interfaces.has(egress) ? egress : undefined;
      if (waitsFor === undefined) await this.plane.call<RouteInfo>({ op: 'addRoute', spec });
      await this.commit(
        () => {
          this.desiredRoutes.set(prefix, savedRoute(spec));
          if (waitsFor !== undefined) this.pendingRouter.routes.set(prefix, `router interface ${waitsFor} is not built yet`);
        },
        () => {
          this.desiredRoutes.delete(prefix);
          this.pendingRouter.routes.delete(prefix);
        },
        () => (waitsFor === undefined ? this.plane.call({ op: 'removeRoute', prefix: spec.prefix }) : Promise.resolve()),
      );
      this.log.info({ route: prefix, via: spec.via?.text, interface: egress, pending: waitsFor !== undefined }, 'static route added');
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
      const saved = this.desiredRoutes.get(prefix.text);
      if (saved === undefined) {
        const owner = this.connectedOwner(prefix.text);
        if (owner !== undefined) throw new TwError('TW_ERR_IN_USE', `${prefix.text} is the connected route of router interface ${owner}; it goes when the interface is deleted`);
        throw new TwError('TW_ERR_NOT_FOUND', `no static route for ${prefix.text}`);
      }
      const waiting = this.pendingRouter.routes.get(prefix.text);
      const built = waiting === undefined;
      if (built) await this.plane.call({ op: 'removeRoute', prefix });
      const before = [...this.desiredRoutes];
      await this.commit(
        () => {
          this.desiredRoutes.delete(prefix.text);
          this.pendingRouter.routes.delete(prefix.text);
        },
        () => {
          refill(this.desiredRoutes, before);
          if (!built) this.pendingRouter.routes.set(prefix.text, waiting);
        },
        () => (built ? this.plane.call({ op: 'addRoute', spec: routeSpec(saved) }) : Promise.resolve()),
      );
      this.log.info({ route: prefix.text, pending: !built }, 'static route removed');
    });
  }

  /** routes lists the router's table (connected and static routes), then the static routes that wait to
   * be rebuilt. */
  async routes(): Promise<RouteStatus[]> {
    const list: RouteStatus[] = await this.plane.call<RouteInfo[]>({ op: 'listRoutes' });
    for (const prefix of this.pendingRouter.routes.keys()) {
      const saved = this.desiredRoutes.get(prefix);
      if (saved === undefined) continue;
      const route: RouteStatus = { prefix, interface: this.egressOf(saved) ?? '', kind: 'static', pending: true };
      if (saved.via !== undefined) route.via = saved.via;
      list.push(route);
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
    const [interfaces, routes] = await Promise.all([
      this.plane.call<RouterInterfaceInfo[]>({ op: 'listRouterInterfaces' }),
      this.plane.call<RouteInfo[]>({ op: 'listRoutes' }),
    ]);
    return { interfaces: interfaces.length, routes: routes.length, counters: this.plane.counters.readRouter() };
  }

  /** apply builds what a topology file has and the state has not yet: bridges (with their ports), links,
   * router interfaces, routes. If any part fails, everything it built is removed again (from the data
   * plane and the saved state), in reverse order, and the error rethrown. */
  async apply(t: Topology): Promise<void> {
    const undo: (() => Promise<void>)[] = [];
    try {
      for (const b of t.bridges) {
        if (this.desired.has(b.spec.name)) {
          this.log.info({ bridge: b.spec.name }, 'bridge of the topology file already in the state; left as it is');
          continue;
        }
        await this.addBridge(b.spec);
        undo.push(() => this.removeBridge(b.spec.name, true));
        for (const p of b.ports) await this.addPort(b.spec.name, savedPort(p));
      }
      for (const l of t.links) {
        if (this.desiredLinks.has(l.name)) {
          this.log.info({ link: l.name }, 'link of the topology file already in the state; left as it is');
          continue;
        }
        await this.addLink(savedLink(l));
        undo.push(() => this.removeLink(l.name));
      }
      for (const r of t.routerInterfaces) {
        if (this.desiredInterfaces.has(r.name)) {
          this.log.info({ routerInterface: r.name }, 'router interface of the topology file already in the state; left as it is');
          continue;
        }
        await this.addRouterInterface(savedRouterInterface(r));
        undo.push(() => this.removeRouterInterface(r.name));
      }
      for (const r of t.routes) {
        if (this.desiredRoutes.has(r.prefix.text)) {
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
    if (this.retryTimer !== undefined) clearInterval(this.retryTimer);
    // A change in flight gets a while to finish (each data plane call is bounded too).
    await Promise.race([this.queue, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.plane.stop();
  }
}

/** RETRY_MS is how often pending saved ports are tried again. */
export const RETRY_MS = 5000;

/** noCounters are the counters of something not built. */
function noCounters(): PortCounters {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 0, drops: {} };
}

function pendingStatus(bridge: string, p: SavedPort): PortStatus {
  const status: PortStatus = {
    name: p.name,
    bridge,
    kind: p.kind,
    ifname: p.kind === 'netdev' ? p.ifname : p.name,
    addresses: p.kind === 'tap' ? p.addresses : [],
    mtu: (p.kind === 'tap' ? p.mtu : undefined) ?? 1500,
    state: 'error',
    counters: noCounters(),
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

// refill puts a map's earlier entries back, in their earlier order.
function refill<K, V>(map: Map<K, V>, entries: [K, V][]): void {
  map.clear();
  for (const [k, v] of entries) map.set(k, v);
}

// asArray reads an optional list of the saved state (absent in files written before it existed).
function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

function reasonOf(e: unknown): string {
  return e instanceof TwError ? e.detail : String(e);
}

function describe(e: unknown): unknown {
  return e instanceof TwError ? { code: e.code, detail: e.detail } : e instanceof Error ? e.message : e;
}
