/**
 * The admin API against a real daemon (no capture): auth and roles, schema errors, config round
 * trip with restart-required flags and audit, jobs, flows, OpenAPI, plugins, rate limiting, and
 * /metrics scraped over a real loopback socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { FastifyPluginAsync } from 'fastify';
import { testDaemon, feedFlows, type TestDaemon } from './support/daemon.js';
import { checkBindSecurity } from '../src/api/server.js';
import { isLoopback } from '../src/http.js';
import { resolveConfig } from '../src/config/index.js';
import { OutpostError } from '../src/errors.js';
import type { ApiPluginOptions } from '../src/api/types.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const devices: FastifyPluginAsync<ApiPluginOptions> = async (app) => {
  app.get('/', { schema: { response: { 200: { type: 'object', properties: { devices: { type: 'array' } } } } } }, async () => ({ devices: [] }));
};
const secrets: FastifyPluginAsync<ApiPluginOptions> = async (app) => {
  app.get('/', { schema: { response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
};

let t: TestDaemon;
let hookRuns = 0;
before(async () => {
  t = await testDaemon({}, {
    // The daemon's own /v1/devices (read) and /v1/agents (admin) plugins are checked below; these
    // stand-ins show that another area's plugin gets its prefix, role and tag the same way.
    apiPlugins: [
      { name: 'inventory', prefix: '/v1/test-inventory', plugin: devices },
      { name: 'secrets', prefix: '/v1/test-secrets', role: 'admin', plugin: secrets },
    ],
    jobHooks: [
      { job: 'retention', name: 'test-counter', run: () => { hookRuns++; } },
      { job: 'compaction', name: 'broken', run: () => { throw new Error('disk on fire'); } },
    ],
    metricSources: { outbox: () => ({ 'outbox.depth': 7, 'outbox.sent': 42 }) },
  });
  feedFlows(t.daemon);
});
after(async () => { await t.stop(); });

async function call(method: string, url: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; json: Json; headers: Record<string, unknown>; body: string }> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const r = await t.daemon.api.inject({ method: method as 'GET', url, headers, ...(opts.body !== undefined ? { payload: opts.body as object } : {}) });
  let json: Json = {};
  try { json = r.json(); } catch { /* text */ }
  return { status: r.statusCode, json, headers: r.headers, body: r.body };
}

