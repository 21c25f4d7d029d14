/**
 * Block lists for appliances Outpost does not sit in front of (a resolver, a proxy, a firewall),
 * made from the same decisions as the inline verdicts (ControlPolicy.decideName: administrator
 * rules, then sanction states), as Defender for Cloud Apps hands out block scripts:
 *
 *   dnsmasq  `address=/name/` (NXDOMAIN for the name and every name below it), carve-outs as
 *            `server=/name/#` (forwarded as usual)
 *   unbound  `local-zone: "name." always_nxdomain` under `server:`, carve-outs `transparent`
 *   rpz      an RPZ zone file (draft-vixie-dnsop-dns-rpz §4.1: `CNAME .` = NXDOMAIN for the name
 *            and `*.name`; carve-outs `CNAME rpz-passthru.`)
 *   nft      a table `inet outpost_blocklist` with address sets of what the blocked names resolved
 *            to as the DNS name cache saw them, and a forward chain that rejects them
 *   squid    `acl outpost_blocked dstdomain .name` and `http_access deny` (carve-outs excluded)
 *   pac      a proxy auto-config function sending blocked names to a proxy that refuses them
 *   csv      one row per name: verdict, reason, rule id, app
 *
 * Candidates are the domains of every catalog app, of unclassified apps with a sanction state,
 * and of domain rules; each is decided alone and listed when blocked. A name that is allowed
 * below a blocked one (an allow rule for `cdn.example.com` under a blocked `example.com`) is a
 * carve-out where the format can say so.
 *
 * Every name written is checked first against strict DNS syntax (labels of [a-z0-9_-], 1-63
 * characters, 253 at most, no leading or trailing hyphen): whatever the catalog, an override or
 * traffic put in a name, nothing but a name reaches a configuration line. Names refused are
 * counted (`control.blocklist_names_refused`), never written, not even in a comment.
 */
import { isIP } from 'node:net';

export const BLOCKLIST_FORMATS = ['dnsmasq', 'unbound', 'rpz', 'nft', 'squid', 'pac', 'csv'] as const;
export type BlocklistFormat = (typeof BLOCKLIST_FORMATS)[number];

export const BLOCKLIST_CONTENT_TYPES: Readonly<Record<BlocklistFormat, string>> = {
  dnsmasq: 'text/plain; charset=utf-8',
  unbound: 'text/plain; charset=utf-8',
  rpz: 'text/dns; charset=utf-8',
  nft: 'text/plain; charset=utf-8',
  squid: 'text/plain; charset=utf-8',
  pac: 'application/x-ns-proxy-autoconfig',
  csv: 'text/csv; charset=utf-8',
};

/** One decided name. */
export interface BlocklistEntry {
  domain: string;
  verdict: 'block' | 'allow';
  reason: string;
  ruleId: string;
  appId?: string;
  appName?: string;
}

export interface BlocklistInput {
  /** Blocked names and the allowed names below them, in any order. */
  entries: readonly BlocklistEntry[];
  /** Name → addresses as the DNS name cache saw them (for `nft`). */
  resolutions?: Iterable<{ name: string; chain: readonly string[]; address: string }>;
  generatedMs: number;
  /** Where the list came from, for the header comment (catalog version). */
  source: string;
}

/** Strict DNS name syntax (RFC 1035 §2.3.1, `_` allowed as in service names), lower case. */
const NAME_RE = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
/** Header text (catalog version, rule ids): letters, digits and a few separators only. */
const SAFE_TEXT_RE = /[^A-Za-z0-9_.:+ -]/g;

export function isListableName(name: string): boolean {
  return NAME_RE.test(name);
}

export class BlocklistCounters {
  built = 0;
  namesRefused = 0;
  snapshot(): Record<string, number> {
    return { 'control.blocklists_built': this.built, 'control.blocklist_names_refused': this.namesRefused };
  }
}

function under(name: string, parent: string): boolean {
  return name.length > parent.length && name.endsWith(parent) && name.charCodeAt(name.length - parent.length - 1) === 46;
}

/** Whether `name` is one of `set` or below one of them (walks the name's suffixes). */
function coveredBy(name: string, set: ReadonlySet<string>): string | undefined {
  let i = 0;
  for (;;) {
    const s = name.slice(i);
    if (set.has(s)) return s;
    const dot = name.indexOf('.', i);
    if (dot < 0) return undefined;
    i = dot + 1;
  }
}

