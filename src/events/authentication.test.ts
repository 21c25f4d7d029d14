import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadOcsfSchema, type OcsfSchema } from '../../test/support/ocsf-schema.js';
import { buildAuthenticationEvent, isMachineAccount, logonUpn } from './authentication.js';
import type { LogonSeen } from '../protocols/logon.js';
import { logonsOf } from '../../test/support/logons.js';
import { replay } from '../replay.js';
import { DEFAULT_FLOW_SETTINGS } from '../flows/flow-table.js';

const OCSF_DIR = path.resolve(process.cwd(), '../shared/reference/ocsf-1.8.0');
const present = existsSync(path.join(OCSF_DIR, 'dictionary.json'));
let cached: OcsfSchema | undefined;
function schema(t: TestContext): OcsfSchema | undefined {
  if (!present) { t.skip(`OCSF 1.8.0 schema absent: ${OCSF_DIR} not found`); return undefined; }
  cached ??= loadOcsfSchema(OCSF_DIR);
  return cached;
}

const base: LogonSeen = {
  protocol: 'kerberos', kind: 'AS', tsUs: 1_700_000_000_123_456,
  client: { ip: '10.0.0.5', port: 40000, mac: '02:00:00:00:00:0c' }, server: { ip: '10.0.0.1', port: 88, mac: '02:00:00:00:00:0d' },
  user: 'alice', domain: 'CORP.EXAMPLE', workstation: '', service: 'krbtgt/CORP.EXAMPLE', success: true, etypes: [18, 23], till: '2037-09-13T02:48:05Z',
};

test('a Kerberos AS exchange: Authentication Ticket, Kerberos, the UPN, success, both endpoints', (t) => {
  const ev = buildAuthenticationEvent(base);
  assert.deepEqual([ev.class_uid, ev.category_uid, ev.activity_id, ev.activity_name, ev.type_uid], [3002, 3, 3, 'Authentication Ticket', 300203]);
  assert.deepEqual([ev.auth_protocol_id, ev.auth_protocol, ev.status_id, ev.status], [2, 'Kerberos', 1, 'Success']);
  assert.deepEqual(ev.user, { name: 'alice', domain: 'CORP.EXAMPLE', uid: 'alice@CORP.EXAMPLE' });
  assert.deepEqual(ev.service, { name: 'krbtgt/CORP.EXAMPLE' });
  assert.deepEqual(ev.src_endpoint, { ip: '10.0.0.5', port: 40000, mac: '02:00:00:00:00:0c' });
  assert.deepEqual(ev.dst_endpoint, { ip: '10.0.0.1', port: 88, mac: '02:00:00:00:00:0d' });
  assert.equal(ev.time, 1_700_000_000_123);
  assert.deepEqual(ev.unmapped, { logon_kind: 'AS', kerberos_etypes: [18, 23], kerberos_till: '2037-09-13T02:48:05Z' });
  const s = schema(t);
  if (s) assert.deepEqual(s.validate(ev), []);
});

test('failures carry the KDC error or the NT status; an unanswered RADIUS request is Unknown', (t) => {
  const krb = buildAuthenticationEvent({ ...base, success: false, errorCode: 24, errorName: 'KDC_ERR_PREAUTH_FAILED' });
  assert.deepEqual([krb.status_id, krb.status, krb.status_code, krb.status_detail], [2, 'Failure', 'KDC_ERR_PREAUTH_FAILED', 'KDC_ERR_PREAUTH_FAILED (24)']);
  const ntlm = buildAuthenticationEvent({
    ...base, protocol: 'ntlm', kind: 'NTLM', user: 'bob', domain: 'CORP', workstation: 'PC-17', service: 'fs1.corp.example',
    server: { ip: '10.0.0.2', port: 445 }, success: false, errorCode: 0xc000006d, errorName: 'STATUS_LOGON_FAILURE', etypes: undefined, till: undefined,
  } as LogonSeen);
  assert.deepEqual([ntlm.activity_id, ntlm.auth_protocol_id, ntlm.status_detail], [1, 1, 'STATUS_LOGON_FAILURE (0xc000006d)']);
  assert.deepEqual(ntlm.user, { name: 'bob', domain: 'CORP' });
  assert.equal(ntlm.src_endpoint?.hostname, 'PC-17');
  const radius = buildAuthenticationEvent({
    protocol: 'radius', kind: 'stop', tsUs: base.tsUs, client: { ip: '10.1.2.3', port: 0, mac: 'aa:bb:cc:00:11:22' },
    server: { ip: '10.0.0.3', port: 1813 }, relay: { ip: '10.0.0.9', port: 32768 }, user: 'carol@corp.example', domain: '',
    workstation: 'AA-BB-CC-00-11-22', service: '', success: undefined, framedIp: ['10.1.2.3'], nas: 'ap-floor2',
  });
  assert.deepEqual([radius.activity_id, radius.auth_protocol_id, radius.status_id, radius.status], [2, 10, 0, 'Unknown']);
  assert.deepEqual(radius.user, { name: 'carol@corp.example', uid: 'carol@corp.example' });
  assert.deepEqual(radius.src_endpoint, { ip: '10.1.2.3', mac: 'aa:bb:cc:00:11:22' });
  const s = schema(t);
  if (s) for (const ev of [krb, ntlm, radius]) assert.deepEqual(s.validate(ev), []);
});

