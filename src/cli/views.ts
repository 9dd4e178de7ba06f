// How the CLI shows each resource to a person: `ls` as a table, `show` (and the answer of `add`/`set`) as a list
// of fields. Scripts use --json instead, which prints the server's JSON untouched; these views may change.
import type { Bridge, FdbEntry, Link, Neighbor, Port, PortCounters, Route, RouterInterface, RouterSummary } from './client.js';
import { renderFields, renderTable, type Column } from './table.js';

const dash = (v: string | undefined): string => (v === undefined || v === '' ? '-' : v);
const list = (v: readonly string[] | undefined): string => (v === undefined || v.length === 0 ? '-' : v.join(', '));
const num = (v: number | undefined): string => (v === undefined ? '-' : String(v));

/** dropTotal is the number of frames a port (or a link, or a router interface) dropped, over every reason. */
export function dropTotal(port: { counters: PortCounters }): number {
  return Object.values(port.counters.drops ?? {}).reduce((sum, n) => sum + n, 0);
}

// trafficFields are the rx/tx/drops lines of `show` for anything with port counters.
function trafficFields(c: PortCounters): [string, string][] {
  const drops = Object.entries(c.drops ?? {}).filter(([, n]) => n > 0);
  return [
    ['rx', `${num(c.rxFrames)} frames, ${num(c.rxBytes)} bytes (${num(c.rxGsoFrames)} GSO, ${num(c.rxBatches)} batches)`],
    ['tx', `${num(c.txFrames)} frames, ${num(c.txBytes)} bytes (${num(c.txGsoFrames)} GSO)`],
    ['drops', drops.length === 0 ? '0' : drops.map(([reason, n]) => `${reason}=${n}`).join(', ')],
  ];
}

const BRIDGE_COLUMNS: Column<Bridge>[] = [
  { header: 'NAME', cell: (b) => b.name },
  { header: 'AGING', cell: (b) => `${b.agingSeconds}s`, align: 'right' },
  { header: 'FDB-MAX', cell: (b) => num(b.fdbMax), align: 'right' },
  { header: 'PORTS', cell: (b) => num(b.ports.length), align: 'right' },
  { header: 'FDB-ENTRIES', cell: (b) => num(b.counters.fdbEntries), align: 'right' },
];

/** bridgeTable shows bridges one a line: NAME AGING FDB-MAX PORTS (how many) FDB-ENTRIES. */
export function bridgeTable(bridges: readonly Bridge[]): string {
  return renderTable(BRIDGE_COLUMNS, bridges);
}

/** bridgeDetails shows one bridge with its ports and FDB counters. */
export function bridgeDetails(b: Bridge): string {
  const c = b.counters;
  return renderFields([
    ['name', b.name],
    ['aging', `${b.agingSeconds}s`],
    ['fdb-max', num(b.fdbMax)],
    ['ports', list(b.ports)],
    ['fdb', `${c.fdbEntries} entries (learned ${c.fdbLearned}, moved ${c.fdbMoved}, expired ${c.fdbExpired}, evicted ${c.fdbEvicted})`],
    ['floods', num(c.floods)],
  ]);
}

const PORT_COLUMNS: Column<Port>[] = [
  { header: 'NAME', cell: (p) => p.name },
  { header: 'KIND', cell: (p) => p.kind },
  { header: 'IFNAME', cell: (p) => dash(p.ifname) },
  { header: 'NETNS', cell: (p) => dash(p.netns) },
  { header: 'STATE', cell: (p) => p.state },
  { header: 'MTU', cell: (p) => num(p.mtu), align: 'right' },
  { header: 'RX-FRAMES', cell: (p) => num(p.counters.rxFrames), align: 'right' },
  { header: 'TX-FRAMES', cell: (p) => num(p.counters.txFrames), align: 'right' },
  { header: 'DROPS', cell: (p) => num(dropTotal(p)), align: 'right' },
];

/** portTable shows ports one a line: NAME KIND IFNAME NETNS STATE MTU RX-FRAMES TX-FRAMES DROPS (all reasons). */
export function portTable(ports: readonly Port[]): string {
  return renderTable(PORT_COLUMNS, ports);
}

// The fields portDetails shows by name; any other field (a later kind's own) is shown after them as it is.
const PORT_FIELDS = new Set(['name', 'bridge', 'kind', 'ifname', 'netns', 'addresses', 'mac', 'mtu', 'state', 'counters']);

