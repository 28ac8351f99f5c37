// Issue 11, "Faults, tested for real" (the nodes): three real codecast
// processes on a fresh database of the shared PostgreSQL and the shared
// Redis under a key prefix of their own, subscribers on every transport on
// every node. A node is SIGKILLed, or frozen with SIGSTOP while the others
// publish, or all three publish at once; every subscriber ends with exactly
// the ids that got a 201, strictly increasing. The server faults (Redis,
// PostgreSQL stopped) are in cluster-faults.test.ts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { killAll } from './support/cli-helpers.js';
import { Cluster, deleteRedisKeys, serverOrSkip } from './support/cluster.js';
import { assertDelivered, assertNeverDisconnected, assertSameTrail } from './support/cluster-checks.js';
import { LINK_KINDS } from './support/cluster-links.js';
import { ClusterPublisher } from './support/cluster-publisher.js';
import { ClusterSubscriber, subscribeEverywhere } from './support/cluster-subscriber.js';
import { FreezingProxy } from './support/freezing-proxy.js';
import { createTestDatabase } from './support/postgres.js';
import { REDIS_TEST_URL, redisAnswers } from './support/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

after(killAll);

/** Three nodes on a fresh database and the shared Redis under a prefix of this test's own. */
async function startCluster(
  t: { after(fn: () => unknown): void; skip(message?: string): void },
  label: string,
  env: Record<string, string> = {},
  nodeEnv?: (index: number) => Record<string, string | undefined>,
): Promise<Cluster | undefined> {
  const database = await serverOrSkip(t, 'a test database on the shared PostgreSQL', async () => {
    if (!(await redisAnswers(REDIS_TEST_URL))) throw new Error(`no Redis answers at ${REDIS_TEST_URL}`);
    return createTestDatabase(`cluster-${label}`);
  });
  if (!database) return undefined;
  t.after(() => database.drop());
  const prefix = `codecast-test-${process.pid}-${label}`;
  t.after(() => deleteRedisKeys(REDIS_TEST_URL, prefix).catch(() => undefined));
  const cluster = await Cluster.start({ databaseUrl: database.url, redisUrl: REDIS_TEST_URL, redisPrefix: prefix, env, nodeEnv });
  t.after(() => cluster.stop());
  return cluster;
}

function stopAll(subscribers: readonly ClusterSubscriber[]): void {
  for (const subscriber of subscribers) subscriber.stop();
}

/** Waits until each of `subscribers` has an open connection to a node `where` accepts. */
async function waitConnected(
  cluster: Cluster,
  subscribers: readonly ClusterSubscriber[],
  where: (node: number) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const connected = (s: ClusterSubscriber) => s.current !== undefined && where(s.current.node);
  while (!subscribers.every(connected)) {
    if (Date.now() > deadline) {
      const stuck = subscribers.filter((s) => !connected(s));
      throw new Error(
        `not ${what} within ${timeoutMs} ms:\n  ${stuck.map((s) => `${s.name}: ${s.describeConnections()}`).join('\n  ')}\n${cluster.logTails(10)}`,
      );
    }
    await sleep(50);
  }
}

test('a node SIGKILLed: its subscribers reconnect to the others with their last id and lose nothing', { timeout: 90_000 }, async (t) => {
  const cluster = await startCluster(t, 'kill');
  if (!cluster) return;
  const subscribers = await subscribeEverywhere(cluster, 'kill', LINK_KINDS);
  t.after(() => stopAll(subscribers));
  const victims = subscribers.filter((s) => s.home === 0);
  // Publishes go to the survivors only: one in flight to the victim would have an unknown outcome.
  const publisher = new ClusterPublisher(cluster, 'KILL');
  publisher.startStream({ nodes: () => [1, 2], intervalMs: 50 });
  t.after(() => publisher.stop());

  await publisher.waitForAccepted(20, 10_000, 'before the kill');
  await cluster.node(0).kill();
  const killedAt = Date.now();
  await waitConnected(cluster, victims, (node) => node !== 0, 'reconnected away from node0');
  t.diagnostic(`node0's ${victims.length} subscribers reconnected elsewhere within ${Date.now() - killedAt} ms`);
  await publisher.waitForAccepted(20, 10_000, 'after the kill');
  // TODO(leases): once nodes hold leases, assert here that node0's
  // connections leave every per-user count within CODECAST_NODE_TTL_SECONDS
  // (the stats' deployment part stops listing node0, and a user at its cap
  // on node0 may connect elsewhere). See the todo test below.

  // The node comes back on its port; its subscribers go home and resume there.
  await cluster.node(0).start();
  await cluster.node(0).waitReady();
  for (const victim of victims) victim.moveTo(0);
  await publisher.stop();
  publisher.startStream({ nodes: () => [0, 1, 2], intervalMs: 50 });
  await waitConnected(cluster, victims, (node) => node === 0, 'back on node0 after its restart');
  await publisher.waitForAccepted(20, 10_000, 'after the restart');
  await publisher.stop();

  assert.deepEqual(publisher.unexpected, [], `every publish answered 201\n${cluster.logTails(10)}`);
  assert.ok(
    victims.every((s) => s.connections.filter((c) => c.helloAt !== undefined).length >= 3),
    `node0's subscribers were connected to node0, another node, then node0 again: ${victims.map((s) => `${s.name}: ${s.describeConnections()}`).join('\n')}`,
  );
  assertNeverDisconnected(
    cluster,
    subscribers.filter((s) => s.home !== 0),
    'the survivors',
  );
  await assertDelivered(cluster, subscribers, publisher.acceptedIds, { what: 'after node0 was killed and restarted' });
  t.diagnostic(`${publisher.accepted.length} accepted, ${subscribers.length} subscribers`);
});

