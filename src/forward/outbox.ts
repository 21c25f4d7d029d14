/**
 * The forwarding outbox: every event is committed to LMDB, with a sequence number and its uid,
 * before any sink reads it; each sink has a cursor (last acknowledged sequence number) that it
 * advances only after its receiver acknowledged a batch. Records every sink has passed are removed
 * with the acknowledgement that passes them (and by the sweep).
 *
 * Layout (one LMDB environment, `outboxDir`):
 *   blocks:  key [lastSeq, firstSeq, firstMs, maxMs, bytes] → one block of consecutive events
 *            (ordered-binary key, binary value; see encodeBlock)
 *   meta:    'cursor:<sink>' → seq, 'head' / 'tail' → seq, 'bytes' → stored bytes,
 *            'dropped' / 'expired' → totals
 *   dead:    [sink, seq] → { uid, json, reason, atMs }      (dead letters, see sinks)
 * A commit stores its events as blocks of up to BLOCK_MAX_EVENTS, each compressed once
 * (DEFLATE, RFC 1951, level 1) when larger than BLOCK_COMPRESS_MIN_BYTES: similar JSON lines
 * compress far better together than one by one, so the file and the pages of LMDB's memory map
 * that writing and reading the backlog touch (RssFile) shrink by that ratio, and one put / one get
 * per block replaces one per event. Records are still numbered, read, acknowledged, dropped and
 * expired one by one: `tail` (the first record not removed) may point inside the oldest block,
 * whose records below it are skipped; a block is deleted in the commit that moves `tail` past its
 * last record. The key carries the block's sequence range, first and largest appended time and
 * stored bytes so that the sweep and the byte accounting decode a block only when a bound falls
 * inside it. (Before blocks, 'events' held one record per event; open() converts such a store.)
 *
 * Writes: append() is synchronous and only queues; one LMDB transaction per event-loop turn (or
 * every FLUSH_MAX_EVENTS events) commits the queued records together with the byte count, cursor
 * moves and removals. Sinks only see committed records (seq <= committedSeq). The durability of a
 * commit is `outboxSync` (docs/FORWARDING.md).
 *
 * Crash window: a sequence number is given to an event when its commit is started, not when it
 * is queued, and nothing outside the outbox sees an event before its commit completed (sinks,
 * onCommit listeners such as the daemon's stdout, the `committed` counter). So a kill -9 loses
 * only events nobody was shown, and no sequence number that anyone saw is given again after a
 * restart (`head` is stored with every commit). How long an accepted event stays uncommitted is
 * kept under `maxUncommittedMs`: a commit starts at the end of each event-loop turn, and within a
 * long turn as soon as the oldest queued event is half that old. Commits that still complete later
 * (a store slower than the event rate, a busy machine) are measured and reported, not enforced by
 * dropping events: each event committed later than the bound is counted (`late_committed`), the
 * largest delay is `uncommitted_max_ms`, and FORWARD_OUTBOX_COMMIT_SLOW is logged once per episode.
 * (Refusing new events instead was tried: on a loaded machine it shed events that the store would
 * have taken a few ms later. Blocking the producer is not possible: lmdb-js runs the transaction's
 * callback on this thread, so a commit completes only between event-loop turns.)
 *
 * Free disk space: with `minFreeBytes`, the free space of the outbox's file system is read (statfs)
 * at least every DISK_CHECK_BYTES appended or DISK_CHECK_MS; below the bound new events are
 * refused and counted (`refused_disk_low`, shed newest: what is stored stays and is sent) until
 * space returns, so the outbox never fills the disk.
 *
 * Write failures (disk full): the events of a failed commit are held in memory and retried (with
 * backoff) until a commit succeeds; committedSeq stops before the first held event, so no sink
 * skips past it. While the store cannot be written, append() refuses new events and counts them
 * (`write_failed`) instead of holding an unbounded queue; removals and cursor moves still commit on
 * their own (they are what frees space inside the file). Held events still unwritten at close are
 * counted in `write_failed` too. So an event append() accepted is stored or counted, never lost
 * silently.
 *
 * Bounds: `maxBytes` (sum of serialized sizes) with policy drop-oldest (oldest records removed
 * even if unsent: `dropped`) or refuse-new (the new event is refused: `refused`); `maxAgeMs` (the
 * sweep removes records older than that: `expired`). Every removed-before-sent record is counted,
 * globally and per sink.
 */
