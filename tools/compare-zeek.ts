/**
 * `npm run compare:zeek`: replays the traces of ../shared/corpus/zeek (manifest.json) and compares
 * what Zeek logged with our events, connection by connection:
 * - ssl.log and quic.log `server_name` ↔ the SNI on our Network Activity event of that connection;
 * - http.log `host` ↔ `http_request.url.hostname` of our HTTP Activity events, in request order;
 * - dns.log `query` ↔ `query.hostname` of our DNS Activity events with the same transaction id,
 *   read the way Zeek fills that field (below).
 * A row agrees when both sides have the same name, or both have none. Baselines Zeek produced with
 * non-default settings are reported separately (they may differ by design).
 *
 * Rows where a sensor stricter than the servers it watches would lose the name are also scored
 * on their own (`lenient`, included in the figures above): http.log rows whose `method` is not
 * one of the nine registered in RFC 9110 (WebDAV PROPFIND, MKCOL, LOCK, ..., CCM_POST); http.log
 * rows of request lines off RFC 9112 §3 that Zeek still reads (empty `uri`: no target; a
 * `version` other than 0.9/1.0/1.1: a bad or truncated one); dns.log rows of DNS UPDATE messages
 * (our event's opcode_id 5; Zeek logs the zone as `query`).
 *
 * Zeek's dns.log `query` is not "the question of the message": base/protocols/dns/main.zeek sets it
 * from the request's question (event dns_request, raised for QR = 0 only) or, when only the reply
 * was seen, from the owner name of the reply's first answer record (hook DNS::do_reply, answer
 * section only). A reply without its request and without answers therefore has no query in
 * Zeek's log even though its question section names one. We compare like with like: for such a
 * reply our value is its question name when it carries answers (the first answer's owner is the
 * QNAME, or the head of the CNAME chain that starts at it: RFC 1035 §4.3.2 step 3) and none when
 * it has no answers. The plain question-to-query comparison is reported too (`dnsQuestionRows`),
 * so the difference this makes stays visible.
 */
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { replay } from '../src/replay.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { compareZeekDhcp, type ZeekDhcpSummary } from './zeek-dhcp.js';
import { writeLenientCorpus } from '../test/fixtures/lenient-corpus.js';
import { compareZeekIdentity, defaultZeekIdentityDir, formatIdentity, zeekIdentityPresent, type ZeekIdentitySummary } from './zeek-identity.js';

export interface ZeekManifestEntry { test: string; trace: string; logs: string[]; non_default_settings: boolean }
export type ZeekRow = Record<string, string>;

/** Reads a Zeek TSV log (`#fields` header, `-` unset, `(empty)` empty). */
export function readZeekLog(path: string): ZeekRow[] {
  const rows: ZeekRow[] = [];
  let fields: string[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('#fields\t')) { fields = line.split('\t').slice(1); continue; }
    if (line === '' || line.startsWith('#')) continue;
    const values = line.split('\t');
    const row: ZeekRow = {};
    fields.forEach((f, i) => { row[f] = values[i] ?? '-'; });
    rows.push(row);
  }
  return rows;
}

export interface LogScore { rows: number; agree: number; differences: Array<{ test: string; key: string; zeek: string; ours: string }> }
/** Registered methods (RFC 9110 §9.3, RFC 5789): anything else in http.log is an extension method. */
const REGISTERED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** Versions Zeek logs for well-formed request lines (HTTP/0.9 has none on the line). */
const PLAIN_VERSIONS = new Set(['0.9', '1.0', '1.1']);

export interface LenientScores {
  httpExtensionMethod: LogScore;
  httpOddRequestLine: LogScore;
  dnsUpdate: LogScore;
}

export interface ZeekSummary {
  traces: number;
  /** Rows a strict sensor would lose (see the module comment); default-settings baselines only. */
  lenient: LenientScores;
  /** dns.log rows compared with the question name of our event, whatever Zeek's field holds. */
  dnsQuestion: LogScore;
  logs: Record<string, LogScore>;
  nonDefault: Record<string, LogScore>;
  totalRows: number;
  totalAgree: number;
  agreementPct: number;
}

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function connKey(a: string, ap: string | number, b: string, bp: string | number): string {
  const x = `${a}|${ap}`, y = `${b}|${bp}`;
  return x < y ? `${x}|${y}` : `${y}|${x}`;
}

function unset(v: string | undefined): boolean {
  return v === undefined || v === '-' || v === '(empty)' || v === '';
}

/** Host header value as a name: lowercase, without port or IPv6 brackets. */
function hostName(v: string): string {
  let h = v.toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  if (colon > 0 && h.indexOf(':') === colon) h = h.slice(0, colon);
  return h.replace(/\.$/, '');
}

