/**
 * The administrator's enforcement state: rules, exceptions, groups and time-boxed overrides, in
 * LMDB (`<dataDir>/control`, owner-only like every store), with an audit trail of every change.
 *
 * Why a store and not the configuration file: overrides are short-lived runtime decisions ("allow
 * this app for this user for 1 h") made through the API many times a day, each audited with who,
 * why and until when; rules and exceptions change with them and are read together. Writing them
 * into the configuration file would make each one a configuration revision (and a restart-class
 * review), and the file would fill with expired overrides. Discovery's sanctions and catalog
 * overrides live in LMDB for the same reason.
 *
 * Keys (ordered-binary tuples):
 *   ['r', id] → PolicyRule     ['e', id] → PolicyException     ['g', id] → PolicyGroup
 *   ['o', id] → PolicyOverride ['a', timeMs, seq] → audit record
 * Every change writes LMDB first, then swaps in a new PolicyIndex (verdicts never see a state
 * that is not stored). Bounded: the counts below; expired overrides are removed by the
 * `expiry` job, audit records beyond CONTROL_AUDIT_MAX_RECORDS by the `retention` job.
 */
import { randomBytes } from 'node:crypto';
import type { RootDatabase } from 'lmdb';
import { openPrivateStore } from '../privileges.js';
import { OutpostError } from '../errors.js';
import { normalizeHostname } from '../discovery/hostname.js';
import {
  PolicyIndex, subjectOf,
  type PolicyException, type PolicyGroup, type PolicyOverride, type PolicyRule, type PolicyState, type PolicySubject, type RuleMatch, type ExceptionScope, type RuleAction,
} from './policy.js';

/** Most rules, exceptions, groups and live overrides kept (each a few hundred bytes). */
export const CONTROL_MAX_RULES = 10_000;
export const CONTROL_MAX_EXCEPTIONS = 10_000;
export const CONTROL_MAX_GROUPS = 1_000;
export const CONTROL_MAX_GROUP_MEMBERS = 10_000;
export const CONTROL_MAX_OVERRIDES = 10_000;
/** Shortest and longest override: one minute to one week (longer is an exception's job). */
export const CONTROL_OVERRIDE_MIN_DURATION_MS = 60_000;
export const CONTROL_OVERRIDE_MAX_DURATION_MS = 7 * 86_400_000;
/** Audit records kept (the newest); older ones go with the retention job. */
export const CONTROL_AUDIT_MAX_RECORDS = 100_000;

/** Device subject values: a device uid as device identity writes it, or a MAC. */
export const DEVICE_SUBJECT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** User subject values: a name, `DOMAIN\name` or a UPN; no control characters. */
export const USER_SUBJECT_PATTERN = '^[^\\u0000-\\u001f\\u007f]{1,256}$';
/** Group ids (chosen by the administrator). */
export const GROUP_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
/** Rule, exception and override ids (made here). */
export const ITEM_ID_PATTERN = '^(rule|exc|ovr)-[0-9a-f]{12}$';
const DEVICE_RE = new RegExp(DEVICE_SUBJECT_PATTERN);
const USER_RE = new RegExp(USER_SUBJECT_PATTERN);
const GROUP_RE = new RegExp(GROUP_ID_PATTERN);

type Key = (string | number)[];

/** What the store checks app ids and categories against (discovery's catalog and taxonomy). */
export interface PolicyCatalog {
  hasApp(appId: string): boolean;
  hasCategory(category: string): boolean;
}

export interface AuditRecord {
  action: string;
  actor: string;
  address?: string;
  kind: 'rule' | 'exception' | 'group' | 'override';
  id: string;
  /** The item after the change (absent for a removal). */
  item?: unknown;
  reason?: string;
}

export interface AuditActor { name: string; address?: string }

function invalid(field: string, problem: string): OutpostError {
  return new OutpostError('CONTROL_INVALID', { field, reason: problem }, { details: { field, problem } });
}

function notFound(kind: string, id: string): OutpostError {
  return new OutpostError('CONTROL_NOT_FOUND', { kind, id }, { details: { kind, id } });
}

function limit(kind: string, max: number): OutpostError {
  return new OutpostError('CONTROL_LIMIT_REACHED', { kind, limit: max }, { details: { kind, limit: max } });
}

