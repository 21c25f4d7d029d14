/**
 * DHCP Activity (4004) events and DHCP address binding, from real DHCPv4 / DHCPv6 packets fed
 * through the Sensor to `DeviceIdentity.observer`, the way the daemon does it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Sensor } from '../sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../flows/flow-table.js';
import { loadOcsfSchema } from '../../test/support/ocsf-schema.js';
import { DeviceIdentity } from './identity.js';
import { DeviceStore } from './store.js';
import { dhcp4, dhcp6, opt6, ip4, u32be, str } from '../../test/fixtures/dhcp.js';
import { DHCP6_MAX_IA_ADDRESSES } from '../protocols/dhcp/dhcp6.js';
import { ethernet, ipv4, ipv6, udp, mac, ipv6Bytes, ETH_IPV4, ETH_IPV6, PROTO_UDP } from '../../test/support/packets.js';

const schemaDir = resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const noSchema = existsSync(schemaDir) ? false : `OCSF schema absent at ${schemaDir}`;

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SRV_MAC = '00:00:5e:00:53:01', RELAY_MAC = '00:00:5e:00:53:02', BCAST = 'ff:ff:ff:ff:ff:ff';
const A = '00:11:22:33:44:55', B = '3c:22:fb:00:00:02', C = '00:16:3e:00:00:03', V6 = '00:16:3e:00:00:06';
const T = 1_700_000_000_000;

function v4Frame(fromClient: boolean, clientMac: string, payload: Buffer): Buffer {
  const ip = fromClient ? ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, payload))
    : ipv4({ src: '10.0.0.1', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, payload));
  return fromClient ? ethernet(BCAST, clientMac, ETH_IPV4, ip) : ethernet(BCAST, SRV_MAC, ETH_IPV4, ip);
}

/** Relay agent ↔ server leg (RFC 2131 §4.1: relay to server port 67, server back to the relay's port 67). */
function relayedFrame(toServer: boolean, payload: Buffer): Buffer {
  const ip = toServer ? ipv4({ src: '10.9.0.1', dst: '10.0.0.1', proto: PROTO_UDP }, udp({ sport: 67, dport: 67 }, payload))
    : ipv4({ src: '10.0.0.1', dst: '10.9.0.1', proto: PROTO_UDP }, udp({ sport: 67, dport: 67 }, payload));
  return toServer ? ethernet(SRV_MAC, RELAY_MAC, ETH_IPV4, ip) : ethernet(RELAY_MAC, SRV_MAC, ETH_IPV4, ip);
}

/** DISCOVER / OFFER / REQUEST / ACK; `client` options go in DISCOVER and REQUEST, `ack` extra options in the ACK. */
function lease4(xid: number, clientMac: string, addr: string, client: Array<[number, Buffer]>, ack: Array<[number, Buffer]> = []): Buffer[] {
  const server: Array<[number, Buffer]> = [[54, ip4('10.0.0.1')], [51, u32be(3600)]];
  return [
    v4Frame(true, clientMac, dhcp4({ xid, mac: clientMac, msgType: 1, options: client })),
    v4Frame(false, clientMac, dhcp4({ xid, mac: clientMac, msgType: 2, yiaddr: addr, options: server })),
    v4Frame(true, clientMac, dhcp4({ xid, mac: clientMac, msgType: 3, options: [...client, [50, ip4(addr)], [54, ip4('10.0.0.1')]] })),
    v4Frame(false, clientMac, dhcp4({ xid, mac: clientMac, msgType: 5, yiaddr: addr, options: [...server, ...ack] })),
  ];
}

/** RFC 4702 §2: flags (E = wire format), RCODE1, RCODE2, then the name in DNS wire format. */
function fqdn4(name: string): Buffer {
  return Buffer.concat([Buffer.from([0x05, 0, 0]), ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), str(l)])), Buffer.from([0])]);
}

function run(frames: Buffer[], identity: DeviceIdentity, startMs = T): void {
  const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: () => {}, packetObservers: [identity.observer], stages: [identity.stage] });
  frames.forEach((f, i) => sensor.onPacket(f, 0, f.length, f.length, (startMs + i * 10) * 1000, 1, 0));
  sensor.flush();
}

