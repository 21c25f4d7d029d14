/**
 * DHCPv4 message parser (RFC 2131 §2 message format, RFC 2132 options).
 *
 * Pure: `(buf, offset, end, out) → ParseStatus`; reads only buf[offset, end), writes only `out`,
 * never throws, allocates nothing. Options are recorded as (offset, length) per option code in
 * `out.optOffset` / `out.optLength`; strings are built by the caller (./fields.ts) only for
 * messages it keeps. Limits enforced here:
 * - fixed header 236 bytes + 4-byte magic cookie (RFC 2131 §3, RFC 2132 §2), else NOT_MINE/MALFORMED;
 * - every option length is checked against the end of its area (RFC 2132 §2);
 * - option overload (52, RFC 2132 §9.3) parses `file` then `sname` as further option areas;
 * - an option repeated in one message is counted and the first kept (RFC 3396 concatenation
 *   of long options is not reassembled).
 */
import { ParseStatus } from '../parse-status.js';

export const DHCP4_FIXED_HEADER = 236;
export const DHCP4_MAGIC_COOKIE = 0x63825363;

/** Message types, option 53 (RFC 2132 §9.6; INFORM RFC 2131 §3.4). */
export const Dhcp4Type = {
  DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8,
} as const;
export const DHCP4_TYPE_NAMES: readonly string[] = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];

export const Dhcp4Option = {
  PAD: 0, SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOST_NAME: 12, DOMAIN_NAME: 15,
  REQUESTED_ADDRESS: 50, LEASE_TIME: 51, OVERLOAD: 52, MESSAGE_TYPE: 53, SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55, MESSAGE: 56, VENDOR_CLASS: 60, CLIENT_ID: 61,
  CLIENT_FQDN: 81, RELAY_AGENT: 82, END: 255,
} as const;

/** Why a message was MALFORMED; the caller maps it to a counter (see counters.ts). */
export const enum Dhcp4Error {
  NONE = 0,
  TRUNCATED = 1,
  OPTION_TRUNCATED = 2,
  OPTION_BAD_LENGTH = 3,
  NO_MESSAGE_TYPE = 4,
  BAD_OP = 5,
}

export class Dhcp4Message {
  error: Dhcp4Error = Dhcp4Error.NONE;
  /** 1 BOOTREQUEST, 2 BOOTREPLY. */
  op = 0;
  htype = 0;
  hlen = 0;
  xid = 0;
  secs = 0;
  flags = 0;
  ciaddr = 0;
  yiaddr = 0;
  siaddr = 0;
  giaddr = 0;
  /** Offset of chaddr in buf; the MAC is meaningful when htype = 1 and hlen = 6. */
  chaddrOffset = -1;
  /** Option 53, 0 when absent (then the result is MALFORMED with NO_MESSAGE_TYPE). */
  msgType = 0;
  /** Option 51 in seconds, -1 when absent. */
  leaseTimeS = -1;
  /** Option 50 (requested address), 0 when absent. */
  requestedAddr = 0;
  /** Option 54 (server identifier), 0 when absent. */
  serverId = 0;
  /** Options repeated in this message (first occurrence kept). */
  repeatedOptions = 0;
  /** Value offset / length per option code, -1 when absent. */
  readonly optOffset = new Int32Array(256);
  readonly optLength = new Int32Array(256);

  hasEthernetMac(): boolean {
    return this.htype === 1 && this.hlen === 6 && this.chaddrOffset >= 0;
  }
}

function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Walks one option area [o, end) (RFC 2132 §2: code, length, value; PAD and END single bytes). */
function parseOptionArea(buf: Buffer, o: number, end: number, out: Dhcp4Message): Dhcp4Error {
  while (o < end) {
    const code = buf[o]!;
    if (code === Dhcp4Option.PAD) { o++; continue; }
    if (code === Dhcp4Option.END) return Dhcp4Error.NONE;
    if (o + 2 > end) return Dhcp4Error.OPTION_TRUNCATED;
    const len = buf[o + 1]!;
    const v = o + 2;
    if (v + len > end) return Dhcp4Error.OPTION_TRUNCATED;
    if (out.optOffset[code] !== -1) {
      out.repeatedOptions++;
    } else {
      out.optOffset[code] = v;
      out.optLength[code] = len;
    }
    o = v + len;
  }
  // RFC 2132 §2 asks for an END option; many stacks omit it after padding: tolerated.
  return Dhcp4Error.NONE;
}

