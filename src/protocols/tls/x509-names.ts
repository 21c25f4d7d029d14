/**
 * Minimal, bounded DER reader (ITU-T X.690 §8.1, §10) that takes from an X.509 certificate
 * (RFC 5280 §4.1) only the subject commonName (2.5.4.3) and the subjectAltName (2.5.29.17,
 * RFC 5280 §4.2.1.6) dNSName entries. It follows a fixed path through the structure (no
 * recursion), checks every length against its enclosing element, and never throws.
 *
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 *   TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
 *                                 subject, subjectPublicKeyInfo, [1] [2] OPTIONAL, [3] extensions }
 */
import { ParseStatus } from '../parse-status.js';
import { MAX_CERTIFICATE_NAMES, MAX_HOST_NAME_LENGTH } from './constants.js';

const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_OID = 0x06;
const TAG_BOOLEAN = 0x01;
const TAG_OCTET_STRING = 0x04;
const TAG_EXPLICIT_0 = 0xa0;
const TAG_EXPLICIT_3 = 0xa3;
/** GeneralName dNSName [2] IMPLICIT IA5String (RFC 5280 §4.2.1.6). */
const TAG_DNS_NAME = 0x82;
/** Loop bound for elements of one SEQUENCE / SET we walk. */
const MAX_ELEMENTS = 4096;

/** One DER TLV header: tag, and content `[start, end)`. */
class Tlv {
  tag = 0;
  start = 0;
  end = 0;
}

/** The tag as a plain number (defeats narrowing across readTlv calls that change it). */
function tagOf(t: Tlv): number {
  return t.tag;
}

/** Reads the TLV at `b[p, e)`; false when it is malformed or runs past `e`. */
function readTlv(b: Buffer, p: number, e: number, t: Tlv): boolean {
  if (e - p < 2) return false;
  const tag = b[p]!;
  // High tag numbers (low bits 11111) do not occur on the path we read: treat as malformed.
  if ((tag & 0x1f) === 0x1f) return false;
  let len = b[p + 1]!;
  p += 2;
  if (len >= 0x80) {
    const n = len & 0x7f;
    // Indefinite length (0x80) is not DER (X.690 §10.1); more than 3 length bytes is absurd here.
    if (n === 0 || n > 3 || e - p < n) return false;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | b[p + i]!;
    p += n;
  }
  if (len > e - p) return false;
  t.tag = tag;
  t.start = p;
  t.end = p + len;
  return true;
}

/** Reusable result. */
export class CertificateNames {
  /** Subject commonName ('' when absent or not a readable string). */
  subjectCN = '';
  /** subjectAltName dNSName entries, lowercase, wire order. */
  readonly dnsNames: string[] = [];
  /** Names dropped: over MAX_CERTIFICATE_NAMES, too long, or not printable ASCII. */
  dropped = 0;
  /** The certificate's total DER length (from its outer SEQUENCE). */
  derLength = 0;

  reset(): void {
    this.subjectCN = '';
    this.dnsNames.length = 0;
    this.dropped = 0;
    this.derLength = 0;
  }
}

// Scratch TLVs (the reader is synchronous, so module-level scratch is safe).
const tCert = new Tlv();
const tTbs = new Tlv();
const tEl = new Tlv();
const tA = new Tlv();
const tB = new Tlv();
const tC = new Tlv();

/** OID 2.5.4.3 (id-at-commonName) content bytes. */
function isCnOid(b: Buffer, t: Tlv): boolean {
  return t.end - t.start === 3 && b[t.start] === 0x55 && b[t.start + 1] === 0x04 && b[t.start + 2] === 0x03;
}

/** OID 2.5.29.17 (id-ce-subjectAltName) content bytes. */
function isSanOid(b: Buffer, t: Tlv): boolean {
  return t.end - t.start === 3 && b[t.start] === 0x55 && b[t.start + 1] === 0x1d && b[t.start + 2] === 0x11;
}

/**
 * Parses the certificate DER in `buf[off, end)`. OK (names possibly empty) or MALFORMED; never
 * NEED_MORE: the caller passes the whole certificate.
 */
