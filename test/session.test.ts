/**
 * First-run access and console sessions against a real daemon (no capture): the first-run admin
 * token (hash only on disk, 0600, login URL on the first start only), GET /login and
 * /v1/session, the cookie's flags, CSRF on cookie-authenticated writes, bearer tokens unchanged,
 * and what an attacker can try: forged, absent or stale cookies, writes from another origin.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDaemon, type TestDaemon } from './support/daemon.js';
import { startDaemon } from '../src/daemon.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/telemetry/logger.js';
import { NdjsonWriter } from '../src/replay.js';
import { FIRST_RUN_TOKEN_FILE, loginUrl } from '../src/api/first-run.js';
import { hashToken } from '../src/api/auth.js';
import { SESSION_IDLE_MS, SessionStore, cookieValue } from '../src/api/session.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let t: TestDaemon;
let firstToken: string;
let retentionRuns = 0;
before(async () => {
  t = await testDaemon({}, { firstRunAccess: true, jobHooks: [{ job: 'retention', name: 'count', run: () => { retentionRuns++; } }] });
  const url = t.daemon.loginUrl;
  assert.ok(url !== undefined, 'the first start has a login URL');
  firstToken = new URL(url).searchParams.get('token') ?? '';
});
after(async () => { await t.stop(); });

async function req(method: string, url: string, headers: Record<string, string> = {}, body?: unknown) {
  const r = await t.daemon.api.inject({ method: method as 'GET', url, headers, ...(body !== undefined ? { payload: body as object } : {}) });
  let json: Json = {};
  try { json = r.json(); } catch { /* empty or text */ }
  return { status: r.statusCode, json, headers: r.headers, body: r.body };
}

/** Logs in through the printed URL; returns the cookie header and the CSRF token. */
async function login(token = firstToken): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await req('GET', `/login?token=${encodeURIComponent(token)}`);
  assert.equal(r.status, 303, r.body);
  assert.equal(r.headers.location, '/');
  const setCookie = String(r.headers['set-cookie']);
  const id = cookieValue(setCookie.split(';')[0], 'outpost_session');
  assert.ok(id !== undefined && id.length === 43, setCookie);
  const cookie = `outpost_session=${id}`;
  const s = await req('GET', '/v1/session', { cookie });
  assert.equal(s.status, 200);
  return { cookie, csrf: s.json.csrfToken as string, setCookie };
}

describe('first-run token', () => {
  test('the URL is loopback with the real port, the token is an admin token', () => {
    const u = new URL(t.daemon.loginUrl!);
    assert.equal(u.origin, `http://127.0.0.1:${(t.daemon.api.server.address() as { port: number }).port}`);
    assert.equal(u.pathname, '/login');
    assert.match(firstToken, /^opa_[A-Za-z0-9_-]{43}$/);
    assert.equal(loginUrl('::1', 8470, true, 'opa_x'), 'https://[::1]:8470/login?token=opa_x');
    assert.equal(loginUrl('0.0.0.0', 8470, false, 'opa_x'), 'http://127.0.0.1:8470/login?token=opa_x');
  });

  test('only its hash is on disk, in a file only the owner can read', () => {
    const dataDir = join(t.dir, 'data');
    const path = join(dataDir, FIRST_RUN_TOKEN_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as Json;
    assert.equal(doc.sha256, hashToken(firstToken));
    assert.equal(doc.role, 'admin');
    // The token itself is nowhere in dataDir (nor in the configuration file).
    const secret = firstToken.slice(4);
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]);
    for (const f of [...walk(dataDir), t.configPath]) assert.ok(!readFileSync(f).includes(secret), `${f} holds the token`);
  });

  test('a second start on the same dataDir keeps the token and prints no URL', async () => {
    const writer = new NdjsonWriter(1);
    const cfg = loadConfig(t.configPath);
    const again = await startDaemon({ ...cfg, api: { ...cfg.api, port: 0 } }, createLogger('silent'), writer, { firstRunAccess: true, configPath: t.configPath });
    try {
      assert.equal(again.loginUrl, undefined);
      const r = await again.api.inject({ method: 'GET', url: '/v1/stats', headers: { authorization: `Bearer ${firstToken}` } });
      assert.equal(r.statusCode, 200, 'the token of the first start still works');
    } finally { await again.group.stop(); }
  });

  test('a damaged token file stops the start with API_TOKEN_FILE_INVALID', async () => {
    const other = await testDaemon({}, { firstRunAccess: true });
    await other.stop();
    writeFileSync(join(other.dir, 'data', FIRST_RUN_TOKEN_FILE), '{"role":"admin","sha256":"nope"}');
    await assert.rejects(
      startDaemon(loadConfig(other.configPath), createLogger('silent'), new NdjsonWriter(1), { firstRunAccess: true, configPath: other.configPath }),
      (e: { code?: string }) => e.code === 'API_TOKEN_FILE_INVALID',
    );
  });
});

