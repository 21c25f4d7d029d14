/**
 * The forward area (src/area.ts): the `forward` section, and from it the outbox and the sinks
 * (services, to be started before the capture so they stop after it and the final flow flush
 * reaches the outbox), the routes (GET /v1/sinks...) and the outbox counters.
 */
import type { ActiveArea, AreaParts } from '../area.js';
import { forwardConfigSection, type ForwardConfig } from './config.js';
import { createForwarding, type ForwardLogger, type Forwarding } from './index.js';
import { sinkApiPlugin } from './routes.js';

export interface ForwardDeps {
  logger: ForwardLogger;
  /** Relative outboxDir is under it. */
  dataDir: string;
}

export interface ForwardParts extends AreaParts {
  /** forwarding.sink(event) is the end of the event path. */
  forwarding: Forwarding;
}

export const forwardArea: ActiveArea<ForwardConfig, ForwardDeps, ForwardParts> = {
  name: 'forward',
  config: forwardConfigSection,
  create(cfg, deps) {
    const forwarding = createForwarding(cfg, deps.logger, deps.dataDir);
    return {
      forwarding,
      services: forwarding.services,
      routes: [sinkApiPlugin(forwarding)],
      // After a stop the outbox is closed; its last state is not readable any more.
      metrics: { outbox: () => (forwarding.outbox.closed ? {} : outboxCounters(forwarding.status().outbox)) },
    };
  },
};

/** The numeric entries of the outbox status, as `outbox.<name>` counters. */
export function outboxCounters(status: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(status)) if (typeof v === 'number') out[`outbox.${k}`] = v;
  return out;
}
