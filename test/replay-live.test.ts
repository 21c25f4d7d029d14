/**
 * `outpost run` capturing live and `outpost replay` of the same traffic recorded by tcpdump give
 * the same events. A lab on a veth pair: the root-namespace end (captured by both) serves DHCP
 * and DNS (dnsmasq), HTTP (python3 http.server) and HTTPS (openssl s_server); a client in a
 * network namespace takes a DHCP lease (udhcpc), resolves a name (Node's resolver), and fetches
 * over HTTP and HTTPS (curl). Both commands get the same --config and the same event kinds and
 * components, so the test does not depend on either command's defaults.
 *
 * Compared: every event, every field, as multisets (the daemon emits flow ends from its expiry
 * job, replay at the next packet or at the end, so the order across flows differs), except the
 * fields that are not a function of the traffic:
 *   - metadata.uid: a random UUID per event;
 *   - connection_info.uid: drawn from a random key per sensor (src/events/flow-uid.ts), so the
 *     daemon and the replay never share one;
 *   - unmapped.flow_end_reason of flows still open at the end: `shutdown` when the daemon
 *     stopped, `capture_end` when the recorded file ended; both are compared as one value.
 * Times (`time`, `*_time`, `duration`, in ms) are compared within 1 ms, not exactly: the daemon
 * and tcpdump read the wire through two packet sockets, and the kernel stamps a packet coming
 * from the namespace for each socket at that socket's delivery (net/packet/af_packet.c,
 * tpacket_get_timestamp), so one packet carries two stamps a few µs apart (up to 4 µs measured
 * on this lab's veth with two tcpdumps). When a millisecond boundary falls between them, the
 * daemon's event and the replayed one differ by 1 in that field. Every other field is exact.
 * Needs root, iproute2, tcpdump, dnsmasq, udhcpc, curl, openssl and python3; skipped otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWire, removeWire } from './support/netns.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli.js');
const TOOLS = ['ip', 'tcpdump', 'dnsmasq', 'udhcpc', 'curl', 'openssl', 'python3'];

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
const missingTool = TOOLS.find((t) => !has(t));
const skip = process.getuid?.() !== 0 ? 'replay-vs-live test needs root (network namespace + veth)'
  : missingTool ? `replay-vs-live test needs ${missingTool}`
    : !existsSync(CLI) ? 'dist/cli.js missing: run npm run build' : false;

const tag = `${process.pid % 100000}`;
const ns = `oprl${tag}`;
const hostIf = `oprl${tag}h`;
const nsIf = `oprl${tag}n`;
const net = `10.${100 + (process.pid % 100)}.${process.pid % 250}`;
const SERVER = `${net}.1`;
const CLIENT = `${net}.2`;
const KINDS = 'network,dns,http,dhcp,inventory';

let dir = '';
const children: ChildProcess[] = [];

function start(cmd: string, args: string[], opts: { stdout?: boolean } = {}): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { if (opts.stdout !== false) out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function inNs(...args: string[]): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A time-valued field: milliseconds taken from packet stamps. */
function isTime(key: string, v: unknown): boolean {
  return typeof v === 'number' && (key === 'time' || key === 'duration' || key.endsWith('_time'));
}

/** An event with its time fields taken out (in path order) and the rest as one comparable string. */
function comparable(e: Record<string, unknown>): { key: string; times: Array<[string, number]> } {
  const c = structuredClone(e);
  delete (c.metadata as Record<string, unknown>).uid;
  const ci = c.connection_info as Record<string, unknown> | undefined;
  if (ci) delete ci.uid;
  const u = c.unmapped as Record<string, unknown> | undefined;
  if (u?.flow_end_reason === 'shutdown' || u?.flow_end_reason === 'capture_end') u.flow_end_reason = 'shutdown|capture_end';
  const times: Array<[string, number]> = [];
  const walk = (o: unknown, path: string): void => {
    if (typeof o !== 'object' || o === null) return;
    for (const [k, v] of Object.entries(o)) {
      const p = path ? `${path}.${k}` : k;
      if (isTime(k, v)) { times.push([p, v as number]); (o as Record<string, unknown>)[k] = 'ms'; } else walk(v, p);
    }
  };
  walk(c, '');
  return { key: JSON.stringify(c), times };
}

