/**
 * Strings from a parsed DHCP message, built only for messages that are kept (not per packet of
 * other traffic). Lengths were checked by the parser; text is bounded by option lengths (≤ 255).
 */
import type { Dhcp4Message } from './dhcp4.js';
import { Dhcp4Option, DHCP4_TYPE_NAMES } from './dhcp4.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';

/** What the device store and the DHCP Activity event need from one DHCPv4 message. */
export interface Dhcp4Info {
  version: 4;
  op: number;
  msgType: number;
  msgTypeName: string;
  xid: number;
  /** Client hardware address, "aa:bb:..."; absent when htype/hlen is not Ethernet. */
  mac?: string;
  ciaddr?: string;
  yiaddr?: string;
  giaddr?: string;
  requestedAddr?: string;
  serverId?: string;
  leaseTimeS?: number;
  hostName?: string;
  clientFqdn?: string;
  domainName?: string;
  vendorClass?: string;
  /** Option 61 as hex (type byte first). */
  clientId?: string;
  /** Option 55 codes in the order the client sent them: an OS fingerprint. */
  paramRequestList?: number[];
  /** Option 82 sub-options 1 (circuit id, RFC 3046 §3.1) and 2 (remote id, §3.2) as hex. */
  relayCircuitId?: string;
  relayRemoteId?: string;
  /**
   * The same as text when every byte is printable ASCII (switch port names such as
   * "ge-0/0/7.10" usually are; MAC-like or binary ids are not, and stay hex only).
   */
  relayCircuitIdText?: string;
  relayRemoteIdText?: string;
  /** Option 82 whose sub-options run past its end (`dhcp.v4.malformed.relay_agent_truncated`); the ids read before are kept. */
  relayAgentTruncated?: boolean;
  /** Option 56 text (NAK reasons). */
  message?: string;
}

export function hex(buf: Buffer, o: number, len: number): string {
  return buf.toString('hex', o, o + len);
}

/** Printable ASCII only; other bytes become '?' (host names are attacker-controlled). */
export function safeText(buf: Buffer, o: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) {
    const c = buf[o + i]!;
    if (c === 0 && i === len - 1) break; // trailing NUL some stacks add
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}

/** buf[o, o+len) as text when every byte is printable ASCII (0x20–0x7e), else undefined. */
export function printableText(buf: Buffer, o: number, len: number): string | undefined {
  if (len === 0) return undefined;
  for (let i = 0; i < len; i++) {
    const c = buf[o + i]!;
    if (c < 0x20 || c >= 0x7f) return undefined;
  }
  return buf.toString('latin1', o, o + len);
}

/** Uncompressed DNS wire-format name (RFC 1035 §3.1; RFC 4702 §2.3 forbids compression). */
export function wireName(buf: Buffer, o: number, end: number): string | undefined {
  const labels: string[] = [];
  while (o < end) {
    const n = buf[o]!;
    if (n === 0) return labels.join('.');
    if (n > 63 || o + 1 + n > end) return undefined;
    labels.push(safeText(buf, o + 1, n));
    o += 1 + n;
  }
  // RFC 4702 §2.3.1: a partial name has no terminating zero label.
  return labels.length > 0 ? labels.join('.') : undefined;
}

function opt(m: Dhcp4Message, code: number): [number, number] | undefined {
  const o = m.optOffset[code]!;
  return o === -1 ? undefined : [o, m.optLength[code]!];
}

export function macAt(buf: Buffer, o: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + buf[o + i]!.toString(16).padStart(2, '0');
  return s;
}