export function parseCertificateNames(buf: Buffer, off: number, end: number, out: CertificateNames): ParseStatus {
  out.reset();
  if (!readTlv(buf, off, end, tCert) || tCert.tag !== TAG_SEQUENCE) return ParseStatus.MALFORMED;
  out.derLength = tCert.end - off;
  if (!readTlv(buf, tCert.start, tCert.end, tTbs) || tTbs.tag !== TAG_SEQUENCE) return ParseStatus.MALFORMED;
  let p = tTbs.start;
  const e = tTbs.end;
  if (!readTlv(buf, p, e, tEl)) return ParseStatus.MALFORMED;
  if (tEl.tag === TAG_EXPLICIT_0) { // version
    p = tEl.end;
    if (!readTlv(buf, p, e, tEl)) return ParseStatus.MALFORMED;
  }
  // serialNumber, signature, issuer, validity: skip four elements.
  for (let i = 0; i < 4; i++) {
    p = tEl.end;
    if (!readTlv(buf, p, e, tEl)) return ParseStatus.MALFORMED;
  }
  // tEl is now the subject Name.
  if (tEl.tag !== TAG_SEQUENCE) return ParseStatus.MALFORMED;
  if (!readSubjectCn(buf, tEl.start, tEl.end, out)) return ParseStatus.MALFORMED;
  p = tEl.end;
  if (!readTlv(buf, p, e, tEl) || tEl.tag !== TAG_SEQUENCE) return ParseStatus.MALFORMED; // subjectPublicKeyInfo
  p = tEl.end;
  for (let i = 0; i < 3 && p < e; i++) { // [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions
    if (!readTlv(buf, p, e, tEl)) return ParseStatus.MALFORMED;
    p = tEl.end;
    if (tagOf(tEl) === TAG_EXPLICIT_3) {
      if (!readTlv(buf, tEl.start, tEl.end, tA) || tA.tag !== TAG_SEQUENCE) return ParseStatus.MALFORMED;
      if (!readExtensions(buf, tA.start, tA.end, out)) return ParseStatus.MALFORMED;
    }
  }
  return ParseStatus.OK;
}

/** Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue). */
function readSubjectCn(b: Buffer, p: number, e: number, out: CertificateNames): boolean {
  for (let i = 0; p < e; i++) {
    if (i >= MAX_ELEMENTS || !readTlv(b, p, e, tA) || tA.tag !== TAG_SET) return false;
    p = tA.end;
    let q = tA.start;
    for (let j = 0; q < tA.end; j++) {
      if (j >= MAX_ELEMENTS || !readTlv(b, q, tA.end, tB) || tB.tag !== TAG_SEQUENCE) return false;
      q = tB.end;
      if (!readTlv(b, tB.start, tB.end, tC) || tC.tag !== TAG_OID) return false;
      const isCn = isCnOid(b, tC);
      if (!readTlv(b, tC.end, tB.end, tC)) return false;
      if (isCn && out.subjectCN === '') {
        const s = decodeString(b, tC);
        if (s === null) out.dropped++;
        else out.subjectCN = s;
      }
    }
  }
  return true;
}

/** Extensions ::= SEQUENCE OF Extension { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function readExtensions(b: Buffer, p: number, e: number, out: CertificateNames): boolean {
  for (let i = 0; p < e; i++) {
    if (i >= MAX_ELEMENTS || !readTlv(b, p, e, tB) || tB.tag !== TAG_SEQUENCE) return false;
    p = tB.end;
    if (!readTlv(b, tB.start, tB.end, tC) || tC.tag !== TAG_OID) return false;
    const san = isSanOid(b, tC);
    if (!readTlv(b, tC.end, tB.end, tC)) return false;
    if (tagOf(tC) === TAG_BOOLEAN && !readTlv(b, tC.end, tB.end, tC)) return false;
    if (tagOf(tC) !== TAG_OCTET_STRING) return false;
    if (san && !readSan(b, tC.start, tC.end, out)) return false;
  }
  return true;
}

/** SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName. */
function readSan(b: Buffer, p: number, e: number, out: CertificateNames): boolean {
  if (!readTlv(b, p, e, tA) || tA.tag !== TAG_SEQUENCE) return false;
  let q = tA.start;
  for (let i = 0; q < tA.end; i++) {
    if (i >= MAX_ELEMENTS || !readTlv(b, q, tA.end, tEl)) return false;
    q = tEl.end;
    if (tEl.tag !== TAG_DNS_NAME) continue;
    const n = tEl.end - tEl.start;
    if (n === 0 || n > MAX_HOST_NAME_LENGTH || out.dnsNames.length >= MAX_CERTIFICATE_NAMES || !printable(b, tEl.start, tEl.end)) {
      out.dropped++;
      continue;
    }
    out.dnsNames.push(b.toString('latin1', tEl.start, tEl.end).toLowerCase());
  }
  return true;
}

function printable(b: Buffer, p: number, e: number): boolean {
  for (let q = p; q < e; q++) {
    const c = b[q]!;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * DirectoryString (RFC 5280 §4.1.2.4): UTF8String, PrintableString, TeletexString, IA5String,
 * BMPString. Returns null for other types, over-long values or control characters.
 */
function decodeString(b: Buffer, t: Tlv): string | null {
  const n = t.end - t.start;
  if (n > MAX_HOST_NAME_LENGTH * 2) return null;
  let s: string;
  switch (t.tag) {
    case 0x0c: s = b.toString('utf8', t.start, t.end); break; // UTF8String
    case 0x13: case 0x14: case 0x16: s = b.toString('latin1', t.start, t.end); break;
    case 0x1e: { // BMPString: UCS-2 big-endian
      if ((n & 1) !== 0) return null;
      s = '';
      for (let q = t.start; q < t.end; q += 2) s += String.fromCharCode((b[q]! << 8) | b[q + 1]!);
      break;
    }
    default: return null;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return null;
  }
  return s;
}
