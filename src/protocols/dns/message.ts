/**
 * DNS message parsing (RFC 1035 §4) for unicast DNS, mDNS (RFC 6762) and LLMNR (RFC 4795), over
 * UDP or TCP (RFC 7766 §8: each message preceded by a two-octet length field).
 *
 * The full decode is done by the `dns-packet` package, which throws on bad input; every call is
 * wrapped, so these functions never throw: bad input returns ParseStatus.MALFORMED (counted as
 * `dns.malformed`) or NOT_MINE (`dns.not_dns`). Before dns-packet runs, a cheap check of the 12-byte
 * header (RFC 1035 §4.1.1) rejects UDP on port 53 that is not DNS.
 *
 * No logging, clock or storage here: the caller owns `DnsMessageInfo` (reused between calls) and the
 * counters. Strings produced: names lowercased, no trailing dot (the root stays "."); A/AAAA data in
 * the same text form as src/decode/format.ts (RFC 5952 for IPv6) so it matches flow addresses.
 */
import { createRequire } from 'node:module';
import dnsPacket from 'dns-packet';
import { ParseStatus } from '../parse-status.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';
import { DnsCounters, dnsLimits, type DnsLimits } from './counters.js';

export type DnsTransport = 'udp' | 'tcp';
/** dns: port 53 (RFC 1035); mdns: 5353 (RFC 6762); llmnr: 5355 (RFC 4795). */
export type DnsProtocol = 'dns' | 'mdns' | 'llmnr';

export const DNS_PORT = 53;
export const MDNS_PORT = 5353;
export const LLMNR_PORT = 5355;

/** Which DNS flavour a UDP/TCP port pair carries, or undefined when none is a DNS port. */
export function dnsProtocolForPorts(srcPort: number, dstPort: number): DnsProtocol | undefined {
  if (srcPort === MDNS_PORT || dstPort === MDNS_PORT) return 'mdns';
  if (srcPort === LLMNR_PORT || dstPort === LLMNR_PORT) return 'llmnr';
  if (srcPort === DNS_PORT || dstPort === DNS_PORT) return 'dns';
  return undefined;
}

/** RR TYPE values used here (RFC 1035 §3.2.2, RFC 3596 for AAAA, RFC 6672 for DNAME). */
export const enum RrType { A = 1, NS = 2, CNAME = 5, PTR = 12, TXT = 16, AAAA = 28, DNAME = 39, OPT = 41 }

export interface DnsAnswer {
  /** Owner name, lowercased. */
  name: string;
  type: number;
  typeName: string;
  /** RR CLASS with the mDNS cache-flush bit (RFC 6762 §10.2) removed. */
  class: number;
  className: string;
  /** mDNS cache-flush bit (RFC 6762 §10.2). */
  flush: boolean;
  ttl: number;
  /** A/AAAA: address text; CNAME/PTR/NS/DNAME: target name (lowercased); other types: undefined. */
  data: string | undefined;
}

/** Parse result, owned by the caller and reused: every parse starts with reset(). */
export class DnsMessageInfo {
  transport: DnsTransport = 'udp';
  protocol: DnsProtocol = 'dns';
  /** Message length in octets (without the TCP length prefix). */
  length = 0;
  id = 0;
  /** QR: false = query, true = response (RFC 1035 §4.1.1). */
  qr = false;
  opcode = 0;
  rcode = 0;
  /** AA; in LLMNR this bit is C, "conflict" (RFC 4795 §2.1.1). */
  aa = false;
  tc = false;
  /** RD; in LLMNR this bit is T, "tentative" (RFC 4795 §2.1.1). */
  rd = false;
  ra = false;
  /** AD, CD (RFC 4035 §3.2). */
  ad = false;
  cd = false;
  qdCount = 0;
  anCount = 0;
  nsCount = 0;
  arCount = 0;
  /** False when QDCOUNT = 0 (e.g. mDNS responses, RFC 6762 §6). */
  hasQuestion = false;
  /** First question's name, lowercased, no trailing dot. */
  qname = '';
  qtype = 0;
  qtypeName = '';
  /** QCLASS without the mDNS unicast-response bit (RFC 6762 §5.4). */
  qclass = 0;
  qclassName = '';
  /** mDNS QU bit of the first question (RFC 6762 §5.4). */
  qu = false;
  answers: DnsAnswer[] = [];
  /** Answers present in the message but not in `answers` (bound, TXT, OPT). */
  answersOmitted = 0;

