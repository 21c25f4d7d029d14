/**
 * Per-flow HTTP/1.x analyzer. Feed it each direction's TCP payload in order; it records every
 * request head (pipelined or not), steps over bodies without buffering them (RFC 9112 §6.3:
 * Content-Length, chunked §7.1), and attaches status codes from the responses in order
 * (§9.3.2: responses to pipelined requests come back in request order).
 *
 * Memory: a head split across segments is copied into a buffer of at most httpMaxHeaderBytes
 * per direction, allocated only while a partial head is pending. A complete head inside one
 * segment is parsed in place. To keep the work linear when a head arrives in many small
 * segments, a pending head is re-parsed only when the method/status window (first 18 bytes)
 * grows, when its first line completes, when an empty line (end of head) shows up, or when the
 * buffer is full.
 *
 * The flow is `done` when the client side has stopped — not HTTP, malformed, a tunnel (CONNECT,
 * 101 Switching Protocols), or httpMaxRequestsPerFlow reached — and no response is still
 * expected (or the server side has stopped too). After `done`, further data is ignored.
 */

import { ParseStatus } from '../parse-status.js';
import { ChunkedSkipper } from './chunked.js';
import { HttpCounters, httpLimits, type HttpLimits } from './counters.js';
import { CR, LF } from './fields.js';
import { newHttpRequestInfo, parseHttpRequest, type HttpRequestInfo, type HttpParseOptions } from './request.js';
import { newHttpResponseInfo, parseHttpResponse, type HttpResponseInfo } from './response.js';
import type { AuthSpan } from './head.js';

/**
 * Told of each head's NTLM / Negotiate credentials (RFC 4559 §4, MS-NTHT §2.2): a request's
 * `Authorization` token (isClient, status 0), and every final response (its status code, and its
 * `WWW-Authenticate` token when it has one; start -1 when not). buf[start, end) is the base64 text.
 */
export type HttpAuthHook = (s: HttpFlowState, isClient: boolean, buf: Uint8Array, start: number, end: number, statusCode: number) => void;

export interface HttpRequestRecord extends HttpRequestInfo {
  /** Final status code of the matching response (1xx other than 101 are skipped); undefined until seen. */
  statusCode: number | undefined;
}

const enum Mode {
  HEAD,
  BODY_LENGTH,
  BODY_CHUNKED,
  STOPPED,
}

/** Bytes re-parsed at each growth while the method token / "HTTP/x.y NNN" is undecided. */
const DECISION_WINDOW = 18;
/** Stray CR/LF bytes tolerated before a message (RFC 9112 §2.2: ignore at least one empty line). */
const MAX_LEADING_EOL = 4;

/** One direction of the flow. */
class Direction {
  mode = Mode.HEAD;
  /** Partial head copied from earlier segments (only while len > 0). */
  pending: Uint8Array | undefined = undefined;
  len = 0;
  /** pending[0, scanFrom) has been searched for LF / the empty line. */
  scanFrom = 0;
  lfSeen = false;
  endSeen = false;
  remaining = 0;
  chunk: ChunkedSkipper | undefined = undefined;
  leadingEol = 0;

  clearPending(): void {
    this.pending = undefined;
    this.len = 0;
    this.scanFrom = 0;
    this.lfSeen = false;
    this.endSeen = false;
  }

  /** Looks for the first LF and for an empty line (LF LF or LF CR LF) in the unscanned part. */
  scan(): void {
    const b = this.pending;
    if (!b) return;
    const n = this.len;
    for (let i = this.scanFrom; i < n && !this.endSeen; i++) {
      if (b[i] !== LF) continue;
      this.lfSeen = true;
      if ((i + 1 < n && b[i + 1] === LF) || (i + 2 < n && b[i + 1] === CR && b[i + 2] === LF)) this.endSeen = true;
    }
    this.scanFrom = Math.max(this.scanFrom, n - 2);
  }
}

export class HttpFlowState {
  /** Request heads in order, with status codes attached as responses arrive. */
  readonly requests: HttpRequestRecord[] = [];
  /** At least one request head parsed. */
  isHttp = false;
  readonly counters: HttpCounters;
  readonly limits: HttpLimits;

  private readonly client = new Direction();
  private readonly server = new Direction();
  /** Index in `requests` of the next request awaiting a response. */
  private nextResponse = 0;
  private readonly req = newHttpRequestInfo();
  private readonly res = newHttpResponseInfo();
  private readonly opts: HttpParseOptions;
  private readonly cutOpts: HttpParseOptions;
  /** A pending head was reported read up to its cut (counted once per flow). */
  private cutReported = false;
  /** Where the last head's credentials were (only with an auth hook). */
  private readonly auth: AuthSpan | undefined;
  /** The buffer of the last head parsed (the packet, or the copied partial head). */
  private lastBuf: Uint8Array | null = null;
  /** The flow's NTLM / Negotiate conversation, owned by the auth hook's side (undefined until one starts). */
  authConversation: unknown = undefined;

