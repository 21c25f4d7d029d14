import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { HttpCounters } from './counters.js';
import { newHttpRequestInfo, parseHttpRequest, probeRequestStart, type HttpRequestInfo } from './request.js';
import { newHttpResponseInfo, parseHttpResponse } from './response.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function parse(s: string | Uint8Array, counters = new HttpCounters(), max?: number): { st: ParseStatus; out: HttpRequestInfo; c: HttpCounters } {
  const buf = typeof s === 'string' ? b(s) : s;
  const out = newHttpRequestInfo();
  const st = parseHttpRequest(buf, 0, buf.length, out, counters, max === undefined ? undefined : { httpMaxHeaderBytes: max });
  return { st, out, c: counters };
}

const GET = 'GET /index.html?q=1 HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';

test('GET: method, target, host lowercased, path without query, user-agent, headerBytes', () => {
  const { st, out, c } = parse(GET + 'NEXT');
  assert.equal(st, ParseStatus.OK);
  assert.equal(out.method, 'GET');
  assert.equal(out.target, '/index.html?q=1');
  assert.equal(out.targetForm, 'origin');
  assert.equal(out.host, 'example.com');
  assert.equal(out.port, undefined);
  assert.equal(out.path, '/index.html');
  assert.equal(out.userAgent, 'curl/8.5.0');
  assert.equal(out.versionMinor, 1);
  assert.equal(out.headerBytes, GET.length);
  assert.equal(out.contentLength, undefined);
  assert.equal(out.chunked, false);
  assert.equal(c.requests, 1);
});

test('respects off/end: parses inside a larger buffer and never reads past end', () => {
  const buf = b('xxxx' + GET + 'yyyy');
  const out = newHttpRequestInfo();
  assert.equal(parseHttpRequest(buf, 4, 4 + GET.length, out), ParseStatus.OK);
  assert.equal(out.headerBytes, GET.length);
  // end one short of the final LF: still incomplete even though the LF is in the buffer.
  assert.equal(parseHttpRequest(buf, 4, 4 + GET.length - 1, out), ParseStatus.NEED_MORE);
  assert.equal(parseHttpRequest(buf, 4, 4, out), ParseStatus.NEED_MORE);
  assert.equal(parseHttpRequest(buf, 4, 1e9, out), ParseStatus.OK, 'end clamped to buf.length');
  assert.equal(parseHttpRequest(buf, -1, 10, out), ParseStatus.MALFORMED);
  assert.equal(parseHttpRequest(buf, 1.5, 10, out), ParseStatus.MALFORMED);
});

const SAMPLES = [
  GET,
  'POST /api HTTP/1.1\r\nHost: api.example.com:8443\r\nContent-Length: 11\r\n\r\n',
  'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
  'GET http://Proxy.Example/x HTTP/1.1\r\nHost: ignored\r\n\r\n',
  'GET / HTTP/1.1\nHost: [2001:db8::1]:8080\n\n',
  'GET / HTTP/1.0\r\n\r\n',
  'PROPFIND /dav HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
];

test('split at every byte boundary: every strict prefix is NEED_MORE, the whole is OK', () => {
  for (const s of SAMPLES) {
    const full = b(s);
    const whole = parse(full);
    assert.equal(whole.st, ParseStatus.OK, s);
    for (let k = 0; k < full.length; k++) {
      const c = new HttpCounters();
      const out = newHttpRequestInfo();
      assert.equal(parseHttpRequest(full, 0, k, out, c), ParseStatus.NEED_MORE, `${JSON.stringify(s)} @${k}`);
      // Second segment arrives: the concatenation parses to the same result.
      const joined = Buffer.concat([full.subarray(0, k), full.subarray(k)]);
      assert.equal(parseHttpRequest(joined, 0, joined.length, out, c), ParseStatus.OK);
      assert.deepEqual(out, whole.out);
    }
  }
});

test('CONNECT host:443 uses the authority-form target (RFC 9112 §3.2.3)', () => {
  const { st, out } = parse('CONNECT Tunnel.Example.com:443 HTTP/1.1\r\nHost: other.example:443\r\nUser-Agent: x\r\n\r\n');
  assert.equal(st, ParseStatus.OK);
  assert.equal(out.method, 'CONNECT');
  assert.equal(out.targetForm, 'authority');
  assert.equal(out.host, 'tunnel.example.com');
  assert.equal(out.port, 443);
  assert.equal(out.path, undefined);
  const v6 = parse('CONNECT [2001:db8::5]:443 HTTP/1.1\r\n\r\n');
  assert.equal(v6.out.host, '2001:db8::5');
  assert.equal(v6.out.port, 443);
  const noPort = parse('CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n');
  assert.equal(noPort.st, ParseStatus.MALFORMED);
  assert.equal(noPort.c.requestTargetMalformed, 1);
});

