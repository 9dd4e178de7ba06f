import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TwError } from '../../src/errors.js';
import { DesiredState } from '../../src/daemon/desired-state.js';
import { NAME_RE, bridgeSpec, linkSpec, parseIpAddress, portSpec, prefixContains, prefixOf, routeSpec, routerInterfaceSpec, routerMac, topology, vmMac } from '../../src/daemon/specs.js';
import { PORT_NAME_RE } from '../../src/ports/fd-server.js';
import { parseCidr } from '../../src/wire/cidr.js';

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof TwError && e.code === 'TW_ERR_VALIDATION' && pattern.test(e.detail));
}

test('specs: bridges get defaults and are checked field by field', () => {
  assert.deepEqual(bridgeSpec({ name: 'br0' }), { name: 'br0', agingSeconds: 300, fdbMax: 8192 });
  assert.deepEqual(bridgeSpec({ name: 'lab.net-1_a', agingSeconds: 10, fdbMax: 1 }), { name: 'lab.net-1_a', agingSeconds: 10, fdbMax: 1 });
  rejects(() => bridgeSpec({ name: 'a-name-of-16-byte' }), /bridge\.name/);
  rejects(() => bridgeSpec({ name: '-br' }), /bridge\.name/);
  rejects(() => bridgeSpec({ name: 'br/0' }), /bridge\.name/);
  rejects(() => bridgeSpec({ name: 'br0', agingSeconds: 9 }), /agingSeconds.*10 to 1000000/);
  rejects(() => bridgeSpec({ name: 'br0', agingSeconds: 1_000_001 }), /agingSeconds/);
  rejects(() => bridgeSpec({ name: 'br0', fdbMax: 0 }), /fdbMax/);
  rejects(() => bridgeSpec({ name: 'br0', colour: 'red' }), /unknown field "colour"/);
  rejects(() => bridgeSpec('br0'), /must be an object/);
});

test('specs: tap ports are checked field by field', () => {
  assert.deepEqual(portSpec({ name: 'h1', kind: 'tap' }), { name: 'h1', kind: 'tap', addresses: [], up: true });
  const p = portSpec({ name: 'h1', kind: 'tap', netns: 'lab-h1', addresses: ['10.0.0.1/24', 'fd00::1/64'], mac: '02:AA:00:00:00:01', mtu: 9000, up: false });
  assert.ok(p.kind === 'tap');
  assert.equal(p.mac, '02:aa:00:00:00:01');
  assert.deepEqual(
    p.addresses.map((a) => a.text),
    ['10.0.0.1/24', 'fd00::1/64'],
  );
  assert.equal(p.mtu, 9000);
  assert.equal(p.up, false);
  rejects(() => portSpec({ name: 'h1', kind: 'vxlan' }), /kind must be one of "tap", "vm", "netdev", "socket"; got "vxlan"/);
  rejects(() => portSpec({ name: 'h1' }), /kind/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mac: '01:00:00:00:00:01' }), /unicast/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mac: '00:00:00:00:00:00' }), /must not be 00/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mac: '02:00:00:00:00' }), /MAC address/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', addresses: ['10.0.0.1'] }), /addresses\[0\]/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', addresses: ['10.0.0.1/24', '10.0.0.1/24'] }), /listed twice/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', addresses: '10.0.0.1/24' }), /array/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mtu: 67 }), /mtu/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mtu: 65522 }), /mtu/);
  // The kernel refuses IPv6 on a device below 1280 (RFC 8200): refused here, not as a TW_ERR_DEVICE later.
  for (const mtu of [68, 1000, 1279]) rejects(() => portSpec({ name: 'h1', kind: 'tap', addresses: ['10.0.0.1/24', 'fd00::1/64'], mtu }), /port\.mtu must be at least 1280 with IPv6/);
  assert.equal((portSpec({ name: 'h1', kind: 'tap', addresses: ['10.0.0.1/24'], mtu: 68 }) as { mtu?: number }).mtu, 68);
  assert.equal((portSpec({ name: 'h1', kind: 'tap', addresses: ['fd00::1/64'], mtu: 1280 }) as { mtu?: number }).mtu, 1280);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', netns: '../etc' }), /netns/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', up: 'yes' }), /up/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', ifname: 'x' }), /unknown field "ifname"/);
});

