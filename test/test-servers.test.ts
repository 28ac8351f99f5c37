// The test servers other suites rely on (test/support/postgres.ts and
// redis.ts): a database of a test's own is created and dropped even with a
// session left open; a private PostgreSQL or Redis stops, starts again on
// the same port, and leaves nothing behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, postgresAnswers, PrivatePostgres } from './support/postgres.js';
import { PrivateRedis, redisAnswers } from './support/redis.js';

describe('test databases on the shared PostgreSQL', () => {
  test('each is new and empty; drop() removes it even with a session left open, and twice is harmless', async () => {
    const [a, b] = [await createTestDatabase('Servers Test'), await createTestDatabase('Servers Test')];
    assert.notEqual(a.name, b.name);
    assert.match(a.name, /^codecast_servers_test_\d+_\d+$/);
    const leftover = new pg.Client({ connectionString: a.url });
    let ended = false;
    leftover.on('error', () => {
      ended = true;
    });
    await leftover.connect();
    const tables = await leftover.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'");
    assert.equal(tables.rows[0].n, 0);
    await a.drop();
    await a.drop();
    assert.equal(await postgresAnswers(a.url, 2_000), false, 'dropped');
    assert.ok(
      ended ||
        (await leftover.query('select 1').then(
          () => false,
          () => true,
        )),
      'the leftover session was ended',
    );
    await leftover.end().catch(() => undefined);
    assert.equal(await postgresAnswers(b.url), true, 'the other one is untouched');
    await b.drop();
  });
});

describe('a private PostgreSQL', () => {
  test('stops, starts again on the same port with its data, and leaves no directory', async () => {
    const server = await PrivatePostgres.create();
    try {
      await server.start();
      const db = await createTestDatabase('private', server.url());
      const client = new pg.Client(db.url);
      await client.connect();
      await client.query('create table kept (n int); insert into kept values (42)');
      await client.end();
      const port = server.port;

      await server.stop();
      assert.equal(await postgresAnswers(db.url, 1_000), false, 'down');
      await server.start();
      assert.equal(server.port, port);
      const again = new pg.Client(db.url);
      await again.connect();
      assert.deepEqual((await again.query('select n from kept')).rows, [{ n: 42 }]);
      await again.end();
      await server.restart();
      assert.equal(await postgresAnswers(db.url), true, 'up after restart');
      await db.drop();
    } finally {
      await server.destroy();
    }
    assert.equal(existsSync(server.dir), false);
    assert.equal(await postgresAnswers(server.url(), 1_000), false);
  });
});

describe('a private Redis', () => {
  test('answers PING, stops, starts again on the same port, and leaves no directory', async () => {
    const server = await PrivateRedis.create();
    try {
      await server.start();
      assert.equal(await redisAnswers(server.url()), true);
      const port = server.port;
      await server.stop();
      assert.equal(await redisAnswers(server.url(), 1_000), false, 'down');
      await server.restart();
      assert.equal(server.port, port);
      assert.equal(await redisAnswers(server.url()), true, 'up again');
    } finally {
      await server.destroy();
    }
    assert.equal(existsSync(server.dir), false);
  });
});
