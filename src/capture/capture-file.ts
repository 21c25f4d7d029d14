/**
 * Streaming reader for classic pcap and pcapng capture files, in plain JS.
 *
 * Why not libpcap's pcap_open_offline: libpcap 1.10 rejects a pcapng file as soon as a second
 * Interface Description Block has a different link type from the first ("an interface has a
 * different link-layer header type"), and multi-interface captures (tshark -i a -i b, dumpcap on
 * `any` plus a tunnel, ...) are exactly what we are given. Reading the formats ourselves also lets
 * us treat malformed content as counters instead of opaque errors, and it is faster than the pcap
 * npm binding (one native->JS call and two memcpy per packet there; see README.md for numbers).
 *
 * Design:
 * - One large Buffer (8 MiB by default) is filled with fs.readSync. Records are parsed in place;
 *   when a record straddles the end of the filled region the unread tail is moved to the front and
 *   the rest of the buffer is refilled, so the only copying is of at most one record per chunk.
 * - The PacketCallback gets that buffer plus the offset of the packet data: no per-packet
 *   allocation. The buffer is reused, so consumers must copy what they keep (see types.ts).
 * - Malformed content never throws: it bumps a counter in CaptureFileCounters and, when the record
 *   framing can no longer be trusted, reading of that file stops (what libpcap does too, it returns
 *   an error from pcap_next_ex and the application stops). Only "cannot open / cannot read / not a
 *   capture file at all" throw, as CaptureFileError.
 *
 * Format references:
 * - classic pcap: draft-ietf-opsawg-pcap ("PCAP Capture File Format") section 4 (File Header) and
 *   section 5 (Packet Record); behaviour on odd records follows libpcap 1.10 sf-pcap.c.
 * - pcapng: draft-ietf-opsawg-pcapng ("PCAP Now Generic"), cited below as [pcapng §x].
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { PacketCallback } from './types.js';
import { OutpostError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Errors, counters, summary
// ---------------------------------------------------------------------------------------------

export type CaptureFileErrorCode =
  | 'CAPTURE_FILE_NOT_FOUND'
  | 'CAPTURE_FILE_UNREADABLE'
  | 'CAPTURE_FILE_NOT_A_CAPTURE';

/** Thrown only when a file cannot be opened/read at all or is not a capture file. */
export class CaptureFileError extends OutpostError {
  declare readonly code: CaptureFileErrorCode;
  readonly path: string;

  constructor(code: CaptureFileErrorCode, path: string, detail: string, cause?: unknown) {
    super(code, { path, reason: detail }, { message: `${detail}: ${path}`, ...(cause === undefined ? {} : { cause }) });
    this.path = path;
  }
}

/**
 * Counters accumulated over every file read with the same instance. Plain numeric fields on one
 * monomorphic object so the hot path is `c.x++`; `snapshot()` gives the stable dotted names.
 */
export class CaptureFileCounters {
  /** Files opened and recognised (pcap or pcapng). */
  files = 0;
  /** Packets delivered to the callback. */
  packets = 0;
  /** Captured bytes delivered to the callback (sum of capLen). */
  bytes = 0;
  /** Files that ended in the middle of a header, record or block (reading returns normally). */
  truncatedRecords = 0;
  /** pcapng blocks whose framing is invalid (length not a multiple of 4, too small, trailing
   * length differs, section header with a bad byte-order magic, packet longer than its block);
   * reading of the file stops. */
  badBlocks = 0;
  /** Classic records with caplen > 256 KiB, or pcapng blocks > 16 MiB (libpcap's limits); reading
   * of the file stops because the length field is almost certainly garbage. */
  oversizedRecords = 0;
  /** Classic records with snaplen < caplen <= 256 KiB: delivered cut to snaplen, as libpcap does. */
  recordsOverSnaplen = 0;
  /** pcapng blocks we do not interpret (NRB, ISB, DSB, custom, systemd journal, unknown types),
   * skipped by their length. */
  unknownBlocksSkipped = 0;
  /** pcapng packet blocks naming an interface not (yet) described in their section; skipped. */
  badInterfaceIds = 0;
  /** pcapng options whose length runs past the end of their block; the remaining options of that
   * block are ignored. */
  badOptions = 0;
  /** Times the read buffer had to grow to hold one pcapng block larger than it. */
  bufferGrows = 0;

