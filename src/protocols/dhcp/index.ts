/**
 * DHCPv4 (RFC 2131) and DHCPv6 (RFC 8415) as a registered local protocol: messages between the
 * client and server ports (67/68, RFC 2131 §4.1; 546/547, RFC 8415 §7.2) are parsed here and
 * handed to the consumer as `Dhcp4Info` / `Dhcp6Info` with the packet's endpoints. Leases and
 * identities are the consumer's (device identity), which also builds DHCP Activity events (4004).
 */
import type { DecodedPacket } from '../../decode/decoder.js';
import { ParseStatus } from '../parse-status.js';
import { Dhcp4Message, parseDhcp4 } from './dhcp4.js';
import { Dhcp6Message, parseDhcp6, DHCP6_TYPE_NAMES } from './dhcp6.js';
import { dhcp4Info, dhcp6Info, macAt } from './fields.js';
import { DhcpCounters } from './counters.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import type { CounterSets, LocalAnalyzer, LocalEndpoint, LocalProtocolConsumer, ProtocolDescriptor } from '../protocol.js';

export class DhcpAnalyzer implements LocalAnalyzer {
  readonly name = 'dhcp';
  readonly udpSourcePorts = [67, 68, 546, 547] as const;
  readonly ipProtocols = [] as const;
  readonly nonIp = false;
  readonly dhcpCounters: DhcpCounters;
  private readonly d4 = new Dhcp4Message();
  private readonly d6 = new Dhcp6Message();

  constructor(counters: CounterSets) {
    this.dhcpCounters = counters.get(DhcpCounters);
  }

  onIpPacket(p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void {
    const sp = p.srcPort, dp = p.dstPort;
    if ((sp === 67 || sp === 68) && (dp === 67 || dp === 68)) this.v4(p, buf, tsUs, out);
    else if ((sp === 546 || sp === 547) && (dp === 546 || dp === 547)) this.v6(p, buf, tsUs, out);
  }

  private v4(p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void {
    const c = this.dhcpCounters;
    const st = parseDhcp4(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, this.d4);
    if (st === ParseStatus.NOT_MINE) { c.v4NotDhcp++; return; }
    if (st !== ParseStatus.OK) { c.countV4(this.d4.error); return; }
    c.countV4(this.d4.error); // OK with a dropped fixed-size option
    c.v4Messages++;
    if (this.d4.repeatedOptions > 0) c.v4OptionRepeated += this.d4.repeatedOptions;
    const info = dhcp4Info(buf, this.d4);
    if (info.relayAgentTruncated === true) c.v4RelayAgentTruncated++;
    // htype / hlen not Ethernet (RFC 2131 §2): no client MAC to name a device by.
    if (info.mac === undefined) c.v4NotEthernet++;
    if (out.onDhcp4 === undefined) return;
    out.onDhcp4({ info, src: endpoint(p, buf, true, false), dst: endpoint(p, buf, false, false), tsUs });
  }

  private v6(p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void {
    const c = this.dhcpCounters;
    const st = parseDhcp6(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, this.d6);
    if (st === ParseStatus.NOT_MINE) { c.v6NotDhcp++; return; }
    if (st !== ParseStatus.OK) { c.countV6(this.d6.error); return; }
    c.v6Messages++;
    if (this.d6.iaAddrDropped > 0) c.v6IaAddressesDropped += this.d6.iaAddrDropped;
    if (out.onDhcp6 === undefined) return;
    const info = dhcp6Info(buf, this.d6, DHCP6_TYPE_NAMES);
    out.onDhcp6({ info, src: endpoint(p, buf, true, true), dst: endpoint(p, buf, false, true), tsUs });
  }

  counters(): Record<string, number> { return this.dhcpCounters.snapshot(); }
}

/** The address is written as the DHCP version's family (v4: the low word of the packet's address). */
function endpoint(p: DecodedPacket, buf: Buffer, source: boolean, v6: boolean): LocalEndpoint {
  const ip = !v6
    ? ipv4ToString(source ? p.src3 : p.dst3)
    : source ? ipv6ToString(p.src0, p.src1, p.src2, p.src3) : ipv6ToString(p.dst0, p.dst1, p.dst2, p.dst3);
  const macOffset = source ? p.srcMacOffset : p.dstMacOffset;
  return { ip, port: source ? p.srcPort : p.dstPort, ...(macOffset >= 0 ? { mac: macAt(buf, macOffset) } : {}) };
}

export const dhcp: ProtocolDescriptor = {
  name: 'dhcp',
  covers: ['dhcp6'],
  local: (counters) => new DhcpAnalyzer(counters),
  events: [{ kind: 'dhcp', classUid: 4004, builder: 'src/events/device-events.ts buildDhcpActivity' }],
};
