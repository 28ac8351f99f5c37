// Issue 11, "Faults, tested for real" (the servers): three real codecast
// processes on one PostgreSQL and one Redis, subscribers on every transport
// on every node, publishing throughout, while Redis or PostgreSQL — a
// private server of the test's own, never the shared one — stops and comes
// back. Streams stay open, publishes answer 503 with Retry-After while a
// part is away and store nothing, the nodes recover by themselves, and every
// code that got a 201 reaches every subscriber exactly once, in order.
// The node faults (SIGKILL, SIGSTOP, concurrent publishing) are in
// cluster-faults-nodes.test.ts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { killAll } from './support/cli-helpers.js';
import { Cluster, deleteRedisKeys, serverOrSkip } from './support/cluster.js';
import { assertDelivered, assertNeverDisconnected, storedCodeIds } from './support/cluster-checks.js';
import { LINK_KINDS } from './support/cluster-links.js';
import { ClusterPublisher } from './support/cluster-publisher.js';
import { type ClusterSubscriber, subscribeEverywhere } from './support/cluster-subscriber.js';
import { createTestDatabase, PrivatePostgres } from './support/postgres.js';
import { PrivateRedis, REDIS_TEST_URL } from './support/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ALL_NODES = () => [0, 1, 2];

after(killAll);

/** Waits until every node's /readyz answers something other than 200 (the outage is seen). */
async function waitUnready(cluster: Cluster, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(cluster.running());
  while (pending.size > 0) {
    for (const index of [...pending]) {
      const answer = await fetch(`${cluster.node(index).url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
      if (answer && answer.status !== 200) pending.delete(index);
      await answer?.body?.cancel();
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: /readyz still 200 on ${[...pending].map((i) => `node${i}`).join(', ')} after ${timeoutMs} ms\n${cluster.logTails(10)}`,
      );
    }
    await sleep(100);
  }
}

