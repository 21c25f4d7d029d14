/**
 * Hand-written hot-path DNS parser: header (RFC 1035 §4.1.1), first question (§4.1.2) and the
 * answer section (§4.1.3) with A / AAAA / CNAME / PTR / NS / DNAME data, names decompressed per
 * §4.1.4. Fills the same DnsMessageInfo as parseDnsMessage (dns-packet) and agrees with it on
 * well-formed messages (checked by message.test.ts and test/fuzz/dns.ts), at several times its speed
 * (see README.md, bench/bench-dns.ts).
 *
 * Differences from the dns-packet path, all on the lenient side:
 * - questions after the first are skipped unchecked beyond their bounds; authority and
 *   additional sections are not walked at all, nor an UPDATE's Prerequisite section (answerCount);
 * - RDATA of other types is skipped by RDLENGTH, not decoded (dns-packet may reject bad SOA, SRV, ...);
 * - A/AAAA whose RDLENGTH is not 4/16 is kept without data (`dns.answers.bad_rdata`), where
 *   dns-packet reads 4/16 octets regardless of RDLENGTH.
 * Never throws; no logging, clock or storage.
 */
import { ParseStatus } from '../parse-status.js';
import { DnsCounters, dnsLimits } from './counters.js';
import {
  answerCount,
  DNS_HEADER_BYTES,
  OPCODE_UPDATE,
  RrType,
  classNameOf,
  ipv4At,
  ipv6At,
  beginDnsMessage,
  skipName,
  typeNameOf,
  type DnsMessageInfo,
  type DnsParseOptions,
} from './message.js';

const DEFAULT_LIMITS = dnsLimits();
const SCRATCH_COUNTERS = new DnsCounters();

/** A domain name is at most 255 octets on the wire, length octets and root included (RFC 1035 §2.3.4). */
export const DNS_MAX_NAME_WIRE_BYTES = 255;
/**
 * Compression pointers must point strictly backwards (to a "prior occurrence", RFC 1035 §4.1.4),
 * which already rules out loops; the hop cap is a second guard (a 255-octet name has ≤ 127 labels).
 */
const MAX_POINTER_HOPS = 127;

/** Offset just past the name read by the last successful readName (in the original position). */
let nameEnd = 0;

/** Scratch for assembling a name: ≤ 254 octets of labels and dots. */
const scratch = Buffer.allocUnsafe(DNS_MAX_NAME_WIRE_BYTES + 1);

/**
 * Reads the possibly compressed name at m[p]; pointers are offsets from the message start (0).
 * Returns the lowercased dotted name ("." for the root) or undefined if malformed. ASCII names are
 * lowercased while copying; a name with octets ≥ 0x80 is decoded as UTF-8 and lowercased after,
 * as dns-packet + toLowerCase() would.
 */
export function readName(m: Buffer, p: number, end: number): string | undefined {
  let limit = p; // pointers must target bytes before this
  let wire = 1; // the root octet
  let hops = 0;
  let jumped = false;
  let n = 0;
  let ascii = true;
  for (;;) {
    if (p >= end) return undefined;
    const l = m[p] ?? 0;
    if (l === 0) {
      if (!jumped) nameEnd = p + 1;
      break;
    }
    const top = l & 0xc0;
    if (top === 0xc0) {
      if (p + 1 >= end) return undefined;
      const target = ((l & 0x3f) << 8) | (m[p + 1] ?? 0);
      if (!jumped) nameEnd = p + 2;
      if (target >= limit || ++hops > MAX_POINTER_HOPS) return undefined;
      limit = target;
      p = target;
      jumped = true;
      continue;
    }
    // 0x40 / 0x80: extended label types (RFC 6891 §5), none in use.
    if (top !== 0) return undefined;
    wire += l + 1;
    if (wire > DNS_MAX_NAME_WIRE_BYTES) return undefined;
    const e = p + 1 + l;
    if (e > end) return undefined;
    if (n !== 0) scratch[n++] = 0x2e;
    for (let i = p + 1; i < e; i++) {
      let ch = m[i] ?? 0;
      if (ch >= 0x41 && ch <= 0x5a) ch |= 0x20;
      else if (ch >= 0x80) ascii = false;
      scratch[n++] = ch;
    }
    p = e;
  }
  if (n === 0) return '.';
  return ascii ? scratch.toString('latin1', 0, n) : scratch.toString('utf8', 0, n).toLowerCase();
}

