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
