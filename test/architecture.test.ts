/**
 * The import graph runs one way down the pipeline (docs/ARCHITECTURE.md):
 *
 *   foundation → capture → decode → flows → protocols → events → devices | discovery → control → forward
 *   → config → api → sensor/replay → daemon → cli/tools
 *
 * This test reads every import of every .ts file under src/ (static `import`/`export … from`,
 * `import type`, dynamic `import('…')`, `new URL('…', import.meta.url)` for worker files),
 * resolves the relative ones, and fails on
 *   (a) any cycle between files (test-only helpers included),
 *   (b) any edge from a lower layer to a higher one, or between the sibling areas of one layer,
 *       in product code (the files reachable from the entry points: CLI, tools, docs generator),
 *   (c) an import of another area by src/config other than that area's config.ts (the
 *       composition must not load an area's runtime code),
 *   (d) route files in src/api/routes other than the core routes (each area keeps its own),
 *   (e) a package such as lmdb, undici, nats, fastify or pino loaded by importing src/config,
 * listing every offending edge. ALLOWED_UPWARD below is empty: an exception would have to be
 * listed there with its reason, and an entry whose edge no longer exists fails too, so the list
 * can only shrink.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');

/**
 * Layers, bottom first. An area may import its own files and any area of a lower layer; areas of
 * one layer (devices, discovery) may not import each other. Files are assigned by their top folder
 * under src/, root files by name; a file in no listed area fails the test, so a new area has to
 * be placed here (and in docs/ARCHITECTURE.md).
 */
const LAYERS: ReadonlyArray<readonly string[]> = [
  // Mechanisms every area may use: errors, lifecycle, the area contract, HTTP error format,
  // OCSF metadata, logger and metrics, the job scheduler, privilege drop, seeded PRNG.
  ['foundation'],
  ['capture'],
  ['decode'],
  ['flows'],
  ['protocols'],
  ['events'],
  ['devices', 'discovery'],
  // Enforcement of sanctions (inline verdicts, block lists): reads device identity and discovery.
  ['control'],
  ['forward'],
  // The composition of every area's configuration section (above all areas it composes).
  ['config'],
  ['api'],
  // The packet pipeline assembled (decode → flows → protocols → events, with the areas' hooks).
  ['pipeline'],
  ['daemon'],
  ['cli', 'tools'],
];

const ROOT_FILES: Readonly<Record<string, string>> = {
  'errors.ts': 'foundation',
  'lifecycle.ts': 'foundation',
  'privileges.ts': 'foundation',
  'area.ts': 'foundation',
  'http.ts': 'foundation',
  'sensor.ts': 'pipeline',
  'replay.ts': 'pipeline',
  'pipeline.ts': 'pipeline',
  'daemon.ts': 'daemon',
  'cli.ts': 'cli',
};

const FOLDERS: Readonly<Record<string, string>> = {
  telemetry: 'foundation',
  jobs: 'foundation',
  capture: 'capture',
  decode: 'decode',
  flows: 'flows',
  protocols: 'protocols',
  events: 'events',
  devices: 'devices',
  discovery: 'discovery',
  control: 'control',
  forward: 'forward',
  config: 'config',
  api: 'api',
  // The local console (pages and their assets), served by the admin API.
  console: 'api',
  tools: 'tools',
};

/** Product entry points: what `outpost`, the npm scripts and the syslog worker start. */
function isEntryPoint(file: string): boolean {
  return file === 'cli.ts' || file.startsWith('tools/') || file === 'config/docs.ts';
}

/** Route files that stay in src/api: the API's own routes, not any area's. */
const CORE_ROUTES = new Set(['health.ts', 'metrics.ts', 'config.ts', 'jobs.ts']);

/**
 * Edges allowed although they break the rules, each with its reason. Empty: fix an edge rather
 * than list it here.
 */
const ALLOWED_UPWARD: ReadonlyArray<{ from: string; to: string; why: string }> = [];
/** Area route files allowed to stay in src/api/routes: none. */
const ALLOWED_ROUTE_FILES = new Set<string>();