describe('auth', () => {
  test('health and openapi are public; everything else needs a token', async () => {
    assert.equal((await call('GET', '/v1/health')).status, 200);
    assert.equal((await call('GET', '/openapi.json')).status, 200);
    for (const url of ['/v1/stats', '/metrics', '/v1/flows', '/v1/config', '/v1/jobs', '/v1/interfaces', '/v1/capture', '/v1/devices']) {
      const r = await call('GET', url);
      assert.equal(r.status, 401, url);
      assert.equal(r.json.code, 'API_UNAUTHORIZED');
      assert.equal(r.headers['www-authenticate'], 'Bearer');
    }
  });

  test('unknown or malformed tokens are refused', async () => {
    assert.equal((await call('GET', '/v1/stats', { token: 'opa_nope' })).json.code, 'API_UNAUTHORIZED');
    assert.equal((await call('GET', '/v1/stats', { headers: { authorization: 'Basic Zm9vOmJhcg==' } })).json.code, 'API_UNAUTHORIZED');
  });

  test('read token reads, but is refused on writes and admin-only plugins', async () => {
    assert.equal((await call('GET', '/v1/stats', { token: t.read })).status, 200);
    assert.equal((await call('GET', '/v1/devices', { token: t.read })).status, 200);
    for (const [m, u] of [['PATCH', '/v1/config'], ['PUT', '/v1/config'], ['POST', '/v1/config/reload'], ['POST', '/v1/jobs/retention/run'], ['GET', '/v1/agents']] as const) {
      const r = await call(m, u, { token: t.read, ...(m === 'GET' || m === 'POST' ? {} : { body: { logLevel: 'warn' } }) });
      assert.equal(r.status, 403, `${m} ${u}`);
      assert.equal(r.json.code, 'API_FORBIDDEN');
    }
    assert.equal((await call('GET', '/v1/agents', { token: t.admin })).status, 200);
    assert.equal((await call('GET', '/v1/test-inventory', { token: t.read })).status, 200);
    assert.equal((await call('GET', '/v1/test-secrets', { token: t.read })).status, 403);
    assert.equal((await call('GET', '/v1/test-secrets', { token: t.admin })).status, 200);
  });

  test('without any token configured: reads open, writes refused', async () => {
    const open = await testDaemon({}, {}, false);
    try {
      const r1 = await open.daemon.api.inject({ method: 'GET', url: '/v1/stats' });
      assert.equal(r1.statusCode, 200);
      const r2 = await open.daemon.api.inject({ method: 'PATCH', url: '/v1/config', payload: { logLevel: 'warn' } });
      assert.equal(r2.statusCode, 403);
      assert.equal(r2.json().code, 'API_FORBIDDEN');
    } finally { await open.stop(); }
  });

  test('refuses non-loopback binds without TLS and tokens', () => {
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && !isLoopback('0.0.0.0') && !isLoopback('192.0.2.1'));
    const base = resolveConfig({}).api;
    assert.throws(() => checkBindSecurity({ ...base, host: '0.0.0.0' }), (e: OutpostError) => e.code === 'API_INSECURE_BIND' && /TLS/.test(e.message) && /authentication/.test(e.message));
    assert.throws(() => checkBindSecurity({ ...base, host: '::', tls: { certFile: '/c', keyFile: '/k' } }), (e: OutpostError) => e.code === 'API_INSECURE_BIND' && !/TLS/.test(e.message));
    assert.doesNotThrow(() => checkBindSecurity({ ...base, host: '0.0.0.0', tls: { certFile: '/c', keyFile: '/k' }, tokens: [{ name: 'a', role: 'admin', sha256: '0'.repeat(64) }] }));
  });
});

