/**
 * Property-based fuzzing of the HTTP/1.x parsers and the per-flow analyzer (fast-check).
 *
 *   node --import tsx test/fuzz/http.ts [count] [seed]
 *
 * `count` (default 1,000,000) is the total number of generated cases, split over the properties:
 *   40% arbitrary bytes        → parsers return a ParseStatus, never throw, never consume past end
 *   30% mutated valid heads    → same, plus the analyzer under random segmentation
 *   30% model-generated pipelines (methods, the four target forms, Host/IPv6/ports, CL/chunked
 *       bodies, CRLF or bare LF) → parse OK with exactly the model's fields, random prefixes are
 *       NEED_MORE, and the analyzer gives the same records for any segmentation.
 *
 * fast-check is a dev dependency to be added by the lead; it is loaded dynamically so the type
 * check passes without it. OUTPOST_FAST_CHECK may point at another copy (path or specifier).
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { HttpFlowState } from '../../src/protocols/http/analyzer.js';
import { HttpCounters } from '../../src/protocols/http/counters.js';
import { newHttpRequestInfo, parseHttpRequest } from '../../src/protocols/http/request.js';
import { newHttpResponseInfo, parseHttpResponse } from '../../src/protocols/http/response.js';
import { printFuzzResult } from '../support/fuzz-result.js';

// ---------------------------------------------------------------- the slice of fast-check we use

interface Arbitrary<T> {
  map<U>(f: (v: T) => U): Arbitrary<U>;
  chain<U>(f: (v: T) => Arbitrary<U>): Arbitrary<U>;
}
interface FastCheck {
  assert(property: unknown, params?: { numRuns?: number; seed?: number; endOnFailure?: boolean }): void;
  property<T>(arb: Arbitrary<T>, predicate: (v: T) => boolean | void): unknown;
  integer(c: { min: number; max: number }): Arbitrary<number>;
  boolean(): Arbitrary<boolean>;
  constant<T>(v: T): Arbitrary<T>;
  constantFrom<T>(...values: T[]): Arbitrary<T>;
  oneof<T>(...arbs: Arbitrary<T>[]): Arbitrary<T>;
  option<T>(arb: Arbitrary<T>, c?: { nil?: undefined }): Arbitrary<T | undefined>;
  array<T>(arb: Arbitrary<T>, c?: { minLength?: number; maxLength?: number }): Arbitrary<T[]>;
  uint8Array(c?: { minLength?: number; maxLength?: number }): Arbitrary<Uint8Array>;
  tuple<A, B>(a: Arbitrary<A>, b: Arbitrary<B>): Arbitrary<[A, B]>;
  record<T extends object>(model: { [K in keyof T]: Arbitrary<T[K]> }): Arbitrary<T>;
}

async function loadFastCheck(): Promise<FastCheck> {
  const spec = process.env['OUTPOST_FAST_CHECK'] ?? 'fast-check';
  const target = isAbsolute(spec) ? pathToFileURL(spec).href : spec;
  try {
    const mod = (await import(target)) as { default?: FastCheck } & FastCheck;
    return typeof mod.assert === 'function' ? mod : (mod.default as FastCheck);
  } catch (e) {
    console.error(`fuzz: cannot load fast-check (${spec}): ${(e as Error).message}\n  npm install --save-dev fast-check`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------- helpers

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

function fail(msg: string): never {
  throw new Error(msg);
}

/** The invariants every input must satisfy. */
function checkAnyBytes(buf: Uint8Array, off: number, end: number, max: number, c: HttpCounters): void {
  const req = newHttpRequestInfo();
  // The credentials span (NTLM / Negotiate token) must lie inside the head parsed.
  const auth = { start: -1, end: -1 };
  const st = parseHttpRequest(buf, off, end, req, c, { httpMaxHeaderBytes: max, auth });
  if (st === ParseStatus.OK && auth.start >= 0 && (auth.start < off || auth.end > off + req.headerBytes || auth.end <= auth.start)) fail(`request auth span ${auth.start}-${auth.end}`);
  if (!(st >= ParseStatus.OK && st <= ParseStatus.NOT_MINE)) fail(`request status ${st}`);
  const avail = Math.max(0, Math.min(end, buf.length) - off);
  if (st === ParseStatus.OK) {
    if (req.headerBytes <= 0 || req.headerBytes > avail || req.headerBytes > max) fail(`headerBytes ${req.headerBytes} avail ${avail}`);
    if (req.method.length === 0 || req.method.length > 16) fail('method length');
    if (req.port !== undefined && (req.port < 0 || req.port > 65535)) fail('port');
  }
  if (st === ParseStatus.NEED_MORE && avail >= max) fail('NEED_MORE at the bound');
  const res = newHttpResponseInfo();
  const rs = parseHttpResponse(buf, off, end, res, c, { httpMaxHeaderBytes: max, auth });
  if (!(rs >= ParseStatus.OK && rs <= ParseStatus.NOT_MINE)) fail(`response status ${rs}`);
  if (rs === ParseStatus.OK && auth.start >= 0 && (auth.start < off || auth.end > off + res.headerBytes || auth.end <= auth.start)) fail(`response auth span ${auth.start}-${auth.end}`);
  if (rs === ParseStatus.OK && (res.headerBytes <= 0 || res.headerBytes > avail)) fail('response headerBytes');
}

