/**
 * QUIC analyzer limits and counters. Counters are plain numbers on one monomorphic object so the
 * hot path bumps them with `c.x++`; `snapshot()` gives the stable dotted names (documented in
 * ./README.md) only when someone asks.
 */

export interface QuicLimits {
  /**
   * Largest CRYPTO stream prefix reassembled per flow (bytes). A ClientHello larger than this
   * (post-quantum key shares make 2–3 KiB common; 16 KiB is the TLS record limit) is counted
   * `quic.client_hello_too_large` and the flow is given up.
   */
  quicCryptoMaxBytes: number;
  /** Client Initial packets decrypted per flow before giving up (RFC 9000 §17.2.2). */
  quicMaxInitialPackets: number;
  /** Client datagrams looked at per flow before giving up (bounds work on 1-RTT-only flows). */
  quicMaxDatagrams: number;
}

export const DEFAULT_QUIC_LIMITS: Readonly<QuicLimits> = Object.freeze({
  quicCryptoMaxBytes: 16384,
  quicMaxInitialPackets: 6,
  quicMaxDatagrams: 16,
});

/** Merges partial settings over the defaults; non-positive / non-integer values fall back. */
export function quicLimits(partial?: Partial<QuicLimits>): QuicLimits {
  const pick = (v: number | undefined, d: number, max: number): number =>
    v !== undefined && Number.isInteger(v) && v > 0 ? Math.min(v, max) : d;
  return {
    // 16 MiB hard cap: the 3-byte TLS handshake length cannot describe more.
    quicCryptoMaxBytes: pick(partial?.quicCryptoMaxBytes, DEFAULT_QUIC_LIMITS.quicCryptoMaxBytes, 1 << 24),
    quicMaxInitialPackets: pick(partial?.quicMaxInitialPackets, DEFAULT_QUIC_LIMITS.quicMaxInitialPackets, 1024),
    quicMaxDatagrams: pick(partial?.quicMaxDatagrams, DEFAULT_QUIC_LIMITS.quicMaxDatagrams, 4096),
  };
}

export class QuicCounters {
  /** Datagrams handed to parseDatagram(). */
  datagrams = 0;
  /** Datagrams whose first byte is not a long header (1-RTT short header or not QUIC): NOT_MINE. */
  notLongHeader = 0;
  /** Long-header packets whose header parsed (RFC 9000 §17.2), any type, any version. */
  longPackets = 0;
  /** Long header (or field inside it) runs past the datagram. */
  headerTruncated = 0;
  /** DCID/SCID longer than 20 bytes in a version we know (RFC 9000 §17.2). */
  cidTooLong = 0;
  /** Version Negotiation packets (version 0, RFC 9000 §17.2.1): server to client, ignored. */
  versionNegotiation = 0;
  /** Long headers with a version we have no Initial salt for: counted, not decrypted. */
  unsupportedVersion = 0;
  /** Client Initial packets (per the version's type bits) found. */
  initialPackets = 0;
  /** Initial packets successfully unprotected and authenticated (RFC 9001 §5.3/§5.4). */
  initialDecrypted = 0;
  /** Initial packets whose AEAD tag did not verify (or node:crypto threw): wrong keys, corruption. */
  initialDecryptFailed = 0;
  /** Initial packets too short for the header-protection sample or the AEAD tag (RFC 9001 §5.4.2). */
  initialTooShort = 0;
  /** Decrypted Initial headers with reserved bits set (RFC 9000 §17.2: PROTOCOL_VIOLATION). */
  reservedBitsSet = 0;
  /** 0-RTT and Handshake packets skipped (coalesced or not). */
  otherLongPackets = 0;
  /** Retry packets (server to client) seen; they end the datagram. */
  retryPackets = 0;
  /** Short-header packets coalesced after long ones (RFC 9000 §12.2): end of what we look at. */
  coalescedShortHeader = 0;
  /** Coalesced packets with a DCID differing from the first one: ignored (RFC 9000 §12.2). */
  coalescedDcidMismatch = 0;
  /** Datagrams with zero bytes after the last packet (padding outside any QUIC packet). */
  trailingPadding = 0;
  /** Frames in a decrypted Initial that ran past the payload (RFC 9000 §19). */
  frameMalformed = 0;
  /** Frame types not permitted in an Initial (RFC 9000 §12.4 Table 3): parsing stops. */
  frameUnexpected = 0;
  /** CRYPTO frames collected. */
  cryptoFrames = 0;
  /** CRYPTO bytes collected (before reassembly). */
  cryptoBytes = 0;
  /** CONNECTION_CLOSE frames seen in client Initials. */
  connectionClose = 0;
  // ---- per-flow reassembly (analyzer.ts) ----
  /** CRYPTO data beyond quicCryptoMaxBytes: dropped. */
  cryptoOutOfWindow = 0;
  /** Retransmitted CRYPTO data that differs from what we already hold (first copy kept). */
  cryptoConflict = 0;
  /** Flows where a complete ClientHello was reassembled. */
  clientHelloComplete = 0;
  /** Flows whose first handshake message is larger than quicCryptoMaxBytes. */
  clientHelloTooLarge = 0;
  /** Flows whose CRYPTO stream does not start with a ClientHello (type 1). */
  notClientHello = 0;
  /** Flows given up after quicMaxInitialPackets / quicMaxDatagrams without a full ClientHello. */
  flowLimitReached = 0;
  /** Flows where the client switched version mid-handshake (after Version Negotiation): reset. */
  versionChanged = 0;

  snapshot(): Record<string, number> {
    return {
      'quic.datagrams': this.datagrams,
      'quic.not_long_header': this.notLongHeader,
      'quic.long_packets': this.longPackets,
      'quic.header_truncated': this.headerTruncated,
      'quic.cid_too_long': this.cidTooLong,
      'quic.version_negotiation': this.versionNegotiation,
      'quic.unsupported_version': this.unsupportedVersion,
      'quic.initial_packets': this.initialPackets,
      'quic.initial_decrypted': this.initialDecrypted,
      'quic.initial_decrypt_failed': this.initialDecryptFailed,
      'quic.initial_too_short': this.initialTooShort,
      'quic.reserved_bits_set': this.reservedBitsSet,
      'quic.other_long_packets': this.otherLongPackets,
      'quic.retry_packets': this.retryPackets,
      'quic.coalesced_short_header': this.coalescedShortHeader,
      'quic.coalesced_dcid_mismatch': this.coalescedDcidMismatch,
      'quic.trailing_padding': this.trailingPadding,
      'quic.frame_malformed': this.frameMalformed,
      'quic.frame_unexpected': this.frameUnexpected,
      'quic.crypto_frames': this.cryptoFrames,
      'quic.crypto_bytes': this.cryptoBytes,
      'quic.connection_close': this.connectionClose,
      'quic.crypto_out_of_window': this.cryptoOutOfWindow,
      'quic.crypto_conflict': this.cryptoConflict,
      'quic.client_hello_complete': this.clientHelloComplete,
      'quic.client_hello_too_large': this.clientHelloTooLarge,
      'quic.not_client_hello': this.notClientHello,
      'quic.flow_limit_reached': this.flowLimitReached,
      'quic.version_changed': this.versionChanged,
    };
  }
}