function score(into: LogScore, test: string, key: string, zeek: string, ours: string | undefined): void {
  into.rows++;
  const z = unset(zeek) ? '' : zeek;
  const o = ours ?? '';
  if (z === o) into.agree++;
  else into.differences.push({ test, key, zeek: z, ours: o });
}

export function compareZeek(dir: string): ZeekSummary {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ZeekManifestEntry[];
  const logs: Record<string, LogScore> = {};
  const nonDefault: Record<string, LogScore> = {};
  const bucket = (e: ZeekManifestEntry, log: string): LogScore => {
    const target = e.non_default_settings ? nonDefault : logs;
    return (target[log] ??= { rows: 0, agree: 0, differences: [] });
  };
  const dnsQuestion: LogScore = { rows: 0, agree: 0, differences: [] };
  const lenient: LenientScores = {
    httpExtensionMethod: { rows: 0, agree: 0, differences: [] },
    httpOddRequestLine: { rows: 0, agree: 0, differences: [] },
    dnsUpdate: { rows: 0, agree: 0, differences: [] },
  };
  let traces = 0;
  const cache = new Map<string, Ev[]>();
  for (const entry of manifest) {
    const wanted = entry.logs.filter((l) => l === 'ssl.log' || l === 'quic.log' || l === 'http.log' || l === 'dns.log');
    if (wanted.length === 0) continue;
    const trace = join(dir, 'traces', entry.trace);
    let events = cache.get(trace);
    if (!events) {
      const collected: Ev[] = [];
      replay({ files: [trace], emit: new Set(['network', 'dns', 'http']), flows: DEFAULT_FLOW_SETTINGS, sink: (e) => collected.push(e as Ev) });
      events = collected;
      cache.set(trace, events);
      traces++;
    }
    // Index our events by connection.
    const sni = new Map<string, string>();
    const http = new Map<string, string[]>();
    const dns = new Map<string, string[]>();
    // Per DNS transaction key: did we see its request; did its response carry answers.
    const dnsRequestSeen = new Set<string>();
    const dnsAnswered = new Set<string>();
    const dnsUpdate = new Set<string>();
    for (const e of events) {
      const k = connKey(e.src_endpoint?.ip, e.src_endpoint?.port ?? 0, e.dst_endpoint?.ip, e.dst_endpoint?.port ?? 0);
      if (e.class_uid === 4001) {
        const name = e.tls?.sni ?? (e.unmapped?.hostname_source === 'quic' ? e.dst_endpoint?.hostname : undefined);
        if (name !== undefined) sni.set(k, name);
      } else if (e.class_uid === 4002) {
        const list = http.get(k) ?? [];
        list.push(e.http_request?.url?.hostname ?? '');
        http.set(k, list);
      } else if (e.class_uid === 4003) {
        const dk = `${k}|${e.query?.packet_uid}`;
        const list = dns.get(dk) ?? [];
        list.push(e.query?.hostname ?? '');
        dns.set(dk, list);
        if (e.query?.opcode_id === 5) dnsUpdate.add(dk);
        if (e.activity_id === 1) dnsRequestSeen.add(dk);
        else if (Array.isArray(e.answers) && e.answers.length > 0) dnsAnswered.add(dk);
      }
    }
    const baseline = join(dir, 'baseline', entry.test);
    for (const log of wanted) {
      const path = join(baseline, log);
      if (!existsSync(path)) continue;
      const rows = readZeekLog(path);
      const httpSeen = new Map<string, number>();
      for (const r of rows) {
        const k = connKey(r['id.orig_h']!, r['id.orig_p']!, r['id.resp_h']!, r['id.resp_p']!);
        if (log === 'ssl.log' || log === 'quic.log') {
          score(bucket(entry, log), entry.test, k, r.server_name ?? '-', sni.get(k));
        } else if (log === 'http.log') {
          const i = httpSeen.get(k) ?? 0;
          httpSeen.set(k, i + 1);
          const zeekHost = unset(r.host) ? '-' : hostName(r.host!);
          score(bucket(entry, log), entry.test, `${k}#${i}`, zeekHost, http.get(k)?.[i]);
          if (!entry.non_default_settings) {
            if (r.method !== undefined && !unset(r.method) && !REGISTERED_METHODS.has(r.method)) {
              score(lenient.httpExtensionMethod, entry.test, `${k}#${i}`, zeekHost, http.get(k)?.[i]);
            }
            const noUri = r.uri !== undefined && unset(r.uri) && !unset(r.method);
            const oddVersion = r.version !== undefined && !unset(r.version) && !PLAIN_VERSIONS.has(r.version);
            if (noUri || oddVersion) score(lenient.httpOddRequestLine, entry.test, `${k}#${i}`, zeekHost, http.get(k)?.[i]);
          }
        } else {
          const dk = `${k}|${r.trans_id}`;
          const ours = dns.get(dk);
          const zq = unset(r.query) ? '' : r.query!.toLowerCase().replace(/\.$/, '');
          const question = ours?.includes(zq) ? zq : ours?.[0];
          if (!entry.non_default_settings) score(dnsQuestion, entry.test, dk, zq, question);
          // Zeek's reading of a reply seen without its request: the first answer's owner, if any.
          const replyOnly = ours !== undefined && !dnsRequestSeen.has(dk);
          const oursDns = replyOnly && !dnsAnswered.has(dk) ? '' : question;
          score(bucket(entry, log), entry.test, dk, zq, oursDns);
          if (!entry.non_default_settings && dnsUpdate.has(dk)) score(lenient.dnsUpdate, entry.test, dk, zq, oursDns);
        }
      }
    }
  }
  let totalRows = 0, totalAgree = 0;
  for (const s of Object.values(logs)) { totalRows += s.rows; totalAgree += s.agree; }
  return { traces, lenient, dnsQuestion, logs, nonDefault, totalRows, totalAgree, agreementPct: totalRows ? (100 * totalAgree) / totalRows : 0 };
}

