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

const HEADER_SPECIAL = /[\\|\r\n]/;
const EXTENSION_SPECIAL = /[\\=\r\n]/;

const HEADER_ESCAPES: Record<string, string> = { '\\': '\\\\', '|': '\\|', '\r\n': ' ', '\r': ' ', '\n': ' ' };
const EXTENSION_ESCAPES: Record<string, string> = { '\\': '\\\\', '=': '\\=', '\r\n': '\\n', '\r': '\\r', '\n': '\\n' };
const headerEscape = (c: string) => HEADER_ESCAPES[c] ?? c;
const extensionEscape = (c: string) => EXTENSION_ESCAPES[c] ?? c;

export function escapeHeader(s: string): string {
  if (!HEADER_SPECIAL.test(s)) return s; // the common case: no copy
  return s.replace(/[\\|]|\r\n|[\r\n]/g, headerEscape);
}

export function escapeExtension(s: string): string {
  if (!EXTENSION_SPECIAL.test(s)) return s;
  return s.replace(/[\\=]|\r\n|[\r\n]/g, extensionEscape);
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' ? (v as Obj) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined);

/** OCSF severity_id → CEF severity 0-10 ('Unknown' for 0/other). */
const CEF_SEVERITY: Record<number, string> = { 1: '1', 2: '3', 3: '5', 4: '7', 5: '9', 6: '10' };
export function cefSeverity(id: unknown): string {
  return typeof id === 'number' ? CEF_SEVERITY[id] ?? 'Unknown' : 'Unknown';
}

/** OCSF severity_id → syslog severity (RFC 5424 §6.2.1). */
const SYSLOG_SEVERITY: Record<number, number> = { 0: 6, 1: 6, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1 };
export function syslogSeverity(id: unknown): number {
  return typeof id === 'number' ? SYSLOG_SEVERITY[id] ?? 6 : 6;
}

/** `CEF:0|vendor|product|version|` with the configured fields escaped (computed once per sink). */
export function cefPrefix(h: CefHeader): string {
  return `CEF:0|${escapeHeader(h.vendor)}|${escapeHeader(h.product)}|${escapeHeader(h.version)}|`;
}

/** Append ` key=value` (escaped) when the value is present and not empty. */
function ext(out: string, key: string, v: string | undefined): string {
  if (v === undefined || v === '') return out;
  return (out === '' ? '' : out + ' ') + key + '=' + escapeExtension(v);
}

/**
 * The CEF line for one OCSF event. Pass the result of cefPrefix() instead of the header fields
 * to skip escaping them for every event. Built by appending (no intermediate arrays): it runs
 * once per event in the syslog sink.
 */
export function toCef(ev: Obj, h: CefHeader | string): string {
  const md = obj(ev['metadata']);
  const src = obj(ev['src_endpoint']);
  const dst = obj(ev['dst_endpoint']);
  const conn = obj(ev['connection_info']);
  const traffic = obj(ev['traffic']);
  const http = obj(ev['http_request']);
  const url = obj(http?.['url']);
  const className = str(ev['class_name']) ?? 'OCSF event';
  const activity = str(ev['activity_name']);
  const dir = conn?.['direction_id'];
  let e = '';
  e = ext(e, 'rt', str(ev['time']));
  e = ext(e, 'start', str(ev['start_time']));
  e = ext(e, 'end', str(ev['end_time']));
  e = ext(e, 'act', activity);
  e = ext(e, 'cat', str(ev['category_name']));
  e = ext(e, 'externalId', str(md?.['uid']));
  e = ext(e, 'src', str(src?.['ip']));
  e = ext(e, 'spt', str(src?.['port']));
  e = ext(e, 'smac', str(src?.['mac']));
  e = ext(e, 'shost', str(src?.['hostname']));
  e = ext(e, 'dst', str(dst?.['ip']));
  e = ext(e, 'dpt', str(dst?.['port']));
  e = ext(e, 'dmac', str(dst?.['mac']));
  e = ext(e, 'dhost', str(dst?.['hostname']));
  e = ext(e, 'proto', str(conn?.['protocol_name'])?.toUpperCase());
  e = ext(e, 'deviceDirection', dir === 1 ? '0' : dir === 2 ? '1' : undefined);
  e = ext(e, 'out', str(traffic?.['bytes_out']));
  e = ext(e, 'in', str(traffic?.['bytes_in']));
  e = ext(e, 'cn1', str(traffic?.['packets_out']));
  e = ext(e, 'cn1Label', traffic?.['packets_out'] === undefined ? undefined : 'packetsOut');
  e = ext(e, 'cn2', str(traffic?.['packets_in']));
  e = ext(e, 'cn2Label', traffic?.['packets_in'] === undefined ? undefined : 'packetsIn');
  e = ext(e, 'cs1', str(conn?.['uid']));
  e = ext(e, 'cs1Label', conn?.['uid'] === undefined ? undefined : 'connectionUid');
  e = ext(e, 'requestMethod', str(http?.['http_method']));
  e = ext(e, 'request', str(url?.['url_string']));
  e = ext(e, 'msg', str(ev['message']));
  const prefix = typeof h === 'string' ? h : cefPrefix(h);
  const eventClass = escapeHeader(str(ev['type_uid']) ?? str(ev['class_uid']) ?? '0');
  const name = escapeHeader(activity ? `${className}: ${activity}` : className);
  return `${prefix}${eventClass}|${name}|${cefSeverity(ev['severity_id'])}|${e}`;
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

let cachedHostname: string | undefined;

/** ` HOSTNAME APP-NAME PROCID ` of RFC 5424: fixed per sink, so computed once (os.hostname() is a syscall). */
export function rfc5424Middle(o: Rfc5424Options): string {
  const host = o.hostname || (cachedHostname ??= osHostname());
  return ` ${nilOr(host, 255)} ${nilOr(o.appName, 48)} ${nilOr(o.procId ?? String(process.pid), 128)} `;
}

/** RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG. `o` may be rfc5424Middle(o). */
export function toRfc5424(ev: Obj, cef: string, o: Rfc5424Options, middle = rfc5424Middle(o)): string {
  const t = typeof ev['time'] === 'number' ? (ev['time'] as number) : Date.now();
  const pri = o.facility * 8 + syslogSeverity(ev['severity_id']);
  const ts = Number.isFinite(t) ? new Date(t).toISOString() : '-';
  const cls = str(ev['class_uid']);
  const msgid = cls !== undefined && /^[\x21-\x7e]{1,28}$/.test(cls) ? 'ocsf' + cls : nilOr(`ocsf${cls ?? ''}`, 32);
  return `<${pri}>1 ${ts}${middle}${msgid} - ${cef}`;
}

/** RFC 6587 §3.4.1 octet counting: "MSG-LEN SP SYSLOG-MSG". */
export function octetFrame(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}
