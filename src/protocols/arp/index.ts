/**
 * ARP (RFC 826) and IPv6 Neighbor Discovery (RFC 4861) as a registered local protocol. Each
 * message that vouches for an address is handed to the consumer as a `NeighborClaim`
 * "address is at mac":
 * - ARP: the sender's IP and MAC, except probes (RFC 5227 §2.1.1, sender IP 0.0.0.0);
 * - NDP: a Neighbor Advertisement's target with its target link-layer address (§7.2.5);
 *   otherwise the source address with the source link-layer address option (§4.6.1), except
 *   from the unspecified address (a Neighbor Solicitation from it is duplicate address
 *   detection, RFC 4862 §5.4.3: `ndp.dad`).
 * `arp.conflicts` is counted by the consumer on this protocol's counter set: whether a claim
 * contradicts a binding is known only to it.
 */
import type { DecodedPacket } from '../../decode/decoder.js';
import { ParseStatus } from '../parse-status.js';
import { ArpMessage, parseArp, arpPayloadOffset } from './arp.js';
import { NdpMessage, parseNdp, ICMPV6_NA, ICMPV6_NS } from './ndp.js';
import { ArpNdpCounters } from './counters.js';
import { macAt } from '../dhcp/fields.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import type { CounterSets, LocalAnalyzer, LocalProtocolConsumer, ProtocolDescriptor } from '../protocol.js';

/** ICMPv6 (RFC 8200 §4 next header 58), which carries NDP. */
const IPPROTO_ICMPV6 = 58;

export class ArpNdpAnalyzer implements LocalAnalyzer {
  readonly name = 'arp';
  readonly udpSourcePorts = [] as const;
  readonly ipProtocols = [IPPROTO_ICMPV6] as const;
  readonly nonIp = true;
  readonly arpCounters: ArpNdpCounters;
  private readonly arp = new ArpMessage();
  private readonly ndp = new NdpMessage();

  constructor(counters: CounterSets) {
    this.arpCounters = counters.get(ArpNdpCounters);
  }

  onNonIpFrame(buf: Buffer, offset: number, capLen: number, linkType: number, tsUs: number, out: LocalProtocolConsumer): void {
    const end = offset + capLen;
    const o = arpPayloadOffset(buf, offset, end, linkType);
    if (o < 0) return;
    const c = this.arpCounters, m = this.arp;
    const st = parseArp(buf, o, end, m);
    if (st === ParseStatus.NOT_MINE) { c.arpNotEthernetIpv4++; return; }
    if (st !== ParseStatus.OK) { c.countArp(m.error); return; }
    c.arpMessages++;
    if (m.gratuitous) c.arpGratuitous++;
    if (m.probe) { c.arpProbes++; return; }
    out.onNeighbor?.({ protocol: 'arp', address: ipv4ToString(m.senderIp), mac: macAt(buf, m.senderMacOffset), tsUs });
  }

  onIpPacket(p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void {
    if (p.ipVersion !== 6) return;
    const c = this.arpCounters, m = this.ndp;
    const st = parseNdp(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, m);
    if (st === ParseStatus.NOT_MINE) return;
    if (st !== ParseStatus.OK) { c.countNdp(m.error); return; }
    c.ndpMessages++;
    if (m.type === ICMPV6_NA && m.targetOffset >= 0 && m.targetLinkAddrOffset >= 0) {
      const t = m.targetOffset;
      const w = (i: number): number => ((buf[t + i]! << 24) | (buf[t + i + 1]! << 16) | (buf[t + i + 2]! << 8) | buf[t + i + 3]!) >>> 0;
      out.onNeighbor?.({ protocol: 'ndp', address: ipv6ToString(w(0), w(4), w(8), w(12)), mac: macAt(buf, m.targetLinkAddrOffset), tsUs });
      return;
    }
    const unspecified = p.src0 === 0 && p.src1 === 0 && p.src2 === 0 && p.src3 === 0;
    if (unspecified) { if (m.type === ICMPV6_NS) c.ndpDad++; return; }
    if (m.sourceLinkAddrOffset >= 0) {
      out.onNeighbor?.({ protocol: 'ndp', address: ipv6ToString(p.src0, p.src1, p.src2, p.src3), mac: macAt(buf, m.sourceLinkAddrOffset), tsUs });
    }
  }

  counters(): Record<string, number> { return this.arpCounters.snapshot(); }
}

export const arp: ProtocolDescriptor = {
  name: 'arp',
  covers: ['ndp'],
  local: (counters) => new ArpNdpAnalyzer(counters),
};
