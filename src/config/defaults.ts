/**
 * Embedded defaults, derived from the schema so there is exactly one place a default is written.
 * The daemon must run with no config file at all, so these have to be complete and valid
 * (schema.test.ts checks both, and that ajv's own useDefaults produces the same object).
 */
import { defaultsFromSchema, type SchemaNode } from '../area.js';
import { configSchema, type OutpostConfig } from './schema.js';
import { OutpostError } from '../errors.js';

/** A fresh, complete default configuration (a new object on every call; mutate freely). */
export function defaultConfig(): OutpostConfig {
  return defaultsFromSchema(configSchema as unknown as SchemaNode) as OutpostConfig;
}
