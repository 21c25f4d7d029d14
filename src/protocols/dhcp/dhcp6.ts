/**
 * DHCPv6 message parser (RFC 8415 §8 client/server format, §9 relay format, §21 options).
 *
 * Pure `(buf, offset, end, out) → ParseStatus`; never throws, allocates nothing. Relay-forward /
 * relay-reply messages are unwrapped through their Relay Message option (§21.10) at most
 * DHCP6_MAX_RELAY_DEPTH times (§19: HOP_COUNT_LIMIT 8). Kept: message type, transaction id,
 * client DUID (§21.2) and server DUID (§21.3) as offsets, every IA Address (§21.6) of every IA_NA
 * (§21.4) — a message may carry several IA_NA and each several addresses — up to
 * DHCP6_MAX_IA_ADDRESSES with their IAID and valid lifetime (the excess counted in
 * `iaAddrDropped`), client FQDN (RFC 4704 §4), vendor class (§21.16) and the option request
 * option (§21.7) as a fingerprint.
 */
import { ParseStatus } from '../parse-status.js';

export const DHCP6_MAX_RELAY_DEPTH = 8;
/**
 * IA Addresses kept per message. RFC 8415 sets no limit; a client is normally given one address
 * per IA_NA and asks for few IA_NA, so more than this is either an unusual server or a crafted
 * packet: the rest are counted (`dhcp.v6.ia_addresses_dropped`), not kept.
 */
export const DHCP6_MAX_IA_ADDRESSES = 8;

export const Dhcp6Type = {
  SOLICIT: 1, ADVERTISE: 2, REQUEST: 3, CONFIRM: 4, RENEW: 5, REBIND: 6, REPLY: 7, RELEASE: 8,
  DECLINE: 9, RECONFIGURE: 10, INFORMATION_REQUEST: 11, RELAY_FORW: 12, RELAY_REPL: 13,
} as const;
export const DHCP6_TYPE_NAMES: readonly string[] = ['', 'SOLICIT', 'ADVERTISE', 'REQUEST', 'CONFIRM', 'RENEW', 'REBIND',
  'REPLY', 'RELEASE', 'DECLINE', 'RECONFIGURE', 'INFORMATION-REQUEST', 'RELAY-FORW', 'RELAY-REPL'];

export const enum Dhcp6Error {
  NONE = 0,
  TRUNCATED = 1,
  OPTION_TRUNCATED = 2,
  RELAY_TOO_DEEP = 3,
  BAD_TYPE = 4,
}

export class Dhcp6Message {
  error: Dhcp6Error = Dhcp6Error.NONE;
  msgType = 0;
  /** 24-bit transaction id (§8). */
  xid = 0;
  relayDepth = 0;
  clientIdOffset = -1; clientIdLength = 0;
  serverIdOffset = -1; serverIdLength = 0;
  /** IA Addresses kept (≤ DHCP6_MAX_IA_ADDRESSES), in message order; entries past it are stale. */
  iaAddrCount = 0;
  /** IA Addresses seen beyond DHCP6_MAX_IA_ADDRESSES. */
  iaAddrDropped = 0;
  /** Per kept address: offset of its 16 bytes, its valid lifetime (s), the IAID of its IA_NA. */
  readonly iaAddrOffsets = new Int32Array(DHCP6_MAX_IA_ADDRESSES);
  readonly iaValidLifetimes = new Uint32Array(DHCP6_MAX_IA_ADDRESSES);
  readonly iaIds = new Uint32Array(DHCP6_MAX_IA_ADDRESSES);
  fqdnOffset = -1; fqdnLength = 0;
  vendorClassOffset = -1; vendorClassLength = 0;
  oroOffset = -1; oroLength = 0;
}

function u16(b: Buffer, o: number): number { return (b[o]! << 8) | b[o + 1]!; }
function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * IA_NA body after IAID/T1/T2: its options; every IAADDR (§21.6: address 16, preferred 4, valid 4,
 * then its own options, so 24+ bytes) is kept up to DHCP6_MAX_IA_ADDRESSES.
 */
