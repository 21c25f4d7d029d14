/**
 * The verdict path for bench/bench-enforce.ts, run inside the gateway namespace: the daemon's
 * InlineService (addon + engine + the product's rules, backend auto: the nftables table, or the
 * iptables fallback where the kernel has no nf_tables queue expression) with a policy that allows
 * everything (every judged flow still costs its decision). Prints "ready <backend>" once the
 * rules are in; on each line read from stdin prints the counters as JSON; stops (rules removed)
 * at end of input.
 *
 *   node --import tsx bench/enforce-worker.ts <queue>
 */
import { createInterface } from 'node:readline';
import { InlineService } from '../src/control/inline/service.js';
import type { InlineConfig } from '../src/control/config.js';

const queue = Number(process.argv[2] ?? 3127);
const cfg: InlineConfig = {
  enabled: true, backend: 'auto', queueNumber: queue, tcpPorts: [80, 443, 5201], udpPorts: [443], dnsPorts: [53], dnsNxdomain: false,
  failClosed: false, maxPacketsPerFlow: 8, batchPackets: 64, maxQueueLength: 4096, resetServer: true,
};
const svc = new InlineService({
  cfg,
  policy: () => ({ decide: () => ({ verdict: 'allow', reason: 'default', ruleId: 'default' }) }),
  logger: { info: () => {}, error: (o, m) => console.error(m, o) },
});
await svc.start();
console.log(`ready ${svc.backend}`);
const rl = createInterface({ input: process.stdin });
// A line "latency" answers the user-space latency histogram's figures (and resets it).
rl.on('line', (l) => console.log(JSON.stringify(l.trim() === 'latency' ? svc.latency(true) : svc.counters())));
rl.on('close', () => { void svc.stop().then(() => process.exit(0)); });
