/**
 * Device identity wired into the sensor: a consumer of the local protocols (protocols/local.ts:
 * DHCPv4/DHCPv6, ARP and NDP, mDNS / LLMNR, NetBIOS name service, parsed there and handed over as
 * typed messages; identity never parses) that learns into the DeviceStore (and emits DHCP
 * Activity events), an EventEnricher that adds `device` and `actor.user` to Network Activity
 * events, an HTTP request observer that learns OS hints from User-Agents (HTTP Activity events
 * need not be emitted), and Device Inventory Info events on identity changes.
 *
 *   const identity = new DeviceIdentity({ store, emitDhcp: true, emitInventory: true });
 *   identity.sink = sensorSinkOrOutbox;
 *   new Sensor({ ..., packetObservers: [identity.observer], stages: [identity.stage], httpObservers: [identity.onHttpRequest] });
 *
 * `observer` is the local-protocol dispatcher this identity owns: per packet it costs a port /
 * protocol lookup unless the packet is DHCP (UDP 67/68, 546/547), mDNS / LLMNR / NetBIOS name
 * service (UDP 5353 / 5355 / 137), ICMPv6 ND or ARP. The protocol counters (dhcp.*, arp.*,
 * ndp.*, names.*, nbns.*) are the dispatcher's; identity adds what only it knows to the same sets
 * (arp.conflicts, names.used / address_mismatch / ignored / no_mac).
 *
 * Name announcements (lowest trust, Trust.DNS): an mDNS response (RFC 6762 §6, §8.3) or LLMNR
 * response (RFC 4795 §2.1.1) whose answer section holds an A/AAAA record `<name>.local` (mDNS) or
 * `<name>` (LLMNR) with the packet's own source address, and a NetBIOS name registration /
 * refresh or positive query response (RFC 1002 §4.2.2, §4.2.13) for a unique workstation name
 * whose NB_ADDRESS is the source address, name the sender (its source MAC) and bind the address
 * to it. Answers for other addresses (proxies, sleep proxies, WINS servers) are not used.
 */
import type { PacketObserver, HttpRequestObserver, LogonObserver } from '../protocols/observers.js';
import type { LogonSeen } from '../protocols/logon.js';
import type { EventOutput as EventSink } from '../events/pipeline.js';
import type { EventStage, OutpostEvent } from '../events/pipeline.js';
import { addProfile } from '../events/ocsf.js';
import { Dhcp4Type } from '../protocols/dhcp/dhcp4.js';
import { Dhcp6Type } from '../protocols/dhcp/dhcp6.js';
import type { Dhcp4Info, Dhcp6Info } from '../protocols/dhcp/fields.js';
import { DhcpCounters } from '../protocols/dhcp/counters.js';
import { ArpNdpCounters } from '../protocols/arp/counters.js';
import { NbnsCounters } from '../protocols/nbns/nbns.js';
import { NameAnnounceCounters } from '../protocols/dns/local.js';
import { LocalProtocols } from '../protocols/local.js';
import type { Dhcp4Seen, Dhcp6Seen, LocalProtocolConsumer, NameResponseSeen, NbnsSeen, NeighborClaim } from '../protocols/protocol.js';
import { DeviceStore, Trust, type Device, type UserSpan } from './store.js';
import type { WireLogon, WireSource } from './store/users.js';
import { verifyAccountingRequest } from '../protocols/radius/radius.js';
import { isMachineAccount } from '../events/authentication.js';
import { buildDhcpActivity, buildDeviceInventory, deviceObject, userObject, dhcp4HostName, type DhcpRequestInfo } from '../events/device-events.js';
import { compileScopes, judgeAddress, unicastMac, type AddressScopes } from './agent-claims.js';
import { hintFromParamRequestList, hintFromUserAgent, hintFromVendorClass, hintFromAgentOs } from './os-hints.js';

