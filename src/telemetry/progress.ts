/**
 * A one-line progress display for long work on a terminal (`outpost replay`): bytes done of the
 * total, packets per second and the time left, redrawn in place with a carriage return and
 * "erase to end of line" (ECMA-48 §8.3.41 EL), at most every PROGRESS_INTERVAL_MS. The caller
 * decides whether to show it at all (a terminal on stderr, no --quiet); `update` is cheap to call
 * often: it only compares the clock and returns until the interval has passed.
 */

/** Redraws at most four times a second: enough to look alive, too few to cost anything. */
export const PROGRESS_INTERVAL_MS = 250;

export interface ProgressOutput {
  write(s: string): unknown;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]}`;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e4) return `${Math.round(perSecond / 1e3)}k`;
  return `${Math.round(perSecond)}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0'), ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class ProgressLine {
  readonly #out: ProgressOutput;
  readonly #label: string;
  readonly #totalBytes: number;
  readonly #now: () => number;
  readonly #startMs: number;
  #lastDrawMs = Number.NEGATIVE_INFINITY;
  #drawn = 0;

  constructor(out: ProgressOutput, label: string, totalBytes: number, now: () => number = () => performance.now()) {
    this.#out = out;
    this.#label = label;
    this.#totalBytes = totalBytes;
    this.#now = now;
    this.#startMs = now();
  }

  /** How many times the line was drawn (for tests and the final summary). */
  get draws(): number {
    return this.#drawn;
  }

  /** Redraws when PROGRESS_INTERVAL_MS has passed since the last draw. */
  update(bytesDone: number, packets: number): void {
    const now = this.#now();
    if (now - this.#lastDrawMs < PROGRESS_INTERVAL_MS) return;
    this.#draw(now, bytesDone, packets, false);
  }

  /** The final line (always drawn), ended with a newline so what follows starts clean. */
  finish(bytesDone: number, packets: number): void {
    this.#draw(this.#now(), bytesDone, packets, true);
    this.#out.write('\n');
  }

  /** The text of the line (without the carriage return and erase). */
  render(nowMs: number, bytesDone: number, packets: number, done: boolean): string {
    const elapsedMs = Math.max(1, nowMs - this.#startMs);
    const total = this.#totalBytes;
    const pct = total > 0 ? Math.min(100, Math.floor((bytesDone / total) * 100)) : 100;
    const pps = packets / (elapsedMs / 1000);
    const parts = [`${this.#label} ${formatBytes(bytesDone)} / ${formatBytes(total)} ${String(pct).padStart(3)}%`, `${formatRate(pps)} pkt/s`];
    if (done) parts.push(`${formatDuration(elapsedMs)} elapsed`);
    else if (bytesDone > 0 && total > bytesDone) parts.push(`ETA ${formatDuration(((total - bytesDone) * elapsedMs) / bytesDone)}`);
    else parts.push('ETA --:--');
    return parts.join('  ');
  }

  #draw(now: number, bytesDone: number, packets: number, done: boolean): void {
    this.#lastDrawMs = now;
    this.#drawn++;
    this.#out.write(`\r${this.render(now, bytesDone, packets, done)}\x1b[K`);
  }
}
