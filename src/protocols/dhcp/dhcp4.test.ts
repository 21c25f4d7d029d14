import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { Dhcp4Message, parseDhcp4, Dhcp4Error } from './dhcp4.js';
import { Dhcp6Message, parseDhcp6, DHCP6_TYPE_NAMES, Dhcp6Error, DHCP6_MAX_IA_ADDRESSES } from './dhcp6.js';
import { dhcp4Info, dhcp6Info } from './fields.js';
import { DhcpCounters } from './counters.js';
import { dhcp4, dhcp6, opt6, ip4, u32be, str } from '../../../test/fixtures/dhcp.js';

const MAC = '00:11:22:33:44:55';

test('DHCPv4 REQUEST: every identity option is read (RFC 2132 §9.4, §9.13, §9.14, RFC 4702, RFC 3046)', () => {
  const fqdn = Buffer.concat([Buffer.from([0x05, 0, 0]), Buffer.from([6]), str('laptop'), Buffer.from([3]), str('lan'), Buffer.from([0])]);
  const relay = Buffer.from([1, 2, 0xab, 0xcd, 2, 1, 0x07]);
  const buf = dhcp4({
    xid: 0xdeadbeef, mac: MAC, msgType: 3, giaddr: '10.0.0.1', options: [
      [12, str('laptop')], [50, ip4('10.0.0.7')], [54, ip4('10.0.0.1')], [55, Buffer.from([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252])],
      [60, str('MSFT 5.0')], [61, Buffer.from([1, 0, 0x11, 0x22, 0x33, 0x44, 0x55])], [81, fqdn], [82, relay],
    ],
  });
  const m = new Dhcp4Message();
  assert.equal(parseDhcp4(buf, 0, buf.length, m), ParseStatus.OK);
  const info = dhcp4Info(buf, m);
  assert.equal(info.msgTypeName, 'REQUEST');
  assert.equal(info.xid, 0xdeadbeef);
  assert.equal(info.mac, MAC);
  assert.equal(info.hostName, 'laptop');
  assert.equal(info.clientFqdn, 'laptop.lan');
  assert.equal(info.requestedAddr, '10.0.0.7');
  assert.equal(info.serverId, '10.0.0.1');
  assert.equal(info.giaddr, '10.0.0.1');
  assert.equal(info.vendorClass, 'MSFT 5.0');
  assert.equal(info.clientId, '01001122334455');
  assert.deepEqual(info.paramRequestList, [1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]);
  assert.equal(info.relayCircuitId, 'abcd');
  assert.equal(info.relayRemoteId, '07');
});

test('DHCPv4 ACK: assigned address and lease time; overload (RFC 2132 §9.3) reads options from file and sname', () => {
  const file = Buffer.concat([Buffer.from([51, 4]), u32be(3600), Buffer.from([255])]);
  const sname = Buffer.concat([Buffer.from([12, 3]), str('abc'), Buffer.from([255])]);
  const buf = dhcp4({ xid: 1, mac: MAC, msgType: 5, yiaddr: '10.0.0.9', options: [[52, Buffer.from([3])]], file, sname });
  const m = new Dhcp4Message();
  assert.equal(parseDhcp4(buf, 0, buf.length, m), ParseStatus.OK);
  const info = dhcp4Info(buf, m);
  assert.equal(info.op, 2);
  assert.equal(info.yiaddr, '10.0.0.9');
  assert.equal(info.leaseTimeS, 3600);
  assert.equal(info.hostName, 'abc');
});

