// Public entry point of the config module; import from here rather than the individual files.
export { configSchema, LOG_LEVELS, API_ROLES } from './schema.js';
export type { OutpostConfig, CaptureConfig, FlowsConfig, FlowIdleTimeoutsMs, ApiConfig, ApiRole, ApiTokenConfig, ApiTlsConfig, LogLevel } from './schema.js';
export { defaultConfig } from './defaults.js';
export { loadConfig, parseConfigText, resolveConfig, type ConfigProblem } from './load.js';
