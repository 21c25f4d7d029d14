import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Sensor } from '../sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../flows/flow-table.js';
import { loadOcsfSchema } from '../../test/support/ocsf-schema.js';
import { DeviceIdentity } from './identity.js';
import { DeviceStore } from './store.js';
import { dhcp4, ip4, u32be, str } from '../../test/fixtures/dhcp.js';
import { ethernet, ipv4, ipv6, udp, tcp, mac, ipv4Bytes, ipv6Bytes, ETH_IPV4, ETH_IPV6, ETH_ARP, PROTO_UDP, PROTO_ICMPV6, TCP_SYN, TCP_ACK, TCP_FIN } from '../../test/support/packets.js';

const schemaDir = resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const noSchema = existsSync(schemaDir) ? false : `OCSF schema absent at ${schemaDir}`;

const SRV_MAC = '00:00:5e:00:53:01', A = '00:11:22:33:44:55', B = '3c:22:fb:00:00:02', C = '00:16:3e:00:00:03';
const BCAST = 'ff:ff:ff:ff:ff:ff';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function dhcpFrame(fromClient: boolean, clientMac: string, payload: Buffer): Buffer {
  const ip = fromClient ? ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, payload))
    : ipv4({ src: '10.0.0.1', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, payload));
  return fromClient ? ethernet(BCAST, clientMac, ETH_IPV4, ip) : ethernet(BCAST, SRV_MAC, ETH_IPV4, ip);
}

function lease(xid: number, clientMac: string, name: string, addr: string, opts: { vendorClass?: string; prl?: number[]; clientId?: Buffer } = {}): Buffer[] {
  const extra: Array<[number, Buffer]> = [[12, str(name)]];
  if (opts.clientId) extra.push([61, opts.clientId]);
  if (opts.vendorClass) extra.push([60, str(opts.vendorClass)]);
  if (opts.prl) extra.push([55, Buffer.from(opts.prl)]);
  const server: Array<[number, Buffer]> = [[54, ip4('10.0.0.1')], [51, u32be(3600)]];
  return [
    dhcpFrame(true, clientMac, dhcp4({ xid, mac: clientMac, msgType: 1, options: extra })),
    dhcpFrame(false, clientMac, dhcp4({ xid, mac: clientMac, msgType: 2, yiaddr: addr, options: server })),
    dhcpFrame(true, clientMac, dhcp4({ xid, mac: clientMac, msgType: 3, options: [...extra, [50, ip4(addr)], [54, ip4('10.0.0.1')]] })),
    dhcpFrame(false, clientMac, dhcp4({ xid, mac: clientMac, msgType: 5, yiaddr: addr, options: server })),
  ];
}

function flow(clientMac: string, src: string, sport: number): Buffer[] {
  const out = (flags: number) => ethernet(SRV_MAC, clientMac, ETH_IPV4, ipv4({ src, dst: '93.184.216.34' }, tcp({ sport, dport: 443, flags })));
  const back = (flags: number) => ethernet(clientMac, SRV_MAC, ETH_IPV4, ipv4({ src: '93.184.216.34', dst: src }, tcp({ sport: 443, dport: sport, flags })));
  return [out(TCP_SYN), back(TCP_SYN | TCP_ACK), out(TCP_ACK), out(TCP_FIN | TCP_ACK), back(TCP_FIN | TCP_ACK), out(TCP_ACK)];
}

function arpReply(sha: string, spa: string): Buffer {
  return ethernet(BCAST, sha, ETH_ARP, Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, 2]), mac(sha), ipv4Bytes(spa), mac(BCAST), ipv4Bytes(spa)]), 60);
}

function run(frames: Array<[number, Buffer]>, identity: DeviceIdentity, events: Ev[]): Sensor {
  const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => events.push(e as Ev), packetObservers: [identity.observer], stages: [identity.stage] });
  for (const [tsMs, f] of frames) sensor.onPacket(f, 0, f.length, f.length, tsMs * 1000, 1, 0);
  sensor.flush();
  return sensor;
}

