/**
 * Forwarding state:
 *
 *   GET /v1/sinks                      outbox depth and age, and per sink: lag, rate, errors, oldest unsent age
 *   GET /v1/sinks/:name/dead-letters   batches a receiver rejected (newest kept per sink), bounded by `limit`
 */
import type { FastifyPluginAsync } from 'fastify';
import { OutpostError } from '../errors.js';
import type { AreaRoutes } from '../area.js';
import type { Forwarding } from './index.js';

const sinkSchema = {
  type: 'object',
  required: ['name', 'type', 'enabled', 'lag_events', 'oldest_unsent_age_ms', 'rate_events_per_s', 'errors'],
  // Sink types add their own statistics (connection state, ...): kept as they are.
  additionalProperties: true,
  properties: {
    name: { type: 'string' },
    type: { type: 'string', description: 'The sink type: https, syslog, nats or cloudDiscoveryUpload' },
    enabled: { type: 'boolean' },
    running: { type: 'boolean', description: 'False for a configured but disabled sink (its cursor still holds its backlog).' },
    cursor_seq: { type: 'number' },
    lag_events: { type: 'number', description: 'Events committed to the outbox and not yet acknowledged by this sink.' },
    oldest_unsent_age_ms: { type: 'number', description: 'Age of the oldest event this sink has not yet sent; 0 when caught up.' },
    rate_events_per_s: { type: 'number', description: 'Events acknowledged per second over the last 10 s.' },
    sent_events: { type: 'number' },
    sent_batches: { type: 'number' },
    errors: { type: 'number' },
    retries: { type: 'number' },
    dead_lettered: { type: 'number' },
    dropped: { type: 'number', description: 'Events removed (outbox full, drop-oldest) before this sink sent them.' },
    expired: { type: 'number', description: 'Events removed for age (outboxMaxAgeMs) before this sink sent them.' },
    last_ack_ms: { type: ['number', 'null'] },
    files_uploaded: { type: 'number', description: 'cloudDiscoveryUpload: files finalized (acknowledged).' },
    files_failed: { type: 'number', description: 'cloudDiscoveryUpload: upload attempts that failed at one of the three steps (see initiate_failures, upload_failures, finalize_failures); the file is uploaded again.' },
    last_error: {
      type: 'object', nullable: true, additionalProperties: true,
      description: 'The last send error ({ code, message, atMs }); null when none.',
      properties: { code: { type: 'string' }, message: { type: 'string' }, atMs: { type: 'number' } },
    },
  },
} as const;

export function sinkRoutes(forwarding: Forwarding): FastifyPluginAsync {
  return async (app) => {
    const configured = (): Set<string> => new Set([...forwarding.outbox.cursors.keys()]);

    app.get('/', {
      schema: {
        summary: 'Forwarding status: the outbox (depth, bytes, oldest age) and each sink (lag, rate, errors, oldest unsent age)',
        response: {
          200: {
            type: 'object',
            required: ['outbox', 'sinks'],
            properties: {
              outbox: {
                type: 'object',
                required: ['depth', 'bytes', 'oldest_age_ms'],
                additionalProperties: true,
                properties: {
                  depth: { type: 'number', description: 'Events in the outbox.' },
                  bytes: { type: 'number' },
                  oldest_age_ms: { type: 'number', description: 'Age of the oldest event still in the outbox; 0 when empty.' },
                  appended: { type: 'number', description: 'Events accepted (queued for a commit); see committed.' },
                  committed: { type: 'number', description: 'Events stored by a completed commit.' },
                  uncommitted: { type: 'number', description: 'Events accepted but not yet committed (what a crash now would lose).' },
                  uncommitted_max_ms: { type: 'number', description: 'Longest time from append to completed commit of any event so far, in ms.' },
                  late_committed: { type: 'number', description: 'Events committed more than outboxMaxUncommittedMs after they were accepted.' },
                  refused_disk_low: { type: 'number' },
                  refused: { type: 'number' }, dropped: { type: 'number' }, expired: { type: 'number' },
                  write_failed: { type: 'number' },
                  policy: { type: 'string' }, sync: { type: 'string' },
                },
              },
              sinks: { type: 'array', items: sinkSchema },
            },
          },
        },
      },
    }, async () => {
      if (forwarding.outbox.closed) throw new OutpostError('API_NOT_FOUND', { resource: 'forwarding status (the outbox is closed: the daemon is stopping)' });
      const st = forwarding.status();
      const outbox: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(st.outbox)) {
        if (k === 'path') continue;
        outbox[k.startsWith('forward.outbox.') ? k.slice('forward.outbox.'.length) : k] = v;
      }
      const running = new Set(st.sinks.map((s) => s.name));
      // Configured but disabled sinks: their cursor still exists and holds their backlog.
      const idle = [...configured()].filter((n) => !running.has(n)).map((name) => {
        const cur = forwarding.outbox.cursor(name);
        return { name, type: 'disabled', enabled: false, running: false, cursor_seq: cur.acked, lag_events: Math.max(0, forwarding.outbox.committedSeq - cur.acked), oldest_unsent_age_ms: 0, rate_events_per_s: 0, errors: 0, dropped: cur.dropped, expired: cur.expired };
      });
      return { outbox, sinks: [...st.sinks.map((s) => ({ ...s, running: true })), ...idle] };
    });

    app.get<{ Params: { name: string }; Querystring: { limit: number } }>('/:name/dead-letters', {
      schema: {
        summary: 'Batches a sink\'s receiver rejected (moved aside instead of retried), oldest first',
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 128 } } },
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } },
        response: {
          200: {
            type: 'object',
            required: ['sink', 'items'],
            properties: {
              sink: { type: 'string' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['seq', 'uid', 'status', 'reason', 'at', 'event'],
                  properties: {
                    seq: { type: 'number' }, uid: { type: 'string' },
                    status: { type: ['integer', 'null'], description: 'Receiver status (HTTP) or null.' },
                    reason: { type: 'string' }, at: { type: 'string', format: 'date-time' },
                    event: { type: 'string', description: 'The rejected event as JSON text.' },
                  },
                },
              },
            },
          },
        },
      },
    }, async (req) => {
      const { name } = req.params;
      if (!configured().has(name)) throw new OutpostError('API_NOT_FOUND', { resource: `sink ${name}` }, { details: { resource: `sink ${name}` } });
      const items = forwarding.deadLetters(name, req.query.limit).map((d) => ({ seq: d.seq, uid: d.uid, status: d.status, reason: d.reason, at: new Date(d.atMs).toISOString(), event: d.json }));
      return { sink: name, items };
    });
  };
}

export function sinkApiPlugin(forwarding: Forwarding): AreaRoutes {
  return { name: 'sinks', prefix: '/v1/sinks', plugin: sinkRoutes(forwarding) };
}
