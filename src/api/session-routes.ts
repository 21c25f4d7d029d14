/**
 * Console login (src/api/session.ts):
 *   GET    /login?token=T   validates T, sets the session cookie, 303 to `/` (the printed login URL)
 *   POST   /v1/session      {token}: the same for a login form; answers { user, role, csrfToken }
 *   GET    /v1/session      { user, role, csrfToken } of the cookie's session; 401 without one
 *   DELETE /v1/session      logs the cookie's session out (a write: needs X-CSRF-Token)
 * Login routes are public; a wrong token is 401 API_UNAUTHORIZED, rate-limited per address like
 * every request.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { OutpostError } from '../errors.js';
import type { TokenStore } from './auth.js';
import { SESSION_COOKIE, cookieValue, sessionCookie, type Session, type SessionStore } from './session.js';
import type { ApiPluginOptions } from './types.js';

export interface SessionRouteDeps {
  tokens: TokenStore;
  sessions: SessionStore;
  /** Served over TLS: the cookie gets `Secure`. */
  secure: boolean;
}

const sessionBody = {
  type: 'object',
  required: ['user', 'role', 'csrfToken'],
  properties: { user: { type: 'string' }, role: { type: 'string', enum: ['admin', 'read'] }, csrfToken: { type: 'string' } },
} as const;
const errorBody = { type: 'object', additionalProperties: true } as const;

/** The cookie's live session, as the auth hook found it (undefined without one). */
export function requestSession(req: FastifyRequest): Session | undefined {
  return (req as FastifyRequest & { session?: Session }).session;
}

export function sessionRoutes(deps: SessionRouteDeps): FastifyPluginAsync<ApiPluginOptions> {
  const login = (token: string | undefined, reply: FastifyReply): Session => {
    const found = token === undefined ? undefined : deps.tokens.lookup(token);
    if (!found) throw new OutpostError('API_UNAUTHORIZED', { reason: token === undefined ? 'no token given' : 'unknown token' });
    const { id, session } = deps.sessions.create(found.name, found.role, found.sha256);
    void reply.header('set-cookie', sessionCookie(id, deps.secure)).header('cache-control', 'no-store');
    return session;
  };
  const view = (s: Session) => ({ user: s.user, role: s.role, csrfToken: s.csrfToken });

  return async (app) => {
    app.get('/login', {
      config: { role: 'public', tag: 'session' },
      schema: {
        summary: 'Log in with a token (the URL the daemon prints on first start); sets the session cookie and redirects to /',
        querystring: { type: 'object', additionalProperties: false, properties: { token: { type: 'string', maxLength: 512 } } },
        response: { 303: { type: 'null' }, 401: errorBody },
      },
    }, async (req, reply) => {
      login((req.query as { token?: string }).token, reply);
      // 303: the browser follows with a GET and the token leaves the address bar at once; the
      // redirect renders no page, so no Referer ever carries the token anywhere.
      return reply.code(303).header('location', '/').header('referrer-policy', 'no-referrer').send();
    });

    app.post('/v1/session', {
      config: { role: 'public', tag: 'session' },
      schema: {
        summary: 'Log in with a token; sets the session cookie',
        body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 512 } } },
        response: { 200: sessionBody, 401: errorBody },
      },
    }, async (req, reply) => view(login((req.body as { token: string }).token, reply)));

    app.get('/v1/session', {
      config: { role: 'public', tag: 'session' },
      schema: { summary: 'The cookie session: user, role and the CSRF token writes must send', response: { 200: sessionBody, 401: errorBody } },
    }, async (req, reply) => {
      const s = requestSession(req);
      if (s === undefined) throw new OutpostError('API_UNAUTHORIZED', { reason: 'no session: log in with the URL the daemon printed, or POST /v1/session' });
      void reply.header('cache-control', 'no-store');
      return view(s);
    });

    app.delete('/v1/session', {
      // Any session may end itself; the auth hook has checked its CSRF token.
      config: { role: 'read', tag: 'session' },
      schema: { summary: 'Log out: ends the cookie session and clears the cookie', response: { 204: { type: 'null' } } },
    }, async (req, reply) => {
      const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
      if (id !== undefined) deps.sessions.delete(id);
      return reply.code(204).header('set-cookie', sessionCookie('', deps.secure, 0)).send();
    });
  };
}
