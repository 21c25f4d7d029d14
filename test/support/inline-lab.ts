/**
 * The inline lab, shared by test/inline-lab.test.ts and bench/bench-enforce.ts: a gateway
 * namespace routing between an office bridge and a "cloud" namespace, as issue 18 draws it.
 *
 *   office-a (10.77.1.2, 02:77:01:00:00:0a) ─┐
 *                                             ├─ br-office (10.77.1.1) ─ gateway ─ (10.77.2.1) ─ cloud (10.77.2.2)
 *   office-b (10.77.1.3, 02:77:01:00:00:0b) ─┘   (routing, ip_forward=1)
 *
 * The bridge lives in the gateway namespace and carries the gateway's office address, so the
 * office hosts' traffic to the cloud is routed (it passes the IPv4 FORWARD hook once) and their
 * frames reach the gateway with their own source MACs (what the queued packet's hardware address
 * and a capture on the bridge show). The gateway's bridge-nf-call-{ip,ip6,arp}tables are set to 0:
 * br_netfilter is not needed for routed traffic, and with it on the bridge would also hand
 * office-to-office frames to the IP hooks (test/inline-lab.test.ts measures both). The cloud
 * namespace runs a TLS server (`openssl s_server -www`) on 443 and an HTTP server (python3) on 80.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SERVER = '10.77.2.2';

/** An office host: its namespace, its address on the office bridge and its interface's MAC. */
export interface OfficeHost { ns: string; ip: string; mac: string }

/** The office bridge in the gateway namespace (the office side of the gateway). */
export const BRIDGE = 'br-office';
/** The gateway's office address (on the bridge). */
export const GATEWAY_OFFICE_IP = '10.77.1.1';

export interface Lab {
  /** office-a's namespace: the office host of the checks that need only one. */
  office: string;
  /** The two office hosts on the bridge, distinct MACs and addresses. */
  officeA: OfficeHost;
  officeB: OfficeHost;
  gw: string;
  cloud: string;
  dir: string;
  servers: ChildProcess[];
  sh(ns: string, cmd: string[]): string;
  /** curl from an office host (office-a unless `from` names another namespace). */
  curl(url: string, host: string, port: number, from?: string): { code: number; ms: number; stderr: string };
  /** The same, without waiting: for requests that must be made at the same time. */
  curlAsync(url: string, host: string, port: number, from?: string): Promise<{ code: number; ms: number; stderr: string }>;
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

/**
 * Turns the bridge netfilter calls (br_netfilter's bridge-nf-call-iptables, -ip6tables,
 * -arptables; per network namespace) on or off in `ns`.
 */
export function setBridgeNetfilter(ns: string, on: boolean): void {
  const v = on ? '1' : '0';
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${v}`, `net.bridge.bridge-nf-call-ip6tables=${v}`, `net.bridge.bridge-nf-call-arptables=${v}`]);
}

export function createLab(prefix = 'ol', servers = true): Lab {
  const gw = `${prefix}-gw`, cloud = `${prefix}-cloud`;
  const officeA: OfficeHost = { ns: `${prefix}-office-a`, ip: '10.77.1.2', mac: '02:77:01:00:00:0a' };
  const officeB: OfficeHost = { ns: `${prefix}-office-b`, ip: '10.77.1.3', mac: '02:77:01:00:00:0b' };
  const office = officeA.ns;
  const namespaces = [officeA.ns, officeB.ns, gw, cloud];
  const sh = (ns: string, cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
  for (const ns of namespaces) { spawnSync('ip', ['netns', 'del', ns]); execFileSync('ip', ['netns', 'add', ns]); }
  const cmds: Array<[string, string]> = [
    // The office bridge first, with a fixed MAC (a bridge otherwise takes its lowest port's) and
    // the bridge netfilter calls off in this namespace (they default to 1 where br_netfilter is
    // loaded or built in): the routed traffic under test must not depend on them.
    [gw, `ip link add ${BRIDGE} type bridge`], [gw, `ip link set ${BRIDGE} address 02:77:01:00:00:01`],
    [gw, `ip addr add ${GATEWAY_OFFICE_IP}/24 dev ${BRIDGE}`], [gw, `ip link set ${BRIDGE} up`],
    [gw, `ip addr add 10.77.2.1/24 dev ${prefix}g1`], [gw, `ip link set ${prefix}g1 up`], [gw, 'ip link set lo up'],
    [gw, 'sysctl -qw net.ipv4.ip_forward=1'],
    [cloud, `ip addr add ${SERVER}/24 dev ${prefix}c0`], [cloud, `ip link set ${prefix}c0 up`], [cloud, 'ip link set lo up'], [cloud, 'ip route add default via 10.77.2.1'],
  ];
  execFileSync('ip', ['link', 'add', `${prefix}g1`, 'netns', gw, 'type', 'veth', 'peer', 'name', `${prefix}c0`, 'netns', cloud]);
  for (const [ns, c] of cmds) sh(ns, c.split(' '));
  // Absent (no br_netfilter in the kernel) means the bridge never calls the IP hooks: nothing to turn off.
  if (existsSync('/proc/sys/net/bridge')) setBridgeNetfilter(gw, false);
  // Each office host: eth0 in its namespace, the peer (<prefix>a0, <prefix>b0) a port of the bridge.
  for (const [h, port] of [[officeA, `${prefix}a0`], [officeB, `${prefix}b0`]] as const) {
    execFileSync('ip', ['link', 'add', 'eth0', 'netns', h.ns, 'address', h.mac, 'type', 'veth', 'peer', 'name', port, 'netns', gw]);
    for (const c of [`ip link set ${port} master ${BRIDGE}`, `ip link set ${port} up`]) sh(gw, c.split(' '));
    for (const c of [`ip addr add ${h.ip}/24 dev eth0`, 'ip link set eth0 up', 'ip link set lo up', `ip route add default via ${GATEWAY_OFFICE_IP}`]) sh(h.ns, c.split(' '));
  }
  const dir = mkdtempSync(join(tmpdir(), `outpost-${prefix}-lab-`));
  const procs: ChildProcess[] = [];
  if (servers) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=lab', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    procs.push(spawn('ip', ['netns', 'exec', cloud, 'openssl', 's_server', '-quiet', '-accept', '443', '-www', '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem')], { stdio: 'ignore' }));
    procs.push(spawn('ip', ['netns', 'exec', cloud, 'python3', '-m', 'http.server', '80', '--bind', SERVER, '--directory', dir], { stdio: 'ignore' }));
  }
  const curlArgs = (url: string, host: string, port: number, from: string) => ['netns', 'exec', from, 'curl', '-sS', '-k', '-o', '/dev/null', '--max-time', '5', '--resolve', `${host}:${port}:${SERVER}`, url];
  const curl = (url: string, host: string, port: number, from = office) => {
    const t0 = performance.now();
    const r = spawnSync('ip', curlArgs(url, host, port, from), { encoding: 'utf8' });
    return { code: r.status ?? -1, ms: performance.now() - t0, stderr: r.stderr };
  };
  const curlAsync = (url: string, host: string, port: number, from = office) => new Promise<{ code: number; ms: number; stderr: string }>((res) => {
    const t0 = performance.now();
    const p = spawn('ip', curlArgs(url, host, port, from), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    p.on('close', (code) => res({ code: code ?? -1, ms: performance.now() - t0, stderr }));
  });
  return {
    office, officeA, officeB, gw, cloud, dir, servers: procs, sh, curl, curlAsync,
    close() {
      for (const p of procs) p.kill('SIGKILL');
      // Deleting the gateway's namespace deletes the bridge and every veth with it.
      for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
