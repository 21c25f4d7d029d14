/**
 * Block lists for other appliances (GET /v1/discovery/blocklist), made from the real policy over
 * real discovery (sanction states, an unclassified app, a block rule and an allow rule below a
 * blocked app) and the DNS name cache, then loaded into the real programs:
 *
 * - dnsmasq and unbound (local-zone) and unbound with the RPZ zone, each in front of an upstream
 *   resolver that answers every name (a second dnsmasq): a blocked name, and a name below it,
 *   get NXDOMAIN; an allowed name and the allowed name below a blocked app are answered;
 * - nft: loaded twice (the second load replaces the first) in a private network namespace;
 * - squid: `squid -k parse`, then a running squid: a blocked name is refused (403
 *   ERR_ACCESS_DENIED), an allowed one fetched from a local server;
 * - pac: evaluated with the PAC helper dnsDomainIs; csv: parsed.
 * And names that would inject configuration lines are refused before any format is written.
 * Programs that are absent skip their part with a message (Debian: dnsmasq-base, unbound,
 * nftables, squid).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { createServer, request, type Server } from 'node:http';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import Fastify, { type FastifyInstance } from 'fastify';
import { Discovery } from '../src/discovery/discovery.js';
import { DnsNameCache } from '../src/protocols/dns/name-cache.js';
import { createPolicy, type PolicyParts } from '../src/control/policy-area.js';
import { BLOCKLIST_FORMATS, BlocklistCounters, renderBlocklist, type BlocklistEntry, type BlocklistFormat } from '../src/control/blocklist.js';
import { createLogger } from '../src/telemetry/logger.js';
import { which } from './support/receivers.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-blocklist-'));
// squid drops to its own user: its log and the lists must be readable (and the log writable) by it.
chmodSync(dir, 0o777);
after(() => rmSync(dir, { recursive: true, force: true }));

const UPSTREAM_ADDRESS = '192.0.2.99';
const BLOCKED = ['chatgpt.com', 'www.chatgpt.com', 'oaistatic.com', 'shadow-site.net', 'cdn.shadow-site.net', 'blocked.example'];
const ALLOWED = ['slack.com', 'ok.chatgpt.com', 'x.ok.chatgpt.com', 'example.org'];

let discovery: Discovery;
let parts: PolicyParts;
let app: FastifyInstance;
const lists = new Map<BlocklistFormat, string>();

before(async () => {
  discovery = new Discovery({ dataDir: dir });
  await discovery.open();
  await discovery.setSanction('chatgpt', 'unsanctioned', 'test');
  await discovery.setSanction('slack', 'sanctioned', 'test');
  await discovery.setSanction('unclassified:shadow-site.net', 'unsanctioned', 'test');
  const nameCache = new DnsNameCache();
  const now = Date.now();
  // What clients resolved: a blocked name, a CNAME into a blocked app, an address shared by a
  // blocked and an allowed name (a CDN front: not listed), an allowed name, a name of traffic
  // that is not a name at all.
  nameCache.record('10.0.0.5', 'chatgpt.com', '203.0.113.5', 300, now - 1000);
  nameCache.record('10.0.0.5', 'innocent-looking.net', '203.0.113.6', 300, now - 1000, ['edge.oaistatic.com']);
  nameCache.record('10.0.0.5', 'cdn.shadow-site.net', '2001:db8::66', 300, now - 1000);
  nameCache.record('10.0.0.5', 'www.chatgpt.com', '203.0.113.7', 300, now - 1000);
  nameCache.record('10.0.0.6', 'slack.com', '203.0.113.7', 300, now - 1000);
  nameCache.record('10.0.0.6', 'slack.com', '203.0.113.8', 300, now - 1000);
  nameCache.record('10.0.0.6', 'x.chatgpt.com\nflush ruleset', '203.0.113.9', 300, now - 1000);
  parts = await createPolicy({ dataDir: dir, discovery, identity: null, nameCache });
  const admin = { name: 'ops' };
  await parts.store.putRule({ match: { domain: 'blocked.example' }, action: 'block' }, admin);
  await parts.store.putRule({ match: { domain: 'ok.chatgpt.com' }, action: 'allow' }, admin);
  app = Fastify();
  const logger = createLogger('silent');
  for (const r of parts.routes ?? []) await app.register(r.plugin, { prefix: r.prefix, ctx: { logger } });
  await app.ready();
  for (const format of BLOCKLIST_FORMATS) {
    const res = await app.inject({ url: `/v1/discovery/blocklist?format=${format}` });
    assert.equal(res.statusCode, 200, `${format}: ${res.body}`);
    lists.set(format, res.body);
  }
});

after(async () => {
  await app?.close();
  await parts?.store.close();
  await discovery?.close();
});

describe('the lists', () => {
  test('every format names the blocked names (no redundant names below them) and the carve-out, nothing allowed', () => {
    const dm = lists.get('dnsmasq')!;
    for (const d of ['chatgpt.com', 'oaistatic.com', 'oaiusercontent.com', 'shadow-site.net', 'blocked.example']) assert.ok(dm.includes(`address=/${d}/\n`), d);
    assert.ok(dm.includes('server=/ok.chatgpt.com/#\n'));
    assert.ok(!dm.includes('slack'));
    assert.ok(!dm.includes('address=/www.chatgpt.com/'), 'covered by chatgpt.com');
    assert.match(lists.get('unbound')!, /^server:\n(?:  local-zone: "[a-z0-9_.-]+\." (?:always_nxdomain|transparent)\n)+$/m);
    assert.ok(lists.get('squid')!.endsWith('http_access deny outpost_blocked !outpost_allowed\n'));
    const csv = lists.get('csv')!.trim().split('\r\n');
    assert.equal(csv[0], 'domain,verdict,reason,rule_id,app_id,app_name');
    const rows = new Map(csv.slice(1).map((l) => { const c = l.split(','); return [c[0]!, c]; }));
    assert.deepEqual(rows.get('chatgpt.com')!.slice(1, 5), ['block', 'unsanctioned', 'sanction:chatgpt', 'chatgpt']);
    assert.deepEqual(rows.get('ok.chatgpt.com')!.slice(1, 3), ['allow', 'rule']);
    assert.deepEqual(rows.get('blocked.example')!.slice(1, 3), ['block', 'rule']);
    assert.deepEqual(rows.get('shadow-site.net')!.slice(1, 5), ['block', 'unsanctioned', 'sanction:unclassified:shadow-site.net', 'unclassified:shadow-site.net']);
  });

  test('nft: the addresses blocked names resolved to (CNAME targets too), not one shared with an allowed name', () => {
    const nft = lists.get('nft')!;
    assert.match(nft, /set blocked_ipv4 \{\n {4}type ipv4_addr\n {4}elements = \{ 203\.0\.113\.5, 203\.0\.113\.6 \}\n/);
    assert.match(nft, /set blocked_ipv6 \{\n {4}type ipv6_addr\n {4}elements = \{ 2001:db8::66 \}\n/);
    assert.ok(!nft.includes('203.0.113.7') && !nft.includes('203.0.113.8') && !nft.includes('203.0.113.9') && !nft.includes('flush'));
  });

  test('pac: blocked names to the refusing proxy, the carve-out and others DIRECT', () => {
    const pac = lists.get('pac')!;
    const dnsDomainIs = (host: string, domain: string) => host.length >= domain.length && host.endsWith(domain);
    const find = (host: string) => runInNewContext(`${pac}\nFindProxyForURL("https://" + host + "/", host)`, { dnsDomainIs, host }) as string;
    for (const h of BLOCKED) assert.equal(find(h), 'PROXY 127.0.0.1:9', h);
    for (const h of [...ALLOWED, 'notchatgpt.com']) assert.equal(find(h), 'DIRECT', h);
    assert.equal(find('WWW.ChatGPT.com'), 'PROXY 127.0.0.1:9');
  });

  test('names that would inject configuration are refused in every format, counted, never written', () => {
    const hostile = [
      'evil.com\naddress=/#/6.6.6.6', 'x.com." always_transparent\n  local-zone: "y', 'evil.com;flush ruleset', 'evil.com}', 'a.com/', '*.wild.com',
      '-lead.com', 'UPPER.com', 'a..b', `${'x'.repeat(64)}.com`, 'é.com', 'evil.com CNAME rpz-passthru.', 'evil.com\r\nhttp_access allow all', 'a.com"]; alert(1); ["',
      'evil,com', '=cmd|calc', '',
    ];
    const entries: BlocklistEntry[] = [
      ...hostile.map((domain) => ({ domain, verdict: 'block' as const, reason: 'unsanctioned', ruleId: 'sanction:x' })),
      { domain: 'fine-name.com', verdict: 'block', reason: 'rule', ruleId: 'rule-0123456789ab', appName: '=HYPERLINK("http://evil")' },
    ];
    const lineShapes: Record<BlocklistFormat, RegExp> = {
      dnsmasq: /^(#.*|address=\/fine-name\.com\/)$/,
      unbound: /^(#.*|server:|  local-zone: "fine-name\.com\." always_nxdomain)$/,
      rpz: /^(;.*|\$TTL 300|@ IN SOA localhost\. hostmaster\.localhost\. \d+ 3600 600 86400 300|@ IN NS localhost\.|(\*\.)?fine-name\.com CNAME \.)$/,
      nft: /^(#.*|table inet outpost_blocklist( \{)?|delete table inet outpost_blocklist|  set blocked_ipv[46] \{|    type ipv[46]_addr|  \}|\}|  chain forward \{|    type filter hook forward priority filter; policy accept;|    ip6? daddr @blocked_ipv[46]( meta l4proto tcp)? reject( with tcp reset)?)$/,
      squid: /^(#.*|acl outpost_blocked dstdomain \.fine-name\.com|http_access deny outpost_blocked)$/,
      pac: /^(\/\/.*|var OUTPOST_BLOCKED = \["fine-name\.com"\];|var OUTPOST_ALLOWED = \[\];|.*[(){}].*|  return false;|  host = host\.toLowerCase\(\);|  .*return "(DIRECT|PROXY 127\.0\.0\.1:9)";)$/,
      csv: /^(domain,verdict,reason,rule_id,app_id,app_name|fine-name\.com,block,rule,rule-0123456789ab,,"'=HYPERLINK\(""http:\/\/evil""\)")$/,
    };
    for (const format of BLOCKLIST_FORMATS) {
      const counters = new BlocklistCounters();
      const out = renderBlocklist(format, { entries, generatedMs: Date.UTC(2026, 0, 1), source: '2026.1\nserver:"x"', resolutions: [{ name: 'fine-name.com', chain: [], address: '198.51.100.1\nflush ruleset' }] }, counters);
      assert.equal(counters.snapshot()['control.blocklist_names_refused'], hostile.length, format);
      const lines = out.split(/\r?\n/).filter((l) => l !== '');
      for (const l of lines) assert.match(l, lineShapes[format], `${format}: ${JSON.stringify(l)}`);
      for (const bad of ['6.6.6.6', 'always_transparent', 'flush', 'rpz-passthru', 'allow all', 'alert', 'wild', 'evil.com', 'server:"x"']) {
        assert.ok(!out.includes(bad), `${format} contains ${bad}`);
      }
    }
  });
});

// ------------------------------------------------------------------------ the real programs

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function freeTcpPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const children: ChildProcess[] = [];
after(() => { for (const c of children) c.kill('SIGKILL'); });

function start(bin: string, args: string[]): ChildProcess {
  const c = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr?.on('data', (b: Buffer) => { err += b.toString(); if (err.length > 10_000) err = err.slice(-5_000); });
  (c as ChildProcess & { errText: () => string }).errText = () => err;
  children.push(c);
  return c;
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
  c.kill('SIGKILL');
}

async function resolve4(port: number, name: string): Promise<string[] | string> {
  const r = new dns.Resolver({ timeout: 1000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  try { return await r.resolve4(name); } catch (e) { return (e as NodeJS.ErrnoException).code ?? 'error'; }
}

/** Waits until a resolver on `port` answers `name` (it is up). */
async function waitForResolver(port: number, name: string, c: ChildProcess): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (c.exitCode !== null) break;
    const r = await resolve4(port, name);
    if (Array.isArray(r)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`resolver on ${port} did not come up: ${(c as ChildProcess & { errText?: () => string }).errText?.() ?? ''}`);
}

