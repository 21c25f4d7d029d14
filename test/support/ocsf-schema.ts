/**
 * OCSF event-schema validator.
 *
 * Reads an OCSF schema *source* tree (the layout of github.com/ocsf/ocsf-schema:
 * dictionary.json, categories.json, events/**, objects/*, profiles/*) and turns
 * each concrete event class into a JSON Schema that ajv compiles. The point is
 * to catch our own mapping mistakes early, so the generated schema is strict:
 * unknown attributes are errors everywhere except in free-form fields
 * (`unmapped`, `xattributes`, json_t attributes).
 *
 * Semantics chosen (see docs/OCSF.md for the rationale):
 * - Profiles are driven by the event's `metadata.profiles`. Attributes that a
 *   profile contributes (via `$include` of profiles/*.json, or an explicit
 *   `"profile": "x"` on an attribute) are only allowed — and their `required`
 *   only enforced — when that profile is declared. Enabling every profile a
 *   class lists is not workable: base_event lists `cloud` and `osint`, whose
 *   `cloud`/`osint` attributes are *required*, so every event would need them.
 * - `datetime` has no attributes of its own; like the OCSF server, enabling it
 *   adds an `<attr>_dt` (RFC 3339 string) sibling for every timestamp_t attribute.
 * - Integer enums (activity_id, severity_id, type_id, ...) are closed: the
 *   value must be one of the merged enum keys (dictionary ∪ parents ∪ class).
 *   String enums (http_method, tlp, cvss depth) are left open because OCSF
 *   uses them as suggested values.
 * - `@deprecated` attributes stay valid (they are still part of 1.8.0).
 * - Constraints `at_least_one` / `just_one` are enforced.
 * - Extensions (extensions/*) are not loaded.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

type JsonSchema = { [k: string]: unknown };

/** One attribute as written in a class/object/profile/dictionary file. */
interface RawAttr {
  type?: string;
  is_array?: boolean;
  requirement?: string;
  enum?: Record<string, unknown>;
  /** Profile that contributes the attribute; `null` explicitly detaches it. */
  profile?: string | null;
  observable?: number;
  [k: string]: unknown;
}

interface RawEntity {
  name: string;
  caption?: string;
  extends?: string;
  uid?: number;
  category?: string;
  observable?: number;
  profiles?: string[];
  constraints?: { at_least_one?: string[]; just_one?: string[] };
  attributes?: Record<string, unknown>;
}

interface RawType {
  type?: string;
  regex?: string;
  max_len?: number;
  range?: [number, number];
  observable?: number;
}

/** Attribute after `extends`/`$include`/dictionary merging. */
interface ResolvedAttr extends RawAttr {
  name: string;
}

interface ResolvedEntity {
  name: string;
  attributes: Map<string, ResolvedAttr>;
  constraints: { at_least_one?: string[]; just_one?: string[] };
  /** Profiles named by the entity or its ancestors (documentation only). */
  profiles: string[];
}

export interface OcsfClassInfo {
  name: string;
  caption: string;
  classUid: number;
  categoryUid: number;
  categoryName: string;
}

/** Root (built-in) OCSF types every named type eventually reduces to. */
const ROOT_TYPES = new Set(['string_t', 'integer_t', 'long_t', 'float_t', 'boolean_t', 'json_t']);

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep merge as done by the OCSF compiler: child wins on scalars, nested
 * records (notably `enum`) are unioned. `null` in the child is kept, because
 * `"profile": null` means "no longer bound to a profile" (e.g. inventory_info.device).
 */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isRecord(prev) && isRecord(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function listJsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...listJsonFiles(p));
    else if (e.endsWith('.json')) out.push(p);
  }
  return out;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

export class OcsfSchema {
  readonly version: string;
  /** Non-fatal oddities found while building (e.g. attribute not in dictionary). */
  readonly warnings: string[] = [];
  readonly classes: ReadonlyMap<number, OcsfClassInfo>;
  readonly profileNames: readonly string[];

  private readonly dir: string;
  private readonly dict: Record<string, RawAttr>;
  private readonly types: Record<string, RawType>;
  private readonly objects = new Map<string, RawEntity>();
  private readonly events = new Map<string, RawEntity>();
  private readonly classByUid = new Map<number, string>();
  private readonly resolvedCache = new Map<string, ResolvedEntity>();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly observableTypeIds: number[];
  private readonly ajv: Ajv;

