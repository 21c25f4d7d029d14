/**
 * Which device held an address when: per address, a list of intervals [fromMs, toMs) in time
 * order, each held by one device with the trust of the evidence. A flow at time t maps to the
 * device whose interval holds t (`lookup`), even after the address has moved on.
 *
 * - Order of trust: agent (4) > DHCP ACK (3) > ARP/NDP (2) > DNS/mDNS (1). Lower-trust evidence
 *   that contradicts a binding is refused while the binding is held: a DHCP lease until it
 *   expires, anything else for trustHoldMs after it was last confirmed (counted). A DHCP lease
 *   newer than an agent's last report of the address is proof it moved and ends the agent's
 *   interval (refuses()).
 * - Bounds: maxBindingsPerAddress intervals per address (the oldest dropped), 8 × maxDevices
 *   addresses (those nobody holds evicted first). Every drop is counted.
 * - The uid → addresses index: the addresses where a device has an interval, so moving a MAC's
 *   intervals to another device (moveIntervals: a link, a split, a fold) visits that device's
 *   own addresses instead of every address. checkAddressIndex() verifies it (tests, fuzz).
 */
import type { DevicesConfig } from '../config.js';
import { OPEN_MS, Trust, type Binding, type Device, type DeviceCounters } from './model.js';
import type { DeviceTable } from './device-table.js';
import type { DirtyMarks } from './persistence.js';

export class AddressTimeline {
  /** Map order = order of last binding: the eviction scan meets the stalest addresses first. */
  private readonly bindings = new Map<string, Binding[]>();
  /**
   * uid → the addresses where that device has an interval (held or history). Moving a MAC's
   * intervals to another device (a link, a split, a fold) then visits the device's own addresses
   * instead of every address: a flood of DHCP requests with fresh randomized MACs and a known
   * client id would otherwise cost a scan of the whole table per packet.
   */
  private readonly addressesByUid = new Map<string, Set<string>>();

  constructor(
    private readonly settings: DevicesConfig,
    private readonly counters: DeviceCounters,
    private readonly table: DeviceTable,
    private readonly dirty: DirtyMarks,
  ) {}

  /** Intervals read from disk; call rebuildIndex() once all are in. */
  load(address: string, list: Binding[]): void { this.bindings.set(address, list); }

