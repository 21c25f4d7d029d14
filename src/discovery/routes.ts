/**
 * Discovery API (fastify plugin), registered under /v1 (discoveryApiPlugin), so routes are
 * /v1/discovery/...; GET routes need `read`, others `admin` (src/api/server.ts defaults), the
 * page's static assets are public (they carry no data). Every route has a response schema.
 *
 *   GET    /discovery/apps                      report: ?from&to (ms or ISO) &sort&order&limit&offset
 *                                               &minRisk&maxRisk&sanction&category&q&unclassified
 *   GET    /discovery/apps.csv                  the same report as CSV (RFC 4180): every row, streamed
 *   GET    /discovery/apps/:id                  catalog entry + figures over the range
 *   GET    /discovery/apps/:id/devices|users    drill-down
 *   GET    /discovery/series                    bytes per hour (or day) per app or category: the console's charts
 *   GET    /discovery/usage                     per device or user: the apps used (the other way round from drill-down)
 *   PUT    /discovery/apps/:id/sanction         { state: sanctioned|unsanctioned|monitored }
 *   DELETE /discovery/apps/:id/sanction         back to the default state
 *   GET    /discovery/catalog                   version, counts, taxonomy, conflicts
 *   GET    /discovery/catalog/apps[/:id]        catalog entries (risk score and attributes)
 *   PUT    /discovery/catalog/apps/:id          add or override an app (domains, ranges, risk)
 *   DELETE /discovery/catalog/apps/:id          remove the override / custom app
 *   POST   /discovery/catalog/reload            re-read the catalog file (no restart)
 *   POST   /discovery/users/reveal              { pseudonym, reason } → name; audited
 *   GET    /discovery/audit                     administrator actions
 *   GET    /discovery/ui/ (index.html, app.js, style.css)   the discovered-apps page
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import type { AreaRoutes } from '../area.js';
import { Discovery, DiscoveryError, REPORT_SORTS, type ReportQuery } from './discovery.js';
import { APP_ID_PATTERN, CatalogError } from './catalog.js';
import { CATEGORIES, TAXONOMY_ID } from './taxonomy.js';
import { SANCTION_STATES, type SanctionState } from './config.js';
import { APP_JS, INDEX_HTML, STYLE_CSS } from './ui.js';

export interface DiscoveryRoutesOptions {
  discovery: Discovery;
}

const anyObject = { type: 'object', additionalProperties: true } as const;
const text = { type: 'string' } as const;

const reportQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', description: 'Start (ms since the epoch or ISO 8601); default: `to` minus 24 h' },
    to: { type: 'string', description: 'End, exclusive (ms or ISO 8601); default: now' },
    sort: { type: 'string', enum: [...REPORT_SORTS] },
    order: { type: 'string', enum: ['asc', 'desc'] },
    limit: { type: 'integer', minimum: 1, maximum: 10000 },
    offset: { type: 'integer', minimum: 0 },
    minRisk: { type: 'number', minimum: 0, maximum: 10 },
    maxRisk: { type: 'number', minimum: 0, maximum: 10 },
    sanction: { type: 'string', enum: [...SANCTION_STATES] },
    category: { type: 'string' },
    q: { type: 'string', maxLength: 200 },
    unclassified: { type: 'boolean' },
  },
} as const;

const rangeQuerySchema = {
  type: 'object',
  additionalProperties: true,
  properties: { from: { type: 'string' }, to: { type: 'string' } },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 300, pattern: APP_ID_PATTERN } } } as const;

function parseTime(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new DiscoveryError('DISCOVERY_BAD_RANGE', `${name}: not a time (ms since the epoch or ISO 8601): ${v}`);
  return n;
}

function optionalRange(fromMs: number | undefined, toMs: number | undefined): { fromMs?: number; toMs?: number } {
  return { ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}) };
}

type RawQuery = Record<string, string | number | boolean | undefined>;

function toReportQuery(q: RawQuery): ReportQuery {
  const r: ReportQuery = {};
  const from = parseTime(q.from as string | undefined, 'from');
  const to = parseTime(q.to as string | undefined, 'to');
  if (from !== undefined) r.fromMs = from;
  if (to !== undefined) r.toMs = to;
  if (q.sort !== undefined) r.sort = q.sort as ReportQuery['sort'];
  if (q.order !== undefined) r.order = q.order as 'asc' | 'desc';
  if (q.limit !== undefined) r.limit = Number(q.limit);
  if (q.offset !== undefined) r.offset = Number(q.offset);
  if (q.minRisk !== undefined) r.minRisk = Number(q.minRisk);
  if (q.maxRisk !== undefined) r.maxRisk = Number(q.maxRisk);
  if (q.sanction !== undefined) r.sanction = q.sanction as SanctionState;
  if (q.category !== undefined) r.category = String(q.category);
  if (q.q !== undefined) r.q = String(q.q);
  if (q.unclassified !== undefined) r.includeUnclassified = q.unclassified === true || q.unclassified === 'true';
  return r;
}

function actorOf(req: FastifyRequest): string {
  const p = (req as { principal?: { name?: string } }).principal;
  return p?.name ?? 'anonymous';
}

export const discoveryRoutes: FastifyPluginAsync<DiscoveryRoutesOptions> = async (app: FastifyInstance, opts) => {
  const d = opts.discovery;

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof DiscoveryError) {
      return reply.code(err.statusCode).send({ statusCode: err.statusCode, code: err.code, error: 'Discovery', message: err.message, ...(err.details ? { details: err.details } : {}) });
    }
    if (err instanceof CatalogError) {
      return reply.code(422).send({ statusCode: 422, code: err.code, error: 'Discovery', message: err.message, details: { errors: err.errors.slice(0, 50) } });
    }
    throw err;
  });

  // ------------------------------------------------------------------ page
  const asset = (body: string, type: string) => async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type(type).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(body);
  const page = { config: { role: 'public' as const }, schema: { summary: 'Discovered-apps page (static asset)', response: { 200: text } } };
  app.get('/discovery/ui', page, async (_req, reply) => reply.redirect('ui/'));
  app.get('/discovery/ui/', page, asset(INDEX_HTML, 'text/html; charset=utf-8'));
  app.get('/discovery/ui/index.html', page, asset(INDEX_HTML, 'text/html; charset=utf-8'));
  app.get('/discovery/ui/app.js', page, asset(APP_JS, 'text/javascript; charset=utf-8'));
  app.get('/discovery/ui/style.css', page, asset(STYLE_CSS, 'text/css; charset=utf-8'));

  // --------------------------------------------------------------- reports
  app.get('/discovery/apps', {
    schema: { summary: 'Discovered apps over a time range: traffic, upload, users, devices, IPs; sortable, paged', querystring: reportQuerySchema, response: { 200: anyObject } },
  }, async (req) => d.report(toReportQuery(req.query as RawQuery)));

  app.get('/discovery/apps.csv', {
    schema: { summary: 'Discovered apps as CSV', querystring: reportQuerySchema, response: { 200: text } },
  }, async (req, reply) => {
    // Every row of the report (not one page of it): written in chunks as they are produced.
    const csv = await d.reportCsv(toReportQuery(req.query as RawQuery));
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="discovered-apps.csv"')
      .header('x-total-count', String(csv.total)).send(Readable.from(csv.chunks));
  });

  app.get('/discovery/apps/:id', {
    schema: { summary: 'One app: catalog entry, sanction and figures over the range', params: idParams, querystring: rangeQuerySchema, response: { 200: anyObject } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as RawQuery;
    const dd = await d.drillDown(id, 'devices', parseTime(q.from as string | undefined, 'from'), parseTime(q.to as string | undefined, 'to'));
    const entry = d.app(id) ?? null;
    if (entry === null && dd.app === null) throw new DiscoveryError('DISCOVERY_APP_NOT_FOUND', `no app ${id} in the catalog or the range`);
    return { id, catalog: entry, sanction: d.sanctionOf(id), range: dd.range, figures: dd.app };
  });

  for (const by of ['devices', 'users'] as const) {
    app.get(`/discovery/apps/:id/${by}`, {
      schema: { summary: `The ${by} of an app over the range`, params: idParams, querystring: rangeQuerySchema, response: { 200: anyObject } },
    }, async (req) => {
      const { id } = req.params as { id: string };
      const q = req.query as RawQuery;
      return d.drillDown(id, by, parseTime(q.from as string | undefined, 'from'), parseTime(q.to as string | undefined, 'to'));
    });
  }

  // ----------------------------------------------------- console views
  app.get('/discovery/series', {
    schema: {
      summary: 'Traffic over time per app or per category (bytes each way per bucket), the top ones by bytes and the rest as `other`',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          from: { type: 'string' }, to: { type: 'string' },
          by: { type: 'string', enum: ['app', 'category'], default: 'app' },
          top: { type: 'integer', minimum: 1, maximum: 50, default: 8, description: 'Lines kept; the rest are summed into one `other` line.' },
        },
      },
      response: { 200: anyObject },
    },
  }, async (req) => {
    const q = req.query as { from?: string; to?: string; by: 'app' | 'category'; top: number };
    return d.series(q.by, q.top, parseTime(q.from, 'from'), parseTime(q.to, 'to'));
  });

  app.get('/discovery/usage', {
    schema: {
      summary: 'Per device (rollup device key, `uid:<device uid>` with device identity) or per user: the apps used over the range, by bytes',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          from: { type: 'string' }, to: { type: 'string' },
          by: { type: 'string', enum: ['devices', 'users'], default: 'devices' },
          key: { type: 'string', minLength: 1, maxLength: 600, description: 'One device key or user key only.' },
          topApps: { type: 'integer', minimum: 1, maximum: 200, default: 10 },
          limit: { type: 'integer', minimum: 1, maximum: 5000, default: 500 },
        },
      },
      response: { 200: anyObject },
    },
  }, async (req) => {
    const q = req.query as { from?: string; to?: string; by: 'devices' | 'users'; key?: string; topApps: number; limit: number };
    return d.usage(q.by, {
      ...(q.key !== undefined ? { key: q.key } : {}), topApps: q.topApps, limit: q.limit,
      ...optionalRange(parseTime(q.from, 'from'), parseTime(q.to, 'to')),
    });
  });

  // ------------------------------------------------------------- sanction
  app.put('/discovery/apps/:id/sanction', {
    schema: {
      summary: 'Set an app sanctioned, unsanctioned or monitored',
      params: idParams,
      body: { type: 'object', additionalProperties: false, required: ['state'], properties: { state: { type: 'string', enum: [...SANCTION_STATES] } } },
      response: { 200: anyObject },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const { state } = req.body as { state: SanctionState };
    await d.setSanction(id, state, actorOf(req));
    return { id, sanction: d.sanctionOf(id) };
  });

  app.delete('/discovery/apps/:id/sanction', {
    schema: { summary: 'Return an app to the default sanction state', params: idParams, response: { 200: anyObject } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    await d.setSanction(id, null, actorOf(req));
    return { id, sanction: d.sanctionOf(id) };
  });

  // --------------------------------------------------------------- catalog
  app.get('/discovery/catalog', {
    schema: { summary: 'Catalog version, counts and taxonomy', response: { 200: anyObject } },
  }, async () => {
    const m = d.currentMatcher;
    return { version: d.catalogVersion, apps: m.catalog.apps.size, domains: m.domainCount, ranges: m.rangeCount, taxonomy: { id: TAXONOMY_ID, categories: CATEGORIES }, conflicts: m.catalog.conflicts, overrides: d.overrides() };
  });

  app.get('/discovery/catalog/apps', {
    schema: {
      summary: 'Catalog entries',
      querystring: { type: 'object', additionalProperties: false, properties: { q: { type: 'string' }, category: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 5000 }, offset: { type: 'integer', minimum: 0 } } },
      response: { 200: anyObject },
    },
  }, async (req) => {
    const q = req.query as { q?: string; category?: string; limit?: number; offset?: number };
    const needle = q.q?.toLowerCase();
    const apps = d.apps()
      .filter((a) => (q.category === undefined || a.category === q.category) && (needle === undefined || `${a.id} ${a.name} ${a.vendor} ${a.domains.join(' ')}`.toLowerCase().includes(needle)))
      .sort((a, b) => a.id.localeCompare(b.id));
    const offset = q.offset ?? 0, limit = q.limit ?? 100;
    return { version: d.catalogVersion, total: apps.length, offset, limit, apps: apps.slice(offset, offset + limit).map((a) => ({ ...a, sanction: d.sanctionOf(a.id) })) };
  });

  app.get('/discovery/catalog/apps/:id', {
    schema: { summary: 'One catalog entry', params: idParams, response: { 200: anyObject } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const a = d.app(id);
    if (a === undefined) throw new DiscoveryError('DISCOVERY_APP_NOT_FOUND', `no app ${id} in the catalog`);
    return { ...a, sanction: d.sanctionOf(id), override: d.overrides()[id] ?? null };
  });

  app.put('/discovery/catalog/apps/:id', {
    schema: {
      summary: 'Add an app or override a shipped one (name, vendor, category, domains, addDomains, addressRanges, risk); applied at once',
      params: idParams, body: anyObject, response: { 200: anyObject },
    },
  }, async (req) => {
    const { id } = req.params as { id: string };
    const app2 = await d.setOverride(id, req.body, actorOf(req));
    return { version: d.catalogVersion, app: app2 };
  });

  app.delete('/discovery/catalog/apps/:id', {
    schema: { summary: 'Remove an administrator override or custom app', params: idParams, response: { 200: anyObject } },
  }, async (req) => {
    const { id } = req.params as { id: string };
    if (!(await d.deleteOverride(id, actorOf(req)))) throw new DiscoveryError('DISCOVERY_APP_NOT_FOUND', `no override for ${id}`);
    return { version: d.catalogVersion, removed: id };
  });

  app.post('/discovery/catalog/reload', {
    schema: { summary: 'Re-read the catalog file and overrides; the running catalog stays on error', response: { 200: anyObject } },
  }, async (req) => {
    const info = d.reloadCatalog();
    await d.store.audit({ action: 'catalog.reload', actor: actorOf(req), version: info.version });
    return info;
  });

  // --------------------------------------------------------------- privacy
  app.post('/discovery/users/reveal', {
    schema: {
      summary: 'The user name behind a pseudonym (audited: who, when, why)',
      body: { type: 'object', additionalProperties: false, required: ['pseudonym', 'reason'], properties: { pseudonym: { type: 'string', pattern: '^u-[0-9a-f]{24}$' }, reason: { type: 'string', minLength: 3, maxLength: 500 } } },
      response: { 200: anyObject },
    },
  }, async (req) => {
    const { pseudonym, reason } = req.body as { pseudonym: string; reason: string };
    const name = await d.reveal(pseudonym, actorOf(req), reason, req.ip);
    if (name === undefined) throw new DiscoveryError('DISCOVERY_PSEUDONYM_UNKNOWN', `no user behind ${pseudonym}`);
    return { pseudonym, name };
  });

  app.get('/discovery/audit', {
    config: { role: 'admin' as const },
    schema: { summary: 'Administrator actions on discovery (reveals, sanctions, overrides, reloads)', querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } }, response: { 200: anyObject } },
  }, async (req) => ({ records: d.store.auditLog((req.query as { limit?: number }).limit ?? 100) }));
};

/** The discovery area's routes, under /v1 (src/area.ts). */
export function discoveryApiPlugin(discovery: Discovery): AreaRoutes {
  return {
    name: 'discovery',
    prefix: '/v1',
    plugin: async (app) => { await app.register(discoveryRoutes, { discovery }); },
  };
}