test('specs: netdev ports name an existing interface and nothing a TAP has', () => {
  assert.deepEqual(portSpec({ name: 'c1', kind: 'netdev', ifname: 'veth-c1' }), { name: 'c1', kind: 'netdev', ifname: 'veth-c1' });
  rejects(() => portSpec({ name: 'c1', kind: 'netdev' }), /ifname/);
  rejects(() => portSpec({ name: 'c1', kind: 'netdev', ifname: 'a/b' }), /ifname/);
  rejects(() => portSpec({ name: 'c1', kind: 'netdev', ifname: 'veth0', netns: 'x' }), /unknown field "netns"/);
  rejects(() => portSpec({ name: 'c1', kind: 'tap', ifname: 'veth0' }), /unknown field "ifname"/);
});

test('specs: topology files', () => {
  const t = topology({ bridges: [{ name: 'br0', ports: [{ name: 'a', kind: 'tap' }] }, { name: 'br1' }] });
  assert.equal(t.bridges.length, 2);
  assert.equal(t.bridges[0]!.ports[0]!.name, 'a');
  assert.deepEqual(topology({}), { bridges: [], links: [], routerInterfaces: [], routes: [] });
  rejects(() => topology({ bridges: [{ name: 'br0' }, { name: 'br0' }] }), /defined twice/);
  rejects(
    () =>
      topology({
        bridges: [
          { name: 'br0', ports: [{ name: 'a', kind: 'tap' }] },
          { name: 'br1', ports: [{ name: 'a', kind: 'tap' }] },
        ],
      }),
    /port a is defined twice/,
  );
  rejects(() => topology({ bridges: [{ name: 'br0', ports: [{ name: 'a', kind: 'tap', mtu: 1 }] }] }), /bridges\[0\]\.ports\[0\]\.mtu/);
  rejects(() => topology({ routers: [] }), /unknown field/);
});

test('specs: addresses without a prefix length', () => {
  assert.deepEqual(parseIpAddress('10.0.0.1'), { family: 4, address: Uint8Array.from([10, 0, 0, 1]), text: '10.0.0.1' });
  const v6 = parseIpAddress('FD00:0:0::1');
  assert.equal(v6.family, 6);
  assert.equal(v6.text, 'fd00::1');
  assert.equal(v6.address.length, 16);
  assert.equal(v6.address[15], 1);
  for (const bad of ['10.0.0.1/24', '10.0.0', '10.0.0.256', 'fe80::1%eth0', 'x', '']) assert.throws(() => parseIpAddress(bad), RangeError, bad);
  assert.equal(prefixOf(parseCidr('10.1.2.3/16')).text, '10.1.0.0/16');
  assert.equal(prefixOf(parseCidr('fd00:1:2:3::9/49')).text, 'fd00:1:2::/49');
  assert.equal(prefixOf(parseCidr('10.1.2.3/0')).text, '0.0.0.0/0');
  assert.ok(prefixContains(parseCidr('10.1.0.0/16'), parseIpAddress('10.1.255.3')));
  assert.ok(!prefixContains(parseCidr('10.1.0.0/16'), parseIpAddress('10.2.0.1')));
  assert.ok(!prefixContains(parseCidr('10.1.0.0/16'), parseIpAddress('fd00::1')));
});

