// What the API shows of an object that is desired but not built yet (pending, see reconcile.ts): the object
// as it was saved, in state `error` (a route: `pending`), with counters at zero.
import type { PortCounters } from '../dataplane/counters.js';
import type { LinkStatus, PortStatus, RouteStatus, RouterInterfaceStatus } from './resources.js';
import type { SavedLink, SavedPort, SavedRoute, SavedRouterInterface } from './state-store.js';

/** DEFAULT_MTU is the MTU shown for a pending object that was saved without one. */
export const DEFAULT_MTU = 1500;

/** noCounters are the counters of something not built. */
export function noCounters(): PortCounters {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxGsoFrames: 0, txGsoFrames: 0, rxBatches: 0, drops: {} };
}

/** pendingPort shows a pending port of `bridge`. */
export function pendingPort(bridge: string, p: SavedPort): PortStatus {
  const status: PortStatus = {
    name: p.name,
    bridge,
    kind: p.kind,
    ifname: p.kind === 'netdev' ? p.ifname : p.name,
    addresses: p.kind === 'tap' ? p.addresses : [],
    mtu: (p.kind === 'tap' ? p.mtu : undefined) ?? DEFAULT_MTU,
    state: 'error',
    counters: noCounters(),
  };
  if (p.kind === 'tap' && p.netns !== undefined) status.netns = p.netns;
  if (p.kind === 'tap' && p.mac !== undefined) status.mac = p.mac;
  return status;
}

/** pendingLink shows a pending link, with the router interface that waits on it, if any. */
export function pendingLink(saved: SavedLink, routerInterface: string | undefined): LinkStatus {
  const status: LinkStatus = {
    name: saved.name,
    kind: saved.kind,
    ifname: saved.name,
    addresses: saved.addresses,
    mtu: saved.mtu ?? DEFAULT_MTU,
    routes: saved.routes,
    state: 'error',
    counters: noCounters(),
  };
  if (saved.netns !== undefined) status.netns = saved.netns;
  if (saved.peer !== undefined) status.peer = saved.peer;
  if (routerInterface !== undefined) status.routerInterface = routerInterface;
  return status;
}

/** pendingRouterInterface shows a pending router interface. */
export function pendingRouterInterface(saved: SavedRouterInterface): RouterInterfaceStatus {
  const { mtu, ...rest } = saved;
  return { ...rest, mtu: mtu ?? DEFAULT_MTU, state: 'error', counters: noCounters() };
}

/** pendingRoute shows a pending static route going out of `egress` (empty when there is none). */
export function pendingRoute(saved: SavedRoute, egress: string | undefined): RouteStatus {
  const route: RouteStatus = { prefix: saved.prefix, interface: egress ?? '', kind: 'static', pending: true };
  if (saved.via !== undefined) route.via = saved.via;
  return route;
}
