import type { FastifyPluginAsync } from 'fastify';
import type { Store } from '../../store/index.js';

export interface HealthRoutesOptions {
  readonly store: Store;
  readonly stopping: () => boolean;
}

/** `/healthz`: the process answers. `/readyz`: it can serve — database reachable, not stopping. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { store, stopping }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (stopping()) return reply.code(503).send({ status: 'stopping', database: 'unknown' });
    try {
      await store.ping();
      return { status: 'ready', database: 'ok' };
    } catch {
      return reply.code(503).send({ status: 'unready', database: 'unreachable' });
    }
  });
};
