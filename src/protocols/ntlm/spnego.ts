/**
 * Finds the mechanism token inside a security blob as SMB2 SESSION_SETUP and HTTP `Negotiate`
 * carry it: a bare NTLMSSP message, a GSS-API InitialContextToken (RFC 2743 §3.1) holding SPNEGO
 * (RFC 4178 §4.2: NegTokenInit's mechToken, NegTokenResp's responseToken and negState) or the
 * Kerberos mechanism (RFC 4121 §4.1: TOK_ID 01 00 then an AP-REQ). Pure, bounded (one SPNEGO
 * level, then the mechanism token), never throws; `GssToken` is reused by the caller.
 */
import { DerHeader, DerResult, readDer } from '../kerberos/der.js';
import { isNtlmssp } from './ntlmssp.js';

export const enum GssKind { NONE = 0, NTLMSSP = 1, KRB5_AP_REQ = 2 }
export const enum GssError { NONE = 0, BAD_DER, BAD_STRUCTURE }

export class GssToken {
  kind: GssKind = GssKind.NONE;
  /** The mechanism token: buf[start, end). */
  start = 0;
  end = 0;
  /** NegTokenResp negState (0 accept-completed, 1 accept-incomplete, 2 reject, 3 request-mic); -1 absent. */
  negState = -1;
  error: GssError = GssError.NONE;
  reset(): void { this.kind = GssKind.NONE; this.start = this.end = 0; this.negState = -1; this.error = GssError.NONE; }
}

const SPNEGO_OID = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
const KRB5_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/** The OID Windows sends for Kerberos (1.2.840.48018.1.2.2). */
const MS_KRB5_OID = [0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];

const a = new DerHeader(), b = new DerHeader(), c = new DerHeader(), d = new DerHeader();

function oidIs(buf: Uint8Array, h: DerHeader, oid: readonly number[]): boolean {
  if (h.tag !== 0x06 || h.end - h.start !== oid.length) return false;
  for (let i = 0; i < oid.length; i++) if (buf[h.start + i] !== oid[i]) return false;
  return true;
}

/**
 * Fills `out` from the blob buf[start, end). Returns false (out.error) when the blob is GSS-API or
 * SPNEGO but its encoding is broken; true otherwise (out.kind NONE when no token we read is in it).
 */
export function findGssToken(buf: Uint8Array, start: number, end: number, out: GssToken): boolean {
  out.reset();
  if (isNtlmssp(buf, start, end)) { out.kind = GssKind.NTLMSSP; out.start = start; out.end = end; return true; }
  if (start >= end) return true;
  const t = buf[start]!;
  if (t === 0x60) {
    if (readDer(buf, start, end, a) !== DerResult.OK) return err(out, GssError.BAD_DER);
    if (readDer(buf, a.start, a.end, b) !== DerResult.OK) return err(out, GssError.BAD_DER);
    if (oidIs(buf, b, SPNEGO_OID)) return negotiation(buf, b.end, a.end, out);
    if (oidIs(buf, b, KRB5_OID) || oidIs(buf, b, MS_KRB5_OID)) return krb5(buf, b.end, a.end, out);
    return true;
  }
  // A NegTokenResp (or a NegTokenInit without the GSS-API header, as later legs send it).
  if (t === 0xa0 || t === 0xa1) return negotiation(buf, start, end, out);
  return true;
}

function err(out: GssToken, e: GssError): boolean { out.error = e; return false; }

/** NegotiationToken ::= CHOICE { negTokenInit [0], negTokenResp [1] } (RFC 4178 §4.2). */
function negotiation(buf: Uint8Array, start: number, end: number, out: GssToken): boolean {
  if (readDer(buf, start, end, a) !== DerResult.OK) return err(out, GssError.BAD_DER);
  if (a.tag !== 0xa0 && a.tag !== 0xa1) return err(out, GssError.BAD_STRUCTURE);
  const init = a.tag === 0xa0;
  if (readDer(buf, a.start, a.end, b) !== DerResult.OK || b.tag !== 0x30) return err(out, GssError.BAD_STRUCTURE);
  let pos = b.start;
  const stop = b.end;
  for (let n = 0; pos < stop && n < 8; n++) {
    if (readDer(buf, pos, stop, c) !== DerResult.OK || c.cls !== 0x80) return err(out, GssError.BAD_STRUCTURE);
    if (readDer(buf, c.start, c.end, d) !== DerResult.OK) return err(out, GssError.BAD_DER);
    if (!init && c.num === 0 && d.tag === 0x0a && d.end - d.start === 1) out.negState = buf[d.start]!;
    // mechToken [2] (init) / responseToken [2] (resp): OCTET STRING.
    if (c.num === 2) {
      if (d.tag !== 0x04) return err(out, GssError.BAD_STRUCTURE);
      if (isNtlmssp(buf, d.start, d.end)) { out.kind = GssKind.NTLMSSP; out.start = d.start; out.end = d.end; }
      // Some clients (Windows LDAP) put a bare AP-REQ ([APPLICATION 14]) in the mechToken.
      else if (buf[d.start] === 0x6e) { out.kind = GssKind.KRB5_AP_REQ; out.start = d.start; out.end = d.end; }
      else if (buf[d.start] === 0x60) {
        const s = d.start, e = d.end;
        if (readDer(buf, s, e, a) === DerResult.OK && readDer(buf, a.start, a.end, b) === DerResult.OK &&
          (oidIs(buf, b, KRB5_OID) || oidIs(buf, b, MS_KRB5_OID))) {
          const negState = out.negState;
          krb5(buf, b.end, a.end, out);
          out.negState = negState;
        }
      }
    }
    pos = c.end;
  }
  return true;
}

/** RFC 4121 §4.1: TOK_ID 01 00 is an AP-REQ (AP-REP, 02 00, and KRB-ERROR, 03 00, are not read). */
function krb5(buf: Uint8Array, start: number, end: number, out: GssToken): boolean {
  if (end - start >= 3 && buf[start] === 0x01 && buf[start + 1] === 0x00) {
    out.kind = GssKind.KRB5_AP_REQ; out.start = start + 2; out.end = end;
  }
  return true;
}
