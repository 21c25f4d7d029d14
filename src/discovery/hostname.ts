/**
 * Hostname normalisation for matching: case folded, trailing dots removed, IDNs converted to
 * their ASCII (punycode, RFC 3492 / UTS #46) form, so "BÜCHER.example." and
 * "xn--bcher-kva.example" are the same key. Returns undefined for what is not a DNS name
 * (empty labels, IP literals, characters WHATWG URL host parsing rejects).
 */
import { domainToASCII } from 'node:url';
import { isIP } from 'node:net';

const ASCII_NAME = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

export function normalizeHostname(input: string): string | undefined {
  let h = input;
  // Fast path: already lower-case ASCII without a trailing dot (most SNI values).
  if (!ASCII_NAME.test(h)) {
    h = h.trim();
    while (h.endsWith('.')) h = h.slice(0, -1);
    if (h.length === 0) return undefined;
    h = h.toLowerCase();
    if (!ASCII_NAME.test(h)) {
      if (h.startsWith('[') || isIP(h) !== 0) return undefined;
      const ascii = domainToASCII(h);
      if (ascii === '' || !ASCII_NAME.test(ascii)) return undefined;
      h = ascii;
    }
  }
  if (h.length > 253 || isIP(h) !== 0) return undefined;
  return h;
}
