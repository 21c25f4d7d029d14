/**
 * Shared provider domains (googleapis.com, google.com, amazonaws.com, windows.net, apple.com,
 * CDNs): the shipped catalog names the service a host belongs to, names system traffic as such,
 * and names nothing for customers' endpoints; and the "no app" rules that make the last possible.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppMatcher } from '../src/discovery/matcher.js';
import { DEFAULT_CATALOG_PATH, readCatalogFile, resolveCatalog, validateCatalog, type CatalogFile } from '../src/discovery/catalog.js';
import { SYSTEM_CATEGORY_IDS } from '../src/discovery/taxonomy.js';

const risk0 = { discoveryHighRiskCountries: [] as string[] };
const shipped = readCatalogFile(DEFAULT_CATALOG_PATH);
const matcher = new AppMatcher(resolveCatalog(shipped, new Map(), risk0));

/** host → [app id, rule], or null for no app at all. */
const CASES: ReadonlyArray<[string, [string, string] | null]> = [
  // Google: storage, fonts, system traffic, the user-facing apps, Cloud APIs, unknown APIs.
  ['storage.googleapis.com', ['google-cloud-storage', 'domain:storage.googleapis.com']],
  ['my-bucket.storage.googleapis.com', ['google-cloud-storage', 'domain:storage.googleapis.com']],
  ['fonts.googleapis.com', ['google-fonts', 'domain:fonts.googleapis.com']],
  ['fonts.gstatic.com', ['google-fonts', 'domain:fonts.gstatic.com']],
  ['play.googleapis.com', ['google-system-services', 'domain:play.googleapis.com']],
  ['android.googleapis.com', ['google-system-services', 'domain:android.googleapis.com']],
  ['android.clients.google.com', ['google-system-services', 'domain:android.clients.google.com']],
  ['mtalk.google.com', ['google-system-services', 'domain:mtalk.google.com']],
  ['mobile-gtalk.l.google.com', ['google-search', 'domain:google.com']],
  ['fcm.googleapis.com', ['google-system-services', 'domain:fcm.googleapis.com']],
  ['connectivitycheck.gstatic.com', ['google-system-services', 'domain:connectivitycheck.gstatic.com']],
  ['datasaver.googleapis.com', ['google-system-services', 'domain:datasaver.googleapis.com']],
  ['proxy.googlezip.net', ['google-system-services', 'domain:googlezip.net']],
  ['r3---sn-4g5e6nsz.gvt1.com', ['google-system-services', 'domain:gvt1.com']],
  ['update.googleapis.com', ['google-system-services', 'domain:update.googleapis.com']],
  ['clients1.google.com', ['google-system-services', 'domain:clients1.google.com']],
  ['clients4.google.com', ['google-system-services', 'domain:clients4.google.com']],
  ['dl.google.com', ['google-system-services', 'domain:dl.google.com']],
  ['time.android.com', ['google-system-services', 'domain:time.android.com']],
  ['www.google.com', ['google-search', 'domain:google.com']],
  ['mail.google.com', ['gmail', 'domain:mail.google.com']],
  ['drive.google.com', ['google-drive', 'domain:drive.google.com']],
  ['docs.google.com', ['google-drive', 'domain:docs.google.com']],
  ['accounts.google.com', ['google-account', 'domain:accounts.google.com']],
  ['oauth2.googleapis.com', ['google-account', 'domain:oauth2.googleapis.com']],
  ['console.cloud.google.com', ['google-cloud', 'domain:console.cloud.google.com']],
  ['compute.googleapis.com', ['google-cloud', 'domain:compute.googleapis.com']],
  ['pubsub.googleapis.com', ['google-cloud', 'domain:pubsub.googleapis.com']],
  ['bigquery.googleapis.com', ['google-bigquery', 'domain:bigquery.googleapis.com']],
  // An API host that could be Drive, Gmail or YouTube: no app claims it (PSL: googleapis.com is private).
  ['www.googleapis.com', ['unclassified:www.googleapis.com', 'registrable-domain:www.googleapis.com']],
  ['semanticlocation-pa.googleapis.com', ['unclassified:semanticlocation-pa.googleapis.com', 'registrable-domain:semanticlocation-pa.googleapis.com']],
  // AWS: S3 in every form the PSL lists, AWS's own APIs, customers' endpoints.
  ['bucket.s3.amazonaws.com', ['aws-s3', 'domain:s3.amazonaws.com']],
  ['bucket.s3.eu-west-1.amazonaws.com', ['aws-s3', 'domain:s3.eu-west-1.amazonaws.com']],
  ['s3.us-east-2.amazonaws.com', ['aws-s3', 'domain:s3.us-east-2.amazonaws.com']],
  ['bucket.s3-us-west-2.amazonaws.com', ['aws-s3', 'domain:s3-us-west-2.amazonaws.com']],
  ['bucket.s3.dualstack.ap-southeast-2.amazonaws.com', ['aws-s3', 'domain:s3.dualstack.ap-southeast-2.amazonaws.com']],
  ['ec2.us-east-1.amazonaws.com', ['aws', 'domain:amazonaws.com']],
  ['sts.amazonaws.com', ['aws', 'domain:amazonaws.com']],
  ['my-lb-1234567890.us-east-1.elb.amazonaws.com', ['unclassified:my-lb-1234567890.us-east-1.elb.amazonaws.com', 'no-app:elb.amazonaws.com']],
  ['ec2-203-0-113-25.eu-west-1.compute.amazonaws.com', ['unclassified:ec2-203-0-113-25.eu-west-1.compute.amazonaws.com', 'no-app:compute.amazonaws.com']],
  // The PSL makes every name under compute-1.amazonaws.com a public suffix itself: nothing to group.
  ['ec2-203-0-113-25.compute-1.amazonaws.com', null],
  ['a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com', ['unclassified:a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com', 'no-app:execute-api.eu-central-1.amazonaws.com']],
  ['www.example-shop.s3-website-us-east-1.amazonaws.com', ['unclassified:example-shop.s3-website-us-east-1.amazonaws.com', 'no-app:s3-website-us-east-1.amazonaws.com']],
  ['shop.s3-website.eu-west-2.amazonaws.com', ['unclassified:shop.s3-website.eu-west-2.amazonaws.com', 'no-app:s3-website.eu-west-2.amazonaws.com']],
  // Azure / Microsoft.
  ['acct.blob.core.windows.net', ['azure-blob', 'domain:blob.core.windows.net']],
  ['myserver.database.windows.net', ['azure', 'domain:windows.net']],
  ['login.windows.net', ['entra-id', 'domain:login.windows.net']],
  ['site.azurewebsites.net', ['unclassified:site.azurewebsites.net', 'registrable-domain:site.azurewebsites.net']],
  ['vm-01.westeurope.cloudapp.azure.com', null],
  ['portal.azure.com', ['azure', 'domain:portal.azure.com']],
  ['7.au.download.windowsupdate.com', ['windows-system-services', 'domain:windowsupdate.com']],
  ['fe3cr.delivery.mp.microsoft.com', ['windows-system-services', 'domain:delivery.mp.microsoft.com']],
  ['kv601.prod.do.dsp.mp.microsoft.com', ['windows-system-services', 'domain:dsp.mp.microsoft.com']],
  ['sls.update.microsoft.com', ['windows-system-services', 'domain:update.microsoft.com']],
  ['www.msftconnecttest.com', ['windows-system-services', 'domain:msftconnecttest.com']],
  ['time.windows.com', ['windows-system-services', 'domain:time.windows.com']],
  ['teams.microsoft.com', ['microsoft-teams', 'domain:teams.microsoft.com']],
  // Apple: iCloud is the app, push/update/activation/certificates are system traffic.
  ['www.icloud.com', ['icloud', 'domain:icloud.com']],
  ['p57-contacts.icloud.com', ['icloud', 'domain:icloud.com']],
  ['1-courier.push.apple.com', ['apple-system-services', 'domain:push.apple.com']],
  ['mesu.apple.com', ['apple-system-services', 'domain:mesu.apple.com']],
  ['gs.apple.com', ['apple-system-services', 'domain:gs.apple.com']],
  ['captive.apple.com', ['apple-system-services', 'domain:captive.apple.com']],
  ['ocsp2.apple.com', ['apple-system-services', 'domain:ocsp2.apple.com']],
  ['updates.cdn-apple.com', ['apple-system-services', 'domain:updates.cdn-apple.com']],
  ['appleid.apple.com', ['apple-id', 'domain:appleid.apple.com']],
  ['www.apple.com', ['unclassified:apple.com', 'registrable-domain:apple.com']],
  // CDNs: names that identify a customer are that customer (PSL private section); Akamai's edge
  // names identify none and are the CDN, which is web infrastructure.
  ['d1234abcd.cloudfront.net', ['unclassified:d1234abcd.cloudfront.net', 'registrable-domain:d1234abcd.cloudfront.net']],
  ['media.akamaized.net', ['unclassified:media.akamaized.net', 'registrable-domain:media.akamaized.net']],
  ['e6858.dscx.akamaiedge.net', ['akamai-cdn', 'domain:akamaiedge.net']],
  ['a248.e.akamai.net', ['akamai-cdn', 'domain:akamai.net']],
  ['a23-45-67-89.deploy.static.akamaitechnologies.com', ['akamai-cdn', 'domain:akamaitechnologies.com']],
  ['control.akamai.com', ['akamai', 'domain:control.akamai.com']],
  ['dualstack.reddit.map.fastly.net', ['unclassified:reddit.map.fastly.net', 'registrable-domain:reddit.map.fastly.net']],
  ['github.global.ssl.fastly.net', ['unclassified:github.global.ssl.fastly.net', 'registrable-domain:github.global.ssl.fastly.net']],
];

