// What the data plane answers about its objects: plain JSON-able descriptions built from its entries.
import { addressText } from '../router/routes.js';
import type { Router } from '../router/router.js';
import type { BridgeEntry, LinkEntry, SwitchEntry } from './port-table.js';
import type { BridgeInfo, LinkInfo, PortInfo, RouterInterfaceInfo, RouterInterfaceSpec } from './protocol.js';

/** bridgeInfo describes a bridge. */
export function bridgeInfo(b: BridgeEntry): BridgeInfo {
  return {
    name: b.bridge.name,
    agingSeconds: b.bridge.fdb.agingMs / 1000,
    fdbMax: b.bridge.fdb.max,
    slot: b.slot,
    ports: [...b.ports.keys()],
  };
}

/** portInfo describes a device port. */
export function portInfo(p: SwitchEntry): PortInfo {
  const spec = p.spec;
  const info: PortInfo = {
    name: spec.name,
    bridge: p.bridge.bridge.name,
    kind: spec.kind,
    index: p.sw.index,
    ifname: p.port.ifname,
    addresses: spec.kind === 'tap' ? spec.addresses.map((a) => a.text) : [],
    mtu: p.sw.mtu,
    state: p.port.state,
    offloads: p.port.offloads,
  };
  if (spec.kind === 'tap' && spec.netns !== undefined) info.netns = spec.netns;
  if ((spec.kind === 'tap' || spec.kind === 'vm') && spec.mac !== undefined) info.mac = spec.mac;
  if (spec.kind === 'socket') {
    info.path = spec.path;
    info.mode = spec.mode;
  }
  if (spec.kind === 'vm' || spec.kind === 'socket') {
    if (spec.uid !== undefined) info.uid = spec.uid;
    if (spec.gid !== undefined) info.gid = spec.gid;
  }
  return info;
}

/** linkInfo describes a routed link. */
export function linkInfo(l: LinkEntry): LinkInfo {
  const info: LinkInfo = {
    name: l.spec.name,
    kind: 'tun',
    ifname: l.port.ifname,
    addresses: l.spec.addresses.map((a) => a.text),
    mtu: l.sw.mtu,
    routes: l.spec.routes.map((r) => r.text),
    index: l.sw.index,
    state: l.port.state,
  };
  if (l.spec.netns !== undefined) info.netns = l.spec.netns;
  if (l.spec.peer !== undefined) info.peer = l.spec.peer.text;
  if (l.routerInterface !== undefined) info.routerInterface = l.routerInterface.name;
  return info;
}

/** routerInterfaceInfo describes a router interface in slot `index`. */
export function routerInterfaceInfo(router: Router, spec: RouterInterfaceSpec, index: number, mtu: number): RouterInterfaceInfo {
  const info: RouterInterfaceInfo = { name: spec.name, addresses: spec.addresses.map((a) => a.text), mtu, routerAdvertisements: spec.routerAdvertisements, index };
  if (spec.bridge !== undefined) {
    info.bridge = spec.bridge;
    info.mac = spec.mac;
    const ll = router.linkLocal(index);
    if (ll !== undefined) info.linkLocal = addressText(6, ll);
  }
  if (spec.link !== undefined) info.link = spec.link;
  return info;
}
