/**
 * Cloud Discovery line formats (src/forward/discovery-format.ts, docs/DISCOVERY-FORMATS.md).
 *
 * Golden: the events of pinned lab captures (test/pcap/<case>/expected.json: what `outpost
 * replay` writes for them), with device and user context added as device identity adds it, are
 * formatted; every line is read back with the parsers below and compared field by field with the
 * OCSF event it came from. The expectations are written here from the documentation's field list,
 * not taken from the formatter's table.
 *
 * Parsers: written from the format specifications, not from the formatter's code. CEF (Implementing
 * ArcSight CEF rev 25): seven header fields separated by unescaped `|` (`\|`, `\\` escaped), then
 * the extension: `key=value` pairs separated by spaces, a value running up to the space before the
 * next `key=`, with `\=`, `\\`, `\n`, `\r` escaped. W3C (WD-logfile-960323): `#` lines are
 * directives, `#Fields:` names the columns, entries are space-separated, `-` is a missing value, a
 * quoted string has `""` for a quote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toDiscoveryCef, toDiscoveryW3c, w3cHeader, discoveryLineKind, DISCOVERY_FIELDS } from '../src/forward/discovery-format.js';

type Obj = Record<string, any>;

// ---- parsers from the specifications --------------------------------------------------------

function parseCef(line: string): { header: string[]; ext: Map<string, string> } {
  assert.ok(line.startsWith('CEF:'), line);
  const header: string[] = [];
  let cur = '';
  let i = 4;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) { cur += line[++i]; continue; }
    if (c === '|') { header.push(cur); cur = ''; continue; }
    cur += c;
  }
  assert.equal(header.length, 7, 'seven header fields');
  const rest = line.slice(i);
  const ext = new Map<string, string>();
  // Key starts: at the beginning or after a space, `[A-Za-z0-9_]+=` not preceded by a backslash.
  const starts: Array<{ key: string; at: number; valueAt: number }> = [];
  const re = /(?:^| )([A-Za-z0-9_]+)=/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rest)) !== null) {
    const keyAt = m.index + (m[0].startsWith(' ') ? 1 : 0);
    if (keyAt > 0 && rest[keyAt - 1] === '\\') continue;
    starts.push({ key: m[1]!, at: m.index, valueAt: m.index + m[0].length });
  }
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k]!;
    const end = k + 1 < starts.length ? starts[k + 1]!.at : rest.length;
    const raw = rest.slice(s.valueAt, end);
    const value = raw.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 'r' ? '\r' : ch));
    assert.ok(!ext.has(s.key), `key ${s.key} once`);
    ext.set(s.key, value);
  }
  return { header, ext };
}

function parseW3c(text: string): Array<Map<string, string | undefined>> {
  let fields: string[] | undefined;
  const out: Array<Map<string, string | undefined>> = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#Fields:\s*(.*)$/.exec(line);
      if (m) fields = m[1]!.trim().split(/\s+/);
      continue;
    }
    assert.ok(fields, 'a #Fields directive precedes the entries');
    const values: Array<string | undefined> = [];
    let i = 0;
    while (i < line.length) {
      if (line[i] === ' ') { i++; continue; }
      if (line[i] === '"') {
        let s = '';
        i++;
        for (;;) {
          assert.ok(i < line.length, 'closed quote');
          if (line[i] === '"') {
            if (line[i + 1] === '"') { s += '"'; i += 2; continue; }
            i++;
            break;
          }
          s += line[i++];
        }
        values.push(s);
      } else {
        let j = i;
        while (j < line.length && line[j] !== ' ') j++;
        const tok = line.slice(i, j);
        values.push(tok === '-' ? undefined : tok);
        i = j;
      }
    }
    assert.equal(values.length, fields.length, `one value per field: ${line}`);
    out.push(new Map(fields.map((f, k) => [f, values[k]])));
  }
  return out;
}

// ---- the lab captures, with device and user context -----------------------------------------

const CASES = ['http-host', 'tls-sni', 'flow-timeouts', 'tcp-rst', 'midstream-cloud', 'dns-cache'];

function labEvents(): Obj[] {
  const out: Obj[] = [];
  let n = 0;
  for (const c of CASES) {
    const doc = JSON.parse(readFileSync(join(import.meta.dirname, 'pcap', c, 'expected.json'), 'utf8')) as { events: Obj[] };
    for (const ev of doc.events) {
      const e = structuredClone(ev);
      e.metadata = { ...e.metadata, uid: `uid-${++n}` };
      // The pinned uids are `flow-<n>` per case: made unique across cases.
      if (e.connection_info?.uid !== undefined) e.connection_info.uid = `${c}-${e.connection_info.uid}`;
      // Device identity's context (src/devices/identity.ts): on every other event, so lines
      // with and without it are both checked.
      if (n % 2 === 0 && (e.class_uid === 4001 || e.class_uid === 4002)) {
        e.device = { uid: `dev-${n}`, type_id: 2, type: 'Desktop', hostname: `host ${n}`, mac: '02:00:00:00:00:0a', os: { name: 'Windows 11', type_id: 100, type: 'Windows' } };
        e.actor = { user: { name: `alice|${n}`, domain: 'CORP', uid_alt: `alice=${n}@corp.example` } };
      }
      out.push(e);
    }
  }
  return out;
}

/** What each line must say, from docs/DISCOVERY-FORMATS.md: [CEF key, W3C field, value] (value undefined: absent). */
function expected(ev: Obj): Array<[string, string, string | undefined]> {
  const flow = ev.class_uid === 4001;
  const bytes = ev.cumulative_traffic ?? ev.traffic;
  const num = (v: unknown) => (typeof v === 'number' ? String(v) : undefined);
  const s = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return [
    ['act', 's-action', 'Allowed'],
    ['src', 'c-ip', ev.src_endpoint?.ip],
    ['spt', 'c-port', num(ev.src_endpoint?.port)],
    ['smac', 'x-c-mac', s(ev.src_endpoint?.mac) ?? s(ev.device?.mac)],
    ['shost', 'c-dns', s(ev.device?.hostname) ?? s(ev.src_endpoint?.hostname)],
    ['suser', 'cs-username', s(ev.actor?.user?.uid_alt) ?? s(ev.actor?.user?.name)],
    ['sntdom', 'x-cs-user-domain', s(ev.actor?.user?.domain)],
    ['dst', 's-ip', ev.dst_endpoint?.ip],
    ['dpt', 's-port', num(ev.dst_endpoint?.port)],
    ['dhost', 'cs-host', flow ? s(ev.dst_endpoint?.hostname) : s(ev.http_request?.url?.hostname) ?? s(ev.dst_endpoint?.hostname)],
    ['request', 'cs-uri', flow ? undefined : s(ev.http_request?.url?.url_string)],
    ['requestMethod', 'cs-method', flow ? undefined : s(ev.http_request?.http_method)],
    ['cn1', 'sc-status', flow ? undefined : num(ev.http_response?.code)],
    ['requestClientApplication', 'cs(User-Agent)', flow ? undefined : s(ev.http_request?.user_agent)],
    ['in', 'cs-bytes', flow ? num(bytes.bytes_out) : undefined],
    ['out', 'sc-bytes', flow ? num(bytes.bytes_in) : undefined],
    ['proto', 'x-transport', s(ev.connection_info?.protocol_name)],
    ['app', 'x-app-protocol', s(ev.app_protocol_name)],
    ['cs1', 'x-connection-uid', s(ev.connection_info?.uid)],
    ['cs6', 'x-device-uid', s(ev.device?.uid)],
    ['flexString1', 'x-device-os', s(ev.device?.os?.name)],
    ['externalId', 'x-event-uid', s(ev.metadata?.uid)],
  ];
}

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
