/**
 * Who used a device when: agent heartbeats open or extend a [fromMs, lastHeartbeat +
 * agentHeartbeatTtlMs] span per user on the device the agent runs on; logons seen on the wire
 * (Kerberos, NTLM, RADIUS; DeviceIdentity.onLogon decides which may bind) open, refresh, replace
 * or end spans of their own, and mark a device shared when two such users are active at once (at
 * most maxEvidencePerDevice spans per device, the oldest dropped and counted).
 */
import type { DevicesConfig } from '../config.js';
import { USER_SOURCE_TRUST, type Device, type DeviceCounters, type UserSource, type UserSpan } from './model.js';
import type { DeviceTable } from './device-table.js';
import type { AddressTimeline } from './address-timeline.js';

/** A user source other than an agent: a logon seen on the wire. */
export type WireSource = Exclude<UserSource, 'agent'>;

/** What a wire logon says besides the user: the span's end and its evidence (UserSpan). */
export interface WireLogon { untilMs: number; ip?: string; logonUid?: string }

/** Same user: names and domains compared case-insensitively (Windows accounts and realms are). */
function sameUser(a: { name: string; domain?: string }, b: { name: string; domain?: string }): boolean {
  return a.name.toLowerCase() === b.name.toLowerCase() && (a.domain ?? '').toLowerCase() === (b.domain ?? '').toLowerCase();
}

export class DeviceUsers {
  constructor(private readonly settings: DevicesConfig, private readonly counters: DeviceCounters, private readonly table: DeviceTable,
    private readonly addresses: AddressTimeline) {}

  /** Opens or extends the user spans an agent reported at atMs. */
  reportUsers(d: Device, users: ReadonlyArray<Omit<UserSpan, 'fromMs' | 'toMs'>>, atMs: number): void {
    const ttl = this.settings.agentHeartbeatTtlMs;
    let started = false;
    for (const u of users) {
      let span: UserSpan | undefined;
      for (let i = d.users.length - 1; i >= 0; i--) {
        const s = d.users[i]!;
        if (s.name === u.name && s.domain === u.domain && s.toMs >= atMs) { span = s; break; }
      }
      if (span !== undefined) span.toMs = Math.max(span.toMs, atMs + ttl);
      else { d.users.push({ ...u, fromMs: atMs, toMs: atMs + ttl }); started = true; }
    }
    while (d.users.length > this.settings.maxEvidencePerDevice) { d.users.shift(); this.counters.compactedEvidence++; }
    // A user who was not on the device is a change of who uses it (Device Inventory Info
    // carries the user); a heartbeat that only extends the spans is not.
    if (started) this.table.changed(d, 'user', atMs);
    else this.table.mark(d);
  }

  /**
   * Binds a user seen logging on over the wire (Kerberos AS, NTLM, RADIUS start) to `d` from atMs
   * until `o.untilMs`. A current span of higher trust (USER_SOURCE_TRUST; agent first) is kept
   * and the logon refused ('lower_trust'); otherwise the newer logon replaces the current user:
   * the same user from the same source extends its span ('refreshed'), another ends the current
   * span at atMs (endedBy 'replaced') and starts its own ('bound').
   */
  bindLogon(d: Device, u: { name: string; domain?: string }, source: WireSource, atMs: number, o: WireLogon): 'bound' | 'refreshed' | 'lower_trust' {
    const cur = this.currentSpan(d, atMs);
    const trust = USER_SOURCE_TRUST[source];
    if (cur !== undefined && USER_SOURCE_TRUST[cur.source ?? 'agent'] > trust) return 'lower_trust';
    if (cur !== undefined && sameUser(cur, u) && cur.source === source) {
      this.extend(d, cur, o.untilMs);
      return 'refreshed';
    }
    if (cur !== undefined) { cur.toMs = Math.max(cur.fromMs, atMs); cur.endedBy = 'replaced'; }
    d.users.push({
      name: u.name, ...(u.domain !== undefined ? { domain: u.domain } : {}), fromMs: atMs, toMs: o.untilMs, source,
      ...(o.ip !== undefined && o.ip !== '' ? { ip: o.ip } : {}), ...(o.logonUid !== undefined ? { logonUid: o.logonUid } : {}), untilMs: o.untilMs,
    });
    while (d.users.length > this.settings.maxEvidencePerDevice) { d.users.shift(); this.counters.compactedEvidence++; }
    this.table.changed(d, 'user', atMs);
    return 'bound';
  }