test('absolute-form: the URI authority overrides Host (RFC 9112 §3.2.2)', () => {
  const { st, out } = parse('GET HTTP://user:pw@WWW.Example.org:8080/a/b?x=1 HTTP/1.1\r\nHost: wrong.example\r\n\r\n');
  assert.equal(st, ParseStatus.OK);
  assert.equal(out.targetForm, 'absolute');
  assert.equal(out.scheme, 'http');
  assert.equal(out.host, 'www.example.org');
  assert.equal(out.port, 8080);
  assert.equal(out.path, '/a/b');
  const noPath = parse('GET https://example.net HTTP/1.1\r\nHost: example.net\r\n\r\n');
  assert.equal(noPath.out.scheme, 'https');
  assert.equal(noPath.out.path, '/');
  assert.equal(noPath.out.port, undefined);
  const query = parse('GET http://example.net?x HTTP/1.1\r\n\r\n');
  assert.equal(query.out.path, '/');
  // A target of no form is counted; the head is still read for its Host (no path claimed).
  const bad = parse('GET urn:isbn:123 HTTP/1.1\r\nHost: h\r\n\r\n');
  assert.equal(bad.st, ParseStatus.OK);
  assert.equal(bad.c.requestTargetMalformed, 1);
  assert.equal(bad.out.host, 'h');
  assert.equal(bad.out.path, undefined);
  assert.equal(bad.out.target, 'urn:isbn:123');
});

test('asterisk-form for OPTIONS (RFC 9112 §3.2.4)', () => {
  const { st, out } = parse('OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n');
  assert.equal(st, ParseStatus.OK);
  assert.equal(out.targetForm, 'asterisk');
  assert.equal(out.path, '*');
  assert.equal(out.host, 'example.com');
});

test('Host with port, IPv6 literal with and without port, empty port', () => {
  const a = parse('GET / HTTP/1.1\r\nHost: Example.com:8080\r\n\r\n');
  assert.deepEqual([a.out.host, a.out.port], ['example.com', 8080]);
  const v6 = parse('GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n');
  assert.deepEqual([v6.out.host, v6.out.port], ['2001:db8::1', 8080]);
  const v6np = parse('GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n');
  assert.deepEqual([v6np.out.host, v6np.out.port], ['2001:db8::1', undefined]);
  const v4 = parse('GET / HTTP/1.1\r\nHost:10.0.0.1:81 \r\n\r\n');
  assert.deepEqual([v4.out.host, v4.out.port], ['10.0.0.1', 81]);
  const emptyPort = parse('GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n');
  assert.deepEqual([emptyPort.out.host, emptyPort.out.port], ['example.com', undefined]);
  for (const h of ['example.com:99999', 'exa mple.com', '[2001:db8::1', '[]:80', 'a:b:c', 'ex/ample', 'x'.repeat(256)]) {
    const r = parse(`GET / HTTP/1.1\r\nHost: ${h}\r\n\r\n`);
    assert.equal(r.st, ParseStatus.OK, h);
    assert.equal(r.out.host, undefined, h);
    assert.equal(r.c.hostMalformed, 1, h);
  }
  const dup = parse('GET / HTTP/1.1\r\nHost: first\r\nhost: second\r\n\r\n');
  assert.equal(dup.out.host, 'first');
  assert.equal(dup.c.hostDuplicate, 1);
  const empty = parse('GET / HTTP/1.1\r\nHost:\r\n\r\n');
  assert.equal(empty.st, ParseStatus.OK);
  assert.equal(empty.out.host, undefined);
  assert.equal(empty.c.hostMalformed, 0);
});

test('missing Host: fine for HTTP/1.0, counted for HTTP/1.1 (RFC 9112 §3.2)', () => {
  const h10 = parse('GET /old HTTP/1.0\r\nUser-Agent: Lynx\r\n\r\n');
  assert.equal(h10.st, ParseStatus.OK);
  assert.equal(h10.out.host, undefined);
  assert.equal(h10.out.versionMinor, 0);
  assert.equal(h10.c.hostMissing, 0);
  const h11 = parse('GET / HTTP/1.1\r\n\r\n');
  assert.equal(h11.st, ParseStatus.OK);
  assert.equal(h11.c.hostMissing, 1);
});

