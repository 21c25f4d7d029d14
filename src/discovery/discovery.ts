/**
 * Cloud-app discovery: names the app of each Network Activity event (enricher), rolls traffic up
 * per (app, device, user, hour/day) (observer), keeps the administrator's overrides, sanction
 * states and the pseudonym map, and answers reports. See docs/DISCOVERY.md.
 *
 * Wiring: `discovery.stage` is one stage of the event pipeline (src/events/pipeline.ts), which
 * runs every enricher, then every observer, then the transforms:
 *   const discovery = new Discovery({ dataDir, config: cfg.discovery, logger });
 *   await discovery.open();
 *   new EventPipeline({ stages: [identity.stage, discovery.stage], outputs: [outbox] });
 * observe() runs after all enrichers, so it sees the device/user context whatever the order of
 * the stages; it also works without the enricher (it matches the event itself).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AppMatcher, type AppMatch } from './matcher.js';
import {
  APP_ID_RE, CatalogError, DEFAULT_CATALOG_PATH, overrideDomainClaims, readCatalogFile, resolveCatalog, validateOverride,
  type AppOverride, type CatalogFile, type ResolvedApp, type ResolvedCatalog,
} from './catalog.js';
import { DiscoveryStore, DAY_MS, HOUR_MS, type Rollup } from './store.js';
import { DEFAULT_DISCOVERY_CONFIG, SANCTION_STATES, type DiscoveryConfig, type SanctionState } from './config.js';
import { SYSTEM_CATEGORY_IDS, UNCLASSIFIED_CATEGORY } from './taxonomy.js';
import { buildDiscoverySummary, type DiscoverySummaryEvent } from '../events/discovery-summary.js';
import type { EventStage } from '../events/pipeline.js';
import { OutpostError, type ErrorCode } from '../errors.js';

export interface DiscoveryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DiscoveryOptions {
  /** LMDB goes to <dataDir>/discovery. */
  dataDir: string;
  config?: Partial<DiscoveryConfig>;
  logger?: DiscoveryLogger;
  /** Wall clock (retention, default report range); tests replace it. */
  now?: () => number;
}

/**
 * Errors with a code for the error catalogue (see the final list in docs/DISCOVERY.md); the HTTP
 * status is the catalogue's.
 */
export class DiscoveryError extends OutpostError {
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, {}, { message, ...(details === undefined ? {} : { details }) });
  }

  get statusCode(): number {
    return this.httpStatus;
  }
}

/** What the enricher puts in `unmapped.cloud_app` (app_name goes to the OCSF attribute). */
export interface CloudAppAnnotation {
  id: string;
  name: string;
  vendor?: string;
  category: string;
  risk_score?: number;
  risk_attributes_known?: number;
  sanction: SanctionState;
  unsanctioned?: true;
  unclassified?: true;
  /** The app is system traffic (a category with `system: true`): never shadow IT. */
  system?: true;
  signal: 'hostname' | 'address';
  hostname_source?: string;
  rule: string;
  catalog_version: string;
}

export type ReportSort = 'bytes' | 'bytesUp' | 'bytesDown' | 'flows' | 'blocked' | 'users' | 'devices' | 'ips' | 'riskScore' | 'name' | 'lastSeen' | 'firstSeen';
export const REPORT_SORTS: readonly ReportSort[] = ['bytes', 'bytesUp', 'bytesDown', 'flows', 'blocked', 'users', 'devices', 'ips', 'riskScore', 'name', 'lastSeen', 'firstSeen'];

export interface ReportQuery {
  fromMs?: number;
  toMs?: number;
  sort?: ReportSort;
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
  minRisk?: number;
  maxRisk?: number;
  sanction?: SanctionState;
  category?: string;
  /** Substring of id, name or vendor (case-insensitive). */
  q?: string;
  includeUnclassified?: boolean;
}

export interface AppRow {
  id: string;
  name: string;
  vendor: string | null;
  category: string;
  riskScore: number | null;
  sanction: SanctionState;
  unclassified: boolean;
  /** System traffic (OS services, web infrastructure): counted like any app, never shadow IT. */
  system: boolean;
  bytesUp: number;
  bytesDown: number;
  bytes: number;
  flows: number;
  /** Attempts the control policy blocked (docs/DISCOVERY.md, "Blocked attempts"). */
  blocked: number;
  users: number;
  devices: number;
  ips: number;
  firstSeen: number;
  lastSeen: number;
}

export interface ReportRange { granularity: 'hour' | 'day'; fromMs: number; toMs: number }

export interface DrillRow {
  key: string;
  name: string;
  bytesUp: number;
  bytesDown: number;
  flows: number;
  blocked: number;
  /** Users of this device, or devices of this user. */
  related: number;
  ips: string[];
  firstSeen: number;
  lastSeen: number;
}

/** One line of a traffic chart: bytes per bucket, each way. */
export interface SeriesRow {
  key: string;
  name: string;
  bytesUp: number[];
  bytesDown: number[];
  bytes: number;
  /** On the `other` line: how many apps or categories it sums. */
  others?: number;
}

/** A device (or user) with the apps it used (Discovery.usage). */
export interface UsageRow {
  key: string;
  name: string;
  bytesUp: number;
  bytesDown: number;
  flows: number;
  /** Users of this device, or devices of this user. */
  related: number;
  firstSeen: number;
  lastSeen: number;
  appCount: number;
  apps: Array<{ id: string; name: string; category: string; sanction: SanctionState; bytesUp: number; bytesDown: number; flows: number }>;
}

