/**
 * Property-based fuzz of the device-identity path (fast-check). Valid DHCPv4 (RFC 2131, options of
 * RFC 2132 / 3046 / 4702), DHCPv6 (RFC 8415, relayed too), ARP (RFC 826), NDP (RFC 4861 §4.3,
 * §4.4), NetBIOS name service (RFC 1002 §4.2.2) and mDNS (RFC 6762) messages are generated, then
 * mutated — byte overwrites, length bytes set to 0 or 255, truncation, insertion, deletion — and
 * fed (wrapped in correct Ethernet / IP / UDP / ICMPv6 layers) through a Sensor with
 * DeviceIdentity, DHCP Activity and Device Inventory events on, and a small DeviceStore.
 * Properties:
 *   1. nothing throws: parsers, field extraction, identity rules, store, event builders;
 *   2. each parser called directly returns a ParseStatus, and unmutated messages parse OK;
 *   3. the store stays within maxDevices, its uid → addresses index agrees with the intervals,
 *      and every event is DHCP Activity, Device Inventory or Network Activity;
 *   4. time may jump backwards between packets (merged captures) without breaking 1–3.
 *
 *   node --import tsx test/fuzz/devices.ts [runs=1000000] [seed]
 */
import fc from 'fast-check';
import { ParseStatus } from '../../src/protocols/parse-status.js';
import { Dhcp4Message, parseDhcp4 } from '../../src/protocols/dhcp/dhcp4.js';
import { Dhcp6Message, parseDhcp6 } from '../../src/protocols/dhcp/dhcp6.js';
import { ArpMessage, parseArp } from '../../src/protocols/arp/arp.js';
import { NdpMessage, parseNdp } from '../../src/protocols/arp/ndp.js';
import { NbnsMessage, parseNbns } from '../../src/protocols/nbns/nbns.js';
import { dhcp4, dhcp6, opt6, u32be } from '../fixtures/dhcp.js';
import { nbnsRegistration } from '../fixtures/nbns.js';
import { Sensor } from '../../src/sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../../src/flows/flow-table.js';
import { DeviceIdentity } from '../../src/devices/identity.js';
import { DeviceStore } from '../../src/devices/store.js';
import { printFuzzResult } from '../support/fuzz-result.js';

const runs = Math.max(1, Number.parseInt(process.argv[2] ?? '', 10) || 1_000_000);
const seedArg = Number.parseInt(process.argv[3] ?? '', 10);
const seed = Number.isFinite(seedArg) ? seedArg : Date.now() % 2 ** 31;

// ---- building blocks ----------------------------------------------------------------------------
const byte = fc.nat(255);
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
// A few MACs and addresses, so that devices, links and address moves collide often.
const mac = fc.oneof(
  { arbitrary: fc.constantFrom('00:11:22:33:44:01', '00:11:22:33:44:02', '02:aa:bb:cc:dd:03', '3c:22:fb:00:00:04', '02:00:00:00:00:05'), weight: 4 },
  { arbitrary: fc.nat(15).map((n) => `02:00:00:00:01:${n.toString(16).padStart(2, '0')}`), weight: 1 }, // more devices than the store keeps
);
const ip4 = fc.constantFrom('10.0.0.5', '10.0.0.6', '10.0.0.7', '0.0.0.0', '255.255.255.255', '10.0.0.1');
const ip6 = fc.constantFrom('2001:db8::5', '2001:db8::6', 'fe80::1', '::');
// Names and client ids from small sets as well: the same ones on several MACs is what links them.
const name = fc.oneof(fc.constantFrom('alpha', 'bravo', 'ceo-laptop'), fc.stringMatching(/^[a-z0-9-]{1,15}$/));
const clientId = fc.oneof(fc.constantFrom('01001122334401', 'ff00000001', 'ff00000002').map((h) => Buffer.from(h, 'hex')), bytes(2, 12));
const macBytes = (m: string) => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
const ip4Bytes = (s: string) => Buffer.from(s.split('.').map(Number));
function ip6Bytes(s: string): Buffer {
  const [head = '', tail = ''] = s.split('::');
  const h = head ? head.split(':') : [], t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return b;
}

