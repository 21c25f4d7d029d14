/**
 * Hostname / address → app, over structures built once per catalog version:
 *
 * - domains: a trie keyed by reversed labels ("com" → "slack" → ...). A name is walked from its
 *   last label; the deepest node carrying an app is the longest matching suffix, so
 *   "files.slack.com" and "slack.com" match the entry "slack.com", "notslack.com" does not, and
 *   "gist.github.com" beats "github.com". Cost: one Map lookup per label, no scan of the catalog.
 * - address ranges (fallback when no name matched): per prefix length, a Map from the masked
 *   network to the app, probed from the longest prefix length present to the shortest.
 * - names no entry matches are grouped by registrable domain (Public Suffix List, ICANN and
 *   private sections, via tldts) as "unclassified" apps, id "unclassified:<registrable domain>".
 *   With the private section, a customer's site on shared hosting is its own app
 *   ("shop.example.github.io" → "example.github.io", "d1234.cloudfront.net" stays itself), not
 *   one lump per hosting provider.
 * - administrator claims (an override's `domains`/`addDomains`, a custom app's ranges) are
 *   inserted before the shipped entries, so they win a domain or range both name, whatever the ids.
 * - "no app" suffixes (the catalog's `noApp` rules) are trie nodes that name nothing: when one is
 *   the deepest match, the broader app above it does not claim the name (elb.amazonaws.com under
 *   amazonaws.com), address ranges are not consulted either (the name already says whose endpoint
 *   it is: a customer's), and the name is grouped as unclassified by registrable domain, rule
 *   "no-app:<suffix>", when the Public Suffix List puts that domain below the suffix (it names the
 *   customer: "lb.us-east-1.elb.amazonaws.com"); otherwise the name has no app. A longer app
 *   suffix below a no-app suffix still wins (deepest node).
 */
import { isIP } from 'node:net';
import { parse as parseDomain } from 'tldts';
import { normalizeHostname } from './hostname.js';
import { parseCidr, type ResolvedApp, type ResolvedCatalog } from './catalog.js';

interface TrieNode {
  children: Map<string, TrieNode> | null;
  appId: string | null;
  /** The catalog domain this node stands for (the rule reported with a match). */
  domain: string | null;
  /** What matchDomain answers for names ending here, built with the trie (shared, never changed). */
  hit: DomainHit | null;
  /** A `noApp` suffix ends here: names under it are no catalog app (unless a deeper node names one). */
  noApp: boolean;
}

export interface DomainHit { readonly appId: string; readonly domain: string; readonly match: AppMatch }

/** An address range's app and its answer, built with the matcher. */
interface RangeEntry { appId: string; cidr: string; match: AppMatch }

export type MatchSignal = 'hostname' | 'address';

export interface AppMatch {
  app: ResolvedApp | null;
  /** App id ("unclassified:<domain>" for grouped unknown names). */
  appId: string;
  /** The signal that named the flow: its hostname, or its server address. */
  signal: MatchSignal;
  /**
   * The catalog rule that matched: "domain:<suffix>", "cidr:<range>", "registrable-domain:<domain>",
   * or "no-app:<suffix>" (an unclassified name under a `noApp` suffix).
   */
  rule: string;
  unclassified: boolean;
  /** For unclassified apps, the registrable domain (also their display name). */
  registrableDomain?: string;
}

function rangeEntry(app: ResolvedApp, appId: string, cidr: string): RangeEntry {
  return { appId, cidr, match: Object.freeze({ app, appId, signal: 'address', rule: `cidr:${cidr}`, unclassified: false }) };
}

function newNode(): TrieNode {
  return { children: null, appId: null, domain: null, hit: null, noApp: false };
}

function ipv4ToInt(ip: string): number {
  let n = 0, part = 0, i = 0;
  for (; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) { n = (n * 256) + part; part = 0; } else part = part * 10 + (c - 48);
  }
  return (n * 256 + part) >>> 0;
}

