// wire/bytes.ts against literal bytes: each read and write both ways, at an offset, with the values that
// show the sign and the wrap (0x8000, 0xffffffff, -1, 2^32 + 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { put16, put16le, put32, u16, u16le, u32 } from '../../src/wire/bytes.js';

test('bytes: big-endian reads of literal bytes, unsigned', () => {
  const b = Uint8Array.of(0xee, 0x12, 0x34, 0x56, 0x78, 0xff, 0xff, 0xff, 0xff, 0x80, 0x00);
  assert.equal(u16(b, 1), 0x1234);
  assert.equal(u32(b, 1), 0x12345678);
  assert.equal(u32(b, 5), 0xffffffff, 'no sign: the top bit set reads as a large positive number');
  assert.equal(u16(b, 9), 0x8000);
  assert.equal(u16(b, 0), 0xee12);
});

test('bytes: big-endian writes give the literal bytes and store modulo 2^16 / 2^32', () => {
  const b = new Uint8Array(10).fill(0xaa);
  put16(b, 1, 0xbeef);
  put32(b, 3, 0xdeadbeef);
  assert.deepEqual([...b], [0xaa, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0xaa, 0xaa, 0xaa], 'neighbours untouched');
  put32(b, 0, 2 ** 32 + 5);
  assert.deepEqual([...b.subarray(0, 4)], [0, 0, 0, 5], 'a sequence number past the wrap');
  put32(b, 0, -1);
  assert.deepEqual([...b.subarray(0, 4)], [0xff, 0xff, 0xff, 0xff]);
  put16(b, 4, 0x12345);
  assert.deepEqual([...b.subarray(4, 6)], [0x23, 0x45]);
  put16(b, 4, -2);
  assert.deepEqual([...b.subarray(4, 6)], [0xff, 0xfe]);
});

test('bytes: little-endian 16-bit fields as a virtio-net header holds them', () => {
  // gso_size 1448 (0x05a8) and csum_start 34 (0x0022), as a TAP hands them over on x86
  const hdr = Uint8Array.of(0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00);
  assert.equal(u16le(hdr, 2), 66);
  assert.equal(u16le(hdr, 4), 1448);
  assert.equal(u16le(hdr, 6), 34);
  const out = new Uint8Array(4);
  put16le(out, 1, 1448);
  assert.deepEqual([...out], [0, 0xa8, 0x05, 0]);
  put16le(out, 0, 0x1ffff);
  assert.deepEqual([...out.subarray(0, 2)], [0xff, 0xff]);
});

test('bytes: every 16-bit and 32-bit value round-trips (sampled)', () => {
  const b = new Uint8Array(8);
  for (let v = 0; v <= 0xffff; v += 7) {
    put16(b, 3, v);
    assert.equal(u16(b, 3), v);
    put16le(b, 3, v);
    assert.equal(u16le(b, 3), v);
  }
  for (let i = 0; i < 5000; i++) {
    const v = Math.floor(Math.random() * 2 ** 32);
    put32(b, 2, v);
    assert.equal(u32(b, 2), v);
  }
});
