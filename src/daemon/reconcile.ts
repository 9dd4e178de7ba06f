// Reconciler: keeps the data plane in step with the desired state. At start it rebuilds the saved state
// (restore). An object that is valid but cannot be built yet (a port or a link whose network namespace is
// not there yet, e.g. right after boot) stays desired and pending: it shows as `error` (a route as
// `pending`), and is tried again every RETRY_MS, before what waits for it (a router interface on a pending
// link, a route out of a pending interface). Every change the facade accepts is applied here: built in the
// data plane now, or recorded as waiting for what it needs.
//
// A change is applied in two steps, so that what runs always matches what is saved: the data plane takes it
// (or it is found to wait), then the facade saves the new state; if saving fails the change is undone, and
// only once it is saved does it settle (what it waits for is recorded).
import { TwError } from '../errors.js';
import type { BridgeSpec, LinkSpec, PortInfo, PortSpec, RouteSpec, RouterInterfaceSpec } from '../dataplane/protocol.js';
import type { Cidr } from '../wire/cidr.js';
import { checkSocketPath, type SocketPathPolicy } from '../ports/socket-path.js';
import { resolveGroup, resolveUser } from './accounts.js';
import type { DataPlaneClient } from './dataplane-client.js';
import { DesiredState } from './desired-state.js';
import { bridgeSpec, checkName, checkUnicastMac, linkSpec, portSpec, routeSpec, routerInterfaceSpec } from './specs.js';
import type { BridgePatch } from './resources.js';
import type { SavedBridge, SavedFdbEntry, SavedLink, SavedPort, SavedRoute, SavedRouterInterface, SavedState } from './state-store.js';

/** Logger is the slice of pino the daemon uses. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** RETRY_MS is how often pending saved objects are tried again. */
export const RETRY_MS = 5000;

/** Applied is a change the data plane has taken, or that waits (`pending`: nothing was built). `undo` takes
 * it back out of the data plane; `settle` records, once the new state is saved, what now waits. */
export interface Applied {
  readonly pending: boolean;
  undo(): Promise<unknown>;
  settle(): void;
}

/** Pending are the desired objects the data plane does not have yet, each with why: ports by name (with
 * their bridge), links and router interfaces by name, static routes by prefix. */
export interface Pending {
  readonly ports: ReadonlyMap<string, { bridge: string; reason: string }>;
  readonly links: ReadonlyMap<string, string>;
  readonly interfaces: ReadonlyMap<string, string>;
  readonly routes: ReadonlyMap<string, string>;
}

/** describeError is an error as the log shows it. */
export function describeError(e: unknown): unknown {
  return e instanceof TwError ? { code: e.code, detail: e.detail } : e instanceof Error ? e.message : e;
}

function reasonOf(e: unknown): string {
  return e instanceof TwError ? e.detail : String(e);
}

// asArray reads an optional list of the saved state (absent in files written before it existed).
function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

// nameOf reads the name (or another key) of a saved entry that may not even be an object, for the log.
function nameOf(raw: unknown, key = 'name'): unknown {
  return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[key] : raw;
}

/** withIds resolves a vm or socket port's owner and group (names or ids) into the uid and gid the data
 * plane sets; a socket port's path is checked against `sockets` first (socket-path.ts), at every attempt,
 * so that a saved port whose path is refused stays pending instead of taking a socket. */
async function withIds(spec: PortSpec, sockets: SocketPathPolicy): Promise<PortSpec> {
  if (spec.kind !== 'vm' && spec.kind !== 'socket') return spec;
  if (spec.kind === 'socket') await checkSocketPath(spec.path, sockets, 'path');
  const out = { ...spec };
  if (spec.owner !== undefined) out.uid = await resolveUser(spec.owner);
  if (spec.group !== undefined) out.gid = await resolveGroup(spec.group);
  return out;
}

const built = (undo: () => Promise<unknown>): Applied => ({ pending: false, undo, settle() {} });

/** Reconciler applies the desired state to the data plane; see the comment at the top of this file. */
export class Reconciler {
  private readonly ports = new Map<string, { bridge: string; reason: string }>();
  private readonly links = new Map<string, string>();
  private readonly interfaces = new Map<string, string>();
  private readonly routes = new Map<string, string>();
  private retryTimer: NodeJS.Timeout | undefined;

