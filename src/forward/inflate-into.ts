/**
 * Raw DEFLATE (RFC 1951) inflated into a buffer the caller gives, so that the outbox can decode
 * its blocks into buffers it reuses (./buffer-pool.ts says why that matters). node:zlib's
 * synchronous functions always allocate their output; its stream objects own a native zlib
 * context whose `writeSync(flush, in, inOff, inLen, out, outOff, outLen)` (the call zlibBufferSync
 * makes for inflateRawSync, lib/zlib.js) writes where it is told. That handle is not a documented
 * API: where it is missing (another Node), this falls back to inflateRawSync and a copy, and
 * test/forward-outbox-blocks.test.ts fails, so that the change is seen.
 */
import zlib from 'node:zlib';

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  onerror: (message: string, errno: number) => void;
}

let handle: ZlibHandle | undefined;
let state: Uint32Array | undefined;
let error: string | undefined;

function open(): boolean {
  const s = zlib.createInflateRaw() as unknown as { _handle?: ZlibHandle; _writeState?: Uint32Array };
  if (typeof s._handle?.writeSync !== 'function' || !(s._writeState instanceof Uint32Array)) return false;
  handle = s._handle;
  state = s._writeState;
  // Errors are reported here, synchronously, instead of destroying the stream object.
  handle.onerror = (message) => {
    error = message;
  };
  return true;
}

/** Whether inflateRawInto writes in place (false: it copies from inflateRawSync's output). */
export function inflatesInPlace(): boolean {
  return handle !== undefined || open();
}

/**
 * Inflates `input` into `out` (which must have at least one byte more than the data inflates to:
 * zlib has to see room left to report the end). Returns the inflated length, or a string saying
 * what is wrong with the input.
 */
export function inflateRawInto(input: Uint8Array, out: Buffer): number | string {
  if (!inflatesInPlace()) {
    let r: Buffer;
    try {
      r = zlib.inflateRawSync(input);
    } catch (err) {
      return (err as Error).message;
    }
    if (r.length >= out.length) return `inflates to more than ${out.length - 1} bytes`;
    r.copy(out);
    return r.length;
  }
  const h = handle!;
  error = undefined;
  h.writeSync(zlib.constants.Z_FINISH, input, 0, input.length, out, 0, out.length);
  const availOut = state![0]!;
  const availIn = state![1]!;
  if (error !== undefined) {
    // A context that failed is not used again.
    handle = undefined;
    return error;
  }
  h.reset();
  if (availOut === 0) return `inflates to more than ${out.length - 1} bytes`;
  if (availIn !== 0) return `${availIn} bytes after the end of the compressed data`;
  return out.length - availOut;
}
