// The store's own promises, run unchanged over SQLite and PostgreSQL (issue
// 10), against `Store` itself rather than through HTTP: the schema the
// migrations make, ids, numbers that read back exactly, names unique
// regardless of case, acks once per user, idempotency keys per user, revoke
// once, settings, audit and transactions that commit whole or not at all.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Code, CodeDraft } from '../src/domain/index.js';
import { Store } from '../src/store/index.js';
import { storedRows } from './support/stored-rows.js';
import { STORE_KINDS, createStoreDatabase, databaseTarget, type StoreDatabase } from './support/stores.js';

const TABLES = ['users', 'tokens', 'codes', 'acks', 'idempotency_keys', 'settings', 'audit_log', 'auth_events', 'write_probe'];

// 2100-01-01: far past 2^31 (an int4 column would overflow), as every
// millisecond time of this century is; the store must keep it whole.
const FAR_MS = Date.UTC(2100, 0, 1);

let drafts = 0;
function draft(extra: Partial<CodeDraft> = {}): CodeDraft {
  return { code: `STORE-${++drafts}`, value: null, type: null, message: null, ttlSeconds: null, source: 'tests', ...extra };
}

for (const kind of STORE_KINDS) {
  describe(`store on ${kind}`, () => {
    let database: StoreDatabase | undefined;
    let store: Store | undefined;

    /** The open store; fails the test clearly when `before` could not open it. */
    const s = (): Store => {
      assert.ok(store, `the ${kind} store did not open`);
      return store;
    };
    const now = () => new Date();
    const insert = async (
      d: CodeDraft = draft(),
      nowMs = Date.now(),
      extras: Parameters<Store['codes']['insert']>[4] = {},
    ): Promise<Code> => {
      const inserted = await s().codes.insert(d, d.code, null, nowMs, extras);
      assert.ok('id' in inserted, `stored, not an earlier publish: ${JSON.stringify(inserted)}`);
      return inserted;
    };
    let users = 0;
    async function newUser(role: 'user' | 'admin' = 'user'): Promise<number> {
      const user = await s().users.create(`${kind}-user-${++users}`, role, now());
      assert.ok(user);
      return user.id;
    }

    before(async () => {
      database = await createStoreDatabase(kind, 'store');
      store = await Store.open(databaseTarget(database));
    });
    after(async () => {
      await store?.close();
      await database?.drop();
    });

    test('migrations create every table; running them again, or opening again, changes nothing', async () => {
      assert.ok(database);
      const tables = await storedRows(database.store, database.url);
      for (const table of TABLES) assert.ok(tables.has(table), `no table ${table} in ${[...tables.keys()].join(', ')}`);
      assert.deepEqual(await s().migrate(), [], 'nothing left to apply');
      const again = await Store.open(databaseTarget(database));
      try {
        assert.deepEqual(await again.migrate(), []);
        assert.deepEqual(await again.health(), { ok: true });
      } finally {
        await again.close();
      }
      assert.deepEqual(await s().health(), { ok: true });
    });

    test('ids are numbers and increase: codes, users, tokens, audit entries, auth events', async () => {
      const codes = [await insert(), await insert(), await insert()];
      for (const code of codes) assert.ok(Number.isSafeInteger(code.id) && code.id > 0, `code id ${String(code.id)} (${typeof code.id})`);
      assert.ok(codes[0]!.id < codes[1]!.id && codes[1]!.id < codes[2]!.id);
      const found = await s().codes.byId(codes[2]!.id);
      assert.equal(found?.id, codes[2]!.id, 'read back as the same number');

      const [u1, u2] = [await newUser(), await newUser()];
      assert.ok(Number.isSafeInteger(u1) && u1 < u2);
      const [t1, t2] = [
        await s().users.addToken(u1, `hash-a-${kind}`, null, now()),
        await s().users.addToken(u1, `hash-b-${kind}`, 'b', now()),
      ];
      assert.ok(Number.isSafeInteger(t1.id) && t1.id < t2.id);

      await s().audit.record({ actor: 'tests', action: 'test.one', target: null, details: null }, now());
      await s().audit.record({ actor: 'tests', action: 'test.two', target: null, details: { n: 2 } }, now());
      const [newest, older] = await s().audit.list(2);
      assert.ok(newest && older && Number.isSafeInteger(newest.id) && newest.id > older.id);

      await s().authEvents.record('user_changed', u1, null, Date.now());
      await s().authEvents.record('token_revoked', u1, t1.id, FAR_MS);
      const last = await s().authEvents.lastId();
      assert.ok(Number.isSafeInteger(last));
      const events = (await s().authEvents.after(0)).slice(-2);
      assert.equal(events[1]?.id, last);
      assert.deepEqual(
        events.map((e) => [e.kind, e.userId, e.tokenId]),
        [
          ['user_changed', u1, null],
          ['token_revoked', u1, t1.id],
        ],
      );
      assert.ok(events[0]!.id < events[1]!.id);
    });

    test('a fractional value reads back exactly, through every read', async () => {
      const values = [3.25159, -2.5, 0, 1e-7, 123456789.125];
      const codes = [];
      for (const value of values) codes.push(await insert(draft({ value })));
      for (const [i, code] of codes.entries()) {
        assert.equal(code.value, values[i], 'as inserted');
        assert.equal((await s().codes.byId(code.id))?.value, values[i], 'byId');
      }
      const listed = await s().codes.list({ since: codes[0]!.id - 1, limit: 100, includeInactive: false, nowMs: Date.now() });
      assert.deepEqual(
        listed.map((c) => c.value),
        values,
        'list',
      );
      const { codes: newest } = await s().codes.newest(values.length);
      assert.deepEqual(
        newest.map((c) => c.value),
        values,
        'newest',
      );
      assert.equal((await insert(draft({ value: null }))).value, null, 'no value stays null');
    });

    test('an insert under an Idempotency-Key already used stores nothing and answers the first publish', async () => {
      const first = await insert(draft(), Date.now(), { idempotency: { key: 'idem-store', requestHash: 'h1', userId: 7 } });
      const again = await s().codes.insert(draft(), 'other-key', null, Date.now(), {
        idempotency: { key: 'idem-store', requestHash: 'h2', userId: 7 },
      });
      assert.ok('earlier' in again, JSON.stringify(again));
      assert.equal(again.earlier.code.id, first.id);
      assert.equal(again.earlier.requestHash, 'h1');
      // Keys are per user: another user's same key is a publish of its own.
      assert.ok(
        'id' in
          (await s().codes.insert(draft(), 'third', null, Date.now(), {
            idempotency: { key: 'idem-store', requestHash: 'h3', userId: 8 },
          })),
      );
    });

    test('an insert inside the dedup window stores nothing and names the earlier code', async () => {
      const d = draft();
      const first = await insert(d, 5_000_000);
      const again = await s().codes.insert(d, d.code, null, 5_001_000, { dedupSinceMs: 5_001_000 - 2_000 });
      assert.deepEqual(again, { duplicateOf: first.id });
      const later = await s().codes.insert(d, d.code, null, 5_003_000, { dedupSinceMs: 5_003_000 - 2_000 });
      assert.ok('id' in later && later.id > first.id, 'outside the window it is stored');
    });

    test('a published_at_ms past 2^31 is kept whole: dedup finds it by it, its times read back', async () => {
      const d = draft({ ttlSeconds: 60 });
      const code = await insert(d, FAR_MS);
      assert.equal(code.publishedAt, new Date(FAR_MS).toISOString());
      assert.equal(code.expiresAt, new Date(FAR_MS + 60_000).toISOString());
      const dedup = (sinceMs: number) => s().codes.insert(d, d.code, null, FAR_MS + 500, { dedupSinceMs: sinceMs });
      assert.deepEqual(await dedup(FAR_MS - 1), { duplicateOf: code.id }, 'published at or after the window start');
      assert.deepEqual(await dedup(FAR_MS), { duplicateOf: code.id }, 'at the very millisecond');
      const stored = await s().codes.byId(code.id);
      assert.equal(stored?.publishedAt, new Date(FAR_MS).toISOString());
      // Not expired at the time it was published, expired a minute later.
      const live = await s().codes.list({ since: code.id - 1, limit: 1, includeInactive: false, nowMs: FAR_MS });
      assert.deepEqual(
        live.map((c) => c.id),
        [code.id],
      );
      const gone = await s().codes.list({ since: code.id - 1, limit: 1, includeInactive: false, nowMs: FAR_MS + 60_001 });
      assert.deepEqual(gone, []);
      // Last, since it stores a code: a window starting after it is no duplicate.
      const later = await dedup(FAR_MS + 1);
      assert.ok('id' in later && later.id > code.id, 'published before the window');
    });

    test('user names are unique regardless of case', async () => {
      const alice = await s().users.create(`Alice-${kind}`, 'user', now());
      assert.ok(alice);
      assert.equal(await s().users.create(`alice-${kind}`, 'user', now()), undefined, 'lower case');
      assert.equal(await s().users.create(`ALICE-${kind.toUpperCase()}`, 'admin', now()), undefined, 'upper case');
      assert.equal(await s().users.create(`Alice-${kind}`, 'user', now()), undefined, 'the same name');
      assert.equal((await s().users.byName(`aLiCe-${kind}`))?.id, alice.id);
      assert.equal((await s().users.byName(`Alice-${kind}`))?.username, `Alice-${kind}`, 'the name as first written');
      assert.equal((await s().users.list()).filter((u) => u.username.toLowerCase() === `alice-${kind}`).length, 1);
    });

    test('acks count once per (code, user): the first one stays, in one batch or across batches', async () => {
      const [a, b] = [await insert(), await insert()];
      const [u1, u2, u3] = [await newUser(), await newUser(), await newUser()];
      const at = Date.now();
      await s().codes.addAcks([
        { codeId: a.id, userId: u1, ackedAtMs: at, latencyMs: 5 },
        // The same user and code again in the same batch: ignored.
        { codeId: a.id, userId: u1, ackedAtMs: at + 1, latencyMs: 900 },
        { codeId: a.id, userId: u2, ackedAtMs: at, latencyMs: 7 },
        { codeId: b.id, userId: u1, ackedAtMs: at, latencyMs: 3 },
      ]);
      // And in a later batch: ignored too, the new user counted.
      await s().codes.addAcks([
        { codeId: a.id, userId: u2, ackedAtMs: at + 2, latencyMs: 800 },
        { codeId: a.id, userId: u3, ackedAtMs: at + 2, latencyMs: 11 },
      ]);
      await s().codes.addAcks([]);
      assert.deepEqual(await s().codes.ackFigures(a.id), { users: 3, medianMs: 7, p99Ms: 11 });
      assert.deepEqual(await s().codes.ackFigures(b.id), { users: 1, medianMs: 3, p99Ms: 3 });
      const c = await insert();
      assert.deepEqual(await s().codes.ackFigures(c.id), { users: 0, medianMs: null, p99Ms: null });

      assert.deepEqual(
        (await s().codes.ackedBy(u1, [a.id, b.id, c.id, 999_999])).sort((x, y) => x - y),
        [a.id, b.id],
      );
      assert.deepEqual(await s().codes.ackedBy(u3, [b.id, c.id]), []);
      assert.deepEqual(await s().codes.ackedBy(u2, []), []);
    });

    test('many acks and lookups at once, past every chunk size', async () => {
      const code = await insert();
      const ids: number[] = [];
      for (let i = 0; i < 300; i++) ids.push(await newUser());
      await s().codes.addAcks(ids.map((userId, i) => ({ codeId: code.id, userId, ackedAtMs: Date.now(), latencyMs: i })));
      const figures = await s().codes.ackFigures(code.id);
      assert.deepEqual(figures, { users: 300, medianMs: 149, p99Ms: 296 });
      const codes = [code.id];
      for (let i = 0; i < 20; i++) codes.push((await insert()).id);
      assert.deepEqual(await s().codes.ackedBy(ids[0]!, codes), [code.id]);
      assert.equal((await s().codes.byIds(codes)).length, codes.length);
    });

    test('Idempotency-Keys are per user, and a clash commits nothing of its publish', async () => {
      const [admin1, admin2] = [await newUser('admin'), await newUser('admin')];
      const key = `order-${kind}`;
      const first = await insert(draft(), Date.now(), { idempotency: { key, requestHash: 'h1', userId: admin1 } });
      const second = await insert(draft(), Date.now(), { idempotency: { key, requestHash: 'h2', userId: admin2 } });
      assert.ok(second.id > first.id, 'another admin may use the same key');

      const one = await s().codes.idempotent(admin1, key);
      assert.equal(one?.requestHash, 'h1');
      assert.equal(one?.code.id, first.id);
      assert.equal(one?.code.code, first.code);
      assert.equal((await s().codes.idempotent(admin2, key))?.code.id, second.id);
      assert.equal(await s().codes.idempotent(admin1, 'no-such-key'), undefined);

      // The same user and key again: answered with the first publish, and nothing of its own is stored.
      const clashing = draft();
      const clash = await s().codes.insert(clashing, clashing.code, null, Date.now(), {
        idempotency: { key, requestHash: 'h3', userId: admin1 },
      });
      assert.ok('earlier' in clash, JSON.stringify(clash));
      assert.equal(clash.earlier.code.id, first.id);
      const stored = await s().codes.list({ since: second.id, limit: 1000, includeInactive: true, nowMs: Date.now() });
      assert.ok(!stored.some((c) => c.code === clashing.code), 'the publish of a clashing key is not stored');
    });

    test('a code is revoked once, with one audit entry; revoked codes leave lists and dedup', async () => {
      const d = draft();
      const code = await insert(d);
      const audit = { actor: 'tests', action: 'code.revoke', target: String(code.id), details: null };
      assert.equal(await s().codes.revoke(code.id, now(), audit), true);
      assert.equal(await s().codes.revoke(code.id, now(), audit), false, 'the second time');
      assert.equal(await s().codes.revoke(999_999_999, now(), audit), false, 'an unknown id');

      const stored = await s().codes.byId(code.id);
      assert.ok(stored?.revokedAt && !Number.isNaN(Date.parse(stored.revokedAt)));
      const entries = await s().audit.list(1000);
      assert.equal(entries.filter((e) => e.action === 'code.revoke' && e.target === String(code.id)).length, 1);
      const since = code.id - 1;
      assert.deepEqual(
        (await s().codes.list({ since, limit: 1, includeInactive: false, nowMs: Date.now() }))
          .map((c) => c.id)
          .filter((id) => id === code.id),
        [],
      );
      assert.deepEqual(
        (await s().codes.list({ since, limit: 1, includeInactive: true, nowMs: Date.now() })).map((c) => c.id),
        [code.id],
      );
      const again = await s().codes.insert(d, d.code, null, Date.now(), { dedupSinceMs: 0 });
      assert.ok('id' in again, 'a revoked code is no duplicate');
    });

    test('delivery counts add up per transport', async () => {
      const code = await insert(draft(), Date.now(), { audience: { sse: 2, ws: 1, socketio: 0 } });
      await s().codes.addDeliveries(code.id, { sse: 1, ws: 0, socketio: 4 }, 3);
      const stored = await s().codes.byId(code.id);
      assert.deepEqual(stored?.delivered, { sse: 3, ws: 1, socketio: 4 });
      assert.equal(stored?.replayed, 3);
    });

    test('delivery counts of many codes add up in one batch', async () => {
      const first = await insert(draft(), Date.now(), { audience: { sse: 1, ws: 0, socketio: 0 } });
      const second = await insert(draft(), Date.now());
      await s().codes.addDeliveriesBatch([
        { codeId: second.id, counts: { sse: 0, ws: 2, socketio: 1 }, replayed: 1 },
        { codeId: first.id, counts: { sse: 5, ws: 0, socketio: 0 }, replayed: 0 },
      ]);
      await s().codes.addDeliveriesBatch([{ codeId: first.id, counts: { sse: 1, ws: 1, socketio: 1 }, replayed: 2 }]);
      assert.deepEqual((await s().codes.byId(first.id))?.delivered, { sse: 7, ws: 1, socketio: 1 });
      assert.equal((await s().codes.byId(first.id))?.replayed, 2);
      assert.deepEqual((await s().codes.byId(second.id))?.delivered, { sse: 0, ws: 2, socketio: 1 });
      assert.equal((await s().codes.byId(second.id))?.replayed, 1);
    });

    test('settings hold JSON values; a put overwrites, with its audit entry', async () => {
      await s().settings.put({ dedupCaseInsensitive: true, defaultValue: 2.5, nested: { a: [1, 'two'] } });
      await s().settings.put(
        { defaultValue: null },
        { entry: { actor: 'tests', action: 'settings.update', target: null, details: { defaultValue: null } }, now: now() },
      );
      const all = await s().settings.all();
      assert.deepEqual(all, { dedupCaseInsensitive: true, defaultValue: null, nested: { a: [1, 'two'] } });
      const [entry] = await s().audit.list(1);
      assert.equal(entry?.action, 'settings.update');
      assert.deepEqual(entry?.details, { defaultValue: null });
    });

    test('audit: newest first, limited, before an id; details read back as objects', async () => {
      for (let i = 0; i < 5; i++) await s().audit.record({ actor: null, action: 'test.page', target: String(i), details: { i } }, now());
      const page = await s().audit.list(3);
      assert.deepEqual(
        page.map((e) => e.target),
        ['4', '3', '2'],
      );
      assert.deepEqual(page[0]?.details, { i: 4 });
      assert.equal(page[0]?.actor, null);
      const next = await s().audit.list(2, page[2]!.id);
      assert.deepEqual(
        next.map((e) => e.target),
        ['1', '0'],
      );
    });

    test('a transaction that throws commits nothing of it', async () => {
      const name = `rolled-back-${kind}`;
      await assert.rejects(
        s().transaction(async (tx) => {
          const user = await tx.users.create(name, 'user', now());
          assert.ok(user);
          await tx.audit.record({ actor: 'tests', action: 'user.create', target: name, details: null }, now());
          await tx.authEvents.record('user_changed', user.id, null, Date.now());
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(await s().users.byName(name), undefined);
      assert.ok(!(await s().audit.list(1000)).some((e) => e.target === name));
    });

    test('tokens: the user behind a live token, none after revoke, revoke once', async () => {
      const userId = await newUser();
      const token = await s().users.addToken(userId, `hash-live-${kind}`, 'label', now());
      assert.equal((await s().users.principalByTokenHash(`hash-live-${kind}`))?.user.id, userId);
      assert.deepEqual(await s().users.revokeToken(token.id, now()), { userId });
      assert.equal(await s().users.revokeToken(token.id, now()), undefined, 'the second time');
      assert.equal(await s().users.principalByTokenHash(`hash-live-${kind}`), undefined);
      assert.equal(await s().users.tokenExists(token.id), true);
      const [listed] = await s().users.tokensOf(userId);
      assert.ok(listed?.revokedAt);
      const disabled = await s().users.update(userId, { disabled: true, role: 'admin' });
      assert.equal(disabled?.disabled, true);
      assert.equal(disabled?.role, 'admin');
      assert.ok((await s().users.countAdmins()) >= 1);
    });
  });
}
