// Validation of user input into the data plane's specs: names, MACs, CIDRs, MTUs, with a precise message
// naming the field. Everything the daemon accepts, from the topology file or (later) the API, goes through
// here, so the rules have one home.
import { createHash } from 'node:crypto';
import { Address4, Address6 } from 'ip-address';
import { TwError } from '../errors.js';
import { AGING_SECONDS_RANGE, FDB_DEFAULTS } from '../bridge/fdb.js';
import { BridgeSpec, IpAddress, LinkSpec, PortSpec, RouteSpec, RouterInterfaceSpec, SocketPortSpec, TapPortSpec, VmPortSpec } from '../dataplane/protocol.js';
import { normalize } from 'node:path';
import { Cidr, parseCidr } from '../wire/cidr.js';
import { IPV6_MIN_MTU } from '../wire/ipv6.js';
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
export const PORT_KINDS = ['tap', 'vm', 'netdev', 'socket'] as const;
/** SOCKET_MODES are the framings a socket port speaks: QEMU's -netdev stream (a 4-byte big-endian length
 * before each frame on a stream socket) and -netdev dgram (a frame per datagram). */
export const SOCKET_MODES = ['stream', 'dgram'] as const;
/** SOCKET_PATH_MAX is the longest socket path (sun_path holds 108 bytes with the NUL). */
export const SOCKET_PATH_MAX = 107;
/** ID_MAX is the largest uid/gid (4294967295 is (uid_t)-1, "none"). */
export const ID_MAX = 4294967294;
/** ACCOUNT_RE is a user or group name as useradd/groupadd accept it. */
export const ACCOUNT_RE = /^[a-zA-Z_][a-zA-Z0-9_.-]{0,30}\$?$/;
/** VM_MAC_OUI starts a vm port's suggested guest MAC: the prefix QEMU and libvirt give their guests. */
export const VM_MAC_OUI = '52:54:00';

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

/** checkMacOrGroup validates a MAC a table may hold (unicast or group), as given to delete it; checkUnicastMac's
 * message is the right one for anything else. */
export function checkMacOrGroup(value: unknown, where: string): string {
  if (typeof value === 'string' && isMac(value)) return value.toLowerCase();
  return checkUnicastMac(value, where);
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
  if (o.kind === 'vm') return vmPortSpec(o, name, where);
  if (o.kind === 'socket') return socketPortSpec(o, name, where);
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
  if (o.mtu !== undefined) spec.mtu = checkMtu(o.mtu, `${where}.mtu`, spec.addresses);
  if (o.up !== undefined) {
    if (typeof o.up !== 'boolean') throw invalid(`${where}.up must be true or false`);
    spec.up = o.up;
  }
  return spec;
}

/** checkAccount validates a user or group given by id or by name. */
function checkAccount(value: unknown, where: string): string | number {
  if (typeof value === 'number') return integer(value, where, 0, ID_MAX);
  if (typeof value === 'string' && ACCOUNT_RE.test(value)) return value;
  throw invalid(`${where} must be a ${where.endsWith('owner') ? 'user' : 'group'} name or a numeric id from 0 to ${ID_MAX}; got ${JSON.stringify(value)}`);
}

/** vmMac is the guest MAC a vm port suggests when none is given: VM_MAC_OUI followed by the first three
 * bytes of sha256(name), so that guests on different ports do not all get QEMU's default 52:54:00:12:34:56. */
