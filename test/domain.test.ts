import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { relativeBase } from '../src/config/database-url.js';
import { ConfigError, loadConfig, settingsTable, unknownSettings } from '../src/config/index.js';
import {
  CODE_MAX_CHARS,
  CodecastError,
  MESSAGE_MAX_CHARS,
  dedupKey,
  draftCode,
  hashToken,
  isExpired,
  looksLikeToken,
  newToken,
  type Code,
} from '../src/domain/index.js';
import { HistoryRing } from '../src/hub/history-ring.js';

/** Runs `fn` and answers the CodecastError it threw; fails if it threw nothing or something else. */
function thrown(fn: () => unknown): CodecastError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CodecastError, `expected a CodecastError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a CodecastError, nothing was thrown');
}

function invalidField(input: Parameters<typeof draftCode>[0], defaultValue: number | null = null): unknown {
  const error = thrown(() => draftCode(input, defaultValue));
  assert.equal(error.code, 'invalid_code');
  assert.equal(error.status, 400);
  return error.details?.field;
}

describe('draftCode', () => {
  test('trims the code and fills the defaults', () => {
    const draft = draftCode({ code: '  SUMMER-26 \t' }, null);
    assert.deepEqual(draft, { code: 'SUMMER-26', value: null, type: null, message: null, ttlSeconds: null, source: 'api' });
  });

  test('keeps every given field', () => {
    const draft = draftCode({ code: 'X1', value: 3, type: 'drop', message: ' hello\nworld\tthere ', ttlSeconds: 60, source: 'cli' }, 7);
    assert.deepEqual(draft, { code: 'X1', value: 3, type: 'drop', message: 'hello\nworld\tthere', ttlSeconds: 60, source: 'cli' });
  });

  test('the default value fills only a missing value', () => {
    assert.equal(draftCode({ code: 'A' }, 5).value, 5);
    assert.equal(draftCode({ code: 'A', value: null }, 5).value, 5);
    assert.equal(draftCode({ code: 'A', value: 0 }, 5).value, 0);
    assert.equal(draftCode({ code: 'A', value: 2.5 }, 5).value, 2.5);
  });

  test('an empty or blank code is invalid', () => {
    assert.equal(invalidField({ code: '' }), 'code');
    assert.equal(invalidField({ code: '   \t ' }), 'code');
  });

  test('length counts characters after trimming', () => {
    assert.equal(draftCode({ code: 'a'.repeat(CODE_MAX_CHARS) }, null).code.length, CODE_MAX_CHARS);
    assert.equal(draftCode({ code: `  ${'a'.repeat(CODE_MAX_CHARS)}  ` }, null).code.length, CODE_MAX_CHARS);
    assert.equal(invalidField({ code: 'a'.repeat(CODE_MAX_CHARS + 1) }), 'code');
    // 128 astral characters are 256 UTF-16 units but 128 characters.
    const emoji = '😀'.repeat(CODE_MAX_CHARS);
    assert.equal(draftCode({ code: emoji }, null).code, emoji);
    assert.equal(invalidField({ code: '😀'.repeat(CODE_MAX_CHARS + 1) }), 'code');
  });

  test('control characters, newlines, tabs and separators inside a code are invalid', () => {
    for (const bad of ['A\nB', 'A\tB', 'A\rB', 'A\u0000B', 'A\u0007B', 'A\u007fB', 'A\u0085B', 'A\u2028B', 'A\u2029B']) {
      assert.equal(invalidField({ code: bad }), 'code', JSON.stringify(bad));
    }
  });

  test('an unpaired surrogate is invalid', () => {
    assert.equal(invalidField({ code: 'A\ud800B' }), 'code');
  });

  test('printable unicode and spaces inside are fine', () => {
    assert.equal(draftCode({ code: 'Été 2026 — 50 %' }, null).code, 'Été 2026 — 50 %');
  });

  test('the value must be finite', () => {
    assert.equal(invalidField({ code: 'A', value: Number.NaN }), 'value');
    assert.equal(invalidField({ code: 'A', value: Number.POSITIVE_INFINITY }), 'value');
  });

  test('the type and the source must be short words', () => {
    assert.equal(draftCode({ code: 'A', type: 'promo_2.b-c' }, null).type, 'promo_2.b-c');
    for (const bad of ['', 'two words', '-lead', 'x'.repeat(33), 'a/b']) {
      assert.equal(invalidField({ code: 'A', type: bad }), 'type', JSON.stringify(bad));
    }
    assert.equal(invalidField({ code: 'A', source: 'not a word' }), 'source');
  });

  test('the message may span lines but not hold other control characters, and is bounded', () => {
    assert.equal(draftCode({ code: 'A', message: 'x'.repeat(MESSAGE_MAX_CHARS) }, null).message?.length, MESSAGE_MAX_CHARS);
    assert.equal(invalidField({ code: 'A', message: 'x'.repeat(MESSAGE_MAX_CHARS + 1) }), 'message');
    assert.equal(invalidField({ code: 'A', message: 'bell\u0007' }), 'message');
    assert.equal(invalidField({ code: 'A', message: 'a\u2028b' }), 'message');
    assert.equal(draftCode({ code: 'A', message: 'line 1\nline 2\n\tend' }, null).message, 'line 1\nline 2\n\tend');
  });

  test('a blank message becomes null', () => {
    assert.equal(draftCode({ code: 'A', message: '   ' }, null).message, null);
  });

  test('ttlSeconds is a whole number of at least 1', () => {
    for (const bad of [0, -1, 1.5, 365 * 24 * 3600 + 1]) {
      assert.equal(invalidField({ code: 'A', ttlSeconds: bad }), 'ttlSeconds', String(bad));
    }
    assert.equal(draftCode({ code: 'A', ttlSeconds: 1 }, null).ttlSeconds, 1);
  });
});

describe('dedupKey and isExpired', () => {
  test('dedupKey folds case only when asked', () => {
    assert.equal(dedupKey('SuMMer', false), 'SuMMer');
    assert.equal(dedupKey('SuMMer', true), 'summer');
    assert.equal(dedupKey('ABC', true), dedupKey('abc', true));
    assert.notEqual(dedupKey('ABC', false), dedupKey('abc', false));
  });

  test('isExpired', () => {
    const now = Date.parse('2026-01-01T00:00:00.000Z');
    assert.equal(isExpired({ expiresAt: null }, now), false);
    assert.equal(isExpired({ expiresAt: '2026-01-01T00:00:00.001Z' }, now), false);
    assert.equal(isExpired({ expiresAt: '2026-01-01T00:00:00.000Z' }, now), true);
    assert.equal(isExpired({ expiresAt: '2025-12-31T23:59:59.999Z' }, now), true);
  });
});

describe('tokens', () => {
  test('hashToken is stable, hex SHA-256, distinct per token and not the token', () => {
    const token = newToken();
    const hash = hashToken(token);
    assert.equal(hashToken(token), hash);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.notEqual(hash, token);
    assert.ok(!hash.includes(token));
    assert.notEqual(hashToken(newToken()), hash);
    // A known SHA-256 vector: the hash is of the token text itself.
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('newToken looks like a token and is unique', () => {
    const a = newToken();
    assert.match(a, /^cc_[A-Za-z0-9_-]{43}$/);
    assert.ok(looksLikeToken(a));
    assert.notEqual(newToken(), a);
  });

  test('looksLikeToken accepts 16-256 visible ASCII characters only', () => {
    assert.equal(looksLikeToken('x'.repeat(16)), true);
    assert.equal(looksLikeToken('x'.repeat(256)), true);
    assert.equal(looksLikeToken('x'.repeat(15)), false);
    assert.equal(looksLikeToken('x'.repeat(257)), false);
    assert.equal(looksLikeToken(''), false);
    assert.equal(looksLikeToken('with a space inside!'), false);
    assert.equal(looksLikeToken('tokentokentoken\n'), false);
    assert.equal(looksLikeToken('tokentokentokenÿ'), false);
  });
});

function code(id: number, expiresAt: string | null = null): Code {
  return { id, code: `C${id}`, value: null, type: null, message: null, publishedAt: new Date(0).toISOString(), expiresAt, source: 'api' };
}

describe('HistoryRing', () => {
  test('holds at most its capacity; pushing past it moves the floor', () => {
    const ring = new HistoryRing(3);
    assert.equal(ring.lastId, 0);
    assert.equal(ring.oldestId, null);
    assert.ok(ring.covers(0));
    for (const id of [1, 2, 3]) ring.push(code(id));
    assert.equal(ring.size, 3);
    assert.equal(ring.oldestId, 1);
    assert.ok(ring.covers(0), 'nothing has fallen out yet');
    ring.push(code(4));
    ring.push(code(5));
    assert.equal(ring.size, 3);
    assert.equal(ring.oldestId, 3);
    assert.equal(ring.lastId, 5);
    // Ids 1 and 2 are gone: replay from before 2 would miss something.
    assert.equal(ring.covers(0), false);
    assert.equal(ring.covers(1), false);
    assert.equal(ring.covers(2), true);
    assert.equal(ring.covers(5), true);
  });

  test('starts from stored codes and a floor', () => {
    const ring = new HistoryRing(
      5,
      [
        { code: code(11), revoked: false },
        { code: code(12), revoked: true },
      ],
      10,
    );
    assert.equal(ring.lastId, 12);
    assert.equal(ring.covers(9), false);
    assert.equal(ring.covers(10), true);
    assert.deepEqual(
      [...ring.after(0, Date.now())].map((h) => h.code.id),
      [11],
    );
    const empty = new HistoryRing(5, [], 42);
    assert.equal(empty.lastId, 42);
  });

  test('after() answers newer codes in order, skipping revoked and expired ones', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const ring = new HistoryRing(10);
    ring.push(code(1));
    ring.push(code(2));
    ring.push(code(3, '2026-05-31T00:00:00Z')); // expired
    ring.push(code(4, '2026-06-02T00:00:00Z')); // not yet
    ring.push(code(5));
    ring.push(code(6), true);
    ring.push(code(7));
    assert.equal(ring.revoke(5)?.code.id, 5);
    assert.equal(ring.revoke(99), undefined);
    const ids = (since: number) => [...ring.after(since, now)].map((h) => h.code.id);
    assert.deepEqual(ids(0), [1, 2, 4, 7]);
    assert.deepEqual(ids(1), [2, 4, 7]);
    assert.deepEqual(ids(4), [7]);
    assert.deepEqual(ids(7), []);
    assert.deepEqual(ids(100), []);
    // Later, code 4 has expired too.
    assert.deepEqual(
      [...ring.after(0, Date.parse('2026-06-03T00:00:00Z'))].map((h) => h.code.id),
      [1, 2, 7],
    );
  });

  test('revokedSince() answers the revokes a client that last saw an id may have missed', () => {
    // Loaded at start revoked (12): when is unknown, so every resume past it is told.
    const ring = new HistoryRing(
      4,
      [
        { code: code(11), revoked: false },
        { code: code(12), revoked: true },
      ],
      10,
    );
    ring.push(code(13));
    ring.revoke(11); // while 13 was the newest
    ring.push(code(14));
    ring.revoke(14); // while 14 was the newest
    ring.revoke(13); // likewise; revoked order, not id order
    const ids = (since: number) => [...ring.revokedSince(since)].map((h) => h.code.id);
    assert.deepEqual(ids(10), [], 'none of its codes were held by a client from 10');
    assert.deepEqual(ids(11), [11], 'the client from 11 never held 12');
    assert.deepEqual(ids(12), [12, 11], '11 was revoked when 13 was the newest');
    assert.deepEqual(ids(13), [12, 11, 13]);
    assert.deepEqual(ids(14), [12, 14, 13], 'code 14 reached that client after 11 was revoked');
    assert.deepEqual(ids(99), [12], 'only the revoke of unknown time');
    ring.push(code(15));
    ring.push(code(16)); // 11 and 12 fall out of history
    assert.deepEqual(ids(14), [14, 13]);
    assert.equal(ring.revoke(13), ring.revoke(13), 'revoking twice changes nothing');
    assert.deepEqual(ids(14), [14, 13]);
  });
});

describe('loadConfig', () => {
  test('defaults equal the settings table', () => {
    const config = loadConfig({});
    const def = (name: string) => {
      const spec = settingsTable.find((s) => s.env === name);
      assert.ok(spec, name);
      return spec.default;
    };
    const n = (name: string) => Number(def(name));
    assert.equal(config.port, n('PORT'));
    assert.equal(config.host, def('HOST'));
    // A relative path is taken from the install directory, wherever the command runs.
    assert.deepEqual(config.database, {
      driver: 'sqlite',
      path: fileURLToPath(new URL(`../${(def('DATABASE_URL') as string).replace(/^sqlite:\.\//, '')}`, import.meta.url)),
    });
    assert.equal(config.logLevel, def('LOG_LEVEL'));
    assert.equal(config.adminToken, undefined);
    assert.equal(config.publicUrl, undefined);
    assert.equal(config.maxConnections, n('CODECAST_MAX_CONNECTIONS'));
    assert.equal(config.maxConnectionsPerUser, n('CODECAST_MAX_CONNECTIONS_PER_USER'));
    assert.equal(config.connectionQueue, n('CODECAST_CONNECTION_QUEUE'));
    assert.equal(config.heartbeatMs, n('CODECAST_HEARTBEAT_SECONDS') * 1000);
    assert.equal(config.sweepMs, n('CODECAST_SWEEP_SECONDS') * 1000);
    assert.equal(config.staleMs, n('CODECAST_STALE_SECONDS') * 1000);
    assert.equal(config.pongIntervalMs, n('CODECAST_PONG_INTERVAL_SECONDS') * 1000);
    assert.equal(config.historySize, n('CODECAST_HISTORY'));
    assert.equal(config.dedupMs, n('CODECAST_DEDUP_SECONDS') * 1000);
    assert.equal(config.idempotencyMs, n('CODECAST_IDEMPOTENCY_HOURS') * 3_600_000);
    assert.equal(config.bodyLimitBytes, n('CODECAST_BODY_LIMIT_BYTES'));
    assert.equal(config.sseRetryMs, n('CODECAST_SSE_RETRY_MS'));
    assert.equal(config.shutdownReconnectMs, n('CODECAST_SHUTDOWN_RECONNECT_MS'));
    assert.equal(config.authFailuresPerMinute, n('CODECAST_AUTH_FAILURES_PER_MINUTE'));
    assert.equal(config.userCache.maxEntries, n('USER_CACHE_MAX_ENTRIES'));
    assert.equal(config.userCache.ttlMs, n('USER_CACHE_TTL_SECONDS') * 1000);
    assert.equal(config.userCache.refreshMs, n('USER_CACHE_REFRESH_SECONDS') * 1000);
    assert.equal(config.userCache.negativeMaxEntries, n('USER_NEGATIVE_CACHE_MAX_ENTRIES'));
    assert.equal(config.userCache.negativeTtlMs, n('USER_NEGATIVE_CACHE_TTL_SECONDS') * 1000);
    assert.equal(config.authPollMs, n('CODECAST_AUTH_POLL_MS'));
  });

  test('the documented defaults are those of the design', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.maxConnectionsPerUser, 10);
    assert.equal(config.connectionQueue, 100);
    assert.equal(config.heartbeatMs, 15_000);
    assert.equal(config.sweepMs, 60_000);
    assert.equal(config.staleMs, 120_000);
    assert.equal(config.pongIntervalMs, 10_000);
    assert.equal(config.historySize, 100);
    assert.equal(config.dedupMs, 2_000);
    assert.equal(config.userCache.maxEntries, 2000);
    assert.equal(config.userCache.ttlMs, 180_000);
    assert.equal(config.userCache.refreshMs, 300_000);
  });

  test('an empty variable counts as unset; a set one wins', () => {
    const config = loadConfig({ PORT: '', CODECAST_HISTORY: '7', DATABASE_URL: 'sqlite:/tmp/x.db' });
    assert.equal(config.port, 8080);
    assert.equal(config.historySize, 7);
    assert.deepEqual(config.database, { driver: 'sqlite', path: '/tmp/x.db' });
  });

  test('every bad value is reported at once, naming the variable and what it accepts', () => {
    let error: unknown;
    try {
      loadConfig({ CODECAST_MAX_CONNECTIONS: 'lots', PORT: '99999' });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.problems.length, 2);
    const port = error.problems.find((p) => p.includes('PORT='));
    const max = error.problems.find((p) => p.includes('CODECAST_MAX_CONNECTIONS='));
    assert.ok(port, error.message);
    assert.ok(max, error.message);
    assert.match(port, /99999/);
    assert.match(port, /integer from 0 to 65535/);
    assert.match(max, /"lots"/);
    assert.match(max, /integer from 1 to 1000000/);
    // The message alone tells the operator both.
    assert.match(error.message, /PORT/);
    assert.match(error.message, /CODECAST_MAX_CONNECTIONS/);
  });

  test('other kinds of bad values are rejected too', () => {
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.problems;
      }
      assert.fail(`accepted ${JSON.stringify(env)}`);
    };
    assert.match(problemsOf({ LOG_LEVEL: 'loud' })[0] as string, /LOG_LEVEL.*one of fatal, error/);
    assert.match(problemsOf({ CODECAST_ADMIN_TOKEN: 'short' })[0] as string, /CODECAST_ADMIN_TOKEN.*16 to 256/);
    assert.match(problemsOf({ DATABASE_URL: 'mysql://x/y' })[0] as string, /DATABASE_URL/);
    assert.match(problemsOf({ CODECAST_HISTORY: '1.5' })[0] as string, /CODECAST_HISTORY/);
    assert.match(
      problemsOf({ USER_CACHE_TTL_SECONDS: '600', USER_CACHE_REFRESH_SECONDS: '300' })[0] as string,
      /USER_CACHE_REFRESH_SECONDS.*USER_CACHE_TTL_SECONDS/,
    );
  });
});

