/**
 * TLS analyzer counters: malformed-input reasons (indexed by TlsError, named in
 * TLS_ERROR_NAMES) plus analyzer outcomes. One instance per sensor, shared by all flows.
 */
import { TLS_ERROR_NAMES, TlsError } from './constants.js';

export class TlsCounters {
  /** Malformed-input counts, indexed by TlsError. */
  readonly errors = new Float64Array(TlsError.COUNT);
  /** Flows whose first client (or server) bytes are not a TLS handshake record. */
  notTls = 0;
  clientHellos = 0;
  serverHellos = 0;
  /** Leaf certificates whose names were read (TLS <= 1.2). */
  certificates = 0;
  /** The reassembly bound was reached before the ClientHello was complete. */
  clientHelloTooLarge = 0;
  /** The reassembly bound was reached before the ServerHello / leaf certificate was complete. */
  serverFlightTooLarge = 0;
  /** SNI host_name with bytes outside printable ASCII, or longer than 255: not reported. */
  sniInvalid = 0;
  /** A ClientHello list exceeded its storage cap (JA4 then covers the stored part only). */
  listOverflow = 0;
  /** The flow was abandoned after too many segments without a complete handshake. */
  gaveUpSegments = 0;
  /** More certificate names than MAX_CERTIFICATE_NAMES; or names with invalid characters. */
  certificateNamesDropped = 0;

  countError(e: TlsError): void {
    if (e > TlsError.NONE && e < TlsError.COUNT) this.errors[e]!++;
  }

  snapshot(): Record<string, number> {
    const s: Record<string, number> = {
      'tls.not_tls': this.notTls,
      'tls.client_hellos': this.clientHellos,
      'tls.server_hellos': this.serverHellos,
      'tls.certificates': this.certificates,
      'tls.client_hello_too_large': this.clientHelloTooLarge,
      'tls.server_flight_too_large': this.serverFlightTooLarge,
      'tls.sni_invalid': this.sniInvalid,
      'tls.list_overflow': this.listOverflow,
      'tls.gave_up_segments': this.gaveUpSegments,
      'tls.certificate_names_dropped': this.certificateNamesDropped,
    };
    for (let i = 1; i < TlsError.COUNT; i++) s[TLS_ERROR_NAMES[i]!] = this.errors[i]!;
    return s;
  }
}
