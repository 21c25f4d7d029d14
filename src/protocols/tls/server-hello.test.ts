import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParseStatus } from '../parse-status.js';
import { TLS_ERROR_NAMES, TlsError, tlsVersionName } from './constants.js';
import { alpnExt, certificateBody, ext, fakeCertificateDer, handshake, records, serverHelloBody, u16 } from '../../../test/fixtures/tls.js';
import { ServerFlight, parseServerFlight, parseServerHelloHandshake } from './server-hello.js';
import { CertificateNames, parseCertificateNames } from './x509-names.js';

/** A real certificate made by openssl, or null when openssl is missing. */
function makeCertificate(): Buffer | null {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=example.test',
      '-addext', 'subjectAltName=DNS:example.test,DNS:www.example.test',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return new X509Certificate(readFileSync(join(dir, 'cert.pem'))).raw;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cert = makeCertificate();
const noOpenssl = cert === null ? 'openssl is not installed' : false;

const sh13 = handshake(2, serverHelloBody({ cipher: 0x1301, sessionId: Buffer.alloc(32, 1), extensions: [ext(0x002b, u16(0x0304)), ext(0x0033, [0, 0x1d, 0, 1, 9])] }));
const ccs = Buffer.from([20, 3, 3, 0, 1, 1]);
const appData = Buffer.from([23, 3, 3, 0, 4, 1, 2, 3, 4]);

test('TLS 1.3 ServerHello: supported_versions overrides legacy_version (RFC 8446 §4.2.1)', () => {
  const s = Buffer.concat([records(sh13, [], 22, 0x0303), ccs, appData]);
  const sf = new ServerFlight();
  assert.equal(parseServerFlight(s, 0, s.length, sf), ParseStatus.OK);
  assert.equal(sf.legacyVersion, 0x0303);
  assert.equal(sf.selectedVersion, 0x0304);
  assert.equal(tlsVersionName(sf.selectedVersion), 'TLS 1.3');
  assert.equal(sf.cipherSuite, 0x1301);
  assert.equal(sf.sessionIdLength, 32);
  assert.equal(sf.helloRetryRequest, false);
  assert.equal(sf.hasCertificate, false);
  // Enough for TLS 1.3 even without anything after the ServerHello.
  const only = records(sh13);
  assert.equal(parseServerFlight(only, 0, only.length, sf), ParseStatus.OK);
  // Bare handshake form (QUIC).
  assert.equal(parseServerHelloHandshake(sh13, 0, sh13.length, sf), ParseStatus.OK);
  assert.equal(sf.selectedVersion, 0x0304);
});

test('HelloRetryRequest is recognised by its random (RFC 8446 §4.1.3)', () => {
  const random = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
  const s = records(handshake(2, serverHelloBody({ cipher: 0x1302, random, extensions: [ext(0x002b, u16(0x0304))] })));
  const sf = new ServerFlight();
  assert.equal(parseServerFlight(s, 0, s.length, sf), ParseStatus.OK);
  assert.equal(sf.helloRetryRequest, true);
});

test('TLS 1.2 abbreviated handshake (ServerHello then ChangeCipherSpec): OK without certificate', () => {
  const sh = handshake(2, serverHelloBody({ cipher: 0xc02f, extensions: [alpnExt(['h2'])] }));
  const s = Buffer.concat([records(sh, [], 22, 0x0303), ccs]);
  const sf = new ServerFlight();
  assert.equal(parseServerFlight(s, 0, s.length, sf), ParseStatus.OK);
  assert.equal(sf.selectedVersion, 0x0303);
  assert.equal(sf.alpn, 'h2');
  assert.equal(sf.hasCertificate, false);
  // Without the CCS we cannot know yet whether a Certificate follows.
  const r = records(sh);
  assert.equal(parseServerFlight(r, 0, r.length, sf), ParseStatus.NEED_MORE);
  assert.equal(sf.serverHello, true);
});

test('TLS 1.2 ServerHello + Certificate: leaf names from a real openssl certificate', { skip: noOpenssl }, () => {
  const leaf = cert!;
  const sh = handshake(2, serverHelloBody({ cipher: 0xc030, extensions: [ext(0xff01, [0])] }));
  const cm = handshake(11, certificateBody([leaf, leaf]));
  const done = handshake(14, Buffer.alloc(0));
  const flight = Buffer.concat([sh, cm, done]);
  const x = new X509Certificate(leaf);
  assert.equal(x.subject, 'CN=example.test');
  for (const sizes of [[], [sh.length], [sh.length, 700, 300], [50, 50, 1000, 1]]) {
    const s = records(flight, sizes, 22, 0x0303);
    const sf = new ServerFlight();
    assert.equal(parseServerFlight(s, 0, s.length, sf), ParseStatus.OK, `sizes ${sizes}`);
    assert.equal(sf.selectedVersion, 0x0303);
    assert.equal(tlsVersionName(sf.selectedVersion), 'TLS 1.2');
    assert.equal(sf.cipherSuite, 0xc030);
    assert.equal(sf.hasCertificate, true);
    assert.equal(sf.certificateParsed, true);
    assert.equal(sf.error, TlsError.NONE);
    assert.equal(sf.leafCertificateLength, leaf.length);
    assert.equal(sf.names.subjectCN, 'example.test');
    assert.deepEqual(sf.names.dnsNames, ['example.test', 'www.example.test']);
    // Cross-check with node's X.509 parser.
    assert.equal(x.subjectAltName, sf.names.dnsNames.map((n) => 'DNS:' + n).join(', '));
  }
  // Every truncation up to the end of the leaf is NEED_MORE; nothing after the leaf is needed.
  const s = records(flight, [sh.length, 700], 22, 0x0303);
  const leafEnd = 5 + sh.length + 5 + 700 + 5 + (4 + 3 + 3 + leaf.length - 700);
  const sf = new ServerFlight();
  for (let k = 0; k < leafEnd; k++) assert.equal(parseServerFlight(s, 0, k, sf), ParseStatus.NEED_MORE, `cut at ${k}`);
  assert.equal(parseServerFlight(s, 0, leafEnd, sf), ParseStatus.OK);
  assert.deepEqual(sf.names.dnsNames, ['example.test', 'www.example.test']);
});

test('corrupted certificate DER never throws: OK with tls.certificate_der_malformed, or names', { skip: noOpenssl }, () => {
  const leaf = cert!;
  const names = new CertificateNames();
  assert.equal(parseCertificateNames(leaf, 0, leaf.length, names), ParseStatus.OK);
  let malformed = 0;
  for (let i = 0; i < Math.min(leaf.length, 800); i++) {
    const bad = Buffer.from(leaf);
    bad[i] = bad[i]! ^ 0xff;
    const s = records(Buffer.concat([handshake(2, serverHelloBody({ cipher: 0x009c })), handshake(11, certificateBody([bad]))]));
    const sf = new ServerFlight();
    const st = parseServerFlight(s, 0, s.length, sf);
    assert.equal(st, ParseStatus.OK);
    if (sf.error === TlsError.CERTIFICATE_DER_MALFORMED) malformed++;
    // Every truncation of the DER alone is MALFORMED.
  }
  assert.ok(malformed > 10);
  for (let k = 0; k < leaf.length; k++) assert.equal(parseCertificateNames(leaf, 0, k, names), ParseStatus.MALFORMED);
});

test('server flight framing errors', () => {
  const sf = new ServerFlight();
  const cases: Array<[string, Buffer, TlsError]> = [
    ['sid > 32', records(handshake(2, serverHelloBody({ cipher: 1, sessionId: Buffer.alloc(33) }))), TlsError.SERVER_HELLO_BAD_LENGTH],
    ['short', records(handshake(2, Buffer.alloc(20))), TlsError.SERVER_HELLO_TRUNCATED],
    ['supported_versions len', records(handshake(2, serverHelloBody({ cipher: 1, extensions: [ext(0x002b, [3])] }))), TlsError.SUPPORTED_VERSIONS_MALFORMED],
    ['certificate list length', records(Buffer.concat([handshake(2, serverHelloBody({ cipher: 1 })), handshake(11, Buffer.from([0, 0, 9, 0, 0, 1, 0]))])), TlsError.CERTIFICATE_BAD_LENGTH],
    ['leaf length', records(Buffer.concat([handshake(2, serverHelloBody({ cipher: 1 })), handshake(11, Buffer.from([0, 0, 4, 0, 0, 9, 0]))])), TlsError.CERTIFICATE_TRUNCATED],
  ];
  for (const [name, s, err] of cases) {
    assert.equal(parseServerFlight(s, 0, s.length, sf), ParseStatus.MALFORMED, name);
    assert.equal(TLS_ERROR_NAMES[sf.error], TLS_ERROR_NAMES[err], name);
  }
  const ch = records(handshake(1, Buffer.alloc(50)));
  assert.equal(parseServerFlight(ch, 0, ch.length, sf), ParseStatus.NOT_MINE);
});

test('tlsVersionName', () => {
  assert.equal(tlsVersionName(0x0301), 'TLS 1.0');
  assert.equal(tlsVersionName(0x0302), 'TLS 1.1');
  assert.equal(tlsVersionName(0x0300), 'SSL 3.0');
  assert.equal(tlsVersionName(0x7f17), 'TLS 1.3 draft 23');
  assert.equal(tlsVersionName(0x3a3a), 'GREASE');
  assert.equal(tlsVersionName(0x1234), '0x1234');
});

test('hand-built certificate DER (no openssl needed): CN, SANs, critical flag, long lengths', () => {
  const many = Array.from({ length: 40 }, (_, i) => `Host${i}.Example.NET`);
  const leaf = fakeCertificateDer('Leaf CN', many);
  const names = new CertificateNames();
  assert.equal(parseCertificateNames(leaf, 0, leaf.length, names), ParseStatus.OK);
  assert.equal(names.subjectCN, 'Leaf CN');
  assert.deepEqual(names.dnsNames, many.map((n) => n.toLowerCase()));
  const s = records(Buffer.concat([handshake(2, serverHelloBody({ cipher: 0x009c })), handshake(11, certificateBody([leaf]))]), [10, 100]);
  const sf = new ServerFlight();
  assert.equal(parseServerFlight(s, 0, s.length, sf), ParseStatus.OK);
  assert.equal(sf.names.dnsNames.length, 40);
});
