/**
 * Formatting of syslog batches: outbox JSON → OCSF event → CEF → RFC 5424 message → RFC 6587
 * octet-counted frames in one buffer, and the worker thread that does it for TCP/TLS batches.
 *
 * Why a worker: per event this is JSON.parse (about 3.3 µs for the 812-byte sample event), the
 * CEF mapping and escaping (1.3 µs) and UTF-8 encoding (1.2 µs), all CPU on the thread that also
 * serializes and commits every event to the outbox and runs capture. The HTTPS sink's
 * equivalent step (gzip) already runs off that thread, in libuv's pool. Handing the batch's JSON
 * strings to a worker costs the main thread about 0.5 µs per event (structured clone of the
 * strings); the frames come back as a transferred ArrayBuffer (no copy). Bytes are the same as
 * formatting in-thread: both run SyslogFormatter. UDP batches go the same way (`packed`: the
 * messages back to back without framing, with their end offsets, one datagram each).
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { toCef, toRfc5424, type Rfc5424Options } from '../cef.js';
import { toDiscoveryCef } from '../discovery-format.js';
import { OutpostError } from '../../errors.js';
import { jsonByteLength, writeJson, type JsonRecord } from '../record-bytes.js';
import { BufferPool } from '../buffer-pool.js';

/**
 * What the MSG of each syslog message is: 'cef' is the OCSF CEF of docs/CEF.md (one message per
 * event); 'generic-cef' is Cloud Discovery's generic CEF line (docs/DISCOVERY-FORMATS.md: one per
 * flow and one per HTTP request, no message for the other events). W3C is not offered over syslog:
 * its entries are read with a `#Fields` directive at the head of the file, and a syslog stream has
 * no file head the sender controls (see docs/DISCOVERY-FORMATS.md).
 */
export const SYSLOG_FORMATS = ['cef', 'generic-cef'] as const;
export type SyslogFormat = (typeof SYSLOG_FORMATS)[number];

export interface SyslogFormatSettings {
  /** cefPrefix() of the sink. */
  prefix: string;
  rfc: Rfc5424Options;
  /** rfc5424Middle() of the sink (host name and PROCID of the main thread). */
  middle: string;
  /** MSG format; absent: 'cef'. */
  format?: SyslogFormat;
}

export class SyslogFormatter {
  readonly #s: SyslogFormatSettings;
  /** Records whose JSON did not parse to an object: sent with only their uid ('cef'), or no message. */
  unparsable = 0;
  /** Records that make no message in the sink's format (generic-cef: Open, interim Traffic, DNS, ...): acknowledged unsent. */
  withoutLine = 0;
  readonly #discovery: boolean;
  /** Where frames() and packed() take their buffers (the worker's: given back by the sink once written). */
  readonly #out: BufferPool | undefined;

  constructor(settings: SyslogFormatSettings, out?: BufferPool) {
    this.#s = settings;
    this.#discovery = settings.format === 'generic-cef';
    this.#out = out;
  }

