import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createForwarding } from '../src/forward/index.js';
import { resolveForwardConfig, type SyslogSinkConfig } from '../src/forward/config.js';
import { escapeExtension, escapeHeader, octetFrame, toCef, toRfc5424 } from '../src/forward/cef.js';
import { makePki, startRsyslog, waitFor, which, type Pki, type Rsyslog } from './support/receivers.js';
import { sampleEvent } from './support/sample-event.js';
import { parseCef } from './support/cef-parse.js';
import { expected, labEvents, parseCef as parseDiscoveryCef, type Obj } from './support/discovery-lines.js';
import { toDiscoveryCef } from '../src/forward/discovery-format.js';

const quiet = { info() {}, warn() {}, error() {} };
const skip = !which('rsyslogd') ? 'rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls)' : !which('openssl') ? 'openssl not installed' : false;
let dir: string;
let pki: Pki;
let rs: Rsyslog;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fwd-syslog-'));
  if (skip) return;
  pki = makePki(join(dir, 'pki'));
  rs = await startRsyslog(join(dir, 'rsyslog'), pki);
});
after(async () => {
  await rs?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('CEF rev 25 escaping: header \\ and |, extension \\ = and line breaks', () => {
  assert.equal(escapeHeader('a|b\\c\nd'), 'a\\|b\\\\c d');
  assert.equal(escapeExtension('a=b\\c|d\r\ne\rf'), 'a\\=b\\\\c|d\\ne\\rf');
  const cef = toCef(sampleEvent(7), { vendor: 'Out|post', product: 'P', version: '1' });
  assert.ok(cef.startsWith('CEF:0|Out\\|post|P|1|400102|Network Activity: Close|1|'), cef);
  assert.match(cef, / shost=host\|a\\=b\\\\c /);
  assert.match(cef, / msg=flow closed\\nline2$/);
  assert.match(cef, / externalId=ev-000000007 /);
  assert.match(cef, / src=10\.0\.0\.7 spt=40007 /);
  // CEF rev 25: `in` is the bytes from source to destination (OCSF bytes_out), `out` the reverse.
  assert.match(cef, / proto=TCP deviceDirection=1 in=1241 out=56789 /);
  const msg = toRfc5424(sampleEvent(7), cef, { facility: 16, hostname: 'sensor1', appName: 'outpost', procId: '42' });
  assert.ok(msg.startsWith('<134>1 2023-11-14T22:13:20.007Z sensor1 outpost 42 ocsf4001 - CEF:0|'), msg);
  assert.equal(octetFrame('é x'), '4 é x');
});

async function run(name: string, sink: Partial<SyslogSinkConfig>, n: number, input: string) {
  const cfg = resolveForwardConfig({ outboxDir: join(dir, name), outboxSync: 'none', syslog: [{ name, host: '127.0.0.1', retryInitialMs: 20, retryMaxMs: 500, batchMaxEvents: 200, ...sink }] });
  const fw = createForwarding(cfg, quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  try {
    for (let i = 0; i < n; i++) fw.sink({ ...sampleEvent(i), metadata: { uid: `${name}-${i}` } });
    await waitFor(() => fw.status().sinks[0]!['lag_events'] === 0, 10_000, `${name} sent`);
    await waitFor(() => rs.lines().filter((l) => l.startsWith(input + ' ') && l.includes(`externalId=${name}-`)).length >= n, 10_000, `${name} in rsyslog file`);
    return { fw, lines: rs.lines().filter((l) => l.includes(`externalId=${name}-`)) };
  } finally {
    ac.abort();
    for (const s of [...fw.services].reverse()) await s.stop();
  }
}

test('TCP, octet counting, to rsyslog imtcp: every event arrives, in order, CEF intact', { skip }, async () => {
  const { lines } = await run('tcp', { transport: 'tcp', port: rs.tcpPort }, 2000, 'imtcp');
  assert.equal(lines.length, 2000);
  const ids = lines.map((l) => /externalId=(\S+)/.exec(l)?.[1]);
  assert.deepEqual(ids, Array.from({ length: 2000 }, (_, i) => `tcp-${i}`));
  // Multi-line messages survive octet counting (the escaped \n stays one line in CEF).
  assert.match(lines[0]!, /msg=flow closed\\nline2$/);
  // Each line rsyslog wrote is a valid CEF line (strict parser) with the fields of its event.
  const defaults = resolveForwardConfig({ syslog: [{ name: 'defaults', host: '127.0.0.1' }] }).syslog[0]!;
  const header = { vendor: defaults.cefDeviceVendor, product: defaults.cefDeviceProduct, version: defaults.cefDeviceVersion };
  lines.forEach((l, i) => {
    const got = parseCef(l.slice(l.indexOf('CEF:0|')));
    const want = parseCef(toCef({ ...sampleEvent(i), metadata: { uid: `tcp-${i}` } }, header));
    assert.deepEqual(got, want, l);
  });
});

test('TLS (RFC 5425) to rsyslog gtls: verified server certificate, every event arrives', { skip }, async () => {
  const { lines } = await run('tls', { transport: 'tls', port: rs.tlsPort, tlsCaFile: pki.caFile, tlsServerName: 'localhost' }, 500, 'imtcp');
  assert.equal(new Set(lines.map((l) => /externalId=(\S+)/.exec(l)?.[1])).size, 500);
});

test('UDP (RFC 5426): sends counted as unacknowledged (loss unknowable)', { skip }, async () => {
  const cfg = resolveForwardConfig({ outboxDir: join(dir, 'udp'), outboxSync: 'none', syslog: [{ name: 'udp', transport: 'udp', host: '127.0.0.1', port: rs.udpPort, batchMaxEvents: 20 }] });
  const fw = createForwarding(cfg, quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  try {
    for (let i = 0; i < 200; i++) fw.sink({ ...sampleEvent(i), metadata: { uid: `udp-${i}` } });
    await waitFor(() => fw.status().sinks[0]!['sent_events'] === 200, 5000, 'udp sent');
    assert.equal(fw.status().sinks[0]!['udp_unacknowledged'], 200);
    await waitFor(() => rs.lines().filter((l) => l.startsWith('imudp ') && l.includes('externalId=udp-')).length >= 190, 5000, 'udp received (loopback, most)');
  } finally {
    ac.abort();
    for (const s of [...fw.services].reverse()) await s.stop();
  }
});

test('receiver restarts: the sink reconnects with backoff and nothing is lost', { skip }, async () => {
  const cfg = resolveForwardConfig({ outboxDir: join(dir, 'reconn'), outboxSync: 'none', syslog: [{ name: 'reconn', transport: 'tcp', host: '127.0.0.1', port: rs.tcpPort, retryInitialMs: 50, retryMaxMs: 300 }] });
  const fw = createForwarding(cfg, quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  try {
    for (let i = 0; i < 100; i++) fw.sink({ ...sampleEvent(i), metadata: { uid: `reconn-${i}` } });
    await waitFor(() => fw.status().sinks[0]!['sent_events'] === 100, 5000, 'first part');
    await waitFor(() => rs.lines().filter((l) => l.includes('externalId=reconn-')).length >= 100, 5000, 'first part written');
    await rs.stop();
    // Written while the receiver is down: first send after the close may reach a dead socket.
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 100; i < 200; i++) fw.sink({ ...sampleEvent(i), metadata: { uid: `reconn-${i}` } });
    await waitFor(() => (fw.status().sinks[0]!['errors'] as number) >= 1, 5000, 'errors while down');
    rs = await startRsyslog(join(dir, 'rsyslog'), pki, { tcpPort: rs.tcpPort, udpPort: rs.udpPort, tlsPort: rs.tlsPort });
    await waitFor(() => fw.status().sinks[0]!['sent_events'] === 200, 10_000, 'backlog sent after restart');
    await waitFor(() => rs.lines().filter((l) => l.includes('externalId=reconn-')).length >= 200, 5000, 'all written');
    const ids = new Set(rs.lines().map((l) => /externalId=(reconn-\d+)/.exec(l)?.[1]).filter(Boolean));
    assert.equal(ids.size, 200, 'none lost across the receiver restart');
    assert.ok((fw.status().sinks[0]!['connect_failures'] as number) >= 1);
  } finally {
    ac.abort();
    for (const s of [...fw.services].reverse()) await s.stop();
  }
});

/**
 * `format: generic-cef`: the lab captures' events (Open, interim Traffic, Close/Reset, HTTP, DNS,
 * ...) three times over with fresh uids, so batches of 200 go through the format worker. Only
 * final flow events and HTTP requests reach rsyslog, in order; each line is read back with the
 * parser written from CEF rev 25 and compared field by field with its OCSF event
 * (docs/DISCOVERY-FORMATS.md); the others are acknowledged unsent and counted.
 */
function discoveryRounds(name: string, rounds: number): Obj[] {
  const base = labEvents();
  const out: Obj[] = [];
  for (let r = 0; r < rounds; r++) for (const ev of base) out.push({ ...structuredClone(ev), metadata: { ...ev.metadata, uid: `${name}-${out.length}` } });
  return out;
}

async function runDiscovery(name: string, sink: Partial<SyslogSinkConfig>, events: Obj[], input: string, wantLines: number) {
  const cfg = resolveForwardConfig({ outboxDir: join(dir, name), outboxSync: 'none', syslog: [{ name, host: '127.0.0.1', retryInitialMs: 20, retryMaxMs: 500, batchMaxEvents: 200, format: 'generic-cef', ...sink }] });
  const fw = createForwarding(cfg, quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  try {
    for (const ev of events) fw.sink(ev);
    await waitFor(() => fw.status().sinks[0]!['lag_events'] === 0, 10_000, `${name} sent`);
    const mine = () => rs.lines().filter((l) => l.startsWith(input + ' ') && l.includes(`externalId=${name}-`));
    await waitFor(() => mine().length >= wantLines, 10_000, `${name} in rsyslog file`);
    await new Promise((r) => setTimeout(r, 200)); // nothing more arrives
    return { status: fw.status().sinks[0]!, lines: mine() };
  } finally {
    ac.abort();
    for (const s of [...fw.services].reverse()) await s.stop();
  }
}

function checkDiscoveryLines(lines: string[], withLine: Obj[]) {
  const byUid = new Map(withLine.map((e) => [e.metadata.uid as string, e]));
  for (const l of lines) {
    const { header, ext } = parseDiscoveryCef(l.slice(l.indexOf('CEF:0|')));
    const ev = byUid.get(ext.get('externalId')!);
    assert.ok(ev, `line of an event that makes one: ${l.slice(0, 120)}`);
    assert.deepEqual(header.slice(0, 4), ['0', 'Outpost', 'Outpost', ev.metadata.product.version]);
    assert.equal(header[4], ev.class_uid === 4001 ? 'flow' : 'http');
    assert.equal(ext.get('rt'), String(ev.time));
    for (const [key, , value] of expected(ev)) assert.equal(ext.get(key), value, `${key} of ${l}`);
  }
}

test('format generic-cef over TCP: one Cloud Discovery line per flow and HTTP request, in order, parsed back field by field', { skip }, async () => {
  const events = discoveryRounds('dcef', 3);
  const withLine = events.filter((e) => toDiscoveryCef(e) !== undefined);
  assert.ok(withLine.length >= 20 && withLine.length < events.length, `${withLine.length} of ${events.length} events make a line`);
  const { status, lines } = await runDiscovery('dcef', { transport: 'tcp', port: rs.tcpPort }, events, 'imtcp', withLine.length);
  assert.deepEqual(lines.map((l) => /externalId=(\S+)/.exec(l)?.[1]), withLine.map((e) => e.metadata.uid), 'one line per final flow event and HTTP request, in order');
  checkDiscoveryLines(lines, withLine);
  assert.equal(status['sent_events'], events.length, 'every event acknowledged, with a line or without');
  assert.equal(status['events_without_line'], events.length - withLine.length);
  assert.ok((status['format_worker_batches'] as number) >= 1, 'formatted in the worker');
  // The OCSF CEF of the default format is not what was sent.
  assert.ok(lines.every((l) => !l.includes('|Outpost Sensor|')));
});

test('format generic-cef over UDP: datagrams only for events that make a line', { skip }, async () => {
  const events = discoveryRounds('dudp', 1);
  const withLine = events.filter((e) => toDiscoveryCef(e) !== undefined);
  const { status, lines } = await runDiscovery('dudp', { transport: 'udp', port: rs.udpPort, batchMaxEvents: 20 }, events, 'imudp', Math.floor(withLine.length * 0.9));
  assert.equal(status['udp_unacknowledged'], withLine.length, 'one datagram per line');
  assert.equal(status['events_without_line'], events.length - withLine.length);
  assert.ok(lines.length <= withLine.length);
  checkDiscoveryLines(lines, withLine);
});

test('format generic-cef: a batch with no line at all is acknowledged without a write', { skip }, async () => {
  const events = discoveryRounds('dnone', 1).filter((e) => toDiscoveryCef(e) === undefined);
  const cfg = resolveForwardConfig({ outboxDir: join(dir, 'dnone'), outboxSync: 'none', syslog: [{ name: 'dnone', host: '127.0.0.1', port: rs.tcpPort, format: 'generic-cef' }] });
  const fw = createForwarding(cfg, quiet, dir);
  const ac = new AbortController();
  for (const s of fw.services) await s.start(ac.signal);
  try {
    for (const ev of events) fw.sink(ev);
    await waitFor(() => fw.status().sinks[0]!['sent_events'] === events.length, 5000, 'acknowledged');
    const st = fw.status().sinks[0]!;
    assert.equal(st['events_without_line'], events.length);
    assert.equal(st['bytes_sent'], 0);
  } finally {
    ac.abort();
    for (const s of [...fw.services].reverse()) await s.stop();
  }
  assert.equal(rs.lines().filter((l) => l.includes('externalId=dnone-')).length, 0);
});
