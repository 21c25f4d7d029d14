/**
 * Cloud Discovery log-upload sink (`forward.cloudDiscoveryUpload[]`): batches Cloud Discovery
 * lines (generic CEF or W3C, discovery-format.ts) into files and uploads each one through Defender
 * for Cloud Apps' three-step log-upload API (https://learn.microsoft.com/en-us/defender-cloud-apps/api-discovery):
 *
 *   1. Initiate: `GET <apiUrl>/api/v1/discovery/upload_url/?filename=<name>&source=GENERIC_CEF|GENERIC_W3C`
 *      with `Authorization: Token <token>`; the response is `{ "url": ..., "provider": "azure" | "aws" }`
 *      (api-discovery-initiate).
 *   2. Upload: `PUT <url>` with the file; for Azure with `x-ms-blob-type: BlockBlob`, which the
 *      page allows for files under 64 MB (larger ones must be chunked: batchMaxBytes is capped
 *      below that) (api-discovery-perform).
 *   3. Finalize: `POST <apiUrl>/api/v1/discovery/done_upload/` with `uploadUrl` (step 1's url),
 *      `inputStreamName` (the data source) and, for a snapshot report, `uploadAsSnapshot` (the
 *      report then takes the name given as inputStreamName) (api-discovery-finalize).
 *
 * A file is one batch of the outbox (at most batchMaxEvents / batchMaxBytes of stored events), so
 * it is acknowledged — the sink's cursor moves past its events — only once finalize succeeded: a
 * failure at any step, or a crash between steps, leaves the cursor before the file's events, and
 * the file is built again from the same events and uploaded from step 1 (a new upload URL: a URL
 * from before the failure may have expired or been used). At-least-once: a crash after finalize
 * and before the cursor commit uploads that one file again.
 *
 * When: a file is uploaded when the `schedule` (node-cron) fires — then everything committed by
 * that moment goes, in as many files as it takes — or as soon as a full file waits.
 *
 * The API token is read from `apiTokenFile` before each initiate, so a rotated token is used
 * without a restart. Retries: network errors, 408, 429 (Retry-After honoured), 5xx, and 401/403
 * (a token being replaced) at any step are retried with the runner's backoff; any other 4xx is a
 * permanent rejection of that file (its events go to the dead letters).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { OutpostError } from '../../errors.js';
import type { OutboxRecord } from '../outbox.js';
import { OrderedSends, PermanentSinkError, RetryableSinkError, parseRetryAfter, sinkType, type PendingProbe, type Sink, type SinkType } from '../sink.js';
import { sinkCommonProps, tlsFileSetting, type SinkCommon } from '../settings.js';
import { DISCOVERY_FORMATS, DISCOVERY_UPLOAD_SOURCE, discoveryFileHeader, toDiscoveryLine, type DiscoveryFormat } from '../discovery-format.js';

const load = createRequire(import.meta.url);
let undici: typeof import('undici') | undefined;
function loadUndici(): typeof import('undici') {
  undici ??= load('undici') as typeof import('undici');
  return undici;
}
let cron: typeof import('node-cron') | undefined;
function loadCron(): typeof import('node-cron') {
  cron ??= load('node-cron') as typeof import('node-cron');
  return cron;
}

/** Events formatted between two yields to the event loop while a file is built. */
const YIELD_EVERY = 2000;

/** Azure's limit for one PUT of a block blob (api-discovery-perform: "under 64 MB"). */
export const UPLOAD_SINGLE_PUT_MAX_BYTES = 64 * 1024 * 1024 - 1;

export interface CloudDiscoveryUploadConfig extends SinkCommon {
  apiUrl: string;
  apiTokenFile: string;
  format: DiscoveryFormat;
  dataSourceName: string;
  snapshotReportName: string;
  schedule: string;
  tlsCaFile: string;
  requestTimeoutMs: number;
}

type Step = 'initiate' | 'upload' | 'finalize';

interface UploadFile {
  filename: string;
  text: string;
  lines: number;
  /** Events of the batch that make no line, and stored records that are not JSON objects. */
  withoutLine: number;
  unparsable: number;
}