  constructor(counters?: HttpCounters, limits?: Partial<HttpLimits>, private readonly authHook?: HttpAuthHook) {
    this.counters = counters ?? new HttpCounters();
    this.limits = httpLimits(limits);
    this.auth = authHook !== undefined ? { start: -1, end: -1 } : undefined;
    this.opts = { httpMaxHeaderBytes: this.limits.httpMaxHeaderBytes, ...(this.auth !== undefined ? { auth: this.auth } : {}) };
    this.cutOpts = { httpMaxHeaderBytes: this.limits.httpMaxHeaderBytes, headCut: true };
  }

  /**
   * The requests so far, and the request of a head still pending read up to its last complete
   * field line: a head whose end never comes (a lost segment, a flow cut by the capture's end
   * or by the inspection budget) still names its flow, as Zeek's and nDPI's line-by-line readers
   * name it. Called at events, so it changes no state but the once-per-flow counter.
   */
  requestsSoFar(): HttpRequestRecord[] {
    const c = this.client;
    if (c.mode !== Mode.HEAD || c.len === 0 || c.pending === undefined) return this.requests;
    const cut = newHttpRequestInfo();
    if (parseHttpRequest(c.pending, 0, c.len, cut, undefined, this.cutOpts) !== ParseStatus.OK) return this.requests;
    if (!this.cutReported) { this.cutReported = true; this.counters.requestHeadCut++; }
    return [...this.requests, { ...cut, statusCode: undefined }];
  }

  /** Nothing more to learn from this flow. */
  get done(): boolean {
    return this.client.mode === Mode.STOPPED && (this.server.mode === Mode.STOPPED || this.nextResponse >= this.requests.length);
  }

  /** Client → server payload bytes buf[off, off + len), in stream order. */
  onClientData(buf: Uint8Array, off: number, len: number): void {
    this.feed(this.client, true, buf, off, len);
  }

  /** Server → client payload bytes buf[off, off + len), in stream order. */
  onServerData(buf: Uint8Array, off: number, len: number): void {
    this.feed(this.server, false, buf, off, len);
  }