  reset(): void {
    this.transport = 'udp';
    this.protocol = 'dns';
    this.length = 0;
    this.id = 0;
    this.qr = false;
    this.opcode = 0;
    this.rcode = 0;
    this.aa = this.tc = this.rd = this.ra = this.ad = this.cd = false;
    this.qdCount = this.anCount = this.nsCount = this.arCount = 0;
    this.hasQuestion = false;
    this.qname = '';
    this.qtype = 0;
    this.qtypeName = '';
    this.qclass = 0;
    this.qclassName = '';
    this.qu = false;
    this.answers = [];
    this.answersOmitted = 0;
  }
}

export interface DnsParseOptions {
  transport?: DnsTransport;
  protocol?: DnsProtocol;
  limits?: DnsLimits;
  counters?: DnsCounters;
}

const DEFAULT_LIMITS = dnsLimits();
/** Sink for callers that pass no counters. */
const SCRATCH_COUNTERS = new DnsCounters();

// ---------------------------------------------------------------------------------------------
// Type / class names (mnemonics as dns-packet spells them, IANA "DNS Parameters" registry).

interface NameTable {
  toString(n: number): string;
}
const require = createRequire(import.meta.url);
const dpTypes = require('dns-packet/types.js') as NameTable & { toType(s: string): number };
const dpClasses = require('dns-packet/classes.js') as NameTable & { toClass(s: string): number };

// Filled on first use of each type: probing all 65,536 types up front cost 15–20 ms of every
// start-up. At most one entry per type value, so the map is bounded.
const typeNames = new Map<number, string>();

/** Mnemonic of an RR TYPE, "TYPEnnn" (RFC 3597 §5) when unassigned/unknown. */
export function typeNameOf(t: number): string {
  let s = typeNames.get(t);
  if (s === undefined) {
    const dp = dpTypes.toString(t);
    s = dp.startsWith('UNKNOWN_') ? `TYPE${t}` : dp;
    typeNames.set(t, s);
  }
  return s;
}

/** Mnemonic of an RR CLASS, "CLASSnnn" (RFC 3597 §5) when unknown. */
export function classNameOf(c: number): string {
  const s = dpClasses.toString(c);
  return s.startsWith('UNKNOWN_') ? `CLASS${c}` : s;
}

function typeNumberOfDp(s: string): number {
  // A type dns-packet names (its toType is the inverse of its toString on those names; toType
  // also upper-cases, so the round trip keeps only names spelled exactly as toString spells them).
  const n = dpTypes.toType(s);
  if (n !== 0 && dpTypes.toString(n) === s) return n;
  return s.startsWith('UNKNOWN_') ? Number.parseInt(s.slice(8), 10) || 0 : 0;
}

function classNumberOfDp(s: string): number {
  if (s.startsWith('UNKNOWN_')) return Number.parseInt(s.slice(8), 10) || 0;
  return dpClasses.toClass(s);
}

// ---------------------------------------------------------------------------------------------
// Address text (same as src/decode/format.ts so cache keys match flow addresses).

export function ipv4At(b: Uint8Array, p: number): string {
  return ipv4ToString((((b[p] ?? 0) << 24) | ((b[p + 1] ?? 0) << 16) | ((b[p + 2] ?? 0) << 8) | (b[p + 3] ?? 0)) >>> 0);
}

export function ipv6At(b: Uint8Array, p: number): string {
  const w = (q: number): number =>
    (((b[q] ?? 0) << 24) | ((b[q + 1] ?? 0) << 16) | ((b[q + 2] ?? 0) << 8) | (b[q + 3] ?? 0)) >>> 0;
  return ipv6ToString(w(p), w(p + 4), w(p + 8), w(p + 12));
}

