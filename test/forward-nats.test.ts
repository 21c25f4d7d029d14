import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { createForwarding } from '../src/forward/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';
import { startNatsServer, waitFor, which, type NatsServer } from './support/receivers.js';
import { sampleEvent } from './support/sample-event.js';

const quiet = { info() {}, warn() {}, error() {} };
const skip = which('nats-server') ? false : 'nats-server not installed (apt-get install nats-server)';
let dir: string;
let ns: NatsServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fwd-nats-'));
  if (skip) return;
  ns = await startNatsServer(join(dir, 'js'));
  const nc = await connect({ servers: ns.url });
  await (await nc.jetstreamManager()).streams.add({ name: 'OUTPOST', subjects: ['outpost.>'], duplicate_window: 120_000_000_000 });
  await nc.close();
});
after(async () => {
  await ns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function streamMessages(): Promise<number> {
  const nc = await connect({ servers: ns.url });
  try {
    return (await (await nc.jetstreamManager()).streams.info('OUTPOST')).state.messages;
  } finally {
    await nc.close();
  }
}

test('JetStream: msg id = event uid; the cursor advances on publish acks; re-sends are de-duplicated', { skip }, async () => {
  const mk = (outboxDir: string) => createForwarding(resolveForwardConfig({ outboxDir, outboxSync: 'none', nats: [{ name: 'js', servers: [ns.url], subject: 'outpost.events', publishTimeoutMs: 1000, retryInitialMs: 50, retryMaxMs: 500 }] }), quiet, dir);
  let fw = mk(join(dir, 'a'));
  let ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  for (let i = 0; i < 1000; i++) fw.sink(sampleEvent(i));
  await waitFor(() => fw.status().sinks[0]!['sent_events'] === 1000, 10_000, 'published');
  assert.equal(await streamMessages(), 1000);
  ac.abort();
  for (const s of [...fw.services].reverse()) await s.stop();

  // A second outbox (think: a restarted sensor whose cursor was lost) sends the same uids again.
  fw = mk(join(dir, 'b'));
  ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  for (let i = 0; i < 1000; i++) fw.sink(sampleEvent(i));
  await waitFor(() => fw.status().sinks[0]!['sent_events'] === 1000, 10_000, 'republished');
  assert.equal(fw.status().sinks[0]!['jetstream_duplicates'], 1000);
  assert.equal(await streamMessages(), 1000, 'stream de-duplicated by uid');

  // Server down: publishes fail, the cursor stays; server back: the backlog goes out.
  await ns.stop();
  for (let i = 1000; i < 1200; i++) fw.sink(sampleEvent(i));
  await waitFor(() => (fw.status().sinks[0]!['errors'] as number) >= 1, 15_000, 'errors while down');
  assert.equal(fw.status().sinks[0]!['sent_events'], 1000);
  ns = await startNatsServer(join(dir, 'js'), ns.port);
  await waitFor(() => fw.status().sinks[0]!['sent_events'] === 1200, 20_000, 'backlog after restart');
  assert.equal(await streamMessages(), 1200);
  ac.abort();
  for (const s of [...fw.services].reverse()) await s.stop();
});
