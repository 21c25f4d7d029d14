/**
 * `npm run bench:discovery [-- --count N --runs R]`: hostname → app matches per second over a
 * million hostnames (default), against the approaches the matcher replaces, measured in the same
 * run on the same names:
 *
 * - outpost: AppMatcher.match (normalisation, reversed-label trie, registrable-domain grouping);
 * - trie only: AppMatcher.matchDomain on names normalised beforehand (the structure alone);
 * - linear suffix scan: every catalog domain tested with endsWith per name (a per-flow scan);
 * - one RegExp: all catalog domains in one anchored alternation (a regex list compiled once);
 * - tldts.parse: the Public Suffix List library alone, the per-name cost of grouping by
 *   registrable domain (private section on, as the matcher groups unclassified names).
 *
 * The names: catalog domains with random subdomains (mixed case, trailing dots), unknown names
 * under common suffixes, IDNs. The scan and the RegExp also give an independent answer: the
 * longest catalog suffix of each name, which must equal the trie's (disagreements are printed).
 * Prints a table and JSON (also written to test-output/bench-discovery.json).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseDomain } from 'tldts';
import { built } from './bench-common.js';

// The built matcher (dist/), the code that ships; `npm run build` first.
const { AppMatcher } = await built<typeof import('../src/discovery/matcher.js')>('discovery/matcher.js');
const { normalizeHostname } = await built<typeof import('../src/discovery/hostname.js')>('discovery/hostname.js');
const { DEFAULT_CATALOG_PATH, readCatalogFile, resolveCatalog } = await built<typeof import('../src/discovery/catalog.js')>('discovery/catalog.js');
import { mulberry32 } from '../test/support/prng.js';
import { PROJECT_ROOT, formatTable, machineInfo, median } from './bench-common.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' } } });
const count = Number(values.count);
const runs = Number(values.runs);
if (!Number.isInteger(count) || count < 1000 || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: bench-discovery [--count N (>= 1000)] [--runs R]');
  process.exit(2);
}

const t0 = process.hrtime.bigint();
const catalog = resolveCatalog(readCatalogFile(DEFAULT_CATALOG_PATH), new Map(), { discoveryHighRiskCountries: [] });
const matcher = new AppMatcher(catalog);
const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;

const catalogDomains = [...new Set([...catalog.apps.values()].flatMap((a) => a.domains).map((d) => normalizeHostname(d)).filter((d): d is string => d !== undefined))];
const random = mulberry32(42);
const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)]!;
const names: string[] = new Array<string>(count);
for (let i = 0; i < count; i++) {
  const k = random();
  if (k < 0.6) names[i] = `${pick(['api', 'www', 'files', `edge-${Math.floor(random() * 99)}`, 'a.b.c'])}.${pick(catalogDomains)}`;
  else if (k < 0.7) names[i] = `WWW.${pick(catalogDomains).toUpperCase()}.`;
  else if (k < 0.9) names[i] = `host${Math.floor(random() * 5000)}.site${Math.floor(random() * 20000)}.${pick(['com', 'net', 'co.uk', 'de', 'io'])}`;
  else names[i] = `shop.bücher${Math.floor(random() * 100)}.de`;
}
const normalized = names.map((n) => normalizeHostname(n) ?? '');

// The scans are three orders of magnitude slower: they run on a slice and are reported per name.
const sliceSize = Math.min(count, 20_000);

function linearLongestSuffix(name: string): string | undefined {
  let best: string | undefined;
  for (const d of catalogDomains) {
    if ((name === d || (name.endsWith(d) && name.charCodeAt(name.length - d.length - 1) === 46)) && (best === undefined || d.length > best.length)) best = d;
  }
  return best;
}

// Longest suffix first in the alternation, so the first (leftmost-starting) match at a label
// boundary is the longest catalog suffix.
const escaped = [...catalogDomains].sort((a, b) => b.length - a.length).map((d) => d.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&'));
const domainRegex = new RegExp(`(?:^|\\.)(${escaped.join('|')})$`);
function regexLongestSuffix(name: string): string | undefined {
  // The leftmost match is the longest suffix: a match starting further left covers more labels.
  return domainRegex.exec(name)?.[1];
}

interface Variant { name: string; what: string; items: number; run: () => number }
let sink = 0;
const variants: Variant[] = [
  { name: 'outpost', what: 'AppMatcher.match(hostname): normalise, trie, registrable-domain grouping', items: count, run: () => {
    let n = 0;
    for (let i = 0; i < count; i++) if (matcher.match(names[i], undefined) !== undefined) n++;
    return n;
  } },
  { name: 'trie-only', what: 'AppMatcher.matchDomain on pre-normalised names', items: count, run: () => {
    let n = 0;
    for (let i = 0; i < count; i++) if (matcher.matchDomain(normalized[i]!) !== undefined) n++;
    return n;
  } },
  { name: 'tldts.parse', what: 'Public Suffix List lookup alone (tldts), same names', items: count, run: () => {
    let n = 0;
    for (let i = 0; i < count; i++) if (parseDomain(normalized[i]!, { allowPrivateDomains: true, extractHostname: false, validateHostname: false }).domain !== null) n++;
    return n;
  } },
  { name: 'linear-scan', what: `endsWith over ${catalogDomains.length} catalog domains per name (first ${sliceSize} names)`, items: sliceSize, run: () => {
    let n = 0;
    for (let i = 0; i < sliceSize; i++) if (linearLongestSuffix(normalized[i]!) !== undefined) n++;
    return n;
  } },
  { name: 'one-regexp', what: `one anchored alternation of ${catalogDomains.length} domains, same names`, items: count, run: () => {
    let n = 0;
    for (let i = 0; i < count; i++) if (regexLongestSuffix(normalized[i]!) !== undefined) n++;
    return n;
  } },
];

// Agreement of the three domain matchers on the slice (longest catalog suffix per name).
let disagreements = 0;
const examples: string[] = [];
for (let i = 0; i < sliceSize; i++) {
  const name = normalized[i]!;
  const trie = matcher.matchDomain(name)?.domain;
  const scan = linearLongestSuffix(name);
  const re = regexLongestSuffix(name);
  if (trie !== scan || trie !== re) {
    disagreements++;
    if (examples.length < 5) examples.push(`${name}: trie ${trie} scan ${scan} regexp ${re}`);
  }
}

const results: Array<{ variant: string; what: string; items: number; medianMs: number; perSecond: number; runsMs: number[] }> = [];
for (const v of variants) {
  v.run(); // warm-up: compile and inline before timing
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const s = process.hrtime.bigint();
    sink += v.run();
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const ms = median(times);
  results.push({ variant: v.name, what: v.what, items: v.items, medianMs: ms, perSecond: Math.round(v.items / (ms / 1000)), runsMs: times.map((t) => Math.round(t * 10) / 10) });
}

// Scaling: administrators add apps and domains. The same two structures over the shipped catalog
// plus synthetic domains (10 000 and 50 000 more), on 200 000 names of which half hit.
const scaling: Array<{ domains: number; trieBuildMs: number; regexpCompileMs: number; triePerSecond: number; regexpPerSecond: number }> = [];
const word = (): string => Array.from({ length: 3 + Math.floor(random() * 8) }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
for (const extra of [10_000, 50_000]) {
  const added = Array.from({ length: extra }, (_, i) => `${word()}${i}.${pick(['com', 'net', 'io', 'co.uk'])}`);
  const file = readCatalogFile(DEFAULT_CATALOG_PATH);
  const bigFile = { ...file, apps: [...file.apps, ...Array.from({ length: extra / 10 }, (_, i) => ({ id: `synthetic-${i}`, name: `Synthetic ${i}`, vendor: 'bench', category: 'productivity', domains: added.slice(i * 10, i * 10 + 10) }))] };
  const tb = process.hrtime.bigint();
  const big = new AppMatcher(resolveCatalog(bigFile, new Map(), { discoveryHighRiskCountries: [] }));
  const trieBuildMs = Number(process.hrtime.bigint() - tb) / 1e6;
  const all = [...catalogDomains, ...added].sort((a, b) => b.length - a.length).map((d) => d.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&'));
  const tr = process.hrtime.bigint();
  const re = new RegExp(`(?:^|\\.)(${all.join('|')})$`);
  re.exec('warm-up.example.com'); // irregexp compiles on first use
  const regexpCompileMs = Number(process.hrtime.bigint() - tr) / 1e6;
  const probe = Array.from({ length: 200_000 }, (_, i) => (i % 2 === 0 ? `api.${pick(added)}` : `host${i}.${word()}.com`));
  const time = (f: (n: string) => unknown): number => {
    f(probe[0]!);
    const ts = process.hrtime.bigint();
    let n = 0;
    for (const name of probe) if (f(name) !== undefined) n++;
    sink += n;
    return Math.round(probe.length / (Number(process.hrtime.bigint() - ts) / 1e9));
  };
  scaling.push({ domains: big.domainCount, trieBuildMs, regexpCompileMs, triePerSecond: time((n) => big.matchDomain(n)), regexpPerSecond: time((n) => re.exec(n)?.[1]) });
}

const m = machineInfo();
console.log(`bench-discovery: ${count} hostnames, ${catalog.apps.size} apps / ${matcher.domainCount} domains (catalog ${catalog.version}, built in ${buildMs.toFixed(1)} ms), ${runs} run(s) per variant, median`);
console.log(`machine: ${m.nproc} x ${m.cpuModel}, node ${m.node}`);
const ours = results[0]!.perSecond;
console.log(formatTable(['variant', 'names', 'median ms', 'names/s', 'outpost / variant'],
  results.map((r) => [r.variant, String(r.items), r.medianMs.toFixed(1), r.perSecond.toLocaleString('en-US'), (ours / r.perSecond).toFixed(2)])));
for (const r of results) console.log(`  ${r.variant}: ${r.what}`);
console.log(`longest-suffix agreement trie / scan / regexp on ${sliceSize} names: ${sliceSize - disagreements}/${sliceSize}${examples.length ? ` (e.g. ${examples.join('; ')})` : ''}`);
console.log('catalog size: reversed-label trie (AppMatcher.matchDomain) against one RegExp, 200 000 names, half hits');
console.log(formatTable(['domains', 'trie build ms', 'regexp compile ms', 'trie names/s', 'regexp names/s', 'trie / regexp'],
  scaling.map((x) => [String(x.domains), x.trieBuildMs.toFixed(1), x.regexpCompileMs.toFixed(1), x.triePerSecond.toLocaleString('en-US'), x.regexpPerSecond.toLocaleString('en-US'), (x.triePerSecond / x.regexpPerSecond).toFixed(2)])));
const out = { hostnames: count, scaling, catalogVersion: catalog.version, catalogApps: catalog.apps.size, catalogDomains: matcher.domainCount, buildMs, results, agreement: { names: sliceSize, disagreements, examples }, checksum: sink };
mkdirSync(join(PROJECT_ROOT, 'test-output'), { recursive: true });
writeFileSync(join(PROJECT_ROOT, 'test-output', 'bench-discovery.json'), JSON.stringify(out, null, 2));
console.log('wrote test-output/bench-discovery.json');
if (disagreements > 0) process.exitCode = 1;