export function vmMac(name: string): string {
  const h = createHash('sha256').update(name, 'utf8').digest();
  return `${VM_MAC_OUI}:${[...h.subarray(0, 3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

function vmPortSpec(o: Record<string, unknown>, name: string, where: string): VmPortSpec {
  onlyKeys(o, ['name', 'kind', 'owner', 'group', 'mac', 'mtu'], `${where} (kind vm)`);
  if (o.owner === undefined && o.group === undefined) {
    throw invalid(`${where}: a vm port needs an owner or a group (a persistent TAP with neither could be taken by any user)`);
  }
  const spec: VmPortSpec = { name, kind: 'vm', mac: o.mac === undefined ? vmMac(name) : checkUnicastMac(o.mac, `${where}.mac`) };
  if (o.owner !== undefined) spec.owner = checkAccount(o.owner, `${where}.owner`);
  if (o.group !== undefined) spec.group = checkAccount(o.group, `${where}.group`);
  if (o.mtu !== undefined) spec.mtu = integer(o.mtu, `${where}.mtu`, MTU_RANGE.min, MTU_RANGE.max);
  return spec;
}

function socketPortSpec(o: Record<string, unknown>, name: string, where: string): SocketPortSpec {
  onlyKeys(o, ['name', 'kind', 'path', 'mode', 'mtu', 'owner', 'group'], `${where} (kind socket)`);
  const path = o.path;
  if (typeof path !== 'string' || !path.startsWith('/') || Buffer.byteLength(path) > SOCKET_PATH_MAX || path.includes('\0') || path.endsWith('/')) {
    throw invalid(`${where}.path must be an absolute path to a socket file of at most ${SOCKET_PATH_MAX} bytes; got ${JSON.stringify(path)}`);
  }
  const mode = o.mode ?? 'stream';
  if (mode !== 'stream' && mode !== 'dgram') throw invalid(`${where}.mode must be "stream" or "dgram"; got ${JSON.stringify(mode)}`);
  const spec: SocketPortSpec = { name, kind: 'socket', path: normalize(path), mode };
  if (o.mtu !== undefined) spec.mtu = integer(o.mtu, `${where}.mtu`, MTU_RANGE.min, MTU_RANGE.max);
  if (o.owner !== undefined) spec.owner = checkAccount(o.owner, `${where}.owner`);
  if (o.group !== undefined) spec.group = checkAccount(o.group, `${where}.group`);
  return spec;
}

/** ROUTER_MAC_OUI is the first three bytes of a router interface's derived MAC: 02 (locally administered,
 * unicast) and "tw". */
export const ROUTER_MAC_OUI = '02:74:77';

/** parseIpAddress parses an address without a prefix length ("10.0.0.1", "fd00::1"); it throws a RangeError
 * on anything else (a prefix length, an IPv6 zone, an IPv4 address that is not a dotted quad). */
export function parseIpAddress(text: string): IpAddress {
  if (typeof text !== 'string') throw new RangeError(`not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
  if (text.includes('/')) throw new RangeError(`an address without a prefix length is wanted, not ${JSON.stringify(text)}`);
  if (Address4.isValid(text) && /^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const a = new Address4(text);
    return { family: 4, address: Uint8Array.from(a.toArray()), text: a.correctForm() };
  }
  if (Address6.isValid(text) && !text.includes('%')) {
    const a = new Address6(text);
    const bytes = a.toUnsignedByteArray();
    const address = new Uint8Array(16);
    address.set(bytes, 16 - bytes.length);
    return { family: 6, address, text: a.correctForm() };
  }
  throw new RangeError(`not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
}

/** formatIpAddress is the canonical text of 4 or 16 address bytes. */
export function formatIpAddress(bytes: Uint8Array): string {
  return bytes.length === 4 ? Address4.fromUnsignedByteArray([...bytes]).correctForm() : Address6.fromUnsignedByteArray([...bytes]).correctForm();
}

/** prefixOf is the network `c` lies in: its address with the host bits cleared. */
export function prefixOf(c: Cidr): Cidr {
  const address = Uint8Array.from(c.address, (b, i) => {
    const keep = Math.max(0, Math.min(8, c.prefixLength - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return { family: c.family, address, prefixLength: c.prefixLength, text: `${formatIpAddress(address)}/${c.prefixLength}` };
}

/** prefixContains tells whether `address` (of the same family) lies in the network of `prefix`. */
export function prefixContains(prefix: Cidr, address: IpAddress | Cidr): boolean {
  if (address.family !== prefix.family) return false;
  const p = prefixOf(prefix);
  return prefixOf({ ...address, prefixLength: prefix.prefixLength, text: '' }).address.every((b, i) => b === p.address[i]);
}

// The address classes that are never a host's or a next hop's, by RFC 1122 / RFC 4291.
function isUnspecified(a: Uint8Array): boolean {
  return a.every((b) => b === 0);
}
function isMulticast(a: Uint8Array): boolean {
  return a.length === 4 ? a[0]! >= 224 && a[0]! <= 239 : a[0] === 0xff;
}
function isLoopback(a: Uint8Array): boolean {
  return a.length === 4 ? a[0] === 127 : a.subarray(0, 15).every((b) => b === 0) && a[15] === 1;
}
function isLimitedBroadcast(a: Uint8Array): boolean {
  return a.length === 4 && a.every((b) => b === 255);
}
/** isLinkLocal6 tells whether an IPv6 address is in fe80::/10 (meaningful only with an interface). */
export function isLinkLocal6(a: Uint8Array): boolean {
  return a.length === 16 && a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

/** checkIpAddress validates a host address (a peer, a next hop): no prefix length, not unspecified,
 * multicast, loopback or broadcast. */
export function checkIpAddress(value: unknown, where: string): IpAddress {
  let a: IpAddress;
  try {
    a = parseIpAddress(value as string);
  } catch (e) {
    throw invalid(`${where}: ${(e as Error).message}`);
  }
  if (isUnspecified(a.address)) throw invalid(`${where} must not be the unspecified address ${a.text}`);
  if (isMulticast(a.address)) throw invalid(`${where} must be a unicast address; ${a.text} is multicast`);
  if (isLoopback(a.address)) throw invalid(`${where} must not be a loopback address; got ${a.text}`);
  if (isLimitedBroadcast(a.address)) throw invalid(`${where} must not be the broadcast address ${a.text}`);
  return a;
}

/** checkPrefix validates a network prefix: an address with a prefix length and no host bits set. */
export function checkPrefix(value: unknown, where: string): Cidr {
  let c: Cidr;
  try {
    c = parseCidr(value as string);
  } catch (e) {
    throw invalid(`${where}: ${(e as Error).message}`);
  }
  const net = prefixOf(c);
  if (net.text !== c.text) throw invalid(`${where}: ${c.text} has host bits set; the prefix is ${net.text}`);
  return c;
}

/** checkPrefixes validates a list of prefixes (at most 64, each once). */
export function checkPrefixes(value: unknown, where: string): Cidr[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array of prefixes like "10.1.0.0/16"`);
  if (value.length > 64) throw invalid(`${where}: at most 64 prefixes`);
  const seen = new Set<string>();
  return value.map((v, i) => {
    const c = checkPrefix(v, `${where}[${i}]`);
    if (seen.has(c.text)) throw invalid(`${where}[${i}]: ${c.text} is listed twice`);
    seen.add(c.text);
    return c;
  });
}

