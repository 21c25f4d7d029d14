/**
 * `node --import tsx bench/bench-policy.ts [--count N --runs R]`: verdicts per second of the
 * control policy (ControlPolicy.decide, the question the inline path asks once per new flow) and
 * the time to build each block list, over the shipped catalog opened by a real Discovery, with a
 * policy of 1,000 domain rules, 50 category and risk rules, 1,000 exceptions, 1,000 live
 * overrides and 20 groups, and clients known to a real DeviceIdentity (2,000 devices with users).
 *
 * Names: catalog domains with random subdomains, unknown names, names under domain rules. Each
 * decision is timed alone (hrtime) for p50/p99; decisions/s is over the whole run. Uses the built
 * code (dist/, `npm run build` first). Prints a table and JSON (test-output/bench-policy.json).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { built, PROJECT_ROOT, formatTable, machineInfo, median } from './bench-common.js';
import { mulberry32 } from '../test/support/prng.js';

const { Discovery } = await built<typeof import('../src/discovery/discovery.js')>('discovery/discovery.js');
const { DeviceStore } = await built<typeof import('../src/devices/store.js')>('devices/store.js');
const { DeviceIdentity } = await built<typeof import('../src/devices/identity.js')>('devices/identity.js');
const { createPolicy } = await built<typeof import('../src/control/policy-area.js')>('control/policy-area.js');
const { renderBlocklist, BlocklistCounters, BLOCKLIST_FORMATS } = await built<typeof import('../src/control/blocklist.js')>('control/blocklist.js');

const { values } = parseArgs({ options: { count: { type: 'string', default: '200000' }, runs: { type: 'string', default: '3' } } });
const count = Number(values.count);
const runs = Number(values.runs);
if (!Number.isInteger(count) || count < 1000 || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: bench-policy [--count N (>= 1000)] [--runs R]');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-policy-'));
const rnd = mulberry32(18);
const discovery = new Discovery({ dataDir: dir, config: { flushIntervalMs: 600_000 } });
await discovery.open();
const apps = discovery.apps();
for (let i = 0; i < apps.length; i += 7) await discovery.setSanction(apps[i]!.id, 'unsanctioned', 'bench');
const identity = new DeviceIdentity({ store: new DeviceStore() });
const now = Date.now();
const clients: string[] = [];
for (let i = 0; i < 2000; i++) {
  const ip = `10.${(i >> 8) & 255}.${i & 255}.${1 + (i % 200)}`;
  const mac = `02:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
  identity.applyAgentReport({ agentId: `a${i}`, hostname: `host${i}`, macs: [mac], addresses: [ip], users: [{ name: `user${i}`, domain: 'CORP' }] }, now - 60_000);
  clients.push(ip);
}
const parts = await createPolicy({ dataDir: dir, discovery, identity: identity, now: () => now });
const admin = { name: 'bench' };
const categories = ['file-sharing', 'generative-ai', 'social-media', 'gaming', 'streaming-media'];
for (let i = 0; i < 1000; i++) await parts.store.putRule({ match: { domain: `blocked${i}.example.net` }, action: i % 10 === 0 ? 'allow' : 'block' }, admin);
for (let i = 0; i < 25; i++) await parts.store.putRule({ match: { category: categories[i % categories.length]! }, action: 'block' }, admin);
for (let i = 0; i < 25; i++) await parts.store.putRule({ match: { minRiskScore: 5 + i / 10 }, action: 'block' }, admin);
for (let g = 0; g < 20; g++) await parts.store.putGroup(`g${g}`, { users: Array.from({ length: 50 }, (_, k) => `user${g * 50 + k}`) }, admin);
for (let i = 0; i < 1000; i++) await parts.store.putException({ subject: i % 2 ? { user: `user${i}` } : { group: `g${i % 20}` }, scope: { app: apps[i % apps.length]!.id } }, admin);
for (let i = 0; i < 1000; i++) await parts.store.addOverride({ subject: { user: `user${(i * 7) % 2000}` }, app: apps[(i * 13) % apps.length]!.id, durationMs: 3_600_000, reason: 'bench' }, admin);

const names: string[] = [];
for (let i = 0; i < 10_000; i++) {
  const r = rnd();
  if (r < 0.7) { const a = apps[Math.floor(rnd() * apps.length)]!; names.push(`x${Math.floor(rnd() * 1000)}.${a.domains[Math.floor(rnd() * a.domains.length)]}`); }
  else if (r < 0.85) names.push(`n${Math.floor(rnd() * 1e6)}.unknown-${Math.floor(rnd() * 5000)}.com`);
  else names.push(`www.blocked${Math.floor(rnd() * 1000)}.example.net`);
}

const HEADER = ['what', 'per second (median)', 'p50 µs', 'p99 µs', 'note'] as const;
const rows: string[][] = [];
const results: Record<string, unknown> = {};
const rates: number[] = [];
let p50 = 0, p99 = 0, blocked = 0;
for (let run = 0; run < runs; run++) {
  const lat = new Float64Array(count);
  blocked = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const s = process.hrtime.bigint();
    const d = parts.policy.decide({ name: names[i % names.length]!, nameSource: 'tls-sni', clientIp: clients[i % clients.length]!, nowMs: now });
    lat[i] = Number(process.hrtime.bigint() - s);
    if (d.verdict === 'block') blocked++;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  rates.push(count / secs);
  lat.sort();
  p50 = lat[Math.floor(count * 0.5)]! / 1000;
  p99 = lat[Math.floor(count * 0.99)]! / 1000;
}
rows.push(['decide (per new flow)', String(Math.round(median(rates))), p50.toFixed(2), p99.toFixed(2), `${(100 * blocked / count).toFixed(1)} % blocked`]);
results.decide = { count, runs, perSecondMedian: median(rates), perSecond: rates, p50Us: p50, p99Us: p99, blockedShare: blocked / count };

const entries = parts.blocklistEntries();
for (const format of BLOCKLIST_FORMATS) {
  const times: number[] = [];
  let bytes = 0;
  for (let run = 0; run < runs; run++) {
    const t0 = process.hrtime.bigint();
    const list = renderBlocklist(format, { entries: parts.blocklistEntries(), generatedMs: now, source: discovery.catalogVersion }, new BlocklistCounters());
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    bytes = list.length;
  }
  rows.push([`blocklist ${format} (candidates decided + rendered)`, '', '', '', `${median(times).toFixed(1)} ms, ${bytes} bytes`]);
  results[`blocklist_${format}`] = { ms: median(times), bytes, candidates: entries.length };
}

console.log(formatTable(HEADER, rows));
const out = join(PROJECT_ROOT, 'test-output');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench-policy.json'), JSON.stringify({ machine: machineInfo(), results }, null, 2));
await parts.store.close();
await discovery.close();
rmSync(dir, { recursive: true, force: true });
