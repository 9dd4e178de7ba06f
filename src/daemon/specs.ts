// Validation of user input into the data plane's specs: names, MACs, CIDRs, MTUs, with a precise message
// naming the field. Everything the daemon accepts, from the topology file or (later) the API, goes through
// here, so the rules have one home.
import { TwError } from '../errors.js';
import { AGING_SECONDS_RANGE, FDB_DEFAULTS } from '../bridge/fdb.js';
import { BridgeSpec, PortSpec, TapPortSpec } from '../dataplane/protocol.js';
import { Cidr, parseCidr } from '../wire/cidr.js';
import { formatMac, isGroupMac, isMac, parseMac } from '../wire/ethernet.js';

/** NAME_RE is the interface-style name of bridges and ports (at most 15 bytes). */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;
/** NETNS_RE is a network namespace name: a file name under /run/netns. */
export const NETNS_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
/** MTU_RANGE is what a port accepts (a TAP's netdev takes up to 65521). */
export const MTU_RANGE = { min: 68, max: 65521 } as const;
/** FDB_MAX_RANGE bounds fdbMax. */
export const FDB_MAX_RANGE = { min: 1, max: 1_048_576 } as const;
/** PORT_KINDS are the port kinds this build supports. */
export const PORT_KINDS = ['tap', 'netdev'] as const;

function invalid(detail: string): TwError {
  return new TwError('TW_ERR_VALIDATION', detail);
}

function record(input: unknown, where: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid(`${where} must be an object`);
  return input as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw invalid(`${where}: unknown field ${JSON.stringify(k)}`);
}

/** checkName validates a bridge or port name. */
export function checkName(value: unknown, where: string): string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    throw invalid(`${where} must be 1-15 characters of letters, digits, '_', '.', '-', starting with a letter or digit; got ${JSON.stringify(value)}`);
  }
  return value;
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${where} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** checkUnicastMac validates a MAC for an interface: colon notation, not group, not all zero. */
export function checkUnicastMac(value: unknown, where: string): string {
  if (typeof value !== 'string' || !isMac(value)) throw invalid(`${where} must be a MAC address like 02:00:00:00:00:01; got ${JSON.stringify(value)}`);
  const key = parseMac(value);
  if (isGroupMac(key)) throw invalid(`${where} must be a unicast MAC (the first byte even); got ${value}`);
  if (key === 0) throw invalid(`${where} must not be 00:00:00:00:00:00`);
  return formatMac(key);
}

