import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { ParseStatus } from '../parse-status.js';
import { DnsCounters, dnsLimits } from './counters.js';
import {
  DnsMessageInfo,
  DnsTcpFramer,
  canonicalIpv6,
  dnsProtocolForPorts,
  parseDnsMessage,
  parseDnsOverTcp,
  type DnsParseOptions,
} from './message.js';
import { parseDnsFast } from './fast.js';

type Parser = (b: Uint8Array, off: number, end: number, out: DnsMessageInfo, opts?: DnsParseOptions) => ParseStatus;
const PARSERS: [string, Parser][] = [
  ['dns-packet', parseDnsMessage],
  ['hand', parseDnsFast],
];

const query = dnsPacket.encode({
  type: 'query',
  id: 0xbeef,
  flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ type: 'A', name: 'WWW.Example.COM' }],
});

const cnameResponse = dnsPacket.encode({
  type: 'response',
  id: 0xbeef,
  flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
  questions: [{ type: 'A', name: 'www.example.com' }],
  answers: [
    { type: 'CNAME', name: 'www.example.com', ttl: 300, data: 'www.example.com.cdn.net' },
    { type: 'CNAME', name: 'www.example.com.cdn.net', ttl: 120, data: 'Edge1.CDN.net' },
    { type: 'A', name: 'edge1.cdn.net', ttl: 20, data: '93.184.216.34' },
    { type: 'A', name: 'edge1.cdn.net', ttl: 20, data: '93.184.216.35' },
  ],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
});

const aaaaResponse = dnsPacket.encode({
  type: 'response',
  id: 7,
  questions: [{ type: 'AAAA', name: 'v6.example.org' }],
  answers: [
    { type: 'AAAA', name: 'v6.example.org', ttl: 3600, data: '2001:db8:0:0:1:0:0:1' },
    { type: 'AAAA', name: 'v6.example.org', ttl: 3600, data: '2001:0:0:1::1' },
  ],
});

const nxdomain = dnsPacket.encode({
  type: 'response',
  id: 9,
  flags: dnsPacket.RECURSION_AVAILABLE | 3, // RCODE 3, RFC 1035 §4.1.1
  questions: [{ type: 'A', name: 'nope.example' }],
  authorities: [
    { type: 'SOA', name: 'example', ttl: 60, data: { mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } },
  ],
});

const mdnsResponse = dnsPacket.encode({
  type: 'response',
  id: 0,
  flags: dnsPacket.AUTHORITATIVE_ANSWER,
  answers: [
    { type: 'PTR', name: '_airplay._tcp.local', ttl: 4500, data: 'Living Room._airplay._tcp.local' },
    { type: 'SRV', name: 'Living Room._airplay._tcp.local', ttl: 120, flush: true, data: { port: 7000, target: 'appletv.local' } },
    { type: 'TXT', name: 'Living Room._airplay._tcp.local', ttl: 4500, flush: true, data: ['model=AppleTV'] },
    { type: 'A', name: 'AppleTV.local', ttl: 120, flush: true, data: '192.168.1.20' },
    { type: 'AAAA', name: 'appletv.local', ttl: 120, flush: true, data: 'fe80::1' },
  ],
});

// mDNS query with the QU bit (RFC 6762 §5.4): dns-packet encodes the class verbatim.
const mdnsQuery = (() => {
  const b = dnsPacket.encode({ type: 'query', id: 0, questions: [{ type: 'PTR', name: '_airplay._tcp.local' }] });
  b.writeUInt16BE(0x8001, b.length - 2);
  return b;
})();

const llmnrQuery = dnsPacket.encode({ type: 'query', id: 0x4242, questions: [{ type: 'AAAA', name: 'printer' }] });
const llmnrResponse = dnsPacket.encode({
  type: 'response',
  id: 0x4242,
  questions: [{ type: 'AAAA', name: 'printer' }],
  answers: [{ type: 'AAAA', name: 'printer', ttl: 30, data: 'fe80::abcd' }],
});

const ALL: [string, Buffer][] = [
  ['query', query],
  ['cname', cnameResponse],
  ['aaaa', aaaaResponse],
  ['nxdomain', nxdomain],
  ['mdns-response', mdnsResponse],
  ['mdns-query', mdnsQuery],
  ['llmnr-query', llmnrQuery],
  ['llmnr-response', llmnrResponse],
];

