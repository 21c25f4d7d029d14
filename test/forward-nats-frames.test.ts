/**
 * The NATS sink writes a batch's HPUB frames itself (src/forward/sinks/nats.ts, encodeHpubBatch).
 * The frames are read back here with a parser written from the NATS client protocol's HPUB
 * definition (`HPUB <subject> [reply-to] <#header bytes> <#total bytes>\r\n[headers]\r\n\r\n[payload]\r\n`,
 * the header block starting with the `NATS/1.0` version line), not with the sink's code; then the
 * same frames go through nats-server into a JetStream stream and the stored messages are compared
 * (subject, Nats-Msg-Id header, payload) with what nats.js's own publish() stores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers } from 'nats';
import { encodeHpubBatch, protocolOf, readPubAck } from '../src/forward/sinks/nats.js';
import type { OutboxRecord } from '../src/forward/outbox.js';
import { createForwarding } from '../src/forward/index.js';
import { resolveForwardConfig } from '../src/forward/config.js';
import { startNatsServer, waitFor, which } from './support/receivers.js';

interface Parsed { subject: string; reply: string; headerBlock: string; payload: string }

/** Parses a stream of HPUB frames (NATS client protocol); throws on anything else. */
function parseHpubStream(buf: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let o = 0;
  while (o < buf.length) {
    const eol = buf.indexOf('\r\n', o, 'latin1');
    assert.ok(eol > o, `protocol line at ${o}`);
    const parts = buf.toString('latin1', o, eol).split(' ');
    assert.equal(parts[0], 'HPUB');
    assert.equal(parts.length, 5, 'HPUB with a reply subject has four arguments');
    const [, subject, reply, hdr, tot] = parts as [string, string, string, string, string];
    assert.match(hdr, /^\d+$/);
    assert.match(tot, /^\d+$/);
    const h = Number(hdr), t = Number(tot);
    const start = eol + 2;
    const headerBlock = buf.toString('utf8', start, start + h);
    assert.ok(headerBlock.startsWith('NATS/1.0\r\n'), 'header block starts with the version line');
    assert.ok(headerBlock.endsWith('\r\n\r\n'), 'header block ends with an empty line');
    const payload = buf.toString('utf8', start + h, start + t);
    assert.equal(buf.toString('latin1', start + t, start + t + 2), '\r\n', 'frame ends with CRLF');
    out.push({ subject, reply, headerBlock, payload });
    o = start + t + 2;
  }
  return out;
}

const rec = (seq: number, uid: string, json: string): OutboxRecord => ({ seq, uid, json, appendedMs: 0, bytes: json.length });

test('HPUB frames of a batch: byte counts, header block and payload as the protocol defines them', () => {
  const batch = [
    rec(1, 'uid-1', '{"a":1}'),
    rec(2, '', '{"b":"ü€😀"}'), // no uid: the sequence number is the id; multi-byte payload
    rec(3, '  spaced  ', '{}'), // header values are trimmed (as nats.js does)
    rec(4, 'idé', '{"c":[1,2,3]}'),
  ];
  const { buf, payloadBytes } = encodeHpubBatch('outpost.events', '_INBOX.abc.7', batch);
  const frames = parseHpubStream(buf);
  assert.equal(frames.length, 4);
  assert.deepEqual(frames.map((f) => f.payload), batch.map((r) => r.json));
  assert.deepEqual(frames.map((f) => f.headerBlock), ['uid-1', 'seq-2', 'spaced', 'idé'].map((id) => `NATS/1.0\r\nNats-Msg-Id: ${id}\r\n\r\n`));
  for (const f of frames) {
    assert.equal(f.subject, 'outpost.events');
    assert.equal(f.reply, '_INBOX.abc.7');
  }
  assert.equal(payloadBytes, frames.reduce((n, f) => n + Buffer.byteLength(f.headerBlock) + Buffer.byteLength(f.payload), 0));
  assert.equal(encodeHpubBatch('s', 'r', []).buf.length, 0);
});

