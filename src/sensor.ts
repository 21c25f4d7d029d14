/**
 * The packet pipeline: capture callback → decoder → flow table → event builders → event sink.
 *
 * Everything per packet happens in `onPacket`, which allocates nothing: the decoder fills one
 * reused DecodedPacket and the flow table updates typed arrays. Strings and objects are built
 * only when a flow event is emitted, and not at all when no event kind is enabled.
 */
import { randomUUID } from 'node:crypto';
import type { PacketCallback } from './capture/types.js';
import { Decoder, DecodedPacket, DecodeStatus } from './decode/decoder.js';
import { DecodeCounters } from './decode/counters.js';
import { FlowTable, FlowCounters, EndReason, type FlowSettings, type FlowActivity, DEFAULT_FLOW_SETTINGS } from './flows/flow-table.js';
import { ipv4ToString, ipv6ToString } from './decode/format.js';
import { buildNetworkActivity } from './events/network-activity.js';
import { FlowInspector, DEFAULT_INSPECTOR_SETTINGS, type InspectorSettings, type DnsMessageEvent } from './protocols/inspector.js';
import { DnsNameCache } from './protocols/dns/name-cache.js';
import { buildDnsActivityEvent, DnsQueryTimes } from './events/dns-activity.js';
import { directionOf, isInternalAddress } from './events/direction.js';
import { FlowUids } from './events/flow-uid.js';
import { buildAuthenticationEvent } from './events/authentication.js';
import { EventPipeline, type EventOutput, type EventStage, type OutpostEvent } from './events/pipeline.js';
import { buildHttpActivity } from './events/http-activity.js';

export type EventKind = 'network' | 'dns' | 'http' | 'auth';
export const EVENT_KINDS: readonly EventKind[] = ['network', 'dns', 'http', 'auth'];

/** Of the configured event kinds, those the Sensor builds itself (DHCP and inventory come from device identity). */
export function sensorEventKinds(kinds: Iterable<string>): Set<EventKind> {
  return new Set([...kinds].filter((k): k is EventKind => (EVENT_KINDS as readonly string[]).includes(k)));
}

/** Where events go: the event pipeline (src/events/pipeline.ts), or an array in tests. */
export type EventSink = EventOutput;

import type { PacketObserver, HttpRequestObserver, LogonObserver } from './protocols/observers.js';
export type { PacketObserver, HttpRequestObserver, LogonObserver };

export interface SensorOptions {
  flows: FlowSettings;
  emit: ReadonlySet<EventKind>;
  /**
   * The event path: every event the sensor builds goes through it (enrich, observe, outputs).
   * Without one, a pipeline of `stages` writing to `sink` is made.
   */
  pipeline?: EventPipeline;
  sink?: EventSink;
  stages?: EventStage[];
  decapsulateTunnels?: boolean;
  /** Protocol analysis (names, TLS details); on unless set to false. */
  inspect?: boolean;
  inspector?: InspectorSettings;
  /**
   * Which names each client resolved to which addresses, for flows that carry no name of their
   * own. The daemon passes one persisted in LMDB; by default an in-memory one is used.
   */
  nameCache?: DnsNameCache;
  packetObservers?: PacketObserver[];
  httpObservers?: HttpRequestObserver[];
  /** Each logon record (device identity binds users with it), after its Authentication event. */
  logonObservers?: LogonObserver[];
  /** Flow uids (a fixed key for tests); by default a random key drawn now. */
  flowUids?: FlowUids;
}

/** How often (in packet time) idle flows are looked for. */
const EXPIRY_CHECK_INTERVAL_US = 1_000_000;

export class Sensor {
  readonly decodeCounters = new DecodeCounters();
  readonly flowCounters = new FlowCounters();
  readonly decoder: Decoder;
  readonly flows: FlowTable;
  readonly inspector: FlowInspector | null;
  private readonly packet = new DecodedPacket();
  readonly pipeline: EventPipeline;
  private readonly sink: (event: OutpostEvent) => void;
  private readonly ipObservers: PacketObserver[];
  private readonly nonIpObservers: PacketObserver[];
  private readonly httpObservers: HttpRequestObserver[];
  private readonly emitNetwork: boolean;
  private readonly emitDns: boolean;
  private readonly emitHttp: boolean;
  readonly nameCache: DnsNameCache;
  /** connection_info.uid of each flow: this sensor's random key mixed with the flow's number. */
  readonly flowUids: FlowUids;
  /** Query times of outstanding DNS queries, for query_time / response_time (DNS events only). */
  readonly dnsQueryTimes = new DnsQueryTimes();
  private nextExpiryUs = -Infinity;
  /** Latest packet time seen: the clock for timeouts in replay. */
  lastPacketUs = 0;
  eventsEmitted = 0;

