// Flow table tests: keys (both directions, VLAN, full IPv6 addresses, ICMP), client detection,
// per-direction counts, IP fragments, expiry per class, TCP close, the maxFlows bound, growth
// beyond the initial 16k slots, active-timeout events and their sums, time going backwards.
// Packets are real frames built with test/support/packets.ts and decoded by the real decoder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_FLOW_SETTINGS, EndReason, FlowActivity, FlowCounters, FlowTable, type FlowSettings,
} from './flow-table.js';
import { Decoder, DecodedPacket, DecodeStatus } from '../decode/decoder.js';
import { DecodeCounters } from '../decode/counters.js';
import { LinkType } from '../capture/types.js';
import { buildNetworkActivity, type NetworkActivityEvent } from '../events/network-activity.js';
import * as P from '../../test/support/packets.js';

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const T0 = 1_700_000_000_000_000; // µs
const MS = 1000;
const S = 1_000_000;

interface SettingsOverrides extends Partial<Omit<FlowSettings, 'flowIdleTimeoutMs'>> {
  idle?: Partial<FlowSettings['flowIdleTimeoutMs']>;
}
function settings(o: SettingsOverrides = {}): FlowSettings {
  const { idle, ...rest } = o;
  return { ...DEFAULT_FLOW_SETTINGS, ...rest, flowIdleTimeoutMs: { ...DEFAULT_FLOW_SETTINGS.flowIdleTimeoutMs, ...idle } };
}

interface RawEvent { slot: number; activity: FlowActivity; tsUs: number }

class Harness {
  readonly counters = new FlowCounters();
  readonly events: NetworkActivityEvent[] = [];
  readonly raw: RawEvent[] = [];
  readonly table: FlowTable;
  private readonly decoder = new Decoder(new DecodeCounters());
  private readonly pkt = new DecodedPacket();

  constructor(s: FlowSettings = settings(), withEvents = true) {
    this.table = new FlowTable(s, this.counters, withEvents ? (t, slot, activity, tsUs) => {
      this.raw.push({ slot, activity, tsUs });
      this.events.push(buildNetworkActivity(t, slot, activity, tsUs));
    } : null);
  }

  /** Decodes an Ethernet frame (must be OK) and accounts it; returns the flow slot. */
  send(frame: Buffer, tsUs: number, wireLen = frame.length): number {
    const st = this.decoder.decode(frame, 0, frame.length, wireLen, LinkType.ETHERNET, this.pkt);
    assert.equal(st, DecodeStatus.OK, 'test frame decodes');
    return this.table.update(this.pkt, frame, wireLen, tsUs);
  }

  slots(): number[] {
    const r: number[] = [];
    this.table.forEach((s) => r.push(s));
    return r.sort((a, b) => a - b);
  }

  snapshot(): Record<string, number> {
    return this.counters.snapshot(this.table.size);
  }

  /** The events of one flow (by connection uid). */
  eventsOf(uid: string): NetworkActivityEvent[] {
    return this.events.filter((e) => e.connection_info.uid === uid);
  }
}

