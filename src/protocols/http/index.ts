/**
 * HTTP/1.x over TCP as a registered flow analyzer: claims a flow whose client payload starts
 * with a request method and a space (RFC 9112 §3; any token method, RFC 9110 §9.1, when the line
 * names HTTP/), feeds both directions in sequence order and
 * names the flow by the first request's Host (RFC 9110 §7.2). HTTP Activity events (4002) are
 * built from the flow's requests at its end (src/events/http-activity.ts).
 */
import { HttpFlowState, type HttpAuthHook } from './analyzer.js';
import { packetEndpoint } from '../logon.js';
import { AuthConversation, clientMessage, conversationEnd, serverAnswer } from '../ntlm/session.js';
import { NtlmCounters } from '../ntlm/counters.js';
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
  private readonly ntlmCounters: NtlmCounters;
  /** The packet being fed (the auth hook's time and endpoints). */
  private pc: PacketContext | null = null;

  constructor(private readonly env: FlowAnalyzerEnv) {
    this.httpCounters = env.counters.get(HttpCounters);
    this.ntlmCounters = env.counters.get(NtlmCounters);
  }

  /**
   * HTTP authentication with NTLM or Negotiate (RFC 4559 §4, MS-NTHT §3.1.5): the client's
   * `Authorization` tokens and the server's `WWW-Authenticate` tokens go through the same
   * conversation as SMB's session setup legs (../ntlm/session.ts). The final response to the
   * request that carried the AUTHENTICATE (or the Kerberos AP-REQ) is its outcome: 401 or 403 a
   * failure, any other final status success. Decoding allocates only for a head that carries a
   * token; a flow without one costs a header-name comparison per field.
   */
  private readonly onAuth: HttpAuthHook = (s, isClient, buf, start, end, statusCode) => {
    const pc = this.pc;
    if (pc === null) return;
    let conv = s.authConversation as AuthConversation | undefined;
    if (conv === undefined) {
      if (start < 0) return;
      s.authConversation = conv = new AuthConversation();
    }
    const blob = start >= 0 ? Buffer.from(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1'), 'base64') : null;
    if (isClient) {
      const abandoned = blob !== null && blob.length > 0 ? clientMessage(conv, blob, 0, blob.length, 0, pc, this.ntlmCounters) : null;
      if (abandoned !== null) this.env.onLogon?.(abandoned);
      return;
    }
    const failed = statusCode === 401 || statusCode === 403;
    const logon = serverAnswer(conv, blob, 0, blob?.length ?? 0, 0, conv.pending !== null, !failed, statusCode, `HTTP_${statusCode}`, pc.tsUs,
      packetEndpoint(pc.p, pc.buf, false), packetEndpoint(pc.p, pc.buf, true), this.ntlmCounters);
    if (logon !== null) this.env.onLogon?.(logon);
  };

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
    // Credentials are looked for only when someone takes logons (auth events, user binding).
    return new HttpFlowState(this.httpCounters, undefined, this.env.onLogon != null ? this.onAuth : undefined);
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
    this.pc = pc;
    if (fromClient) s.onClientData(pc.buf, off + skip, len - skip);
    else s.onServerData(pc.buf, off + skip, len - skip);
    this.pc = null;
    const advanced = (seq + len) >>> 0;
    if (fromClient) ctx.clientNext = advanced; else ctx.serverNext = advanced;
    return Feed.CONTINUE;
  }

  isDone(s: HttpFlowState): boolean { return s.done; }

  /** An NTLM exchange still open when the connection ends never reached its AUTHENTICATE (../ntlm/session.ts). */
  end(s: HttpFlowState, ended: boolean): void {
    const conv = s.authConversation as AuthConversation | undefined;
    if (conv === undefined) return;
    const abandoned = conversationEnd(conv, ended, this.ntlmCounters);
    if (abandoned !== null) this.env.onLogon?.(abandoned);
  }

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
