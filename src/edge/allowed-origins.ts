import type { IncomingMessage } from 'node:http';
import { CodecastError } from '../domain/index.js';

/**
 * Request headers a page on another origin may send: the bearer token, the
 * id EventSource resumes from, a publish's idempotency key, and the JSON
 * content type (not CORS-safelisted, so it needs a preflight too).
 */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Last-Event-ID', 'Idempotency-Key'];
/** Response headers past the CORS-safelisted ones that a client reads. */
const EXPOSED_HEADERS = ['Retry-After', 'Idempotent-Replayed', 'WWW-Authenticate'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** How long a browser may reuse a preflight's answer (Chromium caps it at 2 h, Firefox at 24 h). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** `origin` as @fastify/cors and the `cors` package (Socket.IO's) both take it: `*`, or a callback's yes or no. */
type OriginOption = '*' | ((origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) => void);

/** The options @fastify/cors and Socket.IO's `cors` share, written once. */
export interface CorsOptions {
  readonly origin: OriginOption;
  readonly methods: string[];
  readonly allowedHeaders: string[];
  readonly exposedHeaders: string[];
  readonly maxAge: number;
  /**
   * Off: codecast authenticates with bearer tokens, never cookies, so there
   * is nothing ambient for a browser to attach, and with it off `*` is
   * allowed by the CORS protocol.
   */
  readonly credentials: false;
}

/**
 * Whether an origin is the one a request was sent to: same scheme-less
 * host and port as its `Host` header (the scheme is not compared: behind a
 * TLS-terminating proxy the page is https and the hop to us http). A
 * default port is the origin's scheme's.
 */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const page = new URL(origin);
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * Which pages on other origins may use codecast (`CODECAST_ALLOWED_ORIGINS`),
 * the one rule for CORS on the HTTP API and the SSE stream, Socket.IO's
 * `cors`, and the origin check of WebSocket and Socket.IO connections.
 * Origins are compared as strings: config has normalised the list the way
 * browsers write an `Origin` header.
 */
export class AllowedOrigins {
  readonly #any: boolean;
  readonly #origins: ReadonlySet<string>;
  readonly #cors: CorsOptions | undefined;
  /**
   * CORS headers for answers written before a request was read (a refused
   * connection, a request Node's parser refused), when no origin is known.
   * Such an answer is the same for everyone and carries nothing of a
   * user's, and no credentials are used, so any page may read it: a page
   * on a listed origin learns why it was refused and when to retry. None
   * without a list, as before.
   */
  readonly unknownOriginHeaders: Readonly<Record<string, string>>;
  /**
   * The list as configured (normalised origins, or `['*']`; empty: same
   * origin only), for what names origins itself: the embed's
   * `frame-ancestors` and the parents it talks to.
   */
  readonly entries: readonly string[];

  /** @param entries normalised origins, or `['*']`; empty: same origin only. */
  constructor(entries: readonly string[]) {
    this.entries = Object.freeze([...entries]);
    this.#any = entries.includes('*');
    this.#origins = new Set(entries);
    this.#cors =
      entries.length === 0
        ? undefined
        : {
            origin: this.#any ? '*' : (origin, callback) => callback(null, this.allows(origin)),
            methods: METHODS,
            allowedHeaders: ALLOWED_HEADERS,
            exposedHeaders: EXPOSED_HEADERS,
            maxAge: PREFLIGHT_MAX_AGE_SECONDS,
            credentials: false,
          };
    const anyPage: Record<string, string> = {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Expose-Headers': EXPOSED_HEADERS.join(', '),
    };
    this.unknownOriginHeaders = Object.freeze(entries.length === 0 ? {} : anyPage);
  }

  /** Whether a page of this origin may read answers; never without an origin. */
  allows(origin: string | undefined): boolean {
    return origin !== undefined && (this.#any || this.#origins.has(origin));
  }

  /**
   * The CORS headers of an answer to a page of `origin`, for the few
   * answers no CORS hook sees (a URL Fastify cannot route): what
   * @fastify/cors would have added.
   */
  corsHeadersFor(origin: string | undefined): Readonly<Record<string, string>> {
    if (this.#cors === undefined || !this.allows(origin)) return {};
    if (this.#any) return this.unknownOriginHeaders;
    return { 'Access-Control-Allow-Origin': origin as string, 'Access-Control-Expose-Headers': EXPOSED_HEADERS.join(', '), Vary: 'Origin' };
  }

  /** CORS for the HTTP API, the SSE stream and Socket.IO; undefined when no origin is listed (same origin only). */
  get cors(): CorsOptions | undefined {
    return this.#cors;
  }

  /**
   * Why a WebSocket upgrade or Socket.IO request may not go on, or
   * undefined when it may. Browsers always send `Origin` on these, so one
   * without (a script, a server) is no page and goes on: a page on a site
   * not listed is what the check keeps out. The page's own origin goes on
   * too. With no list, nothing is checked, as before the setting existed.
   */
  refusal(request: IncomingMessage): CodecastError | undefined {
    const origin = request.headers.origin;
    if (this.#cors === undefined || origin === undefined || this.allows(origin)) return undefined;
    if (isSameOrigin(origin, request.headers.host)) return undefined;
    return new CodecastError('origin_not_allowed');
  }
}
