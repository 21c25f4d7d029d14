/**
 * The discovered-apps page in a real browser, against the real daemon, fed a real lab capture.
 *
 * 1. Lab: two network namespaces joined by a veth — a client and a "cloud" with four addresses.
 *    In the cloud, `openssl s_server` (HTTPS, a self-signed certificate made here) and a tiny node
 *    HTTP server; in the client, curl uploads known amounts of random data to names of catalog
 *    apps (Dropbox and Slack over HTTPS, WeTransfer over plain HTTP) and to a name in no catalog
 *    entry (www.lab-unknown.co.uk, plain HTTP: must show as unclassified "lab-unknown.co.uk").
 *    Each app's name resolves (curl --resolve) to its own cloud address. tcpdump in the client
 *    namespace records it all to lab.pcap (TSO/GSO off on the veth, so frames are wire-sized).
 * 2. `outpost run` (dist/cli.js: run `npm run build` first) captures on a third veth with
 *    discovery enabled and short flow timeouts; tcpreplay plays lab.pcap onto the peer, as the
 *    appliance is demonstrated. Wait (bounded) until the daemon has decoded every packet and
 *    the report counts every lab flow as ended.
 * 3. Expected figures come from parsing lab.pcap here, not from Outpost's own decoder (an
 *    `outpost replay` oracle would share every decode/flow bug with the daemon): per app, the
 *    sum of the captured frames' wire lengths from the client to that app's cloud address. That
 *    is what the page shows as Upload: `traffic.bytes_out`, whole Ethernet frames as captured
 *    (link-layer header included, no FCS) — not IP bytes and not payload.
 * 4. Debian's Chromium (playwright-core) loads /v1/discovery/ui/ from the daemon's API. The API
 *    has tokens, so the page first fails (401), then works once the read token is typed into the
 *    Token field. Each row's upload/download must equal the capture's, both the raw byte count
 *    (data-bytes) and the text as the page formats it. Screenshot: test-output/discovery-page.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { until } from './support/wait.js';

const CHROMIUM = process.env.OUTPOST_CHROMIUM ?? '/usr/bin/chromium';
const CLI = resolve('dist/cli.js');

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
const missing = ['ip', 'tcpdump', 'tcpreplay', 'openssl', 'curl'].filter((c) => !has(c));
const skip = process.getuid?.() !== 0 ? 'discovery browser test needs root (network namespaces, veth, capture)'
  : !existsSync(CHROMIUM) ? `discovery browser test needs Chromium at ${CHROMIUM} (apt-get install chromium)`
    : missing.length > 0 ? `discovery browser test needs ${missing.join(', ')} (apt-get install iproute2 tcpdump tcpreplay openssl curl)`
      : !existsSync(CLI) ? 'discovery browser test needs dist/cli.js (npm run build)' : false;

const tag = `${process.pid % 100000}`;
const NS_CLIENT = `opbc${tag}`;
const NS_CLOUD = `opbs${tag}`;
const NS_WIRE = `opbw${tag}`;
const IF_CLIENT = `opb${tag}c`;
const IF_CLOUD = `opb${tag}s`;
const IF_HOST = `opb${tag}h`;
const IF_WIRE = `opb${tag}w`;
const CLIENT_IP = '10.89.0.2';
const CLIENT_MAC = '02:00:0a:59:00:02';

interface Upload { app: string; name: string; server: string; scheme: 'https' | 'http'; bytes: number }
/** The lab: each app has its own cloud address, so the capture can be attributed without naming. */
const UPLOADS: Upload[] = [
  { app: 'dropbox', name: 'content.dropboxapi.com', server: '10.89.0.10', scheme: 'https', bytes: 600_000 },
  { app: 'slack', name: 'files.slack.com', server: '10.89.0.11', scheme: 'https', bytes: 150_000 },
  { app: 'wetransfer', name: 'wetransfer.com', server: '10.89.0.12', scheme: 'http', bytes: 300_000 },
  { app: 'slack', name: 'app.slack.com', server: '10.89.0.11', scheme: 'https', bytes: 40_000 },
  { app: 'unclassified:lab-unknown.co.uk', name: 'www.lab-unknown.co.uk', server: '10.89.0.13', scheme: 'http', bytes: 45_000 },
];
const SERVERS = [...new Set(UPLOADS.map((u) => u.server))];
const APP_NAMES: Record<string, string> = { dropbox: 'Dropbox', slack: 'Slack', wetransfer: 'WeTransfer', 'unclassified:lab-unknown.co.uk': 'lab-unknown.co.uk' };

