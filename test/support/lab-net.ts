/**
 * The office switch of the lab tests: one network namespace per host, each joined to a bridge by
 * a veth pair, IPv4 only (no link-local IPv6 chatter, so every flow is one the test made), and
 * the teardown that removes processes, namespaces, the bridge and the temp dir. Needs root.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A lab's names, drawn at random so that runs (and lab tests) never share a bridge or namespace. */
export interface Lab {
  /** 4 hex digits in every interface and namespace name of this run. */
  id: string;
  /** The first three octets of the lab's /24. */
  net: string;
  /** The bridge (the office switch). */
  br: string;
  /** A fresh temp dir for configuration, captures and data. */
  dir: string;
  /** Every process started, stopped by teardownLab. */
  procs: ChildProcess[];
  /** Every namespace made, removed by teardownLab. */
  nss: string[];
  /** The namespace of host `n`. */
  ns: (n: string) => string;
}

/** `10.<first + id % span>.<first byte of id>.0/24`, bridge `<brPrefix><id>`, namespaces `<nsPrefix><id><host>`. */
export function newLab(o: { firstOctet: number; octetSpan: number; brPrefix: string; nsPrefix: string; tmpPrefix: string }): Lab {
  const id = randomBytes(2).toString('hex');
  return {
    id,
    net: `10.${o.firstOctet + (parseInt(id, 16) % o.octetSpan)}.${parseInt(id.slice(0, 2), 16)}`,
    br: `${o.brPrefix}${id}`,
    dir: mkdtempSync(join(tmpdir(), o.tmpPrefix)),
    procs: [],
    nss: [],
    ns: (n: string) => `${o.nsPrefix}${id}${n}`,
  };
}

export interface LabHost {
  /** The host's namespace (pushed onto `nss` once made, so teardown removes it). */
  ns: string;
  /** The bridge-side end of the veth pair (at most 15 characters, the kernel's IFNAMSIZ - 1). */
  hostIf: string;
  /** The bridge the host is plugged into. */
  bridge: string;
  /** The MAC of the host's eth0. */
  mac: string;
}

/** Namespace `ns` with `eth0` (MAC `mac`, up) wired to `bridge`, and `lo` up; no address yet. */
export function addLabHost(h: LabHost, nss: string[]): void {
  sh('ip', ['netns', 'add', h.ns]);
  nss.push(h.ns);
  sh('ip', ['netns', 'exec', h.ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  sh('ip', ['link', 'add', h.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
  sh('sysctl', ['-qw', `net.ipv6.conf.${h.hostIf}.disable_ipv6=1`]);
  sh('ip', ['link', 'set', h.hostIf, 'master', h.bridge, 'up']);
  sh('ip', ['netns', 'exec', h.ns, 'ip', 'link', 'set', 'eth0', 'address', h.mac]);
  sh('ip', ['netns', 'exec', h.ns, 'ip', 'link', 'set', 'eth0', 'up']);
  sh('ip', ['netns', 'exec', h.ns, 'ip', 'link', 'set', 'lo', 'up']);
}

/** tcpdump recording `iface` to `pcapFile`, once it says it is listening (within 5 s). */
export async function startCapture(iface: string, pcapFile: string, procs: ChildProcess[]): Promise<ChildProcess> {
  let err = '';
  // --immediate-mode: no packet waits in a kernel buffer block when tcpdump is stopped.
  const p = spawn('tcpdump', ['-i', iface, '-n', '-U', '--immediate-mode', '-s', '0', '-Z', 'root', '-w', pcapFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(p);
  p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  for (let i = 0; i < 100 && !/listening on/.test(err) && p.exitCode === null; i++) await sleep(50);
  assert.match(err, /listening on/, `tcpdump started: ${err}`);
  return p;
}

export type LabEvent = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `outpost run` in a child process: events (stdout) to a file, log (stderr) kept for addresses and failures. */
export interface LabDaemon { proc: ChildProcess; eventsFile: string; stderr: () => string; exited: Promise<number | null> }

/**
 * Starts the real daemon (src/cli.ts through tsx, so no build is needed) and waits up to 30 s for
 * `outpost running`, logged once every service has started; the caller checks that it came up.
 */
export async function spawnLabDaemon(configPath: string, eventsFile: string, procs: ChildProcess[]): Promise<LabDaemon> {
  const out = openSync(eventsFile, 'w');
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'run', '--config', configPath], { cwd: ROOT, stdio: ['ignore', out, 'pipe'] });
  closeSync(out);
  procs.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  for (let i = 0; i < 300 && !/"msg":"outpost running"/.test(stderr) && proc.exitCode === null; i++) await sleep(100);
  return { proc, eventsFile, stderr: () => stderr, exited };
}

/** SIGTERM, then the daemon's flushed events (every flow is emitted on a clean stop). */
export async function stopLabDaemon(d: LabDaemon): Promise<LabEvent[]> {
  d.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([d.exited, new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), 20_000); })]);
  clearTimeout(timer);
  assert.equal(code, 0, `daemon exited cleanly within 20 s; stderr:\n${d.stderr().slice(-3000)}`);
  return readFileSync(d.eventsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LabEvent);
}

/**
 * Best effort, for `finally`: SIGTERM every process still running, SIGKILL after 2 s, then
 * whatever is left inside the namespaces (servers such as smbd fork children of their own), the
 * namespaces with their /etc/netns/<ns> files, the bridge and the temp dir.
 */
export async function teardownLab(lab: { procs: ChildProcess[]; nss: string[]; bridge: string; dir: string }): Promise<void> {
  const { procs, nss } = lab;
  for (const p of procs) if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) { try { p.kill('SIGTERM'); } catch { /* gone */ } }
  for (let i = 0; i < 40 && procs.some((p) => p.exitCode === null && p.signalCode === null); i++) await sleep(50);
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  for (const n of nss) { try { sh('ip', ['netns', 'pids', n]).split('\n').filter(Boolean).forEach((pid) => { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }); } catch { /* none */ } }
  for (const n of nss) { try { sh('ip', ['netns', 'del', n]); } catch { /* gone */ } rmSync(`/etc/netns/${n}`, { recursive: true, force: true }); }
  try { sh('ip', ['link', 'del', lab.bridge]); } catch { /* gone */ }
  rmSync(lab.dir, { recursive: true, force: true });
}
