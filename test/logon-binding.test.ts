/**
 * Users bound to devices by logons seen on the wire (DeviceIdentity.onLogon), written from the
 * side of a host on the office LAN trying to get a user bound that did not log on: a branch
 * office of packets (router serving DHCP, KDC / file server 10.9.0.2, PC 10.9.0.10, a second
 * host 10.9.0.66 with its own MAC) fed through the Sensor with device identity, as `outpost
 * run` assembles them. Each refusal is checked by its counter and by the flows after it, and
 * each refused case has its accepted twin, so a test cannot pass by binding nothing at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sensor } from '../src/sensor.js';
import { DEFAULT_FLOW_SETTINGS } from '../src/flows/flow-table.js';
import { DeviceIdentity } from '../src/devices/identity.js';
import { DeviceStore } from '../src/devices/store.js';
import type { OutpostEvent } from '../src/events/pipeline.js';
import * as K from './fixtures/logons.js';
import {
  ethernet, ipv4, tcp, udp, ETH_IPV4, PROTO_TCP, PROTO_UDP, TCP_SYN, TCP_ACK, TCP_PSH, TCP_FIN,
  records, handshake, chromeLikeClientHelloBody, dhcp4, ip4, u32be,
} from './pcap/packets.js';

type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROUTER_MAC = '02:5e:10:00:00:01', ROUTER = '10.9.0.1';
const DC_MAC = '00:16:3e:09:00:02', DC = '10.9.0.2';
const PC_MAC = '00:16:3e:09:00:0a', PC = '10.9.0.10';
const EVIL_MAC = '00:16:3e:09:00:66';
const CLOUD = '203.0.113.80';
const REALM = 'CORP.EXAMPLE';
const BCAST = 'ff:ff:ff:ff:ff:ff';

class Office {
  readonly store: DeviceStore;
  readonly identity: DeviceIdentity;
  readonly events: Ev[] = [];
  readonly sensor: Sensor;
  private tMs = 1_700_000_000_000;
  private sport = 40000;
  constructor(o: { radiusSecrets?: Map<string, Buffer>; store?: DeviceStore; startMs?: number } = {}) {
    this.store = o.store ?? new DeviceStore();
    this.identity = new DeviceIdentity({ store: this.store, ...(o.radiusSecrets !== undefined ? { radiusSecrets: o.radiusSecrets } : {}) });
    if (o.startMs !== undefined) this.tMs = o.startMs;
    this.sensor = new Sensor({
      flows: DEFAULT_FLOW_SETTINGS, emit: new Set(['network', 'auth']), sink: (e: OutpostEvent) => { this.events.push(structuredClone(e)); },
      stages: [this.identity.stage], packetObservers: [this.identity.observer], httpObservers: [this.identity.onHttpRequest],
      logonObservers: [this.identity.onLogon],
    });
    this.identity.sink = this.sensor.pipeline.emit;
    this.dora(0x0901, PC_MAC, PC);
  }
  send(frame: Buffer): void { this.tMs += 1; this.sensor.onPacket(frame, 0, frame.length, frame.length, this.tMs * 1000, 1, 0); }
  get nowMs(): number { return this.tMs; }
  /** Lets time pass with nothing on the wire. */
  advance(ms: number): void { this.tMs += ms; }
  /** DHCP DORA (RFC 2131 §3.1): the router leases `addr` to `cmac` for an hour. */
  dora(xid: number, cmac: string, addr: string): void {
    const server: Array<[number, Buffer]> = [[54, ip4(ROUTER)], [51, u32be(3600)], [1, ip4('255.255.255.0')]];
    const fromClient = (p: Buffer) => ethernet(BCAST, cmac, ETH_IPV4, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, p)));
    const fromServer = (p: Buffer) => ethernet(cmac, ROUTER_MAC, ETH_IPV4, ipv4({ src: ROUTER, dst: addr, proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, p)));
    this.send(fromClient(dhcp4({ xid, mac: cmac, msgType: 1, options: [] })));
    this.send(fromServer(dhcp4({ xid, mac: cmac, msgType: 2, yiaddr: addr, options: server })));
    this.send(fromClient(dhcp4({ xid, mac: cmac, msgType: 3, options: [[50, ip4(addr)], [54, ip4(ROUTER)]] })));
    this.send(fromServer(dhcp4({ xid, mac: cmac, msgType: 5, yiaddr: addr, options: server })));
  }
  /** One Kerberos message over UDP 88 (RFC 4120 §7.2.1) between the PC and the KDC address. */
  krb(fromClient: boolean, sport: number, msg: Buffer, kdcMac = DC_MAC): void {
    this.send(fromClient
      ? ethernet(kdcMac, PC_MAC, ETH_IPV4, ipv4({ src: PC, dst: DC, proto: PROTO_UDP }, udp({ sport, dport: 88 }, msg)))
      : ethernet(PC_MAC, kdcMac, ETH_IPV4, ipv4({ src: DC, dst: PC, proto: PROTO_UDP }, udp({ sport: 88, dport: sport }, msg))));
  }
  /**
   * An AS exchange as Windows and MIT clients make it (RFC 4120 §3.1.1, §7.5.9): the first AS-REQ
   * without pre-authentication is answered KDC_ERR_PREAUTH_REQUIRED (25), the second gets the
   * AS-REP — or, with `fail`, KDC_ERR_PREAUTH_FAILED (24). `repMac` sends the final answer from
   * another MAC (a forger on the LAN answering in the KDC's name).
   */
  asExchange(cname: string, o: { fail?: boolean; repMac?: string; till?: string } = {}): void {
    const req = K.kdcReq({ cname, realm: REALM, sname: `krbtgt/${REALM}`, ...(o.till !== undefined ? { till: o.till } : {}) });
    let p = this.sport++;
    this.krb(true, p, req);
    this.krb(false, p, K.krbError({ code: 25, realm: REALM, sname: `krbtgt/${REALM}`, cname, crealm: REALM }));
    p = this.sport++;
    this.krb(true, p, req);
    this.krb(false, p, o.fail === true ? K.krbError({ code: 24, realm: REALM, sname: `krbtgt/${REALM}`, cname, crealm: REALM })
      : K.kdcRep({ cname, crealm: REALM, sname: `krbtgt/${REALM}` }), o.repMac ?? DC_MAC);
  }
  /** An SMB2 NTLM session setup (MS-SMB2 §3.3.5.5) from the PC to the file server, ending with `status`. */
  ntlm(user: string, status: number): void {
    const sport = this.sport++;
    let cseq = 1000, sseq = 5000;
    const c = (payload: Buffer, flags = TCP_PSH | TCP_ACK): void => { this.send(ethernet(DC_MAC, PC_MAC, ETH_IPV4, ipv4({ src: PC, dst: DC, proto: PROTO_TCP }, tcp({ sport, dport: 445, flags, seq: cseq }, payload)))); cseq += payload.length; };
    const s = (payload: Buffer): void => { this.send(ethernet(PC_MAC, DC_MAC, ETH_IPV4, ipv4({ src: DC, dst: PC, proto: PROTO_TCP }, tcp({ sport: 445, dport: sport, flags: TCP_PSH | TCP_ACK, seq: sseq }, payload)))); sseq += payload.length; };
    cseq -= 1; c(Buffer.alloc(0), TCP_SYN); cseq += 1;
    c(K.smb2SessionSetup({ response: false, messageId: 1, blob: K.spnegoInit(K.ntlmNegotiate()) }));
    s(K.smb2SessionSetup({ response: true, messageId: 1, status: 0xc0000016, blob: K.spnegoResp(1, K.ntlmChallenge({ target: 'CORP', nbComputer: 'DC1', nbDomain: 'CORP' })) }));
    c(K.smb2SessionSetup({ response: false, messageId: 2, blob: K.spnegoResp(1, K.ntlmAuthenticate({ user, domain: 'CORP', workstation: 'PC-10' })) }));
    s(K.smb2SessionSetup({ response: true, messageId: 2, status, ...(status === 0 ? { blob: K.spnegoResp(0) } : {}) }));
  }
  /**
   * An SMB2 session setup the PC gives up after the server's CHALLENGE (MS-NLMP §3.1.5: the
   * AUTHENTICATE never comes), then the connection closes.
   */
  ntlmAbandoned(): void {
    const sport = this.sport++;
    let cseq = 1000, sseq = 5000;
    const c = (payload: Buffer, flags = TCP_PSH | TCP_ACK): void => { this.send(ethernet(DC_MAC, PC_MAC, ETH_IPV4, ipv4({ src: PC, dst: DC, proto: PROTO_TCP }, tcp({ sport, dport: 445, flags, seq: cseq }, payload)))); cseq += payload.length; };
    const s = (payload: Buffer, flags = TCP_PSH | TCP_ACK): void => { this.send(ethernet(PC_MAC, DC_MAC, ETH_IPV4, ipv4({ src: DC, dst: PC, proto: PROTO_TCP }, tcp({ sport: 445, dport: sport, flags, seq: sseq }, payload)))); sseq += payload.length; };
    cseq -= 1; c(Buffer.alloc(0), TCP_SYN); cseq += 1;
    c(K.smb2SessionSetup({ response: false, messageId: 1, blob: K.spnegoInit(K.ntlmNegotiate()) }));
    s(K.smb2SessionSetup({ response: true, messageId: 1, status: 0xc0000016, blob: K.spnegoResp(1, K.ntlmChallenge({ target: 'CORP', nbComputer: 'DC1', nbDomain: 'CORP', dnsComputer: 'dc1.corp.example', dnsDomain: 'corp.example' })) }));
    c(Buffer.alloc(0), TCP_FIN | TCP_ACK); s(Buffer.alloc(0), TCP_FIN | TCP_ACK);
  }
  /** A RADIUS accounting start for the PC sent by `nas` to the accounting server, and its answer (RFC 2866 §4.1, §4.2). */
  radiusStart(nas: string, nasMac: string, user: string): void { this.radius({ nas, nasMac, user, status: 1 }); }
  /**
   * An Accounting-Request about the PC (Calling-Station-Id its MAC unless `station` names
   * another, Framed-IP-Address `framedIp` or the PC's) signed with `secret`, and the server's
   * Accounting-Response from `respMac` (the server's own MAC unless a forger's is given).
   */
  radius(o: { nas: string; nasMac: string; user: string; status: number; secret?: string; respMac?: string; station?: string; framedIp?: string }): void {
    const id = (this.sport++) & 0xff;
    const req = K.acctRequest({ id, status: o.status, user: o.user, framedIp: o.framedIp ?? PC, callingStationId: (o.station ?? PC_MAC).replaceAll(':', '-'), nasIp: o.nas, sessionId: 's1', secret: o.secret ?? 'testing123' });
    this.send(ethernet(DC_MAC, o.nasMac, ETH_IPV4, ipv4({ src: o.nas, dst: DC, proto: PROTO_UDP }, udp({ sport: 50000, dport: 1813 }, req))));
    this.send(ethernet(o.nasMac, o.respMac ?? DC_MAC, ETH_IPV4, ipv4({ src: DC, dst: o.nas, proto: PROTO_UDP }, udp({ sport: 1813, dport: 50000 }, K.acctResponse(id)))));
  }
  /** A TGS exchange (RFC 4120 §3.3) for `cname`'s ticket to a file server, its reply naming the client (§5.4.2). */
  tgs(cname: string, till?: string): void {
    const p = this.sport++;
    this.krb(true, p, K.kdcReq({ tgs: true, realm: REALM, sname: 'cifs/fs1.corp.example', ...(till !== undefined ? { till } : {}) }));
    this.krb(false, p, K.kdcRep({ tgs: true, cname, crealm: REALM, sname: 'cifs/fs1.corp.example' }));
  }
  /** A TLS flow from the PC to the cloud app; returns its Network Activity event(s). */
  tlsFlow(): Ev[] {
    const sport = this.sport++;
    let cseq = 1000, sseq = 9000;
    const c = (flags: number, data: Buffer = Buffer.alloc(0)) => { this.send(ethernet(ROUTER_MAC, PC_MAC, ETH_IPV4, ipv4({ src: PC, dst: CLOUD, proto: PROTO_TCP }, tcp({ sport, dport: 443, seq: cseq, ack: flags & TCP_ACK ? sseq : 0, flags }, data)))); cseq += data.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0); };
    const s = (flags: number) => { this.send(ethernet(PC_MAC, ROUTER_MAC, ETH_IPV4, ipv4({ src: CLOUD, dst: PC, proto: PROTO_TCP }, tcp({ sport: 443, dport: sport, seq: sseq, ack: flags & TCP_ACK ? cseq : 0, flags })))); sseq += flags & (TCP_SYN | TCP_FIN) ? 1 : 0; };
    c(TCP_SYN); s(TCP_SYN | TCP_ACK); c(TCP_ACK);
    c(TCP_PSH | TCP_ACK, records(handshake(1, chromeLikeClientHelloBody(undefined, 'app.cloud.test'))));
    c(TCP_FIN | TCP_ACK); s(TCP_FIN | TCP_ACK); c(TCP_ACK);
    this.sensor.flush();
    return this.events.filter((e) => e.class_uid === 4001 && e.src_endpoint?.port === sport);
  }
  counter(name: string): number { return this.identity.counters()[name]!; }
}

