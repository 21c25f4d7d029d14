/**
 * The verdict path's JavaScript half, fed batches laid out as native/nfq.c writes them: a name in
 * a flow's first packets decides (TLS SNI, QUIC SNI, HTTP Host, DNS query), the verdict carries
 * the mark the table turns into a connmark, and what cannot be judged passes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InlineEngine, NF_ACCEPT, NF_DROP, NF_REPEAT, SET_MARK, RECORD_HEADER_BYTES, RECORD_PREACCEPTED, type InlineDecision } from './engine.js';
import { MARK_ALLOW, MARK_BLOCK } from './nft.js';
import type { InlineConfig } from '../config.js';
import type { VerdictPolicy, VerdictRequest } from '../policy-types.js';
import type { RawPacket } from './packets.js';
import { ipv4, ipv6, tcp, udp, TCP_SYN, TCP_ACK, TCP_PSH, PROTO_UDP } from '../../../test/support/packets.js';
import { handshake, records, chromeLikeClientHelloBody } from '../../../test/fixtures/tls.js';
import { RFC9001_CLIENT_INITIAL_HEX } from '../../../test/fixtures/quic-rfc-vectors.js';

const CFG: InlineConfig = {
  enabled: true, backend: 'auto', queueNumber: 1, tcpPorts: [80, 443], udpPorts: [443], dnsPorts: [53], dnsNxdomain: true,
  failClosed: false, maxPacketsPerFlow: 4, batchPackets: 64, maxQueueLength: 1024, resetServer: true, readerRealtimePriority: 1, verdictBoostPriority: 1, verdictBoostBudgetMsPerSecond: 500, verdictBoostHoldMs: 2, verdictRealtimePriority: 0,
};

/** A policy blocking a set of names (and their subdomains), recording what it was asked. */
class SetPolicy implements VerdictPolicy {
  asked: VerdictRequest[] = [];
  constructor(public blocked: Set<string>) {}
  decide(r: VerdictRequest) {
    this.asked.push(r);
    const hit = [...this.blocked].some((b) => r.name === b || r.name.endsWith(`.${b}`));
    return hit ? { verdict: 'block' as const, reason: 'unsanctioned' as const, ruleId: `blocked:${r.name}`, appName: r.name } : { verdict: 'allow' as const, reason: 'default' as const, ruleId: 'default' };
  }
}

interface Pkt { id: number; mark?: number; data: Buffer; mac?: string; preaccepted?: boolean }

/** A batch in native/nfq.c's layout. */
function batch(pkts: Pkt[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of pkts) {
    const h = Buffer.alloc(RECORD_HEADER_BYTES);
    h.writeUInt32LE(p.id, 0);
    h.writeUInt32LE(p.mark ?? 0, 4);
    h.writeUInt32LE(p.data.length, 8);
    h.writeUInt32LE(p.data.length, 12);
    if (p.preaccepted === true) h.writeUInt32LE(RECORD_PREACCEPTED, 36);
    if (p.mac !== undefined) {
      h.writeUInt16LE(6, 24);
      Buffer.from(p.mac.split(':').map((x) => parseInt(x, 16))).copy(h, 28);
    }
    const pad = (4 - (p.data.length % 4)) % 4;
    parts.push(h, p.data, Buffer.alloc(pad));
  }
  return Buffer.concat(parts);
}

function harness(blocked: string[], cfg: InlineConfig = CFG) {
  const policy = new SetPolicy(new Set(blocked));
  const verdicts: Array<[number, number, number]> = [];
  const raw: RawPacket[] = [];
  const decisions: InlineDecision[] = [];
  const engine = new InlineEngine({
    cfg, policy: () => policy, now: () => 1_700_000_000_000,
    sink: {
      verdicts: (t, n) => { for (let i = 0; i < n; i++) verdicts.push([t[i * 3]!, t[i * 3 + 1]!, t[i * 3 + 2]!]); },
      sendRaw: (r) => { raw.push(r); return true; },
    },
    onDecision: (d) => decisions.push(d),
  });
  const feed = (pkts: Pkt[]) => engine.onBatch(batch(pkts), pkts.length);
  return { engine, policy, verdicts, raw, decisions, feed };
}

const C = '10.1.0.2', S = '192.0.2.10';
const hello = (host: string) => records(handshake(1, chromeLikeClientHelloBody(undefined, host)));
const syn = (sport: number, dport = 443) => ipv4({ src: C, dst: S }, tcp({ sport, dport, seq: 1000, flags: TCP_SYN }));
const ack = (sport: number, dport = 443) => ipv4({ src: C, dst: S }, tcp({ sport, dport, seq: 1001, ack: 5001, flags: TCP_ACK }));
const data = (sport: number, payload: Buffer, dport = 443) => ipv4({ src: C, dst: S }, tcp({ sport, dport, seq: 1001, ack: 5001, flags: TCP_ACK | TCP_PSH }, payload));

