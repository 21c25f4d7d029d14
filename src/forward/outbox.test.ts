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

test('sequence numbers are given at commit; onCommit and the counters see committed events only', async () => {
  const dir = tmp();
  try {
    let ob = Outbox.open(opts(dir, { maxBytes: 1 << 20 }));
    const seen: Array<[number, string]> = [];
    ob.onCommit((recs) => { for (const r of recs) seen.push([r.seq, r.uid]); });
    for (let i = 0; i < 5; i++) ob.append(ev(i));
    assert.equal(ob.headSeq, 0, 'no number before the commit starts');
    assert.equal(ob.counters.appended, 5);
    assert.equal(ob.counters.committed, 0);
    assert.equal(ob.uncommitted, 5);
    assert.deepEqual(seen, [], 'nothing reported before the commit');
    await ob.flush();
    assert.deepEqual(seen, [[1, 'u-0'], [2, 'u-1'], [3, 'u-2'], [4, 'u-3'], [5, 'u-4']]);
    assert.equal(ob.counters.committed, 5);
    assert.equal(ob.uncommitted, 0);
    assert.ok(ob.counters.uncommittedMaxMs >= 0 && ob.counters.uncommittedMaxMs < 60_000);
    // A reopened outbox continues after the stored head (what a kill -9 left uncommitted was never
    // numbered: test/forward-crash.test.ts checks that across real kills).
    await ob.close();
    ob = Outbox.open(opts(dir));
    assert.equal(ob.headSeq, 5);
    ob.append(ev(5));
    await ob.flush();
    assert.deepEqual(ob.read(5, 10).map((r) => [r.seq, r.uid]), [[6, 'u-5']]);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('late commits are counted and logged once, with the measured delay', async () => {
  const dir = tmp();
  let now = 1_000_000;
  const warned: Array<Record<string, unknown>> = [];
  const logger = { error() {}, warn: (o: object) => void warned.push(o as Record<string, unknown>) };
  try {
    const ob = Outbox.open(opts(dir, { now: () => now, maxUncommittedMs: 100, logger }));
    for (let i = 0; i < 3; i++) ob.append(ev(i));
    now += 30;
    ob.append(ev(3));
    now += 250; // the commit completes 280 ms after the first append, 250 ms after the fourth
    await ob.flush();
    assert.equal(ob.counters.lateCommitted, 4);
    assert.equal(ob.counters.uncommittedMaxMs, 280);
    ob.append(ev(4));
    now += 300;
    await ob.flush();
    assert.equal(ob.counters.lateCommitted, 5);
    assert.equal(warned.filter((w) => w['code'] === 'FORWARD_OUTBOX_COMMIT_SLOW').length, 1, 'one warning per episode');
    ob.append(ev(5));
    await ob.flush(); // in time: the episode ends
    ob.append(ev(6));
    now += 500;
    await ob.flush();
    assert.equal(warned.filter((w) => w['code'] === 'FORWARD_OUTBOX_COMMIT_SLOW').length, 2);
    assert.equal(ob.stats()['forward.outbox.late_committed'], 6);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('minFreeBytes: below the bound new events are refused, counted and logged once; accepted again when space returns', async () => {
  const dir = tmp();
  let now = 1_000_000;
  let free = 10 << 20;
  const logged: Array<{ level: string; o: Record<string, unknown>; m: string }> = [];
  const logger = {
    error: (o: object, m: string) => void logged.push({ level: 'error', o: o as Record<string, unknown>, m }),
    warn: (o: object, m: string) => void logged.push({ level: 'warn', o: o as Record<string, unknown>, m }),
  };
  try {
    const ob = Outbox.open(opts(dir, { now: () => now, minFreeBytes: 5 << 20, freeBytes: () => free, logger }));
    assert.equal(ob.append(ev(0)), true);
    free = 4 << 20;
    now += 300; // the next append reads the free space again
    assert.equal(ob.append(ev(1)), false);
    for (let i = 2; i < 10; i++) assert.equal(ob.append(ev(i)), false);
    assert.equal(ob.counters.refusedDiskLow, 9);
    assert.equal(ob.stats()['forward.outbox.disk_low'], 1);
    const errors = logged.filter((l) => l.level === 'error' && l.o['code'] === 'FORWARD_OUTBOX_DISK_LOW');
    assert.equal(errors.length, 1, 'logged once');
    assert.ok(errors[0]!.m.includes(dir), 'names the path');
    free = 6 << 20;
    assert.equal(ob.append(ev(10)), false, 'not read again before 250 ms');
    now += 300;
    assert.equal(ob.append(ev(11)), true, 'accepted again once space returned');
    assert.ok(logged.some((l) => l.level === 'warn' && l.m.includes('accepting events again')));
    await ob.flush();
    assert.deepEqual(ob.read(0, 100).map((r) => r.uid), ['u-0', 'u-11']);
    assert.equal(ob.counters.appended + ob.counters.refusedDiskLow, 12, 'accepted + refused = offered');
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('minFreeBytes: events appended but not yet committed count against the free space', async () => {
  const dir = tmp();
  const now = 1_000_000;
  // statfs keeps answering 1 MiB above the floor: nothing is committed within one turn.
  const ob = Outbox.open(opts(dir, { now: () => now, minFreeBytes: 5 << 20, freeBytes: () => 6 << 20 }));
  try {
    const big = 'x'.repeat(16 << 10);
    let accepted = 0;
    for (let i = 0; i < 256; i++) if (ob.appendJson(`u-${i}`, JSON.stringify({ i, big }))) accepted++;
    // Refused once twice the uncommitted bytes reach the 1 MiB left above the floor (read every
    // 256 KiB appended): between 512 and 768 KiB accepted, not the whole 4 MiB offered.
    const acceptedKiB = (accepted * (16 << 10)) / 1024;
    assert.ok(acceptedKiB >= 512 && acceptedKiB <= 800, `accepted ${acceptedKiB} KiB`);
    assert.equal(ob.counters.refusedDiskLow, 256 - accepted);
    await ob.flush();
  } finally {
    await ob.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ackDurable resolves once the cursor position is stored', async () => {
  const dir = tmp();
  try {
    let ob = Outbox.open(opts(dir));
    ob.cursor('s');
    for (let i = 0; i < 10; i++) ob.append(ev(i));
    await ob.flush();
    const commits = ob.counters.commits;
    await ob.ackDurable('s', 7);
    assert.equal(ob.counters.commits, commits + 1, 'resolved after the commit that carries the cursor');
    await ob.close();
    ob = Outbox.open(opts(dir));
    assert.equal(ob.cursor('s').acked, 7);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('blocks: a tail inside a block survives a reopen (count, bytes, reads); records carry their JSON bytes', async () => {
  const dir = tmp();
  try {
    let ob = Outbox.open(opts(dir));
    ob.cursor('s');
    // 2,500 events in one turn: one commit, three blocks (1,000 + 1,000 + 500), compressed.
    const evs = Array.from({ length: 2500 }, (_, i) => ev(i, 200 + (i % 7)));
    for (const e of evs) ob.append(e);
    await ob.flush();
    const bytesAll = ob.bytes;
    const recs = ob.read(0, 5000, Infinity);
    assert.equal(recs.length, 2500);
    for (const [i, r] of recs.entries()) {
      assert.equal(r.seq, i + 1);
      assert.equal(r.uid, `u-${i}`);
      assert.equal(r.json, JSON.stringify(evs[i]));
      assert.equal(r.jsonBytes, Buffer.byteLength(r.json));
      const copy = Buffer.alloc(r.jsonBytes! + 2);
      assert.equal(r.copyJson!(copy, 1), r.jsonBytes);
      assert.equal(copy.subarray(1, 1 + r.jsonBytes!).toString('utf8'), r.json);
    }
    const sizeOf = (from: number, to: number) => recs.slice(from - 1, to).reduce((n, r) => n + r.bytes, 0);
    assert.equal(bytesAll, sizeOf(1, 2500));
    // Acknowledge into the middle of the second block: the first block goes, the second stays in part.
    ob.ack('s', 1234);
    await ob.flush();
    assert.equal(ob.count, 2500 - 1234);
    assert.equal(ob.bytes, sizeOf(1235, 2500));
    assert.equal(ob.read(0, 1)[0]?.seq, 1235, 'nothing below the tail is read');
    await ob.close();

    ob = Outbox.open(opts(dir));
    assert.equal(ob.tailSeq, 1235);
    assert.equal(ob.count, 2500 - 1234);
    assert.equal(ob.bytes, sizeOf(1235, 2500));
    assert.deepEqual(ob.read(0, 3).map((r) => [r.seq, r.uid]), [[1235, 'u-1234'], [1236, 'u-1235'], [1237, 'u-1236']]);
    // Reads across a block boundary, bounded by bytes as before.
    const across = ob.read(1990, 20, sizeOf(1991, 2005));
    assert.deepEqual(across.map((r) => r.seq), Array.from({ length: 15 }, (_, i) => 1991 + i));
    ob.ack('s', 2500);
    await ob.flush();
    assert.equal(ob.count, 0);
    assert.equal(ob.bytes, 0);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an outbox written with one record per event is converted to blocks when opened', async () => {
  const dir = tmp();
  try {
    // The layout before blocks: 'events' [seq, appendedMs, bytes] -> [uid, json], a gap after seq 3
    // (removed records), cursor and head in 'meta'.
    const { open } = await import('lmdb');
    const root = open({ path: dir, compression: false, maxDbs: 8 });
    const events = root.openDB<[string, string], [number, number, number]>({ name: 'events' });
    const meta = root.openDB<unknown, string>({ name: 'meta' });
    const seqs = [2, 3, 5, 6, 7];
    for (const s of seqs) {
      const json = JSON.stringify(ev(s));
      await events.put([s, 1000 + s, json.length + 3 + 32], [`u-${s}`, json]);
    }
    await meta.put('head', 7);
    await meta.put('cursor:s', 2);
    await root.close();

    const ob = Outbox.open(opts(dir));
    assert.equal(ob.cursor('s').acked, 2);
    assert.equal(ob.headSeq, 7);
    assert.equal(ob.count, 5);
    const recs = ob.read(0, 100);
    assert.deepEqual(recs.map((r) => [r.seq, r.uid, r.appendedMs]), seqs.map((s) => [s, `u-${s}`, 1000 + s]));
    assert.deepEqual(recs.map((r) => r.json), seqs.map((s) => JSON.stringify(ev(s))));
    assert.equal(ob.bytes, recs.reduce((n, r) => n + r.bytes, 0));
    ob.append(ev(8));
    await ob.flush();
    assert.equal(ob.read(7, 10)[0]?.seq, 8, 'numbering continues after the converted records');
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged block is a coded error naming the path, not a crash or wrong records', async () => {
  const dir = tmp();
  try {
    let ob = Outbox.open(opts(dir));
    ob.cursor('s');
    for (let i = 0; i < 50; i++) ob.append(ev(i, 100));
    await ob.flush();
    await ob.close();
    const { open } = await import('lmdb');
    const root = open({ path: dir, compression: false, maxDbs: 8 });
    const blocks = root.openDB<Buffer, number[]>({ name: 'blocks', encoding: 'binary' });
    const keys = [...blocks.getKeys()];
    assert.equal(keys.length, 1);
    const v = blocks.getBinary(keys[0]!)!;
    await blocks.put(keys[0]!, Buffer.concat([v.subarray(0, 5), Buffer.from('not deflate data')]));
    await root.close();
    ob = Outbox.open(opts(dir));
    assert.throws(() => ob.read(0, 10), (err: unknown) => isOutpostError(err, 'FORWARD_OUTBOX_OPEN_FAILED') && (err as Error).message.includes(dir) && /damaged/.test((err as Error).message));
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('block buffers are reused only after release: records held by a sink keep their bytes, a released record is never read stale', async () => {
  const dir = tmp();
  try {
    const ob = Outbox.open(opts(dir));
    ob.cursor('s');
    // 12 blocks of 1,000 events (each block over the 4 KiB below which blocks are stored raw).
    for (let i = 0; i < 12_000; i++) ob.append(ev(i, 40));
    await ob.flush();
    const held = ob.read(0, 500); // a sink's batch in flight: never released here
    const released = ob.read(500, 500);
    const expect = (recs: typeof held, from: number) => recs.forEach((r, j) => assert.deepEqual(JSON.parse(r.json), ev(from + j, 40), `seq ${r.seq}`));
    ob.release(released);
    assert.throws(() => released[0]!.json, /read after its batch was released/);
    // Reading on evicts the first block from the cache (4 blocks) many times over; its buffer
    // cannot be reused while `held` pins it, but the others' are.
    const bufs = new Set<ArrayBufferLike>();
    for (let from = 1000; from < 12_000; from += 1000) {
      const batch = ob.read(from, 1000);
      assert.equal(batch.length, 1000);
      expect(batch, from);
      bufs.add((batch[0] as unknown as { block: { buf: Buffer } }).block.buf.buffer);
      ob.release(batch);
    }
    assert.ok(bufs.size < 11, `11 blocks decoded into ${bufs.size} buffers: reused`);
    expect(held, 0);
    assert.ok(!bufs.has((held[0] as unknown as { block: { buf: Buffer } }).block.buf.buffer), 'the held block\'s buffer was not reused');
    // Released now, and read again from a fresh decode: the same records.
    ob.release(held);
    expect(ob.read(0, 500), 0);
    await ob.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
