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
import { VmDevice, VmOpener } from '../ports/vm.js';
import { MAX_FRAME as MAX_SOCKET_FRAME, SocketOpener, SocketPort } from '../ports/socket.js';
import { SEGMENT_SCRATCH_LEN, needsSoftwareOffload, segmentFrame } from '../wire/segment.js';
import { TunOpener } from '../tun/tun-device.js';
import { Router } from '../router/router.js';
import { RD } from '../router/stats.js';
import { TimerWheel } from '../time/timer-wheel.js';
import { addressText } from '../router/routes.js';
import { ETH, ETHERTYPE, VLAN_TAG_LEN, etherTypeAt, formatMac, macBytes, parseMac } from '../wire/ethernet.js';
import { VNET_HDR_LEN, gsoSegmentLength, isGsoAt, vnetHeaderValid } from '../wire/virtio-net.js';
import { B, CounterBlock, MAX_BRIDGES, MAX_PORTS, P } from './counters.js';
import { Io, IoFactory } from './io.js';
import { BridgeInfo, BridgeSpec, FdbRow, LinkInfo, LinkSpec, NeighborInfo, NetdevPortSpec, PortInfo, PortSpec, PortState, SocketPortSpec, TapPortSpec, VmPortSpec, RouteInfo, RouteSpec, RouterInterfaceInfo, RouterInterfaceSpec } from './protocol.js';
import { Cidr } from '../wire/cidr.js';

const EIO = 5;
const ENETDOWN = 100;
const DEFAULT_MTU = 1500;

/** PortEntry is a bridge port with a device (tap, netdev). */
interface PortEntry {
  readonly role: 'switch';
  readonly sw: SwitchPort;
  readonly spec: PortSpec;
  readonly bridge: BridgeEntry;
  readonly device: Device;
  readonly base: number;
  state: PortState;
  /** vm is the device again, for a `vm` port (its carrier is the port's state). */
  readonly vm?: VmDevice;
  /** socket is a `socket` port's listening socket (the port has no fd in the batch loop). */
  readonly socket?: SocketPort;
}

/** RouterPortEntry is the router's port on a bridge: no device, frames go to and come from the Router. */
interface RouterPortEntry {
  readonly role: 'router';
  readonly sw: SwitchPort;
  readonly spec: RouterInterfaceSpec;
  readonly bridge: BridgeEntry;
  readonly base: number;
}

/** LinkEntry is a TUN link: its device is polled like a port's, its packets go to the Router. */
interface LinkEntry {
  readonly role: 'link';
  readonly sw: SwitchPort;
  readonly spec: LinkSpec;
  readonly device: Device;
  readonly base: number;
  state: PortState;
  /** routerInterface is the spec of the router interface on the link, if any. */
  routerInterface: RouterInterfaceSpec | undefined;
}

/** Slot is whatever holds a port slot: its index keys the counters and the router's interface ids. */
type Slot = PortEntry | RouterPortEntry | LinkEntry;

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
  openTun: TunOpener;
  openVm: VmOpener;
  openSocket: SocketOpener;
  /** clock returns monotonic milliseconds. */
  clock: () => number;
  /** log receives events worth a log line (a port failing); it must not throw. */
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** DataPlane is the worker side of tapwire; see the comment at the top of this file. */
export class DataPlane implements DropSink {
  private readonly io: Io;
  private readonly counters: Float64Array;
  private readonly ports: (Slot | undefined)[] = new Array(MAX_PORTS);
  private readonly byName = new Map<string, PortEntry>();
  private readonly links = new Map<string, LinkEntry>();
  private readonly routerPorts = new Map<string, RouterPortEntry>();
  readonly router: Router;
  private readonly timers: TimerWheel;
  private readonly egress2 = new Int32Array(MAX_PORTS);
  private planned = 0;
  private now = 0;
  private readonly bridges = new Map<string, BridgeEntry>();
  private readonly bridgeSlots: boolean[] = new Array(MAX_BRIDGES).fill(false);
  private readonly egress = new Int32Array(MAX_PORTS);
  private readonly planPort: Int32Array;
  private readonly planGso: Uint8Array;
  /** socketRx holds a frame from a socket port behind its (zero) virtio-net header. */
  private readonly socketRx = new Uint8Array(VNET_HDR_LEN + MAX_SOCKET_FRAME);
  /** segmentScratch is segmentFrame's scratch, made when a socket port first needs it. */
  private segmentScratch: Uint8Array | undefined;
  private closed = false;

