/**
 * `metadata.uid` of an event: a random (version 4) UUID, RFC 9562 §5.4, in the lower-case
 * 8-4-4-4-12 form, as crypto.randomUUID() writes it.
 *
 * The same thing as crypto.randomUUID(), which keeps a pool of random bytes too, built as one
 * flat string: randomUUID joins 20 pieces with +, a chain of cons strings that costs more than
 * its random bytes and is garbage for the scavenger, on every event the sensor builds (a replay
 * builds Network Activity for its components even when it writes nothing). Here the 36
 * characters are one String.fromCharCode.
 */
import { randomFillSync } from 'node:crypto';

/** UUIDs per refill of the pool (node's randomUUID uses the same batch). */
const BATCH = 128;
const pool = Buffer.alloc(16 * BATCH);
/** Offset of the next unused 16 bytes; the pool is filled on first use. */
let next = pool.length;

/** Character codes of the hexadecimal digits, lower case. */
const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const DASH = 0x2d;

/** A random UUID (version 4, variant 10: RFC 9562 §4.1, §4.2, §5.4) from the system's CSPRNG. */
export function randomEventUid(): string {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  const b = pool, o = next;
  next = o + 16;
  // Version 4 in the high nibble of octet 6, variant 0b10 in the two high bits of octet 8.
  const b6 = (b[o + 6]! & 0x0f) | 0x40;
  const b8 = (b[o + 8]! & 0x3f) | 0x80;
  return String.fromCharCode(
    HEX[b[o]! >> 4]!, HEX[b[o]! & 15]!, HEX[b[o + 1]! >> 4]!, HEX[b[o + 1]! & 15]!,
    HEX[b[o + 2]! >> 4]!, HEX[b[o + 2]! & 15]!, HEX[b[o + 3]! >> 4]!, HEX[b[o + 3]! & 15]!, DASH,
    HEX[b[o + 4]! >> 4]!, HEX[b[o + 4]! & 15]!, HEX[b[o + 5]! >> 4]!, HEX[b[o + 5]! & 15]!, DASH,
    HEX[b6 >> 4]!, HEX[b6 & 15]!, HEX[b[o + 7]! >> 4]!, HEX[b[o + 7]! & 15]!, DASH,
    HEX[b8 >> 4]!, HEX[b8 & 15]!, HEX[b[o + 9]! >> 4]!, HEX[b[o + 9]! & 15]!, DASH,
    HEX[b[o + 10]! >> 4]!, HEX[b[o + 10]! & 15]!, HEX[b[o + 11]! >> 4]!, HEX[b[o + 11]! & 15]!,
    HEX[b[o + 12]! >> 4]!, HEX[b[o + 12]! & 15]!, HEX[b[o + 13]! >> 4]!, HEX[b[o + 13]! & 15]!,
    HEX[b[o + 14]! >> 4]!, HEX[b[o + 14]! & 15]!, HEX[b[o + 15]! >> 4]!, HEX[b[o + 15]! & 15]!);
}
