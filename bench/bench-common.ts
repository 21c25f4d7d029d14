/**
 * Helpers shared by the benchmark scripts (`npm run bench`, `npm run bench:flows`): running a
 * child process while measuring its wall time and peak RSS, medians, and a description of the
 * machine. Benchmarks print figures; nothing here asserts on time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The project root (bench/ → ..). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A module of the build, `dist/<path>.js`, typed as its source `src/<path>.ts`:
 *   const { FlowTable } = await built<typeof import('../src/flows/flow-table.js')>('flows/flow-table.js');
 * so that in-process benchmarks time the code that ships (tsc output), not the sources as tsx
 * transforms them (which, for one, does not inline const enums across modules). Build first.
 */
export async function built<M>(path: string): Promise<M> {
  const file = join(PROJECT_ROOT, 'dist', path);
  if (!existsSync(file)) {
    process.stderr.write(`bench: ${relative(PROJECT_ROOT, file)} not found; run \`npm run build\` first\n`);
    process.exit(2);
  }
  return (await import(pathToFileURL(file).href)) as M;
}

/** How the peak RSS of a child process is measured. */
export type RssMethod = 'gnu-time' | 'proc-vmhwm-poll';

const GNU_TIME = '/usr/bin/time';
let rssMethodCache: RssMethod | null = null;

/**
 * GNU time (`/usr/bin/time -f %M`, maxrss of the waited-for child from wait4's rusage) when it is
 * installed and works; otherwise polling VmHWM in /proc/<pid>/status every 20 ms, whose last
 * sample can miss growth in the final 20 ms of the child's life.
 */
export function rssMethod(): RssMethod {
  if (rssMethodCache !== null) return rssMethodCache;
  let method: RssMethod = 'proc-vmhwm-poll';
  if (process.env.OUTPOST_BENCH_RSS !== 'poll' && existsSync(GNU_TIME)) {
    const r = spawnSync(GNU_TIME, ['-f', '%M', 'true'], { encoding: 'utf8' });
    if (r.status === 0 && /^\d+\s*$/m.test(r.stderr)) method = 'gnu-time';
  }
  rssMethodCache = method;
  return method;
}

export interface MeasuredRun {
  wallMs: number;
  /** Peak resident set size in KiB, null when it could not be measured. */
  peakRssKiB: number | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface MeasureOptions {
  /** Keep stdout (default) or send it to /dev/null (for event output we do not want to buffer). */
  stdout?: 'pipe' | 'ignore';
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

function readVmHwmKiB(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Runs `cmd args` to completion, measuring wall time (spawn to exit) and peak RSS. */
export function measureCommand(cmd: string, args: readonly string[], options: MeasureOptions = {}): Promise<MeasuredRun> {
  const method = rssMethod();
  let timeDir: string | null = null;
  let file = cmd;
  let argv: string[] = [...args];
  if (method === 'gnu-time') {
    timeDir = mkdtempSync(join(tmpdir(), 'outpost-bench-'));
    file = GNU_TIME;
    argv = ['-f', '%M', '-o', join(timeDir, 'rss'), cmd, ...args];
  }
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, argv, {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    let polledKiB: number | null = null;
    let timer: NodeJS.Timeout | null = null;
    if (method === 'proc-vmhwm-poll' && child.pid !== undefined) {
      const pid = child.pid;
      const sample = (): void => {
        const v = readVmHwmKiB(pid);
        if (v !== null && (polledKiB === null || v > polledKiB)) polledKiB = v;
      };
      sample();
      timer = setInterval(sample, 20);
    }
    child.on('error', (e) => {
      if (timer) clearInterval(timer);
      if (timeDir) rmSync(timeDir, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (timer) clearInterval(timer);
      let peakRssKiB: number | null = polledKiB;
      if (timeDir) {
        try {
          // With a non-zero exit GNU time writes "Command exited with non-zero status N" first.
          const lines = readFileSync(join(timeDir, 'rss'), 'utf8').trim().split('\n');
          const last = Number(lines[lines.length - 1]);
          peakRssKiB = Number.isFinite(last) ? last : null;
        } catch {
          peakRssKiB = null;
        }
        rmSync(timeDir, { recursive: true, force: true });
      }
      resolvePromise({
        wallMs,
        peakRssKiB,
        exitCode: code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** True when `name` is an executable on PATH (or an existing absolute path). */
export function haveCommand(name: string): boolean {
  if (name.startsWith('/')) return existsSync(name);
  return spawnSync('/bin/sh', ['-c', `command -v '${name.replace(/'/g, '')}'`], { stdio: 'ignore' }).status === 0;
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memTotalMiB: number | null;
  node: string;
  kernel: string;
  rssMethod: RssMethod;
}

export function machineInfo(): MachineInfo {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  let memTotalMiB: number | null = null;
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
    const mem = /^MemTotal:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (mem) memTotalMiB = Math.round(Number(mem[1]) / 1024);
  } catch {
    /* not Linux: keep os.cpus() */
  }
  const uname = spawnSync('uname', ['-sr'], { encoding: 'utf8' });
  return {
    nproc: cpus().length,
    cpuModel,
    memTotalMiB,
    node: process.version,
    kernel: uname.status === 0 ? uname.stdout.trim() : 'unknown',
    rssMethod: rssMethod(),
  };
}

/** Right-aligned text table. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function fmt(n: number | null, digits = 2): string {
  return n === null || !Number.isFinite(n) ? '-' : n.toFixed(digits);
}
