/**
 * The attacker's side of agent heartbeats (docs/SECURITY.md, "Enrolled agents"): an enrolled
 * agent holds a valid secret, so every heartbeat here is correctly signed; what it claims must
 * still be its own. Each case sends the claim and checks it was refused (not applied, counted,
 * kept as evidence) and that the victim's device, address and user are unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { agentRoutes, AgentRegistry, signHeartbeat } from '../../src/devices/agent-routes.js';
import { DeviceIdentity } from '../../src/devices/identity.js';
import { DeviceStore, Trust } from '../../src/devices/store.js';
import type { DevicesConfig } from '../../src/devices/config.js';

const T = 1_700_000_000_000;
const MAC_A = '02:aa:bb:cc:dd:01', MAC_X = '00:16:3e:00:00:42';

async function setup(settings: Partial<DevicesConfig> = {}, maxNonces = 1000) {
  const identity = new DeviceIdentity({ store: new DeviceStore(settings) });
  const registry = new AgentRegistry(10, maxNonces, 300_000);
  const clock = { now: T };
  const app = Fastify();
  await app.register(agentRoutes, { identity, registry, now: () => clock.now });
  await app.ready();
  const secrets = new Map<string, string>();
  const enroll = async (agentId: string, macs?: string[]) => {
    const r = await app.inject({ method: 'POST', url: '/v1/agents/enroll', payload: { agentId, ...(macs ? { macs } : {}) } });
    if (r.statusCode === 201) secrets.set(agentId, r.json().secret as string);
    return r;
  };
  let n = 0;
  const send = (agentId: string, body: object, from = '127.0.0.1', nonce = `nonce-${agentId}-${(n++).toString().padStart(8, '0')}`) => {
    const raw = JSON.stringify({ agentId, ...body });
    const ts = String(clock.now);
    return app.inject({
      method: 'POST', url: '/v1/agents/heartbeat', payload: raw, remoteAddress: from,
      headers: { 'content-type': 'application/json', 'x-outpost-agent': agentId, 'x-outpost-timestamp': ts, 'x-outpost-nonce': nonce, 'x-outpost-signature': signHeartbeat(secrets.get(agentId)!, ts, nonce, raw) },
    });
  };
  return { app, identity, registry, clock, enroll, send };
}

/** A DHCP lease as identity learns it from an ACK (RFC 2131 §3.1): MAC, address, host name, lease time. */
function dhcpLease(identity: DeviceIdentity, mac: string, address: string, hostName: string, atMs: number, leaseS = 3600, xid = 0x1234): void {
  const base = { op: 1, xid, mac, hostName, msgType: 3, msgTypeName: 'REQUEST' };
  identity.learnDhcp4(base as never, atMs);
  identity.learnDhcp4({ op: 2, xid, mac, yiaddr: address, leaseTimeS: leaseS, msgType: 5, msgTypeName: 'ACK' } as never, atMs + 1);
}

const userAt = (identity: DeviceIdentity, address: string, atMs: number) => {
  const d = identity.store.addresses.lookup(address, atMs);
  return d === undefined ? undefined : identity.store.users.userAt(d, atMs)?.name;
};

