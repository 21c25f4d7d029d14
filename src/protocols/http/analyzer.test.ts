import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { HttpFlowState } from './analyzer.js';
import { HttpCounters } from './counters.js';
import { newHttpRequestInfo, parseHttpRequest } from './request.js';
import { newHttpResponseInfo, parseHttpResponse } from './response.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

const PIPELINE =
  'POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 11\r\n\r\nhello world' +
  'POST /chunks HTTP/1.1\r\nHost: b.example:8080\r\nTransfer-Encoding: chunked\r\n\r\n' +
  '5;ext=1\r\nGET /\r\nA \r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n' +
  '\r\n' + // stray empty line between messages (RFC 9112 §2.2)
  'HEAD /h HTTP/1.1\r\nHost: c.example\r\nUser-Agent: ua/1\r\n\r\n' +
  'GET /last HTTP/1.1\r\nHost: d.example\r\n\r\n';

const RESPONSES =
  'HTTP/1.1 100 Continue\r\n\r\n' +
  'HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nHTTP' +
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nHTTP\r\n0\r\n\r\n' +
  'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + // HEAD: no body despite Content-Length
  'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';

function summary(f: HttpFlowState): Array<[string, string | undefined, number | undefined, string | undefined, number | undefined]> {
  return f.requests.map((r) => [r.method, r.host, r.port, r.path, r.statusCode]);
}

const EXPECTED = [
  ['POST', 'a.example', undefined, '/upload', 201],
  ['POST', 'b.example', 8080, '/chunks', 200],
  ['HEAD', 'c.example', undefined, '/h', 200],
  ['GET', 'd.example', undefined, '/last', 404],
];

test('pipelined requests with Content-Length and chunked bodies; statuses matched in order', () => {
  const f = new HttpFlowState();
  f.onClientData(b(PIPELINE), 0, PIPELINE.length);
  assert.equal(f.requests.length, 4);
  assert.equal(f.isHttp, true);
  f.onServerData(b(RESPONSES), 0, RESPONSES.length);
  assert.deepEqual(summary(f), EXPECTED);
  assert.equal(f.requests[2]!.userAgent, 'ua/1');
  assert.equal(f.requests[1]!.chunked, true);
  assert.equal(f.done, false, 'client may send more');
  const s = f.counters.snapshot();
  assert.equal(s['http.requests'], 4);
  assert.equal(s['http.responses'], 5);
});

test('every split of the client and server streams into two segments gives the same result', () => {
  const cs = b(PIPELINE), ss = b(RESPONSES);
  for (let k = 0; k <= cs.length; k++) {
    const f = new HttpFlowState();
    f.onClientData(cs, 0, k);
    f.onClientData(cs, k, cs.length - k);
    const j = Math.min(k, ss.length);
    f.onServerData(ss, 0, j);
    f.onServerData(ss, j, ss.length - j);
    assert.deepEqual(summary(f), EXPECTED, `split at ${k}`);
  }
});

test('one byte per segment, and random segmentations', () => {
  const cs = b(PIPELINE), ss = b(RESPONSES);
  const f = new HttpFlowState();
  for (let i = 0; i < cs.length; i++) f.onClientData(cs, i, 1);
  for (let i = 0; i < ss.length; i++) f.onServerData(ss, i, 1);
  assert.deepEqual(summary(f), EXPECTED);
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (let trial = 0; trial < 200; trial++) {
    const g = new HttpFlowState();
    for (let p = 0; p < cs.length;) { const n = 1 + rnd(40); g.onClientData(cs, p, Math.min(n, cs.length - p)); p += n; }
    for (let p = 0; p < ss.length;) { const n = 1 + rnd(40); g.onServerData(ss, p, Math.min(n, ss.length - p)); p += n; }
    assert.deepEqual(summary(g), EXPECTED);
  }
});

test('CONNECT host:443 then 200: tunnel, flow done, TLS bytes ignored', () => {
  const f = new HttpFlowState();
  const req = 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n';
  f.onClientData(b(req), 0, req.length);
  assert.equal(f.requests[0]!.host, 'example.com');
  assert.equal(f.requests[0]!.port, 443);
  assert.equal(f.done, false, 'waiting for the response');
  const res = 'HTTP/1.1 200 Connection established\r\n\r\n';
  f.onServerData(b(res), 0, res.length);
  assert.equal(f.requests[0]!.statusCode, 200);
  assert.equal(f.done, true);
  assert.equal(f.counters.tunnels, 1);
  f.onClientData(Uint8Array.from([0x16, 3, 1, 0, 5]), 0, 5);
  assert.equal(f.counters.notHttp, 0);
});

