/**
 * The contract an area (capture, flows, events, devices, discovery, forward, api) fulfils to plug
 * into the daemon, so that src/daemon.ts is a list of areas and src/config/schema.ts a list of
 * their configuration sections.
 *
 * An area exports one `Area` object: its name and configuration section (JSON-schema fragment,
 * TypeScript type, defaults derived from the schema) and, optionally, `create`, which builds the
 * area's running parts from its own configuration slice and what it depends on: services (started
 * in list order, stopped in reverse), API routes (a fastify plugin with its prefix and role),
 * metric sources, health checks and job hooks.
 *
 * This module sits at the bottom of the import graph (docs/ARCHITECTURE.md): every area may
 * import it, and it imports only the foundations (lifecycle, jobs, telemetry). That is why route
 * roles, principals and health types are defined here and not in src/api: an area's routes are
 * written against this file, and src/api (above every area) serves them.
 */
import type { JSONSchemaType } from 'ajv';
import type { FastifyPluginAsync } from 'fastify';
import type { Service } from './lifecycle.js';
import type { JobHook } from './jobs/scheduler.js';
import type { Logger } from './telemetry/logger.js';
import { OutpostError } from './errors.js';

/** Roles a route can require. `public` needs no token; `admin` may do everything `read` may. */
export type RouteRole = 'public' | 'read' | 'admin';

/** Who made a request: a configured token (name, role) or nobody. */
export interface Principal {
  name: string;
  role: 'admin' | 'read' | 'anonymous';
}

/** What every route plugin gets from the API server: the same for every area. */
export interface RouteContext {
  logger: Logger;
}

export interface AreaRouteOptions<C extends RouteContext = RouteContext> {
  ctx: C;
}

/**
 * An area's routes: registered under `prefix` (e.g. '/v1/sinks'). `role` is the role every route
 * of the plugin needs unless a route says otherwise in `config: { role }`; without it, GET/HEAD
 * need `read` and other methods `admin`. Every route must have a JSON schema with at least
 * `response` (the server refuses to register one without), and appears in /openapi.json.
 *
 * Whatever else the routes need (a store, the flow table, a configuration getter) the area's
 * `create` closes over: routes never reach into other areas through a shared context.
 */
export interface AreaRoutes<C extends RouteContext = RouteContext> {
  name: string;
  prefix: string;
  role?: RouteRole;
  plugin: FastifyPluginAsync<AreaRouteOptions<C>>;
  /** OpenAPI tag; defaults to `name`. */
  tag?: string;
}

export interface ComponentHealth {
  /** Free text such as running, idle, degraded, failed, starting. */
  state: string;
  /** False: the daemon is alive but this component cannot do its work yet (or any more). */
  ready: boolean;
  detail?: string;
}

export type HealthCheck = () => ComponentHealth;

/** Dotted counter names → values, exported as Prometheus metrics (src/telemetry/metrics.ts). */
export type MetricSource = () => Record<string, number>;

/** A hook on one of the scheduled jobs (src/jobs/scheduler.ts WELL_KNOWN_JOBS). */
export interface AreaJobHook {
  job: string;
  /** Name of the hook within the job (usually the area or store). */
  name: string;
  run: JobHook;
}

/** What a running area contributes to the daemon. Every part is optional. */
export interface AreaParts {
  /** Started in order after the services of the areas before it; stopped in reverse. */
  services?: readonly Service[];
  routes?: readonly AreaRoutes[];
  /** Keyed by source name (e.g. `outbox`, `discovery`). */
  metrics?: Readonly<Record<string, MetricSource>>;
  /** Keyed by component name, shown by GET /v1/health. */
  health?: Readonly<Record<string, HealthCheck>>;
  jobs?: readonly AreaJobHook[];
}

/**
 * The configuration section an area owns: `key` under the root of the configuration file and the
 * JSON schema (draft-07) of that section. Every object node has `additionalProperties: false`,
 * `default: {}` and a description, and every leaf a default (config/defaults.ts, schema.test.ts).
 */
export interface ConfigSection<C> {
  key: string;
  schema: JSONSchemaType<C>;
}

/**
 * An area. `C` is its configuration section type, `D` what `create` needs from outside (other
 * areas' products, the logger, dataDir), `P` what `create` returns: the common parts plus the
 * area's own handles (e.g. `forwarding` for the event path).
 */
export interface Area<C, D = never, P extends AreaParts = AreaParts> {
  name: string;
  config: ConfigSection<C>;
  create?(cfg: C, deps: D): P | Promise<P>;
}

/** An area that makes running parts (its `create` is there to call). */
export interface ActiveArea<C, D, P extends AreaParts = AreaParts> extends Area<C, D, P> {
  create(cfg: C, deps: D): P | Promise<P>;
}

/** The subset of JSON Schema the defaults walker needs; a real schema has more keywords. */
export interface SchemaNode {
  type?: unknown;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
}

/**
 * The defaults a schema describes. Object nodes with `properties` are built from their children
 * (their own `default: {}` only exists to make ajv descend); every other node contributes its
 * `default`, cloned so callers can never mutate the schema's arrays and objects.
 */
export function defaultsFromSchema(node: SchemaNode): unknown {
  if (node.type === 'object' && node.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node.properties)) out[key] = defaultsFromSchema(child);
    return out;
  }
  if (!('default' in node)) throw new OutpostError('INTERNAL', { reason: 'schema node without a default' });
  return structuredClone(node.default);
}

/** A fresh, complete default of one area's section (a new object on every call). */
export function sectionDefaults<C>(section: ConfigSection<C>): C {
  return defaultsFromSchema(section.schema as unknown as SchemaNode) as C;
}

// Route options every area's routes may use: `config: { role, tag }` per route, a summary and
// description per schema, and the request's principal (set by the API server's auth hook).
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
