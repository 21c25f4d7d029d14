/**
 * What ships: the npm package (`npm pack`) and the .deb (appliance/build-deb.sh) carry product
 * code only. The build (tsconfig.build.json) is compiled afresh into a temporary directory, so a
 * stale dist/ cannot hide or add anything; the package is then what `npm pack` would pack from
 * that tree, and the .deb's application is that same dist/ (the script copies it wholesale, which
 * the last test pins) plus production dependencies.
 *
 * Checked three ways: no path names a benchmark, comparison, fuzzer, fixture, receiver,
 * validator, test vector or test (test/support/non-product.ts); every shipped module is reachable
 * from the entry points through its imports (so nothing unused by the product ships, whatever its
 * name); and the entry points are there, so an empty package cannot pass.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { nonProductReason } from './support/non-product.js';

const ROOT = resolve('.');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };

/** Product entry points: the CLI (bin), and the modules the daemon loads by path at run time. */
const ENTRY_POINTS = [...Object.values(pkg.bin).map((p) => posix.normalize(p))];
const EXPECTED = [
  ...ENTRY_POINTS,
  'dist/daemon.js', 'dist/replay.js', 'dist/sensor.js', 'dist/errors.js', 'dist/lifecycle.js',
  'dist/capture/live.js', 'dist/capture/capture-file.js', 'dist/decode/decoder.js', 'dist/flows/flow-table.js',
  'dist/protocols/inspector.js', 'dist/protocols/tls/analyzer.js', 'dist/protocols/quic/analyzer.js',
  'dist/protocols/http/analyzer.js', 'dist/protocols/dns/fast.js', 'dist/devices/identity.js', 'dist/devices/store.js',
  'dist/discovery/discovery.js', 'dist/forward/index.js', 'dist/forward/sinks/syslog-worker.js', 'dist/api/server.js',
  'config/outpost.example.yaml', 'config/catalog/apps.json', 'package.json', 'README.md',
];

let stage = '';
let packed: string[] = [];
let built: string[] = [];

function walk(dir: string, base: string, out: string[]): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, base, out);
    else out.push(relative(base, p).split('\\').join('/'));
  }
  return out;
}

before(() => {
  stage = mkdtempSync(join(tmpdir(), 'outpost-pack-'));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const b = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { encoding: 'utf8' });
  assert.equal(b.status, 0, `build failed:\n${b.stdout}${b.stderr}`);
  built = walk(join(stage, 'dist'), stage, []);
  // What `npm pack` takes besides dist/: package.json and the `files` entries.
  cpSync(join(ROOT, 'package.json'), join(stage, 'package.json'));
  for (const f of pkg.files) if (f !== 'dist') cpSync(join(ROOT, f), join(stage, f), { recursive: true });
  const npm = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: stage, encoding: 'utf8' });
  assert.equal(npm.status, 0, `npm pack failed:\n${npm.stderr}`);
  const report = JSON.parse(npm.stdout) as Array<{ files: Array<{ path: string }> }>;
  packed = report[0]!.files.map((f) => f.path);
});

after(() => { if (stage) rmSync(stage, { recursive: true, force: true }); });

