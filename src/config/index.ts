// Public entry point of the config module; import from here rather than the individual files.
export { configSchema, LOG_LEVELS } from './schema.js';
export type { OutpostConfig, CaptureConfig, FlowsConfig, FlowIdleTimeoutsMs, ApiConfig, LogLevel } from './schema.js';
export { defaultConfig } from './defaults.js';
export { loadConfig, parseConfigText, resolveConfig, type ConfigProblem } from './load.js';
