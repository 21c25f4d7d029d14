/**
 * The registered protocols, one line each. Order matters for flow analyzers: on an undecided
 * flow they are probed in this order and the first that claims the flow owns it (TLS before
 * HTTP: a handshake record is never a request line). Each entry's folder holds a README.md that
 * documents every counter the protocol reports (registry.test.ts checks it).
 */
import type { ProtocolDescriptor } from './protocol.js';
import { dns } from './dns/index.js';
import { tls } from './tls/index.js';
import { quic } from './quic/index.js';
import { http } from './http/index.js';
import { dhcp } from './dhcp/index.js';
import { arp } from './arp/index.js';
import { nbns } from './nbns/index.js';
import { kerberos } from './kerberos/index.js';
import { ntlm } from './ntlm/index.js';
import { radius } from './radius/index.js';

export const PROTOCOLS: readonly ProtocolDescriptor[] = [
  dns,
  tls,
  quic,
  http,
  dhcp,
  arp,
  nbns,
  kerberos,
  ntlm,
  radius,
];
