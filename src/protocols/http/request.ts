/**
 * HTTP/1.x request head parser (RFC 9112). Pure: `(buf, off, end, out) → ParseStatus`, no
 * logging, clock or storage; never throws; never reads at or past `end`. It scans bytes and
 * builds strings only for what we keep (method, target, host, path, user-agent).
 *
 *   request-line = method SP request-target SP HTTP-version CRLF      (§3)
 *   field-line   = field-name ":" OWS field-value OWS CRLF            (§5)
 *   header section ends with an empty line                            (§2.1)
 *
 * Results:
 * - OK: `out` filled; `out.headerBytes` is the length consumed through the empty line. The body
 *   (if any) follows: `out.chunked`, else `out.contentLength` bytes, else none (§6.3 item 7:
 *   a request without Content-Length or Transfer-Encoding has no body).
 * - NEED_MORE: the head is incomplete and still under `httpMaxHeaderBytes`; call again from the
 *   same `off` with more bytes.
 * - NOT_MINE: the first bytes are not `token SP` with a token of ≤ 16 tchars (§3.1), or a token
 *   that is not a known method is not followed by a plausible HTTP/1.x request line.
 * - MALFORMED: a known method with a broken request line, an invalid target, a bad field line,
 *   invalid Content-Length/Transfer-Encoding, or a head longer than `httpMaxHeaderBytes`.
 *   The matching counter is bumped.
 *
 * NUL (RFC 9110 §5.5, RFC 9112 §3): a NUL is invalid in a request-target and in a field value,
 * and strict servers answer 400. The servers such requests are aimed at are C programs that
 * hold the request as C strings (ISAPI filters and extensions, CGI handlers, embedded servers):
 * for them a NUL ends the target or the field value, which is why an attack plants one (a
 * suffix check sees `.dll`, the handler opens what precedes the NUL). The sensor reads a NUL
 * as they do, so it names what they serve: a NUL in the request-target is tolerated and ends
 * the target (`http.request_target_nul`; the line is read leniently, below); a NUL in a field
 * value ends that value (`http.field_value_nul`), and a value empty up to it names nothing.
 * Lines still end at their LF, and a NUL anywhere else in the request line leaves it unread.
 */

import { ParseStatus } from '../parse-status.js';
import type { HttpCounters } from './counters.js';
import {
  CR,
  eqLower,
  FieldResult,
  HTAB,
  isDigit,
  isTchar,
  latin1,
  latin1Lower,
  LF,
  newFieldSpan,
  nextField,
  parseAuthority,
  SP,
} from './fields.js';
import * as head from './head.js';

export type { HttpParseOptions } from './head.js';

/** The four request-target forms of RFC 9112 §3.2. */
export type RequestTargetForm = 'origin' | 'absolute' | 'authority' | 'asterisk';

export interface HttpRequestInfo {
  /** Method token, case preserved (methods are case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** request-target as sent (latin1). */
  target: string;
  targetForm: RequestTargetForm;
  /** Scheme of an absolute-form target, lowercased; undefined otherwise. */
  scheme: string | undefined;
  /**
   * Lowercased host without port or IP-literal brackets. From the Host header, except: CONNECT →
   * its authority-form target (§3.2.3); absolute-form → the URI's authority (§3.2.2).
   */
  host: string | undefined;
  /** Port from the same source as `host`, when one was given. */
  port: number | undefined;
  /** Path without query; "/" for an absolute-form URI with an empty path; "*" for asterisk-form; undefined for CONNECT. */
  path: string | undefined;
  /** User-Agent field value (first line seen), OWS trimmed. */
  userAgent: string | undefined;
  /** Minor version of HTTP/1.x (0 or 1; other digits are kept as received). */
  versionMinor: number;
  /** Bytes from `off` through the empty line ending the header section. */
  headerBytes: number;
  /** Content-Length when present and the body is not chunked. */
  contentLength: number | undefined;
  /** Transfer-Encoding's final coding is chunked (§6.3 item 4): the body is chunked, Content-Length ignored. */
  chunked: boolean;
  /** On MALFORMED: the dotted counter name of the reason (see README); undefined otherwise. */
  error: string | undefined;
  /**
   * Read with `headCut`: the head had no end (or broke on a field line) and was read through its
   * last readable field line; `headerBytes` ends there and no body framing was read.
   */
  headCut: boolean;
}

