/**
 * An Android phone's background traffic is not "Google Cloud" or "Google Search": the nDPI
 * corpus's android.pcap through `outpost replay android.pcap --emit network --with
 * devices,discovery` (the command, with `discovery.defaultSanction: unsanctioned`), every named
 * flow checked against the app it must get; then the same events rolled up by a Discovery, whose
 * reports and daily summary keep the system-traffic apps out of the unsanctioned lists
 * (docs/DISCOVERY.md, "System traffic").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Discovery } from '../src/discovery/discovery.js';

const corpus = process.env.OUTPOST_NDPI_CORPUS ?? resolve(process.cwd(), '../shared/corpus/ndpi');
const pcap = join(corpus, 'pcap', 'android.pcap');
const missing = existsSync(pcap) ? false : `nDPI corpus capture absent at ${pcap} (../shared is not mounted): skipped`;

/** Every host the capture names in an outbound flow, and the app it must get. */
const EXPECTED: ReadonlyMap<string, string> = new Map([
  // Android / Google Play services / Chrome background traffic: the system entry.
  ['play.googleapis.com', 'google-system-services'],
  ['android.googleapis.com', 'google-system-services'],
  ['android.clients.google.com', 'google-system-services'],
  ['mtalk.google.com', 'google-system-services'],
  ['clients1.google.com', 'google-system-services'],
  ['connectivitycheck.gstatic.com', 'google-system-services'],
  ['time.android.com', 'google-system-services'],
  ['datasaver.googleapis.com', 'google-system-services'],
  ['check.googlezip.net', 'google-system-services'],
  ['proxy.googlezip.net', 'google-system-services'],
  ['captive.apple.com', 'apple-system-services'],
  // What the user (or an app) did.
  ['www.google.com', 'google-search'],
  ['accounts.google.com', 'google-account'],
  // Unknown Google API and an in-app analytics SDK: unclassified, each on its own.
  ['semanticlocation-pa.googleapis.com', 'unclassified:semanticlocation-pa.googleapis.com'],
  ['app-measurement.com', 'unclassified:app-measurement.com'],
]);
const SYSTEM = new Set([...EXPECTED].filter(([, id]) => id.endsWith('-system-services')).map(([h]) => h));

type Ev = Record<string, any>;

test('android.pcap: system traffic gets the system entries, never Google Cloud or Google Search, and is not shadow IT', { skip: missing }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-android-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'outpost.yaml');
  writeFileSync(config, 'discovery:\n  defaultSanction: unsanctioned\n');
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'replay', pcap, '--emit', 'network', '--with', 'devices,discovery', '--config', config], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, run.stderr);
  const events = run.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Ev);
  // The capture is from 2020: the summary's "last day" must be the capture's day.
  const capturedAt = 1582454872047;
  const discovery = new Discovery({ dataDir: join(dir, 'data'), config: { defaultSanction: 'unsanctioned' }, now: () => capturedAt + 3_600_000 });
  await discovery.open();
  try {
    // Rollups of the replayed events (observe() takes the app the command named).
    for (const e of events) discovery.observe(e);
    const named = events.filter((e) => e.class_uid === 4001 && e.unmapped?.cloud_app !== undefined);
    const seen = new Map<string, Set<string>>();
    for (const e of named) {
      const host = e.dst_endpoint.hostname as string;
      let s = seen.get(host);
      if (s === undefined) seen.set(host, (s = new Set()));
      s.add(e.unmapped.cloud_app.id as string);
    }
    // Exactly the hosts listed, each with exactly its app (a new host in the capture fails here).
    assert.deepEqual([...seen.keys()].sort(), [...EXPECTED.keys()].sort());
    for (const [host, ids] of seen) assert.deepEqual([...ids], [EXPECTED.get(host)], host);
    assert.equal(named.filter((e) => e.app_name === 'Google Cloud').length, 0, 'no flow is Google Cloud');
    const sys = named.filter((e) => SYSTEM.has(e.dst_endpoint.hostname));
    assert.equal(sys.length, 19, 'system-traffic events in the capture (replay output, one per line)');
    for (const e of sys) {
      assert.notEqual(e.app_name, 'Google Search', e.dst_endpoint.hostname);
      assert.equal(e.unmapped.cloud_app.category, 'os-services');
      assert.equal(e.unmapped.cloud_app.system, true);
      assert.equal(e.unmapped.cloud_app.sanction, 'monitored', 'defaultSanction unsanctioned does not apply to system traffic');
      assert.equal(e.unmapped.cloud_app.unsanctioned, undefined);
    }
    const search = named.filter((e) => e.app_name === 'Google Search');
    assert.deepEqual([...new Set(search.map((e) => e.dst_endpoint.hostname))], ['www.google.com']);
    assert.equal(search[0]!.unmapped.cloud_app.sanction, 'unsanctioned');

    // Reports: the system apps are rows (their bytes count), marked, and not unsanctioned.
    const rep = await discovery.report({ fromMs: capturedAt - 86_400_000, toMs: capturedAt + 3_600_000 });
    const row = (id: string) => rep.rows.find((r) => r.id === id);
    assert.equal(row('google-system-services')?.system, true);
    assert.equal(row('google-system-services')?.sanction, 'monitored');
    assert.equal(row('apple-system-services')?.system, true);
    assert.equal(row('google-search')?.system, false);
    assert.equal(row('google-cloud'), undefined);
    const unsanctioned = await discovery.report({ fromMs: capturedAt - 86_400_000, toMs: capturedAt + 3_600_000, sanction: 'unsanctioned' });
    assert.deepEqual(unsanctioned.rows.map((r) => r.id).sort(), ['google-account', 'google-search', 'unclassified:app-measurement.com', 'unclassified:semanticlocation-pa.googleapis.com']);
    const s = (await discovery.summary()).unmapped as Ev;
    const sum = s.discovery_summary as Ev;
    assert.equal(sum.unsanctioned_apps, 4);
    assert.ok(!(sum.unsanctioned as Ev[]).some((r) => r.id.endsWith('-system-services')));
    assert.equal(sum.system_apps, 2);
    const sysRows = rep.rows.filter((r) => r.system);
    assert.equal(sum.system_totals.bytes_up, sysRows.reduce((n, r) => n + r.bytesUp, 0));
    assert.ok(sum.system_totals.bytes_up > 0);
    // An administrator's explicit state still applies to a system app.
    await discovery.setSanction('google-system-services', 'unsanctioned', 'test');
    assert.equal(discovery.sanctionOf('google-system-services'), 'unsanctioned');
  } finally {
    await discovery.close();
  }
});
