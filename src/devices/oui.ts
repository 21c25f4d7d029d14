/**
 * MAC vendor from the IEEE registries (npm `oui-data`: MA-L, MA-M and MA-S assignments as one
 * JSON object), and locally-administered ("randomized") MAC detection: IEEE 802-2014 §8.2 — the
 * U/L bit (0x02 of the first octet) set means not globally unique (phones and laptops randomize
 * this way per network).
 *
 * The most specific assignment wins: an MA-S block (36-bit prefix, 9 hex digits) or MA-M block
 * (28 bits, 7 digits) names the organization that bought it, where the MA-L entry (24 bits, 6
 * digits) of such a block only says "IEEE Registration Authority".
 *
 * Lookups read the package's file in place instead of JSON-parsing it. Parsing 5.6 MB into an
 * object of 54 000 strings cost about 0.1 s and as much again in garbage collection on the first
 * DHCP packet of every run (a tenth of a short replay's wall time). The file holds one
 * `"KEY": "value",` pair per line, keys sorted within each prefix length; the lines are indexed
 * once (one pass over the bytes) and each lookup is a binary search per prefix length. Anything
 * not in that shape falls back to JSON.parse of the whole file, so a change of the package's layout
 * costs speed, never answers (oui.test.ts compares both ways over every key).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Section { first: number; end: number; keyLength: number }

interface LineIndex {
  buf: Buffer;
  /** Byte offset of each entry line's first byte (the space before the key's opening quote). */
  starts: Int32Array;
  /** Runs of consecutive lines with keys of one length, each sorted. */
  sections: Section[];
}

type Table = { kind: 'lines'; index: LineIndex } | { kind: 'object'; data: Record<string, string> };

let table: Table | null = null;
let loadFailed = false;
/** Answers by 9-digit prefix; bounded (cleared when full), since MACs are unbounded. */
const cache = new Map<string, string | null>();
const CACHE_MAX = 4096;

const QUOTE = 0x22, NEWLINE = 0x0a, SPACE = 0x20;

/** Indexes the file's lines, or null when the file is not one `"KEY": "value",` pair per line. */
export function indexOuiLines(buf: Buffer): LineIndex | null {
  // Expected: "{\n", then lines ` "HEX": "...",`, then "}" (and maybe a final newline).
  if (buf[0] !== 0x7b || buf[1] !== NEWLINE) return null;
  const starts: number[] = [];
  const sections: Section[] = [];
  let pos = 2;
  let prevLen = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0x7d) break; // the closing brace
    const nl = buf.indexOf(NEWLINE, pos);
    const end = nl < 0 ? buf.length : nl;
    if (buf[pos] !== SPACE || buf[pos + 1] !== QUOTE) return null;
    let k = pos + 2;
    while (k < end && isHex(buf[k]!)) k++;
    const keyLength = k - pos - 2;
    if (keyLength < 6 || keyLength > 9 || buf[k] !== QUOTE || buf[k + 1] !== 0x3a || buf[k + 2] !== SPACE || buf[k + 3] !== QUOTE) return null;
    if (keyLength !== prevLen) { sections.push({ first: starts.length, end: starts.length, keyLength }); prevLen = keyLength; }
    starts.push(pos);
    sections[sections.length - 1]!.end = starts.length;
    pos = end + 1;
  }
  return { buf, starts: Int32Array.from(starts), sections };
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46);
}

/** Compares the key of the line at `at` with `key` (upper-case hex, same length). */
function compareKey(buf: Buffer, at: number, key: string): number {
  for (let i = 0; i < key.length; i++) {
    const d = buf[at + 2 + i]! - key.charCodeAt(i);
    if (d !== 0) return d;
  }
  return 0;
}

/** The value of `key` (6, 7 or 9 upper-case hex digits) by binary search, or undefined. */
export function lookupOuiLines(index: LineIndex, key: string): string | undefined {
  const { buf, starts } = index;
  for (const s of index.sections) {
    if (s.keyLength !== key.length) continue;
    let lo = s.first, hi = s.end - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = starts[mid]!;
      const c = compareKey(buf, at, key);
      if (c === 0) {
        // The value is a JSON string: from the quote after `": ` to the last quote of the line.
        const from = at + 2 + key.length + 3;
        let to = buf.indexOf(NEWLINE, from);
        if (to < 0) to = buf.length;
        while (to > from && buf[to - 1] !== QUOTE) to--;
        try { return JSON.parse(buf.toString('utf8', from, to)) as string; } catch { return undefined; }
      }
      if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
  }
  return undefined;
}

function load(): Table | null {
  if (table !== null || loadFailed) return table;
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve('oui-data');
    const buf = readFileSync(path);
    const index = indexOuiLines(buf);
    table = index !== null ? { kind: 'lines', index } : { kind: 'object', data: JSON.parse(buf.toString('utf8')) as Record<string, string> };
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

function lookup(t: Table, key: string): string | undefined {
  return t.kind === 'lines' ? lookupOuiLines(t.index, key) : t.data[key];
}

/** Organization name for the MAC's assignment (MA-S, MA-M, MA-L), or undefined (unknown, randomized, or data missing). */
export function macVendor(mac: string): string | undefined {
  if (mac.length < 14 || isRandomizedMac(mac)) return undefined;
  const hex9 = (mac.slice(0, 2) + mac.slice(3, 5) + mac.slice(6, 8) + mac.slice(9, 11) + mac.slice(12, 13)).toUpperCase();
  const cached = cache.get(hex9);
  if (cached !== undefined) return cached ?? undefined;
  const t = load();
  if (t === null) return undefined;
  const v = lookup(t, hex9) ?? lookup(t, hex9.slice(0, 7)) ?? lookup(t, hex9.slice(0, 6));
  let name: string | undefined;
  if (v !== undefined) {
    const nl = v.indexOf('\n');
    name = nl < 0 ? v : v.slice(0, nl);
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(hex9, name ?? null);
  return name;
}
