/**
 * OCSF → CEF (ArcSight Common Event Format, Implementing ArcSight CEF, revision 25) and RFC 5424
 * framing.
 *
 * CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
 *
 * Escaping (rev 25): in header fields a pipe and a backslash are escaped with a backslash (`\|`,
 * `\\`); header fields cannot hold line breaks, so CR/LF become spaces. In extension values a
 * backslash and an equals sign are escaped (`\\`, `\=`) and line breaks are written `\n` / `\r`
 * (pipes are not escaped there). Extension keys are fixed ASCII names below.
 */
import { hostname as osHostname } from 'node:os';

export interface CefHeader {
  vendor: string;
  product: string;
  version: string;
}

export function escapeHeader(s: string): string {
  return s.replace(/[\\|]/g, (c) => '\\' + c).replace(/\r\n|[\r\n]/g, ' ');
}

export function escapeExtension(s: string): string {
  return s.replace(/[\\=]/g, (c) => '\\' + c).replace(/\r\n|\r|\n/g, (c) => (c === '\r' ? '\\r' : '\\n'));
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' ? (v as Obj) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined);

/** OCSF severity_id → CEF severity 0-10 ('Unknown' for 0/other). */
export function cefSeverity(id: unknown): string {
  const m: Record<number, string> = { 1: '1', 2: '3', 3: '5', 4: '7', 5: '9', 6: '10' };
  return typeof id === 'number' ? m[id] ?? 'Unknown' : 'Unknown';
}

/** OCSF severity_id → syslog severity (RFC 5424 §6.2.1). */
export function syslogSeverity(id: unknown): number {
  const m: Record<number, number> = { 0: 6, 1: 6, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1 };
  return typeof id === 'number' ? m[id] ?? 6 : 6;
}

/** The CEF line for one OCSF event. */
export function toCef(ev: Obj, h: CefHeader): string {
  const md = obj(ev['metadata']);
  const src = obj(ev['src_endpoint']);
  const dst = obj(ev['dst_endpoint']);
  const conn = obj(ev['connection_info']);
  const traffic = obj(ev['traffic']);
  const http = obj(ev['http_request']);
  const url = obj(http?.['url']);
  const className = str(ev['class_name']) ?? 'OCSF event';
  const activity = str(ev['activity_name']);
  const ext: Array<[string, string | undefined]> = [
    ['rt', str(ev['time'])],
    ['start', str(ev['start_time'])],
    ['end', str(ev['end_time'])],
    ['act', activity],
    ['cat', str(ev['category_name'])],
    ['externalId', str(md?.['uid'])],
    ['src', str(src?.['ip'])],
    ['spt', str(src?.['port'])],
    ['smac', str(src?.['mac'])],
    ['shost', str(src?.['hostname'])],
    ['dst', str(dst?.['ip'])],
    ['dpt', str(dst?.['port'])],
    ['dmac', str(dst?.['mac'])],
    ['dhost', str(dst?.['hostname'])],
    ['proto', str(conn?.['protocol_name'])?.toUpperCase()],
    ['deviceDirection', conn?.['direction_id'] === 1 ? '0' : conn?.['direction_id'] === 2 ? '1' : undefined],
    ['out', str(traffic?.['bytes_out'])],
    ['in', str(traffic?.['bytes_in'])],
    ['cn1', str(traffic?.['packets_out'])],
    ['cn1Label', traffic?.['packets_out'] === undefined ? undefined : 'packetsOut'],
    ['cn2', str(traffic?.['packets_in'])],
    ['cn2Label', traffic?.['packets_in'] === undefined ? undefined : 'packetsIn'],
    ['cs1', str(conn?.['uid'])],
    ['cs1Label', conn?.['uid'] === undefined ? undefined : 'connectionUid'],
    ['requestMethod', str(http?.['http_method'])],
    ['request', str(url?.['url_string'])],
    ['msg', str(ev['message'])],
  ];
  const extension = ext
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${escapeExtension(v)}`)
    .join(' ');
  const header = [
    'CEF:0',
    escapeHeader(h.vendor),
    escapeHeader(h.product),
    escapeHeader(h.version),
    escapeHeader(str(ev['type_uid']) ?? str(ev['class_uid']) ?? '0'),
    escapeHeader(activity ? `${className}: ${activity}` : className),
    cefSeverity(ev['severity_id']),
  ].join('|');
  return `${header}|${extension}`;
}

export interface Rfc5424Options {
  facility: number;
  hostname: string;
  appName: string;
  procId?: string;
}

const nilOr = (s: string, max: number) => {
  const v = s.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return v === '' ? '-' : v;
};

/** RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG */
export function toRfc5424(ev: Obj, cef: string, o: Rfc5424Options): string {
  const t = typeof ev['time'] === 'number' ? (ev['time'] as number) : Date.now();
  const pri = o.facility * 8 + syslogSeverity(ev['severity_id']);
  const ts = Number.isFinite(t) ? new Date(t).toISOString() : '-';
  const msgid = `ocsf${str(ev['class_uid']) ?? ''}`;
  return `<${pri}>1 ${ts} ${nilOr(o.hostname || osHostname(), 255)} ${nilOr(o.appName, 48)} ${nilOr(o.procId ?? String(process.pid), 128)} ${nilOr(msgid, 32)} - ${cef}`;
}

/** RFC 6587 §3.4.1 octet counting: "MSG-LEN SP SYSLOG-MSG". */
export function octetFrame(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}