  /**
   * Evidence that `u`, bound before by a wire logon, is still active on `d` at atMs (a Kerberos
   * TGS exchange naming it, RADIUS interim accounting): its current span is extended to
   * `untilMs` ('refreshed'). When another user replaced it meanwhile while its own span would
   * still run, both are active at once: the device is marked shared until the later of their
   * ends ('shared'). Otherwise nothing changes ('not_bound': a refresh never binds by itself).
   */
  refreshLogon(d: Device, u: { name: string; domain?: string }, atMs: number, untilMs: number): 'refreshed' | 'shared' | 'not_bound' {
    const cur = this.currentSpan(d, atMs);
    if (cur !== undefined && cur.source !== undefined && cur.source !== 'agent' && sameUser(cur, u)) {
      this.extend(d, cur, untilMs);
      return 'refreshed';
    }
    for (let i = d.users.length - 1; i >= 0; i--) {
      const s = d.users[i]!;
      if (s.endedBy !== 'replaced' || !sameUser(s, u) || (s.untilMs ?? s.toMs) < atMs || s.fromMs > atMs) continue;
      if (s.ip !== undefined && this.addresses.bindingAt(s.ip, atMs)?.uid !== d.uid) continue;
      // Replaced, yet active again while its successor is current: two users at once.
      const to = Math.max(untilMs, cur?.toMs ?? untilMs);
      s.toMs = Math.max(s.toMs, untilMs); s.untilMs = s.toMs; delete s.endedBy;
      if (d.sharedToMs === undefined || d.sharedToMs < atMs) d.sharedFromMs = atMs;
      d.sharedToMs = Math.max(d.sharedToMs ?? 0, to);
      this.table.changed(d, 'user', atMs);
      return 'shared';
    }
    return 'not_bound';
  }

  /** Ends `u`'s current span from `source` at atMs (RADIUS Accounting Stop); false when none is current. */
  endLogon(d: Device, u: { name: string; domain?: string }, source: WireSource, atMs: number): boolean {
    for (let i = d.users.length - 1; i >= 0; i--) {
      const s = d.users[i]!;
      if (s.source !== source || !sameUser(s, u) || s.fromMs > atMs || s.toMs < atMs) continue;
      s.toMs = atMs; s.endedBy = 'stop';
      this.table.changed(d, 'user', atMs);
      return true;
    }
    return false;
  }

  private extend(d: Device, s: UserSpan, untilMs: number): void {
    s.toMs = Math.max(s.toMs, untilMs);
    if (s.untilMs !== undefined) s.untilMs = s.toMs;
    this.table.mark(d);
  }

  /**
   * The span current on `d` at atMs: the most recently started one holding atMs, skipping a wire
   * logon's span whose address the device no longer holds then (the address moved, was released
   * or expired: whoever logged on from it may not be at the device now).
   */
  private currentSpan(d: Device, atMs: number): UserSpan | undefined {
    let best: UserSpan | undefined;
    for (const s of d.users) {
      if (s.fromMs > atMs || atMs > s.toMs || (best !== undefined && s.fromMs <= best.fromMs)) continue;
      if (s.ip !== undefined && this.addresses.bindingAt(s.ip, atMs)?.uid !== d.uid) continue;
      best = s;
    }
    return best;
  }

  /**
   * The user on the device at atMs (currentSpan); none while the device is shared (several wire
   * logon users active at once) and the current span is a wire logon's: no single user then.
   */
  userAt(d: Device, atMs: number): UserSpan | undefined {
    const s = this.currentSpan(d, atMs);
    if (s !== undefined && s.source !== undefined && s.source !== 'agent' && this.sharedAt(d, atMs)) return undefined;
    return s;
  }

  /** True when `d` is marked shared at atMs (refreshLogon). */
  sharedAt(d: Device, atMs: number): boolean {
    return d.sharedToMs !== undefined && d.sharedFromMs !== undefined && d.sharedFromMs <= atMs && atMs <= d.sharedToMs;
  }

  /** Every user span with its device, device by device in the table's order (the users listing). */
  *spans(): Generator<{ device: Device; span: UserSpan }> {
    for (const device of this.table.all()) for (const span of device.users) yield { device, span };
  }

  /** Drops spans that ended before `cutoff` (compaction); returns how many went. */
  dropBefore(d: Device, cutoff: number): number {
    const u = d.users.length;
    d.users = d.users.filter((s) => s.toMs >= cutoff);
    return u - d.users.length;
  }
}
