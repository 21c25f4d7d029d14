/**
 * Per-flow TLS state driven by the sensor with TCP payloads of both directions.
 *
 * Each direction's first `tlsReassemblyMaxBytes` bytes are reassembled (StreamPrefix); the
 * ClientHello is parsed as soon as it is complete (SNI, ALPN, versions, JA4, ECH), and the
 * server's ServerHello (selected version) and, for TLS <= 1.2, the leaf certificate's names.
 * `done` becomes true when there is nothing more to learn, or a bound was reached, so the
 * sensor stops feeding the flow. A first byte that is not a handshake record (0x16,
 * RFC 8446 §5.1) ends the analysis at once with no result.
 */
import { StreamPrefix, StreamPrefixCounters } from '../../flows/stream-prefix.js';
import { ParseStatus } from '../parse-status.js';
import { ClientHello, parseClientHello } from './client-hello.js';
import { CONTENT_HANDSHAKE, TlsError, isGrease } from './constants.js';
import { TlsCounters } from './counters.js';
import { ja4 } from './ja4.js';
import { ServerFlight, parseServerFlight } from './server-hello.js';

export { tlsVersionName } from './constants.js';

export const DEFAULT_TLS_REASSEMBLY_MAX_BYTES = 16384;
/** Segments (both directions, with payload) after which an unfinished flow is abandoned. */
export const MAX_TLS_SEGMENTS = 64;

export interface TlsResult {
  /** SNI host_name, lowercase, no trailing dot. */
  sni?: string;
  /** ALPN protocols offered by the client, in order. */
  alpn?: string[];
  /** Client's supported_versions without GREASE, or [legacy_version] without that extension. */
  versions?: number[];
  ja4?: string;
  /** Version selected by the server (supported_versions, else ServerHello.legacy_version). */
  serverVersion?: number;
  /** Cipher suite selected by the server. */
  serverCipher?: number;
  /** ALPN selected by the server (visible for TLS <= 1.2 only). */
  serverAlpn?: string;
  /** Leaf certificate subjectAltName dNSNames, then the subject CN if not among them (TLS <= 1.2). */
  certificateNames?: string[];
  /** The ClientHello carried encrypted_client_hello (0xfe0d). */
  ech: boolean;
}

// Parse results are extracted synchronously, so one scratch object of each kind serves all flows.
let sharedClientHello: ClientHello | null = null;
let sharedServerFlight: ServerFlight | null = null;

export class TlsFlowState {
  done = false;
  /** The flow turned out not to be TLS. */
  notTls = false;
  readonly result: TlsResult = { ech: false };
  private readonly counters: TlsCounters;
  private readonly client: StreamPrefix;
  private readonly server: StreamPrefix;
  private clientDone = false;
  private serverDone = false;
  private clientParsedAt = 0;
  private serverParsedAt = 0;
  private segments = 0;

  private readonly fingerprints: boolean;

  constructor(counters: TlsCounters, streamCounters: StreamPrefixCounters,
    tlsReassemblyMaxBytes: number = DEFAULT_TLS_REASSEMBLY_MAX_BYTES, fingerprints = true) {
    this.counters = counters;
    this.fingerprints = fingerprints;
    this.client = new StreamPrefix(tlsReassemblyMaxBytes, streamCounters);
    this.server = new StreamPrefix(tlsReassemblyMaxBytes, streamCounters);
  }

  /** Client → server TCP segment; `isSyn` when the SYN flag is set (its seq is the ISN). */
  onClientData(seq: number, buf: Buffer, off: number, len: number, isSyn = false): void {
    if (this.done || this.clientDone) return;
    if (isSyn) { this.client.setIsn(seq); seq = (seq + 1) >>> 0; }
    if (len <= 0) return;
    this.client.push(seq, buf, off, len);
    this.countSegment();
    if (!this.done) this.parseClient();
  }