/** Hand-made compressed response (RFC 1035 §4.1.4): www.example.com A → CNAME → A. */
function compressed(): Buffer {
  const parts: number[] = [];
  const u16 = (v: number): void => void parts.push(v >> 8, v & 0xff);
  u16(0x1111); u16(0x8180); u16(1); u16(2); u16(0); u16(0);
  // offset 12: \3www\7example\3com\0
  for (const l of ['www', 'example', 'com']) parts.push(l.length, ...Buffer.from(l));
  parts.push(0);
  u16(1); u16(1);
  // answer 1: ptr→12 CNAME IN ttl 300, rdata "cdn" + ptr→16 (example.com)
  u16(0xc00c); u16(5); u16(1); u16(0); u16(300);
  u16(6); parts.push(3, ...Buffer.from('cdn')); u16(0xc010);
  const cdnAt = parts.length - 6;
  // answer 2: ptr→cdn.example.com A
  u16(0xc000 | cdnAt); u16(1); u16(1); u16(0); u16(60); u16(4); parts.push(10, 0, 0, 1);
  return Buffer.from(parts);
}

for (const [pname, parse] of PARSERS) {
  test(`${pname}: query header and question`, () => {
    const out = new DnsMessageInfo();
    const c = new DnsCounters();
    assert.equal(parse(query, 0, query.length, out, { counters: c }), ParseStatus.OK);
    assert.equal(out.id, 0xbeef);
    assert.equal(out.qr, false);
    assert.equal(out.rd, true);
    assert.equal(out.opcode, 0);
    assert.equal(out.qname, 'www.example.com');
    assert.equal(out.qtype, 1);
    assert.equal(out.qtypeName, 'A');
    assert.equal(out.qclass, 1);
    assert.equal(out.answers.length, 0);
    assert.equal(c.queries, 1);
    assert.equal(c.messages, 1);
  });

  test(`${pname}: response with CNAME chain, OPT additional`, () => {
    const out = new DnsMessageInfo();
    assert.equal(parse(cnameResponse, 0, cnameResponse.length, out), ParseStatus.OK);
    assert.equal(out.qr, true);
    assert.equal(out.ra, true);
    assert.equal(out.rcode, 0);
    assert.deepEqual(
      out.answers.map((a) => [a.name, a.typeName, a.ttl, a.data]),
      [
        ['www.example.com', 'CNAME', 300, 'www.example.com.cdn.net'],
        ['www.example.com.cdn.net', 'CNAME', 120, 'edge1.cdn.net'],
        ['edge1.cdn.net', 'A', 20, '93.184.216.34'],
        ['edge1.cdn.net', 'A', 20, '93.184.216.35'],
      ],
    );
  });

  test(`${pname}: AAAA text is RFC 5952 (matches src/decode/format.ts)`, () => {
    const out = new DnsMessageInfo();
    assert.equal(parse(aaaaResponse, 0, aaaaResponse.length, out), ParseStatus.OK);
    assert.deepEqual(out.answers.map((a) => a.data), ['2001:db8::1:0:0:1', '2001:0:0:1::1']);
  });

  test(`${pname}: NXDOMAIN`, () => {
    const out = new DnsMessageInfo();
    assert.equal(parse(nxdomain, 0, nxdomain.length, out), ParseStatus.OK);
    assert.equal(out.rcode, 3);
    assert.equal(out.answers.length, 0);
    assert.equal(out.nsCount, 1);
  });

  test(`${pname}: mDNS response, no question, several answers, TXT skipped, cache-flush bit`, () => {
    const out = new DnsMessageInfo();
    const c = new DnsCounters();
    assert.equal(parse(mdnsResponse, 0, mdnsResponse.length, out, { protocol: 'mdns', counters: c }), ParseStatus.OK);
    assert.equal(out.protocol, 'mdns');
    assert.equal(out.hasQuestion, false);
    assert.deepEqual(
      out.answers.map((a) => [a.name, a.typeName, a.flush, a.data]),
      [
        ['_airplay._tcp.local', 'PTR', false, 'living room._airplay._tcp.local'],
        ['living room._airplay._tcp.local', 'SRV', true, undefined],
        ['appletv.local', 'A', true, '192.168.1.20'],
        ['appletv.local', 'AAAA', true, 'fe80::1'],
      ],
    );
    assert.equal(out.answersOmitted, 1);
    assert.equal(c.answersTxtSkipped, 1);
    assert.equal(c.mdns, 1);
  });

  test(`${pname}: mDNS question QU bit`, () => {
    const out = new DnsMessageInfo();
    assert.equal(parse(mdnsQuery, 0, mdnsQuery.length, out, { protocol: 'mdns' }), ParseStatus.OK);
    assert.equal(out.qu, true);
    assert.equal(out.qclass, 1);
    assert.equal(out.qtypeName, 'PTR');
  });

  test(`${pname}: LLMNR query and response`, () => {
    const out = new DnsMessageInfo();
    const c = new DnsCounters();
    assert.equal(parse(llmnrQuery, 0, llmnrQuery.length, out, { protocol: 'llmnr', counters: c }), ParseStatus.OK);
    assert.equal(out.qname, 'printer');
    assert.equal(parse(llmnrResponse, 0, llmnrResponse.length, out, { protocol: 'llmnr', counters: c }), ParseStatus.OK);
    assert.equal(out.answers[0]?.data, 'fe80::abcd');
    assert.equal(c.llmnr, 2);
  });

  test(`${pname}: message inside a larger buffer (off/end)`, () => {
    const big = Buffer.concat([Buffer.from([1, 2, 3]), cnameResponse, Buffer.from([9, 9])]);
    const out = new DnsMessageInfo();
    assert.equal(parse(big, 3, 3 + cnameResponse.length, out), ParseStatus.OK);
    assert.equal(out.answers.length, 4);
    assert.equal(parse(new Uint8Array(big), 3, 3 + cnameResponse.length, out), ParseStatus.OK);
    assert.equal(out.answers[3]?.data, '93.184.216.35');
  });

  test(`${pname}: dnsMaxAnswers bound`, () => {
    const many = dnsPacket.encode({
      type: 'response',
      questions: [{ type: 'A', name: 'x.test' }],
      answers: Array.from({ length: 10 }, (_, i) => ({ type: 'A' as const, name: 'x.test', ttl: 1, data: `10.0.0.${i}` })),
    });
    const out = new DnsMessageInfo();
    const c = new DnsCounters();
    assert.equal(parse(many, 0, many.length, out, { counters: c, limits: dnsLimits({ dnsMaxAnswers: 3 }) }), ParseStatus.OK);
    assert.equal(out.answers.length, 3);
    assert.equal(out.answersOmitted, 7);
    assert.equal(c.answersDropped, 7);
  });

  test(`${pname}: name compression (RFC 1035 §4.1.4)`, () => {
    const m = compressed();
    const out = new DnsMessageInfo();
    assert.equal(parse(m, 0, m.length, out), ParseStatus.OK);
    assert.equal(out.qname, 'www.example.com');
    assert.deepEqual(
      out.answers.map((a) => [a.name, a.data]),
      [
        ['www.example.com', 'cdn.example.com'],
        ['cdn.example.com', '10.0.0.1'],
      ],
    );
  });

  test(`${pname}: pointer loops and forward pointers are malformed`, () => {
    const self = Buffer.from(compressed());
    self.writeUInt16BE(0xc000 | 33, 33); // first answer's owner points at itself
    const fwd = Buffer.from(compressed());
    fwd.writeUInt16BE(0xc000 | 40, 33); // points forward
    for (const m of [self, fwd]) {
      const c = new DnsCounters();
      assert.equal(parse(m, 0, m.length, new DnsMessageInfo(), { counters: c }), ParseStatus.MALFORMED);
      assert.equal(c.malformed, 1);
    }
  });

  test(`${pname}: names longer than 255 octets are malformed`, () => {
    const head = Buffer.from([0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const label = (n: number): Buffer => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]).subarray(0, n);
    // 4 × (1+63) = 256 octets of labels + root > 255.
    const long = Buffer.concat([head, label(64), label(64), label(64), label(64), Buffer.from([0, 0, 1, 0, 1])]);
    assert.equal(parse(long, 0, long.length, new DnsMessageInfo()), ParseStatus.MALFORMED);
    // 3 × 64 + (1+61) + root = 255: allowed.
    const ok = Buffer.concat([head, label(64), label(64), label(64), Buffer.from([61]), Buffer.alloc(61, 0x62), Buffer.from([0, 0, 1, 0, 1])]);
    assert.equal(parse(ok, 0, ok.length, new DnsMessageInfo()), ParseStatus.OK);
  });

  test(`${pname}: non-DNS payloads fail the header pre-check`, () => {
    const c = new DnsCounters();
    const out = new DnsMessageInfo();
    const http = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(parse(http, 0, http.length, out, { counters: c }), ParseStatus.NOT_MINE);
    const tls = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00, 0x00, 0x00]);
    const st = parse(tls, 0, tls.length, out, { counters: c });
    assert.ok(st === ParseStatus.NOT_MINE || st === ParseStatus.MALFORMED);
    assert.equal(parse(Buffer.alloc(0), 0, 0, out, { counters: c }), ParseStatus.MALFORMED);
    assert.equal(parse(query, 5, 100000, out, { counters: c }), ParseStatus.MALFORMED);
    assert.ok(c.notDns >= 1);
    assert.equal(c.messages, 0);
  });

  test(`${pname}: truncated at every offset never throws and is counted`, () => {
    for (const [name, m] of ALL) {
      const c = new DnsCounters();
      const out = new DnsMessageInfo();
      let bad = 0;
      for (let n = 0; n < m.length; n++) {
        const st = parse(m, 0, n, out, { counters: c });
        assert.notEqual(st, ParseStatus.NEED_MORE, name);
        if (st !== ParseStatus.OK) bad++;
      }
      assert.ok(bad > 0, name);
      assert.equal(c.malformed + c.notDns, bad, name);
      // A cut after the answers (authority/additional lost) may still parse with the hand parser;
      // the header up to the question never can.
      assert.ok(bad >= 17, name);
    }
  });

  test(`${pname}: random garbage never throws`, () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
    const c = new DnsCounters();
    const out = new DnsMessageInfo();
    for (let i = 0; i < 3000; i++) {
      const len = rnd() % 200;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = rnd();
      if (i % 2 === 0 && len >= 12) b.writeUInt16BE(0x0100, 2); // plausible header flags
      parse(b, 0, b.length, out, { counters: c });
    }
    const s = c.snapshot();
    assert.equal((s['dns.messages'] ?? 0) + (s['dns.malformed'] ?? 0) + (s['dns.not_dns'] ?? 0), 3000);
  });
}

