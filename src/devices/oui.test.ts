import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { indexOuiLines, lookupOuiLines, macVendor } from './oui.js';

const require = createRequire(import.meta.url);
const raw = readFileSync(require.resolve('oui-data'));
const parsed = JSON.parse(raw.toString('utf8')) as Record<string, string>;

test('the line index of oui-data answers every key exactly as JSON.parse of the file does', () => {
  const index = indexOuiLines(raw);
  assert.ok(index !== null, 'oui-data is one "KEY": "value" pair per line (else lookups fall back to JSON.parse)');
  const keys = Object.keys(parsed);
  assert.equal(index.starts.length, keys.length);
  for (const k of keys) assert.equal(lookupOuiLines(index, k), parsed[k], k);
  // Keys that are not there: between two entries, before the first, after the last, other lengths.
  for (const k of ['000000'.slice(0, 5) + 'G', 'FFFFFF', 'FFFFFFF', '0000000', '12345678']) {
    if (parsed[k] === undefined) assert.equal(lookupOuiLines(index, k), undefined, k);
  }
});

test('another layout of the file is refused by the index (the caller then parses it whole)', () => {
  assert.equal(indexOuiLines(Buffer.from(JSON.stringify({ '000000': 'X' }))), null);
  assert.equal(indexOuiLines(Buffer.from('{\n "00000G": "X"\n}')), null);
  assert.equal(indexOuiLines(Buffer.from('{\n "000000" : "X"\n}')), null);
  const ok = indexOuiLines(Buffer.from('{\n "000000": "A\\nstreet",\n "000001": "B \\"quoted\\"",\n "0000000": "C"\n}'));
  assert.ok(ok !== null);
  assert.equal(lookupOuiLines(ok, '000001'), 'B "quoted"');
  assert.equal(lookupOuiLines(ok, '0000000'), 'C');
  assert.equal(lookupOuiLines(ok, '000002'), undefined);
});

test('the most specific assignment names the vendor: MA-S, then MA-M, then MA-L', () => {
  const firstLine = (v: string) => v.split('\n')[0];
  const macOf = (hex: string, fill: string) => (hex + fill).slice(0, 12).toLowerCase().match(/../g)!.join(':');
  // An MA-S and an MA-M block whose MA-L entry is the registration authority's placeholder.
  const maS = Object.keys(parsed).find((k) => k.length === 9 && parsed[k.slice(0, 6)] !== undefined && !/^IEEE Registration Authority/.test(parsed[k]!))!;
  const maM = Object.keys(parsed).find((k) => k.length === 7 && parsed[k.slice(0, 6)] !== undefined && !/^IEEE Registration Authority/.test(parsed[k]!))!;
  assert.ok(maS && maM);
  assert.match(parsed[maS.slice(0, 6)]!, /^IEEE Registration Authority/);
  assert.equal(macVendor(macOf(maS, '000')), firstLine(parsed[maS]!));
  assert.equal(macVendor(macOf(maM, '00000')), firstLine(parsed[maM]!));
  // Inside the MA-L block but outside any MA-S entry: the MA-L answer.
  const outside = Object.keys(parsed).find((k) => k.length === 6 && !Object.keys(parsed).some((o) => o.length > 6 && o.startsWith(k)) && /^[0-9A-F][048C]/.test(k))!;
  assert.equal(macVendor(macOf(outside, '123456')), firstLine(parsed[outside]!));
  // Twice (the second from the cache), in either case.
  assert.equal(macVendor(macOf(maS, '000').toUpperCase()), firstLine(parsed[maS]!));
  assert.match(macVendor('00:00:0c:12:34:56') ?? '', /cisco/i);
  assert.equal(macVendor('02:00:0c:12:34:56'), undefined, 'locally administered: no vendor');
  assert.equal(macVendor('00:00:0c'), undefined, 'not a MAC');
});