export function newHttpRequestInfo(): HttpRequestInfo {
  return {
    method: '',
    target: '',
    targetForm: 'origin',
    scheme: undefined,
    host: undefined,
    port: undefined,
    path: undefined,
    userAgent: undefined,
    versionMinor: 0,
    headerBytes: 0,
    contentLength: undefined,
    chunked: false,
    error: undefined,
    headCut: false,
  };
}

function resetInfo(o: HttpRequestInfo): void {
  o.method = '';
  o.target = '';
  o.targetForm = 'origin';
  o.scheme = undefined;
  o.host = undefined;
  o.port = undefined;
  o.path = undefined;
  o.userAgent = undefined;
  o.versionMinor = 0;
  o.headerBytes = 0;
  o.contentLength = undefined;
  o.chunked = false;
  o.error = undefined;
  o.headCut = false;
}

/** Longest method token considered (generic token rule, bounded). */
export const MAX_METHOD_LENGTH = 16;

/** Registered methods we recognise byte-wise; their strings are constants (no allocation). */
const KNOWN_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'] as const;
const KNOWN_BYTES = KNOWN_METHODS.map((m) => Uint8Array.from(m, (c) => c.charCodeAt(0)));

function knownMethod(buf: Uint8Array, s: number, e: number): string | undefined {
  for (let k = 0; k < KNOWN_BYTES.length; k++) {
    const m = KNOWN_BYTES[k]!;
    if (m.length !== e - s) continue;
    let i = 0;
    while (i < m.length && buf[s + i] === m[i]) i++;
    if (i === m.length) return KNOWN_METHODS[k];
  }
  return undefined;
}

// Scratch for one parse at a time (parsers are synchronous), so a call allocates none of them.
const field = newFieldSpan();
const scan = head.newHeadScan();

/**
 * Parses one request head at buf[off, end). See the module comment for the results.
 * `counters` (optional) is bumped for malformed input; `opts.httpMaxHeaderBytes` bounds the head.
 */
