// RouteTable against a brute-force reference: a plain list of prefixes scanned linearly for the longest
// match (wireguard-go's SlowRouter habit). Random operation sequences come from fast-check; addresses are
// drawn from a few bases and single-bit variants of them, so that prefixes nest, paths part at every depth
// and removals expose shorter prefixes. A few literal cases pin the textbook answers. No test measures time;
// the random ones carry a generous timeout only so that a broken trie (a cycle) fails instead of hanging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RouteTable } from '../../src/router/route-table.js';

type Family = 4 | 6;

/** Reference is the brute-force model: exact prefixes in a Map, lookup by a linear scan. */
class Reference {
  readonly routes = new Map<string, { family: Family; prefix: Uint8Array; len: number; value: number }>();

  insert(family: Family, prefix: Uint8Array, len: number, value: number): number {
    const masked = mask(prefix, len);
    const key = keyOf(family, masked, len);
    const old = this.routes.get(key)?.value ?? -1;
    this.routes.set(key, { family, prefix: masked, len, value });
    return old;
  }

  remove(family: Family, prefix: Uint8Array, len: number): number {
    const key = keyOf(family, mask(prefix, len), len);
    const old = this.routes.get(key)?.value ?? -1;
    this.routes.delete(key);
    return old;
  }

  get(family: Family, prefix: Uint8Array, len: number): number {
    return this.routes.get(keyOf(family, mask(prefix, len), len))?.value ?? -1;
  }

  lookup(family: Family, addr: Uint8Array): number {
    let best = -1;
    let bestLen = -1;
    for (const r of this.routes.values()) {
      if (r.family === family && r.len > bestLen && contains(r.prefix, r.len, addr)) {
        best = r.value;
        bestLen = r.len;
      }
    }
    return best;
  }

  size(family: Family): number {
    let n = 0;
    for (const r of this.routes.values()) if (r.family === family) n++;
    return n;
  }
}

function keyOf(family: Family, masked: Uint8Array, len: number): string {
  return `${family}|${Buffer.from(masked).toString('hex')}/${len}`;
}

function mask(addr: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(addr.length);
  for (let i = 0; i < addr.length; i++) {
    const bits = len - 8 * i;
    out[i] = bits >= 8 ? addr[i]! : bits <= 0 ? 0 : addr[i]! & (0xff << (8 - bits));
  }
  return out;
}

function contains(prefix: Uint8Array, len: number, addr: Uint8Array): boolean {
  const m = mask(addr, len);
  for (let i = 0; i < m.length; i++) if (m[i] !== prefix[i]) return false;
  return true;
}

function u32(a: Uint8Array): number {
  return ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
}

function flipBit(addr: Uint8Array, bit: number): Uint8Array {
  const out = addr.slice();
  out[bit >> 3] = out[bit >> 3]! ^ (0x80 >> (bit & 7));
  return out;
}

function v4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