/**
 * parseInt(s, 10), read from the character codes when `s` starts with one to three decimal digits
 * (an IPv4 address's first octet): V8 answers parseInt of a string that is not an array index
 * ("192.0.2.1") with a runtime call, made here for every address discovery looks up. Anything
 * else goes to parseInt itself.
 */
function leadingDecimal(s: string): number {
  let n = 0, i = 0;
  for (; i < s.length && i < 4; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i === 0 || i === 4 ? parseInt(s, 10) : n;
}

/** Dotted-quad IPv4 → number, or -1 unless exactly four decimal parts of 0-255 without leading zeros. */
function ipv4ToIntStrict(ip: string): number {
  let n = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + part; part = 0; digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // a leading zero ("01"), refused as net.isIP does
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return (n * 256 + part) >>> 0;
}

function ipv6ToBigInt(ip: string): bigint {
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    // Embedded IPv4 tail ("::ffff:192.0.2.1"): as two hex groups.
    const v4 = ipv4ToInt(s.slice(lastColon + 1));
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const dbl = s.indexOf('::');
  let groups: string[];
  if (dbl >= 0) {
    const head = s.slice(0, dbl), rest = s.slice(dbl + 2);
    const h = head === '' ? [] : head.split(':');
    const r = rest === '' ? [] : rest.split(':');
    groups = [...h, ...new Array<string>(Math.max(0, 8 - h.length - r.length)).fill('0'), ...r];
  } else groups = s.split(':');
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 16n) | BigInt(parseInt(groups[i] ?? '0', 16) || 0);
  return v;
}

export class AppMatcher {
  private readonly root = newNode();
  private readonly v4 = new Map<number, Map<number, RangeEntry>>();
  private readonly v6 = new Map<number, Map<bigint, RangeEntry>>();
  private v4Prefixes: number[] = [];
  private v6Prefixes: number[] = [];
  /**
   * First octet (IPv4) / first 16-bit group (IPv6) of every range, when all ranges are at least
   * that long (null otherwise): most flows' servers are in no range, and this rejects them from
   * the address text alone, before any parsing (BigInt arithmetic for IPv6 is the dear part).
   */
  private v4Leading: Set<number> | null = new Set();
  private v6Leading: Set<number> | null = new Set();
  readonly domainCount: number;
  readonly rangeCount: number;
  /** `noApp` suffixes in the trie. */
  readonly noAppCount: number;

  constructor(readonly catalog: ResolvedCatalog) {
    let domains = 0, ranges = 0;
    // Two passes in id order: first what the administrator claimed, then the shipped entries. A
    // claim already held is kept and the later one reported, so an override beats a shipped app
    // whether its id sorts before or after it (ids are no priority). Two administrator claims of
    // one domain are refused by Discovery.setOverride; here they can only come from state stored
    // before that check, and the first in id order keeps the domain.
    const ids = [...catalog.apps.keys()].sort();
    const admin = catalog.adminClaims;
    for (const pass of ['administrator', 'catalog'] as const) {
      for (const id of ids) {
        const app = catalog.apps.get(id)!;
        const claims = admin.get(id);
        for (const d of app.domains) {
          const n = normalizeHostname(d);
          if (n === undefined) continue;
          if ((claims?.domains.has(n) === true) !== (pass === 'administrator')) continue;
          const node = this.insert(n);
          if (node.appId !== null) {
            if (node.appId !== id) catalog.conflicts.push(`${n}: ${node.appId} kept${pass === 'catalog' && admin.get(node.appId)?.domains.has(n) === true ? ' (administrator)' : ''}, ${id} skipped`);
            continue;
          }
          node.appId = id;
          node.domain = n;
          node.hit = Object.freeze({ appId: id, domain: n, match: Object.freeze({ app, appId: id, signal: 'hostname', rule: `domain:${n}`, unclassified: false }) });
          domains++;
        }
        if ((claims?.ranges === true) !== (pass === 'administrator')) continue;
        ranges += this.insertRanges(app, id);
      }
    }
    // After every app claim: a suffix an app (or the administrator) names keeps its app. The
    // shipped file cannot hold both (validateCatalog); an override can, and then it wins.
    let noApp = 0;
    for (const n of catalog.noApp) {
      const node = this.insert(n);
      if (node.appId !== null) { catalog.conflicts.push(`${n}: ${node.appId} kept, no-app rule skipped`); continue; }
      if (!node.noApp) { node.noApp = true; node.domain = n; noApp++; }
    }
    this.noAppCount = noApp;
    this.v4Prefixes = [...this.v4.keys()].sort((a, b) => b - a);
    this.v6Prefixes = [...this.v6.keys()].sort((a, b) => b - a);
    this.domainCount = domains;
    this.rangeCount = ranges;
  }

