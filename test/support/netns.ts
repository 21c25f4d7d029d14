/**
 * A veth pair with one end (`hostIf`) in the root namespace and the other (`nsIf`) in a fresh
 * namespace `ns`: the wire that live-capture tests replay onto with tcpreplay. No addresses and
 * no IPv6 on either end, so the only traffic is what the test sends. Needs root.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export interface Wire { ns: string; hostIf: string; nsIf: string }

export function createWire(w: Wire): void {
  spawnSync('ip', ['netns', 'del', w.ns]);
  execFileSync('ip', ['netns', 'add', w.ns]);
  execFileSync('ip', ['link', 'add', w.hostIf, 'type', 'veth', 'peer', 'name', w.nsIf]);
  execFileSync('ip', ['link', 'set', w.nsIf, 'netns', w.ns]);
  spawnSync('sysctl', ['-qw', `net.ipv6.conf.${w.hostIf}.disable_ipv6=1`]);
  spawnSync('ip', ['netns', 'exec', w.ns, 'sysctl', '-qw', `net.ipv6.conf.${w.nsIf}.disable_ipv6=1`]);
  execFileSync('ip', ['link', 'set', w.hostIf, 'up']);
  execFileSync('ip', ['netns', 'exec', w.ns, 'ip', 'link', 'set', w.nsIf, 'up']);
}

/** Best effort: deleting the namespace also deletes the peer end. */
export function removeWire(w: Wire): void {
  spawnSync('ip', ['link', 'del', w.hostIf]);
  spawnSync('ip', ['netns', 'del', w.ns]);
}
