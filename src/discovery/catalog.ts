/**
 * The cloud-app catalog: a versioned JSON data file (config/catalog/apps.json) plus the
 * administrator's overrides, validated, merged and scored.
 *
 * File layout (docs/DISCOVERY.md has the full description):
 *   { catalogVersion: "2025.1.0", schema: 1, taxonomy: "outpost-saas-v1",
 *     apps: [{ id, name, vendor, category, domains: [...], addressRanges?: { cidrs, source },
 *              risk?: { <attribute>: { value, source } } }],
 *     noApp?: [{ domains: [...], reason }] }
 * `noApp` suffixes name no app: under a broad provider domain an app holds (amazonaws.com), they
 * mark the customers' endpoints (elb.amazonaws.com) so the broad rule does not claim them.
 *
 * Risk attributes are filled only with a named source per attribute; an absent attribute is
 * "unknown" and counts as documented in RISK_ATTRIBUTES / riskScore (never guessed).
 */
import { readFileSync } from 'node:fs';
import { OutpostError } from '../errors.js';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { CATEGORY_IDS, TAXONOMY_ID } from './taxonomy.js';
import { normalizeHostname } from './hostname.js';

export const CATALOG_SCHEMA_VERSION = 1;

/** The shipped catalog, found relative to this module (src/discovery or dist/discovery). */
export const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../../config/catalog/apps.json', import.meta.url));

export interface RiskValue<T> { value: T; source: string }

export interface RiskAttributes {
  /** SOC 2 Type II report available from the vendor. */
  soc2Type2?: RiskValue<boolean>;
  /** ISO/IEC 27001 certification of the service. */
  iso27001?: RiskValue<boolean>;
  /** Customer data encrypted at rest. */
  encryptionAtRest?: RiskValue<boolean>;
  /** Multi-factor authentication available to users. */
  mfa?: RiskValue<boolean>;
  /** Enterprise single sign-on (SAML 2.0 or OpenID Connect). */
  sso?: RiskValue<boolean>;
  /** ISO 3166-1 alpha-2 country of the vendor's headquarters. */
  hqCountry?: RiskValue<string>;
}

export type RiskAttributeName = keyof RiskAttributes;

/**
 * Weights of the risk formula. Each attribute contributes a risk r in [0, 1]:
 *   boolean attributes: true → 0, false → 1;  hqCountry: 1 when listed in
 *   settings.discoveryHighRiskCountries, else 0;  unknown (absent) → 0.5.
 * score = round1(10 × Σ wᵢ·rᵢ / Σ wᵢ), so an app with nothing known scores 5.0.
 */
export const RISK_WEIGHTS: Readonly<Record<RiskAttributeName, number>> = Object.freeze({
  soc2Type2: 2,
  iso27001: 2,
  encryptionAtRest: 2,
  mfa: 1.5,
  sso: 1.5,
  hqCountry: 1,
});
export const UNKNOWN_ATTRIBUTE_RISK = 0.5;
const BOOLEAN_ATTRIBUTES: readonly RiskAttributeName[] = ['soc2Type2', 'iso27001', 'encryptionAtRest', 'mfa', 'sso'];
export const RISK_ATTRIBUTE_NAMES = Object.keys(RISK_WEIGHTS) as RiskAttributeName[];

export interface CatalogApp {
  id: string;
  name: string;
  vendor: string;
  category: string;
  domains: string[];
  addressRanges?: { cidrs: string[]; source: string };
  risk?: RiskAttributes;
}

/** Suffixes under which names belong to no catalog app (customers' endpoints on a provider's domain). */
export interface NoAppRule {
  domains: string[];
  /** Why these names are nobody's app (shown nowhere but the file; required so each rule is argued). */
  reason: string;
}

export interface CatalogFile {
  catalogVersion: string;
  schema: number;
  taxonomy: string;
  apps: CatalogApp[];
  noApp?: NoAppRule[];
}