function scenario(): { identity: DeviceIdentity; events: Ev[]; sensor: Sensor } {
  const events: Ev[] = [];
  const identity = new DeviceIdentity({ store: new DeviceStore(), emitDhcp: true, emitInventory: true, sink: (e) => events.push(e as Ev) });
  const T = 1_700_000_000_000;
  const frames: Array<[number, Buffer]> = [];
  const at = (ms: number, fs: Buffer[]) => fs.forEach((f, i) => frames.push([T + ms + i, f]));
  at(1000, lease(0x1111, A, 'alpha', '10.0.0.5', { vendorClass: 'MSFT 5.0', prl: [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252] }));
  at(2000, flow(A, '10.0.0.5', 40000));
  at(3000, [arpReply(C, '10.0.0.7')]);
  at(10_000, [dhcpFrame(true, A, dhcp4({ xid: 0x2222, mac: A, msgType: 7, ciaddr: '10.0.0.5', options: [[54, ip4('10.0.0.1')]] }))]);
  at(20_000, lease(0x3333, B, 'bravo', '10.0.0.5'));
  at(21_000, flow(B, '10.0.0.5', 40001));
  at(22_000, flow(C, '10.0.0.7', 40002));
  // NDP: neighbor advertisement for C's IPv6 address.
  const na = Buffer.concat([Buffer.from([136, 0, 0, 0, 0x20, 0, 0, 0]), ipv6Bytes('2001:db8::7'), Buffer.from([2, 1]), mac(C)]);
  at(23_000, [ethernet('33:33:00:00:00:01', C, ETH_IPV6, ipv6({ src: '2001:db8::7', dst: 'ff02::1', nextHeader: PROTO_ICMPV6, hopLimit: 255 }, na))]);
  // The agent on C reports its user before C's flow.
  identity.applyAgentReport({ agentId: 'agent-c', hostname: 'charlie', macs: [C], addresses: ['10.0.0.7'], users: [{ name: 'alice', domain: 'CORP', uid: 'S-1-5-21-1' }], os: 'Debian GNU/Linux 12' }, T + 5000);
  frames.sort((x, y) => x[0] - y[0]);
  const sensor = run(frames, identity, events);
  return { identity, events, sensor };
}

test('flows map to the device that held the client address at the time, with its user; DHCP and inventory events', () => {
  const { identity, events } = scenario();
  const flows = events.filter((e) => e.class_uid === 4001 && e.connection_info.protocol_num === 6);
  const bySport = (p: number) => flows.find((e) => e.src_endpoint.port === p)!;
  assert.equal(bySport(40000).device.hostname, 'alpha');
  assert.equal(bySport(40000).device.mac, A);
  assert.equal(bySport(40000).device.os.name, 'Windows');
  assert.equal(bySport(40001).device.hostname, 'bravo', 'the same address, later, is B');
  assert.equal(bySport(40001).device.mac, B);
  assert.equal(bySport(40002).device.hostname, 'charlie');
  assert.deepEqual(bySport(40002).actor.user, { name: 'alice', domain: 'CORP', uid: 'S-1-5-21-1' });
  assert.equal(bySport(40000).actor, undefined);
  assert.ok(bySport(40000).metadata.profiles.includes('host'));
  const dhcp = events.filter((e) => e.class_uid === 4004);
  assert.equal(dhcp.length, 9);
  const ack = dhcp.find((e) => e.activity_id === 5 && e.transaction_uid === '00001111')!;
  assert.equal(ack.src_endpoint.ip, '10.0.0.5');
  assert.equal(ack.src_endpoint.mac, A);
  assert.equal(ack.dst_endpoint.ip, '10.0.0.1');
  assert.equal(ack.lease_dur, 3600);
  assert.equal(dhcp.find((e) => e.activity_id === 3 && e.transaction_uid === '00001111')!.src_endpoint.hostname, 'alpha');
  const inv = events.filter((e) => e.class_uid === 5001);
  assert.ok(inv.some((e) => e.device.hostname === 'charlie' && e.unmapped.agent_id === 'agent-c'));
  assert.ok(inv.some((e) => e.unmapped.change === 'new' && e.device.mac === B));
  const c = identity.counters();
  assert.equal(c['dhcp.v4.messages'], 9);
  assert.equal(c['arp.messages'], 1);
  assert.equal(c['ndp.messages'], 1);
  assert.equal(c['devices.address_bound'], 4);
  assert.equal(identity.store.addresses.lookup('2001:db8::7', 1_700_000_023_500)?.hostname, 'charlie');
});

