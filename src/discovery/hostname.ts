/**
 * Hostname normalisation for matching: case folded, trailing dots removed, IDNs converted to
 * their ASCII (punycode, RFC 3492 / UTS #46) form, so "BÜCHER.example." and
 * "xn--bcher-kva.example" are the same key. Returns undefined for what is not a DNS name
 * (empty labels, IP literals, characters WHATWG URL host parsing rejects).
 */
import { domainToASCII } from 'node:url';

const enum Scan { NAME, NOT_NAME, SLOW }

const URL_DELIMITERS = /[/?#@:\\[\]%\s]/;

/**
 * One pass over a name already in matching form: labels of 1-63 of [a-z0-9_-], neither starting
 * nor ending with '-' (RFC 1035 §2.3.1, with '_' allowed as in service names), 253 characters at
 * most. NOT_NAME when the last label is all digits: WHATWG URL host parsing ("ends in a number")
 * reads such a host as an IPv4 address, never as a name. SLOW for anything else (upper case,
 * trailing dot, non-ASCII, ...), which goes through trimming, case folding and IDN conversion.
 */
function scan(h: string): Scan {
  const n = h.length;
  if (n === 0 || n > 253) return Scan.SLOW;
  let labelStart = 0;
  let allDigits = true;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? h.charCodeAt(i) : 46;
    if (c === 46) {
      const len = i - labelStart;
      if (len === 0 || len > 63 || h.charCodeAt(labelStart) === 45 || h.charCodeAt(i - 1) === 45) return Scan.SLOW;
      if (i === n && allDigits) return Scan.NOT_NAME;
      labelStart = i + 1;
      allDigits = true;
    } else if (c >= 48 && c <= 57) {
      // a digit: the label stays all-digit
    } else if ((c >= 97 && c <= 122) || c === 45 || c === 95) {
      allDigits = false;
    } else {
      return Scan.SLOW;
    }
  }
  return Scan.NAME;
}

export function normalizeHostname(input: string): string | undefined {
  // Fast path: already lower-case ASCII without a trailing dot (most SNI values).
  const first = scan(input);
  if (first === Scan.NAME) return input;
  if (first === Scan.NOT_NAME) return undefined;
  let h = input.trim();
  while (h.endsWith('.')) h = h.slice(0, -1);
  // URL delimiters and inner white space: domainToASCII would parse such text as a URL and keep
  // only what precedes them ("a/b" → "a"); it is not a name, so nothing is matched.
  if (h.length === 0 || URL_DELIMITERS.test(h)) return undefined;
  h = h.toLowerCase();
  const second = scan(h);
  if (second === Scan.NAME) return h;
  if (second === Scan.NOT_NAME) return undefined;
  const ascii = domainToASCII(h);
  return ascii !== '' && scan(ascii) === Scan.NAME ? ascii : undefined;
}
