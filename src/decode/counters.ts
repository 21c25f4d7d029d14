/**
 * Malformed-input and decode counters. Fields are plain numbers on one monomorphic object so the
 * hot path bumps them with `c.x++` and nothing else; `snapshot()` gives them their stable dotted
 * names (documented in src/decode/README.md) only when someone asks.
 */
export class DecodeCounters {
  packets = 0;
  bytes = 0;
  /** Link types we do not decode; the packet is counted and dropped. */
  unsupportedLinkType = 0;
  linkTruncated = 0;
  /** Ethertypes other than IP (ARP, LLDP, ...): not malformed, just not flows. */
  nonIp = 0;
  vlanTruncated = 0;
  vlanTooDeep = 0;
  mplsTruncated = 0;
  mplsTooDeep = 0;
  pppoeTruncated = 0;
  pppoeNonIp = 0;
  ipv4Truncated = 0;
  ipv4BadVersion = 0;
  ipv4BadHeaderLength = 0;
  ipv4BadTotalLength = 0;
  ipv4Fragments = 0;
  ipv6Truncated = 0;
  ipv6BadVersion = 0;
  ipv6BadPayloadLength = 0;
  ipv6ExtHeaderTruncated = 0;
  ipv6TooManyExtHeaders = 0;
  ipv6Fragments = 0;
  tcpTruncated = 0;
  tcpBadHeaderLength = 0;
  udpTruncated = 0;
  udpBadLength = 0;
  sctpTruncated = 0;
  greTruncated = 0;
  greUnsupported = 0;
  vxlanTruncated = 0;
  gtpTruncated = 0;
  gtpNonIp = 0;
  tzspTruncated = 0;
  tzspUnsupported = 0;
  capwapUnsupported = 0;
  tunnelTooDeep = 0;
  tunnelsDecapsulated = 0;

  snapshot(): Record<string, number> {
    return {
      'decode.packets': this.packets,
      'decode.bytes': this.bytes,
      'decode.unsupported_link_type': this.unsupportedLinkType,
      'decode.link_truncated': this.linkTruncated,
      'decode.non_ip': this.nonIp,
      'decode.vlan_truncated': this.vlanTruncated,
      'decode.vlan_too_deep': this.vlanTooDeep,
      'decode.mpls_truncated': this.mplsTruncated,
      'decode.mpls_too_deep': this.mplsTooDeep,
      'decode.pppoe_truncated': this.pppoeTruncated,
      'decode.pppoe_non_ip': this.pppoeNonIp,
      'decode.ipv4_truncated': this.ipv4Truncated,
      'decode.ipv4_bad_version': this.ipv4BadVersion,
      'decode.ipv4_bad_header_length': this.ipv4BadHeaderLength,
      'decode.ipv4_bad_total_length': this.ipv4BadTotalLength,
      'decode.ipv4_fragments': this.ipv4Fragments,
      'decode.ipv6_truncated': this.ipv6Truncated,
      'decode.ipv6_bad_version': this.ipv6BadVersion,
      'decode.ipv6_bad_payload_length': this.ipv6BadPayloadLength,
      'decode.ipv6_ext_header_truncated': this.ipv6ExtHeaderTruncated,
      'decode.ipv6_too_many_ext_headers': this.ipv6TooManyExtHeaders,
      'decode.ipv6_fragments': this.ipv6Fragments,
      'decode.tcp_truncated': this.tcpTruncated,
      'decode.tcp_bad_header_length': this.tcpBadHeaderLength,
      'decode.udp_truncated': this.udpTruncated,
      'decode.udp_bad_length': this.udpBadLength,
      'decode.sctp_truncated': this.sctpTruncated,
      'decode.gre_truncated': this.greTruncated,
      'decode.gre_unsupported': this.greUnsupported,
      'decode.vxlan_truncated': this.vxlanTruncated,
      'decode.gtp_truncated': this.gtpTruncated,
      'decode.gtp_non_ip': this.gtpNonIp,
      'decode.tzsp_truncated': this.tzspTruncated,
      'decode.tzsp_unsupported': this.tzspUnsupported,
      'decode.capwap_unsupported': this.capwapUnsupported,
      'decode.tunnel_too_deep': this.tunnelTooDeep,
      'decode.tunnels_decapsulated': this.tunnelsDecapsulated,
    };
  }
}