export function dhcp4Info(buf: Buffer, m: Dhcp4Message): Dhcp4Info {
  const info: Dhcp4Info = {
    version: 4, op: m.op, msgType: m.msgType, msgTypeName: DHCP4_TYPE_NAMES[m.msgType] ?? `TYPE${m.msgType}`, xid: m.xid,
  };
  if (m.hasEthernetMac()) info.mac = macAt(buf, m.chaddrOffset);
  if (m.ciaddr !== 0) info.ciaddr = ipv4ToString(m.ciaddr);
  if (m.yiaddr !== 0) info.yiaddr = ipv4ToString(m.yiaddr);
  if (m.giaddr !== 0) info.giaddr = ipv4ToString(m.giaddr);
  if (m.requestedAddr !== 0) info.requestedAddr = ipv4ToString(m.requestedAddr);
  if (m.serverId !== 0) info.serverId = ipv4ToString(m.serverId);
  if (m.leaseTimeS >= 0) info.leaseTimeS = m.leaseTimeS;
  let o = opt(m, Dhcp4Option.HOST_NAME);
  if (o !== undefined && o[1] > 0) info.hostName = safeText(buf, o[0], o[1]);
  o = opt(m, Dhcp4Option.DOMAIN_NAME);
  if (o !== undefined && o[1] > 0) info.domainName = safeText(buf, o[0], o[1]);
  o = opt(m, Dhcp4Option.VENDOR_CLASS);
  if (o !== undefined && o[1] > 0) info.vendorClass = safeText(buf, o[0], o[1]);
  o = opt(m, Dhcp4Option.CLIENT_ID);
  if (o !== undefined && o[1] > 0) info.clientId = hex(buf, o[0], o[1]);
  o = opt(m, Dhcp4Option.MESSAGE);
  if (o !== undefined && o[1] > 0) info.message = safeText(buf, o[0], o[1]);
  o = opt(m, Dhcp4Option.PARAMETER_REQUEST_LIST);
  if (o !== undefined && o[1] > 0) {
    const list: number[] = [];
    for (let i = 0; i < o[1]; i++) list.push(buf[o[0] + i]!);
    info.paramRequestList = list;
  }
  o = opt(m, Dhcp4Option.CLIENT_FQDN);
  if (o !== undefined && o[1] > 3) {
    // RFC 4702 §2: flags, RCODE1, RCODE2, then the name; E flag (0x04) = DNS wire format,
    // otherwise (deprecated) ASCII.
    const flags = buf[o[0]]!;
    const name = (flags & 0x04) !== 0 ? wireName(buf, o[0] + 3, o[0] + o[1]) : safeText(buf, o[0] + 3, o[1] - 3);
    if (name !== undefined && name.length > 0) info.clientFqdn = name;
  }
  o = opt(m, Dhcp4Option.RELAY_AGENT);
  if (o !== undefined) {
    // RFC 3046 §2.0: sub-options (code, length, value); 1 circuit id (§3.1), 2 remote id (§3.2).
    // Both are opaque to the server and compared byte for byte, so the hex is always kept.
    let p = o[0];
    const end = o[0] + o[1];
    while (p < end) {
      if (p + 2 > end || p + 2 + buf[p + 1]! > end) { info.relayAgentTruncated = true; break; }
      const code = buf[p]!, len = buf[p + 1]!;
      if (len > 0 && code === 1 && info.relayCircuitId === undefined) {
        info.relayCircuitId = hex(buf, p + 2, len);
        const t = printableText(buf, p + 2, len);
        if (t !== undefined) info.relayCircuitIdText = t;
      } else if (len > 0 && code === 2 && info.relayRemoteId === undefined) {
        info.relayRemoteId = hex(buf, p + 2, len);
        const t = printableText(buf, p + 2, len);
        if (t !== undefined) info.relayRemoteIdText = t;
      }
      p += 2 + len;
    }
  }
  return info;
}