/**
 * Parses one DHCPv4 message (a UDP payload on port 67/68) in buf[offset, end).
 * NOT_MINE: shorter than a BOOTP header with no DHCP magic cookie (plain BOOTP, RFC 951).
 */
export function parseDhcp4(buf: Buffer, offset: number, end: number, out: Dhcp4Message): ParseStatus {
  out.error = Dhcp4Error.NONE;
  out.msgType = 0;
  out.leaseTimeS = -1;
  out.requestedAddr = 0;
  out.serverId = 0;
  out.repeatedOptions = 0;
  out.chaddrOffset = -1;
  out.optOffset.fill(-1);
  out.optLength.fill(0);
  if (end > buf.length) end = buf.length;
  if (end - offset < DHCP4_FIXED_HEADER + 4) {
    // A cookie-less short datagram is not DHCP; a short one with the cookie cannot exist.
    out.error = Dhcp4Error.TRUNCATED;
    return end - offset >= 1 && (buf[offset] === 1 || buf[offset] === 2) ? ParseStatus.MALFORMED : ParseStatus.NOT_MINE;
  }
  if (u32(buf, offset + DHCP4_FIXED_HEADER) !== DHCP4_MAGIC_COOKIE) return ParseStatus.NOT_MINE;
  const op = buf[offset]!;
  if (op !== 1 && op !== 2) { out.error = Dhcp4Error.BAD_OP; return ParseStatus.MALFORMED; }
  out.op = op;
  out.htype = buf[offset + 1]!;
  out.hlen = buf[offset + 2]!;
  out.xid = u32(buf, offset + 4);
  out.secs = (buf[offset + 8]! << 8) | buf[offset + 9]!;
  out.flags = (buf[offset + 10]! << 8) | buf[offset + 11]!;
  out.ciaddr = u32(buf, offset + 12);
  out.yiaddr = u32(buf, offset + 16);
  out.siaddr = u32(buf, offset + 20);
  out.giaddr = u32(buf, offset + 24);
  out.chaddrOffset = offset + 28;
  let err = parseOptionArea(buf, offset + DHCP4_FIXED_HEADER + 4, end, out);
  if (err === Dhcp4Error.NONE && out.optOffset[Dhcp4Option.OVERLOAD] !== -1) {
    // RFC 2132 §9.3: 1 = file holds options, 2 = sname, 3 = both (file first, then sname).
    const ov = out.optLength[Dhcp4Option.OVERLOAD] === 1 ? buf[out.optOffset[Dhcp4Option.OVERLOAD]!]! : 0;
    if ((ov & 1) !== 0) err = parseOptionArea(buf, offset + 108, offset + 236, out);
    if (err === Dhcp4Error.NONE && (ov & 2) !== 0) err = parseOptionArea(buf, offset + 44, offset + 108, out);
  }
  if (err !== Dhcp4Error.NONE) { out.error = err; return ParseStatus.MALFORMED; }
  const mt = out.optOffset[Dhcp4Option.MESSAGE_TYPE]!;
  if (mt === -1 || out.optLength[Dhcp4Option.MESSAGE_TYPE] !== 1) {
    out.error = mt === -1 ? Dhcp4Error.NO_MESSAGE_TYPE : Dhcp4Error.OPTION_BAD_LENGTH;
    return ParseStatus.MALFORMED;
  }
  out.msgType = buf[mt]!;
  // Fixed-size options (RFC 2132 §9.2, §9.1, §9.7): a wrong length is counted, the value dropped.
  const lt = out.optOffset[Dhcp4Option.LEASE_TIME]!;
  if (lt !== -1) {
    if (out.optLength[Dhcp4Option.LEASE_TIME] === 4) out.leaseTimeS = u32(buf, lt);
    else out.error = Dhcp4Error.OPTION_BAD_LENGTH;
  }
  const ra = out.optOffset[Dhcp4Option.REQUESTED_ADDRESS]!;
  if (ra !== -1) {
    if (out.optLength[Dhcp4Option.REQUESTED_ADDRESS] === 4) out.requestedAddr = u32(buf, ra);
    else out.error = Dhcp4Error.OPTION_BAD_LENGTH;
  }
  const si = out.optOffset[Dhcp4Option.SERVER_ID]!;
  if (si !== -1) {
    if (out.optLength[Dhcp4Option.SERVER_ID] === 4) out.serverId = u32(buf, si);
    else out.error = Dhcp4Error.OPTION_BAD_LENGTH;
  }
  return ParseStatus.OK;
}