const userOf = (evs: Ev[]): unknown => { assert.ok(evs.length > 0, 'the TLS flow gave a Network Activity event'); return evs.at(-1)!.actor?.user; };

test('(a) a successful AS exchange binds the user: the PC\'s next TLS flow carries actor.user', () => {
  const o = new Office();
  assert.equal(userOf(o.tlsFlow()), undefined);
  o.asExchange('alice');
  assert.equal(o.counter('devices.logon_bound'), 1);
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'alice', domain: REALM });
  const span = o.store.users.userAt(o.store.addresses.lookup(PC, o.nowMs)!, o.nowMs)!;
  assert.equal(span.source, 'kerberos');
});

test('(b) a KRB-ERROR answer binds nothing', () => {
  const o = new Office();
  o.asExchange('alice', { fail: true });
  assert.equal(o.counter('devices.logon_bound'), 0);
  assert.equal(o.counter('devices.logon_failed'), 2);
  assert.equal(userOf(o.tlsFlow()), undefined);
});

test('(c) a forged AS-REP from the KDC\'s address with another MAC binds nothing and is counted', () => {
  const o = new Office();
  o.asExchange('mallory', { repMac: EVIL_MAC });
  assert.equal(o.counter('devices.logon_server_mac_mismatch'), 1);
  assert.equal(o.counter('devices.logon_bound'), 0);
  assert.equal(userOf(o.tlsFlow()), undefined);
  // The KDC's own answer still binds afterwards: the forgery did not move the pin.
  o.asExchange('alice');
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'alice', domain: REALM });
});

