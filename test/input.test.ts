// Issue 9, "Input and secrets": numbers with one spelling, codes with one
// spelling and nothing invisible, labels without control characters, user
// names unique regardless of case, and Idempotency-Keys that belong to the
// admin who sent them. Each test does the attack against a real server.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { io } from 'socket.io-client';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { Store } from '../src/store/index.js';
import { migrationProvider } from '../src/store/migrations.js';
import { WsRecorder } from './support/raw-clients.js';
import { ADMIN_TOKEN, startTestServer, type ApiResponse, type TestServer } from './support/server.js';
import { SseReader } from './support/sse.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function assertError(res: ApiResponse, status: number, error: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error, error, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body?.message, 'string', what);
}

/**
 * Spellings of 2 (or of nothing) that Number() or Ajv's coercion would take;
 * each is percent-encoded as a client would put it in a URL.
 */
const NOT_PLAIN = [
  '0x2',
  '2e0',
  '+2',
  '0b10',
  ' 2',
  '2 ',
  '\u0662',
  '',
  '-2',
  '2.0',
  '9007199254740992',
  '99999999999999999999',
  '0o2',
  '\u20022',
];
const enc = encodeURIComponent;

describe('numeric ids and query parameters take plain decimal digits only', () => {
  let t: TestServer;
  let userToken: string;
  before(async () => {
    t = await startTestServer();
    userToken = (await t.createUser('numbers-user')).token;
    await t.publish('NUM-1');
    await t.publish('NUM-2');
  });
  after(() => t.stop());

  test('every path id and query number refuses other spellings with 400 invalid_request', async () => {
    for (const bad of NOT_PLAIN) {
      const e = enc(bad);
      const attempts: [string, string, string | undefined][] = [
        ['GET', `/api/v1/codes/${e}`, undefined],
        ['DELETE', `/api/v1/codes/${e}`, undefined],
        ['POST', `/api/v1/codes/${e}/ack`, userToken],
        ['DELETE', `/api/v1/tokens/${e}`, undefined],
        ['GET', `/api/v1/codes?since=${e}`, undefined],
        ['GET', `/api/v1/codes?limit=${e}`, undefined],
        ['GET', `/api/v1/audit?limit=${e}`, undefined],
        ['GET', `/api/v1/audit?before=${e}`, undefined],
      ];
      for (const [method, path, token] of attempts) {
        assertError(await t.api(method, path, { token: token ?? ADMIN_TOKEN }), 400, 'invalid_request', `${method} ${path}`);
      }
    }
    // Nothing was revoked by any of them.
    const code2 = await t.api('GET', '/api/v1/codes/2');
    assert.equal(code2.body.code.revokedAt, null);
  });

  test('the plain spelling still works, leading zeros included', async () => {
    assert.equal((await t.api('GET', '/api/v1/codes/2')).status, 200);
    assert.equal((await t.api('GET', '/api/v1/codes/002')).body.code.id, 2);
    const list = await t.api('GET', '/api/v1/codes?since=1&limit=5');
    assert.deepEqual(
      list.body.codes.map((c: { id: number }) => c.id),
      [2],
    );
  });

  test('a repeated parameter is not a number either', async () => {
    assertError(await t.api('GET', '/api/v1/codes?since=1&since=2'), 400, 'invalid_request', 'since twice');
  });

  test('the SSE stream refuses the same spellings in ?since= and Last-Event-ID', async () => {
    for (const bad of NOT_PLAIN.filter((b) => b !== '')) {
      const reader = await SseReader.open(t.url, { token: userToken, query: `since=${enc(bad)}` });
      try {
        assert.equal(reader.status, 400, `since=${JSON.stringify(bad)}`);
      } finally {
        reader.close();
      }
    }
    // Header values lose their surrounding spaces in HTTP itself; the rest must be refused.
    for (const bad of ['0x2', '2e0', '+2', '0b10', '\u0662', '9007199254740992']) {
      const reader = await SseReader.open(t.url, { token: userToken, lastEventId: Buffer.from(bad).toString('latin1') });
      try {
        assert.equal(reader.status, 400, `Last-Event-ID ${JSON.stringify(bad)}`);
      } finally {
        reader.close();
      }
    }
  });

  test('WebSocket ?since= and Socket.IO auth.since refuse them too', async () => {
    const wsBase = t.url.replace(/^http/, 'ws');
    for (const bad of ['0x2', '2e0', '+2', '0b10', ' 2', '2 ', '\u0662', '9007199254740992']) {
      const ws = await WsRecorder.open(`${wsBase}/api/v1/ws?token=${userToken}&since=${enc(bad)}`);
      try {
        assert.deepEqual(await ws.waitForClose(), { code: 4400, reason: 'invalid_request' }, `ws since=${JSON.stringify(bad)}`);
      } finally {
        ws.end();
      }
      const socket = io(t.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: userToken, since: bad } });
      try {
        const err = await new Promise<any>((resolve, reject) => {
          socket.once('connect_error', resolve);
          socket.once('connect', () => reject(new Error(`connected with auth.since ${JSON.stringify(bad)}`)));
        });
        assert.equal(err.data?.error, 'invalid_request', `auth.since ${JSON.stringify(bad)}`);
      } finally {
        socket.close();
      }
    }
  });
});

