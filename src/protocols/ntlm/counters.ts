import { ParseStatus } from '../parse-status.js';
import { NtlmError, NtlmMessage, NtlmType } from './ntlmssp.js';
import { Smb2Error, Smb2SessionSetup } from './smb2.js';

/** NTLMSSP, SPNEGO and SMB2 session-setup counters (documented in README.md). */
export class NtlmCounters {
  messages = 0; negotiate = 0; challenge = 0; authenticate = 0; anonymous = 0;
  truncated = 0; badField = 0; badAvPairs = 0; badType = 0;
  gssMalformed = 0; gssKrb5ApReq = 0; gssKrb5Malformed = 0;
  smbSessionSetups = 0; smbTruncated = 0; smbBadBuffer = 0; smb1NotExtended = 0; smbEncrypted = 0;
  tcpTooLong = 0; tcpBadHeader = 0;
  httpHeaders = 0; httpBadBase64 = 0;
  ldapBinds = 0; ldapMalformed = 0; dcePdus = 0; dceMalformed = 0;
  logons = 0; unanswered = 0;
  /** NTLM exchanges closed without an AUTHENTICATE (handed on as kind 'NEGOTIATE'). */
  noAuthenticate = 0;
  /** Flows whose inspection stopped with an exchange open: whether an AUTHENTICATE followed is not known (no event). */
  negotiateUnfollowed = 0;

  count(st: ParseStatus, m: NtlmMessage): void {
    if (st === ParseStatus.NOT_MINE) return;
    if (st !== ParseStatus.OK) {
      switch (m.error) {
        case NtlmError.TRUNCATED: this.truncated++; break;
        case NtlmError.BAD_FIELD: this.badField++; break;
        case NtlmError.BAD_AV_PAIRS: this.badAvPairs++; break;
        default: this.badType++; break;
      }
      return;
    }
    this.messages++;
    if (m.type === NtlmType.NEGOTIATE) this.negotiate++;
    else if (m.type === NtlmType.CHALLENGE) this.challenge++;
    else { this.authenticate++; if (m.anonymous) this.anonymous++; }
  }

  countSmb2(st: ParseStatus, s: Smb2SessionSetup): void {
    if (st === ParseStatus.OK) { this.smbSessionSetups++; return; }
    if (st !== ParseStatus.MALFORMED) return;
    switch (s.error) {
      case Smb2Error.SMB1_NOT_EXTENDED: this.smb1NotExtended++; break;
      case Smb2Error.ENCRYPTED: this.smbEncrypted++; break;
      case Smb2Error.BAD_BUFFER: this.smbBadBuffer++; break;
      default: this.smbTruncated++; break;
    }
  }

  snapshot(): Record<string, number> {
    return {
      'ntlm.messages': this.messages, 'ntlm.negotiate': this.negotiate, 'ntlm.challenge': this.challenge,
      'ntlm.authenticate': this.authenticate, 'ntlm.anonymous': this.anonymous, 'ntlm.truncated': this.truncated,
      'ntlm.bad_field': this.badField, 'ntlm.bad_av_pairs': this.badAvPairs, 'ntlm.bad_type': this.badType,
      'ntlm.gss.malformed': this.gssMalformed, 'ntlm.gss.krb5_ap_req': this.gssKrb5ApReq,
      'ntlm.gss.krb5_malformed': this.gssKrb5Malformed,
      'ntlm.smb.session_setups': this.smbSessionSetups, 'ntlm.smb.truncated': this.smbTruncated,
      'ntlm.smb.bad_buffer': this.smbBadBuffer, 'ntlm.smb1.not_extended': this.smb1NotExtended, 'ntlm.smb.encrypted': this.smbEncrypted,
      'ntlm.tcp.record_too_long': this.tcpTooLong, 'ntlm.tcp.bad_header': this.tcpBadHeader,
      'ntlm.http.headers': this.httpHeaders, 'ntlm.http.bad_base64': this.httpBadBase64,
      'ntlm.ldap.binds': this.ldapBinds, 'ntlm.ldap.malformed': this.ldapMalformed,
      'ntlm.dcerpc.pdus': this.dcePdus, 'ntlm.dcerpc.malformed': this.dceMalformed,
      'ntlm.logons': this.logons, 'ntlm.unanswered': this.unanswered,
      'ntlm.no_authenticate': this.noAuthenticate, 'ntlm.negotiate_unfollowed': this.negotiateUnfollowed,
    };
  }
}
