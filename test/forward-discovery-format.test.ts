/**
 * Cloud Discovery line formats (src/forward/discovery-format.ts, docs/DISCOVERY-FORMATS.md).
 *
 * Golden: the events of pinned lab captures, with device and user context added as device
 * identity adds it, are formatted; every line is read back with the parsers of
 * test/support/discovery-lines.ts (written from the CEF rev 25 and W3C WD-logfile-960323
 * specifications, not from the formatter's code) and compared field by field with the OCSF event
 * it came from. The expectations are written from the documentation's field list, not taken from
 * the formatter's table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toDiscoveryCef, toDiscoveryW3c, w3cHeader, discoveryLineKind, DISCOVERY_FIELDS } from '../src/forward/discovery-format.js';
import { expected, labEvents, parseCef, parseW3c } from './support/discovery-lines.js';

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const isoTime = (ms: number) => new Date(ms).toISOString().slice(11, 23);

test('discovery lines: one per final flow event and per HTTP request, none for Open/Traffic or other classes', () => {
  const events = labEvents();
  const finals = events.filter((e) => e.class_uid === 4001 && (e.activity_id === 2 || e.activity_id === 3));
  const http = events.filter((e) => e.class_uid === 4002);
  const withLine = events.filter((e) => toDiscoveryCef(e) !== undefined);
  assert.equal(withLine.length, finals.length + http.length);
  assert.ok(finals.length >= 6 && http.length >= 1, `lab events: ${finals.length} flows, ${http.length} HTTP requests`);
  for (const e of events) {
    assert.equal(toDiscoveryW3c(e) !== undefined, toDiscoveryCef(e) !== undefined);
    if (e.class_uid === 4001 && (e.activity_id === 1 || e.activity_id === 6)) assert.equal(discoveryLineKind(e), undefined);
    if (e.class_uid === 4003) assert.equal(toDiscoveryCef(e), undefined);
  }
  // A flow with interim events: its one line carries the whole flow's bytes (the sum of its events).
  const long = finals.find((e) => e.cumulative_traffic !== undefined);
  assert.ok(long, 'flow-timeouts has a flow with interim Traffic events');
  const all = events.filter((e) => e.class_uid === 4001 && e.connection_info.uid === long.connection_info.uid);
  const sumOut = all.reduce((a, e) => a + e.traffic.bytes_out, 0);
  const sumIn = all.reduce((a, e) => a + e.traffic.bytes_in, 0);
  const { ext } = parseCef(toDiscoveryCef(long)!);
  assert.equal(ext.get('in'), String(sumOut));
  assert.equal(ext.get('out'), String(sumIn));
});

test('generic CEF: every line parses and matches its OCSF event field by field', () => {
  let lines = 0;
  for (const ev of labEvents()) {
    const line = toDiscoveryCef(ev);
    if (line === undefined) continue;
    lines++;
    assert.ok(!/[\r\n]/.test(line), 'one line');
    const { header, ext } = parseCef(line);
    assert.deepEqual(header.slice(0, 4), ['0', 'Outpost', 'Outpost', ev.metadata.product.version]);
    assert.equal(header[4], ev.class_uid === 4001 ? 'flow' : 'http');
    assert.equal(ext.get('rt'), String(ev.time));
    for (const [key, , value] of expected(ev)) assert.equal(ext.get(key), value, `${key} of ${line}`);
    // Custom fields carry their labels.
    if (ext.has('cs6')) assert.equal(ext.get('cs6Label'), 'deviceUid');
    if (ext.has('cn1')) assert.equal(ext.get('cn1Label'), 'httpStatus');
  }
  assert.ok(lines > 0);
});

test('generic W3C: the file parses with its #Fields directive and each entry matches its OCSF event', () => {
  const events = labEvents().filter((e) => toDiscoveryW3c(e) !== undefined);
  const text = w3cHeader() + events.map((e) => toDiscoveryW3c(e)! + '\n').join('');
  assert.match(text, /^#Version: 1\.0\n/);
  const entries = parseW3c(text);
  assert.equal(entries.length, events.length);
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    const got = entries[i]!;
    assert.equal(got.get('date'), isoDate(ev.time));
    assert.equal(got.get('time'), isoTime(ev.time));
    assert.equal(got.get('time-taken'), ev.class_uid === 4001 ? (ev.duration / 1000).toFixed(3) : undefined);
    for (const [, field, value] of expected(ev)) assert.equal(got.get(field), value, `${field} of entry ${i}`);
  }
});

test('escaping: separators inside values survive both formats', () => {
  const ev = {
    class_uid: 4002, activity_id: 3, time: 1_700_000_000_123, metadata: { uid: 'u1', product: { version: '0.1.0' } },
    src_endpoint: { ip: '10.0.0.1', port: 5000 }, dst_endpoint: { ip: '203.0.113.5', port: 80 },
    http_request: { http_method: 'GET', user_agent: 'Agent "x" a=b\\c|d\nnext', url: { url_string: 'http://h.example/a?b=c d', hostname: 'h.example' } },
    actor: { user: { name: '-' } },
  };
  const { ext } = parseCef(toDiscoveryCef(ev)!);
  assert.equal(ext.get('requestClientApplication'), 'Agent "x" a=b\\c|d\nnext');
  assert.equal(ext.get('request'), 'http://h.example/a?b=c d');
  const [w] = parseW3c(w3cHeader() + toDiscoveryW3c(ev)! + '\n');
  assert.equal(w!.get('cs(User-Agent)'), 'Agent "x" a=b\\c|d next'); // a line break cannot be in a W3C entry
  assert.equal(w!.get('cs-uri'), 'http://h.example/a?b=c d');
  assert.equal(w!.get('cs-username'), '-'); // a user named "-" is quoted, not read as missing
});

test('docs/DISCOVERY-FORMATS.md lists the fields of the table, in order, with their CEF keys and W3C fields', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'DISCOVERY-FORMATS.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Fields'), doc.indexOf('## Log-upload sink'));
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| field') && !l.startsWith('|---'));
  const firstCode = (cell: string) => /`([^`]+)`/.exec(cell)?.[1];
  const doced = rows.map((r) => {
    const cells = r.split(' | ');
    return { name: cells[0]!.slice(2), cef: firstCode(cells[1]!), w3c: firstCode(cells[2]!) };
  });
  assert.deepEqual(doced, DISCOVERY_FIELDS.map((f) => ({ name: f.name, cef: f.cef, w3c: f.w3c })));
});
