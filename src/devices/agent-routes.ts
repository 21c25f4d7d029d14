/**
 * Endpoint agents: the AgentRegistry (enrollments, secrets, nonces) and every agent route.
 *
 *   POST   /v1/agents/enroll     {agentId}            → 201 {agentId, secret}   (admin)
 *   POST   /v1/agents/heartbeat  heartbeat JSON body  → 204                      (agents, signed)
 *   GET    /v1/agents            enrolled agents (never their secrets)           (admin)
 *   DELETE /v1/agents/:id        revoke an agent: its heartbeats get 401 after   (admin)
 *
 * agentRoutes (enroll, heartbeat) is registered by the agent listener (agent-listener.ts,
 * heartbeats only) and, with the admin routes, by agentApiPlugin() on the admin API — one
 * plugin named `agents` there.
 *
 * Heartbeat authentication: headers `x-outpost-agent` (agent id), `x-outpost-timestamp`
 * (ms since the epoch), `x-outpost-nonce` (16–128 chars [A-Za-z0-9_-]) and
 * `x-outpost-signature` = hex HMAC-SHA256(secret, `${timestamp}\n${nonce}\n${raw body}`)
 * (RFC 2104). Refused and counted: unknown agent or bad signature 401, timestamp further than
 * agentMaxClockSkewMs from the gateway clock 401, a nonce already seen within that window 409,
 * malformed 400. Signatures are compared in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { DeviceIdentity, AgentReport } from './identity.js';
import type { AgentRecords, DeviceTable } from './store.js';
import type { AreaRouteOptions as ApiPluginOptions, AreaRoutes as ApiPlugin } from '../area.js';
import { OutpostError } from '../errors.js';
import { unicastMac } from './agent-claims.js';
import { MAX_JSON_DEPTH, jsonNestsDeeperThan, jsonTooDeepError } from '../http.js';

export interface EnrolledAgent {
  agentId: string; secret: string; enrolledMs: number; lastHeartbeatMs?: number;
  /** MACs an administrator bound to the agent at enrollment: its heartbeats may claim them even when a DHCP-known device holds them. */
  macs?: string[];
}

/**
 * Largest heartbeat body (bytes) on the admin API and the agent listener. A heartbeat at the
 * schema's maxima written as ASCII is about 83 KB (64 users × 4 fields × 256 characters, 256
 * addresses × 45, 64 MACs × 17 and the rest); the limit leaves room for non-ASCII text.
 */
export const HEARTBEAT_BODY_LIMIT_BYTES = 256 * 1024;

export class AgentCounters {
  enrolled = 0; accepted = 0; refusedUnknown = 0; refusedForged = 0; refusedStale = 0; refusedReplayed = 0; refusedMalformed = 0; refusedNonceWindowFull = 0; refusedLimit = 0; revoked = 0;
  /** Agent listener (src/devices/agent-listener.ts): requests over its rate limit, failed TLS handshakes. */
  refusedRateLimited = 0; listenerTlsErrors = 0;
  snapshot(): Record<string, number> {
    return {
      'agents.enrolled': this.enrolled, 'agents.heartbeats_accepted': this.accepted,
      'agents.refused_unknown': this.refusedUnknown, 'agents.refused_forged': this.refusedForged,
      'agents.refused_stale': this.refusedStale, 'agents.refused_replayed': this.refusedReplayed,
      'agents.refused_malformed': this.refusedMalformed, 'agents.refused_limit': this.refusedLimit,
      'agents.refused_nonce_window_full': this.refusedNonceWindowFull, 'agents.revoked': this.revoked,
      'agents.refused_rate_limited': this.refusedRateLimited, 'agents.listener_tls_errors': this.listenerTlsErrors,
    };
  }
}

/**
 * Enrolled agents and their secrets, plus the nonces each has used (a window per agent, at most
 * maxNonces unexpired ones each: a full window refuses the agent's next heartbeat, 429
 * AGENT_NONCE_WINDOW_FULL, instead of forgetting a nonce that could then be replayed; one agent
 * can neither evict nor fill another's window). With the device store's
 * AgentRecords attached (constructor or attachStore(); agentRoutes attaches its identity's store's)
 * enrollments live in the store's LMDB under ['a', agentId] and survive restarts: enroll and revoke are written
 * synchronously, heartbeat times asynchronously. Nonces are kept in memory only (a restart
 * cannot reopen a replay window: the timestamp check still refuses anything older than
 * agentMaxClockSkewMs).
 */
