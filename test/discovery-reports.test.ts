/**
 * Discovery reports beyond one page: the CSV export holds every row (more apps than
 * reportMaxPageSize), an app's drill-down finds a small app outside the top rows, the risk
 * filters, and the scheduled summary as an OCSF event.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Discovery } from '../src/discovery/discovery.js';
import { discoveryRoutes } from '../src/discovery/routes.js';
import { loadOcsfSchema } from './support/ocsf-schema.js';

const schemaDir = process.env.OUTPOST_OCSF_DIR ?? resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');

/** A Network Activity Close event as src/events/network-activity.ts builds it (the fields discovery reads). */
function flow(host: string, up: number, down: number, time: number, mac = '02:00:00:00:00:10'): Record<string, unknown> {
  return {
    activity_id: 2, class_uid: 4001, time,
    src_endpoint: { ip: '192.168.1.10', port: 50000, mac },
    dst_endpoint: { ip: '203.0.113.5', port: 443, hostname: host },
    connection_info: { uid: `f-${host}-${time}`, direction_id: 2 },
    traffic: { bytes_out: up, bytes_in: down },
    unmapped: { hostname_source: 'sni' },
  };
}

async function withDiscovery(fn: (d: Discovery, app: FastifyInstance) => Promise<void>, options: { now?: () => number } = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-rep-'));
  const d = new Discovery({ dataDir: dir, ...options });
  const app = Fastify();
  try {
    await d.open();
    await app.register(discoveryRoutes, { discovery: d, prefix: '/v1' });
    await fn(d, app);
  } finally {
    await app.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 600 unclassified apps (more than the default reportMaxPageSize of 500) with distinct upload. */
function feed600(d: Discovery, time: number): void {
  for (let i = 0; i < 600; i++) d.observe(flow(`www.lab-app-${String(i).padStart(3, '0')}.com`, 1000 + i, 10, time));
}

test('CSV export: every row of the report, past reportMaxPageSize, for the chosen filters', async () => {
  await withDiscovery(async (d, app) => {
    const now = Date.now();
    feed600(d, now - 60_000);
    const range = `from=${now - 3_600_000}&to=${now}`;
    const json = (await app.inject({ url: `/v1/discovery/apps?${range}&limit=10000` })).json();
    assert.equal(json.total, 600);
    assert.equal(json.rows.length, 500, 'the JSON page stays capped');

    // As the route is called without a limit, and as the page's CSV link used to call it (limit=10000).
    for (const extra of ['', '&limit=10000', '&sort=name&order=asc']) {
      const res = await app.inject({ url: `/v1/discovery/apps.csv?${range}${extra}` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
      assert.equal(res.headers['x-total-count'], '600');
      const lines = res.body.trim().split('\r\n');
      assert.equal(lines.length, 601, `header + 600 rows (${extra || 'no limit'})`);
      assert.equal(new Set(lines.slice(1).map((l) => l.split(',')[0])).size, 600);
    }
    // Sorted as asked: by upload, largest first.
    const byUp = (await app.inject({ url: `/v1/discovery/apps.csv?${range}&sort=bytesUp` })).body.trim().split('\r\n');
    assert.equal(byUp[1]!.split(',')[0], 'unclassified:lab-app-599.com');
    assert.equal(byUp[600]!.split(',')[0], 'unclassified:lab-app-000.com');
    // Filters apply; an explicit page still works.
    const q = (await app.inject({ url: `/v1/discovery/apps.csv?${range}&q=lab-app-1` })).body.trim().split('\r\n');
    assert.equal(q.length, 101);
    const page = (await app.inject({ url: `/v1/discovery/apps.csv?${range}&sort=bytesUp&offset=590&limit=20` })).body.trim().split('\r\n');
    assert.equal(page.length, 11);
    // The page's CSV link asks for no limit (every row).
    const js = (await app.inject({ url: '/v1/discovery/ui/app.js' })).body;
    assert.doesNotMatch(js, /apps\.csv[^\n]*limit: 10000/);
  });
});

test('GET /apps/:id: a small unclassified app outside the top 500 has its figures', async () => {
  await withDiscovery(async (d, app) => {
    const now = Date.now();
    feed600(d, now - 60_000);
    d.observe(flow('tiny.small-lab-app.com', 3, 4, now - 30_000));
    const range = `from=${now - 3_600_000}&to=${now}`;
    const res = await app.inject({ url: `/v1/discovery/apps/unclassified:small-lab-app.com?${range}` });
    assert.equal(res.statusCode, 200, res.body);
    const figures = res.json().figures;
    assert.equal(figures.id, 'unclassified:small-lab-app.com');
    assert.equal(figures.bytesUp, 3);
    assert.equal(figures.bytesDown, 4);
    assert.equal(figures.flows, 1);
    assert.equal(figures.devices, 1);
    const devices = (await app.inject({ url: `/v1/discovery/apps/unclassified:small-lab-app.com/devices?${range}` })).json();
    assert.equal(devices.app.bytesUp, 3);
    assert.equal((await app.inject({ url: `/v1/discovery/apps/unclassified:never-seen.com?${range}` })).statusCode, 404);
  });
});

test('report filters minRisk / maxRisk: bounds inclusive, unscored (unclassified) apps excluded by either', async () => {
  await withDiscovery(async (d, app) => {
    const now = Date.now();
    const hosts = ['slack.com', 'www.dropbox.com', 'chatgpt.com', 'github.com', 'www.lab-unscored.com', 'www.google.com'];
    for (const h of hosts) d.observe(flow(h, 100, 1, now - 1000));
    const rep = await d.report({ fromMs: now - 3_600_000, toMs: now, limit: 100 });
    const scores = new Map(rep.rows.map((r) => [r.id, r.riskScore]));
    const scored = [...scores].filter(([, s]) => s !== null) as Array<[string, number]>;
    assert.ok(new Set(scored.map(([, s]) => s)).size >= 2, `the fixture needs different scores: ${JSON.stringify(scored)}`);
    const mid = scored.map(([, s]) => s).sort((a, b) => a - b)[1]!;
    const ids = async (qs: string) => ((await app.inject({ url: `/v1/discovery/apps?from=${now - 3_600_000}&to=${now}&${qs}` })).json().rows as Array<{ id: string }>).map((r) => r.id).sort();
    assert.deepEqual(await ids(`minRisk=${mid}`), scored.filter(([, s]) => s >= mid).map(([id]) => id).sort());
    assert.deepEqual(await ids(`maxRisk=${mid}`), scored.filter(([, s]) => s <= mid).map(([id]) => id).sort());
    assert.deepEqual(await ids(`minRisk=${mid}&maxRisk=${mid}`), scored.filter(([, s]) => s === mid).map(([id]) => id).sort());
    assert.deepEqual(await ids('minRisk=0&maxRisk=10'), scored.map(([id]) => id).sort(), 'unscored apps are not in a risk range');
    assert.deepEqual(await ids('minRisk=10.0&maxRisk=0'), []);
    // Malformed bounds are refused, naming the field.
    for (const bad of ['minRisk=11', 'maxRisk=-1', 'minRisk=high']) {
      const res = await app.inject({ url: `/v1/discovery/apps?${bad}` });
      assert.equal(res.statusCode, 400, bad);
      assert.match(res.body, new RegExp(bad.split('=')[0]!), bad);
    }
  });
});

test('reports job: one OCSF Base Event with the per-app totals of the last day; validates against OCSF 1.8.0', async (t) => {
  const now = Date.UTC(2025, 5, 10, 12, 30, 0);
  await withDiscovery(async (d) => {
    await d.setSanction('dropbox', 'unsanctioned', 'test');
    const expected = new Map<string, { up: number; down: number; flows: number; devices: Set<string> }>();
    const feed = (host: string, id: string, up: number, down: number, time: number, mac: string, counted: boolean) => {
      const ev = flow(host, up, down, time, mac);
      d.enricher(ev);
      d.observe(ev);
      if (!counted) return;
      const e = expected.get(id) ?? { up: 0, down: 0, flows: 0, devices: new Set<string>() };
      e.up += up; e.down += down; e.flows++; e.devices.add(mac);
      expected.set(id, e);
    };
    feed('files.slack.com', 'slack', 500, 50, now - 3_600_000, '02:00:00:00:00:01', true);
    feed('slack.com', 'slack', 700, 70, now - 7_200_000, '02:00:00:00:00:02', true);
    feed('www.dropbox.com', 'dropbox', 9000, 10, now - 600_000, '02:00:00:00:00:01', true);
    feed('www.lab-summary.com', 'unclassified:lab-summary.com', 30, 3, now - 60_000, '02:00:00:00:00:03', true);
    // Two days ago: outside the summary's period.
    feed('slack.com', 'slack', 1_000_000, 1, now - 2 * 86_400_000, '02:00:00:00:00:04', false);

    const hooks = new Map<string, () => unknown>();
    const emitted: object[] = [];
    d.registerJobs({ addHook: (job, name, fn) => { assert.equal(name, 'discovery'); hooks.set(job, fn); } }, (e) => emitted.push(e));
    assert.deepEqual([...hooks.keys()].sort(), ['catalog.reload', 'reports', 'retention']);
    await hooks.get('reports')!();
    assert.equal(emitted.length, 1);
    const ev = emitted[0] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(ev.class_uid, 0);
    assert.equal(ev.category_uid, 0);
    assert.equal(ev.activity_id, 99);
    assert.equal(ev.type_uid, 99);
    assert.equal(ev.time, now);
    assert.ok(ev.start_time <= now - 86_400_000 && ev.end_time >= now, 'the period covers the last day');
    assert.equal(ev.metadata.log_name, 'discovery_summary');
    assert.equal(ev.metadata.version, '1.8.0');
    assert.equal(typeof ev.message, 'string');
    const s = ev.unmapped.discovery_summary;
    assert.equal(s.apps, expected.size);
    assert.deepEqual(s.top_upload.map((r: { id: string }) => r.id), ['dropbox', 'slack', 'unclassified:lab-summary.com']);
    for (const r of s.top_upload) {
      const e = expected.get(r.id)!;
      assert.equal(r.bytes_up, e.up, `${r.id} up`);
      assert.equal(r.bytes_down, e.down, `${r.id} down`);
      assert.equal(r.flows, e.flows, `${r.id} flows`);
      assert.equal(r.devices, e.devices.size, `${r.id} devices`);
    }
    assert.equal(s.totals.bytes_up, [...expected.values()].reduce((n, e) => n + e.up, 0));
    assert.equal(s.totals.flows, 4);
    assert.equal(s.unsanctioned_apps, 1);
    assert.deepEqual(s.unsanctioned.map((r: { id: string }) => r.id), ['dropbox']);
    if (!existsSync(schemaDir)) { t.diagnostic(`OCSF schema absent at ${schemaDir}: validation skipped`); return; }
    assert.deepEqual(loadOcsfSchema(schemaDir).validate(ev), []);
  }, { now: () => now });
});