/**
 * Pairs live and replayed events with the same fields but times; within a group of equal keys, in
 * order of their times. Returns the unpaired ones and the paired ones whose times differ by more
 * than 1 ms.
 */
function pair(live: Array<Record<string, unknown>>, replayed: Array<Record<string, unknown>>): { onlyLive: string[]; onlyReplay: string[]; timesApart: string[] } {
  const group = (evs: Array<Record<string, unknown>>) => {
    const m = new Map<string, Array<{ e: Record<string, unknown>; times: Array<[string, number]> }>>();
    for (const e of evs) {
      const c = comparable(e);
      const g = m.get(c.key) ?? [];
      g.push({ e, times: c.times });
      m.set(c.key, g);
    }
    const order = (x: { times: Array<[string, number]> }, y: { times: Array<[string, number]> }): number => {
      for (let i = 0; i < x.times.length; i++) if (x.times[i]![1] !== y.times[i]![1]) return x.times[i]![1] - y.times[i]![1];
      return 0;
    };
    for (const g of m.values()) g.sort(order);
    return m;
  };
  const a = group(live);
  const b = group(replayed);
  const onlyLive: string[] = [];
  const onlyReplay: string[] = [];
  const timesApart: string[] = [];
  for (const [key, ga] of a) {
    const gb = b.get(key) ?? [];
    for (let i = 0; i < Math.max(ga.length, gb.length); i++) {
      const x = ga[i];
      const y = gb[i];
      if (!y) { onlyLive.push(JSON.stringify(x!.e)); continue; }
      if (!x) { onlyReplay.push(JSON.stringify(y.e)); continue; }
      for (let j = 0; j < x.times.length; j++) {
        const [p, tl] = x.times[j]!;
        const tr = y.times[j]![1];
        if (Math.abs(tl - tr) > 1) timesApart.push(`${String(x.e.class_uid)} ${p}: live ${tl}, replay ${tr}`);
      }
    }
  }
  for (const [key, gb] of b) if (!a.has(key)) for (const y of gb) onlyReplay.push(JSON.stringify(y.e));
  return { onlyLive, onlyReplay, timesApart };
}

