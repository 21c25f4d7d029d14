/**
 * The packet builders the pinned cases use, through one module: when the builders move, only
 * these paths change.
 */
export * from '../support/packets.js';
export {
  alpnExt, certificateBody, chromeLikeClientHelloBody, clientHelloBody, ext, fakeCertificateDer, handshake, records,
  serverHelloBody, sniExt, supportedVersionsExt, u16,
} from '../../src/protocols/tls/fixtures.js';
export { dhcp4, ip4, str, u32be } from '../../src/protocols/dhcp/fixtures.js';
export { nbnsRegistration } from '../../src/protocols/nbns/fixtures.js';
export { RFC9001_CLIENT_INITIAL_HEX } from '../../src/protocols/quic/rfc-vectors.js';
