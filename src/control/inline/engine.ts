/**
 * The inline verdict path's JavaScript half: batches of queued packets in, one batch of verdicts
 * out (src/control/inline/native.ts hands them over; native/nfq.c reads the queue).
 *
 * Packets go through the decoder, flow table and protocol analyzers capture uses (src/sensor.ts
 * feeds them the same way), decoded from the IP header (NFQUEUE hands over layer 3). As soon as a
 * flow's first packets carry a name (TLS SNI, QUIC SNI from the decrypted Initial, HTTP Host, DNS
 * query name) the VerdictPolicy decides; the verdict is given with a packet mark that the
 * nftables table copies into the connmark (src/control/inline/nft.ts), so the flow's later
 * packets never come back. A flow without a name after `maxPacketsPerFlow` queued packets gets
 * the default verdict (allow), counted.
 *
 * Decisions are reported (`onDecision`: events, logs) after the batch's verdicts are handed back,
 * so the event pipeline's work never delays a verdict (a blocked client's reset included), and a
 * reporter that throws is counted (`inline.decision_errors`) rather than leaving the batch
 * unanswered.
 *
 * Nothing per packet allocates: the batch is read in place, the decoder fills one reused
 * DecodedPacket, per-flow verdicts live in typed arrays indexed by flow-table slot and tagged with
 * the flow's uid, and verdicts are written into one reused Uint32Array. Strings are made only when
 * a name is judged (once per flow).
 */
import { Decoder, DecodedPacket, DecodeStatus } from '../../decode/decoder.js';
import { DecodeCounters } from '../../decode/counters.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../decode/constants.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import { LinkType } from '../../capture/types.js';
import { FlowTable, FlowCounters, type FlowSettings } from '../../flows/flow-table.js';
import { FlowInspector, DEFAULT_INSPECTOR_SETTINGS, type DnsMessageEvent } from '../../protocols/inspector.js';
import type { HostnameSource } from '../../protocols/protocol.js';
import type { VerdictDecision, VerdictEnforcement, VerdictNameSource, VerdictPolicy, VerdictRequest } from '../policy-types.js';
import type { InlineConfig } from '../config.js';
import { MARK_ALLOW, MARK_BLOCK, MARK_MASK } from './nft.js';
import { dnsNxdomain, tcpResetToServer, type RawPacket } from './packets.js';

/** Netfilter verdicts (linux/netfilter.h) and the addon's "set the mark" flag. */
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NF_REPEAT = 4;
export const SET_MARK = 0x100;

/** Bytes of the record header native/nfq.c writes before each packet. */
export const RECORD_HEADER_BYTES = 40;
/**
 * Record flag (header bytes 36..39): the addon's reader thread already accepted this packet (a
 * TCP segment without payload, FIN or RST, which cannot carry a name), so no verdict is given
 * for it here; it is still decoded and tracked like any other, so the flow's state (the SYN's ISN,
 * the packet budget) is the same as if it had been judged here.
 */
export const RECORD_PREACCEPTED = 1;

/** Where verdicts go: the addon in production, an array in tests. */
export interface VerdictSink {
  /** `triples` holds [packetId, verdict, mark] × count. */
  verdicts(triples: Uint32Array, count: number): void;
  /** Writes a packet the verdict path built (RST to a server, NXDOMAIN to a client). */
  sendRaw(raw: RawPacket): boolean;
}

/** One decision on a flow or DNS query, for events and logs (once per flow, not per packet). */
export interface InlineDecision {
  readonly request: VerdictRequest;
  readonly decision: VerdictDecision;
  readonly transport: 'tcp' | 'udp';
  readonly serverIp: string;
  readonly serverPort: number;
  readonly clientPort: number;
  /** How the block was carried out (blocks only): TCP reset by the table, QUIC drop, DNS NXDOMAIN (or a drop when no answer could be made). */
  readonly enforcement?: VerdictEnforcement;
}

export interface InlineEngineOptions {
  cfg: InlineConfig;
  /** Read on every decision, so a policy swapped at run time applies to the next new flow. */
  policy: () => VerdictPolicy;
  sink: VerdictSink;
  /** Wall clock in ms (tests fix it). */
  now?: () => number;
  /** Each decision, called after the verdicts of its batch were handed to the sink. */
  onDecision?: (d: InlineDecision) => void;
  flows?: FlowSettings;
}

/** The verdict path's own flow table: verdicted flows are not seen again, so it stays small. */
export const INLINE_FLOW_SETTINGS: FlowSettings = {
  maxFlows: 1 << 18,
  flowIdleTimeoutMs: { tcp: 60_000, udp: 30_000, icmp: 10_000, other: 30_000 },
  tcpClosedTimeoutMs: 5_000,
  flowActiveTimeoutMs: 300_000,
  emitOpenEvents: false,
};

