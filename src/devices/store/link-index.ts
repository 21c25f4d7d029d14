import { Trust, type Device, type DeviceCounters } from './model.js';
import type { DeviceTable } from './device-table.js';

/**
 * The client id and host name indexes MACs are linked by. Each points to the first strong
 * identity that claimed the key; a later claim by another device is a conflict, counted
 * (`devices.link_conflicts`) and kept as evidence on that device, never a repointing.
 */
export class LinkIndex {
  private readonly byClientId = new Map<string, string>();
  private readonly byHostname = new Map<string, string>();

  constructor(private readonly counters: DeviceCounters, private readonly table: DeviceTable) {}

  /** A device read from disk: the first device claiming a key keeps it, as at run time (no silent repointing). */
  load(d: Device): void {
    for (const c of d.clientIds) if (!this.byClientId.has(c)) this.byClientId.set(c, d.uid);
    if (d.hostname !== undefined && d.hostnameTrust >= Trust.DHCP && !this.byHostname.has(d.hostname.toLowerCase())) this.byHostname.set(d.hostname.toLowerCase(), d.uid);
  }

  /** A device left the table: the keys it held are free. */
  forget(d: Device): void {
    for (const c of d.clientIds) if (this.byClientId.get(c) === d.uid) this.byClientId.delete(c);
    this.unindexHostname(d);
  }

  clientIdOwner(clientId: string): string | undefined { return this.byClientId.get(clientId); }
  hostnameOwner(name: string): string | undefined { return this.byHostname.get(name.toLowerCase()); }

  /** Records a client id on `d`; the index points to the first strong identity that claimed it. */
  addClientId(d: Device, clientId: string, source: string, atMs: number): void {
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

  /** Indexes a DHCP or agent host name (trust ≥ DHCP) of `d`; lower trust is never indexed. */
  indexHostname(d: Device, name: string, trust: number, source: string, atMs: number): void {
    if (trust < Trust.DHCP) return;
    const key = name.toLowerCase(), owner = this.byHostname.get(key);
    if (owner === undefined) this.byHostname.set(key, d.uid);
    else if (owner !== d.uid) this.linkConflict(d, `hostname ${name} is on ${owner}`, { source, atMs });
  }

  /** Frees d's current host name in the index, if d holds it there. */
  unindexHostname(d: Device): void {
    if (d.hostname !== undefined && this.byHostname.get(d.hostname.toLowerCase()) === d.uid) this.byHostname.delete(d.hostname.toLowerCase());
  }

  linkConflict(d: Device, value: string, s: { source: string; atMs: number }): void {
    this.counters.linkConflicts++;
    this.table.addEvidence(d, { kind: 'link_conflict', value, source: s.source, atMs: s.atMs });
  }
}
