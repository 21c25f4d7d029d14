/**
 * The HTTPS sink's SIEM envelopes against receivers written here from the documented behaviours:
 *
 * - Splunk HTTP Event Collector: POST /services/collector/event with `Authorization: Splunk
 *   <token>`, event envelopes (`time` in epoch seconds, `event`), the `X-Splunk-Request-Channel`
 *   header; with indexer acknowledgement the response carries `ackId` and POST
 *   /services/collector/ack?channel=<c> with {"acks":[id]} answers {"acks":{"id":true|false}};
 *   "Server is busy" is 503 with code 9.
 * - Elasticsearch `_bulk`: NDJSON action + document lines; the response has `errors` and one
 *   item per action with its own status (`create` of an existing _id: 409
 *   version_conflict_engine_exception; a bad document: 400 mapper_parsing_exception; an
 *   overloaded node: 429 es_rejected_execution_exception).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { makePki, which, type Pki } from './support/receivers.js';
import { sampleEvent } from './support/sample-event.js';
import { createForwarding, type Forwarding } from '../src/forward/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';

const skip = which('openssl') ? false : 'openssl not installed';
const quiet = { info() {}, warn() {}, error() {} };

async function serve(pki: Pki, handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: readFileSync(pki.serverCertFile), key: readFileSync(pki.serverKeyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      handler(req, res, req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const t = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(t) });
  res.end(t);
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The running forwarder's stop, called in `finally` too: a failed assertion must not leave it running. */
let stopRef: (() => Promise<void>) | undefined;

async function start(dir: string, https: Record<string, unknown>): Promise<{ fw: Forwarding; stop: () => Promise<void> }> {
  const fw = createForwarding(resolveForwardConfig({ outboxSync: 'none', https: [{ retryInitialMs: 20, retryMaxMs: 100, ...https }] }), quiet, join(dir, 'data'));
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  return { fw, stop: async () => { ac.abort(); for (const s of [...fw.services].reverse()) await s.stop(); } };
}

/** Concatenated JSON objects (HEC accepts them with or without whitespace between). */
function splitObjects(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0, start = -1, inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) { if (c === '\\') i++; else if (c === '"') inStr = false; continue; }
    if (c === '"') inStr = true;
    else if (c === '{') { if (depth++ === 0) start = i; }
    else if (c === '}') { if (--depth === 0) out.push(JSON.parse(text.slice(start, i + 1))); }
  }
  return out;
}

