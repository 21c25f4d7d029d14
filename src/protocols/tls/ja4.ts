/**
 * JA4 TLS client fingerprint (FoxIO, technical_details/JA4.md in github.com/FoxIO-LLC/ja4):
 *
 *   JA4_a = transport ('t' TCP, 'q' QUIC, 'd' DTLS) + version ("13", "12", ...; the highest
 *           non-GREASE supported_versions entry, else legacy_version) + ('d' SNI present | 'i')
 *           + 2-digit cipher count + 2-digit extension count (GREASE excluded, capped at 99)
 *           + first and last character of the first ALPN value ("00" when none)
 *   JA4_b = sha256(sorted cipher hex list joined with ",")[0..12]   ("000000000000" if empty)
 *   JA4_c = sha256(sorted extension hex list without 0000 (SNI) and 0010 (ALPN), joined with ","
 *           + "_" + signature algorithms in wire order)[0..12]      ("000000000000" if empty)
 *   JA4   = JA4_a "_" JA4_b "_" JA4_c
 *
 * GREASE values (RFC 8701) are ignored everywhere. Runs once per flow; allocation is fine here.
 */
import { createHash } from 'node:crypto';
import { ClientHello, clientHelloMaxVersion } from './client-hello.js';
import { EXT_ALPN, EXT_SERVER_NAME, isGrease } from './constants.js';

export type Ja4Transport = 't' | 'q' | 'd';

const EMPTY_HASH = '000000000000';

/** Two-character version code of the JA4 spec; "00" for unknown values. */
export function ja4Version(v: number): string {
  switch (v) {
    case 0x0304: return '13';
    case 0x0303: return '12';
    case 0x0302: return '11';
    case 0x0301: return '10';
    case 0x0300: return 's3';
    case 0x0002: return 's2';
    case 0xfeff: return 'd1';
    case 0xfefd: return 'd2';
    case 0xfefc: return 'd3';
    default: return '00';
  }
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * First and last characters of the first ALPN value; when either byte is not alphanumeric, the
 * first and last characters of its hex representation (e.g. 0x30 0xAB → "3b").
 */
export function ja4Alpn(ch: ClientHello): string {
  const first = ch.alpn[0];
  if (first === undefined || first.length === 0) return '00';
  const a = first.charCodeAt(0);
  const z = first.charCodeAt(first.length - 1);
  if (isAlnum(a) && isAlnum(z)) return first[0]! + first[first.length - 1]!;
  const hex = Buffer.from(first, 'latin1').toString('hex');
  return hex[0]! + hex[hex.length - 1]!;
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}

function two(n: number): string {
  return n > 99 ? '99' : n < 10 ? '0' + n : String(n);
}

function hash12(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

/** The three parts of JA4 before hashing (JA4_r, "raw sorted" form). */
export interface Ja4Parts {
  a: string;
  /** Sorted cipher hex list, comma-joined. */
  ciphers: string;
  /** Sorted extension hex list (no SNI/ALPN), comma-joined, then `_` + signature algorithms if any. */
  extensions: string;
}

export function ja4Parts(ch: ClientHello, transport: Ja4Transport = 't'): Ja4Parts {
  const ciphers: number[] = [];
  for (let i = 0; i < ch.cipherSuiteCount; i++) {
    const v = ch.cipherSuites[i]!;
    if (!isGrease(v)) ciphers.push(v);
  }
  let extCount = 0;
  const exts: number[] = [];
  for (let i = 0; i < ch.extensionCount; i++) {
    const v = ch.extensionTypes[i]!;
    if (isGrease(v)) continue;
    extCount++;
    if (v !== EXT_SERVER_NAME && v !== EXT_ALPN) exts.push(v);
  }
  const sigs: string[] = [];
  for (let i = 0; i < ch.signatureAlgorithmCount; i++) {
    const v = ch.signatureAlgorithms[i]!;
    if (!isGrease(v)) sigs.push(hex4(v));
  }
  ciphers.sort((x, y) => x - y);
  exts.sort((x, y) => x - y);
  const a = transport + ja4Version(clientHelloMaxVersion(ch)) + (ch.hasSni ? 'd' : 'i') +
    two(ciphers.length) + two(extCount) + ja4Alpn(ch);
  let extensions = exts.map(hex4).join(',');
  if (sigs.length > 0) extensions += '_' + sigs.join(',');
  return { a, ciphers: ciphers.map(hex4).join(','), extensions: exts.length > 0 ? extensions : '' };
}

/** JA4 fingerprint of a parsed ClientHello. */
export function ja4(ch: ClientHello, transport: Ja4Transport = 't'): string {
  const p = ja4Parts(ch, transport);
  return p.a + '_' + (p.ciphers === '' ? EMPTY_HASH : hash12(p.ciphers)) + '_' +
    (p.extensions === '' ? EMPTY_HASH : hash12(p.extensions));
}

/** JA4_r: the unhashed form, `a_ciphers_extensions[_sigalgs]`. */
export function ja4Raw(ch: ClientHello, transport: Ja4Transport = 't'): string {
  const p = ja4Parts(ch, transport);
  return p.a + '_' + p.ciphers + '_' + p.extensions;
}
