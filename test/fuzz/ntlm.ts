/**
 * Property-based fuzz of the NTLMSSP parser, the SPNEGO / GSS-API unwrapper and the SMB session
 * setup reader (fast-check). Valid NEGOTIATE / CHALLENGE / AUTHENTICATE messages (Unicode and
 * OEM names, AV pairs) are generated, wrapped bare, in SPNEGO NegTokenInit / NegTokenResp, and in
 * an SMB2 SESSION_SETUP request or response, an LDAP Sicily bind or a DCE-RPC auth3, then
 * mutated (test/fuzz/mutations.ts).
 * Properties:
 *   1. parseSmb2SessionSetup, findGssToken and parseNtlmssp never throw and return their verdicts;
 *      the session-record framer never throws on the same bytes cut into two segments;
 *   2. unmutated, the SMB2 message, the blob and the NTLMSSP message parse OK with the generated names.
 *
 *   node --import tsx test/fuzz/ntlm.ts [runs=1000000] [seed]
 */
import fc from 'fast-check';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { NtlmMessage, NtlmType, parseNtlmssp } from '../../src/protocols/ntlm/ntlmssp.js';
import { GssKind, GssToken, findGssToken } from '../../src/protocols/ntlm/spnego.js';
import { Smb2SessionSetup, parseSmb2SessionSetup } from '../../src/protocols/ntlm/smb2.js';
import { NtlmCounters } from '../../src/protocols/ntlm/counters.js';
import { RecordFramer, sessionFraming, ldapFraming, dceRpcFraming } from '../../src/protocols/kerberos/framing.js';
import { LdapBind, parseLdapBind } from '../../src/protocols/ntlm/ldap.js';
import { DcePdu, parseDcePdu } from '../../src/protocols/ntlm/dcerpc.js';
import * as K from '../fixtures/logons.js';
import { mutate, mutation, runsArg, seedArg, StatusTally } from './mutations.js';
import { printFuzzResult } from '../support/fuzz-result.js';

const runs = runsArg(), seed = seedArg();
const word = fc.stringMatching(/^[a-zA-Z0-9._@$-]{0,20}$/);
type Gen = { ntlm: Buffer; user?: string; domain?: string; workstation?: string; nbComputer?: string; type: number };
const ntlmMsg: fc.Arbitrary<Gen> = fc.oneof(
  fc.constant({ ntlm: K.ntlmNegotiate(), type: 1 }),
  fc.record({ target: word, nbComputer: word, nbDomain: word, dnsComputer: word }).map((o) => ({ ntlm: K.ntlmChallenge(o), nbComputer: o.nbComputer, type: 2 })),
  fc.record({ user: word, domain: word, workstation: word, unicode: fc.boolean() }).map((o) => ({ ntlm: K.ntlmAuthenticate(o), user: o.user, domain: o.domain, workstation: o.workstation, type: 3 })),
);
const wrap = fc.constantFrom('bare', 'init', 'resp');
const carrier = fc.constantFrom('smb', 'ldap', 'dce');
const lb = new LdapBind(), dp = new DcePdu();

const n = new NtlmMessage(), g = new GssToken(), s = new Smb2SessionSetup();
const counters = new NtlmCounters();
const tally = new StatusTally();
let records = 0, calls = 0;
const started = Date.now();
fc.assert(
  fc.property(ntlmMsg, wrap, carrier, fc.boolean(), fc.nat(0xffff), fc.array(mutation, { maxLength: 4 }), fc.nat(), (gen, w, via, response, messageId, ms, cut) => {
    calls++;
    const blob = w === 'bare' ? gen.ntlm : w === 'init' ? K.spnegoInit(gen.ntlm) : K.spnegoResp(1, gen.ntlm);
    if (via !== 'smb') {
      // The LDAP and DCE-RPC carriers: the same message in a Sicily bind or an auth3 PDU.
      const framed = via === 'ldap' ? K.ldapSicilyBind(messageId, gen.ntlm) : K.dcePdu(16, messageId, gen.ntlm);
      const x = ms.length === 0 ? framed : mutate(framed, ms);
      const st = via === 'ldap' ? parseLdapBind(x, 0, x.length, lb) : parseDcePdu(x, 0, x.length, dp);
      tally.add(via === 'ldap' ? 'parseLdapBind' : 'parseDcePdu', st);
      const [bs, be] = via === 'ldap' ? [lb.blobStart, lb.blobEnd] : [dp.authStart, dp.authEnd];
      if (ms.length === 0 && (st !== ParseStatus.OK || !x.subarray(bs, be).equals(gen.ntlm))) throw new Error(`valid ${via} carrier not OK: ${st}`);
      if (st === ParseStatus.OK && be > bs) tally.add(`parseNtlmssp.${via}`, parseNtlmssp(x, bs, be, n));
      const f = new RecordFramer(via === 'ldap' ? ldapFraming : dceRpcFraming, 4096);
      const o = cut % (x.length + 1);
      const sink = (): void => { records++; };
      f.push(1, x, 0, o, sink);
      f.push(1 + o, x, o, x.length, sink);
      return;
    }
    const framed = K.smb2SessionSetup({ response, messageId, status: response ? 0xc0000016 : 0, blob });
    const x = ms.length === 0 ? framed : mutate(framed, ms);
    const st = parseSmb2SessionSetup(x, 4, x.length, s);
    tally.add('parseSmb2SessionSetup', st);
    counters.countSmb2(st, s);
    if (ms.length === 0 && (st !== ParseStatus.OK || s.messageId !== messageId || s.response !== response)) throw new Error(`valid SMB2 not OK: ${st}`);
    if (st === ParseStatus.OK && s.blobEnd > s.blobStart) {
      const found = findGssToken(x, s.blobStart, s.blobEnd, g);
      tally.add('findGssToken', found ? ParseStatus.OK : ParseStatus.MALFORMED);
      if (ms.length === 0 && (!found || g.kind !== GssKind.NTLMSSP)) throw new Error('valid blob not unwrapped');
      if (found && g.kind === GssKind.NTLMSSP) {
        const ns = parseNtlmssp(x, g.start, g.end, n);
        tally.add('parseNtlmssp', ns);
        counters.count(ns, n);
        if (ms.length === 0) {
          if (ns !== ParseStatus.OK || n.type !== gen.type) throw new Error(`valid NTLMSSP not OK: ${ns} ${n.error}`);
          if (gen.type === NtlmType.AUTHENTICATE && (n.user !== gen.user || n.domain !== gen.domain || n.workstation !== gen.workstation)) throw new Error('names differ');
          if (gen.type === NtlmType.CHALLENGE && n.nbComputer !== gen.nbComputer) throw new Error('AV pair differs');
        }
      }
    }
    // Arbitrary offsets into the mutated bytes: the NTLMSSP parser alone.
    const o = cut % (x.length + 1);
    tally.add('parseNtlmssp.any_offset', parseNtlmssp(x, o, x.length, n));
    const f = new RecordFramer(sessionFraming, 4096);
    const sink = (): void => { records++; };
    f.push(1, x, 0, o, sink);
    f.push(1 + o, x, o, x.length, sink);
  }),
  { numRuns: runs, seed },
);
console.log(`ntlm fuzz: ${runs} runs, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s, no exception`);
printFuzzResult({ fuzzer: 'ntlm', runs: calls, seed, counters: { ...tally.counts, ...counters.snapshot(), framer_records: records } });
