/**
 * The local-protocol dispatcher: packets routed by the registered ports / protocols, typed
 * messages handed to the consumer, and an mDNS datagram the inspector parsed taken from it
 * rather than parsed again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { Sensor } from '../sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../flows/flow-table.js';
import { ethernet, ipv4, udp, ETH_IPV4, PROTO_UDP } from '../../test/support/packets.js';
import { LocalProtocols } from './local.js';
import type { Dhcp4Seen, LocalAnalyzer, NameResponseSeen } from './protocol.js';

const A = '00:11:22:33:44:55';

function mdnsResponse(): Buffer {
  const payload = dnsPacket.encode({ type: 'response', id: 0, flags: dnsPacket.AUTHORITATIVE_ANSWER, answers: [{ type: 'A', name: 'alpha.local', ttl: 120, data: '10.0.0.5' }] });
  return ethernet('01:00:5e:00:00:fb', A, ETH_IPV4, ipv4({ src: '10.0.0.5', dst: '224.0.0.251', proto: PROTO_UDP }, udp({ sport: 5353, dport: 5353 }, payload)));
}

/** Runs frames through a Sensor with the dispatcher as its packet observer; counts the dns analyzer's own parses. */
function run(inspect: boolean, frames: Buffer[]): { names: NameResponseSeen[]; dhcp: Dhcp4Seen[]; ownParses: number; local: LocalProtocols; dnsMessages: number } {
  const names: NameResponseSeen[] = [], dhcp: Dhcp4Seen[] = [];
  const local = new LocalProtocols({
    onNameResponse: (m) => names.push({ ...m, answers: [...m.answers] }),
    onDhcp4: (m) => dhcp.push(m),
  });
  const dnsLocal = local.analyzer('dns') as LocalAnalyzer;
  let ownParses = 0;
  const parse = dnsLocal.onIpPacket!.bind(dnsLocal);
  dnsLocal.onIpPacket = (...args) => { ownParses++; parse(...args); };
  const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(), sink: () => {}, inspect, packetObservers: [local] });
  frames.forEach((f, i) => sensor.onPacket(f, 0, f.length, f.length, (i + 1) * 1_000_000, 1, 0));
  sensor.flush();
  return { names, dhcp, ownParses, local, dnsMessages: sensor.counters()['dns.messages'] ?? 0 };
}

test('an mDNS response the inspector parsed reaches the consumer without a second parse', () => {
  const r = run(true, [mdnsResponse(), mdnsResponse()]);
  assert.equal(r.dnsMessages, 2, 'the inspector parsed both datagrams');
  assert.equal(r.ownParses, 0, 'the dispatcher took the inspector\'s parse');
  assert.equal(r.names.length, 2);
  assert.deepEqual({ ...r.names[0], answers: r.names[0]!.answers.map((a) => `${a.name} ${a.typeName} ${a.data}`) },
    { protocol: 'mdns', srcIp: '10.0.0.5', srcMac: A, answers: ['alpha.local A 10.0.0.5'], tsUs: 1_000_000 });
  assert.equal(r.local.counters()['names.mdns_responses'], 2);
});

test('without inspection the dispatcher parses mDNS itself, once per datagram, with the same result', () => {
  const r = run(false, [mdnsResponse()]);
  assert.equal(r.dnsMessages, 0);
  assert.equal(r.ownParses, 1);
  assert.equal(r.names.length, 1);
  assert.equal(r.names[0]!.answers[0]!.data, '10.0.0.5');
  assert.equal(r.local.counters()['names.mdns_responses'], 1);
});

test('DHCPv4 is parsed in the protocol layer and handed over typed, with both endpoints', () => {
  // RFC 2131 §2: BOOTREQUEST, Ethernet, chaddr, magic cookie; DISCOVER (53) with host name (12).
  const msg = Buffer.alloc(240);
  msg[0] = 1; msg[1] = 1; msg[2] = 6;
  msg.writeUInt32BE(0x1234, 4);
  Buffer.from(A.split(':').map((x) => parseInt(x, 16))).copy(msg, 28);
  msg.writeUInt32BE(0x63825363, 236);
  const options = Buffer.from([53, 1, 1, 12, 5, ...Buffer.from('alpha'), 255]);
  const frame = ethernet('ff:ff:ff:ff:ff:ff', A, ETH_IPV4, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, Buffer.concat([msg, options]))));
  const r = run(true, [frame]);
  assert.equal(r.dhcp.length, 1);
  const m = r.dhcp[0]!;
  assert.equal(m.info.mac, A);
  assert.equal(m.info.hostName, 'alpha');
  assert.deepEqual(m.src, { ip: '0.0.0.0', port: 68, mac: A });
  assert.deepEqual(m.dst, { ip: '255.255.255.255', port: 67, mac: 'ff:ff:ff:ff:ff:ff' });
  assert.equal(r.local.counters()['dhcp.v4.messages'], 1);
});

test('a UDP source port or IP protocol registered twice is refused', () => {
  const twice = { name: 'x', local: () => ({ name: 'x', udpSourcePorts: [67], ipProtocols: [], nonIp: false, counters: () => ({}) }) };
  assert.throws(() => new LocalProtocols({}, [twice, { ...twice, name: 'y' }]), /UDP source port 67 registered twice/);
});
