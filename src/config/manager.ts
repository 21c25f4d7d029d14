/**
 * The running configuration and its changes: API PUT/PATCH, SIGHUP and POST /v1/config/reload.
 *
 * A change is validated first (same schema and messages as at start, then the checks areas add
 * with addCheck: what the next start would refuse, what would lock administrators out), then written atomically
 * (temporary file in the same directory, fsync, rename, fsync of the directory), and only then
 * swapped in memory and handed to the listeners that apply it live. A change that fails at any
 * step before the rename changes nothing, neither the file nor the running configuration.
 *
 * The file keeps only what the user set (the "raw" document); defaults are merged at load, so a
 * PATCH with `null` for a setting resets it to its default. Comments in the file are not kept
 * when the API rewrites it.
 *
 * Settings that cannot change while running (capture interfaces, flow table sizing, API address)
 * are written to the file and reported in `restartRequired` until the daemon is restarted.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { stringify } from 'yaml';
import { OutpostError, isOutpostError } from '../errors.js';
import { parseConfigText, resolveConfig, type ConfigProblem } from './load.js';
import type { OutpostConfig } from './schema.js';

/** Settings (dotted paths, or a section prefix) that the daemon applies without a restart. */
export const LIVE_SETTINGS: readonly string[] = ['logLevel', 'capture.statsIntervalMs', 'api.tokens', 'api.rateLimitPerMinute'];

export function isLiveSetting(path: string): boolean {
  return LIVE_SETTINGS.some((p) => path === p || path.startsWith(`${p}.`));
}

export interface ConfigChange {
  path: string;
  from: unknown;
  to: unknown;
}

/** Who made a change: a token's name and role, or the signal/job that reloaded the file. */
export interface Actor {
  kind: 'token' | 'anonymous' | 'signal' | 'api' | 'system';
  name: string;
  role?: string;
  address?: string;
}

export interface AuditRecord {
  time: string;
  actor: Actor;
  action: 'replace' | 'patch' | 'reload';
  revision: string;
  previousRevision: string;
  changes: ConfigChange[];
  applied: string[];
  restartRequired: string[];
}

export interface ConfigView {
  config: OutpostConfig;
  /** SHA-256 (first 16 hex digits) of the raw document; send as If-Match to detect races. */
  revision: string;
  source: string | null;
  /** Settings changed on file whose new value needs a restart, with the running value. */
  restartRequired: string[];
}

export type ConfigListener = (next: OutpostConfig, prev: OutpostConfig, changes: ConfigChange[]) => void;

/**
 * What a check (addCheck) finds in a change before it is written: problems that refuse it
 * (CONFIG_CHANGE_REFUSED, 400), and reductions of access that an API change must confirm
 * (CONFIG_CONFIRMATION_REQUIRED, 400, unless sent with `confirm=reduce-access`).
 */
export interface CheckResult { problems?: ConfigProblem[]; reducesAccess?: string[] }
/**
 * A check of a validated configuration: what the next start would refuse (unreadable TLS files,
 * an insecure bind), or what would lock administrators out. May also throw an OutpostError,
 * taken as one problem. `action` is 'reload' for SIGHUP / POST /v1/config/reload.
 */
export type ConfigCheck = (next: OutpostConfig, prev: OutpostConfig, action: AuditRecord['action']) => CheckResult | void;

/** Options of an API change. */
export interface ChangeOptions {
  /** The administrator confirmed that the change reduces access (removes or demotes tokens ...). */
  confirmReduceAccess?: boolean;
}

/** Deepest nesting (objects and arrays) a configuration document may have; far above the schema's own. */
export const MAX_CONFIG_DEPTH = 32;

/** True when `v` nests deeper than `max` (iterative: a hostile document cannot overflow the stack here). */
export function nestsDeeperThan(v: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (depth >= max) return true;
    for (const c of Object.values(x)) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
  }
  return false;
}
export type AuditListener = (record: AuditRecord) => void;

const SECRET_PATHS = /^api\.tokens/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaf-level differences between two configs (arrays compare as one value). */
export function diffConfig(a: unknown, b: unknown, prefix = ''): ConfigChange[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].sort().flatMap((k) => diffConfig(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path: prefix, from: a, to: b }];
}