function newIdentity(): { identity: DeviceIdentity; events: Ev[] } {
  const events: Ev[] = [];
  const identity = new DeviceIdentity({ store: new DeviceStore(), emitDhcp: true, emitInventory: true, sink: (e) => events.push(e as Ev) });
  return { identity, events };
}

const acks = (events: Ev[]) => events.filter((e) => e.class_uid === 4004 && e.activity_id === 5);

test('DHCPv4 ACK event: client MAC, assigned address and the host name the client asked with (option 12, else option 81)', () => {
  const { identity, events } = newIdentity();
  run([
    // A asks with option 12 only; the ACK carries no host name (what dnsmasq and most servers do).
    ...lease4(0x0a0a0a0a, A, '10.0.0.5', [[12, str('alpha')]]),
    // B asks with an FQDN (option 81) only.
    ...lease4(0x0b0b0b0b, B, '10.0.0.6', [[81, fqdn4('bravo.corp.example')]]),
    // C asks as "charlie"; the server's ACK names it "c-17" (a reservation): the server's wins.
    ...lease4(0x0c0c0c0c, C, '10.0.0.7', [[12, str('charlie')]], [[12, str('c-17')]]),
  ], identity);
  const byXid = (x: string) => acks(events).find((e) => e.transaction_uid === x)!;
  const a = byXid('0a0a0a0a');
  assert.deepEqual([a.src_endpoint.mac, a.src_endpoint.ip, a.src_endpoint.hostname, a.lease_dur], [A, '10.0.0.5', 'alpha', 3600]);
  const b = byXid('0b0b0b0b');
  assert.deepEqual([b.src_endpoint.mac, b.src_endpoint.ip, b.src_endpoint.hostname], [B, '10.0.0.6', 'bravo.corp.example']);
  assert.equal(b.unmapped.dhcp_client_fqdn, undefined, 'the ACK\'s own options only');
  assert.equal(b.unmapped.dhcp_requested_host_name, undefined);
  const c = byXid('0c0c0c0c');
  assert.deepEqual([c.src_endpoint.mac, c.src_endpoint.ip, c.src_endpoint.hostname], [C, '10.0.0.7', 'c-17']);
  assert.equal(c.unmapped.dhcp_requested_host_name, 'charlie', 'the name the client asked with, kept when the server gave another');
  assert.equal(a.unmapped.dhcp_requested_host_name, undefined, 'not repeated when it is the host name');
  // The event and the device store agree on the name.
  assert.equal(identity.store.addresses.lookup('10.0.0.5', T + 1000)?.hostname, 'alpha');
  assert.equal(identity.store.addresses.lookup('10.0.0.7', T + 1000)?.hostname, 'c-17');
  // The transaction is finished: a second ACK with the same xid does not reuse the name.
  events.length = 0;
  run([v4Frame(false, A, dhcp4({ xid: 0x0a0a0a0a, mac: A, msgType: 5, yiaddr: '10.0.0.5', options: [[54, ip4('10.0.0.1')], [51, u32be(3600)]] }))], identity, T + 5000);
  assert.equal(acks(events)[0]!.src_endpoint.hostname, undefined);
});

test('DHCPv4: a pending request is used only by the ACK for the same client MAC (xid collision)', () => {
  const { identity, events } = newIdentity();
  run([
    v4Frame(true, A, dhcp4({ xid: 42, mac: A, msgType: 3, options: [[12, str('alpha')], [50, ip4('10.0.0.5')]] })),
    // Another client that happened to draw the same xid (RFC 2131 §4.1: chosen at random).
    v4Frame(false, B, dhcp4({ xid: 42, mac: B, msgType: 5, yiaddr: '10.0.0.6', options: [[54, ip4('10.0.0.1')], [51, u32be(60)]] })),
    v4Frame(false, A, dhcp4({ xid: 42, mac: A, msgType: 5, yiaddr: '10.0.0.5', options: [[54, ip4('10.0.0.1')], [51, u32be(60)]] })),
  ], identity);
  const [b, a] = acks(events);
  assert.equal(b!.src_endpoint.mac, B);
  assert.equal(b!.src_endpoint.hostname, undefined, 'B never asked as alpha');
  assert.equal(identity.store.addresses.lookup('10.0.0.6', T + 100)?.hostname, undefined);
  assert.equal(a!.src_endpoint.hostname, 'alpha');
});