describe('session', () => {
  test('GET /login sets an HttpOnly, SameSite=Strict, Path=/ cookie (no Secure over plain HTTP) and answers 303 to /', async () => {
    const { setCookie } = await login();
    const attrs = setCookie.split(';').map((s) => s.trim());
    assert.ok(attrs.includes('HttpOnly'), setCookie);
    assert.ok(attrs.includes('SameSite=Strict'), setCookie);
    assert.ok(attrs.includes('Path=/'), setCookie);
    assert.ok(!attrs.includes('Secure'), 'plain HTTP: a Secure cookie would never be sent back');
  });

  test('GET /v1/session names the user and gives a CSRF token; the session reads what the console reads', async () => {
    const { cookie, csrf } = await login();
    const s = await req('GET', '/v1/session', { cookie });
    assert.deepEqual(Object.keys(s.json).sort(), ['csrfToken', 'role', 'user']);
    assert.equal(s.json.user, 'admin');
    assert.equal(s.json.role, 'admin');
    assert.ok(csrf.length >= 32);
    for (const url of ['/v1/discovery/apps', '/v1/devices', '/v1/users', '/v1/health', '/metrics', '/v1/sinks', '/v1/stats', '/v1/flows']) {
      assert.equal((await req('GET', url, { cookie })).status, 200, url);
      assert.equal((await req('GET', url)).status, url === '/v1/health' ? 200 : 401, `${url} without the cookie`);
    }
  });

  test('POST /v1/session logs in with a configured token too, with its own name and role', async () => {
    const r = await req('POST', '/v1/session', { 'content-type': 'application/json' }, { token: t.read });
    assert.equal(r.status, 200);
    assert.equal(r.json.user, 'grafana');
    assert.equal(r.json.role, 'read');
    assert.match(String(r.headers['set-cookie']), /^outpost_session=[A-Za-z0-9_-]{43}; /);
    const cookie = String(r.headers['set-cookie']).split(';')[0]!;
    const w = await req('POST', '/v1/jobs/retention/run', { cookie, 'x-csrf-token': r.json.csrfToken });
    assert.equal(w.status, 403);
    assert.equal(w.json.code, 'API_FORBIDDEN', 'a read session stays read-only');
  });

  test('a wrong token logs nobody in', async () => {
    for (const r of [await req('GET', '/login?token=opa_nope'), await req('GET', '/login'), await req('POST', '/v1/session', { 'content-type': 'application/json' }, { token: 'opa_nope' })]) {
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'API_UNAUTHORIZED');
      assert.equal(r.headers['set-cookie'], undefined);
    }
  });

  test('a cookie write without the CSRF token is refused (403) and changes nothing; with it, it works', async () => {
    const { cookie, csrf } = await login();
    const before = readFileSync(t.configPath, 'utf8');
    const revision = (await req('GET', '/v1/config', { cookie })).headers.etag;
    const runs = retentionRuns;
    for (const [m, u, body] of [['PATCH', '/v1/config', { logLevel: 'warn' }], ['POST', '/v1/jobs/retention/run', undefined], ['POST', '/v1/config/reload', undefined]] as const) {
      for (const bad of [{}, { 'x-csrf-token': 'x'.repeat(csrf.length) }, { 'x-csrf-token': '' }] as Array<Record<string, string>>) {
        const r = await req(m, u, { cookie, ...bad, ...(body ? { 'content-type': 'application/json' } : {}) } as Record<string, string>, body);
        assert.equal(r.status, 403, `${m} ${u} ${JSON.stringify(bad)}`);
        assert.equal(r.json.code, 'API_CSRF_REJECTED');
      }
    }
    assert.equal(readFileSync(t.configPath, 'utf8'), before, 'configuration file untouched');
    assert.equal((await req('GET', '/v1/config', { cookie })).headers.etag, revision);
    assert.equal(retentionRuns, runs, 'the job did not run');
    const ok = await req('PATCH', '/v1/config', { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, { logLevel: 'warn' });
    assert.equal(ok.status, 200, ok.body);
    assert.notEqual(readFileSync(t.configPath, 'utf8'), before);
    const audit = await req('GET', '/v1/config/audit?limit=1', { cookie });
    assert.equal(JSON.stringify(audit.json).includes('"admin"'), true, 'the change is audited under the session user');
  });

  test('bearer tokens work as before, with no CSRF header, even next to a cookie', async () => {
    const { cookie } = await login();
    assert.equal((await req('GET', '/v1/stats', { authorization: `Bearer ${t.read}` })).status, 200);
    const r = await req('POST', '/v1/jobs/retention/run', { authorization: `Bearer ${t.admin}` });
    assert.equal(r.status < 300, true, r.body);
    assert.equal((await req('POST', '/v1/jobs/retention/run', { authorization: `Bearer ${firstToken}`, cookie })).status < 300, true);
    assert.equal((await req('GET', '/v1/stats', { authorization: 'Bearer opa_nope', cookie })).status, 401, 'a bad bearer is not rescued by a good cookie');
  });

  test('DELETE /v1/session logs out (with its CSRF token); the cookie is dead afterwards', async () => {
    const { cookie, csrf } = await login();
    assert.equal((await req('DELETE', '/v1/session', { cookie })).status, 403, 'logout is a write too');
    const r = await req('DELETE', '/v1/session', { cookie, 'x-csrf-token': csrf });
    assert.equal(r.status, 204);
    assert.match(String(r.headers['set-cookie']), /^outpost_session=; .*Max-Age=0/);
    assert.equal((await req('GET', '/v1/session', { cookie })).status, 401);
    assert.equal((await req('GET', '/v1/stats', { cookie })).status, 401);
  });

  test('/ leads to the console', async () => {
    // The console (src/console/) serves / itself: the redirect to the discovered-apps page was
    // the stand-in until it did.
    const r = await req('GET', '/');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.match(r.body, /<title>Outpost console<\/title>/);
  });
});

