/**
 * The flow inspector is a generic loop over registered analyzers: a protocol plugs in through
 * its descriptor alone, probes decide candidates, NOT_MINE excludes an analyzer for one flow,
 * the first claimant owns the flow and its findings and counters come from its descriptor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, DecodedPacket, DecodeStatus } from '../decode/decoder.js';
import { DecodeCounters } from '../decode/counters.js';
import { LinkType } from '../capture/types.js';
import { FlowTable, FlowCounters, DEFAULT_FLOW_SETTINGS } from '../flows/flow-table.js';
import * as P from '../../test/support/packets.js';
import { FlowInspector, DEFAULT_INSPECTOR_SETTINGS } from './inspector.js';
import { Feed, Probe, TRANSPORT_TCP, TRANSPORT_UDP, type FlowAnalyzer, type ProtocolDescriptor } from './protocol.js';
import { PROTOCOLS } from './registry.js';

class Harness {
  readonly table = new FlowTable(DEFAULT_FLOW_SETTINGS, new FlowCounters(), null);
  private readonly decoder = new Decoder(new DecodeCounters());
  private readonly pkt = new DecodedPacket();
  constructor(readonly inspector: FlowInspector) {}
  send(frame: Buffer, tsUs: number): number {
    assert.equal(this.decoder.decode(frame, 0, frame.length, frame.length, LinkType.ETHERNET, this.pkt), DecodeStatus.OK);
    const slot = this.table.update(this.pkt, frame, frame.length, tsUs);
    this.inspector.onPacket(this.table, slot, this.pkt, frame, tsUs);
    return slot;
  }
}

const C = '02:00:00:00:00:01', S = '02:00:00:00:00:02';
function tcpFrame(src: string, dst: string, sport: number, dport: number, flags: number, seq: number, payload = ''): Buffer {
  return P.ethernet(src === '10.0.0.1' ? S : C, src === '10.0.0.1' ? C : S, P.ETH_IPV4,
    P.ipv4({ src, dst, proto: P.PROTO_TCP }, P.tcp({ sport, dport, flags, seq }, Buffer.from(payload, 'latin1'))));
}

/** A made-up line protocol: "HELO <name>" from the client names the flow; done after 2 lines. */
interface HeloState { lines: number; name: string }
function heloDescriptor(log: string[], provesClient = false): ProtocolDescriptor {
  let lines = 0;
  const analyzer: FlowAnalyzer<HeloState> = {
    name: 'helo', transports: TRANSPORT_TCP, probeEmpty: false, everyPacket: false, provesClient,
    probe(pc) {
      log.push(`helo.probe ${pc.buf.toString('latin1', pc.p.payloadOffset, pc.p.payloadOffset + 4)}`);
      return pc.buf.toString('latin1', pc.p.payloadOffset, pc.p.payloadOffset + 5) === 'HELO ' ? (pc.fromClient ? Probe.MINE : Probe.MINE_REVERSED) : Probe.NOT_YET;
    },
    start: () => ({ lines: 0, name: '' }),
    feed(s, pc) {
      const text = pc.buf.toString('latin1', pc.p.payloadOffset, pc.p.payloadOffset + pc.p.payloadLength);
      if (pc.fromClient && text.startsWith('HELO ')) s.name = text.slice(5).trim();
      s.lines++; lines++;
      return Feed.CONTINUE;
    },
    isDone: (s) => s.lines >= 2,
    contribute(s, ctx) { if (s.name !== '') { ctx.findings.hostname = s.name; ctx.findings.hostnameSource = 'sni'; } },
    counters: () => ({ 'helo.lines': lines }),
  };
  return { name: 'helo', flow: () => analyzer };
}

/** Says "not mine" on the first packet of every flow and counts how often it is asked. */
function refuserDescriptor(log: string[]): ProtocolDescriptor {
  const analyzer: FlowAnalyzer<null> = {
    name: 'refuser', transports: TRANSPORT_TCP | TRANSPORT_UDP, probeEmpty: true, everyPacket: false,
    probe() { log.push('refuser.probe'); return Probe.NOT_MINE; },
    start: () => null, feed: () => Feed.CONTINUE, isDone: () => true, contribute() {},
    counters: () => ({ 'refuser.flows': 0 }),
  };
  return { name: 'refuser', flow: () => analyzer };
}