test('specs: links are checked field by field', () => {
  assert.deepEqual(linkSpec({ name: 'tun0', kind: 'tun' }), { name: 'tun0', kind: 'tun', addresses: [], routes: [] });
  const l = linkSpec({ name: 'up1', kind: 'tun', netns: 'u', addresses: ['10.9.0.1/30', 'FD09::1/64'], peer: '10.9.0.2', mtu: 1400, routes: ['10.0.0.0/8', 'fd00::/16'] });
  assert.deepEqual(
    l.addresses.map((a) => a.text),
    ['10.9.0.1/30', 'fd09::1/64'],
  );
  assert.deepEqual(
    l.routes.map((r) => r.text),
    ['10.0.0.0/8', 'fd00::/16'],
  );
  assert.equal(l.peer?.text, '10.9.0.2');
  assert.equal(l.netns, 'u');
  assert.equal(l.mtu, 1400);
  rejects(() => linkSpec({ name: 'tun0' }), /link\.kind must be one of "tun"; got undefined/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tap' }), /link\.kind/);
  rejects(() => linkSpec({ name: 'a-name-of-16-byte', kind: 'tun' }), /link\.name/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', mac: '02:00:00:00:00:01' }), /unknown field "mac"/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', netns: '../x' }), /link\.netns/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1'] }), /link\.addresses\[0\]/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.0/24'] }), /network address of 10\.9\.0\.0\/24/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.255/24'] }), /broadcast address of 10\.9\.0\.0\/24/);
  assert.equal(linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.0/31', '10.9.1.0/32'] }).addresses.length, 2, '/31 and /32 have no network or broadcast address');
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'], peer: '10.9.0.2/30' }), /link\.peer: an address without a prefix length/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'], peer: 'fd00::2' }), /link\.peer fd00::2 is IPv6, but link\.addresses has no IPv6 address/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'], peer: '10.9.0.1' }), /is one of link\.addresses/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'], peer: '224.0.0.1' }), /multicast/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'], peer: '0.0.0.0' }), /unspecified/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', mtu: 67 }), /link\.mtu must be an integer from 68 to 65521/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', mtu: 1000, addresses: ['fd00::1/64'] }), /link\.mtu must be at least 1280 with IPv6/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', routes: ['10.1.2.3/16'] }), /link\.routes\[0\]: 10\.1\.2\.3\/16 has host bits set; the prefix is 10\.1\.0\.0\/16/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', routes: ['10.0.0.0/8', '10.0.0.0/8'] }), /routes\[1\]: 10\.0\.0\.0\/8 is listed twice/);
  rejects(() => linkSpec({ name: 'tun0', kind: 'tun', routes: '10.0.0.0/8' }), /link\.routes must be an array/);
});

