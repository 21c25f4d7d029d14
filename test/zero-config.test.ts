/**
 * Out of the box: `outpost run` with NO configuration file, in a network namespace whose default
 * route points at a veth (the other end in a second namespace, where tcpreplay sends a capture
 * this test builds). A decoy veth pair, up but without a route, must not be chosen. The daemon
 * prints one login URL; the test logs in with it (session cookie), finds the flows it sent through
 * the API, and checks that a second start on the same data directory prints no URL. A namespace
 * with nothing but loopback must end with CAPTURE_NO_INTERFACE and exit status 1. A configuration
 * file asks for the same with `capture.interfaces: [auto]` and `api.firstRunAccess: true` (what
 * the Debian package ships); without them a file's empty list still means no capture and no URL.
 *
 * The API listens on its default 127.0.0.1:8470 inside the namespace, so the test's HTTP client
 * is curl run in that namespace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ethernet, ipv4, ipv4Bytes, mac, tcp, udp, pcapFile, ETH_ARP, ETH_IPV4, PROTO_TCP, PROTO_UDP, TCP_SYN, TCP_ACK, TCP_PSH } from './support/packets.js';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
const skip = process.getuid?.() !== 0 ? 'zero-configuration test needs root (network namespaces + veth)'
  : !has('ip') ? 'zero-configuration test needs iproute2 (ip)'
    : !has('tcpreplay') ? 'zero-configuration test needs tcpreplay'
      : !has('curl') ? 'zero-configuration test needs curl' : false;

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'src', 'cli.ts');
// The daemon runs in a temporary working directory (its dataDir is ./data): load tsx by path.
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

const tag = `${process.pid % 100000}`;
const nsSensor = `opzs${tag}`, nsPeer = `opzp${tag}`, nsBare = `opzb${tag}`;
const sensorIf = `opz${tag}s`, peerIf = `opz${tag}p`, decoyA = `opz${tag}a`, decoyB = `opz${tag}b`;
const CLIENT_MAC = '02:00:00:00:0a:01', GATEWAY_MAC = '02:00:00:00:0a:02';

function sh(ns: string, ...cmd: string[]): void { execFileSync('ip', ['netns', 'exec', ns, ...cmd]); }

let dir = '';
const procs: ChildProcess[] = [];

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'outpost-zero-'));
  for (const ns of [nsSensor, nsPeer, nsBare]) { spawnSync('ip', ['netns', 'del', ns]); execFileSync('ip', ['netns', 'add', ns]); }
  execFileSync('ip', ['link', 'add', sensorIf, 'netns', nsSensor, 'type', 'veth', 'peer', 'name', peerIf, 'netns', nsPeer]);
  execFileSync('ip', ['link', 'add', decoyA, 'netns', nsSensor, 'type', 'veth', 'peer', 'name', decoyB, 'netns', nsSensor]);
  for (const [ns, ifs] of [[nsSensor, [sensorIf, decoyA, decoyB]], [nsPeer, [peerIf]]] as const) {
    for (const i of ifs) {
      spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${i}.disable_ipv6=1`]);
      sh(ns, 'ip', 'link', 'set', i, 'up');
    }
    sh(ns, 'ip', 'link', 'set', 'lo', 'up');
  }
  sh(nsSensor, 'ip', 'addr', 'add', '10.88.0.2/24', 'dev', sensorIf);
  sh(nsSensor, 'ip', 'route', 'add', 'default', 'via', '10.88.0.1', 'dev', sensorIf);
  sh(nsBare, 'ip', 'link', 'set', 'lo', 'up');
});

after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  if (skip) return;
  for (const ns of [nsSensor, nsPeer, nsBare]) spawnSync('ip', ['netns', 'del', ns]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** `outpost run` with no arguments at all (or `args`), in `ns`, working directory `cwd`. */
function startDaemon(ns: string, cwd: string, args: string[] = []): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', TSX, CLI, 'run', ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(proc);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return { proc, stderr: () => err, exited: new Promise((res) => proc.on('exit', (code) => res(code))) };
}

/** curl inside the sensor's namespace; `jar` keeps the session cookie between calls. */
function curl(path: string, jar: string, extra: string[] = []): { status: number; body: string } {
  const r = spawnSync('ip', ['netns', 'exec', nsSensor, 'curl', '-s', '-o', '-', '-w', '\n%{http_code}', '-b', jar, '-c', jar, ...extra, `http://127.0.0.1:8470${path}`], { encoding: 'utf8' });
  const nl = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(nl + 1)), body: r.stdout.slice(0, nl) };
}