function checkNetns(value: unknown, where: string): string {
  if (typeof value !== 'string' || !NETNS_RE.test(value)) throw invalid(`${where} must be the name of a network namespace (as in /run/netns); got ${JSON.stringify(value)}`);
  return value;
}

function checkMtu(value: unknown, where: string, addresses: Cidr[]): number {
  const mtu = integer(value, where, MTU_RANGE.min, MTU_RANGE.max);
  if (mtu < IPV6_MIN_MTU && addresses.some((a) => a.family === 6)) throw invalid(`${where} must be at least ${IPV6_MIN_MTU} with IPv6 addresses (RFC 8200); got ${mtu}`);
  return mtu;
}

// checkHostAddresses refuses addresses that cannot be an interface's own: unspecified, multicast, loopback
// or the limited broadcast (either family), and IPv4 addresses that name a whole network or its broadcast
// (prefixes up to /30; /31 and /32 have neither, RFC 3021).
function checkHostAddresses(addresses: Cidr[], where: string): void {
  addresses.forEach((a, i) => {
    const address = a.text.split('/')[0]!;
    if (isUnspecified(a.address)) throw invalid(`${where}[${i}]: ${address} is the unspecified address; an interface needs a unicast host address`);
    if (isMulticast(a.address)) throw invalid(`${where}[${i}]: ${address} is multicast; an interface needs a unicast host address`);
    if (isLoopback(a.address)) throw invalid(`${where}[${i}]: ${address} is a loopback address; an interface needs a unicast host address`);
    if (isLimitedBroadcast(a.address)) throw invalid(`${where}[${i}]: ${address} is the broadcast address; an interface needs a unicast host address`);
    if (a.family !== 4 || a.prefixLength > 30) return;
    const net = prefixOf(a);
    if (net.text === a.text) throw invalid(`${where}[${i}]: ${address} is the network address of ${net.text}; an interface needs a host address`);
    const broadcast = a.address.every((b, j) => {
      const hostMask = 0xff >> Math.max(0, Math.min(8, a.prefixLength - j * 8));
      return (b & hostMask) === hostMask;
    });
    if (broadcast) throw invalid(`${where}[${i}]: ${address} is the broadcast address of ${net.text}; an interface needs a host address`);
  });
}

