/**
 * Embedded defaults, derived from the schema so there is exactly one place a default is written.
 * The daemon must run with no config file at all, so these have to be complete and valid
 * (schema.test.ts checks both, and that ajv's own useDefaults produces the same object).
 */
import { configSchema, type OutpostConfig } from './schema.js';
import { OutpostError } from '../errors.js';

/** The subset of JSON Schema the walker needs; the real schema has more keywords. */
interface SchemaNode {
  type?: unknown;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

/**
 * Object nodes with `properties` are built from their children (their own `default: {}` only
 * exists to make ajv descend); every other node contributes its `default`.
 */
export function defaultsFromSchema(node: SchemaNode): unknown {
  if (node.type === 'object' && node.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node.properties)) out[key] = defaultsFromSchema(child);
    return out;
  }
  if (!('default' in node)) throw new OutpostError('INTERNAL', { reason: 'schema node without a default' });
  // Clone so callers can never mutate the schema's default arrays/objects.
  return structuredClone(node.default);
}

/** A fresh, complete default configuration (a new object on every call; mutate freely). */
export function defaultConfig(): OutpostConfig {
  return defaultsFromSchema(configSchema as unknown as SchemaNode) as OutpostConfig;
}
