import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { FrameSyntax, quicVersionInfo, QUIC_V1, QUIC_V2, supportedQuicVersions } from './constants.js';
import { QuicCounters } from './counters.js';
import { decodePacketNumber, parseDatagram, parseInitialFrames, QuicDatagramInfo, readVarint, varintLength, type CryptoChunk } from './initial.js';
import { clientInitialSecret, deriveClientInitialKeys, InitialKeyCache } from './keys.js';
import { buildClientInitial, cryptoFrame, encodeVarint } from '../../../test/fixtures/quic-initial-builder.js';
import { CLIENT_INITIAL_CRYPTO_FRAME_HEX, RFC9001_CLIENT_INITIAL_HEX, RFC9369_CLIENT_INITIAL_HEX } from '../../../test/fixtures/quic-rfc-vectors.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const V1 = quicVersionInfo(QUIC_V1)!;
const V2 = quicVersionInfo(QUIC_V2)!;
const RFC_DCID = hex('8394c8f03e515708');
/** The ClientHello inside the RFC 9001 A.2 CRYPTO frame (type 06, offset 00, length 40f1). */
const RFC_CLIENT_HELLO = hex(CLIENT_INITIAL_CRYPTO_FRAME_HEX).subarray(4);

function nonZero(c: QuicCounters): Record<string, number> {
  return Object.fromEntries(Object.entries(c.snapshot()).filter(([, v]) => v !== 0));
}

test('RFC 9001 A.1: client initial secret and keys for DCID 0x8394c8f03e515708', () => {
  assert.equal(clientInitialSecret(V1, RFC_DCID).toString('hex'),
    'c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea');
  const k = deriveClientInitialKeys(V1, RFC_DCID);
  assert.equal(k.key.toString('hex'), '1f369613dd76d5467730efcbe3b1a22d');
  assert.equal(k.iv.toString('hex'), 'fa044b2f42a3fd3b46fb255c');
  assert.equal(k.hp.toString('hex'), '9f50449e04a0e810283a1e9933adedd2');
});

test('RFC 9369 A.1: v2 client initial secret and keys', () => {
  assert.equal(clientInitialSecret(V2, RFC_DCID).toString('hex'),
    '14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b');
  const k = deriveClientInitialKeys(V2, RFC_DCID);
  assert.equal(k.key.toString('hex'), '8b1a0bc121284290a29e0971b5cd045d');
  assert.equal(k.iv.toString('hex'), '91f73e2351d8fa91660e909f');
  assert.equal(k.hp.toString('hex'), '45b95e15235d6f45a6b19cbcb0294ba9');
});

