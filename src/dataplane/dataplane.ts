// DataPlane: everything the worker thread owns: the ports' devices, the bridges, the batched I/O, and the
// counters it writes. One batch of frames from one port is handled by onBatch in one pass: check, count,
// ask the bridge where each frame goes, plan all writes, write them in one native call, count the results.
// Commands (add a port, flush an FDB) arrive from the control plane between batches.
import { TwError } from '../errors.js';
import { isNativeError } from '../native/index.js';
import { DropReason, DropSink } from '../ports/drop-reason.js';
import { SwitchPort } from '../ports/port.js';
import { Bridge } from '../bridge/bridge.js';
import { Device, TapOpener } from '../tap/tap-device.js';
import { NetdevOpener } from '../ports/netdev.js';
import { ETH, ETHERTYPE, VLAN_TAG_LEN, etherTypeAt, formatMac, macBytes, parseMac } from '../wire/ethernet.js';
import { VNET_HDR_LEN, gsoSegmentLength, isGsoAt, vnetHeaderValid } from '../wire/virtio-net.js';
import { B, CounterBlock, MAX_BRIDGES, MAX_PORTS, P } from './counters.js';
import { Io, IoFactory } from './io.js';
import { BridgeInfo, BridgeSpec, FdbRow, PortInfo, PortSpec, PortState } from './protocol.js';

const EIO = 5;
const ENETDOWN = 100;
const DEFAULT_MTU = 1500;

interface PortEntry {
  readonly sw: SwitchPort;
  readonly spec: PortSpec;
  readonly bridge: BridgeEntry;
  readonly device: Device;
  readonly base: number;
  state: PortState;
}

interface BridgeEntry {
  readonly bridge: Bridge;
  readonly slot: number;
  readonly ports: Map<string, PortEntry>;
}

/** DataPlaneDeps are what the data plane runs on; tests pass fakes. */
export interface DataPlaneDeps {
  counters: CounterBlock;
  io: IoFactory;
  openTap: TapOpener;
  openNetdev: NetdevOpener;
  /** clock returns monotonic milliseconds. */
  clock: () => number;
  /** log receives events worth a log line (a port failing); it must not throw. */
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** DataPlane is the worker side of tapwire; see the comment at the top of this file. */
export class DataPlane implements DropSink {
  private readonly io: Io;
  private readonly counters: Float64Array;
  private readonly ports: (PortEntry | undefined)[] = new Array(MAX_PORTS);
  private readonly byName = new Map<string, PortEntry>();
  private readonly bridges = new Map<string, BridgeEntry>();
  private readonly bridgeSlots: boolean[] = new Array(MAX_BRIDGES).fill(false);
  private readonly egress = new Int32Array(MAX_PORTS);
  private readonly planPort: Int32Array;
  private readonly planGso: Uint8Array;
  private closed = false;

  constructor(private readonly deps: DataPlaneDeps) {
    this.counters = deps.counters.values;
    this.io = deps.io((port, count, errno) => this.onBatch(port, count, errno));
    this.planPort = new Int32Array(this.io.planSize);
    this.planGso = new Uint8Array(this.io.planSize);
  }

  /** describeIo says how the I/O is done, for the log. */
  describeIo(): Record<string, unknown> {
    return this.io.describe();
  }

  /** drop counts one dropped frame on `port` (DropSink). */
  drop(port: number, reason: DropReason): void {
    this.counters[this.deps.counters.dropSlot(port, reason)]!++;
  }

  /** onBatch handles `count` frames read from port `index` (or the read error that stopped it). */
  onBatch(index: number, count: number, errno: number): void {
    const port = this.ports[index];
    if (port === undefined) return;
    const c = this.counters;
    const base = port.base;
    const io = this.io;
    const rx = io.rx;
    const slot = io.slotSize;
    const offsets = io.offsets;
    const plan = io.plan;
    const bridge = port.bridge.bridge;
    const now = this.deps.clock();
    let planned = 0;
    if (count > 0) c[base + P.rxBatches]!++;
    for (let i = 0; i < count; i++) {
      const off = offsets[i]!;
      const len = io.lengths[i]!;
      const frameLen = len - VNET_HDR_LEN;
      c[base + P.rxFrames]!++;
      c[base + P.rxBytes]! += frameLen > 0 ? frameLen : 0;
      if (len >= slot) {
        this.drop(index, 'truncated');
        continue;
      }
      if (frameLen < ETH.HEADER_LEN) {
        this.drop(index, 'runt');
        continue;
      }
      if (!vnetHeaderValid(rx, off, frameLen)) {
        this.drop(index, 'bad_vnet_hdr');
        continue;
      }
      const gso = isGsoAt(rx, off);
      if (gso) c[base + P.rxGsoFrames]!++;
      const segment = gso ? gsoSegmentLength(rx, off, frameLen, l3Start(rx, off + VNET_HDR_LEN)) : 0;
      const n = bridge.forward(port.sw, rx, off + VNET_HDR_LEN, frameLen, segment, now, this.egress, this);
      if (planned + n > io.planSize) {
        this.flushPlan(planned);
        planned = 0;
      }
      for (let k = 0; k < n; k++) {
        const out = this.ports[this.egress[k]!]!;
        plan[3 * planned] = out.device.fd;
        plan[3 * planned + 1] = off;
        plan[3 * planned + 2] = len;
        this.planPort[planned] = out.sw.index;
        this.planGso[planned] = gso ? 1 : 0;
        planned++;
      }
    }
    if (planned > 0) this.flushPlan(planned);
    if (errno !== 0) this.portFailed(port, errno);
  }

