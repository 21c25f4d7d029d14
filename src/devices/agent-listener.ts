/**
 * The agent listener: a second, small fastify server of the daemon that serves only
 * `POST /v1/agents/heartbeat` (agent-routes.ts, without the enrollment route), so endpoint
 * agents on the LAN can reach it while the admin API stays on loopback.
 *
 * - HTTPS with `devices.agentListener.tlsCertFile` / `tlsKeyFile`; plain HTTP only on a loopback
 *   address (AGENT_LISTENER_INSECURE_BIND otherwise, checked before the daemon opens anything).
 * - Its own rate limit per client address (`rateLimitPerMinute`, 429 API_RATE_LIMITED, counted
 *   as `agents.refused_rate_limited`); failed TLS handshakes count as `agents.listener_tls_errors`.
 *   Every other refusal is counted by the AgentRegistry it shares with the admin API.
 * - Started and stopped as the `agent-listener` service of the daemon's ServiceGroup.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { OutpostError } from '../errors.js';
import { checkTlsMaterial, isLoopback, tlsFileProblem, toOutpostError } from '../http.js';
import type { Service } from '../lifecycle.js';
import type { ComponentHealth } from '../area.js';
import type { AgentListenerConfig, DevicesConfig } from './config.js';
import { parsePrefix } from './agent-claims.js';
import type { DeviceIdentity } from './identity.js';
import { agentRoutes, HEARTBEAT_BODY_LIMIT_BYTES, type AgentRegistry } from './agent-routes.js';
import { readRadiusSecrets } from './radius-secrets.js';

export interface AgentListenerTls { cert: Buffer; key: Buffer }

/** Structural subset of pino's Logger. */
interface ListenerLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Checks the settings and reads the TLS files: throws AGENT_LISTENER_INSECURE_BIND (non-loopback
 * without TLS) or AGENT_LISTENER_TLS_UNREADABLE (unreadable, or not a certificate and key that
 * belong together). Returns the TLS material, or null for plain HTTP
 * (loopback). Call before opening anything else, so a bad setting stops the daemon early.
 */
