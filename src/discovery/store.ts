/**
 * Discovery rollups and administrator state in LMDB (one environment, `<dataDir>/discovery`).
 *
 * Rollups — bytes up/down, flows, first/last seen and client IPs per (app, device, user) and
 * time bucket, at two granularities written in the same transaction (so hour and day rows never
 * disagree after a crash or restart):
 *   ['h', hourStartMs, appId, deviceKey, userKey] → Rollup
 *   ['d', dayStartMs (UTC), appId, deviceKey, userKey] → Rollup
 * The time comes first so retention is one range delete per granularity, and a report over
 * [from, to) is one range scan.
 *
 * Changes are merged in memory and written every flushIntervalMs or flushMaxRecords distinct
 * keys, whichever first (read-modify-write inside one transaction); close() writes what is pending.
 *
 * Other key spaces: ['o', appId] → AppOverride, ['s', appId] → sanction state,
 * ['p', pseudonym] → user name, ['a', timeMs, seq] → audit record, ['m', name] → meta value.
 */
import type { RootDatabase } from 'lmdb';
import { openPrivateStore } from '../privileges.js';
import { OutpostError } from '../errors.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export interface Rollup {
  /** Bytes client → server (upload) and server → client. */
  up: number;
  down: number;
  /** Flows that ended in the bucket (Close or Reset events). */
  flows: number;
  /** Network Activity events counted (interim Traffic events included). */
  events: number;
  first: number;
  last: number;
  /** Client addresses seen (bounded by maxIpsPerRollup). */
  ips: string[];
  /** Latest device hostname / MAC seen for the device key. */
  deviceName?: string;
  /**
   * Attempts the control policy blocked (Network Activity events with disposition Blocked);
   * absent while there were none (rows written before blocking existed read as 0).
   */
  blocked?: number;
}

export type Granularity = 'h' | 'd';
type Key = (string | number)[];

export interface RollupInput {
  timeMs: number;
  appId: string;
  deviceKey: string;
  userKey: string;
  up: number;
  down: number;
  flowEnded: boolean;
  clientIp: string | undefined;
  deviceName: string | undefined;
  /** The event is a blocked attempt (counted in `blocked`, no bytes). */
  blocked?: boolean;
}

export interface StoreSettings {
  flushIntervalMs: number;
  flushMaxRecords: number;
  maxIpsPerRollup: number;
}

function merge(into: Rollup, r: Rollup, maxIps: number): void {
  into.up += r.up;
  into.down += r.down;
  into.flows += r.flows;
  into.events += r.events;
  into.first = Math.min(into.first, r.first);
  into.last = Math.max(into.last, r.last);
  for (const ip of r.ips) if (into.ips.length < maxIps && !into.ips.includes(ip)) into.ips.push(ip);
  if (r.deviceName !== undefined) into.deviceName = r.deviceName;
  if (r.blocked !== undefined) into.blocked = (into.blocked ?? 0) + r.blocked;
}

export class DiscoveryStore {
  private db: RootDatabase<unknown, Key> | undefined;
  private pending = new Map<string, { key: Key; value: Rollup }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private auditSeq = 0;
  flushes = 0;
  flushErrors = 0;

  constructor(private readonly settings: StoreSettings) {}

  open(path: string): void {
    // It maps pseudonyms back to user names: owner-only whatever the umask.
    this.db = openPrivateStore<unknown, Key>(path);
    this.timer = setInterval(() => { void this.flush(); }, this.settings.flushIntervalMs);
    this.timer.unref();
  }

  private get d(): RootDatabase<unknown, Key> {
    if (this.db === undefined) throw new OutpostError('INTERNAL', { reason: 'discovery store is not open' });
    return this.db;
  }

  add(i: RollupInput): void {
    const hour = Math.floor(i.timeMs / HOUR_MS) * HOUR_MS;
    const day = Math.floor(i.timeMs / DAY_MS) * DAY_MS;
    // Pending keys are strings joined by NUL (which none of the parts contains: app ids, device
    // and user keys are names and addresses); the LMDB key tuple is built only for a new row.
    const rest = `\u0000${i.appId}\u0000${i.deviceKey}\u0000${i.userKey}`;
    this.addTo(`h\u0000${hour}${rest}`, 'h', hour, i);
    this.addTo(`d\u0000${day}${rest}`, 'd', day, i);
    if (this.pending.size >= this.settings.flushMaxRecords) void this.flush();
  }

