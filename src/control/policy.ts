/**
 * The verdict policy (a `VerdictPolicy`, ./policy-types.ts): given a host name a client asked for
 * and the administrator's state, allow or block. Decided in a fixed order, the first step that
 * says something wins:
 *
 *   1. override   — a time-boxed decision for one app and one user, device or group
 *                   ("allow ChatGPT for alice for 1 h"), set through the API and audited;
 *   2. exception  — a standing allow for a user, device or group (any app, or one app, category
 *                   or domain);
 *   3. rule       — the administrator's block/allow rules by app, domain suffix, category and
 *                   risk score (the most specific matching rule decides, see `PolicyIndex.rule`);
 *   4. sanction   — discovery's sanction state of the app the name belongs to: unsanctioned →
 *                   block; sanctioned or monitored → allow (reason `default`, rule id
 *                   `sanction:<state>`);
 *   5. default    — allow, counted (`control.verdicts_default`): a name no app can be named for
 *                   (not a DNS name, discovery off).
 *
 * `decide` is pure given the state: the state (rules, exceptions, groups, overrides) is held in
 * an immutable `PolicyIndex` rebuilt on every change (src/control/policy-store.ts), the apps
 * (matcher, catalog, sanctions) and the client's device and user are read through the two small
 * interfaces below, so the same request against the same state always gets the same answer.
 * Called once per new flow (not per packet); a name is matched with one walk over its labels.
 */
import type { VerdictDecision, VerdictPolicy, VerdictRequest } from './policy-types.js';
import { normalizeHostname } from '../discovery/hostname.js';

// ------------------------------------------------------------------------------------ the model

