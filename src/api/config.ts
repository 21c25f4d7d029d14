/**
 * The `api` section of the configuration: its type and JSON-schema fragment, composed into the
 * full schema by src/config/schema.ts.
 */
import type { ConfigSection } from '../area.js';

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
  firstRunAccess: boolean;
}

export const apiConfigSection: ConfigSection<ApiConfig> = {
  key: 'api',
  schema: {
    type: 'object',
    additionalProperties: false,
    default: {} as ApiConfig,
    description: 'Local HTTP API.',
    required: ['host', 'port', 'tokens', 'tls', 'rateLimitPerMinute', 'firstRunAccess'],
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
      firstRunAccess: {
        type: 'boolean',
        default: false,
        description: 'First-run access: the daemon keeps its own admin token, only hashed, in `<dataDir>/api-admin-token.json` (mode 0600), created on the first start, which then prints a login URL for the console once on stderr (under systemd: in the journal, `journalctl -u outpost | grep -A2 "Open the console"`). Later starts print nothing; to get a new URL, stop the daemon, delete that file and start again. Works alongside `tokens`. With no configuration file at all, `outpost run` acts as if true. Restart required.',
      },
    },
  },
};
