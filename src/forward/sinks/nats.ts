/**
 * NATS JetStream sink: one message per event on `subject`, with the event uid as message id
 * (Nats-Msg-Id: JetStream drops a re-publish within the stream's duplicate_window).
 *
 * Publishing: a batch's messages are published at once as plain NATS publishes whose reply
 * subject is the batch's inbox subject (`<inbox>.<n>`, one per batch, shared by its messages),
 * which is how a JetStream publish asks for its acknowledgement (the PubAck, JSON): the server
 * sends exactly one PubAck per publish, so the batch counts them down. One subscription on
 * `<inbox>.*` takes every acknowledgement: no request object, promise, timer, reply subject or map
 * entry per message (nats.js's js.publish() has each, and ran at 14-18 k events/s); one timer per
 * batch (publishTimeoutMs). Up to
 * maxInFlightBatches batches are published ahead, so publishes in flight are bounded by
 * maxInFlightBatches × batchMaxEvents. Acknowledgements are taken as they come, but a batch is
 * reported acknowledged (and its cursor position stored) only after every earlier batch was, so
 * the cursor only ever passes a contiguous acknowledged prefix. An error PubAck, "no responders"
 * (no stream captures the subject), a timeout or a lost connection fails the batch and every later
 * one, which are published again after the backoff: the message ids make the re-sends harmless
 * within duplicate_window, but after such a failure the stream may hold a later batch's messages
 * before the re-sent ones.
 */
import type { MsgHdrs, NatsConnection, Subscription } from 'nats';
import type { OutboxRecord } from '../outbox.js';
import { OrderedSends, RetryableSinkError, sinkType, type DeliveredHook, type Sink, type SinkType } from '../sink.js';
import { sinkCommonProps, tlsFileSetting, type SinkCommon } from '../settings.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A batch being published: how many acknowledgements it still awaits. */
interface InFlight {
  waiting: number;
  failed: Error | undefined;
  done: () => void;
}

export class NatsSink implements Sink {
  readonly type = 'nats' as const;
  readonly name: string;
  readonly #cfg: NatsSinkConfig;
  #nc: NatsConnection | undefined;
  #sub: Subscription | undefined;
  #connecting: Promise<NatsConnection> | undefined;
  #inbox = '';
  #nextToken = 0;
  /** Reply token → its batch, for every batch with publishes not yet acknowledged. */
  readonly #byToken = new Map<number, InFlight>();
  /**
   * Batches count as delivered in the order handed to send(): a batch waits only for one still
   * pending when it was handed over, so a retry after a failure does not wait for the failed batch.
   */
  readonly #order = new OrderedSends('not acknowledged: an earlier batch failed');
  #headers: (() => MsgHdrs) | undefined;
  readonly counters = { duplicates: 0, connects: 0, acks: 0 };

  constructor(cfg: NatsSinkConfig) {
    this.name = cfg.name;
    this.#cfg = cfg;
  }

