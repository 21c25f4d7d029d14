import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { loadOcsfSchema, type OcsfSchema } from '../../test/support/ocsf-schema.js';
import { DnsMessageInfo, parseDnsMessage, type DnsParseOptions } from '../protocols/dns/message.js';
import { buildDnsActivityEvent } from './dns-activity.js';
import { ParseStatus } from '../protocols/parse-status.js';

const OCSF_DIR = path.resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const present = existsSync(path.join(OCSF_DIR, 'dictionary.json'));
let cached: OcsfSchema | undefined;
function schema(t: TestContext): OcsfSchema | undefined {
  if (!present) {
    t.skip(`OCSF 1.8.0 schema absent: ${OCSF_DIR} not found`);
    return undefined;
  }
  cached ??= loadOcsfSchema(OCSF_DIR);
  return cached;
}

function parsed(b: Buffer, opts?: DnsParseOptions): DnsMessageInfo {
  const out = new DnsMessageInfo();
  assert.equal(parseDnsMessage(b, 0, b.length, out, opts), ParseStatus.OK);
  return out;
}

const client = { ip: '192.168.1.50', port: 53124 };
const server = { ip: '9.9.9.9', port: 53 };

test('query event (activity 1)', (t) => {
  const info = parsed(dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'AAAA', name: 'www.example.com' }] }));
  const ev = buildDnsActivityEvent(info, { src: client, dst: server, timeMs: 1_700_000_000_123.7 });
  assert.equal(ev.class_uid, 4003);
  assert.equal(ev.activity_id, 1);
  assert.equal(ev.type_uid, 400301);
  assert.equal(ev.time, 1_700_000_000_123);
  assert.deepEqual(ev.query, { hostname: 'www.example.com', type: 'AAAA', class: 'IN', opcode: 'Query', opcode_id: 0, packet_uid: 0x1234 });
  assert.equal(ev.answers, undefined);
  assert.equal(ev.rcode_id, undefined);
  assert.equal(ev.metadata.version, '1.8.0');
  assert.deepEqual(ev.metadata.product, { name: 'Outpost', vendor_name: 'Outpost', version: '0.1.0' });
  const s = schema(t);
  if (s) assert.deepEqual(s.validate(ev), []);
});

test('response event (activity 2) with CNAME, A, AAAA answers, flags', (t) => {
  const info = parsed(
    dnsPacket.encode({
      type: 'response',
      id: 0x1234,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name: 'www.example.com' }],
      answers: [
        { type: 'CNAME', name: 'www.example.com', ttl: 300, data: 'edge.example.net' },
        { type: 'A', name: 'edge.example.net', ttl: 60, data: '93.184.216.34' },
        { type: 'TXT', name: 'edge.example.net', ttl: 60, data: 'x' },
      ],
    }),
    { transport: 'tcp' },
  );
  const ev = buildDnsActivityEvent(info, { src: server, dst: client, timeMs: 1_700_000_000_000, directionId: 2 });
  assert.equal(ev.activity_id, 2);
  assert.equal(ev.type_uid, 400302);
  assert.equal(ev.rcode_id, 0);
  assert.equal(ev.rcode, 'NoError');
  assert.equal(ev.connection_info.protocol_name, 'tcp');
  assert.deepEqual(ev.answers?.map((a) => [a.type, a.rdata, a.ttl, a.class]), [
    ['CNAME', 'edge.example.net', 300, 'IN'],
    ['A', '93.184.216.34', 60, 'IN'],
  ]);
  assert.deepEqual(ev.answers?.[0]?.flag_ids, [3, 4]);
  const s = schema(t);
  if (s) assert.deepEqual(s.validate(ev), []);
});

test('NXDOMAIN, traffic activity, mDNS response without question', (t) => {
  const nx = parsed(dnsPacket.encode({ type: 'response', id: 5, flags: 3, questions: [{ type: 'A', name: 'nope.example' }] }));
  const ev1 = buildDnsActivityEvent(nx, { src: client, dst: server, timeMs: 1, activityId: 6, queryTimeMs: 0, responseTimeMs: 1 });
  assert.equal(ev1.activity_id, 6);
  assert.equal(ev1.type_uid, 400306);
  assert.equal(ev1.rcode_id, 3);
  assert.equal(ev1.rcode, 'NXDomain');
  const mdns = parsed(
    dnsPacket.encode({
      type: 'response',
      answers: [
        { type: 'A', name: 'printer.local', ttl: 120, flush: true, data: '192.168.1.30' },
        { type: 'AAAA', name: 'printer.local', ttl: 120, flush: true, data: 'fe80::30' },
      ],
    }),
    { protocol: 'mdns' },
  );
  const ev2 = buildDnsActivityEvent(mdns, { src: { ip: 'fe80::30', port: 5353 }, dst: { ip: 'ff02::fb', port: 5353 }, timeMs: 2 });
  assert.equal(ev2.query, undefined);
  assert.equal(ev2.answers?.length, 2);
  assert.equal(ev2.connection_info.protocol_ver_id, 6);
  assert.deepEqual(ev2.unmapped, { dns_protocol: 'mdns', answers_omitted: 0 });
  const s = schema(t);
  if (s) {
    assert.deepEqual(s.validate(ev1), []);
    assert.deepEqual(s.validate(ev2), []);
  }
});
