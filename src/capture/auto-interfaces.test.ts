import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseInterfaces, ipv4DefaultRouteInterfaces, ipv6DefaultRouteInterfaces, upInterfaces } from './auto-interfaces.js';

// Tables as the kernel prints them (columns tab- and space-separated, trailing blanks kept).
const ROUTE = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT       ',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0        ',
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0        ',
  'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0     ',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0      ',
  'br0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0         ', // unreachable default: RTF_REJECT
  'eth9\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0        ', // not up
].join('\n');
const IPV6_ROUTE = [
  'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth1',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
  '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001       lo',
  '',
].join('\n');

test('IPv4 default routes: up, destination and mask 0, rejects and loopback left out, each interface once', () => {
  assert.deepEqual(ipv4DefaultRouteInterfaces(ROUTE), ['eth0', 'wlan0']);
  assert.deepEqual(ipv4DefaultRouteInterfaces(''), []);
  assert.deepEqual(ipv4DefaultRouteInterfaces('garbage\nmore garbage'), [], 'no header: nothing');
});

test('IPv6 default routes: ::/0 up; the kernel\'s unreachable default on lo is not one', () => {
  assert.deepEqual(ipv6DefaultRouteInterfaces(IPV6_ROUTE), ['eth1']);
  assert.deepEqual(ipv6DefaultRouteInterfaces('short line\n'), []);
});

test('the choice: default-route interfaces of both families; else every up non-loopback one; else none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-ifs-'));
  try {
    const route = join(dir, 'route'), v6 = join(dir, 'ipv6_route'), sys = join(dir, 'net');
    const iface = (name: string, flags: string) => { mkdirSync(join(sys, name), { recursive: true }); writeFileSync(join(sys, name, 'flags'), `${flags}\n`); };
    iface('lo', '0x9'); iface('eth0', '0x1003'); iface('eth1', '0x1002'); iface('span0', '0x1103');
    writeFileSync(route, ROUTE);
    writeFileSync(v6, IPV6_ROUTE);
    const both = chooseInterfaces({ route, ipv6Route: v6, sysClassNet: sys });
    assert.deepEqual(both.interfaces, ['eth0', 'wlan0', 'eth1']);
    assert.equal(both.why, 'default-route');
    assert.match(both.detail, /IPv4 default route via eth0, wlan0; IPv6 default route via eth1/);

    writeFileSync(route, ROUTE.split('\n')[0]!);
    writeFileSync(v6, '');
    const up = chooseInterfaces({ route, ipv6Route: v6, sysClassNet: sys });
    assert.deepEqual(up, { interfaces: ['eth0', 'span0'], why: 'up', detail: up.detail }, 'lo (loopback) and eth1 (down) left out');
    assert.deepEqual(upInterfaces(join(dir, 'absent')), []);

    rmSync(join(sys, 'eth0'), { recursive: true }); rmSync(join(sys, 'span0'), { recursive: true });
    assert.equal(chooseInterfaces({ route, ipv6Route: v6, sysClassNet: sys }).why, 'none');
    assert.equal(chooseInterfaces({ route: join(dir, 'x'), ipv6Route: join(dir, 'y'), sysClassNet: join(dir, 'z') }).why, 'none', 'no procfs: none');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
