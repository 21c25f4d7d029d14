/**
 * The syslog sink's formatter without a receiver: CEF rev 25 escaping (header: `\` `|`, line
 * breaks as spaces; extension: `\` `=`, line breaks as `\n` / `\r`), the fast paths (numbers,
 * timestamps, cached names) against the plain definitions they replace, RFC 6587 octet counting
 * of multi-byte text, the worker thread producing the same bytes as the main thread, and batches
 * in flight sharing one connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { resolveForwardConfig } from '../src/forward/config.js';
import { SyslogSink } from '../src/forward/sinks/syslog.js';
import { cefPrefix, escapeExtension, escapeHeader, numStr, octetFrame, rfc5424Middle, rfc5424Time, toCef, toRfc5424 } from '../src/forward/cef.js';
import { FormatWorker, SyslogFormatter, WORKER_MIN_EVENTS, type SyslogFormatSettings } from '../src/forward/sinks/syslog-format.js';
import { sampleEvent } from './support/sample-event.js';
import { mulberry32 as rng } from './support/prng.js';


// The escaping as the spec states it (one regex pass), the oracle for the char-code loops.
const refHeader = (s: string) => s.replace(/[\\|]|\r\n|[\r\n]/g, (c) => (c === '\\' ? '\\\\' : c === '|' ? '\\|' : ' '));
const refExtension = (s: string) => s.replace(/[\\=]|\r\n|[\r\n]/g, (c) => (c === '\\' ? '\\\\' : c === '=' ? '\\=' : c === '\r' ? '\\r' : '\\n'));
const PIECES = ['a', '|', '=', '\\', '\r', '\n', '\r\n', '\n\r', ' ', 'é', '😀', '\ud800', '"', '\t', 'xyz', '\\n', '=='];
function randomText(r: () => number): string {
  let s = '';
  for (let n = Math.floor(r() * 7); n > 0; n--) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

test('header escaping: \\ and | escaped, CR, LF and CRLF become one space, = kept', () => {
  assert.equal(escapeHeader('a|b\\c\nd'), 'a\\|b\\\\c d');
  assert.equal(escapeHeader('\r\n'), ' ');
  assert.equal(escapeHeader('a\r\rb'), 'a  b');
  assert.equal(escapeHeader('a\n\rb'), 'a  b');
  assert.equal(escapeHeader('|x|'), '\\|x\\|');
  assert.equal(escapeHeader('k=v'), 'k=v');
  assert.equal(escapeHeader(''), '');
});

test('extension escaping: \\ = escaped, CRLF and LF as \\n, lone CR as \\r, | kept', () => {
  assert.equal(escapeExtension('a=b\\c|d\r\ne\rf'), 'a\\=b\\\\c|d\\ne\\rf');
  assert.equal(escapeExtension('\r\r\n'), '\\r\\n');
  assert.equal(escapeExtension('\n\r'), '\\n\\r');
  assert.equal(escapeExtension('=\\'), '\\=\\\\');
  assert.equal(escapeExtension('end\r'), 'end\\r');
  assert.equal(escapeExtension('a|b'), 'a|b');
  assert.equal(escapeExtension(''), '');
});

test('escaping equals the one-pass regex definition on random text (and copies nothing without specials)', () => {
  const r = rng(1);
  for (let i = 0; i < 20_000; i++) {
    const s = randomText(r);
    assert.equal(escapeHeader(s), refHeader(s), JSON.stringify(s));
    assert.equal(escapeExtension(s), refExtension(s), JSON.stringify(s));
  }
  const plain = 'host-1.example.com';
  assert.equal(escapeExtension(plain), plain);
  assert.equal(escapeHeader(plain), plain);
});

test('numStr writes what String() writes', () => {
  const fixed = [0, -0, 1, -1, 1e9 - 1, 1e9, 1e9 + 1, 2 ** 31, 2 ** 32, 1_700_000_000_000, 1_700_000_000_007, 999_999_999_999, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 60, 1e21, 1.5, 1e9 + 0.5, -1e12, NaN, Infinity, -Infinity, 5e-324];
  for (const v of fixed) assert.equal(numStr(v), String(v), String(v));
  const r = rng(2);
  for (let i = 0; i < 50_000; i++) {
    const v = Math.floor(r() * 2 ** 53);
    assert.equal(numStr(v), String(v));
    const d = r() * 10 ** Math.floor(r() * 22);
    assert.equal(numStr(d), String(d));
  }
});

test('RFC 5424 TIMESTAMP equals toISOString; NILVALUE for times a Date cannot hold', () => {
  const r = rng(3);
  for (let i = 0; i < 20_000; i++) {
    const t = Math.floor(r() * 253_402_300_800_000);
    assert.equal(rfc5424Time(t), new Date(t).toISOString());
    assert.equal(rfc5424Time(t + 1), new Date(t + 1).toISOString()); // same second as the cached one, mostly
  }
  for (const t of [0, 999, 1000, 1_700_000_000_999, 253_402_300_799_999, 253_402_300_800_000, -1, -1500.5, 1.7, 8.64e15, -8.64e15]) {
    assert.equal(rfc5424Time(t), new Date(t).toISOString(), String(t));
  }
  for (const t of [NaN, Infinity, -Infinity, 8.64e15 + 1, 1e20]) assert.equal(rfc5424Time(t), '-', String(t));
  // An event with such a time still formats (toISOString would throw and fail the batch for ever).
  const msg = toRfc5424({ time: 1e20, class_uid: 4001 }, 'CEF', { facility: 16, hostname: 'h', appName: 'a', procId: '1' });
  assert.equal(msg, '<134>1 - h a 1 ocsf4001 - CEF');
});

test('toCef: numbers, labels, absent and empty values, escaped header Name', () => {
  const p = cefPrefix({ vendor: 'V', product: 'P', version: '1' });
  // A Network Activity event (class_uid 4001: its traffic and connection rows apply).
  const cef = toCef({ class_uid: 4001, class_name: 'C|1', activity_name: 'Op\nen', type_uid: 400101, severity_id: 4, time: 1_700_000_000_123, message: '', src_endpoint: { ip: '10.0.0.1', port: 0, hostname: null }, traffic: { packets_out: null, packets_in: 3, bytes_out: 2 ** 40 }, connection_info: { direction_id: 1, protocol_name: 'udp', uid: 7 } }, p);
  // A custom field whose value is left out (packets_out null) has no label either; `in` is the
  // bytes from source to destination (OCSF bytes_out, CEF rev 25).
  assert.equal(cef, 'CEF:0|V|P|1|400101|C\\|1: Op en|7|rt=1700000000123 act=Op\\nen src=10.0.0.1 spt=0 proto=UDP deviceDirection=0 in=1099511627776 cn2=3 cn2Label=packetsDstToSrc cs1=7 cs1Label=connectionUid');
  // The cached Name follows class and activity.
  assert.match(toCef({ class_name: 'C|1', activity_name: 'Close' }, p), /^CEF:0\|V\|P\|1\|0\|C\\\|1: Close\|Unknown\|act=Close$/);
  assert.match(toCef({ class_name: 'C|1' }, p), /^CEF:0\|V\|P\|1\|0\|C\\\|1\|Unknown\|$/);
  assert.match(toCef({ class_name: 'C|1', activity_name: 'Op\nen' }, p), /\|C\\\|1: Op en\|/);
  assert.match(toCef({}, p), /^CEF:0\|V\|P\|1\|0\|OCSF event\|Unknown\|$/);
  // MSGID follows class_uid.
  const o = { facility: 16, hostname: 'h', appName: 'a', procId: '1' };
  assert.match(toRfc5424({ time: 0, class_uid: 4001 }, 'X', o), / ocsf4001 - X$/);
  assert.match(toRfc5424({ time: 0, class_uid: 'a b' }, 'X', o), / ocsfab - X$/);
  assert.match(toRfc5424({ time: 0 }, 'X', o), / ocsf - X$/);
  assert.match(toRfc5424({ time: 0, class_uid: 4002 }, 'X', o), / ocsf4002 - X$/);
});

const settings = (): SyslogFormatSettings => {
  const rfc = { facility: 16, hostname: 'sensor1', appName: 'outpost', procId: '42' };
  return { prefix: cefPrefix({ vendor: 'Outpost', product: 'Outpost Sensor', version: '0.1.0' }), rfc, middle: rfc5424Middle(rfc) };
};

test('frames: octet counts are UTF-8 byte counts, same bytes as octetFrame; unparsable records keep their uid', () => {
  const f = new SyslogFormatter(settings());
  const jsons = [
    JSON.stringify(sampleEvent(1)),
    JSON.stringify({ time: 0, message: 'é😀\ud800' + 'x'.repeat(40) }),
    '{not json',
    'null',
    JSON.stringify({ time: 0, message: 'y'.repeat(200) }),
  ];
  const uids = ['u1', 'u2', 'bad-1', 'bad-2', 'u5'];
  // A record that is not JSON has no time: the message gets Date.now(), held still here.
  const now = Date.now;
  Date.now = () => 1_700_000_000_000;
  let buf: Buffer;
  let expected: string;
  try {
    buf = f.frames(jsons, uids);
    expected = jsons.map((j, i) => octetFrame(f.message(j, uids[i]!))).join('');
  } finally {
    Date.now = now;
  }
  assert.deepEqual(buf, Buffer.from(expected));
  assert.equal(f.unparsable, 4); // twice each: frames() and message() above
  assert.match(buf.toString(), /\|Unknown\|externalId=bad-1\n?/);
  assert.match(buf.toString(), /\|Unknown\|externalId=bad-2/);
});

test('the worker thread frames the same bytes as the main thread', async () => {
  const s = settings();
  const local = new SyslogFormatter(s);
  const fw = new FormatWorker(s);
  try {
    const r = rng(4);
    const n = WORKER_MIN_EVENTS * 3;
    const jsons: string[] = [];
    const uids: string[] = [];
    for (let i = 0; i < n; i++) {
      const ev = sampleEvent(i) as Record<string, unknown>;
      ev['message'] = randomText(r);
      (ev['src_endpoint'] as Record<string, unknown>)['hostname'] = randomText(r);
      jsons.push(JSON.stringify(ev));
      uids.push(`w-${i}`);
    }
    const [a, b] = await Promise.all([fw.frames(jsons, uids), fw.frames(jsons.slice(1), uids.slice(1))]);
    assert.deepEqual(a, local.frames(jsons, uids));
    assert.deepEqual(b, local.frames(jsons.slice(1), uids.slice(1)));
    // A record that is not JSON (its time is the worker's Date.now(), so only its uid is compared).
    jsons[5] = '{broken';
    assert.match((await fw.frames(jsons, uids)).toString(), /\|Unknown\|externalId=w-5\d+ </);
    assert.equal(fw.unparsable, 1);
    assert.equal(fw.counters.failures, 0);
  } finally {
    await fw.close();
  }
});

test('records go to the worker as their JSON bytes: the same frames and datagrams as from strings', async () => {
  const s = settings();
  const local = new SyslogFormatter(s);
  const fw = new FormatWorker(s);
  try {
    const r = rng(7);
    const n = WORKER_MIN_EVENTS * 2;
    const jsons: string[] = [];
    const uids: string[] = [];
    for (let i = 0; i < n; i++) {
      const ev = sampleEvent(i) as Record<string, unknown>;
      ev['message'] = `${randomText(r)} é ✓ 😀`; // multi-byte UTF-8
      jsons.push(JSON.stringify(ev));
      uids.push(`b-${i}`);
    }
    // Half the records carry their bytes (as records read from an outbox block do), half only strings.
    const records = jsons.map((json, i) => {
      if (i % 2 === 1) return { uid: uids[i]!, json };
      const bytes = Buffer.from(`xx${json}yy`);
      return { uid: uids[i]!, json, jsonBytes: bytes.length - 4, copyJson: (t: Buffer, o: number) => bytes.copy(t, o, 2, bytes.length - 2) };
    });
    const before = fw.counters.workerBatches;
    assert.deepEqual(await fw.framesOf(records), local.frames(jsons, uids));
    const udp = await fw.packedOf(records);
    const want = local.packed(jsons, uids);
    assert.deepEqual(udp.buf, want.buf);
    assert.deepEqual([...udp.ends!], [...want.ends!]);
    assert.equal(fw.counters.workerBatches, before + 2, 'formatted in the worker');
    // A small batch is formatted in this thread, from the same records.
    assert.deepEqual(await fw.framesOf(records.slice(0, 3)), local.frames(jsons.slice(0, 3), uids.slice(0, 3)));
  } finally {
    await fw.close();
  }
});

test('buffers go round between the sink and the worker: a reused buffer holds exactly the new batch', async () => {
  const s = settings();
  const local = new SyslogFormatter(s);
  const fw = new FormatWorker(s);
  try {
    const r = rng(11);
    const batch = (n: number, pad: number) => Array.from({ length: n }, (_, i) => {
      const ev = sampleEvent(i + pad) as Record<string, unknown>;
      ev['message'] = `${'p'.repeat(pad)}${randomText(r)}`;
      const json = JSON.stringify(ev);
      const bytes = Buffer.from(json);
      return { uid: `r-${pad}-${i}`, json, jsonBytes: bytes.length, copyJson: (t: Buffer, o: number) => bytes.copy(t, o) };
    });
    // Largest first, so that every later batch fits in a buffer that held more.
    for (const [n, pad] of [[WORKER_MIN_EVENTS * 4, 900], [WORKER_MIN_EVENTS * 2, 300], [WORKER_MIN_EVENTS, 0], [WORKER_MIN_EVENTS * 3, 50]] as const) {
      const records = batch(n, pad);
      const frames = await fw.framesOf(records);
      assert.deepEqual(frames, local.frames(records.map((x) => x.json), records.map((x) => x.uid)), `${n} records`);
      const udp = await fw.packedOf(records);
      assert.deepEqual(udp.buf, local.packed(records.map((x) => x.json), records.map((x) => x.uid)).buf);
      fw.recycle(frames);
      fw.recycle(udp.buf);
      // Given back: it leaves this thread with the next request.
      await fw.framesOf(batch(WORKER_MIN_EVENTS, 1));
      assert.equal(frames.buffer.byteLength, 0, 'the written buffer went back to the worker');
    }
    // A buffer formatted in this thread (a small batch) is not the worker's: recycle() leaves it alone.
    const small = await fw.framesOf(batch(3, 7));
    fw.recycle(small);
    await fw.framesOf(batch(WORKER_MIN_EVENTS, 2));
    assert.ok(small.buffer.byteLength > 0);
    assert.equal(fw.counters.failures, 0);
  } finally {
    await fw.close();
  }
});

test('the worker thread, with its heap limits, takes four batches of the largest default size at once', async () => {
  // The worker runs with bounded heap sizes (WORKER_HEAP_LIMITS); a batch is at most
  // batchMaxBytes (4 MiB by default) of JSON and a syslog sink has up to 4 batches in flight.
  const s = settings();
  const fw = new FormatWorker(s);
  try {
    const jsons: string[] = [];
    const uids: string[] = [];
    for (let i = 0, bytes = 0; bytes < 4 * 1024 * 1024; i++) {
      const ev = sampleEvent(i) as Record<string, unknown>;
      ev['message'] = 'm'.repeat(i % 2000);
      const j = JSON.stringify(ev);
      jsons.push(j);
      uids.push(`big-${i}`);
      bytes += j.length;
    }
    const local = new SyslogFormatter(s).frames(jsons, uids);
    const out = await Promise.all([0, 1, 2, 3].map(() => fw.frames(jsons, uids)));
    assert.equal(fw.counters.failures, 0, 'the worker did not run out of heap');
    assert.equal(fw.counters.workerBatches, 4);
    for (const b of out) assert.equal(b.length, local.length);
  } finally {
    await fw.close();
  }
});

test('UDP batches are formatted in the worker thread: the same messages, one datagram each', async () => {
  const s = settings();
  const local = new SyslogFormatter(s);
  const fw = new FormatWorker(s);
  try {
    const r = rng(9);
    const n = WORKER_MIN_EVENTS * 2 + 3;
    const jsons: string[] = [];
    const uids: string[] = [];
    for (let i = 0; i < n; i++) {
      const ev = sampleEvent(i) as Record<string, unknown>;
      ev['message'] = randomText(r);
      jsons.push(JSON.stringify(ev));
      uids.push(`p-${i}`);
    }
    const packed = fw.packed(jsons, uids);
    assert.ok(packed instanceof Promise, 'a batch this large goes to the worker');
    const { buf, ends } = await packed;
    assert.equal(fw.counters.workerBatches, 1);
    assert.equal(ends!.length, n);
    let start = 0;
    for (let i = 0; i < n; i++) {
      // Bytes: the random text has lone surrogates, which UTF-8 encoding replaces (as in frames).
      assert.deepEqual(buf.subarray(start, ends![i]), Buffer.from(local.message(jsons[i]!, uids[i]!)), `message ${i}`);
      start = ends![i]!;
    }
    assert.equal(start, buf.length);
  } finally {
    await fw.close();
  }

  // Through the sink: datagrams as the in-thread formatter makes them, counted, no worker failure.
  const { createSocket } = await import('node:dgram');
  const rx = createSocket('udp4');
  const got: string[] = [];
  rx.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((res) => rx.bind(0, '127.0.0.1', res));
  const cfg = resolveForwardConfig({ syslog: [{ name: 'u', transport: 'udp', host: '127.0.0.1', port: rx.address().port, batchMaxEvents: 500 }] }).syslog[0]!;
  const sink = new SyslogSink(cfg);
  try {
    // 150 messages (~120 KB) fit the receiving socket's default buffer on loopback.
    const batch = Array.from({ length: 150 }, (_, i) => ({ seq: i + 1, uid: `d-${i}`, appendedMs: 0, bytes: 0, json: JSON.stringify({ ...sampleEvent(i), metadata: { uid: `d-${i}` } }) }));
    let delivered = 0;
    await sink.send(batch, new AbortController().signal, async () => void delivered++);
    assert.equal(delivered, 1, 'the delivered hook ran once');
    const st = sink.extraStats();
    assert.equal(st['udp_unacknowledged'], 150);
    assert.equal(st['format_worker_failures'], 0);
    assert.equal(st['format_worker_batches'], 1, 'formatted in the worker');
    for (let until = Date.now() + 3000; got.length < 150 && Date.now() < until;) await new Promise((res) => setTimeout(res, 10));
    assert.ok(got.length >= 140, `datagrams received on loopback (${got.length}; UDP loss is possible even there)`);
    const expected = new Set(batch.map((rec) => sink.format(rec).replace(/^<\d+>1 \S+ /, '')));
    for (const m of got) assert.ok(expected.has(m.replace(/^<\d+>1 \S+ /, '')), `datagram is one whole message: ${m.slice(0, 80)}`);
  } finally {
    await sink.close();
    rx.close();
  }
});

test('batches in flight wait for one shared connection, then arrive whole and in order', async () => {
  const conns: Socket[] = [];
  const chunks: Buffer[] = [];
  const srv = createServer((sock) => {
    conns.push(sock);
    sock.on('data', (c) => chunks.push(c));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  const cfg = resolveForwardConfig({ syslog: [{ name: 'inflight', transport: 'tcp', host: '127.0.0.1', port }] }).syslog[0]!;
  const sink = new SyslogSink(cfg);
  const batch = (k: number) => Array.from({ length: WORKER_MIN_EVENTS + k }, (_, i) => ({ seq: k * 1000 + i + 1, uid: `c-${k}-${i}`, appendedMs: 0, bytes: 0, json: JSON.stringify({ ...sampleEvent(i), metadata: { uid: `c-${k}-${i}` } }) }));
  const ac = new AbortController();
  try {
    const batches = [0, 1, 2, 3].map(batch);
    await Promise.all(batches.map((b) => sink.send(b, ac.signal)));
    assert.equal(sink.extraStats()['connects'], 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(conns.length, 1);
    const got = Buffer.concat(chunks).toString();
    const want = batches.flat().map((r) => octetFrame(sink.format(r))).join('');
    assert.equal(got, want);
    assert.equal(sink.extraStats()['format_worker_failures'], 0);
  } finally {
    ac.abort();
    await sink.close();
    for (const c of conns) c.destroy();
    await new Promise((r) => srv.close(r));
  }
});
