/**
 * A logon attempt seen on the wire (Kerberos, NTLMSSP, RADIUS accounting), as the flow analyzers
 * of src/protocols/kerberos, ntlm and radius hand it on. One record per attempt whose outcome
 * was seen (the server's answer), plus RADIUS accounting requests whatever their answer.
 * Allocated once per attempt, never per packet.
 */
import type { DecodedPacket } from '../decode/decoder.js';
import { ipv4ToString, ipv6ToString } from '../decode/format.js';
import { macAt } from './dhcp/fields.js';

export type LogonProtocol = 'kerberos' | 'ntlm' | 'radius';

export interface LogonEndpoint { ip: string; port: number; mac?: string }

/**
 * The server's names from an NTLM CHALLENGE (MS-NLMP §2.2.1.2 TargetName; AV pairs §2.2.2.1:
 * MsvAvNbComputerName, MsvAvNbDomainName, MsvAvDnsComputerName, MsvAvDnsDomainName,
 * MsvAvDnsTreeName); '' where absent.
 */
export interface NtlmServerNames { nbComputer: string; nbDomain: string; dnsComputer: string; dnsDomain: string; dnsTree: string; target: string }

export interface LogonSeen {
  protocol: LogonProtocol;
  /**
   * What was exchanged: Kerberos 'AS' | 'TGS' | 'AP' (a service ticket presented inside
   * GSS-API; the client name is encrypted there), NTLM 'NTLM', RADIUS 'start' | 'interim' |
   * 'stop' | 'accounting-on' | 'accounting-off' | 'other', and NTLM 'NEGOTIATE': an exchange
   * that ended without an AUTHENTICATE (no user, no outcome; never binds).
   */
  kind: string;
  /** Time of the answer (or of the request when none was seen), microseconds. */
  tsUs: number;
  /** The logon's client (sent the request) and server (KDC, SMB/HTTP server, accounting server). */
  client: LogonEndpoint;
  server: LogonEndpoint;
  /** User name as written on the wire ('' when none: anonymous NTLM, AP-REQ). */
  user: string;
  /** Kerberos realm or NTLM domain ('' when none). */
  domain: string;
  /** NTLM workstation name; RADIUS Calling-Station-Id (the station's MAC as the NAS wrote it). */
  workstation: string;
  /** Kerberos service principal ("krbtgt/REALM", "cifs/host"); NTLM: the server's NetBIOS or DNS name. */
  service: string;
  /**
   * true: the server answered success (AS-REP/TGS-REP, NT status 0, Accounting-Response);
   * false: it answered failure (KRB-ERROR, an NT error status); undefined: no answer seen.
   */
  success: boolean | undefined;
  /** KRB-ERROR error-code (RFC 4120 §7.5.9) or NT status (MS-ERREF §2.3), when a failure. */
  errorCode?: number;
  /** Name of errorCode ('KDC_ERR_PREAUTH_FAILED', 'STATUS_LOGON_FAILURE' ...). */
  errorName?: string;
  /** Kerberos: encryption types the client offered (req-body etype), in its order. */
  etypes?: number[];
  /** Kerberos: the requested ticket end time (req-body till, RFC 4120 §5.4.1), ISO 8601. */
  till?: string;
  /** RADIUS: Framed-IP-Address / Framed-IPv6-Address (RFC 2865 §5.8, RFC 6911 §3.1) of the station. */
  framedIp?: string[];
  /** RADIUS: NAS-Identifier or NAS-IP-Address (RFC 2865 §5.32, §5.4). */
  nas?: string;
  /** RADIUS: the NAS that sent the accounting request (the packet's source). */
  relay?: LogonEndpoint;
  /** RADIUS: Acct-Session-Id (RFC 2866 §5.5). */
  sessionId?: string;
  /**
   * RADIUS: the Accounting-Request as sent (a copy, its Length octets), so that whoever knows
   * the NAS's shared secret can check its Request Authenticator (RFC 2866 §3).
   */
  request?: Buffer;
  /** NTLM: the server's names from the CHALLENGE of the exchange, when one was read. */
  ntlmServer?: NtlmServerNames;
  /** NTLM kind 'NEGOTIATE': what closed the exchange without an AUTHENTICATE. */
  noAuthenticate?: 'new_negotiate' | 'flow_end';
  /** The uid of this attempt's Authentication (3002) event (set by the sensor before handing it on). */
  uid?: string;
}

export type LogonCallback = (m: LogonSeen) => void;

/** The packet's source (or destination) as a logon endpoint, with its MAC when the frame has one. */
export function packetEndpoint(p: DecodedPacket, buf: Buffer, source: boolean): LogonEndpoint {
  const ip = p.ipVersion === 4
    ? ipv4ToString(source ? p.src3 : p.dst3)
    : source ? ipv6ToString(p.src0, p.src1, p.src2, p.src3) : ipv6ToString(p.dst0, p.dst1, p.dst2, p.dst3);
  const macOffset = source ? p.srcMacOffset : p.dstMacOffset;
  const port = source ? p.srcPort : p.dstPort;
  return macOffset >= 0 ? { ip, port, mac: macAt(buf, macOffset) } : { ip, port };
}
