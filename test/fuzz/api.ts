/**
 * Bounded fuzz and load run against the admin API, on loopback only.
 *
 *   node --import tsx test/fuzz/api.ts [--requests 5000] [--max-seconds 60] [--bench-seconds 3] [--concurrency 16]
 *
 * Starts a daemon in this process (no capture, 2,000 synthetic flows, a temporary config file,
 * API on 127.0.0.1 with an ephemeral port), then:
 *  1. sends `--requests` malformed requests (random methods, paths, query strings, headers,
 *     tokens, content types and bodies, half of them with the admin token so that config
 *     validation is reached), a fifth of them from two families aimed at PUT/PATCH /v1/config
 *     with the admin token (docs/SECURITY.md): `depth` (bodies nested 33 to 5,000 deep, objects,
 *     arrays, inside a section, with braces in strings) and `configReset` (documents that would
 *     reset the configuration or lock administrators out: no tokens, no admin token, a section
 *     set to null or {}, an insecure bind, unreadable TLS files, a token removed unconfirmed),
 *     and checks: no 5xx, the config file and revision unchanged, no audit record;
 *  2. measures requests/s of the main read routes for `--bench-seconds` each.
 * Prints a JSON report; exit code 1 if any check failed. The load client runs in the same
 * process as the server, so requests/s are a lower bound for a separate client.
 */
import { Agent, request } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { startDaemon, type DaemonHandle } from '../../src/daemon.js';
import { NdjsonWriter } from '../../src/replay.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createToken } from '../../src/api/auth.js';
import { mulberry32 as rng } from '../support/prng.js';

export interface FuzzOptions { requests: number; maxSeconds: number; benchSeconds: number; concurrency: number; seed?: number }
export interface FuzzReport {
  requests: number;
  seconds: number;
  byStatus: Record<string, number>;
  serverErrors: Array<{ method: string; path: string; status: number; body: string }>;
  configUnchanged: boolean;
  /** Requests of each targeted family and their statuses. */
  families: Record<string, { requests: number; byStatus: Record<string, number> }>;
  /** Audit records that changed something (must be 0). */
  auditRecords: number;
  bench: Array<{ route: string; requests: number; seconds: number; requestsPerSecond: number; non2xx: number }>;
  ok: boolean;
}


