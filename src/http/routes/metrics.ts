import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { CodecastError } from '../../domain/index.js';
import type { Metrics } from '../../metrics/index.js';

export interface MetricsRouteOptions {
  readonly metrics: Metrics;
  /** When set, scrapes must send it as a bearer token. */
  readonly token: string | undefined;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** `GET /metrics` in Prometheus text format. */
export const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (app, { metrics, token }) => {
  const expected = token === undefined ? undefined : digest(`Bearer ${token}`);
  app.get('/metrics', async (request, reply) => {
    if (expected) {
      const given = request.headers.authorization;
      // Compared as digests so the comparison takes the same time whatever the length.
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        throw new CodecastError('unauthorized', 'Scraping /metrics needs the CODECAST_METRICS_TOKEN bearer token.');
      }
    }
    return reply.type(metrics.contentType).send(await metrics.text());
  });
};
