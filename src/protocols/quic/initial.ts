/**
 * QUIC long-header parsing and client Initial decryption.
 *
 * A UDP datagram holds one or more coalesced QUIC packets (RFC 9000 §12.2); every long-header
 * packet but Retry and Version Negotiation carries a Length field, so the next packet starts
 * right after it. A short-header packet (1-RTT) can only be last and runs to the end. Bytes of
 * zero after the last packet are padding outside any packet (seen in the wild; counted).
 *
 * For each client Initial (RFC 9000 §17.2.2) of a version we know (./constants.ts):
 *   1. keys from the Destination Connection ID (RFC 9001 §5.2, ./keys.ts);
 *   2. header protection removed (RFC 9001 §5.4.1–§5.4.3: AES-128-ECB over the 16-byte sample
 *      taken 4 bytes after the start of the Packet Number field);
 *   3. packet number recovered (RFC 9000 §17.1, Appendix A.3);
 *   4. payload opened with AEAD_AES_128_GCM (RFC 9001 §5.3: nonce = iv XOR packet number,
 *      associated data = the unprotected header);
 *   5. frames walked (RFC 9000 §19; only those §12.4 Table 3 allows in Initials) and CRYPTO data
 *      collected as (offset, bytes) chunks. Reassembly is the caller's job (./analyzer.ts).
 *
 * Nothing here throws: node:crypto failures are caught and counted; every length is checked
 * against the datagram before use.
 */
import { createDecipheriv } from 'node:crypto';
import { ParseStatus } from '../parse-status.js';
import {
  AEAD_TAG_LENGTH,
  FRAME_ACK,
  FRAME_ACK_ECN,
  FRAME_CONNECTION_CLOSE,
  FRAME_CRYPTO,
  FRAME_PADDING,
  FRAME_PING,
  FrameSyntax,
  GQUIC_FRAME_CRYPTO,
  GQUIC_FRAME_PADDING,
  GQUIC_FRAME_PING,
  HP_SAMPLE_LENGTH,
  HP_SAMPLE_OFFSET,
  LongType,
  MAX_CID_LENGTH,
  MAX_VARINT,
  quicVersionInfo,
  type QuicVersionInfo,
} from './constants.js';
import type { QuicCounters } from './counters.js';
import { InitialKeyCache, type InitialKeys } from './keys.js';

// ---------------------------------------------------------------------------------------------
// Variable-length integers (RFC 9000 §16)
// ---------------------------------------------------------------------------------------------

/** Encoded length of the varint at `off`, or 0 when it does not fit before `end`. */
export function varintLength(buf: Uint8Array, off: number, end: number): number {
  if (off >= end) return 0;
  const n = 1 << ((buf[off] as number) >> 6);
  return off + n <= end ? n : 0;
}

/**
 * Value of the `n`-byte varint at `off` (n from varintLength). Exact up to 2^53; larger values
 * (only possible in 8-byte form) round, which is harmless: every use compares them against a
 * bound far below 2^53.
 */
