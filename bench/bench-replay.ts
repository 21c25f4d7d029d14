/**
 * `npm run bench`: replay throughput and peak memory of Outpost against ndpiReader on the
 * benchmark capture built by ../shared/tools/make-bench-pcap.sh (bench-cache/bench-<N>.pcap).
 *
 * Variants, each a separate process so that its peak RSS is its own, run round-robin
 * `--runs` times (default 3) after one untimed read of the file to warm the page cache:
 *   outpost        node dist/cli.js replay FILE --emit none --without devices,discovery --stats
 *                  (the sensor alone: decode, flows, protocol analysis)
 *   ndpiReader     ndpiReader -i FILE -q -t                           (quiet, tunnel decoding)
 *   pcap-npm       the `pcap` npm package reading FILE, one JS callback per packet, no decoding
 *   js-reader      our capture-file reader alone (readCaptureFile with a no-op callback)
 *   outpost-emit   node dist/cli.js replay FILE --emit network --without devices,discovery (stdout to /dev/null), with --emit-network
 * Packets/s = packets in the file / median wall time of the whole process (start-up included,
 * for every variant alike). Outpost's own in-process figure (elapsedMs) is reported beside it.
 *
 * Options: --runs N, --emit-network, --full (adds `--with devices,discovery`), --file PATH (any capture instead of the built one),
 * env OUTPOST_BENCH_COPIES (copies of the corpus in the built capture; default 50),
 * env OUTPOST_BENCH_RSS=poll (measure RSS by polling /proc even when GNU time is installed).
 * Output: a table on stdout and test-output/bench-replay.json.
 *
 * Run through tsx (`node --import tsx bench/bench-replay.ts`); every measured process is plain
 * `node` on built code: dist/cli.js for Outpost, bench/replay-child.mjs (dist/capture/) for the
 * two readers, so the loader never runs inside a measurement. `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  PROJECT_ROOT, fmt, formatTable, haveCommand, machineInfo, measureCommand, median, rssMethod, type MeasuredRun,
} from './bench-common.js';

// `replay --emit none` runs every analysis, naming included: the target with naming on is 1.5 ×
// ndpiReader (the foundation alone, before naming, was held to 2.0 ×; BENCHMARKS.md has both).
const TARGET_PPS_RATIO = 1.5;
const TARGET_RSS_RATIO = 0.25;

/** What a measured child (bench/replay-child.mjs) prints. */
interface ChildResult {
  packets: number;
  elapsedMs: number;
}

// ---------------------------------------------------------------------------------------------
// The benchmark.
// ---------------------------------------------------------------------------------------------

interface Variant {
  name: string;
  cmd: string;
  args: string[];
  stdout: 'pipe' | 'ignore';
  /** Packets and in-process time the variant reported itself, if it does. */
  parse: (run: MeasuredRun) => { packets: number | null; innerMs: number | null };
}