export function parseHttpRequest(
  buf: Uint8Array,
  off: number,
  end: number,
  out: HttpRequestInfo,
  counters?: HttpCounters,
  opts?: head.HttpParseOptions,
): ParseStatus {
  resetInfo(out);
  const auth = opts?.auth;
  if (auth !== undefined) auth.start = -1;
  const st = head.begin(buf, off, end, opts, scan);
  if (st !== ParseStatus.OK) return st;
  const lim = scan.lim;

  // §3.1 method = token; quick NOT_MINE unless the stream opens with ≤ 16 tchars and SP.
  let p = off;
  while (p < lim && p - off <= MAX_METHOD_LENGTH && isTchar(buf[p]!)) p++;
  if (p - off > MAX_METHOD_LENGTH || p === off) return notMine(counters);
  if (p >= lim) return head.outOfBytes(off, scan, out, counters);
  if (buf[p] !== SP) return notMine(counters);
  const mEnd = p;
  const known = knownMethod(buf, off, mEnd);

  // §3.2 request-target: no whitespace or CTLs up to the next SP.
  let tStart = ++p;
  while (p < lim) {
    const b = buf[p]!;
    if (b <= SP || b === 0x7f) break;
    p++;
  }
  if (p >= lim) return head.outOfBytes(off, scan, out, counters);
  let tEnd = p;
  // §2.3 HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF (bare LF accepted, §2.2). Any break
  // from the rule goes to the lenient reading below (Scan.BAD), which decides with the whole line.
  let major = 0, minor = 0, readLeniently = false;
  let q: number = buf[p] !== SP || p === tStart ? head.Scan.BAD : head.httpSlashEnd(buf, p + 1, lim);
  if (q >= 0) {
    if (q + 3 > lim) return head.outOfBytes(off, scan, out, counters);
    major = buf[q]!; minor = buf[q + 2]!;
    q = !isDigit(major) || buf[q + 1] !== 0x2e || !isDigit(minor) ? head.Scan.BAD : head.startLineEnd(buf, q + 3, lim);
  }
  if (q === head.Scan.NEED_MORE) return head.outOfBytes(off, scan, out, counters);
  if (q === head.Scan.BAD) {
    // Not `method SP request-target SP HTTP-version EOL` (§3). Read the line as Zeek does
    // (src/analyzer/protocol/http/HTTP.cc, ParseRequest: a line starting "HTTP/" has no URI,
    // a bad version is reported, not fatal) when it still names "HTTP/": the head is then read
    // for Host and User-Agent, so a sender cannot hide its name behind a line the server forgives.
    const lineEnd = head.lineEnd(buf, tStart, lim);
    if (lineEnd === head.Scan.NEED_MORE) {
      // Wait for the rest of the line unless it can no longer be read: a control byte already
      // rules it out (a last CR may start the CRLF; a NUL may sit in a target, which is
      // tolerated); an extension method's line that fills the bound never named HTTP/.
      if (hasControl(buf, tStart, buf[lim - 1] === CR ? lim - 1 : lim, true)) return badLine(known, out, counters);
      if (known === undefined && scan.end - off >= scan.max) return notMine(counters);
      return head.outOfBytes(off, scan, out, counters);
    }
    if (!lenientLine(buf, tStart, lineEnd, lenient)) return badLine(known, out, counters);
    // Counted once the head is read (below): a split head is parsed again as it grows.
    readLeniently = true;
    tStart = lenient.targetStart;
    tEnd = lenient.targetEnd;
    major = lenient.major; minor = lenient.minor;
    p = lineEnd + 1;
  } else {
    p = q;
  }
  if (major !== 0x31) {
    // RFC 9113 §3.4: "PRI * HTTP/2.0" is the HTTP/2 prior-knowledge preface, not HTTP/1.x.
    if (major === 0x32 && known === undefined && mEnd - off === 3 && buf[off] === 0x50 && buf[off + 1] === 0x52 && buf[off + 2] === 0x49) {
      if (counters) counters.h2Preface++;
      return ParseStatus.NOT_MINE;
    }
    if (known === undefined) return notMine(counters);
    out.error = 'http.version_unsupported';
    if (counters) counters.versionUnsupported++;
    return ParseStatus.MALFORMED;
  }

  // §5 field lines up to the empty line; only Host, User-Agent, Content-Length, Transfer-Encoding matter.
  let hostS = -1, hostE = -1, hostCount = 0, namesInvalid = 0, nulValues = 0;
  let uaS = -1, uaE = -1;
  const cut = opts?.headCut === true;
  for (;;) {
    const r = nextField(buf, p, lim, field);
    if (cut && (r === FieldResult.NEED_MORE || r === FieldResult.MALFORMED)) {
      // The head ends here for a reader that goes line by line: what came before still counts.
      out.headCut = true;
      break;
    }
    if (r === FieldResult.NEED_MORE) return head.outOfBytes(off, scan, out, counters);
    if (r === FieldResult.MALFORMED) return head.headerMalformed(out, counters);
    p = field.next;
    if (r === FieldResult.END) break;
    if (r === FieldResult.FOLD) {
      if (counters) counters.headerObsFold++;
      continue;
    }
    if (r === FieldResult.INVALID_NAME) {
      // Skipped as nginx skips it (fields.ts skipInvalidName); the rest of the head still counts.
      namesInvalid++;
      continue;
    }
    // Only a field line sets controlInValue: on a fold line it still holds an earlier field's.
    if (field.controlInValue && counters) counters.headerControlInValue++;
    const ns = field.nameStart, ne = field.nameEnd, vs = field.valueStart;
    let ve = field.valueEnd;
    if (field.nul >= 0) {
      // A C-string reader's value ends at the NUL (module comment); OWS before it is not part of it.
      ve = field.nul;
      while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
      nulValues++;
    }
    if (head.framingField(buf, ns, ne, vs, ve, scan)) continue;
    switch (ne - ns) {
      case 4:
        if (eqLower(buf, ns, ne, 'host')) {
          if (hostCount++ === 0) { hostS = vs; hostE = ve; }
        }
        break;
      case 10:
        if (uaS < 0 && eqLower(buf, ns, ne, 'user-agent')) { uaS = vs; uaE = ve; }
        break;
      case 13:
        if (auth !== undefined && auth.start < 0 && eqLower(buf, ns, ne, 'authorization')) head.authToken(buf, vs, ve, auth);
        break;
    }
  }
  out.headerBytes = p - off;
  out.versionMinor = minor - 0x30;

  // §6.3 message body length for requests (nothing follows a cut head).
  if (cut) {
    // No framing: the caller stops reading this direction.
  } else if (scan.te !== head.NO_TRANSFER_ENCODING) {
    if (scan.te !== 1) {
      // §6.3 item 4: chunked is not the final coding → 400 and close.
      out.error = 'http.transfer_encoding_invalid';
      if (counters) counters.transferEncodingInvalid++;
      return ParseStatus.MALFORMED;
    }
    out.chunked = true;
    // §6.3 item 3: Transfer-Encoding overrides Content-Length (and may be smuggling).
    if (scan.clSeen && counters) counters.teAndCl++;
  } else if (head.applyContentLength(scan, out, counters) !== ParseStatus.OK) {
    // §6.3 item 5: invalid Content-Length → unrecoverable framing error.
    return ParseStatus.MALFORMED;
  }

  // §3.2 request-target forms.
  const isConnect = known === 'CONNECT';
  const t0 = buf[tStart]!;
  if (isConnect) {
    // §3.2.3 authority-form = uri-host ":" port, only for CONNECT.
    if (tEnd === tStart || !parseAuthority(buf, tStart, tEnd, out) || out.port === undefined) {
      out.host = undefined;
      out.port = undefined;
      out.error = 'http.request_target_malformed';
      if (counters) counters.requestTargetMalformed++;
      return ParseStatus.MALFORMED;
    }
    out.targetForm = 'authority';
  } else if (tEnd === tStart) {
    // No target at all (lenient line above): Zeek logs an empty URI; the Host field names the flow.
    out.targetForm = 'origin';
  } else if (t0 === 0x2f /* '/' */) {
    // §3.2.1 origin-form = absolute-path [ "?" query ]
    out.targetForm = 'origin';
    out.path = latin1(buf, tStart, pathEnd(buf, tStart, tEnd));
  } else if (t0 === 0x2a /* '*' */ && tEnd - tStart === 1) {
    // §3.2.4 asterisk-form (OPTIONS).
    out.targetForm = 'asterisk';
    out.path = '*';
  } else if (!parseAbsoluteForm(buf, tStart, tEnd, out, counters)) {
    // Fits no form (§3.2: a server answers 400). Counted; the head is still read, as Zeek logs
    // the URI as sent with the Host field: `target` keeps it, no path is claimed.
    if (counters) counters.requestTargetMalformed++;
    out.host = undefined;
    out.port = undefined;
    out.scheme = undefined;
    out.targetForm = 'origin';
  }

  // Host (RFC 9110 §7.2; RFC 9112 §3.2): used unless the target already named the authority.
  if (hostCount > 1 && counters) counters.hostDuplicate++;
  if (hostCount === 0) {
    if (minor !== 0x30 && counters) counters.hostMissing++;
  } else if (out.targetForm === 'origin' || out.targetForm === 'asterisk') {
    // An empty Host is legal when the target URI has no authority (§3.2).
    if (hostE > hostS && !parseAuthority(buf, hostS, hostE, out) && counters) counters.hostMalformed++;
  }

  if (counters) {
    if (known === undefined) counters.methodExtension++;
    counters.headerNameInvalid += namesInvalid;
    counters.fieldValueNul += nulValues;
    if (readLeniently) {
      counters.requestLineMalformed++;
      counters.requestLineLenient++;
      if (lenient.versionOdd) counters.versionMalformed++;
      if (tEnd === tStart) counters.requestTargetMissing++;
      if (lenient.targetNul) counters.requestTargetNul++;
    }
  }
  out.method = known ?? latin1(buf, off, mEnd);
  out.target = latin1(buf, tStart, tEnd);
  if (uaS >= 0) out.userAgent = latin1(buf, uaS, uaE);
  if (counters) counters.requests++;
  return ParseStatus.OK;
}