test('DHCPv4 relay agent information (RFC 3046 §3.1, §3.2): circuit id and remote id in unmapped; giaddr in relay', () => {
  const { identity, events } = newIdentity();
  const remote = Buffer.from([0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x01]);
  const opt82 = (circuit: Buffer) => Buffer.concat([Buffer.from([1, circuit.length]), circuit, Buffer.from([2, remote.length]), remote]);
  const circuit = str('ge-0/0/7.10');
  const client: Array<[number, Buffer]> = [[12, str('delta')], [54, ip4('10.0.0.1')], [50, ip4('10.9.0.20')], [82, opt82(circuit)]];
  run([
    relayedFrame(true, dhcp4({ xid: 7, mac: A, msgType: 3, giaddr: '10.9.0.1', options: client })),
    // The server echoes option 82 in its reply (RFC 3046 §2.2).
    relayedFrame(false, dhcp4({ xid: 7, mac: A, msgType: 5, giaddr: '10.9.0.1', yiaddr: '10.9.0.20', options: [[54, ip4('10.0.0.1')], [51, u32be(600)], [82, opt82(circuit)]] })),
    // A server that does not echo it: the ACK event takes it from the request.
    relayedFrame(true, dhcp4({ xid: 8, mac: B, msgType: 3, giaddr: '10.9.0.1', options: [[82, opt82(Buffer.from([0, 4, 0, 10, 0, 7]))]] })),
    relayedFrame(false, dhcp4({ xid: 8, mac: B, msgType: 5, giaddr: '10.9.0.1', yiaddr: '10.9.0.21', options: [[54, ip4('10.0.0.1')], [51, u32be(600)]] })),
    // A sub-option running past the end of option 82: counted, the rest of the message used.
    relayedFrame(true, dhcp4({ xid: 9, mac: C, msgType: 1, giaddr: '10.9.0.1', options: [[82, Buffer.from([1, 9, 0x41, 0x42])]] })),
  ], identity);
  const [req, ack, , ack2, disc] = events.filter((e) => e.class_uid === 4004);
  for (const e of [req!, ack!]) {
    assert.deepEqual(e.relay, { ip: '10.9.0.1' });
    assert.equal(e.unmapped.dhcp_relay_circuit_id, 'ge-0/0/7.10', 'printable: as text');
    assert.equal(e.unmapped.dhcp_relay_circuit_id_hex, circuit.toString('hex'));
    assert.equal(e.unmapped.dhcp_relay_remote_id, undefined, 'not printable: hex only');
    assert.equal(e.unmapped.dhcp_relay_remote_id_hex, '001b21aabb01');
  }
  assert.deepEqual([ack!.src_endpoint.mac, ack!.src_endpoint.ip, ack!.src_endpoint.hostname], [A, '10.9.0.20', 'delta']);
  assert.equal(ack2!.unmapped.dhcp_relay_circuit_id_hex, '0004000a0007');
  assert.equal(ack2!.unmapped.dhcp_relay_circuit_id, undefined);
  assert.equal(ack2!.unmapped.dhcp_relay_remote_id_hex, '001b21aabb01');
  assert.equal(disc!.unmapped.dhcp_relay_circuit_id_hex, undefined);
  assert.equal(identity.counters()['dhcp.v4.malformed.relay_agent_truncated'], 1);
  assert.equal(identity.counters()['dhcp.v4.messages'], 5);
});

// ---- DHCPv6 --------------------------------------------------------------------------------------

const CLIENT6 = 'fe80::216:3eff:fe00:6', SERVER6 = 'fe80::1';
/** DUID-LLT (RFC 8415 §11.2): type 1, hardware type 1, time, link-layer address. */
const DUID = Buffer.concat([Buffer.from([0, 1, 0, 1]), u32be(0x2a2b2c2d), mac(V6)]);
const SERVER_DUID = Buffer.concat([Buffer.from([0, 3, 0, 1]), mac(SRV_MAC)]);

