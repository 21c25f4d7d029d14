/**
 * The protocol registry's contract: every registered protocol has its own folder with a
 * README.md and an index.ts, and every counter name its analyzers report is written out in that
 * README (so an operator reading a metric can find what it counts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTOCOLS } from './registry.js';
import { CounterSets, Probe, TRANSPORT_TCP, TRANSPORT_UDP, type FlowAnalyzerEnv, type FlowContext, type PacketContext, type ProtocolDescriptor } from './protocol.js';
import { DecodedPacket } from '../decode/decoder.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../decode/constants.js';
import { mulberry32 } from '../../test/support/prng.js';
import { DEFAULT_INSPECTOR_SETTINGS, FlowInspector } from './inspector.js';
import { LocalProtocols } from './local.js';
import { FUZZ_TARGETS, type FuzzTarget } from '../../test/fuzz/targets.js';
import { EVENT_KIND_CLASSES } from '../events/pipeline.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Every counter name the descriptor's analyzers report, each analyzer built on its own. */
function counterNames(d: ProtocolDescriptor): string[] {
  const names: string[] = [];
  if (d.flow !== undefined) {
    const env: FlowAnalyzerEnv = { settings: DEFAULT_INSPECTOR_SETTINGS, counters: new CounterSets(), onDnsMessage: null, onInspectedDns: null };
    names.push(...Object.keys(d.flow(env).counters()));
  }
  if (d.local !== undefined) names.push(...Object.keys(d.local(new CounterSets()).counters()));
  return names;
}

/** What is wrong with a protocol's folder under `root`: missing files, undocumented counters. */
function problems(d: ProtocolDescriptor, root: string): string[] {
  const dir = join(root, d.name);
  const out: string[] = [];
  if (!existsSync(join(dir, 'index.ts'))) out.push(`${d.name}: no index.ts`);
  const readme = join(dir, 'README.md');
  if (!existsSync(readme)) return [...out, `${d.name}: no README.md`];
  const text = readFileSync(readme, 'utf8');
  for (const name of counterNames(d)) if (!text.includes(name)) out.push(`${d.name}: counter ${name} not in README.md`);
  return out;
}

test('every registered protocol has a folder with index.ts and a README.md naming each of its counters', () => {
  const all = PROTOCOLS.flatMap((d) => problems(d, HERE));
  assert.deepEqual(all, []);
});

/**
 * What is wrong with the fuzz coverage of the registered protocols: a protocol no target claims,
 * or a target that claims a protocol without importing anything from its folder.
 */
function fuzzProblems(protocols: readonly ProtocolDescriptor[], targets: readonly FuzzTarget[], repoRoot: string): string[] {
  const out: string[] = [];
  for (const d of protocols) {
    const claims = targets.filter((t) => t.protocols.includes(d.name));
    if (claims.length === 0) { out.push(`${d.name}: no fuzz target (test/fuzz/targets.ts)`); continue; }
    for (const t of claims) {
      const path = join(repoRoot, t.script);
      const src = existsSync(path) ? readFileSync(path, 'utf8') : '';
      if (!src.includes(`src/protocols/${d.name}/`)) out.push(`${d.name}: fuzz target ${t.script} imports nothing from src/protocols/${d.name}/`);
    }
  }
  return out;
}

const REPO = join(HERE, '..', '..');

test('every registered protocol is fed by a fuzz target that imports its parsers', () => {
  assert.deepEqual(fuzzProblems(PROTOCOLS, FUZZ_TARGETS, REPO), []);
  // The check can fail: a protocol nobody claims, and a claim without an import.
  const orphan = { ...PROTOCOLS[0]!, name: 'orphan' } as ProtocolDescriptor;
  assert.deepEqual(fuzzProblems([orphan], FUZZ_TARGETS, REPO), ['orphan: no fuzz target (test/fuzz/targets.ts)']);
  const liar: FuzzTarget = { name: 'liar', script: 'test/fuzz/tls.ts', protocols: ['nbns'] };
  const nbns = PROTOCOLS.find((d) => d.name === 'nbns')!;
  assert.deepEqual(fuzzProblems([nbns], [liar], REPO), ['nbns: fuzz target test/fuzz/tls.ts imports nothing from src/protocols/nbns/']);
});

test('each event class a protocol declares is the class its kind writes, built by the function it names', async () => {
  let declared = 0;
  for (const d of PROTOCOLS) {
    for (const e of d.events ?? []) {
      declared++;
      assert.equal((EVENT_KIND_CLASSES as Record<string, number>)[e.kind], e.classUid, `${d.name}: kind ${e.kind} is not class ${e.classUid}`);
      const [file, fn] = e.builder.split(' ');
      assert.ok(file !== undefined && fn !== undefined && file.startsWith('src/events/'), `${d.name}: builder "${e.builder}"`);
      const mod = await import(join(REPO, file)) as Record<string, unknown>;
      assert.equal(typeof mod[fn], 'function', `${d.name}: ${file} exports no function ${fn}`);
    }
  }
  assert.ok(declared >= 6, `only ${declared} declared event classes`);
});