/** RFC 7396 JSON merge patch: objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else Object.defineProperty(out, k, { value: mergePatch(out[k], v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function revisionOf(raw: unknown): string {
  return createHash('sha256').update(JSON.stringify(raw)).digest('hex').slice(0, 16);
}

/** Token hashes are not secrets, but there is no reason to spread them: audits show names only. */
function redactChange(c: ConfigChange): ConfigChange {
  if (!SECRET_PATHS.test(c.path)) return c;
  const names = (v: unknown) => (Array.isArray(v) ? v.map((t) => `${(t as { name?: string }).name}:${(t as { role?: string }).role}`) : v);
  return { path: c.path, from: names(c.from), to: names(c.to) };
}

/** Write `text` to `path` so that readers see the old or the new file, never a mix. */
export function writeFileAtomic(path: string, text: string): void {
  let mode = 0o600;
  try { mode = statSync(path).mode & 0o777; } catch { /* new file */ }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* not created */ }
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new OutpostError('CONFIG_WRITE_FAILED', { path, reason }, { details: { path, reason }, cause: err });
  }
  // The rename is durable only once the directory entry is.
  try {
    const dfd = openSync(dirname(path), 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems refuse fsync on directories */ }
}

export class ConfigManager {
  readonly path: string | null;
  /** The configuration the process started with: what restart-only settings still run on. */
  readonly running: OutpostConfig;
  #raw: unknown;
  #current: OutpostConfig;
  #revision: string;
  readonly #listeners: ConfigListener[] = [];
  readonly #auditListeners: AuditListener[] = [];
  readonly #checks: ConfigCheck[] = [];
  readonly #audit: AuditRecord[] = [];
  readonly #auditLimit: number;
  /** Serialises changes: each one validates against the state the previous one left. */
  #busy = false;

  constructor(initial: OutpostConfig, path?: string | null, options: { auditLimit?: number } = {}) {
    this.path = path ?? null;
    this.running = structuredClone(initial);
    this.#current = structuredClone(initial);
    this.#raw = this.path === null ? {} : parseConfigText(readFileSync(this.path, 'utf8'), this.path);
    this.#revision = revisionOf(this.#raw);
    this.#auditLimit = options.auditLimit ?? 200;
  }

  get current(): OutpostConfig {
    return this.#current;
  }

  get revision(): string {
    return this.#revision;
  }

