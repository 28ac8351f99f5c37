/**
 * Which PostgreSQL errors mean "the database cannot serve now": each is
 * caused for real on the test server (in a database of this file's own) and
 * judged by the store's own rule, and a read-only database is refused and
 * recovered from through the Store itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../src/config/index.js';
import { DatabaseUnavailableError, Store, isDatabaseUnavailable } from '../src/store/index.js';
import { unavailableReason } from '../src/store/unavailable.js';
import { freePort } from './support/free-port.js';
import { createTestDatabase, POSTGRES_TEST_URL, type TestDatabase } from './support/postgres.js';

let database: TestDatabase;
const clients: pg.Client[] = [];

before(async () => {
  database = await createTestDatabase('errors');
});
after(async () => {
  for (const client of clients) await client.end().catch(() => undefined);
  await database?.drop();
});

async function connect(url = database.url): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  clients.push(client);
  return client;
}

async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

async function admin(text: string): Promise<void> {
  const client = await connect(POSTGRES_TEST_URL);
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL errors, judged by the store', () => {
  test('a refused connection is unreachable', async () => {
    const url = new URL(database.url);
    url.port = String(await freePort());
    const error = await failure(() => connect(url.toString()));
    assert.equal(unavailableReason(error), 'unreachable', String(error));
  });

  test('a connection the server ended is unreachable', async () => {
    const victim = await connect();
    const { rows } = await victim.query('select pg_backend_pid() as pid');
    await (await connect()).query('select pg_terminate_backend($1)', [rows[0].pid]);
    const error = await failure(() => victim.query('select 1'));
    assert.equal(unavailableReason(error), 'unreachable', String(error));
  });

  test('a statement past its timeout is busy', async () => {
    const client = await connect();
    await client.query('set statement_timeout = 50');
    const error = await failure(() => client.query('select pg_sleep(2)'));
    assert.equal((error as { code?: string }).code, '57014');
    assert.equal(unavailableReason(error), 'busy');
  });

  test('a write in a read-only transaction cannot write', async () => {
    const client = await connect();
    await client.query('set default_transaction_read_only = on');
    const error = await failure(() => client.query('create table nope (id integer)'));
    assert.equal((error as { code?: string }).code, '25006');
    assert.equal(unavailableReason(error), 'cannot_write');
  });

  test('too many connections is busy', async () => {
    const role = `codecast_limited_${process.pid}`;
    await admin(`create role ${role} login connection limit 1`);
    try {
      const url = new URL(database.url);
      url.username = role;
      await connect(url.toString());
      const error = await failure(() => connect(url.toString()));
      assert.equal((error as { code?: string }).code, '53300');
      assert.equal(unavailableReason(error), 'busy');
    } finally {
      for (const client of clients.splice(0)) await client.end().catch(() => undefined);
      await admin(`drop role ${role}`);
    }
  });

  test('a pool with no connection free in time is busy, not unreachable', async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 1, connectionTimeoutMillis: 100 });
    const held = await pool.connect();
    try {
      const error = await failure(() => pool.connect());
      assert.equal(unavailableReason(error), 'busy', String(error));
    } finally {
      held.release();
      await pool.end();
    }
  });

  test('wrong queries and missing things are not "unavailable"', async () => {
    const client = await connect();
    await client.query('create table once (id integer primary key)');
    await client.query('insert into once values (1)');
    for (const [text, code] of [
      ['selec 1', '42601'],
      ['insert into once values (1)', '23505'],
      ['select * from no_such_table', '42P01'],
    ] as const) {
      const error = await failure(() => client.query(text));
      assert.equal((error as { code?: string }).code, code);
      assert.equal(isDatabaseUnavailable(error), false, text);
    }
    const url = new URL(database.url);
    url.pathname = '/no_such_database_here';
    const missing = await failure(() => connect(url.toString()));
    assert.equal(isDatabaseUnavailable(missing), false, String(missing));
  });
});

describe('a database turned read-only under the store', () => {
  let store: Store;

  after(async () => {
    await admin(`alter database ${database.name} reset default_transaction_read_only`).catch(() => undefined);
    await store?.close();
  });

  test('writes answer unavailable, health says unwritable, and both recover by themselves', async () => {
    const config = loadConfig({ DATABASE_URL: database.url });
    store = await Store.open(config.database);
    const user = await store.users.create('ro-alice', 'user', new Date());
    assert.ok(user);
    // New sessions of this database start read-only; end the store's, so its
    // pool opens new ones.
    await admin(`alter database ${database.name} set default_transaction_read_only = on`);
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database.name}' and pid <> pg_backend_pid()`);

    // The first attempts may meet a pooled connection the server just ended
    // (unreachable, and not handed out again); then the read-only one.
    let refused: unknown;
    for (let i = 0; i < 10; i++) {
      refused = await store.users.create(`ro-bob-${i}`, 'user', new Date()).then(
        () => undefined,
        (error: unknown) => error,
      );
      if (refused instanceof DatabaseUnavailableError && refused.reason === 'cannot_write') break;
    }
    assert.ok(refused instanceof DatabaseUnavailableError, String(refused));
    assert.equal(refused.reason, 'cannot_write');
    const unhealthy = await store.health();
    assert.equal(unhealthy.ok, false);
    assert.equal(unhealthy.ok === false && unhealthy.database, 'unwritable');
    // Reads go on.
    assert.equal((await store.users.byName('ro-alice'))?.username, 'ro-alice');

    await admin(`alter database ${database.name} reset default_transaction_read_only`);
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database.name}' and pid <> pg_backend_pid()`);
    let healthy = await store.health();
    for (let i = 0; i < 50 && !healthy.ok; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      healthy = await store.health();
    }
    assert.equal(healthy.ok, true, JSON.stringify(healthy));
    assert.ok(await store.users.create('ro-carol', 'user', new Date()));
  });
});
