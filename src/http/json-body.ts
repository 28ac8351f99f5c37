import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Whether a route takes no body: it has no body schema, or its schema
 * accepts none (Fastify validates a missing body as null).
 */
function takesNoBody(request: FastifyRequest): boolean {
  const validate = request.getValidationFunction('body');
  return validate === undefined || validate(null) === true;
}

/**
 * Fastify's own JSON parser (prototype poisoning refused), with one change:
 * an empty body is no body on a route that takes none. Many HTTP clients
 * send `Content-Type: application/json` on every request, a DELETE or an
 * ack included, and Fastify parses a body whenever a content type is set,
 * so an empty one was `400 malformed_json`. A route that needs a body still
 * answers an empty one `malformed_json`, and a body that is not JSON is
 * refused everywhere.
 */
export function parseJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // parseAs 'string': the body arrives as a string (Fastify's types say string or Buffer).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && takesNoBody(request)) {
      done(null, undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
