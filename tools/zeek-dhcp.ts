/**
 * Comparison with Zeek's dhcp.log: replays the traces of ../shared/corpus/zeek whose manifest
 * entry lists dhcp.log, builds DHCP Activity events with DeviceIdentity, aggregates them the way
 * Zeek's base/protocols/dhcp/main.zeek does (one row per transaction id, messages within
 * DHCP::max_txid_watch_time = 30 s of the first), and compares per row: MAC, assigned address,
 * host name and lease time. Rows are paired greedily (most fields in common, same MAC first).
 * Exported for `npm run compare:zeek` (the lead's tool) and the test beside it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sensor } from '../src/sensor.js';
import { readCaptureFile, CaptureFileCounters } from '../src/capture/capture-file.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { DeviceIdentity } from '../src/devices/identity.js';
import { DeviceStore } from '../src/devices/store.js';

export const ZEEK_DHCP_FIELDS = ['mac', 'assigned_addr', 'host_name', 'lease_time'] as const;
type Field = (typeof ZEEK_DHCP_FIELDS)[number];
export type DhcpRow = Record<Field, string> & { msg_types: string };

export interface ZeekDhcpCaps { maxMsgTypesPerLogEntry?: number; maxUidsPerLogEntry?: number }
/**
 * Caps the two `prevent-large-*` baselines were produced with: Zeek's defaults are 50 message
 * types and 10 connections per entry; these tests lower them (their rows hold at most 8 message
 * types, resp. 5 connections), although the manifest does not flag them as non-default.
 */
export const ZEEK_TEST_CAPS: Record<string, ZeekDhcpCaps> = {
  'scripts.base.protocols.dhcp.dhcp-prevent-large-msgtypes': { maxMsgTypesPerLogEntry: 8 },
  'scripts.base.protocols.dhcp.dhcp-prevent-large-uids': { maxUidsPerLogEntry: 5 },
};

/** Zeek's DHCP::max_txid_watch_time. */
const TXID_WATCH_MS = 30_000;

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** DHCP Activity events of one capture file. */
export function replayDhcpEvents(path: string): Ev[] {
  const events: Ev[] = [];
  const identity = new DeviceIdentity({ store: new DeviceStore(), emitDhcp: true, sink: (e) => events.push(e as Ev) });
  const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(), sink: () => {}, inspect: false, packetObservers: [identity.observer] });
  readCaptureFile(path, sensor.onPacket, new CaptureFileCounters());
  return events;
}

/** Zeek-style aggregation of DHCP Activity events into dhcp.log rows. */
export function aggregateLikeZeek(events: Ev[], caps: ZeekDhcpCaps = {}): DhcpRow[] {
  const maxMsgTypes = caps.maxMsgTypesPerLogEntry ?? 50, maxUids = caps.maxUidsPerLogEntry ?? 10;
  interface G { start: number; xid: string; row: DhcpRow; types: number; uids: Set<string> }
  const open = new Map<string, G>();
  const rows: G[] = [];
  for (const e of events) {
    const xid = String(e.transaction_uid);
    let g = open.get(xid);
    if (g === undefined || e.time - g.start > TXID_WATCH_MS) {
      g = { start: e.time, xid, row: { mac: '-', assigned_addr: '-', host_name: '-', lease_time: '-', msg_types: '' }, types: 0, uids: new Set() };
      open.set(xid, g);
      rows.push(g);
    }
    const r = g.row;
    const type = String(e.unmapped?.dhcp_msg_type ?? '');
    r.msg_types = r.msg_types === '' ? type : `${r.msg_types},${type}`;
    const fromClient = ['DISCOVER', 'REQUEST', 'DECLINE', 'RELEASE', 'INFORM'].includes(type);
    if (e.src_endpoint?.mac !== undefined && (fromClient || r.mac === '-')) r.mac = e.src_endpoint.mac;
    if (fromClient && e.src_endpoint?.hostname !== undefined && e.unmapped?.dhcp_client_fqdn !== e.src_endpoint.hostname) r.host_name = e.src_endpoint.hostname;
    if (type === 'ACK' && e.src_endpoint?.ip !== undefined && e.activity_id === 5) {
      // Zeek: assigned_addr is the ACK's yiaddr (an INFORM's ACK has none).
      if (e.unmapped?.dhcp_yiaddr !== undefined) r.assigned_addr = e.unmapped.dhcp_yiaddr;
    }
    if (!fromClient && typeof e.lease_dur === 'number') r.lease_time = `${e.lease_dur.toFixed(6)}`;
    // Zeek writes the entry early once it holds max_msg_types_per_log_entry message types or
    // max_uids_per_log_entry connections (checked after adding the message).
    const a = `${e.unmapped?.pkt_src}`, b = `${e.unmapped?.pkt_dst}`;
    g.uids.add(a < b ? `${a}|${b}` : `${b}|${a}`);
    g.types++;
    if (g.types >= maxMsgTypes || g.uids.size >= maxUids) open.delete(xid);
  }
  return rows.map((g) => g.row);
}

