/**
 * ClientHello parser (RFC 8446 §4.1.2; RFC 5246 §7.4.1.2 for TLS <= 1.2).
 *
 *   struct {
 *     ProtocolVersion legacy_version;               // 2
 *     Random random;                                 // 32, skipped
 *     opaque legacy_session_id<0..32>;
 *     CipherSuite cipher_suites<2..2^16-2>;
 *     opaque legacy_compression_methods<1..2^8-1>;
 *     Extension extensions<8..2^16-1>;               // optional before TLS 1.3 (RFC 5246 §7.4.1.2)
 *   } ClientHello;
 *
 * `parseClientHello` reads a TLS record stream (the ClientHello may span several handshake
 * records, RFC 8446 §5.1); `parseClientHelloHandshake` reads a bare Handshake message, as QUIC
 * CRYPTO frames carry it (RFC 9001 §4). Both fill a reusable `ClientHello`; strings (SNI, ALPN)
 * are the only allocations.
 */
import { ParseStatus } from '../parse-status.js';
import {
  EXT_ALPN, EXT_EC_POINT_FORMATS, EXT_ENCRYPTED_CLIENT_HELLO, EXT_SERVER_NAME, EXT_SIGNATURE_ALGORITHMS,
  EXT_SUPPORTED_GROUPS, EXT_SUPPORTED_VERSIONS, HS_CLIENT_HELLO, MAX_ALPN_PROTOCOLS, MAX_CIPHER_SUITES,
  MAX_EC_POINT_FORMATS, MAX_EXTENSIONS, MAX_HANDSHAKE_LENGTH, MAX_HOST_NAME_LENGTH, MAX_SIGNATURE_ALGORITHMS,
  MAX_SUPPORTED_GROUPS, MAX_SUPPORTED_VERSIONS, SNI_HOST_NAME, TlsError, isGrease,
} from './constants.js';
import { HandshakeReader } from './records.js';

/** One reusable parse result. Lists keep wire order and include GREASE values. */
export class ClientHello {
  /** Handshake body length (the 24-bit Handshake.length). */
  handshakeLength = 0;
  legacyVersion = 0;
  sessionIdLength = 0;
  /** Stored cipher suites: `cipherSuites[0, cipherSuiteCount)`. */
  readonly cipherSuites = new Uint16Array(MAX_CIPHER_SUITES);
  cipherSuiteCount = 0;
  /** GREASE cipher suites seen (RFC 8701). */
  greaseCipherSuites = 0;
  compressionMethodCount = 0;
  /** Extension types in wire order: `extensionTypes[0, extensionCount)`. */
  readonly extensionTypes = new Uint16Array(MAX_EXTENSIONS);
  extensionCount = 0;
  greaseExtensions = 0;
  /** server_name extension present (whatever its content). */
  hasSni = false;
  /** First host_name, lowercase, without a trailing dot; '' when absent or invalid. */
  serverName = '';
  /** A host_name was present but had bytes outside printable ASCII or was too long. */
  sniInvalid = false;
  hasAlpn = false;
  /** ALPN protocol names (bytes as latin1 characters), wire order. */
  readonly alpn: string[] = [];
  hasSupportedVersions = false;
  readonly supportedVersions = new Uint16Array(MAX_SUPPORTED_VERSIONS);
  supportedVersionCount = 0;
  readonly signatureAlgorithms = new Uint16Array(MAX_SIGNATURE_ALGORITHMS);
  signatureAlgorithmCount = 0;
  readonly supportedGroups = new Uint16Array(MAX_SUPPORTED_GROUPS);
  supportedGroupCount = 0;
  readonly ecPointFormats = new Uint8Array(MAX_EC_POINT_FORMATS);
  ecPointFormatCount = 0;
  /** encrypted_client_hello (0xfe0d) present (draft-ietf-tls-esni §5). */
  hasEch = false;
  /** A list was longer than its storage cap; totals above still count everything. */
  listOverflow = false;
  /** Reason of the last MALFORMED result. */
  error: TlsError = TlsError.NONE;
  /** Record reassembly state (its scratch buffer is reused). */
  readonly reader = new HandshakeReader();

