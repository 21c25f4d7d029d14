/**
 * Inline mode's iptables fallback (src/control/inline/iptables.ts, chosen by backend.ts) in a
 * throwaway network namespace, as an administrator's gateway would hold it: other rules in
 * FORWARD and INPUT (filter and mangle, IPv4 and IPv6) and a chain of someone else's. Shown: the
 * chains are installed with one jump each, first in its built-in chain; a crashed run's chains
 * (with a stray rule, a duplicate jump, a jump pushed down by a rule inserted since) are replaced
 * at the next start; at stop the jumps and chains go and nothing else changed, byte for byte; a
 * removal when nothing is there is no error. Then the choice itself: `auto` takes the nftables
 * table where the kernel has nf_tables' queue expression and the chains where it does not,
 * `nftables` alone refuses there, and `auto` with neither working is CONTROL_INLINE_NO_BACKEND.
 *
 * Needs root and iptables (iptables-save/-restore and the ip6tables twins); the choice needs nft.
 * The chains' text (what is installed and removed, without a kernel) is checked first, no root
 * needed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chainRules, installIptables, installRestore, removeIptables, removeRestore, type IptablesPrograms } from '../src/control/inline/iptables.js';
import { installBackend, removeBackend } from '../src/control/inline/backend.js';
import { InlineService } from '../src/control/inline/service.js';
import type { NfqAddon, NfqHandle } from '../src/control/inline/native.js';
import type { InlineConfig } from '../src/control/config.js';
import { nftQueueSupported } from './support/inline-lab.js';

const NS = 'outpost-ipt-test';
const CFG: InlineConfig = {
  enabled: true, backend: 'iptables', queueNumber: 3127, tcpPorts: [80, 443], udpPorts: [443], dnsPorts: [53], dnsNxdomain: true,
  failClosed: false, maxPacketsPerFlow: 8, batchPackets: 64, maxQueueLength: 4096, resetServer: true, readerRealtimePriority: 1, verdictBoostPriority: 1, verdictBoostBudgetMsPerSecond: 500, verdictBoostHoldMs: 2, verdictRealtimePriority: 0,
};
const IN_NS: IptablesPrograms = {
  save: { 4: 'iptables-save', 6: 'ip6tables-save' },
  restore: { 4: 'iptables-restore', 6: 'ip6tables-restore' },
  prefix: ['ip', 'netns', 'exec', NS],
};

const have = (c: string) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = process.getuid?.() !== 0 ? 'needs root (network namespace)'
  : !['iptables-save', 'iptables-restore', 'ip6tables-save', 'ip6tables-restore'].every(have) ? 'iptables not installed (Debian package iptables)' : undefined;
const nftSkip = skip ?? (have('nft') ? undefined : 'nft not installed (Debian package nftables)');

const sh = (...cmd: string[]) => execFileSync('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** Both families' rules, without iptables-save's dated comment lines. */
const saved = () => (sh('iptables-save') + sh('ip6tables-save')).split('\n').filter((l) => !l.startsWith('#')).join('\n');
/** The same, with every line naming an Outpost chain taken out. */
const others = () => saved().split('\n').filter((l) => !/OUTPOST-/.test(l)).join('\n');
const rulesOf = (family: 4 | 6, table: string, chain: string) =>
  sh(family === 4 ? 'iptables-save' : 'ip6tables-save', '-t', table).split('\n').filter((l) => l.startsWith(`-A ${chain} `));
/** Programs that are not there (nothing runs outside the namespace). */
const BROKEN: IptablesPrograms = { save: { 4: '/nonexistent/iptables-save', 6: '/nonexistent/ip6tables-save' }, restore: { 4: '/nonexistent/iptables-restore', 6: '/nonexistent/ip6tables-restore' }, prefix: [] };
/** A wrapper making runNft act inside the namespace. */
const NFT = '/tmp/outpost-ipt-test-nft.sh';

function fakeAddon(): NfqAddon {
  return {
    open: () => ({}) as NfqHandle, verdicts: () => 0, sendRaw: () => true, close: () => {}, setThreadRealtime: () => 0,
    stats: () => ({ packets: 0, batches: 0, enobufs: 0, recvErrors: 0, truncatedBatches: 0, queueFullWaits: 0, verdicts: 0, preaccepted: 0, verdictErrors: 0, rawSent: 0, rawErrors: 0, readerRealtime: 0, readerRealtimeError: 0, boostPriority: 0, boostError: 0, boostRaises: 0, boostOverBudget: 0, boostMicros: 0, boostCpuMicros: 0 }),
    latency: () => ({ count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0, wakeCount: 0, wakeP50Us: 0, wakeP99Us: 0, wakeP999Us: 0, wakeMaxUs: 0, kernelCount: 0, kernelP50Us: 0, kernelP99Us: 0, kernelP999Us: 0, kernelMaxUs: 0 }),
  };
}