test('shared provider domains: each host gets its service, system traffic, or no app', () => {
  const wrong: string[] = [];
  for (const [host, want] of CASES) {
    const m = matcher.match(host, undefined);
    const got = m === undefined ? null : [m.appId, m.rule];
    if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${host}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  assert.deepEqual(wrong, []);
});

test('the system-traffic entries are in system categories; Google Cloud, AWS and Google Search are not', () => {
  const category = (id: string) => shipped.apps.find((a) => a.id === id)?.category;
  for (const id of ['google-system-services', 'apple-system-services', 'windows-system-services']) assert.equal(category(id), 'os-services', id);
  for (const id of ['google-fonts', 'akamai-cdn']) assert.equal(category(id), 'web-infrastructure', id);
  assert.deepEqual([...SYSTEM_CATEGORY_IDS].sort(), ['os-services', 'web-infrastructure']);
  for (const id of ['google-cloud', 'aws', 'azure', 'google-search', 'icloud']) assert.ok(!SYSTEM_CATEGORY_IDS.has(category(id)!), id);
  // googleapis.com as a whole names no app any more (it carries Android, Maps, YouTube, Firebase...).
  assert.ok(!shipped.apps.some((a) => a.domains.includes('googleapis.com')));
});

const lab = (extra: Partial<CatalogFile> = {}): CatalogFile => ({
  catalogVersion: 'lab-noapp', schema: 1, taxonomy: 'outpost-saas-v1',
  apps: [
    { id: 'cloud', name: 'Cloud', vendor: 'V', category: 'cloud-infrastructure', domains: ['amazonaws.com'] },
    { id: 'lb-console', name: 'LB console', vendor: 'V', category: 'cloud-infrastructure', domains: ['console.elb.amazonaws.com'] },
    { id: 'ranged', name: 'Ranged', vendor: 'V', category: 'email', domains: [], addressRanges: { cidrs: ['198.51.100.0/24'], source: 'https://vendor.example/ranges.json' } },
  ],
  noApp: [{ domains: ['elb.amazonaws.com'], reason: 'customers load balancers' }],
  ...extra,
});

test('a no-app rule stops the broader app and the address ranges; a deeper app below it still wins', () => {
  const m = new AppMatcher(resolveCatalog(lab(), new Map(), risk0));
  assert.equal(m.noAppCount, 1);
  assert.equal(m.match('ec2.us-east-1.amazonaws.com', undefined)?.appId, 'cloud');
  const lb = m.match('shop-lb.us-east-1.elb.amazonaws.com', '198.51.100.7');
  assert.equal(lb?.appId, 'unclassified:shop-lb.us-east-1.elb.amazonaws.com', 'not the broad app, not the address range');
  assert.equal(lb?.rule, 'no-app:elb.amazonaws.com');
  assert.equal(lb?.unclassified, true);
  assert.equal(m.match('x.console.elb.amazonaws.com', undefined)?.appId, 'lb-console');
  assert.equal(m.matchDomain('shop-lb.us-east-1.elb.amazonaws.com'), undefined);
  // Without a name, or with a name under no rule, the address still names the app.
  assert.equal(m.match(undefined, '198.51.100.7')?.appId, 'ranged');
  assert.equal(m.match('unknown-lab-name.com', '198.51.100.7')?.appId, 'ranged');
  // Without the rule the broad app would have claimed it (what the rule is for).
  const without = new AppMatcher(resolveCatalog(lab({ noApp: [] }), new Map(), risk0));
  assert.equal(without.match('shop-lb.us-east-1.elb.amazonaws.com', undefined)?.appId, 'cloud');
});

test('an administrator claim of a no-app suffix wins over the rule', () => {
  const resolved = resolveCatalog(lab(), new Map([['lb-mine', { name: 'Our LB', vendor: 'Us', category: 'cloud-infrastructure', domains: ['elb.amazonaws.com'] }]]), risk0);
  const m = new AppMatcher(resolved);
  assert.equal(m.match('shop-lb.us-east-1.elb.amazonaws.com', undefined)?.appId, 'lb-mine');
  assert.deepEqual(resolved.conflicts, ['elb.amazonaws.com: lb-mine kept, no-app rule skipped']);
});

test('noApp rules are validated: a domain also an app\'s, no reason, bad names, unknown keys', () => {
  assert.deepEqual(validateCatalog(lab()), []);
  assert.deepEqual(validateCatalog(lab({ noApp: [{ domains: ['amazonaws.com'], reason: 'customers load balancers' }] })), ['noApp[0].domains: amazonaws.com already belongs to cloud']);
  assert.deepEqual(validateCatalog(lab({ noApp: [{ domains: ['elb.amazonaws.com'], reason: '' }] })), ['noApp[0].reason: say why these names are no app']);
  assert.deepEqual(validateCatalog(lab({ noApp: [{ domains: ['not a name/'], reason: 'customers load balancers' }] })), ['noApp[0].domains[0]: not a domain name: "not a name/"']);
  assert.deepEqual(validateCatalog({ ...lab(), noApp: [{ domains: ['elb.amazonaws.com'], reason: 'customers load balancers', why: 1 }] }), ['noApp[0].why: unknown property']);
  assert.deepEqual(validateCatalog({ ...lab(), noApp: 'elb.amazonaws.com' }), ['noApp: must be an array of { domains, reason }']);
  assert.deepEqual(validateCatalog(lab({ noApp: [{ domains: ['elb.amazonaws.com'], reason: 'customers load balancers' }, { domains: ['ELB.amazonaws.com.'], reason: 'the same one again' }] })), ['noApp[1].domains: elb.amazonaws.com already belongs to noApp[0]']);
});
