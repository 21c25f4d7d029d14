/**
 * The kill -9 fault loop shared by test/forward-fault.test.ts (small count) and
 * scripts/forward-fault.sh (FORWARD_FAULT_KILLS, default 50): starts the forwarding child, kills it
 * with SIGKILL at a random moment after it is ready, restarts it, N times; then lets the last run
 * finish and compares what the HTTPS receiver got with what was produced.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpsReceiver, Pki } from './receivers.js';

export interface FaultResult {
  kills: number;
  produced: number;
  received: number;
  unique: number;
  lost: number;
  duplicates: number;
  elapsedMs: number;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ChildRun { code: number | null; signal: NodeJS.Signals | null; out: string; err: string }

/**
 * Runs the forwarding child `script` (a path under the project root) with `args`; once it prints
 * `ready`, SIGKILLs it after `killAfterReadyMs` (never when undefined). Resolves on `until`:
 * 'close' waits for its stdout/stderr to end too, for callers that read every line it printed.
 */
export function runKillableChild(script: string, args: string[], killAfterReadyMs: number | undefined, until: 'exit' | 'close' = 'exit'): Promise<ChildRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killAfterReadyMs !== undefined && out.includes('ready')) {
        const t = setTimeout(() => p.kill('SIGKILL'), killAfterReadyMs);
        p.once('exit', () => clearTimeout(t));
        killAfterReadyMs = undefined;
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once(until, (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal, out, err }));
  });
}

const runChild = (args: string[], killAfterReadyMs: number | undefined): Promise<ChildRun> => runKillableChild('tools/forward-fault-child.ts', args, killAfterReadyMs);

export async function faultLoop(o: { kills: number; total: number; dataDir: string; rx: HttpsReceiver; pki: Pki; maxKillDelayMs?: number; sync?: string; log?: (s: string) => void }): Promise<FaultResult> {
  const t0 = Date.now();
  const url = `https://127.0.0.1:${o.rx.port}/ingest`;
  const args = [o.dataDir, url, o.pki.caFile, String(o.total), o.sync ?? 'fsync'];
  let kills = 0;
  for (let k = 0; k < o.kills; k++) {
    const delay = Math.floor(Math.random() * (o.maxKillDelayMs ?? 600));
    const r = await runChild(args, delay);
    if (r.signal === 'SIGKILL') kills++;
    o.log?.(`run ${k + 1}: killed after ${delay} ms (${r.signal ?? `exit ${r.code}`}) ${r.out.trim().replace(/\n/g, ' ')} received=${o.rx.uids.length}`);
    if (r.code !== null && r.code !== 0) throw new Error(`child failed: ${r.err}`);
  }
  const last = await runChild(args, undefined);
  if (last.code !== 0) throw new Error(`final child exit ${last.code} ${last.signal}: ${last.err}`);
  const unique = o.rx.seen.size;
  let lost = 0;
  for (let i = 0; i < o.total; i++) if (!o.rx.seen.has(`ev-${String(i).padStart(9, '0')}`)) lost++;
  return { kills, produced: o.total, received: o.rx.uids.length, unique, lost, duplicates: o.rx.duplicates, elapsedMs: Date.now() - t0 };
}
