/**
 * Child process for the kill -9 test of the Cloud Discovery log-upload sink
 * (test/forward-cloud-discovery-upload.test.ts): produces events ev-<i> for i = outbox head ..
 * total-1 into a forwarding outbox with one cloudDiscoveryUpload sink (files of FILE_EVENTS
 * events, schedule every second), waits until the sink has uploaded everything and exits 0.
 * Killed between the steps of an upload, it is restarted and continues from its outbox.
 *
 * usage: cloud-discovery-upload-child DATA_DIR API_URL CA_FILE TOKEN_FILE TOTAL FILE_EVENTS
 */
import { createForwarding } from '../src/forward/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';
import { sampleEvent } from '../test/support/sample-event.js';

const [dataDir, apiUrl, caFile, tokenFile, totalArg, fileEventsArg] = process.argv.slice(2);
if (!dataDir || !apiUrl || !caFile || !tokenFile || !totalArg || !fileEventsArg) {
  process.stderr.write('usage: cloud-discovery-upload-child DATA_DIR API_URL CA_FILE TOKEN_FILE TOTAL FILE_EVENTS\n');
  process.exit(2);
}
const total = Number(totalArg);
const log = { info() {}, warn() {}, error(o: object, m: string) { process.stderr.write(`${m} ${JSON.stringify(o)}\n`); } };
const fw = createForwarding(
  resolveForwardConfig({
    outboxSync: 'fsync',
    cloudDiscoveryUpload: [{
      name: 'mda', apiUrl, tlsCaFile: caFile, apiTokenFile: tokenFile, dataSourceName: 'outpost-lab',
      schedule: '* * * * * *', batchMaxEvents: Number(fileEventsArg), retryInitialMs: 20, retryMaxMs: 200,
    }],
  }),
  log,
  dataDir,
);
const ac = new AbortController();
for (const s of fw.services) await s.start(ac.signal);
let next = fw.outbox.headSeq;
process.stdout.write(`ready ${next}\n`);
while (next < total) {
  for (let k = 0; k < 100 && next < total; k++) fw.sink(sampleEvent(next++));
  await new Promise((r) => setTimeout(r, 5));
}
await fw.outbox.flush();
while ((fw.status().sinks[0]!['lag_events'] as number) > 0) await new Promise((r) => setTimeout(r, 20));
ac.abort();
for (const s of [...fw.services].reverse()) await s.stop();
process.stdout.write(`done ${next}\n`);
