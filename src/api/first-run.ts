/**
 * First-run access: when Outpost runs with no configuration file, nobody has configured a token,
 * yet the console must not be open to every local user. The first start creates an admin token,
 * keeps only its SHA-256 in `<dataDir>/api-admin-token.json` (mode 0600) and hands the token to
 * the caller once, to print as a login URL. Later starts read the hash and print nothing. To get a
 * new URL (the printed one was lost), stop the daemon, delete the file and start again.
 */
import { closeSync, openSync, readFileSync, writeSync, fchmodSync } from 'node:fs';
import { join } from 'node:path';
import { createToken } from './auth.js';
import type { ApiTokenConfig } from './config.js';
import { OutpostError } from '../errors.js';

export const FIRST_RUN_TOKEN_FILE = 'api-admin-token.json';
export const FIRST_RUN_TOKEN_NAME = 'admin';

export interface FirstRunToken {
  entry: ApiTokenConfig;
  /** The token itself, only on the start that created it. */
  token?: string;
}

function invalid(path: string, reason: string, cause?: unknown): OutpostError {
  return new OutpostError('API_TOKEN_FILE_INVALID', { path, reason }, { details: { path, reason }, ...(cause !== undefined ? { cause } : {}) });
}

/** Reads the first-run token's hash from dataDir, creating token and file when there is none. */
export function ensureFirstRunToken(dataDir: string, now: Date = new Date()): FirstRunToken {
  const path = join(dataDir, FIRST_RUN_TOKEN_FILE);
  const { token, sha256 } = createToken('admin');
  const entry: ApiTokenConfig = { name: FIRST_RUN_TOKEN_NAME, role: 'admin', sha256 };
  let fd: number;
  try {
    // O_EXCL: two daemons started at once on one dataDir cannot both print a valid URL.
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw invalid(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message, err);
    return { entry: readTokenFile(path) };
  }
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, `${JSON.stringify({ ...entry, createdAt: now.toISOString() }, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  return { entry, token };
}

function readTokenFile(path: string): ApiTokenConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw invalid(path, err instanceof SyntaxError ? `not JSON: ${err.message}` : ((err as NodeJS.ErrnoException).code ?? String(err)), err);
  }
  const d = doc as Partial<ApiTokenConfig> | null;
  if (d === null || typeof d !== 'object' || typeof d.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.sha256) || d.role !== 'admin') {
    throw invalid(path, 'expected { "role": "admin", "sha256": "<64 hex digits>" } (delete the file to create a new token)');
  }
  return { name: FIRST_RUN_TOKEN_NAME, role: 'admin', sha256: d.sha256 };
}

/** The login URL printed once: `?token=` (see docs/SECURITY.md for why a query, not a fragment). */
export function loginUrl(host: string, port: number, tls: boolean, token: string): string {
  // A wildcard or IPv6 listen address is not something to paste into a browser: use loopback.
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${h}:${port}/login?token=${encodeURIComponent(token)}`;
}
