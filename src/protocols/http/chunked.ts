/**
 * Streaming skipper for the chunked transfer coding (RFC 9112 §7.1), used to step over message
 * bodies between pipelined messages without buffering them:
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * chunk-ext (§7.1.1) and the trailer section (§7.1.2) are skipped, bounded in length. Bare LF is
 * accepted as a line terminator (§2.2). Feed bytes in order; `feed` never reads past `end`.
 */

import { CR, HTAB, LF, SP } from './fields.js';

const enum S {
  SIZE,
  SIZE_AFTER,
  EXT,
  SIZE_LF,
  DATA,
  DATA_CR,
  DATA_LF,
  TRAILER_START,
  TRAILER_LINE,
  END_LF,
  DONE,
  FAILED,
}

/** 13 hex digits < 2^52: chunk sizes stay exact in a double. */
const MAX_SIZE_DIGITS = 13;

export class ChunkedSkipper {
  private state = S.SIZE;
  private digits = 0;
  private size = 0;
  private remaining = 0;
  /** Bytes of chunk-ext on the current size line, or of the trailer section. */
  private extra = 0;

  /** @param maxLineBytes bound for one size line's chunk-ext and for the whole trailer section. */
  constructor(private readonly maxLineBytes: number) {}

  /** Starts a new body. */
  reset(): void {
    this.state = S.SIZE;
    this.digits = 0;
    this.size = 0;
    this.remaining = 0;
    this.extra = 0;
  }

  /** The last chunk and the trailer section have been consumed. */
  get finished(): boolean {
    return this.state === S.DONE;
  }

  /** The framing was invalid; the stream position is lost. */
  get failed(): boolean {
    return this.state === S.FAILED;
  }

  /** Consumes bytes from buf[off, end); returns the offset just past what it consumed. */
  feed(buf: Uint8Array, off: number, end: number): number {
    let p = off;
    while (p < end) {
      switch (this.state) {
        case S.SIZE: {
          const b = buf[p]!;
          const h = hexValue(b);
          if (h >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail(p);
            this.size = this.size * 16 + h;
            p++;
            break;
          }
          if (this.digits === 0) return this.fail(p);
          this.state = S.SIZE_AFTER;
          break;
        }
        case S.SIZE_AFTER: {
          const b = buf[p]!;
          if (b === SP || b === HTAB) p++; // BWS before ';' (§7.1.1)
          else if (b === 0x3b /* ';' */) { this.state = S.EXT; this.extra = 0; p++; }
          else if (b === CR) { this.state = S.SIZE_LF; p++; }
          else if (b === LF) { p++; this.sizeLineDone(); }
          else return this.fail(p);
          break;
        }
        case S.EXT: {
          const b = buf[p]!;
          p++;
          if (b === LF) { this.sizeLineDone(); break; }
          if (++this.extra > this.maxLineBytes) return this.fail(p);
          break;
        }
        case S.SIZE_LF:
          if (buf[p] !== LF) return this.fail(p);
          p++;
          this.sizeLineDone();
          break;
        case S.DATA: {
          const n = Math.min(this.remaining, end - p);
          p += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = S.DATA_CR;
          break;
        }
        case S.DATA_CR: {
          const b = buf[p]!;
          if (b === CR) { this.state = S.DATA_LF; p++; }
          else if (b === LF) { this.nextChunk(); p++; }
          else return this.fail(p);
          break;
        }
        case S.DATA_LF:
          if (buf[p] !== LF) return this.fail(p);
          p++;
          this.nextChunk();
          break;
        case S.TRAILER_START: {
          const b = buf[p]!;
          if (b === CR) { this.state = S.END_LF; p++; }
          else if (b === LF) { this.state = S.DONE; return p + 1; }
          else this.state = S.TRAILER_LINE;
          break;
        }
        case S.TRAILER_LINE: {
          const b = buf[p]!;
          p++;
          if (++this.extra > this.maxLineBytes) return this.fail(p);
          if (b === LF) this.state = S.TRAILER_START;
          break;
        }
        case S.END_LF:
          if (buf[p] !== LF) return this.fail(p);
          this.state = S.DONE;
          return p + 1;
        case S.DONE:
        case S.FAILED:
          return p;
      }
    }
    return p;
  }

  private sizeLineDone(): void {
    if (this.size === 0) {
      this.state = S.TRAILER_START;
      this.extra = 0;
    } else {
      this.remaining = this.size;
      this.state = S.DATA;
    }
  }

  private nextChunk(): void {
    this.state = S.SIZE;
    this.digits = 0;
    this.size = 0;
  }

  private fail(p: number): number {
    this.state = S.FAILED;
    return p;
  }
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
