/**
 * JetStream cluster failover, with real components: three Debian nats-server processes (own
 * config file, ports and store dir each, routes to each other) holding a stream with 3 replicas,
 * and the daemon's forwarding (createForwarding: outbox + SinkRunner + NatsSink) configured with
 * all three URLs. The stream leader is killed with SIGKILL mid-run; every event must be in the
 * stream exactly once (lost 0, duplicates reported) and the sink cursor must reach the head. The
 * killed node is then restarted and must catch up.
 *
 * Every wait has a deadline and every child is killed in `finally`, so a cluster that never forms
 * fails the test instead of hanging it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { createForwarding, type Forwarding } from '../src/forward/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';
import { freePort, waitFor, which } from './support/receivers.js';
import { sampleEvent } from './support/sample-event.js';

const bin = which('nats-server');
const skip = bin ? false : 'nats-server not installed (apt-get install nats-server)';
const EVENTS = 5000;
const STREAM = 'OUTPOST';

/** Reject after `ms`: no await in this test may hang. */
function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

interface Node {
  name: string;
  port: number;
  clusterPort: number;
  confFile: string;
  url: string;
  proc?: ChildProcess;
  log: string;
}

function startNode(n: Node): void {
  const proc = spawn(bin!, ['-c', n.confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  n.log = '';
  proc.stderr?.on('data', (d: Buffer) => (n.log = (n.log + d.toString()).slice(-4000)));
  n.proc = proc;
}

function exited(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

test('JetStream cluster: stream leader killed -9 mid-run, every event stored once, cursor at the head, node catches up', { skip, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-nats-cluster-'));
  const nodes: Node[] = [];
  let nc: NatsConnection | undefined;
  let fw: Forwarding | undefined;
  const ac = new AbortController();
  try {
    for (const name of ['n1', 'n2', 'n3']) {
      const port = await freePort();
      const clusterPort = await freePort();
      nodes.push({ name, port, clusterPort, confFile: join(dir, `${name}.conf`), url: `nats://127.0.0.1:${port}`, log: '' });
    }
    for (const n of nodes) {
      mkdirSync(join(dir, n.name), { recursive: true });
      writeFileSync(n.confFile, [
        `server_name: ${n.name}`,
        `listen: 127.0.0.1:${n.port}`,
        `jetstream { store_dir: ${JSON.stringify(join(dir, n.name))}, max_memory_store: 64MB, max_file_store: 512MB }`,
        'cluster {',
        '  name: outpost-test',
        `  listen: 127.0.0.1:${n.clusterPort}`,
        `  routes: [${nodes.filter((o) => o !== n).map((o) => `nats-route://127.0.0.1:${o.clusterPort}`).join(', ')}]`,
        '}',
      ].join('\n') + '\n');
      startNode(n);
    }
    const urls = nodes.map((n) => n.url);
    // waitOnFirstConnect: the servers were just spawned and may not listen yet.
    nc = await deadline(connect({ servers: urls, waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5000 }), 15_000, 'connect to the cluster');
    const jsm: JetStreamManager = await deadline(nc.jetstreamManager({ checkAPI: false }), 10_000, 'jetstream manager'); // no API check: JetStream is not up yet
    // The stream can only be created once the JetStream meta group has a leader.
    await waitFor(async () => {
      try {
        await jsm.streams.add({ name: STREAM, subjects: ['outpost.>'], num_replicas: 3, duplicate_window: 120_000_000_000 });
        return true;
      } catch {
        return false;
      }
    }, 30_000, `stream with 3 replicas (${nodes.map((n) => `${n.name}: ${n.log.slice(-300)}`).join(' | ')})`);
    const info = async () => deadline(jsm.streams.info(STREAM), 6000, 'stream info');
    await waitFor(async () => {
      try {
        const c = (await info()).cluster;
        return c?.leader !== undefined && (c.replicas ?? []).length === 2 && (c.replicas ?? []).every((r) => r.current);
      } catch {
        return false;
      }
    }, 20_000, 'stream leader and 2 current replicas');

    // The daemon's forwarding, as configured by an operator for a cluster.
    fw = createForwarding(resolveForwardConfig({
      outboxDir: join(dir, 'outbox'),
      outboxSync: 'none',
      nats: [{ name: 'js', servers: urls, subject: 'outpost.events', publishTimeoutMs: 2000, retryInitialMs: 100, retryMaxMs: 1000, batchMaxEvents: 250 }],
    }), { info() {}, warn() {}, error() {} }, dir);
    for (const s of fw.services) await deadline(s.start(ac.signal), 5000, `start ${s.name}`);
    const sent = () => fw!.status().sinks[0]!['sent_events'] as number;

    // Produce over a few seconds; kill the stream leader once a third has been acknowledged.
    const started = Date.now();
    let killed: Node | undefined;
    let killedAtSent = 0;
    const killLeader = async (): Promise<Node> => {
      const leader = (await info()).cluster?.leader;
      const node = nodes.find((n) => n.name === leader);
      assert.ok(node, `leader ${leader} is one of ours`);
      killedAtSent = sent();
      node.proc!.kill('SIGKILL');
      await deadline(exited(node.proc), 5000, 'killed node exits');
      return node;
    };
    for (let i = 0; i < EVENTS; i++) {
      fw.sink(sampleEvent(i));
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
      if (!killed && sent() >= EVENTS / 3) killed = await killLeader();
    }
    if (!killed) {
      // Production outran delivery: kill while the backlog is still being sent.
      await waitFor(() => sent() >= EVENTS / 3, 30_000, 'a third acknowledged');
      killed = await killLeader();
    }
    await waitFor(() => fw!.outbox.cursor('js').acked === fw!.outbox.headSeq && fw!.outbox.headSeq === EVENTS, 45_000,
      `cursor at the head (${JSON.stringify(fw.status().sinks[0])})`);
    const deliverMs = Date.now() - started;
    const st = fw.status().sinks[0]!;

    // What the stream holds: every message, read back by sequence from the surviving replicas.
    const si = await info();
    const uids = new Map<string, number>();
    const dec = new TextDecoder();
    const seqs = Array.from({ length: si.state.last_seq - si.state.first_seq + 1 }, (_, k) => si.state.first_seq + k);
    for (let k = 0; k < seqs.length; k += 200) {
      const msgs = await deadline(Promise.all(seqs.slice(k, k + 200).map((seq) => jsm.streams.getMessage(STREAM, { seq }))), 20_000, 'read the stream');
      for (const m of msgs) {
        const uid = (JSON.parse(dec.decode(m.data)) as { metadata: { uid: string } }).metadata.uid;
        uids.set(uid, (uids.get(uid) ?? 0) + 1);
      }
    }
    const expected = new Set(Array.from({ length: EVENTS }, (_, i) => sampleEvent(i).metadata.uid));
    const lost = [...expected].filter((u) => !uids.has(u)).length;
    const duplicates = [...uids.values()].reduce((a, c) => a + c - 1, 0);
    const unexpected = [...uids.keys()].filter((u) => !expected.has(u)).length;
    console.log(`cluster: ${EVENTS} events, leader ${killed.name} killed at ${killedAtSent} acknowledged, new leader ${si.cluster?.leader}; ` +
      `stream messages ${si.state.messages}, unique ${uids.size}, lost ${lost}, duplicates ${duplicates}; ` +
      `sink errors ${String(st['errors'])}, retries ${String(st['retries'])}, jetstream_duplicates ${String(st['jetstream_duplicates'])}, connects ${String(st['connects'])}; ${deliverMs} ms`);
    assert.equal(lost, 0, 'lost');
    assert.equal(unexpected, 0);
    assert.equal(uids.size, EVENTS, 'unique event uids in the stream == events sent');
    assert.equal(duplicates, 0, 'msg-id de-duplication across the failover');
    assert.notEqual(si.cluster?.leader, killed.name, 'a new leader took over');

    // The killed node comes back (same config, same store) and catches up with the stream.
    startNode(killed);
    const back = killed;
    await waitFor(async () => {
      try {
        const c = (await info()).cluster;
        const all = [{ name: c?.leader, current: true, lag: 0 }, ...(c?.replicas ?? [])];
        const r = all.find((x) => x.name === back.name);
        return r !== undefined && r.current === true && (r.lag ?? 0) === 0;
      } catch {
        return false;
      }
    }, 30_000, `${back.name} current again (${back.log.slice(-500)})`);
    const after = await info();
    assert.equal(after.state.messages, EVENTS);
  } finally {
    ac.abort();
    for (const s of [...(fw?.services ?? [])].reverse()) await deadline(s.stop(), 10_000, `stop ${s.name}`).catch(() => {});
    if (nc) await deadline(nc.close(), 5000, 'close test connection').catch(() => {});
    for (const n of nodes) n.proc?.kill('SIGKILL');
    await Promise.all(nodes.map((n) => deadline(exited(n.proc), 5000, `${n.name} exits`).catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
  }
});
