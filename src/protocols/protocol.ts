/**
 * What a protocol registers: one `ProtocolDescriptor` per folder under src/protocols/, listed
 * once in registry.ts. The flow inspector and the local-protocol dispatcher are generic loops
 * over these descriptors; neither names a protocol.
 *
 * Two kinds of analyzer can be registered, alone or together:
 *
 * - a flow analyzer (`flow`): candidates for a flow are chosen by transport and by a probe on
 *   the flow's packets (ports, first bytes). A probe answers NOT_YET, NOT_MINE (the analyzer is
 *   excluded for the rest of that flow, as nDPI excludes a dissector), MINE or MINE_REVERSED (the
 *   packet's sender is the application's client), or FINISHED (the probe alone named the flow).
 *   The first analyzer that claims a flow owns it: its per-flow state is created once, fed every
 *   later packet, asked whether it is done, and asked to contribute to the flow's findings.
 * - a local analyzer (`local`): L2 and link-local protocols that name devices rather than flows
 *   (DHCP, ARP, NDP, mDNS, LLMNR, NetBIOS). It parses the packets it is given and hands typed
 *   messages to a `LocalProtocolConsumer` (device identity); consumers never parse.
 *
 * Counter sets are shared per inspector (or per dispatcher) through a `CounterSets`, so two
 * analyzers that count into the same set (QUIC counts ClientHellos as TLS does) use one instance.
 */
import type { DecodedPacket } from '../decode/decoder.js';
import type { TlsResult } from './tls/analyzer.js';
import type { HttpRequestRecord } from './http/analyzer.js';
import type { ParseStatus } from './parse-status.js';
import type { DnsAnswer, DnsMessageInfo, DnsProtocol } from './dns/message.js';
import type { Dhcp4Info, Dhcp6Info } from './dhcp/fields.js';
import type { NbnsMessage } from './nbns/nbns.js';
import type { LogonCallback } from './logon.js';

export type HostnameSource = 'sni' | 'quic' | 'http_host' | 'certificate' | 'dns';

/** What the analyzers learned about one flow; read when its events are built. */
export interface FlowFindings {
  hostname?: string;
  hostnameSource?: HostnameSource;
  tls?: TlsResult;
  /** QUIC version name when the flow is QUIC. */
  quicVersion?: string;
  http?: HttpRequestRecord[];
}

/**
 * A parsed DNS message with its endpoints: `client` asked, `server` answered. `flowUid` is the
 * flow table's number of the UDP / TCP flow that carried it, so that its event names the flow.
 */
export interface DnsMessageEvent {
  info: DnsMessageInfo;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  tsUs: number;
  flowUid: number;
}
export type DnsMessageCallback = (m: DnsMessageEvent) => void;

/**
 * A UDP mDNS / LLMNR datagram the inspector has just parsed (whatever the result), offered to
 * the local dispatcher so that it is not parsed a second time. `info` is valid during the call.
 */
export type InspectedDnsCallback = (status: ParseStatus, info: DnsMessageInfo, protocol: DnsProtocol, p: DecodedPacket, buf: Buffer, tsUs: number) => void;

export interface InspectorSettings {
  tlsReassemblyMaxBytes: number;
  /** Payload packets of one flow looked at before giving up on naming it. */
  maxInspectedPackets: number;
  /**
   * Compute the TLS client fingerprint (JA4, for TLS and QUIC ClientHellos) of each flow; on unless
   * false. The inline verdict path turns it off: a verdict needs only the name, and the two SHA-256
   * hashes of a JA4 are a noticeable share of judging a new flow.
   */
  fingerprints?: boolean;
}

/** Transports a flow analyzer is a candidate for (bit set). */
export const TRANSPORT_TCP = 1;
export const TRANSPORT_UDP = 2;

/** A probe's answer for one packet of an undecided flow. */
export const enum Probe {
  /** Not recognised on this packet; ask again on the next one. */
  NOT_YET = 0,
  /** Never this protocol for this flow: the analyzer is excluded for the flow's life. */
  NOT_MINE = 1,
  /** This analyzer owns the flow; the flow's client guess stands. */
  MINE = 2,
  /** This analyzer owns the flow and the packet's sender is the application's client. */
  MINE_REVERSED = 3,
  /** The probe named the flow itself (findings written); nothing more to look at. */
  FINISHED = 4,
}

