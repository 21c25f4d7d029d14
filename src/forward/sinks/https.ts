/**
 * HTTPS sink: each batch is one POST of OCSF JSON (NDJSON or a JSON array), gzip-compressed, with
 * a bearer token or a client certificate; the server certificate is verified (against tlsCaFile
 * when given). 2xx acknowledges the batch. 408/429/5xx and network errors are retried (429/503
 * honour Retry-After); any other 4xx is permanent: the batch goes to the dead-letter store.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { OutpostError } from '../../errors.js';
import type { OutboxRecord } from '../outbox.js';
import { jsonByteLength, writeJson } from '../record-bytes.js';
import { BufferPool } from '../buffer-pool.js';
import { OrderedSends, PermanentSinkError, RetryableSinkError, parseRetryAfter, sinkType, type DeliveredHook, type SendOutcome, type Sink, type SinkType } from '../sink.js';
import { SIEM_FORMATS, elasticBulkBody, elasticBulkOutcome, splunkHecBody, splunkAckIds, type SiemEnvelope } from './siem-envelopes.js';
import { sinkCommonProps, tlsFileSetting, type SinkCommon } from '../settings.js';

/**
 * undici and zlib, loaded when the first HTTPS sink is built or compresses: the configuration
 * schema imports this file (through src/forward/sinks/index.ts), and a CLI start must not pay
 * for the HTTP client.
 */
const load = createRequire(import.meta.url);
let undici: typeof import('undici') | undefined;
function loadUndici(): typeof import('undici') {
  undici ??= load('undici') as typeof import('undici');
  return undici;
}
let gzipAsync: ((body: Buffer, options: import('node:zlib').ZlibOptions) => Promise<Buffer>) | undefined;
function gzip(text: Buffer): Promise<Buffer> {
  const zlib = load('node:zlib') as typeof import('node:zlib');
  gzipAsync ??= promisify(zlib.gzip) as (body: Buffer, options: import('node:zlib').ZlibOptions) => Promise<Buffer>;
  return gzipAsync(text, { level: zlib.constants.Z_BEST_SPEED });
}

function readOpt(sink: string, what: string, path: string): string | undefined {
  if (path === '') return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink, reason: `cannot read ${what} ${path}: ${(err as Error).message}` });
  }
}

export function buildBody(batch: OutboxRecord[], format: HttpsSinkConfig['format'], envelope?: SiemEnvelope): string {
  if (format === 'splunk-hec') return splunkHecBody(batch, envelope ?? {});
  if (format === 'elastic-bulk') return elasticBulkBody(batch, envelope ?? {});
  if (format === 'array') return '[' + batch.map((r) => r.json).join(',') + ']';
  let s = '';
  for (const r of batch) s += r.json + '\n';
  return s;
}

/**
 * The body as bytes. NDJSON and JSON arrays are written straight into one buffer: built as a
 * string first, each batch's body (about 0.8 MB for 1,000 events) was a string in V8's large-object
 * space, which is old generation, so every batch added to the heap that a full collection reclaims
 * only when the heap has grown several times over its live size (bench:forward, HTTPS phase: peak
 * heap 140-180 MB for 40 MB live). A buffer's memory is returned as soon as the young collection
 * finds its handle dead.
 */
export function buildBodyBuffer(batch: OutboxRecord[], format: HttpsSinkConfig['format'], envelope?: SiemEnvelope, pool?: BufferPool): Buffer {
  if (format !== 'ndjson' && format !== 'array') return Buffer.from(buildBody(batch, format, envelope));
  const array = format === 'array';
  let total = array ? 2 + Math.max(0, batch.length - 1) : batch.length; // brackets and commas, or newlines
  for (const r of batch) total += jsonByteLength(r);
  const buf = pool ? pool.take(total) : Buffer.allocUnsafe(total);
  let o = 0;
  if (array) buf[o++] = 0x5b; // [
  for (let i = 0; i < batch.length; i++) {
    if (array && i > 0) buf[o++] = 0x2c; // ,
    const r = batch[i]!;
    o += writeJson(r, buf, o);
    if (!array) buf[o++] = 0x0a; // \n
  }
  if (array) buf[o++] = 0x5d; // ]
  return buf;
}

