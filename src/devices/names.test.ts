import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { Sensor } from '../sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../flows/flow-table.js';
import { DeviceIdentity } from './identity.js';
import { DeviceStore, Trust } from './store.js';
import { dhcp4, ip4, u32be, str } from '../../test/fixtures/dhcp.js';
import { ethernet, ipv4, ipv6, udp, ETH_IPV4, ETH_IPV6, PROTO_UDP } from '../../test/support/packets.js';
import { nbName, nbnsRegistration, nbnsQueryResponse } from '../../test/fixtures/nbns.js';

const A = '00:11:22:33:44:55', B = '3c:22:fb:00:00:02', C = '00:16:3e:00:00:03', SRV_MAC = '00:00:5e:00:53:01';
const T = 1_700_000_000_000;

function mdns(srcMac: string, src: string, answers: dnsPacket.Answer[], sport = 5353): Buffer {
  const payload = dnsPacket.encode({ type: 'response', id: 0, flags: dnsPacket.AUTHORITATIVE_ANSWER, answers });
  return src.includes(':')
    ? ethernet('33:33:00:00:00:fb', srcMac, ETH_IPV6, ipv6({ src, dst: 'ff02::fb', nextHeader: PROTO_UDP, hopLimit: 255 }, udp({ sport, dport: 5353 }, payload)))
    : ethernet('01:00:5e:00:00:fb', srcMac, ETH_IPV4, ipv4({ src, dst: '224.0.0.251', proto: PROTO_UDP }, udp({ sport, dport: 5353 }, payload)));
}

function llmnr(srcMac: string, src: string, dst: string, name: string, address: string): Buffer {
  const payload = dnsPacket.encode({
    type: 'response', id: 0x1234, flags: 0,
    questions: [{ type: 'A', name }], answers: [{ type: 'A', name, ttl: 30, data: address }],
  });
  return ethernet(SRV_MAC, srcMac, ETH_IPV4, ipv4({ src, dst, proto: PROTO_UDP }, udp({ sport: 5355, dport: 50000 }, payload)));
}

function nbns(srcMac: string, src: string, payload: Buffer, dport = 137): Buffer {
  return ethernet('ff:ff:ff:ff:ff:ff', srcMac, ETH_IPV4, ipv4({ src, dst: '10.0.0.255', proto: PROTO_UDP }, udp({ sport: 137, dport }, payload)));
}

function feed(identity: DeviceIdentity, frames: Array<[number, Buffer]>): void {
  const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: () => {}, packetObservers: [identity.observer], stages: [identity.stage] });
  for (const [tsMs, f] of frames) sensor.onPacket(f, 0, f.length, f.length, tsMs * 1000, 1, 0);
  sensor.flush();
}

test('mDNS announcements name the sender (own address only) and bind the address at the lowest trust', () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  feed(identity, [
    [T, mdns(A, '10.0.0.5', [
      { type: 'A', name: 'alpha-laptop.local', ttl: 120, flush: true, data: '10.0.0.5' },
      { type: 'A', name: 'printer.local', ttl: 120, data: '10.0.0.77' }, // a proxy answer: not ours
      { type: 'PTR', name: '_http._tcp.local', ttl: 4500, data: 'x._http._tcp.local' },
    ])],
    [T + 10, mdns(A, 'fe80::211:22ff:fe33:4455', [{ type: 'AAAA', name: 'alpha-laptop.local', ttl: 120, data: 'fe80::211:22ff:fe33:4455' }])],
    [T + 20, mdns(B, '10.0.0.6', [{ type: 'A', name: 'bye.local', ttl: 0, data: '10.0.0.6' }])],
  ]);
  const s = identity.store;
  const d = s.addresses.lookup('10.0.0.5', T + 1_000)!;
  assert.equal(d.macs[0], A);
  assert.equal(d.hostname, 'alpha-laptop');
  assert.equal(d.hostnameTrust, Trust.DNS);
  assert.equal(d.hostnameSource, 'mdns');
  assert.ok(d.evidence.some((e) => e.kind === 'mdns_name' && e.value === 'alpha-laptop.local A 10.0.0.5'));
  assert.equal(s.addresses.history('10.0.0.5')[0]!.trust, Trust.DNS);
  assert.equal(s.addresses.lookup('fe80::211:22ff:fe33:4455', T + 1_000)?.uid, d.uid);
  assert.equal(s.addresses.lookup('10.0.0.77', T + 1_000), undefined, 'an answer for another address is not bound');
  assert.equal(s.addresses.lookup('10.0.0.6', T + 1_000), undefined, 'a goodbye (TTL 0) is not used');
  const c = identity.counters();
  assert.equal(c['names.mdns_responses'], 3);
  assert.equal(c['names.used'], 2);
  assert.equal(c['names.address_mismatch'], 1);
  assert.equal(c['names.ignored'], 1); // the goodbye; PTR records are not counted
});

