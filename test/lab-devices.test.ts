/**
 * Branch office in network namespaces, watched by the real daemon (`outpost run`, src/cli.ts
 * through tsx, so no build is needed): a bridge, a gateway namespace running dnsmasq (DHCP +
 * DNS), clients with distinct MACs taking leases with udhcpc under distinct host names, one of
 * them running the Outpost agent (appliance/agent) with a logged-on user, and a "cloud"
 * namespace serving HTTPS (openssl s_server) and HTTP.
 *
 * The daemon captures live on the bridge with devices on and events on stdout (to a file). The
 * agent is enrolled through the daemon's admin API (admin token, the agent's `enroll` command run
 * on the gateway) and posts its heartbeat over HTTPS to the daemon's agent listener on the
 * bridge address (devices.agentListener, self-signed certificate passed with --ca); a forged and
 * a stale heartbeat from the LAN are refused and counted. From the emitted Network Activity
 * events: every flow from a client maps to that client's host name and MAC, the agent's flows
 * (after its heartbeat) to its user, its flows before the heartbeat and nobody else's to a user;
 * flows from the gateway/cloud/bridge addresses to their MACs. The only flows without a device are
 * DHCP from 0.0.0.0 and flows from a gateway/cloud/bridge address before any client talked to it
 * (those addresses are known from ARP only). Scenario 2 hands one address to device D, then (after
 * D's DHCPRELEASE, sent by udhcpc -R on SIGTERM and seen by dnsmasq) to device E: flows before and
 * after map to the right one, and the RELEASE is a DHCP Activity event (live and in replay).
 *
 * DHCP Activity and Device Inventory Info events are on too: one DHCP ACK per lease with the
 * client's MAC, assigned address, host name and dnsmasq's lease time; one device per client whose
 * inventory lists its MAC, address and host name together; all valid OCSF 1.8.0 (when the schema
 * is there). DNS Activity is on as well: every lookup of a client names its device, MAC and (the
 * agent's host, after its heartbeat) its user, and carries the connection_info.uid of its flow;
 * every DHCP event names its client's device; the agent's host's inventory for its user's logon
 * names alice as actor and owner and is managed.
 *
 * tcpdump records the bridge at the same time; `outpost replay --with devices --emit
 * network,dhcp,inventory` of that capture must give the same flows with the same host names and
 * MACs, and the same DHCP and inventory events. Users are not compared for the
 * replay: they come only from the agent's heartbeat, which travels inside TLS, so a capture
 * cannot reproduce them (replay has no agent input), and the replay must show no user at all.
 *
 * Restart: the daemon is stopped and started again on the same dataDir; flows from clients that
 * send no new DHCP or agent traffic still map to their devices, the agent's to its user (the
 * LMDB device store), and the agent's next heartbeat is accepted with the secret it was enrolled
 * with (enrollment persisted).
 *
 * Every wait is bounded; processes, namespaces and the bridge are removed in `finally`. Skips with
 * a message when not root or a binary is missing. OUTPOST_LAB_DEBUG=1 prints every step and flow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, mkdirSync, existsSync, readFileSync, statSync } from 'node:fs';
import { utmpRecords } from './support/utmp.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { createToken } from '../src/api/auth.js';
import { addLabHost, newLab, spawnLabDaemon, startCapture, stopLabDaemon, teardownLab, type LabDaemon } from './support/lab-net.js';
import { loadOcsfSchema } from './support/ocsf-schema.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const AGENT = join(ROOT, 'appliance/agent/outpost-agent.mjs');
const debug = (s: string) => { if (process.env.OUTPOST_LAB_DEBUG) console.error(`[lab] ${s}`); };
const OCSF_DIR = join(ROOT, '../shared/reference/ocsf-1.8.0');
/** dnsmasq's lease time (--dhcp-range), which every ACK must carry as lease_dur. */
const LEASE_S = 600;

function which(bin: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }); return true; } catch { return false; }
}
const BINS = ['ip', 'dnsmasq', 'udhcpc', 'openssl', 'curl', 'who', 'unshare', 'tcpdump', 'sysctl'];
const missing = BINS.filter((b) => !which(b));
const skip = process.getuid?.() !== 0 ? 'lab test needs root (network namespaces, live capture)'
  : missing.length > 0 ? `lab test needs ${missing.join(', ')} (apt-get install iproute2 dnsmasq-base udhcpc openssl curl tcpdump procps)`
    : false;

