/**
 * Branch office in network namespaces: a bridge, a gateway namespace running dnsmasq (DHCP +
 * DNS), clients with distinct MACs taking leases with udhcpc under distinct host names, one of
 * them running the Outpost agent (appliance/agent) with a logged-on user, and a "cloud"
 * namespace serving HTTPS (openssl s_server) and HTTP. A Sensor with the device observer and
 * enricher captures live on the bridge. Scenario 2 hands one address to device D, then (after
 * D's RELEASE) to device E. The captured packets replayed give the same answers.
 * Skips with a message when not root or a binary is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { Sensor } from '../src/sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { LiveCapture } from '../src/capture/live.js';
import { DeviceIdentity, type AgentReport } from '../src/devices/identity.js';
import { DeviceStore } from '../src/devices/store.js';
import { agentRoutes, AgentRegistry } from '../src/devices/agent-routes.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function which(bin: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }); return true; } catch { return false; }
}
const BINS = ['ip', 'dnsmasq', 'udhcpc', 'openssl', 'curl', 'who', 'unshare'];
const skip = process.getuid?.() !== 0 ? 'lab test needs root (network namespaces)'
  : BINS.find((b) => !which(b)) !== undefined ? `lab test needs ${BINS.filter((b) => !which(b)).join(', ')} (apt-get install dnsmasq-base udhcpc openssl curl)`
    : false;

const sh = (cmd: string, args: string[], opts: { timeout?: number } = {}): string => execFileSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('lab: every flow maps to its device host name and MAC, the agent\'s flows to its user; an address moving from D to E; replay agrees', { skip, timeout: 120_000 }, async () => {
  const id = randomBytes(2).toString('hex');
  const net = `10.${77 + (parseInt(id, 16) % 100)}.${parseInt(id.slice(0, 2), 16)}`;
  const br = `obr${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-lab-'));
  const procs: ChildProcess[] = [];
  const nss: string[] = [];
  const ns = (n: string) => `ol${id}${n}`;
  const exec = (n: string, args: string[], timeout?: number) => {
    if (process.env.OUTPOST_LAB_DEBUG) console.error(`[lab] ${n}: ${args.join(' ')}`);
    return sh('ip', ['netns', 'exec', ns(n), ...args], { timeout });
  };
  const bg = (n: string, args: string[]) => {
    const p = spawn('ip', ['netns', 'exec', ns(n), ...args], { stdio: 'ignore' });
    procs.push(p);
    return p;
  };
  const macs: Record<string, string> = { gw: '00:16:3e:77:00:fe', cloud: '00:16:3e:77:00:c8', a: '00:16:3e:77:00:0a', b: '00:16:3e:77:00:0b', c: '00:16:3e:77:00:0c', d: '00:16:3e:77:00:0d', e: '00:16:3e:77:00:0e' };
  const host: Record<string, string> = { a: 'alpha', b: 'bravo', c: 'charlie', d: 'delta', e: 'echo' };
  const abort = new AbortController();
  const events: Ev[] = [];
  const packets: Array<[Buffer, number, number]> = [];
  const reports: Array<[number, AgentReport]> = [];
  const store = new DeviceStore();
  const identity = new DeviceIdentity({ store });
  const apply = identity.applyAgentReport.bind(identity);
  identity.applyAgentReport = (r, atMs) => { reports.push([atMs, r]); return apply(r, atMs); };
  const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => events.push(e as Ev), packetObservers: [identity.observer], enrichers: [identity.enrich] });
  let cap: LiveCapture | null = null;
  let https: ReturnType<typeof Fastify> | null = null;
  try {
    // ---- network ---------------------------------------------------------------------------
    sh('ip', ['link', 'add', br, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${net}.2/24`, 'dev', br]);
    sh('ip', ['link', 'set', br, 'up']);
    for (const n of Object.keys(macs)) {
      sh('ip', ['netns', 'add', ns(n)]);
      nss.push(ns(n));
      const hv = `ov${id}${n}`;
      sh('ip', ['link', 'add', hv, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(n)]);
      sh('ip', ['link', 'set', hv, 'master', br, 'up']);
      exec(n, ['ip', 'link', 'set', 'eth0', 'address', macs[n]!]);
      exec(n, ['ip', 'link', 'set', 'eth0', 'up']);
      exec(n, ['ip', 'link', 'set', 'lo', 'up']);
      mkdirSync(`/etc/netns/${ns(n)}`, { recursive: true });
      writeFileSync(`/etc/netns/${ns(n)}/resolv.conf`, `nameserver ${net}.1\n`);
    }
    exec('gw', ['ip', 'addr', 'add', `${net}.1/24`, 'dev', 'eth0']);
    exec('cloud', ['ip', 'addr', 'add', `${net}.200/24`, 'dev', 'eth0']);
    // ---- services ----------------------------------------------------------------------------
    sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${net}.2`, '-addext', `subjectAltName=IP:${net}.2,DNS:app.cloud.test`,
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    bg('gw', ['dnsmasq', '-k', '-u', 'root', `--log-facility=${join(dir, 'dnsmasq.log')}`, '--log-dhcp', '--conf-file=/dev/null', '--interface=eth0', '--bind-interfaces', '--no-resolv', '--no-hosts',
      `--dhcp-range=${net}.50,${net}.99,255.255.255.0,10m`, `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      `--address=/app.cloud.test/${net}.200`, `--dhcp-host=${macs.d},${macs.e},${net}.60`, '--dhcp-authoritative']);
    bg('cloud', ['openssl', 's_server', '-quiet', '-accept', '443', '-www', '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem')]);
    bg('cloud', [process.execPath, '-e', "require('http').createServer((q,s)=>s.end('ok')).listen(80)"]);
    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\ncase "$1" in\n bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface";;\n deconfig) ip addr flush dev "$interface";;\nesac\n', { mode: 0o755 });
    // Gateway side of the agent protocol, on the bridge address over HTTPS.
    const registry = new AgentRegistry(10, 1000, 300_000);
    https = Fastify({ https: { key: sh('cat', [join(dir, 'key.pem')]), cert: sh('cat', [join(dir, 'cert.pem')]) } });
    await https.register(agentRoutes, { identity, registry });
    await https.listen({ host: `${net}.2`, port: 0 });
    const port = (https!.server.address() as { port: number }).port;
    const secret = registry.enroll('lab-agent', Date.now()).secret;
    writeFileSync(join(dir, 'secret'), secret, { mode: 0o600 });
    // A logged-on user in a utmp file (USER_PROCESS record, glibc x86-64 layout) read by `who`.
    const ut = Buffer.alloc(384);
    ut.writeInt16LE(7, 0); ut.writeInt32LE(process.pid, 4); ut.write('pts/3', 8); ut.write('ts/3', 40); ut.write('alice', 44);
    ut.writeInt32LE(Math.floor(Date.now() / 1000), 340);
    writeFileSync(join(dir, 'utmp'), ut);
    await sleep(800);

    // ---- capture -----------------------------------------------------------------------------
    cap = new LiveCapture({ interfaces: [br], bpfFilter: '', snaplenBytes: 65535, promiscuous: true, bufferSizeBytes: 4 << 20, bufferTimeoutMs: 0 },
      (buf, offset, capLen, wireLen, tsUs, linkType) => {
        packets.push([Buffer.from(buf.subarray(offset, offset + capLen)), tsUs, linkType]);
        sensor.onPacket(buf, offset, capLen, wireLen, tsUs, linkType, 0);
      });
    cap.start(abort.signal);
    await sleep(300);

    // Asynchronous from here on: the capture (and the agent gateway) run on this event loop.
    const run = promisify(execFile);
    const aexec = async (n: string, args: string[], timeout = 20_000): Promise<string> => {
      if (process.env.OUTPOST_LAB_DEBUG) console.error(`[lab] ${n}: ${args.join(' ')}`);
      return (await run('ip', ['netns', 'exec', ns(n), ...args], { timeout, encoding: 'utf8' })).stdout;
    };
    const lease = (n: string, extra: string[] = []) => aexec(n, ['udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-x', `hostname:${host[n]}`, '-s', script, ...extra], 15_000);
    const addrOf = async (n: string) => /inet (\d+\.\d+\.\d+\.\d+)/.exec(await aexec(n, ['ip', '-4', 'addr', 'show', 'dev', 'eth0']))?.[1];
    const browse = async (n: string) => {
      await aexec(n, ['curl', '-sk', '--max-time', '5', '-o', '/dev/null', 'https://app.cloud.test/']);
      await aexec(n, ['curl', '-s', '--max-time', '5', '-o', '/dev/null', 'http://app.cloud.test/']);
    };
    const addr: Record<string, string> = {};
    for (const n of ['a', 'b', 'c']) { await lease(n); addr[n] = (await addrOf(n))!; assert.ok(addr[n], `${n} has no lease`); }
    // The agent (own UTS namespace so it reports its own host name) on c.
    await aexec('c', ['unshare', '--uts', 'sh', '-c', `hostname charlie && ${process.execPath} ${resolve('appliance/agent/outpost-agent.mjs')} heartbeat --gateway https://${net}.2:${port} --ca ${join(dir, 'cert.pem')} --agent-id lab-agent --secret-file ${join(dir, 'secret')} --utmp ${join(dir, 'utmp')} --once`]);
    assert.equal(registry.counters.accepted, 1, 'agent heartbeat accepted');
    for (const n of ['a', 'b', 'c']) await browse(n);
    // Scenario 2: D holds .60, browses, releases; E gets .60 and browses.
    await lease('d');
    assert.equal(await addrOf('d'), `${net}.60`);
    await browse('d');
    await sleep(200);
    const movedAtMs = Date.now();
    await lease('d', ['-R']);
    await aexec('d', ['ip', 'addr', 'flush', 'dev', 'eth0']);
    await sleep(200);
    await lease('e');
    assert.equal(await addrOf('e'), `${net}.60`);
    await browse('e');
    await sleep(1000);
    abort.abort();
    // libpcap closes on the next packet it sees (src/capture/live.ts): give it one.
    for (let i = 0; i < 20 && !cap.isClosed; i++) { try { exec('a', ['curl', '-s', '--max-time', '1', `http://${net}.1:9/`]); } catch { /* best effort */ } await sleep(100); }
    sensor.flush();
    if (process.env.OUTPOST_LAB_DEBUG) console.error(`[lab] capture ${JSON.stringify(cap.counters)} packets ${packets.length} sensor ${JSON.stringify(sensor.counters())}`);

    // ---- checks ------------------------------------------------------------------------------
    const web = (e: Ev) => e.class_uid === 4001 && (e.dst_endpoint.port === 443 || e.dst_endpoint.port === 80) && e.dst_endpoint.ip === `${net}.200`;
    const check = (evs: Ev[], label: string) => {
      const flows = evs.filter(web);
      if (process.env.OUTPOST_LAB_DEBUG) for (const f of evs.filter((e) => e.class_uid === 4001)) console.error(`[lab] ${label} ${f.src_endpoint.ip}:${f.src_endpoint.port} > ${f.dst_endpoint.ip}:${f.dst_endpoint.port} ${f.device?.hostname} ${f.actor?.user?.name ?? ''}`);
      assert.ok(flows.length >= 10, `${label}: ${flows.length} web flows`);
      for (const f of flows) {
        const ip = f.src_endpoint.ip as string;
        const who = ip === `${net}.60` ? (f.start_time < movedAtMs ? 'd' : 'e') : Object.keys(addr).find((n) => addr[n] === ip);
        assert.ok(who !== undefined, `${label}: flow from unknown ${ip}`);
        assert.equal(f.device?.hostname, host[who!], `${label}: ${ip} at ${f.start_time}`);
        assert.equal(f.device?.mac, macs[who!], `${label}: ${ip}`);
        if (who === 'c') assert.equal(f.actor?.user?.name, 'alice', `${label}: agent user`);
        else assert.equal(f.actor, undefined);
      }
      return flows.map((f) => `${f.src_endpoint.ip}:${f.src_endpoint.port}>${f.dst_endpoint.port} ${f.device?.hostname} ${f.device?.mac} ${f.actor?.user?.name ?? '-'}`).sort();
    };
    const live = check(events, 'live');
    assert.ok(identity.counters()['dhcp.v4.messages']! >= 12);

    // The same capture replayed (agent heartbeats re-applied at their times) gives the same answer.
    const events2: Ev[] = [];
    const identity2 = new DeviceIdentity({ store: new DeviceStore() });
    const sensor2 = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => events2.push(e as Ev), packetObservers: [identity2.observer], enrichers: [identity2.enrich] });
    let r = 0;
    for (const [buf, tsUs, lt] of packets) {
      while (r < reports.length && reports[r]![0] <= tsUs / 1000) { identity2.applyAgentReport(reports[r]![1], reports[r]![0]); r++; }
      sensor2.onPacket(buf, 0, buf.length, buf.length, tsUs, lt, 0);
    }
    sensor2.flush();
    assert.deepEqual(check(events2, 'replay'), live);
  } catch (err) {
    if (existsSync(join(dir, 'dnsmasq.log'))) console.error(sh('tail', ['-n', '30', join(dir, 'dnsmasq.log')]));
    throw err;
  } finally {
    abort.abort();
    // libpcap closes on the next packet it sees (src/capture/live.ts): send one over the bridge.
    for (let i = 0; i < 20 && cap !== null && !cap.isClosed; i++) {
      try { sh('ip', ['neigh', 'flush', 'dev', br]); sh('curl', ['-s', '--max-time', '1', `http://${net}.250:9/`]); } catch { /* best effort */ }
      await sleep(100);
    }
    await https?.close();
    for (const p of procs) if (p.pid !== undefined && p.exitCode === null) { try { process.kill(p.pid, 'SIGTERM'); } catch { /* gone */ } }
    await sleep(200);
    for (const n of nss) { try { sh('ip', ['netns', 'pids', n]).split('\n').filter(Boolean).forEach((pid) => { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }); } catch { /* none */ } }
    for (const n of nss) { try { sh('ip', ['netns', 'del', n]); } catch { /* gone */ } rmSync(`/etc/netns/${n}`, { recursive: true, force: true }); }
    try { sh('ip', ['link', 'del', br]); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    await store.close();
  }
});
