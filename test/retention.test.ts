// Retention (issue 12): codes with their acks and figures, idempotency keys,
// audit entries and auth events are deleted once past their period, in small
// batches, never the newest CODECAST_HISTORY codes; on SQLite and PostgreSQL,
// by one process or several at once, and under publish load with replay
// working across it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/index.js';
import type { Code } from '../src/domain/index.js';
import { pruneOldRows, type RetentionPolicy } from '../src/retention.js';
import { Store } from '../src/store/index.js';
import { connectSubscriber } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { STORE_KINDS, createStoreDatabase, databaseTarget, type StoreDatabase } from './support/stores.js';

const DAY_MS = 86_400_000;

const POLICY: RetentionPolicy = {
  codesMs: 30 * DAY_MS,
  keepNewestCodes: 3,
  auditMs: 365 * DAY_MS,
  idempotencyMs: DAY_MS,
  authEventsMs: DAY_MS,
};

let seeded = 0;

/** A code published at `atMs` with an Idempotency-Key, an audit entry and an ack of each of `ackers`. */
async function seedCode(store: Store, atMs: number, ackers: readonly number[]): Promise<Code> {
  const n = ++seeded;
  const draft = { code: `OLD-${n}`, value: null, type: null, message: null, ttlSeconds: null, source: 'tests' };
  const inserted = await store.codes.insert(draft, draft.code, null, atMs, {
    idempotency: ackers.length > 0 ? { key: `key-${draft.code}`, requestHash: 'h', userId: ackers[0]! } : undefined,
    audit: { actor: null, action: 'code.publish', details: null },
  });
  assert.ok('id' in inserted);
  await store.codes.addAcks(ackers.map((userId) => ({ codeId: inserted.id, userId, ackedAtMs: atMs + 1000, latencyMs: 1000 })));
  return inserted;
}

async function seedUsers(store: Store, prefix: string, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const user = await store.users.create(`${prefix}-${++seeded}`, 'user', new Date());
    assert.ok(user);
    ids.push(user.id);
  }
  return ids;
}

/** Every code id, acked code id, idempotency key, audit target and auth event time in the store. */
async function contents(store: Store) {
  const codes = (await store.codes.list({ since: 0, limit: 100_000, includeInactive: true, nowMs: Date.now() })).map((c) => c.id);
  const acked: number[] = [];
  for (const id of codes) if ((await store.codes.ackFigures(id)).users > 0) acked.push(id);
  const audit = (await store.audit.list(100_000)).map((e) => e.at);
  return { codes, acked, audit };
}

test('settings: 30 days of codes and 365 of audit by default, 0 keeps for ever, codes outlive idempotency keys', () => {
  const defaults = loadConfig({});
  assert.deepEqual(defaults.retention, { codesMs: 30 * DAY_MS, auditMs: 365 * DAY_MS });
  assert.deepEqual(loadConfig({ CODECAST_RETENTION_DAYS: '0', CODECAST_AUDIT_RETENTION_DAYS: '0' }).retention, {
    codesMs: null,
    auditMs: null,
  });
  assert.equal(loadConfig({ CODECAST_RETENTION_DAYS: '2', CODECAST_IDEMPOTENCY_HOURS: '48' }).retention.codesMs, 2 * DAY_MS);
  assert.throws(
    () => loadConfig({ CODECAST_RETENTION_DAYS: '1', CODECAST_IDEMPOTENCY_HOURS: '48' }),
    (error: unknown) => error instanceof ConfigError && /CODECAST_RETENTION_DAYS .*CODECAST_IDEMPOTENCY_HOURS/.test(error.message),
  );
  assert.throws(() => loadConfig({ CODECAST_RETENTION_DAYS: '-1' }), ConfigError);
});

