/**
 * SMB session setup as far as the logon needs it: the status, the request/response pairing and
 * the security buffer of
 * - SMB2/SMB3 SESSION_SETUP (MS-SMB2 §2.2.5 request, §2.2.6 response; 64-octet header, §2.2.1:
 *   Status, Command, Flags, MessageId);
 * - SMB1 SMB_COM_SESSION_SETUP_ANDX with extended security (MS-SMB §2.2.4.6.1 request,
 *   WordCount 12; §2.2.4.6.2 response, WordCount 4; 32-octet header, MS-CIFS §2.2.3.1: Status,
 *   Flags reply bit, MID). The pre-extended-security form (WordCount 13, LM/NTLM v1 responses
 *   with names in clear) is counted, not read.
 * Pure, bounded, never throws; `Smb2SessionSetup` is reused by the caller.
 */
import { ParseStatus } from '../parse-status.js';

export const SMB2_HEADER = 64;
export const SMB2_SESSION_SETUP = 0x0001;
/** SMB2_FLAGS_SERVER_TO_REDIR (§2.2.1.1). */
const FLAG_RESPONSE = 0x00000001;
export const STATUS_SUCCESS = 0x00000000;
/** STATUS_MORE_PROCESSING_REQUIRED: an intermediate leg (the CHALLENGE), not an outcome. */
export const STATUS_MORE_PROCESSING_REQUIRED = 0xc0000016;

export const enum Smb2Error { NONE = 0, TRUNCATED, BAD_BUFFER, SMB1_NOT_EXTENDED, ENCRYPTED }

const SMB1_HEADER = 32;
const SMB1_COM_SESSION_SETUP_ANDX = 0x73;
/** SMB_FLAGS_REPLY (MS-CIFS §2.2.3.1). */
const SMB1_FLAGS_REPLY = 0x80;

export class Smb2SessionSetup {
  response = false;
  /** NT status of a response (MS-ERREF §2.3). */
  status = 0;
  /** Low 32 bits of MessageId: pairs a response with its request (§3.2.4.1.3). */
  messageId = 0;
  /** Security buffer buf[blobStart, blobEnd); empty when none (an error response has none). */
  blobStart = 0;
  blobEnd = 0;
  error: Smb2Error = Smb2Error.NONE;
  reset(): void { this.response = false; this.status = 0; this.messageId = 0; this.blobStart = this.blobEnd = 0; this.error = Smb2Error.NONE; }
}

/**
 * Parses one SMB message buf[offset, end) (a session-service record's payload). NOT_MINE for
 * commands other than session setup and for bytes that are not SMB; MALFORMED (out.error) for
 * encrypted (transform header) messages and SMB1 setups without extended security, which are not
 * read, and for buffers that point outside the message.
 */
export function parseSmb2SessionSetup(buf: Buffer, offset: number, end: number, out: Smb2SessionSetup): ParseStatus {
  out.reset();
  const size = end - offset;
  if (size < 4) return ParseStatus.NOT_MINE;
  const p0 = buf[offset]!;
  if (buf[offset + 1] !== 0x53 || buf[offset + 2] !== 0x4d || buf[offset + 3] !== 0x42) return ParseStatus.NOT_MINE;
  if (p0 === 0xff) return smb1(buf, offset, size, out);
  if (p0 === 0xfd) { out.error = Smb2Error.ENCRYPTED; return ParseStatus.MALFORMED; }
  if (p0 !== 0xfe) return ParseStatus.NOT_MINE;
  if (size < SMB2_HEADER) { out.error = Smb2Error.TRUNCATED; return ParseStatus.MALFORMED; }
  if (buf.readUInt16LE(offset + 12) !== SMB2_SESSION_SETUP) return ParseStatus.NOT_MINE;
  out.status = buf.readUInt32LE(offset + 8);
  out.response = (buf.readUInt32LE(offset + 16) & FLAG_RESPONSE) !== 0;
  out.messageId = buf.readUInt32LE(offset + 24);
  const body = offset + SMB2_HEADER;
  if (out.response) {
    // A failed session setup answers with the ERROR response (§2.2.2): no security buffer.
    if (out.status !== STATUS_SUCCESS && out.status !== STATUS_MORE_PROCESSING_REQUIRED) return ParseStatus.OK;
    if (size < SMB2_HEADER + 8) { out.error = Smb2Error.TRUNCATED; return ParseStatus.MALFORMED; }
    return blob(buf, offset, size, buf.readUInt16LE(body + 4), buf.readUInt16LE(body + 6), out);
  }
  if (size < SMB2_HEADER + 24) { out.error = Smb2Error.TRUNCATED; return ParseStatus.MALFORMED; }
  return blob(buf, offset, size, buf.readUInt16LE(body + 12), buf.readUInt16LE(body + 14), out);
}