/** A locally administered MAC derived from an address, so events can be checked per host. */
function macOf(ip: string): string {
  let h = 0;
  for (const ch of ip) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  const b = [0x02, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff, ip.length & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function frameFor(src: string, dst: string, proto: number, l4: Buffer, vlan?: number, ipExtra: Partial<P.Ipv4Options> = {}): Buffer {
  const v6 = src.includes(':');
  const ip = v6 ? P.ipv6({ src, dst, nextHeader: proto }, l4) : P.ipv4({ src, dst, proto, ...ipExtra }, l4);
  const type = v6 ? P.ETH_IPV6 : P.ETH_IPV4;
  return vlan === undefined ? P.ethernet(macOf(dst), macOf(src), type, ip)
    : P.ethernetTagged(macOf(dst), macOf(src), [{ id: vlan }], type, ip);
}

function tcpPkt(src: string, sport: number, dst: string, dport: number, flags: number, payloadLen = 0, vlan?: number): Buffer {
  return frameFor(src, dst, P.PROTO_TCP, P.tcp({ sport, dport, flags }, Buffer.alloc(payloadLen, 0x61)), vlan);
}
function udpPkt(src: string, sport: number, dst: string, dport: number, payloadLen = 10, vlan?: number): Buffer {
  return frameFor(src, dst, P.PROTO_UDP, P.udp({ sport, dport }, Buffer.alloc(payloadLen, 0x62)), vlan);
}
function icmpPkt(src: string, dst: string, id: number, type?: number): Buffer {
  const v6 = src.includes(':');
  return frameFor(src, dst, v6 ? P.PROTO_ICMPV6 : P.PROTO_ICMP, P.icmp({ id, type, v6 }, Buffer.alloc(16)));
}

const { TCP_SYN: SYN, TCP_ACK: ACK, TCP_FIN: FIN, TCP_RST: RST, TCP_PSH: PSH } = P;

// Client has the higher address so that it is endpoint B of the canonical key.
const CLIENT = '192.168.1.10';
const SERVER = '93.184.216.34';

function totals(evs: NetworkActivityEvent[]): { packets_out: number; packets_in: number; bytes_out: number; bytes_in: number } {
  const t = { packets_out: 0, packets_in: 0, bytes_out: 0, bytes_in: 0 };
  for (const e of evs) {
    t.packets_out += e.traffic.packets_out;
    t.packets_in += e.traffic.packets_in;
    t.bytes_out += e.traffic.bytes_out;
    t.bytes_in += e.traffic.bytes_in;
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Keys and directions
// ---------------------------------------------------------------------------------------------

describe('flow keys', () => {
  it('both directions of a TCP connection are one flow with per-direction counts', () => {
    const h = new Harness();
    const sent: { c: number[]; s: number[] } = { c: [], s: [] };
    const go = (fromClient: boolean, flags: number, len: number, t: number): number => {
      const f = fromClient ? tcpPkt(CLIENT, 40000, SERVER, 443, flags, len) : tcpPkt(SERVER, 443, CLIENT, 40000, flags, len);
      (fromClient ? sent.c : sent.s).push(f.length);
      return h.send(f, T0 + t);
    };
    const slot = go(true, SYN, 0, 0);
    assert.equal(go(false, SYN | ACK, 0, 1), slot);
    assert.equal(go(true, ACK, 0, 2), slot);
    assert.equal(go(true, PSH | ACK, 300, 3), slot);
    assert.equal(go(false, PSH | ACK, 1200, 4), slot);
    assert.equal(go(false, PSH | ACK, 1000, 5), slot);
    assert.equal(go(true, ACK, 0, 6), slot);
    assert.equal(h.table.size, 1);
    assert.equal(h.counters.created, 1);

    const t = h.table;
    assert.equal(t.clientIsA(slot), false, 'client 192.168.1.10 is the higher address, endpoint B');
    assert.equal(t.clientKnown(slot), true);
    const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
    assert.deepEqual([t.packetsBA[slot], t.bytesBA[slot]], [sent.c.length, sum(sent.c)]);
    assert.deepEqual([t.packetsAB[slot], t.bytesAB[slot]], [sent.s.length, sum(sent.s)]);
    assert.equal(t.tcpFlagsB[slot], SYN | ACK | PSH);
    assert.equal(t.tcpFlagsA[slot], SYN | ACK | PSH);

    h.table.flush(T0 + 10);
    assert.equal(h.events.length, 1);
    const e = h.events[0]!;
    // Still open at the flush: a Close that says why (capture_end), at its last packet's time.
    assert.equal(e.activity_id, FlowActivity.CLOSE);
    assert.equal(e.unmapped?.flow_end_reason, 'capture_end');
    assert.equal(e.time, e.end_time);
    assert.deepEqual(e.src_endpoint, { ip: CLIENT, port: 40000, mac: macOf(CLIENT) });
    assert.deepEqual(e.dst_endpoint, { ip: SERVER, port: 443, mac: macOf(SERVER) });
    assert.deepEqual(e.traffic, {
      packets_out: sent.c.length, packets_in: sent.s.length, bytes_out: sum(sent.c), bytes_in: sum(sent.s),
      packets: sent.c.length + sent.s.length, bytes: sum(sent.c) + sum(sent.s),
    });
    assert.equal(e.connection_info.protocol_num, 6);
    assert.equal(e.connection_info.tcp_flags, SYN | ACK | PSH);
    assert.equal(e.is_src_dst_assignment_known, true);
  });

  it('bytes are wire lengths, not captured lengths', () => {
    const h = new Harness();
    const f = udpPkt(CLIENT, 5000, SERVER, 53, 100);
    const cut = f.subarray(0, 60);
    const slot = h.send(Buffer.from(cut), T0, f.length);
    assert.equal(h.table.bytesBA[slot], f.length);
  });

  it('the same 5-tuple on two VLANs is two flows', () => {
    const h = new Harness();
    const a = h.send(udpPkt(CLIENT, 5000, SERVER, 53, 10, 10), T0);
    const b = h.send(udpPkt(CLIENT, 5000, SERVER, 53, 10, 20), T0 + 1);
    const u = h.send(udpPkt(CLIENT, 5000, SERVER, 53, 10), T0 + 2);
    assert.equal(new Set([a, b, u]).size, 3);
    assert.equal(h.send(udpPkt(SERVER, 53, CLIENT, 5000, 10, 20), T0 + 3), b);
    assert.deepEqual([h.table.vlan[a], h.table.vlan[b], h.table.vlan[u]], [10, 20, 0]);
    assert.equal(h.table.packetsAB[b]! + h.table.packetsBA[b]!, 2);
    h.table.flush(T0 + 4);
    const vlans = h.events.map((e) => `${e.src_endpoint.vlan_uid ?? 'none'}/${e.dst_endpoint.vlan_uid ?? 'none'}`).sort();
    assert.deepEqual(vlans, ['10/10', '20/20', 'none/none']);
  });

  it('IPv6 keys use all 128 bits: addresses differing only in the upper 64 bits are two flows', () => {
    const h = new Harness();
    const x = '2001:db8:aaaa:1::5';
    const y = '2001:db8:bbbb:1::5';
    const z = '3001:db8:aaaa:1::5'; // differs only in the first word
    const srv = '2001:db8:ffff::443';
    const sx = h.send(tcpPkt(x, 1000, srv, 443, SYN), T0);
    const sy = h.send(tcpPkt(y, 1000, srv, 443, SYN), T0 + 1);
    const sz = h.send(tcpPkt(z, 1000, srv, 443, SYN), T0 + 2);
    assert.equal(new Set([sx, sy, sz]).size, 3);
    assert.equal(h.send(tcpPkt(srv, 443, y, 1000, SYN | ACK), T0 + 3), sy);
    assert.equal(h.send(tcpPkt(srv, 443, x, 1000, SYN | ACK), T0 + 4), sx);
    assert.equal(h.send(tcpPkt(srv, 443, z, 1000, SYN | ACK), T0 + 5), sz);
    assert.equal(h.table.size, 3);
    h.table.flush(T0 + 6);
    assert.deepEqual(h.events.map((e) => e.src_endpoint.ip).sort(), ['2001:db8:aaaa:1::5', '2001:db8:bbbb:1::5', '3001:db8:aaaa:1::5']);
    for (const e of h.events) assert.deepEqual([e.traffic.packets_out, e.traffic.packets_in, e.dst_endpoint.ip], [1, 1, '2001:db8:ffff::443']);
  });

  it('IPv4 10.0.0.1 and IPv6 ::a00:1 (same address words) are different flows', () => {
    const h = new Harness();
    const a = h.send(udpPkt('10.0.0.1', 1, '10.0.0.2', 2), T0);
    const b = h.send(udpPkt('::a00:1', 1, '::a00:2', 2), T0 + 1);
    assert.notEqual(a, b);
    assert.deepEqual([h.table.ipVersion[a], h.table.ipVersion[b]], [4, 6]);
  });

  it('ICMP between two hosts is one flow whatever the type and identifier', () => {
    const h = new Harness();
    const s = h.send(icmpPkt(CLIENT, SERVER, 1, 8), T0);
    assert.equal(h.send(icmpPkt(SERVER, CLIENT, 1, 0), T0 + 1), s);
    assert.equal(h.send(icmpPkt(CLIENT, SERVER, 2, 8), T0 + 2), s);
    assert.equal(h.send(icmpPkt(SERVER, CLIENT, 99, 3), T0 + 3), s);
    assert.equal(h.table.size, 1);
    h.table.flush(T0 + 4);
    const e = h.events[0]!;
    assert.deepEqual(e.src_endpoint, { ip: CLIENT, mac: macOf(CLIENT) }, 'no port for ICMP; the first sender is the client');
    assert.deepEqual([e.traffic.packets_out, e.traffic.packets_in], [2, 2]);
    assert.equal(e.connection_info.protocol_num, 1);
    // ICMPv6 likewise.
    const h6 = new Harness();
    const s6 = h6.send(icmpPkt('2001:db8::1', '2001:db8::2', 1), T0);
    assert.equal(h6.send(icmpPkt('2001:db8::2', '2001:db8::1', 7, 129), T0 + 1), s6);
    assert.equal(h6.table.size, 1);
  });

  it('same address on both ends: ports order the endpoints', () => {
    const h = new Harness();
    const s = h.send(udpPkt('127.0.0.1', 6000, '127.0.0.1', 5000), T0);
    assert.equal(h.send(udpPkt('127.0.0.1', 5000, '127.0.0.1', 6000), T0 + 1), s);
    assert.deepEqual([h.table.packetsAB[s], h.table.packetsBA[s]], [1, 1]);
  });
});

// ---------------------------------------------------------------------------------------------
// Client detection
// ---------------------------------------------------------------------------------------------

describe('client / server', () => {
  const clientOf = (h: Harness): string => {
    h.table.flush(T0 + 100 * S);
    assert.equal(h.events.length, 1);
    return `${h.events[0]!.src_endpoint.ip}:${h.events[0]!.src_endpoint.port ?? ''} known=${h.events[0]!.is_src_dst_assignment_known}`;
  };

  it('the SYN sender is the client', () => {
    const h = new Harness();
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, SYN), T0);
    h.send(tcpPkt(SERVER, 443, CLIENT, 40000, SYN | ACK), T0 + 1);
    assert.equal(clientOf(h), `${CLIENT}:40000 known=true`);
  });

  it('the SYN sender is the client even when it is the lower address', () => {
    const h = new Harness();
    h.send(tcpPkt(SERVER, 55555, CLIENT, 22, SYN), T0);
    assert.equal(clientOf(h), `${SERVER}:55555 known=true`);
  });

  it('when the SYN-ACK is seen first, its receiver is the client', () => {
    const h = new Harness();
    h.send(tcpPkt(SERVER, 443, CLIENT, 40000, SYN | ACK), T0);
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, ACK), T0 + 1);
    assert.equal(clientOf(h), `${CLIENT}:40000 known=true`);
  });

  it('mid-stream (no SYN): the system-port side is the server, not known', () => {
    const h = new Harness();
    h.send(tcpPkt(SERVER, 443, CLIENT, 40000, PSH | ACK, 100), T0);
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, ACK), T0 + 1);
    assert.equal(clientOf(h), `${CLIENT}:40000 known=false`);
    assert.equal(h.counters.clientByPort, 1);
  });

  it('mid-stream (no SYN): a user port facing a dynamic port (TCP) is the server', () => {
    const h = new Harness();
    h.send(tcpPkt(SERVER, 8080, CLIENT, 50000, PSH | ACK, 100), T0);
    assert.equal(clientOf(h), `${CLIENT}:50000 known=false`);
  });

  it('mid-stream (no SYN): ports of one rank tell nothing, the first sender is the client', () => {
    for (const [sp, cp] of [[40000, 41000], [50000, 60000], [22, 80]] as const) {
      const h = new Harness();
      h.send(tcpPkt(SERVER, sp, CLIENT, cp, PSH | ACK, 100), T0);
      assert.equal(clientOf(h), `${SERVER}:${sp} known=false`, `${sp}/${cp}`);
      assert.equal(h.counters.clientByFirstSender, 1);
    }
  });

  it('mid-stream (no SYN): an endpoint seen answering a SYN before is the server, whatever the ports', () => {
    const h = new Harness();
    // A first connection with its handshake: SERVER:50001 answers a SYN (a dynamic port).
    h.send(tcpPkt(CLIENT, 40000, SERVER, 50001, SYN), T0);
    h.send(tcpPkt(SERVER, 50001, CLIENT, 40000, SYN | ACK), T0 + 1);
    // A second one seen mid-stream, the server's packet first, from a port of a higher rank.
    const h2slot = h.send(tcpPkt(SERVER, 50001, CLIENT, 40001, PSH | ACK, 10), T0 + 2);
    const t = h.table;
    const clientIsA = t.clientIsA(h2slot);
    const clientPort = clientIsA ? t.portA[h2slot] : t.portB[h2slot];
    assert.equal(clientPort, 40001);
    assert.equal(t.clientKnown(h2slot), false);
    assert.equal(h.counters.clientByServerTable, 1);
  });

  it('the known-server table is bounded: an overwritten entry is counted', () => {
    const h = new Harness();
    // 20000 distinct servers answering a SYN into a 16384-entry direct-mapped table.
    for (let i = 0; i < 20000; i++) {
      h.send(tcpPkt(SERVER, 1024 + i, CLIENT, 40000, SYN | ACK), T0 + i);
    }
    assert.ok(h.counters.serverTableEvictions >= 20000 - 16384, String(h.counters.serverTableEvictions));
    // The most recent one is still known: a flow with it seen mid-stream is oriented by it,
    // even against the ports (the client's is a system port here).
    const s = h.send(tcpPkt(SERVER, 1024 + 19999, CLIENT, 1000, PSH | ACK, 10), T0 + 30000);
    assert.equal(h.counters.clientByServerTable, 1);
    assert.equal((h.table.clientIsA(s) ? h.table.portA : h.table.portB)[s], 1000);
  });

  it('a client decided by ports is turned round by reverseClient once; a SYN-decided one never', () => {
    const h = new Harness();
    const s1 = h.send(tcpPkt(SERVER, 443, CLIENT, 40000, PSH | ACK, 100), T0);
    assert.equal(h.table.reverseClient(s1), true);
    assert.equal(clientOf(h), `${SERVER}:443 known=false`);
    assert.equal(h.table.reverseClient(s1), false, 'decided once');
    assert.equal(h.counters.clientByPayload, 1);
    const h2 = new Harness();
    const s2 = h2.send(tcpPkt(CLIENT, 40000, SERVER, 443, SYN), T0);
    assert.equal(h2.table.reverseClient(s2), false);
    assert.equal(clientOf(h2), `${CLIENT}:40000 known=true`);
  });

  it('the server hint (DNS) decides when the ports do not', () => {
    const h = new Harness();
    let asked = 0;
    h.table.serverHint = (t, slot) => {
      asked++;
      const k = slot << 2;
      // Endpoint holding SERVER's address is the server.
      return P.ipv4Word(SERVER) === t.addrA[k + 3] ? 1 : 2;
    };
    h.send(tcpPkt(SERVER, 50000, CLIENT, 60000, PSH | ACK, 100), T0); // ports of one rank
    assert.equal(clientOf(h), `${CLIENT}:60000 known=false`);
    h.send(tcpPkt(SERVER, 443, CLIENT, 60001, PSH | ACK, 100), T0); // the port decides: not asked
    assert.equal(asked, 1);
    assert.equal(h.counters.clientByDns, 1);
  });

  it('a SYN right after a first out-of-order packet decides', () => {
    const h = new Harness();
    h.send(tcpPkt(SERVER, 443, CLIENT, 40000, ACK), T0);
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, SYN), T0 + 1);
    assert.equal(clientOf(h), `${CLIENT}:40000 known=true`);
  });

  it('UDP: a system port is the server even when its answer is seen first', () => {
    const h = new Harness();
    h.send(udpPkt(SERVER, 53, CLIENT, 5353), T0);
    h.send(udpPkt(CLIENT, 5353, SERVER, 53), T0 + 1);
    assert.equal(clientOf(h), `${CLIENT}:5353 known=false`);
  });

  it('UDP: user and dynamic ports tell nothing (peer-to-peer, media), the first sender is the client', () => {
    const h = new Harness();
    h.send(udpPkt(SERVER, 28681, CLIENT, 61616), T0);
    assert.equal(clientOf(h), `${SERVER}:28681 known=false`);
  });
});

