import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { NbnsMessage, NbnsCounters, NbnsError, parseNbns } from './nbns.js';
import { nbName, nbnsRegistration, nbnsQueryResponse } from '../../../test/fixtures/nbns.js';

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
  for (let n = 0; n < good.length; n++) {
    const st = parseNbns(good, 0, n, m);
    c.count(st, m);
    assert.notEqual(st, ParseStatus.OK, `length ${n}`);
  }
  const badName = Buffer.from(good); badName[13] = 0x7a; // not 'A'..'P'
  assert.equal(parseNbns(badName, 0, badName.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, NbnsError.BAD_NAME);
  const fwd = Buffer.from(good); fwd.writeUInt16BE(0xc000 | 200, 50); // pointer forward
  assert.equal(parseNbns(fwd, 0, fwd.length, m), ParseStatus.MALFORMED);
  const badOpcode = Buffer.from(good); badOpcode[2] = 0x10; // opcode 2
  assert.equal(parseNbns(badOpcode, 0, badOpcode.length, m), ParseStatus.NOT_MINE);
  for (let i = 0; i < 2000; i++) {
    const r = Buffer.from(good);
    for (let k = 0; k < 3; k++) r[Math.floor(Math.random() * r.length)] = Math.floor(Math.random() * 256);
    parseNbns(r, 0, r.length, m);
  }
  const s = c.snapshot();
  assert.equal(s['nbns.messages'], 0);
  assert.ok(s['nbns.truncated']! > 0);
  assert.equal(nbName('X').length, 34);
});
