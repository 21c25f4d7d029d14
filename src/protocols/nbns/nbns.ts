/**
 * NetBIOS name service (UDP 137, RFC 1002 §4.2), as far as host names and address bindings need
 * it: the header (§4.2.1.1), the first question name (§4.2.1.2, first-level encoded per
 * RFC 1001 §14.1) and the NB resource records (§4.2.1.3, RDATA = NB_FLAGS + NB_ADDRESS, 6 octets
 * each) of the answer and additional sections. Used for NAME REGISTRATION / REFRESH requests
 * (the name and address in the additional record, §4.2.2, §4.2.4) and positive NAME QUERY
 * responses (§4.2.13).
 *
 * A small pure parser: no allocation beyond the result's strings, never throws, no clock or I/O.
 * The result object is owned by the caller and reused (every parse starts with reset()).
 */
import { ParseStatus } from '../parse-status.js';

export const NBNS_PORT = 137;
const HEADER_BYTES = 12;
/** First-level encoded NetBIOS name: 16 octets → 32 half-octet characters 'A'..'P'. */
const ENCODED_NAME_BYTES = 32;
export const NB_TYPE = 0x0020;
export const NBSTAT_TYPE = 0x0021;
const CLASS_IN = 0x0001;
/** At most this many NB records (answer + additional) are walked; the rest counted. */
export const NBNS_MAX_RECORDS = 8;
/** At most this many addresses per record are kept (multi-homed, §4.2.13). */
export const NBNS_MAX_ADDRESSES = 8;

/** OPCODE values (RFC 1002 §4.2.1.1; 9 is the refresh opcode Windows uses, RFC 1002 errata). */
export const NbnsOpcode = { QUERY: 0, REGISTRATION: 5, RELEASE: 6, WACK: 7, REFRESH: 8, REFRESH_ALT: 9, MULTIHOMED_REGISTRATION: 15 } as const;

export const enum NbnsError { NONE = 0, TRUNCATED, BAD_NAME, BAD_RECORD }

export interface NbRecord {
  /** Decoded NetBIOS name (first 15 octets, trailing spaces removed). */
  name: string;
  /** The 16th octet: 0x00 workstation, 0x20 file server, 0x1c domain controllers, ... */
  suffix: number;
  ttl: number;
  /** Group name (NB_FLAGS G bit, §4.2.1.3). */
  group: boolean;
  /** NB_ADDRESS values, dotted quad. */
  addresses: string[];
}

export class NbnsMessage {
  id = 0;
  /** R bit: false = request, true = response. */
  response = false;
  opcode = 0;
  /** NM_FLAGS: AA, TC, RD, RA, B (broadcast). */
  broadcast = false;
  rcode = 0;
  qdCount = 0;
  anCount = 0;
  arCount = 0;
  /** First question's name and suffix ('' when there is no question). */
  qname = '';
  qsuffix = 0;
  qtype = 0;
  /** NB records of the answer and additional sections. */
  records: NbRecord[] = [];
  /** NB records not walked (over NBNS_MAX_RECORDS) plus records of other types. */
  recordsSkipped = 0;
  error: NbnsError = NbnsError.NONE;

  reset(): void {
    this.id = 0; this.response = false; this.opcode = 0; this.broadcast = false; this.rcode = 0;
    this.qdCount = this.anCount = this.arCount = 0;
    this.qname = ''; this.qsuffix = 0; this.qtype = 0;
    this.records = []; this.recordsSkipped = 0; this.error = NbnsError.NONE;
  }

  /** A registration, refresh or multi-homed registration request (§4.2.2, §4.2.4, §4.2.5). */
  get isRegistration(): boolean {
    const o = this.opcode;
    return !this.response && (o === NbnsOpcode.REGISTRATION || o === NbnsOpcode.REFRESH || o === NbnsOpcode.REFRESH_ALT || o === NbnsOpcode.MULTIHOMED_REGISTRATION);
  }

  /** A positive name query response (§4.2.13). */
  get isPositiveQueryResponse(): boolean { return this.response && this.opcode === NbnsOpcode.QUERY && this.rcode === 0 && this.anCount > 0; }
}

let nameOut = '';
let suffixOut = 0;

/**
 * Reads a first-level encoded name at b[p] (label of 32 octets, optional scope labels, root),
 * or a compression pointer to one (§4.1.4 of RFC 1035 as used by RFC 1002 §4.2.1.3). Returns
 * the offset after the name, or -1. Sets nameOut/suffixOut.
 */
