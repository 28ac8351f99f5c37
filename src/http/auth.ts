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

// A parameter follows `?`, `&` or `;` (or `#`), written as is or
// percent-encoded. Its value runs to the next separator written as is, so
// a token holding an encoded `&` cannot leave its tail behind.
const SEPARATOR = /([?&;#])/;
const ENCODED_SEPARATOR = /(%(?:3f|26|3b|23))/i;

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}

/**
 * The URL as logged or echoed: the value of every parameter whose decoded
 * name mentions a token is replaced, wherever it stands — the query
 * (`?token=`, `?a=1&token=`, `?a=1;token=`), the path (`/stream;token=`), an
 * encoded name (`?%74oken=`) or after an encoded separator (`?a=1%26token=`).
 * Linear in the URL's length: it runs on every request, before any check.
 */
export function redactUrl(url: string): string {
  // Even indexes: the pieces between separators; odd: the separators.
  const parts = url.split(SEPARATOR);
  let redacted = false;
  for (let i = 0; i < parts.length; i += 2) {
    const segments = (parts[i] as string).split(ENCODED_SEPARATOR);
    // The text before the first separator is the path, not a parameter.
    for (let j = i === 0 ? 2 : 0; j < segments.length; j += 2) {
      const segment = segments[j] as string;
      // The name ends at the first `=`, or failing one at an encoded `=`.
      const raw = segment.indexOf('=');
      const nameEnd = raw >= 0 ? raw : segment.toLowerCase().indexOf('%3d');
      if (nameEnd < 0) continue;
      const name = decodeName(segment.slice(0, nameEnd));
      if (!/token/i.test(name)) continue;
      parts[i] = `${segments.slice(0, j).join('')}${name}=[redacted]`;
      redacted = true;
      break;
    }
  }
  return redacted ? parts.join('') : url;
}

/** How a request is logged: no headers, and the URL without tokens. */
export function serializeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }) {
  return { method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip ?? req.socket?.remoteAddress };
}
