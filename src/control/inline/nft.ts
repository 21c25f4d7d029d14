/**
 * Outpost's own nftables table, `inet outpost`: the only table or chain inline mode touches.
 *
 * - New flows on the judged ports (original direction only: the client's packets) go to the
 *   NFQUEUE. `bypass` (fail-open, the default) lets packets pass when no program listens on the
 *   queue, so a stopped or crashed daemon never blocks the office.
 * - The verdict path answers a judged packet with NF_REPEAT and a packet mark (MARK_ALLOW or
 *   MARK_BLOCK): the packet runs through the chain again, its mark is copied into the connection's
 *   connmark and cleared from the packet. From then on the connmark alone decides: allowed flows
 *   are accepted at the first rule and never reach user space again; blocked TCP flows are reset
 *   by the kernel (`reject with tcp reset`, answered to whichever side sends next), other blocked
 *   flows dropped.
 * - Packets of a flow that has no verdict yet are answered with a plain NF_ACCEPT: the flow stays
 *   unmarked, so its next packet is queued too, until a name is found or the per-flow budget ends.
 *
 * The table is written with one `nft -f` file that declares, deletes and declares the table again:
 * nft applies a file as one transaction, so a table left by a crashed daemon is replaced
 * atomically (and a missing one is no error), and no other table is read or changed.
 */
import { spawn } from 'node:child_process';
import { OutpostError } from '../../errors.js';
import type { InlineConfig } from '../config.js';

export const TABLE_FAMILY = 'inet';
export const TABLE_NAME = 'outpost';

/**
 * The connmark / packet-mark bits inline mode owns (bits 28 and 29); every other bit is kept, so
 * marks other programs set on the same connections survive.
 */
export const MARK_MASK = 0x30000000;
export const MARK_ALLOW = 0x10000000;
export const MARK_BLOCK = 0x20000000;

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function portSet(ports: readonly number[]): string {
  return ports.length === 1 ? String(ports[0]) : `{ ${[...ports].sort((a, b) => a - b).join(', ')} }`;
}

/** The body of `table inet outpost { … }` for these settings. */
export function tableBody(cfg: InlineConfig): string {
  const keep = hex(~MARK_MASK);
  const q = `queue num ${cfg.queueNumber}${cfg.failClosed ? '' : ' bypass'}`;
  const judged: string[] = [];
  if (cfg.tcpPorts.length > 0) judged.push(`    ct direction original tcp dport ${portSet(cfg.tcpPorts)} ${q}`);
  if (cfg.udpPorts.length > 0) judged.push(`    ct direction original udp dport ${portSet(cfg.udpPorts)} ${q}`);
  // DNS queries are judged one by one (a client may ask several names over one 5-tuple), so they
  // are never connmarked: every query is queued while the option is on.
  const dns = cfg.dnsNxdomain && cfg.dnsPorts.length > 0 ? `    udp dport ${portSet(cfg.dnsPorts)} ${q}` : undefined;
  const marked = [
    `    ct mark and ${hex(MARK_MASK)} == ${hex(MARK_ALLOW)} accept`,
    `    ct mark and ${hex(MARK_MASK)} == ${hex(MARK_BLOCK)} jump blocked`,
    `    meta mark and ${hex(MARK_MASK)} == ${hex(MARK_ALLOW)} ct mark set ct mark and ${keep} or ${hex(MARK_ALLOW)} meta mark set meta mark and ${keep} accept`,
    `    meta mark and ${hex(MARK_MASK)} == ${hex(MARK_BLOCK)} ct mark set ct mark and ${keep} or ${hex(MARK_BLOCK)} meta mark set meta mark and ${keep} jump blocked`,
  ];
  const lines = [
    '  chain forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    ...marked,
    ...judged,
    ...(dns !== undefined ? [dns] : []),
    '  }',
  ];
  if (dns !== undefined) {
    // Queries to a resolver on the gateway itself arrive on the input hook.
    lines.push(
      '  chain input {',
      '    type filter hook input priority filter - 10; policy accept;',
      dns,
      '  }',
    );
  }
  lines.push(
    '  chain blocked {',
    '    meta l4proto tcp reject with tcp reset',
    '    drop',
    '  }',
  );
  return lines.join('\n');
}

/** The nft file that installs (or atomically replaces) the table. */
export function installScript(cfg: InlineConfig): string {
  return [
    `table ${TABLE_FAMILY} ${TABLE_NAME}`,
    `delete table ${TABLE_FAMILY} ${TABLE_NAME}`,
    `table ${TABLE_FAMILY} ${TABLE_NAME} {`,
    tableBody(cfg),
    '}',
    '',
  ].join('\n');
}

/** The nft file that removes the table whether or not it exists. */
export function removeScript(): string {
  return `table ${TABLE_FAMILY} ${TABLE_NAME}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n`;
}

/** Runs `nft -f -` with `script` on stdin; resolves with nft's stderr, rejects on failure. */
export function runNft(script: string, nft = 'nft'): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    let child;
    try {
      child = spawn(nft, ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    } catch (err) {
      reject(new OutpostError('CONTROL_NFT_FAILED', { reason: (err as Error).message }, { cause: err }));
      return;
    }
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { stderr += d; });
    child.on('error', (err: NodeJS.ErrnoException) => {
      const reason = err.code === 'ENOENT' ? `${nft} not found (Debian package nftables)` : err.message;
      reject(new OutpostError('CONTROL_NFT_FAILED', { reason }, { details: { reason }, cause: err }));
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const reason = `nft exited with ${code}: ${stderr.trim()}`;
        reject(new OutpostError('CONTROL_NFT_FAILED', { reason }, { details: { reason, stderr } }));
      }
    });
    // nft exiting before reading all of stdin is reported by its exit code, not as EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(script);
  });
}

/**
 * True when nft refused `script` only because the kernel has no nf_tables `queue` expression
 * (CONFIG_NFT_QUEUE unset, nft_queue not loadable): every error nft reported is "Could not
 * process rule: No such file or directory" with its caret on the `queue` statement of a queue
 * rule. Any other refusal (syntax, another missing expression, permissions) is not this.
 */
export function queueExpressionMissing(script: string, stderr: string): boolean {
  const lines = script.split('\n');
  const errors = [...stderr.matchAll(/^[^\n:]+:(\d+):(\d+)-(\d+): Error: (.*)$/gm)];
  if (errors.length === 0 || errors.length !== (stderr.match(/Error:/g) ?? []).length) return false;
  return errors.every((m) => {
    const line = lines[Number(m[1]) - 1] ?? '';
    const at = line.slice(Number(m[2]) - 1, Number(m[3]));
    return m[4] === 'Could not process rule: No such file or directory' && at === 'queue' && /\bqueue num \d+/.test(line);
  });
}
