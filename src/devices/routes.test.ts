import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { deviceApiPlugins } from './routes.js';
import { AgentRegistry, signHeartbeat } from './agent-routes.js';
import { DeviceIdentity } from './identity.js';
import { DeviceStore } from './store.js';
import { toOutpostError } from '../http.js';

const quiet = { info: () => {}, error: () => {}, warn: () => {} };

/** Registers the plugins as the admin API does (prefix, ctx), recording each route's role. */
async function serve(identity: DeviceIdentity | null, registry: AgentRegistry) {
  const plugins = deviceApiPlugins(identity, registry);
  const app = Fastify();
  // The admin API sets the caller (auth.ts); revocation logs who did it.
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (req) => { req.principal = { name: 'ops', role: 'admin' }; });
  app.setErrorHandler((err: Error, _req, reply) => { const e = toOutpostError(err); void reply.code(e.httpStatus).send(e.toJSON()); });
  const roles = new Map<string, string | undefined>();
  app.addHook('onRoute', (r) => { if (r.method !== 'HEAD') roles.set(`${String(r.method)} ${r.url}`, (r.config as { role?: string } | undefined)?.role); });
  for (const p of plugins) await app.register(p.plugin, { prefix: p.prefix, ctx: { logger: quiet } as never });
  await app.ready();
  return { app, plugins, roles };
}

test('the device area registers each plugin name once; every agent route is in the one agents plugin', async () => {
  const registry = new AgentRegistry(10, 1000, 300_000);
  const { app, plugins, roles } = await serve(new DeviceIdentity({ store: new DeviceStore() }), registry);
  const names = plugins.map((p) => p.name);
  assert.deepEqual([...names].sort(), ['agents', 'devices', 'users']);
  const agents = plugins.find((p) => p.name === 'agents')!;
  assert.equal(agents.role, 'admin', 'routes without a role of their own (listing, revocation) need admin');
  assert.equal(roles.get('POST /v1/agents/enroll'), 'admin');
  assert.equal(roles.get('POST /v1/agents/heartbeat'), 'public');
  assert.ok(roles.has('GET /v1/agents') && roles.has('DELETE /v1/agents/:id'), [...roles.keys()].join(' '));

  const now = Date.now();
  const e = await app.inject({ method: 'POST', url: '/v1/agents/enroll', payload: { agentId: 'lap-1' } });
  assert.equal(e.statusCode, 201);
  const raw = JSON.stringify({ agentId: 'lap-1', macs: ['02:00:00:00:00:09'] });
  const nonce = 'nonce-routes-000001';
  const hb = await app.inject({
    method: 'POST', url: '/v1/agents/heartbeat', payload: raw,
    headers: { 'content-type': 'application/json', 'x-outpost-agent': 'lap-1', 'x-outpost-timestamp': String(now), 'x-outpost-nonce': nonce, 'x-outpost-signature': signHeartbeat(e.json().secret, String(now), nonce, raw) },
  });
  assert.equal(hb.statusCode, 204);
  const list = (await app.inject({ method: 'GET', url: '/v1/agents' })).json();
  assert.equal(list.total, 1);
  assert.equal(list.items[0].deviceUid, 'mac:02:00:00:00:00:09', 'the listing names the agent\'s device');
  assert.equal(list.items[0].secret, undefined);
  assert.equal((await app.inject({ method: 'DELETE', url: '/v1/agents/lap-1' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'DELETE', url: '/v1/agents/lap-1' })).statusCode, 404);
  await app.close();
});

test('without the device store (devices.enabled false) only the agents listing and revocation are served', async () => {
  const { app, plugins, roles } = await serve(null, new AgentRegistry(10, 1000, 300_000));
  assert.deepEqual(plugins.map((p) => p.name), ['agents']);
  assert.deepEqual([...roles.keys()].sort(), ['DELETE /v1/agents/:id', 'GET /v1/agents']);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/agents' })).json().total, 0);
  assert.equal((await app.inject({ method: 'POST', url: '/v1/agents/enroll', payload: { agentId: 'x' } })).statusCode, 404);
  await app.close();
});

test('wire-logon users show their source and evidence in GET /v1/devices/:id and GET /v1/users; a shared device says so', async () => {
  const store = new DeviceStore();
  const identity = new DeviceIdentity({ store });
  const t0 = Date.now() - 60_000;
  const d = store.links.identify({ mac: '02:00:00:00:00:0a', trust: 3, source: 'dhcp_ack', atMs: t0 })!;
  store.addresses.bind('10.9.0.10', d, '02:00:00:00:00:0a', 3, t0, t0 + 3_600_000);
  store.users.bindLogon(d, { name: 'alice', domain: 'CORP.EXAMPLE' }, 'kerberos', t0, { untilMs: t0 + 600_000, ip: '10.9.0.10', logonUid: 'logon-1' });
  store.users.bindLogon(d, { name: 'bob', domain: 'CORP.EXAMPLE' }, 'kerberos', t0 + 1000, { untilMs: t0 + 600_000, ip: '10.9.0.10', logonUid: 'logon-2' });
  assert.equal(store.users.refreshLogon(d, { name: 'alice', domain: 'CORP.EXAMPLE' }, t0 + 2000, t0 + 600_000), 'shared');
  const { app } = await serve(identity, new AgentRegistry(10, 1000, 300_000));
  const one = (await app.inject({ method: 'GET', url: `/v1/devices/${encodeURIComponent(d.uid)}` })).json();
  assert.deepEqual(one.users.map((u: Record<string, string>) => [u.name, u.source, u.ip, u.logonUid, u.endedBy]), [
    ['alice', 'kerberos', '10.9.0.10', 'logon-1', undefined], ['bob', 'kerberos', '10.9.0.10', 'logon-2', undefined],
  ]);
  assert.deepEqual(one.shared, { from: new Date(t0 + 2000).toISOString(), to: new Date(t0 + 600_000).toISOString() });
  const users = (await app.inject({ method: 'GET', url: '/v1/users?sort=name' })).json();
  assert.deepEqual(users.items.map((u: { name: string; devices: Array<{ spans: Array<Record<string, string>> }> }) => [u.name, u.devices[0]!.spans[0]!.source, u.devices[0]!.spans[0]!.logonUid]),
    [['alice', 'kerberos', 'logon-1'], ['bob', 'kerberos', 'logon-2']]);
  await app.close();
});
