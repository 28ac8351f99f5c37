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
const BATCH = 10;

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

  test('a client that stops reading is closed, counted, and recovers everything by Last-Event-ID', async (ctx) => {
    const { token } = await t.createUser('slowpoke');
    const slow = await RawSseClient.open(t.url, token);
    const fast = await SseReader.open(t.url, { token: t.adminToken });
    try {
      await waitFor(() => slow.frames().some((f) => f.event === 'hello'), 'hello on the raw client');
      assert.equal(slow.status(), 200);
      await fast.waitForEvent('hello');
      // From here on the raw client takes nothing more from the kernel.
      slow.pause();

      // Publishes go in small concurrent batches (the server still runs them
      // one at a time, in id order); the loop stops once the close is counted.
      const published: number[] = [];
      while (t.server.hub.stats().closes.slow_consumer === 0) {
        assert.ok(published.length < MAX_PUBLISHES, `no slow-consumer close after ${MAX_PUBLISHES} publishes`);
        const first = published.length;
        const batch = Array.from({ length: BATCH }, (_, k) => t.publish(`SLOW-${first + k}`, { message: filler(first + k) }));
        for (const { id } of await Promise.all(batch)) published.push(id);
      }
      published.sort((a, b) => a - b);
      ctx.diagnostic(`closed as a slow consumer after ${published.length} publishes`);
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
      const gotFirst = slow
        .frames()
        .filter((f) => f.event === 'code')
        .map((f) => Number(f.id));
      assert.ok(gotFirst.length < published.length, 'the slow client cannot have received everything before its close');
      assert.deepEqual(gotFirst, published.slice(0, gotFirst.length), 'what the slow client got is a prefix, in order');
      const lastSeen = gotFirst.at(-1) ?? 0;

      // Reconnecting with the last id it saw brings the rest, once each, in order.
      let live: { id: number };
      const again = await SseReader.open(t.url, { token, lastEventId: lastSeen });
      try {
        assert.equal(again.status, 200);
        const missing = published.length - gotFirst.length;
        await again.waitForEvent('code', missing, 15_000);
        assert.equal(again.of('reset').length, 0);
        assert.deepEqual([...gotFirst, ...again.codeIds()], published);
        // And it is live again afterwards.
        live = await t.publish('SLOW-LIVE', { message: 'after recovery' });
        await again.waitForEvent('code', missing + 1);
        assert.equal(again.codeIds().at(-1), live.id);
      } finally {
        again.close();
      }

      // `since=0` replays all of it: megabytes, far more than the socket
      // buffers hold, and a live code comes while that is still being sent.
      // The queue bound is for live traffic, not for catching up: the
      // client is not closed and gets every code once, in order.
      const fromStart = await SseReader.open(t.url, { token, since: 0 });
      try {
        const during = await t.publish('SLOW-DURING-REPLAY', { message: filler(-1) });
        await waitFor(
          () => fromStart.codeIds().length >= published.length + 2 || fromStart.ended,
          'the full replay and the live code',
          15_000,
        );
        assert.equal(fromStart.ended, false, 'a client catching up by replay is not a slow consumer');
        assert.deepEqual(fromStart.codeIds(), [...published, live.id, during.id]);
        assert.equal((await t.api('GET', '/api/v1/stats')).body.closes.slow_consumer, 1);
      } finally {
        fromStart.close();
      }
    } finally {
      slow.destroy();
      fast.close();
    }
  });
});