test('a descriptor plugs a flow analyzer in: probe, claim, feed, done, findings, counters', () => {
  const log: string[] = [];
  const inspector = new FlowInspector(DEFAULT_INSPECTOR_SETTINGS, [refuserDescriptor(log), heloDescriptor(log)]);
  const h = new Harness(inspector);
  h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40000, 2525, P.TCP_SYN, 100), 1);
  h.send(tcpFrame('10.0.0.2', '10.0.0.1', 2525, 40000, P.TCP_SYN | P.TCP_ACK, 900), 2);
  h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40000, 2525, P.TCP_ACK, 101, 'NOOP\r\n'), 3);
  const slot = h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40000, 2525, P.TCP_ACK, 107, 'HELO alpha\r\n'), 4);
  // Excluded after its first answer: asked once for the flow, although four packets went by.
  assert.deepEqual(log, ['refuser.probe', 'helo.probe NOOP', 'helo.probe HELO']);
  assert.equal(inspector.findingsOf(h.table, slot)?.hostname, 'alpha');
  h.send(tcpFrame('10.0.0.2', '10.0.0.1', 2525, 40000, P.TCP_ACK, 901, '250 ok\r\n'), 5);
  // Done after two lines: later packets are not fed.
  h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40000, 2525, P.TCP_ACK, 119, 'HELO beta\r\n'), 6);
  assert.equal(inspector.findingsOf(h.table, slot)?.hostname, 'alpha');
  assert.deepEqual(inspector.counters(), { 'refuser.flows': 0, 'helo.lines': 2 });
});

test('an undecided flow is left alone after four payload packets nobody claims', () => {
  const log: string[] = [];
  const inspector = new FlowInspector(DEFAULT_INSPECTOR_SETTINGS, [heloDescriptor(log)]);
  const h = new Harness(inspector);
  for (let i = 0; i < 6; i++) h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40001, 2525, P.TCP_ACK, 100 + i * 5, `NO${i}\r\n`), 1 + i);
  // Probed on packets 1-5 (the fifth is the last chance), never after.
  assert.equal(log.length, 5);
  const slot = h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40001, 2525, P.TCP_ACK, 200, 'HELO late\r\n'), 9);
  assert.equal(log.length, 5);
  assert.equal(inspector.findingsOf(h.table, slot)?.hostname, undefined);
});

test('the first claimant owns the flow; a request from the guessed server reverses it', () => {
  const first: string[] = [], second: string[] = [];
  const inspector = new FlowInspector(DEFAULT_INSPECTOR_SETTINGS, [heloDescriptor(first), heloDescriptor(second)]);
  const h = new Harness(inspector);
  // No SYN: the flow's client is guessed from the first packet, which is the server's.
  h.send(tcpFrame('10.0.0.2', '10.0.0.1', 2525, 40002, P.TCP_ACK, 900, '220 hi\r\n'), 1);
  const slot = h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40002, 2525, P.TCP_ACK, 100, 'HELO gamma\r\n'), 2);
  assert.equal(first.length, 2);
  assert.equal(second.length, 1, 'the second analyzer is not asked once the first claimed the flow');
  assert.equal(inspector.findingsOf(h.table, slot)?.hostname, 'gamma');
});

test('a claim that proves the client turns a guessed flow round in the flow table, once', () => {
  const log: string[] = [];
  const inspector = new FlowInspector(DEFAULT_INSPECTOR_SETTINGS, [heloDescriptor(log, true)]);
  const h = new Harness(inspector);
  // Ports of one rank and no SYN: the first sender (the server, 10.0.0.2) is taken as client.
  const slot = h.send(tcpFrame('10.0.0.2', '10.0.0.1', 2525, 40002, P.TCP_ACK, 900, '220 hi\r\n'), 1);
  const clientIp = (): number => (h.table.clientIsA(slot) ? h.table.addrA : h.table.addrB)[(slot << 2) + 3]!;
  assert.equal(clientIp(), P.ipv4Word('10.0.0.2'));
  h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40002, 2525, P.TCP_ACK, 100, 'HELO gamma\r\n'), 2);
  assert.equal(clientIp(), P.ipv4Word('10.0.0.1'), 'the HELO sender is now the flow\'s client');
  assert.equal(h.table.clientKnown(slot), false, 'still not known from a handshake');
  assert.equal(h.table.lastPacketFromClient, true);
  // Later packets are seen from the corrected side: the client's second line is fed as the client's.
  h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40002, 2525, P.TCP_ACK, 112, 'HELO delta\r\n'), 3);
  assert.equal(inspector.findingsOf(h.table, slot)?.hostname, 'delta');
  assert.equal(h.table.counters.clientByPayload, 1);
});

