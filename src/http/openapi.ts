import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { contentSecurityPolicy } from '../web/index.js';

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PATH = '/api/v1/docs';

// The one <style> element swagger-ui writes itself: the colours of the logo
// in its top bar (`.logo_small_svg__cls-2{fill:#fff}…`). Allowed by its hash,
// so no other inline style can run; test/web-docs.test.ts fails on any CSP
// violation in Chromium, which is how a changed swagger-ui would show.
const SWAGGER_LOGO_STYLE = 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=';

// The docs page (swagger-ui) holds whatever token a reader pastes into it,
// so it gets a policy as strict as our own pages: its own scripts and
// styles only, requests to this origin only, no framing. Swagger UI sets
// its other styles through the CSSOM, which style-src does not govern, and
// shows its icons as data: images.
export const DOCS_CONTENT_SECURITY_POLICY = contentSecurityPolicy({ styles: [`'${SWAGGER_LOGO_STYLE}'`], fonts: ['data:'] });

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
  await app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    uiConfig: { persistAuthorization: false },
    staticCSP: DOCS_CONTENT_SECURITY_POLICY,
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