/** An administrator's change to one app: a new app (all fields) or fields replacing the shipped ones. */
export interface AppOverride {
  name?: string;
  vendor?: string;
  category?: string;
  /** Replaces the app's domain list. */
  domains?: string[];
  /** Added to the app's domain list (kept when the shipped list changes). */
  addDomains?: string[];
  addressRanges?: { cidrs: string[]; source: string };
  /** Attributes set here replace the shipped ones; `null` removes one (back to unknown). */
  risk?: { [K in RiskAttributeName]?: RiskAttributes[K] | null };
}

export interface ResolvedApp extends CatalogApp {
  riskScore: number;
  /** Attributes known (with a source) out of RISK_ATTRIBUTE_NAMES. */
  riskKnown: number;
  /** 'catalog', 'override' (shipped app changed) or 'custom' (added by an administrator). */
  origin: 'catalog' | 'override' | 'custom';
}

export interface RiskSettings {
  discoveryHighRiskCountries: readonly string[];
}

export function riskScore(risk: RiskAttributes | undefined, settings: RiskSettings): { score: number; known: number } {
  let num = 0, den = 0, known = 0;
  for (const name of RISK_ATTRIBUTE_NAMES) {
    const w = RISK_WEIGHTS[name];
    const attr = risk?.[name];
    let r = UNKNOWN_ATTRIBUTE_RISK;
    if (attr !== undefined && attr !== null) {
      known++;
      if (name === 'hqCountry') r = settings.discoveryHighRiskCountries.includes(String(attr.value).toUpperCase()) ? 1 : 0;
      else r = attr.value === true ? 0 : 1;
    }
    num += w * r;
    den += w;
  }
  return { score: Math.round((100 * num) / den) / 10, known };
}

const ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
/**
 * Any app id a route may name: a catalog id, or `unclassified:<registrable domain>` (matcher.ts).
 * Routes check ids against it, so `__proto__`, `constructor` and other non-ids never reach the
 * sanction and override tables.
 */
export const APP_ID_PATTERN = '^(?:[a-z0-9][a-z0-9-]{0,63}|unclassified:[a-z0-9_][a-z0-9_.-]{0,252})$';
export const APP_ID_RE = new RegExp(APP_ID_PATTERN);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses "a.b.c.d/n" or "v6/n"; undefined when invalid. */
export function parseCidr(cidr: string): { version: 4 | 6; address: string; prefix: number } | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return undefined;
  const address = cidr.slice(0, slash);
  const prefixText = cidr.slice(slash + 1);
  const version = isIP(address);
  if (version === 0 || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (version === 4 ? 32 : 128)) return undefined;
  return { version: version as 4 | 6, address, prefix };
}

function validateRisk(risk: unknown, where: string, errors: string[], allowNull: boolean): void {
  if (!isObject(risk)) { errors.push(`${where}: must be an object`); return; }
  for (const [name, attr] of Object.entries(risk)) {
    const w = `${where}.${name}`;
    if (!(name in RISK_WEIGHTS)) { errors.push(`${w}: unknown risk attribute (known: ${RISK_ATTRIBUTE_NAMES.join(', ')})`); continue; }
    if (attr === null && allowNull) continue;
    if (!isObject(attr)) { errors.push(`${w}: must be { value, source }`); continue; }
    if (typeof attr.source !== 'string' || attr.source.trim().length < 8) errors.push(`${w}.source: a named source (URL or document) is required`);
    if (BOOLEAN_ATTRIBUTES.includes(name as RiskAttributeName)) {
      if (typeof attr.value !== 'boolean') errors.push(`${w}.value: must be a boolean`);
    } else if (typeof attr.value !== 'string' || !/^[A-Z]{2}$/.test(attr.value)) {
      errors.push(`${w}.value: must be an ISO 3166-1 alpha-2 code`);
    }
    for (const k of Object.keys(attr)) if (k !== 'value' && k !== 'source') errors.push(`${w}.${k}: unknown property`);
  }
}

