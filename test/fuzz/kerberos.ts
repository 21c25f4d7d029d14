/**
 * Property-based fuzz of the Kerberos parser and TCP record framing (fast-check). Valid AS-REQ,
 * TGS-REQ, AS-REP, TGS-REP, KRB-ERROR and AP-REQ messages are generated (principal names of 1-4
 * components, realms, etype lists, error codes), then mutated (test/fuzz/mutations.ts).
 * Properties:
 *   1. parseKerberos never throws and returns a ParseStatus; the record framer never throws on
 *      the same bytes record-marked and cut into two segments;
 *   2. on unmutated messages it returns OK with the generated names, realm, etypes and code.
 *
 *   node --import tsx test/fuzz/kerberos.ts [runs=1000000] [seed]
 */
import fc from 'fast-check';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { KerberosMessage, parseKerberos } from '../../src/protocols/kerberos/message.js';
import { KerberosCounters } from '../../src/protocols/kerberos/counters.js';
import { RecordFramer, kerberosFraming } from '../../src/protocols/kerberos/framing.js';
import * as K from '../fixtures/logons.js';
import { mutate, mutation, runsArg, seedArg, StatusTally } from './mutations.js';
import { printFuzzResult } from '../support/fuzz-result.js';

const runs = runsArg(), seed = seedArg();
const part = fc.stringMatching(/^[a-zA-Z0-9_.$-]{1,16}$/);
const name = fc.array(part, { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));
const realm = fc.stringMatching(/^[A-Z0-9.]{1,20}$/);
const etypes = fc.array(fc.integer({ min: -200, max: 30 }), { minLength: 1, maxLength: 20 });
type Gen = { buf: Buffer; cname: string; crealm: string; sname: string; etypes?: number[]; code?: number };
const message: fc.Arbitrary<Gen> = fc.oneof(
  fc.record({ tgs: fc.boolean(), cname: name, realm, sname: name, etypes }).map((o) => ({ buf: K.kdcReq(o.tgs ? { tgs: true, realm: o.realm, sname: o.sname, etypes: o.etypes } : o), cname: o.tgs ? '' : o.cname, crealm: o.realm, sname: o.sname, etypes: o.etypes.slice(0, 16) })),
  fc.record({ tgs: fc.boolean(), cname: name, crealm: realm, sname: name, etype: fc.integer({ min: 1, max: 30 }) }).map((o) => ({ buf: K.kdcRep(o), cname: o.cname, crealm: o.crealm, sname: o.sname })),
  fc.record({ code: fc.integer({ min: 0, max: 100 }), realm, sname: name }).map((o) => ({ buf: K.krbError(o), cname: '', crealm: '', sname: o.sname, code: o.code })),
  fc.record({ realm, sname: name }).map((o) => ({ buf: K.apReq(o.realm, o.sname), cname: '', crealm: '', sname: o.sname })),
);

const m = new KerberosMessage();
const counters = new KerberosCounters();
const tally = new StatusTally();
let framerRecords = 0;
let calls = 0;
const started = Date.now();
fc.assert(
  fc.property(message, fc.array(mutation, { maxLength: 4 }), fc.nat(), (g, ms, cut) => {
    calls++;
    const x = ms.length === 0 ? g.buf : mutate(g.buf, ms);
    const st = parseKerberos(x, 0, x.length, m);
    tally.add('parseKerberos', st);
    counters.count(st, m);
    if (ms.length === 0) {
      if (st !== ParseStatus.OK) throw new Error(`valid message not OK: ${st} ${m.error}`);
      const cnameOk = g.cname === '' || m.cname === g.cname.split('/').slice(0, 8).join('/');
      if (!cnameOk || m.sname !== g.sname || (g.crealm !== '' && m.crealm !== g.crealm)) throw new Error(`fields differ: ${JSON.stringify(m)} vs ${JSON.stringify({ ...g, buf: undefined })}`);
      if (g.etypes !== undefined && JSON.stringify(m.etypes) !== JSON.stringify(g.etypes)) throw new Error('etypes differ');
      if (g.code !== undefined && m.errorCode !== g.code) throw new Error('error code differs');
    }
    // The same bytes record-marked (the length of the mutated message, possibly then cut), in two segments.
    const f = new RecordFramer(kerberosFraming, 4096);
    const stream = Buffer.concat([K.krbTcp(x), x.subarray(0, 3)]);
    const c = cut % (stream.length + 1);
    const sink = (b: Buffer, s: number, e: number): void => { framerRecords++; parseKerberos(b, s + 4, e, m); };
    f.push(7, stream, 0, c, sink);
    f.push(7 + c, stream, c, stream.length, sink);
  }),
  { numRuns: runs, seed },
);
console.log(`kerberos fuzz: ${runs} runs, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s, no exception`);
printFuzzResult({ fuzzer: 'kerberos', runs: calls, seed, counters: { ...tally.counts, ...counters.snapshot(), framer_records: framerRecords } });
