/**
 * TLS wire constants, limits and malformed-input reason codes.
 *
 * References: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 6066 §3 (server_name), RFC 7301 §3.1
 * (ALPN), RFC 8422 §5.1 (supported_groups, ec_point_formats), RFC 8701 (GREASE),
 * draft-ietf-tls-esni (encrypted_client_hello, 0xfe0d).
 */

// ContentType, RFC 8446 §5.1 / RFC 5246 §6.2.1.
export const CONTENT_CHANGE_CIPHER_SPEC = 20;
export const CONTENT_ALERT = 21;
export const CONTENT_HANDSHAKE = 22;
export const CONTENT_APPLICATION_DATA = 23;

// HandshakeType, RFC 8446 §4 / RFC 5246 §7.4.
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const HS_CERTIFICATE = 11;

// ExtensionType, RFC 8446 §4.2 and the IANA registry.
export const EXT_SERVER_NAME = 0x0000;
export const EXT_SUPPORTED_GROUPS = 0x000a;
export const EXT_EC_POINT_FORMATS = 0x000b;
export const EXT_SIGNATURE_ALGORITHMS = 0x000d;
export const EXT_ALPN = 0x0010;
export const EXT_SUPPORTED_VERSIONS = 0x002b;
export const EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;

/** server_name NameType host_name, RFC 6066 §3. */
export const SNI_HOST_NAME = 0;

// ProtocolVersion values.
export const VERSION_SSL2 = 0x0002;
export const VERSION_SSL3 = 0x0300;
export const VERSION_TLS10 = 0x0301;
export const VERSION_TLS11 = 0x0302;
export const VERSION_TLS12 = 0x0303;
export const VERSION_TLS13 = 0x0304;

/** TLSPlaintext.length MUST NOT exceed 2^14 (RFC 8446 §5.1, RFC 5246 §6.2.1). */
export const MAX_PLAINTEXT_RECORD = 1 << 14;
/** Largest handshake message we reassemble (the wire allows 2^24 - 1, RFC 8446 §4). */
export const MAX_HANDSHAKE_LENGTH = 1 << 18;
/** Records walked while looking for handshake bytes (each is >= 6 bytes, so also bounded by input). */
export const MAX_RECORDS = 4096;
/** Largest leaf certificate we parse. */
export const MAX_CERTIFICATE_LENGTH = 1 << 16;

// Storage caps of the reusable ClientHello object; beyond them totals are still counted and
// `listOverflow` is set.
export const MAX_CIPHER_SUITES = 1024;
export const MAX_EXTENSIONS = 256;
export const MAX_SIGNATURE_ALGORITHMS = 256;
export const MAX_SUPPORTED_GROUPS = 256;
export const MAX_SUPPORTED_VERSIONS = 128; // versions<2..254> holds at most 127
export const MAX_EC_POINT_FORMATS = 255; // ec_point_format_list<1..2^8-1>
export const MAX_ALPN_PROTOCOLS = 32;
/** Names kept from one certificate (CN + subjectAltName dNSNames). */
export const MAX_CERTIFICATE_NAMES = 256;
/** Longest host name kept from SNI or a certificate (a DNS name is at most 253 characters). */
export const MAX_HOST_NAME_LENGTH = 255;

/**
 * GREASE values (RFC 8701 §2): 0x0a0a, 0x1a1a, ..., 0xfafa for cipher suites, extensions,
 * named groups, signature algorithms and versions.
 */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);
}

/** Why a parser returned MALFORMED (0 = no error). Index into TLS_ERROR_NAMES. */
export const enum TlsError {
  NONE = 0,
  RECORD_TOO_LONG = 1,
  RECORD_EMPTY = 2,
  RECORD_INTERLEAVED = 3,
  RECORD_BAD_VERSION = 4,
  TOO_MANY_RECORDS = 5,
  HANDSHAKE_TOO_LARGE = 6,
  CLIENT_HELLO_TRUNCATED = 7,
  CLIENT_HELLO_BAD_LENGTH = 8,
  EXTENSION_TRUNCATED = 9,
  SNI_MALFORMED = 10,
  ALPN_MALFORMED = 11,
  SUPPORTED_VERSIONS_MALFORMED = 12,
  SIGNATURE_ALGORITHMS_MALFORMED = 13,
  SUPPORTED_GROUPS_MALFORMED = 14,
  EC_POINT_FORMATS_MALFORMED = 15,
  SERVER_HELLO_TRUNCATED = 16,
  SERVER_HELLO_BAD_LENGTH = 17,
  CERTIFICATE_TRUNCATED = 18,
  CERTIFICATE_BAD_LENGTH = 19,
  CERTIFICATE_TOO_LARGE = 20,
  CERTIFICATE_DER_MALFORMED = 21,
  COUNT = 22,
}

/** Stable counter names, indexed by TlsError. */
export const TLS_ERROR_NAMES: readonly string[] = [
  '',
  'tls.record_too_long',
  'tls.record_empty',
  'tls.record_interleaved',
  'tls.record_bad_version',
  'tls.too_many_records',
  'tls.handshake_too_large',
  'tls.client_hello_truncated',
  'tls.client_hello_bad_length',
  'tls.extension_truncated',
  'tls.sni_malformed',
  'tls.alpn_malformed',
  'tls.supported_versions_malformed',
  'tls.signature_algorithms_malformed',
  'tls.supported_groups_malformed',
  'tls.ec_point_formats_malformed',
  'tls.server_hello_truncated',
  'tls.server_hello_bad_length',
  'tls.certificate_truncated',
  'tls.certificate_bad_length',
  'tls.certificate_too_large',
  'tls.certificate_der_malformed',
];

/** Human-readable protocol version: `TLS 1.3`, `TLS 1.2`, ..., `0x7f1c` for unknown values. */
export function tlsVersionName(v: number): string {
  switch (v) {
    case VERSION_TLS13: return 'TLS 1.3';
    case VERSION_TLS12: return 'TLS 1.2';
    case VERSION_TLS11: return 'TLS 1.1';
    case VERSION_TLS10: return 'TLS 1.0';
    case VERSION_SSL3: return 'SSL 3.0';
    case VERSION_SSL2: return 'SSL 2.0';
    case 0xfeff: return 'DTLS 1.0';
    case 0xfefd: return 'DTLS 1.2';
    case 0xfefc: return 'DTLS 1.3';
    default:
      if (isGrease(v)) return 'GREASE';
      // TLS 1.3 drafts were 0x7fNN (RFC 8446 §4.2.1 note).
      if ((v >> 8) === 0x7f) return `TLS 1.3 draft ${v & 0xff}`;
      return '0x' + (v & 0xffff).toString(16).padStart(4, '0');
  }
}