describe('schemas and errors', () => {
  test('bad query, params and bodies get 4xx with catalogue codes', async () => {
    const cases: Array<[string, string, unknown, number, string, Record<string, string>?]> = [
      ['GET', '/v1/flows?limit=0', undefined, 400, 'API_VALIDATION_FAILED'],
      ['GET', '/v1/flows?limit=abc', undefined, 400, 'API_VALIDATION_FAILED'],
      ['GET', '/v1/flows?colour=red', undefined, 400, 'API_VALIDATION_FAILED'],
      ['GET', '/v1/flows?ip=not-an-ip', undefined, 400, 'API_VALIDATION_FAILED'],
      ['GET', '/v1/flows?protocol=999', undefined, 400, 'API_VALIDATION_FAILED'],
      ['GET', '/v1/jobs/NOPE', undefined, 400, 'API_VALIDATION_FAILED'],
      ['GET', '/v1/jobs/nope', undefined, 404, 'JOB_UNKNOWN'],
      ['GET', '/v1/nothing-here', undefined, 404, 'API_NOT_FOUND'],
      ['PATCH', '/v1/config', [1, 2], 400, 'API_VALIDATION_FAILED'],
      ['PATCH', '/v1/config', '{"logLevel":', 400, 'API_BAD_REQUEST', { 'content-type': 'application/json' }],
      ['PATCH', '/v1/config', 'logLevel=debug', 415, 'API_UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['PATCH', '/v1/config', JSON.stringify({ x: 'a'.repeat(300_000) }), 413, 'API_PAYLOAD_TOO_LARGE', { 'content-type': 'application/json' }],
      ['PATCH', '/v1/config', '{"__proto__":{"x":1}}', 400, 'API_BAD_REQUEST', { 'content-type': 'application/json' }],
    ];
    for (const [m, u, body, status, code, headers] of cases) {
      const r = await call(m, u, { token: t.admin, body, ...(headers ? { headers } : {}) });
      assert.equal(r.status, status, `${m} ${u} ${String(body).slice(0, 40)}: ${r.body.slice(0, 200)}`);
      assert.equal(r.json.code, code, `${m} ${u}`);
      assert.ok(typeof r.json.message === 'string' && r.json.message.length > 5);
    }
    const r = await call('GET', '/v1/flows?colour=red&limit=0', { token: t.read });
    assert.deepEqual(r.json.details.problems.map((p: Json) => p.path).sort(), ['/querystring/colour', '/querystring/limit']);
  });

  test('OpenAPI lists every route with its schema, security and plugin tags', async () => {
    const doc = (await call('GET', '/openapi.json')).json;
    assert.equal(doc.openapi, '3.0.3');
    for (const p of ['/v1/health', '/metrics', '/openapi.json', '/v1/stats', '/v1/interfaces', '/v1/capture', '/v1/flows', '/v1/config', '/v1/config/audit', '/v1/config/reload', '/v1/jobs', '/v1/jobs/{name}', '/v1/jobs/{name}/run', '/v1/devices', '/v1/devices/{id}', '/v1/users', '/v1/agents', '/v1/agents/{id}', '/v1/sinks', '/v1/sinks/{name}/dead-letters', '/v1/test-inventory']) {
      assert.ok(doc.paths[p], `${p} missing from openapi.json (${Object.keys(doc.paths).join(' ')})`);
    }
    assert.deepEqual(doc.paths['/v1/health'].get.security, []);
    assert.match(doc.paths['/v1/agents'].get.description, /Required role: admin/);
    assert.deepEqual(doc.paths['/v1/devices'].get.tags, ['devices']);
    assert.deepEqual(doc.paths['/v1/test-inventory'].get.tags, ['inventory']);
    assert.match(doc.paths['/v1/test-secrets'].get.description, /Required role: admin/);
    assert.ok(doc.paths['/v1/flows'].get.parameters.some((p: Json) => p.name === 'ip' && p.in === 'query'));
  });

  test('a plugin route without a response schema is refused at start', async () => {
    const bad: FastifyPluginAsync<ApiPluginOptions> = async (app) => { app.get('/', async () => ({})); };
    await assert.rejects(testDaemon({}, { apiPlugins: [{ name: 'bad', prefix: '/v1/bad', plugin: bad }] }), /no JSON schema/);
  });
});

describe('config', () => {
  test('PATCH applies live settings, flags restart-only ones, writes the file atomically, audits', async () => {
    const mode = statSync(t.configPath).mode & 0o777;
    const g0 = (await call('GET', '/v1/config', { token: t.read })).json;
    assert.deepEqual(g0.restartRequired, []);
    const r1 = await call('PATCH', '/v1/config', { token: t.admin, body: { logLevel: 'warn', flows: { maxFlows: 4096 } }, headers: { 'if-match': g0.revision } });
    assert.equal(r1.status, 200, r1.body);
    assert.deepEqual(r1.json.applied, ['logLevel']);
    assert.deepEqual(r1.json.restartRequired, ['flows.maxFlows']);
    assert.equal(t.daemon.config.current.logLevel, 'warn');
    const onDisk = parse(readFileSync(t.configPath, 'utf8'));
    assert.equal(onDisk.logLevel, 'warn');
    assert.equal(onDisk.flows.maxFlows, 4096);
    assert.equal(statSync(t.configPath).mode & 0o777, mode, 'file mode kept');
    const health = (await call('GET', '/v1/health')).json;
    assert.deepEqual(health.restartRequired, ['flows.maxFlows']);
    assert.equal(health.components.find((c: Json) => c.name === 'config').state, 'restart-required');

    // Stale revision: refused, nothing changed.
    const stale = await call('PATCH', '/v1/config', { token: t.admin, body: { logLevel: 'info' }, headers: { 'if-match': g0.revision } });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.code, 'CONFIG_CONFLICT');

    // null resets to the default: restart no longer required.
    const r2 = await call('PATCH', '/v1/config', { token: t.admin, body: { flows: null, logLevel: null }, headers: { 'content-type': 'application/merge-patch+json' } });
    assert.equal(r2.status, 200, r2.body);
    assert.deepEqual(r2.json.restartRequired, []);
    assert.equal(parse(readFileSync(t.configPath, 'utf8')).flows, undefined);

    const audit = (await call('GET', '/v1/config/audit', { token: t.read })).json.items;
    assert.equal(audit.length, 2);
    assert.equal(audit[0].actor.name, 'ops');
    assert.equal(audit[0].actor.role, 'admin');
    assert.deepEqual(audit[0].changes.map((c: Json) => c.path), ['flows.maxFlows', 'logLevel']);
    const fileAudit = readFileSync(join(t.dir, 'data', 'audit.ndjson'), 'utf8').trim().split('\n');
    assert.equal(fileAudit.length, 2);
    assert.equal(statSync(join(t.dir, 'data', 'audit.ndjson')).mode & 0o777, 0o600);
    const events = (await t.events()).filter((e) => e.class_uid === 6003);
    assert.equal(events.length, 2, 'each change is sent as an API Activity event');
    assert.equal((events[0]!.actor as Json).user.name, 'ops');
  });

  test('invalid PUT gets 422 naming the field and rule, and changes nothing', async () => {
    const before = readFileSync(t.configPath, 'utf8');
    const rev = t.daemon.config.revision;
    const r = await call('PUT', '/v1/config', { token: t.admin, body: { flows: { maxFlows: 5, maxflow: 1 }, logLevel: 'loud' } });
    assert.equal(r.status, 422);
    assert.equal(r.json.code, 'CONFIG_REJECTED');
    const paths = r.json.details.problems.map((p: Json) => `${p.path} ${p.rule}`).sort();
    assert.deepEqual(paths, ['/flows/maxFlows minimum', '/flows/maxflow additionalProperties', '/logLevel enum']);
    assert.equal(readFileSync(t.configPath, 'utf8'), before);
    assert.equal(t.daemon.config.revision, rev);
  });

  test('token changes apply live; PUT round trip', async () => {
    const view = (await call('GET', '/v1/config', { token: t.admin })).json;
    const { createToken } = await import('../src/api/auth.js');
    const extra = createToken('read');
    const tokens = [...view.config.api.tokens, { name: 'new', role: 'read', sha256: extra.sha256 }];
    assert.equal((await call('GET', '/v1/stats', { token: extra.token })).status, 401);
    const r = await call('PATCH', '/v1/config', { token: t.admin, body: { api: { tokens } } });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json.applied, ['api.tokens']);
    assert.equal((await call('GET', '/v1/stats', { token: extra.token })).status, 200);
    assert.ok(!JSON.stringify(r.json.changes).includes(extra.sha256), 'audit shows token names, not hashes');
    // PUT the same document back: no changes.
    const again = await call('PUT', '/v1/config', { token: t.admin, body: parse(readFileSync(t.configPath, 'utf8')) });
    assert.equal(again.status, 200);
    assert.deepEqual(again.json.changes, []);
  });
});

