/**
 * NTLMSSP messages (MS-NLMP §2.2.1): NEGOTIATE (§2.2.1.1), CHALLENGE (§2.2.1.2, with its
 * AV_PAIR list, §2.2.2.1) and AUTHENTICATE (§2.2.1.3: domain, user and workstation names).
 *
 * `parseNtlmssp(buf, offset, end, out)` is pure: it reads only buf[offset, end), fills the
 * caller's reused `NtlmMessage`, never throws and does no I/O. Every field's offset and length is
 * checked against the message; names are cut at NTLM_MAX_NAME characters and at most
 * NTLM_MAX_AV_PAIRS AV pairs are walked.
 */
import { ParseStatus } from '../parse-status.js';

/** "NTLMSSP\0" (§2.2.1). */
export const NTLMSSP_SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
export const NtlmType = { NEGOTIATE: 1, CHALLENGE: 2, AUTHENTICATE: 3 } as const;
/** NTLMSSP_NEGOTIATE_UNICODE (§2.2.2.5, flag A): names are UTF-16LE, else OEM. */
export const NTLM_FLAG_UNICODE = 0x00000001;
export const NTLM_MAX_NAME = 256;
export const NTLM_MAX_AV_PAIRS = 32;

/** AvId values (§2.2.2.1). */
export const AvId = { EOL: 0, NB_COMPUTER: 1, NB_DOMAIN: 2, DNS_COMPUTER: 3, DNS_DOMAIN: 4, DNS_TREE: 5 } as const;

export const enum NtlmError { NONE = 0, TRUNCATED, BAD_FIELD, BAD_AV_PAIRS, BAD_TYPE }

export class NtlmMessage {
  type = 0;
  flags = 0;
  /** AUTHENTICATE: the names the client sent ('' when empty: anonymous). */
  user = '';
  domain = '';
  workstation = '';
  /** AUTHENTICATE: NtChallengeResponse length (0 with an empty user: anonymous, §3.2.5.1.2). */
  ntResponseLength = 0;
  /** CHALLENGE: TargetName and the server's names from the AV pairs. */
  targetName = '';
  nbComputer = '';
  nbDomain = '';
  dnsComputer = '';
  dnsDomain = '';
  dnsTree = '';
  error: NtlmError = NtlmError.NONE;

  reset(): void {
    this.type = 0; this.flags = 0; this.user = ''; this.domain = ''; this.workstation = ''; this.ntResponseLength = 0;
    this.targetName = ''; this.nbComputer = ''; this.nbDomain = ''; this.dnsComputer = ''; this.dnsDomain = ''; this.dnsTree = '';
    this.error = NtlmError.NONE;
  }

  get anonymous(): boolean { return this.type === NtlmType.AUTHENTICATE && this.user === '' && this.ntResponseLength === 0; }
}

/** Does buf[offset, end) start with the NTLMSSP signature? */
export function isNtlmssp(buf: Uint8Array, offset: number, end: number): boolean {
  if (end - offset < 8) return false;
  for (let i = 0; i < 8; i++) if (buf[offset + i] !== NTLMSSP_SIGNATURE[i]) return false;
  return true;
}

function bad(out: NtlmMessage, e: NtlmError): ParseStatus { out.error = e; return ParseStatus.MALFORMED; }

