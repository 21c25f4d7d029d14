/**
 * Server flight parser: the ServerHello (RFC 8446 §4.1.3; RFC 5246 §7.4.1.3) and, for TLS <= 1.2,
 * the Certificate message that follows it (RFC 5246 §7.4.2), of which only the leaf (first)
 * certificate's names are read. In TLS 1.3 everything after the ServerHello is encrypted.
 *
 *   struct {
 *     ProtocolVersion legacy_version;        // 2
 *     Random random;                          // 32 (HelloRetryRequest uses a fixed value)
 *     opaque legacy_session_id_echo<0..32>;
 *     CipherSuite cipher_suite;               // 2
 *     uint8 legacy_compression_method;        // 1
 *     Extension extensions<6..2^16-1>;        // optional before TLS 1.3
 *   } ServerHello;
 *
 *   opaque ASN.1Cert<1..2^24-1>;
 *   struct { ASN.1Cert certificate_list<0..2^24-1>; } Certificate;   // RFC 5246 §7.4.2
 */
import { ParseStatus } from '../parse-status.js';
import {
  EXT_ALPN, EXT_SUPPORTED_VERSIONS, HS_CERTIFICATE, HS_SERVER_HELLO, MAX_CERTIFICATE_LENGTH,
  MAX_EXTENSIONS, MAX_HANDSHAKE_LENGTH, TlsError, VERSION_TLS12,
} from './constants.js';
import { HandshakeReader } from './records.js';
import { CertificateNames, parseCertificateNames } from './x509-names.js';

/** Random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3). */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

export class ServerFlight {
  /** The ServerHello was parsed (its fields below are valid even if the status is not OK). */
  serverHello = false;
  legacyVersion = 0;
  /** supported_versions selected_version when present (RFC 8446 §4.2.1), else legacy_version. */
  selectedVersion = 0;
  cipherSuite = 0;
  compressionMethod = 0;
  sessionIdLength = 0;
  helloRetryRequest = false;
  /** ALPN selected by the server (TLS <= 1.2 only; TLS 1.3 sends it encrypted). */
  alpn = '';
  readonly extensionTypes = new Uint16Array(MAX_EXTENSIONS);
  extensionCount = 0;
  /** A Certificate message followed the ServerHello (TLS <= 1.2). */
  hasCertificate = false;
  /** The leaf certificate's names were read (see `names`). */
  certificateParsed = false;
  /** Number of certificates in the chain is not counted; leaf DER length: */
  leafCertificateLength = 0;
  readonly names = new CertificateNames();
  error: TlsError = TlsError.NONE;
  readonly reader = new HandshakeReader();

  reset(): void {
    this.serverHello = false;
    this.legacyVersion = 0;
    this.selectedVersion = 0;
    this.cipherSuite = 0;
    this.compressionMethod = 0;
    this.sessionIdLength = 0;
    this.helloRetryRequest = false;
    this.alpn = '';
    this.extensionCount = 0;
    this.hasCertificate = false;
    this.certificateParsed = false;
    this.leafCertificateLength = 0;
    this.names.reset();
    this.error = TlsError.NONE;
  }
}

function fail(out: ServerFlight, e: TlsError): ParseStatus {
  out.error = e;
  return ParseStatus.MALFORMED;
}

/**
 * Parses the server's record stream `buf[off, end)`: ServerHello, then for TLS <= 1.2 the leaf
 * certificate of a Certificate message that directly follows. OK when done (TLS 1.3, no
 * Certificate message, or its leaf read); NEED_MORE when the ServerHello or the leaf certificate
 * is incomplete (`out.serverHello` tells which). A DER error in the certificate is reported in
 * `out.error` with status OK, since the handshake framing itself was fine.
 */
export function parseServerFlight(buf: Buffer, off: number, end: number, out: ServerFlight): ParseStatus {
  out.reset();
  const r = out.reader;
  let st = r.gather(buf, off, end, 0, 4);
  if (st !== ParseStatus.OK) { out.error = r.error; return st; }
  if (r.buf[r.start] !== HS_SERVER_HELLO) return ParseStatus.NOT_MINE;
  const len = (r.buf[r.start + 1]! << 16) | (r.buf[r.start + 2]! << 8) | r.buf[r.start + 3]!;
  if (len > MAX_HANDSHAKE_LENGTH) return fail(out, TlsError.HANDSHAKE_TOO_LARGE);
  st = r.gather(buf, off, end, 4, len);
  if (st !== ParseStatus.OK) {
    if (st === ParseStatus.NOT_MINE) return fail(out, TlsError.RECORD_INTERLEAVED);
    out.error = r.error;
    return st;
  }
  st = parseServerHelloBody(r.buf, r.start, r.end, out);
  if (st !== ParseStatus.OK) return st;
  if (out.helloRetryRequest || out.selectedVersion > VERSION_TLS12) return ParseStatus.OK;
  return parseCertificate(buf, off, end, 4 + len, out);
}