test('hand parser and dns-packet agree on every sample', () => {
  for (const [name, m] of [...ALL, ['compressed', compressed()] as [string, Buffer]]) {
    for (const protocol of ['dns', 'mdns', 'llmnr'] as const) {
      const a = new DnsMessageInfo();
      const b = new DnsMessageInfo();
      assert.equal(parseDnsMessage(m, 0, m.length, a, { protocol }), ParseStatus.OK, name);
      assert.equal(parseDnsFast(m, 0, m.length, b, { protocol }), ParseStatus.OK, name);
      assert.deepEqual(b, a, name);
    }
  }
});

test('dnsProtocolForPorts', () => {
  assert.equal(dnsProtocolForPorts(53000, 53), 'dns');
  assert.equal(dnsProtocolForPorts(5353, 5353), 'mdns');
  assert.equal(dnsProtocolForPorts(5355, 60000), 'llmnr');
  assert.equal(dnsProtocolForPorts(443, 60000), undefined);
});

test('canonicalIpv6', () => {
  assert.equal(canonicalIpv6('2001::1:0:0:0:1'), '2001:0:0:1::1');
  assert.equal(canonicalIpv6('::ffff:102:304'), '::ffff:1.2.3.4');
  assert.equal(canonicalIpv6('::'), '::');
  assert.equal(canonicalIpv6('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
  assert.equal(canonicalIpv6('1::2::3'), undefined);
  assert.equal(canonicalIpv6('1:2:3'), undefined);
  assert.equal(canonicalIpv6('g::1'), undefined);
});

// ---------------------------------------------------------------------------------------------
// DNS over TCP (RFC 7766 §8).

function framed(...msgs: Buffer[]): Buffer {
  return Buffer.concat(msgs.flatMap((m) => [Buffer.from([m.length >> 8, m.length & 0xff]), m]));
}

function runTcp(segments: Buffer[], framer: DnsTcpFramer, c: DnsCounters): { ids: number[]; statuses: ParseStatus[] } {
  const out = new DnsMessageInfo();
  const ids: number[] = [];
  const statuses: ParseStatus[] = [];
  for (const s of segments) {
    statuses.push(
      parseDnsOverTcp(framer, s, 0, s.length, out, (info, st) => {
        assert.equal(st, ParseStatus.OK);
        assert.equal(info.transport, 'tcp');
        ids.push(info.id);
      }, { counters: c }),
    );
  }
  return { ids, statuses };
}

test('TCP framing: two messages split at every byte', () => {
  const stream = framed(cnameResponse, aaaaResponse);
  for (let cut = 0; cut <= stream.length; cut++) {
    const c = new DnsCounters();
    const framer = new DnsTcpFramer(dnsLimits(), c);
    const { ids } = runTcp([stream.subarray(0, cut), stream.subarray(cut)], framer, c);
    assert.deepEqual(ids, [0xbeef, 7], `cut ${cut}`);
    assert.equal(c.tcpFrames, 2);
    assert.equal(c.tcp, 2);
    assert.equal(framer.bufferedBytes, 0);
  }
});

test('TCP framing: one byte at a time, and three-way splits', () => {
  const stream = framed(query, cnameResponse, llmnrResponse);
  const c = new DnsCounters();
  const framer = new DnsTcpFramer(dnsLimits(), c);
  const bytes = [...stream].map((x) => Buffer.from([x]));
  const { ids, statuses } = runTcp(bytes, framer, c);
  assert.deepEqual(ids, [0xbeef, 0xbeef, 0x4242]);
  assert.equal(statuses.filter((s) => s === ParseStatus.OK).length, 3);
  assert.equal(statuses.filter((s) => s === ParseStatus.NEED_MORE).length, stream.length - 3);
  for (let i = 1; i < stream.length; i += 7) {
    for (let j = i; j <= stream.length; j += 11) {
      const c2 = new DnsCounters();
      const f2 = new DnsTcpFramer(dnsLimits(), c2);
      const r = runTcp([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)], f2, c2);
      assert.deepEqual(r.ids, [0xbeef, 0xbeef, 0x4242]);
    }
  }
});

test('TCP framing: oversize messages skipped, gap desynchronises, bad frames counted', () => {
  const c = new DnsCounters();
  const framer = new DnsTcpFramer(dnsLimits({ dnsTcpMaxMessageBytes: 100 }), c);
  const stream = framed(cnameResponse, query); // cnameResponse > 100 octets
  assert.ok(cnameResponse.length > 100);
  const { ids } = runTcp([stream.subarray(0, 50), stream.subarray(50)], framer, c);
  assert.deepEqual(ids, [0xbeef]);
  assert.equal(c.tcpOversize, 1);

  const out = new DnsMessageInfo();
  const junk = framed(Buffer.from('not a dns message at all'));
  assert.equal(parseDnsOverTcp(framer, junk, 0, junk.length, out, () => {}, { counters: c }), ParseStatus.NOT_MINE);
  const short = framed(Buffer.from([1, 2, 3]));
  assert.equal(parseDnsOverTcp(framer, short, 0, short.length, out, () => {}, { counters: c }), ParseStatus.MALFORMED);

  framer.gap();
  assert.equal(framer.desynced, true);
  assert.equal(c.tcpDesync, 1);
  const more = framed(query);
  assert.equal(parseDnsOverTcp(framer, more, 0, more.length, out, () => assert.fail('no message after a gap'), { counters: c }), ParseStatus.NOT_MINE);
});

test('DNS UPDATE (RFC 2136): the zone is the query, prerequisites are not answers, both parsers agree', async () => {
  const { dnsUpdate } = await import('../../../test/fixtures/lenient-corpus.js');
  for (const response of [false, true]) {
    const m = dnsUpdate(0x4a01, 'Corp.Example.com', 'laptop-7.corp.example.com', '10.0.0.20', response);
    const infos = [];
    for (const parse of [parseDnsMessage, parseDnsFast]) {
      const c = new DnsCounters();
      const out = new DnsMessageInfo();
      assert.equal(parse(m, 0, m.length, out, { counters: c }), ParseStatus.OK, `${parse.name} response=${response}`);
      assert.equal(out.opcode, 5);
      assert.equal(out.qr, response);
      assert.equal(out.hasQuestion, true);
      assert.equal(out.qname, 'corp.example.com');
      assert.equal(out.qtypeName, 'SOA');
      assert.equal(out.anCount, response ? 0 : 1, 'PRCOUNT');
      assert.deepEqual(out.answers, []);
      assert.equal(c.snapshot()['dns.update'], 1);
      infos.push(out);
    }
    assert.deepEqual(infos[0], infos[1]);
  }
  // A prerequisite "RRset exists (value dependent)" of type A (RFC 2136 §2.4.2) in a response is
  // still no resolution: nothing reaches the answers.
  const q = dnsUpdate(7, 'example.org', 'printer.example.org', '10.0.0.21', false);
  q[2] = q[2]! | 0x80; // QR
  const out = new DnsMessageInfo();
  assert.equal(parseDnsFast(q, 0, q.length, out), ParseStatus.OK);
  assert.deepEqual(out.answers, []);
  // A query (opcode 0) still reads its answers.
  const c = new DnsCounters();
  const r = Buffer.from(dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'a.example' }], answers: [{ type: 'A', name: 'a.example', data: '192.0.2.1', ttl: 60 }] }));
  const o2 = new DnsMessageInfo();
  assert.equal(parseDnsFast(r, 0, r.length, o2, { counters: c }), ParseStatus.OK);
  assert.equal(o2.answers.length, 1);
  assert.equal(c.snapshot()['dns.update'], 0);
});