function v6Frame(fromClient: boolean, payload: Buffer): Buffer {
  return fromClient
    ? ethernet('33:33:00:01:00:02', V6, ETH_IPV6, ipv6({ src: CLIENT6, dst: 'ff02::1:2', nextHeader: PROTO_UDP }, udp({ sport: 546, dport: 547 }, payload)))
    : ethernet(V6, SRV_MAC, ETH_IPV6, ipv6({ src: SERVER6, dst: CLIENT6, nextHeader: PROTO_UDP }, udp({ sport: 547, dport: 546 }, payload)));
}
/** IA Address (RFC 8415 §21.6): address, preferred and valid lifetimes. */
const iaaddr = (a: string, valid: number) => opt6(5, Buffer.concat([ipv6Bytes(a), u32be(Math.floor(valid / 2)), u32be(valid)]));
/** IA_NA (RFC 8415 §21.4): IAID, T1, T2, options. */
const iana = (iaid: number, ...addrs: Buffer[]) => opt6(3, Buffer.concat([u32be(iaid), u32be(0), u32be(0), ...addrs]));
/** Client FQDN (RFC 4704 §4): flags (S = 1), then the name in DNS wire format. */
const fqdn6 = (name: string) => opt6(39, Buffer.concat([Buffer.from([1]), ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), str(l)])), Buffer.from([0])]));
const ORO = opt6(6, Buffer.from([0, 23, 0, 24, 0, 39]));

function exchange6(): Buffer[] {
  const cid = opt6(1, DUID), sid = opt6(2, SERVER_DUID);
  const offered = [iana(1, iaaddr('2001:db8::a', 7200), iaaddr('2001:db8::b', 3600)), iana(2, iaaddr('2001:db8:1::c', 1800))];
  return [
    v6Frame(true, dhcp6(1, 0x00abcd, [cid, iana(1), iana(2), fqdn6('host6.lan'), ORO])),
    v6Frame(false, dhcp6(2, 0x00abcd, [sid, cid, ...offered])),
    v6Frame(true, dhcp6(3, 0x00beef, [cid, sid, iana(1), iana(2), fqdn6('host6.lan'), ORO])),
    // RFC 4704 §6: the server includes Client FQDN only when it has something to say; not here.
    v6Frame(false, dhcp6(7, 0x00beef, [sid, cid, ...offered])),
  ];
}

test('DHCPv6 SOLICIT/ADVERTISE/REQUEST/REPLY: every IA_NA address (RFC 8415 §21.4, §21.6) bound to the device and listed in the REPLY event', () => {
  const { identity, events } = newIdentity();
  run(exchange6(), identity);
  const at = T + 1000;
  for (const a of ['2001:db8::a', '2001:db8::b', '2001:db8:1::c']) {
    const d = identity.store.addresses.lookup(a, at);
    assert.equal(d?.macs[0], V6, `${a} bound to the client`);
    assert.equal(d?.hostname, 'host6.lan');
  }
  // The ADVERTISE only offers: nothing is bound before the REPLY (RFC 8415 §18.3.1, §18.3.9).
  assert.equal(identity.store.addresses.lookup('2001:db8::a', T + 15), undefined);
  // Lifetimes are per address: ::c (1800 s) expires before ::a (7200 s).
  assert.equal(identity.store.addresses.lookup('2001:db8:1::c', T + 1_900_000), undefined);
  assert.equal(identity.store.addresses.lookup('2001:db8::a', T + 1_900_000)?.macs[0], V6);
  const dhcp = events.filter((e) => e.class_uid === 4004);
  assert.deepEqual(dhcp.map((e) => [e.unmapped.dhcp_msg_type, e.activity_id]), [['SOLICIT', 1], ['ADVERTISE', 2], ['REQUEST', 3], ['REPLY', 5]]);
  const reply = dhcp[3]!;
  assert.equal(reply.src_endpoint.mac, V6);
  assert.equal(reply.src_endpoint.ip, '2001:db8::a');
  assert.equal(reply.src_endpoint.hostname, 'host6.lan', 'the name from the REQUEST (the REPLY has no FQDN option)');
  assert.equal(reply.lease_dur, 7200);
  assert.equal(reply.transaction_uid, '00beef');
  assert.equal(reply.unmapped.dhcp6_duid, DUID.toString('hex'));
  assert.deepEqual(reply.unmapped.dhcp6_ia_addresses, [
    { ip: '2001:db8::a', iaid: 1, valid_lifetime: 7200 },
    { ip: '2001:db8::b', iaid: 1, valid_lifetime: 3600 },
    { ip: '2001:db8:1::c', iaid: 2, valid_lifetime: 1800 },
  ]);
  assert.equal(reply.unmapped.dhcp6_ia_addresses_dropped, undefined);
  const adv = dhcp[1]!;
  assert.equal(adv.unmapped.dhcp6_ia_addresses.length, 3, 'the offer lists the addresses too');
  assert.equal(dhcp[0]!.src_endpoint.hostname, 'host6.lan');
  assert.equal(dhcp[0]!.unmapped.dhcp6_option_request_list, '23,24,39');
  const c = identity.counters();
  assert.equal(c['dhcp.v6.messages'], 4);
  assert.equal(c['dhcp.v6.ia_addresses_dropped'], 0);
  // The device's inventory lists all three addresses.
  const inv = events.filter((e) => e.class_uid === 5001).at(-1)!;
  assert.deepEqual(inv.device.network_interfaces.map((n: Ev) => n.ip).sort(), ['2001:db8:1::c', '2001:db8::a', '2001:db8::b']);
});

