import type { Duplex } from 'node:stream';
import { Ajv } from 'ajv';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Acknowledger, Hub, Publisher, RuntimeSettings } from '../hub/index.js';
import type { Store } from '../store/index.js';
import { sseRoutes } from '../transports/sse/index.js';
import type { Authenticator, UserAdmin } from '../users/index.js';
import { CodecastError } from '../domain/index.js';
import { authHooks, serializeRequest } from './auth.js';
import { installErrorHandling } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { codeRoutes } from './routes/codes.js';
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
  readonly sseRetryMs: number;
  readonly pongIntervalMs: number;
  readonly authenticator: Authenticator;
  readonly hub: Hub;
  readonly publisher: Publisher;
  readonly acknowledger: Acknowledger;
  readonly settings: RuntimeSettings;
  readonly users: UserAdmin;
  readonly store: Store;
  readonly stats: () => unknown;
  readonly metrics: Metrics;
  readonly metricsToken: string | undefined;
  readonly stopping: () => boolean;
  /** Hears of each socket that carried an authenticated request. */
  readonly authenticated: (socket: Duplex) => void;
}

// Bodies are validated strictly: no type coercion and unknown fields are an
// error, so `"value": "3"` or a misspelt field is a 400 rather than guessed.
// Query strings and path parameters are text by nature and are coerced.
function validatorCompilers() {
  const strict = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false, useDefaults: true });
  const lenient = new Ajv({ coerceTypes: true, removeAdditional: false, allErrors: false, useDefaults: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : lenient).compile(schema);
}

export async function buildHttpServer(parts: HttpServerParts): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    // Whatever logger we are given, requests are logged without tokens.
    loggerInstance: parts.logger.child({}, { serializers: { req: serializeRequest } }) as FastifyBaseLogger,
    bodyLimit: parts.bodyLimitBytes,
    // Streams live for hours; only idle keep-alive sockets are closed on stop.
    forceCloseConnections: 'idle',
    // Fastify's own 503 while closing has its own body; ours follows the catalog.
    return503OnClosing: false,
  });
  app.setValidatorCompiler(validatorCompilers());
  // Every body we take is JSON; anything else is a 415, not a string.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('principal', null);
  installErrorHandling(app);
  app.addHook('onRequest', async (_request, reply) => {
    if (parts.stopping()) {
      reply.header('connection', 'close');
      throw new CodecastError('shutting_down', undefined, undefined, 2);
    }
  });

  await registerOpenApi(app, parts.version);
  const auth = authHooks(parts.authenticator, parts.authenticated);
  await app.register(healthRoutes, { store: parts.store, stopping: parts.stopping });
  await app.register(metricsRoute, { metrics: parts.metrics, token: parts.metricsToken });
  await app.register(
    async (api) => {
      await api.register(codeRoutes, {
        auth,
        publisher: parts.publisher,
        acknowledger: parts.acknowledger,
        store: parts.store,
      });
      await api.register(userRoutes, { auth, users: parts.users });
      await api.register(adminRoutes, { auth, settings: parts.settings, store: parts.store, stats: parts.stats });
      await api.register(sseRoutes, {
        hub: parts.hub,
        auth,
        retryMs: parts.sseRetryMs,
        pongIntervalMs: parts.pongIntervalMs,
      });
    },
    { prefix: '/api/v1' },
  );
  await app.register(webRoutes);
  return app;
}

