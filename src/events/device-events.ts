/**
 * OCSF 1.8.0 events of device identity: DHCP Activity (class 4004) per DHCP message and Device
 * Inventory Info (class 5001) when a device appears or its identity changes; and the `device` /
 * `actor.user` objects the device enrich stage adds to every event class (`host` profile).
 */
import { randomEventUid } from './event-uid.js';
import { OCSF_VERSION, PRODUCT, type OcsfDevice, type OcsfEventBase, type OcsfMetadata, type OcsfUser } from './ocsf.js';
import type { Dhcp4Info, Dhcp6Info } from '../protocols/dhcp/fields.js';

/** Names of the trust levels of a device's evidence (Trust.* in src/devices), for events and the API. */
export const TRUST_NAMES: Record<number, string> = { 1: 'dns', 2: 'arp_ndp', 3: 'dhcp', 4: 'agent' };

/** What the builders read of a user span (the device store's UserSpan has these and more). */
export interface UserSpanLike {
  name: string;
  fromMs?: number;
  domain?: string;
  uid?: string;
  upn?: string;
  toMs: number;
}

/** What the builders read of a device (the device store's Device has these and more). */
export interface DeviceLike {
  uid: string;
  macs: string[];
  links: unknown[];
  agentId?: string;
  hostname?: string;
  hostnameTrust: number;
  hostnameSource?: string;
  vendor?: string;
  randomizedMac: boolean;
  os?: { name: string; typeId: number };
  typeId?: number;
  addresses: string[];
  users: UserSpanLike[];
  evidence: unknown[];
  firstSeenMs: number;
  lastSeenMs: number;
}

/** DHCP Activity (OCSF 4004) as Outpost builds it. */
export interface DhcpActivityEvent extends OcsfEventBase {
  class_uid: 4004;
  metadata: OcsfMetadata & { uid: string; log_name: string };
  src_endpoint: Record<string, unknown>;
  dst_endpoint: Record<string, unknown>;
  transaction_uid: string;
  lease_dur?: number;
  relay?: { ip: string };
  is_renewal?: boolean;
  unmapped: Record<string, unknown>;
}

/** Device Inventory Info (OCSF 5001) as Outpost builds it. */
export interface InventoryInfoEvent extends OcsfEventBase {
  class_uid: 5001;
  metadata: OcsfMetadata & { uid: string; log_name: string };
  device: OcsfDevice;
  unmapped: Record<string, unknown>;
}

const DHCP4_ACTIVITY: Record<number, string> = { 1: 'Discover', 2: 'Offer', 3: 'Request', 4: 'Decline', 5: 'Ack', 6: 'Nak', 7: 'Release', 8: 'Inform' };
/** DHCPv6 message types mapped onto the DHCP Activity activity ids (RFC 8415 §7.3 roles). */
const DHCP6_ACTIVITY: Record<number, number> = { 1: 1, 2: 2, 3: 3, 5: 3, 6: 3, 7: 5, 8: 7, 9: 4, 11: 8 };

export interface DhcpEventContext {
  timeMs: number;
  /** Packet addresses and ports. */
  srcIp: string; srcPort: number; srcMac?: string;
  dstIp: string; dstPort: number; dstMac?: string;
  /** What the client said earlier in the same transaction, for a server's reply (DeviceIdentity keeps it). */
  request?: DhcpRequestInfo;
}

/**
 * What a client sent in its DISCOVER / REQUEST (SOLICIT / REQUEST for DHCPv6) that the server's
 * reply need not repeat: the host name (option 12), FQDN (option 81; DHCPv6 option 39) and the
 * relay agent information a relay added on the way to the server (option 82).
 */
export interface DhcpRequestInfo {
  hostName?: string;
  fqdn?: string;
  relayCircuitId?: string; relayCircuitIdText?: string;
  relayRemoteId?: string; relayRemoteIdText?: string;
}

