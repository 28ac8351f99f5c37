import type { FastifyError } from 'fastify';
import { CodecastError, DatabaseUnavailableError, type ErrorCode } from '../domain/index.js';

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
  // Only the store knows which driver errors are outages; it throws this class for them.
  if (error instanceof DatabaseUnavailableError) return new CodecastError('database_unavailable', error.message, undefined, 5);
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
