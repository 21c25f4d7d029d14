/**
 * QUIC versions we can open client Initials for, and the wire constants they differ in.
 *
 * Salt sources (each checked against two independent implementations, see ./README.md):
 * - v1 (0x00000001): RFC 9001 §5.2. Drafts 33 and 34 already used the v1 salt: Wireshark
 *   epan/dissectors/packet-quic.c quic_derive_initial_secrets() ("constants for v1 are defined in
 *   draft-33"; `is_quic_draft_max(version, 34)` → handshake_salt_v1) and ntop/nDPI
 *   src/lib/protocols/quic.c quic_derive_initial_secrets() agree.
 * - v2 (0x6b3343cf): RFC 9369 §3.3.1 (salt), §3.3.2 (labels "quicv2 key/iv/hp"), §3.2 (type bits).
 * - drafts 29–32 (0xff00001d..0xff000020): draft-ietf-quic-tls-29 §5.2 salt 0xafbfec28…;
 *   Wireshark `is_quic_draft_max(version, 32)` → handshake_salt_draft_29; nDPI the same.
 * - drafts 23–28 (0xff000017..0xff00001c): salt 0xc3eef712… (draft-ietf-quic-tls-23 §5.2);
 *   Wireshark/nDPI `draft_max(28)` → handshake_salt_draft_23.
 * - draft 22 (0xff000016): salt 0x7fbcdb0e… (Wireshark/nDPI `draft_max(22)` → handshake_salt_draft_22).
 * - Facebook mvfst: Wireshark quic_draft_version() maps 0xfaceb002 / 0xfaceb00e → draft 27
 *   (draft-23 salt), and mvfst's own getQuicVersionSalt() (quic/handshake/HandshakeLayer.cpp)
 *   returns kQuicDraft23Salt for MVFST and as its default, kQuicV1Salt for QUIC_V1_ALIAS
 *   (0xfaceb003). 0xfaceb001 (MVFST_D24) follows Wireshark (draft 22 → draft-22 salt); current
 *   mvfst would use its default (draft-23) salt — unconfirmed which one deployed peers used.
 * - Google QUIC with the IETF invariant header: Q050 (0x51303530) hanshake_salt_draft_q50,
 *   T050 (0x54303530) hanshake_salt_draft_t50, T051 (0x54303531) hanshake_salt_draft_t51 in both
 *   Wireshark and nDPI. These versions use v1 HKDF labels but gQUIC frame types (CRYPTO = 0x08, see
 *   nDPI get_crypto_data()); T05x carry TLS, Q050 carries a gQUIC CHLO (not TLS).
 */

/** RFC 9000 §17.2 Table 5 / RFC 9369 §3.2: logical long-header packet types. */
export const enum LongType { INITIAL = 0, ZERO_RTT = 1, HANDSHAKE = 2, RETRY = 3 }

/** Which frame syntax an Initial payload uses. */
export const enum FrameSyntax { IETF = 0, GQUIC = 1 }

/** RFC 9000 §19 frame types allowed in Initial packets (§12.4 Table 3). */
export const FRAME_PADDING = 0x00;
export const FRAME_PING = 0x01;
export const FRAME_ACK = 0x02;
export const FRAME_ACK_ECN = 0x03;
export const FRAME_CRYPTO = 0x06;
export const FRAME_CONNECTION_CLOSE = 0x1c;
/** gQUIC (Q050/T05x) frame types used in Initials (Chromium quic_framer; nDPI get_crypto_data()). */
export const GQUIC_FRAME_PADDING = 0x00;
export const GQUIC_FRAME_PING = 0x07;
export const GQUIC_FRAME_CRYPTO = 0x08;

/** RFC 9000 §17.2: connection IDs in version 1 are at most 20 bytes. */
export const MAX_CID_LENGTH = 20;
/** RFC 9001 §5.4.2: header protection sample is 16 bytes taken 4 bytes after the PN offset. */
export const HP_SAMPLE_OFFSET = 4;
export const HP_SAMPLE_LENGTH = 16;
/** RFC 9001 §5.3: AEAD_AES_128_GCM tag length. */
export const AEAD_TAG_LENGTH = 16;
/** RFC 9000 §16: largest varint value (2^62 - 1), as a float it rounds to 2^62. */
export const MAX_VARINT = 2 ** 62 - 1;