  /** `serial` runs a retry in the facade's order of changes; `desired` is the state to retry against;
   * `sockets` is where socket ports may listen. */
  constructor(
    private readonly plane: DataPlaneClient,
    private readonly log: Logger,
    private readonly serial: (change: () => Promise<void>) => Promise<void>,
    private readonly desired: () => DesiredState,
    private readonly sockets: SocketPathPolicy = {},
  ) {}

  /** pending is what the data plane does not have yet. */
  get pending(): Pending {
    return { ports: this.ports, links: this.links, interfaces: this.interfaces, routes: this.routes };
  }

  /** pendingCount is how many desired objects wait to be built. */
  pendingCount(): number {
    return this.ports.size + this.links.size + this.interfaces.size + this.routes.size;
  }

  /**
   * restore rebuilds a saved state into the data plane and returns it as a desired state. Entries that are
   * not valid are logged and dropped (`dropped` counts them: the state is to be saved again); ports and
   * links that are valid but cannot be built now stay in the state as pending, with what waits for them.
   */
  async restore(saved: SavedState): Promise<{ state: DesiredState; dropped: number }> {
    let state = DesiredState.EMPTY;
    let dropped = 0;
    const drop = (what: object, e: unknown, msg: string): void => {
      this.log.error({ ...what, err: describeError(e) }, msg);
      dropped++;
    };
    for (const raw of saved.bridges as unknown[]) {
      const rb = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof SavedBridge, unknown>>;
      let spec: BridgeSpec;
      try {
        spec = bridgeSpec({ name: rb.name, agingSeconds: rb.agingSeconds, fdbMax: rb.fdbMax });
        const next = state.addBridge(spec);
        await this.plane.call({ op: 'addBridge', spec });
        state = next;
      } catch (e) {
        drop({ bridge: rb.name }, e, 'a saved bridge is not valid; dropped from the state');
        continue;
      }
      for (const p of asArray(rb.ports)) {
        let ps: PortSpec;
        try {
          ps = portSpec(p);
          if (state.port(ps.name) !== undefined) throw new TwError('TW_ERR_EXISTS', `port ${ps.name} is saved twice`);
          state = state.addPort(spec.name, ps);
        } catch (e) {
          drop({ bridge: spec.name, port: nameOf(p) }, e, 'a saved port is not valid; dropped from the state');
          continue;
        }
        try {
          await this.plane.call({ op: 'addPort', bridge: spec.name, spec: await withIds(ps, this.sockets) });
        } catch (e) {
          this.ports.set(ps.name, { bridge: spec.name, reason: reasonOf(e) });
          this.log.warn({ bridge: spec.name, port: ps.name, err: describeError(e) }, `cannot rebuild a saved port now; retrying every ${RETRY_MS / 1000} s`);
        }
      }
      for (const f of asArray(rb.fdb)) {
        const rf = (typeof f === 'object' && f !== null ? f : {}) as { mac?: unknown; port?: unknown };
        let entry: SavedFdbEntry;
        try {
          entry = { mac: checkUnicastMac(rf.mac, 'mac'), port: checkName(rf.port, 'port') };
          state = state.pinMac(spec.name, entry.mac, entry.port);
        } catch (e) {
          drop({ bridge: spec.name, mac: rf.mac }, e, 'a saved static FDB entry is not valid; dropped from the state');
          continue;
        }
        if (this.ports.has(entry.port)) continue;
        await this.plane
          .call({ op: 'fdbAdd', bridge: spec.name, ...entry })
          .catch((e: unknown) => this.log.error({ bridge: spec.name, mac: entry.mac, err: describeError(e) }, 'cannot rebuild a static FDB entry'));
      }
    }
    const router = await this.restoreRouter(saved, state);
    return { state: router.state, dropped: dropped + router.dropped };
  }