for (const kind of STORE_KINDS) {
  describe(`retention on ${kind}`, () => {
    let database: StoreDatabase | undefined;
    let store: Store | undefined;
    const s = (): Store => {
      assert.ok(store, `the ${kind} store did not open`);
      return store;
    };

    before(async () => {
      database = await createStoreDatabase(kind, 'retention');
      store = await Store.open(databaseTarget(database));
    });
    after(async () => {
      await store?.close();
      await database?.drop();
    });

    /** Empties the tables retention touches, with a policy that keeps nothing. */
    const clear = async () => {
      const nothing: RetentionPolicy = {
        codesMs: -DAY_MS,
        keepNewestCodes: 0,
        auditMs: -DAY_MS,
        idempotencyMs: -DAY_MS,
        authEventsMs: -DAY_MS,
      };
      await pruneOldRows(s().retention, nothing, Date.now(), { pauseMs: 0 });
    };

    test('old rows go, in batches; recent ones stay', async () => {
      await clear();
      const now = Date.now();
      const users = await seedUsers(s(), 'batches', 2);
      // Rows are written in time order, as a server writes them.
      await s().audit.record({ actor: null, action: 'test.ancient', target: null, details: null }, new Date(now - 400 * DAY_MS));
      const old: Code[] = [];
      for (let i = 0; i < 30; i++) old.push(await seedCode(s(), now - 40 * DAY_MS + i, users));
      const recent: Code[] = [];
      for (let i = 0; i < 5; i++) recent.push(await seedCode(s(), now - 1000 + i, users));
      await s().authEvents.record('user_changed', users[0]!, null, now - 2 * DAY_MS);
      await s().authEvents.record('user_changed', users[1]!, null, now - 1000);
      const before = await contents(s());
      const lastAuthEvent = await s().authEvents.lastId();

      const batches: { kind: string; deleted: number }[] = [];
      const pruned = await pruneOldRows(s().retention, POLICY, now, {
        batch: 7,
        pauseMs: 0,
        onBatch: (k, deleted) => batches.push({ kind: k, deleted }),
      });

      const after = await contents(s());
      assert.deepEqual(
        after.codes,
        recent.map((c) => c.id),
        'only the recent codes are left',
      );
      assert.deepEqual(after.acked, after.codes, 'and their acks');
      // The audit trail keeps a year: the 40-day-old publishes stay, the 400-day-old entry goes.
      assert.equal(after.audit.length, before.audit.length - 1);
      assert.ok(!(await s().audit.list(100_000)).some((e) => e.action === 'test.ancient'));
      const events = await s().authEvents.after(0);
      assert.deepEqual(
        events.map((e) => e.userId),
        [users[1]],
        'the auth event older than a day is gone',
      );
      assert.equal(await s().authEvents.lastId(), lastAuthEvent);
      // Keys older than a day went before their codes; the recent ones still answer.
      assert.equal(await s().codes.idempotent(users[0]!, `key-${old[0]!.code}`), undefined);
      const key = await s().codes.idempotent(users[0]!, `key-${recent.at(-1)!.code}`);
      assert.equal(key?.code.id, recent.at(-1)?.id, 'a recent key still finds its code');

      assert.deepEqual(pruned, {
        idempotencyKeys: 30,
        codes: 30 + 30 * 2,
        audit: 1,
        authEvents: 1,
      });
      const codeBatches = batches.filter((b) => b.kind === 'codes');
      assert.ok(codeBatches.length >= (30 * 2) / 7, `acks and codes went in batches (${codeBatches.length})`);
      for (const b of batches) assert.ok(b.deleted <= 2 * 7, `a batch deleted ${b.deleted} rows`);
      assert.deepEqual(await pruneOldRows(s().retention, POLICY, now, { batch: 7, pauseMs: 0 }), {
        idempotencyKeys: 0,
        codes: 0,
        audit: 0,
        authEvents: 0,
      });
    });

    test('the newest CODECAST_HISTORY codes stay whatever their age, with their acks and figures', async () => {
      await clear();
      const now = Date.now();
      const users = await seedUsers(s(), 'newest', 2);
      const codes: Code[] = [];
      for (let i = 0; i < 10; i++) codes.push(await seedCode(s(), now - 90 * DAY_MS + i, users));
      await s().codes.addDeliveries(codes.at(-1)!.id, { sse: 5, ws: 1, socketio: 0 }, 2);

      await pruneOldRows(s().retention, { ...POLICY, keepNewestCodes: 4 }, now, { batch: 3, pauseMs: 0 });

      const kept = codes.slice(-4).map((c) => c.id);
      assert.deepEqual((await contents(s())).codes, kept);
      for (const id of kept) assert.equal((await s().codes.ackFigures(id)).users, 2, `code ${id} keeps its acks`);
      const newest = await s().codes.byId(codes.at(-1)!.id);
      assert.deepEqual(newest?.delivered, { sse: 5, ws: 1, socketio: 0 });
      assert.equal(newest?.replayed, 2);
      assert.deepEqual(
        (await s().codes.newest(4)).codes.map((c) => c.id),
        kept,
        'what a restarted server loads into its ring is all there',
      );
    });

    test('0 days keeps codes and the audit trail for ever; keys and auth events still go', async () => {
      await clear();
      const now = Date.now();
      const users = await seedUsers(s(), 'forever', 1);
      for (let i = 0; i < 6; i++) await seedCode(s(), now - 3000 * DAY_MS + i, users);
      await s().audit.record({ actor: null, action: 'test.ancient', target: null, details: null }, new Date(now - 3000 * DAY_MS));
      const before = await contents(s());

      const pruned = await pruneOldRows(s().retention, { ...POLICY, codesMs: null, auditMs: null }, now, { batch: 4, pauseMs: 0 });

      assert.deepEqual(await contents(s()), before);
      assert.equal(pruned.idempotencyKeys, 6);
      assert.equal(pruned.codes, 0);
      assert.equal(pruned.audit, 0);
    });

    test('an ack of a code deleted meanwhile is dropped; the rest of its batch is stored', async () => {
      await clear();
      const now = Date.now();
      const users = await seedUsers(s(), 'gone', 2);
      const old = await seedCode(s(), now - 40 * DAY_MS, []);
      const kept = [await seedCode(s(), now, []), await seedCode(s(), now, []), await seedCode(s(), now, [])];
      await pruneOldRows(s().retention, POLICY, now, { pauseMs: 0 });
      assert.equal(await s().codes.byId(old.id), undefined);

      await s().codes.addAcks([
        { codeId: kept[0]!.id, userId: users[0]!, ackedAtMs: now, latencyMs: 5 },
        { codeId: old.id, userId: users[0]!, ackedAtMs: now, latencyMs: 5 },
        { codeId: kept[1]!.id, userId: users[1]!, ackedAtMs: now, latencyMs: 5 },
      ]);
      assert.equal((await s().codes.ackFigures(kept[0]!.id)).users, 1);
      assert.equal((await s().codes.ackFigures(kept[1]!.id)).users, 1);
      assert.equal((await s().codes.ackFigures(old.id)).users, 0);
    });

    test('two processes pruning at once while acks of the old codes arrive: no error, the same end', async () => {
      await clear();
      assert.ok(database);
      // PostgreSQL: two pools, as two nodes have. SQLite has one owner, whose
      // housekeeping and acks still overlap on its one connection.
      const other = kind === 'postgres' ? await Store.open(databaseTarget(database)) : s();
      try {
        const now = Date.now();
        const users = await seedUsers(s(), 'twice', 3);
        const old: Code[] = [];
        for (let i = 0; i < 120; i++) old.push(await seedCode(s(), now - 40 * DAY_MS + i, users.slice(0, 2)));
        const recent: Code[] = [];
        for (let i = 0; i < 4; i++) recent.push(await seedCode(s(), now, users.slice(0, 2)));

        // The third user acks old codes, newest first, while both prune.
        let acking = true;
        const acks = (async () => {
          for (let i = old.length - 1; acking && i >= 0; i--) {
            await other.codes.addAcks([
              { codeId: old[i]!.id, userId: users[2]!, ackedAtMs: now, latencyMs: 1 },
              { codeId: recent[0]!.id, userId: users[2]!, ackedAtMs: now, latencyMs: 1 },
            ]);
          }
        })();
        const options = { batch: 10, pauseMs: 1 };
        const [a, b] = await Promise.all([
          pruneOldRows(s().retention, POLICY, now, options),
          pruneOldRows(other.retention, POLICY, now, options),
        ]);
        acking = false;
        await acks;
        // An ack that landed after both runs passed its code is left for the next run.
        await pruneOldRows(s().retention, POLICY, now, options);

        const after = await contents(s());
        assert.deepEqual(
          after.codes,
          recent.map((c) => c.id),
        );
        assert.deepEqual(after.acked, after.codes);
        assert.equal((await s().codes.ackFigures(recent[0]!.id)).users, 3, "the third user's ack of a kept code is stored");
        assert.equal(a.idempotencyKeys + b.idempotencyKeys, 120, 'each key deleted once, by one of them');
      } finally {
        if (other !== s()) await other.close();
      }
    });
  });
}

