/**
 * Which device a sighting is about, and which MACs belong together (docs/DEVICES.md, "MAC
 * randomization"). A device is keyed by a stable identity — its first MAC (`mac:aa:bb:..`) or,
 * when an agent reported it first, its agent id (`agent:<id>`). Further MACs are linked to it
 * (MAC randomization, several interfaces) with the reason, a confidence and the time kept in
 * `links`; `unlinkMac` splits a MAC back out, so merges are visible and reversible.
 *
 * Linking rules: the agent's own MAC list (confidence 1), the same DHCP client identifier
 * (RFC 2132 §9.14, confidence 0.9), or — only for locally administered MACs — the same DHCP or
 * agent host name (confidence 0.6; names from mDNS/LLMNR/NetBIOS never link). They apply to an
 * unknown MAC and to one whose device is still weak (ARP/NDP/names only), which is then folded
 * in; an index held by another strong identity is never repointed.
 *
 * This is not src/devices/identity.ts, which turns packets into sightings for this.
 */
import type { DevicesConfig } from '../config.js';
import { isRandomizedMac } from '../oui.js';
import { Trust, type Device, type DeviceCounters, type MacLink, type Sighting } from './model.js';
import type { DeviceTable } from './device-table.js';
import type { AddressTimeline } from './address-timeline.js';
import type { DeviceNames } from './names.js';
import { LinkIndex } from './link-index.js';

export { LinkIndex };


export class DeviceLinks {
  constructor(
    private readonly settings: DevicesConfig,
    private readonly counters: DeviceCounters,
    private readonly table: DeviceTable,
    private readonly index: LinkIndex,
    private readonly names: DeviceNames,
    private readonly timeline: AddressTimeline,
  ) {}