function v6(s: string): Uint8Array {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const groups = (x: string | undefined) => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** lookup6At checks lookup6 at a non-zero offset inside a larger buffer, with noise around the address. */
function lookup6At(t: RouteTable, addr: Uint8Array, off: number): number {
  const buf = new Uint8Array(off + 16 + 7).fill(0xa5);
  buf.set(addr, off);
  return t.lookup6(buf, off);
}

function lookup(t: RouteTable, family: Family, addr: Uint8Array): number {
  return family === 4 ? t.lookup4(u32(addr)) : lookup6At(t, addr, 3);
}

test('route-table: IPv4 literal cases, longest prefix wins', () => {
  const t = new RouteTable();
  assert.equal(t.insert(4, v4('10.0.0.0'), 8, 1), -1);
  assert.equal(t.insert(4, v4('10.1.0.0'), 16, 2), -1);
  assert.equal(t.insert(4, v4('10.1.2.3'), 32, 3), -1);
  assert.equal(t.lookup4(u32(v4('10.1.2.3'))), 3);
  assert.equal(t.lookup4(u32(v4('10.1.2.4'))), 2);
  assert.equal(t.lookup4(u32(v4('10.2.0.1'))), 1);
  assert.equal(t.lookup4(u32(v4('11.0.0.1'))), -1);
  assert.equal(t.insert(4, v4('0.0.0.0'), 0, 9), -1, 'a default route');
  assert.equal(t.lookup4(u32(v4('11.0.0.1'))), 9);
  assert.equal(t.lookup4(0xffffffff), 9);
  assert.equal(t.remove(4, v4('10.1.0.0'), 16), 2, 'removing the covering /16 exposes the /8');
  assert.equal(t.lookup4(u32(v4('10.1.2.4'))), 1);
  assert.equal(t.lookup4(u32(v4('10.1.2.3'))), 3);
  assert.equal(t.insert(4, v4('10.1.2.3'), 32, 33), 3, 'a replace returns the old value');
  assert.equal(t.lookup4(u32(v4('10.1.2.3'))), 33);
  assert.equal(t.size4, 3);
  assert.equal(t.size6, 0);
});

test('route-table: host bits are masked, get and remove are exact', () => {
  const t = new RouteTable();
  assert.equal(t.insert(4, v4('192.168.77.200'), 20, 5), -1);
  assert.equal(t.get(4, v4('192.168.64.0'), 20), 5);
  assert.equal(t.get(4, v4('192.168.79.255'), 20), 5, 'any spelling of the same prefix');
  assert.equal(t.get(4, v4('192.168.64.0'), 21), -1);
  assert.equal(t.remove(4, v4('192.168.64.0'), 19), -1, 'only the exact length is removed');
  assert.equal(t.lookup4(u32(v4('192.168.70.1'))), 5);
  assert.deepEqual(t.entries(), [{ family: 4, prefix: v4('192.168.64.0'), prefixLength: 20, value: 5 }]);
  assert.equal(t.remove(4, v4('192.168.64.1'), 20), 5);
  assert.equal(t.lookup4(u32(v4('192.168.70.1'))), -1);
  assert.equal(t.nodes, 0, 'nodes of a removed route are freed');
});

test('route-table: a replaced value shows in every address the prefix covers, at every level', () => {
  const t = new RouteTable();
  for (const [len, probe] of [
    [0, '99.0.0.1'],
    [9, '10.127.0.1'],
    [16, '10.0.255.255'],
    [22, '10.0.3.200'],
    [32, '10.0.0.0'],
  ] as const) {
    assert.equal(t.insert(4, v4('10.0.0.0'), len, 100 + len), -1);
    assert.equal(t.insert(4, v4('10.0.0.0'), len, 200 + len), 100 + len);
    assert.equal(t.lookup4(u32(v4(probe))), 200 + len, `/${len}`);
  }
  t.insert(6, v6('2001:db8::'), 12, 1);
  assert.equal(t.insert(6, v6('2001:db8::'), 12, 2), 1);
  assert.equal(lookup6At(t, v6('200f::1'), 2), 2);
});

test('route-table: IPv6 literal cases, at an offset in a larger buffer', () => {
  const t = new RouteTable();
  t.insert(6, v6('2001:db8::'), 32, 1);
  t.insert(6, v6('2001:db8:1::'), 48, 2);
  t.insert(6, v6('2001:db8:1:2::1'), 128, 3);
  assert.equal(lookup6At(t, v6('2001:db8:1:2::1'), 14), 3);
  assert.equal(lookup6At(t, v6('2001:db8:1:2::2'), 14), 2);
  assert.equal(lookup6At(t, v6('2001:db8:2::1'), 1), 1);
  assert.equal(lookup6At(t, v6('2001:db9::1'), 0), -1);
  t.insert(6, v6('::'), 0, 7);
  assert.equal(lookup6At(t, v6('2001:db9::1'), 40), 7);
  assert.equal(lookup6At(t, v6('ffff::'), 40), 7);
  assert.equal(t.remove(6, v6('2001:db8:1::'), 48), 2);
  assert.equal(lookup6At(t, v6('2001:db8:1:2::2'), 5), 1);
  assert.equal(t.remove(6, v6('::'), 0), 7);
  assert.equal(lookup6At(t, v6('2001:db9::1'), 40), -1);
  assert.equal(t.size6, 2);
  assert.deepEqual(
    t.entries().map((e) => [e.family, Buffer.from(e.prefix).toString('hex'), e.prefixLength, e.value]),
    [
      [6, '20010db8000000000000000000000000', 32, 1],
      [6, '20010db8000100020000000000000001', 128, 3],
    ],
  );
});

test('route-table: entries are ordered v4 then v6, by prefix then length', () => {
  const t = new RouteTable();
  t.insert(6, v6('::'), 0, 1);
  t.insert(4, v4('200.0.0.0'), 8, 2);
  t.insert(4, v4('10.0.0.0'), 16, 3);
  t.insert(4, v4('10.0.0.0'), 8, 4);
  t.insert(4, v4('0.0.0.0'), 0, 5);
  const rows = t.entries().map((e) => `${e.family} ${e.prefix.join('.')}/${e.prefixLength}=${e.value}`);
  assert.deepEqual(rows, ['4 0.0.0.0/0=5', '4 10.0.0.0/8=4', '4 10.0.0.0/16=3', '4 200.0.0.0/8=2', '6 0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0/0=1']);
});

test('route-table: bad lengths, address sizes, families and values throw RangeError', () => {
  const t = new RouteTable();
  assert.throws(() => t.insert(4, v4('10.0.0.0'), 33, 1), RangeError);
  assert.throws(() => t.insert(4, v4('10.0.0.0'), -1, 1), RangeError);
  assert.throws(() => t.insert(4, v4('10.0.0.0'), 8.5, 1), RangeError);
  assert.throws(() => t.insert(6, v6('::'), 129, 1), RangeError);
  assert.throws(() => t.insert(4, new Uint8Array(16), 8, 1), RangeError);
  assert.throws(() => t.insert(6, new Uint8Array(4), 8, 1), RangeError);
  assert.throws(() => t.insert(4, new Uint8Array(3), 0, 1), RangeError);
  assert.throws(() => t.insert(5 as 4, new Uint8Array(4), 0, 1), RangeError);
  assert.throws(() => t.insert(4, v4('10.0.0.0'), 8, -1), RangeError);
  assert.throws(() => t.insert(4, v4('10.0.0.0'), 8, 1.5), RangeError);
  assert.throws(() => t.insert(4, v4('10.0.0.0'), 8, 2 ** 31), RangeError);
  assert.throws(() => t.remove(6, v6('::'), 129), RangeError);
  assert.throws(() => t.get(4, new Uint8Array(5), 8), RangeError);
  assert.equal(t.size4 + t.size6, 0, 'nothing was stored by a rejected call');
});

test('route-table: removing everything frees every node, and a refill reuses the memory', () => {
  const t = new RouteTable();
  const rnd = mulberry32(7);
  const routes: [Family, Uint8Array, number][] = [];
  for (let i = 0; i < 3000; i++) {
    const family: Family = i % 2 === 0 ? 4 : 6;
    const addr = new Uint8Array(family === 4 ? 4 : 16);
    for (let b = 0; b < addr.length; b++) addr[b] = b < 2 && family === 6 ? 0x20 : (rnd() * 256) | 0;
    routes.push([family, addr, (rnd() * (family === 4 ? 33 : 129)) | 0]);
  }
  for (const [f, a, l] of routes) t.insert(f, a, l, 1);
  const bytes = t.byteLength;
  assert.ok(t.nodes > 0);
  for (const [f, a, l] of routes) t.remove(f, a, l);
  assert.equal(t.nodes, 0);
  assert.equal(t.size4 + t.size6, 0);
  for (const [f, a, l] of routes) t.insert(f, a, l, 2);
  assert.equal(t.byteLength, bytes, 'freed nodes are reused before the pool grows');
  t.clear();
  assert.equal(t.nodes, 0);
  assert.equal(t.lookup4(0), -1);
  assert.equal(t.entries().length, 0);
});

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * familyModel runs random insert/remove/replace sequences of one family and compares every answer (the
 * returned old values, get, lookup, sizes, entries) with the reference.
 */
function familyModel(family: Family): void {
  const bytes = family === 4 ? 4 : 16;
  const maxLen = bytes * 8;
  // Bytes from a small alphabet make nested and sibling prefixes common.
  const byte = fc.constantFrom(0x00, 0x01, 0x0a, 0x20, 0x80, 0xfe, 0xff);
  const base = fc
    .uint8Array({ minLength: bytes, maxLength: bytes })
    .chain((random) => fc.array(byte, { minLength: bytes, maxLength: bytes }).map((a) => Uint8Array.from(a.map((b, i) => (i % 3 === 2 ? random[i]! : b)))));
  const length = fc.oneof(fc.constantFrom(0, 1, 8, 15, 16, 17, 20, 24, 31, 32, ...(family === 6 ? [33, 48, 63, 64, 65, 127, 128] : [])), fc.integer({ min: 0, max: maxLen }));
  const op = fc.record({
    // insert and remove pick an address; replace and drop pick a route already in the table.
    kind: fc.constantFrom('insert', 'insert', 'insert', 'remove', 'replace', 'drop'),
    addr: fc.nat(),
    flip: fc.option(fc.integer({ min: 0, max: maxLen - 1 }), { nil: undefined }),
    len: length,
    value: fc.integer({ min: 0, max: 0x7fffffff }),
  });
  fc.assert(
    fc.property(fc.array(base, { minLength: 1, maxLength: 5 }), fc.array(op, { minLength: 1, maxLength: 150, size: 'large' }), (bases, ops) => {
      const t = new RouteTable();
      const ref = new Reference();
      const seen: Uint8Array[] = [];
      for (const o of ops) {
        let addr: Uint8Array = bases[o.addr % bases.length]!;
        if (o.flip !== undefined) addr = flipBit(addr, o.flip);
        let len = o.len;
        const existing = [...ref.routes.values()];
        const pick = existing[o.addr % Math.max(1, existing.length)];
        if ((o.kind === 'replace' || o.kind === 'drop') && pick !== undefined) {
          // An existing route, spelled with its host bits set (they must be ignored).
          addr = pick.prefix.map((b, i) => b | (0xff >> Math.min(8, Math.max(0, pick.len - 8 * i))));
          len = pick.len;
        }
        seen.push(addr);
        if (o.kind === 'insert' || o.kind === 'replace') {
          assert.equal(t.insert(family, addr, len, o.value), ref.insert(family, addr, len, o.value));
        } else {
          assert.equal(t.remove(family, addr, len), ref.remove(family, addr, len));
        }
        // Every address seen so far, and its neighbours one bit away, must resolve like the linear scan.
        for (const a of seen.slice(-6)) {
          assert.equal(lookup(t, family, a), ref.lookup(family, a));
          const b = flipBit(a, len === 0 ? 0 : len - 1);
          assert.equal(lookup(t, family, b), ref.lookup(family, b));
        }
      }
      for (const a of seen) {
        assert.equal(lookup(t, family, a), ref.lookup(family, a));
        for (let l = 0; l <= maxLen; l += family === 4 ? 1 : 7) assert.equal(t.get(family, a, l), ref.get(family, a, l));
      }
      assert.equal(family === 4 ? t.size4 : t.size6, ref.size(family));
      assert.equal(family === 4 ? t.size6 : t.size4, 0);
      const expected = [...ref.routes.values()].map((r) => `${Buffer.from(r.prefix).toString('hex')}/${String(r.len).padStart(3, '0')}=${r.value}`).sort();
      assert.deepEqual(
        t.entries().map((e) => `${Buffer.from(e.prefix).toString('hex')}/${String(e.prefixLength).padStart(3, '0')}=${e.value}`),
        expected,
      );
      // Removing every route must free every node.
      for (const r of [...ref.routes.values()]) assert.equal(t.remove(family, r.prefix, r.len), r.value);
      assert.equal(t.nodes, 0);
    }),
    { numRuns: 300, seed: 0x7a9, endOnFailure: true },
  );
}

test('route-table: IPv4 matches a linear scan under random insert/remove/replace', { timeout: 300_000 }, () => {
  familyModel(4);
});

test('route-table: IPv6 matches a linear scan under random insert/remove/replace', { timeout: 300_000 }, () => {
  familyModel(6);
});

test('route-table: many random routes of both families match a linear scan', () => {
  const rnd = mulberry32(42);
  const t = new RouteTable();
  const ref = new Reference();
  const v4s: Uint8Array[] = [];
  const v6s: Uint8Array[] = [];
  for (let i = 0; i < 1500; i++) {
    const a4 = new Uint8Array(4).map(() => (rnd() * 256) | 0);
    a4[0] = 10 + ((rnd() * 3) | 0);
    v4s.push(a4);
    const l4 = rnd() < 0.5 ? 24 : 8 + ((rnd() * 25) | 0);
    assert.equal(t.insert(4, a4, l4, i), ref.insert(4, a4, l4, i));
    const a6 = new Uint8Array(16).map(() => (rnd() * 256) | 0);
    a6.set([0x20, 0x01, 0x0d, 0xb8 + ((rnd() * 2) | 0)]);
    v6s.push(a6);
    const l6 = rnd() < 0.1 ? 128 : 16 + ((rnd() * 49) | 0);
    assert.equal(t.insert(6, a6, l6, i), ref.insert(6, a6, l6, i));
  }
  const check = () => {
    for (let i = 0; i < v4s.length; i += 3) {
      const a = v4s[i]!.map((b, j) => (j === 3 ? b ^ ((rnd() * 256) | 0) : b));
      assert.equal(t.lookup4(u32(a)), ref.lookup(4, a));
      const b = v6s[i]!.map((x, j) => (j >= 8 ? x ^ ((rnd() * 256) | 0) : x));
      assert.equal(lookup6At(t, b, 9), ref.lookup(6, b));
    }
  };
  check();
  // Remove every other route (covering prefixes among them) and check again.
  for (const r of [...ref.routes.values()]) {
    if (r.value % 2 === 0) assert.equal(t.remove(r.family, r.prefix, r.len), ref.remove(r.family, r.prefix, r.len));
  }
  check();
});