  reset(): void {
    this.handshakeLength = 0;
    this.legacyVersion = 0;
    this.sessionIdLength = 0;
    this.cipherSuiteCount = 0;
    this.greaseCipherSuites = 0;
    this.compressionMethodCount = 0;
    this.extensionCount = 0;
    this.greaseExtensions = 0;
    this.hasSni = false;
    this.serverName = '';
    this.sniInvalid = false;
    this.hasAlpn = false;
    this.alpn.length = 0;
    this.hasSupportedVersions = false;
    this.supportedVersionCount = 0;
    this.signatureAlgorithmCount = 0;
    this.supportedGroupCount = 0;
    this.ecPointFormatCount = 0;
    this.hasEch = false;
    this.listOverflow = false;
    this.error = TlsError.NONE;
  }
}

/** Highest non-GREASE supported_versions entry, else legacy_version (RFC 8446 §4.2.1). */
export function clientHelloMaxVersion(ch: ClientHello): number {
  let best = 0;
  for (let i = 0; i < ch.supportedVersionCount; i++) {
    const v = ch.supportedVersions[i]!;
    if (!isGrease(v) && v > best) best = v;
  }
  return best !== 0 ? best : ch.legacyVersion;
}

/** Parses the ClientHello at the start of a TLS record stream `buf[off, end)`. */
export function parseClientHello(buf: Buffer, off: number, end: number, out: ClientHello): ParseStatus {
  out.reset();
  const r = out.reader;
  let st = r.gather(buf, off, end, 0, 4);
  if (st !== ParseStatus.OK) { out.error = r.error; return st; }
  // Handshake: msg_type(1) length(3) (RFC 8446 §4).
  if (r.buf[r.start] !== HS_CLIENT_HELLO) return ParseStatus.NOT_MINE;
  const len = (r.buf[r.start + 1]! << 16) | (r.buf[r.start + 2]! << 8) | r.buf[r.start + 3]!;
  if (len > MAX_HANDSHAKE_LENGTH) { out.error = TlsError.HANDSHAKE_TOO_LARGE; return ParseStatus.MALFORMED; }
  st = r.gather(buf, off, end, 4, len);
  if (st !== ParseStatus.OK) {
    // A non-handshake record after the header is interleaving, never "not mine".
    if (st === ParseStatus.NOT_MINE) { out.error = TlsError.RECORD_INTERLEAVED; return ParseStatus.MALFORMED; }
    out.error = r.error;
    return st;
  }
  out.handshakeLength = len;
  return parseBody(r.buf, r.start, r.end, out);
}

