/**
 * Decode-rate comparison: dns-packet alone, parseDnsMessage (dns-packet + extraction), and the
 * hand parser parseDnsFast, on a typical response with 3 answers (CNAME + 2 A), both as servers
 * send it (names compressed, RFC 1035 §4.1.4, EDNS OPT) and uncompressed (dns-packet's encoder).
 *
 *   node --import tsx bench/bench-dns.ts [iterations=500000]
 */
import dnsPacket from 'dns-packet';
import { built } from './bench-common.js';

// The built parsers (dist/), the code that ships; `npm run build` first.
const { DnsCounters } = await built<typeof import('../src/protocols/dns/counters.js')>('protocols/dns/counters.js');
const { DnsMessageInfo, parseDnsMessage } = await built<typeof import('../src/protocols/dns/message.js')>('protocols/dns/message.js');
const { parseDnsFast } = await built<typeof import('../src/protocols/dns/fast.js')>('protocols/dns/fast.js');

const N = Math.max(1000, Number.parseInt(process.argv[2] ?? '', 10) || 500_000);

/** www.example.com A → CNAME www.example.com.edgekey.net, 2 × A, OPT; names compressed. */
function compressedResponse(): Buffer {
  const p: number[] = [];
  const u16 = (v: number): void => void p.push(v >> 8, v & 0xff);
  const u32 = (v: number): void => { u16(v >>> 16); u16(v & 0xffff); };
  const labels = (...ls: string[]): void => { for (const l of ls) p.push(l.length, ...Buffer.from(l)); };
  u16(0x3a7c); u16(0x8180); u16(1); u16(3); u16(0); u16(1);
  labels('www', 'example', 'com'); p.push(0); u16(1); u16(1); // question at 12
  u16(0xc00c); u16(5); u16(1); u32(300); u16(10); labels('edgekey', 'net'); p.push(0);
  const target = p.length - 13;
  u16(0xc000 | target); u16(1); u16(1); u32(20); u16(4); p.push(23, 45, 67, 89);
  u16(0xc000 | target); u16(1); u16(1); u32(20); u16(4); p.push(23, 45, 67, 90);
  p.push(0); u16(41); u16(1232); u32(0); u16(0); // OPT (RFC 6891)
  return Buffer.from(p);
}

const uncompressed = dnsPacket.encode({
  type: 'response',
  id: 0x3a7c,
  flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
  questions: [{ type: 'A', name: 'www.example.com' }],
  answers: [
    { type: 'CNAME', name: 'www.example.com', ttl: 300, data: 'www.example.com.edgekey.net' },
    { type: 'A', name: 'www.example.com.edgekey.net', ttl: 20, data: '23.45.67.89' },
    { type: 'A', name: 'www.example.com.edgekey.net', ttl: 20, data: '23.45.67.90' },
  ],
});

function rate(fn: () => void): number {
  for (let i = 0; i < Math.min(N, 50_000); i++) fn(); // warm-up
  let best = 0;
  for (let r = 0; r < 3; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn();
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    best = Math.max(best, N / s);
  }
  return best;
}

const out = new DnsMessageInfo();
const opts = { counters: new DnsCounters() };
const fmt = (r: number): string => `${(r / 1000).toFixed(0).padStart(6)}k msg/s`;
console.log(`node ${process.version}, ${N} iterations × 3 runs (best)`);
for (const [label, m] of [['compressed + OPT', compressedResponse()], ['uncompressed', uncompressed]] as const) {
  const rRaw = rate(() => void dnsPacket.decode(m));
  const rWrap = rate(() => void parseDnsMessage(m, 0, m.length, out, opts));
  const rFast = rate(() => void parseDnsFast(m, 0, m.length, out, opts));
  console.log(`${label} (${m.length} octets):`);
  console.log(`  ${'dns-packet decode only'.padEnd(30)}${fmt(rRaw)}`);
  console.log(`  ${'parseDnsMessage (dns-packet)'.padEnd(30)}${fmt(rWrap)}`);
  console.log(`  ${'parseDnsFast (hand parser)'.padEnd(30)}${fmt(rFast)}`);
  console.log(`  ratio hand / parseDnsMessage ${(rFast / rWrap).toFixed(2)}×, hand / raw dns-packet ${(rFast / rRaw).toFixed(2)}×`);
}
