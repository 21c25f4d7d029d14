/**
 * RADIUS accounting (RFC 2866) as far as "which user is at which station" needs: the header
 * (§3: Code, Identifier, Length, Authenticator) and the attributes User-Name (RFC 2865 §5.1),
 * NAS-IP-Address (§5.4), Framed-IP-Address (§5.8), Called/Calling-Station-Id (§5.30, §5.31),
 * NAS-Identifier (§5.32), Acct-Status-Type (RFC 2866 §5.1), Acct-Session-Id (§5.5),
 * NAS-IPv6-Address (RFC 3162 §2.1) and Framed-IPv6-Address (RFC 6911 §3.1).
 *
 * `parseRadius(buf, offset, end, out)` is pure: reads only buf[offset, end), fills the caller's
 * reused `RadiusMessage`, never throws, no I/O. At most RADIUS_MAX_ADDRESSES framed addresses are
 * kept. `verifyAccountingRequest` checks a Request Authenticator against a shared secret (§3).
 */
import { createHash } from 'node:crypto';
import { ParseStatus } from '../parse-status.js';
import { ipv4ToString, ipv6ToString } from '../../decode/format.js';

export const RadiusCode = { ACCESS_REQUEST: 1, ACCESS_ACCEPT: 2, ACCESS_REJECT: 3, ACCOUNTING_REQUEST: 4, ACCOUNTING_RESPONSE: 5 } as const;
/** Acct-Status-Type values (RFC 2866 §5.1). */
export const AcctStatus = { START: 1, STOP: 2, INTERIM: 3, ACCOUNTING_ON: 7, ACCOUNTING_OFF: 8 } as const;
const ATTR = { USER_NAME: 1, NAS_IP: 4, FRAMED_IP: 8, CALLED_STATION: 30, CALLING_STATION: 31, NAS_ID: 32, ACCT_STATUS: 40, ACCT_SESSION: 44, NAS_IPV6: 95, FRAMED_IPV6: 168 } as const;
/** RFC 2865 §3: 20 ≤ Length ≤ 4096. */
const HEADER = 20;
const MAX_LENGTH = 4096;
export const RADIUS_MAX_ADDRESSES = 4;
export const RADIUS_MAX_TEXT = 253;

export const enum RadiusError { NONE = 0, TRUNCATED, BAD_LENGTH, BAD_ATTRIBUTE }

export class RadiusMessage {
  code = 0;
  identifier = 0;
  /** The packet's Length field (octets after it, in the datagram, are padding, §3). */
  length = 0;
  /** Acct-Status-Type; 0 when absent. */
  statusType = 0;
  userName = '';
  callingStationId = '';
  calledStationId = '';
  nasIdentifier = '';
  nasIp = '';
  sessionId = '';
  framedIps: string[] = [];
  error: RadiusError = RadiusError.NONE;
  reset(): void {
    this.code = 0; this.identifier = 0; this.length = 0; this.statusType = 0; this.userName = ''; this.callingStationId = '';
    this.calledStationId = ''; this.nasIdentifier = ''; this.nasIp = ''; this.sessionId = ''; this.framedIps = []; this.error = RadiusError.NONE;
  }
}

function bad(out: RadiusMessage, e: RadiusError): ParseStatus { out.error = e; return ParseStatus.MALFORMED; }

/** Attribute text (UTF-8 per RFC 2865 §5), control characters as '?'. */
function text(buf: Buffer, start: number, end: number): string {
  // eslint-disable-next-line no-control-regex
  return buf.toString('utf8', start, Math.min(end, start + RADIUS_MAX_TEXT)).replace(/[\u0000-\u001f\u007f]/g, '?');
}

function ipv6Text(buf: Buffer, o: number): string {
  return ipv6ToString(buf.readUInt32BE(o), buf.readUInt32BE(o + 4), buf.readUInt32BE(o + 8), buf.readUInt32BE(o + 12));
}

/**
 * Calling-Station-Id as a MAC (RFC 3580 §3.21 writes "AA-BB-CC-DD-EE-FF"; NASes also write
 * colons, dots or bare hex): lower-case colon form, or '' when it is not 12 hex digits.
 */
export function stationMac(id: string): string {
  const hex = id.replace(/[-:.\s]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) return '';
  return hex.toLowerCase().replace(/(..)(?!$)/g, '$1:');
}

