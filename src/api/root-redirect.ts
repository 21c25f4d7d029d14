/**
 * `/` until the console (src/console/) serves it: a redirect to the discovered-apps page. The
 * server registers this only when no plugin has a route for `GET /`, so the console's own `/`
 * replaces it without touching this file (delete it once the console has landed).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ApiPluginOptions } from './types.js';

export const ROOT_REDIRECT = '/v1/discovery/ui/';

export const rootRoutes: FastifyPluginAsync<ApiPluginOptions> = async (app) => {
  app.get('/', {
    config: { role: 'public', tag: 'meta' },
    schema: { summary: 'The console (until it is served here: a redirect to the discovered-apps page)', response: { 302: { type: 'null' } } },
  }, async (_req, reply) => reply.code(302).header('location', ROOT_REDIRECT).send());
};