test('body framing: Content-Length, identical list, conflicts, chunked, TE+CL (RFC 9112 §6.3)', () => {
  const cl = parse('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n');
  assert.equal(cl.out.contentLength, 42);
  const list = parse('POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n');
  assert.equal(list.out.contentLength, 7);
  for (const v of ['5, 6', 'abc', '-1', '', '1234567890123456', '0x10']) {
    const r = parse(`POST / HTTP/1.1\r\nContent-Length: ${v}\r\n\r\n`);
    assert.equal(r.st, ParseStatus.MALFORMED, v);
    assert.equal(r.c.contentLengthInvalid, 1, v);
  }
  const two = parse('POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n');
  assert.equal(two.st, ParseStatus.MALFORMED);
  const ch = parse('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n');
  assert.equal(ch.out.chunked, true);
  const both = parse('POST / HTTP/1.1\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.equal(both.st, ParseStatus.OK);
  assert.equal(both.out.chunked, true);
  assert.equal(both.out.contentLength, undefined);
  assert.equal(both.c.teAndCl, 1);
  const gz = parse('POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n');
  assert.equal(gz.st, ParseStatus.MALFORMED);
  assert.equal(gz.c.transferEncodingInvalid, 1);
  const multi = parse('POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.equal(multi.out.chunked, true);
});

test('header section over httpMaxHeaderBytes → MALFORMED http.header_too_long', () => {
  const big = 'GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ' + 'a'.repeat(9000) + '\r\n\r\n';
  const r = parse(big);
  assert.equal(r.st, ParseStatus.MALFORMED);
  assert.equal(r.c.headerTooLong, 1);
  assert.equal(r.c.snapshot()['http.header_too_long'], 1);
  // Under the bound but incomplete: NEED_MORE; at the bound without the empty line: too long.
  const small = 'GET / HTTP/1.1\r\nHost: h\r\n\r\n';
  assert.equal(parse(small, undefined, small.length).st, ParseStatus.OK);
  assert.equal(parse(small, undefined, small.length - 1).st, ParseStatus.MALFORMED);
  assert.equal(parse(small.slice(0, 10), undefined, 11).st, ParseStatus.NEED_MORE);
  // Exactly 8192 bytes is accepted, 8193 is not.
  const head = 'GET / HTTP/1.1\r\nX: ';
  const pad = (n: number): string => head + 'a'.repeat(n - head.length - 4) + '\r\n\r\n';
  assert.equal(parse(pad(8192)).st, ParseStatus.OK);
  assert.equal(parse(pad(8193)).st, ParseStatus.MALFORMED);
});

test('garbage → NOT_MINE or MALFORMED with counters', () => {
  const cases: Array<[string | Uint8Array, ParseStatus, keyof HttpCounters | undefined]> = [
    [Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]), ParseStatus.NOT_MINE, 'notHttp'],
    ['SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n', ParseStatus.NOT_MINE, 'notHttp'],
    ['EHLO mail.example.com\r\n', ParseStatus.NOT_MINE, 'notHttp'],
    ['\r\nGET / HTTP/1.1\r\n\r\n', ParseStatus.NOT_MINE, 'notHttp'],
    [' GET / HTTP/1.1\r\n\r\n', ParseStatus.NOT_MINE, 'notHttp'],
    ['ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n', ParseStatus.NOT_MINE, 'notHttp'],
    ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', ParseStatus.NOT_MINE, 'h2Preface'],
    ['GET /\r\n', ParseStatus.MALFORMED, 'requestLineMalformed'],
    ['GET / HTTP/1.1\rX\n\r\n', ParseStatus.MALFORMED, 'requestLineMalformed'],
    ['GET / HTTQ/1.1\r\n\r\n', ParseStatus.MALFORMED, 'requestLineMalformed'],
    ['OPTIONS HTTP\r\nHost: h\r\n\r\n', ParseStatus.MALFORMED, 'requestLineMalformed'],
    ['CONNECT HTTP/1.1\r\nHost: h:443\r\n\r\n', ParseStatus.MALFORMED, 'requestTargetMalformed'],
    ['PROPFIND /dav/ HTTQ/1.1\r\n\r\n', ParseStatus.NOT_MINE, 'notHttp'],
    ['PROPFIND /dav/ HTTP/1.1\x01\r\n\r\n', ParseStatus.NOT_MINE, 'notHttp'],
    ['GET / HTTP/2.0\r\n\r\n', ParseStatus.MALFORMED, 'versionUnsupported'],
    ['GET / HTTP/1.1\r\nHost : h\r\n\r\n', ParseStatus.MALFORMED, 'headerMalformed'],
    ['GET / HTTP/1.1\r\n: v\r\n\r\n', ParseStatus.MALFORMED, 'headerMalformed'],
    ['GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', ParseStatus.MALFORMED, 'headerMalformed'],
    ['GET / HTTP/1.1\r\n\rX', ParseStatus.MALFORMED, 'headerMalformed'],
  ];
  for (const [input, want, counter] of cases) {
    const r = parse(input);
    assert.equal(r.st, want, JSON.stringify(typeof input === 'string' ? input : [...input]));
    if (counter) assert.equal(r.c[counter], 1, `${String(counter)} for ${JSON.stringify(input)}`);
    if (want === ParseStatus.MALFORMED) {
      // out.error names the counter (the ParseStatus contract), by its snapshot name.
      assert.ok(r.out.error !== undefined && r.out.error in r.c.snapshot(), String(r.out.error));
      assert.equal(r.c.snapshot()[r.out.error], 1);
    } else {
      assert.equal(r.out.error, undefined);
    }
  }
  // NOT_MINE is decided from the first bytes, before a line is complete.
  assert.equal(parse(Uint8Array.from([0x16, 0x03])).st, ParseStatus.NOT_MINE);
  assert.equal(parse('GE').st, ParseStatus.NEED_MORE);
});