/** What feeding one packet to the owning analyzer decided. */
export const enum Feed {
  CONTINUE = 0,
  /** Nothing more can be learned from this flow: its findings are final. */
  STOP = 1,
}

/** Generic per-flow context the inspector keeps for every inspected flow. */
export interface FlowContext {
  readonly findings: FlowFindings;
  /** Next expected TCP sequence number from the application's client / server; -1 unknown. */
  clientNext: number;
  serverNext: number;
}

/** The packet being inspected with what the flow table knows about its direction. */
export interface PacketContext {
  readonly p: DecodedPacket;
  readonly buf: Buffer;
  /** Packet time in microseconds. */
  readonly tsUs: number;
  /** The sender is the application's client (flow's guess, corrected by earlier claims). */
  readonly fromClient: boolean;
  /** The flow's client was decided by a SYN or SYN-ACK, not guessed from the first packet. */
  readonly clientDecidedBySyn: boolean;
  /** TCP segment with SYN set. */
  readonly syn: boolean;
  /** The flow table's number of the packet's flow (FlowTable.uid). */
  readonly flowUid: number;
}

/**
 * One flow analyzer instance per inspector (it holds the counters); per-flow state `S` is
 * created by `start` once the analyzer owns a flow.
 */
export interface FlowAnalyzer<S = unknown> {
  readonly name: string;
  /** TRANSPORT_TCP | TRANSPORT_UDP bits. */
  readonly transports: number;
  /**
   * Probed on every packet, including zero-length SYNs (port-keyed analyzers); otherwise only
   * packets with payload are probed.
   */
  readonly probeEmpty: boolean;
  /**
   * Follows its flows for their whole life (every message is parsed): not bounded by
   * maxInspectedPackets and never done.
   */
  readonly everyPacket: boolean;
  /**
   * MINE_REVERSED proves by content which side is the client (a TLS ClientHello, an HTTP
   * request): a flow whose handshake was not seen is then turned round in the flow table, so its
   * events name that side as src_endpoint. Unset: the reversal changes only the analyzer's view
   * (a QUIC Initial may be the server's, RFC 9000 §14.1 pads both).
   */
  readonly provesClient?: boolean;
  /**
   * A port-keyed analyzer lists its ports here: its probe answers NOT_MINE on every packet of a
   * flow neither of whose ports is listed (a flow's ports never change). The inspector then
   * excludes it once, when the flow's inspection starts, instead of probing it packet after
   * packet. Unset: probed whatever the ports (content probes).
   */
  readonly ports?: readonly number[];
  probe(pc: PacketContext, ctx: FlowContext): Probe;
  start(pc: PacketContext, ctx: FlowContext): S;
  feed(state: S, pc: PacketContext, ctx: FlowContext): Feed;
  isDone(state: S): boolean;
  /** Writes what the state holds into the flow's findings (called at events and at the end). */
  contribute(state: S, ctx: FlowContext): void;
  /**
   * The inspector lets go of the flow's state: `ended` true when the flow itself ended (closed,
   * timed out, capture end or shutdown), false when only its inspection stopped (the analyzer was
   * done, the packet budget ran out, the analyzer gave up) while the flow goes on. The last
   * chance to hand on what the state holds but no message completed (an NTLM exchange that never
   * reached its AUTHENTICATE). Called once per claimed flow at most; no packet is at hand.
   */
  end?(state: S, ended: boolean): void;
  /** The counters this analyzer owns (not those it borrows from another protocol). */
  counters(): Record<string, number>;
}

/** A set of counters with dotted names. */
export interface CounterSet { snapshot(): Record<string, number> }

/** Counter sets shared by the analyzers of one inspector or dispatcher, one instance per class. */
export class CounterSets {
  private readonly sets = new Map<new () => CounterSet, CounterSet>();
  get<T extends CounterSet>(ctor: new () => T): T {
    let s = this.sets.get(ctor) as T | undefined;
    if (s === undefined) { s = new ctor(); this.sets.set(ctor, s); }
    return s;
  }
}

