/**
 * The local-protocol dispatcher: every registered local analyzer (DHCP, ARP/NDP, mDNS/LLMNR,
 * NetBIOS name service) behind one PacketObserver. A UDP datagram goes to the analyzer that
 * registered its source port, an IP packet to the one that registered its IP protocol, a non-IP
 * frame to those that asked for them; each parses and hands typed messages to the consumer.
 *
 * Per packet the cost is one typed-array read (UDP source port) and one array read (IP
 * protocol) unless the packet is one of these protocols. An mDNS / LLMNR datagram the flow
 * inspector already parsed reaches the dispatcher first through `onInspectedDns` (the Sensor
 * links the two); the analyzer that took it is then skipped when the same packet arrives as an
 * IP packet, so the datagram is parsed once.
 */
import type { DecodedPacket } from '../decode/decoder.js';
import type { ParseStatus } from './parse-status.js';
import type { DnsMessageInfo, DnsProtocol } from './dns/message.js';
import { CounterSets, type LocalAnalyzer, type LocalProtocolConsumer, type ProtocolDescriptor } from './protocol.js';
import { PROTOCOLS } from './registry.js';
import { OutpostError } from '../errors.js';

const IPPROTO_UDP = 17;

export class LocalProtocols {
  readonly counterSets = new CounterSets();
  readonly analyzers: readonly LocalAnalyzer[];
  private readonly consumer: LocalProtocolConsumer;
  /** UDP source port → analyzer index + 1 (0 = none). */
  private readonly byUdpSourcePort = new Uint8Array(65536);
  /** IP protocol → analyzer index + 1 (0 = none). */
  private readonly byIpProtocol = new Uint8Array(256);
  private readonly nonIpAnalyzers: LocalAnalyzer[] = [];
  private readonly dnsTakers: LocalAnalyzer[] = [];
  /** The analyzer that took the current packet from the inspector's parse, if any. */
  private takenBy: LocalAnalyzer | null = null;

  constructor(consumer: LocalProtocolConsumer, protocols: readonly ProtocolDescriptor[] = PROTOCOLS) {
    this.consumer = consumer;
    const list: LocalAnalyzer[] = [];
    for (const d of protocols) {
      if (d.local === undefined) continue;
      const a = d.local(this.counterSets);
      list.push(a);
      const index = list.length;
      for (const port of a.udpSourcePorts) {
        if (this.byUdpSourcePort[port] !== 0) throw new OutpostError('INTERNAL', { reason: `UDP source port ${port} registered twice (${d.name})` });
        this.byUdpSourcePort[port] = index;
      }
      for (const proto of a.ipProtocols) {
        if (this.byIpProtocol[proto] !== 0) throw new OutpostError('INTERNAL', { reason: `IP protocol ${proto} registered twice (${d.name})` });
        this.byIpProtocol[proto] = index;
      }
      if (a.nonIp) this.nonIpAnalyzers.push(a);
      if (a.onInspectedDns !== undefined) this.dnsTakers.push(a);
    }
    this.analyzers = list;
  }

  /** The registered analyzer of that name (its counter set is what a consumer adds to). */
  analyzer(name: string): LocalAnalyzer | undefined {
    return this.analyzers.find((a) => a.name === name);
  }

  /** PacketObserver: decoded IP packets, after flow accounting and inspection. */
  readonly onIpPacket = (p: DecodedPacket, buf: Buffer, tsUs: number): void => {
    const taken = this.takenBy;
    if (taken !== null) this.takenBy = null;
    if (p.protocol === IPPROTO_UDP) {
      const i = this.byUdpSourcePort[p.srcPort]!;
      if (i !== 0) {
        const a = this.analyzers[i - 1]!;
        if (a !== taken) a.onIpPacket!(p, buf, tsUs, this.consumer);
      }
    }
    const j = this.byIpProtocol[p.protocol]!;
    if (j !== 0) this.analyzers[j - 1]!.onIpPacket!(p, buf, tsUs, this.consumer);
  };

  /** PacketObserver: frames the decoder reports as not IP. */
  readonly onNonIpFrame = (buf: Buffer, offset: number, capLen: number, linkType: number, tsUs: number): void => {
    for (let i = 0; i < this.nonIpAnalyzers.length; i++) this.nonIpAnalyzers[i]!.onNonIpFrame!(buf, offset, capLen, linkType, tsUs, this.consumer);
  };

  /**
   * The inspector parsed this mDNS / LLMNR datagram: an analyzer that would parse it takes the
   * result instead. Called during the same packet, before onIpPacket.
   */
  readonly onInspectedDns = (status: ParseStatus, info: DnsMessageInfo, protocol: DnsProtocol, p: DecodedPacket, buf: Buffer, tsUs: number): void => {
    for (let i = 0; i < this.dnsTakers.length; i++) {
      const a = this.dnsTakers[i]!;
      if (a.onInspectedDns!(status, info, protocol, p, buf, tsUs, this.consumer)) { this.takenBy = a; return; }
    }
  };

  counters(): Record<string, number> {
    let out: Record<string, number> = {};
    for (const a of this.analyzers) out = { ...out, ...a.counters() };
    return out;
  }
}