/** Fields (dotted paths) whose values differ between two events of the same shape. */
function differingPaths(a: unknown, b: unknown, path = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return [path || '.'];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => differingPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k));
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'outpost-replay-live-'));
  createWire({ ns, hostIf, nsIf });
  execFileSync('ip', ['addr', 'add', `${SERVER}/24`, 'dev', hostIf]);
});

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (skip) return;
  removeWire({ ns, hostIf, nsIf });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('outpost replay of a recorded lab capture gives the events outpost run gave live', { skip, timeout: 120_000 }, async (t) => {
  // Servers on the root-namespace end.
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=lab.test', '-addext', 'subjectAltName=DNS:lab.test', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const dnsmasq = start('dnsmasq', ['--keep-in-foreground', '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    `--interface=${hostIf}`, '--bind-interfaces', '--except-interface=lo', `--listen-address=${SERVER}`, '--no-ping',
    `--dhcp-range=${CLIENT},${CLIENT},255.255.255.0,1h`, `--dhcp-leasefile=${join(dir, 'leases')}`,
    `--address=/lab.test/${SERVER}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`]);
  const http = start('python3', ['-m', 'http.server', '--bind', SERVER, '8080', '--directory', dir]);
  const https = start('openssl', ['s_server', '-quiet', '-accept', `${SERVER}:8443`, '-cert', cert, '-key', key, '-www'], { stdout: false });

  // The daemon and tcpdump on the same interface, with the same (empty) filter.
  const port = 21000 + (process.pid % 20000);
  const config = join(dir, 'outpost.yaml');
  writeFileSync(config, [
    `dataDir: ${join(dir, 'data')}`,
    'logLevel: warn',
    'capture:',
    `  interfaces: [${hostIf}]`,
    "  bpfFilter: ''",
    '  bufferTimeoutMs: 10',
    'events:',
    `  emit: [${KINDS}]`,
    '  stdout: true',
    'devices:',
    '  enabled: true',
    'discovery:',
    '  enabled: true',
    'api:',
    `  port: ${port}`,
  ].join('\n'));
  const pcap = join(dir, 'lab.pcap');
  const tcpdump = start('tcpdump', ['-i', hostIf, '-U', '-n', '-s', '65535', '-w', pcap]);
  const daemon = start(process.execPath, [CLI, 'run', '--config', config]);
  await waitFor('tcpdump', () => tcpdump.err().includes('listening on'));
  await waitFor('daemon API', async () => {
    try { return (await fetch(`http://127.0.0.1:${port}/v1/stats`)).ok; } catch { return false; }
  });
  await waitFor('dnsmasq, http.server, s_server', () => {
    const ss = spawnSync('ss', ['-ltnu'], { encoding: 'utf8' }).stdout ?? '';
    return ss.includes(`${SERVER}:8080`) && ss.includes(`${SERVER}:8443`) && ss.includes(`${SERVER}:53`);
  });

  // The client's traffic.
  inNs('udhcpc', '-i', nsIf, '-n', '-q', '-f', '-t', '3', '-T', '1', '-s', '/bin/true', '-x', 'hostname:lab-client');
  inNs('ip', 'addr', 'add', `${CLIENT}/24`, 'dev', nsIf);
  const answer = inNs(process.execPath, '-e',
    `const r = new (require('node:dns').promises.Resolver)(); r.setServers(['${SERVER}']); r.resolve4('lab.test').then((a) => console.log(a.join(',')));`);
  assert.equal(answer.trim(), SERVER);
  inNs('curl', '-sS', '-o', '/dev/null', '-A', 'lab-curl/1.0', `http://lab.test:8080/`, '--resolve', `lab.test:8080:${SERVER}`);
  inNs('curl', '-sS', '-o', '/dev/null', '-k', '-A', 'lab-curl/1.0', `https://lab.test:8443/`, '--resolve', `lab.test:8443:${SERVER}`);
  await sleep(1500);

  tcpdump.child.kill('SIGINT');
  await tcpdump.exited;
  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, 0, `daemon exited cleanly: ${daemon.err()}`);
  for (const s of [dnsmasq, http, https]) s.child.kill('SIGTERM');

  const live = daemon.out().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const r = spawnSync(process.execPath, [CLI, 'replay', pcap, '--config', config, '--emit', KINDS, '--with', 'devices,discovery', '--stats'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `replay: ${r.stderr}`);
  const replayed = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const stats = JSON.parse(r.stderr) as { counters: Record<string, number> };

  // The lab produced what it was meant to: every kind of event the test is about.
  const kinds = (evs: Array<Record<string, unknown>>) => [...new Set(evs.map((e) => e.class_uid as number))].sort();
  assert.deepEqual(kinds(replayed), [4001, 4002, 4003, 4004, 5001], 'replay: Network, HTTP, DNS, DHCP Activity and Device Inventory Info');
  const named = replayed.filter((e) => e.class_uid === 4001 && (e.dst_endpoint as { hostname?: string }).hostname === 'lab.test');
  const sources = new Set(named.map((e) => (e.unmapped as { hostname_source: string }).hostname_source));
  assert.ok(sources.has('http_host') && sources.has('sni'), `lab.test named by Host and SNI: ${[...sources].join(', ')}`);
  assert.equal(stats.counters['decode.packets'], stats.counters['capture.file_packets']);

  // OUTPOST_REPLAY_LIVE_KEEP=DIR keeps both event streams, to read a difference.
  const keep = process.env.OUTPOST_REPLAY_LIVE_KEEP;
  if (keep) {
    writeFileSync(join(keep, 'live.ndjson'), live.map((e) => JSON.stringify(e)).join('\n') + '\n');
    writeFileSync(join(keep, 'replay.ndjson'), replayed.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
  const { onlyLive, onlyReplay, timesApart } = pair(live, replayed);
  // Name the fields that differ between pairs of unmatched events of the same class and activity.
  const fields = new Set<string>();
  for (const x of onlyLive) {
    const ex = JSON.parse(x) as Record<string, unknown>;
    const twin = onlyReplay.map((y) => JSON.parse(y) as Record<string, unknown>).find((ey) => ey.class_uid === ex.class_uid && ey.activity_id === ex.activity_id);
    if (twin) for (const p of differingPaths(ex, twin)) fields.add(`${String(ex.class_uid)}: ${p}`);
  }
  t.diagnostic(`live ${live.length} events, replay ${replayed.length}; differing fields: ${[...fields].sort().join(', ') || 'none'}`);
  assert.deepEqual({ onlyLive, onlyReplay, timesApart }, { onlyLive: [], onlyReplay: [], timesApart: [] });
});