/** What a flow analyzer factory is given. */
export interface FlowAnalyzerEnv {
  readonly settings: InspectorSettings;
  readonly counters: CounterSets;
  /** Receives every DNS message; null when no one listens (DNS is then not inspected). */
  readonly onDnsMessage: DnsMessageCallback | null;
  /** Receives mDNS / LLMNR datagrams the DNS analyzer parsed; null = no local dispatcher. */
  readonly onInspectedDns: InspectedDnsCallback | null;
  /** Receives each logon attempt seen (Kerberos, NTLMSSP, RADIUS); null or absent = no one listens. */
  readonly onLogon?: LogonCallback | null;
}

/** Sender / receiver of a local-protocol packet. */
export interface LocalEndpoint { ip: string; port: number; mac?: string }

/** A DHCPv4 message (RFC 2131) with the packet's endpoints. */
export interface Dhcp4Seen { info: Dhcp4Info; src: LocalEndpoint; dst: LocalEndpoint; tsUs: number }
/** A DHCPv6 message (RFC 8415) with the packet's endpoints. */
export interface Dhcp6Seen { info: Dhcp6Info; src: LocalEndpoint; dst: LocalEndpoint; tsUs: number }
/** "address is at mac": an ARP sender (RFC 826) or an NDP link-layer address option (RFC 4861 §7.2.5). */
export interface NeighborClaim { protocol: 'arp' | 'ndp'; address: string; mac: string; tsUs: number }
/**
 * An mDNS (RFC 6762 §6) or LLMNR (RFC 4795 §2.1.1) response with rcode 0, opcode 0 and at least
 * one answer. `answers` is valid during the call only.
 */
export interface NameResponseSeen { protocol: 'mdns' | 'llmnr'; srcIp: string; srcMac?: string; answers: readonly DnsAnswer[]; tsUs: number }
/** A NetBIOS name service message (RFC 1002 §4.2) parsed OK over IPv4; `message` is valid during the call only. */
export interface NbnsSeen { message: NbnsMessage; srcIp: string; srcMac?: string; tsUs: number }

/** Receives what the local analyzers parsed (device identity). Called synchronously per packet. */
export interface LocalProtocolConsumer {
  onDhcp4?(m: Dhcp4Seen): void;
  onDhcp6?(m: Dhcp6Seen): void;
  onNeighbor?(m: NeighborClaim): void;
  onNameResponse?(m: NameResponseSeen): void;
  onNbns?(m: NbnsSeen): void;
}

/** One local analyzer instance per dispatcher (it holds the counters). */
export interface LocalAnalyzer {
  readonly name: string;
  /** UDP source ports whose datagrams this analyzer is given (it checks the rest itself). */
  readonly udpSourcePorts: readonly number[];
  /** IP protocol numbers (next header for IPv6) whose packets this analyzer is given. */
  readonly ipProtocols: readonly number[];
  /** Given frames the decoder reports as not IP. */
  readonly nonIp: boolean;
  onIpPacket?(p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): void;
  onNonIpFrame?(buf: Buffer, offset: number, capLen: number, linkType: number, tsUs: number, out: LocalProtocolConsumer): void;
  /**
   * The inspector parsed this UDP packet as `protocol` already: returns true when the analyzer
   * used that parse (and so needs no onIpPacket call for the packet).
   */
  onInspectedDns?(status: ParseStatus, info: DnsMessageInfo, protocol: DnsProtocol, p: DecodedPacket, buf: Buffer, tsUs: number, out: LocalProtocolConsumer): boolean;
  counters(): Record<string, number>;
}

/** An event class a protocol builds (OCSF class_uid and the `--emit` kind that enables it). */
export interface ProtocolEventClass {
  readonly kind: string;
  readonly classUid: number;
  /** Module (under src/events/) and function that build it; the sensor or device identity calls it. */
  readonly builder: string;
}

export interface ProtocolDescriptor {
  /** Folder name under src/protocols/ (holds README.md and index.ts). */
  readonly name: string;
  /** Sub-protocols handled by the same folder (dhcp6, ndp, mdns, llmnr ...). */
  readonly covers?: readonly string[];
  readonly flow?: (env: FlowAnalyzerEnv) => FlowAnalyzer;
  readonly local?: (counters: CounterSets) => LocalAnalyzer;
  readonly events?: readonly ProtocolEventClass[];
}