  /** restoreRouter rebuilds the saved links, then router interfaces, then static routes (after the bridges
   * and ports, which interfaces need). An entry that is not valid or that the data plane refuses is logged
   * and dropped, except a link (kept pending and retried, like a port: its namespace may come later) and
   * what waits for a pending link. */
  private async restoreRouter(saved: SavedState, from: DesiredState): Promise<{ state: DesiredState; dropped: number }> {
    let state = from;
    let dropped = 0;
    const drop = (what: object, e: unknown, msg: string): void => {
      this.log.error({ ...what, err: describeError(e) }, msg);
      dropped++;
    };
    for (const raw of asArray(saved.links)) {
      let spec: LinkSpec;
      try {
        spec = linkSpec(raw);
        state = state.addLink(spec);
      } catch (e) {
        drop({ link: nameOf(raw) }, e, 'a saved link is not valid; dropped from the state');
        continue;
      }
      try {
        await this.plane.call({ op: 'addLink', spec });
      } catch (e) {
        this.links.set(spec.name, reasonOf(e));
        this.log.warn({ link: spec.name, err: describeError(e) }, `cannot rebuild a saved link now; retrying every ${RETRY_MS / 1000} s`);
      }
    }
    for (const raw of asArray(saved.routerInterfaces)) {
      let spec: RouterInterfaceSpec;
      let next: DesiredState;
      try {
        spec = routerInterfaceSpec(raw);
        next = state.addRouterInterface(spec);
      } catch (e) {
        drop({ routerInterface: nameOf(raw) }, e, 'a saved router interface is not valid; dropped from the state');
        continue;
      }
      if (spec.link !== undefined && this.links.has(spec.link)) {
        state = next;
        this.interfaces.set(spec.name, `link ${spec.link} is not built yet`);
        continue;
      }
      try {
        await this.plane.call({ op: 'addRouterInterface', spec });
      } catch (e) {
        drop({ routerInterface: spec.name }, e, 'cannot rebuild a saved router interface; dropped from the state');
        continue;
      }
      state = next;
    }
    for (const raw of asArray(saved.routes)) {
      let spec: RouteSpec;
      let added: { state: DesiredState; egress: string };
      try {
        spec = routeSpec(raw);
        added = state.addRoute(spec);
      } catch (e) {
        drop({ route: nameOf(raw, 'prefix') }, e, 'a saved static route is not valid; dropped from the state');
        continue;
      }
      if (this.interfaces.has(added.egress)) {
        state = added.state;
        this.routes.set(spec.prefix.text, `router interface ${added.egress} is not built yet`);
        continue;
      }
      try {
        await this.plane.call({ op: 'addRoute', spec });
      } catch (e) {
        drop({ route: spec.prefix.text }, e, 'cannot rebuild a saved static route; dropped from the state');
        continue;
      }
      state = added.state;
    }
    return { state, dropped };
  }

  /** retryWhilePending tries the pending objects again every RETRY_MS until none is left. */
  retryWhilePending(): void {
    if (this.pendingCount() > 0 && this.retryTimer === undefined) this.retryTimer = setInterval(() => void this.serial(() => this.retry()), RETRY_MS).unref();
  }

