/**
 * Kerberos V5 messages (RFC 4120 §5), read as far as "who logged on to what" needs:
 * AS-REQ / TGS-REQ (§5.4.1: cname, realm, sname, till, etype), AS-REP / TGS-REP (§5.4.2: crealm,
 * cname, the ticket's sname and the ticket's enc-part etype), KRB-ERROR (§5.9.1: error-code,
 * crealm, cname, realm, sname) and AP-REQ (§5.5.1: the ticket's realm and sname only; the client
 * name is inside the encrypted authenticator).
 *
 * `parseKerberos(buf, offset, end, out)` is pure: it reads only buf[offset, end), fills the
 * caller's reused `KerberosMessage`, never throws and does no I/O. Nesting is walked to a fixed
 * depth (the structures above are at most 6 levels deep) and every count is bounded.
 */
import { ParseStatus } from '../parse-status.js';
import { DerHeader, DerResult, readDer, derInt32, derText, DER_APPLICATION, DER_CONTEXT } from './der.js';

/** Application tags (RFC 4120 §5.10). */
export const KrbMsgType = { AS_REQ: 10, AS_REP: 11, TGS_REQ: 12, TGS_REP: 13, AP_REQ: 14, AP_REP: 15, KRB_ERROR: 30 } as const;

/** At most this many name-string components are kept per PrincipalName (RFC 4120 §5.2.2). */
export const KRB_MAX_NAME_PARTS = 8;
/** Name components and realms are cut at this many octets. */
export const KRB_MAX_STRING = 255;
/** At most this many etype values of a request are kept (§5.4.1). */
export const KRB_MAX_ETYPES = 16;

export const enum KrbError { NONE = 0, TRUNCATED, BAD_DER, BAD_STRUCTURE, BAD_NAME }

export class KerberosMessage {
  /** Application tag number (KrbMsgType); 0 until known. */
  msgType = 0;
  /** Client realm (req-body realm for requests; crealm for replies and errors). */
  crealm = '';
  /** Client principal, components joined by '/' ('' when absent). */
  cname = '';
  /** Server realm (requests: the req-body realm; replies: the ticket's realm; KRB-ERROR: realm). */
  srealm = '';
  /** Service principal, components joined by '/'. */
  sname = '';
  /** KRB-ERROR error-code; -1 otherwise. */
  errorCode = -1;
  /** Request till (KerberosTime, "YYYYMMDDHHMMSSZ"), '' when absent. */
  till = '';
  /** Requested etypes (requests), in the client's order. */
  etypes: number[] = [];
  /** Replies: the ticket enc-part etype; -1 otherwise. */
  ticketEtype = -1;
  error: KrbError = KrbError.NONE;

  reset(): void {
    this.msgType = 0; this.crealm = ''; this.cname = ''; this.srealm = ''; this.sname = '';
    this.errorCode = -1; this.till = ''; this.etypes = []; this.ticketEtype = -1; this.error = KrbError.NONE;
  }

  get isRequest(): boolean { return this.msgType === KrbMsgType.AS_REQ || this.msgType === KrbMsgType.TGS_REQ; }
  get isReply(): boolean { return this.msgType === KrbMsgType.AS_REP || this.msgType === KrbMsgType.TGS_REP; }
}

// Scratch headers, one per nesting level, shared by every parse (no allocation per message).
const H: DerHeader[] = Array.from({ length: 12 }, () => new DerHeader());

function fail(out: KerberosMessage, r: DerResult | KrbError): ParseStatus {
  if (r === DerResult.TRUNCATED) { out.error = KrbError.TRUNCATED; return ParseStatus.MALFORMED; }
  out.error = r === DerResult.BAD ? KrbError.BAD_DER : (r as KrbError);
  return ParseStatus.MALFORMED;
}

/** Does `buf[offset]` start a Kerberos message we read (application tag, constructed)? */
export function kerberosTag(b: number): number {
  if ((b & 0xe0) !== 0x60) return 0;
  const n = b & 0x1f;
  return n === KrbMsgType.AS_REQ || n === KrbMsgType.AS_REP || n === KrbMsgType.TGS_REQ || n === KrbMsgType.TGS_REP ||
    n === KrbMsgType.AP_REQ || n === KrbMsgType.KRB_ERROR ? n : 0;
}