test('a first "success" from a server address never seen before binds nothing (nothing to compare its MAC with)', () => {
  const o = new Office();
  const p = 45000;
  o.krb(true, p, K.kdcReq({ cname: 'mallory', realm: REALM, sname: `krbtgt/${REALM}` }));
  o.krb(false, p, K.kdcRep({ cname: 'mallory', crealm: REALM, sname: `krbtgt/${REALM}` }), EVIL_MAC);
  assert.equal(o.counter('devices.logon_server_unknown'), 1);
  assert.equal(userOf(o.tlsFlow()), undefined);
});

test('(d) a machine account (HOST$) binds no user', () => {
  const o = new Office();
  o.asExchange('PC-10$');
  assert.equal(o.counter('devices.logon_machine_account'), 1);
  assert.equal(o.counter('devices.logon_bound'), 0);
  assert.equal(userOf(o.tlsFlow()), undefined);
});

test('(e) an NTLM logon does not replace an agent-reported user; without the agent it binds', () => {
  const agent = new Office();
  agent.identity.applyAgentReport({ agentId: 'pc-10', macs: [PC_MAC], addresses: [PC], users: [{ name: 'alice', domain: 'CORP' }] }, agent.nowMs);
  agent.ntlm('bob', 0xc000006d); // a failed logon first: the server's answer pins its MAC
  agent.ntlm('bob', 0);
  assert.equal(agent.counter('devices.logon_lower_trust'), 1);
  assert.deepEqual(userOf(agent.tlsFlow()), { name: 'alice', domain: 'CORP' });

  const none = new Office();
  none.ntlm('bob', 0xc000006d);
  none.ntlm('bob', 0);
  assert.equal(none.counter('devices.logon_bound'), 1);
  assert.deepEqual(userOf(none.tlsFlow()), { name: 'bob', domain: 'CORP' });
  // A later Kerberos AS logon (higher trust than NTLM) replaces the NTLM user.
  none.asExchange('carol');
  assert.deepEqual(userOf(none.tlsFlow()), { name: 'carol', domain: REALM });
  // ... and a later NTLM logon does not replace the Kerberos one while it is current.
  none.ntlm('dave', 0);
  assert.equal(none.counter('devices.logon_lower_trust'), 1);
  assert.deepEqual(userOf(none.tlsFlow()), { name: 'carol', domain: REALM });
});

