/**
 * NTLMSSP (MS-NLMP) and Kerberos-in-GSS-API logons as a registered flow analyzer, on three
 * carriers:
 * - SMB session setup (MS-SMB2 §2.2.5/§2.2.6; SMB1 extended security, MS-SMB §2.2.4.6): TCP 445
 *   (direct TCP) and 139 (NetBIOS session service, RFC 1002 §4.3);
 * - LDAP binds (RFC 4511 §4.2: SASL GSS-SPNEGO / GSSAPI / NTLM, and Windows Sicily binds): TCP 389
 *   and 3268 (global catalog);
 * - DCE-RPC connection-oriented binds (C706 §12.6, auth verifier §13.2.6.1; MS-RPCE): any TCP port
 *   (the endpoint mapper hands out dynamic ones), recognised by a first PDU that is a bind or
 *   alter_context (client) or their acknowledgement (server).
 * Records are framed by `../kerberos/framing.ts` and reassembled up to SMB_MAX_RECORD (64 KiB);
 * longer ones are skipped unread. The authentication legs go through `session.ts`; each
 * AUTHENTICATE (or AP-REQ) with the server's outcome goes to the inspector's logon listener.
 */
import { ParseStatus } from '../parse-status.js';
import { Feed, Probe, TRANSPORT_TCP, type FlowAnalyzer, type FlowAnalyzerEnv, type PacketContext, type ProtocolDescriptor } from '../protocol.js';
import { packetEndpoint } from '../logon.js';
import { FramerEvent, RecordFramer, dceRpcFraming, ldapFraming, sessionFraming, type Framing } from '../kerberos/framing.js';
import { NtlmCounters } from './counters.js';
import { Smb2SessionSetup, STATUS_MORE_PROCESSING_REQUIRED, STATUS_SUCCESS, ntStatusName, parseSmb2SessionSetup } from './smb2.js';
import { LdapBind, LDAP_SASL_BIND_IN_PROGRESS, LDAP_SUCCESS, ldapResultName, parseLdapBind } from './ldap.js';
import { DcePdu, DcePtype, parseDcePdu } from './dcerpc.js';
import { AuthConversation, clientMessage, conversationEnd, serverAnswer } from './session.js';

export const SMB_PORT = 445;
export const NETBIOS_SESSION_PORT = 139;
export const LDAP_PORT = 389;
export const GLOBAL_CATALOG_PORT = 3268;
/** Session-setup and bind messages are a few KiB (a Kerberos ticket with its PAC the largest); bigger records are skipped. */
export const SMB_MAX_RECORD = 65536;

export const enum Carrier { SMB = 0, LDAP = 1, DCERPC = 2 }
const FRAMINGS: readonly Framing[] = [sessionFraming, ldapFraming, dceRpcFraming];

export class NtlmFlowState {
  client: RecordFramer | null = null;
  server: RecordFramer | null = null;
  readonly auth = new AuthConversation();
  constructor(readonly carrier: Carrier) {}
}

function portCarrier(port: number): number {
  return port === SMB_PORT || port === NETBIOS_SESSION_PORT ? Carrier.SMB : port === LDAP_PORT || port === GLOBAL_CATALOG_PORT ? Carrier.LDAP : -1;
}

/** A DCE-RPC CO bind / alter_context (client) or bind_ack / alter_context_resp (server) header at `o`. */
function dceBindAt(buf: Buffer, o: number, len: number): number {
  if (len < 16 || buf[o] !== 5 || buf[o + 1]! > 1) return -1;
  const t = buf[o + 2]!;
  return t === DcePtype.BIND || t === DcePtype.ALTER_CONTEXT ? 1 : t === DcePtype.BIND_ACK || t === DcePtype.ALTER_CONTEXT_RESP ? 0 : -1;
}

