/**
 * The admin API server: fastify with, in this order, rate limiting, token auth (a bearer token, or
 * the console's session cookie with CSRF protection on writes: src/api/session.ts), one error format
 * (catalogue codes, src/http.ts), request metrics, an OpenAPI document built from the route
 * schemas, the core routes (health, metrics, config, jobs) and the routes every area passes in
 * (`AreaRoutes`, src/area.ts): the routes of capture, flows, forward, devices and discovery live in
 * those areas. Login and session routes: src/api/session-routes.ts; `/` is the console's (src/console/).
 *
 * It refuses (API_INSECURE_BIND) to be built for a non-loopback address unless TLS is configured
 * and at least one token exists.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { OutpostError } from '../errors.js';
import type { RouteRole } from '../area.js';
import { BODY_LIMIT_BYTES, MAX_JSON_DEPTH, checkTlsMaterial, tlsFileProblem, isLoopback, jsonNestsDeeperThan, jsonTooDeepError, toOutpostError } from '../http.js';
import type { CheckResult } from '../config/manager.js';
import type { ConfigProblem } from '../config/load.js';
import type { ApiConfig } from './config.js';
import { TokenStore, bearerToken, roleAllows } from './auth.js';
import type { ApiTokenConfig } from './config.js';
import { SESSION_COOKIE, SessionStore, cookieValue, csrfMatches, type Session } from './session.js';
import { sessionRoutes } from './session-routes.js';
import type { ApiContext, ApiPlugin } from './types.js';
import { buildOpenApi, type RouteRecord } from './openapi.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { configRoutes } from './routes/config.js';
import { jobRoutes } from './routes/jobs.js';

/** Throws API_INSECURE_BIND when a non-loopback address lacks TLS or tokens. */
export function checkBindSecurity(api: ApiConfig): void {
  if (isLoopback(api.host)) return;
  const missing: string[] = [];
  if (!api.tls.certFile || !api.tls.keyFile) missing.push('TLS (api.tls.certFile and api.tls.keyFile)');
  if (api.tokens.length === 0) missing.push('authentication (api.tokens)');
  if (missing.length > 0) {
    throw new OutpostError('API_INSECURE_BIND', { host: api.host, missing: missing.join(' and ') }, { details: { host: api.host, missing } });
  }
}

/** Reads (and checks, see checkTlsMaterial) the API's TLS files; null without TLS. Throws API_TLS_UNREADABLE. */
export function readTls(api: ApiConfig): { cert: Buffer; key: Buffer } | null {
  if (!api.tls.certFile && !api.tls.keyFile) return null;
  const read = (what: string, path: string): Buffer => {
    const problem = tlsFileProblem(path);
    if (problem !== undefined) throw new OutpostError('API_TLS_UNREADABLE', { what, path, reason: problem }, { details: { what, path, reason: problem } });
    try {
      return readFileSync(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new OutpostError('API_TLS_UNREADABLE', { what, path, reason }, { details: { what, path, reason }, cause: err });
    }
  };
  const cert = read('certificate', api.tls.certFile), key = read('key', api.tls.keyFile);
  checkTlsMaterial(cert, key, 'API_TLS_UNREADABLE', api.tls.certFile, api.tls.keyFile);
  return { cert, key };
}

/**
 * The API's checks of a configuration change (ConfigManager.addCheck), docs/SECURITY.md:
 * - what the next start would refuse: a non-loopback address without TLS or tokens
 *   (API_INSECURE_BIND), TLS files that cannot be read or are no certificate/key pair;
 * - a change through the API that leaves no admin token when there was one: nobody could change
 *   the configuration through the API again (refused; edit the file and reload instead);
 * - reductions of access, which an API change must confirm: a token removed, demoted or given
 *   a new hash, or tokens required where there were none.
 */
export function apiConfigCheck(next: ApiConfig, prev: ApiConfig, action: string): CheckResult {
  const problems: ConfigProblem[] = [];
  try { checkBindSecurity(next); } catch (err) { problems.push({ path: '/api/host', rule: 'API_INSECURE_BIND', message: (err as Error).message }); }
  try { readTls(next); } catch (err) { problems.push({ path: '/api/tls', rule: 'API_TLS_UNREADABLE', message: (err as Error).message }); }
  const admins = (l: ApiConfig['tokens']) => l.filter((t) => t.role === 'admin').length;
  if (action !== 'reload' && admins(prev.tokens) > 0 && admins(next.tokens) === 0) {
    problems.push({ path: '/api/tokens', rule: 'last_admin_token', message: 'removes the last admin token: no one could change the configuration through the API afterwards' });
  }
  const reducesAccess: string[] = [];
  const byName = new Map(next.tokens.map((t) => [t.name, t]));
  for (const t of prev.tokens) {
    const n = byName.get(t.name);
    if (n === undefined) reducesAccess.push(`token ${t.name} removed`);
    else if (t.role === 'admin' && n.role !== 'admin') reducesAccess.push(`token ${t.name} demoted to ${n.role}`);
    else if (n.sha256 !== t.sha256) reducesAccess.push(`token ${t.name} replaced`);
  }
  if (prev.tokens.length === 0 && next.tokens.length > 0) reducesAccess.push('tokens required where none were');
  return { problems, reducesAccess };
}

function defaultRole(method: string): RouteRole {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'admin';
}

export interface CreateApiOptions {
  /** The areas' routes (src/area.ts), registered after the core routes in this order. */
  plugins?: readonly ApiPlugin[];
  /** Fastify logger off by default: the daemon logs what matters itself. */
  requestLogging?: boolean;
  /**
   * Tokens accepted besides `api.tokens` (the first-run admin token, src/api/first-run.ts); they
   * survive configuration changes.
   */
  extraTokens?: readonly ApiTokenConfig[];
}

/** Methods that change nothing (RFC 9110 §9.2.1): the only ones a cookie session may send without its CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A cookie-authenticated write must carry the session's CSRF token, and when the browser names
 * the page's origin (Origin, RFC 6454 §7) it must be this server's own.
 */
function csrfProblem(req: FastifyRequest, session: Session, tls: boolean): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // Both sides through the URL parser, so a default port (`:80`) spelled or not compares equal.
    let same = false;
    try { same = new URL(origin).origin === new URL(`${tls ? 'https' : 'http'}://${req.headers.host ?? ''}`).origin; } catch { same = false; }
    if (!same) return `request from another origin (${origin.slice(0, 100)})`;
  }
  if (!csrfMatches(session, req.headers['x-csrf-token'])) return 'a write with the session cookie needs the header X-CSRF-Token (GET /v1/session gives it)';
  return undefined;
}