  snapshot(): Record<string, number> {
    return {
      'capture.file_files': this.files,
      'capture.file_packets': this.packets,
      'capture.file_bytes': this.bytes,
      'capture.file_truncated_records': this.truncatedRecords,
      'capture.file_bad_blocks': this.badBlocks,
      'capture.file_oversized_records': this.oversizedRecords,
      'capture.file_records_over_snaplen': this.recordsOverSnaplen,
      'capture.file_unknown_blocks_skipped': this.unknownBlocksSkipped,
      'capture.file_bad_interface_ids': this.badInterfaceIds,
      'capture.file_bad_options': this.badOptions,
      'capture.file_buffer_grows': this.bufferGrows,
    };
  }
}

export interface CaptureFileInterface {
  /** Index passed to the callback: file-wide, in order of appearance (pcapng sections append). */
  ifIndex: number;
  /** pcapng section number (0-based); always 0 for classic pcap. */
  section: number;
  linkType: number;
  /** 0 means "no limit" (pcapng) or that the header said 0 (classic). */
  snaplen: number;
  /** Timestamp units per second (1e6 for usec, 1e9 for nsec, 2^n for binary if_tsresol). */
  tsUnitsPerSecond: number;
  /** if_tsoffset, seconds (pcapng only; 0 otherwise). */
  tsOffsetSeconds: number;
  /** Classic pcap only: FCS length in bytes announced by the header's F bit, else 0. */
  fcsLengthBytes: number;
}

export type CaptureFileStopReason = 'eof' | 'truncated' | 'bad_block' | 'oversized_record' | 'aborted';

export interface CaptureFileSummary {
  path: string;
  format: 'pcap' | 'pcapng';
  packets: number;
  bytes: number;
  interfaces: CaptureFileInterface[];
  /** Timestamps of the first/last delivered packet in µs since the epoch; null if no packets. */
  firstTsUs: number | null;
  lastTsUs: number | null;
  /** Why reading ended: 'eof' is a clean end at a record boundary. */
  stopReason: CaptureFileStopReason;
  /** Bytes consumed up to the last complete record/block. */
  bytesConsumed: number;
}

export interface CaptureFileOptions {
  /** Size of the read buffer. Default 8 MiB; minimum 64 KiB. */
  bufferSizeBytes?: number;
  /**
   * Called with the bytes of the file consumed so far, every `progressEveryPackets` packets and
   * once at the end: a progress display costs nothing per packet (the reader already counts).
   */
  onProgress?: (bytesConsumed: number) => void;
  /** Packets between two onProgress calls (default 8192). */
  progressEveryPackets?: number;
}

