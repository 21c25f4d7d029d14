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

export interface DiscoveryDeps {
  dataDir: string;
  /** None in a replay. */
  logger?: Logger;
  /** Where the `reports` job sends its summary event (the event path); none: no reports hook. */
  emit?: (event: DiscoverySummaryEvent) => void;
  /** False when nothing serves an API (a replay): no routes, and their modules are not loaded. */
  routes?: boolean;
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
    // The routes and the console (about 30 kB of JavaScript) are loaded only for a caller that serves them.
    const routes = deps.routes === false ? [] : [(await import('./routes.js')).discoveryApiPlugin(discovery)];
    return {
      discovery,
      // Opened above (rollups must be readable before the capture starts); closed at stop.
      services: [{ name: 'discovery', start: async () => {}, stop: () => discovery.close() }],
      routes,
      metrics: { discovery: () => discovery.counterSnapshot() },
      jobs,
    };
  },
};
