// The Redis connection every cluster part uses, against a real Redis
// behind a proxy that can stop carrying bytes: a command to a server that
// went silent fails at its deadline (node-redis alone would wait for ever
// once the command is written), and the connection serves again after.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openRedisLink } from '../src/broker/redis-link.js';
import { FreezingProxy } from './support/freezing-proxy.js';
import { REDIS_TEST_URL } from './support/redis.js';

test('a command to a Redis that went silent fails at its deadline; the link serves again once it answers', {
  timeout: 15_000,
}, async () => {
  const redis = new URL(REDIS_TEST_URL);
  const proxy = await FreezingProxy.start({ host: redis.hostname, port: Number(redis.port || 6379) });
  const link = await openRedisLink(proxy.url(), 'codecast-link-test', { error: () => undefined, ready: () => undefined }, 5_000);
  try {
    assert.equal(await link.command<string>(['PING'], 1_000), 'PONG');
    proxy.freeze();
    const started = Date.now();
    await assert.rejects(link.command(['PING'], 300), /did not answer PING within 300 ms/);
    assert.ok(Date.now() - started < 3_000, 'failed at its deadline, not later');
    proxy.thaw();
    // The late PONG is read and dropped in order; the next command gets its own answer.
    assert.equal(await link.command<string>(['ECHO', 'after'], 1_000), 'after');
  } finally {
    link.close();
    await proxy.close();
  }
});
