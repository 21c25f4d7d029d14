/**
 * The control policy's routes against a real daemon (no capture): CRUD for rules, exceptions,
 * groups and overrides with audit (API Activity events); and what an attacker would send. Each
 * refused request is checked for its status and code, and for having changed nothing: the state,
 * the audit trail and the events are compared before and after.
 *
 * The auth model (docs/SECURITY.md): tokens have a role, not a user. A read token may look at the
 * policy and ask for a verdict; only an admin token changes anything (overrides included), and
 * every change names the token that made it. No token: 401 for everything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDaemon, type TestDaemon } from '../support/daemon.js';
import { mulberry32 } from '../support/prng.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let t: TestDaemon;
before(async () => {
  t = await testDaemon();
  await t.daemon.api.inject({ method: 'PUT', url: '/v1/discovery/apps/chatgpt/sanction', headers: { authorization: `Bearer ${t.admin}` }, payload: { state: 'unsanctioned' } });
});
after(async () => { await t.stop(); });

async function call(method: string, url: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: Json; body: string; headers: Record<string, unknown> }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const r = await t.daemon.api.inject({ method: method as 'GET', url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
  let json: Json = {};
  try { json = r.json(); } catch { /* text */ }
  return { status: r.statusCode, json, body: r.body, headers: r.headers };
}

/** Everything a change could touch: the state, the audit trail, the API Activity events. */
async function snapshot(): Promise<string> {
  const s = t.daemon.control.store;
  return JSON.stringify({ state: s.state(), audit: s.auditLog(1000).length, events: (await t.events()).filter((e) => e.class_uid === 6003).length });
}

describe('CRUD with audit', () => {
  test('rules, exceptions, groups, overrides: create, read, replace, delete; each change is an API Activity event', async () => {
    const a = t.admin;
    const rule = await call('POST', '/v1/control/rules', a, { match: { category: 'file-sharing' }, action: 'block', note: 'no file sharing' });
    assert.equal(rule.status, 201, rule.body);
    assert.match(rule.json.id, /^rule-[0-9a-f]{12}$/);
    assert.equal(rule.json.createdBy, 'ops');
    assert.deepEqual((await call('GET', '/v1/control/rules', t.read)).json.rules.map((r: Json) => r.id), [rule.json.id]);
    assert.equal((await call('GET', `/v1/control/rules/${rule.json.id}`, t.read)).json.action, 'block');
    const put = await call('PUT', `/v1/control/rules/${rule.json.id}`, a, { match: { category: 'file-sharing' }, action: 'allow' });
    assert.equal(put.json.action, 'allow');

    const group = await call('PUT', '/v1/control/groups/research', a, { name: 'Research', users: ['alice'], devices: ['02:00:00:00:00:0A'] });
    assert.equal(group.status, 200, group.body);
    assert.deepEqual(group.json.devices, ['02:00:00:00:00:0a']);
    const exc = await call('POST', '/v1/control/exceptions', a, { subject: { group: 'research' }, scope: { app: 'chatgpt' } });
    assert.equal(exc.status, 201, exc.body);

    // The verdict route answers as the inline path would: the group's MAC is excepted.
    const v1 = await call('GET', '/v1/control/verdict?name=chatgpt.com&clientIp=10.9.9.9&clientMac=02:00:00:00:00:0a', t.read);
    assert.deepEqual([v1.json.verdict, v1.json.reason, v1.json.ruleId], ['allow', 'exception', exc.json.id]);
    const v2 = await call('GET', '/v1/control/verdict?name=chatgpt.com&clientIp=10.9.9.9', t.read);
    assert.deepEqual([v2.json.verdict, v2.json.reason], ['block', 'unsanctioned']);

    const ovr = await call('POST', '/v1/control/overrides', a, { subject: { device: '02:00:00:00:00:0b' }, app: 'chatgpt', durationMs: 3_600_000, reason: 'customer demo' });
    assert.equal(ovr.status, 201, ovr.body);
    assert.equal(ovr.json.expiresMs - ovr.json.createdMs, 3_600_000);
    const v3 = await call('GET', '/v1/control/verdict?name=chatgpt.com&clientIp=10.9.9.9&clientMac=02:00:00:00:00:0b', t.read);
    assert.deepEqual([v3.json.verdict, v3.json.reason, v3.json.ruleId], ['allow', 'override', ovr.json.id]);
    assert.equal((await call('DELETE', `/v1/control/overrides/${ovr.json.id}`, a)).status, 200);
    assert.equal((await call('GET', '/v1/control/verdict?name=chatgpt.com&clientIp=10.9.9.9&clientMac=02:00:00:00:00:0b', t.read)).json.verdict, 'block');

    assert.equal((await call('DELETE', `/v1/control/exceptions/${exc.json.id}`, a)).status, 200);
    assert.equal((await call('DELETE', '/v1/control/groups/research', a)).status, 200);
    assert.equal((await call('DELETE', `/v1/control/rules/${rule.json.id}`, a)).status, 200);

    const audit = await call('GET', '/v1/control/audit', a);
    const actions = audit.json.records.map((r: Json) => r.action).reverse();
    assert.deepEqual(actions, ['control.rule.create', 'control.rule.update', 'control.group.create', 'control.exception.create', 'control.override.create', 'control.override.revoke', 'control.exception.delete', 'control.group.delete', 'control.rule.delete']);
    assert.ok(audit.json.records.every((r: Json) => r.actor === 'ops'));
    const events = (await t.events()).filter((e) => e.class_uid === 6003 && String((e.api as Json).operation).startsWith('control.')) as Json[];
    assert.deepEqual(events.map((e) => e.api.operation), actions);
    const created = events.find((e) => e.api.operation === 'control.override.create')!;
    assert.deepEqual([created.activity_id, created.actor.user.name, created.resources[0].uid, created.unmapped.reason], [1, 'ops', ovr.json.id, 'customer demo']);
    assert.equal(events.find((e) => e.api.operation === 'control.override.revoke')!.activity_id, 4);
    assert.equal(t.daemon.control.policy.counters.verdicts, 0, 'GET /v1/control/verdict is a dry run: not counted as traffic');
  });
});