  constructor(dir: string) {
    this.dir = resolve(dir);
    const version = readJson(join(this.dir, 'version.json'));
    this.version = isRecord(version) && typeof version['version'] === 'string' ? version['version'] : 'unknown';

    const dictionary = readJson(join(this.dir, 'dictionary.json')) as {
      attributes: Record<string, RawAttr>;
      types: { attributes: Record<string, RawType> };
    };
    this.dict = dictionary.attributes;
    this.types = dictionary.types.attributes;

    for (const f of listJsonFiles(join(this.dir, 'objects'))) {
      const o = readJson(f) as RawEntity;
      this.objects.set(o.name, o);
    }
    for (const f of listJsonFiles(join(this.dir, 'events'))) {
      const o = readJson(f) as RawEntity;
      this.events.set(o.name, o);
    }
    this.profileNames = readdirSync(join(this.dir, 'profiles'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => (readJson(join(this.dir, 'profiles', f)) as RawEntity).name)
      .sort();

    const categories = (readJson(join(this.dir, 'categories.json')) as {
      attributes: Record<string, { uid: number }>;
    }).attributes;
    const classes = new Map<number, OcsfClassInfo>();
    for (const [name, ev] of this.events) {
      // Only classes with a uid are concrete; `network`, `discovery` are abstract.
      // base_event is concrete with class_uid 0 / category_uid 0.
      if (ev.uid === undefined && name !== 'base_event') continue;
      const catName = this.inheritedCategory(ev);
      const catUid = catName === undefined ? 0 : (categories[catName]?.uid ?? 0);
      const classUid = name === 'base_event' ? 0 : catUid * 1000 + (ev.uid ?? 0);
      classes.set(classUid, {
        name,
        caption: ev.caption ?? name,
        classUid,
        categoryUid: catUid,
        categoryName: catName ?? 'other',
      });
      this.classByUid.set(classUid, name);
    }
    this.classes = classes;
    this.observableTypeIds = this.collectObservableTypeIds();

    this.ajv = new Ajv({ strict: false, allErrors: true });
    // ip_t: node's parser is more trustworthy than the schema's 1.5 kB regex.
    this.ajv.addFormat('ocsf-ip', { type: 'string', validate: (s: string) => isIP(s) !== 0 });
    this.ajv.addKeyword({
      keyword: 'ocsfAtLeastOne',
      type: 'object',
      schemaType: 'array',
      errors: true,
      validate: atLeastOne,
    });
    this.ajv.addKeyword({
      keyword: 'ocsfJustOne',
      type: 'object',
      schemaType: 'array',
      errors: true,
      validate: justOne,
    });
  }

  /** Validates one event; returns `path: message` strings, empty when valid. */
  validate(event: unknown): string[] {
    if (!isRecord(event)) return ['/: must be object'];
    const classUid = event['class_uid'];
    if (typeof classUid !== 'number' || !this.classByUid.has(classUid)) {
      const known = [...this.classByUid.keys()].sort((a, b) => a - b).join(', ');
      return [`/class_uid: must be a known OCSF ${this.version} class_uid (got ${JSON.stringify(classUid)}; known: ${known})`];
    }

    const errors: string[] = [];
    const selected = this.selectedProfiles(event, errors);
    const validator = this.validatorFor(classUid, selected);
    if (!validator(event)) {
      for (const e of validator.errors ?? []) errors.push(formatError(e));
    }

    // type_uid is derived, not enumerated in the schema: class_uid * 100 + activity_id.
    const activityId = event['activity_id'];
    const typeUid = event['type_uid'];
    if (Number.isInteger(activityId) && Number.isInteger(typeUid)) {
      const expected = classUid * 100 + (activityId as number);
      if (typeUid !== expected) {
        errors.push(`/type_uid: must equal class_uid * 100 + activity_id = ${expected} (got ${String(typeUid)})`);
      }
    }
    return [...new Set(errors)];
  }

  /**
   * The JSON Schema used for a class and a set of profiles (built and cached on
   * first use). Exposed for docs/debugging; `validate` is the normal entry.
   */
  jsonSchemaFor(classUid: number, profiles: readonly string[] = []): JsonSchema {
    const name = this.classByUid.get(classUid);
    if (name === undefined) throw new Error(`unknown class_uid ${classUid}`);
    return this.buildClassSchema(classUid, new Set(profiles));
  }

  /** Resolved attributes of a class or object (after extends/$include/dictionary). */
  attributesOf(name: string, kind: 'class' | 'object'): Map<string, ResolvedAttr> {
    return this.resolve(name, kind).attributes;
  }

  // ---------------------------------------------------------------- internals

  private inheritedCategory(ev: RawEntity): string | undefined {
    const seen = new Set<string>();
    let cur: RawEntity | undefined = ev;
    while (cur && !seen.has(cur.name)) {
      if (cur.category !== undefined) return cur.category;
      seen.add(cur.name);
      cur = cur.extends === undefined ? undefined : this.events.get(cur.extends);
    }
    return undefined;
  }

  /** Profiles from metadata.profiles that exist in profiles/; unknown names are reported. */
  private selectedProfiles(event: Record<string, unknown>, errors: string[]): string[] {
    const md = event['metadata'];
    if (!isRecord(md) || !Array.isArray(md['profiles'])) return [];
    const out = new Set<string>();
    md['profiles'].forEach((p: unknown, i: number) => {
      if (typeof p !== 'string') return; // the schema reports the type error
      if (this.profileNames.includes(p)) out.add(p);
      else errors.push(`/metadata/profiles/${i}: unknown profile "${p}" (known: ${this.profileNames.join(', ')}; extensions are not loaded)`);
    });
    return [...out].sort();
  }

  private validatorFor(classUid: number, profiles: string[]): ValidateFunction {
    // Compiled once per (class, profile set); in practice a sensor emits a handful.
    const key = `${classUid}|${profiles.join(',')}`;
    let v = this.validators.get(key);
    if (!v) {
      v = this.ajv.compile(this.buildClassSchema(classUid, new Set(profiles)));
      this.validators.set(key, v);
    }
    return v;
  }

  /** Resolves `extends` chains and `$include`s; memoised per entity. */
  private resolve(name: string, kind: 'class' | 'object', stack: string[] = []): ResolvedEntity {
    const cacheKey = `${kind}:${name}`;
    const cached = this.resolvedCache.get(cacheKey);
    if (cached) return cached;
    if (stack.includes(cacheKey)) throw new Error(`OCSF: circular extends: ${[...stack, cacheKey].join(' -> ')}`);
    const raw = (kind === 'class' ? this.events : this.objects).get(name);
    if (!raw) throw new Error(`OCSF: unknown ${kind} "${name}"`);

    const parent = raw.extends === undefined ? undefined : this.resolve(raw.extends, kind, [...stack, cacheKey]);
    const merged = new Map<string, Record<string, unknown>>();
    for (const [k, v] of parent?.attributes ?? []) merged.set(k, { ...v });

    const own = raw.attributes ?? {};
    const mergeOne = (k: string, v: Record<string, unknown>): void => {
      const prev = merged.get(k);
      merged.set(k, prev ? deepMerge(prev, v) : { ...v });
    };
    // $include first, so that the entity's own definitions override included ones.
    const includes = own['$include'];
    if (Array.isArray(includes)) {
      for (const inc of includes) {
        if (typeof inc !== 'string') continue;
        const file = readJson(join(this.dir, inc)) as RawEntity;
        const isProfile = (file as { meta?: string }).meta === 'profile';
        for (const [k, v] of Object.entries(file.attributes ?? {})) {
          if (k === '$include' || !isRecord(v)) continue;
          mergeOne(k, isProfile ? { ...v, profile: file.name } : v);
        }
      }
    }
    for (const [k, v] of Object.entries(own)) {
      if (k === '$include' || !isRecord(v)) continue;
      mergeOne(k, v);
    }

    const attributes = new Map<string, ResolvedAttr>();
    for (const [k, v] of merged) {
      const d = this.dict[k];
      if (!d) this.warnings.push(`${kind} ${name}: attribute "${k}" is not in dictionary.json`);
      // Dictionary is the base definition; class/object attributes refine it.
      const full = d ? deepMerge(d as Record<string, unknown>, v) : v;
      attributes.set(k, { ...(full as RawAttr), name: k });
    }
    const constraints = { ...(parent?.constraints ?? {}), ...(raw.constraints ?? {}) };
    const profiles = [...new Set([...(parent?.profiles ?? []), ...(raw.profiles ?? [])])];
    const res: ResolvedEntity = { name, attributes, constraints, profiles };
    this.resolvedCache.set(cacheKey, res);
    return res;
  }

  /**
   * observable.type_id has only 0/99 in the files; the OCSF server generates the
   * rest from every `observable` number (types, dictionary, objects, attributes).
   */
  private collectObservableTypeIds(): number[] {
    const ids = new Set<number>([0, 99]);
    const add = (n: unknown): void => {
      if (typeof n === 'number') ids.add(n);
    };
    for (const t of Object.values(this.types)) add(t.observable);
    for (const a of Object.values(this.dict)) add(a.observable);
    for (const ent of [...this.objects.values(), ...this.events.values()]) {
      add(ent.observable);
      for (const a of Object.values(ent.attributes ?? {})) if (isRecord(a)) add(a['observable']);
    }
    return [...ids].sort((a, b) => a - b);
  }

  private buildClassSchema(classUid: number, profiles: Set<string>): JsonSchema {
    const info = this.classes.get(classUid);
    if (!info) throw new Error(`unknown class_uid ${classUid}`);
    const defs: Record<string, JsonSchema> = {};
    const pending: string[] = [];
    const refObject = (obj: string): JsonSchema => {
      if (!(obj in defs) && !pending.includes(obj)) pending.push(obj);
      return { $ref: `#/$defs/${escapePointer(obj)}` };
    };

    const root = this.entitySchema(this.resolve(info.name, 'class'), profiles, refObject, 'class');
    const props = root['properties'] as Record<string, JsonSchema>;
    props['class_uid'] = { const: info.classUid };
    props['category_uid'] = { const: info.categoryUid };

    // Each reachable object becomes one $def; self/mutual references (process.parent_process,
    // user.groups -> group ...) are plain $refs, so recursion depth is never an issue.
    while (pending.length > 0) {
      const obj = pending.shift() as string;
      if (obj in defs) continue;
      defs[obj] = {}; // placeholder, so a self-reference does not queue the object again
      defs[obj] = this.entitySchema(this.resolve(obj, 'object'), profiles, refObject, 'object');
    }
    return {
      title: `OCSF ${this.version} ${info.caption} (${info.classUid})`,
      ...root,
      $defs: defs,
    };
  }

  private entitySchema(
    ent: ResolvedEntity,
    profiles: Set<string>,
    refObject: (obj: string) => JsonSchema,
    kind: 'class' | 'object',
  ): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const attr of ent.attributes.values()) {
      if (typeof attr.profile === 'string' && !profiles.has(attr.profile)) continue;
      const s = this.attrSchema(attr, refObject, `${kind} ${ent.name}`);
      properties[attr.name] = s;
      if (attr.requirement === 'required') required.push(attr.name);
      if (profiles.has('datetime') && attr.type === 'timestamp_t') {
        const dt = `${attr.name}_dt`;
        if (!ent.attributes.has(dt)) properties[dt] = this.attrSchema({ name: dt, type: 'datetime_t' }, refObject, '');
      }
    }
    const schema: JsonSchema = { type: 'object', properties, additionalProperties: false };
    if (required.length > 0) schema['required'] = required.sort();
    const present = (names: string[] | undefined): string[] => (names ?? []).filter((n) => n in properties);
    const alo = present(ent.constraints.at_least_one);
    if (alo.length > 0) schema['ocsfAtLeastOne'] = alo;
    const jo = present(ent.constraints.just_one);
    if (jo.length > 0) schema['ocsfJustOne'] = jo;
    return schema;
  }

  private attrSchema(attr: ResolvedAttr, refObject: (obj: string) => JsonSchema, where: string): JsonSchema {
    const type = attr.type;
    let item: JsonSchema;
    let isInteger = false;
    if (type === undefined) {
      this.warnings.push(`${where}: attribute "${attr.name}" has no type; accepting any value`);
      item = {};
    } else if (type === 'object') {
      // `unmapped`, `xattributes`: free-form by design.
      item = { type: 'object' };
    } else if (this.objects.has(type)) {
      item = refObject(type);
    } else if (type in this.types) {
      const r = this.primitiveSchema(type);
      item = r.schema;
      isInteger = r.isInteger;
    } else {
      this.warnings.push(`${where}: attribute "${attr.name}" has unknown type "${type}"; accepting any value`);
      item = {};
    }

    // observable.type_id: enum generated from all observable numbers (see collectObservableTypeIds).
    if (attr.name === 'type_id' && type === 'integer_t' && where === 'object observable') {
      item = { ...item, enum: this.observableTypeIds };
    } else if (isInteger && attr.enum && Object.keys(attr.enum).length > 0) {
      const values = Object.keys(attr.enum).map(Number).filter(Number.isInteger).sort((a, b) => a - b);
      item = { ...item, enum: values };
    }
    return attr.is_array === true ? { type: 'array', items: item } : item;
  }

  /** Maps a dictionary type (walking its `type` chain) to JSON Schema. */
  private primitiveSchema(type: string): { schema: JsonSchema; isInteger: boolean } {
    const schema: JsonSchema = {};
    let cur: string | undefined = type;
    const seen = new Set<string>();
    // Most specific constraint wins, so only set a keyword if not already set.
    while (cur !== undefined && !seen.has(cur)) {
      seen.add(cur);
      const t: RawType | undefined = this.types[cur];
      if (cur === 'ip_t') schema['format'] ??= 'ocsf-ip';
      else if (t?.regex !== undefined && schema['pattern'] === undefined && regexOk(t.regex)) schema['pattern'] = t.regex;
      if (t?.max_len !== undefined) schema['maxLength'] ??= t.max_len;
      if (t?.range !== undefined) {
        schema['minimum'] ??= t.range[0];
        schema['maximum'] ??= t.range[1];
      }
      if (ROOT_TYPES.has(cur)) break;
      cur = t?.type;
    }
    switch (cur) {
      case 'string_t':
        return { schema: { type: 'string', ...schema }, isInteger: false };
      case 'integer_t':
      case 'long_t':
        return { schema: { type: 'integer', ...schema }, isInteger: true };
      case 'float_t':
        return { schema: { type: 'number', ...schema }, isInteger: false };
      case 'boolean_t':
        return { schema: { type: 'boolean' }, isInteger: false };
      case 'json_t':
      default:
        return { schema: {}, isInteger: false };
    }
  }
}

