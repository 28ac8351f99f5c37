// Connection liveness and access enforcement on the SSE stream (issue 2,
// points 4 and 6): slow consumers, the stale sweep, HTTP pong, and closing
// the streams of a disabled user or a revoked token — through the API and
// through a change written straight to the database.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { UserAdmin } from '../src/users/index.js';
import { filler, RawSseClient } from './support/liveness-helpers.js';
import { startTestServer, type TestServer } from './support/server.js';
import { openEventSource, SseReader, waitFor } from './support/sse.js';

const MAX_PUBLISHES = 5000;

describe('slow consumer', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      CODECAST_CONNECTION_QUEUE: '5',
      CODECAST_DEDUP_SECONDS: '0',
      CODECAST_HISTORY: '10000',
    });
  });
  after(async () => {
    await t.stop();
  });

  test('a client that stops reading is closed, counted, and recovers everything by Last-Event-ID', async () => {
    const { token } = await t.createUser('slowpoke');
    const slow = await RawSseClient.open(t.url, token);
    const fast = await SseReader.open(t.url, { token: t.adminToken });
    try {
      await waitFor(() => slow.frames().some((f) => f.event === 'hello'), 'hello on the raw client');
      assert.equal(slow.status(), 200);
      await fast.waitForEvent('hello');
      // From here on the raw client takes nothing more from the kernel.
      slow.pause();

      const published: number[] = [];
      while (t.server.hub.stats().closes.slow_consumer === 0) {
        assert.ok(published.length < MAX_PUBLISHES, `no slow-consumer close after ${MAX_PUBLISHES} publishes`);
        const i = published.length;
        published.push((await t.publish(`SLOW-${i}`, { message: filler(i) })).id);
      }
      const stats = await t.api('GET', '/api/v1/stats');
      assert.equal(stats.status, 200);
      assert.equal(stats.body.closes.slow_consumer, 1);
      assert.equal(stats.body.slowConsumerCloses, 1);
      // Only the client that stopped reading was closed; the reading one is still there.
      assert.equal(stats.body.connections.total, 1);
      assert.equal(fast.ended, false);
      await waitFor(() => fast.codeIds().length === published.length, 'the reading client to get every code', 15_000);
      assert.deepEqual(fast.codeIds(), published);

      // Read what the kernel still held for the slow client, up to the close.
      slow.resume();
      await slow.waitForClose();
      const before = slow.frames().filter((f) => f.event === 'code').map((f) => Number(f.id));
      assert.ok(before.length < published.length, 'the slow client cannot have received everything before its close');
      assert.deepEqual(before, published.slice(0, before.length), 'what the slow client got is a prefix, in order');
      const lastSeen = before.at(-1) ?? 0;

      // Reconnecting with the last id it saw brings the rest, once each, in order.
      const again = await SseReader.open(t.url, { token, lastEventId: lastSeen });
      try {
        assert.equal(again.status, 200);
        const missing = published.length - before.length;
        await again.waitForEvent('code', missing, 15_000);
        assert.equal(again.of('reset').length, 0);
        assert.deepEqual([...before, ...again.codeIds()], published);
        // And it is live again afterwards.
        const live = await t.publish('SLOW-LIVE', { message: 'after recovery' });
        await again.waitForEvent('code', missing + 1);
        assert.equal(again.codeIds().at(-1), live.id);
      } finally {
        again.close();
      }

      // `since=0` on a fresh connection replays the whole of it as well.
      const fromStart = await SseReader.open(t.url, { token, since: 0 });
      try {
        await fromStart.waitForEvent('code', published.length + 1, 15_000);
        assert.deepEqual(fromStart.codeIds().slice(0, published.length), published);
      } finally {
        fromStart.close();
      }
    } finally {
      slow.destroy();
      fast.close();
    }
  });
});