  constructor(options: SensorOptions) {
    this.pipeline = options.pipeline
      ?? new EventPipeline({ stages: options.stages ?? [], outputs: options.sink ? [options.sink] : [] });
    this.sink = this.pipeline.emit;
    this.httpObservers = options.httpObservers ?? [];
    this.ipObservers = (options.packetObservers ?? []).filter((o) => o.onIpPacket !== undefined);
    this.nonIpObservers = (options.packetObservers ?? []).filter((o) => o.onNonIpFrame !== undefined);
    this.emitNetwork = options.emit.has('network');
    this.emitDns = options.emit.has('dns');
    this.emitHttp = options.emit.has('http');
    this.nameCache = options.nameCache ?? new DnsNameCache();
    this.flowUids = options.flowUids ?? new FlowUids();
    this.decoder = new Decoder(this.decodeCounters, { decapsulateUdpTunnels: options.decapsulateTunnels ?? true });
    this.flows = new FlowTable(options.flows ?? DEFAULT_FLOW_SETTINGS, this.flowCounters, this.onFlowEvent);
    this.flows.serverHint = this.serverHint;
    this.inspector = options.inspect === false ? null : new FlowInspector(options.inspector ?? DEFAULT_INSPECTOR_SETTINGS);
    if (this.inspector !== null) {
      this.inspector.onDnsMessage = this.onDnsMessage;
      // Logons seen on the wire (Kerberos, NTLM, RADIUS) become Authentication events (3002).
      const emitAuth = options.emit.has('auth');
      const logonObservers = options.logonObservers ?? [];
      if (emitAuth || logonObservers.length > 0) {
        this.inspector.onLogon = (l) => {
          // One uid per attempt, shared by its event and the user binding it may make (evidence).
          l.uid ??= randomUUID();
          if (emitAuth) { this.sink(buildAuthenticationEvent(l)); this.eventsEmitted++; }
          for (let i = 0; i < logonObservers.length; i++) logonObservers[i]!(l);
        };
      }
      const takers = (options.packetObservers ?? []).filter((o) => o.onInspectedDns !== undefined && o.onIpPacket !== undefined).map((o) => o.onInspectedDns!);
      if (takers.length === 1) this.inspector.onInspectedDns = takers[0]!;
      else if (takers.length > 1) this.inspector.onInspectedDns = (st, info, protocol, p, buf, tsUs) => { for (const t of takers) t(st, info, protocol, p, buf, tsUs); };
    }
  }

  private readonly onDnsMessage = (m: DnsMessageEvent): void => {
    const timeMs = Math.floor(m.tsUs / 1000);
    if (m.info.qr) this.nameCache.recordResponse(m.client.ip, m.info, timeMs);
    if (this.emitDns) {
      const info = m.info;
      let queryTimeMs: number | undefined, responseTimeMs: number | undefined;
      if (info.qr) { responseTimeMs = timeMs; queryTimeMs = this.dnsQueryTimes.response(m.flowUid, info.id); }
      else { queryTimeMs = timeMs; this.dnsQueryTimes.query(m.flowUid, info.id, timeMs); }
      this.sink(buildDnsActivityEvent(info, {
        src: m.client, dst: m.server, timeMs,
        ...(queryTimeMs !== undefined ? { queryTimeMs } : {}),
        ...(responseTimeMs !== undefined ? { responseTimeMs } : {}),
        // As for the flow's Network Activity events: the querier is the client.
        directionId: directionOf(isInternalAddress(m.client.ip), isInternalAddress(m.server.ip)),
        flowUid: this.flowUids.of(m.flowUid),
      }));
      this.eventsEmitted++;
    }
  };