const dhcp4Option: fc.Arbitrary<[number, Buffer]> = fc.oneof(
  name.map((n): [number, Buffer] => [12, Buffer.from(n)]),
  ip4.map((a): [number, Buffer] => [50, ip4Bytes(a)]),
  fc.nat().map((s): [number, Buffer] => [51, u32be(s)]),
  ip4.map((a): [number, Buffer] => [54, ip4Bytes(a)]),
  bytes(1, 20).map((b): [number, Buffer] => [55, b]),
  fc.constantFrom('MSFT 5.0', 'android-dhcp-13', 'udhcp 1.36', 'dhcpcd-9.4.1').map((v): [number, Buffer] => [60, Buffer.from(v)]),
  clientId.map((b): [number, Buffer] => [61, b]),
  name.map((n): [number, Buffer] => [81, Buffer.concat([Buffer.from([0x05, 0, 0, n.length]), Buffer.from(n), Buffer.from([0])])]),
  fc.tuple(bytes(1, 6), bytes(1, 6)).map(([c, r]): [number, Buffer] => [82, Buffer.concat([Buffer.from([1, c.length]), c, Buffer.from([2, r.length]), r])]),
);
const dhcp4Message = fc.record({
  msgType: fc.integer({ min: 1, max: 8 }), xid: fc.nat(), mac, yiaddr: ip4, ciaddr: ip4, giaddr: fc.constantFrom('0.0.0.0', '10.0.0.254'),
  options: fc.array(dhcp4Option, { maxLength: 9 }),
}).map((f) => dhcp4(f));

const dhcp6Option: fc.Arbitrary<Buffer> = fc.oneof(
  mac.map((m) => opt6(1, Buffer.concat([Buffer.from([0, 1, 0, 1, 0, 0, 0, 1]), macBytes(m)]))), // client id: DUID-LLT
  fc.tuple(fc.nat(), fc.array(fc.tuple(ip6, fc.nat()), { maxLength: 10 })).map(([iaid, addrs]) => opt6(3, Buffer.concat([
    u32be(iaid), u32be(0), u32be(0),
    ...addrs.map(([a, life]) => opt6(5, Buffer.concat([ip6Bytes(a), u32be(life), u32be(life)]))),
  ]))),
  name.map((n) => opt6(39, Buffer.concat([Buffer.from([0, n.length]), Buffer.from(n), Buffer.from([0])]))),
  bytes(0, 8).map((b) => opt6(6, b)),
);
const dhcp6Message = fc.tuple(fc.integer({ min: 1, max: 11 }), fc.nat(0xffffff), fc.array(dhcp6Option, { maxLength: 5 }), fc.nat(2))
  .map(([type, xid, opts, relays]) => {
    let m = dhcp6(type, xid, opts);
    // RELAY-FORW / RELAY-REPL wrapping (RFC 8415 §9): hop count, link and peer address, relay message option.
    for (let i = 0; i < relays; i++) m = Buffer.concat([Buffer.from([12 + (i % 2), i]), Buffer.alloc(32), opt6(9, m)]);
    return m;
  });

const arpMessage = fc.tuple(fc.constantFrom(1, 2), mac, ip4, ip4).map(([op, sha, spa, tpa]) =>
  Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, op]), macBytes(sha), ip4Bytes(spa), Buffer.alloc(6), ip4Bytes(tpa)]));
const ndpMessage = fc.tuple(fc.constantFrom(135, 136), ip6, mac, fc.nat(3)).map(([type, target, m, nopts]) => {
  const opts: Buffer[] = [];
  for (let i = 0; i < nopts; i++) opts.push(Buffer.concat([Buffer.from([i % 2 === 0 ? 2 : 1, 1]), macBytes(m)]));
  return Buffer.concat([Buffer.from([type, 0, 0, 0, 0x60, 0, 0, 0]), ip6Bytes(target), ...opts]);
});
const nbnsMessage = fc.tuple(fc.nat(0xffff), name, fc.constantFrom(0x00, 0x20, 0x1d), ip4, fc.boolean())
  .map(([id, n, suffix, a, group]) => nbnsRegistration(id, n.slice(0, 15).toUpperCase(), suffix, a, group));
// An mDNS response naming `<name>.local` with an A record (RFC 6762 §6).
const mdnsMessage = fc.tuple(name, ip4, fc.nat(7200)).map(([n, a, ttl]) => {
  const labels = Buffer.concat([Buffer.from([n.length]), Buffer.from(n), Buffer.from([5]), Buffer.from('local'), Buffer.from([0])]);
  const rr = Buffer.concat([labels, Buffer.from([0, 1, 0x80, 1]), u32be(ttl), Buffer.from([0, 4]), ip4Bytes(a)]);
  return Buffer.concat([Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0]), rr]);
});

