import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { ClientHello, clientHelloMaxVersion, parseClientHello, parseClientHelloHandshake } from './client-hello.js';
import { TLS_ERROR_NAMES, TlsError, isGrease } from './constants.js';
import {
  alpnExt, chromeLikeClientHelloBody, clientHelloBody, ext, handshake, records, sniExt, supportedVersionsExt,
  u16, JA4_SPEC_SIGALGS,
} from '../../../test/fixtures/tls.js';

const body = chromeLikeClientHelloBody();
const hs = handshake(1, body);
const stream = records(hs);

function parse(buf: Buffer): { st: ParseStatus; ch: ClientHello } {
  const ch = new ClientHello();
  return { st: parseClientHello(buf, 0, buf.length, ch), ch };
}

function summary(ch: ClientHello): unknown {
  return {
    v: ch.legacyVersion, sid: ch.sessionIdLength, len: ch.handshakeLength,
    ciphers: Array.from(ch.cipherSuites.subarray(0, ch.cipherSuiteCount)),
    exts: Array.from(ch.extensionTypes.subarray(0, ch.extensionCount)),
    sni: ch.serverName, hasSni: ch.hasSni, alpn: [...ch.alpn],
    versions: Array.from(ch.supportedVersions.subarray(0, ch.supportedVersionCount)),
    sigs: Array.from(ch.signatureAlgorithms.subarray(0, ch.signatureAlgorithmCount)),
    groups: Array.from(ch.supportedGroups.subarray(0, ch.supportedGroupCount)),
    pf: Array.from(ch.ecPointFormats.subarray(0, ch.ecPointFormatCount)),
    ech: ch.hasEch, gc: ch.greaseCipherSuites, ge: ch.greaseExtensions,
  };
}

test('GREASE ClientHello with many extensions in one record', () => {
  const { st, ch } = parse(stream);
  assert.equal(st, ParseStatus.OK);
  assert.equal(ch.legacyVersion, 0x0303);
  assert.equal(ch.sessionIdLength, 32);
  assert.equal(ch.handshakeLength, body.length);
  assert.equal(ch.cipherSuiteCount, 16);
  assert.equal(ch.cipherSuites[0], 0x0a0a);
  assert.equal(ch.greaseCipherSuites, 1);
  assert.equal(ch.extensionCount, 18);
  assert.equal(ch.greaseExtensions, 2);
  assert.ok(isGrease(ch.extensionTypes[0]!) && isGrease(ch.extensionTypes[17]!));
  assert.equal(ch.compressionMethodCount, 1);
  assert.equal(ch.hasSni, true);
  assert.equal(ch.serverName, 'example.com');
  assert.deepEqual(ch.alpn, ['h2', 'http/1.1']);
  assert.deepEqual(Array.from(ch.supportedVersions.subarray(0, ch.supportedVersionCount)), [0x5a5a, 0x0304, 0x0303]);
  assert.equal(clientHelloMaxVersion(ch), 0x0304);
  assert.deepEqual(Array.from(ch.signatureAlgorithms.subarray(0, ch.signatureAlgorithmCount)), JA4_SPEC_SIGALGS);
  assert.deepEqual(Array.from(ch.supportedGroups.subarray(0, ch.supportedGroupCount)), [0x2a2a, 0x001d, 0x0017, 0x0018]);
  assert.deepEqual(Array.from(ch.ecPointFormats.subarray(0, ch.ecPointFormatCount)), [0]);
  assert.equal(ch.hasEch, false);
  assert.equal(ch.listOverflow, false);
  assert.equal(ch.error, TlsError.NONE);
});

test('GREASE values are recognised (RFC 8701 §2)', () => {
  for (let i = 0; i < 16; i++) assert.ok(isGrease(i * 0x1010 + 0x0a0a));
  for (const v of [0x0000, 0x0a0b, 0x1a0a, 0x0303, 0xfe0d, 0xaaaa]) assert.equal(isGrease(v), v === 0xaaaa);
});