function iaOptions(buf: Buffer, o: number, end: number, iaid: number, out: Dhcp6Message): boolean {
  while (o + 4 <= end) {
    const code = u16(buf, o), len = u16(buf, o + 2);
    const v = o + 4;
    if (v + len > end) return false;
    if (code === 5 && len >= 24) {
      const i = out.iaAddrCount;
      if (i < DHCP6_MAX_IA_ADDRESSES) {
        out.iaAddrOffsets[i] = v;
        out.iaValidLifetimes[i] = u32(buf, v + 20);
        out.iaIds[i] = iaid;
        out.iaAddrCount = i + 1;
      } else {
        out.iaAddrDropped++;
      }
    }
    o = v + len;
  }
  return o === end;
}

export function parseDhcp6(buf: Buffer, offset: number, end: number, out: Dhcp6Message): ParseStatus {
  out.error = Dhcp6Error.NONE;
  out.msgType = 0; out.xid = 0; out.relayDepth = 0;
  out.clientIdOffset = -1; out.clientIdLength = 0; out.serverIdOffset = -1; out.serverIdLength = 0;
  out.iaAddrCount = 0; out.iaAddrDropped = 0;
  out.fqdnOffset = -1; out.fqdnLength = 0; out.vendorClassOffset = -1; out.vendorClassLength = 0;
  out.oroOffset = -1; out.oroLength = 0;
  if (end > buf.length) end = buf.length;
  let o = offset;
  for (;;) {
    if (end - o < 4) { out.error = Dhcp6Error.TRUNCATED; return o === offset && end - o < 1 ? ParseStatus.NOT_MINE : ParseStatus.MALFORMED; }
    const type = buf[o]!;
    if (type === 0 || type > 36) { out.error = Dhcp6Error.BAD_TYPE; return o === offset ? ParseStatus.NOT_MINE : ParseStatus.MALFORMED; }
    if (type !== Dhcp6Type.RELAY_FORW && type !== Dhcp6Type.RELAY_REPL) {
      out.msgType = type;
      out.xid = (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
      o += 4;
      break;
    }
    // §9: msg-type, hop-count, link-address (16), peer-address (16), options.
    if (out.relayDepth >= DHCP6_MAX_RELAY_DEPTH) { out.error = Dhcp6Error.RELAY_TOO_DEEP; return ParseStatus.MALFORMED; }
    if (end - o < 34) { out.error = Dhcp6Error.TRUNCATED; return ParseStatus.MALFORMED; }
    let p = o + 34;
    let inner = -1, innerEnd = -1;
    while (p + 4 <= end) {
      const code = u16(buf, p), len = u16(buf, p + 2);
      if (p + 4 + len > end) { out.error = Dhcp6Error.OPTION_TRUNCATED; return ParseStatus.MALFORMED; }
      if (code === 9 && inner === -1) { inner = p + 4; innerEnd = p + 4 + len; }
      p += 4 + len;
    }
    if (inner === -1) { out.error = Dhcp6Error.TRUNCATED; return ParseStatus.MALFORMED; }
    out.relayDepth++;
    o = inner;
    end = innerEnd;
  }
  while (o < end) {
    if (o + 4 > end) { out.error = Dhcp6Error.OPTION_TRUNCATED; return ParseStatus.MALFORMED; }
    const code = u16(buf, o), len = u16(buf, o + 2);
    const v = o + 4;
    if (v + len > end) { out.error = Dhcp6Error.OPTION_TRUNCATED; return ParseStatus.MALFORMED; }
    switch (code) {
      case 1: if (out.clientIdOffset === -1) { out.clientIdOffset = v; out.clientIdLength = len; } break;
      case 2: if (out.serverIdOffset === -1) { out.serverIdOffset = v; out.serverIdLength = len; } break;
      case 3: // IA_NA: IAID(4) T1(4) T2(4) options (§21.4)
        if (len >= 12 && !iaOptions(buf, v + 12, v + len, u32(buf, v), out)) { out.error = Dhcp6Error.OPTION_TRUNCATED; return ParseStatus.MALFORMED; }
        break;
      case 6: if (out.oroOffset === -1) { out.oroOffset = v; out.oroLength = len; } break;
      case 16: if (out.vendorClassOffset === -1) { out.vendorClassOffset = v; out.vendorClassLength = len; } break;
      case 39: if (out.fqdnOffset === -1) { out.fqdnOffset = v; out.fqdnLength = len; } break;
      default: break;
    }
    o = v + len;
  }
  return ParseStatus.OK;
}