test('every event built here validates against OCSF 1.8.0', { skip: noSchema }, () => {
  const schema = loadOcsfSchema(schemaDir);
  const { events } = scenario();
  const classes = new Set<number>();
  for (const e of events) {
    classes.add(e.class_uid);
    assert.deepEqual(schema.validate(e), [], `${e.class_uid} ${JSON.stringify(e).slice(0, 400)}`);
  }
  assert.deepEqual([...classes].sort(), [4001, 4004, 5001]);
});

test('identity lookups per second (informational)', () => {
  const s = new DeviceStore();
  for (let i = 0; i < 1000; i++) {
    const d = s.links.identify({ mac: `00:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, trust: 3, source: 'dhcp', atMs: 0 })!;
    s.addresses.bind(`10.0.${i >> 8}.${i & 255}`, d, undefined, 3, 0, 1e12);
  }
  const n = 200_000;
  const t0 = process.hrtime.bigint();
  let hits = 0;
  for (let i = 0; i < n; i++) if (s.addresses.lookup(`10.0.${(i % 1000) >> 8}.${i % 1000 & 255}`, 1000) !== undefined) hits++;
  const s1 = Number(process.hrtime.bigint() - t0) / 1e9;
  assert.equal(hits, n);
  console.log(`# identity lookups: ${Math.round(n / s1)} per second`);
});

test('restart: identities learned before a restart (LMDB) attribute flows after it', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-identity-'));
  try {
    const T = 1_700_000_000_000;
    const s1 = new DeviceStore();
    s1.open(join(dir, 'devices'));
    const id1 = new DeviceIdentity({ store: s1 });
    run(lease(0x77, A, 'alpha', '10.0.0.5').map((f, i) => [T + i, f] as [number, Buffer]), id1, []);
    id1.applyAgentReport({ agentId: 'ag', macs: [A], users: [{ name: 'alice' }] }, T + 10);
    await s1.close();
    const s2 = new DeviceStore();
    s2.open(join(dir, 'devices'));
    const events: Ev[] = [];
    run(flow(A, '10.0.0.5', 41000).map((f, i) => [T + 60_000 + i, f] as [number, Buffer]), new DeviceIdentity({ store: s2 }), events);
    const f = events.find((e) => e.class_uid === 4001)!;
    assert.equal(f.device.hostname, 'alpha');
    assert.equal(f.device.mac, A);
    assert.equal(f.actor.user.name, 'alice');
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a DHCP ACK newer than the agent\'s last report of an address moves it: flows after it are the new holder\'s, without the laptop\'s user', () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const T = 1_700_000_000_000;
  identity.applyAgentReport({ agentId: 'laptop-17', hostname: 'laptop', macs: [C], addresses: ['10.0.0.50'], users: [{ name: 'alice', domain: 'CORP' }] }, T);
  const frames: Array<[number, Buffer]> = [];
  const at = (ms: number, fs: Buffer[]) => fs.forEach((f, i) => frames.push([T + ms + i, f]));
  at(10_000, flow(C, '10.0.0.50', 42000));
  at(60_000, lease(0x5555, B, 'bravo', '10.0.0.50')); // within agentHeartbeatTtlMs of the report
  at(70_000, flow(B, '10.0.0.50', 42001));
  const events: Ev[] = [];
  run(frames, identity, events);
  const bySport = (p: number) => events.find((e) => e.class_uid === 4001 && e.src_endpoint.port === p)!;
  assert.equal(bySport(42000).device.hostname, 'laptop');
  assert.equal(bySport(42000).actor.user.name, 'alice');
  assert.equal(bySport(42001).device.hostname, 'bravo');
  assert.equal(bySport(42001).device.mac, B);
  assert.equal(bySport(42001).actor, undefined, 'no user of the laptop on the new holder');
  const h = identity.store.addresses.history('10.0.0.50');
  assert.equal(h[0]!.toMs, T + 60_003, 'the agent interval closed at the ACK');
  assert.equal(identity.counters()['devices.binding_refused_lower_trust'], 0);
});

function arpFrame(op: number, sha: string, spa: string, tha: string, tpa: string): Buffer {
  return ethernet(BCAST, sha, ETH_ARP, Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, op]), mac(sha), ipv4Bytes(spa), mac(tha), ipv4Bytes(tpa)]), 60);
}

