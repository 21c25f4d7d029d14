import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseStatus } from '../parse-status.js';
import { ArpMessage, parseArp, arpPayloadOffset } from './arp.js';
import { NdpMessage, parseNdp } from './ndp.js';
import { ethernet, ethernetTagged, mac, ipv4Bytes, ipv6Bytes, ETH_ARP } from '../../../test/support/packets.js';

export function arpBody(op: number, sha: string, spa: string, tha: string, tpa: string): Buffer {
  return Buffer.concat([Buffer.from([0, 1, 8, 0, 6, 4, 0, op]), mac(sha), ipv4Bytes(spa), mac(tha), ipv4Bytes(tpa)]);
}

test('ARP (RFC 826): reply, gratuitous (RFC 5227 §3), probe (§2.1.1), VLAN-tagged; malformed counted', () => {
  const m = new ArpMessage();
  const f = ethernet('ff:ff:ff:ff:ff:ff', '00:11:22:33:44:55', ETH_ARP, arpBody(2, '00:11:22:33:44:55', '10.0.0.5', '00:00:00:00:00:01', '10.0.0.1'), 60);
  const o = arpPayloadOffset(f, 0, f.length, 1);
  assert.equal(o, 14);
  assert.equal(parseArp(f, o, f.length, m), ParseStatus.OK);
  assert.equal(m.operation, 2);
  assert.equal(m.senderIp, 0x0a000005);
  assert.equal(m.gratuitous, false);
  const g = arpBody(1, '00:11:22:33:44:55', '10.0.0.5', '00:00:00:00:00:00', '10.0.0.5');
  assert.equal(parseArp(g, 0, g.length, m), ParseStatus.OK);
  assert.equal(m.gratuitous, true);
  const p = arpBody(1, '00:11:22:33:44:55', '0.0.0.0', '00:00:00:00:00:00', '10.0.0.5');
  assert.equal(parseArp(p, 0, p.length, m), ParseStatus.OK);
  assert.equal(m.probe, true);
  const tagged = ethernetTagged('ff:ff:ff:ff:ff:ff', '00:11:22:33:44:55', [{ id: 10 }], ETH_ARP, g);
  assert.equal(arpPayloadOffset(tagged, 0, tagged.length, 1), 18);
  assert.equal(parseArp(g, 0, 20, m), ParseStatus.MALFORMED);
  const badOp = Buffer.from(g); badOp[7] = 9;
  assert.equal(parseArp(badOp, 0, badOp.length, m), ParseStatus.MALFORMED);
  const notEth = Buffer.from(g); notEth[1] = 6;
  assert.equal(parseArp(notEth, 0, notEth.length, m), ParseStatus.NOT_MINE);
  for (let n = 0; n <= g.length; n++) parseArp(g, 0, n, m);
});

test('NDP (RFC 4861): NA with target link-layer address, NS with source link-layer address; zero-length option', () => {
  const m = new NdpMessage();
  const target = ipv6Bytes('2001:db8::5');
  const na = Buffer.concat([Buffer.from([136, 0, 0, 0, 0x60, 0, 0, 0]), target, Buffer.from([2, 1]), mac('00:11:22:33:44:55')]);
  assert.equal(parseNdp(na, 0, na.length, m), ParseStatus.OK);
  assert.equal(m.solicited, true);
  assert.equal(m.override, true);
  assert.equal(m.targetLinkAddrOffset, 26);
  const ns = Buffer.concat([Buffer.from([135, 0, 0, 0, 0, 0, 0, 0]), target, Buffer.from([1, 1]), mac('00:11:22:33:44:66')]);
  assert.equal(parseNdp(ns, 0, ns.length, m), ParseStatus.OK);
  assert.equal(m.sourceLinkAddrOffset, 26);
  const bad = Buffer.concat([Buffer.from([135, 0, 0, 0, 0, 0, 0, 0]), target, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])]);
  assert.equal(parseNdp(bad, 0, bad.length, m), ParseStatus.MALFORMED);
  assert.equal(parseNdp(ns, 0, 20, m), ParseStatus.MALFORMED);
  const echo = Buffer.from([128, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(parseNdp(echo, 0, echo.length, m), ParseStatus.NOT_MINE);
  for (let n = 0; n <= na.length; n++) parseNdp(na, 0, n, m);
});
