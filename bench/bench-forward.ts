/**
 * npm run bench:forward — events/s through each sink on loopback, the outbox's write rate per
 * sync mode, and peak RSS. Receivers run in a worker thread (HTTPS: node:https counting NDJSON
 * lines; syslog TCP: a socket that counts complete RFC 6587 frames) so they do not share the
 * sender's event loop; NATS uses nats-server -js when installed. Every sink gets the same events.
 * A sink's time runs from the first event produced until its cursor acknowledged all N events
 * and, where a receiver counts (HTTPS, syslog TCP), the receiver holds all N: a syslog TCP
 * acknowledgement is only the kernel accepting the write, so the cursor alone would stop the
 * clock while the last socket buffers' worth is still on its way (`ackedSeconds` is that time).
 * Env: BENCH_FORWARD_EVENTS (default 200000); BENCH_FORWARD_ONLY: comma-separated subset of
 * outbox,https,syslog-tcp,nats,down (default all). 'outbox': append + commit for each outboxSync
 * mode, with the producer yielding every 5,000 events (N events) and after every event (N/10
 * events; one commit per event-loop turn), after an untimed warm-up. 'down': HTTPS and syslog
 * TCP sinks whose receivers are down while N events fill the outbox; RSS and heap sampled every
 * N/10 events.
 * BENCH_FORWARD_SINK: JSON merged into each measured sink's settings (e.g. {"maxInFlightBatches":1}).
 * BENCH_FORWARD_OUTBOX: JSON merged into the forwarding settings of the sink phases (e.g.
 * {"outboxRecentMaxMb":0}).
 * BENCH_FORWARD_MAX_LAG (default 0): 0, the producer never waits (a burst of N events ahead of the
 * sink, the shape the forwarding figures have always been measured in: the whole backlog passes
 * through the outbox's memory map, see BENCHMARKS.md); N > 0, the producer feeds in turns of 5,000
 * events and, before each turn, waits while more than N produced events are not yet acknowledged
 * by the sink, as a sensor whose event rate the sink keeps up with.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { connect } from 'nats';
import type { DeepPartialForward, OutboxSyncMode } from '../src/forward/config.js';
import { built, PROJECT_ROOT } from './bench-common.js';
import { makePki, startNatsServer, which } from '../test/support/receivers.js';
import { sampleEvent } from '../test/support/sample-event.js';

// The built forwarding (dist/), the code that ships; `npm run build` first.
const { createForwarding } = await built<typeof import('../src/forward/index.js')>('forward/index.js');
const { Outbox } = await built<typeof import('../src/forward/outbox.js')>('forward/outbox.js');
const { resolveForwardConfig } = await built<typeof import('../src/forward/config.js')>('forward/config.js');

const N = Number(process.env['BENCH_FORWARD_EVENTS'] ?? 200_000);
const ONLY = (process.env['BENCH_FORWARD_ONLY'] ?? 'outbox,https,syslog-tcp,nats,down').split(',');
const want = (what: string) => ONLY.includes(what);
const MAX_LAG = Number(process.env['BENCH_FORWARD_MAX_LAG'] ?? 0);
const SINK_OPTS = JSON.parse(process.env['BENCH_FORWARD_SINK'] ?? '{}') as Record<string, unknown>;
const OUTBOX_OPTS = JSON.parse(process.env['BENCH_FORWARD_OUTBOX'] ?? '{}') as Record<string, unknown>;
const dir = mkdtempSync(join(tmpdir(), 'bench-forward-'));
const quiet = { info() {}, warn() {}, error(o: object, m: string) { console.error(m, o); } };
const events = Array.from({ length: 1000 }, (_, i) => sampleEvent(i));
const eventBytes = JSON.stringify(events[0]).length;
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
/**
 * Peaks of the parts of RSS while a phase runs, sampled every 20 ms (the main thread is busy, so
 * samples land between turns): RssAnon (the process's own memory: heap, buffers, the worker's
 * isolate) and RssFile (pages of LMDB's memory map that were touched), from /proc/self/status.
 */
