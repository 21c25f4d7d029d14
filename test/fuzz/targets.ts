/**
 * The fuzz targets and the registered protocols each one feeds. test/fuzz.test.ts runs every
 * target; src/protocols/registry.test.ts fails when a registered protocol has no target, or when
 * a target claims a protocol whose parsers it does not import.
 */
export interface FuzzTarget {
  name: string;
  /** Path from the repository root. */
  script: string;
  /** Names of registered protocols (src/protocols/registry.ts) whose parsers the target drives. */
  protocols: readonly string[];
}

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  { name: 'tls', script: 'test/fuzz/tls.ts', protocols: ['tls'] },
  { name: 'quic', script: 'test/fuzz/quic.ts', protocols: ['quic'] },
  { name: 'http', script: 'test/fuzz/http.ts', protocols: ['http'] },
  { name: 'dns', script: 'test/fuzz/dns.ts', protocols: ['dns'] },
  // DHCPv4/v6, ARP, NDP, NetBIOS and mDNS through the device-identity path (sequences of packets).
  { name: 'devices', script: 'test/fuzz/devices.ts', protocols: ['dhcp', 'arp', 'nbns'] },
  { name: 'kerberos', script: 'test/fuzz/kerberos.ts', protocols: ['kerberos'] },
  // NTLMSSP, SPNEGO and SMB session setup.
  { name: 'ntlm', script: 'test/fuzz/ntlm.ts', protocols: ['ntlm'] },
  { name: 'radius', script: 'test/fuzz/radius.ts', protocols: ['radius'] },
];