/** What lenientLine found; scratch, one parse at a time. */
interface LenientLine { targetStart: number; targetEnd: number; major: number; minor: number; versionOdd: boolean; targetNul: boolean }
const lenient: LenientLine = { targetStart: 0, targetEnd: 0, major: 0, minor: 0, versionOdd: false, targetNul: false };

/** A control byte (below SP, or DEL) in buf[s, e); with `nulOk`, NUL is not one. */
function hasControl(buf: Uint8Array, s: number, e: number, nulOk = false): boolean {
  for (let i = s; i < e; i++) {
    const b = buf[i]!;
    if ((b < SP && (b !== 0 || !nulOk)) || b === 0x7f) return true;
  }
  return false;
}

/** Position of the first NUL in buf[s, e), or e. */
function nulOrEnd(buf: Uint8Array, s: number, e: number): number {
  for (let i = s; i < e; i++) if (buf[i] === 0) return i;
  return e;
}

/** "HTTP/" at i, within [i, stop). */
function httpSlashAt(buf: Uint8Array, i: number, stop: number): boolean {
  return i + 5 <= stop && buf[i] === 0x48 && buf[i + 1] === 0x54 && buf[i + 2] === 0x54 && buf[i + 3] === 0x50 && buf[i + 4] === 0x2f;
}