describe('codes: one spelling, nothing invisible', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ CODECAST_DEDUP_SECONDS: '60' });
  });
  after(() => t.stop());

  test('café and cafe + combining accent are the same code: stored NFC, the second is a 409', async () => {
    const decomposed = 'cafe\u0301';
    const first = await t.api('POST', '/api/v1/codes', { body: { code: decomposed } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.code.code, 'caf\u00e9', 'stored and answered in NFC');
    const second = await t.api('POST', '/api/v1/codes', { body: { code: 'caf\u00e9' } });
    assertError(second, 409, 'duplicate_code', 'the precomposed spelling');
    assert.equal(second.body.id, first.body.code.id);
    const stored = await t.api('GET', `/api/v1/codes/${first.body.code.id}`);
    assert.equal(stored.body.code.code, 'caf\u00e9');
    // Spaces around and another normal form inside still make the same code.
    assertError(await t.api('POST', '/api/v1/codes', { body: { code: '  cafe\u0301 ' } }), 409, 'duplicate_code', 'trimmed');
  });

  test('the same holds with the case-insensitive dedup setting', async () => {
    assert.equal((await t.api('PUT', '/api/v1/settings', { body: { dedupCaseInsensitive: true } })).status, 200);
    try {
      assert.equal((await t.api('POST', '/api/v1/codes', { body: { code: 'E\u0301TE\u0301' } })).status, 201);
      assertError(await t.api('POST', '/api/v1/codes', { body: { code: '\u00e9t\u00e9' } }), 409, 'duplicate_code', 'été after ÉTÉ');
    } finally {
      await t.api('PUT', '/api/v1/settings', { body: { dedupCaseInsensitive: false } });
    }
  });

  const INVISIBLE = [
    '\u200b',
    '\u200c',
    '\u200d',
    '\u200e',
    '\u200f',
    '\u202a',
    '\u202b',
    '\u202c',
    '\u202d',
    '\u202e',
    '\u2066',
    '\u2067',
    '\u2068',
    '\u2069',
    '\ufeff',
    '\u00ad',
    '\u2060',
    '\u061c',
    '\u180e',
  ];

  test('bidirectional overrides, isolates and other format characters are refused in codes, naming the field', async () => {
    for (const ch of INVISIBLE) {
      const res = await t.api('POST', '/api/v1/codes', { body: { code: `AB${ch}CD` } });
      assertError(res, 400, 'invalid_code', `code with U+${ch.codePointAt(0)?.toString(16)}`);
      assert.equal(res.body.field, 'code');
    }
  });

  test('and in types and sources', async () => {
    for (const ch of ['\u202e', '\u200b', '\ufeff', '\u2066']) {
      for (const field of ['type', 'source'] as const) {
        const res = await t.api('POST', '/api/v1/codes', { body: { code: `FIELD-${field}`, [field]: `drop${ch}x` } });
        assertError(res, 400, 'invalid_code', `${field} with U+${ch.codePointAt(0)?.toString(16)}`);
        assert.equal(res.body.field, field);
      }
    }
  });

  test('a message refuses bidirectional controls but keeps newlines, tabs and emoji joiners', async () => {
    for (const ch of ['\u202e', '\u2066', '\u200b', '\ufeff', '\u00ad']) {
      const res = await t.api('POST', '/api/v1/codes', { body: { code: `MSG-${ch.codePointAt(0)}`, message: `hello${ch}world` } });
      assertError(res, 400, 'invalid_code', `message with U+${ch.codePointAt(0)?.toString(16)}`);
      assert.equal(res.body.field, 'message');
    }
    const family = '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}';
    const ok = await t.api('POST', '/api/v1/codes', { body: { code: 'MSG-OK', message: `line 1\n\tline 2 ${family}` } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.code.message, `line 1\n\tline 2 ${family}`);
  });
});