export class HttpsSink implements Sink {
  readonly type = 'https' as const;
  readonly name: string;
  readonly #cfg: HttpsSinkConfig;
  readonly #agent: Agent;
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #order = new OrderedSends();
  /**
   * Uncompressed bodies that are compressed before they are sent: reused once compression has
   * finished (zlib has read all of its input when its callback runs). Bodies sent uncompressed are
   * not pooled: the HTTP client may still hold one after an early answer, and it must never be
   * written over.
   */
  readonly #bodies = new BufferPool();
  readonly counters = { status4xx: 0, status5xx: 0, status429: 0, networkErrors: 0, bytesSent: 0, itemsRejected: 0, itemsDuplicate: 0, itemsRetried: 0, acksPending: 0, ackTimeouts: 0 };
  /** Splunk HEC: the request channel (X-Splunk-Request-Channel), a GUID per sink unless configured. */
  readonly channel: string;
  readonly #envelope: SiemEnvelope;

  constructor(cfg: HttpsSinkConfig) {
    this.name = cfg.name;
    this.#cfg = cfg;
    try {
      this.#url = new URL(cfg.url);
    } catch {
      throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: cfg.name, reason: `invalid url ${cfg.url}` });
    }
    const ca = readOpt(cfg.name, 'tlsCaFile', cfg.tlsCaFile);
    const cert = readOpt(cfg.name, 'tlsCertFile', cfg.tlsCertFile);
    const key = readOpt(cfg.name, 'tlsKeyFile', cfg.tlsKeyFile);
    const token = cfg.bearerToken !== '' ? cfg.bearerToken : readOpt(cfg.name, 'bearerTokenFile', cfg.bearerTokenFile)?.trim();
    this.#agent = new (loadUndici().Agent)({
      connections: 4,
      pipelining: 1,
      headersTimeout: cfg.requestTimeoutMs,
      bodyTimeout: cfg.requestTimeoutMs,
      connect: {
        rejectUnauthorized: true,
        timeout: cfg.requestTimeoutMs,
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        ...(cfg.tlsServerName === '' ? {} : { servername: cfg.tlsServerName }),
      },
    });
    this.channel = cfg.splunkChannel !== '' ? cfg.splunkChannel : randomUUID();
    this.#envelope = { sourcetype: cfg.splunkSourcetype, index: cfg.splunkIndex, elasticIndex: cfg.elasticIndex };
    // Splunk HEC authenticates with "Authorization: Splunk <token>"; Elasticsearch API keys with "ApiKey <key>".
    const scheme = cfg.authScheme !== '' ? cfg.authScheme : cfg.format === 'splunk-hec' ? 'Splunk' : 'Bearer';
    this.#headers = {
      'content-type': cfg.format === 'ndjson' || cfg.format === 'elastic-bulk' ? 'application/x-ndjson' : 'application/json',
      ...(cfg.gzip ? { 'content-encoding': 'gzip' } : {}),
      ...(token ? { authorization: `${scheme} ${token}` } : {}),
      ...(cfg.format === 'splunk-hec' ? { 'x-splunk-request-channel': this.channel } : {}),
    };
  }

  /** Body built and compressed at once (ahead, while earlier batches are in flight); POSTed in order. */
  send(batch: OutboxRecord[], signal: AbortSignal, delivered?: DeliveredHook): Promise<void | SendOutcome> {
    return this.#order.run(
      async () => {
        // Only NDJSON and array bodies are written into a buffer of buildBodyBuffer's own.
        const pool = this.#cfg.gzip && (this.#cfg.format === 'ndjson' || this.#cfg.format === 'array') ? this.#bodies : undefined;
        const body = buildBodyBuffer(batch, this.#cfg.format, this.#envelope, pool);
        if (!this.#cfg.gzip) return body;
        try {
          return await gzip(body);
        } finally {
          pool?.give(body);
        }
      },
      (body) => this.#post(batch, body, signal),
      delivered,
    );
  }

  async #post(batch: OutboxRecord[], body: Buffer, signal: AbortSignal): Promise<void | SendOutcome> {
    let res;
    try {
      res = await loadUndici().request(this.#url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { ...this.#headers, 'x-outpost-batch-first-seq': String(batch[0]?.seq ?? 0), 'x-outpost-batch-events': String(batch.length) },
        body,
        signal,
      });
    } catch (err) {
      this.counters.networkErrors++;
      throw new RetryableSinkError((err as Error).message, undefined, { cause: err });
    }
    // Drain the body so the connection is reused.
    const text2 = await res.body.text().catch(() => '');
    const st = res.statusCode;
    if (st >= 200 && st < 300) {
      this.counters.bytesSent += body.length;
      if (this.#cfg.format === 'elastic-bulk') return this.#bulkItems(batch, text2);
      if (this.#cfg.format === 'splunk-hec' && this.#cfg.splunkIndexerAck) await this.#splunkAck(text2, signal);
      return;
    }
    const detail = `HTTP ${st}${text2 ? ': ' + text2.slice(0, 200) : ''}`;
    if (st === 429 || st === 503) {
      if (st === 429) this.counters.status429++;
      else this.counters.status5xx++;
      throw new RetryableSinkError(detail, parseRetryAfter(res.headers['retry-after']));
    }
    if (st >= 500 || st === 408) {
      if (st >= 500) this.counters.status5xx++;
      else this.counters.status4xx++;
      throw new RetryableSinkError(detail);
    }
    this.counters.status4xx++;
    throw new PermanentSinkError(detail, st);
  }

  /**
   * Elasticsearch `_bulk` (docs-bulk: "errors" true when an item failed; each item has its own
   * `status` and `error`): 2xx items are delivered; 409 on a `create` is an event already indexed
   * by an earlier send of the batch (its _id is the event uid), so delivered; 429 and 5xx items
   * make the batch retried (the items already indexed come back 409); any other failed item is
   * rejected for good and goes to the dead letters, the rest of the batch is acknowledged.
   */
  #bulkItems(batch: OutboxRecord[], text: string): SendOutcome | undefined {
    const r = elasticBulkOutcome(text, batch.length);
    if (r === undefined) throw new RetryableSinkError(`bulk response not understood: ${text.slice(0, 200)}`);
    this.counters.itemsDuplicate += r.duplicates;
    if (r.retry > 0) {
      this.counters.itemsRetried += r.retry;
      throw new RetryableSinkError(`bulk: ${r.retry} of ${batch.length} items to retry (${r.retryReason})`);
    }
    this.counters.itemsRejected += r.rejected.length;
    return r.rejected.length > 0 ? { rejected: r.rejected } : undefined;
  }

  /**
   * Splunk HEC indexer acknowledgement (About HTTP Event Collector Indexer Acknowledgment): the
   * event response carries an `ackId`; POST {"acks":[id]} to /services/collector/ack?channel=...
   * on the same channel until it reports `true` (indexed). Not indexed within splunkAckTimeoutMs:
   * the batch is sent again (at-least-once).
   */
  async #splunkAck(text: string, signal: AbortSignal): Promise<void> {
    const ids = splunkAckIds(text);
    if (ids === undefined) throw new RetryableSinkError(`HEC response without ackId (is indexer acknowledgement enabled on the token?): ${text.slice(0, 200)}`);
    const ackUrl = new URL(this.#cfg.splunkAckUrl !== '' ? this.#cfg.splunkAckUrl : new URL('/services/collector/ack', this.#url).href);
    ackUrl.searchParams.set('channel', this.channel);
    const deadline = Date.now() + this.#cfg.splunkAckTimeoutMs;
    this.counters.acksPending++;
    try {
      for (;;) {
        let res;
        try {
          res = await loadUndici().request(ackUrl, {
            method: 'POST',
            dispatcher: this.#agent,
            headers: { 'content-type': 'application/json', 'x-splunk-request-channel': this.channel, ...(this.#headers['authorization'] ? { authorization: this.#headers['authorization'] } : {}) },
            body: JSON.stringify({ acks: ids }),
            signal,
          });
        } catch (err) {
          throw new RetryableSinkError(`ack query: ${(err as Error).message}`, undefined, { cause: err });
        }
        const body: string = await res.body.text().catch(() => '');
        if (res.statusCode < 200 || res.statusCode >= 300) throw new RetryableSinkError(`ack query: HTTP ${res.statusCode}: ${body.slice(0, 200)}`);
        let acks: Record<string, unknown> | undefined;
        try {
          acks = (JSON.parse(body) as { acks?: Record<string, unknown> }).acks;
        } catch {
          acks = undefined;
        }
        if (acks !== undefined && ids.every((id) => acks[String(id)] === true)) return;
        if (Date.now() >= deadline) {
          this.counters.ackTimeouts++;
          throw new RetryableSinkError(`not indexed within ${this.#cfg.splunkAckTimeoutMs} ms (ackId ${ids.join(',')})`);
        }
        await new Promise((r) => setTimeout(r, this.#cfg.splunkAckPollMs));
        if (signal.aborted) throw new RetryableSinkError('stopped while waiting for the indexer acknowledgement');
      }
    } finally {
      this.counters.acksPending--;
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  extraStats(): Record<string, number> {
    return {
      http_4xx: this.counters.status4xx,
      http_5xx: this.counters.status5xx,
      http_429: this.counters.status429,
      network_errors: this.counters.networkErrors,
      bytes_sent: this.counters.bytesSent,
      items_rejected: this.counters.itemsRejected,
      items_duplicate: this.counters.itemsDuplicate,
      items_retried: this.counters.itemsRetried,
      splunk_ack_timeouts: this.counters.ackTimeouts,
    };
  }
}

export interface HttpsSinkConfig extends SinkCommon {
  url: string;
  format: 'ndjson' | 'array' | (typeof SIEM_FORMATS)[number];
  authScheme: string;
  splunkChannel: string;
  splunkSourcetype: string;
  splunkIndex: string;
  splunkIndexerAck: boolean;
  splunkAckUrl: string;
  splunkAckTimeoutMs: number;
  splunkAckPollMs: number;
  elasticIndex: string;
  gzip: boolean;
  bearerToken: string;
  bearerTokenFile: string;
  tlsCaFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsServerName: string;
  requestTimeoutMs: number;
}

const httpsSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...sinkCommonProps(1000, 4 * 1024 * 1024, 2),
    url: { type: 'string', default: 'https://localhost:8443/ingest', description: 'Receiver URL (https://; http:// only for tests). Each batch is POSTed here.' },
    format: { type: 'string', enum: ['ndjson', 'array', ...SIEM_FORMATS], default: 'ndjson', description: "Body: one OCSF JSON event per line ('ndjson', application/x-ndjson), a JSON array ('array'), Splunk HTTP Event Collector event envelopes ('splunk-hec', POST to .../services/collector/event) or an Elasticsearch/OpenSearch bulk request ('elastic-bulk', POST to .../_bulk; per-item errors go to the dead letters). See docs/FORWARDING.md." },
    authScheme: { type: 'string', pattern: '^[A-Za-z]*$', default: '', description: "Scheme of the Authorization header carrying the token: empty for 'Splunk' with splunk-hec and 'Bearer' otherwise; 'ApiKey' for an Elasticsearch API key." },
    splunkChannel: { type: 'string', default: '', description: 'splunk-hec: the X-Splunk-Request-Channel (a GUID); empty for a random one per start.' },
    splunkSourcetype: { type: 'string', default: 'ocsf', description: 'splunk-hec: the sourcetype of every event.' },
    splunkIndex: { type: 'string', default: '', description: "splunk-hec: the index of every event; empty for the token's default index." },
    splunkIndexerAck: { type: 'boolean', default: false, description: 'splunk-hec: wait for the indexer acknowledgement (POST /services/collector/ack) before a batch counts as delivered; the token must have it enabled.' },
    splunkAckUrl: { type: 'string', default: '', description: 'splunk-hec: the acknowledgement endpoint; empty for /services/collector/ack on the url host.' },
    splunkAckTimeoutMs: { type: 'integer', minimum: 100, default: 60_000, description: 'splunk-hec: a batch not acknowledged as indexed within this time, in ms, is sent again.' },
    splunkAckPollMs: { type: 'integer', minimum: 10, default: 500, description: 'splunk-hec: interval of the acknowledgement queries, in ms.' },
    elasticIndex: { type: 'string', minLength: 1, default: 'outpost-ocsf', description: 'elastic-bulk: the index (or data stream) every event is created in; the _id is the event uid, so a re-sent event is not indexed twice.' },
    gzip: { type: 'boolean', default: true, description: 'Compress each body with gzip (Content-Encoding: gzip).' },
    bearerToken: { type: 'string', default: '', description: 'Bearer token sent as Authorization header; empty for none. Prefer bearerTokenFile.' },
    bearerTokenFile: { type: 'string', default: '', description: 'File holding the bearer token (trimmed); read at start; empty for none.' },
    tlsCaFile: tlsFileSetting('CA certificate(s) that verify the receiver, replacing the system roots'),
    tlsCertFile: tlsFileSetting('Client certificate for mutual TLS'),
    tlsKeyFile: tlsFileSetting('Client private key for mutual TLS'),
    tlsServerName: { type: 'string', default: '', description: 'Name checked against the receiver certificate when it differs from the URL host; empty to use the URL host.' },
    requestTimeoutMs: { type: 'integer', minimum: 100, default: 30_000, description: 'Time limit for one request (headers and body), in ms; a timeout is retried.' },
  },
} as const;

export const httpsSinkType: SinkType<HttpsSinkConfig> = sinkType<HttpsSinkConfig>(
  'HTTPS sinks: OCSF JSON batches POSTed to a receiver.',
  httpsSinkSchema,
  (cfg) => new HttpsSink(cfg),
);
