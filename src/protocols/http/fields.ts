/**
 * Byte-level pieces shared by the request and response parsers: token/field-line scanning
 * (RFC 9112 §5, RFC 9110 §5.6.2), uri-host ":" port (RFC 3986 §3.2.2-3), Content-Length
 * (RFC 9110 §8.6) and Transfer-Encoding (RFC 9112 §6.1) values. Nothing here allocates except
 * the strings handed back for fields we keep.
 */

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;

/** tchar per RFC 9110 §5.6.2: "!#$%&'*+-.^_`|~" DIGIT ALPHA. */
const TCHAR = new Uint8Array(256);
/** reg-name / IPv4 characters of uri-host (RFC 3986 §3.2.2): unreserved, pct-encoded, sub-delims. */
const HOSTCHAR = new Uint8Array(256);
(() => {
  for (let c = 0x30; c <= 0x39; c++) { TCHAR[c] = 1; HOSTCHAR[c] = 1; }
  for (let c = 0x41; c <= 0x5a; c++) { TCHAR[c] = 1; HOSTCHAR[c] = 1; TCHAR[c + 32] = 1; HOSTCHAR[c + 32] = 1; }
  for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;
  for (const ch of "-._~%!$&'()*+,;=") HOSTCHAR[ch.charCodeAt(0)] = 1;
})();

export function isTchar(b: number): boolean {
  return TCHAR[b] === 1;
}

export function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66);
}

/** Bytes as a latin1 string (each byte one UTF-16 unit; obs-text survives). */
export function latin1(buf: Uint8Array, s: number, e: number): string {
  // Native decoding through a Buffer view (no copy); spreading bytes into fromCharCode was the
  // parser's largest cost in the replay profile.
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
}

/** Same, ASCII letters lowercased. */
export function latin1Lower(buf: Uint8Array, s: number, e: number): string {
  let out = '';
  for (let i = s; i < e; i++) {
    const b = buf[i]!;
    out += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b | 0x20 : b);
  }
  return out;
}

/** Case-insensitive compare of buf[s, e) with a lowercase ASCII literal (letters, digits, '-'). */
export function eqLower(buf: Uint8Array, s: number, e: number, lit: string): boolean {
  if (e - s !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) {
    const b = buf[s + i]!;
    const l = lit.charCodeAt(i);
    if (b !== l && (b | 0x20) !== l) return false;
  }
  return true;
}

/** Result of `nextField`. */
export const enum FieldResult {
  /** One field line; spans in FieldSpan. */
  FIELD = 0,
  /** The empty line ending the header section; FieldSpan.next is just past it. */
  END = 1,
  /** obs-fold continuation line (RFC 9112 §5.2), skipped; FieldSpan.next is past it. */
  FOLD = 2,
  NEED_MORE = 3,
  MALFORMED = 4,
  /**
   * A whole line `name ":" value` whose name holds a byte that is not a tchar (nor whitespace,
   * NUL or CR): not a field line (§5.1), but one a server may skip (see skipInvalidName).
   * FieldSpan.next is past it.
   */
  INVALID_NAME = 5,
}

export interface FieldSpan {
  /** The value held NUL or other control bytes (tolerated as SP, RFC 9110 §5.5). */
  controlInValue: boolean;
  /**
   * Position of the value's first NUL, -1 when it has none. The line still ends at its LF; a
   * reader that takes the value as a C string (the request parser, see request.ts) ends it here.
   */
  nul: number;
  nameStart: number;
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
  next: number;
}

export function newFieldSpan(): FieldSpan {
  return { controlInValue: false, nul: -1, nameStart: 0, nameEnd: 0, valueStart: 0, valueEnd: 0, next: 0 };
}

/**
 * One field line at p, looking no further than lim (RFC 9112 §5):
 *   field-line = field-name ":" OWS field-value OWS, ended by CRLF (or a bare LF, §2.2).
 * No whitespace is allowed between name and colon (§5.1). In values, CR is only allowed
 * right before LF; NUL and other CTLs except HTAB are invalid (RFC 9110 §5.5) but tolerated:
 * `controlInValue` says one was there, `nul` where the first NUL is.
 */