/**
 * Parses one RADIUS packet buf[offset, end). NOT_MINE for codes other than accounting (4, 5) and
 * access (1-3) packets; MALFORMED (out.error) when Length or an attribute length is inconsistent.
 */
export function parseRadius(buf: Buffer, offset: number, end: number, out: RadiusMessage): ParseStatus {
  out.reset();
  const size = end - offset;
  if (size < 1) return ParseStatus.NOT_MINE;
  const code = buf[offset]!;
  if (code < RadiusCode.ACCESS_REQUEST || code > RadiusCode.ACCOUNTING_RESPONSE) return ParseStatus.NOT_MINE;
  out.code = code;
  if (size < HEADER) return bad(out, RadiusError.TRUNCATED);
  out.identifier = buf[offset + 1]!;
  const length = buf.readUInt16BE(offset + 2);
  out.length = length;
  // §3: shorter than Length is discarded; longer is padding, ignored.
  if (length < HEADER || length > MAX_LENGTH) return bad(out, RadiusError.BAD_LENGTH);
  if (length > size) return bad(out, RadiusError.TRUNCATED);
  const stop = offset + length;
  let pos = offset + HEADER;
  while (pos < stop) {
    if (pos + 2 > stop) return bad(out, RadiusError.BAD_ATTRIBUTE);
    const type = buf[pos]!, len = buf[pos + 1]!;
    if (len < 2 || pos + len > stop) return bad(out, RadiusError.BAD_ATTRIBUTE);
    const v = pos + 2, vlen = len - 2;
    switch (type) {
      case ATTR.USER_NAME: out.userName = text(buf, v, v + vlen); break;
      case ATTR.CALLING_STATION: out.callingStationId = text(buf, v, v + vlen); break;
      case ATTR.CALLED_STATION: out.calledStationId = text(buf, v, v + vlen); break;
      case ATTR.NAS_ID: out.nasIdentifier = text(buf, v, v + vlen); break;
      case ATTR.ACCT_SESSION: out.sessionId = text(buf, v, v + vlen); break;
      case ATTR.NAS_IP:
        if (vlen !== 4) return bad(out, RadiusError.BAD_ATTRIBUTE);
        out.nasIp = ipv4ToString(buf.readUInt32BE(v));
        break;
      case ATTR.NAS_IPV6:
        if (vlen !== 16) return bad(out, RadiusError.BAD_ATTRIBUTE);
        out.nasIp = ipv6Text(buf, v);
        break;
      case ATTR.FRAMED_IP:
        if (vlen !== 4) return bad(out, RadiusError.BAD_ATTRIBUTE);
        if (out.framedIps.length < RADIUS_MAX_ADDRESSES) out.framedIps.push(ipv4ToString(buf.readUInt32BE(v)));
        break;
      case ATTR.FRAMED_IPV6:
        if (vlen !== 16) return bad(out, RadiusError.BAD_ATTRIBUTE);
        if (out.framedIps.length < RADIUS_MAX_ADDRESSES) out.framedIps.push(ipv6Text(buf, v));
        break;
      case ATTR.ACCT_STATUS:
        if (vlen !== 4) return bad(out, RadiusError.BAD_ATTRIBUTE);
        out.statusType = buf.readUInt32BE(v);
        break;
    }
    pos += len;
  }
  return ParseStatus.OK;
}

/**
 * RFC 2866 §3: an Accounting-Request's Authenticator is MD5(Code + Identifier + Length + 16 zero
 * octets + request attributes + shared secret). True when the packet buf[offset, offset+Length)
 * carries that value for `secret`.
 */
export function verifyAccountingRequest(buf: Buffer, offset: number, length: number, secret: Buffer): boolean {
  if (length < HEADER || offset + length > buf.length || buf[offset] !== RadiusCode.ACCOUNTING_REQUEST) return false;
  const h = createHash('md5');
  h.update(buf.subarray(offset, offset + 4));
  h.update(Buffer.alloc(16));
  h.update(buf.subarray(offset + HEADER, offset + length));
  h.update(secret);
  return h.digest().equals(buf.subarray(offset + 4, offset + HEADER));
}

export function acctStatusKind(t: number): string {
  switch (t) {
    case AcctStatus.START: return 'start';
    case AcctStatus.STOP: return 'stop';
    case AcctStatus.INTERIM: return 'interim';
    case AcctStatus.ACCOUNTING_ON: return 'accounting-on';
    case AcctStatus.ACCOUNTING_OFF: return 'accounting-off';
    default: return 'other';
  }
}
