/**
 * Inline mode's fallback backend: the logic of Outpost's nftables table (nft.ts) written as
 * iptables chains of its own, for kernels whose nf_tables has no `queue` expression
 * (CONFIG_NFT_QUEUE unset, or the nft_queue module absent). The machine's `iptables` /
 * `ip6tables` are used as they are: on Debian 12 that is iptables-nft, whose NFQUEUE target is
 * the xtables target run through nf_tables' compat expression (CONFIG_NFT_COMPAT and
 * CONFIG_NETFILTER_XT_TARGET_NFQUEUE), not the missing `queue` expression; iptables-legacy works
 * the same where it is the selected alternative.
 *
 * Where the rules sit, and why not all in the filter table: an iptables verdict of ACCEPT (and a
 * packet the queue answers with a plain NF_ACCEPT) ends the whole table's FORWARD chain, so
 * queueing in the filter table would let a flow's unjudged first packets skip the
 * administrator's own FORWARD rules. The nftables table avoids that by being a table of its own
 * (an accept there ends only Outpost's chain). Here the same effect comes from two tables:
 *
 * - mangle FORWARD → OUTPOST-FWD (and mangle INPUT → OUTPOST-DNS for the gateway's own resolver):
 *   flows with a connmark verdict RETURN at once; a packet the verdict path answered with NF_REPEAT
 *   and a packet mark gets that mark copied into the connmark (and cleared from the packet); new
 *   flows on the judged ports (original direction) go to the NFQUEUE, with --queue-bypass unless
 *   fail-closed. Nothing in these chains accepts or drops, so the filter table still sees every
 *   packet.
 * - filter FORWARD → OUTPOST-BLOCKED, first rule, for connections whose connmark says blocked:
 *   TCP is answered with a reset (REJECT lives in the filter table only), the rest dropped.
 *
 * Each chain is jumped to by exactly one rule. Installing is one `iptables-restore --noflush` per
 * family: the chains are declared (which empties chains a crashed run left), any earlier jump to
 * them deleted by its number, the jump inserted first, the chains filled; removing deletes the
 * jumps, then flushes and deletes the chains. Nothing else is read for more than finding those
 * jumps, and nothing else is changed.
 */
import { spawn } from 'node:child_process';
import { OutpostError } from '../../errors.js';
import type { InlineConfig } from '../config.js';
import { MARK_ALLOW, MARK_BLOCK, MARK_MASK } from './nft.js';

export const CHAIN_FORWARD = 'OUTPOST-FWD';
export const CHAIN_DNS = 'OUTPOST-DNS';
export const CHAIN_BLOCKED = 'OUTPOST-BLOCKED';
/** Every chain the fallback may own: removal deletes exactly these names and nothing else. */
export const OWN_CHAINS: readonly string[] = [CHAIN_FORWARD, CHAIN_DNS, CHAIN_BLOCKED];

/** Where each chain lives and which built-in chain jumps to it. */
const PLACES: Record<string, { table: 'mangle' | 'filter'; from: 'FORWARD' | 'INPUT' }> = {
  [CHAIN_FORWARD]: { table: 'mangle', from: 'FORWARD' },
  [CHAIN_DNS]: { table: 'mangle', from: 'INPUT' },
  [CHAIN_BLOCKED]: { table: 'filter', from: 'FORWARD' },
};

export type IpFamily = 4 | 6;

/** The programs run per family; `prefix` is put before each (tests: `ip netns exec NS`). */
export interface IptablesPrograms {
  save: Record<IpFamily, string>;
  restore: Record<IpFamily, string>;
  prefix: readonly string[];
}

export const DEFAULT_IPTABLES: IptablesPrograms = {
  save: { 4: 'iptables-save', 6: 'ip6tables-save' },
  restore: { 4: 'iptables-restore', 6: 'ip6tables-restore' },
  prefix: [],
};

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/** What `iptables-save` shows of one table: its chains and, per built-in chain, its rules in order. */
export interface SavedTable { chains: Set<string>; rules: Map<string, string[]> }