/** LINK_KINDS are the link kinds this build supports. */
export const LINK_KINDS = ['tun'] as const;

/** linkSpec validates a routed link: a TUN device whose netdev is the host's (or a namespace's) end. */
export function linkSpec(input: unknown, where = 'link'): LinkSpec {
  const o = record(input, where);
  const name = checkName(o.name, `${where}.name`);
  if (o.kind !== 'tun') throw invalid(`${where}.kind must be one of ${LINK_KINDS.map((k) => JSON.stringify(k)).join(', ')}; got ${JSON.stringify(o.kind)}`);
  onlyKeys(o, ['name', 'kind', 'netns', 'addresses', 'peer', 'mtu', 'routes'], where);
  const addresses = o.addresses === undefined ? [] : checkCidrs(o.addresses, `${where}.addresses`);
  checkHostAddresses(addresses, `${where}.addresses`);
  const spec: LinkSpec = { name, kind: 'tun', addresses, routes: o.routes === undefined ? [] : checkPrefixes(o.routes, `${where}.routes`) };
  if (o.netns !== undefined) spec.netns = checkNetns(o.netns, `${where}.netns`);
  if (o.peer !== undefined) {
    const peer = checkIpAddress(o.peer, `${where}.peer`);
    if (!addresses.some((a) => a.family === peer.family))
      throw invalid(`${where}.peer ${peer.text} is IPv${peer.family}, but ${where}.addresses has no IPv${peer.family} address to make point-to-point`);
    if (addresses.some((a) => a.text.split('/')[0] === peer.text)) throw invalid(`${where}.peer ${peer.text} is one of ${where}.addresses; the peer is the other end`);
    spec.peer = peer;
  }
  if (o.mtu !== undefined) spec.mtu = checkMtu(o.mtu, `${where}.mtu`, addresses);
  return spec;
}

/** routerMac is the MAC a router interface gets when none is given: ROUTER_MAC_OUI followed by the first
 * three bytes of sha256(name), so the same name always gets the same MAC (a restart keeps it). */
export function routerMac(name: string): string {
  const h = createHash('sha256').update(name, 'utf8').digest();
  return `${ROUTER_MAC_OUI}:${[...h.subarray(0, 3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** routerInterfaceSpec validates a router interface: on a bridge (the router gets a port of that name on
 * it) or on a link, with at least one address of its own. */
export function routerInterfaceSpec(input: unknown, where = 'routerInterface'): RouterInterfaceSpec {
  const o = record(input, where);
  onlyKeys(o, ['name', 'bridge', 'link', 'addresses', 'mac', 'routerAdvertisements', 'mtu'], where);
  const name = checkName(o.name, `${where}.name`);
  if ((o.bridge === undefined) === (o.link === undefined)) throw invalid(`${where} needs exactly one of "bridge" (a bridge to join) or "link" (a link to route over)`);
  if (o.addresses === undefined) throw invalid(`${where}.addresses is required: the router's own addresses on the interface, like "10.0.0.254/24"`);
  const addresses = checkCidrs(o.addresses, `${where}.addresses`);
  if (addresses.length === 0) throw invalid(`${where}.addresses needs at least one address`);
  checkHostAddresses(addresses, `${where}.addresses`);
  const spec: RouterInterfaceSpec = { name, addresses, mac: routerMac(name), routerAdvertisements: false };
  if (o.bridge !== undefined) {
    spec.bridge = checkName(o.bridge, `${where}.bridge`);
    if (o.mac !== undefined) spec.mac = checkUnicastMac(o.mac, `${where}.mac`);
  } else {
    spec.link = checkName(o.link, `${where}.link`);
    if (o.mac !== undefined) throw invalid(`${where}.mac is only for an interface on a bridge; a link carries IP packets without Ethernet headers`);
  }
  if (o.routerAdvertisements !== undefined) {
    if (typeof o.routerAdvertisements !== 'boolean') throw invalid(`${where}.routerAdvertisements must be true or false`);
    if (o.routerAdvertisements && spec.link !== undefined) throw invalid(`${where}.routerAdvertisements is only for an interface on a bridge`);
    if (o.routerAdvertisements && !addresses.some((a) => a.family === 6))
      throw invalid(`${where}.routerAdvertisements needs an IPv6 address in ${where}.addresses (its prefix is what is advertised)`);
    spec.routerAdvertisements = o.routerAdvertisements;
  }
  if (o.mtu !== undefined) spec.mtu = checkMtu(o.mtu, `${where}.mtu`, addresses);
  return spec;
}