test('an NTLM exchange abandoned after the CHALLENGE is an Authentication event that binds nobody, before or after a real logon', () => {
  const o = new Office();
  o.ntlm('bob', 0xc000006d); // a failed logon: pins the file server's MAC, binds nothing
  o.ntlmAbandoned();
  o.sensor.flush(); // the connection ends: the exchange is over without an AUTHENTICATE
  const abandoned = (): Ev[] => o.events.filter((e) => e.class_uid === 3002 && e.unmapped?.logon_kind === 'NEGOTIATE');
  assert.equal(abandoned().length, 1);
  const ev = abandoned()[0]!;
  assert.deepEqual([ev.activity_id, ev.auth_protocol_id, ev.status_id, ev.user], [1, 1, 99, { name: '' }]);
  assert.deepEqual([ev.src_endpoint?.ip, ev.src_endpoint?.mac, ev.dst_endpoint?.ip, ev.dst_endpoint?.mac], [PC, PC_MAC, DC, DC_MAC]);
  assert.equal(o.counter('devices.logon_not_a_logon'), 1);
  assert.equal(o.counter('devices.logon_bound'), 0);
  assert.equal(userOf(o.tlsFlow()), undefined);
  // The accepted twin: the same PC's completed logon with the same server binds ...
  o.ntlm('bob', 0);
  assert.equal(o.counter('devices.logon_bound'), 1);
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'bob', domain: 'CORP' });
  // ... and an abandoned exchange after it neither replaces, refreshes nor shares that user.
  o.ntlmAbandoned();
  o.sensor.flush();
  assert.equal(abandoned().length, 2);
  assert.deepEqual([o.counter('devices.logon_bound'), o.counter('devices.logon_refreshed'), o.counter('devices.logon_shared'), o.counter('devices.logon_not_a_logon')], [1, 0, 0, 2]);
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'bob', domain: 'CORP' });
});

