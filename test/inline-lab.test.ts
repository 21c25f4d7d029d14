/**
 * Inline mode in a lab of network namespaces: an office namespace routed through a gateway
 * namespace to a "cloud" namespace (TLS by `openssl s_server`, HTTP by python3's http.server).
 * The daemon runs in the gateway with control.inline on (test/support/inline-daemon.ts: runDaemon
 * with a file-driven verdict policy). Shown: a blocked name fails within 1 s with a reset, an
 * allowed one succeeds; a policy change blocks new flows within 1 s while an established flow
 * continues; kill -9 leaves traffic flowing (bypass) and the next start replaces the table; after
 * a clean stop `nft list ruleset` holds nothing of Outpost.
 *
 * Needs root, nft, openssl, curl, python3, the built addon, and a kernel with nf_tables' queue
 * expression (CONFIG_NFT_QUEUE, a module on Debian's kernels); skips, saying which, otherwise.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonCandidates } from '../src/control/inline/native.js';
import { existsSync } from 'node:fs';

const O = 'ol-office', G = 'ol-gw', C = 'ol-cloud';
const SERVER = '10.77.2.2';
const QUEUE = 3127;

function have(cmd: string, args: string[] = ['--version']): boolean { return spawnSync(cmd, args).status === 0; }

function why(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const [c, a] of [['nft', ['--version']], ['openssl', ['version']], ['curl', ['--version']], ['python3', ['--version']]] as const) {
    if (!have(c, [...a])) return `${c} not installed`;
  }
  if (!addonCandidates().some((p) => existsSync(p))) return 'outpost_nfq addon not built (libnetfilter-queue-dev, npm run build)';
  // The kernel must know nf_tables' queue expression: probed in a throwaway namespace.
  spawnSync('ip', ['netns', 'del', 'ol-probe']);
  spawnSync('ip', ['netns', 'add', 'ol-probe']);
  const r = spawnSync('ip', ['netns', 'exec', 'ol-probe', 'nft', '-f', '-'], { input: 'table inet probe {\n  chain c {\n    type filter hook forward priority 0;\n    queue num 1 bypass\n  }\n}\n', encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', 'ol-probe']);
  if (r.status !== 0) return `this kernel has no nf_tables queue expression (CONFIG_NFT_QUEUE): ${r.stderr.trim().split('\n')[0]}`;
  return undefined;
}
const skip = why();
if (skip) console.log(`# inline lab skipped: ${skip}`);

const sh = (ns: string, cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
let dir = '';
let servers: ChildProcess[] = [];
let daemon: ChildProcess | null = null;
let blocklist = '';
let configPath = '';

function lab(): void {
  for (const ns of [O, G, C]) { spawnSync('ip', ['netns', 'del', ns]); execFileSync('ip', ['netns', 'add', ns]); }
  execFileSync('ip', ['link', 'add', 'olo0', 'netns', O, 'type', 'veth', 'peer', 'name', 'olg0', 'netns', G]);
  execFileSync('ip', ['link', 'add', 'olg1', 'netns', G, 'type', 'veth', 'peer', 'name', 'olc0', 'netns', C]);
  const cmds: Array<[string, string]> = [
    [O, 'ip addr add 10.77.1.2/24 dev olo0'], [O, 'ip link set olo0 up'], [O, 'ip link set lo up'], [O, 'ip route add default via 10.77.1.1'],
    [G, 'ip addr add 10.77.1.1/24 dev olg0'], [G, 'ip addr add 10.77.2.1/24 dev olg1'], [G, 'ip link set olg0 up'], [G, 'ip link set olg1 up'], [G, 'ip link set lo up'],
    [G, 'sysctl -qw net.ipv4.ip_forward=1'],
    [C, `ip addr add ${SERVER}/24 dev olc0`], [C, 'ip link set olc0 up'], [C, 'ip link set lo up'], [C, 'ip route add default via 10.77.2.1'],
  ];
  for (const [ns, c] of cmds) sh(ns, c.split(' '));
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return; await new Promise((r) => setTimeout(r, 50)); }
  throw new Error(`timed out waiting for ${what}`);
}

const tableThere = () => spawnSync('ip', ['netns', 'exec', G, 'nft', 'list', 'table', 'inet', 'outpost']).status === 0;

async function startDaemon(): Promise<ChildProcess> {
  const d = spawn('ip', ['netns', 'exec', G, process.execPath, '--import', 'tsx', 'test/support/inline-daemon.ts', configPath, blocklist], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  d.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  await waitFor(() => /inline mode on/.test(log), 30_000, `the daemon to install its table; log:\n${log}`);
  return d;
}

/** curl from the office: exit code and wall time. */
function curl(url: string, host: string, port: number): { code: number; ms: number; stderr: string } {
  const t0 = Date.now();
  const r = spawnSync('ip', ['netns', 'exec', O, 'curl', '-sS', '-k', '-o', '/dev/null', '--max-time', '5', '--resolve', `${host}:${port}:${SERVER}`, url], { encoding: 'utf8' });
  return { code: r.status ?? -1, ms: Date.now() - t0, stderr: r.stderr };
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'outpost-inline-lab-'));
  lab();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=lab', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  servers.push(spawn('ip', ['netns', 'exec', C, 'openssl', 's_server', '-quiet', '-accept', '443', '-www', '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem')], { stdio: 'ignore' }));
  servers.push(spawn('ip', ['netns', 'exec', C, 'python3', '-m', 'http.server', '80', '--bind', SERVER, '--directory', dir], { stdio: 'ignore' }));
  blocklist = join(dir, 'blocked.txt');
  writeFileSync(blocklist, 'blocked.example\n');
  configPath = join(dir, 'outpost.yaml');
  writeFileSync(configPath, [
    `dataDir: ${join(dir, 'data')}`, 'logLevel: info',
    'events:', '  stdout: false',
    'control:', '  inline:', '    enabled: true', `    queueNumber: ${QUEUE}`, '',
  ].join('\n'));
  await waitFor(() => curl(`http://ok.example/`, 'ok.example', 80).code === 0 && curl('https://ok.example/', 'ok.example', 443).code === 0, 10_000, 'the lab servers');
  daemon = await startDaemon();
});