export interface CaptureFileAsyncOptions extends CaptureFileOptions {
  /** Yield to the event loop after this many packets (default 50 000). */
  yieldEveryPackets?: number;
  /** Stop early at the next yield; the summary's stopReason is then 'aborted'. */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

const DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024;
const MIN_BUFFER_BYTES = 64 * 1024;

/** libpcap's MAXIMUM_SNAPLEN / max_snaplen_for_dlt() for ordinary link types (pcap-int.h). */
const MAX_CLASSIC_CAPLEN = 262144;
/** libpcap sf-pcapng.c caps blocks at 16 MiB; a bigger length is taken as garbage. */
const MAX_PCAPNG_BLOCK = 16 * 1024 * 1024;

// Classic pcap magics as read little-endian from the first 4 bytes [draft-ietf-opsawg-pcap §4].
const PCAP_USEC_LE = 0xa1b2c3d4; // file written little-endian, µs timestamps
const PCAP_USEC_BE = 0xd4c3b2a1; // file written big-endian, µs
const PCAP_NSEC_LE = 0xa1b23c4d; // ns timestamps
const PCAP_NSEC_BE = 0x4d3cb2a1;
const PCAP_HEADER_LEN = 24;

/** Unsigned 32-bit reads; the caller has checked that 4 bytes are there. */
function u32le(b: Buffer, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
}
function u32be(b: Buffer, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}
const PCAP_RECORD_HEADER_LEN = 16;

// pcapng block types [pcapng §11.1 "Block Type Codes"].
const BT_SHB = 0x0a0d0d0a; // palindromic on purpose, so it reads the same in both byte orders
const BT_IDB = 0x00000001;
const BT_PB = 0x00000002; // obsolete Packet Block [pcapng Appendix A]
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d; // [pcapng §4.1]
const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;

// IDB option codes [pcapng §4.2].
const OPT_ENDOFOPT = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

const TWO_32 = 4294967296;

// ---------------------------------------------------------------------------------------------
// Buffer pool: one default-size buffer reused across files (8 MiB allocations per small file would
// dominate when replaying a corpus of hundreds of small captures). Checked out while in use, so a
// nested or concurrent (async) read gets its own.
// ---------------------------------------------------------------------------------------------

let pooledBuffer: Buffer | null = null;

function takeBuffer(size: number): Buffer {
  if (size === DEFAULT_BUFFER_BYTES && pooledBuffer !== null) {
    const b = pooledBuffer;
    pooledBuffer = null;
    return b;
  }
  return Buffer.allocUnsafe(size);
}

function returnBuffer(b: Buffer): void {
  if (b.length === DEFAULT_BUFFER_BYTES) pooledBuffer = b;
}

// ---------------------------------------------------------------------------------------------
// Per-interface timestamp conversion
// ---------------------------------------------------------------------------------------------

/**
 * Internal interface state. Timestamp conversion is precomputed so the per-packet cost is a few
 * multiplications: us = high * tsHighMul + low * tsLowMul, exact in doubles when the resolution
 * is 2^-n or 10^-n with n <= 6; for 10^-n with n > 6 we divide by tsDiv = 10^(n-6) splitting the
 * 64-bit value so the result stays exact for ns timestamps (a plain double of ns since the epoch
 * would lose ~256 ns).
 */
class Iface {
  constructor(
    readonly ifIndex: number,
    readonly section: number,
    readonly linkType: number,
    readonly snaplen: number,
    readonly tsUnitsPerSecond: number,
    /** 0: multiply (tsHighMul/tsLowMul); >= 1: divide by tsDiv. */
    readonly tsDiv: number,
    readonly tsHighMul: number,
    readonly tsLowMul: number,
    readonly tsOffsetUs: number,
    readonly tsOffsetSeconds: number,
  ) {}

  tsUs(high: number, low: number): number {
    const d = this.tsDiv;
    if (d === 0) return Math.floor(high * this.tsHighMul + low * this.tsLowMul) + this.tsOffsetUs;
    if (d === 1) return high * TWO_32 + low + this.tsOffsetUs;
    const hq = Math.floor(high / d);
    const hr = high - hq * d;
    return hq * TWO_32 + Math.floor((hr * TWO_32 + low) / d) + this.tsOffsetUs;
  }

  describe(): CaptureFileInterface {
    return {
      ifIndex: this.ifIndex,
      section: this.section,
      linkType: this.linkType,
      snaplen: this.snaplen,
      tsUnitsPerSecond: this.tsUnitsPerSecond,
      tsOffsetSeconds: this.tsOffsetSeconds,
      fcsLengthBytes: 0,
    };
  }
}

/** Builds an Iface from the if_tsresol byte [pcapng §4.2: MSB 0 => 10^-n, MSB 1 => 2^-n]. */
function makeIface(
  ifIndex: number,
  section: number,
  linkType: number,
  snaplen: number,
  tsresol: number,
  tsOffsetSeconds: number,
): Iface {
  const n = tsresol & 0x7f;
  const offUs = tsOffsetSeconds * 1e6;
  if ((tsresol & 0x80) !== 0) {
    // 2^-n s per unit: us = ts * 1e6 / 2^n. Both multipliers are 15625 * 2^k: exact.
    const lowMul = 1e6 / 2 ** n;
    return new Iface(ifIndex, section, linkType, snaplen, 2 ** n, 0, lowMul * TWO_32, lowMul, offUs, tsOffsetSeconds);
  }
  if (n <= 6) {
    const mul = 10 ** (6 - n);
    return new Iface(ifIndex, section, linkType, snaplen, 10 ** n, 0, mul * TWO_32, mul, offUs, tsOffsetSeconds);
  }
  return new Iface(ifIndex, section, linkType, snaplen, 10 ** n, 10 ** (n - 6), 0, 0, offUs, tsOffsetSeconds);
}

// ---------------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------------

const enum Format {
  Pcap = 1,
  Pcapng = 2,
}

const enum Step {
  /** More records may follow. */
  More = 0,
  /** Reading ended; stopReason says why. */
  Done = 1,
}

/**
 * Resumable reader: `run(maxPackets)` parses until it has delivered maxPackets packets or the file
 * ends, so the same code serves the synchronous and the event-loop-friendly variants.
 */
class CaptureFileReader {
  private buf: Buffer;
  /** Parse position and end of valid data in buf. */
  private pos = 0;
  private end = 0;
  /** File offset of buf[0]. */
  private bufFileOffset = 0;
  private filePos = 0;
  private eof = false;
  private fd: number;