/** ajv compiles patterns with the `u` flag; skip any schema regex it would reject. */
function regexOk(re: string): boolean {
  try {
    new RegExp(re, 'u');
    return true;
  } catch {
    return false;
  }
}

type KeywordFn = ((schema: string[], data: unknown) => boolean) & { errors?: Partial<ErrorObject>[] };

const atLeastOne: KeywordFn = (names, data) => {
  if (!isRecord(data) || names.some((n) => data[n] !== undefined)) return true;
  atLeastOne.errors = [{ keyword: 'ocsfAtLeastOne', message: `must have at least one of: ${names.join(', ')}`, params: { names } }];
  return false;
};

const justOne: KeywordFn = (names, data) => {
  if (!isRecord(data)) return true;
  const n = names.filter((k) => data[k] !== undefined).length;
  if (n === 1) return true;
  justOne.errors = [{ keyword: 'ocsfJustOne', message: `must have exactly one of: ${names.join(', ')} (has ${n})`, params: { names } }];
  return false;
};

function formatError(e: ErrorObject): string {
  const path = e.instancePath === '' ? '' : e.instancePath;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path}/${escapePointer(String(p['additionalProperty']))}: unknown attribute (not in the OCSF class/object)`;
    case 'required':
      return `${path}/${escapePointer(String(p['missingProperty']))}: is required`;
    case 'enum':
      return `${path || '/'}: must be one of ${JSON.stringify(p['allowedValues'])}`;
    case 'const':
      return `${path || '/'}: must be ${JSON.stringify(p['allowedValue'])}`;
    case 'format':
      if (p['format'] === 'ocsf-ip') return `${path || '/'}: must be an IPv4 or IPv6 address`;
      return `${path || '/'}: ${e.message ?? 'invalid'}`;
    default:
      return `${path || '/'}: ${e.message ?? e.keyword}`;
  }
}

/** Loads and indexes an OCSF schema source tree. Class schemas are compiled lazily and cached. */
export function loadOcsfSchema(dir: string): OcsfSchema {
  return new OcsfSchema(dir);
}
