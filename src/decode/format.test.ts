/**
 * Address text forms: RFC 5952 §4 / §5 canonical IPv6 text and dotted IPv4, the same from the
 * direct-mapped caches as built afresh, whatever the cache held before (collisions overwrite).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4ToString, ipv6ToString } from './format.js';
import { mulberry32 } from '../../test/support/prng.js';

/** Deterministic 32-bit words (mulberry32's fractions are k / 2^32: exact back to k), so a failure names the same addresses every run. */
function words(seed: number): () => number {
  const rnd = mulberry32(seed);
  return () => (rnd() * 4294967296) >>> 0;
}

/** RFC 5952 text built without the module: WHATWG URL host serialisation compresses the same way (§4.2). */
function reference6(w: readonly number[]): string {
  const g: string[] = [];
  for (const x of w) g.push((x >>> 16).toString(16), (x & 0xffff).toString(16));
  return new URL(`http://[${g.join(':')}]/`).hostname.slice(1, -1);
}

test('ipv6ToString follows RFC 5952 on fixed vectors', () => {
  const cases: Array<[number[], string]> = [
    [[0, 0, 0, 0], '::'],
    [[0, 0, 0, 1], '::1'],
    [[0x20010db8, 0, 0, 1], '2001:db8::1'],
    [[0x20010db8, 0, 1, 1], '2001:db8::1:0:1'], // §4.2.3: the first of two equal zero runs
    [[0x20010db8, 0x00000001, 0x00010001, 0x00010001], '2001:db8:0:1:1:1:1:1'], // §4.2.2: one 16-bit zero is not compressed
    [[0xfe800000, 0, 0x021122ff, 0xfe334455], 'fe80::211:22ff:fe33:4455'],
    [[0, 0, 0xffff, 0xc0a80101], '::ffff:192.168.1.1'], // §5: IPv4-mapped keeps its dotted tail
  ];
  for (const [w, text] of cases) {
    assert.equal(ipv6ToString(w[0]!, w[1]!, w[2]!, w[3]!), text);
    assert.equal(ipv6ToString(w[0]!, w[1]!, w[2]!, w[3]!), text, 'second call, from the cache');
  }
});

test('cached text equals text built afresh, across collisions, for IPv4 and IPv6', () => {
  const next = words(13);
  const v4: number[] = [];
  const v6: number[][] = [];
  // Many more addresses than cache slots (4096 and 1024), with zero runs of every length.
  for (let i = 0; i < 20_000; i++) {
    v4.push(next());
    const w = [next(), next(), next(), next()];
    const zeros = next() % 8;
    for (let z = 0; z < zeros; z++) {
      const g = next() % 8;
      w[g >> 1] = (g & 1) === 0 ? w[g >> 1]! & 0xffff : w[g >> 1]! & 0xffff0000;
    }
    v6.push(w.map((x) => x >>> 0));
  }
  // Twice over: the second pass meets slots overwritten by other addresses since.
  for (let pass = 0; pass < 2; pass++) {
    for (const w of v4) {
      assert.equal(ipv4ToString(w), `${w >>> 24}.${(w >>> 16) & 0xff}.${(w >>> 8) & 0xff}.${w & 0xff}`);
    }
    for (const w of v6) {
      if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) continue; // URL writes no dotted tail (§5 case above)
      assert.equal(ipv6ToString(w[0]!, w[1]!, w[2]!, w[3]!), reference6(w), w.map((x) => x.toString(16)).join(' '));
    }
  }
  // Signed words (Int32 views) give the text of their unsigned value.
  assert.equal(ipv4ToString(-1), '255.255.255.255');
  assert.equal(ipv6ToString(-1, 0, 0, 1), 'ffff:ffff::1');
});
