/**
 * The agent listener (devices.agentListener, src/devices/agent-listener.ts): the daemon's second,
 * HTTPS-only server for agent heartbeats. A self-signed certificate made with openssl here; a real
 * daemon (no capture) enrolls through its admin API and takes heartbeats over HTTPS, valid ones
 * with 204 and forged, stale, replayed, unknown and malformed ones with a 4xx, each counted in
 * GET /metrics; the listener shows in GET /v1/health, serves no enrollment, has its own rate
 * limit; the real agent (appliance/agent) posts to it with --ca. Misconfigurations stop the daemon
 * with a stable code. Skips when openssl is missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { testDaemon, type TestDaemon } from './support/daemon.js';
import { signHeartbeat, AgentRegistry } from '../src/devices/agent-routes.js';
import { createAgentListener, prepareAgentListenerTls } from '../src/devices/agent-listener.js';
import { DEFAULT_AGENT_LISTENER_CONFIG } from '../src/devices/config.js';
import { DeviceIdentity } from '../src/devices/identity.js';
import { DeviceStore } from '../src/devices/store.js';
import { isOutpostError } from '../src/errors.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const haveOpenssl = (() => { try { execFileSync('sh', ['-c', 'command -v openssl'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const skip = haveOpenssl ? false : 'needs openssl (self-signed certificate for the agent listener)';

let dir = '';
let cert = '';
let key = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-agent-listener-'));
  if (!haveOpenssl) return;
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore', timeout: 20_000 });
});
after(() => { rmSync(dir, { recursive: true, force: true }); });

/** POST over HTTPS, trusting only `ca` (the self-signed certificate). */
function post(url: string, raw: string, headers: Record<string, string>, ca: Buffer | undefined): Promise<{ status: number; json: Json }> {
  return new Promise((res, rej) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(raw)), ...headers }, ...(ca ? { ca } : {}), timeout: 5000 }, (r) => {
      let data = '';
      r.on('data', (c) => { data += c; });
      r.on('end', () => { let json: Json = {}; try { json = JSON.parse(data); } catch { /* empty */ } res({ status: r.statusCode ?? 0, json }); });
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(raw);
  });
}

const nonce = () => randomBytes(12).toString('base64url');
function signed(agentId: string, secret: string, body: object, ts = Date.now(), n = nonce()): { raw: string; headers: Record<string, string> } {
  const raw = JSON.stringify(body);
  return { raw, headers: { 'x-outpost-agent': agentId, 'x-outpost-timestamp': String(ts), 'x-outpost-nonce': n, 'x-outpost-signature': signHeartbeat(secret, String(ts), n, raw) } };
}