export class NtlmAnalyzer implements FlowAnalyzer<NtlmFlowState> {
  readonly name = 'ntlm';
  readonly transports = TRANSPORT_TCP;
  readonly probeEmpty = true;
  readonly everyPacket = false;
  readonly ntlmCounters: NtlmCounters;
  private readonly setup = new Smb2SessionSetup();
  private readonly bind = new LdapBind();
  private readonly pdu = new DcePdu();
  private state: NtlmFlowState | null = null;
  private pc: PacketContext | null = null;
  private fromClient = false;
  /** Carrier decided by the last probe, read by start(). */
  private probed: Carrier = Carrier.SMB;

  constructor(private readonly env: FlowAnalyzerEnv) {
    this.ntlmCounters = env.counters.get(NtlmCounters);
  }

  probe(pc: PacketContext): Probe {
    const p = pc.p;
    const d = portCarrier(p.dstPort), s = portCarrier(p.srcPort);
    if (d >= 0) { this.probed = d; return pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED; }
    if (s >= 0) { this.probed = s; return pc.fromClient ? Probe.MINE_REVERSED : Probe.MINE; }
    if (p.payloadLength === 0) return Probe.NOT_YET;
    const dir = dceBindAt(pc.buf, p.payloadOffset, p.payloadLength);
    if (dir < 0) return Probe.NOT_MINE;
    this.probed = Carrier.DCERPC;
    // The bind's sender is the RPC client.
    return (dir === 1) === pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED;
  }

  start(): NtlmFlowState { return new NtlmFlowState(this.probed); }

  feed(s: NtlmFlowState, pc: PacketContext): Feed {
    const p = pc.p;
    if (p.payloadLength === 0) return Feed.CONTINUE;
    const off = p.payloadOffset, end = off + p.payloadLength;
    const fromClient = pc.fromClient;
    let f = fromClient ? s.client : s.server;
    if (f === null) {
      f = new RecordFramer(FRAMINGS[s.carrier]!, SMB_MAX_RECORD);
      if (fromClient) s.client = f; else s.server = f;
    }
    this.state = s; this.pc = pc; this.fromClient = fromClient;
    const ev = f.push(p.tcpSeq, pc.buf, off, end, s.carrier === Carrier.SMB ? this.onSmb : s.carrier === Carrier.LDAP ? this.onLdap : this.onDce);
    const c = this.ntlmCounters;
    if (ev & (1 << FramerEvent.TOO_LONG)) c.tcpTooLong++;
    if (ev & (1 << FramerEvent.BAD_HEADER)) c.tcpBadHeader++;
    return (s.client?.dead ?? false) && (s.server?.dead ?? false) ? Feed.STOP : Feed.CONTINUE;
  }

  private answer(buf: Buffer | null, start: number, end: number, key: number, final: boolean, success: boolean, status: number, statusName: string): void {
    const pc = this.pc!;
    const logon = serverAnswer(this.state!.auth, buf, start, end, key, final, success, status, statusName, pc.tsUs,
      packetEndpoint(pc.p, pc.buf, false), packetEndpoint(pc.p, pc.buf, true), this.ntlmCounters);
    if (logon !== null) this.env.onLogon?.(logon);
  }

  /** A client's blob; a NEGOTIATE opens an exchange (and may close one that never reached its AUTHENTICATE). */
  private client(buf: Buffer, start: number, end: number, key: number): void {
    const abandoned = clientMessage(this.state!.auth, buf, start, end, key, this.pc!, this.ntlmCounters);
    if (abandoned !== null) this.env.onLogon?.(abandoned);
  }

  /** One SMB message, its 4-octet session header first. */
  private readonly onSmb = (buf: Buffer, start: number, end: number): void => {
    const m = this.setup, c = this.ntlmCounters;
    const st = parseSmb2SessionSetup(buf, start + 4, end, m);
    c.countSmb2(st, m);
    if (st !== ParseStatus.OK) return;
    const blob = m.blobEnd > m.blobStart;
    if (!this.fromClient) {
      if (!m.response) return;
      this.answer(blob ? buf : null, m.blobStart, m.blobEnd, m.messageId, m.status !== STATUS_MORE_PROCESSING_REQUIRED, m.status === STATUS_SUCCESS, m.status, ntStatusName(m.status));
      return;
    }
    if (!m.response && blob) this.client(buf, m.blobStart, m.blobEnd, m.messageId);
  };