test('machine accounts are System users; UPNs only where the wire gives one', () => {
  assert.equal(isMachineAccount('PC-17$'), true);
  assert.equal(isMachineAccount('PC-17$@CORP.EXAMPLE'), true);
  assert.equal(isMachineAccount('alice'), false);
  assert.equal(isMachineAccount('host/pc-17.corp.example'), false);
  const m = buildAuthenticationEvent({ ...base, user: 'PC-17$' });
  assert.deepEqual([m.user.type_id, m.user.type], [3, 'System']);
  assert.equal(logonUpn({ ...base, user: 'host/pc-17' }), undefined);
  assert.equal(logonUpn({ ...base, protocol: 'ntlm', user: 'alice', domain: 'CORP' }), undefined);
  assert.equal(logonUpn({ ...base, protocol: 'ntlm', user: 'alice@corp.example', domain: '' }), 'alice@corp.example');
  assert.equal(logonUpn({ ...base, user: '' }), undefined);
});

const ZEEK = process.env.OUTPOST_ZEEK_IDENTITY_CORPUS ?? '../shared/corpus/zeek-identity';
const zeekAbsent = existsSync(ZEEK) ? false : `Zeek identity corpus absent at ${ZEEK} (../shared, or OUTPOST_ZEEK_IDENTITY_CORPUS)`;
test('every logon of the Zeek Kerberos and SMB traces makes a schema-valid event', { skip: zeekAbsent }, (t) => {
  const s = schema(t);
  if (!s) return;
  let n = 0;
  for (const f of ['krb/kinit.pcap', 'krb/auth.pcap', 'krb/smb_gssapi.pcap']) {
    for (const l of logonsOf(`${ZEEK}/traces/${f}`).logons) { assert.deepEqual(s.validate(buildAuthenticationEvent(l)), []); n++; }
  }
  assert.equal(n, 96);
});

test('a replay with --emit auth writes one Authentication event per logon; without it, none', { skip: zeekAbsent }, () => {
  const trace = `${ZEEK}/traces/krb/kinit.pcap`;
  const got: Array<{ class_uid: number; activity_id: number; status_id: number }> = [];
  replay({ files: [trace], emit: new Set(['auth']), flows: DEFAULT_FLOW_SETTINGS, sink: (e) => { got.push(e as never); } });
  assert.equal(got.length, 94);
  assert.ok(got.every((e) => e.class_uid === 3002));
  assert.deepEqual([got.filter((e) => e.activity_id === 3).length, got.filter((e) => e.status_id === 1).length], [93, 51]);
  const none: unknown[] = [];
  replay({ files: [trace], emit: new Set(['network', 'dns']), flows: DEFAULT_FLOW_SETTINGS, sink: (e) => { if (e.class_uid === 3002) none.push(e); } });
  assert.equal(none.length, 0);
});

test('with pseudonymisation on, a forwarded Authentication event names the account by pseudonym only', async () => {
  const { Discovery } = await import('../discovery/discovery.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(path.join(tmpdir(), 'outpost-auth-priv-'));
  const d = new Discovery({ dataDir: dir, config: { pseudonymizeUsers: true }, logger: { info: () => {}, warn: () => {} } });
  try {
    await d.open();
    const ev = buildAuthenticationEvent(base);
    const fwd = d.pseudonymizeEvent(ev);
    assert.equal(ev.user.name, 'alice', 'the local event is untouched');
    assert.deepEqual(fwd.user, { name: d.pseudonym('alice'), domain: 'CORP.EXAMPLE', uid: d.pseudonym('alice@CORP.EXAMPLE') });
    assert.ok(!JSON.stringify(fwd).includes('alice'));
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an NTLM exchange without an AUTHENTICATE: Logon, status Other saying what ended it, the CHALLENGE\'s server names, no user', (t) => {
  const server = { target: 'CORP', nbComputer: 'FS1', nbDomain: 'CORP', dnsComputer: 'fs1.corp.example', dnsDomain: 'corp.example', dnsTree: 'corp.example' };
  const abandoned: LogonSeen = {
    protocol: 'ntlm', kind: 'NEGOTIATE', tsUs: base.tsUs, client: { ip: '10.0.0.5', port: 50000, mac: '02:00:00:00:00:0c' },
    server: { ip: '10.0.0.2', port: 445, mac: '02:00:00:00:00:0d' }, user: '', domain: '', workstation: '', service: 'fs1.corp.example',
    success: undefined, noAuthenticate: 'flow_end', ntlmServer: server,
  };
  const ev = buildAuthenticationEvent(abandoned);
  assert.deepEqual([ev.activity_id, ev.type_uid, ev.auth_protocol_id, ev.status_id, ev.status, ev.status_code], [1, 300201, 1, 99, 'No AUTHENTICATE', undefined]);
  assert.equal(ev.status_detail, 'NTLM NEGOTIATE and CHALLENGE without an AUTHENTICATE: the connection ended');
  assert.deepEqual(ev.user, { name: '' });
  assert.deepEqual(ev.service, { name: 'fs1.corp.example' });
  assert.deepEqual(ev.unmapped, {
    logon_kind: 'NEGOTIATE', ntlm_server_nb_computer_name: 'FS1', ntlm_server_nb_domain_name: 'CORP',
    ntlm_server_dns_computer_name: 'fs1.corp.example', ntlm_server_dns_domain_name: 'corp.example', ntlm_server_dns_tree_name: 'corp.example',
  });
  const renegotiated = buildAuthenticationEvent({ ...abandoned, noAuthenticate: 'new_negotiate', service: '', ntlmServer: undefined } as LogonSeen);
  assert.equal(renegotiated.status_detail, 'NTLM NEGOTIATE without an AUTHENTICATE: a new NEGOTIATE followed');
  assert.equal(renegotiated.service, undefined);
  assert.deepEqual(renegotiated.unmapped, { logon_kind: 'NEGOTIATE' });
  const s = schema(t);
  if (s) for (const e of [ev, renegotiated]) assert.deepEqual(s.validate(e), []);
});
