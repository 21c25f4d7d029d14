/**
 * `connection_info.uid` of a flow: unique across restarts and sensors, as Zeek's connection uid
 * is, so that a SIEM can key on it and join the DNS and HTTP events of a flow to its Network
 * Activity events.
 *
 * The flow table numbers its flows with a per-process counter (1, 2, ...), which repeats after
 * every restart and on every sensor. Each Sensor draws a random key from the system's CSPRNG once,
 * at construction: four 32-bit round keys and a 5-character tag. A flow's uid is
 *
 *   'C' + base62(feistel(counter)) + tag
 *
 * where feistel is a four-round Feistel network on the counter's two 32-bit halves (round
 * function: MurmurHash3's fmix32 of the half XOR the round key). A Feistel network is a bijection
 * whatever its round function, so two flows of one sensor never share a uid; two sensors (or two
 * runs of one) share one only if their 64-bit outputs and their ~30-bit tags both collide. The
 * string is built only when an event is written, never per packet, with 32-bit integer
 * arithmetic (no BigInt). 18 characters, like Zeek's.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Every pair of base62 digits, '00' … 'zz' (3844 strings, built once). */
const PAIRS: readonly string[] = Array.from({ length: 62 * 62 }, (_, i) => ALPHABET[Math.floor(i / 62)]! + ALPHABET[i % 62]!);

/** Character codes of the base62 digits, for FlowUids.of. */
const CODES: Uint8Array = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
/** 62^3: a 32-bit value's six digits are two groups of three. */
const P3 = 238_328;
const C = 0x43;

/** Six base62 digits: 62^6 > 2^32, so every 32-bit value has its own. */
function base62x6(v: number): string {
  return PAIRS[Math.floor(v / 14_776_336)]! + PAIRS[Math.floor(v / 3844) % 3844]! + PAIRS[v % 3844]!;
}

/** MurmurHash3's 32-bit finaliser (Appleby): a good mixer for the round function. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Bytes of key a FlowUids takes: four round keys and the tag's source. */
export const FLOW_UID_SEED_BYTES = 20;

export class FlowUids {
  private readonly k0: number;
  private readonly k1: number;
  private readonly k2: number;
  private readonly k3: number;
  /** The tag's five characters, as codes. */
  private readonly t0: number;
  private readonly t1: number;
  private readonly t2: number;
  private readonly t3: number;
  private readonly t4: number;

  /** `seed` (FLOW_UID_SEED_BYTES) for tests that need a fixed key; by default random bytes. */
  constructor(seed: Buffer = randomBytes(FLOW_UID_SEED_BYTES)) {
    this.k0 = seed.readUInt32BE(0);
    this.k1 = seed.readUInt32BE(4);
    this.k2 = seed.readUInt32BE(8);
    this.k3 = seed.readUInt32BE(12);
    // 62^5 values (~29.8 bits) from the last 4 bytes.
    const tag = base62x6(seed.readUInt32BE(16) % 916_132_832).slice(1);
    this.t0 = tag.charCodeAt(0); this.t1 = tag.charCodeAt(1); this.t2 = tag.charCodeAt(2);
    this.t3 = tag.charCodeAt(3); this.t4 = tag.charCodeAt(4);
  }

  /** The uid of the flow the flow table numbered `counter` (a non-negative integer below 2^53). */
  of(counter: number): string {
    let l = Math.floor(counter / 4294967296) >>> 0;
    let r = counter >>> 0;
    let t = r; r = (l ^ fmix32(r ^ this.k0)) >>> 0; l = t;
    t = r; r = (l ^ fmix32(r ^ this.k1)) >>> 0; l = t;
    t = r; r = (l ^ fmix32(r ^ this.k2)) >>> 0; l = t;
    t = r; r = (l ^ fmix32(r ^ this.k3)) >>> 0; l = t;
    // The 18 characters in one String.fromCharCode: one flat string, allocated once. Joining
    // digit pairs with + made five short strings and then a cons string (past 13 characters),
    // which every Map that keys on the uid (discovery's unnamed flows, the DNS query times) had
    // to flatten into a sixth before hashing it. Same digits as base62x6(l) + base62x6(r).
    const lh = Math.floor(l / P3), ll = l % P3, rh = Math.floor(r / P3), rl = r % P3;
    return String.fromCharCode(C,
      CODES[Math.floor(lh / 3844)]!, CODES[Math.floor(lh / 62) % 62]!, CODES[lh % 62]!,
      CODES[Math.floor(ll / 3844)]!, CODES[Math.floor(ll / 62) % 62]!, CODES[ll % 62]!,
      CODES[Math.floor(rh / 3844)]!, CODES[Math.floor(rh / 62) % 62]!, CODES[rh % 62]!,
      CODES[Math.floor(rl / 3844)]!, CODES[Math.floor(rl / 62) % 62]!, CODES[rl % 62]!,
      this.t0, this.t1, this.t2, this.t3, this.t4);
  }
}