describe('stale sweep', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      CODECAST_SWEEP_SECONDS: '1',
      CODECAST_STALE_SECONDS: '2',
      CODECAST_HEARTBEAT_SECONDS: '1',
      CODECAST_PONG_INTERVAL_SECONDS: '0',
    });
  });
  after(async () => {
    await t.stop();
  });

  test('a client that ponged and stopped is closed as stale; a reader that never pongs and a steady ponger stay', async () => {
    const { token } = await t.createUser('lively');
    const pong = (reader: SseReader) => t.api('POST', `/api/v1/stream/${reader.connectionId}/pong`, { token });
    const quitter = await SseReader.open(t.url, { token });
    const silent = await SseReader.open(t.url, { token });
    const steady = await SseReader.open(t.url, { token });
    const steadyAnswers: number[] = [];
    const inFlight = new Set<Promise<unknown>>();
    let ticker: NodeJS.Timeout | undefined;
    try {
      await Promise.all([quitter.waitForEvent('hello'), silent.waitForEvent('hello'), steady.waitForEvent('hello')]);
      assert.equal((await pong(quitter)).status, 204);
      assert.equal((await pong(steady)).status, 204);
      ticker = setInterval(() => {
        // A pong that failed outright counts as an answer that is not 204.
        const pinging = pong(steady).then(
          (res) => steadyAnswers.push(res.status),
          () => steadyAnswers.push(-1),
        );
        inFlight.add(pinging);
        void pinging.finally(() => inFlight.delete(pinging));
      }, 400);

      await quitter.waitForEnd(8000);
      const stoppedAt = silent.of('ping').length;
      // Two more heartbeats on the others: two more sweeps ran after the close.
      await silent.waitForEvent('ping', stoppedAt + 2, 5000);
      assert.equal(silent.ended, false, 'a reader that never pongs is never stale');
      assert.equal(steady.ended, false, 'a client that keeps ponging is not stale');
      assert.ok(steadyAnswers.length > 0);
      assert.ok(
        steadyAnswers.every((status) => status === 204),
        `steady pongs answered ${steadyAnswers.join(',')}`,
      );

      const stats = await t.api('GET', '/api/v1/stats');
      assert.equal(stats.body.closes.stale, 1);
      assert.equal(stats.body.staleCloses, 1);
      assert.equal(stats.body.connections.total, 2);
      // Both survivors still get live codes.
      const { id } = await t.publish('STILL-HERE');
      await Promise.all([silent.waitForEvent('code'), steady.waitForEvent('code')]);
      assert.deepEqual(silent.codeIds(), [id]);
      assert.deepEqual(steady.codeIds(), [id]);
      // The stale connection is gone: pong on it finds nothing.
      const late = await pong(quitter);
      assert.equal(late.status, 404);
      assert.equal(late.body.error, 'connection_not_found');
    } finally {
      clearInterval(ticker);
      // A pong still on its way must land before the test ends (and the server stops).
      await Promise.allSettled([...inFlight]);
      quitter.close();
      silent.close();
      steady.close();
    }
  });
});

