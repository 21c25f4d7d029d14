// Decoder tests: every link type, the layers between link and IP, IPv4/IPv6 details, transport
// ports, tunnels, and malformed input (truncation at every offset, lying lengths, header chains
// beyond their bounds, random bytes). Packets are built byte by byte with test/support/packets.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, DecodedPacket, DecodeStatus, Fragment } from './decoder.js';
import { DecodeCounters } from './counters.js';
import { LinkType } from '../capture/types.js';
import { MAX_IPV6_EXT_HEADERS, MAX_MPLS_LABELS, MAX_TUNNEL_DEPTH, MAX_VLAN_TAGS } from './constants.js';
import * as P from '../../test/support/packets.js';
import { mulberry32 as prng } from '../../test/support/prng.js';

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

type Counters = Record<string, number>;

interface Result {
  status: DecodeStatus;
  pkt: DecodedPacket;
  /** Counters that are non-zero after the decode (a fresh DecodeCounters per call). */
  counters: Counters;
  prefix: number;
}

interface RunOptions {
  capLen?: number;
  wireLen?: number;
  /** Bytes of junk placed before the frame; decode() is given offset = prefix. */
  prefix?: number;
  decap?: boolean;
}

function nonZero(c: DecodeCounters): Counters {
  const r: Counters = {};
  for (const [k, v] of Object.entries(c.snapshot())) if (v !== 0) r[k] = v;
  return r;
}

function run(frame: Buffer, linkType: number, o: RunOptions = {}): Result {
  const prefix = o.prefix ?? 0;
  const buf = Buffer.concat([Buffer.alloc(prefix, 0xee), frame]);
  const counters = new DecodeCounters();
  const decoder = new Decoder(counters, { decapsulateUdpTunnels: o.decap ?? true });
  const pkt = new DecodedPacket();
  const capLen = o.capLen ?? frame.length;
  const status = decoder.decode(buf, prefix, capLen, o.wireLen ?? capLen, linkType, pkt);
  return { status, pkt, counters: nonZero(counters), prefix };
}

interface Expect {
  status?: DecodeStatus;
  ipVersion?: number;
  src?: string;
  dst?: string;
  protocol?: number;
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  tcpSeq?: number;
  fragment?: Fragment;
  fragmentId?: number;
  vlanId?: number;
  /** Offsets are relative to the start of the frame (the harness adds the prefix). */
  ipOffset?: number;
  payloadOffset?: number;
  payloadLength?: number;
  tunnelDepth?: number;
  dstMacOffset?: number;
  srcMacOffset?: number;
  /** Exactly these counters are non-zero. */
  counters?: Counters;
}

function actualFor(r: Result, e: Expect): Record<string, unknown> {
  const p = r.pkt;
  const a: Record<string, unknown> = {};
  const rel = (v: number): number => (v < 0 ? v : v - r.prefix);
  for (const k of Object.keys(e) as (keyof Expect)[]) {
    switch (k) {
      case 'status': a[k] = r.status; break;
      case 'src': a[k] = [p.src0, p.src1, p.src2, p.src3]; break;
      case 'dst': a[k] = [p.dst0, p.dst1, p.dst2, p.dst3]; break;
      case 'counters': a[k] = r.counters; break;
      case 'ipOffset': case 'payloadOffset': case 'dstMacOffset': case 'srcMacOffset': a[k] = rel(p[k]); break;
      default: a[k] = p[k];
    }
  }
  return a;
}

function expectedFor(e: Expect): Record<string, unknown> {
  const x: Record<string, unknown> = { ...e };
  if (e.src !== undefined) x['src'] = P.addrWords(e.src);
  if (e.dst !== undefined) x['dst'] = P.addrWords(e.dst);
  return x;
}

/** Decodes `frame` at offset 0 and again behind a 7-byte prefix; both must match `e`. */
function expectDecode(frame: Buffer, linkType: number, e: Expect, o: RunOptions = {}): Result {
  const r = run(frame, linkType, o);
  assert.deepEqual(actualFor(r, e), expectedFor(e));
  const shifted = run(frame, linkType, { ...o, prefix: 7 });
  assert.deepEqual(actualFor(shifted, e), expectedFor(e), 'with a 7-byte prefix (offset 7)');
  return r;
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const MAC_C = '02:00:00:00:00:0c';
const MAC_S = '02:00:00:00:00:05';
const C4 = '192.168.1.10';
const S4 = '93.184.216.34';
const C6 = '2001:db8:1::10';
const S6 = '2001:db8:2::20';
const HELLO = Buffer.from('hello');
const SEQ = 0xdeadbeef;

/** IPv4 TCP SYN C4:40000 → S4:443 with 5 payload bytes (60 bytes: 20 + 20 + 5... = 45). */
const tcp4 = (o: Partial<P.Ipv4Options> = {}, payload = HELLO): Buffer =>
  P.ipv4({ src: C4, dst: S4, proto: P.PROTO_TCP, id: 0x1234, ...o }, P.tcp({ sport: 40000, dport: 443, flags: P.TCP_SYN, seq: SEQ }, payload));
const tcp6 = (o: Partial<P.Ipv6Options> = {}, payload = HELLO): Buffer =>
  P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_TCP, ...o }, P.tcp({ sport: 40000, dport: 443, flags: P.TCP_SYN, seq: SEQ }, payload));
const udp4 = (sport: number, dport: number, payload: Buffer, o: Partial<P.Ipv4Options> = {}): Buffer =>
  P.ipv4({ src: C4, dst: S4, proto: P.PROTO_UDP, ...o }, P.udp({ sport, dport }, payload));
const eth = (type: number, payload: Buffer): Buffer => P.ethernet(MAC_S, MAC_C, type, payload);