// ---------------------------------------------------------------------------------------------
// Fragments
// ---------------------------------------------------------------------------------------------

function udpFragments(src: string, dst: string, sport: number, dport: number, id: number): Buffer[] {
  // A 64-byte UDP datagram (8 + 56) in three fragments: 24 + 24 + 16 bytes.
  const dgram = P.udp({ sport, dport }, Buffer.alloc(56, 0x63));
  const parts = [dgram.subarray(0, 24), dgram.subarray(24, 48), dgram.subarray(48)];
  return parts.map((part, i) => frameFor(src, dst, P.PROTO_UDP, part, undefined, { id, mf: i < 2, fragOffset: i * 3, transportChecksum: false }));
}

function udp6Fragments(src: string, dst: string, sport: number, dport: number, id: number): Buffer[] {
  const dgram = P.udp({ sport, dport }, Buffer.alloc(56, 0x63));
  const parts = [dgram.subarray(0, 32), dgram.subarray(32)];
  return parts.map((part, i) => P.ethernet(macOf(dst), macOf(src), P.ETH_IPV6,
    P.ipv6({ src, dst, nextHeader: P.PROTO_UDP, ext: [{ type: 'fragment', offset: i * 4, more: i === 0, id }] }, part)));
}

describe('IP fragments', () => {
  it('later IPv4 fragments are added to their first fragment\'s flow', () => {
    const h = new Harness();
    const out = udpFragments(CLIENT, SERVER, 5000, 6000, 0x99);
    const back = udpFragments(SERVER, CLIENT, 6000, 5000, 0x55);
    const slot = h.send(out[0]!, T0);
    assert.equal(h.send(out[1]!, T0 + 1), slot);
    assert.equal(h.send(out[2]!, T0 + 2), slot);
    assert.equal(h.send(back[0]!, T0 + 3), slot);
    assert.equal(h.send(back[1]!, T0 + 4), slot);
    assert.equal(h.send(back[2]!, T0 + 5), slot);
    assert.equal(h.table.size, 1);
    assert.equal(h.counters.orphanFragments, 0);
    const len = (fs: Buffer[]): number => fs.reduce((a, f) => a + f.length, 0);
    assert.deepEqual([h.table.packetsBA[slot], h.table.bytesBA[slot]], [3, len(out)]);
    assert.deepEqual([h.table.packetsAB[slot], h.table.bytesAB[slot]], [3, len(back)]);
    assert.equal(h.table.lastSeenUs[slot], T0 + 5);
  });

  it('IPv6 later fragments likewise', () => {
    const h = new Harness();
    const fr = udp6Fragments('2001:db8::1', '2001:db8::2', 5000, 6000, 0xabcdef);
    const slot = h.send(fr[0]!, T0);
    assert.equal(h.send(fr[1]!, T0 + 1), slot);
    assert.equal(h.table.packetsAB[slot], 2);
    assert.equal(h.table.bytesAB[slot], fr[0]!.length + fr[1]!.length);
  });

  it('orphan later fragments are counted in flows.orphan_fragments and create no flow', () => {
    const h = new Harness();
    const known = udpFragments(CLIENT, SERVER, 5000, 6000, 0x99);
    h.send(known[0]!, T0);
    const orphan = udpFragments(CLIENT, SERVER, 5000, 6000, 0x98);
    assert.equal(h.send(orphan[1]!, T0 + 1), -1);
    assert.equal(h.send(orphan[2]!, T0 + 2), -1);
    // Same id but other addresses or protocol.
    const otherHost = udpFragments('192.168.1.11', SERVER, 5000, 6000, 0x99);
    assert.equal(h.send(otherHost[1]!, T0 + 3), -1);
    const tcpLater = frameFor(CLIENT, SERVER, P.PROTO_TCP, Buffer.alloc(16), undefined, { id: 0x99, fragOffset: 3 });
    assert.equal(h.send(tcpLater, T0 + 4), -1);
    assert.equal(h.table.size, 1);
    assert.equal(h.snapshot()['flows.orphan_fragments'], 4);
  });

  it('a later fragment whose flow was reused by another flow is an orphan', () => {
    const h = new Harness(settings({ maxFlows: 1 }));
    const fr = udpFragments(CLIENT, SERVER, 5000, 6000, 0x99);
    h.send(fr[0]!, T0);
    h.send(udpPkt('10.1.1.1', 1, '10.1.1.2', 2), T0 + 1); // evicts the fragment's flow, reuses its slot
    assert.equal(h.counters.evictedTableFull, 1);
    assert.equal(h.send(fr[1]!, T0 + 2), -1);
    assert.equal(h.counters.orphanFragments, 1);
  });

  it('a later fragment whose flow was evicted (slot still free) is an orphan', () => {
      const h = new Harness();
      const fr = udpFragments(CLIENT, SERVER, 5000, 6000, 0x99);
      h.send(fr[0]!, T0);
      h.table.expire(T0 + 200 * S);
      assert.equal(h.table.size, 0);
      // Do not call forEach/expire/flush after this point: with the bug they can loop forever.
      assert.equal(h.send(fr[1]!, T0 + 201 * S), -1);
      assert.equal(h.counters.orphanFragments, 1);
      assert.deepEqual(h.slots(), []);
    });
});

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

