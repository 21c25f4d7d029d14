/**
 * OCSF `connection_info.direction_id` from the endpoints' address scopes, as a branch sensor sees
 * them: private, link-local, loopback and multicast space (RFC 1918, RFC 6598, RFC 3927, RFC 4193,
 * RFC 4291) is "inside". Client inside → server outside is Outbound (2), the reverse Inbound (1),
 * both inside Lateral (3), both outside Unknown (0).
 */
export const enum Direction {
  UNKNOWN = 0,
  INBOUND = 1,
  OUTBOUND = 2,
  LATERAL = 3,
}

/**
 * Inside-ness of an address by its first 16 bits, one byte per value: for IPv4 the first two
 * octets, for IPv6 the first group. Every prefix above is at least that long except ::1 and ::
 * (and IPv4 0.0.0.0), which isInternal tests apart. A table lookup instead of a chain of
 * comparisons: the event builder inlines isInternal, and a comparison it had never run before
 * being optimized (the first address in a range not seen yet) deoptimized it mid-replay.
 */
const INSIDE_V4 = new Uint8Array(65536);
const INSIDE_V6 = new Uint8Array(65536);
INSIDE_V4.fill(1, 10 << 8, 11 << 8); // 10.0.0.0/8 (RFC 1918)
INSIDE_V4.fill(1, 127 << 8, 128 << 8); // 127.0.0.0/8 loopback
INSIDE_V4.fill(1, (172 << 8) | 16, (172 << 8) | 32); // 172.16.0.0/12 (RFC 1918)
INSIDE_V4.fill(1, (192 << 8) | 168, (192 << 8) | 169); // 192.168.0.0/16 (RFC 1918)
INSIDE_V4.fill(1, (169 << 8) | 254, (169 << 8) | 255); // 169.254.0.0/16 link-local (RFC 3927)
INSIDE_V4.fill(1, (100 << 8) | 64, (100 << 8) | 128); // 100.64.0.0/10 shared (RFC 6598)
INSIDE_V4.fill(1, 224 << 8, 65536); // 224.0.0.0/4 multicast and 240.0.0.0/4 reserved
INSIDE_V6.fill(1, 0xfc00, 0xfe00); // fc00::/7 unique local (RFC 4193)
INSIDE_V6.fill(1, 0xfe80, 0xfec0); // fe80::/10 link-local (RFC 4291)
INSIDE_V6.fill(1, 0xff00, 0x10000); // ff00::/8 multicast (RFC 4291)

/** Address words as in the flow table (unsigned 32-bit): IPv4 in word 3. */
export function isInternal(version: number, w0: number, w1: number, w2: number, w3: number): boolean {
  if (version === 4) return INSIDE_V4[w3 >>> 16] === 1 || w3 === 0;
  if (INSIDE_V6[w0 >>> 16] === 1) return true;
  if (w0 !== 0 || w1 !== 0) return false;
  if (w2 === 0) return w3 === 1 || w3 === 0; // ::1, ::
  return w2 === 0xffff && (INSIDE_V4[w3 >>> 16] === 1 || w3 === 0); // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2)
}

export function directionOf(clientInternal: boolean, serverInternal: boolean): Direction {
  if (clientInternal && serverInternal) return Direction.LATERAL;
  if (clientInternal) return Direction.OUTBOUND;
  if (serverInternal) return Direction.INBOUND;
  return Direction.UNKNOWN;
}

/** Scratch words for isInternalAddress (one call at a time; events are built synchronously). */
const WORDS = new Uint32Array(4);

/**
 * isInternal for an address as text (dotted IPv4, RFC 5952 IPv6), for events built from parsed
 * messages (DNS) rather than flow-table slots. Text that is not an address is not inside.
 */
export function isInternalAddress(ip: string): boolean {
  if (!ip.includes(':')) {
    const parts = ip.split('.');
    if (parts.length !== 4) return false;
    let w = 0;
    for (const p of parts) { const n = Number(p); if (!(n >= 0 && n <= 255)) return false; w = (w << 8) | n; }
    return isInternal(4, 0, 0, 0, w >>> 0);
  }
  // IPv6: groups on either side of '::' (RFC 4291 §2.2), a dotted IPv4 tail counting as two.
  const dbl = ip.indexOf('::');
  const head = dbl >= 0 ? ip.slice(0, dbl) : ip;
  const tail = dbl >= 0 ? ip.slice(dbl + 2) : '';
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = g.split('.').map(Number);
        if (v4.length !== 4 || v4.some((n) => !(n >= 0 && n <= 255))) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        const n = parseInt(g, 16);
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(n);
      }
    }
    return out;
  };
  const h = groups(head), t = groups(tail);
  if (h === undefined || t === undefined) return false;
  const fill = 8 - h.length - t.length;
  if (fill < 0 || (dbl < 0 && fill !== 0)) return false;
  const all = [...h, ...new Array<number>(fill).fill(0), ...t];
  for (let i = 0; i < 4; i++) WORDS[i] = ((all[2 * i]! << 16) | all[2 * i + 1]!) >>> 0;
  return isInternal(6, WORDS[0]!, WORDS[1]!, WORDS[2]!, WORDS[3]!);
}
