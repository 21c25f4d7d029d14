/**
 * Devices, users, agents and sinks through the admin API of a real daemon (no capture): devices
 * paged and filtered, one device with its binding history and evidence, users with devices and
 * spans, agents listed without secrets and revoked (heartbeats refused after), and forwarding
 * status with dead letters from a receiver that rejects every batch.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { testDaemon, feedFlows, type TestDaemon } from './support/daemon.js';
import { signHeartbeat } from '../src/devices/agent-routes.js';
import { HttpsReceiver, makePki, waitFor, which, type Pki } from './support/receivers.js';
import { ethernet, ipv4, udp, ETH_IPV4, PROTO_UDP } from './support/packets.js';
import { dhcp4, ip4, u32be } from './fixtures/dhcp.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const haveOpenssl = which('openssl') !== undefined;
let t: TestDaemon;
let rx: HttpsReceiver | undefined;
let pki: Pki | undefined;

before(async () => {
  const https: object[] = [];
  if (haveOpenssl) {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    pki = makePki(join(mkdtempSync(join(tmpdir(), 'outpost-sinks-pki-')), 'pki'));
    rx = new HttpsReceiver(pki);
    rx.behaviour = () => ({ status: 400 });
    const port = await rx.listen();
    https.push({ name: 'siem', url: `https://127.0.0.1:${port}/ingest`, tlsCaFile: pki.caFile, retryInitialMs: 20, retryMaxMs: 200, batchMaxEvents: 5 });
  }
  https.push({ name: 'spare', url: 'https://127.0.0.1:9/ingest', enabled: false });
  t = await testDaemon({ forward: { outboxSync: 'none', https } });
});
after(async () => {
  await t.stop();
  await rx?.close();
});

async function call(method: string, url: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const payload = opts.raw ?? (opts.body === undefined ? undefined : opts.body as object);
  const r = await t.daemon.api.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
  let json: Json = {};
  try { json = r.json(); } catch { /* empty */ }
  return { status: r.statusCode, json };
}

let nonce = 0;
function heartbeat(agentId: string, secret: string, body: object): Promise<{ status: number; json: Json }> {
  const raw = JSON.stringify(body);
  const ts = String(Date.now());
  const n = `nonce-${process.pid}-${++nonce}-abcdefgh`;
  return call('POST', '/v1/agents/heartbeat', { raw, headers: { 'content-type': 'application/json', 'x-outpost-agent': agentId, 'x-outpost-timestamp': ts, 'x-outpost-nonce': n, 'x-outpost-signature': signHeartbeat(secret, ts, n, raw) } });
}

const secrets = new Map<string, string>();
async function enroll(agentId: string): Promise<string> {
  const r = await call('POST', '/v1/agents/enroll', { token: t.admin, body: { agentId } });
  assert.equal(r.status, 201);
  secrets.set(agentId, r.json.secret as string);
  return r.json.secret as string;
}