  format: Format = Format.Pcap;
  stopReason: CaptureFileStopReason = 'eof';
  packets = 0;
  bytes = 0;
  firstTsUs = -1;
  lastTsUs = -1;
  readonly interfaces: CaptureFileInterface[] = [];

  // classic pcap state
  private le = true;
  private nsec = false;
  private classicSnaplen = MAX_CLASSIC_CAPLEN;
  private classicLinkType = 0;

  // pcapng state: interfaces of the current section, indexed by their in-section id
  private sectionIfaces: Iface[] = [];
  private section = -1;
  private nextIfIndex = 0;
  private headerDone = false;

  constructor(
    readonly path: string,
    private readonly onPacket: PacketCallback,
    private readonly counters: CaptureFileCounters,
    bufferSize: number,
  ) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new CaptureFileError('CAPTURE_FILE_NOT_FOUND', path, 'capture file not found', err);
      }
      throw new CaptureFileError('CAPTURE_FILE_UNREADABLE', path, `cannot open capture file (${code ?? 'error'})`, err);
    }
    this.buf = takeBuffer(bufferSize);
  }

  close(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        /* closing a read-only fd cannot lose data */
      }
      this.fd = -1;
      returnBuffer(this.buf);
    }
  }

  /**
   * Makes at least n bytes available from pos, moving the unread tail to the front of the buffer
   * and refilling. Returns false at end of file (fewer than n bytes remain).
   */
  private ensure(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.eof) return false;
    const buf0 = this.buf;
    const remain = this.end - this.pos;
    if (n > buf0.length) {
      // Only pcapng blocks between the buffer size and 16 MiB get here: grow once to fit.
      let size = buf0.length;
      while (size < n) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      buf0.copy(grown, 0, this.pos, this.end);
      returnBuffer(buf0);
      this.buf = grown;
      this.counters.bufferGrows++;
    } else if (remain > 0 && this.pos > 0) {
      buf0.copy(buf0, 0, this.pos, this.end);
    }
    this.bufFileOffset += this.pos;
    this.pos = 0;
    this.end = remain;
    const buf = this.buf;
    while (this.end < n) {
      let got: number;
      try {
        got = readSync(this.fd, buf, this.end, buf.length - this.end, this.filePos);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new CaptureFileError('CAPTURE_FILE_UNREADABLE', this.path, `error reading capture file (${code ?? 'error'})`, err);
      }
      if (got === 0) {
        this.eof = true;
        return false;
      }
      this.end += got;
      this.filePos += got;
    }
    return true;
  }

  get bytesConsumed(): number {
    return this.bufFileOffset + this.pos;
  }

  /** Reads the magic; throws NOT_A_CAPTURE for anything unrecognised (or shorter than 4 bytes). */
  detect(): void {
    if (!this.ensure(4)) {
      throw new CaptureFileError('CAPTURE_FILE_NOT_A_CAPTURE', this.path, 'not a capture file (shorter than 4 bytes)');
    }
    const magic = this.buf.readUInt32LE(this.pos);
    switch (magic) {
      case PCAP_USEC_LE:
        this.le = true;
        break;
      case PCAP_NSEC_LE:
        this.le = true;
        this.nsec = true;
        break;
      case PCAP_USEC_BE:
        this.le = false;
        break;
      case PCAP_NSEC_BE:
        this.le = false;
        this.nsec = true;
        break;
      case BT_SHB:
        this.format = Format.Pcapng;
        // The byte-order magic decides whether this really is pcapng; a file truncated before it
        // is counted as truncated, like any other cut inside a block.
        if (this.ensure(12)) {
          const bom = this.buf.readUInt32LE(this.pos + 8);
          if (bom !== BYTE_ORDER_MAGIC && bom !== BYTE_ORDER_MAGIC_SWAPPED) {
            throw new CaptureFileError('CAPTURE_FILE_NOT_A_CAPTURE', this.path, 'not a capture file (pcapng block type without byte-order magic)');
          }
        }
        this.counters.files++;
        return;
      default:
        throw new CaptureFileError(
          'CAPTURE_FILE_NOT_A_CAPTURE',
          this.path,
          `not a capture file (unknown magic 0x${magic.toString(16).padStart(8, '0')})`,
        );
    }
    this.format = Format.Pcap;
    this.counters.files++;
  }

  /** Parses up to maxPackets packets; returns Step.Done when the file is finished. */
  run(maxPackets: number): Step {
    return this.format === Format.Pcap ? this.runPcap(maxPackets) : this.runPcapng(maxPackets);
  }

  private stop(reason: CaptureFileStopReason): Step {
    this.stopReason = reason;
    return Step.Done;
  }

  private truncated(): Step {
    this.counters.truncatedRecords++;
    return this.stop('truncated');
  }

  // ---- classic pcap -------------------------------------------------------------------------

  private runPcap(maxPackets: number): Step {
    const c = this.counters;
    if (!this.headerDone) {
      // File header [draft-ietf-opsawg-pcap §4]: magic, major, minor, reserved1 (thiszone),
      // reserved2 (sigfigs), SnapLen, LinkType+FCS.
      if (!this.ensure(PCAP_HEADER_LEN)) return this.truncated();
      const b = this.buf;
      const p = this.pos;
      const snaplen = this.le ? b.readUInt32LE(p + 16) : b.readUInt32BE(p + 16);
      const ltField = this.le ? b.readUInt32LE(p + 20) : b.readUInt32BE(p + 20);
      // Bits 0-15 are the link type; bits 16-25 reserved; bit 26 = F (FCS length present) and
      // bits 28-31 the FCS length in 16-bit words [draft-ietf-opsawg-pcap §4, LinkType and
      // additional information]. libpcap masks the same way (LT_LINKTYPE()).
      this.classicLinkType = ltField & 0xffff;
      const fcsLengthBytes = (ltField & 0x04000000) !== 0 ? ((ltField >>> 28) & 0xf) * 2 : 0;
      // libpcap: a snaplen of 0 or above the maximum means "the maximum" (sf-pcap.c).
      this.classicSnaplen = snaplen === 0 || snaplen > MAX_CLASSIC_CAPLEN ? MAX_CLASSIC_CAPLEN : snaplen;
      this.interfaces.push({
        ifIndex: 0,
        section: 0,
        linkType: this.classicLinkType,
        snaplen,
        tsUnitsPerSecond: this.nsec ? 1e9 : 1e6,
        tsOffsetSeconds: 0,
        fcsLengthBytes,
      });
      this.pos += PCAP_HEADER_LEN;
      this.headerDone = true;
    }

    const le = this.le;
    const nsec = this.nsec;
    const snaplen = this.classicSnaplen;
    const linkType = this.classicLinkType;
    let delivered = 0;
    while (delivered < maxPackets) {
      if (this.end - this.pos < PCAP_RECORD_HEADER_LEN && !this.ensure(PCAP_RECORD_HEADER_LEN)) {
        return this.end === this.pos ? this.stop('eof') : this.truncated();
      }
      let b = this.buf;
      let p = this.pos;
      // Packet record header [draft-ietf-opsawg-pcap §5]: ts seconds, ts µs/ns, CapLen, OrigLen.
      // Byte arithmetic rather than Buffer#readUInt32LE: that call was not inlined here and cost
      // more than the rest of the loop (profile of the replay benchmark).
      const sec = le ? u32le(b, p) : u32be(b, p);
      const frac = le ? u32le(b, p + 4) : u32be(b, p + 4);
      const capLen = le ? u32le(b, p + 8) : u32be(b, p + 8);
      const wireLen = le ? u32le(b, p + 12) : u32be(b, p + 12);
      if (capLen > MAX_CLASSIC_CAPLEN) {
        // libpcap: "invalid packet capture length ..., bigger than maximum" and it gives up; there
        // is no resynchronisation marker in classic pcap, so neither can we.
        c.oversizedRecords++;
        return this.stop('oversized_record');
      }
      const recLen = PCAP_RECORD_HEADER_LEN + capLen;
      if (this.end - p < recLen) {
        if (!this.ensure(recLen)) return this.truncated();
        b = this.buf;
        p = this.pos;
      }
      // A record longer than the file's snaplen (but within the maximum) is what buggy writers
      // produce; libpcap delivers the first snaplen bytes and skips the rest, and so do we.
      let deliverLen = capLen;
      if (capLen > snaplen) {
        c.recordsOverSnaplen++;
        deliverLen = snaplen;
      }
      const tsUs = sec * 1e6 + (nsec ? Math.floor(frac / 1000) : frac);
      this.pos = p + recLen;
      delivered++;
      this.deliver(b, p + PCAP_RECORD_HEADER_LEN, deliverLen, wireLen, tsUs, linkType, 0);
    }
    return Step.More;
  }

  // ---- pcapng -------------------------------------------------------------------------------

  private runPcapng(maxPackets: number): Step {
    const c = this.counters;
    let delivered = 0;
    while (delivered < maxPackets) {
      // General block structure [pcapng §3.1]: Block Type, Block Total Length, body, Block Total
      // Length again. Lengths include the 12 bytes of framing and are multiples of 4.
      if (this.end - this.pos < 12 && !this.ensure(12)) {
        // Blocks are at least 12 bytes; anything shorter left at EOF is a cut block.
        return this.end === this.pos ? this.stop('eof') : this.truncated();
      }
      let b = this.buf;
      let p = this.pos;
      let type = this.le ? u32le(b, p) : u32be(b, p);
      if (type === BT_SHB) {
        // Section Header Block [pcapng §4.1]: each section declares its own byte order through
        // the byte-order magic right after the length; everything in the section, including this
        // block's own length fields, uses it.
        const bom = b.readUInt32LE(p + 8);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === BYTE_ORDER_MAGIC_SWAPPED) this.le = false;
        else {
          c.badBlocks++;
          return this.stop('bad_block');
        }
        type = BT_SHB;
      }
      const le = this.le;
      const totalLen = le ? u32le(b, p + 4) : u32be(b, p + 4);
      if (totalLen > MAX_PCAPNG_BLOCK) {
        c.oversizedRecords++;
        return this.stop('oversized_record');
      }
      if (totalLen < 12 || (totalLen & 3) !== 0 || totalLen < minBlockLength(type)) {
        c.badBlocks++;
        return this.stop('bad_block');
      }
      if (this.end - p < totalLen) {
        if (!this.ensure(totalLen)) return this.truncated();
        b = this.buf;
        p = this.pos;
      }
      const trailer = le ? u32le(b, p + totalLen - 4) : u32be(b, p + totalLen - 4);
      if (trailer !== totalLen) {
        c.badBlocks++;
        return this.stop('bad_block');
      }
      if (this.section < 0 && type !== BT_SHB) {
        // [pcapng §3.1] a file starts with a Section Header Block; detect() guarantees it.
        c.badBlocks++;
        return this.stop('bad_block');
      }

      switch (type) {
        case BT_EPB:
        case BT_PB: {
          // Enhanced Packet Block [pcapng §4.3]: Interface ID (32), Timestamp Upper, Timestamp
          // Lower, Captured Packet Length, Original Packet Length, data padded to 32 bits, options.
          // The obsolete Packet Block [pcapng Appendix A] has the same layout except that the
          // first word is Interface ID (16) + Drops Count (16).
          const ifId = type === BT_EPB
            ? (le ? u32le(b, p + 8) : u32be(b, p + 8))
            : (le ? b.readUInt16LE(p + 8) : b.readUInt16BE(p + 8));
          const high = le ? u32le(b, p + 12) : u32be(b, p + 12);
          const low = le ? u32le(b, p + 16) : u32be(b, p + 16);
          const capLen = le ? u32le(b, p + 20) : u32be(b, p + 20);
          const wireLen = le ? u32le(b, p + 24) : u32be(b, p + 24);
          if (capLen > totalLen - 32) {
            // The packet would run into the trailing length: the block is inconsistent.
            c.badBlocks++;
            return this.stop('bad_block');
          }
          this.pos = p + totalLen;
          const iface = this.sectionIfaces[ifId];
          if (iface === undefined) {
            c.badInterfaceIds++;
            break;
          }
          const tsUs = iface.tsUs(high, low);
          delivered++;
          this.deliver(b, p + 28, capLen, wireLen, tsUs, iface.linkType, iface.ifIndex);
          break;
        }
        case BT_SPB: {
          // Simple Packet Block [pcapng §4.4]: Original Packet Length then data. It belongs to the
          // first interface of the section; its captured length is not stored: it is the smaller
          // of the original length, the interface snaplen and the room in the block. It has no
          // timestamp: we pass the last timestamp seen in the file (0 before any) so the pipeline's
          // clock never runs backwards.
          const wireLen = le ? u32le(b, p + 8) : u32be(b, p + 8);
          this.pos = p + totalLen;
          const iface = this.sectionIfaces[0];
          if (iface === undefined) {
            c.badInterfaceIds++;
            break;
          }
          let capLen = totalLen - 16;
          if (wireLen < capLen) capLen = wireLen;
          if (iface.snaplen !== 0 && iface.snaplen < capLen) capLen = iface.snaplen;
          const tsUs = this.lastTsUs < 0 ? 0 : this.lastTsUs;
          delivered++;
          this.deliver(b, p + 12, capLen, wireLen, tsUs, iface.linkType, iface.ifIndex);
          break;
        }
        case BT_IDB:
          this.readIdb(b, p, totalLen);
          this.pos = p + totalLen;
          break;
        case BT_SHB:
          // New section: interface ids restart at 0 [pcapng §4.1]. Version and Section Length
          // are not needed to read sequentially (Section Length may be -1, "unknown").
          this.section++;
          this.sectionIfaces = [];
          this.pos = p + totalLen;
          break;
        default:
          // NRB, ISB, DSB, custom, journal and unknown block types: "a reader that does not
          // understand a block type MUST skip it" using Block Total Length [pcapng §3.1].
          c.unknownBlocksSkipped++;
          this.pos = p + totalLen;
          break;
      }
    }
    return Step.More;
  }

  /** Counts a packet every record format delivers the same way, then hands it to the callback. */
  private deliver(b: Buffer, offset: number, capLen: number, wireLen: number, tsUs: number, linkType: number, ifIndex: number): void {
    if (this.firstTsUs < 0) this.firstTsUs = tsUs;
    this.lastTsUs = tsUs;
    this.packets++;
    this.bytes += capLen;
    this.counters.packets++;
    this.counters.bytes += capLen;
    this.onPacket(b, offset, capLen, wireLen, tsUs, linkType, ifIndex);
  }

  /** Interface Description Block [pcapng §4.2]: LinkType (16), Reserved (16), SnapLen (32), options. */
  private readIdb(b: Buffer, p: number, totalLen: number): void {
    const le = this.le;
    const linkType = le ? b.readUInt16LE(p + 8) : b.readUInt16BE(p + 8);
    const snaplen = le ? b.readUInt32LE(p + 12) : b.readUInt32BE(p + 12);
    let tsresol = 6; // default 10^-6 when if_tsresol is absent [pcapng §4.2]
    let tsOffset = 0;
    // Options [pcapng §3.5]: code (16), length (16), value padded to 32 bits; opt_endofopt ends.
    let o = p + 16;
    const optEnd = p + totalLen - 4;
    while (o + 4 <= optEnd) {
      const code = le ? b.readUInt16LE(o) : b.readUInt16BE(o);
      const len = le ? b.readUInt16LE(o + 2) : b.readUInt16BE(o + 2);
      if (code === OPT_ENDOFOPT) break;
      const v = o + 4;
      if (v + len > optEnd) {
        this.counters.badOptions++;
        break;
      }
      if (code === IF_TSRESOL && len >= 1) {
        tsresol = b.readUInt8(v);
      } else if (code === IF_TSOFFSET && len >= 8) {
        // Signed 64-bit seconds; per-IDB, so the BigInt is not a per-packet allocation.
        tsOffset = Number(le ? b.readBigInt64LE(v) : b.readBigInt64BE(v));
      }
      o = v + ((len + 3) & ~3);
    }
    const iface = makeIface(this.nextIfIndex++, this.section, linkType, snaplen, tsresol, tsOffset);
    this.sectionIfaces.push(iface);
    this.interfaces.push(iface.describe());
  }

  summary(): CaptureFileSummary {
    return {
      path: this.path,
      format: this.format === Format.Pcap ? 'pcap' : 'pcapng',
      packets: this.packets,
      bytes: this.bytes,
      interfaces: this.interfaces,
      firstTsUs: this.packets > 0 ? this.firstTsUs : null,
      lastTsUs: this.packets > 0 ? this.lastTsUs : null,
      stopReason: this.stopReason,
      bytesConsumed: this.bytesConsumed,
    };
  }
}

