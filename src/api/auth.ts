/**
 * Token authentication for the admin API.
 *
 * Tokens are 32 random bytes, base64url, prefixed with their role (`opa_` admin, `opr_` read) so a
 * leaked one is recognisable in a scan. The configuration holds only their SHA-256: a token has
 * 256 bits of entropy, so a fast hash is enough (a slow KDF only matters for guessable secrets),
 * and lookups cost one hash per request. Requests send `Authorization: Bearer <token>`.
 *
 * Roles are ordered: `admin` may do everything `read` may. Routes declare the role they need
 * (`public` for /v1/health and /openapi.json); by default GET/HEAD need `read`, anything else
 * `admin`. With no tokens configured, read routes are open (the API is on loopback by default)
 * and write routes are refused, so a fresh install can be watched but not changed until an
 * admin token exists.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal, RouteRole } from '../area.js';
import type { ApiRole, ApiTokenConfig } from './config.js';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function createToken(role: ApiRole): { token: string; sha256: string } {
  const token = `${role === 'admin' ? 'opa' : 'opr'}_${randomBytes(32).toString('base64url')}`;
  return { token, sha256: hashToken(token) };
}

export function roleAllows(have: Principal['role'], need: RouteRole): boolean {
  if (need === 'public') return true;
  if (have === 'admin') return true;
  return have === 'read' && need === 'read';
}

export class TokenStore {
  #byHash = new Map<string, ApiTokenConfig>();

  constructor(tokens: readonly ApiTokenConfig[] = []) {
    this.update(tokens);
  }

  /** Replace the token set (config change: applied live). */
  update(tokens: readonly ApiTokenConfig[]): void {
    this.#byHash = new Map(tokens.map((t) => [t.sha256, t]));
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** Whether a token with this SHA-256 is (still) configured: sessions made from it stay valid. */
  hasHash(sha256: string): boolean {
    return this.#byHash.has(sha256);
  }

  hasRole(role: ApiRole): boolean {
    for (const t of this.#byHash.values()) if (t.role === role) return true;
    return false;
  }

  /** The configured token a presented secret matches, if any. */
  lookup(token: string): ApiTokenConfig | undefined {
    const hash = hashToken(token);
    const found = this.#byHash.get(hash);
    if (!found) return undefined;
    // The map lookup already matched; compare in constant time anyway so that the result never
    // depends on a short-circuiting string comparison.
    return timingSafeEqual(Buffer.from(found.sha256, 'hex'), Buffer.from(hash, 'hex')) ? found : undefined;
  }
}

/** The bearer token of an Authorization header; undefined when absent or not a Bearer header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]{1,512})[ \t]*$/i.exec(header);
  return m?.[1];
}
