/**
 * What a sink is, and the loop that feeds it from the outbox.
 *
 * A sink's send() resolves only once the receiver acknowledged the whole batch (HTTP 2xx, socket
 * write completed for syslog TCP/TLS, datagrams sent for UDP, every JetStream publish ack); then
 * the cursor advances. A RetryableSinkError (or any other error) keeps the batch and retries after
 * exponential backoff with jitter, or after `retryAfterMs` when the receiver said so. A
 * PermanentSinkError moves the batch to the dead-letter store and advances.
 *
 * Re-sends after a crash: the runner hands each batch a `delivered` hook that moves the cursor
 * past the batch and resolves once that cursor position is stored (Outbox.ackDurable). Sinks that
 * keep their receiver's order with OrderedSends deliver the next batch only after it resolved, so
 * at most one delivered batch is not yet in the stored cursor: a kill -9 makes each sink re-send
 * at most one batch.
 */
import { OutpostError } from '../errors.js';
import type { Outbox, OutboxRecord } from './outbox.js';
import type { SinkCommon, SinkSchema } from './settings.js';
import { writeFailureReason } from './write-failure.js';

export interface Sink {
  readonly name: string;
  /** The sink type's key in the table of src/forward/sinks/index.ts (https, syslog, nats, ...). */
  readonly type: string;
  /**
   * Resolve when the receiver acknowledged every record of the batch, or with the records it
   * rejected for good (per-item errors, e.g. an Elasticsearch bulk response): those go to the dead
   * letters, the rest count as acknowledged. `delivered`, when given, is called once the receiver
   * acknowledged the batch; a sink delivers its next batch only after the promise it returns
   * resolved (OrderedSends does so).
   */
  send(batch: OutboxRecord[], signal: AbortSignal, delivered?: DeliveredHook): Promise<void | SendOutcome>;
  close(): Promise<void>;
  /** Sink-specific counters (e.g. udp_unacknowledged). */
  extraStats?(): Record<string, number>;
  /**
   * Optional: resolves when the sink wants its next batch read (the upload sink batches into
   * files on a schedule or when a file is full), or when `signal` aborts. Called only with no
   * batch in flight; without it a batch is read as soon as records are committed.
   */
  whenReady?(pending: () => PendingProbe, signal: AbortSignal): Promise<void>;
}

/** Items of a batch the receiver rejected for good, by index in the batch. */
export interface SendOutcome {
  rejected: Array<{ index: number; status: number | null; reason: string }>;
}

/** What a sink's whenReady() can ask the outbox about the records after its read position. */
export interface PendingProbe {
  /** Records are committed after the read position. */
  any: boolean;
  /** The last committed sequence number. */
  committedSeq: number;
  /** The read position (the last record handed to the sink). */
  readSeq: number;
  /** A full batch (batchMaxEvents or batchMaxBytes) waits. */
  full(): boolean;
  /** Resolves when the cursor moves (acknowledgements) so far are committed to the outbox. */
  durable(): Promise<void>;
}

/** Records the batch's acknowledgement in the cursor; resolves once that is stored (never rejects). */
export type DeliveredHook = () => Promise<void>;

/**
 * A send that may succeed later; SinkRunner retries the batch after a backoff. The sink does not
 * know its configured name, so the message is the receiver's or the transport's own; the runner
 * reports FORWARD_SINK_SEND_FAILED with the sink's name.
 */
