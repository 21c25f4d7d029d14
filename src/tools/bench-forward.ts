/**
 * npm run bench:forward — events/s through each sink on loopback, the outbox's write rate per
 * sync mode, and peak RSS. Receivers run in a worker thread (HTTPS: node:https counting NDJSON
 * lines; syslog TCP: a socket that counts RFC 6587 frames) so they do not share the sender's
 * event loop; NATS uses nats-server -js when installed.
 * Env: BENCH_FORWARD_EVENTS (default 200000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { connect } from 'nats';
import { createForwarding } from '../forward/index.js';
import { Outbox } from '../forward/outbox.js';
import { resolveForwardConfig, type DeepPartialForward, type OutboxSyncMode } from '../forward/config.js';
import { makePki, startNatsServer, which } from '../forward/receivers.js';
import { sampleEvent } from '../forward/sample-event.js';

const N = Number(process.env['BENCH_FORWARD_EVENTS'] ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-forward-'));
const quiet = { info() {}, warn() {}, error(o: object, m: string) { console.error(m, o); } };
const events = Array.from({ length: 1000 }, (_, i) => sampleEvent(i));
const eventBytes = JSON.stringify(events[0]).length;
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const results: Record<string, unknown>[] = [];

async function outboxRate(sync: OutboxSyncMode): Promise<void> {
  const ob = Outbox.open({ path: join(dir, `ob-${sync}`), maxBytes: 8 << 30, maxAgeMs: 86_400_000, fullPolicy: 'drop-oldest', sync });
  ob.cursor('none');
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const e = events[i % 1000]!;
    ob.append({ ...e, metadata: { ...e.metadata, uid: `b-${i}` } });
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r)); // a producer yields, as the sensor does
  }
  await ob.flush();
  const s = (performance.now() - t0) / 1000;
  results.push({ what: `outbox append+commit (outboxSync=${sync})`, events: N, seconds: +s.toFixed(2), eventsPerS: Math.round(N / s), commits: ob.counters.commits, peakRssMb: rssMb() });
  await ob.close();
}

const receiverCode = `
const { parentPort, workerData } = require('node:worker_threads');
const https = require('node:https'); const net = require('node:net'); const zlib = require('node:zlib');
let lines = 0, frames = 0;
const h = https.createServer({ cert: workerData.cert, key: workerData.key }, (req, res) => {
  const gz = zlib.createGunzip(); req.pipe(gz);
  gz.on('data', (c) => { for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++; });
  gz.on('end', () => { res.writeHead(200); res.end(); });
});
let buf = Buffer.alloc(0);
const t = net.createServer((s) => s.on('data', (c) => {
  buf = buf.length ? Buffer.concat([buf, c]) : c;
  let off = 0;
  for (;;) { const sp = buf.indexOf(32, off); if (sp === -1) break; const len = Number(buf.toString('latin1', off, sp)); if (sp + 1 + len > buf.length) break; off = sp + 1 + len; frames++; }
  buf = buf.subarray(off);
}));
h.listen(0, '127.0.0.1', () => t.listen(0, '127.0.0.1', () => parentPort.postMessage({ https: h.address().port, tcp: t.address().port })));
parentPort.on('message', () => parentPort.postMessage({ lines, frames }));
`;

async function sinkRate(label: string, cfg: DeepPartialForward, received?: () => Promise<number>): Promise<void> {
  const fw = createForwarding(resolveForwardConfig({ outboxSync: 'none', outboxDir: join(dir, label), ...cfg }), quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const e = events[i % 1000]!;
    fw.sink({ ...e, metadata: { ...e.metadata, uid: `${label}-${i}` } });
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
  }
  while ((fw.status().sinks[0]!['sent_events'] as number) < N) await new Promise((r) => setTimeout(r, 10));
  const s = (performance.now() - t0) / 1000;
  const rcv = received ? await received() : undefined;
  results.push({ what: `sink ${label}`, events: N, seconds: +s.toFixed(2), eventsPerS: Math.round(N / s), receivedByReceiver: rcv, errors: fw.status().sinks[0]!['errors'], peakRssMb: rssMb() });
  ac.abort();
  for (const sv of [...fw.services].reverse()) await sv.stop();
}

try {
  for (const sync of ['none', 'no-meta-sync', 'fsync'] as const) await outboxRate(sync);
  const pki = makePki(join(dir, 'pki'));
  const { readFileSync } = await import('node:fs');
  const w = new Worker(receiverCode, { eval: true, workerData: { cert: readFileSync(pki.serverCertFile, 'utf8'), key: readFileSync(pki.serverKeyFile, 'utf8') } });
  const ports = await new Promise<{ https: number; tcp: number }>((resolve) => w.once('message', resolve));
  const counts = () => new Promise<{ lines: number; frames: number }>((resolve) => { w.once('message', resolve); w.postMessage('count'); });
  let base = await counts();
  await sinkRate('https', { https: [{ name: 'https', url: `https://127.0.0.1:${ports.https}/`, tlsCaFile: pki.caFile }] }, async () => { const c = await counts(); const d = c.lines - base.lines; base = c; return d; });
  await new Promise((r) => setTimeout(r, 200));
  base = await counts();
  await sinkRate('syslog-tcp', { syslog: [{ name: 'syslog-tcp', transport: 'tcp', host: '127.0.0.1', port: ports.tcp }] }, async () => {
    for (let k = 0; k < 100; k++) { const c = await counts(); if (c.frames - base.frames >= N) break; await new Promise((r) => setTimeout(r, 20)); }
    return (await counts()).frames - base.frames;
  });
  await w.terminate();
  if (which('nats-server')) {
    const ns = await startNatsServer(join(dir, 'nats'));
    const nc = await connect({ servers: ns.url });
    await (await nc.jetstreamManager()).streams.add({ name: 'BENCH', subjects: ['bench.>'] });
    await nc.close();
    await sinkRate('nats-jetstream', { nats: [{ name: 'nats', servers: [ns.url], subject: 'bench.events' }] });
    await ns.stop();
  } else results.push({ what: 'sink nats-jetstream', skipped: 'nats-server not installed' });
  console.log(JSON.stringify({ node: process.version, eventJsonBytes: eventBytes, results }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