/**
 * Parses one Kerberos message occupying buf[offset, end) (a UDP datagram, a TCP record, or the
 * inner token of a GSS-API wrapper). NOT_MINE when the first octet is not an application tag
 * this parser reads (AP-REP and KRB-PRIV/SAFE/CRED included); MALFORMED (out.error) otherwise
 * when lengths or fields disagree.
 */
export function parseKerberos(buf: Uint8Array, offset: number, end: number, out: KerberosMessage): ParseStatus {
  out.reset();
  if (offset >= end) return ParseStatus.NOT_MINE;
  const type = kerberosTag(buf[offset]!);
  if (type === 0) return ParseStatus.NOT_MINE;
  const app = H[0]!;
  let r = readDer(buf, offset, end, app);
  if (r !== DerResult.OK) return fail(out, r);
  if (app.cls !== DER_APPLICATION || app.num !== type) return fail(out, KrbError.BAD_STRUCTURE);
  out.msgType = type;
  const seq = H[1]!;
  r = readDer(buf, app.start, app.end, seq);
  if (r !== DerResult.OK) return fail(out, r);
  if (seq.tag !== 0x30) return fail(out, KrbError.BAD_STRUCTURE);
  let e: KrbError;
  switch (type) {
    case KrbMsgType.AS_REQ: case KrbMsgType.TGS_REQ: e = kdcReq(buf, seq.start, seq.end, out); break;
    case KrbMsgType.AS_REP: case KrbMsgType.TGS_REP: e = kdcRep(buf, seq.start, seq.end, out); break;
    case KrbMsgType.KRB_ERROR: e = krbError(buf, seq.start, seq.end, out); break;
    default: e = apReq(buf, seq.start, seq.end, out); break;
  }
  if (e !== KrbError.NONE) return fail(out, e);
  return ParseStatus.OK;
}

/** Walks the [n] EXPLICIT fields of a SEQUENCE at `depth`, calling `field` with the inner TLV. */
function fields(buf: Uint8Array, start: number, end: number, depth: number, field: (n: number, inner: DerHeader) => KrbError): KrbError {
  const tag = H[depth]!, inner = H[depth + 1]!;
  let pos = start;
  let last = -1;
  while (pos < end) {
    const r = readDer(buf, pos, end, tag);
    if (r !== DerResult.OK) return r === DerResult.TRUNCATED ? KrbError.TRUNCATED : KrbError.BAD_DER;
    // Context tags, constructed, in increasing order (DER of a SEQUENCE with EXPLICIT tags).
    if (tag.cls !== DER_CONTEXT || !tag.constructed || tag.num <= last) return KrbError.BAD_STRUCTURE;
    last = tag.num;
    const r2 = readDer(buf, tag.start, tag.end, inner);
    if (r2 !== DerResult.OK || inner.end !== tag.end) return r2 === DerResult.BAD ? KrbError.BAD_DER : KrbError.BAD_STRUCTURE;
    // Nested walks reuse deeper scratch headers: keep what this level needs in locals.
    const next = tag.end;
    const e = field(tag.num, inner);
    if (e !== KrbError.NONE) return e;
    pos = next;
  }
  return KrbError.NONE;
}

function int32(buf: Uint8Array, h: DerHeader): number {
  return h.tag === 0x02 ? derInt32(buf, h.start, h.end) : NaN;
}

/** KerberosString / Realm (GeneralString, §5.2.1); undefined when the tag is wrong. */
function str(buf: Uint8Array, h: DerHeader): string | undefined {
  return h.tag === 0x1b ? derText(buf, h.start, h.end, KRB_MAX_STRING) : undefined;
}

/** PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF KerberosString } (§5.2.2). */
function principal(buf: Uint8Array, h: DerHeader, depth: number): string | undefined {
  if (h.tag !== 0x30 || depth + 3 >= H.length) return undefined;
  let name: string | undefined;
  const e = fields(buf, h.start, h.end, depth, (n, inner) => {
    if (n === 0) return Number.isNaN(int32(buf, inner)) ? KrbError.BAD_NAME : KrbError.NONE;
    if (n !== 1) return KrbError.NONE;
    if (inner.tag !== 0x30) return KrbError.BAD_NAME;
    const part = H[depth + 2]!;
    let pos = inner.start, count = 0;
    name = '';
    while (pos < inner.end) {
      const r = readDer(buf, pos, inner.end, part);
      if (r !== DerResult.OK || part.tag !== 0x1b) return KrbError.BAD_NAME;
      if (count < KRB_MAX_NAME_PARTS) name += (count === 0 ? '' : '/') + derText(buf, part.start, part.end, KRB_MAX_STRING);
      count++;
      pos = part.end;
    }
    return KrbError.NONE;
  });
  return e === KrbError.NONE && name !== undefined ? name : undefined;
}

