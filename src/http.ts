/**
 * What every HTTP server of the daemon (the admin API, the agent listener) shares: one error
 * format (catalogue codes, src/errors.ts), the request body limit and the loopback test that
 * decides whether plain HTTP is allowed. A foundation module, so that an area below src/api (the
 * agent listener in src/devices) can run its own server without importing the API.
 */
import { isIP } from 'node:net';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { statSync } from 'node:fs';
import type { FastifyError } from 'fastify';
import { OutpostError, isOutpostError, type ErrorCode } from './errors.js';

export const BODY_LIMIT_BYTES = 256 * 1024;

/**
 * Deepest nesting of objects and arrays a JSON request body may have on any route. No route's
 * schema comes near it; without a bound, a body nested thousands deep overflows the stack of
 * whatever walks it recursively (merge, clone, validation).
 */
export const MAX_JSON_DEPTH = 32;

/** True when the JSON text nests objects/arrays deeper than `max` (a linear scan; strings skipped). */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) { if (++depth > max) return true; }
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The error a too-deep body gets (400 API_JSON_TOO_DEEP), with the status fastify's parser callback needs. */
export function jsonTooDeepError(): OutpostError {
  return new OutpostError('API_JSON_TOO_DEEP', { max: MAX_JSON_DEPTH }, { details: { max: MAX_JSON_DEPTH } });
}

/** Largest TLS certificate chain or key file read (a chain of a few certificates is a few KB). */
export const TLS_FILE_MAX_BYTES = 1024 * 1024;

/**
 * Why a TLS file cannot be used before it is read, or undefined: it must be a regular file of at
 * most TLS_FILE_MAX_BYTES. A setting naming /dev/zero or a FIFO must not block the daemon reading
 * forever. The reason is an errno code or a fixed phrase, never the file's contents.
 */
export function tlsFileProblem(path: string): string | undefined {
  let st;
  try { st = statSync(path); } catch (err) { return (err as NodeJS.ErrnoException).code ?? 'cannot stat'; }
  if (!st.isFile()) return 'not a regular file';
  if (st.size > TLS_FILE_MAX_BYTES) return 'larger than 1 MiB';
  return undefined;
}

/**
 * Checks that TLS material read from files is a PEM certificate and a private key that belong
 * together, as the TLS server would need them. The reason names what is wrong, never the files'
 * contents (they may be anything, e.g. a password file named by mistake).
 */
export function checkTlsMaterial(cert: Buffer, key: Buffer, code: 'API_TLS_UNREADABLE' | 'AGENT_LISTENER_TLS_UNREADABLE', certPath: string, keyPath: string): void {
  const fail = (what: string, path: string, reason: string): never => {
    const params = { what, path, reason }, details = { details: { what, path, reason } };
    throw code === 'API_TLS_UNREADABLE' ? new OutpostError('API_TLS_UNREADABLE', params, details) : new OutpostError('AGENT_LISTENER_TLS_UNREADABLE', params, details);
  };
  let x509: X509Certificate | undefined;
  try { x509 = new X509Certificate(cert); } catch { fail('certificate', certPath, 'not a PEM or DER X.509 certificate'); }
  let pk: ReturnType<typeof createPrivateKey> | undefined;
  try { pk = createPrivateKey(key); } catch { fail('key', keyPath, 'not a PEM or DER private key (or it is encrypted)'); }
  if (!x509!.checkPrivateKey(pk!)) fail('key', keyPath, `does not belong to the certificate ${certPath}`);
}

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

