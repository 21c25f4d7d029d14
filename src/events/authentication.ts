/**
 * OCSF 1.8.0 Authentication (class_uid 3002, category 3 Identity & Access Management) events, one
 * per logon attempt seen on the wire (`LogonSeen`, src/protocols/logon.ts): a Kerberos AS or TGS
 * exchange or an AP-REQ, an NTLMSSP logon, a RADIUS accounting request.
 *
 * - activity_id: Kerberos AS → 3 Authentication Ticket, TGS → 4 Service Ticket Request; NTLM and
 *   a Kerberos AP-REQ → 1 Logon; RADIUS start → 1 Logon, stop → 2 Logoff, others → 99 Other.
 * - auth_protocol_id: 1 NTLM, 2 Kerberos, 10 RADIUS (dictionary auth_protocol_id).
 * - status_id: 1 Success, 2 Failure (status_code / status_detail: the KRB-ERROR name and code or
 *   the NT status), 0 Unknown when no answer was seen. An NTLM exchange that ended without an
 *   AUTHENTICATE (kind 'NEGOTIATE': the client negotiated, maybe got the server's CHALLENGE, and
 *   gave up) is 99 Other, status 'No AUTHENTICATE', status_detail saying what ended it: not
 *   Unknown, whose meaning is "the outcome was not seen", since here it is known that no
 *   credentials were presented; not Failure, since the server refused nothing. The OCSF
 *   dictionary's status_id 99 is for a status the source defines in `status`.
 * - NTLM: the server's names from the CHALLENGE (MS-NLMP §2.2.2.1 AV pairs, as Zeek's ntlm.log
 *   server_* fields) in unmapped.ntlm_server_* (nb_computer_name, nb_domain_name,
 *   dns_computer_name, dns_domain_name, dns_tree_name), those present.
 * - user: name and domain as written on the wire; uid is the user principal name where the wire
 *   gives one (a Kerberos principal in its realm, an NTLM or RADIUS name written user@domain);
 *   machine accounts (NAME$) are type System.
 * - src_endpoint is the logon's client (its MAC; the NTLM workstation name as hostname),
 *   dst_endpoint the server (KDC, SMB server, RADIUS accounting server).
 */
import { randomEventUid } from './event-uid.js';
import { OCSF_VERSION, PRODUCT, type OcsfEventBase, type OcsfMetadata, type OcsfUser } from './ocsf.js';
import type { LogonEndpoint, LogonSeen } from '../protocols/logon.js';

export interface AuthEndpoint { ip?: string; port?: number; mac?: string; hostname?: string }

export interface AuthenticationEvent extends OcsfEventBase {
  class_uid: 3002;
  class_name: 'Authentication';
  category_uid: 3;
  category_name: 'Identity & Access Management';
  metadata: OcsfMetadata & { uid: string; log_name: string };
  user: OcsfUser;
  auth_protocol_id: number;
  auth_protocol: string;
  status_id: number;
  status: string;
  status_code?: string;
  status_detail?: string;
  service?: { name: string };
  src_endpoint?: AuthEndpoint;
  dst_endpoint?: AuthEndpoint;
  is_remote?: boolean;
}

const PROTOCOL_IDS = { ntlm: 1, kerberos: 2, radius: 10 } as const;
const PROTOCOL_NAMES = { ntlm: 'NTLM', kerberos: 'Kerberos', radius: 'RADIUS' } as const;
const ACTIVITY_NAMES: Record<number, string> = { 1: 'Logon', 2: 'Logoff', 3: 'Authentication Ticket', 4: 'Service Ticket Request', 99: 'Other' };

function activityOf(l: LogonSeen): number {
  switch (l.kind) {
    case 'AS': return 3;
    case 'TGS': return 4;
    case 'AP': case 'NTLM': case 'NEGOTIATE': case 'start': return 1;
    case 'stop': return 2;
    default: return 99;
  }
}

/** A machine account: a NetBIOS computer name with the trailing '$' (MS-ADTS §6.4; also in Kerberos principals). */
export function isMachineAccount(user: string): boolean { return /^[^/@\\]+\$(@.*)?$/.test(user); }

/**
 * The user principal name a logon gives, or undefined: a Kerberos single-component principal in
 * its realm (name@REALM, RFC 4120 §6.2), or a name already written as user@domain.
 */
export function logonUpn(l: LogonSeen): string | undefined {
  if (l.user === '') return undefined;
  if (/^[^@\s]+@[^@\s]+$/.test(l.user)) return l.user;
  if (l.protocol === 'kerberos' && l.domain !== '' && !l.user.includes('/')) return `${l.user}@${l.domain}`;
  return undefined;
}

