import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { agentRoutes, AgentRegistry, signHeartbeat } from './agent-routes.js';
import { DeviceIdentity } from './identity.js';
import { DeviceStore } from './store.js';

async function setup(nowMs: number) {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const registry = new AgentRegistry(10, 1000, 300_000);
  const clock = { now: nowMs };
  const app = Fastify();
  await app.register(agentRoutes, { identity, registry, now: () => clock.now });
  await app.ready();
  return { app, identity, registry, clock };
}

function heartbeat(agentId: string, secret: string, body: object, ts: number, nonce = 'n'.repeat(8) + Math.random().toString(36).slice(2, 12)) {
  const raw = JSON.stringify(body);
  return {
    method: 'POST' as const, url: '/v1/agents/heartbeat', payload: raw,
    headers: { 'content-type': 'application/json', 'x-outpost-agent': agentId, 'x-outpost-timestamp': String(ts), 'x-outpost-nonce': nonce, 'x-outpost-signature': signHeartbeat(secret, String(ts), nonce, raw) },
  };
}

test('enrollment returns a per-agent secret; a signed heartbeat is applied; stale, replayed, forged, unknown, malformed are 4xx and counted', async () => {
  const now = 1_700_000_000_000;
  const { app, identity, registry } = await setup(now);
  const e = await app.inject({ method: 'POST', url: '/v1/agents/enroll', payload: { agentId: 'lap-1' } });
  assert.equal(e.statusCode, 201);
  const secret = e.json().secret as string;
  assert.ok(secret.length >= 40);
  const body = { agentId: 'lap-1', hostname: 'lap1', macs: ['00:11:22:33:44:55'], addresses: ['10.0.0.9'], users: [{ name: 'bob', domain: 'CORP' }], os: 'Windows 11 Pro' };
  const ok = heartbeat('lap-1', secret, body, now, 'nonce-0000000000001');
  assert.equal((await app.inject(ok)).statusCode, 204);
  const d = identity.store.lookup('10.0.0.9', now + 1000)!;
  assert.equal(d.hostname, 'lap1');
  assert.equal(identity.store.userAt(d, now + 1000)?.name, 'bob');
  assert.equal(d.os?.name, 'Windows 11 Pro');
  assert.equal(identity.store.userAt(d, now + 301_000), undefined, 'user attribution ends agentHeartbeatTtlMs after the last heartbeat');

  assert.equal((await app.inject(ok)).statusCode, 409, 'replayed');
  assert.equal((await app.inject(heartbeat('lap-1', secret, body, now - 600_000))).statusCode, 401, 'stale');
  assert.equal((await app.inject(heartbeat('lap-1', 'wrong-secret', body, now))).statusCode, 401, 'forged');
  const tampered = heartbeat('lap-1', secret, body, now);
  tampered.payload = tampered.payload.replace('bob', 'eve');
  assert.equal((await app.inject(tampered)).statusCode, 401, 'body changed after signing');
  assert.equal((await app.inject(heartbeat('nobody', secret, { agentId: 'nobody' }, now))).statusCode, 401, 'unknown agent');
  assert.equal((await app.inject({ ...heartbeat('lap-1', secret, body, now), payload: '{bad json' })).statusCode, 400, 'malformed');
  assert.equal((await app.inject(heartbeat('lap-1', secret, { ...body, users: 'root' }, now))).statusCode, 400, 'schema');
  const c = registry.counters.snapshot();
  assert.deepEqual(
    [c['agents.enrolled'], c['agents.heartbeats_accepted'], c['agents.refused_replayed'], c['agents.refused_stale'], c['agents.refused_forged'], c['agents.refused_unknown'], c['agents.refused_malformed']],
    [1, 1, 1, 1, 2, 1, 2],
  );
  await app.close();
});
