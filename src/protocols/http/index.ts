/**
 * HTTP/1.x over TCP as a registered flow analyzer: claims a flow whose client payload starts
 * with a request method and a space (RFC 9112 §3; any token method, RFC 9110 §9.1, when the line
 * names HTTP/), feeds both directions in sequence order and
 * names the flow by the first request's Host (RFC 9110 §7.2). HTTP Activity events (4002) are
 * built from the flow's requests at its end (src/events/http-activity.ts).
 */
import { HttpFlowState } from './analyzer.js';
import { HttpCounters } from './counters.js';
import { probeRequestStart } from './request.js';
import {
  Feed, Probe, TRANSPORT_TCP,
  type FlowAnalyzer, type FlowAnalyzerEnv, type FlowContext, type PacketContext, type ProtocolDescriptor,
} from '../protocol.js';

/**
 * Bytes of an undecided packet's first line searched for " HTTP/" after an extension method
 * (probeRequestStart). Registered methods are decided by their first bytes alone.
 */
const PROBE_LINE_BYTES = 1024;

/** Once per undecided payload packet: does it start a request line (method token SP ...)? */
function looksLikeHttpRequest(buf: Buffer, off: number, end: number): boolean {
  return probeRequestStart(buf, off, end, PROBE_LINE_BYTES);
}

export class HttpAnalyzer implements FlowAnalyzer<HttpFlowState> {
  readonly name = 'http';
  readonly transports = TRANSPORT_TCP;
  readonly probeEmpty = false;
  readonly everyPacket = false;
  readonly provesClient = true;
  readonly httpCounters: HttpCounters;

  constructor(env: FlowAnalyzerEnv) {
    this.httpCounters = env.counters.get(HttpCounters);
  }

  probe(pc: PacketContext): Probe {
    // A packet from the flow's server when the SYN settled who the client is cannot be a request.
    if (!pc.fromClient && pc.clientDecidedBySyn) return Probe.NOT_YET;
    const off = pc.p.payloadOffset;
    if (!looksLikeHttpRequest(pc.buf, off, off + pc.p.payloadLength)) return Probe.NOT_YET;
    // The sender of a request is the HTTP client, even when the flow's first packet was the
    // server's (a capture that started mid-conversation).
    return pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED;
  }

  start(): HttpFlowState {
    return new HttpFlowState(this.httpCounters);
  }

  /**
   * HTTP analysis wants bytes in order: a segment is fed only when it starts where the last one
   * ended; retransmitted bytes are skipped; a gap ends the analysis.
   */
  feed(s: HttpFlowState, pc: PacketContext, ctx: FlowContext): Feed {
    const p = pc.p, len = p.payloadLength;
    if (len === 0) return Feed.CONTINUE;
    const seq = p.tcpSeq, fromClient = pc.fromClient;
    let next = fromClient ? ctx.clientNext : ctx.serverNext;
    if (next < 0) next = seq;
    const skip = (next - seq) | 0; // bytes of this segment already seen (wraparound-safe)
    if (skip < 0) return Feed.STOP;
    if (skip >= len) return Feed.CONTINUE;
    const off = p.payloadOffset;
    if (fromClient) s.onClientData(pc.buf, off + skip, len - skip);
    else s.onServerData(pc.buf, off + skip, len - skip);
    const advanced = (seq + len) >>> 0;
    if (fromClient) ctx.clientNext = advanced; else ctx.serverNext = advanced;
    return Feed.CONTINUE;
  }

  isDone(s: HttpFlowState): boolean { return s.done; }

  contribute(s: HttpFlowState, ctx: FlowContext): void {
    const requests = s.requestsSoFar();
    if (requests.length === 0) return;
    const f = ctx.findings;
    f.http = requests;
    const host = requests.find((r) => r.host !== undefined && r.host !== '')?.host;
    if (host !== undefined && f.hostname === undefined) { f.hostname = host; f.hostnameSource = 'http_host'; }
  }

  counters(): Record<string, number> { return this.httpCounters.snapshot(); }
}

export const http: ProtocolDescriptor = {
  name: 'http',
  flow: (env) => new HttpAnalyzer(env),
  events: [{ kind: 'http', classUid: 4002, builder: 'src/events/http-activity.ts buildHttpActivity' }],
};
