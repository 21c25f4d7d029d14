/**
 * Drives the protocol analyzers for each flow that needs them and keeps what they found.
 *
 * Per-flow analyzer state lives in an array indexed by flow-table slot and tagged with the
 * flow's uid, so a slot reused by a new flow starts clean without any callback. A flow is
 * inspected only until its analyzers are done or `maxInspectedPackets` payload packets have
 * gone by; after that the per-packet cost is one typed-array read. Analyzer state (reassembly
 * buffers) is dropped as soon as a flow's result is final, so memory follows the flows being
 * inspected, not the flows being tracked.
 */
import type { DecodedPacket } from '../decode/decoder.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../decode/constants.js';
import type { FlowTable } from '../flows/flow-table.js';
import { StreamPrefixCounters } from '../flows/stream-prefix.js';
import { TlsFlowState, tlsVersionName, type TlsResult } from './tls/analyzer.js';
import { TlsCounters } from './tls/counters.js';
import { ClientHello, parseClientHelloHandshake } from './tls/client-hello.js';
import { ja4 } from './tls/ja4.js';
import { ParseStatus } from './parse-status.js';
import { QuicFlowState } from './quic/analyzer.js';
import { QuicCounters } from './quic/counters.js';
import { ChloInfo, findChlo, parseChlo } from './quic/gquic-chlo.js';
import { HttpFlowState, type HttpRequestRecord } from './http/analyzer.js';
import { HttpCounters } from './http/counters.js';
import { DnsMessageInfo, DnsTcpFramer, dnsProtocolForPorts, parseDnsOverTcp } from './dns/message.js';
import { parseDnsFast } from './dns/fast.js';
import { DnsCounters } from './dns/counters.js';
import { ipv4ToString, ipv6ToString } from '../events/format.js';

/**
 * A parsed DNS message with its endpoints: `client` asked, `server` answered. Built only for
 * DNS traffic (strings are needed for the name cache and events anyway).
 */
export interface DnsMessageEvent {
  info: DnsMessageInfo;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  tsUs: number;
}
export type DnsMessageCallback = (m: DnsMessageEvent) => void;

export type HostnameSource = 'sni' | 'quic' | 'http_host' | 'certificate' | 'dns';

export interface InspectorSettings {
  tlsReassemblyMaxBytes: number;
  /** Payload packets of one flow looked at before giving up on naming it. */
  maxInspectedPackets: number;
}

export const DEFAULT_INSPECTOR_SETTINGS: InspectorSettings = {
  tlsReassemblyMaxBytes: 16384,
  maxInspectedPackets: 32,
};

/** What the analyzers learned about one flow; read when its events are built. */
export interface FlowFindings {
  hostname?: string;
  hostnameSource?: HostnameSource;
  tls?: TlsResult;
  /** QUIC version name when the flow is QUIC. */
  quicVersion?: string;
  http?: HttpRequestRecord[];
}

const enum Kind {
  UNDECIDED = 0,
  TLS = 1,
  HTTP = 2,
  QUIC = 3,
  NONE = 4,
  /** DNS, mDNS or LLMNR: every message is parsed for as long as the flow lives. */
  DNS = 5,
}

/** Per-flow working state while a flow is inspected. */
class Inspection {
  kind = Kind.UNDECIDED;
  packets = 0;
  tls: TlsFlowState | null = null;
  quic: QuicFlowState | null = null;
  http: HttpFlowState | null = null;
  dnsClientFramer: DnsTcpFramer | null = null;
  dnsServerFramer: DnsTcpFramer | null = null;
  /** Next expected sequence number per direction for in-order HTTP feeding. */
  clientNext = -1;
  serverNext = -1;
  /**
   * The application's client is the flow's server side. Happens when the capture missed the
   * handshake and the flow's client was guessed from the first packet, which was a response.
   */
  swapped = false;
  readonly findings: FlowFindings = {};
}