export function prepareAgentListenerTls(s: AgentListenerConfig): AgentListenerTls | null {
  if (!s.tlsCertFile && !s.tlsKeyFile) {
    if (!isLoopback(s.host)) throw new OutpostError('AGENT_LISTENER_INSECURE_BIND', { host: s.host }, { details: { host: s.host } });
    return null;
  }
  if (!s.tlsCertFile || !s.tlsKeyFile) {
    // Half a TLS configuration is a mistake, not a request for clear text.
    const what = s.tlsCertFile ? 'key' : 'certificate';
    throw new OutpostError('AGENT_LISTENER_TLS_UNREADABLE', { what, path: '(empty)', reason: `devices.agentListener.${what === 'key' ? 'tlsKeyFile' : 'tlsCertFile'} is not set` },
      { details: { what, path: '', reason: 'not set' } });
  }
  const read = (what: string, path: string): Buffer => {
    const problem = tlsFileProblem(path);
    if (problem !== undefined) throw new OutpostError('AGENT_LISTENER_TLS_UNREADABLE', { what, path, reason: problem }, { details: { what, path, reason: problem } });
    try {
      return readFileSync(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new OutpostError('AGENT_LISTENER_TLS_UNREADABLE', { what, path, reason }, { details: { what, path, reason }, cause: err });
    }
  };
  const cert = read('certificate', s.tlsCertFile), key = read('key', s.tlsKeyFile);
  checkTlsMaterial(cert, key, 'AGENT_LISTENER_TLS_UNREADABLE', s.tlsCertFile, s.tlsKeyFile);
  return { cert, key };
}

/**
 * What the next start would refuse in the `devices` section (for the configuration manager's
 * checks, src/config/manager.ts addCheck): the agent listener's bind and TLS files when it is
 * enabled, and malformed agent address scopes. Problems as ConfigProblem ({path, rule, message}).
 */
export function devicesConfigCheck(d: DevicesConfig): { problems: Array<{ path: string; rule: string; message: string }> } {
  const problems: Array<{ path: string; rule: string; message: string }> = [];
  if (d.enabled && d.agentListener.enabled) {
    try { prepareAgentListenerTls(d.agentListener); } catch (err) {
      problems.push({ path: '/devices/agentListener', rule: (err as OutpostError).code ?? 'INTERNAL', message: (err as Error).message });
    }
  }
  if (d.enabled) {
    try { readRadiusSecrets(d.radiusNases); } catch (err) {
      problems.push({ path: '/devices/radiusNases', rule: (err as OutpostError).code ?? 'INTERNAL', message: (err as Error).message });
    }
  }
  d.agentAddressScopes.forEach((p, i) => {
    if (parsePrefix(p) === undefined) problems.push({ path: `/devices/agentAddressScopes/${i}`, rule: 'prefix', message: `not an address prefix (got ${JSON.stringify(p)})` });
  });
  return { problems };
}

export interface AgentListenerOptions {
  settings: AgentListenerConfig;
  /** From prepareAgentListenerTls (read before privileges are dropped). */
  tls: AgentListenerTls | null;
  identity: DeviceIdentity;
  registry: AgentRegistry;
  logger?: ListenerLogger;
  /** Gateway clock (tests). */
  now?: () => number;
}

export interface AgentListener {
  readonly app: FastifyInstance;
  /** The `agent-listener` service for the daemon's ServiceGroup. */
  readonly service: Service;
  /** Where it listens once started (the real port when `port` is 0), else null. */
  address(): { host: string; port: number; url: string } | null;
  /** Entry for GET /v1/health. */
  health(): ComponentHealth;
}

export async function createAgentListener(opts: AgentListenerOptions): Promise<AgentListener> {
  const { settings, tls, registry } = opts;
  const fastifyOptions = {
    logger: false,
    bodyLimit: HEARTBEAT_BODY_LIMIT_BYTES,
    // Agents send one small request: a client that stops mid-request is cut off soon.
    requestTimeout: 10_000,
    connectionTimeout: 30_000,
    // As on the admin API: unknown body properties are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false as const, coerceTypes: false } },
  };
  const app = (tls ? Fastify({ ...fastifyOptions, https: tls }) : Fastify(fastifyOptions)) as unknown as FastifyInstance;
  await app.register(rateLimit, {
    global: true,
    max: settings.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (req) => `ip:${req.ip}`,
    errorResponseBuilder: (_req, context) => {
      registry.counters.refusedRateLimited++;
      return new OutpostError('API_RATE_LIMITED', { max: context.max, retryAfterS: Math.ceil(context.ttl / 1000) }, { details: { max: context.max, retryAfterMs: context.ttl } });
    },
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toOutpostError(err);
    if (e.httpStatus >= 500) opts.logger?.error({ err, method: req.method, url: req.url }, 'agent listener request failed');
    void reply.code(e.httpStatus).type('application/json; charset=utf-8').send(JSON.stringify(e.toJSON()));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new OutpostError('API_NOT_FOUND', { resource: `${req.method} ${req.url.split('?')[0]}` });
    void reply.code(404).type('application/json; charset=utf-8').send(JSON.stringify(e.toJSON()));
  });
  await app.register(agentRoutes, { identity: opts.identity, registry, enrollment: false, ...(opts.now ? { now: opts.now } : {}) });
  app.server.on('tlsClientError', () => { registry.counters.listenerTlsErrors++; });
  await app.ready();

  let state: 'starting' | 'running' | 'stopped' | 'failed' = 'starting';
  let failure: string | undefined;
  let bound: { host: string; port: number; url: string } | null = null;
  const scheme = tls ? 'https' : 'http';
  const service: Service = {
    name: 'agent-listener',
    start: async () => {
      try {
        await app.listen({ host: settings.host, port: settings.port });
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        state = 'failed';
        failure = reason;
        await app.close().catch(() => {});
        throw new OutpostError('AGENT_LISTENER_LISTEN_FAILED', { host: settings.host, port: settings.port, reason }, { details: { host: settings.host, port: settings.port, reason }, cause: err });
      }
      const a = app.server.address();
      const port = a !== null && typeof a === 'object' ? a.port : settings.port;
      const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
      bound = { host: settings.host, port, url: `${scheme}://${host}:${port}` };
      state = 'running';
      opts.logger?.info({ address: bound.url }, 'agent listener listening');
    },
    stop: async () => {
      bound = null;
      if (state !== 'failed') state = 'stopped';
      await app.close();
    },
  };
  return {
    app,
    service,
    address: () => bound,
    health: () => {
      if (state === 'failed') return { state, ready: false, ...(failure !== undefined ? { detail: failure } : {}) };
      if (state === 'running' && bound) return { state, ready: true, detail: bound.url };
      return { state, ready: false };
    },
  };
}
