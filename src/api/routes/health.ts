import type { FastifyPluginAsync } from 'fastify';
import type { ApiPluginOptions } from '../types.js';

const component = {
  type: 'object',
  required: ['name', 'state', 'ready'],
  properties: { name: { type: 'string' }, state: { type: 'string' }, ready: { type: 'boolean' }, detail: { type: 'string' } },
} as const;

/** GET /v1/health (public: liveness and readiness per component) and GET /v1/stats. */
export const healthRoutes: FastifyPluginAsync<ApiPluginOptions> = async (app, { ctx }) => {
  app.get('/v1/health', {
    config: { role: 'public' },
    schema: {
      summary: 'Liveness and readiness, with the state of each component',
      description: 'Always 200 while the process answers (liveness); `ready` is false, and `status` "degraded", while any component is not ready.',
      response: {
        200: {
          type: 'object',
          required: ['status', 'live', 'ready', 'uptimeMs', 'components'],
          properties: {
            status: { type: 'string', enum: ['ok', 'degraded'] },
            live: { type: 'boolean' },
            ready: { type: 'boolean' },
            uptimeMs: { type: 'integer' },
            capture: { type: 'string', description: 'State of the capture component (kept for older clients).' },
            restartRequired: { type: 'array', items: { type: 'string' } },
            components: { type: 'array', items: component },
          },
        },
      },
    },
  }, async () => {
    const components = ctx.health.report();
    const ready = components.every((c) => c.ready);
    return {
      status: ready ? 'ok' : 'degraded',
      live: true,
      ready,
      uptimeMs: Date.now() - ctx.startedAt,
      capture: components.find((c) => c.name === 'capture')?.state ?? 'idle',
      restartRequired: ctx.config.restartRequired(),
      components,
    };
  });

  app.get('/v1/stats', {
    schema: {
      summary: 'Every counter of the sensor and the capture, with per-interface kernel statistics',
      response: {
        200: {
          type: 'object',
          required: ['uptimeMs', 'interfaces', 'counters'],
          properties: {
            uptimeMs: { type: 'integer' },
            interfaces: { type: 'array', items: { type: 'object', additionalProperties: true } },
            counters: { type: 'object', additionalProperties: { type: 'number' } },
          },
        },
      },
    },
  }, async () => ctx.stats());
};
