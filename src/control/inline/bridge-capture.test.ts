import test from 'node:test';
import assert from 'node:assert/strict';
import { bridgeCaptureHazards } from './bridge-capture.js';

const sys = (files: Record<string, string>) => (p: string): string | undefined => files[p];

test('a promiscuous capture on a bridge device with br_netfilter calls on is named; member ports, calls off or no promiscuous mode are not', () => {
  const on = sys({
    '/proc/sys/net/bridge/bridge-nf-call-iptables': '1\n',
    '/sys/class/net/br-office/bridge/bridge_id': '8000.027701000001\n',
  });
  assert.deepEqual(bridgeCaptureHazards(['br-office', 'eth1', 'eth0'], true, on), ['br-office']);
  assert.deepEqual(bridgeCaptureHazards(['eth1'], true, on), [], 'a member port is fine');
  assert.deepEqual(bridgeCaptureHazards(['br-office'], false, on), [], 'not promiscuous');
  const off = sys({ '/proc/sys/net/bridge/bridge-nf-call-iptables': '0\n', '/sys/class/net/br-office/bridge/bridge_id': '8000.027701000001\n' });
  assert.deepEqual(bridgeCaptureHazards(['br-office'], true, off), [], 'calls off');
  const unloaded = sys({ '/sys/class/net/br-office/bridge/bridge_id': '8000.027701000001\n' });
  assert.deepEqual(bridgeCaptureHazards(['br-office'], true, unloaded), [], 'br_netfilter not loaded');
  assert.deepEqual(bridgeCaptureHazards(['../br-office'], true, on), [], 'no path outside /sys/class/net');
});
