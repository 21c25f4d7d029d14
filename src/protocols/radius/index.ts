/**
 * RADIUS accounting (RFC 2866) as a registered flow analyzer: claims UDP flows to or from 1813
 * (and 1646, the port older NASes use) for their whole life (one NAS-server flow carries every
 * station's accounting). Each Accounting-Request waits, by Identifier (§3), for the server's
 * Accounting-Response; answered, it is handed to the logon listener with `success` true; a
 * request whose identifier is reused before an answer is handed on with `success` undefined
 * (counted `radius.unanswered`). Access-Request/Accept/Reject are counted, not read further.
 */
import { ParseStatus } from '../parse-status.js';
import { Feed, Probe, TRANSPORT_UDP, type FlowAnalyzer, type FlowAnalyzerEnv, type PacketContext, type ProtocolDescriptor } from '../protocol.js';
import { packetEndpoint, type LogonEndpoint, type LogonSeen } from '../logon.js';
import { RadiusCode, RadiusMessage, acctStatusKind, parseRadius, stationMac } from './radius.js';
import { RadiusCounters } from './counters.js';

export const RADIUS_ACCT_PORT = 1813;
export const RADIUS_ACCT_PORT_OLD = 1646;

export class RadiusFlowState {
  /** Requests waiting for their answer, by Identifier. */
  readonly pending: (LogonSeen | undefined)[] = new Array<LogonSeen | undefined>(256);
}

function acctPort(port: number): boolean { return port === RADIUS_ACCT_PORT || port === RADIUS_ACCT_PORT_OLD; }

export class RadiusAnalyzer implements FlowAnalyzer<RadiusFlowState> {
  readonly name = 'radius';
  readonly transports = TRANSPORT_UDP;
  readonly probeEmpty = true;
  readonly everyPacket = true;
  /** Only accounting is followed (RFC 2866 §3: 1813; 1646 the port older servers still use). */
  readonly ports = [RADIUS_ACCT_PORT, RADIUS_ACCT_PORT_OLD];
  readonly radiusCounters: RadiusCounters;
  private readonly m = new RadiusMessage();

  constructor(private readonly env: FlowAnalyzerEnv) {
    this.radiusCounters = env.counters.get(RadiusCounters);
  }

  probe(pc: PacketContext): Probe {
    const p = pc.p;
    if (acctPort(p.dstPort)) return pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED;
    if (acctPort(p.srcPort)) return pc.fromClient ? Probe.MINE_REVERSED : Probe.MINE;
    return Probe.NOT_MINE;
  }

  start(): RadiusFlowState { return new RadiusFlowState(); }

  feed(s: RadiusFlowState, pc: PacketContext): Feed {
    const p = pc.p;
    if (p.payloadLength === 0) return Feed.CONTINUE;
    const m = this.m, c = this.radiusCounters;
    const st = parseRadius(pc.buf, p.payloadOffset, p.payloadOffset + p.payloadLength, m);
    c.count(st, m);
    if (st !== ParseStatus.OK) return Feed.CONTINUE;
    if (m.code === RadiusCode.ACCOUNTING_REQUEST && acctPort(p.dstPort)) {
      const old = s.pending[m.identifier];
      if (old !== undefined) { c.unanswered++; this.hand(old); }
      const mac = stationMac(m.callingStationId);
      const station: LogonEndpoint = mac !== '' ? { ip: m.framedIps[0] ?? '', port: 0, mac } : { ip: m.framedIps[0] ?? '', port: 0 };
      s.pending[m.identifier] = {
        protocol: 'radius', kind: acctStatusKind(m.statusType), tsUs: pc.tsUs,
        client: station, server: packetEndpoint(p, pc.buf, false), relay: packetEndpoint(p, pc.buf, true),
        user: m.userName, domain: '', workstation: m.callingStationId, service: m.calledStationId, success: undefined,
        framedIp: m.framedIps, nas: m.nasIdentifier !== '' ? m.nasIdentifier : m.nasIp, ...(m.sessionId !== '' ? { sessionId: m.sessionId } : {}),
        // Copied once per request (not per packet): the buffer is the capture's, reused.
        request: Buffer.from(pc.buf.subarray(p.payloadOffset, p.payloadOffset + m.length)),
      };
    } else if (m.code === RadiusCode.ACCOUNTING_RESPONSE && acctPort(p.srcPort)) {
      const q = s.pending[m.identifier];
      if (q === undefined) { c.unmatchedResponses++; return Feed.CONTINUE; }
      s.pending[m.identifier] = undefined;
      q.success = true;
      q.tsUs = pc.tsUs;
      // The answer's sender is the server as far as proof goes (its MAC is what gets pinned).
      q.server = packetEndpoint(p, pc.buf, true);
      this.hand(q);
    }
    return Feed.CONTINUE;
  }

  private hand(l: LogonSeen): void {
    this.radiusCounters.logons++;
    this.env.onLogon?.(l);
  }

  isDone(): boolean { return false; }
  contribute(): void {}
  counters(): Record<string, number> { return this.radiusCounters.snapshot(); }
}

export const radius: ProtocolDescriptor = {
  name: 'radius',
  flow: (env) => new RadiusAnalyzer(env),
  events: [{ kind: 'auth', classUid: 3002, builder: 'src/events/authentication.ts buildAuthenticationEvent' }],
};
