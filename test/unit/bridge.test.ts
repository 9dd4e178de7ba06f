import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bridge } from '../../src/bridge/bridge.js';
import { DropReason } from '../../src/ports/drop-reason.js';
import { SwitchPort } from '../../src/ports/port.js';
import { DELIVER, Verdict, reasonOf } from '../../src/ports/verdict.js';
import { BROADCAST, ETHERTYPE, emitEthernet } from '../../src/wire/ethernet.js';

/** Drops collects the drop entries of verdicts, in order. */
class Drops {
  readonly seen: [number, DropReason][] = [];
}

/** decide runs one forwarding decision and returns the egress ports, in verdict order; drops go to `drops`. */
function decide(bridge: Bridge, ingress: SwitchPort, f: Uint8Array, gsoSize: number, now: number, drops: Drops): number[] {
  const v = new Verdict(64);
  bridge.forward(ingress, f, 0, f.length, gsoSize, now, v);
  const out: number[] = [];
  for (let k = 0; k < v.length; k++) {
    if (v.reasons[k] === DELIVER) out.push(v.ports[k]!);
    else drops.seen.push([v.ports[k]!, reasonOf(v.reasons[k]!)]);
  }
  return out;
}

function ports(n: number, mtu = 1500): SwitchPort[] {
  return Array.from({ length: n }, (_, i) => ({ index: i + 1, name: `p${i + 1}`, mtu, up: true }));
}

function frame(dst: number, src: number, payload = 46, etherType: number = ETHERTYPE.IPV4): Uint8Array {
  return emitEthernet({ dst, src, etherType }, new Uint8Array(payload));
}

function setup(n = 3, mtu = 1500) {
  const bridge = new Bridge('br0');
  const ps = ports(n, mtu);
  ps.forEach((p) => bridge.addPort(p));
  const drops = new Drops();
  const send = (ingress: number, f: Uint8Array, gsoSize = 0, now = 0): number[] => decide(bridge, ps[ingress - 1]!, f, gsoSize, now, drops).sort((a, b) => a - b);
  return { bridge, ps, drops, send };
}

const H1 = 0x02_00_00_00_00_01;
const H2 = 0x02_00_00_00_00_02;
const H3 = 0x02_00_00_00_00_03;

test('bridge: unknown unicast and broadcast flood to all but the ingress; known unicast goes to one port', () => {
  const { send, drops, bridge } = setup(3);
  assert.deepEqual(send(1, frame(H2, H1)), [2, 3], 'H2 unknown: flood');
  assert.deepEqual(send(2, frame(H1, H2)), [1], 'H1 learned on port 1');
  assert.deepEqual(send(1, frame(H2, H1)), [2], 'H2 learned on port 2: port 3 sees nothing');
  assert.deepEqual(send(3, frame(BROADCAST, H3)), [1, 2]);
  assert.deepEqual(send(1, frame(0x33_33_00_00_00_01, H1)), [2, 3], 'IPv6 all-nodes multicast floods');
  assert.deepEqual(drops.seen, []);
  assert.equal(bridge.stats.floods, 3);
});

test('bridge: a MAC seen on a new port moves and traffic follows it', () => {
  const { send } = setup(3);
  send(1, frame(BROADCAST, H1));
  assert.deepEqual(send(2, frame(H1, H2)), [1]);
  send(3, frame(BROADCAST, H1)); // H1 moved to port 3
  assert.deepEqual(send(2, frame(H1, H2)), [3]);
});

test('bridge: never relays the reserved group, never learns or relays a group or zero source', () => {
  const { send, drops, bridge } = setup(3);
  for (let last = 0; last <= 0x0f; last++) assert.deepEqual(send(1, frame(0x01_80_c2_00_00_00 + last, H1)), []);
  assert.deepEqual(send(2, frame(BROADCAST, 0x01_00_5e_00_00_01)), []);
  assert.deepEqual(send(2, frame(H1, 0)), []);
  assert.equal(bridge.fdb.size, 0, 'dropped frames teach nothing');
  assert.equal(drops.seen.filter(([p, r]) => p === 1 && r === 'reserved_group').length, 16);
  assert.deepEqual(drops.seen.slice(16), [
    [2, 'group_source'],
    [2, 'zero_source'],
  ]);
  assert.deepEqual(send(1, frame(0x01_80_c2_00_00_10, H1)), [2, 3], '01:80:c2:00:00:10 is not reserved');
});

test('bridge: a destination learned on the ingress port is dropped as same_port', () => {
  const { send, drops } = setup(2);
  send(1, frame(BROADCAST, H1));
  send(1, frame(BROADCAST, H3));
  assert.deepEqual(send(1, frame(H3, H1)), []);
  assert.deepEqual(drops.seen, [[1, 'same_port']]);
});