/** The fields of tcp4() decoded with its IPv4 header at `ip`. */
function tcp4Expect(ip: number, extra: Expect = {}): Expect {
  return {
    status: DecodeStatus.OK, ipVersion: 4, src: C4, dst: S4, protocol: 6, srcPort: 40000, dstPort: 443,
    tcpFlags: P.TCP_SYN, tcpSeq: SEQ, fragment: Fragment.NONE, ipOffset: ip, payloadOffset: ip + 40, payloadLength: 5,
    tunnelDepth: 0, counters: {}, ...extra,
  };
}
function tcp6Expect(ip: number, extra: Expect = {}): Expect {
  return {
    status: DecodeStatus.OK, ipVersion: 6, src: C6, dst: S6, protocol: 6, srcPort: 40000, dstPort: 443,
    tcpFlags: P.TCP_SYN, tcpSeq: SEQ, fragment: Fragment.NONE, ipOffset: ip, payloadOffset: ip + 60, payloadLength: 5,
    tunnelDepth: 0, counters: {}, ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

describe('test/support/packets builders', () => {
  it('IPv4 header checksum and TCP/UDP checksums verify', () => {
    const ip = tcp4();
    assert.equal(P.internetChecksum(ip.subarray(0, 20)), 0);
    const pseudo = Buffer.concat([P.ipv4Bytes(C4), P.ipv4Bytes(S4), Buffer.from([0, 6, 0, ip.length - 20])]);
    assert.equal(P.internetChecksum(pseudo, ip.subarray(20)), 0);
    const u = udp4(1, 2, Buffer.from('abc'));
    const pseudoU = Buffer.concat([P.ipv4Bytes(C4), P.ipv4Bytes(S4), Buffer.from([0, 17, 0, u.length - 20])]);
    assert.equal(P.internetChecksum(pseudoU, u.subarray(20)), 0);
    const icmp = P.icmp({}, Buffer.from('ping'));
    assert.equal(P.internetChecksum(icmp), 0);
  });

  it('parses addresses', () => {
    assert.equal(P.ipv6Bytes('2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
    assert.equal(P.ipv6Bytes('::ffff:10.0.0.1').toString('hex'), '00000000000000000000ffff0a000001');
    assert.equal(P.ipv6Bytes('::').toString('hex'), '0'.repeat(32));
    assert.deepEqual(P.addrWords('10.0.0.1'), [0, 0, 0, 0x0a000001]);
    assert.equal(P.mac('aa:bb:cc:dd:ee:ff').toString('hex'), 'aabbccddeeff');
    assert.throws(() => P.ipv6Bytes('1::2::3'));
    assert.throws(() => P.ipv4Bytes('1.2.3.256'));
  });

  it('pcapFile writes a classic little-endian header and records', () => {
    const f = P.pcapFile([{ data: Buffer.from([1, 2, 3]), tsUs: 1_700_000_000_123_456, wireLen: 60 }], LinkType.ETHERNET);
    assert.equal(f.readUInt32LE(0), 0xa1b2c3d4);
    assert.equal(f.readUInt16LE(4), 2);
    assert.equal(f.readUInt16LE(6), 4);
    assert.equal(f.readUInt32LE(20), 1);
    assert.equal(f.readUInt32LE(24), 1_700_000_000);
    assert.equal(f.readUInt32LE(28), 123_456);
    assert.equal(f.readUInt32LE(32), 3);
    assert.equal(f.readUInt32LE(36), 60);
    assert.equal(f.length, 24 + 16 + 3);
  });
});

// ---------------------------------------------------------------------------------------------
// Link types
// ---------------------------------------------------------------------------------------------

describe('link types', () => {
  it('Ethernet: IPv4 and IPv6, MAC offsets', () => {
    expectDecode(eth(P.ETH_IPV4, tcp4()), LinkType.ETHERNET, { ...tcp4Expect(14), dstMacOffset: 0, srcMacOffset: 6, vlanId: 0 });
    expectDecode(eth(P.ETH_IPV6, tcp6()), LinkType.ETHERNET, { ...tcp6Expect(14), dstMacOffset: 0, srcMacOffset: 6 });
  });

  it('Ethernet: ARP and 802.3 length frames are NOT_IP (decode.non_ip)', () => {
    expectDecode(eth(P.ETH_ARP, Buffer.alloc(28)), LinkType.ETHERNET, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
    expectDecode(eth(46, Buffer.alloc(46)), LinkType.ETHERNET, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
  });

  it('Ethernet: shorter than 14 bytes is decode.link_truncated', () => {
    expectDecode(Buffer.alloc(13), LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
  });

  it('Linux SLL (113): 16-byte header', () => {
    expectDecode(P.linuxSll(P.ETH_IPV4, tcp4()), LinkType.LINUX_SLL, { ...tcp4Expect(16), dstMacOffset: -1, srcMacOffset: -1 });
    expectDecode(P.linuxSll(P.ETH_IPV6, tcp6()), LinkType.LINUX_SLL, tcp6Expect(16));
    expectDecode(P.linuxSll(P.ETH_VLAN, P.vlan(42, P.ETH_IPV4, tcp4())), LinkType.LINUX_SLL, { ...tcp4Expect(20), vlanId: 42 });
    expectDecode(P.linuxSll(P.ETH_ARP, Buffer.alloc(28)), LinkType.LINUX_SLL, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
    expectDecode(Buffer.alloc(15), LinkType.LINUX_SLL, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
  });

  it('Linux SLL2 (276): 20-byte header, protocol first', () => {
    expectDecode(P.linuxSll2(P.ETH_IPV4, tcp4()), LinkType.LINUX_SLL2, { ...tcp4Expect(20), dstMacOffset: -1, srcMacOffset: -1 });
    expectDecode(P.linuxSll2(P.ETH_IPV6, tcp6()), LinkType.LINUX_SLL2, tcp6Expect(20));
    expectDecode(P.linuxSll2(P.ETH_ARP, Buffer.alloc(28)), LinkType.LINUX_SLL2, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
    expectDecode(Buffer.alloc(19), LinkType.LINUX_SLL2, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
  });

  for (const [name, lt] of [['RAW (101)', LinkType.RAW], ['RAW DLT 12', LinkType.RAW_DLT12], ['RAW DLT 14', LinkType.RAW_DLT14]] as const) {
    it(`${name}: version nibble picks IPv4/IPv6`, () => {
      expectDecode(tcp4(), lt, { ...tcp4Expect(0), dstMacOffset: -1, srcMacOffset: -1 });
      expectDecode(tcp6(), lt, tcp6Expect(0));
      expectDecode(Buffer.from([0x50, 0, 0, 0]), lt, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
      expectDecode(Buffer.alloc(0), lt, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
    });
  }

  it('IPV4 (228) and IPV6 (229): the link type fixes the version', () => {
    expectDecode(tcp4(), LinkType.IPV4, tcp4Expect(0));
    expectDecode(tcp6(), LinkType.IPV6, tcp6Expect(0));
    expectDecode(tcp6(), LinkType.IPV4, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_version': 1 } });
    expectDecode(Buffer.concat([tcp4(), Buffer.alloc(40)]), LinkType.IPV6, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv6_bad_version': 1 } });
  });

  describe('NULL (0) in both byte orders, LOOP (108) in network order', () => {
    for (const le of [true, false]) {
      const order = le ? 'little-endian' : 'big-endian';
      it(`NULL ${order}: AF_INET`, () => {
        expectDecode(P.bsdNull(P.AF_INET, tcp4(), le), LinkType.NULL, tcp4Expect(4));
      });
      for (const af of [P.AF_INET6_BSD, P.AF_INET6_FREEBSD, P.AF_INET6_DARWIN, P.AF_INET6_LINUX]) {
        it(`NULL ${order}: AF_INET6 = ${af}`, () => {
          expectDecode(P.bsdNull(af, tcp6(), le), LinkType.NULL, tcp6Expect(4));
        });
      }
      it(`NULL ${order}: other families are NOT_IP`, () => {
        expectDecode(P.bsdNull(7, Buffer.alloc(40), le), LinkType.NULL, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
      });
    }
    it('LOOP: network order', () => {
      expectDecode(P.loop(P.AF_INET, tcp4()), LinkType.LOOP, tcp4Expect(4));
      expectDecode(P.loop(P.AF_INET6_BSD, tcp6()), LinkType.LOOP, tcp6Expect(4));
    });
    it('NULL: shorter than 4 bytes is decode.link_truncated', () => {
      expectDecode(Buffer.from([2, 0, 0]), LinkType.NULL, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
    });
  });

  it('PPP (9): with and without FF 03, IPv4 and IPv6; LCP is NOT_IP', () => {
    expectDecode(P.ppp(P.PPP_IPV4, tcp4()), LinkType.PPP, tcp4Expect(4));
    expectDecode(P.ppp(P.PPP_IPV4, tcp4(), false), LinkType.PPP, tcp4Expect(2));
    expectDecode(P.ppp(P.PPP_IPV6, tcp6()), LinkType.PPP, tcp6Expect(4));
    expectDecode(P.ppp(P.PPP_IPV6, tcp6(), false), LinkType.PPP, tcp6Expect(2));
    expectDecode(P.ppp(P.PPP_LCP, Buffer.alloc(20)), LinkType.PPP, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
    expectDecode(P.ppp(P.PPP_IPV4, tcp4()), LinkType.PPP_SERIAL, tcp4Expect(4));
    expectDecode(Buffer.from([0xff, 0x03, 0x00]), LinkType.PPP, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
  });

  it('C_HDLC (104): unicast and broadcast address, ethertype', () => {
    expectDecode(P.cHdlc(P.ETH_IPV4, tcp4()), LinkType.C_HDLC, tcp4Expect(4));
    expectDecode(P.cHdlc(P.ETH_IPV6, tcp6(), 0x8f), LinkType.C_HDLC, tcp6Expect(4));
    expectDecode(P.cHdlc(P.ETH_ARP, Buffer.alloc(28)), LinkType.C_HDLC, { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
    // Cisco HDLC framing inside DLT_PPP is recognised too.
    expectDecode(P.cHdlc(P.ETH_IPV4, tcp4()), LinkType.PPP, tcp4Expect(4));
  });

  it('PPI (192): header length (with fields) then the named DLT', () => {
    const fields = Buffer.alloc(12, 0x55);
    expectDecode(P.ppi(LinkType.ETHERNET, eth(P.ETH_IPV4, tcp4()), fields), LinkType.PPI,
      { ...tcp4Expect(20 + 14), dstMacOffset: 20, srcMacOffset: 26 });
    expectDecode(P.ppi(LinkType.RAW, tcp6()), LinkType.PPI, tcp6Expect(8));
  });

  it('PPI: bad lengths are decode.link_truncated, PPI in PPI and unknown DLTs are UNSUPPORTED', () => {
    const inner = eth(P.ETH_IPV4, tcp4());
    expectDecode(Buffer.alloc(7), LinkType.PPI, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
    expectDecode(P.ppi(LinkType.ETHERNET, inner, Buffer.alloc(0), 7), LinkType.PPI, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
    expectDecode(P.ppi(LinkType.ETHERNET, inner, Buffer.alloc(0), 8 + inner.length + 1), LinkType.PPI, { status: DecodeStatus.MALFORMED, counters: { 'decode.link_truncated': 1 } });
    expectDecode(P.ppi(LinkType.PPI, P.ppi(LinkType.ETHERNET, inner)), LinkType.PPI, { status: DecodeStatus.UNSUPPORTED, counters: { 'decode.unsupported_link_type': 1 } });
    expectDecode(P.ppi(105, Buffer.alloc(40)), LinkType.PPI, { status: DecodeStatus.UNSUPPORTED, counters: { 'decode.unsupported_link_type': 1 } });
  });

  it('PPI: a snaplen cut is passed on to the inner decode', () => {
    const frame = P.ppi(LinkType.ETHERNET, eth(P.ETH_IPV4, tcp4()));
    // Cut inside the TCP payload: the IPv4 total length exceeds the capture.
    expectDecode(frame.subarray(0, frame.length - 2), LinkType.PPI, { ...tcp4Expect(22), payloadLength: 3 }, { wireLen: frame.length });
    expectDecode(frame.subarray(0, frame.length - 2), LinkType.PPI, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_total_length': 1 } });
  });

  it('unknown link types are UNSUPPORTED (decode.unsupported_link_type)', () => {
    for (const lt of [105, 127, 147, 9999]) {
      expectDecode(eth(P.ETH_IPV4, tcp4()), lt, { status: DecodeStatus.UNSUPPORTED, counters: { 'decode.unsupported_link_type': 1 } });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// VLAN, MPLS, PPPoE
// ---------------------------------------------------------------------------------------------

describe('VLAN tags', () => {
  it('802.1Q: vlanId is the VID without PCP/DEI', () => {
    const f = P.ethernetTagged(MAC_S, MAC_C, [{ id: 100, pcp: 5, dei: true }], P.ETH_IPV4, tcp4());
    expectDecode(f, LinkType.ETHERNET, { ...tcp4Expect(18), vlanId: 100, dstMacOffset: 0, srcMacOffset: 6 });
  });

  it('QinQ (0x88a8 outer, 0x8100 inner) and 0x9100: the outermost id is kept', () => {
    const qinq = P.ethernetTagged(MAC_S, MAC_C, [{ tpid: P.ETH_QINQ, id: 300 }, { tpid: P.ETH_VLAN, id: 200 }], P.ETH_IPV6, tcp6());
    expectDecode(qinq, LinkType.ETHERNET, { ...tcp6Expect(22), vlanId: 300 });
    const old = P.ethernetTagged(MAC_S, MAC_C, [{ tpid: 0x9100, id: 7 }, { id: 8 }], P.ETH_IPV4, tcp4());
    expectDecode(old, LinkType.ETHERNET, { ...tcp4Expect(22), vlanId: 7 });
  });

  it(`${MAX_VLAN_TAGS} tags decode; ${MAX_VLAN_TAGS + 1} are decode.vlan_too_deep`, () => {
    const tags = (n: number): P.VlanTag[] => Array.from({ length: n }, (_, i) => ({ id: 10 + i, tpid: i === 0 ? P.ETH_QINQ : P.ETH_VLAN }));
    expectDecode(P.ethernetTagged(MAC_S, MAC_C, tags(MAX_VLAN_TAGS), P.ETH_IPV4, tcp4()), LinkType.ETHERNET,
      { ...tcp4Expect(14 + 4 * MAX_VLAN_TAGS), vlanId: 10 });
    expectDecode(P.ethernetTagged(MAC_S, MAC_C, tags(MAX_VLAN_TAGS + 1), P.ETH_IPV4, tcp4()), LinkType.ETHERNET,
      { status: DecodeStatus.MALFORMED, counters: { 'decode.vlan_too_deep': 1 } });
  });

  it('a tagged frame cut inside the tag is decode.vlan_truncated; a tagged ARP is NOT_IP', () => {
    const f = P.ethernetTagged(MAC_S, MAC_C, [{ id: 5 }], P.ETH_IPV4, tcp4());
    expectDecode(f.subarray(0, 17), LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.vlan_truncated': 1 } });
    expectDecode(P.ethernetTagged(MAC_S, MAC_C, [{ id: 5 }], P.ETH_ARP, Buffer.alloc(28)), LinkType.ETHERNET,
      { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
  });
});

describe('MPLS', () => {
  it('one label and a 3-label stack, IPv4 and IPv6 payloads; 0x8848 multicast', () => {
    expectDecode(eth(P.ETH_MPLS, P.mpls([16], tcp4())), LinkType.ETHERNET, tcp4Expect(18));
    expectDecode(eth(P.ETH_MPLS, P.mpls([16, 17, { label: 1048575, tc: 7, ttl: 1 }], tcp6())), LinkType.ETHERNET, tcp6Expect(26));
    expectDecode(eth(0x8848, P.mpls([100, 200], tcp4())), LinkType.ETHERNET, tcp4Expect(22));
    const vlanMpls = P.ethernetTagged(MAC_S, MAC_C, [{ id: 9 }], P.ETH_MPLS, P.mpls([16], tcp4()));
    expectDecode(vlanMpls, LinkType.ETHERNET, { ...tcp4Expect(22), vlanId: 9 });
  });

  it(`${MAX_MPLS_LABELS} labels decode; ${MAX_MPLS_LABELS + 1} are decode.mpls_too_deep`, () => {
    const labels = (n: number): number[] => Array.from({ length: n }, (_, i) => 16 + i);
    expectDecode(eth(P.ETH_MPLS, P.mpls(labels(MAX_MPLS_LABELS), tcp4())), LinkType.ETHERNET, tcp4Expect(14 + 4 * MAX_MPLS_LABELS));
    expectDecode(eth(P.ETH_MPLS, P.mpls(labels(MAX_MPLS_LABELS + 1), tcp4())), LinkType.ETHERNET,
      { status: DecodeStatus.MALFORMED, counters: { 'decode.mpls_too_deep': 1 } });
  });

  it('no bottom-of-stack bit before the end is decode.mpls_truncated; a pseudowire control word is NOT_IP', () => {
    const noBottom = eth(P.ETH_MPLS, P.mpls([{ label: 16, bottom: false }, { label: 17, bottom: false }], Buffer.alloc(0)));
    expectDecode(noBottom, LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.mpls_truncated': 1 } });
    expectDecode(eth(P.ETH_MPLS, P.mpls([16], Buffer.concat([Buffer.alloc(4), eth(P.ETH_IPV4, tcp4())]))), LinkType.ETHERNET,
      { status: DecodeStatus.NOT_IP, counters: { 'decode.non_ip': 1 } });
  });
});

describe('PPPoE', () => {
  it('session IPv4 and IPv6; LCP is NOT_IP (decode.pppoe_non_ip)', () => {
    expectDecode(eth(P.ETH_PPPOE_SESSION, P.pppoe(P.PPP_IPV4, tcp4())), LinkType.ETHERNET, tcp4Expect(22));
    expectDecode(eth(P.ETH_PPPOE_SESSION, P.pppoe(P.PPP_IPV6, tcp6())), LinkType.ETHERNET, tcp6Expect(22));
    expectDecode(eth(P.ETH_PPPOE_SESSION, P.pppoe(P.PPP_LCP, Buffer.alloc(10))), LinkType.ETHERNET,
      { status: DecodeStatus.NOT_IP, counters: { 'decode.pppoe_non_ip': 1 } });
    const tagged = P.ethernetTagged(MAC_S, MAC_C, [{ id: 35 }], P.ETH_PPPOE_SESSION, P.pppoe(P.PPP_IPV4, tcp4()));
    expectDecode(tagged, LinkType.ETHERNET, { ...tcp4Expect(26), vlanId: 35 });
  });
});

// ---------------------------------------------------------------------------------------------
// IPv4
// ---------------------------------------------------------------------------------------------

describe('IPv4', () => {
  it('options: the transport header follows IHL', () => {
    // Record Route (7) with room for two addresses, 11 bytes + 1 EOL pad.
    const rr = Buffer.from([7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
    const f = eth(P.ETH_IPV4, tcp4({ options: rr }));
    expectDecode(f, LinkType.ETHERNET, { ...tcp4Expect(14), payloadOffset: 14 + 32 + 20 });
    // Maximum IHL (15 words, 40 bytes of options).
    expectDecode(eth(P.ETH_IPV4, tcp4({ options: Buffer.alloc(40, 1) })), LinkType.ETHERNET, { ...tcp4Expect(14), payloadOffset: 14 + 60 + 20 });
  });

  it('first fragment: ports, Fragment.FIRST, fragmentId, decode.ipv4_fragments', () => {
    const f = eth(P.ETH_IPV4, tcp4({ mf: true, id: 0xbeef }));
    expectDecode(f, LinkType.ETHERNET, tcp4Expect(14, { fragment: Fragment.FIRST, fragmentId: 0xbeef, counters: { 'decode.ipv4_fragments': 1 } }));
  });

  it('later fragment: no transport header, ports 0, payload empty at the IP end', () => {
    for (const mf of [true, false]) {
      const f = eth(P.ETH_IPV4, P.ipv4({ src: C4, dst: S4, proto: P.PROTO_UDP, id: 0x77, mf, fragOffset: 185 }, Buffer.alloc(32, 0x61)));
      expectDecode(f, LinkType.ETHERNET, {
        status: DecodeStatus.OK, ipVersion: 4, src: C4, dst: S4, protocol: 17, srcPort: 0, dstPort: 0, tcpFlags: 0,
        fragment: Fragment.LATER, fragmentId: 0x77, ipOffset: 14, payloadOffset: 14 + 52, payloadLength: 0, counters: { 'decode.ipv4_fragments': 1 },
      });
    }
  });

  it('DF without MF is not a fragment', () => {
    expectDecode(eth(P.ETH_IPV4, tcp4({ df: true })), LinkType.ETHERNET, tcp4Expect(14, { fragment: Fragment.NONE }));
  });

  it('IHL < 5 is decode.ipv4_bad_header_length; IHL beyond the capture too', () => {
    for (const ihl of [0, 1, 4]) {
      expectDecode(eth(P.ETH_IPV4, tcp4({ ihl })), LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_header_length': 1 } });
    }
    const short = P.ipv4({ src: C4, dst: S4, ihl: 15, proto: 253 }, Buffer.alloc(10));
    expectDecode(short, LinkType.RAW, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_header_length': 1 } });
  });

  it('version other than 4 behind ethertype 0x0800 is decode.ipv4_bad_version', () => {
    expectDecode(eth(P.ETH_IPV4, tcp4({ version: 5 })), LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_version': 1 } });
  });

  it('total length larger than the frame: MALFORMED when whole, OK when cut by the snaplen', () => {
    const full = eth(P.ETH_IPV4, tcp4({}, Buffer.alloc(100, 0x41)));
    const cut = full.subarray(0, 14 + 40 + 30);
    expectDecode(cut, LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_total_length': 1 } });
    expectDecode(cut, LinkType.ETHERNET, { ...tcp4Expect(14), payloadLength: 30 }, { wireLen: full.length });
    // A header that lies (total length 200) on a whole frame.
    const liar = eth(P.ETH_IPV4, tcp4({ totalLength: 200 }));
    expectDecode(liar, LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_total_length': 1 } });
  });

  it('total length smaller than IHL is decode.ipv4_bad_total_length', () => {
    expectDecode(eth(P.ETH_IPV4, tcp4({ totalLength: 19 })), LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_bad_total_length': 1 } });
  });

  it('total length 0 (segmentation offload) takes the frame', () => {
    expectDecode(eth(P.ETH_IPV4, tcp4({ totalLength: 0 })), LinkType.ETHERNET, tcp4Expect(14));
  });

  it('Ethernet padding after total length is not payload', () => {
    const f = P.ethernet(MAC_S, MAC_C, P.ETH_IPV4, udp4(5000, 53, Buffer.from([1, 2])), 60);
    assert.equal(f.length, 60);
    expectDecode(f, LinkType.ETHERNET, {
      status: DecodeStatus.OK, protocol: 17, srcPort: 5000, dstPort: 53, payloadOffset: 42, payloadLength: 2, counters: {},
    });
  });

  it('shorter than 20 bytes is decode.ipv4_truncated', () => {
    expectDecode(tcp4().subarray(0, 19), LinkType.IPV4, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv4_truncated': 1 } });
  });
});

// ---------------------------------------------------------------------------------------------
// IPv6
// ---------------------------------------------------------------------------------------------

describe('IPv6', () => {
  it('hop-by-hop, destination options, routing: the upper layer after the chain', () => {
    const ext: P.Ipv6ExtHeader[] = [
      { type: 'hop', options: Buffer.from([5, 2, 0, 0]) }, // router alert: 8 bytes
      { type: 'dest', options: Buffer.alloc(12, 0) }, // 16 bytes (PadN)
      { type: 'routing', routingType: 0, segmentsLeft: 1, addresses: ['2001:db8::99'] }, // 24 bytes
      { type: 'dest' }, // 8 bytes
    ];
    const f = eth(P.ETH_IPV6, P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_UDP, ext }, P.udp({ sport: 5353, dport: 53 }, HELLO)));
    expectDecode(f, LinkType.ETHERNET, {
      status: DecodeStatus.OK, ipVersion: 6, src: C6, dst: S6, protocol: 17, srcPort: 5353, dstPort: 53,
      fragment: Fragment.NONE, ipOffset: 14, payloadOffset: 14 + 40 + 56 + 8, payloadLength: 5, counters: {},
    });
  });

  it('AH is followed (RFC 4302 length)', () => {
    const f = P.ipv6({ src: C6, dst: S6, ext: [{ type: 'ah', icv: Buffer.alloc(12) }] }, P.tcp({ sport: 40000, dport: 443, flags: P.TCP_SYN, seq: SEQ }, HELLO));
    expectDecode(f, LinkType.RAW, { ...tcp6Expect(0), payloadOffset: 40 + 24 + 20 });
  });

  it('first fragment: Fragment.FIRST, fragmentId, ports; decode.ipv6_fragments', () => {
    const f = P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_UDP, ext: [{ type: 'hop' }, { type: 'fragment', offset: 0, more: true, id: 0x01020304 }] },
      P.udp({ sport: 4000, dport: 4001 }, Buffer.alloc(16)));
    expectDecode(f, LinkType.IPV6, {
      status: DecodeStatus.OK, protocol: 17, srcPort: 4000, dstPort: 4001, fragment: Fragment.FIRST, fragmentId: 0x01020304,
      payloadOffset: 40 + 16 + 8, payloadLength: 16, counters: { 'decode.ipv6_fragments': 1 },
    });
  });

  it('later fragment: protocol from the fragment header, ports 0', () => {
    const f = P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_TCP, ext: [{ type: 'fragment', offset: 100, more: false, id: 0xfffffffe }] }, Buffer.alloc(24, 7));
    expectDecode(f, LinkType.IPV6, {
      status: DecodeStatus.OK, ipVersion: 6, src: C6, dst: S6, protocol: 6, srcPort: 0, dstPort: 0, tcpFlags: 0,
      fragment: Fragment.LATER, fragmentId: 0xfffffffe, payloadOffset: f.length, payloadLength: 0, counters: { 'decode.ipv6_fragments': 1 },
    });
  });

  it('atomic fragment (offset 0, M clear) is not a fragment but is counted', () => {
    const f = P.ipv6({ src: C6, dst: S6, ext: [{ type: 'fragment', offset: 0, more: false, id: 9 }] }, P.tcp({ sport: 40000, dport: 443, flags: P.TCP_SYN, seq: SEQ }, HELLO));
    expectDecode(f, LinkType.IPV6, { ...tcp6Expect(0), payloadOffset: 68, fragment: Fragment.NONE, counters: { 'decode.ipv6_fragments': 1 } });
  });

  it(`${MAX_IPV6_EXT_HEADERS} extension headers decode; ${MAX_IPV6_EXT_HEADERS + 1} are decode.ipv6_too_many_ext_headers`, () => {
    const chain = (n: number): P.Ipv6ExtHeader[] => Array.from({ length: n }, () => ({ type: 'dest' as const }));
    const ok = P.ipv6({ src: C6, dst: S6, ext: chain(MAX_IPV6_EXT_HEADERS) }, P.tcp({ sport: 40000, dport: 443, flags: P.TCP_SYN, seq: SEQ }, HELLO));
    expectDecode(ok, LinkType.IPV6, { ...tcp6Expect(0), payloadOffset: 40 + 8 * MAX_IPV6_EXT_HEADERS + 20 });
    const bad = P.ipv6({ src: C6, dst: S6, ext: chain(MAX_IPV6_EXT_HEADERS + 1) }, P.tcp({ sport: 40000, dport: 443 }));
    expectDecode(bad, LinkType.IPV6, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv6_too_many_ext_headers': 1 } });
  });

  it('an extension header longer than the packet is decode.ipv6_ext_header_truncated', () => {
    const f = P.ipv6({ src: C6, dst: S6, ext: [{ type: 'hop', hdrExtLen: 10 }] }, P.tcp({ sport: 1, dport: 2 }));
    expectDecode(f, LinkType.IPV6, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv6_ext_header_truncated': 1 } });
  });

  it('payload length beyond the frame: MALFORMED when whole, OK when cut by the snaplen', () => {
    const f = tcp6({}, Buffer.alloc(50));
    const cut = f.subarray(0, 70);
    expectDecode(cut, LinkType.IPV6, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv6_bad_payload_length': 1 } });
    expectDecode(cut, LinkType.IPV6, { ...tcp6Expect(0), payloadLength: 10 }, { wireLen: f.length });
  });

  it('jumbogram: payload length 0 with hop-by-hop takes the capture', () => {
    const jumbo = Buffer.from([0xc2, 4, 0, 1, 0, 0]); // Jumbo Payload option
    const f = P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_UDP, payloadLength: 0, ext: [{ type: 'hop', options: jumbo }] }, P.udp({ sport: 7, dport: 9, length: 0 }, HELLO));
    expectDecode(f, LinkType.IPV6, { status: DecodeStatus.OK, protocol: 17, srcPort: 7, dstPort: 9, payloadOffset: 56, payloadLength: 5, counters: {} });
  });

  it('ESP and No Next Header: no ports, payload after the IP header', () => {
    const esp = P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_ESP }, Buffer.alloc(24, 3));
    expectDecode(esp, LinkType.IPV6, { status: DecodeStatus.OK, protocol: 50, srcPort: 0, dstPort: 0, payloadOffset: 40, payloadLength: 24, counters: {} });
    const none = P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_NONE });
    expectDecode(none, LinkType.IPV6, { status: DecodeStatus.OK, protocol: 59, srcPort: 0, dstPort: 0, payloadOffset: 40, payloadLength: 0, counters: {} });
  });

  it('full 128-bit addresses', () => {
    const a = 'fe80::1234:5678:9abc:def0';
    const b = 'ff02::1:ff00:1';
    expectDecode(P.ipv6({ src: a, dst: b, nextHeader: P.PROTO_ICMPV6 }, P.icmp({ v6: true })), LinkType.IPV6,
      { status: DecodeStatus.OK, src: a, dst: b, protocol: 58, srcPort: 0, dstPort: 0 });
  });

  it('bad version and short header', () => {
    expectDecode(eth(P.ETH_IPV6, tcp6({ version: 4 })), LinkType.ETHERNET, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv6_bad_version': 1 } });
    expectDecode(tcp6().subarray(0, 39), LinkType.IPV6, { status: DecodeStatus.MALFORMED, counters: { 'decode.ipv6_truncated': 1 } });
  });
});

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

describe('transport', () => {
  it('TCP: ports, flags, sequence, options', () => {
    const seg = P.tcp({ sport: 1, dport: 65535, flags: P.TCP_FIN | P.TCP_PSH | P.TCP_ACK | 0x80, seq: 0xffffffff, options: Buffer.from([2, 4, 5, 0xb4, 1, 1, 4, 2]) }, Buffer.alloc(9));
    expectDecode(P.ipv4({ src: C4, dst: S4, proto: 6 }, seg), LinkType.RAW, {
      status: DecodeStatus.OK, protocol: 6, srcPort: 1, dstPort: 65535, tcpFlags: 0x99, tcpSeq: 0xffffffff, payloadOffset: 48, payloadLength: 9, counters: {},
    });
  });

  it('TCP data offset < 5: OK (flow packet) with decode.tcp_bad_header_length, empty payload', () => {
    for (const dataOffset of [0, 4]) {
      const f = P.ipv4({ src: C4, dst: S4, proto: 6 }, P.tcp({ sport: 40000, dport: 443, flags: P.TCP_ACK, dataOffset }, HELLO));
      expectDecode(f, LinkType.RAW, {
        status: DecodeStatus.OK, protocol: 6, srcPort: 40000, dstPort: 443, tcpFlags: P.TCP_ACK, payloadOffset: f.length, payloadLength: 0,
        counters: { 'decode.tcp_bad_header_length': 1 },
      });
    }
  });

  it('TCP data offset beyond the segment: OK, empty payload', () => {
    const f = P.ipv4({ src: C4, dst: S4, proto: 6 }, P.tcp({ sport: 40000, dport: 443, dataOffset: 15 }, HELLO));
    expectDecode(f, LinkType.RAW, { status: DecodeStatus.OK, srcPort: 40000, payloadOffset: f.length, payloadLength: 0 });
  });

  it('TCP shorter than 20 bytes is decode.tcp_truncated', () => {
    const f = P.ipv4({ src: C4, dst: S4, proto: 6 }, Buffer.alloc(19));
    expectDecode(f, LinkType.RAW, { status: DecodeStatus.MALFORMED, counters: { 'decode.tcp_truncated': 1 } });
  });

  it('UDP: ports, payload bounded by the UDP length', () => {
    expectDecode(udp4(5353, 53, Buffer.alloc(11)), LinkType.RAW, { status: DecodeStatus.OK, protocol: 17, srcPort: 5353, dstPort: 53, payloadOffset: 28, payloadLength: 11, counters: {} });
    // UDP length 12 inside a 20-byte IP payload: 4 payload bytes.
    const f = P.ipv4({ src: C4, dst: S4, proto: 17 }, P.udp({ sport: 1, dport: 2, length: 12 }, Buffer.alloc(12)));
    expectDecode(f, LinkType.RAW, { status: DecodeStatus.OK, payloadOffset: 28, payloadLength: 4, counters: {} });
  });

  it('UDP length < 8: OK with decode.udp_bad_length (0 is allowed)', () => {
    const bad = P.ipv4({ src: C4, dst: S4, proto: 17 }, P.udp({ sport: 1, dport: 2, length: 7 }, Buffer.alloc(4)));
    expectDecode(bad, LinkType.RAW, { status: DecodeStatus.OK, srcPort: 1, dstPort: 2, payloadOffset: 28, payloadLength: 4, counters: { 'decode.udp_bad_length': 1 } });
    const zero = P.ipv4({ src: C4, dst: S4, proto: 17 }, P.udp({ sport: 1, dport: 2, length: 0 }, Buffer.alloc(4)));
    expectDecode(zero, LinkType.RAW, { status: DecodeStatus.OK, payloadLength: 4, counters: {} });
  });

  it('UDP length larger than the IP payload: OK with the captured payload, not counted (current behaviour)', () => {
    const f = P.ipv4({ src: C4, dst: S4, proto: 17 }, P.udp({ sport: 1, dport: 2, length: 500 }, Buffer.alloc(4)));
    expectDecode(f, LinkType.RAW, { status: DecodeStatus.OK, payloadOffset: 28, payloadLength: 4, counters: {} });
  });

  it('UDP shorter than 8 bytes is decode.udp_truncated', () => {
    expectDecode(P.ipv4({ src: C4, dst: S4, proto: 17 }, Buffer.alloc(7)), LinkType.RAW, { status: DecodeStatus.MALFORMED, counters: { 'decode.udp_truncated': 1 } });
  });

  it('SCTP: ports from the common header; short is decode.sctp_truncated', () => {
    const f = P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_SCTP }, P.sctp({ sport: 3868, dport: 38412, vtag: 5 }));
    expectDecode(f, LinkType.IPV6, { status: DecodeStatus.OK, protocol: 132, srcPort: 3868, dstPort: 38412, tcpFlags: 0, payloadOffset: 52, payloadLength: 4, counters: {} });
    expectDecode(P.ipv4({ src: C4, dst: S4, proto: P.PROTO_SCTP }, Buffer.alloc(11)), LinkType.RAW, { status: DecodeStatus.MALFORMED, counters: { 'decode.sctp_truncated': 1 } });
  });

  it('ICMP / ICMPv6: ports 0, payload is the ICMP message', () => {
    expectDecode(P.ipv4({ src: C4, dst: S4, proto: P.PROTO_ICMP }, P.icmp({ id: 5, seq: 6 }, Buffer.alloc(8))), LinkType.RAW,
      { status: DecodeStatus.OK, protocol: 1, srcPort: 0, dstPort: 0, tcpFlags: 0, payloadOffset: 20, payloadLength: 16, counters: {} });
    expectDecode(P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_ICMPV6 }, P.icmp({ v6: true })), LinkType.IPV6,
      { status: DecodeStatus.OK, protocol: 58, srcPort: 0, dstPort: 0, payloadOffset: 40, payloadLength: 8, counters: {} });
  });

  it('ICMP shorter than its 4-byte header: OK (ICMP flows have no ports; nothing to misread)', () => {
    expectDecode(P.ipv4({ src: C4, dst: S4, proto: P.PROTO_ICMP }, Buffer.from([8, 0])), LinkType.RAW,
      { status: DecodeStatus.OK, protocol: 1, payloadOffset: 20, payloadLength: 2, counters: {} });
  });

  it('stale ports and flags from a previous TCP packet do not leak into an ICMP packet', () => {
    const counters = new DecodeCounters();
    const d = new Decoder(counters);
    const p = new DecodedPacket();
    const a = tcp4();
    assert.equal(d.decode(a, 0, a.length, a.length, LinkType.RAW, p), DecodeStatus.OK);
    const b = P.ipv4({ src: C4, dst: S4, proto: P.PROTO_ICMP }, P.icmp());
    assert.equal(d.decode(b, 0, b.length, b.length, LinkType.RAW, p), DecodeStatus.OK);
    assert.deepEqual([p.protocol, p.srcPort, p.dstPort, p.tcpFlags, p.fragment], [1, 0, 0, 0, Fragment.NONE]);
  });
});

// ---------------------------------------------------------------------------------------------
// Tunnels
// ---------------------------------------------------------------------------------------------

const T_SRC4 = '198.51.100.1';
const T_DST4 = '198.51.100.2';
const T_SRC6 = '2001:db8:ffff::1';
const T_DST6 = '2001:db8:ffff::2';
const tun1 = { 'decode.tunnels_decapsulated': 1 };

describe('IP in IP', () => {
  it('4in4, 6in4, 4in6, 6in6: the inner packet is the flow (tunnelDepth 1)', () => {
    expectDecode(eth(P.ETH_IPV4, P.ipInIp({ src: T_SRC4, dst: T_DST4 }, tcp4())), LinkType.ETHERNET, tcp4Expect(34, { tunnelDepth: 1, counters: tun1 }));
    expectDecode(eth(P.ETH_IPV4, P.ipInIp({ src: T_SRC4, dst: T_DST4 }, tcp6())), LinkType.ETHERNET, tcp6Expect(34, { tunnelDepth: 1, counters: tun1 }));
    expectDecode(eth(P.ETH_IPV6, P.ipInIp({ src: T_SRC6, dst: T_DST6 }, tcp4())), LinkType.ETHERNET, tcp4Expect(54, { tunnelDepth: 1, counters: tun1 }));
    expectDecode(eth(P.ETH_IPV6, P.ipInIp({ src: T_SRC6, dst: T_DST6 }, tcp6())), LinkType.ETHERNET, tcp6Expect(54, { tunnelDepth: 1, counters: tun1 }));
  });

  it(`${MAX_TUNNEL_DEPTH} nested tunnels decode; one more stops at depth ${MAX_TUNNEL_DEPTH} (decode.tunnel_too_deep)`, () => {
    let pkt = tcp4();
    for (let i = 0; i < MAX_TUNNEL_DEPTH; i++) pkt = P.ipInIp({ src: `10.9.${i}.1`, dst: `10.9.${i}.2` }, pkt);
    expectDecode(pkt, LinkType.RAW, tcp4Expect(20 * MAX_TUNNEL_DEPTH, { tunnelDepth: MAX_TUNNEL_DEPTH, counters: { 'decode.tunnels_decapsulated': MAX_TUNNEL_DEPTH } }));
    const deeper = P.ipInIp({ src: '10.8.0.1', dst: '10.8.0.2' }, pkt);
    // Depth 0 is 10.8.0.x, depth 1 is 10.9.3.x, ... depth 4 is 10.9.0.x (built first, around the
    // TCP packet): it is not decapsulated further and is the flow, protocol IPIP.
    expectDecode(deeper, LinkType.RAW, {
      status: DecodeStatus.OK, src: '10.9.0.1', dst: '10.9.0.2', protocol: P.PROTO_IPIP,
      srcPort: 0, dstPort: 0, tunnelDepth: MAX_TUNNEL_DEPTH, ipOffset: 20 * MAX_TUNNEL_DEPTH, payloadOffset: 20 * (MAX_TUNNEL_DEPTH + 1),
      counters: { 'decode.tunnels_decapsulated': MAX_TUNNEL_DEPTH, 'decode.tunnel_too_deep': 1 },
    });
  });

  it('a fragmented outer packet is not decapsulated', () => {
    const f = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_IPIP, mf: true, id: 3 }, tcp4());
    expectDecode(f, LinkType.RAW, {
      status: DecodeStatus.OK, src: T_SRC4, dst: T_DST4, protocol: 4, fragment: Fragment.FIRST, tunnelDepth: 0, payloadOffset: 20, payloadLength: tcp4().length,
      counters: { 'decode.ipv4_fragments': 1 },
    });
  });
});

describe('GRE', () => {
  it('IPv4 and IPv6 in GRE v0, with checksum, key and sequence', () => {
    const g1 = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.gre({ protocol: P.ETH_IPV4 }, tcp4()));
    expectDecode(g1, LinkType.RAW, tcp4Expect(24, { tunnelDepth: 1, counters: tun1 }));
    const g2 = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.gre({ protocol: P.ETH_IPV6, checksum: true, key: 0x1234, seq: 99 }, tcp6()));
    expectDecode(g2, LinkType.RAW, tcp6Expect(20 + 16, { tunnelDepth: 1, counters: tun1 }));
  });

  it('transparent Ethernet bridging (0x6558): inner frame; outer MACs and VLAN stay', () => {
    const inner = P.ethernetTagged('02:aa:00:00:00:01', '02:aa:00:00:00:02', [{ id: 999 }], P.ETH_IPV4, tcp4());
    const f = P.ethernetTagged(MAC_S, MAC_C, [{ id: 12 }], P.ETH_IPV4, P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.gre({ protocol: P.ETH_TEB, key: 1 }, inner)));
    expectDecode(f, LinkType.ETHERNET, tcp4Expect(18 + 20 + 8 + 18, { tunnelDepth: 1, vlanId: 12, dstMacOffset: 0, srcMacOffset: 6, counters: tun1 }));
  });

  it('PPTP (enhanced GRE v1): PPP with and without FF 03', () => {
    for (const ac of [true, false]) {
      const f = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.grePptp({ callId: 7, seq: 1, ack: 2 }, P.ppp(P.PPP_IPV4, tcp4(), ac)));
      expectDecode(f, LinkType.RAW, tcp4Expect(20 + 16 + (ac ? 4 : 2), { tunnelDepth: 1, counters: tun1 }));
    }
    const v6 = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.grePptp({ callId: 7, seq: 1 }, P.ppp(P.PPP_IPV6, tcp6())));
    expectDecode(v6, LinkType.RAW, tcp6Expect(20 + 12 + 4, { tunnelDepth: 1, counters: tun1 }));
  });

  it('PPTP: PPP control traffic stays the outer GRE flow', () => {
    const f = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.grePptp({ callId: 7, seq: 1 }, P.ppp(P.PPP_LCP, Buffer.alloc(8))));
    expectDecode(f, LinkType.RAW, { status: DecodeStatus.OK, src: T_SRC4, dst: T_DST4, protocol: 47, srcPort: 0, dstPort: 0, tunnelDepth: 0, payloadOffset: 20, counters: {} });
  });

  it('PPTP: an acknowledgment-only packet (no payload) stays the outer GRE flow and is not malformed', () => {
      const f = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.grePptp({ callId: 7, ack: 5 }, Buffer.alloc(0)));
      expectDecode(f, LinkType.RAW, { status: DecodeStatus.OK, protocol: 47, tunnelDepth: 0, payloadOffset: 20, payloadLength: 12, counters: {} });
    });

  it('unsupported versions / protocols stay the outer GRE flow (decode.gre_unsupported)', () => {
    const outer = (g: Buffer): Buffer => P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, g);
    const exp: Expect = { status: DecodeStatus.OK, src: T_SRC4, protocol: 47, tunnelDepth: 0, payloadOffset: 20, counters: { 'decode.gre_unsupported': 1 } };
    expectDecode(outer(P.gre({ protocol: 0x1234 }, Buffer.alloc(20))), LinkType.RAW, exp);
    expectDecode(outer(P.grePptp({ callId: 1, keyPresent: false }, P.ppp(P.PPP_IPV4, tcp4()))), LinkType.RAW, exp);
    const v2 = P.gre({ protocol: P.ETH_IPV4 }, tcp4());
    v2[1] = v2[1]! | 2;
    expectDecode(outer(v2), LinkType.RAW, exp);
  });

  it('GRE header cut short is decode.gre_truncated (outer flow kept)', () => {
    const f = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, Buffer.from([0x30, 0x00, 0x08, 0x00, 0, 0, 0, 1]));
    expectDecode(f, LinkType.RAW, { status: DecodeStatus.OK, protocol: 47, tunnelDepth: 0, counters: { 'decode.gre_truncated': 1 } });
    expectDecode(P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, Buffer.alloc(3)), LinkType.RAW,
      { status: DecodeStatus.OK, protocol: 47, counters: { 'decode.gre_truncated': 1 } });
  });

  it('ERSPAN type II: 8-byte header then Ethernet', () => {
    const inner = P.ethernet('02:bb:00:00:00:01', '02:bb:00:00:00:02', P.ETH_IPV4, tcp4());
    const f = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.gre({ protocol: 0x88be, seq: 1 }, Buffer.concat([Buffer.alloc(8), inner])));
    expectDecode(f, LinkType.RAW, tcp4Expect(20 + 8 + 8 + 14, { tunnelDepth: 1, counters: tun1 }));
  });

  it('not decapsulated when decapsulateUdpTunnels is false', () => {
    const g = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.gre({ protocol: P.ETH_IPV4 }, tcp4()));
    expectDecode(g, LinkType.RAW, { status: DecodeStatus.OK, src: T_SRC4, protocol: 47, tunnelDepth: 0, payloadOffset: 20, counters: {} }, { decap: false });
  });
});

describe('UDP tunnels', () => {
  const vxlanFrame = (inner: Buffer, sport = 51000, dport = 4789, flags = 0x08): Buffer =>
    eth(P.ETH_IPV4, P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_UDP }, P.udp({ sport, dport }, P.vxlan(5001, inner, flags))));

  it('VXLAN: the inner Ethernet frame, outer MACs and VLAN kept', () => {
    const inner = P.ethernet('02:cc:00:00:00:01', '02:cc:00:00:00:02', P.ETH_IPV4, tcp4());
    expectDecode(vxlanFrame(inner), LinkType.ETHERNET, tcp4Expect(14 + 20 + 8 + 8 + 14, { tunnelDepth: 1, vlanId: 0, dstMacOffset: 0, srcMacOffset: 6, counters: tun1 }));
    expectDecode(vxlanFrame(inner, 4789, 60000), LinkType.ETHERNET, tcp4Expect(64, { tunnelDepth: 1, counters: tun1 }));
    // An inner VLAN tag does not replace the outer (absent) one.
    const innerTagged = P.ethernetTagged('02:cc:00:00:00:01', '02:cc:00:00:00:02', [{ id: 77 }], P.ETH_IPV6, tcp6());
    expectDecode(vxlanFrame(innerTagged), LinkType.ETHERNET, tcp6Expect(68, { tunnelDepth: 1, vlanId: 0, counters: tun1 }));
  });

  it('VXLAN without the I flag, or too short: the outer UDP flow (decode.vxlan_truncated)', () => {
    const inner = P.ethernet('02:cc:00:00:00:01', '02:cc:00:00:00:02', P.ETH_IPV4, tcp4());
    const outer: Expect = { status: DecodeStatus.OK, src: T_SRC4, dst: T_DST4, protocol: 17, srcPort: 51000, dstPort: 4789, tunnelDepth: 0, payloadOffset: 42, counters: { 'decode.vxlan_truncated': 1 } };
    expectDecode(vxlanFrame(inner, 51000, 4789, 0x00), LinkType.ETHERNET, outer);
    expectDecode(vxlanFrame(Buffer.alloc(13)), LinkType.ETHERNET, outer);
  });

  it('VXLAN not followed when decapsulateUdpTunnels is false', () => {
    const inner = P.ethernet('02:cc:00:00:00:01', '02:cc:00:00:00:02', P.ETH_IPV4, tcp4());
    expectDecode(vxlanFrame(inner), LinkType.ETHERNET, { status: DecodeStatus.OK, protocol: 17, dstPort: 4789, tunnelDepth: 0, counters: {} }, { decap: false });
  });

  const gtp = (g: Buffer): Buffer => P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_UDP }, P.udp({ sport: 2152, dport: 2152 }, g));

  it('GTP-U: T-PDU without optional fields, with sequence, with extension headers', () => {
    expectDecode(gtp(P.gtpu({ teid: 1 }, tcp4())), LinkType.RAW, tcp4Expect(36, { tunnelDepth: 1, counters: tun1 }));
    expectDecode(gtp(P.gtpu({ teid: 1, seq: 5 }, tcp6())), LinkType.RAW, tcp6Expect(40, { tunnelDepth: 1, counters: tun1 }));
    // PDU session container (0x85, 8 bytes) then a UDP port extension (0x40, 4 bytes).
    const ext = [{ type: 0x85, content: Buffer.from([0x10, 0x09, 0, 0, 0, 0]) }, { type: 0x40, content: Buffer.from([0x08, 0x68]) }];
    expectDecode(gtp(P.gtpu({ teid: 0xffffffff, ext }, tcp4())), LinkType.RAW, tcp4Expect(36 + 4 + 12, { tunnelDepth: 1, counters: tun1 }));
  });

  it('GTP-U: non-T-PDU messages and non-IP payloads are the outer flow (decode.gtp_non_ip)', () => {
    const outer: Expect = { status: DecodeStatus.OK, protocol: 17, srcPort: 2152, dstPort: 2152, tunnelDepth: 0, counters: { 'decode.gtp_non_ip': 1 } };
    expectDecode(gtp(P.gtpu({ teid: 1, messageType: 1, seq: 1 }, Buffer.alloc(4))), LinkType.RAW, outer); // echo request
    expectDecode(gtp(P.gtpu({ teid: 1, flags: 0x48 }, tcp4())), LinkType.RAW, outer); // version 2
    expectDecode(gtp(P.gtpu({ teid: 1 }, Buffer.alloc(20))), LinkType.RAW, outer);
  });

  it('GTP-U: an extension header of length 0 or past the end is decode.gtp_truncated', () => {
    const g = P.gtpu({ teid: 1, ext: [{ type: 0x85, content: Buffer.from([0x10, 0x09]) }] }, tcp4());
    g[12] = 0; // extension length
    expectDecode(gtp(g), LinkType.RAW, { status: DecodeStatus.OK, protocol: 17, tunnelDepth: 0, counters: { 'decode.gtp_truncated': 1 } });
    const g2 = P.gtpu({ teid: 1, ext: [{ type: 0x85, content: Buffer.from([0x10, 0x09]) }] }, Buffer.alloc(0));
    g2[12] = 50;
    expectDecode(gtp(g2), LinkType.RAW, { status: DecodeStatus.OK, protocol: 17, tunnelDepth: 0, counters: { 'decode.gtp_truncated': 1 } });
  });

  it('TZSP: Ethernet behind the tag list', () => {
    const inner = P.ethernet('02:dd:00:00:00:01', '02:dd:00:00:00:02', P.ETH_IPV4, tcp4());
    const tzsp = Buffer.concat([Buffer.from([1, 0, 0, 1, 0, 0x0a, 1, 0x55, 1]), inner]);
    const f = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_UDP }, P.udp({ sport: 40000, dport: 37008 }, tzsp));
    expectDecode(f, LinkType.RAW, tcp4Expect(28 + 9 + 14, { tunnelDepth: 1, counters: tun1 }));
  });

  it('nested: VXLAN → GRE → GTP-U reaches depth 3', () => {
    const inner = P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_UDP }, P.udp({ sport: 2152, dport: 2152 }, P.gtpu({ teid: 9 }, tcp4())));
    const greP = P.ipv4({ src: '172.16.0.1', dst: '172.16.0.2', proto: P.PROTO_GRE }, P.gre({ protocol: P.ETH_IPV4 }, inner));
    const f = vxlanFrame(P.ethernet('02:cc:00:00:00:01', '02:cc:00:00:00:02', P.ETH_IPV4, greP));
    expectDecode(f, LinkType.ETHERNET, tcp4Expect(64 + 20 + 4 + 20 + 8 + 8, { tunnelDepth: 3, counters: { 'decode.tunnels_decapsulated': 3 } }));
  });
});

// ---------------------------------------------------------------------------------------------
// Truncation at every offset
// ---------------------------------------------------------------------------------------------

/** From byte count `from` on (until the next segment), decoding gives `status` and exactly `counters`. */
type Seg = [from: number, status: DecodeStatus, counters: Counters];

const M = DecodeStatus.MALFORMED;
const OK = DecodeStatus.OK;
const c1 = (name: string, extra: Counters = {}): Counters => ({ [`decode.${name}`]: 1, ...extra });

interface SweepCase {
  name: string;
  frame: Buffer;
  linkType: number;
  /** capLen = wireLen = k: the frame claims to be whole. */
  whole: Seg[];
  /** capLen = k, wireLen = frame length: cut by the snaplen. */
  snap: Seg[];
}

function expectedAt(segs: Seg[], k: number): Seg {
  let e = segs[0]!;
  for (const s of segs) if (s[0] <= k) e = s;
  return e;
}

function sweep(c: SweepCase, mode: 'whole' | 'snap'): string[] {
  const failures: string[] = [];
  const segs = c[mode];
  // The full frame sits in the buffer: a decoder reading past capLen would see valid bytes.
  const buf = Buffer.concat([Buffer.alloc(3, 0xee), c.frame]);
  for (let k = 0; k <= c.frame.length; k++) {
    const counters = new DecodeCounters();
    const d = new Decoder(counters);
    const pkt = new DecodedPacket();
    let status: DecodeStatus;
    try {
      status = d.decode(buf, 3, k, mode === 'whole' ? k : c.frame.length, c.linkType, pkt);
    } catch (err) {
      failures.push(`k=${k}: threw ${String(err)}`);
      continue;
    }
    const [, es, ec] = expectedAt(segs, k);
    const got = nonZero(counters);
    if (status !== es || JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(ec).sort())) {
      failures.push(`k=${k}: got ${status} ${JSON.stringify(got)}, expected ${es} ${JSON.stringify(ec)}`);
    }
    if (status === OK && (pkt.payloadOffset < 3 || pkt.payloadOffset + pkt.payloadLength > 3 + k || pkt.payloadLength < 0)) {
      failures.push(`k=${k}: payload [${pkt.payloadOffset}, +${pkt.payloadLength}) outside [3, ${3 + k})`);
    }
  }
  return failures;
}

const sweepCases: SweepCase[] = [
  {
    // eth 0-14, ipv4 14-34, tcp 34-54, payload 54-59
    name: 'Ethernet / IPv4 / TCP',
    frame: eth(P.ETH_IPV4, tcp4()),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('ipv4_bad_total_length')], [59, OK, {}]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('tcp_truncated')], [54, OK, {}]],
  },
  {
    // eth 0-14, ipv4 14-34, udp 34-42, payload 42-46, Ethernet padding 46-60
    name: 'Ethernet / IPv4 / UDP padded to 60',
    frame: P.ethernet(MAC_S, MAC_C, P.ETH_IPV4, udp4(5000, 53, Buffer.from([1, 2, 3, 4])), 60),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('ipv4_bad_total_length')], [46, OK, {}]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('udp_truncated')], [42, OK, {}]],
  },
  {
    // eth 0-14, later fragment: ipv4 14-34, data 34-50
    name: 'Ethernet / IPv4 later fragment',
    frame: eth(P.ETH_IPV4, P.ipv4({ src: C4, dst: S4, proto: 6, fragOffset: 10 }, Buffer.alloc(16))),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('ipv4_bad_total_length')], [50, OK, c1('ipv4_fragments')]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, OK, c1('ipv4_fragments')]],
  },
  {
    // eth 0-14, S-tag 14-18, C-tag 18-22, ipv6 22-62, hop 62-70, frag 70-78, udp 78-86, payload 86-92
    name: 'QinQ / IPv6 / hop-by-hop / fragment(first) / UDP',
    frame: P.ethernetTagged(MAC_S, MAC_C, [{ tpid: P.ETH_QINQ, id: 100 }, { id: 200 }], P.ETH_IPV6,
      P.ipv6({ src: C6, dst: S6, nextHeader: P.PROTO_UDP, ext: [{ type: 'hop' }, { type: 'fragment', more: true, id: 1 }] }, P.udp({ sport: 1, dport: 53 }, Buffer.alloc(6)))),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('vlan_truncated')], [22, M, c1('ipv6_truncated')], [62, M, c1('ipv6_bad_payload_length')],
      [92, OK, c1('ipv6_fragments')]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('vlan_truncated')], [22, M, c1('ipv6_truncated')], [62, M, c1('ipv6_ext_header_truncated')],
      [78, M, c1('udp_truncated', c1('ipv6_fragments'))], [86, OK, c1('ipv6_fragments')]],
  },
  {
    // eth 0-14, labels 14-26, ipv4 26-46, udp 46-54, payload 54-58
    name: 'Ethernet / MPLS x3 / IPv4 / UDP',
    frame: eth(P.ETH_MPLS, P.mpls([16, 17, 18], udp4(1, 2, Buffer.alloc(4)))),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('mpls_truncated')], [27, M, c1('ipv4_truncated')], [46, M, c1('ipv4_bad_total_length')], [58, OK, {}]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('mpls_truncated')], [27, M, c1('ipv4_truncated')], [46, M, c1('udp_truncated')], [54, OK, {}]],
  },
  {
    // eth 0-14, pppoe+ppp 14-22, ipv4 22-42, tcp 42-62, payload 62-67
    name: 'Ethernet / PPPoE / IPv4 / TCP',
    frame: eth(P.ETH_PPPOE_SESSION, P.pppoe(P.PPP_IPV4, tcp4())),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('pppoe_truncated')], [22, M, c1('ipv4_truncated')], [42, M, c1('ipv4_bad_total_length')], [67, OK, {}]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('pppoe_truncated')], [22, M, c1('ipv4_truncated')], [42, M, c1('tcp_truncated')], [62, OK, {}]],
  },
  {
    // NULL 0-4, ipv4 with 4 bytes of options 4-28, tcp 28-48
    name: 'NULL / IPv4 with options / TCP',
    frame: P.bsdNull(P.AF_INET, P.ipv4({ src: C4, dst: S4, options: Buffer.from([1, 1, 1, 0]) }, P.tcp({ sport: 1, dport: 2 }))),
    linkType: LinkType.NULL,
    whole: [[0, M, c1('link_truncated')], [4, M, c1('ipv4_truncated')], [24, M, c1('ipv4_bad_header_length')], [28, M, c1('ipv4_bad_total_length')], [48, OK, {}]],
    snap: [[0, M, c1('link_truncated')], [4, M, c1('ipv4_truncated')], [24, M, c1('ipv4_bad_header_length')], [28, M, c1('tcp_truncated')], [48, OK, {}]],
  },
  {
    // PPI 0-8, eth 8-22, ipv4 22-42, udp 42-50, payload 50-52
    name: 'PPI / Ethernet / IPv4 / UDP',
    frame: P.ppi(LinkType.ETHERNET, eth(P.ETH_IPV4, udp4(1, 2, Buffer.alloc(2)))),
    linkType: LinkType.PPI,
    whole: [[0, M, c1('link_truncated')], [22, M, c1('ipv4_truncated')], [42, M, c1('ipv4_bad_total_length')], [52, OK, {}]],
    snap: [[0, M, c1('link_truncated')], [22, M, c1('ipv4_truncated')], [42, M, c1('udp_truncated')], [50, OK, {}]],
  },
  {
    // SLL2 0-20, ipv6 20-60, ipv4 60-80, icmp 80-92
    name: 'SLL2 / IPv6 / IPv4 (4in6) / ICMP',
    frame: P.linuxSll2(P.ETH_IPV6, P.ipInIp({ src: T_SRC6, dst: T_DST6 }, P.ipv4({ src: C4, dst: S4, proto: P.PROTO_ICMP }, P.icmp({}, Buffer.alloc(4))))),
    linkType: LinkType.LINUX_SLL2,
    whole: [[0, M, c1('link_truncated')], [20, M, c1('ipv6_truncated')], [60, M, c1('ipv6_bad_payload_length')], [92, OK, tun1]],
    snap: [[0, M, c1('link_truncated')], [20, M, c1('ipv6_truncated')], [60, M, c1('ipv4_truncated', tun1)], [80, OK, tun1]],
  },
  {
    // C_HDLC 0-4, ipv4 4-24, ipv6 24-64, tcp 64-84
    name: 'C_HDLC / IPv4 / IPv6 (6in4) / TCP',
    frame: P.cHdlc(P.ETH_IPV4, P.ipInIp({ src: T_SRC4, dst: T_DST4 }, P.ipv6({ src: C6, dst: S6 }, P.tcp({ sport: 1, dport: 2 })))),
    linkType: LinkType.C_HDLC,
    whole: [[0, M, c1('link_truncated')], [4, M, c1('ipv4_truncated')], [24, M, c1('ipv4_bad_total_length')], [84, OK, tun1]],
    snap: [[0, M, c1('link_truncated')], [4, M, c1('ipv4_truncated')], [24, M, c1('ipv6_truncated', tun1)], [64, M, c1('tcp_truncated', tun1)], [84, OK, tun1]],
  },
  {
    // eth 0-14, ipv4 14-34, udp 34-42, vxlan 42-50, eth 50-64, ipv4 64-84, tcp 84-104, payload 104-109
    name: 'VXLAN: Ethernet / IPv4 / UDP / VXLAN / Ethernet / IPv4 / TCP',
    frame: eth(P.ETH_IPV4, P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_UDP }, P.udp({ sport: 50000, dport: 4789 },
      P.vxlan(1, P.ethernet('02:cc:00:00:00:01', '02:cc:00:00:00:02', P.ETH_IPV4, tcp4()))))),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('ipv4_bad_total_length')], [109, OK, tun1]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('udp_truncated')], [42, OK, c1('vxlan_truncated')],
      [64, M, c1('ipv4_truncated', tun1)], [84, M, c1('tcp_truncated', tun1)], [104, OK, tun1]],
  },
  {
    // eth 0-14, ipv4 14-34, gre+key 34-42, ipv6 42-82, udp 82-90, gtp 90-98, opt 98-102, ext 102-106, ipv4 106-126, tcp 126-146, payload 146-150
    name: 'GRE(key) / IPv6 / UDP / GTP-U(ext) / IPv4 / TCP',
    frame: eth(P.ETH_IPV4, P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.gre({ protocol: P.ETH_IPV6, key: 5 },
      P.ipv6({ src: T_SRC6, dst: T_DST6, nextHeader: P.PROTO_UDP }, P.udp({ sport: 2152, dport: 2152 },
        P.gtpu({ teid: 3, ext: [{ type: 0x85, content: Buffer.from([0, 9]) }] }, P.ipv4({ src: C4, dst: S4 }, P.tcp({ sport: 1, dport: 2 }, Buffer.alloc(4))))))))),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('ipv4_bad_total_length')], [150, OK, { 'decode.tunnels_decapsulated': 2 }]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, OK, c1('gre_truncated')], [42, M, c1('ipv6_truncated', tun1)],
      [82, M, c1('udp_truncated', tun1)], [90, OK, c1('gtp_truncated', tun1)], [107, M, c1('ipv4_truncated', { 'decode.tunnels_decapsulated': 2 })],
      [126, M, c1('tcp_truncated', { 'decode.tunnels_decapsulated': 2 })], [146, OK, { 'decode.tunnels_decapsulated': 2 }]],
  },
  {
    // eth 0-14, ipv4 14-34, gre v1 (key, seq, ack) 34-50, ppp FF03 0021 50-54, ipv4 54-74, tcp 74-94, payload 94-96
    name: 'PPTP: IPv4 / GRE v1 / PPP / IPv4 / TCP',
    frame: eth(P.ETH_IPV4, P.ipv4({ src: T_SRC4, dst: T_DST4, proto: P.PROTO_GRE }, P.grePptp({ callId: 1, seq: 2, ack: 3 },
      P.ppp(P.PPP_IPV4, P.ipv4({ src: C4, dst: S4 }, P.tcp({ sport: 1, dport: 2 }, Buffer.alloc(2))))))),
    linkType: LinkType.ETHERNET,
    whole: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, M, c1('ipv4_bad_total_length')], [96, OK, tun1]],
    snap: [[0, M, c1('link_truncated')], [14, M, c1('ipv4_truncated')], [34, OK, c1('gre_truncated')], [54, M, c1('ipv4_truncated', tun1)],
      [74, M, c1('tcp_truncated', tun1)], [94, OK, tun1]],
  },
];