/** The page's byte formatting (src/discovery/ui.ts fmtBytes), to compare the text exactly. */
function fmtBytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0, v = n;
  while (v >= 999.5 && i < u.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)} ${u[i]}`;
}

interface Figures { up: number; down: number; upPayload: number; flows: Set<number>; packets: number }

/** Per app, from the capture file alone: frame bytes each way, TCP payload up, client ports. */
function expectedFromPcap(file: string): { perApp: Map<string, Figures>; records: number } {
  const buf = readFileSync(file);
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  assert.ok(le || buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d, 'pcap magic');
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  assert.equal(u32(20), 1, 'Ethernet link type');
  const appOf = new Map(UPLOADS.map((u) => [u.server, u.app]));
  const perApp = new Map<string, Figures>();
  let records = 0;
  for (let off = 24; off + 16 <= buf.length;) {
    const incl = u32(off + 8), orig = u32(off + 12);
    const f = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    records++;
    assert.equal(incl, orig, 'whole frames captured (snaplen)');
    if (f.readUInt16BE(12) !== 0x0800) continue;
    const ip = f.subarray(14);
    const src = [...ip.subarray(12, 16)].join('.'), dst = [...ip.subarray(16, 20)].join('.');
    const up = src === CLIENT_IP;
    const app = appOf.get(up ? dst : src);
    if (app === undefined || ip[9] !== 6) continue;
    const ihl = (ip[0]! & 0x0f) * 4;
    const tcp = ip.subarray(ihl);
    const payload = ip.readUInt16BE(2) - ihl - (tcp[12]! >> 4) * 4;
    const e = perApp.get(app) ?? { up: 0, down: 0, upPayload: 0, flows: new Set<number>(), packets: 0 };
    if (up) { e.up += orig; e.upPayload += payload; e.flows.add(tcp.readUInt16BE(0)); } else e.down += orig;
    e.packets++;
    perApp.set(app, e);
  }
  return { perApp, records };
}

function run(args: string[], what: string): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 0, `${what}: ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
function runAsync(args: string[], ms: number): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const p = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: ms });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (status) => ok({ status, stdout, stderr }));
  });
}
const inNs = (ns: string, ...args: string[]): string[] => ['ip', 'netns', 'exec', ns, ...args];

/** Spawns a long-running helper; every one of them is killed in `finally`. */
function start(procs: ChildProcess[], args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): { p: ChildProcess; out: () => string; err: () => string } {
  const p = spawn(args[0]!, args.slice(1), { stdio: [stdin, 'pipe', 'pipe'] });
  procs.push(p);
  let out = '', err = '';
  p.stdout!.on('data', (d: Buffer) => { if (out.length < 1_000_000) out += d.toString('latin1'); });
  p.stderr!.on('data', (d: Buffer) => { if (err.length < 100_000) err += d.toString(); });
  return { p, out: () => out, err: () => err };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

function exited(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return Promise.race([new Promise<boolean>((ok) => p.once('exit', () => ok(true))), sleep(ms).then(() => false)]);
}

const HTTP_SERVER = `require('http').createServer((q, s) => { let n = 0; q.on('data', (d) => { n += d.length; });
  q.on('end', () => s.end('received ' + n + '\\n')); }).listen(80, '0.0.0.0', () => console.log('ready'));`;

/**
 * openssl s_server (no -WWW: it cannot take a POST body) prints what the client sends and sends
 * what it reads on stdin. Once a whole request (headers + Content-Length body) has arrived, the
 * HTTP response is written to its stdin; curl then closes the connection and s_server accepts
 * the next one.
 */
function answerHttpsRequests(p: ChildProcess): { requests: number[] } {
  const seen = { requests: [] as number[] };
  let buf = Buffer.alloc(0);
  p.stdout!.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    const start = buf.indexOf('POST ');
    if (start < 0) return;
    const he = buf.indexOf('\r\n\r\n', start);
    if (he < 0) return;
    const cl = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(start, he).toString('latin1'))?.[1] ?? 0);
    if (buf.length < he + 4 + cl) return;
    seen.requests.push(cl);
    buf = buf.subarray(he + 4 + cl);
    const body = `received ${cl}\n`;
    p.stdin!.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });
  return seen;
}

