/**
 * Agreement with Zeek's logs over ../shared/corpus/zeek: ssl.log / quic.log server_name,
 * http.log host and dns.log query, connection by connection. Every row must agree except the
 * differences documented (with their reason) in docs/ACCURACY.md, pinned here by key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { compareZeek, defaultZeekDir } from '../src/tools/compare-zeek.js';

const dir = defaultZeekDir();
const present = existsSync(join(dir, 'manifest.json'));

/** Documented in docs/ACCURACY.md ("Zeek"). */
const DOCUMENTED = new Set([
  // A response whose question section (aei.mpg.de DS) Zeek leaves unlogged.
  'dns.log scripts.base.protocols.dns.notify 203.0.113.26|53|214.187.42.114|53669|29661',
]);

test('names agree with Zeek ssl, quic, http and dns logs', { skip: present ? false : `Zeek corpus absent at ${dir}: comparison skipped` }, () => {
  const s = compareZeek(dir);
  for (const log of ['ssl.log', 'quic.log', 'http.log', 'dns.log']) {
    assert.ok((s.logs[log]?.rows ?? 0) > 5, `${log} rows compared: ${s.logs[log]?.rows}`);
  }
  const undocumented = Object.entries(s.logs).flatMap(([log, v]) => v.differences
    .map((d) => `${log} ${d.test} ${d.key}`)
    .filter((k) => !DOCUMENTED.has(k)));
  assert.deepEqual(undocumented, [], 'every difference from Zeek is documented');
  assert.ok(s.agreementPct >= 98.5, `agreement ${s.agreementPct.toFixed(2)} %`);
});