export function defaultZeekDir(): string {
  return process.env.OUTPOST_ZEEK_CORPUS ?? resolve(process.cwd(), '../shared/corpus/zeek');
}

function main(): void {
  const dir = defaultZeekDir();
  if (!existsSync(join(dir, 'manifest.json'))) {
    console.error(`compare:zeek skipped: Zeek corpus not found at ${dir} (set OUTPOST_ZEEK_CORPUS)`);
    return;
  }
  const s = compareZeek(dir);
  // The corpus lacks extension methods, odd request lines and DNS UPDATE: a small one built from
  // test/fixtures/lenient-corpus.ts (logs as Zeek writes them for those packets) is scored too.
  const built = compareZeek(writeLenientCorpus(resolve('test-output/zeek-built')));
  // dhcp.log: MAC, assigned address, host name and lease time per row (tools/zeek-dhcp.ts).
  const dhcp: ZeekDhcpSummary = compareZeekDhcp(dir);
  // kerberos.log and ntlm.log from the identity corpus (tools/zeek-identity.ts).
  const identityDir = defaultZeekIdentityDir();
  const identity: ZeekIdentitySummary | undefined = zeekIdentityPresent(identityDir) ? compareZeekIdentity(identityDir) : undefined;
  mkdirSync('test-output', { recursive: true });
  writeFileSync('test-output/compare-zeek.json', JSON.stringify({ ...s, dhcp, built, identity }, null, 1));
  const fmt = (m: Record<string, LogScore>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, `${v.agree}/${v.rows} (${v.rows ? ((100 * v.agree) / v.rows).toFixed(2) : '0'} %)`]));
  if (process.argv.includes('--verbose')) {
    for (const [log, v] of [...Object.entries(s.logs), ...Object.entries(s.nonDefault), ...Object.entries(identity?.logs ?? {})]) {
      for (const d of v.differences) console.log(`${log} ${d.test} ${d.key}: zeek "${d.zeek}" ours "${d.ours}"`);
    }
  }
  console.log(JSON.stringify({
    traces: s.traces, byLog: fmt(s.logs), nonDefaultSettings: fmt(s.nonDefault),
    dhcpLog: `${dhcp.fieldsAgree}/${dhcp.fieldsCompared} fields, ${dhcp.rowsFullyAgree}/${dhcp.zeekRows} rows (${dhcp.agreementPct.toFixed(2)} %)`,
    lenientRows: Object.fromEntries(Object.entries(s.lenient).map(([k, v]) => [k, `${v.agree}/${v.rows}`])),
    builtCorpus: {
      traces: built.traces, byLog: fmt(built.logs),
      lenientRows: Object.fromEntries(Object.entries(built.lenient).map(([k, v]) => [k, `${v.agree}/${v.rows}`])),
    },
    kerberosLog: identity ? formatIdentity(identity.logs['kerberos.log']) : `skipped: no corpus at ${identityDir}`,
    ntlmLog: identity ? formatIdentity(identity.logs['ntlm.log']) : `skipped: no corpus at ${identityDir}`,
    dnsQuestionRows: `${s.dnsQuestion.agree}/${s.dnsQuestion.rows} (question name against Zeek's query field, whatever Zeek filled it from)`,
    nameRows: s.totalRows, nameRowsAgree: s.totalAgree, nameAgreementPct: Number(s.agreementPct.toFixed(3)),
    allRows: s.totalRows + dhcp.zeekRows, allRowsAgree: s.totalAgree + dhcp.rowsFullyAgree,
    allAgreementPct: Number(((100 * (s.totalAgree + dhcp.rowsFullyAgree)) / (s.totalRows + dhcp.zeekRows)).toFixed(3)),
    details: 'test-output/compare-zeek.json',
  }, null, 2));
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main();
