import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PATH = '/api/v1/docs';

/**
 * The OpenAPI document is generated from the same route schemas that
 * validate requests (@fastify/swagger), so the two cannot drift. Only the
 * `/api/v1` routes are described. Register before the routes.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'codecast API',
        version,
        description:
          'Publish codes and manage users over HTTP; subscribe over SSE (`/api/v1/stream`), WebSocket (`/api/v1/ws`) or Socket.IO (`/socket.io/`). Errors are JSON `{error, message}`; see the README for the error catalog and docs/PROTOCOL.md for the streams.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A codecast token (cc_…).' } },
      },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url }) => {
      const described = url.startsWith('/api/v1/') && url !== OPENAPI_PATH && !url.startsWith(DOCS_PATH);
      return { schema: described ? schema : { ...(schema ?? {}), hide: true }, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PATH, uiConfig: { persistAuthorization: false } });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
