import type { FastifyPluginAsync } from 'fastify';
import type { ApiPluginOptions } from '../types.js';

const runSchema = {
  type: ['object', 'null'],
  properties: {
    reason: { type: 'string', enum: ['scheduled', 'manual'] },
    startedAt: { type: 'string' },
    finishedAt: { type: ['string', 'null'] },
    durationMs: { type: ['number', 'null'] },
    outcome: { type: 'string', enum: ['running', 'ok', 'error'] },
    hooks: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, outcome: { type: 'string' }, error: { type: 'string' }, durationMs: { type: 'number' } } },
    },
  },
} as const;

const jobSchema = {
  type: 'object',
  required: ['name', 'schedule', 'hooks', 'running', 'runs', 'failures', 'lastRun'],
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    schedule: { type: 'string', description: 'Cron expression with seconds.' },
    hooks: { type: 'array', items: { type: 'string' } },
    running: { type: 'boolean' },
    runs: { type: 'integer' },
    failures: { type: 'integer' },
    skippedOverlaps: { type: 'integer' },
    nextRunAt: { type: ['string', 'null'] },
    lastRun: runSchema,
    lastSuccessAt: { type: ['string', 'null'] },
  },
} as const;

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9._-]{0,63}$' } },
} as const;

/** GET /v1/jobs, GET /v1/jobs/:name, POST /v1/jobs/:name/run. */
export const jobRoutes: FastifyPluginAsync<ApiPluginOptions> = async (app, { ctx }) => {
  app.get('/', {
    schema: { summary: 'Scheduled jobs with their last run and outcome', response: { 200: { type: 'object', required: ['jobs'], properties: { jobs: { type: 'array', items: jobSchema } } } } },
  }, async () => ({ jobs: ctx.jobs.list() }));

  app.get<{ Params: { name: string } }>('/:name', {
    schema: { summary: 'One job', params: nameParams, response: { 200: jobSchema } },
  }, async (req) => ctx.jobs.get(req.params.name));

  app.post<{ Params: { name: string } }>('/:name/run', {
    schema: { summary: 'Run a job now and wait for it to finish', params: nameParams, response: { 200: { type: 'object', required: ['job', 'run'], properties: { job: { type: 'string' }, run: runSchema } } } },
  }, async (req) => ({ job: req.params.name, run: await ctx.jobs.runNow(req.params.name) }));
};
