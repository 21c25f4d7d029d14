/**
 * Who used a device when: agent heartbeats open or extend a [fromMs, lastHeartbeat +
 * agentHeartbeatTtlMs] span per user on the device the agent runs on (at most
 * maxEvidencePerDevice spans per device, the oldest dropped and counted).
 */
import type { DevicesConfig } from '../config.js';
import { USER_SOURCE_TRUST, type Device, type DeviceCounters, type UserSource, type UserSpan } from './model.js';
import type { DeviceTable } from './device-table.js';

export class DeviceUsers {
  constructor(private readonly settings: DevicesConfig, private readonly counters: DeviceCounters, private readonly table: DeviceTable) {}

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
   * until atMs + forMs. A current span of higher trust (USER_SOURCE_TRUST; agent first) is kept
   * and the logon refused (returns false); otherwise the newer logon replaces the current user:
   * the same user from the same source extends its span, another ends the current span at atMs.
   */
  bindLogon(d: Device, u: { name: string; domain?: string }, source: Exclude<UserSource, 'agent'>, atMs: number, forMs: number): boolean {
    const cur = this.userAt(d, atMs);
    const trust = USER_SOURCE_TRUST[source];
    if (cur !== undefined && USER_SOURCE_TRUST[cur.source ?? 'agent'] > trust) return false;
    if (cur !== undefined && cur.name === u.name && cur.domain === u.domain && cur.source === source) {
      cur.toMs = Math.max(cur.toMs, atMs + forMs);
      this.table.mark(d);
      return true;
    }
    if (cur !== undefined) cur.toMs = Math.max(cur.fromMs, atMs);
    d.users.push({ name: u.name, ...(u.domain !== undefined ? { domain: u.domain } : {}), fromMs: atMs, toMs: atMs + forMs, source });
    while (d.users.length > this.settings.maxEvidencePerDevice) { d.users.shift(); this.counters.compactedEvidence++; }
    this.table.changed(d, 'user', atMs);
    return true;
  }

  /** The user reported on the device at atMs (the most recently started span holding atMs). */
  userAt(d: Device, atMs: number): UserSpan | undefined {
    let best: UserSpan | undefined;
    for (const s of d.users) if (s.fromMs <= atMs && atMs <= s.toMs && (best === undefined || s.fromMs > best.fromMs)) best = s;
    return best;
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
