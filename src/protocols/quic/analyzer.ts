/**
 * Per-flow QUIC state: feeds client datagrams through ./initial.ts and reassembles the Initial
 * CRYPTO stream (RFC 9000 §19.6: CRYPTO data arrives at arbitrary offsets, possibly out of order,
 * split across several Initial packets and retransmitted) until it holds one complete TLS
 * Handshake message (RFC 8446 §4: msg_type (1), length (3), body) — the ClientHello
 * (RFC 9001 §4.3: the client's first flight is a ClientHello in Initial packets).
 *
 * Bounded: at most `quicCryptoMaxBytes` of stream kept, at most `quicMaxInitialPackets`
 * Initials opened and `quicMaxDatagrams` datagrams looked at per flow. First copy of any byte
 * wins (a retransmission that differs is counted `quic.crypto_conflict`).
 */
import { ParseStatus } from '../parse-status.js';
import { quicVersionName } from './constants.js';
import { QuicCounters, quicLimits, type QuicLimits } from './counters.js';
import { parseDatagram, QuicDatagramInfo, type CryptoChunk } from './initial.js';
import { InitialKeyCache } from './keys.js';

/** TLS HandshakeType client_hello (RFC 8446 §4). */
export const TLS_HANDSHAKE_CLIENT_HELLO = 1;
/** gQUIC Q050 carries a CHLO tag message ("CHLO", little-endian tag) instead of TLS. */
const GQUIC_CHLO_TAG = 0x4f4c4843;

export interface QuicFlowResult {
  version?: number;
  versionName?: string;
  /** Contiguous CRYPTO stream from offset 0 (the TLS handshake bytes); a view, do not modify. */
  cryptoStream?: Buffer;
}

export class QuicFlowState {
  /** No more datagrams are useful: ClientHello complete, or given up (see counters). */
  done = false;
  /** The contiguous stream holds a complete first handshake message of type ClientHello. */
  clientHelloComplete = false;
  /** False for gQUIC Q050, whose CRYPTO stream is a gQUIC CHLO, not TLS. */
  tls = true;
  readonly result: QuicFlowResult = {};
  /** Initial packets opened / datagrams seen so far in this flow. */
  initialPackets = 0;
  datagrams = 0;

  private readonly limits: QuicLimits;
  private readonly keys = new InitialKeyCache();
  private readonly dgram = new QuicDatagramInfo();
  private largestPn = -1;
  /** Reassembly buffer, grown on demand up to quicCryptoMaxBytes. */
  private buf: Buffer = Buffer.alloc(0);
  /** Received byte ranges [start, end), sorted and merged. */
  private ranges: number[] = [];
  /** Length of the contiguous prefix. */
  private contiguous = 0;

  constructor(private readonly counters: QuicCounters, limits?: Partial<QuicLimits>) {
    this.limits = quicLimits(limits);
  }

  /** Feeds one client-to-server UDP payload buf[off, off + len). Never throws. */
  onClientDatagram(buf: Buffer, off: number, len: number): void {
    if (this.done) return;
    const c = this.counters;
    this.datagrams++;
    const end = off + len;
    const d = this.dgram;
    const st = parseDatagram(buf, off, end, d, c, this.keys, this.largestPn);
    if (d.version !== -1 && d.version !== 0) {
      if (this.result.version !== undefined && this.result.version !== d.version && d.versionInfo !== undefined) {
        // A new attempt after Version Negotiation (RFC 9000 §6.2): start the stream over.
        c.versionChanged++;
        this.resetStream();
      }
      if (this.result.version === undefined || d.versionInfo !== undefined) {
        this.result.version = d.version;
        this.result.versionName = quicVersionName(d.version);
        this.tls = d.versionInfo?.tls ?? true;
      }
    }
    if (d.decryptedInitials > 0) {
      this.initialPackets += d.decryptedInitials;
      if (d.largestPn > this.largestPn) this.largestPn = d.largestPn;
      for (const chunk of d.crypto) this.insert(chunk);
      this.checkComplete();
      if (this.done) return;
    } else if (st === ParseStatus.OK && d.versionInfo === undefined && d.longPackets > 0 && d.version !== 0 &&
      this.initialPackets === 0) {
      // Only undecryptable versions so far: nothing more to learn from this flow.
      this.done = true;
      return;
    }
    if (this.initialPackets >= this.limits.quicMaxInitialPackets || this.datagrams >= this.limits.quicMaxDatagrams) {
      c.flowLimitReached++;
      this.done = true;
    }
  }