/**
 * The lenient reading of a request line whose part after `method SP` is buf[s, lf) (lf = its LF)
 * and breaks RFC 9112 §3: the version is the first "HTTP/" at the start or after SP (Zeek's
 * ParseRequest); the target is what lies between, SP-trimmed, possibly empty ("OPTIONS
 * HTTP/1.1") or holding SP. A version that is not DIGIT "." DIGIT (truncated "HTTP/1.", "HTTP/")
 * is read as 1.1 and flagged; bytes after a good version are flagged too (Zeek: "crud after HTTP
 * version is ignored"). A NUL before the version ends the target there (`targetNul`; see the
 * module comment). False when no "HTTP/" is there or the line holds another control byte, or a
 * NUL from the version on: then it is not read.
 */
function lenientLine(buf: Uint8Array, s: number, lf: number, o: LenientLine): boolean {
  const stop = lf > s && buf[lf - 1] === CR ? lf - 1 : lf;
  let v = -1;
  for (let i = s; i + 5 <= stop; i++) {
    if ((i === s || buf[i - 1] === SP) && httpSlashAt(buf, i, stop)) { v = i; break; }
  }
  if (v < 0) return false;
  // A control byte (a bare CR above all, RFC 9112 §2.2) leaves the line unread; a NUL is
  // tolerated only where the target is.
  if (hasControl(buf, s, v, true) || hasControl(buf, v, stop)) return false;
  // RFC 9112 §3: recipients MAY parse the request line on whitespace-delimited word boundaries.
  let ts = s, te = nulOrEnd(buf, s, v);
  o.targetNul = te < v;
  while (ts < te && buf[ts] === SP) ts++;
  while (te > ts && buf[te - 1] === SP) te--;
  o.targetStart = ts;
  o.targetEnd = te;
  const d = v + 5;
  if (d + 3 <= stop && isDigit(buf[d]!) && buf[d + 1] === 0x2e && isDigit(buf[d + 2]!)) {
    o.major = buf[d]!;
    o.minor = buf[d + 2]!;
    o.versionOdd = d + 3 !== stop;
  } else {
    o.major = 0x31;
    o.minor = 0x31;
    o.versionOdd = true;
  }
  return true;
}