test('a claim that proves the client does not override a handshake', () => {
  const inspector = new FlowInspector(DEFAULT_INSPECTOR_SETTINGS, [heloDescriptor([], true)]);
  const h = new Harness(inspector);
  const slot = h.send(tcpFrame('10.0.0.2', '10.0.0.1', 2525, 40002, P.TCP_SYN, 900), 1);
  h.send(tcpFrame('10.0.0.1', '10.0.0.2', 40002, 2525, P.TCP_ACK, 100, 'HELO gamma\r\n'), 2);
  assert.equal((h.table.clientIsA(slot) ? h.table.addrA : h.table.addrB)[(slot << 2) + 3], P.ipv4Word('10.0.0.2'));
  assert.equal(h.table.clientKnown(slot), true);
  assert.equal(inspector.findingsOf(h.table, slot)?.hostname, 'gamma');
});

test('the default registry probes DNS first, then TLS, QUIC and HTTP, then the port-keyed logon analyzers', () => {
  const inspector = new FlowInspector();
  assert.deepEqual(inspector.analyzers.map((a) => a.name), ['dns', 'tls', 'quic', 'http', 'kerberos', 'ntlm', 'radius']);
  assert.deepEqual(PROTOCOLS.map((d) => d.name), ['dns', 'tls', 'quic', 'http', 'dhcp', 'arp', 'nbns', 'kerberos', 'ntlm', 'radius']);
});

test('fingerprints: false names TLS and QUIC flows as before without computing their JA4 (the inline verdict path needs only the name)', async () => {
  const { handshake, records, chromeLikeClientHelloBody } = await import('../../test/fixtures/tls.js');
  const { RFC9001_CLIENT_INITIAL_HEX } = await import('../../test/fixtures/quic-rfc-vectors.js');
  const hello = records(handshake(1, chromeLikeClientHelloBody(undefined, 'app.example.com')));
  const initial = Buffer.from(RFC9001_CLIENT_INITIAL_HEX, 'hex');
  for (const fingerprints of [undefined, true, false]) {
    const h = new Harness(new FlowInspector({ ...DEFAULT_INSPECTOR_SETTINGS, ...(fingerprints !== undefined ? { fingerprints } : {}) }, PROTOCOLS));
    h.send(tcpFrame('10.0.0.2', '192.0.2.1', 40000, 443, P.TCP_SYN, 1000), 1);
    const tlsSlot = h.send(tcpFrame('10.0.0.2', '192.0.2.1', 40000, 443, P.TCP_ACK | P.TCP_PSH, 1001, hello.toString('latin1')), 2);
    const quicSlot = h.send(P.ethernet(S, C, P.ETH_IPV4, P.ipv4({ src: '10.0.0.2', dst: '192.0.2.1', proto: P.PROTO_UDP }, P.udp({ sport: 50000, dport: 443 }, initial))), 3);
    const tls = h.inspector.findingsOf(h.table, tlsSlot), quic = h.inspector.findingsOf(h.table, quicSlot);
    assert.deepEqual([tls?.hostname, tls?.hostnameSource, quic?.hostname, quic?.hostnameSource], ['app.example.com', 'sni', 'example.com', 'quic'], `fingerprints ${fingerprints}`);
    if (fingerprints === false) {
      assert.equal(tls?.tls?.ja4, undefined);
      assert.equal(quic?.tls?.ja4, undefined);
    } else {
      assert.match(tls?.tls?.ja4 ?? '', /^t13d/);
      assert.match(quic?.tls?.ja4 ?? '', /^q13d/);
    }
  }
});