before(() => {
  if (skip) return;
  spawnSync('ip', ['netns', 'del', NS]);
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('sh', ['-c', `printf '#!/bin/sh\\nexec ip netns exec ${NS} nft "$@"\\n' > ${NFT} && chmod +x ${NFT}`]);
  // The administrator's own rules, which must come through every step unchanged.
  for (const [ipt, addr] of [['iptables', '192.0.2.9'], ['ip6tables', '2001:db8::9']] as const) {
    sh(ipt, '-A', 'FORWARD', '-s', addr, '-j', 'DROP');
    sh(ipt, '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT');
    sh(ipt, '-N', 'ADMIN-CHAIN');
    sh(ipt, '-A', 'ADMIN-CHAIN', '-p', 'udp', '--dport', '514', '-j', 'ACCEPT');
    sh(ipt, '-A', 'FORWARD', '-j', 'ADMIN-CHAIN');
    sh(ipt, '-t', 'mangle', '-A', 'FORWARD', '-p', 'icmp', '-j', 'RETURN');
    sh(ipt, '-t', 'mangle', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'TOS', '--set-tos', '0x10');
  }
});
after(() => { if (!skip) { spawnSync('ip', ['netns', 'del', NS]); spawnSync('rm', ['-f', NFT]); } });

test('the chains\' text: only Outpost\'s chains, old jumps deleted by number, long port lists split, fail-closed without bypass', () => {
  const current = [
    '*mangle', ':FORWARD ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPOST-FWD - [0:0]', ':OUTPOST-DNS - [0:0]',
    '-A FORWARD -p icmp -j RETURN', '-A FORWARD -j OUTPOST-FWD', '-A FORWARD -j OUTPOST-FWD', '-A INPUT -j OUTPOST-DNS', '-A OUTPOST-FWD -j ACCEPT', 'COMMIT',
    '*filter', ':FORWARD ACCEPT [0:0]', ':OUTPOST-BLOCKED - [0:0]', ':OUTPOST-OTHER - [0:0]', '-A FORWARD -m connmark --mark 0x20000000/0x30000000 -j OUTPOST-BLOCKED', '-A FORWARD -j OUTPOST-OTHER', 'COMMIT', '',
  ].join('\n');
  const ports = Array.from({ length: 20 }, (_, i) => 8000 + i);
  const install = installRestore({ ...CFG, tcpPorts: ports, dnsNxdomain: false, failClosed: true }, current).split('\n');
  // The mangle FORWARD jumps at 3 then 2 (highest first), one inserted first; OUTPOST-DNS (DNS off) removed.
  const mangle = install.slice(install.indexOf('*mangle'));
  assert.deepEqual(mangle.filter((l) => /^-[DIFX] /.test(l)), ['-D FORWARD 3', '-D FORWARD 2', '-I FORWARD 1 -j OUTPOST-FWD', '-D INPUT 1', '-F OUTPOST-DNS', '-X OUTPOST-DNS']);
  assert.ok(mangle.includes(':OUTPOST-FWD - [0:0]') && !mangle.includes(':OUTPOST-DNS - [0:0]'));
  const queued = install.filter((l) => /NFQUEUE/.test(l));
  assert.deepEqual(queued, [
    '-A OUTPOST-FWD -p tcp -m multiport --dports 8000,8001,8002,8003,8004,8005,8006,8007,8008,8009,8010,8011,8012,8013,8014 -m conntrack --ctdir ORIGINAL -j NFQUEUE --queue-num 3127',
    '-A OUTPOST-FWD -p tcp -m multiport --dports 8015,8016,8017,8018,8019 -m conntrack --ctdir ORIGINAL -j NFQUEUE --queue-num 3127',
    '-A OUTPOST-FWD -p udp --dport 443 -m conntrack --ctdir ORIGINAL -j NFQUEUE --queue-num 3127',
  ]);
  // OUTPOST-OTHER is not one of Outpost's chains: neither it nor its jump is named.
  assert.ok(!install.some((l) => /OUTPOST-OTHER/.test(l)));
  assert.ok(chainRules(CFG).get('OUTPOST-FWD')!.some((r) => r.endsWith('--queue-num 3127 --queue-bypass')));
  assert.deepEqual(removeRestore(current).split('\n').filter((l) => /^-/.test(l)), [
    '-D FORWARD 3', '-D FORWARD 2', '-F OUTPOST-FWD', '-X OUTPOST-FWD', '-D INPUT 1', '-F OUTPOST-DNS', '-X OUTPOST-DNS',
    '-D FORWARD 1', '-F OUTPOST-BLOCKED', '-X OUTPOST-BLOCKED',
  ]);
  assert.equal(removeRestore('*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j OUTPOST-OTHER\nCOMMIT\n'), '');
});