/**
 * dns-packet prints IPv6 without RFC 5952 care (it may compress a shorter zero run, never uses
 * the dotted IPv4-mapped tail). Re-canonicalises its output; undefined if not hex-groups text.
 */
export function canonicalIpv6(s: string): string | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string | undefined): number[] | undefined => {
    if (h === undefined || h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const g = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const w = (i: number): number => ((((g[i] ?? 0) << 16) | (g[i + 1] ?? 0)) >>> 0);
  return ipv6ToString(w(0), w(2), w(4), w(6));
}

// ---------------------------------------------------------------------------------------------
// Header (RFC 1035 §4.1.1).

/** Smallest question: root name (1) + QTYPE + QCLASS (RFC 1035 §4.1.2). */
const MIN_QUESTION_BYTES = 5;
/** Smallest RR: root name (1) + TYPE, CLASS, TTL, RDLENGTH (RFC 1035 §4.1.3). */
const MIN_RR_BYTES = 11;
export const DNS_HEADER_BYTES = 12;

/**
 * Reads the 12-byte header into `out` and decides whether the rest is worth decoding.
 * NOT_MINE: opcode unassigned (IANA: 3, 7–15) or QDCOUNT above dnsMaxQuestions — fast rejection of
 * non-DNS payloads on DNS ports. MALFORMED: shorter than the header, or than the section counts
 * require at minimum. Counts nothing; the callers do.
 */
export function readDnsHeader(b: Uint8Array, off: number, end: number, out: DnsMessageInfo, maxQuestions: number): ParseStatus {
  const len = end - off;
  if (len < DNS_HEADER_BYTES) return ParseStatus.MALFORMED;
  const flags = ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0);
  const opcode = (flags >>> 11) & 0xf;
  // Opcodes: 0 QUERY, 1 IQUERY (obsolete), 2 STATUS, 4 NOTIFY (RFC 1996), 5 UPDATE (RFC 2136), 6 DSO (RFC 8490).
  if (opcode === 3 || opcode > 6) return ParseStatus.NOT_MINE;
  const qd = ((b[off + 4] ?? 0) << 8) | (b[off + 5] ?? 0);
  if (qd > maxQuestions) return ParseStatus.NOT_MINE;
  const an = ((b[off + 6] ?? 0) << 8) | (b[off + 7] ?? 0);
  const ns = ((b[off + 8] ?? 0) << 8) | (b[off + 9] ?? 0);
  const ar = ((b[off + 10] ?? 0) << 8) | (b[off + 11] ?? 0);
  out.length = len;
  out.id = ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
  out.qr = (flags & 0x8000) !== 0;
  out.opcode = opcode;
  out.aa = (flags & 0x0400) !== 0;
  out.tc = (flags & 0x0200) !== 0;
  out.rd = (flags & 0x0100) !== 0;
  out.ra = (flags & 0x0080) !== 0;
  out.ad = (flags & 0x0020) !== 0;
  out.cd = (flags & 0x0010) !== 0;
  out.rcode = flags & 0xf;
  out.qdCount = qd;
  out.anCount = an;
  out.nsCount = ns;
  out.arCount = ar;
  if (DNS_HEADER_BYTES + qd * MIN_QUESTION_BYTES + (an + ns + ar) * MIN_RR_BYTES > len) return ParseStatus.MALFORMED;
  return ParseStatus.OK;
}

/** Offset just past the (possibly compressed) name at p, or -1 (RFC 1035 §4.1.4: a pointer ends it). */
export function skipName(b: Uint8Array, p: number, end: number): number {
  for (let hops = 0; hops < 128 && p < end; hops++) {
    const l = b[p] ?? 0;
    if (l === 0) return p + 1;
    if ((l & 0xc0) === 0xc0) return p + 2 <= end ? p + 2 : -1;
    if ((l & 0xc0) !== 0) return -1;
    p += 1 + l;
  }
  return -1;
}

/** DNS UPDATE (RFC 2136 §1.3). */
export const OPCODE_UPDATE = 5;

