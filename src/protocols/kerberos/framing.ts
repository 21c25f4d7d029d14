/**
 * Length-delimited records over TCP, fed in order and reassembled across segments, bounded:
 * Kerberos record marking (RFC 4120 §7.2.2: a 4-octet big-endian length whose high bit is
 * reserved), the 4-octet session header in front of SMB (MS-SMB2 §2.1, RFC 1002 §4.3.1), the
 * DCE-RPC connection-oriented PDU header (C706 §12.6.3: frag_length at octet 8) and LDAP's BER
 * LDAPMessage (RFC 4511 §4.1.1, X.690 §8.1.3). The sink gets each whole record, header included.
 * A record longer than the bound is skipped (the caller counts it); a header that is not one ends
 * the framer for that direction, as does a gap in the sequence numbers. A record that arrives in
 * one segment is handed on in place; only a record cut across segments is copied, into one
 * buffer of its size.
 */

/** A framing: how many octets decide the length, and the record's whole length from them (-1: not a header). */
export interface Framing { readonly headerBytes: number; total(b: Uint8Array, o: number): number }

/** RFC 4120 §7.2.2: the high bit is reserved for extensions we do not speak. */
export const kerberosFraming: Framing = {
  headerBytes: 4,
  total: (b, o) => (b[o]! & 0x80) !== 0 ? -1 : 4 + (((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0),
};

/**
 * Direct-TCP SMB (MS-SMB2 §2.1: type 0x00, 24-bit length) and the NetBIOS session packets of port
 * 139 (RFC 1002 §4.3.1: request 0x81, responses 0x82-0x84, keep-alive 0x85; 17-bit length).
 */
export const sessionFraming: Framing = {
  headerBytes: 4,
  total: (b, o) => {
    const t = b[o]!;
    if (t === 0x00) return 4 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
    return t >= 0x81 && t <= 0x85 ? 4 + (((b[o + 1]! & 1) << 16) | (b[o + 2]! << 8) | b[o + 3]!) : -1;
  },
};

/** DCE-RPC CO PDU (C706 §12.6.3.1): version 5.0/5.1, frag_length in the data representation's byte order. */
export const dceRpcFraming: Framing = {
  headerBytes: 10,
  total: (b, o) => {
    if (b[o] !== 5 || b[o + 1]! > 1) return -1;
    const n = (b[o + 4]! & 0x10) !== 0 ? b[o + 8]! | (b[o + 9]! << 8) : (b[o + 8]! << 8) | b[o + 9]!;
    return n >= 16 ? n : -1;
  },
};

/** LDAPMessage ::= SEQUENCE (RFC 4511 §4.1.1), DER/BER definite length of at most 4 octets. */
export const ldapFraming: Framing = {
  headerBytes: 6,
  total: (b, o) => {
    if (b[o] !== 0x30) return -1;
    const l = b[o + 1]!;
    if (l < 0x80) return 2 + l;
    const n = l & 0x7f;
    if (n === 0 || n > 4) return -1;
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + b[o + 2 + i]!;
    return 2 + n + v;
  },
};

export const enum FramerEvent { RECORD = 0, TOO_LONG = 1, BAD_HEADER = 2 }

export type RecordSink = (buf: Buffer, start: number, end: number) => void;

export class RecordFramer {
  /** Next expected sequence number of this direction; -1 until the first segment. */
  next = -1;
  /** No more records from this direction (bad header or a gap). */
  dead = false;
  private readonly hdr: Buffer;
  private hdrHave = 0;
  private skip = 0;
  private rec: Buffer | null = null;
  private have = 0;

  constructor(private readonly framing: Framing, private readonly maxRecord: number) {
    this.hdr = Buffer.alloc(framing.headerBytes);
  }

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
    const H = this.framing.headerBytes;
    let events = 0;
    while (off < end) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - off);
        this.skip -= n; off += n;
        continue;
      }
      const rec = this.rec;
      if (rec !== null) {
        const n = Math.min(rec.length - this.have, end - off);
        buf.copy(rec, this.have, off, off + n);
        this.have += n; off += n;
        if (this.have === rec.length) { this.rec = null; this.have = 0; sink(rec, 0, rec.length); }
        continue;
      }
      let total: number;
      if (this.hdrHave === 0 && end - off >= H) {
        total = this.framing.total(buf, off);
        if (total < H) { this.dead = true; return events | (1 << FramerEvent.BAD_HEADER); }
        if (total > this.maxRecord) { this.skip = total; events |= 1 << FramerEvent.TOO_LONG; continue; }
        if (end - off >= total) { const s = off; off += total; sink(buf, s, off); continue; }
        this.rec = Buffer.allocUnsafe(total);
        continue;
      }
      // The header itself is cut across segments.
      this.hdr[this.hdrHave++] = buf[off++]!;
      if (this.hdrHave < H) continue;
      this.hdrHave = 0;
      total = this.framing.total(this.hdr, 0);
      if (total < H) { this.dead = true; return events | (1 << FramerEvent.BAD_HEADER); }
      if (total > this.maxRecord) { this.skip = total - H; events |= 1 << FramerEvent.TOO_LONG; continue; }
      const r = Buffer.allocUnsafe(total);
      this.hdr.copy(r, 0, 0, H);
      if (total === H) { sink(r, 0, H); continue; }
      this.rec = r; this.have = H;
    }
    return events;
  }
}
