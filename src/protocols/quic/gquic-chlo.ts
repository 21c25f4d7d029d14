/**
 * Google QUIC client hello (CHLO) tag map: the SNI tag of gQUIC versions that do not use TLS.
 *
 * Q043 and older send the CHLO in clear in a stream frame; Q046 in clear behind an IETF-style
 * long header; Q050 inside an encrypted Initial (decrypted by initial.ts). The message is a tag
 * value map (Chromium's "QUIC Crypto" design document, "Handshake message format"):
 * tag "CHLO", uint16 LE number of entries, uint16 padding, then per entry a 4-byte tag and a
 * uint32 LE end offset of its value, then the values back to back.
 */
import { ParseStatus } from '../parse-status.js';

const CHLO = 0x43484c4f; // "CHLO" as read big-endian
const SNI = 0x534e4900; // "SNI\0"
/** Entries in a CHLO; Chromium sends about 20, its parser caps at 128. */
const MAX_ENTRIES = 128;
/** How far into a datagram the CHLO tag is looked for (header + frame header). */
export const CHLO_SEARCH_WINDOW_BYTES = 128;

export class ChloInfo {
  sni = '';
  reset(): void { this.sni = ''; }
}

function u32be(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Finds "CHLO" within the first `window` bytes of [off, end); -1 if absent. */
export function findChlo(buf: Uint8Array, off: number, end: number, window = CHLO_SEARCH_WINDOW_BYTES): number {
  const last = Math.min(end - 8, off + window);
  for (let p = off; p <= last; p++) {
    if (buf[p] === 0x43 && u32be(buf, p) === CHLO) return p;
  }
  return -1;
}

/** Parses the tag map that starts with "CHLO" at `off`. */
export function parseChlo(buf: Uint8Array, off: number, end: number, out: ChloInfo): ParseStatus {
  out.reset();
  if (end - off < 8) return ParseStatus.NEED_MORE;
  if (u32be(buf, off) !== CHLO) return ParseStatus.NOT_MINE;
  const entries = buf[off + 4]! | (buf[off + 5]! << 8);
  if (entries > MAX_ENTRIES) return ParseStatus.MALFORMED;
  const index = off + 8;
  const values = index + entries * 8;
  if (values > end) return ParseStatus.NEED_MORE;
  let prevEnd = 0;
  for (let i = 0; i < entries; i++) {
    const tag = u32be(buf, index + i * 8);
    const valueEnd = u32le(buf, index + i * 8 + 4);
    // Offsets are cumulative and must not go backwards.
    if (valueEnd < prevEnd) return ParseStatus.MALFORMED;
    if (tag === SNI) {
      if (values + valueEnd > end) return ParseStatus.NEED_MORE;
      const len = valueEnd - prevEnd;
      if (len === 0 || len > 255) return ParseStatus.MALFORMED;
      out.sni = Buffer.from(buf.buffer, buf.byteOffset + values + prevEnd, len).toString('latin1').toLowerCase();
      return ParseStatus.OK;
    }
    prevEnd = valueEnd;
  }
  return ParseStatus.OK;
}
