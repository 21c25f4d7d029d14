/**
 * Live capture end to end: a network namespace with a veth pair, a capture this test builds
 * (TCP connections with handshake, data and FIN; UDP exchanges; ICMP echo) replayed by
 * tcpreplay into the namespace end, and `outpost run` capturing on the host end. Every packet
 * and every flow must be accounted for, with exact per-direction packet and byte counts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ethernet, ipv4, tcp, udp, icmp, pcapFile, ETH_IPV4, PROTO_TCP, PROTO_UDP, PROTO_ICMP, TCP_SYN, TCP_ACK, TCP_FIN, TCP_PSH } from './support/packets.js';
import { createWire, removeWire } from './support/netns.js';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
const skip = process.getuid?.() !== 0 ? 'live daemon test needs root (network namespace + veth)'
  : !has('ip') ? 'live daemon test needs iproute2 (ip)'
    : !has('tcpreplay') ? 'live daemon test needs tcpreplay' : false;

const tag = `${process.pid % 100000}`;
const ns = `opld${tag}`;
const hostIf = `opld${tag}h`;
const nsIf = `opld${tag}n`;
const CLIENT_MAC = '02:00:00:00:01:01';
const SERVER_MAC = '02:00:00:00:02:02';

interface Expected { proto: number; client: string; cport: number; server: string; sport: number; c2sPackets: number; c2sBytes: number; s2cPackets: number; s2cBytes: number }

/** Builds the capture and the flows it must produce. */
function buildTraffic(): { frames: Buffer[]; flows: Expected[] } {
  const frames: Buffer[] = [];
  const flows: Expected[] = [];
  const send = (f: Expected, fromClient: boolean, l3: Buffer) => {
    const frame = ethernet(fromClient ? SERVER_MAC : CLIENT_MAC, fromClient ? CLIENT_MAC : SERVER_MAC, ETH_IPV4, l3);
    frames.push(frame);
    if (fromClient) { f.c2sPackets++; f.c2sBytes += frame.length; } else { f.s2cPackets++; f.s2cBytes += frame.length; }
  };
  for (let i = 0; i < 20; i++) {
    const f: Expected = { proto: 6, client: `10.77.0.${10 + i}`, cport: 40000 + i, server: '198.51.100.7', sport: 443, c2sPackets: 0, c2sBytes: 0, s2cPackets: 0, s2cBytes: 0 };
    const c = (flags: number, seq: number, data = Buffer.alloc(0)) => send(f, true, ipv4({ src: f.client, dst: f.server, proto: PROTO_TCP }, tcp({ sport: f.cport, dport: f.sport, seq, flags }, data)));
    const s = (flags: number, seq: number, data = Buffer.alloc(0)) => send(f, false, ipv4({ src: f.server, dst: f.client, proto: PROTO_TCP }, tcp({ sport: f.sport, dport: f.cport, seq, flags }, data)));
    c(TCP_SYN, 1000);
    s(TCP_SYN | TCP_ACK, 5000);
    c(TCP_ACK, 1001);
    c(TCP_PSH | TCP_ACK, 1001, Buffer.alloc(100 + i, 0x61));
    s(TCP_PSH | TCP_ACK, 5001, Buffer.alloc(1200, 0x62));
    c(TCP_FIN | TCP_ACK, 1101 + i);
    s(TCP_FIN | TCP_ACK, 6201);
    c(TCP_ACK, 1102 + i);
    flows.push(f);
  }
  for (let i = 0; i < 10; i++) {
    const f: Expected = { proto: 17, client: `10.77.1.${10 + i}`, cport: 50000 + i, server: '203.0.113.53', sport: 53, c2sPackets: 0, c2sBytes: 0, s2cPackets: 0, s2cBytes: 0 };
    for (let k = 0; k <= i % 3; k++) {
      send(f, true, ipv4({ src: f.client, dst: f.server, proto: PROTO_UDP }, udp({ sport: f.cport, dport: f.sport }, Buffer.alloc(40, k))));
      send(f, false, ipv4({ src: f.server, dst: f.client, proto: PROTO_UDP }, udp({ sport: f.sport, dport: f.cport }, Buffer.alloc(90, k))));
    }
    flows.push(f);
  }
  const ping: Expected = { proto: 1, client: '10.77.2.1', cport: 0, server: '192.0.2.1', sport: 0, c2sPackets: 0, c2sBytes: 0, s2cPackets: 0, s2cBytes: 0 };
  for (let k = 0; k < 4; k++) {
    send(ping, true, ipv4({ src: ping.client, dst: ping.server, proto: PROTO_ICMP }, icmp({ type: 8, id: 7, seq: k }, Buffer.alloc(56))));
    send(ping, false, ipv4({ src: ping.server, dst: ping.client, proto: PROTO_ICMP }, icmp({ type: 0, id: 7, seq: k }, Buffer.alloc(56))));
  }
  flows.push(ping);
  return { frames, flows };
}

