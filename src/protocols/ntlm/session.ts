/**
 * One authentication conversation over a connection (SMB2 session setup legs, HTTP
 * `Authorization` / `WWW-Authenticate` round trips): the client's blobs and the server's answers
 * are fed here in order; an AUTHENTICATE (or a Kerberos AP-REQ inside GSS-API) waits for the
 * server's outcome and becomes one `LogonSeen`. Shared by the SMB2 analyzer and the HTTP hook.
 */
import { ParseStatus } from '../parse-status.js';
import type { LogonEndpoint, LogonSeen } from '../logon.js';
import { KerberosMessage, KrbMsgType, parseKerberos } from '../kerberos/message.js';
import { NtlmMessage, NtlmType, parseNtlmssp } from './ntlmssp.js';
import { GssKind, GssToken, findGssToken } from './spnego.js';
import type { NtlmCounters } from './counters.js';

interface PendingAuth {
  protocol: 'ntlm' | 'kerberos';
  user: string; domain: string; workstation: string; service: string;
  /** Pairs the answer with the request (SMB2 MessageId; 0 for HTTP). */
  key: number;
  tsUs: number;
}

/** The server's names from the CHALLENGE (MS-NLMP §2.2.1.2, §2.2.2.1). */
export interface ServerNames { nbComputer: string; nbDomain: string; dnsComputer: string; dnsDomain: string; dnsTree: string; target: string }

export class AuthConversation {
  pending: PendingAuth | null = null;
  server: ServerNames | null = null;
  /** Logons handed on for this connection. */
  logons = 0;
}

// Reused parse results (single-threaded; nothing is kept across calls but copied strings).
const gss = new GssToken();
const ntlm = new NtlmMessage();
const krb = new KerberosMessage();

/** A blob the client sent (request key `key`). */
export function clientBlob(c: AuthConversation, buf: Buffer, start: number, end: number, key: number, tsUs: number, counters: NtlmCounters): void {
  if (!findGssToken(buf, start, end, gss)) { counters.gssMalformed++; return; }
  if (gss.kind === GssKind.NTLMSSP) {
    const st = parseNtlmssp(buf, gss.start, gss.end, ntlm);
    counters.count(st, ntlm);
    if (st !== ParseStatus.OK || ntlm.type !== NtlmType.AUTHENTICATE) return;
    if (c.pending !== null) counters.unanswered++;
    const sv = c.server;
    c.pending = {
      protocol: 'ntlm', user: ntlm.user, domain: ntlm.domain, workstation: ntlm.workstation,
      service: sv === null ? '' : sv.dnsComputer || sv.nbComputer || sv.target, key, tsUs,
    };
  } else if (gss.kind === GssKind.KRB5_AP_REQ) {
    const st = parseKerberos(buf, gss.start, gss.end, krb);
    if (st !== ParseStatus.OK || krb.msgType !== KrbMsgType.AP_REQ) { counters.gssKrb5Malformed++; return; }
    counters.gssKrb5ApReq++;
    if (c.pending !== null) counters.unanswered++;
    // The client's name is in the encrypted authenticator (RFC 4120 §5.5.1): only the service is known.
    c.pending = { protocol: 'kerberos', user: '', domain: krb.srealm, workstation: '', service: krb.sname, key, tsUs };
  }
}

/**
 * The server's answer to request `key`: `status` is its NT status (SMB2) or 0 / an HTTP failure
 * code mapped by the caller; `final` false for an intermediate leg (more processing required).
 * Returns the logon it completes, or null.
 */
export function serverAnswer(
  c: AuthConversation, buf: Buffer | null, start: number, end: number, key: number, final: boolean, success: boolean,
  status: number, statusName: string, tsUs: number, client: LogonEndpoint, server: LogonEndpoint, counters: NtlmCounters,
): LogonSeen | null {
  let rejected = false;
  if (buf !== null && end > start) {
    if (!findGssToken(buf, start, end, gss)) counters.gssMalformed++;
    else {
      rejected = gss.negState === 2;
      if (gss.kind === GssKind.NTLMSSP) {
        const st = parseNtlmssp(buf, gss.start, gss.end, ntlm);
        counters.count(st, ntlm);
        if (st === ParseStatus.OK && ntlm.type === NtlmType.CHALLENGE) {
          c.server = { nbComputer: ntlm.nbComputer, nbDomain: ntlm.nbDomain, dnsComputer: ntlm.dnsComputer, dnsDomain: ntlm.dnsDomain, dnsTree: ntlm.dnsTree, target: ntlm.targetName };
        }
      }
    }
  }
  const q = c.pending;
  if (q === null || q.key !== key || !final) return null;
  c.pending = null;
  c.logons++;
  counters.logons++;
  const ok = success && !rejected;
  return {
    protocol: q.protocol, kind: q.protocol === 'ntlm' ? 'NTLM' : 'AP', tsUs, client, server,
    user: q.user, domain: q.domain, workstation: q.workstation, service: q.service, success: ok,
    ...(ok ? {} : { errorCode: status, errorName: rejected && success ? 'SPNEGO_REJECT' : statusName }),
  };
}