describe('agent listener in the daemon', { skip }, () => {
  let t: TestDaemon;
  let url = '';
  let ca: Buffer;
  before(async () => {
    t = await testDaemon({ devices: { agentListener: { enabled: true, host: '127.0.0.1', port: 0, tlsCertFile: cert, tlsKeyFile: key } } });
    url = t.daemon.agentListener!.address()!.url;
    ca = readFileSync(cert);
  });
  after(async () => { await t?.stop(); });

  const enroll = async (agentId: string): Promise<string> => {
    const r = await t.daemon.api.inject({ method: 'POST', url: '/v1/agents/enroll', headers: { authorization: `Bearer ${t.admin}` }, payload: { agentId } });
    assert.equal(r.statusCode, 201, r.body);
    return r.json().secret as string;
  };
  const counters = async (): Promise<Record<string, number>> => {
    const r = await t.daemon.api.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${t.read}` } });
    const out: Record<string, number> = {};
    for (const m of r.body.matchAll(/^outpost_agents_(\w+?)(?:_total)? (\d+)$/gm)) out[m[1]!] = Number(m[2]);
    return out;
  };

  test('listens over HTTPS on its own port and reports in /v1/health', async () => {
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(Number(new URL(url).port), (t.daemon.api.server.address() as { port: number }).port);
    const h = await t.daemon.api.inject({ method: 'GET', url: '/v1/health', headers: { authorization: `Bearer ${t.read}` } });
    const entry = (h.json().components as Json[]).find((c) => c.name === 'agent-listener');
    assert.deepEqual(entry && { state: entry.state, ready: entry.ready, detail: entry.detail }, { state: 'running', ready: true, detail: url });
  });

  test('accepts a valid signed heartbeat (204) and applies it; refuses forged, stale, replayed, unknown and malformed with a 4xx, each counted in /metrics', async () => {
    const secret = await enroll('lst-1');
    const body = { agentId: 'lst-1', hostname: 'lst-host', macs: ['02:ab:00:00:00:01'], addresses: ['10.66.0.9'], users: [{ name: 'carol' }], os: 'Debian GNU/Linux 12' };
    const before = await counters();
    const ok = signed('lst-1', secret, body);
    assert.equal((await post(`${url}/v1/agents/heartbeat`, ok.raw, ok.headers, ca)).status, 204);
    const replay = await post(`${url}/v1/agents/heartbeat`, ok.raw, ok.headers, ca);
    assert.deepEqual([replay.status, replay.json.code], [409, 'AGENT_HEARTBEAT_REPLAYED']);
    const stale = signed('lst-1', secret, body, Date.now() - 600_000);
    const rs = await post(`${url}/v1/agents/heartbeat`, stale.raw, stale.headers, ca);
    assert.deepEqual([rs.status, rs.json.code], [401, 'AGENT_HEARTBEAT_STALE']);
    const forged = signed('lst-1', randomBytes(32).toString('base64url'), body);
    const rf = await post(`${url}/v1/agents/heartbeat`, forged.raw, forged.headers, ca);
    assert.deepEqual([rf.status, rf.json.code], [401, 'AGENT_SIGNATURE_INVALID']);
    const tampered = signed('lst-1', secret, body);
    const rt = await post(`${url}/v1/agents/heartbeat`, tampered.raw.replace('carol', 'mallory'), tampered.headers, ca);
    assert.deepEqual([rt.status, rt.json.code], [401, 'AGENT_SIGNATURE_INVALID']);
    const unknown = signed('nobody', secret, { agentId: 'nobody' });
    const ru = await post(`${url}/v1/agents/heartbeat`, unknown.raw, unknown.headers, ca);
    assert.deepEqual([ru.status, ru.json.code], [401, 'AGENT_NOT_ENROLLED']);
    const bad = signed('lst-1', secret, { ...body, extra: 1 });
    const rb = await post(`${url}/v1/agents/heartbeat`, bad.raw, bad.headers, ca);
    assert.deepEqual([rb.status, rb.json.code], [400, 'AGENT_HEARTBEAT_MALFORMED']);
    const after = await counters();
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    assert.deepEqual(
      { accepted: delta('heartbeats_accepted'), replayed: delta('refused_replayed'), stale: delta('refused_stale'), forged: delta('refused_forged'), unknown: delta('refused_unknown'), malformed: delta('refused_malformed') },
      { accepted: 1, replayed: 1, stale: 1, forged: 2, unknown: 1, malformed: 1 },
    );
    // Applied: the admin API's device view knows the host and its user.
    const d = await t.daemon.api.inject({ method: 'GET', url: '/v1/devices?ip=10.66.0.9', headers: { authorization: `Bearer ${t.read}` } });
    assert.equal(d.statusCode, 200, d.body);
    assert.equal(d.json().items[0]?.hostname, 'lst-host');
  });

  test('serves heartbeats only: no enrollment, no admin routes', async () => {
    const e = await post(`${url}/v1/agents/enroll`, JSON.stringify({ agentId: 'x' }), { authorization: `Bearer ${t.admin}` }, ca);
    assert.deepEqual([e.status, e.json.code], [404, 'API_NOT_FOUND']);
    const c = await post(`${url}/v1/jobs/compaction/run`, '{}', { authorization: `Bearer ${t.admin}` }, ca);
    assert.equal(c.status, 404);
  });

  test('an agent that does not trust the certificate cannot connect; the failed handshake is counted', async () => {
    const before = (await counters()).listener_tls_errors ?? 0;
    await assert.rejects(post(`${url}/v1/agents/heartbeat`, '{}', {}, undefined), /self[- ]signed|unable to verify/i);
    let n = before;
    for (let i = 0; i < 50 && n === before; i++) { await new Promise((r) => setTimeout(r, 20)); n = (await counters()).listener_tls_errors ?? 0; }
    assert.equal(n, before + 1);
  });

  test('the real agent (appliance/agent) enrolls through the admin API with a token file and posts over HTTPS with --ca', async () => {
    const adminUrl = `http://127.0.0.1:${(t.daemon.api.server.address() as { port: number }).port}`;
    const tokenFile = join(dir, 'admin-token');
    writeFileSync(tokenFile, t.admin, { mode: 0o600 });
    const secretFile = join(dir, 'agent-secret');
    const run = promisify(execFile);
    const agent = resolve('appliance/agent/outpost-agent.mjs');
    await run(process.execPath, [agent, 'enroll', '--admin', adminUrl, '--agent-id', 'lst-agent', '--secret-file', secretFile, '--token-file', tokenFile], { timeout: 15_000 });
    const acceptedBefore = (await counters()).heartbeats_accepted ?? 0;
    await run(process.execPath, [agent, 'heartbeat', '--gateway', url, '--ca', cert, '--agent-id', 'lst-agent', '--secret-file', secretFile, '--once'], { timeout: 15_000 });
    assert.equal((await counters()).heartbeats_accepted, acceptedBefore + 1);
    // Without --ca the self-signed certificate is refused by the agent.
    await assert.rejects(run(process.execPath, [agent, 'heartbeat', '--gateway', url, '--agent-id', 'lst-agent', '--secret-file', secretFile, '--once'], { timeout: 15_000 }), /heartbeat failed/);
  });
});

