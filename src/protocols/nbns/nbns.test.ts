import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { NbnsMessage, NbnsCounters, NbnsError, parseNbns } from './nbns.js';
import { nbName, nbnsRegistration, nbnsQueryResponse } from '../../../test/fixtures/nbns.js';
import { mulberry32 } from '../../../test/support/prng.js';

test('registration request: question name and the NB record behind a compression pointer', () => {
  const m = new NbnsMessage();
  const b = nbnsRegistration(0x1001, 'desktop-ab12', 0x00, '10.0.0.5');
  assert.equal(parseNbns(b, 0, b.length, m), ParseStatus.OK);
  assert.equal(m.isRegistration, true);
  assert.equal(m.broadcast, true);
  assert.equal(m.qname, 'DESKTOP-AB12');
  assert.equal(m.qsuffix, 0);
  assert.deepEqual(m.records, [{ name: 'DESKTOP-AB12', suffix: 0, ttl: 300_000, group: false, addresses: ['10.0.0.5'] }]);
});

test('positive query response with a multi-homed group record', () => {
  const m = new NbnsMessage();
  const b = nbnsQueryResponse(7, 'FILESRV', 0x20, ['10.0.0.8', '192.168.1.8']);
  assert.equal(parseNbns(b, 0, b.length, m), ParseStatus.OK);
  assert.equal(m.isPositiveQueryResponse, true);
  assert.equal(m.records[0]!.suffix, 0x20);
  assert.deepEqual(m.records[0]!.addresses, ['10.0.0.8', '192.168.1.8']);
});

test('malformed input is refused and counted, never thrown', () => {
  const m = new NbnsMessage(), c = new NbnsCounters();
  const good = nbnsRegistration(1, 'HOST', 0, '10.0.0.5');
  // Layout (RFC 1002 §4.2.2): 12-byte header, 34-byte question name, QTYPE/QCLASS (46..49), a
  // 2-byte compression pointer as the record name (50..51), TYPE/CLASS/TTL/RDLENGTH (52..61),
  // NB_FLAGS and the address (62..67). A cut inside a name makes the name unreadable (BAD_NAME);
  // a cut anywhere else leaves a fixed-size field short (TRUNCATED).
  assert.equal(good.length, 68);
  for (let n = 0; n < good.length; n++) {
    const st = parseNbns(good, 0, n, m);
    c.count(st, m);
    assert.equal(st, ParseStatus.MALFORMED, `length ${n}`);
    const inName = (n >= 12 && n < 46) || (n >= 50 && n < 52);
    assert.equal(m.error, inName ? NbnsError.BAD_NAME : NbnsError.TRUNCATED, `length ${n}`);
  }
  assert.deepEqual(c.snapshot(), {
    'nbns.messages': 0, 'nbns.registrations': 0, 'nbns.query_responses': 0,
    'nbns.truncated': 12 + 4 + 16, 'nbns.bad_name': 34 + 2, 'nbns.bad_record': 0, 'nbns.not_nbns': 0,
  });
  const badName = Buffer.from(good); badName[13] = 0x7a; // not 'A'..'P'
  assert.equal(parseNbns(badName, 0, badName.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, NbnsError.BAD_NAME);
  const fwd = Buffer.from(good); fwd.writeUInt16BE(0xc000 | 200, 50); // pointer forward
  assert.equal(parseNbns(fwd, 0, fwd.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, NbnsError.BAD_NAME);
  const badOpcode = Buffer.from(good); badOpcode[2] = 0x10; // opcode 2
  assert.equal(parseNbns(badOpcode, 0, badOpcode.length, m), ParseStatus.NOT_MINE);
  // 2000 copies with 3 random bytes overwritten, from a fixed seed: every one lands in exactly
  // one counter (none throws), and the tallies are those of this seed.
  const rnd = mulberry32(0x4e424e53);
  const r = new NbnsCounters();
  let ok = 0;
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(good);
    for (let k = 0; k < 3; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const st = parseNbns(b, 0, b.length, m);
    r.count(st, m);
    if (st === ParseStatus.OK) {
      ok++;
      // RFC 1001 §14.1: 16 bytes encoded, the last the suffix, so at most 15 name characters.
      assert.ok(m.qname.length <= 15, `qname ${JSON.stringify(m.qname)}`);
      assert.ok(m.records.length <= 1, `${m.records.length} records`);
    }
  }
  assert.deepEqual(r.snapshot(), {
    'nbns.messages': 81, 'nbns.registrations': 80, 'nbns.query_responses': 0,
    'nbns.truncated': 38, 'nbns.bad_name': 1830, 'nbns.bad_record': 0, 'nbns.not_nbns': 51,
  });
  assert.equal(ok, 81);
  assert.equal(nbName('X').length, 34);
});