test('DHCPv4 malformed input: each reason is a distinct counter, nothing throws', () => {
  const c = new DhcpCounters();
  const m = new Dhcp4Message();
  const run = (b: Buffer): ParseStatus => { const s = parseDhcp4(b, 0, b.length, m); if (s === ParseStatus.MALFORMED || m.error !== Dhcp4Error.NONE) c.countV4(m.error); if (s === ParseStatus.NOT_MINE) c.v4NotDhcp++; return s; };
  const ok = dhcp4({ xid: 1, mac: MAC, msgType: 1, options: [[12, str('x')]] });
  assert.equal(run(ok.subarray(0, 200)), ParseStatus.MALFORMED); // truncated header
  assert.equal(run(Buffer.concat([ok.subarray(0, 240), Buffer.from([12, 10, 1])])), ParseStatus.MALFORMED); // option past end
  assert.equal(run(dhcp4({ xid: 1, mac: MAC, options: [[12, str('x')]] })), ParseStatus.MALFORMED); // no type
  assert.equal(run(dhcp4({ xid: 1, mac: MAC, msgType: 5, options: [[51, Buffer.from([1, 2])]] })), ParseStatus.OK); // lease len 2
  const bootp = Buffer.from(ok); bootp.writeUInt32BE(0, 236);
  assert.equal(run(bootp), ParseStatus.NOT_MINE);
  const badOp = Buffer.from(ok); badOp[0] = 9;
  assert.equal(run(badOp), ParseStatus.MALFORMED);
  const s = c.snapshot();
  assert.equal(s['dhcp.v4.malformed.truncated'], 1);
  assert.equal(s['dhcp.v4.malformed.option_truncated'], 1);
  assert.equal(s['dhcp.v4.malformed.no_message_type'], 1);
  assert.equal(s['dhcp.v4.malformed.option_bad_length'], 1);
  assert.equal(s['dhcp.v4.malformed.bad_op'], 1);
  assert.equal(s['dhcp.v4.not_dhcp'], 1);
  // Every prefix of a valid message and random bytes: no throw, a defined status.
  for (let n = 0; n <= ok.length; n++) parseDhcp4(ok, 0, n, m);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(ok);
    for (let k = 0; k < 4; k++) b[236 + Math.floor(Math.random() * (b.length - 236))] = Math.floor(Math.random() * 256);
    assert.ok([0, 1, 2, 3].includes(parseDhcp4(b, 0, b.length, m)));
  }
});

test('DHCPv6 REPLY inside RELAY-REPL: DUID, IA_NA address and valid lifetime, FQDN (RFC 8415 §9, §21.4, §21.6; RFC 4704)', () => {
  const duid = Buffer.from([0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 0, 0x11, 0x22, 0x33, 0x44, 0x55]);
  const addr = Buffer.from('20010db8000000000000000000000042', 'hex');
  const iaaddr = opt6(5, Buffer.concat([addr, u32be(1800), u32be(3600)]));
  const iana = opt6(3, Buffer.concat([u32be(1), u32be(0), u32be(0), iaaddr]));
  const fqdn = opt6(39, Buffer.concat([Buffer.from([1, 4]), str('host'), Buffer.from([0])]));
  const inner = dhcp6(7, 0x123456, [opt6(1, duid), opt6(2, Buffer.from([0, 3, 0, 1, 1, 2, 3, 4, 5, 6])), iana, fqdn]);
  const relay = Buffer.concat([Buffer.from([13, 0]), Buffer.alloc(32), opt6(9, inner)]);
  const m = new Dhcp6Message();
  assert.equal(parseDhcp6(relay, 0, relay.length, m), ParseStatus.OK);
  assert.equal(m.relayDepth, 1);
  const info = dhcp6Info(relay, m, DHCP6_TYPE_NAMES);
  assert.equal(info.msgTypeName, 'REPLY');
  assert.equal(info.xid, 0x123456);
  assert.equal(info.duidMac, '00:11:22:33:44:55');
  assert.equal(info.iaAddress, '2001:db8::42');
  assert.equal(info.validLifetimeS, 3600);
  assert.equal(info.clientFqdn, 'host');
  // Truncations never throw; a cut option is MALFORMED.
  for (let n = 0; n <= relay.length; n++) parseDhcp6(relay, 0, n, m);
  const cut = relay.subarray(0, relay.length - 3);
  assert.equal(parseDhcp6(cut, 0, cut.length, m), ParseStatus.MALFORMED);
  // Relay nesting beyond the hop limit (§19: HOP_COUNT_LIMIT 8).
  let nested = inner;
  for (let i = 0; i < 9; i++) nested = Buffer.concat([Buffer.from([12, i]), Buffer.alloc(32), opt6(9, nested)]);
  assert.equal(parseDhcp6(nested, 0, nested.length, m), ParseStatus.MALFORMED);
  assert.equal(m.error, Dhcp6Error.RELAY_TOO_DEEP);
});

