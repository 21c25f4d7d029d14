/**
 * The OpenAPI 3.0 document, built from the routes' own JSON schemas (collected as they register),
 * so it cannot drift from what the server validates.
 */
import type { RouteOptions } from 'fastify';
import { ERRORS } from '../errors.js';
import { PRODUCT } from '../ocsf.js';

export interface RouteRecord {
  method: string;
  url: string;
  options: RouteOptions;
}

export const errorSchema = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', enum: Object.keys(ERRORS), description: 'Stable code from the error catalogue (docs/ERRORS.md).' },
    error: { type: 'string' },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
  },
} as const;

interface RouteSchema {
  summary?: string;
  description?: string;
  querystring?: { properties?: Record<string, unknown>; required?: string[] };
  params?: { properties?: Record<string, unknown>; required?: string[] };
  headers?: { properties?: Record<string, unknown>; required?: string[] };
  body?: unknown;
  response?: Record<string, unknown>;
}

function parameters(where: 'query' | 'path' | 'header', s: RouteSchema['querystring']): object[] {
  return Object.entries(s?.properties ?? {}).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || (s?.required ?? []).includes(name),
    schema,
    ...((schema as { description?: string }).description ? { description: (schema as { description?: string }).description } : {}),
  }));
}

export function buildOpenApi(routes: readonly RouteRecord[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const schema = (r.options.schema ?? {}) as RouteSchema;
    const config = (r.options.config ?? {}) as { role?: string; tag?: string };
    const role = config.role ?? (r.method === 'GET' ? 'read' : 'admin');
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: Record<string, object> = {};
    for (const [status, s] of Object.entries(schema.response ?? {})) {
      const isText = (s as { type?: string }).type === 'string';
      responses[status] = {
        description: (s as { description?: string }).description ?? `status ${status}`,
        content: { [isText ? 'text/plain' : 'application/json']: { schema: s } },
      };
    }
    responses.default = { description: 'An error from the catalogue', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      tags: [config.tag ?? 'core'],
      ...(schema.summary ? { summary: schema.summary } : {}),
      description: `${schema.description ?? ''}${schema.description ? '\n\n' : ''}Required role: ${role}.`.trim(),
      parameters: [...parameters('path', schema.params), ...parameters('query', schema.querystring), ...parameters('header', schema.headers)],
      responses,
      ...(role === 'public' ? { security: [] } : {}),
    };
    if (schema.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Outpost admin API',
      version: PRODUCT.version,
      description: 'Local administration API of the Outpost network sensor. Errors carry stable codes (docs/ERRORS.md). Authenticate with `Authorization: Bearer <token>`; roles: read (GET routes), admin (everything).',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}
