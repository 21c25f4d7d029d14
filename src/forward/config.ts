/**
 * Configuration of durable forwarding: the outbox and its sinks.
 *
 * `forwardConfigSection` is the `forward` section of the main configuration schema
 * (src/config/schema.ts composes it). Every property has a description and a default, so `{}` is
 * a valid configuration (outbox on, no sinks). Sinks are one array per sink type (`https`,
 * `syslog`, `nats`: the table in src/forward/sinks/index.ts, which this schema is built from)
 * rather than one array of a tagged union: ajv's useDefaults cannot fill defaults inside `oneOf`
 * branches reliably, and per-type arrays keep every default explicit.
 */
import type { JSONSchemaType } from 'ajv';
import type { ConfigSection } from '../area.js';
import { OUTBOX_FULL_POLICIES, OUTBOX_SYNC_MODES, type OutboxFullPolicy, type OutboxSyncMode } from './settings.js';
import { sinkTypeEntries, type SinkArrays, type SinkTypeName } from './sinks/index.js';

export { OUTBOX_FULL_POLICIES, OUTBOX_SYNC_MODES, type OutboxFullPolicy, type OutboxSyncMode, type RetrySettings, type SinkCommon } from './settings.js';
export type { HttpsSinkConfig } from './sinks/https.js';
export type { SyslogSinkConfig } from './sinks/syslog.js';
export type { NatsSinkConfig } from './sinks/nats.js';
export type { CloudDiscoveryUploadConfig } from './sinks/cloud-discovery-upload.js';

/** The outbox settings; the sinks are the arrays of SinkArrays (one per sink type). */
export interface OutboxConfig {
  outboxDir: string;
  outboxMaxBytes: number;
  outboxMaxAgeMs: number;
  outboxFullPolicy: OutboxFullPolicy;
  outboxSync: OutboxSyncMode;
  outboxSweepIntervalMs: number;
  outboxMaxUncommittedMs: number;
  outboxMinFreeDiskMb: number;
}

export interface ForwardConfig extends OutboxConfig, SinkArrays {}

const outboxProps = {
    outboxDir: { type: 'string', default: 'forward-outbox', description: 'Outbox directory (LMDB environment); relative paths are under dataDir.' },
    outboxMaxBytes: { type: 'integer', minimum: 1_048_576, default: 1_073_741_824, description: 'Upper bound of stored events in bytes (serialized size); when reached, outboxFullPolicy applies.' },
    outboxMaxAgeMs: { type: 'integer', minimum: 1000, default: 604_800_000, description: 'Events older than this (time appended) are removed even if a sink has not sent them, and counted as expired.' },
    outboxFullPolicy: { type: 'string', enum: [...OUTBOX_FULL_POLICIES], default: 'drop-oldest', description: "When full: 'drop-oldest' removes the oldest events, 'refuse-new' refuses new ones; both are counted." },
    outboxSync: { type: 'string', enum: [...OUTBOX_SYNC_MODES], default: 'fsync', description: "Durability of each commit: 'fsync' (survives power loss), 'no-meta-sync' (power loss may roll back the last commits), 'none' (survives a crash of the process, not of the machine). See docs/FORWARDING.md for measured costs." },
    outboxSweepIntervalMs: { type: 'integer', minimum: 100, default: 1000, description: 'Interval of the sweep that applies outboxMaxAgeMs and removes events every sink has sent, in ms.' },
    outboxMaxUncommittedMs: { type: 'integer', minimum: 10, maximum: 60_000, default: 100, description: 'Longest time an accepted event may stay uncommitted, in ms: what a crash can lose. A commit starts at the end of each event-loop turn, or within a turn once the oldest queued event is half this old. Events whose commit still completes later (a store slower than the event rate, a busy machine) are counted (forward.outbox.late_committed) and FORWARD_OUTBOX_COMMIT_SLOW is logged once per episode; forward.outbox.uncommitted_max_ms is the largest delay measured. Stdout and the sinks only ever see committed events.' },
    outboxMinFreeDiskMb: { type: 'integer', minimum: 0, default: 0, description: "Free space to keep on the outbox's file system, in MiB; 0 turns the check off. Below it new events are refused (shed newest) and counted (forward.outbox.refused_disk_low), with FORWARD_OUTBOX_DISK_LOW logged once, until space returns; stored events are still sent. Checked after every 256 KiB appended and every 250 ms; keep it above what the event rate writes in that time." },
} as const;

/** `forward.<type>`: an array of that sink type's settings. */
function sinkArrays(): Record<SinkTypeName, object> {
  const out: Partial<Record<SinkTypeName, object>> = {};
  for (const [name, t] of sinkTypeEntries()) out[name] = { type: 'array', default: [], items: t.schema, description: t.description };
  return out as Record<SinkTypeName, object>;
}

const forwardSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  default: {},
  description: 'Durable forwarding: events go to an LMDB outbox first, then to each sink, which advances its own cursor on acknowledgement.',
  properties: { ...outboxProps, ...sinkArrays() },
} as const;

export const forwardConfigSection: ConfigSection<ForwardConfig> = {
  key: 'forward',
  // The sink arrays are built at run time from the table, so tsc cannot check this fragment
  // against ForwardConfig; schema.test.ts checks the defaults against it instead.
  schema: forwardSchema as unknown as JSONSchemaType<ForwardConfig>,
};

/** The same fragment as a standalone draft-07 document (tools, external validators). */
export const forwardConfigSchema = { $schema: 'http://json-schema.org/draft-07/schema#', ...forwardSchema } as const;

type Props = Record<string, { default: unknown }>;
function defaultsOf<T>(props: Props): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) out[k] = structuredClone(v.default);
  return out as T;
}

export const DEFAULT_FORWARD_CONFIG: Readonly<ForwardConfig> = Object.freeze(defaultsOf<ForwardConfig>(forwardSchema.properties as Props));

export type DeepPartialForward = Partial<OutboxConfig> & { [K in SinkTypeName]?: Array<Partial<ForwardConfig[K][number]>> };

/** Fill defaults (for callers that did not go through ajv's useDefaults, e.g. tests and tools). */
export function resolveForwardConfig(partial: DeepPartialForward = {}): ForwardConfig {
  const out: Record<string, unknown> = { ...DEFAULT_FORWARD_CONFIG, ...partial };
  for (const [name, t] of sinkTypeEntries()) {
    // Arrays in the defaults (e.g. nats servers) are copied, never shared between sinks.
    out[name] = (partial[name] ?? []).map((s) => ({ ...structuredClone(t.defaults), ...copyArrays(s) }));
  }
  return out as unknown as ForwardConfig;
}

function copyArrays(o: object): object {
  const out: Record<string, unknown> = { ...o };
  for (const [k, v] of Object.entries(out)) if (Array.isArray(v)) out[k] = [...(v as unknown[])];
  return out;
}