test('installed with one jump each, first; replaced after a "crash"; removed at stop; nothing else touched (IPv4 and IPv6)', { skip }, async () => {
  const before = saved();
  await installIptables(CFG, IN_NS);
  for (const f of [4, 6] as const) {
    assert.equal(rulesOf(f, 'mangle', 'FORWARD')[0], '-A FORWARD -j OUTPOST-FWD');
    assert.equal(rulesOf(f, 'mangle', 'INPUT')[0], '-A INPUT -j OUTPOST-DNS');
    assert.equal(rulesOf(f, 'filter', 'FORWARD')[0], '-A FORWARD -m connmark --mark 0x20000000/0x30000000 -j OUTPOST-BLOCKED');
    assert.equal(saved().split('\n').filter((l) => /-j OUTPOST-/.test(l) && / (FORWARD|INPUT) /.test(l)).length, 6, 'one jump per chain and family');
    assert.match(rulesOf(f, 'mangle', 'OUTPOST-FWD').join('\n'), /-p tcp -m multiport --dports 80,443 -m conntrack --ctdir ORIGINAL -j NFQUEUE --queue-num 3127 --queue-bypass/);
    assert.deepEqual(rulesOf(f, 'filter', 'OUTPOST-BLOCKED'), ['-A OUTPOST-BLOCKED -p tcp -j REJECT --reject-with tcp-reset', '-A OUTPOST-BLOCKED -j DROP']);
  }
  assert.equal(others(), before, 'the administrator\'s rules and chains are as they were');
  const installed = saved();

  // A crashed run's leftovers: a stray rule in its chain, a second jump, and a rule the
  // administrator inserted since, in front of the jump.
  for (const ipt of ['iptables', 'ip6tables']) {
    sh(ipt, '-t', 'mangle', '-A', 'OUTPOST-FWD', '-p', 'tcp', '--dport', '9999', '-j', 'RETURN');
    sh(ipt, '-t', 'mangle', '-A', 'FORWARD', '-j', 'OUTPOST-FWD');
    sh(ipt, '-I', 'FORWARD', '1', '-p', 'tcp', '--dport', '25', '-j', 'DROP');
  }
  const adminNow = others();
  assert.match(saved(), /--dport 9999/);
  await installIptables(CFG, IN_NS);
  assert.doesNotMatch(saved(), /--dport 9999/);
  for (const f of [4, 6] as const) {
    assert.equal(rulesOf(f, 'mangle', 'FORWARD').filter((l) => /OUTPOST-FWD/.test(l)).length, 1, 'the duplicate jump is gone');
    assert.equal(rulesOf(f, 'mangle', 'FORWARD')[0], '-A FORWARD -j OUTPOST-FWD');
    assert.equal(rulesOf(f, 'filter', 'FORWARD')[0], '-A FORWARD -m connmark --mark 0x20000000/0x30000000 -j OUTPOST-BLOCKED', 'first again, ahead of the rule inserted since');
  }
  assert.equal(others(), adminNow, 'the rule inserted since stays');
  // Outpost's own lines are those of the first install again.
  const own = (s: string) => s.split('\n').filter((l) => /OUTPOST-/.test(l)).join('\n');
  assert.equal(own(saved()), own(installed));

  // Settings changed to no DNS judging: OUTPOST-DNS and its jump go at the next start.
  await installIptables({ ...CFG, dnsNxdomain: false }, IN_NS);
  assert.doesNotMatch(saved(), /OUTPOST-DNS/);

  await removeIptables(IN_NS);
  assert.doesNotMatch(saved(), /OUTPOST/);
  assert.equal(others(), adminNow);
  await removeIptables(IN_NS); // nothing there: no error
  assert.equal(saved(), adminNow);
  for (const ipt of ['iptables', 'ip6tables']) sh(ipt, '-D', 'FORWARD', '-p', 'tcp', '--dport', '25', '-j', 'DROP');
  assert.equal(saved(), before);
});