async function until<T>(what: string, f: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Eight TCP connections to 443 (handshake and data, left open) and four DNS exchanges. */
function traffic(): Buffer[] {
  const frames: Buffer[] = [];
  const out = (l3: Buffer) => frames.push(ethernet(GATEWAY_MAC, CLIENT_MAC, ETH_IPV4, l3));
  const back = (l3: Buffer) => frames.push(ethernet(CLIENT_MAC, GATEWAY_MAC, ETH_IPV4, l3));
  for (let i = 0; i < 8; i++) {
    const c = `10.88.5.${10 + i}`, s = '198.51.100.44', cp = 41000 + i;
    out(ipv4({ src: c, dst: s, proto: PROTO_TCP }, tcp({ sport: cp, dport: 443, seq: 100, flags: TCP_SYN })));
    back(ipv4({ src: s, dst: c, proto: PROTO_TCP }, tcp({ sport: 443, dport: cp, seq: 900, flags: TCP_SYN | TCP_ACK })));
    out(ipv4({ src: c, dst: s, proto: PROTO_TCP }, tcp({ sport: cp, dport: 443, seq: 101, flags: TCP_ACK })));
    out(ipv4({ src: c, dst: s, proto: PROTO_TCP }, tcp({ sport: cp, dport: 443, seq: 101, flags: TCP_PSH | TCP_ACK }, Buffer.alloc(300, 0x41))));
    back(ipv4({ src: s, dst: c, proto: PROTO_TCP }, tcp({ sport: 443, dport: cp, seq: 901, flags: TCP_PSH | TCP_ACK }, Buffer.alloc(700, 0x42))));
  }
  // An ARP request (RFC 826) from the client: how device identity learns its MAC and address.
  const arp = Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, 1]), mac(CLIENT_MAC), ipv4Bytes('10.88.5.10'), Buffer.alloc(6), ipv4Bytes('10.88.5.1')]);
  frames.push(ethernet('ff:ff:ff:ff:ff:ff', CLIENT_MAC, ETH_ARP, arp));
  for (let i = 0; i < 4; i++) {
    out(ipv4({ src: '10.88.6.1', dst: '203.0.113.53', proto: PROTO_UDP }, udp({ sport: 52000 + i, dport: 53 }, Buffer.alloc(40, i))));
    back(ipv4({ src: '203.0.113.53', dst: '10.88.6.1', proto: PROTO_UDP }, udp({ sport: 53, dport: 52000 + i }, Buffer.alloc(80, i))));
  }
  return frames;
}