test('bridge: frames above the egress MTU are dropped per egress port; jumbo and GSO frames pass', () => {
  const bridge = new Bridge('br0');
  const small: SwitchPort = { index: 1, name: 'a', mtu: 1500, up: true };
  const jumbo1: SwitchPort = { index: 2, name: 'b', mtu: 9000, up: true };
  const jumbo2: SwitchPort = { index: 3, name: 'c', mtu: 9000, up: true };
  [small, jumbo1, jumbo2].forEach((p) => bridge.addPort(p));
  const drops = new Drops();
  const f = frame(BROADCAST, H2, 9000);
  assert.equal(f.length, 9014);
  assert.deepEqual(decide(bridge, jumbo1, f, 0, 0, drops), [3], 'a 9014-byte frame crosses between MTU 9000 ports');
  assert.deepEqual(drops.seen, [[1, 'too_big']]);
  const f2 = frame(BROADCAST, H2, 9001);
  assert.equal(decide(bridge, jumbo1, f2, 0, 0, drops).length, 0);
  // A tagged frame may be 4 bytes longer.
  const tagged = frame(BROADCAST, H2, 1504, ETHERTYPE.VLAN);
  assert.equal(decide(bridge, jumbo1, tagged, 0, 0, drops).length, 2);
  // A 64 KiB GSO frame with 1448-byte segments fits MTU 1500; with 8948-byte segments it does not.
  const gso = frame(BROADCAST, H2, 65000);
  assert.equal(decide(bridge, jumbo1, gso, 1448, 0, drops).length, 2);
  assert.deepEqual(decide(bridge, jumbo1, gso, 8948, 0, drops), [3]);
});

test('bridge: ports that are down get no floods; unicast to one is counted as port_down', () => {
  const { send, ps, drops } = setup(3);
  send(2, frame(BROADCAST, H2));
  ps[1]!.up = false;
  assert.deepEqual(send(1, frame(BROADCAST, H1)), [3]);
  assert.deepEqual(send(1, frame(H2, H1)), []);
  assert.deepEqual(drops.seen, [[2, 'port_down']]);
});

test('bridge: a lone port floods into nothing and counts no_egress', () => {
  const { send, drops } = setup(1);
  assert.deepEqual(send(1, frame(BROADCAST, H1)), []);
  assert.deepEqual(drops.seen, [[1, 'no_egress']]);
});

test('bridge: removing a port forgets what was learned on it', () => {
  const { bridge, send } = setup(3);
  send(2, frame(BROADCAST, H2));
  bridge.removePort(2);
  assert.equal(bridge.fdb.lookup(H2), -1);
  assert.deepEqual(send(1, frame(H2, H1)), [3]);
});

// The model: a plain Map of MAC -> [port, last seen] with the aging rule, and the forwarding rules written
// as directly as possible. It takes nothing from the code under test: group and reserved addresses are
// spelled out here.
const AGING_MS = 10_000;

function modelIsGroup(mac: number): boolean {
  return Math.floor(mac / 2 ** 40) % 2 === 1;
}

function modelForward(table: Map<number, { port: number; seen: number }>, nPorts: number, ingress: number, dst: number, src: number, now: number): number[] {
  if (modelIsGroup(src) || src === 0) return [];
  if (dst >= 0x01_80_c2_00_00_00 && dst <= 0x01_80_c2_00_00_0f) return [];
  table.set(src, { port: ingress, seen: now });
  const all = Array.from({ length: nPorts }, (_, i) => i + 1).filter((p) => p !== ingress);
  if (modelIsGroup(dst)) return all;
  const known = table.get(dst);
  if (known === undefined) return all;
  return known.port === ingress ? [] : [known.port];
}

function modelExpire(table: Map<number, { port: number; seen: number }>, now: number): void {
  for (const [mac, e] of table) if (now - e.seen >= AGING_MS) table.delete(mac);
}

test('bridge: property: forwarding matches a Map model over random frames, many MACs and passing time', () => {
  const unicast = Array.from({ length: 40 }, (_, i) => 0x02_00_00_00_10_00 + i);
  const macs = [...unicast, BROADCAST, 0x01_00_5e_00_00_fb, 0x33_33_00_00_00_01, 0x01_80_c2_00_00_00, 0x01_80_c2_00_00_0e, 0x01_80_c2_00_00_10, 0];
  const arbStep = fc.record({
    ingress: fc.integer({ min: 1, max: 6 }),
    dst: fc.constantFrom(...macs),
    src: fc.constantFrom(...macs),
    // Mostly small steps; now and then one past the aging time, and an expiry sweep.
    advance: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 1500 }) }, { weight: 1, arbitrary: fc.integer({ min: 9_000, max: 12_000 }) }),
    expire: fc.boolean(),
  });
  let aged = 0;
  fc.assert(
    fc.property(fc.array(arbStep, { minLength: 1, maxLength: 120 }), (steps) => {
      const bridge = new Bridge('br0', { agingMs: AGING_MS, max: 1000 });
      const ps = ports(6);
      ps.forEach((p) => bridge.addPort(p));
      const drops = new Drops();
      const table = new Map<number, { port: number; seen: number }>();
      let now = 0;
      for (const s of steps) {
        now += s.advance;
        if (s.expire) {
          const before = table.size;
          modelExpire(table, now);
          aged += before - table.size;
          bridge.fdb.expire(now);
          assert.equal(bridge.fdb.size, table.size, 'the table ages as the model does');
        }
        const expected = modelForward(table, 6, s.ingress, s.dst, s.src, now).sort((a, b) => a - b);
        assert.deepEqual(
          decide(bridge, ps[s.ingress - 1]!, frame(s.dst, s.src), 0, now, drops).sort((a, b) => a - b),
          expected,
        );
      }
    }),
    { numRuns: 400 },
  );
  assert.ok(aged > 0, 'some entries aged out across the runs');
});
