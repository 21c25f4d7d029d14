/**
 * The control policy's running parts, made by the daemon after devices and discovery: the policy
 * store (LMDB, `<dataDir>/control`), the VerdictPolicy the inline path asks, the verdict
 * recorder that turns reported decisions into events on the event pipeline, and the routes
 * (/v1/control/..., /v1/discovery/blocklist), counters and job hooks.
 *
 * It has no configuration section of its own: the policy's bounds are constants with their
 * units in their names (./policy-store.ts), and the state is set through the API.
 */
import { join } from 'node:path';
import type { AreaJobHook, AreaParts } from '../area.js';
import type { Logger } from '../telemetry/logger.js';
import type { OutpostEvent } from '../events/pipeline.js';
import { buildResourceApiActivity } from '../events/api-activity.js';
import type { DnsNameCache } from '../protocols/dns/name-cache.js';
import type { DeviceIdentity } from '../devices/identity.js';
import type { Discovery } from '../discovery/discovery.js';
import { APP_ID_RE } from '../discovery/catalog.js';
import { CATEGORY_IDS, UNCLASSIFIED_CATEGORY } from '../discovery/taxonomy.js';
import { ControlPolicy, type PolicyApps, type PolicyIdentity } from './policy.js';
import { PolicyStore, type PolicyCatalog } from './policy-store.js';
import { buildVerdictEvent, isReported, type VerdictFlowContext } from './verdict-event.js';
import type { VerdictDecision } from './policy-types.js';
import { BlocklistCounters, type BlocklistEntry } from './blocklist.js';
import { controlApiPlugins } from './policy-routes.js';

export interface PolicyDeps {
  dataDir: string;
  logger?: Logger;
  discovery: Discovery | null;
  identity: DeviceIdentity | null;
  /** The DNS name cache (addresses of blocked names for the nft list). */
  nameCache?: DnsNameCache;
  /** The event pipeline's emit (late-bound by the daemon): verdict and audit events go through it. */
  emit?: (ev: OutpostEvent) => void;
  now?: () => number;
}

/** What the inline path uses: ask, then report what it did. */
export interface VerdictRecorder {
  /**
   * Builds the event of a decision that is reported (blocks, exception and override allows;
   * `isReported`) and sends it through the event pipeline; returns it, or undefined when the
   * decision is not one to report.
   */
  record(decision: VerdictDecision, flow: VerdictFlowContext): OutpostEvent | undefined;
}

export interface PolicyParts extends AreaParts {
  policy: ControlPolicy;
  store: PolicyStore;
  verdicts: VerdictRecorder;
  /** The decided names block lists are made of (GET /v1/discovery/blocklist). */
  blocklistEntries(): BlocklistEntry[];
}

/** Discovery's matcher, catalog and sanctions as the policy reads them. */
export function discoveryApps(d: Discovery): PolicyApps & PolicyCatalog {
  return {
    appOf: (name) => {
      const m = d.currentMatcher.match(name, undefined);
      if (m === undefined) return undefined;
      if (m.app === null) return { id: m.appId, name: m.registrableDomain ?? m.appId, category: UNCLASSIFIED_CATEGORY };
      return { id: m.appId, name: m.app.name, category: m.app.category, riskScore: m.app.riskScore };
    },
    sanctionOf: (id) => d.sanctionOf(id),
    hasApp: (id) => APP_ID_RE.test(id) && (id.startsWith('unclassified:') || d.app(id) !== undefined),
    hasCategory: (c) => CATEGORY_IDS.has(c) || c === UNCLASSIFIED_CATEGORY,
  };
}

/** Device identity's answer for a client address at a time, as the policy reads it. */
export function identityClients(identity: DeviceIdentity): PolicyIdentity {
  return (ip, atMs) => {
    const c = identity.contextAt(ip, atMs);
    if (c === undefined) return undefined;
    const u = c.user;
    const userNames = u === undefined ? [] : [u.name, ...(u.domain !== undefined ? [`${u.domain}\\${u.name}`] : []), ...(u.upn !== undefined ? [u.upn] : [])];
    return {
      deviceId: c.device.uid,
      macs: c.device.macs,
      userNames,
      ...(u !== undefined ? { user: u.domain !== undefined ? `${u.domain}\\${u.name}` : u.name } : {}),
    };
  };
}

export async function createPolicy(deps: PolicyDeps): Promise<PolicyParts> {
  const apps = deps.discovery ? discoveryApps(deps.discovery) : null;
  const store = new PolicyStore(apps, deps.now);
  store.open(join(deps.dataDir, 'control'));
  const policy = new ControlPolicy({ index: store.index, apps, identity: deps.identity ? identityClients(deps.identity) : null });
  let eventsRecorded = 0;
  store.onAudit = (r, timeMs) => {
    deps.logger?.info({ audit: r }, 'control policy changed');
    deps.emit?.(buildResourceApiActivity({
      timeMs, operation: r.action, actor: r.actor, ...(r.address !== undefined ? { address: r.address } : {}),
      resource: { type: `control.${r.kind}`, uid: r.id }, activity: r.action.endsWith('.create') ? 'create' : r.action.endsWith('.update') ? 'update' : 'delete',
      details: { ...(r.item !== undefined ? { item: r.item } : {}), ...(r.reason !== undefined ? { reason: r.reason } : {}) },
    }));
  };
  const verdicts: VerdictRecorder = {
    record: (decision, flow) => {
      if (!isReported(decision)) return undefined;
      const ev = buildVerdictEvent(decision, flow);
      eventsRecorded++;
      deps.emit?.(ev);
      return ev;
    },
  };
  const blocklistEntries = (): BlocklistEntry[] => {
    const candidates = new Set<string>();
    for (const app of deps.discovery?.apps() ?? []) for (const dom of app.domains) candidates.add(dom);
    for (const [id] of deps.discovery?.store.sanctions() ?? []) if (id.startsWith('unclassified:')) candidates.add(id.slice('unclassified:'.length));
    for (const r of store.listRules()) if (r.match.domain !== undefined) candidates.add(r.match.domain);
    const out: BlocklistEntry[] = [];
    for (const name of candidates) {
      const d = policy.decideName(name);
      out.push({ domain: name, verdict: d.verdict, reason: d.reason, ruleId: d.ruleId, ...(d.appId !== undefined ? { appId: d.appId } : {}), ...(d.appName !== undefined ? { appName: d.appName } : {}) });
    }
    return out;
  };
  const blocklistCounters = new BlocklistCounters();
  const jobs: AreaJobHook[] = [
    { job: 'expiry', name: 'control-overrides', run: () => store.expire() },
    { job: 'retention', name: 'control-audit', run: () => store.trimAudit() },
  ];
  return {
    policy, store, verdicts, blocklistEntries,
    services: [{ name: 'control-policy', start: async () => {}, stop: () => store.close() }],
    routes: controlApiPlugins({
      store, policy, blocklistEntries, blocklistCounters,
      catalogVersion: () => deps.discovery?.catalogVersion ?? 'none',
      ...(deps.nameCache ? { nameCache: deps.nameCache } : {}),
      now: deps.now ?? Date.now,
    }),
    metrics: { control: () => ({ ...policy.counters.snapshot(), ...blocklistCounters.snapshot(), 'control.verdict_events': eventsRecorded }) },
    jobs,
  };
}