describe('devices and users', () => {
  before(async () => {
    const s1 = await enroll('lap-1');
    const s2 = await enroll('lap-2');
    assert.equal((await heartbeat('lap-1', s1, { agentId: 'lap-1', hostname: 'Alice-Laptop', macs: ['02:aa:00:00:00:01'], addresses: ['10.9.0.11'], users: [{ name: 'alice', domain: 'CORP', upn: 'alice@corp.example' }], os: 'Windows 11' })).status, 204);
    assert.equal((await heartbeat('lap-2', s2, { agentId: 'lap-2', hostname: 'bob-desktop', macs: ['02:bb:00:00:00:02'], addresses: ['10.9.0.12'], users: [{ name: 'bob' }, { name: 'alice', domain: 'CORP' }] })).status, 204);
  });

  test('GET /v1/devices lists, filters by mac, ip and hostname, and pages', async () => {
    const all = await call('GET', '/v1/devices', { token: t.read });
    assert.equal(all.status, 200);
    assert.equal(all.json.total, 2);
    assert.deepEqual(all.json.items.map((d: Json) => d.hostname).sort(), ['Alice-Laptop', 'bob-desktop']);
    const byMac = await call('GET', '/v1/devices?mac=02-AA-00-00-00-01', { token: t.read });
    assert.deepEqual(byMac.json.items.map((d: Json) => d.agentId), ['lap-1']);
    const byIp = await call('GET', '/v1/devices?ip=10.9.0.12', { token: t.read });
    assert.deepEqual(byIp.json.items.map((d: Json) => d.agentId), ['lap-2']);
    assert.deepEqual(byIp.json.items[0].addresses, ['10.9.0.12']);
    const byHost = await call('GET', '/v1/devices?hostname=ALICE', { token: t.read });
    assert.deepEqual(byHost.json.items.map((d: Json) => d.hostname), ['Alice-Laptop']);
    assert.equal((await call('GET', '/v1/devices?ip=10.9.0.99', { token: t.read })).json.matched, 0);
    const p1 = await call('GET', '/v1/devices?limit=1', { token: t.read });
    assert.equal(p1.json.items.length, 1);
    assert.equal(typeof p1.json.nextAfter, 'string');
    const p2 = await call('GET', `/v1/devices?limit=1&after=${encodeURIComponent(p1.json.nextAfter)}`, { token: t.read });
    assert.equal(p2.json.items.length, 1);
    assert.equal(p2.json.nextAfter, null);
    assert.notEqual(p2.json.items[0].uid, p1.json.items[0].uid);
  });

  test('bad filters are 400 API_VALIDATION_FAILED; unknown device is 404; no token is 401', async () => {
    for (const q of ['mac=zz', 'ip=not-an-ip', 'limit=0', 'colour=red']) {
      const r = await call('GET', `/v1/devices?${q}`, { token: t.read });
      assert.equal(r.status, 400, q);
      assert.equal(r.json.code, 'API_VALIDATION_FAILED', q);
    }
    const nf = await call('GET', '/v1/devices/mac%3A00%3A00%3A00%3A00%3A00%3A00', { token: t.read });
    assert.equal(nf.status, 404);
    assert.equal(nf.json.code, 'API_NOT_FOUND');
    for (const u of ['/v1/devices', '/v1/users', '/v1/sinks']) assert.equal((await call('GET', u)).status, 401, u);
  });

  test('GET /v1/devices/:id has MAC links, address-binding history, users and evidence', async () => {
    const list = await call('GET', '/v1/devices?hostname=alice', { token: t.read });
    const uid = list.json.items[0].uid as string;
    const r = await call('GET', `/v1/devices/${encodeURIComponent(uid)}`, { token: t.read });
    assert.equal(r.status, 200);
    assert.equal(r.json.uid, uid);
    assert.deepEqual(r.json.macs, ['02:aa:00:00:00:01']);
    assert.ok(r.json.links.some((l: Json) => l.mac === '02:aa:00:00:00:01'));
    assert.equal(r.json.bindings.length, 1);
    assert.equal(r.json.bindings[0].address, '10.9.0.11');
    assert.equal(r.json.bindings[0].trust, 'agent');
    assert.equal(r.json.bindings[0].to, null);
    assert.match(r.json.bindings[0].expires, /^\d{4}-/);
    assert.deepEqual(r.json.users.map((u: Json) => `${u.domain}\\${u.name}`), ['CORP\\alice']);
    assert.ok(Array.isArray(r.json.evidence));
    assert.equal(r.json.os?.name !== undefined, true);
  });

  test('GET /v1/users groups spans by user across devices', async () => {
    const r = await call('GET', '/v1/users', { token: t.read });
    assert.equal(r.status, 200);
    assert.equal(r.json.total, 2);
    const alice = r.json.items.find((u: Json) => u.name === 'alice');
    assert.equal(alice.domain, 'CORP');
    assert.equal(alice.upn, 'alice@corp.example');
    assert.equal(alice.active, true);
    assert.deepEqual(alice.devices.map((d: Json) => d.hostname).sort(), ['Alice-Laptop', 'bob-desktop']);
    for (const d of alice.devices) { assert.equal(d.spans.length, 1); assert.ok(d.spans[0].from <= d.spans[0].to); }
    const bob = await call('GET', '/v1/users?name=BO', { token: t.read });
    assert.deepEqual(bob.json.items.map((u: Json) => u.name), ['bob']);
  });

  test('GET /v1/users pages by cursor in both orders; a bad cursor is a 400 naming the field', async () => {
    for (const sort of ['lastSeen', 'name']) {
      const whole = await call('GET', `/v1/users?sort=${sort}`, { token: t.read });
      assert.equal(whole.json.nextAfter, null);
      const seen: string[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 5; pages++) {
        const r: { status: number; json: Json } = await call('GET', `/v1/users?sort=${sort}&limit=1${after !== null ? `&after=${after}` : ''}`, { token: t.read });
        assert.equal(r.status, 200);
        assert.equal(r.json.total, 2);
        seen.push(...r.json.items.map((u: Json) => `${u.domain ?? ''}\\${u.name}`));
        after = r.json.nextAfter;
        if (after === null) break;
      }
      assert.deepEqual(seen, whole.json.items.map((u: Json) => `${u.domain ?? ''}\\${u.name}`), sort);
      assert.equal(seen.length, 2);
    }
    assert.deepEqual((await call('GET', '/v1/users?sort=name', { token: t.read })).json.items.map((u: Json) => u.name), ['alice', 'bob'], 'name order: key "domain\\name" in code-point order ("CORP\\alice" before "\\bob")');
    const bad = await call('GET', '/v1/users?after=not-a-cursor', { token: t.read });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.json), /after/);
  });
});

