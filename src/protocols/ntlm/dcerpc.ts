/**
 * DCE-RPC connection-oriented PDUs (C706 §12.6) as far as their authentication needs: the common
 * header (§12.6.3.1: PTYPE, frag_length, auth_length, call_id) and the auth verifier at the end of
 * the fragment (§13.2.6.1: sec_trailer of 8 octets, then auth_length octets), whose auth_type is
 * 10 NTLMSSP, 9 SPNEGO or 16 Kerberos (MS-RPCE §2.2.1.1.7). Pure, bounded, never throws.
 */
import { ParseStatus } from '../parse-status.js';

export const DcePtype = { REQUEST: 0, RESPONSE: 2, FAULT: 3, BIND: 11, BIND_ACK: 12, BIND_NAK: 13, ALTER_CONTEXT: 14, ALTER_CONTEXT_RESP: 15, AUTH3: 16 } as const;
const HEADER = 16;
const SEC_TRAILER = 8;

export class DcePdu {
  ptype = 0;
  callId = 0;
  /** fault status (C706 §12.6.4.7), or the bind_nak reject reason. */
  status = 0;
  authType = 0;
  /** The auth value: buf[authStart, authEnd); empty when the PDU has none. */
  authStart = 0;
  authEnd = 0;
  reset(): void { this.ptype = 0; this.callId = 0; this.status = 0; this.authType = 0; this.authStart = this.authEnd = 0; }
}

/** Parses one PDU buf[offset, end) (as framed by its frag_length). MALFORMED when auth_length does not fit. */
export function parseDcePdu(buf: Buffer, offset: number, end: number, out: DcePdu): ParseStatus {
  out.reset();
  const size = end - offset;
  if (size < HEADER || buf[offset] !== 5 || buf[offset + 1]! > 1) return ParseStatus.NOT_MINE;
  const le = (buf[offset + 4]! & 0x10) !== 0;
  out.ptype = buf[offset + 2]!;
  const authLength = le ? buf.readUInt16LE(offset + 10) : buf.readUInt16BE(offset + 10);
  out.callId = le ? buf.readUInt32LE(offset + 12) : buf.readUInt32BE(offset + 12);
  if (out.ptype === DcePtype.FAULT && size >= HEADER + 12) out.status = le ? buf.readUInt32LE(offset + 24) : buf.readUInt32BE(offset + 24);
  if (out.ptype === DcePtype.BIND_NAK && size >= HEADER + 2) out.status = le ? buf.readUInt16LE(offset + 16) : buf.readUInt16BE(offset + 16);
  if (authLength === 0) return ParseStatus.OK;
  const trailer = end - authLength - SEC_TRAILER;
  if (trailer < offset + HEADER) return ParseStatus.MALFORMED;
  out.authType = buf[trailer]!;
  out.authStart = trailer + SEC_TRAILER;
  out.authEnd = end;
  return ParseStatus.OK;
}
