/** Ethertypes (IEEE 802 numbers registry). */
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100; // IEEE 802.1Q
export const ETHERTYPE_QINQ = 0x88a8; // IEEE 802.1ad service tag
export const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard QinQ, still seen in captures
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_MPLS_UC = 0x8847; // RFC 3032
export const ETHERTYPE_MPLS_MC = 0x8848;
export const ETHERTYPE_PPPOE_SESSION = 0x8864; // RFC 2516

/** PPP protocol field values (RFC 1661 §2, RFC 5072 §3). */
export const PPP_IPV4 = 0x0021;
export const PPP_IPV6 = 0x0057;

/** IP protocol numbers (IANA). */
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_SCTP = 132;
export const IPPROTO_MOBILITY = 135;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_HIP = 139;
export const IPPROTO_SHIM6 = 140;

/** GRE protocol types (RFC 2784 uses ethertypes; these are the non-IP ones we follow). */
export const GRE_PROTO_TRANSPARENT_ETHERNET = 0x6558; // RFC 1701 "Transparent Ethernet Bridging"
export const GRE_PROTO_ERSPAN_II = 0x88be;
export const GRE_PROTO_ERSPAN_III = 0x22eb;
export const GRE_PROTO_PPP = 0x880b; // PPTP, RFC 2637 §4.1

export const UDP_PORT_VXLAN = 4789; // RFC 7348 §5
export const UDP_PORT_GTPU = 2152; // 3GPP TS 29.281
export const UDP_PORT_TZSP = 37008;
export const UDP_PORT_CAPWAP_DATA = 5247; // RFC 5415 §1.4

/** Bounds on header chains: beyond these a packet is counted as malformed, not followed. */
export const MAX_VLAN_TAGS = 4;
export const MAX_MPLS_LABELS = 16;
export const MAX_IPV6_EXT_HEADERS = 16;
export const MAX_TUNNEL_DEPTH = 4;

const protocolNames: Record<number, string> = {
  1: 'ICMP', 2: 'IGMP', 4: 'IPIP', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 47: 'GRE', 50: 'ESP', 51: 'AH',
  58: 'ICMPv6', 89: 'OSPF', 103: 'PIM', 112: 'VRRP', 115: 'L2TP', 132: 'SCTP', 136: 'UDPLite',
};
/** IANA keyword for a protocol number, or its number as text. */
export function protocolName(n: number): string {
  return protocolNames[n] ?? String(n);
}
