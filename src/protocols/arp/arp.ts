/**
 * ARP (RFC 826) over Ethernet, and the link-layer framing needed to find it in a non-IP frame.
 *
 * Pure `(buf, offset, end, out) → ParseStatus`; never throws, allocates nothing. Only the
 * Ethernet/IPv4 form (htype 1, ptype 0x0800, hlen 6, plen 4) is kept: other hardware or protocol
 * types are NOT_MINE. Gratuitous ARP (RFC 5227 §3: sender IP = target IP) and ARP probes
 * (RFC 5227 §2.1.1: sender IP 0.0.0.0) are flagged.
 */
import { ParseStatus } from '../parse-status.js';

export const ETHERTYPE_ARP = 0x0806;
export const ARP_ETHERNET_IPV4_LENGTH = 28;

export const enum ArpError { NONE = 0, TRUNCATED = 1, BAD_OPERATION = 2 }

export class ArpMessage {
  error: ArpError = ArpError.NONE;
  /** 1 request, 2 reply (RFC 826 "ar$op"). */
  operation = 0;
  senderMacOffset = -1;
  senderIp = 0;
  targetMacOffset = -1;
  targetIp = 0;
  gratuitous = false;
  probe = false;
}

function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function parseArp(buf: Buffer, offset: number, end: number, out: ArpMessage): ParseStatus {
  out.error = ArpError.NONE;
  out.gratuitous = false;
  out.probe = false;
  if (end > buf.length) end = buf.length;
  if (end - offset < 8) { out.error = ArpError.TRUNCATED; return ParseStatus.MALFORMED; }
  const htype = (buf[offset]! << 8) | buf[offset + 1]!;
  const ptype = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if (htype !== 1 || ptype !== 0x0800 || buf[offset + 4] !== 6 || buf[offset + 5] !== 4) return ParseStatus.NOT_MINE;
  if (end - offset < ARP_ETHERNET_IPV4_LENGTH) { out.error = ArpError.TRUNCATED; return ParseStatus.MALFORMED; }
  const op = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  if (op !== 1 && op !== 2) { out.error = ArpError.BAD_OPERATION; return ParseStatus.MALFORMED; }
  out.operation = op;
  out.senderMacOffset = offset + 8;
  out.senderIp = u32(buf, offset + 14);
  out.targetMacOffset = offset + 18;
  out.targetIp = u32(buf, offset + 24);
  out.probe = out.senderIp === 0;
  out.gratuitous = !out.probe && out.senderIp === out.targetIp;
  return ParseStatus.OK;
}

/**
 * Offset of the ARP payload in a frame of `linkType` (Ethernet with up to two 802.1Q/802.1ad
 * tags, Linux cooked v1/v2), or -1 when the frame is not ARP.
 */
export function arpPayloadOffset(buf: Buffer, offset: number, end: number, linkType: number): number {
  if (end > buf.length) end = buf.length;
  if (linkType === 1) {
    let o = offset + 12;
    for (let tags = 0; tags < 3; tags++) {
      if (o + 2 > end) return -1;
      const et = (buf[o]! << 8) | buf[o + 1]!;
      if (et === ETHERTYPE_ARP) return o + 2;
      if (et !== 0x8100 && et !== 0x88a8 && et !== 0x9100) return -1;
      o += 4;
    }
    return -1;
  }
  if (linkType === 113) return end - offset >= 16 && ((buf[offset + 14]! << 8) | buf[offset + 15]!) === ETHERTYPE_ARP ? offset + 16 : -1;
  if (linkType === 276) return end - offset >= 20 && ((buf[offset]! << 8) | buf[offset + 1]!) === ETHERTYPE_ARP ? offset + 20 : -1;
  return -1;
}
