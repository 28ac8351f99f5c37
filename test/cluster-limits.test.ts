// One deployment's limits and picture (issue 11): nodes in this process on a
// shared PostgreSQL database and Redis (a key prefix of their own, or a
// private Redis where a test stops it). The per-user cap counts a user's
// connections on every live node, on every transport; a node that stops
// leaves the counts at once, one cut off from Redis within its lease; the
// stats and a publish's audience are the deployment's.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { connectSubscriber, TRANSPORT_KINDS, type Subscriber, type TransportKind } from './support/clients.js';
import { FreezingProxy } from './support/freezing-proxy.js';
import { PrivateRedis, REDIS_TEST_URL } from './support/redis.js';
import { startTestServer, type TestServer } from './support/server.js';
import { createStoreDatabase, type StoreDatabase } from './support/stores.js';

const CAP = 2;
const TTL_SECONDS = 3;

interface Nodes {
  readonly a: TestServer;
  readonly b: TestServer;
  readonly database: StoreDatabase;
}

/** Two nodes of one deployment; `bRedis` lets B reach Redis another way (through a proxy). */
async function twoNodes(redisUrl: string, bRedis = redisUrl): Promise<Nodes> {
  const database = await createStoreDatabase('postgres', 'cluster');
  const env = {
    CODECAST_REDIS_PREFIX: `test-${randomUUID()}`,
    CODECAST_MAX_CONNECTIONS_PER_USER: String(CAP),
    CODECAST_NODE_TTL_SECONDS: String(TTL_SECONDS),
  };
  const a = await startTestServer({ ...env, REDIS_URL: redisUrl }, { database });
  const b = await startTestServer({ ...env, REDIS_URL: bRedis }, { database });
  return { a, b, database };
}

