import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CodecastError, bearerFromHeader, type Principal, type Role } from '../domain/index.js';
import type { Authenticator } from '../users/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface AuthHooks {
  /** Any signed-in user; the token in the Authorization header. */
  readonly user: AuthHook;
  readonly admin: AuthHook;
  /** Any signed-in user; the token in the header or, for browsers' EventSource and WebSocket, `?token=`. */
  readonly userFromHeaderOrQuery: AuthHook;
}

export function bearerToken(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const fromHeader = bearerFromHeader(request.headers.authorization);
  if (fromHeader !== undefined) return fromHeader;
  if (allowQuery) {
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    if (typeof token === 'string') return token;
  }
  return undefined;
}

/** Authenticated principal of a request that passed an auth hook. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route has no auth hook');
  return request.principal;
}

/**
 * `authenticated` hears of every socket that carried a request with a valid
 * token: from then on it no longer counts against the pending budget.
 */
export function authHooks(authenticator: Authenticator, authenticated: (socket: Duplex) => void = () => undefined): AuthHooks {
  const hook =
    (role: Role, allowQuery: boolean): AuthHook =>
    async (request) => {
      const principal = await authenticator.authenticate(bearerToken(request, allowQuery), request.ip);
      authenticated(request.raw.socket);
      if (role === 'admin' && principal.user.role !== 'admin') {
        throw new CodecastError('forbidden', 'This needs an admin token.');
      }
      request.principal = principal;
    };
  return { user: hook('user', false), admin: hook('admin', false), userFromHeaderOrQuery: hook('user', true) };
}

/**
 * The URL as logged: any query parameter whose decoded name mentions a
 * token is replaced, so `?%74oken=` cannot slip through either.
 */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const params = new URLSearchParams(url.slice(mark + 1));
  let redacted = false;
  for (const name of new Set(params.keys())) {
    if (/token/i.test(name)) {
      params.set(name, '[redacted]');
      redacted = true;
    }
  }
  return redacted ? `${url.slice(0, mark)}?${params.toString().replaceAll('%5Bredacted%5D', '[redacted]')}` : url;
}

/** How a request is logged: no headers, and the URL without tokens. */
export function serializeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }) {
  return { method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip ?? req.socket?.remoteAddress };
}