test('attack 1: agent B claims agent A\'s MAC and address with its own host name and user: nothing of A changes', async (t) => {
  const { app, identity, enroll, send, clock } = await setup();
  t.after(() => app.close());
  await enroll('agent-a'); await enroll('agent-b');
  assert.equal((await send('agent-a', { hostname: 'alice-pc', macs: [MAC_A], addresses: ['10.9.0.60'], users: [{ name: 'alice' }] }, '10.9.0.60')).statusCode, 204);
  const a = identity.store.devices.byAgentId('agent-a')!;
  clock.now += 1000;
  await send('agent-b', { hostname: 'agent2', macs: [MAC_A], addresses: ['10.9.0.60'], users: [{ name: 'eve' }] }, '10.9.0.77');
  assert.equal(a.hostname, 'alice-pc', 'A keeps its host name');
  assert.equal(identity.store.devices.byMacAddress(MAC_A), a, 'the MAC stays on A');
  assert.equal(identity.store.addresses.lookup('10.9.0.60', clock.now + 10_000)?.uid, a.uid, 'later flows from .60 are still A');
  assert.equal(userAt(identity, '10.9.0.60', clock.now + 10_000), 'alice', 'with A\'s user, not eve');
  const b = identity.store.devices.byAgentId('agent-b')!;
  assert.notEqual(b, a, 'B has a device of its own');
  assert.deepEqual(b.macs, []);
  assert.deepEqual(b.evidence.filter((e) => e.kind === 'agent_claim_conflict').map((e) => e.value).sort(),
    [`address 10.9.0.60 is held by ${a.uid} (agent)`, `mac ${MAC_A} is on ${a.uid}`]);
  assert.equal(identity.counters()['devices.agent_claims_conflicts'], 2);
});

test('attack 2: invalid, broadcast, multicast and unspecified values are never stored as bindings', async (t) => {
  const { app, identity, enroll, send, clock } = await setup();
  t.after(() => app.close());
  await enroll('agent-m');
  const badAddresses = ['999.1.1.1', '<svg>', '::', '0.0.0.0', '255.255.255.255', '224.0.0.251', 'ff02::1', '::ffff:10.9.0.5', '10.9.0.5 ', '010.9.0.5'];
  const badMacs = ['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:fb', '33:33:00:00:00:01', '00:00:00:00:00:00', '<svg>', 'zz:zz:zz:zz:zz:zz'];
  assert.equal((await send('agent-m', { macs: badMacs, addresses: badAddresses, users: [{ name: 'mallory' }] })).statusCode, 204);
  for (const a of badAddresses) assert.deepEqual(identity.store.addresses.history(a), [], `${a} bound`);
  for (const m of badMacs) assert.equal(identity.store.devices.byMacAddress(m.toLowerCase()), undefined, `${m} linked`);
  const c = identity.counters();
  assert.equal(c['devices.agent_claims_invalid_mac'], badMacs.length);
  assert.equal(c['devices.agent_claims_not_unicast']! + c['devices.agent_claims_invalid_address']!, badAddresses.length);
  const d = identity.store.devices.byAgentId('agent-m')!;
  assert.equal(d.evidence.filter((e) => e.kind === 'agent_claim_refused').length, badAddresses.length + badMacs.length);
  // A flow from 0.0.0.0 (a DHCP client before its lease) gets no device and no agent's user.
  assert.equal(identity.store.addresses.lookup('0.0.0.0', clock.now + 1000), undefined);
});

test('attack 2b: an agent claiming an address held by a live DHCP lease does not take it over', async (t) => {
  const { app, identity, enroll, send, clock } = await setup();
  t.after(() => app.close());
  dhcpLease(identity, MAC_X, '10.9.0.61', 'printer', T - 60_000);
  const dhcpDevice = identity.store.devices.byMacAddress(MAC_X)!;
  await enroll('agent-e');
  await send('agent-e', { hostname: 'evil', addresses: ['10.9.0.61'], users: [{ name: 'eve' }] }, '10.9.0.99');
  assert.equal(identity.store.addresses.lookup('10.9.0.61', clock.now + 5000)?.uid, dhcpDevice.uid, 'flows from .61 stay the DHCP device\'s');
  assert.equal(userAt(identity, '10.9.0.61', clock.now + 5000), undefined, 'with no user of the agent');
  assert.equal(dhcpDevice.hostname, 'printer');
  assert.equal(identity.counters()['devices.agent_claims_conflicts'], 1);
});

