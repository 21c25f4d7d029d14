/**
 * What API route plugins get to work with, and how other areas add their own plugins.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from '../telemetry/logger.js';
import type { ConfigManager } from '../config/manager.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { JobScheduler } from '../jobs/scheduler.js';
import type { Sensor } from '../sensor.js';
import type { LiveCapture } from '../capture/live.js';
import type { RouteRole, Principal } from './auth.js';

export interface ComponentHealth {
  /** Free text such as running, idle, degraded, failed, starting. */
  state: string;
  /** False: the daemon is alive but this component cannot do its work yet (or any more). */
  ready: boolean;
  detail?: string;
}

export type HealthCheck = () => ComponentHealth;

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

export interface ApiContext {
  logger: Logger;
  config: ConfigManager;
  metrics: Metrics;
  jobs: JobScheduler;
  health: HealthRegistry;
  sensor: Sensor;
  capture: LiveCapture | null;
  startedAt: number;
  /** Counters of the sensor and the capture with per-interface statistics (GET /v1/stats). */
  stats(): object;
}

export interface ApiPluginOptions {
  ctx: ApiContext;
}

/**
 * Another area's routes: registered under `prefix` (e.g. '/v1/devices'). `role` is the role every
 * route of the plugin needs unless a route says otherwise in `config: { role }`; without it,
 * GET/HEAD need `read` and other methods `admin`. Every route must have a JSON schema with at
 * least `response` (the server refuses to register one without), and appears in /openapi.json.
 */
export interface ApiPlugin {
  name: string;
  prefix: string;
  role?: RouteRole;
  plugin: FastifyPluginAsync<ApiPluginOptions>;
  /** OpenAPI tag; defaults to `name`. */
  tag?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    role?: RouteRole;
    tag?: string;
  }
  interface FastifySchema {
    summary?: string;
    description?: string;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}
