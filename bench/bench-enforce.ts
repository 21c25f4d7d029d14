/**
 * `npm run bench:enforce`: what inline mode costs, in one run on the lab of
 * test/support/inline-lab.ts (office bridge → gateway → cloud namespaces; the office host is
 * office-a, routed through the gateway from its bridge port):
 *
 * - added latency on the first packet of a new flow: TCP connect time (SYN out, SYN-ACK back;
 *   the SYN is queued, and accepted by the addon's reader thread since it cannot carry a name)
 *   from the office to the cloud, p50 and p99, without and with the verdict path, alternating
 *   rounds so both see the same machine; and on the first packet judged in JavaScript: a
 *   ClientHello sent on a new connection, to the server's first byte back;
 * - verdicts/s: a burst of new UDP/443 flows (one datagram each, each queued and answered),
 *   counted by the addon, and the engine's own decision rate on TLS ClientHellos (no kernel);
 * - iperf3 throughput of an established TCP flow through the gateway, without and with;
 * - the same first packets' delay in the gateway itself, from a capture in its namespace (in → out
 *   at its interfaces; GatewayCapture), which leaves out the lab's client and server: they share
 *   the gateway's two vCPUs here, as they would not on a branch gateway.
 *
 * The gateway is stateful in both phases (one `ct state invalid drop` rule, as any branch
 * gateway doing NAT or filtering tracks connections): the figures are what inline mode adds to
 * such a gateway, not the cost of connection tracking itself.
 *
 * The verdict path is the daemon's InlineService (bench/enforce-worker.ts), or with `--daemon` the
 * whole daemon (`dist/cli.js run`: capture on the office bridge, its own control policy, the same
 * JavaScript thread judging and capturing; "without" is then the same daemon with inline mode
 * off), with its own rules (control.inline.backend auto): the nftables table, or where the kernel lacks nf_tables' queue
 * expression (CONFIG_NFT_QUEUE) the product's iptables fallback; the output names which. Needs
 * root, iproute2, python3, iperf3, nft (and iptables for the fallback), and the built addon. Usage: npm run bench:enforce [-- --engine-only] [-- --daemon] [-- --connects 2000 --rounds 3 --seconds 5 --reader-realtime 1 --verdict-boost 1 --boost-budget-ms 500 --boost-hold-ms 2 --verdict-realtime 0] (the settings control.inline.readerRealtimePriority, verdictBoostPriority, verdictBoostBudgetMsPerSecond, verdictBoostHoldMs and verdictRealtimePriority)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { BRIDGE, createLab, nftQueueSupported, SERVER, type Lab } from '../test/support/inline-lab.js';
import { createToken } from '../src/api/auth.js';
import { addonCandidates } from '../src/control/inline/native.js';
import { built } from './bench-common.js';
import { inlineConfigSchema, type InlineConfig } from '../src/control/config.js';
import { ipv4, tcp, udp, TCP_ACK, TCP_PSH } from '../test/support/packets.js';
import { handshake, records, chromeLikeClientHelloBody } from '../test/fixtures/tls.js';
import { RFC9001_CLIENT_INITIAL_HEX } from '../test/fixtures/quic-rfc-vectors.js';

// The built engine (dist/), the code that ships: `npm run build` first.
const { InlineEngine, RECORD_HEADER_BYTES } = await built<typeof import('../src/control/inline/engine.js')>('control/inline/engine.js');

const QUEUE = 3127;
const CFG: InlineConfig = {
  enabled: true, backend: 'auto', queueNumber: QUEUE, tcpPorts: [80, 443, 5201], udpPorts: [443], dnsPorts: [53], dnsNxdomain: false,
  failClosed: false, maxPacketsPerFlow: 8, batchPackets: 64, maxQueueLength: 4096, resetServer: true, readerRealtimePriority: 1, verdictBoostPriority: 1, verdictBoostBudgetMsPerSecond: 500, verdictBoostHoldMs: 2, verdictRealtimePriority: 0,
};

const has = (c: string, a: string[] = ['--version']) => spawnSync(c, a, { stdio: 'ignore' }).status === 0;

function pct(sorted: number[], p: number): number { return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!; }

/**
 * Sequential new connections from the office namespace, each sending a TLS ClientHello (allowed
 * by the policy) as its first data and waiting for the server's first byte: the time from that
 * write to the answer, in µs. With inline mode the ClientHello is the packet judged in
 * JavaScript (the SYN no longer is: the addon's reader thread accepts segments that cannot carry
 * a name), so this is the added latency of the first packet that is judged.
 */
