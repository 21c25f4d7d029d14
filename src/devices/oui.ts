/**
 * MAC vendor from the IEEE MA-L registry (npm `oui-data`, IEEE OUI list as JSON, loaded once on
 * first use), and locally-administered ("randomized") MAC detection: IEEE 802-2014 §8.2 — the U/L
 * bit (0x02 of the first octet) set means not globally unique (phones and laptops randomize this
 * way per network).
 */
import { createRequire } from 'node:module';

let table: Record<string, string> | null = null;
let loadFailed = false;

function load(): Record<string, string> | null {
  if (table !== null || loadFailed) return table;
  try {
    const require = createRequire(import.meta.url);
    table = require('oui-data') as Record<string, string>;
  } catch {
    loadFailed = true;
  }
  return table;
}

/** True when the MAC ("aa:bb:cc:dd:ee:ff") has the locally administered bit and is unicast. */
export function isRandomizedMac(mac: string): boolean {
  const b = parseInt(mac.slice(0, 2), 16);
  return Number.isFinite(b) && (b & 0x02) !== 0 && (b & 0x01) === 0;
}

/** Organization name for the MAC's OUI, or undefined (unknown, randomized, or data missing). */
export function macVendor(mac: string): string | undefined {
  if (mac.length < 8 || isRandomizedMac(mac)) return undefined;
  const t = load();
  if (t === null) return undefined;
  const key = (mac.slice(0, 2) + mac.slice(3, 5) + mac.slice(6, 8)).toUpperCase();
  const v = t[key];
  if (v === undefined) return undefined;
  const nl = v.indexOf('\n');
  return nl < 0 ? v : v.slice(0, nl);
}
