/**
 * The device store's records and shared vocabulary: what a device, a MAC link, an address
 * interval and a user span are (these are the values persisted in LMDB, see persistence.ts, so
 * their shape is the on-disk format), the order of trust, the change kinds reported to
 * onChange, and the counters every part of the store adds to.
 */
export const Trust = { DNS: 1, NEIGHBOR: 2, DHCP: 3, AGENT: 4 } as const;
export { TRUST_NAMES } from '../../events/device-events.js';
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
  /**
   * Who reported the user (the evidence; fromMs is the report's or logon's time). Absent in spans
   * saved before wire logons bound users: those came from agents, so absent reads as 'agent'.
   */
  source?: UserSource;
  /**
   * Wire logons only: the evidence of the binding. `ip` is the client address the logon came from
   * (the binding holds only while the device holds that address); `logonUid` the uid of its
   * Authentication (3002) event; `untilMs` where the span would end if nothing ended it sooner
   * (ticket end, or the logon's lifetime, moved by refreshes); `endedBy` why it ended sooner.
   */
  ip?: string;
  logonUid?: string;
  untilMs?: number;
  endedBy?: 'replaced' | 'stop';
}

/** Where a user span came from, in trust order (USER_SOURCE_TRUST). */
export type UserSource = 'agent' | 'radius' | 'kerberos' | 'ntlm';
/**
 * Trust order agent > RADIUS > Kerberos AS > NTLM (docs/DEVICES.md): the agent runs on the device;
 * a verified RADIUS accounting start comes from a configured NAS that authenticated the station;
 * a Kerberos AS exchange is the domain logon itself; NTLM is also used for network logons
 * to a share with other credentials than the desktop user's.
 */
export const USER_SOURCE_TRUST: Readonly<Record<UserSource, number>> = { agent: 3, radius: 2, kerberos: 1, ntlm: 0 };

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
  /**
   * [sharedFromMs, sharedToMs]: several users were active on the device at once (wire logons):
   * its events get no single user then (docs/DEVICES.md, "Shared devices").
   */
  sharedFromMs?: number;
  sharedToMs?: number;
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

export type DeviceChange = 'new' | 'hostname' | 'mac_linked' | 'mac_unlinked' | 'agent' | 'os' | 'address' | 'dhcp_server' | 'user';

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
