/**
 * Crash windows of durable forwarding (docs/FORWARDING.md, "Crash windows"): a forwarding process
 * (tools/forward-crash-child.ts: an HTTPS sink and a syslog TCP sink, 50-event batches) is killed
 * with SIGKILL at random moments, FORWARD_CRASH_KILLS times (5 by default), and restarted; each run
 * produces new events. It prints an event (`c <seq> <uid>`, as the daemon's stdout) only once its
 * outbox commit completed. Checked against what the two receivers got:
 *   - every printed event reached both receivers (nothing committed is lost),
 *   - a sequence number names one event only, across restarts (printed and in the HTTPS batches),
 *   - first deliveries in sequence order at both receivers,
 *   - per restart, each sink re-sent at most one batch (50 events) that it had delivered before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpsReceiver, makePki, which } from './support/receivers.js';
import { runKillableChild, type ChildRun } from './support/forward-fault.js';

const kills = Number(process.env['FORWARD_CRASH_KILLS'] ?? 5);
const perRun = Number(process.env['FORWARD_CRASH_EVENTS'] ?? 4000);
const BATCH = 50;
const skip = which('openssl') ? false : 'openssl not installed (apt-get install openssl)';

/** A syslog TCP receiver: RFC 6587 octet-counted frames; the uid is CEF's externalId. */
class FrameReceiver {
  readonly uids: string[] = [];
  readonly server: Server;
  port = 0;
  constructor() {
    this.server = createServer((s) => {
      let buf: Buffer = Buffer.alloc(0); // per connection: a killed sender leaves a partial frame behind
      s.on('data', (c: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, c]) : c;
        let off = 0;
        for (;;) {
          const sp = buf.indexOf(32, off);
          if (sp === -1) break;
          const len = Number(buf.toString('latin1', off, sp));
          if (sp + 1 + len > buf.length) break;
          const msg = buf.toString('utf8', sp + 1, sp + 1 + len);
          this.uids.push(/externalId=(\S+)/.exec(msg)?.[1] ?? '?');
          off = sp + 1 + len;
        }
        buf = buf.subarray(off);
      });
      s.on('error', () => undefined);
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }
  async close(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// 'close': every line the child printed is read before the run's output is checked.
const runChild = (args: string[], killAfterReadyMs: number | undefined): Promise<ChildRun> => runKillableChild('tools/forward-crash-child.ts', args, killAfterReadyMs, 'close');

/** Deliveries in run k of uids delivered before run k started. */
function resentPerRun(uids: string[], marks: number[]): number[] {
  const out: number[] = [];
  const before = new Set<string>();
  let from = 0;
  for (const to of [...marks, uids.length]) {
    let resent = 0;
    for (let i = from; i < to; i++) if (before.has(uids[i]!)) resent++;
    for (let i = from; i < to; i++) before.add(uids[i]!);
    if (from > 0 || out.length > 0) out.push(resent);
    from = to;
  }
  return out;
}

test(`kill -9 ${kills} times: printed = committed, never lost, never renumbered, order held, re-sends <= 1 batch per sink`, { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-crash-'));
  const pki = makePki(join(dir, 'pki'));
  const https = new HttpsReceiver(pki);
  https.behaviour = () => ({ status: 200, delayMs: Math.random() < 0.2 ? 20 : 0 });
  await https.listen();
  const syslog = new FrameReceiver();
  await syslog.listen();
  const printed = new Map<number, string>(); // seq -> uid
  const reused: string[] = [];
  const record = (out: string) => {
    for (const line of out.split('\n')) {
      if (!line.startsWith('c ')) continue;
      const [, seqText, uid] = line.split(' ');
      const seq = Number(seqText);
      const had = printed.get(seq);
      if (had !== undefined && had !== uid) reused.push(`${seq}: ${had} / ${uid}`);
      printed.set(seq, uid!);
    }
  };
  const httpsMarks: number[] = [];
  const syslogMarks: number[] = [];
  try {
    let landed = 0;
    for (let k = 0; k <= kills; k++) {
      const last = k === kills;
      httpsMarks.push(https.uids.length);
      syslogMarks.push(syslog.uids.length);
      const args = [join(dir, 'data'), `https://127.0.0.1:${https.port}/ingest`, pki.caFile, String(syslog.port), String(k), String(perRun)];
      const r = await runChild(args, last ? undefined : 50 + Math.floor(Math.random() * 600));
      record(r.out);
      if (r.signal === 'SIGKILL') landed++;
      else assert.equal(r.code, 0, `run ${k}: ${r.err}`);
      if (last) {
        assert.match(r.out, /done/, `last run finished: ${r.err}`);
        const c = JSON.parse(/done (.*)/.exec(r.out)![1]!) as { uncommittedMaxMs: number; lateCommitted: number };
        console.log(`# crash: last run: uncommitted window max ${c.uncommittedMaxMs} ms, late_committed ${c.lateCommitted}`);
      }
    }
    httpsMarks.shift();
    syslogMarks.shift();
    // The last run waited for both sinks; give the syslog receiver the bytes still in the socket.
    const printedUids = new Set(printed.values());
    for (let until = Date.now() + 5000; Date.now() < until;) {
      const have = new Set(syslog.uids);
      if ([...printedUids].every((u) => have.has(u))) break;
      await new Promise((r) => setTimeout(r, 20));
    }

    assert.ok(landed >= 1, 'at least one kill landed while the child was running');
    assert.deepEqual(reused, [], 'no sequence number printed for two events');
    // Sequence numbers of the HTTPS batches agree with what was printed.
    const seqOf = new Map<string, number>();
    const mismatched: string[] = [];
    for (const b of https.batches) {
      b.uids.forEach((uid, i) => {
        const seq = b.firstSeq + i;
        const p = printed.get(seq);
        if (p !== undefined && p !== uid) mismatched.push(`${seq}: printed ${p}, sent ${uid}`);
        seqOf.set(uid, seq);
      });
    }
    assert.deepEqual(mismatched, [], 'each sequence number names one event across restarts');
    for (const [seq, uid] of printed) seqOf.set(uid, seq);

    const httpsSeen = new Set(https.uids);
    const syslogSeen = new Set(syslog.uids);
    const lostHttps = [...printedUids].filter((u) => !httpsSeen.has(u));
    const lostSyslog = [...printedUids].filter((u) => !syslogSeen.has(u));
    assert.deepEqual(lostHttps.slice(0, 5), [], `printed (committed) events lost at the HTTPS receiver: ${lostHttps.length}`);
    assert.deepEqual(lostSyslog.slice(0, 5), [], `printed (committed) events lost at the syslog receiver: ${lostSyslog.length}`);
    // Only committed events are ever sent: nothing reaches a receiver that was not printed, except
    // what a killed run committed but had not yet printed (its pipe write was cut).
    for (const [name, uids] of [['https', https.uids], ['syslog', syslog.uids]] as const) {
      let last = 0;
      const first = new Set<string>();
      for (const u of uids) {
        if (first.has(u)) continue;
        first.add(u);
        const seq = seqOf.get(u);
        if (seq === undefined) continue;
        assert.ok(seq > last, `${name}: seq ${seq} (${u}) first delivered after ${last}`);
        last = seq;
      }
    }
    const resentHttps = resentPerRun(https.uids, httpsMarks);
    const resentSyslog = resentPerRun(syslog.uids, syslogMarks);
    console.log(`# crash: ${JSON.stringify({ kills: landed, printed: printed.size, httpsDeliveries: https.uids.length, syslogDeliveries: syslog.uids.length, resentHttps, resentSyslog })}`);
    for (const n of resentHttps) assert.ok(n <= BATCH, `HTTPS re-sent ${n} events after a restart (> one batch of ${BATCH})`);
    for (const n of resentSyslog) assert.ok(n <= BATCH, `syslog re-sent ${n} events after a restart (> one batch of ${BATCH})`);
  } finally {
    await https.close();
    await syslog.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
