/**
 * The `events` section of the configuration: which OCSF event classes the daemon emits and where
 * besides the forwarding outbox. Composed into the full schema by src/config/schema.ts.
 */
import type { JSONSchemaType } from 'ajv';
import type { ConfigSection } from '../area.js';

/** Event classes the daemon emits (Network Activity always). */
export const EVENT_KIND_NAMES = ['network', 'dns', 'http', 'dhcp', 'inventory', 'auth'] as const;
export type EventKindName = (typeof EVENT_KIND_NAMES)[number];

export interface EventsConfig {
  emit: EventKindName[];
  stdout: boolean;
}

export const eventsConfigSection: ConfigSection<EventsConfig> = {
  key: 'events',
  schema: {
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
        default: ['network', 'dns', 'http', 'dhcp', 'inventory', 'auth'],
        description: 'Event kinds: network (Network Activity 4001), dns (DNS Activity 4003), http (HTTP Activity 4002), dhcp (DHCP Activity 4004), inventory (Device Inventory Info 5001), auth (Authentication 3002: Kerberos, NTLM and RADIUS logons seen on the wire).',
      },
      stdout: {
        type: 'boolean',
        default: true,
        description: 'Also write every event as one JSON line on standard output (the systemd unit appends it to a file).',
      },
    },
  } as unknown as JSONSchemaType<EventsConfig>,
};
