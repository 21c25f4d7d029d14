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
import type { HttpCounters } from './counters.js';
import { CR, eqLower, FieldResult, HTAB, isDigit, LF, newFieldSpan, nextField, SP } from './fields.js';
import * as head from './head.js';

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

// Scratch for one parse at a time (parsers are synchronous), so a call allocates none of them.
const field = newFieldSpan();
const scan = head.newHeadScan();

export function parseHttpResponse(
  buf: Uint8Array,
  off: number,
  end: number,
  out: HttpResponseInfo,
  counters?: HttpCounters,
  opts?: head.HttpParseOptions,
): ParseStatus {
  const auth = opts?.auth;
  if (auth !== undefined) auth.start = -1;
  out.statusCode = 0;
  out.versionMinor = 0;
  out.headerBytes = 0;
  out.contentLength = undefined;
  out.chunked = false;
  out.untilClose = false;
  out.error = undefined;
  const st = head.begin(buf, off, end, opts, scan);
  if (st !== ParseStatus.OK) return st;
  const lim = scan.lim;

  let p = head.httpSlashEnd(buf, off, lim);
  if (p === head.Scan.NEED_MORE) return head.outOfBytes(off, scan, out, counters);
  if (p === head.Scan.BAD) return ParseStatus.NOT_MINE;
  // HTTP-version DIGIT "." DIGIT SP 3DIGIT
  if (p + 7 > lim) return head.outOfBytes(off, scan, out, counters);
  if (buf[p] !== 0x31 || buf[p + 1] !== 0x2e || !isDigit(buf[p + 2]!) || buf[p + 3] !== SP) return badStatusLine(out, counters);
  out.versionMinor = buf[p + 2]! - 0x30;
  p += 4;
  const d0 = buf[p]!, d1 = buf[p + 1]!, d2 = buf[p + 2]!;
  if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2) || d0 === 0x30) return badStatusLine(out, counters);
  const code = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
  p += 3;
  // SP reason-phrase; some servers omit the SP when the reason is empty — accepted.
  if (p >= lim) return head.outOfBytes(off, scan, out, counters);
  if (buf[p] === SP) {
    p++;
    for (;;) {
      if (p >= lim) return head.outOfBytes(off, scan, out, counters);
      const b = buf[p]!;
      if (b === CR || b === LF) break;
      if (b < SP && b !== HTAB) return badStatusLine(out, counters);
      if (b === 0x7f) return badStatusLine(out, counters);
      p++;
    }
  }
  p = head.startLineEnd(buf, p, lim);
  if (p === head.Scan.NEED_MORE) return head.outOfBytes(off, scan, out, counters);
  if (p === head.Scan.BAD) return badStatusLine(out, counters);

  for (;;) {
    const r = nextField(buf, p, lim, field);
    if (r === FieldResult.NEED_MORE) return head.outOfBytes(off, scan, out, counters);
    // A response's field line with an invalid name stays malformed (only requests are read past one).
    if (r === FieldResult.MALFORMED || r === FieldResult.INVALID_NAME) return head.headerMalformed(out, counters);
    p = field.next;
    if (r === FieldResult.END) break;
    if (r === FieldResult.FOLD) {
      if (counters) counters.headerObsFold++;
      continue;
    }
    if (head.framingField(buf, field.nameStart, field.nameEnd, field.valueStart, field.valueEnd, scan)) continue;
    // A 401 may list several schemes; the one carrying an NTLM / Negotiate token is the leg.
    if (auth !== undefined && auth.start < 0 && field.nameEnd - field.nameStart === 16 && eqLower(buf, field.nameStart, field.nameEnd, 'www-authenticate')) {
      head.authToken(buf, field.valueStart, field.valueEnd, auth);
    }
  }
  out.statusCode = code;
  out.headerBytes = p - off;
  // §6.3: TE wins over CL; TE without final chunked → until close (item 4); invalid CL → error (item 5).
  if (scan.te !== head.NO_TRANSFER_ENCODING) {
    if (scan.te === 1) out.chunked = true;
    else out.untilClose = true;
    if (scan.clSeen && counters) counters.teAndCl++;
  } else if (head.applyContentLength(scan, out, counters) !== ParseStatus.OK) {
    return ParseStatus.MALFORMED;
  }
  if (counters) counters.responses++;
  return ParseStatus.OK;
}

/** Status line not `HTTP-version SP 3DIGIT SP [ reason-phrase ]` (§4): MALFORMED `http.status_line_malformed`. */
function badStatusLine(out: HttpResponseInfo, counters: HttpCounters | undefined): ParseStatus {
  out.error = 'http.status_line_malformed';
  if (counters) counters.statusLineMalformed++;
  return ParseStatus.MALFORMED;
}
