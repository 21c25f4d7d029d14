/**
 * Packet decoder: link layer → (VLAN, MPLS, PPPoE) → IPv4/IPv6 (→ tunnels) → transport header.
 *
 * Reads straight from the capture buffer into one reusable `DecodedPacket`; it allocates nothing,
 * never throws on packet content, and every reason to give up on a packet is a counter. Lengths
 * taken from headers are checked against the captured end before they are used.
 */
import { LinkType } from '../capture/types.js';
import { DecodeCounters } from './counters.js';
import {
  ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETHERTYPE_QINQ_OLD,
  ETHERTYPE_MPLS_UC, ETHERTYPE_MPLS_MC, ETHERTYPE_PPPOE_SESSION, PPP_IPV4, PPP_IPV6,
  IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS, IPPROTO_AH, IPPROTO_MOBILITY,
  IPPROTO_HIP, IPPROTO_SHIM6, IPPROTO_NONE, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE,
  IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_UDPLITE,
  MAX_VLAN_TAGS, MAX_MPLS_LABELS, MAX_IPV6_EXT_HEADERS, MAX_TUNNEL_DEPTH,
  UDP_PORT_VXLAN, UDP_PORT_GTPU, UDP_PORT_TZSP, UDP_PORT_CAPWAP_DATA, GRE_PROTO_PPP, GRE_PROTO_TRANSPARENT_ETHERNET, GRE_PROTO_ERSPAN_II, GRE_PROTO_ERSPAN_III,
} from './constants.js';

/** Result of decoding one packet. */
export const enum DecodeStatus {
  /** An IP packet with its transport ports (where the protocol has them): a flow packet. */
  OK = 0,
  /** Not an IP packet (ARP, LLDP, STP, ...): counted, not malformed. */
  NOT_IP = 1,
  /** Truncated or inconsistent headers: counted under a malformed-input counter. */
  MALFORMED = 2,
  /** A link type this build does not decode. */
  UNSUPPORTED = 3,
}

/** IPv4/IPv6 fragment position of the (innermost) IP packet. */
export const enum Fragment {
  NONE = 0,
  /** Offset 0 with more-fragments set: carries the transport header. */
  FIRST = 1,
  /** Offset > 0: no transport header. */
  LATER = 2,
}

/** One reusable decode result; fields are only meaningful when status is OK. */
export class DecodedPacket {
  /** Offsets of the outer Ethernet addresses in the buffer, -1 when the link has none. */
  dstMacOffset = -1;
  srcMacOffset = -1;
  /** Outermost 802.1Q VLAN id, 0 when untagged. */
  vlanId = 0;
  ipVersion = 0;
  /** Addresses as four 32-bit words each; an IPv4 address sits in word 3 with words 0-2 zero. */
  src0 = 0; src1 = 0; src2 = 0; src3 = 0;
  dst0 = 0; dst1 = 0; dst2 = 0; dst3 = 0;
  /** Transport protocol number of the innermost IP packet (after extension headers). */
  protocol = 0;
  srcPort = 0;
  dstPort = 0;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, ...). */
  tcpFlags = 0;
  /** TCP sequence number (unsigned 32-bit), for stream reassembly of the first bytes. */
  tcpSeq = 0;
  fragment: Fragment = Fragment.NONE;
  /** IPv4 identification or IPv6 fragment-header identification, when fragment !== NONE. */
  fragmentId = 0;
  /** Offset of the innermost IP header. */
  ipOffset = 0;
  /** Offset and length of the transport payload (after the TCP/UDP header), within capture. */
  payloadOffset = 0;
  payloadLength = 0;
  /** How many tunnel headers were removed to reach the inner packet. */
  tunnelDepth = 0;

  constructor() {
    // V8 records in an object's hidden class whether a number field holds small integers only
    // (31-bit) or any number; the first larger value widens it and deoptimizes every optimized
    // function that touched the object. Address words, sequence numbers and fragment ids reach
    // 2^30 at some packet mid-capture (an IPv6 address, a fragment): widened here, before any
    // code is optimized, so that this happens once at start instead of mid-replay.
    const wide = 2 ** 32 - 1;
    this.src0 = this.src1 = this.src2 = this.src3 = wide;
    this.dst0 = this.dst1 = this.dst2 = this.dst3 = wide;
    this.tcpSeq = this.fragmentId = wide;
    this.src0 = this.src1 = this.src2 = this.src3 = 0;
    this.dst0 = this.dst1 = this.dst2 = this.dst3 = 0;
    this.tcpSeq = this.fragmentId = 0;
  }
}

