/**
 * Length-prefixed records over TCP, fed in order and reassembled across segments, bounded:
 * Kerberos record marking (RFC 4120 §7.2.2: a 4-octet big-endian length whose high bit is
 * reserved) and the 4-octet session header in front of SMB2 (MS-SMB2 §2.1, RFC 1002 §4.3.1:
 * type 0x00, 3-octet length). A record longer than the bound is skipped (counted by the caller),
 * a header that is not one ends the framer for the flow. A record that arrives in one segment is
 * handed on in place; only a record cut across segments is copied, into one buffer of its size.
 */

/** The record's length from its 4 header octets; -1 when the header is not one. */
export type RecordLength = (b0: number, b1: number, b2: number, b3: number) => number;

/** RFC 4120 §7.2.2: the high bit is reserved for extensions we do not speak. */
export const kerberosRecordLength: RecordLength = (b0, b1, b2, b3) => (b0 & 0x80) !== 0 ? -1 : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;

/**
 * Direct-TCP SMB2 (MS-SMB2 §2.1: type 0x00, 24-bit length) and the NetBIOS session packets of
 * port 139 (RFC 1002 §4.3.1: request 0x81, responses 0x82-0x84, keep-alive 0x85; 17-bit length).
 */
export const sessionRecordLength: RecordLength = (b0, b1, b2, b3) =>
  b0 === 0x00 ? (b1 << 16) | (b2 << 8) | b3 : b0 >= 0x81 && b0 <= 0x85 ? ((b1 & 1) << 16) | (b2 << 8) | b3 : -1;

export const enum FramerEvent { RECORD = 0, TOO_LONG = 1, BAD_HEADER = 2 }

export type RecordSink = (buf: Buffer, start: number, end: number) => void;

export class RecordFramer {
  /** Next expected sequence number of this direction; -1 until the first segment. */
  next = -1;
  /** No more records from this direction (bad header or a gap). */
  dead = false;
  private readonly hdr = [0, 0, 0, 0];
  private have = 0;
  private need = 0;
  private skip = 0;
  private rec: Buffer | null = null;
  private recHave = 0;

  constructor(private readonly length: RecordLength, private readonly maxRecord: number) {}

  /**
   * Feeds one segment with sequence number `seq` (payload buf[off, end)). Bytes already seen are
   * cut; a gap ends the framer. Returns a bit set of FramerEvent TOO_LONG / BAD_HEADER seen.
   */
  push(seq: number, buf: Buffer, off: number, end: number, sink: RecordSink): number {
    if (this.dead) return 0;
    if (this.next < 0) this.next = seq;
    const skipped = (this.next - seq) | 0;
    const len = end - off;
    if (skipped >= len) return 0;
    if (skipped < 0) { this.dead = true; this.rec = null; return 0; }
    this.next = (seq + len) >>> 0;
    off += skipped;
    let events = 0;
    while (off < end) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - off);
        this.skip -= n; off += n;
        continue;
      }
      if (this.have < 4) {
        this.hdr[this.have++] = buf[off++]!;
        if (this.have < 4) continue;
        const h = this.hdr;
        const n = this.length(h[0]!, h[1]!, h[2]!, h[3]!);
        if (n < 0) { this.dead = true; return events | (1 << FramerEvent.BAD_HEADER); }
        if (n > this.maxRecord) { this.skip = n; this.have = 0; events |= 1 << FramerEvent.TOO_LONG; continue; }
        this.need = n;
        this.recHave = 0;
        if (n === 0) { this.have = 0; continue; }
      }
      if (this.rec === null && end - off >= this.need) {
        const start = off;
        off += this.need;
        this.have = 0;
        sink(buf, start, off);
        continue;
      }
      if (this.rec === null) this.rec = Buffer.allocUnsafe(this.need);
      const n = Math.min(this.need - this.recHave, end - off);
      buf.copy(this.rec, this.recHave, off, off + n);
      this.recHave += n; off += n;
      if (this.recHave === this.need) {
        const rec = this.rec;
        this.rec = null; this.have = 0;
        sink(rec, 0, rec.length);
      }
    }
    return events;
  }
}