/** Relative imports of a built module: static and dynamic imports, and `new URL('./x.js', import.meta.url)` (workers). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(stage, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(posix.normalize(posix.join(posix.dirname(file), m[1]!)));
  }
  return out;
}

test('the npm package holds the product entry points', () => {
  for (const f of EXPECTED) assert.ok(packed.includes(f), `${f} missing from npm pack`);
  assert.ok(packed.filter((f) => f.endsWith('.js')).length >= 80, `only ${packed.length} files packed`);
});

test('the npm package holds no benchmark, comparison, fuzzer, fixture, receiver, validator, vector or test', () => {
  const bad = packed.map((f) => [f, nonProductReason(f)] as const).filter(([, why]) => why !== null);
  assert.deepEqual(bad, [], `non-product files in npm pack:\n${bad.map(([f, why]) => `  ${f}: ${why}`).join('\n')}`);
  // Nothing outside dist/, config/ and the top-level documents.
  const stray = packed.filter((f) => !/^(dist|config)\//.test(f) && !['package.json', 'README.md', 'LICENSE'].includes(f));
  assert.deepEqual(stray, []);
});

test('the built tree (what the .deb copies) holds no non-product file', () => {
  assert.ok(built.includes('dist/cli.js') && built.includes('dist/daemon.js'), 'entry points built');
  const bad = built.map((f) => [f, nonProductReason(f)] as const).filter(([, why]) => why !== null);
  assert.deepEqual(bad, [], `non-product files in dist/:\n${bad.map(([f, why]) => `  ${f}: ${why}`).join('\n')}`);
});

test('every shipped module is imported, directly or not, by the product entry points', () => {
  const js = new Set(built.filter((f) => f.endsWith('.js')));
  const seen = new Set<string>();
  const stack = [...ENTRY_POINTS];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    assert.ok(js.has(f), `${f} is imported but was not built`);
    seen.add(f);
    for (const dep of importsOf(f)) if (dep.endsWith('.js')) stack.push(dep);
  }
  // A module of types or const enums only compiles to an empty file that nothing imports at run
  // time (the compiler inlines its enums); it carries no code, so it is not counted as unused.
  const empty = (f: string): boolean => readFileSync(join(stage, f), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').replace(/export\s*\{\s*\};?/g, '').trim() === '';
  const unused = [...js].filter((f) => !seen.has(f) && !empty(f));
  assert.deepEqual(unused, [], `built but not used by the product (move it to test/, bench/ or tools/):\n  ${unused.join('\n  ')}`);
  assert.ok(seen.size >= 80, `only ${seen.size} modules reached from ${ENTRY_POINTS.join(', ')}`);
});

test('appliance/build-deb.sh copies dist/ wholesale and otherwise only the files listed here', () => {
  // If the script starts selecting files differently, the dist/ checks above no longer describe
  // the .deb: this test then fails and must be revisited with the script.
  const script = readFileSync(join(ROOT, 'appliance/build-deb.sh'), 'utf8');
  const copied = [...script.matchAll(/^\s*(?:\[[^\]]*\]\s*&&\s*)?(?:cp -aL?|install -m \d+)\s+(.+?)\s+"\$(?:app|stage)[^"]*"\s*$/gm)]
    .flatMap((m) => [...m[1]!.matchAll(/"\$src\/([^"]+)"/g)].map((x) => x[1]!));
  assert.deepEqual(copied.sort(), [
    'README.md', 'appliance/outpost.service', 'appliance/outpost.service', 'config/catalog', 'config/outpost.example.yaml',
    'dist', 'node_modules', 'package-lock.json', 'package.json',
  ]);
  assert.match(script, /npm prune --omit=dev/, 'dev dependencies are pruned');
  assert.ok(existsSync(join(dirname(join(ROOT, 'appliance/build-deb.sh')), 'outpost.service')));
});

test('the console\'s charting library ships: chart.js is a production dependency and its UMD build is where the console reads it', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.ok(manifest.dependencies['chart.js'], 'chart.js in dependencies (the .deb keeps those: npm prune --omit=dev)');
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const entry = lock.packages['node_modules/chart.js'];
  assert.ok(entry !== undefined && entry.dev !== true, 'the lockfile does not mark chart.js dev-only (npm prune would remove it)');
  assert.ok(built.includes('dist/console/routes.js'), 'the console is built');
  // dist/console/routes.js resolves the package from the application's node_modules, as in /opt/outpost.
  const main = createRequire(join(ROOT, 'dist/console/routes.js')).resolve('chart.js');
  assert.ok(existsSync(join(dirname(main), 'chart.umd.min.js')), `chart.umd.min.js next to ${main}`);
});
