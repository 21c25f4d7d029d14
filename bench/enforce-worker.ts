/**
 * The verdict path for bench/bench-enforce.ts, run inside the gateway namespace: the daemon's
 * InlineService (addon + engine + the product's rules, backend auto: the nftables table, or the
 * iptables fallback where the kernel has no nf_tables queue expression) with a policy that allows
 * everything (every judged flow still costs its decision). Prints "ready <backend>" once the
 * rules are in; on each line read from stdin prints the counters as JSON; stops (rules removed)
 * at end of input.
 *
 *   node --import tsx bench/enforce-worker.ts <queue> [readerRealtimePriority [verdictRealtimePriority [verdictBoostPriority [verdictBoostBudgetMsPerSecond [verdictBoostHoldMs]]]]]
 */
import { createInterface } from 'node:readline';
import { PerformanceObserver } from 'node:perf_hooks';
import { built } from './bench-common.js';
import type { InlineConfig } from '../src/control/config.js';

// The built verdict path (dist/), the code that ships: `npm run build` first.
const { InlineService } = await built<typeof import('../src/control/inline/service.js')>('control/inline/service.js');
const queue = Number(process.argv[2] ?? 3127);
const readerRealtimePriority = Number(process.argv[3] ?? 1);
const verdictRealtimePriority = Number(process.argv[4] ?? 0);
const verdictBoostPriority = Number(process.argv[5] ?? 1);
const verdictBoostBudgetMsPerSecond = Number(process.argv[6] ?? 500);
const verdictBoostHoldMs = Number(process.argv[7] ?? 2);
const cfg: InlineConfig = {
  enabled: true, backend: 'auto', queueNumber: queue, tcpPorts: [80, 443, 5201], udpPorts: [443], dnsPorts: [53], dnsNxdomain: false,
  failClosed: false, maxPacketsPerFlow: 8, batchPackets: 64, maxQueueLength: 4096, resetServer: true, readerRealtimePriority, verdictBoostPriority, verdictBoostBudgetMsPerSecond, verdictBoostHoldMs, verdictRealtimePriority,
};
const svc = new InlineService({
  cfg,
  policy: () => ({ decide: () => ({ verdict: 'allow', reason: 'default', ruleId: 'default' }) }),
  logger: { info: () => {}, error: (o, m) => console.error(m, o) },
});
await svc.start();
console.log(`ready ${svc.backend}`);
// Garbage-collection pauses of this process (the verdict path's JavaScript thread stops for them).
let gc = { count: 0, totalMs: 0, maxMs: 0, over1Ms: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) { gc.count++; gc.totalMs += e.duration; gc.maxMs = Math.max(gc.maxMs, e.duration); if (e.duration > 1) gc.over1Ms++; }
}).observe({ entryTypes: ['gc'] });
const rl = createInterface({ input: process.stdin });
// A line "latency" answers the user-space latency histogram's figures and the GC pauses since
// the last such line (and resets both).
rl.on('line', (l) => {
  if (l.trim() !== 'latency') { console.log(JSON.stringify(svc.counters())); return; }
  console.log(JSON.stringify({ ...svc.latency(true), gc }));
  gc = { count: 0, totalMs: 0, maxMs: 0, over1Ms: 0 };
});
rl.on('close', () => { void svc.stop().then(() => process.exit(0)); });
