/**
 * Device and user context on every event class, and flow identity (connection_info.uid), on a
 * small branch office built from packets: a router (locally administered MAC) serving DHCP and
 * DNS, client A (alpha) and client B (bravo, whose agent reports user alice), DNS lookups by
 * both, a TLS flow from A and an HTTP flow from B to a cloud app. Fed through the Sensor with
 * device identity as its enrich stage, the way `outpost run` / `outpost replay` assemble them.
 *
 * - every DNS (4003), DHCP (4004) and Device Inventory Info (5001) event names its device
 *   (uid, MAC, host name where known), and the user where one is bound then; Network (4001),
 *   HTTP (4002) and DNS events name the client's host name and MAC on src_endpoint;
 * - a DNS lookup carries the connection_info.uid of its UDP flow, an HTTP request the uid of
 *   its TCP flow; a DNS response carries its query's time; DHCP lease_dur only when granted;
 * - the router's locally administered MAC, seen serving DHCP, is not a randomized client MAC;
 * - two replays of the same packets (in-process, and two `outpost replay` runs of a pinned
 *   capture) share no connection_info.uid;
 * - every event is valid OCSF 1.8.0 (when the schema is there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { Sensor } from '../src/sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { DeviceIdentity } from '../src/devices/identity.js';
import { DeviceStore } from '../src/devices/store.js';
import { FlowUids } from '../src/events/flow-uid.js';
import type { OutpostEvent } from '../src/events/pipeline.js';
import { loadOcsfSchema } from './support/ocsf-schema.js';
import {
  ethernet, ipv4, tcp, udp, mac, ipv4Bytes, ETH_IPV4, ETH_ARP, PROTO_TCP, PROTO_UDP, TCP_SYN, TCP_ACK, TCP_FIN, TCP_PSH,
  records, handshake, chromeLikeClientHelloBody, dhcp4, ip4, u32be, str,
} from './pcap/packets.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OCSF_DIR = resolve(ROOT, '../shared/reference/ocsf-1.8.0');
const CLI = join(ROOT, 'dist', 'cli.js');

const ROUTER_MAC = '02:5e:10:00:00:01', ROUTER = '192.168.60.1';
const A_MAC = '00:16:3e:60:00:0a', A = '192.168.60.10';
const B_MAC = '3c:22:fb:60:00:0b', B = '192.168.60.11';
const CLOUD = '203.0.113.50';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const T0_MS = 1_700_000_000_000;

/** What the lab sends, in order: a frame, or the agent's heartbeat for B (applied between frames). */
type Step = { frame: Buffer } | { agent: true };