function readNbName(b: Uint8Array, p: number, end: number, msgStart: number, depth = 0): number {
  if (p >= end) return -1;
  const l = b[p]!;
  if ((l & 0xc0) === 0xc0) {
    if (p + 1 >= end || depth > 0) return -1;
    const target = msgStart + (((l & 0x3f) << 8) | b[p + 1]!);
    if (target >= p) return -1;
    return readNbName(b, target, end, msgStart, depth + 1) < 0 ? -1 : p + 2;
  }
  if (l !== ENCODED_NAME_BYTES || p + 1 + ENCODED_NAME_BYTES > end) return -1;
  let s = '';
  let suffix = 0;
  for (let i = 0; i < 16; i++) {
    const hi = b[p + 1 + 2 * i]! - 0x41, lo = b[p + 2 + 2 * i]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return -1;
    const c = (hi << 4) | lo;
    if (i === 15) suffix = c; else s += String.fromCharCode(c);
  }
  // Scope id labels (RFC 1001 §14.2) are skipped.
  let q = p + 1 + ENCODED_NAME_BYTES;
  for (let n = 0; ; n++) {
    if (q >= end || n > 64) return -1;
    const sl = b[q]!;
    if (sl === 0) { q++; break; }
    if ((sl & 0xc0) !== 0) return -1;
    q += 1 + sl;
  }
  nameOut = s.replace(/ +$/, '');
  suffixOut = suffix;
  return q;
}

/** Parses an NBNS message in b[off, end) into out. */
export function parseNbns(b: Uint8Array, off: number, end: number, out: NbnsMessage): ParseStatus {
  out.reset();
  if (off < 0 || end > b.length || end - off < HEADER_BYTES) { out.error = NbnsError.TRUNCATED; return ParseStatus.MALFORMED; }
  const u16 = (p: number): number => (b[p]! << 8) | b[p + 1]!;
  out.id = u16(off);
  const flags = u16(off + 2);
  out.response = (flags & 0x8000) !== 0;
  out.opcode = (flags >> 11) & 0xf;
  out.broadcast = (flags & 0x0010) !== 0;
  out.rcode = flags & 0xf;
  out.qdCount = u16(off + 4);
  out.anCount = u16(off + 6);
  const nsCount = u16(off + 8);
  out.arCount = u16(off + 10);
  const o = out.opcode;
  if (o !== 0 && (o < 5 || o > 9) && o !== 15) { out.error = NbnsError.BAD_RECORD; return ParseStatus.NOT_MINE; }
  let p = off + HEADER_BYTES;
  for (let i = 0; i < out.qdCount; i++) {
    const q = readNbName(b, p, end, off);
    if (q < 0 || q + 4 > end) { out.error = q < 0 ? NbnsError.BAD_NAME : NbnsError.TRUNCATED; return ParseStatus.MALFORMED; }
    if (i === 0) { out.qname = nameOut; out.qsuffix = suffixOut; out.qtype = u16(q); }
    p = q + 4;
  }
  const total = out.anCount + nsCount + out.arCount;
  for (let i = 0; i < total; i++) {
    const q = readNbName(b, p, end, off);
    if (q < 0) { out.error = NbnsError.BAD_NAME; return ParseStatus.MALFORMED; }
    if (q + 10 > end) { out.error = NbnsError.TRUNCATED; return ParseStatus.MALFORMED; }
    const type = u16(q), klass = u16(q + 2);
    const ttl = ((b[q + 4]! << 24) | (b[q + 5]! << 16) | (b[q + 6]! << 8) | b[q + 7]!) >>> 0;
    const rdlen = u16(q + 8);
    const rd = q + 10;
    if (rd + rdlen > end) { out.error = NbnsError.TRUNCATED; return ParseStatus.MALFORMED; }
    const inAuthority = i >= out.anCount && i < out.anCount + nsCount;
    if (type === NB_TYPE && klass === CLASS_IN && !inAuthority && out.records.length < NBNS_MAX_RECORDS) {
      if (rdlen % 6 !== 0) { out.error = NbnsError.BAD_RECORD; return ParseStatus.MALFORMED; }
      const addresses: string[] = [];
      let group = false;
      for (let a = rd; a < rd + rdlen; a += 6) {
        if (a === rd) group = (b[a]! & 0x80) !== 0;
        if (addresses.length < NBNS_MAX_ADDRESSES) addresses.push(`${b[a + 2]!}.${b[a + 3]!}.${b[a + 4]!}.${b[a + 5]!}`);
      }
      out.records.push({ name: nameOut, suffix: suffixOut, ttl, group, addresses });
    } else {
      out.recordsSkipped++;
    }
    p = rd + rdlen;
  }
  return ParseStatus.OK;
}

/** NBNS counters with stable dotted names. */
export class NbnsCounters {
  messages = 0;
  registrations = 0;
  queryResponses = 0;
  truncated = 0;
  badName = 0;
  badRecord = 0;
  notNbns = 0;

  count(st: ParseStatus, m: NbnsMessage): void {
    if (st === ParseStatus.NOT_MINE) { this.notNbns++; return; }
    if (st !== ParseStatus.OK) {
      if (m.error === NbnsError.TRUNCATED) this.truncated++;
      else if (m.error === NbnsError.BAD_NAME) this.badName++;
      else this.badRecord++;
      return;
    }
    this.messages++;
    if (m.isRegistration) this.registrations++;
    else if (m.isPositiveQueryResponse) this.queryResponses++;
  }

  snapshot(): Record<string, number> {
    return {
      'nbns.messages': this.messages, 'nbns.registrations': this.registrations,
      'nbns.query_responses': this.queryResponses, 'nbns.truncated': this.truncated,
      'nbns.bad_name': this.badName, 'nbns.bad_record': this.badRecord, 'nbns.not_nbns': this.notNbns,
    };
  }
}
