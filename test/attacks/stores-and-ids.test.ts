/**
 * The attacker's side of what the daemon keeps and names (docs/SECURITY.md): store files readable
 * by other local users under a lax umask, an error that quotes the first bytes of whatever file a
 * setting points at, and app ids such as `__proto__` that are no app.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDaemon, type TestDaemon } from '../support/daemon.js';
import { readCatalogFile } from '../../src/discovery/catalog.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function modes(dir: string, out: Array<[string, number]> = []): Array<[string, number]> {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    const st = statSync(p);
    out.push([p, st.mode & 0o777]);
    if (st.isDirectory()) modes(p, out);
  }
  return out;
}

describe('stores under umask 000', () => {
  let t: TestDaemon;
  let umask: number;
  before(async () => {
    umask = process.umask(0o000);
    t = await testDaemon();
  });
  after(async () => { await t?.stop(); process.umask(umask); });

  test('every store directory is 0700 and every store file 0600 (devices, discovery, outbox, DNS names)', () => {
    const data = join(t.dir, 'data');
    const all = modes(data);
    const dirs = all.filter(([p]) => statSync(p).isDirectory());
    assert.ok(dirs.length >= 4, `stores found: ${dirs.map(([p]) => p).join(', ')}`);
    for (const [p, m] of all) {
      const want = statSync(p).isDirectory() ? 0o700 : 0o600;
      assert.equal(m, want, `${p} is ${m.toString(8)}`);
    }
  });
});

describe('errors and ids', () => {
  let t: TestDaemon;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-attack-ids-'));
    t = await testDaemon();
  });
  after(async () => { await t?.stop(); rmSync(dir, { recursive: true, force: true }); });

  test('attack 8: a catalog file that is not JSON: the error names the file, never its contents', () => {
    const shadow = join(dir, 'shadow');
    writeFileSync(shadow, 'root:$6$SECRETSALT$hash:19000:0:99999:7:::\n', { mode: 0o600 });
    assert.throws(() => readCatalogFile(shadow), (e: Error) => {
      assert.match(e.message, /not valid JSON/);
      assert.ok(!e.message.includes('root') && !e.message.includes('SECRETSALT'), e.message);
      return true;
    });
    assert.throws(() => readCatalogFile(join(dir, 'missing.json')), /ENOENT/);
  });

  test('attack 8: app ids that are no app (__proto__, constructor, markup, paths) are refused on every app route, nothing audited', async () => {
    const call = async (method: string, url: string, body?: unknown): Promise<{ status: number; json: Json }> => {
      const r = await t.daemon.api.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${t.admin}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
      return { status: r.statusCode, json: r.json() as Json };
    };
    const before = (await call('GET', '/v1/discovery/audit')).json;
    for (const id of ['__proto__', 'hasOwnProperty', '_x', '%3Csvg%3E', '..%2F..%2Fetc', 'Dropbox', 'unclassified:', 'a'.repeat(65)]) {
      for (const [m, path, body] of [
        ['PUT', `/v1/discovery/apps/${id}/sanction`, { state: 'sanctioned' }], ['DELETE', `/v1/discovery/apps/${id}/sanction`, undefined],
        ['GET', `/v1/discovery/apps/${id}`, undefined], ['GET', `/v1/discovery/apps/${id}/users`, undefined], ['GET', `/v1/discovery/apps/${id}/devices`, undefined],
        ['GET', `/v1/discovery/catalog/apps/${id}`, undefined], ['DELETE', `/v1/discovery/catalog/apps/${id}`, undefined],
        ['PUT', `/v1/discovery/catalog/apps/${id}`, { name: 'x', vendor: 'x', category: 'productivity', domains: ['x.example'] }],
      ] as const) {
        const r = await call(m, path, body);
        assert.equal(r.status, 400, `${m} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
      }
    }
    // Well-formed ids that name no app: sanctioning them is refused too (404), not recorded.
    for (const id of ['constructor', 'prototype', 'no-such-app']) {
      const r = await call('PUT', `/v1/discovery/apps/${id}/sanction`, { state: 'sanctioned' });
      assert.equal(r.status, 404, `${id}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.code, 'DISCOVERY_APP_NOT_FOUND');
    }
    assert.deepEqual((await call('GET', '/v1/discovery/audit')).json, before, 'nothing audited');
    assert.equal((await call('PUT', '/v1/discovery/apps/dropbox/sanction', { state: 'sanctioned' })).status, 200, 'a real id still works');
  });
});
