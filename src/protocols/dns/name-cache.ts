/**
 * "Which name did client C resolve to address X": a bounded, time-aware cache fed by DNS
 * responses (RFC 1035 §4.1.3 answers, CNAME chains per RFC 1034 §3.6.2) and asked by flow events.
 *
 * - The name kept is the one the client asked for (the question name); the CNAME targets followed
 *   to reach the address are kept as `chain` (asked → … → owner of the A/AAAA).
 * - Validity: TTL clamped to [dnsTtlFloorMs, dnsTtlCapMs] (defaults 60 s, 24 h): short CDN TTLs
 *   would otherwise expire before the connection that follows them is seen.
 * - lookup(client, address, atMs) gives the most recent resolution valid at atMs; failing that, any
 *   other client's (flagged `otherClient`).
 * - Bound: dnsCacheMaxEntries (client, address, name) entries, least-recently-used evicted
 *   (`dns_cache.evicted`).
 * - Persistence (optional, `open(path)`): LMDB, writes batched every dnsCacheFlushIntervalMs or
 *   dnsCacheFlushMaxRecords changes, whichever first; loaded on open. Keys (ordered-binary tuples):
 *     ['e', client, address, name] → { chain, firstMs, lastMs, expiresMs }
 *     ['x', expiresMs, client, address, name] → null      (expiry index)
 *   so compact(nowMs) purges expired entries with one range scan of ['x', 0] … ['x', nowMs].
 */
import { open as lmdbOpen, type RootDatabase } from 'lmdb';
import type { DnsMessageInfo } from './message.js';
import { OutpostError } from '../../errors.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';

export interface DnsNameCacheSettings {
  /** Entries (client, address, name) kept in memory and on disk. */
  dnsCacheMaxEntries: number;
  /** Lower clamp of a record's TTL. */
  dnsTtlFloorMs: number;
  /** Upper clamp of a record's TTL. */
  dnsTtlCapMs: number;
  /** Longest time a change waits before it is written to LMDB. */
  dnsCacheFlushIntervalMs: number;
  /** Pending changes that trigger a write before the interval. */
  dnsCacheFlushMaxRecords: number;
  /** CNAME links followed from the question name (RFC 1034 §3.6.2 chains; also a loop guard). */
  dnsCacheMaxChainLinks: number;
}

export const DEFAULT_DNS_CACHE_SETTINGS: Readonly<DnsNameCacheSettings> = Object.freeze({
  dnsCacheMaxEntries: 200_000,
  dnsTtlFloorMs: 60_000,
  dnsTtlCapMs: 86_400_000,
  dnsCacheFlushIntervalMs: 1_000,
  dnsCacheFlushMaxRecords: 1_000,
  dnsCacheMaxChainLinks: 16,
});

export class DnsCacheCounters {
  /** New (client, address, name) entries. */
  recorded = 0;
  /** Re-resolutions of an existing entry. */
  refreshed = 0;
  /** Entries dropped by the LRU bound. */
  evicted = 0;
  /** Expired entries removed by compact() (memory and disk). */
  purged = 0;
  /** Entries read back from LMDB on open. */
  loaded = 0;
  hits = 0;
  /** Hits answered by another client's resolution. */
  hitsOtherClient = 0;
  misses = 0;
  /** LMDB batch writes, and the ones that failed (the changes are kept for the next try). */
  flushes = 0;
  flushErrors = 0;
  /** Answers that could not be tied to the question (not on its CNAME chain). */
  unchained = 0;
  /** Gauge: entries in memory, set by DnsNameCache.snapshot(). */
  entries = 0;

  snapshot(): Record<string, number> {
    return {
      'dns_cache.recorded': this.recorded,
      'dns_cache.refreshed': this.refreshed,
      'dns_cache.evicted': this.evicted,
      'dns_cache.purged': this.purged,
      'dns_cache.loaded': this.loaded,
      'dns_cache.hits': this.hits,
      'dns_cache.hits_other_client': this.hitsOtherClient,
      'dns_cache.misses': this.misses,
      'dns_cache.flushes': this.flushes,
      'dns_cache.flush_errors': this.flushErrors,
      'dns_cache.unchained': this.unchained,
      'dns_cache.entries': this.entries,
    };
  }
}

