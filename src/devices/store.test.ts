import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceStore, Trust } from './store.js';
import { isRandomizedMac, macVendor } from './oui.js';
import { hintFromParamRequestList, hintFromUserAgent, hintFromVendorClass } from './os-hints.js';

const A = '00:11:22:33:44:55', B = '00:11:22:33:44:66';

test('an address moving from device A to B: flows before and after map to the right device', () => {
  const s = new DeviceStore();
  const a = s.links.identify({ mac: A, hostname: 'alpha', trust: Trust.DHCP, source: 'dhcp_ack', atMs: 1000 })!;
  s.addresses.bind('10.0.0.5', a, A, Trust.DHCP, 1000, 1000 + 60_000);
  s.addresses.release('10.0.0.5', 20_000, a.uid);
  const b = s.links.identify({ mac: B, hostname: 'bravo', trust: Trust.DHCP, source: 'dhcp_ack', atMs: 30_000 })!;
  s.addresses.bind('10.0.0.5', b, B, Trust.DHCP, 30_000, 30_000 + 60_000);
  assert.equal(s.addresses.lookup('10.0.0.5', 5_000)?.hostname, 'alpha');
  assert.equal(s.addresses.lookup('10.0.0.5', 25_000), undefined, 'released, not yet re-leased');
  assert.equal(s.addresses.lookup('10.0.0.5', 40_000)?.hostname, 'bravo');
  assert.equal(s.addresses.lookup('10.0.0.5', 500), undefined, 'before any binding');
  assert.equal(s.addresses.lookup('10.0.0.5', 100_000), undefined, 'after the lease expired');
  assert.deepEqual(a.addresses, []);
  assert.deepEqual(b.addresses, ['10.0.0.5']);
});