export function readVarint(buf: Uint8Array, off: number, n: number): number {
  let v = (buf[off] as number) & 0x3f;
  for (let i = 1; i < n; i++) v = v * 256 + (buf[off + i] as number);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Long header (RFC 9000 §17.2; invariants RFC 8999 §5.1)
// ---------------------------------------------------------------------------------------------

/** A parsed long header; offsets are absolute in the datagram buffer. Reusable. */
export class LongHeader {
  start = 0;
  /** First byte as on the wire (still header-protected for Initial/0-RTT/Handshake). */
  first = 0;
  version = 0;
  info: QuicVersionInfo | undefined = undefined;
  /** Logical type (LongType) or -1 for Version Negotiation / unknown versions. */
  type = -1;
  dcidOff = 0;
  dcidLen = 0;
  scidOff = 0;
  scidLen = 0;
  tokenOff = 0;
  tokenLen = 0;
  /** Start of the (protected) Packet Number field. */
  pnOff = 0;
  /** End of this packet (exclusive): pnOff + Length, or the datagram end. */
  end = 0;
}

/**
 * Parses the long header at `off`. NOT_MINE when the header-form bit is clear, MALFORMED (and a
 * counter) when a field runs past `end` or a connection ID is too long for a known version.
 * Version Negotiation and unknown versions parse only the invariant part and run to `end`.
 */
export function parseLongHeader(buf: Buffer, off: number, end: number, hdr: LongHeader, c: QuicCounters): ParseStatus {
  if (off >= end) { c.headerTruncated++; return ParseStatus.MALFORMED; }
  const first = buf[off] as number;
  if ((first & 0x80) === 0) return ParseStatus.NOT_MINE;
  // first byte, version (4), DCID length (1) at least
  if (off + 6 > end) { c.headerTruncated++; return ParseStatus.MALFORMED; }
  const version = buf.readUInt32BE(off + 1);
  const info = version === 0 ? undefined : quicVersionInfo(version);
  let p = off + 5;
  const dcidLen = buf[p++] as number;
  if (p + dcidLen + 1 > end) { c.headerTruncated++; return ParseStatus.MALFORMED; }
  const dcidOff = p;
  p += dcidLen;
  const scidLen = buf[p++] as number;
  if (p + scidLen > end) { c.headerTruncated++; return ParseStatus.MALFORMED; }
  const scidOff = p;
  p += scidLen;
  // RFC 9000 §17.2: in version 1 (and the versions derived from it) CIDs are at most 20 bytes;
  // RFC 8999 §5.1 lets other versions use up to 255, so we only enforce it where we know.
  if (info !== undefined && (dcidLen > MAX_CID_LENGTH || scidLen > MAX_CID_LENGTH)) {
    c.cidTooLong++;
    return ParseStatus.MALFORMED;
  }
  hdr.start = off;
  hdr.first = first;
  hdr.version = version;
  hdr.info = info;
  hdr.dcidOff = dcidOff;
  hdr.dcidLen = dcidLen;
  hdr.scidOff = scidOff;
  hdr.scidLen = scidLen;
  hdr.tokenOff = p;
  hdr.tokenLen = 0;
  hdr.pnOff = p;
  hdr.end = end;
  hdr.type = -1;
  if (info === undefined) return ParseStatus.OK; // VN (§17.2.1) or unknown: rest is opaque
  const type = info.wireTypes.indexOf((first >> 4) & 0x03);
  hdr.type = type;
  if (type === LongType.RETRY) return ParseStatus.OK; // §17.2.5: no Length; runs to the end
  if (type === LongType.INITIAL) {
    // §17.2.2: Token Length (i), Token (..)
    const n = varintLength(buf, p, end);
    if (n === 0) { c.headerTruncated++; return ParseStatus.MALFORMED; }
    const tokenLen = readVarint(buf, p, n);
    p += n;
    if (tokenLen > end - p) { c.headerTruncated++; return ParseStatus.MALFORMED; }
    hdr.tokenOff = p;
    hdr.tokenLen = tokenLen;
    p += tokenLen;
  }
  // Length (i): Packet Number + Packet Payload
  const n = varintLength(buf, p, end);
  if (n === 0) { c.headerTruncated++; return ParseStatus.MALFORMED; }
  const length = readVarint(buf, p, n);
  p += n;
  if (length > end - p) { c.headerTruncated++; return ParseStatus.MALFORMED; }
  hdr.pnOff = p;
  hdr.end = p + length;
  return ParseStatus.OK;
}

/** RFC 9000 Appendix A.3: full packet number from the truncated one and the largest seen. */
export function decodePacketNumber(largestPn: number, truncatedPn: number, pnNbits: number): number {
  const expected = largestPn + 1;
  const win = 2 ** pnNbits;
  const hwin = win / 2;
  const candidate = expected - (expected % win) + truncatedPn;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

// ---------------------------------------------------------------------------------------------
// Initial decryption (RFC 9001 §5.3, §5.4)
// ---------------------------------------------------------------------------------------------

/** Result of opening one Initial. Reusable. */
export class OpenedPacket {
  /** Unprotected first byte. */
  first = 0;
  packetNumber = 0;
  pnLength = 0;
  plaintext: Buffer = Buffer.alloc(0);
}

/**
 * Removes header protection and opens the payload of the Initial described by `hdr`.
 * OK with `out` filled; MALFORMED (counted) when too short or authentication fails.
 */
export function openInitial(
  buf: Buffer, hdr: LongHeader, keys: InitialKeys, largestPn: number, out: OpenedPacket, c: QuicCounters,
  countFailure = true,
): ParseStatus {
  const pnOff = hdr.pnOff;
  // §5.4.2: the sample starts 4 bytes after the PN offset, whatever the PN length; and the
  // payload must still leave room for the AEAD tag.
  const sampleOff = pnOff + HP_SAMPLE_OFFSET;
  if (sampleOff + HP_SAMPLE_LENGTH > hdr.end) { c.initialTooShort++; return ParseStatus.MALFORMED; }
  try {
    const mask = keys.hpCipher.update(buf.subarray(sampleOff, sampleOff + HP_SAMPLE_LENGTH));
    if (mask.length < 5) { c.initialDecryptFailed++; return ParseStatus.MALFORMED; }
    // §5.4.1: long header → low 4 bits of the first byte are protected.
    const first = (hdr.first ^ ((mask[0] as number) & 0x0f)) & 0xff;
    const pnLen = (first & 0x03) + 1;
    const pnEnd = pnOff + pnLen;
    // pnLen ≤ 4 and the sample check above guarantee pnEnd + 16 ≤ hdr.end.
    const aad = Buffer.from(buf.subarray(hdr.start, pnEnd));
    aad[0] = first;
    let truncated = 0;
    for (let i = 0; i < pnLen; i++) {
      const b = ((buf[pnOff + i] as number) ^ (mask[1 + i] as number)) & 0xff;
      aad[pnOff - hdr.start + i] = b;
      truncated = truncated * 256 + b;
    }
    const pn = decodePacketNumber(largestPn, truncated, pnLen * 8);
    // §5.3: nonce = iv XOR (packet number left-padded to the IV length).
    const nonce = Buffer.from(keys.iv);
    let x = pn;
    for (let i = nonce.length - 1; i >= 0 && x > 0; i--) {
      nonce[i] = ((nonce[i] as number) ^ (x % 256)) & 0xff;
      x = Math.floor(x / 256);
    }
    const tagOff = hdr.end - AEAD_TAG_LENGTH;
    const decipher = createDecipheriv('aes-128-gcm', keys.key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(buf.subarray(tagOff, hdr.end));
    const head = decipher.update(buf.subarray(pnEnd, tagOff));
    const tail = decipher.final(); // throws when the tag does not verify
    out.first = first;
    out.packetNumber = pn;
    out.pnLength = pnLen;
    out.plaintext = tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    if (countFailure) c.initialDecryptFailed++;
    return ParseStatus.MALFORMED;
  }
  return ParseStatus.OK;
}

// ---------------------------------------------------------------------------------------------
// Frames (RFC 9000 §19) in a decrypted Initial
// ---------------------------------------------------------------------------------------------

export interface CryptoChunk {
  /** Offset in the Initial CRYPTO stream (RFC 9000 §19.6). */
  offset: number;
  data: Buffer;
}

/** Skips `count` varints at `p`; returns the new offset or -1 when truncated. */
function skipVarints(buf: Uint8Array, p: number, end: number, count: number): number {
  for (let i = 0; i < count; i++) {
    const n = varintLength(buf, p, end);
    if (n === 0) return -1;
    p += n;
  }
  return p;
}

/**
 * Walks the frames of a decrypted Initial payload [off, end), appending CRYPTO data to
 * `crypto`. Returns OK, or MALFORMED when a frame is truncated or not allowed in an Initial
 * (RFC 9000 §12.4 Table 3) — chunks found before that point are kept.
 * `close` receives the error code of a CONNECTION_CLOSE, if any.
 */
export function parseInitialFrames(
  plain: Buffer, off: number, end: number, syntax: FrameSyntax, crypto: CryptoChunk[], c: QuicCounters,
  close?: (code: number) => void,
): ParseStatus {
  return syntax === FrameSyntax.GQUIC
    ? parseGquicFrames(plain, off, end, crypto, c)
    : parseIetfFrames(plain, off, end, crypto, c, close);
}

function parseIetfFrames(
  plain: Buffer, off: number, end: number, crypto: CryptoChunk[], c: QuicCounters, close?: (code: number) => void,
): ParseStatus {
  let p = off;
  while (p < end) {
    // §12.4: frame types are varints, but every type allowed in an Initial is < 0x40 and must be
    // minimally encoded, so a first byte ≥ 0x40 is never allowed here.
    const type = plain[p] as number;
    switch (type) {
      case FRAME_PADDING: // §19.1
        p++;
        while (p < end && plain[p] === 0) p++;
        break;
      case FRAME_PING: // §19.2
        p++;
        break;
      case FRAME_ACK:
      case FRAME_ACK_ECN: { // §19.3: Largest, Delay, Range Count, First Range, ranges, [ECN]
        let q = skipVarints(plain, p + 1, end, 2);
        if (q < 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        const n = varintLength(plain, q, end);
        if (n === 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        const rangeCount = readVarint(plain, q, n);
        q += n;
        q = skipVarints(plain, q, end, 1); // First ACK Range
        // §19.3.1: each range is Gap + ACK Range Length (≥ 2 bytes), so the loop ends by the
        // time the payload is exhausted whatever Range Count claims.
        for (let i = 0; q >= 0 && i < rangeCount; i++) q = skipVarints(plain, q, end, 2);
        if (q >= 0 && type === FRAME_ACK_ECN) q = skipVarints(plain, q, end, 3); // §19.3.2
        if (q < 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        p = q;
        break;
      }
      case FRAME_CRYPTO: { // §19.6: Offset (i), Length (i), Crypto Data
        let q = p + 1;
        const n1 = varintLength(plain, q, end);
        if (n1 === 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        const offset = readVarint(plain, q, n1);
        q += n1;
        const n2 = varintLength(plain, q, end);
        if (n2 === 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        const length = readVarint(plain, q, n2);
        q += n2;
        // §19.6: offset + length must not exceed 2^62 - 1 (FRAME_ENCODING_ERROR).
        if (length > end - q || offset + length > MAX_VARINT) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        if (length > 0) crypto.push({ offset, data: plain.subarray(q, q + length) });
        c.cryptoFrames++;
        c.cryptoBytes += length;
        p = q + length;
        break;
      }
      case FRAME_CONNECTION_CLOSE: { // §19.19: Error Code, Frame Type, Reason Phrase Length, Reason
        let q = p + 1;
        const n = varintLength(plain, q, end);
        if (n === 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        const code = readVarint(plain, q, n);
        q = skipVarints(plain, q + n, end, 1);
        const nr = q < 0 ? 0 : varintLength(plain, q, end);
        if (nr === 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        const reasonLen = readVarint(plain, q, nr);
        q += nr;
        if (reasonLen > end - q) { c.frameMalformed++; return ParseStatus.MALFORMED; }
        c.connectionClose++;
        if (close !== undefined) close(code);
        p = q + reasonLen;
        break;
      }
      default:
        // Includes 0x1d (application CONNECTION_CLOSE, §12.5: only in 0-RTT/1-RTT packets).
        c.frameUnexpected++;
        return ParseStatus.MALFORMED;
    }
  }
  return ParseStatus.OK;
}

/**
 * Google QUIC Q050/T050/T051 Initials keep gQUIC frame types (Chromium quic_framer; nDPI
 * get_crypto_data()): PADDING 0x00, PING 0x07, CRYPTO 0x08 with varint offset and length.
 * Anything else ends the walk.
 */
function parseGquicFrames(plain: Buffer, off: number, end: number, crypto: CryptoChunk[], c: QuicCounters): ParseStatus {
  let p = off;
  while (p < end) {
    const type = plain[p] as number;
    if (type === GQUIC_FRAME_PADDING) {
      p++;
      while (p < end && plain[p] === 0) p++;
    } else if (type === GQUIC_FRAME_PING) {
      p++;
    } else if (type === GQUIC_FRAME_CRYPTO) {
      let q = p + 1;
      const n1 = varintLength(plain, q, end);
      if (n1 === 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
      const offset = readVarint(plain, q, n1);
      q += n1;
      const n2 = varintLength(plain, q, end);
      if (n2 === 0) { c.frameMalformed++; return ParseStatus.MALFORMED; }
      const length = readVarint(plain, q, n2);
      q += n2;
      if (length > end - q || offset + length > MAX_VARINT) { c.frameMalformed++; return ParseStatus.MALFORMED; }
      if (length > 0) crypto.push({ offset, data: plain.subarray(q, q + length) });
      c.cryptoFrames++;
      c.cryptoBytes += length;
      p = q + length;
    } else {
      c.frameUnexpected++;
      return ParseStatus.MALFORMED;
    }
  }
  return ParseStatus.OK;
}

// ---------------------------------------------------------------------------------------------
// Datagram
// ---------------------------------------------------------------------------------------------

/** What one client datagram yielded. Reused across calls; parseDatagram() resets it. */
export class QuicDatagramInfo {
  /** Version of the first long-header packet, or -1. */
  version = -1;
  /** Table entry for `version`, undefined when not decryptable (unknown, VN). */
  versionInfo: QuicVersionInfo | undefined = undefined;
  /** DCID / SCID of the first packet (copies). */
  dcid: Buffer | undefined = undefined;
  scid: Buffer | undefined = undefined;
  /** Long-header packets parsed in this datagram. */
  longPackets = 0;
  /** Client Initial packets seen / opened. */
  initialPackets = 0;
  decryptedInitials = 0;
  /** Largest Initial packet number opened (or the value passed in). */
  largestPn = -1;
  /** CRYPTO frame data, in the order found. */
  crypto: CryptoChunk[] = [];
  /** Error code of a CONNECTION_CLOSE in an Initial, or -1. */
  connectionCloseCode = -1;

  reset(largestPn: number): void {
    this.version = -1;
    this.versionInfo = undefined;
    this.dcid = undefined;
    this.scid = undefined;
    this.longPackets = 0;
    this.initialPackets = 0;
    this.decryptedInitials = 0;
    this.largestPn = largestPn;
    this.crypto = [];
    this.connectionCloseCode = -1;
  }
}

/**
 * Parses every coalesced packet of the UDP payload buf[offset, end) and opens the client
 * Initials among them. Returns
 *  - NOT_MINE  when the datagram does not start with a long header (short header / not QUIC);
 *  - MALFORMED when some part was malformed, truncated or failed to decrypt (`out` still holds
 *    everything gathered before and after it, where the packet boundaries allowed);
 *  - OK        otherwise, including versions we cannot decrypt (out.versionInfo undefined).
 * `keys` caches the derived keys (pass one per flow); `largestPn` is the largest client Initial
 * packet number opened so far in this flow (RFC 9000 §17.1), -1 when none.
 */
export function parseDatagram(
  buf: Buffer, offset: number, end: number, out: QuicDatagramInfo, c: QuicCounters,
  keys: InitialKeyCache = new InitialKeyCache(), largestPn = -1,
): ParseStatus {
  out.reset(largestPn);
  c.datagrams++;
  if (!(offset >= 0 && end <= buf.length && offset < end)) {
    c.headerTruncated++;
    return ParseStatus.MALFORMED;
  }
  if (((buf[offset] as number) & 0x80) === 0) { c.notLongHeader++; return ParseStatus.NOT_MINE; }
  let status = ParseStatus.OK;
  const hdr = new LongHeader();
  const opened = new OpenedPacket();
  const onClose = (code: number): void => { out.connectionCloseCode = code; };
  let p = offset;
  while (p < end) {
    const b0 = buf[p] as number;
    if (out.longPackets > 0) {
      if (b0 === 0) { c.trailingPadding++; break; } // zeros after the last packet
      if ((b0 & 0x80) === 0) { c.coalescedShortHeader++; break; } // §12.2: 1-RTT runs to the end
    }
    const st = parseLongHeader(buf, p, end, hdr, c);
    if (st !== ParseStatus.OK) { status = ParseStatus.MALFORMED; break; }
    c.longPackets++;
    out.longPackets++;
    if (out.longPackets === 1) {
      out.version = hdr.version;
      out.versionInfo = hdr.info;
      out.dcid = Buffer.from(buf.subarray(hdr.dcidOff, hdr.dcidOff + hdr.dcidLen));
      out.scid = Buffer.from(buf.subarray(hdr.scidOff, hdr.scidOff + hdr.scidLen));
    } else if (
      hdr.dcidLen !== (out.dcid as Buffer).length ||
      buf.compare(out.dcid as Buffer, 0, hdr.dcidLen, hdr.dcidOff, hdr.dcidOff + hdr.dcidLen) !== 0
    ) {
      // §12.2: receivers SHOULD ignore coalesced packets with a different DCID.
      c.coalescedDcidMismatch++;
      p = hdr.end;
      continue;
    }
    const info = hdr.info;
    if (info === undefined) {
      if (hdr.version === 0) c.versionNegotiation++;
      else c.unsupportedVersion++;
      break; // the rest of the datagram is opaque to us
    }
    if (hdr.type === LongType.RETRY) { c.retryPackets++; break; }
    if (hdr.type !== LongType.INITIAL) {
      c.otherLongPackets++;
      p = hdr.end;
      continue;
    }
    c.initialPackets++;
    out.initialPackets++;
    const k = keys.get(info, buf, hdr.dcidOff, hdr.dcidLen);
    const original = keys.original;
    const fallback = original !== undefined && original !== k;
    let opening = openInitial(buf, hdr, k, out.largestPn, opened, c, !fallback);
    // A later Initial with a new DCID is still protected with the first Initial's keys.
    if (opening !== ParseStatus.OK && fallback) opening = openInitial(buf, hdr, original, out.largestPn, opened, c);
    if (opening !== ParseStatus.OK) {
      status = ParseStatus.MALFORMED;
      p = hdr.end;
      continue;
    }
    c.initialDecrypted++;
    out.decryptedInitials++;
    if (opened.packetNumber > out.largestPn) out.largestPn = opened.packetNumber;
    // RFC 9000 §17.2: reserved bits must be 0 after header protection is removed.
    if ((opened.first & 0x0c) !== 0) c.reservedBitsSet++;
    const plain = opened.plaintext;
    if (parseInitialFrames(plain, 0, plain.length, info.frames, out.crypto, c, onClose) !== ParseStatus.OK) {
      status = ParseStatus.MALFORMED;
    }
    p = hdr.end;
  }
  return status;
}