  /** An app's address ranges into the per-prefix maps; a network already held keeps its app. */
  private insertRanges(app: ResolvedApp, id: string): number {
    let ranges = 0;
    for (const cidr of app.addressRanges?.cidrs ?? []) {
      const p = parseCidr(cidr);
      if (p === undefined) continue;
      ranges++;
      if (p.version === 4) {
        const mask = p.prefix === 0 ? 0 : (~0 << (32 - p.prefix)) >>> 0;
        const net = (ipv4ToInt(p.address) & mask) >>> 0;
        let m = this.v4.get(p.prefix);
        if (m === undefined) this.v4.set(p.prefix, (m = new Map()));
        if (!m.has(net)) m.set(net, rangeEntry(app, id, cidr));
        if (p.prefix >= 8) this.v4Leading?.add(net >>> 24); else this.v4Leading = null;
      } else {
        const shift = BigInt(128 - p.prefix);
        const net = (ipv6ToBigInt(p.address) >> shift) << shift;
        let m = this.v6.get(p.prefix);
        if (m === undefined) this.v6.set(p.prefix, (m = new Map()));
        if (!m.has(net)) m.set(net, rangeEntry(app, id, cidr));
        if (p.prefix >= 16) this.v6Leading?.add(Number(net >> 112n)); else this.v6Leading = null;
      }
    }
    return ranges;
  }

  private insert(name: string): TrieNode {
    let node = this.root;
    let end = name.length;
    while (end > 0) {
      const dot = name.lastIndexOf('.', end - 1);
      const label = name.slice(dot + 1, end);
      if (node.children === null) node.children = new Map();
      let next = node.children.get(label);
      if (next === undefined) node.children.set(label, (next = newNode()));
      node = next;
      end = dot < 0 ? 0 : dot;
    }
    return node;
  }

  /** The deepest trie node naming an app or marked no-app for a normalised name, or null. */
  private deepest(name: string): TrieNode | null {
    let node: TrieNode | undefined = this.root;
    let best: TrieNode | null = null;
    let end = name.length;
    while (end > 0 && node.children !== null) {
      const dot = name.lastIndexOf('.', end - 1);
      node = node.children.get(name.slice(dot + 1, end));
      if (node === undefined) break;
      if (node.appId !== null || node.noApp) best = node;
      end = dot < 0 ? 0 : dot;
    }
    return best;
  }

  /**
   * Longest catalog domain that is a suffix (on label boundaries) of a normalised name; undefined
   * when none is, or when the longest rule is a no-app suffix.
   */
  matchDomain(name: string): DomainHit | undefined {
    return this.deepest(name)?.hit ?? undefined;
  }