export const RULE_ACTIONS = ['block', 'allow'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

/** What a rule matches: exactly one of these. */
export interface RuleMatch {
  app?: string;
  category?: string;
  /** A DNS suffix: `example.com` matches `example.com` and every name below it. */
  domain?: string;
  /** Apps whose catalog risk score (0-10) is at least this. */
  minRiskScore?: number;
}

export interface PolicyRule {
  id: string;
  match: RuleMatch;
  action: RuleAction;
  note?: string;
  createdMs: number;
  createdBy: string;
}

/** Who an exception or override is for: exactly one of these. */
export interface PolicySubject {
  /** A device uid (GET /v1/devices) or one of its MACs (lower-case, colon separated). */
  device?: string;
  /** A user name as device identity knows it (`alice`, `CORP\alice` or a UPN), case-insensitive. */
  user?: string;
  /** The id of a group (PUT /v1/control/groups/:id). */
  group?: string;
}

/** What an exception covers: everything (no scope) or one app, category or domain suffix. */
export type ExceptionScope = Omit<RuleMatch, 'minRiskScore'>;

export interface PolicyException {
  id: string;
  subject: PolicySubject;
  scope?: ExceptionScope;
  note?: string;
  createdMs: number;
  createdBy: string;
}

export interface PolicyGroup {
  id: string;
  name: string;
  users: string[];
  devices: string[];
}

export interface PolicyOverride {
  id: string;
  subject: PolicySubject;
  app: string;
  verdict: RuleAction;
  reason: string;
  createdMs: number;
  expiresMs: number;
  createdBy: string;
}

export interface PolicyState {
  rules: readonly PolicyRule[];
  exceptions: readonly PolicyException[];
  groups: readonly PolicyGroup[];
  overrides: readonly PolicyOverride[];
}

// ------------------------------------------------------------------ what the policy reads

/** The app a name belongs to, as discovery's matcher and catalog say. */
export interface PolicyApp {
  id: string;
  name: string;
  category: string;
  /** Catalog risk score 0-10; undefined for unclassified names. */
  riskScore?: number;
}

/** Discovery as the policy sees it (adapter: `discoveryApps` in ./policy-area.ts). */
export interface PolicyApps {
  /** The app of a normalised host name, or undefined when none can be named. */
  appOf(name: string): PolicyApp | undefined;
  sanctionOf(appId: string): 'sanctioned' | 'unsanctioned' | 'monitored';
}

/** The device and user of a client, from device identity (address + time → device, user). */
export interface PolicyClient {
  deviceId?: string;
  macs: readonly string[];
  /** The user's names as they may be written in a subject (lower-cased by the index). */
  userNames: readonly string[];
  /** The user's display name for the decision (`user` of VerdictDecision). */
  user?: string;
}

export type PolicyIdentity = (clientIp: string, atMs: number) => PolicyClient | undefined;

// ------------------------------------------------------------------------------- the index

function lc(s: string): string { return s.toLowerCase(); }

/** Subject key as indexed: kind + NUL + lower-cased value. */
function subjectKey(kind: 'device' | 'user' | 'group', value: string): string { return `${kind}\u0000${lc(value)}`; }

export function subjectOf(s: PolicySubject): { kind: 'device' | 'user' | 'group'; value: string } {
  if (s.device !== undefined) return { kind: 'device', value: s.device };
  if (s.user !== undefined) return { kind: 'user', value: s.user };
  return { kind: 'group', value: s.group ?? '' };
}

/**
 * The administrator's state in lookup form, built once per change. Rules by app, category and
 * domain suffix in maps; risk rules sorted by threshold, highest first; exceptions and overrides
 * by subject key; groups by member.
 */
export class PolicyIndex {
  private readonly ruleByApp = new Map<string, PolicyRule>();
  private readonly ruleByCategory = new Map<string, PolicyRule>();
  private readonly ruleByDomain = new Map<string, PolicyRule>();
  private readonly riskRules: PolicyRule[];
  private readonly exceptionsBySubject = new Map<string, PolicyException[]>();
  private readonly overridesBySubject = new Map<string, PolicyOverride[]>();
  private readonly groupsOfMember = new Map<string, string[]>();

  constructor(readonly state: PolicyState) {
    // Two rules for one key: block beats allow (the safer answer), then the older rule.
    const put = (m: Map<string, PolicyRule>, key: string, r: PolicyRule): void => {
      const old = m.get(key);
      if (old === undefined || (old.action === 'allow' && r.action === 'block')) m.set(key, r);
    };
    const ordered = [...state.rules].sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1));
    for (const r of ordered) {
      if (r.match.app !== undefined) put(this.ruleByApp, r.match.app, r);
      else if (r.match.category !== undefined) put(this.ruleByCategory, r.match.category, r);
      else if (r.match.domain !== undefined) put(this.ruleByDomain, r.match.domain, r);
    }
    this.riskRules = ordered.filter((r) => r.match.minRiskScore !== undefined)
      .sort((a, b) => b.match.minRiskScore! - a.match.minRiskScore! || (a.action === b.action ? 0 : a.action === 'block' ? -1 : 1));
    for (const e of state.exceptions) {
      const s = subjectOf(e.subject);
      const k = subjectKey(s.kind, s.value);
      const list = this.exceptionsBySubject.get(k);
      if (list === undefined) this.exceptionsBySubject.set(k, [e]); else list.push(e);
    }
    // Latest override first: the administrator's most recent word on a subject and app wins.
    for (const o of [...state.overrides].sort((a, b) => b.createdMs - a.createdMs || (a.id < b.id ? -1 : 1))) {
      const s = subjectOf(o.subject);
      const k = subjectKey(s.kind, s.value);
      const list = this.overridesBySubject.get(k);
      if (list === undefined) this.overridesBySubject.set(k, [o]); else list.push(o);
    }
    for (const g of state.groups) {
      for (const u of g.users) this.addMember(subjectKey('user', u), g.id);
      for (const d of g.devices) this.addMember(subjectKey('device', d), g.id);
    }
  }

  private addMember(key: string, group: string): void {
    const list = this.groupsOfMember.get(key);
    if (list === undefined) this.groupsOfMember.set(key, [group]); else if (!list.includes(group)) list.push(group);
  }

  /** Whether any exception or override exists (else no client's subjects need to be known). */
  get hasSubjects(): boolean { return this.exceptionsBySubject.size > 0 || this.overridesBySubject.size > 0; }

  /** Subject keys of a client: its device uid and MACs, its user names, and their groups. */
  subjectKeys(client: PolicyClient | undefined, clientMac: string | undefined): string[] {
    const keys: string[] = [];
    if (client?.deviceId !== undefined) keys.push(subjectKey('device', client.deviceId));
    for (const m of client?.macs ?? []) keys.push(subjectKey('device', m));
    if (clientMac !== undefined && !(client?.macs ?? []).includes(clientMac)) keys.push(subjectKey('device', clientMac));
    for (const u of client?.userNames ?? []) keys.push(subjectKey('user', u));
    const groups: string[] = [];
    for (const k of keys) for (const g of this.groupsOfMember.get(k) ?? []) if (!groups.includes(g)) groups.push(g);
    for (const g of groups) keys.push(subjectKey('group', g));
    return keys;
  }

  /** The live override for one of the keys and this app, latest first. */
  override(keys: readonly string[], appId: string | undefined, nowMs: number): PolicyOverride | undefined {
    if (appId === undefined || this.overridesBySubject.size === 0) return undefined;
    let best: PolicyOverride | undefined;
    for (const k of keys) {
      for (const o of this.overridesBySubject.get(k) ?? []) {
        if (o.app !== appId || o.expiresMs <= nowMs || o.createdMs > nowMs) continue;
        if (best === undefined || o.createdMs > best.createdMs) best = o;
        break;
      }
    }
    return best;
  }

  /** An exception of one of the keys covering this name/app. */
  exception(keys: readonly string[], name: string, app: PolicyApp | undefined): PolicyException | undefined {
    if (this.exceptionsBySubject.size === 0) return undefined;
    for (const k of keys) {
      for (const e of this.exceptionsBySubject.get(k) ?? []) {
        const s = e.scope;
        if (s === undefined) return e;
        if (s.app !== undefined && app?.id === s.app) return e;
        if (s.category !== undefined && app?.category === s.category) return e;
        if (s.domain !== undefined && (name === s.domain || name.endsWith(`.${s.domain}`))) return e;
      }
    }
    return undefined;
  }

  /**
   * The rule that decides a name: the most specific one that matches. An app rule first, then
   * the longest matching domain suffix, then the app's category, then the risk rule with the
   * highest threshold at or below the app's score (names of no catalog app have no score).
   */
  rule(name: string, app: PolicyApp | undefined): PolicyRule | undefined {
    if (app !== undefined && this.ruleByApp.size > 0) {
      const r = this.ruleByApp.get(app.id);
      if (r !== undefined) return r;
    }
    if (this.ruleByDomain.size > 0) {
      // The name's suffixes, longest first (a.b.c, b.c, c): the longest rule suffix wins.
      for (let i = 0; ;) {
        const r = this.ruleByDomain.get(i === 0 ? name : name.slice(i));
        if (r !== undefined) return r;
        const dot = name.indexOf('.', i);
        if (dot < 0) break;
        i = dot + 1;
      }
    }
    if (app !== undefined && this.ruleByCategory.size > 0) {
      const r = this.ruleByCategory.get(app.category);
      if (r !== undefined) return r;
    }
    if (app?.riskScore !== undefined) {
      for (const r of this.riskRules) if (app.riskScore >= r.match.minRiskScore!) return r;
    }
    return undefined;
  }
}

