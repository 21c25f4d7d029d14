/**
 * `outpost run` as a process: SIGHUP re-reads the configuration file (live settings applied,
 * others flagged restart-required, an invalid file changes nothing), and /metrics is scraped
 * from the real daemon on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

test('SIGHUP reloads the configuration; /metrics on the real daemon', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-hup-'));
  const port = 21000 + (process.pid % 20000);
  const config = join(dir, 'outpost.yaml');
  const write = (extra: string) => writeFileSync(config, [`dataDir: ${join(dir, 'data')}`, 'logLevel: warn', 'api:', `  port: ${port}`, extra].join('\n'));
  write('');
  const daemon = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
  const get = async (path: string) => {
    try { const r = await fetch(`http://127.0.0.1:${port}${path}`); return r.ok ? r : null; } catch { return null; }
  };
  try {
    for (let i = 0; i < 100 && (await get('/v1/health')) === null; i++) await sleep(100);
    const cfg = async () => (await (await get('/v1/config'))!.json()) as { config: { logLevel: string; flows: { maxFlows: number } }; restartRequired: string[] };
    assert.equal((await cfg()).config.logLevel, 'warn', stderr);

    // logLevel twice (warn, then error) is a YAML error: nothing may change.
    write('logLevel: error');
    daemon.kill('SIGHUP');
    await sleep(500);
    assert.equal((await cfg()).config.logLevel, 'warn');
    assert.match(stderr, /reload \(SIGHUP\) rejected/);

    writeFileSync(config, [`dataDir: ${join(dir, 'data')}`, 'logLevel: error', 'api:', `  port: ${port}`, 'flows: { maxFlows: 2048 }'].join('\n'));
    daemon.kill('SIGHUP');
    let c = await cfg();
    for (let i = 0; i < 20 && c.config.logLevel !== 'error'; i++) { await sleep(100); c = await cfg(); }
    assert.equal(c.config.logLevel, 'error');
    assert.equal(c.config.flows.maxFlows, 2048);
    assert.deepEqual(c.restartRequired, ['flows.maxFlows']);

    const metrics = await (await get('/metrics'))!.text();
    assert.match(metrics, /^outpost_decode_packets_total 0$/m);
    assert.match(metrics, /^outpost_flows_active 0$/m);
    assert.match(metrics, /^outpost_api_requests_total\{method="GET",route="\/v1\/config",status="200"\} \d+$/m);
  } finally {
    daemon.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    rmSync(dir, { recursive: true, force: true });
  }
});
