/**
 * The attacker's (or the careless administrator's) side of configuration changes
 * (docs/SECURITY.md, "Admin tokens"): changes the next start would refuse, changes that lock
 * every administrator out, documents that would reset the configuration, bodies nested deep
 * enough to overflow a recursive walk, and what a read token may see. Each is refused with a
 * coded 4xx and leaves the file and the running configuration as they were.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDaemon, type TestDaemon } from '../support/daemon.js';
import { createToken } from '../../src/api/auth.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const haveOpenssl = (() => { try { execFileSync('sh', ['-c', 'command -v openssl'], { stdio: 'ignore' }); return true; } catch { return false; } })();

let dir: string, cert = '', key = '', shadow = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-attack-config-'));
  shadow = join(dir, 'shadow');
  writeFileSync(shadow, 'root:$6$SECRETSALT$hashhashhash:19000:0:99999:7:::\n', { mode: 0o600 });
  if (!haveOpenssl) return;
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore', timeout: 20_000 });
});
after(() => { rmSync(dir, { recursive: true, force: true }); });

function caller(t: () => TestDaemon) {
  return async (method: string, url: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; json: Json; body: string }> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.raw !== undefined) headers['content-type'] ??= 'application/json';
    const payload = opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined);
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    const r = await t().daemon.api.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
    let json: Json = {};
    try { json = r.json(); } catch { /* text */ }
    return { status: r.statusCode, json, body: r.body };
  };
}

/** Asserts that the change was refused with `code` and changed neither the file nor the running configuration. */
async function refusedUnchanged(t: TestDaemon, attempt: () => Promise<{ status: number; json: Json; body: string }>, code: string): Promise<Json> {
  const file = readFileSync(t.configPath, 'utf8');
  const rev = t.daemon.config.revision;
  const running = JSON.stringify(t.daemon.config.current);
  const r = await attempt();
  assert.equal(r.status, 400, r.body);
  assert.equal(r.json.code, code, r.body);
  assert.equal(readFileSync(t.configPath, 'utf8'), file, 'file unchanged');
  assert.equal(t.daemon.config.revision, rev);
  assert.equal(JSON.stringify(t.daemon.config.current), running, 'running configuration unchanged');
  return r.json;
}

describe('on a TLS listener off loopback', { skip: haveOpenssl ? false : 'needs openssl' }, () => {
  let t: TestDaemon;
  const call = caller(() => t);
  before(async () => { t = await testDaemon({ api: { host: '0.0.0.0', tls: { certFile: cert, keyFile: key } } }); });
  after(async () => { await t?.stop(); });

  test('attack 3: PATCH api.tokens [] is refused (unauthenticated off loopback, no admin token left), with or without confirmation', async () => {
    for (const q of ['', '?confirm=reduce-access']) {
      const body = await refusedUnchanged(t, () => call('PATCH', `/v1/config${q}`, { token: t.admin, body: { api: { tokens: [] } } }), 'CONFIG_CHANGE_REFUSED');
      const rules = body.details.problems.map((p: Json) => p.rule).sort();
      assert.deepEqual(rules, ['API_INSECURE_BIND', 'last_admin_token']);
    }
    assert.equal((await call('GET', '/v1/config')).status, 401, 'reads still need a token');
    assert.equal((await call('PATCH', '/v1/config', { token: t.admin, body: { logLevel: 'warn' } })).status, 200, 'the admin token still works');
  });

  test('attack 4: api.tls naming a file that is no certificate is refused, and the error does not quote it', async () => {
    const r = await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { api: { tls: { certFile: shadow, keyFile: key } } } }), 'CONFIG_CHANGE_REFUSED');
    assert.equal(r.details.problems[0].rule, 'API_TLS_UNREADABLE');
    assert.ok(!JSON.stringify(r).includes('root:'), JSON.stringify(r));
    assert.ok(!JSON.stringify(r).includes('SECRETSALT'));
    await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { api: { tls: { certFile: join(dir, 'missing.pem') } } } }), 'CONFIG_CHANGE_REFUSED');
    await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { api: { tls: { certFile: cert, keyFile: cert } } } }), 'CONFIG_CHANGE_REFUSED');
  });
});