after(() => {
  if (skip) return;
  daemon?.kill('SIGKILL');
  for (const s of servers) s.kill('SIGKILL');
  spawnSync('ip', ['netns', 'exec', G, 'nft', 'delete', 'table', 'inet', 'outpost']);
  for (const ns of [O, G, C]) spawnSync('ip', ['netns', 'del', ns]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a blocked name fails within 1 s with a reset (TLS and HTTP); an allowed one succeeds', { skip }, () => {
  const b = curl('https://blocked.example/', 'blocked.example', 443);
  assert.notEqual(b.code, 0, 'blocked TLS must fail');
  assert.match(b.stderr, /reset/i, b.stderr);
  assert.ok(b.ms < 1000, `blocked TLS took ${b.ms} ms`);
  const h = curl('http://www.blocked.example/', 'www.blocked.example', 80);
  assert.notEqual(h.code, 0);
  assert.match(h.stderr, /reset/i, h.stderr);
  assert.ok(h.ms < 1000, `blocked HTTP took ${h.ms} ms`);
  assert.equal(curl('https://ok.example/', 'ok.example', 443).code, 0);
  assert.equal(curl('http://ok.example/', 'ok.example', 80).code, 0);
});

test('a policy change blocks new flows within 1 s; an established flow continues', { skip }, async () => {
  // An established TLS flow (made in the office namespace) to the name about to be blocked.
  const child = spawn('ip', ['netns', 'exec', O, 'openssl', 's_client', '-quiet', '-connect', `${SERVER}:443`, '-servername', 'later.example'], { stdio: ['pipe', 'pipe', 'ignore'] });
  await new Promise((r) => setTimeout(r, 700));
  writeFileSync(blocklist, 'blocked.example\nlater.example\n');
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const n = curl('https://later.example/', 'later.example', 443);
  assert.notEqual(n.code, 0, 'a new flow to the newly blocked name must fail');
  assert.ok(Date.now() - t0 < 1000);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stdin!.write('GET / HTTP/1.0\r\n\r\n');
  await waitFor(() => /HTTP\/1\.0 200/.test(out), 3000, 'the established flow to answer');
  child.kill();
});

test('kill -9 leaves traffic flowing (bypass); the next start replaces the table', { skip }, async () => {
  daemon!.kill('SIGKILL');
  await new Promise((r) => daemon!.once('exit', r));
  daemon = null;
  assert.ok(tableThere(), 'the table stays after a crash');
  assert.equal(curl('https://blocked.example/', 'blocked.example', 443).code, 0, 'with nobody on the queue, bypass lets new flows through');
  daemon = await startDaemon();
  const rules = sh(G, ['nft', 'list', 'ruleset']);
  assert.equal(rules.match(/table inet outpost/g)?.length, 1);
  assert.notEqual(curl('https://blocked.example/', 'blocked.example', 443).code, 0, 'blocked again after the restart');
});

test('after a clean stop nft list ruleset holds nothing of Outpost', { skip }, async () => {
  daemon!.kill('SIGTERM');
  await new Promise((r) => daemon!.once('exit', r));
  daemon = null;
  assert.doesNotMatch(sh(G, ['nft', 'list', 'ruleset']), /outpost/);
  assert.equal(curl('https://blocked.example/', 'blocked.example', 443).code, 0);
});
