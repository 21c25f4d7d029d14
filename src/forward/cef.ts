/**
 * OCSF → CEF (ArcSight Common Event Format, Implementing ArcSight CEF, revision 25) and RFC 5424
 * framing.
 *
 * CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
 *
 * Escaping (rev 25): in header fields a pipe and a backslash are escaped with a backslash (`\|`,
 * `\\`); header fields cannot hold line breaks, so CR/LF become spaces. In extension values a
 * backslash and an equals sign are escaped (`\\`, `\=`) and line breaks are written `\n` / `\r`
 * (pipes are not escaped there).
 *
 * Which OCSF attribute goes to which extension key, per event class, and in which order: the one
 * table CEF_MAP (cef-map.ts, the same table in docs/CEF.md). Extension keys and labels are fixed
 * ASCII names from that table.
 */
import { hostname as osHostname } from 'node:os';
import { CEF_MAP, type CefMapping } from './cef-map.js';
import { OutpostError } from '../errors.js';

export interface CefHeader {
  vendor: string;
  product: string;
  version: string;
}

/**
 * Escaping scans the string once and copies only when something is escaped (the common case
 * returns the string itself). A loop over char codes: measured about 3x faster than a regex
 * replace with a callback, which ran for every event with a special character.
 *
 * Header and extension escaping differ only in the one other character escaped besides the
 * backslash and in what a line break becomes, so both run this loop with those passed as plain
 * arguments (no table or closure per call). A CRLF pair is one line break: `lineBreak`, as a lone
 * LF is; a lone CR is `loneCr`.
 */
function escapeCef(s: string, special: number, specialEscaped: string, lineBreak: string, loneCr: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string;
    if (c === 0x5c) rep = '\\\\';
    else if (c === special) rep = specialEscaped;
    else if (c === 0x0a) rep = lineBreak;
    else if (c === 0x0d) {
      const crlf = s.charCodeAt(i + 1) === 0x0a;
      out += s.slice(from, i) + (crlf ? lineBreak : loneCr);
      if (crlf) i++;
      from = i + 1;
      continue;
    } else continue;
    out += s.slice(from, i) + rep;
    from = i + 1;
  }
  return from === 0 ? s : out + s.slice(from);
}

/** Header field: `\` and `|` escaped; a header holds no line breaks, so CR, LF and CRLF become one space. */
export function escapeHeader(s: string): string {
  return escapeCef(s, 0x7c, '\\|', ' ', ' ');
}

/** Extension value: `\` and `=` escaped; LF and CRLF written `\n`, a lone CR `\r` (`|` kept). */
export function escapeExtension(s: string): string {
  return escapeCef(s, 0x3d, '\\=', '\\n', '\\r');
}

/**
 * String(v), faster for the integers of 10 or more digits every event carries (millisecond times,
 * byte counts): V8 converts a number beyond int32 with its general double-to-shortest algorithm
 * (about 170 ns here), two int32 halves take a fraction of that. Same digits as String(v).
 */
export function numStr(v: number): string {
  if (v >= 1e9 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v)) {
    const lo = v % 1e9;
    return String((v - lo) / 1e9) + String(lo + 1e9).slice(1); // lo zero-padded to 9 digits
  }
  return String(v);
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? numStr(v) : typeof v === 'bigint' ? String(v) : undefined);

/**
 * OCSF severity_id → CEF Severity (rev 25: 0-10, or Unknown / Low / Medium / High / Very-High;
 * 0-3 is Low, 4-6 Medium, 7-8 High, 9-10 Very-High): 1 Informational → 1, 2 Low → 3, 3 Medium → 5,
 * 4 High → 7, 5 Critical → 9, 6 Fatal → 10; 0 Unknown and 99 Other → 'Unknown'.
 */
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

/** One step of a CEF_MAP path: an attribute name, then optionally `[]` (every element) or `[n]`. */
export interface CefPathStep {
  name: string;
  /** -1: the attribute itself; EACH (-2): every element of the array (`[]`); n ≥ 0: element n. */
  index: number;
}
const EACH = -2;
const NAME = /^[a-z][a-z0-9_]*$/;

