/**
 * A deployment inline mode cannot serve: a capture on a Linux bridge device in promiscuous mode
 * while `br_netfilter` hands bridged frames to iptables/nftables (bridge-nf-call-iptables = 1).
 * The bridge then passes every forwarded frame up to the host as a clone that shares the new
 * connection's unconfirmed conntrack entry, and nfnetlink_queue drops such packets instead of
 * queueing them: new flows on the judged ports never connect (seen in test/inline-lab.test.ts's
 * bridge; Linux commit 7d8dc1c7be8d "netfilter: nf_queue: drop packets with cloned unconfirmed
 * conntracks"). Capturing on a member port, or without promiscuous mode, avoids it (README).
 * Pure: the caller gives the reader of /sys and /proc.
 */
import { readFileSync } from 'node:fs';

function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The capture interfaces that are bridge devices captured promiscuously with br_netfilter's calls on. */
export function bridgeCaptureHazards(interfaces: readonly string[], promiscuous: boolean, read: (path: string) => string | undefined = readSys): string[] {
  if (!promiscuous) return [];
  // The sysctl exists only where br_netfilter is loaded (per network namespace).
  if (read('/proc/sys/net/bridge/bridge-nf-call-iptables')?.trim() !== '1') return [];
  // A bridge device has a bridge/ directory in sysfs (bridge_id in it); its member ports do not.
  return interfaces.filter((i) => !i.includes('/') && read(`/sys/class/net/${i}/bridge/bridge_id`) !== undefined);
}