describe('jobs, flows, metrics', () => {
  test('jobs list their hooks; a manual run records outcome, failures are reported', async () => {
    const ok = await call('POST', '/v1/jobs/retention/run', { token: t.admin });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json.run.outcome, 'ok');
    assert.equal(hookRuns, 1);
    const bad = await call('POST', '/v1/jobs/compaction/run', { token: t.admin });
    assert.equal(bad.json.run.outcome, 'error');
    // The daemon's own hooks run too (device history with retention, DNS names with compaction);
    // the broken one reports.
    assert.equal(bad.json.run.hooks.find((h: Json) => h.name === 'broken')?.error, 'disk on fire');
    assert.equal(bad.json.run.hooks.find((h: Json) => h.name === 'dns-names')?.outcome, 'ok');
    assert.equal(ok.json.run.hooks.find((h: Json) => h.name === 'devices')?.outcome, 'ok', JSON.stringify(ok.json.run.hooks));
    const list = (await call('GET', '/v1/jobs', { token: t.read })).json.jobs as Json[];
    const byName = new Map(list.map((j) => [j.name, j]));
    for (const n of ['flows.expire', 'expiry', 'retention', 'compaction', 'catalog.reload', 'reports']) assert.ok(byName.has(n), n);
    assert.equal(byName.get('retention')!.lastRun.outcome, 'ok');
    assert.equal(byName.get('compaction')!.failures, 1);
    assert.ok(byName.get('retention')!.nextRunAt);
    const health = (await call('GET', '/v1/health')).json;
    assert.equal(health.components.find((c: Json) => c.name === 'jobs').state, 'degraded');
  });

  test('flows: filters and cursor paging', async () => {
    const all = (await call('GET', '/v1/flows', { token: t.read })).json;
    assert.equal(all.total, 8);
    assert.equal(all.items.length, 8);
    assert.equal(all.items[0].client.ip, '10.0.0.1');
    assert.equal(all.items[0].server.port, 443);
    assert.equal(all.items[0].protocolName, 'tcp');
    assert.equal((await call('GET', '/v1/flows?protocol=udp', { token: t.read })).json.matched, 3);
    assert.equal((await call('GET', '/v1/flows?protocol=17&port=50001', { token: t.read })).json.matched, 1);
    assert.equal((await call('GET', '/v1/flows?ip=192.0.2.10', { token: t.read })).json.matched, 5);
    assert.equal((await call('GET', '/v1/flows?ip=10.0.0.3&port=443', { token: t.read })).json.items[0].client.port, 40002);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Json = (await call('GET', `/v1/flows?limit=3${after ? `&after=${after}` : ''}`, { token: t.read })).json;
      seen.push(...page.items.map((f: Json) => f.uid));
      after = page.nextAfter;
    } while (after);
    assert.deepEqual(seen, all.items.map((f: Json) => f.uid));
  });

  test('metrics on a real loopback socket: sensor counters, sources, API requests, jobs', async () => {
    const addr = t.daemon.api.server.address();
    assert.ok(addr && typeof addr === 'object');
    const res = await fetch(`http://127.0.0.1:${addr.port}/metrics`, { headers: { authorization: `Bearer ${t.read}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('outpost_decode_packets_total'), 13);
    assert.equal(value('outpost_flows_active'), 8);
    assert.match(text, /# TYPE outpost_flows_active gauge/);
    assert.match(text, /# TYPE outpost_flows_evicted_idle_total counter/);
    assert.match(text, /^outpost_decode_ipv4_bad_total_length_total 0$/m, 'malformed counters are exported');
    assert.equal(value('outpost_outbox_depth'), 7);
    assert.equal(value('outpost_outbox_sent_total'), 42);
    assert.match(text, /outpost_api_requests_total\{method="GET",route="\/v1\/flows",status="200"\} \d+/);
    assert.match(text, /outpost_job_runs_total\{job="compaction",outcome="error"\} 1/);
  });
});

test('rate limit: 429 with a catalogue code and Retry-After', async () => {
  const d = await testDaemon({ api: { rateLimitPerMinute: 3 } });
  try {
    const codes: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await d.daemon.api.inject({ method: 'GET', url: '/v1/stats', headers: { authorization: `Bearer ${d.read}` } });
      codes.push(last.statusCode);
    }
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    assert.equal(last!.json().code, 'API_RATE_LIMITED');
    assert.ok(Number(last!.headers['retry-after']) > 0);
  } finally { await d.stop(); }
});