  view(): ConfigView {
    return {
      config: structuredClone(this.#current),
      revision: this.#revision,
      source: this.path,
      restartRequired: this.restartRequired(),
    };
  }

  restartRequired(): string[] {
    return diffConfig(this.running, this.#current).map((c) => c.path).filter((p) => !isLiveSetting(p));
  }

  /** Called after every applied change with the new and previous configuration. */
  onChange(fn: ConfigListener): void {
    this.#listeners.push(fn);
  }

  /** Adds a check every change (API and reload) must pass before it is written (see ConfigCheck). */
  addCheck(fn: ConfigCheck): void {
    this.#checks.push(fn);
  }

  onAudit(fn: AuditListener): void {
    this.#auditListeners.push(fn);
  }

  auditLog(): AuditRecord[] {
    return [...this.#audit];
  }

  /**
   * PUT: each top-level section of the document replaces that section of the file; sections left
   * out keep their current values (a document that forgets `api` must not drop every token), and
   * `null` resets a section to its defaults.
   */
  replace(doc: unknown, actor: Actor, ifMatch?: string, options: ChangeOptions = {}): AuditRecord {
    refuseDeep(doc);
    return this.#change('replace', (raw) => replaceSections(raw, doc), actor, ifMatch, true, options);
  }

  /** PATCH: RFC 7396 merge patch onto the file's document (null resets a setting to its default). */
  patch(patch: unknown, actor: Actor, ifMatch?: string, options: ChangeOptions = {}): AuditRecord {
    refuseDeep(patch);
    return this.#change('patch', (raw) => mergePatch(raw, patch), actor, ifMatch, true, options);
  }

  /** SIGHUP / POST /v1/config/reload: read the file again; invalid → nothing changes. */
  reload(actor: Actor): AuditRecord {
    if (this.path === null) throw new OutpostError('CONFIG_NO_FILE');
    const path = this.path;
    let raw: unknown;
    try {
      raw = parseConfigText(readFileSync(path, 'utf8'), path);
    } catch (err) {
      if (isOutpostError(err)) throw err;
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new OutpostError('CONFIG_FILE_UNREADABLE', { path, reason }, { details: { path, reason }, cause: err });
    }
    refuseDeep(raw);
    return this.#change('reload', () => raw, actor, undefined, false);
  }

  #change(action: AuditRecord['action'], build: (raw: unknown) => unknown, actor: Actor, ifMatch: string | undefined, write = true, options: ChangeOptions = {}): AuditRecord {
    if (write && this.path === null) throw new OutpostError('CONFIG_NO_FILE');

    if (ifMatch !== undefined && ifMatch !== this.#revision) {
      throw new OutpostError('CONFIG_CONFLICT', { expected: ifMatch, actual: this.#revision }, { details: { expected: ifMatch, actual: this.#revision } });
    }
    if (this.#busy) throw new OutpostError('CONFIG_CONFLICT', { expected: this.#revision, actual: 'a change in progress' });
    this.#busy = true;
    try {
      const raw = build(structuredClone(this.#raw));
      if (!isPlainObject(raw)) {
        const problems: ConfigProblem[] = [{ path: '', rule: 'type', message: 'must be an object (a YAML mapping)' }];
        throw new OutpostError('CONFIG_REJECTED', { problems: '  /: must be an object' }, { details: { problems } });
      }
      let next: OutpostConfig;
      try {
        next = resolveConfig(structuredClone(raw), this.path ?? undefined);
      } catch (err) {
        if (isOutpostError(err, 'CONFIG_INVALID')) {
          const problems = (err as OutpostError).details?.problems as ConfigProblem[];
          const text = problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n');
          throw new OutpostError('CONFIG_REJECTED', { problems: text }, { details: { problems }, cause: err });
        }
        throw err;
      }
      this.#runChecks(next, action, options);
      if (write && this.path !== null) writeFileAtomic(this.path, stringify(raw));
      const prev = this.#current;
      const previousRevision = this.#revision;
      const changes = diffConfig(prev, next);
      this.#raw = raw;
      this.#current = next;
      this.#revision = revisionOf(raw);
      // The file is written: a failing listener must not make the change look refused.
      for (const fn of this.#listeners) { try { fn(next, prev, changes); } catch { /* the listener logs its own failures */ } }
      const record: AuditRecord = {
        time: new Date().toISOString(),
        actor,
        action,
        revision: this.#revision,
        previousRevision,
        changes: changes.map(redactChange),
        applied: changes.map((c) => c.path).filter(isLiveSetting),
        restartRequired: changes.map((c) => c.path).filter((p) => !isLiveSetting(p)),
      };
      this.#audit.push(record);
      if (this.#audit.length > this.#auditLimit) this.#audit.shift();
      for (const fn of this.#auditListeners) { try { fn(record); } catch { /* idem */ } }
      return record;
    } finally {
      this.#busy = false;
    }
  }

  /** Runs every check on a validated configuration; throws when one refuses it or it reduces access unconfirmed. */
  #runChecks(next: OutpostConfig, action: AuditRecord['action'], options: ChangeOptions): void {
    const problems: ConfigProblem[] = [];
    const reductions: string[] = [];
    for (const check of this.#checks) {
      try {
        const r = check(next, this.#current, action);
        if (r?.problems) problems.push(...r.problems);
        if (r?.reducesAccess) reductions.push(...r.reducesAccess);
      } catch (err) {
        if (!isOutpostError(err)) throw err;
        problems.push({ path: '', rule: (err as OutpostError).code, message: (err as OutpostError).message });
      }
    }
    if (problems.length > 0) {
      const text = problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n');
      throw new OutpostError('CONFIG_CHANGE_REFUSED', { problems: text }, { details: { problems } });
    }
    // A file edited by hand (reload) is the administrator's own recovery path: no confirmation.
    if (reductions.length > 0 && action !== 'reload' && options.confirmReduceAccess !== true) {
      throw new OutpostError('CONFIG_CONFIRMATION_REQUIRED', { reductions: reductions.join('; ') }, { details: { reductions } });
    }
  }
}

/** PUT semantics (ConfigManager.replace): top-level sections replace, absent ones stay, null resets. */
function replaceSections(raw: unknown, doc: unknown): unknown {
  if (!isPlainObject(doc)) return doc;
  const out: Record<string, unknown> = isPlainObject(raw) ? { ...raw } : {};
  for (const [k, v] of Object.entries(doc)) {
    if (v === null) delete out[k];
    else Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function refuseDeep(doc: unknown): void {
  if (nestsDeeperThan(doc, MAX_CONFIG_DEPTH)) {
    const problems: ConfigProblem[] = [{ path: '', rule: 'depth', message: `nests deeper than ${MAX_CONFIG_DEPTH} levels` }];
    throw new OutpostError('CONFIG_REJECTED', { problems: `  /: nests deeper than ${MAX_CONFIG_DEPTH} levels` }, { details: { problems } });
  }
}