// ------------------------------------------------------------------------------ the policy

export class PolicyCounters {
  verdicts = 0;
  blocked = 0;
  byOverride = 0;
  byException = 0;
  byRule = 0;
  bySanction = 0;
  byDefault = 0;
  /** Requests whose name is not a DNS name (decided by the default). */
  badNames = 0;
  snapshot(): Record<string, number> {
    return {
      'control.verdicts': this.verdicts,
      'control.verdicts_blocked': this.blocked,
      'control.verdicts_override': this.byOverride,
      'control.verdicts_exception': this.byException,
      'control.verdicts_rule': this.byRule,
      'control.verdicts_sanction': this.bySanction,
      'control.verdicts_default': this.byDefault,
      'control.names_invalid': this.badNames,
    };
  }
}

export interface ControlPolicyOptions {
  /** The current state (rebuilt by the store on each change). */
  index: () => PolicyIndex;
  apps: PolicyApps | null;
  identity: PolicyIdentity | null;
}

export class ControlPolicy implements VerdictPolicy {
  readonly counters = new PolicyCounters();

  constructor(private readonly o: ControlPolicyOptions) {}

  decide(req: VerdictRequest): VerdictDecision {
    return this.evaluate(req, this.counters);
  }

  /** The same decision without counting it (GET /v1/control/verdict: an administrator's question, not traffic). */
  dryRun(req: VerdictRequest): VerdictDecision {
    return this.evaluate(req, new PolicyCounters());
  }