/** Parses `iptables-save` output into its tables (only what finding Outpost's chains and jumps needs). */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      cur = { chains: new Set(), rules: new Map() };
      tables.set(line.slice(1).trim(), cur);
    } else if (cur === undefined) {
      continue;
    } else if (line.startsWith(':')) {
      cur.chains.add(line.slice(1).split(' ')[0]!);
    } else if (line.startsWith('-A ')) {
      const chain = line.slice(3).split(' ')[0]!;
      let list = cur.rules.get(chain);
      if (list === undefined) cur.rules.set(chain, (list = []));
      list.push(line);
    }
  }
  return tables;
}

/** Rule numbers (1-based) of the rules in `from` that jump to `chain`, highest first (so deleting in order keeps the others' numbers). */
function jumpNumbers(saved: SavedTable | undefined, from: string, chain: string): number[] {
  const rules = saved?.rules.get(from) ?? [];
  const out: number[] = [];
  rules.forEach((r, i) => { if (r.endsWith(` -j ${chain}`) || r.includes(` -j ${chain} `)) out.push(i + 1); });
  return out.reverse();
}

/** `--dports` takes at most 15 ports (xt_multiport's XT_MULTI_PORTS), so longer lists are split. */
function portMatches(ports: readonly number[]): string[] {
  const sorted = [...ports].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i += 15) {
    const chunk = sorted.slice(i, i + 15);
    out.push(chunk.length === 1 ? `--dport ${chunk[0]}` : `-m multiport --dports ${chunk.join(',')}`);
  }
  return out;
}

/** The chains' rules (without the jumps), per chain, for these settings. */
export function chainRules(cfg: InlineConfig): Map<string, string[]> {
  const m = hex(MARK_MASK), a = hex(MARK_ALLOW), b = hex(MARK_BLOCK);
  const q = `-j NFQUEUE --queue-num ${cfg.queueNumber}${cfg.failClosed ? '' : ' --queue-bypass'}`;
  const fwd = [
    // A flow with a verdict: nothing more to do here (the filter table resets blocked ones).
    `-m connmark --mark ${a}/${m} -j RETURN`,
    `-m connmark --mark ${b}/${m} -j RETURN`,
    // The packet the verdict path sent round again (NF_REPEAT) with its verdict as packet mark:
    // the mark becomes the connection's, and is taken off the packet (only Outpost's two bits).
    `-m mark --mark ${a}/${m} -j CONNMARK --set-xmark ${a}/${m}`,
    `-m mark --mark ${b}/${m} -j CONNMARK --set-xmark ${b}/${m}`,
    `-m connmark ! --mark 0x0/${m} -j MARK --set-xmark 0x0/${m}`,
    `-m connmark ! --mark 0x0/${m} -j RETURN`,
  ];
  for (const p of portMatches(cfg.tcpPorts)) fwd.push(`-p tcp ${p} -m conntrack --ctdir ORIGINAL ${q}`);
  for (const p of portMatches(cfg.udpPorts)) fwd.push(`-p udp ${p} -m conntrack --ctdir ORIGINAL ${q}`);
  const out = new Map<string, string[]>([[CHAIN_FORWARD, fwd]]);
  if (cfg.dnsNxdomain && cfg.dnsPorts.length > 0) {
    // DNS queries are judged one by one and never connmarked (as in the nftables table).
    const dns = portMatches(cfg.dnsPorts).map((p) => `-p udp ${p} ${q}`);
    fwd.push(...dns);
    out.set(CHAIN_DNS, dns);
  }
  out.set(CHAIN_BLOCKED, ['-p tcp -j REJECT --reject-with tcp-reset', '-j DROP']);
  return out;
}

/** The jump to each chain (inserted first in its built-in chain). */
function jumpRule(chain: string): string {
  const place = PLACES[chain]!;
  // Only connections marked blocked enter OUTPOST-BLOCKED: one match per forwarded packet.
  return chain === CHAIN_BLOCKED ? `-I ${place.from} 1 -m connmark --mark ${hex(MARK_BLOCK)}/${hex(MARK_MASK)} -j ${chain}` : `-I ${place.from} 1 -j ${chain}`;
}

