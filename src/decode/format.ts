/** Text forms of numeric addresses, built only when an event is emitted. */

export function ipv4ToString(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`;
}

/** RFC 5952 §4 canonical text: lowercase hex, no leading zeros, longest zero run (≥2) as "::". */
export function ipv6ToString(w0: number, w1: number, w2: number, w3: number): string {
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
