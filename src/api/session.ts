/**
 * Browser sessions for the console: a token (an `api.tokens` entry or the daemon's own first-run
 * admin token) is exchanged once for a session, held in the cookie `outpost_session`.
 *
 * - The cookie is HttpOnly (page scripts cannot read it), SameSite=Strict (a browser sends it only
 *   on requests started from the console's own origin, RFC 6265bis §5.4.7), Path=/, and Secure when
 *   the API is served over TLS. Its value is 32 random bytes; the server keeps only their SHA-256,
 *   as it does for tokens, so a memory dump of the map does not yield usable cookies.
 * - Every session has a CSRF token, returned by GET /v1/session to the console's own scripts. A
 *   write (POST/PUT/PATCH/DELETE) authenticated by the cookie must carry it in `X-CSRF-Token`; a
 *   page of another origin can neither read it nor send a custom header without a CORS preflight,
 *   which the API never grants. That is the double defence next to SameSite (OWASP CSRF cheat
 *   sheet, "synchronizer token").
 * - A session is bound to the token it was made from: when that token leaves the configuration
 *   (or is replaced), its sessions stop working at the next request.
 * - Sessions live in memory: a restart logs everyone out (the token logs in again). They expire
 *   after SESSION_IDLE_MS without a request and SESSION_MAX_MS after login, whichever is first.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiRole } from './config.js';

export const SESSION_COOKIE = 'outpost_session';
/** Idle expiry: a console left open overnight asks for the login URL again. */
export const SESSION_IDLE_MS = 8 * 3600_000;
/** Absolute expiry, whatever the activity. */
export const SESSION_MAX_MS = 7 * 24 * 3600_000;
/** Bound on live sessions: logins beyond it evict the least recently used one. */
export const SESSION_MAX_COUNT = 1000;

export interface Session {
  /** The token's name (`api.tokens[].name`, or the first-run token's). */
  user: string;
  role: ApiRole;
  /** SHA-256 of the token the session was made from: the session lives only as long as it does. */
  tokenSha256: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

function sha256(v: string): string {
  return createHash('sha256').update(v, 'utf8').digest('hex');
}

export class SessionStore {
  // Keyed by the SHA-256 of the cookie value; Map order is insertion order, refreshed on use,
  // so the first key is the least recently used.
  readonly #byHash = new Map<string, Session>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** A new session for a token that was just validated; returns the cookie value and the session. */
  create(user: string, role: ApiRole, tokenSha256: string): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const now = this.#now();
    const session: Session = { user, role, tokenSha256, csrfToken: randomBytes(32).toString('base64url'), createdAt: now, lastSeenAt: now };
    while (this.#byHash.size >= SESSION_MAX_COUNT) {
      const oldest = this.#byHash.keys().next().value;
      if (oldest === undefined) break;
      this.#byHash.delete(oldest);
    }
    this.#byHash.set(sha256(id), session);
    return { id, session };
  }

  /**
   * The live session a cookie value names, refreshed; undefined when unknown, expired, or its token
   * no longer valid (`tokenValid` asks the token store).
   */
  lookup(id: string, tokenValid: (sha256: string) => boolean): Session | undefined {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = sha256(id);
    const s = this.#byHash.get(key);
    if (s === undefined) return undefined;
    const now = this.#now();
    if (now - s.lastSeenAt > SESSION_IDLE_MS || now - s.createdAt > SESSION_MAX_MS || !tokenValid(s.tokenSha256)) {
      this.#byHash.delete(key);
      return undefined;
    }
    s.lastSeenAt = now;
    this.#byHash.delete(key);
    this.#byHash.set(key, s);
    return s;
  }

  delete(id: string): boolean {
    return this.#byHash.delete(sha256(id));
  }
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(session: Session, presented: string | string[] | undefined): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented, 'utf8'), b = Buffer.from(session.csrfToken, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header (RFC 6265 §5.4 syntax: `name=value; name=value`). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value for a session (an empty value with Max-Age=0 clears it). */
export function sessionCookie(id: string, secure: boolean, maxAgeS = SESSION_MAX_MS / 1000): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}