export interface ZeekDhcpDifference { test: string; field: string; zeek: string; ours: string }
export interface ZeekDhcpSummary {
  traces: number;
  zeekRows: number;
  oursRows: number;
  fieldsCompared: number;
  fieldsAgree: number;
  agreementPct: number;
  rowsFullyAgree: number;
  differences: ZeekDhcpDifference[];
}

function readLog(path: string): Record<string, string>[] {
  const rows: Record<string, string>[] = [];
  let fields: string[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('#fields\t')) { fields = line.split('\t').slice(1); continue; }
    if (line === '' || line.startsWith('#')) continue;
    const v = line.split('\t');
    const row: Record<string, string> = {};
    fields.forEach((f, i) => { row[f] = v[i] ?? '-'; });
    rows.push(row);
  }
  return rows;
}

/** Replays every dhcp.log trace of the Zeek corpus at `corpusDir` and scores the agreement. */
export function compareZeekDhcp(corpusDir: string): ZeekDhcpSummary {
  const manifest = JSON.parse(readFileSync(join(corpusDir, 'manifest.json'), 'utf8')) as Array<{ test: string; trace: string; logs: string[] }>;
  const s: ZeekDhcpSummary = { traces: 0, zeekRows: 0, oursRows: 0, fieldsCompared: 0, fieldsAgree: 0, agreementPct: 0, rowsFullyAgree: 0, differences: [] };
  for (const m of manifest) {
    if (!m.logs.includes('dhcp.log')) continue;
    const trace = join(corpusDir, 'traces', m.trace);
    const log = join(corpusDir, 'baseline', m.test, 'dhcp.log');
    if (!existsSync(trace) || !existsSync(log)) continue;
    s.traces++;
    const zeek = readLog(log);
    const ours = aggregateLikeZeek(replayDhcpEvents(trace), ZEEK_TEST_CAPS[m.test]);
    s.zeekRows += zeek.length;
    s.oursRows += ours.length;
    const used = new Set<number>();
    for (const z of zeek) {
      let best = -1, bestScore = -1;
      ours.forEach((o, i) => {
        if (used.has(i)) return;
        let score = ZEEK_DHCP_FIELDS.filter((f) => norm(f, o[f]) === norm(f, z[f] ?? '-')).length;
        if (o.msg_types === z.msg_types) score += 0.5;
        if (score > bestScore) { bestScore = score; best = i; }
      });
      const o = best >= 0 ? ours[best]! : undefined;
      if (best >= 0) used.add(best);
      let all = true;
      for (const f of ZEEK_DHCP_FIELDS) {
        s.fieldsCompared++;
        const zv = norm(f, z[f] ?? '-'), ov = o === undefined ? '(no row)' : norm(f, o[f]);
        if (zv === ov) s.fieldsAgree++;
        else { all = false; if (s.differences.length < 50) s.differences.push({ test: m.test, field: f, zeek: zv, ours: ov }); }
      }
      if (all) s.rowsFullyAgree++;
    }
  }
  s.agreementPct = s.fieldsCompared === 0 ? 0 : Math.round((10000 * s.fieldsAgree) / s.fieldsCompared) / 100;
  return s;
}

function norm(f: Field, v: string): string {
  if (v === '' || v === '(empty)') return '-';
  if (f === 'lease_time' && v !== '-') return String(Math.round(Number(v)));
  return v;
}
