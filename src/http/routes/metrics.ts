import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { CodecastError, bearerFromHeader } from '../../domain/index.js';
import type { Metrics } from '../../metrics/index.js';
import type { Authenticator } from '../../users/index.js';

export interface MetricsRouteOptions {
  readonly metrics: Metrics;
  /** When set, scrapes must send it as a bearer token. */
  readonly token: string | undefined;
  /** Holds wrong metrics tokens to the per-address failure budget. */
  readonly authenticator: Pick<Authenticator, 'refuseSecret'>;
  /** Whom a wrong token is charged to. */
  readonly clientOf: (request: IncomingMessage) => string;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** `GET /metrics` in Prometheus text format. */
export const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (app, { metrics, token, authenticator, clientOf }) => {
  const expected = token === undefined ? undefined : digest(token);
  const refusal = 'Scraping /metrics needs the CODECAST_METRICS_TOKEN bearer token.';
  app.get('/metrics', async (request, reply) => {
    if (expected) {
      // The scheme is case-insensitive (RFC 9110 §11.1), as for every other token.
      const given = bearerFromHeader(request.headers.authorization);
      if (given === undefined) throw new CodecastError('unauthorized', refusal);
      // Compared as digests so the comparison takes the same time whatever the length.
      if (!timingSafeEqual(digest(given), expected)) authenticator.refuseSecret(clientOf(request.raw), refusal);
    }
    return reply.type(metrics.contentType).send(await metrics.text());
  });
};
