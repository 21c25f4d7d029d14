/**
 * The property-based fuzz scripts of every protocol parser, at a CI-sized count. Each script
 * exits non-zero on the first exception (or broken invariant) and prints what it ran; the full
 * runs (1,000,000 inputs each) are `node --import tsx src/protocols/<name>/fuzz.ts 1000000` and
 * `node --import tsx src/devices/fuzz.ts 1000000`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const COUNT = process.env.OUTPOST_FUZZ_COUNT ?? '3000';

const SCRIPTS: Array<[string, string]> = [
  ['tls', 'src/protocols/tls/fuzz.ts'], ['quic', 'src/protocols/quic/fuzz.ts'], ['http', 'src/protocols/http/fuzz.ts'], ['dns', 'src/protocols/dns/fuzz.ts'],
  // DHCPv4/v6, ARP, NDP, NetBIOS and mDNS through the device-identity path (sequences of packets).
  ['devices', 'src/devices/fuzz.ts'],
];
for (const [name, script] of SCRIPTS) {
  test(`${name} parsers survive ${COUNT} fuzzed inputs`, { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, COUNT, '12345'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name} fuzz failed:\n${r.stdout}\n${r.stderr}`);
  });
}
