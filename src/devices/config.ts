/**
 * Device-identity settings: the `devices` section of the configuration (its JSON schema, type
 * and defaults), composed into the whole by src/config/schema.ts. Units are in the names.
 */
import type { JSONSchemaType } from 'ajv';
import type { ConfigSection } from '../area.js';

/**
 * The agent listener: a second, small HTTPS server of the daemon that serves only
 * `POST /v1/agents/heartbeat`, for agents on the LAN (the admin API stays on loopback).
 */
export interface AgentListenerConfig {
  /** Start the listener (needs devices.enabled). */
  enabled: boolean;
  /** Address it binds; a non-loopback address needs tlsCertFile and tlsKeyFile. */
  host: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** PEM certificate chain; empty (with tlsKeyFile empty) means plain HTTP, loopback only. */
  tlsCertFile: string;
  /** PEM private key. */
  tlsKeyFile: string;
  /** Requests per minute per client address; beyond it 429 API_RATE_LIMITED (agents.refused_rate_limited). */
  rateLimitPerMinute: number;
}

export interface DevicesConfig {
  /** Snoop DHCP/ARP/NDP/mDNS, enrich events with device and user. */
  enabled: boolean;
  /** Devices kept; the least recently seen is evicted past this (devices.evicted). */
  maxDevices: number;
  /** Address bindings, user intervals and evidence older than this are removed by compact(). */
  deviceHistoryRetentionMs: number;
  /** How long an agent-reported user stays attributed after its last heartbeat. */
  agentHeartbeatTtlMs: number;
  /** Heartbeats whose timestamp is further than this from the gateway clock are refused. */
  agentMaxClockSkewMs: number;
  /** Nonces remembered for replay detection (per window of agentMaxClockSkewMs). */
  agentMaxNonces: number;
  /** Enrolled agents kept. */
  maxAgents: number;
  /** Binding of an address to a device without a DHCP lease (ARP/NDP/mDNS) stays valid this long after last seen. */
  addressBindingTtlMs: number;
  /** A binding from a higher-trust source blocks lower-trust rebinding for this long (when no lease says otherwise). */
  trustHoldMs: number;
  /** Address intervals kept per address; the oldest is dropped (devices.bindings_dropped). */
  maxBindingsPerAddress: number;
  /** Evidence records kept per device (oldest dropped). */
  maxEvidencePerDevice: number;
  /** Open DHCP transactions remembered to pair requests (host name, client id) with ACKs. */
  dhcpMaxPendingTransactions: number;
  /** Longest time a change waits before it is written to LMDB. */
  deviceFlushIntervalMs: number;
  /**
   * Address prefixes (CIDR) an agent may claim as its own; empty: any unicast address. Claims
   * outside are refused and counted (devices.agent_claims_out_of_scope); docs/SECURITY.md.
   */
  agentAddressScopes: string[];
  /** HTTPS listener for agent heartbeats (docs/DEVICES.md, "Agent listener"). */
  agentListener: AgentListenerConfig;
  /**
   * How long a user bound by a logon seen on the wire stays on its device without a refresh or a
   * newer logon (a Kerberos ticket's end time, when sooner, ends it first). docs/DEVICES.md.
   */
  wireLogonBindingMs: number;
  /**
   * RADIUS NASes (Wi-Fi controllers, VPN concentrators) whose accounting may bind users, each with
   * the file holding its shared secret. Empty: any NAS whose request the accounting server
   * answered; set: only requests from a listed NAS address whose Request Authenticator verifies
   * with its secret (RFC 2866 §3).
   */
  radiusNases: RadiusNasConfig[];
  /** Logon servers' MACs (KDC, file server, RADIUS accounting server), instead of learning them from their first answer. */
  logonServerMacs: LogonServerMacConfig[];
}

export interface RadiusNasConfig {
  /** The NAS's address as its accounting requests come from (the packets' source). */
  address: string;
  /** File holding the shared secret (its bytes; one trailing newline is not part of it). */
  sharedSecretFile: string;
}

export interface LogonServerMacConfig { address: string; mac: string }

export const DEFAULT_AGENT_LISTENER_CONFIG: Readonly<AgentListenerConfig> = Object.freeze({
  enabled: false,
  host: '0.0.0.0',
  port: 8471,
  tlsCertFile: '',
  tlsKeyFile: '',
  rateLimitPerMinute: 600,
});

