import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type ApiResponse, type TestServer } from './support/server.js';

interface CacheStats {
  size: number;
  negativeSize: number;
  hits: number;
  misses: number;
  negativeHits: number;
  hitRatio: number;
  databaseLookups: number;
}

function cacheStats(t: TestServer): CacheStats {
  return (t.server.stats() as { userCache: CacheStats }).userCache;
}

/** A well-formed token that no one holds. */
function unknownToken(): string {
  return `cc_${randomBytes(32).toString('base64url')}`;
}

async function withHeader(t: TestServer, path: string, authorization: string): Promise<ApiResponse> {
  return t.api('GET', path, { token: null, headers: { authorization } });
}

/** Runs `count` requests `width` at a time. */
async function flood<T>(count: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += width) {
    const batch = Array.from({ length: Math.min(width, count - start) }, (_, k) => one(start + k));
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

function assertError(res: ApiResponse, status: number, error: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.error, error, JSON.stringify(res.body));
  assert.equal(typeof res.body.message, 'string');
}

describe('who may do what', () => {
  let t: TestServer;
  before(async () => {
    // A budget that the tests here cannot exhaust: the flood tests below have their own server.
    t = await startTestServer({ CODECAST_AUTH_FAILURES_PER_MINUTE: '1000000' });
  });
  after(async () => {
    await t?.stop();
  });

  test('no token is 401 unauthorized with WWW-Authenticate', async () => {
    for (const path of ['/api/v1/codes', '/api/v1/me', '/api/v1/stats', '/api/v1/stream']) {
      const res = await t.api('GET', path, { token: null });
      assertError(res, 401, 'unauthorized');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/, path);
    }
    const publish = await t.api('POST', '/api/v1/codes', { token: null, body: { code: 'NOPE' } });
    assertError(publish, 401, 'unauthorized');
  });

  test('a malformed Authorization header is 401', async () => {
    for (const header of [
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'Bearer ',
      `Bearer ${t.adminToken} extra`,
      t.adminToken,
      `Token ${t.adminToken}`,
    ]) {
      const res = await withHeader(t, '/api/v1/me', header);
      assertError(res, 401, 'unauthorized');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });

  test('the scheme is case-insensitive', async () => {
    const res = await withHeader(t, '/api/v1/me', `bearer ${t.adminToken}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.user.role, 'admin');
  });

  test('an unknown token is 401', async () => {
    assertError(await t.api('GET', '/api/v1/me', { token: unknownToken() }), 401, 'unauthorized');
    assertError(await t.api('GET', '/api/v1/me', { token: 'tiny' }), 401, 'unauthorized');
  });

  test('?token= is only for the stream', async () => {
    const res = await t.api('GET', `/api/v1/codes?token=${encodeURIComponent(t.adminToken)}`, { token: null });
    assertError(res, 401, 'unauthorized');
  });

  test('a user token on an admin route is 403 forbidden; user routes work', async () => {
    const alice = await t.createUser('auth-alice');
    assert.equal((await t.api('GET', '/api/v1/me', { token: alice.token })).status, 200);
    assert.equal((await t.api('GET', '/api/v1/codes', { token: alice.token })).status, 200);
    const adminOnly: [string, string, unknown?][] = [
      ['POST', '/api/v1/codes', { code: 'FROM-USER' }],
      ['GET', '/api/v1/codes/1'],
      ['DELETE', '/api/v1/codes/1'],
      ['GET', '/api/v1/users'],
      ['POST', '/api/v1/users', { username: 'sneaky' }],
      ['GET', '/api/v1/settings'],
      ['PUT', '/api/v1/settings', { dedupCaseInsensitive: true }],
      ['GET', '/api/v1/stats'],
      ['GET', '/api/v1/audit'],
    ];
    for (const [method, path, body] of adminOnly) {
      const res = await t.api(method, path, { token: alice.token, body });
      assertError(res, 403, 'forbidden');
    }
    // Nothing was done by those attempts.
    const users = await t.api('GET', '/api/v1/users');
    assert.ok(!users.body.users.some((u: { username: string }) => u.username === 'sneaky'));
    assert.equal((await t.api('GET', '/api/v1/settings')).body.dedupCaseInsensitive, false);
  });

  test('a disabled user is 403 user_disabled, and works again once enabled', async () => {
    const bob = await t.createUser('auth-bob');
    assert.equal((await t.api('GET', '/api/v1/me', { token: bob.token })).status, 200); // now cached
    assert.equal((await t.api('PATCH', '/api/v1/users/auth-bob', { body: { disabled: true } })).status, 200);
    assertError(await t.api('GET', '/api/v1/me', { token: bob.token }), 403, 'user_disabled');
    assertError(await t.api('GET', '/api/v1/codes', { token: bob.token }), 403, 'user_disabled');
    assert.equal((await t.api('PATCH', '/api/v1/users/auth-bob', { body: { disabled: false } })).status, 200);
    assert.equal((await t.api('GET', '/api/v1/me', { token: bob.token })).status, 200);
  });

  test('a revoked token is 401 at once, even though it was cached', async () => {
    const carol = await t.createUser('auth-carol');
    assert.equal((await t.api('GET', '/api/v1/me', { token: carol.token })).status, 200);
    assert.equal((await t.api('DELETE', `/api/v1/tokens/${carol.tokenId}`)).status, 200);
    assertError(await t.api('GET', '/api/v1/me', { token: carol.token }), 401, 'unauthorized');
  });

  test('a demoted admin loses admin routes at once', async () => {
    const dave = await t.createUser('auth-dave', 'admin');
    assert.equal((await t.api('GET', '/api/v1/stats', { token: dave.token })).status, 200);
    assert.equal((await t.api('PATCH', '/api/v1/users/auth-dave', { body: { role: 'user' } })).status, 200);
    assertError(await t.api('GET', '/api/v1/stats', { token: dave.token }), 403, 'forbidden');
  });

  test('300 requests with the same unknown token reach the database at most once', async () => {
    const token = unknownToken();
    const before = cacheStats(t);
    const results = await flood(300, 30, () => t.api('GET', '/api/v1/me', { token }));
    for (const res of results) assertError(res, 401, 'unauthorized');
    const afterFlood = cacheStats(t);
    assert.ok(
      afterFlood.databaseLookups - before.databaseLookups <= 1,
      `lookups grew by ${afterFlood.databaseLookups - before.databaseLookups}`,
    );
    assert.ok(afterFlood.negativeHits - before.negativeHits >= 299 - 30, 'the negative cache answered');
    assert.ok(afterFlood.negativeSize >= 1);
  });

  test('malformed tokens never reach the database', async () => {
    const before = cacheStats(t);
    const results = await flood(50, 25, (i) => t.api('GET', '/api/v1/me', { token: `short${i}` }));
    for (const res of results) assertError(res, 401, 'unauthorized');
    // 257 characters is one too many.
    assertError(await t.api('GET', '/api/v1/me', { token: 'a'.repeat(257) }), 401, 'unauthorized');
    assert.equal(cacheStats(t).databaseLookups, before.databaseLookups);
  });

  test('a valid token used again and again is served from the cache', async () => {
    const erin = await t.createUser('auth-erin');
    await t.api('GET', '/api/v1/me', { token: erin.token });
    const before = cacheStats(t);
    for (let i = 0; i < 20; i++) assert.equal((await t.api('GET', '/api/v1/me', { token: erin.token })).status, 200);
    const afterUse = cacheStats(t);
    assert.equal(afterUse.databaseLookups, before.databaseLookups);
    assert.ok(afterUse.hits - before.hits >= 20, `hits grew by ${afterUse.hits - before.hits}`);
    assert.ok(afterUse.hitRatio > 0 && afterUse.hitRatio <= 1);
    assert.ok(afterUse.size >= 2, 'the admin and erin are cached');
    const viaApi = await t.api('GET', '/api/v1/stats');
    assert.equal(typeof viaApi.body.userCache.hitRatio, 'number');
    assert.ok(viaApi.body.userCache.hitRatio > 0);
  });
});

describe('a flood of distinct unknown tokens from one address', () => {
  const BUDGET = 20;
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_AUTH_FAILURES_PER_MINUTE: String(BUDGET) });
  });
  after(async () => {
    await t?.stop();
  });

  test('stops reaching the database after the budget, with 429 and Retry-After', async () => {
    // The admin token is known and cached before the flood.
    assert.equal((await t.api('GET', '/api/v1/me')).status, 200);
    const before = cacheStats(t);
    const results = await flood(300, 30, () => t.api('GET', '/api/v1/me', { token: unknownToken() }));
    const lookups = cacheStats(t).databaseLookups - before.databaseLookups;

    const unauthorized = results.filter((r) => r.status === 401);
    const limited = results.filter((r) => r.status === 429);
    assert.equal(unauthorized.length + limited.length, results.length, 'only 401 or 429');
    assert.ok(unauthorized.length >= BUDGET, `${unauthorized.length} were looked at before the limit`);
    assert.ok(limited.length >= 300 - 2 * BUDGET, `${limited.length} were limited`);
    // At most about the budget reached the database, not the flood.
    assert.ok(lookups <= BUDGET + 5, `the database was asked ${lookups} times`);
    for (const res of limited) {
      assertError(res, 429, 'too_many_auth_failures');
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${res.headers.get('retry-after')}`);
    }

    // Still limited afterwards, still without a lookup, also for malformed tokens.
    const lookupsNow = cacheStats(t).databaseLookups;
    assertError(await t.api('GET', '/api/v1/me', { token: unknownToken() }), 429, 'too_many_auth_failures');
    assertError(await t.api('GET', '/api/v1/me', { token: 'short' }), 429, 'too_many_auth_failures');
    assert.equal(cacheStats(t).databaseLookups, lookupsNow);

    // A known, cached token keeps working from that same address meanwhile.
    const me = await t.api('GET', '/api/v1/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.user.role, 'admin');
    const { id } = await t.publish('STILL-WORKS');
    assert.ok(id > 0);
  });
});
