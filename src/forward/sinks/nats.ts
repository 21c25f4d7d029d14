/**
 * NATS JetStream sink: one message per event on `subject`, with the event uid as message id
 * (Nats-Msg-Id: JetStream drops a re-publish within the stream's duplicate_window). The batch's
 * publishes run concurrently; the cursor advances only when every publish acknowledgement
 * arrived. A missing stream, a timeout or a lost connection is retried with backoff.
 */
import type { JetStreamClient, NatsConnection } from 'nats';
import type { OutboxRecord } from '../outbox.js';
import { RetryableSinkError, sinkType, type Sink, type SinkType } from '../sink.js';
import { sinkCommonProps, tlsFileSetting, type SinkCommon } from '../settings.js';

const enc = new TextEncoder();

export class NatsSink implements Sink {
  readonly type = 'nats' as const;
  readonly name: string;
  readonly #cfg: NatsSinkConfig;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  readonly counters = { duplicates: 0, connects: 0 };

  constructor(cfg: NatsSinkConfig) {
    this.name = cfg.name;
    this.#cfg = cfg;
  }

  async #client(): Promise<JetStreamClient> {
    if (this.#js && this.#nc && !this.#nc.isClosed()) return this.#js;
    const c = this.#cfg;
    try {
      // Loaded on first use: the configuration schema imports this file (src/forward/sinks/index.ts)
      // and must not pay for the NATS client at every start of the CLI.
      const { connect } = await import('nats');
      this.#nc = await connect({
        servers: c.servers,
        name: `outpost-${c.name}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        timeout: c.publishTimeoutMs,
        ...(c.token ? { token: c.token } : {}),
        ...(c.user ? { user: c.user, pass: c.password } : {}),
        ...(c.tlsCaFile ? { tls: { caFile: c.tlsCaFile } } : {}),
      });
    } catch (err) {
      throw new RetryableSinkError(`connect ${c.servers.join(',')}: ${(err as Error).message}`, undefined, { cause: err });
    }
    this.counters.connects++;
    this.#js = this.#nc.jetstream({ timeout: c.publishTimeoutMs });
    return this.#js;
  }

  async send(batch: OutboxRecord[]): Promise<void> {
    const js = await this.#client();
    const acks = await Promise.allSettled(
      batch.map((r) => js.publish(this.#cfg.subject, enc.encode(r.json), { msgID: r.uid || `seq-${r.seq}`, timeout: this.#cfg.publishTimeoutMs })),
    );
    let failed: unknown;
    for (const a of acks) {
      if (a.status === 'rejected') failed ??= a.reason;
      else if (a.value.duplicate) this.counters.duplicates++;
    }
    if (failed !== undefined) throw new RetryableSinkError(`publish: ${(failed as Error).message}`, undefined, { cause: failed });
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#js = undefined;
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
    ...sinkCommonProps(1000, 4 * 1024 * 1024, 1),
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