test('discovered-apps page shows the apps of a replayed lab capture with their upload figures', { skip, timeout: 90_000 }, async () => {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'outpost-disc-ui-'));
  const procs: ChildProcess[] = [];
  let browser: { close(): Promise<void> } | undefined;
  let daemon: ReturnType<typeof start> | undefined;
  const lap = (what: string): void => { if (process.env.OUTPOST_TEST_TIMINGS) console.log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s ${what}`); };
  try {
    // ------------------------------------------------------------ the lab
    for (const ns of [NS_CLIENT, NS_CLOUD, NS_WIRE]) { spawnSync('ip', ['netns', 'del', ns]); run(['ip', 'netns', 'add', ns], 'netns'); }
    run(['ip', 'link', 'add', IF_CLIENT, 'netns', NS_CLIENT, 'address', CLIENT_MAC, 'type', 'veth', 'peer', 'name', IF_CLOUD, 'netns', NS_CLOUD], 'lab veth');
    for (const [ns, ifc] of [[NS_CLIENT, IF_CLIENT], [NS_CLOUD, IF_CLOUD]] as const) {
      // No IPv6 chatter; one TCP segment per frame (no TSO/GSO super-frames in the capture).
      run(inNs(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'), 'sysctl');
      run(['ip', '-n', ns, 'link', 'set', ifc, 'gso_max_segs', '1'], 'gso');
      run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], 'lo');
      run(['ip', '-n', ns, 'link', 'set', ifc, 'up'], 'up');
    }
    run(['ip', '-n', NS_CLIENT, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', IF_CLIENT], 'client address');
    for (const a of SERVERS) run(['ip', '-n', NS_CLOUD, 'addr', 'add', `${a}/24`, 'dev', IF_CLOUD], 'cloud address');

    const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
    run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=outpost-lab'], 'certificate');
    const https = start(procs, inNs(NS_CLOUD, 'openssl', 's_server', '-quiet', '-accept', '443', '-cert', cert, '-key', key), 'pipe');
    const answered = answerHttpsRequests(https.p);
    const http = start(procs, inNs(NS_CLOUD, process.execPath, '-e', HTTP_SERVER));
    await until('the lab servers', 10_000, () => {
      const listening = spawnSync('ip', ['netns', 'exec', NS_CLOUD, 'ss', '-Hltn'], { encoding: 'utf8' }).stdout;
      return /:443\b/.test(listening) && /:80\b/.test(listening) && http.out().includes('ready') ? true : undefined;
    }).catch((e: Error) => { throw new Error(`${e.message}; s_server: ${https.err()}; http: ${http.err()}`); });

    const pcap = join(dir, 'lab.pcap');
    const tcpdump = start(procs, inNs(NS_CLIENT, 'tcpdump', '-i', IF_CLIENT, '-w', pcap, '--immediate-mode', '-U', '-s', '0', '-B', '16384', '-n', 'ip'));
    await until('tcpdump', 10_000, () => (tcpdump.err().includes('listening on') ? true : undefined));
    for (const [i, u] of UPLOADS.entries()) {
      const body = join(dir, `upload-${i}.bin`);
      writeFileSync(body, randomBytes(u.bytes));
      const port = u.scheme === 'https' ? 443 : 80;
      // Not spawnSync: this process answers s_server's requests, so its event loop must run.
      const r = await runAsync(inNs(NS_CLIENT, 'curl', '-sS', '--noproxy', '*', '--http1.1', '-H', 'Expect:', '--max-time', '10', '--limit-rate', '4M',
        '--resolve', `${u.name}:${port}:${u.server}`, ...(u.scheme === 'https' ? ['-k'] : []),
        '--data-binary', `@${body}`, '-o', '/dev/null', '-w', '%{http_code} %{size_upload}', `${u.scheme}://${u.name}/upload`), 15_000);
      assert.equal(r.stdout, `200 ${u.bytes}`, `curl ${u.name}: ${r.stderr} (s_server: ${https.err()}; ${https.out().length} bytes out: ${JSON.stringify(https.out().slice(0, 300))})`);
    }
    assert.deepEqual(answered.requests, UPLOADS.filter((u) => u.scheme === 'https').map((u) => u.bytes), 's_server received every HTTPS upload');
    await sleep(500); // last FIN/ACKs
    tcpdump.p.kill('SIGINT');
    assert.ok(await exited(tcpdump.p, 5_000), 'tcpdump stopped');
    const counts = /(\d+) packets captured\n(\d+) packets received by filter\n(\d+) packets dropped by kernel/.exec(tcpdump.err());
    assert.ok(counts && counts[1] === counts[2] && counts[3] === '0', `the lab capture is complete: ${tcpdump.err()}`);
    lap('lab recorded');

    // --------------------------------------------- expected, from the pcap
    const { perApp: expected, records } = expectedFromPcap(pcap);
    assert.deepEqual([...expected.keys()].sort(), [...new Set(UPLOADS.map((u) => u.app))].sort(), 'every app is in the capture');
    for (const [app, e] of expected) {
      const sent = UPLOADS.filter((u) => u.app === app);
      assert.equal(e.flows.size, sent.length, `${app}: one TCP connection per upload`);
      // The payload carried at least the bodies (plus HTTP headers, TLS framing); frames add headers.
      const bodies = sent.reduce((n, u) => n + u.bytes, 0);
      assert.ok(e.upPayload > bodies && e.upPayload < bodies * 1.05 + 5_000, `${app}: upload payload ${e.upPayload} vs bodies ${bodies}`);
      assert.ok(e.up > e.upPayload, `${app}: frame bytes include the headers`);
    }

    // ------------------------------------------------------------ the daemon
    spawnSync('ip', ['link', 'del', IF_HOST]);
    run(['ip', 'link', 'add', IF_HOST, 'type', 'veth', 'peer', 'name', IF_WIRE, 'netns', NS_WIRE], 'wire veth');
    spawnSync('sysctl', ['-qw', `net.ipv6.conf.${IF_HOST}.disable_ipv6=1`]);
    run(inNs(NS_WIRE, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'), 'sysctl');
    run(['ip', 'link', 'set', IF_HOST, 'up'], 'up');
    run(['ip', '-n', NS_WIRE, 'link', 'set', IF_WIRE, 'up'], 'up');

    const readToken = randomBytes(16).toString('hex'), adminToken = randomBytes(16).toString('hex');
    const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
    const apiPort = await freePort();
    const config = join(dir, 'outpost.yaml');
    writeFileSync(config, [
      `dataDir: ${join(dir, 'data')}`,
      'logLevel: warn',
      'capture:',
      `  interfaces: [${IF_HOST}]`,
      "  bpfFilter: 'ip'",
      '  bufferTimeoutMs: 10',
      'flows:',
      '  flowIdleTimeoutMs: { tcp: 2000, udp: 2000, icmp: 1000, other: 1000 }',
      '  tcpClosedTimeoutMs: 1000',
      'api:',
      `  port: ${apiPort}`,
      '  tokens:',
      `    - { name: page, role: read, sha256: ${sha(readToken)} }`,
      `    - { name: test-admin, role: admin, sha256: ${sha(adminToken)} }`,
      'discovery:',
      '  enabled: true',
      '  flushIntervalMs: 500',
    ].join('\n'));
    daemon = start(procs, [process.execPath, CLI, 'run', '--config', config]);
    const base = `http://127.0.0.1:${apiPort}`;
    const api = async <T>(path: string, init: RequestInit = {}, token = readToken): Promise<T | undefined> => {
      try {
        const r = await fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });
        return r.ok ? await r.json() as T : undefined;
      } catch { return undefined; }
    };
    const d = daemon;
    await until('the daemon API', 20_000, () => {
      if (d.p.exitCode !== null) throw new Error(`daemon exited ${d.p.exitCode}: ${d.err()}`);
      return api('/v1/stats');
    });
    // An administrator's decision the page must show.
    assert.ok(await api('/v1/discovery/apps/wetransfer/sanction', { method: 'PUT', body: JSON.stringify({ state: 'unsanctioned' }) }, adminToken), 'sanction set');
    lap('daemon up');

    const replay = spawnSync('ip', inNs(NS_WIRE, 'tcpreplay', '-q', '-i', IF_WIRE, pcap).slice(1), { encoding: 'utf8', timeout: 30_000 });
    assert.equal(replay.status, 0, `tcpreplay: ${replay.stderr}`);
    lap('replayed');
    type Stats = { counters: Record<string, number>; interfaces: Array<{ kernelDrops: number }> };
    const stats = await until('the daemon to decode every replayed packet', 10_000, async () => {
      const s = await api<Stats>('/v1/stats');
      return s !== undefined && (s.counters['decode.packets'] ?? 0) >= records ? s : undefined;
    });
    assert.equal(stats.counters['decode.packets'], records, 'every packet replayed was captured and decoded');
    assert.equal(stats.interfaces[0]?.kernelDrops, 0, 'no kernel drops');
    const totalFlows = [...expected.values()].reduce((n, e) => n + e.flows.size, 0);
    type Report = { totals: { flows: number }; rows: Array<{ id: string; bytesUp: number; bytesDown: number; flows: number }> };
    const report = await until('every lab flow to end and reach the rollups', 15_000, async () => {
      const rep = await api<Report>('/v1/discovery/apps');
      return rep !== undefined && rep.totals.flows >= totalFlows ? rep : undefined;
    }).catch((e: Error) => { throw new Error(`${e.message}; daemon stderr: ${d.err()}`); });
    assert.equal(report.totals.flows, totalFlows, `flows in the report: ${JSON.stringify(report.rows)}`);
    lap('flows rolled up');

    // ------------------------------------------------------------ the browser
    const { chromium } = await import('playwright-core');
    const profile = join(dir, 'chromium-profile');
    mkdirSync(profile);
    const context = await chromium.launchPersistentContext(profile, { // fresh --user-data-dir
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    browser = context;
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/v1/discovery/ui/`);
    // Tokens are configured: without one the report is refused, and the page says so.
    await page.waitForFunction("document.getElementById('status').textContent.startsWith('Error')", undefined, { timeout: 15_000 });
    await page.fill('#token', readToken);
    await page.click('#filters button[type="submit"]');
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    lap('page loaded');

    const readRows = () => page.$$eval('#apps tbody tr[data-app-id]', (trs) => trs.map((tr) => ({
      id: tr.getAttribute('data-app-id'),
      name: tr.querySelector('td.name strong')?.textContent,
      kind: tr.querySelector('td.name span')?.textContent,
      up: Number(tr.querySelector('td.up')?.getAttribute('data-bytes')),
      upText: tr.querySelector('td.up span')?.textContent,
      down: Number(tr.querySelector('td.down')?.getAttribute('data-bytes')),
      downText: tr.querySelector('td.down span')?.textContent,
      devices: Number(tr.querySelector('td.devices')?.textContent),
      flows: Number(tr.querySelector('td.flows')?.textContent),
      sanction: tr.className,
    })));
    const byUpload = [...expected.entries()].sort((a, b) => b[1].up - a[1].up);
    const checkRows = (rows: Awaited<ReturnType<typeof readRows>>, view: string): void => {
      assert.deepEqual(rows.map((r) => r.id), byUpload.map(([id]) => id), `${view}: rows, sorted by upload: ${JSON.stringify(rows)}`);
      for (const [id, e] of expected) {
        const r = rows.find((x) => x.id === id)!;
        assert.deepEqual(
          { name: r.name, up: r.up, upText: r.upText, down: r.down, downText: r.downText, flows: r.flows, devices: r.devices },
          { name: APP_NAMES[id], up: e.up, upText: fmtBytes(e.up), down: e.down, downText: fmtBytes(e.down), flows: e.flows.size, devices: 1 },
          `${view}: ${id}: the page's figures are the capture's`);
      }
    };
    const rows = await readRows();
    checkRows(rows, 'last 24 hours');
    assert.match(await page.textContent('#catalog') ?? '', / · hourly rollups$/);
    assert.equal(rows.find((r) => r.id === 'unclassified:lab-unknown.co.uk')?.kind, 'unclassified');
    assert.equal(rows.find((r) => r.id === 'wetransfer')?.sanction, 'unsanctioned');
    const status = await page.textContent('#status');
    const sum = (k: 'up' | 'down'): number => [...expected.values()].reduce((n, e) => n + e[k], 0);
    assert.equal(status, `Upload ${fmtBytes(sum('up'))}, download ${fmtBytes(sum('down'))}, ${totalFlows} flows`);

    // Drill-down: Slack's two connections came from the one lab client.
    await page.click('tr[data-app-id="slack"]');
    await page.waitForFunction("document.querySelectorAll('#devices tbody tr').length > 0", undefined, { timeout: 10_000 });
    const devices = await page.$$eval('#devices tbody tr', (trs) => trs.map((tr) => ({
      up: Number(tr.querySelector('td.up')?.getAttribute('data-bytes')), flows: Number(tr.children[4]?.textContent),
    })));
    assert.deepEqual(devices, [{ up: expected.get('slack')!.up, flows: 2 }]);

    const out = resolve('test-output');
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: join(out, 'discovery-page.png'), fullPage: true });

    // Last 30 days: longer than hourly retention, so the daily rollups answer — same figures.
    await page.selectOption('#preset', '2592000000');
    await page.click('#filters button[type="submit"]');
    await page.waitForFunction("document.getElementById('catalog').textContent.endsWith('daily rollups')", undefined, { timeout: 10_000 });
    checkRows(await readRows(), 'last 30 days');
    assert.deepEqual(errors, [], 'no script errors on the page');
    lap('done');
  } finally {
    await browser?.close().catch(() => {});
    if (daemon !== undefined && daemon.p.exitCode === null) {
      daemon.p.kill('SIGTERM');
      if (!(await exited(daemon.p, 5_000))) daemon.p.kill('SIGKILL');
    }
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => exited(p, 3_000)));
    spawnSync('ip', ['link', 'del', IF_HOST]);
    for (const ns of [NS_CLIENT, NS_CLOUD, NS_WIRE]) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
});