function rssParts(): { stop(): { peakRssAnonMb: number; peakRssFileMb: number; peakHeapUsedMb: number; peakExternalMb: number; peakArrayBuffersMb: number } | Record<string, never> } {
  let status: () => string;
  try {
    readFileSync('/proc/self/status', 'utf8');
    status = () => readFileSync('/proc/self/status', 'utf8');
  } catch {
    return { stop: () => ({}) }; // not Linux
  }
  const kb = (s: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  let anon = 0, file = 0, heap = 0, ext = 0, abuf = 0;
  const sample = () => {
    const s = status();
    anon = Math.max(anon, kb(s, 'RssAnon'));
    file = Math.max(file, kb(s, 'RssFile'));
    const m = process.memoryUsage();
    heap = Math.max(heap, m.heapUsed);
    ext = Math.max(ext, m.external); // includes arrayBuffers (Node's memoryUsage(); the bench added them twice before)
    abuf = Math.max(abuf, m.arrayBuffers);
  };
  const timer = setInterval(sample, 20);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return { peakRssAnonMb: Math.round(anon / 1024), peakRssFileMb: Math.round(file / 1024), peakHeapUsedMb: Math.round(heap / 1048576), peakExternalMb: Math.round(ext / 1048576), peakArrayBuffersMb: Math.round(abuf / 1048576) };
    },
  };
}
const results: Record<string, unknown>[] = [];

/** Appends `n` events, yielding to the event loop every `every` events (each yield lets the outbox commit what is queued). */
async function outboxRate(sync: OutboxSyncMode, n: number, every: number, record = true): Promise<void> {
  const ob = Outbox.open({ path: join(dir, `ob-${sync}-${every}`), maxBytes: 8 * 1024 ** 3, maxAgeMs: 86_400_000, fullPolicy: 'drop-oldest', sync });
  ob.cursor('none');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const e = events[i % 1000]!;
    ob.append({ ...e, metadata: { ...e.metadata, uid: `b-${i}` } });
    if (i % every === every - 1) await new Promise((r) => setImmediate(r)); // a producer yields, as the sensor does
  }
  await ob.flush();
  const s = (performance.now() - t0) / 1000;
  if (record) results.push({ what: `outbox append+commit (outboxSync=${sync}, yield every ${every})`, events: n, seconds: +s.toFixed(2), eventsPerS: Math.round(n / s), commits: ob.counters.commits, peakRssMb: rssMb() });
  await ob.close();
}

/**
 * The receivers run in a child process of their own (IPC for the ports and counts): in a worker
 * thread of the sending process, as before, their isolate, TLS and gunzip buffers counted in the
 * sender's peak RSS, which is meant to measure the forwarding path alone.
 */
const receiverCode = `
const parentPort = { postMessage: (m) => process.send(m), on: (ev, f) => process.on(ev, f) };
const workerData = JSON.parse(process.env.BENCH_RECEIVER_DATA);
const https = require('node:https'); const net = require('node:net'); const zlib = require('node:zlib');
let lines = 0, frames = 0;
const h = https.createServer({ cert: workerData.cert, key: workerData.key }, (req, res) => {
  const gz = zlib.createGunzip(); req.pipe(gz);
  gz.on('data', (c) => { for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++; });
  gz.on('end', () => { res.writeHead(200); res.end(); });
});
const t = net.createServer((s) => {
  let buf = Buffer.alloc(0); // per connection: a reconnect must not splice two streams
  s.on('data', (c) => {
    buf = buf.length ? Buffer.concat([buf, c]) : c;
    let off = 0;
    for (;;) { const sp = buf.indexOf(32, off); if (sp === -1) break; const len = Number(buf.toString('latin1', off, sp)); if (sp + 1 + len > buf.length) break; off = sp + 1 + len; frames++; }
    buf = buf.subarray(off);
  });
});
h.listen(0, '127.0.0.1', () => t.listen(0, '127.0.0.1', () => parentPort.postMessage({ https: h.address().port, tcp: t.address().port })));
parentPort.on('message', () => parentPort.postMessage({ lines, frames }));
`;