test('specs: router interfaces are on a bridge or a link, with addresses, a derived MAC and RAs only on bridges', () => {
  const r = routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24', 'fd00::fe/64'], routerAdvertisements: true, mtu: 9000 });
  assert.equal(r.bridge, 'br0');
  assert.equal(r.link, undefined);
  assert.equal(r.mac, routerMac('r0'));
  assert.equal(r.routerAdvertisements, true);
  assert.equal(r.mtu, 9000);
  // 02:74:77 and the first 3 bytes of sha256("r0"): the same name always gets the same MAC.
  assert.match(routerMac('r0'), /^02:74:77(:[0-9a-f]{2}){3}$/);
  assert.equal(routerMac('r0'), '02:74:77:dd:19:16'); // printf r0 | sha256sum: dd1916...
  assert.notEqual(routerMac('r0'), routerMac('r1'));
  assert.equal(routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'], mac: '02:AA:00:00:00:01' }).mac, '02:aa:00:00:00:01');
  const l = routerInterfaceSpec({ name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'] });
  assert.equal(l.link, 'tun0');
  assert.equal(l.routerAdvertisements, false);
  const w = 'routerInterface';
  rejects(() => routerInterfaceSpec({ name: 'r0', addresses: ['10.0.0.254/24'] }), new RegExp(`${w} needs exactly one of "bridge".*or "link"`));
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', link: 'tun0', addresses: ['10.0.0.254/24'] }), /exactly one of/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0' }), /routerInterface\.addresses is required/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: [] }), /routerInterface\.addresses needs at least one address/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.0/24'] }), /network address/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br 0', addresses: ['10.0.0.254/24'] }), /routerInterface\.bridge/);
  rejects(() => routerInterfaceSpec({ name: 'r0', link: 'tun0', addresses: ['10.9.0.2/30'], mac: '02:00:00:00:00:01' }), /routerInterface\.mac is only for an interface on a bridge/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'], mac: '01:00:00:00:00:01' }), /unicast/);
  rejects(() => routerInterfaceSpec({ name: 'r0', link: 'tun0', addresses: ['fd00::2/64'], routerAdvertisements: true }), /routerAdvertisements is only for an interface on a bridge/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'], routerAdvertisements: true }), /routerAdvertisements needs an IPv6 address/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'], routerAdvertisements: 'yes' }), /true or false/);
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['fd00::fe/64'], mtu: 1279 }), /at least 1280/);
  // A router's own address is a unicast host address: not multicast, loopback, unspecified or broadcast.
  for (const [address, why] of [
    ['224.0.0.1/24', /224\.0\.0\.1 is multicast/],
    ['239.1.2.3/8', /239\.1\.2\.3 is multicast/],
    ['127.0.0.1/8', /127\.0\.0\.1 is a loopback address/],
    ['0.0.0.0/8', /0\.0\.0\.0 is the unspecified address/],
    ['0.0.0.0/0', /0\.0\.0\.0 is the unspecified address/],
    ['255.255.255.255/32', /255\.255\.255\.255 is the broadcast address/],
    ['ff02::1/64', /ff02::1 is multicast/],
    ['::1/128', /::1 is a loopback address/],
    ['::/64', /:: is the unspecified address/],
  ] as const) {
    rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24', address] }), new RegExp(`routerInterface\\.addresses\\[1\\]: ${why.source}`));
    rejects(() => linkSpec({ name: 'tun0', kind: 'tun', addresses: [address] }), new RegExp(`link\\.addresses\\[0\\]: ${why.source}`));
  }
  rejects(() => routerInterfaceSpec({ name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'], vlan: 5 }), /unknown field "vlan"/);
});

test('specs: routes have a prefix without host bits and a next hop of its family, an interface, or both', () => {
  const r = routeSpec({ prefix: '10.2.0.0/16', via: '10.1.0.254' });
  assert.equal(r.prefix.text, '10.2.0.0/16');
  assert.equal(r.via?.text, '10.1.0.254');
  assert.equal(routeSpec({ prefix: '0.0.0.0/0', interface: 'ru' }).interface, 'ru');
  assert.equal(routeSpec({ prefix: 'FD00:2:0::/48', via: 'fe80::1', interface: 'r0' }).prefix.text, 'fd00:2::/48');
  rejects(() => routeSpec({ prefix: '10.1.2.3/16', via: '10.0.0.1' }), /route\.prefix: 10\.1\.2\.3\/16 has host bits set; the prefix is 10\.1\.0\.0\/16/);
  rejects(() => routeSpec({ prefix: '10.1.0.0', via: '10.0.0.1' }), /route\.prefix: not an address with a prefix length/);
  rejects(() => routeSpec({ prefix: '10.1.0.0/16' }), /route needs "via".*"interface".*or both/);
  rejects(() => routeSpec({ prefix: '10.1.0.0/16', via: 'fd00::1' }), /route\.via fd00::1 is IPv6 but route\.prefix 10\.1\.0\.0\/16 is IPv4/);
  rejects(() => routeSpec({ prefix: 'fd00:2::/48', via: 'fe80::1' }), /link-local: give route\.interface too/);
  rejects(() => routeSpec({ prefix: '10.1.0.0/16', via: '10.0.0.1/24' }), /route\.via: an address without a prefix length/);
  rejects(() => routeSpec({ prefix: '10.1.0.0/16', via: '127.0.0.1' }), /loopback/);
  rejects(() => routeSpec({ prefix: '10.1.0.0/16', via: '255.255.255.255' }), /broadcast/);
  rejects(() => routeSpec({ prefix: '10.1.0.0/16', interface: 'bad name' }), /route\.interface/);
  rejects(() => routeSpec({ prefix: '10.1.0.0/16', via: '10.0.0.1', metric: 5 }), /unknown field "metric"/);
});

test('specs: topology files with links, router interfaces and routes', () => {
  const t = topology({
    bridges: [{ name: 'br0', ports: [{ name: 'h1', kind: 'tap' }] }],
    links: [{ name: 'tun0', kind: 'tun', addresses: ['10.9.0.1/30'] }],
    routerInterfaces: [
      { name: 'r0', bridge: 'br0', addresses: ['10.0.0.254/24'] },
      { name: 'ru', link: 'tun0', addresses: ['10.9.0.2/30'] },
    ],
    routes: [{ prefix: '10.100.0.0/16', via: '10.9.0.1' }],
  });
  assert.equal(t.links[0]!.name, 'tun0');
  assert.deepEqual(
    t.routerInterfaces.map((r) => r.name),
    ['r0', 'ru'],
  );
  assert.equal(t.routes[0]!.prefix.text, '10.100.0.0/16');
  rejects(() => topology({ links: [{ name: 'tun0', kind: 'tun', mtu: 1 }] }), /links\[0\]\.mtu/);
  rejects(() => topology({ links: {} }), /topology\.links must be an array/);
  rejects(() => topology({ bridges: [{ name: 'br0', ports: [{ name: 'x', kind: 'tap' }] }], links: [{ name: 'x', kind: 'tun' }] }), /links\[0\]\.name: link x has the name of port x/);
  rejects(() => topology({ links: [{ name: 'x', kind: 'tun' }], routerInterfaces: [{ name: 'x', link: 'x', addresses: ['10.0.0.1/24'] }] }), /router interface x has the name of link x/);
  rejects(
    () =>
      topology({
        routes: [
          { prefix: '10.0.0.0/8', interface: 'a' },
          { prefix: '10.0.0.0/8', interface: 'b' },
        ],
      }),
    /routes\[1\]\.prefix: a route for 10\.0\.0\.0\/8 is defined twice/,
  );
  rejects(() => topology({ routerInterfaces: [{ name: 'r0', addresses: ['10.0.0.254/24'] }] }), /routerInterfaces\[0\] needs exactly one of/);
});

test('specs: vm ports need an owner or a group, by id or name, and suggest a guest MAC derived from the name', () => {
  const v = portSpec({ name: 'vm1', kind: 'vm', owner: 'alice' });
  assert.deepEqual(v, { name: 'vm1', kind: 'vm', owner: 'alice', mac: vmMac('vm1') });
  assert.match(vmMac('vm1'), /^52:54:00(:[0-9a-f]{2}){3}$/);
  assert.notEqual(vmMac('vm1'), vmMac('vm2'));
  assert.deepEqual(portSpec({ name: 'vm1', kind: 'vm', group: 107, mac: '52:54:00:AA:bb:01', mtu: 9000 }), {
    name: 'vm1',
    kind: 'vm',
    group: 107,
    mac: '52:54:00:aa:bb:01',
    mtu: 9000,
  });
  rejects(() => portSpec({ name: 'vm1', kind: 'vm' }), /needs an owner or a group/);
  rejects(() => portSpec({ name: 'vm1', kind: 'vm', owner: -1 }), /owner must be an integer from 0 to 4294967294; got -1/);
  rejects(() => portSpec({ name: 'vm1', kind: 'vm', owner: 4294967295 }), /owner/);
  rejects(() => portSpec({ name: 'vm1', kind: 'vm', group: 'a b' }), /group must be a group name/);
  rejects(() => portSpec({ name: 'vm1', kind: 'vm', owner: 0, mac: '01:00:00:00:00:01' }), /unicast/);
  rejects(() => portSpec({ name: 'vm1', kind: 'vm', owner: 0, netns: 'x' }), /unknown field "netns"/);
});

test("specs: the fd server checks port names by the daemon's rule", () => {
  assert.equal(PORT_NAME_RE.source, NAME_RE.source);
  assert.equal(PORT_NAME_RE.flags, NAME_RE.flags);
});

// The rules between objects of DesiredState against a plain model: which names are taken, which bridge or link
// has a router interface. Every operation either returns a new state that matches the model, or throws a
// TwError; either way the state it started from is left as it was.
test('desired state: the name space and the dependencies between objects, against a plain model', () => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  const name = fc.constantFrom(...names);
  const op = fc.oneof(
    fc.record({ op: fc.constant('addBridge' as const), name }),
    fc.record({ op: fc.constant('removeBridge' as const), name, force: fc.boolean() }),
    fc.record({ op: fc.constant('addPort' as const), bridge: name, name }),
    fc.record({ op: fc.constant('removePort' as const), bridge: name, name }),
    fc.record({ op: fc.constant('addLink' as const), name }),
    fc.record({ op: fc.constant('removeLink' as const), name }),
    fc.record({ op: fc.constant('addInterface' as const), name, onBridge: fc.boolean(), target: name }),
    fc.record({ op: fc.constant('removeInterface' as const), name }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      // The model: bridges with their ports, links, router interfaces with what they are on.
      const bridges = new Map<string, Set<string>>();
      const links = new Set<string>();
      const interfaces = new Map<string, { bridge?: string; link?: string }>();
      const taken = (n: string) => [...bridges.values()].some((ports) => ports.has(n)) || links.has(n) || interfaces.has(n);
      const hasInterface = (on: { bridge?: string; link?: string }) => [...interfaces.values()].some((r) => (on.bridge !== undefined ? r.bridge === on.bridge : r.link === on.link));
      let state = DesiredState.EMPTY;
      for (const o of ops) {
        const before = JSON.stringify(state.toSaved());
        let ok: boolean;
        let next: () => DesiredState;
        switch (o.op) {
          case 'addBridge':
            ok = !bridges.has(o.name);
            next = () => state.addBridge(bridgeSpec({ name: o.name }));
            if (ok) bridges.set(o.name, new Set());
            break;
          case 'removeBridge':
            ok = bridges.has(o.name) && !hasInterface({ bridge: o.name }) && (o.force || bridges.get(o.name)!.size === 0);
            next = () => state.removeBridge(o.name, o.force);
            if (ok) bridges.delete(o.name);
            break;
          case 'addPort':
            ok = bridges.has(o.bridge) && !taken(o.name);
            next = () => state.addPort(o.bridge, portSpec({ name: o.name, kind: 'tap' }));
            if (ok) bridges.get(o.bridge)!.add(o.name);
            break;
          case 'removePort':
            ok = bridges.get(o.bridge)?.has(o.name) === true;
            next = () => state.removePort(o.bridge, o.name);
            if (ok) bridges.get(o.bridge)!.delete(o.name);
            break;
          case 'addLink':
            ok = !taken(o.name);
            next = () => state.addLink(linkSpec({ name: o.name, kind: 'tun' }));
            if (ok) links.add(o.name);
            break;
          case 'removeLink':
            ok = links.has(o.name) && !hasInterface({ link: o.name });
            next = () => state.removeLink(o.name);
            if (ok) links.delete(o.name);
            break;
          case 'addInterface': {
            const on = o.onBridge ? { bridge: o.target } : { link: o.target };
            ok = !taken(o.name) && (o.onBridge ? bridges.has(o.target) : links.has(o.target)) && !hasInterface(on);
            // Each name has its own network, so that addresses never clash here.
            const address = `10.${names.indexOf(o.name)}.0.1/24`;
            next = () => state.addRouterInterface(routerInterfaceSpec({ name: o.name, ...on, addresses: [address] }));
            if (ok) interfaces.set(o.name, on);
            break;
          }
          case 'removeInterface':
            ok = interfaces.has(o.name);
            next = () => state.removeRouterInterface(o.name);
            if (ok) interfaces.delete(o.name);
            break;
        }
        const old = state;
        if (ok) state = next();
        else assert.throws(next, (e: unknown) => e instanceof TwError, `${JSON.stringify(o)} is refused`);
        assert.equal(JSON.stringify(old.toSaved()), before, `${JSON.stringify(o)} left the state it started from as it was`);
        const saved = state.toSaved();
        assert.deepEqual(new Map(saved.bridges.map((b) => [b.name, new Set(b.ports.map((p) => p.name))])), bridges, JSON.stringify(o));
        assert.deepEqual(new Set(saved.links!.map((l) => l.name)), links);
        assert.deepEqual(new Map(saved.routerInterfaces!.map((r) => [r.name, r.bridge !== undefined ? { bridge: r.bridge } : { link: r.link }])), interfaces);
      }
    }),
    { numRuns: 300 },
  );
});