export class CloudDiscoveryUploadSink implements Sink {
  readonly type = 'cloudDiscoveryUpload' as const;
  readonly name: string;
  readonly #cfg: CloudDiscoveryUploadConfig;
  readonly #agent: Agent;
  readonly #api: URL;
  readonly #order = new OrderedSends();
  #task: { stop(): unknown; destroy(): unknown } | undefined;
  /** The schedule fired: flush everything committed up to the position taken at the next check. */
  #flushRequested = false;
  #flushTo = 0;
  #wake: (() => void) | undefined;
  #ackToCommit = false;
  readonly counters = {
    filesUploaded: 0, filesFailed: 0, filesEmpty: 0, linesUploaded: 0, bytesUploaded: 0,
    initiateFailures: 0, uploadFailures: 0, finalizeFailures: 0, eventsWithoutLine: 0, unparsable: 0,
  };
  lastFile: string | undefined;

  constructor(cfg: CloudDiscoveryUploadConfig) {
    this.name = cfg.name;
    this.#cfg = cfg;
    try {
      this.#api = new URL(cfg.apiUrl);
    } catch {
      throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: cfg.name, reason: `invalid apiUrl ${cfg.apiUrl}` });
    }
    if (cfg.apiTokenFile === '') throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: cfg.name, reason: 'apiTokenFile is required' });
    this.#token(); // unreadable at start: a configuration error, not a retry loop
    if (cfg.dataSourceName === '' && cfg.snapshotReportName === '') throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: cfg.name, reason: 'dataSourceName (continuous report) or snapshotReportName is required' });
    if (cfg.batchMaxBytes > UPLOAD_SINGLE_PUT_MAX_BYTES) throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: cfg.name, reason: `batchMaxBytes above ${UPLOAD_SINGLE_PUT_MAX_BYTES} (one PUT of a block blob)` });
    const { validate } = loadCron();
    if (!validate(cfg.schedule)) throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: cfg.name, reason: `invalid schedule '${cfg.schedule}' (node-cron expression)` });
    let ca: string | undefined;
    if (cfg.tlsCaFile !== '') {
      try {
        ca = readFileSync(cfg.tlsCaFile, 'utf8');
      } catch (err) {
        throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: cfg.name, reason: `cannot read tlsCaFile ${cfg.tlsCaFile}: ${(err as Error).message}` });
      }
    }
    this.#agent = new (loadUndici().Agent)({
      connections: 2,
      headersTimeout: cfg.requestTimeoutMs,
      bodyTimeout: cfg.requestTimeoutMs,
      connect: { rejectUnauthorized: true, timeout: cfg.requestTimeoutMs, ...(ca === undefined ? {} : { ca }) },
    });
  }

  #token(): string {
    let t: string;
    try {
      t = readFileSync(this.#cfg.apiTokenFile, 'utf8').trim();
    } catch (err) {
      throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: this.name, reason: `cannot read apiTokenFile ${this.#cfg.apiTokenFile}: ${(err as Error).message}` });
    }
    if (t === '') throw new OutpostError('FORWARD_SINK_CONFIG_INVALID', { sink: this.name, reason: `apiTokenFile ${this.#cfg.apiTokenFile} is empty` });
    return t;
  }

  /** The schedule's ticks; started with the first whenReady (the runner's start). */
  #arm(): void {
    if (this.#task !== undefined) return;
    this.#task = loadCron().createTask(this.#cfg.schedule, () => {
      this.#flushRequested = true;
      this.#wake?.();
    }, { name: `forward-upload-${this.name}`, suppressMissedWarning: true });
    void (this.#task as unknown as { start(): unknown }).start();
  }

  /** Ready when the schedule fired (until what was committed then is read) or a full file waits. */
  async whenReady(pending: () => PendingProbe, signal: AbortSignal): Promise<void> {
    this.#arm();
    if (this.#ackToCommit) {
      // The file before was acknowledged: its cursor move is committed before the next file
      // starts, so a crash re-uploads at most the one file whose finalize had not been recorded.
      this.#ackToCommit = false;
      await pending().durable();
    }
    while (!signal.aborted) {
      const p = pending();
      if (this.#flushRequested) {
        this.#flushRequested = false;
        this.#flushTo = Math.max(this.#flushTo, p.committedSeq);
      }
      if (p.any && (p.readSeq < this.#flushTo || p.full())) return;
      // Woken by the schedule, else a look every second for a full file.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          this.#wake = undefined;
          resolve();
        };
        const t = setTimeout(done, 1000);
        this.#wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** The file of a batch: its name (the same for the same events, so a re-upload is recognisable) and text. */
  async buildFile(batch: OutboxRecord[]): Promise<UploadFile> {
    let text = discoveryFileHeader(this.#cfg.format);
    let lines = 0, withoutLine = 0, unparsable = 0;
    for (let i = 0; i < batch.length; i++) {
      // A file is up to batchMaxEvents lines built on the thread that also runs capture and the
      // outbox: it yields every YIELD_EVERY events so that work goes on meanwhile.
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
      const r = batch[i]!;
      let ev: unknown;
      try {
        ev = JSON.parse(r.json);
      } catch {
        ev = undefined;
      }
      if (ev === null || typeof ev !== 'object') { unparsable++; continue; }
      const line = toDiscoveryLine(ev as Record<string, unknown>, this.#cfg.format);
      if (line === undefined) { withoutLine++; continue; }
      text += line + '\n';
      lines++;
    }
    const first = batch[0]?.seq ?? 0, last = batch[batch.length - 1]?.seq ?? 0;
    const ext = this.#cfg.format === 'generic-w3c' ? 'log' : 'cef';
    return { filename: `outpost-${this.name}-${first}-${last}.${ext}`, text, lines, withoutLine, unparsable };
  }

  send(batch: OutboxRecord[], signal: AbortSignal): Promise<void> {
    return this.#order.run(() => this.buildFile(batch), (file) => this.#upload(file, signal));
  }

  async #upload(file: UploadFile, signal: AbortSignal): Promise<void> {
    if (file.lines === 0) {
      // Nothing in these events makes a line (interim flow events, DNS, ...): nothing to upload.
      this.counters.filesEmpty++;
      this.#done(file);
      return;
    }
    const body = Buffer.from(file.text);
    let step: Step = 'initiate';
    try {
      const token = this.#token();
      const auth = { authorization: `Token ${token}` };
      const init = new URL('api/v1/discovery/upload_url/', withSlash(this.#api));
      init.searchParams.set('filename', file.filename);
      init.searchParams.set('source', DISCOVERY_UPLOAD_SOURCE[this.#cfg.format]);
      const r1 = await this.#request(init, { method: 'GET', headers: auth }, signal);
      const target = uploadTarget(r1.text);
      if (target === undefined) throw new RetryableSinkError(`response without a usable url: ${r1.text.slice(0, 200)}`);
      step = 'upload';
      // The upload URL carries its own authorisation (a shared access signature): no token on it.
      const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
      if (target.provider.toLowerCase() === 'azure') headers['x-ms-blob-type'] = 'BlockBlob';
      await this.#request(new URL(target.url), { method: 'PUT', headers, body }, signal);
      step = 'finalize';
      const done = new URL('api/v1/discovery/done_upload/', withSlash(this.#api));
      const snapshot = this.#cfg.snapshotReportName !== '';
      const payload: Record<string, unknown> = { uploadUrl: target.url, inputStreamName: snapshot ? this.#cfg.snapshotReportName : this.#cfg.dataSourceName };
      if (snapshot) payload['uploadAsSnapshot'] = true;
      await this.#request(done, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(payload) }, signal);
    } catch (err) {
      this.counters.filesFailed++;
      if (step === 'initiate') this.counters.initiateFailures++;
      else if (step === 'upload') this.counters.uploadFailures++;
      else this.counters.finalizeFailures++;
      if (err instanceof PermanentSinkError) this.#ackToCommit = true; // dead-lettered and acknowledged
      if (err instanceof RetryableSinkError || err instanceof PermanentSinkError) {
        err.message = `${step} ${file.filename}: ${err.message}`;
        throw err;
      }
      throw new RetryableSinkError(`${step} ${file.filename}: ${(err as Error).message}`, undefined, { cause: err });
    }
    this.counters.filesUploaded++;
    this.counters.linesUploaded += file.lines;
    this.counters.bytesUploaded += body.length;
    this.lastFile = file.filename;
    this.#done(file);
  }

  /** Counted once per acknowledged file (a file built again for a retry is not counted twice). */
  #done(file: UploadFile): void {
    this.counters.eventsWithoutLine += file.withoutLine;
    this.counters.unparsable += file.unparsable;
    this.#ackToCommit = true;
  }

  async #request(url: URL, opts: { method: string; headers: Record<string, string>; body?: Buffer | string }, signal: AbortSignal): Promise<{ status: number; text: string }> {
    let res;
    try {
      res = await loadUndici().request(url, { ...opts, dispatcher: this.#agent, signal });
    } catch (err) {
      throw new RetryableSinkError((err as Error).message, undefined, { cause: err });
    }
    const text = await res.body.text().catch(() => '');
    const st = res.statusCode;
    if (st >= 200 && st < 300) return { status: st, text };
    const detail = `HTTP ${st}${text ? ': ' + text.slice(0, 200) : ''}`;
    if (st === 429 || st === 503) throw new RetryableSinkError(detail, parseRetryAfter(res.headers['retry-after']));
    if (st >= 500 || st === 408 || st === 401 || st === 403) throw new RetryableSinkError(detail);
    throw new PermanentSinkError(detail, st);
  }

  async close(): Promise<void> {
    this.#wake?.();
    const t = this.#task;
    this.#task = undefined;
    if (t) await t.destroy();
    await this.#agent.close();
  }

  extraStats(): Record<string, number> {
    return {
      files_uploaded: this.counters.filesUploaded,
      files_failed: this.counters.filesFailed,
      files_empty: this.counters.filesEmpty,
      lines_uploaded: this.counters.linesUploaded,
      bytes_uploaded: this.counters.bytesUploaded,
      initiate_failures: this.counters.initiateFailures,
      upload_failures: this.counters.uploadFailures,
      finalize_failures: this.counters.finalizeFailures,
      events_without_line: this.counters.eventsWithoutLine,
      unparsable: this.counters.unparsable,
    };
  }
}

/** Step 1's response: `{ url, provider }`; undefined unless url is an absolute URL. */
function uploadTarget(text: string): { url: string; provider: string } | undefined {
  let j: { url?: unknown; provider?: unknown };
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    return undefined;
  }
  if (j === null || typeof j !== 'object' || typeof j.url !== 'string' || !URL.canParse(j.url)) return undefined;
  return { url: j.url, provider: typeof j.provider === 'string' ? j.provider : '' };
}

const withSlash = (u: URL): URL => (u.pathname.endsWith('/') ? u : new URL(u.href + '/'));

const uploadSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...sinkCommonProps(100_000, 32 * 1024 * 1024, 1),
    // One file at a time: the schedule gates each read, and read-ahead would cut files short.
    maxInFlightBatches: { ...sinkCommonProps(100_000, 32 * 1024 * 1024, 1).maxInFlightBatches, maximum: 1, description: 'Always 1: one file at a time (the three steps of a file complete before the next file is read).' },
    apiUrl: { type: 'string', default: 'https://localhost:8443/', description: "The tenant's Defender for Cloud Apps API URL (https://<tenant>.<region>.portal.cloudappsecurity.com); the log-upload calls go to <apiUrl>/api/v1/discovery/...." },
    apiTokenFile: { type: 'string', default: '', description: 'File holding the API token (sent as "Authorization: Token <token>"); read before each upload, so a replaced token is used at once. Required.' },
    format: { type: 'string', enum: [...DISCOVERY_FORMATS], default: 'generic-cef', description: "Line format of the files: 'generic-cef' (source GENERIC_CEF) or 'generic-w3c' (GENERIC_W3C); see docs/DISCOVERY-FORMATS.md." },
    dataSourceName: { type: 'string', default: '', description: 'Data source (continuous report) the files are uploaded to: the inputStreamName of the finalize call.' },
    snapshotReportName: { type: 'string', default: '', description: 'When set, files are uploaded as a snapshot report of this name (uploadAsSnapshot) instead of to dataSourceName.' },
    schedule: { type: 'string', default: '*/15 * * * *', description: 'node-cron expression: when it fires, everything committed by then is uploaded (one file per batchMaxEvents / batchMaxBytes). A full file is uploaded at once, without waiting for it.' },
    tlsCaFile: tlsFileSetting('CA certificate(s) that verify the API and upload hosts, replacing the system roots'),
    requestTimeoutMs: { type: 'integer', minimum: 100, default: 120_000, description: 'Time limit for one request of the three steps, in ms; a timeout is retried.' },
  },
} as const;

export const cloudDiscoveryUploadSinkType: SinkType<CloudDiscoveryUploadConfig> = sinkType<CloudDiscoveryUploadConfig>(
  'Cloud Discovery log-upload sinks: Cloud Discovery lines batched into files, uploaded through the three-step log-upload API (initiate, upload, finalize).',
  uploadSchema,
  (cfg) => new CloudDiscoveryUploadSink(cfg),
);