/** What the store and events need from one DHCPv6 message. */
export interface Dhcp6Info {
  version: 6;
  msgType: number;
  msgTypeName: string;
  xid: number;
  /** Client DUID as hex (RFC 8415 §11). */
  duid?: string;
  serverDuid?: string;
  /** First IA_NA address (RFC 8415 §21.6) and its valid lifetime: the lease of the event's client address. */
  iaAddress?: string;
  validLifetimeS?: number;
  /** Every IA_NA address kept, in message order (RFC 8415 §21.4, §21.6), at most DHCP6_MAX_IA_ADDRESSES. */
  iaAddresses?: Dhcp6IaAddress[];
  /** IA Addresses beyond DHCP6_MAX_IA_ADDRESSES, not kept. */
  iaAddressesDropped?: number;
  clientFqdn?: string;
  vendorClass?: string;
  /** Option request option codes in order (RFC 8415 §21.7). */
  optionRequestList?: number[];
  /** MAC embedded in a DUID-LLT / DUID-LL with hardware type 1 (RFC 8415 §11.2, §11.4). */
  duidMac?: string;
}

export interface Dhcp6IaAddress {
  address: string;
  /** IAID of the IA_NA holding it (RFC 8415 §21.4). */
  iaid: number;
  /** Seconds; 0 = no longer valid (§18.2.10.1), 0xffffffff = infinity (§7.7). */
  validLifetimeS: number;
}

export function dhcp6Info(buf: Buffer, m: import('./dhcp6.js').Dhcp6Message, names: readonly string[]): Dhcp6Info {
  const info: Dhcp6Info = { version: 6, msgType: m.msgType, msgTypeName: names[m.msgType] ?? `TYPE${m.msgType}`, xid: m.xid };
  if (m.clientIdOffset >= 0 && m.clientIdLength > 0) {
    info.duid = hex(buf, m.clientIdOffset, m.clientIdLength);
    const o = m.clientIdOffset, len = m.clientIdLength;
    if (len >= 4) {
      const type = (buf[o]! << 8) | buf[o + 1]!, hw = (buf[o + 2]! << 8) | buf[o + 3]!;
      if (hw === 1 && type === 1 && len === 14) info.duidMac = macAt(buf, o + 8);
      if (hw === 1 && type === 3 && len === 10) info.duidMac = macAt(buf, o + 4);
    }
  }
  if (m.serverIdOffset >= 0 && m.serverIdLength > 0) info.serverDuid = hex(buf, m.serverIdOffset, m.serverIdLength);
  if (m.iaAddrCount > 0) {
    const list: Dhcp6IaAddress[] = [];
    for (let k = 0; k < m.iaAddrCount; k++) {
      const o = m.iaAddrOffsets[k]!;
      const w = (i: number): number => ((buf[o + i]! << 24) | (buf[o + i + 1]! << 16) | (buf[o + i + 2]! << 8) | buf[o + i + 3]!) >>> 0;
      list.push({ address: ipv6ToString(w(0), w(4), w(8), w(12)), iaid: m.iaIds[k]!, validLifetimeS: m.iaValidLifetimes[k]! });
    }
    info.iaAddresses = list;
    info.iaAddress = list[0]!.address;
    info.validLifetimeS = list[0]!.validLifetimeS;
  }
  if (m.iaAddrDropped > 0) info.iaAddressesDropped = m.iaAddrDropped;
  if (m.fqdnOffset >= 0 && m.fqdnLength > 1) {
    // RFC 4704 §4.1: flags byte, then the DNS wire-format name.
    const name = wireName(buf, m.fqdnOffset + 1, m.fqdnOffset + m.fqdnLength);
    if (name !== undefined && name.length > 0) info.clientFqdn = name;
  }
  if (m.vendorClassOffset >= 0 && m.vendorClassLength > 4) {
    // §21.16: enterprise number (4), then opaque data items each with a 2-byte length.
    const o = m.vendorClassOffset + 4, end = m.vendorClassOffset + m.vendorClassLength;
    if (o + 2 <= end) {
      const l = (buf[o]! << 8) | buf[o + 1]!;
      if (o + 2 + l <= end) info.vendorClass = safeText(buf, o + 2, l);
    }
  }
  if (m.oroOffset >= 0 && m.oroLength >= 2) {
    const list: number[] = [];
    for (let i = 0; i + 1 < m.oroLength; i += 2) list.push((buf[m.oroOffset + i]! << 8) | buf[m.oroOffset + i + 1]!);
    info.optionRequestList = list;
  }
  return info;
}