test("a SIGKILLed node's connections leave the per-user counts within the lease", {
  todo: 'needs the per-user leases across nodes (issue 11, part 3)',
  timeout: 60_000,
}, async (t) => {
  // Sketch, to be completed with the leases: a user capped at 2 holds both
  // on node0; a third connection on node1 is refused (the cap counts every
  // node); node0 is SIGKILLed; within CODECAST_NODE_TTL_SECONDS (short
  // here) two connections of that user on node1 are accepted.
  const cluster = await startCluster(t, 'lease', { CODECAST_MAX_CONNECTIONS_PER_USER: '2', CODECAST_NODE_TTL_SECONDS: '3' });
  if (!cluster) return;
  const token = await cluster.createUser('lease-user');
  const { openLink } = await import('./support/cluster-links.js');
  const outcome = (node: number) =>
    new Promise<string>((resolve) => {
      const link = openLink('ws', cluster.node(node).url, token, undefined, {
        event: (type) => type === 'hello' && resolve('open'),
        end: (reason) => resolve(reason),
      });
      setTimeout(() => resolve('no answer within 5 s'), 5_000).unref();
      t.after(() => link.close());
    });
  assert.equal(await outcome(0), 'open');
  assert.equal(await outcome(0), 'open');
  assert.notEqual(await outcome(1), 'open', 'a third connection on another node is over the cap');
  await cluster.node(0).kill();
  const deadline = Date.now() + 3_000 + 5_000;
  let opened = 0;
  while (opened < 2 && Date.now() < deadline) {
    if ((await outcome(1)) === 'open') opened++;
    else await sleep(250);
  }
  assert.equal(opened, 2, "node0's connections stopped counting within the lease");
});