import { closeSync, fstatSync, openSync, readSync, statfsSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { prepareStoreDir, restrictStoreFiles } from '../privileges.js';
import { join } from 'node:path';
import { open as lmdbOpen, type Database, type RootDatabase } from 'lmdb';
import { OutpostError } from '../errors.js';
import type { OutboxFullPolicy, OutboxSyncMode } from './settings.js';
import { writeFailureReason } from './write-failure.js';
import { BufferPool } from './buffer-pool.js';
import { inflateRawInto } from './inflate-into.js';

export interface OutboxRecord {
  seq: number;
  uid: string;
  appendedMs: number;
  bytes: number;
  json: string;
  /**
   * Where the outbox has the JSON's UTF-8 bytes (records read from a block), their length, and
   * copyJson() copies them to `target` at `offset` (returns the length): sinks that write bytes
   * (HTTPS NDJSON, NATS frames, the syslog worker's input) copy them instead of decoding and
   * encoding `json` again (./record-bytes.ts).
   */
  readonly jsonBytes?: number;
  copyJson?(target: Buffer, offset: number): number;
}

/**
 * A record read from a block: uid and json are decoded from the block's bytes on first use only,
 * and the record holds no view object of its own (a batch's records live until the receiver
 * acknowledged it, long enough to reach V8's old generation: each object per record counts).
 */
class BlockRecord implements OutboxRecord {
  #uid: string | undefined;
  #json: string | undefined;
  /** The decoded block whose buffer holds this record's bytes (pinned until Outbox.release()). */
  block: DecodedBlock | undefined;
  readonly #uidStart: number;
  readonly #jsonStart: number;
  constructor(
    readonly seq: number,
    readonly appendedMs: number,
    readonly bytes: number,
    readonly jsonBytes: number,
    block: DecodedBlock,
    uidStart: number,
    jsonStart: number,
  ) {
    this.block = block;
    this.#uidStart = uidStart;
    this.#jsonStart = jsonStart;
  }
  /** The block's buffer; reading a record after its batch was released is a bug, never stale bytes. */
  #buf(): Buffer {
    const b = this.block;
    if (b === undefined || b.recycled) throw new OutpostError('INTERNAL', { reason: `outbox record ${this.seq} read after its batch was released` });
    return b.buf;
  }
  get uid(): string {
    return (this.#uid ??= this.#buf().toString('utf8', this.#uidStart, this.#jsonStart));
  }
  get json(): string {
    return (this.#json ??= this.#buf().toString('utf8', this.#jsonStart, this.#jsonStart + this.jsonBytes));
  }
  copyJson(target: Buffer, offset: number): number {
    return this.#buf().copy(target, offset, this.#jsonStart, this.#jsonStart + this.jsonBytes);
  }
}

export interface OutboxOptions {
  path: string;
  maxBytes: number;
  maxAgeMs: number;
  fullPolicy: OutboxFullPolicy;
  sync: OutboxSyncMode;
  /** Longest time an accepted event may stay uncommitted before new events are refused (default 100). */
  maxUncommittedMs?: number;
  /** Free space to keep on the outbox's file system; 0: no check (default). */
  minFreeBytes?: number;
  /** Free bytes of the file system holding `path` (tests replace it; default statfs). */
  freeBytes?: (path: string) => number;
  /** Called with each commit's records (in sequence order) once the commit completed. */
  onCommit?: (records: readonly CommittedRecord[]) => void;
  /** Structural logger (pino fits). */
  logger?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  now?: () => number;
}

/** Key of a block: [lastSeq, firstSeq, firstMs, maxMs, bytes] (the block holding seq s is the first key >= [s]). */
type BlockKey = [number, number, number, number, number];
/** Key and value of the per-event layout before blocks (converted at open). */
type LegacyKey = [number, number, number];
type LegacyValue = [string, string];
/** An accepted event not yet encoded into a block. */
interface Queued { ms: number; size: number; uid: string; json: string; uidBytes: number; jsonBytes: number }
/**
 * Accepted events encoded into a block as soon as a block's worth is queued, so that their JSON
 * strings die young (kept until the end of a producer's long turn, they outlived two young
 * collections and filled V8's old generation: bench:forward HTTPS peak heap 135 -> 58 MB). Its
 * sequence numbers are given when its commit starts.
 */
interface Unnumbered { value: Buffer; n: number; ms: number[]; bytes: number; maxMs: number }
/** A block numbered for its commit (kept, in sequence order, while a failed commit is retried). */
interface Numbered { key: BlockKey; value: Buffer; ms: number[] }

/** Most events in one block; a commit of more is stored as several blocks. */
const BLOCK_MAX_EVENTS = 1000;
/** A block's uncompressed size at which a commit starts a new block. */
const BLOCK_MAX_BYTES = 1 << 20;
/** Blocks smaller than this are stored uncompressed (a lone event gains little, and costs zlib's setup). */
const BLOCK_COMPRESS_MIN_BYTES = 4096;
/** First byte of a stored block: how the rest is encoded (BLOCK_DEFLATE: u32 uncompressed length, then RFC 1951 data). */
const BLOCK_RAW = 0;
const BLOCK_DEFLATE = 1;
const DEFLATE_CHUNK_BYTES = 64 << 10;
/** Bytes of a block's header per event: appendedMs (f64), size, uid bytes, json bytes (u32 each). */
const EVENT_HEAD_BYTES = 20;
/** Decoded blocks kept for reads (sinks read batches that start inside a block; several sinks). */
const BLOCK_CACHE = 4;

/**
 * A block decoded: `buf` is the uncompressed block,
 *   u32 n | n × f64 appendedMs | n × u32 size | n × u32 uid bytes | n × u32 json bytes | (uid json) × n
 * (little-endian); `starts` the offset of each record's uid.
 */
class DecodedBlock {
  readonly first: number;
  readonly n: number;
  readonly buf: Buffer;
  readonly starts: Uint32Array;
  /** The lengths in the header add up to the buffer's size (false: a damaged block). */
  readonly whole: boolean;
  /** Records read from this block and not yet released (Outbox.read / Outbox.release). */
  pins = 0;
  /** Out of the outbox's cache: its buffer is reused once no record is pinned. */
  evicted = false;
  /** Its buffer went back to the pool (reading one of its records now throws). */
  recycled = false;
  constructor(first: number, buf: Buffer) {
    this.first = first;
    this.buf = buf;
    // A header that does not fit the buffer (a damaged block) reads as no events, not whole.
    const declared = buf.length >= 4 ? buf.readUInt32LE(0) : 0;
    const n = (this.n = 4 + declared * EVENT_HEAD_BYTES <= buf.length ? declared : 0);
    this.starts = new Uint32Array(n);
    let o = 4 + n * EVENT_HEAD_BYTES;
    for (let i = 0; i < n; i++) {
      this.starts[i] = o;
      o += buf.readUInt32LE(4 + n * 12 + i * 4) + buf.readUInt32LE(4 + n * 16 + i * 4);
    }
    this.whole = n === declared && o === buf.length;
  }
  ms(i: number): number { return this.buf.readDoubleLE(4 + i * 8); }
  size(i: number): number { return this.buf.readUInt32LE(4 + this.n * 8 + i * 4); }
  /** Record `i` of the block, numbered `seq`. */
  record(seq: number, i: number): BlockRecord {
    const uidStart = this.starts[i]!;
    const jsonStart = uidStart + this.buf.readUInt32LE(4 + this.n * 12 + i * 4);
    return new BlockRecord(seq, this.ms(i), this.size(i), this.buf.readUInt32LE(4 + this.n * 16 + i * 4), this, uidStart, jsonStart);
  }
}

/** Where blocks are encoded before compression (grown to the largest block). */
let scratch = Buffer.allocUnsafe(0);

/** One block of consecutive events, as stored (see DecodedBlock for the layout before compression). */
function encodeBlock(puts: readonly Queued[], from: number, to: number): Unnumbered {
  const n = to - from;
  let data = 0;
  let bytes = 0;
  let maxMs = -Infinity;
  for (let i = from; i < to; i++) {
    const p = puts[i]!;
    data += p.uidBytes + p.jsonBytes;
    bytes += p.size;
    if (p.ms > maxMs) maxMs = p.ms;
  }
  const head = 4 + n * EVENT_HEAD_BYTES;
  // A small block is written straight into its stored value (after the BLOCK_RAW byte); a larger
  // one into a scratch buffer, reused, that is compressed into the value.
  const small = head + data < BLOCK_COMPRESS_MIN_BYTES;
  const stored = small ? Buffer.allocUnsafe(1 + head + data) : undefined;
  if (!small && scratch.length < head + data) scratch = Buffer.allocUnsafe(Math.max(head + data, scratch.length * 2));
  const raw = stored ? stored.subarray(1) : scratch.subarray(0, head + data);
  raw.writeUInt32LE(n, 0);
  let o = head;
  for (let i = 0; i < n; i++) {
    const p = puts[from + i]!;
    raw.writeDoubleLE(p.ms, 4 + i * 8);
    raw.writeUInt32LE(p.size, 4 + n * 8 + i * 4);
    raw.writeUInt32LE(p.uidBytes, 4 + n * 12 + i * 4);
    raw.writeUInt32LE(p.jsonBytes, 4 + n * 16 + i * 4);
    if (p.uidBytes > 0) o += raw.write(p.uid, o, 'utf8');
    o += raw.write(p.json, o, 'utf8');
  }
  const ms = new Array<number>(n);
  for (let i = 0; i < n; i++) ms[i] = puts[from + i]!.ms;
  if (stored) {
    stored[0] = BLOCK_RAW;
    return { value: stored, n, ms, bytes, maxMs };
  }
  // One output chunk in the common case (zlib's default is 16 KiB chunks concatenated after).
  const z = deflateRawSync(raw, { level: 1, chunkSize: DEFLATE_CHUNK_BYTES });
  const value = Buffer.allocUnsafe(5 + z.length);
  value[0] = BLOCK_DEFLATE;
  value.writeUInt32LE(raw.length, 1); // inflated into one buffer of that size (decodeValue)
  z.copy(value, 5);
  return { value, n, ms, bytes, maxMs };
}

/**
 * A stored block's value, uncompressed, in a buffer from `pool` where one is given (given back when
 * the block leaves the cache and no record read from it is still in a sink's hands: Outbox.release);
 * a string says what is wrong with a damaged value.
 */
function decodeValue(v: Buffer, pool?: BufferPool): Buffer | string {
  const take = (n: number) => (pool ? pool.take(n) : Buffer.allocUnsafe(n));
  if (v[0] !== BLOCK_DEFLATE) {
    const raw = take(v.length - 1);
    v.copy(raw, 0, 1);
    return raw;
  }
  // The stored length, +1: zlib must see room left to report the end.
  const len = v.readUInt32LE(1);
  const out = take(len + 1);
  const r = inflateRawInto(v.subarray(5), out);
  if (typeof r === 'string') pool?.give(out);
  return typeof r === 'string' ? r : out.subarray(0, r);
}

/** Events in blocks of at most BLOCK_MAX_EVENTS events and (beyond the first event) BLOCK_MAX_BYTES. */
function encodeBlocks(puts: readonly Queued[]): Unnumbered[] {
  const out: Unnumbered[] = [];
  let from = 0;
  let bytes = 0;
  for (let i = 0; i < puts.length; i++) {
    const b = puts[i]!.uidBytes + puts[i]!.jsonBytes + EVENT_HEAD_BYTES;
    if (i > from && (i - from >= BLOCK_MAX_EVENTS || bytes + b > BLOCK_MAX_BYTES)) {
      out.push(encodeBlock(puts, from, i));
      from = i;
      bytes = 0;
    }
    bytes += b;
  }
  if (from < puts.length) out.push(encodeBlock(puts, from, puts.length));
  return out;
}

/** A record of a completed commit, as onCommit listeners get it. */
export interface CommittedRecord { seq: number; uid: string; json: string }

/** Default of maxUncommittedMs. */
export const DEFAULT_MAX_UNCOMMITTED_MS = 100;
/** Free space is read again after this many bytes were appended, or after DISK_CHECK_MS. */
const DISK_CHECK_BYTES = 256 << 10;
const DISK_CHECK_MS = 250;

function statfsFreeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}

/** Records queued before a commit is forced within the same turn. */
const FLUSH_MAX_EVENTS = 10_000;
/** Per-record overhead counted on top of the JSON and uid lengths (key, LMDB node header). */
const RECORD_OVERHEAD_BYTES = 32;
/** Retry of held events after a failed commit: first delay, doubled per failure up to the max. */
const WRITE_RETRY_INITIAL_MS = 250;
const WRITE_RETRY_MAX_MS = 5000;
/** Longest wait for in-flight commits at close while the store is failing. */
const CLOSE_WAIT_MS = 10_000;

/** True if `p` settled within `ms`. */
async function withinMs(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.then(() => true, () => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}

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
    if (!ok) {
      // Caught by Outbox.open, which reports FORWARD_OUTBOX_OPEN_FAILED with this reason.
      const reason = `${file} is not an LMDB environment or its meta pages are corrupt (${size} bytes); move it away to start a new outbox`;
      throw new OutpostError('FORWARD_OUTBOX_OPEN_FAILED', { path: file, reason }, { message: reason });
    }
  } finally {
    closeSync(fd);
  }
}