test('a refusal is CONTROL_IPTABLES_FAILED with the program\'s message; InlineService installs and removes through the fallback', { skip }, async () => {
  await assert.rejects(installIptables(CFG, BROKEN), (e: Error & { code?: string }) => e.code === 'CONTROL_IPTABLES_FAILED' && /not found/.test(e.message));
  // The kernel's own refusal carries iptables-restore's message (a queue number out of range).
  await assert.rejects(installIptables({ ...CFG, queueNumber: 70000 }, IN_NS), (e: Error & { code?: string }) => e.code === 'CONTROL_IPTABLES_FAILED' && /iptables-restore --noflush exited with/.test(e.message));
  assert.doesNotMatch(saved(), /OUTPOST/, 'a refused restore changed nothing');
  const before = saved();
  // control.inline.verdictRealtimePriority: this (the JavaScript) thread asks for SCHED_FIFO once
  // the rules are in, and goes back to the default policy at stop.
  const rt: number[] = [];
  const addon = { ...fakeAddon(), setThreadRealtime: (p: number) => { rt.push(p); return 0; } };
  const svc = new InlineService({ cfg: { ...CFG, verdictRealtimePriority: 2 }, policy: () => ({ decide: () => ({ verdict: 'allow', reason: 'default', ruleId: 'default' }) }), logger: { info: () => {}, error: () => {} }, addon, iptables: IN_NS });
  await svc.start();
  assert.equal(svc.backend, 'iptables');
  assert.equal(svc.running, true);
  assert.match(saved(), /OUTPOST-FWD/);
  assert.deepEqual(rt, [2]);
  assert.equal(svc.counters()['inline.verdict_realtime_priority'], 2);
  await svc.stop();
  assert.deepEqual(rt, [2, 0]);
  assert.equal(svc.running, false);
  assert.equal(saved(), before);
});

test('auto: the nftables table where the kernel has the queue expression, the iptables chains where it has not; neither: CONTROL_INLINE_NO_BACKEND', { skip: nftSkip }, async (t) => {
  const queue = nftQueueSupported();
  const before = saved();
  const got = await installBackend({ ...CFG, backend: 'auto' }, 'auto', { nft: NFT, iptables: IN_NS });
  assert.equal(got.backend, queue.ok ? 'nftables' : 'iptables', queue.reason);
  t.diagnostic(`this kernel: ${got.backend}${got.fallbackReason !== undefined ? ` (${got.fallbackReason})` : ''}`);
  if (got.backend === 'iptables') {
    assert.match(saved(), /OUTPOST-FWD/);
    // The refused transaction left nothing of the table behind.
    assert.doesNotMatch(sh('nft', 'list', 'ruleset'), /table inet outpost/);
  } else {
    assert.match(sh('nft', 'list', 'ruleset'), /table inet outpost/);
    assert.doesNotMatch(saved(), /OUTPOST/);
  }
  await removeBackend(got.backend, { nft: NFT, iptables: IN_NS });
  assert.equal(saved(), before);
  assert.doesNotMatch(sh('nft', 'list', 'ruleset'), /outpost/i);
  if (queue.ok) { t.diagnostic('kernel has the nf_tables queue expression: the refusal cases cannot be shown here'); return; }
  await assert.rejects(installBackend(CFG, 'nftables', { nft: NFT, iptables: IN_NS }), (e: Error & { code?: string }) => e.code === 'CONTROL_NFT_FAILED' && /queue/.test(e.message));
  await assert.rejects(installBackend(CFG, 'auto', { nft: NFT, iptables: BROKEN }), (e: Error & { code?: string }) =>
    e.code === 'CONTROL_INLINE_NO_BACKEND' && /nf_tables queue expression/.test(e.message) && /not found/.test(e.message));
  // Any other nft refusal is not a reason to fall back: nft's own error stands.
  await assert.rejects(installBackend(CFG, 'auto', { nft: '/nonexistent/nft', iptables: IN_NS }), (e: Error & { code?: string }) => e.code === 'CONTROL_NFT_FAILED');
  assert.equal(saved(), before);
});
