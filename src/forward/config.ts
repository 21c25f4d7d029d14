/**
 * Configuration of durable forwarding: the outbox and its sinks.
 *
 * `forwardConfigSchema` is a JSON-schema (draft-07) fragment meant to sit under a top-level
 * `forward` key of the main configuration schema. Every property has a description and a default,
 * so `{}` is a valid configuration (outbox on, no sinks). Sinks are three arrays by type (`https`,
 * `syslog`, `nats`) rather than one array of a tagged union: ajv's useDefaults cannot fill
 * defaults inside `oneOf` branches reliably, and per-type arrays keep every default explicit.
 */
import type { JSONSchemaType } from 'ajv';

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

export interface SyslogSinkConfig extends SinkCommon {
  transport: 'tcp' | 'tls' | 'udp';
  host: string;
  port: number;
  facility: number;
  appName: string;
  hostname: string;
  udpMaxMessageBytes: number;
  connectTimeoutMs: number;
  tlsCaFile: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  tlsServerName: string;
  cefDeviceVendor: string;
  cefDeviceProduct: string;
  cefDeviceVersion: string;
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

export interface ForwardConfig {
  outboxDir: string;
  outboxMaxBytes: number;
  outboxMaxAgeMs: number;
  outboxFullPolicy: OutboxFullPolicy;
  outboxSync: OutboxSyncMode;
  outboxSweepIntervalMs: number;
  https: HttpsSinkConfig[];
  syslog: SyslogSinkConfig[];
  nats: NatsSinkConfig[];
}

const retryProps = {
  retryInitialMs: { type: 'integer', minimum: 1, default: 500, description: 'First retry delay after a failed send, in ms; doubles per failure (with jitter: 50-100% of the value).' },
  retryMaxMs: { type: 'integer', minimum: 1, default: 60_000, description: 'Upper bound of the retry delay, in ms (also caps a Retry-After header).' },
} as const;

function commonProps(batchMaxEvents: number, batchMaxBytes: number, maxInFlightBatches: number) {
  return {
    name: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9_.-]+$', default: 'default', description: 'Sink name: unique across all sinks; names its cursor in the outbox and its counters. Renaming a sink restarts it at the outbox tail.' },
    enabled: { type: 'boolean', default: true, description: 'A disabled sink keeps its cursor (the outbox keeps its backlog, bounded by outboxMaxBytes/outboxMaxAgeMs).' },
    batchMaxEvents: { type: 'integer', minimum: 1, maximum: 100_000, default: batchMaxEvents, description: 'Most events sent in one batch (one HTTP request, one socket write, one set of JetStream publishes).' },
    batchMaxBytes: { type: 'integer', minimum: 1024, default: batchMaxBytes, description: 'Most bytes of serialized events in one batch, before compression.' },
    maxInFlightBatches: { type: 'integer', minimum: 1, maximum: 64, default: maxInFlightBatches, description: 'Batches read and prepared (formatted, compressed) ahead while earlier ones await their acknowledgement. The receiver still sees batches in order and the cursor advances in order; after a failure every later batch is re-sent. NATS: keep 1 (publishes of later batches would not wait for an earlier failure).' },
    ...retryProps,
  } as const;
}

const tlsFile = (what: string) => ({ type: 'string', default: '', description: `${what} (PEM file path); empty for none.` }) as const;

const httpsSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...commonProps(5000, 4 * 1024 * 1024, 2),
    url: { type: 'string', default: 'https://localhost:8443/ingest', description: 'Receiver URL (https://; http:// only for tests). Each batch is POSTed here.' },
    format: { type: 'string', enum: ['ndjson', 'array'], default: 'ndjson', description: "Body: one OCSF JSON event per line ('ndjson', application/x-ndjson) or a JSON array ('array')." },
    gzip: { type: 'boolean', default: true, description: 'Compress each body with gzip (Content-Encoding: gzip).' },
    bearerToken: { type: 'string', default: '', description: 'Bearer token sent as Authorization header; empty for none. Prefer bearerTokenFile.' },
    bearerTokenFile: { type: 'string', default: '', description: 'File holding the bearer token (trimmed); read at start; empty for none.' },
    tlsCaFile: tlsFile('CA certificate(s) that verify the receiver, replacing the system roots'),
    tlsCertFile: tlsFile('Client certificate for mutual TLS'),
    tlsKeyFile: tlsFile('Client private key for mutual TLS'),
    tlsServerName: { type: 'string', default: '', description: 'Name checked against the receiver certificate when it differs from the URL host; empty to use the URL host.' },
    requestTimeoutMs: { type: 'integer', minimum: 100, default: 30_000, description: 'Time limit for one request (headers and body), in ms; a timeout is retried.' },
  },
} as const;

const syslogSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...commonProps(5000, 4 * 1024 * 1024, 4),
    transport: { type: 'string', enum: ['tcp', 'tls', 'udp'], default: 'tcp', description: "'tcp' (RFC 6587 octet counting), 'tls' (RFC 5425) or 'udp' (RFC 5426; loss cannot be detected and is counted as unknowable)." },
    host: { type: 'string', default: '127.0.0.1', description: 'Syslog receiver host.' },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 514, description: 'Syslog receiver port (usual: 514 tcp/udp, 6514 tls).' },
    facility: { type: 'integer', minimum: 0, maximum: 23, default: 16, description: 'Syslog facility number (16 = local0); severity comes from the event.' },
    appName: { type: 'string', default: 'outpost', description: 'RFC 5424 APP-NAME.' },
    hostname: { type: 'string', default: '', description: 'RFC 5424 HOSTNAME; empty for the machine host name.' },
    udpMaxMessageBytes: { type: 'integer', minimum: 480, maximum: 65507, default: 8192, description: 'Longest UDP datagram in bytes; longer messages are truncated and counted.' },
    connectTimeoutMs: { type: 'integer', minimum: 100, default: 10_000, description: 'Time limit for a TCP/TLS connection (and handshake), in ms.' },
    tlsCaFile: tlsFile('CA certificate(s) that verify the receiver (tls transport)'),
    tlsCertFile: tlsFile('Client certificate (tls transport)'),
    tlsKeyFile: tlsFile('Client private key (tls transport)'),
    tlsServerName: { type: 'string', default: '', description: 'Name checked against the receiver certificate; empty to use host.' },
    cefDeviceVendor: { type: 'string', default: 'Outpost', description: 'CEF Device Vendor header field.' },
    cefDeviceProduct: { type: 'string', default: 'Outpost Sensor', description: 'CEF Device Product header field.' },
    cefDeviceVersion: { type: 'string', default: '0.1.0', description: 'CEF Device Version header field.' },
  },
} as const;

const natsSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: [],
  properties: {
    ...commonProps(1000, 4 * 1024 * 1024, 1),
    servers: { type: 'array', items: { type: 'string' }, default: ['nats://127.0.0.1:4222'], description: 'NATS server URLs (several for a cluster).' },
    subject: { type: 'string', default: 'outpost.events', description: 'Subject published to; a JetStream stream must capture it (its duplicate_window bounds de-duplication by event uid).' },
    token: { type: 'string', default: '', description: 'Authentication token; empty for none.' },
    user: { type: 'string', default: '', description: 'User name; empty for none.' },
    password: { type: 'string', default: '', description: 'Password for user.' },
    tlsCaFile: tlsFile('CA certificate(s) that verify the servers (enables TLS)'),
    publishTimeoutMs: { type: 'integer', minimum: 100, default: 10_000, description: 'Time limit for a publish acknowledgement, in ms.' },
  },
} as const;

