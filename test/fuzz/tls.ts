/**
 * Property-based fuzzing of every TLS parser (and StreamPrefix) with fast-check: valid
 * ClientHellos / server flights / certificates, split into random records, then mutated (byte
 * overwrites, insertions, deletions, truncation, length fields set to extremes). The only
 * property is robustness: no exception, a valid ParseStatus, and JA4 computable on OK.
 *
 *   node --import tsx test/fuzz/tls.ts [runs=1000000] [seed]
 *
 * Prints the number of runs and the elapsed time; exits non-zero (with fast-check's
 * counterexample) on failure.
 */
import fc from 'fast-check';
import { StreamPrefix, StreamPrefixCounters } from '../../src/flows/stream-prefix.js';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { ClientHello, parseClientHello, parseClientHelloHandshake } from '../../src/protocols/tls/client-hello.js';
import { TLS_ERROR_NAMES } from '../../src/protocols/tls/constants.js';
import {
  alpnExt, certificateBody, chromeLikeClientHelloBody, clientHelloBody, ext, fakeCertificateDer, handshake, records,
  serverHelloBody, sniExt, u16, JA4_SPEC_EXTENSIONS,
} from '../fixtures/tls.js';
import { ja4, ja4Raw } from '../../src/protocols/tls/ja4.js';
import { ServerFlight, parseServerFlight, parseServerHelloHandshake } from '../../src/protocols/tls/server-hello.js';
import { CertificateNames, parseCertificateNames } from '../../src/protocols/tls/x509-names.js';
import { mulberry32 } from '../support/prng.js';
import { printFuzzResult } from '../support/fuzz-result.js';

const runs = Number(process.argv[2] ?? 1_000_000);
const seed = process.argv[3] !== undefined ? Number(process.argv[3]) : Date.now() % 2 ** 31;
if (!Number.isInteger(runs) || runs < 1) {
  console.error('usage: test/fuzz/tls.ts [runs] [seed]');
  process.exit(2);
}

const cert = fakeCertificateDer('fuzz.example', ['fuzz.example', 'www.fuzz.example', 'a.b.c']);
const seeds: Buffer[] = [
  handshake(1, chromeLikeClientHelloBody()),
  handshake(1, chromeLikeClientHelloBody([...JA4_SPEC_EXTENSIONS, 0xfe0d])),
  handshake(1, clientHelloBody({ legacyVersion: 0x0301, ciphers: [0x002f, 0x0035] })),
  handshake(1, clientHelloBody({ ciphers: [0x1301], extensions: [sniExt('x.test'), alpnExt(['h3']), ext(0x002b, [2, 3, 4])] })),
  Buffer.concat([handshake(2, serverHelloBody({ cipher: 0xc02f, extensions: [alpnExt(['h2'])] })), handshake(11, certificateBody([cert, cert])), handshake(14, Buffer.alloc(0))]),
  handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304))] })),
];

const VALID = new Set<number>([ParseStatus.OK, ParseStatus.NEED_MORE, ParseStatus.MALFORMED, ParseStatus.NOT_MINE]);
const ch = new ClientHello();
const sf = new ServerFlight();
const names = new CertificateNames();
const streamCounters = new StreamPrefixCounters();

const STATUS_NAMES = ['ok', 'need_more', 'malformed', 'not_mine'];
/** Results per parser and status, for the FUZZ_RESULT line. */
const tally: Record<string, number> = {};
function check(st: ParseStatus, what: string): void {
  if (!VALID.has(st)) throw new Error(`${what}: invalid status ${st}`);
  const key = `${what}.${STATUS_NAMES[st]!}`;
  tally[key] = (tally[key] ?? 0) + 1;
}