/** KerberosTime (RFC 4120 §5.2.3) of a time in ms. */
const krbTime = (ms: number): string => new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
const NAS_SECRETS = (): Map<string, Buffer> => new Map([[ROUTER, Buffer.from('testing123')]]);

test('(f) RADIUS accounting without a configured NAS list binds once the server (its pinned MAC) answered; stop ends it', () => {
  const o = new Office();
  o.radiusStart(ROUTER, ROUTER_MAC, 'erin');
  // The first answer pins the accounting server's MAC and binds nothing itself.
  assert.equal(o.counter('devices.logon_server_unknown'), 1);
  assert.equal(userOf(o.tlsFlow()), undefined);
  o.radiusStart(ROUTER, ROUTER_MAC, 'erin');
  assert.equal(o.counter('devices.logon_bound'), 1);
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'erin' });
  const d = o.store.addresses.lookup(PC, o.nowMs)!;
  assert.deepEqual(d.users.map((u) => [u.name, u.source, u.ip]), [['erin', 'radius', PC]]);
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'erin', status: 2 });
  assert.equal(o.counter('devices.logon_ended'), 1);
  assert.equal(d.users[0]!.endedBy, 'stop');
  assert.equal(userOf(o.tlsFlow()), undefined);
});

test('(f) a forged Accounting-Response from another MAC binds nothing', () => {
  const o = new Office();
  o.radiusStart(ROUTER, ROUTER_MAC, 'erin'); // pins the server
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'mallory', status: 1, respMac: EVIL_MAC });
  assert.equal(o.counter('devices.logon_server_mac_mismatch'), 1);
  assert.equal(o.counter('devices.logon_bound'), 0);
  assert.equal(userOf(o.tlsFlow()), undefined);
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'erin', status: 1 });
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'erin' });
});