function firstRequests(lab: Lab, n: number, port: number, helloHex: string): number[] {
  const js = `const net=require('net');const h=Buffer.from('${helloHex}','hex');const out=[];let i=0;function one(){if(i++>=${n}){console.log(JSON.stringify(out));return;}const s=net.connect(${port},'${SERVER}',()=>{const t=process.hrtime.bigint();s.once('data',()=>{out.push(Number(process.hrtime.bigint()-t)/1000);s.destroy();setImmediate(one);});s.write(h);});s.on('error',()=>setImmediate(one));}one();`;
  const r = spawnSync('ip', ['netns', 'exec', lab.office, process.execPath, '-e', js], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`request client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}

/**
 * Sequential new UDP flows from the office namespace, each one QUIC Initial (RFC 9001 A.2, which
 * names example.com: judged in JavaScript on the flow's first packet) from a new socket, timed
 * to the server's answer, in µs.
 */
function firstDatagrams(lab: Lab, n: number, initialHex: string): number[] {
  const js = `const dgram=require('dgram');const m=Buffer.from('${initialHex}','hex');const out=[];let i=0;function one(){if(i++>=${n}){console.log(JSON.stringify(out));return;}const s=dgram.createSocket('udp4');let done=false;const fin=()=>{if(done)return;done=true;clearTimeout(to);s.close();setImmediate(one);};const to=setTimeout(fin,1000);s.on('message',()=>{out.push(Number(process.hrtime.bigint()-t)/1000);fin();});s.on('error',fin);let t=0n;s.bind(0,()=>{t=process.hrtime.bigint();s.send(m,443,'${SERVER}');});}one();`;
  const r = spawnSync('ip', ['netns', 'exec', lab.office, process.execPath, '-e', js], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`datagram client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}

/** Sequential TCP connects from the office namespace; connect times in µs. */
function connects(lab: Lab, n: number, port: number): number[] {
  const js = `const net=require('net');const out=[];let i=0;function one(){if(i++>=${n}){console.log(JSON.stringify(out));return;}const t=process.hrtime.bigint();const s=net.connect(${port},'${SERVER}',()=>{out.push(Number(process.hrtime.bigint()-t)/1000);s.destroy();setImmediate(one);});s.on('error',()=>setImmediate(one));}one();`;
  const r = spawnSync('ip', ['netns', 'exec', lab.office, process.execPath, '-e', js], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`connect client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}

function iperf(lab: Lab, seconds: number): number {
  const r = spawnSync('ip', ['netns', 'exec', lab.office, 'iperf3', '-c', SERVER, '-p', '5201', '-t', String(seconds), '-J'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`iperf3 failed: ${r.stdout}${r.stderr}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second;
}

interface Latency { count: number; p50Us: number; p99Us: number; p999Us: number; maxUs: number; wakeCount: number; wakeP50Us: number; wakeP99Us: number; wakeP999Us: number; wakeMaxUs: number; kernelCount: number; kernelP50Us: number; kernelP99Us: number; kernelP999Us: number; kernelMaxUs: number; gc: { count: number; totalMs: number; maxMs: number; over1Ms: number } }
interface Worker { proc: ChildProcess; counters(): Promise<Record<string, number>>; latency(): Promise<Latency>; stop(): Promise<void> }

async function startWorker(lab: Lab): Promise<Worker & { backend: string }> {
  const proc = spawn('ip', ['netns', 'exec', lab.gw, process.execPath, '--import', 'tsx', 'bench/enforce-worker.ts', String(QUEUE), String(readerRealtime), String(verdictRealtime), String(verdictBoost), String(boostBudget), String(boostHold)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! });
  const waiting: Array<(l: string) => void> = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = () => new Promise<string>((r) => waiting.push(r));
  const ready = /^ready (\S+)$/.exec(await next());
  if (ready === null) throw new Error('worker did not start');
  return {
    proc,
    backend: ready[1]!,
    counters: async () => { const p = next(); proc.stdin!.write('\n'); return JSON.parse(await p) as Record<string, number>; },
    latency: async () => { const p = next(); proc.stdin!.write('latency\n'); return JSON.parse(await p) as Latency; },
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.stdin!.end();
      await exited;
    },
  };
}

/**
 * `--daemon`: the whole daemon instead (the built `dist/cli.js run`, as an administrator starts it),
 * with inline mode on and its own control policy, capturing on the office bridge, so the
 * JavaScript thread that judges also runs capture, flows, naming, devices, discovery and the API as
 * it does on a gateway. Counters come from its /metrics; the addon's user-space histogram is not
 * exposed there, so those rows are left out.
 */
async function startDaemon(lab: Lab, inline = true): Promise<Worker & { backend: string }> {
  const { token, sha256 } = createToken('admin');
  const port = 18790;
  const cfgPath = join(lab.dir, 'outpost-bench.yaml');
  writeFileSync(cfgPath, stringify({
    dataDir: join(lab.dir, 'data-bench'), logLevel: 'info', events: { stdout: false },
    capture: { interfaces: [BRIDGE] },
    api: { host: '127.0.0.1', port, tokens: [{ name: 'bench', role: 'admin', sha256 }] },
    control: { inline: { enabled: inline, queueNumber: QUEUE, tcpPorts: [80, 443, 5201], udpPorts: [443], readerRealtimePriority: readerRealtime, verdictRealtimePriority: verdictRealtime, verdictBoostPriority: verdictBoost, verdictBoostBudgetMsPerSecond: boostBudget, verdictBoostHoldMs: boostHold } },
  }));
  const proc = spawn('ip', ['netns', 'exec', lab.gw, process.execPath, 'dist/cli.js', 'run', '--config', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b: Buffer) => { log += b.toString(); });
  proc.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  const end = Date.now() + 60_000;
  while (!(inline ? /inline mode on/ : /outpost running/).test(log)) {
    if (Date.now() > end || proc.exitCode !== null) { proc.kill('SIGKILL'); throw new Error(`the daemon did not start inline mode:\n${log.slice(-2000)}`); }
    await sleep(100);
  }
  const backend = /"backend":"(\w+)"[^\n]*inline mode on/.exec(log)?.[1] ?? 'unknown';
  const metrics = (): Record<string, number> => {
    const text = spawnSync('ip', ['netns', 'exec', lab.gw, 'curl', '-sS', '-H', `authorization: Bearer ${token}`, `http://127.0.0.1:${port}/metrics`], { encoding: 'utf8' }).stdout;
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^outpost_(inline_\S+?)(?:_total)? (\S+)$/gm)) out[m[1]!] = Number(m[2]);
    // The engine's names (inline.queue.packets) as the metrics endpoint writes them (inline_queue_packets).
    return new Proxy(out, { get: (o, k) => (typeof k === 'string' ? o[k.replace(/\./g, '_')] : undefined) });
  };
  const none: Latency = { count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0, wakeCount: 0, wakeP50Us: 0, wakeP99Us: 0, wakeP999Us: 0, wakeMaxUs: 0, kernelCount: 0, kernelP50Us: 0, kernelP99Us: 0, kernelP999Us: 0, kernelMaxUs: 0, gc: { count: 0, totalMs: 0, maxMs: 0, over1Ms: 0 } };
  return {
    proc, backend,
    counters: async () => metrics(),
    latency: async () => none,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The engine alone: decisions/s on batches of 64 first packets of new flows, TLS ClientHellos (TCP
 * to :443) or QUIC Initials (RFC 9001 A.2, UDP to :443), for 3 s.
 */
function engineRate(kind: 'tls' | 'quic'): number {
  const hello = records(handshake(1, chromeLikeClientHelloBody(undefined, 'app.example.com')));
  const initial = Buffer.from(RFC9001_CLIENT_INITIAL_HEX, 'hex');
  const pkts: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    const ip = { src: `10.1.${i >> 8}.${(i & 255) + 1}`, dst: '192.0.2.10' };
    const data = kind === 'tls'
      ? ipv4(ip, tcp({ sport: 40000 + i, dport: 443, seq: 1, ack: 1, flags: TCP_ACK | TCP_PSH }, hello))
      : ipv4({ ...ip, proto: 17 }, udp({ sport: 40000 + i, dport: 443 }, initial));
    const h = Buffer.alloc(RECORD_HEADER_BYTES);
    h.writeUInt32LE(i, 0); h.writeUInt32LE(data.length, 8);
    pkts.push(h, data, Buffer.alloc((4 - (data.length % 4)) % 4));
  }
  const batch = Buffer.concat(pkts);
  let n = 0;
  let clock = 1_700_000_000_000;
  const engine = new InlineEngine({
    cfg: CFG, policy: () => ({ decide: () => ({ verdict: 'allow', reason: 'default', ruleId: 'default' }) }),
    sink: { verdicts: () => {}, sendRaw: () => true },
    // Each batch five minutes later: the flows of the batch before have expired, so every packet
    // is a new flow's first payload (as on the wire) rather than a repeat.
    now: () => (clock += 60_000 * 5),
  });
  const t0 = performance.now();
  while (performance.now() - t0 < 3000) { engine.onBatch(batch, 64); n += 64; }
  const rate = n / ((performance.now() - t0) / 1000);
  if (engine.counters.allow < n * 0.99) throw new Error(`engine judged ${engine.counters.allow} of ${n}`);
  return rate;
}

