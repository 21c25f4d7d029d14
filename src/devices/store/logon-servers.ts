/**
 * Logon servers (Kerberos KDC, SMB / LDAP / HTTP server, RADIUS accounting server) by address,
 * with the MAC their answers come from: the pin DeviceIdentity.onLogon checks a logon's answer
 * against (docs/DEVICES.md, "Users from logons"). Learned from a server's first answer, or
 * configured (devices.logonServerMacs: configured pins are never replaced by learning). Bounded
 * (the oldest learned pin dropped, counted) and kept in LMDB (['s', address], persistence.ts), so a
 * restart does not open a window where a forger's answer would be the first one seen.
 */
import type { DevicePersistence } from './persistence.js';

export class LogonServers {
  private readonly pins = new Map<string, string>();
  private readonly configured = new Set<string>();
  dropped = 0;

  constructor(private readonly persistence: DevicePersistence, private readonly max: number) {}

  /** Loads the pins saved by learn() (after the store is opened). */
  load(): void {
    for (const { address, record } of this.persistence.logonServerRecords()) if (!this.pins.has(address)) this.pins.set(address, record.mac);
  }

  /** A pin an administrator configured: it wins over a learned or saved one. */
  configure(address: string, mac: string): void {
    this.pins.set(address, mac);
    this.configured.add(address);
  }

  /** The MAC `address` is pinned to, if any. */
  get(address: string): string | undefined { return this.pins.get(address); }

  /** Pins `address` to `mac` (its first answer seen), dropping the oldest learned pin past the bound. */
  learn(address: string, mac: string, atMs: number): void {
    if (this.pins.size >= this.max) {
      for (const a of this.pins.keys()) {
        if (this.configured.has(a)) continue;
        this.pins.delete(a);
        this.persistence.putLogonServer(a, undefined);
        this.dropped++;
        break;
      }
    }
    this.pins.set(address, mac);
    this.persistence.putLogonServer(address, { mac, atMs });
  }

  get size(): number { return this.pins.size; }
}