describe('on loopback', () => {
  let t: TestDaemon;
  const call = caller(() => t);
  before(async () => { t = await testDaemon(); });
  after(async () => { await t?.stop(); });

  test('attack 4: changes the next start would refuse are refused now (API and agent listener without TLS off loopback, bad scopes)', async () => {
    let r = await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { api: { host: '0.0.0.0' } } }), 'CONFIG_CHANGE_REFUSED');
    assert.equal(r.details.problems[0].rule, 'API_INSECURE_BIND');
    r = await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { devices: { agentListener: { enabled: true, host: '0.0.0.0' } } } }), 'CONFIG_CHANGE_REFUSED');
    assert.equal(r.details.problems[0].rule, 'AGENT_LISTENER_INSECURE_BIND');
    r = await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { devices: { agentListener: { enabled: true, host: '127.0.0.1', tlsCertFile: shadow, tlsKeyFile: shadow } } } }), 'CONFIG_CHANGE_REFUSED');
    assert.equal(r.details.problems[0].rule, 'AGENT_LISTENER_TLS_UNREADABLE');
    assert.ok(!JSON.stringify(r).includes('SECRETSALT'));
    // A device file as a TLS file: refused at once, not read forever.
    r = await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { api: { tls: { certFile: '/dev/zero', keyFile: '/dev/zero' } } } }), 'CONFIG_CHANGE_REFUSED');
    assert.match(r.details.problems[0].message, /not a regular file/);
    r = await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { devices: { agentAddressScopes: ['10.0.0.0/33'] } } }), 'CONFIG_CHANGE_REFUSED');
    assert.equal(r.details.problems[0].path, '/devices/agentAddressScopes/0');
  });

  test('attack 3: the last admin token cannot be removed or demoted; removing another token needs confirm=reduce-access', async () => {
    const tokens = t.daemon.config.current.api.tokens;
    const admin = tokens.find((x) => x.role === 'admin')!, read = tokens.find((x) => x.role === 'read')!;
    await refusedUnchanged(t, () => call('PATCH', '/v1/config?confirm=reduce-access', { token: t.admin, body: { api: { tokens: [read] } } }), 'CONFIG_CHANGE_REFUSED');
    await refusedUnchanged(t, () => call('PATCH', '/v1/config?confirm=reduce-access', { token: t.admin, body: { api: { tokens: [{ ...admin, role: 'read' }, read] } } }), 'CONFIG_CHANGE_REFUSED');
    const r = await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { api: { tokens: [admin] } } }), 'CONFIG_CONFIRMATION_REQUIRED');
    assert.deepEqual(r.details.reductions, [`token ${read.name} removed`]);
    const rotated = createToken('admin');
    await refusedUnchanged(t, () => call('PATCH', '/v1/config', { token: t.admin, body: { api: { tokens: [{ ...admin, sha256: rotated.sha256 }, read] } } }), 'CONFIG_CONFIRMATION_REQUIRED');
    const ok = await call('PATCH', '/v1/config?confirm=reduce-access', { token: t.admin, body: { api: { tokens: [admin] } } });
    assert.equal(ok.status, 200, ok.body);
    assert.equal((await call('GET', '/v1/config', { token: t.read })).status, 401, 'the removed token is gone');
    // Put it back (adding access needs no confirmation).
    assert.equal((await call('PATCH', '/v1/config', { token: t.admin, body: { api: { tokens: [admin, read] } } })).status, 200);
  });

  test('attack 3: PUT of {"logLevel":null}, of {} and of a byte-order mark and {} keeps every section it does not name', async () => {
    await call('PATCH', '/v1/config', { token: t.admin, body: { flows: { maxFlows: 4096 } } });
    const before = t.daemon.config.current;
    for (const raw of ['{"logLevel":null}', '{}', '\ufeff{}']) {
      const r = await call('PUT', '/v1/config', { token: t.admin, raw });
      assert.ok(r.status === 200 || r.status === 400, `${JSON.stringify(raw)}: ${r.status} ${r.body}`);
      const now = t.daemon.config.current;
      assert.deepEqual(now.api.tokens, before.api.tokens, `${JSON.stringify(raw)} kept the tokens`);
      assert.equal(now.flows.maxFlows, 4096, `${JSON.stringify(raw)} kept flows`);
      assert.equal((await call('GET', '/v1/config', { token: t.read })).status, 200);
    }
  });

  test('attack 5: JSON nested 3,000 deep gets 400 on every route that takes a body, nothing changes', async () => {
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const deepArr = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const rev = t.daemon.config.revision;
    for (const [m, url, ct] of [
      ['PUT', '/v1/config', 'application/json'], ['PATCH', '/v1/config', 'application/json'], ['PATCH', '/v1/config', 'application/merge-patch+json'],
      ['POST', '/v1/agents/enroll', 'application/json'], ['POST', '/v1/agents/heartbeat', 'application/json'], ['POST', '/v1/jobs/retention/run', 'application/json'],
      ['PUT', '/v1/discovery/apps/dropbox/sanction', 'application/json'],
    ] as const) {
      for (const raw of [deep(3000), `{"api":${deep(3000)}}`, deepArr(3000)]) {
        const r = await call(m, url, { token: t.admin, raw, headers: { 'content-type': ct } });
        assert.ok(r.status >= 400 && r.status < 500, `${m} ${url}: ${r.status} ${r.body.slice(0, 200)}`);
        if (r.status === 400) assert.equal(r.json.code, 'API_JSON_TOO_DEEP', `${m} ${url}`);
      }
    }
    assert.equal(t.daemon.config.revision, rev);
    // A body within the bound but still nested past any setting is refused by the schema, not a crash.
    const r = await call('PATCH', '/v1/config', { token: t.admin, raw: `{"api":${deep(30)}}` });
    assert.equal(r.status, 422, r.body);
  });

  test('attack 8: a read token sees no token hashes; an admin token does', async () => {
    const asRead = await call('GET', '/v1/config', { token: t.read });
    assert.equal(asRead.status, 200);
    assert.ok(!/sha256|[0-9a-f]{64}/.test(asRead.body), asRead.body);
    assert.deepEqual(asRead.json.config.api.tokens.map((x: Json) => Object.keys(x).sort()), [['name', 'role'], ['name', 'role']]);
    const asAdmin = await call('GET', '/v1/config', { token: t.admin });
    assert.ok(asAdmin.json.config.api.tokens.every((x: Json) => /^[0-9a-f]{64}$/.test(x.sha256)));
  });
});
