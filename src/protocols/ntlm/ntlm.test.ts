import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ParseStatus } from '../parse-status.js';
import { NtlmError, NtlmMessage, NtlmType, parseNtlmssp } from './ntlmssp.js';
import { GssKind, GssToken, findGssToken } from './spnego.js';
import { Smb2SessionSetup, parseSmb2SessionSetup } from './smb2.js';
import * as K from '../../../test/fixtures/logons.js';
import * as P from '../../../test/support/packets.js';
import { LogonHarness, logonsOf } from '../../../test/support/logons.js';

test('NTLMSSP NEGOTIATE, CHALLENGE (AV pairs) and AUTHENTICATE are read (MS-NLMP §2.2.1)', () => {
  const m = new NtlmMessage();
  const neg = K.ntlmNegotiate();
  assert.equal(parseNtlmssp(neg, 0, neg.length, m), ParseStatus.OK);
  assert.equal(m.type, NtlmType.NEGOTIATE);
  const ch = K.ntlmChallenge({ target: 'CORP', nbComputer: 'FS1', nbDomain: 'CORP', dnsComputer: 'fs1.corp.example', dnsDomain: 'corp.example' });
  assert.equal(parseNtlmssp(ch, 0, ch.length, m), ParseStatus.OK);
  assert.deepEqual([m.type, m.targetName, m.nbComputer, m.nbDomain, m.dnsComputer, m.dnsDomain], [2, 'CORP', 'FS1', 'CORP', 'fs1.corp.example', 'corp.example']);
  const au = K.ntlmAuthenticate({ user: 'alice', domain: 'CORP', workstation: 'PC-17' });
  assert.equal(parseNtlmssp(au, 0, au.length, m), ParseStatus.OK);
  assert.deepEqual([m.type, m.user, m.domain, m.workstation, m.anonymous], [3, 'alice', 'CORP', 'PC-17', false]);
  const oem = K.ntlmAuthenticate({ user: 'bob', domain: 'CORP', workstation: 'PC-2', unicode: false });
  assert.equal(parseNtlmssp(oem, 0, oem.length, m), ParseStatus.OK);
  assert.deepEqual([m.user, m.workstation], ['bob', 'PC-2']);
  const anon = K.ntlmAuthenticate({ user: '', domain: '', workstation: 'PC-2', ntLength: 0 });
  assert.equal(parseNtlmssp(anon, 0, anon.length, m), ParseStatus.OK);
  assert.equal(m.anonymous, true);
});