for (const [name, pktHex, version] of [
  ['RFC 9001 A.2 (v1)', RFC9001_CLIENT_INITIAL_HEX, QUIC_V1],
  ['RFC 9369 A.2 (v2)', RFC9369_CLIENT_INITIAL_HEX, QUIC_V2],
] as const) {
  test(`${name}: protected client Initial decrypts to the ClientHello CRYPTO frame`, () => {
    const pkt = hex(pktHex);
    assert.equal(pkt.length, 1200);
    const c = new QuicCounters();
    const out = new QuicDatagramInfo();
    assert.equal(parseDatagram(pkt, 0, pkt.length, out, c), ParseStatus.OK);
    assert.equal(out.version, version);
    assert.equal(out.dcid?.toString('hex'), '8394c8f03e515708');
    assert.equal(out.decryptedInitials, 1);
    assert.equal(out.largestPn, 2); // A.2: packet number 2
    assert.equal(out.crypto.length, 1);
    assert.equal(out.crypto[0]?.offset, 0);
    assert.deepEqual(out.crypto[0]?.data, RFC_CLIENT_HELLO);
    assert.deepEqual(nonZero(c), {
      'quic.datagrams': 1, 'quic.long_packets': 1, 'quic.initial_packets': 1, 'quic.initial_decrypted': 1,
      'quic.crypto_frames': 1, 'quic.crypto_bytes': 241,
    });
  });

  test(`${name}: the test builder reproduces the RFC packet byte for byte`, () => {
    const info = quicVersionInfo(version)!;
    const payload = Buffer.concat([hex(CLIENT_INITIAL_CRYPTO_FRAME_HEX), Buffer.alloc(917)]);
    const built = buildClientInitial({ info, dcid: RFC_DCID, packetNumber: 2, pnLength: 4, payload });
    assert.equal(built.toString('hex'), pktHex);
  });

  test(`${name}: truncated at every offset — no exception, never OK, counters bump`, () => {
    const pkt = hex(pktHex);
    const out = new QuicDatagramInfo();
    const keys = new InitialKeyCache();
    for (let n = 1; n < pkt.length; n++) {
      const c = new QuicCounters();
      const st = parseDatagram(pkt.subarray(0, n), 0, n, out, c, keys);
      assert.equal(st, ParseStatus.MALFORMED, `length ${n}`);
      assert.ok(c.headerTruncated + c.initialTooShort + c.initialDecryptFailed + c.cidTooLong > 0, `length ${n}`);
      assert.equal(out.crypto.length, 0);
      // Same truncation with the Length field (bytes 16–17) rewritten to fit: now the header
      // parses and the sample / tag / AEAD checks must catch it.
      if (n >= 18) {
        const fit = Buffer.from(pkt.subarray(0, n));
        fit.writeUInt16BE(0x4000 | (n - 18), 16);
        const c2 = new QuicCounters();
        assert.equal(parseDatagram(fit, 0, n, out, c2, keys), ParseStatus.MALFORMED, `fit ${n}`);
        assert.equal(c2.initialTooShort + c2.initialDecryptFailed, 1, `fit ${n}`);
      }
    }
    assert.equal(keys.derivations, 1); // one DCID → one derivation, however many packets
  });

  test(`${name}: any single flipped byte fails authentication or parsing`, () => {
    const pkt = hex(pktHex);
    const out = new QuicDatagramInfo();
    const c = new QuicCounters();
    for (let i = 0; i < pkt.length; i++) {
      const copy = Buffer.from(pkt);
      copy[i] = (copy[i] as number) ^ 0x01;
      const st = parseDatagram(copy, 0, copy.length, out, c);
      // A flipped version byte yields a version we do not know: OK, but nothing decrypted.
      if (i >= 1 && i <= 4) assert.equal(out.versionInfo, undefined, `byte ${i}`);
      else assert.notEqual(st, ParseStatus.OK, `byte ${i}`);
      assert.equal(out.crypto.length, 0, `byte ${i}`);
    }
    assert.ok(c.initialDecryptFailed > 1100);
  });
}

test('every supported version round-trips through builder and parser', () => {
  for (const info of supportedQuicVersions()) {
    const ch = RFC_CLIENT_HELLO;
    const frameType = info.frames === FrameSyntax.GQUIC ? 0x08 : 0x06;
    const pkt = buildClientInitial({
      info, dcid: hex('0011223344556677'), scid: hex('aabbccdd'), packetNumber: 0, pnLength: 1,
      payload: cryptoFrame(0, ch, frameType), padTo: 1100,
    });
    const c = new QuicCounters();
    const out = new QuicDatagramInfo();
    assert.equal(parseDatagram(pkt, 0, pkt.length, out, c), ParseStatus.OK, info.name);
    assert.equal(out.versionInfo, info);
    assert.deepEqual(out.crypto[0]?.data, ch, info.name);
    assert.equal(out.scid?.toString('hex'), 'aabbccdd');
  }
});

test('distinct salts: a v1 packet relabelled as draft-29 does not decrypt', () => {
  const pkt = hex(RFC9001_CLIENT_INITIAL_HEX);
  pkt.writeUInt32BE(0xff00001d, 1);
  const c = new QuicCounters();
  assert.equal(parseDatagram(pkt, 0, pkt.length, new QuicDatagramInfo(), c), ParseStatus.MALFORMED);
  assert.equal(c.initialDecryptFailed, 1);
  // drafts 33/34 share the v1 salt (Wireshark/nDPI): relabelling keeps the keys, but the version
  // is in the AAD, so authentication still fails — which is the point of the AEAD.
  const pkt2 = hex(RFC9001_CLIENT_INITIAL_HEX);
  pkt2.writeUInt32BE(0xff000022, 1);
  assert.equal(parseDatagram(pkt2, 0, pkt2.length, new QuicDatagramInfo(), c), ParseStatus.MALFORMED);
});

