import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quicVersionInfo, QUIC_V1, QUIC_V2 } from './constants.js';
import { QuicCounters } from './counters.js';
import { QuicFlowState } from './analyzer.js';
import { buildClientInitial, cryptoFrame, encodeVarint } from '../../../test/fixtures/quic-initial-builder.js';
import { CLIENT_INITIAL_CRYPTO_FRAME_HEX, RFC9001_CLIENT_INITIAL_HEX } from '../../../test/fixtures/quic-rfc-vectors.js';
import { ClientHello, parseClientHelloHandshake } from '../tls/client-hello.js';
import { ParseStatus } from '../parse-status.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const V1 = quicVersionInfo(QUIC_V1)!;
const V2 = quicVersionInfo(QUIC_V2)!;
const CH = hex(CLIENT_INITIAL_CRYPTO_FRAME_HEX).subarray(4); // 241-byte ClientHello (RFC 9001 A.2)
const DCID = hex('c0ffee0123456789');

function nonZero(c: QuicCounters): Record<string, number> {
  return Object.fromEntries(Object.entries(c.snapshot()).filter(([, v]) => v !== 0));
}

/** A large ClientHello: type 1, 3-byte length, body. */
function clientHello(bodyLen: number): Buffer {
  const b = Buffer.alloc(4 + bodyLen);
  b[0] = 1;
  b.writeUIntBE(bodyLen, 1, 3);
  for (let i = 4; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

test('RFC 9001 A.2 packet completes a flow in one datagram', () => {
  const c = new QuicCounters();
  const f = new QuicFlowState(c);
  f.onClientDatagram(hex(RFC9001_CLIENT_INITIAL_HEX), 0, 1200);
  assert.equal(f.done, true);
  assert.equal(f.clientHelloComplete, true);
  assert.equal(f.result.version, 1);
  assert.equal(f.result.versionName, 'v1');
  assert.deepEqual(f.result.cryptoStream, CH);
  assert.deepEqual(nonZero(c), {
    'quic.datagrams': 1, 'quic.long_packets': 1, 'quic.initial_packets': 1, 'quic.initial_decrypted': 1,
    'quic.crypto_frames': 1, 'quic.crypto_bytes': 241, 'quic.client_hello_complete': 1,
  });
  // RFC 9001 A.2: the ClientHello names example.com and offers ALPN "alpn".
  const ch = new ClientHello();
  assert.equal(parseClientHelloHandshake(f.result.cryptoStream!, 0, f.result.cryptoStream!.length, ch), ParseStatus.OK);
  assert.equal(ch.serverName, 'example.com');
  assert.deepEqual(ch.alpn, ['alpn']);
});

test('ClientHello split over two Initials, delivered out of order, coalesced with padding', () => {
  for (const info of [V1, V2]) {
    const split = 100;
    // Packet 1 carries the tail, packet 0 the head; the client sends 0 then 1, the network
    // reorders. The tail datagram is one Initial followed by a run of zero padding (RFC 9000
    // §14.1 datagram padding outside the packet); the head datagram coalesces the Initial with a
    // PING/ACK-only Initial and ends in padding too.
    const tail = buildClientInitial({
      info, dcid: DCID, packetNumber: 1, pnLength: 2,
      payload: Buffer.concat([hex('01'), cryptoFrame(split, CH.subarray(split))]),
    });
    const head = buildClientInitial({
      info, dcid: DCID, packetNumber: 0, pnLength: 1,
      payload: Buffer.concat([hex('0000'), cryptoFrame(0, CH.subarray(0, split)), hex('000000')]),
    });
    const ack = Buffer.concat([hex('03'), encodeVarint(0), encodeVarint(0), encodeVarint(0), encodeVarint(0),
      encodeVarint(0), encodeVarint(0), encodeVarint(0)]);
    const extra = buildClientInitial({ info, dcid: DCID, packetNumber: 2, payload: Buffer.concat([hex('01'), ack]) });
    const d1 = Buffer.concat([tail, Buffer.alloc(1200 - tail.length)]);
    const d2 = Buffer.concat([head, extra, Buffer.alloc(1200 - head.length - extra.length)]);

    const c = new QuicCounters();
    const f = new QuicFlowState(c);
    f.onClientDatagram(d1, 0, d1.length);
    assert.equal(f.done, false, info.name);
    assert.equal(f.result.cryptoStream, undefined); // nothing contiguous from 0 yet
    assert.equal(f.result.version, info.version);
    f.onClientDatagram(d2, 0, d2.length);
    assert.equal(f.done, true, info.name);
    assert.equal(f.clientHelloComplete, true);
    assert.deepEqual(f.result.cryptoStream, CH);
    assert.equal(f.initialPackets, 3);
    assert.deepEqual(nonZero(c), {
      'quic.datagrams': 2, 'quic.long_packets': 3, 'quic.initial_packets': 3, 'quic.initial_decrypted': 3,
      'quic.trailing_padding': 2, 'quic.crypto_frames': 2, 'quic.crypto_bytes': 241, 'quic.client_hello_complete': 1,
    });
    // Further datagrams are ignored once done.
    f.onClientDatagram(d1, 0, d1.length);
    assert.equal(c.datagrams, 2);
  }
});

test('large ClientHello in 1-byte-overlapping, shuffled, retransmitted fragments', () => {
  const ch = clientHello(5000);
  const frags: Buffer[] = [];
  for (let off = 0; off < ch.length; off += 1000) {
    const end = Math.min(ch.length, off + 1001);
    frags.push(buildClientInitial({ info: V1, dcid: DCID, packetNumber: frags.length, payload: cryptoFrame(off, ch.subarray(off, end)) }));
  }
  const order = [5, 4, 2, 2, 0, 3, 1]; // 2 retransmitted
  const c = new QuicCounters();
  const f = new QuicFlowState(c, { quicMaxInitialPackets: 10 });
  for (const i of order) {
    assert.equal(f.done, false, `before fragment ${i}`);
    f.onClientDatagram(frags[i] as Buffer, 0, (frags[i] as Buffer).length);
  }
  assert.equal(f.clientHelloComplete, true);
  assert.deepEqual(f.result.cryptoStream, ch);
  assert.equal(c.cryptoConflict, 0);
});

test('conflicting retransmission keeps the first copy and is counted', () => {
  const a = buildClientInitial({ info: V1, dcid: DCID, packetNumber: 0, payload: cryptoFrame(10, hex('aaaaaaaa')) });
  const b = buildClientInitial({ info: V1, dcid: DCID, packetNumber: 1, payload: cryptoFrame(8, hex('bbbbbbbbbbbb')) });
  const head = buildClientInitial({ info: V1, dcid: DCID, packetNumber: 2, payload: cryptoFrame(0, hex('0100000a00000000')) });
  const c = new QuicCounters();
  const f = new QuicFlowState(c);
  f.onClientDatagram(a, 0, a.length);
  f.onClientDatagram(b, 0, b.length);
  f.onClientDatagram(head, 0, head.length);
  assert.equal(c.cryptoConflict, 1);
  assert.equal(f.clientHelloComplete, true);
  assert.equal(f.result.cryptoStream?.toString('hex'), '0100000a' + '00000000' + 'bbbb' + 'aaaaaaaa');
});

test('limits: Initial count, datagram count, window, oversize ClientHello, not a ClientHello', () => {
  const ch = clientHello(3000);
  const part = (pn: number, off: number, len: number): Buffer =>
    buildClientInitial({ info: V1, dcid: DCID, packetNumber: pn, payload: cryptoFrame(off, ch.subarray(off, off + len)) });
  // 6 Initials (the default) without completing.
  let c = new QuicCounters();
  let f = new QuicFlowState(c);
  for (let i = 0; i < 6; i++) f.onClientDatagram(part(i, i * 10, 10), 0, part(i, i * 10, 10).length);
  assert.equal(f.done, true);
  assert.equal(f.clientHelloComplete, false);
  assert.equal(c.flowLimitReached, 1);
  // Short-header datagrams only: given up after quicMaxDatagrams.
  c = new QuicCounters();
  f = new QuicFlowState(c, { quicMaxDatagrams: 3 });
  for (let i = 0; i < 5; i++) f.onClientDatagram(hex('41aabbccdd'), 0, 5);
  assert.equal(f.done, true);
  assert.equal(c.datagrams, 3);
  // ClientHello bigger than the window.
  c = new QuicCounters();
  f = new QuicFlowState(c, { quicCryptoMaxBytes: 1024 });
  f.onClientDatagram(part(0, 0, 900), 0, part(0, 0, 900).length);
  assert.equal(f.done, true);
  assert.equal(c.clientHelloTooLarge, 1);
  // Data beyond the window is dropped.
  c = new QuicCounters();
  f = new QuicFlowState(c, { quicCryptoMaxBytes: 1024 });
  const far = buildClientInitial({ info: V1, dcid: DCID, packetNumber: 0, payload: cryptoFrame(1000, Buffer.alloc(100, 1)) });
  f.onClientDatagram(far, 0, far.length);
  assert.equal(c.cryptoOutOfWindow, 1);
  // First message not a ClientHello.
  c = new QuicCounters();
  f = new QuicFlowState(c);
  const sh = buildClientInitial({ info: V1, dcid: DCID, packetNumber: 0, payload: cryptoFrame(0, hex('02000000')) });
  f.onClientDatagram(sh, 0, sh.length);
  assert.equal(f.done, true);
  assert.equal(c.notClientHello, 1);
});

test('unknown version: counted, flow done at once, version reported', () => {
  const pkt = hex(RFC9001_CLIENT_INITIAL_HEX);
  pkt.writeUInt32BE(0x12345678, 1);
  const c = new QuicCounters();
  const f = new QuicFlowState(c);
  f.onClientDatagram(pkt, 0, pkt.length);
  assert.equal(f.done, true);
  assert.equal(f.result.version, 0x12345678);
  assert.equal(f.result.versionName, '0x12345678');
  assert.equal(c.unsupportedVersion, 1);
  assert.equal(f.result.cryptoStream, undefined);
});

test('version change after Version Negotiation restarts the stream', () => {
  const c = new QuicCounters();
  const f = new QuicFlowState(c);
  const first = buildClientInitial({ info: V2, dcid: DCID, packetNumber: 0, payload: cryptoFrame(0, CH.subarray(0, 50)) });
  const again = buildClientInitial({ info: V1, dcid: hex('0102030405060708'), packetNumber: 0, payload: cryptoFrame(0, CH) });
  f.onClientDatagram(first, 0, first.length);
  assert.equal(f.result.versionName, 'v2');
  f.onClientDatagram(again, 0, again.length);
  assert.equal(c.versionChanged, 1);
  assert.equal(f.result.versionName, 'v1');
  assert.equal(f.clientHelloComplete, true);
  assert.deepEqual(f.result.cryptoStream, CH);
});

test('gQUIC Q050 CHLO (not TLS) is reassembled; T051 carries TLS', () => {
  const q050 = quicVersionInfo(0x51303530)!;
  // CHLO with 2 entries: SNI "a.b" (end 3) and VER "Q050" (end 7).
  const chlo = Buffer.concat([Buffer.from('CHLO'), hex('0200'), hex('0000'),
    Buffer.from('SNI\0'), hex('03000000'), Buffer.from('VER\0'), hex('07000000'), Buffer.from('a.bQ050')]);
  const c = new QuicCounters();
  let f = new QuicFlowState(c);
  const p = buildClientInitial({ info: q050, dcid: DCID, packetNumber: 1, payload: cryptoFrame(0, chlo, 0x08), padTo: 1000 });
  f.onClientDatagram(p, 0, p.length);
  assert.equal(f.tls, false);
  assert.equal(f.clientHelloComplete, true);
  assert.deepEqual(f.result.cryptoStream, chlo);
  const t051 = quicVersionInfo(0x54303531)!;
  f = new QuicFlowState(c);
  const t = buildClientInitial({ info: t051, dcid: DCID, packetNumber: 1, payload: cryptoFrame(0, CH, 0x08) });
  f.onClientDatagram(t, 0, t.length);
  assert.equal(f.tls, true);
  assert.equal(f.result.versionName, 'gquic-T051');
  assert.deepEqual(f.result.cryptoStream, CH);
});

test('garbage and truncated datagrams never throw', () => {
  const c = new QuicCounters();
  const good = hex(RFC9001_CLIENT_INITIAL_HEX);
  const completedAt: number[] = [];
  let flows = 0;
  for (let n = 0; n <= good.length; n += 7) {
    flows++;
    const f = new QuicFlowState(c);
    f.onClientDatagram(good, 0, n);
    f.onClientDatagram(good, n, good.length - n);
    f.onClientDatagram(good, good.length, 5); // out of range
    if (f.clientHelloComplete) {
      completedAt.push(n);
      assert.deepEqual(f.result.cryptoStream, CH);
    }
  }
  assert.equal(flows, 172);
  // Only the cut at 0 leaves the whole packet in one datagram (the second); every other cut
  // splits the one Initial, whose AEAD covers it all (RFC 9001 §5.3), so nothing decrypts.
  assert.deepEqual(completedAt, [0]);
  // Exact tallies for these fixed inputs: the heads are long headers cut short, the tails start
  // at arbitrary bytes (short headers, or long headers with a garbage version).
  assert.deepEqual(nonZero(c), {
    'quic.datagrams': 455, 'quic.not_long_header': 88, 'quic.long_packets': 61, 'quic.header_truncated': 306,
    'quic.unsupported_version': 60, 'quic.initial_packets': 1, 'quic.initial_decrypted': 1, 'quic.crypto_frames': 1,
    'quic.crypto_bytes': 241, 'quic.client_hello_complete': 1,
  });
  assert.equal(c.datagrams, c.notLongHeader + c.longPackets + c.headerTruncated, 'every datagram counted once by its first header');
});

test('a later Initial with a new DCID is opened with the first Initial keys (RFC 9001 §5.2)', () => {
  const split = 120;
  const first = buildClientInitial({ info: V1, dcid: DCID, packetNumber: 0, payload: cryptoFrame(0, CH.subarray(0, split)) });
  // The client switched to the server's connection ID, but Initial protection still derives
  // from the Destination Connection ID of its first Initial.
  const second = buildClientInitial({
    info: V1, dcid: hex('0102030405060708'), keysDcid: DCID, packetNumber: 1, payload: cryptoFrame(split, CH.subarray(split)),
  });
  const c = new QuicCounters();
  const f = new QuicFlowState(c);
  const d1 = Buffer.concat([first, Buffer.alloc(1200 - first.length)]);
  const d2 = Buffer.concat([second, Buffer.alloc(1200 - second.length)]);
  f.onClientDatagram(d1, 0, d1.length);
  f.onClientDatagram(d2, 0, d2.length);
  assert.equal(f.clientHelloComplete, true);
  assert.deepEqual(f.result.cryptoStream, CH);
  assert.equal(c.initialDecryptFailed, 0);
});
