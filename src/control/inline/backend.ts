/**
 * Which rules carry packets to inline mode's queue: Outpost's nftables table (nft.ts) or, on a
 * kernel whose nf_tables has no `queue` expression, the same logic as iptables chains
 * (iptables.ts). `control.inline.backend` chooses; `auto` tries the table and falls back only on
 * that one refusal (every error nft reports is "Could not process rule: No such file or
 * directory" on a queue statement), so any other nft failure still stops the daemon with nft's
 * own message.
 */
import { OutpostError } from '../../errors.js';
import type { InlineBackend, InlineConfig } from '../config.js';
import { installScript, queueExpressionMissing, removeScript, runNft } from './nft.js';
import { DEFAULT_IPTABLES, installIptables, removeIptables, type IptablesPrograms } from './iptables.js';

export type BackendInUse = 'nftables' | 'iptables';

export interface BackendPrograms {
  /** The nft program (default `nft` on PATH). */
  nft?: string;
  /** The iptables programs (default the machine's iptables-save / iptables-restore and ip6tables twins). */
  iptables?: IptablesPrograms;
}

export interface Installed {
  backend: BackendInUse;
  /** Why the fallback was taken (auto only): nft's refusal, first line. */
  fallbackReason?: string;
}

/** Installs the rules for `cfg` with the configured backend; resolves with the one in use. */
export async function installBackend(cfg: InlineConfig, choice: InlineBackend, programs: BackendPrograms = {}): Promise<Installed> {
  const ipt = programs.iptables ?? DEFAULT_IPTABLES;
  if (choice === 'iptables') {
    await installIptables(cfg, ipt);
    return { backend: 'iptables' };
  }
  const script = installScript(cfg);
  try {
    await runNft(script, programs.nft);
  } catch (err) {
    const stderr = (err as OutpostError).details?.['stderr'];
    if (choice === 'nftables' || typeof stderr !== 'string' || !queueExpressionMissing(script, stderr)) throw err;
    // nft applies its file as one transaction: the refusal left nothing of the table behind.
    const nftReason = 'the kernel has no nf_tables queue expression (CONFIG_NFT_QUEUE / module nft_queue): nft answered "Could not process rule: No such file or directory" on the queue rules';
    try {
      await installIptables(cfg, ipt);
    } catch (iptErr) {
      const iptables = (iptErr as Error).message;
      throw new OutpostError('CONTROL_INLINE_NO_BACKEND', { nft: nftReason, iptables }, { details: { nft: nftReason, iptables }, cause: iptErr });
    }
    return { backend: 'iptables', fallbackReason: nftReason };
  }
  return { backend: 'nftables' };
}

/** Removes what `installBackend` installed. */
export async function removeBackend(backend: BackendInUse, programs: BackendPrograms = {}): Promise<void> {
  if (backend === 'nftables') await runNft(removeScript(), programs.nft);
  else await removeIptables(programs.iptables ?? DEFAULT_IPTABLES);
}

/** What to run by hand when the removal at stop failed. */
export function manualRemoval(backend: BackendInUse): string {
  return backend === 'nftables'
    ? 'nft delete table inet outpost'
    : 'iptables -t mangle -D FORWARD -j OUTPOST-FWD; iptables -t mangle -D INPUT -j OUTPOST-DNS; iptables -D FORWARD -m connmark --mark 0x20000000/0x30000000 -j OUTPOST-BLOCKED; then -F and -X each OUTPOST- chain; the same with ip6tables';
}