async function sinkRate(label: string, cfg: DeepPartialForward, received?: () => Promise<number>): Promise<void> {
  const fw = createForwarding(resolveForwardConfig({ outboxSync: 'none', outboxDir: join(dir, label), ...OUTBOX_OPTS, ...cfg }), quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  const parts = rssParts();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const e = events[i % 1000]!;
    fw.sink({ ...e, metadata: { ...e.metadata, uid: `${label}-${i}` } });
    if (i % 5000 === 4999) {
      await new Promise((r) => setImmediate(r));
      // Feed in turns: the next turn waits until the sink is within MAX_LAG events.
      while (MAX_LAG > 0 && i + 1 - (fw.status().sinks[0]!['sent_events'] as number) > MAX_LAG) await new Promise((r) => setTimeout(r, 1));
    }
  }
  while ((fw.status().sinks[0]!['sent_events'] as number) < N) await new Promise((r) => setTimeout(r, 5));
  const acked = (performance.now() - t0) / 1000;
  // CPU time of the sending process (all its threads) until the last acknowledgement: less
  // dependent on other load of the machine than the elapsed time.
  const cpu = process.cpuUsage(cpu0);
  let rcv = received ? await received() : undefined;
  for (const until = performance.now() + 10_000; rcv !== undefined && rcv < N && performance.now() < until; rcv = await received!()) await new Promise((r) => setTimeout(r, 5));
  const s = (performance.now() - t0) / 1000;
  const sinkStats = fw.status().sinks[0]!;
  const ob = fw.status().outbox;
  results.push({ what: `sink ${label}`, events: N, maxLagEvents: MAX_LAG, seconds: +s.toFixed(2), ackedSeconds: +acked.toFixed(2), eventsPerS: Math.round(N / s), receivedByReceiver: rcv, errors: sinkStats['errors'], ...(sinkStats['format_worker_failures'] ? { formatWorkerFailures: sinkStats['format_worker_failures'] } : {}), peakRssMb: rssMb(), ...parts.stop(), uncommittedMaxMs: ob['forward.outbox.uncommitted_max_ms'], lateCommitted: ob['forward.outbox.late_committed'], cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2) });
  ac.abort();
  for (const sv of [...fw.services].reverse()) await sv.stop();
}

