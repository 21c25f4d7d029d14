/**
 * What an enrolled agent may claim in a heartbeat (docs/SECURITY.md, "Enrolled agents"): the
 * values themselves. A heartbeat is signed, so it is the agent's word, but an agent is one host on
 * the LAN and its word covers only its own interfaces: a MAC must be a valid unicast one and an
 * address a valid unicast address inside the configured scopes (`devices.agentAddressScopes`).
 * Whether a valid claim collides with another device is decided by DeviceIdentity.applyAgentReport.
 *
 * Pure functions over strings: nothing here parses packets.
 */
import { BlockList, isIP } from 'node:net';

const MAC_RE = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

/**
 * The canonical (lower-case) MAC, or undefined when it is not a unicast station address: the
 * group bit (I/G, the low bit of the first octet, IEEE 802 §8.2) is set for multicast and for the
 * broadcast address, and all zeros names no station.
 */
export function unicastMac(s: string): string | undefined {
  const m = s.toLowerCase();
  if (!MAC_RE.test(m) || m === '00:00:00:00:00:00') return undefined;
  if ((parseInt(m.slice(0, 2), 16) & 1) !== 0) return undefined;
  return m;
}

/** Why an address claim was not used. `local` is silently ignored (loopback, link-local: they name no one on the LAN). */
export type AddressVerdict = { ok: true; address: string } | { ok: false; why: 'invalid' | 'not_unicast' | 'local' | 'out_of_scope' };

/**
 * Addresses that are never one host's unicast address on the LAN (RFC 6890 special-purpose
 * registries): "this network" 0.0.0.0/8 (RFC 791), multicast 224.0.0.0/4 (RFC 5771), reserved
 * 240.0.0.0/4 with the limited broadcast 255.255.255.255 (RFC 919), the IPv6 unspecified address
 * (RFC 4291 §2.5.2), multicast ff00::/8 (§2.7); and IPv4-mapped ::ffff:0:0/96 (§2.5.5.2, an
 * IPv4 claim in disguise), matched in judgeAddress.
 */
const NOT_UNICAST = new BlockList();
NOT_UNICAST.addSubnet('0.0.0.0', 8, 'ipv4');
NOT_UNICAST.addSubnet('224.0.0.0', 4, 'ipv4');
NOT_UNICAST.addSubnet('240.0.0.0', 4, 'ipv4');
NOT_UNICAST.addAddress('::', 'ipv6');
NOT_UNICAST.addSubnet('ff00::', 8, 'ipv6');

/** Loopback (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3) and link-local (RFC 3927, RFC 4291 §2.5.6): valid, but no LAN identity. */
const LOCAL = new BlockList();
LOCAL.addSubnet('127.0.0.0', 8, 'ipv4');
LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LOCAL.addAddress('::1', 'ipv6');
LOCAL.addSubnet('fe80::', 10, 'ipv6');

/** A compiled `devices.agentAddressScopes`: CIDR prefixes; empty means every unicast address. */
export interface AddressScopes { readonly any: boolean; readonly list: BlockList }

/** One scope prefix (`10.0.0.0/8`, `2001:db8::/32`, or a single address) as [address, length, family], or undefined when malformed. */
export function parsePrefix(p: string): [string, number, 'ipv4' | 'ipv6'] | undefined {
  const [addr, len, extra] = p.split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const v = isIP(addr);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (len !== undefined && (!/^\d{1,3}$/.test(len) || Number(len) > max)) return undefined;
  return [addr, len === undefined ? max : Number(len), v === 4 ? 'ipv4' : 'ipv6'];
}

/**
 * Compiles scope prefixes. A malformed prefix (the configuration check refuses it before it is
 * written, see src/config/checks.ts) is left out, which narrows the scope: it fails closed.
 */
export function compileScopes(prefixes: readonly string[]): AddressScopes {
  const list = new BlockList();
  for (const p of prefixes) {
    const r = parsePrefix(p);
    if (r !== undefined) list.addSubnet(r[0], r[1], r[2]);
  }
  return { any: prefixes.length === 0, list };
}

/** Canonical text of a valid address (IPv6 compressed, lower case, RFC 5952 §4). */
function canonical(a: string, v: 4 | 6): string {
  if (v === 4) return a;
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

/** Judges one address claim of an agent. */
export function judgeAddress(s: string, scopes: AddressScopes): AddressVerdict {
  const v = isIP(s);
  if (v === 0) return { ok: false, why: 'invalid' };
  const type = v === 4 ? 'ipv4' : 'ipv6';
  if (NOT_UNICAST.check(s, type)) return { ok: false, why: 'not_unicast' };
  const text = canonical(s, v as 4 | 6);
  // BlockList compares IPv4 rules with IPv4-mapped IPv6 too, so the mapped range is matched by text.
  if (v === 6 && /^::ffff:(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|\d+\.\d+\.\d+\.\d+)$/.test(text)) return { ok: false, why: 'not_unicast' };
  if (LOCAL.check(s, type)) return { ok: false, why: 'local' };
  if (!scopes.any && !scopes.list.check(s, type)) return { ok: false, why: 'out_of_scope' };
  return { ok: true, address: text };
}