/** A CEF_MAP path as its alternatives, each a list of steps; throws on a malformed path. */
export function parseCefPath(path: string): CefPathStep[][] {
  return path.split('|').map((alt) => alt.trim().split('.').map((part) => {
    const m = /^([^[\]]+)(?:\[(\d*)\])?$/.exec(part);
    if (m === null || !NAME.test(m[1]!)) throw new OutpostError('INTERNAL', { reason: `CEF_MAP: bad path step '${part}' in '${path}'` });
    return { name: m[1]!, index: m[2] === undefined ? -1 : m[2] === '' ? EACH : Number(m[2]) };
  }));
}

type Scalar = string | number | bigint;
/** What an extension value can be; anything else (absent, null, boolean, object, '') is left out. */
const isScalar = (v: unknown): v is Scalar => (typeof v === 'string' ? v !== '' : typeof v === 'number' || typeof v === 'bigint');

/**
 * For `x[].y` paths: the scalars at `steps` (from step `from`) of every element of `arr`,
 * duplicates dropped, joined with ','; undefined when there are none.
 */
function joinEach(arr: readonly unknown[], steps: readonly CefPathStep[], from: number): string | undefined {
  const out: Scalar[] = [];
  const walk = (v: unknown, i: number): void => {
    for (; i < steps.length; i++) {
      if (v === null || typeof v !== 'object') return;
      const s = steps[i]!;
      v = (v as Obj)[s.name];
      if (s.index === EACH) {
        if (Array.isArray(v)) for (const el of v) walk(el, i + 1);
        return;
      }
      if (s.index >= 0) v = Array.isArray(v) ? v[s.index] : undefined;
    }
    if (isScalar(v) && !out.includes(v)) out.push(v);
  };
  for (const el of arr) walk(el, from);
  return out.length === 0 ? undefined : out.map((x) => (typeof x === 'number' ? numStr(x) : String(x))).join(',');
}

/**
 * Each class's extension is written by a function generated from its CEF_MAP rows when this
 * module loads. Why generated: a generic path walker reads every attribute through one property
 * access site, which V8 turns megamorphic (every name, every object shape); measured on the
 * sample event it took 3-4 times as long per line as one access site per attribute. Generated
 * code has one access site per attribute, so each stays monomorphic. Only names matching NAME, CEF keys matching
 * /^[A-Za-z0-9]+$/ and labels matching /^[A-Za-z0-9]+$/ go into the code (checked here), each as
 * a JSON string literal.
 */
type ExtensionWriter = (ev: Obj, esc: (s: string) => string, num: (n: number) => string, each: typeof joinEach, steps: readonly CefPathStep[][]) => string;