function msgBuffer(b: Uint8Array, off: number, end: number): Buffer {
  if (off === 0 && end === b.length && Buffer.isBuffer(b)) return b;
  return Buffer.from(b.buffer, b.byteOffset + off, end - off);
}

const u16 = (m: Buffer, p: number): number => ((m[p] ?? 0) << 8) | (m[p + 1] ?? 0);

/** Same contract as parseDnsMessage (message.ts), without dns-packet. */
export function parseDnsFast(b: Uint8Array, off: number, end: number, out: DnsMessageInfo, opts?: DnsParseOptions): ParseStatus {
  const c = opts?.counters ?? SCRATCH_COUNTERS;
  const limits = opts?.limits ?? DEFAULT_LIMITS;
  const hs = beginDnsMessage(b, off, end, out, opts, c, limits);
  if (hs !== ParseStatus.OK) return hs;
  const m = msgBuffer(b, off, end);
  const len = end - off;
  let p = DNS_HEADER_BYTES;
  for (let i = 0; i < out.qdCount; i++) {
    if (i === 0) {
      const name = readName(m, p, len);
      if (name === undefined || nameEnd + 4 > len) return malformed(c);
      p = nameEnd;
      const qclassRaw = u16(m, p + 2);
      out.hasQuestion = true;
      out.qname = name;
      out.qtype = u16(m, p);
      out.qtypeName = typeNameOf(out.qtype);
      out.qu = out.protocol === 'mdns' && (qclassRaw & 0x8000) !== 0;
      out.qclass = out.protocol === 'mdns' ? qclassRaw & 0x7fff : qclassRaw;
      out.qclassName = classNameOf(out.qclass);
      p += 4;
    } else {
      p = skipName(m, p, len);
      if (p < 0 || p + 4 > len) return malformed(c);
      p += 4;
    }
  }
  const max = limits.dnsMaxAnswers;
  const anCount = answerCount(out);
  for (let i = 0; i < anCount; i++) {
    if (out.answers.length >= max) {
      const rest = anCount - i;
      c.answersDropped += rest;
      out.answersOmitted += rest;
      break;
    }
    const name = readName(m, p, len);
    if (name === undefined || nameEnd + 10 > len) return malformed(c);
    p = nameEnd;
    const type = u16(m, p);
    const klass = u16(m, p + 2);
    const ttl = m.readUInt32BE(p + 4);
    const rdlen = u16(m, p + 8);
    const rd = p + 10;
    const rdEnd = rd + rdlen;
    if (rdEnd > len) return malformed(c);
    p = rdEnd;
    if (type === RrType.OPT) {
      out.answersOmitted++;
      continue;
    }
    if (type === RrType.TXT) {
      c.answersTxtSkipped++;
      out.answersOmitted++;
      continue;
    }
    let data: string | undefined;
    switch (type) {
      case RrType.A:
        if (rdlen === 4) data = ipv4At(m, rd);
        else c.answersBadRdata++;
        break;
      case RrType.AAAA:
        if (rdlen === 16) data = ipv6At(m, rd);
        else c.answersBadRdata++;
        break;
      case RrType.CNAME:
      case RrType.PTR:
      case RrType.NS:
      case RrType.DNAME: {
        const target = readName(m, rd, len);
        if (target === undefined) return malformed(c);
        if (nameEnd !== rdEnd) c.answersBadRdata++;
        else data = target;
        break;
      }
      default:
        data = undefined;
    }
    // mDNS cache-flush bit is the top bit of CLASS (RFC 6762 §10.2); dns-packet strips it everywhere.
    const cls = klass & 0x7fff;
    out.answers.push({
      name,
      type,
      typeName: typeNameOf(type),
      class: cls,
      className: classNameOf(cls),
      flush: (klass & 0x8000) !== 0,
      ttl,
      data,
    });
  }
  c.messages++;
  if (out.opcode === OPCODE_UPDATE) c.updates++;
  if (out.qr) c.responses++;
  else c.queries++;
  if (out.protocol === 'mdns') c.mdns++;
  else if (out.protocol === 'llmnr') c.llmnr++;
  if (out.transport === 'tcp') c.tcp++;
  return ParseStatus.OK;
}

function malformed(c: DnsCounters): ParseStatus {
  c.malformed++;
  return ParseStatus.MALFORMED;
}
