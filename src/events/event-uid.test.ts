import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomEventUid } from './event-uid.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('event uids: RFC 9562 version 4 form, distinct, across several refills of the pool', () => {
  const seen = new Set<string>();
  // 128 per refill: 1,000 cross seven refills.
  for (let i = 0; i < 1000; i++) {
    const u = randomEventUid();
    assert.match(u, UUID_V4);
    seen.add(u);
  }
  assert.equal(seen.size, 1000);
  // Every random nibble position takes several values (a pool left unfilled or reused would not).
  const uids = [...seen];
  for (let pos = 0; pos < 36; pos++) {
    if (pos === 8 || pos === 13 || pos === 18 || pos === 23 || pos === 14) continue;
    const values = new Set(uids.map((u) => u[pos]));
    assert.ok(values.size >= (pos === 19 ? 4 : 12), `position ${pos}: ${values.size} values`);
  }
});
