/**
 * HTTP/1.x analyzer counters and limits. Counters are plain numbers on one monomorphic object
 * so the hot path bumps them with `c.x++`; `snapshot()` gives the stable dotted names
 * (documented in ./README.md) only when someone asks.
 */

export interface HttpLimits {
  /** Longest start-line + header section (through the empty line) we accept or buffer. */
  httpMaxHeaderBytes: number;
  /** Requests recorded per flow; the flow is `done` after that many. */
  httpMaxRequestsPerFlow: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  httpMaxHeaderBytes: 8192,
  httpMaxRequestsPerFlow: 32,
});

/** Merges partial settings over the defaults; non-positive / non-integer values fall back. */
export function httpLimits(partial?: Partial<HttpLimits>): HttpLimits {
  const pick = (v: number | undefined, d: number): number =>
    v !== undefined && Number.isInteger(v) && v > 0 ? v : d;
  return {
    httpMaxHeaderBytes: pick(partial?.httpMaxHeaderBytes, DEFAULT_HTTP_LIMITS.httpMaxHeaderBytes),
    httpMaxRequestsPerFlow: pick(partial?.httpMaxRequestsPerFlow, DEFAULT_HTTP_LIMITS.httpMaxRequestsPerFlow),
  };
}

export class HttpCounters {
  /** Request heads parsed (ParseStatus.OK). */
  requests = 0;
  /** Response heads parsed (final and interim). */
  responses = 0;
  /** Client stream judged not HTTP/1.x (no method token + SP, or a generic token without an HTTP request line). */
  notHttp = 0;
  /** HTTP/2 prior-knowledge preface `PRI * HTTP/2.0` (RFC 9113 §3.4): not ours. */
  h2Preface = 0;
  /**
   * Request line not `method SP request-target SP HTTP-version CRLF` (RFC 9112 §3): a known
   * method's that could not be read, or one read leniently in a head that parsed (requestLineLenient).
   */
  requestLineMalformed = 0;
  /** Of those, lines read (target and version found as Zeek finds them) in heads that parsed (Host, User-Agent kept). */
  requestLineLenient = 0;
  /** Lenient lines without a request-target (`OPTIONS HTTP/1.1`). */
  requestTargetMissing = 0;
  /**
   * Lenient lines whose request-target holds a NUL: tolerated, the target ends at it (a C-string
   * reader's target; see request.ts). Counted in heads that parsed.
   */
  requestTargetNul = 0;
  /** Requests read from a head that never ended or broke on a field line (read line by line up to there). */
  requestHeadCut = 0;
  /** Lenient lines whose HTTP-version is not DIGIT "." DIGIT (truncated, read as 1.1) or is followed by other bytes. */
  versionMalformed = 0;
  /** Requests with an extension method (not GET POST PUT DELETE HEAD OPTIONS PATCH CONNECT TRACE; RFC 9110 §9.1, §16.1). */
  methodExtension = 0;
  /** Request target fits none of the four forms (RFC 9112 §3.2); the head is still read, except for CONNECT. */
  requestTargetMalformed = 0;
  /** HTTP-version other than HTTP/1.x. */
  versionUnsupported = 0;
  /** Start-line + headers longer than httpMaxHeaderBytes. */
  headerTooLong = 0;
  /** Bad field line (RFC 9112 §5; whitespace before colon, bare CR, NUL, non-token name). */
  headerMalformed = 0;
  /** Request field lines skipped for a name with a non-tchar byte (not whitespace, NUL or CR), as nginx skips them; counted in heads that parsed. */
  headerNameInvalid = 0;
  /** Field values with NUL or other control bytes, tolerated as SP (RFC 9110 §5.5). */
  headerControlInValue = 0;
  /** Request field values holding a NUL, which ends the value there (C-string reading; see request.ts); counted in heads that parsed. */
  fieldValueNul = 0;
  /** obs-fold continuation lines (RFC 9112 §5.2); ignored. */
  headerObsFold = 0;
  /** Host (or target authority) not a valid uri-host [":" port]. */
  hostMalformed = 0;
  /** HTTP/1.1 request without Host (RFC 9112 §3.2). */
  hostMissing = 0;
  /** More than one Host field line (RFC 9112 §3.2); the first is kept. */
  hostDuplicate = 0;
  /** Content-Length not a decimal or conflicting values (RFC 9112 §6.3 item 5). */
  contentLengthInvalid = 0;
  /** Request Transfer-Encoding whose final coding is not chunked (RFC 9112 §6.3 item 4). */
  transferEncodingInvalid = 0;
  /** Both Transfer-Encoding and Content-Length (RFC 9112 §6.3 item 3); TE wins. Smuggling indicator. */
  teAndCl = 0;
  /** Broken chunked framing (RFC 9112 §7.1). */
  chunkMalformed = 0;
  /** Response status line malformed (RFC 9112 §4). */
  statusLineMalformed = 0;
  /** Response with no outstanding request to attach it to. */
  responseUnmatched = 0;
  /** Flows that reached httpMaxRequestsPerFlow. */
  maxRequestsReached = 0;
  /** Flows that switched to a tunnel (CONNECT 2xx, 101 Switching Protocols). */
  tunnels = 0;

  snapshot(): Record<string, number> {
    return {
      'http.requests': this.requests,
      'http.responses': this.responses,
      'http.not_http': this.notHttp,
      'http.h2_preface': this.h2Preface,
      'http.request_line_malformed': this.requestLineMalformed,
      'http.request_line_lenient': this.requestLineLenient,
      'http.request_target_missing': this.requestTargetMissing,
      'http.request_target_nul': this.requestTargetNul,
      'http.request_head_cut': this.requestHeadCut,
      'http.version_malformed': this.versionMalformed,
      'http.method_extension': this.methodExtension,
      'http.request_target_malformed': this.requestTargetMalformed,
      'http.version_unsupported': this.versionUnsupported,
      'http.header_too_long': this.headerTooLong,
      'http.header_malformed': this.headerMalformed,
      'http.header_name_invalid': this.headerNameInvalid,
      'http.header_control_in_value': this.headerControlInValue,
      'http.field_value_nul': this.fieldValueNul,
      'http.header_obs_fold': this.headerObsFold,
      'http.host_malformed': this.hostMalformed,
      'http.host_missing': this.hostMissing,
      'http.host_duplicate': this.hostDuplicate,
      'http.content_length_invalid': this.contentLengthInvalid,
      'http.transfer_encoding_invalid': this.transferEncodingInvalid,
      'http.te_and_cl': this.teAndCl,
      'http.chunk_malformed': this.chunkMalformed,
      'http.status_line_malformed': this.statusLineMalformed,
      'http.response_unmatched': this.responseUnmatched,
      'http.max_requests_reached': this.maxRequestsReached,
      'http.tunnels': this.tunnels,
    };
  }
}