describe('attacks', () => {
  test('a read token cannot add, change or revoke anything, nor read the audit trail', async () => {
    const rule = await call('POST', '/v1/control/rules', t.admin, { match: { app: 'chatgpt' }, action: 'block' });
    const before = await snapshot();
    const attempts: Array<[string, string, unknown?]> = [
      ['POST', '/v1/control/overrides', { subject: { user: 'mallory' }, app: 'chatgpt', durationMs: 3_600_000, reason: 'let me in' }],
      ['POST', '/v1/control/exceptions', { subject: { user: 'mallory' } }],
      ['POST', '/v1/control/rules', { match: { app: 'chatgpt' }, action: 'allow' }],
      ['PUT', `/v1/control/rules/${rule.json.id}`, { match: { app: 'chatgpt' }, action: 'allow' }],
      ['DELETE', `/v1/control/rules/${rule.json.id}`],
      ['PUT', '/v1/control/groups/admins', { users: ['mallory'] }],
      ['GET', '/v1/control/audit'],
    ];
    for (const [m, url, body] of attempts) {
      const r = await call(m, url, t.read, body);
      assert.equal(r.status, 403, `${m} ${url}`);
      assert.equal(r.json.code, 'API_FORBIDDEN');
      const anon = await call(m, url, undefined, body);
      assert.equal(anon.status, 401, `anonymous ${m} ${url}`);
    }
    assert.equal((await call('GET', '/v1/control/rules', undefined)).status, 401);
    assert.equal((await call('GET', '/v1/discovery/blocklist?format=csv', undefined)).status, 401);
    assert.equal(await snapshot(), before);
    assert.equal((await call('GET', '/v1/control/verdict?name=chatgpt.com&clientIp=10.1.1.1', t.read)).json.verdict, 'block');
    await call('DELETE', `/v1/control/rules/${rule.json.id}`, t.admin);
  });

  test('malformed and hostile bodies: 4xx that say what is wrong, nothing changed', async () => {
    const before = await snapshot();
    const cases: Array<[string, string, unknown, number, string, RegExp?]> = [
      ['POST', '/v1/control/rules', { match: { app: 'chatgpt', domain: 'chatgpt.com' }, action: 'block' }, 400, 'API_VALIDATION_FAILED', /match/],
      ['POST', '/v1/control/rules', { match: {}, action: 'block' }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/rules', { match: { app: 'chatgpt' }, action: 'nuke' }, 400, 'API_VALIDATION_FAILED', /action/],
      ['POST', '/v1/control/rules', { match: { app: 'chatgpt' }, action: 'block', extra: 1 }, 400, 'API_VALIDATION_FAILED', /extra/],
      ['POST', '/v1/control/rules', { match: { app: 'no-such-app' }, action: 'block' }, 422, 'CONTROL_INVALID', /match\.app/],
      ['POST', '/v1/control/rules', { match: { app: '__proto__' }, action: 'block' }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/rules', { match: { category: 'nope' }, action: 'block' }, 422, 'CONTROL_INVALID', /category/],
      ['POST', '/v1/control/rules', { match: { domain: 'evil.com\nserver:' }, action: 'block' }, 422, 'CONTROL_INVALID', /domain/],
      ['POST', '/v1/control/rules', { match: { minRiskScore: 11 }, action: 'block' }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/exceptions', { subject: { user: 'alice', group: 'research' } }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/exceptions', { subject: { group: 'nobody' } }, 422, 'CONTROL_INVALID', /subject\.group/],
      ['POST', '/v1/control/exceptions', { subject: { user: 'alice\r\nX-Injected: 1' } }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/exceptions', { subject: { device: '../../etc/passwd' } }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/overrides', { subject: { user: 'alice' }, app: 'chatgpt', durationMs: 3_600_000 }, 400, 'API_VALIDATION_FAILED', /reason/],
      ['POST', '/v1/control/overrides', { subject: { user: 'alice' }, app: 'chatgpt', durationMs: 30 * 86_400_000, reason: 'forever' }, 400, 'API_VALIDATION_FAILED', /durationMs/],
      ['POST', '/v1/control/overrides', { subject: { user: 'alice' }, app: 'chatgpt', durationMs: -1, reason: 'back in time' }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/overrides', { subject: { user: 'alice' }, app: 'unclassified:../x', durationMs: 600_000, reason: 'path' }, 400, 'API_VALIDATION_FAILED'],
      ['POST', '/v1/control/overrides', { subject: { user: 'alice' }, app: 'no-such-app', durationMs: 600_000, reason: 'typo' }, 422, 'CONTROL_INVALID', /app/],
      ['PUT', '/v1/control/groups/Admins;rm', { users: ['x'] }, 400, 'API_VALIDATION_FAILED'],
      ['PUT', '/v1/control/groups/g1', { users: ['ok', 'bad\u0000user'] }, 400, 'API_VALIDATION_FAILED'],
      ['DELETE', '/v1/control/rules/rule-000000000000', undefined, 404, 'CONTROL_NOT_FOUND'],
      ['PUT', '/v1/control/rules/rule-000000000000', { match: { app: 'chatgpt' }, action: 'block' }, 404, 'CONTROL_NOT_FOUND'],
      ['DELETE', '/v1/control/overrides/__proto__', undefined, 400, 'API_VALIDATION_FAILED'],
      ['GET', '/v1/discovery/blocklist?format=bind', undefined, 400, 'API_VALIDATION_FAILED', /format/],
      ['GET', '/v1/control/verdict?name=x.com&clientIp=not-an-ip', undefined, 400, 'API_VALIDATION_FAILED'],
    ];
    for (const [m, url, body, status, code, msg] of cases) {
      const r = await call(m, url, t.admin, body);
      assert.equal(r.status, status, `${m} ${url} ${JSON.stringify(body)}: ${r.body}`);
      assert.equal(r.json.code, code, `${m} ${url}`);
      if (msg) assert.match(r.json.message, msg, `${m} ${url}: says what is wrong`);
    }
    // Prototype keys in a body are refused by the JSON parser, and pollute nothing.
    const proto = await t.daemon.api.inject({ method: 'POST', url: '/v1/control/rules', headers: { authorization: `Bearer ${t.admin}`, 'content-type': 'application/json' }, payload: '{"match":{"app":"chatgpt"},"action":"block","__proto__":{"polluted":true}}' });
    assert.equal(proto.statusCode, 400);
    assert.equal(({} as Json).polluted, undefined);
    assert.equal(await snapshot(), before);
  });

  test('600 random bodies on every write route: never a 5xx; what is refused changes nothing', async () => {
    const seed = Number(process.env.OUTPOST_FUZZ_SEED ?? 18);
    const rnd = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const atoms: unknown[] = [null, true, 0, -1, 1e308, 3.5, '', 'chatgpt', 'alice', 'file-sharing', 'chatgpt.com', '__proto__', 'constructor', 'a\nb', '../x', '\u0000', 'x'.repeat(300), [], {}, ['alice'], { user: 'alice' }, { app: 'chatgpt' }, { domain: 'x.com' }, { minRiskScore: 5 }, 'block', 'allow', 600_000];
    const keys = ['match', 'action', 'note', 'subject', 'scope', 'app', 'verdict', 'durationMs', 'reason', 'users', 'devices', 'name', 'user', 'device', 'group', 'domain', 'category', 'minRiskScore', '__proto__'];
    const value = (depth: number): unknown => {
      if (depth > 2 || rnd() < 0.5) return pick(atoms);
      if (rnd() < 0.2) return [value(depth + 1), value(depth + 1)];
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(rnd() * 4); i > 0; i--) o[pick(keys)] = value(depth + 1);
      return o;
    };
    const routes: Array<[string, string]> = [['POST', '/v1/control/rules'], ['POST', '/v1/control/exceptions'], ['POST', '/v1/control/overrides'], ['PUT', '/v1/control/groups/fuzz'], ['PUT', '/v1/control/rules/rule-0123456789ab'], ['PUT', '/v1/control/exceptions/exc-0123456789ab']];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 600; i++) {
      const [m, url] = pick(routes);
      const before = await snapshot();
      const r = await call(m, url, t.admin, value(0));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      assert.ok(r.status < 500, `seed ${seed} #${i}: ${m} ${url} → ${r.status} ${r.body}`);
      if (r.status >= 400) assert.equal(await snapshot(), before, `seed ${seed} #${i}: refused but changed`);
    }
    assert.ok((statuses.get(400) ?? 0) > 300, JSON.stringify([...statuses]));
  });
});