export class AgentRegistry {
  readonly counters = new AgentCounters();
  private readonly agents = new Map<string, EnrolledAgent>();
  /** agentId → (nonce → expiry ms), each in insertion (= expiry) order. */
  private readonly nonces = new Map<string, Map<string, number>>();
  private store: AgentRecords | null = null;
  constructor(readonly maxAgents: number, readonly maxNonces: number, readonly maxClockSkewMs: number, store?: AgentRecords) {
    if (store !== undefined) this.attachStore(store);
  }

  /**
   * Persists enrollments in `store`'s LMDB (when it is open) and loads those saved there;
   * agents enrolled in memory before are written to it. Idempotent; returns the number loaded.
   */
  attachStore(store: AgentRecords): number {
    if (this.store === store || !store.persistent) return 0;
    this.store = store;
    const saved = store.loadAgents<EnrolledAgent>();
    const before = [...this.agents.values()];
    for (const a of saved) if (typeof a.secret === 'string' && !this.agents.has(a.agentId)) this.agents.set(a.agentId, a);
    for (const a of before) store.saveAgent(a.agentId, a, true);
    return saved.length;
  }

  enroll(agentId: string, nowMs: number, macs?: readonly string[]): EnrolledAgent {
    if (!this.agents.has(agentId) && this.agents.size >= this.maxAgents) { this.counters.refusedLimit++; throw new OutpostError('AGENT_LIMIT_REACHED', { max: this.maxAgents }); }
    const a: EnrolledAgent = { agentId, secret: randomBytes(32).toString('base64url'), enrolledMs: nowMs, ...(macs !== undefined && macs.length > 0 ? { macs: [...macs] } : {}) };
    // Durable before the secret is handed out: an agent never holds a secret a restart forgets.
    if (this.store !== null && !this.store.saveAgent(agentId, a, true)) throw new OutpostError('AGENT_STORE_WRITE_FAILED', { reason: `LMDB write for agent ${agentId} failed` });
    this.agents.set(agentId, a);
    this.counters.enrolled++;
    return a;
  }

  get(agentId: string): EnrolledAgent | undefined { return this.agents.get(agentId); }
  /** Revokes an agent: its secret is forgotten, so its heartbeats are refused (401 AGENT_NOT_ENROLLED). */
  revoke(agentId: string): boolean {
    if (!this.agents.delete(agentId)) return false;
    this.store?.saveAgent(agentId, undefined, true);
    this.nonces.delete(agentId);
    this.counters.revoked++;
    return true;
  }
  list(): EnrolledAgent[] { return [...this.agents.values()]; }
  /** Loads agents saved elsewhere (e.g. LMDB by the daemon). */
  load(agents: EnrolledAgent[]): void {
    for (const a of agents) { this.agents.set(a.agentId, a); this.store?.saveAgent(a.agentId, a, true); }
  }

  /** Checks a heartbeat's authentication; throws OutpostError (counted) when refused. */
  verify(agentId: string, timestamp: string, nonce: string, signature: string, rawBody: string, nowMs: number): EnrolledAgent {
    const c = this.counters;
    const a = this.agents.get(agentId);
    if (a === undefined) { c.refusedUnknown++; throw new OutpostError('AGENT_NOT_ENROLLED', { agentId }); }
    const expected = createHmac('sha256', a.secret).update(`${timestamp}\n${nonce}\n${rawBody}`).digest();
    const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) { c.refusedForged++; throw new OutpostError('AGENT_SIGNATURE_INVALID', { agentId }); }
    const ts = Number(timestamp);
    if (!Number.isFinite(ts) || Math.abs(nowMs - ts) > this.maxClockSkewMs) { c.refusedStale++; throw new OutpostError('AGENT_HEARTBEAT_STALE', { agentId }); }
    let seen = this.nonces.get(agentId);
    if (seen === undefined) { seen = new Map(); this.nonces.set(agentId, seen); }
    // Nonces older than the skew window cannot be replayed (the timestamp check refuses them).
    for (const [n, exp] of seen) { if (exp >= nowMs) break; seen.delete(n); }
    if (seen.has(nonce)) { c.refusedReplayed++; throw new OutpostError('AGENT_HEARTBEAT_REPLAYED', { agentId }); }
    if (seen.size >= this.maxNonces) { c.refusedNonceWindowFull++; throw new OutpostError('AGENT_NONCE_WINDOW_FULL', { agentId, max: this.maxNonces }); }
    seen.set(nonce, nowMs + 2 * this.maxClockSkewMs);
    a.lastHeartbeatMs = nowMs;
    this.store?.saveAgent(agentId, a, false);
    c.accepted++;
    return a;
  }
}

