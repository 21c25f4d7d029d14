/**
 * Property-based fuzz of both DNS parsers (fast-check). Valid messages are generated with
 * dns-packet's encoder (queries and responses; A, AAAA, CNAME, PTR, NS, TXT, MX answers; mDNS
 * cache-flush bits), then mutated: byte overwrites, truncation, insertion, deletion, and
 * compression pointers (RFC 1035 §4.1.4) aimed anywhere, including at themselves.
 * Properties:
 *   1. parseDnsMessage and parseDnsFast never throw and return a ParseStatus; the TCP framer
 *      (RFC 7766 §8) never throws on the same bytes cut into segments;
 *   2. on unmutated messages both return OK and fill identical DnsMessageInfo;
 *   3. the same bytes with opcode UPDATE (RFC 2136: the question is the Zone section, the answers
 *      the Prerequisite section) parse OK in both, identically, with the zone as the query and
 *      no answers.
 *
 *   node --import tsx test/fuzz/dns.ts [runs=1000000] [seed]
 */
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { isDeepStrictEqual } from 'node:util';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { DnsCounters, dnsLimits } from '../../src/protocols/dns/counters.js';
import { DnsMessageInfo, DnsTcpFramer, parseDnsMessage, parseDnsOverTcp, type DnsProtocol } from '../../src/protocols/dns/message.js';
import { parseDnsFast } from '../../src/protocols/dns/fast.js';
import { printFuzzResult } from '../support/fuzz-result.js';

const runs = Math.max(1, Number.parseInt(process.argv[2] ?? '', 10) || 1_000_000);
const seedArg = Number.parseInt(process.argv[3] ?? '', 10);
const seed = Number.isFinite(seedArg) ? seedArg : Date.now() % 2 ** 31;

const label = fc.stringMatching(/^[a-zA-Z0-9_-]{1,12}$/);
const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));
const ttl = fc.nat(0x7fffffff);
const flush = fc.boolean();
const answer: fc.Arbitrary<dnsPacket.Answer> = fc.oneof(
  fc.record({ type: fc.constant('A' as const), name, ttl, flush, data: ipv4 }),
  fc.record({ type: fc.constant('AAAA' as const), name, ttl, flush, data: ipv6 }),
  fc.record({ type: fc.constantFrom('CNAME' as const, 'PTR' as const, 'NS' as const), name, ttl, flush, data: name }),
  fc.record({ type: fc.constant('TXT' as const), name, ttl, flush, data: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('MX' as const), name, ttl, flush, data: fc.record({ preference: fc.nat(0xffff), exchange: name }) }),
);
const qtype = fc.constantFrom('A' as const, 'AAAA' as const, 'CNAME' as const, 'PTR' as const, 'TXT' as const, 'MX' as const, 'SRV' as const);
const message = fc
  .record({
    type: fc.constantFrom('query' as const, 'response' as const),
    id: fc.nat(0xffff),
    flags: fc.nat(0x07ff).map((f) => f & ~0x7800), // opcode 0, any AA/TC/RD/RA/Z/AD/CD/RCODE
    questions: fc.array(fc.record({ type: qtype, name }), { minLength: 0, maxLength: 2 }),
    answers: fc.array(answer, { maxLength: 8 }),
  })
  .map((p) => dnsPacket.encode(p));

type Mutation =
  | { k: 'set'; at: number; v: number }
  | { k: 'cut'; at: number }
  | { k: 'ins'; at: number; v: number[] }
  | { k: 'del'; at: number; n: number }
  | { k: 'ptr'; at: number; to: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.nat(255) }),
  fc.record({ k: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ k: fc.constant('ins' as const), at: fc.nat(), v: fc.array(fc.nat(255), { minLength: 1, maxLength: 8 }) }),
  fc.record({ k: fc.constant('del' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ k: fc.constant('ptr' as const), at: fc.nat(), to: fc.nat(0x3fff) }),
);