function labSteps(): Step[] {
  const steps: Step[] = [];
  const add = (frame: Buffer) => steps.push({ frame });
  const arp = (op: number, sha: string, spa: string, tha: string, tpa: string): Buffer => Buffer.concat([
    Buffer.from([0, 1, 8, 0, 6, 4, 0, op]), mac(sha), ipv4Bytes(spa), mac(tha), ipv4Bytes(tpa)]);
  // The router announces itself (gratuitous ARP, RFC 5227 §3).
  add(ethernet(BCAST, ROUTER_MAC, ETH_ARP, arp(2, ROUTER_MAC, ROUTER, BCAST, ROUTER), 60));
  // DORA for each client (RFC 2131 §3.1); the client asks for a 2-hour lease (option 51), the
  // router grants one hour.
  const dora = (xid: number, cmac: string, addr: string, name: string) => {
    const client: Array<[number, Buffer]> = [[12, str(name)], [51, u32be(7200)]];
    const server: Array<[number, Buffer]> = [[54, ip4(ROUTER)], [51, u32be(3600)], [1, ip4('255.255.255.0')]];
    const fromClient = (p: Buffer) => ethernet(BCAST, cmac, ETH_IPV4, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, p)));
    const fromServer = (p: Buffer) => ethernet(cmac, ROUTER_MAC, ETH_IPV4, ipv4({ src: ROUTER, dst: addr, proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, p)));
    add(fromClient(dhcp4({ xid, mac: cmac, msgType: 1, options: client })));
    add(fromServer(dhcp4({ xid, mac: cmac, msgType: 2, yiaddr: addr, options: server })));
    add(fromClient(dhcp4({ xid, mac: cmac, msgType: 3, options: [...client, [50, ip4(addr)], [54, ip4(ROUTER)]] })));
    add(fromServer(dhcp4({ xid, mac: cmac, msgType: 5, yiaddr: addr, options: server })));
  };
  dora(0x1111, A_MAC, A, 'alpha');
  dora(0x2222, B_MAC, B, 'bravo');
  steps.push({ agent: true });
  // DNS lookups through the router (RFC 1035 §4.1.1: the response repeats the query's ID).
  const lookup = (cmac: string, ip: string, port: number, id: number) => {
    const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'app.cloud.test' }] });
    const r = dnsPacket.encode({
      type: 'response', id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name: 'app.cloud.test' }], answers: [{ type: 'A', name: 'app.cloud.test', ttl: 60, data: CLOUD }],
    });
    add(ethernet(ROUTER_MAC, cmac, ETH_IPV4, ipv4({ src: ip, dst: ROUTER, proto: PROTO_UDP }, udp({ sport: port, dport: 53 }, q))));
    add(ethernet(cmac, ROUTER_MAC, ETH_IPV4, ipv4({ src: ROUTER, dst: ip, proto: PROTO_UDP }, udp({ sport: 53, dport: port }, r))));
  };
  lookup(A_MAC, A, 53001, 0x0a01);
  lookup(B_MAC, B, 53002, 0x0b02);
  // TCP connections to the cloud app through the router: TLS from A, HTTP from B.
  const conn = (cmac: string, ip: string, sport: number, dport: number, request: Buffer<ArrayBufferLike>, response: Buffer<ArrayBufferLike>) => {
    let cseq = 1000, sseq = 9000;
    const c = (flags: number, data: Buffer<ArrayBufferLike> = Buffer.alloc(0)) => {
      add(ethernet(ROUTER_MAC, cmac, ETH_IPV4, ipv4({ src: ip, dst: CLOUD, proto: PROTO_TCP }, tcp({ sport, dport, seq: cseq, ack: flags & TCP_ACK ? sseq : 0, flags }, data))));
      cseq += data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    };
    const s = (flags: number, data: Buffer<ArrayBufferLike> = Buffer.alloc(0)) => {
      add(ethernet(cmac, ROUTER_MAC, ETH_IPV4, ipv4({ src: CLOUD, dst: ip, proto: PROTO_TCP }, tcp({ sport: dport, dport: sport, seq: sseq, ack: flags & TCP_ACK ? cseq : 0, flags }, data))));
      sseq += data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    };
    c(TCP_SYN); s(TCP_SYN | TCP_ACK); c(TCP_ACK);
    c(TCP_PSH | TCP_ACK, request); s(TCP_PSH | TCP_ACK, response);
    c(TCP_FIN | TCP_ACK); s(TCP_FIN | TCP_ACK); c(TCP_ACK);
  };
  conn(A_MAC, A, 41001, 443, records(handshake(1, chromeLikeClientHelloBody(undefined, 'app.cloud.test'))), Buffer.alloc(0));
  conn(B_MAC, B, 41002, 80, Buffer.from('GET /files HTTP/1.1\r\nHost: app.cloud.test\r\nUser-Agent: curl/8.5.0\r\n\r\n'),
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  return steps;
}

interface LabRun { events: Ev[]; agentAtMs: number; counters: Record<string, number> }

/** The lab through a Sensor with device identity enriching, one packet per millisecond. */
function runLab(flowUids?: FlowUids): LabRun {
  const store = new DeviceStore();
  const identity = new DeviceIdentity({ store, emitDhcp: true, emitInventory: true });
  const events: Ev[] = [];
  const sensor = new Sensor({
    flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network', 'dns', 'http']), sink: (e: OutpostEvent) => { events.push(structuredClone(e)); },
    stages: [identity.stage], packetObservers: [identity.observer], httpObservers: [identity.onHttpRequest], ...(flowUids ? { flowUids } : {}),
  });
  identity.sink = sensor.pipeline.emit;
  let t = T0_MS, agentAtMs = 0;
  for (const s of labSteps()) {
    t += 1;
    if ('agent' in s) {
      agentAtMs = t;
      identity.applyAgentReport({ agentId: 'lab-b', hostname: 'bravo', macs: [B_MAC], addresses: [B], users: [{ name: 'alice', domain: 'corp.example', upn: 'alice@corp.example' }] }, t);
      continue;
    }
    sensor.onPacket(s.frame, 0, s.frame.length, s.frame.length, t * 1000, 1, 0);
  }
  sensor.flush();
  return { events, agentAtMs, counters: sensor.counters() };
}