/** portDetails shows one port with its counters and its drops by reason. */
export function portDetails(p: Port): string {
  const c = p.counters;
  const drops = Object.entries(c.drops ?? {}).filter(([, n]) => n > 0);
  const extra = Object.entries(p)
    .filter(([k, v]) => !PORT_FIELDS.has(k) && v !== undefined && v !== null && typeof v !== 'object')
    .map(([k, v]): [string, string] => [k, String(v as string | number | boolean)]);
  return renderFields([
    ['name', p.name],
    ['bridge', p.bridge],
    ['kind', p.kind],
    ['ifname', dash(p.ifname)],
    ['netns', dash(p.netns)],
    ['addresses', list(p.addresses)],
    ['mac', dash(p.mac)],
    ['mtu', num(p.mtu)],
    ['state', p.state],
    ...extra,
    ['rx', `${num(c.rxFrames)} frames, ${num(c.rxBytes)} bytes (${num(c.rxGsoFrames)} GSO, ${num(c.rxBatches)} batches)`],
    ['tx', `${num(c.txFrames)} frames, ${num(c.txBytes)} bytes (${num(c.txGsoFrames)} GSO)`],
    ['drops', drops.length === 0 ? '0' : drops.map(([reason, n]) => `${reason}=${n}`).join(', ')],
  ]);
}

const FDB_COLUMNS: Column<FdbEntry>[] = [
  { header: 'MAC', cell: (e) => e.mac },
  { header: 'PORT', cell: (e) => e.port },
  { header: 'STATIC', cell: (e) => (e.static ? 'yes' : 'no') },
  { header: 'AGE', cell: (e) => (e.static ? '-' : `${e.ageSeconds}s`), align: 'right' },
];

/** fdbTable shows forwarding-database entries: MAC PORT STATIC AGE (seconds since last seen; '-' when static). */
export function fdbTable(entries: readonly FdbEntry[]): string {
  return renderTable(FDB_COLUMNS, entries);
}

const LINK_COLUMNS: Column<Link>[] = [
  { header: 'NAME', cell: (l) => l.name },
  { header: 'KIND', cell: (l) => l.kind },
  { header: 'NETNS', cell: (l) => dash(l.netns) },
  { header: 'STATE', cell: (l) => l.state },
  { header: 'ADDRESSES', cell: (l) => list(l.addresses).replaceAll(', ', ',') },
  { header: 'ROUTER-IFACE', cell: (l) => dash(l.routerInterface) },
  { header: 'MTU', cell: (l) => num(l.mtu), align: 'right' },
  { header: 'RX-FRAMES', cell: (l) => num(l.counters.rxFrames), align: 'right' },
  { header: 'TX-FRAMES', cell: (l) => num(l.counters.txFrames), align: 'right' },
  { header: 'DROPS', cell: (l) => num(dropTotal(l)), align: 'right' },
];

/** linkTable shows links one a line: NAME KIND NETNS STATE ADDRESSES ROUTER-IFACE MTU RX-FRAMES TX-FRAMES DROPS. */
export function linkTable(links: readonly Link[]): string {
  return renderTable(LINK_COLUMNS, links);
}

/** linkDetails shows one link with its routes and counters. */
export function linkDetails(l: Link): string {
  return renderFields([
    ['name', l.name],
    ['kind', l.kind],
    ['ifname', dash(l.ifname)],
    ['netns', dash(l.netns)],
    ['addresses', list(l.addresses)],
    ['peer', dash(l.peer)],
    ['routes', list(l.routes)],
    ['mtu', num(l.mtu)],
    ['state', l.state],
    ['router-iface', dash(l.routerInterface)],
    ...trafficFields(l.counters),
  ]);
}

const IFACE_COLUMNS: Column<RouterInterface>[] = [
  { header: 'NAME', cell: (r) => r.name },
  { header: 'ON', cell: (r) => (r.bridge !== undefined ? `bridge:${r.bridge}` : `link:${r.link ?? '-'}`) },
  { header: 'ADDRESSES', cell: (r) => list(r.addresses).replaceAll(', ', ',') },
  { header: 'MAC', cell: (r) => dash(r.mac) },
  { header: 'RA', cell: (r) => (r.routerAdvertisements ? 'yes' : 'no') },
  { header: 'STATE', cell: (r) => r.state },
  { header: 'MTU', cell: (r) => num(r.mtu), align: 'right' },
  { header: 'RX-FRAMES', cell: (r) => num(r.counters.rxFrames), align: 'right' },
  { header: 'TX-FRAMES', cell: (r) => num(r.counters.txFrames), align: 'right' },
];

