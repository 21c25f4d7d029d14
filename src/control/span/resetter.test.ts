/**
 * SPAN-mode reset injection: a blocked TLS flow seen on the capture path is answered with a RST
 * to each end, built from the client's segment (addresses, ports, MACs, sequence numbers); an
 * allowed flow and other ports are left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanResetter } from './resetter.js';
import type { InlineDecision } from '../inline/engine.js';
import { Decoder, DecodedPacket, DecodeStatus } from '../../decode/decoder.js';
import { DecodeCounters } from '../../decode/counters.js';
import { LinkType } from '../../capture/types.js';
import { ethernet, ipv4, tcp, ETH_IPV4, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../test/support/packets.js';
import { handshake, records, chromeLikeClientHelloBody } from '../../../test/fixtures/tls.js';

const CM = '02:00:00:00:00:0c', SM = '02:00:00:00:00:05';
const C = '10.1.0.2', S = '192.0.2.10';

function harness(blocked: string, injectWorks = true) {
  const sent: Buffer[] = [];
  const log: string[] = [];
  const decisions: InlineDecision[] = [];
  const r = new SpanResetter({
    cfg: { resetInjection: true, tcpPorts: [443] },
    policy: () => ({ decide: (q) => (q.name === blocked ? { verdict: 'block', reason: 'rule', ruleId: 'r' } : { verdict: 'allow', reason: 'default', ruleId: 'default' }) }),
    inject: (f) => { log.push('inject'); if (injectWorks) sent.push(Buffer.from(f)); return injectWorks; },
    onDecision: (d) => { log.push('decision'); decisions.push(d); },
  });
  const dec = new Decoder(new DecodeCounters());
  const p = new DecodedPacket();
  const feed = (frame: Buffer) => { assert.equal(dec.decode(frame, 0, frame.length, frame.length, LinkType.ETHERNET, p), DecodeStatus.OK); r.onIpPacket(p, frame, 1_000_000); };
  return { r, sent, feed, log, decisions };
}

const frame = (sport: number, dport: number, flags: number, seq: number, ack: number, payload: Buffer = Buffer.alloc(0)) =>
  ethernet(SM, CM, ETH_IPV4, ipv4({ src: C, dst: S }, tcp({ sport, dport, seq, ack, flags }, payload)));
const hello = (host: string) => records(handshake(1, chromeLikeClientHelloBody(undefined, host)));

test('a blocked ClientHello is answered with a RST to each end', () => {
  const h = harness('blocked.example');
  h.feed(frame(40000, 443, TCP_SYN, 999, 0));
  const ch = hello('blocked.example');
  h.feed(frame(40000, 443, TCP_ACK | TCP_PSH, 1000, 7000, ch));
  assert.equal(h.sent.length, 2);
  const [toClient, toServer] = h.sent as [Buffer, Buffer];
  // To the client, in the server's name: MACs and addresses swapped, RST+ACK at the sequence
  // number the client acknowledged.
  assert.equal(toClient.subarray(0, 6).toString('hex'), CM.replace(/:/g, ''));
  assert.equal(toClient.subarray(6, 12).toString('hex'), SM.replace(/:/g, ''));
  assert.deepEqual([...toClient.subarray(14 + 12, 14 + 20)], [192, 0, 2, 10, 10, 1, 0, 2]);
  assert.equal(toClient.readUInt16BE(34), 443);
  assert.equal(toClient.readUInt16BE(36), 40000);
  assert.equal(toClient.readUInt32BE(38), 7000);
  assert.equal(toClient.readUInt32BE(42), 1000 + ch.length);
  assert.equal(toClient[47], 0x14);
  // To the server, in the client's name: RST just past the ClientHello.
  assert.equal(toServer.subarray(0, 6).toString('hex'), SM.replace(/:/g, ''));
  assert.deepEqual([...toServer.subarray(14 + 12, 14 + 20)], [10, 1, 0, 2, 192, 0, 2, 10]);
  assert.equal(toServer.readUInt32BE(38), 1000 + ch.length);
  assert.equal(toServer[47], 0x04);
  // Frames decode as TCP again (well-formed headers).
  const d = new Decoder(new DecodeCounters()); const p = new DecodedPacket();
  for (const f of h.sent) assert.equal(d.decode(f, 0, f.length, f.length, LinkType.ETHERNET, p), DecodeStatus.OK);
  assert.deepEqual(h.r.snapshot()['span.blocked'], 1);
  // A later client segment of the blocked flow is answered again (the race may have been lost).
  h.feed(frame(40000, 443, TCP_ACK | TCP_PSH, 1000 + ch.length, 7100, Buffer.from('x')));
  assert.equal(h.sent.length, 4);
});

test('an allowed flow and another port get nothing', () => {
  const h = harness('blocked.example');
  h.feed(frame(40001, 443, TCP_ACK | TCP_PSH, 1000, 7000, hello('ok.example')));
  h.feed(frame(40002, 8443, TCP_ACK | TCP_PSH, 1000, 7000, hello('blocked.example')));
  assert.equal(h.sent.length, 0);
  assert.equal(h.r.snapshot()['span.judged'], 1);
});

test('the decision is reported after the resets went out, saying what was sent', () => {
  const h = harness('blocked.example');
  h.feed(frame(40003, 443, TCP_ACK | TCP_PSH, 1000, 7000, hello('blocked.example')));
  // The event pipeline's work comes after the frames: it must not cost the race.
  assert.deepEqual(h.log, ['inject', 'inject', 'decision']);
  assert.equal(h.decisions[0]!.enforcement, 'reset');
  h.feed(frame(40004, 443, TCP_ACK | TCP_PSH, 1000, 7000, hello('ok.example')));
  assert.equal(h.decisions[1]!.enforcement, undefined, 'an allow carries no enforcement');
  // No frame could be injected: denied, but nothing stopped the flow.
  const f = harness('blocked.example', false);
  f.feed(frame(40005, 443, TCP_ACK | TCP_PSH, 1000, 7000, hello('blocked.example')));
  assert.equal(f.decisions[0]!.enforcement, 'none');
  assert.equal(f.r.snapshot()['span.inject_failed'], 2);
});