test('DHCPv6: every IA Address of every IA_NA is kept with its IAID and lifetime, up to DHCP6_MAX_IA_ADDRESSES (RFC 8415 §21.4, §21.6)', () => {
  const addr = (n: number) => Buffer.from(`20010db80000000000000000000000${n.toString(16).padStart(2, '0')}`, 'hex');
  const iaaddr = (n: number) => opt6(5, Buffer.concat([addr(n), u32be(100 * n), u32be(200 * n)]));
  const iana = (iaid: number, ns: number[]) => opt6(3, Buffer.concat([u32be(iaid), u32be(0), u32be(0), ...ns.map(iaaddr)]));
  const buf = dhcp6(7, 1, [iana(7, [1, 2]), iana(9, [3])]);
  const m = new Dhcp6Message();
  assert.equal(parseDhcp6(buf, 0, buf.length, m), ParseStatus.OK);
  const info = dhcp6Info(buf, m, DHCP6_TYPE_NAMES);
  assert.deepEqual(info.iaAddresses, [
    { address: '2001:db8::1', iaid: 7, validLifetimeS: 200 },
    { address: '2001:db8::2', iaid: 7, validLifetimeS: 400 },
    { address: '2001:db8::3', iaid: 9, validLifetimeS: 600 },
  ]);
  assert.equal(info.iaAddress, '2001:db8::1');
  assert.equal(info.iaAddressesDropped, undefined);
  const many = Array.from({ length: DHCP6_MAX_IA_ADDRESSES + 2 }, (_, i) => i + 1);
  const big = dhcp6(7, 2, [iana(1, many.slice(0, 4)), iana(2, many.slice(4))]);
  assert.equal(parseDhcp6(big, 0, big.length, m), ParseStatus.OK);
  assert.equal(m.iaAddrCount, DHCP6_MAX_IA_ADDRESSES);
  assert.equal(m.iaAddrDropped, 2);
  const bigInfo = dhcp6Info(big, m, DHCP6_TYPE_NAMES);
  assert.equal(bigInfo.iaAddresses!.length, DHCP6_MAX_IA_ADDRESSES);
  assert.equal(bigInfo.iaAddressesDropped, 2);
  // The next message starts from nothing.
  assert.equal(parseDhcp6(dhcp6(1, 3, []), 0, 4, m), ParseStatus.OK);
  assert.equal(m.iaAddrCount + m.iaAddrDropped, 0);
});

test('DHCPv4 option 82: ids as hex, and as text when printable (RFC 3046 §3.1, §3.2); a sub-option past the end is flagged', () => {
  const m = new Dhcp4Message();
  const read = (v: Buffer) => { const b = dhcp4({ xid: 1, mac: MAC, msgType: 1, options: [[82, v]] }); assert.equal(parseDhcp4(b, 0, b.length, m), ParseStatus.OK); return dhcp4Info(b, m); };
  const a = read(Buffer.concat([Buffer.from([1, 4]), str('eth1'), Buffer.from([2, 3, 0, 0x1b, 0x7f])]));
  assert.deepEqual([a.relayCircuitId, a.relayCircuitIdText, a.relayRemoteId, a.relayRemoteIdText, a.relayAgentTruncated], ['65746831', 'eth1', '001b7f', undefined, undefined]);
  const cut = read(Buffer.from([1, 1, 0x41, 2, 5, 1]));
  assert.deepEqual([cut.relayCircuitIdText, cut.relayRemoteId, cut.relayAgentTruncated], ['A', undefined, true]);
});
