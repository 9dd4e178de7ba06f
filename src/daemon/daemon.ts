// Daemon: the control plane's model of tapwire. It validates what users ask for, hands it to the data
// plane worker, and reads the shared counters. The REST API and the topology file both go through here.
import { BridgeInfo, FdbRow, PortInfo } from '../dataplane/protocol.js';
import { BridgeCounters, PortCounters } from '../dataplane/counters.js';
import { DataPlaneClient, WorkerLog } from './dataplane-client.js';
import { Topology, bridgeSpec, checkName, checkUnicastMac, portSpec } from './specs.js';

/** Logger is the slice of pino the daemon uses. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** PortStatus is a port with its counters. */
export type PortStatus = PortInfo & { counters: PortCounters };
/** BridgeStatus is a bridge with its counters. */
export type BridgeStatus = BridgeInfo & { counters: BridgeCounters };

/** Daemon is tapwire's control plane; see the comment at the top of this file. */
export class Daemon {
  private constructor(
    private readonly plane: DataPlaneClient,
    private readonly log: Logger,
  ) {}

  /** start runs the data plane; `onFatal` is called if it dies. */
  static async start(log: Logger, onFatal: (reason: string) => void): Promise<Daemon> {
    const plane = new DataPlaneClient(
      (l: WorkerLog) => log[l.level](l.fields ?? {}, l.msg),
      (code) => onFatal(`data plane exited with code ${code}`),
    );
    await plane.started();
    return new Daemon(plane, log);
  }

  async addBridge(input: unknown): Promise<BridgeInfo> {
    const info = await this.plane.call<BridgeInfo>({ op: 'addBridge', spec: bridgeSpec(input) });
    this.log.info({ bridge: info.name }, 'bridge added');
    return info;
  }

  async removeBridge(name: string, force = false): Promise<void> {
    await this.plane.call({ op: 'removeBridge', name: checkName(name, 'bridge'), force });
    this.log.info({ bridge: name }, 'bridge removed');
  }

  async addPort(bridge: string, input: unknown): Promise<PortInfo> {
    const spec = portSpec(input);
    const info = await this.plane.call<PortInfo>({ op: 'addPort', bridge: checkName(bridge, 'bridge'), spec });
    this.log.info({ bridge, port: info.name, kind: info.kind, netns: info.netns }, 'port added');
    return info;
  }

  async removePort(bridge: string, name: string): Promise<void> {
    await this.plane.call({ op: 'removePort', bridge: checkName(bridge, 'bridge'), name: checkName(name, 'port') });
    this.log.info({ bridge, port: name }, 'port removed');
  }

  async bridges(): Promise<BridgeStatus[]> {
    const list = await this.plane.call<BridgeInfo[]>({ op: 'listBridges' });
    return list.map((b) => ({ ...b, counters: this.plane.counters.readBridge(b.slot) }));
  }

  async ports(bridge?: string): Promise<PortStatus[]> {
    const list = await this.plane.call<PortInfo[]>({ op: 'listPorts', bridge });
    return list.map((p) => ({ ...p, counters: this.plane.counters.readPort(p.index) }));
  }

  async fdb(bridge: string): Promise<FdbRow[]> {
    return this.plane.call<FdbRow[]>({ op: 'fdbList', bridge: checkName(bridge, 'bridge') });
  }

  async fdbAdd(bridge: string, mac: string, port: string): Promise<void> {
    await this.plane.call({ op: 'fdbAdd', bridge: checkName(bridge, 'bridge'), mac: checkUnicastMac(mac, 'mac'), port: checkName(port, 'port') });
  }

  /** apply builds a validated topology; on the first failure it undoes what it built and rethrows. */
  async apply(t: Topology): Promise<void> {
    const built: string[] = [];
    try {
      for (const b of t.bridges) {
        await this.plane.call({ op: 'addBridge', spec: b.spec });
        built.push(b.spec.name);
        for (const p of b.ports) {
          const info = await this.plane.call<PortInfo>({ op: 'addPort', bridge: b.spec.name, spec: p });
          this.log.info({ bridge: b.spec.name, port: info.name, netns: info.netns, ifname: info.ifname }, 'port added');
        }
      }
    } catch (e) {
      for (const name of built.reverse()) await this.plane.call({ op: 'removeBridge', name, force: true }).catch(() => undefined);
      throw e;
    }
  }

  /** close stops the data plane: every device is closed, so non-persistent TAPs disappear. */
  async close(): Promise<void> {
    await this.plane.stop();
  }
}
