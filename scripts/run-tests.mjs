#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test (TypeScript through tsx).
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['src', 'test'];
const files = [];
function walk(p) {
  const st = statSync(p);
  if (st.isDirectory()) { for (const e of readdirSync(p).sort()) if (e !== 'node_modules') walk(join(p, e)); }
  else if (p.endsWith('.test.ts')) files.push(p);
}
for (const r of roots) { try { walk(r); } catch { /* absent root */ } }
if (files.length === 0) { console.error('no test files found'); process.exit(1); }
// A test that never settles fails after OUTPOST_TEST_TIMEOUT_MS (default 5 min; the longest lab
// test takes well under one). A file whose failed test left a server or timer behind never exits,
// and node's runner waits for it: the whole run is ended after OUTPOST_TEST_WALL_MS (default
// 45 min; the suite takes about 5) and reported as failed, the output so far showing where.
// (--test-force-exit would end such files, but Node 20's ends some files before their last suites
// ran, silently: it is not used.)
const timeoutMs = Number(process.env.OUTPOST_TEST_TIMEOUT_MS ?? 300_000);
const wallMs = Number(process.env.OUTPOST_TEST_WALL_MS ?? 45 * 60_000);
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${timeoutMs}`, ...files], { stdio: 'inherit', detached: true });
const watchdog = setTimeout(() => {
  console.error(`\nrun-tests: the suite ran past ${wallMs} ms (OUTPOST_TEST_WALL_MS): a test file did not exit; see the last file reported above`);
  try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
  process.exit(1);
}, wallMs);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { try { process.kill(-child.pid, sig); } catch { /* gone */ } });
child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  process.exit(code ?? (signal ? 1 : 0));
});