interface Acc {
  up: number; down: number; flows: number; blocked: number; first: number; last: number;
  users: Set<string>; devices: Set<string>; ips: Set<string>;
}

function newAcc(): Acc {
  return { up: 0, down: 0, flows: 0, blocked: 0, first: Infinity, last: -Infinity, users: new Set(), devices: new Set(), ips: new Set() };
}

function addTo(a: Acc, v: Rollup, device: string, user: string): void {
  a.up += v.up; a.down += v.down; a.flows += v.flows; a.blocked += v.blocked ?? 0;
  a.first = Math.min(a.first, v.first); a.last = Math.max(a.last, v.last);
  a.devices.add(device);
  if (user !== '') a.users.add(user);
  for (const ip of v.ips) a.ips.add(ip);
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** OCSF user attributes that identify the user: replaced by pseudonyms in forwarded events. */
const USER_PSEUDONYMIZED: ReadonlySet<string> = new Set(['name', 'uid', 'uid_alt', 'credential_uid', 'display_name', 'full_name']);
/** OCSF user attributes that describe without naming (the Windows domain, type, groups, risk): kept. */
const USER_KEPT: ReadonlySet<string> = new Set(['domain', 'type', 'type_id', 'groups', 'org', 'has_mfa', 'risk_level', 'risk_level_id', 'risk_score']);

/** Flows held while their events name no app yet (see Discovery.holdUnnamed): about 100 B each. */
const UNNAMED_FLOWS_MAX = 65_536;

export class DiscoveryCounters {
  eventsSeen = 0;
  eventsNamed = 0;
  eventsUnclassified = 0;
  eventsUnnamed = 0;
  eventsInboundSkipped = 0;
  eventsUnsanctioned = 0;
  /** Blocked attempts (disposition Blocked) rolled up per app, device and user. */
  eventsBlocked = 0;
  catalogReloads = 0;
  catalogReloadErrors = 0;
  /** Bytes of a flow's earlier unnamed events credited to the app a later event named. */
  bytesCreditedLate = 0;
  /** Flows whose unnamed earlier events were forgotten because UNNAMED_FLOWS_MAX were held. */
  unnamedFlowsEvicted = 0;
  snapshot(): Record<string, number> {
    return {
      'discovery.events_seen': this.eventsSeen,
      'discovery.events_named': this.eventsNamed,
      'discovery.events_unclassified': this.eventsUnclassified,
      'discovery.events_unnamed': this.eventsUnnamed,
      'discovery.events_inbound_skipped': this.eventsInboundSkipped,
      'discovery.events_unsanctioned': this.eventsUnsanctioned,
      'discovery.events_blocked': this.eventsBlocked,
      'discovery.catalog_reloads': this.catalogReloads,
      'discovery.catalog_reload_errors': this.catalogReloadErrors,
      'discovery.bytes_credited_late': this.bytesCreditedLate,
      'discovery.unnamed_flows_evicted': this.unnamedFlowsEvicted,
    };
  }
}

export class Discovery {
  readonly settings: DiscoveryConfig;
  readonly counters = new DiscoveryCounters();
  readonly store: DiscoveryStore;
  private file: CatalogFile | undefined;
  private catalog: ResolvedCatalog | undefined;
  private matcher: AppMatcher | undefined;
  private sanctions = new Map<string, SanctionState>();
  private key: Buffer | undefined;
  private readonly now: () => number;
  private readonly logger: DiscoveryLogger | undefined;
  private readonly path: string;

  constructor(private readonly options: DiscoveryOptions) {
    this.settings = { ...DEFAULT_DISCOVERY_CONFIG, ...options.config } as DiscoveryConfig;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.path = join(options.dataDir, 'discovery');
    this.store = new DiscoveryStore({
      flushIntervalMs: this.settings.flushIntervalMs,
      flushMaxRecords: this.settings.flushMaxRecords,
      maxIpsPerRollup: this.settings.maxIpsPerRollup,
    });
  }

  async open(): Promise<void> {
    mkdirSync(this.path, { recursive: true });
    this.store.open(this.path);
    if (this.settings.pseudonymizeUsers) this.key = this.loadKey();
    for (const [id, s] of this.store.sanctions()) if ((SANCTION_STATES as readonly string[]).includes(s)) this.sanctions.set(id, s as SanctionState);
    this.reloadCatalog();
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** As a lifecycle Service (src/lifecycle.ts). */
  service(): { name: string; start(signal: AbortSignal): Promise<void>; stop(): Promise<void> } {
    return { name: 'discovery', start: async () => { await this.open(); }, stop: async () => { await this.close(); } };
  }

  private loadKey(): Buffer {
    const file = this.settings.pseudonymKeyFile || join(this.path, 'pseudonym.key');
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
    }
    const key = readFileSync(file);
    if (key.length < 16) throw new DiscoveryError('DISCOVERY_PSEUDONYM_KEY_INVALID', `pseudonym key ${file} is shorter than 16 bytes`);
    return key;
  }

  /** Catalog file + overrides → new matcher, swapped in at once. Throws CatalogError (the old catalog stays). */
  reloadCatalog(): { version: string; apps: number; domains: number; ranges: number; conflicts: string[] } {
    try {
      this.file = readCatalogFile(this.settings.catalogFile || DEFAULT_CATALOG_PATH);
    } catch (e) {
      this.counters.catalogReloadErrors++;
      throw e;
    }
    this.rebuild();
    this.counters.catalogReloads++;
    const m = this.matcher!;
    const info = { version: m.catalog.version, apps: m.catalog.apps.size, domains: m.domainCount, ranges: m.rangeCount, conflicts: m.catalog.conflicts };
    this.logger?.info(info, 'discovery catalog loaded');
    return info;
  }

  private rebuild(): void {
    const overrides = new Map<string, AppOverride>();
    for (const [id, o] of this.store.overrides()) overrides.set(id, o as AppOverride);
    this.catalog = resolveCatalog(this.file!, overrides, { discoveryHighRiskCountries: this.settings.highRiskCountries });
    this.matcher = new AppMatcher(this.catalog);
  }

  get catalogVersion(): string { return this.catalog?.version ?? 'none'; }
  get currentMatcher(): AppMatcher {
    if (this.matcher === undefined) throw new OutpostError('INTERNAL', { reason: 'discovery is not open' });
    return this.matcher;
  }
  app(id: string): ResolvedApp | undefined { return this.catalog?.apps.get(id); }
  apps(): ResolvedApp[] { return [...(this.catalog?.apps.values() ?? [])]; }

  /**
   * The administrator's state, else the default: `monitored` for system traffic (OS services, web
   * infrastructure: nobody chose to use it, so `defaultSanction: unsanctioned` must not make every
   * phone's push channel shadow IT), `discovery.defaultSanction` for everything else.
   */
  sanctionOf(appId: string): SanctionState {
    return this.sanctions.get(appId) ?? (this.isSystemApp(appId) ? 'monitored' : this.settings.defaultSanction);
  }

  /** Whether an app id is a catalog app in a system category. */
  isSystemApp(appId: string): boolean {
    const app = this.catalog?.apps.get(appId);
    return app !== undefined && SYSTEM_CATEGORY_IDS.has(app.category);
  }

  // ---------------------------------------------------------------- events

  /** The match of a Network Activity event, or undefined (not 4001, inbound, nothing to name). */
  private matchEvent(ev: Record<string, unknown>): AppMatch | undefined {
    if (ev.class_uid !== 4001 || this.matcher === undefined) return undefined;
    const conn = obj(ev.connection_info);
    if (conn?.direction_id === 1) { this.counters.eventsInboundSkipped++; return undefined; }
    const dst = obj(ev.dst_endpoint);
    return this.matcher.match(str(dst?.hostname), str(dst?.ip));
  }

  /**
   * Enrich step: app_name and unmapped.cloud_app on Network Activity events. Returns the app it
   * matched (null: none), which the pipeline hands to observe() in the event's context so the
   * event is not matched twice; undefined when the event is not one discovery names.
   */
  readonly enricher = (ev: Record<string, unknown>): string | null | undefined => {
    if (ev.class_uid !== 4001) return undefined;
    this.counters.eventsSeen++;
    const m = this.matchEvent(ev);
    if (m === undefined) { this.counters.eventsUnnamed++; return null; }
    const unmapped = obj(ev.unmapped);
    const a = this.annotation(m, str(unmapped?.hostname_source));
    if (m.unclassified) this.counters.eventsUnclassified++; else this.counters.eventsNamed++;
    if (a.unsanctioned) this.counters.eventsUnsanctioned++;
    ev.app_name = a.name;
    // The event is still being built (enrichers run before any output sees it): add in place.
    if (unmapped !== undefined) unmapped.cloud_app = a; else ev.unmapped = { cloud_app: a };
    return m.appId;
  };

  /**
   * Discovery's place in the event pipeline: names the app (enrich), rolls the enriched event up
   * (observe, after every enricher, so the device and user are there), and pseudonymises the user
   * of what leaves the pipeline (transform).
   */
  readonly stage: EventStage = {
    name: 'discovery',
    enrich: (ev, ctx) => { ctx.appId = this.enricher(ev); },
    observe: (ev, ctx) => { this.observe(ev, ctx.appId); },
    transform: (ev) => this.pseudonymizeEvent(ev),
  };

  private annotation(m: AppMatch, hostnameSource: string | undefined): CloudAppAnnotation {
    const sanction = this.sanctionOf(m.appId);
    const a: CloudAppAnnotation = m.app !== null
      ? { id: m.appId, name: m.app.name, vendor: m.app.vendor, category: m.app.category, risk_score: m.app.riskScore, risk_attributes_known: m.app.riskKnown, sanction, signal: m.signal, rule: m.rule, catalog_version: this.catalogVersion }
      : { id: m.appId, name: m.registrableDomain ?? m.appId, category: UNCLASSIFIED_CATEGORY, unclassified: true, sanction, signal: m.signal, rule: m.rule, catalog_version: this.catalogVersion };
    if (m.signal === 'hostname' && hostnameSource !== undefined) a.hostname_source = hostnameSource;
    if (sanction === 'unsanctioned') a.unsanctioned = true;
    if (m.app !== null && SYSTEM_CATEGORY_IDS.has(m.app.category)) a.system = true;
    return a;
  }

  /** The user key of an event: actor.user name (or uid), pseudonymised when configured; '' without one. */
  userKeyOf(ev: Record<string, unknown>): string {
    const user = obj(obj(ev.actor)?.user);
    const name = str(user?.name) ?? str(user?.uid);
    if (name === undefined) return '';
    return this.key !== undefined ? this.pseudonym(name) : name;
  }

  /**
   * Aggregation observer: call with every event after all enrichers. `matched` is what the
   * enricher found for this event (its pipeline context); without it the enricher's
   * unmapped.cloud_app is used when present, otherwise the event is matched here.
   */
  readonly observe = (event: object, matched?: string | null): void => {
    const ev = event as Record<string, unknown>;
    if (ev.class_uid !== 4001) return;
    let appId: string | undefined;
    if (matched !== undefined) appId = matched ?? undefined;
    else {
      appId = str(obj(obj(ev.unmapped)?.cloud_app)?.id);
      if (appId === undefined) appId = this.matchEvent(ev)?.appId;
    }
    const traffic = obj(ev.traffic);
    let up = typeof traffic?.bytes_out === 'number' ? traffic.bytes_out : 0;
    let down = typeof traffic?.bytes_in === 'number' ? traffic.bytes_in : 0;
    // A verdict of the control policy (Security Control profile, disposition 2 Blocked): an
    // attempt, counted as such; it carries no traffic and ends no flow of its own (the sensor's
    // events of that flow, if it saw any, count those).
    const blocked = ev.disposition_id === 2;
    const flowEnded = !blocked && (ev.activity_id === 2 || ev.activity_id === 3);
    if (blocked) { up = 0; down = 0; }
    if (appId === undefined) {
      if (!blocked) this.holdUnnamed(ev, up, down, flowEnded);
      return;
    }
    if (blocked) this.counters.eventsBlocked++;
    else if (this.unnamedFlows.size > 0) {
      // Earlier events of this flow (an Open event before the ClientHello, say) named no app:
      // their bytes belong to the app this one names, so the rollups still sum to the flow.
      const uid = str(obj(ev.connection_info)?.uid);
      const held = uid === undefined ? undefined : this.unnamedFlows.get(uid);
      if (held !== undefined) {
        this.unnamedFlows.delete(uid!);
        up += held.up;
        down += held.down;
        this.counters.bytesCreditedLate += held.up + held.down;
      }
    }
    const src = obj(ev.src_endpoint);
    const device = obj(ev.device);
    const srcMac = str(src?.mac), srcIp = str(src?.ip);
    const devUid = str(device?.uid);
    const deviceKey = devUid !== undefined ? `uid:${devUid}` : srcMac !== undefined ? `mac:${srcMac}` : `ip:${srcIp ?? 'unknown'}`;
    const deviceName = str(device?.hostname) ?? str(device?.mac) ?? srcMac ?? srcIp;
    const time = typeof ev.time === 'number' ? ev.time : this.now();
    this.store.add({
      timeMs: time,
      appId,
      deviceKey,
      userKey: this.userKeyOf(ev),
      up,
      down,
      flowEnded,
      clientIp: srcIp,
      deviceName,
      ...(blocked ? { blocked: true } : {}),
    });
  };

  /**
   * Bytes of flows whose events so far named no app, by flow uid, until a later event of the flow
   * names one (credited there) or the flow ends unnamed (dropped). Bounded: the oldest flow is
   * forgotten first, counted in `discovery.unnamed_flows_evicted`.
   */
  private readonly unnamedFlows = new Map<string, { up: number; down: number }>();

  private holdUnnamed(ev: Record<string, unknown>, up: number, down: number, flowEnded: boolean): void {
    const conn = obj(ev.connection_info);
    const uid = str(conn?.uid);
    if (uid === undefined) return;
    if (flowEnded) { if (this.unnamedFlows.size > 0) this.unnamedFlows.delete(uid); return; }
    // Inbound flows are never named (matchEvent skips them): nothing to wait for.
    if (conn?.direction_id === 1 || up + down === 0) return;
    const held = this.unnamedFlows.get(uid);
    if (held !== undefined) { held.up += up; held.down += down; return; }
    if (this.unnamedFlows.size >= UNNAMED_FLOWS_MAX) {
      const oldest = this.unnamedFlows.keys().next().value;
      if (oldest !== undefined) this.unnamedFlows.delete(oldest);
      this.counters.unnamedFlowsEvicted++;
    }
    this.unnamedFlows.set(uid, { up, down });
  }

  // ---------------------------------------------------------------- privacy

  /** Keyed HMAC-SHA-256 of a user name: "u-" + 24 hex digits. Remembered so that reveal() can reverse it. */
  pseudonym(name: string): string {
    if (this.key === undefined) throw new DiscoveryError('DISCOVERY_PSEUDONYMS_DISABLED', 'user pseudonymisation is off (discovery.pseudonymizeUsers)');
    const p = `u-${createHmac('sha256', this.key).update(name, 'utf8').digest('hex').slice(0, 24)}`;
    this.store.rememberPseudonym(p, name);
    return p;
  }

  /**
   * For the admin API's user and device listings: the pseudonym of a user identifier while
   * pseudonymisation is on (so a read token cannot undo what the forwarded events hide), the
   * identifier itself otherwise. Checked per call: the setting can change at runtime.
   */
  readonly maskUserIdentifier = (value: string): string => (this.key !== undefined ? this.pseudonym(value) : value);

  /**
   * For forwarded events: a copy whose actor.user (and device.owner, and in Authentication events
   * the top-level user) no longer names the user. The OCSF user fields
   * that are identifiers (name, uid, uid_alt — the UPN —, credential_uid, display_name, full_name)
   * become pseudonyms, each of its own value; the fields that describe without naming (USER_KEPT)
   * stay; everything else (email_addr, forward_addr, phone_number, account, ldap_person, ... and
   * any attribute added later) is dropped, so a field nobody thought of cannot leak a name.
   * The original event (seen by local consumers) is untouched.
   */
  pseudonymizeEvent<T extends object>(event: T): T {
    if (this.key === undefined) return event;
    const ev = event as Record<string, unknown>;
    const actor = obj(ev.actor);
    const user = obj(actor?.user);
    // Device Inventory Info names the user on the device as its owner too (device.owner);
    // Authentication (3002) names the logged-on account in the top-level `user`: the same rule.
    const device = obj(ev.device);
    const owner = obj(device?.owner);
    const target = obj(ev.user);
    if (user === undefined && owner === undefined && target === undefined) return event;
    const out: Record<string, unknown> = { ...ev, unmapped: { ...obj(ev.unmapped), user_pseudonymized: true } };
    if (user !== undefined) out.actor = { ...actor, user: this.pseudonymizeUser(user) };
    if (owner !== undefined) out.device = { ...device, owner: this.pseudonymizeUser(owner) };
    if (target !== undefined) out.user = this.pseudonymizeUser(target);
    return out as T;
  }

  private pseudonymizeUser(user: Record<string, unknown>): Record<string, unknown> {
    const u: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(user)) {
      if (USER_PSEUDONYMIZED.has(k)) { if (str(v) !== undefined) u[k] = this.pseudonym(v as string); } else if (USER_KEPT.has(k)) u[k] = v;
    }
    return u;
  }

  /** The name behind a pseudonym; always audited (store and log), found or not. */
  async reveal(pseudonym: string, actor: string, reason: string, from?: string): Promise<string | undefined> {
    const name = await this.store.pseudonymTarget(pseudonym);
    const record = { action: 'user.reveal', actor, reason, from: from ?? null, pseudonym, found: name !== undefined };
    await this.store.audit(record);
    this.logger?.warn(record, 'discovery: pseudonymised user revealed');
    return name;
  }

  // ---------------------------------------------------------------- administration

  async setSanction(appId: string, state: SanctionState | null, actor: string): Promise<void> {
    // The routes check ids too (routes.ts idParams); this keeps any other caller to real ids.
    // An app is a catalog entry (shipped or the administrator's) or an unclassified domain.
    if (!APP_ID_RE.test(appId) || (!appId.startsWith('unclassified:') && this.app(appId) === undefined)) {
      throw new DiscoveryError('DISCOVERY_APP_NOT_FOUND', `no app ${JSON.stringify(appId.slice(0, 80))}`);
    }
    if (state !== null && !(SANCTION_STATES as readonly string[]).includes(state)) throw new DiscoveryError('DISCOVERY_BAD_SANCTION', `sanction must be one of ${SANCTION_STATES.join(', ')}`);
    await this.store.putSanction(appId, state);
    if (state === null) this.sanctions.delete(appId); else this.sanctions.set(appId, state);
    await this.store.audit({ action: 'app.sanction', actor, appId, state });
  }

  /** Adds or replaces an administrator override and rebuilds the matcher (no restart). */
  async setOverride(id: string, override: unknown, actor: string): Promise<ResolvedApp> {
    const isNew = !this.file!.apps.some((a) => a.id === id);
    const errors = validateOverride(id, override, isNew);
    if (errors.length > 0) throw new DiscoveryError('DISCOVERY_OVERRIDE_INVALID', `override for ${id} is invalid: ${errors.join('; ')}`, { errors });
    // Administrator claims beat shipped entries (AppMatcher), so two of them naming one domain
    // would leave the winner to id order: refused before anything is stored.
    const claims = overrideDomainClaims(override as AppOverride);
    for (const [otherId, other] of this.catalog?.adminClaims ?? []) {
      if (otherId === id) continue;
      for (const [domain, field] of claims) {
        if (other.domains.has(domain)) {
          throw new DiscoveryError('DISCOVERY_OVERRIDE_CONFLICT', `${field}: ${domain} is already claimed by the administrator's app ${otherId}`, { field, domain, app: otherId });
        }
      }
    }
    await this.store.putOverride(id, override);
    this.rebuild();
    await this.store.audit({ action: 'app.override', actor, appId: id, override });
    return this.catalog!.apps.get(id)!;
  }

  async deleteOverride(id: string, actor: string): Promise<boolean> {
    if (!this.store.overrides().has(id)) return false;
    await this.store.putOverride(id, null);
    this.rebuild();
    await this.store.audit({ action: 'app.override.delete', actor, appId: id });
    return true;
  }

  overrides(): Record<string, unknown> { return Object.fromEntries(this.store.overrides()); }

  // ---------------------------------------------------------------- reports

  /** Granularity and aligned bounds for [fromMs, toMs): hourly rows while they are kept, else daily. */
  range(fromMs?: number, toMs?: number): ReportRange {
    const to = toMs ?? this.now() + 1;
    const from = fromMs ?? to - DAY_MS;
    if (from >= to) throw new DiscoveryError('DISCOVERY_BAD_RANGE', '`from` must be before `to`');
    const hourlyKeptFrom = Number(this.store.meta('hourlyKeptFromMs') ?? 0);
    const hourly = from >= hourlyKeptFrom && to - from <= this.settings.hourlyRetentionDays * DAY_MS;
    const unit = hourly ? HOUR_MS : DAY_MS;
    return { granularity: hourly ? 'hour' : 'day', fromMs: Math.floor(from / unit) * unit, toMs: Math.ceil(to / unit) * unit };
  }

  /**
   * Rollup rows of the range (pending changes written first), read lazily from LMDB: a report
   * holds one accumulator per app, never the rows themselves.
   */
  private async scan(r: ReportRange): Promise<Iterable<{ bucket: number; appId: string; deviceKey: string; userKey: string; value: Rollup }>> {
    await this.store.flush();
    return this.store.rows(r.granularity === 'hour' ? 'h' : 'd', r.fromMs, r.toMs);
  }

  private describe(appId: string): Pick<AppRow, 'name' | 'vendor' | 'category' | 'riskScore' | 'unclassified' | 'system'> {
    const app = this.catalog?.apps.get(appId);
    if (app !== undefined) return { name: app.name, vendor: app.vendor, category: app.category, riskScore: app.riskScore, unclassified: false, system: SYSTEM_CATEGORY_IDS.has(app.category) };
    const unclassified = appId.startsWith('unclassified:');
    return { name: unclassified ? appId.slice('unclassified:'.length) : appId, vendor: null, category: unclassified ? UNCLASSIFIED_CATEGORY : 'removed', riskScore: null, unclassified, system: false };
  }

  private appRow(id: string, a: Acc): AppRow {
    return {
      id, ...this.describe(id), sanction: this.sanctionOf(id),
      bytesUp: a.up, bytesDown: a.down, bytes: a.up + a.down, flows: a.flows, blocked: a.blocked,
      users: a.users.size, devices: a.devices.size, ips: a.ips.size, firstSeen: a.first, lastSeen: a.last,
    };
  }

  /** Every row of a report (filtered and sorted, before paging) with its range and totals. */
  private async allRows(q: ReportQuery): Promise<{ range: ReportRange; totals: { bytesUp: number; bytesDown: number; flows: number }; rows: AppRow[] }> {
    const r = this.range(q.fromMs, q.toMs);
    const accs = new Map<string, Acc>();
    for (const row of await this.scan(r)) {
      let a = accs.get(row.appId);
      if (a === undefined) accs.set(row.appId, (a = newAcc()));
      addTo(a, row.value, row.deviceKey, row.userKey);
    }
    let rows: AppRow[] = [...accs].map(([id, a]) => this.appRow(id, a));
    const totals = { bytesUp: 0, bytesDown: 0, flows: 0 };
    rows = rows.filter((row) => {
      if (q.includeUnclassified === false && row.unclassified) return false;
      if (q.minRisk !== undefined && (row.riskScore === null || row.riskScore < q.minRisk)) return false;
      if (q.maxRisk !== undefined && (row.riskScore === null || row.riskScore > q.maxRisk)) return false;
      if (q.sanction !== undefined && row.sanction !== q.sanction) return false;
      if (q.category !== undefined && row.category !== q.category) return false;
      if (q.q !== undefined && q.q !== '') {
        const needle = q.q.toLowerCase();
        if (!`${row.id} ${row.name} ${row.vendor ?? ''}`.toLowerCase().includes(needle)) return false;
      }
      return true;
    });
    for (const row of rows) { totals.bytesUp += row.bytesUp; totals.bytesDown += row.bytesDown; totals.flows += row.flows; }
    const sort = q.sort ?? 'bytes';
    const dir = (q.order ?? (sort === 'name' ? 'asc' : 'desc')) === 'asc' ? 1 : -1;
    rows.sort((a, b) => {
      const x = a[sort], y = b[sort];
      const c = typeof x === 'string' || typeof y === 'string' ? String(x).localeCompare(String(y)) : (x ?? -1) - (y ?? -1);
      return c !== 0 ? dir * c : a.id.localeCompare(b.id);
    });
    return { range: r, totals, rows };
  }

  /** One page of the report: `limit` is capped at reportMaxPageSize (the JSON answer stays small). */
  async report(q: ReportQuery = {}): Promise<{ range: ReportRange; total: number; offset: number; limit: number; catalogVersion: string; totals: { bytesUp: number; bytesDown: number; flows: number }; rows: AppRow[] }> {
    const { range, totals, rows } = await this.allRows(q);
    const limit = Math.min(q.limit ?? 50, this.settings.reportMaxPageSize);
    const offset = q.offset ?? 0;
    return { range, total: rows.length, offset, limit, catalogVersion: this.catalogVersion, totals, rows: rows.slice(offset, offset + limit) };
  }

  /**
   * The report as CSV text in chunks: every row for the range and filters (an export is not a
   * page, so reportMaxPageSize does not apply); `offset`/`limit` only when the caller gives them.
   * The text is produced chunk by chunk while the response is written, never as one string.
   */
  async reportCsv(q: ReportQuery = {}): Promise<{ total: number; rows: number; chunks: Iterable<string> }> {
    const { rows } = await this.allRows(q);
    const from = Math.min(q.offset ?? 0, rows.length);
    const to = q.limit === undefined ? rows.length : Math.min(rows.length, from + q.limit);
    return { total: rows.length, rows: to - from, chunks: csvChunks(rows, from, to) };
  }

  /** Devices (or users) of one app over a range, by bytes. */
  async drillDown(appId: string, by: 'devices' | 'users', fromMs?: number, toMs?: number): Promise<{ range: ReportRange; app: AppRow | null; rows: DrillRow[] }> {
    const r = this.range(fromMs, toMs);
    const groups = new Map<string, Acc & { name: string }>();
    // The app's own figures come from the same rows (not from a page of the full report, where a
    // small app beyond the first page would be missing).
    const total = newAcc();
    for (const row of await this.scan(r)) {
      if (row.appId !== appId) continue;
      addTo(total, row.value, row.deviceKey, row.userKey);
      const key = by === 'devices' ? row.deviceKey : row.userKey;
      if (key === '' && by === 'users') continue;
      let a = groups.get(key);
      if (a === undefined) groups.set(key, (a = { ...newAcc(), name: by === 'devices' ? (row.value.deviceName ?? key) : key }));
      if (by === 'devices' && row.value.deviceName !== undefined) a.name = row.value.deviceName;
      addTo(a, row.value, row.deviceKey, row.userKey);
    }
    const rows: DrillRow[] = [...groups].map(([key, a]) => ({
      key, name: a.name, bytesUp: a.up, bytesDown: a.down, flows: a.flows, blocked: a.blocked,
      related: by === 'devices' ? a.users.size : a.devices.size, ips: [...a.ips].sort(), firstSeen: a.first, lastSeen: a.last,
    })).sort((x, y) => (y.bytesUp + y.bytesDown) - (x.bytesUp + x.bytesDown) || x.key.localeCompare(y.key));
    const summary = total.devices.size > 0 ? this.appRow(appId, total) : null;
    return { range: r, app: summary, rows };
  }

  /**
   * Traffic over time for the console's charts: bytes per bucket of the range (hourly rows while
   * they are kept, else daily: the same choice as the report) for the `top` apps or categories by
   * bytes over the range, the rest summed as `other`. Bounded: at most `top` + 1 series of
   * (range / bucket) points, whatever the traffic.
   */
  async series(by: 'app' | 'category', top: number, fromMs?: number, toMs?: number): Promise<{ range: ReportRange; bucketMs: number; buckets: number[]; series: SeriesRow[] }> {
    const r = this.range(fromMs, toMs);
    const unit = r.granularity === 'hour' ? HOUR_MS : DAY_MS;
    const n = Math.max(1, Math.round((r.toMs - r.fromMs) / unit));
    const buckets = Array.from({ length: n }, (_, i) => r.fromMs + i * unit);
    const groups = new Map<string, { up: number[]; down: number[]; total: number }>();
    const groupOf = (appId: string): string => (by === 'app' ? appId : this.describe(appId).category);
    for (const row of await this.scan(r)) {
      const i = Math.floor((row.bucket - r.fromMs) / unit);
      if (i < 0 || i >= n) continue;
      const k = groupOf(row.appId);
      let g = groups.get(k);
      if (g === undefined) groups.set(k, (g = { up: new Array<number>(n).fill(0), down: new Array<number>(n).fill(0), total: 0 }));
      g.up[i]! += row.value.up;
      g.down[i]! += row.value.down;
      g.total += row.value.up + row.value.down;
    }
    const sorted = [...groups].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]));
    const series: SeriesRow[] = sorted.slice(0, top).map(([key, g]) => ({
      key, name: by === 'app' ? this.describe(key).name : key, bytesUp: g.up, bytesDown: g.down, bytes: g.total,
    }));
    const rest = sorted.slice(top);
    if (rest.length > 0) {
      const up = new Array<number>(n).fill(0), down = new Array<number>(n).fill(0);
      let total = 0;
      for (const [, g] of rest) { for (let i = 0; i < n; i++) { up[i]! += g.up[i]!; down[i]! += g.down[i]!; } total += g.total; }
      series.push({ key: 'other', name: `${rest.length} other${rest.length === 1 ? '' : 's'}`, bytesUp: up, bytesDown: down, bytes: total, others: rest.length });
    }
    return { range: r, bucketMs: unit, buckets, series };
  }

  /**
   * The other way round from drillDown: per device (rollup device key) or per user key, the apps
   * used over the range, by bytes. `key` narrows it to one device or user. At most `topApps` apps
   * are listed per row (`appCount` says how many there were), and at most `limit` rows.
   */
  async usage(by: 'devices' | 'users', o: { fromMs?: number; toMs?: number; key?: string; topApps: number; limit: number }): Promise<{ range: ReportRange; total: number; rows: UsageRow[] }> {
    const r = this.range(o.fromMs, o.toMs);
    const groups = new Map<string, { name: string; acc: Acc; apps: Map<string, { up: number; down: number; flows: number }> }>();
    for (const row of await this.scan(r)) {
      const key = by === 'devices' ? row.deviceKey : row.userKey;
      if (key === '' || (o.key !== undefined && key !== o.key)) continue;
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { name: by === 'devices' ? (row.value.deviceName ?? key) : key, acc: newAcc(), apps: new Map() }));
      if (by === 'devices' && row.value.deviceName !== undefined) g.name = row.value.deviceName;
      addTo(g.acc, row.value, row.deviceKey, row.userKey);
      let a = g.apps.get(row.appId);
      if (a === undefined) g.apps.set(row.appId, (a = { up: 0, down: 0, flows: 0 }));
      a.up += row.value.up; a.down += row.value.down; a.flows += row.value.flows;
    }
    const rows: UsageRow[] = [...groups].map(([key, g]) => {
      const apps = [...g.apps].sort((x, y) => (y[1].up + y[1].down) - (x[1].up + x[1].down) || x[0].localeCompare(y[0]));
      return {
        key, name: g.name, bytesUp: g.acc.up, bytesDown: g.acc.down, flows: g.acc.flows,
        related: by === 'devices' ? g.acc.users.size : g.acc.devices.size, firstSeen: g.acc.first, lastSeen: g.acc.last,
        appCount: apps.length,
        apps: apps.slice(0, o.topApps).map(([id, a]) => {
          const d = this.describe(id);
          return { id, name: d.name, category: d.category, sanction: this.sanctionOf(id), bytesUp: a.up, bytesDown: a.down, flows: a.flows };
        }),
      };
    }).sort((x, y) => (y.bytesUp + y.bytesDown) - (x.bytesUp + x.bytesDown) || x.key.localeCompare(y.key));
    return { range: r, total: rows.length, rows: rows.slice(0, o.limit) };
  }

  /** Retention (the `retention` job). */
  async applyRetention(): Promise<{ hourly: number; daily: number }> {
    const now = this.now();
    const hourCut = Math.floor((now - this.settings.hourlyRetentionDays * DAY_MS) / HOUR_MS) * HOUR_MS;
    const dayCut = Math.floor((now - this.settings.dailyRetentionDays * DAY_MS) / DAY_MS) * DAY_MS;
    const removed = await this.store.compact(hourCut, dayCut);
    this.logger?.info(removed, 'discovery retention applied');
    return removed;
  }

  /**
   * Periodic summary (the `reports` job): the apps of the last day as one OCSF 1.8.0 Base Event
   * (class 0, activity 99 Other). OCSF has no class for aggregated usage: Network Activity is one
   * connection between two endpoints, Device Inventory Info needs the device being inventoried.
   * The period is start_time/end_time, the figures are in `unmapped.discovery_summary`
   * (docs/DISCOVERY.md, "Jobs", lists its fields).
   */
  async summary(top = 20): Promise<DiscoverySummaryEvent> {
    const now = this.now();
    const { range, totals, rows } = await this.allRows({ fromMs: now - DAY_MS, toMs: now, sort: 'bytesUp' });
    const unsanctioned = rows.filter((r) => r.sanction === 'unsanctioned').sort((a, b) => b.bytes - a.bytes || a.id.localeCompare(b.id));
    const system = rows.filter((r) => r.system);
    const message = `Cloud-app discovery: ${rows.length} apps, ${totals.bytesUp} bytes up, ${totals.bytesDown} bytes down, ${totals.flows} flows; ${unsanctioned.length} unsanctioned apps used`;
    return buildDiscoverySummary(now, range.fromMs, range.toMs, message, {
      granularity: range.granularity, catalog_version: this.catalogVersion, apps: rows.length,
      totals: { bytes_up: totals.bytesUp, bytes_down: totals.bytesDown, flows: totals.flows },
      top_upload: rows.slice(0, top).map((r) => ({ id: r.id, name: r.name, category: r.category, bytes_up: r.bytesUp, bytes_down: r.bytesDown, flows: r.flows, users: r.users, devices: r.devices, sanction: r.sanction, ...(r.system ? { system: true } : {}) })),
      // System traffic is in `apps`, `totals` and `top_upload` (marked), never in `unsanctioned`
      // unless the administrator sanctioned it so; this says how much of the period it was.
      system_apps: system.length,
      system_totals: { bytes_up: system.reduce((n, r) => n + r.bytesUp, 0), bytes_down: system.reduce((n, r) => n + r.bytesDown, 0), flows: system.reduce((n, r) => n + r.flows, 0) },
      unsanctioned_apps: unsanctioned.length,
      unsanctioned: unsanctioned.slice(0, top).map((r) => ({ id: r.id, name: r.name, bytes_up: r.bytesUp, bytes_down: r.bytesDown, flows: r.flows, users: r.users, devices: r.devices })),
    });
  }

  /**
   * Hooks on the scheduler's well-known jobs (src/jobs/scheduler.ts): retention, catalog.reload,
   * and reports (the summary goes to `summarySink`, e.g. the forwarder's outbox).
   */
  registerJobs(scheduler: { addHook(job: string, hook: string, fn: () => unknown): unknown }, summarySink?: (summary: DiscoverySummaryEvent) => void): void {
    scheduler.addHook('retention', 'discovery', () => this.applyRetention());
    scheduler.addHook('catalog.reload', 'discovery', () => this.reloadCatalog());
    if (summarySink !== undefined) scheduler.addHook('reports', 'discovery', async () => { summarySink(await this.summary()); });
  }

  counterSnapshot(): Record<string, number> {
    return { ...this.counters.snapshot(), 'discovery.store_flushes': this.store.flushes, 'discovery.store_flush_errors': this.store.flushErrors };
  }
}