test('101 Switching Protocols ends the flow', () => {
  const f = new HttpFlowState();
  const req = 'GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
  f.onClientData(b(req), 0, req.length);
  const res = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello';
  f.onServerData(b(res), 0, res.length);
  assert.equal(f.requests[0]!.statusCode, 101);
  assert.equal(f.done, true);
});

test('not HTTP: done at once, nothing recorded', () => {
  const f = new HttpFlowState();
  f.onClientData(Uint8Array.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01]), 0, 6);
  assert.equal(f.done, true);
  assert.equal(f.isHttp, false);
  assert.equal(f.requests.length, 0);
  assert.equal(f.counters.notHttp, 1);
  const g = new HttpFlowState();
  const ssh = 'SSH-2.0-OpenSSH_9.6\r\n';
  g.onClientData(b(ssh), 0, ssh.length);
  assert.equal(g.done, true);
});

test('httpMaxRequestsPerFlow bounds recorded requests', () => {
  const one = 'GET / HTTP/1.1\r\nHost: h\r\n\r\n';
  const f = new HttpFlowState(undefined, { httpMaxRequestsPerFlow: 3 });
  const s = one.repeat(10);
  f.onClientData(b(s), 0, s.length);
  assert.equal(f.requests.length, 3);
  assert.equal(f.counters.maxRequestsReached, 1);
  assert.equal(f.done, false, 'responses still expected');
  const r = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'.repeat(3);
  f.onServerData(b(r), 0, r.length);
  assert.equal(f.done, true);
  assert.deepEqual(f.requests.map((x) => x.statusCode), [200, 200, 200]);
  const d = new HttpFlowState();
  const many = one.repeat(40);
  d.onClientData(b(many), 0, many.length);
  assert.equal(d.requests.length, 32);
});

test('a head trickling in past httpMaxHeaderBytes stops the flow (bounded buffer), its lines before the bound still read', () => {
  const f = new HttpFlowState();
  const s = 'GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ' + 'a'.repeat(10000);
  const buf = b(s);
  for (let i = 0; i < buf.length; i++) f.onClientData(buf, i, 1);
  assert.equal(f.counters.headerTooLong, 1);
  // Servers take longer heads than the sensor keeps (nginx: 4 x 8 KiB buffers): the request line
  // and the field lines inside the bound are read, as a line-by-line reader reads them.
  assert.equal(f.requests.length, 1);
  assert.equal(f.requests[0]!.host, 'h');
  assert.equal(f.requests[0]!.headCut, true);
  assert.equal(f.counters.requestHeadCut, 1);
  // The client side stopped: later bytes add nothing.
  const more = b('\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n');
  f.onClientData(more, 0, more.length);
  assert.equal(f.requests.length, 1);
});

test('a head that never ends (the rest lost, or the capture over) names the flow from its complete lines, without changing the state', () => {
  const f = new HttpFlowState();
  const s = 'GET /servlets/mms?message-id=1 HTTP/1.1\r\nHost: 172.20.3.13\r\nUser-Agent: T68\r\nOpt: "htt';
  f.onClientData(b(s), 0, s.length);
  assert.equal(f.requests.length, 0);
  const soFar = f.requestsSoFar();
  assert.equal(soFar.length, 1);
  assert.equal(soFar[0]!.host, '172.20.3.13');
  assert.equal(soFar[0]!.path, '/servlets/mms');
  assert.equal(soFar[0]!.userAgent, 'T68');
  assert.equal(soFar[0]!.headCut, true);
  assert.equal(f.requestsSoFar().length, 1);
  assert.equal(f.counters.requestHeadCut, 1, 'counted once per flow however often it is asked');
  // The head completes after all: the real request replaces the cut one.
  const rest = '://x"\r\n\r\n';
  f.onClientData(b(rest), 0, rest.length);
  assert.equal(f.requests.length, 1);
  assert.equal(f.requests[0]!.headCut, false);
  assert.equal(f.requestsSoFar().length, 1);
});

test('a field line no reader can take (no colon) ends the head: the lines before it count, the ones after do not', () => {
  const f = new HttpFlowState();
  const s = 'POST /a HTTP/1.1\r\nHost: before\r\nthis line has no colon\r\nUser-Agent: after\r\n\r\n';
  f.onClientData(b(s), 0, s.length);
  assert.equal(f.counters.headerMalformed, 1);
  assert.equal(f.requests.length, 1);
  assert.equal(f.requests[0]!.host, 'before');
  assert.equal(f.requests[0]!.userAgent, undefined);
  assert.equal(f.requests[0]!.headCut, true);
  // A request line that never completed names nothing.
  const g = new HttpFlowState();
  const t = 'GET /servlets/mms?message-id=1 HTT';
  g.onClientData(b(t), 0, t.length);
  assert.equal(g.requestsSoFar().length, 0);
  assert.equal(g.counters.requestHeadCut, 0);
});