function mutate(m: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(m);
  for (const x of ms) {
    const at = b.length === 0 ? 0 : x.at % (b.length + 1);
    switch (x.k) {
      case 'set':
        if (at < b.length) b[at] = x.v;
        break;
      case 'cut':
        b = b.subarray(0, at);
        break;
      case 'ins':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(x.v), b.subarray(at)]);
        break;
      case 'del':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + x.n)]);
        break;
      case 'ptr':
        if (at + 1 < b.length) b.writeUInt16BE(0xc000 | (x.to % Math.max(1, b.length)), at);
        break;
    }
  }
  return b;
}

const counters = new DnsCounters();
/** Counters of the UPDATE twins (property 3), apart so the other tallies stay comparable. */
const updateCounters = new DnsCounters();
let updateTwins = 0;
const limits = dnsLimits({ dnsMaxAnswers: 6 });
const a = new DnsMessageInfo();
const b = new DnsMessageInfo();
const STATUSES = new Set<number>([ParseStatus.OK, ParseStatus.MALFORMED, ParseStatus.NOT_MINE]);
let mutatedOk = 0;
let calls = 0;
const protocols: DnsProtocol[] = ['dns', 'mdns', 'llmnr'];

const started = Date.now();
fc.assert(
  fc.property(message, fc.array(mutation, { maxLength: 4 }), fc.nat(2), fc.nat(), (m, ms, pi, cut) => {
    calls++;
    const protocol = protocols[pi] ?? 'dns';
    if (ms.length === 0) {
      const sa = parseDnsMessage(m, 0, m.length, a, { counters, limits, protocol });
      const sb = parseDnsFast(m, 0, m.length, b, { counters, limits, protocol });
      if (sa !== ParseStatus.OK || sb !== ParseStatus.OK) throw new Error(`valid message not OK: ${sa} ${sb}`);
      if (!isDeepStrictEqual(a, b)) throw new Error(`parsers disagree:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
      const qname = a.qname;
      const u = Buffer.from(m);
      u[2] = (u[2]! & 0x87) | (5 << 3); // opcode UPDATE
      const ua = parseDnsMessage(u, 0, u.length, a, { counters: updateCounters, limits, protocol });
      const ub = parseDnsFast(u, 0, u.length, b, { counters: updateCounters, limits, protocol });
      if (ua !== ParseStatus.OK || ub !== ParseStatus.OK) throw new Error(`UPDATE twin not OK: ${ua} ${ub}`);
      if (!isDeepStrictEqual(a, b)) throw new Error(`parsers disagree on UPDATE:\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
      if (a.qname !== qname || a.answers.length !== 0 || a.answersOmitted !== 0) throw new Error(`UPDATE read wrong: ${JSON.stringify(a)}`);
      updateTwins++;
      return;
    }
    const x = mutate(m, ms);
    const sa = parseDnsMessage(x, 0, x.length, a, { counters, limits, protocol });
    const sb = parseDnsFast(x, 0, x.length, b, { counters, limits, protocol });
    if (!STATUSES.has(sa) || !STATUSES.has(sb)) throw new Error(`bad status ${sa} ${sb}`);
    if (sa === ParseStatus.OK) mutatedOk++;
    // Same bytes as a TCP stream (length prefix = mutated length, possibly wrong), cut in two.
    const framer = new DnsTcpFramer(limits, counters);
    const stream = Buffer.concat([Buffer.from([x.length >> 8, x.length & 0xff]), x, x.subarray(0, 5)]);
    const c = cut % (stream.length + 1);
    parseDnsOverTcp(framer, stream, 0, c, a, () => {}, { counters, limits, protocol });
    parseDnsOverTcp(framer, stream, c, stream.length, a, () => {}, { counters, limits, protocol });
  }),
  { numRuns: runs, seed },
);
const s = counters.snapshot();
console.log(
  `dns fuzz: ${runs} runs, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s, no exception; ` +
    `mutated inputs still OK (dns-packet): ${mutatedOk}; ` +
    `messages ${s['dns.messages']}, malformed ${s['dns.malformed']}, not_dns ${s['dns.not_dns']}, tcp frames ${s['dns.tcp.frames']}`,
);
printFuzzResult({ fuzzer: 'dns', runs: calls, seed, counters: { ...s, mutated_ok: mutatedOk, update_twins_ok: updateTwins } });
