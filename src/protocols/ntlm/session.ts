/**
 * One authentication conversation over a connection (SMB2 session setup legs, HTTP
 * `Authorization` / `WWW-Authenticate` round trips): the client's blobs and the server's answers
 * are fed here in order; an AUTHENTICATE (or a Kerberos AP-REQ inside GSS-API) waits for the
 * server's outcome and becomes one `LogonSeen`. Shared by the SMB2 analyzer and the HTTP hook.
 */
import { ParseStatus } from '../parse-status.js';
import { packetEndpoint, type LogonEndpoint, type LogonSeen, type NtlmServerNames } from '../logon.js';
import type { PacketContext } from '../protocol.js';
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

export class AuthConversation {
  pending: PendingAuth | null = null;
  /** The server's names from the CHALLENGE (MS-NLMP §2.2.1.2, §2.2.2.1). */
  server: NtlmServerNames | null = null;
  /** Logons handed on for this connection. */
  logons = 0;
  /**
   * An NTLM NEGOTIATE was seen and no AUTHENTICATE has followed it yet (MS-NLMP §3.1.5.1.2: the
   * client sends the AUTHENTICATE after the server's CHALLENGE). One open exchange per
   * connection: a new NEGOTIATE or the connection's end closes it (exchangeAbandoned).
   */
  negotiated = false;
  /** The open exchange's CHALLENGE was read (its names are `server`). */
  challenged = false;
  /** Time of the open exchange's last leg (the NEGOTIATE, then the CHALLENGE), microseconds. */
  negotiatedUs = 0;
  /** The open exchange's endpoints, from the NEGOTIATE's packet (the connection may end with no packet at hand). */
  negClient: LogonEndpoint | null = null;
  negServer: LogonEndpoint | null = null;
}

// Reused parse results (single-threaded; nothing is kept across calls but copied strings).
const gss = new GssToken();
const ntlm = new NtlmMessage();
const krb = new KerberosMessage();

/**
 * A blob the client sent in packet `pc` (request key `key`). An NTLM NEGOTIATE opens an exchange
 * with the packet's endpoints (built then only: once per exchange); returns the exchange it closes
 * when that one never reached its AUTHENTICATE, else null.
 */
export function clientMessage(c: AuthConversation, buf: Buffer, start: number, end: number, key: number, pc: PacketContext, counters: NtlmCounters): LogonSeen | null {
  if (!clientBlob(c, buf, start, end, key, pc.tsUs, counters)) return null;
  return negotiateSeen(c, pc.tsUs, packetEndpoint(pc.p, pc.buf, true), packetEndpoint(pc.p, pc.buf, false), counters);
}

/** A blob the client sent (request key `key`); true when it was an NTLM NEGOTIATE. */
function clientBlob(c: AuthConversation, buf: Buffer, start: number, end: number, key: number, tsUs: number, counters: NtlmCounters): boolean {
  if (!findGssToken(buf, start, end, gss)) { counters.gssMalformed++; return false; }
  if (gss.kind === GssKind.NTLMSSP) {
    const st = parseNtlmssp(buf, gss.start, gss.end, ntlm);
    counters.count(st, ntlm);
    if (st !== ParseStatus.OK) return false;
    if (ntlm.type === NtlmType.NEGOTIATE) return true;
    if (ntlm.type !== NtlmType.AUTHENTICATE) return false;
    c.negotiated = false;
    if (c.pending !== null) counters.unanswered++;
    const sv = c.server;
    c.pending = {
      protocol: 'ntlm', user: ntlm.user, domain: ntlm.domain, workstation: ntlm.workstation,
      service: sv === null ? '' : sv.dnsComputer || sv.nbComputer || sv.target, key, tsUs,
    };
  } else if (gss.kind === GssKind.KRB5_AP_REQ) {
    const st = parseKerberos(buf, gss.start, gss.end, krb);
    if (st !== ParseStatus.OK || krb.msgType !== KrbMsgType.AP_REQ) { counters.gssKrb5Malformed++; return false; }
    counters.gssKrb5ApReq++;
    if (c.pending !== null) counters.unanswered++;
    // The client's name is in the encrypted authenticator (RFC 4120 §5.5.1): only the service is known.
    c.pending = { protocol: 'kerberos', user: '', domain: krb.srealm, workstation: '', service: krb.sname, key, tsUs };
  }
  return false;
}

/**
 * The client's NEGOTIATE (clientBlob returned true) opens an exchange. Returns the exchange it
 * closes when that one never reached its AUTHENTICATE, else null.
 */
function negotiateSeen(c: AuthConversation, tsUs: number, client: LogonEndpoint, server: LogonEndpoint, counters: NtlmCounters): LogonSeen | null {
  const previous = exchangeAbandoned(c, 'new_negotiate', counters);
  c.negotiated = true;
  c.challenged = false;
  c.negotiatedUs = tsUs;
  c.negClient = client;
  c.negServer = server;
  return previous;
}

/**
 * The open exchange ends without an AUTHENTICATE: the client negotiated with the server and
 * gave up (a failed or abandoned logon, a relay or scanner probing for the server's names).
 * Returns it as a logon of kind 'NEGOTIATE' that names no user and has no outcome, with the
 * server's names when its CHALLENGE was read; null when no exchange is open. `how` says what
 * ended it: a new NEGOTIATE on the connection, or the connection's end.
 */
export function exchangeAbandoned(c: AuthConversation, how: 'new_negotiate' | 'flow_end', counters: NtlmCounters): LogonSeen | null {
  if (!c.negotiated || c.negClient === null || c.negServer === null) return null;
  c.negotiated = false;
  counters.noAuthenticate++;
  const sv = c.challenged ? c.server : null;
  return {
    protocol: 'ntlm', kind: 'NEGOTIATE', tsUs: c.negotiatedUs, client: c.negClient, server: c.negServer,
    user: '', domain: '', workstation: '', service: sv === null ? '' : sv.dnsComputer || sv.nbComputer || sv.target,
    success: undefined, noAuthenticate: how, ...(sv !== null ? { ntlmServer: sv } : {}),
  };
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
          if (c.negotiated) { c.challenged = true; c.negotiatedUs = tsUs; }
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
    ...(q.protocol === 'ntlm' && c.server !== null ? { ntlmServer: c.server } : {}),
  };
}

/**
 * The flow's state is let go (FlowAnalyzer.end). When the flow ended, an open exchange is
 * abandoned and returned; when only its inspection stopped, whether an AUTHENTICATE followed is
 * not known: counted, nothing handed on.
 */
export function conversationEnd(c: AuthConversation, ended: boolean, counters: NtlmCounters): LogonSeen | null {
  if (ended) return exchangeAbandoned(c, 'flow_end', counters);
  if (c.negotiated) { c.negotiated = false; counters.negotiateUnfollowed++; }
  return null;
}
