/**
 * Names for flows without one, across a restart: a client resolves a name (DNS over UDP), then
 * opens a plain TCP connection (no SNI, no Host) to the answered address. The flow is named from
 * the DNS answer (`hostname_source: dns`) — in the same run, and after the name cache was closed
 * to LMDB and reopened by a new sensor, as a daemon restart does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { Sensor } from '../src/sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { DnsNameCache } from '../src/protocols/dns/name-cache.js';
import { LinkType } from '../src/capture/types.js';
import { ethernet, ipv4, udp, tcp, ETH_IPV4, PROTO_TCP, PROTO_UDP, TCP_SYN, TCP_ACK, TCP_PSH } from './support/packets.js';

const CLIENT = '10.9.0.5';
const RESOLVER = '10.9.0.1';
const SERVER = '203.0.113.80';
const C_MAC = '02:00:00:00:09:05';
const R_MAC = '02:00:00:00:09:01';

type Ev = { class_uid: number; src_endpoint: { ip: string }; dst_endpoint: { ip: string; hostname?: string }; unmapped?: { hostname_source?: string } };

function feed(sensor: Sensor, frames: Buffer[], t0Us: number): void {
  frames.forEach((f, i) => sensor.onPacket(f, 0, f.length, f.length, t0Us + i * 1000, LinkType.ETHERNET, 0));
  sensor.flush();
}

function dnsExchange(): Buffer[] {
  const query = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'files.example.com' }] });
  const response = dnsPacket.encode({
    type: 'response', id: 7, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type: 'A', name: 'files.example.com' }],
    answers: [
      { type: 'CNAME', name: 'files.example.com', ttl: 300, data: 'edge.cdn.example.net' },
      { type: 'A', name: 'edge.cdn.example.net', ttl: 300, data: SERVER },
    ],
  });
  return [
    ethernet(R_MAC, C_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: RESOLVER, proto: PROTO_UDP }, udp({ sport: 53000, dport: 53 }, query))),
    ethernet(C_MAC, R_MAC, ETH_IPV4, ipv4({ src: RESOLVER, dst: CLIENT, proto: PROTO_UDP }, udp({ sport: 53, dport: 53000 }, response))),
  ];
}

function plainTcp(sport: number): Buffer[] {
  const c = (flags: number, seq: number, data = Buffer.alloc(0)) => ethernet(R_MAC, C_MAC, ETH_IPV4, ipv4({ src: CLIENT, dst: SERVER, proto: PROTO_TCP }, tcp({ sport, dport: 9000, seq, flags }, data)));
  const s = (flags: number, seq: number, data = Buffer.alloc(0)) => ethernet(C_MAC, R_MAC, ETH_IPV4, ipv4({ src: SERVER, dst: CLIENT, proto: PROTO_TCP }, tcp({ sport: 9000, dport: sport, seq, flags }, data)));
  return [c(TCP_SYN, 1), s(TCP_SYN | TCP_ACK, 100), c(TCP_ACK, 2), c(TCP_PSH | TCP_ACK, 2, Buffer.from('binary protocol bytes')), s(TCP_ACK, 101)];
}

test('a flow with no name of its own gets the name its client resolved, also after a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-dns-restart-'));
  try {
    const t0 = Date.now() * 1000;
    const events: Ev[] = [];
    const cache1 = new DnsNameCache();
    await cache1.open(join(dir, 'dns-names'));
    const sensor1 = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => events.push(e as Ev), nameCache: cache1 });
    feed(sensor1, [...dnsExchange(), ...plainTcp(40001)], t0);
    const before = events.find((e) => e.dst_endpoint.ip === SERVER);
    assert.equal(before?.dst_endpoint.hostname, 'files.example.com', 'the name the client asked for, not the CNAME target');
    assert.equal(before?.unmapped?.hostname_source, 'dns');
    await cache1.close();

    // "Restart": a new sensor and a new cache opened on the same LMDB store; no DNS this time.
    const after: Ev[] = [];
    const cache2 = new DnsNameCache();
    await cache2.open(join(dir, 'dns-names'));
    const sensor2 = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => after.push(e as Ev), nameCache: cache2 });
    feed(sensor2, plainTcp(40002), t0 + 5_000_000);
    const flow = after.find((e) => e.dst_endpoint.ip === SERVER);
    assert.equal(flow?.dst_endpoint.hostname, 'files.example.com');
    assert.equal(flow?.unmapped?.hostname_source, 'dns');
    await cache2.close();

    // A fresh cache with nothing persisted does not invent a name.
    const none: Ev[] = [];
    const sensor3 = new Sensor({ flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network']), sink: (e) => none.push(e as Ev) });
    feed(sensor3, plainTcp(40003), t0 + 6_000_000);
    assert.equal(none.find((e) => e.dst_endpoint.ip === SERVER)?.dst_endpoint.hostname, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