export class RetryableSinkError extends OutpostError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super('FORWARD_SINK_SEND_FAILED', { reason: message }, { message, ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Keeps a sink's deliveries in order while batches are prepared concurrently: run(prepare,
 * deliver) prepares at once (formatting, gzip), then delivers only after every delivery that was
 * pending when run() was called succeeded (or was rejected permanently). If one of those failed
 * otherwise, this batch is not delivered: it rejects with a RetryableSinkError, so the receiver
 * never sees a batch before an earlier one that is to be re-sent.
 */
export class OrderedSends {
  #tail: { done: Promise<boolean>; settled: boolean } | undefined;

  /** `blocked`: the RetryableSinkError's message when an earlier delivery failed. */
  constructor(private readonly blocked = 'not sent: an earlier batch failed') {}

  async run<P, R = void>(prepare: () => P | Promise<P>, deliver: (prepared: P) => Promise<R>, delivered?: DeliveredHook): Promise<R> {
    const prev = this.#tail !== undefined && !this.#tail.settled ? this.#tail : undefined;
    let settle!: (ok: boolean) => void;
    const link = { done: new Promise<boolean>((r) => (settle = r)), settled: false };
    this.#tail = link;
    let ok = false;
    try {
      const prepared = await prepare();
      if (prev && !(await prev.done)) throw new RetryableSinkError(this.blocked);
      const result = await deliver(prepared);
      // The next batch goes out only once this one's cursor position is stored (see top).
      if (delivered) await delivered();
      ok = true;
      return result;
    } catch (err) {
      if (err instanceof PermanentSinkError) ok = true; // later batches may go on
      throw err;
    } finally {
      link.settled = true;
      settle(ok);
    }
  }
}

/** The receiver refused the batch for good; SinkRunner moves it to the dead letters (FORWARD_SINK_REJECTED). */
export class PermanentSinkError extends OutpostError {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super('FORWARD_SINK_REJECTED', { reason: message }, { message });
    this.status = status;
  }
}

/** Exponential backoff with "equal jitter": a random delay in [d/2, d], d = min(max, initial·2^attempt). */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + random() * (d / 2));
}

/** Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3). Undefined if absent/invalid. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface SinkLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Counters of one sink. Rate: events acknowledged per second over the last RATE_WINDOW_MS. */
export class SinkRunner {
  readonly sink: Sink;
  readonly settings: SinkCommon;
  readonly #outbox: Outbox;
  readonly #log: SinkLogger | undefined;
  #loop: Promise<void> | undefined;
  #controller: AbortController | undefined;
  #attempt = 0;
  readonly counters = { sentEvents: 0, sentBatches: 0, errors: 0, retries: 0, deadLettered: 0, deadLetteredBatches: 0 };
  lastError: { code: string; message: string; atMs: number } | undefined;
  lastAckMs: number | undefined;
  #window: Array<[number, number]> = []; // [ms, events]
  /**
   * Batches the receiver took (their cursor already moved by ackDurable) whose outcome is not yet
   * counted, by last sequence number: status() still counts them as lag, so that "lag 0" means
   * the sent and dead-letter figures are final.
   */
  readonly #uncounted = new Map<number, number>();

  constructor(sink: Sink, settings: SinkCommon, outbox: Outbox, logger?: SinkLogger) {
    this.sink = sink;
    this.settings = settings;
    this.#outbox = outbox;
    this.#log = logger;
    outbox.cursor(sink.name);
  }

  start(parent: AbortSignal): void {
    const c = new AbortController();
    this.#controller = c;
    const abort = () => c.abort();
    if (parent.aborted) c.abort();
    else parent.addEventListener('abort', abort, { once: true });
    this.#loop = this.#run(c.signal).finally(() => parent.removeEventListener('abort', abort));
  }

  async stop(): Promise<void> {
    this.#controller?.abort();
    await this.#loop;
    await this.sink.close();
  }

