/**
 * The device store: who is who on the local network, over time.
 *
 * - Identity: a device is keyed by a stable identity — its first MAC (`mac:aa:bb:..`) or, when an
 *   agent reported it first, its agent id (`agent:<id>`). Further MACs are linked to it (MAC
 *   randomization, several interfaces) with the reason, a confidence and the time kept in
 *   `links`; `unlinkMac` splits a MAC back out, so merges are visible and reversible.
 * - Linking rules (see docs/DEVICES.md): the agent's own MAC list (confidence 1), the same DHCP
 *   client identifier (RFC 2132 §9.14, confidence 0.9), or — only for locally administered MACs —
 *   the same DHCP or agent host name (confidence 0.6; names from mDNS/LLMNR/NetBIOS never link).
 *   They apply to an unknown MAC and to one whose device is still weak (ARP/NDP/names only),
 *   which is then folded in; an index held by another strong identity is never repointed.
 * - Address bindings are time intervals per address: [fromMs, toMs) held by one device, with the
 *   source's trust. A flow at time t maps to the device whose interval holds t (`lookup`), even
 *   after the address has moved on.
 * - Order of trust: agent (4) > DHCP ACK (3) > ARP/NDP (2) > DNS/mDNS (1). Lower-trust evidence
 *   that contradicts a binding is refused while the binding is held: a DHCP lease until it
 *   expires, anything else for trustHoldMs after it was last confirmed (counted). A DHCP lease
 *   newer than an agent's last report of the address is proof it moved and ends the agent's
 *   interval (refuses()).
 * - Users: agent heartbeats open or extend a [fromMs, lastHeartbeat + agentHeartbeatTtlMs] span.
 * - Bounds: maxDevices (least recently seen evicted), maxBindingsPerAddress, 8 × maxDevices
 *   addresses (those nobody holds evicted first), maxEvidencePerDevice; compact(nowMs) drops
 *   history older than deviceHistoryRetentionMs. Every drop is counted.
 * - Persistence: LMDB (`open(path)`), keys ['d', uid] → device, ['b', address] → intervals,
 *   written in batches by flush(); loaded on open. ['a', agentId] → an enrolled agent with its
 *   signing secret (AgentRegistry, written at once). The directory is made 0700 and its files
 *   0600 on open: only the daemon's user can read the secrets.
 */
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { open as lmdbOpen, type RootDatabase } from 'lmdb';
import { devicesConfig, type DevicesConfig } from './config.js';
import { isRandomizedMac, macVendor } from './oui.js';
import { OutpostError } from '../errors.js';
import type { OsHint } from './os-hints.js';

export const Trust = { DNS: 1, NEIGHBOR: 2, DHCP: 3, AGENT: 4 } as const;
export { TRUST_NAMES } from '../events/device-events.js';
/** End of an interval still open. */
export const OPEN_MS = Number.MAX_SAFE_INTEGER;

export interface Evidence {
  kind: string;
  value: string;
  source: string;
  atMs: number;
  confidence?: number;
}

export interface MacLink {
  mac: string;
  reason: 'first' | 'agent' | 'dhcp_client_id' | 'hostname' | 'manual';
  confidence: number;
  atMs: number;
  /** The value that matched (client id, host name, agent id). */
  value?: string;
  /** Set when the link was undone (unlinkMac): the MAC now belongs to `splitTo`. */
  unlinkedMs?: number;
  splitTo?: string;
  /** The device the MAC had until this link, when it was folded in whole (it had no other MAC). */
  mergedFrom?: string;
}

export interface UserSpan {
  name: string;
  domain?: string;
  /** SID or numeric uid as reported by the agent. */
  uid?: string;
  upn?: string;
  fromMs: number;
  toMs: number;
}

export interface Device {
  uid: string;
  macs: string[];
  links: MacLink[];
  agentId?: string;
  hostname?: string;
  hostnameTrust: number;
  hostnameSource?: string;
  clientIds: string[];
  vendor?: string;
  randomizedMac: boolean;
  os?: { name: string; typeId: number; confidence: number; evidence: string };
  typeId?: number;
  /** Addresses the device holds now (open intervals). */
  addresses: string[];
  users: UserSpan[];
  evidence: Evidence[];
  firstSeenMs: number;
  lastSeenMs: number;
  /**
   * Highest trust of the sightings that identified the device (Trust.*): below DHCP it is known
   * only from ARP/NDP or name announcements, and stronger linking evidence may fold it into
   * another identity. Absent in devices saved before it existed (see identityTrust()).
   */
  identityTrust?: number;
}

export interface Binding {
  uid: string;
  mac?: string;
  fromMs: number;
  /** Exclusive end; OPEN_MS while held. */
  toMs: number;
  lastMs: number;
  /** Validity of an open interval: lease end, or lastMs + addressBindingTtlMs. */
  expiresMs: number;
  trust: number;
}

export type DeviceChange = 'new' | 'hostname' | 'mac_linked' | 'mac_unlinked' | 'agent' | 'os' | 'address';

