/**
 * IPv6 Neighbor Discovery (RFC 4861) messages that bind an address to a link-layer address.
 *
 * Pure `(buf, offset, end, out) → ParseStatus` over an ICMPv6 message (RFC 4443 §2.1 header);
 * never throws, allocates nothing. Kept:
 * - Neighbor Solicitation (§4.3): target, Source Link-Layer Address option (§4.6.1) → binds the
 *   packet's source address (unless unspecified: duplicate address detection, §7.2.2);
 * - Neighbor Advertisement (§4.4): target + Target Link-Layer Address option → binds the target;
 *   the override flag is kept;
 * - Router Solicitation (§4.1) / Router Advertisement (§4.2): source link-layer address → binds
 *   the source address.
 * Options are walked with their 8-octet length units; a zero length is MALFORMED (§4.6).
 */
import { ParseStatus } from '../parse-status.js';

export const ICMPV6_RS = 133;
export const ICMPV6_RA = 134;
export const ICMPV6_NS = 135;
export const ICMPV6_NA = 136;
/** Bound on options walked per message (a loop guard; real messages carry a handful). */
export const NDP_MAX_OPTIONS = 32;

export const enum NdpError { NONE = 0, TRUNCATED = 1, OPTION_ZERO_LENGTH = 2, OPTION_TRUNCATED = 3, TOO_MANY_OPTIONS = 4 }

export class NdpMessage {
  error: NdpError = NdpError.NONE;
  type = 0;
  /** Offset of the 16-byte target address (NS/NA), -1 otherwise. */
  targetOffset = -1;
  /** Offset of the 6-byte link-layer address from the SLLA (type 1) or TLLA (type 2) option. */
  sourceLinkAddrOffset = -1;
  targetLinkAddrOffset = -1;
  /** NA flags (§4.4): router, solicited, override. */
  router = false;
  solicited = false;
  override = false;
}

export function parseNdp(buf: Buffer, offset: number, end: number, out: NdpMessage): ParseStatus {
  out.error = NdpError.NONE;
  out.targetOffset = -1; out.sourceLinkAddrOffset = -1; out.targetLinkAddrOffset = -1;
  out.router = false; out.solicited = false; out.override = false;
  if (end > buf.length) end = buf.length;
  if (end - offset < 4) return ParseStatus.NOT_MINE;
  const type = buf[offset]!;
  let o: number;
  switch (type) {
    case ICMPV6_RS: o = offset + 8; break;
    case ICMPV6_RA: o = offset + 16; break;
    case ICMPV6_NS: case ICMPV6_NA: o = offset + 24; break;
    default: return ParseStatus.NOT_MINE;
  }
  // §6.1.1 / §7.1: the code must be 0; anything else is not a valid ND message.
  if (buf[offset + 1] !== 0) return ParseStatus.NOT_MINE;
  out.type = type;
  if (o > end) { out.error = NdpError.TRUNCATED; return ParseStatus.MALFORMED; }
  if (type === ICMPV6_NS || type === ICMPV6_NA) out.targetOffset = offset + 8;
  if (type === ICMPV6_NA) {
    const f = buf[offset + 4]!;
    out.router = (f & 0x80) !== 0; out.solicited = (f & 0x40) !== 0; out.override = (f & 0x20) !== 0;
  }
  for (let n = 0; o < end; n++) {
    if (n >= NDP_MAX_OPTIONS) { out.error = NdpError.TOO_MANY_OPTIONS; return ParseStatus.MALFORMED; }
    if (o + 2 > end) { out.error = NdpError.OPTION_TRUNCATED; return ParseStatus.MALFORMED; }
    const optType = buf[o]!, units = buf[o + 1]!;
    if (units === 0) { out.error = NdpError.OPTION_ZERO_LENGTH; return ParseStatus.MALFORMED; }
    const len = units * 8;
    if (o + len > end) { out.error = NdpError.OPTION_TRUNCATED; return ParseStatus.MALFORMED; }
    // §4.6.1: link-layer address options; on Ethernet the address is 6 bytes (RFC 2464 §8).
    if (optType === 1 && len >= 8 && out.sourceLinkAddrOffset === -1) out.sourceLinkAddrOffset = o + 2;
    if (optType === 2 && len >= 8 && out.targetLinkAddrOffset === -1) out.targetLinkAddrOffset = o + 2;
    o += len;
  }
  return ParseStatus.OK;
}
