/**
 * Drives the registered flow analyzers (registry.ts) for each flow that needs them and keeps
 * what they found. Nothing here names a protocol: candidates come from each analyzer's
 * transports and probe, the first analyzer that claims a flow owns it, and an analyzer whose
 * probe says "not mine" is excluded for the rest of that flow.
 *
 * Per-flow state lives in an array indexed by flow-table slot and tagged with the flow's uid, so
 * a slot reused by a new flow starts clean without any callback. A flow is inspected only until
 * its owner is done or `maxInspectedPackets` payload packets have gone by; after that the
 * per-packet cost is one typed-array read. Analyzer state (reassembly buffers) is dropped as soon
 * as a flow's result is final, so memory follows the flows being inspected, not the flows being
 * tracked.
 */
import type { DecodedPacket } from '../decode/decoder.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../decode/constants.js';
import type { FlowTable } from '../flows/flow-table.js';
import { tlsVersionName } from './tls/analyzer.js';
import {
  CounterSets, Feed, Probe, TRANSPORT_TCP, TRANSPORT_UDP,
  type DnsMessageCallback, type FlowAnalyzer, type FlowAnalyzerEnv, type FlowContext, type FlowFindings,
  type InspectedDnsCallback, type InspectorSettings, type PacketContext, type ProtocolDescriptor,
} from './protocol.js';
import { PROTOCOLS } from './registry.js';
import type { LogonCallback } from './logon.js';
import { OutpostError } from '../errors.js';

export type { DnsMessageEvent, DnsMessageCallback, FlowFindings, HostnameSource, InspectorSettings } from './protocol.js';

export const DEFAULT_INSPECTOR_SETTINGS: InspectorSettings = {
  tlsReassemblyMaxBytes: 16384,
  maxInspectedPackets: 32,
};

/** `owner` of a flow no analyzer has claimed yet / that needs nothing more. */
const UNDECIDED = -1;
const NONE = -2;

/** Per-flow working state while a flow is inspected. */
class Inspection implements FlowContext {
  /** Index of the owning analyzer, UNDECIDED or NONE. */
  owner = UNDECIDED;
  /** Index of the analyzer that claimed the flow (kept when `owner` becomes NONE); -1 none. */
  claimedBy = -1;
  /** The claiming analyzer's per-flow state. */
  state: unknown = null;
  /** Bit i set: analyzer i said the flow is not its protocol. */
  excluded = 0;
  packets = 0;
  /** Next expected sequence number per direction (the SYN's ISN + 1 until an analyzer moves it). */
  clientNext = -1;
  serverNext = -1;
  /**
   * The application's client is the flow's server side. Happens when the capture missed the
   * handshake and the flow's client was guessed from the first packet, which was a response.
   */
  swapped = false;
  readonly findings: FlowFindings = new Findings();
}

/**
 * A flow's findings with every field present from the start: analyzers fill them in different
 * orders (SNI then certificate, Host then requests, QUIC version then ClientHello), and an object
 * literal grown field by field would take a different hidden class for each order, making the
 * event builder's reads of them megamorphic. Absent findings stay `undefined`, as before.
 */
class Findings implements FlowFindings {
  hostname: string | undefined = undefined;
  hostnameSource: FlowFindings['hostnameSource'] = undefined;
  tls: FlowFindings['tls'] = undefined;
  quicVersion: string | undefined = undefined;
  http: FlowFindings['http'] = undefined;
}

/** The packet being inspected; one object reused for every packet. */
class CurrentPacket implements PacketContext {
  p!: DecodedPacket;
  buf!: Buffer;
  tsUs = 0;
  fromClient = false;
  clientDecidedBySyn = false;
  syn = false;
  flowUid = 0;
}

/** The inspector's environment: listeners may be attached after construction. */
class Env implements FlowAnalyzerEnv {
  readonly counters = new CounterSets();
  onDnsMessage: DnsMessageCallback | null = null;
  onInspectedDns: InspectedDnsCallback | null = null;
  onLogon: LogonCallback | null = null;
  constructor(readonly settings: InspectorSettings) {}
}

const TCP_SYN = 0x02;
/** Payload packets looked at for a handshake or request start before a flow is left alone. */
const UNDECIDED_SEGMENTS = 4;

export class FlowInspector {
  /** Registered flow analyzers, in registry order (probe order). */
  readonly analyzers: readonly FlowAnalyzer[];
  private readonly env: Env;
  private readonly settings: InspectorSettings;
  private inspections: (Inspection | undefined)[] = [];
  private findings: (FlowFindings | undefined)[] = [];
  /** uid of the flow each slot's entries belong to; 0 = none. */
  private owner = new Float64Array(0);
  /** 1 once a flow needs no more packets. */
  private finished = new Uint8Array(0);
  private readonly cur = new CurrentPacket();
  /*
   * What each analyzer declares, read once here into bit sets (bit i: analyzer i) so that the
   * per-packet loop reads integers of the inspector instead of properties of seven analyzer
   * classes (a megamorphic load per property per probe).
   */
  /** Candidates per transport: TRANSPORT_TCP / TRANSPORT_UDP bits. */
  private readonly tcpCandidates: number;
  private readonly udpCandidates: number;
  /** Analyzers probed on packets without payload (bare SYNs). */
  private readonly probeEmptyMask: number;
  /** Analyzers that follow their flows for their whole life. */
  private readonly everyPacketMask: number;
  /** Analyzers that list their ports (FlowAnalyzer.ports). */
  private readonly portKeyedMask: number;
  /** Per port: the port-keyed analyzers listing it; empty when none is registered. */
  private readonly portAnalyzers: Int32Array;

