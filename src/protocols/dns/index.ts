/**
 * DNS, mDNS and LLMNR as one registered protocol.
 *
 * - Flow analyzer: claims a UDP or TCP flow by port (53, 5353, 5355) and parses every message
 *   for the flow's whole life: UDP one message a datagram, TCP with the two-byte length framing
 *   of RFC 7766 §8 fed in order. Each message goes to the inspector's DNS listener (name cache,
 *   DNS Activity events 4003); mDNS / LLMNR datagrams are also offered to the local dispatcher,
 *   so that device identity does not parse them again.
 * - Local analyzer (local.ts): mDNS / LLMNR responses for device names.
 */
import { DNS_PORT, DnsMessageInfo, DnsTcpFramer, LLMNR_PORT, MDNS_PORT, dnsProtocolForPorts, parseDnsOverTcp } from './message.js';
import { parseDnsFast } from './fast.js';
import { DnsCounters } from './counters.js';
import { NameResponseAnalyzer } from './local.js';
import { ParseStatus } from '../parse-status.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import type { DecodedPacket } from '../../decode/decoder.js';
import {
  Feed, Probe, TRANSPORT_TCP, TRANSPORT_UDP,
  type FlowAnalyzer, type FlowAnalyzerEnv, type PacketContext, type ProtocolDescriptor,
} from '../protocol.js';

/** Per-flow DNS state: TCP framers and in-order positions per direction (UDP needs none). */
export class DnsFlowState {
  clientFramer: DnsTcpFramer | null = null;
  serverFramer: DnsTcpFramer | null = null;
  clientNext = -1;
  serverNext = -1;
}

export class DnsAnalyzer implements FlowAnalyzer<DnsFlowState> {
  readonly name = 'dns';
  readonly transports = TRANSPORT_TCP | TRANSPORT_UDP;
  /** Claimed on the flow's first packet, a bare SYN included: the ports decide. */
  readonly probeEmpty = true;
  readonly everyPacket = true;
  /** The ports dnsProtocolForPorts knows (DNS 53, RFC 1035 §4.2; mDNS 5353, RFC 6762; LLMNR 5355, RFC 4795): no other flow is DNS. */
  readonly ports = [DNS_PORT, MDNS_PORT, LLMNR_PORT];
  readonly dnsCounters: DnsCounters;
  private readonly env: FlowAnalyzerEnv;
  private readonly info = new DnsMessageInfo();
  private packet: DecodedPacket | null = null;
  private tsUs = 0;
  private flowUid = 0;
  /** Parse options per protocol and transport, built once rather than per packet. */
  private readonly udpOptions;
  private readonly tcpOptions;

  constructor(env: FlowAnalyzerEnv) {
    this.env = env;
    const counters = this.dnsCounters = env.counters.get(DnsCounters);
    this.udpOptions = {
      dns: { counters, protocol: 'dns', transport: 'udp' },
      mdns: { counters, protocol: 'mdns', transport: 'udp' },
      llmnr: { counters, protocol: 'llmnr', transport: 'udp' },
    } as const;
    this.tcpOptions = {
      dns: { counters, protocol: 'dns' },
      mdns: { counters, protocol: 'mdns' },
      llmnr: { counters, protocol: 'llmnr' },
    } as const;
  }

  /** A flow's ports never change: a flow not on a DNS port is never DNS. */
  probe(pc: PacketContext): Probe {
    if (this.env.onDnsMessage === null) return Probe.NOT_MINE;
    return dnsProtocolForPorts(pc.p.srcPort, pc.p.dstPort) !== undefined ? Probe.MINE : Probe.NOT_MINE;
  }

  start(): DnsFlowState { return new DnsFlowState(); }

  /**
   * The querier is the sender of a query / the receiver of a response, whatever the flow
   * thinks its client is (deliver()).
   */
  feed(s: DnsFlowState, pc: PacketContext): Feed {
    const p = pc.p;
    if (p.payloadLength === 0) return Feed.CONTINUE;
    const buf = pc.buf, off = p.payloadOffset, end = off + p.payloadLength;
    const protocol = dnsProtocolForPorts(p.srcPort, p.dstPort) ?? 'dns';
    this.packet = p;
    this.tsUs = pc.tsUs;
    this.flowUid = pc.flowUid;
    if (p.protocol !== 6) {
      const st = parseDnsFast(buf, off, end, this.info, this.udpOptions[protocol]);
      if (st === ParseStatus.OK) this.deliver(this.info, ParseStatus.OK);
      if (protocol !== 'dns') this.env.onInspectedDns?.(st, this.info, protocol, p, buf, pc.tsUs);
      return Feed.CONTINUE;
    }
    // In-order feeding, as for HTTP; a gap desynchronises that direction's framer for good.
    const fromClient = pc.fromClient;
    const seq = p.tcpSeq;
    let next = fromClient ? s.clientNext : s.serverNext;
    if (next < 0) next = seq;
    const skip = (next - seq) | 0;
    const len = end - off;
    if (skip >= len) return Feed.CONTINUE;
    let framer = fromClient ? s.clientFramer : s.serverFramer;
    if (framer === null) {
      framer = new DnsTcpFramer(undefined, this.dnsCounters);
      if (fromClient) s.clientFramer = framer; else s.serverFramer = framer;
    }
    if (skip < 0) framer.gap();
    else parseDnsOverTcp(framer, buf, off + skip, end, this.info, this.deliver, this.tcpOptions[protocol]);
    const advanced = (seq + len) >>> 0;
    if (fromClient) s.clientNext = advanced; else s.serverNext = advanced;
    return Feed.CONTINUE;
  }

  /**
   * Hands a parsed DNS message on with its endpoints. One function for the analyzer's life (no
   * closure per packet); the packet it belongs to is `packet`, set just before parsing.
   */
  private readonly deliver = (info: DnsMessageInfo, status: ParseStatus): void => {
    const p = this.packet, listener = this.env.onDnsMessage;
    if (status !== ParseStatus.OK || p === null || listener === null) return;
    const src = { ip: packetAddress(p, true), port: p.srcPort };
    const dst = { ip: packetAddress(p, false), port: p.dstPort };
    const queryFromSrc = !info.qr;
    listener({ info, client: queryFromSrc ? src : dst, server: queryFromSrc ? dst : src, tsUs: this.tsUs, flowUid: this.flowUid });
  };

  isDone(): boolean { return false; }
  /** DNS findings reach flows through the name cache, not through the flow's own findings. */
  contribute(): void {}
  counters(): Record<string, number> { return this.dnsCounters.snapshot(); }
}

function packetAddress(p: DecodedPacket, source: boolean): string {
  if (p.ipVersion === 4) return ipv4ToString(source ? p.src3 : p.dst3);
  return source ? ipv6ToString(p.src0, p.src1, p.src2, p.src3) : ipv6ToString(p.dst0, p.dst1, p.dst2, p.dst3);
}

export const dns: ProtocolDescriptor = {
  name: 'dns',
  covers: ['mdns', 'llmnr'],
  flow: (env) => new DnsAnalyzer(env),
  local: (counters) => new NameResponseAnalyzer(counters),
  events: [{ kind: 'dns', classUid: 4003, builder: 'src/events/dns-activity.ts buildDnsActivityEvent' }],
};