  /**
   * Up to `maxInFlightBatches` batches are read and handed to the sink ahead; they are awaited
   * (and acknowledged in the cursor) strictly in order. Sinks keep the receiver's order with
   * OrderedSends: a batch reaches the receiver only after the one before it was acknowledged, and
   * not at all if that one failed. On a retryable failure the later batches are discarded (their
   * sends settle first) and everything after the cursor is re-read after the backoff.
   */
  async #run(signal: AbortSignal): Promise<void> {
    const ob = this.#outbox;
    const cur = ob.cursor(this.sink.name);
    const window = Math.max(1, this.settings.maxInFlightBatches ?? 1);
    const inflight: Array<{ batch: OutboxRecord[]; last: number; done: Promise<void | SendOutcome> }> = [];
    let readSeq = cur.acked;
    try {
      while (!signal.aborted && !ob.closed) {
        if (readSeq < cur.acked) readSeq = cur.acked; // records dropped/expired under the cursor
        while (inflight.length < window) {
          if (this.sink.whenReady !== undefined && inflight.length === 0) {
            const at = readSeq;
            await this.sink.whenReady(() => ({
              any: ob.committedSeq > at,
              committedSeq: ob.committedSeq,
              readSeq: at,
              full: () => ob.pendingReaches(at, this.settings.batchMaxEvents, this.settings.batchMaxBytes),
              durable: () => ob.flush(),
            }), signal);
            if (signal.aborted || ob.closed) break;
          }
          const batch = ob.read(readSeq, this.settings.batchMaxEvents, this.settings.batchMaxBytes);
          const last = batch[batch.length - 1];
          if (!last) break;
          ob.markInFlight(this.sink.name, last.seq);
          readSeq = last.seq;
          const name = this.sink.name;
          const lastSeq = last.seq;
          const size = batch.length;
          const done = this.sink.send(batch, signal, () => {
            this.#uncounted.set(lastSeq, size);
            return ob.ackDurable(name, lastSeq);
          });
          done.catch(() => undefined); // observed below, in order
          inflight.push({ batch, last: last.seq, done });
        }
        const head = inflight.shift();
        if (!head) {
          await ob.waitForData(readSeq, signal);
          continue;
        }
        try {
          const outcome = await head.done.finally(() => this.#uncounted.delete(head.last));
          const rejected = outcome?.rejected.length ?? 0;
          if (outcome !== undefined && rejected > 0) this.#deadLetterItems(head.batch, outcome);
          this.#acked(head.batch.length - rejected);
          ob.ack(this.sink.name, head.last);
          ob.release(head.batch); // sent and settled: its records are read no more
          this.#attempt = 0;
        } catch (err) {
          if (signal.aborted) break;
          if (err instanceof PermanentSinkError) {
            this.#deadLetter(head.batch, err);
            ob.ack(this.sink.name, head.last);
            ob.release(head.batch);
            this.#attempt = 0;
            continue;
          }
          // Later batches were not delivered after this one (OrderedSends); let them settle and
          // read them again after the backoff.
          await Promise.allSettled(inflight.map((f) => f.done));
          for (const f of inflight) this.#uncounted.delete(f.last);
          // Settled, and read again after the backoff: these records are read no more.
          ob.release(head.batch);
          for (const f of inflight) ob.release(f.batch);
          inflight.length = 0;
          readSeq = cur.acked;
          this.counters.errors++;
          const reason = err instanceof Error ? err.message : String(err);
          const e = new OutpostError('FORWARD_SINK_SEND_FAILED', { sink: this.sink.name, reason });
          this.lastError = { code: e.code, message: e.message, atMs: Date.now() };
          const retryAfter = err instanceof RetryableSinkError ? err.retryAfterMs : undefined;
          const delay = retryAfter !== undefined ? Math.min(retryAfter, this.settings.retryMaxMs) : backoffMs(this.#attempt, this.settings.retryInitialMs, this.settings.retryMaxMs);
          this.#attempt++;
          this.counters.retries++;
          this.#log?.warn({ code: e.code, sink: this.sink.name, attempt: this.#attempt, delayMs: delay, reason }, e.message);
          await sleep(delay, signal);
        }
      }
    } finally {
      await Promise.allSettled(inflight.map((f) => f.done));
      for (const f of inflight) ob.release(f.batch);
      this.#uncounted.clear();
    }
  }

  #acked(n: number): void {
    const now = Date.now();
    this.counters.sentEvents += n;
    this.counters.sentBatches++;
    this.lastAckMs = now;
    this.#window.push([now, n]);
    while (this.#window.length > 0 && this.#window[0]![0] < now - RATE_WINDOW_MS) this.#window.shift();
  }

  #deadLetter(batch: OutboxRecord[], err: PermanentSinkError): void {
    const e = new OutpostError('FORWARD_SINK_REJECTED', { sink: this.sink.name, reason: err.message });
    const atMs = Date.now();
    const stored = batch.map((r) => this.#outbox.dead.put([this.sink.name, r.seq], { uid: r.uid, json: r.json, status: err.status ?? null, reason: err.message, atMs }));
    // A failed write (disk full) must not become an unhandled rejection, which ends the process.
    void Promise.all(stored).catch(async (werr: unknown) => {
      const reason = await writeFailureReason(werr, this.#outbox.path);
      const w = new OutpostError('FORWARD_OUTBOX_WRITE_FAILED', { path: this.#outbox.path, reason: `dead letters of sink ${this.sink.name}: ${reason}` });
      this.#log?.error({ code: w.code, sink: this.sink.name, events: batch.length }, w.message);
    });
    this.counters.deadLettered += batch.length;
    this.counters.deadLetteredBatches++;
    this.lastError = { code: e.code, message: e.message, atMs };
    this.#log?.error({ code: e.code, sink: this.sink.name, events: batch.length, status: err.status }, e.message);
  }

  /** The items of a batch the receiver rejected for good (the rest of the batch was accepted). */
  #deadLetterItems(batch: OutboxRecord[], outcome: SendOutcome): void {
    const atMs = Date.now();
    const stored: Array<Promise<unknown>> = [];
    for (const r of outcome.rejected) {
      const rec = batch[r.index];
      if (rec === undefined) continue;
      stored.push(this.#outbox.dead.put([this.sink.name, rec.seq], { uid: rec.uid, json: rec.json, status: r.status, reason: r.reason, atMs }));
    }
    void Promise.all(stored).catch(async (werr: unknown) => {
      const reason = await writeFailureReason(werr, this.#outbox.path);
      const w = new OutpostError('FORWARD_OUTBOX_WRITE_FAILED', { path: this.#outbox.path, reason: `dead letters of sink ${this.sink.name}: ${reason}` });
      this.#log?.error({ code: w.code, sink: this.sink.name, events: stored.length }, w.message);
    });
    const first = outcome.rejected[0]!;
    const e = new OutpostError('FORWARD_SINK_ITEMS_REJECTED', { sink: this.sink.name, count: outcome.rejected.length, events: batch.length, reason: first.reason });
    this.counters.deadLettered += stored.length;
    this.lastError = { code: e.code, message: e.message, atMs };
    this.#log?.error({ code: e.code, sink: this.sink.name, rejected: stored.length, events: batch.length, status: first.status }, e.message);
  }

  #uncountedEvents(): number {
    let n = 0;
    for (const v of this.#uncounted.values()) n += v;
    return n;
  }

  status(): Record<string, unknown> {
    const ob = this.#outbox;
    const cur = ob.cursor(this.sink.name);
    const now = Date.now();
    const oldest = ob.oldestAfter(cur.acked);
    let windowEvents = 0;
    for (const [t, n] of this.#window) if (t >= now - RATE_WINDOW_MS) windowEvents += n;
    return {
      name: this.sink.name,
      type: this.sink.type,
      enabled: this.settings.enabled,
      cursor_seq: cur.acked,
      lag_events: Math.max(0, ob.committedSeq - cur.acked) + this.#uncountedEvents(),
      oldest_unsent_age_ms: oldest === undefined ? 0 : Math.max(0, now - oldest),
      rate_events_per_s: Math.round((windowEvents * 1000) / RATE_WINDOW_MS),
      sent_events: this.counters.sentEvents,
      sent_batches: this.counters.sentBatches,
      errors: this.counters.errors,
      retries: this.counters.retries,
      dead_lettered: this.counters.deadLettered,
      dropped: cur.dropped,
      expired: cur.expired,
      last_ack_ms: this.lastAckMs ?? null,
      last_error: this.lastError ?? null,
      ...(this.sink.extraStats?.() ?? {}),
    };
  }
}

export const RATE_WINDOW_MS = 10_000;

/**
 * One entry of the sink table (src/forward/sinks/index.ts): the schema of one sink's settings
 * (the items of the `forward.<type>` array), their defaults and the factory. Adding a sink type is
 * one file in src/forward/sinks/ exporting a SinkType, and one table entry.
 */
export interface SinkType<C extends SinkCommon> {
  /** Description of the `forward.<type>` array in docs/CONFIG.md. */
  description: string;
  schema: SinkSchema;
  defaults: Readonly<C>;
  create(cfg: C): Sink;
}

/** A table entry whose defaults are those of its schema. */
export function sinkType<C extends SinkCommon>(description: string, schema: SinkSchema, create: (cfg: C) => Sink): SinkType<C> {
  const defaults: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema.properties)) defaults[k] = structuredClone(v.default);
  return { description, schema, defaults: Object.freeze(defaults) as Readonly<C>, create };
}
