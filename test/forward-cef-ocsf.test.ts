/**
 * CEF from the OCSF model: every line the formatter writes is parsed by a strict CEF parser
 * written from the specification (Implementing ArcSight Common Event Format (CEF), Version 25;
 * test/support/cef-parse.ts), and its fields are checked against the OCSF event it came from.
 * The events are real: a DHCP lease, an agent report, a DNS lookup and an HTTP request run
 * through the sensor and event pipeline the daemon assembles (src/pipeline.ts: device identity
 * and discovery enrich, discovery observes); the audit event of a configuration change and the
 * discovery summary come from their own builders. The mapping table in docs/CEF.md is read back
 * and compared with CEF_MAP.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { CEF_MAP, type CefMapping } from '../src/forward/cef-map.js';
import { cefPrefix, toCef } from '../src/forward/cef.js';
import { assemble, openReplayComponents, type ReplayComponents } from '../src/pipeline.js';
import { defaultConfig } from '../src/config/defaults.js';
import { buildApiActivity } from '../src/events/api-activity.js';
import { dhcp4, ip4, u32be, str } from './fixtures/dhcp.js';
import { kdcReq, kdcRep } from './fixtures/logons.js';
import { ethernet, ipv4, udp, tcp, ETH_IPV4, PROTO_UDP, TCP_SYN, TCP_ACK, TCP_FIN } from './support/packets.js';
import { mulberry32 as rng } from './support/prng.js';
import { CUSTOM, DICTIONARY, parseCef, type ParsedCef } from './support/cef-parse.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

test('the strict parser rejects what the spec does not allow', () => {
  const ok = 'CEF:0|V|P|1|100|N|5|src=10.0.0.1 msg=a b\\=c\\\\d\\ne';
  const p = parseCef(ok);
  assert.equal(p.ext.get('msg'), 'a b=c\\d\ne');
  assert.equal(p.ext.get('src'), '10.0.0.1');
  for (const bad of [
    'CEF:1|V|P|1|100|N|5|', 'CEF:0|V|P|1|100|N|11|', 'CEF:0|V|P|1|100|N|', 'CEF:0|V\\x|P|1|100|N|5|', 'CEF:0|V|P|1|100|N|5|msg=a\nb',
    'CEF:0|V|P|1|100|N|5|msg=a\\tb', 'CEF:0|V|P|1|100|N|5|src=nope', 'CEF:0|V|P|1|100|N|5|cs1=x', 'CEF:0|V|P|1|100|N|5|cs1Label=x',
    'CEF:0|V|P|1|100|N|5|bogus=1', 'CEF:0|V|P|1|100|N|5|msg=a msg=b', 'CEF:0|V|P|1|100|N|5|msg=', 'CEF:0|V|P|1|100|N|5|spt=70000',
    'CEF:0|V|P|1|100|N|5|deviceDirection=2', 'CEF:0|V|P|1|100|N|5|junk',
  ]) assert.throws(() => parseCef(bad), assert.AssertionError, JSON.stringify(bad));
});

// ---------------------------------------------------------------------------------------------
// The expected line, from the OCSF event: the test's own reading of each CEF_MAP path.
// ---------------------------------------------------------------------------------------------

const present = (v: unknown): boolean => (typeof v === 'string' ? v !== '' : typeof v === 'number' || typeof v === 'bigint');

/** One path alternative: `a.b`, `a[].b` (all, deduplicated, joined with ','), `a[0].b`. */
function readPath(ev: unknown, path: string): unknown {
  const m = /^([^[]*?)\[(\d*)\](?:\.(.*))?$/.exec(path);
  const dotted = (o: unknown, p: string): unknown => p.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Ev)[k] : undefined), o);
  if (m === null) return dotted(ev, path);
  const arr = dotted(ev, m[1]!);
  if (!Array.isArray(arr)) return undefined;
  if (m[2] !== '') return m[3] === undefined ? arr[Number(m[2])] : readPath(arr[Number(m[2])], m[3]);
  const vals = arr.map((el) => (m[3] === undefined ? el : readPath(el, m[3]))).filter(present).map(String);
  return vals.length === 0 ? undefined : [...new Set(vals)].join(',');
}