function validateDomains(domains: unknown, where: string, errors: string[]): void {
  if (!Array.isArray(domains)) { errors.push(`${where}: must be an array of domain names`); return; }
  domains.forEach((d, i) => {
    if (typeof d !== 'string' || normalizeHostname(d) === undefined || d.includes('/') || d.includes(':')) errors.push(`${where}[${i}]: not a domain name: ${JSON.stringify(d)}`);
  });
}

function validateRanges(r: unknown, where: string, errors: string[]): void {
  if (!isObject(r)) { errors.push(`${where}: must be { cidrs, source }`); return; }
  if (typeof r.source !== 'string' || r.source.trim().length < 8) errors.push(`${where}.source: the vendor's published list is required`);
  if (!Array.isArray(r.cidrs)) errors.push(`${where}.cidrs: must be an array`);
  else r.cidrs.forEach((c, i) => { if (typeof c !== 'string' || parseCidr(c) === undefined) errors.push(`${where}.cidrs[${i}]: not a CIDR: ${JSON.stringify(c)}`); });
}

const APP_KEYS = new Set(['id', 'name', 'vendor', 'category', 'domains', 'addressRanges', 'risk']);

/** Every problem of a catalog document, as "path: message" strings (empty when valid). */
export function validateCatalog(doc: unknown): string[] {
  const errors: string[] = [];
  if (!isObject(doc)) return ['catalog: must be a JSON object'];
  if (typeof doc.catalogVersion !== 'string' || doc.catalogVersion.length === 0) errors.push('catalogVersion: must be a non-empty string');
  if (doc.schema !== CATALOG_SCHEMA_VERSION) errors.push(`schema: must be ${CATALOG_SCHEMA_VERSION}`);
  if (doc.taxonomy !== TAXONOMY_ID) errors.push(`taxonomy: must be ${TAXONOMY_ID}`);
  if (!Array.isArray(doc.apps)) { errors.push('apps: must be an array'); return errors; }
  const ids = new Set<string>();
  const domainOwner = new Map<string, string>();
  doc.apps.forEach((app, i) => {
    const where = `apps[${i}]`;
    if (!isObject(app)) { errors.push(`${where}: must be an object`); return; }
    const id = app.id;
    if (typeof id !== 'string' || !ID_RE.test(id)) errors.push(`${where}.id: must match ${ID_RE}`);
    else if (ids.has(id)) errors.push(`${where}.id: duplicate id ${id}`);
    else ids.add(id);
    for (const k of ['name', 'vendor'] as const) if (typeof app[k] !== 'string' || (app[k] as string).length === 0) errors.push(`${where}.${k}: must be a non-empty string`);
    if (typeof app.category !== 'string' || !CATEGORY_IDS.has(app.category)) errors.push(`${where}.category: not in taxonomy ${TAXONOMY_ID}: ${JSON.stringify(app.category)}`);
    validateDomains(app.domains, `${where}.domains`, errors);
    if (Array.isArray(app.domains)) {
      for (const d of app.domains) {
        const n = typeof d === 'string' ? normalizeHostname(d) : undefined;
        if (n === undefined) continue;
        const owner = domainOwner.get(n);
        if (owner !== undefined) errors.push(`${where}.domains: ${n} already belongs to ${owner}`);
        else domainOwner.set(n, String(id));
      }
    }
    if (app.addressRanges !== undefined) validateRanges(app.addressRanges, `${where}.addressRanges`, errors);
    if (app.risk !== undefined) validateRisk(app.risk, `${where}.risk`, errors, false);
    for (const k of Object.keys(app)) if (!APP_KEYS.has(k)) errors.push(`${where}.${k}: unknown property`);
  });
  if (doc.noApp !== undefined) {
    if (!Array.isArray(doc.noApp)) errors.push('noApp: must be an array of { domains, reason }');
    else doc.noApp.forEach((rule, i) => {
      const where = `noApp[${i}]`;
      if (!isObject(rule)) { errors.push(`${where}: must be { domains, reason }`); return; }
      if (typeof rule.reason !== 'string' || rule.reason.trim().length < 8) errors.push(`${where}.reason: say why these names are no app`);
      validateDomains(rule.domains, `${where}.domains`, errors);
      if (Array.isArray(rule.domains)) {
        for (const d of rule.domains) {
          const n = typeof d === 'string' ? normalizeHostname(d) : undefined;
          if (n === undefined) continue;
          // A suffix both named and unnamed would leave the answer to insertion order.
          const owner = domainOwner.get(n);
          if (owner !== undefined) errors.push(`${where}.domains: ${n} already belongs to ${owner}`);
          else domainOwner.set(n, where);
        }
      }
      for (const k of Object.keys(rule)) if (k !== 'domains' && k !== 'reason') errors.push(`${where}.${k}: unknown property`);
    });
  }
  return errors;
}