export function nextField(buf: Uint8Array, p: number, lim: number, f: FieldSpan): FieldResult {
  if (p >= lim) return FieldResult.NEED_MORE;
  const b0 = buf[p]!;
  if (b0 === LF) { f.next = p + 1; return FieldResult.END; }
  if (b0 === CR) {
    if (p + 1 >= lim) return FieldResult.NEED_MORE;
    if (buf[p + 1] === LF) { f.next = p + 2; return FieldResult.END; }
    return FieldResult.MALFORMED;
  }
  if (b0 === SP || b0 === HTAB) {
    // obs-fold (§5.2) or whitespace before the first field (§2.2): skip the line.
    for (let i = p + 1; i < lim; i++) {
      const b = buf[i]!;
      if (b === LF) { f.next = i + 1; return FieldResult.FOLD; }
      if (b === 0 || (b === CR && i + 1 < lim && buf[i + 1] !== LF)) return FieldResult.MALFORMED;
    }
    return FieldResult.NEED_MORE;
  }
  let i = p;
  while (i < lim && TCHAR[buf[i]!] === 1) i++;
  if (i >= lim) return FieldResult.NEED_MORE;
  if (buf[i] !== 0x3a /* ':' */) return skipInvalidName(buf, i, lim, f);
  if (i === p) return FieldResult.MALFORMED;
  f.nameStart = p;
  f.nameEnd = i;
  i++;
  while (i < lim && (buf[i] === SP || buf[i] === HTAB)) i++;
  const vs = i;
  f.controlInValue = false;
  f.nul = -1;
  for (; i < lim; i++) {
    const b = buf[i]!;
    if (b >= SP && b !== 0x7f) continue;
    if (b === HTAB) continue;
    if (b === LF) break;
    if (b === CR) {
      if (i + 1 >= lim) return FieldResult.NEED_MORE;
      if (buf[i + 1] === LF) break;
      // A bare CR is where request smuggling lives: never tolerated.
      return FieldResult.MALFORMED;
    }
    // NUL and other controls are invalid in a value, but RFC 9110 §5.5 lets a recipient treat
    // them as SP; the field is kept and the caller counts it, so one bad byte in an unrelated
    // header does not hide the request's Host.
    f.controlInValue = true;
    if (b === 0 && f.nul < 0) f.nul = i;
  }
  if (i >= lim) return FieldResult.NEED_MORE;
  f.next = buf[i] === CR ? i + 2 : i + 1;
  let ve = i;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  f.valueStart = vs;
  f.valueEnd = ve;
  return FieldResult.FIELD;
}

/**
 * A field name stopped at i by a byte that is neither a tchar nor ':'. Whitespace there (§5.1:
 * "Host : x" MUST be rejected, a smuggling vector), NUL, CR or LF leave the line MALFORMED, as
 * does a line without ':' or with a bare CR. Any other byte (a non-ASCII or separator byte inside
 * the name) makes a line nginx skips with its default `ignore_invalid_headers on`
 * (ngx_http_request.c, ngx_http_process_request_headers: "client sent invalid header line"):
 * INVALID_NAME, `f.next` past its LF, so the request's other fields still count.
 */
function skipInvalidName(buf: Uint8Array, i: number, lim: number, f: FieldSpan): FieldResult {
  let colon = false;
  for (; i < lim; i++) {
    const b = buf[i]!;
    if (b === LF) {
      if (!colon) return FieldResult.MALFORMED;
      f.next = i + 1;
      return FieldResult.INVALID_NAME;
    }
    if (b === CR) {
      if (i + 1 >= lim) return FieldResult.NEED_MORE;
      if (buf[i + 1] !== LF || !colon) return FieldResult.MALFORMED;
      f.next = i + 2;
      return FieldResult.INVALID_NAME;
    }
    if (b === 0) return FieldResult.MALFORMED;
    if (!colon) {
      if (b === SP || b === HTAB) return FieldResult.MALFORMED;
      if (b === 0x3a) colon = true;
    }
  }
  return FieldResult.NEED_MORE;
}

/** Where parseAuthority puts its result. */
export interface HostPort {
  host: string | undefined;
  port: number | undefined;
}

/** Longest host we keep (DNS names are ≤ 253 octets). */
export const MAX_HOST_LENGTH = 255;

