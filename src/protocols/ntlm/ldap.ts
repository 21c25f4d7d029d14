/**
 * LDAP binds (RFC 4511 §4.2, §4.2.2) as far as the logon needs them: the messageID, a
 * BindRequest's SASL credentials (§4.2: AuthenticationChoice sasl [3], mechanism GSS-SPNEGO /
 * GSSAPI / NTLM) or the NTLMSSP of a Windows "Sicily" bind (MS-ADTS §5.1.1.1.3: choice [10]
 * sicilyNegotiate, [11] sicilyResponse), and a BindResponse's resultCode (0 success, 14 saslBindInProgress) with its
 * serverSaslCreds [7] (or, for Sicily, the CHALLENGE in matchedDN). Pure, bounded, never throws.
 */
import { ParseStatus } from '../parse-status.js';
import { DerHeader, DerResult, derUint, readDer } from '../kerberos/der.js';

export const LDAP_SUCCESS = 0;
export const LDAP_SASL_BIND_IN_PROGRESS = 14;

export class LdapBind {
  response = false;
  messageId = 0;
  /** BindResponse resultCode. */
  resultCode = 0;
  /** Credentials (request) or server credentials (response): buf[blobStart, blobEnd). */
  blobStart = 0;
  blobEnd = 0;
  reset(): void { this.response = false; this.messageId = 0; this.resultCode = 0; this.blobStart = this.blobEnd = 0; }
}

const a = new DerHeader(), b = new DerHeader(), c = new DerHeader(), d = new DerHeader();
/** The tag just read (a call, so that checks before a re-read do not narrow it). */
function tag(h: DerHeader): number { return h.tag; }

/** Result code names (RFC 4511 §4.1.9) a bind meets. */
const RESULT_NAMES: Record<number, string> = {
  0: 'success', 1: 'operationsError', 2: 'protocolError', 7: 'authMethodNotSupported', 8: 'strongerAuthRequired',
  14: 'saslBindInProgress', 48: 'inappropriateAuthentication', 49: 'invalidCredentials', 50: 'insufficientAccessRights', 53: 'unwillingToPerform',
};
export function ldapResultName(code: number): string { return RESULT_NAMES[code] ?? `ldapResult${code}`; }

/**
 * Parses one LDAPMessage buf[offset, end). NOT_MINE for operations other than BindRequest /
 * BindResponse; MALFORMED when the BER does not hold together.
 */
export function parseLdapBind(buf: Uint8Array, offset: number, end: number, out: LdapBind): ParseStatus {
  out.reset();
  if (readDer(buf, offset, end, a) !== DerResult.OK || tag(a) !== 0x30) return ParseStatus.MALFORMED;
  if (readDer(buf, a.start, a.end, b) !== DerResult.OK || tag(b) !== 0x02) return ParseStatus.MALFORMED;
  const id = derUint(buf, b.start, b.end);
  if (id < 0) return ParseStatus.MALFORMED;
  out.messageId = id;
  if (readDer(buf, b.end, a.end, b) !== DerResult.OK) return ParseStatus.MALFORMED;
  if (tag(b) === 0x60) {
    // BindRequest ::= [APPLICATION 0] SEQUENCE { version INTEGER, name LDAPDN, authentication AuthenticationChoice }
    if (readDer(buf, b.start, b.end, c) !== DerResult.OK || tag(c) !== 0x02) return ParseStatus.MALFORMED;
    if (readDer(buf, c.end, b.end, c) !== DerResult.OK || tag(c) !== 0x04) return ParseStatus.MALFORMED;
    if (readDer(buf, c.end, b.end, c) !== DerResult.OK) return ParseStatus.MALFORMED;
    if (tag(c) === 0xa3) {
      // SaslCredentials ::= SEQUENCE { mechanism LDAPString, credentials OCTET STRING OPTIONAL }
      if (readDer(buf, c.start, c.end, d) !== DerResult.OK || tag(d) !== 0x04) return ParseStatus.MALFORMED;
      if (d.end < c.end) {
        if (readDer(buf, d.end, c.end, d) !== DerResult.OK || tag(d) !== 0x04) return ParseStatus.MALFORMED;
        out.blobStart = d.start; out.blobEnd = d.end;
      }
    } else if (tag(c) === 0x8a || tag(c) === 0x8b) {
      out.blobStart = c.start; out.blobEnd = c.end;
    }
    return ParseStatus.OK;
  }
  if (tag(b) === 0x61) {
    // BindResponse ::= [APPLICATION 1] SEQUENCE { COMPONENTS OF LDAPResult, serverSaslCreds [7] OCTET STRING OPTIONAL }
    out.response = true;
    if (readDer(buf, b.start, b.end, c) !== DerResult.OK || tag(c) !== 0x0a) return ParseStatus.MALFORMED;
    const code = derUint(buf, c.start, c.end);
    if (code < 0) return ParseStatus.MALFORMED;
    out.resultCode = code;
    // matchedDN: Sicily puts the CHALLENGE here.
    if (readDer(buf, c.end, b.end, c) !== DerResult.OK || tag(c) !== 0x04) return ParseStatus.MALFORMED;
    if (c.end > c.start) { out.blobStart = c.start; out.blobEnd = c.end; }
    let pos = c.end;
    for (let n = 0; pos < b.end && n < 4; n++) {
      if (readDer(buf, pos, b.end, c) !== DerResult.OK) return ParseStatus.MALFORMED;
      if (tag(c) === 0x87) { out.blobStart = c.start; out.blobEnd = c.end; }
      pos = c.end;
    }
    return ParseStatus.OK;
  }
  return ParseStatus.NOT_MINE;
}
