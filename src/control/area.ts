/**
 * The control area (src/area.ts): enforcement of sanctions. It runs inline mode
 * (`control.inline`, src/control/inline/) and SPAN resets (`control.span`) when enabled; the
 * policy that decides is handed in (the daemon gives its control policy, src/control/policy.ts,
 * unless told otherwise), written against src/control/policy-types.ts.
 */
import type { ActiveArea, AreaParts } from '../area.js';
import { OutpostError } from '../errors.js';
import { controlConfigSection, type ControlConfig } from './config.js';
import type { VerdictPolicy } from './policy-types.js';
import type { InlineDecision } from './inline/engine.js';
import { InlineService, type InlineLogger } from './inline/service.js';
import type { IptablesPrograms } from './inline/iptables.js';
import { SpanResetter } from './span/resetter.js';

export interface ControlDeps {
  logger: InlineLogger;
  /** The policy verdicts are asked of; read on every decision (it may be swapped live). */
  policy?: () => VerdictPolicy;
  /** The process-wide runAsUser: inline mode needs CAP_NET_ADMIN for the daemon's whole life. */
  runAsUser: string;
  onDecision?: (d: InlineDecision) => void;
  /** The nft program (default: `nft` on PATH). */
  nft?: string;
  /** The iptables programs of the fallback backend (default: the machine's). */
  iptables?: IptablesPrograms;
  /** Sends a frame out of the capture interface of the packet being delivered (SPAN resets). */
  inject?: (frame: Buffer) => boolean;
}

export interface ControlParts extends AreaParts {
  inline: InlineService | null;
  /** SPAN-mode reset injection, a packet observer of the capture pipeline (null: off). */
  span: SpanResetter | null;
}

export const controlArea: ActiveArea<ControlConfig, ControlDeps, ControlParts> = {
  name: 'control',
  config: controlConfigSection,
  create(cfg, deps) {
    const span = cfg.span.resetInjection ? spanResetter(cfg, deps) : null;
    const spanParts = span === null ? {} : { metrics: { span: () => span.snapshot() } };
    if (!cfg.inline.enabled) return { inline: null, span, ...spanParts };
    if (process.platform !== 'linux') throw new OutpostError('CONTROL_INLINE_UNSUPPORTED', { reason: 'NFQUEUE and nftables exist on Linux only' });
    if (deps.runAsUser !== '') {
      throw new OutpostError('CONTROL_INLINE_UNSUPPORTED', { reason: 'runAsUser is set: verdicts and the removal of the nftables table at stop need CAP_NET_ADMIN, which a dropped process no longer has (leave runAsUser empty with control.inline.enabled)' });
    }
    if (deps.policy === undefined) {
      throw new OutpostError('CONTROL_INLINE_UNSUPPORTED', { reason: 'no verdict policy was given to the daemon' });
    }
    const inline = new InlineService({ cfg: cfg.inline, policy: deps.policy, logger: deps.logger, ...(deps.onDecision !== undefined ? { onDecision: deps.onDecision } : {}), ...(deps.nft !== undefined ? { nft: deps.nft } : {}), ...(deps.iptables !== undefined ? { iptables: deps.iptables } : {}) });
    return {
      inline,
      span,
      services: [inline],
      metrics: { inline: () => inline.counters(), ...(span !== null ? { span: () => span.snapshot() } : {}) },
      health: {
        inline: () => ({ state: inline.running ? 'running' : 'starting', ready: inline.running, detail: `queue ${cfg.inline.queueNumber}${cfg.inline.failClosed ? ', fail-closed' : ', fail-open'}, backend ${inline.backend ?? `${cfg.inline.backend} (not installed yet)`}` }),
      },
    };
  },
};

function spanResetter(cfg: ControlConfig, deps: ControlDeps): SpanResetter {
  if (deps.policy === undefined) throw new OutpostError('CONTROL_INLINE_UNSUPPORTED', { reason: 'control.span.resetInjection is on but no verdict policy was given to the daemon' });
  return new SpanResetter({ cfg: cfg.span, policy: deps.policy, inject: deps.inject ?? (() => false), ...(deps.onDecision !== undefined ? { onDecision: deps.onDecision } : {}) });
}