  /** A buffer of `bytes` bytes with its own ArrayBuffer (transferable). */
  #take(bytes: number): Buffer {
    return this.#out ? this.#out.take(bytes) : Buffer.allocUnsafeSlow(bytes);
  }

  /** `buf` grown to at least `need` bytes, its first `used` bytes kept; the smaller one goes back to the pool. */
  #grow(buf: Buffer, used: number, need: number): Buffer {
    const bigger = this.#take(Math.max(need, buf.length * 2));
    buf.copy(bigger, 0, 0, used);
    this.#out?.give(buf);
    return bigger;
  }

  /**
   * The RFC 5424 message (without framing) for one record; '' when it makes none in the sink's
   * format (counted in withoutLine; an RFC 5424 message is never empty).
   */
  message(json: string, uid: string): string {
    let ev: unknown;
    try {
      ev = JSON.parse(json);
    } catch {
      ev = undefined;
    }
    // Not JSON, or JSON that is not an object ("null", a number): toCef would throw on it and
    // the batch would be retried for ever.
    if (ev === null || typeof ev !== 'object') {
      this.unparsable++;
      ev = { metadata: { uid } };
    }
    const o = ev as Record<string, unknown>;
    if (this.#discovery) {
      const line = toDiscoveryCef(o);
      if (line === undefined) {
        this.withoutLine++;
        return '';
      }
      return toRfc5424(o, line, this.#s.rfc, this.#s.middle);
    }
    return toRfc5424(o, toCef(o, this.#s.prefix), this.#s.rfc, this.#s.middle);
  }

  /**
   * RFC 6587 octet-counted frames of a batch, encoded straight into one buffer (no joined
   * string to flatten and copy again); same bytes as concatenating octetFrame(msg). The buffer
   * is never from Buffer's shared pool (allocUnsafeSlow), so the worker can transfer it.
   */
  frames(jsons: readonly string[], uids: readonly string[]): Buffer {
    let buf = this.#take(Math.max(4096, jsons.length * 1024));
    let off = 0;
    for (let i = 0; i < jsons.length; i++) {
      const msg = this.message(jsons[i]!, uids[i] ?? '');
      if (msg === '') continue; // no message in this format
      const n = Buffer.byteLength(msg);
      const need = off + n + 12;
      if (need > buf.length) buf = this.#grow(buf, off, need);
      off += buf.write(String(n), off, 'latin1');
      buf[off++] = 0x20;
      off += buf.write(msg, off);
    }
    return buf.subarray(0, off);
  }

  /**
   * The messages of a batch back to back, without framing, and the offset where each ends (UDP:
   * one datagram per message, RFC 5426). A record that makes no message ends where the one before
   * it ended (an empty message: no datagram). Neither buffer is from Buffer's shared pool
   * (transferable).
   */
  packed(jsons: readonly string[], uids: readonly string[]): Formatted {
    let buf = this.#take(Math.max(4096, jsons.length * 1024));
    const ends = new Uint32Array(jsons.length);
    let off = 0;
    for (let i = 0; i < jsons.length; i++) {
      const msg = this.message(jsons[i]!, uids[i] ?? '');
      const need = off + Buffer.byteLength(msg);
      if (need > buf.length) buf = this.#grow(buf, off, need);
      off += buf.write(msg, off);
      ends[i] = off;
    }
    return { buf: buf.subarray(0, off), ends };
  }
}

/** A formatted batch: octet-counted frames (TCP/TLS), or packed messages with their end offsets (UDP). */
export interface Formatted {
  buf: Buffer;
  ends?: Uint32Array;
}

/** Worker protocol. */
export interface FormatRequest {
  id: number;
  /** The JSON texts, or (from records) their UTF-8 bytes back to back in `bytes`, record i ending at ends[i]. */
  jsons?: string[];
  bytes?: ArrayBuffer;
  ends?: Uint32Array;
  uids: string[];
  /** Packed messages with end offsets (UDP) instead of frames. */
  packed?: boolean;
  /** Output buffers of earlier replies, written and no longer read: the worker's pool takes them back. */
  recycle?: ArrayBuffer[];
}
/** `input`: the request's `bytes` given back (decoded, no longer read), for the next request. */
export type FormatReply =
  | { id: number; buffer: ArrayBuffer; offset: number; length: number; ends?: Uint32Array; unparsable: number; withoutLine: number; input?: ArrayBuffer }
  | { id: number; error: string; input?: ArrayBuffer };

/** Batches smaller than this are formatted in-thread: a worker round trip is not worth it, and a quiet sensor never starts the worker. */
export const WORKER_MIN_EVENTS = 64;

/**
 * The code RetryableSinkError carries, without importing sink.ts here: this module is also the
 * worker's, and sink.ts would bring the outbox (LMDB) into the worker thread.
 */
function sendFailed(message: string): OutpostError {
  return new OutpostError('FORWARD_SINK_SEND_FAILED', { reason: message }, { message });
}
/** node:worker_threads, loaded with the first worker (a CLI start imports this file, see syslog.ts). */
const load = createRequire(import.meta.url);

function startWorker(settings: SyslogFormatSettings): Worker {
  const { Worker } = load('node:worker_threads') as typeof import('node:worker_threads');
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./syslog-worker.js', import.meta.url), { workerData: settings, resourceLimits: WORKER_HEAP_LIMITS });
  // Running from the TypeScript sources (tests, under tsx): Node 20 does not apply the parent's
  // --import loader hooks to a worker's entry module, so the worker registers tsx first.
  const entry = new URL('./syslog-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: settings, resourceLimits: WORKER_HEAP_LIMITS });
}

/**
 * The worker's heap sizes (MiB). It holds one batch at a time (the JSON parsed, the messages) and
 * everything else it allocates is garbage at once; left to V8's defaults its heap grew to several
 * times that before a full collection, and being a second isolate that came on top of the main
 * thread's (bench:forward, syslog phase). Beyond the limit the worker ends and FormatWorker formats
 * in-thread from then on (slower, nothing lost; counted in format_worker_failures).
 */
const WORKER_HEAP_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };

/** The JSON texts of a request (in the worker: decoded from the bytes the request carries). */
export function requestJsons(m: FormatRequest): string[] {
  if (m.jsons) return m.jsons;
  const buf = Buffer.from(m.bytes!);
  const ends = m.ends!;
  const out = new Array<string>(ends.length);
  for (let i = 0, start = 0; i < ends.length; i++) {
    out[i] = buf.toString('utf8', start, ends[i]);
    start = ends[i]!;
  }
  return out;
}

/** The fields of an outbox record formatting reads (OutboxRecord; not imported: see sendFailed). */
interface FormatRecord extends JsonRecord {
  uid: string;
}

interface Pending {
  /** Formats the request in this thread (when the worker is gone). */
  local: () => Formatted;
  resolve: (b: Formatted) => void;
  reject: (e: Error) => void;
}

/**
 * Frames batches in a worker thread, started at the first large batch. Replies come back in
 * request order (one worker, FIFO). If the worker fails (cannot start, crashes), the batches it
 * held and every later one are formatted in-thread: slower, never lost; counted in `failures`.
 * The worker is unref'd while idle so that it never keeps the process alive.
 */
export class FormatWorker {
  readonly #settings: SyslogFormatSettings;
  readonly #local: SyslogFormatter;
  #worker: Worker | undefined;
  #failed = false;
  #closed = false;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  readonly counters = { failures: 0, unparsable: 0, withoutLine: 0, workerBatches: 0 };
  /** Input buffers, back from the worker with its replies. */
  readonly #inputs = new BufferPool();
  /** ArrayBuffers of the worker's replies not yet given back (recycle()): only those go back. */
  readonly #fromWorker = new WeakSet<ArrayBuffer>();
  /** Written output buffers that go back to the worker with the next request. */
  #recycle: ArrayBuffer[] = [];

  constructor(settings: SyslogFormatSettings) {
    this.#settings = settings;
    this.#local = new SyslogFormatter(settings);
  }

  /** Records whose JSON did not parse to an object, in-thread and in the worker. */
  get unparsable(): number {
    return this.counters.unparsable + this.#local.unparsable;
  }

  /** Records that made no message in the sink's format, in-thread and in the worker. */
  get withoutLine(): number {
    return this.counters.withoutLine + this.#local.withoutLine;
  }

  /** In-thread formatting of one message; '' when the record makes none. */
  message(json: string, uid: string): string {
    return this.#local.message(json, uid);
  }

  frames(jsons: string[], uids: string[]): Buffer | Promise<Buffer> {
    const r = this.#format(jsons, uids, false);
    return r instanceof Promise ? r.then((f) => f.buf) : r.buf;
  }

  /** Packed messages and their end offsets (UDP), formatted as frames() formats. */
  packed(jsons: string[], uids: string[]): Formatted | Promise<Formatted> {
    return this.#format(jsons, uids, true);
  }

  /**
   * frames() of outbox records. To the worker go the records' JSON bytes in one transferred buffer
   * (copied from the outbox's blocks where the records have them): no JSON string is made on this
   * thread and none is copied by structured clone.
   */
  framesOf(batch: readonly FormatRecord[]): Buffer | Promise<Buffer> {
    const r = this.#formatRecords(batch, false);
    return r instanceof Promise ? r.then((f) => f.buf) : r.buf;
  }

  /** packed() of outbox records (see framesOf). */
  packedOf(batch: readonly FormatRecord[]): Formatted | Promise<Formatted> {
    return this.#formatRecords(batch, true);
  }

  #formatRecords(batch: readonly FormatRecord[], packed: boolean): Formatted | Promise<Formatted> {
    const local = () => this.#local1(batch.map((r) => r.json), batch.map((r) => r.uid), packed);
    if (batch.length < WORKER_MIN_EVENTS || this.#failed || this.#closed) return local();
    let total = 0;
    for (const r of batch) total += jsonByteLength(r);
    // Its own ArrayBuffer (not the shared pool's), so that it can be transferred; the worker reads
    // only up to ends[last] of it.
    const bytes = this.#inputs.take(total);
    const ends = new Uint32Array(batch.length);
    let o = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      o += writeJson(r, bytes, o);
      ends[i] = o;
    }
    const ab = bytes.buffer as ArrayBuffer;
    return this.#request({ bytes: ab, ends, uids: batch.map((r) => r.uid) }, packed, local, [ab, ends.buffer as ArrayBuffer]);
  }

  #local1(jsons: string[], uids: string[], packed: boolean): Formatted {
    return packed ? this.#local.packed(jsons, uids) : { buf: this.#local.frames(jsons, uids) };
  }

  #format(jsons: string[], uids: string[], packed: boolean): Formatted | Promise<Formatted> {
    if (jsons.length < WORKER_MIN_EVENTS || this.#failed || this.#closed) return this.#local1(jsons, uids, packed);
    return this.#request({ jsons, uids }, packed, () => this.#local1(jsons, uids, packed), []);
  }

  /**
   * The sink has written `buf` (a framesOf()/packedOf() result) and reads it no more: if it came
   * from the worker, its buffer goes back to the worker's pool with the next request. The caller
   * must not touch `buf` afterwards (it is transferred away, and reused).
   */
  recycle(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    if (!this.#fromWorker.has(ab) || this.#recycle.length >= 4) return;
    this.#fromWorker.delete(ab);
    this.#recycle.push(ab);
  }

  #request(req: Omit<FormatRequest, 'id'>, packed: boolean, local: () => Formatted, transfer: ArrayBuffer[]): Formatted | Promise<Formatted> {
    const w = this.#worker ?? this.#start();
    if (!w) return local();
    const id = ++this.#nextId;
    this.counters.workerBatches++;
    if (this.#recycle.length > 0) {
      req = { ...req, recycle: this.#recycle };
      transfer = [...transfer, ...this.#recycle];
      this.#recycle = [];
    }
    return new Promise<Formatted>((resolve, reject) => {
      if (this.#pending.size === 0) w.ref();
      this.#pending.set(id, { local, resolve, reject });
      w.postMessage({ id, ...req, ...(packed ? { packed } : {}) } satisfies FormatRequest, transfer);
    });
  }

  #start(): Worker | undefined {
    let w: Worker;
    try {
      w = startWorker(this.#settings);
    } catch {
      this.#fail();
      return undefined;
    }
    w.unref();
    w.on('message', (m: FormatReply) => {
      if (m.input) this.#inputs.give(m.input);
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) w.unref();
      if ('error' in m) return p.reject(sendFailed(`syslog formatting failed: ${m.error}`));
      this.counters.unparsable += m.unparsable;
      this.counters.withoutLine += m.withoutLine;
      this.#fromWorker.add(m.buffer);
      const buf = Buffer.from(m.buffer, m.offset, m.length);
      p.resolve(m.ends ? { buf, ends: m.ends } : { buf });
    });
    w.on('error', () => this.#fail());
    w.on('exit', () => {
      if (!this.#closed) this.#fail();
    });
    this.#worker = w;
    return w;
  }

  /** The worker is gone: what it held is formatted here, and so is everything after. */
  #fail(): void {
    if (this.#failed) return;
    this.#failed = true;
    this.counters.failures++;
    void this.#worker?.terminate();
    this.#worker = undefined;
    const held = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of held) {
      try {
        p.resolve(p.local());
      } catch (err) {
        p.reject(err as Error);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    const held = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of held) p.reject(sendFailed('syslog sink closed'));
    if (w) await w.terminate();
  }
}
