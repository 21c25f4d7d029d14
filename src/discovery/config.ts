/**
 * Discovery settings: a JSON-schema fragment for the `discovery` section of the configuration
 * (composed into src/config/schema.ts), its type and defaults. Units are in the names.
 */
import type { JSONSchemaType } from 'ajv';
import type { ConfigSection } from '../area.js';

export const SANCTION_STATES = ['sanctioned', 'unsanctioned', 'monitored'] as const;
export type SanctionState = (typeof SANCTION_STATES)[number];

export interface DiscoveryConfig {
  enabled: boolean;
  /** Catalog data file; empty: the shipped config/catalog/apps.json. */
  catalogFile: string;
  hourlyRetentionDays: number;
  dailyRetentionDays: number;
  flushIntervalMs: number;
  flushMaxRecords: number;
  maxIpsPerRollup: number;
  defaultSanction: SanctionState;
  highRiskCountries: string[];
  pseudonymizeUsers: boolean;
  /** File holding the 32-byte HMAC key (created 0600 when absent); empty: <dataDir>/discovery/pseudonym.key. */
  pseudonymKeyFile: string;
  reportMaxPageSize: number;
}

export const DEFAULT_DISCOVERY_CONFIG: Readonly<DiscoveryConfig> = Object.freeze({
  enabled: true,
  catalogFile: '',
  hourlyRetentionDays: 14,
  dailyRetentionDays: 400,
  flushIntervalMs: 5_000,
  flushMaxRecords: 10_000,
  maxIpsPerRollup: 32,
  defaultSanction: 'monitored' as SanctionState,
  highRiskCountries: [] as string[],
  pseudonymizeUsers: false,
  pseudonymKeyFile: '',
  reportMaxPageSize: 500,
});

export const discoveryConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Cloud-app discovery: catalog, rollups per app/device/user, sanctioning, pseudonymisation (docs/DISCOVERY.md).',
  required: ['enabled', 'catalogFile', 'hourlyRetentionDays', 'dailyRetentionDays', 'flushIntervalMs', 'flushMaxRecords', 'maxIpsPerRollup', 'defaultSanction', 'highRiskCountries', 'pseudonymizeUsers', 'pseudonymKeyFile', 'reportMaxPageSize'],
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Name the cloud app of every Network Activity event and keep rollups.' },
    catalogFile: { type: 'string', default: '', description: 'App catalog (JSON, docs/DISCOVERY.md). Empty: the shipped config/catalog/apps.json. Reloaded by POST /v1/discovery/catalog/reload and the catalog.reload job.' },
    hourlyRetentionDays: { type: 'integer', minimum: 1, maximum: 366, default: 14, description: 'Hourly rollups older than this are deleted by the retention job.' },
    dailyRetentionDays: { type: 'integer', minimum: 1, maximum: 3660, default: 400, description: 'Daily rollups older than this are deleted by the retention job.' },
    flushIntervalMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 5000, description: 'Longest time a rollup change waits in memory before it is written to LMDB.' },
    flushMaxRecords: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10000, description: 'Pending rollup rows that trigger a write before the interval.' },
    maxIpsPerRollup: { type: 'integer', minimum: 1, maximum: 4096, default: 32, description: 'Client addresses remembered per rollup row (the IPs count of reports is a lower bound beyond it).' },
    defaultSanction: { type: 'string', enum: [...SANCTION_STATES], default: 'monitored', description: 'Sanction state of apps the administrator has not classified.' },
    highRiskCountries: { type: 'array', items: { type: 'string', pattern: '^[A-Z]{2}$' }, uniqueItems: true, default: [], description: 'ISO 3166-1 alpha-2 codes: a vendor headquartered there gets the full hqCountry risk (docs/DISCOVERY.md, risk formula).' },
    pseudonymizeUsers: { type: 'boolean', default: false, description: 'Replace user names by keyed-HMAC pseudonyms in rollups and forwarded events; reversible only by the audited POST /v1/discovery/users/reveal.' },
    pseudonymKeyFile: { type: 'string', default: '', description: 'HMAC key file (32 random bytes, created mode 0600 when absent). Empty: <dataDir>/discovery/pseudonym.key.' },
    reportMaxPageSize: { type: 'integer', minimum: 10, maximum: 10_000, default: 500, description: 'Largest `limit` a report request may ask for.' },
  },
} as const;

export const discoveryConfigSection: ConfigSection<DiscoveryConfig> = {
  key: 'discovery',
  schema: discoveryConfigSchema as unknown as JSONSchemaType<DiscoveryConfig>,
};