/** routeSpec validates a static route: a prefix, and a next hop (`via`), an interface, or both. */
export function routeSpec(input: unknown, where = 'route'): RouteSpec {
  const o = record(input, where);
  onlyKeys(o, ['prefix', 'via', 'interface'], where);
  const spec: RouteSpec = { prefix: checkPrefix(o.prefix, `${where}.prefix`) };
  if (o.via === undefined && o.interface === undefined) throw invalid(`${where} needs "via" (the next hop's address), "interface" (a router interface to send out of), or both`);
  if (o.interface !== undefined) spec.interface = checkName(o.interface, `${where}.interface`);
  if (o.via !== undefined) {
    const via = checkIpAddress(o.via, `${where}.via`);
    if (via.family !== spec.prefix.family) throw invalid(`${where}.via ${via.text} is IPv${via.family} but ${where}.prefix ${spec.prefix.text} is IPv${spec.prefix.family}`);
    if (isLinkLocal6(via.address) && spec.interface === undefined) throw invalid(`${where}.via ${via.text} is link-local: give ${where}.interface too`);
    spec.via = via;
  }
  return spec;
}

/** Topology is a validated topology file: bridges with their ports, links, router interfaces, routes. */
export interface Topology {
  bridges: { spec: BridgeSpec; ports: PortSpec[] }[];
  links: LinkSpec[];
  routerInterfaces: RouterInterfaceSpec[];
  routes: RouteSpec[];
}

function list(o: Record<string, unknown>, key: string): unknown[] {
  if (o[key] === undefined) return [];
  if (!Array.isArray(o[key])) throw invalid(`topology.${key} must be an array`);
  return o[key] as unknown[];
}

/** topology validates the content of a topology file. Ports, links and router interfaces share one name
 * space; whether a router interface's bridge or link and a route's interface exist is checked when the
 * daemon applies the file (they may be in the saved state already). */
export function topology(input: unknown): Topology {
  const o = record(input, 'topology');
  onlyKeys(o, ['bridges', 'links', 'routerInterfaces', 'routes'], 'topology');
  const names = new Set<string>();
  const interfaceNames = new Map<string, string>();
  const taken = (name: string, where: string, what: string): void => {
    const other = interfaceNames.get(name);
    if (other !== undefined) throw invalid(`${where}.name: ${what} ${name} has the name of ${other} (ports, links and router interfaces share one name space)`);
    interfaceNames.set(name, `${what} ${name}`);
  };
  const bridges = list(o, 'bridges').map((b, i) => {
    const where = `bridges[${i}]`;
    const spec = bridgeSpec(b, where, ['ports']);
    if (names.has(spec.name)) throw invalid(`${where}.name: bridge ${spec.name} is defined twice`);
    names.add(spec.name);
    const rawPorts = (b as Record<string, unknown>).ports ?? [];
    if (!Array.isArray(rawPorts)) throw invalid(`${where}.ports must be an array`);
    const ports = rawPorts.map((p, j) => {
      const ps = portSpec(p, `${where}.ports[${j}]`);
      if (interfaceNames.has(ps.name)) throw invalid(`${where}.ports[${j}].name: port ${ps.name} is defined twice`);
      interfaceNames.set(ps.name, `port ${ps.name}`);
      return ps;
    });
    return { spec, ports };
  });
  const links = list(o, 'links').map((l, i) => {
    const spec = linkSpec(l, `links[${i}]`);
    taken(spec.name, `links[${i}]`, 'link');
    return spec;
  });
  const routerInterfaces = list(o, 'routerInterfaces').map((r, i) => {
    const spec = routerInterfaceSpec(r, `routerInterfaces[${i}]`);
    taken(spec.name, `routerInterfaces[${i}]`, 'router interface');
    return spec;
  });
  const prefixes = new Set<string>();
  const routes = list(o, 'routes').map((r, i) => {
    const spec = routeSpec(r, `routes[${i}]`);
    if (prefixes.has(spec.prefix.text)) throw invalid(`routes[${i}].prefix: a route for ${spec.prefix.text} is defined twice`);
    prefixes.add(spec.prefix.text);
    return spec;
  });
  return { bridges, links, routerInterfaces, routes };
}
