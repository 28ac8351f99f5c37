// The client library (`codecast/client`, its Node entry) against a real
// server, over SSE and over WebSocket: what an application built on it
// sees through drops, revokes, resets, refusals, shutdowns and a frozen
// network, and that close() leaves nothing running. The server killed and
// restarted mid-stream is in client-restart.test.ts; the browser build in
// web-client-library.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fetchHistory } from '../src/client/node.js';
import { FreezingProxy } from './support/freezing-proxy.js';
import { LIBRARY_TRANSPORTS, recordSubscription, type RecordedSubscription } from './support/library-clients.js';
import { SseReader, waitFor } from './support/sse.js';
import { startTestServer, type TestServer } from './support/server.js';

const FAST = {
  // A silent connection is noticed within 2 heartbeats + 2 s.
  CODECAST_HEARTBEAT_SECONDS: '1',
  CODECAST_SSE_RETRY_MS: '100',
  CODECAST_SHUTDOWN_RECONNECT_MS: '600',
  // Short, so that a resume from further back ends in a reset.
  CODECAST_HISTORY: '5',
};
/** WebSocket has no `retry:` hint: the library's own first delay. */
const RECONNECT = { initialMs: 100, maxMs: 2000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const transport of LIBRARY_TRANSPORTS) {
  describe(`the client library over ${transport}`, () => {
    let t: TestServer;
    const open: RecordedSubscription[] = [];
    let n = 0;

    /** A new user and a subscription of it; closed after the suite. */
    async function subscriber(options: { since?: number } = {}): Promise<RecordedSubscription & { userId: number; token: string }> {
      const user = await t.createUser(`${transport}-${++n}`);
      const recorded = recordSubscription({ url: t.url, token: user.token, transport, reconnect: RECONNECT, ...options });
      open.push(recorded);
      return Object.assign(recorded, { userId: user.id, token: user.token });
    }

    before(async () => {
      t = await startTestServer(FAST);
    });
    after(async () => {
      await Promise.all(open.map((s) => s.close()));
      await t?.stop();
    });

    test('connects, says connecting then live, and hands over live codes in order', async () => {
      const s = await subscriber();
      await s.waitForState('live');
      assert.deepEqual(s.stateNames(), ['connecting', 'live']);
      assert.equal(s.hellos.length, 1);
      assert.equal(s.subscription.lastId, s.hellos[0]!.lastId, 'resumes from the newest code at hello even before one arrives');
      const ids = [];
      for (const code of ['LIVE-1', 'LIVE-2', 'LIVE-3']) ids.push((await t.publish(code, { value: 2 })).id);
      await s.waitForCodes(3);
      assert.deepEqual(s.codeIds(), ids);
      assert.deepEqual(s.replayed, []);
      assert.equal(s.codes[0]!.code, 'LIVE-1');
      assert.equal(s.codes[0]!.value, 2);
      assert.equal(s.subscription.lastId, ids[2]);
      assert.equal(s.subscription.transport, transport);
    });

    test('`since` replays the later codes (marked replayed) through catching-up, then goes live', async () => {
      const ids = [];
      for (const code of ['SINCE-1', 'SINCE-2', 'SINCE-3']) ids.push((await t.publish(code)).id);
      const s = await subscriber({ since: ids[0] });
      await s.waitForCodes(2);
      await s.waitForState('live');
      assert.deepEqual(s.codeIds(), ids.slice(1));
      assert.deepEqual(s.replayed, ids.slice(1));
      assert.deepEqual(s.stateNames(), ['connecting', 'catching-up', 'live']);
      assert.equal(s.states[1]!.detail.missed, ids[2]! - ids[0]!);
      const live = await t.publish('SINCE-LIVE');
      await s.waitForCodes(3);
      assert.deepEqual(s.codeIds(), [...ids.slice(1), live.id]);
      assert.deepEqual(s.replayed, ids.slice(1), 'a live code is not marked replayed');
    });

    test('cut by the server again and again while codes are published: resumes each time, every code once, in order', async () => {
      const s = await subscriber();
      await s.waitForState('live');
      const ids: number[] = [];
      for (let round = 1; round <= 3; round++) {
        assert.equal(t.server.hub.closeUser(s.userId, 'stale'), 1, 'one connection cut');
        for (const code of [`CUT-${round}-A`, `CUT-${round}-B`]) ids.push((await t.publish(code)).id);
        await s.waitForState('live', round + 1);
      }
      ids.push((await t.publish('CUT-AFTER')).id);
      await s.waitForCodes(ids.length);
      await sleep(200);
      assert.deepEqual(s.codeIds(), ids, 'every code once, in order');
      assert.equal(s.hellos.length, 4);
      const reconnects = s.states.filter((x) => x.state === 'reconnecting' && x.detail.retryInMs !== undefined);
      assert.equal(reconnects.length, 3, s.stateNames().join(' → '));
      for (const wait of reconnects) {
        assert.ok(wait.detail.error, 'a wait says why');
        // Half to all of the 100 ms hint would be less than any wait may be.
        assert.equal(wait.detail.retryInMs, 250, 'the first retry waits the least a wait may be');
      }
      if (transport === 'websocket') assert.equal(s.errors[0]!.code, 'stale', 'the close reason names the cause');
    });

    test('a revoke comes live; one made while away comes on resume, before the replay', async () => {
      const s = await subscriber();
      await s.waitForState('live');
      const a = await t.publish('REVOKE-A');
      const b = await t.publish('REVOKE-B');
      await s.waitForCodes(2);
      assert.equal((await t.api('DELETE', `/api/v1/codes/${a.id}`)).status, 200);
      await waitFor(() => s.revokes.length === 1, 'the live revoke');
      assert.deepEqual(s.revokes, [a.id]);
      await s.close();
      // Away: B is revoked and C published; the application resumes from its last id.
      assert.equal((await t.api('DELETE', `/api/v1/codes/${b.id}`)).status, 200);
      const c = await t.publish('REVOKE-C');
      const order: string[] = [];
      const resumed = recordSubscription({
        url: t.url,
        token: s.token,
        transport,
        since: s.subscription.lastId,
        onRevoke: (id) => order.push(`revoke ${id}`),
        onCode: (code) => order.push(`code ${code.id}`),
      });
      open.push(resumed);
      await resumed.waitForCodes(1);
      // A's revoke came after B, the last code this client saw, was published:
      // the server cannot know it was seen, so it is sent again (revokes are idempotent).
      assert.deepEqual(order, [`revoke ${a.id}`, `revoke ${b.id}`, `code ${c.id}`]);
      assert.deepEqual(resumed.replayed, [c.id]);
    });

    test('asked from beyond the history: onReset with the oldest id, and history() fills in what the replay cannot', async () => {
      const first = await t.publish('OLD-0');
      const ids = [];
      for (let i = 1; i <= 7; i++) ids.push((await t.publish(`OLD-${i}`)).id);
      const s = await subscriber({ since: first.id });
      await s.waitForState('live');
      assert.equal(s.resets.length, 1);
      const { reset, seenId } = s.resets[0]!;
      assert.equal(seenId, first.id);
      assert.equal(reset.lastId, ids.at(-1));
      assert.ok(reset.oldestId! > first.id + 1, `history no longer reaches past ${first.id}: oldest ${reset.oldestId}`);
      // The replay brings what history holds; the application reads the rest.
      assert.deepEqual(
        s.codeIds(),
        ids.filter((id) => id >= reset.oldestId!),
      );
      const filled = await s.subscription.history({ since: seenId, before: reset.oldestId });
      assert.deepEqual(
        filled.map((c) => c.id),
        ids.filter((id) => id < reset.oldestId!),
      );
      const listed = (await t.api('GET', `/api/v1/codes?since=${first.id}&limit=1000`, { token: s.token })).body.codes;
      assert.deepEqual(await s.subscription.history({ since: first.id }), listed, 'history() reads what the API lists');
    });

    test('a server that lost codes the client saw (restarted on an older database): reset, and its next ids are new codes', async () => {
      const newest = t.server.hub.lastId;
      const s = await subscriber({ since: newest + 50 });
      await s.waitForState('live');
      assert.equal(s.resets.length, 1);
      assert.equal(s.resets[0]!.seenId, newest + 50);
      assert.equal(s.resets[0]!.reset.lastId, newest);
      assert.equal(s.subscription.lastId, newest, 'it resumes from the server’s newest');
      const code = await t.publish('AFTER-LOSS');
      await s.waitForCodes(1);
      assert.deepEqual(s.codeIds(), [code.id], 'not dropped as already seen');
    });

    test('ack: over HTTP for SSE (first, then not), as a frame over WebSocket; a refused WebSocket ack comes to onError', async () => {
      const s = await subscriber();
      await s.waitForState('live');
      const code = await t.publish('ACK-ME');
      await s.waitForCodes(1);
      const answer = await s.subscription.ack(code.id);
      if (transport === 'sse') {
        assert.equal(answer!.id, code.id);
        assert.equal(answer!.first, true);
        assert.equal(typeof answer!.latencyMs, 'number');
        assert.equal((await s.subscription.ack(code.id))!.first, false);
      } else {
        assert.equal(answer, undefined, 'a frame has no answer');
      }
      // A WebSocket ack has no answer: look until the server has counted it.
      let figures: any;
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(50)) {
        figures = (await t.api('GET', `/api/v1/codes/${code.id}`)).body;
        if (figures.acks.users === 1) break;
      }
      assert.equal(figures.acks.users, 1);

      const revoked = await t.publish('ACK-REVOKED');
      await s.waitForCodes(2);
      assert.equal((await t.api('DELETE', `/api/v1/codes/${revoked.id}`)).status, 200);
      if (transport === 'sse') {
        await assert.rejects(s.subscription.ack(revoked.id), (error: any) => error.code === 'code_revoked' && error.status === 409);
      } else {
        assert.equal(await s.subscription.ack(revoked.id), undefined);
        await waitFor(() => s.errors.some((e) => e.code === 'code_revoked'), 'the error frame');
        assert.equal(s.subscription.state, 'live', 'a refused ack does not end the connection');
      }
    });

    test('a bad token is refused for good: state refused, done settles with the 401, no retry loop', async () => {
      const s = recordSubscription({ url: t.url, token: 'cc_not-a-token-000000000000000000000000', transport, reconnect: RECONNECT });
      open.push(s);
      const refusal = await s.subscription.done;
      assert.equal(refusal?.status, 401);
      assert.equal(refusal?.code, 'unauthorized');
      assert.equal(refusal?.final, true);
      assert.equal(s.subscription.state, 'refused');
      assert.deepEqual(s.stateNames(), ['connecting', 'refused']);
      await sleep(500);
      assert.equal(s.errors.length, 1, 'one attempt, no retries');
      await s.close();
      assert.equal(s.subscription.state, 'refused', 'close() after a refusal changes nothing');
    });

    test('a user disabled while connected: its stream ends, the reconnect is refused (403) and it stops', async () => {
      const s = await subscriber();
      await s.waitForState('live');
      const name = `${transport}-${n}`;
      assert.equal((await t.api('PATCH', `/api/v1/users/${name}`, { body: { disabled: true } })).status, 200);
      const refusal = await s.subscription.done;
      assert.equal(refusal?.status, 403);
      assert.equal(refusal?.code, 'user_disabled');
      assert.equal(refusal?.message, 'This user is disabled.');
      assert.equal(s.subscription.state, 'refused');
    });

    test('close() ends the connection: the server sees it go, done settles, nothing arrives after', async () => {
      const connectionsBefore = t.server.hub.stats().connections;
      const s = await subscriber();
      await s.waitForState('live');
      assert.equal(t.server.hub.stats().connections, connectionsBefore + 1);
      await s.close();
      assert.equal(s.subscription.state, 'closed');
      assert.equal(s.stateNames().at(-1), 'closed');
      assert.equal(await s.subscription.done, undefined);
      await waitFor(() => t.server.hub.stats().connections === connectionsBefore, 'the server to see the close');
      const code = await t.publish('AFTER-CLOSE');
      await sleep(200);
      assert.ok(!s.codeIds().includes(code.id), 'nothing arrives after close()');
      // That it leaves no timer or socket behind: client-package.test.ts (a process that must exit by itself).
    });
  });
}

