// DataPlane: everything the worker thread owns: the ports, the bridges, the router, the batched I/O and
// the counters it writes. The hot path is the Forwarder (forwarder.ts); this class answers the control
// plane's commands (add a port, flush an FDB), which arrive between batches, and runs the timers.
import { TwError } from '../errors.js';
import { Bridge } from '../bridge/bridge.js';
import type { Io, IoFactory } from '../ports/batch-io.js';
import { deviceError, netdevError, socketError, vmError } from '../ports/device-errors.js';
import type { PortDevices } from '../ports/devices.js';
import type { Port, PortSink } from '../ports/port.js';
import { Router } from '../router/router.js';
import { TimerWheel } from '../time/timer-wheel.js';
import { formatMac, macBytes, parseMac } from '../wire/ethernet.js';
import type { Cidr } from '../wire/cidr.js';
import { Accounting } from './accounting.js';
import { B, CounterBlock } from './counters.js';
import { Forwarder } from './forwarder.js';
import { bridgeInfo, linkInfo, portInfo, routerInterfaceInfo } from './info.js';
import { type BridgeEntry, type LinkEntry, PortTable, type RouterEntry, type SwitchEntry } from './port-table.js';
import type {
  PortEvent,
  BridgeInfo,
  BridgeSpec,
  FdbRow,
  LinkInfo,
  LinkSpec,
  NeighborInfo,
  PortInfo,
  PortSpec,
  RouteInfo,
  RouteSpec,
  RouterInterfaceInfo,
  RouterInterfaceSpec,
  SocketPortSpec,
} from './protocol.js';
import { WritePlan } from './write-plan.js';

const DEFAULT_MTU = 1500;
/** HOUSEKEEPING_MS is how often port state the kernel does not announce is re-read, FDBs whose oldest
 * entry is due are aged, and the bridge counters are published. */
export const HOUSEKEEPING_MS = 1000;

/** DataPlaneDeps are what the data plane runs on; tests pass fakes. */
export interface DataPlaneDeps {
  counters: CounterBlock;
  io: IoFactory;
  devices: PortDevices;
  /** clock returns monotonic milliseconds. */
  clock: () => number;
  /** log receives events worth a log line (a port failing); it must not throw. */
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** event receives every port state change, for the control plane; it must not throw. */
  event?: (e: PortEvent) => void;
  /** wake, when given, is asked to call runTimers() at time `at` (ms, the clock's) or soon after; a later
   * call replaces the earlier wish. Without it the owner calls runTimers() itself (tests). */
  wake?: (at: number) => void;
}

/** DataPlane is the worker side of tapwire; see the comment at the top of this file. */
export class DataPlane {
  readonly router: Router;
  /** timers is the data plane's one timer wheel: neighbor timers, RAs, FDB aging, port state. */
  readonly timers: TimerWheel;
  private readonly io: Io;
  private wakeAt = Infinity;
  private readonly table = new PortTable();
  private readonly acct: Accounting;
  private readonly forwarder: Forwarder;
  private readonly sink: PortSink;
  private closed = false;

