import type { FastifyPluginAsync } from 'fastify';
import { CodecastError } from '../../domain/index.js';
import type { StoreHealth } from '../../store/index.js';
import { sendError } from '../errors.js';
import { ReadinessCheck } from '../readiness.js';

export interface HealthRoutesOptions {
  /** Whether the store can serve now (`Store.health`). */
  readonly health: () => Promise<StoreHealth>;
  readonly stopping: () => boolean;
}

// A health check answers in milliseconds when the database does; one that
// has not in 2 s is as good as failed, and a load balancer's own probe
// timeout (commonly 2-5 s) should hear 503 from us, not time out itself.
const READY_DEADLINE_MS = 2_000;

/**
 * `/healthz`: the process answers. `/readyz`: it can serve — not stopping,
 * the database answers reads and takes writes (within 2 s), and the file it
 * has open is still the one at its path. Not ready answers 503 in the
 * catalog's shape, with `status` and `database` saying which part is not;
 * the log says why, once per change.
 */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { health, stopping }) => {
  const readiness = new ReadinessCheck(health, READY_DEADLINE_MS, (now) => {
    if (now.ok) app.log.info('ready again: the database answers and takes writes');
    else app.log.warn({ health: now }, `not ready: database ${now.database}`);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (stopping()) {
      return sendError(reply, new CodecastError('shutting_down', undefined, { status: 'stopping', database: 'unknown' }, 2));
    }
    const now = await readiness.health();
    if (now.ok) return { status: 'ready', database: 'ok' };
    return sendError(reply, new CodecastError('database_unavailable', now.message, { status: 'unready', database: now.database }, 5));
  });
};