  /** Longest-prefix probe of an IPv4 address (as a number) in the ranges. */
  private matchV4(n: number): RangeEntry | undefined {
    for (const p of this.v4Prefixes) {
      const mask = p === 0 ? 0 : (~0 << (32 - p)) >>> 0;
      const hit = this.v4.get(p)!.get((n & mask) >>> 0);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  matchAddress(ip: string): RangeEntry | undefined {
    const colon = ip.indexOf(':');
    if (colon < 0) {
      if (this.v4Leading !== null && !this.v4Leading.has(leadingDecimal(ip))) return undefined;
      if (this.v4Prefixes.length === 0) return undefined;
      // Parsed and validated in one pass (net.isIP's pattern match cost more than the probes).
      const n = ipv4ToIntStrict(ip);
      return n < 0 ? undefined : this.matchV4(n);
    }
    const lead = colon === 0 ? 0 : parseInt(ip.slice(0, colon), 16);
    if (lead === 0) {
      // A leading zero group: possibly an IPv4-mapped address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2,
      // as dual-stack sockets report IPv4 peers). It is the IPv4 host, so its IPv4 ranges apply.
      // Servers hardly ever start with a zero group: no cost on the usual path.
      if (isIP(ip) !== 6) return undefined;
      const n = ipv6ToBigInt(ip);
      if (n >> 32n === 0xffffn) {
        const v4 = Number(n & 0xffffffffn);
        if (this.v4Leading !== null && !this.v4Leading.has(v4 >>> 24)) return undefined;
        return this.matchV4(v4);
      }
    }
    if (this.v6Leading !== null && !this.v6Leading.has(lead)) return undefined;
    if (this.v6Prefixes.length === 0 || isIP(ip) !== 6) return undefined;
    const n = ipv6ToBigInt(ip);
    for (const p of this.v6Prefixes) {
      const shift = BigInt(128 - p);
      const hit = this.v6.get(p)!.get((n >> shift) << shift);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /**
   * The app of a flow: its hostname first (longest suffix), then its server address, then the
   * hostname's registrable domain as an unclassified app. Undefined when there is nothing to name
   * (no hostname, no range, or a name under no public suffix such as "printer.local", or one the
   * Public Suffix List makes a suffix itself, such as "ec2-192-0-2-1.compute-1.amazonaws.com").
   * A name under a no-app suffix skips the address ranges and goes straight to the grouping.
   * Catalog answers are built once with the matcher and shared between calls: read-only.
   */
  match(hostname: string | undefined, serverIp: string | undefined): AppMatch | undefined {
    const name = hostname === undefined ? undefined : normalizeHostname(hostname);
    let noAppSuffix: string | null = null;
    if (name !== undefined) {
      const node = this.deepest(name);
      if (node !== null) {
        if (node.hit !== null) return node.hit.match;
        noAppSuffix = node.domain;
      }
    }
    if (serverIp !== undefined && noAppSuffix === null) {
      const r = this.matchAddress(serverIp);
      if (r !== undefined) return r.match;
    }
    if (name !== undefined) {
      // Private suffixes too (github.io, cloudfront.net, herokuapp.com, ...): each customer site on
      // shared hosting is then its own unclassified app. A name under no listed suffix (.local,
      // .example, ...) matches only tldts's default rule (neither ICANN nor private): not an app.
      const p = parseDomain(name, { allowPrivateDomains: true, extractHostname: false, validateHostname: false });
      if (p.domain !== null && (p.isIcann === true || p.isPrivate === true)) {
        // Under a no-app suffix, only a registrable domain below that suffix names the customer
        // (PSL private entries such as elb.amazonaws.com): "vm.region.cloudapp.azure.com" would
        // group as "azure.com", the very lump the rule is there to avoid, so it names nothing.
        if (noAppSuffix !== null && !(p.domain.length > noAppSuffix.length && p.domain.endsWith(noAppSuffix) && p.domain.charCodeAt(p.domain.length - noAppSuffix.length - 1) === 46)) return undefined;
        const rule = noAppSuffix !== null ? `no-app:${noAppSuffix}` : `registrable-domain:${p.domain}`;
        return { app: null, appId: `unclassified:${p.domain}`, signal: 'hostname', rule, unclassified: true, registrableDomain: p.domain };
      }
    }
    return undefined;
  }
}