describe('token labels and user names', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await t.createUser('label-owner');
  });
  after(() => t.stop());

  test('a label with control or invisible format characters is 400 invalid_request naming the field', async () => {
    for (const bad of ['a\nb', 'a\rb', 'a\u0000b', 'a\u001bb', 'a\u007fb', 'a\u0085b', 'a\u2028b', 'a\u202eb', 'a\u200bb', 'a\ud800b']) {
      const res = await t.api('POST', '/api/v1/users/label-owner/tokens', { body: { label: bad } });
      assertError(res, 400, 'invalid_request', `label ${JSON.stringify(bad)}`);
      assert.equal(res.body.field, 'label');
    }
    const tokens = await t.api('GET', '/api/v1/users/label-owner');
    assert.equal(tokens.body.tokens.length, 1, 'no token was made by a refused label');
  });

  test('a label is stored trimmed and in NFC', async () => {
    const res = await t.api('POST', '/api/v1/users/label-owner/tokens', { body: { label: '  phone cafe\u0301 ' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.token.label, 'phone caf\u00e9');
  });

  test('Alice after alice is 409 user_exists, and the other way round', async () => {
    assert.equal((await t.api('POST', '/api/v1/users', { body: { username: 'alice' } })).status, 201);
    for (const name of ['Alice', 'ALICE', 'aLiCe']) {
      assertError(await t.api('POST', '/api/v1/users', { body: { username: name } }), 409, 'user_exists', name);
    }
    assert.equal((await t.api('POST', '/api/v1/users', { body: { username: 'BOB' } })).status, 201);
    assertError(await t.api('POST', '/api/v1/users', { body: { username: 'bob' } }), 409, 'user_exists', 'bob after BOB');
    const names = (await t.api('GET', '/api/v1/users')).body.users.map((u: { username: string }) => u.username.toLowerCase());
    assert.equal(names.filter((n: string) => n === 'alice').length, 1);
  });

  test('a user is found by its name in any case, and answers with the name as created', async () => {
    for (const name of ['alice', 'ALICE', 'Alice']) {
      const res = await t.api('GET', `/api/v1/users/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.body.user.username, 'alice');
    }
    assert.equal((await t.api('PATCH', '/api/v1/users/ALICE', { body: { disabled: true } })).body.user.username, 'alice');
    assert.equal((await t.api('PATCH', '/api/v1/users/alice', { body: { disabled: false } })).body.user.disabled, false);
  });

  test('the database itself refuses a second name differing only by case', async () => {
    const db = new SqliteDatabase(t.databasePath);
    try {
      assert.throws(
        () => db.prepare("insert into users (username, role, disabled, created_at) values ('ALICE', 'user', 0, 'now')").run(),
        /UNIQUE constraint failed/,
      );
    } finally {
      db.close();
    }
  });
});

describe('the first admin and names differing by case', () => {
  test('with a user "Admin" and no admin, the first admin is admin-2, not a failed start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codecast-bootstrap-'));
    try {
      const store = await Store.open({ driver: 'sqlite', path: join(dir, 'codecast.db') });
      await store.users.create('Admin', 'user', new Date());
      await store.close();
      const t = await startTestServer({}, { dir });
      try {
        assert.equal(t.server.bootstrap?.username, 'admin-2');
        assert.equal((await t.api('GET', '/api/v1/me')).body.user.username, 'admin-2');
      } finally {
        await t.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a database that already holds names differing only by case', () => {
  test('stops the start with a message naming them, not an SQLite error, and changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codecast-case-'));
    const path = join(dir, 'codecast.db');
    try {
      // A database as the previous version left it: migration 0001 only, and two names differing by case.
      const db = new SqliteDatabase(path);
      const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: db }) });
      const migrated = await new Migrator({ db: kysely, provider: migrationProvider('sqlite') }).migrateTo('0001_initial');
      assert.equal(migrated.error, undefined);
      db.prepare(
        "insert into users (username, role, disabled, created_at) values ('carol', 'admin', 0, 'x'), ('Carol', 'user', 0, 'x'), ('dave', 'user', 0, 'x')",
      ).run();
      await kysely.destroy();

      await assert.rejects(Store.open({ driver: 'sqlite', path }), (error: Error) => {
        assert.equal(error.name, 'StoreOpenError');
        assert.equal((error.cause as Error).name, 'DuplicateUsernamesError');
        assert.match(error.message, /differ only by case/);
        assert.match(error.message, /carol, Carol|Carol, carol/);
        assert.doesNotMatch(error.message, /SQLITE_|constraint failed/i);
        return true;
      });
      // The CLI's start says so in one line, with no stack and exit status 1.
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: `sqlite:${path}`, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' };
      delete env.CODECAST_ADMIN_TOKEN;
      const serve = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
        cwd: ROOT,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(serve.status, 1, serve.stderr);
      assert.match(
        serve.stderr,
        /^codecast: cannot open the database sqlite:\S+: the database holds user names that differ only by case \(\[(carol, Carol|Carol, carol)\]\)/,
      );
      assert.equal(serve.stderr.trim().split('\n').length, 1, serve.stderr);
      assert.doesNotMatch(serve.stderr, /SqliteError|SQLITE_|\n\s+at /);
      // Nothing was changed: both names are there, no index was made.
      const check = new SqliteDatabase(path, { readonly: true });
      try {
        assert.equal((check.prepare("select count(*) as n from users where lower(username) = 'carol'").get() as { n: number }).n, 2);
        assert.equal(check.prepare("select name from sqlite_master where name = 'users_username_nocase'").get(), undefined);
      } finally {
        check.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Idempotency-Keys are per admin, and compare what a request means', () => {
  let t: TestServer;
  let otherAdmin: string;
  before(async () => {
    t = await startTestServer({ CODECAST_DEDUP_SECONDS: '0' });
    otherAdmin = (await t.createUser('second-admin', 'admin')).token;
  });
  after(() => t.stop());

  const publish = (token: string, key: string, body: unknown) =>
    t.api('POST', '/api/v1/codes', { token, body, headers: { 'idempotency-key': key } });

  test('another admin reusing a key gets its own publish', async () => {
    const first = await publish(ADMIN_TOKEN, 'shared-key', { code: 'MINE' });
    assert.equal(first.status, 201);
    const theirs = await publish(otherAdmin, 'shared-key', { code: 'THEIRS' });
    assert.equal(theirs.status, 201, JSON.stringify(theirs.body));
    assert.notEqual(theirs.body.code.id, first.body.code.id);
    assert.equal(theirs.body.code.code, 'THEIRS');
    // Each admin's retry answers its own publish.
    const mineAgain = await publish(ADMIN_TOKEN, 'shared-key', { code: 'MINE' });
    assert.equal(mineAgain.status, 200);
    assert.equal(mineAgain.body.code.id, first.body.code.id);
    const theirsAgain = await publish(otherAdmin, 'shared-key', { code: 'THEIRS' });
    assert.equal(theirsAgain.status, 200);
    assert.equal(theirsAgain.body.code.id, theirs.body.code.id);
    // The same body under the same key by the other admin is its own publish too, not a 422 or a replay.
    const sameBody = await publish(otherAdmin, 'key-2', { code: 'SAME' });
    const sameBodyFirst = await publish(ADMIN_TOKEN, 'key-2', { code: 'SAME' });
    assert.equal(sameBody.status, 201);
    assert.equal(sameBodyFirst.status, 201);
    assert.notEqual(sameBody.body.code.id, sameBodyFirst.body.code.id);
  });

  test('requests that mean the same are the same: trimming, NFC and defaults', async () => {
    const first = await publish(ADMIN_TOKEN, 'meaning-1', { code: ' A ' });
    assert.equal(first.status, 201);
    const same = await publish(ADMIN_TOKEN, 'meaning-1', {
      code: 'A',
      value: null,
      type: null,
      message: null,
      ttlSeconds: null,
      source: 'api',
    });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.equal(same.body.code.id, first.body.code.id);

    const nfc = await publish(ADMIN_TOKEN, 'meaning-2', { code: 'cafe\u0301', message: '  hi\r\n' });
    assert.equal(nfc.status, 201);
    const nfcAgain = await publish(ADMIN_TOKEN, 'meaning-2', { code: 'caf\u00e9', message: 'hi' });
    assert.equal(nfcAgain.status, 200, JSON.stringify(nfcAgain.body));

    assert.equal((await t.api('PUT', '/api/v1/settings', { body: { defaultValue: 5 } })).status, 200);
    try {
      const defaulted = await publish(ADMIN_TOKEN, 'meaning-3', { code: 'B' });
      assert.equal(defaulted.status, 201);
      assert.equal(defaulted.body.code.value, 5);
      const explicit = await publish(ADMIN_TOKEN, 'meaning-3', { code: 'B', value: 5 });
      assert.equal(explicit.status, 200, JSON.stringify(explicit.body));
      assert.equal(explicit.body.code.id, defaulted.body.code.id);
      // A different meaning under the same key is still refused.
      assertError(await publish(ADMIN_TOKEN, 'meaning-3', { code: 'B', value: 6 }), 422, 'idempotency_key_reused', 'value 6');
    } finally {
      await t.api('PUT', '/api/v1/settings', { body: { defaultValue: null } });
    }
  });
});
