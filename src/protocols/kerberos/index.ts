/**
 * Kerberos (RFC 4120) as a registered flow analyzer: claims UDP and TCP flows to or from port 88
 * and parses every message (UDP: one a datagram; TCP: record marking, §7.2.2, reassembled across
 * segments up to KERBEROS_MAX_RECORD). A request is kept until its answer: an AS-REP / TGS-REP is
 * a successful exchange, a KRB-ERROR a failed one; each answered exchange is handed to the
 * inspector's logon listener (`LogonSeen`, src/protocols/logon.ts).
 */
import { ParseStatus } from '../parse-status.js';
import { Feed, Probe, TRANSPORT_TCP, TRANSPORT_UDP, type FlowAnalyzer, type FlowAnalyzerEnv, type PacketContext, type ProtocolDescriptor } from '../protocol.js';
import { packetEndpoint, type LogonSeen } from '../logon.js';
import { KerberosMessage, KrbMsgType, krbErrorName, parseKerberos } from './message.js';
import { KerberosCounters } from './counters.js';
import { FramerEvent, RecordFramer, kerberosFraming } from './framing.js';

export const KERBEROS_PORT = 88;
/** TCP records longer than this are skipped (a TGS-REP with a large PAC stays well under it). */
export const KERBEROS_MAX_RECORD = 65536;

/** A request waiting for its answer. */
interface Pending { kind: 'AS' | 'TGS'; cname: string; crealm: string; sname: string; etypes: number[]; till: string; tsUs: number }

export class KerberosFlowState {
  client: RecordFramer | null = null;
  server: RecordFramer | null = null;
  pending: Pending | null = null;
}

export class KerberosAnalyzer implements FlowAnalyzer<KerberosFlowState> {
  readonly name = 'kerberos';
  readonly transports = TRANSPORT_TCP | TRANSPORT_UDP;
  readonly probeEmpty = true;
  readonly everyPacket = false;
  readonly ports = [KERBEROS_PORT];
  readonly kerberosCounters: KerberosCounters;
  private readonly m = new KerberosMessage();
  private state: KerberosFlowState | null = null;
  private pc: PacketContext | null = null;

  constructor(private readonly env: FlowAnalyzerEnv) {
    this.kerberosCounters = env.counters.get(KerberosCounters);
  }

  /** The KDC listens on 88 (RFC 4120 §7.2.1, §7.2.2): the port decides, and which side has it. */
  probe(pc: PacketContext): Probe {
    const p = pc.p;
    if (p.dstPort === KERBEROS_PORT) return pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED;
    if (p.srcPort === KERBEROS_PORT) return pc.fromClient ? Probe.MINE_REVERSED : Probe.MINE;
    return Probe.NOT_MINE;
  }

  start(): KerberosFlowState { return new KerberosFlowState(); }

  feed(s: KerberosFlowState, pc: PacketContext): Feed {
    const p = pc.p;
    if (p.payloadLength === 0) return Feed.CONTINUE;
    const off = p.payloadOffset, end = off + p.payloadLength;
    this.state = s; this.pc = pc;
    if (p.protocol !== 6) { this.onRecord(pc.buf, off, end); return Feed.CONTINUE; }
    const fromClient = p.dstPort === KERBEROS_PORT;
    let f = fromClient ? s.client : s.server;
    if (f === null) {
      f = new RecordFramer(kerberosFraming, KERBEROS_MAX_RECORD);
      if (fromClient) s.client = f; else s.server = f;
    }
    const ev = f.push(p.tcpSeq, pc.buf, off, end, this.onRecord);
    const c = this.kerberosCounters;
    if (ev & (1 << FramerEvent.TOO_LONG)) c.tcpTooLong++;
    if (ev & (1 << FramerEvent.BAD_HEADER)) c.tcpBadHeader++;
    return (s.client?.dead ?? false) && (s.server?.dead ?? false) ? Feed.STOP : Feed.CONTINUE;
  }

  /** One message (datagram or TCP record); `this.pc` is the packet that completed it. */
  /** A TCP record (its 4-octet marking first) or a UDP datagram. */
  private readonly onRecord = (buf: Buffer, start: number, end: number): void => {
    const s = this.state!, pc = this.pc!, m = this.m, c = this.kerberosCounters;
    if (pc.p.protocol === 6) { c.tcpRecords++; start += 4; }
    const st = parseKerberos(buf, start, end, m);
    c.count(st, m);
    if (st !== ParseStatus.OK) return;
    if (m.isRequest) {
      if (s.pending !== null) c.unanswered++;
      s.pending = {
        kind: m.msgType === KrbMsgType.AS_REQ ? 'AS' : 'TGS', cname: m.cname, crealm: m.crealm, sname: m.sname,
        etypes: m.etypes, till: m.till, tsUs: pc.tsUs,
      };
      return;
    }
    if (!m.isReply && m.msgType !== KrbMsgType.KRB_ERROR) return;
    const q = s.pending;
    s.pending = null;
    if (q === null) c.unmatchedReplies++;
    const kind = q !== null ? q.kind : m.msgType === KrbMsgType.AS_REP || (m.msgType === KrbMsgType.KRB_ERROR && m.sname.startsWith('krbtgt/')) ? 'AS' : 'TGS';
    const ok = m.msgType !== KrbMsgType.KRB_ERROR;
    const logon: LogonSeen = {
      protocol: 'kerberos', kind, tsUs: pc.tsUs,
      client: packetEndpoint(pc.p, pc.buf, false), server: packetEndpoint(pc.p, pc.buf, true),
      // An AS-REQ names the client as the user wrote it (an anonymous AS-REP answers with
      // WELLKNOWN:ANONYMOUS, RFC 6112 §4.2); TGS-REQ names nobody in clear, its reply does (§5.4.2).
      user: q !== null && q.cname !== '' ? q.cname : m.cname,
      domain: q !== null && q.kind === 'AS' && q.crealm !== '' ? q.crealm : m.crealm !== '' ? m.crealm : q?.crealm ?? '',
      workstation: '',
      service: q !== null && q.sname !== '' ? q.sname : m.sname,
      success: ok,
      ...(ok ? {} : { errorCode: m.errorCode, errorName: krbErrorName(m.errorCode) }),
      ...(q !== null ? { etypes: q.etypes, ...(q.till !== '' ? { till: kerberosTimeIso(q.till) } : {}) } : {}),
    };
    c.logons++;
    this.env.onLogon?.(logon);
  };

  /** Followed until maxInspectedPackets: a connection may carry several exchanges. */
  isDone(): boolean { return false; }
  contribute(): void {}
  counters(): Record<string, number> { return this.kerberosCounters.snapshot(); }
}

/** KerberosTime "YYYYMMDDHHMMSSZ" (§5.2.3) as ISO 8601; the text as is when it is not one. */
export function kerberosTimeIso(t: string): string {
  const x = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(t);
  return x === null ? t : `${x[1]}-${x[2]}-${x[3]}T${x[4]}:${x[5]}:${x[6]}Z`;
}

export const kerberos: ProtocolDescriptor = {
  name: 'kerberos',
  flow: (env) => new KerberosAnalyzer(env),
  events: [{ kind: 'auth', classUid: 3002, builder: 'src/events/authentication.ts buildAuthenticationEvent' }],
};