describe('merges and splits by hand', () => {
  test('POST /v1/devices/:id/macs links a MAC with its address history; DELETE splits it off again; bad input changes nothing', async () => {
    const s3 = await enroll('lap-3');
    // Two identities the store had no evidence to link: the agent's laptop, and a randomized
    // (locally administered) MAC that took a DHCP lease under another name.
    assert.equal((await heartbeat('lap-3', s3, { agentId: 'lap-3', hostname: 'carol-laptop', macs: ['02:cc:00:00:00:03'], addresses: ['10.9.0.13'], users: [{ name: 'carol' }] })).status, 204);
    const ack = dhcp4({ xid: 0x77, mac: '02:cc:00:00:00:04', msgType: 5, yiaddr: '10.9.0.14', options: [[51, u32be(3600)], [54, ip4('10.9.0.1')]] });
    const frame = ethernet('02:cc:00:00:00:04', '02:00:00:00:00:fe', ETH_IPV4, ipv4({ src: '10.9.0.1', dst: '10.9.0.14', proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, ack)));
    t.daemon.sensor.onPacket(frame, 0, frame.length, frame.length, Date.now() * 1000, 1, 0);
    const laptop = (await call('GET', '/v1/devices?mac=02:cc:00:00:00:03', { token: t.read })).json.items[0] as Json;
    const other = (await call('GET', '/v1/devices?mac=02:cc:00:00:00:04', { token: t.read })).json.items[0] as Json;
    assert.notEqual(laptop.uid, other.uid);
    const before = (await call('GET', '/v1/devices', { token: t.read })).json;

    // Refused without changing anything: read token, unknown device, malformed MAC, extra field.
    const url = `/v1/devices/${encodeURIComponent(laptop.uid)}/macs`;
    assert.equal((await call('POST', url, { token: t.read, body: { mac: '02:cc:00:00:00:04' } })).status, 403);
    assert.equal((await call('POST', '/v1/devices/mac%3Anope/macs', { token: t.admin, body: { mac: '02:cc:00:00:00:04' } })).status, 404);
    const badMac = await call('POST', url, { token: t.admin, body: { mac: '02:cc:00:00:00' } });
    assert.equal(badMac.status, 400);
    assert.match(JSON.stringify(badMac.json), /mac/);
    assert.equal((await call('POST', url, { token: t.admin, body: { mac: '02:cc:00:00:00:04', force: true } })).status, 400);
    assert.deepEqual((await call('GET', '/v1/devices', { token: t.read })).json, before);

    const linked = await call('POST', url, { token: t.admin, body: { mac: '02-CC-00-00-00-04' } });
    assert.equal(linked.status, 200, JSON.stringify(linked.json));
    assert.equal(linked.json.device.uid, laptop.uid);
    assert.equal(linked.json.from, other.uid);
    assert.deepEqual([...linked.json.device.macs].sort(), ['02:cc:00:00:00:03', '02:cc:00:00:00:04']);
    const merged = (await call('GET', `/v1/devices/${encodeURIComponent(laptop.uid)}`, { token: t.read })).json;
    assert.ok(merged.links.some((l: Json) => l.mac === '02:cc:00:00:00:04' && l.reason === 'manual'));
    // The address the linked MAC held now belongs to the laptop's history.
    assert.ok(merged.bindings.some((b: Json) => b.address === '10.9.0.14'), JSON.stringify(merged.bindings));
    assert.deepEqual((await call('GET', '/v1/devices?ip=10.9.0.14', { token: t.read })).json.items.map((d: Json) => d.uid), [laptop.uid]);

    // Split: the MAC becomes a device of its own and takes its address with it.
    const delUrl = `/v1/devices/${encodeURIComponent(laptop.uid)}/macs/02:cc:00:00:00:04`;
    assert.equal((await call('DELETE', delUrl, { token: t.read })).status, 403);
    const split = await call('DELETE', delUrl, { token: t.admin });
    assert.equal(split.status, 200, JSON.stringify(split.json));
    assert.equal(split.json.from, laptop.uid);
    assert.deepEqual(split.json.device.macs, ['02:cc:00:00:00:04']);
    assert.notEqual(split.json.device.uid, laptop.uid);
    const after = (await call('GET', `/v1/devices/${encodeURIComponent(laptop.uid)}`, { token: t.read })).json;
    assert.deepEqual(after.macs, ['02:cc:00:00:00:03']);
    const link = after.links.find((l: Json) => l.mac === '02:cc:00:00:00:04');
    assert.equal(link.splitTo, split.json.device.uid);
    assert.match(link.unlinkedAt, /^\d{4}-/);
    assert.deepEqual((await call('GET', '/v1/devices?ip=10.9.0.14', { token: t.read })).json.items.map((d: Json) => d.uid).filter((u: string) => u === laptop.uid), []);

    // The last MAC of a device cannot be split off; a MAC the device does not have is a 404.
    const last = await call('DELETE', `/v1/devices/${encodeURIComponent(laptop.uid)}/macs/02:cc:00:00:00:03`, { token: t.admin });
    assert.equal(last.status, 409);
    assert.equal(last.json.code, 'DEVICE_MAC_ONLY_ONE');
    assert.equal((await call('DELETE', `/v1/devices/${encodeURIComponent(laptop.uid)}/macs/02:cc:00:00:00:04`, { token: t.admin })).status, 404);
  });
});