/** Parses a bare Handshake message (no record layer), e.g. from QUIC CRYPTO frames. */
export function parseClientHelloHandshake(buf: Buffer, off: number, end: number, out: ClientHello): ParseStatus {
  out.reset();
  if (end - off < 1) return ParseStatus.NEED_MORE;
  if (buf[off] !== HS_CLIENT_HELLO) return ParseStatus.NOT_MINE;
  if (end - off < 4) return ParseStatus.NEED_MORE;
  const len = (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
  if (len > MAX_HANDSHAKE_LENGTH) { out.error = TlsError.HANDSHAKE_TOO_LARGE; return ParseStatus.MALFORMED; }
  if (end - off - 4 < len) return ParseStatus.NEED_MORE;
  out.handshakeLength = len;
  return parseBody(buf, off + 4, off + 4 + len, out);
}

function fail(out: ClientHello, e: TlsError): ParseStatus {
  out.error = e;
  return ParseStatus.MALFORMED;
}

/** The ClientHello body is exactly `b[p, e)`. */
function parseBody(b: Buffer, p: number, e: number, out: ClientHello): ParseStatus {
  if (e - p < 2 + 32 + 1) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  out.legacyVersion = (b[p]! << 8) | b[p + 1]!;
  p += 34;
  const sid = b[p++]!;
  if (sid > 32) return fail(out, TlsError.CLIENT_HELLO_BAD_LENGTH);
  if (sid > e - p) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  out.sessionIdLength = sid;
  p += sid;

  if (e - p < 2) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  const csLen = (b[p]! << 8) | b[p + 1]!;
  p += 2;
  if (csLen === 0 || (csLen & 1) !== 0) return fail(out, TlsError.CLIENT_HELLO_BAD_LENGTH);
  if (csLen > e - p) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  for (let q = p; q < p + csLen; q += 2) {
    const v = (b[q]! << 8) | b[q + 1]!;
    if (isGrease(v)) out.greaseCipherSuites++;
    if (out.cipherSuiteCount < MAX_CIPHER_SUITES) out.cipherSuites[out.cipherSuiteCount++] = v;
    else out.listOverflow = true;
  }
  p += csLen;

  if (e - p < 1) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  const cm = b[p++]!;
  if (cm === 0) return fail(out, TlsError.CLIENT_HELLO_BAD_LENGTH);
  if (cm > e - p) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  out.compressionMethodCount = cm;
  p += cm;

  // No extensions at all is legal before TLS 1.3 (RFC 5246 §7.4.1.2).
  if (p === e) return ParseStatus.OK;
  if (e - p < 2) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  const extLen = (b[p]! << 8) | b[p + 1]!;
  p += 2;
  if (extLen > e - p) return fail(out, TlsError.CLIENT_HELLO_TRUNCATED);
  if (extLen < e - p) return fail(out, TlsError.CLIENT_HELLO_BAD_LENGTH); // trailing bytes
  // Each extension takes >= 4 bytes, so this loop runs at most extLen / 4 times.
  while (p < e) {
    if (e - p < 4) return fail(out, TlsError.EXTENSION_TRUNCATED);
    const type = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    if (len > e - p) return fail(out, TlsError.EXTENSION_TRUNCATED);
    if (isGrease(type)) out.greaseExtensions++;
    if (out.extensionCount < MAX_EXTENSIONS) out.extensionTypes[out.extensionCount++] = type;
    else out.listOverflow = true;
    const err = parseExtension(b, p, p + len, type, out);
    if (err !== TlsError.NONE) return fail(out, err);
    p += len;
  }
  return ParseStatus.OK;
}

/** Parses a known extension's `extension_data` = `b[p, e)`. Returns the error, or NONE. */
function parseExtension(b: Buffer, p: number, e: number, type: number, out: ClientHello): TlsError {
  switch (type) {
    case EXT_SERVER_NAME: return parseServerName(b, p, e, out);
    case EXT_ALPN: return parseAlpn(b, p, e, out);
    case EXT_SUPPORTED_VERSIONS: {
      // ProtocolVersion versions<2..254> (RFC 8446 §4.2.1).
      out.hasSupportedVersions = true;
      if (e - p < 1) return TlsError.SUPPORTED_VERSIONS_MALFORMED;
      const n = b[p]!;
      if (n !== e - p - 1 || n < 2 || (n & 1) !== 0) return TlsError.SUPPORTED_VERSIONS_MALFORMED;
      out.supportedVersionCount = readU16List(b, p + 1, e, out.supportedVersions, out);
      return TlsError.NONE;
    }
    case EXT_SIGNATURE_ALGORITHMS: {
      // SignatureScheme supported_signature_algorithms<2..2^16-2> (RFC 8446 §4.2.3).
      if (!u16ListOk(b, p, e)) return TlsError.SIGNATURE_ALGORITHMS_MALFORMED;
      out.signatureAlgorithmCount = readU16List(b, p + 2, e, out.signatureAlgorithms, out);
      return TlsError.NONE;
    }
    case EXT_SUPPORTED_GROUPS: {
      // NamedGroup named_group_list<2..2^16-1> (RFC 8446 §4.2.7, RFC 8422 §5.1.1).
      if (!u16ListOk(b, p, e)) return TlsError.SUPPORTED_GROUPS_MALFORMED;
      out.supportedGroupCount = readU16List(b, p + 2, e, out.supportedGroups, out);
      return TlsError.NONE;
    }
    case EXT_EC_POINT_FORMATS: {
      // ECPointFormat ec_point_format_list<1..2^8-1> (RFC 8422 §5.1.2).
      if (e - p < 1) return TlsError.EC_POINT_FORMATS_MALFORMED;
      const n = b[p]!;
      if (n === 0 || n !== e - p - 1) return TlsError.EC_POINT_FORMATS_MALFORMED;
      for (let i = 0; i < n; i++) out.ecPointFormats[i] = b[p + 1 + i]!; // n <= 255 = capacity
      out.ecPointFormatCount = n;
      return TlsError.NONE;
    }
    case EXT_ENCRYPTED_CLIENT_HELLO:
      out.hasEch = true;
      return TlsError.NONE;
    default:
      return TlsError.NONE;
  }
}

/** A 2-byte-length list of 16-bit values filling `b[p, e)` exactly, non-empty. */
function u16ListOk(b: Buffer, p: number, e: number): boolean {
  if (e - p < 2) return false;
  const n = (b[p]! << 8) | b[p + 1]!;
  return n === e - p - 2 && n >= 2 && (n & 1) === 0;
}

function readU16List(b: Buffer, p: number, e: number, dst: Uint16Array, out: ClientHello): number {
  let n = 0;
  for (let q = p; q + 1 < e; q += 2) {
    if (n < dst.length) dst[n++] = (b[q]! << 8) | b[q + 1]!;
    else { out.listOverflow = true; break; }
  }
  return n;
}

/**
 * server_name (RFC 6066 §3):
 *   struct { NameType name_type; select (name_type) { case host_name: HostName; } name; } ServerName;
 *   opaque HostName<1..2^16-1>;  struct { ServerName server_name_list<1..2^16-1> } ServerNameList;
 */
function parseServerName(b: Buffer, p: number, e: number, out: ClientHello): TlsError {
  out.hasSni = true;
  if (e - p < 2) return TlsError.SNI_MALFORMED;
  const listLen = (b[p]! << 8) | b[p + 1]!;
  if (listLen !== e - p - 2 || listLen === 0) return TlsError.SNI_MALFORMED;
  p += 2;
  let found = false;
  while (p < e) { // each entry takes >= 3 bytes
    if (e - p < 3) return TlsError.SNI_MALFORMED;
    const nameType = b[p]!;
    const n = (b[p + 1]! << 8) | b[p + 2]!;
    p += 3;
    if (n > e - p) return TlsError.SNI_MALFORMED;
    if (nameType === SNI_HOST_NAME) {
      if (n === 0) return TlsError.SNI_MALFORMED;
      // "The ServerNameList MUST NOT contain more than one name of the same name_type": keep the first.
      if (!found) { found = true; setHostName(b, p, p + n, out); }
    }
    p += n;
  }
  return TlsError.NONE;
}

/** HostName is ASCII without a trailing dot (RFC 6066 §3); we accept printable ASCII only. */
function setHostName(b: Buffer, p: number, e: number, out: ClientHello): void {
  let stop = e;
  if (stop - p > 1 && b[stop - 1] === 0x2e) stop--; // tolerate one trailing dot
  if (stop - p > MAX_HOST_NAME_LENGTH) { out.sniInvalid = true; return; }
  for (let q = p; q < stop; q++) {
    const c = b[q]!;
    if (c < 0x21 || c > 0x7e) { out.sniInvalid = true; return; }
  }
  out.serverName = b.toString('latin1', p, stop).toLowerCase();
}

/**
 * application_layer_protocol_negotiation (RFC 7301 §3.1):
 *   opaque ProtocolName<1..2^8-1>;  struct { ProtocolName protocol_name_list<2..2^16-1> } ProtocolNameList;
 * "Empty strings MUST NOT be included".
 */
function parseAlpn(b: Buffer, p: number, e: number, out: ClientHello): TlsError {
  out.hasAlpn = true;
  if (e - p < 2) return TlsError.ALPN_MALFORMED;
  const listLen = (b[p]! << 8) | b[p + 1]!;
  if (listLen !== e - p - 2 || listLen < 2) return TlsError.ALPN_MALFORMED;
  p += 2;
  while (p < e) { // each entry takes >= 2 bytes
    const n = b[p++]!;
    if (n === 0 || n > e - p) return TlsError.ALPN_MALFORMED;
    if (out.alpn.length < MAX_ALPN_PROTOCOLS) out.alpn.push(b.toString('latin1', p, p + n));
    else out.listOverflow = true;
    p += n;
  }
  return TlsError.NONE;
}