export async function createApi(ctx: ApiContext, options: CreateApiOptions = {}): Promise<FastifyInstance> {
  const cfg = ctx.config.current;
  checkBindSecurity(cfg.api);
  const tls = readTls(cfg.api);
  const extraTokens = options.extraTokens ?? [];
  const tokens = new TokenStore([...cfg.api.tokens, ...extraTokens]);
  ctx.config.onChange((next) => tokens.update([...next.api.tokens, ...extraTokens]));
  const sessions = new SessionStore();
  ctx.config.addCheck((next, prev, action) => apiConfigCheck(next.api, prev.api, action));

  const fastifyOptions = {
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // A client that stops sending mid-request (slowloris) is cut off.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    // Unknown properties are errors (removeAdditional would silently drop them), all at once.
    ajv: { customOptions: { removeAdditional: false as const, allErrors: true, coerceTypes: true } },
    frameworkErrors: (err: FastifyError, _req: unknown, reply: unknown) => {
      const e = new OutpostError('API_BAD_REQUEST', { reason: err.message }, { details: { reason: err.message } });
      void (reply as FastifyReply).code(e.httpStatus).type('application/json; charset=utf-8').send(JSON.stringify(e.toJSON()));
    },
  };
  const app = (tls ? Fastify({ ...fastifyOptions, https: tls }) : Fastify(fastifyOptions)) as unknown as FastifyInstance;
  app.decorateRequest('principal', null as never);
  app.decorateRequest('session', undefined);
  // Bounded nesting on every route's JSON body (RFC 8259 §9 allows a limit), checked before
  // parsing; the parser itself stays fastify's (prototype-poisoning keys refused).
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  const boundedJson = (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) { done(jsonTooDeepError()); return; }
    jsonParser(req, text, done);
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, boundedJson);
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, boundedJson);

  // Every route must carry a schema with a response, so every route is validated and documented.
  const routes: RouteRecord[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => m === 'HEAD')) return;
    if (!route.schema || !route.schema.response) {
      throw new OutpostError('INTERNAL', { reason: `API route ${methods.join(',')} ${route.url} has no JSON schema with a response; every route needs one` });
    }
    for (const m of methods) if (m !== 'HEAD') routes.push({ method: m, url: route.url, options: route });
  });

  await app.register(rateLimit, {
    global: true,
    max: () => ctx.config.current.api.rateLimitPerMinute,
    timeWindow: 60_000,
    // Per valid token, else per address: unknown tokens cannot buy fresh buckets.
    keyGenerator: (req) => {
      const t = bearerToken(req.headers.authorization);
      const found = t === undefined ? undefined : tokens.lookup(t);
      if (found) return `token:${found.name}`;
      // A console session counts against its token's bucket (it is that token, in a browser).
      const id = req.headers.authorization === undefined ? cookieValue(req.headers.cookie, SESSION_COOKIE) : undefined;
      const s = id === undefined ? undefined : sessions.lookup(id, (h) => tokens.hasHash(h));
      return s ? `token:${s.user}` : `ip:${req.ip}`;
    },
    errorResponseBuilder: (_req, context) => new OutpostError('API_RATE_LIMITED', { max: context.max, retryAfterS: Math.ceil(context.ttl / 1000) }, { details: { max: context.max, retryAfterMs: context.ttl } }),
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    req.principal = { name: 'anonymous', role: 'anonymous' };
    if (req.is404) return;
    const need: RouteRole = req.routeOptions.config.role ?? defaultRole(req.method);
    const header = req.headers.authorization;
    // A bearer token wins over a cookie; the cookie's session is looked up on every matched route
    // (GET /v1/session is public and reads it).
    const cookie = header === undefined ? cookieValue(req.headers.cookie, SESSION_COOKIE) : undefined;
    const session = cookie === undefined ? undefined : sessions.lookup(cookie, (h) => tokens.hasHash(h));
    (req as FastifyRequest & { session?: Session }).session = session;
    if (need === 'public') return;
    if (header !== undefined) {
      const token = bearerToken(header);
      if (token === undefined) {
        void reply.header('www-authenticate', 'Bearer');
        throw new OutpostError('API_UNAUTHORIZED', { reason: 'the Authorization header must be "Bearer <token>"' });
      }
      const found = tokens.lookup(token);
      if (!found) {
        void reply.header('www-authenticate', 'Bearer error="invalid_token"');
        throw new OutpostError('API_UNAUTHORIZED', { reason: 'unknown token' });
      }
      req.principal = { name: found.name, role: found.role };
    } else if (session !== undefined) {
      req.principal = { name: session.user, role: session.role };
      if (!SAFE_METHODS.has(req.method)) {
        const problem = csrfProblem(req, session, tls !== null);
        if (problem !== undefined) throw new OutpostError('API_CSRF_REJECTED', { reason: problem });
      }
    } else if (tokens.size > 0) {
      void reply.header('www-authenticate', 'Bearer');
      throw new OutpostError('API_UNAUTHORIZED', { reason: cookie !== undefined
        ? 'the session cookie is unknown or expired: log in again'
        : 'send Authorization: Bearer <token> (outpost token create)' });
    } else if (need === 'admin') {
      throw new OutpostError('API_FORBIDDEN', { reason: 'no admin token is configured (api.tokens); create one with `outpost token create --role admin`' });
    } else {
      return; // no tokens at all: read routes are open (loopback only, checked at start)
    }
    if (!roleAllows(req.principal.role, need)) {
      throw new OutpostError('API_FORBIDDEN', { reason: `token "${req.principal.name}" has role ${req.principal.role}; ${req.method} ${req.routeOptions.url} needs ${need}` });
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.is404 ? 'unmatched' : (req.routeOptions.url ?? 'unmatched');
    ctx.metrics.apiRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    ctx.metrics.apiDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toOutpostError(err);
    // The path only: a query may hold a login token (GET /login?token=).
    if (e.httpStatus >= 500) ctx.logger.error({ err, method: req.method, url: req.url.split('?')[0] }, 'API request failed');
    void reply.code(e.httpStatus).type('application/json; charset=utf-8').send(JSON.stringify(e.toJSON()));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new OutpostError('API_NOT_FOUND', { resource: `${req.method} ${req.url.split('?')[0]}` });
    void reply.code(404).type('application/json; charset=utf-8').send(JSON.stringify(e.toJSON()));
  });

  app.get('/openapi.json', {
    config: { role: 'public', tag: 'meta' },
    schema: { summary: 'This API as an OpenAPI 3.0 document', response: { 200: { type: 'object', additionalProperties: true } } },
  }, async () => buildOpenApi(routes));

  const core: ApiPlugin[] = [
    { name: 'health', prefix: '', plugin: healthRoutes },
    { name: 'metrics', prefix: '', plugin: metricsRoutes },
    { name: 'config', prefix: '/v1/config', plugin: configRoutes },
    { name: 'jobs', prefix: '/v1/jobs', plugin: jobRoutes },
    { name: 'session', prefix: '', plugin: sessionRoutes({ tokens, sessions, secure: tls !== null }) },
  ];
  for (const p of [...core, ...(options.plugins ?? [])]) await registerApiPlugin(app, ctx, p);
  await app.ready();
  return app;
}

/** Registers one area's plugin with its prefix, default role and OpenAPI tag. */
async function registerApiPlugin(app: FastifyInstance, ctx: ApiContext, p: ApiPlugin): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}) };
      const config = route.config as { role?: RouteRole; tag?: string };
      if (p.role !== undefined && config.role === undefined) config.role = p.role;
      config.tag ??= p.tag ?? p.name;
    });
    await scope.register(p.plugin, { prefix: p.prefix, ctx });
  }, { prefix: '' });
}
