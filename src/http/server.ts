import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import cors from '@fastify/cors';
import { Ajv } from 'ajv';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Acknowledger, InboundBudget, Publisher, RuntimeSettings } from '../hub/index.js';
import type { AuditEntry, StoreHealth } from '../store/index.js';
import type { Authenticator, UserAdmin } from '../users/index.js';
import { CodecastError } from '../domain/index.js';
import { API_PREFIX, authHooks, serializeRequest, type AllowedOrigins, type TrustedProxies } from '../edge/index.js';
import { clientError, frameworkError, installErrorHandling } from './errors.js';
import { parseJsonBodies } from './json-body.js';
import { strictIntegers } from './strict-integers.js';
import { adminRoutes } from './routes/admin.js';
import { codeRoutes, type CodeReads } from './routes/codes.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { registerOpenApi } from './openapi.js';
import type { Metrics } from '../metrics/index.js';
import { userRoutes } from './routes/users.js';
import { webRoutes } from '../web/index.js';

export interface HttpServerParts {
  readonly logger: Logger;
  readonly version: string;
  readonly bodyLimitBytes: number;
  /** A request whose headers and body have not all arrived by then is answered 408 and its connection closed. */
  readonly requestTimeoutMs: number;
  readonly authenticator: Authenticator;
  readonly publisher: Publisher;
  readonly acknowledger: Acknowledger;
  /** Each user's budget of HTTP acks. */
  readonly httpAckBudget: InboundBudget;
  readonly settings: RuntimeSettings;
  readonly users: UserAdmin;
  /** The slices of the store the routes read: stored codes, the audit trail, health. */
  readonly codes: CodeReads;
  readonly audit: { list(limit: number, before?: number): Promise<AuditEntry[]> };
  readonly health: () => Promise<StoreHealth>;
  /** In a cluster: whether Redis carries messages now, for /readyz. */
  readonly broker?: () => { readonly ok: boolean; readonly detail?: string };
  readonly stats: () => unknown;
  readonly metrics: Metrics;
  readonly metricsToken: string | undefined;
  readonly stopping: () => boolean;
  /** Hears of each socket that carried an authenticated request. */
  readonly authenticated: (socket: Duplex) => void;
  /** Whether a socket still counts as pending (no request on it has authenticated). */
  readonly pending: (socket: Duplex) => boolean;
  /** Whose X-Forwarded-For is believed: the one rule for `request.ip` and every budget. */
  readonly proxies: TrustedProxies;
  /** Pages on other origins that may use the API (CORS), and frame the embed. */
  readonly origins: Pick<AllowedOrigins, 'cors' | 'corsHeadersFor' | 'unknownOriginHeaders' | 'entries'>;
}

// Bodies are validated strictly: no type coercion and unknown fields are an
// error, so `"value": "3"` or a misspelt field is a 400 rather than guessed.
// Query strings and path parameters are text by nature and are coerced,
// integers only from plain decimal digits (strictIntegers).
function validatorCompilers() {
  const strict = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: true });
  const lenient = new Ajv({ coerceTypes: true, removeAdditional: false, allErrors: false, useDefaults: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => {
    if (httpPart === 'body') return strict.compile(schema);
    const validate = lenient.compile(schema);
    return httpPart === 'querystring' || httpPart === 'params' ? strictIntegers(schema, validate, httpPart) : validate;
  };
}

/**
 * The HTTP API, health, metrics and the web pages on one Fastify app. The
 * transports are mounted on it afterwards by the composition root (see
 * `TransportMounts`), before it listens.
 */
export async function buildHttpServer(parts: HttpServerParts): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    // Whatever logger we are given, requests are logged without tokens.
    loggerInstance: parts.logger.child({}, { serializers: { req: serializeRequest } }) as FastifyBaseLogger,
    bodyLimit: parts.bodyLimitBytes,
    // `request.ip`, which the request log shows, by the budgets' own rule.
    trustProxy: parts.proxies.fastifyOption,
    // Fastify turns Node's request timeout off: without one, a request whose
    // body never completes holds its connection for ever. Node looks for
    // late requests only every `connectionsCheckingInterval` (30 s by
    // default); each look walks the requests still arriving, not the streams.
    requestTimeout: parts.requestTimeoutMs,
    http: {
      requestTimeout: parts.requestTimeoutMs,
      headersTimeout: parts.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, parts.requestTimeoutMs),
    },
    // Streams live for hours; only idle keep-alive sockets are closed on stop.
    forceCloseConnections: 'idle',
    // Fastify's own 503 while closing has its own body; ours follows the catalog.
    return503OnClosing: false,
    // Errors before routing and from Node's parser answer in our shape too.
    // No hook runs for these: the CORS headers are added here.
    frameworkErrors: (error, request, reply) =>
      frameworkError(error, request, reply.headers(parts.origins.corsHeadersFor(request.headers.origin))),
    clientErrorHandler: (error, socket) => clientError(error, socket, parts.origins.unknownOriginHeaders),
  });
  // First, so that every answer carries CORS headers, errors and refusals
  // of the hooks below included: a page on another origin can read why.
  // Preflights are answered here, before any auth hook (a browser sends no
  // Authorization on them). A preflight of an origin not listed, or with no
  // Origin, finds no route (404), as without CORS; strictPreflight is off
  // because its refusal is plain text, not our error shape.
  const corsOptions = parts.origins.cors;
  if (corsOptions) await app.register(cors, { ...corsOptions, strictPreflight: false });
  // An Expect other than 100-continue: Node would answer 417 with an empty
  // body. RFC 9110 §10.1.1 lets a server ignore an expectation it does not
  // know, so the request is served as if it had none.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    app.server.emit('request', request, response);
  });
  app.setValidatorCompiler(validatorCompilers());
  // Every body we take is JSON; anything else is a 415, not a string.
  app.removeContentTypeParser('text/plain');
  parseJsonBodies(app);
  app.decorateRequest('principal', null);
  installErrorHandling(app);
  app.addHook('onRequest', async (_request, reply) => {
    if (parts.stopping()) {
      reply.header('connection', 'close');
      throw new CodecastError('shutting_down', undefined, undefined, 2);
    }
  });

  // A connection that has not authenticated is not kept alive: each request
  // without a token would otherwise reset the keep-alive timer and hold a
  // place in the pending budget for as long as the client likes.
  app.addHook('onSend', async (request, reply) => {
    if (parts.pending(request.raw.socket)) reply.header('connection', 'close');
  });
  await registerOpenApi(app, parts.version);
  const clientOf = (request: IncomingMessage) => parts.proxies.clientOf(request);
  const auth = authHooks(parts.authenticator, parts.authenticated, clientOf);
  await app.register(healthRoutes, { health: parts.health, broker: parts.broker, stopping: parts.stopping });
  await app.register(metricsRoute, {
    metrics: parts.metrics,
    token: parts.metricsToken,
    authenticator: parts.authenticator,
    clientOf,
  });
  await app.register(
    async (api) => {
      await api.register(codeRoutes, {
        auth,
        publisher: parts.publisher,
        acknowledger: parts.acknowledger,
        ackBudget: parts.httpAckBudget,
        codes: parts.codes,
      });
      await api.register(userRoutes, { auth, users: parts.users });
      await api.register(adminRoutes, { auth, settings: parts.settings, audit: parts.audit, stats: parts.stats });
    },
    { prefix: API_PREFIX },
  );
  await app.register(webRoutes, { parentOrigins: parts.origins.entries });
  return app;
}