test('attack 2c: an agent claiming a DHCP device\'s MAC from another address is a conflict; from that device\'s own address, or bound at enrollment, it is the agent\'s', async (t) => {
  const { app, identity, enroll, send } = await setup();
  t.after(() => app.close());
  dhcpLease(identity, MAC_X, '10.9.0.62', 'laptop', T - 60_000, 3600, 1);
  dhcpLease(identity, '00:16:3e:00:00:43', '10.9.0.63', 'desk', T - 60_000, 3600, 2);
  dhcpLease(identity, '00:16:3e:00:00:44', '10.9.0.64', 'kiosk', T - 60_000, 3600, 3);
  const victim = identity.store.devices.byMacAddress(MAC_X)!;
  await enroll('agent-x');
  await send('agent-x', { hostname: 'evil', macs: [MAC_X], users: [{ name: 'eve' }] }, '10.9.0.99');
  assert.equal(victim.agentId, undefined, 'the DHCP device is not taken');
  assert.equal(victim.hostname, 'laptop');
  assert.equal(userAt(identity, '10.9.0.62', T + 1000), undefined);
  // The real agent of .63 heartbeats from .63 (IPv4-mapped, as a dual-stack socket reports it).
  await enroll('agent-desk');
  await send('agent-desk', { hostname: 'desk', macs: ['00:16:3e:00:00:43'], users: [{ name: 'dana' }] }, '::ffff:10.9.0.63');
  assert.equal(identity.store.devices.byMacAddress('00:16:3e:00:00:43')!.agentId, 'agent-desk');
  assert.equal(userAt(identity, '10.9.0.63', T + 1000), 'dana');
  // An administrator's assignment at enrollment binds a MAC whatever address the agent sends from.
  assert.equal((await enroll('agent-kiosk', ['00:16:3E:00:00:44'])).statusCode, 201);
  await send('agent-kiosk', { macs: ['00:16:3e:00:00:44'], users: [{ name: 'kim' }] }, '10.9.0.200');
  assert.equal(identity.store.devices.byMacAddress('00:16:3e:00:00:44')!.agentId, 'agent-kiosk');
  const bad = await enroll('agent-bad', ['ff:ff:ff:ff:ff:ff']);
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'AGENT_CLAIM_INVALID');
});

test('attack 2d: address claims racing a DHCP lease: the lease wins while it lives; the agent gets the address once it is released', async (t) => {
  const { app, identity, enroll, send, clock } = await setup();
  t.after(() => app.close());
  await enroll('agent-r');
  // The agent claims .70 first ...
  await send('agent-r', { macs: ['02:00:00:00:00:70'], addresses: ['10.9.0.70'], users: [{ name: 'rita' }] }, '10.9.0.70');
  const ag = identity.store.devices.byAgentId('agent-r')!;
  assert.equal(identity.store.addresses.lookup('10.9.0.70', clock.now + 1)?.uid, ag.uid);
  // ... then the DHCP server leases .70 to another MAC: the address moved (RFC 2131 §4.3.1).
  dhcpLease(identity, MAC_X, '10.9.0.70', 'other', clock.now + 1000);
  const other = identity.store.devices.byMacAddress(MAC_X)!;
  assert.equal(identity.store.addresses.lookup('10.9.0.70', clock.now + 2000)?.uid, other.uid);
  // The agent's next heartbeat within the lease claims it again: refused, the lease holds.
  clock.now += 30_000;
  await send('agent-r', { macs: ['02:00:00:00:00:70'], addresses: ['10.9.0.70'], users: [{ name: 'rita' }] }, '10.9.0.70');
  assert.equal(identity.store.addresses.lookup('10.9.0.70', clock.now + 1000)?.uid, other.uid);
  assert.equal(userAt(identity, '10.9.0.70', clock.now + 1000), undefined);
  // The client releases it (RFC 2131 §4.4.6): the agent's next claim is accepted.
  identity.learnDhcp4({ op: 1, xid: 0x99, mac: MAC_X, ciaddr: '10.9.0.70', msgType: 7, msgTypeName: 'RELEASE' } as never, clock.now + 2000);
  clock.now += 30_000;
  await send('agent-r', { macs: ['02:00:00:00:00:70'], addresses: ['10.9.0.70'], users: [{ name: 'rita' }] }, '10.9.0.70');
  assert.equal(identity.store.addresses.lookup('10.9.0.70', clock.now + 1000)?.uid, ag.uid);
  assert.equal(userAt(identity, '10.9.0.70', clock.now + 1000), 'rita');
  // And a lease handed out after the agent's last report ends the agent's interval (as before).
  dhcpLease(identity, MAC_X, '10.9.0.70', 'other', clock.now + 5000, 3600, 0x55);
  assert.equal(identity.store.addresses.lookup('10.9.0.70', clock.now + 6000)?.uid, other.uid);
  assert.ok(identity.store.addresses.history('10.9.0.70').every((b) => b.trust !== Trust.AGENT || b.uid === ag.uid));
});