/** checkCidrs validates a list of interface addresses. */
export function checkCidrs(value: unknown, where: string): Cidr[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array of addresses like "10.0.0.1/24"`);
  if (value.length > 64) throw invalid(`${where}: at most 64 addresses`);
  const seen = new Set<string>();
  return value.map((v, i) => {
    let c: Cidr;
    try {
      c = parseCidr(v as string);
    } catch (e) {
      throw invalid(`${where}[${i}]: ${(e as Error).message}`);
    }
    const address = c.text.split('/')[0]!;
    if (seen.has(address)) throw invalid(`${where}[${i}]: ${address} is listed twice`);
    seen.add(address);
    return c;
  });
}

/** bridgeSpec validates a bridge definition (extra keys listed in `alsoAllowed` are ignored). */
export function bridgeSpec(input: unknown, where = 'bridge', alsoAllowed: readonly string[] = []): BridgeSpec {
  const o = record(input, where);
  onlyKeys(o, ['name', 'agingSeconds', 'fdbMax', ...alsoAllowed], where);
  return {
    name: checkName(o.name, `${where}.name`),
    agingSeconds: o.agingSeconds === undefined ? FDB_DEFAULTS.agingMs / 1000 : integer(o.agingSeconds, `${where}.agingSeconds`, AGING_SECONDS_RANGE.min, AGING_SECONDS_RANGE.max),
    fdbMax: o.fdbMax === undefined ? FDB_DEFAULTS.max : integer(o.fdbMax, `${where}.fdbMax`, FDB_MAX_RANGE.min, FDB_MAX_RANGE.max),
  };
}

/** bridgePatch validates the changeable fields of a bridge. */
export function bridgePatch(input: unknown, where = 'bridge'): { agingSeconds?: number; fdbMax?: number } {
  const o = record(input, where);
  onlyKeys(o, ['agingSeconds', 'fdbMax'], where);
  const patch: { agingSeconds?: number; fdbMax?: number } = {};
  if (o.agingSeconds !== undefined) patch.agingSeconds = integer(o.agingSeconds, `${where}.agingSeconds`, AGING_SECONDS_RANGE.min, AGING_SECONDS_RANGE.max);
  if (o.fdbMax !== undefined) patch.fdbMax = integer(o.fdbMax, `${where}.fdbMax`, FDB_MAX_RANGE.min, FDB_MAX_RANGE.max);
  return patch;
}

/** portSpec validates a port definition of any supported kind. */
export function portSpec(input: unknown, where = 'port'): PortSpec {
  const o = record(input, where);
  const name = checkName(o.name, `${where}.name`);
  if (o.kind === 'netdev') {
    onlyKeys(o, ['name', 'kind', 'ifname'], `${where} (kind netdev)`);
    if (typeof o.ifname !== 'string' || !NAME_RE.test(o.ifname)) throw invalid(`${where}.ifname must name an existing interface (1-15 characters); got ${JSON.stringify(o.ifname)}`);
    return { name, kind: 'netdev', ifname: o.ifname };
  }
  if (o.kind !== 'tap') {
    throw invalid(`${where}.kind must be one of ${PORT_KINDS.map((k) => JSON.stringify(k)).join(', ')}; got ${JSON.stringify(o.kind)}`);
  }
  onlyKeys(o, ['name', 'kind', 'netns', 'addresses', 'mac', 'mtu', 'up'], `${where} (kind tap)`);
  const spec: TapPortSpec = {
    name,
    kind: 'tap',
    addresses: o.addresses === undefined ? [] : checkCidrs(o.addresses, `${where}.addresses`),
    up: true,
  };
  if (o.netns !== undefined) {
    if (typeof o.netns !== 'string' || !NETNS_RE.test(o.netns)) throw invalid(`${where}.netns must be the name of a network namespace (as in /run/netns); got ${JSON.stringify(o.netns)}`);
    spec.netns = o.netns;
  }
  if (o.mac !== undefined) spec.mac = checkUnicastMac(o.mac, `${where}.mac`);
  if (o.mtu !== undefined) spec.mtu = integer(o.mtu, `${where}.mtu`, MTU_RANGE.min, MTU_RANGE.max);
  if (o.up !== undefined) {
    if (typeof o.up !== 'boolean') throw invalid(`${where}.up must be true or false`);
    spec.up = o.up;
  }
  return spec;
}

/** Topology is a validated topology file: bridges with their ports. */
export interface Topology {
  bridges: { spec: BridgeSpec; ports: PortSpec[] }[];
}

/** topology validates the content of a topology file. */
export function topology(input: unknown): Topology {
  const o = record(input, 'topology');
  onlyKeys(o, ['bridges'], 'topology');
  if (o.bridges === undefined) return { bridges: [] };
  if (!Array.isArray(o.bridges)) throw invalid('topology.bridges must be an array');
  const names = new Set<string>();
  const portNames = new Set<string>();
  const bridges = o.bridges.map((b, i) => {
    const where = `bridges[${i}]`;
    const spec = bridgeSpec(b, where, ['ports']);
    if (names.has(spec.name)) throw invalid(`${where}.name: bridge ${spec.name} is defined twice`);
    names.add(spec.name);
    const rawPorts = (b as Record<string, unknown>).ports ?? [];
    if (!Array.isArray(rawPorts)) throw invalid(`${where}.ports must be an array`);
    const ports = rawPorts.map((p, j) => {
      const ps = portSpec(p, `${where}.ports[${j}]`);
      if (portNames.has(ps.name)) throw invalid(`${where}.ports[${j}].name: port ${ps.name} is defined twice`);
      portNames.add(ps.name);
      return ps;
    });
    return { spec, ports };
  });
  return { bridges };
}
