/**
 * Record layer walking (RFC 8446 §5.1, RFC 5246 §6.2.1): the handshake protocol is a byte stream
 * carried in the fragments of consecutive handshake records, and one handshake message may span
 * several records (or one record may hold several messages). `HandshakeReader.gather` returns a
 * contiguous view of a range of that logical handshake stream: a view into the input when the
 * range lies in one record, else a copy into a reusable scratch buffer.
 */
import { ParseStatus } from '../parse-status.js';
import {
  CONTENT_HANDSHAKE, MAX_HANDSHAKE_LENGTH, MAX_PLAINTEXT_RECORD, MAX_RECORDS, TlsError,
} from './constants.js';

const EMPTY = Buffer.alloc(0);

export class HandshakeReader {
  /** After OK: the gathered bytes are `buf[start, end)`. */
  buf: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** After MALFORMED: the reason. */
  error: TlsError = TlsError.NONE;
  private scratch: Buffer = EMPTY;

  /**
   * Gathers handshake-stream bytes `[from, from + length)` from the records in `src[off, end)`.
   *
   * OK: bytes available. NEED_MORE: the records end before them. NOT_MINE: a non-handshake
   * record (or a non-TLS first record) comes before any of the wanted bytes: the plaintext
   * handshake stream ends there. MALFORMED (`error` set): bad record framing, or another record
   * type interleaved inside the wanted range (forbidden by RFC 8446 §5.1).
   */
  gather(src: Buffer, off: number, end: number, from: number, length: number): ParseStatus {
    this.error = TlsError.NONE;
    if (length > MAX_HANDSHAKE_LENGTH) { this.error = TlsError.HANDSHAKE_TOO_LARGE; return ParseStatus.MALFORMED; }
    const to = from + length;
    let o = off;
    let pos = 0; // logical handshake offset of the current record's fragment
    let copied = 0;
    for (let records = 0; ; records++) {
      if (records >= MAX_RECORDS) { this.error = TlsError.TOO_MANY_RECORDS; return ParseStatus.MALFORMED; }
      const avail = end - o;
      if (avail < 5) {
        // Judge what we have of the header so that non-TLS is recognised early.
        if (avail >= 1 && src[o] !== CONTENT_HANDSHAKE) return this.otherRecord(o === off, copied);
        if (avail >= 2 && src[o + 1] !== 3) return this.badVersion(o === off);
        return ParseStatus.NEED_MORE;
      }
      if (src[o] !== CONTENT_HANDSHAKE) return this.otherRecord(o === off, copied);
      // ProtocolVersion legacy_record_version: 0x0300..0x0304 (RFC 8446 §5.1, Appendix D).
      if (src[o + 1] !== 3 || src[o + 2]! > 4) return this.badVersion(o === off);
      const rlen = (src[o + 3]! << 8) | src[o + 4]!;
      if (rlen > MAX_PLAINTEXT_RECORD) { this.error = TlsError.RECORD_TOO_LONG; return ParseStatus.MALFORMED; }
      // "Implementations MUST NOT send zero-length fragments of Handshake types" (RFC 8446 §5.1).
      if (rlen === 0) { this.error = TlsError.RECORD_EMPTY; return ParseStatus.MALFORMED; }
      const fs = o + 5;
      const fe = fs + rlen;
      const have = Math.min(fe, end) - fs; // fragment bytes present
      if (copied === 0 && from >= pos && to <= pos + have) {
        this.buf = src;
        this.start = fs + (from - pos);
        this.end = this.start + length;
        return ParseStatus.OK;
      }
      const lo = Math.max(from + copied, pos);
      const hi = Math.min(to, pos + have);
      if (hi > lo) {
        if (this.scratch.length < length) {
          this.scratch = Buffer.allocUnsafe(Math.min(MAX_HANDSHAKE_LENGTH, Math.max(length, 2 * this.scratch.length, 2048)));
        }
        src.copy(this.scratch, lo - from, fs + (lo - pos), fs + (hi - pos));
        copied = hi - from;
        if (copied === length) {
          this.buf = this.scratch;
          this.start = 0;
          this.end = length;
          return ParseStatus.OK;
        }
      }
      if (fe > end) return ParseStatus.NEED_MORE;
      pos += rlen;
      o = fe;
    }
  }

  private otherRecord(first: boolean, copied: number): ParseStatus {
    if (first || copied === 0) return ParseStatus.NOT_MINE;
    this.error = TlsError.RECORD_INTERLEAVED;
    return ParseStatus.MALFORMED;
  }

  private badVersion(first: boolean): ParseStatus {
    if (first) return ParseStatus.NOT_MINE;
    this.error = TlsError.RECORD_BAD_VERSION;
    return ParseStatus.MALFORMED;
  }
}
