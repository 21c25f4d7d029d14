#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test (TypeScript through tsx).
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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
// test takes well under one), and --test-force-exit ends a file whose failed test left a server
// or timer behind: a failure is reported as one instead of stalling the whole run.
const timeoutMs = Number(process.env.OUTPOST_TEST_TIMEOUT_MS ?? 300_000);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', `--test-timeout=${timeoutMs}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
