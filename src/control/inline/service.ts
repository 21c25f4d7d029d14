/**
 * Inline mode as a daemon service: at start the queue is opened first (so that no packet meets a
 * table nobody reads), then the rules installed, replacing atomically any a crashed run left:
 * Outpost's nftables table (src/control/inline/nft.ts) or, where the kernel has no nf_tables
 * queue expression, its iptables chains (iptables.ts; backend.ts chooses); at stop the rules are
 * removed first (traffic then flows unjudged, as when Outpost is not installed), then the queue
 * closed.
 */
import type { Service } from '../../lifecycle.js';
import { OutpostError } from '../../errors.js';
import type { VerdictPolicy } from '../policy-types.js';
import type { InlineConfig } from '../config.js';
import { InlineEngine, type InlineDecision } from './engine.js';
import { installBackend, manualRemoval, removeBackend, type BackendInUse } from './backend.js';
import type { IptablesPrograms } from './iptables.js';
import { loadNfqAddon, type NfqAddon, type NfqHandle, type NfqLatency } from './native.js';

/** Structural subset of the daemon's logger. */
export interface InlineLogger {
  info(obj: object, msg: string): void;
  warn?(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface InlineServiceOptions {
  cfg: InlineConfig;
  policy: () => VerdictPolicy;
  logger: InlineLogger;
  onDecision?: (d: InlineDecision) => void;
  /** The nft binary (tests may point elsewhere). */
  nft?: string;
  /** The iptables programs of the fallback backend (tests may point elsewhere). */
  iptables?: IptablesPrograms;
  /** The addon; loaded on start by default. */
  addon?: NfqAddon;
}

export class InlineService implements Service {
  readonly name = 'inline';
  engine: InlineEngine | null = null;
  private addon: NfqAddon | null = null;
  private handle: NfqHandle | null = null;
  /** SCHED_FIFO priority given to the JavaScript thread (control.inline.verdictRealtimePriority), 0 if none. */
  private verdictRealtime = 0;
  /** The rules installed (the nftables table or the iptables fallback); null while none are. */
  backend: BackendInUse | null = null;

  constructor(private readonly options: InlineServiceOptions) {}

  get running(): boolean { return this.handle !== null && this.backend !== null; }

  private get programs() {
    return { ...(this.options.nft !== undefined ? { nft: this.options.nft } : {}), ...(this.options.iptables !== undefined ? { iptables: this.options.iptables } : {}) };
  }

  async start(): Promise<void> {
    const { cfg, logger } = this.options;
    const addon = this.options.addon ?? loadNfqAddon();
    this.addon = addon;
    const engine = new InlineEngine({
      cfg,
      policy: this.options.policy,
      sink: {
        verdicts: (t, n) => { if (this.handle !== null) addon.verdicts(this.handle, t, n); },
        sendRaw: (r) => this.handle !== null && addon.sendRaw(this.handle, r.family, r.packet, r.dst),
      },
      ...(this.options.onDecision !== undefined ? { onDecision: this.options.onDecision } : {}),
    });
    this.engine = engine;
    try {
      this.handle = addon.open(cfg.queueNumber, {
        copyRangeBytes: 65535, maxQueueLen: cfg.maxQueueLength, failOpen: !cfg.failClosed, batchPackets: cfg.batchPackets,
        realtimePriority: cfg.readerRealtimePriority,
        // The permanent setting makes the boost moot (and the boost's lowering would undo it).
        boostPriority: cfg.verdictRealtimePriority > 0 ? 0 : cfg.verdictBoostPriority,
        boostBudgetMsPerSecond: cfg.verdictBoostBudgetMsPerSecond,
        boostHoldMs: cfg.verdictBoostHoldMs,
      }, engine.onBatch);
    } catch (err) {
      const reason = (err as Error).message;
      throw new OutpostError('CONTROL_INLINE_QUEUE_FAILED', { queue: cfg.queueNumber, reason }, { details: { queue: cfg.queueNumber, reason }, cause: err });
    }
    // Known as soon as the queue is open (native/nfq.c sets it before open() returns).
    const st = addon.stats(this.handle);
    if (cfg.readerRealtimePriority > 0 && st.readerRealtime === 0) {
      logger.warn?.({ readerRealtimePriority: cfg.readerRealtimePriority, errno: st.readerRealtimeError }, `inline mode: the queue reader thread could not get SCHED_FIFO priority ${cfg.readerRealtimePriority} (errno ${st.readerRealtimeError}; CAP_SYS_NICE is needed); it runs with the default policy, and new connections wait longer in the queue under load`);
    }
    if (cfg.verdictRealtimePriority === 0 && cfg.verdictBoostPriority > 0 && st.boostPriority === 0) {
      logger.warn?.({ verdictBoostPriority: cfg.verdictBoostPriority }, `inline mode: the JavaScript thread will not be raised to SCHED_FIFO priority ${cfg.verdictBoostPriority} while it judges (refused at the first try: errno ${st.boostError}; CAP_SYS_NICE is needed); queued packets wait for it longer under load`);
    }
    let installed;
    try {
      installed = await installBackend(cfg, cfg.backend, this.programs);
      this.backend = installed.backend;
    } catch (err) {
      addon.close(this.handle);
      this.handle = null;
      throw err;
    }
    // The JavaScript thread (this one) at real-time priority, when asked (see the setting's risk).
    if (cfg.verdictRealtimePriority > 0) {
      const err = addon.setThreadRealtime(cfg.verdictRealtimePriority);
      if (err === 0) this.verdictRealtime = cfg.verdictRealtimePriority;
      else logger.warn?.({ verdictRealtimePriority: cfg.verdictRealtimePriority, errno: err }, `inline mode: the JavaScript thread could not get SCHED_FIFO priority ${cfg.verdictRealtimePriority} (errno ${err}; CAP_SYS_NICE is needed); it runs with the default policy`);
    }
    const what = installed.backend === 'nftables' ? 'nftables table inet outpost installed' : 'iptables chains OUTPOST-FWD, OUTPOST-BLOCKED (and OUTPOST-DNS) installed for IPv4 and IPv6';
    logger.info({
      backend: installed.backend, configured: cfg.backend, ...(installed.fallbackReason !== undefined ? { fallbackReason: installed.fallbackReason } : {}),
      queue: cfg.queueNumber, tcpPorts: cfg.tcpPorts, udpPorts: cfg.udpPorts, dnsNxdomain: cfg.dnsNxdomain, failClosed: cfg.failClosed,
    }, `inline mode on: ${what}`);
  }

  async stop(): Promise<void> {
    if (this.verdictRealtime > 0 && this.addon !== null) {
      this.addon.setThreadRealtime(0);
      this.verdictRealtime = 0;
    }
    const backend = this.backend;
    if (backend !== null) {
      try {
        await removeBackend(backend, this.programs);
        this.backend = null;
      } catch (err) {
        this.options.logger.error({ err, backend }, `cannot remove inline mode's ${backend} rules (remove them with: ${manualRemoval(backend)})`);
      }
    }
    if (this.handle !== null && this.addon !== null) {
      this.addon.close(this.handle);
      this.handle = null;
    }
  }

  /** Time queued packets spent in user space since the last reset (undefined when not running). */
  latency(reset = false): NfqLatency | undefined {
    return this.handle !== null && this.addon !== null ? this.addon.latency(this.handle, reset) : undefined;
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = { ...(this.engine?.snapshot() ?? {}) };
    if (this.handle !== null && this.addon !== null) {
      const s = this.addon.stats(this.handle);
      out['inline.queue.packets'] = s.packets;
      out['inline.queue.batches'] = s.batches;
      out['inline.queue.enobufs'] = s.enobufs;
      out['inline.queue.recv_errors'] = s.recvErrors;
      out['inline.queue.full_waits'] = s.queueFullWaits;
      out['inline.queue.verdict_errors'] = s.verdictErrors;
      out['inline.queue.preaccepted'] = s.preaccepted;
      out['inline.queue.reader_realtime_priority'] = s.readerRealtime;
      out['inline.verdict_realtime_priority'] = this.verdictRealtime;
      out['inline.verdict_boost_priority'] = s.boostPriority;
      out['inline.verdict_boost.raises'] = s.boostRaises;
      out['inline.verdict_boost.over_budget'] = s.boostOverBudget;
      out['inline.verdict_boost.raised_us'] = s.boostMicros;
      out['inline.verdict_boost.cpu_us'] = s.boostCpuMicros;
    }
    return out;
  }
}
