/**
 * Cloud Discovery line formats: the traffic-log lines Defender for Cloud Apps' Cloud Discovery
 * parses, read off the one event model (the OCSF events of src/events/*), one line per flow and
 * one per HTTP request.
 *
 * Sources followed (docs/DISCOVERY-FORMATS.md lists every field and where it comes from):
 * - Supported data sources and the attributes Cloud Discovery reads from a log ("Target App URL,
 *   Target App IP, Username, Origin IP, Total traffic, Uploaded bytes"):
 *   https://learn.microsoft.com/en-us/defender-cloud-apps/set-up-cloud-discovery
 * - The log-upload source types, among them GENERIC_CEF and GENERIC_W3C (and *_SYSLOG for the
 *   log collector): https://learn.microsoft.com/en-us/defender-cloud-apps/api-discovery-initiate
 * - CEF: Implementing ArcSight Common Event Format, revision 25 (header, escaping, the key
 *   dictionary), as for the syslog sink (cef.ts, docs/CEF.md).
 * - W3C: Extended Log File Format, W3C Working Draft WD-logfile-960323
 *   (https://www.w3.org/TR/WD-logfile.html): `#Version` / `#Fields` directives, one entry per
 *   line, fields separated by spaces, `-` for a missing field, `date` YYYY-MM-DD and `time`
 *   HH:MM:SS in GMT, prefixes c (client), s (server), cs / sc (client to server / server to
 *   client) and `x-` for application-specific fields; a string field in double quotes with a
 *   quote doubled.
 *
 * Which events make a line: the final event of a flow (Network Activity Close or Reset; Open and
 * interim Traffic events are left out, so a flow is one line whatever its length) and every HTTP
 * Activity event (one HTTP request). The flow line carries the flow's bytes: `cumulative_traffic`
 * when the flow had interim events, else `traffic`. HTTP lines carry no bytes, so summing the
 * bytes of every line counts each byte once (the flow line holds them).
 */
import { escapeExtension, escapeHeader, numStr } from './cef.js';
import { PRODUCT } from '../events/ocsf.js';

export const DISCOVERY_FORMATS = ['generic-cef', 'generic-w3c'] as const;
export type DiscoveryFormat = (typeof DISCOVERY_FORMATS)[number];

/** The log-upload API's `source` value per format (api-discovery-initiate). */
export const DISCOVERY_UPLOAD_SOURCE: Readonly<Record<DiscoveryFormat, string>> = { 'generic-cef': 'GENERIC_CEF', 'generic-w3c': 'GENERIC_W3C' };

type Obj = Record<string, unknown>;

/** How a value is written: a time (ms since the epoch), a number, or a string. */
export type DiscoveryKind = 'time' | 'number' | 'string';

export interface DiscoveryField {
  /** Name in docs/DISCOVERY-FORMATS.md. */
  name: string;
  kind: DiscoveryKind;
  /** OCSF path on the final Network Activity event (`a | b`: the first present); '' for none. */
  flow: string;
  /** OCSF path on an HTTP Activity event; '' for none. */
  http: string;
  /** CEF extension key (rev 25 dictionary; a custom key with its label). */
  cef: string;
  cefLabel?: string;
  /** W3C field identifier(s); the time is the two fields `date time`. */
  w3c: string;
}

/**
 * The one table both formats are written from, in line order. A value that is absent in the
 * event is left out of a CEF line and written `-` in a W3C line.
 */
