import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ParseStatus } from '../parse-status.js';
import { ClientHello, parseClientHello, parseClientHelloHandshake } from './client-hello.js';
import { ja4, ja4Alpn, ja4Raw, ja4Version } from './ja4.js';
import { alpnExt, chromeLikeClientHelloBody, clientHelloBody, ext, extFor, handshake, records, sniExt, supportedVersionsExt } from '../../../test/fixtures/tls.js';

function parsed(body: Buffer): ClientHello {
  const ch = new ClientHello();
  const s = records(handshake(1, body));
  assert.equal(parseClientHello(s, 0, s.length, ch), ParseStatus.OK);
  return ch;
}

test('JA4 of the FoxIO specification example (GREASE added) matches the published value', () => {
  // Source: FoxIO-LLC/ja4, technical_details/JA4.md, sections "Example" and "Raw Output".
  const ch = parsed(chromeLikeClientHelloBody());
  assert.equal(ja4Raw(ch), 't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_' +
    '0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601');
  assert.equal(ja4(ch), 't13d1516h2_8daaf6152771_e5627efa2ab1');
});

test('JA4 of a published Chrome ClientHello with ECH (browserleaks.com JA4 output)', () => {
  // ja4 / ja4_ro values from a browserleaks.com TLS report of Chrome 143 (kept in the public
  // repository service0427/v2_cp_app, tls.md): extension wire order taken from its ja4_ro.
  const order = [0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a, 0x002b, 0xff01, 0x0023,
    0x0012, 0x0005, 0x000d, 0x001b];
  const ch = parsed(chromeLikeClientHelloBody(order));
  assert.equal(ch.hasEch, true);
  assert.equal(ja4(ch), 't13d1516h2_8daaf6152771_d8a2da3f94cd');
});

test('QUIC transport, same ClientHello as a bare Handshake message', () => {
  const hs = handshake(1, chromeLikeClientHelloBody());
  const ch = new ClientHello();
  assert.equal(parseClientHelloHandshake(hs, 0, hs.length, ch), ParseStatus.OK);
  assert.equal(ja4(ch, 'q'), 'q13d1516h2_8daaf6152771_e5627efa2ab1');
});

test('no SNI, no ALPN, no extensions, legacy version (hand-computed)', () => {
  const ch = parsed(clientHelloBody({ legacyVersion: 0x0301, ciphers: [0x0035, 0x002f, 0x0a0a] }));
  // Cipher hash: sha256("002f,0035") truncated to 12 hex characters.
  const h = createHash('sha256').update('002f,0035').digest('hex').slice(0, 12);
  assert.equal(ja4(ch), `t10i020000_${h}_000000000000`);
});

test('extensions hashed without signature algorithms have no trailing underscore', () => {
  const ch = parsed(clientHelloBody({ ciphers: [0x1301], extensions: [extFor(0x000a), extFor(0x000b), sniExt('a.b')] }));
  assert.equal(ja4Raw(ch), 't12d010300_1301_000a,000b');
  const c = createHash('sha256').update('000a,000b').digest('hex').slice(0, 12);
  assert.ok(ja4(ch).endsWith('_' + c));
});

test('ALPN characters: alphanumeric, single character, hex fallback', () => {
  const cases: Array<[string[], string]> = [
    [['http/1.1'], 'h1'], [['h2', 'http/1.1'], 'h2'], [['a'], 'aa'], [['\x30\xab'], '3b'], [['\xab'], 'ab'],
    [['\xab\xcd'], 'ad'], [['\x30\x31\xab\xcd'], '3d'], [['\x30\xab\xcd\x31'], '01'],
  ];
  for (const [list, want] of cases) {
    assert.equal(ja4Alpn(parsed(clientHelloBody({ ciphers: [1], extensions: [alpnExt(list)] }))), want, JSON.stringify(list));
  }
  assert.equal(ja4Alpn(parsed(clientHelloBody({ ciphers: [1], extensions: [] }))), '00');
});

test('version: highest non-GREASE supported_versions; counts capped at 99', () => {
  const ciphers = Array.from({ length: 120 }, (_, i) => 0x0100 + i);
  const exts = [supportedVersionsExt([0xfafa, 0x0302, 0x0303]), ...Array.from({ length: 110 }, (_, i) => ext(0x0100 + i, []))];
  const ch = parsed(clientHelloBody({ legacyVersion: 0x0301, ciphers, extensions: exts }));
  assert.ok(ja4(ch).startsWith('t12i999900_'));
  assert.equal(ja4Version(0x0304), '13');
  assert.equal(ja4Version(0xfefd), 'd2');
  assert.equal(ja4Version(0x7f1c), '00');
});

test('JA4 shape', () => {
  assert.match(ja4(parsed(chromeLikeClientHelloBody())), /^[tqd][0-9sd][0-9]{1}[di][0-9]{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/);
});