  /** The connection; one attempt at a time (batches in flight share it). */
  #client(): Promise<NatsConnection> {
    if (this.#nc && !this.#nc.isClosed()) return Promise.resolve(this.#nc);
    return (this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined)));
  }

  async #open(): Promise<NatsConnection> {
    const c = this.#cfg;
    let nc: NatsConnection;
    try {
      // Loaded on first use: the configuration schema imports this file (src/forward/sinks/index.ts)
      // and must not pay for the NATS client at every start of the CLI.
      const nats = await import('nats');
      this.#headers = nats.headers;
      nc = await nats.connect({
        servers: c.servers,
        name: `outpost-${c.name}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        timeout: c.publishTimeoutMs,
        ...(c.token ? { token: c.token } : {}),
        ...(c.user ? { user: c.user, pass: c.password } : {}),
        ...(c.tlsCaFile ? { tls: { caFile: c.tlsCaFile } } : {}),
      });
      this.#inbox = nats.createInbox();
    } catch (err) {
      throw new RetryableSinkError(`connect ${c.servers.join(',')}: ${(err as Error).message}`, undefined, { cause: err });
    }
    this.#nc = nc;
    this.#sub = nc.subscribe(`${this.#inbox}.*`, {
      callback: (err, msg) => {
        if (err) {
          for (const b of new Set(this.#byToken.values())) this.#fail(b, err);
          return;
        }
        const token = Number(msg.subject.slice(this.#inbox.length + 1));
        const b = this.#byToken.get(token);
        if (!b) return; // a late acknowledgement of a batch that already failed or timed out
        if (--b.waiting === 0) this.#byToken.delete(token);
        // "No responders" (no stream captures the subject): a status message, no payload.
        if (msg.headers?.hasError) return this.#fail(b, new Error(`no stream for ${this.#cfg.subject}: ${msg.headers.code} ${msg.headers.description}`));
        let ack: { error?: { description?: string; code?: number }; duplicate?: boolean };
        try {
          ack = JSON.parse(dec.decode(msg.data)) as typeof ack;
        } catch {
          return this.#fail(b, new Error('unreadable JetStream acknowledgement'));
        }
        if (ack.error) return this.#fail(b, new Error(`JetStream: ${ack.error.code ?? ''} ${ack.error.description ?? ''}`.trim()));
        this.counters.acks++;
        if (ack.duplicate) this.counters.duplicates++;
        if (b.waiting === 0) b.done();
      },
    });
    this.counters.connects++;
    return nc;
  }

  #fail(b: InFlight, err: Error): void {
    b.failed ??= err;
    b.done();
  }

  async send(batch: OutboxRecord[], _signal: AbortSignal, delivered?: DeliveredHook): Promise<void> {
    // Publishing waits for this batch's acknowledgements; it counts only once every earlier
    // batch was acknowledged too, so nothing needs sending after that.
    await this.#order.run(() => this.#publish(batch), async () => {}, delivered);
  }

  async #publish(batch: OutboxRecord[]): Promise<void> {
    const nc = await this.#client();
    const mkHeaders = this.#headers!;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const b: InFlight = { waiting: 0, failed: undefined, done };
    const token = ++this.#nextToken;
    const reply = `${this.#inbox}.${token}`;
    this.#byToken.set(token, b);
    const timer = setTimeout(() => this.#fail(b, new Error(`no acknowledgement for ${b.waiting} of ${batch.length} publishes within ${this.#cfg.publishTimeoutMs} ms`)), this.#cfg.publishTimeoutMs);
    try {
      for (const r of batch) {
        const h = mkHeaders();
        h.set('Nats-Msg-Id', r.uid || `seq-${r.seq}`);
        b.waiting++;
        nc.publish(this.#cfg.subject, enc.encode(r.json), { reply, headers: h });
      }
    } catch (err) {
      this.#fail(b, err as Error);
    }
    if (batch.length === 0) done();
    await all;
    clearTimeout(timer);
    this.#byToken.delete(token);
    if (b.failed) throw new RetryableSinkError(`publish: ${b.failed.message}`, undefined, { cause: b.failed });
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#sub = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  extraStats(): Record<string, number> {
    return { jetstream_duplicates: this.counters.duplicates, connects: this.counters.connects };
  }
}

export interface NatsSinkConfig extends SinkCommon {
  servers: string[];
  subject: string;
  token: string;
  user: string;
  password: string;
  tlsCaFile: string;
  publishTimeoutMs: number;
}

const natsSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...sinkCommonProps(1000, 4 * 1024 * 1024, 4),
    servers: { type: 'array', items: { type: 'string' }, default: ['nats://127.0.0.1:4222'], description: 'NATS server URLs (several for a cluster).' },
    subject: { type: 'string', default: 'outpost.events', description: 'Subject published to; a JetStream stream must capture it (its duplicate_window bounds de-duplication by event uid).' },
    token: { type: 'string', default: '', description: 'Authentication token; empty for none.' },
    user: { type: 'string', default: '', description: 'User name; empty for none.' },
    password: { type: 'string', default: '', description: 'Password for user.' },
    tlsCaFile: tlsFileSetting('CA certificate(s) that verify the servers (enables TLS)'),
    publishTimeoutMs: { type: 'integer', minimum: 100, default: 10_000, description: 'Time limit for a publish acknowledgement, in ms.' },
  },
} as const;

export const natsSinkType: SinkType<NatsSinkConfig> = sinkType<NatsSinkConfig>(
  'NATS JetStream sinks: one message per event, message id = event uid.',
  natsSinkSchema,
  (cfg) => new NatsSink(cfg),
);
