/** `outpost replay` as a command: output, --stats, --emit, exit codes and error messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ethernet, ipv4, udp, pcapFile, ETH_IPV4, PROTO_UDP } from './support/packets.js';
import { dhcp4, ip4, u32be, str } from './fixtures/dhcp.js';

const dir = mkdtempSync(join(tmpdir(), 'outpost-cli-'));
function outpost(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8' });
}

function capture(): string {
  const frames = [
    ethernet('02:00:00:00:00:02', '02:00:00:00:00:01', ETH_IPV4, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: PROTO_UDP }, udp({ sport: 1234, dport: 53 }, Buffer.alloc(20)))),
    ethernet('02:00:00:00:00:01', '02:00:00:00:00:02', ETH_IPV4, ipv4({ src: '10.0.0.2', dst: '10.0.0.1', proto: PROTO_UDP }, udp({ sport: 53, dport: 1234 }, Buffer.alloc(60)))),
    // A frame whose IPv4 total length lies (longer than the frame): counted, not fatal.
    ethernet('02:00:00:00:00:02', '02:00:00:00:00:01', ETH_IPV4, ipv4({ src: '10.0.0.1', dst: '10.0.0.3', proto: PROTO_UDP, totalLength: 1400 }, udp({ sport: 1, dport: 2 }))),
  ];
  const path = join(dir, 'small.pcap');
  writeFileSync(path, pcapFile(frames.map((data, i) => ({ data, tsUs: 1_700_000_000_000_000 + i })), 1));
  return path;
}

test('replay writes one OCSF event per line and --stats a JSON summary; by default what the daemon writes', () => {
  const r = outpost('replay', capture(), '--stats');
  assert.equal(r.status, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  // The daemon's default events.emit: the two DNS messages as they go by, the flow when it ends.
  assert.deepEqual(events.map((e) => e.class_uid), [4003, 4003, 4001]);
  const e = events[2];
  assert.deepEqual([e.src_endpoint.ip, e.src_endpoint.port, e.dst_endpoint.ip, e.dst_endpoint.port], ['10.0.0.1', 1234, '10.0.0.2', 53]);
  assert.deepEqual([e.traffic.packets_out, e.traffic.packets_in], [1, 1]);
  const stats = JSON.parse(r.stderr);
  // Device identity and discovery run, as in the daemon: their counters are in the summary.
  assert.deepEqual(stats.components, ['devices', 'discovery']);
  assert.equal(stats.counters['discovery.events_seen'], 1);
  assert.equal(stats.counters['events.processed'], 3);
  assert.equal(stats.counters['events.written'], 3);
  assert.equal(stats.counters['decode.packets'], 3);
  assert.equal(stats.counters['decode.ipv4_bad_total_length'], 1);
  assert.equal(stats.counters['flows.created'], 1);
  assert.equal(typeof stats.packetsPerSecond, 'number');
  assert.equal(typeof stats.elapsedMs, 'number');
});

test('--emit and --without narrow the replay to the sensor alone', () => {
  const r = outpost('replay', capture(), '--emit', 'network', '--without', 'devices,discovery', '--stats');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]!).class_uid, 4001);
  const stats = JSON.parse(r.stderr);
  assert.deepEqual(stats.components, []);
  assert.equal(stats.counters['discovery.events_seen'], undefined);
  const both = outpost('replay', capture(), '--with', 'devices', '--without', 'discovery');
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--with and --without/);
  const bad = outpost('replay', capture(), '--without', 'dhcp');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown component "dhcp"/);
});

test('--emit none writes no events but still analyses', () => {
  const r = outpost('replay', capture(), '--emit', 'none', '--stats');
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '');
  assert.equal(JSON.parse(r.stderr).counters['flows.created'], 1);
});

test('missing, unreadable and non-capture files fail with a coded message', () => {
  const missing = outpost('replay', join(dir, 'nope.pcap'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /CAPTURE_FILE_NOT_FOUND/);
  const text = join(dir, 'text.pcap');
  writeFileSync(text, 'this is not a capture file\n');
  const notCapture = outpost('replay', text);
  assert.equal(notCapture.status, 1);
  assert.match(notCapture.stderr, /CAPTURE_FILE_NOT_A_CAPTURE/);
  const isDir = outpost('replay', dir);
  assert.equal(isDir.status, 1);
  assert.match(isDir.stderr, /CAPTURE_FILE_/);
});

test('usage errors exit 2 and say what is wrong', () => {
  const none = outpost('replay');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /at least one capture file/);
  const badEmit = outpost('replay', capture(), '--emit', 'bogus');
  assert.equal(badEmit.status, 2);
  assert.match(badEmit.stderr, /unknown event kind "bogus"/);
  const unknown = outpost('frobnicate');
  assert.equal(unknown.status, 2);
});

test('--emit dhcp,inventory: DHCP Activity and Device Inventory Info from a replay (device identity comes along)', () => {
  const clientMac = '02:00:00:00:00:0c', serverMac = '02:00:00:00:00:01';
  const request = dhcp4({ xid: 0x1234abcd, mac: clientMac, msgType: 3, options: [[12, str('desk-7')], [50, ip4('10.0.0.7')], [54, ip4('10.0.0.1')]] });
  const ack = dhcp4({ xid: 0x1234abcd, mac: clientMac, msgType: 5, yiaddr: '10.0.0.7', options: [[51, u32be(3600)], [54, ip4('10.0.0.1')]] });
  // Ethernet source addresses are the hosts' MACs; the IP header carries the DHCP addresses.
  const frames = [
    ethernet('ff:ff:ff:ff:ff:ff', clientMac, ETH_IPV4, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', proto: PROTO_UDP }, udp({ sport: 68, dport: 67 }, request))),
    ethernet(clientMac, serverMac, ETH_IPV4, ipv4({ src: '10.0.0.1', dst: '10.0.0.7', proto: PROTO_UDP }, udp({ sport: 67, dport: 68 }, ack))),
    ethernet(serverMac, clientMac, ETH_IPV4, ipv4({ src: '10.0.0.7', dst: '10.0.0.1', proto: PROTO_UDP }, udp({ sport: 40000, dport: 53 }, Buffer.alloc(30)))),
  ];
  const path = join(dir, 'dhcp.pcap');
  writeFileSync(path, pcapFile(frames.map((data, i) => ({ data, tsUs: 1_700_000_000_000_000 + i * 1000 })), 1));

  const r = outpost('replay', path, '--emit', 'dhcp,inventory', '--stats');
  assert.equal(r.status, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  // Only the kinds asked for are written: no Network Activity, although flows were tracked.
  assert.deepEqual([...new Set(events.map((e) => e.class_uid))].sort(), [4004, 5001]);
  const dhcpTypes = events.filter((e) => e.class_uid === 4004).map((e) => e.activity_name);
  assert.deepEqual(dhcpTypes, ['Request', 'Ack']);
  const ackEvent = events.find((e) => e.class_uid === 4004 && e.activity_name === 'Ack')!;
  assert.equal(ackEvent.src_endpoint.mac, clientMac);
  assert.equal(ackEvent.src_endpoint.ip, '10.0.0.7');
  assert.equal(ackEvent.lease_dur, 3600);
  const inventory = events.filter((e) => e.class_uid === 5001);
  assert.ok(inventory.length >= 1);
  assert.ok(inventory.every((e) => e.device.mac === clientMac));
  assert.ok(inventory.some((e) => e.device.hostname === 'desk-7'));
  const stats = JSON.parse(r.stderr);
  assert.equal(stats.counters['flows.created'], 3);
  // Device identity's counters are part of --stats when it runs.
  assert.ok(Object.keys(stats.counters).some((k) => k.startsWith('dhcp.')), Object.keys(stats.counters).join(' '));

  // Network Activity asked for as well: the flow of the client carries its device.
  const withNetwork = outpost('replay', path, '--emit', 'network,dhcp');
  assert.equal(withNetwork.status, 0, withNetwork.stderr);
  const flowEvents = withNetwork.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>).filter((e) => e.class_uid === 4001);
  const dnsFlow = flowEvents.find((e) => e.dst_endpoint.port === 53)!;
  assert.equal(dnsFlow.device?.mac, clientMac);
  assert.equal(dnsFlow.device?.hostname, 'desk-7');
});
