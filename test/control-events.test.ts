/**
 * Verdicts as events: a decision of the control policy (over real discovery and device identity)
 * becomes a Network Activity event with the Security Control profile (action Denied, disposition
 * Blocked, the rule that decided), goes through the event pipeline (device, user and app added),
 * validates against OCSF 1.8.0, and discovery's rollups count blocked attempts per app, device
 * and user. Allowed-by-exception decisions say so; plain allows make no event.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Discovery } from '../src/discovery/discovery.js';
import { DeviceStore } from '../src/devices/store.js';
import { DeviceIdentity } from '../src/devices/identity.js';
import { EventPipeline, type OutpostEvent } from '../src/events/pipeline.js';
import { createPolicy } from '../src/control/policy-area.js';
import { buildVerdictEvent, type VerdictFlowContext } from '../src/control/verdict-event.js';
import { loadOcsfSchema } from './support/ocsf-schema.js';
import { toCef } from '../src/forward/cef.js';
import { parseCef } from './support/cef-parse.js';

const OCSF_DIR = process.env['OUTPOST_OCSF_DIR'] ?? resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const dir = mkdtempSync(join(tmpdir(), 'outpost-control-ev-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const A_IP = '10.0.0.5';
const A_MAC = '02:00:00:00:0a:05';
const B_IP = '10.0.0.6';

test('blocked and excepted verdicts: events through the pipeline, OCSF-valid, rolled up per app, device and user', async (t) => {
  const t0 = Date.now() - 60_000;
  const discovery = new Discovery({ dataDir: dir });
  await discovery.open();
  await discovery.setSanction('chatgpt', 'unsanctioned', 'test');
  await discovery.setSanction('dropbox', 'unsanctioned', 'test');
  await discovery.setSanction('slack', 'sanctioned', 'test');
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  identity.applyAgentReport({ agentId: 'lab-a', hostname: 'alpha', macs: [A_MAC], addresses: [A_IP], users: [{ name: 'alice', domain: 'CORP' }] }, t0);
  identity.applyAgentReport({ agentId: 'lab-b', hostname: 'bravo', macs: ['02:00:00:00:0a:06'], addresses: [B_IP], users: [{ name: 'bob' }] }, t0);
  const out: OutpostEvent[] = [];
  let pipeline: EventPipeline | undefined;
  const parts = await createPolicy({ dataDir: dir, discovery, identity, emit: (ev) => pipeline?.emit(ev) });
  pipeline = new EventPipeline({ stages: [identity.stage, discovery.stage], outputs: [(ev) => out.push(ev)] });
  try {
    const flow = (name: string, clientIp: string, extra: Partial<VerdictFlowContext> = {}): VerdictFlowContext => ({
      timeMs: t0 + 1000, clientIp, clientPort: 50123, serverIp: '203.0.113.9', serverPort: 443, protocolNum: 6, name, nameSource: 'tls-sni', enforcement: 'reset', ...extra,
    });
    const ask = (name: string, clientIp: string) => parts.policy.decide({ name, nameSource: 'tls-sni', clientIp, nowMs: t0 + 1000 });

    // Blocked: unsanctioned, twice by alice, once by bob (over QUIC: dropped, activity Refuse).
    const d1 = ask('chatgpt.com', A_IP);
    assert.deepEqual([d1.verdict, d1.reason, d1.ruleId, d1.deviceId !== undefined, d1.user], ['block', 'unsanctioned', 'sanction:chatgpt', true, 'CORP\\alice']);
    parts.verdicts.record(d1, flow('chatgpt.com', A_IP));
    parts.verdicts.record(ask('chat.chatgpt.com', A_IP), flow('chat.chatgpt.com', A_IP));
    parts.verdicts.record(ask('chatgpt.com', B_IP), flow('chatgpt.com', B_IP, { protocolNum: 17, nameSource: 'quic-sni', enforcement: 'drop' }));
    // Allowed by an exception: bob may use Dropbox.
    const exc = await parts.store.putException({ subject: { user: 'bob' }, scope: { app: 'dropbox' } }, { name: 'ops' });
    const d2 = ask('www.dropbox.com', B_IP);
    assert.deepEqual([d2.verdict, d2.reason, d2.ruleId], ['allow', 'exception', exc.id]);
    parts.verdicts.record(d2, flow('www.dropbox.com', B_IP));
    // A plain allow (sanctioned) makes no event.
    assert.equal(parts.verdicts.record(ask('slack.com', A_IP), flow('slack.com', A_IP)), undefined);

    const net = out.filter((e) => e.class_uid === 4001) as Array<Record<string, any>>;
    assert.equal(net.length, 4);
    const [b1, , b3, x] = net;
    assert.equal(b1!.action_id, 2);
    assert.equal(b1!.action, 'Denied');
    assert.equal(b1!.disposition_id, 2);
    assert.equal(b1!.disposition, 'Blocked');
    assert.equal(b1!.activity_id, 3, 'TCP reset');
    assert.equal(b3!.activity_id, 5, 'QUIC dropped: refused');
    assert.deepEqual(b1!.firewall_rule, { uid: 'sanction:chatgpt', name: 'ChatGPT is unsanctioned', type: 'sanction', condition: 'app:chatgpt' });
    assert.deepEqual(b1!.metadata.profiles.sort(), ['host', 'security_control']);
    assert.equal(b1!.app_name, 'ChatGPT', 'discovery named the app');
    assert.equal(b1!.actor.user.name, 'alice', 'device identity added the user');
    assert.equal(b1!.device.hostname, 'alpha');
    assert.equal(b1!.dst_endpoint.hostname, 'chatgpt.com');
    assert.equal(b1!.unmapped.hostname_source, 'sni');
    assert.equal(x!.action_id, 1);
    assert.equal(x!.disposition_id, 1);
    assert.equal(x!.firewall_rule.type, 'exception');
    assert.equal(x!.firewall_rule.uid, exc.id);
    assert.match(x!.message, new RegExp(`Allowed www\\.dropbox\\.com by exception ${exc.id}`));
    // Forwarded as CEF: deviceAction is the verdict, `reason` the rule that decided.
    const cef = parseCef(toCef(b1!));
    assert.equal(cef.ext.get('act'), 'Denied');
    assert.equal(cef.ext.get('reason'), 'ChatGPT is unsanctioned');
    assert.equal(parseCef(toCef(x!)).ext.get('act'), 'Allowed');
    const audit = out.filter((e) => e.class_uid === 6003) as Array<Record<string, any>>;
    assert.equal(audit.length, 1);
    assert.deepEqual([audit[0]!.activity_id, audit[0]!.api.operation, audit[0]!.resources[0]], [1, 'control.exception.create', { type: 'control.exception', uid: exc.id }]);

    // Rollups: blocked attempts per app, per device and per user; no bytes, no flows.
    const report = await discovery.report({ fromMs: t0 - 3_600_000, toMs: t0 + 3_600_000 });
    const chat = report.rows.find((r) => r.id === 'chatgpt')!;
    assert.deepEqual([chat.blocked, chat.bytes, chat.flows, chat.users, chat.devices], [3, 0, 0, 2, 2]);
    assert.equal(report.rows.find((r) => r.id === 'dropbox')!.blocked, 0, 'the excepted attempt was allowed');
    const users = await discovery.drillDown('chatgpt', 'users', t0 - 3_600_000, t0 + 3_600_000);
    assert.deepEqual(users.rows.map((r) => [r.key, r.blocked]), [['alice', 2], ['bob', 1]].sort((a, b) => (b[1] as number) - (a[1] as number)));
    const devices = await discovery.drillDown('chatgpt', 'devices', t0 - 3_600_000, t0 + 3_600_000);
    assert.deepEqual(devices.rows.map((r) => [r.name, r.blocked]).sort(), [['alpha', 2], ['bravo', 1]]);
    const sorted = await discovery.report({ fromMs: t0 - 3_600_000, toMs: t0 + 3_600_000, sort: 'blocked' });
    assert.equal(sorted.rows[0]!.id, 'chatgpt');
    assert.equal(discovery.counterSnapshot()['discovery.events_blocked'], 3);

    if (!existsSync(join(OCSF_DIR, 'dictionary.json'))) { t.diagnostic(`OCSF schema absent at ${OCSF_DIR}: validation skipped`); return; }
    const schema = loadOcsfSchema(OCSF_DIR);
    // The reference tree holds the network, iam, findings and discovery categories only: API
    // Activity (6003, application category) cannot be validated against it.
    for (const ev of net) assert.deepEqual(schema.validate(ev), [], JSON.stringify(ev).slice(0, 200));
    // Every rule kind's event validates as built (no enrichment) too.
    for (const reason of ['override', 'rule', 'default'] as const) {
      const ev = buildVerdictEvent({ verdict: reason === 'default' ? 'allow' : 'block', reason, ruleId: 'rule-0123456789ab' }, flow('x.example.org', A_IP, { nameSource: 'dns-query', protocolNum: 17 }));
      assert.deepEqual(schema.validate(ev), []);
    }
  } finally {
    await parts.store.close();
    await discovery.close();
  }
});

test('a denial nothing carried out (SPAN reset not sent) is Denied / Detected, not counted as blocked', async (t) => {
  const d2 = mkdtempSync(join(tmpdir(), 'outpost-control-ev-none-'));
  const discovery = new Discovery({ dataDir: d2 });
  await discovery.open();
  try {
    const flow: VerdictFlowContext = { timeMs: Date.now() - 1000, clientIp: A_IP, clientPort: 50200, serverIp: '203.0.113.9', serverPort: 443, protocolNum: 6, name: 'chatgpt.com', nameSource: 'tls-sni' };
    const decision = { verdict: 'block' as const, reason: 'unsanctioned' as const, ruleId: 'sanction:chatgpt', appId: 'chatgpt', appName: 'ChatGPT' };
    const none = buildVerdictEvent(decision, { ...flow, enforcement: 'none' }) as unknown as Record<string, any>;
    assert.deepEqual([none.action_id, none.action, none.disposition_id, none.disposition, none.activity_id], [2, 'Denied', 15, 'Detected', 1]);
    assert.match(none.message, /^Denied chatgpt\.com but not stopped/);
    assert.equal(none.unmapped.control.enforcement, 'none');
    const reset = buildVerdictEvent(decision, { ...flow, enforcement: 'reset' }) as unknown as Record<string, any>;
    assert.deepEqual([reset.disposition_id, reset.activity_id], [2, 3]);
    const pipeline = new EventPipeline({ stages: [discovery.stage] });
    pipeline.emit(none as unknown as OutpostEvent);
    pipeline.emit(reset as unknown as OutpostEvent);
    const row = (await discovery.report({ fromMs: flow.timeMs - 3_600_000, toMs: flow.timeMs + 3_600_000 })).rows.find((r) => r.id === 'chatgpt')!;
    assert.equal(row.blocked, 1, 'only the reset one was blocked');
    if (!existsSync(join(OCSF_DIR, 'dictionary.json'))) { t.diagnostic(`OCSF schema absent at ${OCSF_DIR}: validation skipped`); return; }
    assert.deepEqual(loadOcsfSchema(OCSF_DIR).validate(none as unknown as OutpostEvent), []);
  } finally {
    await discovery.close();
    rmSync(d2, { recursive: true, force: true });
  }
});
