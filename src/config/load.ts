/**
 * Loading: read YAML → merge onto the embedded defaults → validate with the schema.
 *
 * Synchronous on purpose: it runs once at startup before anything else exists, and a sync API lets
 * the CLI and tests call it without ceremony.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { OutpostError } from '../errors.js';
import { defaultConfig } from './defaults.js';
import { configSchema, type OutpostConfig } from './schema.js';

/** One validation failure, as carried in `OutpostError.details.problems` for CONFIG_INVALID. */
export interface ConfigProblem {
  /** JSON pointer to the failing setting, e.g. "/flows/maxFlows" ("" is the whole document). */
  path: string;
  /** The JSON Schema keyword that failed: minimum, type, enum, additionalProperties, ... */
  rule: string;
  /** Human-readable rule, e.g. "must be >= 1024". */
  message: string;
}

// ajv and yaml (CommonJS, 138 files with ajv's dependencies) are required when a file is
// read or validated, not when this module is imported: `outpost replay` without --config uses the
// embedded defaults and needs neither. require() keeps loadConfig synchronous.
const require = createRequire(import.meta.url);

/** Shown in messages when there is no file (defaults only, or an object passed in directly). */
const NO_FILE = '<defaults>';

let validator: ValidateFunction<OutpostConfig> | undefined;

function getValidator(): ValidateFunction<OutpostConfig> {
  // Compiled lazily and once: compiling costs milliseconds, and importing this module (e.g. only
  // for the types) should not pay for it.
  if (!validator) {
    const { Ajv } = require('ajv') as typeof import('ajv');
    const ajv = new Ajv({
      allErrors: true, // report every problem in one go instead of one per restart
      useDefaults: true,
      verbose: true, // errors carry parentSchema, used for "did you mean" on unknown keys
      strict: true, // also checks our own schema for mistakes (unknown keywords etc.)
    });
    validator = ajv.compile<OutpostConfig>(configSchema);
  }
  return validator;
}

/**
 * Load the configuration. Without a path, returns the embedded defaults: the daemon runs with no
 * config file. Throws OutpostError CONFIG_FILE_NOT_FOUND, CONFIG_FILE_UNREADABLE,
 * CONFIG_PARSE_FAILED or CONFIG_INVALID.
 */
export function loadConfig(path?: string): OutpostConfig {
  // The embedded defaults need no validation here: schema.test.ts proves them complete, valid and
  // equal to what the validator would produce, and compiling the validator is most of a replay's
  // start-up (about 0.1 s), which every `outpost replay` without --config would pay.
  if (path === undefined) return defaultConfig();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new OutpostError('CONFIG_FILE_NOT_FOUND', { path }, { details: { path }, cause: err });
    }
    const reason = code ?? (err as Error).message;
    throw new OutpostError('CONFIG_FILE_UNREADABLE', { path, reason }, { details: { path, reason }, cause: err });
  }
  return resolveConfig(parseConfigText(text, path), path);
}

/**
 * Parse YAML text into plain data. An empty document (or one with only comments) yields `{}`.
 * Throws OutpostError CONFIG_PARSE_FAILED with line/column in `details`.
 */
export function parseConfigText(text: string, source = NO_FILE): unknown {
  // prettyErrors (the default) puts line, column and a code excerpt into each message.
  // Duplicate keys are errors by default (uniqueKeys), which we want: the last one winning
  // silently is a classic config bug.
  const { parseDocument } = require('yaml') as typeof import('yaml');
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => ({
      message: e.message,
      line: e.linePos?.[0].line,
      column: e.linePos?.[0].col,
    }));
    const reason = doc.errors.map((e) => e.message).join('\n');
    throw new OutpostError('CONFIG_PARSE_FAILED', { source, reason }, { details: { source, errors } });
  }
  const data: unknown = doc.toJS();
  return data ?? {};
}

/**
 * Merge `input` onto the defaults and validate. For configs that do not come from a file
 * (tests, programmatic use). Throws OutpostError CONFIG_INVALID.
 */
export function resolveConfig(input: unknown, source = NO_FILE): OutpostConfig {
  const merged = mergeOntoDefaults(defaultConfig(), input);
  const validate = getValidator();
  if (validate(merged)) return merged;
  const problems = (validate.errors ?? []).map(toProblem);
  const text = problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n');
  throw new OutpostError('CONFIG_INVALID', { source, problems: text }, { details: { source, problems } });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep merge of user values onto defaults. Objects merge key by key; arrays and scalars replace.
 * `null` means "use the default": in YAML, a section whose settings are all commented out
 * (`flows:` followed only by comments) parses as null, and that must not be an error.
 * Keys absent from the defaults are copied as-is so validation reports them as unknown.
 */
export function mergeOntoDefaults(defaults: unknown, user: unknown): unknown {
  if (user === null || user === undefined) return defaults;
  if (!isPlainObject(defaults) || !isPlainObject(user)) return user;
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(user)) {
    // defineProperty, not assignment: a YAML key "__proto__" must stay a plain (and, being
    // unknown, rejected) key instead of replacing the object's prototype.
    Object.defineProperty(out, key, {
      value: mergeOntoDefaults(Object.hasOwn(defaults, key) ? defaults[key] : undefined, value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describeValue(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Turn an ajv error into "pointer + rule", phrased for someone editing a YAML file. */
function toProblem(e: ErrorObject): ConfigProblem {
  if (e.keyword === 'additionalProperties') {
    const key = String((e.params as { additionalProperty: string }).additionalProperty);
    const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const guess = closest(key, known);
    return {
      path: `${e.instancePath}/${escapePointerToken(key)}`,
      rule: e.keyword,
      message: `unknown setting${guess ? ` (did you mean "${guess}"?)` : ''}`,
    };
  }
  if (e.keyword === 'required') {
    const key = String((e.params as { missingProperty: string }).missingProperty);
    return { path: `${e.instancePath}/${escapePointerToken(key)}`, rule: e.keyword, message: 'is required' };
  }
  // ajv says only "must NOT be valid" for `not`: a schema that forbids a shape says why in its
  // `$comment` (e.g. capture.interfaces: "auto" alone).
  const comment = e.keyword === 'not' ? (e.schema as { $comment?: unknown } | undefined)?.$comment : undefined;
  let message = typeof comment === 'string' ? comment : (e.message ?? e.keyword);
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
    message += `: ${allowed.map((a) => String(a)).join(', ')}`;
  }
  return { path: e.instancePath, rule: e.keyword, message: `${message} (got ${describeValue(e.data)})` };
}

/**
 * Closest known key, for typos ("maxflow" → "maxFlows") and names missing their unit suffix
 * ("snaplen" → "snaplenBytes"); none if nothing is reasonably close.
 */
function closest(key: string, candidates: string[]): string | undefined {
  const lower = key.toLowerCase();
  const prefixed = candidates.find((c) => lower.length >= 3 && c.toLowerCase().startsWith(lower));
  if (prefixed) return prefixed;
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === key.toLowerCase() ? 0 : levenshtein(key.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return bestDist <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