/** What the line must hold for row `m`, unescaped, or undefined when it must leave the key out. */
function expectedValue(ev: Ev, m: CefMapping): string | undefined {
  let v: unknown;
  for (const alt of m.ocsf.split(' | ')) {
    v = readPath(ev, alt);
    if (present(v)) break;
  }
  if (!present(v)) return undefined;
  if (m.as === 'upper') v = String(v).toUpperCase();
  if (m.as === 'direction') v = v === 1 ? '0' : v === 2 ? '1' : undefined;
  return v === undefined ? undefined : String(v);
}

/** A header field or value after the line's escaping and the parser's unescaping. */
const asHeader = (s: string) => s.replace(/\r\n|[\r\n]/g, ' ');
const asExtension = (s: string) => s.replace(/\r\n/g, '\n');

const HEADER = { vendor: 'Outpost', product: 'Outpost Sensor', version: '0.1.0' };
const PREFIX = cefPrefix(HEADER);
const SEVERITY: Record<number, string> = { 1: '1', 2: '3', 3: '5', 4: '7', 5: '9', 6: '10' };

/** Parses the event's line and checks every header field and every extension key against the event. */
function checkLine(ev: Ev): ParsedCef {
  const line = toCef(ev, PREFIX);
  let p: ParsedCef;
  try {
    p = parseCef(line);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  in ${line}`);
  }
  assert.equal(p.vendor, HEADER.vendor);
  assert.equal(p.product, HEADER.product);
  assert.equal(p.deviceVersion, HEADER.version);
  assert.equal(p.signatureId, String(ev.type_uid ?? ev.class_uid ?? 0));
  assert.equal(p.name, asHeader(ev.activity_name ? `${ev.class_name}: ${ev.activity_name}` : ev.class_name));
  assert.equal(p.severity, SEVERITY[ev.severity_id] ?? 'Unknown');
  // Exactly the rows of the class whose attribute is present, in table order, with their labels.
  const want = new Map<string, string>();
  const order: string[] = [];
  for (const m of CEF_MAP) {
    if (m.classes !== 'all' && !m.classes.includes(ev.class_uid)) continue;
    const v = expectedValue(ev, m);
    if (v === undefined) continue;
    want.set(m.key, asExtension(v));
    order.push(m.key);
    if (m.label !== undefined) {
      want.set(`${m.key}Label`, m.label);
      order.push(`${m.key}Label`);
    }
  }
  assert.deepEqual(Object.fromEntries(p.ext), Object.fromEntries(want), line);
  assert.deepEqual(p.keys, order, line);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Real events of every class.
// ---------------------------------------------------------------------------------------------

/** A minute ago, on a whole second (the discovery summary reads the last day of the wall clock). */
const T = Math.floor(Date.now() / 1000) * 1000 - 60_000;
const SRV_MAC = '00:00:5e:00:53:01', A = '00:11:22:33:44:55', BCAST = 'ff:ff:ff:ff:ff:ff';
const CLIENT = '10.0.0.5', ROUTER = '10.0.0.1', DROPBOX = '162.125.1.18';
let dir: string;
let events: Ev[] = [];
let parts: ReplayComponents | undefined;

function dhcpFrame(fromClient: boolean, payload: Buffer): Buffer {
  return fromClient
    ? ethernet(BCAST, A, ETH_IPV4, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, payload)))
    : ethernet(BCAST, SRV_MAC, ETH_IPV4, ipv4({ src: ROUTER, dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, payload)));
}

function frames(): Buffer[] {
  const xid = 0x1111;
  const ask: Array<[number, Buffer]> = [[12, str('alpha')], [61, Buffer.from([1, 0, 0x11, 0x22, 0x33, 0x44, 0x55])], [60, str('MSFT 5.0')]];
  const give: Array<[number, Buffer]> = [[54, ip4(ROUTER)], [51, u32be(3600)]];
  const lease = [
    dhcpFrame(true, dhcp4({ xid, mac: A, msgType: 1, options: ask })),
    dhcpFrame(false, dhcp4({ xid, mac: A, msgType: 2, yiaddr: CLIENT, options: give })),
    dhcpFrame(true, dhcp4({ xid, mac: A, msgType: 3, options: [...ask, [50, ip4(CLIENT)], [54, ip4(ROUTER)]] })),
    dhcpFrame(false, dhcp4({ xid, mac: A, msgType: 5, yiaddr: CLIENT, options: give })),
  ];
  const q = { type: 'query' as const, id: 0x2a2a, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A' as const, name: 'www.dropbox.com' }] };
  const r = { ...q, type: 'response' as const, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, answers: [
    { type: 'CNAME' as const, name: 'www.dropbox.com', ttl: 60, data: 'www-env.dropbox-dns.com' },
    { type: 'A' as const, name: 'www-env.dropbox-dns.com', ttl: 60, data: DROPBOX },
  ] };
  const dns = [
    ethernet(SRV_MAC, A, ETH_IPV4, ipv4({ src: CLIENT, dst: ROUTER, proto: PROTO_UDP }, udp({ sport: 53000, dport: 53 }, dnsPacket.encode(q)))),
    ethernet(A, SRV_MAC, ETH_IPV4, ipv4({ src: ROUTER, dst: CLIENT, proto: PROTO_UDP }, udp({ sport: 53, dport: 53000 }, dnsPacket.encode(r)))),
  ];
  const req = Buffer.from('GET /home?x=1 HTTP/1.1\r\nHost: www.dropbox.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) a=b|c\r\n\r\n');
  const res = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const out = (flags: number, seq: number, ack: number, payload?: Buffer) => ethernet(SRV_MAC, A, ETH_IPV4, ipv4({ src: CLIENT, dst: DROPBOX }, tcp({ sport: 40100, dport: 80, flags, seq, ack }, payload)));
  const back = (flags: number, seq: number, ack: number, payload?: Buffer) => ethernet(A, SRV_MAC, ETH_IPV4, ipv4({ src: DROPBOX, dst: CLIENT }, tcp({ sport: 80, dport: 40100, flags, seq, ack }, payload)));
  const http = [
    out(TCP_SYN, 1, 0), back(TCP_SYN | TCP_ACK, 100, 2), out(TCP_ACK, 2, 101), out(TCP_ACK, 2, 101, req),
    back(TCP_ACK, 101, 2 + req.length, res), out(TCP_FIN | TCP_ACK, 2 + req.length, 101 + res.length), back(TCP_FIN | TCP_ACK, 101 + res.length, 3 + req.length),
  ];
  // A Kerberos AS exchange with the router as KDC (RFC 4120 §5.4.1, §5.4.2): an Authentication event.
  const krb = [
    ethernet(SRV_MAC, A, ETH_IPV4, ipv4({ src: CLIENT, dst: ROUTER, proto: PROTO_UDP }, udp({ sport: 53001, dport: 88 }, kdcReq({ cname: 'alice', realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE' })))),
    ethernet(A, SRV_MAC, ETH_IPV4, ipv4({ src: ROUTER, dst: CLIENT, proto: PROTO_UDP }, udp({ sport: 88, dport: 53001 }, kdcRep({ cname: 'alice', crealm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE' })))),
  ];
  return [...lease, ...dns, ...http, ...krb];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cef-ocsf-'));
  // The daemon's assembly: device identity then discovery enrich, discovery observes, every
  // event kind written to the output.
  const cfg = defaultConfig();
  const write = new Set(['network', 'dns', 'http', 'dhcp', 'inventory', 'auth'] as const);
  parts = await openReplayComponents(cfg, dir, new Set(['devices', 'discovery']), write);
  const { identity, discovery } = parts;
  const { sensor } = assemble({ cfg, write, outputs: [(e) => { events.push(e as Ev); }], identity, discovery });
  assert.ok(identity && discovery);
  await discovery.setSanction('dropbox', 'unsanctioned', 'test');
  const fs = frames();
  fs.slice(0, 4).forEach((f, i) => sensor.onPacket(f, 0, f.length, f.length, (T + i) * 1000, 1, 0));
  // The agent on the laptop reports its user once the laptop has its address; its next report
  // renames the host: an inventory event of a device with a current user.
  const report = { agentId: 'agent-a', hostname: 'alpha', macs: [A], addresses: [CLIENT], os: 'Windows 11 Pro', users: [{ name: 'alice', domain: 'CORP', uid: 'S-1-5-21-1001', upn: 'alice@corp.example' }] };
  identity.applyAgentReport(report, T + 500);
  identity.applyAgentReport({ ...report, hostname: 'alpha-pc' }, T + 600);
  fs.slice(4).forEach((f, i) => sensor.onPacket(f, 0, f.length, f.length, (T + 1000 + i) * 1000, 1, 0));
  sensor.flush();
  events.push(buildApiActivity({
    time: new Date(T + 2000).toISOString(), actor: { kind: 'token', name: 'ops-token', role: 'admin', address: '192.0.2.7' }, action: 'patch',
    revision: 'b1946ac92492d234', previousRevision: '0f343b0931126a20',
    changes: [{ path: 'forward.syslog', from: [], to: [{}] }, { path: 'discovery.enabled', from: false, to: true }], applied: ['forward.syslog'], restartRequired: [],
  }) as Ev);
  // The summary covers the last day of the wall clock: the events above are a minute old.
  events.push(await discovery.summary() as Ev);
});

after(async () => {
  await parts?.close();
  rmSync(dir, { recursive: true, force: true });
});

const one = (pred: (e: Ev) => boolean, what: string): Ev => {
  const e = events.find(pred);
  assert.ok(e, `no ${what} among ${events.map((x) => x.type_uid).join(' ')}`);
  return e;
};

test('every event of every class parses and holds exactly its mapped fields', () => {
  const classes = new Set(events.map((e) => e.class_uid));
  assert.deepEqual([...classes].sort((a, b) => a - b), [0, 3002, 4001, 4002, 4003, 4004, 5001, 6003]);
  for (const ev of events) {
    const configured = checkLine(ev);
    // Without a configured header, Device Vendor / Product / Version are metadata.product's.
    const own = parseCef(toCef(ev));
    const product = ev.metadata.product;
    assert.deepEqual([own.vendor, own.product, own.deviceVersion], [product.vendor_name, product.name, product.version]);
    assert.deepEqual({ ...own, vendor: '', product: '', deviceVersion: '' }, { ...configured, vendor: '', product: '', deviceVersion: '' });
  }
  assert.equal(toCef({ metadata: { product: { vendor_name: 'A|B', name: 'N\\', version: 2 } } }), 'CEF:0|A\\|B|N\\\\|2|0|OCSF event|Unknown|');
  assert.equal(toCef({ metadata: {} }), 'CEF:0|unknown|unknown|unknown|0|OCSF event|Unknown|');
  // Random text with every special character in the string attributes keeps its value.
  const r = rng(9);
  const pieces = ['a', '|', '=', '\\', '\r', '\n', '\r\n', ' ', 'é', '😀', '\\n', '=='];
  const text = () => { let s = 'x'; for (let n = 1 + Math.floor(r() * 6); n > 0; n--) s += pieces[Math.floor(r() * pieces.length)]; return s; };
  const scramble = (o: unknown): unknown => {
    if (typeof o === 'string') return /^\d|^[0-9a-f:.]+$/.test(o) ? o : text(); // addresses keep their syntax
    if (Array.isArray(o)) return o.map(scramble);
    if (o !== null && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, ['ip', 'mac'].includes(k) ? v : scramble(v)]));
    return o;
  };
  for (let i = 0; i < 20; i++) for (const ev of events) checkLine(scramble(ev) as Ev);
});

test('Authentication: the logged-on account is the destination user, the protocol and service are labelled', () => {
  const ev = one((e) => e.class_uid === 3002, 'Authentication');
  const a = checkLine(ev).ext;
  assert.equal(a.get('duser'), 'alice');
  assert.equal(a.get('duid'), 'alice@CORP.EXAMPLE');
  assert.equal(a.get('dntdom'), 'CORP.EXAMPLE');
  assert.equal(a.get('cs1'), 'Kerberos');
  assert.equal(a.get('cs2'), 'krbtgt/CORP.EXAMPLE');
  assert.equal(a.get('cs4'), 'AS');
  assert.equal(a.get('outcome'), 'Success');
  assert.equal(a.get('src'), CLIENT);
  assert.equal(a.get('dpt'), '88');
});

test('Network Activity: the enriched flow carries its device, user, app and traffic', () => {
  const ev = one((e) => e.class_uid === 4001 && e.dst_endpoint.port === 80 && e.activity_id === 2, 'closed HTTP flow');
  assert.equal(ev.app_name, 'Dropbox', 'the discovery enricher named the app');
  assert.ok(ev.device && ev.actor?.user, 'the identity enricher added device and user');
  const x = checkLine(ev).ext;
  assert.equal(x.get('suser'), 'alice');
  assert.equal(x.get('suid'), ev.actor.user.uid);
  assert.equal(x.get('sntdom'), 'CORP');
  assert.equal(x.get('flexString2'), 'alice@corp.example');
  assert.equal(x.get('flexString2Label'), 'userPrincipalName');
  assert.equal(x.get('shost'), 'alpha-pc');
  assert.equal(x.get('shost'), ev.device.hostname);
  assert.equal(x.get('smac'), A);
  assert.equal(x.get('src'), CLIENT);
  assert.equal(x.get('spt'), '40100');
  assert.equal(x.get('cs6'), ev.device.uid);
  assert.equal(x.get('cs6Label'), 'deviceUid');
  assert.equal(x.get('flexString1'), ev.device.os.name);
  assert.equal(x.get('dst'), DROPBOX);
  assert.equal(x.get('dpt'), '80');
  assert.equal(x.get('dhost'), 'www.dropbox.com');
  assert.equal(x.get('proto'), 'TCP');
  assert.equal(x.get('deviceDirection'), '1', 'outbound');
  // rev 25: in = bytes from source to destination = OCSF bytes_out (the client's request).
  assert.equal(x.get('in'), String(ev.traffic.bytes_out));
  assert.equal(x.get('out'), String(ev.traffic.bytes_in));
  assert.ok(ev.traffic.bytes_out > ev.traffic.bytes_in, 'the request is longer than the response');
  assert.equal(x.get('cn1'), String(ev.traffic.packets_out));
  assert.equal(x.get('cs1'), ev.connection_info.uid);
  assert.equal(x.get('cs2'), 'dropbox');
  assert.equal(x.get('cs2Label'), 'cloudAppId');
  assert.equal(x.get('cs3'), 'Dropbox');
  assert.equal(x.get('cs3Label'), 'cloudAppName');
  assert.equal(x.get('cs4'), ev.unmapped.cloud_app.category);
  assert.equal(x.get('cs5'), 'unsanctioned');
  assert.equal(x.get('cs5Label'), 'cloudAppSanction');
  assert.equal(x.get('cfp1'), String(ev.unmapped.cloud_app.risk_score));
  assert.equal(x.get('cfp1Label'), 'cloudAppRiskScore');
  assert.equal(x.get('act'), 'Close');
  assert.equal(x.get('cat'), 'Network Activity');
  assert.equal(x.get('externalId'), ev.metadata.uid);
  assert.equal(x.get('rt'), String(ev.time));
  assert.equal(x.has('app'), ev.app_protocol_name !== undefined);
});

test('HTTP, DNS, DHCP, inventory, API and summary events become useful lines', () => {
  const http = checkLine(one((e) => e.class_uid === 4002, 'HTTP Activity')).ext;
  const h = one((e) => e.class_uid === 4002, 'HTTP Activity');
  assert.equal(http.get('request'), 'http://www.dropbox.com/home');
  assert.equal(http.get('request'), h.http_request.url.url_string);
  assert.equal(http.get('requestMethod'), 'GET');
  assert.equal(http.get('requestClientApplication'), 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) a=b|c');
  assert.equal(http.get('dhost'), 'www.dropbox.com');
  assert.equal(http.get('app'), 'http');
  assert.equal(http.get('cn1'), '200');
  assert.equal(http.get('cn1Label'), 'httpStatus');

  const q = checkLine(one((e) => e.class_uid === 4003 && e.activity_id === 1, 'DNS query')).ext;
  assert.equal(q.get('cs1'), 'www.dropbox.com');
  assert.equal(q.get('cs1Label'), 'dnsQuery');
  assert.equal(q.get('cs2'), 'A');
  assert.equal(q.get('cn1'), String(0x2a2a));
  assert.equal(q.get('src'), CLIENT);
  assert.equal(q.get('dst'), ROUTER);
  const resp = one((e) => e.class_uid === 4003 && e.activity_id !== 1, 'DNS response');
  const a = checkLine(resp).ext;
  assert.equal(a.get('cs1'), 'www.dropbox.com');
  assert.equal(a.get('cs3'), `www-env.dropbox-dns.com,${DROPBOX}`);
  assert.equal(a.get('cs3Label'), 'dnsAnswers');
  assert.equal(a.get('cs4'), resp.rcode);

  const ackEv = one((e) => e.class_uid === 4004 && e.activity_id === 5, 'DHCP Ack');
  const ack = checkLine(ackEv).ext;
  assert.equal(ack.get('src'), CLIENT);
  assert.equal(ack.get('smac'), A);
  assert.equal(ack.get('dst'), ROUTER);
  assert.equal(ack.get('act'), 'Ack');
  assert.equal(ack.get('cn1'), '3600');
  assert.equal(ack.get('cn1Label'), 'dhcpLeaseSeconds');
  assert.equal(ack.get('cs1'), '00001111');
  assert.equal(ack.get('cs1Label'), 'dhcpTransactionId');
  const reqEv = checkLine(one((e) => e.class_uid === 4004 && e.activity_id === 3, 'DHCP Request')).ext;
  assert.equal(reqEv.get('shost'), 'alpha');
  assert.equal(reqEv.get('cs4'), 'MSFT 5.0');

  const invEv = one((e) => e.class_uid === 5001 && e.actor !== undefined, 'inventory event with a user');
  const inv = checkLine(invEv).ext;
  assert.equal(inv.get('shost'), invEv.device.hostname);
  assert.equal(inv.get('smac'), invEv.device.mac);
  assert.equal(inv.get('src'), CLIENT);
  assert.equal(inv.get('cs3'), CLIENT);
  assert.equal(inv.get('cs6'), invEv.device.uid);
  assert.equal(inv.get('flexString1'), invEv.device.os.name);
  assert.equal(inv.get('suser'), 'alice');
  assert.equal(inv.get('cs5'), invEv.unmapped.change);
  assert.equal(inv.get('deviceCustomDate1'), String(invEv.device.first_seen_time));
  assert.equal(inv.get('deviceCustomDate1Label'), 'deviceFirstSeen');

  const api = checkLine(one((e) => e.class_uid === 6003, 'API Activity')).ext;
  assert.equal(api.get('suser'), 'ops-token');
  assert.equal(api.get('spriv'), 'admin');
  assert.equal(api.get('src'), '192.0.2.7');
  assert.equal(api.get('outcome'), 'Success');
  assert.equal(api.get('cs1'), 'config.patch');
  assert.equal(api.get('cs2'), 'b1946ac92492d234');
  assert.equal(api.get('cs3'), '0f343b0931126a20');
  assert.equal(api.get('cs5'), 'forward.syslog,discovery.enabled');

  const sumEv = one((e) => e.class_uid === 0, 'discovery summary');
  const sum = checkLine(sumEv).ext;
  const s = sumEv.unmapped.discovery_summary;
  assert.ok(s.apps >= 1, 'the summary saw the Dropbox flow');
  assert.equal(sum.get('msg'), sumEv.message);
  assert.equal(sum.get('cn1'), String(s.apps));
  assert.equal(sum.get('cn2'), String(s.unsanctioned_apps));
  assert.equal(sum.get('in'), String(s.totals.bytes_up));
  assert.equal(sum.get('out'), String(s.totals.bytes_down));
  assert.ok(sum.get('cs2')!.split(',').includes('dropbox'));
  assert.equal(sum.get('start'), String(sumEv.start_time));
});

test('the device, user and cloud-app context an event carries reaches its line (a row of its class maps it)', () => {
  // What enrichment adds (src/events/ocsf.ts): should a class start to carry it, its line must too.
  const context = ['device.uid', 'device.hostname', 'device.mac', 'device.ip', 'device.os.name', 'actor.user.name', 'actor.user.uid', 'actor.user.uid_alt',
    'actor.user.domain', 'app_name', 'unmapped.cloud_app.id', 'unmapped.cloud_app.name', 'unmapped.cloud_app.category', 'unmapped.cloud_app.sanction', 'unmapped.cloud_app.risk_score'];
  const seen = new Set<string>();
  for (const ev of events) {
    const rows = CEF_MAP.filter((m) => m.classes === 'all' || m.classes.includes(ev.class_uid));
    for (const path of context) {
      if (!present(readPath(ev, path))) continue;
      seen.add(path);
      assert.ok(rows.some((m) => m.ocsf.split(' | ').includes(path)), `class ${ev.class_uid} carries ${path} but no row of its class maps it`);
    }
  }
  assert.deepEqual([...seen].sort(), [...context].sort(), 'the scenario exercises every context attribute');
});

test('CEF_MAP: one row per key and class, custom keys labelled, dictionary keys only', () => {
  const classes = new Set<number | 'other'>(['other']);
  for (const m of CEF_MAP) if (m.classes !== 'all') for (const c of m.classes) classes.add(c);
  for (const c of classes) {
    const rows = CEF_MAP.filter((m) => m.classes === 'all' || (c !== 'other' && m.classes.includes(c)));
    const keys = rows.map((m) => m.key);
    assert.equal(new Set(keys).size, keys.length, `class ${c}: a key twice in ${keys.join(' ')}`);
    const labels = rows.flatMap((m) => (m.label === undefined ? [] : [m.label]));
    assert.equal(new Set(labels).size, labels.length, `class ${c}: a label twice`);
  }
  for (const m of CEF_MAP) {
    assert.ok(DICTIONARY.has(m.key) && !m.key.endsWith('Label'), m.key);
    assert.equal(m.label !== undefined, CUSTOM.includes(m.key), `${m.key}: a label exactly when custom`);
    if (m.label !== undefined) assert.match(m.label, /^[A-Za-z0-9]+$/);
  }
});

test('docs/CEF.md holds CEF_MAP, row for row', () => {
  const doc = readFileSync(new URL('../docs/CEF.md', import.meta.url), 'utf8');
  const block = /<!-- cef-map:start -->\n([\s\S]*?)<!-- cef-map:end -->/.exec(doc);
  assert.ok(block, 'the cef-map block');
  const lines = block[1]!.trim().split('\n');
  assert.equal(lines[0], '| Classes | OCSF attribute | CEF key | Label | Conversion |');
  assert.match(lines[1]!, /^\|(---\|){5}$/);
  // Cells split on unescaped pipes; `\|` is a pipe inside a cell.
  const rows = lines.slice(2).map((l) => {
    const cells = l.replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
    assert.equal(cells.length, 5, l);
    const code = (c: string) => { assert.match(c, /^`[^`]+`$/, l); return c.slice(1, -1); };
    const [classes, ocsf, key, label, as] = cells as [string, string, string, string, string];
    const row: CefMapping = { classes: classes === 'all' ? 'all' : classes.split(',').map((c) => Number(c.trim())), ocsf: code(ocsf), key: code(key) };
    if (label !== '') row.label = label;
    if (as !== '') row.as = as as CefMapping['as'];
    return row;
  });
  const norm = (m: CefMapping) => ({ classes: m.classes === 'all' ? 'all' : [...m.classes], ocsf: m.ocsf, key: m.key, label: m.label, as: m.as });
  assert.deepEqual(rows.map(norm), CEF_MAP.map(norm));
  // The example lines are valid CEF, and hold only keys of their class.
  const examples = doc.split('\n').filter((l) => l.startsWith('CEF:0|'));
  assert.ok(examples.length >= 2);
  for (const l of examples) {
    const p = parseCef(l);
    const cls = Math.floor(Number(p.signatureId) / 100);
    const keys = new Set(CEF_MAP.filter((m) => m.classes === 'all' || m.classes.includes(cls)).flatMap((m) => [m.key, `${m.key}Label`]));
    for (const k of p.keys) assert.ok(keys.has(k), `${k} in an example of class ${cls}`);
  }
});
