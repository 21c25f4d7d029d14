import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpsReceiver, makePki, which } from './support/receivers.js';
import { faultLoop } from './support/forward-fault.js';

const kills = Number(process.env['FORWARD_FAULT_KILLS'] ?? 5);
const total = Number(process.env['FORWARD_FAULT_EVENTS'] ?? 20_000);
const skip = which('openssl') ? false : 'openssl not installed';

test(`kill -9 the forwarding process ${kills} times at random moments: lost = 0`, { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-fault-'));
  const pki = makePki(join(dir, 'pki'));
  const rx = new HttpsReceiver(pki);
  rx.behaviour = () => ({ status: 200, delayMs: Math.random() < 0.2 ? 50 : 0 });
  await rx.listen();
  try {
    const r = await faultLoop({ kills, total, dataDir: join(dir, 'data'), rx, pki });
    console.log(`# fault: ${JSON.stringify(r)}`);
    assert.ok(r.kills >= 1, 'at least one kill landed while the child was running');
    assert.equal(r.lost, 0);
    assert.equal(r.unique, r.produced);
  } finally {
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
