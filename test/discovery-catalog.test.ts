/**
 * Catalog behaviour: administrator claims beat shipped entries whatever the ids, two
 * administrator claims of one domain are refused; reload of a changed file and of an invalid one;
 * IPv4-mapped IPv6 server addresses; shared-hosting names fall through to unclassified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Discovery } from '../src/discovery/discovery.js';
import { discoveryRoutes } from '../src/discovery/routes.js';
import { AppMatcher } from '../src/discovery/matcher.js';
import { DEFAULT_CATALOG_PATH, readCatalogFile, resolveCatalog, type CatalogFile } from '../src/discovery/catalog.js';

const risk0 = { discoveryHighRiskCountries: [] as string[] };

function catalog(version: string, apps: CatalogFile['apps']): CatalogFile {
  return { catalogVersion: version, schema: 1, taxonomy: 'outpost-saas-v1', apps };
}

const lab = catalog('lab-1', [
  { id: 'mmm-shipped', name: 'Shipped', vendor: 'V', category: 'file-sharing', domains: ['shared.example.com', 'mmm.example.com'] },
  { id: 'nnn-shipped', name: 'Shipped Two', vendor: 'V', category: 'email', domains: ['nnn.example.com'] },
]);

async function withCatalog(file: CatalogFile, fn: (d: Discovery, app: FastifyInstance, path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-cat-'));
  const path = join(dir, 'apps.json');
  writeFileSync(path, JSON.stringify(file));
  const d = new Discovery({ dataDir: join(dir, 'data'), config: { catalogFile: path } });
  const app = Fastify();
  try {
    await d.open();
    await app.register(discoveryRoutes, { discovery: d, prefix: '/v1' });
    await fn(d, app, path);
  } finally {
    await app.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const custom = (domains: string[]) => ({ name: 'Custom', vendor: 'Admin', category: 'productivity', domains });

test('administrator apps and overrides win a domain a shipped app holds, whether their id sorts before or after it', async () => {
  await withCatalog(lab, async (d, app) => {
    const id = (h: string) => d.currentMatcher.match(h, undefined)?.appId;
    assert.equal(id('x.shared.example.com'), 'mmm-shipped');
    for (const customId of ['aaa-custom', 'zzz-custom']) {
      const res = await app.inject({ method: 'PUT', url: `/v1/discovery/catalog/apps/${customId}`, payload: custom(['Shared.Example.com.']) });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(id('x.shared.example.com'), customId, `${customId} (sorts ${customId < 'mmm-shipped' ? 'before' : 'after'} the shipped app)`);
      assert.equal(id('mmm.example.com'), 'mmm-shipped', 'the shipped app keeps its other domains');
      const conflicts = (await app.inject({ url: '/v1/discovery/catalog' })).json().conflicts as string[];
      assert.ok(conflicts.some((c) => c.includes('shared.example.com') && c.includes(`${customId} kept (administrator)`) && c.includes('mmm-shipped skipped')), conflicts.join('; '));
      // The claim survives a reload of the file.
      assert.equal((await app.inject({ method: 'POST', url: '/v1/discovery/catalog/reload' })).statusCode, 200);
      assert.equal(id('x.shared.example.com'), customId);
      assert.equal((await app.inject({ method: 'DELETE', url: `/v1/discovery/catalog/apps/${customId}` })).statusCode, 200);
      assert.equal(id('x.shared.example.com'), 'mmm-shipped');
    }
    // An override of another shipped app (addDomains) wins as well, either id order.
    for (const [winner, loser, domain] of [['nnn-shipped', 'mmm-shipped', 'shared.example.com'], ['mmm-shipped', 'nnn-shipped', 'nnn.example.com']] as const) {
      const res = await app.inject({ method: 'PUT', url: `/v1/discovery/catalog/apps/${winner}`, payload: { addDomains: [domain] } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(id(`a.${domain}`), winner, `${winner} over ${loser}`);
      await app.inject({ method: 'DELETE', url: `/v1/discovery/catalog/apps/${winner}` });
      assert.equal(id(`a.${domain}`), loser);
    }
  });
});

test('two administrator apps claiming one domain: 409 naming the field and the other app, nothing changes', async () => {
  await withCatalog(lab, async (d, app) => {
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/discovery/catalog/apps/zzz-custom', payload: custom(['shared.example.com']) })).statusCode, 200);
    const version = d.catalogVersion;
    const overrides = JSON.stringify(d.overrides());
    for (const [newId, payload, field] of [
      ['aaa-custom', custom(['other.example.org', 'SHARED.example.com.']), 'domains[1]'],
      ['bbb-custom', { ...custom(['bbb.example.org']), addDomains: ['shared.example.com'] }, 'addDomains[0]'],
      ['nnn-shipped', { addDomains: ['shared.example.com'] }, 'addDomains[0]'],
    ] as const) {
      const res = await app.inject({ method: 'PUT', url: `/v1/discovery/catalog/apps/${newId}`, payload });
      assert.equal(res.statusCode, 409, `${newId}: ${res.body}`);
      const body = res.json();
      assert.equal(body.code, 'DISCOVERY_OVERRIDE_CONFLICT');
      assert.equal(body.details.field, field);
      assert.equal(body.details.app, 'zzz-custom');
      assert.equal(body.details.domain, 'shared.example.com');
      assert.match(body.message, new RegExp(`${field.replace(/[[\]]/g, '\\$&')}.*zzz-custom`));
      assert.equal(d.catalogVersion, version, 'catalog unchanged');
      assert.equal(JSON.stringify(d.overrides()), overrides, 'nothing stored');
      assert.equal(d.currentMatcher.match('shared.example.com', undefined)?.appId, 'zzz-custom');
    }
    assert.equal((await app.inject({ url: '/v1/discovery/catalog/apps/aaa-custom' })).statusCode, 404);
    // Re-submitting an app's own claim is no conflict; a sub-domain of another claim is none either.
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/discovery/catalog/apps/zzz-custom', payload: custom(['shared.example.com', 'z.example.org']) })).statusCode, 200);
    assert.equal((await app.inject({ method: 'PUT', url: '/v1/discovery/catalog/apps/aaa-custom', payload: custom(['deep.shared.example.com']) })).statusCode, 200);
    assert.equal(d.currentMatcher.match('x.deep.shared.example.com', undefined)?.appId, 'aaa-custom');
    assert.equal(d.currentMatcher.match('x.shared.example.com', undefined)?.appId, 'zzz-custom');
  });
});

test('catalog reload: a changed file applies without restart; an invalid or unreadable one keeps the old catalog with a stable code', async () => {
  await withCatalog(lab, async (d, app, path) => {
    const id = (h: string) => d.currentMatcher.match(h, undefined)?.appId;
    assert.equal(d.catalogVersion, 'lab-1');
    writeFileSync(path, JSON.stringify(catalog('lab-2', [
      { id: 'mmm-shipped', name: 'Shipped', vendor: 'V', category: 'file-sharing', domains: ['moved.example.com'] },
      { id: 'ooo-new', name: 'New', vendor: 'V', category: 'email', domains: ['shared.example.com'] },
    ])));
    let res = await app.inject({ method: 'POST', url: '/v1/discovery/catalog/reload' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().version, 'lab-2');
    assert.equal(res.json().apps, 2);
    assert.equal(d.catalogVersion, 'lab-2');
    assert.equal(id('x.shared.example.com'), 'ooo-new');
    assert.equal(id('moved.example.com'), 'mmm-shipped');
    assert.equal(id('nnn.example.com'), 'unclassified:example.com');

    const errorsBefore = d.counterSnapshot()['discovery.catalog_reload_errors'];
    for (const [content, code] of [
      [JSON.stringify(catalog('lab-3', [{ id: 'bad', name: 'Bad', vendor: 'V', category: 'no-such-category', domains: ['bad.example.com'] }])), 'DISCOVERY_CATALOG_INVALID'],
      ['{ "catalogVersion": "lab-4", ', 'DISCOVERY_CATALOG_UNREADABLE'],
    ] as const) {
      writeFileSync(path, content);
      res = await app.inject({ method: 'POST', url: '/v1/discovery/catalog/reload' });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().code, code);
      assert.equal(d.catalogVersion, 'lab-2', 'old catalog kept');
      assert.equal(id('x.shared.example.com'), 'ooo-new');
      assert.equal(id('bad.example.com'), 'unclassified:example.com');
    }
    assert.deepEqual(((await app.inject({ method: 'POST', url: '/v1/discovery/catalog/reload' })).json().details.errors as string[]).length, 0);
    assert.equal(d.counterSnapshot()['discovery.catalog_reload_errors'], (errorsBefore ?? 0) + 3);
    // The scheduled reload fails the same way (the job run records the error), catalog kept.
    const hooks = new Map<string, () => unknown>();
    d.registerJobs({ addHook: (job, _name, fn) => { hooks.set(job, fn); } });
    assert.throws(() => hooks.get('catalog.reload')!(), (e: { code?: string }) => e.code === 'DISCOVERY_CATALOG_UNREADABLE');
    assert.equal(d.catalogVersion, 'lab-2');
    // The invalid file's problems name the field.
    writeFileSync(path, JSON.stringify(catalog('lab-3', [{ id: 'bad', name: 'Bad', vendor: 'V', category: 'no-such-category', domains: ['bad.example.com'] }])));
    res = await app.inject({ method: 'POST', url: '/v1/discovery/catalog/reload' });
    assert.ok((res.json().details.errors as string[]).some((e) => e.startsWith('apps[0].category')));
  });
});

test('IPv4-mapped IPv6 server addresses match the IPv4 ranges', () => {
  const m = new AppMatcher(resolveCatalog(catalog('t', [
    { id: 'wide', name: 'Wide', vendor: 'v', category: 'email', domains: [], addressRanges: { cidrs: ['198.51.100.0/24'], source: 'https://vendor.example/ranges.json' } },
    { id: 'narrow', name: 'Narrow', vendor: 'v', category: 'email', domains: [], addressRanges: { cidrs: ['198.51.100.128/25', '2001:db8::/32'], source: 'https://vendor.example/ranges.json' } },
  ]), new Map(), risk0));
  const id = (ip: string) => m.match(undefined, ip)?.appId;
  assert.equal(id('::ffff:198.51.100.7'), 'wide');
  assert.equal(id('::FFFF:198.51.100.7'), 'wide');
  assert.equal(id('::ffff:198.51.100.200'), 'narrow');
  assert.equal(id('0:0:0:0:0:ffff:198.51.100.7'), 'wide');
  assert.equal(id('::ffff:c633:6407'), 'wide', 'hex form of 198.51.100.7');
  assert.equal(m.match(undefined, '::ffff:198.51.100.7')?.rule, 'cidr:198.51.100.0/24');
  // Not mapped, or mapped to an address in no range: nothing.
  assert.equal(id('::ffff:203.0.113.1'), undefined);
  assert.equal(id('::198.51.100.7'), undefined, 'IPv4-compatible (deprecated) is not IPv4-mapped');
  assert.equal(id('::1'), undefined);
  assert.equal(id('::ffff:198.51.100'), undefined);
  assert.equal(id('2001:db8::5'), 'narrow');
  assert.equal(id('198.51.100.7'), 'wide');
});

test('shared hosting and CDN names are unclassified, grouped per customer site; the shipped catalog holds none of those suffixes', () => {
  const shipped = readCatalogFile(DEFAULT_CATALOG_PATH);
  const matcher = new AppMatcher(resolveCatalog(shipped, new Map(), risk0));
  const id = (h: string) => matcher.match(h, undefined)?.appId;
  for (const [host, group] of [
    ['d1234abcd.cloudfront.net', 'd1234abcd.cloudfront.net'],
    ['someone.github.io', 'someone.github.io'],
    ['docs.someone.github.io', 'someone.github.io'],
    ['shop-app.herokuapp.com', 'shop-app.herokuapp.com'],
    ['cdn-x.azureedge.net', 'cdn-x.azureedge.net'],
    ['site.azurewebsites.net', 'site.azurewebsites.net'],
    ['project.web.app', 'project.web.app'],
    ['project.firebaseapp.com', 'project.firebaseapp.com'],
    ['project.appspot.com', 'project.appspot.com'],
    ['site.netlify.app', 'site.netlify.app'],
    ['site.vercel.app', 'site.vercel.app'],
    ['group.gitlab.io', 'group.gitlab.io'],
    ['blog.blogspot.com', 'blog.blogspot.com'],
    ['store.myshopify.com', 'store.myshopify.com'],
    ['media.akamaized.net', 'media.akamaized.net'],
    ['x.global.ssl.fastly.net', 'x.global.ssl.fastly.net'],
  ] as const) {
    assert.equal(id(host), `unclassified:${group}`, host);
  }
  // The platforms themselves are still named.
  assert.equal(id('github.com'), 'github');
  assert.equal(id('api.github.com'), 'github');
  assert.equal(id('console.aws.amazon.com'), 'aws');
  assert.equal(id('app.netlify.com'), 'netlify');
  assert.equal(id('dashboard.heroku.com'), 'heroku');
  assert.equal(id('console.firebase.google.com'), 'firebase');
  // Object storage stays the storage service (docs/DISCOVERY.md, "Catalog sources").
  assert.equal(id('acct.blob.core.windows.net'), 'azure-blob');
  assert.equal(id('bucket.s3.amazonaws.com'), 'aws-s3');
  // Names under no public suffix are still nothing.
  assert.equal(id('printer.local'), undefined);
  assert.equal(id('slack.com.evil.example'), undefined);
  const hosting = ['cloudfront.net', 'azureedge.net', 'azurewebsites.net', 'github.io', 'gitlab.io', 'bitbucket.io', 'herokuapp.com', 'netlify.app', 'vercel.app', 'now.sh',
    'web.app', 'firebaseapp.com', 'firebaseio.com', 'appspot.com', 'run.app', 'onrender.com', 'fly.dev', 'ondigitalocean.app', 'repl.co', 'appdomain.cloud', 'csb.app',
    'blogspot.com', 'wixsite.com', 'myshopify.com', 'framer.website', 'figma.site', 'webflow.io', 'ghost.io', 'gitbook.io', 'document360.io', 'readme.io',
    'notion.site', 'imgix.net', 'hubspotusercontent.com', 'hubspotpagebuilder.com', 'salesforce-sites.com', 'list-manage.com', 'mcusercontent.com', 'sendgrid.net',
    'statuspage.io', 'akamaized.net', 'fastly.net'];
  const held = shipped.apps.flatMap((a) => a.domains.filter((d) => hosting.includes(d)).map((d) => `${a.id}: ${d}`));
  assert.deepEqual(held, []);
  assert.equal(shipped.catalogVersion, '2025.5.0');
});