const key = (e: Ev) => `${e.src_endpoint.ip}:${e.src_endpoint.port}>${e.dst_endpoint.ip}:${e.dst_endpoint.port}/${e.connection_info.protocol_num}`;

test('lab: every DNS, DHCP and inventory event names its device and the bound user; DNS and HTTP join their flows by uid', () => {
  const { events, agentAtMs, counters } = runLab();
  const byClass = (c: number) => events.filter((e) => e.class_uid === c);
  const hostOf: Record<string, string> = { [A]: 'alpha', [B]: 'bravo' };
  const macOf: Record<string, string> = { [A]: A_MAC, [B]: B_MAC };
  const userAfterAgent = (ip: string, atMs: number) => (ip === B && atMs >= agentAtMs ? 'alice' : undefined);

  // DNS Activity: one query and one response per client, each with the client's device.
  const dns = byClass(4003);
  assert.equal(dns.length, 4);
  for (const e of dns) {
    const ip = e.src_endpoint.ip as string;
    assert.ok(hostOf[ip], `querier ${ip}`);
    assert.equal(e.device?.hostname, hostOf[ip]);
    assert.equal(e.device?.mac, macOf[ip]);
    assert.equal(e.device?.ip, ip);
    assert.ok(e.device?.uid);
    assert.deepEqual(e.metadata.profiles, ['host']);
    assert.equal(e.src_endpoint.mac, macOf[ip], 'the querier\'s MAC (its DHCP binding)');
    assert.equal(e.src_endpoint.hostname, hostOf[ip]);
    assert.equal(e.actor?.user?.name, userAfterAgent(ip, e.time), `user of ${ip} at ${e.time}`);
    assert.equal(e.connection_info.direction_id, 3, 'client and resolver both inside: Lateral, as the flow');
    if (e.activity_id === 1) assert.equal(e.query_time, e.time);
    else {
      const q = dns.find((x) => x.activity_id === 1 && x.src_endpoint.port === e.src_endpoint.port)!;
      assert.equal(e.response_time, e.time);
      assert.equal(e.query_time, q.time, 'the response carries its query\'s time');
      assert.ok(e.response_time > e.query_time);
    }
  }
  assert.equal(counters['dns.responses_matched'], 2);

  // Network Activity: each flow's events share one uid, distinct flows distinct uids.
  const flows = byClass(4001);
  const uidOf = new Map<string, string>();
  for (const f of flows) {
    assert.match(f.connection_info.uid, /^C[0-9A-Za-z]{17}$/);
    const k = key(f);
    if (uidOf.has(k)) assert.equal(f.connection_info.uid, uidOf.get(k), `one uid for ${k}`);
    uidOf.set(k, f.connection_info.uid);
    const ip = f.src_endpoint.ip as string;
    if (hostOf[ip] !== undefined && f.src_endpoint.port !== 68) {
      assert.equal(f.src_endpoint.hostname, hostOf[ip], `src_endpoint.hostname of ${k}`);
      assert.equal(f.device?.hostname, hostOf[ip]);
      assert.equal(f.actor?.user?.name, userAfterAgent(ip, f.start_time), `user of ${k}`);
    }
  }
  assert.equal(new Set(uidOf.values()).size, uidOf.size, 'distinct flows, distinct uids');
  // DNS ↔ flow join: the lookup's uid is its UDP flow's.
  for (const e of dns) assert.equal(e.connection_info.uid, uidOf.get(key(e)), `DNS ${key(e)} joins its flow`);
  assert.notEqual(dns[0]!.connection_info.uid, dns.find((e) => e.src_endpoint.ip === B)!.connection_info.uid);

  // HTTP Activity: B's request carries its TCP flow's uid, B's device and alice.
  const http = byClass(4002);
  assert.equal(http.length, 1);
  const h = http[0]!;
  assert.equal(h.connection_info.uid, uidOf.get(`${B}:41002>${CLOUD}:80/6`));
  assert.equal(h.device?.hostname, 'bravo');
  assert.equal(h.src_endpoint.mac, B_MAC);
  assert.equal(h.actor?.user?.name, 'alice');
  assert.equal(uidOf.has(`${A}:41001>${CLOUD}:443/6`), true, 'A\'s TLS flow');

  // DHCP Activity: the client's device by its MAC; lease_dur only when granted.
  const dhcp = byClass(4004);
  assert.equal(dhcp.length, 8);
  for (const e of dhcp) {
    const cmac = e.src_endpoint.mac as string;
    const ip = cmac === A_MAC ? A : B;
    assert.equal(e.device?.mac, cmac);
    assert.equal(e.device?.hostname, hostOf[ip]);
    assert.ok(e.device?.uid);
    assert.equal(e.actor?.user, undefined, 'the DHCP exchanges came before the agent\'s report');
    if (e.activity_id === 2 || e.activity_id === 5) {
      assert.equal(e.lease_dur, 3600, `${e.activity_name}: the lease the server granted`);
      assert.equal(e.device.ip, ip);
    } else {
      assert.equal(e.lease_dur, undefined, `${e.activity_name}: no lease granted`);
      assert.equal(e.unmapped.dhcp_requested_lease_dur, 7200, `${e.activity_name}: the lease asked for`);
      assert.equal(e.device.ip, undefined, 'no address before the lease');
    }
  }

  // Device Inventory Info: the device itself, its address, and B's user and management once its agent reported.
  const inv = byClass(5001);
  assert.ok(inv.length >= 3);
  for (const e of inv) {
    assert.ok(e.device.uid && e.device.mac, 'inventory names the device');
    if (e.device.mac !== ROUTER_MAC) assert.ok(e.device.ip === A || e.device.ip === B || e.device.ip === undefined);
  }
  const routerInv = inv.filter((e) => e.device.mac === ROUTER_MAC);
  assert.ok(routerInv.length >= 1);
  assert.equal(routerInv.at(-1)!.device.ip, ROUTER);
  assert.equal(routerInv.at(-1)!.unmapped.randomized_mac, false, 'a DHCP server\'s locally administered MAC is not a randomized client MAC');
  const bManaged = inv.filter((e) => e.device.mac === B_MAC && e.time >= agentAtMs);
  assert.ok(bManaged.length >= 1, 'an inventory of B after its agent reported');
  for (const e of bManaged) {
    assert.equal(e.device.is_managed, true);
    assert.equal(e.device.ip, B);
  }
  // The report's user logging on is a change of its own: that inventory names the user.
  const logon = bManaged.filter((e) => e.unmapped.change === 'user');
  assert.equal(logon.length, 1);
  assert.equal(logon[0]!.actor?.user?.name, 'alice');
  assert.equal(logon[0]!.actor?.user?.uid_alt, 'alice@corp.example');
  assert.equal(logon[0]!.device.owner?.name, 'alice');
  for (const e of inv.filter((x) => x.device.mac === A_MAC)) {
    assert.equal(e.device.is_managed, undefined);
    assert.equal(e.actor, undefined);
  }

  if (existsSync(OCSF_DIR)) {
    const schema = loadOcsfSchema(OCSF_DIR);
    for (const e of events) assert.deepEqual(schema.validate(e), [], `${e.class_uid}: ${JSON.stringify(e).slice(0, 300)}`);
  }
});