async function stopAll(nodes: Partial<Nodes>): Promise<void> {
  await nodes.b?.stop();
  await nodes.a?.stop();
  await nodes.database?.drop();
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function open(transport: TransportKind, server: TestServer, token: string): Promise<Subscriber> {
  const subscriber = await connectSubscriber(transport, server.url, { token });
  assert.equal(subscriber.status, 'open', `${transport} on ${server.url}: ${subscriber.refusal}`);
  return subscriber;
}

async function refused(transport: TransportKind, server: TestServer, token: string): Promise<void> {
  const subscriber = await connectSubscriber(transport, server.url, { token });
  await subscriber.close();
  assert.equal(subscriber.status, 'refused', `${transport} on ${server.url} was let in`);
  assert.equal(subscriber.refusal, 'too_many_connections_for_user');
}

/** Whether one more connection of the user opens on `server` (closed again at once). */
async function admits(server: TestServer, token: string): Promise<boolean> {
  const subscriber = await connectSubscriber('ws', server.url, { token });
  await subscriber.close();
  return subscriber.status !== 'refused';
}

const deploymentOf = async (server: TestServer) => (await server.api('GET', '/api/v1/stats')).body.deployment;

async function closeAll(subscribers: readonly Subscriber[]): Promise<void> {
  for (const subscriber of subscribers) await subscriber.close();
}

describe('cluster: one deployment, two nodes on Redis', () => {
  let nodes: Nodes;
  before(async () => {
    nodes = await twoNodes(REDIS_TEST_URL);
  });
  after(() => stopAll(nodes));

  for (const transport of TRANSPORT_KINDS) {
    test(`the per-user cap counts the user's ${transport} connections on both nodes`, async () => {
      const { a, b } = nodes;
      const { token } = await a.createUser(`capped-${transport}`);
      const first = await open(transport, a, token);
      const second = await open(transport, b, token);
      try {
        await refused(transport, a, token);
        await refused(transport, b, token);
        await second.close();
        // Its place is given back when B sees it close.
        let third: Subscriber | undefined;
        await eventually(async () => {
          const attempt = await connectSubscriber(transport, a.url, { token });
          if (attempt.status === 'open') third = attempt;
          else await attempt.close();
          return third !== undefined;
        }, 'a place on A once B let one go');
        await third?.close();
      } finally {
        await closeAll([first, second]);
      }
    });
  }

  test('stats list every node, with the totals; existing fields stay per node', async () => {
    const { a, b } = nodes;
    const { token } = await a.createUser('pictured');
    const subscribers = [await open('sse', a, token), await open('ws', b, token)];
    try {
      await eventually(async () => {
        const deployment = await deploymentOf(a);
        return deployment.nodes.length === 2 && deployment.totals.connections.total === 2 && deployment.totals.usersOnline === 1;
      }, 'both nodes with one connection each in A’s stats');
      const stats = (await a.api('GET', '/api/v1/stats')).body;
      assert.equal(stats.node, a.server.node);
      assert.equal(stats.connections.total, 1, 'the top-level figures are still this node’s');
      const { deployment } = stats;
      assert.equal(deployment.driver, 'redis');
      assert.equal(deployment.complete, true);
      assert.deepEqual(deployment.nodes.map((n: { node: string }) => n.node).sort(), [a.server.node, b.server.node].sort());
      const ofB = deployment.nodes.find((n: { node: string }) => n.node === b.server.node);
      assert.deepEqual(ofB.connections, { total: 1, byTransport: { sse: 0, ws: 1, socketio: 0 } });
      assert.equal(ofB.pid, process.pid);
      assert.ok(ofB.memory.rss > 0 && ofB.memory.heapUsed > 0);
      assert.ok(Date.now() - Date.parse(ofB.heartbeatAt) < TTL_SECONDS * 1000, 'heartbeat within the TTL');
      assert.deepEqual(deployment.totals.connections, { total: 2, byTransport: { sse: 1, ws: 1, socketio: 0 } });
      assert.equal(deployment.totals.nodes, 2);
      assert.equal(
        deployment.totals.memory.rss,
        deployment.nodes.reduce((sum: number, n: { memory: { rss: number } }) => sum + n.memory.rss, 0),
      );
    } finally {
      await closeAll(subscribers);
    }
  });

  test("a publish's audience is the deployment's", async () => {
    const { a, b } = nodes;
    const { token } = await a.createUser('audience');
    const other = await a.createUser('audience-too');
    const subscribers = [await open('sse', a, token), await open('ws', b, token), await open('socketio', b, other.token)];
    try {
      let audience: { connections: number; byTransport: unknown } | undefined;
      let n = 0;
      // A learns B's connections from B's lease at its next renewal.
      await eventually(async () => {
        const answer = await a.api('POST', '/api/v1/codes', { body: { code: `AUDIENCE-${++n}` } });
        assert.equal(answer.status, 201);
        audience = answer.body.audience;
        return audience?.connections === 3;
      }, 'an audience of three');
      assert.deepEqual(audience?.byTransport, { sse: 1, ws: 1, socketio: 1 });
    } finally {
      await closeAll(subscribers);
    }
  });
});

describe('cluster: a node that leaves', () => {
  let nodes: Partial<Nodes> = {};
  let proxy: FreezingProxy | undefined;
  after(async () => {
    proxy?.thaw();
    await stopAll(nodes);
    await proxy?.close();
  });

  test('a node stopped gracefully leaves the counts and the stats at once', async () => {
    nodes = await twoNodes(REDIS_TEST_URL);
    const { a, b } = nodes as Nodes;
    const { token } = await a.createUser('leaver');
    await open('ws', b, token);
    await open('sse', b, token);
    await refused('socketio', a, token);
    await b.stop();
    await open('socketio', a, token);
    const deployment = await deploymentOf(a);
    assert.deepEqual(
      deployment.nodes.map((n: { node: string }) => n.node),
      [a.server.node],
    );
    await stopAll(nodes);
    nodes = {};
  });

  test('a node cut off from Redis stops counting within the TTL, and counts again when it is back', async () => {
    const target = new URL(REDIS_TEST_URL);
    proxy = await FreezingProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    nodes = await twoNodes(REDIS_TEST_URL, proxy.url());
    const { a, b } = nodes as Nodes;
    const { token } = await a.createUser('cut-off');
    const onB = [await open('sse', b, token), await open('ws', b, token)];
    assert.equal(await admits(a, token), false);
    proxy.freeze();
    const frozenAt = Date.now();
    await eventually(() => admits(a, token), 'B no longer counted', (TTL_SECONDS + 3) * 1000);
    const tookMs = Date.now() - frozenAt;
    assert.ok(tookMs <= (TTL_SECONDS + 1.5) * 1000, `B counted for ${tookMs} ms after it was cut off`);
    await eventually(async () => (await deploymentOf(a)).nodes.length === 1, 'B gone from the stats');
    // B kept its clients; back, it writes its counts again from what it holds.
    assert.ok(onB.every((s) => s.status === 'open'));
    proxy.thaw();
    await eventually(async () => {
      const ofB = (await deploymentOf(a)).nodes.find((n: { node: string }) => n.node === b.server.node);
      return ofB?.connections.total === 2;
    }, 'B back in the stats');
    assert.equal(await admits(a, token), false, 'B’s connections count again');
    await closeAll(onB);
  });
});

describe('cluster: Redis down', () => {
  let redis: PrivateRedis;
  let nodes: Partial<Nodes> = {};
  before(async () => {
    redis = await PrivateRedis.create();
    await redis.start();
    nodes = await twoNodes(redis.url());
  });
  after(async () => {
    await stopAll(nodes);
    await redis?.destroy();
  });

  test('the local cap holds while Redis is down; back empty, every node counts its connections again', async () => {
    const { a, b } = nodes as Nodes;
    const { token } = await a.createUser('offline');
    await redis.stop();
    const onA = [await open('sse', a, token), await open('ws', a, token)];
    for (const transport of TRANSPORT_KINDS) await refused(transport, a, token);
    await redis.start();
    // Redis restarted empty: A's lease is gone, and A writes it again with its counts.
    await eventually(
      async () => {
        const deployment = await b.server.deployment();
        const ofA = deployment.nodes.find((n) => n.node === a.server.node);
        return deployment.complete && ofA?.connections.total === 2;
      },
      'A back in the deployment with its two connections',
      15_000,
    );
    await refused('ws', b, token);
    await closeAll(onA);
  });
});

describe('one process alone', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.stop());

  test('the deployment is this node', async () => {
    const deployment = await deploymentOf(server);
    assert.equal(deployment.driver, 'memory');
    assert.equal(deployment.complete, true);
    assert.deepEqual(
      deployment.nodes.map((n: { node: string }) => n.node),
      [server.server.node],
    );
    assert.equal(deployment.totals.nodes, 1);
  });
});
