/**
 * NetBIOS name service (UDP 137, RFC 1002 §4.2) as a registered local protocol: datagrams sent
 * from port 137 over IPv4 are parsed here and every message parsed OK is handed to the consumer
 * with the sender's address and MAC. Which records name the sender (registrations, refreshes and
 * positive query responses for unique workstation names) is the consumer's decision.
 */
import type { DecodedPacket } from '../../decode/decoder.js';
import { ParseStatus } from '../parse-status.js';
import { NbnsMessage, NbnsCounters, parseNbns, NBNS_PORT } from './nbns.js';
import { macAt } from '../dhcp/fields.js';
import { ipv4ToString } from '../../decode/format.js';
import type { CounterSets, LocalAnalyzer, LocalProtocolConsumer, ProtocolDescriptor } from '../protocol.js';

export class NbnsAnalyzer implements LocalAnalyzer {
  readonly name = 'nbns';
  readonly udpSourcePorts = [NBNS_PORT] as const;
  readonly ipProtocols = [] as const;
  readonly nonIp = false;
  readonly nbnsCounters: NbnsCounters;
  private readonly m = new NbnsMessage();

  constructor(counters: CounterSets) {
    this.nbnsCounters = counters.get(NbnsCounters);
  }

  onIpPacket(p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void {
    // NetBIOS over TCP/IP is IPv4 only (RFC 1001 §5; NB_ADDRESS is 4 octets).
    if (p.ipVersion !== 4) return;
    const m = this.m;
    const st = parseNbns(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, m);
    this.nbnsCounters.count(st, m);
    if (st !== ParseStatus.OK || out.onNbns === undefined) return;
    out.onNbns({ message: m, srcIp: ipv4ToString(p.src3), ...(p.srcMacOffset >= 0 ? { srcMac: macAt(buf, p.srcMacOffset) } : {}), tsUs });
  }

  counters(): Record<string, number> { return this.nbnsCounters.snapshot(); }
}

export const nbns: ProtocolDescriptor = {
  name: 'nbns',
  local: (counters) => new NbnsAnalyzer(counters),
};
