/**
 * The packet builders the pinned cases use, through one module: when the builders move, only
 * these paths change.
 */
export * from '../support/packets.js';
export {
  alpnExt, certificateBody, chromeLikeClientHelloBody, clientHelloBody, ext, fakeCertificateDer, handshake, records,
  serverHelloBody, sniExt, supportedVersionsExt, u16,
} from '../fixtures/tls.js';
export { dhcp4, ip4, str, u32be } from '../fixtures/dhcp.js';
export { nbnsRegistration } from '../fixtures/nbns.js';
export { RFC9001_CLIENT_INITIAL_HEX } from '../fixtures/quic-rfc-vectors.js';
export { kdcReq, kdcRep, krbError } from '../fixtures/logons.js';
