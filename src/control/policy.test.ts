/**
 * The verdict policy: each rule kind, each subject kind of exceptions and overrides, the order
 * override > exception > rule > sanction > default, expiry, and the store's refusals (a refused
 * change changes nothing and is not audited).
 */
import { after, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlPolicy, type ExceptionScope, type PolicyApp, type PolicyApps, type PolicyClient } from './policy.js';
import { PolicyStore, CONTROL_OVERRIDE_MIN_DURATION_MS, type PolicyCatalog } from './policy-store.js';
import { isOutpostError } from '../errors.js';
import type { VerdictRequest } from './policy-types.js';

const root = mkdtempSync(join(tmpdir(), 'outpost-policy-'));
after(() => rmSync(root, { recursive: true, force: true }));

const APPS: Record<string, PolicyApp & { domains: string[] }> = {
  chatgpt: { id: 'chatgpt', name: 'ChatGPT', category: 'generative-ai', riskScore: 6.5, domains: ['chatgpt.com', 'oaistatic.com'] },
  slack: { id: 'slack', name: 'Slack', category: 'collaboration', riskScore: 2, domains: ['slack.com'] },
  dropbox: { id: 'dropbox', name: 'Dropbox', category: 'file-sharing', riskScore: 4, domains: ['dropbox.com'] },
  box: { id: 'box', name: 'Box', category: 'file-sharing', riskScore: 3, domains: ['box.com'] },
};

/** A catalog and sanction table standing in for discovery (suffix match, unclassified by the last two labels). */
function fakeApps(sanctions: Map<string, 'sanctioned' | 'unsanctioned' | 'monitored'>): PolicyApps & PolicyCatalog {
  return {
    appOf(name) {
      for (const a of Object.values(APPS)) if (a.domains.some((d) => name === d || name.endsWith(`.${d}`))) return { id: a.id, name: a.name, category: a.category, riskScore: a.riskScore };
      const reg = name.split('.').slice(-2).join('.');
      return reg.includes('.') ? { id: `unclassified:${reg}`, name: reg, category: 'unclassified' } : undefined;
    },
    sanctionOf: (id) => sanctions.get(id) ?? 'monitored',
    hasApp: (id) => id in APPS || id.startsWith('unclassified:'),
    hasCategory: (c) => ['generative-ai', 'collaboration', 'file-sharing', 'unclassified'].includes(c),
  };
}

const ADMIN = { name: 'ops', address: '127.0.0.1' };
const T0 = Date.UTC(2026, 0, 5, 10);

/** Clients: 10.0.0.1 is alice's laptop, 10.0.0.2 bob's, 10.0.0.3 an unknown device. */
const CLIENTS: Record<string, PolicyClient> = {
  '10.0.0.1': { deviceId: 'dev-alice', macs: ['02:00:00:00:00:01'], userNames: ['alice', 'CORP\\alice'], user: 'CORP\\alice' },
  '10.0.0.2': { deviceId: 'dev-bob', macs: ['02:00:00:00:00:02'], userNames: ['bob'], user: 'bob' },
};

let n = 0;
function setup(sanctions = new Map<string, 'sanctioned' | 'unsanctioned' | 'monitored'>([['chatgpt', 'unsanctioned'], ['slack', 'sanctioned']])) {
  let now = T0;
  const apps = fakeApps(sanctions);
  const store = new PolicyStore(apps, () => now);
  store.open(join(root, `s${n++}`));
  const audits: string[] = [];
  store.onAudit = (r) => audits.push(r.action);
  const policy = new ControlPolicy({ index: store.index, apps, identity: (ip) => CLIENTS[ip] });
  const ask = (name: string, clientIp = '10.0.0.1', extra: Partial<VerdictRequest> = {}) =>
    policy.decide({ name, nameSource: 'tls-sni', clientIp, nowMs: now, ...extra });
  return { store, policy, ask, audits, sanctions, advance: (ms: number) => { now += ms; }, now: () => now };
}