test('TLS: the SNI of the ClientHello decides; handshake packets before it pass unmarked', () => {
  const h = harness(['blocked.example']);
  h.feed([{ id: 1, data: syn(40000) }, { id: 2, data: ack(40000) }, { id: 3, mark: 0x5, data: data(40000, hello('www.Blocked.Example')), mac: '02:00:00:00:00:01' }]);
  assert.deepEqual(h.verdicts, [[1, NF_ACCEPT, 0], [2, NF_ACCEPT, 0], [3, NF_REPEAT | SET_MARK, MARK_BLOCK | 0x5]]);
  assert.equal(h.policy.asked.length, 1);
  assert.deepEqual(h.policy.asked[0], { name: 'www.blocked.example', nameSource: 'tls-sni', clientIp: C, clientMac: '02:00:00:00:00:01', nowMs: 1_700_000_000_000 });
  assert.equal(h.decisions[0]!.serverIp, S);
  assert.equal(h.decisions[0]!.decision.ruleId, 'blocked:www.blocked.example');
  // The server is reset in the client's name, at the blocked segment's sequence number.
  assert.equal(h.raw.length, 1);
  const rst = h.raw[0]!.packet;
  assert.equal(h.raw[0]!.family, 4);
  assert.equal(rst.readUInt32BE(20 + 4), 1001);
  assert.equal(rst[20 + 13], 0x04);
  assert.deepEqual([...h.raw[0]!.dst], [192, 0, 2, 10]);
  const c = h.engine.snapshot();
  assert.equal(c['inline.verdicts.block'], 1);
  assert.equal(c['inline.pending'], 2);
  assert.equal(c['inline.resets.server'], 1);
});

test('segments the reader thread accepted itself get no verdict here, and the flow goes on from them: a ClientHello split in two is judged on its second segment', () => {
  const h = harness(['blocked.example']);
  const ch = hello('www.blocked.example');
  const cut = 100;
  const seg = (seq: number, payload: Buffer) => ipv4({ src: C, dst: S }, tcp({ sport: 40010, dport: 443, seq, ack: 5001, flags: TCP_ACK }, payload));
  h.feed([
    { id: 1, data: syn(40010), preaccepted: true },
    { id: 2, data: ack(40010), preaccepted: true },
    { id: 3, data: seg(1001, ch.subarray(0, cut)) },
  ]);
  assert.deepEqual(h.verdicts, [[3, NF_ACCEPT, 0]], 'only the data segment is answered here');
  h.feed([{ id: 4, data: seg(1001 + cut, ch.subarray(cut)) }]);
  assert.deepEqual(h.verdicts[1], [4, NF_REPEAT | SET_MARK, MARK_BLOCK]);
  assert.equal(h.policy.asked[0]!.name, 'www.blocked.example');
  const c = h.engine.snapshot();
  assert.equal(c['inline.preaccepted'], 2);
  assert.equal(c['inline.packets'], 4);
});

test('pre-accepted segments count against maxPacketsPerFlow as before; a default verdict on one is given with the flow\'s next packet', () => {
  const h = harness([]);
  const junk = Buffer.from('SSH-2.0-OpenSSH_9.2\r\n');
  // maxPacketsPerFlow is 4: SYN, ACK (both pre-accepted), two payload packets.
  h.feed([{ id: 1, data: syn(40011), preaccepted: true }, { id: 2, data: ack(40011), preaccepted: true }, { id: 3, data: data(40011, junk) }, { id: 4, data: data(40011, junk) }]);
  assert.deepEqual(h.verdicts, [[3, NF_ACCEPT, 0], [4, NF_REPEAT | SET_MARK, MARK_ALLOW]]);
  assert.equal(h.engine.snapshot()['inline.verdicts.default'], 1);
});

test('TLS: an allowed name is marked allowed; a packet queued behind it gets the same verdict', () => {
  const h = harness(['blocked.example']);
  h.feed([{ id: 1, data: syn(40001) }, { id: 2, data: data(40001, hello('ok.example')) }, { id: 3, data: data(40001, Buffer.from('more')) }]);
  assert.deepEqual(h.verdicts.slice(1), [[2, NF_REPEAT | SET_MARK, MARK_ALLOW], [3, NF_REPEAT | SET_MARK, MARK_ALLOW]]);
  assert.equal(h.engine.snapshot()['inline.verdicts.repeat'], 1);
  assert.equal(h.raw.length, 0);
});