describe('attacks', () => {
  test('forged, malformed and absent cookies read nothing', async () => {
    const forged = `outpost_session=${Buffer.alloc(32, 7).toString('base64url')}`;
    for (const headers of [{ cookie: forged }, { cookie: 'outpost_session=../../etc' }, { cookie: 'outpost_session=' }, {}] as Array<Record<string, string>>) {
      for (const url of ['/v1/stats', '/v1/devices', '/v1/discovery/apps', '/v1/session']) {
        const r = await req('GET', url, headers);
        assert.equal(r.status, 401, `${url} ${JSON.stringify(headers)}`);
        assert.equal(r.json.code, 'API_UNAUTHORIZED');
      }
    }
  });

  test('a write from another origin is refused even with the right CSRF token, and no CORS is granted', async () => {
    const { cookie, csrf } = await login();
    const runs = retentionRuns;
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1.evil.example`]) {
      const r = await req('POST', '/v1/jobs/retention/run', { cookie, 'x-csrf-token': csrf, origin });
      assert.equal(r.status, 403, origin);
      assert.equal(r.json.code, 'API_CSRF_REJECTED');
      assert.equal(r.headers['access-control-allow-origin'], undefined);
    }
    // A preflight gets no permission to send the header.
    const pre = await req('OPTIONS', '/v1/jobs/retention/run', { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-csrf-token' });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    assert.equal(pre.headers['access-control-allow-headers'], undefined);
    assert.equal(retentionRuns, runs);
    // The same request from the API's own origin passes.
    const host = `localhost:80`;
    const own = await req('POST', '/v1/jobs/retention/run', { cookie, 'x-csrf-token': csrf, origin: `http://${host}`, host });
    assert.ok(own.status < 300, own.body);
  });

  test('one session\'s CSRF token does not serve another session', async () => {
    const a = await login(), b = await login();
    const r = await req('POST', '/v1/jobs/retention/run', { cookie: a.cookie, 'x-csrf-token': b.csrf });
    assert.equal(r.status, 403);
  });

  test('sessions end when idle too long or when their token is removed', async () => {
    let now = 1_000_000;
    const store = new SessionStore(() => now);
    const valid = new Set(['h1']);
    const { id } = store.create('ops', 'admin', 'h1');
    assert.ok(store.lookup(id, (h) => valid.has(h)));
    now += SESSION_IDLE_MS + 1;
    assert.equal(store.lookup(id, (h) => valid.has(h)), undefined, 'idle expiry');
    const second = store.create('ops', 'admin', 'h1');
    valid.delete('h1');
    assert.equal(store.lookup(second.id, (h) => valid.has(h)), undefined, 'token revoked');
  });
});
