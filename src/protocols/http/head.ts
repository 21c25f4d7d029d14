/**
 * What the request and response head parsers share (RFC 9112): the argument checks and the
 * `httpMaxHeaderBytes` bound, the verdict when the bytes run out, the "HTTP/" of HTTP-version
 * (§2.3), the line ending of the start line (§2.2), the field-line error, and Content-Length /
 * Transfer-Encoding bookkeeping for the message body length (§6.1, §6.3).
 *
 * Plain functions over a caller-owned HeadScan (one per parser module, like its FieldSpan), so a
 * parse creates no closures or objects here. The parsers import this module as `head`, so a
 * call site says the logic is the shared one. Error strings are the stable counter names
 * documented in ./README.md.
 */

import { ParseStatus } from '../parse-status.js';
import { DEFAULT_HTTP_LIMITS, type HttpCounters } from './counters.js';
import { CR, eqLower, finalCodingIsChunked, LF, parseContentLength } from './fields.js';

export interface HttpParseOptions {
  httpMaxHeaderBytes?: number;
  /**
   * buf[off, end) is all of this head there will be (the flow ended, or a field line broke):
   * read it line by line, as Zeek's and nDPI's HTTP analyzers do, and take the head to end
   * before the first field line that is incomplete or unreadable. The request line must still
   * be complete. Only the request parser honours it.
   */
  headCut?: boolean;
  /**
   * When set, the value span of the head's NTLM / Negotiate credentials (a request's
   * `Authorization`, a response's `WWW-Authenticate` naming NTLM or Negotiate with a token,
   * RFC 4559 §4, MS-NTHT §2.2) is written here; start -1 when there is none. Offsets only: the
   * credentials never become part of the parsed request (nor of any event).
   */
  auth?: AuthSpan;
}

/** Where a head's `NTLM <token>` / `Negotiate <token>` value is: buf[start, end) holds the base64 token. */
export interface AuthSpan { start: number; end: number }

/**
 * If buf[vs, ve) is `NTLM <token>` or `Negotiate <token>` (scheme case-insensitive, RFC 9110
 * §11.1), the token's span into `out`; true when found.
 */
export function authToken(buf: Uint8Array, vs: number, ve: number, out: AuthSpan): boolean {
  let n: number;
  if (ve - vs > 5 && eqLower(buf, vs, vs + 4, 'ntlm') && buf[vs + 4] === 0x20) n = 5;
  else if (ve - vs > 10 && eqLower(buf, vs, vs + 9, 'negotiate') && buf[vs + 9] === 0x20) n = 10;
  else return false;
  let s = vs + n;
  while (s < ve && buf[s] === 0x20) s++;
  if (s >= ve) return false;
  out.start = s; out.end = ve;
  return true;
}

/** The part of HttpRequestInfo / HttpResponseInfo the shared failures write. */
interface HeadError {
  error: string | undefined;
}

/** `HeadScan.te` when no Transfer-Encoding line was seen. */
export const NO_TRANSFER_ENCODING = -2;

/**
 * One head parse's bounds (set by `begin`) and its Content-Length / Transfer-Encoding lines (as
 * `framingField` collects them). Scratch: parsers are synchronous, so one per module serves.
 */
export interface HeadScan {
  /** `end` clamped to buf.length. */
  end: number;
  /** httpMaxHeaderBytes in effect. */
  max: number;
  /** min(end, off + max): no scan looks at or past it. */
  lim: number;
  /** Content-Length so far; -1 before a valid one. */
  cl: number;
  /** A Content-Length line was seen. */
  clSeen: boolean;
  /** A Content-Length was invalid or conflicted with an earlier one; later lines are not parsed. */
  clBad: boolean;
  /** NO_TRANSFER_ENCODING, else finalCodingIsChunked (1 / 0 / -1) of the line that decides. */
  te: number;
}

export function newHeadScan(): HeadScan {
  return { end: 0, max: 0, lim: 0, cl: -1, clSeen: false, clBad: false, te: NO_TRANSFER_ENCODING };
}

/**
 * The checks both parsers start with. OK: `s` is set up for a parse of buf[off, end) and parsing
 * goes on; otherwise the status to return as is: MALFORMED for a non-integer offset or end or a
 * negative offset, NEED_MORE for an empty range. `end` past the buffer is clamped, so nothing
 * reads past buf.length.
 */
export function begin(
  buf: Uint8Array,
  off: number,
  end: number,
  opts: HttpParseOptions | undefined,
  s: HeadScan,
): ParseStatus {
  if (!Number.isInteger(off) || !Number.isInteger(end) || off < 0) return ParseStatus.MALFORMED;
  if (end > buf.length) end = buf.length;
  if (off >= end) return ParseStatus.NEED_MORE;
  const max = opts?.httpMaxHeaderBytes ?? DEFAULT_HTTP_LIMITS.httpMaxHeaderBytes;
  s.end = end;
  s.max = max;
  s.lim = Math.min(end, off + max);
  s.cl = -1;
  s.clSeen = false;
  s.clBad = false;
  s.te = NO_TRANSFER_ENCODING;
  return ParseStatus.OK;
}