describe('the client library reads the history over HTTP', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer(FAST);
  });
  after(async () => {
    await t?.stop();
  });

  test('history() and fetchHistory() read page after page (1000 codes a page), oldest first, only live codes', async () => {
    // More than a page, published a few at a time.
    for (let i = 0; i < 1010; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => t.publish(`PAGE-${i + j}`)));
    }
    assert.equal((await t.api('DELETE', '/api/v1/codes/7')).status, 200);
    const { token } = await t.createUser('reader');
    const listed: any[] = [];
    for (let since = 0; ; ) {
      const page = (await t.api('GET', `/api/v1/codes?since=${since}&limit=1000`, { token })).body.codes;
      listed.push(...page);
      if (page.length < 1000) break;
      since = page.at(-1).id;
    }
    assert.equal(listed.length, 1009, 'every code but the revoked one');
    const requests: string[] = [];
    const counting: typeof fetch = (input, init) => {
      requests.push(String(input));
      return fetch(input, init);
    };
    const s = recordSubscription({ url: t.url, token, fetch: counting });
    try {
      assert.deepEqual(await s.subscription.history(), listed);
      assert.equal(requests.filter((url) => url.includes('/api/v1/codes')).length, 2, 'two pages');
      assert.deepEqual(await s.subscription.history({ max: 3 }), listed.slice(0, 3));
      assert.deepEqual(await s.subscription.history({ since: listed[2].id, max: 4 }), listed.slice(3, 7));
      assert.deepEqual(await s.subscription.history({ since: listed[5].id, max: 1001 }), listed.slice(6, 1007));
      requests.length = 0;
      assert.deepEqual(await s.subscription.history({ since: listed[1].id, before: listed[1005].id }), listed.slice(2, 1005));
      assert.equal(requests.length, 2, 'two pages');
      assert.deepEqual(await s.subscription.history({ since: listed[1].id, before: listed[2].id }), []);
    } finally {
      await s.close();
    }
    assert.deepEqual(await fetchHistory({ url: t.url, token, since: listed.at(-2).id }), listed.slice(-1));
    await assert.rejects(fetchHistory({ url: t.url, token: 'cc_unknown-0000000000000000000000' }), (error: any) => error.status === 401);
  });
});