/**
 * The records in the answer-section position that are answers. In an UPDATE that section is the
 * Prerequisite section (RFC 2136 §2: ZOCOUNT, PRCOUNT, UPCOUNT, ADCOUNT replace QDCOUNT, ANCOUNT,
 * NSCOUNT, ARCOUNT): conditions the requester states, not resolutions, so none are read as
 * answers. The Zone section has the question's format (§2.3), so the zone is the query name and
 * SOA its type, as Zeek's dns.log logs it.
 */
export function answerCount(out: DnsMessageInfo): number {
  return out.opcode === OPCODE_UPDATE ? 0 : out.anCount;
}

function countOk(out: DnsMessageInfo, c: DnsCounters): void {
  c.messages++;
  if (out.opcode === OPCODE_UPDATE) c.updates++;
  if (out.qr) c.responses++;
  else c.queries++;
  if (out.protocol === 'mdns') c.mdns++;
  else if (out.protocol === 'llmnr') c.llmnr++;
  if (out.transport === 'tcp') c.tcp++;
}

function asBuffer(b: Uint8Array, off: number, end: number): Buffer {
  return Buffer.from(b.buffer, b.byteOffset + off, end - off);
}

/**
 * Parses one DNS message occupying b[off, end) into `out` with dns-packet. Never throws.
 * OK: header, first question and up to dnsMaxAnswers answers filled. MALFORMED / NOT_MINE: `out`
 * holds whatever the header gave (or nothing); counters `dns.malformed` / `dns.not_dns` bumped.
 */
/**
 * The part both DNS parsers share: reset `out`, check the bounds, read and pre-check the header
 * (RFC 1035 §4.1.1), counting what is not DNS or is cut short.
 */
export function beginDnsMessage(b: Uint8Array, off: number, end: number, out: DnsMessageInfo, opts: DnsParseOptions | undefined,
  c: DnsCounters, limits: DnsLimits): ParseStatus {
  out.reset();
  out.transport = opts?.transport ?? 'udp';
  out.protocol = opts?.protocol ?? 'dns';
  if (off < 0 || end > b.length || off > end) {
    c.malformed++;
    c.truncated++;
    return ParseStatus.MALFORMED;
  }
  const hs = readDnsHeader(b, off, end, out, limits.dnsMaxQuestions);
  if (hs !== ParseStatus.OK) {
    if (hs === ParseStatus.NOT_MINE) c.notDns++;
    else {
      c.malformed++;
      c.truncated++;
    }
    return hs;
  }
  return ParseStatus.OK;
}

/**
 * An UPDATE cut after its Zone section, with the other three counts zeroed: dns-packet decodes
 * the zone as a question and never sees the Prerequisite/Update records, whose RDLENGTH-0 forms
 * (class ANY/NONE deletions, RFC 2136 §2.4-§2.5) it cannot decode. Names in the Zone section can
 * only point backwards (RFC 1035 §4.1.4), so the cut keeps them whole. A copy: this is the
 * reference parser, not the hot path.
 */
function updateZoneOnly(b: Uint8Array, off: number, end: number): Buffer {
  let p = off + DNS_HEADER_BYTES;
  const zo = ((b[off + 4] ?? 0) << 8) | (b[off + 5] ?? 0);
  for (let i = 0; i < zo && p >= 0; i++) {
    p = skipName(b, p, end);
    if (p >= 0) p = p + 4 <= end ? p + 4 : -1;
  }
  const cut = Buffer.from(asBuffer(b, off, p < 0 ? end : p));
  cut.fill(0, 6, 12);
  return cut;
}