export class DeviceCounters {
  created = 0; evicted = 0; macLinked = 0; macUnlinked = 0;
  /** Devices folded whole into another identity when their only MAC was linked to it. */
  merged = 0;
  /** A client id or host name already indexed for another strong identity: the index kept it. */
  linkConflicts = 0;
  addressBound = 0; addressMoved = 0; refusedLowerTrust = 0; bindingsDropped = 0; addressesEvicted = 0;
  /** Address cap: evicted with no interval held at the time / while held (no free one found). */
  addressesEvictedExpired = 0; addressesEvictedHeld = 0;
  compactedBindings = 0; compactedDevices = 0; compactedEvidence = 0;
  lookups = 0; lookupHits = 0; loaded = 0; flushes = 0; flushErrors = 0;
  devices = 0;
  snapshot(): Record<string, number> {
    return {
      'devices.created': this.created, 'devices.evicted': this.evicted,
      'devices.mac_linked': this.macLinked, 'devices.mac_unlinked': this.macUnlinked,
      'devices.merged': this.merged, 'devices.link_conflicts': this.linkConflicts,
      'devices.address_bound': this.addressBound, 'devices.address_moved': this.addressMoved,
      'devices.binding_refused_lower_trust': this.refusedLowerTrust, 'devices.bindings_dropped': this.bindingsDropped,
      'devices.addresses_evicted': this.addressesEvicted,
      'devices.addresses_evicted_expired': this.addressesEvictedExpired, 'devices.addresses_evicted_held': this.addressesEvictedHeld,
      'devices.compacted_bindings': this.compactedBindings, 'devices.compacted_devices': this.compactedDevices,
      'devices.compacted_evidence': this.compactedEvidence,
      'devices.lookups': this.lookups, 'devices.lookup_hits': this.lookupHits,
      'devices.loaded': this.loaded, 'devices.flushes': this.flushes, 'devices.flush_errors': this.flushErrors,
      'devices.count': this.devices,
    };
  }
}

/** What one observation says about a device. */
export interface Sighting {
  mac?: string;
  agentId?: string;
  clientId?: string;
  hostname?: string;
  /** Trust of this source for the host name (Trust.*). */
  trust: number;
  source: string;
  atMs: number;
}

export class DeviceStore {
  readonly settings: DevicesConfig;
  readonly counters = new DeviceCounters();
  /** Insertion order = recency (touch re-inserts): the first entry is the eviction candidate. */
  private readonly devices = new Map<string, Device>();
  private readonly byMac = new Map<string, string>();
  private readonly byAgent = new Map<string, string>();
  private readonly byClientId = new Map<string, string>();
  private readonly byHostname = new Map<string, string>();
  private readonly bindings = new Map<string, Binding[]>();
  /**
   * uid → the addresses where that device has an interval (held or history). Moving a MAC's
   * intervals to another device (a link, a split, a fold) then visits the device's own addresses
   * instead of every address: a flood of DHCP requests with fresh randomized MACs and a known
   * client id would otherwise cost a scan of the whole table per packet.
   */
  private readonly addressesByUid = new Map<string, Set<string>>();
  private db: RootDatabase | null = null;
  private readonly dirtyDevices = new Set<string>();
  private readonly dirtyBindings = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  onChange: ((d: Device, change: DeviceChange, atMs: number) => void) | null = null;

  constructor(settings?: Partial<DevicesConfig>) {
    this.settings = devicesConfig(settings);
  }

  // ---- persistence -------------------------------------------------------------------------

  /** Opens (creating) the LMDB store at `path` and loads it. */
  open(path: string): void {
    try {
      this.db = lmdbOpen({ path, compression: false });
    } catch (err) {
      throw new OutpostError('DEVICE_STORE_OPEN_FAILED', { path, reason: (err as Error).message }, { details: { path }, cause: err });
    }
    restrictPermissions(path);
    for (const { key, value } of this.db.getRange({ start: ['d'], end: ['d', '\uffff'] })) {
      const d = value as Device;
      if (Array.isArray(key) && typeof d?.uid === 'string') { this.insertDevice(d); this.counters.loaded++; }
    }
    for (const { key, value } of this.db.getRange({ start: ['b'], end: ['b', '\uffff'] })) {
      if (Array.isArray(key) && typeof key[1] === 'string' && Array.isArray(value)) this.bindings.set(key[1], value as Binding[]);
    }
    this.rebuildAddressIndex();
    this.counters.devices = this.devices.size;
    this.timer = setInterval(() => this.flush(), this.settings.deviceFlushIntervalMs);
    this.timer.unref();
  }

  /** Writes pending changes; failures are counted and retried on the next flush. */
  flush(): void {
    const db = this.db;
    if (db === null || (this.dirtyDevices.size === 0 && this.dirtyBindings.size === 0)) return;
    const devs = [...this.dirtyDevices], addrs = [...this.dirtyBindings];
    try {
      db.transactionSync(() => {
        for (const uid of devs) {
          const d = this.devices.get(uid);
          if (d === undefined) void db.remove(['d', uid]); else void db.put(['d', uid], d);
        }
        for (const a of addrs) {
          const b = this.bindings.get(a);
          if (b === undefined) void db.remove(['b', a]); else void db.put(['b', a], b);
        }
      });
      this.dirtyDevices.clear();
      this.dirtyBindings.clear();
      this.counters.flushes++;
    } catch {
      this.counters.flushErrors++;
    }
  }

  // ---- enrolled agents (AgentRegistry) -------------------------------------------------------

  /** True while an LMDB store is open (agents can be persisted). */
  get persistent(): boolean { return this.db !== null; }

  /** Enrolled agents saved by saveAgent(). */
  loadAgents<T extends { agentId: string }>(): T[] {
    const db = this.db;
    if (db === null) return [];
    const out: T[] = [];
    for (const { key, value } of db.getRange({ start: ['a'], end: ['a', '\uffff'] })) {
      if (Array.isArray(key) && typeof key[1] === 'string' && typeof (value as T | undefined)?.agentId === 'string') out.push(value as T);
    }
    return out;
  }