export interface DecoderOptions {
  /** Decapsulate GRE, VXLAN and GTP-U to the inner flow (IP-in-IP is always followed). */
  decapsulateUdpTunnels: boolean;
}

const TCP_HEADER_MIN = 20;
const UDP_HEADER = 8;

function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export class Decoder {
  readonly counters: DecodeCounters;
  private readonly decapsulateUdpTunnels: boolean;
  /** The current packet was cut by the capture's snaplen: IP lengths may exceed what we have. */
  private cutBySnaplen = false;

  constructor(counters: DecodeCounters, options: DecoderOptions = { decapsulateUdpTunnels: true }) {
    this.counters = counters;
    this.decapsulateUdpTunnels = options.decapsulateUdpTunnels;
  }

  /**
   * Decodes the packet in buf[offset, offset+capLen) captured on a link of `linkType`.
   * `wireLen` only feeds the byte counter; decoding is bounded by what was captured.
   */
  decode(buf: Buffer, offset: number, capLen: number, wireLen: number, linkType: number, out: DecodedPacket): DecodeStatus {
    const c = this.counters;
    const end = offset + capLen;
    this.cutBySnaplen = wireLen > capLen;
    out.dstMacOffset = -1;
    out.srcMacOffset = -1;
    out.vlanId = 0;
    out.tunnelDepth = 0;
    switch (linkType) {
      case LinkType.ETHERNET:
        return this.ethernet(buf, offset, end, out, 0);
      case LinkType.RAW:
      case LinkType.RAW_DLT12:
      case LinkType.RAW_DLT14:
        return this.rawIp(buf, offset, end, out);
      case LinkType.IPV4:
        return this.ipv4(buf, offset, end, out, 0);
      case LinkType.IPV6:
        return this.ipv6(buf, offset, end, out, 0);
      case LinkType.LINUX_SLL: {
        // Linux "cooked" v1: 16-byte header, protocol (ethertype) in the last two bytes.
        if (end - offset < 16) { c.linkTruncated++; return DecodeStatus.MALFORMED; }
        return this.ethertype(buf, u16(buf, offset + 14), offset + 16, end, out, 0);
      }
      case LinkType.LINUX_SLL2: {
        // Linux cooked v2: 20-byte header, protocol first.
        if (end - offset < 20) { c.linkTruncated++; return DecodeStatus.MALFORMED; }
        return this.ethertype(buf, u16(buf, offset), offset + 20, end, out, 0);
      }
      case LinkType.NULL:
      case LinkType.LOOP: {
        // BSD loopback: a 4-byte address family, host byte order of the capturing machine for
        // DLT_NULL (so either order here), network order for DLT_LOOP.
        if (end - offset < 4) { c.linkTruncated++; return DecodeStatus.MALFORMED; }
        let family = u32(buf, offset);
        if (family > 0xffff) family = ((family & 0xff) << 24 | (family & 0xff00) << 8 | (family >>> 8) & 0xff00 | family >>> 24) >>> 0;
        if (family === 2) return this.ipv4(buf, offset + 4, end, out, 0);
        // AF_INET6 differs per BSD: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
        if (family === 24 || family === 28 || family === 30 || family === 10) return this.ipv6(buf, offset + 4, end, out, 0);
        c.nonIp++;
        return DecodeStatus.NOT_IP;
      }
      case LinkType.PPP:
      case LinkType.C_HDLC:
      case LinkType.PPP_SERIAL: {
        if (end - offset < 4) { c.linkTruncated++; return DecodeStatus.MALFORMED; }
        const first = buf[offset]!;
        // Cisco HDLC frames start with address 0x0F (unicast) or 0x8F (broadcast), then control
        // and an ethertype; PPP in HDLC-like framing starts FF 03 then the protocol (RFC 1662 §3.1).
        if (first === 0x0f || first === 0x8f) return this.ethertype(buf, u16(buf, offset + 2), offset + 4, end, out, 0);
        let o = offset;
        if (first === 0xff && buf[offset + 1] === 0x03) o += 2;
        const ppp = u16(buf, o);
        if (ppp === PPP_IPV4) return this.ipv4(buf, o + 2, end, out, 0);
        if (ppp === PPP_IPV6) return this.ipv6(buf, o + 2, end, out, 0);
        c.nonIp++;
        return DecodeStatus.NOT_IP;
      }
      case LinkType.PPI: {
        // PPI header: version, flags, little-endian length and DLT of what follows.
        if (end - offset < 8) { c.linkTruncated++; return DecodeStatus.MALFORMED; }
        const len = buf[offset + 2]! | (buf[offset + 3]! << 8);
        const dlt = (buf[offset + 4]! | (buf[offset + 5]! << 8) | (buf[offset + 6]! << 16) | (buf[offset + 7]! << 24)) >>> 0;
        if (len < 8 || len > end - offset) { c.linkTruncated++; return DecodeStatus.MALFORMED; }
        if (dlt === LinkType.PPI) { c.unsupportedLinkType++; return DecodeStatus.UNSUPPORTED; }
        return this.decode(buf, offset + len, end - offset - len, this.cutBySnaplen ? end - offset : end - offset - len, dlt, out);
      }
      default:
        c.unsupportedLinkType++;
        return DecodeStatus.UNSUPPORTED;
    }
  }

  private rawIp(buf: Buffer, o: number, end: number, out: DecodedPacket): DecodeStatus {
    if (o >= end) { this.counters.linkTruncated++; return DecodeStatus.MALFORMED; }
    const version = buf[o]! >> 4;
    if (version === 4) return this.ipv4(buf, o, end, out, 0);
    if (version === 6) return this.ipv6(buf, o, end, out, 0);
    this.counters.nonIp++;
    return DecodeStatus.NOT_IP;
  }

  private ethernet(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    if (end - o < 14) { this.counters.linkTruncated++; return DecodeStatus.MALFORMED; }
    if (depth === 0) {
      out.dstMacOffset = o;
      out.srcMacOffset = o + 6;
    }
    return this.ethertype(buf, u16(buf, o + 12), o + 14, end, out, depth);
  }

  /** Follows an ethertype through VLAN tags, MPLS labels and PPPoE to the IP header. */
  private ethertype(buf: Buffer, type: number, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    // IEEE 802.1Q / 802.1ad (QinQ): 4-byte tags; the outermost id goes in the flow key.
    let tags = 0;
    while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
      if (end - o < 4) { c.vlanTruncated++; return DecodeStatus.MALFORMED; }
      if (++tags > MAX_VLAN_TAGS) { c.vlanTooDeep++; return DecodeStatus.MALFORMED; }
      if (tags === 1 && depth === 0) out.vlanId = u16(buf, o) & 0x0fff;
      type = u16(buf, o + 2);
      o += 4;
    }
    switch (type) {
      case ETHERTYPE_IPV4:
        return this.ipv4(buf, o, end, out, depth);
      case ETHERTYPE_IPV6:
        return this.ipv6(buf, o, end, out, depth);
      case ETHERTYPE_MPLS_UC:
      case ETHERTYPE_MPLS_MC: {
        // RFC 3032 §2.1: 4-byte label stack entries until the bottom-of-stack bit; the payload
        // type is not signalled, so it is read from the IP version nibble (RFC 4928 practice).
        let labels = 0;
        for (;;) {
          if (end - o < 4) { c.mplsTruncated++; return DecodeStatus.MALFORMED; }
          if (++labels > MAX_MPLS_LABELS) { c.mplsTooDeep++; return DecodeStatus.MALFORMED; }
          const bottom = buf[o + 2]! & 0x01;
          o += 4;
          if (bottom) break;
        }
        if (o >= end) { c.mplsTruncated++; return DecodeStatus.MALFORMED; }
        const v = buf[o]! >> 4;
        if (v === 4) return this.ipv4(buf, o, end, out, depth);
        if (v === 6) return this.ipv6(buf, o, end, out, depth);
        c.nonIp++;
        return DecodeStatus.NOT_IP;
      }
      case ETHERTYPE_PPPOE_SESSION: {
        // RFC 2516 §4: 6-byte PPPoE header, then the 2-byte PPP protocol field (RFC 1661 §2).
        if (end - o < 8) { c.pppoeTruncated++; return DecodeStatus.MALFORMED; }
        const ppp = u16(buf, o + 6);
        if (ppp === PPP_IPV4) return this.ipv4(buf, o + 8, end, out, depth);
        if (ppp === PPP_IPV6) return this.ipv6(buf, o + 8, end, out, depth);
        c.pppoeNonIp++;
        return DecodeStatus.NOT_IP;
      }
      default:
        c.nonIp++;
        return DecodeStatus.NOT_IP;
    }
  }

  /** RFC 791 §3.1. */
  private ipv4(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    if (end - o < 20) { c.ipv4Truncated++; return DecodeStatus.MALFORMED; }
    const vihl = buf[o]!;
    if (vihl >> 4 !== 4) { c.ipv4BadVersion++; return DecodeStatus.MALFORMED; }
    const ihl = (vihl & 0x0f) << 2;
    if (ihl < 20 || end - o < ihl) { c.ipv4BadHeaderLength++; return DecodeStatus.MALFORMED; }
    const totalLength = u16(buf, o + 2);
    let ipEnd: number;
    if (totalLength === 0) {
      // Segmentation offload: the NIC fills in lengths later, so captures on the sending host
      // show 0. The frame is the packet.
      ipEnd = end;
    } else if (totalLength < ihl) {
      c.ipv4BadTotalLength++;
      return DecodeStatus.MALFORMED;
    } else {
      // Trailing link padding (Ethernet minimum frame) lies beyond totalLength. A packet cut by
      // the snaplen is real traffic and is parsed as far as captured; a whole frame that is
      // shorter than its IP header says is lying about its length.
      ipEnd = o + totalLength;
      if (ipEnd > end) {
        if (!this.cutBySnaplen) { c.ipv4BadTotalLength++; return DecodeStatus.MALFORMED; }
        ipEnd = end;
      }
    }
    const fragField = u16(buf, o + 6);
    const fragOffset = fragField & 0x1fff;
    const moreFragments = fragField & 0x2000;
    const protocol = buf[o + 9]!;
    out.ipVersion = 4;
    out.ipOffset = o;
    out.src0 = 0; out.src1 = 0; out.src2 = 0; out.src3 = u32(buf, o + 12);
    out.dst0 = 0; out.dst1 = 0; out.dst2 = 0; out.dst3 = u32(buf, o + 16);
    out.protocol = protocol;
    out.fragmentId = u16(buf, o + 4);
    if (fragOffset !== 0) {
      c.ipv4Fragments++;
      out.fragment = Fragment.LATER;
      return this.noTransport(out, ipEnd);
    }
    out.fragment = moreFragments ? Fragment.FIRST : Fragment.NONE;
    if (moreFragments) c.ipv4Fragments++;
    return this.transport(buf, o + ihl, ipEnd, protocol, out, depth);
  }

  /** RFC 8200 §3-4, following extension headers to the upper-layer header. */
  private ipv6(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    if (end - o < 40) { c.ipv6Truncated++; return DecodeStatus.MALFORMED; }
    if (buf[o]! >> 4 !== 6) { c.ipv6BadVersion++; return DecodeStatus.MALFORMED; }
    const payloadLength = u16(buf, o + 4);
    let ipEnd = o + 40 + payloadLength;
    // A zero payload length with a hop-by-hop header is a jumbogram (RFC 2675); take the capture.
    if (payloadLength === 0 && buf[o + 6] === IPPROTO_HOPOPTS) ipEnd = end;
    if (ipEnd > end) {
      if (!this.cutBySnaplen) { c.ipv6BadPayloadLength++; return DecodeStatus.MALFORMED; }
      ipEnd = end;
    }
    out.ipVersion = 6;
    out.ipOffset = o;
    out.src0 = u32(buf, o + 8); out.src1 = u32(buf, o + 12); out.src2 = u32(buf, o + 16); out.src3 = u32(buf, o + 20);
    out.dst0 = u32(buf, o + 24); out.dst1 = u32(buf, o + 28); out.dst2 = u32(buf, o + 32); out.dst3 = u32(buf, o + 36);
    out.fragment = Fragment.NONE;
    let next = buf[o + 6]!;
    let p = o + 40;
    for (let n = 0; ; n++) {
      if (n > MAX_IPV6_EXT_HEADERS) { c.ipv6TooManyExtHeaders++; return DecodeStatus.MALFORMED; }
      if (next === IPPROTO_HOPOPTS || next === IPPROTO_ROUTING || next === IPPROTO_DSTOPTS
        || next === IPPROTO_MOBILITY || next === IPPROTO_HIP || next === IPPROTO_SHIM6) {
        // §4.3-4.6: next header, length in 8-octet units not counting the first 8.
        if (ipEnd - p < 8) { c.ipv6ExtHeaderTruncated++; return DecodeStatus.MALFORMED; }
        const len = (buf[p + 1]! + 1) << 3;
        if (ipEnd - p < len) { c.ipv6ExtHeaderTruncated++; return DecodeStatus.MALFORMED; }
        next = buf[p]!;
        p += len;
      } else if (next === IPPROTO_FRAGMENT) {
        // §4.5: fixed 8 bytes; offset in the upper 13 bits of bytes 2-3, M flag in bit 0.
        if (ipEnd - p < 8) { c.ipv6ExtHeaderTruncated++; return DecodeStatus.MALFORMED; }
        const fo = u16(buf, p + 2);
        out.fragmentId = u32(buf, p + 4);
        next = buf[p]!;
        p += 8;
        c.ipv6Fragments++;
        if ((fo & 0xfff8) !== 0) {
          out.fragment = Fragment.LATER;
          out.protocol = next;
          return this.noTransport(out, ipEnd);
        }
        out.fragment = (fo & 1) ? Fragment.FIRST : Fragment.NONE;
      } else if (next === IPPROTO_AH) {
        // RFC 4302 §2.2: payload length in 4-octet units minus 2.
        if (ipEnd - p < 8) { c.ipv6ExtHeaderTruncated++; return DecodeStatus.MALFORMED; }
        const len = (buf[p + 1]! + 2) << 2;
        if (ipEnd - p < len) { c.ipv6ExtHeaderTruncated++; return DecodeStatus.MALFORMED; }
        next = buf[p]!;
        p += len;
      } else {
        break;
      }
    }
    out.protocol = next;
    return this.transport(buf, p, ipEnd, next, out, depth);
  }

  private noTransport(out: DecodedPacket, ipEnd: number): DecodeStatus {
    out.srcPort = 0;
    out.dstPort = 0;
    out.tcpFlags = 0;
    out.payloadOffset = ipEnd;
    out.payloadLength = 0;
    return DecodeStatus.OK;
  }

  private transport(buf: Buffer, o: number, end: number, protocol: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    out.srcPort = 0;
    out.dstPort = 0;
    out.tcpFlags = 0;
    switch (protocol) {
      case IPPROTO_TCP: {
        // RFC 9293 §3.1.
        if (end - o < TCP_HEADER_MIN) { c.tcpTruncated++; return DecodeStatus.MALFORMED; }
        let dataOffset = (buf[o + 12]! >> 4) << 2;
        out.srcPort = u16(buf, o);
        out.dstPort = u16(buf, o + 2);
        out.tcpFlags = buf[o + 13]!;
        out.tcpSeq = u32(buf, o + 4);
        if (dataOffset < TCP_HEADER_MIN) {
          // The fixed header is there and names the connection, so the packet still counts in
          // its flow; only its payload boundary is unknown.
          c.tcpBadHeaderLength++;
          dataOffset = end - o;
        }
        const payload = o + dataOffset;
        out.payloadOffset = payload > end ? end : payload;
        out.payloadLength = payload > end ? 0 : end - payload;
        return DecodeStatus.OK;
      }
      case IPPROTO_UDP:
      case IPPROTO_UDPLITE: {
        // RFC 768.
        if (end - o < UDP_HEADER) { c.udpTruncated++; return DecodeStatus.MALFORMED; }
        out.srcPort = u16(buf, o);
        out.dstPort = u16(buf, o + 2);
        let payloadEnd = end;
        if (protocol === IPPROTO_UDP) {
          const udpLength = u16(buf, o + 4);
          if (udpLength < UDP_HEADER) {
            // Length 0 is legal only for jumbograms (RFC 2675 §4); otherwise count and keep the
            // packet as a flow packet with the captured payload.
            if (udpLength !== 0) c.udpBadLength++;
          } else if (o + udpLength < payloadEnd) {
            payloadEnd = o + udpLength;
          }
        }
        out.payloadOffset = o + UDP_HEADER;
        out.payloadLength = payloadEnd - out.payloadOffset;
        if (this.decapsulateUdpTunnels && depth < MAX_TUNNEL_DEPTH && out.fragment === Fragment.NONE) {
          if (out.dstPort === UDP_PORT_VXLAN || out.srcPort === UDP_PORT_VXLAN) return this.vxlan(buf, out.payloadOffset, payloadEnd, out, depth);
          if (out.dstPort === UDP_PORT_GTPU || out.srcPort === UDP_PORT_GTPU) {
            return this.gtpu(buf, out.payloadOffset, payloadEnd, out, depth);
          }
          if (out.dstPort === UDP_PORT_TZSP || out.srcPort === UDP_PORT_TZSP) {
            return this.tzsp(buf, out.payloadOffset, payloadEnd, out, depth);
          }
          if (out.dstPort === UDP_PORT_CAPWAP_DATA || out.srcPort === UDP_PORT_CAPWAP_DATA) {
            return this.capwap(buf, out.payloadOffset, payloadEnd, out, depth);
          }
        }
        return DecodeStatus.OK;
      }
      case IPPROTO_SCTP: {
        // RFC 9260 §3.1: ports in the common header.
        if (end - o < 12) { c.sctpTruncated++; return DecodeStatus.MALFORMED; }
        out.srcPort = u16(buf, o);
        out.dstPort = u16(buf, o + 2);
        out.payloadOffset = o + 12;
        out.payloadLength = end - o - 12;
        return DecodeStatus.OK;
      }
      case IPPROTO_IPIP:
      case IPPROTO_IPV6: {
        // IP-in-IP (RFC 2003, RFC 4213 §3.5 6in4, RFC 2473 4in6/6in6): the inner flow is the flow.
        if (out.fragment !== Fragment.NONE) return this.noTransportAt(o, end, out);
        if (depth >= MAX_TUNNEL_DEPTH) { c.tunnelTooDeep++; return this.noTransportAt(o, end, out); }
        c.tunnelsDecapsulated++;
        out.tunnelDepth = depth + 1;
        return protocol === IPPROTO_IPIP ? this.ipv4(buf, o, end, out, depth + 1) : this.ipv6(buf, o, end, out, depth + 1);
      }
      case IPPROTO_GRE:
        if (this.decapsulateUdpTunnels && depth < MAX_TUNNEL_DEPTH && out.fragment === Fragment.NONE) {
          return this.gre(buf, o, end, out, depth);
        }
        return this.noTransportAt(o, end, out);
      default:
        return this.noTransportAt(o, end, out);
    }
  }

  private noTransportAt(o: number, end: number, out: DecodedPacket): DecodeStatus {
    out.payloadOffset = o;
    out.payloadLength = end > o ? end - o : 0;
    return DecodeStatus.OK;
  }

  /**
   * GRE (RFC 2784 §2.1, key and sequence RFC 2890). Only the variants whose payload is an
   * Ethernet frame or IP packet are followed; others (PPTP's enhanced GRE, ...) stay the
   * outer GRE flow, counted as unsupported.
   */
  private gre(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    if (end - o < 4) { c.greTruncated++; return this.noTransportAt(o, end, out); }
    const flags = u16(buf, o);
    const version = flags & 0x7;
    let p = o + 4;
    if (version === 0) {
      if (flags & 0x8000) p += 4; // checksum + reserved1
      if (flags & 0x2000) p += 4; // key
      if (flags & 0x1000) p += 4; // sequence number
    } else if (version === 1) {
      // Enhanced GRE for PPTP (RFC 2637 §4.1): key always present (payload length + call id),
      // optional sequence and acknowledgment numbers; carries PPP.
      if ((flags & 0x2000) === 0) { c.greUnsupported++; return this.noTransportAt(o, end, out); }
      p += 4;
      if (flags & 0x1000) p += 4;
      if (flags & 0x0080) p += 4;
    } else {
      c.greUnsupported++;
      return this.noTransportAt(o, end, out);
    }
    if (p > end) { c.greTruncated++; return this.noTransportAt(o, end, out); }
    const proto = u16(buf, o + 2);
    if (proto === ETHERTYPE_IPV4 || proto === ETHERTYPE_IPV6) {
      c.tunnelsDecapsulated++;
      out.tunnelDepth = depth + 1;
      return proto === ETHERTYPE_IPV4 ? this.ipv4(buf, p, end, out, depth + 1) : this.ipv6(buf, p, end, out, depth + 1);
    }
    if (proto === GRE_PROTO_PPP) {
      // PPP in GRE: optional FF 03 address/control, then the protocol field.
      let q = p;
      if (end - q >= 2 && buf[q] === 0xff && buf[q + 1] === 0x03) q += 2;
      // PPTP acknowledgments carry no payload at all: a valid outer GRE packet.
      if (q === end && !this.cutBySnaplen) return this.noTransportAt(o, end, out);
      if (end - q < 2) { c.greTruncated++; return this.noTransportAt(o, end, out); }
      const ppp = u16(buf, q);
      // A PPTP acknowledgment without payload, or PPP control traffic, stays the outer GRE flow.
      if (ppp !== PPP_IPV4 && ppp !== PPP_IPV6) return this.noTransportAt(o, end, out);
      c.tunnelsDecapsulated++;
      out.tunnelDepth = depth + 1;
      return ppp === PPP_IPV4 ? this.ipv4(buf, q + 2, end, out, depth + 1) : this.ipv6(buf, q + 2, end, out, depth + 1);
    }
    if (proto === GRE_PROTO_TRANSPARENT_ETHERNET) {
      c.tunnelsDecapsulated++;
      out.tunnelDepth = depth + 1;
      return this.ethernet(buf, p, end, out, depth + 1);
    }
    if (proto === GRE_PROTO_ERSPAN_II || proto === GRE_PROTO_ERSPAN_III) {
      // ERSPAN type II: 8-byte header; type III: 12 bytes (+8 with the optional subheader flag).
      let h = proto === GRE_PROTO_ERSPAN_II ? 8 : 12;
      if (proto === GRE_PROTO_ERSPAN_III && end - p >= 12 && (buf[p + 11]! & 0x01)) h += 8;
      if (end - p < h) { c.greTruncated++; return this.noTransportAt(o, end, out); }
      c.tunnelsDecapsulated++;
      out.tunnelDepth = depth + 1;
      return this.ethernet(buf, p + h, end, out, depth + 1);
    }
    c.greUnsupported++;
    return this.noTransportAt(o, end, out);
  }

  /**
   * TZSP (TaZmen Sniffer Protocol, used by MikroTik and others to stream captures): version 1,
   * type 0 (received tag list), encapsulation 1 (Ethernet); tagged fields until the END tag (1),
   * PADDING (0) being one byte, others type + length + value.
   */
  private tzsp(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    if (end - o < 5 || buf[o] !== 1 || buf[o + 1] !== 0 || u16(buf, o + 2) !== 1) { c.tzspUnsupported++; return DecodeStatus.OK; }
    let p = o + 4;
    for (let n = 0; ; n++) {
      if (p >= end || n > 64) { c.tzspTruncated++; return DecodeStatus.OK; }
      const tag = buf[p]!;
      if (tag === 1) { p++; break; }
      if (tag === 0) { p++; continue; }
      if (p + 1 >= end) { c.tzspTruncated++; return DecodeStatus.OK; }
      p += 2 + buf[p + 1]!;
    }
    c.tunnelsDecapsulated++;
    out.tunnelDepth = depth + 1;
    return this.ethernet(buf, p, end, out, depth + 1);
  }

  /**
   * CAPWAP data channel (RFC 5415 §4.3): preamble version 0, header length HLEN in 4-byte
   * words; the payload is an IEEE 802.11 data frame (RFC 5416 §4.1) with its 24-byte header and
   * an 8-byte LLC/SNAP header whose last two bytes are the ethertype.
   */
  private capwap(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    if (end - o < 8 || (buf[o]! & 0xf0) !== 0) { c.capwapUnsupported++; return DecodeStatus.OK; }
    const hlen = (buf[o + 1]! & 0xf8) >> 1;
    const wlan = o + hlen;
    // 802.11 frame control: type data (0x08 in the first byte, any subtype without QoS).
    if (hlen < 8 || end - wlan < 24 + 8 || buf[wlan] !== 0x08) { c.capwapUnsupported++; return DecodeStatus.OK; }
    const llc = wlan + 24;
    if (buf[llc] !== 0xaa || buf[llc + 1] !== 0xaa) { c.capwapUnsupported++; return DecodeStatus.OK; }
    c.tunnelsDecapsulated++;
    out.tunnelDepth = depth + 1;
    return this.ethertype(buf, u16(buf, llc + 6), llc + 8, end, out, depth + 1);
  }

  /** VXLAN (RFC 7348 §5): 8-byte header then an Ethernet frame. */
  private vxlan(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    if (end - o < 8 + 14 || (buf[o]! & 0x08) === 0) { this.counters.vxlanTruncated++; return DecodeStatus.OK; }
    this.counters.tunnelsDecapsulated++;
    out.tunnelDepth = depth + 1;
    return this.ethernet(buf, o + 8, end, out, depth + 1);
  }

  /**
   * GTP-U (3GPP TS 29.281 §5.1): 8-byte mandatory header, 4 more when any of E/S/PN is set,
   * then a chain of extension headers (length in 4-octet units) when E is set. Only T-PDUs
   * (message type 255) carry user IP packets.
   */
  private gtpu(buf: Buffer, o: number, end: number, out: DecodedPacket, depth: number): DecodeStatus {
    const c = this.counters;
    if (end - o < 8) { c.gtpTruncated++; return DecodeStatus.OK; }
    const flags = buf[o]!;
    if ((flags >> 5) !== 1 || buf[o + 1] !== 0xff) { c.gtpNonIp++; return DecodeStatus.OK; }
    let p = o + 8;
    if (flags & 0x07) {
      if (end - p < 4) { c.gtpTruncated++; return DecodeStatus.OK; }
      let nextExt = buf[p + 3]!;
      p += 4;
      if (flags & 0x04) {
        while (nextExt !== 0) {
          if (end - p < 4) { c.gtpTruncated++; return DecodeStatus.OK; }
          const len = buf[p]! << 2;
          if (len === 0 || end - p < len) { c.gtpTruncated++; return DecodeStatus.OK; }
          nextExt = buf[p + len - 1]!;
          p += len;
        }
      }
    }
    if (p >= end) { c.gtpTruncated++; return DecodeStatus.OK; }
    const v = buf[p]! >> 4;
    if (v !== 4 && v !== 6) { c.gtpNonIp++; return DecodeStatus.OK; }
    c.tunnelsDecapsulated++;
    out.tunnelDepth = depth + 1;
    return v === 4 ? this.ipv4(buf, p, end, out, depth + 1) : this.ipv6(buf, p, end, out, depth + 1);
  }
}