export interface QuicVersionInfo {
  readonly version: number;
  readonly name: string;
  /** HKDF-Extract salt (RFC 9001 §5.2). */
  readonly salt: Buffer;
  /** HKDF-Expand-Label labels for key, iv, hp (RFC 9001 §5.1; RFC 9369 §3.3.2). */
  readonly keyLabel: string;
  readonly ivLabel: string;
  readonly hpLabel: string;
  /** On-wire long packet type bits (0..3) of each LongType, indexed by LongType. */
  readonly wireTypes: readonly [number, number, number, number];
  readonly frames: FrameSyntax;
  /** True when the CRYPTO stream carries TLS 1.3 handshake messages (false: gQUIC CHLO). */
  readonly tls: boolean;
}

const SALT_V1 = Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex');
const SALT_V2 = Buffer.from('0dede3def700a6db819381be6e269dcbf9bd2ed9', 'hex');
const SALT_DRAFT_29 = Buffer.from('afbfec289993d24c9e9786f19c6111e04390a899', 'hex');
const SALT_DRAFT_23 = Buffer.from('c3eef712c72ebb5a11a7d2432bb46365bef9f502', 'hex');
const SALT_DRAFT_22 = Buffer.from('7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a', 'hex');
const SALT_Q050 = Buffer.from('504574efd066fe2f9d945cfcdbd3a7f0d3b56b45', 'hex');
const SALT_T050 = Buffer.from('7ff579e5acd072915580304c43a2367c60488310', 'hex');
const SALT_T051 = Buffer.from('7a4edef4e7ccee5fa4506c19124fc8ccda6e033d', 'hex');

const V1_TYPES = [0, 1, 2, 3] as const;
/** RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00. */
const V2_TYPES = [1, 2, 3, 0] as const;

function v(
  version: number, name: string, salt: Buffer, opts: { v2?: boolean; gquic?: boolean; tls?: boolean } = {},
): QuicVersionInfo {
  const prefix = opts.v2 ? 'quicv2 ' : 'quic ';
  return Object.freeze({
    version, name, salt,
    keyLabel: prefix + 'key', ivLabel: prefix + 'iv', hpLabel: prefix + 'hp',
    wireTypes: opts.v2 ? V2_TYPES : V1_TYPES,
    frames: opts.gquic ? FrameSyntax.GQUIC : FrameSyntax.IETF,
    tls: opts.tls ?? true,
  });
}

export const QUIC_V1 = 0x00000001;
export const QUIC_V2 = 0x6b3343cf;

const KNOWN = new Map<number, QuicVersionInfo>();
function add(info: QuicVersionInfo): void { KNOWN.set(info.version, info); }

add(v(QUIC_V1, 'v1', SALT_V1));
add(v(QUIC_V2, 'v2', SALT_V2, { v2: true }));
for (let d = 22; d <= 34; d++) {
  const salt = d <= 22 ? SALT_DRAFT_22 : d <= 28 ? SALT_DRAFT_23 : d <= 32 ? SALT_DRAFT_29 : SALT_V1;
  add(v((0xff000000 | d) >>> 0, `draft-${d}`, salt));
}
add(v(0xfaceb001, 'mvfst-draft-22', SALT_DRAFT_22));
add(v(0xfaceb002, 'mvfst-draft-27', SALT_DRAFT_23));
add(v(0xfaceb003, 'mvfst-v1-alias', SALT_V1));
add(v(0xfaceb00e, 'mvfst-experimental', SALT_DRAFT_23));
add(v(0x51303530, 'gquic-Q050', SALT_Q050, { gquic: true, tls: false }));
add(v(0x54303530, 'gquic-T050', SALT_T050, { gquic: true }));
add(v(0x54303531, 'gquic-T051', SALT_T051, { gquic: true }));

/** Version table entry, or undefined when we cannot open this version's Initials. */
export function quicVersionInfo(version: number): QuicVersionInfo | undefined {
  return KNOWN.get(version >>> 0);
}

/** Every version we decrypt (for docs/tests). */
export function supportedQuicVersions(): QuicVersionInfo[] {
  return [...KNOWN.values()];
}

/** Human name for any version number, known or not (RFC 9000 §15 reserved ranges included). */
export function quicVersionName(version: number): string {
  const info = KNOWN.get(version >>> 0);
  if (info) return info.name;
  const u = version >>> 0;
  if (u === 0) return 'version-negotiation';
  if ((u & 0x0f0f0f0f) === 0x0a0a0a0a) return 'grease'; // RFC 9000 §15
  if ((u >>> 8) === 0xff0000) return `draft-${u & 0xff}`;
  return '0x' + u.toString(16).padStart(8, '0');
}
