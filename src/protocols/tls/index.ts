/**
 * TLS over TCP as a registered flow analyzer: claims a flow whose first payload from either side
 * is a handshake record (RFC 8446 §5.1), reassembles the ClientHello and the server's first
 * flight (analyzer.ts) and names the flow by SNI, else by the leaf certificate's first name.
 */
import { TlsFlowState } from './analyzer.js';
import { TlsCounters } from './counters.js';
import { StreamPrefixCounters } from '../../flows/stream-prefix.js';
import {
  Feed, Probe, TRANSPORT_TCP,
  type FlowAnalyzer, type FlowAnalyzerEnv, type FlowContext, type PacketContext, type ProtocolDescriptor,
} from '../protocol.js';

/** TLS record content type "handshake" (RFC 8446 §5.1) and handshake type ClientHello (§4). */
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 1;

export class TlsAnalyzer implements FlowAnalyzer<TlsFlowState> {
  readonly name = 'tls';
  readonly transports = TRANSPORT_TCP;
  readonly probeEmpty = false;
  readonly everyPacket = false;
  readonly provesClient = true;
  readonly tlsCounters: TlsCounters;
  readonly streamCounters: StreamPrefixCounters;
  private readonly maxBytes: number;
  private readonly fingerprints: boolean;

  constructor(env: FlowAnalyzerEnv) {
    this.fingerprints = env.settings.fingerprints !== false;
    this.tlsCounters = env.counters.get(TlsCounters);
    this.streamCounters = env.counters.get(StreamPrefixCounters);
    this.maxBytes = env.settings.tlsReassemblyMaxBytes;
  }

  probe(pc: PacketContext): Probe {
    const buf = pc.buf, off = pc.p.payloadOffset;
    // Any other first byte: not (yet) TLS; a later segment may still start the handshake.
    if (buf[off] !== CONTENT_HANDSHAKE) return Probe.NOT_YET;
    // A ClientHello names its sender as the TLS client whatever the flow's guess was.
    if (pc.p.payloadLength > 5 && buf[off + 5] === HANDSHAKE_CLIENT_HELLO && !pc.fromClient && !pc.clientDecidedBySyn) return Probe.MINE_REVERSED;
    return Probe.MINE;
  }

  start(pc: PacketContext, ctx: FlowContext): TlsFlowState {
    const s = new TlsFlowState(this.tlsCounters, this.streamCounters, this.maxBytes, this.fingerprints);
    // Replay what the handshake told us about sequence numbers: a ClientHello split across
    // segments is reassembled from the ISN.
    const off = pc.p.payloadOffset;
    if (ctx.clientNext >= 0) s.onClientData((ctx.clientNext - 1) >>> 0, pc.buf, off, 0, true);
    if (ctx.serverNext >= 0) s.onServerData((ctx.serverNext - 1) >>> 0, pc.buf, off, 0, true);
    return s;
  }

  feed(s: TlsFlowState, pc: PacketContext): Feed {
    const p = pc.p;
    if (pc.fromClient) s.onClientData(p.tcpSeq, pc.buf, p.payloadOffset, p.payloadLength, pc.syn);
    else s.onServerData(p.tcpSeq, pc.buf, p.payloadOffset, p.payloadLength, pc.syn);
    return Feed.CONTINUE;
  }

  isDone(s: TlsFlowState): boolean { return s.done; }

  contribute(s: TlsFlowState, ctx: FlowContext): void {
    const f = ctx.findings, r = s.result;
    if (r.sni !== undefined || r.ja4 !== undefined || r.serverVersion !== undefined) f.tls = r;
    if (r.sni !== undefined) { f.hostname = r.sni; f.hostnameSource = 'sni'; }
    else if (r.certificateNames !== undefined && r.certificateNames.length > 0) {
      f.hostname = r.certificateNames[0]!;
      f.hostnameSource = 'certificate';
    }
  }

  counters(): Record<string, number> {
    return { ...this.tlsCounters.snapshot(), ...this.streamCounters.snapshot() };
  }
}

export const tls: ProtocolDescriptor = {
  name: 'tls',
  flow: (env) => new TlsAnalyzer(env),
};