  constructor(private readonly deps: DataPlaneDeps) {
    this.counters = deps.counters.values;
    this.io = deps.io((port, count, errno) => this.onBatch(port, count, errno));
    this.planPort = new Int32Array(this.io.planSize);
    this.planGso = new Uint8Array(this.io.planSize);
    this.timers = new TimerWheel({ onError: (e) => this.deps.log?.('error', 'a router timer failed', { error: String(e) }) });
    const routerBase = deps.counters.routerBase;
    this.router = new Router(
      {
        transmit: (iface, buf, off, len, segmentLen) => this.transmit(iface, buf, off, len, segmentLen),
        drop: (reason) => {
          this.counters[routerBase + RD[reason]]!++;
        },
      },
      { counters: this.counters, base: routerBase, timers: this.timers },
    );
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
    if (port === undefined || port.role === 'router') return;
    const c = this.counters;
    const base = port.base;
    const io = this.io;
    const rx = io.rx;
    const slot = io.slotSize;
    const offsets = io.offsets;
    const now = this.deps.clock();
    this.now = now;
    this.planned = 0;
    const routed = port.role === 'link';
    const minLen = routed ? 1 : ETH.HEADER_LEN;
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
      if (frameLen < minLen) {
        this.drop(index, 'runt');
        continue;
      }
      if (!vnetHeaderValid(rx, off, frameLen)) {
        this.drop(index, 'bad_vnet_hdr');
        continue;
      }
      const gso = isGsoAt(rx, off);
      if (gso) c[base + P.rxGsoFrames]!++;
      if (routed) {
        const segment = gso ? gsoSegmentLength(rx, off, frameLen, 0) : 0;
        if (port.routerInterface === undefined) this.drop(index, 'no_egress');
        else this.router.receive(index, rx, off, len, segment, true, now);
        continue;
      }
      const segment = gso ? gsoSegmentLength(rx, off, frameLen, l3Start(rx, off + VNET_HDR_LEN)) : 0;
      const n = port.bridge.bridge.forward(port.sw, rx, off + VNET_HDR_LEN, frameLen, segment, now, this.egress, this);
      for (let k = 0; k < n; k++) {
        const out = this.ports[this.egress[k]!]!;
        if (out.role === 'router') {
          const rb = out.base;
          c[rb + P.rxFrames]!++;
          c[rb + P.rxBytes]! += frameLen;
          if (gso) c[rb + P.rxGsoFrames]!++;
          this.router.receive(out.sw.index, rx, off, len, segment, n === 1, now);
        } else {
          this.plan(out, off, len, gso);
        }
      }
    }
    if (this.planned > 0) this.flushPlan(this.planned);
    this.planned = 0;
    if (errno !== 0) this.portFailed(port, errno);
  }

  /** plan queues a write of rx[off..off+len) to a device port, flushing when the plan is full. */
  private plan(out: PortEntry | LinkEntry, off: number, len: number, gso: boolean): void {
    if (out.role === 'switch' && out.socket !== undefined) {
      this.sendSocket(out, out.socket, this.io.rx, off, len);
      return;
    }
    if (this.planned === this.io.planSize) {
      this.flushPlan(this.planned);
      this.planned = 0;
    }
    const k = this.planned++;
    const plan = this.io.plan;
    plan[3 * k] = out.device.fd;
    plan[3 * k + 1] = off;
    plan[3 * k + 2] = len;
    this.planPort[k] = out.sw.index;
    this.planGso[k] = gso ? 1 : 0;
  }

  /**
   * transmit sends what the router made or rewrote out of router interface `iface` (RouterOutput): into
   * the bridge through the router's port, or into the TUN of a link. Bytes in the receive arena are
   * planned with the batch; any other buffer is written at once (the router reuses it).
   */
  private transmit(iface: number, buf: Uint8Array, off: number, len: number, segmentLen: number): void {
    const slot = this.ports[iface];
    if (slot === undefined || slot.role === 'switch') return;
    const gso = isGsoAt(buf, off);
    if (slot.role === 'link') {
      this.write(slot, buf, off, len, gso);
      return;
    }
    const c = this.counters;
    c[slot.base + P.txFrames]!++;
    c[slot.base + P.txBytes]! += len - VNET_HDR_LEN;
    if (gso) c[slot.base + P.txGsoFrames]!++;
    const egress = this.egress2;
    const n = slot.bridge.bridge.forward(slot.sw, buf, off + VNET_HDR_LEN, len - VNET_HDR_LEN, segmentLen, this.now, egress, this);
    for (let k = 0; k < n; k++) {
      const out = this.ports[egress[k]!];
      if (out !== undefined && out.role === 'switch') this.write(out, buf, off, len, gso);
    }
  }

  private write(out: PortEntry | LinkEntry, buf: Uint8Array, off: number, len: number, gso: boolean): void {
    if (out.role === 'switch' && out.socket !== undefined) {
      this.sendSocket(out, out.socket, buf, off, len);
      return;
    }
    if (buf === this.io.rx) {
      this.plan(out, off, len, gso);
      return;
    }
    const err = this.io.send(out.device.fd, buf.subarray(off, off + len));
    if (err !== 0) {
      this.drop(out.sw.index, err === EIO || err === ENETDOWN ? 'port_down' : 'write_error');
      return;
    }
    const b = out.base;
    this.counters[b + P.txFrames]!++;
    this.counters[b + P.txBytes]! += len - VNET_HDR_LEN;
    if (gso) this.counters[b + P.txGsoFrames]!++;
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

  private portFailed(port: PortEntry | LinkEntry, errno: number): void {
    this.drop(port.sw.index, 'read_error');
    port.state = 'error';
    port.sw.up = false;
    this.deps.log?.('error', 'port read failed; the port no longer receives', { port: port.spec.name, errno });
  }

  /** tickRouter advances the timer wheel (the router's neighbor timers and RAs); the worker calls it ten times a second. */
  tickRouter(): void {
    this.now = this.deps.clock();
    this.timers.advance(this.now);
  }

  /** tick ages the FDBs and publishes the bridge counters; the worker calls it once a second. */
  tick(): void {
    const now = this.deps.clock();
    for (const p of this.byName.values()) if (p.vm !== undefined) this.followCarrier(p, p.vm);
    for (const b of this.bridges.values()) {
      b.bridge.fdb.expire(now);
      this.publishBridge(b);
    }
  }

  /** followCarrier makes a vm port up while an emulator holds its TAP and down otherwise: a down port gets
   * no floods (what the bridge would send there is lost in the TAP anyway). */
  private followCarrier(p: PortEntry, vm: VmDevice): void {
    if (p.state === 'error') return;
    const carrier = vm.carrier();
    const up = carrier === true;
    if (up === p.sw.up) return;
    p.sw.up = up;
    p.state = up ? 'up' : 'down';
    this.deps.log?.('info', up ? 'an emulator attached to a vm port' : 'the emulator of a vm port went away', { port: p.spec.name, tap: carrier === undefined ? 'gone' : 'present' });
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
    for (const r of this.routerPorts.values()) {
      if (r.bridge === b) throw new TwError('TW_ERR_IN_USE', `bridge ${name} has router interface ${r.spec.name}; delete it first`);
    }
    if (b.ports.size > 0 && !force) throw new TwError('TW_ERR_IN_USE', `bridge ${name} still has ${b.ports.size} port(s); delete them first or use force`);
    for (const p of [...b.ports.values()]) this.detach(p);
    this.bridges.delete(name);
    this.bridgeSlots[b.slot] = false;
  }

  listBridges(): BridgeInfo[] {
    return [...this.bridges.values()].map((b) => this.bridgeInfo(b));
  }

  /** addPort creates a port's device and joins it to the bridge; a socket port answers once it listens. */
  addPort(bridgeName: string, spec: SocketPortSpec): Promise<PortInfo>;
  addPort(bridgeName: string, spec: Exclude<PortSpec, SocketPortSpec>): PortInfo;
  addPort(bridgeName: string, spec: PortSpec): PortInfo | Promise<PortInfo>;
  addPort(bridgeName: string, spec: PortSpec): PortInfo | Promise<PortInfo> {
    const b = this.bridge(bridgeName);
    this.refuseTakenName(spec.name);
    if (spec.kind === 'socket') return this.addSocketPort(b, spec);
    const index = this.freeSlot();
    const vm = spec.kind === 'vm' ? this.openVm(spec) : undefined;
    const device = spec.kind === 'vm' ? vm! : this.openDevice(spec);
    // A vm port is up while an emulator holds its TAP (tick() follows the carrier).
    const up = spec.kind === 'tap' ? spec.up : spec.kind === 'vm' ? vm!.carrier() === true : true;
    const mtu = spec.kind === 'tap' ? (spec.mtu ?? DEFAULT_MTU) : (device.mtu ?? DEFAULT_MTU);
    const sw: SwitchPort = { index, name: spec.name, mtu, up };
    const entry: PortEntry = { role: 'switch', sw, spec, bridge: b, device, vm, base: this.deps.counters.portBase(index), state: up ? 'up' : 'down' };
    this.deps.counters.resetPort(index);
    try {
      this.io.add(device.fd, index);
    } catch (e) {
      if (vm !== undefined && !vm.adopted) vm.remove();
      else device.close();
      throw deviceError(e, spec.name);
    }
    this.ports[index] = entry;
    this.byName.set(spec.name, entry);
    b.ports.set(spec.name, entry);
    b.bridge.addPort(sw);
    return this.portInfo(entry);
  }

  /** addSocketPort listens on the port's socket, then joins the port to the bridge (up while a peer is
   * connected). Frames from the peer take the bridge like a batch of one; frames to it leave through
   * sendSocket. */
  private async addSocketPort(b: BridgeEntry, spec: SocketPortSpec): Promise<PortInfo> {
    let entry: PortEntry | undefined;
    let socket: SocketPort;
    try {
      socket = await this.deps.openSocket(
        { name: spec.name, path: spec.path, mode: spec.mode, uid: spec.uid, gid: spec.gid },
        {
          frame: (f) => {
            if (entry !== undefined && this.ports[entry.sw.index] === entry) this.socketFrame(entry, f);
          },
          badFraming: () => {
            if (entry !== undefined && this.ports[entry.sw.index] === entry) this.drop(entry.sw.index, 'bad_framing');
          },
          peer: (connected) => {
            if (entry === undefined || this.ports[entry.sw.index] !== entry) return;
            entry.sw.up = connected;
            entry.state = connected ? 'up' : 'down';
            this.deps.log?.('info', connected ? 'a peer connected to a socket port' : 'the peer of a socket port went away', { port: spec.name });
          },
        },
      );
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new TwError('TW_ERR_EXISTS', `${spec.path} exists and is not a stale socket (or is in use)`);
      if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOTDIR') throw new TwError('TW_ERR_VALIDATION', `cannot listen on ${spec.path}: ${err.message}`);
      throw new TwError('TW_ERR_DEVICE', `cannot listen on ${spec.path}: ${err.message}`);
    }
    try {
      // The data plane may have changed while the socket was opened: check again.
      if (this.bridges.get(b.bridge.name) !== b) throw new TwError('TW_ERR_NOT_FOUND', `no bridge named ${b.bridge.name}`);
      this.refuseTakenName(spec.name);
      const index = this.freeSlot();
      const sw: SwitchPort = { index, name: spec.name, mtu: spec.mtu ?? DEFAULT_MTU, up: socket.connected };
      const device: Device = { fd: -1, name: spec.path, offloads: 0, close: () => socket.close() };
      entry = { role: 'switch', sw, spec, bridge: b, device, socket, base: this.deps.counters.portBase(index), state: sw.up ? 'up' : 'down' };
      this.deps.counters.resetPort(index);
      this.ports[index] = entry;
      this.byName.set(spec.name, entry);
      b.ports.set(spec.name, entry);
      b.bridge.addPort(sw);
      return this.portInfo(entry);
    } catch (e) {
      socket.close();
      throw e;
    }
  }

  /** socketFrame takes one frame from a socket port's peer: behind a zero virtio-net header (no offloads
   * on a socket) in the socket receive buffer, checked and forwarded as onBatch does. */
  private socketFrame(port: PortEntry, frame: Uint8Array): void {
    const c = this.counters;
    const base = port.base;
    const now = this.deps.clock();
    this.now = now;
    c[base + P.rxBatches]!++;
    c[base + P.rxFrames]!++;
    c[base + P.rxBytes]! += frame.length;
    const buf = this.socketRx;
    buf.fill(0, 0, VNET_HDR_LEN);
    buf.set(frame, VNET_HDR_LEN);
    const len = VNET_HDR_LEN + frame.length;
    const n = port.bridge.bridge.forward(port.sw, buf, VNET_HDR_LEN, frame.length, 0, now, this.egress, this);
    for (let k = 0; k < n; k++) {
      const out = this.ports[this.egress[k]!]!;
      if (out.role === 'router') {
        c[out.base + P.rxFrames]!++;
        c[out.base + P.rxBytes]! += frame.length;
        this.router.receive(out.sw.index, buf, 0, len, 0, n === 1, now);
      } else if (out.role === 'switch') {
        this.write(out, buf, 0, len, false);
      }
    }
  }

  /** sendSocket writes a frame (behind its virtio-net header) to a socket port's peer: GSO frames are cut
   * into segments and partial checksums completed first, since the peer takes plain frames only. */
  private sendSocket(out: PortEntry, socket: SocketPort, buf: Uint8Array, off: number, len: number): void {
    if (!needsSoftwareOffload(buf, off)) {
      this.socketSend(out, socket, buf.subarray(off + VNET_HDR_LEN, off + len));
      return;
    }
    this.segmentScratch ??= new Uint8Array(SEGMENT_SCRATCH_LEN);
    const fault = segmentFrame(buf, off, len, this.segmentScratch, (f) => this.socketSend(out, socket, f));
    // The segmenter's faults are drop reasons of their own (runt and bad_vnet_hdr mean what they mean on ingress).
    if (fault !== null) this.drop(out.sw.index, fault);
  }

  private socketSend(out: PortEntry, socket: SocketPort, frame: Uint8Array): void {
    const r = socket.send(frame);
    if (r === 'sent') {
      this.counters[out.base + P.txFrames]!++;
      this.counters[out.base + P.txBytes]! += frame.length;
    } else {
      this.drop(out.sw.index, r === 'backlog' ? 'backlog' : 'port_down');
    }
  }

  private openVm(spec: VmPortSpec): VmDevice {
    if (spec.uid === undefined && spec.gid === undefined) throw new TwError('TW_ERR_VALIDATION', `vm port ${spec.name} needs an owner or a group`);
    try {
      return this.deps.openVm({ name: spec.name, uid: spec.uid, gid: spec.gid, mtu: spec.mtu });
    } catch (e) {
      if (isNativeError(e) && e.syscall === 'vm port') throw new TwError(e.code === 'EEXIST' ? 'TW_ERR_EXISTS' : 'TW_ERR_VALIDATION', e.message);
      throw deviceError(e, spec.name);
    }
  }

  private openDevice(spec: TapPortSpec | NetdevPortSpec): Device {
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

  /** detach takes a port out and closes its device; a vm port's TAP is deleted too unless `keepTap` (at
   * shutdown: the TAP outlives the daemon, with the emulator on it, and is adopted at the next start). */
  private detach(p: PortEntry, keepTap = false): void {
    if (p.socket === undefined) this.io.remove(p.sw.index);
    p.bridge.bridge.removePort(p.sw.index);
    p.bridge.ports.delete(p.spec.name);
    this.byName.delete(p.spec.name);
    this.ports[p.sw.index] = undefined;
    if (p.vm !== undefined && !keepTap) {
      try {
        p.vm.remove();
      } catch (e) {
        this.deps.log?.('warn', 'the TAP of a deleted vm port could not be removed', { port: p.spec.name, error: String(e) });
      }
    } else {
      p.device.close();
    }
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

  private refuseTakenName(name: string): void {
    if (this.byName.has(name)) throw new TwError('TW_ERR_EXISTS', `port ${name} already exists`);
    if (this.links.has(name)) throw new TwError('TW_ERR_EXISTS', `link ${name} already exists (ports, links and router interfaces share one name space)`);
    if (this.routerPorts.has(name)) throw new TwError('TW_ERR_EXISTS', `router interface ${name} already exists (ports, links and router interfaces share one name space)`);
  }

  private freeSlot(): number {
    for (let i = 0; i < MAX_PORTS; i++) if (this.ports[i] === undefined) return i;
    throw new TwError('TW_ERR_VALIDATION', `at most ${MAX_PORTS} ports, links and router interfaces`);
  }

  addLink(spec: LinkSpec): LinkInfo {
    this.refuseTakenName(spec.name);
    const index = this.freeSlot();
    let device: Device;
    try {
      device = this.deps.openTun({ name: spec.name, netns: spec.netns, addresses: spec.addresses, peer: spec.peer, mtu: spec.mtu, routes: spec.routes });
    } catch (e) {
      throw deviceError(e, spec.name, spec.netns);
    }
    const sw: SwitchPort = { index, name: spec.name, mtu: spec.mtu ?? DEFAULT_MTU, up: true };
    const entry: LinkEntry = { role: 'link', sw, spec, device, base: this.deps.counters.portBase(index), state: 'up', routerInterface: undefined };
    this.deps.counters.resetPort(index);
    try {
      this.io.add(device.fd, index);
    } catch (e) {
      device.close();
      throw deviceError(e, spec.name);
    }
    this.ports[index] = entry;
    this.links.set(spec.name, entry);
    return this.linkInfo(entry);
  }

  removeLink(name: string): void {
    const l = this.link(name);
    if (l.routerInterface !== undefined) throw new TwError('TW_ERR_IN_USE', `link ${name} has router interface ${l.routerInterface.name}; delete it first`);
    this.io.remove(l.sw.index);
    this.links.delete(name);
    this.ports[l.sw.index] = undefined;
    l.device.close();
  }

  listLinks(): LinkInfo[] {
    return [...this.links.values()].map((l) => this.linkInfo(l));
  }

  addRouterInterface(spec: RouterInterfaceSpec): RouterInterfaceInfo {
    const now = this.deps.clock();
    if (spec.link !== undefined) {
      const l = this.link(spec.link);
      if (l.routerInterface !== undefined) throw new TwError('TW_ERR_EXISTS', `link ${spec.link} already has router interface ${l.routerInterface.name}`);
      if (this.routerPorts.has(spec.name) || this.router.interfaceId(spec.name) >= 0) throw new TwError('TW_ERR_EXISTS', `router interface ${spec.name} already exists`);
      this.router.addInterface(l.sw.index, { name: spec.name, kind: 'tun', mac: 0, mtu: spec.mtu ?? l.sw.mtu, addresses: spec.addresses, routerAdvertisements: false }, now);
      l.routerInterface = spec;
      return this.routerInterfaceInfo(spec, l.sw.index, spec.mtu ?? l.sw.mtu);
    }
    if (spec.bridge === undefined) throw new TwError('TW_ERR_VALIDATION', 'a router interface needs a bridge or a link');
    const b = this.bridge(spec.bridge);
    for (const r of this.routerPorts.values()) {
      if (r.bridge === b) throw new TwError('TW_ERR_EXISTS', `bridge ${spec.bridge} already has router interface ${r.spec.name}`);
    }
    this.refuseTakenName(spec.name);
    if (this.router.interfaceId(spec.name) >= 0) throw new TwError('TW_ERR_EXISTS', `router interface ${spec.name} already exists`);
    const index = this.freeSlot();
    const mtu = spec.mtu ?? DEFAULT_MTU;
    const sw: SwitchPort = { index, name: spec.name, mtu, up: true };
    const entry: RouterPortEntry = { role: 'router', sw, spec, bridge: b, base: this.deps.counters.portBase(index) };
    this.deps.counters.resetPort(index);
    const mac = parseMac(spec.mac);
    // The slot must exist before addInterface: the router announces its addresses (gratuitous ARP) through it.
    this.ports[index] = entry;
    this.routerPorts.set(spec.name, entry);
    b.bridge.addPort(sw);
    b.bridge.fdb.addStatic(mac, index);
    try {
      this.router.addInterface(index, { name: spec.name, kind: 'bridge', mac, mtu, addresses: spec.addresses, routerAdvertisements: spec.routerAdvertisements }, now);
    } catch (e) {
      b.bridge.removePort(index);
      this.routerPorts.delete(spec.name);
      this.ports[index] = undefined;
      throw e;
    }
    this.publishBridge(b);
    return this.routerInterfaceInfo(spec, index, mtu);
  }

  removeRouterInterface(name: string): void {
    const r = this.routerPorts.get(name);
    if (r !== undefined) {
      this.router.removeInterface(r.sw.index);
      r.bridge.bridge.removePort(r.sw.index);
      this.routerPorts.delete(name);
      this.ports[r.sw.index] = undefined;
      this.publishBridge(r.bridge);
      return;
    }
    for (const l of this.links.values()) {
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
    for (const r of this.routerPorts.values()) out.push(this.routerInterfaceInfo(r.spec, r.sw.index, r.sw.mtu));
    for (const l of this.links.values()) if (l.routerInterface !== undefined) out.push(this.routerInterfaceInfo(l.routerInterface, l.sw.index, l.routerInterface.mtu ?? l.sw.mtu));
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

  private link(name: string): LinkEntry {
    const l = this.links.get(name);
    if (l === undefined) throw new TwError('TW_ERR_NOT_FOUND', `no link named ${name}`);
    return l;
  }

  private linkInfo(l: LinkEntry): LinkInfo {
    const info: LinkInfo = {
      name: l.spec.name,
      kind: 'tun',
      ifname: l.device.name,
      addresses: l.spec.addresses.map((a) => a.text),
      mtu: l.sw.mtu,
      routes: l.spec.routes.map((r) => r.text),
      index: l.sw.index,
      state: l.state,
    };
    if (l.spec.netns !== undefined) info.netns = l.spec.netns;
    if (l.spec.peer !== undefined) info.peer = l.spec.peer.text;
    if (l.routerInterface !== undefined) info.routerInterface = l.routerInterface.name;
    return info;
  }

  private routerInterfaceInfo(spec: RouterInterfaceSpec, index: number, mtu: number): RouterInterfaceInfo {
    const info: RouterInterfaceInfo = { name: spec.name, addresses: spec.addresses.map((a) => a.text), mtu, routerAdvertisements: spec.routerAdvertisements, index };
    if (spec.bridge !== undefined) {
      info.bridge = spec.bridge;
      info.mac = spec.mac;
      const ll = this.router.linkLocal(index);
      if (ll !== undefined) info.linkLocal = addressText(6, ll);
    }
    if (spec.link !== undefined) info.link = spec.link;
    return info;
  }

  /** close releases every device and the I/O loop; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.byName.values()]) this.detach(p, true);
    for (const l of this.links.values()) {
      this.io.remove(l.sw.index);
      l.device.close();
    }
    this.links.clear();
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
    if ((p.spec.kind === 'tap' || p.spec.kind === 'vm') && p.spec.mac !== undefined) info.mac = p.spec.mac;
    if (p.spec.kind === 'socket') {
      info.path = p.spec.path;
      info.mode = p.spec.mode;
    }
    if (p.spec.kind === 'vm' || p.spec.kind === 'socket') {
      if (p.spec.uid !== undefined) info.uid = p.spec.uid;
      if (p.spec.gid !== undefined) info.gid = p.spec.gid;
    }
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
