/**
 * Outpost's nftables table in a throwaway network namespace: installed, replaced atomically when
 * a previous run left one (the crash case), removed at stop, and no other table touched. Needs
 * root and nft; the queue rules need the kernel's nf_tables queue expression (CONFIG_NFT_QUEUE),
 * so where the kernel lacks it the table is exercised without judged ports (mark and connmark
 * rules only) and the full table is only checked by nft's parser (`nft -c`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { installScript, removeScript, runNft } from '../src/control/inline/nft.js';
import type { InlineConfig } from '../src/control/config.js';

const NS = 'outpost-nft-test';
const CFG: InlineConfig = {
  enabled: true, backend: 'auto', queueNumber: 3127, tcpPorts: [80, 443], udpPorts: [443], dnsPorts: [53], dnsNxdomain: true,
  failClosed: false, maxPacketsPerFlow: 8, batchPackets: 64, maxQueueLength: 4096, resetServer: true, readerRealtimePriority: 1, verdictBoostPriority: 1, verdictBoostBudgetMsPerSecond: 500, verdictBoostHoldMs: 2, verdictRealtimePriority: 0,
};
const NO_QUEUE: InlineConfig = { ...CFG, tcpPorts: [], udpPorts: [], dnsNxdomain: false };

const skip = process.getuid?.() !== 0 ? 'needs root (network namespace)'
  : spawnSync('nft', ['--version']).status !== 0 ? 'nft not installed (Debian package nftables)' : undefined;

const nftIn = (script: string) => spawnSync('ip', ['netns', 'exec', NS, 'nft', '-f', '-'], { input: script, encoding: 'utf8' });
const ruleset = () => execFileSync('ip', ['netns', 'exec', NS, 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
/** A wrapper making runNft act inside the namespace. */
const NFT = '/tmp/outpost-nft-test-wrapper.sh';

before(() => {
  if (skip) return;
  spawnSync('ip', ['netns', 'del', NS]);
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('sh', ['-c', `printf '#!/bin/sh\\nexec ip netns exec ${NS} nft "$@"\\n' > ${NFT} && chmod +x ${NFT}`]);
});
after(() => { if (!skip) { spawnSync('ip', ['netns', 'del', NS]); spawnSync('rm', ['-f', NFT]); } });

test('the full table parses (nft -c)', { skip }, () => {
  const r = spawnSync('ip', ['netns', 'exec', NS, 'nft', '-c', '-f', '-'], { input: installScript(CFG), encoding: 'utf8' });
  // -c still asks the kernel for the expressions it uses: a kernel without the queue expression
  // (CONFIG_NFT_QUEUE) answers ENOENT on the queue rules, and on nothing else.
  const lines = installScript(CFG).split('\n');
  const refused = [...r.stderr.matchAll(/^\/dev\/stdin:(\d+):/gm)].map((m) => lines[Number(m[1]) - 1]!);
  if (r.status !== 0) {
    assert.ok(refused.length > 0, r.stderr);
    for (const l of refused) assert.match(l, /queue num 3127 bypass/, r.stderr);
  }
});

test('installed, replaced after a "crash", removed at stop; another table is left alone', { skip }, async () => {
  assert.equal(nftIn('table inet other {\n chain c {\n  type filter hook forward priority 0; policy accept;\n  counter\n }\n}\n').status, 0);
  await runNft(installScript(NO_QUEUE), NFT);
  assert.match(ruleset(), /table inet outpost/);
  // A crashed run's table, with a stray rule: the next start replaces it whole.
  assert.equal(nftIn('add rule inet outpost forward counter comment "left by a crash"\n').status, 0);
  assert.match(ruleset(), /left by a crash/);
  await runNft(installScript(NO_QUEUE), NFT);
  const after = ruleset();
  assert.doesNotMatch(after, /left by a crash/);
  assert.equal(after.match(/table inet outpost/g)?.length, 1);
  assert.match(after, /ct mark & 0x30000000 == 0x10000000 accept/);
  assert.match(after, /reject with tcp reset/);
  await runNft(removeScript(), NFT);
  await runNft(removeScript(), NFT); // removing twice is no error
  const end = ruleset();
  assert.doesNotMatch(end, /outpost/);
  assert.match(end, /table inet other/);
});

test('a table nft refuses is reported as CONTROL_NFT_FAILED with nft\'s message', { skip }, async () => {
  await assert.rejects(runNft('table inet outpost { chain x { nonsense } }\n', NFT), (e: Error & { code?: string }) => e.code === 'CONTROL_NFT_FAILED' && /nonsense|syntax/i.test(e.message));
  await assert.rejects(runNft(removeScript(), '/nonexistent/nft'), (e: Error & { code?: string }) => e.code === 'CONTROL_NFT_FAILED' && /not found/.test(e.message));
});