/** Minimum Block Total Length per type, so fixed fields can be read without further checks. */
function minBlockLength(type: number): number {
  switch (type) {
    case BT_SHB:
      return 28; // type, len, BOM, major, minor, section length (8), len
    case BT_IDB:
      return 20; // type, len, linktype+reserved, snaplen, len
    case BT_EPB:
    case BT_PB:
      return 32; // type, len, if, ts hi, ts lo, caplen, origlen, len
    case BT_SPB:
      return 16; // type, len, origlen, len
    default:
      return 12;
  }
}

function bufferSize(options: CaptureFileOptions | undefined): number {
  const n = options?.bufferSizeBytes;
  if (n === undefined || !Number.isFinite(n)) return DEFAULT_BUFFER_BYTES;
  return Math.max(MIN_BUFFER_BYTES, Math.floor(n));
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/**
 * Reads a whole pcap/pcapng file synchronously, calling onPacket for each packet.
 * Throws CaptureFileError only for NOT_FOUND / UNREADABLE / NOT_A_CAPTURE; malformed content is
 * counted in `counters` and ends the file (see summary.stopReason). Exceptions thrown by onPacket
 * propagate (the file is closed first).
 */
export function readCaptureFile(
  path: string,
  onPacket: PacketCallback,
  counters: CaptureFileCounters,
  options?: CaptureFileOptions,
): CaptureFileSummary {
  const reader = new CaptureFileReader(path, onPacket, counters, bufferSize(options));
  const onProgress = options?.onProgress;
  // Without a progress callback one run to the end; with one, runs of a batch of packets (the
  // reader resumes exactly where it stopped, as readCaptureFileAsync relies on).
  const batch = onProgress === undefined ? 0x7fffffff : Math.max(1, Math.floor(options?.progressEveryPackets ?? 8192));
  try {
    reader.detect();
    while (reader.run(batch) !== Step.Done) {
      onProgress?.(reader.bytesConsumed);
    }
    onProgress?.(reader.bytesConsumed);
    return reader.summary();
  } finally {
    reader.close();
  }
}

/**
 * Same as readCaptureFile, but yields to the event loop every `yieldEveryPackets` packets so
 * timers, the API server and signal handlers keep running while a large file is replayed.
 */
export async function readCaptureFileAsync(
  path: string,
  onPacket: PacketCallback,
  counters: CaptureFileCounters,
  options?: CaptureFileAsyncOptions,
): Promise<CaptureFileSummary> {
  const batch = Math.max(1, Math.floor(options?.yieldEveryPackets ?? 50_000));
  const signal = options?.signal;
  const reader = new CaptureFileReader(path, onPacket, counters, bufferSize(options));
  try {
    reader.detect();
    while (reader.run(batch) !== Step.Done) {
      await yieldToEventLoop();
      if (signal?.aborted === true) {
        reader.stopReason = 'aborted';
        break;
      }
    }
    return reader.summary();
  } finally {
    reader.close();
  }
}