function feedSegments(f: HttpFlowState, buf: Uint8Array, cuts: number[], client: boolean): void {
  const points = [...new Set(cuts.map((x) => x % (buf.length + 1)))].sort((a, b) => a - b);
  let p = 0;
  for (const q of [...points, buf.length]) {
    if (q > p) {
      if (client) f.onClientData(buf, p, q - p);
      else f.onServerData(buf, p, q - p);
    }
    p = Math.max(p, q);
  }
}

/** Applies (position, byte) edits: overwrite, insert a delimiter, delete, truncate. */
function mutate(src: Uint8Array, edits: Array<[number, number]>): Uint8Array {
  const arr = Array.from(src);
  for (const [pos, byte] of edits) {
    const at = pos % (arr.length + 1);
    switch (byte & 3) {
      case 0: arr[at] = byte; break;
      case 1: arr.splice(at, 0, [0x0d, 0x0a, 0x20, 0x3a, 0x00, byte][byte % 6]!); break;
      case 2: arr.splice(at, 1 + (byte % 4)); break;
      default: arr.length = Math.min(arr.length, at + 1);
    }
  }
  return Uint8Array.from(arr);
}

/** Server streams mutated in property 2. */
const RESPONSES = [
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: x\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.0 301 Moved\nLocation: /x\n\nbody until close',
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00',
];

// ---------------------------------------------------------------- model of a valid request

interface Model {
  wire: string;
  head: string;
  method: string;
  host: string | undefined;
  port: number | undefined;
  path: string | undefined;
  userAgent: string | undefined;
  chunked: boolean;
  contentLength: number | undefined;
}

