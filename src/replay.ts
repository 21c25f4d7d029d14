/**
 * `outpost replay`: reads capture files as fast as it can, packet timestamps as the clock.
 */
import { writeSync } from 'node:fs';
import { readCaptureFile, CaptureFileCounters } from './capture/capture-file.js';
import { Sensor, type EventKind, type EventSink, type EventEnricher, type PacketObserver, type HttpRequestObserver } from './sensor.js';
import type { FlowSettings } from './flows/flow-table.js';

export interface ReplayOptions {
  files: string[];
  emit: ReadonlySet<EventKind>;
  flows: FlowSettings;
  /** Receives each event; defaults to NDJSON on stdout. */
  sink?: EventSink;
  /** Context added to every event (devices, cloud apps), as in the daemon. */
  enrichers?: EventEnricher[];
  packetObservers?: PacketObserver[];
  httpObservers?: HttpRequestObserver[];
  /** Sees every event before the sink (rollups), whether or not events are written. */
  observe?: (event: object) => void;
  /** Write no events (like `--emit none`) while still building them for `observe`. */
  discardEvents?: boolean;
  /**
   * Write only the events this accepts (the others are still built, enriched and observed):
   * Network Activity built for rollups while only DHCP events were asked for.
   */
  writeFilter?: (event: Record<string, unknown>) => boolean;
  /**
   * Receives the replay's event path before reading starts, for components that emit events of
   * their own (device identity's DHCP Activity and Device Inventory Info).
   */
  attachSink?: (sink: EventSink) => void;
}

export interface ReplayResult {
  counters: Record<string, number>;
  elapsedMs: number;
  packetsPerSecond: number;
}

/**
 * Buffers NDJSON lines and writes them to a file descriptor in large chunks: one write(2) per
 * 64 KiB instead of one per event. Synchronous, so output order and completeness do not depend
 * on the event loop running (replay never yields).
 */
export class NdjsonWriter {
  private chunks: string[] = [];
  private size = 0;
  broken = false;
  constructor(private readonly fd: number) {}
  write = (event: object): void => {
    if (this.broken) return;
    const line = JSON.stringify(event) + '\n';
    this.chunks.push(line);
    this.size += line.length;
    if (this.size >= 65536) this.flush();
  };
  flush(): void {
    if (this.size === 0 || this.broken) return;
    const data = Buffer.from(this.chunks.join(''));
    this.chunks = [];
    this.size = 0;
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(this.fd, data, off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        // The reader went away (`| head`): stop writing, keep analysing.
        if (code === 'EPIPE') { this.broken = true; return; }
        throw e;
      }
    }
  }
}

export function replay(options: ReplayOptions): ReplayResult {
  const writer = options.sink ? null : new NdjsonWriter(1);
  const write = options.sink ?? writer!.write;
  const writeFilter = options.writeFilter;
  const out: EventSink = options.discardEvents ? () => {}
    : writeFilter ? (e) => { if (writeFilter(e as Record<string, unknown>)) write(e); }
    : write;
  const observe = options.observe;
  const sink: EventSink = observe ? (e) => { observe(e); out(e); } : out;
  const sensor = new Sensor({
    flows: options.flows, emit: options.emit, sink,
    ...(options.enrichers ? { enrichers: options.enrichers } : {}),
    ...(options.packetObservers ? { packetObservers: options.packetObservers } : {}),
    ...(options.httpObservers ? { httpObservers: options.httpObservers } : {}),
  });
  options.attachSink?.(sink);
  const captureCounters = new CaptureFileCounters();
  const t0 = process.hrtime.bigint();
  for (const file of options.files) readCaptureFile(file, sensor.onPacket, captureCounters);
  sensor.flush();
  writer?.flush();
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const counters = { ...captureCounters.snapshot(), ...sensor.counters() };
  const packets = counters['decode.packets'] ?? 0;
  return { counters, elapsedMs, packetsPerSecond: elapsedMs > 0 ? Math.round(packets / (elapsedMs / 1000)) : 0 };
}