  /** The current intervals of `address` (persistence reads them to write). */
  intervals(address: string): Binding[] | undefined { return this.bindings.get(address); }

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
      this.dirty.addresses.add(address);
      return true;
    }
    if (last !== undefined && holds(last, atMs) && this.refuses(last, trust, atMs)) { this.counters.refusedLowerTrust++; return false; }
    if (last !== undefined && last.toMs > atMs) {
      const open = last.toMs === OPEN_MS;
      // An open interval that already expired ended at its expiry: it must not cover the gap.
      last.toMs = Math.max(Math.min(atMs, open ? last.expiresMs : last.toMs), last.fromMs);
      if (open) {
        const prev = this.table.get(last.uid);
        if (prev !== undefined) { prev.addresses = prev.addresses.filter((a) => a !== address); this.dirty.devices.add(prev.uid); }
        this.counters.addressMoved++;
      }
    }
    list.push({ uid: d.uid, ...(mac !== undefined ? { mac } : {}), fromMs: atMs, toMs: OPEN_MS, lastMs: atMs, expiresMs: exp, trust });
    this.indexAddress(d.uid, address);
    if (list.length > this.settings.maxBindingsPerAddress) this.dropOldestInterval(address, list);
    if (!d.addresses.includes(address)) d.addresses.push(address);
    if (d.addresses.length > 16) d.addresses.shift();
    this.counters.addressBound++;
    this.dirty.addresses.add(address);
    this.table.changed(d, 'address', atMs);
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
      if (prev.uid === d.uid) { if (atMs > prev.lastMs) prev.lastMs = atMs; if (trust > prev.trust) prev.trust = trust; this.dirty.addresses.add(address); return true; }
      if (this.refuses(prev, trust, atMs)) { this.counters.refusedLowerTrust++; return false; }
    }
    // The holder we know, seen holding it earlier than we knew: its interval starts earlier.
    const extend = next.uid === d.uid && exp >= next.fromMs;
    const toMs = Math.min(next.fromMs, exp);
    if (!extend && toMs <= atMs) return true;
    // The earlier holder's interval ends where this evidence starts.
    if (prev !== undefined && prev.toMs > atMs) prev.toMs = Math.max(atMs, prev.fromMs);
    this.dirty.addresses.add(address);
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
      const holder = this.table.get(last.uid);
      if (holder !== undefined) { holder.addresses = holder.addresses.filter((x) => x !== victim); this.dirty.devices.add(holder.uid); }
    }
    this.bindings.delete(victim);
    for (const b of list) this.unindexIfGone(b.uid, victim, undefined);
    this.dirty.addresses.add(victim);
    this.counters.addressesEvicted++;
    if (free) this.counters.addressesEvictedExpired++; else this.counters.addressesEvictedHeld++;
  }

  /** Ends the device's interval on `address` at atMs (DHCP RELEASE, RFC 2131 §4.4.6). */
  release(address: string, atMs: number, uid?: string): void {
    const list = this.bindings.get(address);
    const last = list?.[list.length - 1];
    if (last === undefined || last.toMs !== OPEN_MS || (uid !== undefined && last.uid !== uid)) return;
    last.toMs = Math.max(atMs, last.fromMs);
    const d = this.table.get(last.uid);
    if (d !== undefined) { d.addresses = d.addresses.filter((a) => a !== address); this.dirty.devices.add(d.uid); }
    this.dirty.addresses.add(address);
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

  /**
   * The binding the last lookup() found (undefined when it found none): the event enrichment
   * reads its MAC from here instead of walking the address's intervals a second time.
   */
  lastBinding: Binding | undefined = undefined;

  /** The device that held `address` at atMs. */
  lookup(address: string, atMs: number): Device | undefined {
    this.counters.lookups++;
    const b = this.bindingAt(address, atMs);
    this.lastBinding = b;
    if (b === undefined) return undefined;
    const d = this.table.get(b.uid);
    if (d !== undefined) this.counters.lookupHits++;
    return d;
  }

  history(address: string): readonly Binding[] { return this.bindings.get(address) ?? []; }

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
  addressesOfUid(uid: string): string[] {
    const set = this.addressesByUid.get(uid);
    return set === undefined ? [] : [...set];
  }

  rebuildIndex(): void {
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

  /**
   * Gives the intervals `from` held through `mac` (all of them when mac is null: `from` is folded
   * into `to`) to `to`, with their index entries. An address whose newest interval is then an open
   * one of `to` leaves from.addresses for to.addresses — when `onlyListed`, only if `from` listed
   * it as held. Marks the addresses, not the devices (the caller reports the change).
   */
  moveIntervals(from: Device, to: Device, mac: string | null, onlyListed: boolean): void {
    for (const a of this.addressesOfUid(from.uid)) {
      const list = this.bindings.get(a);
      if (list === undefined) continue;
      let moved = false;
      for (const b of list) if (b.uid === from.uid && (mac === null || b.mac === mac)) { b.uid = to.uid; moved = true; }
      if (!moved) continue;
      this.dirty.addresses.add(a);
      this.indexAddress(to.uid, a);
      this.unindexIfGone(from.uid, a, list);
      const last = list[list.length - 1];
      if (last !== undefined && last.uid === to.uid && last.toMs === OPEN_MS && (!onlyListed || from.addresses.includes(a))) {
        from.addresses = from.addresses.filter((x) => x !== a);
        if (!to.addresses.includes(a)) to.addresses.push(a);
      }
    }
  }

  /**
   * Drops closed intervals that ended before `cutoff` and open ones that expired before it
   * (compaction); the index is rebuilt when any went. Returns how many went.
   */
  dropBefore(cutoff: number): number {
    let nb = 0;
    for (const [a, list] of this.bindings) {
      const kept = list.filter((b) => (b.toMs === OPEN_MS ? b.expiresMs >= cutoff : b.toMs >= cutoff));
      if (kept.length !== list.length) {
        nb += list.length - kept.length;
        this.dirty.addresses.add(a);
        if (kept.length === 0) this.bindings.delete(a); else this.bindings.set(a, kept);
      }
    }
    if (nb > 0) this.rebuildIndex();
    return nb;
  }
}

/** Addresses looked at, least recently bound first, for one that nobody holds (evictAddress). */
const EVICT_SCAN = 64;

/** `b` covers time t: started, not ended, and (while open) not expired. */
function holds(b: Binding, t: number): boolean {
  return b.fromMs <= t && t < b.toMs && (b.toMs !== OPEN_MS || t <= b.expiresMs);
}
