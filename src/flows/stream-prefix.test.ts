import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamPrefix, StreamPrefixCounters } from './stream-prefix.js';
import { mulberry32 as rng } from '../../test/support/prng.js';

function data(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}


test('in-order segments after a SYN', () => {
  const c = new StreamPrefixCounters();
  const p = new StreamPrefix(100, c);
  assert.equal(p.bytes().length, 0);
  assert.equal(p.buffer, null); // allocated lazily
  p.setIsn(1000);
  const d = data(60);
  p.push(1001, d, 0, 20);
  p.push(1021, d, 20, 40);
  assert.equal(p.contiguousLength, 60);
  assert.deepEqual(p.bytes(), d);
  assert.equal(p.full, false);
  assert.deepEqual(c.snapshot(), { 'stream.prefix_overflow': 0, 'stream.prefix_gap_give_up': 0, 'stream.prefix_overlap': 0 });
});

test('out of order: held until the gap fills', () => {
  const c = new StreamPrefixCounters();
  const p = new StreamPrefix(100, c);
  p.setIsn(0);
  const d = data(30);
  p.push(21, d, 20, 10);
  p.push(11, d, 10, 5);
  assert.equal(p.contiguousLength, 0);
  p.push(1, d, 0, 10);
  assert.equal(p.contiguousLength, 15);
  p.push(16, d, 15, 5);
  assert.equal(p.contiguousLength, 30);
  assert.deepEqual(p.bytes(), d);
  assert.equal(c.overlap, 0);
});

test('retransmissions and overlaps: first copy wins', () => {
  const c = new StreamPrefixCounters();
  const p = new StreamPrefix(100, c);
  p.setIsn(0);
  const d = data(40);
  const other = Buffer.alloc(40, 0xee);
  p.push(11, d, 10, 10); // piece [10, 20)
  p.push(6, other, 5, 20); // overlaps the piece: only [5,10) and [20,25) are new
  p.push(1, d, 0, 5);
  assert.equal(p.contiguousLength, 25);
  assert.deepEqual(p.bytes().subarray(10, 20), d.subarray(10, 20));
  assert.deepEqual(p.bytes().subarray(5, 10), other.subarray(5, 10));
  p.push(1, other, 0, 25); // full retransmission: ignored
  assert.deepEqual(p.bytes().subarray(0, 5), d.subarray(0, 5));
  assert.equal(c.overlap, 2);
  p.push(0, other, 0, 1); // the SYN's own sequence number: before byte 0
  assert.equal(c.overlap, 3);
  assert.equal(p.contiguousLength, 25);
});

test('32-bit sequence wraparound, ISN from the first data segment', () => {
  const c = new StreamPrefixCounters();
  const p = new StreamPrefix(64, c);
  const d = data(50);
  const start = 0xffffffff - 9; // 10 bytes before the wrap
  p.push(start, d, 0, 20);
  p.push((start + 30) >>> 0, d, 30, 20);
  p.push((start + 20) >>> 0, d, 20, 10);
  assert.equal(p.contiguousLength, 50);
  assert.deepEqual(p.bytes(), d);
});

test('data beyond maxBytes is ignored and counted once per stream', () => {
  const c = new StreamPrefixCounters();
  const p = new StreamPrefix(16, c);
  p.setIsn(0xfffffffe); // byte 0 at seq 0xffffffff
  const d = data(40);
  p.push(0xffffffff, d, 0, 10);
  p.push(9, d, 10, 30);
  assert.equal(p.contiguousLength, 16);
  assert.equal(p.full, true);
  assert.deepEqual(p.bytes(), d.subarray(0, 16));
  p.push(100, d, 0, 10);
  assert.equal(c.overflow, 1);
});

test('too many out-of-order pieces: gap give-up', () => {
  const c = new StreamPrefixCounters();
  const p = new StreamPrefix(1000, c, 2);
  p.setIsn(0);
  const d = data(100);
  p.push(11, d, 10, 5);
  p.push(31, d, 30, 5);
  p.push(51, d, 50, 5); // a third separate piece
  assert.equal(c.gapGiveUp, 1);
  p.push(16, d, 15, 5); // touches piece one: merges, allowed
  assert.equal(c.gapGiveUp, 1);
  p.push(1, d, 0, 10);
  assert.equal(p.contiguousLength, 20);
});

test('setIsn is ignored once data arrived; a data segment before the SYN sets byte 0', () => {
  const c = new StreamPrefixCounters();
  const p = new StreamPrefix(100, c);
  const d = data(10);
  p.push(500, d, 0, 10);
  p.setIsn(100);
  assert.equal(p.contiguousLength, 10);
});

test('random segmentation, reordering and duplication reassembles the prefix exactly', () => {
  for (let round = 0; round < 300; round++) {
    const r = rng(round + 1);
    const total = 1 + Math.floor(r() * 3000);
    const max = 1 + Math.floor(r() * 2500);
    const d = data(total, round);
    const isn = Math.floor(r() * 0x100000000) >>> 0;
    const segs: Array<[number, number]> = [];
    for (let o = 0; o < total;) {
      const n = Math.min(total - o, 1 + Math.floor(r() * 400));
      segs.push([o, n]);
      if (r() < 0.2) segs.push([Math.max(0, o - Math.floor(r() * 50)), Math.min(total - Math.max(0, o - 30), n + 30)]);
      o += n;
    }
    // Shuffle within a window so reordering stays below the piece bound.
    for (let i = 0; i < segs.length; i++) {
      const j = Math.min(segs.length - 1, i + Math.floor(r() * 4));
      [segs[i], segs[j]] = [segs[j]!, segs[i]!];
    }
    const c = new StreamPrefixCounters();
    const p = new StreamPrefix(max, c, 64);
    p.setIsn(isn);
    for (const [o, n] of segs) p.push((isn + 1 + o) >>> 0, d, o, Math.min(n, total - o));
    assert.equal(p.contiguousLength, Math.min(max, total), `round ${round}`);
    assert.deepEqual(p.bytes(), d.subarray(0, Math.min(max, total)), `round ${round}`);
    assert.equal(c.gapGiveUp, 0);
  }
});
