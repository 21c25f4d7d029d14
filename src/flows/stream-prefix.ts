/**
 * Reassembles the first `maxBytes` bytes of one TCP direction (RFC 9293 §3.4 sequence numbers),
 * enough for protocol analyzers that only need a stream's beginning (a TLS ClientHello, an HTTP
 * request line).
 *
 * - Byte 0 is the one after the SYN's sequence number (`setIsn`), or, when no SYN was seen, the
 *   first byte of the first data segment.
 * - Sequence arithmetic is modulo 2^32: the distance of a segment from byte 0 is a signed 32-bit
 *   difference, so wraparound is transparent.
 * - Segments are written straight into place in a buffer of `maxBytes` (allocated on the first
 *   payload), so out-of-order data costs no copies; only the filled ranges past the contiguous
 *   prefix are tracked, at most `maxPieces` of them.
 * - Retransmissions and overlaps: bytes already received are never overwritten (first copy wins).
 * - Data at or beyond `maxBytes` is ignored.
 */

/** First allocation for a direction's prefix; doubled as data arrives, up to maxBytes. */
const INITIAL_BYTES = 2048;

export class StreamPrefixCounters {
  /** Streams that carried data beyond maxBytes (counted once per stream). */
  overflow = 0;
  /** Out-of-order segments dropped because maxPieces separate pieces were already held. */
  gapGiveUp = 0;
  /** Segments that overlapped bytes already received (retransmissions included). */
  overlap = 0;

  snapshot(): Record<string, number> {
    return {
      'stream.prefix_overflow': this.overflow,
      'stream.prefix_gap_give_up': this.gapGiveUp,
      'stream.prefix_overlap': this.overlap,
    };
  }
}

export const DEFAULT_MAX_PIECES = 16;

export class StreamPrefix {
  readonly maxBytes: number;
  /** Bytes [0, contiguousLength) are present. */
  contiguousLength = 0;
  private readonly counters: StreamPrefixCounters;
  private readonly maxPieces: number;
  private buf: Buffer | null = null;
  private base = 0;
  private haveBase = false;
  private overflowed = false;
  /** Filled ranges beyond contiguousLength: sorted, disjoint, not touching. */
  private readonly pieceStart: Int32Array;
  private readonly pieceEnd: Int32Array;
  private pieceCount = 0;

  constructor(maxBytes: number, counters: StreamPrefixCounters, maxPieces = DEFAULT_MAX_PIECES) {
    this.maxBytes = Math.max(0, Math.floor(maxBytes));
    this.counters = counters;
    this.maxPieces = Math.max(1, Math.floor(maxPieces));
    this.pieceStart = new Int32Array(this.maxPieces);
    this.pieceEnd = new Int32Array(this.maxPieces);
  }

  /** The SYN's sequence number: the first data byte is `isn + 1`. Ignored once data arrived. */
  setIsn(isn: number): void {
    if (this.contiguousLength > 0 || this.pieceCount > 0) return;
    this.base = (isn + 1) >>> 0;
    this.haveBase = true;
  }

  /** True once the prefix holds maxBytes contiguous bytes. */
  get full(): boolean {
    return this.contiguousLength >= this.maxBytes;
  }

  /** The contiguous prefix received so far (a view, valid until the next push). */
  private grow(need: number, max: number): void {
    let size = this.buf === null ? INITIAL_BYTES : this.buf.length;
    while (size < need) size *= 2;
    if (size > max) size = max;
    const next = Buffer.allocUnsafe(size);
    if (this.buf !== null) this.buf.copy(next, 0, 0, this.buf.length);
    this.buf = next;
  }

  bytes(): Buffer {
    return this.buf === null ? Buffer.alloc(0) : this.buf.subarray(0, this.contiguousLength);
  }

  /** The underlying buffer (null before the first payload); bytes [0, contiguousLength) are valid. */
  get buffer(): Buffer | null {
    return this.buf;
  }

