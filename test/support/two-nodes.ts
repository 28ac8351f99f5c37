// Two nodes of one deployment in this process, over either broker driver:
// the memory bus (nodes sharing an SQLite file) or Redis (nodes sharing a
// PostgreSQL database and a key prefix of their own on Redis).
import { randomUUID } from 'node:crypto';
import { type BrokerKind, MemoryBus } from '../../src/broker/index.js';
import { deleteRedisKeys } from './cluster.js';
import { REDIS_TEST_URL } from './redis.js';
import { startTestServer, type TestServer } from './server.js';
import { createStoreDatabase } from './stores.js';

export interface TwoNodes {
  readonly a: TestServer;
  readonly b: TestServer;
  /** Drops what they shared (the database, their Redis keys); stop both nodes first. */
  drop(): Promise<void>;
}

/** Starts node a, then node b, both with `env`. */
export async function startTwoNodes(driver: BrokerKind, env: Record<string, string> = {}): Promise<TwoNodes> {
  if (driver === 'memory') {
    const database = await createStoreDatabase('sqlite', 'nodes');
    const bus = new MemoryBus();
    const a = await startTestServer(env, { database, bus });
    return { a, b: await startTestServer(env, { database, bus }), drop: () => database.drop() };
  }
  const database = await createStoreDatabase('postgres', 'nodes');
  const prefix = `test-${randomUUID()}`;
  const nodeEnv = { ...env, REDIS_URL: REDIS_TEST_URL, CODECAST_REDIS_PREFIX: prefix };
  const a = await startTestServer(nodeEnv, { database });
  const drop = async () => {
    await database.drop();
    await deleteRedisKeys(REDIS_TEST_URL, prefix);
  };
  return { a, b: await startTestServer(nodeEnv, { database }), drop };
}
