/**
 * Child process for the kill -9 fault test (test/forward-fault.test.ts, scripts/forward-fault.sh):
 * produces events ev-<i> for i = outbox head .. total-1 into a forwarding outbox with one HTTPS
 * sink, then waits until the sink has sent everything and exits 0. Killed at random moments, it is
 * restarted and continues from the outbox's head (the last committed event), so every committed
 * event must eventually reach the receiver.
 *
 * usage: forward-fault-child DATA_DIR URL CA_FILE TOTAL [SYNC]
 */
import { createForwarding } from '../src/forward/index.js';
import { resolveForwardConfig, type OutboxSyncMode } from '../src/forward/config.js';
import { sampleEvent } from '../test/support/sample-event.js';

const [dataDir, url, caFile, totalArg, sync] = process.argv.slice(2);
if (!dataDir || !url || !caFile || !totalArg) {
  process.stderr.write('usage: forward-fault-child DATA_DIR URL CA_FILE TOTAL [SYNC]\n');
  process.exit(2);
}
const total = Number(totalArg);
const log = { info() {}, warn() {}, error(o: object, m: string) { process.stderr.write(`${m} ${JSON.stringify(o)}\n`); } };
const fw = createForwarding(
  resolveForwardConfig({
    outboxSync: (sync ?? 'fsync') as OutboxSyncMode,
    https: [{ name: 'fault', url, tlsCaFile: caFile, batchMaxEvents: 500, retryInitialMs: 20, retryMaxMs: 200 }],
  }),
  log,
  dataDir,
);
const ac = new AbortController();
for (const s of fw.services) await s.start(ac.signal);
let next = fw.outbox.headSeq; // events ev-0 .. ev-(head-1) are committed
process.stdout.write(`ready ${next}\n`);
const PER_TICK = 200;
await new Promise<void>((resolve) => {
  const tick = () => {
    for (let k = 0; k < PER_TICK && next < total; k++) fw.sink(sampleEvent(next++));
    if (next < total) setTimeout(tick, 5);
    else resolve();
  };
  tick();
});
await fw.outbox.flush();
while ((fw.status().sinks[0]!['lag_events'] as number) > 0) await new Promise((r) => setTimeout(r, 20));
ac.abort();
for (const s of [...fw.services].reverse()) await s.stop();
process.stdout.write(`done ${next}\n`);
