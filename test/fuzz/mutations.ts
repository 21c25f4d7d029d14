/**
 * Byte-level mutations shared by the logon fuzzers (Kerberos, NTLM, RADIUS): overwrite,
 * truncate, insert, delete, and length-field pokes (a DER long-form length or a 16-bit field set
 * to a large value), each at a generated position.
 */
import fc from 'fast-check';

export type Mutation =
  | { k: 'set'; at: number; v: number }
  | { k: 'cut'; at: number }
  | { k: 'ins'; at: number; v: number[] }
  | { k: 'del'; at: number; n: number }
  | { k: 'len'; at: number; v: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('set' as const), at: fc.nat(), v: fc.nat(255) }),
  fc.record({ k: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ k: fc.constant('ins' as const), at: fc.nat(), v: fc.array(fc.nat(255), { minLength: 1, maxLength: 8 }) }),
  fc.record({ k: fc.constant('del' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ k: fc.constant('len' as const), at: fc.nat(), v: fc.constantFrom(0x80, 0x84, 0x85, 0xff, 0x7f, 0x00) }),
);

export function mutate(m: Buffer, ms: readonly Mutation[]): Buffer {
  let b = Buffer.from(m);
  for (const x of ms) {
    const at = b.length === 0 ? 0 : x.at % (b.length + 1);
    switch (x.k) {
      case 'set': if (at < b.length) b[at] = x.v; break;
      case 'cut': b = b.subarray(0, at); break;
      case 'ins': b = Buffer.concat([b.subarray(0, at), Buffer.from(x.v), b.subarray(at)]); break;
      case 'del': b = Buffer.concat([b.subarray(0, at), b.subarray(at + x.n)]); break;
      case 'len': if (at + 1 < b.length) { b[at] = x.v; b[at + 1] = 0xff; } break;
    }
  }
  return b;
}

export const runsArg = (): number => Math.max(1, Number.parseInt(process.argv[2] ?? '', 10) || 1_000_000);
export const seedArg = (): number => {
  const s = Number.parseInt(process.argv[3] ?? '', 10);
  return Number.isFinite(s) ? s : Date.now() % 2 ** 31;
};

/** Tallies per parser and status, e.g. `parseKerberos.ok`. */
export class StatusTally {
  readonly counts: Record<string, number> = {};
  add(parser: string, status: number): void {
    const name = ['ok', 'need_more', 'malformed', 'not_mine'][status];
    if (name === undefined) throw new Error(`${parser}: bad status ${status}`);
    const k = `${parser}.${name}`;
    this.counts[k] = (this.counts[k] ?? 0) + 1;
  }
}