test('order of trust: ARP cannot take an address from a live DHCP lease; agent overrides DHCP', () => {
  const s = new DeviceStore({ trustHoldMs: 10_000 });
  const a = s.links.identify({ mac: A, trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  const b = s.links.identify({ mac: B, trust: Trust.NEIGHBOR, source: 'arp', atMs: 0 })!;
  s.addresses.bind('10.0.0.5', a, A, Trust.DHCP, 0, 3_600_000);
  assert.equal(s.addresses.bind('10.0.0.5', b, B, Trust.NEIGHBOR, 1000), false);
  assert.equal(s.counters.refusedLowerTrust, 1);
  assert.equal(s.addresses.lookup('10.0.0.5', 2000)?.uid, a.uid);
  const c = s.links.identify({ agentId: 'ag1', trust: Trust.AGENT, source: 'agent', atMs: 3000 })!;
  assert.equal(s.addresses.bind('10.0.0.5', c, undefined, Trust.AGENT, 3000), true);
  assert.equal(s.addresses.lookup('10.0.0.5', 4000)?.uid, 'agent:ag1');
  assert.equal(s.addresses.lookup('10.0.0.5', 2000)?.uid, a.uid, 'history kept');
  // Host names: DHCP does not overwrite the agent's; mDNS does not overwrite DHCP's.
  s.names.setHostname(c, 'laptop-agent', Trust.AGENT, 'agent', 3000);
  s.names.setHostname(c, 'dhcp-name', Trust.DHCP, 'dhcp', 3001);
  assert.equal(c.hostname, 'laptop-agent');
});

test('randomized MACs are linked by DHCP client id and host name, with confidence; unlink splits them back', () => {
  const s = new DeviceStore();
  const r1 = '02:aa:bb:cc:dd:01', r2 = '0a:aa:bb:cc:dd:02', r3 = '06:00:00:00:00:03';
  assert.ok(isRandomizedMac(r1) && isRandomizedMac(r2) && !isRandomizedMac(A));
  const d = s.links.identify({ mac: r1, clientId: 'ff00aa', hostname: 'Pixel-7', trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  assert.equal(d.randomizedMac, true);
  s.addresses.bind('10.0.0.8', d, r1, Trust.DHCP, 0, 100_000);
  const d2 = s.links.identify({ mac: r2, clientId: 'ff00aa', trust: Trust.DHCP, source: 'dhcp', atMs: 10 })!;
  assert.equal(d2, d);
  const d3 = s.links.identify({ mac: r3, hostname: 'pixel-7', trust: Trust.DHCP, source: 'dhcp', atMs: 20 })!;
  assert.equal(d3, d);
  assert.deepEqual(d.links.map((l) => [l.mac, l.reason, l.confidence]), [[r1, 'first', 1], [r2, 'dhcp_client_id', 0.9], [r3, 'hostname', 0.6]]);
  // A globally unique MAC with the same host name is NOT merged.
  const g = s.links.identify({ mac: A, hostname: 'pixel-7', trust: Trust.DHCP, source: 'dhcp', atMs: 30 })!;
  assert.notEqual(g, d);
  s.addresses.bind('10.0.0.9', d, r3, Trust.DHCP, 40, 100_000);
  const split = s.links.unlinkMac(r3, 50)!;
  assert.notEqual(split.uid, d.uid);
  assert.equal(s.addresses.lookup('10.0.0.9', 60)?.uid, split.uid, 'the address used by the split MAC follows it');
  assert.equal(s.addresses.lookup('10.0.0.8', 60)?.uid, d.uid);
  assert.equal(d.links.find((l) => l.mac === r3)?.splitTo, split.uid);
  s.links.linkMac(r3, d.uid, 70);
  assert.equal(s.devices.byMacAddress(r3), d);
  assert.equal(s.counters.macUnlinked, 1);
});

test('bounds: maxDevices evicts the least recently seen; compaction drops old history', () => {
  const s = new DeviceStore({ maxDevices: 2, deviceHistoryRetentionMs: 60_000, maxBindingsPerAddress: 2 });
  const d1 = s.links.identify({ mac: '00:00:00:00:00:01', trust: 2, source: 'arp', atMs: 0 })!;
  s.links.identify({ mac: '00:00:00:00:00:02', trust: 2, source: 'arp', atMs: 1 });
  s.links.identify({ mac: '00:00:00:00:00:01', trust: 2, source: 'arp', atMs: 2 }); // touch d1
  s.links.identify({ mac: '00:00:00:00:00:03', trust: 2, source: 'arp', atMs: 3 });
  assert.equal(s.devices.size, 2);
  assert.equal(s.counters.evicted, 1);
  assert.equal(s.devices.byMacAddress('00:00:00:00:00:02'), undefined);
  assert.equal(s.devices.byMacAddress('00:00:00:00:00:01'), d1);
  const d3 = s.devices.byMacAddress('00:00:00:00:00:03')!;
  s.addresses.bind('10.1.1.1', d1, undefined, Trust.DHCP, 0, 10);
  s.addresses.bind('10.1.1.1', d3, undefined, Trust.DHCP, 20, 30);
  s.addresses.bind('10.1.1.1', d1, undefined, Trust.DHCP, 40, 50);
  assert.equal(s.addresses.history('10.1.1.1').length, 2);
  assert.equal(s.counters.bindingsDropped, 1);
  s.links.identify({ mac: '00:00:00:00:00:03', trust: 2, source: 'arp', atMs: 100_000 });
  const r = s.compact(100_000);
  assert.equal(r.devices, 1, 'd1 not seen for longer than the retention');
  assert.equal(r.bindings, 2);
  assert.equal(s.addresses.history('10.1.1.1').length, 0);
});

test('LMDB: identities and address history survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-devices-'));
  try {
    const s = new DeviceStore();
    s.open(join(dir, 'devices.lmdb'));
    const d = s.links.identify({ mac: A, hostname: 'alpha', clientId: '01aa', trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
    s.addresses.bind('10.0.0.5', d, A, Trust.DHCP, 0, 3_600_000);
    s.users.reportUsers(d, [{ name: 'alice', domain: 'CORP' }], 0);
    await s.close();
    const t = new DeviceStore();
    t.open(join(dir, 'devices.lmdb'));
    assert.equal(t.counters.loaded, 1);
    const back = t.addresses.lookup('10.0.0.5', 1000)!;
    assert.equal(back.hostname, 'alpha');
    assert.equal(t.users.userAt(back, 1000)?.name, 'alice');
    // The indexes are rebuilt: the client id still links a new randomized MAC.
    assert.equal(t.links.identify({ mac: '02:00:00:00:00:09', clientId: '01aa', trust: Trust.DHCP, source: 'dhcp', atMs: 5 })?.uid, d.uid);
    await t.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vendor from the IEEE OUI data; OS hints from vendor class, option 55 and User-Agent', () => {
  assert.match(macVendor('00:00:0c:12:34:56') ?? '', /cisco/i);
  assert.equal(macVendor('02:00:0c:12:34:56'), undefined);
  assert.equal(hintFromVendorClass('MSFT 5.0')?.osName, 'Windows');
  assert.equal(hintFromVendorClass('android-dhcp-13')?.osName, 'Android');
  assert.equal(hintFromParamRequestList([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252])?.osName, 'Windows');
  assert.equal(hintFromUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)')?.osName, 'iOS');
  assert.equal(hintFromUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64)')?.osTypeId, 100);
});

test('a MAC first seen by ARP is linked when its DHCP client id names an existing device: merged, recorded, reversible', () => {
  const s = new DeviceStore();
  const r1 = '02:aa:bb:cc:dd:01', r2 = '02:aa:bb:cc:dd:02';
  const d = s.links.identify({ mac: r1, clientId: '01aa', hostname: 'pixel-7', trust: Trust.DHCP, source: 'dhcp_request', atMs: 0 })!;
  s.addresses.bind('10.0.0.8', d, r1, Trust.DHCP, 0, 3_600_000);
  const w = s.links.identify({ mac: r2, trust: Trust.NEIGHBOR, source: 'arp', atMs: 1000 })!;
  s.addresses.bind('10.0.0.9', w, r2, Trust.NEIGHBOR, 1000);
  assert.notEqual(w, d);
  const got = s.links.identify({ mac: r2, clientId: '01aa', trust: Trust.DHCP, source: 'dhcp_request', atMs: 2000 })!;
  assert.equal(got, d, 'the weak device of the new MAC is folded into the identity with that client id');
  assert.equal(s.devices.byMacAddress(r2), d);
  assert.equal(s.devices.get(w.uid), undefined);
  assert.equal(s.addresses.lookup('10.0.0.9', 1500)?.uid, d.uid, 'the ARP binding moved with the MAC');
  assert.ok(d.addresses.includes('10.0.0.9'));
  const link = d.links.find((l) => l.mac === r2)!;
  assert.deepEqual([link.reason, link.confidence, link.value, link.mergedFrom], ['dhcp_client_id', 0.9, '01aa', w.uid]);
  assert.equal(s.counters.macLinked, 1);
  // Reversible: unlinkMac splits it out again with its intervals, and the split sticks.
  const split = s.links.unlinkMac(r2, 3000)!;
  assert.equal(s.addresses.lookup('10.0.0.9', 3500)?.uid, split.uid);
  assert.equal(s.links.identify({ mac: r2, clientId: '01aa', trust: Trust.DHCP, source: 'dhcp_request', atMs: 4000 }), split);
  assert.equal(s.links.identify({ mac: '02:aa:bb:cc:dd:03', clientId: '01aa', trust: Trust.DHCP, source: 'dhcp_request', atMs: 5000 }), d,
    'the client id still names the original device');
});

test('an agent listing a MAC known only from ARP folds that device in (reason agent); another agent\'s MAC is a conflict', () => {
  const s = new DeviceStore();
  const ag = s.links.identify({ agentId: 'laptop', trust: Trust.AGENT, source: 'agent', atMs: 0 })!;
  const w = s.links.identify({ mac: B, trust: Trust.NEIGHBOR, source: 'arp', atMs: 10 })!;
  s.addresses.bind('10.0.0.7', w, B, Trust.NEIGHBOR, 10);
  assert.equal(s.links.identify({ agentId: 'laptop', mac: B, trust: Trust.AGENT, source: 'agent', atMs: 20 }), ag);
  assert.equal(s.devices.get(w.uid), undefined);
  assert.equal(s.addresses.lookup('10.0.0.7', 30)?.uid, ag.uid);
  assert.deepEqual(ag.links.map((l) => [l.mac, l.reason, l.confidence, l.mergedFrom]), [[B, 'agent', 1, w.uid]]);
  const other = s.links.identify({ agentId: 'desktop', mac: A, trust: Trust.AGENT, source: 'agent', atMs: 30 })!;
  assert.equal(s.links.identify({ agentId: 'laptop', mac: A, trust: Trust.AGENT, source: 'agent', atMs: 40 }), ag);
  assert.equal(s.devices.byMacAddress(A), other, 'a MAC of another agent stays there');
  assert.equal(s.counters.linkConflicts, 1);
});

test('two strong identities with one client id: the index keeps the first, the conflict is counted', () => {
  const s = new DeviceStore();
  const a = s.links.identify({ mac: A, clientId: 'cid', trust: Trust.DHCP, source: 'dhcp_request', atMs: 0 })!;
  const b = s.links.identify({ mac: B, hostname: 'bravo', trust: Trust.DHCP, source: 'dhcp_request', atMs: 10 })!;
  assert.equal(s.links.identify({ mac: B, clientId: 'cid', trust: Trust.DHCP, source: 'dhcp_request', atMs: 20 }), b, 'B keeps its own identity');
  assert.equal(s.devices.byMacAddress(A), a);
  assert.equal(s.snapshot()['devices.link_conflicts'], 1);
  assert.equal(s.links.identify({ mac: '02:00:00:00:00:07', clientId: 'cid', trust: Trust.DHCP, source: 'dhcp_request', atMs: 30 }), a,
    'the client id index was not repointed to B');
});

test('a low-trust (mDNS) host name never links a MAC; a DHCP one does', () => {
  const s = new DeviceStore();
  const a = s.links.identify({ mac: A, trust: Trust.DNS, source: 'mdns', atMs: 0 })!;
  s.names.setHostname(a, 'ceo-laptop', Trust.DNS, 'mdns', 0);
  const r = s.links.identify({ mac: '02:00:00:00:00:01', hostname: 'ceo-laptop', trust: Trust.DHCP, source: 'dhcp_request', atMs: 10 })!;
  assert.notEqual(r, a, 'the mDNS name did not absorb the randomized MAC');
  assert.equal(r.hostname, 'ceo-laptop');
  // The DHCP-named device now owns the name for linking.
  assert.equal(s.links.identify({ mac: '02:00:00:00:00:02', hostname: 'CEO-laptop', trust: Trust.DHCP, source: 'dhcp_request', atMs: 20 }), r);
  // A name announced by mDNS is not passed as linking evidence even in a sighting.
  assert.notEqual(s.links.identify({ mac: '02:00:00:00:00:03', hostname: 'ceo-laptop', trust: Trust.DNS, source: 'mdns', atMs: 30 }), r);
});

test('bindings inserted out of time order: lookup answers before, between and after', () => {
  const s = new DeviceStore();
  const a = s.links.identify({ mac: A, trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  const b = s.links.identify({ mac: B, trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  const c = s.links.identify({ mac: '00:11:22:33:44:77', trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  s.addresses.bind('10.0.0.5', b, B, Trust.DHCP, 50_000, 150_000);
  s.addresses.bind('10.0.0.5', a, A, Trust.DHCP, 10_000, 110_000); // arrives late
  assert.equal(s.addresses.lookup('10.0.0.5', 5_000), undefined, 'before');
  assert.equal(s.addresses.lookup('10.0.0.5', 20_000)?.uid, a.uid, 'between');
  assert.equal(s.addresses.lookup('10.0.0.5', 60_000)?.uid, b.uid, 'after: the newer holder');
  assert.deepEqual(b.addresses, ['10.0.0.5'], 'the current holder is still B');
  assert.deepEqual(a.addresses, []);
  assert.ok(s.addresses.history('10.0.0.5').every((x) => x.toMs > x.fromMs), 'no zero-length interval');
  // A late binding between two holders splits the earlier one's interval.
  s.addresses.bind('10.0.0.6', a, A, Trust.DHCP, 1_000, 100_000);
  s.addresses.bind('10.0.0.6', c, undefined, Trust.DHCP, 50_000, 150_000);
  s.addresses.bind('10.0.0.6', b, B, Trust.DHCP, 20_000, 120_000);
  assert.equal(s.addresses.lookup('10.0.0.6', 10_000)?.uid, a.uid);
  assert.equal(s.addresses.lookup('10.0.0.6', 30_000)?.uid, b.uid);
  assert.equal(s.addresses.lookup('10.0.0.6', 60_000)?.uid, c.uid);
  assert.deepEqual(s.addresses.history('10.0.0.6').map((x) => x.uid), [a.uid, b.uid, c.uid]);
});

test('address cap: an address with only closed intervals is evicted before one that is held', () => {
  const s = new DeviceStore({ maxDevices: 1 }); // 8 addresses
  const d = s.links.identify({ mac: A, trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  s.addresses.bind('10.9.0.1', d, A, Trust.DHCP, 0, 1e9);
  for (let i = 2; i <= 8; i++) { s.addresses.bind(`10.9.0.${i}`, d, A, Trust.NEIGHBOR, i); s.addresses.release(`10.9.0.${i}`, i + 1); }
  s.addresses.bind('10.9.0.9', d, A, Trust.DHCP, 100, 1e9);
  assert.equal(s.addresses.lookup('10.9.0.1', 200)?.uid, d.uid, 'the held address survived');
  assert.equal(s.addresses.history('10.9.0.2').length, 0, 'the oldest closed one went');
  let snap = s.snapshot();
  assert.equal(snap['devices.addresses_evicted'], 1);
  assert.equal(snap['devices.addresses_evicted_expired'], 1);
  assert.equal(snap['devices.addresses_evicted_held'], 0);
  // Only held addresses left: one of them has to go, counted as such.
  for (let i = 10; i <= 16; i++) s.addresses.bind(`10.9.0.${i}`, d, A, Trust.DHCP, 300 + i, 1e9);
  snap = s.snapshot();
  assert.ok((snap['devices.addresses_evicted_held'] ?? 0) > 0);
  assert.ok(d.addresses.length <= 16);
  for (const a of d.addresses) assert.ok(s.addresses.history(a).length > 0, `${a} listed by the device is still tracked`);
});