  private evaluate(req: VerdictRequest, c: PolicyCounters): VerdictDecision {
    c.verdicts++;
    const name = normalizeHostname(req.name);
    const client = this.o.identity?.(req.clientIp, req.nowMs);
    if (name === undefined) {
      c.badNames++;
      c.byDefault++;
      return decision('allow', 'default', 'default', undefined, client);
    }
    const app = this.o.apps?.appOf(name);
    const index = this.o.index();
    // Exceptions and overrides name users, devices and groups: the client's are worked out only
    // when there are any.
    if (index.hasSubjects) {
      const keys = index.subjectKeys(client, req.clientMac);
      const ov = index.override(keys, app?.id, req.nowMs);
      if (ov !== undefined) {
        c.byOverride++;
        if (ov.verdict === 'block') c.blocked++;
        return decision(ov.verdict, 'override', ov.id, app, client);
      }
      const ex = index.exception(keys, name, app);
      if (ex !== undefined) {
        c.byException++;
        return decision('allow', 'exception', ex.id, app, client);
      }
    }
    const d = this.byRuleOrSanction(index, name, app, client);
    if (d.reason === 'rule') c.byRule++;
    else if (d.ruleId === 'default') c.byDefault++;
    else c.bySanction++;
    if (d.verdict === 'block') c.blocked++;
    return d;
  }

  /**
   * Steps 3-5 for a name alone (no client): what block lists for other appliances are made of.
   * Overrides and exceptions are per user, device or group, and such appliances judge no user.
   */
  decideName(name: string): VerdictDecision {
    const n = normalizeHostname(name);
    if (n === undefined) return decision('allow', 'default', 'default', undefined, undefined);
    return this.byRuleOrSanction(this.o.index(), n, this.o.apps?.appOf(n), undefined);
  }

  private byRuleOrSanction(index: PolicyIndex, name: string, app: PolicyApp | undefined, client: PolicyClient | undefined): VerdictDecision {
    const rule = index.rule(name, app);
    if (rule !== undefined) return decision(rule.action, 'rule', rule.id, app, client);
    if (app !== undefined && this.o.apps !== null) {
      const sanction = this.o.apps.sanctionOf(app.id);
      if (sanction === 'unsanctioned') return decision('block', 'unsanctioned', `sanction:${app.id}`, app, client);
      return decision('allow', 'default', `sanction:${sanction}`, app, client);
    }
    return decision('allow', 'default', 'default', app, client);
  }
}

/** A decision with the app and the client's device and user when known (no spread: one object). */
function decision(verdict: 'allow' | 'block', reason: VerdictDecision['reason'], ruleId: string, app: PolicyApp | undefined, client: PolicyClient | undefined): VerdictDecision {
  const d: { -readonly [K in keyof VerdictDecision]: VerdictDecision[K] } = { verdict, reason, ruleId };
  if (app !== undefined) { d.appId = app.id; d.appName = app.name; }
  if (client?.deviceId !== undefined) d.deviceId = client.deviceId;
  if (client?.user !== undefined) d.user = client.user;
  return d;
}