test('unknown versions and Version Negotiation are counted, not decrypted', () => {
  const pkt = hex(RFC9001_CLIENT_INITIAL_HEX);
  pkt.writeUInt32BE(0x1a2a3a4a, 1); // RFC 9000 §15 greased version
  const c = new QuicCounters();
  const out = new QuicDatagramInfo();
  assert.equal(parseDatagram(pkt, 0, pkt.length, out, c), ParseStatus.OK);
  assert.equal(out.version, 0x1a2a3a4a);
  assert.equal(out.versionInfo, undefined);
  assert.equal(c.unsupportedVersion, 1);
  assert.equal(c.initialPackets, 0);
  const vn = Buffer.concat([hex('80'), hex('00000000'), hex('04aabbccdd'), hex('00'), hex('00000001')]);
  assert.equal(parseDatagram(vn, 0, vn.length, out, c), ParseStatus.OK);
  assert.equal(c.versionNegotiation, 1);
});

test('short header and empty input are NOT_MINE / MALFORMED without throwing', () => {
  const c = new QuicCounters();
  const out = new QuicDatagramInfo();
  assert.equal(parseDatagram(hex('4100'), 0, 2, out, c), ParseStatus.NOT_MINE);
  assert.equal(parseDatagram(Buffer.alloc(0), 0, 0, out, c), ParseStatus.MALFORMED);
  assert.equal(parseDatagram(hex('c0'), 0, 5, out, c), ParseStatus.MALFORMED); // end beyond buffer
  assert.equal(c.notLongHeader, 1);
});

test('coalesced packets: Initial + Handshake + Initial + short header, padding, DCID mismatch', () => {
  const dcid = hex('0102030405060708');
  const i1 = buildClientInitial({ info: V1, dcid, packetNumber: 0, payload: cryptoFrame(0, hex('01000004')) });
  const i2 = buildClientInitial({ info: V1, dcid, packetNumber: 1, payload: cryptoFrame(4, hex('03030000')) });
  // A Handshake packet (type 2) with a 20-byte opaque payload.
  const hs = Buffer.concat([hex('e0'), hex('00000001'), hex('08'), dcid, hex('00'), hex('14'), Buffer.alloc(20, 7)]);
  const other = buildClientInitial({ info: V1, dcid: hex('ffffffffffffffff'), packetNumber: 5, payload: hex('01') });
  const short = hex('4011223344');
  const c = new QuicCounters();
  const out = new QuicDatagramInfo();
  let d = Buffer.concat([i1, hs, other, i2, short]);
  assert.equal(parseDatagram(d, 0, d.length, out, c), ParseStatus.OK);
  assert.equal(out.longPackets, 4);
  assert.equal(out.decryptedInitials, 2);
  assert.equal(out.largestPn, 1);
  assert.deepEqual(out.crypto.map((x) => [x.offset, x.data.toString('hex')]), [[0, '01000004'], [4, '03030000']]);
  assert.equal(c.otherLongPackets, 1);
  assert.equal(c.coalescedDcidMismatch, 1);
  assert.equal(c.coalescedShortHeader, 1);
  d = Buffer.concat([i1, Buffer.alloc(300)]);
  assert.equal(parseDatagram(d, 0, d.length, out, c), ParseStatus.OK);
  assert.equal(c.trailingPadding, 1);
  // Works at a non-zero offset inside a larger buffer (e.g. the captured frame).
  d = Buffer.concat([Buffer.alloc(42, 0xee), i1, Buffer.alloc(8, 0xee)]);
  assert.equal(parseDatagram(d, 42, 42 + i1.length, out, c), ParseStatus.OK);
  assert.equal(out.crypto.length, 1);
});