export class Outbox {
  readonly path: string;
  readonly #opts: OutboxOptions;
  readonly #now: () => number;
  readonly #root: RootDatabase;
  readonly #blocks: Database<Buffer, BlockKey>;
  /** Decoded blocks by last sequence number, least recently used first. */
  readonly #decoded = new Map<number, DecodedBlock>();
  /**
   * Buffers of decoded blocks, reused: a block (about 1 MB) is read while a sink's batches are in
   * flight, long enough to be promoted out of V8's young generation, so decoded per read they were
   * garbage that only a full collection freed (../buffer-pool.ts).
   */
  readonly #blockBuffers = new BufferPool(BLOCK_CACHE + 4);
  readonly #meta: Database<unknown, string>;
  readonly dead: Database<unknown, [string, number]>;

  #headSeq = 0; // last assigned
  #committedSeq = 0; // last committed
  #tailSeq = 1; // first record not removed (or queued for removal)
  #bytes = 0; // stored + queued
  #count = 0;
  /** Accepted events not yet in a block (fewer than a block's worth). */
  #pending: Queued[] = [];
  /** Their encoded size in a block (see encodeBlocks). */
  #pendingBlockBytes = 0;
  /** Blocks of accepted events waiting for their commit, oldest first (all older than #pending). */
  #encoded: Unnumbered[] = [];
  /** Events in #pending and #encoded. */
  #queued = 0;
  /** Accepted events not yet committed (queued, in a commit in progress, or held). */
  #uncommitted = 0;
  /** A commit completed later than maxUncommittedMs after an event's append (logged once per episode). */
  #lateEpisode = false;
  readonly #maxUncommittedMs: number;
  readonly #minFreeBytes: number;
  readonly #freeBytes: (path: string) => number;
  #diskCheckedMs = -Infinity;
  #bytesSinceDiskCheck = 0;
  #diskLow = false;
  /** Free bytes at the last check. */
  #freeAtCheck = NaN;
  /** Bytes appended whose commit has not completed: not yet on disk, so not in statfs's figure. */
  #unstoredBytes = 0;
  readonly #listeners: Array<(records: readonly CommittedRecord[]) => void> = [];
  /** Blocks of failed commits, in sequence order, until a retry stores them. */
  #held: Numbered[] = [];
  /** Events in #held. */
  #heldEvents = 0;
  /** Highest sequence number a commit stored (may be past a held one). */
  #storedSeq = 0;
  /** Set while commits fail; cleared by the first commit that stores the held events. */
  #writeError: OutpostError | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = WRITE_RETRY_INITIAL_MS;
  #retrying = false;
  /** Blocks whose every record is below tailSeq, to delete in the next commit. */
  #pendingRemovals: BlockKey[] = [];
  /** tailSeq moved since the last commit (stored with the next one). */
  #tailDirty = false;
  #cursorsDirty = new Set<string>();
  /** Resolved when the next commit (carrying the cursor moves made before it) settles. */
  #cursorWaiters: Array<() => void> = [];
  #flushScheduled = false;
  #inflightCommits = new Set<Promise<unknown>>();
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly cursors = new Map<string, CursorState>();

