// The server killed (SIGKILL: no shutdown event, connections simply break)
// and started again on the same port and database while codes are being
// published: every subscriber built on the client library — over SSE and
// WebSocket in this process, and `codecast listen` over both — ends up with
// every code the server holds, each once, in order; every publish answered
// 201 among them. The browser's side of this is in web-client-library.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { killAll, spawnCli, type Spawned } from './support/cli-helpers.js';
import { KillableServer, PublishLoop } from './support/killable-server.js';
import { LIBRARY_TRANSPORTS, recordSubscription, type RecordedSubscription } from './support/library-clients.js';
import { waitFor } from './support/sse.js';

let server: KillableServer;
before(async () => {
  server = await KillableServer.start({ CODECAST_HEARTBEAT_SECONDS: '1', CODECAST_SSE_RETRY_MS: '200' });
});
after(async () => {
  await killAll();
  await server?.stop();
});

/** The ids `codecast listen` printed (`#42  CODE…` lines). */
function printedIds(listener: Spawned): number[] {
  return [...listener.stdout.matchAll(/^#(\d+) {2}/gm)].map((m) => Number(m[1]));
}

test('SIGKILLed and restarted mid-stream: every subscriber gets every code once, in order', { timeout: 120_000 }, async () => {
  const subscriptions: RecordedSubscription[] = [];
  const listeners: Spawned[] = [];
  let publisher: PublishLoop | undefined;
  try {
    for (const transport of LIBRARY_TRANSPORTS) {
      const token = await server.createUser(`library-${transport}`);
      const s = recordSubscription({ url: server.url, token, transport, reconnect: { initialMs: 200, maxMs: 2000 } });
      subscriptions.push(s);
      await s.waitForState('live');
      const listener = spawnCli(['listen', '--transport', transport], {
        CODECAST_URL: server.url,
        CODECAST_TOKEN: await server.createUser(`listen-${transport}`),
      });
      listeners.push(listener);
      await waitFor(() => listener.stderr.includes('connected to'), `listen --transport ${transport} to connect`, 15_000);
    }

    publisher = new PublishLoop(server, 'KILL');
    await publisher.waitForAccepted(15);
    await server.kill();
    const acceptedBeforeKill = publisher.accepted.length;
    for (const s of subscriptions) await s.waitForState('reconnecting');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.restart();
    await publisher.waitForAccepted(acceptedBeforeKill + 15);
    await publisher.stop();
    assert.ok(publisher.failed > 0, 'some publishes failed while the server was down');

    const held = await server.codeIds();
    for (const id of publisher.accepted) assert.ok(held.includes(id), `accepted code ${id} is held`);
    for (const s of subscriptions) {
      await s.waitForCodes(held.length, 20_000);
      assert.deepEqual(s.codeIds(), held, `the library over ${s.subscription.transport}: every code once, in order`);
      assert.equal(s.subscription.state, 'live');
      const drop = s.errors[0];
      assert.ok(drop && !drop.final, `the kill was a drop, not a refusal: ${drop?.code}`);
      assert.deepEqual(s.resets, [], 'the restarted server holds everything it had');
    }
    for (const [i, listener] of listeners.entries()) {
      await waitFor(() => printedIds(listener).length >= held.length, `listen ${LIBRARY_TRANSPORTS[i]} to print every code`, 20_000).catch(
        (error: Error) => {
          throw new Error(`${error.message}\nstdout:\n${listener.stdout}\nstderr:\n${listener.stderr}`);
        },
      );
      assert.deepEqual(printedIds(listener), held, `listen --transport ${LIBRARY_TRANSPORTS[i]}: every code once, in order`);
      assert.match(listener.stderr, /connection lost .*; reconnecting/);
      assert.equal((listener.stderr.match(/connected to /g) ?? []).length, 2, listener.stderr);
    }
    // A moment more: nothing arrives twice later.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const s of subscriptions) assert.deepEqual(s.codeIds(), held);
  } finally {
    await publisher?.stop();
    await Promise.all(subscriptions.map((s) => s.close()));
    for (const listener of listeners) listener.kill('SIGTERM');
    await Promise.all(listeners.map((l) => l.waitExit(5000).catch(() => undefined)));
  }
});