export const DISCOVERY_FIELDS: readonly DiscoveryField[] = [
  { name: 'time', kind: 'time', flow: 'time', http: 'time', cef: 'rt', w3c: 'date time' },
  { name: 'duration', kind: 'number', flow: 'duration', http: '', cef: 'cn2', cefLabel: 'durationMs', w3c: 'time-taken' },
  { name: 'action', kind: 'string', flow: 'action', http: 'action', cef: 'act', w3c: 's-action' },
  { name: 'source address', kind: 'string', flow: 'src_endpoint.ip', http: 'src_endpoint.ip', cef: 'src', w3c: 'c-ip' },
  { name: 'source port', kind: 'number', flow: 'src_endpoint.port', http: 'src_endpoint.port', cef: 'spt', w3c: 'c-port' },
  { name: 'source MAC', kind: 'string', flow: 'src_endpoint.mac | device.mac', http: 'src_endpoint.mac | device.mac', cef: 'smac', w3c: 'x-c-mac' },
  { name: 'source host', kind: 'string', flow: 'device.hostname | src_endpoint.hostname', http: 'device.hostname | src_endpoint.hostname', cef: 'shost', w3c: 'c-dns' },
  { name: 'user', kind: 'string', flow: 'actor.user.uid_alt | actor.user.name', http: 'actor.user.uid_alt | actor.user.name', cef: 'suser', w3c: 'cs-username' },
  { name: 'user domain', kind: 'string', flow: 'actor.user.domain', http: 'actor.user.domain', cef: 'sntdom', w3c: 'x-cs-user-domain' },
  { name: 'destination address', kind: 'string', flow: 'dst_endpoint.ip', http: 'dst_endpoint.ip', cef: 'dst', w3c: 's-ip' },
  { name: 'destination port', kind: 'number', flow: 'dst_endpoint.port', http: 'dst_endpoint.port', cef: 'dpt', w3c: 's-port' },
  { name: 'destination host', kind: 'string', flow: 'dst_endpoint.hostname', http: 'http_request.url.hostname | dst_endpoint.hostname', cef: 'dhost', w3c: 'cs-host' },
  { name: 'URL', kind: 'string', flow: '', http: 'http_request.url.url_string', cef: 'request', w3c: 'cs-uri' },
  { name: 'HTTP method', kind: 'string', flow: '', http: 'http_request.http_method', cef: 'requestMethod', w3c: 'cs-method' },
  { name: 'HTTP status', kind: 'number', flow: '', http: 'http_response.code', cef: 'cn1', cefLabel: 'httpStatus', w3c: 'sc-status' },
  { name: 'user agent', kind: 'string', flow: '', http: 'http_request.user_agent', cef: 'requestClientApplication', w3c: 'cs(User-Agent)' },
  { name: 'bytes sent (uploaded)', kind: 'number', flow: 'cumulative_traffic.bytes_out | traffic.bytes_out', http: '', cef: 'in', w3c: 'cs-bytes' },
  { name: 'bytes received (downloaded)', kind: 'number', flow: 'cumulative_traffic.bytes_in | traffic.bytes_in', http: '', cef: 'out', w3c: 'sc-bytes' },
  { name: 'transport', kind: 'string', flow: 'connection_info.protocol_name', http: 'connection_info.protocol_name', cef: 'proto', w3c: 'x-transport' },
  { name: 'application protocol', kind: 'string', flow: 'app_protocol_name', http: 'app_protocol_name', cef: 'app', w3c: 'x-app-protocol' },
  { name: 'cloud app', kind: 'string', flow: 'app_name | unmapped.cloud_app.name', http: 'app_name | unmapped.cloud_app.name', cef: 'cs3', cefLabel: 'cloudAppName', w3c: 'x-cloud-app' },
  { name: 'connection', kind: 'string', flow: 'connection_info.uid', http: 'connection_info.uid', cef: 'cs1', cefLabel: 'connectionUid', w3c: 'x-connection-uid' },
  { name: 'device', kind: 'string', flow: 'device.uid', http: 'device.uid', cef: 'cs6', cefLabel: 'deviceUid', w3c: 'x-device-uid' },
  { name: 'device OS', kind: 'string', flow: 'device.os.name', http: 'device.os.name', cef: 'flexString1', cefLabel: 'deviceOs', w3c: 'x-device-os' },
  { name: 'event', kind: 'string', flow: 'metadata.uid', http: 'metadata.uid', cef: 'externalId', w3c: 'x-event-uid' },
];

/** `action` when the event carries none: the sensor saw the traffic pass (it blocks nothing itself). */
export const DEFAULT_ACTION = 'Allowed';

/** The W3C directives that start every file (WD-logfile §"Directives"). */
export function w3cHeader(softwareVersion = PRODUCT.version): string {
  return `#Version: 1.0\n#Software: Outpost ${softwareVersion}\n#Fields: ${DISCOVERY_FIELDS.map((f) => f.w3c).join(' ')}\n`;
}

const FLOW_FINAL: ReadonlySet<number> = new Set([2, 3]); // Close, Reset

/** Which line an event makes: 'flow', 'http', or undefined (no line). */
export function discoveryLineKind(ev: Obj): 'flow' | 'http' | undefined {
  const c = ev['class_uid'];
  if (c === 4001) return FLOW_FINAL.has(ev['activity_id'] as number) ? 'flow' : undefined;
  if (c === 4002) return 'http';
  return undefined;
}

/** A table path as its alternatives, each a list of property names. */
function splitPath(p: string): string[][] {
  return p === '' ? [] : p.split('|').map((alt) => alt.trim().split('.'));
}

/** The first present alternative of pre-split paths. */
function readAlts(ev: Obj, alts: readonly (readonly string[])[]): string | number | undefined {
  for (let a = 0; a < alts.length; a++) {
    const alt = alts[a]!;
    let v: unknown = ev;
    for (let i = 0; i < alt.length && v !== undefined; i++) v = v !== null && typeof v === 'object' ? (v as Obj)[alt[i]!] : undefined;
    if (typeof v === 'string' ? v !== '' : typeof v === 'number' && Number.isFinite(v)) return v as string | number;
  }
  return undefined;
}

/** The first present alternative of a table path ('' when the path is empty). */
export function readPath(ev: Obj, path: string): string | number | undefined {
  return readAlts(ev, splitPath(path));
}

