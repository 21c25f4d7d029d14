/**
 * `outpost replay`: reads capture files as fast as it can, packet timestamps as the clock.
 */
import { statSync, writeSync } from 'node:fs';
import { ProgressLine, type ProgressOutput } from './telemetry/progress.js';
import { readCaptureFile, CaptureFileCounters } from './capture/capture-file.js';
import { Sensor, type EventKind, type EventSink } from './sensor.js';
import type { FlowSettings } from './flows/flow-table.js';

/** A sensor alone (no device identity or discovery), for comparisons and tests. */
export interface ReplayOptions {
  files: string[];
  emit: ReadonlySet<EventKind>;
  flows: FlowSettings;
  /** Receives each event; defaults to NDJSON on stdout. */
  sink?: EventSink;
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
  /** One line of JSON serialized already (the outbox's stored text of an event). */
  writeLine(json: string): void {
    if (this.broken) return;
    const line = json + '\n';
    this.chunks.push(line);
    this.size += line.length;
    if (this.size >= 65536) this.flush();
  }
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

/**
 * Reads capture files through a sensor as fast as it can, packet timestamps as the clock, and
 * ends every flow still open at the end (its final event). The sensor and its event pipeline are
 * the caller's: `outpost replay` assembles them as the daemon does (src/pipeline.ts).
 */
export function replayFiles(sensor: Sensor, files: readonly string[], options: { progress?: ProgressOutput } = {}): ReplayResult {
  const captureCounters = new CaptureFileCounters();
  const t0 = process.hrtime.bigint();
  const progress = options.progress;
  if (progress === undefined) {
    for (const file of files) readCaptureFile(file, sensor.onPacket, captureCounters);
  } else {
    // Sizes up front for the total; a file that cannot be stat'ed counts 0 here and fails with
    // its own coded error when it is opened.
    const sizes = files.map((f) => { try { return statSync(f).size; } catch { return 0; } });
    const line = new ProgressLine(progress, 'replay', sizes.reduce((a, b) => a + b, 0));
    let before = 0;
    for (const [i, file] of files.entries()) {
      readCaptureFile(file, sensor.onPacket, captureCounters, { onProgress: (consumed) => line.update(before + consumed, captureCounters.packets) });
      before += sizes[i]!;
    }
    line.finish(before, captureCounters.packets);
  }
  sensor.flush();
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const counters = { ...captureCounters.snapshot(), ...sensor.counters() };
  const packets = counters['decode.packets'] ?? 0;
  return { counters, elapsedMs, packetsPerSecond: elapsedMs > 0 ? Math.round(packets / (elapsedMs / 1000)) : 0 };
}

/** Replays files through a sensor with no components, its events to `sink` (or stdout). */
export function replay(options: ReplayOptions): ReplayResult {
  const writer = options.sink ? null : new NdjsonWriter(1);
  const sensor = new Sensor({ flows: options.flows, emit: options.emit, sink: options.sink ?? writer!.write });
  const result = replayFiles(sensor, options.files);
  writer?.flush();
  return result;
}
