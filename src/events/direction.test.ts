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
