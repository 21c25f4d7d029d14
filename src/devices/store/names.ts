/**
 * What a device is called and what it runs: its host name by the order of trust, OS hints by
 * confidence, and what its MACs say (IEEE OUI vendor, or a locally administered — randomized —
 * MAC).
 */
import { isRandomizedMac, macVendor } from '../oui.js';
import type { OsHint } from '../os-hints.js';
import type { Device } from './model.js';
import type { DeviceTable } from './device-table.js';
import type { LinkIndex } from './link-index.js';

/** DHCP server MACs remembered (most recent kept): a handful per network. */
const MAX_SERVER_MACS = 256;

export class DeviceNames {
  /**
   * MACs seen sending DHCP server messages (DHCPv4 BOOTREPLY, DHCPv6 ADVERTISE / REPLY). A
   * locally administered address there is a router's or a virtual interface's configured address,
   * not a client's privacy address (IEEE 802c; clients randomise to hide between networks and do
   * not serve DHCP), so it does not make the device `randomizedMac`.
   */
  private readonly serverMacs = new Set<string>();

  constructor(private readonly table: DeviceTable, private readonly index: LinkIndex) {}

  /**
   * Sets the host name by the order of trust. Only a name from DHCP or an agent is indexed for
   * linking MACs: a name announcement (mDNS, LLMNR, NetBIOS) can be sent by anyone, and indexing
   * it would let a spoofed "ceo-laptop" absorb the next randomized MAC asking DHCP for that name.
   */
  setHostname(d: Device, name: string, trust: number, source: string, atMs: number): void {
    if (d.hostname === name) {
      if (trust > d.hostnameTrust) { d.hostnameTrust = trust; this.index.indexHostname(d, name, trust, source, atMs); }
      return;
    }
    if (d.hostname !== undefined && trust < d.hostnameTrust) {
      this.table.addEvidence(d, { kind: 'hostname_refused', value: name, source, atMs });
      return;
    }
    this.index.unindexHostname(d);
    d.hostname = name;
    d.hostnameTrust = trust;
    d.hostnameSource = source;
    this.index.indexHostname(d, name, trust, source, atMs);
    this.table.addEvidence(d, { kind: 'hostname', value: name, source, atMs });
    this.table.changed(d, 'hostname', atMs);
  }

  /** Keeps the most confident OS hint (ties: the newer one). */
  addOsHint(d: Device, h: OsHint, atMs: number): void {
    this.table.addEvidence(d, { kind: 'os_hint', value: `${h.osName} (${h.evidence})`, source: h.evidence.split(':')[0] ?? 'hint', atMs, confidence: h.confidence });
    if (d.os !== undefined && d.os.confidence > h.confidence) return;
    const changed = d.os?.name !== h.osName;
    d.os = { name: h.osName, typeId: h.osTypeId, confidence: h.confidence, evidence: h.evidence };
    if (h.deviceTypeId !== undefined) d.typeId = h.deviceTypeId;
    if (changed) this.table.changed(d, 'os', atMs);
  }

  /** What a MAC the device gained says: randomized, or (the first time one has an OUI) its vendor. */
  noteMac(d: Device, mac: string): void {
    if (isRandomizedMac(mac)) { if (!this.serverMacs.has(mac)) d.randomizedMac = true; }
    else if (d.vendor === undefined) { const v = macVendor(mac); if (v !== undefined) d.vendor = v; }
  }

  /**
   * `mac` sent a DHCP server message: its device (now or when it appears) is not randomized by
   * that MAC; its flag is recomputed from its other MACs (a change, reported as `dhcp_server`).
   */
  noteDhcpServer(mac: string, atMs: number): void {
    if (!this.serverMacs.has(mac)) {
      this.serverMacs.add(mac);
      if (this.serverMacs.size > MAX_SERVER_MACS) this.serverMacs.delete(this.serverMacs.values().next().value as string);
    }
    const d = this.table.byMacAddress(mac);
    if (d !== undefined && d.randomizedMac) {
      d.randomizedMac = d.macs.some((m) => isRandomizedMac(m) && !this.serverMacs.has(m));
      if (!d.randomizedMac) this.table.changed(d, 'dhcp_server', atMs);
    }
  }

  /** Takes the host name (by trust) and OS (by confidence) of a device folded into `d`. */
  adoptFrom(w: Device, d: Device, source: string, atMs: number): void {
    if (w.hostname !== undefined && (d.hostname === undefined || w.hostnameTrust > d.hostnameTrust)) {
      this.setHostname(d, w.hostname, w.hostnameTrust, w.hostnameSource ?? source, atMs);
    }
    if (w.os !== undefined && (d.os === undefined || w.os.confidence > d.os.confidence)) {
      d.os = w.os;
      if (w.typeId !== undefined) d.typeId = w.typeId;
    }
  }
}
