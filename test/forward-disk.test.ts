/**
 * The outbox on a full disk and an unreadable outbox, with real components: a 4 MiB tmpfs (mount,
 * so root only), the real outbox + HTTPS sink + HTTPS receiver (createForwarding, as the daemon
 * wires it), and `outpost run` on a corrupt store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createForwarding } from '../src/forward/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';
import { HttpsReceiver, makePki, waitFor, which } from './support/receivers.js';
import { sampleEvent } from './support/sample-event.js';
import { isOutpostError } from '../src/errors.js';

const isRoot = process.getuid?.() === 0;
const diskSkip = !isRoot ? 'needs root (mounts a tmpfs)' : !which('openssl') ? 'openssl not installed (apt-get install openssl)' : false;

interface Logged { level: 'error' | 'warn'; obj: Record<string, unknown>; msg: string }
function recorder(): { log: { info(): void; warn(o: object, m: string): void; error(o: object, m: string): void }; lines: Logged[] } {
  const lines: Logged[] = [];
  return {
    lines,
    log: {
      info() {},
      warn: (obj, msg) => void lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      error: (obj, msg) => void lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    },
  };
}

test('disk full: coded error naming the path, every refused event counted, stored events delivered once space is freed, no crash', { skip: diskSkip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-disk-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  let mounted = false;
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown) => void unhandled.push(r);
  process.on('unhandledRejection', onUnhandled);
  const rx = new HttpsReceiver(makePki(join(dir, 'pki')));
  let stop: (() => Promise<void>) | undefined;
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      // e.g. a container without CAP_SYS_ADMIN
      t.skip(`cannot mount a tmpfs: ${(err as Error).message}`);
      return;
    }
    // Other files share the file system; removing this one is "the operator freed space". It is
    // large: events accepted before the first failure is known (the write thread lags behind the
    // producer) are held for the retry, up to ~1.7 MB here, and must fit in what is freed.
    const ballast = join(mnt, 'ballast');
    writeFileSync(ballast, Buffer.alloc(2 * 1024 * 1024, 1));
    let down = true; // receiver unavailable while the disk fills: nothing is sent, nothing removed
    rx.behaviour = () => (down ? { status: 503 } : undefined);
    const port = await rx.listen();
    const outboxDir = join(mnt, 'outbox');
    const { log, lines } = recorder();
    const fw = createForwarding(resolveForwardConfig({
      outboxDir,
      outboxSync: 'fsync', // the default: the realistic setting
      https: [{ name: 'h', url: `https://127.0.0.1:${port}/ingest`, tlsCaFile: join(dir, 'pki', 'ca.pem'), retryInitialMs: 20, retryMaxMs: 200, batchMaxEvents: 500 }],
    }), log, dir);
    const ac = new AbortController();
    for (const s of fw.services) await s.start(ac.signal);
    stop = async () => {
      ac.abort();
      for (const s of [...fw.services].reverse()) await s.stop();
    };

    // Append until the disk is full, then 500 more (refused while the store cannot be written).
    const accepted = new Set<string>();
    let offered = 0;
    let afterFull = -1;
    const deadline = Date.now() + 30_000;
    while (afterFull < 500 && offered < 50_000 && Date.now() < deadline) {
      const ev = sampleEvent(offered++);
      // fw.sink() is the daemon's path and calls outbox.append(); the boolean tells which events are in.
      if (fw.outbox.append(ev)) accepted.add(ev.metadata.uid);
      if (afterFull >= 0) afterFull++;
      else if (fw.outbox.writeError) afterFull = 0;
      if (offered % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await fw.outbox.flush();
    const full = fw.status().outbox;
    console.log(`disk full after ${offered} offered: ${JSON.stringify(full)}`);
    assert.ok(afterFull >= 0, 'the disk filled up');
    assert.equal(full['forward.outbox.unwritable'], 1);
    const failed = full['forward.outbox.write_failed'] as number;
    assert.ok(failed >= 500, `refused events counted (${failed})`);
    assert.equal(accepted.size + failed, offered, 'accepted + write_failed = offered: nothing unaccounted');
    assert.equal(full['forward.outbox.appended'], accepted.size);
    const errors = lines.filter((l) => l.level === 'error' && l.obj['code'] === 'FORWARD_OUTBOX_WRITE_FAILED');
    assert.equal(errors.length, 1, 'logged once, not once per event or retry');
    assert.ok(errors[0]!.msg.includes(outboxDir), `the message names the path: ${errors[0]!.msg}`);
    assert.match(errors[0]!.msg, /bytes free/);
    // What was committed stays readable while the disk is full.
    const readable = fw.outbox.read(0, 100_000);
    assert.equal(readable.length, fw.outbox.committedSeq, 'every committed event readable');
    assert.ok(readable.length > 0 && readable.length <= accepted.size);

    // The operator frees space and the receiver comes back: the held events are written by the
    // retry, and every accepted event is delivered, each once; new events are taken again.
    rmSync(ballast);
    down = false;
    await waitFor(() => fw.outbox.writeError === undefined, 15_000, 'outbox writable again');
    for (let i = offered; i < offered + 100; i++) {
      const ev = sampleEvent(i);
      assert.equal(fw.outbox.append(ev), true, 'accepting again');
      accepted.add(ev.metadata.uid);
    }
    await waitFor(() => rx.seen.size >= accepted.size, 30_000, `delivery of ${accepted.size} events (have ${rx.seen.size})`);
    assert.deepEqual(new Set(rx.seen.keys()), accepted, 'exactly the accepted events were delivered');
    assert.equal(rx.duplicates, 0);
    assert.ok(lines.some((l) => l.level === 'warn' && l.msg.includes('writable again')));
    // The receiver counts a batch before its response reaches the sink, whose cursor moves then.
    await waitFor(() => fw.status().sinks[0]!['cursor_seq'] === fw.outbox.headSeq, 10_000, 'the cursor to reach the head');
    const st = fw.status();
    assert.equal(st.outbox['forward.outbox.write_held'], 0);
    assert.equal(st.sinks[0]!['cursor_seq'], fw.outbox.headSeq, 'cursor at the head');
    console.log(`offered ${offered + 100}, accepted ${accepted.size}, write_failed ${failed}, delivered ${rx.seen.size}, duplicates ${rx.duplicates}`);
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
  } finally {
    // Bounded: a hang here would hold the mount and the test run.
    if (stop) await Promise.race([stop().catch(() => {}), new Promise((r) => setTimeout(r, 20_000).unref())]);
    await rx.close().catch(() => {});
    process.off('unhandledRejection', onUnhandled);
    if (mounted) {
      try {
        execFileSync('umount', [mnt], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('outboxMinFreeDiskMb: the outbox never fills the disk; below the floor new events are refused and counted, accepted again when space returns', { skip: diskSkip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-floor-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  let mounted = false;
  let fw: ReturnType<typeof createForwarding> | undefined;
  try {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      t.skip(`cannot mount a tmpfs: ${(err as Error).message}`);
      return;
    }
    const ballast = join(mnt, 'ballast');
    writeFileSync(ballast, Buffer.alloc(2 * 1024 * 1024, 1));
    const { log, lines } = recorder();
    // No sink: nothing is sent or removed, the outbox only grows.
    fw = createForwarding(resolveForwardConfig({ outboxDir: join(mnt, 'outbox'), outboxSync: 'fsync', outboxMinFreeDiskMb: 3 }), log, dir);
    let offered = 0;
    let accepted = 0;
    let refusedInARow = 0;
    const deadline = Date.now() + 30_000;
    // Until the floor holds for a while (the free space is read every MiB appended or 250 ms).
    while (refusedInARow < 2000 && offered < 100_000 && Date.now() < deadline) {
      if (fw.outbox.append(sampleEvent(offered++))) {
        accepted++;
        refusedInARow = 0;
      } else refusedInARow++;
      if (offered % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await fw.outbox.flush();
    const st = fw.status().outbox;
    const freeMb = statfsSync(mnt).bavail * statfsSync(mnt).bsize / 1048576;
    console.log(`floor: offered ${offered}, accepted ${accepted}, ${JSON.stringify(st)}, free ${freeMb.toFixed(2)} MiB`);
    assert.ok(refusedInARow >= 2000, 'the floor was reached');
    assert.equal(st['forward.outbox.unwritable'], 0, 'no commit failed: the disk never filled');
    assert.equal(st['forward.outbox.write_failed'], 0);
    assert.equal(st['forward.outbox.disk_low'], 1);
    assert.equal(st['forward.outbox.appended'], accepted);
    assert.equal(accepted + (st['forward.outbox.refused_disk_low'] as number), offered, 'accepted + refused_disk_low = offered');
    assert.equal(fw.outbox.read(0, 100_000).length, accepted, 'every accepted event stored');
    // The floor is 3 MiB; the reading every 256 KiB appended lets the file grow a little past it
    // (2.3-2.7 MiB left measured): far from a full disk.
    assert.ok(freeMb > 1.5, `free space left on the file system (${freeMb.toFixed(2)} MiB)`);
    const errors = lines.filter((l) => l.level === 'error' && l.obj['code'] === 'FORWARD_OUTBOX_DISK_LOW');
    assert.equal(errors.length, 1, 'logged once');
    assert.ok(errors[0]!.msg.includes(mnt), `names the path: ${errors[0]!.msg}`);

    // Space returns: accepted again (after the next free-space reading).
    rmSync(ballast);
    const until = Date.now() + 5000;
    let ok = false;
    while (!ok && Date.now() < until) {
      ok = fw.outbox.append(sampleEvent(offered++));
      if (!ok) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(ok, 'accepted again once space returned');
    assert.ok(lines.some((l) => l.level === 'warn' && l.msg.includes('accepting events again')));
  } finally {
    if (fw) await Promise.race([fw.outbox.close().catch(() => {}), new Promise((r) => setTimeout(r, 20_000).unref())]);
    if (mounted) {
      try {
        execFileSync('umount', [mnt], { stdio: 'pipe' });
      } catch {
        execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unreadable outbox: FORWARD_OUTBOX_OPEN_FAILED naming the path, the store left as it was, no new empty store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-bad-'));
  const quiet = { info() {}, warn() {}, error() {} };
  const open = (outboxDir: string) => createForwarding(resolveForwardConfig({ outboxDir }), quiet, dir);
  const expectOpenFailed = (outboxDir: string, named: string, what: string) =>
    assert.throws(() => open(outboxDir), (err: unknown) => {
      assert.ok(isOutpostError(err, 'FORWARD_OUTBOX_OPEN_FAILED'), `${what}: ${String(err)}`);
      assert.ok((err as Error).message.includes(named), `${what}: names ${named}: ${(err as Error).message}`);
      return true;
    });
  try {
    // Garbage where data.mdb should be (LMDB itself would crash the process with SIGSEGV).
    const garbage = join(dir, 'garbage');
    mkdirSync(garbage);
    const bytes = Buffer.alloc(256 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    writeFileSync(join(garbage, 'data.mdb'), bytes);
    expectOpenFailed(garbage, join(garbage, 'data.mdb'), 'garbage data.mdb');
    assert.deepEqual(readFileSync(join(garbage, 'data.mdb')), bytes, 'data.mdb untouched');
    assert.deepEqual(readdirSync(garbage), ['data.mdb'], 'no lock file or new store created');

    // A real store cut short (first page only).
    const good = join(dir, 'good');
    const fw = open(good);
    for (let i = 0; i < 100; i++) fw.sink(sampleEvent(i));
    await fw.outbox.close();
    const truncated = join(dir, 'truncated');
    mkdirSync(truncated);
    writeFileSync(join(truncated, 'data.mdb'), readFileSync(join(good, 'data.mdb')).subarray(0, 4096));
    expectOpenFailed(truncated, join(truncated, 'data.mdb'), 'truncated data.mdb');

    // A file where the directory should be, and a directory where data.mdb should be.
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    expectOpenFailed(file, file, 'outboxDir is a file');
    const dirAsFile = join(dir, 'dir-as-file');
    mkdirSync(join(dirAsFile, 'data.mdb'), { recursive: true });
    expectOpenFailed(dirAsFile, dirAsFile, 'data.mdb is a directory');

    // Not readable: only means something without root (root reads anything).
    if (!isRoot) {
      const locked = join(dir, 'locked');
      const lfw = open(locked);
      await lfw.outbox.close();
      chmodSync(join(locked, 'data.mdb'), 0o000);
      expectOpenFailed(locked, locked, 'data.mdb mode 000');
      chmodSync(join(locked, 'data.mdb'), 0o600);
    }

    // The daemon: one line with the code and the path on stderr, exit code 1.
    const dataDir = join(dir, 'data');
    mkdirSync(join(dataDir, 'forward-outbox'), { recursive: true });
    writeFileSync(join(dataDir, 'forward-outbox', 'data.mdb'), bytes);
    const cfg = join(dir, 'outpost.yaml');
    writeFileSync(cfg, `dataDir: ${JSON.stringify(dataDir)}\nlogLevel: silent\napi:\n  port: 0\n`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 1, `exit code (stderr: ${run.stderr})`);
    const errLines = run.stderr.split('\n').filter((l) => l !== '');
    assert.equal(errLines.length, 1, `one line: ${run.stderr}`);
    assert.match(errLines[0]!, /^outpost: FORWARD_OUTBOX_OPEN_FAILED: .*forward-outbox/);
    assert.deepEqual(readFileSync(join(dataDir, 'forward-outbox', 'data.mdb')), bytes, 'the daemon left the store as it was');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