/** Parses a bare ServerHello Handshake message (no record layer), e.g. from QUIC CRYPTO frames. */
export function parseServerHelloHandshake(buf: Buffer, off: number, end: number, out: ServerFlight): ParseStatus {
  out.reset();
  if (end - off < 1) return ParseStatus.NEED_MORE;
  if (buf[off] !== HS_SERVER_HELLO) return ParseStatus.NOT_MINE;
  if (end - off < 4) return ParseStatus.NEED_MORE;
  const len = (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
  if (len > MAX_HANDSHAKE_LENGTH) return fail(out, TlsError.HANDSHAKE_TOO_LARGE);
  if (end - off - 4 < len) return ParseStatus.NEED_MORE;
  return parseServerHelloBody(buf, off + 4, off + 4 + len, out);
}

function parseServerHelloBody(b: Buffer, p: number, e: number, out: ServerFlight): ParseStatus {
  if (e - p < 2 + 32 + 1) return fail(out, TlsError.SERVER_HELLO_TRUNCATED);
  out.legacyVersion = (b[p]! << 8) | b[p + 1]!;
  out.selectedVersion = out.legacyVersion;
  out.helloRetryRequest = HRR_RANDOM.compare(b, p + 2, p + 34) === 0;
  p += 34;
  const sid = b[p++]!;
  if (sid > 32) return fail(out, TlsError.SERVER_HELLO_BAD_LENGTH);
  if (e - p < sid + 3) return fail(out, TlsError.SERVER_HELLO_TRUNCATED);
  out.sessionIdLength = sid;
  p += sid;
  out.cipherSuite = (b[p]! << 8) | b[p + 1]!;
  out.compressionMethod = b[p + 2]!;
  p += 3;
  if (p === e) { out.serverHello = true; return ParseStatus.OK; }
  if (e - p < 2) return fail(out, TlsError.SERVER_HELLO_TRUNCATED);
  const extLen = (b[p]! << 8) | b[p + 1]!;
  p += 2;
  if (extLen > e - p) return fail(out, TlsError.SERVER_HELLO_TRUNCATED);
  if (extLen < e - p) return fail(out, TlsError.SERVER_HELLO_BAD_LENGTH);
  while (p < e) { // >= 4 bytes per iteration
    if (e - p < 4) return fail(out, TlsError.EXTENSION_TRUNCATED);
    const type = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    if (len > e - p) return fail(out, TlsError.EXTENSION_TRUNCATED);
    if (out.extensionCount < MAX_EXTENSIONS) out.extensionTypes[out.extensionCount++] = type;
    if (type === EXT_SUPPORTED_VERSIONS) {
      // ServerHello form: ProtocolVersion selected_version (RFC 8446 §4.2.1).
      if (len !== 2) return fail(out, TlsError.SUPPORTED_VERSIONS_MALFORMED);
      out.selectedVersion = (b[p]! << 8) | b[p + 1]!;
    } else if (type === EXT_ALPN) {
      // The server's ProtocolNameList holds exactly one name (RFC 7301 §3.1).
      if (len < 3) return fail(out, TlsError.ALPN_MALFORMED);
      const listLen = (b[p]! << 8) | b[p + 1]!;
      const n = b[p + 2]!;
      if (listLen !== len - 2 || n === 0 || n !== listLen - 1) return fail(out, TlsError.ALPN_MALFORMED);
      out.alpn = b.toString('latin1', p + 3, p + 3 + n);
    }
    p += len;
  }
  out.serverHello = true;
  return ParseStatus.OK;
}

/** The Certificate message at logical handshake offset `hs` (RFC 5246 §7.4.2). */
function parseCertificate(buf: Buffer, off: number, end: number, hs: number, out: ServerFlight): ParseStatus {
  const r = out.reader;
  let st = r.gather(buf, off, end, hs, 4);
  // NOT_MINE: the plaintext handshake ends (e.g. ChangeCipherSpec of an abbreviated handshake).
  if (st === ParseStatus.NOT_MINE) return ParseStatus.OK;
  if (st !== ParseStatus.OK) { out.error = r.error; return st; }
  if (r.buf[r.start] !== HS_CERTIFICATE) return ParseStatus.OK; // e.g. PSK / anonymous suites
  out.hasCertificate = true;
  const len = (r.buf[r.start + 1]! << 16) | (r.buf[r.start + 2]! << 8) | r.buf[r.start + 3]!;
  if (len < 3) return fail(out, TlsError.CERTIFICATE_TRUNCATED);
  // Only the first 6 body bytes (list length + leaf length) and the leaf itself are needed.
  st = r.gather(buf, off, end, hs + 4, Math.min(len, 6));
  if (st !== ParseStatus.OK) return certGatherFailed(out, st);
  const b = r.buf;
  const s = r.start;
  const listLen = (b[s]! << 16) | (b[s + 1]! << 8) | b[s + 2]!;
  if (listLen !== len - 3) return fail(out, TlsError.CERTIFICATE_BAD_LENGTH);
  if (listLen === 0) return ParseStatus.OK; // empty chain: nothing to read
  if (len < 6) return fail(out, TlsError.CERTIFICATE_TRUNCATED);
  const leafLen = (b[s + 3]! << 16) | (b[s + 4]! << 8) | b[s + 5]!;
  if (leafLen === 0 || leafLen > listLen - 3) return fail(out, TlsError.CERTIFICATE_TRUNCATED);
  if (leafLen > MAX_CERTIFICATE_LENGTH) return fail(out, TlsError.CERTIFICATE_TOO_LARGE);
  out.leafCertificateLength = leafLen;
  st = r.gather(buf, off, end, hs + 10, leafLen);
  if (st !== ParseStatus.OK) return certGatherFailed(out, st);
  if (parseCertificateNames(r.buf, r.start, r.end, out.names) !== ParseStatus.OK ||
      out.names.derLength !== leafLen) {
    out.error = TlsError.CERTIFICATE_DER_MALFORMED;
    out.names.reset();
    return ParseStatus.OK;
  }
  out.certificateParsed = true;
  return ParseStatus.OK;
}

function certGatherFailed(out: ServerFlight, st: ParseStatus): ParseStatus {
  if (st === ParseStatus.NOT_MINE) return fail(out, TlsError.RECORD_INTERLEAVED);
  out.error = out.reader.error;
  return st;
}
