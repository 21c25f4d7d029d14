/**
 * The contract between packet sources (capture files, live interfaces) and the pipeline.
 *
 * A source calls `onPacket` once per packet. `buf` is only valid during the call: sources reuse
 * their read buffers, so a consumer that needs bytes later must copy them. Timestamps are
 * microseconds since the Unix epoch as a double (exact up to 2^53 µs, i.e. year 2255).
 */
export type PacketCallback = (
  buf: Buffer,
  offset: number,
  capLen: number,
  wireLen: number,
  tsUs: number,
  linkType: number,
  ifIndex: number,
) => void;

/** DLT_/LINKTYPE_ values (https://www.tcpdump.org/linktypes.html) the decoder understands. */
export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte host-order address family
  PPP: 9, // RFC 1661 without HDLC framing: 2-byte protocol field (or a Cisco HDLC header)
  PPP_SERIAL: 50, // PPP in HDLC-like framing (RFC 1662): 4 bytes, protocol in bytes 2-3
  C_HDLC: 104, // Cisco HDLC: address, control, 2-byte ethertype
  PPI: 192, // Per-Packet Information header, then the DLT it names
  ETHERNET: 1,
  RAW: 101, // raw IPv4/IPv6 (LINKTYPE_RAW)
  RAW_DLT12: 12, // DLT_RAW on some BSDs / older libpcap
  RAW_DLT14: 14, // DLT_RAW on OpenBSD
  LOOP: 108, // OpenBSD loopback: 4-byte network-order address family
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