test('frames: PADDING, PING, ACK (+ECN ranges), CONNECTION_CLOSE, CRYPTO; others stop', () => {
  const ack = Buffer.concat([hex('03'), encodeVarint(1000), encodeVarint(25), encodeVarint(2), encodeVarint(3),
    encodeVarint(1), encodeVarint(2), encodeVarint(0), encodeVarint(4), encodeVarint(1), encodeVarint(0), encodeVarint(70000)]);
  const close = Buffer.concat([hex('1c'), encodeVarint(0x0a), encodeVarint(0x06), encodeVarint(3), Buffer.from('bad')]);
  const payload = Buffer.concat([hex('000000'), hex('01'), ack, cryptoFrame(7, hex('aabb')), close, hex('0000')]);
  const c = new QuicCounters();
  const chunks: CryptoChunk[] = [];
  let code = -1;
  assert.equal(parseInitialFrames(payload, 0, payload.length, FrameSyntax.IETF, chunks, c, (x) => { code = x; }), ParseStatus.OK);
  assert.deepEqual(chunks.map((x) => [x.offset, x.data.toString('hex')]), [[7, 'aabb']]);
  assert.equal(code, 0x0a);
  assert.equal(c.connectionClose, 1);
  // STREAM (0x08), application CONNECTION_CLOSE (0x1d), a non-minimal type: stop, keep what came before.
  for (const bad of ['08', '1d', '4006']) {
    const p = Buffer.concat([cryptoFrame(0, hex('01')), hex(bad), cryptoFrame(1, hex('02'))]);
    const got: CryptoChunk[] = [];
    assert.equal(parseInitialFrames(p, 0, p.length, FrameSyntax.IETF, got, c), ParseStatus.MALFORMED);
    assert.equal(got.length, 1);
  }
  assert.equal(c.frameUnexpected, 3);
  // Truncations of every frame kind.
  for (const full of [ack, close, cryptoFrame(0, hex('0102030405'))]) {
    for (let n = 1; n < full.length; n++) {
      assert.equal(parseInitialFrames(full, 0, n, FrameSyntax.IETF, [], c), ParseStatus.MALFORMED, full.toString('hex') + '@' + n);
    }
  }
  // ACK claiming 2^62-ish ranges ends when the bytes do.
  const huge = Buffer.concat([hex('02'), encodeVarint(5), encodeVarint(0), hex('ffffffffffffffff'), encodeVarint(0), hex('0000')]);
  assert.equal(parseInitialFrames(huge, 0, huge.length, FrameSyntax.IETF, [], c), ParseStatus.MALFORMED);
  // gQUIC: CRYPTO is 0x08, PING 0x07.
  const g = Buffer.concat([hex('0007'), cryptoFrame(0, hex('4348'), 0x08), hex('00')]);
  const gout: CryptoChunk[] = [];
  assert.equal(parseInitialFrames(g, 0, g.length, FrameSyntax.GQUIC, gout, c), ParseStatus.OK);
  assert.equal(gout[0]?.data.toString('hex'), '4348');
});

test('varints (RFC 9000 §16, A.1 examples) and packet number decoding (A.3)', () => {
  const big = hex('c2197c5eff14e88c'); // 151288809941952652: beyond 2^53, only approximately
  assert.ok(Math.abs(readVarint(big, 0, 8) - 151288809941952652) < 64);
  for (const [h, v] of [['9d7f3e7d', 494878333], ['7bbd', 15293], ['25', 37], ['4025', 37]] as const) {
    const b = hex(h);
    assert.equal(varintLength(b, 0, b.length), b.length);
    assert.equal(readVarint(b, 0, b.length), v);
    assert.equal(varintLength(b, 0, b.length - 1), 0);
  }
  assert.equal(decodePacketNumber(0xa82f30ea, 0x9b32, 16), 0xa82f9b32); // RFC 9000 A.3 example
  assert.equal(decodePacketNumber(-1, 2, 32), 2);
  assert.equal(decodePacketNumber(-1, 0xff, 8), 0xff);
  assert.equal(decodePacketNumber(300, 0x02, 8), 258);
});
