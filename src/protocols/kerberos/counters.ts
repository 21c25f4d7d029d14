import { ParseStatus } from '../parse-status.js';
import { KerberosMessage, KrbError, KrbMsgType } from './message.js';

/** Kerberos counters (documented in README.md). */
export class KerberosCounters {
  messages = 0;
  asReq = 0; asRep = 0; tgsReq = 0; tgsRep = 0; apReq = 0; krbError = 0;
  truncated = 0; badDer = 0; badStructure = 0; badName = 0; notKerberos = 0;
  tcpRecords = 0; tcpTooLong = 0; tcpBadHeader = 0;
  logons = 0; unanswered = 0; unmatchedReplies = 0;

  count(st: ParseStatus, m: KerberosMessage): void {
    if (st === ParseStatus.NOT_MINE) { this.notKerberos++; return; }
    if (st !== ParseStatus.OK) {
      switch (m.error) {
        case KrbError.TRUNCATED: this.truncated++; break;
        case KrbError.BAD_DER: this.badDer++; break;
        case KrbError.BAD_NAME: this.badName++; break;
        default: this.badStructure++; break;
      }
      return;
    }
    this.messages++;
    switch (m.msgType) {
      case KrbMsgType.AS_REQ: this.asReq++; break;
      case KrbMsgType.AS_REP: this.asRep++; break;
      case KrbMsgType.TGS_REQ: this.tgsReq++; break;
      case KrbMsgType.TGS_REP: this.tgsRep++; break;
      case KrbMsgType.AP_REQ: this.apReq++; break;
      default: this.krbError++; break;
    }
  }

  snapshot(): Record<string, number> {
    return {
      'kerberos.messages': this.messages, 'kerberos.as_req': this.asReq, 'kerberos.as_rep': this.asRep,
      'kerberos.tgs_req': this.tgsReq, 'kerberos.tgs_rep': this.tgsRep, 'kerberos.ap_req': this.apReq,
      'kerberos.krb_error': this.krbError, 'kerberos.truncated': this.truncated, 'kerberos.bad_der': this.badDer,
      'kerberos.bad_structure': this.badStructure, 'kerberos.bad_name': this.badName,
      'kerberos.not_kerberos': this.notKerberos, 'kerberos.tcp.records': this.tcpRecords,
      'kerberos.tcp.record_too_long': this.tcpTooLong, 'kerberos.tcp.bad_header': this.tcpBadHeader,
      'kerberos.logons': this.logons, 'kerberos.unanswered': this.unanswered,
      'kerberos.unmatched_replies': this.unmatchedReplies,
    };
  }
}
