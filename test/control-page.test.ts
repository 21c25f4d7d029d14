/**
 * Blocked attempts on the discovery API and the discovered-apps page: verdicts recorded through a
 * real daemon's control policy (daemon.control.verdicts, what the inline path calls) reach the
 * rollups through the event pipeline; GET /v1/discovery/apps and the device drill-down count
 * them, and the page (Debian's Chromium through playwright-core) shows them per app and device.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { testDaemon, type TestDaemon } from './support/daemon.js';

const CHROMIUM = process.env.OUTPOST_CHROMIUM ?? '/usr/bin/chromium';

let t: TestDaemon;
before(async () => {
  t = await testDaemon();
  const r = await t.daemon.api.inject({ method: 'PUT', url: '/v1/discovery/apps/chatgpt/sanction', headers: { authorization: `Bearer ${t.admin}` }, payload: { state: 'unsanctioned' } });
  assert.equal(r.statusCode, 200);
});
after(async () => { await t.stop(); });

test('blocked attempts per app and per device: API and page', async (ctx) => {
  const { policy, verdicts } = t.daemon.control;
  const now = Date.now();
  const attempts: Array<[string, string]> = [['10.0.0.21', '02:00:00:00:00:21'], ['10.0.0.21', '02:00:00:00:00:21'], ['10.0.0.22', '02:00:00:00:00:22']];
  for (const [ip, mac] of attempts) {
    const d = policy.decide({ name: 'chatgpt.com', nameSource: 'tls-sni', clientIp: ip, clientMac: mac, nowMs: now });
    assert.equal(d.verdict, 'block');
    verdicts.record(d, { timeMs: now, clientIp: ip, clientMac: mac, clientPort: 40000, serverIp: '203.0.113.5', serverPort: 443, protocolNum: 6, name: 'chatgpt.com', nameSource: 'tls-sni', enforcement: 'reset' });
  }
  const get = async (url: string) => (await t.daemon.api.inject({ url, headers: { authorization: `Bearer ${t.read}` } })).json();
  const report = await get('/v1/discovery/apps?sort=blocked');
  assert.equal(report.rows[0].id, 'chatgpt');
  assert.deepEqual([report.rows[0].blocked, report.rows[0].devices, report.rows[0].bytes], [3, 2, 0]);
  const devices = await get('/v1/discovery/apps/chatgpt/devices');
  assert.deepEqual(devices.rows.map((r: { key: string; blocked: number }) => [r.key, r.blocked]).sort(), [['mac:02:00:00:00:00:21', 2], ['mac:02:00:00:00:00:22', 1]]);
  const events = (await t.events()).filter((e) => e.class_uid === 4001 && e.disposition_id === 2);
  assert.equal(events.length, 3, 'the verdict events reach the outputs');
  const metrics = (await t.daemon.api.inject({ url: '/metrics', headers: { authorization: `Bearer ${t.read}` } })).body;
  assert.match(metrics, /^outpost_control_verdicts_blocked(_total)? 3$/m);
  assert.match(metrics, /^outpost_control_verdict_events(_total)? 3$/m);
  assert.match(metrics, /^outpost_discovery_events_blocked(_total)? 3$/m);

  if (!existsSync(CHROMIUM)) { ctx.diagnostic(`no Chromium at ${CHROMIUM}: page part skipped`); return; }
  await t.daemon.api.listen({ host: '127.0.0.1', port: 0 }).catch(() => undefined);
  const port = (t.daemon.api.server.address() as AddressInfo).port;
  const { chromium } = await import('playwright-core');
  const profile = join(t.dir, 'chromium-profile');
  mkdirSync(profile);
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/v1/discovery/ui/`);
    await page.fill('#token', t.read);
    await page.click('#filters button[type="submit"]');
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    assert.equal(await page.textContent('tr[data-app-id="chatgpt"] td.blocked'), '3');
    await page.click('tr[data-app-id="chatgpt"]');
    await page.waitForFunction("document.querySelectorAll('#devices tbody tr').length === 2", undefined, { timeout: 10_000 });
    const shown = await page.$$eval('#devices tbody tr', (trs) => trs.map((tr) => tr.querySelector('td.blocked')?.textContent ?? ''));
    assert.deepEqual(shown.sort(), ['1', '2']);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
