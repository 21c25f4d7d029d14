import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { configSchema } from '../../config/index.js';
import type { Actor } from '../../config/manager.js';
import type { ApiPluginOptions } from '../types.js';

const viewSchema = {
  type: 'object',
  required: ['config', 'revision', 'source', 'restartRequired'],
  properties: {
    config: { type: 'object', additionalProperties: true, description: 'The effective configuration (file merged onto the defaults); see GET /v1/config/schema.' },
    revision: { type: 'string', description: 'Send as If-Match with PUT/PATCH to refuse the change if someone else changed the file meanwhile.' },
    source: { type: ['string', 'null'], description: 'The configuration file, or null when running on embedded defaults.' },
    restartRequired: { type: 'array', items: { type: 'string' }, description: 'Settings whose new value takes effect only after a restart.' },
  },
} as const;

const changeResult = {
  type: 'object',
  required: ['revision', 'previousRevision', 'changes', 'applied', 'restartRequired', 'config'],
  properties: {
    revision: { type: 'string' },
    previousRevision: { type: 'string' },
    changes: { type: 'array', items: { type: 'object', required: ['path'], properties: { path: { type: 'string' }, from: {}, to: {} } } },
    applied: { type: 'array', items: { type: 'string' }, description: 'Changed settings applied live.' },
    restartRequired: { type: 'array', items: { type: 'string' }, description: 'All settings waiting for a restart (this change and earlier ones).' },
    config: { type: 'object', additionalProperties: true },
  },
} as const;

const ifMatch = {
  type: 'object',
  properties: { 'if-match': { type: 'string', maxLength: 80, description: 'Revision from GET /v1/config.' } },
} as const;

function actorOf(req: FastifyRequest): Actor {
  return { kind: req.principal.role === 'anonymous' ? 'anonymous' : 'token', name: req.principal.name, role: req.principal.role, address: req.ip };
}

const confirmQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { confirm: { type: 'string', enum: ['reduce-access'], description: 'Confirms a change that reduces access (a token removed, demoted or replaced, tokens required where none were); without it such a change gets 400 CONFIG_CONFIRMATION_REQUIRED.' } },
} as const;

function confirmed(req: FastifyRequest): { confirmReduceAccess: boolean } {
  return { confirmReduceAccess: (req.query as { confirm?: string }).confirm === 'reduce-access' };
}

function revisionHeader(req: FastifyRequest): string | undefined {
  const h = req.headers['if-match'];
  return typeof h === 'string' ? h.replace(/^W\//, '').replace(/^"|"$/g, '') : undefined;
}

/** GET/PUT/PATCH /v1/config, POST /v1/config/reload, GET /v1/config/audit, GET /v1/config/schema. */
export const configRoutes: FastifyPluginAsync<ApiPluginOptions> = async (app, { ctx }) => {
  // RFC 7396 media type for PATCH is parsed like JSON, with the same depth bound (src/api/server.ts).

  app.get('/', {
    schema: { summary: 'The effective configuration, its revision, and settings waiting for a restart', description: 'Read tokens see the API tokens\' names and roles only; their hashes are shown to admin tokens.', response: { 200: viewSchema } },
  }, async (req, reply) => {
    const view = ctx.config.view();
    // Hashes of tokens are for the administrators who manage them.
    if (req.principal.role !== 'admin') view.config.api.tokens = view.config.api.tokens.map((t) => ({ name: t.name, role: t.role }) as typeof t);
    void reply.header('etag', `"${view.revision}"`);
    return view;
  });

  const result = (record: ReturnType<typeof ctx.config.replace>) => ({
    revision: record.revision,
    previousRevision: record.previousRevision,
    changes: record.changes,
    applied: record.applied,
    restartRequired: ctx.config.restartRequired(),
    config: ctx.config.current,
  });

  app.put<{ Body: Record<string, unknown> }>('/', {
    schema: {
      summary: 'Replace the configuration file',
      description: 'Each top-level section of the body replaces that section of the file; sections left out keep their current values, `null` resets a section to its defaults. Validated with the configuration schema (422 CONFIG_REJECTED with every problem) and as the next start would check it (400 CONFIG_CHANGE_REFUSED: insecure bind, unreadable TLS files, no admin token left); a change that reduces access needs confirm=reduce-access (else 400 CONFIG_CONFIRMATION_REQUIRED). On success written atomically (temp file, fsync, rename), applied live where possible and audited; refused, nothing changed.',
      headers: ifMatch,
      querystring: confirmQuery,
      body: { type: 'object', maxProperties: 64 },
      response: { 200: changeResult },
    },
  }, async (req) => result(ctx.config.replace(req.body, actorOf(req), revisionHeader(req), confirmed(req))));

  app.patch<{ Body: Record<string, unknown> }>('/', {
    schema: {
      summary: 'Change some settings (JSON merge patch, RFC 7396)',
      description: 'Objects merge, `null` resets a setting to its default, anything else replaces. Same validation, checks, confirmation, atomic write, live apply and audit as PUT.',
      headers: ifMatch,
      querystring: confirmQuery,
      body: { type: 'object', maxProperties: 64 },
      response: { 200: changeResult },
    },
  }, async (req) => result(ctx.config.patch(req.body, actorOf(req), revisionHeader(req), confirmed(req))));

  app.post('/reload', {
    schema: { summary: 'Read the configuration file again (like SIGHUP)', response: { 200: changeResult } },
  }, async (req) => result(ctx.config.reload(actorOf(req))));

  app.get<{ Querystring: { limit: number } }>('/audit', {
    schema: {
      summary: 'Recent configuration changes: who, when, what (newest last)',
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 } } },
      response: {
        200: {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  time: { type: 'string' },
                  actor: { type: 'object', properties: { kind: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, address: { type: 'string' } } },
                  action: { type: 'string' },
                  revision: { type: 'string' },
                  previousRevision: { type: 'string' },
                  changes: changeResult.properties.changes,
                  applied: { type: 'array', items: { type: 'string' } },
                  restartRequired: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  }, async (req) => ({ items: ctx.config.auditLog().slice(-req.query.limit) }));

  app.get('/schema', {
    schema: { summary: 'The configuration JSON Schema (draft-07)', response: { 200: { type: 'object', additionalProperties: true } } },
  }, async () => configSchema);
};