function newId(prefix: 'rule' | 'exc' | 'ovr'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export class PolicyStore {
  private db: RootDatabase<unknown, Key> | undefined;
  private rules = new Map<string, PolicyRule>();
  private exceptions = new Map<string, PolicyException>();
  private groups = new Map<string, PolicyGroup>();
  private overrides = new Map<string, PolicyOverride>();
  private current = new PolicyIndex({ rules: [], exceptions: [], groups: [], overrides: [] });
  private auditSeq = 0;
  /** Called after each change with the audit record (the area turns it into an API Activity event). */
  onAudit: ((r: AuditRecord, timeMs: number) => void) | undefined;

  constructor(private readonly catalog: PolicyCatalog | null, private readonly now: () => number = Date.now) {}

  open(path: string): void {
    this.db = openPrivateStore<unknown, Key>(path);
    const load = <T>(prefix: string, into: Map<string, T>): void => {
      for (const { key, value } of this.d.getRange({ start: [prefix], end: [prefix, '\uffff'] })) into.set(String((key as Key)[1]), value as T);
    };
    load('r', this.rules);
    load('e', this.exceptions);
    load('g', this.groups);
    load('o', this.overrides);
    this.rebuild();
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }

  private get d(): RootDatabase<unknown, Key> {
    if (this.db === undefined) throw new OutpostError('INTERNAL', { reason: 'control store is not open' });
    return this.db;
  }

  /** The state in lookup form; replaced (never changed) on each change. */
  readonly index = (): PolicyIndex => this.current;

  state(): PolicyState { return this.current.state; }

  private rebuild(): void {
    this.current = new PolicyIndex({
      rules: [...this.rules.values()], exceptions: [...this.exceptions.values()],
      groups: [...this.groups.values()], overrides: [...this.overrides.values()],
    });
  }

  private async audit(record: AuditRecord, actor: AuditActor): Promise<void> {
    const t = this.now();
    const r: AuditRecord = { ...record, actor: actor.name, ...(actor.address !== undefined ? { address: actor.address } : {}) };
    await this.d.put(['a', t, this.auditSeq++], r);
    this.onAudit?.(r, t);
  }

  auditLog(max: number): Array<AuditRecord & { timeMs: number }> {
    const out: Array<AuditRecord & { timeMs: number }> = [];
    for (const { key, value } of this.d.getRange({ start: ['a', Number.MAX_SAFE_INTEGER], end: ['a', 0], reverse: true, limit: max })) {
      out.push({ timeMs: Number((key as Key)[1]), ...(value as AuditRecord) });
    }
    return out;
  }

  // ----------------------------------------------------------------------------- checks

  private checkApp(field: string, appId: string): void {
    if (this.catalog !== null && !this.catalog.hasApp(appId)) throw invalid(field, `no app ${JSON.stringify(appId)} in the catalog or among unclassified apps`);
  }

  private checkCategory(field: string, category: string): void {
    if (this.catalog !== null && !this.catalog.hasCategory(category)) throw invalid(field, `no category ${JSON.stringify(category)} in the taxonomy`);
  }

  private domain(field: string, d: string): string {
    const n = normalizeHostname(d);
    if (n === undefined) throw invalid(field, 'not a DNS name');
    return n;
  }

  /** One of app, category, domain (and for rules minRiskScore); returns the normalised match. */
  private match(m: RuleMatch, field: string, allowRisk: boolean): RuleMatch {
    const set = (['app', 'category', 'domain', 'minRiskScore'] as const).filter((k) => m[k] !== undefined);
    if (set.length !== 1) throw invalid(field, `exactly one of app, category, domain${allowRisk ? ', minRiskScore' : ''} is needed`);
    if (m.app !== undefined) { this.checkApp(`${field}.app`, m.app); return { app: m.app }; }
    if (m.category !== undefined) { this.checkCategory(`${field}.category`, m.category); return { category: m.category }; }
    if (m.domain !== undefined) return { domain: this.domain(`${field}.domain`, m.domain) };
    if (!allowRisk) throw invalid(field, 'minRiskScore is for rules only');
    return { minRiskScore: m.minRiskScore! };
  }

  private subject(s: PolicySubject, field: string): PolicySubject {
    const set = (['device', 'user', 'group'] as const).filter((k) => s[k] !== undefined);
    if (set.length !== 1) throw invalid(field, 'exactly one of device, user, group is needed');
    const { kind, value } = subjectOf(s);
    if (kind === 'device') {
      if (!DEVICE_RE.test(value)) throw invalid(`${field}.device`, 'not a device uid or MAC');
      return { device: value.toLowerCase() };
    }
    if (kind === 'user') {
      if (!USER_RE.test(value)) throw invalid(`${field}.user`, 'not a user name');
      return { user: value };
    }
    if (!this.groups.has(value)) throw invalid(`${field}.group`, `no group ${JSON.stringify(value)}`);
    return { group: value };
  }

  // ------------------------------------------------------------------------------ rules

  listRules(): PolicyRule[] { return [...this.rules.values()].sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1)); }
  getRule(id: string): PolicyRule {
    const r = this.rules.get(id);
    if (r === undefined) throw notFound('rule', id);
    return r;
  }

  /** Adds (id undefined) or replaces a rule. */
  async putRule(body: { match: RuleMatch; action: RuleAction; note?: string }, actor: AuditActor, id?: string): Promise<PolicyRule> {
    const old = id === undefined ? undefined : this.getRule(id);
    if (old === undefined && this.rules.size >= CONTROL_MAX_RULES) throw limit('rule', CONTROL_MAX_RULES);
    const rule: PolicyRule = {
      id: old?.id ?? newId('rule'), match: this.match(body.match, 'match', true), action: body.action,
      ...(body.note !== undefined ? { note: body.note } : {}), createdMs: old?.createdMs ?? this.now(), createdBy: old?.createdBy ?? actor.name,
    };
    await this.d.put(['r', rule.id], rule);
    this.rules.set(rule.id, rule);
    this.rebuild();
    await this.audit({ action: old ? 'control.rule.update' : 'control.rule.create', actor: actor.name, kind: 'rule', id: rule.id, item: rule }, actor);
    return rule;
  }

  async deleteRule(id: string, actor: AuditActor): Promise<void> {
    this.getRule(id);
    await this.d.remove(['r', id]);
    this.rules.delete(id);
    this.rebuild();
    await this.audit({ action: 'control.rule.delete', actor: actor.name, kind: 'rule', id }, actor);
  }

  // ------------------------------------------------------------------------- exceptions

  listExceptions(): PolicyException[] { return [...this.exceptions.values()].sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1)); }
  getException(id: string): PolicyException {
    const e = this.exceptions.get(id);
    if (e === undefined) throw notFound('exception', id);
    return e;
  }

  async putException(body: { subject: PolicySubject; scope?: ExceptionScope; note?: string }, actor: AuditActor, id?: string): Promise<PolicyException> {
    const old = id === undefined ? undefined : this.getException(id);
    if (old === undefined && this.exceptions.size >= CONTROL_MAX_EXCEPTIONS) throw limit('exception', CONTROL_MAX_EXCEPTIONS);
    const scope = body.scope === undefined ? undefined : this.match(body.scope, 'scope', false) as ExceptionScope;
    const e: PolicyException = {
      id: old?.id ?? newId('exc'), subject: this.subject(body.subject, 'subject'), ...(scope !== undefined ? { scope } : {}),
      ...(body.note !== undefined ? { note: body.note } : {}), createdMs: old?.createdMs ?? this.now(), createdBy: old?.createdBy ?? actor.name,
    };
    await this.d.put(['e', e.id], e);
    this.exceptions.set(e.id, e);
    this.rebuild();
    await this.audit({ action: old ? 'control.exception.update' : 'control.exception.create', actor: actor.name, kind: 'exception', id: e.id, item: e }, actor);
    return e;
  }

  async deleteException(id: string, actor: AuditActor): Promise<void> {
    this.getException(id);
    await this.d.remove(['e', id]);
    this.exceptions.delete(id);
    this.rebuild();
    await this.audit({ action: 'control.exception.delete', actor: actor.name, kind: 'exception', id }, actor);
  }

  // ----------------------------------------------------------------------------- groups

  listGroups(): PolicyGroup[] { return [...this.groups.values()].sort((a, b) => (a.id < b.id ? -1 : 1)); }
  getGroup(id: string): PolicyGroup {
    const g = this.groups.get(id);
    if (g === undefined) throw notFound('group', id);
    return g;
  }

  async putGroup(id: string, body: { name?: string; users?: string[]; devices?: string[] }, actor: AuditActor): Promise<PolicyGroup> {
    if (!GROUP_RE.test(id)) throw invalid('id', 'not a group id');
    const old = this.groups.get(id);
    if (old === undefined && this.groups.size >= CONTROL_MAX_GROUPS) throw limit('group', CONTROL_MAX_GROUPS);
    const users = [...new Set(body.users ?? [])];
    const devices = [...new Set((body.devices ?? []).map((d) => d.toLowerCase()))];
    if (users.length + devices.length > CONTROL_MAX_GROUP_MEMBERS) throw limit('group member', CONTROL_MAX_GROUP_MEMBERS);
    users.forEach((u, i) => { if (!USER_RE.test(u)) throw invalid(`users[${i}]`, 'not a user name'); });
    devices.forEach((d, i) => { if (!DEVICE_RE.test(d)) throw invalid(`devices[${i}]`, 'not a device uid or MAC'); });
    const g: PolicyGroup = { id, name: body.name ?? id, users, devices };
    await this.d.put(['g', id], g);
    this.groups.set(id, g);
    this.rebuild();
    await this.audit({ action: old ? 'control.group.update' : 'control.group.create', actor: actor.name, kind: 'group', id, item: g }, actor);
    return g;
  }

  /** A group still named by an exception or a live override cannot go (they would name nothing; an expired override no longer counts). */
  async deleteGroup(id: string, actor: AuditActor): Promise<void> {
    this.getGroup(id);
    const now = this.now();
    const user = [...this.exceptions.values(), ...[...this.overrides.values()].filter((o) => o.expiresMs > now)].find((x) => x.subject.group === id);
    if (user !== undefined) throw new OutpostError('CONTROL_IN_USE', { kind: 'group', id, by: user.id }, { details: { kind: 'group', id, usedBy: user.id } });
    await this.d.remove(['g', id]);
    this.groups.delete(id);
    this.rebuild();
    await this.audit({ action: 'control.group.delete', actor: actor.name, kind: 'group', id }, actor);
  }

  // -------------------------------------------------------------------------- overrides

  listOverrides(includeExpired = false): PolicyOverride[] {
    const now = this.now();
    return [...this.overrides.values()].filter((o) => includeExpired || o.expiresMs > now).sort((a, b) => b.createdMs - a.createdMs || (a.id < b.id ? -1 : 1));
  }

  getOverride(id: string): PolicyOverride {
    const o = this.overrides.get(id);
    if (o === undefined) throw notFound('override', id);
    return o;
  }

  async addOverride(body: { subject: PolicySubject; app: string; verdict?: RuleAction; durationMs: number; reason: string }, actor: AuditActor): Promise<PolicyOverride> {
    if (this.overrides.size >= CONTROL_MAX_OVERRIDES) {
      await this.expire();
      if (this.overrides.size >= CONTROL_MAX_OVERRIDES) throw limit('override', CONTROL_MAX_OVERRIDES);
    }
    if (!Number.isInteger(body.durationMs) || body.durationMs < CONTROL_OVERRIDE_MIN_DURATION_MS || body.durationMs > CONTROL_OVERRIDE_MAX_DURATION_MS) {
      throw invalid('durationMs', `between ${CONTROL_OVERRIDE_MIN_DURATION_MS} and ${CONTROL_OVERRIDE_MAX_DURATION_MS} ms`);
    }
    this.checkApp('app', body.app);
    const now = this.now();
    const o: PolicyOverride = {
      id: newId('ovr'), subject: this.subject(body.subject, 'subject'), app: body.app, verdict: body.verdict ?? 'allow',
      reason: body.reason, createdMs: now, expiresMs: now + body.durationMs, createdBy: actor.name,
    };
    await this.d.put(['o', o.id], o);
    this.overrides.set(o.id, o);
    this.rebuild();
    await this.audit({ action: 'control.override.create', actor: actor.name, kind: 'override', id: o.id, item: o, reason: o.reason }, actor);
    return o;
  }

  async revokeOverride(id: string, actor: AuditActor): Promise<void> {
    this.getOverride(id);
    await this.d.remove(['o', id]);
    this.overrides.delete(id);
    this.rebuild();
    await this.audit({ action: 'control.override.revoke', actor: actor.name, kind: 'override', id }, actor);
  }

  /** Removes expired overrides (the `expiry` job); the index ignores them already. */
  async expire(): Promise<number> {
    const now = this.now();
    const gone = [...this.overrides.values()].filter((o) => o.expiresMs <= now);
    if (gone.length === 0) return 0;
    await this.d.transaction(() => { for (const o of gone) this.d.remove(['o', o.id]); });
    for (const o of gone) this.overrides.delete(o.id);
    this.rebuild();
    return gone.length;
  }

  /** Keeps the newest CONTROL_AUDIT_MAX_RECORDS audit records (the `retention` job). */
  async trimAudit(max = CONTROL_AUDIT_MAX_RECORDS): Promise<number> {
    const db = this.d;
    let seen = 0, removed = 0;
    await db.transaction(() => {
      for (const key of db.getKeys({ start: ['a', Number.MAX_SAFE_INTEGER], end: ['a', 0], reverse: true })) {
        if (++seen > max) { db.remove(key); removed++; }
      }
    });
    return removed;
  }
}
