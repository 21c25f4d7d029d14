/**
 * The devices the store knows, in recency order, with the two indexes that name a device
 * outright: a MAC it holds and the agent that reported it. Creating a device beyond maxDevices
 * evicts the least recently seen one (counted); every change is marked for the next flush and
 * reported to onChange (Device Inventory events).
 *
 * The other parts build on this table: device-links.ts decides which device a sighting is about
 * and moves MACs between devices, address-timeline.ts maps addresses to devices over time,
 * names.ts and users.ts keep what a device is called and who uses it.
 */
import type { DevicesConfig } from '../config.js';
import type { Device, DeviceChange, DeviceCounters, Evidence } from './model.js';
import type { DirtyMarks } from './persistence.js';

export class DeviceTable {
  /** Insertion order = recency (touch re-inserts): the first entry is the eviction candidate. */
  private readonly devices = new Map<string, Device>();
  private readonly byMac = new Map<string, string>();
  private readonly byAgent = new Map<string, string>();
  onChange: ((d: Device, change: DeviceChange, atMs: number) => void) | null = null;
  /** Told when a device leaves the table (eviction, fold, compaction): the linking indexes let go of it. */
  onRemove: ((d: Device) => void) | null = null;

  constructor(private readonly settings: DevicesConfig, private readonly counters: DeviceCounters, private readonly dirty: DirtyMarks) {}

  get size(): number { return this.devices.size; }
  get(uid: string): Device | undefined { return this.devices.get(uid); }
  has(uid: string): boolean { return this.devices.has(uid); }
  byMacAddress(mac: string): Device | undefined { const u = this.byMac.get(mac); return u === undefined ? undefined : this.devices.get(u); }
  byAgentId(id: string): Device | undefined { const u = this.byAgent.get(id); return u === undefined ? undefined : this.devices.get(u); }
  all(): IterableIterator<Device> { return this.devices.values(); }

  /** A device read from disk, with its MAC and agent index entries. */
  insert(d: Device): void {
    this.devices.set(d.uid, d);
    for (const m of d.macs) this.byMac.set(m, d.uid);
    if (d.agentId !== undefined) this.byAgent.set(d.agentId, d.uid);
  }

  /** Points `mac` at `d` in the MAC index (the MAC list itself is device-links.ts's). */
  indexMac(mac: string, d: Device): void { this.byMac.set(mac, d.uid); }
  unindexMac(mac: string): void { this.byMac.delete(mac); }

  /** Gives `d` the agent id and indexes it. */
  setAgent(d: Device, agentId: string): void {
    d.agentId = agentId;
    this.byAgent.set(agentId, d.uid);
  }

  /** `d` was seen at atMs: most recent now, and marked for the next flush. */
  touch(d: Device, atMs: number): void {
    if (atMs > d.lastSeenMs) d.lastSeenMs = atMs;
    this.devices.delete(d.uid);
    this.devices.set(d.uid, d);
    this.dirty.devices.add(d.uid);
  }

  /** Marks `d` for the next flush and reports the change. */
  changed(d: Device, c: DeviceChange, atMs: number): void {
    this.dirty.devices.add(d.uid);
    this.onChange?.(d, c, atMs);
  }

  /** Marks `d` for the next flush, without a change to report. */
  mark(d: Device): void { this.dirty.devices.add(d.uid); }

  /** A new, empty device; the least recently seen ones go while the table is over maxDevices. */
  create(uid: string, atMs: number): Device {
    const d: Device = {
      uid, macs: [], links: [], hostnameTrust: 0, clientIds: [], randomizedMac: false,
      addresses: [], users: [], evidence: [], firstSeenMs: atMs, lastSeenMs: atMs,
    };
    this.devices.set(uid, d);
    this.counters.created++;
    while (this.devices.size > this.settings.maxDevices) {
      const oldest = this.devices.keys().next().value as string;
      this.remove(oldest);
      this.counters.evicted++;
    }
    this.counters.devices = this.devices.size;
    this.dirty.devices.add(uid);
    return d;
  }

  remove(uid: string): void {
    const d = this.devices.get(uid);
    if (d === undefined) return;
    this.devices.delete(uid);
    for (const m of d.macs) if (this.byMac.get(m) === uid) this.byMac.delete(m);
    if (d.agentId !== undefined && this.byAgent.get(d.agentId) === uid) this.byAgent.delete(d.agentId);
    this.onRemove?.(d);
    this.dirty.devices.add(uid);
    this.counters.devices = this.devices.size;
  }

  addEvidence(d: Device, e: Evidence): void {
    // Same kind and value: refresh the time instead of growing the list.
    const same = d.evidence.find((x) => x.kind === e.kind && x.value === e.value && x.source === e.source);
    if (same !== undefined) { same.atMs = Math.max(same.atMs, e.atMs); return; }
    d.evidence.push(e);
    while (d.evidence.length > this.settings.maxEvidencePerDevice) { d.evidence.shift(); this.counters.compactedEvidence++; }
    this.dirty.devices.add(d.uid);
  }

  /** Drops evidence older than `cutoff` (compaction); returns how many went. */
  dropEvidenceBefore(d: Device, cutoff: number): number {
    const e = d.evidence.length;
    d.evidence = d.evidence.filter((x) => x.atMs >= cutoff);
    return e - d.evidence.length;
  }
}