  private flushPlan(n: number): void {
    const io = this.io;
    const failures = io.flush(n);
    const c = this.counters;
    const cb = this.deps.counters;
    for (let k = 0; k < n; k++) {
      const out = this.planPort[k]!;
      if (failures > 0 && io.result[k] !== 0) {
        const err = io.result[k]!;
        this.drop(out, err === EIO || err === ENETDOWN ? 'port_down' : 'write_error');
        continue;
      }
      const b = cb.portBase(out);
      c[b + P.txFrames]!++;
      c[b + P.txBytes]! += io.plan[3 * k + 2]! - VNET_HDR_LEN;
      if (this.planGso[k] === 1) c[b + P.txGsoFrames]!++;
    }
  }

  private portFailed(port: PortEntry, errno: number): void {
    this.drop(port.sw.index, 'read_error');
    port.state = 'error';
    port.sw.up = false;
    this.deps.log?.('error', 'port read failed; the port no longer receives', { port: port.spec.name, errno });
  }

  /** tick ages the FDBs and publishes the bridge counters; the worker calls it once a second. */
  tick(): void {
    const now = this.deps.clock();
    for (const b of this.bridges.values()) {
      b.bridge.fdb.expire(now);
      this.publishBridge(b);
    }
  }

  private publishBridge(b: BridgeEntry): void {
    const c = this.counters;
    const base = this.deps.counters.bridgeBase(b.slot);
    const s = b.bridge.fdb.stats;
    c[base + B.fdbEntries] = b.bridge.fdb.size;
    c[base + B.fdbLearned] = s.learned;
    c[base + B.fdbMoved] = s.moved;
    c[base + B.fdbExpired] = s.expired;
    c[base + B.fdbEvicted] = s.evicted;
    c[base + B.floods] = b.bridge.stats.floods;
  }

  addBridge(spec: BridgeSpec): BridgeInfo {
    if (this.bridges.has(spec.name)) throw new TwError('TW_ERR_EXISTS', `bridge ${spec.name} already exists`);
    const slot = this.bridgeSlots.indexOf(false);
    if (slot < 0) throw new TwError('TW_ERR_VALIDATION', `at most ${MAX_BRIDGES} bridges`);
    const bridge = new Bridge(spec.name, { agingMs: spec.agingSeconds * 1000, max: spec.fdbMax });
    this.bridgeSlots[slot] = true;
    this.deps.counters.resetBridge(slot);
    const entry: BridgeEntry = { bridge, slot, ports: new Map() };
    this.bridges.set(spec.name, entry);
    return this.bridgeInfo(entry);
  }

  updateBridge(name: string, changes: { agingSeconds?: number; fdbMax?: number }): BridgeInfo {
    const b = this.bridge(name);
    if (changes.agingSeconds !== undefined) b.bridge.fdb.setAging(changes.agingSeconds * 1000);
    if (changes.fdbMax !== undefined) b.bridge.fdb.setMax(changes.fdbMax);
    this.publishBridge(b);
    return this.bridgeInfo(b);
  }

  removeBridge(name: string, force: boolean): void {
    const b = this.bridge(name);
    if (b.ports.size > 0 && !force) throw new TwError('TW_ERR_IN_USE', `bridge ${name} still has ${b.ports.size} port(s); delete them first or use force`);
    for (const p of [...b.ports.values()]) this.detach(p);
    this.bridges.delete(name);
    this.bridgeSlots[b.slot] = false;
  }

  listBridges(): BridgeInfo[] {
    return [...this.bridges.values()].map((b) => this.bridgeInfo(b));
  }

  addPort(bridgeName: string, spec: PortSpec): PortInfo {
    const b = this.bridge(bridgeName);
    if (this.byName.has(spec.name)) throw new TwError('TW_ERR_EXISTS', `port ${spec.name} already exists`);
    let index = -1;
    for (let i = 0; i < MAX_PORTS; i++) {
      if (this.ports[i] === undefined) {
        index = i;
        break;
      }
    }
    if (index < 0) throw new TwError('TW_ERR_VALIDATION', `at most ${MAX_PORTS} ports`);
    const device = this.openDevice(spec);
    const up = spec.kind === 'tap' ? spec.up : true;
    const mtu = spec.kind === 'tap' ? (spec.mtu ?? DEFAULT_MTU) : (device.mtu ?? DEFAULT_MTU);
    const sw: SwitchPort = { index, name: spec.name, mtu, up };
    const entry: PortEntry = { sw, spec, bridge: b, device, base: this.deps.counters.portBase(index), state: up ? 'up' : 'down' };
    this.deps.counters.resetPort(index);
    try {
      this.io.add(device.fd, index);
    } catch (e) {
      device.close();
      throw deviceError(e, spec.name);
    }
    this.ports[index] = entry;
    this.byName.set(spec.name, entry);
    b.ports.set(spec.name, entry);
    b.bridge.addPort(sw);
    return this.portInfo(entry);
  }

