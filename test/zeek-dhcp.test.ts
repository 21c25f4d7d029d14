import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { compareZeekDhcp } from '../tools/zeek-dhcp.js';

const corpus = process.env.OUTPOST_ZEEK_CORPUS ?? resolve(process.cwd(), '../shared/corpus/zeek');
const missing = existsSync(resolve(corpus, 'manifest.json')) ? false : `Zeek corpus absent at ${corpus}`;

test('dhcp.log: MAC, assigned address, host name and lease time agree with Zeek on ≥ 99 % of fields', { skip: missing }, () => {
  const s = compareZeekDhcp(corpus);
  assert.ok(s.traces >= 1, 'no dhcp.log trace in the manifest');
  assert.equal(s.oursRows, s.zeekRows, 'row count');
  assert.ok(s.agreementPct >= 99, `agreement ${s.agreementPct} %: ${JSON.stringify(s.differences.slice(0, 5))}`);
});
