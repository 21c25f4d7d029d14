/**
 * The Debian package: build it with appliance/build-deb.sh, install it on this machine with
 * dpkg, check the user, files and permissions it creates, then run the unit's ExecStart as the
 * unit would (systemctl when systemd is PID 1; otherwise setpriv with the unit's user, ambient
 * CAP_NET_RAW only and no_new_privs) capturing on a veth, and purge it again. Before that, the
 * shipped configuration (capture.interfaces [auto], api.firstRunAccess) runs the same way in a
 * network namespace whose default route is a veth: it captures there and prints the login URL once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ethernet, ipv4, udp, pcapFile, ETH_IPV4, PROTO_UDP } from './support/packets.js';
import { nonProductReason } from './support/non-product.js';
import { loadConfig } from '../src/config/index.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const preinstalled = spawnSync('dpkg-query', ['-W', 'outpost'], { stdio: 'ignore' }).status === 0 || spawnSync('getent', ['passwd', 'outpost'], { stdio: 'ignore' }).status === 0;
const skip = process.getuid?.() !== 0 ? 'package install test needs root'
  : !has('dpkg-deb') || !has('dpkg') ? 'package install test needs dpkg-deb and dpkg'
    : !has('ip') || !has('tcpreplay') || !has('setpriv') || !has('curl') ? 'package install test needs ip, tcpreplay, setpriv and curl'
      : preinstalled ? 'an outpost package or user already exists on this machine: not touching it'
        : false;
const pid1 = existsSync('/proc/1/comm') ? readFileSync('/proc/1/comm', 'utf8').trim() : '';
const systemdIsPid1 = pid1 === 'systemd';

const tag = `${process.pid % 100000}`;
const hostIf = `opdb${tag}h`;
const peerIf = `opdb${tag}p`;
const autoNs = `opdbn${tag}`, autoIf = `opdb${tag}a`, autoPeer = `opdb${tag}b`;
let dir = '';
let proc: ChildProcess | null = null;

after(() => {
  if (skip) return;
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  if (systemdIsPid1) spawnSync('systemctl', ['stop', 'outpost']);
  spawnSync('ip', ['link', 'del', hostIf]);
  spawnSync('ip', ['link', 'del', autoPeer]);
  spawnSync('ip', ['netns', 'del', autoNs]);
  spawnSync('dpkg', ['--purge', 'outpost'], { stdio: 'ignore' });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the .deb installs, runs as the unprivileged user with CAP_NET_RAW only, captures on a veth, purges', { skip, timeout: 120_000 }, async (t) => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-deb-'));
  const built = spawnSync('bash', ['appliance/build-deb.sh', dir], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const deb = built.stdout.trim().split('\n').at(-1)!;
  const contents = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const f of ['./opt/outpost/dist/cli.js', './lib/systemd/system/outpost.service', './etc/outpost/outpost.yaml', './opt/outpost/node_modules/fastify/package.json', './opt/outpost/node_modules/pcap/package.json']) {
    assert.ok(contents.includes(f), `${f} in package`);
  }
  assert.ok(!contents.includes('./opt/outpost/node_modules/typescript/'), 'no dev dependencies');
  // Product code only: no benchmark, comparison, fuzzer, fixture, receiver, validator or test.
  const app = contents.split('\n').map((l) => /\.\/opt\/outpost\/((?:dist|config|appliance)\/\S*[^/])$/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
  assert.ok(app.includes('dist/daemon.js'), 'dist/daemon.js in package');
  const proof = app.filter((f) => nonProductReason(f) !== null);
  assert.deepEqual(proof, [], 'non-product files in the .deb');

  const inst = spawnSync('dpkg', ['-i', deb], { encoding: 'utf8' });
  assert.equal(inst.status, 0, inst.stderr + inst.stdout);
  const uid = Number(execFileSync('id', ['-u', 'outpost'], { encoding: 'utf8' }));
  assert.ok(uid > 0 && uid < 1000, 'system user');
  const data = statSync('/var/lib/outpost');
  assert.equal(data.uid, uid);
  assert.equal(data.mode & 0o777, 0o750);
  const conf = statSync('/etc/outpost/outpost.yaml');
  assert.equal(conf.uid, uid);
  assert.equal(conf.mode & 0o777, 0o640);

  const unit = readFileSync('/lib/systemd/system/outpost.service', 'utf8');
  for (const line of ['User=outpost', 'AmbientCapabilities=CAP_NET_RAW', 'CapabilityBoundingSet=CAP_NET_RAW', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/outpost /etc/outpost']) {
    assert.ok(unit.split('\n').includes(line), `unit has ${line}`);
  }
  // Logs and the login URL go to the journal, not into the event file (StandardOutput=append:).
  assert.ok(unit.split('\n').includes('StandardError=journal'), 'unit has StandardError=journal');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)![1]!.split(' ');

  // The shipped configuration: capture where the default route goes, and a login URL on the first start.
  const shipped = loadConfig('/etc/outpost/outpost.yaml');
  assert.deepEqual(shipped.capture.interfaces, ['auto']);
  assert.equal(shipped.api.firstRunAccess, true);
  assert.equal(shipped.dataDir, '/var/lib/outpost');
  if (systemdIsPid1) {
    t.diagnostic('systemd is PID 1: the shipped configuration already runs as the service; its run in a namespace is skipped');
  } else {
    // As the unit runs it (outpost user, ambient CAP_NET_RAW only), in a namespace whose default
    // route is a veth: [auto] must choose that veth and the first start must print one URL.
    spawnSync('ip', ['netns', 'del', autoNs]);
    execFileSync('ip', ['netns', 'add', autoNs]);
    execFileSync('ip', ['link', 'add', autoIf, 'netns', autoNs, 'type', 'veth', 'peer', 'name', autoPeer]);
    spawnSync('sysctl', ['-qw', `net.ipv6.conf.${autoPeer}.disable_ipv6=1`]);
    for (const cmd of [['ip', 'link', 'set', 'lo', 'up'], ['ip', 'link', 'set', autoIf, 'up'], ['ip', 'addr', 'add', '10.89.0.2/24', 'dev', autoIf], ['ip', 'route', 'add', 'default', 'via', '10.89.0.1']]) {
      execFileSync('ip', ['netns', 'exec', autoNs, ...cmd]);
    }
    execFileSync('ip', ['link', 'set', autoPeer, 'up']);
    const auto = spawn('ip', ['netns', 'exec', autoNs, 'setpriv', '--reuid=outpost', '--regid=outpost', '--init-groups', '--inh-caps=-all,+net_raw', '--ambient-caps=-all,+net_raw', '--bounding-set=-all,+net_raw', '--no-new-privs', ...execStart],
      { cwd: '/var/lib/outpost', stdio: ['ignore', 'ignore', 'pipe'] });
    proc = auto;
    let autoErr = '';
    auto.stderr!.on('data', (d: Buffer) => { autoErr += d.toString(); });
    const autoExited = new Promise<number | null>((resolve) => auto.on('exit', (code) => resolve(code)));
    let url: string | undefined;
    for (let i = 0; i < 200 && url === undefined && auto.exitCode === null; i++) {
      url = /(http:\/\/127\.0\.0\.1:8470\/login\?token=\S+)/.exec(autoErr)?.[1];
      if (url === undefined) await sleep(100);
    }
    assert.ok(url, `the shipped configuration printed a login URL (stderr: ${autoErr.slice(-2000)})`);
    assert.equal(autoErr.match(/login\?token=/g)?.length, 1, 'printed once');
    assert.equal(statSync('/var/lib/outpost/api-admin-token.json').mode & 0o777, 0o600, 'the token hash is the outpost user\'s alone');
    const token = new URL(url).searchParams.get('token')!;
    const cap = spawnSync('ip', ['netns', 'exec', autoNs, 'curl', '-s', '-H', `authorization: Bearer ${token}`, 'http://127.0.0.1:8470/v1/capture'], { encoding: 'utf8' });
    const capture = JSON.parse(cap.stdout) as { running: boolean; settings: { interfaces: string[] } };
    assert.equal(capture.running, true, cap.stdout);
    assert.deepEqual(capture.settings.interfaces, [autoIf], 'captures on the interface of the default route');
    auto.kill('SIGTERM');
    assert.equal(await autoExited, 0, autoErr.slice(-2000));
    proc = null;
  }

  // A veth to capture on, and a config that points at it (written like an admin would).
  spawnSync('ip', ['link', 'del', hostIf]);
  execFileSync('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf]);
  spawnSync('sysctl', ['-qw', `net.ipv6.conf.${hostIf}.disable_ipv6=1`, `net.ipv6.conf.${peerIf}.disable_ipv6=1`]);
  execFileSync('ip', ['link', 'set', hostIf, 'up']);
  execFileSync('ip', ['link', 'set', peerIf, 'up']);
  const port = 22000 + (process.pid % 20000);
  writeFileSync('/etc/outpost/outpost.yaml', `dataDir: /var/lib/outpost\nlogLevel: warn\ncapture:\n  interfaces: [${hostIf}]\n  bpfFilter: udp\n  bufferTimeoutMs: 10\napi:\n  port: ${port}\n`);
  chownSync('/etc/outpost/outpost.yaml', uid, uid);

  let stderr = '';
  if (systemdIsPid1) {
    execFileSync('systemctl', ['restart', 'outpost']);
  } else {
    t.diagnostic(`systemd is not PID 1 (PID 1 is "${pid1}"): running the unit's ExecStart with setpriv as the outpost user with ambient CAP_NET_RAW`);
    proc = spawn('setpriv', ['--reuid=outpost', '--regid=outpost', '--init-groups', '--inh-caps=-all,+net_raw', '--ambient-caps=-all,+net_raw', '--bounding-set=-all,+net_raw', '--no-new-privs', ...execStart],
      { cwd: '/var/lib/outpost', stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  }
  const stats = async (): Promise<{ counters: Record<string, number> } | null> => {
    try { const r = await fetch(`http://127.0.0.1:${port}/v1/stats`); return r.ok ? await r.json() as never : null; } catch { return null; }
  };
  for (let i = 0; i < 100 && (await stats()) === null; i++) await sleep(100);
  assert.ok(await stats(), `daemon came up (stderr: ${stderr})`);

  const pid = systemdIsPid1 ? Number(execFileSync('systemctl', ['show', '-p', 'MainPID', '--value', 'outpost'], { encoding: 'utf8' })) : proc!.pid!;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), 'runs as outpost');
  assert.match(status, /^CapEff:\s+0000000000002000$/m, 'effective capabilities: CAP_NET_RAW only');
  assert.match(status, /^CapBnd:\s+0000000000002000$/m, 'bounding set: CAP_NET_RAW only');
  assert.match(status, /^NoNewPrivs:\s+1$/m);

  const frames = Array.from({ length: 20 }, (_, i) => ethernet('02:00:00:00:00:01', '02:00:00:00:00:02', ETH_IPV4,
    ipv4({ src: '10.9.0.1', dst: '10.9.0.2', proto: PROTO_UDP }, udp({ sport: 5000 + (i % 4), dport: 53 }, Buffer.alloc(20)))));
  const pcap = join(dir, 'udp.pcap');
  writeFileSync(pcap, pcapFile(frames.map((data, i) => ({ data, tsUs: 1_700_000_000_000_000 + i * 1000 })), 1));
  const replay = spawnSync('tcpreplay', ['-q', '--pps=1000', '-i', peerIf, pcap], { encoding: 'utf8' });
  assert.equal(replay.status, 0, replay.stderr);
  let s = await stats();
  for (let i = 0; i < 50 && (s?.counters['decode.packets'] ?? 0) < frames.length; i++) { await sleep(100); s = await stats(); }
  assert.equal(s?.counters['decode.packets'], frames.length, 'captured every packet on the veth');
  assert.equal(s?.counters['flows.active'], 4);

  if (systemdIsPid1) execFileSync('systemctl', ['stop', 'outpost']);
  else {
    const exited = new Promise<number | null>((resolve) => proc!.on('exit', (code) => resolve(code)));
    proc!.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  }
  const purge = spawnSync('dpkg', ['--purge', 'outpost'], { encoding: 'utf8' });
  assert.equal(purge.status, 0, purge.stderr);
  assert.notEqual(spawnSync('getent', ['passwd', 'outpost']).status, 0, 'user removed on purge');
  assert.ok(!existsSync('/opt/outpost/dist') && !existsSync('/var/lib/outpost'), 'files removed on purge');
});
