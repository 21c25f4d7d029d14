/**
 * The console's routes on a real daemon (no capture): the page and its assets are public and
 * carry the CSP; chart.js is served from the installed package; the data routes need a token;
 * the old discovered-apps page still answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { testDaemon, type TestDaemon } from './support/daemon.js';
import { chartJsPath } from '../src/console/routes.js';

let d: TestDaemon;
let base = '';

before(async () => {
  d = await testDaemon({ discovery: { enabled: true }, devices: { enabled: true } });
  base = `http://127.0.0.1:${(d.daemon.api.server.address() as { port: number }).port}`;
});
after(async () => { await d.stop(); });

test('the page and its assets are public, with a CSP that allows no inline or foreign script', async () => {
  for (const [path, type] of [['/', 'text/html'], ['/console/app.js', 'text/javascript'], ['/console/style.css', 'text/css'], ['/console/chart.umd.min.js', 'text/javascript']] as const) {
    const r = await fetch(base + path);
    assert.equal(r.status, 200, path);
    assert.ok(r.headers.get('content-type')?.startsWith(type), `${path}: ${r.headers.get('content-type')}`);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /(^|; )default-src 'self'(;|$)/, path);
    assert.match(csp, /(^|; )script-src 'self'(;|$)/, path);
    assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/, path);
    assert.doesNotMatch(csp, /unsafe|\*|http/, path);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  }
  const html = await (await fetch(`${base}/`)).text();
  assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|\son[a-z]+=|style=|https?:\/\//i, 'no inline script, handler or style, nothing from elsewhere');
  assert.deepEqual([...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]), ['/console/chart.umd.min.js', '/console/app.js']);
});

test('chart.js is the installed package\'s UMD build, byte for byte', async () => {
  const served = Buffer.from(await (await fetch(`${base}/console/chart.umd.min.js`)).arrayBuffer());
  assert.ok(served.equals(readFileSync(chartJsPath())));
  assert.match(served.subarray(0, 200).toString(), /Chart\.js v4\.6\.2/);
  assert.match(chartJsPath(), /node_modules\/chart\.js\/dist\/chart\.umd\.min\.js$/);
});

test('/console redirects to /; the old discovered-apps page still answers', async () => {
  const r = await fetch(`${base}/console/`, { redirect: 'manual' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/');
  assert.equal((await fetch(`${base}/v1/discovery/ui/`)).status, 200);
});

test('store sizes need a token and are the bytes of the files under dataDir', async () => {
  assert.equal((await fetch(`${base}/v1/console/stores`)).status, 401);
  const r = await fetch(`${base}/v1/console/stores`, { headers: { authorization: `Bearer ${d.read}` } });
  assert.equal(r.status, 200);
  const body = await r.json() as { dataDir: string; totalBytes: number; stores: Array<{ name: string; bytes: number; files: number }> };
  const names = body.stores.map((s) => s.name);
  for (const n of ['devices', 'discovery']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  const discovery = body.stores.find((s) => s.name === 'discovery')!;
  const dataMdb = statSync(join(body.dataDir, 'discovery', 'data.mdb')).size;
  assert.ok(discovery.bytes >= dataMdb && discovery.files >= 1, JSON.stringify(discovery));
  assert.equal(body.totalBytes, body.stores.reduce((n, s) => n + s.bytes, 0));
});

test('series and usage validate their query', async () => {
  const get = (p: string) => fetch(base + p, { headers: { authorization: `Bearer ${d.read}` } });
  assert.equal((await get('/v1/discovery/series?by=device')).status, 400);
  assert.equal((await get('/v1/discovery/series?top=0')).status, 400);
  assert.equal((await get('/v1/discovery/usage?by=apps')).status, 400);
  const s = await (await get('/v1/discovery/series?by=category&top=3&from=0&to=7200000')).json() as { bucketMs: number; buckets: number[]; series: unknown[] };
  assert.deepEqual(s.buckets.length * s.bucketMs >= 7_200_000, true);
  assert.deepEqual(s.series, []);
});