type Kind = 'dhcp4' | 'dhcp6' | 'arp' | 'ndp' | 'nbns' | 'mdns';
const message: fc.Arbitrary<{ kind: Kind; payload: Buffer }> = fc.oneof(
  dhcp4Message.map((payload) => ({ kind: 'dhcp4' as const, payload })),
  dhcp6Message.map((payload) => ({ kind: 'dhcp6' as const, payload })),
  arpMessage.map((payload) => ({ kind: 'arp' as const, payload })),
  ndpMessage.map((payload) => ({ kind: 'ndp' as const, payload })),
  nbnsMessage.map((payload) => ({ kind: 'nbns' as const, payload })),
  mdnsMessage.map((payload) => ({ kind: 'mdns' as const, payload })),
);

type Edit = { k: 'set' | 'len' | 'cut' | 'ins' | 'del'; at: number; v: number };
const edit: fc.Arbitrary<Edit> = fc.record({ k: fc.constantFrom('set' as const, 'len' as const, 'cut' as const, 'ins' as const, 'del' as const), at: fc.nat(), v: byte });

function applyEdits(src: Buffer, edits: readonly Edit[]): Buffer {
  let b = Buffer.from(src);
  for (const e of edits) {
    const at = e.at % (b.length + 1);
    if (e.k === 'set' && at < b.length) b[at] = e.v;
    else if (e.k === 'len' && at < b.length) b[at] = e.v & 1 ? 0xff : 0; // lengths and counts at their extremes
    else if (e.k === 'cut') b = b.subarray(0, at);
    else if (e.k === 'ins') b = Buffer.concat([b.subarray(0, at), Buffer.from([e.v, e.v ^ 0xff]), b.subarray(at)]);
    else if (e.k === 'del') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + (e.v & 7))]);
  }
  return b;
}