interface Lists {
  /** Blocked names with no blocked ancestor (a name below one is redundant), sorted. */
  blocked: BlocklistEntry[];
  /** Allowed names below a blocked one, sorted. */
  carveOuts: BlocklistEntry[];
  /** Every valid blocked name (for matching resolutions). */
  blockedSet: Set<string>;
  carveOutSet: Set<string>;
}

function lists(input: BlocklistInput, counters: BlocklistCounters): Lists {
  const valid = input.entries.filter((e) => {
    if (isListableName(e.domain)) return true;
    counters.namesRefused++;
    return false;
  });
  const blockedSet = new Set(valid.filter((e) => e.verdict === 'block').map((e) => e.domain));
  const byName = (a: BlocklistEntry, b: BlocklistEntry) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0);
  const seen = new Set<string>();
  const blocked: BlocklistEntry[] = [];
  const carveOuts: BlocklistEntry[] = [];
  for (const e of [...valid].sort(byName)) {
    if (seen.has(e.domain)) continue;
    seen.add(e.domain);
    if (e.verdict === 'block') {
      // Below a blocked name and no carve-out in between: the ancestor covers it already.
      const grand = e.domain.indexOf('.') < 0 ? undefined : coveredBy(e.domain.slice(e.domain.indexOf('.') + 1), blockedSet);
      if (grand !== undefined && !valid.some((a) => a.verdict === 'allow' && under(e.domain, a.domain) && under(a.domain, grand))) continue;
      blocked.push(e);
    } else if (coveredBy(e.domain, blockedSet) !== undefined) {
      carveOuts.push(e);
    }
  }
  return { blocked, carveOuts, blockedSet, carveOutSet: new Set(carveOuts.map((e) => e.domain)) };
}

function header(input: BlocklistInput, l: Lists, comment: string): string {
  const source = input.source.replace(SAFE_TEXT_RE, '_').slice(0, 120);
  return `${comment} Outpost block list, ${new Date(input.generatedMs).toISOString()}, catalog ${source}: ${l.blocked.length} blocked names, ${l.carveOuts.length} allowed below them\n`;
}