function endpoint(e: LogonEndpoint, hostname?: string): AuthEndpoint | undefined {
  const o: AuthEndpoint = {};
  if (e.ip !== '') o.ip = e.ip;
  if (e.port !== 0) o.port = e.port;
  if (e.mac !== undefined) o.mac = e.mac;
  if (hostname !== undefined && hostname !== '') o.hostname = hostname;
  return o.ip !== undefined || o.mac !== undefined || o.hostname !== undefined ? o : undefined;
}

export function buildAuthenticationEvent(l: LogonSeen): AuthenticationEvent {
  const activity = activityOf(l);
  const activityName = ACTIVITY_NAMES[activity] ?? 'Other';
  const noAuthenticate = l.kind === 'NEGOTIATE';
  const status = noAuthenticate ? 99 : l.success === true ? 1 : l.success === false ? 2 : 0;
  const user: OcsfUser = { name: l.user };
  if (l.domain !== '') user.domain = l.domain;
  const upn = logonUpn(l);
  if (upn !== undefined) user.uid = upn;
  if (isMachineAccount(l.user)) { user.type_id = 3; user.type = 'System'; }
  const ev: AuthenticationEvent = {
    activity_id: activity,
    activity_name: activityName,
    category_uid: 3,
    category_name: 'Identity & Access Management',
    class_uid: 3002,
    class_name: 'Authentication',
    type_uid: 300200 + activity,
    type_name: `Authentication: ${activityName}`,
    severity_id: 1,
    severity: 'Informational',
    time: Math.floor(l.tsUs / 1000),
    metadata: { version: OCSF_VERSION, product: PRODUCT, uid: l.uid ?? randomEventUid(), log_name: l.protocol },
    user,
    auth_protocol_id: PROTOCOL_IDS[l.protocol],
    auth_protocol: PROTOCOL_NAMES[l.protocol],
    status_id: status,
    status: status === 1 ? 'Success' : status === 2 ? 'Failure' : status === 99 ? 'No AUTHENTICATE' : 'Unknown',
  };
  if (noAuthenticate) {
    ev.status_detail = `NTLM NEGOTIATE${l.ntlmServer !== undefined ? ' and CHALLENGE' : ''} without an AUTHENTICATE: ${l.noAuthenticate === 'new_negotiate' ? 'a new NEGOTIATE followed' : 'the connection ended'}`;
  }
  if (l.errorName !== undefined) {
    ev.status_code = l.errorName;
    ev.status_detail = l.protocol === 'kerberos' && !l.errorName.startsWith('HTTP_') ? `${l.errorName} (${l.errorCode ?? ''})`
      // NTLM / Negotiate over HTTP fail with a status code (401, 403), not an NT status.
      : l.errorName.startsWith('HTTP_') ? `${l.errorName} (HTTP status ${l.errorCode ?? ''})`
        : `${l.errorName} (0x${((l.errorCode ?? 0) >>> 0).toString(16).padStart(8, '0')})`;
  }
  if (l.service !== '') ev.service = { name: l.service };
  // The NTLM workstation name is the client's NetBIOS name (MS-NLMP §2.2.1.3).
  const src = endpoint(l.client, l.protocol === 'ntlm' ? l.workstation : undefined);
  if (src !== undefined) ev.src_endpoint = src;
  const dst = endpoint(l.server);
  if (dst !== undefined) ev.dst_endpoint = dst;
  const unmapped: Record<string, unknown> = { logon_kind: l.kind };
  if (l.etypes !== undefined) unmapped.kerberos_etypes = l.etypes;
  if (l.till !== undefined) unmapped.kerberos_till = l.till;
  const sv = l.ntlmServer;
  if (sv !== undefined) {
    if (sv.nbComputer !== '') unmapped.ntlm_server_nb_computer_name = sv.nbComputer;
    if (sv.nbDomain !== '') unmapped.ntlm_server_nb_domain_name = sv.nbDomain;
    if (sv.dnsComputer !== '') unmapped.ntlm_server_dns_computer_name = sv.dnsComputer;
    if (sv.dnsDomain !== '') unmapped.ntlm_server_dns_domain_name = sv.dnsDomain;
    if (sv.dnsTree !== '') unmapped.ntlm_server_dns_tree_name = sv.dnsTree;
  }
  if (l.protocol === 'radius') {
    if (l.workstation !== '') unmapped.radius_calling_station_id = l.workstation;
    if (l.service !== '') unmapped.radius_called_station_id = l.service;
    if (l.nas !== undefined && l.nas !== '') unmapped.radius_nas = l.nas;
    if (l.framedIp !== undefined && l.framedIp.length > 0) unmapped.radius_framed_ips = l.framedIp;
    if (l.sessionId !== undefined) unmapped.radius_session_id = l.sessionId;
    if (l.relay !== undefined) unmapped.radius_nas_ip = l.relay.ip;
  }
  ev.unmapped = unmapped;
  return ev;
}
