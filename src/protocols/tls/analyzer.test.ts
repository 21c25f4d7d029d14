import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamPrefixCounters } from '../../flows/stream-prefix.js';
import { TlsFlowState, tlsVersionName } from './analyzer.js';
import { TlsCounters } from './counters.js';
import {
  certificateBody, chromeLikeClientHelloBody, clientHelloBody, ext, handshake, records, serverHelloBody, u16,
} from '../../../test/fixtures/tls.js';

const clientStream = records(handshake(1, chromeLikeClientHelloBody()), [120, 200]); // 3 records
const sh13 = records(handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304))] })), [], 22, 0x0303);
const serverStream13 = Buffer.concat([sh13, Buffer.from([20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 2, 9, 9])]);

function segments(buf: Buffer, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let o = 0; o < buf.length; o += size) out.push([o, Math.min(size, buf.length - o)]);
  return out;
}

function counts(c: TlsCounters): Record<string, number> {
  return Object.fromEntries(Object.entries(c.snapshot()).filter(([, v]) => v !== 0));
}

test('TLS 1.3: ClientHello over out-of-order TCP segments with retransmits, then ServerHello', () => {
  const c = new TlsCounters();
  const sc = new StreamPrefixCounters();
  const f = new TlsFlowState(c, sc);
  const isn = 0xfffffff0; // sequence numbers wrap inside the ClientHello
  f.onClientData(isn, Buffer.alloc(0), 0, 0, true);
  const segs = segments(clientStream, 100);
  const order = [2, 0, 2, 4, 1, 3, 0, 5, 1].filter((i) => i < segs.length);
  for (let i = 0; i < segs.length; i++) if (!order.includes(i)) order.push(i);
  for (const i of order) {
    const [o, n] = segs[i]!;
    f.onClientData((isn + 1 + o) >>> 0, clientStream, o, n);
  }
  assert.equal(f.done, false);
  assert.equal(f.result.sni, 'example.com');
  assert.deepEqual(f.result.alpn, ['h2', 'http/1.1']);
  assert.deepEqual(f.result.versions, [0x0304, 0x0303]);
  assert.equal(f.result.ja4, 't13d1516h2_8daaf6152771_e5627efa2ab1');
  assert.equal(f.result.ech, false);
  f.onServerData(5000, Buffer.alloc(0), 0, 0, true);
  f.onServerData(5001, serverStream13, 0, 50);
  assert.equal(f.done, false);
  f.onServerData(5051, serverStream13, 50, serverStream13.length - 50);
  assert.equal(f.done, true);
  assert.equal(f.result.serverVersion, 0x0304);
  assert.equal(tlsVersionName(f.result.serverVersion!), 'TLS 1.3');
  assert.equal(f.result.serverCipher, 0x1301);
  assert.equal(f.result.certificateNames, undefined);
  assert.deepEqual(counts(c), { 'tls.client_hellos': 1, 'tls.server_hellos': 1 });
  assert.ok(sc.overlap >= 1);
});

test('TLS 1.2 with a certificate: names of the leaf', { skip: (() => { try { execFileSync('openssl', ['version']); return false; } catch { return 'openssl is not installed'; } })() }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-tls-'));
  let der: Buffer;
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=example.test',
      '-addext', 'subjectAltName=DNS:example.test,DNS:www.example.test',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    der = new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const c = new TlsCounters();
  const f = new TlsFlowState(c, new StreamPrefixCounters());
  const ch = records(handshake(1, clientHelloBody({ ciphers: [0xc02f, 0x009c], extensions: [] })));
  f.onClientData(77, ch, 0, ch.length);
  assert.deepEqual(f.result.versions, [0x0303]);
  assert.equal(f.result.sni, undefined);
  assert.ok(f.result.ja4!.startsWith('t12i020000_'));
  const flight = records(Buffer.concat([
    handshake(2, serverHelloBody({ cipher: 0xc02f, extensions: [] })),
    handshake(11, certificateBody([der])),
    handshake(14, Buffer.alloc(0)),
  ]), [], 22, 0x0303);
  // No SYN-ACK seen: byte 0 is the first data segment; deliver in 500-byte pieces.
  for (const [o, n] of segments(flight, 500)) f.onServerData(9000 + o, flight, o, n);
  assert.equal(f.done, true);
  assert.equal(f.result.serverVersion, 0x0303);
  assert.deepEqual(f.result.certificateNames, ['example.test', 'www.example.test']);
  assert.deepEqual(counts(c), { 'tls.client_hellos': 1, 'tls.server_hellos': 1, 'tls.certificates': 1 });
});

test('not TLS: done at the first byte, no result', () => {
  const c = new TlsCounters();
  const f = new TlsFlowState(c, new StreamPrefixCounters());
  const http = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  f.onClientData(1, http, 0, http.length);
  assert.equal(f.done, true);
  assert.equal(f.notTls, true);
  assert.deepEqual(f.result, { ech: false });
  assert.deepEqual(counts(c), { 'tls.not_tls': 1 });
  f.onClientData(100, http, 0, http.length); // ignored
});

test('ClientHello larger than tlsReassemblyMaxBytes is given up and counted', () => {
  const c = new TlsCounters();
  const sc = new StreamPrefixCounters();
  const f = new TlsFlowState(c, sc, 256);
  f.onClientData(0, clientStream, 0, clientStream.length);
  assert.deepEqual(counts(c), { 'tls.client_hello_too_large': 1 });
  assert.equal(sc.overflow, 1);
  assert.equal(f.result.ja4, undefined);
});

test('malformed ClientHello is counted by reason', () => {
  const c = new TlsCounters();
  const f = new TlsFlowState(c, new StreamPrefixCounters());
  const bad = records(handshake(1, clientHelloBody({ ciphers: [1], extensions: [ext(0x0010, [0, 1, 0])] })));
  f.onClientData(0, bad, 0, bad.length);
  assert.deepEqual(counts(c), { 'tls.alpn_malformed': 1 });
  const sh = records(handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304))] })));
  f.onServerData(0, sh, 0, sh.length);
  assert.equal(f.done, true);
  assert.equal(f.result.serverVersion, 0x0304);
});

test('a flow that never completes is abandoned after a bounded number of segments', () => {
  const c = new TlsCounters();
  const f = new TlsFlowState(c, new StreamPrefixCounters());
  const one = Buffer.from([22]);
  for (let i = 0; i < 200 && !f.done; i++) f.onClientData(1000 + i * 10, one, 0, 1); // gaps: never contiguous
  assert.equal(f.done, true);
  assert.equal(c.gaveUpSegments, 1);
});