const SOURCE: Partial<Record<HostnameSource, VerdictNameSource>> = { sni: 'tls-sni', quic: 'quic-sni', http_host: 'http-host' };

const V_NONE = 0;
const V_ALLOW = 1;
const V_BLOCK = 2;

export class InlineCounters {
  packets = 0;
  batches = 0;
  /** Packets decoded as not IP or malformed: accepted unjudged. */
  malformed = 0;
  /** Packets accepted unjudged for another reason (not TCP/UDP, flow table full). */
  unjudged = 0;
  /** Packets of a flow still waiting for its name: accepted, flow left unmarked. */
  pending = 0;
  allow = 0;
  block = 0;
  /** Flows given the default verdict (allow) because no name came within maxPacketsPerFlow. */
  defaults = 0;
  /** Packets of a flow already decided that were queued before its connmark was set. */
  repeats = 0;
  /** Packets the addon's reader thread accepted itself (TCP segments that cannot carry a name); tracked, not answered here. */
  preaccepted = 0;
  policyErrors = 0;
  dnsAllowed = 0;
  dnsNxdomain = 0;
  /** Blocked DNS queries whose question could not be walked: dropped without an answer. */
  dnsUnanswerable = 0;
  serverResets = 0;
  rawSendFailed = 0;
  /** Decisions whose reporter (onDecision: the event pipeline) threw; their verdicts were given. */
  decisionErrors = 0;
  snapshot(): Record<string, number> {
    return {
      'inline.packets': this.packets,
      'inline.batches': this.batches,
      'inline.malformed': this.malformed,
      'inline.unjudged': this.unjudged,
      'inline.pending': this.pending,
      'inline.verdicts.allow': this.allow,
      'inline.verdicts.block': this.block,
      'inline.verdicts.default': this.defaults,
      'inline.verdicts.repeat': this.repeats,
      'inline.preaccepted': this.preaccepted,
      'inline.policy_errors': this.policyErrors,
      'inline.dns.allowed': this.dnsAllowed,
      'inline.dns.nxdomain': this.dnsNxdomain,
      'inline.dns.unanswerable': this.dnsUnanswerable,
      'inline.resets.server': this.serverResets,
      'inline.raw_send_failed': this.rawSendFailed,
      'inline.decision_errors': this.decisionErrors,
    };
  }
}

const EXPIRY_INTERVAL_US = 1_000_000;

export class InlineEngine {
  readonly counters = new InlineCounters();
  readonly decodeCounters = new DecodeCounters();
  readonly flowCounters = new FlowCounters();
  readonly flows: FlowTable;
  readonly inspector: FlowInspector;
  private readonly decoder: Decoder;
  private readonly pkt = new DecodedPacket();
  private readonly cfg: InlineConfig;
  private readonly policy: () => VerdictPolicy;
  private readonly sink: VerdictSink;
  private readonly now: () => number;
  private readonly onDecision: ((d: InlineDecision) => void) | undefined;
  private readonly dnsPorts: Uint8Array = new Uint8Array(65536);
  private triples = new Uint32Array(3 * 256);
  private verdictOf = new Uint8Array(0);
  private verdictUid = new Float64Array(0);
  private seen = new Uint8Array(0);
  /** Name of the DNS query the current packet carried ('' none); set by onDnsMessage. */
  private dnsQuery = '';
  private nextExpiryUs = 0;
  /** The request decide() last built (the decision's packet is still the current one). */
  private lastRequest: VerdictRequest | null = null;
  /** Decisions of the current batch, reported once its verdicts are given (once per flow, not per packet). */
  private readonly decided: InlineDecision[] = [];

  constructor(options: InlineEngineOptions) {
    this.cfg = options.cfg;
    this.policy = options.policy;
    this.sink = options.sink;
    this.now = options.now ?? Date.now;
    this.onDecision = options.onDecision;
    if (this.cfg.dnsNxdomain) for (const p of this.cfg.dnsPorts) this.dnsPorts[p] = 1;
    // Outer addresses are what conntrack marks: tunnels are not opened.
    this.decoder = new Decoder(this.decodeCounters, { decapsulateUdpTunnels: false });
    this.flows = new FlowTable(options.flows ?? INLINE_FLOW_SETTINGS, this.flowCounters, null);
    // Only the name is judged: no JA4 (src/protocols/protocol.ts, fingerprints).
    this.inspector = new FlowInspector({ ...DEFAULT_INSPECTOR_SETTINGS, maxInspectedPackets: Math.max(this.cfg.maxPacketsPerFlow, 4), fingerprints: false });
    // The DNS analyzer runs only with a listener; only queries to a judged port are kept.
    if (this.cfg.dnsNxdomain) this.inspector.onDnsMessage = this.onDnsMessage;
  }