  private attachMac(d: Device, mac: string, link: MacLink): void {
    if (!d.macs.includes(mac)) d.macs.push(mac);
    d.links.push(link);
    if (d.links.length > this.settings.maxEvidencePerDevice) d.links.splice(0, d.links.length - this.settings.maxEvidencePerDevice);
    this.table.indexMac(mac, d);
    this.names.noteMac(d, mac);
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
    if (s.agentId !== undefined) d = this.table.byAgentId(s.agentId);
    const own = s.mac !== undefined ? this.table.byMacAddress(s.mac) : undefined;
    if (s.mac !== undefined) {
      if (d !== undefined && own !== d) {
        // The agent lists this MAC: its signed heartbeat is the strongest evidence (trust 4) and
        // takes the MAC from any identity but another agent's.
        if (own !== undefined && own.agentId !== undefined) this.index.linkConflict(d, `mac ${s.mac} is on ${own.uid}`, s);
        else this.moveMac(s.mac, d, { mac: s.mac, reason: 'agent', confidence: 1, atMs: s.atMs, value: s.agentId! }, s.source);
      } else if (d === undefined && s.trust >= Trust.DHCP && (own === undefined || this.isWeakOwnDevice(own, s.mac))) {
        let reason: MacLink['reason'] | undefined, confidence = 0, value: string | undefined;
        if (s.clientId !== undefined) {
          const u = this.index.clientIdOwner(s.clientId);
          if (u !== undefined) { d = this.table.get(u); reason = 'dhcp_client_id'; confidence = 0.9; value = s.clientId; }
        }
        if (d === undefined && s.hostname !== undefined && isRandomizedMac(s.mac)) {
          const u = this.index.hostnameOwner(s.hostname);
          if (u !== undefined) { d = this.table.get(u); reason = 'hostname'; confidence = 0.6; value = s.hostname; }
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
        d = this.table.create(`agent:${s.agentId}`, s.atMs);
      } else if (s.mac !== undefined) {
        d = this.table.create(this.table.has(`mac:${s.mac}`) ? `mac:${s.mac}:${s.atMs}` : `mac:${s.mac}`, s.atMs);
        this.attachMac(d, s.mac, { mac: s.mac, reason: 'first', confidence: 1, atMs: s.atMs });
      } else {
        return undefined;
      }
      if (s.agentId !== undefined) this.table.setAgent(d, s.agentId);
      this.table.changed(d, 'new', s.atMs);
    }
    d.identityTrust = Math.max(s.trust, this.identityTrust(d));
    if (s.agentId !== undefined && d.agentId === undefined) {
      this.table.setAgent(d, s.agentId);
      this.table.changed(d, 'agent', s.atMs);
    }
    if (s.clientId !== undefined) this.index.addClientId(d, s.clientId, s.source, s.atMs);
    if (s.hostname !== undefined && s.hostname.length > 0) this.names.setHostname(d, s.hostname, s.trust, s.source, s.atMs);
    this.table.touch(d, s.atMs);
    return d;
  }

  /**
   * Puts `mac` on `d`. The device that had it loses it with the intervals it held through it;
   * if that leaves it without a MAC (and it is no agent's), it is folded into `d` whole — the
   * link names it (`mergedFrom`) and unlinkMac splits the MAC out again with its intervals.
   */
  private moveMac(mac: string, d: Device, link: MacLink, source: string): void {
    const prev = this.table.byMacAddress(mac);
    if (prev !== undefined && prev !== d) {
      prev.macs = prev.macs.filter((m) => m !== mac);
      const fold = prev.macs.length === 0 && prev.agentId === undefined;
      this.timeline.moveIntervals(prev, d, fold ? null : mac, true);
      if (fold) { this.foldInto(prev, d, source, link.atMs); link.mergedFrom = prev.uid; }
      else this.table.mark(prev);
    }
    this.attachMac(d, mac, link);
    this.counters.macLinked++;
    this.table.addEvidence(d, { kind: 'mac_link', value: `${mac} by ${link.reason}`, source, atMs: link.atMs, confidence: link.confidence });
    this.table.changed(d, 'mac_linked', link.atMs);
  }

  /** Moves what a device without MACs still says into `d` (host name by trust, OS by confidence), then drops it. */
  private foldInto(w: Device, d: Device, source: string, atMs: number): void {
    this.table.remove(w.uid);
    this.counters.merged++;
    for (const e of w.evidence) this.table.addEvidence(d, e);
    for (const c of w.clientIds) this.index.addClientId(d, c, source, atMs);
    this.names.adoptFrom(w, d, source, atMs);
    if (w.firstSeenMs < d.firstSeenMs) d.firstSeenMs = w.firstSeenMs;
    if (w.lastSeenMs > d.lastSeenMs) d.lastSeenMs = w.lastSeenMs;
    if ((w.identityTrust ?? 0) > (d.identityTrust ?? 0)) d.identityTrust = w.identityTrust!;
  }

  /**
   * Links a MAC to a device by hand (or re-links one split out), reason 'manual'. A device left
   * without any MAC by it is folded in (see moveMac).
   */
  linkMac(mac: string, uid: string, atMs: number): Device | undefined {
    const d = this.table.get(uid);
    if (d === undefined) return undefined;
    if (this.table.byMacAddress(mac) === d) return d;
    this.moveMac(mac, d, { mac, reason: 'manual', confidence: 1, atMs }, 'manual');
    return d;
  }

  /**
   * Undoes a link: the MAC becomes a device of its own, and the address intervals it held under
   * the merged identity are given to the new device. The link stays in `links` marked unlinked.
   */
  unlinkMac(mac: string, atMs: number): Device | undefined {
    const d = this.table.byMacAddress(mac);
    if (d === undefined || d.macs.length < 2) return undefined;
    d.macs = d.macs.filter((m) => m !== mac);
    this.table.unindexMac(mac);
    const nd = this.table.create(this.table.has(`mac:${mac}`) ? `mac:${mac}:${atMs}` : `mac:${mac}`, atMs);
    this.attachMac(nd, mac, { mac, reason: 'first', confidence: 1, atMs });
    for (const l of d.links) if (l.mac === mac && l.unlinkedMs === undefined) { l.unlinkedMs = atMs; l.splitTo = nd.uid; }
    this.timeline.moveIntervals(d, nd, mac, false);
    this.counters.macUnlinked++;
    this.table.changed(d, 'mac_unlinked', atMs);
    this.table.changed(nd, 'new', atMs);
    return nd;
  }
}