test('ARP: a gratuitous announcement and a probe are counted; a second MAC claiming a held IPv4 address is a conflict', () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const T = 1_700_000_000_000, Z = '00:00:00:00:00:00';
  run([
    [T, arpFrame(1, B, '0.0.0.0', Z, '10.0.0.20')], // RFC 5227 probe: no binding
    [T + 100, arpFrame(1, B, '10.0.0.20', Z, '10.0.0.20')], // gratuitous announcement
    [T + 200, arpFrame(2, B, '10.0.0.20', BCAST, '10.0.0.20')], // gratuitous reply, same MAC: no conflict
    [T + 1000, arpFrame(2, C, '10.0.0.20', A, '10.0.0.1')], // another MAC claims it
    [T + 2000, arpFrame(2, A, '10.0.0.1', C, '10.0.0.20')], // an unrelated address: no conflict
    ...lease(0x99, A, 'alpha', '10.0.0.30').map((f, i) => [T + 3000 + i, f] as [number, Buffer]),
    [T + 4000, arpFrame(1, C, '10.0.0.30', Z, '10.0.0.30')], // gratuitous claim on a leased address
  ], identity, []);
  const c = identity.counters();
  assert.equal(c['arp.messages'], 6);
  assert.equal(c['arp.probes'], 1);
  assert.equal(c['arp.gratuitous'], 3);
  assert.equal(c['arp.conflicts'], 2, 'counted whether the claim wins (10.0.0.20) or is refused (10.0.0.30)');
  assert.equal(c['devices.binding_refused_lower_trust'], 1);
  assert.equal(identity.store.addresses.lookup('10.0.0.30', T + 4500)?.macs[0], A, 'the lease holds');
  const s = identity.store;
  assert.equal(s.addresses.lookup('10.0.0.20', T + 50), undefined, 'a probe binds nothing');
  assert.equal(s.addresses.lookup('10.0.0.20', T + 500)?.macs[0], B);
  assert.equal(s.addresses.lookup('10.0.0.20', T + 1500)?.macs[0], C, 'equal trust: the newer claim wins');
});

test('a randomized MAC seen first by ARP, then in a DHCP request with a known client id, joins the existing device', () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const T = 1_700_000_000_000, R1 = '02:11:22:33:44:01', R2 = '02:11:22:33:44:02';
  const request = (xid: number, m: string) => dhcpFrame(true, m, dhcp4({ xid, mac: m, msgType: 3, options: [[61, Buffer.from([1, 0xaa, 0xbb])], [12, str('phone')]] }));
  const frames: Array<[number, Buffer]> = [
    [T, request(1, R1)],
    [T + 1000, arpReply(R2, '10.0.0.61')],
    [T + 2000, request(2, R2)],
  ];
  run(frames, identity, []);
  const s = identity.store;
  const d = s.devices.byMacAddress(R1)!;
  assert.equal(s.devices.byMacAddress(R2), d);
  assert.deepEqual(d.macs, [R1, R2]);
  const link = d.links.find((l) => l.mac === R2)!;
  assert.equal(link.reason, 'dhcp_client_id');
  assert.equal(link.confidence, 0.9);
  assert.equal(s.addresses.lookup('10.0.0.61', T + 1500)?.uid, d.uid);
  assert.equal(s.devices.size, 1);
});