const PATHS = ['/v1/health', '/v1/stats', '/metrics', '/openapi.json', '/v1/interfaces', '/v1/capture', '/v1/flows', '/v1/config', '/v1/config/audit', '/v1/config/reload', '/v1/config/schema', '/v1/jobs', '/v1/jobs/retention', '/v1/jobs/retention/run'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const JUNK = ['%', '%zz', '..', '../../etc/passwd', '\u0000', '%00', "'", '"', '<script>', '{}', '[]', '-1', '1e309', 'NaN', '9'.repeat(40), 'a'.repeat(3000), '%ff%fe', '\u00e9', '//', ';', '*'];
const QUERY_KEYS = ['ip', 'port', 'protocol', 'after', 'limit', 'offset', '__proto__', 'constructor', 'ip[]', 'limit[$gt]', ''];
const CONTENT_TYPES = ['application/json', 'application/merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '', 'application/jsonx'];

/** A config-shaped body that is always invalid (so nothing may change). */
function badConfigBody(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const bad = pick<unknown>([
    { flows: { maxFlows: -1 } }, { flows: { maxFlows: 'lots' } }, { logLevel: 'loud' }, { capture: { snaplenBytes: 1 } },
    { api: { port: 70000 } }, { api: { tokens: [{ name: '', role: 'root', sha256: 'x' }] } }, { unknownSetting: 1 },
    { capture: { interfaces: 'eth0' } }, { capture: { interfaces: ['eth0', 'eth0'] } }, { dataDir: '' }, { flows: { flowIdleTimeoutMs: { tcp: 0 } } },
    { api: { rateLimitPerMinute: 0 } }, { api: { tls: { certFile: 1 } } }, { flows: [] }, { capture: null, api: { host: 5 } },
  ]);
  const shapes = [
    () => JSON.stringify(bad),
    () => JSON.stringify({ ...(bad as object), logLevel: pick(['debug', 'warn', 7, null, {}]) === 7 ? 7 : 'loud' }),
    () => JSON.stringify(bad).slice(0, Math.max(1, Math.floor(r() * 20))), // truncated JSON
    () => '{"a":'.repeat(200) + '1' + '}'.repeat(200), // deep
    () => JSON.stringify({ __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } }).replace('"polluted"', '"polluted"'),
    () => '{"__proto__":{"logLevel":"debug"}}',
    () => Buffer.from(Array.from({ length: 64 }, () => Math.floor(r() * 256))).toString('latin1'),
    () => JSON.stringify([bad]),
    () => JSON.stringify('string'),
    () => 'null',
    () => JSON.stringify({ x: 'y'.repeat(300_000) }), // over the body limit
  ];
  return pick(shapes)();
}

/** The `depth` family: JSON nested past MAX_JSON_DEPTH (32) in several shapes. */
function deepBody(r: () => number): string {
  const n = 33 + Math.floor(r() * r() * 5000);
  const shapes = [
    () => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`,
    () => `${'['.repeat(n)}${']'.repeat(n)}`,
    () => `{"api":${'{"tls":'.repeat(n)}{}${'}'.repeat(n)}}`,
    () => `{"logLevel":"{[{[","flows":${'[{"x":'.repeat(n)}0${'}]'.repeat(n)}}`,
    () => `${'{"a":['.repeat(n)}${']}'.repeat(n)}`, // unbalanced on purpose
  ];
  return shapes[Math.floor(r() * shapes.length)]!();
}

/** The `configReset` family: documents that would reset the configuration or lock administrators out (all refused). */
function resetBody(r: () => number, tokens: ReadonlyArray<{ name: string; role: string; sha256: string }>): string {
  const admin = tokens.filter((t) => t.role === 'admin'), read = tokens.filter((t) => t.role === 'read');
  const docs: unknown[] = [
    { api: { tokens: [] } }, { api: { tokens: read } }, { api: null }, { api: {} }, { api: { tokens: null } },
    { api: { tokens: tokens.map((t) => ({ ...t, role: 'read' })) } }, { api: { tokens: admin } },
    { api: { tokens: tokens.map((t) => ({ ...t, sha256: 'f'.repeat(64) })) } },
    { api: { host: '0.0.0.0' } }, { api: { host: '0.0.0.0', tokens: [] } }, { api: { tls: { certFile: '/etc/shadow', keyFile: '/etc/shadow' } } },
    { api: { tls: { certFile: '/proc/self/environ', keyFile: '/dev/zero' } } }, { api: { tls: { certFile: '/dev/zero', keyFile: '/dev/zero' } } },
    { devices: { agentListener: { enabled: true, host: '0.0.0.0' } } }, { devices: { agentListener: { enabled: true, tlsCertFile: '/etc/passwd', tlsKeyFile: '/etc/passwd' } } },
    { devices: { agentAddressScopes: ['10.0.0.0/99'] } },
  ];
  const text = JSON.stringify(docs[Math.floor(r() * docs.length)]);
  return r() < 0.2 ? `\ufeff${text}` : text;
}

function send(agent: Agent, port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // An explicit length: Node would otherwise send OPTIONS/DELETE bodies without framing.
    const h = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = request({ host: '127.0.0.1', port, method, path, headers: h, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

async function withDaemon<T>(fn: (d: DaemonHandle, port: number, tokens: { admin: string; read: string }, configPath: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-fuzz-'));
  const admin = createToken('admin');
  const read = createToken('read');
  const configPath = join(dir, 'outpost.yaml');
  writeFileSync(configPath, stringify({
    dataDir: join(dir, 'data'),
    logLevel: 'silent',
    api: { host: '127.0.0.1', port: 0, rateLimitPerMinute: 1_000_000, tokens: [{ name: 'fuzz-admin', role: 'admin', sha256: admin.sha256 }, { name: 'fuzz-read', role: 'read', sha256: read.sha256 }] },
  }));
  const writer = new NdjsonWriter(openSync(join(dir, 'events.ndjson'), 'w'));
  const d = await startDaemon(loadConfig(configPath), createLogger('silent'), writer, { configPath });
  try {
    // 2,000 synthetic UDP flows so that /v1/flows has something to page through.
    const frame = Buffer.alloc(14 + 20 + 8);
    frame.writeUInt16BE(0x0800, 12);
    const now = Date.now() * 1000;
    for (let i = 0; i < 2000; i++) {
      frame.fill(0, 14);
      frame[14] = 0x45; frame.writeUInt16BE(28, 16); frame[22] = 64; frame[23] = 17;
      frame.writeUInt32BE(0x0a000000 + i, 26); frame.writeUInt32BE(0xc0000201, 30);
      frame.writeUInt16BE(10000 + i, 34); frame.writeUInt16BE(53, 36); frame.writeUInt16BE(8, 38);
      d.sensor.onPacket(frame, 0, frame.length, frame.length, now + i, 1, 0);
    }
    const addr = d.api.server.address();
    if (!addr || typeof addr !== 'object') throw new Error('API not listening');
    return await fn(d, addr.port, { admin: admin.token, read: read.token }, configPath);
  } finally {
    await d.group.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  return withDaemon(async (d, port, tokens, configPath) => {
    const r = rng(opts.seed ?? 0x5eed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const fileHash = () => createHash('sha256').update(readFileSync(configPath)).digest('hex');
    const hash0 = fileHash();
    const rev0 = d.config.revision;
    const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
    const fresh = new Agent({ keepAlive: false });
    const byStatus: Record<string, number> = {};
    const serverErrors: FuzzReport['serverErrors'] = [];
    const t0 = performance.now();
    const deadline = t0 + opts.maxSeconds * 1000;
    let sent = 0;
    const tokenList = d.config.current.api.tokens.map((t) => ({ ...t }));
    const families: FuzzReport['families'] = { depth: { requests: 0, byStatus: {} }, configReset: { requests: 0, byStatus: {} } };
    const targeted = async (): Promise<void> => {
      const family = r() < 0.5 ? 'depth' : 'configReset';
      const method = pick(['PUT', 'PATCH']);
      const body = family === 'depth' ? deepBody(r) : resetBody(r, tokenList);
      const headers = { authorization: `Bearer ${tokens.admin}`, 'content-type': method === 'PATCH' && r() < 0.5 ? 'application/merge-patch+json' : 'application/json' };
      const res = await send(agent, port, method, '/v1/config', headers, body).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNRESET') throw err;
        return send(fresh, port, method, '/v1/config', headers, body);
      });
      const f = families[family]!;
      f.requests++;
      f.byStatus[res.status] = (f.byStatus[res.status] ?? 0) + 1;
      byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
      if (res.status >= 500) serverErrors.push({ method, path: `/v1/config (${family})`, status: res.status, body: res.body });
    };
    const one = async (): Promise<void> => {
      if (r() < 0.2) { await targeted(); return; }
      const method = pick(METHODS);
      let path = pick(PATHS);
      const roll = r();
      if (roll < 0.25) path += `/${pick(JUNK)}`;
      else if (roll < 0.35) path = path.replace(/\/[^/]*$/, `/${pick(JUNK)}`);
      if (r() < 0.6) {
        const n = 1 + Math.floor(r() * 3);
        path += '?' + Array.from({ length: n }, () => `${pick(QUERY_KEYS)}=${pick(JUNK)}`).join('&');
      }
      // Raw paths must still be a valid request target; encode what Node refuses to send.
      path = path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
      const headers: Record<string, string> = {};
      const auth = r();
      if (auth < 0.5) headers.authorization = `Bearer ${tokens.admin}`;
      else if (auth < 0.6) headers.authorization = `Bearer ${tokens.read}`;
      else if (auth < 0.7) headers.authorization = pick(['Bearer', 'Bearer ', 'Basic YTpi', `Bearer ${'x'.repeat(600)}`, 'bearer opa_wrong', 'Bearer a b']);
      let body: string | undefined;
      if (method !== 'GET' && method !== 'HEAD' && r() < 0.85) {
        body = badConfigBody(r);
        const ct = pick(CONTENT_TYPES);
        if (ct) headers['content-type'] = ct;
      }
      if (r() < 0.1) headers['if-match'] = pick(['"x"', 'W/"y"', '*', '']);
      try {
        // A kept-alive socket the server closed after the previous request (e.g. after a 413 it
        // stops reading) fails with ECONNRESET on reuse: retry once on a fresh connection.
        const res = await send(agent, port, method, path, headers, body).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ECONNRESET') throw err;
          return send(fresh, port, method, path, headers, body);
        });
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        if (res.status >= 500) serverErrors.push({ method, path: path.slice(0, 200), status: res.status, body: res.body });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        byStatus[`client:${code}`] = (byStatus[`client:${code}`] ?? 0) + 1;
        if (process.env.FUZZ_DEBUG) console.error(code, method, path.slice(0, 80), JSON.stringify(headers).slice(0, 150), body?.length);
      }
    };
    const worker = async () => {
      while (sent < opts.requests && performance.now() < deadline) { sent++; await one(); }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const configUnchanged = fileHash() === hash0 && d.config.revision === rev0;
    // A reload of the unchanged file is a valid request: audited, but it changes nothing.
    const auditRecords = d.config.auditLog().filter((a) => a.changes.length > 0).length;

    const bench: FuzzReport['bench'] = [];
    const routes = ['/v1/health', '/v1/stats', '/v1/flows?limit=100', '/v1/flows?ip=10.0.3.232', '/v1/config', '/metrics'];
    for (const route of opts.benchSeconds > 0 ? routes : []) {
      let n = 0;
      let non2xx = 0;
      const b0 = performance.now();
      const end = b0 + opts.benchSeconds * 1000;
      await Promise.all(Array.from({ length: opts.concurrency }, async () => {
        while (performance.now() < end) {
          const res = await send(agent, port, 'GET', route, { authorization: `Bearer ${tokens.read}` });
          n++;
          if (res.status < 200 || res.status > 299) non2xx++;
        }
      }));
      const s = (performance.now() - b0) / 1000;
      bench.push({ route, requests: n, seconds: Math.round(s * 100) / 100, requestsPerSecond: Math.round(n / s), non2xx });
    }
    agent.destroy();
    return {
      requests: sent,
      seconds: Math.round(seconds * 100) / 100,
      byStatus,
      serverErrors: serverErrors.slice(0, 20),
      configUnchanged,
      families,
      auditRecords,
      bench,
      ok: serverErrors.length === 0 && configUnchanged && Object.values(families).every((f) => f.requests > 0) && auditRecords === 0 && !Object.keys(byStatus).some((k) => k.startsWith('client:')) && bench.every((b) => b.non2xx === 0),
    };
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { requests: { type: 'string' }, 'max-seconds': { type: 'string' }, 'bench-seconds': { type: 'string' }, concurrency: { type: 'string' }, seed: { type: 'string' } } });
  const report = await runFuzz({
    requests: Number(values.requests ?? 5000),
    maxSeconds: Number(values['max-seconds'] ?? 60),
    benchSeconds: Number(values['bench-seconds'] ?? 3),
    concurrency: Number(values.concurrency ?? 16),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
  });
  console.log(JSON.stringify(report, null, 2));
  process.exit(report.ok ? 0 : 1);
}