export interface DnsNameLookup {
  /** The name the client asked for. */
  name: string;
  /** CNAME targets from `name` to the owner of the address record (empty without CNAMEs). */
  chain: readonly string[];
  /** True when the client's own resolution was absent and another client's was used. */
  otherClient: boolean;
  /** Start of the continuous validity period, last re-resolution, and expiry (ms). */
  firstMs: number;
  lastMs: number;
  expiresMs: number;
}

interface Entry {
  key: string;
  pairKey: string;
  client: string;
  address: string;
  name: string;
  chain: string[];
  firstMs: number;
  lastMs: number;
  expiresMs: number;
  /** Expiry as written to LMDB (index key to delete on change), or -1 when not on disk. */
  diskExpiresMs: number;
}

interface StoredValue {
  chain: string[];
  firstMs: number;
  lastMs: number;
  expiresMs: number;
}

type Key = (string | number)[];

const SEP = '\u0000';

function settingsFrom(partial?: Partial<DnsNameCacheSettings>): DnsNameCacheSettings {
  const d = DEFAULT_DNS_CACHE_SETTINGS;
  const pick = (v: number | undefined, dv: number, min: number): number =>
    v !== undefined && Number.isFinite(v) && v >= min ? Math.floor(v) : dv;
  const s: DnsNameCacheSettings = {
    dnsCacheMaxEntries: pick(partial?.dnsCacheMaxEntries, d.dnsCacheMaxEntries, 1),
    dnsTtlFloorMs: pick(partial?.dnsTtlFloorMs, d.dnsTtlFloorMs, 0),
    dnsTtlCapMs: pick(partial?.dnsTtlCapMs, d.dnsTtlCapMs, 1),
    dnsCacheFlushIntervalMs: pick(partial?.dnsCacheFlushIntervalMs, d.dnsCacheFlushIntervalMs, 1),
    dnsCacheFlushMaxRecords: pick(partial?.dnsCacheFlushMaxRecords, d.dnsCacheFlushMaxRecords, 1),
    dnsCacheMaxChainLinks: pick(partial?.dnsCacheMaxChainLinks, d.dnsCacheMaxChainLinks, 0),
  };
  if (s.dnsTtlCapMs < s.dnsTtlFloorMs) s.dnsTtlCapMs = s.dnsTtlFloorMs;
  return s;
}

export interface DnsNameCacheOptions extends Partial<DnsNameCacheSettings> {
  /** LMDB directory used by start(); open(path) may be called directly instead. */
  path?: string;
  counters?: DnsCacheCounters;
  /** Clock for load-time expiry checks; defaults to Date.now. */
  now?: () => number;
}

export class DnsNameCache {
  readonly name = 'dns-name-cache';
  readonly settings: DnsNameCacheSettings;
  readonly counters: DnsCacheCounters;
  readonly #path: string | undefined;
  readonly #now: () => number;
  /** All entries; Map order is recency (least recent first). */
  readonly #lru = new Map<string, Entry>();
  /** client + address → entries. */
  readonly #byPair = new Map<string, Set<Entry>>();
  /** address → entries of every client. */
  readonly #byAddress = new Map<string, Set<Entry>>();
  /**
   * Counting filter over the numeric form of the #byAddress keys (addressFilterIndex): a caller
   * holding an address as words (the flow table) rules out most addresses without formatting
   * them. Keys that are not the canonical text of an address (ipv4ToString / ipv6ToString) are
   * never asked for by words and are left out.
   */
  readonly #addressFilter = new Int32Array(ADDRESS_FILTER_SIZE);
  /** Entry key → entry to write, or the expiry index of an entry to delete (number). */
  readonly #pending = new Map<string, Entry | { deleteDiskExpiresMs: number; client: string; address: string; name: string }>();
  #db: RootDatabase<StoredValue | null, Key> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(opts: DnsNameCacheOptions = {}) {
    this.settings = settingsFrom(opts);
    this.counters = opts.counters ?? new DnsCacheCounters();
    this.#path = opts.path;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Counters with the `dns_cache.entries` gauge brought up to date. */
  snapshot(): Record<string, number> {
    this.counters.entries = this.#lru.size;
    return this.counters.snapshot();
  }

  get pendingWrites(): number {
    return this.#pending.size;
  }

  // ----------------------------------------------------------------------------------------
  // Lifecycle (src/lifecycle.ts Service shape).

