import type { FastifyPluginAsync } from 'fastify';
import { CodecastError } from '../../domain/index.js';
import type { Store } from '../../store/index.js';
import { sendError } from '../errors.js';

export interface HealthRoutesOptions {
  readonly store: Store;
  readonly stopping: () => boolean;
}

/**
 * `/healthz`: the process answers. `/readyz`: it can serve — not stopping,
 * the database answers reads and takes writes, and the file it has open is
 * still the one at its path. Not ready answers 503 in the catalog's shape,
 * with `status` and `database` saying which part is not.
 */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { store, stopping }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (stopping()) {
      return sendError(reply, new CodecastError('shutting_down', undefined, { status: 'stopping', database: 'unknown' }, 2));
    }
    const health = await store.health();
    if (health.ok) return { status: 'ready', database: 'ok' };
    return sendError(reply, new CodecastError('database_unavailable', health.message, { status: 'unready', database: health.database }, 5));
  });
};
