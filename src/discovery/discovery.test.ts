import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import { AppMatcher } from './matcher.js';
import { normalizeHostname } from './hostname.js';
import { DEFAULT_CATALOG_PATH, RISK_ATTRIBUTE_NAMES, readCatalogFile, resolveCatalog, riskScore, validateCatalog, type CatalogFile } from './catalog.js';
import { CATEGORY_IDS } from './taxonomy.js';
import { Discovery, appsToCsv } from './discovery.js';
import { discoveryRoutes } from './routes.js';
import { DiscoveryStore } from './store.js';
import { loadOcsfSchema } from '../../test/support/ocsf-schema.js';

const risk0 = { discoveryHighRiskCountries: [] as string[] };
const shipped = readCatalogFile(DEFAULT_CATALOG_PATH);
const matcher = new AppMatcher(resolveCatalog(shipped, new Map(), risk0));

test('shipped catalog: valid, ≥ 500 apps, one taxonomy, every risk attribute with a source', () => {
  assert.deepEqual(validateCatalog(shipped), []);
  assert.ok(shipped.apps.length >= 500, `${shipped.apps.length} apps`);
  for (const a of shipped.apps) {
    assert.ok(CATEGORY_IDS.has(a.category), a.id);
    for (const [k, v] of Object.entries(a.risk ?? {})) assert.match((v as { source: string }).source, /^https:\/\//, `${a.id}.${k}`);
  }
});

test('catalog validator names each problem', () => {
  const bad = {
    catalogVersion: 'x', schema: 1, taxonomy: 'outpost-saas-v1',
    apps: [
      { id: 'a', name: 'A', vendor: 'V', category: 'nope', domains: ['a.com'] },
      { id: 'b', name: 'B', vendor: 'V', category: 'email', domains: ['A.com.', 'x y'], risk: { soc2Type2: { value: true } } },
      { id: 'b', name: 'B', vendor: 'V', category: 'email', domains: [], addressRanges: { cidrs: ['10.0.0.0/33'], source: 'https://example.com/ranges' }, extra: 1 },
    ],
  };
  const errors = validateCatalog(bad);
  for (const needle of ['apps[0].category', 'a.com already belongs to a', 'apps[1].domains[1]', 'apps[1].risk.soc2Type2.source', 'apps[2].id: duplicate', 'cidrs[0]', 'apps[2].extra']) {
    assert.ok(errors.some((e) => e.includes(needle)), `${needle} in ${errors.join('\n')}`);
  }
});

test('risk formula: unknown counts 0.5, known booleans 0/1, hqCountry by the configured list', () => {
  assert.equal(riskScore(undefined, risk0).score, 5);
  assert.equal(riskScore(undefined, risk0).known, 0);
  const src = 'https://vendor.example/trust';
  const all = { soc2Type2: { value: true, source: src }, iso27001: { value: true, source: src }, encryptionAtRest: { value: true, source: src }, mfa: { value: true, source: src }, sso: { value: true, source: src }, hqCountry: { value: 'US', source: src } };
  assert.equal(riskScore(all, risk0).score, 0);
  assert.equal(riskScore(all, { discoveryHighRiskCountries: ['US'] }).score, 1);
  // soc2 + iso known good (weights 2+2 of 10): 10 × (6 × 0.5) / 10 = 3.
  assert.equal(riskScore({ soc2Type2: all.soc2Type2, iso27001: all.iso27001 }, risk0).score, 3);
  assert.equal(riskScore({ mfa: { value: false, source: src } }, risk0).score, 5.8);
  assert.equal(RISK_ATTRIBUTE_NAMES.length, 6);
});

test('hostname normalisation: case, trailing dots, IDN/punycode, IP literals', () => {
  assert.equal(normalizeHostname('Files.Slack.COM.'), 'files.slack.com');
  assert.equal(normalizeHostname('slack.com..'), 'slack.com');
  assert.equal(normalizeHostname('bücher.example'), 'xn--bcher-kva.example');
  assert.equal(normalizeHostname('XN--BCHER-KVA.example'), 'xn--bcher-kva.example');
  assert.equal(normalizeHostname('例え.テスト'), 'xn--r8jz45g.xn--zckzah');
  assert.equal(normalizeHostname('192.0.2.1'), undefined);
  assert.equal(normalizeHostname('[2001:db8::1]'), undefined);
  assert.equal(normalizeHostname(''), undefined);
  assert.equal(normalizeHostname('.'), undefined);
  assert.equal(normalizeHostname('a..b'), undefined);
  // A last label of digits only is an IPv4 address to WHATWG URL host parsing, never a name.
  for (const numeric of ['1.2.3', 'test.123', '0x7f.1', '1', ' 10.0.0.1. ']) assert.equal(normalizeHostname(numeric), undefined, numeric);
  assert.equal(normalizeHostname('1e100.net'), '1e100.net');
  assert.equal(normalizeHostname('_dmarc.Example.com'), '_dmarc.example.com');
  // URL text is not a name (domainToASCII alone would keep what precedes the delimiter).
  for (const url of ['slack.com/x', 'user@slack.com', 'slack.com:443', 'slack.com?q', 'sla ck.com', 'a%2eb.com', 'éb/']) assert.equal(normalizeHostname(url), undefined, url);
  // Labels: 63 characters at most, no leading or trailing hyphen; 253 characters in all.
  assert.equal(normalizeHostname(`${'a'.repeat(63)}.com`), `${'a'.repeat(63)}.com`);
  assert.equal(normalizeHostname(`${'a'.repeat(64)}.com`), undefined);
  assert.equal(normalizeHostname('-a.com'), undefined);
  assert.equal(normalizeHostname('a-.com'), undefined);
  assert.equal(normalizeHostname(`${'a.'.repeat(125)}abc`), `${'a.'.repeat(125)}abc`);
  assert.equal(normalizeHostname(`${'a.'.repeat(125)}abcd`), undefined);
});

test('longest domain-suffix match on label boundaries', () => {
  const id = (h: string) => matcher.match(h, undefined)?.appId;
  assert.equal(id('slack.com'), 'slack');
  assert.equal(id('files.slack.com'), 'slack');
  assert.equal(id('FILES.SLACK.COM.'), 'slack');
  assert.equal(id('notslack.com'), 'unclassified:notslack.com');
  assert.equal(id('slack.com.evil-example.net'), 'unclassified:evil-example.net');
  assert.equal(id('slack.com.evil.example'), undefined, '.example is no ICANN suffix');
  assert.equal(id('gist.github.com'), 'gist');
  assert.equal(id('api.github.com'), 'github');
  assert.equal(id('mybucket.s3.amazonaws.com'), 'aws-s3');
  assert.equal(id('ec2.us-east-1.amazonaws.com'), 'aws');
  assert.equal(id('docs.google.com'), 'google-drive');
  assert.equal(id('www.google.com'), 'google-search');
  assert.equal(id('com'), undefined);
  assert.equal(id('printer.local'), undefined);
  assert.equal(matcher.match('files.slack.com', undefined)?.rule, 'domain:slack.com');
  assert.equal(matcher.match(undefined, '198.51.100.1'), undefined);
});

test('unclassified grouping by registrable domain (Public Suffix List)', () => {
  const m = matcher.match('a.b.lab-unknown.co.uk', undefined);
  assert.equal(m?.appId, 'unclassified:lab-unknown.co.uk');
  assert.equal(m?.rule, 'registrable-domain:lab-unknown.co.uk');
  assert.equal(matcher.match('www.lab-unknown.co.uk', undefined)?.appId, m?.appId);
  assert.equal(matcher.match('www.München.de.', undefined)?.appId, 'unclassified:xn--mnchen-3ya.de');
});

test('IDN catalog domains and CIDR fallback (IPv4 and IPv6, longest prefix)', () => {
  const file: CatalogFile = {
    catalogVersion: 't', schema: 1, taxonomy: 'outpost-saas-v1',
    apps: [
      { id: 'idn', name: 'IDN', vendor: 'v', category: 'email', domains: ['Bücher.Example'] },
      { id: 'wide', name: 'Wide', vendor: 'v', category: 'email', domains: [], addressRanges: { cidrs: ['198.51.100.0/24', '2001:db8::/32'], source: 'https://vendor.example/ranges.json' } },
      { id: 'narrow', name: 'Narrow', vendor: 'v', category: 'email', domains: ['narrow.example'], addressRanges: { cidrs: ['198.51.100.128/25', '2001:db8:1::/48'], source: 'https://vendor.example/ranges.json' } },
    ],
  };
  assert.deepEqual(validateCatalog(file), []);
  const m = new AppMatcher(resolveCatalog(file, new Map(), risk0));
  assert.equal(m.match('shop.xn--bcher-kva.example', undefined)?.appId, 'idn');
  assert.equal(m.match('SHOP.BÜCHER.EXAMPLE.', undefined)?.appId, 'idn');
  assert.equal(m.match(undefined, '198.51.100.7')?.appId, 'wide');
  assert.equal(m.match(undefined, '198.51.100.200')?.appId, 'narrow');
  assert.equal(m.match(undefined, '198.51.100.200')?.signal, 'address');
  assert.equal(m.match(undefined, '198.51.100.200')?.rule, 'cidr:198.51.100.128/25');
  assert.equal(m.match(undefined, '2001:db8:1:2::5')?.appId, 'narrow');
  assert.equal(m.match(undefined, '2001:db8:ffff::1')?.appId, 'wide');
  assert.equal(m.match(undefined, '2001:db9::1'), undefined);
  // Text that is not a dotted quad names nothing, even when its leading number is a range's.
  for (const bad of ['198.51.100', '198.51.100.7.1', '198.51.100.256', '198.51.100.07', '198.51..7', '198.51.100.7 ', '198.51.100.', '198.51.100.x']) {
    assert.equal(m.match(undefined, bad), undefined, bad);
  }
  assert.equal(m.match(undefined, '198.51.100.0')?.appId, 'wide');
  assert.equal(m.match(undefined, '198.51.100.255')?.appId, 'narrow');
  // A hostname match wins over the address.
  assert.equal(m.match('narrow.example', '198.51.100.7')?.appId, 'narrow');
  // An unknown name with a known address: the address names it.
  assert.equal(m.match('cdn.other.example', '198.51.100.7')?.appId, 'wide');
});

/** A Network Activity event as src/events/network-activity.ts builds it. */
function flowEvent(o: { host?: string; dstIp?: string; srcIp?: string; mac?: string; up: number; down: number; time: number; activity?: number; uid?: string; user?: string }): Record<string, unknown> {
  const activity = o.activity ?? 2;
  const ev: Record<string, unknown> = {
    activity_id: activity, activity_name: activity === 6 ? 'Traffic' : 'Close', category_uid: 4, category_name: 'Network Activity', class_uid: 4001, class_name: 'Network Activity',
    type_uid: 400100 + activity, type_name: `Network Activity: ${activity === 6 ? 'Traffic' : 'Close'}`, severity_id: 1, severity: 'Informational',
    time: o.time, start_time: o.time - 10, end_time: o.time, duration: 10,
    metadata: { version: '1.8.0', product: { name: 'Outpost', vendor_name: 'Outpost', version: '0.1.0' }, uid: '00000000-0000-4000-8000-000000000000', log_name: 'flow' },
    src_endpoint: { ip: o.srcIp ?? '192.168.1.10', port: 50000, mac: o.mac ?? '02:00:00:00:00:10' },
    dst_endpoint: { ip: o.dstIp ?? '203.0.113.5', port: 443, ...(o.host ? { hostname: o.host } : {}) },
    connection_info: { uid: o.uid ?? 'f1', protocol_num: 6, protocol_name: 'tcp', protocol_ver_id: 4, direction_id: 2, direction: 'Outbound' },
    is_src_dst_assignment_known: true,
    traffic: { packets_out: 1, packets_in: 1, bytes_out: o.up, bytes_in: o.down, packets: 2, bytes: o.up + o.down },
    ...(o.host ? { unmapped: { hostname_source: 'sni' } } : {}),
  };
  if (o.user !== undefined) ev.actor = { user: { name: o.user } };
  return ev;
}

const schemaDir = resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');

test('enricher: app_name and unmapped.cloud_app; events still validate against OCSF 1.8.0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-'));
  const d = new Discovery({ dataDir: dir });
  try {
    await d.open();
    await d.setSanction('dropbox', 'unsanctioned', 'test');
    const ev = flowEvent({ host: 'Content.DropboxAPI.com.', up: 1000, down: 10, time: Date.now() });
    d.enricher(ev);
    assert.equal(ev.app_name, 'Dropbox');
    const ca = (ev.unmapped as { cloud_app: Record<string, unknown> }).cloud_app;
    assert.equal(ca.id, 'dropbox');
    assert.equal(ca.category, 'file-sharing');
    assert.equal(ca.sanction, 'unsanctioned');
    assert.equal(ca.unsanctioned, true);
    assert.equal(ca.signal, 'hostname');
    assert.equal(ca.hostname_source, 'sni');
    assert.equal(ca.rule, 'domain:dropboxapi.com');
    assert.equal(ca.catalog_version, shipped.catalogVersion);
    // The score the documented formula gives the shipped entry (risk0: no high-risk countries by default).
    assert.equal(ca.risk_score, riskScore(shipped.apps.find((a) => a.id === 'dropbox')?.risk, risk0).score);
    const unk = flowEvent({ host: 'x.lab-unknown.co.uk', up: 1, down: 1, time: Date.now() });
    d.enricher(unk);
    assert.equal(unk.app_name, 'lab-unknown.co.uk');
    const none = flowEvent({ up: 1, down: 1, time: Date.now() });
    d.enricher(none);
    assert.equal(none.app_name, undefined);
    const inbound = flowEvent({ host: 'slack.com', up: 1, down: 1, time: Date.now() });
    (inbound.connection_info as { direction_id: number }).direction_id = 1;
    d.enricher(inbound);
    assert.equal(inbound.app_name, undefined);
    if (!existsSync(schemaDir)) { t.diagnostic(`OCSF schema absent at ${schemaDir}: validation skipped`); return; }
    const schema = loadOcsfSchema(schemaDir);
    for (const e of [ev, unk, none]) assert.deepEqual(schema.validate(e), []);
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('aggregation: rollup sums equal the events\' totals, per (app, device, user); persisted across restart; enricher order does not matter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-'));
  const t0 = Date.UTC(2025, 0, 15, 10, 0, 0);
  const events: Array<Record<string, unknown>> = [];
  // Deterministic pseudo-random flows over 3 hours, 4 devices, 3 users, 5 apps (interim Traffic + Close).
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const hosts = ['files.slack.com', 'www.dropbox.com', 'github.com', 'chatgpt.com', 'cdn.lab-unknown.co.uk'];
  for (let i = 0; i < 400; i++) {
    const host = hosts[rnd(hosts.length)]!;
    const dev = rnd(4);
    const time = t0 + rnd(3 * 3_600_000);
    const user = rnd(4) === 0 ? undefined : `user${rnd(3)}`;
    events.push(flowEvent({ host, mac: `02:00:00:00:00:0${dev}`, srcIp: `192.168.1.${10 + dev}`, up: rnd(100_000), down: rnd(50_000), time, activity: rnd(3) === 0 ? 6 : 2, uid: `f${i}`, ...(user ? { user } : {}) }));
  }
  const expected = new Map<string, { up: number; down: number; flows: number; devices: Set<string>; users: Set<string> }>();
  let d = new Discovery({ dataDir: dir, config: { flushMaxRecords: 50 } });
  try {
    await d.open();
    events.forEach((ev, i) => {
      const copy = structuredClone(ev);
      // Half the events get the enricher before the observer, half are observed raw.
      if (i % 2 === 0) d.enricher(copy);
      d.observe(copy);
      const m = d.currentMatcher.match((ev.dst_endpoint as { hostname: string }).hostname, undefined)!;
      const e = expected.get(m.appId) ?? { up: 0, down: 0, flows: 0, devices: new Set(), users: new Set() };
      const tr = ev.traffic as { bytes_out: number; bytes_in: number };
      e.up += tr.bytes_out; e.down += tr.bytes_in; e.flows += ev.activity_id === 2 ? 1 : 0;
      e.devices.add((ev.src_endpoint as { mac: string }).mac);
      const u = (ev.actor as { user?: { name: string } } | undefined)?.user?.name;
      if (u) e.users.add(u);
      expected.set(m.appId, e);
    });
    await d.close();
    // Restart: everything comes back from LMDB.
    d = new Discovery({ dataDir: dir });
    await d.open();
    for (const range of [{ fromMs: t0, toMs: t0 + 3 * 3_600_000 }, { fromMs: t0 - 30 * 86_400_000, toMs: t0 + 86_400_000 }]) {
      const rep = await d.report({ ...range, limit: 100 });
      assert.equal(rep.range.granularity, range.toMs - range.fromMs > 14 * 86_400_000 ? 'day' : 'hour');
      assert.equal(rep.total, expected.size);
      for (const [id, e] of expected) {
        const row = rep.rows.find((r) => r.id === id)!;
        assert.ok(row, id);
        assert.equal(row.bytesUp, e.up, `${id} up`);
        assert.equal(row.bytesDown, e.down, `${id} down`);
        assert.equal(row.flows, e.flows, `${id} flows`);
        assert.equal(row.devices, e.devices.size, `${id} devices`);
        assert.equal(row.users, e.users.size, `${id} users`);
      }
      const sumUp = [...expected.values()].reduce((s, e) => s + e.up, 0);
      assert.equal(rep.totals.bytesUp, sumUp);
    }
    // Drill-down sums equal the app's row.
    const rep = await d.report({ fromMs: t0, toMs: t0 + 3 * 3_600_000 });
    const slack = rep.rows.find((r) => r.id === 'slack')!;
    const devs = await d.drillDown('slack', 'devices', t0, t0 + 3 * 3_600_000);
    assert.equal(devs.rows.reduce((s, r) => s + r.bytesUp, 0), slack.bytesUp);
    const users = await d.drillDown('slack', 'users', t0, t0 + 3 * 3_600_000);
    assert.equal(users.rows.length, slack.users);
    // Sorting and paging.
    const byName = await d.report({ fromMs: t0, toMs: t0 + 3 * 3_600_000, sort: 'name', limit: 2, offset: 1 });
    const names = rep.rows.map((r) => r.name).sort((a, b) => a.localeCompare(b));
    assert.deepEqual(byName.rows.map((r) => r.name), names.slice(1, 3));
    const up = await d.report({ fromMs: t0, toMs: t0 + 3 * 3_600_000, sort: 'bytesUp', order: 'asc' });
    for (let i = 1; i < up.rows.length; i++) assert.ok(up.rows[i - 1]!.bytesUp <= up.rows[i]!.bytesUp);
    // CSV.
    const csv = appsToCsv(rep.rows);
    assert.equal(csv.split('\r\n')[0], 'id,name,vendor,category,riskScore,sanction,unclassified,bytesUp,bytesDown,bytes,flows,users,devices,ips,firstSeen,lastSeen');
    assert.equal(csv.trim().split('\r\n').length, rep.rows.length + 1);
    // Retention: with the clock 20 days later, hourly rows go, daily rows stay.
    const later = new Discovery({ dataDir: dir, now: () => t0 + 20 * 86_400_000 });
    await d.close();
    await later.open();
    const removed = await later.applyRetention();
    assert.ok(removed.hourly > 0);
    assert.equal(removed.daily, 0);
    const after = await later.report({ fromMs: t0, toMs: t0 + 3 * 3_600_000 });
    assert.equal(after.range.granularity, 'day');
    assert.equal(after.totals.bytesUp, [...expected.values()].reduce((s, e) => s + e.up, 0));
    await later.close();
  } finally {
    await d.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pseudonymisation: keyed HMAC in rollups and forwarded events, reversible only through audited reveal', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-'));
  const d = new Discovery({ dataDir: dir, config: { pseudonymizeUsers: true } });
  try {
    await d.open();
    const ev = flowEvent({ host: 'slack.com', up: 10, down: 20, time: Date.now(), user: 'alice@corp.example' });
    d.enricher(ev);
    d.observe(ev);
    const fwd = d.pseudonymizeEvent(ev) as { actor: { user: { name: string } }; unmapped: { user_pseudonymized: boolean } };
    assert.match(fwd.actor.user.name, /^u-[0-9a-f]{24}$/);
    assert.equal(fwd.unmapped.user_pseudonymized, true);
    assert.equal((ev.actor as { user: { name: string } }).user.name, 'alice@corp.example', 'original untouched');
    // Stable for the same key; the rollup keeps the pseudonym, not the name.
    assert.equal(d.pseudonym('alice@corp.example'), fwd.actor.user.name);
    const users = await d.drillDown('slack', 'users');
    assert.deepEqual(users.rows.map((r) => r.key), [fwd.actor.user.name]);
    // Reversal through the API is logged with who and why.
    const app = Fastify();
    await app.register(discoveryRoutes, { discovery: d, prefix: '/v1' });
    const res = await app.inject({ method: 'POST', url: '/v1/discovery/users/reveal', payload: { pseudonym: fwd.actor.user.name, reason: 'incident 42' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().name, 'alice@corp.example');
    const miss = await app.inject({ method: 'POST', url: '/v1/discovery/users/reveal', payload: { pseudonym: 'u-000000000000000000000000', reason: 'typo' } });
    assert.equal(miss.statusCode, 404);
    assert.equal(miss.json().code, 'DISCOVERY_PSEUDONYM_UNKNOWN');
    const audit = (await app.inject({ method: 'GET', url: '/v1/discovery/audit' })).json().records as Array<Record<string, unknown>>;
    const reveals = audit.filter((r) => r.action === 'user.reveal');
    assert.equal(reveals.length, 2);
    assert.ok(reveals.some((r) => r.reason === 'incident 42' && r.found === true));
    await app.close();
    // A different key gives a different pseudonym.
    const d2dir = mkdtempSync(join(tmpdir(), 'outpost-disc-'));
    const d2 = new Discovery({ dataDir: d2dir, config: { pseudonymizeUsers: true } });
    await d2.open();
    assert.notEqual(d2.pseudonym('alice@corp.example'), fwd.actor.user.name);
    await d2.close();
    rmSync(d2dir, { recursive: true, force: true });
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('routes: report, CSV, sanction, overrides and reload without restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-'));
  const d = new Discovery({ dataDir: dir });
  const app = Fastify();
  try {
    await d.open();
    await app.register(discoveryRoutes, { discovery: d, prefix: '/v1' });
    const now = Date.now();
    for (const [host, up] of [['slack.com', 500], ['intranet-tool.example.org', 300], ['www.dropbox.com', 900]] as const) {
      const ev = flowEvent({ host, up, down: 1, time: now - 1000 });
      d.enricher(ev); d.observe(ev);
    }
    let res = await app.inject({ url: `/v1/discovery/apps?from=${now - 3_600_000}&to=${now}&sort=bytesUp` });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().rows.map((r: { id: string }) => r.id), ['dropbox', 'slack', 'unclassified:example.org']);
    res = await app.inject({ url: `/v1/discovery/apps.csv?from=${new Date(now - 3_600_000).toISOString()}` });
    assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
    assert.equal(res.body.trim().split('\r\n').length, 4);
    res = await app.inject({ url: '/v1/discovery/apps?sort=nope' });
    assert.equal(res.statusCode, 400);
    res = await app.inject({ url: '/v1/discovery/apps?from=yesterday' });
    assert.equal(res.json().code, 'DISCOVERY_BAD_RANGE');

    // Sanction: unsanctioned use is flagged in reports and on new events.
    res = await app.inject({ method: 'PUT', url: '/v1/discovery/apps/unclassified:example.org/sanction', payload: { state: 'unsanctioned' } });
    assert.equal(res.statusCode, 200);
    res = await app.inject({ url: `/v1/discovery/apps?sanction=unsanctioned&from=${now - 3_600_000}&to=${now}` });
    assert.deepEqual(res.json().rows.map((r: { id: string }) => r.id), ['unclassified:example.org']);
    res = await app.inject({ method: 'PUT', url: '/v1/discovery/apps/slack/sanction', payload: { state: 'bogus' } });
    assert.equal(res.statusCode, 400);

    // Override: claim a domain for a new app, with an address range and sourced risk; applied at once.
    const before = d.catalogVersion;
    res = await app.inject({
      method: 'PUT', url: '/v1/discovery/catalog/apps/intranet-tool',
      payload: { name: 'Intranet Tool', vendor: 'Example Org', category: 'productivity', domains: ['intranet-tool.example.org'], addressRanges: { cidrs: ['198.51.100.0/24'], source: 'https://example.org/ranges' }, risk: { mfa: { value: true, source: 'https://example.org/security' } } },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.notEqual(d.catalogVersion, before);
    assert.equal(res.json().app.riskScore, 4.3);
    const ev = flowEvent({ host: 'intranet-tool.example.org', up: 1, down: 1, time: now });
    d.enricher(ev);
    assert.equal(ev.app_name, 'Intranet Tool');
    assert.equal((ev.unmapped as { cloud_app: { catalog_version: string } }).cloud_app.catalog_version, d.catalogVersion);
    const byAddr = flowEvent({ dstIp: '198.51.100.9', up: 1, down: 1, time: now });
    d.enricher(byAddr);
    assert.equal(byAddr.app_name, 'Intranet Tool');
    // Override of a shipped app: added domain and a risk attribute without a source is refused.
    res = await app.inject({ method: 'PUT', url: '/v1/discovery/catalog/apps/slack', payload: { risk: { sso: { value: true } } } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'DISCOVERY_OVERRIDE_INVALID');
    res = await app.inject({ method: 'PUT', url: '/v1/discovery/catalog/apps/slack', payload: { addDomains: ['slack-gov.example'] } });
    assert.equal(res.statusCode, 200);
    assert.equal(d.currentMatcher.match('x.slack-gov.example', undefined)?.appId, 'slack');
    res = await app.inject({ method: 'POST', url: '/v1/discovery/catalog/reload' });
    assert.equal(res.statusCode, 200);
    assert.equal(d.currentMatcher.match('x.slack-gov.example', undefined)?.appId, 'slack', 'overrides survive reload');
    res = await app.inject({ method: 'DELETE', url: '/v1/discovery/catalog/apps/slack' });
    assert.equal(res.statusCode, 200);
    assert.equal(d.currentMatcher.match('x.slack-gov.example', undefined), undefined);
    res = await app.inject({ url: '/v1/discovery/catalog' });
    assert.ok(res.json().apps >= 501);
    res = await app.inject({ url: '/v1/discovery/catalog/apps?q=dropbox' });
    assert.ok(res.json().apps.some((a: { id: string }) => a.id === 'dropbox'));
    res = await app.inject({ url: '/v1/discovery/apps/slack/devices' });
    assert.equal(res.json().rows.length, 1);
    res = await app.inject({ url: '/v1/discovery/ui/' });
    assert.match(res.headers['content-type'] as string, /text\/html/);
    assert.doesNotMatch(res.body, /https?:\/\//, 'no external assets');
  } finally {
    await app.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('aggregation: bytes of a flow\'s earlier unnamed events (Open before the ClientHello) go to the app a later event names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-late-'));
  const t0 = Date.UTC(2025, 0, 15, 10, 0, 0);
  const d = new Discovery({ dataDir: dir });
  try {
    await d.open();
    const feed = (ev: Record<string, unknown>) => { d.enricher(ev); d.observe(ev); };
    // Flow late-1: Open and an interim Traffic event without a name, then the Close names Dropbox.
    feed(flowEvent({ uid: 'late-1', activity: 1, up: 300, down: 100, time: t0 }));
    feed(flowEvent({ uid: 'late-1', activity: 6, up: 20, down: 5, time: t0 + 1000 }));
    feed(flowEvent({ uid: 'late-1', host: 'www.dropbox.com', activity: 2, up: 1000, down: 50, time: t0 + 2000 }));
    // Flow late-2 never gets a name: nothing is credited, nothing is held after its end.
    feed(flowEvent({ uid: 'late-2', activity: 1, up: 7, down: 7, time: t0 }));
    feed(flowEvent({ uid: 'late-2', activity: 2, up: 9, down: 9, time: t0 + 500 }));
    // Flow late-3, inbound and unnamed: not held at all.
    const inbound = flowEvent({ uid: 'late-3', activity: 1, up: 5, down: 5, time: t0 });
    (inbound.connection_info as Record<string, unknown>).direction_id = 1;
    feed(inbound);
    const rep = await d.report({ fromMs: t0 - 3_600_000, toMs: t0 + 3_600_000 });
    const dropbox = rep.rows.find((r) => r.id === 'dropbox')!;
    assert.equal(dropbox.bytesUp, 1320);
    assert.equal(dropbox.bytesDown, 155);
    assert.equal(dropbox.flows, 1);
    assert.equal(rep.total, 1);
    const c = d.counters.snapshot();
    assert.equal(c['discovery.bytes_credited_late'], 425);
    assert.equal(c['discovery.unnamed_flows_evicted'], 0);
    assert.equal((d as unknown as { unnamedFlows: Map<string, unknown> }).unnamedFlows.size, 0, 'nothing held after the flows ended');
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rollup store that cannot be created is STORE_OPEN_FAILED naming the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-store-'));
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const store = new DiscoveryStore({ flushIntervalMs: 60_000, flushMaxRecords: 1000, maxIpsPerRollup: 8 });
    assert.throws(() => store.open(join(file, 'discovery')), { code: 'STORE_OPEN_FAILED', details: { path: join(file, 'discovery') } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
