import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TwError } from '../../src/errors.js';
import { bridgeSpec, portSpec, topology } from '../../src/daemon/specs.js';

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
  assert.deepEqual(p.addresses.map((a) => a.text), ['10.0.0.1/24', 'fd00::1/64']);
  assert.equal(p.mtu, 9000);
  assert.equal(p.up, false);
  rejects(() => portSpec({ name: 'h1', kind: 'vxlan' }), /kind must be one of "tap", "netdev"; got "vxlan"/);
  rejects(() => portSpec({ name: 'h1' }), /kind/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mac: '01:00:00:00:00:01' }), /unicast/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mac: '00:00:00:00:00:00' }), /must not be 00/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mac: '02:00:00:00:00' }), /MAC address/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', addresses: ['10.0.0.1'] }), /addresses\[0\]/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', addresses: ['10.0.0.1/24', '10.0.0.1/24'] }), /listed twice/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', addresses: '10.0.0.1/24' }), /array/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mtu: 67 }), /mtu/);
  rejects(() => portSpec({ name: 'h1', kind: 'tap', mtu: 65522 }), /mtu/);
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
  assert.deepEqual(topology({}), { bridges: [] });
  rejects(() => topology({ bridges: [{ name: 'br0' }, { name: 'br0' }] }), /defined twice/);
  rejects(() => topology({ bridges: [{ name: 'br0', ports: [{ name: 'a', kind: 'tap' }] }, { name: 'br1', ports: [{ name: 'a', kind: 'tap' }] }] }), /port a is defined twice/);
  rejects(() => topology({ bridges: [{ name: 'br0', ports: [{ name: 'a', kind: 'tap', mtu: 1 }] }] }), /bridges\[0\]\.ports\[0\]\.mtu/);
  rejects(() => topology({ routers: [] }), /unknown field/);
});
