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
  readonly store = new DeviceStore();
  readonly identity = new DeviceIdentity({ store: this.store });
  readonly events: Ev[] = [];
  readonly sensor: Sensor;
  private tMs = 1_700_000_000_000;
  private sport = 40000;
  constructor() {
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
  asExchange(cname: string, o: { fail?: boolean; repMac?: string } = {}): void {
    const req = K.kdcReq({ cname, realm: REALM, sname: `krbtgt/${REALM}` });
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
  /** A RADIUS accounting start for the PC sent by `nas` to the accounting server, and its answer (RFC 2866 §4.1, §4.2). */
  radiusStart(nas: string, nasMac: string, user: string): void {
    const req = K.acctRequest({ id: 7, status: 1, user, framedIp: PC, callingStationId: PC_MAC.replaceAll(':', '-'), nasIp: nas, sessionId: 's1', secret: 'testing123' });
    this.send(ethernet(DC_MAC, nasMac, ETH_IPV4, ipv4({ src: nas, dst: DC, proto: PROTO_UDP }, udp({ sport: 50000, dport: 1813 }, req))));
    this.send(ethernet(nasMac, DC_MAC, ETH_IPV4, ipv4({ src: DC, dst: nas, proto: PROTO_UDP }, udp({ sport: 1813, dport: 50000 }, K.acctResponse(7)))));
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

test('(f) RADIUS accounting without a configured NAS binds nothing', () => {
  const o = new Office();
  o.radiusStart(ROUTER, ROUTER_MAC, 'erin');
  o.radiusStart(ROUTER, ROUTER_MAC, 'erin');
  assert.equal(o.counter('devices.logon_radius_unverified'), 2);
  assert.equal(o.counter('devices.logon_bound'), 0);
  assert.equal(userOf(o.tlsFlow()), undefined);
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
    assert.equal(s2.users.bindLogon(d2, { name: 'bob' }, 'ntlm', at - 7, 1000), false);
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
