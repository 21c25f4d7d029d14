/**
 * What every HTTP server of the daemon (the admin API, the agent listener) shares: one error
 * format (catalogue codes, src/errors.ts), the request body limit and the loopback test that
 * decides whether plain HTTP is allowed. A foundation module, so that an area below src/api (the
 * agent listener in src/devices) can run its own server without importing the API.
 */
import { isIP } from 'node:net';
import type { FastifyError } from 'fastify';
import { OutpostError, isOutpostError, type ErrorCode } from './errors.js';

export const BODY_LIMIT_BYTES = 256 * 1024;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/** Any thrown thing → a catalogue error (4xx that says what is wrong, 500 INTERNAL otherwise). */
export function toOutpostError(err: FastifyError | Error): OutpostError {
  if (err instanceof OutpostError) return err;
  if (isOutpostError(err)) {
    const e = err as Error & { code: ErrorCode; details?: Record<string, unknown> };
    return new OutpostError(e.code, {}, { message: e.message, cause: err, ...(e.details ? { details: e.details } : {}) });
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    const problems = fe.validation.map((v) => {
      const params = v.params as Record<string, unknown>;
      const extra = typeof params.additionalProperty === 'string' ? `/${params.additionalProperty}` : '';
      const missing = typeof params.missingProperty === 'string' ? `/${params.missingProperty}` : '';
      let message = v.message ?? v.keyword;
      if (v.keyword === 'additionalProperties') message = 'unknown parameter';
      if (v.keyword === 'required') message = 'is required';
      return { path: `/${where}${v.instancePath}${extra}${missing}`, rule: v.keyword, message };
    });
    return new OutpostError('API_VALIDATION_FAILED', { reason: problems.map((p) => `${p.path}: ${p.message}`).join('; ') }, { details: { problems }, cause: err });
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new OutpostError('API_PAYLOAD_TOO_LARGE', { limit: BODY_LIMIT_BYTES }, { details: { limit: BODY_LIMIT_BYTES }, cause: err });
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new OutpostError('API_UNSUPPORTED_MEDIA_TYPE', { contentType: 'of the body' }, { cause: err });
  }
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return new OutpostError('API_BAD_REQUEST', { reason: fe.message }, { details: { reason: fe.message, ...(fe.code ? { cause: fe.code } : {}) }, cause: err });
  }
  return new OutpostError('INTERNAL', { reason: 'unexpected error (see the daemon log)' }, { cause: err });
}

