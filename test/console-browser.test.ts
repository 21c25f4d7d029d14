/**
 * The console in a real browser (Debian's Chromium through playwright-core), against the daemon
 * as `outpost run` starts it the first time (its own admin token and the login URL it prints),
 * capturing on a veth, fed a capture built here (test/support/office-capture.ts) and played onto
 * the wire with tcpreplay: two PCs get addresses and host names by DHCP (one with a randomized
 * MAC), a Kerberos logon names a user, and both PCs upload to cloud apps over TLS and HTTP.
 *
 * 1. Sign in with the printed login URL: an HttpOnly, SameSite=Strict session cookie; the page
 *    holds no token and its writes carry the session's CSRF token.
 * 2. Each page (Apps, Devices, Users, Health) is visited; what it shows is compared with the
 *    API's JSON read by the test with its own token: table rows and their raw figures
 *    (data-* attributes next to the formatted text), cards, and what each chart plots.
 *    Two blocked attempts of PC1 to Dropbox are recorded through the daemon's verdict recorder
 *    (as the inline path records them): the Blocked columns show them as the API counts them.
 * 3. An app is unsanctioned through the page (the confirmation is cancelled once, then
 *    confirmed): the page shows the new state and the API agrees.
 * 4. Screenshots: test-output/console-<page>.png (and docs/img/ with UPDATE_SCREENSHOTS=1).
 * 5. The second test: the DHCP host name and the Kerberos user name hold markup
 *    (`<img src=x onerror=...>`, `"><script>...`) and the User-Agent a script tag. No script may
 *    run (no JavaScript dialog, no page error, no element made from them) and the names must show
 *    exactly as written. A TLS server name and an HTTP Host holding markup are refused by the
 *    analyzers (counted) and name nothing.
 * 6. The third: logging out ends the session; the sign-in form takes a token instead of the URL.
 * 7. The fourth: a MAC merged into a device and split off again through the page (confirmed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { until } from './support/wait.js';
import type { BrowserContext, Page } from 'playwright-core';
import { createWire, removeWire } from './support/netns.js';
import { testDaemon, type TestDaemon } from './support/daemon.js';
import { officeCapture, officeUploads, PC1, PC1_MAC, PC2_MAC, type OfficeNames } from './support/office-capture.js';

const CHROMIUM = process.env.OUTPOST_CHROMIUM ?? '/usr/bin/chromium';
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = ['ip', 'tcpreplay'].filter((c) => !has(c));
const skip = process.getuid?.() !== 0 ? 'console browser test needs root (network namespace, veth, capture)'
  : !existsSync(CHROMIUM) ? `console browser test needs Chromium at ${CHROMIUM} (apt-get install chromium)`
    : missing.length > 0 ? `console browser test needs ${missing.join(', ')} (apt-get install iproute2 tcpreplay)` : false;

const tag = `${process.pid % 100000}`;
const WIRE = { ns: `opcw${tag}`, hostIf: `opc${tag}h`, nsIf: `opc${tag}w` };

const NAMES: OfficeNames = {
  pc1Host: '<img src=x onerror=alert(1)>',
  pc2Host: 'ann-laptop',
  pc1User: '"><script>alert(2)</script>',
  httpHost: 'files.lab-unknown.co.uk',
  userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) <script>alert(4)</script>',
  hostileSni: '"><img src=x onerror=alert(5)>.example.com',
  hostileHttpHost: '<script>alert(6)</script>.example.com',
};
const PC1_UID = `mac:${PC1_MAC}`, PC2_UID = `mac:${PC2_MAC}`;

/** The page's byte formatting (src/console/app-js.ts fmtBytes), to compare the text exactly. */
function fmtBytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0, v = n;
  while (v >= 999.5 && i < u.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)} ${u[i]}`;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
// The functions below that run in the page see the browser's globals; this program has no DOM
// library (it would type every file as if it ran in a browser), so they are declared here.
declare const document: any, window: any, location: any, sessionStorage: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const env = {
  dir: '',
  base: '',
  admin: '',
  t: undefined as TestDaemon | undefined,
  loginUrl: '',
  context: undefined as BrowserContext | undefined,
  page: undefined as Page | undefined,
  dialogs: [] as string[],
  errors: [] as string[],
  cspViolations: [] as string[],
};

async function api(path: string, init: RequestInit = {}): Promise<Json> {
  const r = await fetch(`${env.base}${path}`, { ...init, headers: { authorization: `Bearer ${env.admin}`, 'content-type': 'application/json', ...init.headers } });
  const body = await r.json() as Json;
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

const out = resolve('test-output');

before(async () => {
  if (skip) return;
  createWire(WIRE);
  // The daemon as `outpost run` starts it on first run (firstRunAccess: its own admin token and
  // the login URL it prints), capturing on the wire, with short flow timeouts. The test reads the
  // API with the configured admin token of its own.
  env.t = await testDaemon({
    logLevel: 'silent',
    capture: { interfaces: [WIRE.hostIf], bufferTimeoutMs: 10 },
    flows: { flowIdleTimeoutMs: { tcp: 2000, udp: 2000, icmp: 1000, other: 1000 }, tcpClosedTimeoutMs: 1000 },
    devices: { enabled: true },
    discovery: { enabled: true, flushIntervalMs: 500 },
    // A sink whose receiver is down: the health page has a backlog and errors to show.
    forward: { https: [{ name: 'siem', url: 'https://127.0.0.1:9/ingest', retryInitialMs: 50, retryMaxMs: 500 }] },
  }, { firstRunAccess: true });
  env.dir = env.t.dir;
  env.admin = env.t.admin;
  env.loginUrl = env.t.daemon.loginUrl ?? '';
  assert.match(env.loginUrl, /^http:\/\/127\.0\.0\.1:\d+\/login\?token=/, 'the first start makes a login URL');
  env.base = new URL(env.loginUrl).origin;

  const pcap = join(env.dir, 'office.pcap');
  writeFileSync(pcap, officeCapture(NAMES));
  const replay = spawnSync('ip', ['netns', 'exec', WIRE.ns, 'tcpreplay', '-q', '--pps=2000', '-i', WIRE.nsIf, pcap], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(replay.status, 0, `tcpreplay: ${replay.stderr}`);
  const connections = officeUploads(NAMES).length;
  await until('every office connection to end and reach the rollups', 20_000, async () => {
    const rep = await api('/v1/discovery/apps').catch(() => undefined);
    return rep !== undefined && rep.totals.flows >= connections ? rep : undefined;
  });
  await until('the Kerberos user on PC1', 10_000, async () => {
    const u = await api('/v1/users').catch(() => undefined);
    return u !== undefined && u.items.some((x: Json) => x.name === NAMES.pc1User) ? u : undefined;
  });

  // Two attempts of PC1 the control policy blocked, recorded as the inline path records them.
  const verdicts = env.t.daemon.control.verdicts;
  for (const port of [50900, 50901]) {
    verdicts.record({ verdict: 'block', reason: 'rule', ruleId: 'rule-console-lab', appId: 'dropbox', appName: 'Dropbox' }, {
      timeMs: Date.now(), clientIp: PC1, clientPort: port, clientMac: PC1_MAC, serverIp: '203.0.113.80', serverPort: 443, protocolNum: 6,
      name: 'www.dropbox.com', nameSource: 'tls-sni', enforcement: 'reset',
    });
  }
  await until('the blocked attempts in the rollups', 10_000, async () => {
    const rep = await api('/v1/discovery/apps').catch(() => undefined);
    return rep?.rows.find((r: Json) => r.id === 'dropbox')?.blocked === 2 ? rep : undefined;
  });

  const { chromium } = await import('playwright-core');
  const profile = join(env.dir, 'chromium-profile');
  mkdirSync(profile);
  env.context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = env.context.pages()[0] ?? await env.context.newPage();
  env.page = page;
  page.on('dialog', (dlg) => { env.dialogs.push(`${dlg.type()}: ${dlg.message()}`); void dlg.dismiss(); });
  page.on('pageerror', (e) => env.errors.push(e.message));
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) env.cspViolations.push(m.text()); });
  mkdirSync(out, { recursive: true });
});

after(async () => {
  if (skip) return;
  await env.context?.close().catch(() => {});
  await env.t?.stop();
  removeWire(WIRE);
  if (env.dir) rmSync(env.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
});

/** Signs the browser in with the login URL the daemon printed: a session cookie, then the console. */
async function signIn(page: Page): Promise<void> {
  await page.goto(env.loginUrl);
  await page.waitForURL(`${env.base}/`, { timeout: 10_000 });
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('signed in as '), undefined, { timeout: 10_000 });
}

/** Goes to a page of the console and waits until it has loaded its data after `since`. */
async function visit(page: Page, name: 'apps' | 'devices' | 'users' | 'health', hash = `#/${name}`): Promise<void> {
  const since = Date.now();
  // The same hash again fires no hashchange: the page is told to route anyway.
  await page.evaluate((h) => { if (location.hash === h) window.dispatchEvent(new window.HashChangeEvent('hashchange')); else location.hash = h; }, hash);
  await page.waitForFunction(([n, t]) => Number(document.body.getAttribute(`data-loaded-${n}`) ?? 0) >= (t as number), [name, since] as const, { timeout: 15_000 });
}

