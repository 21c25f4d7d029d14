/**
 * Property-based fuzz of the RADIUS accounting parser (fast-check). Valid Accounting-Requests
 * (status types, user names, framed addresses, station ids, NAS identity, session id) and
 * Accounting-Responses are generated, then mutated (test/fuzz/mutations.ts).
 * Properties:
 *   1. parseRadius and verifyAccountingRequest never throw; parseRadius returns a ParseStatus;
 *   2. unmutated, requests parse OK with the generated attributes and their Request
 *      Authenticator verifies with the secret they were made with (RFC 2866 §3).
 *
 *   node --import tsx test/fuzz/radius.ts [runs=1000000] [seed]
 */
import fc from 'fast-check';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { RadiusMessage, parseRadius, verifyAccountingRequest } from '../../src/protocols/radius/radius.js';
import { RadiusCounters } from '../../src/protocols/radius/counters.js';
import * as K from '../fixtures/logons.js';
import { mutate, mutation, runsArg, seedArg, StatusTally } from './mutations.js';
import { printFuzzResult } from '../support/fuzz-result.js';

const runs = runsArg(), seed = seedArg();
const text = fc.stringMatching(/^[a-zA-Z0-9@._:-]{1,40}$/);
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((t) => t.join('.'));
const request = fc.record({
  id: fc.nat(255), status: fc.constantFrom(1, 2, 3, 7, 8, 15),
  user: fc.option(text, { nil: undefined }), framedIp: fc.option(ipv4, { nil: undefined }),
  callingStationId: fc.option(text, { nil: undefined }), nasId: fc.option(text, { nil: undefined }),
  nasIp: fc.option(ipv4, { nil: undefined }), sessionId: fc.option(text, { nil: undefined }), secret: text,
}, { requiredKeys: ['id', 'status', 'secret'] });

const m = new RadiusMessage();
const counters = new RadiusCounters();
const tally = new StatusTally();
let verified = 0, calls = 0;
const started = Date.now();
fc.assert(
  fc.property(request, fc.boolean(), fc.array(mutation, { maxLength: 4 }), (o, asResponse, ms) => {
    calls++;
    const b = asResponse ? K.acctResponse(o.id) : K.acctRequest(o);
    const x = ms.length === 0 ? b : mutate(b, ms);
    const st = parseRadius(x, 0, x.length, m);
    tally.add('parseRadius', st);
    counters.count(st, m);
    const ok = verifyAccountingRequest(x, 0, st === ParseStatus.OK ? m.length : x.length, Buffer.from(o.secret));
    if (ok) verified++;
    if (ms.length === 0) {
      if (st !== ParseStatus.OK || m.identifier !== o.id) throw new Error(`valid packet not OK: ${st} ${m.error}`);
      if (!asResponse) {
        if (!ok) throw new Error('authenticator does not verify');
        if (m.statusType !== o.status || m.userName !== (o.user ?? '') || (m.framedIps[0] ?? undefined) !== o.framedIp || m.callingStationId !== (o.callingStationId ?? '')) throw new Error('attributes differ');
      }
    }
  }),
  { numRuns: runs, seed },
);
console.log(`radius fuzz: ${runs} runs, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s, no exception`);
printFuzzResult({ fuzzer: 'radius', runs: calls, seed, counters: { ...tally.counts, ...counters.snapshot(), verified } });
