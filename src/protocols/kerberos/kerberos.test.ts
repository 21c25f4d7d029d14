import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ParseStatus } from '../parse-status.js';
import { KerberosMessage, KrbError, KrbMsgType, parseKerberos } from './message.js';
import { RecordFramer, kerberosFraming, FramerEvent } from './framing.js';
import * as K from '../../../test/fixtures/logons.js';
import * as P from '../../../test/support/packets.js';
import { LogonHarness, logonsOf } from '../../../test/support/logons.js';

const CMAC = '02:00:00:00:00:0c', KMAC = '02:00:00:00:00:0d';
const udp = (fromClient: boolean, sport: number, payload: Buffer): Buffer =>
  P.ethernet(fromClient ? KMAC : CMAC, fromClient ? CMAC : KMAC, P.ETH_IPV4,
    P.ipv4({ src: fromClient ? '10.0.0.5' : '10.0.0.1', dst: fromClient ? '10.0.0.1' : '10.0.0.5', proto: P.PROTO_UDP },
      P.udp(fromClient ? { sport, dport: 88 } : { sport: 88, dport: sport }, payload)));
const tcp = (fromClient: boolean, flags: number, seq: number, payload: Buffer = Buffer.alloc(0)): Buffer =>
  P.ethernet(fromClient ? KMAC : CMAC, fromClient ? CMAC : KMAC, P.ETH_IPV4,
    P.ipv4({ src: fromClient ? '10.0.0.5' : '10.0.0.1', dst: fromClient ? '10.0.0.1' : '10.0.0.5', proto: P.PROTO_TCP },
      P.tcp(fromClient ? { sport: 50000, dport: 88, flags, seq } : { sport: 88, dport: 50000, flags, seq }, payload)));

