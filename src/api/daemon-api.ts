// DaemonApi: what the API calls of the daemon, so that the app can be built over anything of that shape:
// the daemon itself, or, to write the OpenAPI document, an object that no request ever reaches.
import type { Daemon } from '../daemon/daemon.js';

/** DaemonApi is the slice of Daemon's facade the routes call. */
export type DaemonApi = Pick<
  Daemon,
  | 'bridges'
  | 'bridge'
  | 'addBridge'
  | 'updateBridge'
  | 'removeBridge'
  | 'ports'
  | 'port'
  | 'addPort'
  | 'removePort'
  | 'fdb'
  | 'fdbAdd'
  | 'fdbDelete'
  | 'fdbFlush'
  | 'router'
  | 'routerInterfaces'
  | 'routerInterface'
  | 'addRouterInterface'
  | 'removeRouterInterface'
  | 'links'
  | 'link'
  | 'addLink'
  | 'removeLink'
  | 'routes'
  | 'addRoute'
  | 'removeRoute'
  | 'neighbors'
>;