test('the console shows apps, devices, users and health as the API reports them, and sanctions an app', { skip, timeout: 120_000 }, async () => {
  const page = env.page!;
  await signIn(page);
  const cookies = await env.context!.cookies(env.base);
  assert.deepEqual(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite })), [{ name: 'outpost_session', httpOnly: true, sameSite: 'Strict' }], 'an HttpOnly, SameSite=Strict session cookie');
  const res = await fetch(`${env.base}/`);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/, 'scripts from this origin only');
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);

  // ------------------------------------------------------------------ Apps
  await visit(page, 'apps');
  const report = await api('/v1/discovery/apps?sort=bytesUp&order=desc&limit=500');
  const rows = await page.$$eval('#apps-table tbody tr[data-app-id]', (trs) => trs.map((tr) => ({
    id: tr.getAttribute('data-app-id'),
    name: tr.querySelector('td.name strong')?.textContent,
    up: Number(tr.querySelector('td.up')?.getAttribute('data-bytes')),
    upText: tr.querySelector('td.up')?.textContent,
    down: Number(tr.querySelector('td.down')?.getAttribute('data-bytes')),
    flows: Number(tr.querySelector('td.flows')?.getAttribute('data-value')),
    devices: Number(tr.querySelector('td.devices')?.getAttribute('data-value')),
    users: Number(tr.querySelector('td.users')?.getAttribute('data-value')),
    sanction: tr.querySelector('td.sanction')?.textContent,
    blocked: Number(tr.querySelector('td.blocked')?.getAttribute('data-value')), blockedText: tr.querySelector('td.blocked')?.textContent,
  })));
  assert.deepEqual(rows, report.rows.map((r: Json) => ({
    id: r.id, name: r.name, up: r.bytesUp, upText: fmtBytes(r.bytesUp), down: r.bytesDown, flows: r.flows, devices: r.devices, users: r.users, sanction: r.sanction,
    blocked: r.blocked, blockedText: String(r.blocked),
  })), 'the apps table is the API\'s report');
  assert.deepEqual(rows.filter((r) => r.blocked > 0).map((r) => [r.id, r.blocked]), [['dropbox', 2]], 'the blocked attempts');
  assert.deepEqual(rows.map((r) => r.id).sort(), ['dropbox', 'slack', 'unclassified:lab-unknown.co.uk', 'wetransfer'], 'the office\'s apps');
  const cards = await page.evaluate(() => ({
    apps: document.getElementById('card-apps')!.getAttribute('data-value'),
    up: document.getElementById('card-up')!.getAttribute('data-bytes'), upText: document.getElementById('card-up')!.textContent,
    down: document.getElementById('card-down')!.getAttribute('data-bytes'), flows: document.getElementById('card-flows')!.getAttribute('data-value'),
  }));
  assert.deepEqual(cards, { apps: String(report.total), up: String(report.totals.bytesUp), upText: fmtBytes(report.totals.bytesUp), down: String(report.totals.bytesDown), flows: String(report.totals.flows) });
  assert.equal(report.totals.flows, officeUploads(NAMES).length);

  // The charts: what each plots (data-summary) is the API's, and chart.js drew each one.
  const charts = await page.evaluate(() => Object.fromEntries(['chart-app', 'chart-category', 'chart-risk', 'chart-upload'].map((id) => {
    const c = document.getElementById(id);
    const chart = window.Chart.getChart(c) as { data: { datasets: unknown[] } } | undefined;
    return [id, { summary: JSON.parse(c.getAttribute('data-summary') ?? 'null') as Record<string, number>, drawn: chart !== undefined && c.width > 0, datasets: chart?.data.datasets.length ?? 0 }];
  })));
  const perApp = await api('/v1/discovery/series?by=app&top=8');
  const perCategory = await api('/v1/discovery/series?by=category&top=8');
  assert.deepEqual(charts['chart-app']!.summary, Object.fromEntries(perApp.series.map((s: Json) => [s.key, s.bytes])));
  assert.deepEqual(charts['chart-category']!.summary, Object.fromEntries(perCategory.series.map((s: Json) => [s.key, s.bytes])));
  assert.equal(Object.values(charts['chart-app']!.summary).reduce((a, b) => a + b, 0), report.totals.bytesUp + report.totals.bytesDown, 'the per-app chart plots every byte of the report');
  const bands = [0, 0, 0, 0, 0, 0];
  for (const r of report.rows) bands[r.riskScore === null ? 5 : Math.min(4, Math.floor(r.riskScore / 2))]!++;
  assert.deepEqual(Object.values(charts['chart-risk']!.summary), bands);
  assert.deepEqual(charts['chart-upload']!.summary, Object.fromEntries(report.rows.slice(0, 10).map((r: Json) => [r.id, r.bytesUp])));
  for (const [id, c] of Object.entries(charts)) assert.ok(c.drawn && c.datasets > 0, `${id} drawn by chart.js`);

  // Drill-down to the devices and users of Dropbox.
  await page.click('#apps-table tr[data-app-id="dropbox"] td.name');
  await page.waitForFunction(() => document.querySelectorAll('#app-devices tbody tr[data-device]').length > 0, undefined, { timeout: 10_000 });
  const drill = await api('/v1/discovery/apps/dropbox/devices');
  const shown = await page.$$eval('#app-devices tbody tr[data-device]', (trs) => trs.map((tr) => ({ key: tr.getAttribute('data-device'), up: Number(tr.querySelector('td.up')?.getAttribute('data-bytes')), blocked: tr.querySelector('td.blocked')?.textContent })));
  assert.deepEqual(shown, drill.rows.map((r: Json) => ({ key: r.key, up: r.bytesUp, blocked: String(r.blocked) })));
  assert.equal(shown[0]?.blocked, '2', 'PC1\'s blocked attempts');
  assert.deepEqual(shown.map((r) => r.key), [`uid:${PC1_UID}`], 'Dropbox was used from PC1');
  await page.waitForFunction(() => document.querySelectorAll('#app-users tbody tr[data-user]').length > 0, undefined, { timeout: 10_000 });
  const users = await api('/v1/discovery/apps/dropbox/users');
  assert.deepEqual(await page.$$eval('#app-users tbody tr[data-user]', (trs) => trs.map((tr) => tr.getAttribute('data-user'))), users.rows.map((r: Json) => r.key));

  // Sanction decisions go through a confirmation: cancelled, nothing changes; confirmed, it does.
  const before = (await api('/v1/discovery/apps/dropbox')).sanction;
  assert.notEqual(before, 'unsanctioned');
  await page.click('#apps-table tr[data-app-id="dropbox"] button[data-state="unsanctioned"]');
  await page.waitForSelector('#confirm[open]');
  assert.match(await page.textContent('#confirm-text') ?? '', /^Mark Dropbox as unsanctioned\?/);
  await page.click('#confirm-cancel');
  await sleep(300);
  assert.equal((await api('/v1/discovery/apps/dropbox')).sanction, before, 'a cancelled decision changes nothing');
  await page.click('#apps-table tr[data-app-id="dropbox"] button[data-state="unsanctioned"]');
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => document.querySelector('#apps-table tr[data-app-id="dropbox"] td.sanction')?.textContent === 'unsanctioned', undefined, { timeout: 10_000 });
  assert.equal((await api('/v1/discovery/apps/dropbox')).sanction, 'unsanctioned', 'the API agrees with the page');
  assert.equal(await page.getAttribute('#card-unsanctioned', 'data-value'), '1');
  assert.equal(await page.isDisabled('#apps-table tr[data-app-id="dropbox"] button[data-state="unsanctioned"]'), true);
  await page.screenshot({ path: join(out, 'console-apps.png') });

  // CSV export: the API's CSV of the same report, saved through the browser with the session.
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click('#apps-csv')]);
  const saved = readFileSync((await download.path())!, 'utf8');
  const csv = await (await fetch(`${env.base}/v1/discovery/apps.csv?sort=bytesUp&order=desc`, { headers: { authorization: `Bearer ${env.admin}` } })).text();
  assert.equal(saved, csv);
  assert.equal(download.suggestedFilename(), 'outpost-apps.csv');
  assert.match(saved.split('\r\n').find((l) => l.startsWith('dropbox,')) ?? '', /,unsanctioned,/);

  // --------------------------------------------------------------- Devices
  await visit(page, 'devices');
  const devices = await api('/v1/devices?limit=1000');
  const usage = await api('/v1/discovery/usage?by=devices&topApps=3');
  const devRows = await page.$$eval('#devices-table tbody tr[data-uid]', (trs) => trs.map((tr) => ({
    uid: tr.getAttribute('data-uid'), name: tr.querySelector('td.name')?.textContent, vendor: tr.querySelector('td.vendor')?.textContent,
    macs: [...tr.querySelectorAll('td.macs code')].map((c) => c.textContent), randomized: tr.querySelector('td.macs .badge.random') !== null,
    addresses: tr.querySelector('td.addresses')?.textContent, apps: Number(tr.querySelector('td.apps')?.getAttribute('data-value')), user: tr.querySelector('td.user')?.textContent,
  })));
  assert.deepEqual(devRows.map((r) => ({ uid: r.uid, name: r.name, vendor: r.vendor, macs: r.macs, randomized: r.randomized, addresses: r.addresses })),
    devices.items.map((d: Json) => ({ uid: d.uid, name: d.hostname ?? d.uid, vendor: d.vendor ?? '–', macs: d.macs, randomized: d.randomizedMac, addresses: d.addresses.join(', ') || '–' })));
  for (const r of devRows) {
    const u = usage.rows.find((x: Json) => x.key === `uid:${r.uid}`);
    assert.equal(r.apps, u ? u.appCount : 0, `${r.uid}: apps used`);
  }
  const pc2 = devRows.find((r) => r.uid === PC2_UID);
  assert.ok(pc2 !== undefined && pc2.randomized && pc2.name === 'ann-laptop', `PC2 (randomized MAC) listed: ${JSON.stringify(devRows)}`);
  assert.equal(devRows.find((r) => r.uid === PC1_UID)?.user, `CORP.EXAMPLE\\${NAMES.pc1User} (kerberos)`, 'PC1\'s current user and where it was seen');
  await page.click(`#devices-table tr[data-uid="${PC1_UID}"] td.name`);
  await page.waitForFunction((uid) => document.body.getAttribute('data-loaded-device') === uid, PC1_UID, { timeout: 10_000 });
  const pc1 = await api(`/v1/devices/${encodeURIComponent(PC1_UID)}`);
  assert.deepEqual(await page.$$eval('#device-links tbody tr[data-mac]', (trs) => trs.map((tr) => tr.getAttribute('data-mac'))), pc1.links.map((l: Json) => l.mac));
  assert.deepEqual(await page.$$eval('#device-users tbody tr', (trs) => trs.map((tr) => [tr.children[0]?.textContent, tr.children[1]?.textContent])),
    [...pc1.users].reverse().map((u: Json) => [`${u.domain}\\${u.name}`, u.source]), 'the device\'s users, newest first, with where each was seen');
  assert.equal(pc1.users[0]?.source, 'kerberos');
  const pc1Apps = await api(`/v1/discovery/usage?by=devices&key=${encodeURIComponent(`uid:${PC1_UID}`)}&topApps=50`);
  assert.deepEqual(await page.$$eval('#device-apps tbody tr[data-app-id]', (trs) => trs.map((tr) => [tr.getAttribute('data-app-id'), Number(tr.querySelector('td.up')?.getAttribute('data-bytes'))])),
    pc1Apps.rows[0].apps.map((a: Json) => [a.id, a.bytesUp]));
  await page.screenshot({ path: join(out, 'console-devices.png') });

  // ----------------------------------------------------------------- Users
  await visit(page, 'users');
  const apiUsers = await api('/v1/users?limit=1000');
  const userUsage = await api('/v1/discovery/usage?by=users&topApps=5');
  const userRows = await page.$$eval('#users-table tbody tr[data-user]', (trs) => trs.map((tr) => ({
    name: tr.getAttribute('data-user'), sources: tr.querySelector('td.sources')?.textContent, devices: tr.querySelector('td.devices')?.textContent,
    apps: Number(tr.querySelector('td.apps')?.getAttribute('data-value')), up: Number(tr.querySelector('td.up')?.getAttribute('data-bytes')),
  })));
  const names = new Set([...apiUsers.items.map((u: Json) => u.name), ...userUsage.rows.map((r: Json) => r.key)]);
  assert.deepEqual(new Set(userRows.map((r) => r.name)), names);
  const pc1User = userRows.find((r) => r.name === NAMES.pc1User)!;
  const pc1Traffic = userUsage.rows.find((r: Json) => r.key === NAMES.pc1User);
  assert.deepEqual(pc1User, { name: NAMES.pc1User, sources: 'kerberos, traffic', devices: NAMES.pc1Host, apps: pc1Traffic.appCount, up: pc1Traffic.bytesUp });
  await page.screenshot({ path: join(out, 'console-users.png') });

  // ---------------------------------------------------------------- Health
  await visit(page, 'health');
  // Packets/s needs two samples: wait for the next refresh.
  await page.waitForFunction(() => document.getElementById('h-pps')!.getAttribute('data-value') !== '', undefined, { timeout: 10_000 });
  const stats = await api('/v1/stats');
  const ifRow = await page.$eval(`#h-interfaces tr[data-interface="${WIRE.hostIf}"]`, (tr) => ({
    received: Number(tr.querySelector('td.received')?.getAttribute('data-value')), drops: Number(tr.querySelector('td.drops')?.getAttribute('data-value')),
    pps: tr.querySelector('td.pps')?.textContent,
  }));
  const apiIf = stats.interfaces.find((i: Json) => i.interface === WIRE.hostIf);
  assert.deepEqual({ received: ifRow.received, drops: ifRow.drops }, { received: apiIf.packetsReceived, drops: apiIf.kernelDrops });
  assert.match(ifRow.pps ?? '', /^\d+\.\d$/);
  const catalog = await api('/v1/discovery/catalog');
  assert.equal(await page.getAttribute('#h-catalog', 'data-value'), catalog.version);
  const stores = await api('/v1/console/stores');
  assert.deepEqual(await page.$$eval('#h-stores tbody tr[data-store]', (trs) => trs.map((tr) => tr.getAttribute('data-store'))), stores.stores.map((s: Json) => s.name));
  assert.ok(stores.stores.some((s: Json) => s.name === 'discovery' && s.bytes > 0), 'the discovery store has a size');
  const jobs = await api('/v1/jobs');
  assert.deepEqual(await page.$$eval('#h-jobs tbody tr[data-job]', (trs) => trs.map((tr) => tr.getAttribute('data-job'))), jobs.jobs.map((j: Json) => j.name));
  const health = await api('/v1/health');
  assert.deepEqual(await page.$$eval('#h-components tbody tr[data-component]', (trs) => trs.map((tr) => tr.getAttribute('data-component'))), health.components.map((c: Json) => c.name));
  // The sink's counters move while the daemon retries: what the page showed lies between zero
  // and what the API says just after; dead letters stay none (nothing was ever answered).
  const sinkRow = await page.$eval('#h-sinks tr[data-sink="siem"]', (tr) => ({
    running: tr.children[1]?.textContent, lag: Number(tr.querySelector('td.lag')?.getAttribute('data-value')),
    errors: Number(tr.querySelector('td.errors')?.getAttribute('data-value')), dead: Number(tr.querySelector('td.dead')?.getAttribute('data-value')),
    lastError: tr.querySelector('td.last-error')?.textContent,
  }));
  const sink = (await api('/v1/sinks')).sinks.find((x: Json) => x.name === 'siem');
  assert.equal(sinkRow.running, sink.running ? 'yes' : 'no');
  assert.ok(sinkRow.lag > 0 && sinkRow.lag <= sink.lag_events, `lag ${sinkRow.lag} of ${sink.lag_events}`);
  assert.ok(sinkRow.errors > 0 && sinkRow.errors <= sink.errors, `errors ${sinkRow.errors} of ${sink.errors}`);
  assert.deepEqual([sinkRow.dead, sink.dead_lettered], [0, 0]);
  assert.ok(sinkRow.lastError?.startsWith(`${sink.last_error.code}: `), `last error ${sinkRow.lastError} (API: ${JSON.stringify(sink.last_error)})`);
  await page.screenshot({ path: join(out, 'console-health.png') });

  assert.deepEqual(env.errors, [], 'no script errors');
  assert.deepEqual(env.cspViolations, [], 'nothing the page does is refused by its own policy');

  // UPDATE_SCREENSHOTS=1 refreshes the README's pictures (docs/img) from this run.
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    for (const name of ['apps', 'devices', 'users', 'health']) {
      const png = join(out, `console-${name}.png`);
      assert.ok(statSync(png).size <= 200_000, `${png} is at most 200 KB`);
      copyFileSync(png, resolve('docs/img', `console-${name}.png`));
    }
  }
});

