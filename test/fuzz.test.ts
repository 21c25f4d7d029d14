/**
 * The property-based fuzz scripts of every protocol parser, at a CI-sized count. Each script
 * exits non-zero on the first exception (or broken invariant) and prints what it ran; the full
 * runs (1,000,000 inputs each) are `node --import tsx test/fuzz/<name>.ts 1000000` (or
 * `npm run fuzz:<name> -- 1000000`); docs/FUZZING.md lists them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const COUNT = process.env.OUTPOST_FUZZ_COUNT ?? '3000';

const SCRIPTS: Array<[string, string]> = [
  ['tls', 'test/fuzz/tls.ts'], ['quic', 'test/fuzz/quic.ts'], ['http', 'test/fuzz/http.ts'], ['dns', 'test/fuzz/dns.ts'],
  // DHCPv4/v6, ARP, NDP, NetBIOS and mDNS through the device-identity path (sequences of packets).
  ['devices', 'test/fuzz/devices.ts'],
];
for (const [name, script] of SCRIPTS) {
  test(`${name} parsers survive ${COUNT} fuzzed inputs`, { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, COUNT, '12345'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name} fuzz failed:\n${r.stdout}\n${r.stderr}`);
  });
}