test('settings that cannot work together, and REDIS_URL without PostgreSQL, stop the start', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
  };
  assert.deepEqual(problemsOf({}), []);
  assert.match(
    problemsOf({ CODECAST_HEARTBEAT_SECONDS: '120' }).join('\n'),
    /CODECAST_STALE_SECONDS must be longer than CODECAST_HEARTBEAT_SECONDS/,
  );
  assert.match(problemsOf({ CODECAST_STALE_SECONDS: '10' }).join('\n'), /longer than CODECAST_PONG_INTERVAL_SECONDS/);
  assert.match(problemsOf({ REDIS_URL: 'redis://localhost:6379' }).join('\n'), /REDIS_URL is set with an SQLite DATABASE_URL/);
  const cluster = { DATABASE_URL: 'postgres://app@db/codecast', REDIS_URL: 'rediss://app:s3cret@redis:6380/2' };
  assert.deepEqual(problemsOf(cluster), []);
  assert.deepEqual(loadConfig({ ...cluster, CODECAST_REDIS_PREFIX: 'shop' }).broker, {
    driver: 'redis',
    url: 'rediss://app:s3cret@redis:6380/2',
    prefix: 'shop',
    nodeTtlMs: 15_000,
  });
  assert.deepEqual(loadConfig({}).broker, { driver: 'memory' });
  for (const bad of ['http://redis:6379', 'redis://', 'redis://app:s3cret@redis:6379/cache']) {
    const [problem] = problemsOf({ DATABASE_URL: 'postgres://app@db/codecast', REDIS_URL: bad });
    assert.match(problem as string, /^REDIS_URL=/, bad);
    assert.doesNotMatch(problem as string, /s3cret/, 'the password is never echoed');
  }
});

test('a variable that looks like a setting but is none is warned of, with the closest known name', () => {
  const warnings = unknownSettings({
    CODECAST_HISTROY: '500',
    USER_CACHE_TTL: '60',
    CODECAST_SOMETHING_ELSE_ENTIRELY_UNRELATED: '1',
    CODECAST_HISTORY: '100',
    CODECAST_URL: 'http://localhost:8080',
    CODECAST_TOKEN: 'x',
    CODECAST_TEST_REDIS_URL: 'redis://x',
    PATH: '/usr/bin',
  });
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.match(warnings[0] as string, /^CODECAST_HISTROY is not a setting codecast reads.*did you mean CODECAST_HISTORY\?/);
  assert.doesNotMatch(warnings[1] as string, /did you mean/);
  assert.match(warnings[2] as string, /^USER_CACHE_TTL is not a setting.*did you mean USER_CACHE_TTL_SECONDS\?/);
});

test('a relative SQLite path is taken from the checkout, or from the working directory under node_modules', () => {
  assert.equal(relativeBase('/opt/codecast/', '/srv'), '/opt/codecast/');
  assert.equal(relativeBase('/srv/app/node_modules/codecast/', '/srv/app'), '/srv/app');
});