const sh = (cmd: string, args: string[], opts: { timeout?: number } = {}): string => execFileSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunningDaemon extends LabDaemon { apiUrl: string; agentUrl: string }

async function startDaemon(configPath: string, eventsFile: string, procs: ChildProcess[]): Promise<RunningDaemon> {
  const d = await spawnLabDaemon(configPath, eventsFile, procs);
  let apiUrl = '', agentUrl = '';
  for (const line of d.stderr().split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; address?: string };
    if (l.msg === 'admin API listening') apiUrl = l.address ?? '';
    if (l.msg === 'agent listener listening') agentUrl = l.address ?? '';
  }
  assert.ok(apiUrl && agentUrl, `daemon came up with its admin API and agent listener within 30 s (exit ${d.proc.exitCode}); stderr:\n${d.stderr()}`);
  return { ...d, apiUrl, agentUrl };
}

const stopDaemon = stopLabDaemon;

test('lab: the daemon maps every flow to its device host name and MAC, the agent\'s flows to its user (HTTPS agent listener); an address moving from D to E; replay agrees; a restart keeps identities', { skip, timeout: 120_000 }, async () => {
  const { id, net, br, dir, procs, nss, ns } = newLab({ firstOctet: 77, octetSpan: 100, brPrefix: 'obr', nsPrefix: 'ol', tmpPrefix: 'outpost-lab-' });
  const aexec = async (n: string, args: string[], timeout = 20_000): Promise<string> => {
    debug(`${n}: ${args.join(' ')}`);
    return (await run('ip', ['netns', 'exec', ns(n), ...args], { timeout, encoding: 'utf8' })).stdout;
  };
  const bg = (n: string, args: string[]) => {
    const p = spawn('ip', ['netns', 'exec', ns(n), ...args], { stdio: 'ignore' });
    procs.push(p);
    return p;
  };
  const macs: Record<string, string> = { gw: '00:16:3e:77:00:fe', cloud: '00:16:3e:77:00:c8', a: '00:16:3e:77:00:0a', b: '00:16:3e:77:00:0b', c: '00:16:3e:77:00:0c', d: '00:16:3e:77:00:0d', e: '00:16:3e:77:00:0e' };
  const host: Record<string, string> = { a: 'alpha', b: 'bravo', c: 'charlie', d: 'delta', e: 'echo' };
  let daemon: RunningDaemon | null = null;
  let tcpdump: ChildProcess | null = null;
  try {
    // ---- network (IPv4 only: no link-local IPv6 chatter, so every flow is one the test made) ----
    sh('ip', ['link', 'add', br, 'type', 'bridge']);
    sh('sysctl', ['-qw', `net.ipv6.conf.${br}.disable_ipv6=1`]);
    sh('ip', ['addr', 'add', `${net}.2/24`, 'dev', br]);
    sh('ip', ['link', 'set', br, 'up']);
    for (const n of Object.keys(macs)) {
      addLabHost({ ns: ns(n), hostIf: `ov${id}${n}`, bridge: br, mac: macs[n]! }, nss);
      mkdirSync(`/etc/netns/${ns(n)}`, { recursive: true });
      writeFileSync(`/etc/netns/${ns(n)}/resolv.conf`, `nameserver ${net}.1\n`);
    }
    sh('ip', ['netns', 'exec', ns('gw'), 'ip', 'addr', 'add', `${net}.1/24`, 'dev', 'eth0']);
    sh('ip', ['netns', 'exec', ns('cloud'), 'ip', 'addr', 'add', `${net}.200/24`, 'dev', 'eth0']);
    const brMac = readFileSync(`/sys/class/net/${br}/address`, 'utf8').trim();

    // ---- services ----------------------------------------------------------------------------
    // One self-signed certificate for the bridge address (agent listener) and app.cloud.test.
    const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
    sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${net}.2`, '-addext', `subjectAltName=IP:${net}.2,DNS:app.cloud.test`,
      '-keyout', key, '-out', cert]);
    bg('gw', ['dnsmasq', '-k', '-u', 'root', `--log-facility=${join(dir, 'dnsmasq.log')}`, '--log-dhcp', '--conf-file=/dev/null', '--interface=eth0', '--bind-interfaces', '--no-resolv', '--no-hosts',
      `--dhcp-range=${net}.50,${net}.99,255.255.255.0,${LEASE_S}`, `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      `--address=/app.cloud.test/${net}.200`, `--dhcp-host=${macs.d},${macs.e},${net}.60`, '--dhcp-authoritative', '--no-ping']);
    bg('cloud', ['openssl', 's_server', '-quiet', '-accept', '443', '-www', '-cert', cert, '-key', key]);
    bg('cloud', [process.execPath, '-e', "require('http').createServer((q,s)=>s.end('ok')).listen(80)"]);
    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\ncase "$1" in\n bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface";;\n deconfig) ip addr flush dev "$interface";;\nesac\n', { mode: 0o755 });
    // A logged-on domain user (SSSD's fully qualified name) in a utmp file read by `who`.
    writeFileSync(join(dir, 'utmp'), utmpRecords([{ user: 'alice@corp.example', line: 'pts/3' }]));

    // ---- the daemon's configuration: live capture on the bridge, agent listener on its address --
    const admin = createToken('admin');
    writeFileSync(join(dir, 'admin-token'), admin.token, { mode: 0o600 });
    const configPath = join(dir, 'outpost.yaml');
    writeFileSync(configPath, stringify({
      dataDir: join(dir, 'data'),
      logLevel: 'info',
      capture: { interfaces: [br], bufferTimeoutMs: 10 },
      api: { host: '127.0.0.1', port: 0, tokens: [{ name: 'lab', role: 'admin', sha256: admin.sha256 }] },
      events: { emit: ['network', 'dns', 'dhcp', 'inventory'], stdout: true },
      devices: { enabled: true, agentListener: { enabled: true, host: `${net}.2`, port: 0, tlsCertFile: cert, tlsKeyFile: key } },
      // Not under test here; its catalog is someone else's moving part.
      discovery: { enabled: false },
    }), { mode: 0o600 });

    // ---- record the bridge (for the replay) and start the daemon -------------------------------
    const pcapFile = join(dir, 'bridge.pcap');
    tcpdump = await startCapture(br, pcapFile, procs);
    daemon = await startDaemon(configPath, join(dir, 'events-1.ndjson'), procs);
    debug(`daemon 1: admin ${daemon.apiUrl}, agents ${daemon.agentUrl}`);
    assert.match(daemon.agentUrl, new RegExp(`^https://${net.replace(/\./g, '\\.')}\\.2:\\d+$`));
    const metrics = async (d: RunningDaemon): Promise<Record<string, number>> => {
      const r = await fetch(`${d.apiUrl}/metrics`, { headers: { authorization: `Bearer ${admin.token}` }, signal: AbortSignal.timeout(5000) });
      const out: Record<string, number> = {};
      for (const m of (await r.text()).matchAll(/^outpost_agents_(\w+?)(?:_total)? (\d+)$/gm)) out[m[1]!] = Number(m[2]);
      return out;
    };

    // Enrollment through the daemon's admin API (loopback, admin token), as an administrator on
    // the gateway would do it; the secret file is then the agent's.
    const secretFile = join(dir, 'secret');
    await run(process.execPath, [AGENT, 'enroll', '--admin', daemon.apiUrl, '--agent-id', 'lab-agent', '--secret-file', secretFile, '--token-file', join(dir, 'admin-token')], { timeout: 15_000 });
    const heartbeat = async (gateway: string) => aexec('c', ['unshare', '--uts', 'sh', '-c',
      `hostname charlie && ${process.execPath} ${AGENT} heartbeat --gateway ${gateway} --ca ${cert} --agent-id lab-agent --secret-file ${secretFile} --utmp ${join(dir, 'utmp')} --once`]);

    // a, c and e send their host name (option 12) without asking for one back, as Windows does
    // (its option 55 has no 12), so dnsmasq's ACK carries none: the ACK event must take the name
    // from the client's REQUEST. b and d ask for it (udhcpc's default list), and dnsmasq echoes it.
    const noNameBack = (n: string) => n === 'a' || n === 'c' || n === 'e' ? ['-o', '-O', 'subnet', '-O', 'router', '-O', 'dns'] : [];
    const lease = (n: string, extra: string[] = []) => aexec(n, ['udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-x', `hostname:${host[n]}`, ...noNameBack(n), '-s', script, ...extra], 15_000);
    const addrOf = async (n: string) => /inet (\d+\.\d+\.\d+\.\d+)/.exec(await aexec(n, ['ip', '-4', 'addr', 'show', 'dev', 'eth0']))?.[1];
    const browse = async (n: string) => {
      await aexec(n, ['curl', '-sk', '--max-time', '5', '-o', '/dev/null', 'https://app.cloud.test/']);
      await aexec(n, ['curl', '-s', '--max-time', '5', '-o', '/dev/null', 'http://app.cloud.test/']);
    };
    const addr: Record<string, string> = {};
    for (const n of ['a', 'b', 'c']) { await lease(n); addr[n] = (await addrOf(n))!; assert.ok(addr[n], `${n} has no lease`); }
    // A flow of the agent's host before its first heartbeat: it must carry no user.
    await aexec('c', ['getent', 'ahostsv4', 'app.cloud.test']);
    // Its DNS query is in the daemon's flow table before the heartbeat goes (a loaded machine may
    // have the capture a little behind): the check below needs that flow to have come first.
    const udpFlowsOfC = async () => {
      const r = await fetch(`${daemon!.apiUrl}/v1/flows?ip=${addr.c}&protocol=udp&port=53`, { headers: { authorization: `Bearer ${admin.token}` }, signal: AbortSignal.timeout(5000) });
      return ((await r.json()) as { items: unknown[] }).items;
    };
    for (let i = 0; i < 50 && (await udpFlowsOfC()).length === 0; i++) await sleep(100);
    assert.ok((await udpFlowsOfC()).length > 0, 'the agent\'s host\'s DNS query reached the daemon\'s flow table');
    const heartbeatStartMs = Date.now();
    // The agent on c (own UTS namespace so it reports its own host name), over HTTPS to the
    // agent listener on the bridge address.
    await heartbeat(daemon.agentUrl);
    const heartbeatDoneMs = Date.now();
    // A forged and a stale heartbeat from the LAN: refused with a 4xx and counted.
    const forge = async (ts: number, sig: string) => (await aexec('c', ['curl', '-s', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', cert,
      '-H', 'content-type: application/json', '-H', 'x-outpost-agent: lab-agent', '-H', `x-outpost-timestamp: ${ts}`, '-H', `x-outpost-nonce: ${randomBytes(12).toString('base64url')}`,
      '-H', `x-outpost-signature: ${sig}`, '--data', '{"agentId":"lab-agent","users":[{"name":"mallory"}]}', `${daemon!.agentUrl}/v1/agents/heartbeat`])).trim();
    assert.equal(await forge(Date.now(), '0'.repeat(64)), '401', 'forged heartbeat refused');
    const { signHeartbeat } = await import('../src/devices/agent-routes.js');
    const staleTs = String(Date.now() - 3_600_000), staleNonce = 'stale-nonce-000000001';
    const staleSig = signHeartbeat(readFileSync(secretFile, 'utf8').trim(), staleTs, staleNonce, '{"agentId":"lab-agent"}');
    const stale = (await aexec('c', ['curl', '-s', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', cert,
      '-H', 'content-type: application/json', '-H', 'x-outpost-agent: lab-agent', '-H', `x-outpost-timestamp: ${staleTs}`, '-H', `x-outpost-nonce: ${staleNonce}`,
      '-H', `x-outpost-signature: ${staleSig}`, '--data', '{"agentId":"lab-agent"}', `${daemon.agentUrl}/v1/agents/heartbeat`])).trim();
    assert.equal(stale, '401', 'stale heartbeat refused');
    const m1 = await metrics(daemon);
    assert.deepEqual([m1.enrolled, m1.heartbeats_accepted, m1.refused_forged, m1.refused_stale], [1, 1, 1, 1], `agent counters ${JSON.stringify(m1)}`);

    for (const n of ['a', 'b', 'c']) await browse(n);
    // Scenario 2: D holds .60, browses, releases; E gets .60 and browses. D's client keeps
    // running (no -q) so that SIGTERM with -R sends a real DHCPRELEASE (busybox udhcpc sends none
    // when -q makes it quit after the lease); the test waits until dnsmasq logged it.
    const dClient = bg('d', ['udhcpc', '-i', 'eth0', '-f', '-n', '-t', '5', '-T', '1', '-R', '-x', `hostname:${host.d}`, '-s', script]);
    for (let i = 0; i < 100 && (await addrOf('d')) === undefined; i++) await sleep(100);
    assert.equal(await addrOf('d'), `${net}.60`);
    await browse('d');
    await sleep(200);
    const movedAtMs = Date.now();
    dClient.kill('SIGTERM');
    const released = () => existsSync(join(dir, 'dnsmasq.log')) && readFileSync(join(dir, 'dnsmasq.log'), 'utf8').includes(`DHCPRELEASE(eth0) ${net}.60 ${macs.d}`);
    for (let i = 0; i < 100 && !released(); i++) await sleep(50);
    assert.ok(released(), 'dnsmasq logged D\'s DHCPRELEASE of .60');
    await aexec('d', ['ip', 'addr', 'flush', 'dev', 'eth0']);
    await sleep(200);
    await lease('e');
    assert.equal(await addrOf('e'), `${net}.60`);
    addr.e = `${net}.60`;
    await browse('e');
    // The recording ends (once the file stopped growing) before the daemon stops, so both saw
    // the same traffic.
    for (let i = 0, last = -1; i < 40; i++) { await sleep(100); const size = statSync(pcapFile).size; if (size === last) break; last = size; }
    tcpdump.kill('SIGINT');
    for (let i = 0; i < 100 && tcpdump.exitCode === null; i++) await sleep(50);
    assert.notEqual(tcpdump.exitCode, null, 'tcpdump stopped');
    const events1 = await stopDaemon(daemon);
    daemon = null;

    // ---- checks ------------------------------------------------------------------------------
    const infra: Record<string, string> = { [`${net}.1`]: macs.gw!, [`${net}.200`]: macs.cloud!, [`${net}.2`]: brMac };
    const isDhcp = (f: Ev) => f.connection_info?.protocol_num === 17 && [67, 68].some((p) => f.src_endpoint.port === p || f.dst_endpoint.port === p);
    /**
     * Every Network Activity flow. Exactly two kinds may lack a device: DHCP from 0.0.0.0 (a
     * client before its lease; RFC 2131 §4.1) and flows from the gateway, cloud or bridge address
     * that started before any client sent it a flow — those addresses are known from ARP only,
     * and a client's ARP exchange for one precedes its first packet to it (e.g. dnsmasq's first
     * ACKs, sent before any client asked the gateway anything). With a device, those map to their
     * own MAC. Every other flow comes from a lab DHCP client and has its device: DHCP from a
     * client address (renewals, releases) one of the clients that held the address (D's RELEASE
     * straddles the move), other flows its host name and MAC. Users: with `users`, the agent's
     * flows started at or after `fromMs` carry alice and those before `noneBeforeMs` (before its
     * first heartbeat) none; no other flow has a user; without — no flow has a user. Returns one
     * line per client flow, for comparisons.
     */
    const check = (evs: Ev[], label: string, users: { fromMs: number; noneBeforeMs: number } | null) => {
      const flows = evs.filter((e) => e.class_uid === 4001);
      const rows: string[] = [];
      const web: Record<string, number> = {};
      const firstAskedMs: Record<string, number> = {};
      for (const f of flows) {
        const src = f.src_endpoint.ip as string, dst = f.dst_endpoint.ip as string;
        if (infra[dst] !== undefined && infra[src] === undefined && src !== '0.0.0.0') firstAskedMs[dst] = Math.min(firstAskedMs[dst] ?? Infinity, f.start_time);
      }
      for (const f of flows) {
        const ip = f.src_endpoint.ip as string;
        debug(`${label} ${ip}:${f.src_endpoint.port} > ${f.dst_endpoint.ip}:${f.dst_endpoint.port}/${f.connection_info?.protocol_num} @${f.start_time} ${f.device?.hostname} ${f.device?.mac} ${f.actor?.user?.name ?? ''}`);
        const where = `${label}: ${ip}:${f.src_endpoint.port} > ${f.dst_endpoint.ip}:${f.dst_endpoint.port} at ${f.start_time}`;
        if (ip === '0.0.0.0') {
          assert.ok(isDhcp(f), `${where}: only DHCP comes from 0.0.0.0`);
          assert.equal(f.device, undefined, where);
          assert.equal(f.actor?.user, undefined, where);
          continue;
        }
        if (infra[ip] !== undefined) {
          if (f.device !== undefined) assert.equal(f.device.mac, infra[ip], where);
          else assert.ok(f.start_time < (firstAskedMs[ip] ?? Infinity), `${where}: no device, though a client had already talked to ${ip} (${firstAskedMs[ip]})`);
          assert.equal(f.actor?.user, undefined, where);
          continue;
        }
        assert.ok(f.device !== undefined, `${where}: a flow from a lab DHCP client without a device`);
        if (isDhcp(f)) {
          const holders = ip === `${net}.60` ? ['d', 'e'] : Object.keys(addr).filter((n) => addr[n] === ip);
          assert.ok(holders.some((n) => f.device.mac === macs[n]), `${where}: DHCP from a client address maps to a client that held it (${f.device.mac})`);
          continue;
        }
        const who = ip === `${net}.60` ? (f.start_time < movedAtMs ? 'd' : 'e') : Object.keys(addr).find((n) => addr[n] === ip);
        assert.ok(who !== undefined, `${where}: flow from an unknown address`);
        assert.equal(f.device?.hostname, host[who], where);
        assert.equal(f.device?.mac, macs[who], where);
        if (users !== null && who === 'c') {
          if (f.start_time >= users.fromMs) {
            assert.equal(f.actor?.user?.name, 'alice', `${where}: the agent's user`);
            assert.equal(f.actor?.user?.domain, 'corp.example', `${where}: the user's domain`);
            assert.equal(f.actor?.user?.uid_alt, 'alice@corp.example', `${where}: the user's UPN`);
          } else if (f.start_time < users.noneBeforeMs) assert.equal(f.actor?.user, undefined, `${where}: no user before the agent's first heartbeat`);
        } else assert.equal(f.actor?.user, undefined, `${where}: no user`);
        if (f.dst_endpoint.ip === `${net}.200` && (f.dst_endpoint.port === 443 || f.dst_endpoint.port === 80)) web[who] = (web[who] ?? 0) + 1;
        rows.push(`${ip}:${f.src_endpoint.port}>${f.dst_endpoint.ip}:${f.dst_endpoint.port}/${f.connection_info?.protocol_num} ${f.device?.hostname} ${f.device?.mac}`);
      }
      return { rows: rows.sort(), web };
    };
    const live = check(events1, 'live', { fromMs: heartbeatDoneMs, noneBeforeMs: heartbeatStartMs });
    assert.deepEqual(live.web, { a: 2, b: 2, c: 2, d: 2, e: 2 }, 'an HTTPS and an HTTP flow from every client');
    assert.ok(events1.some((f) => f.class_uid === 4001 && f.src_endpoint.ip === addr.c && f.dst_endpoint.ip === `${net}.2`), 'the agent\'s heartbeat flow to the listener was captured too');
    const agentFlows = events1.filter((f) => f.class_uid === 4001 && f.src_endpoint.ip === addr.c && !isDhcp(f)).sort((x, y) => x.start_time - y.start_time);
    assert.ok(agentFlows.some((f) => f.start_time < heartbeatStartMs), `the agent's host had a flow before its first heartbeat (${heartbeatStartMs}); its flows: ${agentFlows.map((f) => `${f.start_time} ${f.dst_endpoint.ip}:${f.dst_endpoint.port}/${f.connection_info?.protocol_num}`).join(', ')}`);
    // The heartbeat's own connection opened before the heartbeat it carries was accepted (the
    // user's span starts then): no user either.
    const heartbeatFlow = agentFlows.find((f) => f.dst_endpoint.ip === `${net}.2`)!;
    assert.ok(heartbeatFlow.start_time < heartbeatDoneMs, 'the first flow to the listener is the heartbeat');
    assert.equal(heartbeatFlow.actor?.user, undefined, 'the heartbeat\'s own flow has no user');

    /**
     * DHCP Activity: exactly one ACK per lease the clients took, each with the client's MAC, assigned address, the host name it asked with and
     * dnsmasq's lease time, answering a REQUEST of that client with the same xid. Device
     * Inventory Info: exactly one new device per client, and an inventory listing its MAC,
     * address and host name together; no device that is not on the bridge. Valid OCSF 1.8.0.
     */
    const leases: Array<[string, string]> = [['a', addr.a!], ['b', addr.b!], ['c', addr.c!], ['d', `${net}.60`], ['e', `${net}.60`]];
    const ocsf = existsSync(OCSF_DIR) ? loadOcsfSchema(OCSF_DIR) : null;
    const checkIdentityEvents = (evs: Ev[], label: string): string[] => {
      const dhcp = evs.filter((e) => e.class_uid === 4004);
      const acks = dhcp.filter((e) => e.activity_id === 5);
      const row = (e: Ev) => JSON.stringify([e.src_endpoint.mac, e.src_endpoint.ip, e.src_endpoint.hostname, e.lease_dur]);
      assert.deepEqual(acks.map(row).sort(), leases.map(([n, ip]) => JSON.stringify([macs[n], ip, host[n], LEASE_S])).sort(), `${label}: one DHCP ACK per lease`);
      for (const a of acks) {
        assert.ok(dhcp.some((e) => e.activity_id === 3 && e.transaction_uid === a.transaction_uid && e.src_endpoint.mac === a.src_endpoint.mac), `${label}: ACK ${a.transaction_uid} answers a REQUEST of ${a.src_endpoint.mac}`);
      }
      // D's RELEASE (RFC 2131 §4.4.6: the client's address in ciaddr), the one release of the lab.
      const releases = dhcp.filter((e) => e.activity_id === 7).map((e) => JSON.stringify([e.src_endpoint.mac, e.src_endpoint.ip]));
      assert.deepEqual(releases, [JSON.stringify([macs.d, `${net}.60`])], `${label}: D's DHCPRELEASE of .60`);
      const inv = evs.filter((e) => e.class_uid === 5001);
      const onBridge = new Set([...Object.values(macs), brMac]);
      for (const e of inv) assert.ok(onBridge.has(e.device.mac), `${label}: inventory of a device not on the bridge: ${e.device.mac}`);
      const clients: Array<[string, string]> = [...Object.entries(addr), ['d', `${net}.60`]];
      for (const [n, ip] of clients) {
        assert.equal(inv.filter((e) => e.unmapped?.change === 'new' && e.device.mac === macs[n]).length, 1, `${label}: one device for ${n}`);
        assert.ok(inv.some((e) => e.device.mac === macs[n] && (e.device.network_interfaces ?? []).some((i: Ev) => i.mac === macs[n] && i.ip === ip && i.hostname === host[n])),
          `${label}: an inventory of ${n} with its MAC, ${ip} and ${host[n]}`);
      }
      if (ocsf !== null) for (const e of [...dhcp, ...inv]) assert.deepEqual(ocsf.validate(e), [], `${label}: ${JSON.stringify(e).slice(0, 400)}`);
      return acks.map(row).sort();
    };
    const liveAcks = checkIdentityEvents(events1, 'live');

    /**
     * Context on every class: each DNS lookup of a client names the client's device and MAC (and
     * alice for the agent's host once its heartbeat was accepted, nobody before) and carries the
     * connection_info.uid of the UDP flow it travelled in; each DHCP event names its client's
     * device by MAC; the agent's host's inventory names alice (its owner) and is managed.
     */
    const flowUid = new Map<string, string>();
    const tuple = (e: Ev) => `${e.src_endpoint.ip}:${e.src_endpoint.port}>${e.dst_endpoint.ip}:${e.dst_endpoint.port}/${e.connection_info.protocol_num}`;
    for (const f of events1) if (f.class_uid === 4001) flowUid.set(tuple(f), f.connection_info.uid);
    const lookups = events1.filter((e) => e.class_uid === 4003);
    assert.ok(lookups.length >= 10, `DNS events: ${lookups.length}`);
    for (const e of lookups) {
      const ip = e.src_endpoint.ip as string;
      const where = `live DNS ${tuple(e)} at ${e.time}`;
      const who = ip === `${net}.60` ? (e.time < movedAtMs ? 'd' : 'e') : Object.keys(addr).find((n) => addr[n] === ip);
      assert.ok(who !== undefined, `${where}: from a lab client`);
      assert.equal(e.device?.hostname, host[who], where);
      assert.equal(e.device?.mac, macs[who], where);
      assert.equal(e.src_endpoint.mac, macs[who], where);
      assert.match(e.connection_info.uid, /^C[0-9A-Za-z]{17}$/, where);
      assert.equal(e.connection_info.uid, flowUid.get(tuple(e)), `${where}: joins its flow`);
      if (who === 'c' && e.time >= heartbeatDoneMs) assert.equal(e.actor?.user?.name, 'alice', where);
      else if (who !== 'c' || e.time < heartbeatStartMs) assert.equal(e.actor?.user, undefined, where);
    }
    for (const e of events1.filter((x) => x.class_uid === 4004)) {
      assert.ok(e.device?.uid, `live DHCP ${e.activity_name} ${e.src_endpoint.mac} names its device`);
      assert.equal(e.device.mac, e.src_endpoint.mac);
    }
    const cInv = events1.filter((e) => e.class_uid === 5001 && e.device.mac === macs.c && e.unmapped?.change === 'user');
    assert.equal(cInv.length, 1, 'one inventory of the agent\'s host for alice\'s logon');
    assert.deepEqual([cInv[0]!.actor?.user?.name, cInv[0]!.device.owner?.name, cInv[0]!.device.is_managed], ['alice', 'alice', true]);
    if (ocsf !== null) for (const e of lookups) assert.deepEqual(ocsf.validate(e), [], `live: ${JSON.stringify(e).slice(0, 400)}`);

    // ---- replay of the tcpdump recording: the same devices --------------------------------------
    const replayed = (await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'replay', pcapFile, '--with', 'devices', '--emit', 'network,dhcp,inventory', '--config', configPath],
      { cwd: ROOT, timeout: 30_000, encoding: 'utf8', maxBuffer: 64 << 20 })).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
    const again = check(replayed, 'replay', null);
    assert.deepEqual(again.rows, live.rows, 'replay: same flows, same host names and MACs');
    assert.deepEqual(checkIdentityEvents(replayed, 'replay'), liveAcks, 'replay: the same DHCP ACKs');

    // ---- restart: identities (and the enrollment) survive in LMDB ------------------------------
    daemon = await startDaemon(configPath, join(dir, 'events-2.ndjson'), procs);
    debug(`daemon 2: admin ${daemon.apiUrl}, agents ${daemon.agentUrl}`);
    const restartedMs = Date.now();
    // No DHCP, no agent heartbeat before these flows: only what the store kept can name them.
    for (const n of ['c', 'a', 'e']) await browse(n);
    await heartbeat(daemon.agentUrl);
    const m2 = await metrics(daemon);
    assert.equal(m2.heartbeats_accepted, 1, 'the enrolled secret still works after the restart');
    const events2 = await stopDaemon(daemon);
    daemon = null;
    const after = check(events2, 'restart', { fromMs: 0, noneBeforeMs: 0 });
    assert.deepEqual(after.web, { c: 2, a: 2, e: 2 }, 'web flows after the restart');
    assert.equal(events2.filter((e) => e.class_uid === 4004).length, 0, 'no DHCP after the restart: the identities came from the store');
    for (const f of events2) {
      if (f.class_uid === 4001 && f.src_endpoint.ip === addr.c && !isDhcp(f)) assert.ok(f.start_time >= restartedMs && f.actor?.user?.name === 'alice', `restart: agent flow ${f.src_endpoint.port} has its user`);
    }
  } catch (err) {
    if (existsSync(join(dir, 'dnsmasq.log'))) console.error(sh('tail', ['-n', '30', join(dir, 'dnsmasq.log')]));
    if (daemon) console.error(daemon.stderr().slice(-3000));
    throw err;
  } finally {
    await teardownLab({ procs, nss, bridge: br, dir });
  }
});