describe('sanction and default', () => {
  test('unsanctioned → block, sanctioned and monitored → allow, no app → default allow (counted)', () => {
    const { ask, policy } = setup();
    assert.deepEqual(ask('chatgpt.com'), { verdict: 'block', reason: 'unsanctioned', ruleId: 'sanction:chatgpt', appId: 'chatgpt', appName: 'ChatGPT', deviceId: 'dev-alice', user: 'CORP\\alice' });
    assert.deepEqual(ask('files.slack.com', '10.0.0.3'), { verdict: 'allow', reason: 'default', ruleId: 'sanction:sanctioned', appId: 'slack', appName: 'Slack' });
    assert.equal(ask('www.dropbox.com').ruleId, 'sanction:monitored');
    const none = ask('localhost');
    assert.deepEqual([none.verdict, none.reason, none.ruleId], ['allow', 'default', 'default']);
    const bad = ask('evil.com\nserver:');
    assert.deepEqual([bad.verdict, bad.reason], ['allow', 'default']);
    const c = policy.counters.snapshot();
    assert.equal(c['control.verdicts'], 5);
    assert.equal(c['control.verdicts_default'], 2);
    assert.equal(c['control.names_invalid'], 1);
    assert.equal(c['control.verdicts_blocked'], 1);
    assert.equal(c['control.verdicts_sanction'], 3);
  });

  test('names are normalised before matching (case, trailing dot)', () => {
    const { ask } = setup();
    assert.equal(ask('ChatGPT.COM.').verdict, 'block');
  });
});

describe('rules', () => {
  test('by app: blocks a sanctioned app, allows an unsanctioned one', async () => {
    const { store, ask } = setup();
    const r = await store.putRule({ match: { app: 'slack' }, action: 'block' }, ADMIN);
    assert.deepEqual([ask('slack.com').verdict, ask('slack.com').reason, ask('slack.com').ruleId], ['block', 'rule', r.id]);
    await store.putRule({ match: { app: 'chatgpt' }, action: 'allow' }, ADMIN);
    assert.deepEqual([ask('chatgpt.com').verdict, ask('chatgpt.com').reason], ['allow', 'rule']);
  });

  test('by category', async () => {
    const { store, ask } = setup();
    const r = await store.putRule({ match: { category: 'file-sharing' }, action: 'block' }, ADMIN);
    assert.equal(ask('www.dropbox.com').ruleId, r.id);
    assert.equal(ask('box.com').verdict, 'block');
    assert.equal(ask('slack.com').verdict, 'allow');
  });

  test('by domain suffix: the name and every name below it, not a look-alike', async () => {
    const { store, ask } = setup();
    const r = await store.putRule({ match: { domain: 'Example.ORG.' }, action: 'block' }, ADMIN);
    assert.equal(r.match.domain, 'example.org', 'stored normalised');
    assert.equal(ask('example.org').verdict, 'block');
    assert.equal(ask('a.b.example.org').ruleId, r.id);
    assert.equal(ask('notexample.org').verdict, 'allow');
    // The longest suffix decides.
    const allow = await store.putRule({ match: { domain: 'ok.example.org' }, action: 'allow' }, ADMIN);
    assert.deepEqual([ask('x.ok.example.org').verdict, ask('x.ok.example.org').ruleId], ['allow', allow.id]);
  });

  test('by risk score: the highest threshold at or below the score; unclassified names have none', async () => {
    const { store, ask } = setup(new Map());
    const r5 = await store.putRule({ match: { minRiskScore: 5 }, action: 'block' }, ADMIN);
    assert.equal(ask('chatgpt.com').ruleId, r5.id);
    assert.equal(ask('dropbox.com').verdict, 'allow', 'risk 4 < 5');
    const r35 = await store.putRule({ match: { minRiskScore: 3.5 }, action: 'block' }, ADMIN);
    assert.equal(ask('dropbox.com').ruleId, r35.id);
    assert.equal(ask('chatgpt.com').ruleId, r5.id, 'the higher threshold that matches');
    assert.equal(ask('unknown-site.net').verdict, 'allow');
  });

  test('specificity: app before domain before category before risk; block beats allow on one key', async () => {
    const { store, ask } = setup(new Map());
    const risk = await store.putRule({ match: { minRiskScore: 1 }, action: 'block' }, ADMIN);
    assert.equal(ask('box.com').ruleId, risk.id);
    const cat = await store.putRule({ match: { category: 'file-sharing' }, action: 'allow' }, ADMIN);
    assert.equal(ask('box.com').ruleId, cat.id);
    const dom = await store.putRule({ match: { domain: 'box.com' }, action: 'block' }, ADMIN);
    assert.equal(ask('box.com').ruleId, dom.id);
    const app = await store.putRule({ match: { app: 'box' }, action: 'allow' }, ADMIN);
    assert.equal(ask('box.com').ruleId, app.id);
    const appBlock = await store.putRule({ match: { app: 'box' }, action: 'block' }, ADMIN);
    assert.deepEqual([ask('box.com').verdict, ask('box.com').ruleId], ['block', appBlock.id]);
  });

  test('replace and delete', async () => {
    const { store, ask, audits } = setup();
    const r = await store.putRule({ match: { app: 'slack' }, action: 'block' }, ADMIN);
    await store.putRule({ match: { app: 'slack' }, action: 'allow', note: 'approved' }, ADMIN, r.id);
    assert.equal(ask('slack.com').verdict, 'allow');
    assert.equal(store.getRule(r.id).note, 'approved');
    await store.deleteRule(r.id, ADMIN);
    assert.equal(ask('slack.com').reason, 'default');
    assert.deepEqual(audits, ['control.rule.create', 'control.rule.update', 'control.rule.delete']);
  });
});

