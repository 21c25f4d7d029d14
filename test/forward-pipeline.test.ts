/**
 * Several batches in flight (maxInFlightBatches > 1): the receiver still sees batches in order,
 * the cursor only advances in order, and after a failure every later batch is re-sent, never
 * delivered ahead of the failed one. A fake receiver with random delays and failures, driven
 * through the real outbox and SinkRunner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, type OutboxRecord } from '../src/forward/outbox.js';
import { OrderedSends, PermanentSinkError, RetryableSinkError, SinkRunner, type Sink } from '../src/forward/sink.js';
import { mulberry32 as rng } from './support/prng.js';


class FlakySink implements Sink {
  readonly type = 'https' as const;
  readonly name = 'flaky';
  readonly received: number[] = [];
  readonly #order = new OrderedSends();
  readonly #rand = rng(7);
  failures = 0;
  permanent = 0;
  send(batch: OutboxRecord[]): Promise<void> {
    const prepDelay = Math.floor(this.#rand() * 4);
    return this.#order.run(
      () => new Promise<OutboxRecord[]>((r) => setTimeout(() => r(batch), prepDelay)),
      async (b) => {
        await new Promise((r) => setTimeout(r, Math.floor(this.#rand() * 3)));
        const x = this.#rand();
        if (x < 0.15) {
          this.failures++;
          throw new RetryableSinkError('flaky');
        }
        if (x < 0.18) {
          this.permanent++;
          throw new PermanentSinkError('rejected', 400);
        }
        for (const r of b) this.received.push(r.seq);
      },
    );
  }
  async close(): Promise<void> {}
}

test('pipelined batches: delivered in order, cursor in order, nothing lost after failures', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-pipe-'));
  const ob = Outbox.open({ path: join(dir, 'ob'), maxBytes: 1 << 30, maxAgeMs: 86_400_000, fullPolicy: 'drop-oldest', sync: 'none' });
  const sink = new FlakySink();
  const runner = new SinkRunner(sink, { name: 'flaky', enabled: true, batchMaxEvents: 37, batchMaxBytes: 1 << 20, maxInFlightBatches: 5, retryInitialMs: 1, retryMaxMs: 5 }, ob);
  const ac = new AbortController();
  try {
    runner.start(ac.signal);
    const N = 3000;
    for (let i = 1; i <= N; i++) {
      ob.append({ metadata: { uid: `u-${i}` }, i });
      if (i % 250 === 0) await new Promise((r) => setImmediate(r));
    }
    const deadline = Date.now() + 20_000;
    while (ob.cursor('flaky').acked < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ob.cursor('flaky').acked, N, 'cursor reached the head');
    assert.ok(sink.failures > 0, 'some batches failed and were retried');
    const dead = runner.counters.deadLettered;
    const unique = new Set(sink.received);
    assert.equal(unique.size + dead, N, 'every event delivered or dead-lettered');
    // In order: the first delivery of each event comes after the first delivery of every earlier
    // one (re-sends after a failure repeat events, never skip ahead of them).
    const seen = new Set<number>();
    let last = 0;
    for (const s of sink.received) {
      if (seen.has(s)) continue;
      seen.add(s);
      assert.ok(s > last, `seq ${s} first delivered after ${last}`);
      last = s;
    }
  } finally {
    ac.abort();
    await runner.stop();
    await ob.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OrderedSends: a batch after a failed one is not delivered; one started later is', async () => {
  const o = new OrderedSends();
  const delivered: string[] = [];
  const a = o.run(() => 'a', async () => {
    await new Promise((r) => setTimeout(r, 5));
    throw new RetryableSinkError('down');
  });
  const b = o.run(() => 'b', async (x) => void delivered.push(x));
  await assert.rejects(a, /down/);
  await assert.rejects(b, /earlier batch failed/);
  await o.run(() => 'c', async (x) => void delivered.push(x));
  const p = o.run(() => 'd', async () => {
    throw new PermanentSinkError('bad', 400);
  });
  const e = o.run(() => 'e', async (x) => void delivered.push(x));
  await assert.rejects(p, /bad/);
  await e;
  assert.deepEqual(delivered, ['c', 'e']);
});