test('a router\'s locally administered MAC seen only by ARP stays randomized (no evidence it is not)', () => {
  const store = new DeviceStore();
  const identity = new DeviceIdentity({ store });
  const arp = Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, 2]), mac(ROUTER_MAC), ipv4Bytes(ROUTER), mac(BCAST), ipv4Bytes(ROUTER)]);
  const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(), packetObservers: [identity.observer] });
  const f = ethernet(BCAST, ROUTER_MAC, ETH_ARP, arp, 60);
  sensor.onPacket(f, 0, f.length, f.length, T0_MS * 1000, 1, 0);
  assert.equal(store.devices.byMacAddress(ROUTER_MAC)?.randomizedMac, true);
});

test('two replays of the same packets share no connection_info.uid; within one, a flow keeps its uid', () => {
  const uids = (r: LabRun) => new Set(r.events.filter((e) => e.connection_info?.uid !== undefined).map((e) => e.connection_info.uid as string));
  const one = uids(runLab()), two = uids(runLab());
  assert.ok(one.size >= 6, `flows: ${one.size}`);
  assert.equal(one.size, two.size);
  for (const u of one) assert.ok(!two.has(u), `uid ${u} in both replays`);
  // A fixed key gives the same uids: the randomness is the key's alone.
  const seed = Buffer.alloc(20, 7);
  assert.deepEqual([...uids(runLab(new FlowUids(seed)))], [...uids(runLab(new FlowUids(seed)))]);
});