/** EncryptedData ::= SEQUENCE { etype [0] Int32, kvno [1] UInt32 OPTIONAL, cipher [2] OCTET STRING } (§5.2.9): the etype. */
function encryptedEtype(buf: Uint8Array, h: DerHeader, depth: number): number {
  if (h.tag !== 0x30) return NaN;
  let etype = NaN;
  const e = fields(buf, h.start, h.end, depth, (n, inner) => {
    if (n === 0) etype = int32(buf, inner);
    return KrbError.NONE;
  });
  return e === KrbError.NONE ? etype : NaN;
}

/** Ticket ::= [APPLICATION 1] SEQUENCE { tkt-vno [0], realm [1], sname [2], enc-part [3] } (§5.3). */
function ticket(buf: Uint8Array, h: DerHeader, depth: number, out: KerberosMessage): KrbError {
  if (h.tag !== 0x61) return KrbError.BAD_STRUCTURE;
  const seq = H[depth]!;
  const r = readDer(buf, h.start, h.end, seq);
  if (r !== DerResult.OK || seq.tag !== 0x30) return KrbError.BAD_STRUCTURE;
  return fields(buf, seq.start, seq.end, depth, (n, inner) => {
    if (n === 1) { const s = str(buf, inner); if (s === undefined) return KrbError.BAD_NAME; out.srealm = s; }
    else if (n === 2) { const s = principal(buf, inner, depth + 2); if (s === undefined) return KrbError.BAD_NAME; out.sname = s; }
    else if (n === 3) out.ticketEtype = encryptedEtype(buf, inner, depth + 2);
    return KrbError.NONE;
  });
}

/** KDC-REQ ::= SEQUENCE { pvno [1], msg-type [2], padata [3] OPTIONAL, req-body [4] KDC-REQ-BODY } (§5.4.1). */
function kdcReq(buf: Uint8Array, start: number, end: number, out: KerberosMessage): KrbError {
  let body = false;
  const e = fields(buf, start, end, 2, (n, inner) => {
    if (n === 2) return int32(buf, inner) === out.msgType ? KrbError.NONE : KrbError.BAD_STRUCTURE;
    if (n !== 4) return KrbError.NONE;
    if (inner.tag !== 0x30) return KrbError.BAD_STRUCTURE;
    body = true;
    return fields(buf, inner.start, inner.end, 4, (m, v) => {
      switch (m) {
        case 1: { const s = principal(buf, v, 6); if (s === undefined) return KrbError.BAD_NAME; out.cname = s; break; }
        case 2: { const s = str(buf, v); if (s === undefined) return KrbError.BAD_NAME; out.crealm = out.srealm = s; break; }
        case 3: { const s = principal(buf, v, 6); if (s === undefined) return KrbError.BAD_NAME; out.sname = s; break; }
        case 5: if (v.tag === 0x18) out.till = derText(buf, v.start, v.end, 32); break;
        case 8: {
          if (v.tag !== 0x30) return KrbError.BAD_STRUCTURE;
          const x = H[6]!; // v is H[5]; H[6] is free
          let pos = v.start;
          while (pos < v.end) {
            if (readDer(buf, pos, v.end, x) !== DerResult.OK) return KrbError.BAD_STRUCTURE;
            const et = int32(buf, x);
            if (Number.isNaN(et)) return KrbError.BAD_STRUCTURE;
            if (out.etypes.length < KRB_MAX_ETYPES) out.etypes.push(et);
            pos = x.end;
          }
          break;
        }
      }
      return KrbError.NONE;
    });
  });
  if (e !== KrbError.NONE) return e;
  return body ? KrbError.NONE : KrbError.BAD_STRUCTURE;
}