/** Waits until the publisher has seen a 503 since `since` (the outage reached publishing). */
async function waitFor503(publisher: ClusterPublisher, since: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!publisher.unavailable.some((r) => r.at >= since)) {
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: no publish answered 503 within ${timeoutMs} ms (accepted ${publisher.accepted.length}, unexpected: ${publisher.unexpected.slice(-3).join(' | ')})`,
      );
    }
    await sleep(50);
  }
}

function assertPublishOutcomes(publisher: ClusterPublisher, cluster: Cluster, error: string): void {
  assert.deepEqual(publisher.unexpected, [], `every publish answered 201, or 503 with Retry-After\n${cluster.logTails(10)}`);
  assert.ok(publisher.unavailable.length > 0, 'some publishes fell in the outage and answered 503');
  const others = publisher.unavailable.filter((r) => r.error !== error);
  assert.deepEqual(others, [], `every 503 says ${error}`);
}

function stopAll(subscribers: readonly ClusterSubscriber[]): void {
  for (const subscriber of subscribers) subscriber.stop();
}

test('Redis stopped for 3 s and started empty: streams stay open, 503 meanwhile, nodes recover, nothing lost', {
  timeout: 90_000,
}, async (t) => {
  const redis = await serverOrSkip(t, 'a private redis-server', async () => {
    const server = await PrivateRedis.create();
    await server.start();
    return server;
  });
  if (!redis) return;
  t.after(() => redis.destroy());
  const database = await serverOrSkip(t, 'a test database on the shared PostgreSQL', () => createTestDatabase('cluster-redis'));
  if (!database) return;
  t.after(() => database.drop());
  const cluster = await Cluster.start({ databaseUrl: database.url, redisUrl: redis.url() });
  t.after(() => cluster.stop());
  const subscribers = await subscribeEverywhere(cluster, 'redis', LINK_KINDS);
  t.after(() => stopAll(subscribers));
  const publisher = new ClusterPublisher(cluster, 'REDIS');
  publisher.startStream({ nodes: ALL_NODES, intervalMs: 100 });
  t.after(() => publisher.stop());

  await publisher.waitForAccepted(10, 10_000, 'before the outage');
  const stoppedAt = Date.now();
  await redis.stop();
  await waitFor503(publisher, stoppedAt, 'Redis stopped');
  await waitUnready(cluster, 'Redis stopped');
  await sleep(Math.max(0, stoppedAt + 3_000 - Date.now()));
  const maxBefore = publisher.maxAcceptedId;
  // --save "": it comes back with no keys, no stream, no epoch.
  await redis.start();
  const restartedAt = Date.now();
  await cluster.waitReady(20_000);
  t.diagnostic(`every node ready ${Date.now() - restartedAt} ms after Redis came back empty`);
  await publisher.waitForAccepted(15, 15_000, 'after Redis came back');
  await publisher.stop();

  assertPublishOutcomes(publisher, cluster, 'broker_unavailable');
  const after = publisher.accepted.filter((a) => a.at > restartedAt).map((a) => a.id);
  assert.ok(
    after.every((id) => id > maxBefore),
    `ids after the restart (${after.join(',')}) continue above every id given before (${maxBefore})`,
  );
  assertNeverDisconnected(cluster, subscribers, 'Redis stopped and started');
  await assertDelivered(cluster, subscribers, publisher.acceptedIds, { what: 'after Redis restarted empty' });
  assert.deepEqual(await storedCodeIds(database.url), publisher.acceptedIds, 'the database holds exactly the codes that got a 201');
  t.diagnostic(`${publisher.accepted.length} accepted, ${publisher.unavailable.length} answered 503, ${subscribers.length} subscribers`);
});

test('PostgreSQL stopped and started under three nodes: streams stay up, 503 meanwhile, recovers, nothing lost', {
  timeout: 120_000,
}, async (t) => {
  const postgres = await serverOrSkip(t, 'a private PostgreSQL', async () => {
    const server = await PrivatePostgres.create();
    await server.start();
    return server;
  });
  if (!postgres) return;
  t.after(() => postgres.destroy());
  const admin = new pg.Client({ connectionString: postgres.url() });
  await admin.connect();
  await admin.query('create database codecast');
  await admin.end();
  const databaseUrl = postgres.url('codecast');
  const prefix = `codecast-test-${process.pid}-pg`;
  t.after(() => deleteRedisKeys(REDIS_TEST_URL, prefix).catch(() => undefined));
  const cluster = await Cluster.start({
    databaseUrl,
    redisUrl: REDIS_TEST_URL,
    redisPrefix: prefix,
    // Short bounds, so an outage is noticed quickly: a refused connection fails at once anyway.
    env: { CODECAST_DB_CONNECT_TIMEOUT_SECONDS: '2', CODECAST_DB_STATEMENT_TIMEOUT_SECONDS: '5' },
  });
  t.after(() => cluster.stop());
  const subscribers = await subscribeEverywhere(cluster, 'pg', LINK_KINDS);
  t.after(() => stopAll(subscribers));
  const publisher = new ClusterPublisher(cluster, 'PGDOWN');
  publisher.startStream({ nodes: ALL_NODES, intervalMs: 100 });
  t.after(() => publisher.stop());

  await publisher.waitForAccepted(10, 10_000, 'before the outage');
  const stoppedAt = Date.now();
  await postgres.stop();
  await waitFor503(publisher, stoppedAt, 'PostgreSQL stopped');
  await waitUnready(cluster, 'PostgreSQL stopped');
  await sleep(Math.max(0, stoppedAt + 3_000 - Date.now()));
  await postgres.start();
  const restartedAt = Date.now();
  await cluster.waitReady(30_000);
  t.diagnostic(`every node ready ${Date.now() - restartedAt} ms after PostgreSQL came back`);
  await publisher.waitForAccepted(15, 20_000, 'after PostgreSQL came back');
  await publisher.stop();

  assertPublishOutcomes(publisher, cluster, 'database_unavailable');
  assertNeverDisconnected(cluster, subscribers, 'PostgreSQL stopped and started');
  await assertDelivered(cluster, subscribers, publisher.acceptedIds, { what: 'after PostgreSQL restarted' });
  assert.deepEqual(await storedCodeIds(databaseUrl), publisher.acceptedIds, 'the database holds exactly the codes that got a 201');
  t.diagnostic(`${publisher.accepted.length} accepted, ${publisher.unavailable.length} answered 503, ${subscribers.length} subscribers`);
});