function arbitraries(fc: FastCheck) {
  const chars = (alphabet: string, min: number, max: number): Arbitrary<string> =>
    fc.array(fc.constantFrom(...alphabet.split('')), { minLength: min, maxLength: max }).map((a) => a.join(''));
  const label = chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-', 1, 12);
  const regName = fc.array(label, { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
  const ipv4 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }).map((a) => a.join('.'));
  const ipv6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((a) => a.map((x) => x.toString(16)).join(':'));
  /** [wire form, expected lowercased host] */
  const host: Arbitrary<[string, string]> = fc.oneof(
    regName.map((h): [string, string] => [h, h.toLowerCase()]),
    ipv4.map((h): [string, string] => [h, h]),
    ipv6.map((h): [string, string] => [`[${h.toUpperCase()}]`, h]),
  );
  const port = fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined });
  const pathArb = fc.array(chars('abcdefghijklmnopqrstuvwxyz0123456789-._~%!$&\'()*+,;=:@', 0, 10), { minLength: 1, maxLength: 4 }).map((a) => '/' + a.join('/'));
  const query = fc.option(chars('abcdefghijklmnopqrstuvwxyz0123456789=&/?', 0, 20), { nil: undefined });
  const token = chars("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~", 1, 20);
  const value = chars(' \tabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~\xa0\xff', 0, 40)
    .map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
  const extra = fc.array(fc.tuple(token, value), { maxLength: 5 }).map((a) =>
    a.filter(([n]) => !['host', 'user-agent', 'content-length', 'transfer-encoding'].includes(n.toLowerCase())));
  const body: Arbitrary<{ kind: 'none' | 'cl' | 'chunked'; sizes: number[] }> = fc.record({
    kind: fc.constantFrom<'none' | 'cl' | 'chunked'>('none', 'cl', 'chunked'),
    sizes: fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 4 }),
  });

  const model: Arbitrary<Model> = fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PROPFIND', 'M-SEARCH', 'get'),
      form: fc.constantFrom('origin', 'absolute', 'asterisk'),
      scheme: fc.constantFrom('http', 'HTTPS', 'ftp'),
      targetHost: host,
      targetPort: port,
      path: pathArb,
      query,
      hostHeader: fc.option(fc.tuple(host, port), { nil: undefined }),
      ua: fc.option(value, { nil: undefined }),
      extra,
      body,
      minor: fc.constantFrom(0, 1),
      crlf: fc.boolean(),
    })
    .map((m): Model => {
      const eol = m.crlf ? '\r\n' : '\n';
      const hp = (h: string, p: number | undefined): string => (p === undefined ? h : `${h}:${p}`);
      let target: string, host: string | undefined, port: number | undefined, path: string | undefined;
      if (m.method === 'CONNECT') {
        const p = m.targetPort ?? 443;
        target = hp(m.targetHost[0], p);
        host = m.targetHost[1];
        port = p;
        path = undefined;
      } else if (m.form === 'absolute') {
        target = `${m.scheme}://${hp(m.targetHost[0], m.targetPort)}${m.path}${m.query === undefined ? '' : '?' + m.query}`;
        host = m.targetHost[1];
        port = m.targetPort;
        path = m.path;
      } else if (m.form === 'asterisk') {
        target = '*';
        host = m.hostHeader?.[0][1];
        port = m.hostHeader?.[1];
        path = '*';
      } else {
        target = m.path + (m.query === undefined ? '' : '?' + m.query);
        host = m.hostHeader?.[0][1];
        port = m.hostHeader?.[1];
        path = m.path;
      }
      const lines = [`${m.method} ${target} HTTP/1.${m.minor}`];
      if (m.hostHeader) lines.push(`Host: ${hp(m.hostHeader[0][0], m.hostHeader[1])}`);
      if (m.ua !== undefined) lines.push(`User-Agent: ${m.ua}`);
      for (const [n, v] of m.extra) lines.push(`${n}: ${v}`);
      let bodyWire = '';
      let chunked = false, contentLength: number | undefined;
      if (m.body.kind === 'cl') {
        contentLength = m.body.sizes.reduce((a, x) => a + x, 0);
        lines.push(`Content-Length: ${contentLength}`);
        bodyWire = 'b'.repeat(contentLength);
      } else if (m.body.kind === 'chunked') {
        chunked = true;
        lines.push('Transfer-Encoding: chunked');
        bodyWire = m.body.sizes.map((n) => `${n.toString(16)}${n % 3 === 0 ? ';x=y' : ''}\r\n${'c'.repeat(n)}\r\n`).join('') + '0\r\n' + (m.body.sizes.length % 2 ? 'T: v\r\n' : '') + '\r\n';
      }
      const head = lines.join(eol) + eol + eol;
      // CONNECT switches the client side to a tunnel, so it carries no body in the model.
      if (m.method === 'CONNECT') { bodyWire = ''; chunked = false; contentLength = undefined; }
      const wireHead = m.method === 'CONNECT' ? head.replace(/(Content-Length|Transfer-Encoding): [^\r\n]*\r?\n/, '') : head;
      return {
        wire: wireHead + bodyWire,
        head: wireHead,
        method: m.method,
        host,
        port,
        path,
        userAgent: m.ua,
        chunked,
        contentLength,
      };
    });
  return { model };
}

// ---------------------------------------------------------------- properties

