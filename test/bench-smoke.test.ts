// A small run of the benchmark harness (bench/): codecast built in dist/ as a
// separate process with subscribers of all three transports, and each bare
// broadcaster, a few codes each. It asserts only that every code reached
// every subscriber — the harness measures, the suite does not judge timings.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { createClient } from '@redis/client';
import { POSTGRES_TEST_URL } from './support/postgres.js';
import { BENCH_REDIS_URL, startCluster } from '../bench/cluster.js';
import { runBurst, runSustained, type BurstOptions, type BurstResult } from '../bench/harness.js';
import type { Transport } from '../bench/protocol.js';
import { REPO, startBare, startCodecast, type Target } from '../bench/targets.js';

const shape = { codes: 3, warmup: 0, intervalMs: 20, settleMs: 0, perProcess: 150, concurrency: 32 } as const;

async function run(target: Target, options: Omit<BurstOptions, keyof typeof shape>): Promise<{ result: BurstResult; log: string[] }> {
  const log: string[] = [];
  try {
    const result = await runBurst(target, { ...shape, ...options }, (line) => log.push(line));
    return { result, log };
  } finally {
    await target.stop();
  }
}

function assertEveryCodeEverywhere(result: BurstResult, subscribers: number, log: readonly string[]): void {
  const context = `\n${log.join('\n')}`;
  assert.equal(result.connect.failed, 0, `connect failures ${JSON.stringify(result.connect.errors)}${context}`);
  assert.equal(result.connect.connected, subscribers, context);
  assert.equal(result.codes.length, shape.codes);
  for (const code of result.codes) {
    assert.ok(code.status === 200 || code.status === 201, `publish of BENCH-${code.k} answered ${code.status}${context}`);
    assert.equal(code.delivered, subscribers, `BENCH-${code.k} reached ${code.delivered} of ${subscribers}${context}`);
    if (code.byTransport) {
      for (const [transport, figures] of Object.entries(code.byTransport)) {
        assert.equal(figures.delivered, subscribers / 3, `BENCH-${code.k} over ${transport}${context}`);
      }
    }
  }
  assert.equal(result.summary.allDelivered, true, context);
}

describe('benchmark harness, small run', () => {
  test('codecast (dist) delivers every code to 300 subscribers across SSE, WebSocket and Socket.IO', async () => {
    assert.ok(existsSync(join(REPO, 'dist', 'cli', 'main.js')), 'dist/ is missing: build first (npm test does)');
    const target = await startCodecast({ maxConnections: 400, perUser: 50 });
    const { result, log } = await run(target, { transport: 'mixed', subscribers: 300 });
    assertEveryCodeEverywhere(result, 300, log);
    assert.ok(result.serverStats, 'codecast answers its stats');
  });

  test('codecast on PostgreSQL (--store postgres) delivers every code to 60 subscribers, and its database is dropped', async () => {
    const target = await startCodecast({ maxConnections: 100, perUser: 50, store: 'postgres' });
    assert.equal(target.name, 'codecast-pg');
    const { result, log } = await run(target, { transport: 'mixed', subscribers: 60 });
    assertEveryCodeEverywhere(result, 60, log);
    const left = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await left.connect();
    try {
      const { rows } = await left.query('select datname from pg_database where datname like $1', [`codecast_bench_${process.pid}_%`]);
      assert.deepEqual(rows, [], 'the run dropped its database');
    } finally {
      await left.end();
    }
  });

  test('--nodes 2: both nodes deliver every code to their 30 subscribers, and the run leaves no database or Redis key behind', async () => {
    const target = await startCluster({ nodes: 2, maxConnections: 100, perUser: 50, redis: true });
    assert.equal(target.name, 'codecast-2-nodes');
    const { result, log } = await run(target, { transport: 'mixed', subscribers: 60 });
    assertEveryCodeEverywhere(result, 60, log);
    assert.equal(result.nodes, 2);
    for (const code of result.codes) {
      assert.equal(code.byNode?.publishing.delivered, 30, `BENCH-${code.k} on node 0`);
      assert.equal(code.byNode?.others.delivered, 30, `BENCH-${code.k} on node 1`);
    }
    const perNode = (result.serverStats?.nodes as { connections?: { total?: number } }[] | undefined)?.map((n) => n.connections?.total);
    assert.deepEqual(perNode, [30, 30], 'subscribers spread evenly');
    const left = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await left.connect();
    const redis = createClient({ url: BENCH_REDIS_URL });
    await redis.connect();
    try {
      const { rows } = await left.query('select datname from pg_database where datname like $1', [`codecast_bench_${process.pid}_%`]);
      assert.deepEqual(rows, [], 'the run dropped its database');
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = (await redis.sendCommand(['SCAN', cursor, 'MATCH', `${target.redisPrefix}*`, 'COUNT', '1000'])) as [
          string,
          string[],
        ];
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      assert.deepEqual(keys, [], 'the run deleted its Redis keys');
    } finally {
      await left.end();
      await redis.quit();
    }
  });

  test('sustained mode: every code of the warm-up and of the measured seconds reaches every subscriber', async () => {
    const target = await startCodecast({ maxConnections: 100, perUser: 50 });
    const log: string[] = [];
    try {
      const result = await runSustained(
        target,
        {
          transport: 'mixed',
          subscribers: 60,
          perProcess: 60,
          concurrency: 32,
          rate: 20,
          seconds: 2,
          warmupSeconds: 1,
          intervalSeconds: 1,
          drainMs: 500,
        },
        (line) => log.push(line),
      );
      const context = `\n${log.join('\n')}`;
      assert.equal(result.connect.connected, 60, context);
      assert.equal(result.published, 60, `20 codes/s for 1 s of warm-up and 2 s measured${context}`);
      assert.equal(result.lost, 0, context);
      assert.equal(result.lostInWarmup, 0, context);
      assert.equal(
        result.intervals.reduce((n, i) => n + i.codes, 0),
        40,
        `only the measured seconds' codes are in the intervals${context}`,
      );
      assert.equal(result.slowConsumerCloses, 0, context);
    } finally {
      await target.stop();
    }
  });

  for (const transport of ['sse', 'ws', 'socketio'] as const satisfies readonly Transport[]) {
    test(`the bare ${transport} broadcaster delivers every code to 60 subscribers`, async () => {
      const target = await startBare(transport);
      const { result, log } = await run(target, { transport, subscribers: 60 });
      assertEveryCodeEverywhere(result, 60, log);
    });
  }
});
