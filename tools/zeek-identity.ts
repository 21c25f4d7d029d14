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
 * One rule reads a row the other way round, and only where Zeek's orientation is a guess: a TCP
 * connection whose handshake is not in the capture (our Network Activity events of it say
 * is_src_dst_assignment_known false: neither SYN nor SYN-ACK was seen). Zeek's originator is
 * then the first packet's sender, or the other side when its port heuristic flips it (conn.log
 * history '^'), never proven by a SYN. Such a row is matched (`matchedReversed`) by an event
 * whose client is the row's responder and whose server is the row's originator, when every field
 * Zeek filled in for the row is equal to ours, Zeek having at least one: ntlm.log `username`,
 * `domainname`, `hostname` as above and `server_nb_computer_name`, `server_dns_computer_name`,
 * `server_tree_name` against unmapped.ntlm_server_nb_computer_name, _dns_computer_name,
 * _dns_tree_name; kerberos.log `client` as above and `service` against service.name. Rows of
 * connections whose handshake was seen are compared as before, never reversed.
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
  /**
   * Rows with an event from the same client address and port, or (matchedReversed) with the
   * reversed rule above.
   */
  matched: number;
  /** Of `matched`: rows of a connection without a handshake, matched with Zeek's orientation reversed. */
  matchedReversed: number;
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

/** Zeek's fields of a row with a value, each against ours (the reversed rule); undefined: Zeek filled none in. */
function filledFieldsAgree(log: string, r: ZeekRow, e: Ev): boolean | undefined {
  const u = e.user ?? {}, m = e.unmapped ?? {};
  const pairs: Array<[string | undefined, string]> = log === 'kerberos.log'
    ? [[r.client, `${u.name ?? ''}/${u.domain ?? ''}`], [r.service, e.service?.name ?? '']]
    : [[r.username, u.name ?? ''], [r.domainname, u.domain ?? ''], [r.hostname, e.src_endpoint?.hostname ?? ''],
      [r.server_nb_computer_name, m.ntlm_server_nb_computer_name ?? ''], [r.server_dns_computer_name, m.ntlm_server_dns_computer_name ?? ''],
      [r.server_tree_name, m.ntlm_server_dns_tree_name ?? '']];
  const filled = pairs.filter(([z]) => !unset(z));
  return filled.length === 0 ? undefined : filled.every(([z, ours]) => z === ours);
}

/** Zeek's filled-in fields of a row, as the differences list shows them for a reversed row. */
function filledFields(r: ZeekRow): string {
  return Object.entries(r).filter(([k, v]) => !k.startsWith('id.') && k !== 'ts' && k !== 'uid' && !unset(v)).map(([k, v]) => `${k}=${v}`).join(' ');
}

export function compareZeekIdentity(dir: string): ZeekIdentitySummary {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ZeekManifestEntry[];
  const blank = (): IdentityLogScore => ({ rows: 0, matched: 0, matchedReversed: 0, matchedByConnection: 0, fieldsAgree: 0, differences: [] });
  const logs = { 'kerberos.log': blank(), 'ntlm.log': blank() };
  let traces = 0;
  for (const entry of manifest) {
    const events: Ev[] = [];
    // TCP connections (unordered endpoints) by whether a SYN or SYN-ACK decided their client.
    const handshake = new Map<string, boolean>();
    const conn = (a: string, ap: number, b: string, bp: number): string => (`${a}:${ap}` < `${b}:${bp}` ? `${a}:${ap}|${b}:${bp}` : `${b}:${bp}|${a}:${ap}`);
    replay({
      files: [join(dir, 'traces', entry.trace)], emit: new Set(['auth', 'network']), flows: DEFAULT_FLOW_SETTINGS,
      sink: (e) => {
        const ev = e as Ev;
        if (ev.class_uid === 3002) { events.push(ev); return; }
        if (ev.class_uid !== 4001 || ev.connection_info?.protocol_num !== 6) return;
        const k = conn(ev.src_endpoint.ip, ev.src_endpoint.port, ev.dst_endpoint.ip, ev.dst_endpoint.port);
        handshake.set(k, (handshake.get(k) ?? false) || ev.is_src_dst_assignment_known === true);
      },
    });
    traces++;
    for (const log of entry.logs) {
      if (log !== 'kerberos.log' && log !== 'ntlm.log') continue;
      const protocol = log === 'kerberos.log' ? 2 : 1;
      const mine = events.filter((e) => e.class_uid === 3002 && e.auth_protocol_id === protocol);
      const s = logs[log];
      for (const r of readZeekLog(join(dir, 'baseline', entry.test, log))) {
        s.rows++;
        const oh = r['id.orig_h'] ?? '', op = Number(r['id.orig_p']), rh = r['id.resp_h'] ?? '', rp = Number(r['id.resp_p']);
        const key = `${oh}:${op} > ${rh}:${rp}`;
        const same = mine.filter((e) => e.src_endpoint?.ip === oh && e.src_endpoint?.port === op);
        const reversed = same.length > 0 ? [] : mine.filter((e) => e.dst_endpoint?.ip === oh && e.dst_endpoint?.port === op && e.src_endpoint?.ip === rh && e.src_endpoint?.port === rp);
        const either = same.length > 0 ? same : reversed;
        if (either.length > 0) s.matchedByConnection++;
        const want = zeekFields(log, r);
        if (same.length > 0) {
          s.matched++;
          if (same.some((e) => ourFields(log, e) === want)) s.fieldsAgree++;
          else s.differences.push({ test: entry.test, key, zeek: want, ours: same.map((e) => ourFields(log, e)).join(', ') });
          continue;
        }
        // Zeek's orientation is a guess only where the capture lacks the handshake (see above).
        const guessed = handshake.get(conn(oh, op, rh, rp)) === false;
        if (guessed && reversed.some((e) => filledFieldsAgree(log, r, e) === true)) { s.matched++; s.matchedReversed++; s.fieldsAgree++; continue; }
        s.differences.push({
          test: entry.test, key, zeek: guessed ? `${want} (no handshake; filled in: ${filledFields(r) || 'none'})` : want,
          ours: reversed.map((e) => ourFields(log, e)).join(', ') || '(no event)',
        });
      }
    }
  }
  return { traces, logs };
}

export function formatIdentity(s: IdentityLogScore): string {
  const pct = (n: number) => (s.rows ? ((100 * n) / s.rows).toFixed(2) : '0');
  return `${s.matched}/${s.rows} rows matched (${pct(s.matched)} %: ${s.matched - s.matchedReversed} by client address and port, ${s.matchedReversed} reversed where the capture lacks the handshake and Zeek's filled-in fields equal ours), ${s.matchedByConnection} by connection, fields agree ${s.fieldsAgree}/${s.rows} (${pct(s.fieldsAgree)} %)`;
}

export function zeekIdentityPresent(dir: string): boolean { return existsSync(join(dir, 'manifest.json')); }
