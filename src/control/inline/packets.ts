/**
 * The few packets the verdict path writes itself, built from the packet they answer: a TCP RST
 * to the server in the client's name, and a DNS NXDOMAIN answer to the client in the resolver's
 * name. Both are built only for blocked flows (rare), so they allocate.
 */
import type { DecodedPacket } from '../../decode/decoder.js';

function checksum(buf: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if ((end - start) & 1) sum += buf[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** One's-complement sum of the pseudo-header (RFC 793 §3.1, RFC 768, RFC 8200 §8.1). */
function pseudoSum(ip: Buffer, v4: boolean, proto: number, l4Length: number): number {
  let sum = 0;
  const [off, len] = v4 ? [12, 8] : [8, 32];
  for (let i = off; i < off + len; i += 2) sum += (ip[i]! << 8) | ip[i + 1]!;
  sum += proto + (l4Length >>> 16) + (l4Length & 0xffff);
  return sum;
}

/** An IP header (v4: 20 bytes, v6: 40) from `src` to `dst` (address bytes taken from `from`). */
function ipHeader(from: Buffer, p: DecodedPacket, swap: boolean, proto: number, l4Length: number): Buffer {
  const o = p.ipOffset;
  if (p.ipVersion === 4) {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h.writeUInt16BE(20 + l4Length, 2);
    h[6] = 0x40; // DF
    h[8] = 64;
    h[9] = proto;
    const s = swap ? 16 : 12, d = swap ? 12 : 16;
    from.copy(h, 12, o + s, o + s + 4);
    from.copy(h, 16, o + d, o + d + 4);
    h.writeUInt16BE(~checksum(h, 0, 20) & 0xffff, 10);
    return h;
  }
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(l4Length, 4);
  h[6] = proto;
  h[7] = 64;
  const s = swap ? 24 : 8, d = swap ? 8 : 24;
  from.copy(h, 8, o + s, o + s + 16);
  from.copy(h, 24, o + d, o + d + 16);
  return h;
}

export interface RawPacket { family: 4 | 6; packet: Buffer; dst: Buffer }

/**
 * A RST from the blocked segment's sender to its receiver, with the segment's own sequence
 * number: the next one the server expects, so the server accepts it (RFC 793 §3.4 "Reset
 * Processing"; RFC 5961 §3.2 requires the exact RCV.NXT, which this is).
 */
export function tcpResetToServer(buf: Buffer, p: DecodedPacket): RawPacket {
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(p.srcPort, 0);
  tcp.writeUInt16BE(p.dstPort, 2);
  tcp.writeUInt32BE(p.tcpSeq >>> 0, 4);
  tcp[12] = 5 << 4;
  tcp[13] = 0x04; // RST
  const ip = ipHeader(buf, p, false, 6, 20);
  const v4 = p.ipVersion === 4;
  tcp.writeUInt16BE(~checksum(tcp, 0, 20, pseudoSum(ip, v4, 6, 20)) & 0xffff, 16);
  return { family: v4 ? 4 : 6, packet: Buffer.concat([ip, tcp]), dst: Buffer.from(ip.subarray(v4 ? 16 : 24, v4 ? 20 : 40)) };
}

/**
 * The NXDOMAIN answer to a DNS query over UDP: the query's header and first question, with QR
 * set, RCODE 3 (Name Error, RFC 1035 §4.1.1), RA set and no records; from the resolver's address
 * and port to the client's. Undefined when the question cannot be walked (malformed query).
 */
export function dnsNxdomain(buf: Buffer, p: DecodedPacket): RawPacket | undefined {
  const off = p.payloadOffset, end = off + p.payloadLength;
  if (p.payloadLength < 12 || buf.readUInt16BE(off + 4) < 1) return undefined;
  // Walk the first question's name (labels only: a query's question is never compressed).
  let i = off + 12;
  for (let n = 0; n < 128; n++) {
    if (i >= end) return undefined;
    const len = buf[i]!;
    if (len === 0) { i++; break; }
    if ((len & 0xc0) !== 0) return undefined;
    i += 1 + len;
  }
  i += 4; // QTYPE, QCLASS
  if (i > end) return undefined;
  const dnsLen = i - off;
  const udp = Buffer.alloc(8 + dnsLen);
  udp.writeUInt16BE(p.dstPort, 0);
  udp.writeUInt16BE(p.srcPort, 2);
  udp.writeUInt16BE(8 + dnsLen, 4);
  buf.copy(udp, 8, off, i);
  const flags = buf.readUInt16BE(off + 2);
  // QR=1, keep OPCODE and RD, AA=0, TC=0, RA=1, Z/AD/CD=0, RCODE=3.
  udp.writeUInt16BE(0x8000 | (flags & 0x7900) | 0x0080 | 3, 8 + 2);
  udp.writeUInt16BE(1, 8 + 4);
  udp.writeUInt16BE(0, 8 + 6);
  udp.writeUInt16BE(0, 8 + 8);
  udp.writeUInt16BE(0, 8 + 10);
  const ip = ipHeader(buf, p, true, 17, udp.length);
  const v4 = p.ipVersion === 4;
  let c = ~checksum(udp, 0, udp.length, pseudoSum(ip, v4, 17, udp.length)) & 0xffff;
  if (c === 0) c = 0xffff;
  udp.writeUInt16BE(c, 6);
  return { family: v4 ? 4 : 6, packet: Buffer.concat([ip, udp]), dst: Buffer.from(ip.subarray(v4 ? 16 : 24, v4 ? 20 : 40)) };
}

/**
 * SPAN mode's resets for a blocked TCP flow seen on a mirror port, as Ethernet frames to send out
 * of the capture interface: one to the client in the server's name (RST+ACK, sequence number the
 * client's segment acknowledged) and one to the server in the client's name (RST, sequence number
 * just past the client's segment). Both are in window only until the other side's next segment
 * arrives: a race the injection may lose (RFC 5961 §3.2). `tcpOffset` is the TCP header's offset.
 */
export function tcpResetFrames(buf: Buffer, p: DecodedPacket, tcpOffset: number): { toClient: Buffer; toServer: Buffer } | undefined {
  if (p.dstMacOffset < 0 || p.srcMacOffset < 0 || p.dstMacOffset >= p.ipOffset) return undefined;
  const l2 = buf.subarray(p.dstMacOffset, p.ipOffset);
  const ack = buf.readUInt32BE(tcpOffset + 8);
  const next = (p.tcpSeq + p.payloadLength) >>> 0;
  const v4 = p.ipVersion === 4;
  const make = (toClient: boolean): Buffer => {
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(toClient ? p.dstPort : p.srcPort, 0);
    tcp.writeUInt16BE(toClient ? p.srcPort : p.dstPort, 2);
    tcp.writeUInt32BE(toClient ? ack : next, 4);
    tcp.writeUInt32BE(toClient ? next : 0, 8);
    tcp[12] = 5 << 4;
    tcp[13] = toClient ? 0x14 : 0x04; // RST+ACK / RST
    const ip = ipHeader(buf, p, toClient, 6, 20);
    tcp.writeUInt16BE(~checksum(tcp, 0, 20, pseudoSum(ip, v4, 6, 20)) & 0xffff, 16);
    const eth = Buffer.from(l2);
    if (toClient) {
      // Swap the MAC addresses: from the server side's MAC to the client's.
      buf.copy(eth, 0, p.srcMacOffset, p.srcMacOffset + 6);
      buf.copy(eth, 6, p.dstMacOffset, p.dstMacOffset + 6);
    }
    return Buffer.concat([eth, ip, tcp]);
  };
  return { toClient: make(true), toServer: make(false) };
}