test('a node SIGSTOPped for 10 s while the others publish: its subscribers, still connected, get what they missed in order', {
  timeout: 90_000,
}, async (t) => {
  // A history that holds what is published during the freeze (10 s at
  // ~40/s), as one server's must for a client away that long to be
  // replayed rather than reset.
  const cluster = await startCluster(t, 'stop', { CODECAST_HISTORY: '1000' });
  if (!cluster) return;
  const subscribers = await subscribeEverywhere(cluster, 'stop', LINK_KINDS);
  t.after(() => stopAll(subscribers));
  const frozen = subscribers.filter((s) => s.home === 0);
  const publisher = new ClusterPublisher(cluster, 'FREEZE');
  publisher.startStream({ nodes: () => [1, 2], intervalMs: 50 });
  t.after(() => publisher.stop());
  t.after(() => cluster.node(0).thaw());

  await publisher.waitForAccepted(20, 10_000, 'before the freeze');
  cluster.node(0).freeze();
  const frozenAt = Date.now();
  await sleep(10_000);
  cluster.node(0).thaw();
  const thawedAt = Date.now();
  const missed = publisher.accepted.filter((a) => a.at > frozenAt && a.at < thawedAt).map((a) => a.id);
  await publisher.waitForAccepted(20, 10_000, 'after the thaw');
  await publisher.stop();

  assert.deepEqual(publisher.unexpected, [], `every publish answered 201\n${cluster.logTails(10)}`);
  assert.ok(missed.length >= 50, `the others published while node0 was frozen (${missed.length})`);
  for (const subscriber of frozen) {
    const during = subscriber.trail.filter((e) => e.at > frozenAt + 500 && e.at < thawedAt - 500);
    assert.deepEqual(during, [], `${subscriber.name} received nothing while its node was frozen`);
  }
  // Strictly increasing and complete: what was missed came in order, before anything newer.
  await assertDelivered(cluster, subscribers, publisher.acceptedIds, { what: 'after node0 was thawed' });
  assertNeverDisconnected(
    cluster,
    subscribers.filter((s) => s.home !== 0),
    'the nodes that were not frozen',
  );
  // The frozen node's subscribers stayed connected through the freeze. When
  // it thaws it delivers its whole backlog at once; a subscriber that cannot
  // take that many frames at once (Socket.IO over polling drains only at its
  // next poll) may be cut as a slow consumer, the documented policy, and
  // recover by replay — the checks above hold it to every code, in order.
  const cut = frozen.filter((s) => s.connections.length > 1);
  for (const subscriber of cut) {
    const first = subscriber.connections[0]!;
    assert.ok(
      first.endedAt !== undefined && first.endedAt >= thawedAt,
      `${subscriber.name} lost its connection during the freeze: ${subscriber.describeConnections()}`,
    );
  }
  const slowCuts = cluster.node(0).log.match(/"reason":"slow_consumer"/g)?.length ?? 0;
  assert.ok(
    cut.length <= slowCuts,
    `node0's subscribers cut after the thaw (${cut.map((s) => `${s.name}: ${s.describeConnections()}`).join('; ')}) were all slow consumers (${slowCuts} logged)`,
  );
  if (cut.length > 0) t.diagnostic(`cut as slow consumers after the thaw, then recovered by replay: ${cut.map((s) => s.name).join(', ')}`);
  const caughtUp = frozen.map((s) => {
    const last = s.trail.find((e) => e.id === missed.at(-1));
    return `${s.name} +${last ? last.at - thawedAt : '?'} ms`;
  });
  t.diagnostic(
    `${missed.length} codes published during the freeze; the last of them reached node0's subscribers at ${caughtUp.join(', ')} after the thaw`,
  );
});

