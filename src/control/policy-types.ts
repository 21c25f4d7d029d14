/**
 * The contract between the inline verdict path (NFQUEUE, `control/inline/`) and the policy that
 * decides (`control/policy.ts`): what a flow's first packets told us, and what to do with it.
 * Kept apart so both sides build against it without importing each other's internals.
 */

/** Where the name a verdict is judged on came from. */
export type VerdictNameSource = 'tls-sni' | 'quic-sni' | 'http-host' | 'dns-query';

export interface VerdictRequest {
  /** Lower-case host name without a trailing dot. */
  readonly name: string;
  readonly nameSource: VerdictNameSource;
  /** The client's address, as text (IPv4 dotted or IPv6 RFC 5952). */
  readonly clientIp: string;
  /** The client's MAC (lower-case, colon separated) where the packet carried one. */
  readonly clientMac?: string;
  /** Wall-clock time of the packet (ms since the epoch): time-boxed overrides are judged on it. */
  readonly nowMs: number;
}

/** Why a verdict was given: the rule kinds an administrator sets, in the order they are applied. */
export type VerdictReason = 'override' | 'exception' | 'rule' | 'unsanctioned' | 'default';

export interface VerdictDecision {
  readonly verdict: 'allow' | 'block';
  readonly reason: VerdictReason;
  /** Stable id of the rule, exception or override that decided (`default` when none did). */
  readonly ruleId: string;
  readonly appId?: string;
  readonly appName?: string;
  readonly deviceId?: string;
  readonly user?: string;
}

/**
 * How a block was carried out, said by the path that carried it out (never guessed afterwards):
 * `reset` TCP resets (inline: the kernel's `reject with tcp reset`; SPAN: resets injected on the
 * capture interface), `drop` the packet dropped (QUIC, a DNS query that could not be answered),
 * `nxdomain` a DNS query answered NXDOMAIN, `none` nothing could be sent (SPAN mode whose
 * injection failed: the flow went on).
 */
export type VerdictEnforcement = 'reset' | 'drop' | 'nxdomain' | 'none';

export interface VerdictPolicy {
  decide(request: VerdictRequest): VerdictDecision;
}