test('host, DHCP and user names holding markup are shown as text and run no script', { skip, timeout: 60_000 }, async () => {
  const page = env.page!;
  if (!page.url().startsWith(env.base)) await signIn(page);
  const evidenceOf = async (): Promise<string[]> => page.$$eval('#device-evidence tbody td.value', (tds) => tds.map((t) => t.textContent ?? ''));

  await visit(page, 'devices', `#/devices?uid=${encodeURIComponent(PC1_UID)}`);
  await page.waitForFunction((uid) => document.body.getAttribute('data-loaded-device') === uid, PC1_UID, { timeout: 10_000 });
  assert.equal(await page.textContent(`#devices-table tr[data-uid="${PC1_UID}"] td.name`), NAMES.pc1Host, 'the DHCP host name as written');
  assert.equal(await page.textContent('#device-detail-title'), NAMES.pc1Host);
  assert.deepEqual(await page.$$eval('#device-users tbody td.user', (tds) => tds.map((t) => t.textContent)), [`CORP.EXAMPLE\\${NAMES.pc1User}`], 'the Kerberos user name as written');
  assert.ok((await evidenceOf()).includes(NAMES.pc1Host), 'the host name evidence as written');

  await visit(page, 'users');
  assert.equal(await page.textContent(`#users-table tr[data-user="${NAMES.pc1User.replace(/"/g, '\\"')}"] td.name`), NAMES.pc1User);

  await visit(page, 'apps');
  await page.click('#apps-table tr[data-app-id="slack"] td.name');
  await page.waitForFunction(() => document.querySelectorAll('#app-devices tbody tr[data-device]').length > 1, undefined, { timeout: 10_000 });
  const drillNames = await page.$$eval('#app-devices tbody tr[data-device] td:first-child', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual([...drillNames].sort(), [NAMES.pc1Host, NAMES.pc2Host].sort(), 'device names in the drill-down as written');
  await page.waitForFunction(() => document.querySelectorAll('#app-users tbody tr[data-user]').length > 0, undefined, { timeout: 10_000 });
  assert.deepEqual(await page.$$eval('#app-users tbody tr[data-user] td:first-child', (tds) => tds.map((t) => t.textContent)), [NAMES.pc1User]);

  // Markup in a TLS server name or an HTTP Host never gets this far: the analyzers refuse both
  // (counted), so no app, host or device is named by them.
  const counters = (await api('/v1/stats')).counters as Record<string, number>;
  assert.ok((counters['tls.sni_invalid'] ?? 0) >= 1, `tls.sni_invalid: ${counters['tls.sni_invalid']}`);
  assert.ok((counters['http.host_malformed'] ?? 0) >= 1, `http.host_malformed: ${counters['http.host_malformed']}`);
  const everyApp = (await api('/v1/discovery/apps?limit=500')).rows as Json[];
  assert.deepEqual(everyApp.filter((r) => /[<>"]/.test(`${r.id} ${r.name}`)), [], 'no app named from markup');

  // Nothing became markup: no element from the names, no dialog, no error, no blocked script.
  const made = await page.evaluate(() => ({
    imgs: document.querySelectorAll('img').length,
    scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
  }));
  assert.deepEqual(made, { imgs: 0, scripts: ['/console/chart.umd.min.js', '/console/app.js'] });
  assert.deepEqual(env.dialogs, [], 'no script from the names ran (alert)');
  assert.deepEqual(env.errors, []);
  assert.deepEqual(env.cspViolations, []);
});

test('logging out ends the session; the sign-in form takes a token', { skip, timeout: 30_000 }, async () => {
  const page = env.page!;
  if (!page.url().startsWith(env.base)) await signIn(page);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('outpost-token')), null, 'the page keeps no token: the cookie is the session');
  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 });
  assert.deepEqual(await env.context!.cookies(env.base), [], 'the cookie is cleared');
  assert.equal(await page.evaluate(() => fetch('/v1/stats').then((r) => r.status)), 401, 'signed out: the API answers nothing');
  await page.fill('#login-token', env.admin);
  await page.click('#login-form button[type="submit"]');
  await page.waitForFunction(() => document.getElementById('who').textContent === 'signed in as ops', undefined, { timeout: 10_000 });
  assert.deepEqual((await env.context!.cookies(env.base)).map((c) => c.name), ['outpost_session']);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('outpost-token')), null);
  await visit(page, 'apps');
  assert.ok((await page.$$('#apps-table tbody tr[data-app-id]')).length > 0);
  assert.deepEqual(env.errors, []);
});