test('each registered protocol reports counters and registers at least one analyzer', () => {
  for (const d of PROTOCOLS) {
    assert.ok(d.flow !== undefined || d.local !== undefined, `${d.name} registers no analyzer`);
    assert.ok(counterNames(d).length > 0, `${d.name} reports no counters`);
  }
});

test('protocol names are unique', () => {
  const names = PROTOCOLS.map((d) => d.name);
  assert.deepEqual([...new Set(names)], names);
});

test('the check fails for a protocol without README, or with a counter its README does not name', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-registry-'));
  try {
    const fake: ProtocolDescriptor = {
      name: 'fake',
      local: () => ({
        name: 'fake', udpSourcePorts: [], ipProtocols: [], nonIp: false,
        counters: () => ({ 'fake.messages': 0, 'fake.malformed': 0 }),
      }),
    };
    mkdirSync(join(root, 'fake'));
    writeFileSync(join(root, 'fake', 'index.ts'), '');
    assert.deepEqual(problems(fake, root), ['fake: no README.md']);
    writeFileSync(join(root, 'fake', 'README.md'), 'Counters: `fake.messages`.\n');
    assert.deepEqual(problems(fake, root), ['fake: counter fake.malformed not in README.md']);
    writeFileSync(join(root, 'fake', 'README.md'), 'Counters: `fake.messages`, `fake.malformed`.\n');
    assert.deepEqual(problems(fake, root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the inspector and the dispatcher report the union of the registered counters', () => {
  const inspector = new FlowInspector();
  const local = new LocalProtocols({});
  const reported = new Set([...Object.keys(inspector.counters()), ...Object.keys(local.counters())]);
  const registered = new Set(PROTOCOLS.flatMap(counterNames));
  assert.deepEqual([...reported].sort(), [...registered].sort());
});

test('an analyzer that lists its ports answers NOT_MINE on every other port, as the inspector assumes when it excludes it up front', () => {
  const rnd = mulberry32(88);
  const env: FlowAnalyzerEnv = { settings: DEFAULT_INSPECTOR_SETTINGS, counters: new CounterSets(), onDnsMessage: () => {}, onInspectedDns: null, onLogon: () => {} };
  const keyed = PROTOCOLS.flatMap((d) => (d.flow !== undefined ? [d.flow(env)] : [])).filter((a) => a.ports !== undefined);
  assert.deepEqual(keyed.map((a) => a.name).sort(), ['dns', 'kerberos', 'radius']);
  const buf = Buffer.alloc(1500);
  const p = new DecodedPacket();
  const ctx: FlowContext = { findings: {}, clientNext: -1, serverNext: -1 };
  const pc: { -readonly [K in keyof PacketContext]: PacketContext[K] } = { p, buf, tsUs: 0, fromClient: true, clientDecidedBySyn: false, syn: false, flowUid: 1 };
  for (const a of keyed) {
    const ports = new Set(a.ports);
    const transports = [TRANSPORT_TCP, TRANSPORT_UDP].filter((t) => (a.transports & t) !== 0);
    // Every unlisted port, on either side, against a random unlisted one, with random payloads.
    const other = (): number => { let x; do x = Math.floor(rnd() * 65536); while (ports.has(x)); return x; };
    for (let port = 0; port < 65536; port++) {
      if (ports.has(port)) continue;
      p.protocol = transports[port % transports.length] === TRANSPORT_TCP ? IPPROTO_TCP : IPPROTO_UDP;
      if ((port & 63) === 0) {
        p.payloadOffset = 0; p.payloadLength = (port & 64) === 0 ? 0 : 1 + Math.floor(rnd() * 1400);
        for (let j = 0; j < p.payloadLength; j++) buf[j] = Math.floor(rnd() * 256);
      }
      pc.fromClient = (port & 1) === 0;
      p.srcPort = port; p.dstPort = other();
      assert.equal(a.probe(pc, ctx), Probe.NOT_MINE, `${a.name} ports ${p.srcPort}/${p.dstPort}`);
      p.srcPort = other(); p.dstPort = port;
      assert.equal(a.probe(pc, ctx), Probe.NOT_MINE, `${a.name} ports ${p.srcPort}/${p.dstPort}`);
    }
    // A listed port on either side: the probe claims the flow.
    for (const port of ports) {
      p.srcPort = 40000; p.dstPort = port;
      assert.notEqual(a.probe(pc, ctx), Probe.NOT_MINE, `${a.name} on its port ${port}`);
      p.srcPort = port; p.dstPort = 40000;
      assert.notEqual(a.probe(pc, ctx), Probe.NOT_MINE, `${a.name} from its port ${port}`);
    }
  }
});