/**
 * Probe for a flow's first client bytes buf[off, end): `token SP` (RFC 9110 §9.1 method = token,
 * ≤ MAX_METHOD_LENGTH tchars) with a registered method, or an extension method (WebDAV PROPFIND,
 * MKCOL, LOCK, ..., CCM_POST) whose first line names "HTTP/" after a SP within `lineBytes`. The
 * second test keeps line protocols with `WORD SP` commands (SMTP, FTP, IMAP) unclaimed.
 * Allocation-free; reads at most `lineBytes` bytes.
 */
export function probeRequestStart(buf: Uint8Array, off: number, end: number, lineBytes: number): boolean {
  const lim = Math.min(end, off + MAX_METHOD_LENGTH + 1);
  let p = off;
  while (p < lim && isTchar(buf[p]!)) p++;
  if (p === off || p >= lim || buf[p] !== SP) return false;
  if (knownMethod(buf, off, p) !== undefined) return true;
  const stop = Math.min(end, off + lineBytes);
  for (let i = p + 1; i < stop; i++) {
    const b = buf[i]!;
    if (b === LF) return false;
    if (b === SP && httpSlashAt(buf, i + 1, stop)) return true;
  }
  return false;
}

function notMine(counters: HttpCounters | undefined): ParseStatus {
  if (counters) counters.notHttp++;
  return ParseStatus.NOT_MINE;
}

/**
 * Request-line failure after the method token (§3): MALFORMED for a known method; NOT_MINE for a
 * generic token, which only says the stream is not HTTP.
 */
function badLine(known: string | undefined, out: HttpRequestInfo, counters: HttpCounters | undefined): ParseStatus {
  if (known === undefined) return notMine(counters);
  out.error = 'http.request_line_malformed';
  if (counters) counters.requestLineMalformed++;
  return ParseStatus.MALFORMED;
}

/** End of the path component: first '?' or '#' (RFC 3986 §3.3). */
function pathEnd(buf: Uint8Array, s: number, e: number): number {
  for (let i = s; i < e; i++) {
    const b = buf[i]!;
    if (b === 0x3f || b === 0x23) return i;
  }
  return e;
}

/**
 * §3.2.2 absolute-form = absolute-URI: scheme ":" "//" authority path-abempty [ "?" query ].
 * The authority (userinfo dropped) overrides any Host header; an empty path becomes "/".
 */
function parseAbsoluteForm(
  buf: Uint8Array,
  s: number,
  e: number,
  out: HttpRequestInfo,
  counters: HttpCounters | undefined,
): boolean {
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )  (RFC 3986 §3.1)
  let i = s;
  const first = buf[i]! | 0x20;
  if (first < 0x61 || first > 0x7a) return false;
  i++;
  while (i < e) {
    const b = buf[i]!;
    const l = b | 0x20;
    if ((l >= 0x61 && l <= 0x7a) || isDigit(b) || b === 0x2b || b === 0x2d || b === 0x2e) i++;
    else break;
  }
  const schemeEnd = i;
  if (i + 3 > e || buf[i] !== 0x3a || buf[i + 1] !== 0x2f || buf[i + 2] !== 0x2f) return false;
  const aStart = i + 3;
  let aEnd = aStart;
  while (aEnd < e && buf[aEnd] !== 0x2f && buf[aEnd] !== 0x3f && buf[aEnd] !== 0x23) aEnd++;
  // userinfo "@" is not part of the host (and deprecated for http, RFC 9110 §4.2.4).
  let hs = aStart;
  for (let k = aEnd - 1; k >= aStart; k--) {
    if (buf[k] === 0x40) { hs = k + 1; break; }
  }
  if (!parseAuthority(buf, hs, aEnd, out)) {
    if (counters) counters.hostMalformed++;
    return false;
  }
  out.targetForm = 'absolute';
  out.scheme = eqLower(buf, s, schemeEnd, 'http') ? 'http' : eqLower(buf, s, schemeEnd, 'https') ? 'https' : latin1Lower(buf, s, schemeEnd);
  const pe = pathEnd(buf, aEnd, e);
  out.path = pe > aEnd && buf[aEnd] === 0x2f ? latin1(buf, aEnd, pe) : '/';
  return true;
}