/**
 * uri-host [ ":" port ] (RFC 3986 §3.2.2-3.2.3) as used by Host (RFC 9110 §7.2), authority-form
 * (RFC 9112 §3.2.3) and the authority of absolute-form (§3.2.2). Host is lowercased; an
 * IP-literal loses its brackets ("[2001:db8::1]:8080" → host "2001:db8::1", port 8080).
 * An empty port ("host:") leaves port undefined. Returns false (out untouched) when invalid.
 */
export function parseAuthority(buf: Uint8Array, s: number, e: number, out: HostPort): boolean {
  if (s >= e) return false;
  let hs = s, he: number, portStart: number;
  if (buf[s] === 0x5b /* '[' */) {
    let i = s + 1;
    while (i < e && buf[i] !== 0x5d /* ']' */) {
      const b = buf[i]!;
      // IPv6address / IPvFuture characters; zone ids (RFC 6874) are not accepted.
      if (!(isHex(b) || b === 0x3a || b === 0x2e || (b | 0x20) === 0x76)) return false;
      i++;
    }
    if (i >= e || i === s + 1) return false;
    hs = s + 1;
    he = i;
    i++;
    if (i === e) portStart = -1;
    else if (buf[i] === 0x3a) portStart = i + 1;
    else return false;
  } else {
    let colon = -1;
    for (let i = s; i < e; i++) {
      const b = buf[i]!;
      if (b === 0x3a) { if (colon >= 0) return false; colon = i; continue; }
      if (HOSTCHAR[b] !== 1) return false;
    }
    he = colon >= 0 ? colon : e;
    portStart = colon >= 0 ? colon + 1 : -1;
    if (he === hs) return false;
  }
  if (he - hs > MAX_HOST_LENGTH) return false;
  let port: number | undefined;
  if (portStart >= 0 && portStart < e) {
    if (e - portStart > 5) return false;
    let v = 0;
    for (let i = portStart; i < e; i++) {
      const b = buf[i]!;
      if (!isDigit(b)) return false;
      v = v * 10 + (b - 0x30);
    }
    if (v > 65535) return false;
    port = v;
  }
  out.host = latin1Lower(buf, hs, he);
  out.port = port;
  return true;
}

/** Largest Content-Length we track (15 digits stays well inside 2^53). */
const MAX_CL_DIGITS = 15;

/**
 * Content-Length = 1*DIGIT (RFC 9110 §8.6). A list of identical values ("5, 5"), as left by
 * some intermediaries, is accepted as that value (§8.6, RFC 9112 §6.3 item 5); anything else
 * returns -1. `prev` is the value from an earlier Content-Length line (or -1 if none): a
 * different value is a conflict (-1).
 */
export function parseContentLength(buf: Uint8Array, s: number, e: number, prev: number): number {
  let value = prev;
  let i = s;
  for (;;) {
    while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++;
    const ds = i;
    let v = 0;
    while (i < e && isDigit(buf[i]!)) { v = v * 10 + (buf[i]! - 0x30); i++; }
    if (i === ds || i - ds > MAX_CL_DIGITS) return -1;
    if (value >= 0 && value !== v) return -1;
    value = v;
    while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (i === e) return value;
    if (buf[i] !== 0x2c /* ',' */) return -1;
    i++;
  }
}

/**
 * Transfer-Encoding = #transfer-coding (RFC 9112 §6.1). Returns 1 if the final coding is
 * "chunked", 0 if it is some other coding, -1 if the value has no coding at all.
 */
export function finalCodingIsChunked(buf: Uint8Array, s: number, e: number): number {
  // The last list element that is not empty.
  let i = e;
  while (i > s && (buf[i - 1] === SP || buf[i - 1] === HTAB || buf[i - 1] === 0x2c)) i--;
  if (i === s) return -1;
  let j = i;
  while (j > s && buf[j - 1] !== 0x2c) j--;
  // Element is buf[j, i): coding name up to ';' or whitespace (parameters, §6.1 / RFC 9110 §10.1.4).
  while (j < i && (buf[j] === SP || buf[j] === HTAB)) j++;
  let ne = j;
  while (ne < i && TCHAR[buf[ne]!] === 1) ne++;
  return ne > j && eqLower(buf, j, ne, 'chunked') ? 1 : 0;
}