describe('exceptions', () => {
  test('per user (any spelling the identity gives), per device (uid or MAC), per group; the rest still blocked', async () => {
    const { store, ask } = setup();
    const byUser = await store.putException({ subject: { user: 'corp\\ALICE' } }, ADMIN);
    assert.deepEqual([ask('chatgpt.com').verdict, ask('chatgpt.com').reason, ask('chatgpt.com').ruleId], ['allow', 'exception', byUser.id]);
    assert.equal(ask('chatgpt.com', '10.0.0.2').verdict, 'block', 'bob has no exception');
    await store.deleteException(byUser.id, ADMIN);

    const byDevice = await store.putException({ subject: { device: 'dev-bob' } }, ADMIN);
    assert.equal(ask('chatgpt.com', '10.0.0.2').ruleId, byDevice.id);
    assert.equal(ask('chatgpt.com').verdict, 'block');
    await store.deleteException(byDevice.id, ADMIN);

    const byMac = await store.putException({ subject: { device: '02:00:00:00:00:99' } }, ADMIN);
    assert.equal(ask('chatgpt.com', '10.0.0.3').verdict, 'block', 'unknown device, no MAC given');
    assert.equal(ask('chatgpt.com', '10.0.0.3', { clientMac: '02:00:00:00:00:99' }).ruleId, byMac.id, 'the MAC of the packet');
    await store.deleteException(byMac.id, ADMIN);

    await store.putGroup('research', { users: ['bob'], devices: ['02:00:00:00:00:01'] }, ADMIN);
    const byGroup = await store.putException({ subject: { group: 'research' } }, ADMIN);
    assert.equal(ask('chatgpt.com', '10.0.0.2').ruleId, byGroup.id, 'bob is a member');
    assert.equal(ask('chatgpt.com', '10.0.0.1').ruleId, byGroup.id, "alice's laptop's MAC is a member");
    assert.equal(ask('chatgpt.com', '10.0.0.3').verdict, 'block');
  });

  test('scoped to one app, category or domain; an exception beats a block rule', async () => {
    const { store, ask } = setup();
    await store.putRule({ match: { category: 'file-sharing' }, action: 'block' }, ADMIN);
    const app = await store.putException({ subject: { user: 'bob' }, scope: { app: 'dropbox' } }, ADMIN);
    assert.equal(ask('dropbox.com', '10.0.0.2').ruleId, app.id);
    assert.equal(ask('box.com', '10.0.0.2').reason, 'rule', 'scope is dropbox only');
    assert.equal(ask('chatgpt.com', '10.0.0.2').reason, 'unsanctioned');
    const cat = await store.putException({ subject: { user: 'alice' }, scope: { category: 'generative-ai' } }, ADMIN);
    assert.equal(ask('chatgpt.com').ruleId, cat.id);
    assert.equal(ask('box.com').reason, 'rule');
    const dom = await store.putException({ subject: { user: 'alice' }, scope: { domain: 'box.com' } }, ADMIN);
    assert.equal(ask('upload.box.com').ruleId, dom.id);
  });
});