test('HTTP: the Host header decides', () => {
  const h = harness(['blocked.example']);
  const req = Buffer.from('GET / HTTP/1.1\r\nHost: blocked.example:8080\r\nUser-Agent: t\r\n\r\n');
  h.feed([{ id: 7, data: syn(40002, 80) }, { id: 8, data: data(40002, req, 80) }]);
  assert.deepEqual(h.verdicts[1], [8, NF_REPEAT | SET_MARK, MARK_BLOCK]);
  assert.equal(h.policy.asked[0]!.nameSource, 'http-host');
  assert.equal(h.policy.asked[0]!.name, 'blocked.example');
});

test('QUIC: the SNI of the decrypted Initial decides (RFC 9001 A.2 names example.com); blocked flows are dropped by the table', () => {
  const h = harness(['example.com']);
  const initial = Buffer.from(RFC9001_CLIENT_INITIAL_HEX, 'hex');
  h.feed([{ id: 9, data: ipv4({ src: C, dst: S, proto: PROTO_UDP }, udp({ sport: 50000, dport: 443 }, initial)) }]);
  assert.deepEqual(h.verdicts, [[9, NF_REPEAT | SET_MARK, MARK_BLOCK]]);
  assert.equal(h.policy.asked[0]!.nameSource, 'quic-sni');
  assert.equal(h.raw.length, 0, 'no RST for UDP');
});

test('a flow with no name within maxPacketsPerFlow gets the default verdict (allow), counted', () => {
  const h = harness(['blocked.example']);
  const junk = Buffer.from('SSH-2.0-OpenSSH_9.2\r\n');
  h.feed([1, 2, 3, 4].map((id) => ({ id, data: id === 1 ? syn(40003) : data(40003, junk) })));
  assert.deepEqual(h.verdicts.map((v) => v[1]), [NF_ACCEPT, NF_ACCEPT, NF_ACCEPT, NF_REPEAT | SET_MARK]);
  assert.equal(h.verdicts[3]![2], MARK_ALLOW);
  assert.equal(h.engine.snapshot()['inline.verdicts.default'], 1);
  assert.equal(h.policy.asked.length, 0);
});