describe('access enforcement through the API', () => {
  let t: TestServer;
  before(async () => {
    // A poll this slow never runs during the test: whatever closes, the API closed it.
    t = await startTestServer({ CODECAST_AUTH_POLL_MS: '600000', CODECAST_SSE_RETRY_MS: '100' });
  });
  after(async () => {
    await t.stop();
  });

  const closes = async (): Promise<{ user_disabled: number; token_revoked: number }> => (await t.api('GET', '/api/v1/stats')).body.closes;

  test('pong: 204, then 429 with Retry-After within the interval; 404 for another user or an unknown id; 401 without a token', async () => {
    const pat = await t.createUser('pat');
    const reader = await SseReader.open(t.url, { token: pat.token });
    try {
      await reader.waitForEvent('hello');
      const path = `/api/v1/stream/${reader.connectionId}/pong`;

      const first = await t.api('POST', path, { token: pat.token });
      assert.equal(first.status, 204);
      assert.equal(first.body, undefined);

      const second = await t.api('POST', path, { token: pat.token });
      assert.equal(second.status, 429);
      assert.equal(second.body.error, 'pong_too_frequent');
      const retryAfter = Number(second.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 10, `Retry-After ${retryAfter}`);

      const otherUser = await t.api('POST', path, { token: t.adminToken });
      assert.equal(otherUser.status, 404);
      assert.equal(otherUser.body.error, 'connection_not_found');

      const unknown = await t.api('POST', `/api/v1/stream/${randomUUID()}/pong`, { token: pat.token });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error, 'connection_not_found');

      const anonymous = await t.api('POST', path, { token: null });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.error, 'unauthorized');
      // `?token=` is for GET /stream only.
      const inQuery = await t.api('POST', `${path}?token=${encodeURIComponent(pat.token)}`, { token: null });
      assert.equal(inQuery.status, 401);

      assert.equal(reader.ended, false, 'refused pongs leave the stream alone');
      const sseOpen = () => (t.server.stats() as any).connections.byTransport.sse as number;
      const openBefore = sseOpen();
      reader.close();
      await waitFor(() => sseOpen() === openBefore - 1, 'the hub to drop the closed stream');
      const afterClose = await t.api('POST', path, { token: pat.token });
      assert.equal(afterClose.status, 404);
      assert.equal(afterClose.body.error, 'connection_not_found');
    } finally {
      reader.close();
    }
  });

  test('disabling a user closes all its streams at once, others stay; it then gets 403 until enabled again', async () => {
    const alice = await t.createUser('alice');
    const bob = await t.createUser('bob');
    const closesBefore = await closes();
    const tab1 = await SseReader.open(t.url, { token: alice.token });
    const tab2 = await SseReader.open(t.url, { token: alice.token });
    const browser = openEventSource(t.url, alice.token);
    const bobs = await SseReader.open(t.url, { token: bob.token });
    let back: SseReader | undefined;
    try {
      await Promise.all([tab1.waitForEvent('hello'), tab2.waitForEvent('hello'), bobs.waitForEvent('hello')]);
      await waitFor(() => browser.events.some((e) => e.event === 'hello'), 'hello on the EventSource tab');
      assert.equal(t.server.hub.stats().connections, 4);

      const disabled = await t.api('PATCH', '/api/v1/users/alice', { body: { disabled: true } });
      assert.equal(disabled.status, 200);
      assert.equal(disabled.body.user.disabled, true);
      // Closed before the answer came back, not by some later sweep.
      assert.equal(t.server.hub.stats().connections, 1);
      const closesAfter = await closes();
      assert.equal(closesAfter.user_disabled - closesBefore.user_disabled, 3);

      await Promise.all([tab1.waitForEnd(), tab2.waitForEnd()]);
      // The EventSource reconnects by itself, gets 403 and gives up for good.
      await waitFor(() => browser.source.readyState === browser.source.CLOSED, 'the EventSource to give up');

      assert.equal(bobs.ended, false);
      const { id } = await t.publish('FOR-BOB');
      await bobs.waitForEvent('code');
      assert.deepEqual(bobs.codeIds(), [id]);

      const refused = await SseReader.open(t.url, { token: alice.token });
      assert.equal(refused.status, 403);
      assert.equal(refused.of('http-error')[0]?.data.error, 'user_disabled');
      const codes = await t.api('GET', '/api/v1/codes', { token: alice.token });
      assert.equal(codes.status, 403);
      assert.equal(codes.body.error, 'user_disabled');

      const enabled = await t.api('PATCH', '/api/v1/users/alice', { body: { disabled: false } });
      assert.equal(enabled.status, 200);
      assert.equal(enabled.body.user.disabled, false);
      back = await SseReader.open(t.url, { token: alice.token });
      assert.equal(back.status, 200);
      await back.waitForEvent('hello');
      assert.equal((await t.api('GET', '/api/v1/codes', { token: alice.token })).status, 200);
    } finally {
      tab1.close();
      tab2.close();
      browser.source.close();
      bobs.close();
      back?.close();
    }
  });

  test('revoking a token closes only the streams opened with it; the revoked token then gets 401', async () => {
    const carol = await t.createUser('carol');
    const issued = await t.api('POST', '/api/v1/users/carol/tokens', { body: { label: 'second' } });
    assert.equal(issued.status, 201);
    const second = { token: issued.body.token.token as string, id: issued.body.token.id as number };
    const closesBefore = await closes();
    const viaHeader = await SseReader.open(t.url, { token: carol.token });
    const viaQuery = await SseReader.open(t.url, { query: `token=${encodeURIComponent(carol.token)}` });
    const other = await SseReader.open(t.url, { token: second.token });
    try {
      await Promise.all([viaHeader.waitForEvent('hello'), viaQuery.waitForEvent('hello'), other.waitForEvent('hello')]);

      const sseOpen = () => (t.server.stats() as any).connections.byTransport.sse as number;
      const openBefore = sseOpen();
      const revoked = await t.api('DELETE', `/api/v1/tokens/${carol.tokenId}`);
      assert.equal(revoked.status, 200);
      assert.deepEqual(revoked.body, { id: carol.tokenId, revoked: true });
      // Gone from the hub by the time the DELETE answers: the two of that token, not the other.
      assert.equal(sseOpen(), openBefore - 2);
      assert.equal((await t.api('POST', `/api/v1/stream/${viaHeader.connectionId}/pong`, { token: second.token })).status, 404);
      assert.equal(other.ended, false);
      const closesAfter = await closes();
      assert.equal(closesAfter.token_revoked - closesBefore.token_revoked, 2);
      await Promise.all([viaHeader.waitForEnd(), viaQuery.waitForEnd()]);

      const { id } = await t.publish('FOR-SECOND-TOKEN');
      await other.waitForEvent('code');
      assert.deepEqual(other.codeIds(), [id]);
      assert.equal(other.ended, false);

      const refused = await SseReader.open(t.url, { token: carol.token });
      assert.equal(refused.status, 401);
      assert.equal(refused.of('http-error')[0]?.data.error, 'unauthorized');
      assert.equal((await t.api('GET', '/api/v1/codes', { token: carol.token })).status, 401);
      const me = await t.api('GET', '/api/v1/me', { token: second.token });
      assert.equal(me.status, 200);
      assert.equal(me.body.tokenId, second.id);
    } finally {
      viaHeader.close();
      viaQuery.close();
      other.close();
    }
  });
});

