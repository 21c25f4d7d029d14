import type { FastifyPluginAsync } from 'fastify';
import type { ApiPluginOptions } from '../types.js';

/** GET /metrics: Prometheus text exposition (role read when tokens are configured). */
export const metricsRoutes: FastifyPluginAsync<ApiPluginOptions> = async (app, { ctx }) => {
  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics',
      description: 'Text exposition format 0.0.4. Every dotted sensor counter appears as outpost_<name>_total (gauges without _total).',
      response: { 200: { type: 'string' } },
    },
  }, async (_req, reply) => {
    const text = await ctx.metrics.render();
    return reply.type(ctx.metrics.contentType).send(text);
  });
};