test('HPUB frames: an id with CR/LF or a message over max_payload fails the batch', () => {
  assert.throws(() => encodeHpubBatch('s', 'r', [rec(1, 'a\r\nX-Evil: 1', '{}')]), /\\r and \\n are not allowed/);
  assert.throws(() => encodeHpubBatch('s', 'r', [rec(1, 'a', '{"x":"' + 'y'.repeat(100) + '"}')], 64), /MAX_PAYLOAD_EXCEEDED/);
});

test('PubAck reading: success, duplicate, error and unreadable', () => {
  const b = (s: string) => new TextEncoder().encode(s);
  // As nats-server 2.9 writes them, and without the spaces.
  assert.deepEqual(readPubAck(b('{"stream":"OUTPOST", "seq":12}')), {});
  assert.deepEqual(readPubAck(b('{"stream":"OUTPOST","seq":12}')), {});
  assert.equal(readPubAck(b('{"stream":"OUTPOST", "seq":12,"duplicate": true}'))?.duplicate, true);
  assert.equal(readPubAck(b('{"stream":"OUTPOST","seq":12,"duplicate":true}'))?.duplicate, true);
  assert.equal(readPubAck(b('{"stream":"OUTPOST","seq":12,"duplicate":false}'))?.duplicate, false);
  assert.deepEqual(readPubAck(b('{"stream":"OUTPOST","domain":"hub","seq":3}')), {});
  assert.deepEqual(readPubAck(b('{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"OUTPOST","seq":0}')), { error: { code: 503, err_code: 10077, description: 'maximum messages exceeded' }, stream: 'OUTPOST', seq: 0 });
  // A stream whose name is "error" is still a success.
  assert.deepEqual(readPubAck(b('{"stream":"error","seq":1}')), { stream: 'error', seq: 1 });
  assert.equal(readPubAck(b('not json')), undefined);
  assert.equal(readPubAck(b('12')), undefined);
});

const skip = which('nats-server') ? false : 'nats-server not installed (apt-get install nats-server)';

test('JetStream stores the sink\'s frames as it stores nats.js publishes (subject, Nats-Msg-Id, payload)', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fwd-nats-frames-'));
  const ns = await startNatsServer(join(dir, 'js'));
  try {
    const nc = await connect({ servers: ns.url });
    // The sink writes frames through this handle; without it, it would fall back to publish().
    assert.ok(protocolOf(nc), 'nats.js connection exposes its protocol handler');
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'A', subjects: ['a.>'] });
    await jsm.streams.add({ name: 'B', subjects: ['b.>'] });
    const events = Array.from({ length: 300 }, (_, i) => ({ metadata: { uid: `u-${i}-é` }, n: i, s: 'x€'.repeat(i % 7) }));
    // The sink (frames written by encodeHpubBatch) into stream A.
    const fw = createForwarding(resolveForwardConfig({ outboxDir: join(dir, 'ob'), outboxSync: 'none', nats: [{ name: 'js', servers: [ns.url], subject: 'a.events', batchMaxEvents: 64 }] }), { info() {}, warn() {}, error() {} }, dir);
    const ac = new AbortController();
    for (const s of fw.services) await s.start(ac.signal);
    try {
      for (const e of events) fw.sink(e);
      await waitFor(() => fw.status().sinks[0]!['sent_events'] === events.length, 20_000, 'published');
    } finally {
      ac.abort();
      for (const s of [...fw.services].reverse()) await s.stop();
    }
    // nats.js's publish() of the same messages into stream B.
    const js = nc.jetstream();
    for (const e of events) {
      const h = headers();
      h.set('Nats-Msg-Id', e.metadata.uid);
      await js.publish('b.events', JSON.stringify(e), { headers: h });
    }
    for (let seq = 1; seq <= events.length; seq++) {
      const a = await jsm.streams.getMessage('A', { seq });
      const b = await jsm.streams.getMessage('B', { seq });
      assert.equal(a.subject, 'a.events');
      assert.equal(a.header.get('Nats-Msg-Id'), b.header.get('Nats-Msg-Id'));
      assert.equal(a.header.get('Nats-Msg-Id'), events[seq - 1]!.metadata.uid);
      assert.deepEqual(Buffer.from(a.data), Buffer.from(b.data));
    }
    await nc.close();
  } finally {
    await ns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
