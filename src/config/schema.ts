/**
 * The configuration schema: the one source of truth for settings, their limits, descriptions and
 * defaults. `defaults.ts` derives the embedded defaults from it, `tools/config-docs.ts` renders docs/CONFIG.md
 * and config/outpost.example.yaml from it, and `load.ts` validates with it.
 *
 * Units are in the setting names (…Ms, …Bytes) so a YAML file reads unambiguously without docs.
 *
 * Every object node has `additionalProperties: false` (a typo must fail loudly, not be ignored) and
 * `default: {}` (so ajv's useDefaults fills a missing section, then that section's own defaults).
 * Those `{}` are cast to the section type: they are only complete once ajv has filled them.
 */
import type { JSONSchemaType } from 'ajv';
import { forwardConfigSchema, type ForwardConfig } from '../forward/config.js';
import { DEVICES_CONFIG_SCHEMA, type DevicesConfig } from '../devices/config.js';
import { discoveryConfigSchema, type DiscoveryConfig } from '../discovery/config.js';

/** Event classes the daemon emits (Network Activity always). */
export const EVENT_KIND_NAMES = ['network', 'dns', 'http', 'dhcp', 'inventory'] as const;
export type EventKindName = (typeof EVENT_KIND_NAMES)[number];

export interface EventsConfig {
  emit: EventKindName[];
  stdout: boolean;
}

/** pino's levels, plus 'silent'. Kept here (not in telemetry) because the config owns the setting. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Hand-written so editors show readable types. The `JSONSchemaType<OutpostConfig>` annotation on
 * the schema below makes tsc reject any drift in names, types or required-ness between the two;
 * schema.test.ts checks the remaining direction (every schema key present after loading).
 */
export interface OutpostConfig {
  dataDir: string;
  logLevel: LogLevel;
  runAsUser: string;
  capture: CaptureConfig;
  flows: FlowsConfig;
  api: ApiConfig;
  events: EventsConfig;
  forward: ForwardConfig;
  devices: DevicesConfig;
  discovery: DiscoveryConfig;
}

export interface CaptureConfig {
  interfaces: string[];
  bpfFilter: string;
  snaplenBytes: number;
  promiscuous: boolean;
  bufferSizeBytes: number;
  bufferTimeoutMs: number;
  statsIntervalMs: number;
}

export interface FlowIdleTimeoutsMs {
  tcp: number;
  udp: number;
  icmp: number;
  other: number;
}

export interface FlowsConfig {
  maxFlows: number;
  flowIdleTimeoutMs: FlowIdleTimeoutsMs;
  tcpClosedTimeoutMs: number;
  flowActiveTimeoutMs: number;
  emitOpenEvents: boolean;
}

export const API_ROLES = ['admin', 'read'] as const;
export type ApiRole = (typeof API_ROLES)[number];

export interface ApiTokenConfig {
  name: string;
  role: ApiRole;
  sha256: string;
}

export interface ApiTlsConfig {
  certFile: string;
  keyFile: string;
}

export interface ApiConfig {
  host: string;
  port: number;
  tokens: ApiTokenConfig[];
  tls: ApiTlsConfig;
  rateLimitPerMinute: number;
}

const DAY_MS = 86_400_000;

/** Idle timeouts share limits; only the default and description differ per protocol. */
function idleTimeout(flowsOf: string, defaultMs: number, why: string) {
  return {
    type: 'integer',
    minimum: 1000,
    maximum: DAY_MS,
    default: defaultMs,
    description: `Idle timeout for ${flowsOf}: a flow with no packets for this long is closed and emitted. ${why}`,
  } as const;
}