test('mDNS/LLMNR names do not override DHCP and cannot take a held address', () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const server: Array<[number, Buffer]> = [[54, ip4('10.0.0.1')], [51, u32be(3600)]];
  const ack = ethernet('ff:ff:ff:ff:ff:ff', SRV_MAC, ETH_IPV4, ipv4({ src: '10.0.0.1', dst: '255.255.255.255', proto: PROTO_UDP },
    udp({ sport: 67, dport: 68 }, dhcp4({ xid: 7, mac: A, msgType: 5, yiaddr: '10.0.0.5', options: [[12, str('alpha')], ...server] }))));
  feed(identity, [
    [T, ack],
    [T + 100, mdns(A, '10.0.0.5', [{ type: 'A', name: 'other-name.local', ttl: 120, data: '10.0.0.5' }])],
    // Another device claims the leased address over LLMNR: refused while the lease holds.
    [T + 200, llmnr(C, '10.0.0.5', '10.0.0.9', 'mallory', '10.0.0.5')],
    // LLMNR from its own address names it.
    [T + 300, llmnr(C, '10.0.0.8', '10.0.0.9', 'charlie', '10.0.0.8')],
  ]);
  const s = identity.store;
  const a = s.devices.byMacAddress(A)!;
  assert.equal(a.hostname, 'alpha');
  assert.ok(a.evidence.some((e) => e.kind === 'hostname_refused' && e.value === 'other-name' && e.source === 'mdns'));
  assert.equal(s.addresses.lookup('10.0.0.5', T + 1_000)?.uid, a.uid);
  const c = s.devices.byMacAddress(C)!;
  assert.equal(s.addresses.lookup('10.0.0.8', T + 1_000)?.uid, c.uid);
  assert.equal(identity.counters()['devices.binding_refused_lower_trust'], 1);
  assert.equal(identity.counters()['names.llmnr_responses'], 2);
});

test('NetBIOS name registrations and query responses name the sender', () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  feed(identity, [
    [T, nbns(A, '10.0.0.5', nbnsRegistration(0x1001, 'DESKTOP-AB12', 0x00, '10.0.0.5'))],
    [T + 1, nbns(A, '10.0.0.5', nbnsRegistration(0x1002, 'WORKGROUP', 0x00, '10.0.0.5', true))],
    [T + 2, nbns(C, '10.0.0.8', nbnsQueryResponse(0x2001, 'FILESRV', 0x00, ['10.0.0.8']), 50001)],
    [T + 3, nbns(B, '10.0.0.1', nbnsQueryResponse(0x2002, 'ELSEWHERE', 0x00, ['10.0.0.44']), 50002)], // WINS answer for another host
  ]);
  const s = identity.store;
  assert.equal(s.devices.byMacAddress(A)!.hostname, 'DESKTOP-AB12');
  assert.equal(s.devices.byMacAddress(A)!.hostnameSource, 'netbios');
  assert.equal(s.addresses.lookup('10.0.0.5', T + 10)?.macs[0], A);
  assert.equal(s.devices.byMacAddress(C)!.hostname, 'FILESRV');
  assert.equal(s.addresses.lookup('10.0.0.44', T + 10), undefined);
  const c = identity.counters();
  assert.equal(c['nbns.registrations'], 2);
  assert.equal(c['nbns.query_responses'], 2);
  assert.equal(c['names.used'], 2);
  assert.equal(c['names.ignored'], 1);
  assert.equal(c['names.address_mismatch'], 1);
  assert.equal(nbName('A').length, 34);
});

test('an mDNS name never links MACs: a randomized MAC whose DHCP request uses that name stays its own device', () => {
  const identity = new DeviceIdentity({ store: new DeviceStore() });
  const R = '02:5e:00:00:00:09';
  const request = ethernet('ff:ff:ff:ff:ff:ff', R, ETH_IPV4, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP },
    udp({ sport: 68, dport: 67 }, dhcp4({ xid: 9, mac: R, msgType: 3, options: [[12, str('ceo-laptop')], [50, ip4('10.0.0.60')]] }))));
  feed(identity, [
    [T, mdns(A, '10.0.0.5', [{ type: 'A', name: 'ceo-laptop.local', ttl: 120, data: '10.0.0.5' }])],
    [T + 1000, request],
  ]);
  const s = identity.store;
  const a = s.devices.byMacAddress(A)!;
  assert.equal(a.hostname, 'ceo-laptop');
  assert.deepEqual(a.macs, [A], 'the mDNS-named device did not absorb the new MAC');
  const r = s.devices.byMacAddress(R)!;
  assert.notEqual(r.uid, a.uid);
  assert.equal(r.hostname, 'ceo-laptop');
  assert.equal(identity.counters()['devices.mac_linked'], 0);
});