export interface Edge { from: string; to: string }

function areaOf(file: string): string | undefined {
  const slash = file.indexOf('/');
  if (slash < 0) return ROOT_FILES[file];
  return FOLDERS[file.slice(0, slash)];
}

function layerOf(area: string): number {
  return LAYERS.findIndex((l) => l.includes(area));
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative specifier → file under src/ (./x.js → x.ts), or undefined for packages and node:. */
function resolveSpecifier(fromAbs: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(fromAbs), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(SRC, candidate);
  }
  throw new Error(`${relative(SRC, fromAbs)}: cannot resolve import '${spec}'`);
}

/** What one file imports: files under src/ (all edges; runtime ones apart) and packages at run time. */
export interface FileImports {
  /** Every file it imports: static, type-only and dynamic (`import('…')`) imports. */
  files: string[];
  /** Worker files it starts by URL: reached at run time, but in their own module graph (no edge). */
  workers: string[];
  /** What importing this file loads at once: static imports that are not type-only. */
  runtimeFiles: string[];
  runtimePackages: string[];
}

/**
 * The specifiers a file imports, each marked type-only or not. Type-only: `import type`,
 * `export type … from`, imports whose every named binding is `type`, and `import('…')` in a type
 * position; those are erased by tsc and load nothing, but still count as edges for the layering.
 * A dynamic `import('…')` (lazy) is an edge too, but loads its target only when it runs.
 * Worker files started by `new URL('./x.js', import.meta.url)` are listed apart (`worker`).
 */
