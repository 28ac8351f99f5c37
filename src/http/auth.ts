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

export function authHooks(authenticator: Authenticator): AuthHooks {
  const hook =
    (role: Role, allowQuery: boolean): AuthHook =>
    async (request) => {
      const principal = await authenticator.authenticate(bearerToken(request, allowQuery), request.ip);
      if (role === 'admin' && principal.user.role !== 'admin') {
        throw new CodecastError('forbidden', 'This needs an admin token.');
      }
      request.principal = principal;
    };
  return { user: hook('user', false), admin: hook('admin', false), userFromHeaderOrQuery: hook('user', true) };
}

// Where a parameter's name may begin: after `?`, `&` or `;`, written as is
// or percent-encoded. A value ends only at one written as is (or `#`), so an
// encoded `&` inside a token cannot leave its tail in the log.
const PARAMETER_START = /[?&;]|%(?:3f|26|3b)/gi;
const VALUE_END = /[?&;#]/;

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
 * encoded name (`?%74oken=`) or an encoded separator (`?a=1%26token=`).
 */
export function redactUrl(url: string): string {
  const starts = [...url.matchAll(PARAMETER_START)].map((m) => (m.index ?? 0) + m[0].length);
  let out = '';
  let copied = 0;
  for (const start of starts) {
    if (start < copied) continue;
    const pieceLength = url.slice(start).search(VALUE_END);
    const piece = pieceLength < 0 ? url.slice(start) : url.slice(start, start + pieceLength);
    // The name ends at the first `=`, or failing one at an encoded `=`.
    const raw = piece.indexOf('=');
    const nameEnd = raw >= 0 ? raw : piece.toLowerCase().indexOf('%3d');
    if (nameEnd < 0) continue;
    const name = decodeName(piece.slice(0, nameEnd));
    if (!/token/i.test(name)) continue;
    const valueStart = start + nameEnd + (raw >= 0 ? 1 : 3);
    const valueLength = url.slice(valueStart).search(VALUE_END);
    const valueEnd = valueLength < 0 ? url.length : valueStart + valueLength;
    out += `${url.slice(copied, start)}${name}=[redacted]`;
    copied = valueEnd;
  }
  return copied === 0 ? url : out + url.slice(copied);
}

/** How a request is logged: no headers, and the URL without tokens. */
export function serializeRequest(req: { method?: string; url?: string; ip?: string; socket?: { remoteAddress?: string } }) {
  return { method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip ?? req.socket?.remoteAddress };
}