  constructor(settings: InspectorSettings = DEFAULT_INSPECTOR_SETTINGS, protocols: readonly ProtocolDescriptor[] = PROTOCOLS) {
    this.settings = settings;
    this.env = new Env(settings);
    const list: FlowAnalyzer[] = [];
    for (const d of protocols) if (d.flow !== undefined) list.push(d.flow(this.env));
    // Exclusion is a bit per analyzer in one 31-bit integer.
    if (list.length > 31) throw new OutpostError('INTERNAL', { reason: 'more than 31 flow analyzers registered' });
    this.analyzers = list;
    let tcp = 0, udp = 0, empty = 0, every = 0, keyed = 0;
    for (let i = 0; i < list.length; i++) {
      const a = list[i]!, bit = 1 << i;
      if ((a.transports & TRANSPORT_TCP) !== 0) tcp |= bit;
      if ((a.transports & TRANSPORT_UDP) !== 0) udp |= bit;
      if (a.probeEmpty) empty |= bit;
      if (a.everyPacket) every |= bit;
      if (a.ports !== undefined) keyed |= bit;
    }
    this.tcpCandidates = tcp; this.udpCandidates = udp;
    this.probeEmptyMask = empty; this.everyPacketMask = every; this.portKeyedMask = keyed;
    this.portAnalyzers = new Int32Array(keyed === 0 ? 0 : 65536);
    for (let i = 0; i < list.length; i++) for (const port of list[i]!.ports ?? []) this.portAnalyzers[port & 0xffff]! |= 1 << i;
  }

  /** Receives every DNS message (name cache, DNS Activity events); null = DNS not inspected. */
  get onDnsMessage(): DnsMessageCallback | null { return this.env.onDnsMessage; }
  set onDnsMessage(cb: DnsMessageCallback | null) { this.env.onDnsMessage = cb; }

  /** Receives mDNS / LLMNR datagrams as parsed (local-protocol dispatcher); null = none. */
  get onInspectedDns(): InspectedDnsCallback | null { return this.env.onInspectedDns; }
  set onInspectedDns(cb: InspectedDnsCallback | null) { this.env.onInspectedDns = cb; }

  /** Receives each logon attempt the Kerberos, NTLM and RADIUS analyzers saw; null = none. */
  get onLogon(): LogonCallback | null { return this.env.onLogon; }
  set onLogon(cb: LogonCallback | null) { this.env.onLogon = cb; }

  private ensure(capacity: number): void {
    if (this.owner.length >= capacity) return;
    const owner = new Float64Array(capacity);
    owner.set(this.owner);
    this.owner = owner;
    const finished = new Uint8Array(capacity);
    finished.set(this.finished);
    this.finished = finished;
  }