/** `bare`: offset of a bare Handshake message in `buf` (0, or 5 after a record header). */
function exercise(buf: Buffer, bare: number): void {
  const at = Math.min(bare, buf.length);
  let st = parseClientHello(buf, 0, buf.length, ch);
  check(st, 'parseClientHello');
  if (st === ParseStatus.OK) { ja4(ch); ja4Raw(ch, 'q'); }
  if (st === ParseStatus.MALFORMED && TLS_ERROR_NAMES[ch.error] === undefined) throw new Error('unnamed error');
  // The same bytes as a bare Handshake message (QUIC CRYPTO data).
  st = parseClientHelloHandshake(buf, at, buf.length, ch);
  check(st, 'parseClientHelloHandshake');
  if (st === ParseStatus.OK) ja4(ch);
  check(parseServerFlight(buf, 0, buf.length, sf), 'parseServerFlight');
  check(parseServerHelloHandshake(buf, at, buf.length, sf), 'parseServerHelloHandshake');
  check(parseCertificateNames(buf, 0, buf.length, names), 'parseCertificateNames');
}

const mutation = fc.oneof(
  fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('insert' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ k: fc.constant('delete' as const), at: fc.nat(), v: fc.integer({ min: 1, max: 8 }) }),
  // Overwrite two bytes with an extreme length value.
  fc.record({ k: fc.constant('len' as const), at: fc.nat(), v: fc.constantFrom(0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x4000, 0x4001, 0xffff) }),
);

function mutate(base: Buffer, ms: Array<{ k: 'set' | 'insert' | 'delete' | 'len'; at: number; v: number }>): Buffer {
  let b = Buffer.from(base);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.k) {
      case 'set': b[at] = m.v; break;
      case 'insert': b = Buffer.concat([b.subarray(0, at), Buffer.from([m.v]), b.subarray(at)]); break;
      case 'delete': b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + m.v))]); break;
      case 'len': if (at + 1 < b.length) { b[at] = m.v >> 8; b[at + 1] = m.v & 0xff; } break;
    }
  }
  return b;
}

const input = fc.record({
  which: fc.nat({ max: seeds.length - 1 }),
  splits: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 4 }),
  asRecords: fc.boolean(),
  mutations: fc.array(mutation, { maxLength: 6 }),
  cut: fc.option(fc.nat(), { freq: 3 }),
  certOnly: fc.boolean(),
});

const started = process.hrtime.bigint();
let n = 0;
fc.assert(
  fc.property(input, (x) => {
    n++;
    const base = x.certOnly && n % 4 === 0 ? cert : x.asRecords ? records(seeds[x.which]!, x.splits) : seeds[x.which]!;
    let buf = mutate(base, x.mutations);
    if (x.cut !== null && buf.length > 0) buf = buf.subarray(0, x.cut % (buf.length + 1));
    exercise(buf, x.asRecords ? 5 : 0);
    if (n % 16 === 0) {
      // StreamPrefix with segments cut from the same bytes at mutated sequence numbers.
      const p = new StreamPrefix(512, streamCounters, 4);
      for (let i = 0; i < x.mutations.length; i++) {
        const m = x.mutations[i]!;
        const off = buf.length === 0 ? 0 : m.at % buf.length;
        p.push((m.at * 977 + m.v) >>> 0, buf, off, Math.min(buf.length - off, m.v + 1));
      }
      if (p.contiguousLength > 512) throw new Error('StreamPrefix overran maxBytes');
    }
  }),
  { numRuns: runs, seed },
);
// Plain random bytes too, from the same seed so that a run can be repeated.
const random = mulberry32(seed);
const randomBuffers = Math.min(runs, 100_000);
for (let i = 0; i < randomBuffers; i++) {
  const b = Buffer.allocUnsafe(i % 300);
  for (let j = 0; j < b.length; j++) b[j] = (random() * 256) | 0;
  if (b.length > 0 && i % 2 === 0) b[0] = 22;
  if (b.length > 2 && i % 4 === 0) { b[1] = 3; b[2] = 1; }
  exercise(b, i % 3 === 0 ? 0 : 5);
}
const ms = Number(process.hrtime.bigint() - started) / 1e6;
console.log(`tls fuzz: ${runs} runs (+${randomBuffers} random buffers), seed ${seed}, no exceptions, ${(ms / 1000).toFixed(1)} s`);
printFuzzResult({ fuzzer: 'tls', runs: n, seed, counters: { ...tally, random_buffers: randomBuffers, ...streamCounters.snapshot() } });
