/**
 * Minimal HTTP/1.x response head parser (RFC 9112 §4): the status code (for OCSF
 * http_response.code) and what is needed to find the end of the message (§6.3).
 *
 *   status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF     (§4)
 *
 * Pure, never throws, never reads at or past `end`. Results as for parseHttpRequest:
 * NOT_MINE when the stream does not start with "HTTP/"; MALFORMED (counted) for a broken status
 * line, field line, Content-Length, or a head over `httpMaxHeaderBytes`.
 */

import { ParseStatus } from '../parse-status.js';
import { DEFAULT_HTTP_LIMITS, type HttpCounters } from './counters.js';
import {
  CR,
  eqLower,
  FieldResult,
  finalCodingIsChunked,
  HTAB,
  isDigit,
  LF,
  newFieldSpan,
  nextField,
  parseContentLength,
  SP,
} from './fields.js';
import type { HttpParseOptions } from './request.js';

export interface HttpResponseInfo {
  /** 3-digit status code (100..999 syntactically; RFC 9110 §15). */
  statusCode: number;
  versionMinor: number;
  /** Bytes from `off` through the empty line ending the header section. */
  headerBytes: number;
  /** Content-Length when present and valid, and not overridden by Transfer-Encoding. */
  contentLength: number | undefined;
  /** Final transfer coding is chunked (§6.3 item 4). */
  chunked: boolean;
  /**
   * Transfer-Encoding present but chunked not final: in a response the body runs until the
   * connection closes (§6.3 item 4).
   */
  untilClose: boolean;
  /** On MALFORMED: the dotted counter name of the reason (see README); undefined otherwise. */
  error: string | undefined;
}

export function newHttpResponseInfo(): HttpResponseInfo {
  return { statusCode: 0, versionMinor: 0, headerBytes: 0, contentLength: undefined, chunked: false, untilClose: false, error: undefined };
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"
const field = newFieldSpan();

export function parseHttpResponse(
  buf: Uint8Array,
  off: number,
  end: number,
  out: HttpResponseInfo,
  counters?: HttpCounters,
  opts?: HttpParseOptions,
): ParseStatus {
  out.statusCode = 0;
  out.versionMinor = 0;
  out.headerBytes = 0;
  out.contentLength = undefined;
  out.chunked = false;
  out.untilClose = false;
  out.error = undefined;
  if (!Number.isInteger(off) || !Number.isInteger(end) || off < 0) return ParseStatus.MALFORMED;
  if (end > buf.length) end = buf.length;
  if (off >= end) return ParseStatus.NEED_MORE;
  const max = opts?.httpMaxHeaderBytes ?? DEFAULT_HTTP_LIMITS.httpMaxHeaderBytes;
  const lim = Math.min(end, off + max);
  const outOfBytes = (): ParseStatus => {
    if (end - off < max) return ParseStatus.NEED_MORE;
    out.error = 'http.header_too_long';
    if (counters) counters.headerTooLong++;
    return ParseStatus.MALFORMED;
  };
  const bad = (): ParseStatus => {
    out.error = 'http.status_line_malformed';
    if (counters) counters.statusLineMalformed++;
    return ParseStatus.MALFORMED;
  };

  let p = off;
  for (let k = 0; k < HTTP_SLASH.length; k++, p++) {
    if (p >= lim) return outOfBytes();
    if (buf[p] !== HTTP_SLASH[k]) return ParseStatus.NOT_MINE;
  }
  // HTTP-version DIGIT "." DIGIT SP 3DIGIT
  if (p + 7 > lim) return outOfBytes();
  if (buf[p] !== 0x31 || buf[p + 1] !== 0x2e || !isDigit(buf[p + 2]!) || buf[p + 3] !== SP) return bad();
  out.versionMinor = buf[p + 2]! - 0x30;
  p += 4;
  const d0 = buf[p]!, d1 = buf[p + 1]!, d2 = buf[p + 2]!;
  if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2) || d0 === 0x30) return bad();
  const code = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
  p += 3;
  // SP reason-phrase; some servers omit the SP when the reason is empty — accepted.
  if (p >= lim) return outOfBytes();
  if (buf[p] === SP) {
    p++;
    for (;;) {
      if (p >= lim) return outOfBytes();
      const b = buf[p]!;
      if (b === CR || b === LF) break;
      if (b < SP && b !== HTAB) return bad();
      if (b === 0x7f) return bad();
      p++;
    }
  }
  if (buf[p] === CR) {
    if (p + 1 >= lim) return outOfBytes();
    if (buf[p + 1] !== LF) return bad();
    p += 2;
  } else if (buf[p] === LF) {
    p++;
  } else {
    return bad();
  }

  let cl = -1, clSeen = false, clBad = false, te = -2;
  for (;;) {
    const r = nextField(buf, p, lim, field);
    if (r === FieldResult.NEED_MORE) return outOfBytes();
    if (r === FieldResult.MALFORMED) {
      out.error = 'http.header_malformed';
      if (counters) counters.headerMalformed++;
      return ParseStatus.MALFORMED;
    }
    p = field.next;
    if (r === FieldResult.END) break;
    if (r === FieldResult.FOLD) {
      if (counters) counters.headerObsFold++;
      continue;
    }
    const ns = field.nameStart, ne = field.nameEnd;
    if (ne - ns === 14 && eqLower(buf, ns, ne, 'content-length')) {
      clSeen = true;
      if (!clBad) {
        const v = parseContentLength(buf, field.valueStart, field.valueEnd, cl);
        if (v < 0) clBad = true;
        else cl = v;
      }
    } else if (ne - ns === 17 && eqLower(buf, ns, ne, 'transfer-encoding')) {
      const c = finalCodingIsChunked(buf, field.valueStart, field.valueEnd);
      if (c >= 0 || te === -2) te = c;
    }
  }
  out.statusCode = code;
  out.headerBytes = p - off;
  // §6.3: TE wins over CL; TE without final chunked → until close; invalid CL → error.
  if (te !== -2) {
    if (te === 1) out.chunked = true;
    else out.untilClose = true;
    if (clSeen && counters) counters.teAndCl++;
  } else if (clSeen) {
    if (clBad) {
      out.error = 'http.content_length_invalid';
      if (counters) counters.contentLengthInvalid++;
      return ParseStatus.MALFORMED;
    }
    out.contentLength = cl;
  }
  if (counters) counters.responses++;
  return ParseStatus.OK;
}