/** RFC 4180 cell; a leading =,+,-,@ is prefixed with ' so spreadsheets do not run it. */
function csvCell(v: string | undefined): string {
  const s = v ?? '';
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The addresses blocked names resolved to, minus those an allowed name below them also uses. */
function addresses(input: BlocklistInput, l: Lists): { v4: string[]; v6: string[] } {
  const blocked = new Set<string>();
  const kept = new Set<string>();
  for (const r of input.resolutions ?? []) {
    if (isIP(r.address) === 0) continue;
    const names = [r.name, ...r.chain];
    // A CNAME into a blocked name blocks the address too (the client reaches the blocked service).
    const isBlocked = names.some((n) => coveredBy(n, l.blockedSet) !== undefined && coveredBy(n, l.carveOutSet) === undefined);
    if (isBlocked) blocked.add(r.address); else kept.add(r.address);
  }
  // An address that also serves a name nobody blocked (a shared CDN front) stays reachable:
  // blocking it would block that name as well.
  const out = [...blocked].filter((a) => !kept.has(a)).sort();
  return { v4: out.filter((a) => isIP(a) === 4), v6: out.filter((a) => isIP(a) === 6) };
}

export function renderBlocklist(format: BlocklistFormat, input: BlocklistInput, counters: BlocklistCounters): string {
  counters.built++;
  const l = lists(input, counters);
  switch (format) {
    case 'dnsmasq': {
      // dnsmasq(8) --address: a domain with no address answers NXDOMAIN for it and its subdomains;
      // --server=/domain/# sends a more specific domain to the usual servers.
      let out = header(input, l, '#');
      for (const e of l.blocked) out += `address=/${e.domain}/\n`;
      for (const e of l.carveOuts) out += `server=/${e.domain}/#\n`;
      return out;
    }
    case 'unbound': {
      // unbound.conf(5) local-zone types: always_nxdomain answers NXDOMAIN for the zone and below;
      // transparent lets a zone below it resolve as usual.
      let out = header(input, l, '#') + 'server:\n';
      for (const e of l.blocked) out += `  local-zone: "${e.domain}." always_nxdomain\n`;
      for (const e of l.carveOuts) out += `  local-zone: "${e.domain}." transparent\n`;
      return out;
    }
    case 'rpz': {
      // An RPZ zone (draft-vixie-dnsop-dns-rpz §4.1 QNAME triggers, §3.1 NXDOMAIN action
      // `CNAME .`, §3.5 PASSTHRU `CNAME rpz-passthru.`); the owner names are relative to the
      // zone's origin, whatever name the resolver loads it under.
      const serial = Math.floor(input.generatedMs / 1000) >>> 0;
      let out = header(input, l, ';') + '$TTL 300\n';
      out += `@ IN SOA localhost. hostmaster.localhost. ${serial} 3600 600 86400 300\n@ IN NS localhost.\n`;
      for (const e of l.blocked) out += `${e.domain} CNAME .\n*.${e.domain} CNAME .\n`;
      for (const e of l.carveOuts) out += `${e.domain} CNAME rpz-passthru.\n*.${e.domain} CNAME rpz-passthru.\n`;
      return out;
    }
    case 'nft': {
      // nft(8): the table is declared, deleted and declared again in one transaction, so loading
      // the file again replaces the previous list atomically and touches no other table.
      const a = addresses(input, l);
      const set = (name: string, type: string, items: string[]) =>
        `  set ${name} {\n    type ${type}\n${items.length > 0 ? `    elements = { ${items.join(', ')} }\n` : ''}  }\n`;
      return header(input, l, '#')
        + 'table inet outpost_blocklist\ndelete table inet outpost_blocklist\n'
        + 'table inet outpost_blocklist {\n'
        + set('blocked_ipv4', 'ipv4_addr', a.v4)
        + set('blocked_ipv6', 'ipv6_addr', a.v6)
        + '  chain forward {\n    type filter hook forward priority filter; policy accept;\n'
        + '    ip daddr @blocked_ipv4 meta l4proto tcp reject with tcp reset\n'
        + '    ip daddr @blocked_ipv4 reject\n'
        + '    ip6 daddr @blocked_ipv6 meta l4proto tcp reject with tcp reset\n'
        + '    ip6 daddr @blocked_ipv6 reject\n'
        + '  }\n}\n';
    }
    case 'squid': {
      // squid.conf: dstdomain `.name` matches the name and every name below it; meant to be
      // included before the site's own http_access lines.
      let out = header(input, l, '#');
      for (const e of l.blocked) out += `acl outpost_blocked dstdomain .${e.domain}\n`;
      for (const e of l.carveOuts) out += `acl outpost_allowed dstdomain .${e.domain}\n`;
      if (l.blocked.length === 0) return out;
      out += l.carveOuts.length > 0 ? 'http_access deny outpost_blocked !outpost_allowed\n' : 'http_access deny outpost_blocked\n';
      return out;
    }
    case 'pac': {
      // A PAC file (FindProxyForURL): blocked names go to a proxy on the discard port of the
      // loopback address, so the browser fails at once; everything else DIRECT. Names are JSON
      // string literals (they are strict DNS names already; JSON.stringify escapes regardless).
      const blocked = JSON.stringify(l.blocked.map((e) => e.domain));
      const allowed = JSON.stringify(l.carveOuts.map((e) => e.domain));
      return `${header(input, l, '//')}var OUTPOST_BLOCKED = ${blocked};\nvar OUTPOST_ALLOWED = ${allowed};\n`
        + 'function outpostUnder(host, list) {\n'
        + '  for (var i = 0; i < list.length; i++) {\n'
        + '    if (host === list[i] || dnsDomainIs(host, "." + list[i])) return true;\n'
        + '  }\n  return false;\n}\n'
        + 'function FindProxyForURL(url, host) {\n'
        + '  host = host.toLowerCase();\n'
        + '  if (outpostUnder(host, OUTPOST_ALLOWED)) return "DIRECT";\n'
        + '  if (outpostUnder(host, OUTPOST_BLOCKED)) return "PROXY 127.0.0.1:9";\n'
        + '  return "DIRECT";\n}\n';
    }
    case 'csv': {
      let out = 'domain,verdict,reason,rule_id,app_id,app_name\r\n';
      for (const e of [...l.blocked, ...l.carveOuts]) {
        out += [e.domain, e.verdict, e.reason, e.ruleId, e.appId, e.appName].map(csvCell).join(',') + '\r\n';
      }
      return out;
    }
  }
}