test('flow uids: distinct for distinct flow numbers, 18 characters, differ with the key', () => {
  const a = new FlowUids(Buffer.alloc(20, 1)), b = new FlowUids(Buffer.alloc(20, 2));
  const seen = new Set<string>();
  for (let n = 1; n <= 100_000; n++) seen.add(a.of(n));
  assert.equal(seen.size, 100_000);
  for (const u of seen) assert.match(u, /^C[0-9A-Za-z]{17}$/);
  for (let n = 1; n <= 1000; n++) assert.ok(!seen.has(b.of(n)));
  assert.equal(a.of(Number.MAX_SAFE_INTEGER).length, 18);
});

test('flow uids: the same strings for the same key and flow number as the digit-pair form', () => {
  // Values of the earlier implementation (base62 digit pairs joined with +), pinned: a change of
  // how the string is built must not change a uid.
  const u = new FlowUids(Buffer.from('000102030405060708090a0b0c0d0e0f10111213', 'hex'));
  const pinned: Array<[number, string]> = [
    [0, 'C1OuND224xUaHIF1MJ'], [1, 'C0qaOY32S4lfaIF1MJ'], [2, 'C1G9AYb2N7wLsIF1MJ'], [61, 'C28RDU44eFp2xIF1MJ'],
    [62, 'C32D3f70rEbBoIF1MJ'], [3843, 'C2MA8tM1WSHwHIF1MJ'], [3844, 'C2sdEDr0f99G2IF1MJ'], [238327, 'C00AvKs0RKg2wIF1MJ'],
    [238328, 'C4OXkit1dwgPxIF1MJ'], [4294967295, 'C0K8xVz2YcPDhIF1MJ'], [4294967296, 'C0OBuNQ2crfxRIF1MJ'],
    [2 ** 40 + 12345, 'C2bdWn92UItj4IF1MJ'], [Number.MAX_SAFE_INTEGER, 'C2gXEjT3aNwGKIF1MJ'],
  ];
  for (const [n, uid] of pinned) assert.equal(u.of(n), uid, `flow ${n}`);
  const w = new FlowUids(Buffer.alloc(20, 0xff));
  assert.deepEqual([0, 1, 4294967295, Number.MAX_SAFE_INTEGER].map((n) => w.of(n)),
    ['C3d4tlV0wuKsUgfFC3', 'C38VUHS0TYfzAgfFC3', 'C49hsH730haK3gfFC3', 'C18T8ue1ed8PNgfFC3']);
});

test('two `outpost replay` runs of one capture share no connection_info.uid', { skip: existsSync(CLI) ? false : 'dist/cli.js missing: run npm run build' }, () => {
  const replay = () => {
    const r = spawnSync(process.execPath, [CLI, 'replay', 'input.pcap', '--emit', 'network,dns', '--with='], { cwd: join(ROOT, 'test/pcap/dns-cache'), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const evs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
    // The DNS events and the flow they travelled in share its uid.
    const udpFlow = evs.find((e) => e.class_uid === 4001 && e.connection_info.protocol_num === 17)!;
    for (const e of evs.filter((x) => x.class_uid === 4003)) assert.equal(e.connection_info.uid, udpFlow.connection_info.uid);
    return new Set(evs.map((e) => e.connection_info.uid as string));
  };
  const one = replay(), two = replay();
  assert.equal(one.size, 2);
  for (const u of one) assert.ok(!two.has(u), `uid ${u} in both replays`);
});