describe('access changes written straight to the database (as the CLI does)', () => {
  let t: TestServer;
  let cli: UserAdmin;
  before(async () => {
    t = await startTestServer({ CODECAST_AUTH_POLL_MS: '100' });
    // No cache and no enforcer: like the CLI, it only writes rows (with their auth event).
    cli = new UserAdmin(t.server.store, undefined, undefined);
  });
  after(async () => {
    await t.stop();
  });

  async function statusBecomes(token: string, status: number): Promise<void> {
    const deadline = Date.now() + 5000;
    let last = 0;
    while (Date.now() < deadline) {
      last = (await t.api('GET', '/api/v1/codes', { token })).status;
      if (last === status) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`GET /codes kept answering ${last}, not ${status}`);
  }

  test('disabling a user in the database closes its open stream by the poll, and the cache forgets it', async () => {
    const dave = await t.createUser('dave');
    const stream = await SseReader.open(t.url, { token: dave.token });
    try {
      await stream.waitForEvent('hello');
      // Dave is in the server's cache now, as enabled.
      assert.equal((await t.api('GET', '/api/v1/codes', { token: dave.token })).status, 200);

      await cli.update('dave', { disabled: true }, null);
      await stream.waitForEnd(3000);
      const stats = await t.api('GET', '/api/v1/stats');
      assert.equal(stats.body.closes.user_disabled, 1);
      assert.equal(stats.body.connections.total, 0);
      const codes = await t.api('GET', '/api/v1/codes', { token: dave.token });
      assert.equal(codes.status, 403);
      assert.equal(codes.body.error, 'user_disabled');

      await cli.update('dave', { disabled: false }, null);
      await statusBecomes(dave.token, 200);
      const back = await SseReader.open(t.url, { token: dave.token });
      assert.equal(back.status, 200);
      back.close();
    } finally {
      stream.close();
    }
  });

  test("revoking a token in the database closes its streams by the poll, not the other token's", async () => {
    const erin = await t.createUser('erin');
    const second = await cli.createToken('erin', 'second', null);
    const first = await SseReader.open(t.url, { token: erin.token });
    const other = await SseReader.open(t.url, { token: second.token });
    try {
      await Promise.all([first.waitForEvent('hello'), other.waitForEvent('hello')]);
      assert.equal((await t.api('GET', '/api/v1/me', { token: erin.token })).status, 200);

      await cli.revokeToken(erin.tokenId, null);
      await first.waitForEnd(3000);
      assert.equal((await t.api('GET', '/api/v1/stats')).body.closes.token_revoked, 1);
      assert.equal((await t.api('GET', '/api/v1/me', { token: erin.token })).status, 401);
      assert.equal(other.ended, false);
      assert.equal((await t.api('GET', '/api/v1/me', { token: second.token })).status, 200);
    } finally {
      first.close();
      other.close();
    }
  });
});
