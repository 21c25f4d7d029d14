/**
 * The configuration schema, composed from the sections the areas own (each area's config.ts: the
 * single source of truth for its settings, their limits, descriptions and defaults) plus the few
 * process-wide settings below. `defaults.ts` derives the embedded defaults from it, `tools/config-docs.ts`
 * renders docs/CONFIG.md and config/outpost.example.yaml from it, and `load.ts` validates with it.
 *
 * The composition sits above every area it composes (docs/ARCHITECTURE.md): an area imports
 * its own config.ts, never this file; the daemon hands each area its slice.
 *
 * Units are in the setting names (…Ms, …Bytes) so a YAML file reads unambiguously without docs.
 *
 * Every object node has `additionalProperties: false` (a typo must fail loudly, not be ignored) and
 * `default: {}` (so ajv's useDefaults fills a missing section, then that section's own defaults).
 * Those `{}` are cast to the section type: they are only complete once ajv has filled them.
 */
import type { JSONSchemaType } from 'ajv';
import { LOG_LEVELS, type LogLevel } from '../telemetry/levels.js';
import { captureConfigSection, type CaptureConfig } from '../capture/config.js';
import { flowsConfigSection, type FlowsConfig } from '../flows/config.js';
import { apiConfigSection, type ApiConfig } from '../api/config.js';
import { eventsConfigSection, type EventsConfig } from '../events/config.js';
import { forwardConfigSection, type ForwardConfig } from '../forward/config.js';
import { devicesConfigSection, type DevicesConfig } from '../devices/config.js';
import { discoveryConfigSection, type DiscoveryConfig } from '../discovery/config.js';
import { controlConfigSection, type ControlConfig } from '../control/config.js';

export { LOG_LEVELS, type LogLevel };
export { EVENT_KIND_NAMES, type EventKindName, type EventsConfig } from '../events/config.js';
export type { CaptureConfig } from '../capture/config.js';
export type { FlowsConfig, FlowIdleTimeoutsMs } from '../flows/config.js';
export { API_ROLES, type ApiConfig, type ApiRole, type ApiTokenConfig, type ApiTlsConfig } from '../api/config.js';

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
  control: ControlConfig;
}

export const configSchema: JSONSchemaType<OutpostConfig> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Outpost configuration',
  description: 'Configuration of the Outpost network sensor. Every setting is optional; the defaults shown apply when a setting (or the whole file) is absent.',
  type: 'object',
  additionalProperties: false,
  // No `default` on the root: ajv (strict) rejects it there, and the document always exists.
  required: ['dataDir', 'logLevel', 'runAsUser', 'capture', 'flows', 'api', 'events', 'forward', 'devices', 'discovery', 'control'],
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
    capture: captureConfigSection.schema,
    flows: flowsConfigSection.schema,
    api: apiConfigSection.schema,
    events: eventsConfigSection.schema,
    forward: forwardConfigSection.schema,
    devices: devicesConfigSection.schema,
    discovery: discoveryConfigSection.schema,
    control: controlConfigSection.schema,
  },
};
