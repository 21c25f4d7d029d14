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

/** Address words as in the flow table: IPv4 in word 3. */
export function isInternal(version: number, w0: number, w1: number, w2: number, w3: number): boolean {
  if (version === 4) {
    const a = w3 >>> 24, b = (w3 >>> 16) & 0xff;
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)
      || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || a >= 224 || w3 === 0;
  }
  const top = w0 >>> 16;
  if ((top & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((top & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((top & 0xff00) === 0xff00) return true; // ff00::/8 multicast
  if (w0 === 0 && w1 === 0 && w2 === 0 && (w3 === 1 || w3 === 0)) return true; // ::1, ::
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return isInternal(4, 0, 0, 0, w3);
  return false;
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