test('response without body length ends server parsing; later requests still recorded', () => {
  const f = new HttpFlowState();
  const req = 'GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n';
  f.onClientData(b(req), 0, req.length);
  const res = 'HTTP/1.0 200 OK\r\n\r\nbody until close HTTP/1.1 500 X\r\n\r\n';
  f.onServerData(b(res), 0, res.length);
  assert.deepEqual(f.requests.map((x) => x.statusCode), [200, undefined]);
  assert.equal(f.done, false);
  const more = 'GET /c HTTP/1.1\r\nHost: h\r\n\r\n';
  f.onClientData(b(more), 0, more.length);
  assert.equal(f.requests.length, 3);
});

test('malformed chunked body stops the client side', () => {
  const f = new HttpFlowState();
  const s = 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n';
  f.onClientData(b(s), 0, s.length);
  assert.equal(f.requests.length, 1);
  assert.equal(f.counters.chunkMalformed, 1);
  const res = 'HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n';
  f.onServerData(b(res), 0, res.length);
  assert.equal(f.done, true);
});

test('bad arguments are ignored, never thrown', () => {
  const f = new HttpFlowState();
  const buf = b('GET / HTTP/1.1\r\n\r\n');
  f.onClientData(buf, -5, 3);
  f.onClientData(buf, 0, -1);
  f.onClientData(buf, 1.5, 2);
  f.onClientData(buf, 0, 1e9);
  assert.equal(f.requests.length, 1);
});

// ---------------------------------------------------------------- random mutation loop

const SEEDS = [
  'GET /index.html?q=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: curl/8\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nContent-Length: 3\r\n\r\nabc',
  'POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n',
  'CONNECT h:443 HTTP/1.1\r\n\r\n',
  'GET http://u@h:1/x HTTP/1.0\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n',
];

test('100k random mutations: statuses in range, consumed bytes within bounds, no exception', () => {
  let seed = 0x9e3779b9;
  const rnd = (n: number): number => {
    seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
    return seed % n;
  };
  const seeds = SEEDS.map(b);
  const interesting = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x00, 0x7f, 0xff, 0x5b, 0x5d, 0x2f, 0x3f, 0x40, 0x3b, 0x2c, 0x30, 0x66];
  const req = newHttpRequestInfo();
  const res = newHttpResponseInfo();
  const c = new HttpCounters();
  for (let iter = 0; iter < 100_000; iter++) {
    const base = seeds[rnd(seeds.length)]!;
    const arr = Array.from(base);
    const nMut = 1 + rnd(4);
    for (let m = 0; m < nMut; m++) {
      const at = rnd(arr.length + 1);
      const byte = rnd(3) === 0 ? rnd(256) : interesting[rnd(interesting.length)]!;
      switch (rnd(5)) {
        case 0: if (at < arr.length) arr[at] = byte; break;
        case 1: arr.splice(at, 0, byte); break;
        case 2: arr.splice(at, 1 + rnd(3)); break;
        case 3: arr.length = Math.min(arr.length, at); break;
        default: arr.splice(at, 0, ...arr.slice(rnd(arr.length + 1), rnd(arr.length + 1))); break;
      }
    }
    const buf = Uint8Array.from(arr);
    const off = rnd(3) === 0 ? rnd(buf.length + 1) : 0;
    const end = off + rnd(buf.length - off + 1);
    const st = parseHttpRequest(buf, off, end, req, c, { httpMaxHeaderBytes: 64 + rnd(128) });
    assert.ok(st >= ParseStatus.OK && st <= ParseStatus.NOT_MINE);
    if (st === ParseStatus.OK) {
      assert.ok(req.headerBytes > 0 && req.headerBytes <= end - off, 'headerBytes within [off, end)');
      assert.ok(req.method.length > 0 && req.method.length <= 16);
      assert.ok(req.port === undefined || (req.port >= 0 && req.port <= 65535));
    }
    const rs = parseHttpResponse(buf, off, end, res, c);
    assert.ok(rs >= ParseStatus.OK && rs <= ParseStatus.NOT_MINE);
    if (rs === ParseStatus.OK) assert.ok(res.headerBytes > 0 && res.headerBytes <= end - off);
    if (iter % 10 === 0) {
      const f = new HttpFlowState(c, { httpMaxRequestsPerFlow: 4 });
      for (let p = 0; p < buf.length;) { const n = 1 + rnd(16); f.onClientData(buf, p, n); f.onServerData(buf, p, n); p += n; }
      assert.ok(f.requests.length <= 4);
    }
  }
  assert.ok(c.requests > 1000, `some mutants still parse (${c.requests})`);
});