test('(f) with the NAS list configured, only a listed NAS with a verifying Request Authenticator binds (RFC 2866 §3)', () => {
  const o = new Office({ radiusSecrets: NAS_SECRETS() });
  // A LAN host writing as the NAS without its secret: refused (the server may still answer it).
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'mallory', status: 1, secret: 'guess' });
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'mallory', status: 1, secret: 'guess' });
  // An unlisted NAS, even one that knows a secret.
  o.radius({ nas: '10.9.0.66', nasMac: EVIL_MAC, user: 'mallory', status: 1 });
  assert.equal(o.counter('devices.logon_radius_unverified'), 3);
  assert.equal(o.counter('devices.logon_bound'), 0);
  assert.equal(userOf(o.tlsFlow()), undefined);
  // The listed NAS with its secret binds (the request verifies: no server pin needed first).
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'erin', status: 1 });
  assert.equal(o.counter('devices.logon_bound'), 1);
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'erin' });
  // A verified stop from the listed NAS ends it; a forged stop would not have.
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'erin', status: 2, secret: 'guess' });
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'erin' });
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'erin', status: 2 });
  assert.equal(userOf(o.tlsFlow()), undefined);
});

test('a RADIUS start names the station by Calling-Station-Id first: a Wi-Fi client named only by RADIUS gets its user', () => {
  const o = new Office({ radiusSecrets: NAS_SECRETS() });
  const PHONE_MAC = '00:16:3e:09:00:20', PHONE = '10.9.0.20';
  o.dora(0x0920, PHONE_MAC, PHONE);
  // Framed-IP-Address wrong (a stale one: the PC's), station MAC the phone's: the phone gets it.
  o.radius({ nas: ROUTER, nasMac: ROUTER_MAC, user: 'frank@corp.example', status: 1, station: PHONE_MAC, framedIp: PHONE });
  const phone = o.store.devices.byMacAddress(PHONE_MAC)!;
  assert.equal(o.store.users.userAt(phone, o.nowMs)?.name, 'frank@corp.example');
  assert.equal(userOf(o.tlsFlow()), undefined, 'the PC got no user');
});

test('a Kerberos binding ends with the ticket (the AS-REQ till); a TGS exchange naming the user refreshes it', () => {
  const o = new Office();
  o.asExchange('alice', { till: krbTime(o.nowMs + 60_000) });
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'alice', domain: REALM });
  o.advance(61_000);
  assert.equal(userOf(o.tlsFlow()), undefined, 'the ticket ended');

  const r = new Office();
  r.asExchange('alice', { till: krbTime(r.nowMs + 60_000) });
  r.advance(30_000);
  r.tgs('alice', krbTime(r.nowMs + 3_600_000));
  assert.equal(r.counter('devices.logon_refreshed'), 1);
  r.advance(31_000);
  assert.deepEqual(userOf(r.tlsFlow()), { name: 'alice', domain: REALM });
  // A TGS naming someone else binds nobody (a cached ticket says nothing of who sits there).
  const t = new Office();
  t.asExchange('bootstrap$'); // pins the KDC
  t.tgs('bob');
  assert.equal(t.counter('devices.logon_bound'), 0);
  assert.equal(userOf(t.tlsFlow()), undefined);
});

test('a binding ends when the device no longer holds the address the logon came from', () => {
  const o = new Office();
  o.asExchange('alice');
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'alice', domain: REALM });
  // The PC's address goes to another host (its lease moved); the PC's logon does not follow.
  o.dora(0x0966, EVIL_MAC, PC);
  const pc = o.store.devices.byMacAddress(PC_MAC)!;
  assert.equal(o.store.users.userAt(pc, o.nowMs), undefined);
  assert.equal(userOf(o.tlsFlow()), undefined, 'the new holder of the address gets no user');
});