test('outpost run with no configuration captures on the default-route interface and the printed URL logs in', { skip, timeout: 60_000 }, async () => {
  const cwd = join(dir, 'sensor');
  execFileSync('mkdir', ['-p', cwd]);
  const first = startDaemon(nsSensor, cwd);
  const url = await until('the login URL', () => /(http:\/\/127\.0\.0\.1:8470\/login\?token=\S+)/.exec(first.stderr())?.[1]);
  assert.equal(first.stderr().match(/login\?token=/g)?.length, 1, 'printed once');
  // The log is written asynchronously (pino) and the URL directly: the log line may come after it.
  await until('the capture log line', () => (/capturing on the interfaces of the default route/.test(first.stderr()) ? true : undefined));

  const jar = join(dir, 'cookies');
  const login = curl(new URL(url).pathname + new URL(url).search, jar, ['-D', '-']);
  assert.equal(login.status, 303, login.body);
  assert.match(login.body, /set-cookie: outpost_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict/i);
  const session = curl('/v1/session', jar);
  assert.equal(session.status, 200);
  assert.equal((JSON.parse(session.body) as { user: string }).user, 'admin');
  // Without the cookie the API is closed: the token exists, so reads need it.
  assert.equal(curl('/v1/stats', join(dir, 'no-cookies')).status, 401);

  const cap = JSON.parse(curl('/v1/capture', jar).body) as { running: boolean; settings: { interfaces: string[] } };
  assert.equal(cap.running, true);
  assert.deepEqual(cap.settings.interfaces, [sensorIf], 'only the default-route interface, not the decoy pair');

  const frames = traffic();
  const pcap = join(dir, 'traffic.pcap');
  writeFileSync(pcap, pcapFile(frames.map((data, i) => ({ data, tsUs: 1_700_000_000_000_000 + i * 1000 })), 1));
  const replay = spawnSync('ip', ['netns', 'exec', nsPeer, 'tcpreplay', '-q', '--pps=1000', '-i', peerIf, pcap], { encoding: 'utf8' });
  assert.equal(replay.status, 0, `tcpreplay: ${replay.stderr}`);

  type Flow = { protocol: number; client: { ip: string; port: number; mac?: string }; server: { ip: string; port: number }; packetsOut: number; packetsIn: number; bytesOut: number; bytesIn: number };
  const flows = await until('the flows in the API', () => {
    const r = curl('/v1/flows?limit=1000', jar);
    const items = (JSON.parse(r.body) as { items: Flow[] }).items.filter((f) => f.client.ip.startsWith('10.88.5.') || f.client.ip === '10.88.6.1');
    return items.length >= 12 ? items : undefined;
  });
  const tcpFlows = flows.filter((f) => f.protocol === 6).sort((a, b) => a.client.port - b.client.port);
  assert.equal(tcpFlows.length, 8);
  for (const [i, f] of tcpFlows.entries()) {
    assert.deepEqual([f.client.ip, f.client.port, f.server.ip, f.server.port], [`10.88.5.${10 + i}`, 41000 + i, '198.51.100.44', 443]);
    assert.deepEqual([f.packetsOut, f.packetsIn], [3, 2]);
    assert.equal(f.client.mac, CLIENT_MAC);
  }
  assert.equal(flows.filter((f) => f.protocol === 17 && f.server.port === 53).length, 4);
  // Device identity is on: the client MAC is in the inventory.
  const devices = curl('/v1/devices', jar);
  assert.equal(devices.status, 200);
  assert.ok(devices.body.includes(CLIENT_MAC), `device identity saw the client: ${devices.body.slice(0, 500)}`);

  first.proc.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.stderr().slice(-2000));

  // Second start, same data directory: same token, no URL.
  const second = startDaemon(nsSensor, cwd);
  await until('the API', () => (curl('/v1/health', join(dir, 'none')).status === 200 ? true : undefined));
  assert.equal(curl('/v1/stats', join(dir, 'bearer'), ['-H', `authorization: Bearer ${new URL(url).searchParams.get('token')}`]).status, 200, 'the first token still works');
  assert.doesNotMatch(second.stderr(), /login\?token=/, 'no URL on the second start');
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0);
});

test('outpost run with no configuration and only loopback ends with CAPTURE_NO_INTERFACE, status 1', { skip, timeout: 30_000 }, async () => {
  const cwd = join(dir, 'bare');
  execFileSync('mkdir', ['-p', cwd]);
  const d = startDaemon(nsBare, cwd);
  assert.equal(await d.exited, 1);
  assert.match(d.stderr(), /^outpost: CAPTURE_NO_INTERFACE: /m);
  assert.doesNotMatch(d.stderr(), /login\?token=/, 'a failed start prints no URL');
  assert.equal(existsSync(join(cwd, 'data', 'api-admin-token.json')), false, 'and keeps no token, so the next start prints one');
});

