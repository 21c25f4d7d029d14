/**
 * In-process privilege drop: `outpost run` started as root with `runAsUser: nobody` opens its
 * capture on a veth as root, hands dataDir to nobody and switches to it. The process must then
 * run as nobody (real, effective, saved and filesystem ids in /proc/<pid>/status), own its data,
 * and still capture every packet sent over the veth through the socket it opened as root.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ethernet, ipv4, udp, pcapFile, ETH_IPV4, PROTO_UDP } from './support/packets.js';
import { createWire, removeWire } from './support/netns.js';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
function ids(user: string): { uid: number; gid: number } | null {
  const u = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) } : null;
}
const USER = 'nobody';
const nobody = ids(USER);
const skip = process.getuid?.() !== 0 ? 'privilege drop test needs root (setuid, network namespace + veth)'
  : !has('ip') ? 'privilege drop test needs iproute2 (ip)'
    : !has('tcpreplay') ? 'privilege drop test needs tcpreplay'
      : nobody === null ? `privilege drop test needs a user named ${USER}` : false;

const tag = `${process.pid % 100000}`;
const ns = `oppd${tag}`;
const hostIf = `oppd${tag}h`;
const nsIf = `oppd${tag}n`;

let dir = '';
let daemon: ChildProcess | null = null;

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'outpost-privdrop-'));
  // The unprivileged daemon must still reach its dataDir (new files, the audit log) by path.
  chmodSync(dir, 0o755);
  createWire({ ns, hostIf, nsIf });
});

after(() => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  if (skip) return;
  removeWire({ ns, hostIf, nsIf });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Real, effective, saved and filesystem ids from /proc/<pid>/status. */
function procIds(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = (k: string) => (new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: line('Uid'), gid: line('Gid'), groups: line('Groups') };
}

test('outpost run with runAsUser drops to that user after opening the capture and keeps capturing', { skip, timeout: 60_000 }, async () => {
  const frames: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    frames.push(ethernet('02:00:00:00:0a:02', '02:00:00:00:0a:01', ETH_IPV4, ipv4({ src: `10.78.0.${10 + (i % 5)}`, dst: '203.0.113.9', proto: PROTO_UDP }, udp({ sport: 41000 + (i % 5), dport: 9999 }, Buffer.alloc(60, i)))));
  }
  const capture = join(dir, 'traffic.pcap');
  writeFileSync(capture, pcapFile(frames.map((data, i) => ({ data, tsUs: 1_700_000_000_000_000 + i * 1000 })), 1));
  const port = 20000 + ((process.pid + 7919) % 20000);
  const dataDir = join(dir, 'data');
  const config = join(dir, 'outpost.yaml');
  writeFileSync(config, [
    `dataDir: ${dataDir}`,
    'logLevel: info',
    `runAsUser: ${USER}`,
    'capture:',
    `  interfaces: [${hostIf}]`,
    "  bpfFilter: 'udp'",
    '  bufferTimeoutMs: 10',
    'api:',
    `  port: ${port}`,
  ].join('\n'), { mode: 0o600 });

  let stderr = '';
  daemon = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  daemon.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => daemon!.on('exit', (code) => resolve(code)));

  const stats = async (): Promise<{ counters: Record<string, number> } | null> => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v1/stats`);
      return r.ok ? await r.json() as never : null;
    } catch { return null; }
  };
  for (let i = 0; i < 150 && (await stats()) === null; i++) await sleep(100);
  assert.ok(await stats(), `daemon API came up (stderr: ${stderr})`);
  // The drop happens right after the capture opens, before the API and the jobs start: nothing
  // that takes requests or runs scheduled work ever runs as root.
  assert.match(stderr, /privileges dropped/, 'the drop is logged');
  const logOrder = (msg: string): number => stderr.split('\n').findIndex((l) => l.includes(msg));
  assert.ok(logOrder('capture started') < logOrder('privileges dropped'), 'capture opened before the drop');
  assert.ok(logOrder('privileges dropped') < logOrder('admin API listening'), 'API listens only after the drop');
  assert.ok(logOrder('"service":"jobs"') > logOrder('privileges dropped'), 'jobs start only after the drop');

  const pid = daemon.pid!;
  const p = procIds(pid);
  assert.deepEqual(p.uid, [nobody!.uid, nobody!.uid, nobody!.uid, nobody!.uid], 'Uid: real, effective, saved, filesystem');
  assert.deepEqual(p.gid, [nobody!.gid, nobody!.gid, nobody!.gid, nobody!.gid], 'Gid: real, effective, saved, filesystem');
  assert.ok(!p.groups.includes(0), `no root supplementary group (Groups: ${p.groups.join(' ')})`);
  assert.equal(statSync(dataDir).uid, nobody!.uid, 'dataDir handed to the user');
  assert.equal(statSync(join(dataDir, 'devices')).uid, nobody!.uid, 'stores handed to the user');
  assert.equal(statSync(config).uid, nobody!.uid, 'config file readable by the user (SIGHUP)');

  const before = (await stats())?.counters['decode.packets'] ?? 0;
  const replay = spawnSync('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '--pps=2000', '-i', nsIf, capture], { encoding: 'utf8' });
  assert.equal(replay.status, 0, `tcpreplay: ${replay.stderr}`);
  let s = await stats();
  for (let i = 0; i < 50 && (s?.counters['decode.packets'] ?? 0) < before + frames.length; i++) { await sleep(100); s = await stats(); }
  assert.equal((s?.counters['decode.packets'] ?? 0) - before, frames.length, 'every packet sent after the drop was captured');

  // A SIGHUP reload still reads the (now user-owned, mode 0600) file.
  daemon.kill('SIGHUP');
  for (let i = 0; i < 30 && !stderr.includes('configuration reloaded'); i++) await sleep(100);
  assert.match(stderr, /configuration reloaded/);

  daemon.kill('SIGTERM');
  assert.equal(await exited, 0, `daemon exited cleanly as ${USER} (stderr: ${stderr.slice(-2000)})`);
});
