/**
 * Device identity wired into the sensor: a PacketObserver that snoops DHCPv4/DHCPv6, ARP and NDP
 * into the DeviceStore (and emits DHCP Activity events), an EventEnricher that adds `device` and
 * `actor.user` to Network Activity events, an HTTP request observer that learns OS hints from
 * User-Agents (HTTP Activity events need not be emitted), and Device Inventory Info events on
 * identity changes.
 *
 *   const identity = new DeviceIdentity({ store, emitDhcp: true, emitInventory: true });
 *   identity.sink = sensorSinkOrOutbox;
 *   new Sensor({ ..., packetObservers: [identity.observer], enrichers: [identity.enrich], httpObservers: [identity.onHttpRequest] });
 *
 * Per packet it costs a port / protocol comparison unless the packet is DHCP (UDP 67/68,
 * 546/547), mDNS / LLMNR / NetBIOS name service (UDP 5353 / 5355 / 137), ICMPv6 ND or ARP.
 *
 * Name announcements (lowest trust, Trust.DNS): an mDNS response (RFC 6762 §6, §8.3) or LLMNR
 * response (RFC 4795 §2.1.1) whose answer section holds an A/AAAA record `<name>.local` (mDNS) or
 * `<name>` (LLMNR) with the packet's own source address, and a NetBIOS name registration /
 * refresh or positive query response (RFC 1002 §4.2.2, §4.2.13) for a unique workstation name
 * whose NB_ADDRESS is the source address, name the sender (its source MAC) and bind the address
 * to it. Answers for other addresses (proxies, sleep proxies, WINS servers) are not used.
 */
import type { DecodedPacket } from '../decode/decoder.js';
import type { PacketObserver, EventEnricher, EventSink, HttpRequestObserver } from '../sensor.js';
import { ParseStatus } from '../protocols/parse-status.js';
import { Dhcp4Message, parseDhcp4, Dhcp4Type } from '../protocols/dhcp/dhcp4.js';
import { Dhcp6Message, parseDhcp6, DHCP6_TYPE_NAMES, Dhcp6Type } from '../protocols/dhcp/dhcp6.js';
import { dhcp4Info, dhcp6Info, macAt, type Dhcp4Info, type Dhcp6Info } from '../protocols/dhcp/fields.js';
import { DhcpCounters } from '../protocols/dhcp/counters.js';
import { ArpMessage, parseArp, arpPayloadOffset } from '../protocols/arp/arp.js';
import { NdpMessage, parseNdp, ICMPV6_NA, ICMPV6_NS } from '../protocols/arp/ndp.js';
import { ArpNdpCounters } from '../protocols/arp/counters.js';
import { ipv4ToString, ipv6ToString } from '../events/format.js';
import { parseDnsFast } from '../protocols/dns/fast.js';
import { DnsMessageInfo, MDNS_PORT, LLMNR_PORT } from '../protocols/dns/message.js';
import { DnsCounters } from '../protocols/dns/counters.js';
import { NbnsMessage, NbnsCounters, parseNbns, NBNS_PORT } from '../protocols/nbns/nbns.js';
import { DeviceStore, Trust, type Device } from './store.js';
import { buildDhcpActivity, buildDeviceInventory, deviceObject, userObject, dhcp4HostName, type DhcpRequestInfo } from './events.js';
import { hintFromParamRequestList, hintFromUserAgent, hintFromVendorClass, hintFromAgentOs } from './os-hints.js';

export interface DeviceIdentityOptions {
  store: DeviceStore;
  /** DHCP Activity events (`--emit dhcp`). */
  emitDhcp?: boolean;
  /** Device Inventory Info events (`--emit inventory`). */
  emitInventory?: boolean;
  sink?: EventSink;
}

/** A heartbeat as the agent routes hand it over (already authenticated). */
export interface AgentReport {
  agentId: string;
  hostname?: string;
  macs?: string[];
  addresses?: string[];
  users?: Array<{ name: string; domain?: string; uid?: string; upn?: string }>;
  os?: string;
}