describe('overrides', () => {
  test('"allow this app for this user for 1 h": allowed until it expires, then the rule again; beats an exception', async () => {
    const { store, ask, advance } = setup();
    await store.putException({ subject: { user: 'alice' }, scope: { app: 'slack' } }, ADMIN);
    const o = await store.addOverride({ subject: { user: 'alice' }, app: 'chatgpt', durationMs: 3_600_000, reason: 'quarterly report' }, ADMIN);
    assert.equal(o.verdict, 'allow');
    assert.deepEqual([ask('chatgpt.com').verdict, ask('chatgpt.com').reason, ask('chatgpt.com').ruleId], ['allow', 'override', o.id]);
    assert.equal(ask('oaistatic.com').ruleId, o.id, 'every domain of the app');
    assert.equal(ask('chatgpt.com', '10.0.0.2').verdict, 'block', 'only alice');
    const block = await store.addOverride({ subject: { user: 'alice' }, app: 'slack', verdict: 'block', durationMs: 600_000, reason: 'incident 42' }, ADMIN);
    assert.deepEqual([ask('slack.com').verdict, ask('slack.com').ruleId], ['block', block.id], 'an override beats the exception');
    advance(3_600_000);
    assert.equal(ask('chatgpt.com').verdict, 'block', 'expired at createdMs + durationMs');
    assert.equal(ask('slack.com').reason, 'exception');
    assert.equal(store.listOverrides().length, 0);
    assert.equal(await store.expire(), 2);
    assert.equal(store.listOverrides(true).length, 0);
  });

  test('per device and per group; the latest override for an app wins; revoke', async () => {
    const { store, ask, advance } = setup();
    const dev = await store.addOverride({ subject: { device: 'dev-bob' }, app: 'chatgpt', durationMs: 600_000, reason: 'demo' }, ADMIN);
    assert.equal(ask('chatgpt.com', '10.0.0.2').ruleId, dev.id);
    await store.putGroup('sales', { users: ['alice'] }, ADMIN);
    advance(1000);
    const grp = await store.addOverride({ subject: { group: 'sales' }, app: 'chatgpt', durationMs: 600_000, reason: 'pilot' }, ADMIN);
    assert.equal(ask('chatgpt.com').ruleId, grp.id);
    advance(1000);
    const later = await store.addOverride({ subject: { user: 'alice' }, app: 'chatgpt', verdict: 'block', durationMs: 600_000, reason: 'pilot over' }, ADMIN);
    assert.deepEqual([ask('chatgpt.com').verdict, ask('chatgpt.com').ruleId], ['block', later.id]);
    await store.revokeOverride(later.id, ADMIN);
    assert.equal(ask('chatgpt.com').ruleId, grp.id);
  });
});

