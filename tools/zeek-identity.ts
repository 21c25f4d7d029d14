/**
 * Comparison with Zeek's kerberos.log and ntlm.log: replays the traces of
 * ../shared/corpus/zeek-identity (manifest.json) with the `auth` event kind and, for every Zeek
 * row, looks for an Authentication (3002) event of the same connection:
 * - matched: an event whose src_endpoint (the logon's client) has the row's id.orig_h and
 *   id.orig_p;
 * - matched by connection: an event of the same connection whichever side it calls the client
 *   (Zeek's originator is the TCP originator; ours is the side that sent the credentials);
 * - fields agree: kerberos.log `client` ("user/REALM"; "/REALM" when Zeek saw no name) against
 *   user.name and user.domain; ntlm.log `username`, `domainname` and `hostname` against
 *   user.name, user.domain and src_endpoint.hostname.
 * Differences are listed; docs/ACCURACY.md explains each. Exported for `npm run compare:zeek`
 * and the test beside it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { replay } from '../src/replay.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { readZeekLog, type ZeekManifestEntry, type ZeekRow } from './compare-zeek.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface IdentityLogScore {
  rows: number;
  /** Rows with an event from the same client address and port. */
  matched: number;
  /** Rows with an event of the same connection (either side as client). */
  matchedByConnection: number;
  /** Rows whose compared fields agree with the event found. */
  fieldsAgree: number;
  differences: Array<{ test: string; key: string; zeek: string; ours: string }>;
}

export interface ZeekIdentitySummary { traces: number; logs: Record<'kerberos.log' | 'ntlm.log', IdentityLogScore> }

export function defaultZeekIdentityDir(): string {
  return process.env.OUTPOST_ZEEK_IDENTITY_CORPUS ?? resolve(process.cwd(), '../shared/corpus/zeek-identity');
}

const unset = (v: string | undefined): boolean => v === undefined || v === '-' || v === '(empty)';

function zeekFields(log: string, r: ZeekRow): string {
  if (log === 'kerberos.log') return unset(r.client) ? '' : r.client!;
  return [r.username, r.domainname, r.hostname].map((v) => (unset(v) ? '' : v)).join('|');
}

function ourFields(log: string, e: Ev): string {
  const u = e.user ?? {};
  if (log === 'kerberos.log') return u.name === '' && u.domain === undefined ? '' : `${u.name ?? ''}/${u.domain ?? ''}`;
  return [u.name ?? '', u.domain ?? '', e.src_endpoint?.hostname ?? ''].join('|');
}

export function compareZeekIdentity(dir: string): ZeekIdentitySummary {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ZeekManifestEntry[];
  const blank = (): IdentityLogScore => ({ rows: 0, matched: 0, matchedByConnection: 0, fieldsAgree: 0, differences: [] });
  const logs = { 'kerberos.log': blank(), 'ntlm.log': blank() };
  let traces = 0;
  for (const entry of manifest) {
    const events: Ev[] = [];
    replay({ files: [join(dir, 'traces', entry.trace)], emit: new Set(['auth']), flows: DEFAULT_FLOW_SETTINGS, sink: (e) => { events.push(e as Ev); } });
    traces++;
    for (const log of entry.logs) {
      if (log !== 'kerberos.log' && log !== 'ntlm.log') continue;
      const protocol = log === 'kerberos.log' ? 2 : 1;
      const mine = events.filter((e) => e.class_uid === 3002 && e.auth_protocol_id === protocol);
      const s = logs[log];
      for (const r of readZeekLog(join(dir, 'baseline', entry.test, log))) {
        s.rows++;
        const oh = r['id.orig_h'], op = Number(r['id.orig_p']), rh = r['id.resp_h'], rp = Number(r['id.resp_p']);
        const key = `${oh}:${op} > ${rh}:${rp}`;
        const same = mine.filter((e) => e.src_endpoint?.ip === oh && e.src_endpoint?.port === op);
        const conn = same.length > 0 ? same : mine.filter((e) => e.dst_endpoint?.ip === oh && e.dst_endpoint?.port === op && e.src_endpoint?.ip === rh && e.src_endpoint?.port === rp);
        if (same.length > 0) s.matched++;
        if (conn.length > 0) s.matchedByConnection++;
        const want = zeekFields(log, r);
        if (conn.some((e) => ourFields(log, e) === want)) s.fieldsAgree++;
        else s.differences.push({ test: entry.test, key, zeek: want, ours: conn.map((e) => ourFields(log, e)).join(', ') || '(no event)' });
      }
    }
  }
  return { traces, logs };
}

export function formatIdentity(s: IdentityLogScore): string {
  const pct = (n: number) => (s.rows ? ((100 * n) / s.rows).toFixed(2) : '0');
  return `${s.matched}/${s.rows} rows matched by client address and port (${pct(s.matched)} %), ${s.matchedByConnection} by connection, fields agree ${s.fieldsAgree}/${s.rows} (${pct(s.fieldsAgree)} %)`;
}

export function zeekIdentityPresent(dir: string): boolean { return existsSync(join(dir, 'manifest.json')); }