/** A "cloud" resolver that answers every name with UPSTREAM_ADDRESS. */
async function upstream(t: TestContext): Promise<{ port: number; child: ChildProcess } | undefined> {
  const bin = which('dnsmasq');
  if (bin === undefined) { t.skip('dnsmasq not installed (Debian: dnsmasq-base): no upstream resolver'); return undefined; }
  const port = await freeUdpPort();
  const child = start(bin, ['-k', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--user=root', '--pid-file=', '--no-resolv', '--no-hosts', `--address=/#/${UPSTREAM_ADDRESS}`, '--log-facility=/dev/null']);
  await waitForResolver(port, 'anything.test', child);
  return { port, child };
}

async function expectAnswers(port: number): Promise<void> {
  for (const n of BLOCKED) assert.equal(await resolve4(port, n), 'ENOTFOUND', `${n}: NXDOMAIN`);
  for (const n of ALLOWED) assert.deepEqual(await resolve4(port, n), [UPSTREAM_ADDRESS], `${n}: answered`);
}

describe('loaded into the real programs', () => {
  test('dnsmasq: blocked names NXDOMAIN, allowed ones (and the carve-out) answered', async (t) => {
    const bin = which('dnsmasq');
    if (bin === undefined) { t.skip('dnsmasq not installed (Debian: dnsmasq-base)'); return; }
    const up = await upstream(t);
    if (up === undefined) return;
    const file = join(dir, 'blocklist.dnsmasq.conf');
    writeFileSync(file, lists.get('dnsmasq')!);
    const port = await freeUdpPort();
    const gw = start(bin, ['-k', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--user=root', '--pid-file=', '--no-resolv', '--no-hosts', `--server=127.0.0.1#${up.port}`, `--conf-file=${file}`, '--log-facility=/dev/null']);
    try {
      await waitForResolver(port, 'slack.com', gw);
      await expectAnswers(port);
    } finally { await stop(gw); await stop(up.child); }
  });

  const unboundConf = (port: number, upPort: number, extra: string) => `server:
  interface: 127.0.0.1
  port: ${port}
  do-daemonize: no
  use-syslog: no
  logfile: ""
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: ""
  do-ip6: no
  do-not-query-localhost: no
  verbosity: 0
${extra}
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@${upPort}
`;

  for (const kind of ['unbound', 'rpz'] as const) {
    test(`unbound with the ${kind === 'rpz' ? 'RPZ zone' : 'local-zone list'}: checkconf, then blocked names NXDOMAIN, allowed ones answered`, async (t) => {
      const bin = which('unbound'), check = which('unbound-checkconf');
      if (bin === undefined || check === undefined) { t.skip('unbound not installed (Debian: unbound)'); return; }
      const up = await upstream(t);
      if (up === undefined) return;
      const file = join(dir, kind === 'rpz' ? 'outpost.rpz.zone' : 'blocklist.unbound.conf');
      writeFileSync(file, lists.get(kind)!);
      const extra = kind === 'rpz'
        ? `  module-config: "respip iterator"\nrpz:\n  name: "rpz.outpost."\n  zonefile: "${file}"`
        : `  module-config: "iterator"\ninclude: "${file}"`;
      const port = await freeUdpPort();
      const conf = join(dir, `unbound-${kind}.conf`);
      writeFileSync(conf, unboundConf(port, up.port, extra));
      const checked = spawnSync(check, [conf], { encoding: 'utf8' });
      assert.equal(checked.status, 0, checked.stderr + checked.stdout);
      const gw = start(bin, ['-d', '-c', conf]);
      try {
        await waitForResolver(port, 'slack.com', gw);
        await expectAnswers(port);
      } finally { await stop(gw); await stop(up.child); }
    });
  }

  test('nft: loads in a private namespace, loads again (replaced, not duplicated), holds the addresses', (t) => {
    const nft = which('nft'), ip = which('ip');
    if (nft === undefined || ip === undefined) { t.skip('nft or ip not installed (Debian: nftables, iproute2)'); return; }
    if (process.getuid?.() !== 0) { t.skip('needs root for a network namespace'); return; }
    const ns = `outpost-bl-${process.pid}`;
    const file = join(dir, 'blocklist.nft');
    writeFileSync(file, lists.get('nft')!);
    spawnSync(ip, ['netns', 'del', ns]);
    assert.equal(spawnSync(ip, ['netns', 'add', ns]).status, 0);
    try {
      const run = (...args: string[]) => spawnSync(ip, ['netns', 'exec', ns, nft, ...args], { encoding: 'utf8' });
      let r = run('-c', '-f', file);
      assert.equal(r.status, 0, r.stderr);
      for (let i = 0; i < 2; i++) { r = run('-f', file); assert.equal(r.status, 0, r.stderr); }
      r = run('list', 'ruleset');
      assert.equal(r.stdout.match(/table inet outpost_blocklist/g)?.length, 1, r.stdout);
      assert.match(r.stdout, /elements = \{ 203\.0\.113\.5, 203\.0\.113\.6 \}/);
      assert.match(r.stdout, /elements = \{ 2001:db8::66 \}/);
      assert.match(r.stdout, /ip daddr @blocked_ipv4 meta l4proto tcp reject with tcp reset/);
    } finally { spawnSync(ip, ['netns', 'del', ns]); }
  });

  test('squid: parses; a running squid refuses a blocked name (403) and fetches an allowed one', async (t) => {
    const bin = which('squid');
    if (bin === undefined) { t.skip('squid not installed (Debian: squid)'); return; }
    const site: Server = createServer((_req, res) => { res.end('hello from the cloud'); });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
    const sitePort = (site.address() as { port: number }).port;
    const proxyPort = await freeTcpPort();
    const acl = join(dir, 'blocklist.squid.conf');
    writeFileSync(acl, lists.get('squid')!);
    // Every name resolves to the local site, so what squid refuses it refuses by the list alone.
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, [...BLOCKED, ...ALLOWED].map((n) => `127.0.0.1 ${n}`).join('\n') + '\n');
    const conf = join(dir, 'squid.conf');
    writeFileSync(conf, [
      `http_port 127.0.0.1:${proxyPort}`, 'pid_filename none', `cache_log ${join(dir, 'squid-cache.log')}`, 'access_log none', 'cache deny all',
      `coredump_dir ${dir}`, `hosts_file ${hosts}`, 'shutdown_lifetime 0 seconds', `include ${acl}`, 'http_access allow localhost', 'http_access deny all', '',
    ].join('\n'));
    const parsed = spawnSync(bin, ['-k', 'parse', '-f', conf], { encoding: 'utf8' });
    assert.equal(parsed.status, 0, parsed.stderr);
    const squid = start(bin, ['-N', '-f', conf]);
    const get = (host: string) => new Promise<{ status: number; error: string; body: string }>((resolve) => {
      const req = request({ host: '127.0.0.1', port: proxyPort, path: `http://${host}:${sitePort}/`, headers: { host: `${host}:${sitePort}` } }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => { body += b.toString(); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, error: String(res.headers['x-squid-error'] ?? ''), body }));
      });
      req.on('error', () => resolve({ status: 0, error: 'connect', body: '' }));
      req.end();
    });
    try {
      let first = await get('slack.com');
      for (let i = 0; i < 100 && first.status === 0; i++) { await new Promise((r) => setTimeout(r, 100)); first = await get('slack.com'); }
      for (const n of ALLOWED) {
        const r = await get(n);
        assert.deepEqual([r.status, r.body], [200, 'hello from the cloud'], n);
      }
      for (const n of BLOCKED) {
        const r = await get(n);
        assert.deepEqual([r.status, r.error.split(' ')[0]], [403, 'ERR_ACCESS_DENIED'], n);
      }
    } finally { await stop(squid); site.close(); }
  });
});