describe('refused changes change nothing and are not audited', () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => { s = setup(); });

  const refused = async (code: string, fn: () => Promise<unknown>) => {
    const before = JSON.stringify(s.store.state());
    const audits = s.audits.length;
    await assert.rejects(fn, (e: unknown) => isOutpostError(e) && e.code === code);
    assert.equal(JSON.stringify(s.store.state()), before);
    assert.equal(s.audits.length, audits);
  };

  test('unknown app, category, group; two matches; not a name; durations out of bounds', async () => {
    await refused('CONTROL_INVALID', () => s.store.putRule({ match: { app: 'no-such-app' }, action: 'block' }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.putRule({ match: { category: 'weapons' }, action: 'block' }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.putRule({ match: { app: 'slack', domain: 'slack.com' }, action: 'block' }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.putRule({ match: { domain: 'a b.com' }, action: 'block' }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.putException({ subject: { group: 'nobody' } }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.putException({ subject: { user: 'alice', device: 'dev-alice' } }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.putException({ subject: { user: 'alice' }, scope: { minRiskScore: 3 } as unknown as ExceptionScope }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.addOverride({ subject: { user: 'alice' }, app: 'chatgpt', durationMs: CONTROL_OVERRIDE_MIN_DURATION_MS - 1, reason: 'x' }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.addOverride({ subject: { user: 'alice' }, app: 'chatgpt', durationMs: 8 * 86_400_000, reason: 'x' }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.addOverride({ subject: { user: 'alice\n' }, app: 'chatgpt', durationMs: 600_000, reason: 'x' }, ADMIN));
    await refused('CONTROL_INVALID', () => s.store.putGroup('Bad Id', {}, ADMIN));
    await refused('CONTROL_NOT_FOUND', () => s.store.deleteRule('rule-000000000000', ADMIN));
    await refused('CONTROL_NOT_FOUND', () => s.store.putRule({ match: { app: 'slack' }, action: 'block' }, ADMIN, 'rule-000000000000'));
  });

  test('a group named by an exception cannot be removed', async () => {
    await s.store.putGroup('g1', { users: ['alice'] }, ADMIN);
    const e = await s.store.putException({ subject: { group: 'g1' } }, ADMIN);
    await refused('CONTROL_IN_USE', () => s.store.deleteGroup('g1', ADMIN));
    await s.store.deleteException(e.id, ADMIN);
    await s.store.addOverride({ subject: { group: 'g1' }, app: 'chatgpt', durationMs: 600_000, reason: 'pilot' }, ADMIN);
    await refused('CONTROL_IN_USE', () => s.store.deleteGroup('g1', ADMIN));
    s.advance(600_000);
    await s.store.deleteGroup('g1', ADMIN);
    assert.deepEqual(s.store.listGroups(), []);
  });
});

test('the state survives a reopen; the audit trail says who did what, newest first', async () => {
  const dir = join(root, 'reopen');
  const apps = fakeApps(new Map([['chatgpt', 'unsanctioned']]));
  const a = new PolicyStore(apps, () => T0);
  a.open(dir);
  const r = await a.putRule({ match: { app: 'slack' }, action: 'block' }, ADMIN);
  const o = await a.addOverride({ subject: { user: 'alice' }, app: 'chatgpt', durationMs: 3_600_000, reason: 'report' }, { name: 'helpdesk' });
  await a.close();
  const b = new PolicyStore(apps, () => T0 + 1000);
  b.open(dir);
  assert.deepEqual(b.listRules(), [r]);
  assert.deepEqual(b.listOverrides(), [o]);
  const log = b.auditLog(10);
  assert.deepEqual(log.map((x) => [x.action, x.actor, x.id]), [['control.override.create', 'helpdesk', o.id], ['control.rule.create', 'ops', r.id]]);
  assert.equal(log[0]!.reason, 'report');
  assert.equal(await b.trimAudit(1), 1);
  assert.equal(b.auditLog(10).length, 1);
  await b.close();
});