  private feed(d: Direction, isClient: boolean, buf: Uint8Array, off: number, len: number): void {
    if (this.done || d.mode === Mode.STOPPED) return;
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len <= 0) return;
    const end = Math.min(buf.length, off + len);
    let p = off;
    while (p < end && (d.mode as Mode) !== Mode.STOPPED) {
      if (d.mode === Mode.BODY_LENGTH) {
        const n = Math.min(d.remaining, end - p);
        p += n;
        d.remaining -= n;
        if (d.remaining === 0) d.mode = Mode.HEAD;
        continue;
      }
      if (d.mode === Mode.BODY_CHUNKED) {
        const c = d.chunk!;
        p = c.feed(buf, p, end);
        if (c.failed) {
          this.counters.chunkMalformed++;
          this.stop(d, isClient);
        } else if (c.finished) {
          d.mode = Mode.HEAD;
        }
        continue;
      }
      // Mode.HEAD
      if (d.len === 0) {
        while (p < end && d.leadingEol < MAX_LEADING_EOL && (buf[p] === CR || buf[p] === LF)) { p++; d.leadingEol++; }
        if (p >= end) break;
        const st = this.parse(isClient, buf, p, end);
        if (st === ParseStatus.OK) {
          p += isClient ? this.req.headerBytes : this.res.headerBytes;
          this.onHead(d, isClient);
        } else if (st === ParseStatus.NEED_MORE) {
          const cap = this.limits.httpMaxHeaderBytes;
          const n = Math.min(end - p, cap);
          d.pending = new Uint8Array(cap);
          d.pending.set(buf.subarray(p, p + n));
          d.len = n;
          d.scan();
          p += n;
        } else {
          if (isClient) this.readCut(buf, p, end);
          this.onFailure(d, isClient, st);
        }
        continue;
      }
      // A partial head is pending: append, then re-parse only when something can have changed.
      const pend = d.pending!;
      const before = d.len;
      const n = Math.min(end - p, pend.length - before);
      pend.set(buf.subarray(p, p + n), before);
      d.len += n;
      const hadLf = d.lfSeen;
      d.scan();
      const reparse = before < DECISION_WINDOW || (d.lfSeen && !hadLf) || d.endSeen || d.len === pend.length;
      if (!reparse) {
        p += n;
        continue;
      }
      const st = this.parse(isClient, pend, 0, d.len);
      if (st === ParseStatus.OK) {
        const used = (isClient ? this.req.headerBytes : this.res.headerBytes) - before;
        d.clearPending();
        p += used;
        this.onHead(d, isClient);
      } else if (st === ParseStatus.NEED_MORE) {
        p += n;
      } else {
        if (isClient) this.readCut(pend, 0, d.len);
        d.clearPending();
        this.onFailure(d, isClient, st);
      }
    }
  }

  private parse(isClient: boolean, buf: Uint8Array, off: number, end: number): ParseStatus {
    this.lastBuf = buf;
    return isClient
      ? parseHttpRequest(buf, off, end, this.req, this.counters, this.opts)
      : parseHttpResponse(buf, off, end, this.res, this.counters, this.opts);
  }

  /**
   * A request head that broke on a field line (a NUL or bare CR, a line without a colon) or
   * outgrew httpMaxHeaderBytes: a line-by-line reader (Zeek, nDPI) has read its request line and
   * the field lines before the break, so they are recorded; the client side stops all the same.
   */
  private readCut(buf: Uint8Array, off: number, end: number): void {
    const e = this.req.error;
    if (e !== 'http.header_malformed' && e !== 'http.header_too_long') return;
    // Counted into a scratch set first: the failed parse has counted the field lines it read
    // (control bytes in values, obs-folds); what only a parsed head counts is added from it.
    const tally = new HttpCounters();
    if (parseHttpRequest(buf, off, end, this.req, tally, this.cutOpts) !== ParseStatus.OK) return;
    tally.headerControlInValue = 0;
    tally.headerObsFold = 0;
    addCounters(this.counters, tally);
    this.counters.requestHeadCut++;
    this.isHttp = true;
    this.requests.push({ ...this.req, statusCode: undefined });
  }

  private onFailure(d: Direction, isClient: boolean, st: ParseStatus): void {
    if (st === ParseStatus.NOT_MINE && !isClient) this.counters.statusLineMalformed++;
    this.stop(d, isClient);
  }

  private stop(d: Direction, _isClient: boolean): void {
    d.mode = Mode.STOPPED;
    d.clearPending();
    d.chunk = undefined;
  }

  private startBody(d: Direction, chunked: boolean, length: number | undefined): void {
    d.leadingEol = 0;
    if (chunked) {
      d.chunk ??= new ChunkedSkipper(this.limits.httpMaxHeaderBytes);
      d.chunk.reset();
      d.mode = Mode.BODY_CHUNKED;
    } else if (length !== undefined && length > 0) {
      d.remaining = length;
      d.mode = Mode.BODY_LENGTH;
    } else {
      d.mode = Mode.HEAD;
    }
  }

  private onHead(d: Direction, isClient: boolean): void {
    if (isClient) this.onRequest(d);
    else this.onResponse(d);
  }

  private onRequest(d: Direction): void {
    const r = this.req;
    this.isHttp = true;
    this.requests.push({ ...r, statusCode: undefined });
    const a = this.auth;
    if (a !== undefined && a.start >= 0) this.authHook!(this, true, this.lastBuf!, a.start, a.end, 0);
    this.startBody(d, r.chunked, r.contentLength);
    if (r.method === 'CONNECT') {
      // §9.3.6 (RFC 9110): after CONNECT the client side carries the tunnel, not HTTP.
      this.stop(d, true);
    } else if (this.requests.length >= this.limits.httpMaxRequestsPerFlow) {
      this.counters.maxRequestsReached++;
      this.stop(d, true);
    }
  }

  private onResponse(d: Direction): void {
    const r: HttpResponseInfo = this.res;
    const code = r.statusCode;
    const req = this.requests[this.nextResponse];
    if (code === 101) {
      // Switching Protocols (RFC 9110 §15.2.2): whatever follows is not HTTP/1.x.
      if (req) { req.statusCode = code; this.nextResponse++; }
      this.tunnel();
      return;
    }
    if (code < 200) {
      // Interim 1xx (RFC 9110 §15.2): no body, the final response follows.
      d.leadingEol = 0;
      d.mode = Mode.HEAD;
      return;
    }
    if (this.auth !== undefined) this.authHook!(this, false, this.lastBuf!, this.auth.start, this.auth.end, code);
    if (!req) {
      this.counters.responseUnmatched++;
    } else {
      req.statusCode = code;
      this.nextResponse++;
      if (req.method === 'CONNECT' && code < 300) {
        this.tunnel();
        return;
      }
    }
    // RFC 9112 §6.3 items 1-2: HEAD responses, 204 and 304 have no body.
    if (req?.method === 'HEAD' || code === 204 || code === 304) {
      this.startBody(d, false, 0);
    } else if (r.chunked || r.contentLength !== undefined) {
      this.startBody(d, r.chunked, r.contentLength);
    } else {
      // §6.3 items 4 and 8: body runs until the connection closes; no further responses.
      this.stop(d, false);
    }
  }

  private tunnel(): void {
    this.counters.tunnels++;
    this.stop(this.client, true);
    this.stop(this.server, false);
  }
}

/** dst += src, field by field (both HttpCounters: numeric fields only). */
function addCounters(dst: HttpCounters, src: HttpCounters): void {
  const d = dst as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(src as unknown as Record<string, unknown>)) {
    if (typeof v === 'number' && v !== 0) d[k] = (d[k] ?? 0) + v;
  }
}
