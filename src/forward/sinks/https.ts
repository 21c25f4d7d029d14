/**
 * HTTPS sink: each batch is one POST of OCSF JSON (NDJSON or a JSON array), gzip-compressed, with
 * a bearer token or a client certificate; the server certificate is verified (against tlsCaFile
 * when given). 2xx acknowledges the batch. 408/429/5xx and network errors are retried (429/503
 * honour Retry-After); any other 4xx is permanent: the batch goes to the dead-letter store.
 */
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { OutpostError } from '../../errors.js';
import type { OutboxRecord } from '../outbox.js';
import { OrderedSends, PermanentSinkError, RetryableSinkError, parseRetryAfter, sinkType, type DeliveredHook, type Sink, type SinkType } from '../sink.js';
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
let gzipAsync: ((text: string, options: import('node:zlib').ZlibOptions) => Promise<Buffer>) | undefined;
function gzip(text: string): Promise<Buffer> {
  const zlib = load('node:zlib') as typeof import('node:zlib');
  gzipAsync ??= promisify(zlib.gzip) as (text: string, options: import('node:zlib').ZlibOptions) => Promise<Buffer>;
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

export function buildBody(batch: OutboxRecord[], format: 'ndjson' | 'array'): string {
  if (format === 'array') return '[' + batch.map((r) => r.json).join(',') + ']';
  let s = '';
  for (const r of batch) s += r.json + '\n';
  return s;
}

export class HttpsSink implements Sink {
  readonly type = 'https' as const;
  readonly name: string;
  readonly #cfg: HttpsSinkConfig;
  readonly #agent: Agent;
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #order = new OrderedSends();
  readonly counters = { status4xx: 0, status5xx: 0, status429: 0, networkErrors: 0, bytesSent: 0 };

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
    this.#headers = {
      'content-type': cfg.format === 'ndjson' ? 'application/x-ndjson' : 'application/json',
      ...(cfg.gzip ? { 'content-encoding': 'gzip' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
  }

  /** Body built and compressed at once (ahead, while earlier batches are in flight); POSTed in order. */
  send(batch: OutboxRecord[], signal: AbortSignal, delivered?: DeliveredHook): Promise<void> {
    return this.#order.run(
      async () => {
        const text = buildBody(batch, this.#cfg.format);
        return this.#cfg.gzip ? await gzip(text) : Buffer.from(text);
      },
      (body) => this.#post(batch, body, signal),
      delivered,
    );
  }

  async #post(batch: OutboxRecord[], body: Buffer, signal: AbortSignal): Promise<void> {
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
    };
  }
}

export interface HttpsSinkConfig extends SinkCommon {
  url: string;
  format: 'ndjson' | 'array';
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
    ...sinkCommonProps(5000, 4 * 1024 * 1024, 2),
    url: { type: 'string', default: 'https://localhost:8443/ingest', description: 'Receiver URL (https://; http:// only for tests). Each batch is POSTed here.' },
    format: { type: 'string', enum: ['ndjson', 'array'], default: 'ndjson', description: "Body: one OCSF JSON event per line ('ndjson', application/x-ndjson) or a JSON array ('array')." },
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
