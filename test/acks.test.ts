/**
 * Acks of codes this process did not publish: codes older than the history
 * ring, and codes from before a restart. They are judged from the database,
 * once per user and code, and a flood of them costs a few statements, not
 * two reads each queued in front of every publish (what made a WebSocket
 * ack flood stall publishes for 200-400 ms, issue 9).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parsePrometheus } from './support/prometheus.js';
import { WsRecorder } from './support/raw-clients.js';
import {
  STORE_KINDS,
  createStoreDatabase,
  startTestServer,
  type ApiResponse,
  type StoreDatabase,
  type TestServer,
} from './support/server.js';
import { waitFor } from './support/sse.js';

const HISTORY = 10;

// Who acked what is the store's to remember: each runs it (issue 10).
for (const store of STORE_KINDS) {
  describe(`acks on ${store}`, () => {
    let database: StoreDatabase | undefined;
    let t: TestServer;
    let alice: { id: number; token: string };
    let bob: { id: number; token: string };
    let carol: { id: number; token: string };

    // One database for the whole file: the restart test starts a second server on it.
    const start = () => startTestServer({ CODECAST_HISTORY: String(HISTORY) }, { database });

    before(async () => {
      database = await createStoreDatabase(store, 'acks');
      t = await start();
      alice = await t.createUser('acks-alice');
      bob = await t.createUser('acks-bob');
      carol = await t.createUser('acks-carol');
    });
    after(async () => {
      await t?.stop();
      await database?.drop();
    });

    async function publishMany(prefix: string, count: number): Promise<number[]> {
      const ids: number[] = [];
      for (let i = 0; i < count; i++) ids.push((await t.publish(`${prefix}-${i}`)).id);
      return ids;
    }

    const ack = (id: number, token: string): Promise<ApiResponse> => t.api('POST', `/api/v1/codes/${id}/ack`, { token });

    async function ackFirst(id: number, token: string): Promise<boolean> {
      const res = await ack(id, token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.first as boolean;
    }

    async function ackUsers(id: number): Promise<number> {
      const res = await t.api('GET', `/api/v1/codes/${id}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.acks.users as number;
    }

    async function queriesSoFar(): Promise<number> {
      const response = await fetch(`${t.url}/metrics`);
      return parsePrometheus(await response.text()).value('codecast_db_query_duration_seconds_count');
    }

    describe('acks of codes the ring no longer holds', () => {
      test('count once per user, and revoked or unknown ones are refused', async () => {
        const [oldest, revoked] = await publishMany('OLDER', HISTORY + 5);
        assert.ok(oldest !== undefined && revoked !== undefined);
        assert.equal((await t.api('DELETE', `/api/v1/codes/${revoked}`)).status, 200);
        await publishMany('NEWER', HISTORY);

        assert.equal(await ackFirst(oldest, alice.token), true);
        assert.equal(await ackFirst(oldest, alice.token), false);
        assert.equal(await ackFirst(oldest, bob.token), true);
        assert.equal(await ackUsers(oldest), 2);

        const refused = await ack(revoked, alice.token);
        assert.equal(refused.status, 409, JSON.stringify(refused.body));
        assert.equal(refused.body.error, 'code_revoked');
        const unknown = await ack(oldest + 100_000, alice.token);
        assert.equal(unknown.status, 404);
        assert.equal(unknown.body.error, 'code_not_found');
      });

      test('the same old code acked many times at once counts once', async () => {
        const [id] = await publishMany('BURST', 1);
        assert.ok(id !== undefined);
        await publishMany('PAST-BURST', HISTORY);
        const answers = await Promise.all(Array.from({ length: 20 }, () => ack(id, carol.token)));
        assert.deepEqual(
          answers.map((res) => res.status),
          Array(20).fill(200),
        );
        assert.equal(answers.filter((res) => res.body.first === true).length, 1);
        assert.equal(await ackUsers(id), 1);
      });

      test('hundreds acked over a WebSocket cost a few statements, not two reads each', async () => {
        const ids = await publishMany('FLOOD', 300);
        await publishMany('PAST-FLOOD', HISTORY);
        const old = ids.slice(0, 300);
        const ws = await WsRecorder.open(`${t.url.replace('http', 'ws')}/api/v1/ws?token=${carol.token}`);
        await ws.waitFor('hello');
        const totalBefore = (t.server.stats() as { acks: { total: number } }).acks.total;
        const queriesBefore = await queriesSoFar();

        for (const id of old) ws.ws.send(JSON.stringify({ type: 'ack', id }));
        await waitFor(
          () => (t.server.stats() as { acks: { total: number; pending: number } }).acks.total === totalBefore + old.length,
          'every ack counted',
        );
        // A repeat of all of them is answered from memory.
        for (const id of old) ws.ws.send(JSON.stringify({ type: 'ack', id }));
        assert.equal(await ackUsers(old[0] as number), 1, 'GET /codes/:id writes what is pending first');
        const queries = (await queriesSoFar()) - queriesBefore;
        // Two lookups a code would be 600. Each turn of the event loop's worth of
        // acks is one batch of at most a dozen statements a kind (chunks of
        // 256, 64, 16, 4 and 1 ids), and the flush and the GET above add a few.
        assert.ok(queries < old.length / 3, `${queries} statements for ${old.length * 2} acks of old codes`);
        assert.equal((t.server.stats() as { acks: { total: number } }).acks.total, totalBefore + old.length, 'repeats are not counted');
        assert.equal(ws.close, undefined);
        ws.ws.close();
      });
    });

    describe('acks after a restart', () => {
      test('acks stored before are remembered, for codes the ring holds and older ones', async () => {
        const [older] = await publishMany('BEFORE-OLD', 1);
        await publishMany('BEFORE-PAST', HISTORY);
        const [held] = await publishMany('BEFORE-HELD', 1);
        assert.ok(older !== undefined && held !== undefined);
        assert.equal(await ackFirst(older, alice.token), true);
        assert.equal(await ackFirst(held, alice.token), true);

        await t.stop();
        t = await start();

        assert.equal(await ackFirst(held, alice.token), false, 'a held code acked before the restart');
        assert.equal(await ackFirst(older, alice.token), false, 'an older code acked before the restart');
        assert.equal(await ackFirst(held, bob.token), true);
        assert.equal(await ackFirst(held, bob.token), false);
        assert.equal(await ackFirst(older, bob.token), true);
        assert.equal(await ackUsers(held), 2);
        assert.equal(await ackUsers(older), 2);
      });
    });
  });
}
