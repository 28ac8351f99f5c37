import type { FastifyPluginAsync } from 'fastify';
import { CodecastError } from '../../domain/index.js';
import type { StoreHealth } from '../../store/index.js';
import { sendError } from '../errors.js';
import { ReadinessCheck } from '../readiness.js';

export interface HealthRoutesOptions {
  /** Whether the store can serve now (`Store.health`). */
  readonly health: () => Promise<StoreHealth>;
  /** Whether the broker carries messages between nodes now; absent for a process that is the whole deployment. */
  readonly broker?: () => { readonly ok: boolean; readonly detail?: string };
  readonly stopping: () => boolean;
}

// A health check answers in milliseconds when the database does; one that
// has not in 2 s is as good as failed, and a load balancer's own probe
// timeout (commonly 2-5 s) should hear 503 from us, not time out itself.
const READY_DEADLINE_MS = 2_000;

/**
 * `/healthz`: the process answers. `/readyz`: it can serve — not stopping,
 * the database answers reads and takes writes (within 2 s), the file it
 * has open is still the one at its path, and in a cluster Redis answers.
 * Not ready answers 503 in the catalog's shape, with `status`, `database`
 * and `broker` saying which part is not; the log says why, once per change
 * (the broker's changes are logged where they are noticed).
 */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { health, broker, stopping }) => {
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
    const carrier = broker?.();
    const brokerState = carrier === undefined ? undefined : carrier.ok ? 'ok' : 'unreachable';
    if (!now.ok) {
      return sendError(
        reply,
        new CodecastError('database_unavailable', now.message, { status: 'unready', database: now.database, broker: brokerState }, 5),
      );
    }
    if (carrier !== undefined && !carrier.ok) {
      return sendError(
        reply,
        new CodecastError(
          'broker_unavailable',
          `Redis is not reachable from this node: ${carrier.detail ?? 'no detail'}.`,
          { status: 'unready', database: 'ok', broker: brokerState },
          2,
        ),
      );
    }
    return { status: 'ready', database: 'ok', ...(brokerState === undefined ? {} : { broker: brokerState }) };
  });
};