describe('expiry', () => {
  const idle = { tcp: 50_000, udp: 30_000, icmp: 20_000, other: 40_000 };

  it('idle timeout per protocol class, by packet time', () => {
    const h = new Harness(settings({ idle, tcpClosedTimeoutMs: 5_000 }));
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, SYN), T0);
    h.send(udpPkt(CLIENT, 5000, SERVER, 53), T0);
    h.send(frameFor(CLIENT, SERVER, 136, P.udp({ sport: 1, dport: 2 })), T0); // UDP-Lite: UDP class
    h.send(icmpPkt(CLIENT, SERVER, 1), T0);
    h.send(icmpPkt('2001:db8::1', '2001:db8::2', 1), T0); // ICMPv6: ICMP class
    h.send(frameFor(CLIENT, SERVER, P.PROTO_ESP, Buffer.alloc(32)), T0); // other
    assert.equal(h.table.size, 6);
    const protos = (): number[] => h.slots().map((s) => h.table.protocol[s]!).sort((a, b) => a - b);

    h.table.expire(T0 + idle.icmp * MS); // exactly the timeout: not yet
    assert.equal(h.table.size, 6);
    h.table.expire(T0 + idle.icmp * MS + 1);
    assert.deepEqual(protos(), [6, 17, 50, 136]);
    h.table.expire(T0 + idle.udp * MS + 1);
    assert.deepEqual(protos(), [6, 50]);
    h.table.expire(T0 + idle.other * MS + 1);
    assert.deepEqual(protos(), [6]);
    h.table.expire(T0 + idle.tcp * MS + 1);
    assert.deepEqual(protos(), []);
    assert.equal(h.snapshot()['flows.evicted_idle'], 6);
    assert.equal(h.snapshot()['flows.evicted_tcp_closed'], 0);
    assert.equal(h.snapshot()['flows.active'], 0);
    // Idle evictions report CLOSE at the flow's last packet time.
    assert.ok(h.events.every((e) => e.activity_id === FlowActivity.CLOSE && e.time === Math.floor(T0 / 1000)));
  });

  it('a packet refreshes the idle clock', () => {
    const h = new Harness(settings({ idle }));
    const a = h.send(icmpPkt(CLIENT, SERVER, 1), T0);
    h.send(icmpPkt('10.0.0.1', '10.0.0.2', 1), T0 + 1 * S);
    h.send(icmpPkt(SERVER, CLIENT, 1, 0), T0 + 15 * S);
    h.table.expire(T0 + 21.5 * S);
    assert.deepEqual(h.slots(), [a], 'the other ICMP flow (last seen at 1 s) expired, this one was seen at 15 s');
    h.table.expire(T0 + 35 * S + 1);
    assert.equal(h.table.size, 0);
  });

  it('TCP FIN from both sides moves the flow to tcpClosedTimeoutMs', () => {
    const h = new Harness(settings({ idle, tcpClosedTimeoutMs: 5_000 }));
    const seq: [boolean, number][] = [[true, SYN], [false, SYN | ACK], [true, ACK], [true, FIN | ACK], [false, ACK], [false, FIN | ACK], [true, ACK]];
    let slot = -1;
    seq.forEach(([fromClient, flags], i) => {
      slot = h.send(fromClient ? tcpPkt(CLIENT, 40000, SERVER, 443, flags) : tcpPkt(SERVER, 443, CLIENT, 40000, flags), T0 + i * MS);
      assert.equal(h.table.isClosed(slot), i >= 5, `closed after packet ${i}`);
    });
    const last = T0 + 6 * MS;
    h.table.expire(last + 5 * S);
    assert.equal(h.table.size, 1);
    h.table.expire(last + 5 * S + 1);
    assert.equal(h.table.size, 0);
    assert.equal(h.snapshot()['flows.evicted_tcp_closed'], 1);
    assert.equal(h.snapshot()['flows.evicted_idle'], 0);
    assert.equal(h.events.length, 1);
    assert.equal(h.events[0]!.activity_id, FlowActivity.CLOSE);
    assert.deepEqual([h.events[0]!.traffic.packets_out, h.events[0]!.traffic.packets_in], [4, 3]);
  });

  it('one FIN (half close) keeps the TCP idle timeout', () => {
    const h = new Harness(settings({ idle, tcpClosedTimeoutMs: 5_000 }));
    const s = h.send(tcpPkt(CLIENT, 40000, SERVER, 443, SYN), T0);
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, FIN | ACK), T0 + 1);
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, FIN | ACK), T0 + 2); // retransmitted FIN, same side
    assert.equal(h.table.isClosed(s), false);
    h.table.expire(T0 + 6 * S);
    assert.equal(h.table.size, 1);
    h.table.expire(T0 + 2 + idle.tcp * MS + 1);
    assert.equal(h.snapshot()['flows.evicted_idle'], 1);
  });

  it('RST closes the flow: tcpClosedTimeoutMs, activity RESET', () => {
    const h = new Harness(settings({ idle, tcpClosedTimeoutMs: 5_000 }));
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, SYN), T0);
    const s = h.send(tcpPkt(SERVER, 443, CLIENT, 40000, RST | ACK), T0 + MS);
    assert.equal(h.table.isClosed(s), true);
    // Packets after the close refresh the closed timer but keep the flow closed.
    h.send(tcpPkt(CLIENT, 40000, SERVER, 443, ACK), T0 + 2 * S);
    h.table.expire(T0 + 7 * S);
    assert.equal(h.table.size, 1);
    h.table.expire(T0 + 7 * S + 1);
    assert.equal(h.table.size, 0);
    assert.equal(h.counters.evictedTcpClosed, 1);
    assert.equal(h.events[0]!.activity_id, FlowActivity.RESET);
    assert.equal(h.events[0]!.activity_name, 'Reset');
  });

  it('flush ends every flow: CLOSE with flow_end_reason for open ones, CLOSE / RESET for closed ones', () => {
    const h = new Harness();
    h.send(udpPkt(CLIENT, 1, SERVER, 2), T0);
    h.send(tcpPkt(CLIENT, 3, SERVER, 4, RST), T0 + 1);
    h.send(tcpPkt(CLIENT, 5, SERVER, 6, FIN), T0 + 2);
    h.send(tcpPkt(SERVER, 6, CLIENT, 5, FIN), T0 + 3);
    h.table.flush(T0 + 10 * S);
    assert.deepEqual(h.events.map((e) => e.activity_id), [FlowActivity.CLOSE, FlowActivity.RESET, FlowActivity.CLOSE]);
    assert.deepEqual(h.events.map((e) => e.unmapped?.flow_end_reason), ['capture_end', undefined, undefined]);
    // Each final event is timed at its flow's last packet, not at the flush.
    assert.deepEqual(h.events.map((e) => e.time), [T0, T0 + 1, T0 + 3].map((t) => Math.floor(t / 1000)));
    assert.ok(h.events.every((e) => e.time === e.end_time));
    assert.equal(h.snapshot()['flows.flushed'], 3);
    assert.equal(h.table.size, 0);
  });

  it('flush at shutdown and table-full eviction say so in flow_end_reason', () => {
    const h = new Harness(settings({ maxFlows: 1 }));
    h.send(udpPkt(CLIENT, 1000, SERVER, 53), T0);
    h.send(udpPkt(CLIENT, 1001, SERVER, 53), T0 + 5 * S);
    h.table.flush(T0 + 10 * S, EndReason.SHUTDOWN);
    assert.deepEqual(h.events.map((e) => [e.activity_id, e.unmapped?.flow_end_reason, e.time]),
      [[FlowActivity.CLOSE, 'table_full', Math.floor(T0 / 1000)], [FlowActivity.CLOSE, 'shutdown', Math.floor((T0 + 5 * S) / 1000)]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Bounds and growth
// ---------------------------------------------------------------------------------------------

describe('maxFlows and growth', () => {
  it('maxFlows bound: the least recently seen flow (any class) is evicted first', () => {
    const h = new Harness(settings({ maxFlows: 4 }));
    const f1 = h.send(tcpPkt(CLIENT, 1, SERVER, 80, SYN), T0 + 1);
    h.send(udpPkt(CLIENT, 2, SERVER, 53), T0 + 2);
    h.send(icmpPkt(CLIENT, SERVER, 3), T0 + 3);
    const f4 = h.send(tcpPkt(CLIENT, 4, SERVER, 80, SYN), T0 + 4);
    assert.equal(h.send(tcpPkt(SERVER, 80, CLIENT, 1, SYN | ACK), T0 + 5), f1); // f1 is now the most recent
    const f5 = h.send(udpPkt(CLIENT, 5, SERVER, 53), T0 + 6);
    assert.equal(h.table.size, 4);
    assert.equal(h.counters.evictedTableFull, 1);
    assert.equal(h.events.length, 1);
    assert.deepEqual([h.events[0]!.src_endpoint.port, h.events[0]!.connection_info.protocol_num], [2, 17], 'the UDP flow seen at t=2');
    const f6 = h.send(frameFor(CLIENT, SERVER, P.PROTO_ESP, Buffer.alloc(8)), T0 + 7);
    assert.equal(h.events.length, 2);
    assert.equal(h.events[1]!.connection_info.protocol_num, 1, 'then the ICMP flow seen at t=3');
    assert.deepEqual(h.slots(), [f1, f4, f5, f6].sort((a, b) => a - b));
    assert.equal(h.snapshot()['flows.evicted_table_full'], 2);
    assert.equal(h.snapshot()['flows.created'], 6);
    assert.equal(h.snapshot()['flows.active'], 4);
  });

  it('grows past the initial 16384 slots and keeps every flow and count', () => {
    const h = new Harness(settings(), false);
    const N = 16384 + 1500;
    const server = '10.255.255.1';
    const host = (i: number): string => `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
    const req: Buffer[] = [];
    const slots: number[] = [];
    for (let i = 0; i < N; i++) {
      const f = udpPkt(host(i), 1024 + (i % 50000), server, 53, i % 7);
      req.push(f);
      slots.push(h.send(f, T0 + i));
    }
    assert.equal(h.table.size, N);
    assert.equal(h.counters.tableGrowths, 1);
    assert.equal(h.table.capacity, 32768);
    assert.equal(new Set(slots).size, N);
    // Replies after the growth find the same flows.
    for (let i = 0; i < N; i++) {
      const r = udpPkt(server, 53, host(i), 1024 + (i % 50000), 20);
      assert.equal(h.send(r, T0 + N + i), slots[i], `reply ${i}`);
    }
    assert.equal(h.counters.created, N);
    let flows = 0;
    h.table.forEach((s) => {
      flows++;
      assert.equal(h.table.packetsAB[s]! + h.table.packetsBA[s]!, 2);
    });
    assert.equal(flows, N);
    for (let i = 0; i < N; i += 997) {
      const s = slots[i]!;
      const clientBytes = h.table.clientIsA(s) ? h.table.bytesAB[s] : h.table.bytesBA[s];
      assert.equal(clientBytes, req[i]!.length);
    }
    h.table.flush(T0 + 3 * N);
    assert.equal(h.snapshot()['flows.flushed'], N);
    assert.equal(h.table.size, 0);
  });

  it('growth stops at a maxFlows that is not a power of two', () => {
    const h = new Harness(settings({ maxFlows: 20_000 }), false);
    for (let i = 0; i < 20_005; i++) h.send(udpPkt(`10.0.${i >> 8}.${i & 0xff}`, 1000, '10.255.255.1', 53), T0 + i);
    assert.equal(h.table.capacity, 20_000);
    assert.equal(h.table.size, 20_000);
    assert.equal(h.counters.evictedTableFull, 5);
    assert.equal(h.counters.tableGrowths, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

describe('events', () => {
  for (const emitOpenEvents of [false, true]) {
    it(`active timeout emits TRAFFIC events; a flow's events sum to its totals (emitOpenEvents=${emitOpenEvents})`, () => {
      const h = new Harness(settings({ flowActiveTimeoutMs: 1000, emitOpenEvents }));
      let outP = 0, inP = 0, outB = 0, inB = 0;
      for (let i = 0; i <= 20; i++) {
        const fromClient = i % 3 !== 1;
        const flags = i === 0 ? SYN : i === 1 ? SYN | ACK : PSH | ACK;
        const f = fromClient ? tcpPkt(CLIENT, 40000, SERVER, 443, flags, i * 10) : tcpPkt(SERVER, 443, CLIENT, 40000, flags, i * 20);
        h.send(f, T0 + i * 250 * MS);
        if (fromClient) { outP++; outB += f.length; } else { inP++; inB += f.length; }
      }
      const traffic = h.events.filter((e) => e.activity_id === FlowActivity.TRAFFIC);
      assert.deepEqual(traffic.map((e) => e.time - Math.floor(T0 / 1000)), [1000, 2000, 3000, 4000, 5000]);
      assert.equal(h.counters.activeTimeoutEvents, 5);
      assert.equal(h.events.filter((e) => e.activity_id === FlowActivity.OPEN).length, emitOpenEvents ? 1 : 0);
      // The first TRAFFIC event carries packets 0..4 (t = 0..1000 ms).
      assert.equal(traffic[0]!.traffic.packets, 5);
      for (const e of traffic) {
        assert.equal(e.type_uid, 400106);
        assert.deepEqual(e.src_endpoint, { ip: CLIENT, port: 40000, mac: macOf(CLIENT) });
      }
      h.table.flush(T0 + 6 * S);
      const uid = h.events[0]!.connection_info.uid;
      const all = h.eventsOf(uid);
      assert.equal(all.length, h.events.length);
      assert.deepEqual(totals(all), { packets_out: outP, packets_in: inP, bytes_out: outB, bytes_in: inB });
      assert.ok(all.every((e) => e.duration >= 0 && e.start_time === Math.floor(T0 / 1000)));
    });
  }

  it('events of flows ended by expiry and by table-full eviction also sum to their totals', () => {
    const h = new Harness(settings({ maxFlows: 3, flowActiveTimeoutMs: 500, idle: { udp: 2000 } }));
    const sent = new Map<number, { out: number; in: number }>();
    for (let i = 0; i < 60; i++) {
      const port = 1000 + (i % 5);
      const fromClient = i % 2 === 0;
      const f = fromClient ? udpPkt(CLIENT, port, SERVER, 53, i) : udpPkt(SERVER, 53, CLIENT, port, i);
      h.send(f, T0 + i * 100 * MS);
      h.table.expire(T0 + i * 100 * MS);
      const s = sent.get(port) ?? { out: 0, in: 0 };
      if (fromClient) s.out += f.length; else s.in += f.length;
      sent.set(port, s);
    }
    h.table.flush(T0 + 100 * S);
    assert.ok(h.counters.evictedTableFull > 0);
    const byPort = new Map<number, { out: number; in: number }>();
    for (const e of h.events) {
      // Client: the first sender; i % 5 and i % 2 interleave, so both sides start some flows.
      const clientPort = e.src_endpoint.ip === CLIENT ? e.src_endpoint.port! : e.dst_endpoint.port!;
      const fromClientBytes = e.src_endpoint.ip === CLIENT ? e.traffic.bytes_out : e.traffic.bytes_in;
      const toClientBytes = e.src_endpoint.ip === CLIENT ? e.traffic.bytes_in : e.traffic.bytes_out;
      const s = byPort.get(clientPort) ?? { out: 0, in: 0 };
      s.out += fromClientBytes;
      s.in += toClientBytes;
      byPort.set(clientPort, s);
    }
    assert.deepEqual([...byPort.entries()].sort(), [...sent.entries()].sort());
  });

  it('time going backwards does not break counts, durations, timeouts or events', () => {
    const h = new Harness(settings({ flowActiveTimeoutMs: 1000, idle: { udp: 10_000 } }));
    const times = [10, 5, 20, 1, 19.5, 3].map((t) => T0 + t * S);
    let bytes = 0;
    let slot = -1;
    times.forEach((t, i) => {
      const f = i % 2 === 0 ? udpPkt(CLIENT, 5000, SERVER, 53, i) : udpPkt(SERVER, 53, CLIENT, 5000, i);
      bytes += f.length;
      slot = h.send(f, t);
    });
    assert.equal(h.table.size, 1);
    assert.equal(h.table.packetsAB[slot]! + h.table.packetsBA[slot]!, 6);
    assert.equal(h.table.lastSeenUs[slot], T0 + 20 * S, 'last seen is the latest time, not the last packet');
    assert.ok(h.table.firstSeenUs[slot]! <= h.table.lastSeenUs[slot]!);
    // A "now" before the last packet evicts nothing.
    h.table.expire(T0);
    h.table.expire(T0 + 25 * S);
    assert.equal(h.table.size, 1);
    h.table.expire(T0 + 30 * S + 1);
    assert.equal(h.table.size, 0);
    assert.equal(h.counters.evictedIdle, 1);
    for (const e of h.events) {
      assert.ok(e.start_time <= e.end_time && e.duration >= 0, JSON.stringify(e));
      assert.ok(e.traffic.packets >= 0 && e.traffic.bytes >= 0);
    }
    assert.equal(h.events.reduce((a, e) => a + e.traffic.bytes, 0), bytes);
    assert.equal(h.events.reduce((a, e) => a + e.traffic.packets, 0), 6);
  });

  it('expire() evicts a flow idle past its timeout even after an out-of-order (older) packet moved it behind newer flows', () => {
      const h = new Harness(settings({ idle: { udp: 10_000 } }));
      const x = h.send(udpPkt(CLIENT, 1, SERVER, 53), T0 + 100 * S);
      h.send(udpPkt(CLIENT, 2, SERVER, 53), T0 + 200 * S);
      h.send(udpPkt(CLIENT, 1, SERVER, 53), T0 + 50 * S); // clock went back: x's last seen stays 100 s
      h.table.expire(T0 + 150 * S);
      assert.ok(!h.slots().includes(x), 'x was last seen at 100 s and is 50 s idle at 150 s');
    });
});

describe('counters', () => {
  it('snapshot names are stable', () => {
    assert.deepEqual(Object.keys(new FlowCounters().snapshot(0)), [
      'flows.created', 'flows.active', 'flows.evicted_idle', 'flows.evicted_tcp_closed', 'flows.evicted_table_full',
      'flows.flushed', 'flows.active_timeout_events', 'flows.orphan_fragments', 'flows.table_growths',
      'flows.client_by_server_table', 'flows.client_by_port', 'flows.client_by_dns', 'flows.client_by_first_sender',
      'flows.client_by_payload', 'flows.server_table_evictions',
    ]);
  });
});