/**
 * Ran out of bytes at `s.lim` before the head was complete: NEED_MORE while the bytes given are
 * under the bound (more may complete it), then MALFORMED `http.header_too_long`. The bound covers
 * the start line and the header section through its empty line (§2.1), so a caller that buffers
 * a split head never holds more than httpMaxHeaderBytes.
 */
export function outOfBytes(off: number, s: HeadScan, out: HeadError, counters: HttpCounters | undefined): ParseStatus {
  if (s.end - off < s.max) return ParseStatus.NEED_MORE;
  out.error = 'http.header_too_long';
  if (counters) counters.headerTooLong++;
  return ParseStatus.MALFORMED;
}

/** A field line that is not `field-name ":" OWS field-value OWS` (§5): MALFORMED `http.header_malformed`. */
export function headerMalformed(out: HeadError, counters: HttpCounters | undefined): ParseStatus {
  out.error = 'http.header_malformed';
  if (counters) counters.headerMalformed++;
  return ParseStatus.MALFORMED;
}

/** What `httpSlashEnd` and `startLineEnd` return instead of a position. */
export const enum Scan {
  /** `lim` came first: the caller's outOfBytes decides. */
  NEED_MORE = -1,
  /** The bytes are not what the rule wants. */
  BAD = -2,
}

/** "HTTP/" (HTTP-name "/", §2.3), as bytes. */
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f];

/**
 * "HTTP/" at p, the case-sensitive start of HTTP-version (§2.3): the position just past it,
 * Scan.NEED_MORE when `lim` cuts it short, Scan.BAD at the first byte that differs (checked in
 * order, so a wrong byte before `lim` is BAD even if the rest is missing).
 */
export function httpSlashEnd(buf: Uint8Array, p: number, lim: number): number {
  for (let k = 0; k < HTTP_SLASH.length; k++, p++) {
    if (p >= lim) return Scan.NEED_MORE;
    if (buf[p] !== HTTP_SLASH[k]) return Scan.BAD;
  }
  return p;
}

/** Position of the first LF in buf[p, lim), or Scan.NEED_MORE when there is none yet. */
export function lineEnd(buf: Uint8Array, p: number, lim: number): number {
  for (; p < lim; p++) if (buf[p] === LF) return p;
  return Scan.NEED_MORE;
}

/**
 * The line ending of a start line at p: CRLF, or a bare LF, which §2.2 lets a recipient accept;
 * a bare CR is not accepted. The position just past it, Scan.NEED_MORE when `lim` cuts it short,
 * or Scan.BAD.
 */
export function startLineEnd(buf: Uint8Array, p: number, lim: number): number {
  if (p >= lim) return Scan.NEED_MORE;
  const b = buf[p];
  if (b === CR) {
    if (p + 1 >= lim) return Scan.NEED_MORE;
    return buf[p + 1] === LF ? p + 2 : Scan.BAD;
  }
  return b === LF ? p + 1 : Scan.BAD;
}

/**
 * Records the field line name buf[ns, ne), value buf[vs, ve) into `s` when it is Content-Length
 * or Transfer-Encoding (returns true); false for any other name, for the caller to look at.
 */
export function framingField(buf: Uint8Array, ns: number, ne: number, vs: number, ve: number, s: HeadScan): boolean {
  const n = ne - ns;
  if (n === 14 && eqLower(buf, ns, ne, 'content-length')) {
    s.clSeen = true;
    if (!s.clBad) {
      const v = parseContentLength(buf, vs, ve, s.cl);
      if (v < 0) s.clBad = true;
      else s.cl = v;
    }
    return true;
  }
  if (n === 17 && eqLower(buf, ns, ne, 'transfer-encoding')) {
    // Only the final coding of the combined list matters (§6.1), i.e. that of the last line.
    const c = finalCodingIsChunked(buf, vs, ve);
    if (c >= 0 || s.te === NO_TRANSFER_ENCODING) s.te = c;
    return true;
  }
  return false;
}

/**
 * §6.3 item 5, for a message without Transfer-Encoding (items 3-4 are the caller's: what a
 * non-chunked final coding means differs for requests and responses). A valid Content-Length is
 * the body length (`out.contentLength`); an invalid or conflicting one is an unrecoverable
 * framing error: MALFORMED `http.content_length_invalid`. None: OK, out untouched.
 */
export function applyContentLength(
  s: HeadScan,
  out: HeadError & { contentLength: number | undefined },
  counters: HttpCounters | undefined,
): ParseStatus {
  if (!s.clSeen) return ParseStatus.OK;
  if (s.clBad) {
    out.error = 'http.content_length_invalid';
    if (counters) counters.contentLengthInvalid++;
    return ParseStatus.MALFORMED;
  }
  out.contentLength = s.cl;
  return ParseStatus.OK;
}