  /** stop ends the retries. */
  stop(): void {
    if (this.retryTimer !== undefined) clearInterval(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** retry tries to build the pending ports again (and their static FDB entries), then the router's
   * pending objects. */
  private async retry(): Promise<void> {
    const desired = this.desired();
    for (const [name, { bridge }] of [...this.ports]) {
      const b = desired.bridges.get(bridge);
      const saved = b?.ports.find((p) => p.name === name);
      if (b === undefined || saved === undefined) {
        this.ports.delete(name);
        continue;
      }
      try {
        await this.plane.call({ op: 'addPort', bridge, spec: await withIds(portSpec(saved), this.sockets) });
      } catch (e) {
        this.ports.set(name, { bridge, reason: reasonOf(e) });
        continue;
      }
      this.ports.delete(name);
      for (const f of b.fdb.filter((x) => x.port === name)) {
        await this.plane.call({ op: 'fdbAdd', bridge, ...f }).catch((e: unknown) => this.log.error({ bridge, mac: f.mac, err: describeError(e) }, 'cannot rebuild a static FDB entry'));
      }
      this.log.info({ bridge, port: name }, 'a pending saved port is built now');
    }
    await this.retryRouter(desired);
    if (this.pendingCount() === 0) this.stop();
  }

  /** retryRouter builds the pending links, then what waited for them. */
  private async retryRouter(desired: DesiredState): Promise<void> {
    for (const name of [...this.links.keys()]) {
      const saved = desired.links.get(name);
      if (saved === undefined) {
        this.links.delete(name);
        continue;
      }
      try {
        await this.plane.call({ op: 'addLink', spec: linkSpec(saved) });
      } catch (e) {
        this.links.set(name, reasonOf(e));
        continue;
      }
      this.links.delete(name);
      this.log.info({ link: name }, 'a pending saved link is built now');
    }
    for (const name of [...this.interfaces.keys()]) {
      const saved = desired.interfaces.get(name);
      if (saved === undefined) {
        this.interfaces.delete(name);
        continue;
      }
      if (saved.link !== undefined && this.links.has(saved.link)) continue;
      try {
        await this.plane.call({ op: 'addRouterInterface', spec: routerInterfaceSpec(saved) });
      } catch (e) {
        this.interfaces.set(name, reasonOf(e));
        continue;
      }
      this.interfaces.delete(name);
      this.log.info({ routerInterface: name }, 'a pending saved router interface is built now');
    }
    for (const prefix of [...this.routes.keys()]) {
      const saved = desired.routes.get(prefix);
      if (saved === undefined) {
        this.routes.delete(prefix);
        continue;
      }
      const egress = desired.egressOf(saved);
      if (egress !== undefined && this.interfaces.has(egress)) continue;
      try {
        await this.plane.call({ op: 'addRoute', spec: routeSpec(saved) });
      } catch (e) {
        this.routes.set(prefix, reasonOf(e));
        continue;
      }
      this.routes.delete(prefix);
      this.log.info({ route: prefix }, 'a pending saved static route is built now');
    }
  }

  /** addBridge builds a bridge. */
  async addBridge(spec: BridgeSpec): Promise<Applied> {
    await this.plane.call({ op: 'addBridge', spec });
    return built(() => this.plane.call({ op: 'removeBridge', name: spec.name, force: true }));
  }

  /** updateBridge changes a bridge's aging time and/or FDB cap; undone back to `before`. */
  async updateBridge(name: string, patch: BridgePatch, before: BridgePatch): Promise<Applied> {
    await this.plane.call({ op: 'updateBridge', name, ...patch });
    return built(() => this.plane.call({ op: 'updateBridge', name, ...before }));
  }

  /** removeBridge removes a bridge (with its ports when `force`); its pending ports go with it. Undone by
   * building the bridge again, with its ports and static FDB entries. */
  async removeBridge(b: SavedBridge, force: boolean): Promise<Applied> {
    await this.plane.call({ op: 'removeBridge', name: b.name, force });
    return {
      pending: false,
      undo: () => this.rebuild(b),
      settle: () => {
        for (const [port, v] of [...this.ports]) if (v.bridge === b.name) this.ports.delete(port);
      },
    };
  }

  private async rebuild(b: SavedBridge): Promise<void> {
    await this.plane.call({ op: 'addBridge', spec: { name: b.name, agingSeconds: b.agingSeconds, fdbMax: b.fdbMax } });
    for (const p of b.ports) if (!this.ports.has(p.name)) await this.plane.call({ op: 'addPort', bridge: b.name, spec: await withIds(portSpec(p), this.sockets) });
    for (const f of b.fdb) if (!this.ports.has(f.port)) await this.plane.call({ op: 'fdbAdd', bridge: b.name, mac: f.mac, port: f.port });
  }

  /** addPort builds a port on a bridge (its owner and group resolved first) and says what the data plane
   * made of it. */
  async addPort(bridge: string, spec: PortSpec): Promise<Applied & { info: PortInfo }> {
    const info = await this.plane.call<PortInfo>({ op: 'addPort', bridge, spec: await withIds(spec, this.sockets) });
    return { ...built(() => this.plane.call({ op: 'removePort', bridge, name: spec.name })), info };
  }

  /** removePort removes a port; a pending one was never built, so only its waiting ends. Undone by building
   * it again with the static FDB entries (`pins`) that pointed at it. */
  async removePort(bridge: string, saved: SavedPort, pins: readonly SavedFdbEntry[]): Promise<Applied> {
    const name = saved.name;
    const waiting = this.ports.get(name);
    if (waiting !== undefined && waiting.bridge === bridge) return { pending: true, undo: () => Promise.resolve(), settle: () => this.ports.delete(name) };
    await this.plane.call({ op: 'removePort', bridge, name });
    return built(async () => {
      await this.plane.call({ op: 'addPort', bridge, spec: await withIds(portSpec(saved), this.sockets) });
      for (const f of pins) await this.plane.call({ op: 'fdbAdd', bridge, mac: f.mac, port: f.port });
    });
  }

  /** pinMac adds a static FDB entry; undone back to the earlier pin of that MAC, or none. */
  async pinMac(bridge: string, mac: string, port: string, before: SavedFdbEntry | undefined): Promise<Applied> {
    await this.plane.call({ op: 'fdbAdd', bridge, mac, port });
    return built(() => (before === undefined ? this.plane.call({ op: 'fdbDelete', bridge, mac }) : this.plane.call({ op: 'fdbAdd', bridge, mac, port: before.port })));
  }

  /** unpinMac deletes an FDB entry, static or learned; undone by pinning it again if it was pinned. */
  async unpinMac(bridge: string, mac: string, pinned: SavedFdbEntry | undefined): Promise<Applied> {
    await this.plane.call({ op: 'fdbDelete', bridge, mac });
    return built(() => (pinned === undefined ? Promise.resolve() : this.plane.call({ op: 'fdbAdd', bridge, mac, port: pinned.port })));
  }

  /** addLink builds a link. */
  async addLink(spec: LinkSpec): Promise<Applied> {
    await this.plane.call({ op: 'addLink', spec });
    return built(() => this.plane.call({ op: 'removeLink', name: spec.name }));
  }

  /** removeLink removes a link; a pending one was never built, so only its waiting ends. */
  async removeLink(saved: SavedLink): Promise<Applied> {
    const name = saved.name;
    if (this.links.has(name)) return { pending: true, undo: () => Promise.resolve(), settle: () => this.links.delete(name) };
    await this.plane.call({ op: 'removeLink', name });
    return built(() => this.plane.call({ op: 'addLink', spec: linkSpec(saved) }));
  }

  /** addRouterInterface builds a router interface, or, on a link that waits to be rebuilt, lets it wait
   * with the link. */
  async addRouterInterface(spec: RouterInterfaceSpec): Promise<Applied> {
    const link = spec.link;
    if (link !== undefined && this.links.has(link)) {
      return { pending: true, undo: () => Promise.resolve(), settle: () => this.interfaces.set(spec.name, `link ${link} is not built yet`) };
    }
    await this.plane.call({ op: 'addRouterInterface', spec });
    return built(() => this.plane.call({ op: 'removeRouterInterface', name: spec.name }));
  }

  /** removeRouterInterface removes a router interface; a pending one was never built. */
  async removeRouterInterface(saved: SavedRouterInterface): Promise<Applied> {
    const name = saved.name;
    if (this.interfaces.has(name)) return { pending: true, undo: () => Promise.resolve(), settle: () => this.interfaces.delete(name) };
    await this.plane.call({ op: 'removeRouterInterface', name });
    return built(() => this.plane.call({ op: 'addRouterInterface', spec: routerInterfaceSpec(saved) }));
  }

  /** addRoute adds a static route, or, out of an interface that waits to be rebuilt, lets it wait with it. */
  async addRoute(spec: RouteSpec, egress: string): Promise<Applied> {
    if (this.interfaces.has(egress)) {
      return { pending: true, undo: () => Promise.resolve(), settle: () => this.routes.set(spec.prefix.text, `router interface ${egress} is not built yet`) };
    }
    await this.plane.call({ op: 'addRoute', spec });
    return built(() => this.plane.call({ op: 'removeRoute', prefix: spec.prefix }));
  }

  /** removeRoute removes a static route; a pending one was never built. */
  async removeRoute(prefix: Cidr, saved: SavedRoute): Promise<Applied> {
    if (this.routes.has(prefix.text)) return { pending: true, undo: () => Promise.resolve(), settle: () => this.routes.delete(prefix.text) };
    await this.plane.call({ op: 'removeRoute', prefix });
    return built(() => this.plane.call({ op: 'addRoute', spec: routeSpec(saved) }));
  }
}
