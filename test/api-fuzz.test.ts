/** A bounded run of the API fuzzer (test/fuzz/api.ts): malformed requests, no 5xx, nothing changed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './fuzz/api.js';

test('3,000 malformed requests on loopback: no 5xx, config and audit unchanged', { timeout: 60_000 }, async () => {
  const report = await runFuzz({ requests: 3000, maxSeconds: 30, benchSeconds: 0, concurrency: 16 });
  assert.equal(report.requests, 3000);
  assert.deepEqual(report.serverErrors, []);
  assert.equal(report.configUnchanged, true);
  assert.equal(report.auditRecords, 0);
  assert.ok(!Object.keys(report.byStatus).some((k) => k.startsWith('client:') || Number(k) >= 500), JSON.stringify(report.byStatus));
  const fourxx = Object.entries(report.byStatus).filter(([k]) => Number(k) >= 400 && Number(k) < 500).reduce((s, [, v]) => s + v, 0);
  assert.ok(fourxx > 2000, `mostly refused with 4xx: ${JSON.stringify(report.byStatus)}`);
  // The targeted families reached PUT/PATCH /v1/config: refused with 4xx, never 5xx. The only
  // 200s are PATCHes that change nothing (`{"api":{}}` merges to the same document), and the
  // file and revision are unchanged (configUnchanged above).
  for (const [name, f] of Object.entries(report.families)) {
    assert.ok(f.requests > 200, `${name}: ${f.requests} requests`);
    assert.ok(Object.keys(f.byStatus).every((k) => Number(k) === 200 || (Number(k) >= 400 && Number(k) < 500)), `${name}: ${JSON.stringify(f.byStatus)}`);
    const refused = Object.entries(f.byStatus).filter(([k]) => Number(k) >= 400).reduce((s, [, v]) => s + v, 0);
    assert.ok(refused > 0.9 * f.requests, `${name}: ${JSON.stringify(f.byStatus)}`);
  }
});
