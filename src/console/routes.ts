/**
 * The console: a one-page app served by the admin API at `/` (its assets under `/console/`),
 * reading the API's own JSON routes with the caller's session or token. Nothing is fetched from
 * elsewhere: the charting library is chart.js from node_modules (a production dependency, so it
 * ships in the npm package's dependencies and in the .deb's node_modules), read once at start.
 *
 *   GET /                          the page (public: it carries no data)
 *   GET /console/                  redirects to /
 *   GET /console/app.js|style.css  the page's script and style (public)
 *   GET /console/chart.umd.min.js  chart.js 4 (public)
 *   GET /v1/console/stores         bytes on disk per store under dataDir (read)
 *
 * Every page answer carries a Content-Security-Policy without 'unsafe-inline' for scripts: the
 * page's script renders every value from traffic as text (textContent), and should a value ever
 * reach markup, the policy still refuses to run inline script or load it from elsewhere.
 */
import { readFileSync, readdirSync, lstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AreaRouteOptions, AreaRoutes } from '../area.js';
import { OutpostError } from '../errors.js';
import { APP_JS } from './app-js.js';
import { INDEX_HTML, STYLE_CSS } from './page.js';

/**
 * The page's policy (CSP Level 3): scripts, styles, images and requests from this origin only;
 * no plugins, no <base> rewrite, no framing (clickjacking of the sanction buttons), forms post
 * only here. Chart.js draws on canvas and sets element styles through the CSSOM, which
 * style-src does not govern, so no 'unsafe-inline' is needed for styles either.
 */
export const CONSOLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Where chart.js's UMD build is: next to the package's CommonJS entry (its `exports` map lists no dist file). */
export function chartJsPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
}

export interface ConsoleOptions {
  /** The daemon's data directory: the store sizes the health page shows. */
  dataDir: string;
}

/** Bytes of every regular file under `path` (links not followed), and how many files. */
function diskUsage(path: string): { bytes: number; files: number } {
  let bytes = 0, files = 0;
  const stack = [path];
  while (stack.length > 0) {
    const p = stack.pop()!;
    let st;
    try { st = lstatSync(p); } catch { continue; } // removed meanwhile
    if (st.isDirectory()) {
      let names: string[] = [];
      try { names = readdirSync(p); } catch { /* unreadable: counted as empty */ }
      for (const n of names) stack.push(join(p, n));
    } else if (st.isFile()) { bytes += st.size; files++; }
  }
  return { bytes, files };
}

const storesSchema = {
  type: 'object',
  required: ['dataDir', 'totalBytes', 'stores'],
  properties: {
    dataDir: { type: 'string' },
    totalBytes: { type: 'integer' },
    stores: {
      type: 'array',
      items: { type: 'object', required: ['name', 'bytes', 'files'], properties: { name: { type: 'string' }, bytes: { type: 'integer' }, files: { type: 'integer' } } },
    },
  },
} as const;

export function consoleRoutes(options: ConsoleOptions): FastifyPluginAsync<AreaRouteOptions> {
  return async (app, { ctx }) => {
    // A broken installation without chart.js costs the console its charts, not the daemon its
    // capture: logged once, and the asset answers 500 (the page draws its tables without charts).
    let chartJs: string | undefined;
    try {
      chartJs = readFileSync(chartJsPath(), 'utf8');
    } catch (err) {
      ctx.logger.error({ err }, 'the console\'s charting library (chart.js) cannot be read: the console shows no charts');
    }
    const send = (reply: FastifyReply, body: string, type: string): FastifyReply => reply
      .type(type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .send(body);
    const page = (summary: string) => ({ config: { role: 'public' as const, tag: 'console' }, schema: { summary, response: { 200: { type: 'string' } } } });

    app.get('/', page('The console (one-page app; its data comes from the API with the caller\'s session or token)'), async (_req, reply) => send(reply, INDEX_HTML, 'text/html; charset=utf-8'));
    app.get('/console', page('The console (redirect to /)'), async (_req, reply) => reply.redirect('/'));
    app.get('/console/', page('The console (redirect to /)'), async (_req, reply) => reply.redirect('/'));
    app.get('/console/app.js', page('The console\'s script'), async (_req, reply) => send(reply, APP_JS, 'text/javascript; charset=utf-8'));
    app.get('/console/style.css', page('The console\'s style sheet'), async (_req, reply) => send(reply, STYLE_CSS, 'text/css; charset=utf-8'));
    app.get('/console/chart.umd.min.js', page('Chart.js 4 (MIT), served from the installed package'), async (_req, reply) => {
      if (chartJs === undefined) throw new OutpostError('INTERNAL', { reason: 'chart.js is not installed with the daemon (node_modules/chart.js)' });
      return send(reply, chartJs, 'text/javascript; charset=utf-8');
    });

    app.get('/v1/console/stores', {
      config: { tag: 'console' },
      schema: { summary: 'Bytes on disk of each store in the data directory (LMDB environments, outbox, audit log)', response: { 200: storesSchema } },
    }, async () => {
      let names: string[] = [];
      try { names = readdirSync(options.dataDir).sort(); } catch { /* no data directory yet */ }
      const stores = names.map((name) => ({ name, ...diskUsage(join(options.dataDir, name)) }));
      return { dataDir: options.dataDir, totalBytes: stores.reduce((n, s) => n + s.bytes, 0), stores };
    });
  };
}

/** The console's routes for the API server's plugin list (src/daemon.ts). */
export function consoleApiPlugin(options: ConsoleOptions): AreaRoutes {
  return { name: 'console', prefix: '', plugin: consoleRoutes(options) };
}
