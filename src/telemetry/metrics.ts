/**
 * Prometheus metrics (prom-client) on a registry of our own (not prom-client's global one, so
 * tests and several daemons in one process do not collide).
 *
 * Components keep their counters as plain dotted names (`decode.ipv4_bad_total_length`,
 * `flows.evicted_idle`, ...) because the packet path must stay allocation-free. Instead of
 * mirroring each one by hand, a *source* returns such a snapshot and every name becomes a metric
 * at scrape time: `outpost_<name with dots as underscores>_total` as a counter, or without
 * `_total` as a gauge for names listed as gauges (`flows.active`, anything ending in `.size`,
 * `.entries`, `.depth`, `.age_ms`, `.lag_ms`, ...). New counter names appear on the next scrape.
 *
 * Other areas add their own snapshot with `addSource()` (outbox depth, identity store size,
 * per-sink counters) and get the same mapping without touching this file.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type CounterSnapshot = () => Record<string, number>;

/** Per-interface capture statistics, labelled by interface. */
export interface InterfaceStatsSource {
  (): Array<{ interface: string; packetsReceived: number; kernelDrops: number; interfaceDrops: number; packetsDelivered: number }>;
}

const GAUGE_NAMES = new Set(['flows.active', 'dns.name_cache_entries', 'dns.name_cache.entries', 'inline.queue.reader_realtime_priority', 'inline.verdict_realtime_priority', 'inline.verdict_boost_priority']);
const GAUGE_SUFFIXES = ['.active', '.size', '.entries', '.depth', '.age_ms', '.lag_ms', '_entries', '_size', '_depth', '.bytes_used', '.running'];

export function isGaugeName(name: string): boolean {
  return GAUGE_NAMES.has(name) || GAUGE_SUFFIXES.some((s) => name.endsWith(s));
}

/** `decode.ipv4-bad` → `outpost_decode_ipv4_bad`; always a valid Prometheus metric name. */
export function metricName(dotted: string): string {
  const base = `outpost_${dotted}`.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_');
  return base.replace(/_$/, '');
}

export class Metrics {
  readonly registry = new Registry();
  readonly apiRequests: Counter<'method' | 'route' | 'status'>;
  readonly apiDuration: Histogram<'method' | 'route'>;
  readonly jobRuns: Counter<'job' | 'outcome'>;
  readonly #sources = new Map<string, CounterSnapshot>();
  readonly #dynamic = new Map<string, { kind: 'counter' | 'gauge'; metric: Counter | Gauge }>();
  /** Values of the current scrape, read by each dynamic metric's collect(). */
  #values = new Map<string, number>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'outpost_' });
    this.apiRequests = new Counter({
      name: 'outpost_api_requests_total',
      help: 'Admin API requests by method, route (the route pattern, or "unmatched") and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.apiDuration = new Histogram({
      name: 'outpost_api_request_duration_seconds',
      help: 'Admin API request duration.',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.jobRuns = new Counter({
      name: 'outpost_job_runs_total',
      help: 'Scheduled job runs by job and outcome (ok, error).',
      labelNames: ['job', 'outcome'],
      registers: [this.registry],
    });
  }

  /** A named snapshot of dotted counters, read at every scrape. Replaces a source of the same name. */
  addSource(name: string, snapshot: CounterSnapshot): void {
    this.#sources.set(name, snapshot);
  }

  /** Per-interface libpcap statistics as labelled counters. */
  addInterfaceStats(source: InterfaceStatsSource): void {
    const counter = (name: string, help: string, pick: (s: ReturnType<InterfaceStatsSource>[number]) => number) => new Counter({
      name,
      help,
      labelNames: ['interface'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of source()) this.inc({ interface: s.interface }, Math.max(0, pick(s)));
      },
    });
    counter('outpost_capture_kernel_drops_total', 'Packets dropped by the kernel because the capture buffer was full (pcap ps_drop).', (s) => s.kernelDrops);
    counter('outpost_capture_interface_drops_total', 'Packets dropped by the interface or driver (pcap ps_ifdrop).', (s) => s.interfaceDrops);
    counter('outpost_capture_kernel_received_total', 'Packets received by the kernel for the capture socket (pcap ps_recv).', (s) => s.packetsReceived);
    counter('outpost_capture_delivered_total', 'Packets delivered to the sensor per interface.', (s) => s.packetsDelivered);
  }

  /** Take one snapshot of every source and create metrics for names not seen before. */
  #refresh(): void {
    const values = new Map<string, number>();
    for (const [source, snapshot] of this.#sources) {
      let snap: Record<string, number>;
      try { snap = snapshot(); } catch { continue; } // a broken source must not break the scrape
      for (const [dotted, v] of Object.entries(snap)) {
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        const gauge = isGaugeName(dotted);
        const name = gauge ? metricName(dotted) : `${metricName(dotted)}_total`;
        values.set(name, v);
        if (!this.#dynamic.has(name) && this.registry.getSingleMetric(name) === undefined) {
          const values = () => this.#values;
          const help = `${dotted} (from ${source})`;
          const metric = gauge
            ? new Gauge({ name, help, registers: [this.registry], collect() { this.set(values().get(name) ?? 0); } })
            : new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(Math.max(0, values().get(name) ?? 0)); } });
          this.#dynamic.set(name, { kind: gauge ? 'gauge' : 'counter', metric });
        }
      }
    }
    this.#values = values;
  }

  /** The text exposition format, as served on GET /metrics. */
  async render(): Promise<string> {
    this.#refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