/** routerInterfaceTable shows router interfaces one a line: NAME ON (bridge:NAME or link:NAME) ADDRESSES MAC RA
 * STATE MTU RX-FRAMES TX-FRAMES. */
export function routerInterfaceTable(interfaces: readonly RouterInterface[]): string {
  return renderTable(IFACE_COLUMNS, interfaces);
}

/** routerInterfaceDetails shows one router interface with its counters. */
export function routerInterfaceDetails(r: RouterInterface): string {
  return renderFields([
    ['name', r.name],
    r.bridge !== undefined ? ['bridge', r.bridge] : ['link', dash(r.link)],
    ['addresses', list(r.addresses)],
    ['link-local', dash(r.linkLocal)],
    ['mac', dash(r.mac)],
    ['mtu', num(r.mtu)],
    ['ra', r.routerAdvertisements ? 'yes' : 'no'],
    ['state', r.state],
    ...trafficFields(r.counters),
  ]);
}

const ROUTE_COLUMNS: Column<Route>[] = [
  { header: 'PREFIX', cell: (r) => r.prefix },
  { header: 'VIA', cell: (r) => dash(r.via) },
  { header: 'INTERFACE', cell: (r) => dash(r.interface) },
  { header: 'KIND', cell: (r) => (r.pending === true ? `${r.kind}(pending)` : r.kind) },
];

/** routeTable shows routes one a line: PREFIX VIA INTERFACE KIND (connected, static; "(pending)" while a saved
 * route waits for its interface). */
export function routeTable(routes: readonly Route[]): string {
  return renderTable(ROUTE_COLUMNS, routes);
}

const NEIGHBOR_COLUMNS: Column<Neighbor>[] = [
  { header: 'ADDRESS', cell: (n) => n.address },
  { header: 'MAC', cell: (n) => n.mac ?? '-' },
  { header: 'INTERFACE', cell: (n) => n.interface },
  { header: 'STATE', cell: (n) => n.state },
  { header: 'AGE', cell: (n) => `${n.ageSeconds}s`, align: 'right' },
];

/** neighborTable shows the ARP/NDP cache: ADDRESS MAC ('-' while unresolved) INTERFACE STATE AGE. */
export function neighborTable(neighbors: readonly Neighbor[]): string {
  return renderTable(NEIGHBOR_COLUMNS, neighbors);
}

/** routerDetails shows the router's summary: what it forwarded, delivered and refused, and the ICMP it sent. */
export function routerDetails(r: RouterSummary): string {
  const c = r.counters;
  const drops = Object.entries(c.drops ?? {}).filter(([, n]) => n > 0);
  const icmp = (c.icmpSent ?? []).filter((i) => i.count > 0);
  return renderFields([
    ['interfaces', num(r.interfaces)],
    ['routes', `${num(r.routes)} (IPv4 ${num(c.routes4)}, IPv6 ${num(c.routes6)})`],
    ['neighbors', num(c.neighborEntries)],
    ['forwarded', `IPv4 ${num(c.forwarded4)}, IPv6 ${num(c.forwarded6)}`],
    ['delivered', `IPv4 ${num(c.delivered4)}, IPv6 ${num(c.delivered6)}`],
    ['fragments', `${num(c.fragmentsCreated)} created`],
    ['arp', `${num(c.arpReceived)} received, ${num(c.arpSent)} sent`],
    ['ndp', `${num(c.ndpReceived)} received, ${num(c.ndpSent)} sent (${num(c.raSent)} router advertisements)`],
    ['icmp sent', icmp.length === 0 ? '0' : icmp.map((i) => `v${i.family} ${i.type}=${i.count}`).join(', ')],
    ['icmp limited', num(c.icmpRateLimited)],
    ['drops', drops.length === 0 ? '0' : drops.map(([reason, n]) => `${reason}=${n}`).join(', ')],
  ]);
}
