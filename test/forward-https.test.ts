import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createForwarding, type Forwarding } from '../src/forward/index.js';
import { resolveForwardConfig, type HttpsSinkConfig } from '../src/forward/config.js';
import { HttpsReceiver, makePki, waitFor, which, type Pki } from './support/receivers.js';
import { parseRetryAfter, backoffMs } from '../src/forward/sink.js';
import { buildBodyBuffer } from '../src/forward/sinks/https.js';
import { BufferPool } from '../src/forward/buffer-pool.js';
import type { OutboxRecord } from '../src/forward/outbox.js';
import { sampleEvent } from './support/sample-event.js';

const quiet = { info() {}, warn() {}, error() {} };
let dir: string;
let pki: Pki | undefined;
const skip = which('openssl') ? false : 'openssl not installed (apt-get install openssl)';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fwd-https-'));
  if (!skip) pki = makePki(join(dir, 'pki'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function setup(name: string, rx: HttpsReceiver, sink: Partial<HttpsSinkConfig>): Promise<{ fw: Forwarding; stop: () => Promise<void> }> {
  const port = rx.port || (await rx.listen());
  const cfg = resolveForwardConfig({
    outboxDir: join(dir, name),
    outboxSync: 'none',
    https: [{ name: 'h', url: `https://127.0.0.1:${port}/ingest`, tlsCaFile: pki!.caFile, retryInitialMs: 20, retryMaxMs: 200, batchMaxEvents: 100, ...sink }],
  });
  const fw = createForwarding(cfg, quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  return {
    fw,
    stop: async () => {
      ac.abort();
      for (const s of [...fw.services].reverse()) await s.stop();
    },
  };
}

test('Retry-After parsing and backoff bounds', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(Date.now() + 5000).toUTCString(), Date.now()) !== undefined, true);
  assert.equal(parseRetryAfter('soon'), undefined);
  for (let a = 0; a < 40; a++) {
    const d = backoffMs(a, 100, 10_000);
    const cap = Math.min(10_000, 100 * 2 ** a);
    assert.ok(d >= cap / 2 && d <= cap, `attempt ${a}: ${d}`);
  }
});

test('buffer pool (HTTPS bodies before gzip): a reused buffer holds exactly the new body, stale bytes never leak, at most max buffers kept', () => {
  const rec = (i: number, pad: number): OutboxRecord => ({ seq: i, appendedMs: 0, bytes: 0, uid: `u${i}`, json: JSON.stringify({ i, pad: 'x'.repeat(pad) }) });
  const pool = new BufferPool(2);
  const big = [rec(1, 5000), rec(2, 5000)];
  const small = [rec(3, 10)];
  const first = buildBodyBuffer(big, 'ndjson', undefined, pool);
  assert.equal(first.toString(), big.map((r) => r.json + '\n').join(''));
  pool.give(first);
  assert.equal(pool.size, 1);
  const second = buildBodyBuffer(small, 'array', undefined, pool);
  assert.equal(second.buffer, first.buffer, 'the pooled buffer was reused');
  assert.equal(second.toString(), `[${small[0]!.json}]`, 'exactly the new body: nothing of the earlier one');
  assert.equal(pool.size, 0);
  pool.give(second);
  // A body larger than every pooled buffer gets a new one; the pool keeps at most 2, the larger ones.
  const huge = buildBodyBuffer([rec(4, 200_000)], 'ndjson', undefined, pool);
  assert.notEqual(huge.buffer, first.buffer);
  pool.give(huge);
  pool.give(Buffer.allocUnsafeSlow(10));
  assert.equal(pool.size, 2);
  assert.ok(pool.take(150_000).buffer === huge.buffer, 'the larger buffers were kept');
});

test('mTLS + bearer token, gzip NDJSON: every event arrives once, in order', { skip }, async () => {
  const rx = new HttpsReceiver(pki!, { requireClientCert: true });
  let badAuth = 0;
  rx.behaviour = ({ auth, clientCert }) => (auth !== 'Bearer s3cret' || !clientCert ? (badAuth++, { status: 401 }) : undefined);
  const { fw, stop } = await setup('mtls', rx, { bearerToken: 's3cret', tlsCertFile: pki!.clientCertFile, tlsKeyFile: pki!.clientKeyFile });
  try {
    for (let i = 0; i < 1000; i++) fw.sink(sampleEvent(i));
    await waitFor(() => rx.uids.length >= 1000, 10_000, 'delivery');
    assert.equal(badAuth, 0);
    assert.deepEqual(rx.uids, Array.from({ length: 1000 }, (_, i) => sampleEvent(i).metadata.uid));
    // The receiver has the last batch before the sink has read its answer: the sink's own
    // figures are read once it has caught up.
    await waitFor(() => fw.status().sinks[0]!['lag_events'] === 0, 15_000, 'lag 0');
    const st = fw.status().sinks[0]!;
    assert.equal(st['sent_events'], 1000);
    assert.equal(st['dead_lettered'], 0);
  } finally {
    await stop();
    await rx.close();
  }
});

