/**
 * The device store on disk: one LMDB environment (`open(path)`) with this key layout, which
 * existing data depends on (a change here is a migration):
 *
 *   ['d', uid]      → Device                   (written in batches by flush())
 *   ['b', address]  → Binding[] (its intervals) (written in batches by flush())
 *   ['a', agentId]  → an enrolled agent with its signing secret (AgentRecords, written at once)
 *   ['s', address]  → { mac, atMs }: the MAC a logon server answered from (LogonServers, written at once)
 *
 * The other parts of the store only mark what they changed (DirtyMarks); flush() writes those
 * records in one transaction, every deviceFlushIntervalMs and on close. Failures are counted
 * (`devices.flush_errors`) and the marks kept, so the next flush retries. The directory is made
 * 0700 and its files 0600 on open: only the daemon's user can read the agents' secrets.
 */
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { open as lmdbOpen, type RootDatabase } from 'lmdb';
import { prepareStoreDir } from '../../privileges.js';
import { OutpostError } from '../../errors.js';
import type { Binding, Device, DeviceCounters } from './model.js';

/** Records changed since the last flush, by key: what the store's parts write to. */
export interface DirtyMarks {
  /** Device uids: written from the device table, or removed when it no longer holds them. */
  readonly devices: Set<string>;
  /** Addresses: their intervals written, or removed when none are left. */
  readonly addresses: Set<string>;
}

/** Where flush() reads the current records of what was marked. */
export interface PersistedRecords {
  device(uid: string): Device | undefined;
  intervals(address: string): Binding[] | undefined;
}

/** What open() found on disk, handed over record by record. */
export interface LoadTarget {
  device(d: Device): void;
  intervals(address: string, list: Binding[]): void;
}

/** The key prefixes of the layout above. */
const DEVICE = 'd', BINDINGS = 'b', AGENT = 'a', LOGON_SERVER = 's';

export class DevicePersistence {
  readonly dirty: DirtyMarks = { devices: new Set(), addresses: new Set() };
  private db: RootDatabase | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly records: PersistedRecords, private readonly counters: DeviceCounters, private readonly flushIntervalMs: number) {}

  /** True while an LMDB store is open. */
  get isOpen(): boolean { return this.db !== null; }

  /** Opens (creating) the LMDB store at `path`, hands what it holds to `load`, and starts the flush timer. */
  open(path: string, load: LoadTarget): void {
    try {
      prepareStoreDir(path);
      this.db = lmdbOpen({ path, compression: false });
    } catch (err) {
      throw new OutpostError('DEVICE_STORE_OPEN_FAILED', { path, reason: (err as Error).message }, { details: { path }, cause: err });
    }
    restrictPermissions(path);
    for (const { key, value } of this.db.getRange({ start: [DEVICE], end: [DEVICE, '\uffff'] })) {
      const d = value as Device;
      if (Array.isArray(key) && typeof d?.uid === 'string') load.device(d);
    }
    for (const { key, value } of this.db.getRange({ start: [BINDINGS], end: [BINDINGS, '\uffff'] })) {
      if (Array.isArray(key) && typeof key[1] === 'string' && Array.isArray(value)) load.intervals(key[1], value as Binding[]);
    }
  }

  /** Starts the periodic flush (after open() and whatever the loader rebuilds). */
  startTimer(): void {
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes pending changes; failures are counted and retried on the next flush. */
  flush(): void {
    const db = this.db;
    const dirty = this.dirty;
    if (db === null || (dirty.devices.size === 0 && dirty.addresses.size === 0)) return;
    const devs = [...dirty.devices], addrs = [...dirty.addresses];
    try {
      db.transactionSync(() => {
        for (const uid of devs) {
          const d = this.records.device(uid);
          if (d === undefined) void db.remove([DEVICE, uid]); else void db.put([DEVICE, uid], d);
        }
        for (const a of addrs) {
          const b = this.records.intervals(a);
          if (b === undefined) void db.remove([BINDINGS, a]); else void db.put([BINDINGS, a], b);
        }
      });
      dirty.devices.clear();
      dirty.addresses.clear();
      this.counters.flushes++;
    } catch {
      this.counters.flushErrors++;
    }
  }

  /** Stops the timer, writes what is pending and closes LMDB. */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.flush();
    if (this.db !== null) await this.db.close();
    this.db = null;
  }

  /** Records under ['a', …] whose value has a string `agentId` (AgentRecords). */
  agentRecords<T extends { agentId: string }>(): T[] {
    const db = this.db;
    if (db === null) return [];
    const out: T[] = [];
    for (const { key, value } of db.getRange({ start: [AGENT], end: [AGENT, '\uffff'] })) {
      if (Array.isArray(key) && typeof key[1] === 'string' && typeof (value as T | undefined)?.agentId === 'string') out.push(value as T);
    }
    return out;
  }

  /**
   * Writes (or with value undefined removes) ['a', agentId]: synchronously when `durable`,
   * else queued to LMDB's next asynchronous commit. False when no store is open or the write
   * failed (counted).
   */
  putAgentRecord(agentId: string, value: object | undefined, durable: boolean): boolean {
    const db = this.db;
    if (db === null) return false;
    try {
      if (durable) {
        if (value === undefined) db.removeSync([AGENT, agentId]); else db.putSync([AGENT, agentId], value);
      } else {
        const p = value === undefined ? db.remove([AGENT, agentId]) : db.put([AGENT, agentId], value);
        p.catch(() => { this.counters.flushErrors++; });
      }
      return true;
    } catch {
      this.counters.flushErrors++;
      return false;
    }
  }

  /** Records under ['s', address] (LogonServers). */
  logonServerRecords(): Array<{ address: string; record: LogonServerRecord }> {
    const db = this.db;
    if (db === null) return [];
    const out: Array<{ address: string; record: LogonServerRecord }> = [];
    for (const { key, value } of db.getRange({ start: [LOGON_SERVER], end: [LOGON_SERVER, '\uffff'] })) {
      const v = value as Partial<LogonServerRecord> | undefined;
      if (Array.isArray(key) && typeof key[1] === 'string' && typeof v?.mac === 'string' && typeof v.atMs === 'number') out.push({ address: key[1], record: { mac: v.mac, atMs: v.atMs } });
    }
    return out;
  }

  /** Queues (or with value undefined removes) ['s', address] to LMDB's next commit; false when no store is open. */
  putLogonServer(address: string, value: LogonServerRecord | undefined): boolean {
    const db = this.db;
    if (db === null) return false;
    const p = value === undefined ? db.remove([LOGON_SERVER, address]) : db.put([LOGON_SERVER, address], value);
    p.catch(() => { this.counters.flushErrors++; });
    return true;
  }
}

/** A logon server's pinned MAC as stored under ['s', address]. */
export interface LogonServerRecord { mac: string; atMs: number }

/** Owner-only access to the LMDB directory and its files (they hold agent secrets). Best effort. */
function restrictPermissions(path: string): void {
  try {
    chmodSync(path, 0o700);
    for (const f of readdirSync(path)) chmodSync(join(path, f), 0o600);
  } catch {
    // A file path (noSubdir) or a filesystem without modes: left as the umask made them.
  }
}