export interface DeviceIdentityOptions {
  store: DeviceStore;
  /** DHCP Activity events (`--emit dhcp`). */
  emitDhcp?: boolean;
  /** Device Inventory Info events (`--emit inventory`). */
  emitInventory?: boolean;
  sink?: EventSink;
  /** RADIUS NAS address → its shared secret (devices.radiusNases with their files read). */
  radiusSecrets?: ReadonlyMap<string, Buffer>;
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

/** What contextAt found: the device, the MAC its address was bound with, the user bound then. */
export interface DeviceContext { device: Device; mac: string | undefined; user: UserSpan | undefined }
/** Where a heartbeat came from, as the agent routes know it (see applyAgentReport). */
export interface AgentOrigin {
  /** The TCP peer address of the heartbeat. */
  sourceAddress?: string;
  /** MACs an administrator bound to this agent at enrollment. */
  boundMacs?: readonly string[];
}

/** Agent claims not applied (applyAgentReport), by reason. */
export class AgentClaimCounters {
  invalidMacs = 0; invalidAddresses = 0; notUnicast = 0; outOfScope = 0; conflicts = 0;
  snapshot(): Record<string, number> {
    return {
      'devices.agent_claims_invalid_mac': this.invalidMacs, 'devices.agent_claims_invalid_address': this.invalidAddresses,
      'devices.agent_claims_not_unicast': this.notUnicast, 'devices.agent_claims_out_of_scope': this.outOfScope,
      'devices.agent_claims_conflicts': this.conflicts,
    };
  }
}

/** Wire logons not bound to a device (DeviceIdentity.onLogon), by reason; and those bound. */
export class LogonBindCounters {
  bound = 0; failed = 0; noAnswer = 0; notALogon = 0; machineAccount = 0; serverUnknown = 0; serverMacMismatch = 0;
  radiusUnverified = 0; clientUnknown = 0; lowerTrust = 0; serverPinsDropped = 0;
  refreshed = 0; ended = 0; shared = 0; sharedWithheld = 0;
  snapshot(): Record<string, number> {
    return {
      'devices.logon_bound': this.bound, 'devices.logon_failed': this.failed, 'devices.logon_no_answer': this.noAnswer,
      'devices.logon_not_a_logon': this.notALogon, 'devices.logon_machine_account': this.machineAccount,
      'devices.logon_server_unknown': this.serverUnknown, 'devices.logon_server_mac_mismatch': this.serverMacMismatch,
      'devices.logon_radius_unverified': this.radiusUnverified, 'devices.logon_client_unknown': this.clientUnknown,
      'devices.logon_lower_trust': this.lowerTrust, 'devices.logon_server_pins_dropped': this.serverPinsDropped,
      'devices.logon_refreshed': this.refreshed, 'devices.logon_ended': this.ended, 'devices.logon_shared': this.shared,
      'devices.user_withheld_shared': this.sharedWithheld,
    };
  }
}


/** A device identified by DHCP or an agent (not only by ARP/NDP or names). */
function isStrongDevice(d: Device): boolean {
  return d.agentId !== undefined || d.clientIds.length > 0 || (d.identityTrust ?? (d.hostnameTrust >= Trust.DHCP ? Trust.DHCP : 0)) >= Trust.DHCP;
}

/** A claimed value as evidence text: JSON-quoted and bounded (it is the agent's, not ours). */
function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** What a DHCPv4 client sent in its DISCOVER / REQUEST, kept for the server's reply. */
interface PendingTx extends DhcpRequestInfo { mac: string; clientId?: string }
/** What a DHCPv6 client sent in its SOLICIT / REQUEST / RENEW ..., kept for the server's reply. */
interface PendingTx6 { duid?: string; fqdn?: string }

export { NameAnnounceCounters };

/** A single DNS label usable as a host name (no service labels like `_http._tcp`). */
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export class DeviceIdentity {
  readonly store: DeviceStore;
  /** What identity learns from: the local protocols' typed messages. */
  readonly consumer: LocalProtocolConsumer = {
    onDhcp4: (m) => this.onDhcp4(m),
    onDhcp6: (m) => this.onDhcp6(m),
    onNeighbor: (m) => this.onNeighbor(m),
    onNameResponse: (m) => this.onNameResponse(m),
    onNbns: (m) => this.onNbns(m),
  };
  /** The local-protocol dispatcher feeding `consumer`; a PacketObserver for the Sensor. */
  readonly protocols = new LocalProtocols(this.consumer);
  readonly observer: PacketObserver = this.protocols;
  readonly dhcpCounters = this.protocols.counterSets.get(DhcpCounters);
  readonly arpCounters = this.protocols.counterSets.get(ArpNdpCounters);
  readonly nameCounters = this.protocols.counterSets.get(NameAnnounceCounters);
  readonly nbnsCounters = this.protocols.counterSets.get(NbnsCounters);
  sink: EventSink | null;
  private readonly emitDhcp: boolean;
  private readonly emitInventory: boolean;
  /** xid → what the client said in DISCOVER/REQUEST, for the ACK (bounded, oldest dropped). */
  private readonly pending = new Map<number, PendingTx>();
  /** DHCPv6 transaction id → what the client said, for the ADVERTISE / REPLY (same bound). */
  private readonly pending6 = new Map<number, PendingTx6>();
  pendingDropped = 0;
  readonly logonCounters = new LogonBindCounters();
  /** NAS address → shared secret (devices.radiusNases, read by the devices area); empty: none configured. */
  private readonly radiusSecrets: ReadonlyMap<string, Buffer>;
  eventsEmitted = 0;
  readonly claimCounters = new AgentClaimCounters();
  private readonly agentScopes: AddressScopes;

  constructor(o: DeviceIdentityOptions) {
    this.store = o.store;
    this.emitDhcp = o.emitDhcp ?? false;
    this.emitInventory = o.emitInventory ?? false;
    this.sink = o.sink ?? null;
    this.agentScopes = compileScopes(this.store.settings.agentAddressScopes);
    this.radiusSecrets = o.radiusSecrets ?? new Map();
    for (const p of this.store.settings.logonServerMacs) this.store.logonServers.configure(p.address, p.mac.toLowerCase());
    if (this.emitInventory) {
      this.store.onChange = (d, change, atMs) => this.emit(buildDeviceInventory(d, change, atMs,
        (a) => this.store.addresses.bindingAt(a, atMs)?.mac, (dev, t) => this.store.users.userAt(dev as Device, t)));
    }
  }

  private emit(ev: OutpostEvent): void {
    if (this.sink === null) return;
    this.sink(ev);
    this.eventsEmitted++;
  }

  private onDhcp4(m: Dhcp4Seen): void {
    const info = m.info;
    const atMs = Math.floor(m.tsUs / 1000);
    // A BOOTREPLY's sender is the server or a relay (RFC 2131 §4.1), never a client.
    if (info.op === 2 && m.src.mac !== undefined) this.store.names.noteDhcpServer(m.src.mac, atMs);
    const request = this.learnDhcp4(info, atMs);
    if (this.emitDhcp) {
      this.emit(buildDhcpActivity(info, {
        timeMs: atMs,
        srcIp: m.src.ip, srcPort: m.src.port, dstIp: m.dst.ip, dstPort: m.dst.port,
        ...(m.src.mac !== undefined ? { srcMac: m.src.mac } : {}),
        ...(m.dst.mac !== undefined ? { dstMac: m.dst.mac } : {}),
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
    // Not Ethernet (counted as dhcp.v4.not_ethernet where it was parsed): no MAC to name a device by.
    if (info.mac === undefined) return undefined;
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

  private onDhcp6(m: Dhcp6Seen): void {
    const info = m.info;
    const atMs = Math.floor(m.tsUs / 1000);
    const fromServer = info.msgType === Dhcp6Type.REPLY || info.msgType === Dhcp6Type.ADVERTISE;
    if (fromServer && m.src.mac !== undefined) this.store.names.noteDhcpServer(m.src.mac, atMs);
    const clientMac = fromServer ? m.dst.mac : m.src.mac;
    const mac = info.duidMac ?? clientMac;
    const tx = this.pendingDhcp6(info, fromServer);
    if (mac !== undefined) this.learnDhcp6(info, mac, tx, atMs);
    if (this.emitDhcp) {
      this.emit(buildDhcpActivity(info, {
        timeMs: atMs, srcIp: m.src.ip, srcPort: m.src.port, dstIp: m.dst.ip, dstPort: m.dst.port,
        ...(m.src.mac !== undefined ? { srcMac: m.src.mac } : {}),
        ...(m.dst.mac !== undefined ? { dstMac: m.dst.mac } : {}),
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

  /** ARP / NDP "address is at mac" (RFC 826, RFC 4861 §7.2.5), trust: neighbor. */
  private onNeighbor(m: NeighborClaim): void {
    this.neighbor(m.address, m.mac, Math.floor(m.tsUs / 1000), m.protocol);
  }

  /**
   * mDNS / LLMNR responses: `<name>.local` (mDNS) or a single-label `<name>` (LLMNR) A/AAAA
   * answers carrying the sender's own source address name the sender (trust: DNS).
   */
  private onNameResponse(m: NameResponseSeen): void {
    const c = this.nameCounters, protocol = m.protocol;
    if (m.srcMac === undefined) { c.noMac++; return; }
    const src = m.srcIp, mac = m.srcMac;
    const atMs = Math.floor(m.tsUs / 1000);
    for (const a of m.answers) {
      if ((a.type !== 1 && a.type !== 28) || a.data === undefined) continue;
      let label = a.name;
      if (label.endsWith('.local')) label = label.slice(0, -6);
      else if (protocol === 'mdns') { c.ignored++; continue; }
      if (a.ttl === 0 || !HOST_LABEL.test(label)) { c.ignored++; continue; }
      if (a.data !== src) { c.addressMismatch++; continue; }
      c.used++;
      this.nameClaim(src, mac, label, protocol, `${a.name} ${a.typeName} ${a.data}`, atMs);
    }
  }

  /** NetBIOS name registrations / refreshes and positive query responses (RFC 1002 §4.2). */
  private onNbns(n: NbnsSeen): void {
    const m = n.message, c = this.nameCounters;
    if (!(m.isRegistration || m.isPositiveQueryResponse)) return;
    if (n.srcMac === undefined) { c.noMac++; return; }
    const src = n.srcIp, mac = n.srcMac, atMs = Math.floor(n.tsUs / 1000);
    for (const r of m.records) {
      // Workstation (0x00) unique names are the machine's name; groups are domains/workgroups.
      if (r.group || r.suffix !== 0x00 || r.name.length === 0 || r.name.startsWith('*')) { c.ignored++; continue; }
      if (!r.addresses.includes(src)) { c.addressMismatch++; continue; }
      c.used++;
      this.nameClaim(src, mac, r.name, 'netbios', `${r.name}<00> NB ${src}`, atMs);
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

  /**
   * Applies an authenticated agent heartbeat at atMs (trust: agent). An agent speaks only for its
   * own device (docs/SECURITY.md, "Enrolled agents"):
   *
   * - its device is the one already bound to its agent id; on first use, the device of a MAC it
   *   lists, but only a MAC that is unknown, known only from ARP/NDP or names, bound to it by an
   *   administrator at enrollment (`origin.boundMacs`), or whose device holds the address the
   *   heartbeat came from (`origin.sourceAddress`: the packets agree with the claim);
   * - a MAC on another agent's device, or on a DHCP-known device without that corroboration, and
   *   an address that another device holds by a live DHCP lease or another agent's report, are
   *   conflicts: counted (devices.agent_claims_conflicts), kept as evidence on the agent's device,
   *   never applied;
   * - only valid unicast MACs and valid unicast addresses inside devices.agentAddressScopes are
   *   used (agent-claims.ts); the others are counted and kept as evidence. Loopback and
   *   link-local addresses are ignored as before.
   *
   * Without `origin` the caller vouches for the report itself (in-process use, tests of the
   * identity rules): DHCP-known devices may then be adopted by MAC as before; another agent's
   * device never is.
   */
  applyAgentReport(r: AgentReport, atMs: number, origin?: AgentOrigin): Device | undefined {
    const c = this.claimCounters;
    const refused: string[] = [];
    const macs: string[] = [];
    for (const raw of r.macs ?? []) {
      const m = unicastMac(raw);
      if (m === undefined) { c.invalidMacs++; refused.push(`mac ${quote(raw)} is not a unicast MAC`); continue; }
      if (!macs.includes(m)) macs.push(m);
    }
    let d = this.store.devices.byAgentId(r.agentId);
    const conflicts: string[] = [];
    const src = origin?.sourceAddress !== undefined ? origin.sourceAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '') : undefined;
    const allowed = macs.filter((m) => {
      const own = this.store.devices.byMacAddress(m);
      if (own === undefined || own === d) return true;
      let ok: boolean;
      if (own.agentId !== undefined && own.agentId !== r.agentId) ok = false;
      else if (origin === undefined || origin.boundMacs?.includes(m) === true || !isStrongDevice(own)) ok = true;
      else ok = src !== undefined && this.store.addresses.bindingAt(src, atMs)?.uid === own.uid;
      if (!ok) conflicts.push(`mac ${m} is on ${own.uid}`);
      return ok;
    });
    if (d === undefined) {
      for (const m of allowed) { d = this.store.devices.byMacAddress(m); if (d !== undefined) break; }
    }
    if (d === undefined) d = this.store.links.identify({ agentId: r.agentId, ...(allowed[0] !== undefined ? { mac: allowed[0] } : {}), trust: Trust.AGENT, source: 'agent', atMs });
    else this.store.links.identify({ agentId: r.agentId, mac: d.macs.find((m) => allowed.includes(m)) ?? allowed[0] ?? d.macs[0]!, trust: Trust.AGENT, source: 'agent', atMs });
    if (d === undefined) return undefined;
    // Every allowed MAC is linked by the agent rule (confidence 1), folding a device known only
    // from ARP/NDP or names into this one.
    for (const m of allowed) if (this.store.devices.byMacAddress(m) !== d) this.store.links.identify({ agentId: r.agentId, mac: m, trust: Trust.AGENT, source: 'agent', atMs });
    if (r.hostname !== undefined && r.hostname.length > 0) this.store.names.setHostname(d, r.hostname, Trust.AGENT, 'agent', atMs);
    if (r.os !== undefined && r.os.length > 0) this.store.names.addOsHint(d, hintFromAgentOs(r.os), atMs);
    for (const raw of r.addresses ?? []) {
      const v = judgeAddress(raw, this.agentScopes);
      if (!v.ok) {
        if (v.why === 'local') continue;
        if (v.why === 'out_of_scope') c.outOfScope++; else if (v.why === 'not_unicast') c.notUnicast++; else c.invalidAddresses++;
        refused.push(`address ${quote(raw)} ${v.why === 'out_of_scope' ? 'is outside devices.agentAddressScopes' : v.why === 'not_unicast' ? 'is not a unicast address' : 'is not an address'}`);
        continue;
      }
      // A live DHCP lease or another agent's report on this address belongs to another device
      // (unless its MAC is one of this agent's): the agent's word does not move it.
      const held = this.store.addresses.bindingAt(v.address, atMs);
      if (held !== undefined && held.uid !== d.uid && held.trust >= Trust.DHCP && !(held.mac !== undefined && d.macs.includes(held.mac))) {
        conflicts.push(`address ${v.address} is held by ${held.uid} (${held.trust === Trust.AGENT ? 'agent' : 'dhcp'})`);
        continue;
      }
      this.store.addresses.bind(v.address, d, undefined, Trust.AGENT, atMs, atMs + this.store.settings.agentHeartbeatTtlMs);
    }
    c.conflicts += conflicts.length;
    for (const x of conflicts) this.store.devices.addEvidence(d, { kind: 'agent_claim_conflict', value: x, source: 'agent', atMs });
    for (const x of refused) this.store.devices.addEvidence(d, { kind: 'agent_claim_refused', value: x, source: 'agent', atMs });
    if (r.users !== undefined && r.users.length > 0) this.store.users.reportUsers(d, r.users, atMs);
    return d;
  }

  /**
   * The one lookup behind every event's device context: the device that held `ip` at atMs (the
   * address timeline), the MAC it held it with, and the user an agent reported on that device
   * then. A DNS lookup and the flow it named ask the same question and get the same answer.
   */
  contextAt(ip: string, atMs: number): DeviceContext | undefined {
    const addresses = this.store.addresses;
    const d = addresses.lookup(ip, atMs);
    if (d === undefined) return undefined;
    // The binding lookup() just found is bindingAt(ip, atMs): no second walk.
    return { device: d, mac: addresses.lastBinding?.mac, user: this.store.users.userAt(d, atMs) };
  }

  /**
   * The enrich stage of the event pipeline: adds `device` (and the OCSF `host` profile),
   * `actor.user` and the client endpoint's `hostname` / `mac` to every class, from the device
   * that held the client's address then (contextAt):
   *   - Network Activity (4001): src_endpoint (the client) when the flow started;
   *   - HTTP (4002), DNS (4003), later Network-category classes: src_endpoint (the client, the
   *     querier) at the event's time;
   *   - DHCP (4004): the client by its MAC (chaddr / DUID, learned just before the event), with
   *     its assigned address as device.ip;
   *   - Device Inventory Info (5001): built with its device, user and owner (buildDeviceInventory).
   * An endpoint's own `mac` / `hostname` (from the packet, from DHCP) is never replaced.
   */
  readonly enrich = (ev: OutpostEvent): void => {
    switch (ev.class_uid) {
      case 5001: return;
      case 4001: {
        const src = ev.src_endpoint;
        this.applyContext(ev, src, this.contextAt(src.ip, ev.start_time), src.ip, ev.start_time);
        return;
      }
      case 4004: {
        const src = ev.src_endpoint as { ip?: unknown; mac?: unknown; hostname?: unknown };
        if (typeof src.mac !== 'string') return;
        const d = this.store.devices.byMacAddress(src.mac);
        if (d === undefined) return;
        const ip = typeof src.ip === 'string' && src.ip !== '0.0.0.0' && src.ip !== '::' ? src.ip : undefined;
        this.applyContext(ev, src, { device: d, mac: src.mac, user: this.store.users.userAt(d, ev.time) }, ip, ev.time);
        return;
      }
      default: {
        // Network classes (category 4) and Authentication (3002): the client endpoint's device.
        if (ev.category_uid !== 4 && ev.class_uid !== 3002) return;
        const src = ev.src_endpoint as { ip?: unknown } | undefined;
        if (src === undefined || typeof src.ip !== 'string') return;
        this.applyContext(ev, src, this.contextAt(src.ip, ev.time), src.ip, ev.time);
      }
    }
  };

  private applyContext(ev: OutpostEvent, endpoint: { ip?: unknown; mac?: unknown; hostname?: unknown }, c: DeviceContext | undefined, ip: string | undefined, atMs: number): void {
    if (c === undefined) return;
    const d = c.device;
    // A shared device (several wire-logon users at once) gives its events no single user.
    if (c.user === undefined && d.sharedToMs !== undefined && this.store.users.sharedAt(d, atMs)) this.logonCounters.sharedWithheld++;
    // The MAC the endpoint used: the packet's, else the one the address was bound with, else the
    // device's only one (an agent's binding names no MAC).
    const mac = typeof endpoint.mac === 'string' ? endpoint.mac : c.mac ?? (d.macs.length === 1 ? d.macs[0] : undefined);
    ev.device = deviceObject(d, ip, mac);
    addProfile(ev.metadata, 'host');
    if (endpoint.mac === undefined && mac !== undefined) endpoint.mac = mac;
    if (endpoint.hostname === undefined && d.hostname !== undefined) endpoint.hostname = d.hostname;
    if (c.user !== undefined) ev.actor = { ...ev.actor, user: userObject(c.user) };
  }

  /** Device identity's place in the event pipeline. */
  readonly stage: EventStage = { name: 'devices', enrich: this.enrich };

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

  /**
   * Binds the user of a successful wire logon to the client's device (Sensor logonObservers).
   * Any LAN host can put logon-looking packets on the wire, so only evidence a bystander cannot
   * forge cheaply binds (docs/DEVICES.md, "Users from logons"):
   *   - the server's answer showed success: a Kerberos AS-REP for the AS-REQ's client principal
   *     (RFC 4120 §3.1.3), an NTLM session setup / bind that succeeded, a RADIUS
   *     Accounting-Response (RFC 2866 §4.2); failures and requests without an answer bind nothing;
   *   - the answer came from the address *and* MAC the server was seen with before (or configured,
   *     devices.logonServerMacs): the first answer from a server address pins its MAC and binds
   *     nothing itself; a "success" from the pinned address with another MAC is refused and
   *     counted (devices.logon_server_mac_mismatch); the pins are kept in the store (LMDB);
   *   - RADIUS, where devices.radiusNases is set: only requests from a listed NAS whose Request
   *     Authenticator verifies with its shared secret (RFC 2866 §3), else
   *     devices.logon_radius_unverified. Without that list, the server's answer is the proof: an
   *     accounting server silently discards requests that do not verify (RFC 2866 §3);
   *   - machine accounts (`NAME$`) name the device (its host name, lowest trust), not a user;
   *   - trust order agent > RADIUS > Kerberos AS > NTLM: a lower-trust logon does not replace a
   *     current user of higher trust (devices.logon_lower_trust).
   * What each binds, refreshes or ends: a Kerberos AS logon binds until the ticket's requested
   * end (`till`) or devices.wireLogonBindingMs, whichever is sooner; a TGS exchange naming the
   * bound user refreshes it (no binding of its own: a cached ticket says nothing of who sits
   * there now); an NTLM logon binds for wireLogonBindingMs; RADIUS start (and interim, which
   * also covers a start the sensor missed) binds the station's device, stop ends the binding.
   * A binding also ends when the device no longer holds the address the logon came from, and is
   * replaced by a newer logon. A replaced user seen active again (TGS, interim) while its
   * successor is current marks the device shared: no single user for its events then.
   */
  readonly onLogon: LogonObserver = (l: LogonSeen) => {
    const c = this.logonCounters;
    // An NTLM exchange that ended without an AUTHENTICATE presented no credentials: it binds,
    // refreshes and pins nothing, whatever else it carries.
    if (l.kind === 'NEGOTIATE') { c.notALogon++; return; }
    const atMs = Math.floor(l.tsUs / 1000);
    // The server answered (success or failure): its address → MAC is checked and, the first
    // time, learned. A mismatching answer neither binds nor moves the pin.
    let pinned = false;
    if (l.success !== undefined && l.server.mac !== undefined) {
      const servers = this.store.logonServers;
      const pin = servers.get(l.server.ip);
      if (pin === undefined) servers.learn(l.server.ip, l.server.mac, atMs);
      else if (pin !== l.server.mac) {
        if (l.success === true) c.serverMacMismatch++;
        return;
      } else pinned = true;
    }
    if (l.success === false) { c.failed++; return; }
    if (l.success === undefined) { c.noAnswer++; return; }
    if (l.protocol === 'radius') { this.radiusLogon(l, pinned, atMs); return; }
    const as = l.protocol === 'kerberos' ? l.kind === 'AS' : l.kind === 'NTLM';
    const tgs = l.protocol === 'kerberos' && l.kind === 'TGS';
    if (!(as || tgs) || l.user.length === 0) { c.notALogon++; return; }
    if (!pinned) { c.serverUnknown++; return; }
    const d = this.store.addresses.lookup(l.client.ip, atMs);
    if (d === undefined) { c.clientUnknown++; return; }
    if (isMachineAccount(l.user)) {
      c.machineAccount++;
      // NAME$ is the computer's own account (MS-ADTS §6.4): it names the device, at the lowest trust.
      const name = l.user.slice(0, l.user.indexOf('$')).toLowerCase();
      if (as && HOST_LABEL.test(name)) this.store.names.setHostname(d, name, Trust.DNS, `${l.protocol}_machine_account`, atMs);
      return;
    }
    const u = l.domain.length > 0 ? { name: l.user, domain: l.domain } : { name: l.user };
    const untilMs = this.logonUntil(l, atMs);
    if (tgs) {
      const r = this.store.users.refreshLogon(d, u, atMs, untilMs);
      if (r === 'refreshed') c.refreshed++; else if (r === 'shared') c.shared++; else c.notALogon++;
      return;
    }
    this.bind(d, u, l.protocol, atMs, { untilMs, ip: l.client.ip, ...(l.uid !== undefined ? { logonUid: l.uid } : {}) });
  };

  /** A bind through the store, counted by its outcome. */
  private bind(d: Device, u: { name: string; domain?: string }, source: WireSource, atMs: number, o: WireLogon): void {
    const c = this.logonCounters;
    const r = this.store.users.bindLogon(d, u, source, atMs, o);
    if (r === 'lower_trust') c.lowerTrust++;
    else if (r === 'refreshed') c.refreshed++;
    else c.bound++;
  }

  /** Where a wire logon's binding ends unless refreshed: the Kerberos ticket's requested end, capped by devices.wireLogonBindingMs. */
  private logonUntil(l: LogonSeen, atMs: number): number {
    const cap = atMs + this.store.settings.wireLogonBindingMs;
    // The KDC's own end time is in the encrypted part of the reply (RFC 4120 §5.4.2); the
    // request's till (§5.4.1) bounds it: the KDC never issues a ticket past what was asked.
    if (l.till === undefined) return cap;
    const till = Date.parse(l.till);
    return Number.isFinite(till) && till > atMs ? Math.min(cap, till) : cap;
  }

  /**
   * RADIUS accounting (RFC 2866 §5.1): start and interim bind User-Name to the station's device
   * (Calling-Station-Id as a MAC, else Framed-IP-Address), stop ends it. See onLogon for the
   * rules of proof.
   */
  private radiusLogon(l: LogonSeen, pinned: boolean, atMs: number): void {
    const c = this.logonCounters;
    if (!(l.kind === 'start' || l.kind === 'interim' || l.kind === 'stop') || l.user.length === 0) { c.notALogon++; return; }
    if (this.radiusSecrets.size > 0) {
      const secret = l.relay !== undefined ? this.radiusSecrets.get(l.relay.ip) : undefined;
      if (secret === undefined || l.request === undefined || !verifyAccountingRequest(l.request, 0, l.request.length, secret)) { c.radiusUnverified++; return; }
    } else if (!pinned) { c.serverUnknown++; return; }
    const framed = l.framedIp?.[0];
    let d = l.client.mac !== undefined ? this.store.devices.byMacAddress(l.client.mac) : undefined;
    if (d === undefined && framed !== undefined) d = this.store.addresses.lookup(framed, atMs);
    if (d === undefined) { c.clientUnknown++; return; }
    if (isMachineAccount(l.user)) { c.machineAccount++; return; }
    const u = { name: l.user };
    if (l.kind === 'stop') {
      if (this.store.users.endLogon(d, u, 'radius', atMs)) c.ended++; else c.notALogon++;
      return;
    }
    const untilMs = atMs + this.store.settings.wireLogonBindingMs;
    // Interim for the user already bound is a refresh (and may show a replaced user still active).
    if (l.kind === 'interim') {
      const r = this.store.users.refreshLogon(d, u, atMs, untilMs);
      if (r === 'refreshed') { c.refreshed++; return; }
      if (r === 'shared') { c.shared++; return; }
    }
    this.bind(d, u, 'radius', atMs, { untilMs, ...(framed !== undefined ? { ip: framed } : {}), ...(l.uid !== undefined ? { logonUid: l.uid } : {}) });
  }

  /**
   * The local protocols' counters (every registered one; the four sets identity counts into come
   * first, in the order the metrics have always listed them), then the store's and identity's own.
   */
  counters(): Record<string, number> {
    // The pins are the store's (they persist); their drops are listed with the logon counters.
    this.logonCounters.serverPinsDropped = this.store.logonServers.dropped;
    return {
      ...this.dhcpCounters.snapshot(),
      ...this.arpCounters.snapshot(),
      ...this.nameCounters.snapshot(),
      ...this.nbnsCounters.snapshot(),
      ...this.protocols.counters(),
      ...this.store.snapshot(),
      'dhcp.pending_dropped': this.pendingDropped,
      'devices.events_emitted': this.eventsEmitted,
      ...this.claimCounters.snapshot(),
      ...this.logonCounters.snapshot(),
    };
  }
}