test('SNI is lowercased without trailing dot; ECH presence', () => {
  const b = clientHelloBody({ ciphers: [0x1301], extensions: [sniExt('WWW.Example.ORG.'), ext(0xfe0d, [0, 1, 2])] });
  const { st, ch } = parse(records(handshake(1, b)));
  assert.equal(st, ParseStatus.OK);
  assert.equal(ch.serverName, 'www.example.org');
  assert.equal(ch.hasEch, true);
  assert.equal(clientHelloMaxVersion(ch), 0x0303);
});

test('SNI with control characters is flagged, not reported', () => {
  const b = clientHelloBody({ ciphers: [0x1301], extensions: [sniExt('evil\n.com')] });
  const { st, ch } = parse(records(handshake(1, b)));
  assert.equal(st, ParseStatus.OK);
  assert.equal(ch.serverName, '');
  assert.equal(ch.sniInvalid, true);
  assert.equal(ch.hasSni, true);
});

test('ClientHello split across 2 and 3 records (RFC 8446 §5.1) and across every 1-byte fragmentation', () => {
  const expected = summary(parse(stream).ch);
  for (const sizes of [[100], [1, 2], [50, 60], [4, 300], [3, 1, 5000], [body.length + 3]]) {
    const { st, ch } = parse(records(hs, sizes));
    assert.equal(st, ParseStatus.OK, `sizes ${sizes}`);
    assert.deepEqual(summary(ch), expected);
  }
  const { st, ch } = parse(records(hs, new Array<number>(hs.length).fill(1)));
  assert.equal(st, ParseStatus.OK);
  assert.deepEqual(summary(ch), expected);
});

test('bare Handshake message (QUIC CRYPTO data) parses the same', () => {
  const ch = new ClientHello();
  const padded = Buffer.concat([Buffer.from([9, 9]), hs, Buffer.from([7])]);
  assert.equal(parseClientHelloHandshake(padded, 2, 2 + hs.length, ch), ParseStatus.OK);
  assert.deepEqual(summary(ch), summary(parse(stream).ch));
  assert.equal(parseClientHelloHandshake(hs, 0, hs.length - 1, ch), ParseStatus.NEED_MORE);
  assert.equal(parseClientHelloHandshake(Buffer.from([2, 0, 0, 0]), 0, 4, ch), ParseStatus.NOT_MINE);
});

test('every truncation of the record stream is NEED_MORE; every prefix of a 3-record stream too', () => {
  const ch = new ClientHello();
  for (const s of [stream, records(hs, [7, 200])]) {
    for (let k = 0; k < s.length; k++) {
      assert.equal(parseClientHello(s, 0, k, ch), ParseStatus.NEED_MORE, `cut at ${k}`);
    }
    assert.equal(parseClientHello(s, 0, s.length, ch), ParseStatus.OK);
  }
});

test('body truncated at every offset with consistent outer lengths → MALFORMED or OK, never a throw', () => {
  const ch = new ClientHello();
  // Offset after compression methods: a ClientHello without extensions is legal (RFC 5246 §7.4.1.2).
  const noExtEnd = 2 + 32 + 1 + 32 + 2 + 32 + 1 + 1;
  for (let k = 0; k < body.length; k++) {
    const m = handshake(1, body.subarray(0, k));
    for (const st of [parseClientHello(records(m), 0, m.length + 5, ch), parseClientHelloHandshake(m, 0, m.length, ch)]) {
      if (k === noExtEnd) assert.equal(st, ParseStatus.OK);
      else {
        assert.equal(st, ParseStatus.MALFORMED, `cut at ${k}`);
        assert.ok(ch.error !== TlsError.NONE && TLS_ERROR_NAMES[ch.error]!.startsWith('tls.'));
      }
    }
  }
});

test('not TLS, or not a ClientHello → NOT_MINE', () => {
  const ch = new ClientHello();
  const http = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  assert.equal(parseClientHello(http, 0, http.length, ch), ParseStatus.NOT_MINE);
  assert.equal(parseClientHello(http, 0, 1, ch), ParseStatus.NOT_MINE);
  const sh = records(handshake(2, Buffer.alloc(40)));
  assert.equal(parseClientHello(sh, 0, sh.length, ch), ParseStatus.NOT_MINE);
  const badVersion = Buffer.from([22, 7, 1, 0, 4, 1, 0, 0, 0]);
  assert.equal(parseClientHello(badVersion, 0, badVersion.length, ch), ParseStatus.NOT_MINE);
});