function importsOf(fileName: string, text: string): Array<{ spec: string; typeOnly: boolean; worker?: true; lazy?: true }> {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Array<{ spec: string; typeOnly: boolean; worker?: true; lazy?: true }> = [];
  const literal = (n: ts.Node | undefined): string | undefined => (n !== undefined && ts.isStringLiteral(n) ? n.text : undefined);
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n)) {
      const spec = literal(n.moduleSpecifier);
      const c = n.importClause;
      const named = c?.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) ? c.namedBindings : undefined;
      const typeOnly = c !== undefined && (c.isTypeOnly || (c.name === undefined && named !== undefined && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)));
      if (spec !== undefined) out.push({ spec, typeOnly });
    } else if (ts.isExportDeclaration(n)) {
      const spec = literal(n.moduleSpecifier);
      const named = n.exportClause !== undefined && ts.isNamedExports(n.exportClause) ? n.exportClause : undefined;
      const typeOnly = n.isTypeOnly || (named !== undefined && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
      if (spec !== undefined) out.push({ spec, typeOnly });
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const spec = literal(n.arguments[0]);
      if (spec !== undefined) out.push({ spec, typeOnly: false, lazy: true });
    } else if (ts.isImportTypeNode(n)) {
      const arg = n.argument;
      const spec = ts.isLiteralTypeNode(arg) ? literal(arg.literal) : undefined;
      if (spec !== undefined) out.push({ spec, typeOnly: true });
    } else if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'URL') {
      const spec = literal(n.arguments?.[0]);
      const base = n.arguments?.[1];
      if (spec !== undefined && /^\.{1,2}\/.*\.[jt]s$/.test(spec) && base !== undefined && base.getText(sf) === 'import.meta.url') out.push({ spec, typeOnly: false, worker: true });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every file under src/ (tests excluded) with what it imports. */
export function readImports(): Map<string, FileImports> {
  const all = new Map<string, FileImports>();
  for (const abs of walk(SRC)) {
    const files = new Set<string>();
    const workers = new Set<string>();
    const runtimeFiles = new Set<string>();
    const runtimePackages = new Set<string>();
    for (const { spec, typeOnly, worker, lazy } of importsOf(abs, readFileSync(abs, 'utf8'))) {
      const t = resolveSpecifier(abs, spec);
      if (t !== undefined && worker) {
        workers.add(t);
      } else if (t !== undefined) {
        files.add(t);
        if (!typeOnly && !lazy) runtimeFiles.add(t);
      } else if (!typeOnly && !lazy && !spec.startsWith('node:')) {
        runtimePackages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    all.set(relative(SRC, abs), { files: [...files].sort(), workers: [...workers].sort(), runtimeFiles: [...runtimeFiles].sort(), runtimePackages: [...runtimePackages].sort() });
  }
  return all;
}

export function readGraph(imports: ReadonlyMap<string, FileImports> = readImports()): Map<string, string[]> {
  return new Map([...imports].map(([f, i]) => [f, i.files]));
}

/** Strongly connected components with more than one file (or a file importing itself). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** Files reachable from the entry points; the rest are test-only helpers. */
export function reachable(graph: ReadonlyMap<string, readonly string[]>, entry: (f: string) => boolean): Set<string> {
  const seen = new Set<string>();
  const todo = [...graph.keys()].filter(entry);
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    todo.push(...(graph.get(f) ?? []));
  }
  return seen;
}

/** Edges that go up a layer, or sideways between two areas of one layer. */
export function layerViolations(graph: ReadonlyMap<string, readonly string[]>, files: ReadonlySet<string>, area: (f: string) => string | undefined = areaOf): Array<Edge & { why: string }> {
  const out: Array<Edge & { why: string }> = [];
  for (const from of [...files].sort()) {
    const fa = area(from);
    if (fa === undefined) { out.push({ from, to: from, why: 'file in no area: place its folder in LAYERS' }); continue; }
    for (const to of graph.get(from) ?? []) {
      const ta = area(to);
      if (ta === undefined) { out.push({ from, to, why: 'imported file in no area' }); continue; }
      if (ta === fa) continue;
      // The composition reads every area's section, whatever its layer (sectionViolations keeps
      // those files free of anything above src/config).
      if (fa === 'config' && isSectionFile(to)) continue;
      const fl = layerOf(fa);
      const tl = layerOf(ta);
      if (tl > fl) out.push({ from, to, why: `${fa} (layer ${fl}) imports ${ta} (layer ${tl}), which is above it` });
      else if (tl === fl) out.push({ from, to, why: `${fa} and ${ta} are siblings in layer ${fl}: neither may import the other` });
    }
  }
  return out;
}

/** An area's configuration section: `<area>/config.ts`. */
function isSectionFile(file: string): boolean {
  return /^[a-z]+\/config\.ts$/.test(file) && file !== 'config/config.ts';
}

/**
 * src/config composes the areas' sections: it may reach another area (above the foundation) only
 * through that area's config.ts, and a section file of an area above src/config (api/config.ts)
 * may import only the foundation, so nothing above the composition comes in through it.
 */
export function configViolations(graph: ReadonlyMap<string, readonly string[]>, area: (f: string) => string | undefined = areaOf): Array<Edge & { why: string }> {
  const out: Array<Edge & { why: string }> = [];
  const configLayer = layerOf('config');
  for (const [from, tos] of graph) {
    const fa = area(from);
    if (fa === 'config') {
      for (const to of tos) {
        const ta = area(to);
        if (ta === 'config' || ta === 'foundation') continue;
        if (!isSectionFile(to)) out.push({ from, to, why: 'the composition imports an area past its config.ts' });
      }
    } else if (fa !== undefined && isSectionFile(from) && layerOf(fa) > configLayer) {
      for (const to of tos) if (area(to) !== 'foundation') out.push({ from, to, why: 'a section above src/config may import only the foundation' });
    }
  }
  return out;
}

/**
 * Packages loaded, at run time, by importing `entry`: follows runtime edges only (type imports
 * are erased), so a type reference to a sink's client library costs nothing.
 */
export function runtimePackages(imports: ReadonlyMap<string, FileImports>, entry: string): Map<string, string> {
  const found = new Map<string, string>(); // package → first file seen importing it
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const i = imports.get(f);
    if (!i) continue;
    for (const p of i.runtimePackages) if (!found.has(p)) found.set(p, f);
    todo.push(...i.runtimeFiles);
  }
  return found;
}

/**
 * Loading the configuration (every CLI start, `outpost replay` included) must not load an area's
 * runtime: no storage, network clients, HTTP server, logger or capture library.
 */
const NOT_FOR_CONFIG = ['lmdb', 'undici', 'nats', 'fastify', '@fastify/rate-limit', 'pino', 'pcap', 'node-cron'];

const fmt = (e: Edge & { why?: string }): string => `  ${e.from} -> ${e.to}${e.why ? `  (${e.why})` : ''}`;
const allowed = (e: Edge): boolean => ALLOWED_UPWARD.some((a) => a.from === e.from && a.to === e.to);

describe('import graph', () => {
  const imports = readImports();
  const graph = readGraph(imports);
  const product = reachable(new Map([...imports].map(([f, i]) => [f, [...i.files, ...i.workers]])), isEntryPoint);

  test('reads the imports of every product file', (t) => {
    // Guards against a parser that silently reads nothing: these edges are known to exist.
    assert.ok(graph.size > 120, `only ${graph.size} files read`);
    assert.ok(graph.get('cli.ts')?.includes('daemon.ts') && !imports.get('cli.ts')?.runtimeFiles.includes('daemon.ts'), 'cli.ts -> daemon.ts (a dynamic import) not found as a lazy edge');
    assert.ok(imports.get('forward/sinks/syslog-format.ts')?.workers.includes('forward/sinks/syslog-worker.ts'), 'the syslog worker URL not found');
    assert.ok(graph.get('config/schema.ts')?.includes('forward/config.ts'));
    assert.ok(graph.get('api/types.ts')?.includes('config/manager.ts') && !imports.get('api/types.ts')?.runtimeFiles.includes('config/manager.ts'), 'type-only imports are edges, not runtime edges');
    assert.ok(imports.get('forward/outbox.ts')?.runtimePackages.includes('lmdb'));
    assert.ok(product.has('daemon.ts') && product.has('forward/sinks/https.ts') && product.has('forward/sinks/syslog-worker.ts'));
    const helpers = [...graph.keys()].filter((f) => !product.has(f)).sort();
    t.diagnostic(`${product.size} product files; ${helpers.length} test-only helpers not checked for layering: ${helpers.join(', ')}`);
  });

  test('no cycles between files', () => {
    const found = cycles(graph);
    assert.deepEqual(found, [], `import cycles:\n${found.map((c) => `  ${c.join(' <-> ')}`).join('\n')}`);
  });

  test('no edge goes up the layers or across sibling areas', () => {
    const bad = layerViolations(graph, product).filter((e) => !allowed(e));
    assert.deepEqual(bad, [], `edges against the layer order (docs/ARCHITECTURE.md):\n${bad.map(fmt).join('\n')}`);
  });

  test('every allowlisted edge still exists (the list only shrinks)', () => {
    const stale = ALLOWED_UPWARD.filter((a) => !(graph.get(a.from) ?? []).includes(a.to));
    assert.deepEqual(stale, [], `remove from ALLOWED_UPWARD:\n${stale.map(fmt).join('\n')}`);
  });

  test('src/config reaches other areas only through their config.ts', () => {
    const bad = configViolations(graph);
    assert.deepEqual(bad, [], `src/config and the areas' sections:\n${bad.map(fmt).join('\n')}`);
  });

  test('loading the configuration loads no area runtime', () => {
    const loaded = runtimePackages(imports, 'config/index.ts');
    const bad = NOT_FOR_CONFIG.filter((p) => loaded.has(p)).map((p) => `  ${p} (imported by ${loaded.get(p)})`);
    assert.deepEqual(bad, [], `importing src/config/index.ts loads:\n${bad.join('\n')}`);
    // ajv and yaml are required when a file is read or validated (src/config/load.ts), not when
    // the module is imported: a replay on the embedded defaults loads neither.
    assert.deepEqual(['ajv', 'yaml'].filter((p) => loaded.has(p)), [], 'importing src/config/index.ts loads ajv or yaml');
    // The walk finds packages where there are some: the device area's store opens LMDB.
    assert.ok(runtimePackages(imports, 'devices/area.ts').has('lmdb'), 'the walk found no package from devices/area.ts');
  });

  test('src/api/routes holds only the core routes; area routes live in their area', () => {
    const files = readdirSync(join(SRC, 'api', 'routes')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const misplaced = files.filter((f) => !CORE_ROUTES.has(f) && !ALLOWED_ROUTE_FILES.has(f));
    assert.deepEqual(misplaced, [], `area routes in src/api/routes (move them to the area's routes.ts): ${misplaced.join(', ')}`);
  });
});

describe('the checks themselves', () => {
  // A synthetic graph with one of each fault, so the checks above are shown able to fail.
  const g = new Map<string, string[]>([
    ['capture/a.ts', ['flows/b.ts']], // up: capture below flows
    ['flows/b.ts', ['decode/c.ts']],
    ['decode/c.ts', ['flows/b.ts']], // cycle b <-> c
    ['devices/d.ts', ['discovery/e.ts']], // sideways in one layer
    ['discovery/e.ts', ['events/f.ts', 'errors.ts']],
    ['events/f.ts', []],
    ['errors.ts', []],
    ['config/schema.ts', ['forward/index.ts', 'forward/config.ts']],
    ['forward/index.ts', []],
    ['forward/config.ts', []],
  ]);

  test('finds the cycle', () => {
    assert.deepEqual(cycles(g), [['decode/c.ts', 'flows/b.ts']]);
  });

  test('finds the upward and the sideways edges, and only those', () => {
    const bad = layerViolations(g, new Set(g.keys())).map((e) => `${e.from} -> ${e.to}`);
    assert.deepEqual(bad, ['capture/a.ts -> flows/b.ts', 'decode/c.ts -> flows/b.ts', 'devices/d.ts -> discovery/e.ts']);
  });

  test('a file in no area is reported', () => {
    const bad = layerViolations(new Map([['newarea/x.ts', []]]), new Set(['newarea/x.ts']));
    assert.equal(bad.length, 1);
  });

  test('config importing an area past its config.ts is reported', () => {
    assert.deepEqual(configViolations(g).map((e) => `${e.from} -> ${e.to}`), ['config/schema.ts -> forward/index.ts']);
  });

  test('a section above config importing more than the foundation is reported', () => {
    const h = new Map([['config/schema.ts', ['api/config.ts']], ['api/config.ts', ['api/auth.ts', 'area.ts']], ['api/auth.ts', []], ['area.ts', []]]);
    assert.deepEqual(configViolations(h).map((e) => `${e.from} -> ${e.to}`), ['api/config.ts -> api/auth.ts']);
    assert.deepEqual(layerViolations(h, new Set(h.keys())), []);
  });

  test('runtime packages follow runtime edges only', () => {
    const i = new Map<string, FileImports>([
      ['a.ts', { files: ['b.ts', 'c.ts'], workers: [], runtimeFiles: ['b.ts'], runtimePackages: ['ajv'] }],
      ['b.ts', { files: [], workers: [], runtimeFiles: [], runtimePackages: ['lmdb'] }],
      ['c.ts', { files: [], workers: [], runtimeFiles: [], runtimePackages: ['nats'] }],
    ]);
    assert.deepEqual([...runtimePackages(i, 'a.ts').keys()].sort(), ['ajv', 'lmdb']);
  });

  test('reachability skips what no entry point imports', () => {
    assert.deepEqual([...reachable(g, (f) => f === 'discovery/e.ts')].sort(), ['discovery/e.ts', 'errors.ts', 'events/f.ts']);
  });
});