  /** Server → client TCP segment; `isSyn` for the SYN-ACK. */
  onServerData(seq: number, buf: Buffer, off: number, len: number, isSyn = false): void {
    if (this.done || this.serverDone) return;
    if (isSyn) { this.server.setIsn(seq); seq = (seq + 1) >>> 0; }
    if (len <= 0) return;
    this.server.push(seq, buf, off, len);
    this.countSegment();
    if (!this.done) this.parseServer();
  }

  private countSegment(): void {
    if (++this.segments > MAX_TLS_SEGMENTS) {
      this.counters.gaveUpSegments++;
      this.done = true;
    }
  }

  private setNotTls(): void {
    this.counters.notTls++;
    this.notTls = true;
    this.done = true;
  }

  private finishClient(): void {
    this.clientDone = true;
    if (this.serverDone) this.done = true;
  }

  private finishServer(): void {
    this.serverDone = true;
    if (this.clientDone) this.done = true;
  }

  private parseClient(): void {
    const p = this.client;
    const n = p.contiguousLength;
    if (n === 0 || n === this.clientParsedAt) return;
    this.clientParsedAt = n;
    const buf = p.buffer!;
    if (buf[0] !== CONTENT_HANDSHAKE) { this.setNotTls(); return; }
    const ch = sharedClientHello ??= new ClientHello();
    const st = parseClientHello(buf, 0, n, ch);
    switch (st) {
      case ParseStatus.OK: {
        this.counters.clientHellos++;
        if (ch.sniInvalid) this.counters.sniInvalid++;
        if (ch.listOverflow) this.counters.listOverflow++;
        const r = this.result;
        if (ch.serverName !== '') r.sni = ch.serverName;
        if (ch.hasAlpn) r.alpn = ch.alpn.slice();
        const versions: number[] = [];
        for (let i = 0; i < ch.supportedVersionCount; i++) {
          const v = ch.supportedVersions[i]!;
          if (!isGrease(v)) versions.push(v);
        }
        r.versions = ch.hasSupportedVersions ? versions : [ch.legacyVersion];
        if (this.fingerprints) r.ja4 = ja4(ch, 't');
        r.ech = ch.hasEch;
        this.finishClient();
        return;
      }
      case ParseStatus.NEED_MORE:
        if (p.full) { this.counters.clientHelloTooLarge++; this.finishClient(); }
        return;
      case ParseStatus.MALFORMED:
        this.counters.countError(ch.error);
        this.finishClient();
        return;
      default:
        this.setNotTls();
    }
  }

  private parseServer(): void {
    const p = this.server;
    const n = p.contiguousLength;
    if (n === 0 || n === this.serverParsedAt) return;
    this.serverParsedAt = n;
    const buf = p.buffer!;
    if (buf[0] !== CONTENT_HANDSHAKE) { this.setNotTls(); return; }
    const sf = sharedServerFlight ??= new ServerFlight();
    const st = parseServerFlight(buf, 0, n, sf);
    if (st === ParseStatus.NOT_MINE) { this.setNotTls(); return; }
    if (st === ParseStatus.NEED_MORE && !p.full) return;
    const r = this.result;
    if (sf.serverHello) {
      this.counters.serverHellos++;
      r.serverVersion = sf.selectedVersion;
      r.serverCipher = sf.cipherSuite;
      if (sf.alpn !== '') r.serverAlpn = sf.alpn;
    }
    if (st === ParseStatus.NEED_MORE) this.counters.serverFlightTooLarge++;
    else if (sf.error !== TlsError.NONE) this.counters.countError(sf.error);
    if (sf.certificateParsed) {
      this.counters.certificates++;
      const names = sf.names.dnsNames.slice();
      const cn = sf.names.subjectCN.toLowerCase();
      if (cn !== '' && !names.includes(cn)) names.push(cn);
      if (sf.names.dropped > 0) this.counters.certificateNamesDropped += sf.names.dropped;
      r.certificateNames = names;
    }
    this.finishServer();
  }
}