test('receiver failing (503/500, network down) then back: backlog drains in order, errors counted', { skip }, async () => {
  const rx = new HttpsReceiver(pki!);
  let failing = true;
  rx.behaviour = ({ n }) => (failing ? { status: n % 2 ? 500 : 503 } : undefined);
  const { fw, stop } = await setup('down', rx, {});
  try {
    for (let i = 0; i < 500; i++) fw.sink(sampleEvent(i));
    await waitFor(() => rx.requests >= 5, 15_000, 'failing requests');
    const st = fw.status().sinks[0]!;
    assert.ok((st['errors'] as number) >= 4);
    assert.equal(st['lag_events'], 500);
    assert.ok((st['oldest_unsent_age_ms'] as number) > 0);
    // Receiver gone entirely for a while (connection refused), then back on the same port.
    const port = rx.port;
    await rx.close();
    for (let i = 500; i < 800; i++) fw.sink(sampleEvent(i));
    await new Promise((r) => setTimeout(r, 300));
    const rx2 = new HttpsReceiver(pki!);
    await rx2.listen(port);
    try {
      await waitFor(() => rx2.uids.length >= 800, 10_000, 'backlog drained');
      assert.deepEqual(rx2.uids, Array.from({ length: 800 }, (_, i) => sampleEvent(i).metadata.uid), 'in order, none lost');
      assert.equal(rx2.duplicates, 0);
      assert.ok((fw.status().sinks[0]!['network_errors'] as number) >= 1);
    } finally {
      failing = false;
      await stop();
      await rx2.close();
    }
  } finally {
    await rx.close().catch(() => undefined);
  }
});

test('429 with Retry-After is honoured; 400 goes to dead letters with a counter', { skip }, async () => {
  const rx = new HttpsReceiver(pki!);
  const times: number[] = [];
  rx.behaviour = ({ n }) => {
    times.push(Date.now());
    if (n === 1) return { status: 429, retryAfter: '1' };
    if (n === 3) return { status: 400 };
    return undefined;
  };
  const { fw, stop } = await setup('429', rx, { batchMaxEvents: 10, retryInitialMs: 10, retryMaxMs: 5000 });
  try {
    for (let i = 0; i < 30; i++) fw.sink(sampleEvent(i));
    await waitFor(() => rx.requests >= 4 && fw.status().sinks[0]!['lag_events'] === 0, 20_000, 'all batches handled');
    const gap = times[1]! - times[0]!;
    assert.ok(gap >= 950, `waited ${gap} ms after 429 Retry-After: 1`);
    const st = fw.status().sinks[0]!;
    assert.equal(st['dead_lettered'], 10);
    assert.equal(rx.uids.length, 20);
    const dl = fw.deadLetters('h');
    assert.equal(dl.length, 10);
    assert.equal(dl[0]!.status, 400);
    assert.equal(dl[0]!.uid, sampleEvent(10).metadata.uid);
  } finally {
    await stop();
    await rx.close();
  }
});

test('server certificate is verified: an unknown CA means no delivery, errors counted', { skip }, async () => {
  const rx = new HttpsReceiver(pki!);
  const { fw, stop } = await setup('noca', rx, { tlsCaFile: '' });
  try {
    for (let i = 0; i < 10; i++) fw.sink(sampleEvent(i));
    await waitFor(() => (fw.status().sinks[0]!['errors'] as number) >= 2, 15_000, 'TLS failures');
    assert.equal(rx.requests, 0);
    assert.match(String((fw.status().sinks[0]!['last_error'] as { message: string }).message), /certificate/i);
  } finally {
    await stop();
    await rx.close();
  }
});

test('slow receiver: events keep arriving, none lost', { skip }, async () => {
  const rx = new HttpsReceiver(pki!);
  rx.behaviour = () => ({ status: 200, delayMs: 150 });
  const { fw, stop } = await setup('slow', rx, { batchMaxEvents: 50 });
  try {
    for (let i = 0; i < 300; i++) fw.sink(sampleEvent(i));
    await waitFor(() => rx.uids.length >= 300, 10_000, 'slow delivery');
    assert.equal(new Set(rx.uids).size, 300);
  } finally {
    await stop();
    await rx.close();
  }
});