  /** Called for every decoded packet after the flow table has accounted it. */
  onPacket(t: FlowTable, slot: number, p: DecodedPacket, buf: Buffer, tsUs: number): void {
    if (this.owner.length < t.capacity) this.ensure(t.capacity);
    const uid = t.uid[slot]!;
    if (this.owner[slot] !== uid) {
      this.owner[slot] = uid;
      this.finished[slot] = 0;
      this.inspections[slot] = undefined;
      this.findings[slot] = undefined;
    }
    if (this.finished[slot] === 1) return;
    const proto = p.protocol;
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) { this.finished[slot] = 1; return; }
    const len = p.payloadLength;
    const syn = proto === IPPROTO_TCP && (p.tcpFlags & TCP_SYN) !== 0;
    if (len === 0 && !syn) return;
    let ins = this.inspections[slot];
    if (ins === undefined) {
      ins = new Inspection();
      // Port-keyed analyzers whose ports the flow does not use would answer NOT_MINE to every
      // probe: excluded now, once per flow.
      const keyed = this.portKeyedMask;
      if (keyed !== 0) ins.excluded = keyed & ~(this.portAnalyzers[p.srcPort]! | this.portAnalyzers[p.dstPort]!);
      this.inspections[slot] = ins;
      this.findings[slot] = ins.findings;
    }
    const pc = this.cur;
    pc.p = p; pc.buf = buf; pc.tsUs = tsUs; pc.syn = syn; pc.flowUid = uid;
    pc.clientDecidedBySyn = t.clientKnown(slot);
    pc.fromClient = t.lastPacketFromClient !== ins.swapped;
    if (ins.owner === UNDECIDED && !this.decide(t, slot, ins, pc, proto === IPPROTO_TCP ? this.tcpCandidates : this.udpCandidates)) {
      this.packetSeen(slot, ins, len);
      return;
    }
    const owner = ins.owner;
    const a = this.analyzers[owner]!;
    if ((this.everyPacketMask & (1 << owner)) !== 0) { a.feed(ins.state, pc, ins); return; }
    if (a.feed(ins.state, pc, ins) === Feed.STOP) ins.owner = NONE;
    this.packetSeen(slot, ins, len);
  }

  /**
   * Probes the candidates of an undecided flow. Returns true when an analyzer claimed it (its
   * state is created and the packet is to be fed); false when the flow stays undecided or was
   * settled without an owner (ins.owner NONE).
   */
  private decide(t: FlowTable, slot: number, ins: Inspection, pc: CurrentPacket, candidates: number): boolean {
    const p = pc.p, len = p.payloadLength;
    if (pc.syn) {
      // Keep the ISN: a ClientHello split across segments is reassembled from it.
      if (pc.fromClient) ins.clientNext = (p.tcpSeq + 1) >>> 0; else ins.serverNext = (p.tcpSeq + 1) >>> 0;
    }
    const analyzers = this.analyzers;
    // The transport's analyzers not excluded for this flow, in registry order.
    let left = candidates & ~ins.excluded;
    if (len === 0) left &= this.probeEmptyMask;
    for (let i = 0; left !== 0; i++) {
      const bit = 1 << i;
      if ((left & bit) === 0) continue;
      left &= ~bit;
      const a = analyzers[i]!;
      const r = a.probe(pc, ins);
      if (r === Probe.NOT_YET) continue;
      if (r === Probe.NOT_MINE) { ins.excluded |= 1 << i; continue; }
      if (r === Probe.FINISHED) { ins.owner = NONE; return false; }
      if (r === Probe.MINE_REVERSED) {
        // A message only a client sends came from the side the flow table guessed as server:
        // the flow itself is turned round (its events' src/dst follow) when its analyzer proves
        // the client by content and no handshake decided it; otherwise only this view is.
        if (!(a.provesClient === true && t.reverseClient(slot))) ins.swapped = !ins.swapped;
        pc.fromClient = true;
        const n = ins.clientNext; ins.clientNext = ins.serverNext; ins.serverNext = n;
      }
      ins.owner = i;
      ins.claimedBy = i;
      ins.state = a.start(pc, ins);
      return true;
    }
    // Not a handshake or request start: the server spoke first (a banner), the capture started
    // mid-conversation, or a segment was lost. A few more payload packets are looked at before
    // the flow is left alone.
    if (len > 0 && ins.packets >= UNDECIDED_SEGMENTS) ins.owner = NONE;
    return false;
  }

  /** Counts a payload packet against the flow's budget and finishes the flow when it is done. */
  private packetSeen(slot: number, ins: Inspection, len: number): void {
    if (len > 0 && ++ins.packets >= this.settings.maxInspectedPackets) ins.owner = NONE;
    if (this.isDone(ins)) this.finish(slot, ins);
  }

  private isDone(ins: Inspection): boolean {
    const o = ins.owner;
    if (o === UNDECIDED) return false;
    if (o === NONE) return true;
    return this.analyzers[o]!.isDone(ins.state);
  }

  /** Moves what an inspection found into the flow's findings and drops its working state. */
  private finish(slot: number, ins: Inspection): void {
    this.collect(ins);
    this.finished[slot] = 1;
    this.inspections[slot] = undefined;
    this.endState(ins, false);
  }

  /** Tells the claiming analyzer its state is let go (FlowAnalyzer.end). */
  private endState(ins: Inspection, ended: boolean): void {
    const i = ins.claimedBy;
    if (i < 0) return;
    const a = this.analyzers[i]!;
    if (a.end !== undefined) a.end(ins.state, ended);
  }

  private collect(ins: Inspection): void {
    const i = ins.claimedBy;
    if (i >= 0) this.analyzers[i]!.contribute(ins.state, ins);
  }

  /**
   * What is known about a flow now (at an event). A flow still being inspected reports what
   * its analyzers have so far; its findings stay until the slot is reused.
   */
  findingsOf(t: FlowTable, slot: number): FlowFindings | undefined {
    if (this.owner[slot] !== t.uid[slot]) return undefined;
    const ins = this.inspections[slot];
    if (ins !== undefined) this.collect(ins);
    return this.findings[slot];
  }

  /**
   * Forget a flow's state and findings: after its final event (`ended`), or, `ended` false, when
   * its owner needs nothing more from a flow that goes on (the inline verdict path, once the flow
   * has its verdict).
   */
  release(slot: number, ended = true): void {
    if (slot < this.owner.length) {
      const ins = this.inspections[slot];
      if (ins !== undefined) this.endState(ins, ended);
      this.owner[slot] = 0;
      this.inspections[slot] = undefined;
      this.findings[slot] = undefined;
    }
  }

  /** The registered flow analyzers' counters, merged in registry order. */
  counters(): Record<string, number> {
    let out: Record<string, number> = {};
    for (const a of this.analyzers) out = { ...out, ...a.counters() };
    return out;
  }
}

export { tlsVersionName };