/**
 * The gateway's own delay for the first packets of new flows: a capture in the gateway namespace
 * (tcpdump -i any: each forwarded packet is seen coming in on the office side and going out on the
 * cloud side, with the kernel's stamps), from a packet's "In" to its "Out". Unlike the clients'
 * round trips, this leaves out the client and the server, which in this lab share the gateway's
 * two vCPUs. Three kinds, each flow's first of it: SYNs to :443 (connects), the first segment with
 * data to :80 (the ClientHello of firstRequests), UDP datagrams to :443 (QUIC Initials).
 */
class GatewayCapture {
  readonly file: string;
  readonly #proc: ChildProcess;
  #err = '';
  constructor(lab: Lab, name: string) {
    mkdirSync(join(process.cwd(), 'bench-cache'), { recursive: true });
    this.file = join(process.cwd(), 'bench-cache', `bench-enforce-gw-${name}.pcap`);
    this.#proc = spawn('ip', ['netns', 'exec', lab.gw, 'tcpdump', '-i', 'any', '-n', '-U', '-s', '128', '-w', this.file,
      'udp dst port 443 or (tcp dst port 80 and tcp[tcpflags] & tcp-syn == 0) or (tcp dst port 443 and tcp[tcpflags] & tcp-syn != 0)'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc.stderr!.on('data', (d: Buffer) => { this.#err += d.toString(); });
  }
  async ready(): Promise<void> {
    for (let i = 0; i < 100 && !this.#err.includes('listening'); i++) await sleep(50);
  }
  async stop(): Promise<{ syn: number[]; hello: number[]; initial: number[] }> {
    await sleep(200);
    this.#proc.kill('SIGINT');
    await new Promise((r) => this.#proc.once('exit', r));
    const text = spawnSync('tcpdump', ['-r', this.file, '-n', '-tt'], { encoding: 'utf8', maxBuffer: 256 << 20 }).stdout;
    // key (kind + source port) → first In, first Out after it
    const seen = new Map<string, { in?: number; out?: number }>();
    for (const line of text.split('\n')) {
      const m = /^(\d+\.\d+) \S+\s+(In|Out)\s+IP \S+\.(\d+) > \S+\.(\d+): (.*)$/.exec(line);
      if (!m) continue;
      const [, ts, dir, sport, dport, rest] = m;
      const kind = rest!.startsWith('UDP') ? 'initial' : dport === '443' ? 'syn' : 'hello';
      if (kind === 'hello' && !/length [1-9]/.test(rest!)) continue; // the handshake's ACK
      const key = `${kind} ${sport}`;
      const e = seen.get(key) ?? {};
      const t = Number(ts) * 1e6;
      if (dir === 'In' && e.in === undefined) e.in = t;
      else if (dir === 'Out' && e.in !== undefined && e.out === undefined) e.out = t;
      seen.set(key, e);
    }
    const out = { syn: [] as number[], hello: [] as number[], initial: [] as number[] };
    for (const [k, e] of seen) if (e.in !== undefined && e.out !== undefined) out[k.split(' ')[0] as 'syn' | 'hello' | 'initial'].push(e.out - e.in);
    return out;
  }
}

/** A control.inline setting's default, from the product's schema (the flags below start from it). */
const schemaDefault = (k: keyof InlineConfig): number => (inlineConfigSchema.properties as Record<string, { default: number }>)[k]!.default;
/** control.inline.readerRealtimePriority of the verdict process (--reader-realtime). */
let readerRealtime = schemaDefault('readerRealtimePriority');
/** control.inline.verdictRealtimePriority of the verdict process (--verdict-realtime). */
let verdictRealtime = schemaDefault('verdictRealtimePriority');
/** control.inline.verdictBoostPriority of the verdict process (--verdict-boost). */
let verdictBoost = schemaDefault('verdictBoostPriority');
/** control.inline.verdictBoostBudgetMsPerSecond of the verdict process (--boost-budget-ms). */
let boostBudget = schemaDefault('verdictBoostBudgetMsPerSecond');
/** control.inline.verdictBoostHoldMs of the verdict process (--boost-hold-ms). */
let boostHold = schemaDefault('verdictBoostHoldMs');
/** --daemon: the whole daemon judges (startDaemon), not the inline service alone. */
let wholeDaemon = false;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'engine-only': { type: 'boolean' }, connects: { type: 'string' }, rounds: { type: 'string' }, seconds: { type: 'string' }, flows: { type: 'string' }, 'reader-realtime': { type: 'string' }, 'verdict-realtime': { type: 'string' }, 'verdict-boost': { type: 'string' }, 'boost-budget-ms': { type: 'string' }, 'boost-hold-ms': { type: 'string' }, daemon: { type: 'boolean' } } });
  readerRealtime = Number(values['reader-realtime'] ?? readerRealtime);
  verdictRealtime = Number(values['verdict-realtime'] ?? verdictRealtime);
  verdictBoost = Number(values['verdict-boost'] ?? verdictBoost);
  boostBudget = Number(values['boost-budget-ms'] ?? boostBudget);
  wholeDaemon = values.daemon === true;
  boostHold = Number(values['boost-hold-ms'] ?? boostHold);
  if (values['engine-only']) {
    // No lab, no root: the engine's own decision rates.
    console.log(`| decisions/s, engine alone (TLS ClientHello, new flows) | ${Math.round(engineRate('tls'))} |`);
    console.log(`| decisions/s, engine alone (QUIC Initial, new flows) | ${Math.round(engineRate('quic'))} |`);
    return;
  }
  const n = Number(values.connects ?? 2000), rounds = Number(values.rounds ?? 3), seconds = Number(values.seconds ?? 5), flows = Number(values.flows ?? 20000);
  const missing = process.getuid?.() !== 0 ? 'root' : ['ip', 'python3', 'iperf3'].find((c) => !has(c, c === 'ip' ? ['-V'] : ['--version']));
  if (missing !== undefined) { console.error(`bench:enforce skipped: needs ${missing}`); return; }
  if (!addonCandidates().some((p) => existsSync(p))) { console.error('bench:enforce skipped: outpost_nfq addon not built'); return; }
  if (!has('nft')) { console.error('bench:enforce skipped: needs nft'); return; }
  const q = nftQueueSupported();
  if (!q.ok && !has('iptables-restore')) { console.error(`bench:enforce skipped: no nf_tables queue expression (${q.reason}) and no iptables for the fallback`); return; }
  let rulesNote = '';

