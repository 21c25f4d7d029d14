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
  const d = identity.store.addresses.lookup('10.0.0.9', now + 1000)!;
  assert.equal(d.hostname, 'lap1');
  assert.equal(identity.store.users.userAt(d, now + 1000)?.name, 'bob');
  assert.equal(d.os?.name, 'Windows 11 Pro');
  assert.equal(identity.store.users.userAt(d, now + 301_000), undefined, 'user attribution ends agentHeartbeatTtlMs after the last heartbeat');

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

test('restart: enrolled agents (with their secrets) persist in the device store LMDB, owner-only files', async () => {
  const { mkdtempSync, rmSync, statSync, readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-agents-'));
  const path = join(dir, 'devices');
  const now = 1_700_000_000_000;
  try {
    // First run: enroll two agents over the admin route, revoke one, one heartbeat.
    const store1 = new DeviceStore();
    store1.open(path);
    const registry1 = new AgentRegistry(10, 1000, 300_000);
    const app1 = Fastify();
    await app1.register(agentRoutes, { identity: new DeviceIdentity({ store: store1 }), registry: registry1, now: () => now });
    await app1.ready();
    const secret = (await app1.inject({ method: 'POST', url: '/v1/agents/enroll', payload: { agentId: 'lap-1' } })).json().secret as string;
    assert.equal((await app1.inject({ method: 'POST', url: '/v1/agents/enroll', payload: { agentId: 'lap-2' } })).statusCode, 201);
    assert.equal(registry1.revoke('lap-2'), true);
    assert.equal((await app1.inject(heartbeat('lap-1', secret, { agentId: 'lap-1', addresses: ['10.0.0.9'] }, now, 'nonce-restart-00001'))).statusCode, 204);
    await app1.close();
    await store1.close();
    assert.equal(statSync(path).mode & 0o777, 0o700);
    for (const f of readdirSync(path)) assert.equal(statSync(join(path, f)).mode & 0o777, 0o600, f);

    // Second run: a new registry and store over the same LMDB keep lap-1 (not the revoked lap-2).
    const store2 = new DeviceStore();
    store2.open(path);
    const registry2 = new AgentRegistry(10, 1000, 300_000, store2.agents);
    assert.deepEqual(registry2.list().map((a) => a.agentId), ['lap-1']);
    assert.equal(registry2.get('lap-1')?.secret, secret);
    assert.equal(registry2.get('lap-1')?.lastHeartbeatMs, now);
    const app2 = Fastify();
    await app2.register(agentRoutes, { identity: new DeviceIdentity({ store: store2 }), registry: registry2, now: () => now + 60_000 });
    await app2.ready();
    const body = { agentId: 'lap-1', hostname: 'lap1', addresses: ['10.0.0.9'], users: [{ name: 'bob' }] };
    assert.equal((await app2.inject(heartbeat('lap-1', secret, body, now + 60_000, 'nonce-restart-00002'))).statusCode, 204, 'heartbeat after restart accepted');
    assert.equal((await app2.inject(heartbeat('lap-2', secret, { agentId: 'lap-2' }, now + 60_000))).statusCode, 401, 'revoked stays revoked');
    assert.equal(store2.addresses.lookup('10.0.0.9', now + 61_000)?.hostname, 'lap1');
    await app2.close();
    await store2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
