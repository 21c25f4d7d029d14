/**
 * NTLMSSP (MS-NLMP) and Kerberos-in-GSS-API logons carried by SMB2/SMB3 SESSION_SETUP
 * (MS-SMB2 §2.2.5, §2.2.6) as a registered flow analyzer: claims TCP flows to or from 445 (direct
 * TCP) and 139 (NetBIOS session service, RFC 1002 §4.3), frames the session-service records
 * (reassembled across segments up to SMB_MAX_RECORD, larger ones skipped unread), reads the
 * session-setup legs and hands each AUTHENTICATE / AP-REQ with the server's final status to the
 * inspector's logon listener. HTTP `Authorization: NTLM|Negotiate` goes through `http.ts`.
 */
import { ParseStatus } from '../parse-status.js';
import { Feed, Probe, TRANSPORT_TCP, type FlowAnalyzer, type FlowAnalyzerEnv, type PacketContext, type ProtocolDescriptor } from '../protocol.js';
import { packetEndpoint } from '../logon.js';
import { FramerEvent, RecordFramer, sessionRecordLength } from '../kerberos/framing.js';
import { NtlmCounters } from './counters.js';
import { Smb2SessionSetup, STATUS_MORE_PROCESSING_REQUIRED, STATUS_SUCCESS, ntStatusName, parseSmb2SessionSetup } from './smb2.js';
import { AuthConversation, clientBlob, serverAnswer } from './session.js';

export const SMB_PORT = 445;
export const NETBIOS_SESSION_PORT = 139;
/** Session-setup messages are a few KiB (a Kerberos ticket with its PAC the largest); bigger records are skipped. */
export const SMB_MAX_RECORD = 65536;

export class NtlmFlowState {
  client: RecordFramer | null = null;
  server: RecordFramer | null = null;
  readonly auth = new AuthConversation();
  /** The port the server listens on (445 or 139). */
  port = SMB_PORT;
}

const PORTS = [SMB_PORT, NETBIOS_SESSION_PORT] as const;

function serverPort(p: { srcPort: number; dstPort: number }, port: number): boolean { return p.dstPort === port || p.srcPort === port; }

export class NtlmAnalyzer implements FlowAnalyzer<NtlmFlowState> {
  readonly name = 'ntlm';
  readonly transports = TRANSPORT_TCP;
  readonly probeEmpty = true;
  readonly everyPacket = false;
  readonly ntlmCounters: NtlmCounters;
  private readonly setup = new Smb2SessionSetup();
  private state: NtlmFlowState | null = null;
  private pc: PacketContext | null = null;
  private fromClient = false;

  constructor(private readonly env: FlowAnalyzerEnv) {
    this.ntlmCounters = env.counters.get(NtlmCounters);
  }

  probe(pc: PacketContext): Probe {
    const p = pc.p;
    for (const port of PORTS) {
      if (p.dstPort === port) return pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED;
      if (p.srcPort === port) return pc.fromClient ? Probe.MINE_REVERSED : Probe.MINE;
    }
    return Probe.NOT_MINE;
  }

  start(pc: PacketContext): NtlmFlowState {
    const s = new NtlmFlowState();
    s.port = serverPort(pc.p, SMB_PORT) ? SMB_PORT : NETBIOS_SESSION_PORT;
    return s;
  }

  feed(s: NtlmFlowState, pc: PacketContext): Feed {
    const p = pc.p;
    if (p.payloadLength === 0) return Feed.CONTINUE;
    const off = p.payloadOffset, end = off + p.payloadLength;
    const fromClient = p.dstPort === s.port;
    let f = fromClient ? s.client : s.server;
    if (f === null) {
      f = new RecordFramer(sessionRecordLength, SMB_MAX_RECORD);
      if (fromClient) s.client = f; else s.server = f;
    }
    this.state = s; this.pc = pc; this.fromClient = fromClient;
    const ev = f.push(p.tcpSeq, pc.buf, off, end, this.onRecord);
    const c = this.ntlmCounters;
    if (ev & (1 << FramerEvent.TOO_LONG)) c.tcpTooLong++;
    if (ev & (1 << FramerEvent.BAD_HEADER)) c.tcpBadHeader++;
    return (s.client?.dead ?? false) && (s.server?.dead ?? false) ? Feed.STOP : Feed.CONTINUE;
  }

  private readonly onRecord = (buf: Buffer, start: number, end: number): void => {
    const s = this.state!, pc = this.pc!, m = this.setup, c = this.ntlmCounters;
    const st = parseSmb2SessionSetup(buf, start, end, m);
    c.countSmb2(st, m);
    if (st !== ParseStatus.OK) return;
    if (!this.fromClient) {
      if (!m.response) return;
      const final = m.status !== STATUS_MORE_PROCESSING_REQUIRED;
      const logon = serverAnswer(
        s.auth, m.blobEnd > m.blobStart ? buf : null, m.blobStart, m.blobEnd, m.messageId, final, m.status === STATUS_SUCCESS,
        m.status, ntStatusName(m.status), pc.tsUs, packetEndpoint(pc.p, pc.buf, false), packetEndpoint(pc.p, pc.buf, true), c,
      );
      if (logon !== null) this.env.onLogon?.(logon);
      return;
    }
    if (m.response || m.blobEnd <= m.blobStart) return;
    clientBlob(s.auth, buf, m.blobStart, m.blobEnd, m.messageId, pc.tsUs, c);
  };

  /** Done once a logon was handed on and nothing waits for an answer. */
  isDone(s: NtlmFlowState): boolean { return s.auth.logons > 0 && s.auth.pending === null; }
  contribute(): void {}
  counters(): Record<string, number> { return this.ntlmCounters.snapshot(); }
}

export const ntlm: ProtocolDescriptor = {
  name: 'ntlm',
  flow: (env) => new NtlmAnalyzer(env),
  events: [{ kind: 'auth', classUid: 3002, builder: 'src/events/authentication.ts buildAuthenticationEvent' }],
};