/**
 * The client's host name for a DHCPv4 message, the same for its event and the device store.
 * Option 12 "specifies the name of the client" (RFC 2132 §3.14). A server MAY put one in its
 * OFFER / ACK (RFC 2131 §4.3.1, Table 3, "all others"): when it does, that is the name it gave the
 * client (a reservation, a naming policy) and the one the client is told to use, so the reply's
 * own option 12 wins over the one the client asked with; servers that send none (dnsmasq, ISC
 * dhcpd by default) leave the client's. The FQDN (option 81, RFC 4702) is taken only when neither
 * side sent option 12: it is the name for DNS updates, often qualified with a domain the host
 * name is not, and a server's reply carries its own (RFC 4702 §4), so the reply's comes first too.
 */
export function dhcp4HostName(info: Dhcp4Info, req: DhcpRequestInfo | undefined): string | undefined {
  return info.hostName ?? req?.hostName ?? info.clientFqdn ?? req?.fqdn;
}

export function buildDhcpActivity(info: Dhcp4Info | Dhcp6Info, ctx: DhcpEventContext): DhcpActivityEvent {
  const isV4 = info.version === 4;
  const activityId = isV4 ? (DHCP4_ACTIVITY[info.msgType] !== undefined ? info.msgType : 99) : (DHCP6_ACTIVITY[info.msgType] ?? 99);
  const activityName = activityId === 99 ? 'Other' : DHCP4_ACTIVITY[activityId]!;
  // The client is the BOOTREQUEST sender, or the receiver of a BOOTREPLY (RFC 2131 §4.1).
  const fromClient = isV4 ? info.op === 1 : [1, 3, 4, 5, 6, 8, 9, 11].includes(info.msgType);
  const client: Record<string, unknown> = {};
  const server: Record<string, unknown> = {};
  const c = fromClient ? { ip: ctx.srcIp, port: ctx.srcPort, mac: ctx.srcMac } : { ip: ctx.dstIp, port: ctx.dstPort, mac: ctx.dstMac };
  const s = fromClient ? { ip: ctx.dstIp, port: ctx.dstPort, mac: ctx.dstMac } : { ip: ctx.srcIp, port: ctx.srcPort, mac: ctx.srcMac };
  let assigned: string | undefined, hostName: string | undefined, lease: number | undefined;
  const unmapped: Record<string, unknown> = {
    dhcp_msg_type: info.msgTypeName,
    // The packet's own endpoints (the endpoints above are the client's identity and the server).
    pkt_src: `${ctx.srcIp}:${ctx.srcPort}`, pkt_dst: `${ctx.dstIp}:${ctx.dstPort}`,
  };
  if (info.version === 4) {
    assigned = info.yiaddr ?? info.ciaddr;
    const req = ctx.request;
    hostName = dhcp4HostName(info, req);
    lease = info.leaseTimeS;
    client.mac = info.mac ?? c.mac;
    if (info.clientId !== undefined) unmapped.dhcp_client_id = info.clientId;
    if (info.vendorClass !== undefined) unmapped.dhcp_vendor_class = info.vendorClass;
    if (info.paramRequestList !== undefined) unmapped.dhcp_param_request_list = info.paramRequestList.join(',');
    if (info.requestedAddr !== undefined) unmapped.dhcp_requested_addr = info.requestedAddr;
    if (info.yiaddr !== undefined) unmapped.dhcp_yiaddr = info.yiaddr;
    if (info.ciaddr !== undefined) unmapped.dhcp_ciaddr = info.ciaddr;
    if (info.clientFqdn !== undefined) unmapped.dhcp_client_fqdn = info.clientFqdn;
    if (info.message !== undefined) unmapped.dhcp_message = info.message;
    // The name the client asked with, when the server gave it another (see dhcp4HostName).
    const asked = req?.hostName ?? req?.fqdn;
    if (asked !== undefined && asked !== hostName) unmapped.dhcp_requested_host_name = asked;
    // Relay agent information (RFC 3046 §3.1, §3.2): which switch port / circuit and which relay
    // the request came through. A relay adds it toward the server and the server echoes it
    // (§2.2), but a reply without it still belongs to the request's circuit. No OCSF attribute
    // holds it: `*_hex` always (the ids are opaque bytes), the plain key also when printable.
    const circuitHex = info.relayCircuitId ?? req?.relayCircuitId;
    const circuitText = info.relayCircuitId !== undefined ? info.relayCircuitIdText : req?.relayCircuitIdText;
    const remoteHex = info.relayRemoteId ?? req?.relayRemoteId;
    const remoteText = info.relayRemoteId !== undefined ? info.relayRemoteIdText : req?.relayRemoteIdText;
    if (circuitText !== undefined) unmapped.dhcp_relay_circuit_id = circuitText;
    if (circuitHex !== undefined) unmapped.dhcp_relay_circuit_id_hex = circuitHex;
    if (remoteText !== undefined) unmapped.dhcp_relay_remote_id = remoteText;
    if (remoteHex !== undefined) unmapped.dhcp_relay_remote_id_hex = remoteHex;
    if (info.serverId !== undefined) s.ip = info.serverId;
  } else {
    // The event's client address and lease are the first IA_NA address's; all of them (RFC 8415
    // §21.4, §21.6: several IA_NA per message, several addresses per IA_NA) are listed below.
    assigned = info.iaAddress;
    hostName = info.clientFqdn ?? ctx.request?.fqdn;
    lease = info.validLifetimeS;
    client.mac = info.duidMac ?? c.mac;
    if (info.duid !== undefined) unmapped.dhcp6_duid = info.duid;
    if (info.vendorClass !== undefined) unmapped.dhcp_vendor_class = info.vendorClass;
    if (info.optionRequestList !== undefined) unmapped.dhcp6_option_request_list = info.optionRequestList.join(',');
    if (info.iaAddresses !== undefined) {
      unmapped.dhcp6_ia_addresses = info.iaAddresses.map((a) => ({ ip: a.address, iaid: a.iaid, valid_lifetime: a.validLifetimeS }));
    }
    if (info.iaAddressesDropped !== undefined) unmapped.dhcp6_ia_addresses_dropped = info.iaAddressesDropped;
  }
  if (client.mac === undefined) delete client.mac;
  // The client's address: the one assigned to it when known, else the packet's.
  const clientIp = assigned ?? c.ip;
  // OCSF requires an address-like field on each endpoint: before a lease the packet's own
  // (0.0.0.0, the broadcast address) is what there is.
  client.ip = clientIp;
  client.port = c.port;
  if (hostName !== undefined) client.hostname = hostName;
  server.ip = s.ip;
  server.port = s.port;
  if (s.mac !== undefined && s.mac !== 'ff:ff:ff:ff:ff:ff') server.mac = s.mac;
  const ev: DhcpActivityEvent = {
    activity_id: activityId,
    activity_name: activityName,
    category_uid: 4,
    category_name: 'Network Activity',
    class_uid: 4004,
    class_name: 'DHCP Activity',
    type_uid: 400400 + activityId,
    type_name: `DHCP Activity: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    time: ctx.timeMs,
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: randomEventUid(), log_name: 'dhcp' },
    src_endpoint: client,
    dst_endpoint: server,
    transaction_uid: info.xid.toString(16).padStart(isV4 ? 8 : 6, '0'),
    unmapped,
  };
  // lease_dur is a lease granted: the server's OFFER / ACK (RFC 2131 §3.1 steps 2 and 4), DHCPv6
  // ADVERTISE / REPLY (RFC 8415 §18.3). A client's option 51 in DISCOVER / REQUEST (RFC 2132
  // §9.2) or its IA lifetimes (RFC 8415 §21.6) only ask for one: kept in unmapped.
  const granted = isV4 ? info.msgType === 2 || info.msgType === 5 : info.msgType === 2 || info.msgType === 7;
  if (lease !== undefined) {
    if (granted) ev.lease_dur = lease;
    else unmapped.dhcp_requested_lease_dur = lease;
  }
  if (info.version === 4 && info.giaddr !== undefined) ev.relay = { ip: info.giaddr };
  if (info.version === 4 && (info.msgType === 3 && info.ciaddr !== undefined)) ev.is_renewal = true;
  return ev;
}

/** The OCSF `device` object for a device and the address it used. */
export function deviceObject(d: DeviceLike, ip?: string, mac?: string): OcsfDevice {
  const o: OcsfDevice = { uid: d.uid, type_id: d.typeId ?? 0, type: DEVICE_TYPES[d.typeId ?? 0] ?? 'Unknown' };
  if (d.hostname !== undefined) o.hostname = d.hostname;
  const m = mac !== undefined && d.macs.includes(mac) ? mac : d.macs[0];
  if (m !== undefined) o.mac = m;
  if (ip !== undefined) o.ip = ip;
  if (d.vendor !== undefined) o.vendor_name = d.vendor;
  // An enrolled agent reports this device: it is managed. Without one nothing says either way.
  if (d.agentId !== undefined) o.is_managed = true;
  if (d.os !== undefined) o.os = { name: d.os.name, type_id: d.os.typeId, type: OS_TYPES[d.os.typeId] ?? 'Other' };
  o.first_seen_time = d.firstSeenMs;
  o.last_seen_time = d.lastSeenMs;
  return o;
}

const DEVICE_TYPES: Record<number, string> = { 0: 'Unknown', 1: 'Server', 2: 'Desktop', 3: 'Laptop', 4: 'Tablet', 5: 'Mobile', 6: 'Virtual', 7: 'IOT', 99: 'Other' };
const OS_TYPES: Record<number, string> = { 0: 'Unknown', 100: 'Windows', 200: 'Linux', 201: 'Android', 300: 'macOS', 301: 'iOS', 302: 'iPadOS', 99: 'Other' };

export function userObject(u: UserSpanLike): OcsfUser {
  const o: OcsfUser = { name: u.name };
  if (u.domain !== undefined) o.domain = u.domain;
  if (u.uid !== undefined) o.uid = u.uid;
  if (u.upn !== undefined) o.uid_alt = u.upn;
  return o;
}

/**
 * Device Inventory Info (5001, activity 1 Log) for a device that appeared or changed. `macOf`
 * names the MAC an address was bound with (DHCP and ARP/NDP bindings know it; an agent's report
 * does not), so each address is listed with its own interface.
 */
export function buildDeviceInventory(d: DeviceLike, change: string, timeMs: number, macOf?: (address: string) => string | undefined,
  userAt?: (d: DeviceLike, atMs: number) => UserSpanLike | undefined): InventoryInfoEvent {
  // device.ip: the address the device took most recently (the store lists them in binding order).
  const device = deviceObject(d, d.addresses.length > 0 ? d.addresses[d.addresses.length - 1] : undefined);
  const ifaces = d.macs.map((mac) => {
    const n: Record<string, unknown> = { mac, type_id: 0 };
    if (d.hostname !== undefined) n.hostname = d.hostname;
    return n;
  });
  // Addresses go with the interface that was seen using them; unknown pairing → first MAC. An
  // interface with several addresses is listed once per address.
  if (ifaces.length > 0) {
    for (const ip of d.addresses) {
      const mac = macOf?.(ip);
      const base = ifaces.find((n) => n.mac === mac) ?? ifaces[0]!;
      if (base.ip === undefined) base.ip = ip;
      else ifaces.push({ ...base, ip });
    }
  }
  if (ifaces.length > 0) device.network_interfaces = ifaces;
  const ev: InventoryInfoEvent = {
    activity_id: 1,
    activity_name: 'Log',
    category_uid: 5,
    category_name: 'Discovery',
    class_uid: 5001,
    class_name: 'Device Inventory Info',
    type_uid: 500101,
    type_name: 'Device Inventory Info: Log',
    severity_id: 1,
    severity: 'Informational',
    time: timeMs,
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: randomEventUid(), log_name: 'inventory' },
    device,
    unmapped: {
      change,
      hostname_source: d.hostnameSource !== undefined ? d.hostnameSource : undefined,
      hostname_trust: TRUST_NAMES[d.hostnameTrust],
      randomized_mac: d.randomizedMac,
      agent_id: d.agentId,
      links: d.links,
      evidence: d.evidence,
    },
  };
  const um = ev.unmapped;
  for (const k of Object.keys(um)) if (um[k] === undefined) delete um[k];
  // The user on the device now (the same lookup as every other class's actor.user): the actor,
  // and the device's owner as far as the sensor can tell.
  const u = userAt !== undefined ? userAt(d, timeMs) : (d.users.length > 0 ? d.users[d.users.length - 1] : undefined);
  if (u !== undefined && u.toMs >= timeMs) {
    ev.actor = { user: userObject(u) };
    device.owner = userObject(u);
  }
  return ev;
}