describe('the client library and the server’s limits', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ...FAST, CODECAST_MAX_CONNECTIONS: '1' });
  });
  after(async () => {
    await t?.stop();
  });

  for (const transport of LIBRARY_TRANSPORTS) {
    test(`server full over ${transport}: waits (Retry-After over SSE), and reconnectNow() comes in once there is room`, async () => {
      const { token } = await t.createUser(`full-${transport}`);
      const blocker = await SseReader.open(t.url, { token: t.adminToken });
      await blocker.waitForEvent('hello');
      const s = recordSubscription({ url: t.url, token, transport, reconnect: { initialMs: 4000, maxMs: 8000 } });
      try {
        await s.waitForState('reconnecting');
        const wait = s.states.find((x) => x.state === 'reconnecting')!;
        assert.equal(wait.detail.error?.code, 'server_full');
        assert.equal(wait.detail.error?.final, false);
        if (transport === 'sse') {
          assert.equal(wait.detail.error?.retryAfterMs, 5000, 'Retry-After: 5');
          assert.ok(wait.detail.retryInMs! >= 5000 && wait.detail.retryInMs! <= 6250, `honours Retry-After: ${wait.detail.retryInMs}`);
        } else {
          assert.equal(wait.detail.error?.details.closeCode, 1013);
          assert.ok(wait.detail.retryInMs! >= 2000, `backs off: ${wait.detail.retryInMs}`);
        }
        blocker.close();
        await waitFor(() => t.server.hub.stats().connections === 0, 'the slot to free');
        s.subscription.reconnectNow();
        await s.waitForState('live', 1, 3000);
      } finally {
        blocker.close();
        await s.close();
      }
    });
  }
});

