/**
 * What every OCSF event Outpost writes has in common: the schema version it follows, the product
 * object, and the context that enrichment adds to any class (device, actor, cloud app).
 *
 * One version constant and one product object for the whole tree: an event class is added by a
 * builder under src/events/ that uses these, never by writing the version out again.
 */
export const OCSF_VERSION = '1.8.0';

/** OCSF `product` (metadata.product): the same object in every event and in the OpenAPI document. */
export const PRODUCT: Readonly<{ name: 'Outpost'; vendor_name: 'Outpost'; version: string }> = Object.freeze({
  name: 'Outpost',
  vendor_name: 'Outpost',
  version: '0.1.0',
});

/** OCSF `metadata`. `profiles` lists the profiles whose attributes the event carries (`host`). */
export interface OcsfMetadata {
  version: string;
  product: typeof PRODUCT;
  uid?: string;
  log_name?: string;
  profiles?: string[];
}

/** OCSF `device` object as Outpost fills it (objects/device.json). */
export interface OcsfDevice {
  uid: string;
  type_id: number;
  type: string;
  hostname?: string;
  mac?: string;
  ip?: string;
  vendor_name?: string;
  /** True when an enrolled agent reports the device (absent: not known). */
  is_managed?: boolean;
  /** The user on the device when the event was written (Device Inventory Info). */
  owner?: OcsfUser;
  os?: { name: string; type_id: number; type: string };
  first_seen_time?: number;
  last_seen_time?: number;
  network_interfaces?: Array<Record<string, unknown>>;
}

/** OCSF `user` object as Outpost fills it (objects/user.json); `uid_alt` is the UPN. */
export interface OcsfUser {
  name?: string;
  uid?: string;
  uid_alt?: string;
  domain?: string;
  type?: string;
  groups?: Array<{ name: string }>;
  [attribute: string]: unknown;
}

/**
 * The fields every Outpost event has, and the ones enrichment may add to any of them. Each event
 * class's builder returns an interface that extends this one with a literal `class_uid`, so a
 * check of `class_uid` narrows an `OutpostEvent` to its class.
 */
export interface OcsfEventBase {
  class_uid: number;
  class_name: string;
  category_uid: number;
  category_name: string;
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  severity_id: number;
  severity: string;
  time: number;
  metadata: OcsfMetadata;
  device?: OcsfDevice;
  actor?: { user?: OcsfUser; [attribute: string]: unknown };
  app_name?: string;
  unmapped?: Record<string, unknown>;
  /** OCSF classes are open: profiles and extensions add attributes a builder need not declare. */
  [attribute: string]: unknown;
}

/** Adds a profile to an event's metadata once (OCSF metadata.profiles). */
export function addProfile(metadata: OcsfMetadata, profile: string): void {
  if (metadata.profiles === undefined) metadata.profiles = [profile];
  else if (!metadata.profiles.includes(profile)) metadata.profiles.push(profile);
}