  /** One LDAPMessage. */
  private readonly onLdap = (buf: Buffer, start: number, end: number): void => {
    const m = this.bind, c = this.ntlmCounters;
    const st = parseLdapBind(buf, start, end, m);
    if (st === ParseStatus.MALFORMED) { c.ldapMalformed++; return; }
    if (st !== ParseStatus.OK) return;
    c.ldapBinds++;
    const blob = m.blobEnd > m.blobStart;
    if (!this.fromClient) {
      if (!m.response) return;
      this.answer(blob ? buf : null, m.blobStart, m.blobEnd, 0, m.resultCode !== LDAP_SASL_BIND_IN_PROGRESS, m.resultCode === LDAP_SUCCESS, m.resultCode, ldapResultName(m.resultCode));
      return;
    }
    // A SASL bind is several BindRequests with new messageIDs (RFC 4511 §4.2.1), one at a time:
    // the final BindResponse answers the conversation, not one messageID (key 0).
    if (!m.response && blob) this.client(buf, m.blobStart, m.blobEnd, 0);
  };

  /**
   * One DCE-RPC PDU. The client's AUTHENTICATE (in an auth3 or an alter_context) is handed on at
   * once with its outcome unknown; the server's bind_ack / alter_context_resp give its names
   * (CHALLENGE).
   */
  private readonly onDce = (buf: Buffer, start: number, end: number): void => {
    const m = this.pdu, c = this.ntlmCounters;
    const st = parseDcePdu(buf, start, end, m);
    if (st === ParseStatus.MALFORMED) { c.dceMalformed++; return; }
    if (st !== ParseStatus.OK) return;
    c.dcePdus++;
    const blob = m.authEnd > m.authStart;
    if (this.fromClient) {
      if (!blob) return;
      this.client(buf, m.authStart, m.authEnd, 0);
      // auth3 is never answered (C706 §12.6.4.1, MS-RPCE §3.3.1.5.2), and whether a later fault
      // is about the credentials is not said: the logon is handed on now, its outcome unknown.
      if (this.state!.auth.pending !== null) {
        const pc = this.pc!;
        const logon = serverAnswer(this.state!.auth, null, 0, 0, 0, true, false, 0, '', pc.tsUs, packetEndpoint(pc.p, pc.buf, true), packetEndpoint(pc.p, pc.buf, false), c);
        if (logon !== null) { logon.success = undefined; delete logon.errorCode; delete logon.errorName; this.env.onLogon?.(logon); }
      }
      return;
    }
    if (blob && (m.ptype === DcePtype.BIND_ACK || m.ptype === DcePtype.ALTER_CONTEXT_RESP)) this.answer(buf, m.authStart, m.authEnd, 0, false, true, 0, '');
  };

  /** Done once a logon was handed on and nothing waits. */
  isDone(s: NtlmFlowState): boolean { return s.auth.logons > 0 && s.auth.pending === null; }
  contribute(): void {}
  /** An exchange still open when the connection ends never reached its AUTHENTICATE. */
  end(s: NtlmFlowState, ended: boolean): void {
    const abandoned = conversationEnd(s.auth, ended, this.ntlmCounters);
    if (abandoned !== null) this.env.onLogon?.(abandoned);
  }
  counters(): Record<string, number> { return this.ntlmCounters.snapshot(); }
}

export const ntlm: ProtocolDescriptor = {
  name: 'ntlm',
  flow: (env) => new NtlmAnalyzer(env),
  events: [{ kind: 'auth', classUid: 3002, builder: 'src/events/authentication.ts buildAuthenticationEvent' }],
};
