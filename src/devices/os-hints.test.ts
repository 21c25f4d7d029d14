/**
 * Device types from OS hints: a hint claims Desktop or Laptop only where its signal separates
 * them. macOS's DHCP client sends one option-55 list on every Mac (iMac and MacBook alike), and a
 * ChromeOS User-Agent is the same on Chromebooks and Chromeboxes, so those hints set no type.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceTypeId, OsTypeId, hintFromParamRequestList, hintFromUserAgent, hintFromVendorClass } from './os-hints.js';
import { DeviceStore, Trust } from './store.js';
import { deviceObject } from '../events/device-events.js';

const MACOS_PRL = [1, 121, 3, 6, 15, 119, 252, 95, 44, 46];
const MACOS_OLD_PRL = [1, 121, 3, 6, 15, 114, 119, 252];
const CROS_UA = 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

test('a macOS DHCP fingerprint names the OS, not Desktop or Laptop', () => {
  for (const prl of [MACOS_PRL, MACOS_OLD_PRL]) {
    const h = hintFromParamRequestList(prl);
    assert.equal(h?.osName, 'macOS');
    assert.equal(h?.osTypeId, OsTypeId.MACOS);
    assert.equal(h?.deviceTypeId, undefined, prl.join(','));
  }
  // The same list with more options after it is the same client.
  assert.equal(hintFromParamRequestList([...MACOS_PRL, 108])?.deviceTypeId, undefined);
});

test('a ChromeOS User-Agent names the OS, not Laptop', () => {
  const h = hintFromUserAgent(CROS_UA);
  assert.equal(h?.osName, 'ChromeOS');
  assert.equal(h?.deviceTypeId, undefined);
});

test('hints whose signal does tell the type keep it', () => {
  assert.equal(hintFromParamRequestList([1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46])?.deviceTypeId, DeviceTypeId.MOBILE);
  assert.equal(hintFromVendorClass('android-dhcp-13')?.deviceTypeId, DeviceTypeId.MOBILE);
  assert.equal(hintFromVendorClass('udhcp 1.36.1')?.deviceTypeId, DeviceTypeId.IOT);
  assert.equal(hintFromUserAgent('Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)')?.deviceTypeId, DeviceTypeId.TABLET);
});

test('an iMac seen only by DHCP is type Unknown in OCSF; a type known before is kept', () => {
  const s = new DeviceStore();
  const imac = s.links.identify({ mac: '02:00:00:00:0a:01', hostname: 'studio-imac', trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  s.names.addOsHint(imac, hintFromParamRequestList(MACOS_PRL)!, 0);
  const o = deviceObject(imac, '10.0.0.20');
  assert.equal(o.type_id, DeviceTypeId.UNKNOWN);
  assert.equal(o.type, 'Unknown');
  assert.deepEqual(o.os, { name: 'macOS', type_id: OsTypeId.MACOS, type: 'macOS' });

  // A type another hint gave (here an Android vendor class, then a stronger typeless one) stays.
  const phone = s.links.identify({ mac: '02:00:00:00:0a:02', trust: Trust.DHCP, source: 'dhcp', atMs: 0 })!;
  s.names.addOsHint(phone, hintFromVendorClass('android-dhcp-13')!, 0);
  s.names.addOsHint(phone, { osName: 'Android 14', osTypeId: OsTypeId.ANDROID, confidence: 1, evidence: 'agent:Android 14' }, 1);
  assert.equal(deviceObject(phone).type_id, DeviceTypeId.MOBILE);
});
