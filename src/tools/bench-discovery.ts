/**
 * Matches per second over a million hostnames (`node dist/tools/bench-discovery.js [count]`):
 * a mix of catalog names with random subdomains (mixed case, some trailing dots), unknown names
 * (grouped by registrable domain) and IDNs, matched by the shipped catalog. Prints JSON.
 */
import { AppMatcher } from '../discovery/matcher.js';
import { DEFAULT_CATALOG_PATH, readCatalogFile, resolveCatalog } from '../discovery/catalog.js';

const count = Number(process.argv[2] ?? 1_000_000);
const t0 = process.hrtime.bigint();
const catalog = resolveCatalog(readCatalogFile(DEFAULT_CATALOG_PATH), new Map(), { discoveryHighRiskCountries: [] });
const matcher = new AppMatcher(catalog);
const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;

const domains = [...catalog.apps.values()].flatMap((a) => a.domains);
let seed = 42;
const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const names: string[] = new Array<string>(count);
for (let i = 0; i < count; i++) {
  const k = rnd(10);
  if (k < 6) names[i] = `${['api', 'www', 'files', 'edge-' + rnd(99), 'a.b.c'][rnd(5)]}.${domains[rnd(domains.length)]}`;
  else if (k < 7) names[i] = `WWW.${domains[rnd(domains.length)]!.toUpperCase()}.`;
  else if (k < 9) names[i] = `host${rnd(5000)}.site${rnd(20000)}.${['com', 'net', 'co.uk', 'de', 'io'][rnd(5)]}`;
  else names[i] = `shop.bücher${rnd(100)}.de`;
}
let matched = 0, unclassified = 0, none = 0;
const t1 = process.hrtime.bigint();
for (let i = 0; i < count; i++) {
  const m = matcher.match(names[i], undefined);
  if (m === undefined) none++; else if (m.unclassified) unclassified++; else matched++;
}
const ms = Number(process.hrtime.bigint() - t1) / 1e6;
console.log(JSON.stringify({
  hostnames: count, catalogApps: catalog.apps.size, catalogDomains: matcher.domainCount, buildMs: Math.round(buildMs),
  elapsedMs: Math.round(ms), matchesPerSecond: Math.round(count / (ms / 1000)), matched, unclassified, none,
}));
