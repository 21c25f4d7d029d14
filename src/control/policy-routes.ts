/**
 * Control policy API (fastify plugins under /v1). GET routes need `read`, others `admin` (the
 * API server's defaults); the audit trail needs `admin`. Every body is validated against its
 * JSON schema (400 API_VALIDATION_FAILED), then against the state (422 CONTROL_INVALID: an app
 * id, category or group that does not exist; 404 CONTROL_NOT_FOUND; 409 CONTROL_LIMIT_REACHED,
 * CONTROL_IN_USE): a refused request changes nothing and writes no audit record.
 *
 *   GET|POST        /control/rules                  block/allow rules by app, category, domain, risk
 *   GET|PUT|DELETE  /control/rules/:id
 *   GET|POST        /control/exceptions             standing allows for a device, user or group
 *   GET|PUT|DELETE  /control/exceptions/:id
 *   GET             /control/groups                 groups of users and devices
 *   GET|PUT|DELETE  /control/groups/:id
 *   GET|POST        /control/overrides              time-boxed decisions (audited, with a reason)
 *   GET|DELETE      /control/overrides/:id          revoke
 *   GET             /control/verdict?name&clientIp  what the policy answers now (dry run)
 *   GET             /control/audit                  every change: who, when, what (admin)
 *   GET             /discovery/blocklist?format=    dnsmasq|unbound|rpz|nft|squid|pac|csv
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AreaRoutes } from '../area.js';
import { APP_ID_PATTERN } from '../discovery/catalog.js';
import type { DnsNameCache } from '../protocols/dns/name-cache.js';
import type { ControlPolicy, ExceptionScope, PolicySubject, RuleAction, RuleMatch } from './policy.js';
import { RULE_ACTIONS } from './policy.js';
import {
  CONTROL_OVERRIDE_MAX_DURATION_MS, CONTROL_OVERRIDE_MIN_DURATION_MS, DEVICE_SUBJECT_PATTERN, GROUP_ID_PATTERN, ITEM_ID_PATTERN, USER_SUBJECT_PATTERN,
  type AuditActor, type PolicyStore,
} from './policy-store.js';
import { BLOCKLIST_CONTENT_TYPES, BLOCKLIST_FORMATS, renderBlocklist, type BlocklistCounters, type BlocklistEntry, type BlocklistFormat } from './blocklist.js';

export interface ControlRoutesOptions {
  store: PolicyStore;
  policy: ControlPolicy;
  blocklistEntries(): BlocklistEntry[];
  blocklistCounters: BlocklistCounters;
  catalogVersion(): string;
  nameCache?: DnsNameCache;
  now(): number;
}

const anyObject = { type: 'object', additionalProperties: true } as const;
const text = { type: 'string' } as const;
const note = { type: 'string', maxLength: 500 } as const;

const subjectSchema = {
  type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1,
  description: 'Exactly one of device (uid or MAC), user, group (id).',
  properties: {
    device: { type: 'string', pattern: DEVICE_SUBJECT_PATTERN },
    user: { type: 'string', pattern: USER_SUBJECT_PATTERN },
    group: { type: 'string', pattern: GROUP_ID_PATTERN },
  },
} as const;

const appId = { type: 'string', maxLength: 300, pattern: APP_ID_PATTERN } as const;
const category = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } as const;
const domain = { type: 'string', minLength: 1, maxLength: 253 } as const;

const matchSchema = {
  type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1,
  description: 'Exactly one of app (id), category (id), domain (suffix), minRiskScore (0-10).',
  properties: { app: appId, category, domain, minRiskScore: { type: 'number', minimum: 0, maximum: 10 } },
} as const;

const scopeSchema = {
  type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1,
  description: 'Exactly one of app, category, domain; absent: every app.',
  properties: { app: appId, category, domain },
} as const;

const ruleBody = {
  type: 'object', additionalProperties: false, required: ['match', 'action'],
  properties: { match: matchSchema, action: { type: 'string', enum: [...RULE_ACTIONS] }, note },
} as const;

const exceptionBody = {
  type: 'object', additionalProperties: false, required: ['subject'],
  properties: { subject: subjectSchema, scope: scopeSchema, note },
} as const;

const groupBody = {
  type: 'object', additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    users: { type: 'array', maxItems: 10_000, items: { type: 'string', pattern: USER_SUBJECT_PATTERN } },
    devices: { type: 'array', maxItems: 10_000, items: { type: 'string', pattern: DEVICE_SUBJECT_PATTERN } },
  },
} as const;

const overrideBody = {
  type: 'object', additionalProperties: false, required: ['subject', 'app', 'durationMs', 'reason'],
  properties: {
    subject: subjectSchema,
    app: appId,
    verdict: { type: 'string', enum: [...RULE_ACTIONS], default: 'allow' },
    durationMs: { type: 'integer', minimum: CONTROL_OVERRIDE_MIN_DURATION_MS, maximum: CONTROL_OVERRIDE_MAX_DURATION_MS },
    reason: { type: 'string', minLength: 3, maxLength: 500 },
  },
} as const;

const itemParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ITEM_ID_PATTERN } } } as const;
const groupParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: GROUP_ID_PATTERN } } } as const;

function actorOf(req: FastifyRequest): AuditActor {
  const p = (req as { principal?: { name?: string } }).principal;
  return { name: p?.name ?? 'anonymous', address: req.ip };
}

function controlRoutes(o: ControlRoutesOptions): FastifyPluginAsync {
  const s = o.store;
  return async (app) => {
    // ---------------------------------------------------------------------------- rules
    app.get('/control/rules', { schema: { summary: 'Administrator rules (block/allow by app, category, domain suffix, risk score)', response: { 200: anyObject } } },
      async () => ({ rules: s.listRules() }));
    app.post('/control/rules', { schema: { summary: 'Add a rule', body: ruleBody, response: { 201: anyObject } } }, async (req, reply) => {
      const b = req.body as { match: RuleMatch; action: RuleAction; note?: string };
      return reply.code(201).send(await s.putRule(b, actorOf(req)));
    });
    app.get('/control/rules/:id', { schema: { summary: 'One rule', params: itemParams, response: { 200: anyObject } } },
      async (req) => s.getRule((req.params as { id: string }).id));
    app.put('/control/rules/:id', { schema: { summary: 'Replace a rule', params: itemParams, body: ruleBody, response: { 200: anyObject } } },
      async (req) => s.putRule(req.body as { match: RuleMatch; action: RuleAction; note?: string }, actorOf(req), (req.params as { id: string }).id));
    app.delete('/control/rules/:id', { schema: { summary: 'Remove a rule', params: itemParams, response: { 200: anyObject } } }, async (req) => {
      const { id } = req.params as { id: string };
      await s.deleteRule(id, actorOf(req));
      return { removed: id };
    });

    // ----------------------------------------------------------------------- exceptions
    app.get('/control/exceptions', { schema: { summary: 'Exceptions: standing allows for a device, user or group', response: { 200: anyObject } } },
      async () => ({ exceptions: s.listExceptions() }));
    app.post('/control/exceptions', { schema: { summary: 'Add an exception', body: exceptionBody, response: { 201: anyObject } } }, async (req, reply) => {
      const b = req.body as { subject: PolicySubject; scope?: ExceptionScope; note?: string };
      return reply.code(201).send(await s.putException(b, actorOf(req)));
    });
    app.get('/control/exceptions/:id', { schema: { summary: 'One exception', params: itemParams, response: { 200: anyObject } } },
      async (req) => s.getException((req.params as { id: string }).id));
    app.put('/control/exceptions/:id', { schema: { summary: 'Replace an exception', params: itemParams, body: exceptionBody, response: { 200: anyObject } } },
      async (req) => s.putException(req.body as { subject: PolicySubject; scope?: ExceptionScope; note?: string }, actorOf(req), (req.params as { id: string }).id));
    app.delete('/control/exceptions/:id', { schema: { summary: 'Remove an exception', params: itemParams, response: { 200: anyObject } } }, async (req) => {
      const { id } = req.params as { id: string };
      await s.deleteException(id, actorOf(req));
      return { removed: id };
    });

    // --------------------------------------------------------------------------- groups
    app.get('/control/groups', { schema: { summary: 'Groups of users and devices (named by exceptions and overrides)', response: { 200: anyObject } } },
      async () => ({ groups: s.listGroups() }));
    app.get('/control/groups/:id', { schema: { summary: 'One group', params: groupParams, response: { 200: anyObject } } },
      async (req) => s.getGroup((req.params as { id: string }).id));
    app.put('/control/groups/:id', { schema: { summary: 'Create or replace a group', params: groupParams, body: groupBody, response: { 200: anyObject } } },
      async (req) => s.putGroup((req.params as { id: string }).id, req.body as { name?: string; users?: string[]; devices?: string[] }, actorOf(req)));
    app.delete('/control/groups/:id', { schema: { summary: 'Remove a group no exception or override names', params: groupParams, response: { 200: anyObject } } }, async (req) => {
      const { id } = req.params as { id: string };
      await s.deleteGroup(id, actorOf(req));
      return { removed: id };
    });

    // ------------------------------------------------------------------------ overrides
    app.get('/control/overrides', {
      schema: { summary: 'Live time-boxed overrides (expired ones too with ?expired=true)', querystring: { type: 'object', additionalProperties: false, properties: { expired: { type: 'boolean' } } }, response: { 200: anyObject } },
    }, async (req) => ({ overrides: s.listOverrides((req.query as { expired?: boolean }).expired === true) }));
    app.post('/control/overrides', {
      schema: { summary: 'Allow (or block) one app for one user, device or group for a while; audited with its reason', body: overrideBody, response: { 201: anyObject } },
    }, async (req, reply) => {
      const b = req.body as { subject: PolicySubject; app: string; verdict?: RuleAction; durationMs: number; reason: string };
      return reply.code(201).send(await s.addOverride(b, actorOf(req)));
    });
    app.get('/control/overrides/:id', { schema: { summary: 'One override', params: itemParams, response: { 200: anyObject } } },
      async (req) => s.getOverride((req.params as { id: string }).id));
    app.delete('/control/overrides/:id', { schema: { summary: 'Revoke an override before it expires', params: itemParams, response: { 200: anyObject } } }, async (req) => {
      const { id } = req.params as { id: string };
      await s.revokeOverride(id, actorOf(req));
      return { revoked: id };
    });

    // -------------------------------------------------------------------- verdict, audit
    app.get('/control/verdict', {
      schema: {
        summary: 'The verdict the policy gives now for a name asked by a client (a dry run: not counted, no event)',
        querystring: {
          type: 'object', additionalProperties: false, required: ['name', 'clientIp'],
          properties: { name: { type: 'string', minLength: 1, maxLength: 253 }, clientIp: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] }, clientMac: { type: 'string', pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' } },
        },
        response: { 200: anyObject },
      },
    }, async (req) => {
      const q = req.query as { name: string; clientIp: string; clientMac?: string };
      return o.policy.dryRun({ name: q.name, nameSource: 'dns-query', clientIp: q.clientIp, ...(q.clientMac !== undefined ? { clientMac: q.clientMac } : {}), nowMs: o.now() });
    });
    app.get('/control/audit', {
      config: { role: 'admin' as const },
      schema: { summary: 'Changes to the control policy: who, when, what, why', querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } }, response: { 200: anyObject } },
    }, async (req) => ({ records: s.auditLog((req.query as { limit?: number }).limit ?? 100) }));
  };
}

function blocklistRoutes(o: ControlRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    app.get('/discovery/blocklist', {
      schema: {
        summary: 'Block list of unsanctioned apps and block rules for another appliance (resolver, proxy, firewall)',
        description: 'dnsmasq, unbound (local-zone), rpz (zone file), nft (address sets from the DNS name cache), squid (ACL), pac, csv. Made from the same rules and sanction states as the inline verdicts; per-user exceptions and overrides do not apply.',
        querystring: { type: 'object', additionalProperties: false, required: ['format'], properties: { format: { type: 'string', enum: [...BLOCKLIST_FORMATS] } } },
        response: { 200: text },
      },
    }, async (req, reply) => {
      const format = (req.query as { format: BlocklistFormat }).format;
      const now = o.now();
      const body = renderBlocklist(format, {
        entries: o.blocklistEntries(), generatedMs: now, source: o.catalogVersion(),
        ...(format === 'nft' && o.nameCache ? { resolutions: o.nameCache.resolutionsAt(now) } : {}),
      }, o.blocklistCounters);
      const ext = format === 'csv' ? 'csv' : format === 'pac' ? 'pac' : format === 'rpz' ? 'zone' : 'conf';
      return reply.type(BLOCKLIST_CONTENT_TYPES[format]).header('content-disposition', `attachment; filename="outpost-blocklist-${format}.${ext}"`)
        .header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').send(body);
    });
  };
}

/** The control routes, under /v1 (src/area.ts). */
export function controlApiPlugins(o: ControlRoutesOptions): AreaRoutes[] {
  return [
    { name: 'control', prefix: '/v1', plugin: async (app) => { await app.register(controlRoutes(o)); } },
    { name: 'blocklist', prefix: '/v1', tag: 'discovery', plugin: async (app) => { await app.register(blocklistRoutes(o)); } },
  ];
}
