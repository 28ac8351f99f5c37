// The user cache and the authenticator over a fake principal loader (the
// users/ port): stale-while-revalidate, the refresh age, an eviction racing
// a refresh, and what a database outage does to each. The clock is mocked.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { CodecastError, hashToken, type Principal } from '../src/domain/index.js';
import { Authenticator, UserCache, type PrincipalLoader, type UserCacheOptions } from '../src/users/index.js';
import { outage, principal } from './support/fakes.js';

const OPTIONS: UserCacheOptions = { maxEntries: 100, ttlMs: 180_000, refreshMs: 300_000, negativeMaxEntries: 100, negativeTtlMs: 60_000 };
const TOKEN = 'cc_user-token-0123456789abcdefghijklmnopqrstu';
const HASH = hashToken(TOKEN);

/** A loader the test answers by hand: each call waits until the test settles it. */
class ManualLoader {
  readonly calls: { hash: string; resolve: (p: Principal | undefined) => void; reject: (e: unknown) => void }[] = [];
  readonly load: PrincipalLoader = (hash) =>
    new Promise((resolve, reject) => {
      this.calls.push({ hash, resolve, reject });
    });

  /** Settles the oldest unsettled call. */
  answer(value: Principal | undefined | Error): void {
    const call = this.calls.shift();
    if (!call) throw new Error('no load is waiting');
    if (value instanceof Error) call.reject(value);
    else call.resolve(value);
  }
}

const disabled = (p: Principal): Principal => ({ ...p, user: { ...p.user, disabled: true } });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('user cache', () => {
  let loader: ManualLoader;
  let cache: UserCache;
  const alice = principal(1);

  beforeEach(() => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    loader = new ManualLoader();
    cache = new UserCache(OPTIONS, loader.load);
  });
  afterEach(() => mock.timers.reset());

  /** Loads alice into the cache, as a first authentication does. */
  async function warm(): Promise<void> {
    const first = cache.get(HASH);
    loader.answer(alice);
    assert.deepEqual(await first, alice);
  }

  test('within the TTL an entry is served without the database', async () => {
    await warm();
    mock.timers.tick(OPTIONS.ttlMs - 1);
    assert.deepEqual(await cache.get(HASH), alice);
    assert.equal(loader.calls.length, 0);
    assert.equal(cache.stats().hits, 1);
  });

  test('between the TTL and the refresh age it is served at once and revalidated behind', async () => {
    await warm();
    mock.timers.tick(OPTIONS.ttlMs);
    assert.deepEqual(await cache.get(HASH), alice, 'answered before the database was');
    assert.equal(loader.calls.length, 1, 'one revalidation started');
    assert.deepEqual(await cache.get(HASH), alice, 'a second ask joins it');
    assert.equal(loader.calls.length, 1);
    loader.answer(disabled(alice));
    await settle();
    assert.equal((await cache.get(HASH))?.user.disabled, true, 'the revalidated entry is served next');
  });

  test('past the refresh age the database must answer, unless it cannot', async () => {
    await warm();
    mock.timers.tick(OPTIONS.refreshMs);
    const waiting = cache.get(HASH);
    let answered = false;
    void waiting.then(() => (answered = true));
    await settle();
    assert.equal(answered, false, 'not served from the cache any more');
    loader.answer(outage());
    assert.deepEqual(await waiting, alice, 'a database outage does not sign out a known user');
  });

  test('an unknown token is remembered as unknown', async () => {
    const first = cache.get(HASH);
    loader.answer(undefined);
    assert.equal(await first, undefined);
    assert.equal(await cache.get(HASH), undefined);
    assert.equal(loader.calls.length, 0, 'the second ask does not reach the database');
    cache.forgetUnknown(HASH);
    const third = cache.get(HASH);
    assert.equal(loader.calls.length, 1);
    loader.answer(alice);
    assert.deepEqual(await third, alice);
  });

  test("an eviction during a refresh drops the refresh's answer and asks again", async () => {
    await warm();
    mock.timers.tick(OPTIONS.refreshMs);
    const waiting = cache.get(HASH);
    // The user is disabled while the refresh is out: its answer predates that.
    cache.evictUser(alice.user.id);
    loader.answer(alice);
    await settle();
    assert.equal(loader.calls.length, 1, 'asked again after the eviction');
    loader.answer(disabled(alice));
    assert.equal((await waiting)?.user.disabled, true);
    assert.equal((await cache.get(HASH))?.user.disabled, true, 'the stale answer was never cached');
  });

  test('evicting a token forgets only that token', async () => {
    await warm();
    cache.evictToken(alice.tokenId + 1);
    assert.equal(cache.has(HASH), true);
    cache.evictToken(alice.tokenId);
    assert.equal(cache.has(HASH), false);
  });
});

describe('authenticator while the database is down', () => {
  afterEach(() => mock.timers.reset());

  test('a user the cache does not know is told the database is unavailable, with a retry delay', async () => {
    const cache = new UserCache(OPTIONS, () => Promise.reject(outage()));
    const authenticator = new Authenticator(cache, 10);
    await assert.rejects(authenticator.authenticate(TOKEN, '10.0.0.1'), (error: unknown) => {
      assert.ok(error instanceof CodecastError);
      assert.equal(error.code, 'database_unavailable');
      assert.equal(error.retryAfterSeconds, 5);
      return true;
    });
  });

  test('a known user keeps connecting, even past the refresh age', async () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    let down = false;
    const cache = new UserCache(OPTIONS, async () => {
      if (down) throw outage();
      return principal(7);
    });
    const authenticator = new Authenticator(cache, 10);
    assert.equal((await authenticator.authenticate(TOKEN, '10.0.0.1')).user.id, 7);
    down = true;
    mock.timers.tick(OPTIONS.refreshMs * 10);
    assert.equal((await authenticator.authenticate(TOKEN, '10.0.0.1')).user.id, 7);
  });

  test('an error that is not an outage is not disguised as one', async () => {
    const cache = new UserCache(OPTIONS, () => Promise.reject(new TypeError('a bug')));
    const authenticator = new Authenticator(cache, 10);
    await assert.rejects(authenticator.authenticate(TOKEN, '10.0.0.1'), TypeError);
  });
});