  /** Adds the payload `src[off, off + len)` of a segment whose sequence number is `seq`. */
  push(seq: number, src: Buffer, off: number, len: number): void {
    if (len <= 0) return;
    if (!this.haveBase) { this.base = seq >>> 0; this.haveBase = true; }
    const rel = ((seq >>> 0) - this.base) | 0; // signed distance modulo 2^32
    let a = rel;
    let b = rel + len;
    const max = this.maxBytes;
    if (b <= 0) { this.counters.overlap++; return; } // entirely before byte 0: a retransmission
    if (a >= max) { this.overflow(); return; }
    if (a < 0) a = 0;
    if (b > max) { b = max; this.overflow(); }
    const contig = this.contiguousLength;
    if (b <= contig) { this.counters.overlap++; return; }

    // Where would [a, b) go among the pieces? i = first piece touching or after it.
    const ps = this.pieceStart;
    const pe = this.pieceEnd;
    let n = this.pieceCount;
    let i = 0;
    while (i < n && pe[i]! < a) i++;
    let j = i;
    while (j < n && ps[j]! <= b) j++;
    // Pieces [i, j) touch or overlap [a, b).
    if (a > contig && i === j && n >= this.maxPieces) { this.counters.gapGiveUp++; return; }

    // Grow to what the data needs (most handshakes fit in a couple of KiB), never past max:
    // a full-size buffer per direction of every TLS flow costs more in garbage collection than
    // the occasional copy.
    if (this.buf === null || this.buf.length < b) this.grow(b, max);
    const dst = this.buf!;
    const srcAt = off - rel; // src index of stream byte x is srcAt + x
    // Copy the parts of [a, b) not already filled: skip [0, contig) and pieces [i, j).
    let cur = a < contig ? contig : a;
    let overlapped = a < contig;
    for (let k = i; k < j; k++) {
      const s = ps[k]!;
      const e = pe[k]!;
      if (s > cur) src.copy(dst, cur, srcAt + cur, srcAt + Math.min(s, b));
      if (s < b && e > a) overlapped = true;
      if (e > cur) cur = e;
    }
    if (cur < b) src.copy(dst, cur, srcAt + cur, srcAt + b);
    if (overlapped) this.counters.overlap++;

    if (a <= contig) {
      // Extends the contiguous prefix; merged pieces [i, j) are absorbed below.
      let c = b;
      for (let k = i; k < j; k++) if (pe[k]! > c) c = pe[k]!;
      this.removePieces(i, j);
      n = this.pieceCount;
      this.contiguousLength = c;
      while (n > 0 && ps[0]! <= c) { // absorb any later piece now touching the prefix
        if (pe[0]! > c) c = pe[0]!;
        this.removePieces(0, 1);
        n = this.pieceCount;
      }
      this.contiguousLength = c;
    } else if (i === j) {
      // A new separate piece at index i.
      for (let k = n; k > i; k--) { ps[k] = ps[k - 1]!; pe[k] = pe[k - 1]!; }
      ps[i] = a;
      pe[i] = b;
      this.pieceCount = n + 1;
    } else {
      // Merge [a, b) with pieces [i, j) into one at index i.
      const s = Math.min(a, ps[i]!);
      const e = Math.max(b, pe[j - 1]!);
      this.removePieces(i + 1, j);
      ps[i] = s;
      pe[i] = e;
    }
  }

  private removePieces(from: number, to: number): void {
    if (to <= from) return;
    const ps = this.pieceStart;
    const pe = this.pieceEnd;
    const n = this.pieceCount;
    const d = to - from;
    for (let k = from; k + d < n; k++) { ps[k] = ps[k + d]!; pe[k] = pe[k + d]!; }
    this.pieceCount = n - d;
  }

  private overflow(): void {
    if (!this.overflowed) { this.overflowed = true; this.counters.overflow++; }
  }
}
