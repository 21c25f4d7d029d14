/**
 * `outpost run` for the inline lab and bench: the same runDaemon the CLI calls.
 *
 * With a block list file, the daemon is given a verdict policy from outside: it blocks the names
 * listed in the file (one per line, a name blocks its subdomains too) and reads the file again
 * when it changes, so a test changes the policy by writing the file. Without one, the daemon's
 * own control policy decides (src/control/policy.ts: sanction states, rules, exceptions,
 * overrides, set through the admin API), exactly as `outpost run` runs.
 *
 *   node --import tsx test/support/inline-daemon.ts <config.yaml> [<blocklist.txt>]
 *
 * Each decision is also logged on stderr as one JSON line (`{"inline": verdict, ...}`).
 *
 * OUTPOST_LAB_NFT names another nft program (default: `nft` on PATH).
 */
import { readFileSync, statSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { runDaemon } from '../../src/daemon.js';
import type { VerdictPolicy, VerdictRequest, VerdictDecision } from '../../src/control/policy-types.js';

export class FileBlockPolicy implements VerdictPolicy {
  private names = new Set<string>();
  private mtimeMs = -1;
  private checkedAt = 0;
  constructor(private readonly path: string) { this.reload(); }
  private reload(): void {
    const st = statSync(this.path, { throwIfNoEntry: false });
    const m = st?.mtimeMs ?? 0;
    if (m === this.mtimeMs) return;
    this.mtimeMs = m;
    this.names = new Set((st ? readFileSync(this.path, 'utf8') : '').split('\n').map((l) => l.trim().toLowerCase()).filter(Boolean));
  }
  decide(r: VerdictRequest): VerdictDecision {
    // At most one stat every 100 ms: a change applies to new flows well within a second.
    if (r.nowMs - this.checkedAt >= 100) { this.checkedAt = r.nowMs; this.reload(); }
    for (let n = r.name; n !== ''; n = n.includes('.') ? n.slice(n.indexOf('.') + 1) : '') {
      if (this.names.has(n)) return { verdict: 'block', reason: 'rule', ruleId: `blocklist:${n}`, appName: n };
    }
    return { verdict: 'allow', reason: 'default', ruleId: 'default' };
  }
}

const [configPath, listPath] = process.argv.slice(2);
if (configPath !== undefined) {
  const policy = listPath !== undefined ? new FileBlockPolicy(listPath) : undefined;
  const code = await runDaemon(loadConfig(configPath), configPath, {
    ...(policy !== undefined ? { verdictPolicy: () => policy } : {}),
    ...(process.env.OUTPOST_LAB_NFT ? { nftCommand: process.env.OUTPOST_LAB_NFT } : {}),
    onInlineDecision: (d) => process.stderr.write(`${JSON.stringify({ inline: d.decision.verdict, name: d.request.name, source: d.request.nameSource, client: d.request.clientIp, mac: d.request.clientMac, reason: d.decision.reason, rule: d.decision.ruleId })}\n`),
  });
  process.exit(code);
}