test('agent listener rate limit: 429 API_RATE_LIMITED beyond rateLimitPerMinute, counted', { skip }, async () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const registry = new AgentRegistry(10, 1000, 300_000);
  const settings = { ...DEFAULT_AGENT_LISTENER_CONFIG, enabled: true, host: '127.0.0.1', port: 0, tlsCertFile: cert, tlsKeyFile: key, rateLimitPerMinute: 3 };
  const l = await createAgentListener({ settings, tls: prepareAgentListenerTls(settings), identity, registry });
  await l.service.start(new AbortController().signal);
  try {
    const secret = registry.enroll('rl', Date.now()).secret;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = signed('rl', secret, { agentId: 'rl' });
      statuses.push((await post(`${l.address()!.url}/v1/agents/heartbeat`, s.raw, s.headers, readFileSync(cert))).status);
    }
    assert.deepEqual(statuses, [204, 204, 204, 429, 429]);
    assert.equal(registry.counters.snapshot()['agents.refused_rate_limited'], 2);
    assert.equal(l.health().state, 'running');
  } finally {
    await l.service.stop();
  }
  assert.equal(l.address(), null);
  assert.equal(l.health().state, 'stopped');
});

test('misconfigured agent listener: the daemon does not start, with a stable code', { skip }, async () => {
  const expectCode = async (agentListener: object, code: string) => {
    await assert.rejects(testDaemon({ devices: { agentListener: { enabled: true, ...agentListener } } }), (err: unknown) => {
      assert.ok(isOutpostError(err), String(err));
      assert.equal((err as { code: string }).code, code);
      return true;
    });
  };
  // Clear text on a LAN address.
  await expectCode({ host: '0.0.0.0', port: 0 }, 'AGENT_LISTENER_INSECURE_BIND');
  await expectCode({ host: '192.0.2.1', port: 0, tlsCertFile: '', tlsKeyFile: '' }, 'AGENT_LISTENER_INSECURE_BIND');
  // Only half of TLS, or unreadable files.
  await expectCode({ host: '0.0.0.0', port: 0, tlsCertFile: cert }, 'AGENT_LISTENER_TLS_UNREADABLE');
  await expectCode({ host: '0.0.0.0', port: 0, tlsCertFile: cert, tlsKeyFile: join(dir, 'missing.pem') }, 'AGENT_LISTENER_TLS_UNREADABLE');
  // Port taken.
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  try {
    await expectCode({ host: '127.0.0.1', port: (busy.address() as { port: number }).port, tlsCertFile: cert, tlsKeyFile: key }, 'AGENT_LISTENER_LISTEN_FAILED');
  } finally {
    busy.close();
  }
  // Plain HTTP on loopback is allowed (local agents, tests).
  assert.equal(prepareAgentListenerTls({ ...DEFAULT_AGENT_LISTENER_CONFIG, host: '127.0.0.1' }), null);
});
