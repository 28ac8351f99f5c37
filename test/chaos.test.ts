// Chaos (issue 9, "Proof beyond examples"): subscribers on every transport
// — SSE through `eventsource`, WebSocket through `ws`, Socket.IO over its
// websocket and its polling transport — reach the server through a proxy
// that cuts their connections at random, several times a second, sometimes
// in the middle of a frame, while codes publish (straight to the server) and
// some are revoked. Each client keeps the model a real one keeps. At the end
// every one must hold exactly the published, unrevoked codes, in order, and
// none may have seen a code twice, a code older than one it had, or a revoke
// before its code.
//
// CHAOS_SECONDS (default 60) sets how long the cutting lasts (a few seconds
// more if a client's absence is under way then); CHAOS_SEED replays a run's
// random choices (the seed is printed as a diagnostic).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chaosClient, CHAOS_KINDS, type ChaosClient } from './support/chaos-clients.js';
import { CuttingProxy, seededRandom } from './support/cutting-proxy.js';
import { startTestServer } from './support/server.js';
import { waitFor } from './support/sse.js';
import { uniqueCode } from './support/sse-stream-helpers.js';

const CHAOS_SECONDS = Number(process.env.CHAOS_SECONDS ?? 60);
const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CLIENTS_PER_KIND = 2;
const CUTS_PER_SECOND = 6;
const PUBLISH_EVERY_MS = 250;
/** Chance that a publish is followed by the revoke of a recent code. */
const REVOKE_CHANCE = 0.3;
/** Short, so a client sent away misses more than history holds and is told `reset`. */
const HISTORY = 20;
/** How long clients may take to catch up once the cutting stops (EventSource waits its retry first). */
const CATCH_UP_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test(`chaos: ${CLIENTS_PER_KIND * CHAOS_KINDS.length} subscribers behind a cutting proxy for ${CHAOS_SECONDS} s end with exactly the unrevoked codes`, {
  timeout: (CHAOS_SECONDS + 180) * 1000,
}, async (t) => {
  assert.ok(Number.isFinite(CHAOS_SECONDS) && CHAOS_SECONDS > 0, 'CHAOS_SECONDS must be a positive number');
  t.diagnostic(`CHAOS_SEED=${SEED} CHAOS_SECONDS=${CHAOS_SECONDS}`);
  const random = seededRandom(SEED);
  const server = await startTestServer({
    // EventSource waits the retry hint before each reconnect: short, so a
    // client cut often still spends most of the run connected.
    CODECAST_SSE_RETRY_MS: '100',
    // Socket.IO over polling has no socket of its own to lose: the server
    // notices a cut session only when its pings go unanswered, so sessions
    // of one client pile up meanwhile. Each client has its own user too.
    CODECAST_MAX_CONNECTIONS_PER_USER: '1000',
    CODECAST_HEARTBEAT_SECONDS: '5',
    CODECAST_HISTORY: String(HISTORY),
  });
  const target = new URL(server.url);
  const proxy = await CuttingProxy.start({ host: target.hostname, port: Number(target.port) }, random);
  const clients: ChaosClient[] = [];
  try {
    for (const kind of CHAOS_KINDS) {
      for (let i = 0; i < CLIENTS_PER_KIND; i++) {
        const name = `${kind}-${i}`;
        const { token } = await server.createUser(`chaos-${name}`);
        clients.push(chaosClient(kind, name, proxy.url, token));
      }
    }
    for (const client of clients) client.connect();
    await waitFor(() => clients.every((c) => c.hellos > 0), 'every client connected', 10_000);

    // Publish and revoke straight to the server while the proxy cuts.
    // Now and then a client goes away for longer than history reaches: it
    // comes back to a `reset` and refetches.
    const published: number[] = [];
    const revoked = new Set<number>();
    const started = Date.now();
    const until = started + CHAOS_SECONDS * 1000;
    const absences = Math.max(1, Math.floor(CHAOS_SECONDS / 20));
    let absent: { client: ChaosClient; backAfter: number } | undefined;
    let absencesTaken = 0;
    proxy.startCutting(CUTS_PER_SECOND);
    // An absence under way runs to its end: the client must miss more than history holds.
    while (Date.now() < until || absent) {
      published.push((await server.publish(uniqueCode('CHAOS'))).id);
      if (absent && published.length >= absent.backAfter) {
        absent.client.comeBack();
        absent = undefined;
      }
      if (
        !absent &&
        absencesTaken < absences &&
        Date.now() < until &&
        Date.now() - started >= ((absencesTaken + 0.5) * CHAOS_SECONDS * 1000) / absences
      ) {
        const client = clients[Math.floor(random() * clients.length)] as ChaosClient;
        client.goAway();
        absent = { client, backAfter: published.length + HISTORY + 5 };
        absencesTaken++;
      }
      if (random() < REVOKE_CHANCE) {
        // A recent code: one the clients hold, revoked while some are away.
        const recent = published.slice(-20).filter((id) => !revoked.has(id));
        const id = recent[Math.floor(random() * recent.length)];
        if (id !== undefined) {
          const res = await server.api('DELETE', `/api/v1/codes/${id}`);
          assert.equal(res.status, 200, JSON.stringify(res.body));
          revoked.add(id);
        }
      }
      await sleep(PUBLISH_EVERY_MS);
    }
    proxy.stopCutting();

    // The barrier: one last code, unrevoked; a client that has it has everything before it.
    const last = (await server.publish(uniqueCode('CHAOS'))).id;
    published.push(last);
    try {
      await waitFor(() => clients.every((c) => c.lastId >= last), `every client to reach id ${last}`, CATCH_UP_MS);
    } catch (error) {
      const behind = clients.filter((c) => c.lastId < last).map((c) => `${c.name} at ${c.lastId}`);
      throw new Error(`${(error as Error).message}; behind: ${behind.join(', ')}`);
    }

    const expected = published.filter((id) => !revoked.has(id));
    const counts = proxy.counts;
    t.diagnostic(
      `published ${published.length}, revoked ${revoked.size}; proxy accepted ${counts.accepted}, cut ${counts.cuts} at once and ${counts.midFrame} mid-frame`,
    );
    for (const c of clients) t.diagnostic(`${c.name}: ${c.hellos - 1} reconnects, ${c.revokes} revokes, ${c.resets} resets`);

    assert.ok(counts.cuts + counts.midFrame > 0 && clients.some((c) => c.hellos > 1), 'the proxy cut connections and clients came back');
    assert.ok(revoked.size > 0, 'some codes were revoked');
    assert.ok(clients.reduce((n, c) => n + c.resets, 0) >= absences, 'each client away longer than history reaches was told reset');
    assert.deepEqual(
      clients.flatMap((c) => c.failures),
      [],
      'no code twice, none out of order, no revoke before its code',
    );
    for (const client of clients) {
      const held = [...client.held.keys()];
      const wrong = {
        stillHeldThoughRevoked: held.filter((id) => revoked.has(id)),
        missing: expected.filter((id) => !client.held.has(id)),
      };
      assert.deepEqual(wrong, { stillHeldThoughRevoked: [], missing: [] }, `${client.name} holds every unrevoked code and no revoked one`);
      assert.deepEqual(held, expected, `${client.name} holds them in order`);
    }
  } finally {
    for (const client of clients) client.stop();
    await proxy.close();
    await server.stop();
  }
});