export const configSchema: JSONSchemaType<OutpostConfig> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Outpost configuration',
  description: 'Configuration of the Outpost network sensor. Every setting is optional; the defaults shown apply when a setting (or the whole file) is absent.',
  type: 'object',
  additionalProperties: false,
  // No `default` on the root: ajv (strict) rejects it there, and the document always exists.
  required: ['dataDir', 'logLevel', 'runAsUser', 'capture', 'flows', 'api', 'events', 'forward', 'devices', 'discovery'],
  properties: {
    dataDir: {
      type: 'string',
      minLength: 1,
      default: './data',
      description: 'Directory for the local store and state files. Relative paths are resolved against the working directory of the daemon.',
    },
    logLevel: {
      type: 'string',
      enum: [...LOG_LEVELS],
      default: 'info',
      description: 'Minimum level written to the log: fatal, error, warn, info, debug, trace, or silent.',
    },
    runAsUser: {
      type: 'string',
      maxLength: 64,
      default: '',
      description: 'When started as root: after the capture is opened, hand dataDir to this user and switch to it (setgid/setuid to its primary group and uid), so the open capture keeps working while the daemon runs unprivileged. Empty: keep the user the daemon was started as. Ignored when not started as root. Restart required.',
    },
    capture: {
      type: 'object',
      additionalProperties: false,
      default: {} as CaptureConfig,
      description: 'Live packet capture (libpcap).',
      required: ['interfaces', 'bpfFilter', 'snaplenBytes', 'promiscuous', 'bufferSizeBytes', 'bufferTimeoutMs', 'statsIntervalMs'],
      properties: {
        interfaces: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          uniqueItems: true,
          default: [],
          description: 'Network interfaces to capture on, e.g. ["eth0"]. Empty: `outpost run` starts without live capture (API and other services still run) and logs a warning.',
        },
        bpfFilter: {
          type: 'string',
          default: '',
          description: 'Berkeley Packet Filter expression (tcpdump syntax) applied in the kernel to every interface. Empty: capture all packets.',
        },
        snaplenBytes: {
          type: 'integer',
          minimum: 64,
          maximum: 262144,
          default: 65535,
          description: 'Maximum bytes captured per packet. Smaller values save memory and CPU but truncate payloads needed for TLS SNI and HTTP host detection.',
        },
        promiscuous: {
          type: 'boolean',
          default: true,
          description: 'Put interfaces in promiscuous mode, so traffic not addressed to this host (e.g. from a SPAN/mirror port) is seen.',
        },
        bufferSizeBytes: {
          type: 'integer',
          minimum: 65536,
          // pcap_set_buffer_size() takes a C int.
          maximum: 2147483647,
          default: 33554432,
          description: 'Kernel capture buffer per interface. Larger buffers absorb bursts without drops at the cost of memory.',
        },
        bufferTimeoutMs: {
          type: 'integer',
          // 0 means "wait forever" to libpcap on some platforms, which would stall delivery.
          minimum: 1,
          maximum: 10000,
          default: 100,
          description: 'Packet buffer timeout: the kernel hands over buffered packets at least this often, even when the buffer is not full.',
        },
        statsIntervalMs: {
          type: 'integer',
          minimum: 1000,
          maximum: 3600000,
          default: 10000,
          description: 'How often capture statistics (received/dropped packets per interface) are collected and logged.',
        },
      },
    },
    flows: {
      type: 'object',
      additionalProperties: false,
      default: {} as FlowsConfig,
      description: 'Flow tracking: how packets are grouped into flows and when flows are closed.',
      required: ['maxFlows', 'flowIdleTimeoutMs', 'tcpClosedTimeoutMs', 'flowActiveTimeoutMs', 'emitOpenEvents'],
      properties: {
        maxFlows: {
          type: 'integer',
          minimum: 1024,
          maximum: 16777216,
          default: 1048576,
          description: 'Maximum flows tracked at once. When full, the least recently seen flow is evicted (emitted early). Bounds memory use.',
        },
        flowIdleTimeoutMs: {
          type: 'object',
          additionalProperties: false,
          default: {} as FlowIdleTimeoutsMs,
          description: 'Idle timeouts per transport protocol.',
          required: ['tcp', 'udp', 'icmp', 'other'],
          properties: {
            tcp: idleTimeout('TCP flows', 300000, 'Long, because idle keep-alive connections are common.'),
            udp: idleTimeout('UDP flows', 120000, 'UDP has no end-of-flow signal, so this is the only way UDP flows end.'),
            icmp: idleTimeout('ICMP flows', 60000, 'Short, because ICMP exchanges are brief.'),
            other: idleTimeout('flows of other IP protocols', 120000, 'Applies to everything that is not TCP, UDP or ICMP.'),
          },
        },
        tcpClosedTimeoutMs: {
          type: 'integer',
          minimum: 0,
          maximum: 3600000,
          default: 10000,
          description: 'How long a TCP flow is kept after FIN or RST before it is emitted, to absorb retransmissions and late packets. 0: emit immediately.',
        },
        flowActiveTimeoutMs: {
          type: 'integer',
          minimum: 1000,
          maximum: DAY_MS,
          default: 300000,
          description: 'Long-lived flows are emitted (as an update) at least this often, so they are visible before they end.',
        },
        emitOpenEvents: {
          type: 'boolean',
          default: false,
          description: 'Also emit an event when a flow starts, not only when it ends or is updated. Doubles the event volume.',
        },
      },
    },
    api: {
      type: 'object',
      additionalProperties: false,
      default: {} as ApiConfig,
      description: 'Local HTTP API.',
      required: ['host', 'port', 'tokens', 'tls', 'rateLimitPerMinute'],
      properties: {
        host: {
          type: 'string',
          minLength: 1,
          default: '127.0.0.1',
          description: 'Address the API listens on. The default keeps it local; use 0.0.0.0 or :: to expose it to the network.',
        },
        port: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          default: 8470,
          description: 'TCP port of the API. 0 picks a free port (useful for tests).',
        },
        tokens: {
          type: 'array',
          uniqueItems: true,
          default: [],
          description: 'API tokens, stored as the SHA-256 (hex) of the token, never the token itself; create one with `outpost token create --role admin|read --name NAME`, which prints the token and the entry to add here. Role `read` may call every GET route; `admin` may also change the configuration and run jobs. Empty: read routes are open to local clients and every write route is refused. Applied live.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'role', 'sha256'],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 64 },
              role: { type: 'string', enum: [...API_ROLES] },
              sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          default: {} as ApiTlsConfig,
          description: 'HTTPS for the API. Required (with at least one token) when `host` is not a loopback address.',
          required: ['certFile', 'keyFile'],
          properties: {
            certFile: {
              type: 'string',
              default: '',
              description: 'PEM certificate chain file. Empty (with keyFile empty): plain HTTP, allowed on loopback only.',
            },
            keyFile: {
              type: 'string',
              default: '',
              description: 'PEM private key file, readable only by the outpost user.',
            },
          },
        },
        rateLimitPerMinute: {
          type: 'integer',
          minimum: 1,
          maximum: 1000000,
          default: 3000,
          description: 'Requests per minute allowed per client (per token, or per address for requests without one); beyond it the API answers 429 API_RATE_LIMITED. Applied live.',
        },
      },
    },
    events: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Which OCSF events the daemon emits and where besides the forwarding outbox.',
      required: ['emit', 'stdout'],
      properties: {
        emit: {
          type: 'array',
          items: { type: 'string', enum: [...EVENT_KIND_NAMES] },
          uniqueItems: true,
          default: ['network', 'dns', 'http', 'dhcp', 'inventory'],
          description: 'Event kinds: network (Network Activity 4001), dns (DNS Activity 4003), http (HTTP Activity 4002), dhcp (DHCP Activity 4004), inventory (Device Inventory Info 5001).',
        },
        stdout: {
          type: 'boolean',
          default: true,
          description: 'Also write every event as one JSON line on standard output (the systemd unit appends it to a file).',
        },
      },
    } as unknown as JSONSchemaType<EventsConfig>,
    forward: (() => {
      const { $schema: _unused, ...fragment } = forwardConfigSchema;
      void _unused;
      return fragment;
    })() as unknown as JSONSchemaType<ForwardConfig>,
    devices: { ...DEVICES_CONFIG_SCHEMA, default: {}, description: 'Device and user identity: DHCP, ARP/NDP, endpoint agents (docs/DEVICES.md).' } as unknown as JSONSchemaType<DevicesConfig>,
    discovery: discoveryConfigSchema as unknown as JSONSchemaType<DiscoveryConfig>,
  },
};
