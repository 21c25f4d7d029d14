/**
 * The discovery area (src/area.ts): the `discovery` section, and from it (when enabled) the
 * opened Discovery with its enricher, routes (/v1/discovery/...), counters, store service and job
 * hooks (retention, catalog.reload, reports).
 */
import type { ActiveArea, AreaJobHook, AreaParts } from '../area.js';
import type { Logger } from '../telemetry/logger.js';
import { discoveryConfigSection, type DiscoveryConfig } from './config.js';
import { Discovery } from './discovery.js';
import type { DiscoverySummaryEvent } from '../events/discovery-summary.js';
import { discoveryApiPlugin } from './routes.js';

export interface DiscoveryDeps {
  dataDir: string;
  /** None in a replay. */
  logger?: Logger;
  /** Where the `reports` job sends its summary event (the event path); none: no reports hook. */
  emit?: (event: DiscoverySummaryEvent) => void;
}

export interface DiscoveryParts extends AreaParts {
  /** Null when discovery.enabled is false. */
  discovery: Discovery | null;
}

export const discoveryArea: ActiveArea<DiscoveryConfig, DiscoveryDeps, DiscoveryParts> = {
  name: 'discovery',
  config: discoveryConfigSection,
  async create(cfg, deps) {
    if (!cfg.enabled) return { discovery: null };
    const discovery = new Discovery({ dataDir: deps.dataDir, config: cfg, ...(deps.logger ? { logger: deps.logger } : {}) });
    await discovery.open();
    const jobs: AreaJobHook[] = [];
    discovery.registerJobs({ addHook: (job, name, run) => jobs.push({ job, name, run }) }, deps.emit);
    return {
      discovery,
      // Opened above (rollups must be readable before the capture starts); closed at stop.
      services: [{ name: 'discovery', start: async () => {}, stop: () => discovery.close() }],
      routes: [discoveryApiPlugin(discovery)],
      metrics: { discovery: () => discovery.counterSnapshot() },
      jobs,
    };
  },
};