test('malformed inputs name their reason', () => {
  const cases: Array<[string, Buffer, TlsError]> = [
    ['session id > 32', records(handshake(1, clientHelloBody({ ciphers: [1], sessionId: Buffer.alloc(33) }))), TlsError.CLIENT_HELLO_BAD_LENGTH],
    ['odd cipher length', records(handshake(1, Buffer.concat([u16(0x0303), Buffer.alloc(32), Buffer.from([0, 0, 3, 0, 1, 2, 1, 0])]))), TlsError.CLIENT_HELLO_BAD_LENGTH],
    ['empty ALPN name', records(handshake(1, clientHelloBody({ ciphers: [1], extensions: [alpnExt(['h2', ''])] }))), TlsError.ALPN_MALFORMED],
    ['odd supported_versions', records(handshake(1, clientHelloBody({ ciphers: [1], extensions: [ext(0x002b, [3, 3, 4, 3])] }))), TlsError.SUPPORTED_VERSIONS_MALFORMED],
    ['SNI list length', records(handshake(1, clientHelloBody({ ciphers: [1], extensions: [ext(0, [0, 9, 0, 0, 1, 0x61])] }))), TlsError.SNI_MALFORMED],
    ['sigalgs', records(handshake(1, clientHelloBody({ ciphers: [1], extensions: [ext(0x000d, [0, 0])] }))), TlsError.SIGNATURE_ALGORITHMS_MALFORMED],
    ['groups', records(handshake(1, clientHelloBody({ ciphers: [1], extensions: [ext(0x000a, [0, 3, 0, 1, 2])] }))), TlsError.SUPPORTED_GROUPS_MALFORMED],
    ['point formats', records(handshake(1, clientHelloBody({ ciphers: [1], extensions: [ext(0x000b, [0])] }))), TlsError.EC_POINT_FORMATS_MALFORMED],
    ['record > 2^14', Buffer.concat([Buffer.from([22, 3, 1, 0x40, 0x01]), Buffer.alloc(10)]), TlsError.RECORD_TOO_LONG],
    ['empty record', Buffer.from([22, 3, 1, 0, 0, 1, 0, 0]), TlsError.RECORD_EMPTY],
    ['alert inside the ClientHello', Buffer.concat([records(hs, [10]).subarray(0, 15), Buffer.from([21, 3, 3, 0, 2, 2, 40])]), TlsError.RECORD_INTERLEAVED],
  ];
  for (const [name, buf, err] of cases) {
    const { st, ch } = parse(buf);
    assert.equal(st, ParseStatus.MALFORMED, name);
    assert.equal(TLS_ERROR_NAMES[ch.error], TLS_ERROR_NAMES[err], name);
  }
});

test('the out object is reset between parses', () => {
  const ch = new ClientHello();
  assert.equal(parseClientHello(stream, 0, stream.length, ch), ParseStatus.OK);
  const plain = records(handshake(1, clientHelloBody({ legacyVersion: 0x0301, ciphers: [0x002f] })));
  assert.equal(parseClientHello(plain, 0, plain.length, ch), ParseStatus.OK);
  assert.deepEqual(summary(ch), {
    v: 0x0301, sid: 32, len: plain.length - 9, ciphers: [0x002f], exts: [], sni: '', hasSni: false, alpn: [],
    versions: [], sigs: [], groups: [], pf: [], ech: false, gc: 0, ge: 0,
  });
  assert.equal(clientHelloMaxVersion(ch), 0x0301);
});

test('lists beyond their storage cap set listOverflow', () => {
  const ciphers = Array.from({ length: 2000 }, (_, i) => i + 1);
  const b = clientHelloBody({ ciphers, extensions: [supportedVersionsExt([0x0304])] });
  const { st, ch } = parse(records(handshake(1, b)));
  assert.equal(st, ParseStatus.OK);
  assert.equal(ch.listOverflow, true);
  assert.equal(ch.cipherSuiteCount, 1024);
});