async function main(): Promise<void> {
  const count = Math.max(1, Number.parseInt(process.argv[2] ?? '', 10) || 1_000_000);
  const seedArg = Number.parseInt(process.argv[3] ?? '', 10);
  const seed = Number.isFinite(seedArg) ? seedArg : Date.now() & 0x7fffffff;
  const fc = await loadFastCheck();
  const counters = new HttpCounters();
  const { model } = arbitraries(fc);
  const runs = (share: number): number => Math.max(1, Math.round(count * share));
  const started = Date.now();
  const calls = [0, 0, 0];
  console.log(`fuzz: ${count} cases, seed ${seed}`);

  // 1. arbitrary bytes, arbitrary windows and bounds.
  fc.assert(
    fc.property(
      fc.record({
        bytes: fc.uint8Array({ maxLength: 300 }),
        off: fc.integer({ min: 0, max: 310 }),
        len: fc.integer({ min: 0, max: 310 }),
        max: fc.integer({ min: 1, max: 400 }),
      }),
      ({ bytes, off, len, max }) => {
        calls[0]!++;
        checkAnyBytes(bytes, off, off + len, max, counters);
      },
    ),
    { numRuns: runs(0.4), seed },
  );
  console.log(`  arbitrary bytes ok (${Date.now() - started} ms)`);

  // 2. mutated model requests (parsers and analyzer).
  fc.assert(
    fc.property(
      fc.record({
        m: model,
        resp: fc.constantFrom(...RESPONSES),
        edits: fc.array(fc.tuple(fc.integer({ min: 0, max: 1 << 16 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        cuts: fc.array(fc.integer({ min: 0, max: 1 << 16 }), { maxLength: 6 }),
      }),
      ({ m, resp, edits, cuts }) => {
        calls[1]!++;
        const buf = mutate(enc(m.wire), edits);
        const rbuf = mutate(enc(resp), edits);
        checkAnyBytes(buf, 0, buf.length, 8192, counters);
        checkAnyBytes(rbuf, 0, rbuf.length, 8192, counters);
        const f = new HttpFlowState(counters, { httpMaxRequestsPerFlow: 8 });
        feedSegments(f, enc(m.wire), cuts, true);
        feedSegments(f, rbuf, cuts, false);
        const g = new HttpFlowState(counters, { httpMaxRequestsPerFlow: 8 });
        feedSegments(g, buf, cuts, true);
        feedSegments(g, buf, cuts, false);
        if (g.requests.length > 8) fail('too many requests');
        if (f.requests.length > 8) fail('too many requests');
      },
    ),
    { numRuns: runs(0.3), seed },
  );
  console.log(`  mutations ok (${Date.now() - started} ms)`);

  // 3. model pipelines: exact fields, prefixes NEED_MORE, segmentation-independent analyzer.
  fc.assert(
    fc.property(
      fc.record({
        ms: fc.array(model, { minLength: 1, maxLength: 5 }),
        cuts: fc.array(fc.integer({ min: 0, max: 1 << 16 }), { maxLength: 8 }),
        prefixes: fc.array(fc.integer({ min: 0, max: 1 << 16 }), { maxLength: 3 }),
      }),
      ({ ms, cuts, prefixes }) => {
        calls[2]!++;
        // Everything after a CONNECT is tunnel data.
        const ci = ms.findIndex((m) => m.method === 'CONNECT');
        const list = ci >= 0 ? ms.slice(0, ci + 1) : ms;
        const out = newHttpRequestInfo();
        for (const m of list) {
          const head = enc(m.head);
          const st = parseHttpRequest(head, 0, head.length, out);
          if (st !== ParseStatus.OK) fail(`status ${st} for ${JSON.stringify(m.head)}`);
          const got = [out.method, out.host, out.port, out.path, out.userAgent, out.chunked, out.contentLength, out.headerBytes];
          const want = [m.method, m.host, m.port, m.path, m.userAgent, m.chunked, m.contentLength, head.length];
          if (JSON.stringify(got) !== JSON.stringify(want)) fail(`got ${JSON.stringify(got)} want ${JSON.stringify(want)} for ${JSON.stringify(m.head)}`);
          for (const k of prefixes) {
            const cut = k % head.length;
            if (parseHttpRequest(head, 0, cut, out) !== ParseStatus.NEED_MORE) fail(`prefix ${cut} of ${JSON.stringify(m.head)}`);
          }
        }
        const wire = enc(list.map((m) => m.wire).join(''));
        const f = new HttpFlowState();
        feedSegments(f, wire, cuts, true);
        const got = JSON.stringify(f.requests.map((r) => [r.method, r.host, r.port, r.path]));
        const want = JSON.stringify(list.map((m) => [m.method, m.host, m.port, m.path]));
        if (got !== want) fail(`analyzer ${got} want ${want}`);
        // Responses in order: Content-Length or chunked bodies, none for HEAD, tunnel after CONNECT.
        const resp = list.map((m, i) => {
          const code = 200 + i;
          if (m.method === 'CONNECT') return `HTTP/1.1 ${code} Established\r\n\r\n`;
          const noBody = m.method === 'HEAD';
          return i % 2
            ? `HTTP/1.1 ${code} OK\r\nTransfer-Encoding: chunked\r\n\r\n${noBody ? '' : '2\r\nok\r\n0\r\n\r\n'}`
            : `HTTP/1.1 ${code} OK\r\nContent-Length: 2\r\n\r\n${noBody ? '' : 'ok'}`;
        }).join('');
        feedSegments(f, enc(resp), cuts, false);
        const codes = JSON.stringify(f.requests.map((r) => r.statusCode));
        const wantCodes = JSON.stringify(list.map((_, i) => 200 + i));
        if (codes !== wantCodes) fail(`status codes ${codes} want ${wantCodes}`);
      },
    ),
    { numRuns: runs(0.3), seed },
  );
  console.log(`  model pipelines ok (${Date.now() - started} ms)`);
  console.log(JSON.stringify(counters.snapshot()));
  printFuzzResult({
    fuzzer: 'http', runs: calls[0]! + calls[1]! + calls[2]!, seed,
    counters: { ...counters.snapshot(), 'runs.arbitrary_bytes': calls[0]!, 'runs.mutations': calls[1]!, 'runs.model_pipelines': calls[2]! },
  });
}

await main();
