/**
 * Which interfaces a zero-configuration `outpost run` captures on: those that carry a default
 * route (IPv4 and IPv6), since that is where the traffic to cloud apps leaves the host; when
 * there is none (an isolated segment, a mirror port without addresses), every interface that is
 * up, loopback aside. Read from the kernel's own tables (procfs and sysfs), so no tool needs to
 * be installed and nothing is spawned.
 *
 * Linux only; elsewhere the files do not exist and the choice is empty (the daemon then says so
 * with CAPTURE_NO_INTERFACE).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// <linux/route.h>
const RTF_UP = 0x0001;
const RTF_REJECT = 0x0200;
// <linux/if.h>
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

export interface InterfaceChoice {
  interfaces: string[];
  /** `default-route`: the interfaces of the default routes; `up`: no default route, every up interface; `none`. */
  why: 'default-route' | 'up' | 'none';
  /** What was found, for the log line. */
  detail: string;
}

/**
 * Interfaces of IPv4 default routes in /proc/net/route: destination and mask 0, route up. Columns
 * are named by the header line; values are hex in host byte order (0 is 0 either way).
 */
export function ipv4DefaultRouteInterfaces(procNetRoute: string): string[] {
  const lines = procNetRoute.split('\n').filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').trim().split(/\s+/);
  const col = (name: string) => header.indexOf(name);
  const [iIf, iDst, iFlags, iMask] = [col('Iface'), col('Destination'), col('Flags'), col('Mask')];
  if (iIf < 0 || iDst < 0 || iFlags < 0 || iMask < 0) return [];
  const out: string[] = [];
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    const flags = Number.parseInt(f[iFlags] ?? '', 16);
    if (f[iDst] !== '00000000' || f[iMask] !== '00000000' || !(flags & RTF_UP) || (flags & RTF_REJECT)) continue;
    const name = f[iIf];
    if (name !== undefined && name !== 'lo' && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * Interfaces of IPv6 default routes in /proc/net/ipv6_route (no header; fields: destination,
 * prefix length, source, source prefix length, next hop, metric, refcount, use, flags, device).
 * The kernel lists "unreachable" defaults on lo (RTF_REJECT): those carry no traffic.
 */
export function ipv6DefaultRouteInterfaces(procNetIpv6Route: string): string[] {
  const out: string[] = [];
  for (const line of procNetIpv6Route.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const flags = Number.parseInt(f[8]!, 16);
    if (!/^0{32}$/.test(f[0]!) || f[1] !== '00' || !(flags & RTF_UP) || (flags & RTF_REJECT)) continue;
    const name = f[9]!;
    if (name !== 'lo' && !out.includes(name)) out.push(name);
  }
  return out;
}

/** Up, non-loopback interfaces from sysfs flags (`/sys/class/net/<if>/flags`, hex IFF_*). */
export function upInterfaces(sysClassNet = '/sys/class/net'): string[] {
  let names: string[];
  try { names = readdirSync(sysClassNet).sort(); } catch { return []; }
  return names.filter((name) => {
    try {
      const flags = Number.parseInt(readFileSync(join(sysClassNet, name, 'flags'), 'utf8').trim(), 16);
      return (flags & IFF_UP) !== 0 && (flags & IFF_LOOPBACK) === 0;
    } catch {
      return false;
    }
  });
}

function readOr(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

/** The zero-configuration choice, from the running kernel's tables (paths overridable for tests). */
export function chooseInterfaces(paths: { route?: string; ipv6Route?: string; sysClassNet?: string } = {}): InterfaceChoice {
  const v4 = ipv4DefaultRouteInterfaces(readOr(paths.route ?? '/proc/net/route'));
  const v6 = ipv6DefaultRouteInterfaces(readOr(paths.ipv6Route ?? '/proc/net/ipv6_route'));
  const routed = [...new Set([...v4, ...v6])];
  if (routed.length > 0) {
    return { interfaces: routed, why: 'default-route', detail: `IPv4 default route via ${v4.join(', ') || '(none)'}; IPv6 default route via ${v6.join(', ') || '(none)'}` };
  }
  const up = upInterfaces(paths.sysClassNet);
  if (up.length > 0) return { interfaces: up, why: 'up', detail: 'no default route (IPv4 or IPv6): every up interface except loopback' };
  return { interfaces: [], why: 'none', detail: 'no default route and no interface up except loopback' };
}