test('splunk-hec: envelopes, token, channel; busy server retried; indexer acknowledgement awaited, and a batch never acknowledged is sent again', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hec-'));
  const pki = makePki(join(dir, 'pki'));
  const token = 'hec-token-1';
  let posts = 0, nextAck = 0;
  const pending = new Map<number, { uids: string[]; queries: number; never: boolean }>();
  const indexed: string[] = [];
  const channels = new Set<string>();
  const { server, port } = await serve(pki, (req, res, body) => {
    const url = new URL(req.url ?? '/', 'https://x');
    if (req.headers['authorization'] !== `Splunk ${token}`) return json(res, 401, { text: 'Invalid authorization', code: 3 });
    const channel = req.headers['x-splunk-request-channel'];
    if (typeof channel !== 'string' || channel === '') return json(res, 400, { text: 'Data channel is missing', code: 10 });
    channels.add(channel);
    if (url.pathname === '/services/collector/event') {
      posts++;
      if (posts === 2) return json(res, 503, { text: 'Server is busy', code: 9 });
      const evs = splitObjects(body.toString('utf8')) as Array<{ time?: unknown; sourcetype?: unknown; event?: { metadata?: { uid?: string }; time?: number } }>;
      for (const e of evs) {
        assert.equal(typeof e.time, 'number');
        assert.equal(Math.round((e.time as number) * 1000), e.event!.time, 'time: the event time in epoch seconds');
        assert.equal(e.sourcetype, 'ocsf');
      }
      const id = nextAck++;
      // The third batch is never reported indexed (an indexer lost it): the sink must send it again.
      pending.set(id, { uids: evs.map((e) => e.event!.metadata!.uid!), queries: 0, never: id === 2 });
      return json(res, 200, { text: 'Success', code: 0, ackId: id });
    }
    if (url.pathname === '/services/collector/ack') {
      assert.equal(url.searchParams.get('channel'), channel);
      const { acks } = JSON.parse(body.toString('utf8')) as { acks: number[] };
      const out: Record<string, boolean> = {};
      for (const id of acks) {
        const p = pending.get(id);
        if (!p) { out[id] = false; continue; }
        // Indexed after the second query (acknowledgement lags indexing).
        if (!p.never && ++p.queries >= 2) {
          if (p.queries === 2) indexed.push(...p.uids);
          out[id] = true;
        } else out[id] = false;
      }
      return json(res, 200, { acks: out });
    }
    json(res, 404, { text: 'not found', code: 404 });
  });
  try {
    const started = await start(dir, {
      name: 'splunk', url: `https://localhost:${port}/services/collector/event`, format: 'splunk-hec', tlsCaFile: pki.caFile, bearerToken: token,
      splunkIndexerAck: true, splunkAckPollMs: 20, splunkAckTimeoutMs: 400, batchMaxEvents: 40, maxInFlightBatches: 1,
    });
    stopRef = started.stop;
    const { fw } = started;
    const n = 200;
    for (let i = 0; i < n; i++) fw.sink(sampleEvent(i));
    await fw.outbox.flush();
    await waitFor(() => (fw.status().sinks[0]!['lag_events'] as number) === 0, 30_000, 'the HEC sink to catch up');
    const unique = new Set(indexed);
    assert.equal(unique.size, n, 'every event acknowledged as indexed');
    const st = fw.status().sinks[0]!;
    assert.equal(st['splunk_ack_timeouts'], 1, 'the batch never acknowledged timed out once');
    assert.ok((st['retries'] as number) >= 2, 'the busy reply and the ack timeout were retried');
    assert.equal(channels.size, 1, 'one channel per sink');
    assert.equal(st['dead_lettered'], 0);
    await stopRef?.();
    stopRef = undefined;
  } finally {
    await stopRef?.().catch(() => undefined);
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('elastic-bulk: per-item errors: rejected items go to the dead letters, the rest are acknowledged; 429 items retried; re-sends do not index twice', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulk-'));
  const pki = makePki(join(dir, 'pki'));
  const docs = new Map<string, unknown>();
  const bad = new Set(['ev-000000007', 'ev-000000050', 'ev-000000051', 'ev-000000199']);
  const busyOnce = new Set(['ev-000000120', 'ev-000000121']);
  let requests = 0;
  const { server, port } = await serve(pki, (req, res, body) => {
    const url = new URL(req.url ?? '/', 'https://x');
    if (req.method !== 'POST' || url.pathname !== '/_bulk') return json(res, 404, { error: 'no handler' });
    if (req.headers['authorization'] !== 'ApiKey a2V5') return json(res, 401, { error: { type: 'security_exception' }, status: 401 });
    assert.equal(req.headers['content-type'], 'application/x-ndjson');
    requests++;
    const lines = body.toString('utf8').split('\n');
    assert.equal(lines.pop(), '', 'the body ends with a newline');
    const items: unknown[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i]!) as { create?: { _index: string; _id: string } };
      assert.ok(action.create, 'create actions');
      const { _index, _id } = action.create;
      assert.equal(_index, 'ocsf-lab');
      const doc = JSON.parse(lines[i + 1]!) as { metadata: { uid: string } };
      assert.equal(doc.metadata.uid, _id, '_id is the event uid');
      let status = 201;
      let error: unknown;
      if (bad.has(_id)) { status = 400; error = { type: 'mapper_parsing_exception', reason: 'failed to parse field [time]' }; }
      else if (busyOnce.delete(_id)) { status = 429; error = { type: 'es_rejected_execution_exception', reason: 'rejected execution' }; }
      else if (docs.has(_id)) { status = 409; error = { type: 'version_conflict_engine_exception', reason: 'document already exists' }; }
      else docs.set(_id, doc);
      if (status >= 300) errors = true;
      items.push({ create: { _index, _id, status, ...(error ? { error } : { result: 'created' }) } });
    }
    json(res, 200, { took: 3, errors, items });
  });
  try {
    const started = await start(dir, {
      name: 'es', url: `https://localhost:${port}/_bulk`, format: 'elastic-bulk', elasticIndex: 'ocsf-lab', tlsCaFile: pki.caFile,
      bearerToken: 'a2V5', authScheme: 'ApiKey', batchMaxEvents: 50,
    });
    stopRef = started.stop;
    const { fw } = started;
    const n = 200;
    for (let i = 0; i < n; i++) fw.sink(sampleEvent(i));
    await fw.outbox.flush();
    await waitFor(() => (fw.status().sinks[0]!['lag_events'] as number) === 0, 20_000, 'the bulk sink to catch up');
    const st = fw.status().sinks[0]!;
    assert.equal(docs.size, n - bad.size, 'every good document indexed once');
    for (const u of bad) assert.ok(!docs.has(u));
    assert.equal(st['dead_lettered'], bad.size);
    assert.equal(st['items_rejected'], bad.size);
    assert.equal(st['items_retried'], 2);
    assert.equal(st['items_duplicate'], 50 - 2 - 0, 'the retried batch: its other items came back 409');
    assert.equal(st['sent_events'], n - bad.size, 'delivered: every good event (the attempt retried for its 429 items counts nothing)');
    const dead = fw.deadLetters('es', 100);
    assert.deepEqual(dead.map((d) => d.uid).sort(), [...bad].sort());
    for (const d of dead) {
      assert.equal(d.status, 400);
      assert.match(d.reason, /mapper_parsing_exception/);
    }
    assert.equal((st['last_error'] as { code: string }).code, 'FORWARD_SINK_ITEMS_REJECTED');
    assert.equal(requests, 5, 'four batches, one sent again for its 429 items');
    await stopRef?.();
    stopRef = undefined;
  } finally {
    await stopRef?.().catch(() => undefined);
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