test('NTLMSSP fields pointing outside the message, broken AV pairs and unknown types are named', () => {
  const m = new NtlmMessage();
  const au = K.ntlmAuthenticate({ user: 'alice', domain: 'CORP', workstation: 'PC-17' });
  assert.equal(parseNtlmssp(au, 0, au.length - 17, m), ParseStatus.MALFORMED); // cuts into the workstation name
  assert.equal(m.error, NtlmError.BAD_FIELD);
  assert.equal(parseNtlmssp(au, 0, 40, m), ParseStatus.MALFORMED);
  assert.equal(m.error, NtlmError.TRUNCATED);
  const ch = Buffer.from(K.ntlmChallenge({ target: 'C', nbComputer: 'FS1', nbDomain: 'C' }));
  ch.writeUInt16LE(0xffff, 56 + 2 + 2); // first AV pair's length runs past TargetInfo
  assert.equal(parseNtlmssp(ch, 0, ch.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, NtlmError.BAD_AV_PAIRS);
  const t9 = Buffer.from(au); t9.writeUInt32LE(9, 8);
  assert.equal(parseNtlmssp(t9, 0, t9.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, NtlmError.BAD_TYPE);
  assert.equal(parseNtlmssp(Buffer.from('NTLMSSX\0aaaa'), 0, 12, m), ParseStatus.NOT_MINE);
});

test('SPNEGO NegTokenInit / NegTokenResp and the Kerberos GSS-API token are unwrapped (RFC 4178 §4.2, RFC 4121 §4.1)', () => {
  const g = new GssToken();
  const au = K.ntlmAuthenticate({ user: 'alice', domain: 'CORP', workstation: 'PC-17' });
  const init = K.spnegoInit(au);
  assert.equal(findGssToken(init, 0, init.length, g), true);
  assert.equal(g.kind, GssKind.NTLMSSP);
  assert.ok(init.subarray(g.start, g.end).equals(au));
  const resp = K.spnegoResp(1, K.ntlmChallenge({ target: 'C', nbComputer: 'FS1', nbDomain: 'C' }));
  assert.equal(findGssToken(resp, 0, resp.length, g), true);
  assert.deepEqual([g.kind, g.negState], [GssKind.NTLMSSP, 1]);
  const krb = K.gssKrb5(K.apReq('CORP.EXAMPLE', 'cifs/fs1'));
  assert.equal(findGssToken(krb, 0, krb.length, g), true);
  assert.equal(g.kind, GssKind.KRB5_AP_REQ);
  const broken = Buffer.from(init); broken[1] = 0x85;
  assert.equal(findGssToken(broken, 0, broken.length, g), false);
});

test('SMB2 SESSION_SETUP request and response give the security buffer and status (MS-SMB2 §2.2.5, §2.2.6)', () => {
  const s = new Smb2SessionSetup();
  const blob = K.spnegoInit(K.ntlmNegotiate());
  const req = K.smb2SessionSetup({ response: false, messageId: 7, blob });
  assert.equal(parseSmb2SessionSetup(req, 4, req.length, s), ParseStatus.OK);
  assert.deepEqual([s.response, s.messageId], [false, 7]);
  assert.ok(req.subarray(s.blobStart, s.blobEnd).equals(blob));
  const fail = K.smb2SessionSetup({ response: true, messageId: 7, status: 0xc000006d });
  assert.equal(parseSmb2SessionSetup(fail, 4, fail.length, s), ParseStatus.OK);
  assert.deepEqual([s.response, s.status >>> 0, s.blobEnd - s.blobStart], [true, 0xc000006d, 0]);
});

const CMAC = '02:00:00:00:00:0a', SMAC = '02:00:00:00:00:0b';
function smbConversation(h: LogonHarness, sport: number, finalStatus: number, user: string): void {
  let cseq = 1000, sseq = 5000;
  const c = (payload: Buffer): void => { h.send(P.ethernet(SMAC, CMAC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.5', dst: '10.0.0.2', proto: P.PROTO_TCP }, P.tcp({ sport, dport: 445, flags: 0x18, seq: cseq }, payload)))); cseq += payload.length; };
  const s = (payload: Buffer): void => { h.send(P.ethernet(CMAC, SMAC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.2', dst: '10.0.0.5', proto: P.PROTO_TCP }, P.tcp({ sport: 445, dport: sport, flags: 0x18, seq: sseq }, payload)))); sseq += payload.length; };
  h.send(P.ethernet(SMAC, CMAC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.5', dst: '10.0.0.2', proto: P.PROTO_TCP }, P.tcp({ sport, dport: 445, flags: 0x02, seq: cseq - 1 }))));
  c(K.smb2SessionSetup({ response: false, messageId: 1, blob: K.spnegoInit(K.ntlmNegotiate()) }));
  s(K.smb2SessionSetup({ response: true, messageId: 1, status: 0xc0000016, blob: K.spnegoResp(1, K.ntlmChallenge({ target: 'CORP', nbComputer: 'FS1', nbDomain: 'CORP', dnsComputer: 'fs1.corp.example' })) }));
  const auth = K.smb2SessionSetup({ response: false, messageId: 2, blob: K.spnegoResp(1, K.ntlmAuthenticate({ user, domain: 'CORP', workstation: 'PC-17' })) });
  c(auth.subarray(0, 30)); c(auth.subarray(30));
  s(K.smb2SessionSetup({ response: true, messageId: 2, status: finalStatus, ...(finalStatus === 0 ? { blob: K.spnegoResp(0) } : {}) }));
}

test('an SMB2 NTLM logon becomes one logon with the server names; a failed one carries the NT status', () => {
  const h = new LogonHarness();
  smbConversation(h, 50001, 0, 'alice');
  smbConversation(h, 50002, 0xc000006d, 'mallory');
  assert.equal(h.logons.length, 2);
  const [ok, bad] = h.logons;
  assert.deepEqual({ ...ok!, tsUs: 0 }, {
    protocol: 'ntlm', kind: 'NTLM', tsUs: 0, client: { ip: '10.0.0.5', port: 50001, mac: CMAC }, server: { ip: '10.0.0.2', port: 445, mac: SMAC },
    user: 'alice', domain: 'CORP', workstation: 'PC-17', service: 'fs1.corp.example', success: true,
    ntlmServer: { target: 'CORP', nbComputer: 'FS1', nbDomain: 'CORP', dnsComputer: 'fs1.corp.example', dnsDomain: '', dnsTree: '' },
  });
  assert.deepEqual([bad!.user, bad!.success, bad!.errorCode! >>> 0, bad!.errorName], ['mallory', false, 0xc000006d, 'STATUS_LOGON_FAILURE']);
  assert.deepEqual(h.counters('ntlm.'), {
    'ntlm.messages': 6, 'ntlm.negotiate': 2, 'ntlm.challenge': 2, 'ntlm.authenticate': 2, 'ntlm.smb.session_setups': 8, 'ntlm.logons': 2,
  });
});

const ZEEK = process.env.OUTPOST_ZEEK_IDENTITY_CORPUS ?? '../shared/corpus/zeek-identity';
const zeekAbsent = existsSync(ZEEK) ? false : `Zeek identity corpus absent at ${ZEEK} (../shared, or OUTPOST_ZEEK_IDENTITY_CORPUS)`;
test('Zeek test trace: Kerberos AP-REQ inside SPNEGO in SMB1 SESSION_SETUP_ANDX names the service only', { skip: zeekAbsent }, () => {
  const r = logonsOf(`${ZEEK}/traces/krb/smb_gssapi.pcap`);
  assert.deepEqual(r.logons.map((l) => [l.protocol, l.kind, l.user, l.domain, l.service, l.success, l.client.port]),
    [['kerberos', 'AP', '', 'HOUSING.HKSARG', 'cifs/EDISK03A.housing.hksarg', true, 1227]]);
});

test('Zeek test traces: NTLM in LDAP Sicily and SASL binds, Kerberos AP-REQ in an LDAP GSS-SPNEGO bind, NTLM in DCE-RPC binds', { skip: zeekAbsent }, () => {
  const names = (f: string) => logonsOf(`${ZEEK}/traces/${f}`).logons.filter((l) => l.server.port !== 88 && l.server.port !== 445)
    .map((l) => [l.protocol, l.kind, l.user, l.domain, l.workstation, l.service, l.success, `${l.client.ip}:${l.client.port}`]);
  assert.deepEqual(names('ldap/aduser1-ntlm.pcap'), [['ntlm', 'NTLM', 'User1', 'ADHACKING.LOCAL', '', 'WIN-VGO56I95EAK.ADHACKING.local', true, '192.168.226.131:37618']]);
  assert.deepEqual(names('ldap/aduser1.pcap'), [['kerberos', 'AP', '', 'ADHACKING.LOCAL', '', 'ldap/WIN-VGO56I95EAK', true, '192.168.226.131:54544']]);
  assert.deepEqual(names('ldap/sasl-ntlm.pcap').map((r) => r.slice(2, 4)), [['sasladmin@slapd.ldap', 'LOCALHOST']]);
  // DCE-RPC: the AUTHENTICATE (auth3 or alter_context) is handed on at once, its outcome unknown.
  assert.deepEqual(names('dce-rpc/mapi.pcap').map((r) => [...r.slice(2, 5), r[6]]), [['ALeonard', 'CNAMIS', 'ALEONARD-XP', undefined], ['ALeonard', 'CNAMIS', 'ALEONARD-XP', undefined]]);
  assert.deepEqual(names('dce-rpc/dce_rpc_ntlm.pcapng'), [['ntlm', 'NTLM', 'Administrator', 'BLACKCLOVER', 'CBTH-WS-1', 'CBTH-WS-2.blackclover.local', undefined, '10.10.10.120:54784']]);
  // NEGOTIATE and a CHALLENGE whose TargetInfo runs past the message: no logon while the
  // connection lasts (logonsOf does not end flows), the CHALLENGE counted.
  const empty = logonsOf(`${ZEEK}/traces/dce-rpc/ntlm-empty-av-sequence.pcap`);
  assert.deepEqual([empty.logons.length, empty.counters['ntlm.bad_field']], [0, 1]);
});

/**
 * Frames of TCP conversations between client 10.0.0.5 and server 10.0.0.2, PSH|ACK, each side's
 * sequence numbers counted on; `restart()` starts both at 1 again (a new connection).
 */
function framer(): { frame: (fromClient: boolean, sport: number, dport: number, payload: Buffer) => Buffer; restart: () => void } {
  let cseq = 1, sseq = 1;
  return {
    frame(fromClient, sport, dport, payload) {
      const f = fromClient
        ? P.ethernet(SMAC, CMAC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.5', dst: '10.0.0.2', proto: P.PROTO_TCP }, P.tcp({ sport, dport, flags: 0x18, seq: cseq }, payload)))
        : P.ethernet(CMAC, SMAC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.2', dst: '10.0.0.5', proto: P.PROTO_TCP }, P.tcp({ sport, dport, flags: 0x18, seq: sseq }, payload)));
      if (fromClient) cseq += payload.length; else sseq += payload.length;
      return f;
    },
    restart() { cseq = 1; sseq = 1; },
  };
}

test('LDAP: a Sicily bind answered invalidCredentials is a failed logon; DCE-RPC bind found on any port', () => {
  const h = new LogonHarness();
  const { frame, restart } = framer();
  h.send(frame(true, 50010, 389, K.ldapSicilyBind(3, K.ntlmAuthenticate({ user: 'eve', domain: 'CORP', workstation: 'PC-9' }))));
  h.send(frame(false, 389, 50010, K.ldapBindResponse(3, 49)));
  assert.deepEqual(h.logons.map((l) => [l.user, l.success, l.errorCode, l.errorName]), [['eve', false, 49, 'invalidCredentials']]);
  restart();
  h.send(frame(true, 50011, 49700, K.dcePdu(11, 1, K.ntlmNegotiate())));
  h.send(frame(false, 49700, 50011, K.dcePdu(12, 1, K.ntlmChallenge({ target: 'CORP', nbComputer: 'APP1', nbDomain: 'CORP' }))));
  h.send(frame(true, 50011, 49700, K.dcePdu(16, 1, K.ntlmAuthenticate({ user: 'frank', domain: 'CORP', workstation: 'PC-3' }))));
  assert.deepEqual(h.logons.slice(1).map((l) => [l.user, l.service, l.success, l.server.port]), [['frank', 'APP1', undefined, 49700]]);
  assert.equal(h.counters('ntlm.')['ntlm.dcerpc.pdus'], 3);
});

/** One HTTP/1.1 connection PC → proxy 10.0.0.8:8080, segments in order (RFC 9112). */
function httpConversation(): { c: (text: string) => Buffer; s: (text: string) => Buffer } {
  const PC = '02:00:00:00:00:0a', PROXY = '02:00:00:00:00:08';
  let cseq = 1000, sseq = 7000;
  return {
    c: (text) => { const b = Buffer.from(text, 'latin1'); const f = P.ethernet(PROXY, PC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.10', dst: '10.0.0.8', proto: P.PROTO_TCP }, P.tcp({ sport: 50123, dport: 8080, flags: P.TCP_PSH | P.TCP_ACK, seq: cseq, ack: sseq }, b))); cseq += b.length; return f; },
    s: (text) => { const b = Buffer.from(text, 'latin1'); const f = P.ethernet(PC, PROXY, P.ETH_IPV4, P.ipv4({ src: '10.0.0.8', dst: '10.0.0.10', proto: P.PROTO_TCP }, P.tcp({ sport: 8080, dport: 50123, flags: P.TCP_PSH | P.TCP_ACK, seq: sseq, ack: cseq }, b))); sseq += b.length; return f; },
  };
}
const b64 = (b: Buffer): string => b.toString('base64');

test('NTLM in HTTP Authorization / WWW-Authenticate (MS-NTHT §2.2, RFC 4559 §4): the AUTHENTICATE\'s names, the CHALLENGE\'s server, the final status as outcome', () => {
  for (const [status, ok] of [[200, true], [401, false]] as const) {
    const h = new LogonHarness();
    const { c, s } = httpConversation();
    h.send(c(`GET http://intranet.corp.example/ HTTP/1.1\r\nHost: intranet.corp.example\r\nProxy-Connection: keep-alive\r\n\r\n`));
    h.send(s('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n'));
    h.send(c(`GET / HTTP/1.1\r\nHost: intranet.corp.example\r\nAuthorization: NTLM ${b64(K.ntlmNegotiate())}\r\n\r\n`));
    h.send(s(`HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM ${b64(K.ntlmChallenge({ target: 'CORP', nbComputer: 'WEB1', nbDomain: 'CORP', dnsComputer: 'web1.corp.example' }))}\r\nContent-Length: 0\r\n\r\n`));
    h.send(c(`GET / HTTP/1.1\r\nHost: intranet.corp.example\r\nauthorization: ntlm ${b64(K.ntlmAuthenticate({ user: 'alice', domain: 'CORP', workstation: 'PC-17' }))}\r\n\r\n`));
    h.send(s(`HTTP/1.1 ${status} X\r\nContent-Length: 2\r\n\r\nok`));
    assert.deepEqual(h.logons.map((l) => [l.protocol, l.kind, l.user, l.domain, l.workstation, l.service, l.success, l.client.ip, l.server.port]),
      [['ntlm', 'NTLM', 'alice', 'CORP', 'PC-17', 'web1.corp.example', ok, '10.0.0.10', 8080]], `status ${status}`);
    if (!ok) assert.equal(h.logons[0]!.errorName, 'HTTP_401');
  }
});

test('Negotiate in HTTP carrying a Kerberos AP-REQ: the service only (the client name is encrypted); an HTTP flow without credentials hands on nothing', () => {
  const h = new LogonHarness();
  const { c, s } = httpConversation();
  h.send(c(`GET / HTTP/1.1\r\nHost: intranet\r\nAuthorization: Negotiate ${b64(K.spnegoInit(K.gssKrb5(K.apReq('CORP.EXAMPLE', 'HTTP/intranet.corp.example'))))}\r\n\r\n`));
  h.send(s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  h.send(c('GET /b HTTP/1.1\r\nHost: intranet\r\nAuthorization: Basic YWxpY2U6cHc=\r\n\r\n'));
  h.send(s('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  assert.deepEqual(h.logons.map((l) => [l.protocol, l.kind, l.user, l.domain, l.service, l.success]), [['kerberos', 'AP', '', 'CORP.EXAMPLE', 'HTTP/intranet.corp.example', true]]);
});

test('an exchange that ends without an AUTHENTICATE is handed on as kind NEGOTIATE: at the connection\'s end, or when a new NEGOTIATE starts another', () => {
  const h = new LogonHarness();
  const { frame } = framer();
  const challenge = K.ntlmChallenge({ target: 'CORP', nbComputer: 'APP1', nbDomain: 'CORP', dnsComputer: 'app1.corp.example', dnsDomain: 'corp.example' });
  // DCE-RPC: bind (NEGOTIATE), bind_ack (CHALLENGE), then a second bind with a new NEGOTIATE.
  h.send(frame(true, 50020, 49701, K.dcePdu(11, 1, K.ntlmNegotiate())));
  h.send(frame(false, 49701, 50020, K.dcePdu(12, 1, challenge)));
  assert.equal(h.logons.length, 0, 'nothing while the exchange may still go on');
  h.send(frame(true, 50020, 49701, K.dcePdu(11, 2, K.ntlmNegotiate())));
  assert.deepEqual(h.logons.map((l) => [l.protocol, l.kind, l.user, l.domain, l.workstation, l.service, l.success, l.noAuthenticate, l.client.port, l.server.port]),
    [['ntlm', 'NEGOTIATE', '', '', '', 'app1.corp.example', undefined, 'new_negotiate', 50020, 49701]]);
  assert.deepEqual(h.logons[0]!.ntlmServer, { target: 'CORP', nbComputer: 'APP1', nbDomain: 'CORP', dnsComputer: 'app1.corp.example', dnsDomain: 'corp.example', dnsTree: '' });
  // The second exchange gets no CHALLENGE; the connection then ends.
  h.end();
  assert.deepEqual(h.logons.slice(1).map((l) => [l.kind, l.service, l.noAuthenticate, l.ntlmServer, l.client.mac, l.server.mac]),
    [['NEGOTIATE', '', 'flow_end', undefined, CMAC, SMAC]]);
  assert.equal(h.counters('ntlm.')['ntlm.no_authenticate'], 2);
});

test('a completed exchange is not abandoned at the end; an open one whose inspection stopped before the end is counted, not handed on', () => {
  const h = new LogonHarness();
  smbConversation(h, 50003, 0, 'alice');
  h.end();
  assert.deepEqual(h.logons.map((l) => l.kind), ['NTLM']);
  // An SMB connection that negotiates, then carries more than the inspected packet budget
  // (DEFAULT_INSPECTOR_SETTINGS.maxInspectedPackets) without an AUTHENTICATE: its inspection
  // stops with the exchange open; whether the client went on is not known.
  const g = new LogonHarness();
  let cseq = 1, sseq = 1;
  const c = (payload: Buffer): void => { g.send(P.ethernet(SMAC, CMAC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.5', dst: '10.0.0.2', proto: P.PROTO_TCP }, P.tcp({ sport: 50004, dport: 445, flags: 0x18, seq: cseq }, payload)))); cseq += payload.length; };
  const s = (payload: Buffer): void => { g.send(P.ethernet(CMAC, SMAC, P.ETH_IPV4, P.ipv4({ src: '10.0.0.2', dst: '10.0.0.5', proto: P.PROTO_TCP }, P.tcp({ sport: 445, dport: 50004, flags: 0x18, seq: sseq }, payload)))); sseq += payload.length; };
  c(K.smb2SessionSetup({ response: false, messageId: 1, blob: K.spnegoInit(K.ntlmNegotiate()) }));
  s(K.smb2SessionSetup({ response: true, messageId: 1, status: 0xc0000016, blob: K.spnegoResp(1, K.ntlmChallenge({ target: 'CORP', nbComputer: 'FS1', nbDomain: 'CORP' })) }));
  for (let i = 0; i < 40; i++) s(K.smb2SessionSetup({ response: true, messageId: 100 + i, status: 0xc0000016 }));
  g.end();
  assert.deepEqual(g.logons, []);
  assert.equal(g.counters('ntlm.')['ntlm.negotiate_unfollowed'], 1);
  assert.equal(g.counters('ntlm.')['ntlm.no_authenticate'], undefined);
});

test('HTTP: NTLM NEGOTIATE answered with a CHALLENGE, then the connection ends: one exchange without an AUTHENTICATE', () => {
  const h = new LogonHarness();
  const { c, s } = httpConversation();
  h.send(c(`GET / HTTP/1.1\r\nHost: intranet.corp.example\r\nAuthorization: NTLM ${b64(K.ntlmNegotiate())}\r\n\r\n`));
  h.send(s(`HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM ${b64(K.ntlmChallenge({ target: 'CORP', nbComputer: 'WEB1', nbDomain: 'CORP', dnsComputer: 'web1.corp.example' }))}\r\nContent-Length: 0\r\n\r\n`));
  assert.equal(h.logons.length, 0);
  h.end();
  assert.deepEqual(h.logons.map((l) => [l.protocol, l.kind, l.user, l.service, l.success, l.noAuthenticate, l.client.ip, l.server.port]),
    [['ntlm', 'NEGOTIATE', '', 'web1.corp.example', undefined, 'flow_end', '10.0.0.10', 8080]]);
});