const OVERRIDE_KEYS = new Set(['name', 'vendor', 'category', 'domains', 'addDomains', 'addressRanges', 'risk']);

/** Problems of one override (`isNew`: the app is not in the catalog, so name/vendor/category/domains are required). */
export function validateOverride(id: string, o: unknown, isNew: boolean): string[] {
  const errors: string[] = [];
  if (!ID_RE.test(id)) errors.push(`id: must match ${ID_RE}`);
  if (!isObject(o)) return [...errors, 'override: must be an object'];
  for (const k of ['name', 'vendor'] as const) if (o[k] !== undefined && (typeof o[k] !== 'string' || (o[k] as string).length === 0)) errors.push(`${k}: must be a non-empty string`);
  if (o.category !== undefined && (typeof o.category !== 'string' || !CATEGORY_IDS.has(o.category))) errors.push(`category: not in taxonomy ${TAXONOMY_ID}`);
  if (o.domains !== undefined) validateDomains(o.domains, 'domains', errors);
  if (o.addDomains !== undefined) validateDomains(o.addDomains, 'addDomains', errors);
  if (o.addressRanges !== undefined) validateRanges(o.addressRanges, 'addressRanges', errors);
  if (o.risk !== undefined) validateRisk(o.risk, 'risk', errors, true);
  if (isNew) {
    for (const k of ['name', 'vendor', 'category'] as const) if (o[k] === undefined) errors.push(`${k}: required for an app not in the catalog`);
    if (o.domains === undefined && o.addDomains === undefined && o.addressRanges === undefined) errors.push('domains: a new app needs domains or addressRanges');
  }
  for (const k of Object.keys(o)) if (!OVERRIDE_KEYS.has(k)) errors.push(`${k}: unknown property`);
  return errors;
}

export class CatalogError extends OutpostError {
  declare readonly code: 'DISCOVERY_CATALOG_INVALID' | 'DISCOVERY_CATALOG_UNREADABLE';
  constructor(code: 'DISCOVERY_CATALOG_INVALID' | 'DISCOVERY_CATALOG_UNREADABLE', message: string, readonly errors: string[] = []) {
    super(code, {}, { message });
  }
}