export const DEFAULT_DEVICES_CONFIG: Readonly<DevicesConfig> = Object.freeze({
  enabled: true,
  maxDevices: 50_000,
  deviceHistoryRetentionMs: 30 * 86_400_000,
  agentHeartbeatTtlMs: 300_000,
  agentMaxClockSkewMs: 300_000,
  agentMaxNonces: 100_000,
  maxAgents: 10_000,
  addressBindingTtlMs: 4 * 3_600_000,
  trustHoldMs: 600_000,
  maxBindingsPerAddress: 64,
  maxEvidencePerDevice: 32,
  dhcpMaxPendingTransactions: 4096,
  deviceFlushIntervalMs: 1_000,
  agentAddressScopes: Object.freeze([]) as unknown as string[],
  agentListener: DEFAULT_AGENT_LISTENER_CONFIG,
  wireLogonBindingMs: 10 * 3_600_000,
  radiusNases: Object.freeze([]) as unknown as RadiusNasConfig[],
  logonServerMacs: Object.freeze([]) as unknown as LogonServerMacConfig[],
});

const int = (min: number, description: string): Record<string, unknown> => ({ type: 'integer', minimum: min, description });

/** JSON schema for the `devices` object (ajv, useDefaults). */
export const DEVICES_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', default: DEFAULT_DEVICES_CONFIG.enabled, description: 'Device and user identity from DHCP, ARP/NDP, mDNS and agents.' },
    maxDevices: { ...int(1, 'Devices kept (LRU by last seen).'), default: DEFAULT_DEVICES_CONFIG.maxDevices },
    deviceHistoryRetentionMs: { ...int(60_000, 'Address intervals, user spans and evidence that ended longer ago than this, and devices not seen since, are deleted by the daily `retention` job.'), default: DEFAULT_DEVICES_CONFIG.deviceHistoryRetentionMs },
    agentHeartbeatTtlMs: { ...int(1_000, 'A reported user stays attributed this long after the last heartbeat.'), default: DEFAULT_DEVICES_CONFIG.agentHeartbeatTtlMs },
    agentMaxClockSkewMs: { ...int(1_000, 'Heartbeat timestamps further from the gateway clock are refused (401).'), default: DEFAULT_DEVICES_CONFIG.agentMaxClockSkewMs },
    agentMaxNonces: { ...int(100, 'Nonces remembered for replay detection.'), default: DEFAULT_DEVICES_CONFIG.agentMaxNonces },
    maxAgents: { ...int(1, 'Enrolled agents kept.'), default: DEFAULT_DEVICES_CONFIG.maxAgents },
    addressBindingTtlMs: { ...int(1_000, 'Validity of an ARP/NDP/mDNS binding after it was last seen.'), default: DEFAULT_DEVICES_CONFIG.addressBindingTtlMs },
    trustHoldMs: { ...int(0, 'How long a higher-trust binding blocks lower-trust evidence.'), default: DEFAULT_DEVICES_CONFIG.trustHoldMs },
    maxBindingsPerAddress: { ...int(1, 'Address intervals kept per address.'), default: DEFAULT_DEVICES_CONFIG.maxBindingsPerAddress },
    maxEvidencePerDevice: { ...int(1, 'Evidence records kept per device.'), default: DEFAULT_DEVICES_CONFIG.maxEvidencePerDevice },
    dhcpMaxPendingTransactions: { ...int(1, 'Open DHCP transactions remembered.'), default: DEFAULT_DEVICES_CONFIG.dhcpMaxPendingTransactions },
    deviceFlushIntervalMs: { ...int(10, 'Longest wait before changes are written to LMDB.'), default: DEFAULT_DEVICES_CONFIG.deviceFlushIntervalMs },
    agentAddressScopes: {
      type: 'array', maxItems: 256, default: [],
      items: { type: 'string', maxLength: 49, pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$' },
      description: 'Address prefixes (CIDR, e.g. 10.0.0.0/8, fd00::/8) an agent may claim as its own in heartbeats. Empty: any unicast address. Claims outside are refused and counted (devices.agent_claims_out_of_scope).',
    },
    agentListener: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'HTTPS listener for agent heartbeats (POST /v1/agents/heartbeat only; enrollment stays on the admin API). Needs devices.enabled. Restart to apply.',
      required: ['enabled', 'host', 'port', 'tlsCertFile', 'tlsKeyFile', 'rateLimitPerMinute'],
      properties: {
        enabled: { type: 'boolean', default: DEFAULT_AGENT_LISTENER_CONFIG.enabled, description: 'Start the agent listener.' },
        host: { type: 'string', minLength: 1, default: DEFAULT_AGENT_LISTENER_CONFIG.host, description: 'Address it listens on. A non-loopback address needs tlsCertFile and tlsKeyFile (else AGENT_LISTENER_INSECURE_BIND at start).' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: DEFAULT_AGENT_LISTENER_CONFIG.port, description: 'TCP port. 0 picks a free port (tests).' },
        tlsCertFile: { type: 'string', default: DEFAULT_AGENT_LISTENER_CONFIG.tlsCertFile, description: 'PEM certificate chain the agents verify (outpost-agent --ca). Empty (with tlsKeyFile empty): plain HTTP, allowed on loopback only.' },
        tlsKeyFile: { type: 'string', default: DEFAULT_AGENT_LISTENER_CONFIG.tlsKeyFile, description: 'PEM private key file, readable only by the outpost user.' },
        rateLimitPerMinute: { type: 'integer', minimum: 1, maximum: 1_000_000, default: DEFAULT_AGENT_LISTENER_CONFIG.rateLimitPerMinute, description: 'Requests per minute per client address; beyond it 429 API_RATE_LIMITED (counted as agents.refused_rate_limited).' },
      },
    },
    wireLogonBindingMs: { ...int(60_000, 'How long a user bound by a Kerberos, NTLM or RADIUS logon seen on the wire stays on its device without a refresh (Kerberos TGS, RADIUS interim) or a newer logon. A Kerberos ticket that ends sooner ends it first. The default is the usual 10-hour ticket lifetime.'), default: DEFAULT_DEVICES_CONFIG.wireLogonBindingMs },
    radiusNases: {
      type: 'array', maxItems: 1024, default: [],
      description: 'RADIUS NASes whose accounting may bind users, each with its shared-secret file. Empty: accounting binds when the accounting server (its pinned MAC) answered it. Set: only requests from a listed NAS whose Request Authenticator verifies with its secret (RFC 2866 §3); others are counted (devices.logon_radius_unverified). Restart to apply.',
      items: {
        type: 'object', additionalProperties: false, required: ['address', 'sharedSecretFile'],
        properties: {
          address: { type: 'string', maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$', description: 'The NAS address its accounting requests come from.' },
          sharedSecretFile: { type: 'string', minLength: 1, description: 'File holding the shared secret (a regular file of at most 1 KiB, readable by the outpost user; one trailing newline is ignored).' },
        },
      },
    },
    logonServerMacs: {
      type: 'array', maxItems: 1024, default: [],
      description: 'MACs logon servers (KDC, SMB/LDAP/HTTP server, RADIUS accounting server) answer from, by address. Unlisted servers are pinned to the MAC of their first answer.',
      items: {
        type: 'object', additionalProperties: false, required: ['address', 'mac'],
        properties: {
          address: { type: 'string', maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$' },
          mac: { type: 'string', pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$' },
        },
      },
    },
  },
} as const;

export function devicesConfig(partial?: Partial<DevicesConfig>): DevicesConfig {
  const out: DevicesConfig = { ...DEFAULT_DEVICES_CONFIG };
  if (partial === undefined) return out;
  for (const k of Object.keys(DEFAULT_DEVICES_CONFIG) as (keyof DevicesConfig)[]) {
    const v = partial[k];
    if (k === 'enabled') { if (typeof v === 'boolean') out.enabled = v; continue; }
    if (k === 'agentAddressScopes') { if (Array.isArray(v)) out.agentAddressScopes = (v as unknown[]).filter((x): x is string => typeof x === 'string'); continue; }
    if (k === 'radiusNases') { if (Array.isArray(v)) out.radiusNases = (v as unknown[]).filter((x): x is RadiusNasConfig => typeof (x as RadiusNasConfig)?.address === 'string' && typeof (x as RadiusNasConfig).sharedSecretFile === 'string'); continue; }
    if (k === 'logonServerMacs') { if (Array.isArray(v)) out.logonServerMacs = (v as unknown[]).filter((x): x is LogonServerMacConfig => typeof (x as LogonServerMacConfig)?.address === 'string' && typeof (x as LogonServerMacConfig).mac === 'string'); continue; }
    if (k === 'agentListener') { if (v !== null && typeof v === 'object') out.agentListener = { ...DEFAULT_AGENT_LISTENER_CONFIG, ...(v as Partial<AgentListenerConfig>) }; continue; }
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) (out as unknown as Record<string, number>)[k] = Math.floor(v);
  }
  return out;
}

/** The `devices` section as the configuration composes it (src/area.ts ConfigSection). */
export const devicesConfigSection: ConfigSection<DevicesConfig> = {
  key: 'devices',
  schema: { ...DEVICES_CONFIG_SCHEMA, default: {}, description: 'Device and user identity: DHCP, ARP/NDP, endpoint agents (docs/DEVICES.md).' } as unknown as JSONSchemaType<DevicesConfig>,
};
