/**
 * `connection_info.uid` of a flow: unique across restarts and sensors, as Zeek's connection uid
 * is, so that a SIEM can key on it and join the DNS and HTTP events of a flow to its Network
 * Activity events.
 *
 * The flow table numbers its flows with a per-process counter (1, 2, ...), which repeats after
 * every restart and on every sensor. Each Sensor draws a random key (96 bits from the system's
 * CSPRNG) once, at construction; a flow's uid is
 *
 *   'C' + base62(mix64(counter XOR key64)) + base62(tag32)
 *
 * where mix64 is the SplitMix64 finaliser, a bijection on 64-bit values: two flows of one sensor
 * never share a uid (their counters differ), and two sensors (or two runs of one) share one only
 * if their 32-bit tags and 64-bit mixes both collide. The string is built only when an event is
 * written, never per packet. 18 characters, like Zeek's.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const MASK64 = (1n << 64n) - 1n;

function base62(v: bigint, width: number): string {
  let s = '';
  while (v > 0n) { s = ALPHABET[Number(v % 62n)]! + s; v /= 62n; }
  return s.padStart(width, '0');
}

/** SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijection on 64-bit integers. */
function mix64(x: bigint): bigint {
  x = ((x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  x = ((x ^ (x >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return x ^ (x >> 31n);
}

export class FlowUids {
  private readonly key: bigint;
  private readonly tag: string;

  /** `seed` (12 bytes) for tests that need a fixed key; by default 12 random bytes. */
  constructor(seed: Buffer = randomBytes(12)) {
    this.key = seed.readBigUInt64BE(0);
    this.tag = base62(BigInt(seed.readUInt32BE(8)), 6);
  }

  /** The uid of the flow the flow table numbered `counter` (a positive integer below 2^53). */
  of(counter: number): string {
    return 'C' + base62(mix64(BigInt(counter) ^ this.key), 11) + this.tag;
  }
}