describe('the client library across a graceful restart', () => {
  for (const transport of LIBRARY_TRANSPORTS) {
    test(`over ${transport}: shutdown's delay is honoured, then it resumes on the new server without loss`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'codecast-client-restart-'));
      let first: TestServer | undefined = await startTestServer(FAST, { dir });
      let second: TestServer | undefined;
      try {
        const { token } = await first.createUser('restarting');
        const s = recordSubscription({ url: first.url, token, transport, reconnect: RECONNECT });
        await s.waitForState('live');
        const ids = [(await first.publish('BEFORE')).id];
        await s.waitForCodes(1);
        const port = first.server.port;
        const stopped = Date.now();
        await first.stop();
        first = undefined;
        await s.waitForState('reconnecting');
        const wait = s.states.find((x) => x.state === 'reconnecting')!;
        assert.equal(wait.detail.error?.code, 'shutdown');
        assert.equal(wait.detail.error?.retryAfterMs, 600);
        assert.ok(wait.detail.retryInMs! >= 600 && wait.detail.retryInMs! <= 750, `the announced 600 ms: ${wait.detail.retryInMs}`);
        second = await startTestServer({ ...FAST, PORT: String(port) }, { dir });
        ids.push((await second.publish('DURING')).id);
        await s.waitForState('live', 2, 15_000);
        assert.ok(Date.now() - stopped >= 600, 'not before the delay');
        ids.push((await second.publish('AFTER')).id);
        await s.waitForCodes(3);
        assert.deepEqual(s.codeIds(), ids);
        assert.deepEqual(s.resets, []);
        await s.close();
      } finally {
        await first?.stop();
        await second?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('the client library on a frozen network', () => {
  let t: TestServer;
  let proxy: FreezingProxy;
  before(async () => {
    t = await startTestServer(FAST);
    proxy = await FreezingProxy.start({ host: '127.0.0.1', port: t.server.port });
  });
  after(async () => {
    await proxy?.close();
    await t?.stop();
  });

  for (const transport of LIBRARY_TRANSPORTS) {
    test(`over ${transport}: nothing for two heartbeats drops the connection; it resumes once bytes flow again`, async () => {
      const { token } = await t.createUser(`frozen-${transport}`);
      const url = proxy.url().replace('redis://', 'http://');
      const s = recordSubscription({ url, token, transport, reconnect: RECONNECT, connectTimeoutMs: 3000 });
      try {
        await s.waitForState('live');
        const before = await t.publish(`FROZEN-BEFORE-${transport}`);
        await s.waitForCodes(1);
        proxy.freeze();
        const during = await t.publish(`FROZEN-DURING-${transport}`);
        // 1 s heartbeats: silent for 2 × 1 s + 2 s.
        await waitFor(() => s.errors.some((e) => e.code === 'timeout'), 'the watchdog', 8000);
        proxy.thaw();
        const after = await t.publish(`FROZEN-AFTER-${transport}`);
        await s.waitForCodes(3, 15_000);
        await sleep(300);
        assert.deepEqual(s.codeIds(), [before.id, during.id, after.id]);
      } finally {
        proxy.thaw();
        await s.close();
      }
    });
  }
});