interface VariantSummary {
  name: string;
  command: string;
  runs: { wallMs: number; peakRssKiB: number | null; packets: number | null; innerMs: number | null }[];
  medianWallMs: number;
  packetsPerSecond: number;
  medianPeakRssMiB: number | null;
  maxPeakRssMiB: number | null;
  medianInnerMs: number | null;
  innerPacketsPerSecond: number | null;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function ensureCapture(copies: number): string | null {
  const cacheDir = join(PROJECT_ROOT, 'bench-cache');
  const out = join(cacheDir, `bench-${copies}.pcap`);
  if (existsSync(out)) return out;
  const script = resolve(PROJECT_ROOT, '..', 'shared', 'tools', 'make-bench-pcap.sh');
  if (!existsSync(script)) {
    process.stdout.write(`bench: skipped: ${script} not found (../shared is absent), so the benchmark capture cannot be built.\n`
      + '       Pass --file PATH to benchmark an existing capture.\n');
    return null;
  }
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${out}.partial`;
  process.stdout.write(`bench: building ${relative(PROJECT_ROOT, out)} (${copies} copies of the nDPI corpus)...\n`);
  const t0 = Date.now();
  const r = spawnSync('bash', [script, partial, String(copies)], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    rmSync(partial, { force: true });
    throw new Error(`make-bench-pcap.sh exited with ${r.status ?? r.signal}`);
  }
  renameSync(partial, out);
  process.stdout.write(`bench: built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return out;
}

function parseJsonLine(text: string): Record<string, unknown> | null {
  const start = text.indexOf('{');
  if (start < 0) return null;
  try {
    return JSON.parse(text.slice(start)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

const parseOutpost = (run: MeasuredRun): { packets: number | null; innerMs: number | null } => {
  const j = parseJsonLine(run.stderr);
  const counters = j?.counters as Record<string, number> | undefined;
  return { packets: counters?.['decode.packets'] ?? null, innerMs: typeof j?.elapsedMs === 'number' ? j.elapsedMs : null };
};

const parseChild = (run: MeasuredRun): { packets: number | null; innerMs: number | null } => {
  const j = parseJsonLine(run.stdout) as Partial<ChildResult> | null;
  return { packets: j?.packets ?? null, innerMs: j?.elapsedMs ?? null };
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      runs: { type: 'string' },
      'emit-network': { type: 'boolean' },
      full: { type: 'boolean' },
      file: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench -- [--runs N] [--emit-network] [--full] [--file PATH]\n'
      + '  env OUTPOST_BENCH_COPIES (copies of the nDPI corpus in the built capture, default 50), OUTPOST_BENCH_RSS=poll\n'
      + '  measures node dist/cli.js replay (build first) against ndpiReader, the pcap npm package and our reader\n');
    return 0;
  }
  const runs = Math.max(1, Number(values.runs ?? process.env.OUTPOST_BENCH_RUNS ?? 3) | 0);
  const copies = Math.max(1, Number(process.env.OUTPOST_BENCH_COPIES ?? 50) | 0);

  const cli = join(PROJECT_ROOT, 'dist', 'cli.js');
  if (!existsSync(cli)) {
    process.stderr.write('bench: dist/cli.js not found; run `npm run build` first\n');
    return 2;
  }
  const file = values.file !== undefined ? resolve(values.file) : ensureCapture(copies);
  if (file === null) return 0;
  const fileRel = relative(PROJECT_ROOT, file);
  const childRel = 'bench/replay-child.mjs';

  const variants: Variant[] = [
    // The sensor alone: replay runs device identity and discovery by default, as the daemon does.
    { name: 'outpost', cmd: 'node', args: [relative(PROJECT_ROOT, cli), 'replay', fileRel, '--emit', 'none', '--without', 'devices,discovery', '--stats'], stdout: 'pipe', parse: parseOutpost },
  ];
  const haveNdpi = haveCommand('ndpiReader');
  if (haveNdpi) {
    variants.push({ name: 'ndpiReader', cmd: 'ndpiReader', args: ['-i', fileRel, '-q', '-t'], stdout: 'pipe', parse: () => ({ packets: null, innerMs: null }) });
  } else {
    process.stdout.write('bench: ndpiReader not on PATH (apt-get install libndpi-bin): its row and the ratios are skipped\n');
  }
  variants.push(
    { name: 'pcap-npm', cmd: 'node', args: [childRel, 'pcap', fileRel], stdout: 'pipe', parse: parseChild },
    { name: 'js-reader', cmd: 'node', args: [childRel, 'reader', fileRel], stdout: 'pipe', parse: parseChild },
  );
  if (values.full) {
    // The whole pipeline of the daemon: naming, device identity, cloud-app discovery and rollups.
    variants.push({ name: 'outpost-full', cmd: 'node', args: [relative(PROJECT_ROOT, cli), 'replay', fileRel, '--emit', 'none', '--with', 'devices,discovery', '--stats'], stdout: 'pipe', parse: parseOutpost });
  }
  if (values['emit-network']) {
    variants.push({ name: 'outpost-emit', cmd: 'node', args: [relative(PROJECT_ROOT, cli), 'replay', fileRel, '--emit', 'network', '--without', 'devices,discovery', '--stats'], stdout: 'ignore', parse: parseOutpost });
  }

  const machine = machineInfo();
  const sizeBytes = statSync(file).size;
  process.stdout.write(`bench: ${fileRel} (${(sizeBytes / 2 ** 20).toFixed(0)} MiB), ${runs} run(s) per variant, `
    + `peak RSS by ${machine.rssMethod === 'gnu-time' ? '/usr/bin/time -f %M' : 'polling /proc/<pid>/status VmHWM every 20 ms'}\n`);
  process.stdout.write(`machine: ${machine.nproc} x ${machine.cpuModel}, node ${machine.node}, ${machine.kernel}\n`);

  // Warm the page cache so no variant pays for the disk.
  spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] });

  const raw = new Map<string, VariantSummary['runs']>(variants.map((v) => [v.name, []]));
  let flowsCreated: number | null = null;
  for (let r = 0; r < runs; r++) {
    for (const v of variants) {
      const run = await measureCommand(v.cmd, v.args, { stdout: v.stdout });
      if (run.exitCode !== 0) {
        throw new Error(`${v.name} exited with ${run.exitCode ?? run.signal}: ${run.stderr.slice(-2000)}`);
      }
      const parsed = v.parse(run);
      if (v.name === 'outpost' && flowsCreated === null) {
        const j = parseJsonLine(run.stderr);
        flowsCreated = (j?.counters as Record<string, number> | undefined)?.['flows.created'] ?? null;
      }
      raw.get(v.name)!.push({ wallMs: run.wallMs, peakRssKiB: run.peakRssKiB, ...parsed });
      process.stdout.write(`  run ${r + 1}/${runs} ${v.name.padEnd(12)} ${(run.wallMs / 1000).toFixed(3)} s  `
        + `${run.peakRssKiB === null ? '-' : (run.peakRssKiB / 1024).toFixed(1)} MiB\n`);
    }
  }

  // Packets in the file: what our reader delivered (the outpost and pcap rows must agree).
  const counts = [...raw.values()].flat().map((x) => x.packets).filter((x): x is number => x !== null);
  const filePackets = raw.get('js-reader')?.[0]?.packets ?? counts[0] ?? 0;
  const disagreeing = [...raw.entries()].filter(([, rs]) => rs.some((x) => x.packets !== null && x.packets !== filePackets)).map(([n]) => n);

  const summaries: VariantSummary[] = variants.map((v) => {
    const rs = raw.get(v.name)!;
    const wall = median(rs.map((x) => x.wallMs));
    const rss = rs.map((x) => x.peakRssKiB).filter((x): x is number => x !== null);
    const inner = rs.map((x) => x.innerMs).filter((x): x is number => x !== null);
    const medInner = inner.length > 0 ? median(inner) : null;
    return {
      name: v.name,
      command: [v.cmd, ...v.args].map(shellQuote).join(' ') + (v.stdout === 'ignore' ? ' >/dev/null' : ''),
      runs: rs,
      medianWallMs: wall,
      packetsPerSecond: filePackets / (wall / 1000),
      medianPeakRssMiB: rss.length > 0 ? median(rss) / 1024 : null,
      maxPeakRssMiB: rss.length > 0 ? Math.max(...rss) / 1024 : null,
      medianInnerMs: medInner,
      innerPacketsPerSecond: medInner !== null && medInner > 0 ? filePackets / (medInner / 1000) : null,
    };
  });

  const byName = new Map(summaries.map((s) => [s.name, s]));
  const ours = byName.get('outpost')!;
  const ndpi = byName.get('ndpiReader');
  const ppsRatio = ndpi ? ours.packetsPerSecond / ndpi.packetsPerSecond : null;
  const rssRatio = ndpi && ours.medianPeakRssMiB !== null && ndpi.medianPeakRssMiB !== null ? ours.medianPeakRssMiB / ndpi.medianPeakRssMiB : null;

  process.stdout.write('\n' + formatTable(
    ['variant', 'wall s (median)', 'Mpkt/s (wall)', 'peak RSS MiB (median)', 'in-process s', 'Mpkt/s (in-process)'],
    summaries.map((s) => [
      s.name, fmt(s.medianWallMs / 1000, 3), fmt(s.packetsPerSecond / 1e6, 3), fmt(s.medianPeakRssMiB, 1),
      s.medianInnerMs === null ? '-' : fmt(s.medianInnerMs / 1000, 3), s.innerPacketsPerSecond === null ? '-' : fmt(s.innerPacketsPerSecond / 1e6, 3),
    ]),
  ) + '\n\n');
  process.stdout.write(`packets in file: ${filePackets}; outpost flows created: ${flowsCreated ?? '-'}\n`);
  if (disagreeing.length > 0) process.stdout.write(`WARNING: packet counts differ from the reader's for: ${disagreeing.join(', ')}\n`);
  if (ppsRatio !== null) {
    process.stdout.write(`outpost / ndpiReader packets/s: ${ppsRatio.toFixed(2)} (target >= ${TARGET_PPS_RATIO}: ${ppsRatio >= TARGET_PPS_RATIO ? 'met' : 'NOT met'})\n`);
  }
  if (rssRatio !== null) {
    process.stdout.write(`outpost / ndpiReader peak RSS: ${rssRatio.toFixed(3)} (target <= ${TARGET_RSS_RATIO}: ${rssRatio <= TARGET_RSS_RATIO ? 'met' : 'NOT met'})\n`);
  }
  const full = byName.get('outpost-full');
  if (full && ndpi) {
    const r = full.packetsPerSecond / ndpi.packetsPerSecond;
    process.stdout.write(`outpost-full (devices + discovery) / ndpiReader packets/s: ${r.toFixed(2)} (target >= 1.5: ${r >= 1.5 ? 'met' : 'NOT met'})\n`);
  }
  for (const s of summaries) process.stdout.write(`  ${s.name}: ${s.command}\n`);

  const outDir = join(PROJECT_ROOT, 'test-output');
  mkdirSync(outDir, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    machine,
    rssMethod: rssMethod(),
    file: fileRel,
    fileBytes: sizeBytes,
    packets: filePackets,
    flowsCreated,
    runsPerVariant: runs,
    variants: summaries,
    ratios: {
      outpostOverNdpiPacketsPerSecond: ppsRatio,
      targetPacketsPerSecond: TARGET_PPS_RATIO,
      packetsPerSecondMet: ppsRatio === null ? null : ppsRatio >= TARGET_PPS_RATIO,
      outpostOverNdpiPeakRss: rssRatio,
      targetPeakRss: TARGET_RSS_RATIO,
      peakRssMet: rssRatio === null ? null : rssRatio <= TARGET_RSS_RATIO,
    },
    packetCountMismatches: disagreeing,
  };
  writeFileSync(join(outDir, 'bench-replay.json'), JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`wrote test-output/bench-replay.json\n`);
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
