/**
 * The forwarding outbox: every event is committed to LMDB, with a sequence number and its uid,
 * before any sink reads it; each sink has a cursor (last acknowledged sequence number) that it
 * advances only after its receiver acknowledged a batch. Records every sink has passed are removed
 * by the sweep.
 *
 * Layout (one LMDB environment, `outboxDir`):
 *   events:  key [seq, appendedMs, bytes] → [uid, json]   (ordered-binary key, msgpack value)
 *   meta:    'cursor:<sink>' → seq, 'bytes' → stored bytes, 'dropped' / 'expired' → totals
 *   dead:    [sink, seq] → { uid, json, reason, atMs }      (dead letters, see sinks)
 * The appended time and size sit in the key so that the sweep (age bound, garbage collection) and
 * the byte accounting scan keys only, never decode values.
 *
 * Writes: append() is synchronous and only queues; one LMDB transaction per event-loop turn (or
 * every FLUSH_MAX_EVENTS events) commits the queued records together with the byte count, cursor
 * moves and removals. Sinks only see committed records (seq <= committedSeq). The durability of a
 * commit is `outboxSync` (docs/FORWARDING.md).
 *
 * Bounds: `maxBytes` (sum of serialized sizes) with policy drop-oldest (oldest records removed
 * even if unsent: `dropped`) or refuse-new (the new event is refused: `refused`); `maxAgeMs` (the
 * sweep removes records older than that: `expired`). Every removed-before-sent record is counted,
 * globally and per sink.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { open as lmdbOpen, type Database, type RootDatabase } from 'lmdb';
import { OutpostError } from '../errors.js';
import type { OutboxFullPolicy, OutboxSyncMode } from './config.js';

export interface OutboxRecord {
  seq: number;
  uid: string;
  appendedMs: number;
  bytes: number;
  json: string;
}

export interface OutboxOptions {
  path: string;
  maxBytes: number;
  maxAgeMs: number;
  fullPolicy: OutboxFullPolicy;
  sync: OutboxSyncMode;
  /** Structural logger (pino fits). */
  logger?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  now?: () => number;
}

type Key = [number, number, number];
type Value = [string, string];

/** Records queued before a commit is forced within the same turn. */
const FLUSH_MAX_EVENTS = 10_000;
/** Per-record overhead counted on top of the JSON and uid lengths (key, LMDB node header). */
const RECORD_OVERHEAD_BYTES = 32;

export interface CursorState {
  name: string;
  /** Last acknowledged sequence number. */
  acked: number;
  /** Last sequence number handed to the sink in an unacknowledged batch (>= acked). */
  inFlight: number;
  /** Records removed (drop-oldest or age) before this sink sent them. */
  dropped: number;
  expired: number;
}

const LMDB_MAGIC = 0xbeefc0de;
const LMDB_META_MAGIC_OFFSET = 24;
const LMDB_PAGE_BYTES = 4096;

/**
 * LMDB trusts its file: a data.mdb that is not an LMDB environment (overwritten, truncated, another
 * program's file) crashes the process inside the native code (SIGSEGV) instead of failing. So the
 * two meta pages are checked here first and a bad file becomes a coded error naming the path.
 * (Corruption deeper inside a valid environment is not detectable this way.)
 */
function checkMetaPages(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // new outbox
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const buf = Buffer.alloc(LMDB_PAGE_BYTES * 2);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const ok = n === buf.length &&
      buf.readUInt32LE(LMDB_META_MAGIC_OFFSET) === LMDB_MAGIC &&
      buf.readUInt32LE(LMDB_PAGE_BYTES + LMDB_META_MAGIC_OFFSET) === LMDB_MAGIC;
    if (!ok) throw new Error(`${file} is not an LMDB environment or its meta pages are corrupt (${size} bytes); move it away to start a new outbox`);
  } finally {
    closeSync(fd);
  }
}

export class Outbox {
  readonly path: string;
  readonly #opts: OutboxOptions;
  readonly #now: () => number;
  readonly #root: RootDatabase;
  readonly #events: Database<Value, Key>;
  readonly #meta: Database<unknown, string>;
  readonly dead: Database<unknown, [string, number]>;

  #headSeq = 0; // last assigned
  #committedSeq = 0; // last committed
  #tailSeq = 1; // first record not removed (or queued for removal)
  #bytes = 0; // stored + queued
  #count = 0;
  #pending: Array<{ key: Key; value: Value }> = [];
  #pendingRemovals: Key[] = [];
  #cursorsDirty = new Set<string>();
  #flushScheduled = false;
  #inflightCommits = new Set<Promise<unknown>>();
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly cursors = new Map<string, CursorState>();

