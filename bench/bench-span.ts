/**
 * `npm run bench:span`: how often SPAN mode's injected TCP resets win the race (control.span).
 * A lab of namespaces on one bridge that floods every frame to every port (ageing time 0, a hub:
 * the sensor's port sees what a mirror port sees, and a frame injected there reaches both ends):
 * office 10.78.0.2, cloud 10.78.0.3, sensor (no address) where `outpost run` captures with
 * control.span.resetInjection on and a policy blocking blocked.example. The cloud answers TLS
 * directly (openssl s_server) or through a relay that waits D ms before passing the ClientHello
 * on, standing in for a server D ms away. A win is curl failing with a reset; a loss is a
 * completed request.
 *
 * Needs root, iproute2, openssl, curl, python3. Usage: npm run bench:span [-- --tries 30 --delays 0,2,10,50 --buffer-timeout-ms 1]
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const O = 'sp-office', C = 'sp-cloud', S = 'sp-sensor', W = 'sp-sw';
const CLOUD = '10.78.0.3';

const RELAY = `
import socket, sys, threading, time
delay = float(sys.argv[1]) / 1000.0
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); ls.bind(('${CLOUD}', 443)); ls.listen(64)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def serve(c):
    try:
        first = c.recv(65536)
        time.sleep(delay)
        u = socket.create_connection(('127.0.0.1', 8443))
        u.sendall(first)
    except OSError:
        c.close(); return
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
    pipe(c, u)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tries: { type: 'string' }, delays: { type: 'string' }, 'buffer-timeout-ms': { type: 'string' } } });
  const bufferTimeoutMs = Number(values['buffer-timeout-ms'] ?? 1);
  const tries = Number(values.tries ?? 30);
  const delays = (values.delays ?? '0,2,10,30').split(',').map(Number);
  if (process.getuid?.() !== 0) { console.error('bench:span skipped: needs root'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'outpost-span-'));
  const procs: ChildProcess[] = [];
  const sh = (ns: string, c: string) => execFileSync('ip', ['netns', 'exec', ns, ...c.split(' ')], { encoding: 'utf8' });
  try {
    for (const ns of [O, C, S, W]) { spawnSync('ip', ['netns', 'del', ns]); execFileSync('ip', ['netns', 'add', ns]); }
    sh(W, 'ip link add br0 type bridge ageing_time 0');
    for (const [ns, a, b] of [[O, 'spo0', 'spwo'], [C, 'spc0', 'spwc'], [S, 'sps0', 'spws']] as const) {
      execFileSync('ip', ['link', 'add', a, 'netns', ns, 'type', 'veth', 'peer', 'name', b, 'netns', W]);
      sh(W, `ip link set ${b} master br0`); sh(W, `ip link set ${b} up`);
      sh(ns, `ip link set ${a} up`); sh(ns, 'ip link set lo up');
      spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${a}.disable_ipv6=1`]);
    }
    sh(W, 'ip link set br0 up');
    sh(O, 'ip addr add 10.78.0.2/24 dev spo0');
    sh(C, `ip addr add ${CLOUD}/24 dev spc0`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=lab', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    procs.push(spawn('ip', ['netns', 'exec', C, 'openssl', 's_server', '-quiet', '-accept', '8443', '-www', '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem')], { stdio: 'ignore' }));
    writeFileSync(join(dir, 'relay.py'), RELAY);
    writeFileSync(join(dir, 'blocked.txt'), 'blocked.example\n');
    writeFileSync(join(dir, 'outpost.yaml'), [
      `dataDir: ${join(dir, 'data')}`, 'logLevel: warn', 'events:', '  stdout: false',
      'capture:', '  interfaces: [sps0]', `  bufferTimeoutMs: ${bufferTimeoutMs}`, 'control:', '  span:', '    resetInjection: true', '',
    ].join('\n'));
    const daemon = spawn('ip', ['netns', 'exec', S, process.execPath, '--import', 'tsx', 'test/support/inline-daemon.ts', join(dir, 'outpost.yaml'), join(dir, 'blocked.txt')], { stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(daemon);
    let log = '';
    daemon.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
    await sleep(4000);
    const rows: string[] = [];
    for (const d of delays) {
      const relay = spawn('ip', ['netns', 'exec', C, 'python3', join(dir, 'relay.py'), String(d)], { stdio: 'ignore' });
      await sleep(500);
      let won = 0, lost = 0, other = 0, allowedOk = 0;
      const otherErrors = new Set<string>();
      for (let i = 0; i < tries; i++) {
        const r = spawnSync('ip', ['netns', 'exec', O, 'curl', '-sS', '-k', '-o', '/dev/null', '--max-time', '5', '--resolve', `blocked.example:443:${CLOUD}`, 'https://blocked.example/'], { encoding: 'utf8' });
        if (r.status === 0) lost++; else if (/reset/i.test(r.stderr)) won++; else { other++; otherErrors.add(r.stderr.trim()); }
        const a = spawnSync('ip', ['netns', 'exec', O, 'curl', '-sS', '-k', '-o', '/dev/null', '--max-time', '5', '--resolve', `ok.example:443:${CLOUD}`, 'https://ok.example/'], { encoding: 'utf8' });
        if (a.status === 0) allowedOk++;
      }
      relay.kill('SIGKILL');
      await sleep(200);
      rows.push(`| ${d} ms | ${won} / ${tries} (${((100 * won) / tries).toFixed(0)} %) | ${lost} | ${other}${other ? ` (${[...otherErrors].join('; ')})` : ''} | ${allowedOk} / ${tries} |`);
    }
    console.log(`capture.bufferTimeoutMs ${bufferTimeoutMs}, ${tries} tries per delay`);
    console.log('| server answers after | resets won (curl: connection reset) | lost (request completed) | other failure | allowed name succeeded |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    const judged = log.split('\n').filter((l) => l.includes('"inline"')).length;
    console.log(`decisions logged by the daemon: ${judged}`);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    for (const ns of [O, C, S, W]) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