for (const kind of STORE_KINDS) {
  describe(`retention in a running server on ${kind}`, () => {
    let database: StoreDatabase | undefined;
    let server: TestServer | undefined;
    const HISTORY = 20;
    const env = { CODECAST_HISTORY: String(HISTORY) };

    let users: number[] = [];
    before(async () => {
      database = await createStoreDatabase(kind, 'retention-server');
      // Seeded before the server starts: codes stored behind a running
      // server's back would reach its subscribers by its catch-up.
      const store = await Store.open(databaseTarget(database));
      try {
        users = await seedUsers(store, 'load', 3);
        for (let i = 0; i < 150; i++) await seedCode(store, Date.now() - 40 * DAY_MS + i, users);
      } finally {
        await store.close();
      }
      server = await startTestServer(env, { database });
    });
    after(async () => {
      await server?.stop();
      await database?.drop();
    });

    test('a prune under publish load: every publish answers, the fan-out goes on, replay works across it and a restart', async () => {
      assert.ok(server && database);
      const running = server;
      const { store } = running.server;
      assert.equal(users.length, 3);
      const user = await server.createUser('retention-listener');
      const live = await connectSubscriber('sse', server.url, { token: user.token });

      // Everything but the ring's codes is past its period.
      const keepNothing: RetentionPolicy = { codesMs: 0, keepNewestCodes: HISTORY, auditMs: 0, idempotencyMs: 0, authEventsMs: 0 };
      const LOAD = 200;
      let published = 0;
      const publishedIds: number[] = [];
      let pruning = true;
      const load = (async () => {
        for (let i = 0; i < LOAD; i++) {
          const answer: { status: number; body: any } = await running.api('POST', '/api/v1/codes', { body: { code: `LOAD-${i}` } });
          assert.equal(answer.status, 201, `publish ${i} during the prune: ${JSON.stringify(answer.body)}`);
          publishedIds.push(answer.body.code.id);
          published++;
        }
      })();
      const seenAtBatch: number[] = [];
      const prune = pruneOldRows(store.retention, keepNothing, Date.now(), {
        batch: 50,
        onBatch: () => seenAtBatch.push(published),
      }).finally(() => {
        pruning = false;
      });
      await Promise.all([load, prune]);
      assert.equal(pruning, false);
      assert.ok(seenAtBatch.length >= 5, `the prune took several batches (${seenAtBatch.length})`);
      assert.ok(
        seenAtBatch.at(-1)! > seenAtBatch[0]!,
        `publishes completed between the prune's batches (published at each batch: ${seenAtBatch.join(', ')})`,
      );
      // What the load published meanwhile is past its period too; a last run leaves the ring's codes.
      await pruneOldRows(store.retention, keepNothing, Date.now(), { pauseMs: 0 });

      await live.waitForCodes(LOAD);
      assert.deepEqual(live.codeIds, publishedIds, 'the live subscriber got every code, in order');

      const ring = publishedIds.slice(-HISTORY);
      const listed = await server.api('GET', `/api/v1/codes?since=0&limit=1000`);
      assert.deepEqual(
        listed.body.codes.map((c: { id: number }) => c.id),
        ring,
        'the database keeps exactly the newest CODECAST_HISTORY codes',
      );
      assert.equal((await server.api('GET', `/api/v1/codes/${publishedIds[0]}`)).status, 404);
      const ack = await server.api('POST', `/api/v1/codes/${ring[5]}/ack`, { token: user.token });
      assert.equal(ack.status, 200, JSON.stringify(ack.body));
      const figures = await server.api('GET', `/api/v1/codes/${ring[5]}`);
      assert.equal(figures.status, 200);
      assert.equal(figures.body.acks.users, 1);
      assert.ok(figures.body.delivery.total >= 1, 'its delivery figures are there');

      const since = ring[9]!;
      const back = await connectSubscriber('sse', server.url, { token: user.token, since });
      await back.waitForCodes(HISTORY - 10);
      assert.deepEqual(back.codeIds, ring.slice(10), 'replay after the prune: exactly what was missed, in order');
      assert.equal(back.of('reset').length, 0);
      await back.close();
      await live.close();

      // A restarted server loads its ring from what the prune left.
      await server.stop();
      server = await startTestServer(env, { database });
      const again = await connectSubscriber('sse', server.url, { token: user.token, since });
      await again.waitForCodes(HISTORY - 10);
      assert.deepEqual(again.codeIds, ring.slice(10), 'replay after a restart on the pruned database');
      assert.equal(again.of('reset').length, 0);
      await again.close();
    });
  });
}
