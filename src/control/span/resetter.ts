/**
 * SPAN mode's reset injection (best effort): on a capture interface fed by a mirror port Outpost
 * cannot drop anything, but it can answer a blocked flow's first named packet with TCP resets to
 * both ends, sent out of the interface the packet was seen on. Whether a reset works is a race
 * with the server's answer (RFC 5961 §3.2: only a sequence number at the receiver's next expected
 * one resets); BENCHMARKS.md gives the rate measured in the lab.
 *
 * A packet observer of the capture pipeline (protocols/observers.ts): it is given each decoded
 * packet and keeps its own small flow table and analyzers for the judged ports only, so the
 * capture's own flow accounting and events are untouched.
 *
 * A decision is reported (`onDecision`: the verdict event) only after the resets went out: the
 * event pipeline's work must not cost the race, and the report says what was actually sent
 * (`reset`, or `none` when no frame could be injected and the flow went on).
 */
import type { DecodedPacket } from '../../decode/decoder.js';
import { IPPROTO_TCP } from '../../decode/constants.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import { FlowTable, FlowCounters } from '../../flows/flow-table.js';
import { FlowInspector, DEFAULT_INSPECTOR_SETTINGS } from '../../protocols/inspector.js';
import type { PacketObserver } from '../../protocols/observers.js';
import type { VerdictDecision, VerdictPolicy } from '../policy-types.js';
import type { SpanConfig } from '../config.js';
import { INLINE_FLOW_SETTINGS, type InlineDecision } from '../inline/engine.js';
import { tcpResetFrames } from '../inline/packets.js';

export interface SpanResetterOptions {
  cfg: SpanConfig;
  policy: () => VerdictPolicy;
  /** Sends a frame out of the interface the current packet came from (LiveCapture.injectOnCurrent). */
  inject: (frame: Buffer) => boolean;
  now?: () => number;
  onDecision?: (d: InlineDecision) => void;
}

const JUDGED = 1;
const BLOCKED = 2;
/** Resets sent per blocked flow at most: one per client segment seen after the verdict too. */
const MAX_RESETS_PER_FLOW = 4;

export class SpanResetter implements PacketObserver {
  readonly flows: FlowTable;
  readonly inspector: FlowInspector;
  private readonly ports = new Uint8Array(65536);
  private state = new Uint8Array(0);
  private resets = new Uint8Array(0);
  private stateUid = new Float64Array(0);
  readonly counters = { judged: 0, blocked: 0, framesSent: 0, injectFailed: 0, unanswerable: 0, policyErrors: 0, decisionErrors: 0 };

  constructor(private readonly options: SpanResetterOptions) {
    for (const p of options.cfg.tcpPorts) this.ports[p] = 1;
    this.flows = new FlowTable(INLINE_FLOW_SETTINGS, new FlowCounters(), null);
    this.inspector = new FlowInspector(DEFAULT_INSPECTOR_SETTINGS);
  }

  readonly onIpPacket = (p: DecodedPacket, buf: Buffer, tsUs: number): void => {
    if (p.protocol !== IPPROTO_TCP || this.ports[p.dstPort] !== 1) return;
    const slot = this.flows.update(p, buf, p.payloadOffset + p.payloadLength, tsUs);
    if (slot < 0) return;
    if (this.state.length < this.flows.capacity) this.grow(this.flows.capacity);
    const uid = this.flows.uid[slot]!;
    if (this.stateUid[slot] !== uid) { this.stateUid[slot] = uid; this.state[slot] = 0; this.resets[slot] = 0; }
    const st = this.state[slot]!;
    if (st === BLOCKED) { if (p.payloadLength > 0) this.reset(p, buf, slot); return; }
    if (st === JUDGED) return;
    this.inspector.onPacket(this.flows, slot, p, buf, tsUs);
    if (p.payloadLength === 0) return;
    const f = this.inspector.findingsOf(this.flows, slot);
    const source = f?.hostnameSource === 'sni' ? 'tls-sni' as const : f?.hostnameSource === 'http_host' ? 'http-host' as const : undefined;
    if (f?.hostname === undefined || source === undefined) return;
    this.state[slot] = JUDGED;
    this.counters.judged++;
    const v4 = p.ipVersion === 4;
    const clientIp = v4 ? ipv4ToString(p.src3) : ipv6ToString(p.src0, p.src1, p.src2, p.src3);
    const request = { name: f.hostname.toLowerCase(), nameSource: source, clientIp, nowMs: (this.options.now ?? Date.now)() };
    let decision: VerdictDecision;
    try { decision = this.options.policy().decide(request); } catch { this.counters.policyErrors++; return; }
    let sent = 0;
    if (decision.verdict === 'block') {
      this.state[slot] = BLOCKED;
      this.counters.blocked++;
      sent = this.reset(p, buf, slot);
    }
    if (this.options.onDecision === undefined) return;
    const serverIp = v4 ? ipv4ToString(p.dst3) : ipv6ToString(p.dst0, p.dst1, p.dst2, p.dst3);
    try {
      this.options.onDecision({
        request, decision, transport: 'tcp', serverIp, serverPort: p.dstPort, clientPort: p.srcPort,
        ...(decision.verdict === 'block' ? { enforcement: sent > 0 ? 'reset' as const : 'none' as const } : {}),
      });
    } catch {
      // The capture path goes on whatever the reporter (the event pipeline) does.
      this.counters.decisionErrors++;
    }
  };

  /** Injects a RST to each end; returns the frames sent. */
  private reset(p: DecodedPacket, buf: Buffer, slot: number): number {
    if (this.resets[slot]! >= MAX_RESETS_PER_FLOW) return 0;
    this.resets[slot]!++;
    const o = p.ipOffset;
    // The TCP header: after the IPv4 header (IHL) or a bare IPv6 header; anything else is skipped.
    const tcpOffset = p.ipVersion === 4 ? o + ((buf[o]! & 0x0f) << 2) : buf[o + 6] === IPPROTO_TCP ? o + 40 : -1;
    const frames = tcpOffset >= 0 ? tcpResetFrames(buf, p, tcpOffset) : undefined;
    if (frames === undefined) { this.counters.unanswerable++; return 0; }
    let sent = 0;
    for (const f of [frames.toClient, frames.toServer]) {
      if (this.options.inject(f)) { this.counters.framesSent++; sent++; } else this.counters.injectFailed++;
    }
    return sent;
  }

  private grow(capacity: number): void {
    const s = new Uint8Array(capacity); s.set(this.state); this.state = s;
    const r = new Uint8Array(capacity); r.set(this.resets); this.resets = r;
    const u = new Float64Array(capacity); u.set(this.stateUid); this.stateUid = u;
  }

  snapshot(): Record<string, number> {
    const c = this.counters;
    return {
      'span.judged': c.judged, 'span.blocked': c.blocked, 'span.frames_sent': c.framesSent,
      'span.inject_failed': c.injectFailed, 'span.unanswerable': c.unanswerable, 'span.policy_errors': c.policyErrors, 'span.decision_errors': c.decisionErrors,
    };
  }
}