  private resetStream(): void {
    this.ranges = [];
    this.contiguous = 0;
    this.largestPn = -1;
    this.initialPackets = 0;
    delete this.result.cryptoStream;
  }

  private insert(chunk: CryptoChunk): void {
    const max = this.limits.quicCryptoMaxBytes;
    const start = chunk.offset;
    let data = chunk.data;
    if (start >= max) { this.counters.cryptoOutOfWindow++; return; }
    if (start + data.length > max) {
      this.counters.cryptoOutOfWindow++;
      data = data.subarray(0, max - start);
    }
    const stop = start + data.length;
    if (stop > this.buf.length) {
      // Grow geometrically, capped at the limit.
      const next = Buffer.alloc(Math.min(max, Math.max(stop, this.buf.length * 2, 2048)));
      this.buf.copy(next, 0, 0, this.buf.length);
      this.buf = next;
    }
    // Write only the gaps (first copy wins); compare the overlaps.
    const r = this.ranges;
    let pos = start;
    for (let i = 0; i < r.length && pos < stop; i += 2) {
      const rs = r[i] as number;
      const re = r[i + 1] as number;
      if (re <= pos) continue;
      if (rs >= stop) break;
      if (rs > pos) {
        data.copy(this.buf, pos, pos - start, rs - start);
        pos = rs;
      }
      const ovEnd = Math.min(re, stop);
      if (this.buf.compare(data, pos - start, ovEnd - start, pos, ovEnd) !== 0) this.counters.cryptoConflict++;
      pos = ovEnd;
    }
    if (pos < stop) data.copy(this.buf, pos, pos - start, stop - start);
    this.addRange(start, stop);
  }

  private addRange(s: number, e: number): void {
    const r = this.ranges;
    const merged: number[] = [];
    let placed = false;
    for (let i = 0; i < r.length; i += 2) {
      const rs = r[i] as number;
      const re = r[i + 1] as number;
      if (re < s) { merged.push(rs, re); continue; }
      if (rs > e) {
        if (!placed) { merged.push(s, e); placed = true; }
        merged.push(rs, re);
        continue;
      }
      s = Math.min(s, rs);
      e = Math.max(e, re);
    }
    if (!placed) merged.push(s, e);
    this.ranges = merged;
    this.contiguous = merged[0] === 0 ? (merged[1] as number) : 0;
  }

  private checkComplete(): void {
    const n = this.contiguous;
    if (n === 0) return;
    const b = this.buf;
    this.result.cryptoStream = b.subarray(0, n);
    if (!this.tls) {
      this.checkGquicChlo(n);
      return;
    }
    if (b[0] !== TLS_HANDSHAKE_CLIENT_HELLO) {
      this.counters.notClientHello++;
      this.done = true;
      return;
    }
    if (n < 4) return;
    const need = 4 + (((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number));
    if (need > this.limits.quicCryptoMaxBytes) {
      this.counters.clientHelloTooLarge++;
      this.done = true;
      return;
    }
    if (n >= need) {
      this.clientHelloComplete = true;
      this.counters.clientHelloComplete++;
      this.done = true;
    }
  }

  /**
   * gQUIC handshake message (QUIC Crypto, "Handshake Message Format"): tag (4), number of
   * entries (u16 LE), padding (2), entries × (tag (4), end offset (u32 LE)), values.
   */
  private checkGquicChlo(n: number): void {
    const b = this.buf;
    if (n < 4) return;
    if (b.readUInt32LE(0) !== GQUIC_CHLO_TAG) {
      this.counters.notClientHello++;
      this.done = true;
      return;
    }
    if (n < 8) return;
    const entries = b.readUInt16LE(4);
    const headerLen = 8 + entries * 8;
    if (headerLen > this.limits.quicCryptoMaxBytes) { this.counters.clientHelloTooLarge++; this.done = true; return; }
    if (n < headerLen) return;
    const valuesLen = entries === 0 ? 0 : b.readUInt32LE(headerLen - 4);
    const need = headerLen + valuesLen;
    if (need > this.limits.quicCryptoMaxBytes) { this.counters.clientHelloTooLarge++; this.done = true; return; }
    if (n >= need) {
      this.clientHelloComplete = true;
      this.counters.clientHelloComplete++;
      this.done = true;
    }
  }
}
