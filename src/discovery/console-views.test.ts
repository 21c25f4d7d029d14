/**
 * What the console reads from discovery besides the report: traffic over time per app and per
 * category (series), the apps of each device and user (usage), and the CSV export's cells, which
 * a spreadsheet must not run as formulas (OWASP "CSV injection": a cell starting with = + - @,
 * tab or carriage return).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Discovery, appsToCsv, csvCell, type AppRow } from './discovery.js';

const HOUR = 3_600_000;

function flowEnd(t: number, host: string, mac: string, user: string | undefined, up: number, down: number): Record<string, unknown> {
  return {
    class_uid: 4001, activity_id: 2, time: t,
    src_endpoint: { ip: '10.1.0.5', mac }, dst_endpoint: { hostname: host, ip: '198.51.100.7', port: 443 },
    connection_info: { uid: `f${t}${mac}`, direction_id: 2 },
    traffic: { bytes_out: up, bytes_in: down },
    ...(user !== undefined ? { actor: { user: { name: user } } } : {}),
  };
}

test('series: bytes per hour per app and per category, the top ones and the rest as other, summing to the report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-series-'));
  const t0 = Math.floor(Date.UTC(2026, 0, 5, 9) / HOUR) * HOUR;
  const d = new Discovery({ dataDir: dir, now: () => t0 + 3 * HOUR });
  await d.open();
  try {
    // Hour 0: Dropbox and Slack; hour 2: Dropbox, Box, WeTransfer, an unknown site.
    d.observe(flowEnd(t0 + 60_000, 'content.dropboxapi.com', '02:00:00:00:00:01', 'alice', 5000, 100));
    d.observe(flowEnd(t0 + 120_000, 'files.slack.com', '02:00:00:00:00:02', 'bob', 3000, 200));
    d.observe(flowEnd(t0 + 2 * HOUR + 5, 'content.dropboxapi.com', '02:00:00:00:00:02', 'bob', 7000, 300));
    d.observe(flowEnd(t0 + 2 * HOUR + 6, 'upload.box.com', '02:00:00:00:00:01', 'alice', 900, 10));
    d.observe(flowEnd(t0 + 2 * HOUR + 7, 'wetransfer.com', '02:00:00:00:00:01', undefined, 800, 20));
    d.observe(flowEnd(t0 + 2 * HOUR + 8, 'www.lab-unknown.co.uk', '02:00:00:00:00:03', undefined, 50, 5));
    const range = { fromMs: t0, toMs: t0 + 3 * HOUR };
    const rep = await d.report(range);
    const total = rep.totals.bytesUp + rep.totals.bytesDown;

    const byApp = await d.series('app', 3, range.fromMs, range.toMs);
    assert.equal(byApp.bucketMs, HOUR);
    assert.deepEqual(byApp.buckets, [t0, t0 + HOUR, t0 + 2 * HOUR]);
    assert.deepEqual(byApp.series.map((s) => s.key), ['dropbox', 'slack', 'box', 'other']);
    const dropbox = byApp.series[0]!;
    assert.deepEqual({ up: dropbox.bytesUp, down: dropbox.bytesDown, bytes: dropbox.bytes, name: dropbox.name }, { up: [5000, 0, 7000], down: [100, 0, 300], bytes: 12_400, name: 'Dropbox' });
    const other = byApp.series[3]!;
    assert.deepEqual({ others: other.others, up: other.bytesUp, bytes: other.bytes }, { others: 2, up: [0, 0, 850], bytes: 875 });
    assert.equal(byApp.series.reduce((n, s) => n + s.bytes, 0), total, 'every byte of the report is on the chart');
    for (const s of byApp.series) assert.equal(s.bytesUp.reduce((a, b) => a + b, 0) + s.bytesDown.reduce((a, b) => a + b, 0), s.bytes, `${s.key}: points sum to its total`);

    const byCategory = await d.series('category', 10, range.fromMs, range.toMs);
    const cats = Object.fromEntries(byCategory.series.map((s) => [s.key, s.bytes]));
    const expected: Record<string, number> = {};
    for (const r of rep.rows) expected[r.category] = (expected[r.category] ?? 0) + r.bytes;
    assert.deepEqual(cats, expected, 'per category: the sum of its apps');
    assert.ok(!byCategory.series.some((s) => s.key === 'other'), 'no other line when every category fits');

    // Usage: per device and per user, the apps used; the same bytes as the drill-down.
    const devices = await d.usage('devices', { ...range, topApps: 2, limit: 10 });
    assert.deepEqual(devices.rows.map((r) => [r.key, r.appCount, r.apps.map((a) => a.id)]), [
      ['mac:02:00:00:00:00:02', 2, ['dropbox', 'slack']],
      ['mac:02:00:00:00:00:01', 3, ['dropbox', 'box']],
      ['mac:02:00:00:00:00:03', 1, ['unclassified:lab-unknown.co.uk']],
    ]);
    const dropboxDevices = await d.drillDown('dropbox', 'devices', range.fromMs, range.toMs);
    for (const row of dropboxDevices.rows) {
      const u = devices.rows.find((r) => r.key === row.key)!.apps.find((a) => a.id === 'dropbox')!;
      assert.equal(u.bytesUp, row.bytesUp, `${row.key}: usage and drill-down agree`);
    }
    const one = await d.usage('users', { ...range, key: 'alice', topApps: 10, limit: 10 });
    assert.deepEqual(one.rows.map((r) => [r.key, r.bytesUp, r.apps.map((a) => a.id)]), [['alice', 5900, ['dropbox', 'box']]]);
    const users = await d.usage('users', { ...range, topApps: 10, limit: 1 });
    assert.deepEqual([users.total, users.rows.length], [2, 1], 'limit bounds the rows, total counts them all');
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV cells a spreadsheet would run as a formula are neutralised; numbers and plain text are not', () => {
  // A leading = + - @ starts a formula in Excel, LibreOffice and Google Sheets; tab and CR are
  // stripped by some of them, exposing what follows.
  for (const [cell, out] of [
    ['=HYPERLINK("http://evil.example","x")', '"\'=HYPERLINK(""http://evil.example"",""x"")"'],
    ['+cmd|\' /C calc\'!A0', "'+cmd|' /C calc'!A0"],
    ['-2+3+cmd|\' /C calc\'!A0', "'-2+3+cmd|' /C calc'!A0"],
    ['@SUM(1+1)', "'@SUM(1+1)"],
    ['\t=1+1', "'\t=1+1"],
    ['\r=1+1', '"\'\r=1+1"'],
    ['-12', '-12'],
    ['-0.5', '-0.5'],
    ['slack.com', 'slack.com'],
    ['a, b', '"a, b"'],
    ['', ''],
  ] as const) assert.equal(csvCell(cell), out, JSON.stringify(cell));
  assert.equal(csvCell(null), '');
  assert.equal(csvCell(42), '42');

  // Through the export: a host name from traffic that looks like a formula.
  const row: AppRow = {
    id: 'unclassified:=cmd.example', name: '=cmd|\'/C calc\'!A0', vendor: null, category: 'unclassified', riskScore: null, sanction: 'monitored',
    unclassified: true, system: false, bytesUp: 1, bytesDown: 2, bytes: 3, flows: 1, blocked: 0, users: 0, devices: 1, ips: 1, firstSeen: 0, lastSeen: 0,
  };
  const line = appsToCsv([row]).split('\r\n')[1]!;
  assert.ok(line.startsWith("unclassified:=cmd.example,'=cmd|'/C calc'!A0,,unclassified,,monitored,true,1,2,3,"), line);
});