describe('agents', () => {
  test('GET /v1/agents lists enrolled agents without secrets; admin only', async () => {
    assert.equal((await call('GET', '/v1/agents', { token: t.read })).status, 403);
    const r = await call('GET', '/v1/agents', { token: t.admin });
    assert.equal(r.status, 200);
    const ids = r.json.items.map((a: Json) => a.agentId);
    assert.ok(ids.includes('lap-1') && ids.includes('lap-2'));
    const text = JSON.stringify(r.json);
    for (const s of secrets.values()) assert.ok(!text.includes(s), 'no secret in the listing');
    for (const a of r.json.items) { assert.equal(a.secret, undefined); assert.match(a.enrolledAt, /^\d{4}-/); }
    assert.match(r.json.items.find((a: Json) => a.agentId === 'lap-1').lastHeartbeat, /^\d{4}-/);
    assert.equal(typeof r.json.items.find((a: Json) => a.agentId === 'lap-1').deviceUid, 'string');
  });

  test('DELETE /v1/agents/:id revokes: its heartbeats get 401 afterwards; unknown is 404; read token 403', async () => {
    const secret = await enroll('lap-gone');
    assert.equal((await heartbeat('lap-gone', secret, { agentId: 'lap-gone', hostname: 'gone' })).status, 204);
    assert.equal((await call('DELETE', '/v1/agents/lap-gone', { token: t.read })).status, 403);
    const d = await call('DELETE', '/v1/agents/lap-gone', { token: t.admin });
    assert.equal(d.status, 200);
    assert.deepEqual(d.json, { agentId: 'lap-gone', revoked: true });
    const hb = await heartbeat('lap-gone', secret, { agentId: 'lap-gone', hostname: 'gone' });
    assert.equal(hb.status, 401);
    assert.equal(hb.json.code, 'AGENT_NOT_ENROLLED');
    const again = await call('DELETE', '/v1/agents/lap-gone', { token: t.admin });
    assert.equal(again.status, 404);
    assert.equal(again.json.code, 'API_NOT_FOUND');
    assert.ok(!(await call('GET', '/v1/agents', { token: t.admin })).json.items.some((a: Json) => a.agentId === 'lap-gone'));
    // Other agents are untouched.
    assert.equal((await heartbeat('lap-1', secrets.get('lap-1')!, { agentId: 'lap-1' })).status, 204);
  });
});

