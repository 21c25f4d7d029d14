/**
 * A bounded DER reader (ITU-T X.690 §8.1, §10.1) for the Kerberos (RFC 4120 §5) and SPNEGO
 * (RFC 4178 §4.2) structures: one tag-length header at a time into a reused `DerHeader`, no
 * allocation, never throws. Definite lengths only (DER, §10.1): the indefinite form, lengths
 * over four octets, high tag numbers over 0x3fff and a value running past `end` are refused.
 */

/** One decoded TLV header; `start` is the first value octet, `end` one past the last. */
export class DerHeader {
  /** First identifier octet (class, constructed bit, low tag number); for high tag numbers, 0x1f bits set. */
  tag = 0;
  /** Tag number (low or high form). */
  num = 0;
  cls = 0;
  constructed = false;
  start = 0;
  end = 0;
}

export const DER_UNIVERSAL = 0x00;
export const DER_APPLICATION = 0x40;
export const DER_CONTEXT = 0x80;

/** Why readDer refused. */
export const enum DerResult { OK = 0, TRUNCATED = 1, BAD = 2 }

/**
 * Reads the TLV header at `pos` (value must end at or before `end`). TRUNCATED when the header
 * or the value runs past `end` (the caller may have more bytes later), BAD when the encoding is
 * not DER.
 */
export function readDer(buf: Uint8Array, pos: number, end: number, h: DerHeader): DerResult {
  if (pos >= end) return DerResult.TRUNCATED;
  const t = buf[pos++]!;
  h.tag = t;
  h.cls = t & 0xc0;
  h.constructed = (t & 0x20) !== 0;
  let num = t & 0x1f;
  if (num === 0x1f) {
    // High tag number form (§8.1.2.4): at most two base-128 octets here.
    num = 0;
    let n = 0;
    for (;;) {
      if (pos >= end) return DerResult.TRUNCATED;
      const b = buf[pos++]!;
      num = (num << 7) | (b & 0x7f);
      if (++n > 2) return DerResult.BAD;
      if ((b & 0x80) === 0) break;
    }
  }
  h.num = num;
  if (pos >= end) return DerResult.TRUNCATED;
  let len = buf[pos++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    // 0x80 is the indefinite form (BER only); more than four octets is never a real length here.
    if (n === 0 || n > 4) return DerResult.BAD;
    if (pos + n > end) return DerResult.TRUNCATED;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++]!;
  }
  h.start = pos;
  h.end = pos + len;
  if (h.end > end) return DerResult.TRUNCATED;
  return DerResult.OK;
}

/** A non-negative INTEGER of at most 6 value octets (Int32/UInt32/Microseconds fit); -1 if not one. */
export function derUint(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n < 1 || n > 6) return -1;
  if (buf[start]! & 0x80) return -1;
  let v = 0;
  for (let i = start; i < end; i++) v = v * 256 + buf[i]!;
  return v;
}

/** A signed INTEGER of 1..4 octets (Int32, RFC 4120 §5.2.4); NaN if not one. */
export function derInt32(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n < 1 || n > 4) return NaN;
  let v = buf[start]! & 0x80 ? -1 : 0;
  for (let i = start; i < end; i++) v = (v << 8) | buf[i]!;
  return v;
}

/** Bytes [start, end) as Latin-1 / ASCII text with control octets replaced by '?', at most `max` octets. */
export function derText(buf: Uint8Array, start: number, end: number, max: number): string {
  const stop = Math.min(end, start + max);
  let s = '';
  for (let i = start; i < stop; i++) {
    const c = buf[i]!;
    s += c < 0x20 || c === 0x7f ? '?' : String.fromCharCode(c);
  }
  return s;
}