test('a newer logon replaces the user; a replaced user active again while the newer is current marks the device shared', () => {
  const o = new Office();
  o.asExchange('alice');
  o.asExchange('bob');
  assert.deepEqual(userOf(o.tlsFlow()), { name: 'bob', domain: REALM });
  const pc = o.store.devices.byMacAddress(PC_MAC)!;
  assert.deepEqual(pc.users.map((u) => [u.name, u.endedBy]), [['alice', 'replaced'], ['bob', undefined]]);
  assert.equal(o.counter('devices.user_withheld_shared'), 0);
  // alice's session is still there (a terminal server): her ticket requests go on.
  o.tgs('alice');
  assert.equal(o.counter('devices.logon_shared'), 1);
  assert.equal(userOf(o.tlsFlow()), undefined, 'no single user on a shared device');
  assert.equal(o.counter('devices.user_withheld_shared'), 1);
  assert.ok(pc.sharedFromMs !== undefined && pc.sharedToMs! > o.nowMs);
});

test('a machine account names the device (lowest trust), not a user', () => {
  const o = new Office();
  o.asExchange('PC-10$');
  assert.equal(o.counter('devices.logon_machine_account'), 1);
  assert.equal(o.store.devices.byMacAddress(PC_MAC)!.hostname, 'pc-10');
});

test('every binding keeps its evidence: protocol, time, client address and the uid of its Authentication event', () => {
  const o = new Office();
  o.asExchange('alice');
  const ev = o.events.filter((e) => e.class_uid === 3002 && e.status_id === 1).at(-1)!;
  const span = o.store.devices.byMacAddress(PC_MAC)!.users.at(-1)!;
  assert.deepEqual([span.source, span.fromMs, span.ip, span.logonUid], ['kerberos', ev.time, PC, ev.metadata.uid]);
});

test('server MAC pins survive a restart: a forged answer after it is refused, not taken as the first one', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-pins-'));
  try {
    const s1 = new DeviceStore();
    s1.open(join(dir, 'devices'));
    const a = new Office({ store: s1 });
    a.asExchange('alice');
    const t = a.nowMs;
    await s1.close();
    const s2 = new DeviceStore();
    s2.open(join(dir, 'devices'));
    const b = new Office({ store: s2, startMs: t + 1000 });
    assert.deepEqual(userOf(b.tlsFlow()), { name: 'alice', domain: REALM }, 'the binding survived');
    const p = 47000;
    b.krb(true, p, K.kdcReq({ cname: 'mallory', realm: REALM, sname: `krbtgt/${REALM}` }));
    b.krb(false, p, K.kdcRep({ cname: 'mallory', crealm: REALM, sname: `krbtgt/${REALM}` }), EVIL_MAC);
    assert.equal(b.counter('devices.logon_server_mac_mismatch'), 1);
    assert.equal(b.counter('devices.logon_server_unknown'), 0);
    assert.deepEqual(userOf(b.tlsFlow()), { name: 'alice', domain: REALM });
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bound user keeps its source across a restart (LMDB); spans stored without one read as the agent\'s', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'outpost-logon-'));
  try {
    const o = new Office();
    o.store.open(join(dir, 'devices'));
    o.asExchange('alice');
    const at = o.nowMs;
    const d = o.store.addresses.lookup(PC, at)!;
    // A span as saved before spans had a source (an agent's report).
    d.users.push({ name: 'old', fromMs: at - 10, toMs: at - 5 });
    o.store.devices.addEvidence(d, { kind: 'test', value: 'mark', source: 'test', atMs: at });
    await o.store.close();
    const s2 = new DeviceStore();
    s2.open(join(dir, 'devices'));
    const d2 = s2.addresses.lookup(PC, at)!;
    assert.deepEqual(d2.users.map((u) => [u.name, u.source]), [['alice', 'kerberos'], ['old', undefined]]);
    assert.equal(s2.users.userAt(d2, at)!.name, 'alice');
    // The old span, current at its time, is an agent's: an NTLM logon then does not replace it.
    assert.equal(s2.users.bindLogon(d2, { name: 'bob' }, 'ntlm', at - 7, { untilMs: at - 7 + 1000 }), 'lower_trust');
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