export function parseDnsMessage(
  b: Uint8Array,
  off: number,
  end: number,
  out: DnsMessageInfo,
  opts?: DnsParseOptions,
): ParseStatus {
  const c = opts?.counters ?? SCRATCH_COUNTERS;
  const limits = opts?.limits ?? DEFAULT_LIMITS;
  const hs = beginDnsMessage(b, off, end, out, opts, c, limits);
  if (hs !== ParseStatus.OK) return hs;
  let pkt: dnsPacket.DecodedPacket;
  try {
    pkt = dnsPacket.decode(out.opcode === OPCODE_UPDATE ? updateZoneOnly(b, off, end) : asBuffer(b, off, end));
  } catch {
    c.malformed++;
    return ParseStatus.MALFORMED;
  }
  try {
    const q = pkt.questions?.[0];
    if (q !== undefined) {
      // QTYPE/QCLASS straight from the wire (dns-packet folds the QU bit into an "UNKNOWN_" class).
      const p = skipName(b, off + DNS_HEADER_BYTES, end);
      if (p < 0 || p + 4 > end) {
        c.malformed++;
        return ParseStatus.MALFORMED;
      }
      const qclassRaw = ((b[p + 2] ?? 0) << 8) | (b[p + 3] ?? 0);
      out.hasQuestion = true;
      out.qname = q.name.toLowerCase();
      out.qtype = ((b[p] ?? 0) << 8) | (b[p + 1] ?? 0);
      out.qtypeName = typeNameOf(out.qtype);
      out.qu = out.protocol === 'mdns' && (qclassRaw & 0x8000) !== 0;
      out.qclass = out.protocol === 'mdns' ? qclassRaw & 0x7fff : qclassRaw;
      out.qclassName = classNameOf(out.qclass);
    }
    const answers = answerCount(out) === 0 ? [] : pkt.answers ?? [];
    const max = limits.dnsMaxAnswers;
    for (const a of answers) {
      // Same order as parseDnsFast: the bound first, then OPT / TXT.
      if (out.answers.length >= max) {
        c.answersDropped++;
        out.answersOmitted++;
        continue;
      }
      if (a.type === 'OPT') {
        // OPT belongs in the additional section only (RFC 6891 §6.1.1).
        out.answersOmitted++;
        continue;
      }
      if (a.type === 'TXT') {
        c.answersTxtSkipped++;
        out.answersOmitted++;
        continue;
      }
      const type = typeNumberOfDp(a.type);
      const cls = classNumberOfDp(a.class ?? 'IN');
      let data: string | undefined;
      const raw: unknown = a.data;
      switch (type) {
        case RrType.A:
          data = typeof raw === 'string' ? raw : undefined;
          break;
        case RrType.AAAA:
          data = typeof raw === 'string' ? canonicalIpv6(raw) : undefined;
          break;
        case RrType.CNAME:
        case RrType.PTR:
        case RrType.NS:
        case RrType.DNAME:
          data = typeof raw === 'string' ? raw.toLowerCase() : undefined;
          break;
        default:
          data = undefined;
      }
      if (data === undefined && (type === RrType.A || type === RrType.AAAA)) c.answersBadRdata++;
      out.answers.push({
        name: a.name.toLowerCase(),
        type,
        typeName: typeNameOf(type),
        class: cls,
        className: classNameOf(cls),
        flush: a.flush === true,
        ttl: a.ttl ?? 0,
        data,
      });
    }
  } catch {
    // dns-packet output of an unexpected shape: treat as malformed rather than throw.
    c.malformed++;
    return ParseStatus.MALFORMED;
  }
  countOk(out, c);
  return ParseStatus.OK;
}

// ---------------------------------------------------------------------------------------------
// DNS over TCP (RFC 7766 §8, RFC 1035 §4.2.2): two-octet length prefix, messages may span segments.

export type DnsFrameSink = (b: Uint8Array, off: number, end: number) => void;

/**
 * Per-flow, per-direction reassembler of length-prefixed DNS messages. Holds at most one message
 * (≤ dnsTcpMaxMessageBytes) plus one prefix octet; longer messages are skipped unbuffered. Feed
 * in-order payload only; call gap() when a sequence hole is seen (the stream cannot be resynchronised).
 */
export class DnsTcpFramer {
  readonly #maxMessageBytes: number;
  readonly #counters: DnsCounters;
  /** Message under assembly (exact size), or undefined. */
  #buf: Uint8Array | undefined;
  #have = 0;
  /** Length-prefix bytes seen (0, 1); #prefixHi holds the first one. */
  #prefixBytes = 0;
  #prefixHi = 0;
  /** Bytes of an oversize message still to skip. */
  #skip = 0;
  #desynced = false;