export function readCatalogFile(path: string): CatalogFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CatalogError('DISCOVERY_CATALOG_UNREADABLE', `cannot read catalog ${path}: ${(e as NodeJS.ErrnoException).code ?? 'read failed'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error: whatever file the setting names
    // (a shadow file, a key), its contents must not reach logs or API replies.
    throw new CatalogError('DISCOVERY_CATALOG_UNREADABLE', `cannot read catalog ${path}: not valid JSON`);
  }
  const errors = validateCatalog(doc);
  if (errors.length > 0) throw new CatalogError('DISCOVERY_CATALOG_INVALID', `catalog ${path} is invalid: ${errors.slice(0, 5).join('; ')}${errors.length > 5 ? ` (+${errors.length - 5} more)` : ''}`, errors);
  return doc as CatalogFile;
}

export interface ResolvedCatalog {
  /** File version plus "+o.<digest>" when overrides apply. */
  version: string;
  apps: Map<string, ResolvedApp>;
  /**
   * What the administrator named explicitly, per app id: the normalised domains of its override's
   * `domains`/`addDomains`, and whether it set `addressRanges`. These win over shipped entries
   * (AppMatcher); domains an override merely kept from the shipped entry are not claims.
   */
  adminClaims: Map<string, { domains: Set<string>; ranges: boolean }>;
  /** Domain claims that lost: the app that kept the domain and the one skipped. */
  conflicts: string[];
  /** Normalised suffixes of the file's `noApp` rules (names under them are no catalog app). */
  noApp: string[];
}

/**
 * The domains an override claims, each with the request field that named it ("domains[0]",
 * "addDomains[2]"), in normalised form; the first field wins when one domain is named twice.
 */
export function overrideDomainClaims(o: AppOverride): Map<string, string> {
  const out = new Map<string, string>();
  for (const field of ['domains', 'addDomains'] as const) {
    (o[field] ?? []).forEach((d, i) => {
      const n = normalizeHostname(d);
      if (n !== undefined && !out.has(n)) out.set(n, `${field}[${i}]`);
    });
  }
  return out;
}

/** The catalog with the overrides applied, every app scored. */
export function resolveCatalog(file: CatalogFile, overrides: ReadonlyMap<string, AppOverride>, settings: RiskSettings): ResolvedCatalog {
  const apps = new Map<string, ResolvedApp>();
  const adminClaims = new Map<string, { domains: Set<string>; ranges: boolean }>();
  const make = (base: CatalogApp, origin: ResolvedApp['origin']): ResolvedApp => {
    const { score, known } = riskScore(base.risk, settings);
    return { ...base, riskScore: score, riskKnown: known, origin };
  };
  for (const app of file.apps) apps.set(app.id, make(app, 'catalog'));
  for (const [id, o] of [...overrides].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const base = apps.get(id);
    const risk: RiskAttributes = { ...base?.risk };
    for (const [k, v] of Object.entries(o.risk ?? {})) {
      if (v === null) delete risk[k as RiskAttributeName];
      else (risk as Record<string, unknown>)[k] = v;
    }
    const domains = [...new Set([...(o.domains ?? base?.domains ?? []), ...(o.addDomains ?? [])].map((d) => normalizeHostname(d) ?? d))];
    const merged: CatalogApp = {
      id,
      name: o.name ?? base?.name ?? id,
      vendor: o.vendor ?? base?.vendor ?? 'unknown',
      category: o.category ?? base?.category ?? 'productivity',
      domains,
    };
    const ranges = o.addressRanges ?? base?.addressRanges;
    if (ranges !== undefined) merged.addressRanges = ranges;
    if (Object.keys(risk).length > 0) merged.risk = risk;
    apps.set(id, make(merged, base === undefined ? 'custom' : 'override'));
    adminClaims.set(id, { domains: new Set(overrideDomainClaims(o).keys()), ranges: o.addressRanges !== undefined });
  }
  // Overrides change the version: "+o." and a digest of their content, so events say exactly which rules applied.
  const digest = createHash('sha256').update(JSON.stringify([...overrides].sort(([a], [b]) => (a < b ? -1 : 1)))).digest('hex').slice(0, 8);
  const noApp = [...new Set((file.noApp ?? []).flatMap((r) => r.domains.map((d) => normalizeHostname(d)).filter((d): d is string => d !== undefined)))];
  return { version: overrides.size > 0 ? `${file.catalogVersion}+o.${digest}` : file.catalogVersion, apps, adminClaims, conflicts: [], noApp };
}