let dir = '';
let daemon: ChildProcess | null = null;

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'outpost-live-'));
  createWire({ ns, hostIf, nsIf });
});

after(() => {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  if (skip) return;
  removeWire({ ns, hostIf, nsIf });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('outpost run accounts for every packet and flow sent over a veth', { skip, timeout: 60_000 }, async () => {
  const { frames, flows } = buildTraffic();
  const capture = join(dir, 'traffic.pcap');
  writeFileSync(capture, pcapFile(frames.map((data, i) => ({ data, tsUs: 1_700_000_000_000_000 + i * 1000 })), 1));
  const port = 20000 + (process.pid % 20000);
  const config = join(dir, 'outpost.yaml');
  writeFileSync(config, [
    `dataDir: ${join(dir, 'data')}`,
    'logLevel: warn',
    'capture:',
    `  interfaces: [${hostIf}]`,
    "  bpfFilter: 'ip'",
    '  bufferTimeoutMs: 10',
    'api:',
    `  port: ${port}`,
  ].join('\n'));

  let stdout = '';
  let stderr = '';
  daemon = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  daemon.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  daemon.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => daemon!.on('exit', (code) => resolve(code)));

  const stats = async (): Promise<{ counters: Record<string, number>; interfaces: Array<{ kernelDrops: number; interfaceDrops: number }> } | null> => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v1/stats`);
      return r.ok ? await r.json() as never : null;
    } catch { return null; }
  };
  for (let i = 0; i < 100 && (await stats()) === null; i++) await sleep(100);
  assert.ok(await stats(), `daemon API came up (stderr: ${stderr})`);

  const replay = spawnSync('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '--pps=2000', '-i', nsIf, capture], { encoding: 'utf8' });
  assert.equal(replay.status, 0, `tcpreplay: ${replay.stderr}`);

  let s = await stats();
  for (let i = 0; i < 50 && (s?.counters['decode.packets'] ?? 0) < frames.length; i++) { await sleep(100); s = await stats(); }
  assert.equal(s?.counters['decode.packets'], frames.length, 'every packet sent was captured and decoded');
  assert.equal(s?.interfaces[0]?.kernelDrops, 0, 'no kernel drops');

  daemon.kill('SIGTERM');
  assert.equal(await exited, 0, `daemon exited cleanly (stderr: ${stderr})`);

  const events = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.class_uid === 4001).map((e) => e as {
    src_endpoint: { ip: string; port?: number; mac?: string }; dst_endpoint: { ip: string; port?: number };
    connection_info: { uid: string; protocol_num: number };
    traffic: { packets_out: number; packets_in: number; bytes_out: number; bytes_in: number };
  });
  // Network Activity only: the daemon also emits device inventory and DNS/HTTP events.
  const totals = new Map<string, Expected>();
  for (const e of events) {
    const key = e.connection_info.uid;
    const t = totals.get(key) ?? { proto: e.connection_info.protocol_num, client: e.src_endpoint.ip, cport: e.src_endpoint.port ?? 0, server: e.dst_endpoint.ip, sport: e.dst_endpoint.port ?? 0, c2sPackets: 0, c2sBytes: 0, s2cPackets: 0, s2cBytes: 0 };
    t.c2sPackets += e.traffic.packets_out; t.c2sBytes += e.traffic.bytes_out;
    t.s2cPackets += e.traffic.packets_in; t.s2cBytes += e.traffic.bytes_in;
    totals.set(key, t);
  }
  const ours = [...totals.values()].sort((a, b) => `${a.client}:${a.cport}`.localeCompare(`${b.client}:${b.cport}`));
  const expected = [...flows].sort((a, b) => `${a.client}:${a.cport}`.localeCompare(`${b.client}:${b.cport}`));
  assert.deepEqual(ours, expected, 'flows and per-direction counts');
  const tcpClient = events.find((e) => e.connection_info.protocol_num === 6);
  assert.equal(tcpClient?.src_endpoint.mac, CLIENT_MAC);
});
