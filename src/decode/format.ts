/** Text forms of numeric addresses, built only when an event is emitted. */

/**
 * Recently formatted addresses, direct-mapped on a hash of their words, as for MACs below: the
 * same few clients, servers and the gateway are on most events, so most calls return a string
 * already built (and already hashed, when it was a Map key before) instead of building one.
 * Every slot starts as the all-zero address with its correct text.
 */
const V4_CACHE_BITS = 12;
const v4CacheKeys = new Uint32Array(1 << V4_CACHE_BITS);
const v4CacheStrings: string[] = new Array<string>(1 << V4_CACHE_BITS).fill('0.0.0.0');

export function ipv4ToString(w: number): string {
  w >>>= 0;
  const i = Math.imul(w, 0x9e3779b1) >>> (32 - V4_CACHE_BITS);
  if (v4CacheKeys[i] === w) return v4CacheStrings[i]!;
  const s = `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
  v4CacheKeys[i] = w;
  v4CacheStrings[i] = s;
  return s;
}

const V6_CACHE_BITS = 10;
const v6CacheKeys = new Uint32Array(4 << V6_CACHE_BITS);
const v6CacheStrings: string[] = new Array<string>(1 << V6_CACHE_BITS).fill('::');

/** RFC 5952 §4 canonical text of an IPv6 address, from the cache above when it holds it. */
export function ipv6ToString(w0: number, w1: number, w2: number, w3: number): string {
  w0 >>>= 0; w1 >>>= 0; w2 >>>= 0; w3 >>>= 0;
  const i = Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x9e3779b1), 0x27d4eb2f) >>> (32 - V6_CACHE_BITS);
  const k = i << 2;
  if (v6CacheKeys[k] === w0 && v6CacheKeys[k + 1] === w1 && v6CacheKeys[k + 2] === w2 && v6CacheKeys[k + 3] === w3) return v6CacheStrings[i]!;
  const s = formatIpv6(w0, w1, w2, w3);
  v6CacheKeys[k] = w0; v6CacheKeys[k + 1] = w1; v6CacheKeys[k + 2] = w2; v6CacheKeys[k + 3] = w3;
  v6CacheStrings[i] = s;
  return s;
}

/** RFC 5952 §4 canonical text: lowercase hex, no leading zeros, longest zero run (≥2) as "::". */
function formatIpv6(w0: number, w1: number, w2: number, w3: number): string {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  // IPv4-mapped (::ffff:a.b.c.d, RFC 5952 §5) keeps its dotted tail.
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${ipv4ToString(w3)}`;
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (x: number | undefined): string => (x ?? 0).toString(16);
  if (bestStart < 0) return g.map(hex).join(':');
  const head = g.slice(0, bestStart).map(hex).join(':');
  const tail = g.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Recently formatted MACs, direct-mapped on the low bits: a segment has few MACs (the gateway's
 * is on nearly every flow), so most events reuse a string instead of building one.
 */
const MAC_CACHE_SIZE = 1024;
const macCacheKeys = new Float64Array(MAC_CACHE_SIZE).fill(NaN);
const macCacheStrings: string[] = new Array<string>(MAC_CACHE_SIZE).fill('');

/** 48-bit MAC held as an integer → "aa:bb:cc:dd:ee:ff" (once per event endpoint: table lookups, no arrays). */
export function macToString(mac: number): string {
  const lo = mac >>> 0;
  const i = lo & (MAC_CACHE_SIZE - 1);
  if (macCacheKeys[i] === mac) return macCacheStrings[i]!;
  const hi = Math.floor(mac / 4294967296);
  const s = `${HEX2[hi >>> 8]}:${HEX2[hi & 0xff]}:${HEX2[lo >>> 24]}:${HEX2[(lo >>> 16) & 0xff]}:${HEX2[(lo >>> 8) & 0xff]}:${HEX2[lo & 0xff]}`;
  macCacheKeys[i] = mac;
  macCacheStrings[i] = s;
  return s;
}
