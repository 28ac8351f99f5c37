import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashToken, looksLikeToken } from '../src/domain/index.js';
import { STORE_KINDS, startTestServer, type ApiResponse, type TestServer } from './support/server.js';
import { SseReader, waitFor } from './support/sse.js';
import { storedRows } from './support/stored-rows.js';

// Users and tokens are what a store keeps: on each (issue 10).
for (const store of STORE_KINDS) {
  describe(`users and tokens on ${store}`, () => {
    let t: TestServer;
    /** Every clear token the server handed out in this file, to look for in the database. */
    const issued: string[] = [];

    before(async () => {
      t = await startTestServer({}, { store });
      issued.push(t.adminToken);
    });
    after(async () => {
      await t?.stop();
    });

    function assertError(res: ApiResponse, status: number, error: string): void {
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body?.error, error, JSON.stringify(res.body));
    }

    async function waitForConnections(total: number): Promise<void> {
      await waitFor(
        () => (t.server.stats() as { connections: { total: number } }).connections.total === total,
        `${total} open connections`,
      );
    }

    test('creating a user answers it and its first token, once', async () => {
      const res = await t.api('POST', '/api/v1/users', { body: { username: 'uma' } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const { user, token } = res.body;
      assert.deepEqual(Object.keys(res.body).sort(), ['token', 'user']);
      assert.equal(user.username, 'uma');
      assert.equal(user.role, 'user', 'the role defaults to user');
      assert.equal(user.disabled, false);
      assert.ok(Number.isInteger(user.id));
      assert.ok(!Number.isNaN(Date.parse(user.createdAt)));
      assert.equal(typeof token.token, 'string');
      assert.ok(looksLikeToken(token.token));
      assert.ok(Number.isInteger(token.id));
      assert.equal(token.revokedAt, null);
      assert.ok(!Number.isNaN(Date.parse(token.createdAt)));
      issued.push(token.token);

      // The token works and names the user.
      const me = await t.api('GET', '/api/v1/me', { token: token.token });
      assert.equal(me.status, 200);
      assert.deepEqual(me.body, { user, tokenId: token.id });

      // Nothing later shows the token again.
      const shown = await t.api('GET', '/api/v1/users/uma');
      assert.equal(shown.status, 200);
      assert.ok(!JSON.stringify(shown.body).includes(token.token));
    });

    test('an admin can be created; two users never get the same token', async () => {
      const res = await t.api('POST', '/api/v1/users', { body: { username: 'ada.admin', role: 'admin' } });
      assert.equal(res.status, 201);
      assert.equal(res.body.user.role, 'admin');
      issued.push(res.body.token.token);
      assert.equal(new Set(issued).size, issued.length);
      assert.equal((await t.api('GET', '/api/v1/stats', { token: res.body.token.token })).status, 200);
    });

    test('a duplicate name is 409 user_exists', async () => {
      await t.createUser('dupe');
      const res = await t.api('POST', '/api/v1/users', { body: { username: 'dupe', role: 'admin' } });
      assertError(res, 409, 'user_exists');
      // The existing user was not changed.
      assert.equal((await t.api('GET', '/api/v1/users/dupe')).body.user.role, 'user');
    });

    test('a bad username or body is 400', async () => {
      for (const username of ['', 'has space', '-lead', '.dot', 'slash/inside', 'x'.repeat(65), 'tab\tname']) {
        const res = await t.api('POST', '/api/v1/users', { body: { username } });
        assertError(res, 400, 'invalid_request');
      }
      assertError(await t.api('POST', '/api/v1/users', { body: { username: 'ok-name', role: 'root' } }), 400, 'invalid_request');
      assertError(await t.api('POST', '/api/v1/users', { body: { username: 'ok-name', admin: true } }), 400, 'invalid_request');
      assertError(await t.api('POST', '/api/v1/users', { body: { role: 'user' } }), 400, 'invalid_request');
      assertError(await t.api('POST', '/api/v1/users', { body: { username: 42 } }), 400, 'invalid_request');
      const domainCheck = await t.api('POST', '/api/v1/users', { body: { username: 'has space' } });
      assert.equal(domainCheck.body.field, 'username');
      // None of them was created.
      const list = await t.api('GET', '/api/v1/users');
      assert.ok(!list.body.users.some((u: { username: string }) => u.username === 'ok-name' || u.username === 'has space'));
    });

    test('the list holds every user without any token material', async () => {
      const res = await t.api('GET', '/api/v1/users');
      assert.equal(res.status, 200);
      const names = res.body.users.map((u: { username: string }) => u.username);
      for (const name of ['admin', 'uma', 'ada.admin', 'dupe']) assert.ok(names.includes(name), name);
      for (const user of res.body.users) {
        assert.deepEqual(Object.keys(user).sort(), ['createdAt', 'disabled', 'id', 'role', 'username']);
      }
      const text = JSON.stringify(res.body);
      for (const token of issued) {
        assert.ok(!text.includes(token));
        assert.ok(!text.includes(hashToken(token)));
      }
    });

    test('one user with its tokens, which show neither the token nor its hash', async () => {
      const created = await t.api('POST', '/api/v1/users/uma/tokens', { body: { label: 'laptop' } });
      assert.equal(created.status, 201);
      issued.push(created.body.token.token);
      const res = await t.api('GET', '/api/v1/users/uma');
      assert.equal(res.status, 200);
      assert.equal(res.body.user.username, 'uma');
      assert.equal(res.body.tokens.length, 2);
      for (const token of res.body.tokens) {
        assert.deepEqual(Object.keys(token).sort(), ['createdAt', 'id', 'label', 'revokedAt']);
      }
      assert.deepEqual(
        res.body.tokens.map((tk: { label: string | null }) => tk.label),
        ['first token', 'laptop'],
      );
      const text = JSON.stringify(res.body);
      for (const token of issued) {
        assert.ok(!text.includes(token));
        assert.ok(!text.includes(hashToken(token)));
      }
      assertError(await t.api('GET', '/api/v1/users/nobody'), 404, 'user_not_found');
    });

    test("disable, enable and role changes; disabling closes the user's streams", async () => {
      const vic = await t.createUser('vic');
      issued.push(vic.token);
      const reader = await SseReader.open(t.url, { token: vic.token });
      try {
        await reader.waitForEvent('hello');

        const disabled = await t.api('PATCH', '/api/v1/users/vic', { body: { disabled: true } });
        assert.equal(disabled.status, 200);
        assert.equal(disabled.body.user.disabled, true);
        await reader.waitForEnd();
        assertError(await t.api('GET', '/api/v1/me', { token: vic.token }), 403, 'user_disabled');
        assert.equal((await t.api('GET', '/api/v1/users/vic')).body.user.disabled, true);

        const enabled = await t.api('PATCH', '/api/v1/users/vic', { body: { disabled: false } });
        assert.equal(enabled.body.user.disabled, false);
        assert.equal((await t.api('GET', '/api/v1/me', { token: vic.token })).status, 200);

        const promoted = await t.api('PATCH', '/api/v1/users/vic', { body: { role: 'admin' } });
        assert.equal(promoted.body.user.role, 'admin');
        assert.equal((await t.api('GET', '/api/v1/stats', { token: vic.token })).status, 200);
        const demoted = await t.api('PATCH', '/api/v1/users/vic', { body: { role: 'user' } });
        assert.equal(demoted.body.user.role, 'user');
        assertError(await t.api('GET', '/api/v1/stats', { token: vic.token }), 403, 'forbidden');
      } finally {
        reader.close();
      }
      await waitForConnections(0);

      assertError(await t.api('PATCH', '/api/v1/users/vic', { body: {} }), 400, 'invalid_request');
      assertError(await t.api('PATCH', '/api/v1/users/vic', { body: { disabled: 'yes' } }), 400, 'invalid_request');
      assertError(await t.api('PATCH', '/api/v1/users/vic', { body: { username: 'renamed' } }), 400, 'invalid_request');
      assertError(await t.api('PATCH', '/api/v1/users/nobody', { body: { disabled: true } }), 404, 'user_not_found');
    });

    test('an admin cannot disable or demote itself', async () => {
      const me = await t.api('GET', '/api/v1/me');
      const name = me.body.user.username;
      assertError(await t.api('PATCH', `/api/v1/users/${name}`, { body: { disabled: true } }), 400, 'invalid_request');
      assertError(await t.api('PATCH', `/api/v1/users/${name}`, { body: { role: 'user' } }), 400, 'invalid_request');
      // Still an enabled admin.
      const after = await t.api('GET', '/api/v1/me');
      assert.equal(after.body.user.role, 'admin');
      assert.equal(after.body.user.disabled, false);
      // The same holds for any admin acting on itself.
      const ada = await t.api('POST', '/api/v1/users/ada.admin/tokens', { body: {} });
      issued.push(ada.body.token.token);
      assertError(
        await t.api('PATCH', '/api/v1/users/ada.admin', { token: ada.body.token.token, body: { role: 'user' } }),
        400,
        'invalid_request',
      );
      // Setting one's own harmless fields is fine.
      assert.equal((await t.api('PATCH', `/api/v1/users/${name}`, { body: { disabled: false } })).status, 200);
    });

    test('tokens: create, use, revoke (twice is harmless), unknown id 404', async () => {
      const wes = await t.createUser('wes');
      issued.push(wes.token);
      const created = await t.api('POST', '/api/v1/users/wes/tokens', { body: { label: 'phone' } });
      assert.equal(created.status, 201);
      const token = created.body.token;
      issued.push(token.token);
      assert.equal(token.label, 'phone');
      assert.equal(token.revokedAt, null);
      assert.ok(looksLikeToken(token.token));
      assert.notEqual(token.token, wes.token);
      const noLabel = await t.api('POST', '/api/v1/users/wes/tokens');
      assert.equal(noLabel.status, 201);
      assert.equal(noLabel.body.token.label, null);
      issued.push(noLabel.body.token.token);

      const me = await t.api('GET', '/api/v1/me', { token: token.token });
      assert.equal(me.status, 200);
      assert.equal(me.body.user.username, 'wes');
      assert.equal(me.body.tokenId, token.id);

      // Revoking closes that token's stream, not the user's other one.
      const onPhone = await SseReader.open(t.url, { token: token.token });
      const onFirst = await SseReader.open(t.url, { token: wes.token });
      try {
        await onPhone.waitForEvent('hello');
        await onFirst.waitForEvent('hello');
        const revoked = await t.api('DELETE', `/api/v1/tokens/${token.id}`);
        assert.equal(revoked.status, 200);
        assert.deepEqual(revoked.body, { id: token.id, revoked: true });
        await onPhone.waitForEnd();
        assertError(await t.api('GET', '/api/v1/me', { token: token.token }), 401, 'unauthorized');
        assert.equal((await t.api('GET', '/api/v1/me', { token: wes.token })).status, 200);
        assert.equal(onFirst.ended, false);
      } finally {
        onPhone.close();
        onFirst.close();
      }
      await waitForConnections(0);

      const again = await t.api('DELETE', `/api/v1/tokens/${token.id}`);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { id: token.id, revoked: true });
      const listed = await t.api('GET', '/api/v1/users/wes');
      const row = listed.body.tokens.find((tk: { id: number }) => tk.id === token.id);
      assert.ok(row.revokedAt !== null && !Number.isNaN(Date.parse(row.revokedAt)));
      assert.equal(listed.body.tokens.find((tk: { id: number }) => tk.id === wes.tokenId).revokedAt, null);

      assertError(await t.api('DELETE', '/api/v1/tokens/987654'), 404, 'token_not_found');
      assertError(await t.api('DELETE', '/api/v1/tokens/abc'), 400, 'invalid_request');
      assertError(await t.api('POST', '/api/v1/users/nobody/tokens', { body: {} }), 404, 'user_not_found');
      assertError(await t.api('POST', '/api/v1/users/wes/tokens', { body: { label: 'x'.repeat(101) } }), 400, 'invalid_request');
    });

    test('GET /me for a user', async () => {
      const xia = await t.createUser('xia');
      issued.push(xia.token);
      const res = await t.api('GET', '/api/v1/me', { token: xia.token });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body).sort(), ['tokenId', 'user']);
      assert.equal(res.body.user.username, 'xia');
      assert.equal(res.body.user.role, 'user');
      assert.equal(res.body.user.id, xia.id);
      assert.equal(res.body.tokenId, xia.tokenId);
    });

    test('tokens are never stored in clear', async () => {
      assert.ok(issued.length >= 8);
      const tables = await storedRows(t.store, t.databaseUrl);
      const rows = tables.get('tokens') ?? [];
      assert.ok(rows.length >= issued.length);
      const hashes = new Set(rows.map((r) => r.hash));
      for (const token of issued) {
        assert.ok(hashes.has(hashToken(token)), 'each token is stored as its hash');
        for (const row of rows) {
          for (const [column, value] of Object.entries(row)) {
            assert.ok(!String(value).includes(token), `tokens.${column} holds a clear token`);
          }
        }
      }
      // Nor anywhere else: every text cell of every table.
      assert.ok(tables.has('audit_log'));
      for (const [name, tableRows] of tables) {
        for (const row of tableRows) {
          for (const [column, value] of Object.entries(row)) {
            if (typeof value !== 'string') continue;
            for (const token of issued) assert.ok(!value.includes(token), `${name}.${column} holds a clear token`);
          }
        }
      }
    });

    test('stats: fields present and sensible', async () => {
      const yan = await t.createUser('yan');
      const readers = [
        await SseReader.open(t.url, { token: yan.token }),
        await SseReader.open(t.url, { token: yan.token }),
        await SseReader.open(t.url, { token: t.adminToken }),
      ];
      try {
        for (const reader of readers) await reader.waitForEvent('hello');
        const res = await t.api('GET', '/api/v1/stats');
        assert.equal(res.status, 200);
        const s = res.body;
        assert.ok(s.memory.rss > 0);
        assert.ok(s.memory.heapUsed > 0);
        assert.ok(s.memory.heapUsed <= s.memory.heapTotal);
        assert.equal(s.connections.total, 3);
        assert.deepEqual(s.connections.byTransport, { sse: 3, ws: 0, socketio: 0 });
        assert.ok(s.connections.opened >= 3);
        assert.equal(s.usersOnline, 2);
        assert.ok(s.queuedBytes >= 0);
        assert.equal(typeof s.closes, 'object');
        assert.ok(s.closes.user_disabled >= 1, 'vic was disabled while connected');
        assert.equal(s.slowConsumerCloses, 0);
        assert.equal(s.staleCloses, 0);
        assert.equal(typeof s.deliveries.live, 'object');
        assert.equal(typeof s.deliveries.replayed, 'number');
        assert.deepEqual(Object.keys(s.codes).sort(), ['held', 'lastId', 'published']);
        for (const key of ['size', 'negativeSize', 'hits', 'misses', 'negativeHits', 'hitRatio', 'databaseLookups']) {
          assert.equal(typeof s.userCache[key], 'number', key);
        }
        assert.ok(s.userCache.size >= 2, 'the admin and yan are cached');
        assert.ok(s.userCache.databaseLookups >= 2);
        assert.ok(s.userCache.hitRatio >= 0 && s.userCache.hitRatio <= 1);
        assert.ok(s.database.queries > 0);
        assert.ok(s.uptimeSeconds >= 0);

        // A code reaches all three and shows in the figures.
        const { id, audience } = await t.publish('STATS-1');
        assert.equal(audience, 3);
        const afterPublish = (await t.api('GET', '/api/v1/stats')).body;
        assert.equal(afterPublish.codes.lastId, id);
        assert.equal(afterPublish.codes.published, s.codes.published + 1);
        assert.equal(afterPublish.deliveries.live.sse, s.deliveries.live.sse + 3);
      } finally {
        for (const reader of readers) reader.close();
      }
      await waitForConnections(0);
      const closed = (await t.api('GET', '/api/v1/stats')).body;
      assert.equal(closed.connections.total, 0);
      assert.equal(closed.usersOnline, 0);
    });

    test('/healthz and /readyz answer 200 without a token', async () => {
      const health = await t.api('GET', '/healthz', { token: null });
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok' });
      const ready = await t.api('GET', '/readyz', { token: null });
      assert.equal(ready.status, 200);
      assert.equal(ready.body.status, 'ready');
      assert.equal(ready.body.database, 'ok');
    });
  });
}