  /**
   * For a new flow without handshake whose ports tell nothing: the endpoint the other one had
   * resolved through DNS is the server. Called once per such flow; the two addresses are
   * formatted only when the name cache may hold one of them (DnsNameCache.mayHoldAddress).
   */
  private readonly serverHint = (t: FlowTable, slot: number): 0 | 1 | 2 => {
    if (this.nameCache.size === 0) return 0;
    const k = slot << 2;
    const v4 = t.ipVersion[slot] === 4;
    // Neither address was resolved by anyone (most such flows): answered without formatting them.
    const A = t.addrA, B = t.addrB;
    if (!this.nameCache.mayHoldAddress(v4, A[k]!, A[k + 1]!, A[k + 2]!, A[k + 3]!)
      && !this.nameCache.mayHoldAddress(v4, B[k]!, B[k + 1]!, B[k + 2]!, B[k + 3]!)) return 0;
    const a = v4 ? ipv4ToString(t.addrA[k + 3]!) : ipv6ToString(t.addrA[k]!, t.addrA[k + 1]!, t.addrA[k + 2]!, t.addrA[k + 3]!);
    const b = v4 ? ipv4ToString(t.addrB[k + 3]!) : ipv6ToString(t.addrB[k]!, t.addrB[k + 1]!, t.addrB[k + 2]!, t.addrB[k + 3]!);
    const atMs = Math.floor(t.firstSeenUs[slot]! / 1000);
    const aServes = this.nameCache.resolvedBy(b, a, atMs);
    const bServes = this.nameCache.resolvedBy(a, b, atMs);
    return aServes === bServes ? 0 : aServes ? 1 : 2;
  };

  /** The name a client looked up for a server address just before `atMs`, from DNS answers. */
  private readonly resolveName = (clientIp: string, serverIp: string, atMs: number): string | undefined =>
    this.nameCache.lookupName(clientIp, serverIp, atMs);

  readonly onPacket: PacketCallback = (buf, offset, capLen, wireLen, tsUs, linkType) => {
    const c = this.decodeCounters;
    c.packets++;
    c.bytes += wireLen;
    // Packet time is the clock. Time that jumps backwards (merged or concatenated captures)
    // must not stall expiry, so the next check is re-armed from the new time.
    if (tsUs >= this.nextExpiryUs || tsUs < this.nextExpiryUs - 2 * EXPIRY_CHECK_INTERVAL_US) {
      this.flows.expire(tsUs);
      this.nextExpiryUs = tsUs + EXPIRY_CHECK_INTERVAL_US;
    }
    this.lastPacketUs = tsUs;
    const status = this.decoder.decode(buf, offset, capLen, wireLen, linkType, this.packet);
    if (status !== DecodeStatus.OK) {
      if (status === DecodeStatus.NOT_IP) {
        for (let i = 0; i < this.nonIpObservers.length; i++) this.nonIpObservers[i]!.onNonIpFrame!(buf, offset, capLen, linkType, tsUs);
      }
      return;
    }
    const slot = this.flows.update(this.packet, buf, wireLen, tsUs);
    if (slot >= 0 && this.inspector !== null) this.inspector.onPacket(this.flows, slot, this.packet, buf, tsUs);
    for (let i = 0; i < this.ipObservers.length; i++) this.ipObservers[i]!.onIpPacket!(this.packet, buf, tsUs);
  };

  private readonly onFlowEvent = (table: FlowTable, slot: number, activity: FlowActivity, tsUs: number, final: boolean): void => {
    const httpAtEnd = final && (this.emitHttp || this.httpObservers.length > 0);
    if (this.emitNetwork || httpAtEnd) {
      const findings = this.inspector?.findingsOf(table, slot);
      const ev = buildNetworkActivity(table, slot, activity, tsUs, findings, this.resolveName, this.flowUids);
      if (this.emitNetwork) {
        this.sink(ev);
        this.eventsEmitted++;
      }
      if (httpAtEnd && findings?.http !== undefined) {
        for (const req of findings.http) {
          for (let i = 0; i < this.httpObservers.length; i++) this.httpObservers[i]!(req, ev.src_endpoint.ip, ev.end_time);
          // One HTTP Activity event per request the flow carried, at the flow's end.
          if (this.emitHttp) {
            this.sink(buildHttpActivity(req, ev.src_endpoint, ev.dst_endpoint, ev.end_time, ev.connection_info));
            this.eventsEmitted++;
          }
        }
      }
    }
    table.markReported(slot, tsUs);
    if (final) this.inspector?.release(slot);
  };

  /**
   * Ends all flows, emitting their final events: Close (Reset after an RST) with
   * unmapped.flow_end_reason 'capture_end' (end of replay) or 'shutdown' for flows still open.
   */
  flush(reason: 'capture_end' | 'shutdown' = 'capture_end'): void {
    this.flows.flush(this.lastPacketUs, reason === 'shutdown' ? EndReason.SHUTDOWN : EndReason.CAPTURE_END);
  }

  counters(): Record<string, number> {
    return {
      ...this.decodeCounters.snapshot(),
      ...this.flowCounters.snapshot(this.flows.size),
      ...(this.inspector?.counters() ?? {}),
      ...this.nameCache.snapshot(),
      ...(this.emitDns ? this.dnsQueryTimes.snapshot() : {}),
      'events.emitted': this.eventsEmitted,
    };
  }
}
