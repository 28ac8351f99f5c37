import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CodecastError, errorCatalog, type ErrorCode } from '../domain/index.js';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../store/index.js';
import { redactUrl } from './auth.js';

// Fastify's own error codes, mapped to ours at this edge only.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
};

function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = `${error.validationContext ?? 'request'}${first.instancePath.replaceAll('/', '.')}`;
  if (first.keyword === 'additionalProperties') {
    return `${where} has an unknown field "${String(first.params.additionalProperty)}".`;
  }
  if (first.keyword === 'required') return `${where} lacks the field "${String(first.params.missingProperty)}".`;
  return `${where} ${first.message ?? 'is not valid'}.`;
}

/** Turns anything thrown while serving a request into our error shape. */
export function toCodecastError(error: unknown): CodecastError {
  if (error instanceof CodecastError) return error;
  if (error instanceof DatabaseUnavailableError) return new CodecastError('database_unavailable', error.message, undefined, 5);
  if (isDatabaseUnavailable(error)) return new CodecastError('database_unavailable', undefined, undefined, 5);
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) return new CodecastError('invalid_request', validationMessage(fastifyError as FastifyError));
  const mapped = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (mapped === 'malformed_json') return new CodecastError(mapped, `The body is not valid JSON: ${fastifyError.message}`);
  if (mapped) return new CodecastError(mapped);
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) return new CodecastError('malformed_json');
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // A 403 here is @fastify/static refusing a directory or a path outside
    // its root: for a client, nothing is there.
    if (status === 403) return new CodecastError('not_found');
    return new CodecastError(status === 404 ? 'not_found' : 'invalid_request', fastifyError.message);
  }
  return new CodecastError('internal_error');
}

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
 * Answers a catalog error on a socket that no HTTP response object owns (a
 * request Node could not parse, a refused upgrade), then closes it.
 */
export function writeRawError(socket: Duplex, error: CodecastError, headers: Readonly<Record<string, string>> = {}): void {
  const body = JSON.stringify({ error: error.code, message: error.message, ...error.details });
  const head = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...headers,
  };
  const lines = Object.entries(head).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n${lines}\r\n${body}`);
}

/**
 * Node's HTTP parser refusing a request (bad syntax, headers too large, too
 * slow) before Fastify sees it; given to Fastify's `clientErrorHandler`,
 * whose default answers in Fastify's own shape. The socket is then closed,
 * as Node does: after a parse error the stream cannot be trusted.
 */
export function clientError(error: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout'
    : error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large'
    : 'invalid_request';
  writeRawError(socket, new CodecastError(code, code === 'invalid_request' ? 'The request is not valid HTTP.' : undefined));
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
