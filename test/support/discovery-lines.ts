/**
 * Cloud Discovery lines read back from their specifications, shared by
 * test/forward-discovery-format.test.ts (the formatter) and test/forward-syslog.test.ts (the
 * syslog sink's `generic-cef` format, through rsyslog).
 *
 * Parsers: written from the format specifications, not from the formatter's code. CEF (Implementing
 * ArcSight CEF rev 25): seven header fields separated by unescaped `|` (`\|`, `\\` escaped), then
 * the extension: `key=value` pairs separated by spaces, a value running up to the space before the
 * next `key=`, with `\=`, `\\`, `\n`, `\r` escaped. W3C (WD-logfile-960323): `#` lines are
 * directives, `#Fields:` names the columns, entries are space-separated, `-` is a missing value, a
 * quoted string has `""` for a quote.
 *
 * Lab events: the events of pinned lab captures (test/pcap/<case>/expected.json: what `outpost
 * replay` writes for them), with device and user context added as device identity adds it; the
 * expectations (`expected`) are written from docs/DISCOVERY-FORMATS.md's field list, not taken
 * from the formatter's table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---- parsers from the specifications --------------------------------------------------------

export function parseCef(line: string): { header: string[]; ext: Map<string, string> } {
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

export function parseW3c(text: string): Array<Map<string, string | undefined>> {
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

export const CASES = ['http-host', 'tls-sni', 'flow-timeouts', 'tcp-rst', 'midstream-cloud', 'dns-cache'];

export function labEvents(): Obj[] {
  const out: Obj[] = [];
  let n = 0;
  for (const c of CASES) {
    const doc = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'pcap', c, 'expected.json'), 'utf8')) as { events: Obj[] };
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
export function expected(ev: Obj): Array<[string, string, string | undefined]> {
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