/** Receivers down (closed ports): the outbox fills, the sinks retry; memory must stay flat. */
async function receiversDown(): Promise<void> {
  const closed = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
  const retry = { retryInitialMs: 100, retryMaxMs: 1000 };
  const fw = createForwarding(resolveForwardConfig({
    outboxSync: 'none', outboxDir: join(dir, 'down'),
    https: [{ name: 'https-down', url: `https://127.0.0.1:${closed}/`, ...retry }],
    syslog: [{ name: 'syslog-down', transport: 'tcp', host: '127.0.0.1', port: closed, ...retry }],
  }), quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  const mb = (b: number) => Math.round(b / 1048576);
  const samples: Array<{ events: number; rssMb: number; rssAnonMb?: number; rssFileMb?: number; heapUsedMb: number }> = [];
  // RssFile: pages of LMDB's memory map (the outbox file, page cache, reclaimable); RssAnon: the
  // process's own memory. With --expose-gc the heap is collected first, so garbage not yet
  // collected does not hide a leak.
  const procKb = (status: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  const sample = (events: number) => {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    let status = '';
    try { status = readFileSync('/proc/self/status', 'utf8'); } catch { /* not Linux */ }
    const anon = procKb(status, 'RssAnon');
    const file = procKb(status, 'RssFile');
    samples.push({ events, rssMb: mb(m.rss), ...(Number.isNaN(anon) ? {} : { rssAnonMb: Math.round(anon / 1024), rssFileMb: Math.round(file / 1024) }), heapUsedMb: mb(m.heapUsed) });
  };
  sample(0);
  const step = Math.max(5000, Math.floor(N / 10));
  for (let i = 0; i < N; i++) {
    const e = events[i % 1000]!;
    fw.sink({ ...e, metadata: { ...e.metadata, uid: `down-${i}` } });
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
    if ((i + 1) % step === 0) {
      await new Promise((r) => setTimeout(r, 50)); // let the sinks fail and retry
      sample(i + 1);
    }
  }
  const st = fw.status();
  const sinks = st.sinks.map((x) => ({ name: x['name'], sent: x['sent_events'], lag: x['lag_events'], errors: x['errors'] }));
  const rss = samples.map((x) => x.rssMb);
  results.push({ what: 'receivers down (https + syslog tcp), outbox filling', events: N, outboxMb: mb(Number(st.outbox['forward.outbox.bytes'])), rssFirstMb: samples[1]?.rssMb, rssLastMb: samples.at(-1)?.rssMb, rssMaxMb: Math.max(...rss), rssAnonFirstMb: samples[1]?.rssAnonMb, rssAnonLastMb: samples.at(-1)?.rssAnonMb, heapFirstMb: samples[1]?.heapUsedMb, heapLastMb: samples.at(-1)?.heapUsedMb, samples, sinks });
  ac.abort();
  for (const sv of [...fw.services].reverse()) await sv.stop();
}

/**
 * Without BENCH_FORWARD_ONLY every phase runs in its own child process, so that one phase's heap,
 * LMDB maps and RSS do not weigh on the next (they did: run after the outbox phase in one
 * process, the sinks measured 20-45 % slower) and peakRssMb is per phase.
 */
if (process.env['BENCH_FORWARD_ONLY'] === undefined) {
  const { spawnSync } = await import('node:child_process');
  // Each phase runs in plain node, from a bundle of this script made here (esbuild, which tsx
  // already brings): the daemon runs compiled JavaScript without a TypeScript loader, and tsx's
  // loader (about 29 MB of RSS, loaded again by the syslog format worker, which inherits
  // execArgv) is not part of the forwarding path whose peak RSS is measured. The forwarding
  // code itself is dist/'s either way (`built` above). BENCH_FORWARD_ONLY=<phase> run directly
  // under tsx still works, loader included.
  const { buildSync } = await import('esbuild');
  const bundle = join(PROJECT_ROOT, 'bench-cache', 'bench-forward.mjs');
  buildSync({ entryPoints: [fileURLToPath(import.meta.url)], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: bundle, logLevel: 'error' });
  const all: unknown[] = [];
  for (const phase of ['outbox', 'https', 'syslog-tcp', 'nats', 'down']) {
    const args = [...(phase === 'down' ? ['--expose-gc'] : []), bundle];
    const r = spawnSync(process.execPath, args, { env: { ...process.env, BENCH_FORWARD_ONLY: phase }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`bench phase ${phase} failed (exit ${r.status})`);
    all.push(...(JSON.parse(r.stdout) as { results: unknown[] }).results);
  }
  console.log(JSON.stringify({ node: process.version, eventJsonBytes: eventBytes, results: all }, null, 2));
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

try {
  if (want('down')) await receiversDown();
  if (want('outbox')) {
    // Untimed warm-up, so that the first mode measured does not also pay for JIT compilation.
    await outboxRate('none', Math.round(N / 4), 5000, false);
    await outboxRate('none', Math.round(N / 40), 1, false);
    for (const sync of ['none', 'no-meta-sync', 'fsync'] as const) await outboxRate(sync, N, 5000);
    for (const sync of ['none', 'no-meta-sync', 'fsync'] as const) await outboxRate(sync, Math.max(1, Math.round(N / 10)), 1);
  }
  if (!want('https') && !want('syslog-tcp') && !want('nats')) {
    console.log(JSON.stringify({ node: process.version, eventJsonBytes: eventBytes, results }, null, 2));
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
  const pki = makePki(join(dir, 'pki'));
  const w = spawn(process.execPath, ['-e', receiverCode], { env: { ...process.env, BENCH_RECEIVER_DATA: JSON.stringify({ cert: readFileSync(pki.serverCertFile, 'utf8'), key: readFileSync(pki.serverKeyFile, 'utf8') }) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ports = await new Promise<{ https: number; tcp: number }>((resolve) => w.once('message', resolve as (m: unknown) => void));
  const counts = () => new Promise<{ lines: number; frames: number }>((resolve) => { w.once('message', resolve as (m: unknown) => void); w.send('count'); });
  let base = await counts();
  const since = (k: 'lines' | 'frames') => async () => (await counts())[k] - base[k];
  if (want('https')) await sinkRate('https', { https: [{ name: 'https', url: `https://127.0.0.1:${ports.https}/`, tlsCaFile: pki.caFile, ...SINK_OPTS }] }, since('lines'));
  await new Promise((r) => setTimeout(r, 200));
  base = await counts();
  if (want('syslog-tcp')) await sinkRate('syslog-tcp', { syslog: [{ name: 'syslog-tcp', transport: 'tcp', host: '127.0.0.1', port: ports.tcp, ...SINK_OPTS }] }, since('frames'));
  w.kill();
  if (!want('nats')) {
    // not selected
  } else if (which('nats-server')) {
    const ns = await startNatsServer(join(dir, 'nats'));
    const nc = await connect({ servers: ns.url });
    await (await nc.jetstreamManager()).streams.add({ name: 'BENCH', subjects: ['bench.>'] });
    await nc.close();
    // CPU time of nats-server over the phase (utime + stime of /proc/<pid>/stat, clock ticks of
    // 10 ms): on 2 vCPUs the server's share bounds what the sender can reach.
    const serverCpu = () => {
      try {
        const f = readFileSync(`/proc/${ns.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      } catch {
        return NaN; // not Linux
      }
    };
    const cpuBefore = serverCpu();
    await sinkRate('nats-jetstream', { nats: [{ name: 'nats', servers: [ns.url], subject: 'bench.events', ...SINK_OPTS }] });
    const natsServerCpuSeconds = +(serverCpu() - cpuBefore).toFixed(2);
    if (!Number.isNaN(natsServerCpuSeconds)) results[results.length - 1]!['natsServerCpuSeconds'] = natsServerCpuSeconds;
    await ns.stop();
  } else results.push({ what: 'sink nats-jetstream', skipped: 'nats-server not installed' });
  console.log(JSON.stringify({ node: process.version, eventJsonBytes: eventBytes, results }, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