export { CatalogError };

const CSV_COLUMNS: Array<keyof AppRow> = ['id', 'name', 'vendor', 'category', 'riskScore', 'sanction', 'unclassified', 'bytesUp', 'bytesDown', 'bytes', 'flows', 'users', 'devices', 'ips', 'firstSeen', 'lastSeen'];

export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // RFC 4180 quoting; a leading =,+,-,@ is prefixed with ' so spreadsheets do not run it as a formula.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function csvLine(r: AppRow): string {
  return CSV_COLUMNS.map((c) => csvCell(c === 'firstSeen' || c === 'lastSeen' ? new Date(r[c]).toISOString() : r[c])).join(',');
}

const CSV_HEADER = CSV_COLUMNS.join(',');
/** Rows per chunk of a streamed CSV: large enough for few writes, small enough to stay bounded. */
const CSV_CHUNK_ROWS = 256;

function* csvChunks(rows: readonly AppRow[], from: number, to: number): Generator<string> {
  yield CSV_HEADER + '\r\n';
  for (let i = from; i < to; i += CSV_CHUNK_ROWS) {
    const end = Math.min(to, i + CSV_CHUNK_ROWS);
    const lines: string[] = [];
    for (let j = i; j < end; j++) lines.push(csvLine(rows[j]!));
    yield lines.join('\r\n') + '\r\n';
  }
}

export function appsToCsv(rows: AppRow[]): string {
  return [...csvChunks(rows, 0, rows.length)].join('');
}
