/**
 * Inline mode in a lab of network namespaces (test/support/inline-lab.ts): an office namespace
 * routed through a gateway namespace to a "cloud" namespace (TLS by `openssl s_server`, HTTP by
 * python3's http.server, DNS by dnsmasq on the gateway). The daemon runs in the gateway with
 * control.inline on (test/support/inline-daemon.ts: runDaemon, as `outpost run` calls it, with a
 * file-driven verdict policy). Shown: a blocked name fails within 1 s with a reset, an allowed one
 * succeeds; a blocked name asked of the gateway's resolver gets NXDOMAIN; a policy change blocks
 * new flows within 1 s while an established flow continues; kill -9 leaves traffic flowing
 * (bypass) and the next start replaces the table; after a clean stop `nft list ruleset` holds
 * nothing of Outpost.
 *
 * Needs root, nft, openssl, curl, python3, dnsmasq and the built addon. The table's queue rules
 * need nf_tables' queue expression (CONFIG_NFT_QUEUE, a module on Debian's kernels). On a kernel
 * without it, where iptables-legacy is installed, the lab installs equal iptables-legacy rules
 * itself (test/support/inline-lab.ts legacyRules) and the daemon's nft step is a no-op: the
 * verdict path (addon, engine, policy, resets, NXDOMAIN, bypass) is then shown, and the two tests
 * about the nftables table itself are skipped, saying so.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addonCandidates } from '../src/control/inline/native.js';
import { createLab, legacyRules, nftQueueSupported, SERVER, type Lab } from './support/inline-lab.js';
import type { InlineConfig } from '../src/control/config.js';

const QUEUE = 3127;
const CFG: InlineConfig = {
  enabled: true, queueNumber: QUEUE, tcpPorts: [80, 443], udpPorts: [443], dnsPorts: [53], dnsNxdomain: true,
  failClosed: false, maxPacketsPerFlow: 8, batchPackets: 64, maxQueueLength: 4096, resetServer: true,
};

const have = (cmd: string, args: string[]) => spawnSync(cmd, args).status === 0;
let mode = 'nft' as 'nft' | 'legacy';
function why(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const [c, a] of [['nft', ['--version']], ['openssl', ['version']], ['curl', ['--version']], ['python3', ['--version']], ['dnsmasq', ['--version']]] as const) {
    if (!have(c, [...a])) return `${c} not installed`;
  }
  if (!addonCandidates().some((p) => existsSync(p))) return 'outpost_nfq addon not built (libnetfilter-queue-dev, npm run build)';
  const q = nftQueueSupported();
  if (q.ok) return undefined;
  if (have('iptables-legacy', ['--version'])) { mode = 'legacy'; return undefined; }
  return `this kernel has no nf_tables queue expression (CONFIG_NFT_QUEUE: ${q.reason}) and iptables-legacy is not installed`;
}
const skip = why();
const tableSkip = skip ?? (mode === 'legacy' ? 'kernel without the nf_tables queue expression: the lab runs iptables-legacy rules, not the nftables table' : undefined);
if (mode === 'legacy' && !skip) console.log('# inline lab: kernel without the nf_tables queue expression; iptables-legacy rules stand in for the table');

let lab: Lab;
let daemon: ChildProcess | null = null;
let dnsmasq: ChildProcess | null = null;
let blocklist = '';
let configPath = '';

async function waitFor(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return; await new Promise((r) => setTimeout(r, 50)); }
  throw new Error(`timed out waiting for ${what()}`);
}

const tableThere = () => spawnSync('ip', ['netns', 'exec', lab.gw, 'nft', 'list', 'table', 'inet', 'outpost']).status === 0;

async function startDaemon(): Promise<ChildProcess> {
  const env = { ...process.env, ...(mode === 'legacy' ? { OUTPOST_LAB_NFT: '/bin/true' } : {}) };
  const d = spawn('ip', ['netns', 'exec', lab.gw, process.execPath, '--import', 'tsx', 'test/support/inline-daemon.ts', configPath, blocklist], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let log = '';
  d.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  await waitFor(() => /inline mode on/.test(log), 30_000, () => `the daemon to start inline mode; log:\n${log}`);
  return d;
}

async function stopDaemon(signal: NodeJS.Signals): Promise<void> {
  const d = daemon!;
  daemon = null;
  const exited = new Promise((r) => d.once('exit', r));
  d.kill(signal);
  await exited;
}

/** An A query to the gateway's resolver from the office: host's answer text and exit code. */
function ask(name: string): { code: number; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', lab.office, 'host', '-W', '2', '-t', 'A', name, '10.77.1.1'], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

before(async () => {
  if (skip) return;
  lab = createLab('ol');
  if (mode === 'legacy') {
    const r = spawnSync('ip', ['netns', 'exec', lab.gw, 'iptables-legacy-restore', '--noflush'], { input: legacyRules(CFG), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  dnsmasq = spawn('ip', ['netns', 'exec', lab.gw, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=10.77.1.1', '--port=53',
    `--address=/blocked.example/${SERVER}`, `--address=/ok.example/${SERVER}`, `--address=/later.example/${SERVER}`, '--pid-file='], { stdio: 'ignore' });
  blocklist = join(lab.dir, 'blocked.txt');
  writeFileSync(blocklist, 'blocked.example\n');
  configPath = join(lab.dir, 'outpost.yaml');
  writeFileSync(configPath, [
    `dataDir: ${join(lab.dir, 'data')}`, 'logLevel: info', 'events:', '  stdout: false',
    'control:', '  inline:', '    enabled: true', `    queueNumber: ${QUEUE}`, '    dnsNxdomain: true', '',
  ].join('\n'));
  await waitFor(() => lab.curl('http://ok.example/', 'ok.example', 80).code === 0 && lab.curl('https://ok.example/', 'ok.example', 443).code === 0 && ask('ok.example').code === 0, 15_000, () => 'the lab servers');
  daemon = await startDaemon();
});

after(async () => {
  if (skip) return;
  if (daemon !== null) await stopDaemon('SIGKILL');
  dnsmasq?.kill('SIGKILL');
  spawnSync('ip', ['netns', 'exec', lab.gw, 'nft', 'delete', 'table', 'inet', 'outpost']);
  lab.close();
});

test('a blocked name fails within 1 s with a reset (TLS and HTTP); an allowed one succeeds', { skip }, () => {
  const b = lab.curl('https://blocked.example/', 'blocked.example', 443);
  assert.notEqual(b.code, 0, 'blocked TLS must fail');
  assert.match(b.stderr, /reset/i, b.stderr);
  assert.ok(b.ms < 1000, `blocked TLS took ${b.ms} ms`);
  const h = lab.curl('http://www.blocked.example/', 'www.blocked.example', 80);
  assert.notEqual(h.code, 0);
  assert.match(h.stderr, /reset/i, h.stderr);
  assert.ok(h.ms < 1000, `blocked HTTP took ${h.ms} ms`);
  assert.equal(lab.curl('https://ok.example/', 'ok.example', 443).code, 0);
  assert.equal(lab.curl('http://ok.example/', 'ok.example', 80).code, 0);
});

test('a blocked name asked of the gateway\'s resolver gets NXDOMAIN; others resolve', { skip }, () => {
  const b = ask('api.blocked.example');
  assert.match(b.out, /NXDOMAIN/, b.out);
  const o = ask('ok.example');
  assert.equal(o.code, 0, o.out);
  assert.match(o.out, new RegExp(SERVER.replace(/\./g, '\\.')));
});

test('a policy change blocks new flows within 1 s; an established flow continues', { skip }, async () => {
  // An established TLS flow, made in the office namespace, to the name about to be blocked.
  const child = spawn('ip', ['netns', 'exec', lab.office, 'openssl', 's_client', '-quiet', '-connect', `${SERVER}:443`, '-servername', 'later.example'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  try {
    await new Promise((r) => setTimeout(r, 700));
    writeFileSync(blocklist, 'blocked.example\nlater.example\n');
    const changed = performance.now();
    // The first new flow after the change, within a second of it.
    const n = lab.curl('https://later.example/', 'later.example', 443);
    assert.notEqual(n.code, 0, 'a new flow to the newly blocked name must fail');
    assert.match(n.stderr, /reset/i, n.stderr);
    assert.ok(performance.now() - changed < 1000, `blocked ${performance.now() - changed} ms after the change`);
    child.stdin!.write('GET / HTTP/1.0\r\n\r\n');
    await waitFor(() => /HTTP\/1\.0 200/.test(out), 3000, () => `the established flow to answer; got ${JSON.stringify(out)}`);
  } finally {
    child.kill();
    writeFileSync(blocklist, 'blocked.example\n');
  }
});

test('kill -9 leaves traffic flowing (bypass); the next start replaces the table', { skip }, async () => {
  await stopDaemon('SIGKILL');
  if (mode === 'nft') assert.ok(tableThere(), 'the table stays after a crash');
  assert.equal(lab.curl('https://blocked.example/', 'blocked.example', 443).code, 0, 'with nobody on the queue, bypass lets new flows through');
  assert.equal(ask('ok.example').code, 0, 'DNS flows too');
  daemon = await startDaemon();
  if (mode === 'nft') assert.equal(lab.sh(lab.gw, ['nft', 'list', 'ruleset']).match(/table inet outpost/g)?.length, 1);
  assert.notEqual(lab.curl('https://blocked.example/', 'blocked.example', 443).code, 0, 'blocked again after the restart');
});

test('after a clean stop nft list ruleset holds nothing of Outpost', { skip: tableSkip }, async () => {
  await stopDaemon('SIGTERM');
  assert.doesNotMatch(lab.sh(lab.gw, ['nft', 'list', 'ruleset']), /outpost/);
  assert.equal(lab.curl('https://blocked.example/', 'blocked.example', 443).code, 0);
});
