/**
 * Child process for the crash-window test (test/forward-crash.test.ts): one outbox, an HTTPS sink
 * and a syslog TCP sink with 50-event batches. It produces COUNT events with uids r<RUN>-<i>,
 * prints `c <seq> <uid>` for every event once its commit completed (the outbox's onCommit, as the
 * daemon's stdout), then waits until both sinks have sent everything, prints `done` and exits 0.
 * The test kills it with SIGKILL at random moments and restarts it with the next RUN.
 *
 * usage: forward-crash-child DATA_DIR HTTPS_URL CA_FILE SYSLOG_PORT RUN COUNT
 */
import { writeSync } from 'node:fs';
import { createForwarding } from '../src/forward/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';
import { sampleEvent } from '../test/support/sample-event.js';

const [dataDir, url, caFile, syslogPort, run, countArg] = process.argv.slice(2);
if (!dataDir || !url || !caFile || !syslogPort || !run || !countArg) {
  process.stderr.write('usage: forward-crash-child DATA_DIR HTTPS_URL CA_FILE SYSLOG_PORT RUN COUNT\n');
  process.exit(2);
}
const count = Number(countArg);
const log = { info() {}, warn() {}, error(o: object, m: string) { process.stderr.write(`${m} ${JSON.stringify(o)}\n`); } };
const retry = { retryInitialMs: 20, retryMaxMs: 200, batchMaxEvents: 50 };
const fw = createForwarding(
  resolveForwardConfig({
    outboxSync: 'none', // survives kill -9 (the page cache is the kernel's)
    https: [{ name: 'https', url, tlsCaFile: caFile, ...retry }],
    syslog: [{ name: 'syslog', transport: 'tcp', host: '127.0.0.1', port: Number(syslogPort), ...retry }],
  }),
  log,
  dataDir,
);
// Synchronous writes: a line is on the pipe before the next commit is reported.
fw.outbox.onCommit((records) => {
  let s = '';
  for (const r of records) s += `c ${r.seq} ${r.uid}\n`;
  writeSync(1, s);
});
const ac = new AbortController();
for (const s of fw.services) await s.start(ac.signal);
writeSync(1, 'ready\n');
let next = 0;
await new Promise<void>((resolve) => {
  const tick = () => {
    for (let k = 0; k < 100 && next < count; k++) {
      const ev = sampleEvent(next);
      ev.metadata.uid = `r${run}-${String(next++).padStart(6, '0')}`;
      fw.sink(ev);
    }
    if (next < count) setTimeout(tick, 2);
    else resolve();
  };
  tick();
});
await fw.outbox.flush();
while (fw.status().sinks.some((s) => (s['lag_events'] as number) > 0)) await new Promise((r) => setTimeout(r, 20));
ac.abort();
for (const s of [...fw.services].reverse()) await s.stop();
writeSync(1, `done ${JSON.stringify(fw.outbox.counters)}\n`);