const TCP_SYN = 0x02;
/** Payload packets looked at for a handshake or request start before a flow is left alone. */
const UNDECIDED_SEGMENTS = 4;
const HTTP_METHOD_START = /^(GET|POST|PUT|HEAD|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /;

export class FlowInspector {
  readonly tlsCounters = new TlsCounters();
  readonly streamCounters = new StreamPrefixCounters();
  readonly quicCounters = new QuicCounters();
  readonly httpCounters = new HttpCounters();
  readonly dnsCounters = new DnsCounters();
  private readonly dnsInfo = new DnsMessageInfo();
  private dnsPacket: DecodedPacket | null = null;
  /** Parse options per protocol and transport, built once rather than per packet. */
  private readonly dnsUdpOptions = {
    dns: { counters: this.dnsCounters, protocol: 'dns', transport: 'udp' },
    mdns: { counters: this.dnsCounters, protocol: 'mdns', transport: 'udp' },
    llmnr: { counters: this.dnsCounters, protocol: 'llmnr', transport: 'udp' },
  } as const;
  private readonly dnsTcpOptions = {
    dns: { counters: this.dnsCounters, protocol: 'dns' },
    mdns: { counters: this.dnsCounters, protocol: 'mdns' },
    llmnr: { counters: this.dnsCounters, protocol: 'llmnr' },
  } as const;
  /** Receives every DNS message (name cache, DNS Activity events); null = DNS not inspected. */
  onDnsMessage: DnsMessageCallback | null = null;
  private readonly settings: InspectorSettings;
  private inspections: (Inspection | undefined)[] = [];
  private findings: (FlowFindings | undefined)[] = [];
  /** uid of the flow each slot's entries belong to; 0 = none. */
  private owner = new Float64Array(0);
  /** 1 once a flow needs no more packets. */
  private finished = new Uint8Array(0);
  private readonly clientHello = new ClientHello();
  private readonly chlo = new ChloInfo();
  /** Whether the current packet's flow had its client decided by a SYN or SYN-ACK. */
  private clientDecidedBySyn = false;

  constructor(settings: InspectorSettings = DEFAULT_INSPECTOR_SETTINGS) {
    this.settings = settings;
  }

  private ensure(capacity: number): void {
    if (this.owner.length >= capacity) return;
    const owner = new Float64Array(capacity);
    owner.set(this.owner);
    this.owner = owner;
    const finished = new Uint8Array(capacity);
    finished.set(this.finished);
    this.finished = finished;
  }

  /** Packet time of the packet being inspected. */
  private nowUs = 0;

  /** Called for every decoded packet after the flow table has accounted it. */
  onPacket(t: FlowTable, slot: number, p: DecodedPacket, buf: Buffer, tsUs: number): void {
    this.nowUs = tsUs;
    if (this.owner.length < t.capacity) this.ensure(t.capacity);
    const uid = t.uid[slot]!;
    if (this.owner[slot] !== uid) {
      this.owner[slot] = uid;
      this.finished[slot] = 0;
      this.inspections[slot] = undefined;
      this.findings[slot] = undefined;
    }
    if (this.finished[slot] === 1) return;
    const proto = p.protocol;
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) { this.finished[slot] = 1; return; }
    const len = p.payloadLength;
    const syn = proto === IPPROTO_TCP && (p.tcpFlags & TCP_SYN) !== 0;
    if (len === 0 && !syn) return;
    let ins = this.inspections[slot];
    if (ins === undefined) {
      ins = new Inspection();
      this.inspections[slot] = ins;
      this.findings[slot] = ins.findings;
    }
    const fromClient = t.lastPacketFromClient;
    this.clientDecidedBySyn = t.clientKnown(slot);
    if (ins.kind === Kind.UNDECIDED && this.onDnsMessage !== null && dnsProtocolForPorts(p.srcPort, p.dstPort) !== undefined) {
      ins.kind = Kind.DNS;
    }
    if (ins.kind === Kind.DNS) {
      if (len > 0) this.dns(ins, p, buf, proto === IPPROTO_TCP, fromClient);
      return;
    }
    if (proto === IPPROTO_TCP) this.tcp(ins, p, buf, fromClient, syn);
    else this.udp(ins, p, buf, fromClient);
    if (len > 0 && ++ins.packets >= this.settings.maxInspectedPackets) ins.kind = Kind.NONE;
    if (this.isDone(ins)) this.finish(slot, ins);
  }

  private tcp(ins: Inspection, p: DecodedPacket, buf: Buffer, flowFromClient: boolean, syn: boolean): void {
    const off = p.payloadOffset, len = p.payloadLength;
    let fromClient = flowFromClient !== ins.swapped;
    if (ins.kind === Kind.UNDECIDED) {
      if (syn) {
        // Keep the ISN: a ClientHello split across segments is reassembled from it.
        if (fromClient) ins.clientNext = (p.tcpSeq + 1) >>> 0; else ins.serverNext = (p.tcpSeq + 1) >>> 0;
        if (len === 0) return;
      }
      if (buf[off] === 0x16) {
        // A TLS handshake record, from either side (RFC 8446 §5.1). A ClientHello (handshake
        // type 1) names its sender as the TLS client whatever the flow's guess was.
        if (len > 5 && buf[off + 5] === 1 && !fromClient && !this.clientDecidedBySyn) {
          ins.swapped = !ins.swapped;
          fromClient = true;
          const n = ins.clientNext; ins.clientNext = ins.serverNext; ins.serverNext = n;
        }
        ins.kind = Kind.TLS;
        ins.tls = new TlsFlowState(this.tlsCounters, this.streamCounters, this.settings.tlsReassemblyMaxBytes);
        // Replay what the handshake told us about sequence numbers.
        if (ins.clientNext >= 0) ins.tls.onClientData((ins.clientNext - 1) >>> 0, buf, off, 0, true);
        if (ins.serverNext >= 0) ins.tls.onServerData((ins.serverNext - 1) >>> 0, buf, off, 0, true);
      } else if ((fromClient || !this.clientDecidedBySyn) && looksLikeHttpRequest(buf, off, off + len)) {
        // The sender of a request is the HTTP client, even when the flow's first packet was
        // the server's (a capture that started mid-conversation).
        if (!fromClient) {
          ins.swapped = !ins.swapped;
          fromClient = true;
          const n = ins.clientNext; ins.clientNext = ins.serverNext; ins.serverNext = n;
        }
        ins.kind = Kind.HTTP;
        ins.http = new HttpFlowState(this.httpCounters);
      } else {
        // Not a handshake or request start: the server spoke first (a banner), the capture
        // started mid-conversation, or a segment was lost. Look at a few more segments for a
        // request start before leaving the flow alone.
        if (ins.packets >= UNDECIDED_SEGMENTS) ins.kind = Kind.NONE;
        return;
      }
    }
    if (ins.kind === Kind.TLS && ins.tls !== null) {
      if (fromClient) ins.tls.onClientData(p.tcpSeq, buf, off, len, syn);
      else ins.tls.onServerData(p.tcpSeq, buf, off, len, syn);
    } else if (ins.kind === Kind.HTTP && ins.http !== null && len > 0) {
      // HTTP analysis wants bytes in order: feed a segment only when it starts where the last
      // one ended; skip retransmitted bytes; a gap ends the analysis of that direction.
      const seq = p.tcpSeq;
      let next = fromClient ? ins.clientNext : ins.serverNext;
      if (next < 0) next = seq;
      const skip = (next - seq) | 0; // bytes of this segment already seen (wraparound-safe)
      if (skip < 0) { ins.kind = Kind.NONE; return; }
      if (skip >= len) return;
      if (fromClient) ins.http.onClientData(buf, off + skip, len - skip);
      else ins.http.onServerData(buf, off + skip, len - skip);
      const advanced = (seq + len) >>> 0;
      if (fromClient) ins.clientNext = advanced; else ins.serverNext = advanced;
    }
  }

  private udp(ins: Inspection, p: DecodedPacket, buf: Buffer, flowFromClient: boolean): void {
    const off = p.payloadOffset, len = p.payloadLength;
    let fromClient = flowFromClient !== ins.swapped;
    if (ins.kind === Kind.UNDECIDED) {
      // A client Initial: long header (RFC 9000 §17.2), padded to at least 1200 bytes (§14.1).
      // Its sender is the QUIC client even when the capture caught a server packet first.
      if (len >= 1200 && (buf[off]! & 0x80) !== 0) {
        if (!fromClient) { ins.swapped = !ins.swapped; fromClient = true; }
        ins.kind = Kind.QUIC;
        ins.quic = new QuicFlowState(this.quicCounters);
      } else if (len >= 1000 && this.gquicClearChlo(ins, buf, off, off + len)) {
        // Google QUIC before Q046: no long header, but a CHLO in clear, padded to a full datagram.
        ins.kind = Kind.NONE;
        return;
      } else {
        // Not (yet) a handshake datagram; look at a few more before giving up on the flow.
        if (ins.packets >= UNDECIDED_SEGMENTS) ins.kind = Kind.NONE;
        return;
      }
    }
    if (ins.kind === Kind.QUIC && ins.quic !== null && fromClient) {
      const q = ins.quic;
      q.onClientDatagram(buf, off, len);
      if (q.clientHelloComplete) this.quicClientHello(ins);
      else if (q.done) {
        // A version whose Initials we cannot open: Q046 sends its CHLO in clear.
        this.gquicClearChlo(ins, buf, off, off + len);
        ins.kind = Kind.NONE;
      }
    }
  }

  /**
   * DNS over UDP (one message a datagram) or TCP (RFC 7766 §8 two-byte length framing, fed in
   * order). The querier is the sender of a query / the receiver of a response, whatever the
   * flow thinks its client is.
   */
  private dns(ins: Inspection, p: DecodedPacket, buf: Buffer, overTcp: boolean, fromClient: boolean): void {
    const off = p.payloadOffset, end = off + p.payloadLength;
    const protocol = dnsProtocolForPorts(p.srcPort, p.dstPort) ?? 'dns';
    this.dnsPacket = p;
    if (!overTcp) {
      if (parseDnsFast(buf, off, end, this.dnsInfo, this.dnsUdpOptions[protocol]) === ParseStatus.OK) this.deliverDns(this.dnsInfo, ParseStatus.OK);
      return;
    }
    // In-order feeding, as for HTTP; a gap desynchronises that direction's framer for good.
    const seq = p.tcpSeq;
    let next = fromClient ? ins.clientNext : ins.serverNext;
    if (next < 0) next = seq;
    const skip = (next - seq) | 0;
    const len = end - off;
    if (skip >= len) return;
    let framer = fromClient ? ins.dnsClientFramer : ins.dnsServerFramer;
    if (framer === null) {
      framer = new DnsTcpFramer(undefined, this.dnsCounters);
      if (fromClient) ins.dnsClientFramer = framer; else ins.dnsServerFramer = framer;
    }
    if (skip < 0) framer.gap();
    else parseDnsOverTcp(framer, buf, off + skip, end, this.dnsInfo, this.deliverDns, this.dnsTcpOptions[protocol]);
    const advanced = (seq + len) >>> 0;
    if (fromClient) ins.clientNext = advanced; else ins.serverNext = advanced;
  }

  /**
   * Hands a parsed DNS message on with its endpoints. One function for the inspector's life (no
   * closure per packet); the packet it belongs to is `dnsPacket`, set just before parsing.
   */
  private readonly deliverDns = (info: DnsMessageInfo, status: ParseStatus): void => {
    const p = this.dnsPacket;
    if (status !== ParseStatus.OK || p === null) return;
    const src = { ip: packetAddress(p, true), port: p.srcPort };
    const dst = { ip: packetAddress(p, false), port: p.dstPort };
    const queryFromSrc = !info.qr;
    this.onDnsMessage!({ info, client: queryFromSrc ? src : dst, server: queryFromSrc ? dst : src, tsUs: this.nowUs });
  };

  /** Google QUIC CHLO in clear (Q043, Q046): its SNI tag names the flow. */
  private gquicClearChlo(ins: Inspection, buf: Buffer, off: number, end: number): boolean {
    const at = findChlo(buf, off, end);
    if (at < 0) return false;
    if (parseChlo(buf, at, end, this.chlo) !== ParseStatus.OK || this.chlo.sni === '') return false;
    const f = ins.findings;
    f.hostname = this.chlo.sni;
    f.hostnameSource = 'quic';
    f.quicVersion = f.quicVersion ?? gquicVersion(buf, off, end);
    return true;
  }

  private quicClientHello(ins: Inspection): void {
    const q = ins.quic!;
    const crypto = q.result.cryptoStream;
    const f = ins.findings;
    if (q.result.versionName !== undefined) f.quicVersion = q.result.versionName;
    if (crypto === undefined) { ins.kind = Kind.NONE; return; }
    if (!q.tls) {
      // Q050: the decrypted CRYPTO stream holds a gQUIC CHLO, not a TLS ClientHello.
      if (parseChlo(crypto, 0, crypto.length, this.chlo) === ParseStatus.OK && this.chlo.sni !== '') {
        f.hostname = this.chlo.sni;
        f.hostnameSource = 'quic';
      }
      ins.kind = Kind.NONE;
      return;
    }
    const ch = this.clientHello;
    if (parseClientHelloHandshake(crypto, 0, crypto.length, ch) === ParseStatus.OK) {
      this.tlsCounters.clientHellos++;
      const tls: TlsResult = { ech: ch.hasEch };
      if (ch.hasSni && ch.serverName !== '') tls.sni = ch.serverName;
      if (ch.hasAlpn) tls.alpn = [...ch.alpn];
      tls.ja4 = ja4(ch, 'q');
      f.tls = tls;
      if (tls.sni !== undefined) { f.hostname = tls.sni; f.hostnameSource = 'quic'; }
    } else {
      this.tlsCounters.countError(ch.error);
    }
    ins.kind = Kind.NONE;
  }

  private isDone(ins: Inspection): boolean {
    switch (ins.kind) {
      case Kind.UNDECIDED: return false;
      case Kind.TLS: return ins.tls!.done;
      case Kind.HTTP: return ins.http!.done;
      case Kind.QUIC: return ins.quic!.done;
      default: return true;
    }
  }

  /** Moves what an inspection found into the flow's findings and drops its working state. */
  private finish(slot: number, ins: Inspection): void {
    this.collect(ins);
    this.finished[slot] = 1;
    this.inspections[slot] = undefined;
  }

  private collect(ins: Inspection): void {
    const f = ins.findings;
    if (ins.tls !== null) {
      const r = ins.tls.result;
      if (r.sni !== undefined || r.ja4 !== undefined || r.serverVersion !== undefined) f.tls = r;
      if (r.sni !== undefined) { f.hostname = r.sni; f.hostnameSource = 'sni'; }
      else if (r.certificateNames !== undefined && r.certificateNames.length > 0) {
        f.hostname = r.certificateNames[0]!;
        f.hostnameSource = 'certificate';
      }
    }
    if (ins.http !== null && ins.http.requests.length > 0) {
      f.http = ins.http.requests;
      const host = ins.http.requests.find((r) => r.host !== undefined && r.host !== '')?.host;
      if (host !== undefined && f.hostname === undefined) { f.hostname = host; f.hostnameSource = 'http_host'; }
    }
  }

  /**
   * What is known about a flow now (at an event). A flow still being inspected reports what
   * its analyzers have so far; its findings stay until the slot is reused.
   */
  findingsOf(t: FlowTable, slot: number): FlowFindings | undefined {
    if (this.owner[slot] !== t.uid[slot]) return undefined;
    const ins = this.inspections[slot];
    if (ins !== undefined) this.collect(ins);
    return this.findings[slot];
  }

  /** The flow ended: forget its state (called after its final event). */
  release(slot: number): void {
    if (slot < this.owner.length) {
      this.owner[slot] = 0;
      this.inspections[slot] = undefined;
      this.findings[slot] = undefined;
    }
  }

  counters(): Record<string, number> {
    return {
      ...this.tlsCounters.snapshot(),
      ...this.streamCounters.snapshot(),
      ...this.quicCounters.snapshot(),
      ...this.httpCounters.snapshot(),
      ...this.dnsCounters.snapshot(),
    };
  }
}

function packetAddress(p: DecodedPacket, source: boolean): string {
  if (p.ipVersion === 4) return ipv4ToString(source ? p.src3 : p.dst3);
  return source ? ipv6ToString(p.src0, p.src1, p.src2, p.src3) : ipv6ToString(p.dst0, p.dst1, p.dst2, p.dst3);
}

/** "Q0xx" version tag of a gQUIC packet (public header flag 0x01, or a long header), if any. */
function gquicVersion(buf: Buffer, off: number, end: number): string | undefined {
  for (const at of [off + 1, off + 9]) {
    if (at + 4 <= end && buf[at] === 0x51 && buf[at + 1]! >= 0x30 && buf[at + 1]! <= 0x39) return buf.toString('latin1', at, at + 4);
  }
  return undefined;
}

/** Once per flow, on its first client payload: does it start with a method and a space? */
function looksLikeHttpRequest(buf: Buffer, off: number, end: number): boolean {
  const n = Math.min(end - off, 8);
  return n >= 4 && HTTP_METHOD_START.test(buf.toString('latin1', off, off + n));
}

export { tlsVersionName };
