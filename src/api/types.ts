/**
 * What the core API routes (health, metrics, config, jobs) get to work with. The routes of the
 * other areas are written against src/area.ts (`AreaRoutes`, `RouteContext`) and see only the
 * part of this context that `RouteContext` names.
 */
import type { AreaRouteOptions, AreaRoutes, ComponentHealth, HealthCheck, RouteContext } from '../area.js';
import type { ConfigManager } from '../config/manager.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { JobScheduler } from '../jobs/scheduler.js';

/** Components report their state here; GET /v1/health shows each one. */
export class HealthRegistry {
  readonly #checks = new Map<string, HealthCheck>();

  register(name: string, check: HealthCheck): void {
    this.#checks.set(name, check);
  }

  report(): Array<ComponentHealth & { name: string }> {
    return [...this.#checks].map(([name, check]) => {
      try {
        return { name, ...check() };
      } catch (err) {
        return { name, state: 'failed', ready: false, detail: err instanceof Error ? err.message : String(err) };
      }
    });
  }
}

export interface ApiContext extends RouteContext {
  config: ConfigManager;
  metrics: Metrics;
  jobs: JobScheduler;
  health: HealthRegistry;
  startedAt: number;
  /** Counters of the sensor and the capture with per-interface statistics (GET /v1/stats). */
  stats(): object;
}

export type ApiPluginOptions = AreaRouteOptions<ApiContext>;

/**
 * A route plugin the API server registers. An area's `AreaRoutes` (which needs only the
 * `RouteContext` part of the context) is one, and so is a core route plugin that needs all of it.
 */
export type ApiPlugin = AreaRoutes<ApiContext>;
