/**
 * The inline lab, shared by test/inline-lab.test.ts and bench/bench-enforce.ts: three network
 * namespaces, office (10.77.1.2) → gateway (10.77.1.1 | 10.77.2.1, routing) → cloud (10.77.2.2)
 * with a TLS server (`openssl s_server -www`) on 443 and an HTTP server (python3) on 80.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SERVER = '10.77.2.2';

export interface Lab {
  office: string;
  gw: string;
  cloud: string;
  dir: string;
  servers: ChildProcess[];
  sh(ns: string, cmd: string[]): string;
  curl(url: string, host: string, port: number): { code: number; ms: number; stderr: string };
  close(): void;
}

/**
 * Whether this kernel's nf_tables has the `queue` expression (a probe table in a throwaway
 * namespace): tells which backend inline mode's `auto` will pick here.
 */
export function nftQueueSupported(): { ok: boolean; reason: string } {
  spawnSync('ip', ['netns', 'del', 'ol-probe']);
  spawnSync('ip', ['netns', 'add', 'ol-probe']);
  const r = spawnSync('ip', ['netns', 'exec', 'ol-probe', 'nft', '-f', '-'], { input: 'table inet probe {\n  chain c {\n    type filter hook forward priority 0;\n    queue num 1 bypass\n  }\n}\n', encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', 'ol-probe']);
  return { ok: r.status === 0, reason: r.status === 0 ? '' : (r.stderr || r.error?.message || '').trim().split('\n')[0]! };
}

export function createLab(prefix = 'ol', servers = true): Lab {
  const office = `${prefix}-office`, gw = `${prefix}-gw`, cloud = `${prefix}-cloud`;
  const sh = (ns: string, cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
  for (const ns of [office, gw, cloud]) { spawnSync('ip', ['netns', 'del', ns]); execFileSync('ip', ['netns', 'add', ns]); }
  execFileSync('ip', ['link', 'add', `${prefix}o0`, 'netns', office, 'type', 'veth', 'peer', 'name', `${prefix}g0`, 'netns', gw]);
  execFileSync('ip', ['link', 'add', `${prefix}g1`, 'netns', gw, 'type', 'veth', 'peer', 'name', `${prefix}c0`, 'netns', cloud]);
  const cmds: Array<[string, string]> = [
    [office, `ip addr add 10.77.1.2/24 dev ${prefix}o0`], [office, `ip link set ${prefix}o0 up`], [office, 'ip link set lo up'], [office, 'ip route add default via 10.77.1.1'],
    [gw, `ip addr add 10.77.1.1/24 dev ${prefix}g0`], [gw, `ip addr add 10.77.2.1/24 dev ${prefix}g1`], [gw, `ip link set ${prefix}g0 up`], [gw, `ip link set ${prefix}g1 up`], [gw, 'ip link set lo up'],
    [gw, 'sysctl -qw net.ipv4.ip_forward=1'],
    [cloud, `ip addr add ${SERVER}/24 dev ${prefix}c0`], [cloud, `ip link set ${prefix}c0 up`], [cloud, 'ip link set lo up'], [cloud, 'ip route add default via 10.77.2.1'],
  ];
  for (const [ns, c] of cmds) sh(ns, c.split(' '));
  const dir = mkdtempSync(join(tmpdir(), `outpost-${prefix}-lab-`));
  const procs: ChildProcess[] = [];
  if (servers) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=lab', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    procs.push(spawn('ip', ['netns', 'exec', cloud, 'openssl', 's_server', '-quiet', '-accept', '443', '-www', '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem')], { stdio: 'ignore' }));
    procs.push(spawn('ip', ['netns', 'exec', cloud, 'python3', '-m', 'http.server', '80', '--bind', SERVER, '--directory', dir], { stdio: 'ignore' }));
  }
  const curl = (url: string, host: string, port: number) => {
    const t0 = performance.now();
    const r = spawnSync('ip', ['netns', 'exec', office, 'curl', '-sS', '-k', '-o', '/dev/null', '--max-time', '5', '--resolve', `${host}:${port}:${SERVER}`, url], { encoding: 'utf8' });
    return { code: r.status ?? -1, ms: performance.now() - t0, stderr: r.stderr };
  };
  return {
    office, gw, cloud, dir, servers: procs, sh, curl,
    close() {
      for (const p of procs) p.kill('SIGKILL');
      for (const ns of [office, gw, cloud]) spawnSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