  constructor(private readonly deps: DataPlaneDeps) {
    this.acct = new Accounting(deps.counters);
    // The batch loop calls the forwarder, which needs the loop's arena: the callback finds it through `this`.
    this.io = deps.io((port, count, errno, skipped) => this.forwarder.onBatch(port, count, errno, skipped ?? 0, this.io.offsets, this.io.lengths));
    const plan = new WritePlan(this.io, this.acct);
    const forwarder = new Forwarder(this.table, plan, this.acct, this.io, {
      clock: deps.clock,
      readFailed: (e, errno) => this.readFailed(e, errno),
      batchDone: () => this.armWake(),
      internalError: (e, error, suppressed) =>
        deps.log?.('error', 'a frame made the forwarder throw; it was dropped (internal_error) and forwarding goes on', {
          port: e.spec.name,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          suppressed,
        }),
    });
    this.forwarder = forwarder;
    this.timers = new TimerWheel({ onError: (error) => deps.log?.('error', 'a timer failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }) });
    this.router = new Router(forwarder, { counters: deps.counters.values, base: deps.counters.routerBase, timers: this.timers });
    this.timers.schedule(deps.clock() + HOUSEKEEPING_MS, this.housekeeping);
    forwarder.attachRouter(this.router);
    this.sink = {
      receive: (port, buf, offsets, lengths, count) => {
        const e = this.table.slots[port.index];
        if (e !== undefined && e.role !== 'router' && e.port === port) this.forwarder.receive(e, buf, offsets, lengths, count);
      },
      drop: (port, reason) => {
        if (this.table.slots[port.index]?.port === port) this.acct.drop(port.index, reason);
      },
      state: (port, state, why) => {
        const e = this.table.slots[port.index];
        if (e === undefined || e.port !== port) return;
        this.deps.log?.(state === 'error' ? 'error' : 'info', why, { port: port.name });
        this.deps.event?.({ type: 'port-state', port: port.name, bridge: e.role === 'switch' ? e.bridge.bridge.name : undefined, state, reason: why });
      },
    };
  }

  /** describeIo says how the I/O is done, for the log. */
  describeIo(): Record<string, unknown> {
    return this.io.describe();
  }

  /** readFailed ends a port whose device failed: it no longer receives. */
  private readFailed(e: SwitchEntry | LinkEntry, errno: number): void {
    this.acct.drop(e.sw.index, 'read_error');
    const port = e.port;
    port.up = false;
    if (port.state === 'error') return;
    port.state = 'error';
    this.deps.log?.('error', 'port read failed; the port no longer receives', { port: e.spec.name, errno });
    this.deps.event?.({ type: 'port-state', port: e.spec.name, bridge: e.role === 'switch' ? e.bridge.bridge.name : undefined, state: 'error', reason: `read failed (errno ${errno})` });
  }

  /** runTimers runs every timer that is due (the router's, FDB aging, port state), writes what they sent,
   * and asks to be woken for the next one. */
  runTimers(): void {
    const now = this.deps.clock();
    this.forwarder.setNow(now);
    this.wakeAt = Infinity;
    this.timers.advance(now);
    this.forwarder.flush();
    this.armWake();
  }

  /** armWake asks the owner to wake the data plane for the earliest timer, when that is earlier than the
   * wake-up already asked for. Called after each batch and command, since both may add timers. */
  armWake(): void {
    const next = this.timers.nextDeadline();
    if (next >= this.wakeAt || this.deps.wake === undefined || this.closed) return;
    this.wakeAt = next;
    this.deps.wake(next);
  }

  /** housekeeping re-reads port state the kernel does not announce, ages the FDBs whose oldest learned
   * entry is due (touching only what expires), and publishes the bridge counters; once a second. */
  private readonly housekeeping = (now: number): void => {
    if (this.closed) return;
    this.timers.schedule(now + HOUSEKEEPING_MS, this.housekeeping);
    for (const p of this.table.ports.values()) p.port.refresh?.();
    for (const b of this.table.bridges.values()) {
      if (now >= b.bridge.fdb.nextExpiry()) b.bridge.fdb.expire(now);
      this.publishBridge(b);
    }
  };

  private publishBridge(b: BridgeEntry): void {
    const c = this.deps.counters.values;
    const base = this.deps.counters.bridgeBase(b.slot);
    const fdb = b.bridge.fdb;
    const s = fdb.stats;
    c[base + B.fdbEntries] = fdb.size;
    c[base + B.fdbLearned] = s.learned;
    c[base + B.fdbMoved] = s.moved;
    c[base + B.fdbExpired] = s.expired;
    c[base + B.fdbEvicted] = s.evicted;
    c[base + B.floods] = b.bridge.stats.floods;
  }

  // ---- bridges ----------------------------------------------------------------------------------------

  addBridge(spec: BridgeSpec): BridgeInfo {
    if (this.table.bridges.has(spec.name)) throw new TwError('TW_ERR_EXISTS', `bridge ${spec.name} already exists`);
    const slot = this.table.takeBridgeSlot();
    const bridge = new Bridge(spec.name, { agingMs: spec.agingSeconds * 1000, max: spec.fdbMax });
    this.deps.counters.resetBridge(slot);
    const entry: BridgeEntry = { bridge, slot, ports: new Map() };
    this.table.bridges.set(spec.name, entry);
    return bridgeInfo(entry);
  }

  updateBridge(name: string, changes: { agingSeconds?: number; fdbMax?: number }): BridgeInfo {
    const b = this.table.bridge(name);
    if (changes.agingSeconds !== undefined) b.bridge.fdb.setAging(changes.agingSeconds * 1000);
    if (changes.fdbMax !== undefined) b.bridge.fdb.setMax(changes.fdbMax);
    this.publishBridge(b);
    return bridgeInfo(b);
  }

  removeBridge(name: string, force: boolean): void {
    const b = this.table.bridge(name);
    for (const r of this.table.routerPorts.values()) {
      if (r.bridge === b) throw new TwError('TW_ERR_IN_USE', `bridge ${name} has router interface ${r.spec.name}; delete it first`);
    }
    if (b.ports.size > 0 && !force) throw new TwError('TW_ERR_IN_USE', `bridge ${name} still has ${b.ports.size} port(s); delete them first or use force`);
    for (const p of [...b.ports.values()]) this.detach(p);
    this.table.bridges.delete(name);
    this.table.releaseBridgeSlot(b.slot);
  }

  listBridges(): BridgeInfo[] {
    return [...this.table.bridges.values()].map(bridgeInfo);
  }

  // ---- ports ------------------------------------------------------------------------------------------

  /** addPort makes a port's device and joins it to the bridge; a socket port answers once it listens. */
  addPort(bridgeName: string, spec: SocketPortSpec): Promise<PortInfo>;
  addPort(bridgeName: string, spec: Exclude<PortSpec, SocketPortSpec>): PortInfo;
  addPort(bridgeName: string, spec: PortSpec): PortInfo | Promise<PortInfo>;
  addPort(bridgeName: string, spec: PortSpec): PortInfo | Promise<PortInfo> {
    const b = this.table.bridge(bridgeName);
    this.table.refuseTakenName(spec.name);
    if (spec.kind === 'socket') return this.addSocketPort(b, spec);
    const index = this.table.freeSlot();
    return this.join(b, spec, this.openPort(spec, index));
  }

  private openPort(spec: Exclude<PortSpec, SocketPortSpec>, index: number): Port {
    const devices = this.deps.devices;
    switch (spec.kind) {
      case 'tap':
        try {
          const mac = spec.mac === undefined ? undefined : macBytes(parseMac(spec.mac));
          return devices.tap({ name: spec.name, netns: spec.netns, addresses: spec.addresses, mac, mtu: spec.mtu, up: spec.up }, index);
        } catch (e) {
          throw deviceError(e, spec.name, spec.netns);
        }
      case 'netdev':
        try {
          return devices.netdev({ name: spec.name, ifname: spec.ifname }, index);
        } catch (e) {
          throw netdevError(e, spec.ifname);
        }
      case 'vm':
        if (spec.uid === undefined && spec.gid === undefined) throw new TwError('TW_ERR_VALIDATION', `vm port ${spec.name} needs an owner or a group`);
        try {
          return devices.vm({ name: spec.name, uid: spec.uid, gid: spec.gid, mtu: spec.mtu }, index);
        } catch (e) {
          throw vmError(e, spec.name);
        }
    }
  }

  /** addSocketPort listens on the port's socket, then joins the port to the bridge (up while a peer is there). */
  private async addSocketPort(b: BridgeEntry, spec: SocketPortSpec): Promise<PortInfo> {
    // The slot is reserved while the socket opens: other commands may run meanwhile.
    const index = this.table.reserve();
    let port: Port;
    try {
      port = await this.deps.devices.socket({ name: spec.name, path: spec.path, mode: spec.mode, uid: spec.uid, gid: spec.gid, mtu: spec.mtu }, index);
    } catch (e) {
      this.table.unreserve(index);
      throw socketError(e, spec.path);
    }
    try {
      if (this.table.bridges.get(b.bridge.name) !== b) throw new TwError('TW_ERR_NOT_FOUND', `no bridge named ${b.bridge.name}`);
      this.table.refuseTakenName(spec.name);
    } catch (e) {
      this.table.unreserve(index);
      port.close();
      throw e;
    }
    return this.join(b, spec, port);
  }

  /** join puts a freshly made port in its slot and on its bridge, and starts it. */
  private join(b: BridgeEntry, spec: PortSpec, port: Port): PortInfo {
    const index = port.index;
    const entry: SwitchEntry = { role: 'switch', port, sw: port, spec, bridge: b, base: this.deps.counters.portBase(index) };
    this.deps.counters.resetPort(index);
    if (port.fd >= 0) {
      try {
        this.io.add(port.fd, index);
      } catch (e) {
        if (port.remove !== undefined && port.adopted !== true) port.remove();
        else port.close();
        throw deviceError(e, spec.name);
      }
    }
    this.table.put(entry);
    b.bridge.addPort(port);
    port.start(this.sink);
    return portInfo(entry);
  }

  removePort(bridgeName: string, name: string): void {
    const b = this.table.bridge(bridgeName);
    const p = b.ports.get(name);
    if (p === undefined) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridgeName} has no port ${name}`);
    this.detach(p);
  }

  /** detach takes a port out and closes it; a port's lasting device (a vm port's TAP) is deleted too
   * unless `keep` (at shutdown: the TAP outlives the daemon, with the emulator on it, and is adopted at
   * the next start). */
  private detach(p: SwitchEntry, keep = false): void {
    if (p.port.fd >= 0) this.io.remove(p.sw.index);
    p.bridge.bridge.removePort(p.sw.index);
    this.table.take(p);
    if (p.port.remove !== undefined && !keep) {
      try {
        p.port.remove();
      } catch (e) {
        this.deps.log?.('warn', 'the device of a deleted port could not be removed', { port: p.spec.name, error: String(e) });
      }
    } else {
      p.port.close();
    }
  }

  listPorts(bridgeName?: string): PortInfo[] {
    const entries = bridgeName === undefined ? [...this.table.ports.values()] : [...this.table.bridge(bridgeName).ports.values()];
    return entries.map(portInfo);
  }

  // ---- FDB --------------------------------------------------------------------------------------------

  fdbList(bridgeName: string): FdbRow[] {
    const b = this.table.bridge(bridgeName);
    const now = this.deps.clock();
    return b.bridge.fdb.entries().map((e) => ({
      mac: formatMac(e.mac),
      port: this.table.slots[e.port]?.spec.name ?? `#${e.port}`,
      static: e.isStatic,
      ageSeconds: e.isStatic ? 0 : Math.floor((now - e.lastSeen) / 1000),
    }));
  }

  fdbAdd(bridgeName: string, mac: string, portName: string): void {
    const b = this.table.bridge(bridgeName);
    const p = b.ports.get(portName);
    if (p === undefined) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridgeName} has no port ${portName}`);
    const key = parseMac(mac);
    if (Math.floor(key / 0x100_0000_0000) % 2 === 1) throw new TwError('TW_ERR_VALIDATION', `a static FDB entry needs a unicast MAC, not ${mac}`);
    b.bridge.fdb.addStatic(key, p.sw.index);
    this.publishBridge(b);
  }

  fdbDelete(bridgeName: string, mac: string): void {
    const b = this.table.bridge(bridgeName);
    if (!b.bridge.fdb.remove(parseMac(mac))) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridgeName} has no FDB entry for ${mac}`);
    this.publishBridge(b);
  }

  fdbFlush(bridgeName: string): number {
    const b = this.table.bridge(bridgeName);
    const n = b.bridge.fdb.flush();
    this.publishBridge(b);
    return n;
  }

  // ---- links and the router ---------------------------------------------------------------------------

  addLink(spec: LinkSpec): LinkInfo {
    this.table.refuseTakenName(spec.name);
    const index = this.table.freeSlot();
    let port: Port;
    try {
      port = this.deps.devices.tun({ name: spec.name, netns: spec.netns, addresses: spec.addresses, peer: spec.peer, mtu: spec.mtu, routes: spec.routes }, index);
    } catch (e) {
      throw deviceError(e, spec.name, spec.netns);
    }
    const entry: LinkEntry = { role: 'link', port, sw: port, spec, base: this.deps.counters.portBase(index), routerInterface: undefined };
    this.deps.counters.resetPort(index);
    try {
      this.io.add(port.fd, index);
    } catch (e) {
      port.close();
      throw deviceError(e, spec.name);
    }
    this.table.put(entry);
    port.start(this.sink);
    return linkInfo(entry);
  }

  removeLink(name: string): void {
    const l = this.table.link(name);
    if (l.routerInterface !== undefined) throw new TwError('TW_ERR_IN_USE', `link ${name} has router interface ${l.routerInterface.name}; delete it first`);
    this.io.remove(l.sw.index);
    this.table.take(l);
    l.port.close();
  }

  listLinks(): LinkInfo[] {
    return [...this.table.links.values()].map(linkInfo);
  }

  addRouterInterface(spec: RouterInterfaceSpec): RouterInterfaceInfo {
    const now = this.deps.clock();
    this.forwarder.setNow(now);
    if (spec.link !== undefined) {
      const l = this.table.link(spec.link);
      if (l.routerInterface !== undefined) throw new TwError('TW_ERR_EXISTS', `link ${spec.link} already has router interface ${l.routerInterface.name}`);
      if (this.table.routerPorts.has(spec.name) || this.router.interfaceId(spec.name) >= 0) throw new TwError('TW_ERR_EXISTS', `router interface ${spec.name} already exists`);
      this.router.addInterface(l.sw.index, { name: spec.name, kind: 'tun', mac: 0, mtu: spec.mtu ?? l.sw.mtu, addresses: spec.addresses, routerAdvertisements: false }, now);
      l.routerInterface = spec;
      this.forwarder.flush();
      return routerInterfaceInfo(this.router, spec, l.sw.index, spec.mtu ?? l.sw.mtu);
    }
    if (spec.bridge === undefined) throw new TwError('TW_ERR_VALIDATION', 'a router interface needs a bridge or a link');
    const b = this.table.bridge(spec.bridge);
    for (const r of this.table.routerPorts.values()) {
      if (r.bridge === b) throw new TwError('TW_ERR_EXISTS', `bridge ${spec.bridge} already has router interface ${r.spec.name}`);
    }
    this.table.refuseTakenName(spec.name);
    if (this.router.interfaceId(spec.name) >= 0) throw new TwError('TW_ERR_EXISTS', `router interface ${spec.name} already exists`);
    const index = this.table.freeSlot();
    const mtu = spec.mtu ?? DEFAULT_MTU;
    const entry: RouterEntry = { role: 'router', port: undefined, sw: { index, name: spec.name, mtu, up: true }, spec, bridge: b, base: this.deps.counters.portBase(index) };
    this.deps.counters.resetPort(index);
    const mac = parseMac(spec.mac);
    // The slot must exist before addInterface: the router announces its addresses (gratuitous ARP) through it.
    this.table.put(entry);
    b.bridge.addPort(entry.sw);
    b.bridge.fdb.addStatic(mac, index);
    try {
      this.router.addInterface(index, { name: spec.name, kind: 'bridge', mac, mtu, addresses: spec.addresses, routerAdvertisements: spec.routerAdvertisements }, now);
    } catch (e) {
      b.bridge.removePort(index);
      this.table.take(entry);
      throw e;
    }
    this.forwarder.flush();
    this.publishBridge(b);
    return routerInterfaceInfo(this.router, spec, index, mtu);
  }

  removeRouterInterface(name: string): void {
    const r = this.table.routerPorts.get(name);
    if (r !== undefined) {
      this.router.removeInterface(r.sw.index);
      r.bridge.bridge.removePort(r.sw.index);
      this.table.take(r);
      this.publishBridge(r.bridge);
      return;
    }
    for (const l of this.table.links.values()) {
      if (l.routerInterface?.name === name) {
        this.router.removeInterface(l.sw.index);
        l.routerInterface = undefined;
        return;
      }
    }
    throw new TwError('TW_ERR_NOT_FOUND', `no router interface named ${name}`);
  }

  listRouterInterfaces(): RouterInterfaceInfo[] {
    const out: RouterInterfaceInfo[] = [];
    for (const r of this.table.routerPorts.values()) out.push(routerInterfaceInfo(this.router, r.spec, r.sw.index, r.sw.mtu));
    for (const l of this.table.links.values()) {
      if (l.routerInterface !== undefined) out.push(routerInterfaceInfo(this.router, l.routerInterface, l.sw.index, l.routerInterface.mtu ?? l.sw.mtu));
    }
    return out;
  }

  addRoute(spec: RouteSpec): RouteInfo {
    let iface: number | undefined;
    if (spec.interface !== undefined) {
      iface = this.router.interfaceId(spec.interface);
      if (iface < 0) throw new TwError('TW_ERR_NOT_FOUND', `no router interface named ${spec.interface}`);
    }
    if (spec.via !== undefined && spec.via.family !== spec.prefix.family) throw new TwError('TW_ERR_VALIDATION', `the next hop ${spec.via.text} is not of the prefix's family`);
    const r = this.router.addRoute({ family: spec.prefix.family, prefix: spec.prefix.address, prefixLength: spec.prefix.prefixLength, via: spec.via?.address, iface });
    return this.router.describeRoute(r);
  }

  removeRoute(prefix: Cidr): void {
    this.router.removeRoute(prefix.family, prefix.address, prefix.prefixLength);
  }

  listRoutes(): RouteInfo[] {
    return this.router.listRoutes();
  }

  listNeighbors(): NeighborInfo[] {
    const now = this.deps.clock();
    return this.router.neighbors.entries(now).map((n) => ({
      address: n.address,
      mac: n.mac < 0 ? null : formatMac(n.mac),
      interface: this.router.interfaceName(n.iface),
      state: n.state,
      ageSeconds: Math.floor(n.ageMs / 1000),
    }));
  }

  /** close releases every port and the I/O loop; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.table.ports.values()]) this.detach(p, true);
    for (const l of [...this.table.links.values()]) {
      this.io.remove(l.sw.index);
      this.table.take(l);
      l.port.close();
    }
    this.io.close();
  }
}
