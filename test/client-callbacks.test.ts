// The client library's callbacks may call back into their subscription:
// reconnectNow() or close() from onError, from onState as it announces a
// wait, and from onHello. Each subscriber is a Node process of its own
// (test/fixtures/reentrant-subscriber.ts) on a real server: it holds one
// connection at most, reports nothing after close() but `closed`, and exits
// by itself as soon as it is closed — no connection or timer left behind.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from './support/browser.js';
import { type Spawned, spawnScript } from './support/cli-helpers.js';
import { LIBRARY_TRANSPORTS } from './support/library-clients.js';
import { startTestServer, type TestServer } from './support/server.js';

const FIXTURE = 'test/fixtures/reentrant-subscriber.ts';
/** A process with nothing left running exits this soon after close(); a wait left armed holds it 10 s or more. */
const EXIT_WITHIN_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Line = { event: string; state?: string; retryInMs?: number; code?: string };

function linesOf(p: Spawned): Line[] {
  return p.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);
}

const count = (lines: readonly Line[], event: string) => lines.filter((line) => line.event === event).length;

for (const transport of LIBRARY_TRANSPORTS) {
  describe(`callbacks that call into their subscription, over ${transport}`, () => {
    // Waits of a few hundred ms, so that one left armed fires within the test…
    let quick: TestServer;
    // …or of 10 s and more, so that one left armed holds the process up.
    let slow: TestServer;
    let n = 0;
    before(async () => {
      quick = await startTestServer({ CODECAST_SSE_RETRY_MS: '300' });
      slow = await startTestServer({ CODECAST_SSE_RETRY_MS: '20000' });
    });
    after(async () => {
      await quick?.stop();
      await slow?.stop();
    });

    /** Starts the fixture with `hook` on `t`; answers it once it is connected, and its user. */
    async function start(t: TestServer, hook: string): Promise<{ p: Spawned; userId: number }> {
      const user = await t.createUser(`${transport}-${hook}-${++n}`);
      const initialMs = t === quick ? '300' : '20000';
      const p = spawnScript(FIXTURE, [t.url, user.token, transport, initialMs, hook]);
      await p.waitForOutput(/"hello"/);
      return { p, userId: user.id };
    }

    /** Waits for `closed`, then for the process to end by itself. */
    async function closedAndExited(p: Spawned, t: TestServer): Promise<void> {
      await p.waitForOutput(/"closed"/);
      const exit = await p.waitExit(EXIT_WITHIN_MS, 'the subscriber to exit by itself once closed');
      assert.equal(exit.code, 0, p.stderr);
      await eventually(async () => t.server.stats().connections.total === 0, 'its connection to close');
      const lines = linesOf(p);
      assert.equal(lines.at(-1)?.event, 'closed', 'nothing reported after close()');
    }

    for (const callback of ['error', 'wait'] as const) {
      test(`${callback === 'error' ? 'onError' : 'onState announcing a wait'} calls reconnectNow(): one connection at once, none left after close()`, async () => {
        const t = quick;
        const opened = t.server.stats().connections.opened;
        const { p, userId } = await start(t, `${callback}-reconnect`);
        t.server.hub.closeUser(userId, 'stale');
        await p.waitForOutput(/"hello"[\s\S]*"hello"/);
        // Longer than the wait (300 ms and its jitter) that must not also reconnect.
        await sleep(1500);
        assert.equal(t.server.stats().connections.opened, opened + 2, 'the first connection and the one reconnectNow() made, no other');
        assert.equal(t.server.stats().connections.total, 1);
        const lines = linesOf(p);
        assert.equal(count(lines, 'hello'), 2);
        assert.equal(
          lines.filter((line) => line.retryInMs !== undefined).length,
          callback === 'wait' ? 1 : 0,
          'no wait but the one announced',
        );
        p.child.stdin?.end('close\n');
        await closedAndExited(p, t);
      });

      test(`${callback === 'error' ? 'onError' : 'onState announcing a wait'} calls close(): no wait armed, the process exits at once`, async () => {
        const t = slow;
        const opened = t.server.stats().connections.opened;
        const { p, userId } = await start(t, `${callback}-close`);
        p.child.stdin?.end();
        t.server.hub.closeUser(userId, 'stale');
        await closedAndExited(p, t);
        assert.equal(t.server.stats().connections.opened, opened + 1, 'no reconnect');
        const states = linesOf(p)
          .filter((line) => line.event === 'state')
          .map((line) => line.state);
        assert.deepEqual(states, ['connecting', 'live', ...(callback === 'wait' ? ['reconnecting'] : []), 'closed']);
      });
    }

    test('onHello calls close(): neither live nor catching up is reported, and the process exits at once', async () => {
      const t = quick;
      await t.publish(`BEFORE-${transport}`);
      // With `since` 0 the hello is followed by a replay: catching-up, and its quiet timer.
      const user = await t.createUser(`${transport}-hello-close-${++n}`);
      const p = spawnScript(FIXTURE, [t.url, user.token, transport, '300', 'hello-close', '0']);
      p.child.stdin?.end();
      await closedAndExited(p, t);
      const lines = linesOf(p);
      assert.deepEqual(
        lines.filter((line) => line.event === 'state').map((line) => line.state),
        ['connecting', 'closed'],
      );
      assert.equal(count(lines, 'hello'), 1);
    });

    test('onHello calls reconnectNow(): connected, so nothing happens', async () => {
      const t = quick;
      const opened = t.server.stats().connections.opened;
      const { p } = await start(t, 'hello-reconnect');
      await sleep(1000);
      assert.equal(t.server.stats().connections.opened, opened + 1);
      assert.equal(t.server.stats().connections.total, 1);
      p.child.stdin?.end('close\n');
      await closedAndExited(p, t);
      assert.deepEqual(
        linesOf(p)
          .filter((line) => line.event === 'state')
          .map((line) => line.state),
        ['connecting', 'live', 'closed'],
      );
    });
  });
}
