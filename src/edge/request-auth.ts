import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CodecastError, bearerFromHeader, type Principal, type Role } from '../domain/index.js';

/**
 * The slice of the authenticator the edge calls: a bearer token and the
 * client's address in, a principal out. The token is an opaque one or a JWT:
 * the authenticator tells them apart, so every way in takes both.
 * @throws CodecastError unauthorized, token_expired, forbidden (a JWT naming an admin), user_disabled,
 *   too_many_auth_failures or database_unavailable.
 */
export interface Authenticate {
  authenticate(token: string | undefined, clientAddress: string): Promise<Principal>;
}

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

function bearerToken(request: FastifyRequest, allowQuery: boolean): string | undefined {
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
 * `clientOf` names whom a failure is charged to (`TrustedProxies.clientOf`).
 */
export function authHooks(
  authenticator: Authenticate,
  authenticated: (socket: Duplex) => void,
  clientOf: (request: IncomingMessage) => string,
): AuthHooks {
  const hook =
    (role: Role, allowQuery: boolean): AuthHook =>
    async (request) => {
      const principal = await authenticator.authenticate(bearerToken(request, allowQuery), clientOf(request.raw));
      authenticated(request.raw.socket);
      if (role === 'admin' && principal.user.role !== 'admin') {
        throw new CodecastError('forbidden', 'This needs an admin token.');
      }
      request.principal = principal;
    };
  return { user: hook('user', false), admin: hook('admin', false), userFromHeaderOrQuery: hook('user', true) };
}