/** Text of a field: UTF-16LE (an odd final octet dropped) or OEM read as Latin-1, control characters as '?'. */
function text(buf: Buffer, start: number, len: number, unicode: boolean): string {
  let s: string;
  if (unicode) {
    const n = Math.min(len >> 1, NTLM_MAX_NAME);
    s = buf.toString('utf16le', start, start + 2 * n);
  } else {
    s = buf.toString('latin1', start, start + Math.min(len, NTLM_MAX_NAME));
  }
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/**
 * Parses one NTLMSSP message occupying buf[offset, end). NOT_MINE without the signature,
 * MALFORMED (out.error) when a field points outside the message or a type is unknown.
 */
export function parseNtlmssp(buf: Buffer, offset: number, end: number, out: NtlmMessage): ParseStatus {
  out.reset();
  if (!isNtlmssp(buf, offset, end)) return ParseStatus.NOT_MINE;
  const size = end - offset;
  if (size < 12) return bad(out, NtlmError.TRUNCATED);
  const type = buf.readUInt32LE(offset + 8);
  out.type = type;
  /** A security buffer (len u16, maxlen u16, offset u32, §2.2.1): start of its bytes, or -1 when it points outside. */
  const field = (at: number): number => {
    const len = buf.readUInt16LE(offset + at);
    const o = buf.readUInt32LE(offset + at + 4);
    if (len === 0) return 0;
    return o + len <= size ? offset + o : -1;
  };
  const flen = (at: number): number => buf.readUInt16LE(offset + at);
  switch (type) {
    case NtlmType.NEGOTIATE:
      if (size < 16) return bad(out, NtlmError.TRUNCATED);
      out.flags = buf.readUInt32LE(offset + 12);
      return ParseStatus.OK;
    case NtlmType.CHALLENGE: {
      if (size < 32) return bad(out, NtlmError.TRUNCATED);
      out.flags = buf.readUInt32LE(offset + 20);
      const unicode = (out.flags & NTLM_FLAG_UNICODE) !== 0;
      const t = field(12);
      if (t < 0) return bad(out, NtlmError.BAD_FIELD);
      if (t > 0) out.targetName = text(buf, t, flen(12), unicode);
      // TargetInfoFields (offset 40) exist when the message is long enough (§2.2.1.2).
      if (size < 48) return ParseStatus.OK;
      const ti = field(40);
      if (ti < 0) return bad(out, NtlmError.BAD_FIELD);
      if (ti > 0 && !avPairs(buf, ti, ti + flen(40), out)) return bad(out, NtlmError.BAD_AV_PAIRS);
      return ParseStatus.OK;
    }
    case NtlmType.AUTHENTICATE: {
      if (size < 64) return bad(out, NtlmError.TRUNCATED);
      out.flags = buf.readUInt32LE(offset + 60);
      const unicode = (out.flags & NTLM_FLAG_UNICODE) !== 0;
      const nt = field(20), d = field(28), u = field(36), w = field(44);
      if (nt < 0 || d < 0 || u < 0 || w < 0) return bad(out, NtlmError.BAD_FIELD);
      out.ntResponseLength = flen(20);
      if (d > 0) out.domain = text(buf, d, flen(28), unicode);
      if (u > 0) out.user = text(buf, u, flen(36), unicode);
      if (w > 0) out.workstation = text(buf, w, flen(44), unicode);
      return ParseStatus.OK;
    }
    default:
      return bad(out, NtlmError.BAD_TYPE);
  }
}

/** AV_PAIR list (§2.2.2.1): AvId u16, AvLen u16, value; names are always UTF-16LE. False when it overruns. */
function avPairs(buf: Buffer, pos: number, end: number, out: NtlmMessage): boolean {
  for (let n = 0; n < NTLM_MAX_AV_PAIRS; n++) {
    if (pos + 4 > end) return false;
    const id = buf.readUInt16LE(pos), len = buf.readUInt16LE(pos + 2);
    pos += 4;
    if (id === AvId.EOL) return true;
    if (pos + len > end) return false;
    switch (id) {
      case AvId.NB_COMPUTER: out.nbComputer = text(buf, pos, len, true); break;
      case AvId.NB_DOMAIN: out.nbDomain = text(buf, pos, len, true); break;
      case AvId.DNS_COMPUTER: out.dnsComputer = text(buf, pos, len, true); break;
      case AvId.DNS_DOMAIN: out.dnsDomain = text(buf, pos, len, true); break;
      case AvId.DNS_TREE: out.dnsTree = text(buf, pos, len, true); break;
    }
    pos += len;
  }
  // More pairs than we walk: what was read stands.
  return true;
}