/** Lines that delete every jump to `chain` and, if it exists, the chain itself. */
function removeLines(saved: SavedTable | undefined, chain: string): string[] {
  const place = PLACES[chain]!;
  const lines = jumpNumbers(saved, place.from, chain).map((n) => `-D ${place.from} ${n}`);
  if (saved?.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
  return lines;
}

/**
 * The `iptables-restore --noflush` input that installs the chains for `cfg`, replacing whatever a
 * previous run left (as `current`, the family's `iptables-save` output, shows it).
 */
export function installRestore(cfg: InlineConfig, current: string): string {
  const saved = parseSave(current);
  const rules = chainRules(cfg);
  const out: string[] = [];
  // filter first: OUTPOST-BLOCKED exists before the mangle chains mark anything blocked.
  for (const table of ['filter', 'mangle'] as const) {
    const own = OWN_CHAINS.filter((c) => PLACES[c]!.table === table);
    out.push(`*${table}`);
    for (const c of own) if (rules.has(c)) out.push(`:${c} - [0:0]`);
    for (const c of own) {
      const s = saved.get(table);
      // Declaring a chain under --noflush empties it; its old jumps are deleted and one put back.
      if (!rules.has(c)) { out.push(...removeLines(s, c)); continue; }
      const place = PLACES[c]!;
      out.push(...jumpNumbers(s, place.from, c).map((n) => `-D ${place.from} ${n}`));
      out.push(...rules.get(c)!.map((r) => `-A ${c} ${r}`));
      out.push(jumpRule(c));
    }
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

/** The `iptables-restore --noflush` input that removes Outpost's jumps and chains (empty: nothing to remove). */
export function removeRestore(current: string): string {
  const saved = parseSave(current);
  const out: string[] = [];
  // mangle first: nothing is queued or marked any more once the filter chain goes.
  for (const table of ['mangle', 'filter'] as const) {
    const lines = OWN_CHAINS.filter((c) => PLACES[c]!.table === table).flatMap((c) => removeLines(saved.get(table), c));
    if (lines.length > 0) out.push(`*${table}`, ...lines, 'COMMIT');
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

interface Ran { code: number | null; stdout: string; stderr: string }

function run(argv: readonly string[], input: string | undefined): Promise<Ran> {
  return new Promise((resolve, reject) => {
    let stdout = '', stderr = '';
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => { stdout += d; });
    child.stderr!.on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

function failed(reason: string, cause?: unknown): OutpostError {
  return new OutpostError('CONTROL_IPTABLES_FAILED', { reason }, { details: { reason }, ...(cause !== undefined ? { cause } : {}) });
}

async function step(argv: readonly string[], input?: string): Promise<string> {
  let r: Ran;
  try {
    r = await run(argv, input);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw failed(e.code === 'ENOENT' ? `${argv[0]} not found (Debian package iptables)` : e.message, err);
  }
  if (r.code !== 0) throw failed(`${argv.join(' ')} exited with ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function apply(programs: IptablesPrograms, family: IpFamily, make: (current: string) => string): Promise<void> {
  const current = await step([...programs.prefix, programs.save[family]]);
  const script = make(current);
  if (script !== '') await step([...programs.prefix, programs.restore[family], '--noflush'], script);
}

/**
 * Installs (or replaces) the chains for IPv4 and IPv6. Rejects with CONTROL_IPTABLES_FAILED, after
 * taking out whatever got in: iptables-restore commits table by table (and family by family), so a
 * refusal in the second table or family would otherwise leave the first one's chains behind.
 */
export async function installIptables(cfg: InlineConfig, programs: IptablesPrograms = DEFAULT_IPTABLES): Promise<void> {
  try {
    for (const family of [4, 6] as const) await apply(programs, family, (cur) => installRestore(cfg, cur));
  } catch (err) {
    await removeIptables(programs).catch(() => {});
    throw err;
  }
}

/** Removes the jumps and chains for IPv4 and IPv6 (nothing there: no error). Tries both families before rejecting. */
export async function removeIptables(programs: IptablesPrograms = DEFAULT_IPTABLES): Promise<void> {
  let first: unknown;
  for (const family of [4, 6] as const) {
    try { await apply(programs, family, removeRestore); } catch (err) { first ??= err; }
  }
  if (first !== undefined) throw first;
}
