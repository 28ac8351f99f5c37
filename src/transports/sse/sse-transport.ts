import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { CodecastError, parseSince } from '../../domain/index.js';
import {
  authHooks,
  principalOf,
  type AuthHook,
  type AuthHooks,
  type EdgeMount,
  type Transport,
  type TransportParts,
} from '../../edge/index.js';
import { newConnectionId, type Hub } from '../../hub/index.js';
import { SseConnection } from './sse-connection.js';
import { SseEncoder } from './sse-encoder.js';

export interface SseOptions {
  /** The reconnect delay a client is told (`retry:`). */
  readonly retryMs: number;
  /** The shortest time between two pongs of a connection. */
  readonly pongIntervalMs: number;
}

interface SseRouteOptions extends SseOptions {
  readonly hub: Hub;
  /** For the pong. */
  readonly auth: AuthHooks;
  /** For opening the stream: authenticates and, in a cluster, takes the user's place. */
  readonly admission: AuthHook;
}

const MAX_ID = Number.MAX_SAFE_INTEGER;

/**
 * The headers the request's hooks put on the reply (CORS, when pages on
 * other origins are allowed) as head lines: the stream's head is written
 * by us, past Fastify, so they would be lost otherwise. Their values come
 * from our options and the request's own headers, which Node's parser has
 * checked for CR and LF.
 */
function hookHeaderLines(reply: FastifyReply): string {
  let lines = '';
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) lines += `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}\r\n`;
  }
  return lines;
}

/**
 * EventSource resends the id of the last frame it saw; it outranks the
 * `since` of the URL, which was only true for the first connect.
 */
function sinceOf(lastEventId: string | string[] | undefined, since: number | undefined): number | undefined {
  if (typeof lastEventId === 'string' && lastEventId.trim() !== '') return parseSince(lastEventId, 'Last-Event-ID');
  return since;
}

/** The SSE stream and its HTTP pong: `GET /stream`, `POST /stream/:connectionId/pong`. */
const sseRoutes: FastifyPluginAsyncTypebox<SseRouteOptions> = async (app, options) => {
  const { hub, auth, admission } = options;
  // Open SSE connections by id, for the pong: only this transport looks
  // connections up by id, so only it pays for the index.
  const open = new Map<string, SseConnection>();
  const detach = (connection: SseConnection) => {
    open.delete(connection.id);
    hub.detach(connection);
  };

  app.get(
    '/stream',
    {
      // The stream is written to the socket directly; a HEAD would get a body.
      exposeHeadRoute: false,
      onRequest: admission,
      schema: {
        tags: ['stream'],
        summary: 'The SSE stream (text/event-stream); see docs/PROTOCOL.md',
        querystring: Type.Object({
          token: Type.Optional(Type.String()),
          since: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ID })),
        }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const since = sinceOf(request.headers['last-event-id'], request.query.since);
      await hub.catchUpFor(since);
      hub.admit(principal.user.id);
      const headers = hookHeaderLines(reply);
      reply.hijack();
      const socket = request.raw.socket;
      const connection = new SseConnection(newConnectionId(), principal, socket, detach);
      // The head, hello and any replay leave in one write: one syscall, not
      // one each (the profile of 10,000 connecting showed two per connection).
      socket.cork();
      connection.open(options.retryMs, headers);
      hub.attach(connection, since);
      socket.uncork();
      open.set(connection.id, connection);
      // The client may have gone while we authenticated; its close event
      // then fired before anyone listened.
      if (connection.gone) detach(connection);
    },
  );

  app.post(
    '/stream/:connectionId/pong',
    {
      onRequest: auth.user,
      schema: {
        tags: ['stream'],
        summary: 'Pong for an SSE connection (liveness)',
        params: Type.Object({ connectionId: Type.String({ maxLength: 64 }) }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const connection = open.get(request.params.connectionId);
      if (!connection?.isOpen || connection.principal.user.id !== principal.user.id) {
        throw new CodecastError('connection_not_found');
      }
      const waitMs = connection.pong(Date.now(), options.pongIntervalMs);
      if (waitMs > 0) {
        throw new CodecastError(
          'pong_too_frequent',
          `Pong at most once every ${options.pongIntervalMs / 1000} s.`,
          undefined,
          Math.ceil(waitMs / 1000),
        );
      }
      return reply.code(204).send();
    },
  );
};

/**
 * Server-Sent Events at `GET /api/v1/stream`: plain HTTP routes, so it is
 * mounted as routes; its clients ack and pong over HTTP, through the same
 * auth as the rest of the API.
 */
export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  readonly #routes: FastifyPluginAsync;

  constructor(parts: TransportParts, options: SseOptions) {
    parts.hub.useEncoder(new SseEncoder());
    const routeOptions: SseRouteOptions = {
      ...options,
      hub: parts.hub,
      auth: authHooks(parts.authenticator, parts.authenticated, parts.clientOf),
      admission: authHooks(parts.admission, parts.authenticated, parts.clientOf).userFromHeaderOrQuery,
    };
    this.#routes = async (app) => {
      await app.register(sseRoutes, routeOptions);
    };
  }

  async mount(edge: EdgeMount): Promise<void> {
    await edge.routes(this.#routes);
  }

  /** Nothing to let go of: its streams are the hub's to close, its routes the server's. */
  close(): void {}
}
