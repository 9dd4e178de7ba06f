// How the CLI shows each resource to a person: `ls` as a table, `show` (and the answer of `add`/`set`) as a list
// of fields. Scripts use --json instead, which prints the server's JSON untouched; these views may change.
import type { Bridge, FdbEntry, Port } from './client.js';
import { renderFields, renderTable, type Column } from './table.js';

const dash = (v: string | undefined): string => (v === undefined || v === '' ? '-' : v);
const list = (v: readonly string[] | undefined): string => (v === undefined || v.length === 0 ? '-' : v.join(', '));
const num = (v: number | undefined): string => (v === undefined ? '-' : String(v));

/** dropTotal is the number of frames a port dropped, over every reason. */
export function dropTotal(port: Port): number {
  return Object.values(port.counters.drops ?? {}).reduce((sum, n) => sum + n, 0);
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
    .map(([k, v]): [string, string] => [k, String(v)]);
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
