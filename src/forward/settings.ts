/**
 * Settings shared by the outbox and every sink type: the outbox policies and the settings every
 * sink has (name, batching, retries), with their schema fragments. Plain data: the configuration
 * schema is built from this and the sink table without loading any sink's runtime.
 */

export const OUTBOX_FULL_POLICIES = ['drop-oldest', 'refuse-new'] as const;
export type OutboxFullPolicy = (typeof OUTBOX_FULL_POLICIES)[number];
/** 'fsync': every commit is flushed to disk (survives power loss). 'no-meta-sync': data pages are
 * flushed, the meta page lazily (the last commits may roll back on power loss, never corrupt).
 * 'none': the OS decides (survives a process crash / kill -9, not a power loss). */
export const OUTBOX_SYNC_MODES = ['fsync', 'no-meta-sync', 'none'] as const;
export type OutboxSyncMode = (typeof OUTBOX_SYNC_MODES)[number];

export interface RetrySettings {
  retryInitialMs: number;
  retryMaxMs: number;
}

export interface SinkCommon extends RetrySettings {
  name: string;
  enabled: boolean;
  batchMaxEvents: number;
  batchMaxBytes: number;
  maxInFlightBatches: number;
}

const retryProps = {
  retryInitialMs: { type: 'integer', minimum: 1, default: 500, description: 'First retry delay after a failed send, in ms; doubles per failure (with jitter: 50-100% of the value).' },
  retryMaxMs: { type: 'integer', minimum: 1, default: 60_000, description: 'Upper bound of the retry delay, in ms (also caps a Retry-After header).' },
} as const;

/** Settings every sink type has, with per-type defaults for the batch limits. */
export function sinkCommonProps(batchMaxEvents: number, batchMaxBytes: number, maxInFlightBatches: number) {
  return {
    name: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.-]+$', default: 'default', description: 'Sink name: unique across all sinks; names its cursor in the outbox and its counters. Renaming a sink restarts it at the outbox tail.' },
    enabled: { type: 'boolean', default: true, description: 'A disabled sink keeps its cursor (the outbox keeps its backlog, bounded by outboxMaxBytes/outboxMaxAgeMs).' },
    batchMaxEvents: { type: 'integer', minimum: 1, maximum: 100_000, default: batchMaxEvents, description: 'Most events sent in one batch (one HTTP request, one socket write, one set of JetStream publishes).' },
    batchMaxBytes: { type: 'integer', minimum: 1024, default: batchMaxBytes, description: 'Most bytes of serialized events in one batch, before compression.' },
    maxInFlightBatches: { type: 'integer', minimum: 1, maximum: 64, default: maxInFlightBatches, description: 'Batches read and prepared (formatted, compressed) ahead while earlier ones await their acknowledgement. The receiver still sees batches in order and the cursor advances in order; after a failure every later batch is re-sent. NATS: publishes in flight are bounded by this times batchMaxEvents; after a failure the stream may hold later messages before the re-sent ones.' },
    ...retryProps,
  } as const;
}

/** A TLS file path setting (PEM), empty for none. */
export const tlsFileSetting = (what: string) => ({ type: 'string', default: '', description: `${what} (PEM file path); empty for none.` }) as const;

/** The JSON schema of one sink's settings: an object whose every property has a default. */
export interface SinkSchema {
  type: 'object';
  additionalProperties: false;
  required: readonly [];
  properties: Readonly<Record<string, { readonly default: unknown }>>;
}