test('outpost run --config with capture.interfaces [auto] and api.firstRunAccess captures on the default-route interface and prints the URL once', { skip, timeout: 60_000 }, async () => {
  // A daemon an earlier test left running (it failed before stopping it) would hold the port.
  await Promise.all(procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((res) => { p.once('exit', res); p.kill('SIGKILL'); })));
  const cwd = join(dir, 'configured');
  execFileSync('mkdir', ['-p', cwd]);
  // The configuration the Debian package ships, with its dataDir in this test's directory.
  const conf = join(cwd, 'outpost.yaml');
  writeFileSync(conf, `dataDir: ${join(cwd, 'state')}\ncapture:\n  interfaces: [auto]\n  bufferTimeoutMs: 10\napi:\n  firstRunAccess: true\n`);
  const first = startDaemon(nsSensor, cwd, ['--config', conf]);
  const url = await until('the login URL', () => /(http:\/\/127\.0\.0\.1:8470\/login\?token=\S+)/.exec(first.stderr())?.[1]);
  assert.equal(first.stderr().match(/login\?token=/g)?.length, 1, 'printed once');
  assert.match(first.stderr(), /Open the console/);
  await until('the capture log line', () => (/capture\.interfaces \[auto\]: capturing on the interfaces of the default route/.test(first.stderr()) ? true : undefined));
  assert.ok(existsSync(join(cwd, 'state', 'api-admin-token.json')), 'the token is kept (hashed) in dataDir');

  const jar = join(dir, 'cookies-configured');
  const login = curl(new URL(url).pathname + new URL(url).search, jar, ['-D', '-']);
  assert.equal(login.status, 303, login.body);
  assert.equal(curl('/v1/stats', join(dir, 'no-cookies')).status, 401, 'the API is closed without the token');
  const cap = JSON.parse(curl('/v1/capture', jar).body) as { running: boolean; settings: { interfaces: string[] } };
  assert.equal(cap.running, true);
  assert.deepEqual(cap.settings.interfaces, [sensorIf], 'only the default-route interface, not the decoy pair');
  const ifaces = JSON.parse(curl('/v1/interfaces', jar).body) as { interfaces: Array<{ name: string; configured: boolean; capturing: boolean }> };
  assert.deepEqual(ifaces.interfaces.filter((i) => i.configured).map((i) => [i.name, i.capturing]), [[sensorIf, true]]);

  const pcap = join(dir, 'traffic-configured.pcap');
  writeFileSync(pcap, pcapFile(traffic().map((data, i) => ({ data, tsUs: 1_700_000_100_000_000 + i * 1000 })), 1));
  const replay = spawnSync('ip', ['netns', 'exec', nsPeer, 'tcpreplay', '-q', '--pps=1000', '-i', peerIf, pcap], { encoding: 'utf8' });
  assert.equal(replay.status, 0, `tcpreplay: ${replay.stderr}`);
  type Flow = { protocol: number; client: { ip: string; port: number }; server: { port: number } };
  const flows = await until('the flows in the API', () => {
    const items = (JSON.parse(curl('/v1/flows?limit=1000', jar).body) as { items: Flow[] }).items.filter((f) => f.client.ip.startsWith('10.88.5.') || f.client.ip === '10.88.6.1');
    return items.length >= 12 ? items : undefined;
  });
  assert.equal(flows.filter((f) => f.protocol === 6 && f.server.port === 443).length, 8);
  assert.equal(flows.filter((f) => f.protocol === 17 && f.server.port === 53).length, 4);
  first.proc.kill('SIGTERM');
  assert.equal(await first.exited, 0, first.stderr().slice(-2000));

  // Restarted (as systemd would after an upgrade): the same token, no second URL.
  const second = startDaemon(nsSensor, cwd, ['--config', conf]);
  await until('the API', () => (curl('/v1/health', join(dir, 'none')).status === 200 ? true : undefined));
  assert.equal(curl('/v1/stats', join(dir, 'bearer2'), ['-H', `authorization: Bearer ${new URL(url).searchParams.get('token')}`]).status, 200, 'the first token still works');
  // curl runs synchronously: let the daemon's stderr reach this process before reading it. The
  // URL would be written in the same tick as "outpost running".
  await until('the start logged', () => (second.stderr().includes('"msg":"outpost running"') ? true : undefined));
  await sleep(300);
  assert.doesNotMatch(second.stderr(), /login\?token=/, 'no URL on the second start');
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0);

  // A file without them: an empty list is still no capture, and no token or URL is made.
  const plainDir = join(cwd, 'plain');
  execFileSync('mkdir', ['-p', plainDir]);
  const plainConf = join(plainDir, 'outpost.yaml');
  writeFileSync(plainConf, `dataDir: ${join(plainDir, 'state')}\ncapture:\n  interfaces: []\n`);
  const plain = startDaemon(nsSensor, plainDir, ['--config', plainConf]);
  await until('the API', () => (curl('/v1/health', join(dir, 'none')).status === 200 ? true : undefined));
  assert.equal((JSON.parse(curl('/v1/capture', join(dir, 'none')).body) as { running: boolean }).running, false);
  await until('the start logged', () => (plain.stderr().includes('"msg":"outpost running"') ? true : undefined));
  await sleep(300);
  assert.match(plain.stderr(), /running without capture/);
  assert.doesNotMatch(plain.stderr(), /login\?token=/);
  assert.equal(existsSync(join(plainDir, 'state', 'api-admin-token.json')), false);
  plain.proc.kill('SIGTERM');
  assert.equal(await plain.exited, 0);
});