describe('sinks', () => {
  test('GET /v1/sinks shows the outbox and each sink, configured-but-disabled ones too', async () => {
    const r = await call('GET', '/v1/sinks', { token: t.read });
    assert.equal(r.status, 200);
    for (const k of ['depth', 'bytes', 'oldest_age_ms']) assert.equal(typeof r.json.outbox[k], 'number', k);
    const spare = r.json.sinks.find((s: Json) => s.name === 'spare');
    assert.equal(spare.enabled, false);
    assert.equal(spare.running, false);
    assert.equal(typeof spare.lag_events, 'number');
    assert.equal((await call('GET', '/v1/sinks/nope/dead-letters', { token: t.read })).json.code, 'API_NOT_FOUND');
    assert.deepEqual((await call('GET', '/v1/sinks/spare/dead-letters', { token: t.read })).json, { sink: 'spare', items: [] });
    assert.equal((await call('GET', '/v1/sinks/spare/dead-letters?limit=5000', { token: t.read })).status, 400);
  });

  test('a rejecting receiver: lag drains, errors and dead letters show', { skip: haveOpenssl ? false : 'openssl not installed' }, async () => {
    feedFlows(t.daemon);
    t.daemon.sensor.flush();
    const sink = async (): Promise<Json> => { const r = await call('GET', '/v1/sinks', { token: t.read }); assert.equal(r.status, 200, JSON.stringify(r.json)); return r.json.sinks.find((s: Json) => s.name === 'siem'); };
    await waitFor(() => rx!.requests > 0, 8000, 'receiver got a batch');
    let s = await sink();
    for (let i = 0; i < 80 && !(s.dead_lettered > 0 && s.lag_events === 0); i++) { await new Promise((r) => setTimeout(r, 100)); s = await sink(); }
    assert.equal(s.type, 'https');
    assert.equal(s.running, true);
    assert.equal(s.lag_events, 0);
    assert.equal(s.oldest_unsent_age_ms, 0);
    assert.ok(s.dead_lettered > 0);
    assert.equal(typeof s.rate_events_per_s, 'number');
    assert.equal(typeof s.errors, 'number');
    const dl = await call('GET', '/v1/sinks/siem/dead-letters?limit=3', { token: t.read });
    assert.equal(dl.status, 200);
    assert.equal(dl.json.items.length, 3);
    assert.equal(dl.json.items[0].status, 400);
    assert.equal(typeof JSON.parse(dl.json.items[0].event), 'object');
    assert.match(dl.json.items[0].at, /^\d{4}-/);
  });
});