describe('truncation at every offset', () => {
  for (const c of sweepCases) {
    it(`${c.name}: capLen = wireLen = k (frame claims to be whole)`, () => {
      assert.deepEqual(sweep(c, 'whole'), []);
    });
    it(`${c.name}: capLen = k < wireLen (cut by the snaplen)`, () => {
      assert.deepEqual(sweep(c, 'snap'), []);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Random input
// ---------------------------------------------------------------------------------------------


const ALL_LINK_TYPES = [...Object.values(LinkType), 2, 105, 127, 0xffffffff];
const MALFORMED_COUNTERS: (keyof DecodeCounters)[] = [
  'linkTruncated', 'vlanTruncated', 'vlanTooDeep', 'mplsTruncated', 'mplsTooDeep', 'pppoeTruncated', 'ipv4Truncated', 'ipv4BadVersion',
  'ipv4BadHeaderLength', 'ipv4BadTotalLength', 'ipv6Truncated', 'ipv6BadVersion', 'ipv6BadPayloadLength', 'ipv6ExtHeaderTruncated',
  'ipv6TooManyExtHeaders', 'tcpTruncated', 'udpTruncated', 'sctpTruncated',
];
function malformedTotal(c: DecodeCounters): number {
  let s = 0;
  for (const k of MALFORMED_COUNTERS) s += c[k] as number;
  return s;
}

/** Decodes and checks the invariants that hold for any input. */
function checkAny(d: Decoder, buf: Buffer, offset: number, capLen: number, wireLen: number, lt: number, pkt: DecodedPacket): string | null {
  const c = d.counters;
  const before = malformedTotal(c), nonIpBefore = c.nonIp + c.pppoeNonIp, unsupBefore = c.unsupportedLinkType;
  let st: DecodeStatus;
  try {
    st = d.decode(buf, offset, capLen, wireLen, lt, pkt);
  } catch (err) {
    return `threw ${String(err)}`;
  }
  const end = offset + capLen;
  const malformedDelta = malformedTotal(c) - before;
  if (st !== DecodeStatus.MALFORMED && malformedDelta !== 0) return `status ${st} with a malformed counter incremented`;
  switch (st) {
    case DecodeStatus.OK:
      if (pkt.payloadLength < 0 || pkt.payloadOffset < offset || pkt.payloadOffset + pkt.payloadLength > end) return `OK with payload [${pkt.payloadOffset}, +${pkt.payloadLength}) outside [${offset}, ${end})`;
      if (pkt.ipOffset < offset || pkt.ipOffset >= end) return `OK with ipOffset ${pkt.ipOffset} outside [${offset}, ${end})`;
      if (pkt.ipVersion !== 4 && pkt.ipVersion !== 6) return `OK with ipVersion ${pkt.ipVersion}`;
      if (pkt.tunnelDepth > MAX_TUNNEL_DEPTH) return `tunnelDepth ${pkt.tunnelDepth}`;
      if (pkt.vlanId < 0 || pkt.vlanId > 4095) return `vlanId ${pkt.vlanId}`;
      return null;
    case DecodeStatus.MALFORMED:
      return malformedDelta === 1 ? null : `MALFORMED with ${malformedDelta} malformed counters incremented`;
    case DecodeStatus.NOT_IP:
      return c.nonIp + c.pppoeNonIp === nonIpBefore + 1 ? null : 'NOT_IP without decode.non_ip / decode.pppoe_non_ip';
    case DecodeStatus.UNSUPPORTED:
      return c.unsupportedLinkType === unsupBefore + 1 ? null : 'UNSUPPORTED without decode.unsupported_link_type';
    default:
      return `status ${String(st)}`;
  }
}

describe('random input', () => {
  // Invariants: never throws; OK stays within [offset, offset + capLen); MALFORMED increments
  // exactly one malformed-input counter and other results none; NOT_IP and UNSUPPORTED their own.
  it('100k random buffers of random lengths × every link type: no exception, invariants hold', () => {
    const rnd = prng(0x5eed);
    const pool = Buffer.alloc(1 << 20);
    for (let i = 0; i < pool.length; i++) pool[i] = (rnd() * 256) | 0;
    const d = new Decoder(new DecodeCounters());
    const pkt = new DecodedPacket();
    const failures: string[] = [];
    for (let n = 0; n < 100_000; n++) {
      const len = rnd() < 0.5 ? (rnd() * 64) | 0 : (rnd() * 600) | 0;
      const start = (rnd() * (pool.length - len)) | 0;
      // Some buffers start with a plausible first byte so that more of them reach IP.
      if (rnd() < 0.3 && len > 0) pool[start] = rnd() < 0.5 ? 0x45 : 0x60;
      const wireLen = rnd() < 0.2 ? len + 100 : len;
      for (const lt of ALL_LINK_TYPES) {
        const f = checkAny(d, pool, start, len, wireLen, lt, pkt);
        if (f !== null && failures.length < 20) failures.push(`n=${n} lt=${lt} len=${len} start=${start}: ${f}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('mutated valid packets (1-4 random bytes, random cut): no exception, invariants hold', () => {
    const rnd = prng(42);
    const seeds = sweepCases.map((c) => ({ frame: c.frame, lt: c.linkType }));
    const d = new Decoder(new DecodeCounters());
    const pkt = new DecodedPacket();
    const failures: string[] = [];
    for (let n = 0; n < 60_000; n++) {
      const s = seeds[n % seeds.length]!;
      const b = Buffer.from(s.frame);
      const flips = 1 + ((rnd() * 4) | 0);
      for (let i = 0; i < flips; i++) b[(rnd() * b.length) | 0] = (rnd() * 256) | 0;
      const cap = rnd() < 0.5 ? b.length : (rnd() * (b.length + 1)) | 0;
      const f = checkAny(d, b, 0, cap, rnd() < 0.5 ? cap : b.length, s.lt, pkt);
      if (f !== null && failures.length < 20) failures.push(`n=${n} lt=${s.lt} bytes=${b.subarray(0, cap).toString('hex')}: ${f}`);
    }
    assert.deepEqual(failures, []);
  });
});

describe('structured random input', () => {
  it('50k random packets with consistent IP lengths (random protocols, tunnel ports, bytes): invariants hold', () => {
    const rnd = prng(7);
    const pick = <T>(xs: readonly T[]): T => xs[(rnd() * xs.length) | 0]!;
    const bytes = (n: number): Buffer => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0; return b; };
    const protos = [P.PROTO_TCP, P.PROTO_UDP, P.PROTO_GRE, P.PROTO_IPIP, P.PROTO_IPV6, P.PROTO_SCTP, P.PROTO_ICMP, P.PROTO_HOPOPTS, P.PROTO_FRAGMENT, P.PROTO_AH, 136] as const;
    const ports = [4789, 2152, 37008, 5247, 53, 443, (rnd() * 65536) | 0];
    const d = new Decoder(new DecodeCounters());
    const pkt = new DecodedPacket();
    const failures: string[] = [];
    const randomIp = (depth: number): Buffer => {
      const proto = pick(protos);
      let body: Buffer;
      if ((proto === P.PROTO_IPIP || proto === P.PROTO_IPV6) && depth < 6) body = randomIp(depth + 1);
      else if (proto === P.PROTO_UDP && rnd() < 0.7) {
        const inner = rnd() < 0.5 ? bytes((rnd() * 60) | 0) : Buffer.concat([bytes((rnd() * 20) | 0), depth < 6 ? randomIp(depth + 1) : Buffer.alloc(0)]);
        body = P.udp({ sport: pick(ports), dport: pick(ports) }, inner);
      } else if (proto === P.PROTO_GRE && rnd() < 0.7 && depth < 6) {
        body = Buffer.concat([Buffer.from([(rnd() * 256) & 0xb0, rnd() < 0.8 ? 0 : 1]), Buffer.from(pick([[0x08, 0x00], [0x86, 0xdd], [0x65, 0x58], [0x88, 0x0b], [0x88, 0xbe]])), bytes(((rnd() * 3) | 0) * 4), randomIp(depth + 1)]);
      } else body = bytes((rnd() * 80) | 0);
      return rnd() < 0.5
        ? P.ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto, mf: rnd() < 0.1, fragOffset: rnd() < 0.1 ? 1 : 0, options: bytes(((rnd() * 3) | 0) * 4), transportChecksum: false }, body)
        : P.ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: proto, transportChecksum: false }, body);
    };
    for (let n = 0; n < 50_000; n++) {
      const ip = randomIp(0);
      const v6 = ip[0]! >> 4 === 6;
      const lt = pick([LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.PPP]);
      const et = v6 ? P.ETH_IPV6 : P.ETH_IPV4;
      const frame = lt === LinkType.ETHERNET ? eth(et, ip) : lt === LinkType.RAW ? ip : lt === LinkType.LINUX_SLL ? P.linuxSll(et, ip)
        : lt === LinkType.LINUX_SLL2 ? P.linuxSll2(et, ip) : lt === LinkType.NULL ? P.bsdNull(v6 ? P.AF_INET6_BSD : P.AF_INET, ip) : P.ppp(v6 ? P.PPP_IPV6 : P.PPP_IPV4, ip);
      const cap = rnd() < 0.7 ? frame.length : (rnd() * frame.length) | 0;
      const f = checkAny(d, frame, 0, cap, rnd() < 0.5 ? frame.length : cap, lt, pkt);
      if (f !== null && failures.length < 20) failures.push(`n=${n} lt=${lt} bytes=${frame.subarray(0, cap).toString('hex')}: ${f}`);
    }
    assert.deepEqual(failures, []);
    const snap = d.counters.snapshot();
    // The generator reaches the deep layers.
    for (const k of ['decode.tunnels_decapsulated', 'decode.ipv6_ext_header_truncated', 'decode.gre_unsupported', 'decode.vxlan_truncated', 'decode.gtp_non_ip', 'decode.tcp_truncated']) {
      assert.ok(snap[k]! > 0, `${k} reached`);
    }
  });
});

describe('counters', () => {
  it('snapshot names are stable', () => {
    assert.deepEqual(Object.keys(new DecodeCounters().snapshot()), [
      'decode.packets', 'decode.bytes', 'decode.unsupported_link_type', 'decode.link_truncated', 'decode.non_ip',
      'decode.vlan_truncated', 'decode.vlan_too_deep', 'decode.mpls_truncated', 'decode.mpls_too_deep', 'decode.pppoe_truncated',
      'decode.pppoe_non_ip', 'decode.ipv4_truncated', 'decode.ipv4_bad_version', 'decode.ipv4_bad_header_length',
      'decode.ipv4_bad_total_length', 'decode.ipv4_fragments', 'decode.ipv6_truncated', 'decode.ipv6_bad_version',
      'decode.ipv6_bad_payload_length', 'decode.ipv6_ext_header_truncated', 'decode.ipv6_too_many_ext_headers',
      'decode.ipv6_fragments', 'decode.tcp_truncated', 'decode.tcp_bad_header_length', 'decode.udp_truncated',
      'decode.udp_bad_length', 'decode.sctp_truncated', 'decode.gre_truncated', 'decode.gre_unsupported',
      'decode.vxlan_truncated', 'decode.gtp_truncated', 'decode.gtp_non_ip', 'decode.tzsp_truncated', 'decode.tzsp_unsupported',
      'decode.capwap_unsupported', 'decode.tunnel_too_deep', 'decode.tunnels_decapsulated',
    ]);
  });
});
