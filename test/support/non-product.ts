/**
 * What must never ship: the names of benchmarks, comparisons, fuzzers, fixtures, receivers, the
 * OCSF validator, test vectors and tests, as they would appear under dist/ if any of them were
 * put back into src/. Used by test/package-contents.test.ts (npm pack, and the dist/ tree the
 * .deb copies) and test/appliance-deb.test.ts (the .deb itself).
 */

/** Directory names that hold proof, not product, wherever they appear in a shipped path. */
const NON_PRODUCT_DIRS = new Set(['bench', 'tools', 'test', 'tests', 'fuzz', 'fixtures', 'support', 'vectors']);

/** Module names (without extension) of proof code that lived in src/ before. */
const NON_PRODUCT_MODULES = new Set([
  'bench', 'bench-common', 'bench-devices', 'bench-discovery', 'bench-dns', 'bench-flow-memory', 'bench-forward', 'bench-live', 'bench-replay', 'replay-child',
  'compare-ndpi', 'compare-zeek', 'ndpi-out', 'zeek-dhcp', 'config-docs', 'forward-fault-child', 'forward-fault', 'fault',
  'fuzz', 'fixtures', 'rfc-vectors', 'quic-rfc-vectors', 'protect', 'quic-initial-builder',
  'receivers', 'sample-event', 'prng', 'ocsf-schema',
]);

/** Why `path` (relative, '/'-separated) is not product code, or null when nothing says so. */
export function nonProductReason(path: string): string | null {
  const parts = path.split('/');
  const file = parts.at(-1) ?? '';
  for (const dir of parts.slice(0, -1)) if (NON_PRODUCT_DIRS.has(dir)) return `inside a ${dir}/ directory`;
  if (/\.(test|spec)\.[cm]?[jt]s(\.map)?$/.test(file)) return 'a test file';
  const m = /^(.*?)\.(?:[cm]?js|ts)(?:\.map)?$/.exec(file);
  if (m && NON_PRODUCT_MODULES.has(m[1] ?? '')) return `a proof module (${m[1]})`;
  return null;
}
