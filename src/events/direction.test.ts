/**
 * isInternalAddress (DNS Activity's direction) agrees with isInternal on flow-table words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInternal, isInternalAddress, directionOf, Direction } from './direction.js';
import { addrWords } from '../../test/support/packets.js';

const CASES: Array<[string, boolean]> = [
  ['10.1.2.3', true], ['172.16.0.1', true], ['172.32.0.1', false], ['192.168.60.1', true], ['100.64.0.1', true],
  ['169.254.1.1', true], ['224.0.0.251', true], ['8.8.8.8', false], ['203.0.113.50', false],
  ['fe80::1', true], ['fd00:abcd::53', true], ['ff02::fb', true], ['::1', true], ['2001:db8::1', false],
  ['2606:4700:4700::1111', false], ['::ffff:192.168.1.1', true], ['::ffff:8.8.8.8', false],
  ['2001:db8:0:0:0:0:0:1', false], ['fe80:0:0:0:0:0:0:1', true],
];

test('isInternalAddress agrees with isInternal on the address words', () => {
  for (const [ip, inside] of CASES) {
    const w = addrWords(ip);
    assert.equal(isInternal(ip.includes(':') ? 6 : 4, ...w), inside, `words of ${ip}`);
    assert.equal(isInternalAddress(ip), inside, ip);
  }
});

test('text that is not an address is not inside', () => {
  for (const s of ['', 'resolver', '10.0.0', '10.0.0.256', '1::2::3', 'fe80::g', '1:2:3:4:5:6:7:8:9', 'fe80:1']) assert.equal(isInternalAddress(s), false, s);
});

test('a lookup from inside to a public resolver is Outbound, to the router Lateral', () => {
  assert.equal(directionOf(isInternalAddress('192.168.1.10'), isInternalAddress('8.8.8.8')), Direction.OUTBOUND);
  assert.equal(directionOf(isInternalAddress('192.168.1.10'), isInternalAddress('192.168.1.1')), Direction.LATERAL);
});

/** The ranges as a chain of comparisons (the rule list of direction.ts), for the table to match. */
function insideByRule(version: number, w0: number, w1: number, w2: number, w3: number): boolean {
  if (version === 4) {
    const a = w3 >>> 24, b = (w3 >>> 16) & 0xff;
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)
      || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || a >= 224 || w3 === 0;
  }
  const top = w0 >>> 16;
  if ((top & 0xfe00) === 0xfc00 || (top & 0xffc0) === 0xfe80 || (top & 0xff00) === 0xff00) return true;
  if (w0 === 0 && w1 === 0 && w2 === 0 && (w3 === 1 || w3 === 0)) return true;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return insideByRule(4, 0, 0, 0, w3);
  return false;
}

test('isInternal matches the rule list on every first 16 bits, IPv4 and IPv6', () => {
  let inside4 = 0, inside6 = 0;
  for (let hi = 0; hi < 65536; hi++) {
    for (const lo of [0, 1, 0x00ff, 0xfffe, 0xffff]) {
      const w = ((hi << 16) | lo) >>> 0;
      const v4 = isInternal(4, 0, 0, 0, w);
      assert.equal(v4, insideByRule(4, 0, 0, 0, w), `IPv4 word ${w.toString(16)}`);
      assert.equal(isInternal(6, 0, 0, 0xffff, w), v4, `::ffff: word ${w.toString(16)}`);
      const v6 = isInternal(6, w, 0, 0, 1);
      assert.equal(v6, insideByRule(6, w, 0, 0, 1), `IPv6 first word ${w.toString(16)}`);
      if (lo === 0) { if (v4) inside4++; if (v6) inside6++; }
    }
  }
  // 10/8, 127/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10, 224/3 in units of /16 (+ 0.0.0.0);
  // fc00::/7, fe80::/10, ff00::/8 in units of /16 (+ ::1).
  assert.equal(inside4, 256 + 256 + 16 + 1 + 1 + 64 + 32 * 256 + 1);
  assert.equal(inside6, 512 + 64 + 256 + 1);
  for (const [w2, w3, inside] of [[0, 0, true], [0, 1, true], [0, 2, false], [1, 1, false], [0xfffe, 0x0a000001, false], [0xffff, 0, true]] as const) {
    assert.equal(isInternal(6, 0, 0, w2, w3), inside, `::${w2.toString(16)}:${w3.toString(16)}`);
  }
  assert.equal(isInternal(6, 0, 1, 0, 1), false);
});