function generateWriter(rows: readonly CefMapping[]): (ev: Obj) => string {
  const lit = JSON.stringify;
  const steps: CefPathStep[][] = [];
  const code: string[] = ["'use strict';", "let e = '', v, t, s;"];
  const isObj = (x: string) => `${x} !== null && typeof ${x} === 'object'`;
  /** An expression for one alternative (all its steps), reading through the temporary `t`. */
  const chain = (alt: CefPathStep[]): string => {
    const parts: string[] = [];
    let expr = 'ev';
    for (let i = 0; i < alt.length; i++) {
      const s = alt[i]!;
      const isLast = i === alt.length - 1;
      if (s.index === EACH) {
        steps.push(alt);
        parts.push(`Array.isArray(t = ${expr}[${lit(s.name)}])`);
        return `(${parts.join(' && ')} ? each(t, steps[${steps.length - 1}], ${i + 1}) : undefined)`;
      }
      const load = s.index >= 0 ? `(Array.isArray(t = ${expr}[${lit(s.name)}]) ? t[${s.index}] : undefined)` : `${expr}[${lit(s.name)}]`;
      if (isLast) return parts.length === 0 ? load : `(${parts.join(' && ')} ? ${load} : undefined)`;
      parts.push(`(t = ${load}, ${isObj('t')})`);
      expr = 't';
    }
    return 'undefined';
  };
  const present = `(typeof v === 'string' ? v !== '' : typeof v === 'number' || typeof v === 'bigint')`;
  for (const m of rows) {
    if (!/^[A-Za-z0-9]+$/.test(m.key) || (m.label !== undefined && !/^[A-Za-z0-9]+$/.test(m.label))) throw new OutpostError('INTERNAL', { reason: `CEF_MAP: bad key or label in ${lit(m)}` });
    const alts = parseCefPath(m.ocsf);
    code.push(`v = ${chain(alts[0]!)};`);
    for (const alt of alts.slice(1)) code.push(`if (!${present}) v = ${chain(alt)};`);
    if (m.as === 'upper') code.push(`if (typeof v === 'string') v = v.toUpperCase();`);
    // deviceDirection (rev 25): 0 inbound, 1 outbound; OCSF direction_id 1 Inbound, 2 Outbound.
    else if (m.as === 'direction') code.push('v = v === 1 ? 0 : v === 2 ? 1 : undefined;');
    const keyEq = lit(m.key + '=');
    const label = m.label !== undefined ? ` e += ${lit(` ${m.key}Label=${m.label}`)};` : '';
    code.push(`if (${present}) { s = typeof v === 'string' ? esc(v) : typeof v === 'number' ? num(v) : String(v); e = e === '' ? ${keyEq} + s : e + ${lit(' ')} + ${keyEq} + s;${label} }`);
  }
  code.push('return e;');
  const fn = new Function('ev', 'esc', 'num', 'each', 'steps', code.join('\n')) as ExtensionWriter;
  return (ev) => fn(ev, escapeExtension, numStr, joinEach, steps);
}

/** The rows of CEF_MAP for one class (class_uid), in table order; any other class gets the 'all' rows. */
function cefRowsOf(classUid: number | undefined): CefMapping[] {
  return CEF_MAP.filter((m) => m.classes === 'all' || (classUid !== undefined && m.classes.includes(classUid)));
}

const CEF_CLASSES = new Set(CEF_MAP.flatMap((m) => (m.classes === 'all' ? [] : m.classes)));
/**
 * Writers per class, generated at a class's first event: every process that loads the sink table
 * (a replay, `outpost config`) would otherwise generate and compile them at start without writing
 * one CEF line.
 */
let writeOther: ((ev: Obj) => string) | undefined;
const WRITERS = new Map<number, (ev: Obj) => string>();
function writerFor(cls: unknown): (ev: Obj) => string {
  if (typeof cls === 'number' && CEF_CLASSES.has(cls)) {
    let w = WRITERS.get(cls);
    if (w === undefined) WRITERS.set(cls, (w = generateWriter(cefRowsOf(cls))));
    return w;
  }
  return writeOther ??= generateWriter(cefRowsOf(undefined));
}

/**
 * The CEF line for one OCSF event. `h` is the sink's configured Device Vendor / Product / Version
 * (pass the result of cefPrefix() to skip escaping them for every event); without it they come
 * from the event's metadata.product. The extension is CEF_MAP's rows for the event's class,
 * in table order: ` key=value` for each row whose attribute is present, followed by
 * ` keyLabel=label` for a custom field; absent, null, boolean, object and empty-string values
 * are left out. Built by appending: it runs once per event in the syslog sink.
 */
export function toCef(ev: Obj, h?: CefHeader | string): string {
  const cls = ev['class_uid'];
  const e = writerFor(cls)(ev);
  const className = str(ev['class_name']) ?? 'OCSF event';
  const activity = str(ev['activity_name']);
  const prefix = typeof h === 'string' ? h : h !== undefined ? cefPrefix(h) : productPrefix(ev);
  const eventClass = escapeHeader(str(ev['type_uid']) ?? str(cls) ?? '0');
  return prefix + eventClass + '|' + cefName(className, activity) + '|' + cefSeverity(ev['severity_id']) + '|' + e;
}

