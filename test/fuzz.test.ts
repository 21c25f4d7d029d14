/**
 * The property-based fuzz scripts of every protocol parser, at a CI-sized count. Each script
 * exits non-zero on the first exception (or broken invariant) and prints what it ran; the full
 * runs (1,000,000 inputs each) are `node --import tsx src/protocols/<name>/fuzz.ts 1000000`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const COUNT = process.env.OUTPOST_FUZZ_COUNT ?? '3000';

for (const name of ['tls', 'quic', 'http', 'dns']) {
  test(`${name} parsers survive ${COUNT} fuzzed inputs`, { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', `src/protocols/${name}/fuzz.ts`, COUNT, '12345'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name} fuzz failed:\n${r.stdout}\n${r.stderr}`);
  });
}
