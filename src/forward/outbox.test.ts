import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, type OutboxOptions } from './outbox.js';
import { isOutpostError } from '../errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'outbox-'));
const ev = (i: number, pad = 0) => ({ metadata: { uid: `u-${i}` }, i, pad: 'x'.repeat(pad) });
const opts = (path: string, o: Partial<OutboxOptions> = {}): OutboxOptions => ({ path, maxBytes: 1 << 30, maxAgeMs: 3_600_000, fullPolicy: 'drop-oldest', sync: 'none', ...o });

test('append commits before reading; cursors persist across reopen; acked records are collected', async () => {
  const dir = tmp();
  try {
    let ob = Outbox.open(opts(dir));
    ob.cursor('a');
    ob.cursor('b');
    for (let i = 0; i < 10; i++) ob.append(ev(i));
    assert.equal(ob.read(0, 100).length, 0, 'nothing visible before the commit');
    await ob.flush();
    const recs = ob.read(0, 100);
    assert.deepEqual(recs.map((r) => r.uid), Array.from({ length: 10 }, (_, i) => `u-${i}`));
    assert.deepEqual(recs.map((r) => r.seq), Array.from({ length: 10 }, (_, i) => i + 1));
    ob.ack('a', 10);
    ob.ack('b', 4);
    await ob.close();

    ob = Outbox.open(opts(dir));
    assert.equal(ob.cursor('a').acked, 10);
    assert.equal(ob.cursor('b').acked, 4);
    assert.equal(ob.headSeq, 10);
    assert.equal(ob.read(ob.cursor('b').acked, 100)[0]?.uid, 'u-4');
    ob.sweep(); // removes 1..4, acknowledged by both
    await ob.flush();
    assert.equal(ob.count, 6);
    ob.append(ev(10));
    await ob.flush();
    assert.equal(ob.read(10, 10)[0]?.seq, 11, 'sequence continues after reopen');
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('drop-oldest: every removed-unsent record is counted, exactly', async () => {
  const dir = tmp();
  try {
    const ob = Outbox.open(opts(dir, { maxBytes: 1 << 20 }));
    ob.cursor('slow');
    const n = 5000;
    for (let i = 0; i < n; i++) {
      ob.append(ev(i, 500));
      if (i % 100 === 0) await ob.flush();
    }
    await ob.flush();
    assert.ok(ob.bytes <= 1 << 20, `bytes ${ob.bytes} within bound`);
    const kept = ob.read(0, n * 2);
    assert.ok(ob.counters.dropped > 0);
    assert.equal(kept.length + ob.counters.dropped, n, 'kept + dropped = appended');
    assert.equal(ob.cursor('slow').dropped, ob.counters.dropped, 'per-sink count matches');
    // What is kept is the newest, contiguous.
    assert.equal(kept[kept.length - 1]?.uid, `u-${n - 1}`);
    assert.equal(kept[0]?.uid, `u-${n - kept.length}`);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refuse-new: refused events are counted, stored ones untouched', async () => {
  const dir = tmp();
  try {
    const ob = Outbox.open(opts(dir, { maxBytes: 1 << 20, fullPolicy: 'refuse-new' }));
    ob.cursor('slow');
    let accepted = 0;
    for (let i = 0; i < 5000; i++) if (ob.append(ev(i, 500))) accepted++;
    await ob.flush();
    assert.equal(accepted + ob.counters.refused, 5000);
    const kept = ob.read(0, 10_000);
    assert.equal(kept.length, accepted);
    assert.equal(kept[0]?.uid, 'u-0');
    // After the sink catches up, space is collected and new events are accepted again.
    ob.ack('slow', ob.committedSeq);
    assert.equal(ob.append(ev(9999)), true);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('age bound: records older than maxAgeMs are expired and counted', async () => {
  const dir = tmp();
  let now = 1_000_000;
  try {
    const ob = Outbox.open(opts(dir, { maxAgeMs: 10_000, now: () => now }));
    ob.cursor('s');
    for (let i = 0; i < 5; i++) ob.append(ev(i));
    now += 20_000;
    for (let i = 5; i < 8; i++) ob.append(ev(i));
    await ob.flush();
    ob.sweep();
    await ob.flush();
    assert.equal(ob.counters.expired, 5);
    assert.equal(ob.cursor('s').expired, 5);
    assert.deepEqual(ob.read(ob.cursor('s').acked, 100).map((r) => r.uid), ['u-5', 'u-6', 'u-7']);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unreadable store: FORWARD_OUTBOX_OPEN_FAILED naming the path', () => {
  const dir = tmp();
  try {
    const bad = join(dir, 'outbox');
    mkdirSync(bad);
    writeFileSync(join(bad, 'data.mdb'), Buffer.alloc(64 * 1024, 0x5a));
    assert.throws(() => Outbox.open(opts(bad)), (err: unknown) => isOutpostError(err, 'FORWARD_OUTBOX_OPEN_FAILED') && (err as Error).message.includes(bad));
    const file = join(dir, 'afile');
    writeFileSync(file, 'x');
    chmodSync(file, 0o400);
    assert.throws(() => Outbox.open(opts(join(file, 'sub'))), (err: unknown) => isOutpostError(err, 'FORWARD_OUTBOX_OPEN_FAILED') && (err as Error).message.includes(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