test('DHCPv6: addresses beyond DHCP6_MAX_IA_ADDRESSES are counted, not kept; RELEASE and a valid lifetime of 0 end bindings', () => {
  const { identity, events } = newIdentity();
  const cid = opt6(1, DUID), sid = opt6(2, SERVER_DUID);
  const many = Array.from({ length: DHCP6_MAX_IA_ADDRESSES + 3 }, (_, i) => iaaddr(`2001:db8::${(i + 1).toString(16)}`, 600));
  run([v6Frame(false, dhcp6(7, 1, [sid, cid, iana(1, ...many.slice(0, 5)), iana(2, ...many.slice(5))]))], identity);
  const reply = events.find((e) => e.class_uid === 4004)!;
  assert.equal(reply.unmapped.dhcp6_ia_addresses.length, DHCP6_MAX_IA_ADDRESSES);
  assert.equal(reply.unmapped.dhcp6_ia_addresses_dropped, 3);
  assert.equal(identity.counters()['dhcp.v6.ia_addresses_dropped'], 3);
  assert.equal(identity.store.addresses.lookup(`2001:db8::${DHCP6_MAX_IA_ADDRESSES.toString(16)}`, T + 100)?.macs[0], V6);
  assert.equal(identity.store.addresses.lookup(`2001:db8::${(DHCP6_MAX_IA_ADDRESSES + 1).toString(16)}`, T + 100), undefined);
  // RELEASE (RFC 8415 §18.2.7) lists the addresses the client gives back.
  run([v6Frame(true, dhcp6(8, 2, [cid, sid, iana(1, iaaddr('2001:db8::1', 0))]))], identity, T + 10_000);
  assert.equal(identity.store.addresses.lookup('2001:db8::1', T + 10_500), undefined);
  assert.equal(identity.store.addresses.lookup('2001:db8::2', T + 10_500)?.macs[0], V6);
  // A REPLY with a valid lifetime of 0 (RFC 8415 §18.2.10.1: the address must no longer be used).
  run([v6Frame(false, dhcp6(7, 3, [sid, cid, iana(1, iaaddr('2001:db8::2', 0))]))], identity, T + 20_000);
  assert.equal(identity.store.addresses.lookup('2001:db8::2', T + 20_500), undefined);
});

test('DHCPv4 and DHCPv6 events built here validate against OCSF 1.8.0', { skip: noSchema }, () => {
  const schema = loadOcsfSchema(schemaDir);
  const { identity, events } = newIdentity();
  run([
    ...lease4(0x0a0a0a0a, A, '10.0.0.5', [[12, str('alpha')]]),
    ...lease4(0x0c0c0c0c, C, '10.0.0.7', [[81, fqdn4('charlie.lan')]], [[12, str('c-17')]]),
    relayedFrame(true, dhcp4({ xid: 7, mac: B, msgType: 3, giaddr: '10.9.0.1', options: [[82, Buffer.from([1, 2, 0x41, 0x42, 2, 1, 0])]] })),
    ...exchange6(),
  ], identity);
  const classes = new Set<number>();
  for (const e of events) {
    classes.add(e.class_uid);
    assert.deepEqual(schema.validate(e), [], `${e.class_uid} ${JSON.stringify(e).slice(0, 600)}`);
  }
  assert.deepEqual([...classes].sort(), [4004, 5001]);
  assert.equal(events.filter((e) => e.class_uid === 4004).length, 13);
});
