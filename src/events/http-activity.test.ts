// OCSF 1.8.0 HTTP Activity events, validated against the schema tree at
// ../shared/reference/ocsf-1.8.0 (or $OUTPOST_OCSF_DIR); the validation tests skip when it is absent.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadOcsfSchema, type OcsfSchema } from '../../test/support/ocsf-schema.js';
import { HttpFlowState } from '../protocols/http/analyzer.js';
import { buildHttpActivity, type HttpActivityEvent } from './http-activity.js';

const OCSF_DIR = process.env['OUTPOST_OCSF_DIR'] ?? path.resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const present = existsSync(path.join(OCSF_DIR, 'dictionary.json'));
let cached: OcsfSchema | undefined;
function schema(t: TestContext): OcsfSchema | undefined {
  if (!present) {
    t.skip(`OCSF schema absent: ${OCSF_DIR} not found (set OUTPOST_OCSF_DIR)`);
    return undefined;
  }
  cached ??= loadOcsfSchema(OCSF_DIR);
  return cached;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const SRC = { ip: '192.168.1.10', port: 51514 };
const DST = { ip: '93.184.216.34', port: 80 };
const T = 1700000000123;

/** Runs a client stream (and optional server stream) through the analyzer and builds events. */
function events(client: string, server = '', dst = DST): HttpActivityEvent[] {
  const f = new HttpFlowState();
  f.onClientData(b(client), 0, client.length);
  if (server) f.onServerData(b(server), 0, server.length);
  return f.requests.map((r) => buildHttpActivity(r, SRC, dst, T));
}

const STREAMS: Array<[string, string, string]> = [
  ['GET with status', 'GET /a/b?secret=1 HTTP/1.1\r\nHost: Example.com\r\nUser-Agent: curl/8\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'],
  ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n'],
  ['absolute-form', 'GET https://www.example.org:8443/x HTTP/1.1\r\nHost: www.example.org\r\n\r\n', ''],
  ['IPv6 Host', 'PUT /v6 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.1 204 No Content\r\n\r\n'],
  ['HTTP/1.0 without Host', 'POST /form HTTP/1.0\r\nContent-Length: 2\r\n\r\nab', 'HTTP/1.0 302 Found\r\n\r\n'],
  ['other method', 'PROPFIND /dav HTTP/1.1\r\nHost: dav.example\r\n\r\n', ''],
  ['all known methods',
    ['DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'POST'].map((m) => `${m} / HTTP/1.1\r\nHost: h\r\n\r\n`).join(''), ''],
];

test('event shape', () => {
  const [ev] = events(STREAMS[0]![1], STREAMS[0]![2]);
  assert.ok(ev);
  assert.equal(ev.class_uid, 4002);
  assert.equal(ev.category_uid, 4);
  assert.equal(ev.activity_id, 3);
  assert.equal(ev.type_uid, 400203);
  assert.equal(ev.severity_id, 1);
  assert.equal(ev.time, T);
  assert.equal(ev.metadata.version, '1.8.0');
  assert.deepEqual(ev.metadata.product, { name: 'Outpost', vendor_name: 'Outpost', version: '0.1.0' });
  assert.match(ev.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.deepEqual(ev.http_request, {
    http_method: 'GET',
    url: { hostname: 'example.com', path: '/a/b', port: 80, scheme: 'http', url_string: 'http://example.com/a/b' },
    user_agent: 'curl/8',
    version: 'HTTP/1.1',
  });
  assert.deepEqual(ev.http_response, { code: 200 });
  assert.deepEqual(ev.src_endpoint, SRC);
  assert.deepEqual(ev.dst_endpoint, DST);

  const [c] = events(STREAMS[1]![1], STREAMS[1]![2], { ip: '10.0.0.1', port: 3128 });
  assert.equal(c!.activity_id, 1);
  assert.deepEqual(c!.http_request.url, { hostname: 'example.com', port: 443, url_string: 'example.com:443' });
  const [a] = events(STREAMS[2]![1]);
  assert.equal(a!.http_request.url.url_string, 'https://www.example.org:8443/x');
  assert.equal(a!.http_response, undefined);
  const [v6] = events(STREAMS[3]![1], STREAMS[3]![2]);
  assert.equal(v6!.http_request.url.url_string, 'http://[2001:db8::1]:8080/v6');
  assert.equal(v6!.http_response?.code, 204);
  const [h10] = events(STREAMS[4]![1], STREAMS[4]![2]);
  assert.equal(h10!.http_request.url.hostname, undefined);
  assert.equal(h10!.http_request.url.url_string, 'http://93.184.216.34/form');
  assert.equal(h10!.activity_id, 6);
  const [o] = events(STREAMS[5]![1]);
  assert.equal(o!.activity_id, 99);
  assert.equal(o!.activity_name, 'PROPFIND');
  assert.deepEqual(events(STREAMS[6]![1]).map((e) => e.activity_id), [2, 4, 5, 9, 8, 6]);
});

test('events validate against OCSF 1.8.0', (t) => {
  const s = schema(t);
  if (!s) return;
  for (const [name, client, server] of STREAMS) {
    const evs = events(client, server);
    assert.ok(evs.length > 0, name);
    for (const ev of evs) assert.deepEqual(s.validate(ev), [], `${name}: ${JSON.stringify(ev)}`);
  }
});