  private openDevice(spec: PortSpec): Device {
    if (spec.kind === 'netdev') {
      try {
        return this.deps.openNetdev(spec.ifname);
      } catch (e) {
        if (isNativeError(e) && e.code === 'ENODEV') throw new TwError('TW_ERR_VALIDATION', `there is no interface named ${spec.ifname} in the daemon's namespace`);
        throw deviceError(e, spec.ifname);
      }
    }
    try {
      return this.deps.openTap({
        name: spec.name,
        netns: spec.netns,
        addresses: spec.addresses,
        mac: spec.mac === undefined ? undefined : macBytes(parseMac(spec.mac)),
        mtu: spec.mtu,
        up: spec.up,
      });
    } catch (e) {
      throw deviceError(e, spec.name, spec.netns);
    }
  }

  removePort(bridgeName: string, name: string): void {
    const b = this.bridge(bridgeName);
    const p = b.ports.get(name);
    if (p === undefined) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridgeName} has no port ${name}`);
    this.detach(p);
  }

  private detach(p: PortEntry): void {
    this.io.remove(p.sw.index);
    p.bridge.bridge.removePort(p.sw.index);
    p.bridge.ports.delete(p.spec.name);
    this.byName.delete(p.spec.name);
    this.ports[p.sw.index] = undefined;
    p.device.close();
  }

  listPorts(bridgeName?: string): PortInfo[] {
    const entries = bridgeName === undefined ? [...this.byName.values()] : [...this.bridge(bridgeName).ports.values()];
    return entries.map((p) => this.portInfo(p));
  }

  fdbList(bridgeName: string): FdbRow[] {
    const b = this.bridge(bridgeName);
    const now = this.deps.clock();
    return b.bridge.fdb.entries().map((e) => ({
      mac: formatMac(e.mac),
      port: this.ports[e.port]?.spec.name ?? `#${e.port}`,
      static: e.isStatic,
      ageSeconds: e.isStatic ? 0 : Math.floor((now - e.lastSeen) / 1000),
    }));
  }

  fdbAdd(bridgeName: string, mac: string, portName: string): void {
    const b = this.bridge(bridgeName);
    const p = b.ports.get(portName);
    if (p === undefined) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridgeName} has no port ${portName}`);
    const key = parseMac(mac);
    if (Math.floor(key / 0x100_0000_0000) % 2 === 1) throw new TwError('TW_ERR_VALIDATION', `a static FDB entry needs a unicast MAC, not ${mac}`);
    b.bridge.fdb.addStatic(key, p.sw.index);
    this.publishBridge(b);
  }

  fdbDelete(bridgeName: string, mac: string): void {
    const b = this.bridge(bridgeName);
    if (!b.bridge.fdb.remove(parseMac(mac))) throw new TwError('TW_ERR_NOT_FOUND', `bridge ${bridgeName} has no FDB entry for ${mac}`);
    this.publishBridge(b);
  }

  fdbFlush(bridgeName: string): number {
    const b = this.bridge(bridgeName);
    const n = b.bridge.fdb.flush();
    this.publishBridge(b);
    return n;
  }

  /** close releases every device and the I/O loop; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.byName.values()]) this.detach(p);
    this.io.close();
  }

  private bridge(name: string): BridgeEntry {
    const b = this.bridges.get(name);
    if (b === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no bridge named ${name}`);
    return b;
  }

  private bridgeInfo(b: BridgeEntry): BridgeInfo {
    return {
      name: b.bridge.name,
      agingSeconds: b.bridge.fdb.agingMs / 1000,
      fdbMax: b.bridge.fdb.max,
      slot: b.slot,
      ports: [...b.ports.keys()],
    };
  }

  private portInfo(p: PortEntry): PortInfo {
    const info: PortInfo = {
      name: p.spec.name,
      bridge: p.bridge.bridge.name,
      kind: p.spec.kind,
      index: p.sw.index,
      ifname: p.device.name,
      addresses: p.spec.kind === 'tap' ? p.spec.addresses.map((a) => a.text) : [],
      mtu: p.sw.mtu,
      state: p.state,
      offloads: p.device.offloads,
    };
    if (p.spec.kind === 'tap' && p.spec.netns !== undefined) info.netns = p.spec.netns;
    if (p.spec.kind === 'tap' && p.spec.mac !== undefined) info.mac = p.spec.mac;
    return info;
  }
}

/** l3Start is where the network header of the frame at `off` starts (after one 802.1Q tag, if any). */
function l3Start(buf: Uint8Array, off: number): number {
  const type = etherTypeAt(buf, off);
  return ETH.HEADER_LEN + (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ ? VLAN_TAG_LEN : 0);
}

/** deviceError turns what the kernel refused into a TwError with the errno text, judged by the call. */
function deviceError(e: unknown, name: string, netns?: string): TwError {
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