/** What a DHCPv4 client sent in its DISCOVER / REQUEST, kept for the server's reply. */
interface PendingTx extends DhcpRequestInfo { mac: string; clientId?: string }
/** What a DHCPv6 client sent in its SOLICIT / REQUEST / RENEW ..., kept for the server's reply. */
interface PendingTx6 { duid?: string; fqdn?: string }

/** Counters of host names learned from mDNS / LLMNR / NetBIOS name service. */
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

/** A single DNS label usable as a host name (no service labels like `_http._tcp`). */
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export class DeviceIdentity {
  readonly store: DeviceStore;
  readonly dhcpCounters = new DhcpCounters();
  readonly arpCounters = new ArpNdpCounters();
  readonly nameCounters = new NameAnnounceCounters();
  readonly nbnsCounters = new NbnsCounters();
  private readonly dnsInfo = new DnsMessageInfo();
  private readonly dnsScratchCounters = new DnsCounters();
  private readonly nbns = new NbnsMessage();
  sink: EventSink | null;
  private readonly emitDhcp: boolean;
  private readonly emitInventory: boolean;
  private readonly d4 = new Dhcp4Message();
  private readonly d6 = new Dhcp6Message();
  private readonly arp = new ArpMessage();
  private readonly ndp = new NdpMessage();
  /** xid → what the client said in DISCOVER/REQUEST, for the ACK (bounded, oldest dropped). */
  private readonly pending = new Map<number, PendingTx>();
  /** DHCPv6 transaction id → what the client said, for the ADVERTISE / REPLY (same bound). */
  private readonly pending6 = new Map<number, PendingTx6>();
  pendingDropped = 0;
  eventsEmitted = 0;

  constructor(o: DeviceIdentityOptions) {
    this.store = o.store;
    this.emitDhcp = o.emitDhcp ?? false;
    this.emitInventory = o.emitInventory ?? false;
    this.sink = o.sink ?? null;
    if (this.emitInventory) {
      this.store.onChange = (d, change, atMs) => this.emit(buildDeviceInventory(d, change, atMs, (a) => this.store.addresses.bindingAt(a, atMs)?.mac));
    }
  }

  private emit(ev: Record<string, unknown>): void {
    if (this.sink === null) return;
    this.sink(ev);
    this.eventsEmitted++;
  }

  readonly observer: PacketObserver = {
    onIpPacket: (p, buf, tsUs) => {
      if (p.protocol === 17) {
        const sp = p.srcPort, dp = p.dstPort;
        if ((sp === 67 || sp === 68) && (dp === 67 || dp === 68)) this.onDhcp4(p, buf, tsUs);
        else if ((sp === 546 || sp === 547) && (dp === 546 || dp === 547)) this.onDhcp6(p, buf, tsUs);
        else if (sp === MDNS_PORT || sp === LLMNR_PORT) this.onNameResponse(p, buf, tsUs, sp === MDNS_PORT ? 'mdns' : 'llmnr');
        else if (sp === NBNS_PORT) this.onNbns(p, buf, tsUs);
      } else if (p.protocol === 58 && p.ipVersion === 6) {
        this.onNdp(p, buf, tsUs);
      }
    },
    onNonIpFrame: (buf, offset, capLen, linkType, tsUs) => {
      const o = arpPayloadOffset(buf, offset, offset + capLen, linkType);
      if (o >= 0) this.onArp(buf, o, offset + capLen, tsUs);
    },
  };

  private onDhcp4(p: DecodedPacket, buf: Buffer, tsUs: number): void {
    const c = this.dhcpCounters;
    const st = parseDhcp4(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, this.d4);
    if (st === ParseStatus.NOT_MINE) { c.v4NotDhcp++; return; }
    if (st !== ParseStatus.OK) { c.countV4(this.d4.error); return; }
    c.countV4(this.d4.error); // OK with a dropped fixed-size option
    c.v4Messages++;
    if (this.d4.repeatedOptions > 0) c.v4OptionRepeated += this.d4.repeatedOptions;
    const info = dhcp4Info(buf, this.d4);
    if (info.relayAgentTruncated === true) c.v4RelayAgentTruncated++;
    const atMs = Math.floor(tsUs / 1000);
    const request = this.learnDhcp4(info, atMs);
    if (this.emitDhcp) {
      this.emit(buildDhcpActivity(info, {
        timeMs: atMs,
        srcIp: ipv4ToString(p.src3), srcPort: p.srcPort, dstIp: ipv4ToString(p.dst3), dstPort: p.dstPort,
        ...(p.srcMacOffset >= 0 ? { srcMac: macAt(buf, p.srcMacOffset) } : {}),
        ...(p.dstMacOffset >= 0 ? { dstMac: macAt(buf, p.dstMacOffset) } : {}),
        ...(request !== undefined ? { request } : {}),
      }));
    }
  }

  /**
   * The DHCPv4 state machine as far as identity needs it (RFC 2131 §3.1, §3.2, §4.4.6). Returns
   * what the client said earlier in this transaction (its DISCOVER / REQUEST), which the event of
   * the server's reply needs: the ACK is the one message with MAC, address and lease together,
   * but the host name is the client's and servers rarely repeat it.
   */
  learnDhcp4(info: Dhcp4Info, atMs: number): PendingTx | undefined {
    if (info.mac === undefined) { this.dhcpCounters.v4NotEthernet++; return undefined; }
    // A transaction is the client's xid (RFC 2131 §4.1, chosen at random) with its chaddr: a
    // reply for another client that drew the same xid must not take this client's name.
    let tx = this.pending.get(info.xid);
    if (tx !== undefined && tx.mac !== info.mac) tx = undefined;
    if (info.op === 1) {
      if (tx === undefined) tx = { mac: info.mac };
      if (info.hostName !== undefined) tx.hostName = info.hostName;
      if (info.clientId !== undefined) tx.clientId = info.clientId;
      if (info.clientFqdn !== undefined) tx.fqdn = info.clientFqdn;
      // Option 82 is on the relay → server leg only (RFC 3046 §2.1); the reply may not echo it.
      if (info.relayCircuitId !== undefined) { tx.relayCircuitId = info.relayCircuitId; tx.relayCircuitIdText = info.relayCircuitIdText; }
      if (info.relayRemoteId !== undefined) { tx.relayRemoteId = info.relayRemoteId; tx.relayRemoteIdText = info.relayRemoteIdText; }
      this.pending.delete(info.xid);
      this.pending.set(info.xid, tx);
      if (this.pending.size > this.store.settings.dhcpMaxPendingTransactions) {
        this.pending.delete(this.pending.keys().next().value as number);
        this.pendingDropped++;
      }
    }
    const hostname = dhcp4HostName(info, tx);
    const clientId = info.clientId ?? tx?.clientId;
    const d = this.store.links.identify({
      mac: info.mac, ...(clientId !== undefined ? { clientId } : {}), ...(hostname !== undefined ? { hostname } : {}),
      trust: Trust.DHCP, source: `dhcp_${info.msgTypeName.toLowerCase()}`, atMs,
    });
    if (d === undefined) return tx;
    if (info.op === 1) {
      if (info.vendorClass !== undefined) {
        this.store.devices.addEvidence(d, { kind: 'dhcp_vendor_class', value: info.vendorClass, source: 'dhcp', atMs });
        const h = hintFromVendorClass(info.vendorClass);
        if (h !== undefined) this.store.names.addOsHint(d, h, atMs);
      }
      if (info.paramRequestList !== undefined) {
        this.store.devices.addEvidence(d, { kind: 'dhcp_prl', value: info.paramRequestList.join(','), source: 'dhcp', atMs });
        const h = hintFromParamRequestList(info.paramRequestList);
        if (h !== undefined) this.store.names.addOsHint(d, h, atMs);
      }
    }
    switch (info.msgType) {
      case Dhcp4Type.ACK:
        // An ACK to an INFORM carries no lease (RFC 2131 §3.4): the client's own ciaddr holds.
        if (info.yiaddr !== undefined) {
          const exp = info.leaseTimeS !== undefined ? atMs + info.leaseTimeS * 1000 : undefined;
          this.store.addresses.bind(info.yiaddr, d, info.mac, Trust.DHCP, atMs, exp);
        } else if (info.ciaddr !== undefined) {
          this.store.addresses.bind(info.ciaddr, d, info.mac, Trust.NEIGHBOR, atMs);
        }
        if (tx !== undefined) this.pending.delete(info.xid);
        break;
      case Dhcp4Type.NAK:
        if (tx !== undefined) this.pending.delete(info.xid);
        break;
      case Dhcp4Type.RELEASE:
      case Dhcp4Type.DECLINE:
        if (info.ciaddr !== undefined) this.store.addresses.release(info.ciaddr, atMs, d.uid);
        break;
      case Dhcp4Type.INFORM:
        if (info.ciaddr !== undefined) this.store.addresses.bind(info.ciaddr, d, info.mac, Trust.NEIGHBOR, atMs);
        break;
      default:
        break;
    }
    return tx;
  }

  private onDhcp6(p: DecodedPacket, buf: Buffer, tsUs: number): void {
    const c = this.dhcpCounters;
    const st = parseDhcp6(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, this.d6);
    if (st === ParseStatus.NOT_MINE) { c.v6NotDhcp++; return; }
    if (st !== ParseStatus.OK) { c.countV6(this.d6.error); return; }
    c.v6Messages++;
    if (this.d6.iaAddrDropped > 0) c.v6IaAddressesDropped += this.d6.iaAddrDropped;
    const info = dhcp6Info(buf, this.d6, DHCP6_TYPE_NAMES);
    const atMs = Math.floor(tsUs / 1000);
    const fromServer = info.msgType === Dhcp6Type.REPLY || info.msgType === Dhcp6Type.ADVERTISE;
    const clientMac = fromServer
      ? (p.dstMacOffset >= 0 ? macAt(buf, p.dstMacOffset) : undefined)
      : (p.srcMacOffset >= 0 ? macAt(buf, p.srcMacOffset) : undefined);
    const mac = info.duidMac ?? clientMac;
    const tx = this.pendingDhcp6(info, fromServer);
    if (mac !== undefined) this.learnDhcp6(info, mac, tx, atMs);
    if (this.emitDhcp) {
      const w = (k: 'src' | 'dst'): string => k === 'src' ? ipv6ToString(p.src0, p.src1, p.src2, p.src3) : ipv6ToString(p.dst0, p.dst1, p.dst2, p.dst3);
      this.emit(buildDhcpActivity(info, {
        timeMs: atMs, srcIp: w('src'), srcPort: p.srcPort, dstIp: w('dst'), dstPort: p.dstPort,
        ...(p.srcMacOffset >= 0 ? { srcMac: macAt(buf, p.srcMacOffset) } : {}),
        ...(p.dstMacOffset >= 0 ? { dstMac: macAt(buf, p.dstMacOffset) } : {}),
        ...(tx?.fqdn !== undefined ? { request: { fqdn: tx.fqdn } } : {}),
      }));
    }
  }

  /**
   * A DHCPv6 exchange shares its transaction id (RFC 8415 §8, §16.1): SOLICIT/ADVERTISE, then
   * REQUEST (RENEW, REBIND ...)/REPLY under a new one. What the client sent is kept for the
   * server's message, which need not repeat the Client FQDN (RFC 4704 §6); a server message
   * echoes the Client Identifier (§16.3, §16.10), so a different DUID is another client's.
   */
  private pendingDhcp6(info: Dhcp6Info, fromServer: boolean): PendingTx6 | undefined {
    let tx = this.pending6.get(info.xid);
    if (tx !== undefined && info.duid !== undefined && tx.duid !== undefined && tx.duid !== info.duid) tx = undefined;
    if (fromServer) {
      if (tx !== undefined && info.msgType === Dhcp6Type.REPLY) this.pending6.delete(info.xid);
      return tx;
    }
    tx = { ...(info.duid !== undefined ? { duid: info.duid } : {}), ...(info.clientFqdn !== undefined ? { fqdn: info.clientFqdn } : {}) };
    this.pending6.delete(info.xid);
    this.pending6.set(info.xid, tx);
    if (this.pending6.size > this.store.settings.dhcpMaxPendingTransactions) {
      this.pending6.delete(this.pending6.keys().next().value as number);
      this.pendingDropped++;
    }
    return tx;
  }

  /**
   * DHCPv6 identity and leases: every IA_NA address of a REPLY is bound (RFC 8415 §21.4, §21.6:
   * several IA_NA per message, several addresses per IA_NA), each with its own valid lifetime; a
   * valid lifetime of 0 withdraws it (§18.2.10.1, §18.3.4), a client RELEASE / DECLINE gives
   * back the addresses it lists (§18.2.7, §18.2.8). ADVERTISE only offers (§18.3.1, §18.3.9): not bound.
   */
  private learnDhcp6(info: Dhcp6Info, mac: string, tx: PendingTx6 | undefined, atMs: number): void {
    const hostname = info.clientFqdn ?? tx?.fqdn;
    const d = this.store.links.identify({
      mac, ...(info.duid !== undefined ? { clientId: `duid:${info.duid}` } : {}),
      ...(hostname !== undefined ? { hostname } : {}),
      trust: Trust.DHCP, source: `dhcp6_${info.msgTypeName.toLowerCase()}`, atMs,
    });
    if (d === undefined || info.iaAddresses === undefined) return;
    const t = info.msgType;
    if (t === Dhcp6Type.REPLY) {
      for (const a of info.iaAddresses) {
        if (a.validLifetimeS === 0) { this.store.addresses.release(a.address, atMs, d.uid); continue; }
        // 0xffffffff is infinity (§7.7): the store's own binding TTL then applies.
        const exp = a.validLifetimeS !== 0xffffffff ? atMs + a.validLifetimeS * 1000 : undefined;
        this.store.addresses.bind(a.address, d, mac, Trust.DHCP, atMs, exp);
      }
    } else if (t === Dhcp6Type.RELEASE || t === Dhcp6Type.DECLINE) {
      for (const a of info.iaAddresses) this.store.addresses.release(a.address, atMs, d.uid);
    }
  }

  private onArp(buf: Buffer, o: number, end: number, tsUs: number): void {
    const c = this.arpCounters;
    const st = parseArp(buf, o, end, this.arp);
    if (st === ParseStatus.NOT_MINE) { c.arpNotEthernetIpv4++; return; }
    if (st !== ParseStatus.OK) { c.countArp(this.arp.error); return; }
    c.arpMessages++;
    if (this.arp.gratuitous) c.arpGratuitous++;
    if (this.arp.probe) { c.arpProbes++; return; }
    this.neighbor(ipv4ToString(this.arp.senderIp), macAt(buf, this.arp.senderMacOffset), Math.floor(tsUs / 1000), 'arp');
  }

  private onNdp(p: DecodedPacket, buf: Buffer, tsUs: number): void {
    const c = this.arpCounters;
    const st = parseNdp(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, this.ndp);
    if (st === ParseStatus.NOT_MINE) return;
    if (st !== ParseStatus.OK) { c.countNdp(this.ndp.error); return; }
    c.ndpMessages++;
    const m = this.ndp, atMs = Math.floor(tsUs / 1000);
    if (m.type === ICMPV6_NA && m.targetOffset >= 0 && m.targetLinkAddrOffset >= 0) {
      const t = m.targetOffset;
      const w = (i: number): number => ((buf[t + i]! << 24) | (buf[t + i + 1]! << 16) | (buf[t + i + 2]! << 8) | buf[t + i + 3]!) >>> 0;
      this.neighbor(ipv6ToString(w(0), w(4), w(8), w(12)), macAt(buf, m.targetLinkAddrOffset), atMs, 'ndp');
      return;
    }
    const unspecified = p.src0 === 0 && p.src1 === 0 && p.src2 === 0 && p.src3 === 0;
    if (unspecified) { if (m.type === ICMPV6_NS) c.ndpDad++; return; }
    if (m.sourceLinkAddrOffset >= 0) {
      this.neighbor(ipv6ToString(p.src0, p.src1, p.src2, p.src3), macAt(buf, m.sourceLinkAddrOffset), atMs, 'ndp');
    }
  }

  /**
   * mDNS / LLMNR responses: `<name>.local` (mDNS) or a single-label `<name>` (LLMNR) A/AAAA
   * answers carrying the sender's own source address name the sender (trust: DNS).
   */
  private onNameResponse(p: DecodedPacket, buf: Buffer, tsUs: number, protocol: 'mdns' | 'llmnr'): void {
    const c = this.nameCounters, m = this.dnsInfo;
    const st = parseDnsFast(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, m, { protocol, counters: this.dnsScratchCounters });
    if (st !== ParseStatus.OK) { c.malformed++; return; }
    if (!m.qr || m.rcode !== 0 || m.opcode !== 0) return;
    if (protocol === 'mdns') c.mdnsResponses++; else c.llmnrResponses++;
    if (m.answers.length === 0) return;
    if (p.srcMacOffset < 0) { c.noMac++; return; }
    const src = p.ipVersion === 4 ? ipv4ToString(p.src3) : ipv6ToString(p.src0, p.src1, p.src2, p.src3);
    const atMs = Math.floor(tsUs / 1000);
    for (const a of m.answers) {
      if ((a.type !== 1 && a.type !== 28) || a.data === undefined) continue;
      let label = a.name;
      if (label.endsWith('.local')) label = label.slice(0, -6);
      else if (protocol === 'mdns') { c.ignored++; continue; }
      if (a.ttl === 0 || !HOST_LABEL.test(label)) { c.ignored++; continue; }
      if (a.data !== src) { c.addressMismatch++; continue; }
      c.used++;
      this.nameClaim(src, macAt(buf, p.srcMacOffset), label, protocol, `${a.name} ${a.typeName} ${a.data}`, atMs);
    }
  }

  /** NetBIOS name registrations / refreshes and positive query responses (RFC 1002 §4.2). */
  private onNbns(p: DecodedPacket, buf: Buffer, tsUs: number): void {
    if (p.ipVersion !== 4) return;
    const m = this.nbns, c = this.nameCounters;
    const st = parseNbns(buf, p.payloadOffset, p.payloadOffset + p.payloadLength, m);
    this.nbnsCounters.count(st, m);
    if (st !== ParseStatus.OK || !(m.isRegistration || m.isPositiveQueryResponse)) return;
    if (p.srcMacOffset < 0) { c.noMac++; return; }
    const src = ipv4ToString(p.src3), atMs = Math.floor(tsUs / 1000);
    for (const r of m.records) {
      // Workstation (0x00) unique names are the machine's name; groups are domains/workgroups.
      if (r.group || r.suffix !== 0x00 || r.name.length === 0 || r.name.startsWith('*')) { c.ignored++; continue; }
      if (!r.addresses.includes(src)) { c.addressMismatch++; continue; }
      c.used++;
      this.nameClaim(src, macAt(buf, p.srcMacOffset), r.name, 'netbios', `${r.name}<00> NB ${src}`, atMs);
    }
  }

  /** A name announcement "name is at address, sent by mac" (trust: DNS). */
  private nameClaim(address: string, mac: string, name: string, source: string, evidence: string, atMs: number): void {
    if (mac === '00:00:00:00:00:00' || mac === 'ff:ff:ff:ff:ff:ff' || (parseInt(mac.slice(0, 2), 16) & 1) !== 0) return;
    // The host name is not passed to identify(): a low-trust name never links MACs.
    const d = this.store.links.identify({ mac, trust: Trust.DNS, source, atMs });
    if (d === undefined) return;
    this.store.devices.addEvidence(d, { kind: `${source}_name`, value: evidence, source, atMs });
    this.store.names.setHostname(d, name, Trust.DNS, source, atMs);
    this.store.addresses.bind(address, d, mac, Trust.DNS, atMs);
  }

  /** An ARP/NDP claim "address is at mac" (RFC 826, RFC 4861 §7.2.5). */
  private neighbor(address: string, mac: string, atMs: number, source: string): void {
    if (mac === '00:00:00:00:00:00' || mac === 'ff:ff:ff:ff:ff:ff') return;
    const cur = this.store.addresses.bindingAt(address, atMs);
    const d = this.store.links.identify({ mac, trust: Trust.NEIGHBOR, source, atMs });
    if (d === undefined) return;
    if (cur !== undefined && cur.uid !== d.uid && cur.mac !== undefined && cur.mac !== mac) this.arpCounters.conflicts++;
    this.store.addresses.bind(address, d, mac, Trust.NEIGHBOR, atMs);
  }

  /** Applies an authenticated agent heartbeat at atMs (trust: agent). */
  applyAgentReport(r: AgentReport, atMs: number): Device | undefined {
    const macs = (r.macs ?? []).map((m) => m.toLowerCase()).filter((m) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(m) && m !== '00:00:00:00:00:00');
    let d = this.store.devices.byAgentId(r.agentId);
    if (d === undefined) {
      for (const m of macs) { d = this.store.devices.byMacAddress(m); if (d !== undefined) break; }
    }
    if (d === undefined) d = this.store.links.identify({ agentId: r.agentId, ...(macs[0] !== undefined ? { mac: macs[0] } : {}), trust: Trust.AGENT, source: 'agent', atMs });
    else this.store.links.identify({ agentId: r.agentId, mac: d.macs.find((m) => macs.includes(m)) ?? macs[0] ?? d.macs[0]!, trust: Trust.AGENT, source: 'agent', atMs });
    if (d === undefined) return undefined;
    // Every listed MAC is linked by the agent rule (confidence 1), folding a device known only
    // from ARP/NDP or names into this one; a MAC on another agent's device is a counted conflict.
    for (const m of macs) if (this.store.devices.byMacAddress(m) !== d) this.store.links.identify({ agentId: r.agentId, mac: m, trust: Trust.AGENT, source: 'agent', atMs });
    if (r.hostname !== undefined && r.hostname.length > 0) this.store.names.setHostname(d, r.hostname, Trust.AGENT, 'agent', atMs);
    if (r.os !== undefined && r.os.length > 0) this.store.names.addOsHint(d, hintFromAgentOs(r.os), atMs);
    for (const a of r.addresses ?? []) {
      if (a.startsWith('127.') || a === '::1' || a.startsWith('fe80:')) continue;
      this.store.addresses.bind(a, d, undefined, Trust.AGENT, atMs, atMs + this.store.settings.agentHeartbeatTtlMs);
    }
    if (r.users !== undefined && r.users.length > 0) this.store.users.reportUsers(d, r.users, atMs);
    return d;
  }

  /** Adds `device` and `actor.user` to Network Activity (4001) events. */
  readonly enrich: EventEnricher = (ev) => {
    if (ev.class_uid !== 4001) return;
    const src = ev.src_endpoint as { ip?: string; mac?: string } | undefined;
    if (src?.ip === undefined) return;
    const t = typeof ev.start_time === 'number' ? ev.start_time : (ev.time as number);
    const d = this.store.addresses.lookup(src.ip, t);
    if (d === undefined) return;
    ev.device = deviceObject(d, src.ip, src.mac);
    const md = ev.metadata as { profiles?: string[] } | undefined;
    if (md !== undefined) md.profiles = md.profiles === undefined ? ['host'] : md.profiles.includes('host') ? md.profiles : [...md.profiles, 'host'];
    const u = this.store.users.userAt(d, t);
    if (u !== undefined) ev.actor = { ...(ev.actor as object | undefined), user: userObject(u) };
  };

  /**
   * OS hints from the User-Agent of each HTTP request a client made (Sensor httpObservers), for
   * the device that held the client address then; HTTP Activity events need not be emitted.
   */
  readonly onHttpRequest: HttpRequestObserver = (req, clientIp, atMs) => {
    const ua = req.userAgent;
    if (ua === undefined) return;
    const d = this.store.addresses.lookup(clientIp, atMs);
    if (d === undefined) return;
    const h = hintFromUserAgent(ua);
    if (h !== undefined) this.store.names.addOsHint(d, h, atMs);
  };

  counters(): Record<string, number> {
    return {
      ...this.dhcpCounters.snapshot(),
      ...this.arpCounters.snapshot(),
      ...this.nameCounters.snapshot(),
      ...this.nbnsCounters.snapshot(),
      ...this.store.snapshot(),
      'dhcp.pending_dropped': this.pendingDropped,
      'devices.events_emitted': this.eventsEmitted,
    };
  }
}
