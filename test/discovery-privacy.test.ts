/**
 * Pseudonymisation of forwarded events covers every OCSF user field that names the user (the
 * device enricher's userObject fills name, uid and uid_alt — the UPN); the reveal route behind
 * the admin API's real token check: anonymous 401, read token 403, admin audited and logged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import { Discovery } from '../src/discovery/discovery.js';
import { discoveryRoutes } from '../src/discovery/routes.js';
import { userObject } from '../src/events/device-events.js';
import { loadOcsfSchema } from './support/ocsf-schema.js';
import { testDaemon, type TestDaemon } from './support/daemon.js';

const schemaDir = process.env.OUTPOST_OCSF_DIR ?? resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');

function flowWithUser(user: Record<string, unknown>): Record<string, unknown> {
  const time = Date.now();
  return {
    activity_id: 2, activity_name: 'Close', category_uid: 4, category_name: 'Network Activity', class_uid: 4001, class_name: 'Network Activity',
    type_uid: 400102, type_name: 'Network Activity: Close', severity_id: 1, severity: 'Informational',
    time, start_time: time - 10, end_time: time, duration: 10,
    metadata: { version: '1.8.0', product: { name: 'Outpost', vendor_name: 'Outpost', version: '0.1.0' }, uid: '00000000-0000-4000-8000-000000000000', log_name: 'flow', profiles: ['host'] },
    src_endpoint: { ip: '192.168.1.10', port: 50000, mac: '02:00:00:00:00:10' },
    dst_endpoint: { ip: '203.0.113.5', port: 443, hostname: 'slack.com' },
    connection_info: { uid: 'f1', protocol_num: 6, protocol_name: 'tcp', protocol_ver_id: 4, direction_id: 2, direction: 'Outbound' },
    is_src_dst_assignment_known: true,
    traffic: { packets_out: 1, packets_in: 1, bytes_out: 10, bytes_in: 20, packets: 2, bytes: 30 },
    unmapped: { hostname_source: 'sni' },
    actor: { user },
  };
}

test('forwarded events: every user field that names the user is pseudonymised or dropped; domain kept; reveal maps each pseudonym back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-priv-'));
  const warnings: Array<Record<string, unknown>> = [];
  const d = new Discovery({ dataDir: dir, config: { pseudonymizeUsers: true }, logger: { info: () => {}, warn: (o) => { warnings.push(o as Record<string, unknown>); } } });
  try {
    await d.open();
    // What the device enricher puts on flows (src/events/device-events.ts), plus the other OCSF user
    // attributes that can carry a name.
    const fromDevices = userObject({ name: 'alice', domain: 'CORP', uid: 'S-1-5-21-1111-2222-3333-1001', upn: 'alice.smith@corp.example', fromMs: 0, toMs: Date.now() + 1000 } as Parameters<typeof userObject>[0]);
    assert.deepEqual(Object.keys(fromDevices).sort(), ['domain', 'name', 'uid', 'uid_alt']);
    const user = {
      ...fromDevices,
      email_addr: 'alice.smith@corp.example', full_name: 'Alice Smith', display_name: 'Alice S.', credential_uid: 'AKIAALICE',
      forward_addr: 'alice.private@mail.example', phone_number: '+1 555 0100',
      account: { name: 'alice', uid: 'acct-alice' }, ldap_person: { ldap_cn: 'Alice Smith', email_addr: 'alice.smith@corp.example' },
      type_id: 1, type: 'User', groups: [{ name: 'engineering' }],
    };
    const ev = flowWithUser(user);
    d.enricher(ev);
    const original = JSON.stringify(ev);
    const fwd = d.pseudonymizeEvent(ev) as { actor: { user: Record<string, unknown> }; unmapped: Record<string, unknown> };
    assert.equal(JSON.stringify(ev), original, 'the local event is untouched');
    const out = fwd.actor.user;
    const text = JSON.stringify(fwd);
    for (const secret of ['alice', 'Alice', 'S-1-5-21-1111', 'AKIAALICE', '555 0100', 'acct-alice']) assert.ok(!text.includes(secret), `${secret} leaked: ${JSON.stringify(out)}`);
    for (const k of ['name', 'uid', 'uid_alt', 'full_name', 'display_name', 'credential_uid']) assert.match(String(out[k]), /^u-[0-9a-f]{24}$/, k);
    assert.equal(out.domain, 'CORP');
    assert.equal(out.type_id, 1);
    assert.deepEqual(out.groups, [{ name: 'engineering' }]);
    for (const k of ['email_addr', 'forward_addr', 'phone_number', 'account', 'ldap_person']) assert.equal(out[k], undefined, k);
    assert.equal(fwd.unmapped.user_pseudonymized, true);
    assert.equal(out.name, d.pseudonym('alice'), 'the rollup key and the event agree');
    assert.equal(await d.reveal(out.uid_alt as string, 'test', 'check'), 'alice.smith@corp.example');
    assert.equal(await d.reveal(out.uid as string, 'test', 'check'), 'S-1-5-21-1111-2222-3333-1001');
    // Device Inventory Info names the user as the device's owner too: pseudonymised the same way.
    const inv = { class_uid: 5001, device: { uid: 'd1', type_id: 0, type: 'Unknown', owner: fromDevices }, actor: { user: fromDevices }, unmapped: {} };
    const invOut = d.pseudonymizeEvent(inv) as unknown as { device: { owner: Record<string, unknown> }; actor: { user: Record<string, unknown> } };
    assert.ok(!JSON.stringify(invOut).includes('alice'), JSON.stringify(invOut));
    assert.deepEqual(invOut.device.owner, invOut.actor.user);
    assert.equal(invOut.device.owner.name, d.pseudonym('alice'));
    assert.equal(inv.device.owner.name, 'alice', 'the local event is untouched');
    // An event without a user is passed on as it is.
    const plain = flowWithUser({});
    delete plain.actor;
    assert.equal(d.pseudonymizeEvent(plain), plain);

    // Reveals are logged (warn) and audited with who, why and from where, found or not.
    const app = Fastify();
    await app.register(discoveryRoutes, { discovery: d, prefix: '/v1' });
    const res = await app.inject({ method: 'POST', url: '/v1/discovery/users/reveal', payload: { pseudonym: out.name, reason: 'incident 7' }, remoteAddress: '10.1.2.3' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().name, 'alice');
    await app.close();
    const logged = warnings.find((w) => w.reason === 'incident 7');
    assert.ok(logged, JSON.stringify(warnings));
    assert.equal(logged.action, 'user.reveal');
    assert.equal(logged.from, '10.1.2.3');
    assert.equal(logged.found, true);
    if (!existsSync(schemaDir)) { t.diagnostic(`OCSF schema absent at ${schemaDir}: validation skipped`); return; }
    assert.deepEqual(loadOcsfSchema(schemaDir).validate(fwd), []);
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('reveal behind the admin API token check (real daemon)', () => {
  let t: TestDaemon;
  before(async () => { t = await testDaemon({ discovery: { pseudonymizeUsers: true } }); });
  after(async () => { await t.stop(); });

  const reveal = (token: string | undefined, pseudonym = 'u-0123456789abcdef01234567') => t.daemon.api.inject({
    method: 'POST', url: '/v1/discovery/users/reveal', payload: { pseudonym, reason: 'ticket 99' },
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });

  test('anonymous: 401; read token: 403; neither is audited', async () => {
    const anon = await reveal(undefined);
    assert.equal(anon.statusCode, 401);
    assert.equal(anon.json().code, 'API_UNAUTHORIZED');
    const read = await reveal(t.read);
    assert.equal(read.statusCode, 403);
    assert.equal(read.json().code, 'API_FORBIDDEN');
    // The audit log itself is for admins only.
    assert.equal((await t.daemon.api.inject({ url: '/v1/discovery/audit', headers: { authorization: `Bearer ${t.read}` } })).statusCode, 403);
    const audit = await t.daemon.api.inject({ url: '/v1/discovery/audit', headers: { authorization: `Bearer ${t.admin}` } });
    assert.equal(audit.statusCode, 200);
    assert.deepEqual((audit.json().records as Array<{ action: string }>).filter((r) => r.action === 'user.reveal'), []);
  });

  test('admin: the call passes and is audited with the token name and the reason', async () => {
    const res = await reveal(t.admin);
    assert.equal(res.statusCode, 404, res.body);
    assert.equal(res.json().code, 'DISCOVERY_PSEUDONYM_UNKNOWN');
    const records = (await t.daemon.api.inject({ url: '/v1/discovery/audit', headers: { authorization: `Bearer ${t.admin}` } })).json().records as Array<Record<string, unknown>>;
    const r = records.find((x) => x.action === 'user.reveal');
    assert.ok(r, JSON.stringify(records));
    assert.equal(r.actor, 'ops');
    assert.equal(r.reason, 'ticket 99');
    assert.equal(r.found, false);
    // Malformed input: 400 naming the field, nothing audited.
    const bad = await t.daemon.api.inject({ method: 'POST', url: '/v1/discovery/users/reveal', payload: { pseudonym: 'alice', reason: 'x' }, headers: { authorization: `Bearer ${t.admin}` } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /pseudonym/);
    const after2 = (await t.daemon.api.inject({ url: '/v1/discovery/audit', headers: { authorization: `Bearer ${t.admin}` } })).json().records as Array<Record<string, unknown>>;
    assert.equal(after2.filter((x) => x.action === 'user.reveal').length, 1);
  });

  test('user and device listings show pseudonyms too: the audited reveal is the only way back to the name', async () => {
    const api = (method: string, url: string, token: string, payload?: object) => t.daemon.api.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
    const enroll = await api('POST', '/v1/agents/enroll', t.admin, { agentId: 'priv-lap' });
    assert.equal(enroll.statusCode, 201, enroll.body);
    const body = JSON.stringify({ agentId: 'priv-lap', hostname: 'priv-laptop', macs: ['02:aa:00:00:00:77'], addresses: ['10.9.7.7'], users: [{ name: 'alice', domain: 'CORP', uid: 'S-1-5-21-7', upn: 'alice@corp.example' }] });
    const ts = String(Date.now()), nonce = `nonce-priv-${process.pid}-abcdefgh`;
    const { signHeartbeat } = await import('../src/devices/agent-routes.js');
    const hb = await t.daemon.api.inject({ method: 'POST', url: '/v1/agents/heartbeat', payload: body, headers: { 'content-type': 'application/json', 'x-outpost-agent': 'priv-lap', 'x-outpost-timestamp': ts, 'x-outpost-nonce': nonce, 'x-outpost-signature': signHeartbeat(enroll.json().secret as string, ts, nonce, body) } });
    assert.equal(hb.statusCode, 204, hb.body);

    for (const token of [t.read, t.admin]) {
      const users = await api('GET', '/v1/users', token);
      assert.equal(users.statusCode, 200);
      const text = users.body;
      for (const secret of ['alice', 'S-1-5-21-7']) assert.ok(!text.includes(secret), `${secret} in ${text}`);
      const u = users.json().items[0];
      assert.match(u.name, /^u-[0-9a-f]{24}$/);
      assert.match(u.uid, /^u-[0-9a-f]{24}$/);
      assert.match(u.upn, /^u-[0-9a-f]{24}$/);
      assert.equal(u.domain, 'CORP', 'the domain describes without naming: kept, as in forwarded events');
      const dev = await api('GET', `/v1/devices/${encodeURIComponent(u.devices[0].uid)}`, token);
      assert.equal(dev.statusCode, 200);
      assert.ok(!dev.body.includes('alice'), dev.body);
      assert.equal(dev.json().users[0].name, u.name, 'the same pseudonym everywhere');
      // Searching by the real name finds nobody.
      assert.equal((await api('GET', '/v1/users?name=alice', token)).json().total, 0);
    }
    const name = (await api('GET', '/v1/users', t.read)).json().items[0].name as string;
    const revealed = await api('POST', '/v1/discovery/users/reveal', t.admin, { pseudonym: name, reason: 'ticket 100' });
    assert.equal(revealed.statusCode, 200, revealed.body);
    assert.equal(revealed.json().name, 'alice');
  });
});