test('extension methods and lenient request lines, split at every byte, give the same requests', () => {
  const stream =
    'PROPFIND /dav/ HTTP/1.1\r\nHost: dav.example\r\nContent-Length: 4\r\n\r\n<a/>' +
    'OPTIONS HTTP/1.1\r\nHost: o.example\r\n\r\n' +
    'MKCOL  /dav/x HTTP/1.\r\nHost: m.example\r\nX\xf0: y\r\nUser-Agent: u\r\n\r\n' +
    'GET /t HTTP/1.1\r\nHost: t.example\r\n\r\n';
  const want = [
    ['PROPFIND', 'dav.example', undefined, '/dav/', undefined],
    ['OPTIONS', 'o.example', undefined, undefined, undefined],
    ['MKCOL', 'm.example', undefined, '/dav/x', undefined],
    ['GET', 't.example', undefined, '/t', undefined],
  ];
  const whole = new HttpFlowState();
  whole.onClientData(b(stream), 0, stream.length);
  assert.deepEqual(summary(whole), want);
  for (let cut = 1; cut < stream.length; cut++) {
    const f = new HttpFlowState();
    const buf = b(stream);
    f.onClientData(buf, 0, cut);
    f.onClientData(buf, cut, stream.length - cut);
    assert.deepEqual(summary(f), want, `cut at ${cut}`);
    // A head parsed again as it grows is counted once.
    const c = f.counters;
    assert.deepEqual([c.requestLineLenient, c.requestLineMalformed, c.versionMalformed, c.requestTargetMissing, c.headerNameInvalid, c.methodExtension], [2, 2, 1, 1, 1, 2], `cut at ${cut}`);
  }
  assert.equal(whole.counters.methodExtension, 2);
  assert.equal(whole.counters.requestLineLenient, 2);
});

test('the NUL-planted heads of fuzz-2006-09-29-28586.pcap name their flows as nDPI names them (`%s`, the Host)', () => {
  // A NUL in the Host value: the C string before it is the host (RFC 9110 §5.5, read as C servers read it).
  const a = new HttpFlowState();
  const ha = 'POST /ppgctrl/ppgcontrollogic.dll HTTP/1.1\r\nAuthorization: Basic bG1jX3c6VGVzdDEyMzQ=\r\n' +
    'Content-Type: multipart/related; boundary="msgpart_0_1038_10318544\x188999"; typ%s\0application/xml"\r\n' +
    'User-Agent: MMS-Relay-DeliveryInitiator\r\nAcceqt: application/zml\r\nConnection: keep-alive\r\nHost:%s\x002.20.3.5\r\nContent-length: 840\r\n\r\n';
  a.onClientData(b(ha), 0, ha.length);
  a.onClientData(b('x'.repeat(840)), 0, 840);
  a.onServerData(b('HTTP/1.1 100 Continue\r\nServer: Microsoft-IIS/4.0\r\n\r\n'), 0, 52);
  assert.deepEqual(a.requests.map((r) => [r.method, r.host, r.path, r.userAgent, r.statusCode]), [
    ['POST', '%s', '/ppgctrl/ppgcontrollogic.dll', 'MMS-Relay-DeliveryInitiator', undefined],
  ]);
  assert.equal(a.counters.fieldValueNul, 2);
  // A NUL in the target, a version `HTTP/d.1`, and a head whose empty line is broken (`\r\x1a`):
  // read leniently and line by line to the break; the Host before it names the flow.
  const c = new HttpFlowState();
  const hc = 'POST /ppgctrl/ppgcon%s\0llogic.dll HTTP/d.1\r\nAuthorizatixn: Basic bG1jX3c6VGVzdDEyMzQ=\r\n' +
    'Content-Type: multipart/related; boundary="msg%s\0t_0_1038_1031854562484"; type="applicatioN/xml"\r\n' +
    'User-Agent: MMS-Relay-DeliveryInitiator\r\nAccept: application/xml\r\nConnection:%s\0ep-alive\r\nHost: 172.20.3.5\r\nContent-length: 800\r\n\r\x1a';
  for (let i = 0; i < hc.length; i += 100) c.onClientData(b(hc), i, Math.min(100, hc.length - i));
  const want = [['POST', '172.20.3.5', '/ppgctrl/ppgcon%s', true]];
  // Still pending (no empty line yet): read to its cut at the flow's events.
  assert.deepEqual(c.requestsSoFar().map((r) => [r.method, r.host, r.target, r.headCut]), want);
  const body = '--msgpart_0_1038_1031854562484\r\nCont\xb3nt-Type: applicatzon\x93xml\r\n\r\n<?xml version="1.0"?>';
  c.onClientData(b(body), 0, body.length);
  assert.deepEqual(c.requests.map((r) => [r.method, r.host, r.target, r.headCut]), want);
  assert.deepEqual([c.counters.requestTargetNul, c.counters.fieldValueNul, c.counters.headerMalformed], [1, 2, 1]);
});