function dnsQuery(id: number, name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

test('DNS: a blocked name is dropped and answered NXDOMAIN from the resolver; others pass unmarked', () => {
  const h = harness(['blocked.example']);
  h.feed([
    { id: 1, data: ipv4({ src: C, dst: '10.1.0.1', proto: PROTO_UDP }, udp({ sport: 33333, dport: 53 }, dnsQuery(0xabcd, 'api.blocked.example'))) },
    { id: 2, data: ipv4({ src: C, dst: '10.1.0.1', proto: PROTO_UDP }, udp({ sport: 33333, dport: 53 }, dnsQuery(0xabce, 'ok.example'))) },
  ]);
  assert.deepEqual(h.verdicts, [[1, NF_DROP, 0], [2, NF_ACCEPT, 0]]);
  assert.equal(h.raw.length, 1);
  const a = h.raw[0]!.packet;
  assert.deepEqual([...h.raw[0]!.dst], [10, 1, 0, 2]);
  assert.deepEqual([...a.subarray(12, 16)], [10, 1, 0, 1], 'from the resolver');
  assert.equal(a.readUInt16BE(20), 53);
  assert.equal(a.readUInt16BE(22), 33333);
  const dns = a.subarray(28);
  assert.equal(dns.readUInt16BE(0), 0xabcd);
  assert.equal(dns[2]! & 0x80, 0x80, 'QR');
  assert.equal(dns[3]! & 0x0f, 3, 'RCODE NXDOMAIN');
  assert.equal(dns.readUInt16BE(4), 1);
  assert.equal(dns.readUInt16BE(6), 0);
  assert.equal(h.engine.snapshot()['inline.dns.nxdomain'], 1);
  assert.equal(h.engine.snapshot()['inline.dns.allowed'], 1);
});

test('IPv6 TLS is judged and the server reset goes out over IPv6', () => {
  const h = harness(['blocked.example']);
  const c6 = '2001:db8::2', s6 = '2001:db8:1::10';
  h.feed([
    { id: 1, data: ipv6({ src: c6, dst: s6, nextHeader: 6 }, tcp({ sport: 41000, dport: 443, seq: 1000, flags: TCP_SYN })) },
    { id: 2, data: ipv6({ src: c6, dst: s6, nextHeader: 6 }, tcp({ sport: 41000, dport: 443, seq: 1001, ack: 1, flags: TCP_ACK | TCP_PSH }, hello('blocked.example'))) },
  ]);
  assert.deepEqual(h.verdicts[1], [2, NF_REPEAT | SET_MARK, MARK_BLOCK]);
  assert.equal(h.policy.asked[0]!.clientIp, c6);
  assert.equal(h.raw[0]!.family, 6);
  assert.equal(h.raw[0]!.packet.length, 60);
});

test('malformed and non-TCP/UDP packets pass, counted; a throwing policy allows, counted', () => {
  const h = harness([]);
  h.feed([{ id: 1, data: Buffer.from([0x45, 0, 0]) }, { id: 2, data: ipv4({ src: C, dst: S, proto: 1 }, Buffer.alloc(8)) }]);
  assert.deepEqual(h.verdicts, [[1, NF_ACCEPT, 0], [2, NF_ACCEPT, 0]]);
  assert.equal(h.engine.snapshot()['inline.malformed'], 1);
  assert.equal(h.engine.snapshot()['inline.unjudged'], 1);
  h.policy.decide = () => { throw new Error('policy store closed'); };
  h.feed([{ id: 3, data: data(40010, hello('x.example')) }]);
  assert.deepEqual(h.verdicts[2], [3, NF_REPEAT | SET_MARK, MARK_ALLOW]);
  assert.equal(h.engine.snapshot()['inline.policy_errors'], 1);
});

test('the policy is read at every decision: a change applies to the next new flow', () => {
  const h = harness([]);
  h.feed([{ id: 1, data: data(40020, hello('app.example')) }]);
  h.policy.blocked.add('app.example');
  h.feed([{ id: 2, data: data(40021, hello('app.example')) }]);
  assert.deepEqual(h.verdicts.map((v) => v[2]), [MARK_ALLOW, MARK_BLOCK]);
});

test('decisions are reported after the batch\'s verdicts, with the enforcement the path carried out', () => {
  const policy = new SetPolicy(new Set(['blocked.example', 'example.com']));
  const order: string[] = [];
  const decisions: InlineDecision[] = [];
  const engine = new InlineEngine({
    cfg: CFG, policy: () => policy, now: () => 1_700_000_000_000,
    sink: { verdicts: (_t, n) => { order.push(`verdicts:${n}`); }, sendRaw: () => true },
    onDecision: (d) => { order.push(`decision:${d.request.name}`); decisions.push(d); },
  });
  const dnsTo = (id: number, name: string) => ipv4({ src: C, dst: '10.1.0.1', proto: PROTO_UDP }, udp({ sport: 33334, dport: 53 }, dnsQuery(id, name)));
  const pkts: Pkt[] = [
    { id: 1, data: data(40100, hello('www.blocked.example')) },
    { id: 2, data: ipv4({ src: C, dst: S, proto: PROTO_UDP }, udp({ sport: 50001, dport: 443 }, Buffer.from(RFC9001_CLIENT_INITIAL_HEX, 'hex'))) },
    { id: 3, data: dnsTo(0x0101, 'api.blocked.example') },
    { id: 4, data: data(40101, hello('ok.example')) },
  ];
  engine.onBatch(batch(pkts), pkts.length);
  // One batch, one verdict call, and only then the reports (the event pipeline never delays a verdict).
  assert.deepEqual(order, ['verdicts:4', 'decision:www.blocked.example', 'decision:example.com', 'decision:api.blocked.example', 'decision:ok.example']);
  assert.deepEqual(decisions.map((d) => [d.transport, d.decision.verdict, d.enforcement]), [
    ['tcp', 'block', 'reset'], ['udp', 'block', 'drop'], ['udp', 'block', 'nxdomain'], ['tcp', 'allow', undefined],
  ]);
  // A blocked DNS query no answer could be sent for was dropped, and is reported so.
  const failing = new InlineEngine({
    cfg: CFG, policy: () => policy, sink: { verdicts: () => {}, sendRaw: () => false },
    onDecision: (d) => decisions.push(d),
  });
  failing.onBatch(batch([{ id: 5, data: dnsTo(0x0102, 'blocked.example') }]), 1);
  assert.equal(decisions.at(-1)!.enforcement, 'drop');
});

test('a reporter that throws is counted; the batch is answered and later decisions are still reported', () => {
  const policy = new SetPolicy(new Set(['blocked.example']));
  const verdicts: number[] = [];
  let calls = 0;
  const engine = new InlineEngine({
    cfg: CFG, policy: () => policy,
    sink: { verdicts: (t, n) => { for (let i = 0; i < n; i++) verdicts.push(t[i * 3 + 1]!); }, sendRaw: () => true },
    onDecision: () => { calls++; if (calls === 1) throw new Error('outbox closed'); },
  });
  engine.onBatch(batch([{ id: 1, data: data(40200, hello('blocked.example')) }, { id: 2, data: data(40201, hello('blocked.example')) }]), 2);
  assert.deepEqual(verdicts, [NF_REPEAT | SET_MARK, NF_REPEAT | SET_MARK]);
  assert.equal(calls, 2);
  assert.equal(engine.snapshot()['inline.decision_errors'], 1);
});