test('generic method tokens, obs-fold, bare LF, obs-text in values', () => {
  const m = parse('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n');
  assert.equal(m.st, ParseStatus.OK);
  assert.equal(m.out.method, 'M-SEARCH');
  assert.deepEqual([m.out.host, m.out.port], ['239.255.255.250', 1900]);
  const fold = parse('GET / HTTP/1.1\r\nUser-Agent: a\r\n  b\r\nHost: h\r\n\r\n');
  assert.equal(fold.st, ParseStatus.OK);
  assert.equal(fold.out.userAgent, 'a');
  assert.equal(fold.c.headerObsFold, 1);
  const lf = parse('GET /x HTTP/1.1\nHost: h\n\n');
  assert.equal(lf.st, ParseStatus.OK);
  assert.equal(lf.out.headerBytes, 'GET /x HTTP/1.1\nHost: h\n\n'.length);
  const ua = parse(b('GET / HTTP/1.1\r\nUser-Agent: \xe9t\xe9 \t\r\n\r\n'));
  assert.equal(ua.out.userAgent, '\xe9t\xe9');
});

test('response status line (RFC 9112 §4) and framing', () => {
  const out = newHttpResponseInfo();
  const c = new HttpCounters();
  const r = (s: string): ParseStatus => parseHttpResponse(b(s), 0, s.length, out, c);
  assert.equal(r('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'), ParseStatus.OK);
  assert.equal(out.statusCode, 200);
  assert.equal(out.contentLength, 5);
  assert.equal(out.headerBytes, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'.length);
  assert.equal(r('HTTP/1.0 404\r\n\r\n'), ParseStatus.OK);
  assert.equal(out.statusCode, 404);
  assert.equal(r('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), ParseStatus.OK);
  assert.equal(out.chunked, true);
  assert.equal(r('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'), ParseStatus.OK);
  assert.equal(out.untilClose, true);
  assert.equal(r('HTTP/1.1 200 OK\r\nContent-Le'), ParseStatus.NEED_MORE);
  assert.equal(r('HTT'), ParseStatus.NEED_MORE);
  assert.equal(r('SSH-2.0-x\r\n'), ParseStatus.NOT_MINE);
  assert.equal(r('HTTP/1.1 2000 OK\r\n\r\n'), ParseStatus.MALFORMED);
  assert.equal(r('HTTP/1.1 abc OK\r\n\r\n'), ParseStatus.MALFORMED);
  assert.equal(c.statusLineMalformed, 2);
});

test('a NUL in an unrelated field value is tolerated as SP and counted (RFC 9110 §5.5)', () => {
  const counters = new HttpCounters();
  const out = newHttpRequestInfo();
  const msg = Buffer.from('POST /svc HTTP/1.1\r\nContent-type:\0Application/xml\r\nHost: 10.68.137.118:8091\r\n\r\n', 'latin1');
  assert.equal(parseHttpRequest(msg, 0, msg.length, out, counters), ParseStatus.OK);
  assert.equal(out.host, '10.68.137.118');
  assert.equal(counters.headerControlInValue, 1);
  const bareCr = Buffer.from('GET / HTTP/1.1\r\nX: a\rb\r\nHost: h\r\n\r\n', 'latin1');
  assert.equal(parseHttpRequest(bareCr, 0, bareCr.length, out, counters), ParseStatus.MALFORMED);
});

test('an obs-fold line after a field with a control byte counts that field once, in this message only', () => {
  const counters = new HttpCounters();
  const out = newHttpRequestInfo();
  const msg = Buffer.from('GET / HTTP/1.1\r\nX-A: a\x01b\r\n continued\r\nHost: h\r\n\r\n', 'latin1');
  assert.equal(parseHttpRequest(msg, 0, msg.length, out, counters), ParseStatus.OK);
  assert.equal(counters.headerControlInValue, 1);
  assert.equal(counters.headerObsFold, 1);
  // The next message starts with a fold-like line: nothing of the previous one is counted again.
  const next = Buffer.from('GET / HTTP/1.1\r\n lead\r\nHost: h\r\n\r\n', 'latin1');
  assert.equal(parseHttpRequest(next, 0, next.length, out, counters), ParseStatus.OK);
  assert.equal(counters.headerControlInValue, 1);
});

test('extension methods (RFC 9110 §9.1: method = token) yield host, path and User-Agent', () => {
  for (const m of ['PROPFIND', 'MKCOL', 'LOCK', 'UNLOCK', 'PROPPATCH', 'REPORT', 'CCM_POST', 'M-SEARCH']) {
    const r = parse(`${m} /dav/a?x HTTP/1.1\r\nHost: Files.Example.com:8080\r\nUser-Agent: ua/1\r\nContent-Length: 3\r\n\r\nabc`);
    assert.equal(r.st, ParseStatus.OK, m);
    assert.equal(r.out.method, m);
    assert.equal(r.out.host, 'files.example.com');
    assert.equal(r.out.port, 8080);
    assert.equal(r.out.path, '/dav/a');
    assert.equal(r.out.userAgent, 'ua/1');
    assert.equal(r.out.contentLength, 3);
    assert.equal(r.c.methodExtension, 1);
    assert.equal(r.c.requestLineMalformed, 0);
  }
  const get = parse('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
  assert.equal(get.c.methodExtension, 0);
});

test('request lines Zeek reads though RFC 9112 §3 does not: head read, oddity counted', () => {
  const cases: Array<[string, { target: string; path: string | undefined; minor: number; counters: Array<keyof HttpCounters> }]> = [
    // No target: Zeek's missing_HTTP_uri.
    ['OPTIONS HTTP/1.1', { target: '', path: undefined, minor: 1, counters: ['requestTargetMissing'] }],
    // Truncated or bad versions: Zeek's bad_HTTP_version; read as 1.1.
    ['GET /a HTTP/1.', { target: '/a', path: '/a', minor: 1, counters: ['versionMalformed'] }],
    ['GET /a HTTP/', { target: '/a', path: '/a', minor: 1, counters: ['versionMalformed'] }],
    ['POST /p HTTP/d.1', { target: '/p', path: '/p', minor: 1, counters: ['versionMalformed'] }],
    ['GET /a HTTP/1.0 x', { target: '/a', path: '/a', minor: 0, counters: ['versionMalformed'] }],
    ['GET / HTTP/1.1 ', { target: '/', path: '/', minor: 1, counters: ['versionMalformed'] }],
    // Whitespace-delimited words (RFC 9112 §3 allows recipients this).
    ['GET  / HTTP/1.1', { target: '/', path: '/', minor: 1, counters: [] }],
    ['GET /a b HTTP/1.1', { target: '/a b', path: '/a b', minor: 1, counters: [] }],
    ['PROPFIND  /dav/ HTTP/1.', { target: '/dav/', path: '/dav/', minor: 1, counters: ['versionMalformed', 'methodExtension'] }],
  ];
  for (const [line, want] of cases) {
    const r = parse(`${line}\r\nHost: www.example.com\r\nUser-Agent: ua\r\n\r\n`);
    assert.equal(r.st, ParseStatus.OK, line);
    assert.equal(r.out.host, 'www.example.com', line);
    assert.equal(r.out.userAgent, 'ua', line);
    assert.equal(r.out.target, want.target, line);
    assert.equal(r.out.path, want.path, line);
    assert.equal(r.out.versionMinor, want.minor, line);
    assert.equal(r.out.error, undefined, line);
    assert.equal(r.c.requestLineMalformed, 1, line);
    assert.equal(r.c.requestLineLenient, 1, line);
    for (const k of ['requestTargetMissing', 'versionMalformed', 'methodExtension'] as const) {
      assert.equal(r.c[k], want.counters.includes(k) ? 1 : 0, `${k} for ${line}`);
    }
  }
  // A target of no form (RFC 9112 §3.2), as in a fuzzed capture: counted, head read.
  const dot = parse('POST .servlets/mms HTTP/1.1\r\nHost: 172.20.3.13\r\n\r\n');
  assert.equal(dot.st, ParseStatus.OK);
  assert.equal(dot.out.host, '172.20.3.13');
  assert.equal(dot.c.requestTargetMalformed, 1);
  assert.equal(dot.c.requestLineLenient, 0);
  // A lenient line still needs its LF before it is read (a known method waits for it).
  assert.equal(parse('GET /a HTTP/1.').st, ParseStatus.NEED_MORE);
});

test('probe: registered methods by their first bytes, extension methods by an HTTP/ request line', () => {
  const probe = (t: string): boolean => { const b = Buffer.from(t, 'latin1'); return probeRequestStart(b, 0, b.length, 1024); };
  assert.equal(probe('GET '), true);
  assert.equal(probe('OPTIONS HTTP/1.1\r\n'), true);
  assert.equal(probe('PROPFIND /dav/ HTTP/1.1\r\n'), true);
  assert.equal(probe('CCM_POST /hnap HTTP/1.1\r\n'), true);
  assert.equal(probe('MKCOL /a%20b HTTP/1.'), true);
  assert.equal(probe('PROPFIND /dav/'), false, 'line not seen yet');
  assert.equal(probe('EHLO mail.example.com\r\n'), false);
  assert.equal(probe('USER anonymous\r\nPASS HTTP/1.1\r\n'), false, 'HTTP/ on a later line');
  assert.equal(probe('RETR /pub/file\r\n'), false);
  assert.equal(probe('220 smtp.example.com ESMTP\r\n'), false);
  assert.equal(probe('ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n'), false, 'token over 16 chars');
  assert.equal(probe('get / HTTP/1.1\r\n'), true, 'a lowercase token is a token');
  const long = 'PROPFIND /' + 'a'.repeat(2000) + ' HTTP/1.1\r\n';
  assert.equal(probe(long), false, 'only the first 1024 bytes are searched');
});

test('a request field line with a non-tchar byte in its name is skipped and counted (nginx ignore_invalid_headers)', () => {
  const r = parse(Buffer.from('GET /m HTTP/1.1\r\nCache-Contr\xf0l: no-cache\r\nHost: 172.20.3.13\r\nX(y: 1\r\nUser-Agent: T68\r\n\r\n', 'latin1'));
  assert.equal(r.st, ParseStatus.OK);
  assert.equal(r.out.host, '172.20.3.13');
  assert.equal(r.out.userAgent, 'T68');
  assert.equal(r.c.headerNameInvalid, 2);
  assert.equal(r.c.headerMalformed, 0);
  // Still malformed: whitespace before the colon (§5.1), no colon, NUL, bare CR.
  for (const line of ['Host : h', 'Cache-Contr\xf0l no colon', 'X\xf0\x00: v', 'X\xf0: a\rb', 'X\xf0 y: v']) {
    const m = parse(Buffer.from(`GET / HTTP/1.1\r\n${line}\r\nHost: h\r\n\r\n`, 'latin1'));
    assert.equal(m.st, ParseStatus.MALFORMED, JSON.stringify(line));
    assert.equal(m.c.headerMalformed, 1, JSON.stringify(line));
  }
  // A response is not read past such a line.
  const res = newHttpResponseInfo();
  const rb = Buffer.from('HTTP/1.1 200 OK\r\nX\xf0: v\r\nContent-Length: 0\r\n\r\n', 'latin1');
  assert.equal(parseHttpResponse(rb, 0, rb.length, res, new HttpCounters()), ParseStatus.MALFORMED);
});

test('NTLM / Negotiate credentials are found by offset only, inside the head, at every cut and in any case (RFC 4559 §4)', () => {
  const enc = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0) & 0xff);
  const req = enc('GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic eA==\r\naUTHORIZATION: nTlM  TlRMTVNTUAAB\r\n\r\n');
  const res = enc('HTTP/1.1 401 No\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NEGOTIATE YII=\r\nContent-Length: 0\r\n\r\n');
  const auth = { start: -1, end: -1 };
  const out = newHttpRequestInfo();
  assert.equal(parseHttpRequest(req, 0, req.length, out, undefined, { auth }), ParseStatus.OK);
  // The first Authorization field is Basic: not a token of ours; the second is, spaces skipped.
  assert.equal(Buffer.from(req.subarray(auth.start, auth.end)).toString('latin1'), 'TlRMTVNTUAAB');
  assert.ok(!JSON.stringify(out).includes('TlRM'), 'the token is not in the parsed request');
  const rout = newHttpResponseInfo();
  assert.equal(parseHttpResponse(res, 0, res.length, rout, undefined, { auth }), ParseStatus.OK);
  assert.equal(Buffer.from(res.subarray(auth.start, auth.end)).toString('latin1'), 'YII=');
  for (const [buf, parse] of [[req, (b: Uint8Array, e: number) => parseHttpRequest(b, 0, e, newHttpRequestInfo(), undefined, { auth })], [res, (b: Uint8Array, e: number) => parseHttpResponse(b, 0, e, newHttpResponseInfo(), undefined, { auth })]] as const) {
    for (let cut = 0; cut <= buf.length; cut++) {
      const st = parse(buf, cut);
      if (st !== ParseStatus.OK) continue;
      assert.ok(auth.start < 0 || (auth.start > 0 && auth.end <= cut && auth.end > auth.start), `cut ${cut}`);
    }
  }
});

// NUL is invalid in a request-target (RFC 9112 §3.2) and in a field value (RFC 9110 §5.5), and a
// strict server answers 400. The servers such requests are aimed at hold the request as C strings
// (ISAPI filters, CGI handlers, embedded servers): for them a NUL ends the target or the value,
// which is why an attack plants one. The parser reads a NUL as they do, so it names what they serve.

test('a NUL in a request field value ends the value, as a C-string reader ends it (RFC 9110 §5.5)', () => {
  // fuzz-2006-09-29-28586.pcap: nDPI reports the host `%s`, the C string before the NUL.
  const r = parse(b('POST /ppgctrl/ppgcontrollogic.dll HTTP/1.1\r\nUser-Agent: MMS-Relay \t\0Initiator\r\nHost:%s\x002.20.3.5\r\nContent-length: 3\0x\r\n\r\nabc'));
  assert.equal(r.st, ParseStatus.OK);
  assert.equal(r.out.host, '%s');
  assert.equal(r.out.userAgent, 'MMS-Relay', 'OWS before the NUL is not part of the value');
  assert.equal(r.out.contentLength, 3, 'a C-string reader frames the body with the digits before the NUL');
  assert.equal(r.c.fieldValueNul, 3);
  assert.equal(r.c.headerControlInValue, 3, 'still counted as a control byte in a value');
  assert.equal(r.c.hostMalformed, 0);
  assert.equal(r.c.contentLengthInvalid, 0);
  // A value that is empty up to the NUL names nothing, and is no malformed host.
  const empty = parse(b('GET / HTTP/1.1\r\nHost: \0example.com\r\n\r\n'));
  assert.equal(empty.st, ParseStatus.OK);
  assert.equal(empty.out.host, undefined);
  assert.equal(empty.c.hostMalformed, 0);
  assert.equal(empty.c.fieldValueNul, 1);
  // Only the first Host counts, NUL or not (RFC 9112 §3.2).
  const dup = parse(b('GET / HTTP/1.1\r\nHost: a.example\0b\r\nHost: c.example\r\n\r\n'));
  assert.equal(dup.out.host, 'a.example');
  assert.equal(dup.c.hostDuplicate, 1);
  // Markup after a NUL is cut off; before it, the host is still refused.
  assert.equal(parse(b('GET / HTTP/1.1\r\nHost: <b>\0x\r\n\r\n')).c.hostMalformed, 1);
  // A value without NUL is read as before; the line still ends at its LF, not at the NUL.
  const next = parse(b('GET / HTTP/1.1\r\nX: \0\r\nUser-Agent: u\r\n\r\n'));
  assert.equal(next.out.userAgent, 'u');
  assert.equal(next.c.fieldValueNul, 1);
  // A NUL does not make a bare CR or a NUL in a name acceptable.
  assert.equal(parse(b('GET / HTTP/1.1\r\nHost: h\0\rx\r\n\r\n')).st, ParseStatus.MALFORMED);
  assert.equal(parse(b('GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n')).st, ParseStatus.MALFORMED);
});

test('a NUL in the request-target is tolerated and ends the target (RFC 9112 §3: read leniently, counted)', () => {
  // fuzz-2006-09-29-28586.pcap: the fuzzed request line, bad version and all.
  const r = parse(b('POST /ppgctrl/ppgcon%s\0llogic.dll HTTP/d.1\r\nConnection:%s\0ep-alive\r\nHost: 172.20.3.5\r\n\r\n'));
  assert.equal(r.st, ParseStatus.OK);
  assert.equal(r.out.method, 'POST');
  assert.equal(r.out.target, '/ppgctrl/ppgcon%s');
  assert.equal(r.out.path, '/ppgctrl/ppgcon%s');
  assert.equal(r.out.host, '172.20.3.5');
  assert.equal(r.out.versionMinor, 1);
  assert.deepEqual(
    [r.c.requestTargetNul, r.c.requestLineLenient, r.c.requestLineMalformed, r.c.versionMalformed, r.c.fieldValueNul, r.c.requests],
    [1, 1, 1, 1, 1, 1],
  );
  const good = parse(b('GET /a.asp\0.jpg?x HTTP/1.1\r\nHost: h\r\n\r\n'));
  assert.equal(good.st, ParseStatus.OK);
  assert.equal(good.out.target, '/a.asp');
  assert.equal(good.out.path, '/a.asp');
  assert.equal(good.c.requestTargetNul, 1);
  assert.equal(good.c.versionMalformed, 0);
  // The authority of an absolute-form target ends at the NUL too.
  const abs = parse(b('GET http://a.example\0.evil.example/ HTTP/1.1\r\nHost: h\r\n\r\n'));
  assert.equal(abs.out.host, 'a.example');
  // Nothing before the NUL: no target, as for `OPTIONS HTTP/1.1`.
  const none = parse(b('GET \0/x HTTP/1.1\r\nHost: h\r\n\r\n'));
  assert.equal(none.st, ParseStatus.OK);
  assert.equal(none.out.target, '');
  assert.equal(none.out.host, 'h');
  assert.deepEqual([none.c.requestTargetNul, none.c.requestTargetMissing], [1, 1]);
  // A NUL from the version on, or any other control byte in the line, still leaves it unread.
  for (const line of ['GET / HTTP/1.1\0', 'GET / HTTP/\x001.1', 'GET /a\0b\x01 HTTP/1.1', 'GET /a\x01b HTTP/1.1']) {
    const m = parse(b(`${line}\r\nHost: h\r\n\r\n`));
    assert.equal(m.st, ParseStatus.MALFORMED, JSON.stringify(line));
    assert.equal(m.c.requestLineMalformed, 1, JSON.stringify(line));
    assert.equal(m.c.requestTargetNul, 0, JSON.stringify(line));
  }
  // An extension method's line with a NUL in its target is a request too.
  const ext = parse(b('PROPFIND /dav\0x HTTP/1.1\r\nHost: d\r\n\r\n'));
  assert.equal(ext.st, ParseStatus.OK);
  assert.equal(ext.out.path, '/dav');
  // Every strict prefix waits for more; the whole is read.
  const whole = b('POST /p\0q HTTP/1.1\r\nHost: h\0i\r\n\r\n');
  for (let cut = 1; cut < whole.length; cut++) {
    assert.equal(parse(whole.subarray(0, cut)).st, ParseStatus.NEED_MORE, `cut ${cut}`);
  }
  assert.equal(parse(whole).out.host, 'h');
});

test('responses read NUL as before: a value is not cut at it, a NUL in Content-Length stays invalid', () => {
  const c = new HttpCounters();
  const out = newHttpResponseInfo();
  const ok = b('HTTP/1.1 202 Accepted\r\nX: a\0b\r\nContent-Length: 4\r\n\r\n');
  assert.equal(parseHttpResponse(ok, 0, ok.length, out, c), ParseStatus.OK);
  assert.equal(out.contentLength, 4);
  // fuzz-2006-09-29-28586.pcap: a NUL in a response's field name leaves the head malformed.
  const name = b('HTTP/1.1 202 Accepted\r\n%s\0tent-Type: application/xml\r\nContent-Length: 4\r\n\r\n');
  assert.equal(parseHttpResponse(name, 0, name.length, out, c), ParseStatus.MALFORMED);
  assert.equal(out.error, 'http.header_malformed');
  const cl = b('HTTP/1.1 200 OK\r\nContent-Length: 4\0x\r\n\r\n');
  assert.equal(parseHttpResponse(cl, 0, cl.length, out, c), ParseStatus.MALFORMED);
  assert.equal(out.error, 'http.content_length_invalid');
  assert.equal(c.fieldValueNul, 0);
  assert.equal(c.headerControlInValue, 0, 'responses never counted control bytes in values');
});