test('AS-REQ, AS-REP, TGS-REP, KRB-ERROR and AP-REQ are read (RFC 4120 §5.4.1, §5.4.2, §5.9.1, §5.5.1)', () => {
  const m = new KerberosMessage();
  assert.equal(parseKerberos(...whole(K.kdcReq({ cname: 'alice', realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE', etypes: [18, 23] })), m), ParseStatus.OK);
  assert.deepEqual([m.msgType, m.cname, m.crealm, m.sname, m.etypes, m.till], [KrbMsgType.AS_REQ, 'alice', 'CORP.EXAMPLE', 'krbtgt/CORP.EXAMPLE', [18, 23], '20370913024805Z']);
  assert.equal(parseKerberos(...whole(K.kdcRep({ tgs: true, cname: 'alice', crealm: 'CORP.EXAMPLE', sname: 'cifs/fs1.corp.example', etype: 23 })), m), ParseStatus.OK);
  assert.deepEqual([m.msgType, m.cname, m.crealm, m.sname, m.srealm, m.ticketEtype], [KrbMsgType.TGS_REP, 'alice', 'CORP.EXAMPLE', 'cifs/fs1.corp.example', 'CORP.EXAMPLE', 23]);
  assert.equal(parseKerberos(...whole(K.krbError({ code: 24, realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE' })), m), ParseStatus.OK);
  assert.deepEqual([m.msgType, m.errorCode, m.srealm, m.sname], [KrbMsgType.KRB_ERROR, 24, 'CORP.EXAMPLE', 'krbtgt/CORP.EXAMPLE']);
  assert.equal(parseKerberos(...whole(K.apReq('CORP.EXAMPLE', 'ldap/dc1.corp.example')), m), ParseStatus.OK);
  assert.deepEqual([m.msgType, m.cname, m.sname], [KrbMsgType.AP_REQ, '', 'ldap/dc1.corp.example']);
});

test('odd input is a named verdict, never an exception', () => {
  const m = new KerberosMessage();
  const asReq = K.kdcReq({ cname: 'alice', realm: 'R', sname: 'krbtgt/R' });
  assert.equal(parseKerberos(Buffer.from('GET / HTTP/1.1'), 0, 14, m), ParseStatus.NOT_MINE);
  assert.equal(parseKerberos(asReq, 0, asReq.length - 3, m), ParseStatus.MALFORMED);
  assert.equal(m.error, KrbError.TRUNCATED);
  const indefinite = Buffer.from(asReq); indefinite[1] = 0x80;
  assert.equal(parseKerberos(indefinite, 0, indefinite.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, KrbError.BAD_DER);
  // msg-type disagreeing with the application tag.
  const liar = K.tlv(0x6a, K.tlv(0x30, K.tlv(0xa1, K.int(5)), K.tlv(0xa2, K.int(11))));
  assert.equal(parseKerberos(liar, 0, liar.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, KrbError.BAD_STRUCTURE);
  // A name-string that is not a GeneralString.
  const badName = Buffer.from(K.kdcRep({ cname: 'bob', crealm: 'R', sname: 'krbtgt/R' }));
  badName[badName.indexOf(Buffer.from('bob')) - 2] = 0x0c;
  assert.equal(parseKerberos(badName, 0, badName.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, KrbError.BAD_NAME);
});

test('record marking: records cut across segments are reassembled, an oversized one skipped, a reserved bit ends the framer (RFC 4120 §7.2.2)', () => {
  const got: string[] = [];
  const f = new RecordFramer(kerberosFraming, 100);
  const a = K.krbTcp(Buffer.from('first')), big = K.krbTcp(Buffer.alloc(150, 1)), b = K.krbTcp(Buffer.from('second'));
  const stream = Buffer.concat([a, big, b]);
  const sink = (buf: Buffer, s: number, e: number): void => { got.push(buf.toString('latin1', s + 4, e)); };
  let ev = 0;
  for (let i = 0; i < stream.length; i += 7) ev |= f.push(1000 + i, stream, i, Math.min(stream.length, i + 7), sink);
  assert.deepEqual(got, ['first', 'second']);
  assert.equal(ev, 1 << FramerEvent.TOO_LONG);
  // A retransmitted segment is not read twice; a reserved high bit ends the framer.
  assert.equal(f.push(1000, stream, 0, 7, sink), 0);
  assert.equal(f.push(1000 + stream.length, Buffer.from([0x80, 0, 0, 1]), 0, 4, sink), 1 << FramerEvent.BAD_HEADER);
  assert.equal(f.dead, true);
});

test('a UDP AS exchange and a failed one become logons with endpoints and MACs', () => {
  const h = new LogonHarness();
  h.send(udp(true, 40000, K.kdcReq({ cname: 'alice', realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE' })));
  h.send(udp(false, 40000, K.kdcRep({ cname: 'alice', crealm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE' })));
  h.send(udp(true, 40001, K.kdcReq({ cname: 'mallory', realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE' })));
  h.send(udp(false, 40001, K.krbError({ code: 24, realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE' })));
  assert.equal(h.logons.length, 2);
  const [ok, bad] = h.logons;
  assert.deepEqual({ ...ok, tsUs: 0 }, {
    protocol: 'kerberos', kind: 'AS', tsUs: 0,
    client: { ip: '10.0.0.5', port: 40000, mac: CMAC }, server: { ip: '10.0.0.1', port: 88, mac: KMAC },
    user: 'alice', domain: 'CORP.EXAMPLE', workstation: '', service: 'krbtgt/CORP.EXAMPLE', success: true,
    etypes: [18, 17, 23], till: '2037-09-13T02:48:05Z',
  });
  assert.deepEqual([bad!.user, bad!.success, bad!.errorCode, bad!.errorName], ['mallory', false, 24, 'KDC_ERR_PREAUTH_FAILED']);
  assert.deepEqual(h.counters('kerberos.'), { 'kerberos.messages': 4, 'kerberos.as_req': 2, 'kerberos.as_rep': 1, 'kerberos.krb_error': 1, 'kerberos.logons': 2 });
});

test('a TCP TGS exchange split over segments names the client from the reply', () => {
  const h = new LogonHarness();
  const req = K.krbTcp(K.kdcReq({ tgs: true, realm: 'CORP.EXAMPLE', sname: 'cifs/fs1' }));
  const rep = K.krbTcp(K.kdcRep({ tgs: true, cname: 'alice', crealm: 'CORP.EXAMPLE', sname: 'cifs/fs1' }));
  h.send(tcp(true, 0x02, 100));
  h.send(tcp(false, 0x12, 900));
  h.send(tcp(true, 0x18, 101, req.subarray(0, 3)));
  h.send(tcp(true, 0x18, 104, req.subarray(3)));
  h.send(tcp(false, 0x18, 901, rep.subarray(0, 40)));
  h.send(tcp(false, 0x18, 941, rep.subarray(40)));
  assert.equal(h.logons.length, 1);
  assert.deepEqual([h.logons[0]!.kind, h.logons[0]!.user, h.logons[0]!.domain, h.logons[0]!.service, h.logons[0]!.success], ['TGS', 'alice', 'CORP.EXAMPLE', 'cifs/fs1', true]);
  assert.equal(h.counters('kerberos.')['kerberos.tcp.records'], 2);
});

const ZEEK = process.env.OUTPOST_ZEEK_IDENTITY_CORPUS ?? '../shared/corpus/zeek-identity';
const zeekAbsent = existsSync(ZEEK) ? false : `Zeek identity corpus absent at ${ZEEK} (../shared, or OUTPOST_ZEEK_IDENTITY_CORPUS)`;
test('Zeek test traces: kinit (UDP AS exchanges, anonymous PKINIT) and a TGS exchange', { skip: zeekAbsent }, () => {
  const kinit = logonsOf(`${ZEEK}/traces/krb/kinit.pcap`);
  assert.equal(kinit.logons.length, 94);
  const tally: Record<string, number> = {};
  for (const l of kinit.logons) { const k = `${l.kind} ${l.user}@${l.domain} ${l.success === true ? 'ok' : l.errorName}`; tally[k] = (tally[k] ?? 0) + 1; }
  assert.equal(tally['AS valid_client_principal@VLADG.NET ok'], 44);
  assert.equal(tally['AS invalid_client_principal@VLADG.NET KDC_ERR_C_PRINCIPAL_UNKNOWN'], 2);
  assert.equal(tally['AS requires_preauth_client_principal@VLADG.NET KDC_ERR_PREAUTH_REQUIRED'], 2);
  assert.equal(tally['AS lockout_policy_client_principal@VLADG.NET KDC_ERR_CLIENT_REVOKED'], 2);
  assert.equal(tally['AS WELLKNOWN/ANONYMOUS@VLADG.NET ok'], 2);
  assert.equal(tally['TGS valid_client_principal@VLADG.NET KDC_ERR_BADOPTION'], 1);
  assert.equal(kinit.counters['kerberos.unanswered'], 0);
  const tgs = logonsOf(`${ZEEK}/traces/krb/auth.pcap`).logons;
  assert.deepEqual(tgs.map((l) => [l.kind, l.user, l.domain, l.service, l.success, l.client.port]), [['TGS', 'vladg', 'VLADG.NET', 'krbtgt/VLADG.NET', true, 64889]]);
});

function whole(b: Buffer): [Buffer, number, number] { return [b, 0, b.length]; }
