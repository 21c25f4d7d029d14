/**
 * mDNS (RFC 6762) and LLMNR (RFC 4795) responses as a local protocol: a response (QR set,
 * opcode 0, rcode 0, RFC 6762 §18.2-§18.11, RFC 4795 §2.1.1) with answers is handed to the
 * consumer with the sender's address and MAC; which answers name the sender is the consumer's
 * decision (device identity). A datagram the inspector already parsed is taken from it
 * (onInspectedDns) rather than parsed again.
 */
import type { DecodedPacket } from '../../decode/decoder.js';
import { ParseStatus } from '../parse-status.js';
import { DnsMessageInfo, MDNS_PORT, LLMNR_PORT, type DnsProtocol } from './message.js';
import { parseDnsFast } from './fast.js';
import { DnsCounters } from './counters.js';
import { macAt } from '../dhcp/fields.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import type { CounterSets, LocalAnalyzer, LocalProtocolConsumer } from '../protocol.js';

/**
 * Counters of host names learned from mDNS / LLMNR / NetBIOS name service. The responses and
 * malformed datagrams are counted here; what the consumer did with the answers (used, address
 * mismatch, ignored, no MAC) is counted by the consumer on the same set.
 */
export class NameAnnounceCounters {
  mdnsResponses = 0; llmnrResponses = 0; malformed = 0;
  /** A/AAAA (or NB) answers naming the sender with its own source address: used. */
  used = 0;
  /** Answers whose address is not the packet's source address: not used. */
  addressMismatch = 0;
  /** Answers not usable as a host name (service names, TTL 0 goodbyes, group or non-workstation NetBIOS names). */
  ignored = 0;
  /** Packets without a source MAC (not Ethernet): not used. */
  noMac = 0;
  snapshot(): Record<string, number> {
    return {
      'names.mdns_responses': this.mdnsResponses, 'names.llmnr_responses': this.llmnrResponses,
      'names.malformed': this.malformed, 'names.used': this.used, 'names.address_mismatch': this.addressMismatch,
      'names.ignored': this.ignored, 'names.no_mac': this.noMac,
    };
  }
}

export class NameResponseAnalyzer implements LocalAnalyzer {
  readonly name = 'dns';
  readonly udpSourcePorts = [MDNS_PORT, LLMNR_PORT] as const;
  readonly ipProtocols = [] as const;
  readonly nonIp = false;
  readonly nameCounters: NameAnnounceCounters;
  private readonly info = new DnsMessageInfo();
  private readonly mdnsOptions;
  private readonly llmnrOptions;

  constructor(counters: CounterSets) {
    this.nameCounters = counters.get(NameAnnounceCounters);
    // Not the dns.* set: the inspector counts DNS traffic there, and a datagram it did not parse
    // (no flow slot, inspection off) is device identity's business only.
    const scratch = new DnsCounters();
    this.mdnsOptions = { protocol: 'mdns', counters: scratch } as const;
    this.llmnrOptions = { protocol: 'llmnr', counters: scratch } as const;
  }

  onIpPacket(p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void {
    const mdns = p.srcPort === MDNS_PORT;
    const st = parseDnsFast(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, this.info, mdns ? this.mdnsOptions : this.llmnrOptions);
    this.handle(st, this.info, mdns ? 'mdns' : 'llmnr', p, buf, tsUs, out);
  }

  /** The protocol is the sender's port's (a response comes from 5353 / 5355). */
  onInspectedDns(st: ParseStatus, info: DnsMessageInfo, protocol: DnsProtocol, p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): boolean {
    const mine = p.srcPort === MDNS_PORT ? 'mdns' : p.srcPort === LLMNR_PORT ? 'llmnr' : undefined;
    if (mine === undefined || mine !== protocol || p.protocol !== 17) return false;
    this.handle(st, info, mine, p, buf, tsUs, out);
    return true;
  }

  private handle(st: ParseStatus, m: DnsMessageInfo, protocol: 'mdns' | 'llmnr', p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void {
    const c = this.nameCounters;
    if (st !== ParseStatus.OK) { c.malformed++; return; }
    if (!m.qr || m.rcode !== 0 || m.opcode !== 0) return;
    if (protocol === 'mdns') c.mdnsResponses++; else c.llmnrResponses++;
    if (m.answers.length === 0 || out.onNameResponse === undefined) return;
    const srcIp = p.ipVersion === 4 ? ipv4ToString(p.src3) : ipv6ToString(p.src0, p.src1, p.src2, p.src3);
    out.onNameResponse({ protocol, srcIp, ...(p.srcMacOffset >= 0 ? { srcMac: macAt(buf, p.srcMacOffset) } : {}), answers: m.answers, tsUs });
  }

  counters(): Record<string, number> { return this.nameCounters.snapshot(); }
}
