/**
 * The outbox inflates its blocks into buffers it reuses (src/forward/inflate-into.ts), through
 * node:zlib's native handle, which is not a documented API: this fails on a Node where that
 * handle is gone (the outbox still works, copying), so that the change is seen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { inflateRawInto, inflatesInPlace } from '../src/forward/inflate-into.js';

const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => `{"i":${i},"name":"event ${i % 97}"}\n`).join(''));
const z = deflateRawSync(data, { level: 1 });

test('inflates in place on this Node (node:zlib handle present)', () => {
  assert.equal(inflatesInPlace(), true);
});

test('inflates into the given buffer, exactly, again and again; stale bytes beyond the end are not part of the result', () => {
  const out = Buffer.alloc(data.length + 100, 0x55);
  for (let round = 0; round < 3; round++) {
    const n = inflateRawInto(z, out);
    assert.equal(n, data.length);
    assert.ok(out.subarray(0, n as number).equals(data));
  }
  const small = Buffer.from('short text');
  assert.equal(inflateRawInto(deflateRawSync(small), out), small.length);
  assert.ok(out.subarray(0, small.length).equals(small));
});

test('damaged input, too little room, or bytes after the end: a reason, never a throw or a wrong length', () => {
  const out = Buffer.alloc(data.length + 1);
  assert.equal(typeof inflateRawInto(Buffer.from('not deflate data at all'), out), 'string');
  assert.equal(typeof inflateRawInto(z.subarray(0, z.length >> 1), out), 'string', 'truncated');
  assert.match(String(inflateRawInto(z, Buffer.alloc(data.length))), /more than/);
  assert.match(String(inflateRawInto(Buffer.concat([z, Buffer.from('tail')]), out)), /after the end/);
  // And the next good input inflates (a failed context is not reused).
  assert.equal(inflateRawInto(z, out), data.length);
});