test('three nodes publishing at once: every subscriber sees the same strictly increasing sequence, exactly the 201 ids', {
  timeout: 90_000,
}, async (t) => {
  const cluster = await startCluster(t, 'concurrent');
  if (!cluster) return;
  const subscribers = await subscribeEverywhere(cluster, 'conc', LINK_KINDS);
  t.after(() => stopAll(subscribers));
  const publisher = new ClusterPublisher(cluster, 'CONC');
  const started = Date.now();
  publisher.startStream({ nodes: () => [0, 1, 2], concurrency: 3, intervalMs: 0, count: 300 });
  t.after(() => publisher.stop());

  // Revokes interleaved with the publishes, through every node in turn, each
  // of a code every subscriber already holds (so none may skip it).
  const revoked: number[] = [];
  const revokeErrors: string[] = [];
  const revoking = (async () => {
    let node = 0;
    while (revoked.length < 10 && publisher.accepted.length < 300) {
      await sleep(100);
      const held = Math.min(...subscribers.map((s) => s.lastId ?? 0));
      const candidate = publisher.accepted.map((a) => a.id).find((id) => id <= held && !revoked.includes(id) && id % 7 === 0);
      if (candidate === undefined) continue;
      revoked.push(candidate);
      const answer = await cluster.api(node++ % 3, 'DELETE', `/api/v1/codes/${candidate}`);
      if (answer.status !== 200) revokeErrors.push(`revoke ${candidate}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  })();
  await publisher.finished();
  await revoking;
  const took = Date.now() - started;

  assert.deepEqual(publisher.unexpected, [], `every publish answered 201\n${cluster.logTails(10)}`);
  assert.equal(publisher.accepted.length, 300);
  assert.deepEqual(revokeErrors, []);
  await assertDelivered(cluster, subscribers, publisher.acceptedIds, { what: '300 publishes over three nodes' });
  assertSameTrail(cluster, subscribers);
  const first = subscribers[0]!;
  const revokesSeen = first.trail.filter((e) => e.type === 'revoke').map((e) => e.id);
  assert.deepEqual(
    [...revokesSeen].sort((a, b) => a - b),
    [...revoked].sort((a, b) => a - b),
    'every revoke reached every subscriber',
  );
  assertNeverDisconnected(cluster, subscribers, 'concurrent publishing');
  t.diagnostic(
    `300 publishes (${revoked.length} revokes) over 3 nodes in ${took} ms; ${subscribers.length} subscribers hold the same sequence`,
  );
});

test('resuming on any node is resuming on one server: replayed within the history, told reset beyond it', {
  timeout: 60_000,
}, async (t) => {
  // Every node delivers every code, so every node's history holds the same
  // newest CODECAST_HISTORY codes: a subscriber resuming on any node gets
  // exactly what one server would give it.
  const cluster = await startCluster(t, 'resume', { CODECAST_HISTORY: '10' });
  if (!cluster) return;
  const publisher = new ClusterPublisher(cluster, 'RESUME');
  publisher.startStream({ nodes: () => [0, 1, 2], intervalMs: 0, count: 40 });
  await publisher.finished();
  assert.deepEqual(publisher.unexpected, []);
  const ids = publisher.acceptedIds;
  const within = ids.at(-8)!;
  const resumed: ClusterSubscriber[] = [];
  for (const [i, kind] of LINK_KINDS.entries()) {
    for (const node of [0, 1, 2]) {
      const name = `resume-${kind}-node${node}`;
      resumed.push(new ClusterSubscriber(name, kind, cluster, (node + i) % 3, await cluster.createUser(name)));
    }
  }
  t.after(() => stopAll(resumed));
  await Promise.all(resumed.map((s) => s.start({ since: within })));
  await assertDelivered(
    cluster,
    resumed,
    ids.filter((id) => id > within),
    { what: `subscribers resuming after id ${within}, within the history of 10`, settleMs: 10_000 },
  );

  // From further back than the history: `reset` first, naming the oldest id held, then the history — on every node alike.
  const first = ids[0]!;
  const held = ids.slice(-10);
  for (const node of [0, 1, 2]) {
    const user = await cluster.createUser(`far-${node}`);
    const response = await fetch(`${cluster.node(node).url}/api/v1/stream?since=${first}`, {
      headers: { authorization: `Bearer ${user}` },
    });
    const reader = response.body!.getReader();
    let text = '';
    const deadline = Date.now() + 10_000;
    while (!text.includes(`id: ${held.at(-1)}\n`) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const reset = /event: reset\ndata: (.*)\n/.exec(text);
    assert.ok(reset, `node${node} says reset first:\n${text}`);
    assert.equal(JSON.parse(reset[1]!).oldestId, held[0], `node${node}: the oldest id held`);
    const replayed = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(replayed, held, `node${node} replays the history, in order`);
  }
});

test('a node that lags behind replays from the deployment, not from what it happened to deliver', { timeout: 60_000 }, async (t) => {
  // Node 2 reaches Redis through a proxy that can stop carrying bytes: cut
  // off, it still serves clients, and delivers nothing new.
  const redis = new URL(REDIS_TEST_URL);
  const proxy = await FreezingProxy.start({ host: redis.hostname, port: Number(redis.port || 6379) });
  t.after(() => proxy.close());
  const cluster = await startCluster(t, 'lag', { CODECAST_HISTORY: '1000' }, (node) => (node === 2 ? { REDIS_URL: proxy.url() } : {}));
  if (!cluster) return;
  proxy.freeze();
  const publisher = new ClusterPublisher(cluster, 'LAG');
  publisher.startStream({ nodes: () => [0], intervalMs: 0, count: 30 });
  await publisher.finished();
  assert.deepEqual(publisher.unexpected, []);
  const ids = publisher.acceptedIds;
  // Subscribers that saw them all on node 0 move to node 2 at once (before
  // its 2-second look for missed codes could have found them).
  const movers: ClusterSubscriber[] = [];
  for (const kind of LINK_KINDS)
    movers.push(new ClusterSubscriber(`lag-${kind}`, kind, cluster, 2, await cluster.createUser(`lag-${kind}`)));
  t.after(() => stopAll(movers));
  await Promise.all(movers.map((s) => s.start({ since: ids.at(-5)! }))).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.node(2).logTail(60)}`);
  });
  proxy.thaw();
  const more = new ClusterPublisher(cluster, 'LAG-AFTER');
  for (let i = 0; i < 5; i++) await more.publish(1);
  assert.deepEqual(more.unexpected, []);
  await assertDelivered(cluster, movers, [...ids.slice(-4), ...more.acceptedIds], {
    what: 'subscribers resuming on a node that had not delivered what they saw',
    settleMs: 10_000,
  });
});
