// The data plane's thread: builds the DataPlane over the real devices and answers the control plane's
// commands. A command that throws answers with the error; a frame never throws out of here.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { TwError } from '../errors.js';
import { openTapDevice } from '../tap/tap-device.js';
import { FakeTaps } from '../tap/fake-tap.js';
import { openNetdevDevice } from '../ports/netdev.js';
import { openVmDevice } from '../ports/vm.js';
import { openSocketPort } from '../ports/socket.js';
import { openDgramSocketPort } from '../ports/socket-dgram.js';
import { openTunDevice } from '../tun/tun-device.js';
import { FakeIo } from './fake-io.js';
import { CounterBlock } from './counters.js';
import { DataPlane } from './dataplane.js';
import { nativeIo } from './io.js';
import { Command, Reply, Request } from './protocol.js';

/** WorkerInit is the workerData the control plane passes. */
export interface WorkerInit {
  counters: SharedArrayBuffer;
  /** fake runs the data plane over in-memory devices (tests without root); `netns` are the namespaces
   * that "exist". TEMP: `module` (the fake devices module's URL) is ignored until that module exists. */
  fake?: { module?: string; netns: string[]; interfaces?: string[] };
}

if (parentPort === null) throw new Error('dataplane/worker.js must run in a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;

const fakeTaps = init.fake === undefined ? undefined : new FakeTaps(init.fake.netns, init.fake.interfaces);
const plane = new DataPlane({
  counters: new CounterBlock(init.counters),
  io: fakeTaps === undefined ? nativeIo : (onBatch) => new FakeIo(onBatch),
  openTap: fakeTaps === undefined ? openTapDevice : fakeTaps.opener,
  openNetdev: fakeTaps === undefined ? openNetdevDevice : fakeTaps.netdevOpener,
  openTun: fakeTaps === undefined ? openTunDevice : fakeTaps.tunOpener,
  openVm: fakeTaps === undefined ? openVmDevice : fakeTaps.vmOpener,
  openSocket: (spec, events) => (spec.mode === 'dgram' ? openDgramSocketPort({ ...spec, mode: 'dgram' }, events) : openSocketPort(spec, events)),
  clock: () => performance.now(),
  log: (level, msg, fields) => port.postMessage({ log: { level, msg, fields } }),
});
const ticker = setInterval(() => plane.tick(), 1000);
const routerTicker = setInterval(() => plane.tickRouter(), 100);

function run(command: Command): unknown {
  switch (command.op) {
    case 'addBridge':
      return plane.addBridge(command.spec);
    case 'updateBridge':
      return plane.updateBridge(command.name, command);
    case 'removeBridge':
      return plane.removeBridge(command.name, command.force);
    case 'listBridges':
      return plane.listBridges();
    case 'addPort':
      return plane.addPort(command.bridge, command.spec);
    case 'removePort':
      return plane.removePort(command.bridge, command.name);
    case 'listPorts':
      return plane.listPorts(command.bridge);
    case 'fdbList':
      return plane.fdbList(command.bridge);
    case 'fdbAdd':
      return plane.fdbAdd(command.bridge, command.mac, command.port);
    case 'fdbDelete':
      return plane.fdbDelete(command.bridge, command.mac);
    case 'fdbFlush':
      return plane.fdbFlush(command.bridge);
    case 'addLink':
      return plane.addLink(command.spec);
    case 'removeLink':
      return plane.removeLink(command.name);
    case 'listLinks':
      return plane.listLinks();
    case 'addRouterInterface':
      return plane.addRouterInterface(command.spec);
    case 'removeRouterInterface':
      return plane.removeRouterInterface(command.name);
    case 'listRouterInterfaces':
      return plane.listRouterInterfaces();
    case 'addRoute':
      return plane.addRoute(command.spec);
    case 'removeRoute':
      return plane.removeRoute(command.prefix);
    case 'listRoutes':
      return plane.listRoutes();
    case 'listNeighbors':
      return plane.listNeighbors();
    case 'shutdown':
      clearInterval(ticker);
      clearInterval(routerTicker);
      plane.close();
      return null;
  }
}

// A command answers when its result is there: at once, or when a promise settles (a socket port answers
// once it listens). Frames keep flowing meanwhile.
port.on('message', (req: Request) => void answer(req));

async function answer(req: Request): Promise<void> {
  let reply: Reply;
  try {
    reply = { id: req.id, ok: true, result: (await run(req.command)) ?? null };
  } catch (e) {
    const error = e instanceof TwError ? e.toJSON() : { code: 'TW_ERR_INTERNAL' as const, detail: e instanceof Error ? e.message : String(e) };
    reply = { id: req.id, ok: false, error };
  }
  port.postMessage(reply);
  if (req.command.op === 'shutdown') port.close();
}
port.postMessage({ log: { level: 'info', msg: 'data plane started', fields: plane.describeIo() } });
port.postMessage({ ready: true });