/** KDC-REP ::= SEQUENCE { pvno [0], msg-type [1], padata [2], crealm [3], cname [4], ticket [5], enc-part [6] } (§5.4.2). */
function kdcRep(buf: Uint8Array, start: number, end: number, out: KerberosMessage): KrbError {
  let seen = 0;
  const e = fields(buf, start, end, 2, (n, inner) => {
    if (n === 1) return int32(buf, inner) === out.msgType ? KrbError.NONE : KrbError.BAD_STRUCTURE;
    if (n === 3) { const s = str(buf, inner); if (s === undefined) return KrbError.BAD_NAME; out.crealm = s; seen |= 1; }
    else if (n === 4) { const s = principal(buf, inner, 4); if (s === undefined) return KrbError.BAD_NAME; out.cname = s; seen |= 2; }
    else if (n === 5) { const t = ticket(buf, inner, 3, out); if (t !== KrbError.NONE) return t; seen |= 4; }
    return KrbError.NONE;
  });
  if (e !== KrbError.NONE) return e;
  return seen === 7 ? KrbError.NONE : KrbError.BAD_STRUCTURE;
}

/** KRB-ERROR ::= SEQUENCE { ..., error-code [6] Int32, crealm [7], cname [8], realm [9], sname [10], ... } (§5.9.1). */
function krbError(buf: Uint8Array, start: number, end: number, out: KerberosMessage): KrbError {
  const e = fields(buf, start, end, 2, (n, inner) => {
    switch (n) {
      case 1: return int32(buf, inner) === out.msgType ? KrbError.NONE : KrbError.BAD_STRUCTURE;
      case 6: { const c = int32(buf, inner); if (Number.isNaN(c)) return KrbError.BAD_STRUCTURE; out.errorCode = c; break; }
      case 7: { const s = str(buf, inner); if (s === undefined) return KrbError.BAD_NAME; out.crealm = s; break; }
      case 8: { const s = principal(buf, inner, 4); if (s === undefined) return KrbError.BAD_NAME; out.cname = s; break; }
      case 9: { const s = str(buf, inner); if (s === undefined) return KrbError.BAD_NAME; out.srealm = s; break; }
      case 10: { const s = principal(buf, inner, 4); if (s === undefined) return KrbError.BAD_NAME; out.sname = s; break; }
    }
    return KrbError.NONE;
  });
  if (e !== KrbError.NONE) return e;
  return out.errorCode >= 0 ? KrbError.NONE : KrbError.BAD_STRUCTURE;
}

/** AP-REQ ::= SEQUENCE { pvno [0], msg-type [1], ap-options [2], ticket [3], authenticator [4] } (§5.5.1). */
function apReq(buf: Uint8Array, start: number, end: number, out: KerberosMessage): KrbError {
  let seen = false;
  const e = fields(buf, start, end, 2, (n, inner) => {
    if (n === 1) return int32(buf, inner) === out.msgType ? KrbError.NONE : KrbError.BAD_STRUCTURE;
    if (n === 3) { seen = true; return ticket(buf, inner, 3, out); }
    return KrbError.NONE;
  });
  if (e !== KrbError.NONE) return e;
  return seen ? KrbError.NONE : KrbError.BAD_STRUCTURE;
}

/** Error names (RFC 4120 §7.5.9) for the codes a logon meets. */
const ERROR_NAMES: Record<number, string> = {
  0: 'KDC_ERR_NONE', 1: 'KDC_ERR_NAME_EXP', 6: 'KDC_ERR_C_PRINCIPAL_UNKNOWN', 7: 'KDC_ERR_S_PRINCIPAL_UNKNOWN',
  12: 'KDC_ERR_POLICY', 13: 'KDC_ERR_BADOPTION', 14: 'KDC_ERR_ETYPE_NOSUPP', 18: 'KDC_ERR_CLIENT_REVOKED', 23: 'KDC_ERR_KEY_EXPIRED',
  24: 'KDC_ERR_PREAUTH_FAILED', 25: 'KDC_ERR_PREAUTH_REQUIRED', 31: 'KRB_AP_ERR_BAD_INTEGRITY',
  32: 'KRB_AP_ERR_TKT_EXPIRED', 37: 'KRB_AP_ERR_SKEW', 41: 'KRB_AP_ERR_MODIFIED', 52: 'KRB_ERR_RESPONSE_TOO_BIG',
  60: 'KRB_ERR_GENERIC', 68: 'KDC_ERR_WRONG_REALM',
};
export function krbErrorName(code: number): string { return ERROR_NAMES[code] ?? `KRB_ERROR_${code}`; }
