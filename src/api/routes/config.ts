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

function revisionHeader(req: FastifyRequest): string | undefined {
  const h = req.headers['if-match'];
  return typeof h === 'string' ? h.replace(/^W\//, '').replace(/^"|"$/g, '') : undefined;
}

/** GET/PUT/PATCH /v1/config, POST /v1/config/reload, GET /v1/config/audit, GET /v1/config/schema. */
export const configRoutes: FastifyPluginAsync<ApiPluginOptions> = async (app, { ctx }) => {
  // RFC 7396 media type for PATCH, parsed like JSON.
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  app.get('/', {
    schema: { summary: 'The effective configuration, its revision, and settings waiting for a restart', response: { 200: viewSchema } },
  }, async (_req, reply) => {
    const view = ctx.config.view();
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
      description: 'The body is the whole document (settings left out take their defaults). Validated with the configuration schema; on success written atomically (temp file, fsync, rename), applied live where possible and audited. Invalid: 422 CONFIG_REJECTED with every problem, nothing changed.',
      headers: ifMatch,
      body: { type: 'object', maxProperties: 64 },
      response: { 200: changeResult },
    },
  }, async (req) => result(ctx.config.replace(req.body, actorOf(req), revisionHeader(req))));

  app.patch<{ Body: Record<string, unknown> }>('/', {
    schema: {
      summary: 'Change some settings (JSON merge patch, RFC 7396)',
      description: 'Objects merge, `null` resets a setting to its default, anything else replaces. Same validation, atomic write, live apply and audit as PUT.',
      headers: ifMatch,
      body: { type: 'object', maxProperties: 64 },
      response: { 200: changeResult },
    },
  }, async (req) => result(ctx.config.patch(req.body, actorOf(req), revisionHeader(req))));

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