/**
 * Without a configured header: Device Vendor, Device Product and Device Version from the event's
 * OCSF metadata.product (vendor_name, name, version), 'unknown' for one that is missing. Every
 * event of a sensor carries the same product, so the last prefix is reused.
 */
let lastProduct = { vendor: '', name: '', version: '', prefix: '' };
function productPrefix(ev: Obj): string {
  const md = ev['metadata'];
  const p = md !== null && typeof md === 'object' ? (md as Obj)['product'] : undefined;
  const o = p !== null && typeof p === 'object' ? (p as Obj) : {};
  const vendor = str(o['vendor_name']) ?? 'unknown', name = str(o['name']) ?? 'unknown', version = str(o['version']) ?? 'unknown';
  const l = lastProduct;
  if (vendor === l.vendor && name === l.name && version === l.version && l.prefix !== '') return l.prefix;
  const prefix = cefPrefix({ vendor, product: name, version });
  lastProduct = { vendor, name, version, prefix };
  return prefix;
}

/** Last header Name: a stream repeats few class/activity pairs, so most events reuse it. */
let lastName = { className: '', activity: undefined as string | undefined, name: '' };
function cefName(className: string, activity: string | undefined): string {
  const l = lastName;
  if (className === l.className && activity === l.activity && l.name !== '') return l.name;
  const name = escapeHeader(activity ? className + ': ' + activity : className);
  lastName = { className, activity, name };
  return name;
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

/** '000Z'..'999Z': the milliseconds and zone of an RFC 5424 TIMESTAMP. */
const MS_Z = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0') + 'Z');
/** 'YYYY-MM-DDTHH:MM:SS.' of the last second formatted: consecutive events share it. */
let tsSecond = NaN;
let tsPrefix = '';
/** Latest time Date.prototype.toISOString writes as YYYY-... (years after 9999 get a sign). */
const MAX_4_DIGIT_YEAR_MS = 253_402_300_800_000;

/**
 * RFC 5424 TIMESTAMP: the same text as new Date(t).toISOString() (which costs about 0.45 µs per
 * event), built from a cached whole second for integer times of years 1970-9999. A time outside
 * the Date range is the NILVALUE '-' like a non-finite one (toISOString would throw, and the
 * whole batch would fail and be retried for ever).
 */
export function rfc5424Time(t: number): string {
  if (Number.isInteger(t) && t >= 0 && t < MAX_4_DIGIT_YEAR_MS) {
    const ms = t % 1000;
    const sec = t - ms;
    if (sec !== tsSecond) {
      tsPrefix = new Date(sec).toISOString().slice(0, 20);
      tsSecond = sec;
    }
    return tsPrefix + MS_Z[ms]!;
  }
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString();
}

/** Last class_uid and its MSGID (a stream has few classes). */
let lastMsgid = { cls: undefined as string | undefined, msgid: 'ocsf' };
function msgidOf(cls: string | undefined): string {
  if (cls === lastMsgid.cls) return lastMsgid.msgid;
  const msgid = cls !== undefined && /^[\x21-\x7e]{1,28}$/.test(cls) ? 'ocsf' + cls : nilOr(`ocsf${cls ?? ''}`, 32);
  lastMsgid = { cls, msgid };
  return msgid;
}

/** RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG. `o` may be rfc5424Middle(o). */
export function toRfc5424(ev: Obj, cef: string, o: Rfc5424Options, middle = rfc5424Middle(o)): string {
  const t = typeof ev['time'] === 'number' ? (ev['time'] as number) : Date.now();
  const pri = o.facility * 8 + syslogSeverity(ev['severity_id']);
  return '<' + pri + '>1 ' + rfc5424Time(t) + middle + msgidOf(str(ev['class_uid'])) + ' - ' + cef;
}

/** RFC 6587 §3.4.1 octet counting: "MSG-LEN SP SYSLOG-MSG". */
export function octetFrame(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}