  readonly counters = {
    appended: 0,
    refused: 0,
    dropped: 0,
    expired: 0,
    removedSent: 0,
    commits: 0,
    writeFailed: 0,
    droppedAfterClose: 0,
  };

  private constructor(opts: OutboxOptions, root: RootDatabase) {
    this.path = opts.path;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#root = root;
    this.#events = root.openDB<Value, Key>({ name: 'events' });
    this.#meta = root.openDB<unknown, string>({ name: 'meta' });
    this.dead = root.openDB<unknown, [string, number]>({ name: 'dead' });
    // Rebuild head, tail, count and bytes from the keys (cheap: no value decoding).
    let first: number | undefined;
    let last = 0;
    let bytes = 0;
    let count = 0;
    for (const key of this.#events.getKeys()) {
      const k = key as Key;
      if (first === undefined) first = k[0];
      last = k[0];
      bytes += k[2];
      count++;
    }
    const metaHead = Number(this.#meta.get('head') ?? 0);
    this.#headSeq = Math.max(last, metaHead);
    this.#committedSeq = this.#headSeq;
    this.#tailSeq = first ?? this.#headSeq + 1;
    this.#bytes = bytes;
    this.#count = count;
    this.counters.dropped = Number(this.#meta.get('dropped') ?? 0);
    this.counters.expired = Number(this.#meta.get('expired') ?? 0);
  }

  /** Open (creating) the outbox. Throws FORWARD_OUTBOX_OPEN_FAILED naming the path. */
  static open(opts: OutboxOptions): Outbox {
    try {
      mkdirSync(opts.path, { recursive: true });
      checkMetaPages(join(opts.path, 'data.mdb'));
      const root = lmdbOpen({
        path: opts.path,
        compression: false,
        noSync: opts.sync === 'none',
        noMetaSync: opts.sync === 'no-meta-sync',
        maxDbs: 8,
      });
      try {
        return new Outbox(opts, root);
      } catch (err) {
        void root.close();
        throw err;
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new OutpostError('FORWARD_OUTBOX_OPEN_FAILED', { path: opts.path, reason }, { details: { path: opts.path, reason }, cause: err });
    }
  }

  get headSeq(): number { return this.#headSeq; }
  get committedSeq(): number { return this.#committedSeq; }
  get tailSeq(): number { return this.#tailSeq; }
  get bytes(): number { return this.#bytes; }
  get count(): number { return this.#count; }
  get closed(): boolean { return this.#closed; }

  /** Register a sink's cursor (persisted). A new sink starts with what the outbox still holds. */
  cursor(name: string): CursorState {
    let c = this.cursors.get(name);
    if (c) return c;
    const stored = this.#meta.get(`cursor:${name}`);
    const acked = typeof stored === 'number' ? stored : this.#tailSeq - 1;
    c = { name, acked, inFlight: acked, dropped: 0, expired: 0 };
    this.cursors.set(name, c);
    if (typeof stored !== 'number') this.#markCursor(name);
    return c;
  }

  /** Serialize and queue one event; false if refused (refuse-new policy, or outbox closed). */
  append(event: object): boolean {
    const uid = (event as { metadata?: { uid?: unknown } }).metadata?.uid;
    return this.appendJson(typeof uid === 'string' ? uid : '', JSON.stringify(event));
  }

  appendJson(uid: string, json: string): boolean {
    if (this.#closed) {
      this.counters.droppedAfterClose++;
      return false;
    }
    const size = Buffer.byteLength(json) + uid.length + RECORD_OVERHEAD_BYTES;
    if (this.#bytes + size > this.#opts.maxBytes) {
      this.#collectSent();
      if (this.#bytes + size > this.#opts.maxBytes) {
        if (this.#opts.fullPolicy === 'refuse-new') {
          this.counters.refused++;
          return false;
        }
        this.#dropOldest(this.#bytes + size - this.#opts.maxBytes);
      }
    }
    const seq = ++this.#headSeq;
    this.#pending.push({ key: [seq, this.#now(), size], value: [uid, json] });
    this.#bytes += size;
    this.#count++;
    this.counters.appended++;
    this.#scheduleFlush();
    return true;
  }

  /** Committed records after `afterSeq`, at most maxEvents and (beyond the first) maxBytes. */
  read(afterSeq: number, maxEvents: number, maxBytes = Infinity): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    const start = Math.max(afterSeq + 1, this.#tailSeq);
    if (start > this.#committedSeq) return out;
    let bytes = 0;
    for (const { key, value } of this.#events.getRange({ start: [start], end: [this.#committedSeq + 1], limit: maxEvents })) {
      const k = key as Key;
      if (k[0] < this.#tailSeq) continue; // queued for removal
      if (out.length > 0 && bytes + k[2] > maxBytes) break;
      bytes += k[2];
      const v = value as Value;
      out.push({ seq: k[0], appendedMs: k[1], bytes: k[2], uid: v[0], json: v[1] });
    }
    return out;
  }

  /** Appended time of the first committed record after `afterSeq` (undefined if none). */
  oldestAfter(afterSeq: number): number | undefined {
    const start = Math.max(afterSeq + 1, this.#tailSeq);
    if (start > this.#committedSeq) return undefined;
    for (const key of this.#events.getKeys({ start: [start], limit: 1 })) return (key as Key)[1];
    return undefined;
  }

  /** Mark records up to `seq` handed to a sink (not yet acknowledged). */
  markInFlight(name: string, seq: number): void {
    const c = this.cursor(name);
    c.inFlight = Math.max(c.inFlight, seq);
  }

  /** The receiver acknowledged everything up to `seq`. */
  ack(name: string, seq: number): void {
    const c = this.cursor(name);
    if (seq > c.acked) {
      c.acked = seq;
      c.inFlight = Math.max(c.inFlight, seq);
      this.#markCursor(name);
    }
  }

  /** Resolves when records after `afterSeq` are committed, or when `signal` aborts / timeoutMs. */
  waitForData(afterSeq: number, signal: AbortSignal, timeoutMs = 1000): Promise<void> {
    if (this.#committedSeq > afterSeq || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.push(done);
    });
  }

  /** Apply the age bound and remove records every registered sink has acknowledged. */
  sweep(): void {
    if (this.#closed) return;
    this.#collectSent();
    const limit = this.#now() - this.#opts.maxAgeMs;
    const removed: Key[] = [];
    for (const key of this.#events.getKeys({ start: [this.#tailSeq], end: [this.#committedSeq + 1] })) {
      const k = key as Key;
      if (k[1] >= limit) break;
      removed.push(k);
    }
    if (removed.length > 0) this.#removeHead(removed, 'expired');
  }

  /** Commit everything queued; resolves when durable (per outboxSync). */
  async flush(): Promise<void> {
    this.#doFlush();
    await Promise.allSettled([...this.#inflightCommits]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w();
    await this.#root.close();
  }

  stats(): Record<string, number> {
    return {
      'forward.outbox.depth': this.#count,
      'forward.outbox.bytes': this.#bytes,
      'forward.outbox.head_seq': this.#headSeq,
      'forward.outbox.committed_seq': this.#committedSeq,
      'forward.outbox.appended': this.counters.appended,
      'forward.outbox.refused': this.counters.refused,
      'forward.outbox.dropped': this.counters.dropped,
      'forward.outbox.expired': this.counters.expired,
      'forward.outbox.commits': this.counters.commits,
      'forward.outbox.write_failed': this.counters.writeFailed,
      'forward.outbox.dropped_after_close': this.counters.droppedAfterClose,
    };
  }

  // --- internals ------------------------------------------------------------------------------

  #minAcked(): number {
    if (this.cursors.size === 0) return this.#committedSeq; // no sink needs anything
    let m = Infinity;
    for (const c of this.cursors.values()) m = Math.min(m, c.acked);
    return Math.min(m, this.#committedSeq);
  }

  /** Remove (without counting as loss) committed records every sink acknowledged. */
  #collectSent(): void {
    const upTo = this.#minAcked();
    if (upTo < this.#tailSeq) return;
    const keys: Key[] = [];
    for (const key of this.#events.getKeys({ start: [this.#tailSeq], end: [upTo + 1] })) keys.push(key as Key);
    if (keys.length > 0) this.#removeHead(keys, 'sent');
    else this.#tailSeq = Math.max(this.#tailSeq, upTo + 1);
  }

  /** Drop the oldest records (committed first, then queued) until `need` bytes are freed. */
  #dropOldest(need: number): void {
    const keys: Key[] = [];
    let freed = 0;
    for (const key of this.#events.getKeys({ start: [this.#tailSeq], end: [this.#committedSeq + 1] })) {
      const k = key as Key;
      keys.push(k);
      freed += k[2];
      if (freed >= need) break;
    }
    if (keys.length > 0) this.#removeHead(keys, 'dropped');
    // Still short (outbox smaller than one commit's worth): drop from the uncommitted queue.
    while (freed < need && this.#pending.length > 0) {
      const p = this.#pending.shift()!;
      freed += p.key[2];
      this.#bytes -= p.key[2];
      this.#count--;
      // Never committed, so no sink has seen it; its sequence number simply stays unused.
      if (this.cursors.size > 0) {
        this.counters.dropped++;
        for (const c of this.cursors.values()) c.dropped++;
      }
    }
  }

  /** Queue removal of consecutive head records (keys ascending from tailSeq). */
  #removeHead(keys: Key[], why: 'sent' | 'dropped' | 'expired'): void {
    const last = keys[keys.length - 1];
    if (!last) return;
    const firstSeq = keys[0]![0];
    for (const k of keys) {
      this.#bytes -= k[2];
      this.#pendingRemovals.push(k);
    }
    this.#count -= keys.length;
    this.#tailSeq = last[0] + 1;
    if (why === 'sent') this.counters.removedSent += keys.length;
    else this.#countLoss(firstSeq, last[0], keys.length, why);
    this.#scheduleFlush();
  }

  /** Records [from, to] removed unsent: count globally (those some sink had not acked) and per sink. */
  #countLoss(from: number, to: number, n: number, why: 'dropped' | 'expired'): void {
    const minAcked = this.#minAcked();
    // Records at or below every cursor were sent everywhere: not a loss.
    const lost = this.cursors.size === 0 ? 0 : Math.max(0, Math.min(n, to - Math.max(from - 1, minAcked)));
    this.counters[why] += lost;
    for (const c of this.cursors.values()) {
      const past = Math.max(c.inFlight, from - 1);
      if (to > past) c[why] += to - past;
      if (c.acked < to) {
        c.acked = to;
        c.inFlight = Math.max(c.inFlight, to);
        this.#markCursor(c.name);
      }
    }
  }

  #markCursor(name: string): void {
    this.#cursorsDirty.add(name);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#pending.length >= FLUSH_MAX_EVENTS) {
      this.#doFlush();
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#doFlush());
  }

  #doFlush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    const puts = this.#pending;
    const removals = this.#pendingRemovals;
    const cursors = [...this.#cursorsDirty].map((n) => [n, this.cursors.get(n)?.acked ?? 0] as const);
    if (puts.length === 0 && removals.length === 0 && cursors.length === 0) return;
    this.#pending = [];
    this.#pendingRemovals = [];
    this.#cursorsDirty.clear();
    const head = this.#headSeq;
    const lastPut = puts[puts.length - 1]?.key[0];
    const bytes = this.#bytes;
    const { dropped, expired } = this.counters;
    const commit = this.#root.transaction(() => {
      for (const p of puts) this.#events.put(p.key, p.value);
      for (const k of removals) this.#events.remove(k);
      for (const [n, seq] of cursors) this.#meta.put(`cursor:${n}`, seq);
      this.#meta.put('head', head);
      this.#meta.put('bytes', bytes);
      this.#meta.put('dropped', dropped);
      this.#meta.put('expired', expired);
    });
    const tracked: Promise<unknown> = commit.then(
      () => {
        this.counters.commits++;
        if (lastPut !== undefined && lastPut > this.#committedSeq) this.#committedSeq = lastPut;
        for (const w of this.#waiters.splice(0)) w();
      },
      (err: unknown) => {
        // Nothing is discarded silently: the events of the failed commit are counted and logged
        // with the path; they are not retried (the disk is full or the store is broken).
        this.counters.writeFailed += puts.length;
        if (lastPut !== undefined && lastPut > this.#committedSeq) this.#committedSeq = lastPut;
        const reason = err instanceof Error ? err.message : String(err);
        const e = new OutpostError('FORWARD_OUTBOX_WRITE_FAILED', { path: this.path, reason }, { details: { path: this.path, reason, events: puts.length }, cause: err });
        this.#opts.logger?.error({ err: e, code: e.code, path: this.path, events: puts.length }, e.message);
        for (const w of this.#waiters.splice(0)) w();
      },
    );
    this.#inflightCommits.add(tracked);
    void tracked.finally(() => this.#inflightCommits.delete(tracked));
  }
}