  /**
   * Saves (or with value undefined removes) an enrolled agent. `durable`: written synchronously
   * (enrollment, revocation); otherwise queued to LMDB's next asynchronous commit (heartbeat
   * times). Returns false when no store is open or the write failed (counted).
   */
  saveAgent(agentId: string, value: object | undefined, durable: boolean): boolean {
    const db = this.db;
    if (db === null) return false;
    try {
      if (durable) {
        if (value === undefined) db.removeSync(['a', agentId]); else db.putSync(['a', agentId], value);
      } else {
        const p = value === undefined ? db.remove(['a', agentId]) : db.put(['a', agentId], value);
        p.catch(() => { this.counters.flushErrors++; });
      }
      return true;
    } catch {
      this.counters.flushErrors++;
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.flush();
    if (this.db !== null) await this.db.close();
    this.db = null;
  }

  // ---- identity ----------------------------------------------------------------------------

  get size(): number { return this.devices.size; }
  get(uid: string): Device | undefined { return this.devices.get(uid); }
  byMacAddress(mac: string): Device | undefined { const u = this.byMac.get(mac); return u === undefined ? undefined : this.devices.get(u); }
  byAgentId(id: string): Device | undefined { const u = this.byAgent.get(id); return u === undefined ? undefined : this.devices.get(u); }
  all(): IterableIterator<Device> { return this.devices.values(); }

  private insertDevice(d: Device): void {
    this.devices.set(d.uid, d);
    for (const m of d.macs) this.byMac.set(m, d.uid);
    if (d.agentId !== undefined) this.byAgent.set(d.agentId, d.uid);
    // Loading: the first device claiming a key keeps it, as at run time (no silent repointing).
    for (const c of d.clientIds) if (!this.byClientId.has(c)) this.byClientId.set(c, d.uid);
    if (d.hostname !== undefined && d.hostnameTrust >= Trust.DHCP && !this.byHostname.has(d.hostname.toLowerCase())) this.byHostname.set(d.hostname.toLowerCase(), d.uid);
  }

  private touch(d: Device, atMs: number): void {
    if (atMs > d.lastSeenMs) d.lastSeenMs = atMs;
    this.devices.delete(d.uid);
    this.devices.set(d.uid, d);
    this.dirtyDevices.add(d.uid);
  }

  private changed(d: Device, c: DeviceChange, atMs: number): void {
    this.dirtyDevices.add(d.uid);
    this.onChange?.(d, c, atMs);
  }

  private newDevice(uid: string, atMs: number): Device {
    const d: Device = {
      uid, macs: [], links: [], hostnameTrust: 0, clientIds: [], randomizedMac: false,
      addresses: [], users: [], evidence: [], firstSeenMs: atMs, lastSeenMs: atMs,
    };
    this.devices.set(uid, d);
    this.counters.created++;
    while (this.devices.size > this.settings.maxDevices) {
      const oldest = this.devices.keys().next().value as string;
      this.removeDevice(oldest);
      this.counters.evicted++;
    }
    this.counters.devices = this.devices.size;
    this.dirtyDevices.add(uid);
    return d;
  }

  private removeDevice(uid: string): void {
    const d = this.devices.get(uid);
    if (d === undefined) return;
    this.devices.delete(uid);
    for (const m of d.macs) if (this.byMac.get(m) === uid) this.byMac.delete(m);
    if (d.agentId !== undefined && this.byAgent.get(d.agentId) === uid) this.byAgent.delete(d.agentId);
    for (const c of d.clientIds) if (this.byClientId.get(c) === uid) this.byClientId.delete(c);
    if (d.hostname !== undefined && this.byHostname.get(d.hostname.toLowerCase()) === uid) this.byHostname.delete(d.hostname.toLowerCase());
    this.dirtyDevices.add(uid);
    this.counters.devices = this.devices.size;
  }

  addEvidence(d: Device, e: Evidence): void {
    // Same kind and value: refresh the time instead of growing the list.
    const same = d.evidence.find((x) => x.kind === e.kind && x.value === e.value && x.source === e.source);
    if (same !== undefined) { same.atMs = Math.max(same.atMs, e.atMs); return; }
    d.evidence.push(e);
    while (d.evidence.length > this.settings.maxEvidencePerDevice) { d.evidence.shift(); this.counters.compactedEvidence++; }
    this.dirtyDevices.add(d.uid);
  }

  private attachMac(d: Device, mac: string, link: MacLink): void {
    if (!d.macs.includes(mac)) d.macs.push(mac);
    d.links.push(link);
    if (d.links.length > this.settings.maxEvidencePerDevice) d.links.splice(0, d.links.length - this.settings.maxEvidencePerDevice);
    this.byMac.set(mac, d.uid);
    if (isRandomizedMac(mac)) d.randomizedMac = true;
    else if (d.vendor === undefined) { const v = macVendor(mac); if (v !== undefined) d.vendor = v; }
  }

  /**
   * Trust of what identified `d` (Device.identityTrust); for devices saved before the field
   * existed, read from what they carry: an agent id, a client id, a DHCP or agent host name or
   * DHCP evidence make it strong.
   */
  private identityTrust(d: Device): number {
    if (d.identityTrust !== undefined) return d.identityTrust;
    if (d.agentId !== undefined) return Trust.AGENT;
    if (d.clientIds.length > 0 || d.hostnameTrust >= Trust.DHCP || d.evidence.some((e) => e.source.startsWith('dhcp'))) return Trust.DHCP;
    return Trust.NEIGHBOR;
  }

  /**
   * A MAC's own device known only from ARP/NDP or name announcements: nothing in it contradicts
   * stronger linking evidence for that MAC, so it may be folded into the identity that evidence
   * names.
   */
  private isWeakOwnDevice(d: Device, mac: string): boolean {
    return d.agentId === undefined && d.clientIds.length === 0 && d.macs.length === 1 && d.macs[0] === mac
      && this.identityTrust(d) < Trust.DHCP;
  }

  /** True when an administrator split `mac` out of `d` (unlinkMac): linking rules must not undo it. */
  private wasSplitFrom(d: Device, mac: string): boolean {
    for (const l of d.links) if (l.mac === mac && l.unlinkedMs !== undefined) return true;
    return false;
  }

  /**
   * Finds or creates the device a sighting is about. A MAC is linked to an existing identity
   * (docs/DEVICES.md, "MAC randomization") when it is unknown or has only a weak device of its
   * own (isWeakOwnDevice: then that device is folded in) and the sighting carries strong evidence:
   * the agent id, or — from DHCP — the client id or (randomized MACs only) the host name. An
   * index (client id, host name) already held by another strong identity is never repointed:
   * the conflict is counted (`devices.link_conflicts`) and kept as evidence.
   */
  identify(s: Sighting): Device | undefined {
    let d: Device | undefined;
    if (s.agentId !== undefined) d = this.byAgentId(s.agentId);
    const own = s.mac !== undefined ? this.byMacAddress(s.mac) : undefined;
    if (s.mac !== undefined) {
      if (d !== undefined && own !== d) {
        // The agent lists this MAC: its signed heartbeat is the strongest evidence (trust 4) and
        // takes the MAC from any identity but another agent's.
        if (own !== undefined && own.agentId !== undefined) this.linkConflict(d, `mac ${s.mac} is on ${own.uid}`, s);
        else this.moveMac(s.mac, d, { mac: s.mac, reason: 'agent', confidence: 1, atMs: s.atMs, value: s.agentId! }, s.source);
      } else if (d === undefined && s.trust >= Trust.DHCP && (own === undefined || this.isWeakOwnDevice(own, s.mac))) {
        let reason: MacLink['reason'] | undefined, confidence = 0, value: string | undefined;
        if (s.clientId !== undefined) {
          const u = this.byClientId.get(s.clientId);
          if (u !== undefined) { d = this.devices.get(u); reason = 'dhcp_client_id'; confidence = 0.9; value = s.clientId; }
        }
        if (d === undefined && s.hostname !== undefined && isRandomizedMac(s.mac)) {
          const u = this.byHostname.get(s.hostname.toLowerCase());
          if (u !== undefined) { d = this.devices.get(u); reason = 'hostname'; confidence = 0.6; value = s.hostname; }
        }
        if (d !== undefined && (d === own || this.wasSplitFrom(d, s.mac))) d = undefined;
        if (d !== undefined && reason !== undefined) {
          this.moveMac(s.mac, d, { mac: s.mac, reason, confidence, atMs: s.atMs, ...(value !== undefined ? { value } : {}) }, s.source);
        }
      }
      if (d === undefined) d = own;
    }
    if (d === undefined) {
      if (s.agentId !== undefined && s.mac === undefined) {
        d = this.newDevice(`agent:${s.agentId}`, s.atMs);
      } else if (s.mac !== undefined) {
        d = this.newDevice(this.devices.has(`mac:${s.mac}`) ? `mac:${s.mac}:${s.atMs}` : `mac:${s.mac}`, s.atMs);
        this.attachMac(d, s.mac, { mac: s.mac, reason: 'first', confidence: 1, atMs: s.atMs });
      } else {
        return undefined;
      }
      if (s.agentId !== undefined) { d.agentId = s.agentId; this.byAgent.set(s.agentId, d.uid); }
      this.changed(d, 'new', s.atMs);
    }
    d.identityTrust = Math.max(s.trust, this.identityTrust(d));
    if (s.agentId !== undefined && d.agentId === undefined) {
      d.agentId = s.agentId;
      this.byAgent.set(s.agentId, d.uid);
      this.changed(d, 'agent', s.atMs);
    }
    if (s.clientId !== undefined) this.addClientId(d, s.clientId, s.source, s.atMs);
    if (s.hostname !== undefined && s.hostname.length > 0) this.setHostname(d, s.hostname, s.trust, s.source, s.atMs);
    this.touch(d, s.atMs);
    return d;
  }

  /** Records a client id on `d`; the index points to the first strong identity that claimed it. */
  private addClientId(d: Device, clientId: string, source: string, atMs: number): void {
    if (d.clientIds.includes(clientId)) return;
    const owner = this.byClientId.get(clientId);
    if (owner === undefined) this.byClientId.set(clientId, d.uid);
    else if (owner !== d.uid) this.linkConflict(d, `client id ${clientId} is on ${owner}`, { source, atMs });
    d.clientIds.push(clientId);
    if (d.clientIds.length > 8) {
      const old = d.clientIds.shift()!;
      if (this.byClientId.get(old) === d.uid) this.byClientId.delete(old);
    }
  }

  private linkConflict(d: Device, value: string, s: { source: string; atMs: number }): void {
    this.counters.linkConflicts++;
    this.addEvidence(d, { kind: 'link_conflict', value, source: s.source, atMs: s.atMs });
  }

  /**
   * Puts `mac` on `d`. The device that had it loses it with the intervals it held through it;
   * if that leaves it without a MAC (and it is no agent's), it is folded into `d` whole — the
   * link names it (`mergedFrom`) and unlinkMac splits the MAC out again with its intervals.
   */
  private moveMac(mac: string, d: Device, link: MacLink, source: string): void {
    const prev = this.byMacAddress(mac);
    if (prev !== undefined && prev !== d) {
      prev.macs = prev.macs.filter((m) => m !== mac);
      const fold = prev.macs.length === 0 && prev.agentId === undefined;
      for (const a of this.addressesOfUid(prev.uid)) {
        const list = this.bindings.get(a);
        if (list === undefined) continue;
        let moved = false;
        for (const b of list) if (b.uid === prev.uid && (fold || b.mac === mac)) { b.uid = d.uid; moved = true; }
        if (!moved) continue;
        this.dirtyBindings.add(a);
        this.indexAddress(d.uid, a);
        this.unindexIfGone(prev.uid, a, list);
        const last = list[list.length - 1];
        if (last !== undefined && last.uid === d.uid && last.toMs === OPEN_MS && prev.addresses.includes(a)) {
          prev.addresses = prev.addresses.filter((x) => x !== a);
          if (!d.addresses.includes(a)) d.addresses.push(a);
        }
      }
      if (fold) { this.foldInto(prev, d, source, link.atMs); link.mergedFrom = prev.uid; }
      else this.dirtyDevices.add(prev.uid);
    }
    this.attachMac(d, mac, link);
    this.counters.macLinked++;
    this.addEvidence(d, { kind: 'mac_link', value: `${mac} by ${link.reason}`, source, atMs: link.atMs, confidence: link.confidence });
    this.changed(d, 'mac_linked', link.atMs);
  }

  /** Moves what a device without MACs still says into `d` (host name by trust, OS by confidence), then drops it. */
  private foldInto(w: Device, d: Device, source: string, atMs: number): void {
    this.removeDevice(w.uid);
    this.counters.merged++;
    for (const e of w.evidence) this.addEvidence(d, e);
    for (const c of w.clientIds) this.addClientId(d, c, source, atMs);
    if (w.hostname !== undefined && (d.hostname === undefined || w.hostnameTrust > d.hostnameTrust)) {
      this.setHostname(d, w.hostname, w.hostnameTrust, w.hostnameSource ?? source, atMs);
    }
    if (w.os !== undefined && (d.os === undefined || w.os.confidence > d.os.confidence)) {
      d.os = w.os;
      if (w.typeId !== undefined) d.typeId = w.typeId;
    }
    if (w.firstSeenMs < d.firstSeenMs) d.firstSeenMs = w.firstSeenMs;
    if (w.lastSeenMs > d.lastSeenMs) d.lastSeenMs = w.lastSeenMs;
    if ((w.identityTrust ?? 0) > (d.identityTrust ?? 0)) d.identityTrust = w.identityTrust!;
  }

  /**
   * Links a MAC to a device by hand (or re-links one split out), reason 'manual'. A device left
   * without any MAC by it is folded in (see moveMac).
   */
  linkMac(mac: string, uid: string, atMs: number): Device | undefined {
    const d = this.devices.get(uid);
    if (d === undefined) return undefined;
    if (this.byMacAddress(mac) === d) return d;
    this.moveMac(mac, d, { mac, reason: 'manual', confidence: 1, atMs }, 'manual');
    return d;
  }

  /**
   * Undoes a link: the MAC becomes a device of its own, and the address intervals it held under
   * the merged identity are given to the new device. The link stays in `links` marked unlinked.
   */
  unlinkMac(mac: string, atMs: number): Device | undefined {
    const d = this.byMacAddress(mac);
    if (d === undefined || d.macs.length < 2) return undefined;
    d.macs = d.macs.filter((m) => m !== mac);
    this.byMac.delete(mac);
    const nd = this.newDevice(this.devices.has(`mac:${mac}`) ? `mac:${mac}:${atMs}` : `mac:${mac}`, atMs);
    this.attachMac(nd, mac, { mac, reason: 'first', confidence: 1, atMs });
    for (const l of d.links) if (l.mac === mac && l.unlinkedMs === undefined) { l.unlinkedMs = atMs; l.splitTo = nd.uid; }
    for (const a of this.addressesOfUid(d.uid)) {
      const list = this.bindings.get(a);
      if (list === undefined) continue;
      let moved = false;
      for (const b of list) if (b.mac === mac && b.uid === d.uid) { b.uid = nd.uid; moved = true; }
      if (!moved) continue;
      this.dirtyBindings.add(a);
      this.indexAddress(nd.uid, a);
      this.unindexIfGone(d.uid, a, list);
      const last = list[list.length - 1];
      if (last !== undefined && last.uid === nd.uid && last.toMs === OPEN_MS) {
        d.addresses = d.addresses.filter((x) => x !== a);
        if (!nd.addresses.includes(a)) nd.addresses.push(a);
      }
    }
    this.counters.macUnlinked++;
    this.changed(d, 'mac_unlinked', atMs);
    this.changed(nd, 'new', atMs);
    return nd;
  }

  /**
   * Sets the host name by the order of trust. Only a name from DHCP or an agent is indexed for
   * linking MACs: a name announcement (mDNS, LLMNR, NetBIOS) can be sent by anyone, and indexing
   * it would let a spoofed "ceo-laptop" absorb the next randomized MAC asking DHCP for that name.
   */
  setHostname(d: Device, name: string, trust: number, source: string, atMs: number): void {
    if (d.hostname === name) {
      if (trust > d.hostnameTrust) { d.hostnameTrust = trust; this.indexHostname(d, name, trust, source, atMs); }
      return;
    }
    if (d.hostname !== undefined && trust < d.hostnameTrust) {
      this.addEvidence(d, { kind: 'hostname_refused', value: name, source, atMs });
      return;
    }
    if (d.hostname !== undefined && this.byHostname.get(d.hostname.toLowerCase()) === d.uid) this.byHostname.delete(d.hostname.toLowerCase());
    d.hostname = name;
    d.hostnameTrust = trust;
    d.hostnameSource = source;
    this.indexHostname(d, name, trust, source, atMs);
    this.addEvidence(d, { kind: 'hostname', value: name, source, atMs });
    this.changed(d, 'hostname', atMs);
  }

  private indexHostname(d: Device, name: string, trust: number, source: string, atMs: number): void {
    if (trust < Trust.DHCP) return;
    const key = name.toLowerCase(), owner = this.byHostname.get(key);
    if (owner === undefined) this.byHostname.set(key, d.uid);
    else if (owner !== d.uid) this.linkConflict(d, `hostname ${name} is on ${owner}`, { source, atMs });
  }

  /** Keeps the most confident OS hint (ties: the newer one). */
  addOsHint(d: Device, h: OsHint, atMs: number): void {
    this.addEvidence(d, { kind: 'os_hint', value: `${h.osName} (${h.evidence})`, source: h.evidence.split(':')[0] ?? 'hint', atMs, confidence: h.confidence });
    if (d.os !== undefined && d.os.confidence > h.confidence) return;
    const changed = d.os?.name !== h.osName;
    d.os = { name: h.osName, typeId: h.osTypeId, confidence: h.confidence, evidence: h.evidence };
    if (h.deviceTypeId !== undefined) d.typeId = h.deviceTypeId;
    if (changed) this.changed(d, 'os', atMs);
  }

  // ---- addresses ---------------------------------------------------------------------------

  /**
   * Records that `d` holds `address` at atMs, seen by a source of `trust`. `expiresMs` is the
   * lease end for DHCP; other sources get lastMs + addressBindingTtlMs. Returns false when the
   * evidence was refused by the order of trust (see refuses()).
   *
   * The list stays in time order with only its last interval open, whatever order evidence
   * arrives in: lookup walks it from the end and must meet the newest holder first.
   */
  bind(address: string, d: Device, mac: string | undefined, trust: number, atMs: number, expiresMs?: number): boolean {
    const exp = expiresMs ?? atMs + this.settings.addressBindingTtlMs;
    let list = this.bindings.get(address);
    if (list === undefined) {
      list = [];
      this.bindings.set(address, list);
      if (this.bindings.size > this.settings.maxDevices * 8) this.evictAddress(address, atMs);
    } else if (this.bindings.size > 1) {
      // Map order = order of last binding: the eviction scan meets the stalest addresses first.
      this.bindings.delete(address);
      this.bindings.set(address, list);
    }
    const last = list[list.length - 1];
    if (last !== undefined && atMs < last.fromMs) return this.bindPast(address, list, d, mac, trust, atMs, exp);
    if (last !== undefined && last.uid === d.uid && (last.toMs === OPEN_MS || atMs < last.toMs)) {
      if (atMs > last.lastMs) last.lastMs = atMs;
      if (last.toMs === OPEN_MS) {
        if (exp > last.expiresMs || trust >= last.trust) last.expiresMs = Math.max(exp, trust > last.trust ? exp : last.expiresMs);
        if (trust > last.trust) last.trust = trust;
        if (mac !== undefined) last.mac = mac;
      }
      this.dirtyBindings.add(address);
      return true;
    }
    if (last !== undefined && holds(last, atMs) && this.refuses(last, trust, atMs)) { this.counters.refusedLowerTrust++; return false; }
    if (last !== undefined && last.toMs > atMs) {
      const open = last.toMs === OPEN_MS;
      // An open interval that already expired ended at its expiry: it must not cover the gap.
      last.toMs = Math.max(Math.min(atMs, open ? last.expiresMs : last.toMs), last.fromMs);
      if (open) {
        const prev = this.devices.get(last.uid);
        if (prev !== undefined) { prev.addresses = prev.addresses.filter((a) => a !== address); this.dirtyDevices.add(prev.uid); }
        this.counters.addressMoved++;
      }
    }
    list.push({ uid: d.uid, ...(mac !== undefined ? { mac } : {}), fromMs: atMs, toMs: OPEN_MS, lastMs: atMs, expiresMs: exp, trust });
    this.indexAddress(d.uid, address);
    if (list.length > this.settings.maxBindingsPerAddress) this.dropOldestInterval(address, list);
    if (!d.addresses.includes(address)) d.addresses.push(address);
    if (d.addresses.length > 16) d.addresses.shift();
    this.counters.addressBound++;
    this.dirtyBindings.add(address);
    this.changed(d, 'address', atMs);
    return true;
  }

  /**
   * Order of trust between claims on one address: lower-trust evidence is refused while `b` is
   * held — a DHCP lease until it expires, anything else for trustHoldMs after it was last
   * confirmed. One exception: a DHCP lease (trust 3) newer than an agent's (trust 4) last report
   * of the address is not a concurrent claim but proof that it moved — the server handed it out
   * again, which it does only once the laptop's lease is gone — so it ends the agent's interval.
   */
  private refuses(b: Binding, trust: number, atMs: number): boolean {
    if (trust >= b.trust || atMs >= b.expiresMs) return false;
    if (trust === Trust.DHCP && b.trust === Trust.AGENT && atMs > b.lastMs) return false;
    return atMs < (b.trust === Trust.DHCP ? b.expiresMs : b.lastMs + this.settings.trustHoldMs);
  }

  /**
   * Evidence older than the newest interval's start (a heartbeat with its own clock, a late
   * replayed message): put in its place in time, never made the open (current) interval.
   */
  private bindPast(address: string, list: Binding[], d: Device, mac: string | undefined, trust: number, atMs: number, exp: number): boolean {
    let i = list.length - 1;
    while (i > 0 && list[i - 1]!.fromMs > atMs) i--;
    const next = list[i]!, prev = i > 0 ? list[i - 1] : undefined;
    if (prev !== undefined && holds(prev, atMs)) {
      if (prev.uid === d.uid) { if (atMs > prev.lastMs) prev.lastMs = atMs; if (trust > prev.trust) prev.trust = trust; this.dirtyBindings.add(address); return true; }
      if (this.refuses(prev, trust, atMs)) { this.counters.refusedLowerTrust++; return false; }
    }
    // The holder we know, seen holding it earlier than we knew: its interval starts earlier.
    const extend = next.uid === d.uid && exp >= next.fromMs;
    const toMs = Math.min(next.fromMs, exp);
    if (!extend && toMs <= atMs) return true;
    // The earlier holder's interval ends where this evidence starts.
    if (prev !== undefined && prev.toMs > atMs) prev.toMs = Math.max(atMs, prev.fromMs);
    this.dirtyBindings.add(address);
    if (extend) { next.fromMs = atMs; return true; }
    list.splice(i, 0, { uid: d.uid, ...(mac !== undefined ? { mac } : {}), fromMs: atMs, toMs, lastMs: atMs, expiresMs: exp, trust });
    this.indexAddress(d.uid, address);
    if (list.length > this.settings.maxBindingsPerAddress) this.dropOldestInterval(address, list);
    this.counters.addressBound++;
    return true;
  }

  /**
   * Keeps the address table within 8 × maxDevices. The scan starts at the least recently bound
   * address and takes the first one nobody holds at atMs (only history is lost); if none of the
   * first EVICT_SCAN is free, the least recently bound one goes even though it is held — counted
   * apart, as flows from it lose their device.
   */
  private evictAddress(keep: string, atMs: number): void {
    let victim: string | undefined, free = false, n = 0;
    for (const [a, list] of this.bindings) {
      if (a === keep) continue;
      victim ??= a;
      const last = list[list.length - 1];
      if (last === undefined || last.toMs !== OPEN_MS || atMs > last.expiresMs) { victim = a; free = true; break; }
      if (++n >= EVICT_SCAN) break;
    }
    if (victim === undefined) return;
    const list = this.bindings.get(victim)!;
    const last = list[list.length - 1];
    if (!free && last !== undefined) {
      const holder = this.devices.get(last.uid);
      if (holder !== undefined) { holder.addresses = holder.addresses.filter((x) => x !== victim); this.dirtyDevices.add(holder.uid); }
    }
    this.bindings.delete(victim);
    for (const b of list) this.unindexIfGone(b.uid, victim, undefined);
    this.dirtyBindings.add(victim);
    this.counters.addressesEvicted++;
    if (free) this.counters.addressesEvictedExpired++; else this.counters.addressesEvictedHeld++;
  }

  /** Ends the device's interval on `address` at atMs (DHCP RELEASE, RFC 2131 §4.4.6). */
  release(address: string, atMs: number, uid?: string): void {
    const list = this.bindings.get(address);
    const last = list?.[list.length - 1];
    if (last === undefined || last.toMs !== OPEN_MS || (uid !== undefined && last.uid !== uid)) return;
    last.toMs = Math.max(atMs, last.fromMs);
    const d = this.devices.get(last.uid);
    if (d !== undefined) { d.addresses = d.addresses.filter((a) => a !== address); this.dirtyDevices.add(d.uid); }
    this.dirtyBindings.add(address);
  }

  /** The binding holding `address` at atMs, if any. */
  bindingAt(address: string, atMs: number): Binding | undefined {
    const list = this.bindings.get(address);
    if (list === undefined) return undefined;
    // Intervals are in time order; the newest first is the common case (flows are recent).
    for (let i = list.length - 1; i >= 0; i--) {
      const b = list[i]!;
      if (b.fromMs > atMs) continue;
      if (atMs >= b.toMs) return undefined;
      if (b.toMs === OPEN_MS && atMs > b.expiresMs) return undefined;
      return b;
    }
    return undefined;
  }

  /** The device that held `address` at atMs. */
  lookup(address: string, atMs: number): Device | undefined {
    this.counters.lookups++;
    const b = this.bindingAt(address, atMs);
    if (b === undefined) return undefined;
    const d = this.devices.get(b.uid);
    if (d !== undefined) this.counters.lookupHits++;
    return d;
  }

  history(address: string): readonly Binding[] { return this.bindings.get(address) ?? []; }

  // ---- the uid → addresses index -------------------------------------------------------------

  private indexAddress(uid: string, address: string): void {
    let set = this.addressesByUid.get(uid);
    if (set === undefined) this.addressesByUid.set(uid, (set = new Set()));
    set.add(address);
  }

  /** Drops `address` from uid's entry once no interval of uid is left there (`list` = its intervals, if any). */
  private unindexIfGone(uid: string, address: string, list: readonly Binding[] | undefined): void {
    if (list !== undefined && list.some((b) => b.uid === uid)) return;
    const set = this.addressesByUid.get(uid);
    if (set === undefined) return;
    set.delete(address);
    if (set.size === 0) this.addressesByUid.delete(uid);
  }

  /** A snapshot: callers move intervals (and so index entries) while iterating. */
  private addressesOfUid(uid: string): string[] {
    const set = this.addressesByUid.get(uid);
    return set === undefined ? [] : [...set];
  }

  private rebuildAddressIndex(): void {
    this.addressesByUid.clear();
    for (const [a, list] of this.bindings) for (const b of list) this.indexAddress(b.uid, a);
  }

  /** maxBindingsPerAddress: the oldest interval of the address goes, counted. */
  private dropOldestInterval(address: string, list: Binding[]): void {
    const dropped = list.shift();
    this.counters.bindingsDropped++;
    if (dropped !== undefined) this.unindexIfGone(dropped.uid, address, list);
  }

  /** The index agrees with the intervals (tests): every interval indexed, nothing indexed without one. */
  checkAddressIndex(): string[] {
    const problems: string[] = [];
    for (const [a, list] of this.bindings) for (const b of list) if (this.addressesByUid.get(b.uid)?.has(a) !== true) problems.push(`${b.uid}@${a} not indexed`);
    for (const [uid, set] of this.addressesByUid) for (const a of set) if (!(this.bindings.get(a) ?? []).some((b) => b.uid === uid)) problems.push(`${uid}@${a} indexed without an interval`);
    return problems;
  }

  /** Every address interval (held now or before, still retained) of one device, oldest first. */
  bindingsOf(uid: string): Array<Binding & { address: string }> {
    const out: Array<Binding & { address: string }> = [];
    for (const address of this.addressesOfUid(uid)) for (const b of this.bindings.get(address) ?? []) if (b.uid === uid) out.push({ address, ...b });
    return out.sort((a, b) => a.fromMs - b.fromMs || a.address.localeCompare(b.address));
  }

  /** Devices that held `address` at any retained time (read-only; the API's ip filter). */
  devicesHolding(address: string): Set<string> {
    return new Set((this.bindings.get(address) ?? []).map((b) => b.uid));
  }

  // ---- users -------------------------------------------------------------------------------

  /** Opens or extends the user spans an agent reported at atMs. */
  reportUsers(d: Device, users: ReadonlyArray<Omit<UserSpan, 'fromMs' | 'toMs'>>, atMs: number): void {
    const ttl = this.settings.agentHeartbeatTtlMs;
    for (const u of users) {
      let span: UserSpan | undefined;
      for (let i = d.users.length - 1; i >= 0; i--) {
        const s = d.users[i]!;
        if (s.name === u.name && s.domain === u.domain && s.toMs >= atMs) { span = s; break; }
      }
      if (span !== undefined) span.toMs = Math.max(span.toMs, atMs + ttl);
      else d.users.push({ ...u, fromMs: atMs, toMs: atMs + ttl });
    }
    while (d.users.length > this.settings.maxEvidencePerDevice) { d.users.shift(); this.counters.compactedEvidence++; }
    this.dirtyDevices.add(d.uid);
  }

  /** The user reported on the device at atMs (the most recently started span holding atMs). */
  userAt(d: Device, atMs: number): UserSpan | undefined {
    let best: UserSpan | undefined;
    for (const s of d.users) if (s.fromMs <= atMs && atMs <= s.toMs && (best === undefined || s.fromMs > best.fromMs)) best = s;
    return best;
  }

  // ---- compaction --------------------------------------------------------------------------

  /**
   * Drops history older than deviceHistoryRetentionMs before nowMs: closed address intervals
   * that ended before it, user spans and evidence older than it, and devices not seen since.
   * Called by the daily `retention` job (and on demand); returns what it removed.
   */
  compact(nowMs: number): { bindings: number; devices: number } {
    const cutoff = nowMs - this.settings.deviceHistoryRetentionMs;
    let nb = 0, nd = 0;
    for (const [a, list] of this.bindings) {
      const kept = list.filter((b) => (b.toMs === OPEN_MS ? b.expiresMs >= cutoff : b.toMs >= cutoff));
      if (kept.length !== list.length) {
        nb += list.length - kept.length;
        this.dirtyBindings.add(a);
        if (kept.length === 0) this.bindings.delete(a); else this.bindings.set(a, kept);
      }
    }
    if (nb > 0) this.rebuildAddressIndex();
    for (const d of [...this.devices.values()]) {
      if (d.lastSeenMs < cutoff) { this.removeDevice(d.uid); nd++; continue; }
      const u = d.users.length, e = d.evidence.length;
      d.users = d.users.filter((s) => s.toMs >= cutoff);
      d.evidence = d.evidence.filter((x) => x.atMs >= cutoff);
      if (d.users.length !== u || d.evidence.length !== e) { this.counters.compactedEvidence += u - d.users.length + e - d.evidence.length; this.dirtyDevices.add(d.uid); }
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

/** Addresses looked at, least recently bound first, for one that nobody holds (evictAddress). */
const EVICT_SCAN = 64;

/** `b` covers time t: started, not ended, and (while open) not expired. */
function holds(b: Binding, t: number): boolean {
  return b.fromMs <= t && t < b.toMs && (b.toMs !== OPEN_MS || t <= b.expiresMs);
}

/** Owner-only access to the LMDB directory and its files (they hold agent secrets). Best effort. */
function restrictPermissions(path: string): void {
  try {
    chmodSync(path, 0o700);
    for (const f of readdirSync(path)) chmodSync(join(path, f), 0o600);
  } catch {
    // A file path (noSubdir) or a filesystem without modes: left as the umask made them.
  }
}