  private addTo(k: string, g: Granularity, bucket: number, i: RollupInput): void {
    const p = this.pending.get(k);
    if (p === undefined) {
      const value: Rollup = { up: i.up, down: i.down, flows: i.flowEnded ? 1 : 0, events: 1, first: i.timeMs, last: i.timeMs, ips: i.clientIp === undefined ? [] : [i.clientIp] };
      if (i.deviceName !== undefined) value.deviceName = i.deviceName;
      if (i.blocked === true) value.blocked = 1;
      this.pending.set(k, { key: [g, bucket, i.appId, i.deviceKey, i.userKey], value });
      return;
    }
    const v = p.value;
    v.up += i.up;
    v.down += i.down;
    if (i.flowEnded) v.flows++;
    v.events++;
    if (i.timeMs < v.first) v.first = i.timeMs;
    if (i.timeMs > v.last) v.last = i.timeMs;
    if (i.clientIp !== undefined && v.ips.length < this.settings.maxIpsPerRollup && !v.ips.includes(i.clientIp)) v.ips.push(i.clientIp);
    if (i.deviceName !== undefined) v.deviceName = i.deviceName;
    if (i.blocked === true) v.blocked = (v.blocked ?? 0) + 1;
  }

  /** Writes pending rollups (merged with what is stored) in one transaction. */
  flush(): Promise<void> {
    if (this.pending.size === 0 || this.db === undefined) return this.flushing;
    const batch = this.pending;
    this.pending = new Map();
    const db = this.db;
    const max = this.settings.maxIpsPerRollup;
    this.flushing = this.flushing.then(() => db.transaction(() => {
      for (const { key, value } of batch.values()) {
        const old = db.get(key) as Rollup | undefined;
        if (old !== undefined) { merge(old, value, max); db.put(key, old); } else db.put(key, value);
      }
    })).then(() => { this.flushes++; }, () => {
      this.flushErrors++;
      // Keep the changes for the next try.
      for (const [k, v] of batch) {
        const p = this.pending.get(k);
        if (p === undefined) this.pending.set(k, v); else merge(p.value, v.value, max);
      }
    });
    return this.flushing;
  }

  /** Stored rollup rows of one granularity with bucket start in [fromMs, toMs) (flush() first for fresh figures). */
  *rows(g: Granularity, fromMs: number, toMs: number): Generator<{ bucket: number; appId: string; deviceKey: string; userKey: string; value: Rollup }> {
    for (const { key, value } of this.d.getRange({ start: [g, fromMs], end: [g, toMs] })) {
      const k = key as [string, number, string, string, string];
      yield { bucket: k[1], appId: k[2], deviceKey: k[3], userKey: k[4], value: value as Rollup };
    }
  }

  /** Deletes hourly rows older than hourCutoffMs and daily rows older than dayCutoffMs. */
  async compact(hourCutoffMs: number, dayCutoffMs: number): Promise<{ hourly: number; daily: number }> {
    await this.flush();
    const db = this.d;
    let hourly = 0, daily = 0;
    await db.transaction(() => {
      for (const key of db.getKeys({ start: ['h', 0], end: ['h', hourCutoffMs] })) { db.remove(key); hourly++; }
      for (const key of db.getKeys({ start: ['d', 0], end: ['d', dayCutoffMs] })) { db.remove(key); daily++; }
      db.put(['m', 'hourlyKeptFromMs'], hourCutoffMs);
      db.put(['m', 'dailyKeptFromMs'], dayCutoffMs);
    });
    return { hourly, daily };
  }

  meta(name: string): unknown { return this.d.get(['m', name]); }

  // Administrator state.
  overrides(): Map<string, unknown> {
    const m = new Map<string, unknown>();
    for (const { key, value } of this.d.getRange({ start: ['o'], end: ['o', '\uffff'] })) m.set(String((key as Key)[1]), value);
    return m;
  }
  async putOverride(id: string, value: unknown | null): Promise<void> {
    if (value === null) await this.d.remove(['o', id]); else await this.d.put(['o', id], value);
  }
  sanctions(): Map<string, string> {
    const m = new Map<string, string>();
    for (const { key, value } of this.d.getRange({ start: ['s'], end: ['s', '\uffff'] })) m.set(String((key as Key)[1]), String(value));
    return m;
  }
  async putSanction(id: string, state: string | null): Promise<void> {
    if (state === null) await this.d.remove(['s', id]); else await this.d.put(['s', id], state);
  }
  /** The name behind a pseudonym; waits for the pseudonyms issued so far to be written (a reveal right after must find them). */
  async pseudonymTarget(p: string): Promise<string | undefined> {
    await this.pseudonymWrites;
    return this.d.get(['p', p]) as string | undefined;
  }
  private pseudonymWrites: Promise<unknown> = Promise.resolve();
  rememberPseudonym(p: string, name: string): void {
    if (this.d.get(['p', p]) === undefined) this.pseudonymWrites = this.d.put(['p', p], name);
  }
  async audit(record: Record<string, unknown>): Promise<void> {
    await this.d.put(['a', Date.now(), this.auditSeq++], record);
  }
  auditLog(limit: number): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const { key, value } of this.d.getRange({ start: ['a', Number.MAX_SAFE_INTEGER], end: ['a', 0], reverse: true, limit })) {
      out.push({ timeMs: (key as Key)[1], ...(value as Record<string, unknown>) });
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.db === undefined) return;
    await this.flush();
    await this.flushing;
    const db = this.db;
    this.db = undefined;
    await db.close();
  }
}
