/**
 * Property-based fuzzing of the QUIC Initial parser and flow analyzer (needs the `fast-check`
 * dev dependency). Mutates valid client Initial datagrams — the RFC 9001/9369 A.2 packets and
 * freshly built ones for every supported version, coalesced and padded — and asserts that
 * nothing throws and that the reassembled stream stays within its bound.
 *
 *   node --import tsx test/fuzz/quic.ts [runs=1000000] [seed]
 */
import fc from 'fast-check';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { FrameSyntax, supportedQuicVersions } from '../../src/protocols/quic/constants.js';
import { QuicCounters } from '../../src/protocols/quic/counters.js';
import { QuicFlowState } from '../../src/protocols/quic/analyzer.js';
import { parseDatagram, QuicDatagramInfo } from '../../src/protocols/quic/initial.js';
import { InitialKeyCache } from '../../src/protocols/quic/keys.js';
import { buildClientInitial, cryptoFrame } from '../fixtures/quic-initial-builder.js';
import { CLIENT_INITIAL_CRYPTO_FRAME_HEX, RFC9001_CLIENT_INITIAL_HEX, RFC9369_CLIENT_INITIAL_HEX } from '../fixtures/quic-rfc-vectors.js';
import { printFuzzResult } from '../support/fuzz-result.js';

const runs = Number.parseInt(process.argv[2] ?? '', 10) || 1_000_000;
const seedArg = Number.parseInt(process.argv[3] ?? '', 10);
const seed = Number.isInteger(seedArg) ? seedArg : Date.now() % 2 ** 31;

const CH = Buffer.from(CLIENT_INITIAL_CRYPTO_FRAME_HEX, 'hex').subarray(4);
const dcid = Buffer.from('0011223344556677', 'hex');
const seeds: Buffer[] = [Buffer.from(RFC9001_CLIENT_INITIAL_HEX, 'hex'), Buffer.from(RFC9369_CLIENT_INITIAL_HEX, 'hex')];
for (const info of supportedQuicVersions()) {
  const t = info.frames === FrameSyntax.GQUIC ? 0x08 : 0x06;
  const a = buildClientInitial({ info, dcid, packetNumber: 0, pnLength: 1, payload: cryptoFrame(0, CH.subarray(0, 120), t) });
  const b = buildClientInitial({ info, dcid, packetNumber: 1, pnLength: 2, payload: cryptoFrame(120, CH.subarray(120), t) });
  seeds.push(Buffer.concat([a, b, Buffer.alloc(200)]), Buffer.concat([b, a]));
}

type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'splice'; at: number; other: number; from: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), other: fc.nat(), from: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
);

function apply(buf: Buffer, m: Mutation): Buffer {
  const n = buf.length;
  if (n === 0) return buf;
  const at = m.at % n;
  switch (m.kind) {
    case 'flip': { const b = Buffer.from(buf); b[at] = ((b[at] as number) ^ m.xor) & 0xff; return b; }
    case 'set': { const b = Buffer.from(buf); b[at] = m.value; return b; }
    case 'truncate': return buf.subarray(0, at);
    case 'insert': return Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
    case 'delete': return Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(n, at + m.len))]);
    case 'splice': {
      const o = seeds[m.other % seeds.length] as Buffer;
      const from = m.from % o.length;
      return Buffer.concat([buf.subarray(0, at), o.subarray(from, from + m.len), buf.subarray(at)]);
    }
  }
}

const counters = new QuicCounters();
const out = new QuicDatagramInfo();
const started = Date.now();
let calls = 0;

const property = fc.property(
  fc.nat({ max: seeds.length - 1 }),
  fc.array(mutation, { minLength: 1, maxLength: 4 }),
  fc.nat({ max: 64 }),
  (seedIndex, muts, pad) => {
    calls++;
    let d = seeds[seedIndex] as Buffer;
    for (const m of muts) d = apply(d, m);
    // Place the datagram at an offset inside a larger buffer, as a capture would.
    const frame = Buffer.concat([Buffer.alloc(pad, 0xa5), d, Buffer.alloc(pad, 0x5a)]);
    const st = parseDatagram(frame, pad, pad + d.length, out, counters, new InitialKeyCache());
    if (st !== ParseStatus.OK && st !== ParseStatus.MALFORMED && st !== ParseStatus.NOT_MINE) throw new Error(`status ${st}`);
    for (const ch of out.crypto) {
      if (!(ch.data.length > 0 && ch.offset >= 0)) throw new Error('bad crypto chunk');
    }
    const flow = new QuicFlowState(counters, { quicCryptoMaxBytes: 4096 });
    flow.onClientDatagram(frame, pad, d.length);
    flow.onClientDatagram(seeds[(seedIndex + 1) % seeds.length] as Buffer, 0, (seeds[(seedIndex + 1) % seeds.length] as Buffer).length);
    const s = flow.result.cryptoStream;
    if (s !== undefined && s.length > 4096) throw new Error('crypto stream over its bound');
  },
);

fc.assert(property, { numRuns: runs, seed, verbose: 1 });
const secs = (Date.now() - started) / 1000;
const snap = Object.entries(counters.snapshot()).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`).join(' ');
process.stdout.write(`quic fuzz: ${runs} runs OK, seed ${seed}, in ${secs.toFixed(1)} s (${Math.round(runs / secs)}/s)\n${snap}\n`);
printFuzzResult({ fuzzer: 'quic', runs: calls, seed, counters: counters.snapshot() });