  const lab = createLab('be', false);
  // The stateful baseline, present without and with inline mode (a table of its own: it needs
  // no queue expression, so it loads on every kernel).
  const base = spawnSync('ip', ['netns', 'exec', lab.gw, 'nft', '-f', '-'], { input: 'table inet baseline {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    ct state invalid drop\n  }\n}\n', encoding: 'utf8' });
  if (base.status !== 0) throw new Error(`baseline rule: ${base.stderr}`);
  const servers = [
    spawn('ip', ['netns', 'exec', lab.cloud, process.execPath, '-e', `require('net').createServer((s)=>{s.on('error',()=>{});s.destroy();}).listen(443,'${SERVER}')`], { stdio: 'ignore' }),
    spawn('ip', ['netns', 'exec', lab.cloud, 'iperf3', '-s', '-p', '5201'], { stdio: 'ignore' }),
    // Port 80 answers a connection's first data with one byte (firstRequests).
    spawn('ip', ['netns', 'exec', lab.cloud, process.execPath, '-e', `require('net').createServer((s)=>{s.on('error',()=>{});s.once('data',()=>s.end('x'));}).listen(80,'${SERVER}')`], { stdio: 'ignore' }),
    // UDP/443: answers a QUIC Initial-sized datagram with one byte (firstDatagrams); swallows the
    // burst's small ones.
    spawn('ip', ['netns', 'exec', lab.cloud, 'python3', '-c', `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('${SERVER}',443))\nwhile True:\n  d,a=s.recvfrom(2048)\n  if len(d)>=1200: s.sendto(b'x',a)`], { stdio: 'ignore' }),
  ];
  try {
    await sleep(1000);
    connects(lab, 200, 443); // warm up (ARP, caches)
    const helloHex = records(handshake(1, chromeLikeClientHelloBody(undefined, 'app.example.com'))).toString('hex');
    firstRequests(lab, 50, 80, helloHex);
    const without: number[] = [], withPath: number[] = [];
    const reqWithout: number[] = [], reqWith: number[] = [];
    const initialHex = RFC9001_CLIENT_INITIAL_HEX;
    firstDatagrams(lab, 50, initialHex);
    const udpWithout: number[] = [], udpWith: number[] = [];
    const tputWithout: number[] = [], tputWith: number[] = [];
    let verdictsPerS = 0, udpSent = 0, udpSecs = 0;
    const userSpace: Latency[] = [];
    /** The verdict boost's counters at the end of each round's measured traffic (one verdict process per round). */
    const boost: { raises: number; overBudget: number; raisedUs: number; cpuUs: number; priority: number }[] = [];
    const gwWithout = { syn: [] as number[], hello: [] as number[], initial: [] as number[] };
    const gwWith = { syn: [] as number[], hello: [] as number[], initial: [] as number[] };
    const add = (to: typeof gwWith, from: typeof gwWith) => { to.syn.push(...from.syn); to.hello.push(...from.hello); to.initial.push(...from.initial); };
    for (let r = 0; r < rounds; r++) {
      // --daemon: "without" is the same daemon with inline mode off (still capturing on the bridge),
      // so both sides carry its capture's cost and the difference is inline mode's.
      const plain = wholeDaemon ? await startDaemon(lab, false) : null;
      try {
        const capWithout = new GatewayCapture(lab, 'without');
        await capWithout.ready();
        without.push(...connects(lab, n, 443));
        reqWithout.push(...firstRequests(lab, n, 80, helloHex));
        udpWithout.push(...firstDatagrams(lab, n, initialHex));
        add(gwWithout, await capWithout.stop());
        tputWithout.push(iperf(lab, seconds));
      } finally { await plain?.stop(); }
      const w = wholeDaemon ? await startDaemon(lab) : await startWorker(lab);
      rulesNote = w.backend === 'nftables' ? 'the product\'s nftables table inet outpost'
        : 'the product\'s rules, iptables fallback (this kernel has no nf_tables queue expression)';
      try {
        connects(lab, 50, 443);
        const capWith = new GatewayCapture(lab, 'with');
        await capWith.ready();
        await w.latency();
        withPath.push(...connects(lab, n, 443));
        reqWith.push(...firstRequests(lab, n, 80, helloHex));
        udpWith.push(...firstDatagrams(lab, n, initialHex));
        userSpace.push(await w.latency());
        { const c = await w.counters(); boost.push({ raises: c['inline.verdict_boost.raises'] ?? 0, overBudget: c['inline.verdict_boost.over_budget'] ?? 0, raisedUs: c['inline.verdict_boost.raised_us'] ?? 0, cpuUs: c['inline.verdict_boost.cpu_us'] ?? 0, priority: c['inline.verdict_boost_priority'] ?? 0 }); }
        add(gwWith, await capWith.stop());
        tputWith.push(iperf(lab, seconds));
        if (r === 0) {
          // A burst of new UDP/443 flows, one datagram each (a new socket, so a new source port).
          const before = await w.counters();
          const py = `import socket,time\nt=time.time()\nfor i in range(${flows}):\n  s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n  s.sendto(b'x'*32,('${SERVER}',443))\n  s.close()\nprint(time.time()-t)`;
          const out = spawnSync('ip', ['netns', 'exec', lab.office, 'python3', '-c', py], { encoding: 'utf8' });
          udpSecs = Number(out.stdout.trim());
          await sleep(300);
          const after = await w.counters();
          udpSent = flows;
          verdictsPerS = ((after['inline.queue.packets'] ?? 0) - (before['inline.queue.packets'] ?? 0)) / udpSecs;
        }
      } finally { await w.stop(); }
    }
    without.sort((a, b) => a - b); withPath.sort((a, b) => a - b);
    reqWithout.sort((a, b) => a - b); reqWith.sort((a, b) => a - b);
    udpWithout.sort((a, b) => a - b); udpWith.sort((a, b) => a - b);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const engine = engineRate('tls');
    const engineQuic = engineRate('quic');
    const res = {
      rules: rulesNote,
      readerRealtimePriority: readerRealtime,
      verdictRealtimePriority: verdictRealtime,
      verdictBoostPriority: verdictBoost,
      verdictBoostBudgetMsPerSecond: boostBudget,
      verdictBoostHoldMs: boostHold,
      connects: { n: without.length, withoutUs: { p50: pct(without, 50), p99: pct(without, 99) }, withUs: { p50: pct(withPath, 50), p99: pct(withPath, 99) } },
      // Per packet, from the addon: received by its reader thread → verdict sent (the packets of
      // the connects and requests above, pre-accepted ones included; each round's figures, the
      // histogram being reset in between).
      userSpaceUs: userSpace,
      verdictBoost: boost,
      addedUs: { p50: pct(withPath, 50) - pct(without, 50), p99: pct(withPath, 99) - pct(without, 99) },
      firstRequest: {
        n: reqWithout.length,
        withoutUs: { p50: pct(reqWithout, 50), p99: pct(reqWithout, 99) }, withUs: { p50: pct(reqWith, 50), p99: pct(reqWith, 99) },
        addedUs: { p50: pct(reqWith, 50) - pct(reqWithout, 50), p99: pct(reqWith, 99) - pct(reqWithout, 99) },
      },
      firstDatagram: {
        n: udpWithout.length, nWith: udpWith.length,
        withoutUs: { p50: pct(udpWithout, 50), p99: pct(udpWithout, 99) }, withUs: { p50: pct(udpWith, 50), p99: pct(udpWith, 99) },
        addedUs: { p50: pct(udpWith, 50) - pct(udpWithout, 50), p99: pct(udpWith, 99) - pct(udpWithout, 99) },
      },
      // The gateway's own delay, in → out at its interfaces (GatewayCapture), per kind of first packet.
      gateway: Object.fromEntries((['syn', 'hello', 'initial'] as const).map((k) => {
        const a = gwWithout[k].sort((x, y) => x - y), b = gwWith[k].sort((x, y) => x - y);
        return [k, { n: a.length, nWith: b.length, withoutUs: { p50: pct(a, 50), p99: pct(a, 99) }, withUs: { p50: pct(b, 50), p99: pct(b, 99) } }];
      })) as Record<'syn' | 'hello' | 'initial', { n: number; nWith: number; withoutUs: { p50: number; p99: number }; withUs: { p50: number; p99: number } }>,
      verdictsPerS: { queued: Math.round(verdictsPerS), senderFlowsPerS: Math.round(udpSent / udpSecs), engineAlone: Math.round(engine), engineAloneQuic: Math.round(engineQuic) },
      iperf3: { withoutMbps: mean(tputWithout) / 1e6, withMbps: mean(tputWith) / 1e6, ratio: mean(tputWith) / mean(tputWithout) },
    };
    console.log(JSON.stringify(res, null, 2));
    console.log(`\n| figure | without | with inline mode |\n|---|---|---|`);
    console.log(`| TCP connect (the SYN, first packet of a new flow, queued), p50 | ${res.connects.withoutUs.p50.toFixed(0)} µs | ${res.connects.withUs.p50.toFixed(0)} µs (+${res.addedUs.p50.toFixed(0)} µs) |`);
    console.log(`| TCP connect, p99 | ${res.connects.withoutUs.p99.toFixed(0)} µs | ${res.connects.withUs.p99.toFixed(0)} µs (+${res.addedUs.p99.toFixed(0)} µs) |`);
    const fr = res.firstRequest;
    console.log(`| ClientHello → first answer byte (the judged packet), p50 | ${fr.withoutUs.p50.toFixed(0)} µs | ${fr.withUs.p50.toFixed(0)} µs (+${fr.addedUs.p50.toFixed(0)} µs) |`);
    console.log(`| ClientHello → first answer byte, p99 | ${fr.withoutUs.p99.toFixed(0)} µs | ${fr.withUs.p99.toFixed(0)} µs (+${fr.addedUs.p99.toFixed(0)} µs) |`);
    const fd = res.firstDatagram;
    console.log(`| QUIC Initial (first packet of a new UDP flow, judged) → answer, p50 | ${fd.withoutUs.p50.toFixed(0)} µs | ${fd.withUs.p50.toFixed(0)} µs (+${fd.addedUs.p50.toFixed(0)} µs) |`);
    console.log(`| QUIC Initial → answer, p99 | ${fd.withoutUs.p99.toFixed(0)} µs | ${fd.withUs.p99.toFixed(0)} µs (+${fd.addedUs.p99.toFixed(0)} µs) (${fd.n} / ${fd.nWith} answered) |`);
    for (const [k, what] of [['syn', 'SYN to :443'], ['hello', 'ClientHello (first data to :80)'], ['initial', 'QUIC Initial']] as const) {
      const g = res.gateway[k];
      console.log(`| in the gateway (in → out at its interfaces), ${what}, p50 / p99 | ${g.withoutUs.p50.toFixed(0)} / ${g.withoutUs.p99.toFixed(0)} µs | ${g.withUs.p50.toFixed(0)} / ${g.withUs.p99.toFixed(0)} µs (+${(g.withUs.p50 - g.withoutUs.p50).toFixed(0)} / +${(g.withUs.p99 - g.withoutUs.p99).toFixed(0)} µs; ${g.n} / ${g.nWith} packets) |`);
    }
    if (!wholeDaemon) for (const [i, u] of userSpace.entries()) console.log(`| queued packet in user space (reader thread → verdict), round ${i + 1} | | p50 ${u.p50Us} µs, p99 ${u.p99Us} µs, p99.9 ${u.p999Us} µs, max ${u.maxUs} µs (${u.count} packets) |`);
    if (!wholeDaemon) for (const [i, u] of userSpace.entries()) console.log(`| of which: batch handed over → JavaScript called, round ${i + 1} | | p50 ${u.wakeP50Us} µs, p99 ${u.wakeP99Us} µs, p99.9 ${u.wakeP999Us} µs, max ${u.wakeMaxUs} µs (${u.wakeCount} batches) |`);
    if (!wholeDaemon) for (const [i, u] of userSpace.entries()) console.log(`| before it: arrival at the gateway (kernel stamp) → the reader thread's recv, round ${i + 1} | | p50 ${u.kernelP50Us} µs, p99 ${u.kernelP99Us} µs, p99.9 ${u.kernelP999Us} µs, max ${u.kernelMaxUs} µs (${u.kernelCount} packets) |`);
    if (!wholeDaemon) for (const [i, u] of userSpace.entries()) console.log(`| garbage collection in the verdict process, round ${i + 1} | | ${u.gc.count} pauses, ${u.gc.over1Ms} over 1 ms, longest ${u.gc.maxMs.toFixed(1)} ms, ${u.gc.totalMs.toFixed(0)} ms in all |`);
    for (const [i, b] of boost.entries()) console.log(`| JavaScript thread raised while it judged (verdictBoostPriority ${b.priority}), round ${i + 1} | | ${b.raises} times, ${(b.raisedUs / 1000).toFixed(1)} ms in all (${(b.cpuUs / 1000).toFixed(1)} ms on a CPU), ${b.overBudget} batches over budget |`);
    console.log(`| iperf3, established TCP flow | ${res.iperf3.withoutMbps.toFixed(0)} Mbit/s | ${res.iperf3.withMbps.toFixed(0)} Mbit/s (${(res.iperf3.ratio * 100).toFixed(1)} %) |`);
    console.log(`| verdicts/s, queued new UDP flows | | ${res.verdictsPerS.queued} (sender made ${res.verdictsPerS.senderFlowsPerS} flows/s) |`);
    console.log(`| decisions/s, engine alone (TLS ClientHello, new flows) | | ${res.verdictsPerS.engineAlone} |`);
    console.log(`| decisions/s, engine alone (QUIC Initial, new flows) | | ${res.verdictsPerS.engineAloneQuic} |`);
    console.log(`rules: ${rulesNote}; ${without.length} connects each way over ${rounds} alternating rounds; stateful baseline (ct state invalid drop) in both phases; reader thread SCHED_FIFO priority ${readerRealtime || "off"}, JavaScript thread ${verdictRealtime > 0 ? `always ${verdictRealtime}` : verdictBoost > 0 ? `raised to ${verdictBoost} while it judges (budget ${boostBudget} ms/s, held ${boostHold} ms)` : "off"}${wholeDaemon ? '; the whole daemon (dist/cli.js run: capture on the office bridge, its own control policy; without inline mode: the same daemon with control.inline.enabled false)' : '; the inline service alone (bench/enforce-worker.ts)'}`);
    console.log(`iperf3 per round, without: ${tputWithout.map((b) => (b / 1e6).toFixed(0)).join(', ')} Mbit/s; with: ${tputWith.map((b) => (b / 1e6).toFixed(0)).join(', ')} Mbit/s`);
    mkdirSync(join(process.cwd(), 'bench-cache'), { recursive: true });
    writeFileSync(join(process.cwd(), 'bench-cache', 'bench-enforce.json'), JSON.stringify(res, null, 2));
  } finally {
    for (const s of servers) s.kill('SIGKILL');
    lab.close();
  }
}

await main();
