// The data plane's thread: builds the DataPlane over the real devices and answers the control plane's
// commands. A command that throws answers with the error; a frame never throws out of here.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { TwError } from '../errors.js';
import { nativeIo, type IoFactory } from '../ports/batch-io.js';
import type { PortDevices } from '../ports/devices.js';
import { CounterBlock } from './counters.js';
import { DataPlane } from './dataplane.js';
import { realDevices } from './devices.js';
import type { Command, Reply, Request, WorkerInit, WorkerMessage } from './protocol.js';

export type { WorkerInit };

if (parentPort === null) throw new Error('dataplane/worker.js must run in a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;

let devices: PortDevices = realDevices;
let io: IoFactory = nativeIo;
if (init.fake !== undefined) {
  const fakes = (await import(init.fake.module)) as { fakeDevices(o: { netns: string[]; interfaces?: string[] }): { devices: PortDevices; io: IoFactory } };
  ({ devices, io } = fakes.fakeDevices(init.fake));
}
const plane = new DataPlane({
  counters: new CounterBlock(init.counters),
  io,
  devices,
  clock: () => performance.now(),
  log: (level, msg, fields) => port.postMessage({ log: { level, msg, fields } } satisfies WorkerMessage),
  event: (event) => port.postMessage({ event } satisfies WorkerMessage),
  wake: (at) => {
    // One Node timer for the whole wheel, moved to its earliest deadline.
    if (wakeTimer !== undefined) clearTimeout(wakeTimer);
    wakeTimer = setTimeout(
      () => {
        wakeTimer = undefined;
        plane.runTimers();
      },
      Math.max(0, at - performance.now()),
    );
  },
});
let wakeTimer: NodeJS.Timeout | undefined;
plane.armWake();

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
      if (wakeTimer !== undefined) clearTimeout(wakeTimer);
      wakeTimer = undefined;
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
    plane.armWake(); // a command may add timers (a router interface's RAs, a neighbor)
  } catch (e) {
    const error = e instanceof TwError ? e.toJSON() : { code: 'TW_ERR_INTERNAL' as const, detail: e instanceof Error ? e.message : String(e) };
    reply = { id: req.id, ok: false, error };
  }
  port.postMessage(reply);
  if (req.command.op === 'shutdown') port.close();
}
port.postMessage({ log: { level: 'info', msg: 'data plane started', fields: plane.describeIo() } });
port.postMessage({ ready: true });