test('attack 2e: addresses outside devices.agentAddressScopes are refused', async (t) => {
  const { app, identity, enroll, send, clock } = await setup({ agentAddressScopes: ['10.9.0.0/24', 'fd00::/8'] });
  t.after(() => app.close());
  await enroll('agent-s');
  await send('agent-s', { addresses: ['10.9.0.80', '192.168.1.80', 'fd00::80', '2001:db8::80', '8.8.8.8'] });
  const d = identity.store.devices.byAgentId('agent-s')!;
  assert.equal(identity.store.addresses.lookup('10.9.0.80', clock.now + 1)?.uid, d.uid);
  assert.equal(identity.store.addresses.lookup('fd00::80', clock.now + 1)?.uid, d.uid);
  for (const a of ['192.168.1.80', '2001:db8::80', '8.8.8.8']) assert.deepEqual(identity.store.addresses.history(a), [], a);
  assert.equal(identity.counters()['devices.agent_claims_out_of_scope'], 3);
});

test('attack 6: one agent\'s heartbeats cannot evict another agent\'s nonces (per-agent replay windows)', async (t) => {
  const { app, enroll, send, registry } = await setup({}, 100);
  t.after(() => app.close());
  await enroll('agent-a'); await enroll('agent-b');
  const captured = await send('agent-a', { hostname: 'a' }, '127.0.0.1', 'captured-nonce-000001');
  assert.equal(captured.statusCode, 204);
  for (let i = 0; i < 101; i++) {
    const r = await send('agent-b', { hostname: 'b' });
    assert.equal(r.statusCode, i < 100 ? 204 : 429, `B heartbeat ${i}`);
  }
  const replay = await send('agent-a', { hostname: 'a' }, '127.0.0.1', 'captured-nonce-000001');
  assert.equal(replay.statusCode, 409, 'A\'s captured heartbeat is still a replay');
  assert.equal(replay.json().code, 'AGENT_HEARTBEAT_REPLAYED');
  assert.equal(registry.counters.snapshot()['agents.refused_nonce_window_full'], 1);
  // B's own window refuses rather than forgets: B's first nonce is still known.
  assert.equal((await send('agent-b', { hostname: 'b' }, '127.0.0.1', 'nonce-agent-b-00000000')).statusCode, 409);
});

test('attack 7: a heartbeat at the schema\'s maxima is accepted (the body limit fits it)', async (t) => {
  const { app, enroll, send } = await setup();
  t.after(() => app.close());
  await enroll('a'.repeat(128));
  const s256 = 'u'.repeat(256);
  const body = {
    hostname: 'h'.repeat(255), os: 'o'.repeat(256),
    macs: Array.from({ length: 64 }, (_, i) => `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`),
    addresses: Array.from({ length: 256 }, (_, i) => `fd00:0000:0000:0000:0000:0000:0000:${i.toString(16).padStart(4, '0')}`.padEnd(45, ' ').slice(0, 45)),
    users: Array.from({ length: 64 }, () => ({ name: s256, domain: s256, uid: s256, upn: s256 })),
    time: T,
  };
  const size = JSON.stringify({ agentId: 'a'.repeat(128), ...body }).length;
  assert.ok(size > 82_000, `body ${size} bytes`);
  const r = await send('a'.repeat(128), body, '127.0.0.1', 'nonce-maxima-000001');
  assert.equal(r.statusCode, 204, r.body);
});
