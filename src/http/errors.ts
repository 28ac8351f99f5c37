import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CodecastError, errorCatalog, type ErrorCode } from '../domain/index.js';
import { toCodecastError, writeRawError } from '../edge/index.js';
import { redactUrl } from '../edge/index.js';

export function sendError(reply: FastifyReply, error: CodecastError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
  if (error.status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(error.status).send({ error: error.code, message: error.message, ...error.details });
}

/**
 * Errors Fastify meets before a route runs (a URL that is not valid
 * percent-encoding, a path parameter past the router's length limit), given
 * to its `frameworkErrors` option: without it they answer in Fastify's own
 * shape, `{error, code, message, statusCode}`, which is not our contract.
 */
export function frameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return sendError(reply, new CodecastError('invalid_request', 'The URL is not valid: a "%" must start a percent-encoded UTF-8 byte.'));
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return sendError(reply, new CodecastError('invalid_request', 'A path segment is longer than the server accepts.'));
    default:
      return sendError(reply, toCodecastError(error));
  }
}

/**
 * Node's HTTP parser refusing a request (bad syntax, headers too large, too
 * slow) before Fastify sees it; given to Fastify's `clientErrorHandler`,
 * whose default answers in Fastify's own shape. The socket is then closed,
 * as Node does: after a parse error the stream cannot be trusted. No
 * request, so no origin, is known: `headers` are the CORS headers for that.
 */
export function clientError(error: Error & { code?: string }, socket: Duplex, headers: Readonly<Record<string, string>> = {}): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'request_timeout'
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? 'headers_too_large'
        : 'invalid_request';
  writeRawError(socket, new CodecastError(code, code === 'invalid_request' ? 'The request is not valid HTTP.' : undefined), headers);
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const mapped = toCodecastError(error);
    if (mapped.code === 'internal_error' || mapped.code === 'database_unavailable') {
      request.log.error({ err: error }, 'request failed');
    }
    return sendError(reply, mapped);
  });
  app.setNotFoundHandler((request, reply) =>
    // The path is echoed without any token it carries (`/stream;token=…`).
    sendError(reply, new CodecastError('not_found', `No route for ${request.method} ${redactUrl(request.url.split('?')[0] ?? '')}.`)),
  );
}

export { errorCatalog };
