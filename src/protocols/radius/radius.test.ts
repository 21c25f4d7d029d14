import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { RadiusError, RadiusMessage, parseRadius, stationMac, verifyAccountingRequest } from './radius.js';
import * as K from '../../../test/fixtures/logons.js';
import * as P from '../../../test/support/packets.js';
import { LogonHarness } from '../../../test/support/logons.js';

test('an Accounting-Request is read: status type, user, framed address, station, NAS (RFC 2866 §4.1, §5)', () => {
  const m = new RadiusMessage();
  const b = K.acctRequest({ id: 9, status: 1, user: 'alice@corp.example', framedIp: '10.1.2.3', callingStationId: 'AA-BB-CC-00-11-22', nasId: 'ap-floor2', nasIp: '10.0.0.9', sessionId: 'S1' });
  assert.equal(parseRadius(b, 0, b.length, m), ParseStatus.OK);
  assert.deepEqual([m.code, m.identifier, m.statusType, m.userName, m.framedIps, m.callingStationId, m.nasIdentifier, m.nasIp, m.sessionId],
    [4, 9, 1, 'alice@corp.example', ['10.1.2.3'], 'AA-BB-CC-00-11-22', 'ap-floor2', '10.0.0.9', 'S1']);
  assert.equal(stationMac(m.callingStationId), 'aa:bb:cc:00:11:22');
  assert.equal(stationMac('aabb.cc00.1122'), 'aa:bb:cc:00:11:22');
  assert.equal(stationMac('not a mac'), '');
});

test('the Request Authenticator verifies only with the shared secret (RFC 2866 §3)', () => {
  const b = K.acctRequest({ id: 1, status: 1, user: 'alice', secret: 's3cret' });
  assert.equal(verifyAccountingRequest(b, 0, b.length, Buffer.from('s3cret')), true);
  assert.equal(verifyAccountingRequest(b, 0, b.length, Buffer.from('guess')), false);
  const forged = Buffer.from(b); forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
  assert.equal(verifyAccountingRequest(forged, 0, forged.length, Buffer.from('s3cret')), false);
});

test('odd lengths are named, never an exception (RFC 2865 §3, §5)', () => {
  const m = new RadiusMessage();
  const b = K.acctRequest({ id: 1, status: 1, user: 'alice' });
  assert.equal(parseRadius(b, 0, 10, m), ParseStatus.MALFORMED);
  assert.equal(m.error, RadiusError.TRUNCATED);
  const short = Buffer.from(b); short.writeUInt16BE(b.length + 10, 2);
  assert.equal(parseRadius(short, 0, short.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, RadiusError.TRUNCATED);
  const tiny = Buffer.from(b); tiny.writeUInt16BE(12, 2);
  assert.equal(parseRadius(tiny, 0, tiny.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, RadiusError.BAD_LENGTH);
  const attr = Buffer.from(b); attr[21] = 1; // an attribute length below 2
  assert.equal(parseRadius(attr, 0, attr.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, RadiusError.BAD_ATTRIBUTE);
  const ipLen = K.acctRequest({ id: 1, status: 1, framedIp: '10.0.0.1' }); ipLen[21 + 6] = 5;
  assert.equal(parseRadius(ipLen, 0, ipLen.length, m), ParseStatus.MALFORMED);
  assert.equal(parseRadius(Buffer.from([0x16, 3, 1]), 0, 3, m), ParseStatus.NOT_MINE);
  // Octets past Length are padding (§3).
  const padded = Buffer.concat([b, Buffer.alloc(7)]);
  assert.equal(parseRadius(padded, 0, padded.length, m), ParseStatus.OK);
});

const NAS = '02:00:00:00:00:aa', SRV = '02:00:00:00:00:bb';
const toServer = (payload: Buffer, port = 1813): Buffer => P.ethernet(SRV, NAS, P.ETH_IPV4, P.ipv4({ src: '10.0.0.9', dst: '10.0.0.3', proto: P.PROTO_UDP }, P.udp({ sport: 32768, dport: port }, payload)));
const toNas = (payload: Buffer, port = 1813): Buffer => P.ethernet(NAS, SRV, P.ETH_IPV4, P.ipv4({ src: '10.0.0.3', dst: '10.0.0.9', proto: P.PROTO_UDP }, P.udp({ sport: port, dport: 32768 }, payload)));

test('answered accounting requests become logons naming the station; an unanswered one is handed on without success', () => {
  const h = new LogonHarness();
  h.send(toServer(K.acctRequest({ id: 1, status: 1, user: 'alice', framedIp: '10.1.2.3', callingStationId: 'AA-BB-CC-00-11-22', nasId: 'ap-floor2' })));
  h.send(toNas(K.acctResponse(1)));
  h.send(toServer(K.acctRequest({ id: 2, status: 2, user: 'bob', framedIp: '10.1.2.4' })));
  h.send(toServer(K.acctRequest({ id: 2, status: 3, user: 'carol', framedIp: '10.1.2.5' })));
  h.send(toNas(K.acctResponse(2)));
  h.send(toNas(K.acctResponse(7)));
  assert.deepEqual(h.logons.map((l) => [l.kind, l.user, l.client.ip, l.client.mac ?? '', l.success, l.nas ?? '']), [
    ['start', 'alice', '10.1.2.3', 'aa:bb:cc:00:11:22', true, 'ap-floor2'],
    ['stop', 'bob', '10.1.2.4', '', undefined, ''],
    ['interim', 'carol', '10.1.2.5', '', true, ''],
  ]);
  assert.deepEqual([h.logons[0]!.server, h.logons[0]!.relay], [{ ip: '10.0.0.3', port: 1813, mac: SRV }, { ip: '10.0.0.9', port: 32768, mac: NAS }]);
  assert.deepEqual(h.counters('radius.'), {
    'radius.messages': 6, 'radius.accounting_requests': 3, 'radius.accounting_responses': 3, 'radius.logons': 3,
    'radius.unanswered': 1, 'radius.unmatched_responses': 1,
  });
});

test('port 1646 is accounting too; a response sent to the server port is not an answer', () => {
  const h = new LogonHarness();
  h.send(toServer(K.acctRequest({ id: 4, status: 1, user: 'dave' }), 1646));
  h.send(toServer(K.acctResponse(4), 1646));
  assert.equal(h.logons.length, 0);
  h.send(toNas(K.acctResponse(4), 1646));
  assert.deepEqual(h.logons.map((l) => [l.user, l.success]), [['dave', true]]);
});