  readonly counters = {
    /** Accepted by append() (queued); `committed` says how many of them are stored. */
    appended: 0,
    committed: 0,
    refused: 0,
    /** Events whose commit completed more than maxUncommittedMs after their append. */
    lateCommitted: 0,
    refusedDiskLow: 0,
    /** Largest time from append to completed commit of any event, in ms (measured). */
    uncommittedMaxMs: 0,
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
    this.#maxUncommittedMs = opts.maxUncommittedMs ?? DEFAULT_MAX_UNCOMMITTED_MS;
    this.#minFreeBytes = opts.minFreeBytes ?? 0;
    this.#freeBytes = opts.freeBytes ?? statfsFreeBytes;
    if (opts.onCommit) this.#listeners.push(opts.onCommit);
    this.#root = root;
    this.#blocks = root.openDB<Buffer, BlockKey>({ name: 'blocks', encoding: 'binary' });
    this.#meta = root.openDB<unknown, string>({ name: 'meta' });
    this.dead = root.openDB<unknown, [string, number]>({ name: 'dead' });
    this.#convertLegacy(root);
    // Rebuild head, tail, count and bytes from the keys (no value decoding, except the oldest
    // block when the stored tail points inside it).
    let first: BlockKey | undefined;
    let last = 0;
    let bytes = 0;
    let count = 0;
    for (const key of this.#blocks.getKeys()) {
      const k = key as BlockKey;
      first ??= k;
      last = k[0];
      bytes += k[4];
      count += k[0] - k[1] + 1;
    }
    const metaHead = Number(this.#meta.get('head') ?? 0);
    this.#headSeq = Math.max(last, metaHead);
    this.#committedSeq = this.#headSeq;
    this.#storedSeq = this.#headSeq;
    this.#tailSeq = first?.[1] ?? this.#headSeq + 1;
    const metaTail = Number(this.#meta.get('tail') ?? 0);
    if (first && metaTail > first[1]) {
      // The tail was inside the oldest block (every block wholly below it was deleted in the same
      // commit that stored it): its records below the tail are gone.
      const upTo = Math.min(metaTail - 1, first[0]);
      bytes -= this.#bytesOf(first, first[1], upTo);
      count -= upTo - first[1] + 1;
      this.#tailSeq = upTo + 1;
    }
    this.#bytes = bytes;
    this.#count = count;
    this.counters.dropped = Number(this.#meta.get('dropped') ?? 0);
    this.counters.expired = Number(this.#meta.get('expired') ?? 0);
  }

  /** Open (creating) the outbox. Throws FORWARD_OUTBOX_OPEN_FAILED naming the path. */
  static open(opts: OutboxOptions): Outbox {
    try {
      // Queued events carry user names and addresses: owner-only whatever the umask.
      prepareStoreDir(opts.path);
      checkMetaPages(join(opts.path, 'data.mdb'));
      const root = lmdbOpen({
        path: opts.path,
        compression: false,
        noSync: opts.sync === 'none',
        noMetaSync: opts.sync === 'no-meta-sync',
        maxDbs: 8,
        // Off: lmdb-js's per-turn batch makes its own commit promise that nobody can observe, so a
        // failed commit (disk full) became an unhandled rejection that killed the process. The
        // outbox already batches one transaction per turn itself.
        eventTurnBatching: false,
      });
      restrictStoreFiles(opts.path);
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
  /** The current write failure (FORWARD_OUTBOX_WRITE_FAILED), undefined while commits succeed. */
  get writeError(): OutpostError | undefined { return this.#writeError; }

  /** Accepted events not yet committed (queued, in a commit in progress, or held after a failure). */
  get uncommitted(): number { return this.#uncommitted; }

  /** Call `fn` with each commit's records, in sequence order, once the commit completed. */
  onCommit(fn: (records: readonly CommittedRecord[]) => void): void {
    this.#listeners.push(fn);
  }

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
    if (this.#writeError) {
      // Not stored: counted (and the failure was logged once, naming the path).
      this.counters.writeFailed++;
      return false;
    }
    const now = this.#now();
    if (this.#minFreeBytes > 0 && (this.#bytesSinceDiskCheck >= DISK_CHECK_BYTES || now - this.#diskCheckedMs >= DISK_CHECK_MS || this.#diskLow)) {
      if (this.#diskIsLow(now)) {
        this.counters.refusedDiskLow++;
        return false;
      }
    }
    const jsonBytes = Buffer.byteLength(json);
    const size = jsonBytes + uid.length + RECORD_OVERHEAD_BYTES;
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
    // The sequence number is given when the commit starts (#doFlush): never to an event that a
    // crash may lose before anyone saw it.
    const uidBytes = uid.length === 0 ? 0 : Buffer.byteLength(uid);
    this.#pending.push({ ms: now, size, uid, json, uidBytes, jsonBytes });
    this.#queued++;
    this.#pendingBlockBytes += uidBytes + jsonBytes + EVENT_HEAD_BYTES;
    if (this.#pending.length >= BLOCK_MAX_EVENTS || this.#pendingBlockBytes >= BLOCK_MAX_BYTES) this.#encodePending();
    this.#bytes += size;
    this.#bytesSinceDiskCheck += size;
    this.#unstoredBytes += size;
    this.#count++;
    this.#uncommitted++;
    this.counters.appended++;
    this.#scheduleFlush();
    return true;
  }

  /** Free space below minFreeBytes (statfs, read again every DISK_CHECK_BYTES / DISK_CHECK_MS). */
  #diskIsLow(now: number): boolean {
    if (this.#diskLow && now - this.#diskCheckedMs < DISK_CHECK_MS) return true;
    this.#diskCheckedMs = now;
    this.#bytesSinceDiskCheck = 0;
    let free: number;
    try {
      free = this.#freeBytes(this.path);
    } catch {
      return this.#diskLow; // statfs failed: keep the last verdict
    }
    this.#freeAtCheck = free;
    // Events accepted but not yet committed will take space too: on a busy machine the commits
    // run behind the appends, and statfs alone let the file grow well past the floor. Counted
    // twice: LMDB writes a commit's pages copy-on-write before the old ones are freed.
    const low = free - 2 * this.#unstoredBytes < this.#minFreeBytes;
    if (low && !this.#diskLow) {
      const e = new OutpostError('FORWARD_OUTBOX_DISK_LOW', { path: this.path, freeBytes: String(free), minFreeBytes: String(this.#minFreeBytes) });
      this.#opts.logger?.error({ code: e.code, path: this.path, freeBytes: free, minFreeBytes: this.#minFreeBytes }, e.message);
    } else if (!low && this.#diskLow) {
      this.#opts.logger?.warn({ code: 'FORWARD_OUTBOX_DISK_LOW', path: this.path, freeBytes: free, refusedDiskLow: this.counters.refusedDiskLow }, `forwarding outbox at ${this.path}: free space back above the bound (${free} bytes free); accepting events again (refused meanwhile: refused_disk_low = ${this.counters.refusedDiskLow})`);
    }
    this.#diskLow = low;
    return low;
  }

  /** Committed records after `afterSeq`, at most maxEvents and (beyond the first) maxBytes. */
  read(afterSeq: number, maxEvents: number, maxBytes = Infinity): OutboxRecord[] {
    const out: OutboxRecord[] = [];
    const start = Math.max(afterSeq + 1, this.#tailSeq);
    if (start > this.#committedSeq) return out;
    const end = this.#committedSeq;
    let bytes = 0;
    for (const key of this.#blocks.getKeys({ start: [start] })) {
      const k = key as BlockKey;
      if (k[1] > end) break;
      const b = this.#block(k);
      const to = Math.min(k[0], end);
      for (let seq = Math.max(start, k[1]); seq <= to; seq++) {
        const i = seq - k[1];
        const size = b.size(i);
        if (out.length > 0 && bytes + size > maxBytes) return out;
        bytes += size;
        out.push(b.record(seq, i));
        b.pins++;
        if (out.length >= maxEvents) return out;
      }
    }
    return out;
  }

  /**
   * Whether the committed records after `afterSeq` reach `maxEvents` or `maxBytes` (stored bytes):
   * a full batch waits. Reads keys only (the byte count is in the key), stopping at the limit.
   */
  pendingReaches(afterSeq: number, maxEvents: number, maxBytes: number): boolean {
    const start = Math.max(afterSeq + 1, this.#tailSeq);
    if (start > this.#committedSeq) return false;
    const end = this.#committedSeq;
    let n = 0, bytes = 0;
    for (const key of this.#blocks.getKeys({ start: [start] })) {
      const k = key as BlockKey;
      if (k[1] > end) break;
      const from = Math.max(start, k[1]);
      const to = Math.min(k[0], end);
      n += to - from + 1;
      bytes += this.#bytesOf(k, from, to);
      if (bytes >= maxBytes || n >= maxEvents) return true;
    }
    return false;
  }

  /** Appended time of the first committed record after `afterSeq` (undefined if none). */
  oldestAfter(afterSeq: number): number | undefined {
    const start = Math.max(afterSeq + 1, this.#tailSeq);
    if (start > this.#committedSeq) return undefined;
    for (const key of this.#blocks.getKeys({ start: [start], limit: 1 })) {
      const k = key as BlockKey;
      if (k[1] > start) return undefined;
      return start === k[1] ? k[2] : this.#block(k).ms(start - k[1]);
    }
    return undefined;
  }

  /** Mark records up to `seq` handed to a sink (not yet acknowledged). */
  markInFlight(name: string, seq: number): void {
    const c = this.cursor(name);
    c.inFlight = Math.max(c.inFlight, seq);
  }

  /**
   * ack(), and resolves once a commit that carries this cursor position settled: a sink that
   * delivers its next batch only after this keeps what a crash makes it re-send to one batch.
   */
  ackDurable(name: string, seq: number): Promise<void> {
    this.ack(name, seq);
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#cursorWaiters.push(resolve);
      this.#markCursor(name);
    });
  }

  /**
   * The receiver acknowledged everything up to `seq`. Records every sink has now acknowledged are
   * removed in the same commit as the cursor move, not at the next sweep: LMDB gives the pages of
   * removed records to later appends, so the file and the pages of its memory map that this
   * process touches (RssFile) stay near the unsent backlog instead of growing with everything
   * appended between two sweeps (bench:forward, HTTPS phase: peak RssFile 202 -> 98 MB).
   */
  ack(name: string, seq: number): void {
    const c = this.cursor(name);
    if (seq > c.acked) {
      c.acked = seq;
      c.inFlight = Math.max(c.inFlight, seq);
      this.#markCursor(name);
      this.#collectSent();
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
    const end = this.#committedSeq;
    // The first record (in sequence order) appended at or after the limit, and everything after it, stays.
    let newTail = this.#tailSeq;
    for (const key of this.#blocks.getKeys({ start: [this.#tailSeq] })) {
      const k = key as BlockKey;
      if (k[1] > end) break;
      const from = Math.max(this.#tailSeq, k[1]);
      if (k[3] < limit && k[0] <= end) {
        newTail = k[0] + 1; // the whole block is older
        continue;
      }
      if (k[2] >= limit && from === k[1]) break;
      const b = this.#block(k);
      const to = Math.min(k[0], end);
      let seq = from;
      while (seq <= to && b.ms(seq - k[1]) < limit) seq++;
      newTail = seq;
      break;
    }
    if (newTail > this.#tailSeq) this.#advanceTail(newTail, 'expired');
  }

  /** Commit everything queued; resolves when durable (per outboxSync). */
  async flush(): Promise<void> {
    this.#doFlush();
    await Promise.allSettled([...this.#inflightCommits]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    clearTimeout(this.#retryTimer);
    if (this.#held.length > 0 && !this.#retrying) this.#retryHeld(); // a last chance
    // Bounded only while the store is failing: after a failed commit on a full disk (seen with
    // outboxSync fsync) lmdb-js may leave a later commit unsettled, and stop must not hang on it.
    const failing = this.#writeError !== undefined;
    const settled = failing ? await withinMs(this.flush(), CLOSE_WAIT_MS) : (await this.flush(), true);
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    if (!settled) this.#opts.logger?.error({ code: 'FORWARD_OUTBOX_WRITE_FAILED', path: this.path }, `outbox at ${this.path}: commits still unsettled ${CLOSE_WAIT_MS} ms after close`);
    if (this.#held.length > 0) {
      // Accepted but never stored: counted, not dropped silently.
      const n = this.#heldEvents;
      this.counters.writeFailed += n;
      this.#uncommitted -= n;
      this.#held = [];
      this.#heldEvents = 0;
      this.#opts.logger?.error({ code: 'FORWARD_OUTBOX_WRITE_FAILED', path: this.path, events: n }, `outbox closed with ${n} events that could not be written to ${this.path}`);
    }
    for (const w of this.#waiters.splice(0)) w();
    for (const w of this.#cursorWaiters.splice(0)) w();
    if (failing) await withinMs(this.#root.close(), CLOSE_WAIT_MS);
    else await this.#root.close();
  }

  stats(): Record<string, number> {
    return {
      'forward.outbox.depth': this.#count,
      'forward.outbox.bytes': this.#bytes,
      'forward.outbox.head_seq': this.#headSeq,
      'forward.outbox.committed_seq': this.#committedSeq,
      'forward.outbox.appended': this.counters.appended,
      'forward.outbox.committed': this.counters.committed,
      'forward.outbox.uncommitted': this.#uncommitted,
      'forward.outbox.uncommitted_max_ms': this.counters.uncommittedMaxMs,
      'forward.outbox.refused': this.counters.refused,
      'forward.outbox.late_committed': this.counters.lateCommitted,
      'forward.outbox.refused_disk_low': this.counters.refusedDiskLow,
      'forward.outbox.disk_low': this.#diskLow ? 1 : 0,
      ...(Number.isNaN(this.#freeAtCheck) ? {} : { 'forward.outbox.disk_free_bytes': this.#freeAtCheck }),
      'forward.outbox.dropped': this.counters.dropped,
      'forward.outbox.expired': this.counters.expired,
      'forward.outbox.commits': this.counters.commits,
      'forward.outbox.write_failed': this.counters.writeFailed,
      'forward.outbox.write_held': this.#heldEvents,
      'forward.outbox.unwritable': this.#writeError ? 1 : 0,
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
    this.#advanceTail(upTo + 1, 'sent');
  }

  /** Drop the oldest records (committed first, then queued) until `need` bytes are freed. */
  #dropOldest(need: number): void {
    let freed = 0;
    let newTail = this.#tailSeq;
    const end = this.#committedSeq;
    for (const key of this.#blocks.getKeys({ start: [this.#tailSeq] })) {
      const k = key as BlockKey;
      if (k[1] > end) break;
      const from = Math.max(this.#tailSeq, k[1]);
      const to = Math.min(k[0], end);
      const whole = this.#bytesOf(k, from, to);
      if (freed + whole < need) {
        freed += whole;
        newTail = to + 1;
        if (to < k[0]) break;
        continue;
      }
      // The bound falls inside this block: drop record by record up to it.
      const b = this.#block(k);
      let seq = from;
      while (seq <= to && freed < need) freed += b.size(seq++ - k[1]);
      newTail = seq;
      break;
    }
    if (newTail > this.#tailSeq) this.#advanceTail(newTail, 'dropped');
    // Still short (outbox smaller than one commit's worth): drop from the uncommitted queue, the
    // encoded blocks (whole) first, as they are the oldest. Never committed (and without a
    // sequence number yet), so nobody has seen them.
    const drop = (n: number, bytes: number) => {
      freed += bytes;
      this.#bytes -= bytes;
      this.#count -= n;
      this.#uncommitted -= n;
      this.#queued -= n;
      this.#unstoredBytes -= bytes;
      if (this.cursors.size > 0) {
        this.counters.dropped += n;
        for (const c of this.cursors.values()) c.dropped += n;
      }
    };
    while (freed < need && this.#encoded.length > 0) {
      const u = this.#encoded.shift()!;
      drop(u.n, u.bytes);
    }
    while (freed < need && this.#pending.length > 0) {
      const p = this.#pending.shift()!;
      this.#pendingBlockBytes -= p.uidBytes + p.jsonBytes + EVENT_HEAD_BYTES;
      drop(1, p.size);
    }
  }

  /**
   * Remove the committed records from tailSeq up to `newTail` - 1: their bytes and count leave the
   * accounting at once, blocks they empty are deleted in the next commit (which also stores the
   * new tail), and the records of a block the tail stops inside are skipped from now on.
   */
  #advanceTail(newTail: number, why: 'sent' | 'dropped' | 'expired'): void {
    const from = this.#tailSeq;
    const upTo = Math.min(newTail - 1, this.#committedSeq);
    if (upTo < from) return;
    let n = 0;
    for (const key of this.#blocks.getKeys({ start: [from] })) {
      const k = key as BlockKey;
      if (k[1] > upTo) break;
      const a = Math.max(from, k[1]);
      const b = Math.min(upTo, k[0]);
      this.#bytes -= this.#bytesOf(k, a, b);
      n += b - a + 1;
      if (b === k[0]) {
        this.#pendingRemovals.push(k);
        this.#uncache(k[0]);
      }
    }
    this.#count -= n;
    this.#tailSeq = upTo + 1;
    this.#tailDirty = true;
    if (n > 0) {
      if (why === 'sent') this.counters.removedSent += n;
      else this.#countLoss(from, upTo, n, why);
    }
    this.#scheduleFlush();
  }

  /** Stored bytes of the records from..to (inclusive) of block `k` (decoded only for part of a block). */
  #bytesOf(k: BlockKey, from: number, to: number): number {
    if (from <= k[1] && to >= k[0]) return k[4];
    if (to < from) return 0;
    const b = this.#block(k);
    let bytes = 0;
    for (let seq = from; seq <= to; seq++) bytes += b.size(seq - k[1]);
    return bytes;
  }

  /** Block `k` decoded (kept among the BLOCK_CACHE most recently used). */
  #block(k: BlockKey): DecodedBlock {
    let b = this.#decoded.get(k[0]);
    if (b) {
      this.#decoded.delete(k[0]);
      this.#decoded.set(k[0], b);
      return b;
    }
    // getBinaryFast's buffer is reused by the next get: inflated (or copied) at once.
    const v = this.#blocks.getBinaryFast(k);
    if (!v || v.length < 1) throw new OutpostError('FORWARD_OUTBOX_OPEN_FAILED', { path: this.path, reason: `block at seq ${k[1]}..${k[0]} missing` });
    const damaged = (why: string) => new OutpostError('FORWARD_OUTBOX_OPEN_FAILED', { path: this.path, reason: `block at seq ${k[1]}..${k[0]} is damaged (${why})` });
    const raw = decodeValue(v, this.#blockBuffers);
    if (typeof raw === 'string') throw damaged(raw);
    b = new DecodedBlock(k[1], raw);
    if ((v[0] === BLOCK_DEFLATE && raw.length !== v.readUInt32LE(1)) || !b.whole || b.n !== k[0] - k[1] + 1) {
      this.#blockBuffers.give(raw);
      throw damaged(`${raw.length} bytes, ${b.n} events`);
    }
    this.#decoded.set(k[0], b);
    if (this.#decoded.size > BLOCK_CACHE) this.#uncache(this.#decoded.keys().next().value!);
    return b;
  }

  /**
   * The decoded block ending at `lastSeq` leaves the cache: its buffer is reused now, or when its
   * last pinned record is released.
   */
  #uncache(lastSeq: number): void {
    const b = this.#decoded.get(lastSeq);
    if (b === undefined) return;
    this.#decoded.delete(lastSeq);
    b.evicted = true;
    if (b.pins === 0) this.#recycle(b);
  }

  /** Only blocks decoded by #block (from the pool) get here; #notify's never enter the cache. */
  #recycle(b: DecodedBlock): void {
    if (b.recycled) return;
    b.recycled = true;
    this.#blockBuffers.give(b.buf);
  }

  /**
   * A sink is done with a batch from read() (acknowledged, dead-lettered, or dropped for a retry
   * that reads again): its records are not read again, and the buffers of their blocks can be
   * reused. A batch never released only keeps its blocks' buffers from being reused (the collector
   * frees them); a record read after release throws instead of giving another block's bytes.
   */
  release(batch: readonly OutboxRecord[]): void {
    for (const r of batch) {
      if (!(r instanceof BlockRecord)) continue;
      const b = r.block;
      if (b === undefined) continue; // released already
      r.block = undefined;
      if (--b.pins === 0 && b.evicted) this.#recycle(b);
    }
  }

  /**
   * A store written with one record per event ('events', [seq, appendedMs, bytes] → [uid, json])
   * is converted to blocks in one synchronous transaction, keeping sequence numbers and times.
   */
  #convertLegacy(root: RootDatabase): void {
    const legacy = root.openDB<LegacyValue, LegacyKey>({ name: 'events' });
    let any = false;
    for (const _ of legacy.getKeys({ limit: 1 })) any = true;
    if (!any) return;
    root.transactionSync(() => {
      let puts: Queued[] = [];
      let first = 0;
      const store = () => {
        for (const u of encodeBlocks(puts)) {
          this.#blocks.putSync([first + u.n - 1, first, u.ms[0]!, u.maxMs, u.bytes], u.value);
          first += u.n;
        }
        puts = [];
      };
      for (const { key, value } of legacy.getRange()) {
        const k = key as LegacyKey;
        const [uid, json] = value as LegacyValue;
        // A gap (records removed between two kept ones) starts a new block: blocks are contiguous.
        if (puts.length > 0 && first + puts.length !== k[0]) store();
        if (puts.length === 0) first = k[0];
        puts.push({ ms: k[1], size: k[2], uid, json, uidBytes: Buffer.byteLength(uid), jsonBytes: Buffer.byteLength(json) });
        if (puts.length >= BLOCK_MAX_EVENTS) store();
      }
      if (puts.length > 0) store();
      legacy.clearSync();
    });
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
    const oldest = this.#encoded[0]?.ms[0] ?? this.#pending[0]?.ms;
    if (this.#queued >= FLUSH_MAX_EVENTS || (oldest !== undefined && this.#now() - oldest >= this.#maxUncommittedMs / 2)) {
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
    let blocks = this.#numberQueued();
    if (this.#writeError) {
      // The store cannot be written: puts wait for the retry timer (append refuses new ones, so
      // these are only those queued before the failure was known); removals and cursor moves go on.
      this.#hold(blocks);
      blocks = [];
    }
    this.#commit(blocks, 0);
  }

  /**
   * Keep the puts of a failed commit for the retry, in sequence order: commits still in flight when
   * the failure became known fail after later events were already held by #doFlush, and a block
   * holds consecutive events only.
   */
  #hold(blocks: Numbered[]): void {
    if (blocks.length === 0) return;
    const resort = this.#held.length > 0 && blocks[0]!.key[1] < this.#held[this.#held.length - 1]!.key[1];
    this.#held.push(...blocks);
    for (const b of blocks) this.#heldEvents += b.ms.length;
    if (resort) this.#held.sort((a, b) => a.key[1] - b.key[1]);
  }

  /** Commit the held events (and whatever else is queued) again. */
  #retryHeld(): void {
    this.#retryTimer = undefined;
    if (this.#closed || this.#held.length === 0) return;
    this.#retrying = true;
    const blocks = this.#held.concat(this.#numberQueued());
    this.#commit(blocks, this.#held.length);
  }

  /** Encode the queued events not yet in a block. */
  #encodePending(): void {
    if (this.#pending.length === 0) return;
    this.#encoded.push(...encodeBlocks(this.#pending));
    this.#pending = [];
    this.#pendingBlockBytes = 0;
  }

  /** Sequence numbers for queued events, given as their commit starts. */
  #numberQueued(): Numbered[] {
    this.#encodePending();
    const out = new Array<Numbered>(this.#encoded.length);
    for (let i = 0; i < this.#encoded.length; i++) {
      const u = this.#encoded[i]!;
      const first = this.#headSeq + 1;
      this.#headSeq += u.n;
      out[i] = { key: [this.#headSeq, first, u.ms[0]!, u.maxMs, u.bytes], value: u.value, ms: u.ms };
    }
    this.#encoded = [];
    this.#queued = 0;
    return out;
  }

  /** One transaction; `retried` > 0: the first `retried` puts are the held events being retried. */
  #commit(puts: Numbered[], retried: number): void {
    const retry = retried > 0;
    const removals = this.#pendingRemovals;
    const cursors = [...this.#cursorsDirty].map((n) => [n, this.cursors.get(n)?.acked ?? 0] as const);
    // While failing, an empty commit still goes out: it probes whether the store is writable again.
    if (!retry && !this.#writeError && puts.length === 0 && removals.length === 0 && cursors.length === 0 && !this.#tailDirty) return;
    this.#pendingRemovals = [];
    this.#cursorsDirty.clear();
    this.#tailDirty = false;
    const head = this.#headSeq;
    const tail = this.#tailSeq;
    let lastPut: number | undefined;
    for (const p of puts) lastPut = Math.max(lastPut ?? 0, p.key[0]);
    const bytes = this.#bytes;
    const { dropped, expired } = this.counters;
    const cursorWaiters = this.#cursorWaiters;
    this.#cursorWaiters = [];
    const commit = this.#root.transaction(() => {
      for (const blk of puts) this.#blocks.put(blk.key, blk.value);
      for (const k of removals) this.#blocks.remove(k);
      for (const [n, seq] of cursors) this.#meta.put(`cursor:${n}`, seq);
      this.#meta.put('head', head);
      this.#meta.put('tail', tail);
      this.#meta.put('bytes', bytes);
      this.#meta.put('dropped', dropped);
      this.#meta.put('expired', expired);
    });
    const tracked: Promise<unknown> = commit.then(
      () => {
        this.counters.commits++;
        if (puts.length > 0) this.#measureWindow(puts);
        for (const p of puts) this.#unstoredBytes -= p.key[4];
        if (lastPut !== undefined) this.#storedSeq = Math.max(this.#storedSeq, lastPut);
        if (retry) {
          // The retried events leave #held (commits that failed meanwhile may have added others).
          const stored = new Set(puts.slice(0, retried));
          this.#held = this.#held.filter((p) => !stored.has(p));
          for (const p of stored) this.#heldEvents -= p.ms.length;
          this.#retrying = false;
          this.#retryDelayMs = WRITE_RETRY_INITIAL_MS;
        }
        if (this.#writeError && this.#held.length === 0) {
          this.#opts.logger?.warn({ code: this.#writeError.code, path: this.path, writeFailed: this.counters.writeFailed }, `forwarding outbox at ${this.path} is writable again (events refused meanwhile: write_failed = ${this.counters.writeFailed})`);
          this.#writeError = undefined;
        } else if (this.#held.length > 0) this.#scheduleRetry();
        this.#advanceCommitted();
        for (const w of cursorWaiters) w();
        if (puts.length > 0 && this.#listeners.length > 0) this.#notify(puts);
      },
      async (err: unknown) => {
        // The cursor moves are re-queued below; a sink waiting for them goes on (the bound on
        // re-sends after a crash cannot hold while the store cannot be written).
        for (const w of cursorWaiters) w();
        // Put back what this commit was to write: removals and cursor moves are re-queued (a
        // removal or cursor write repeated later is harmless), puts are held for the retry.
        this.#pendingRemovals.unshift(...removals);
        for (const [n] of cursors) this.#cursorsDirty.add(n);
        this.#tailDirty = true;
        if (retry) this.#retrying = false;
        else this.#hold(puts);
        const already = this.#writeError !== undefined;
        const failure = (reason: string) => new OutpostError('FORWARD_OUTBOX_WRITE_FAILED', { path: this.path, reason }, { details: { path: this.path, reason }, cause: err });
        // Set at once (appends are refused from now on), completed with the reason below.
        if (!already) this.#writeError = failure(err instanceof Error ? err.message : String(err));
        const reason = await writeFailureReason(err, this.path); // also observes its commitError
        if (!already && this.#writeError) {
          // Logged once per failure period (and once more when writable again), not per retry.
          const e = (this.#writeError = failure(reason));
          this.#opts.logger?.error({ err: e, code: e.code, path: this.path, heldEvents: this.#heldEvents }, e.message);
        }
        this.#scheduleRetry(already);
      },
    );
    this.#inflightCommits.add(tracked);
    void tracked.finally(() => this.#inflightCommits.delete(tracked));
  }

  /** Committed: count, and measure how long each event waited (puts are in append order). */
  #measureWindow(puts: Numbered[]): void {
    const now = this.#now();
    let n = 0;
    for (const p of puts) n += p.ms.length;
    this.counters.committed += n;
    this.#uncommitted -= n;
    const waited = now - puts[0]!.ms[0]!;
    this.counters.uncommittedMaxMs = Math.max(this.counters.uncommittedMaxMs, waited);
    const bound = this.#maxUncommittedMs;
    if (waited <= bound) {
      this.#lateEpisode = false;
      return;
    }
    let late = 0;
    outer: for (const p of puts) {
      for (const ms of p.ms) {
        if (now - ms <= bound) break outer;
        late++;
      }
    }
    this.counters.lateCommitted += late;
    if (!this.#lateEpisode) {
      this.#lateEpisode = true;
      const e = new OutpostError('FORWARD_OUTBOX_COMMIT_SLOW', { path: this.path, ageMs: String(Math.round(waited)), maxMs: String(bound) });
      this.#opts.logger?.warn({ code: e.code, path: this.path, waitedMs: Math.round(waited), maxUncommittedMs: bound, lateCommitted: this.counters.lateCommitted }, e.message);
    }
  }

  /** Listeners get records of stored events only; a listener that throws does not stop the others. */
  #notify(puts: Numbered[]): void {
    const recs: CommittedRecord[] = [];
    for (const p of puts) {
      const raw = decodeValue(p.value);
      if (typeof raw === 'string') {
        // A block this process has just encoded: never seen; said rather than thrown in a commit.
        this.#opts.logger?.error({ code: 'INTERNAL', path: this.path, reason: raw }, 'outbox commit listener: a committed block does not decode');
        continue;
      }
      const b = new DecodedBlock(p.key[1], raw);
      for (let i = 0; i < b.n; i++) recs.push(b.record(p.key[1] + i, i));
    }
    for (const l of this.#listeners) {
      try {
        l(recs);
      } catch (err) {
        this.#opts.logger?.error({ err, path: this.path }, 'outbox commit listener failed');
      }
    }
  }

  /** committedSeq: everything stored up to the first held event (sinks must not skip past one). */
  #advanceCommitted(): void {
    const firstHeld = this.#held[0]?.key[1];
    const upTo = firstHeld === undefined ? this.#storedSeq : Math.min(this.#storedSeq, firstHeld - 1);
    if (upTo > this.#committedSeq) {
      this.#committedSeq = upTo;
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  #scheduleRetry(backoff = false): void {
    if (this.#closed || this.#retryTimer || this.#retrying) return;
    if (backoff) this.#retryDelayMs = Math.min(WRITE_RETRY_MAX_MS, this.#retryDelayMs * 2);
    this.#retryTimer = setTimeout(() => {
      if (this.#held.length > 0) this.#retryHeld();
      else {
        this.#retryTimer = undefined;
        this.#doFlush();
      }
    }, this.#retryDelayMs);
    this.#retryTimer.unref();
  }
}