/** SMB1 SESSION_SETUP_ANDX, extended security only (see the file comment). */
function smb1(buf: Buffer, offset: number, size: number, out: Smb2SessionSetup): ParseStatus {
  if (size < SMB1_HEADER + 1) { out.error = Smb2Error.TRUNCATED; return ParseStatus.MALFORMED; }
  if (buf[offset + 4] !== SMB1_COM_SESSION_SETUP_ANDX) return ParseStatus.NOT_MINE;
  out.status = buf.readUInt32LE(offset + 5);
  out.response = (buf[offset + 9]! & SMB1_FLAGS_REPLY) !== 0;
  out.messageId = buf.readUInt16LE(offset + 30);
  const words = buf[offset + SMB1_HEADER]!;
  const w = offset + SMB1_HEADER + 1;
  if (out.response) {
    // An error reply has WordCount 0 and no blob.
    if (words === 0) return ParseStatus.OK;
    if (words !== 4) { out.error = Smb2Error.SMB1_NOT_EXTENDED; return ParseStatus.MALFORMED; }
    if (size < SMB1_HEADER + 1 + 8 + 2) { out.error = Smb2Error.TRUNCATED; return ParseStatus.MALFORMED; }
    return blob(buf, offset, size, SMB1_HEADER + 1 + 8 + 2, buf.readUInt16LE(w + 6), out, SMB1_HEADER);
  }
  if (words !== 12) { out.error = Smb2Error.SMB1_NOT_EXTENDED; return ParseStatus.MALFORMED; }
  if (size < SMB1_HEADER + 1 + 24 + 2) { out.error = Smb2Error.TRUNCATED; return ParseStatus.MALFORMED; }
  return blob(buf, offset, size, SMB1_HEADER + 1 + 24 + 2, buf.readUInt16LE(w + 14), out, SMB1_HEADER);
}

/** SecurityBufferOffset is from the start of the SMB2 header (§2.2.5). */
function blob(buf: Buffer, offset: number, size: number, o: number, len: number, out: Smb2SessionSetup, header = SMB2_HEADER): ParseStatus {
  if (len === 0) return ParseStatus.OK;
  if (o < header || o + len > size) { out.error = Smb2Error.BAD_BUFFER; return ParseStatus.MALFORMED; }
  out.blobStart = offset + o;
  out.blobEnd = offset + o + len;
  return ParseStatus.OK;
}

/** NT status names (MS-ERREF §2.3.1) a session setup meets. */
const NT_STATUS: Record<number, string> = {
  0x00000000: 'STATUS_SUCCESS', 0xc0000016: 'STATUS_MORE_PROCESSING_REQUIRED', 0xc000006d: 'STATUS_LOGON_FAILURE',
  0xc000006e: 'STATUS_ACCOUNT_RESTRICTION', 0xc000006f: 'STATUS_INVALID_LOGON_HOURS', 0xc0000070: 'STATUS_INVALID_WORKSTATION',
  0xc0000071: 'STATUS_PASSWORD_EXPIRED', 0xc0000072: 'STATUS_ACCOUNT_DISABLED', 0xc0000064: 'STATUS_NO_SUCH_USER',
  0xc000006a: 'STATUS_WRONG_PASSWORD', 0xc0000193: 'STATUS_ACCOUNT_EXPIRED', 0xc0000224: 'STATUS_PASSWORD_MUST_CHANGE',
  0xc0000234: 'STATUS_ACCOUNT_LOCKED_OUT', 0xc0000022: 'STATUS_ACCESS_DENIED', 0xc000015b: 'STATUS_LOGON_TYPE_NOT_GRANTED',
  0xc000018b: 'STATUS_NO_TRUST_SAM_ACCOUNT', 0xc00000bb: 'STATUS_NOT_SUPPORTED', 0xc000000d: 'STATUS_INVALID_PARAMETER',
  0xc0000199: 'STATUS_NOLOGON_WORKSTATION_TRUST_ACCOUNT',
};
export function ntStatusName(s: number): string { return NT_STATUS[s >>> 0] ?? `0x${(s >>> 0).toString(16).padStart(8, '0')}`; }