test('a MAC is merged into a device and split off again, each after a confirmation', { skip, timeout: 30_000 }, async () => {
  const page = env.page!;
  if (!page.url().startsWith(env.base)) await signIn(page);
  const macsOf = async (uid: string): Promise<string[]> => (await api(`/v1/devices/${encodeURIComponent(uid)}`)).macs;
  await visit(page, 'devices', `#/devices?uid=${encodeURIComponent(PC1_UID)}`);
  await page.waitForFunction((uid) => document.body.getAttribute('data-loaded-device') === uid, PC1_UID, { timeout: 10_000 });

  await page.fill('#merge-mac', PC2_MAC);
  await page.click('#merge-form button[type="submit"]');
  await page.waitForSelector('#confirm[open]');
  assert.match(await page.textContent('#confirm-text') ?? '', new RegExp(`^Link ${PC2_MAC} to `));
  await page.click('#confirm-ok');
  await until('PC2\'s MAC on PC1', 10_000, async () => ((await macsOf(PC1_UID)).includes(PC2_MAC) ? true : undefined));
  await page.waitForSelector(`#device-links tr[data-mac="${PC2_MAC}"] button[data-split]`, { timeout: 10_000 });
  const merged = await api(`/v1/devices/${encodeURIComponent(PC1_UID)}`);
  assert.equal(merged.links.find((l: Json) => l.mac === PC2_MAC && l.unlinkedAt === undefined)?.reason, 'manual', 'linked by hand');

  await page.click(`#device-links tr[data-mac="${PC2_MAC}"] button[data-split]`);
  await page.waitForSelector('#confirm[open]');
  assert.match(await page.textContent('#confirm-text') ?? '', new RegExp(`^Split ${PC2_MAC} off `));
  await page.click('#confirm-ok');
  await until('PC2\'s MAC split off PC1', 10_000, async () => ((await macsOf(PC1_UID)).includes(PC2_MAC) ? undefined : true));
  assert.deepEqual(await macsOf(PC1_UID), [PC1_MAC]);
  await page.waitForFunction((mac) => document.querySelector(`#device-links tr[data-mac="${mac}"] button[data-split]`) === null, PC2_MAC, { timeout: 10_000 });
  assert.deepEqual(env.errors, []);
});