test('desired state: a change returns a new state and never changes the one it started from', () => {
  const s0 = DesiredState.EMPTY.addBridge(bridgeSpec({ name: 'br0' })).addPort('br0', portSpec({ name: 'p1', kind: 'tap' }));
  const saved0 = JSON.stringify(s0.toSaved());
  const s1 = s0
    .pinMac('br0', '02:00:00:00:00:01', 'p1')
    .updateBridge('br0', { agingSeconds: 60 })
    .addPort('br0', portSpec({ name: 'p2', kind: 'tap' }));
  const s2 = s1.removePort('br0', 'p1');
  assert.equal(JSON.stringify(s0.toSaved()), saved0);
  assert.deepEqual(s1.bridge('br0').fdb, [{ mac: '02:00:00:00:00:01', port: 'p1' }]);
  assert.deepEqual(s2.bridge('br0').fdb, [], 'the pins of a removed port go with it');
  assert.deepEqual(
    s2.bridge('br0').ports.map((p) => p.name),
    ['p2'],
  );
  assert.equal(s2.bridge('br0').agingSeconds, 60);
  assert.throws(() => s2.pinMac('br0', '02:00:00:00:00:02', 'p1'), /bridge br0 has no port p1/);
});

test('desired state: routes go out of the interface whose connected network holds the next hop, the longest first', () => {
  let s = DesiredState.EMPTY.addBridge(bridgeSpec({ name: 'br0' })).addBridge(bridgeSpec({ name: 'br1' }));
  s = s.addRouterInterface(routerInterfaceSpec({ name: 'wide', bridge: 'br0', addresses: ['10.0.0.1/8'] }));
  s = s.addRouterInterface(routerInterfaceSpec({ name: 'narrow', bridge: 'br1', addresses: ['10.1.0.1/16', 'fd00:1::1/64'] }));
  assert.equal(s.addRoute(routeSpec({ prefix: '192.168.0.0/16', via: '10.1.2.3' })).egress, 'narrow');
  assert.equal(s.addRoute(routeSpec({ prefix: '192.168.0.0/16', via: '10.2.0.9' })).egress, 'wide');
  assert.equal(s.addRoute(routeSpec({ prefix: 'fd00:9::/64', via: 'fd00:1::9' })).egress, 'narrow');
  assert.throws(() => s.addRoute(routeSpec({ prefix: '192.168.0.0/16', via: '172.16.0.1' })), /not on a connected network of any router interface/);
  assert.throws(() => s.addRoute(routeSpec({ prefix: '10.1.0.0/16', via: '10.2.0.9' })), /connected network of router interface narrow/);
  assert.throws(() => s.addRoute(routeSpec({ prefix: '192.168.0.0/16', via: '10.1.0.1' })), /the router's own address/);
  const withRoute = s.addRoute(routeSpec({ prefix: '192.168.0.0/16', via: '10.1.2.3' })).state;
  assert.throws(
    () => withRoute.removeRouterInterface('narrow'),
    (e: unknown) => e instanceof TwError && e.code === 'TW_ERR_IN_USE',
  );
  assert.throws(
    () => withRoute.removeRoute(parseCidr('10.1.0.0/16')),
    (e: unknown) => e instanceof TwError && e.code === 'TW_ERR_IN_USE',
  );
  assert.equal(withRoute.removeRoute(parseCidr('192.168.0.0/16')).removeRouterInterface('narrow').interfaces.has('narrow'), false);
});
