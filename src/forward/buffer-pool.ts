/**
 * Reusable byte buffers for the forwarding path's large, short-lived ones (an HTTPS body before
 * compression, the syslog format worker's input and output). Each of them is about 1 MB per
 * batch and lives across an asynchronous step (compression, a worker round trip, a socket
 * write), long enough for V8's young collections to promote it; promoted, it was freed only by a
 * full collection, which V8 starts when external memory has grown by about 64 MB. In
 * `npm run bench:forward` those dead buffers were most of the 60-85 MB of array buffers at the
 * peak. A buffer is given back only by the code that knows nobody reads it any more.
 *
 * Every buffer has its own ArrayBuffer (never Buffer's shared pool), so it can be transferred to
 * and from a worker thread. Free of imports: the syslog worker uses it too.
 */
export class BufferPool {
  readonly #free: ArrayBuffer[] = [];
  /** `max`: buffers kept at most (the larger ones); a buffer is as large as the largest use it had. */
  constructor(readonly max = 4) {}

  /** A view of exactly `bytes` bytes at the start of a pooled ArrayBuffer large enough, or of a new one. */
  take(bytes: number): Buffer {
    for (let i = this.#free.length - 1; i >= 0; i--) {
      const ab = this.#free[i]!;
      if (ab.byteLength >= bytes) {
        this.#free.splice(i, 1);
        return Buffer.from(ab, 0, bytes);
      }
    }
    // Room above this use for the next ones, which differ by a few events' bytes.
    const room = Math.ceil((bytes + (bytes >> 3)) / 65536) * 65536;
    return Buffer.from(new ArrayBuffer(Math.max(room, 65536)), 0, bytes);
  }

  /** Gives back the ArrayBuffer under `b` (from take(), or transferred from the other thread's pool). */
  give(b: Buffer | ArrayBuffer): void {
    const ab = b instanceof ArrayBuffer ? b : (b.buffer as ArrayBuffer);
    if (ab.byteLength === 0) return; // detached (transferred away)
    if (this.#free.includes(ab)) return;
    if (this.#free.length < this.max) {
      this.#free.push(ab);
      return;
    }
    let min = 0;
    for (let i = 1; i < this.#free.length; i++) if (this.#free[i]!.byteLength < this.#free[min]!.byteLength) min = i;
    if (this.#free[min]!.byteLength < ab.byteLength) this.#free[min] = ab;
  }

  get size(): number {
    return this.#free.length;
  }
}