test('User-Agent OS hints come from the HTTP requests of a flow with only Network Activity emitted', () => {
  const events: Ev[] = [];
  const store = new DeviceStore();
  const identity = new DeviceIdentity({ store });
  const sensor = new Sensor({
    flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => events.push(e as Ev),
    packetObservers: [identity.observer], stages: [identity.stage], httpObservers: [identity.onHttpRequest],
  });
  const T = 1_700_000_000_000;
  const frames: Array<[number, Buffer]> = [];
  lease(0x4444, A, 'alpha', '10.0.0.5').forEach((f, i) => frames.push([T + i, f]));
  const request = Buffer.from('GET / HTTP/1.1\r\nHost: example.test\r\nUser-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)\r\n\r\n');
  const out = (flags: number, seq: number, payload?: Buffer) => ethernet(SRV_MAC, A, ETH_IPV4, ipv4({ src: '10.0.0.5', dst: '93.184.216.34' }, tcp({ sport: 40100, dport: 80, flags, seq }, payload)));
  const back = (flags: number, seq: number) => ethernet(A, SRV_MAC, ETH_IPV4, ipv4({ src: '93.184.216.34', dst: '10.0.0.5' }, tcp({ sport: 80, dport: 40100, flags, seq })));
  [out(TCP_SYN, 1), back(TCP_SYN | TCP_ACK, 100), out(TCP_ACK, 2), out(TCP_ACK, 2, request), out(TCP_FIN | TCP_ACK, 2 + request.length), back(TCP_FIN | TCP_ACK, 101)]
    .forEach((f, i) => frames.push([T + 1000 + i, f]));
  for (const [tsMs, f] of frames) sensor.onPacket(f, 0, f.length, f.length, tsMs * 1000, 1, 0);
  sensor.flush();
  assert.ok(events.every((e) => e.class_uid === 4001), 'no HTTP Activity event was asked for');
  const d = store.devices.byMacAddress(A)!;
  assert.equal(d.os?.name, 'iOS', JSON.stringify(d.os));
  assert.match(d.os?.evidence ?? '', /^user_agent:Mozilla\/5\.0 \(iPhone/);
});

test('Device Inventory Info lists each address with the interface (MAC) that took it', () => {
  const events: Ev[] = [];
  const identity = new DeviceIdentity({ store: new DeviceStore(), emitInventory: true, sink: (e) => events.push(e as Ev) });
  const R = '02:5e:00:00:00:09'; // the same laptop's randomized Wi-Fi MAC, same DHCP client id
  const clientId = Buffer.from([0xff, 1, 2, 3, 4, 5, 6, 7, 8]);
  const T = 1_700_000_000_000;
  const frames: Array<[number, Buffer]> = [];
  lease(0x5151, A, 'alpha', '10.0.0.5', { clientId }).forEach((f, i) => frames.push([T + i, f]));
  lease(0x5252, R, 'alpha', '10.0.0.6', { clientId }).forEach((f, i) => frames.push([T + 1000 + i, f]));
  run(frames, identity, events);
  const last = events.filter((e) => e.class_uid === 5001).at(-1)!;
  assert.deepEqual(last.device.network_interfaces.map((n: Ev) => `${n.mac} ${n.ip}`).sort(), [`${A} 10.0.0.5`, `${R} 10.0.0.6`]);
});