export const forwardConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  required: [],
  default: {},
  description: 'Durable forwarding: events go to an LMDB outbox first, then to each sink, which advances its own cursor on acknowledgement.',
  properties: {
    outboxDir: { type: 'string', default: 'forward-outbox', description: 'Outbox directory (LMDB environment); relative paths are under dataDir.' },
    outboxMaxBytes: { type: 'integer', minimum: 1_048_576, default: 1_073_741_824, description: 'Upper bound of stored events in bytes (serialized size); when reached, outboxFullPolicy applies.' },
    outboxMaxAgeMs: { type: 'integer', minimum: 1000, default: 604_800_000, description: 'Events older than this (time appended) are removed even if a sink has not sent them, and counted as expired.' },
    outboxFullPolicy: { type: 'string', enum: [...OUTBOX_FULL_POLICIES], default: 'drop-oldest', description: "When full: 'drop-oldest' removes the oldest events, 'refuse-new' refuses new ones; both are counted." },
    outboxSync: { type: 'string', enum: [...OUTBOX_SYNC_MODES], default: 'fsync', description: "Durability of each commit: 'fsync' (survives power loss), 'no-meta-sync' (power loss may roll back the last commits), 'none' (survives a crash of the process, not of the machine). See docs/FORWARDING.md for measured costs." },
    outboxSweepIntervalMs: { type: 'integer', minimum: 100, default: 1000, description: 'Interval of the sweep that applies outboxMaxAgeMs and removes events every sink has sent, in ms.' },
    https: { type: 'array', default: [], items: httpsSinkSchema, description: 'HTTPS sinks: OCSF JSON batches POSTed to a receiver.' },
    syslog: { type: 'array', default: [], items: syslogSinkSchema, description: 'Syslog sinks: CEF in RFC 5424 messages.' },
    nats: { type: 'array', default: [], items: natsSinkSchema, description: 'NATS JetStream sinks: one message per event, message id = event uid.' },
  },
} as const;

// Type-level check that the fragment and the interfaces agree (as src/config/schema.ts does).
const _check: JSONSchemaType<ForwardConfig> = forwardConfigSchema as unknown as JSONSchemaType<ForwardConfig>;
void _check;

type Props = Record<string, { default: unknown }>;
function defaultsOf<T>(props: Props): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) out[k] = structuredClone(v.default);
  return out as T;
}

export const DEFAULT_FORWARD_CONFIG: Readonly<ForwardConfig> = Object.freeze(defaultsOf<ForwardConfig>(forwardConfigSchema.properties));
export const DEFAULT_HTTPS_SINK: Readonly<HttpsSinkConfig> = Object.freeze(defaultsOf<HttpsSinkConfig>(httpsSinkSchema.properties));
export const DEFAULT_SYSLOG_SINK: Readonly<SyslogSinkConfig> = Object.freeze(defaultsOf<SyslogSinkConfig>(syslogSinkSchema.properties));
export const DEFAULT_NATS_SINK: Readonly<NatsSinkConfig> = Object.freeze(defaultsOf<NatsSinkConfig>(natsSinkSchema.properties));

export type DeepPartialForward = Partial<Omit<ForwardConfig, 'https' | 'syslog' | 'nats'>> & {
  https?: Partial<HttpsSinkConfig>[];
  syslog?: Partial<SyslogSinkConfig>[];
  nats?: Partial<NatsSinkConfig>[];
};

/** Fill defaults (for callers that did not go through ajv's useDefaults, e.g. tests and tools). */
export function resolveForwardConfig(partial: DeepPartialForward = {}): ForwardConfig {
  return {
    ...DEFAULT_FORWARD_CONFIG,
    ...partial,
    https: (partial.https ?? []).map((s) => ({ ...DEFAULT_HTTPS_SINK, ...s })),
    syslog: (partial.syslog ?? []).map((s) => ({ ...DEFAULT_SYSLOG_SINK, ...s })),
    nats: (partial.nats ?? []).map((s) => ({ ...DEFAULT_NATS_SINK, ...s, servers: [...(s.servers ?? DEFAULT_NATS_SINK.servers)] })),
  };
}
