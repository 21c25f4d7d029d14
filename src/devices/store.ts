/**
 * The device store: who is who on the local network, over time. One part per job, composed here
 * for the daemon, the replay CLI and DeviceIdentity; a caller that needs one job takes that part:
 *
 * - `devices` (store/device-table.ts): the devices in recency order, by uid, MAC or agent id;
 *   creation, eviction beyond maxDevices, evidence, change reports (onChange).
 * - `links` (store/device-links.ts): which device a sighting is about; MACs linked into one
 *   identity (agent, DHCP client id, DHCP host name) and split out again (unlinkMac).
 * - `addresses` (store/address-timeline.ts): address → device intervals by the order of trust,
 *   time-aware lookup, and the uid → addresses index.
 * - `names` (store/names.ts): host names by trust, OS hints, vendor.
 * - `users` (store/users.ts): user spans reported by agents or bound by logons seen on the wire.
 * - `logonServers` (store/logon-servers.ts): the MACs logon servers answer from (pins).
 * - `agents` (store/agents.ts): enrolled agents' records for the AgentRegistry.
 * - `persistence` (store/persistence.ts): LMDB, its key layout and batched writes.
 *
 * Here: opening (load, then the address index rebuilt), flush and close, and compact(nowMs),
 * which drops history older than deviceHistoryRetentionMs across the parts. Every drop is counted.
 */
import { devicesConfig, type DevicesConfig } from './config.js';
import { DeviceCounters, type Device, type DeviceChange } from './store/model.js';
import { DevicePersistence } from './store/persistence.js';
import { DeviceTable } from './store/device-table.js';
import { AddressTimeline } from './store/address-timeline.js';
import { DeviceLinks, LinkIndex } from './store/device-links.js';
import { DeviceNames } from './store/names.js';
import { DeviceUsers } from './store/users.js';
import { LogonServers } from './store/logon-servers.js';
import { AgentRecords } from './store/agents.js';

/** Logon servers whose address → MAC is remembered (the oldest learned dropped, counted). */
const MAX_LOGON_SERVERS = 4096;

export {
  Trust, TRUST_NAMES, OPEN_MS, DeviceCounters,
  type Evidence, type MacLink, type UserSpan, type Device, type Binding, type DeviceChange, type Sighting,
} from './store/model.js';
export type { DeviceTable } from './store/device-table.js';
export type { AddressTimeline } from './store/address-timeline.js';
export type { DeviceLinks } from './store/device-links.js';
export type { DeviceNames } from './store/names.js';
export type { DeviceUsers } from './store/users.js';
export type { AgentRecords } from './store/agents.js';
export type { DevicePersistence } from './store/persistence.js';

export class DeviceStore {
  readonly settings: DevicesConfig;
  readonly counters = new DeviceCounters();
  readonly persistence: DevicePersistence;
  readonly devices: DeviceTable;
  readonly addresses: AddressTimeline;
  readonly links: DeviceLinks;
  readonly names: DeviceNames;
  readonly users: DeviceUsers;
  /** Logon servers' pinned MACs (DeviceIdentity.onLogon). */
  readonly logonServers: LogonServers;
  readonly agents: AgentRecords;
  private readonly linkIndex: LinkIndex;

  constructor(settings?: Partial<DevicesConfig>) {
    this.settings = devicesConfig(settings);
    const s = this.settings, c = this.counters;
    this.persistence = new DevicePersistence({
      device: (uid) => this.devices.get(uid),
      intervals: (address) => this.addresses.intervals(address),
    }, c, s.deviceFlushIntervalMs);
    const dirty = this.persistence.dirty;
    this.devices = new DeviceTable(s, c, dirty);
    this.linkIndex = new LinkIndex(c, this.devices);
    this.devices.onRemove = (d) => this.linkIndex.forget(d);
    this.addresses = new AddressTimeline(s, c, this.devices, dirty);
    this.names = new DeviceNames(this.devices, this.linkIndex);
    this.links = new DeviceLinks(s, c, this.devices, this.linkIndex, this.names, this.addresses);
    this.users = new DeviceUsers(s, c, this.devices, this.addresses);
    this.agents = new AgentRecords(this.persistence);
    this.logonServers = new LogonServers(this.persistence, MAX_LOGON_SERVERS);
  }

  /** Told of every device change (Device Inventory events). */
  get onChange(): ((d: Device, change: DeviceChange, atMs: number) => void) | null { return this.devices.onChange; }
  set onChange(f: ((d: Device, change: DeviceChange, atMs: number) => void) | null) { this.devices.onChange = f; }

  /** Opens (creating) the LMDB store at `path` and loads it. */
  open(path: string): void {
    this.persistence.open(path, {
      device: (d) => { this.devices.insert(d); this.linkIndex.load(d); this.counters.loaded++; },
      intervals: (address, list) => this.addresses.load(address, list),
    });
    this.addresses.rebuildIndex();
    this.logonServers.load();
    this.counters.devices = this.devices.size;
    this.persistence.startTimer();
  }

  /** Writes pending changes; failures are counted and retried on the next flush. */
  flush(): void { this.persistence.flush(); }

  async close(): Promise<void> { await this.persistence.close(); }

  /**
   * Drops history older than deviceHistoryRetentionMs before nowMs: closed address intervals
   * that ended before it, user spans and evidence older than it, and devices not seen since.
   * Called by the daily `retention` job (and on demand); returns what it removed.
   */
  compact(nowMs: number): { bindings: number; devices: number } {
    const cutoff = nowMs - this.settings.deviceHistoryRetentionMs;
    const nb = this.addresses.dropBefore(cutoff);
    let nd = 0;
    for (const d of [...this.devices.all()]) {
      if (d.lastSeenMs < cutoff) { this.devices.remove(d.uid); nd++; continue; }
      const n = this.users.dropBefore(d, cutoff) + this.devices.dropEvidenceBefore(d, cutoff);
      if (n !== 0) { this.counters.compactedEvidence += n; this.devices.mark(d); }
    }
    this.counters.compactedBindings += nb;
    this.counters.compactedDevices += nd;
    this.flush();
    return { bindings: nb, devices: nd };
  }

  snapshot(): Record<string, number> {
    this.counters.devices = this.devices.size;
    return this.counters.snapshot();
  }
}