/** Signs a heartbeat body the way verify() expects (used by the agent and tests). */
export function signHeartbeat(secret: string, timestamp: string, nonce: string, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${nonce}\n${rawBody}`).digest('hex');
}

export interface AgentRoutesOptions {
  identity: DeviceIdentity;
  registry: AgentRegistry;
  /** Register the enrollment route (admin API) — default true. */
  enrollment?: boolean;
  /** Register the heartbeat route — default true. */
  heartbeats?: boolean;
  /** Gateway clock (tests). */
  now?: () => number;
}

const HEARTBEAT_SCHEMA = {
  type: 'object',
  required: ['agentId'],
  additionalProperties: false,
  properties: {
    agentId: { type: 'string', minLength: 1, maxLength: 128 },
    hostname: { type: 'string', maxLength: 255 },
    macs: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 17 } },
    addresses: { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 45 } },
    users: {
      type: 'array', maxItems: 64,
      items: {
        type: 'object', required: ['name'], additionalProperties: false,
        properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, domain: { type: 'string', maxLength: 256 }, uid: { type: 'string', maxLength: 256 }, upn: { type: 'string', maxLength: 256 } },
      },
    },
    os: { type: 'string', maxLength: 256 },
    time: { type: 'integer' },
  },
} as const;

const AGENT_ERROR_SCHEMA = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' } },
} as const;

export const agentRoutes: FastifyPluginAsync<AgentRoutesOptions> = async (app: FastifyInstance, opts) => {
  const now = opts.now ?? Date.now;
  const { registry, identity } = opts;
  // Enrollments persist in the device store's LMDB (when it is open), so a restart keeps them.
  registry.attachStore(identity.store.agents);
  const reply4xx = (err: unknown): { status: number; body: object } => {
    const e = err instanceof OutpostError ? err : new OutpostError('AGENT_HEARTBEAT_MALFORMED', { reason: err instanceof Error ? err.message : String(err) });
    return { status: e.httpStatus, body: { statusCode: e.httpStatus, code: e.code, error: 'Agent heartbeat refused', message: e.message } };
  };
  // The signature covers the raw body: keep it (this plugin's scope only).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: HEARTBEAT_BODY_LIMIT_BYTES }, (req, body, done) => {
    (req as unknown as { rawBody: string }).rawBody = body as string;
    if (jsonNestsDeeperThan(body as string, MAX_JSON_DEPTH)) { registry.counters.refusedMalformed++; done(jsonTooDeepError(), undefined); return; }
    try { done(null, JSON.parse(body as string)); } catch (e) { registry.counters.refusedMalformed++; (e as { statusCode?: number }).statusCode = 400; done(e as Error, undefined); }
  });

  if (opts.enrollment !== false) {
    app.post<{ Body: { agentId: string; macs?: string[] } }>('/v1/agents/enroll', {
      // Enrolling hands out a signing secret: administrators only.
      config: { role: 'admin' } as never,
      schema: {
        body: {
          type: 'object', required: ['agentId'], additionalProperties: false,
          properties: {
            agentId: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' },
            // The administrator's assignment: MACs this agent's heartbeats may claim even when a DHCP-known device has them.
            macs: { type: 'array', maxItems: 64, items: { type: 'string', pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$' } },
          },
        },
        response: {
          201: { type: 'object', required: ['agentId', 'secret'], properties: { agentId: { type: 'string' }, secret: { type: 'string' } } },
          '4xx': AGENT_ERROR_SCHEMA,
        },
      },
    }, async (req, reply) => {
      try {
        const macs: string[] = [];
        for (const m of req.body.macs ?? []) {
          const u = unicastMac(m);
          if (u === undefined) throw new OutpostError('AGENT_CLAIM_INVALID', { reason: `${m} is not a unicast MAC` });
          if (!macs.includes(u)) macs.push(u);
        }
        const a = registry.enroll(req.body.agentId, now(), macs);
        return reply.code(201).send({ agentId: a.agentId, secret: a.secret });
      } catch (err) {
        const r = reply4xx(err);
        return reply.code(r.status).send(r.body);
      }
    });
  }

  if (opts.heartbeats !== false) {
    app.post<{ Body: AgentReport & { time?: number } }>('/v1/agents/heartbeat', {
      // Agents authenticate each heartbeat with their HMAC signature, not an API token.
      config: { role: 'public' } as never,
      schema: { body: HEARTBEAT_SCHEMA, response: { 204: { type: 'null' }, '4xx': AGENT_ERROR_SCHEMA } },
      attachValidation: true,
    }, async (req, reply) => {
      if (req.validationError !== undefined && req.validationError !== null) {
        registry.counters.refusedMalformed++;
        return reply.code(400).send({ statusCode: 400, code: 'AGENT_HEARTBEAT_MALFORMED', error: 'Bad Request', message: req.validationError.message });
      }
      const h = req.headers;
      const agentId = h['x-outpost-agent'], ts = h['x-outpost-timestamp'], nonce = h['x-outpost-nonce'], sig = h['x-outpost-signature'];
      if (typeof agentId !== 'string' || typeof ts !== 'string' || typeof nonce !== 'string' || typeof sig !== 'string'
        || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce) || agentId !== req.body.agentId) {
        registry.counters.refusedMalformed++;
        return reply.code(400).send({ statusCode: 400, code: 'AGENT_HEARTBEAT_MALFORMED', error: 'Bad Request', message: 'missing or inconsistent authentication headers' });
      }
      const nowMs = now();
      let enrolled: EnrolledAgent;
      try {
        enrolled = registry.verify(agentId, ts, nonce, sig, (req as unknown as { rawBody: string }).rawBody ?? '', nowMs);
      } catch (err) {
        const r = reply4xx(err);
        return reply.code(r.status).send(r.body);
      }
      identity.applyAgentReport(req.body, nowMs, { sourceAddress: req.ip, ...(enrolled.macs !== undefined ? { boundMacs: enrolled.macs } : {}) });
      return reply.code(204).send();
    });
  }
};

const iso = (ms: number): string => new Date(ms).toISOString();

/** GET /v1/agents and DELETE /v1/agents/:id (registered under that prefix). `devices` names each agent's device. */
export function agentAdminRoutes(registry: AgentRegistry, devices: DeviceTable | null): FastifyPluginAsync<ApiPluginOptions> {
  return async (app, { ctx }) => {
    app.get('/', {
      schema: {
        summary: 'Enrolled endpoint agents (their secrets are never shown)',
        response: {
          200: {
            type: 'object',
            required: ['total', 'maxAgents', 'items'],
            properties: {
              total: { type: 'integer' },
              maxAgents: { type: 'integer' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['agentId', 'enrolledAt', 'lastHeartbeat'],
                  // No `secret` here: fast-json-stringify drops what the schema does not name.
                  properties: { agentId: { type: 'string' }, enrolledAt: { type: 'string', format: 'date-time' }, lastHeartbeat: { type: ['string', 'null'] }, deviceUid: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    }, async () => {
      const items = registry.list()
        .sort((a, b) => a.agentId.localeCompare(b.agentId))
        .map((a) => {
          const dev = devices?.byAgentId(a.agentId);
          return { agentId: a.agentId, enrolledAt: iso(a.enrolledMs), lastHeartbeat: a.lastHeartbeatMs === undefined ? null : iso(a.lastHeartbeatMs), ...(dev ? { deviceUid: dev.uid } : {}) };
        });
      return { total: items.length, maxAgents: registry.maxAgents, items };
    });

    app.delete<{ Params: { id: string } }>('/:id', {
      schema: {
        summary: 'Revoke an agent: its secret is forgotten and its heartbeats are refused (401) from now on',
        description: 'The device and user history the agent reported stay. Enroll again (POST /v1/agents/enroll) to get a new secret.',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } },
        response: { 200: { type: 'object', required: ['agentId', 'revoked'], properties: { agentId: { type: 'string' }, revoked: { type: 'boolean' } } } },
      },
    }, async (req) => {
      if (!registry.revoke(req.params.id)) throw new OutpostError('API_NOT_FOUND', { resource: `agent ${req.params.id}` }, { details: { resource: `agent ${req.params.id}` } });
      ctx.logger.info({ agentId: req.params.id, by: req.principal.name }, 'agent revoked');
      return { agentId: req.params.id, revoked: true };
    });
  };
}

/**
 * The agents plugin of the admin API: enrollment and heartbeats (with a device identity, i.e.
 * devices.enabled) and the admin listing and revocation (always). Routes name their role
 * (enroll admin, heartbeat public); the listing and revocation take the plugin's, admin.
 */
export function agentApiPlugin(registry: AgentRegistry, identity: DeviceIdentity | null): ApiPlugin {
  return {
    name: 'agents',
    prefix: '',
    role: 'admin',
    plugin: async (app, opts) => {
      if (identity !== null) await app.register(agentRoutes, { identity, registry });
      await app.register(agentAdminRoutes(registry, identity?.store.devices ?? null), { prefix: '/v1/agents', ctx: opts.ctx });
    },
  };
}
