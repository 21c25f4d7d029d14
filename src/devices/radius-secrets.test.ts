import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRadiusSecrets } from './radius-secrets.js';
import { devicesConfigCheck } from './agent-listener.js';
import { devicesConfig } from './config.js';
import { OutpostError } from '../errors.js';

test('RADIUS shared secrets are read from their files (one trailing newline dropped); unusable ones are named errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-radius-'));
  try {
    const ok = join(dir, 'ap'), empty = join(dir, 'empty'), big = join(dir, 'big');
    writeFileSync(ok, 'testing123\n'); writeFileSync(empty, '\n'); writeFileSync(big, Buffer.alloc(2048, 0x61));
    assert.deepEqual(readRadiusSecrets([{ address: '10.0.0.9', sharedSecretFile: ok }]), new Map([['10.0.0.9', Buffer.from('testing123')]]));
    const reason = (nas: { address: string; sharedSecretFile: string }): string => {
      try { readRadiusSecrets([nas]); } catch (err) { assert.ok(err instanceof OutpostError); assert.equal(err.code, 'DEVICES_RADIUS_SECRET_UNREADABLE'); return String((err.details as { reason: string }).reason); }
      return 'read';
    };
    assert.equal(reason({ address: '10.0.0.9', sharedSecretFile: empty }), 'empty');
    assert.equal(reason({ address: '10.0.0.9', sharedSecretFile: big }), 'larger than 1024 bytes');
    assert.equal(reason({ address: '10.0.0.9', sharedSecretFile: dir }), 'not a regular file');
    assert.equal(reason({ address: '10.0.0.9', sharedSecretFile: join(dir, 'none') }), 'ENOENT');
    assert.equal(reason({ address: 'ap-floor2', sharedSecretFile: ok }), 'the address is not an IP address');
    // The configuration manager refuses the change the next start would refuse.
    const problems = devicesConfigCheck(devicesConfig({ radiusNases: [{ address: '10.0.0.9', sharedSecretFile: empty }] })).problems;
    assert.deepEqual(problems.map((p) => [p.path, p.rule]), [['/devices/radiusNases', 'DEVICES_RADIUS_SECRET_UNREADABLE']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