  private readonly onDnsMessage = (m: DnsMessageEvent): void => {
    if (!m.info.qr && m.info.hasQuestion && m.info.opcode === 0) this.dnsQuery = m.info.qname;
  };

  private ensure(capacity: number): void {
    if (this.verdictOf.length >= capacity) return;
    const v = new Uint8Array(capacity); v.set(this.verdictOf); this.verdictOf = v;
    const u = new Float64Array(capacity); u.set(this.verdictUid); this.verdictUid = u;
    const s = new Uint8Array(capacity); s.set(this.seen); this.seen = s;
  }

  /** One batch from native/nfq.c (layout in that file's header); answers every packet in it. */
  readonly onBatch = (buf: Buffer, count: number): void => {
    const c = this.counters;
    c.batches++;
    if (this.triples.length < count * 3) this.triples = new Uint32Array(count * 3);
    const t = this.triples;
    const nowMs = this.now();
    const tsUs = nowMs * 1000;
    if (tsUs >= this.nextExpiryUs) { this.flows.expire(tsUs); this.nextExpiryUs = tsUs + EXPIRY_INTERVAL_US; }
    let pos = 0;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const id = buf.readUInt32LE(pos);
      const mark = buf.readUInt32LE(pos + 4);
      const len = buf.readUInt32LE(pos + 8);
      const hwLen = buf.readUInt16LE(pos + 24);
      const preaccepted = (buf.readUInt32LE(pos + 36) & RECORD_PREACCEPTED) !== 0;
      const off = pos + RECORD_HEADER_BYTES;
      pos = off + ((len + 3) & ~3);
      c.packets++;
      // The hardware address sits at bytes 28..35 of the record header.
      const v = this.judge(buf, off, len, hwLen === 6 ? off - 12 : -1, nowMs, tsUs);
      if (preaccepted) { c.preaccepted++; continue; }
      t[n * 3] = id;
      t[n * 3 + 1] = v;
      // Other programs' mark bits are kept; only MARK_MASK is Outpost's.
      t[n * 3 + 2] = (v & SET_MARK) !== 0 ? ((mark & ~MARK_MASK) | this.lastMark) >>> 0 : 0;
      n++;
    }
    if (n > 0) this.sink.verdicts(t, n);
    if (this.decided.length > 0) this.reportDecided();
  };

  private reportDecided(): void {
    const on = this.onDecision!;
    for (let i = 0; i < this.decided.length; i++) {
      try { on(this.decided[i]!); } catch { this.counters.decisionErrors++; }
    }
    this.decided.length = 0;
  }

  /** Keeps the decision just made on packet `p` for reporting after the batch's verdicts. */
  private report(decision: VerdictDecision, p: DecodedPacket, enforcement: VerdictEnforcement | undefined): void {
    const request = this.lastRequest;
    if (this.onDecision === undefined || request === null) return;
    const serverIp = p.ipVersion === 4 ? ipv4ToString(p.dst3) : ipv6ToString(p.dst0, p.dst1, p.dst2, p.dst3);
    this.decided.push({
      request, decision, transport: p.protocol === IPPROTO_TCP ? 'tcp' : 'udp', serverIp, serverPort: p.dstPort, clientPort: p.srcPort,
      ...(enforcement !== undefined ? { enforcement } : {}),
    });
  }

  /** Mark bits of the verdict judge() just returned with SET_MARK. */
  private lastMark = 0;

  /** Returns the verdict (NF_* | SET_MARK); sets lastMark when SET_MARK is given. */
  private judge(buf: Buffer, off: number, len: number, macOffset: number, nowMs: number, tsUs: number): number {
    const c = this.counters;
    const p = this.pkt;
    if (this.decoder.decode(buf, off, len, len, LinkType.RAW, p) !== DecodeStatus.OK) { c.malformed++; return NF_ACCEPT; }
    const proto = p.protocol;
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) { c.unjudged++; return NF_ACCEPT; }
    const slot = this.flows.update(p, buf, len, tsUs);
    if (slot < 0) { c.unjudged++; return NF_ACCEPT; }
    if (this.verdictOf.length < this.flows.capacity) this.ensure(this.flows.capacity);
    const uid = this.flows.uid[slot]!;
    if (this.verdictUid[slot] !== uid) { this.verdictUid[slot] = uid; this.verdictOf[slot] = V_NONE; this.seen[slot] = 0; }

    if (proto === IPPROTO_UDP && this.dnsPorts[p.dstPort] === 1) return this.judgeDns(buf, p, slot, macOffset, nowMs, tsUs);

    const known = this.verdictOf[slot]!;
    if (known !== V_NONE) {
      // Queued before the connmark took effect (packets in flight behind the judged one).
      c.repeats++;
      this.lastMark = known === V_ALLOW ? MARK_ALLOW : MARK_BLOCK;
      return NF_REPEAT | SET_MARK;
    }
    this.inspector.onPacket(this.flows, slot, p, buf, tsUs);
    if (p.payloadLength > 0) {
      const f = this.inspector.findingsOf(this.flows, slot);
      const source = f?.hostnameSource !== undefined ? SOURCE[f.hostnameSource] : undefined;
      if (f?.hostname !== undefined && source !== undefined) {
        const d = this.decide(f.hostname, source, p, buf, macOffset, nowMs);
        // The flow is decided and its later packets never come back here: its analyzer state is
        // let go now rather than when the slot is reused, so it is not carried from one young
        // generation to the next (scavenges that copied every recent flow's TLS or QUIC state
        // took milliseconds, each one delaying the verdicts queued behind it).
        this.inspector.release(slot, false);
        if (d.verdict === 'block') {
          this.verdictOf[slot] = V_BLOCK;
          c.block++;
          if (proto === IPPROTO_TCP && this.cfg.resetServer) {
            if (this.sink.sendRaw(tcpResetToServer(buf, p))) c.serverResets++; else c.rawSendFailed++;
          }
          // The table's `blocked` chain: TCP is rejected with a reset, anything else dropped.
          this.report(d, p, proto === IPPROTO_TCP ? 'reset' : 'drop');
          this.lastMark = MARK_BLOCK;
          return NF_REPEAT | SET_MARK;
        }
        this.report(d, p, undefined);
        this.verdictOf[slot] = V_ALLOW;
        c.allow++;
        this.lastMark = MARK_ALLOW;
        return NF_REPEAT | SET_MARK;
      }
    }
    if (++this.seen[slot]! >= this.cfg.maxPacketsPerFlow) {
      // No name within the budget: the default verdict, so the flow stops costing user space.
      this.inspector.release(slot, false);
      this.verdictOf[slot] = V_ALLOW;
      c.defaults++;
      this.lastMark = MARK_ALLOW;
      return NF_REPEAT | SET_MARK;
    }
    c.pending++;
    return NF_ACCEPT;
  }

  /** DNS queries are judged one by one and never marked (several names may share a 5-tuple). */
  private judgeDns(buf: Buffer, p: DecodedPacket, slot: number, macOffset: number, nowMs: number, tsUs: number): number {
    const c = this.counters;
    this.dnsQuery = '';
    this.inspector.onPacket(this.flows, slot, p, buf, tsUs);
    const name = this.dnsQuery;
    if (name === '') { c.pending++; return NF_ACCEPT; }
    const d = this.decide(name, 'dns-query', p, buf, macOffset, nowMs);
    if (d.verdict === 'allow') { c.dnsAllowed++; this.report(d, p, undefined); return NF_ACCEPT; }
    const answer = dnsNxdomain(buf, p);
    let answered = false;
    if (answer === undefined) c.dnsUnanswerable++;
    else if (this.sink.sendRaw(answer)) { c.dnsNxdomain++; answered = true; }
    else c.rawSendFailed++;
    this.report(d, p, answered ? 'nxdomain' : 'drop');
    return NF_DROP;
  }

  private decide(name: string, nameSource: VerdictNameSource, p: DecodedPacket, buf: Buffer, macOffset: number, nowMs: number): VerdictDecision {
    const v4 = p.ipVersion === 4;
    const clientIp = v4 ? ipv4ToString(p.src3) : ipv6ToString(p.src0, p.src1, p.src2, p.src3);
    const clientMac = macOffset >= 0 ? macString(buf, macOffset) : undefined;
    const request: VerdictRequest = { name: normalise(name), nameSource, clientIp, ...(clientMac !== undefined ? { clientMac } : {}), nowMs };
    this.lastRequest = request;
    try {
      return this.policy().decide(request);
    } catch {
      // A failing policy must not stop the verdict path: the flow gets the default verdict.
      this.counters.policyErrors++;
      return { verdict: 'allow', reason: 'default', ruleId: 'default' };
    }
  }

  snapshot(): Record<string, number> {
    return { ...this.counters.snapshot(), 'inline.flows': this.flows.size };
  }
}

function normalise(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

function macString(buf: Buffer, o: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i > 0 ? ':' : '') + buf[o + i]!.toString(16).padStart(2, '0');
  return s;
}