// Split once at load: formatting reads every field of every event.
const FLOW_PATHS = DISCOVERY_FIELDS.map((f) => splitPath(f.flow));
const HTTP_PATHS = DISCOVERY_FIELDS.map((f) => splitPath(f.http));
const ACTION = DISCOVERY_FIELDS.findIndex((f) => f.name === 'action');
const TIME_TAKEN = DISCOVERY_FIELDS.findIndex((f) => f.w3c === 'time-taken');

/** The values of one line, by field (undefined: absent), or undefined when the event makes no line. */
export function discoveryValues(ev: Obj): Array<string | number | undefined> | undefined {
  const kind = discoveryLineKind(ev);
  if (kind === undefined) return undefined;
  const paths = kind === 'flow' ? FLOW_PATHS : HTTP_PATHS;
  const out = new Array<string | number | undefined>(paths.length);
  for (let i = 0; i < paths.length; i++) out[i] = readAlts(ev, paths[i]!);
  if (out[ACTION] === undefined) out[ACTION] = DEFAULT_ACTION;
  return out;
}

const CEF_PREFIX = `CEF:0|${escapeHeader(PRODUCT.vendor_name)}|${escapeHeader(PRODUCT.name)}|${escapeHeader(PRODUCT.version)}|`;

/** Generic CEF: `CEF:0|Outpost|Outpost|<version>|flow or http|Flow or HTTP request|1|<extension>`; undefined for no line. */
export function toDiscoveryCef(ev: Obj): string | undefined {
  const values = discoveryValues(ev);
  if (values === undefined) return undefined;
  const kind = ev['class_uid'] === 4001 ? 'flow' : 'http';
  let e = '';
  for (let i = 0; i < DISCOVERY_FIELDS.length; i++) {
    const v = values[i];
    if (v === undefined) continue;
    const f = DISCOVERY_FIELDS[i]!;
    const s = typeof v === 'number' ? numStr(v) : escapeExtension(v);
    e += (e === '' ? '' : ' ') + f.cef + '=' + s;
    if (f.cefLabel !== undefined) e += ` ${f.cef}Label=${f.cefLabel}`;
  }
  return CEF_PREFIX + (kind === 'flow' ? 'flow|Flow|1|' : 'http|HTTP request|1|') + e;
}

const pad2 = (n: number) => (n < 10 ? '0' : '') + n;

/**
 * A W3C string field: as is when it has no space, quote or control character; else quoted with
 * `"` doubled. CR/LF would end the entry, so control characters become spaces (a header or URL
 * holds none on the wire anyway). One scan; the common case returns the string itself.
 */
function w3cString(s: string): string {
  if (s === '' || s === '-') return '"' + s + '"';
  let special = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x22 || c === 0x7f || c === 0x85 || c === 0xa0 || c === 0x2028 || c === 0x2029) { special = true; break; }
  }
  if (!special) return s;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x20 || c === 0x7f ? ' ' : c === 0x22 ? '""' : s[i];
  }
  return out + '"';
}

/** `YYYY-MM-DD HH:MM:SS` of the last second formatted (events come in time order, so mostly a hit). */
let cachedSecond = NaN;
let cachedDateTime = '';
function w3cDateTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec !== cachedSecond) {
    const d = new Date(sec * 1000);
    cachedDateTime = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
    cachedSecond = sec;
  }
  const frac = ms - sec * 1000;
  return cachedDateTime + '.' + (frac < 10 ? '00' : frac < 100 ? '0' : '') + Math.floor(frac);
}

/** One W3C entry (no line break); undefined for no line. Times are GMT (WD-logfile: "Times are recorded in GMT"). */
export function toDiscoveryW3c(ev: Obj): string | undefined {
  const values = discoveryValues(ev);
  if (values === undefined) return undefined;
  let out = '';
  for (let i = 0; i < DISCOVERY_FIELDS.length; i++) {
    const v = values[i];
    const f = DISCOVERY_FIELDS[i]!;
    if (i > 0) out += ' ';
    if (f.kind === 'time') out += typeof v === 'number' && Number.isInteger(v) && v >= 0 ? w3cDateTime(v) : '- -';
    else if (v === undefined) out += '-';
    // time-taken is in seconds (WD-logfile: "Time taken for transaction to complete in seconds").
    else if (i === TIME_TAKEN && typeof v === 'number') out += (v / 1000).toFixed(3);
    else out += typeof v === 'number' ? numStr(v) : w3cString(v);
  }
  return out;
}

/** The line of an event in the given format (no line break), or undefined when it makes none. */
export function toDiscoveryLine(ev: Obj, format: DiscoveryFormat): string | undefined {
  return format === 'generic-cef' ? toDiscoveryCef(ev) : toDiscoveryW3c(ev);
}

/** The text a file of this format starts with (W3C directives; nothing for CEF). */
export function discoveryFileHeader(format: DiscoveryFormat): string {
  return format === 'generic-w3c' ? w3cHeader() : '';
}