// ---- frames --------------------------------------------------------------------------------------
function ethernet(src: string, ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.fill(0xff, 0, 6);
  macBytes(src).copy(h, 6);
  h.writeUInt16BE(ethertype, 12);
  return Buffer.concat([h, payload]);
}
function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0); h.writeUInt16BE(dport, 2); h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}
function ipv4(src: string, dst: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45; h.writeUInt16BE(20 + payload.length, 2); h[8] = 64; h[9] = proto;
  ip4Bytes(src).copy(h, 12); ip4Bytes(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}
function ipv6(src: string, dst: string, next: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60; h.writeUInt16BE(payload.length, 4); h[6] = next; h[7] = 255;
  ip6Bytes(src).copy(h, 8); ip6Bytes(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}
function frame(kind: Kind, payload: Buffer, src: string, fromClient: boolean, a4: string, a6: string): Buffer {
  switch (kind) {
    case 'dhcp4': return ethernet(src, 0x0800, ipv4(fromClient ? '0.0.0.0' : '10.0.0.1', fromClient ? '255.255.255.255' : a4, 17, udp(fromClient ? 68 : 67, fromClient ? 67 : 68, payload)));
    case 'dhcp6': return ethernet(src, 0x86dd, ipv6(fromClient ? 'fe80::5' : 'fe80::1', fromClient ? 'ff02::1:2' : 'fe80::5', 17, udp(fromClient ? 546 : 547, fromClient ? 547 : 546, payload)));
    case 'arp': return ethernet(src, 0x0806, payload);
    case 'ndp': return ethernet(src, 0x86dd, ipv6(a6, 'ff02::1', 58, payload));
    case 'nbns': return ethernet(src, 0x0800, ipv4(a4, '10.0.0.255', 17, udp(137, 137, payload)));
    case 'mdns': return ethernet(src, 0x0800, ipv4(a4, '224.0.0.251', 17, udp(5353, 5353, payload)));
  }
}

// ---- the property -----------------------------------------------------------------------------
const STATUSES = new Set<number>([ParseStatus.OK, ParseStatus.MALFORMED, ParseStatus.NOT_MINE]);
const d4 = new Dhcp4Message(), d6 = new Dhcp6Message(), arp = new ArpMessage(), ndp = new NdpMessage(), nb = new NbnsMessage();
function parseDirect(kind: Kind, b: Buffer): ParseStatus | undefined {
  switch (kind) {
    case 'dhcp4': return parseDhcp4(b, 0, b.length, d4);
    case 'dhcp6': return parseDhcp6(b, 0, b.length, d6);
    case 'arp': return parseArp(b, 0, b.length, arp);
    case 'ndp': return parseNdp(b, 0, b.length, ndp);
    case 'nbns': return parseNbns(b, 0, b.length, nb);
    case 'mdns': return undefined; // the DNS parsers have their own fuzz script
  }
}

const MAX_DEVICES = 4;
const packet = fc.record({
  msg: message, edits: fc.array(edit, { maxLength: 4 }), src: mac, fromClient: fc.boolean(), a4: ip4, a6: ip6,
  dtMs: fc.integer({ min: -5_000, max: 600_000 }), wholeFrame: fc.boolean(),
});
let events = 0, packetsFed = 0, calls = 0;
// How much of the identity rules the sequences reached (printed, so a generator that stops
// producing links or moves shows up).
const reached: Record<string, number> = { 'devices.mac_linked': 0, 'devices.merged': 0, 'devices.address_moved': 0, 'devices.evicted': 0, 'devices.link_conflicts': 0, 'devices.bindings_dropped': 0 };
const started = Date.now();
fc.assert(
  fc.property(fc.array(packet, { minLength: 1, maxLength: 24, size: 'max' }), (pkts) => {
    calls++;
    const store = new DeviceStore({ maxDevices: MAX_DEVICES, maxBindingsPerAddress: 2, maxEvidencePerDevice: 4, dhcpMaxPendingTransactions: 4 });
    const out: Array<Record<string, unknown>> = [];
    const identity = new DeviceIdentity({ store, emitDhcp: true, emitInventory: true, sink: (e) => out.push(e as Record<string, unknown>) });
    const sensor = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => out.push(e as Record<string, unknown>), packetObservers: [identity.observer], stages: [identity.stage], httpObservers: [identity.onHttpRequest] });
    let tMs = 1_700_000_000_000;
    for (const p of pkts) {
      const { kind, payload } = p.msg;
      if (p.edits.length === 0) {
        const s = parseDirect(kind, payload);
        if (s !== undefined && s !== ParseStatus.OK) throw new Error(`valid ${kind} not OK: ${s} ${payload.toString('hex')}`);
      }
      const mutated = p.wholeFrame ? payload : applyEdits(payload, p.edits);
      const s = parseDirect(kind, mutated);
      if (s !== undefined && !STATUSES.has(s)) throw new Error(`bad status ${s} from ${kind}`);
      let f = frame(kind, mutated, p.src, p.fromClient, p.a4, p.a6);
      if (p.wholeFrame) f = applyEdits(f, p.edits);
      tMs += p.dtMs;
      sensor.onPacket(f, 0, f.length, f.length, tMs * 1000, 1, 0);
      packetsFed++;
      if (store.devices.size > MAX_DEVICES) throw new Error(`store holds ${store.devices.size} devices, bound ${MAX_DEVICES}`);
    }
    sensor.flush();
    const indexProblems = store.addresses.checkAddressIndex();
    if (indexProblems.length > 0) throw new Error(`address index: ${indexProblems.slice(0, 3).join('; ')}`);
    if (pkts.length % 5 === 0) {
      store.compact(tMs + 40 * 86_400_000); // past the retention of everything: history goes, the index follows
      const after = store.addresses.checkAddressIndex();
      if (after.length > 0) throw new Error(`address index after compact: ${after.slice(0, 3).join('; ')}`);
    }
    for (const e of out) {
      if (e.class_uid !== 4004 && e.class_uid !== 5001 && e.class_uid !== 4001) throw new Error(`unexpected event class ${String(e.class_uid)}`);
      JSON.stringify(e); // every event serialises (no cycles, no BigInt)
    }
    events += out.length;
    // Identity counters are numbers, never NaN.
    for (const [k, v] of Object.entries(identity.counters())) {
      if (!Number.isFinite(v)) throw new Error(`counter ${k} = ${v}`);
      if (k in reached) reached[k]! += v;
    }
  }),
  { numRuns: runs, seed },
);
console.log(`devices fuzz: ${runs} sequences (${packetsFed} packets, ${events} events), seed ${seed}, no exception, store within bounds, address index consistent; ${((Date.now() - started) / 1000).toFixed(1)} s; reached ${JSON.stringify(reached)}`);
printFuzzResult({ fuzzer: 'devices', runs: calls, seed, counters: { packets: packetsFed, events, ...reached } });