  async start(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    if (this.#path !== undefined && this.#db === undefined) await this.open(this.#path);
    this.#timer = setInterval(() => {
      if (this.#pending.size > 0) void this.flush();
    }, this.settings.dnsCacheFlushIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.close();
  }

  /** Opens (creating if needed) the LMDB store and loads its unexpired entries, newest kept. */
  async open(path: string): Promise<void> {
    if (this.#db !== undefined) return;
    let db: RootDatabase<StoredValue | null, Key>;
    try {
      db = lmdbOpen<StoredValue | null, Key>({ path, compression: false });
    } catch (err) {
      throw new OutpostError('STORE_OPEN_FAILED', { path, reason: (err as Error).message }, { details: { path }, cause: err });
    }
    this.#db = db;
    const now = this.#now();
    const loaded: Entry[] = [];
    const stale: Entry[] = [];
    for (const { key, value } of db.getRange({ start: ['e'], end: ['f'] })) {
      if (value === null || value === undefined || key.length !== 4) continue;
      const [, client, address, name] = key;
      if (typeof client !== 'string' || typeof address !== 'string' || typeof name !== 'string') continue;
      const e: Entry = {
        key: client + SEP + address + SEP + name,
        pairKey: client + SEP + address,
        client,
        address,
        name,
        chain: Array.isArray(value.chain) ? value.chain.filter((x): x is string => typeof x === 'string') : [],
        firstMs: value.firstMs,
        lastMs: value.lastMs,
        expiresMs: value.expiresMs,
        diskExpiresMs: value.expiresMs,
      };
      if (e.expiresMs <= now) stale.push(e);
      else loaded.push(e);
    }
    // Least recent first, so LRU order resumes where it was (approximately: by last resolution).
    loaded.sort((a, b) => a.lastMs - b.lastMs);
    for (const e of loaded) {
      if (this.#lru.has(e.key)) continue; // recorded before open: memory wins
      this.#insert(e);
      this.counters.loaded++;
    }
    for (const e of stale) this.#markDeleted(e);
    this.#evictOverflow();
  }

  /** Writes pending changes and closes the store; the in-memory cache stays usable. */
  async close(): Promise<void> {
    if (this.#db === undefined) return;
    await this.flush();
    const db = this.#db;
    this.#db = undefined;
    await db.close();
  }

  // ----------------------------------------------------------------------------------------
  // Recording.

  /**
   * One resolution: `clientIp` asked `name` and got `address` (A/AAAA data), valid `ttlS` seconds
   * (clamped) from nowMs. `chain` lists CNAME targets followed from `name` (RFC 1034 §3.6.2).
   */
  record(clientIp: string, name: string, address: string, ttlS: number, nowMs: number, chain: readonly string[] = []): void {
    const ttlMs = Math.min(this.settings.dnsTtlCapMs, Math.max(this.settings.dnsTtlFloorMs, (Number.isFinite(ttlS) && ttlS > 0 ? ttlS : 0) * 1000));
    const expiresMs = nowMs + ttlMs;
    const key = clientIp + SEP + address + SEP + name;
    const e = this.#lru.get(key);
    if (e !== undefined) {
      this.counters.refreshed++;
      if (nowMs <= e.expiresMs && nowMs >= e.firstMs) {
        e.lastMs = Math.max(e.lastMs, nowMs);
        e.expiresMs = Math.max(e.expiresMs, expiresMs);
      } else {
        e.firstMs = e.lastMs = nowMs;
        e.expiresMs = expiresMs;
      }
      e.chain = chain.slice(0, this.settings.dnsCacheMaxChainLinks);
      this.#lru.delete(key);
      this.#lru.set(key, e);
      this.#markDirty(e);
      return;
    }
    this.counters.recorded++;
    const ne: Entry = {
      key,
      pairKey: clientIp + SEP + address,
      client: clientIp,
      address,
      name,
      chain: chain.slice(0, this.settings.dnsCacheMaxChainLinks),
      firstMs: nowMs,
      lastMs: nowMs,
      expiresMs,
      diskExpiresMs: -1,
    };
    this.#insert(ne);
    this.#markDirty(ne);
    this.#evictOverflow();
  }

  /**
   * Records every A/AAAA answer of a response that lies on the CNAME chain of its first question
   * (RFC 1034 §3.6.2). The validity is the smallest TTL along the chain. Returns entries recorded.
   * Responses with rcode ≠ 0 or without a question (mDNS announcements) record nothing.
   */
  recordResponse(clientIp: string, info: DnsMessageInfo, nowMs: number): number {
    if (!info.qr || info.rcode !== 0 || !info.hasQuestion) return 0;
    // Follow CNAMEs from the question name: owner → { target, ttl }.
    const cnames = new Map<string, { target: string; ttl: number }>();
    for (const a of info.answers) {
      if ((a.type === 5 || a.type === 39) && a.data !== undefined && !cnames.has(a.name)) cnames.set(a.name, { target: a.data, ttl: a.ttl });
    }
    const chainTtl = new Map<string, { chain: string[]; ttl: number }>();
    let cur = info.qname;
    let ttl = Number.POSITIVE_INFINITY;
    const chain: string[] = [];
    chainTtl.set(cur, { chain: [], ttl });
    for (let i = 0; i < this.settings.dnsCacheMaxChainLinks; i++) {
      const link = cnames.get(cur);
      if (link === undefined || chainTtl.has(link.target)) break;
      ttl = Math.min(ttl, link.ttl);
      chain.push(link.target);
      cur = link.target;
      chainTtl.set(cur, { chain: chain.slice(), ttl });
    }
    let n = 0;
    for (const a of info.answers) {
      if ((a.type !== 1 && a.type !== 28) || a.data === undefined) continue;
      const at = chainTtl.get(a.name);
      if (at === undefined) {
        this.counters.unchained++;
        continue;
      }
      this.record(clientIp, info.qname, a.data, Math.min(at.ttl, a.ttl), nowMs, at.chain);
      n++;
    }
    return n;
  }

  // ----------------------------------------------------------------------------------------
  // Lookup.

  /**
   * The most recent resolution of `address` by `clientIp` valid at atMs (resolved at or before
   * atMs, not expired at atMs); otherwise the same over all clients, with otherClient = true.
   */
  lookup(clientIp: string, address: string, atMs: number): DnsNameLookup | undefined {
    const best = this.#find(clientIp, address, atMs);
    if (best === undefined) return undefined;
    return { name: best.name, chain: best.chain, otherClient: best.client !== clientIp, firstMs: best.firstMs, lastMs: best.lastMs, expiresMs: best.expiresMs };
  }

  /** As lookup(), the name only: what every emitted flow event without a name of its own asks. */
  lookupName(clientIp: string, address: string, atMs: number): string | undefined {
    return this.#find(clientIp, address, atMs)?.name;
  }

  /**
   * Whether `clientIp` had resolved `address` (valid at atMs): that address is a server to it.
   * Asked when a flow's client is decided; counts no hit or miss and keeps the LRU order.
   */
  /**
   * false when no entry has this address (IPv4: the address in w3); true when one may have it
   * (then resolvedBy / lookup with its text answer exactly). For per-flow callers that hold
   * addresses as words and would otherwise format them only to find nothing.
   */
  mayHoldAddress(v4: boolean, w0: number, w1: number, w2: number, w3: number): boolean {
    return this.#addressFilter[addressFilterIndex(v4, w0, w1, w2, w3)] !== 0;
  }

  resolvedBy(clientIp: string, address: string, atMs: number): boolean {
    if (!this.#byAddress.has(address)) return false;
    return pickBest(this.#byPair.get(clientIp + SEP + address), atMs) !== undefined;
  }

  /**
   * Every (name, CNAME chain, address) resolution valid at atMs, over all clients, each pair
   * once: what block lists of addresses are built from. A walk over the bounded cache (at most
   * dnsCacheMaxEntries), on request, never on the packet path; the LRU order is left alone.
   */
  *resolutionsAt(atMs: number): Generator<{ name: string; chain: readonly string[]; address: string }> {
    const seen = new Set<string>();
    for (const e of this.#lru.values()) {
      if (e.firstMs > atMs || e.expiresMs <= atMs) continue;
      const k = e.name + SEP + e.address;
      if (seen.has(k)) continue;
      seen.add(k);
      yield { name: e.name, chain: e.chain, address: e.address };
    }
  }

  #find(clientIp: string, address: string, atMs: number): Entry | undefined {
    // Every entry is indexed by its address: an address nobody resolved (most flows) is a miss
    // without building the (client, address) key.
    const forAddress = this.#byAddress.get(address);
    let best: Entry | undefined;
    let other = false;
    if (forAddress !== undefined) {
      best = pickBest(this.#byPair.get(clientIp + SEP + address), atMs);
      if (best === undefined) {
        best = pickBest(forAddress, atMs);
        other = true;
      }
    }
    if (best === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    if (other) this.counters.hitsOtherClient++;
    this.#lru.delete(best.key);
    this.#lru.set(best.key, best);
    return best;
  }

  // ----------------------------------------------------------------------------------------
  // Persistence.

  /** Writes pending changes in one LMDB transaction. Concurrent calls share the write. */
  flush(): Promise<void> {
    if (this.#flushing !== undefined) return this.#flushing.then(() => (this.#pending.size > 0 ? this.flush() : undefined));
    const db = this.#db;
    if (db === undefined || this.#pending.size === 0) return Promise.resolve();
    const batch = [...this.#pending.entries()];
    this.#pending.clear();
    const p = db
      .transaction(() => {
        for (const [, item] of batch) {
          if ('deleteDiskExpiresMs' in item) {
            void db.remove(['e', item.client, item.address, item.name]);
            void db.remove(['x', item.deleteDiskExpiresMs, item.client, item.address, item.name]);
            continue;
          }
          const e = item;
          if (e.diskExpiresMs >= 0 && e.diskExpiresMs !== e.expiresMs) void db.remove(['x', e.diskExpiresMs, e.client, e.address, e.name]);
          void db.put(['e', e.client, e.address, e.name], { chain: e.chain, firstMs: e.firstMs, lastMs: e.lastMs, expiresMs: e.expiresMs });
          void db.put(['x', e.expiresMs, e.client, e.address, e.name], null);
          e.diskExpiresMs = e.expiresMs;
        }
      })
      .then(
        () => {
          this.counters.flushes++;
        },
        () => {
          this.counters.flushErrors++;
          // Keep the changes for the next flush, unless newer ones replaced them meanwhile.
          for (const [k, item] of batch) if (!this.#pending.has(k)) this.#pending.set(k, item);
        },
      )
      .finally(() => {
        this.#flushing = undefined;
      });
    this.#flushing = p;
    return p;
  }

  /**
   * Removes entries expired at nowMs from memory and from LMDB (range scan of the expiry index).
   * Returns how many were removed from memory.
   */
  async compact(nowMs: number): Promise<number> {
    let n = 0;
    for (const e of [...this.#lru.values()]) {
      if (e.expiresMs > nowMs) continue;
      this.#remove(e);
      this.#markDeleted(e);
      n++;
    }
    this.counters.purged += n;
    await this.flush();
    const db = this.#db;
    if (db !== undefined) {
      const doomed: Key[] = [];
      for (const key of db.getKeys({ start: ['x', 0], end: ['x', nowMs + 1] })) doomed.push(key);
      if (doomed.length > 0) {
        await db.transaction(() => {
          for (const k of doomed) {
            const [, , client, address, name] = k;
            if (typeof client !== 'string' || typeof address !== 'string' || typeof name !== 'string') continue;
            void db.remove(k);
            // Only if memory does not hold a live version of the entry (it would be re-written).
            if (!this.#lru.has(client + SEP + address + SEP + name)) void db.remove(['e', client, address, name]);
          }
        });
      }
    }
    return n;
  }

  // ----------------------------------------------------------------------------------------

  #insert(e: Entry): void {
    this.#lru.set(e.key, e);
    let s = this.#byPair.get(e.pairKey);
    if (s === undefined) this.#byPair.set(e.pairKey, (s = new Set()));
    s.add(e);
    let a = this.#byAddress.get(e.address);
    if (a === undefined) {
      this.#byAddress.set(e.address, (a = new Set()));
      const i = addressTextFilterIndex(e.address);
      if (i >= 0) this.#addressFilter[i]!++;
    }
    a.add(e);
  }

  #remove(e: Entry): void {
    this.#lru.delete(e.key);
    const s = this.#byPair.get(e.pairKey);
    if (s !== undefined) {
      s.delete(e);
      if (s.size === 0) this.#byPair.delete(e.pairKey);
    }
    const a = this.#byAddress.get(e.address);
    if (a !== undefined) {
      a.delete(e);
      if (a.size === 0) {
        this.#byAddress.delete(e.address);
        const i = addressTextFilterIndex(e.address);
        if (i >= 0) this.#addressFilter[i]!--;
      }
    }
  }

  #evictOverflow(): void {
    while (this.#lru.size > this.settings.dnsCacheMaxEntries) {
      const first = this.#lru.values().next();
      if (first.done === true) break;
      this.#remove(first.value);
      this.#markDeleted(first.value);
      this.counters.evicted++;
    }
  }

  #markDirty(e: Entry): void {
    if (this.#db === undefined && this.#path === undefined) return; // memory-only cache
    this.#pending.set(e.key, e);
    this.#maybeFlush();
  }

  #markDeleted(e: Entry): void {
    if (this.#db === undefined && this.#path === undefined) return;
    if (e.diskExpiresMs < 0) {
      this.#pending.delete(e.key); // never written: nothing to delete
      return;
    }
    this.#pending.set(e.key, { deleteDiskExpiresMs: e.diskExpiresMs, client: e.client, address: e.address, name: e.name });
    this.#maybeFlush();
  }

  #maybeFlush(): void {
    if (this.#db !== undefined && this.#pending.size >= this.settings.dnsCacheFlushMaxRecords && this.#flushing === undefined) {
      void this.flush();
    }
  }
}

function pickBest(set: Set<Entry> | undefined, atMs: number): Entry | undefined {
  if (set === undefined) return undefined;
  let best: Entry | undefined;
  let bestT = Number.NEGATIVE_INFINITY;
  for (const e of set) {
    if (e.firstMs > atMs || e.expiresMs <= atMs) continue;
    const t = e.lastMs <= atMs ? e.lastMs : e.firstMs;
    if (t > bestT) {
      bestT = t;
      best = e;
    }
  }
  return best;
}

/** Buckets of DnsNameCache's address filter (256 KiB). */
const ADDRESS_FILTER_SIZE = 1 << 16;

/** Bucket of an address given as words (IPv4: w3 alone). */
function addressFilterIndex(v4: boolean, w0: number, w1: number, w2: number, w3: number): number {
  const h = v4
    ? Math.imul(w3 ^ 0x27d4eb2d, 0x9e3779b1)
    : Math.imul(w3 ^ Math.imul(w2 ^ 0x165667b1, 0x85ebca6b) ^ Math.imul(w1, 0xc2b2ae35) ^ Math.imul(w0, 0x27d4eb2f), 0x9e3779b1);
  return (h ^ (h >>> 15)) >>> 16;
}

const textWords = new Uint32Array(4);

/**
 * Bucket of an address text, -1 when the text is not the canonical form ipv4ToString /
 * ipv6ToString give (such a key is never asked for by words). Parsed, then formatted again and
 * compared, so a text the parser misreads can only be left out, never put in the wrong bucket.
 * Once per address added to or removed from the cache, not per packet.
 */
function addressTextFilterIndex(text: string): number {
  if (text.includes(':')) {
    if (!parseIpv6Words(text, textWords)) return -1;
    const [w0, w1, w2, w3] = textWords;
    if (ipv6ToString(w0!, w1!, w2!, w3!) !== text) return -1;
    return addressFilterIndex(false, w0!, w1!, w2!, w3!);
  }
  const w = parseIpv4Word(text);
  if (w < 0 || ipv4ToString(w) !== text) return -1;
  return addressFilterIndex(true, 0, 0, 0, w);
}

/** Dotted quad → 32-bit value; -1 when not one. */
function parseIpv4Word(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let w = 0;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return -1;
    const n = Number(part);
    if (n > 255) return -1;
    w = w * 256 + n;
  }
  return w;
}

/** RFC 4291 §2.2 text (hex groups, one "::", an optional dotted IPv4 tail) → four words. */
function parseIpv6Words(text: string, out: Uint32Array): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups: number[][] = [];
  for (const half of halves) {
    const g: number[] = [];
    if (half !== '') {
      const parts = half.split(':');
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        if (i === parts.length - 1 && part.includes('.')) {
          const v4 = parseIpv4Word(part);
          if (v4 < 0) return false;
          g.push(v4 >>> 16, v4 & 0xffff);
        } else {
          if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return false;
          g.push(parseInt(part, 16));
        }
      }
    }
    groups.push(g);
  }
  const head = groups[0]!, tail = groups.length === 2 ? groups[1]! : [];
  const zeros = 8 - head.length - tail.length;
  if (groups.length === 1 ? zeros !== 0 : zeros < 1) return false;
  const all = [...head, ...new Array<number>(zeros).fill(0), ...tail];
  for (let i = 0; i < 4; i++) out[i] = ((all[2 * i]! << 16) | all[2 * i + 1]!) >>> 0;
  return true;
}