  constructor(limits: DnsLimits = DEFAULT_LIMITS, counters: DnsCounters = SCRATCH_COUNTERS) {
    this.#maxMessageBytes = limits.dnsTcpMaxMessageBytes;
    this.#counters = counters;
  }

  get desynced(): boolean {
    return this.#desynced;
  }

  /** Bytes held for an incomplete message (including a lone prefix octet). */
  get bufferedBytes(): number {
    return this.#have + this.#prefixBytes;
  }

  /** A sequence gap: drop buffered bytes and ignore the rest of this direction. */
  gap(): void {
    if (!this.#desynced) this.#counters.tcpDesync++;
    this.#desynced = true;
    this.#buf = undefined;
    this.#have = this.#prefixBytes = this.#skip = 0;
  }

  /**
   * Consumes seg[off, end); calls sink once per complete message with a view that is only valid
   * during the call. Returns the number of complete messages.
   */
  push(seg: Uint8Array, off: number, end: number, sink: DnsFrameSink): number {
    if (this.#desynced || off < 0 || end > seg.length || off >= end) return 0;
    let frames = 0;
    while (off < end) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, end - off);
        this.#skip -= n;
        off += n;
        continue;
      }
      if (this.#buf === undefined) {
        // Reading the two-octet length.
        let len: number;
        if (this.#prefixBytes === 0) {
          if (end - off < 2) {
            this.#prefixHi = seg[off] ?? 0;
            this.#prefixBytes = 1;
            off++;
            break;
          }
          len = ((seg[off] ?? 0) << 8) | (seg[off + 1] ?? 0);
          off += 2;
        } else {
          len = (this.#prefixHi << 8) | (seg[off] ?? 0);
          this.#prefixBytes = 0;
          off++;
        }
        if (len > this.#maxMessageBytes) {
          this.#counters.tcpOversize++;
          this.#skip = len;
          continue;
        }
        if (end - off >= len) {
          // Whole message inside this segment: no copy.
          frames++;
          this.#counters.tcpFrames++;
          sink(seg, off, off + len);
          off += len;
          continue;
        }
        this.#buf = new Uint8Array(len);
        this.#have = 0;
      }
      const buf = this.#buf;
      const n = Math.min(buf.length - this.#have, end - off);
      buf.set(seg.subarray(off, off + n), this.#have);
      this.#have += n;
      off += n;
      if (this.#have === buf.length) {
        this.#buf = undefined;
        this.#have = 0;
        frames++;
        this.#counters.tcpFrames++;
        sink(buf, 0, buf.length);
      }
    }
    if (frames === 0) this.#counters.tcpNeedMore++;
    return frames;
  }
}

/**
 * Feeds one in-order TCP payload segment to the flow's framer and parses every message it
 * completes into `out`, calling onMessage after each (out is reused). Never throws (unless
 * onMessage does). Returns NEED_MORE when no message completed, NOT_MINE when the framer is
 * desynchronised, otherwise the worst status among the messages (MALFORMED > NOT_MINE > OK).
 */
export function parseDnsOverTcp(
  framer: DnsTcpFramer,
  seg: Uint8Array,
  off: number,
  end: number,
  out: DnsMessageInfo,
  onMessage: (info: DnsMessageInfo, status: ParseStatus) => void,
  opts?: Omit<DnsParseOptions, 'transport'>,
): ParseStatus {
  if (framer.desynced) return ParseStatus.NOT_MINE;
  const po: DnsParseOptions = { ...opts, transport: 'tcp' };
  let worst: ParseStatus = ParseStatus.OK;
  const n = framer.push(seg, off, end, (b, o, e) => {
    const st = parseDnsMessage(b, o, e, out, po);
    if (st === ParseStatus.MALFORMED) worst = ParseStatus.MALFORMED;
    else if (st === ParseStatus.NOT_MINE && worst === ParseStatus.OK) worst = ParseStatus.NOT_MINE;
    onMessage(out, st);
  });
  return n === 0 ? ParseStatus.NEED_MORE : worst;
}
