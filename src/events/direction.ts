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
