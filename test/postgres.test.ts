/**
 * What only PostgreSQL can show: several processes starting at once on one
 * empty database, and a database server that stops and starts again under
 * load (a private server of this test's own, never the shared one).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { connectSubscriber, TRANSPORT_KINDS, type Subscriber } from './support/clients.js';
import { killAll, lastLine, request, runCli, startServe, type ServeProcess } from './support/cli-helpers.js';
import { createTestDatabase, PrivatePostgres, type TestDatabase } from './support/postgres.js';
import { databaseTarget } from './support/stores.js';
import { Store } from '../src/store/index.js';
import { startTestServer, type ApiResponse, type TestServer } from './support/server.js';
import { waitFor } from './support/sse.js';

async function rows<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('two processes starting at once on an empty database', () => {
  let database: TestDatabase;
  const servers: ServeProcess[] = [];

  before(async () => {
    database = await createTestDatabase('concurrent-start');
  });
  after(async () => {
    await killAll();
    await database?.drop();
  });

  test('migrate once and make one first admin', async () => {
    // No CODECAST_ADMIN_TOKEN: each would make an admin of its own with a
    // new token, and the second `admin` would fail its start.
    const env = { DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', CODECAST_ADMIN_TOKEN: undefined };
    servers.push(...(await Promise.all([startServe(env), startServe(env)])));
    const admins = await rows<{ username: string }>(database.url, "select username from users where role = 'admin'");
    assert.deepEqual(
      admins.map((row) => row.username),
      ['admin'],
    );
    const migrations = await rows<{ name: string }>(database.url, 'select name from kysely_migration order by name');
    assert.deepEqual(
      migrations.map((row) => row.name),
      [
        '0001_initial',
        '0002_write_probe',
        '0003_usernames_unique_regardless_of_case',
        '0004_idempotency_keys_per_user',
        '0005_idempotency_keys_by_code',
        '0006_publish_in_one_statement',
      ],
    );
    const told = servers.filter((server) => /Created the first admin/.test(server.process.stdout));
    assert.equal(told.length, 1, 'exactly one process says it created the admin');
    // Not on a terminal, the admin has no token yet: the CLI gives it one.
    assert.match(told[0]!.process.stdout, /It has no token yet/);
    const created = await runCli(['token', 'create', 'admin'], { DATABASE_URL: database.url });
    assert.equal(created.code, 0, created.stderr);
    const token = lastLine(created.stdout);
    // The token works on both: they share the database.
    for (const server of servers) assert.equal((await request(`${server.url}/api/v1/stats`, { token })).status, 200);
  });
});

describe('PostgreSQL stops and starts again under load', () => {
  let postgres: PrivatePostgres;
  let t: TestServer;
  let alice: { token: string };
  const subscribers: Subscriber[] = [];

  before(async () => {
    postgres = await PrivatePostgres.create();
    await postgres.start();
    await rows(postgres.url(), 'create database codecast');
    t = await startTestServer(
      // Short waits, so the test sees the outage quickly: a refused
      // connection fails at once anyway; these bound the rest.
      { DATABASE_URL: postgres.url('codecast'), CODECAST_DB_CONNECT_TIMEOUT_SECONDS: '2', CODECAST_DB_STATEMENT_TIMEOUT_SECONDS: '5' },
    );
    alice = await t.createUser('pg-alice');
  });
  after(async () => {
    for (const subscriber of subscribers) await subscriber.close();
    await t?.stop();
    await postgres?.destroy();
  });

  test('streams stay up, known users connect, writes answer 503, and it all resumes by itself', async () => {
    for (const transport of TRANSPORT_KINDS) {
      const subscriber = await connectSubscriber(transport, t.url, { token: alice.token });
      await subscriber.waitForEvent('hello');
      subscribers.push(subscriber);
    }
    // A publisher that keeps going throughout: every code answered 201 must
    // reach every subscriber, whatever the database did meanwhile.
    const accepted: number[] = [];
    const refused: ApiResponse[] = [];
    let publishing = true;
    let n = 0;
    const publisher = (async () => {
      while (publishing) {
        const res = await t.api('POST', '/api/v1/codes', { body: { code: `LOAD-${n++}` } });
        if (res.status === 201) accepted.push(res.body.code.id as number);
        else refused.push(res);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await waitFor(() => accepted.length >= 5, 'publishes before the stop');

    await postgres.stop();
    const outageStart = refused.length;
    await waitFor(() => refused.length > outageStart, 'a publish refused while the database is down', 10_000);
    const down = refused.at(-1)!;
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.error, 'database_unavailable');
    assert.ok(Number(down.headers.get('retry-after')) > 0, 'Retry-After');

    const ready = await t.api('GET', '/readyz', { token: null });
    assert.equal(ready.status, 503);
    assert.equal(ready.body.database, 'unreachable');
    const admin = await t.api('POST', '/api/v1/users', { body: { username: 'pg-while-down', role: 'user' } });
    assert.equal(admin.status, 503, JSON.stringify(admin.body));
    assert.equal(admin.body.error, 'database_unavailable');
    // A user the cache knows connects while the database is away.
    const late = await connectSubscriber('ws', t.url, { token: alice.token });
    await late.waitForEvent('hello');
    subscribers.push(late);

    await postgres.start();
    const resumedFrom = accepted.length;
    await waitFor(() => accepted.length > resumedFrom + 5, 'publishes accepted again, with nobody restarting codecast', 20_000);
    const readyAgain = await t.api('GET', '/readyz', { token: null });
    assert.equal(readyAgain.status, 200, JSON.stringify(readyAgain.body));
    publishing = false;
    await publisher;

    for (const subscriber of subscribers) {
      assert.equal(subscriber.status, 'open', `${subscriber.transport} stayed connected`);
    }
    for (const subscriber of subscribers.slice(0, TRANSPORT_KINDS.length)) {
      await waitFor(() => accepted.every((id) => subscriber.codeIds.includes(id)), `${subscriber.transport} got every accepted code`);
      const ids = subscriber.codeIds;
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        `${subscriber.transport}: in id order`,
      );
      assert.equal(new Set(ids).size, ids.length, `${subscriber.transport}: no repeats`);
    }
    // Every accepted code is stored: history from the database has them all.
    const history = await t.api('GET', '/api/v1/codes?since=0&limit=1000', { token: alice.token });
    assert.equal(history.status, 200);
    const stored = new Set((history.body.codes as { id: number }[]).map((code) => code.id));
    assert.deepEqual(
      accepted.filter((id) => !stored.has(id)),
      [],
      'accepted codes missing from the database',
    );
  });
});

/**
 * A session of the test's own that holds `idempotency_keys` locked against
 * writes (reads go on), so a publish with a key gets as far as its insert
 * and waits there, inside its transaction.
 */
async function lockIdempotencyKeys(url: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('begin');
  await client.query('lock table idempotency_keys in exclusive mode');
  return {
    async release() {
      await client.query('commit').catch(() => undefined);
      await client.end();
    },
  };
}

/** The codecast sessions of a database that wait on a lock. */
async function waitingSessions(url: string, database: string): Promise<number[]> {
  const found = await rows<{ pid: number }>(
    url,
    `select pid from pg_stat_activity where datname = '${database}' and application_name = 'codecast' and wait_event_type = 'Lock'`,
  );
  return found.map((row) => row.pid);
}

describe('a session ended in the middle of a publish', () => {
  let database: TestDatabase;
  let t: TestServer;

  before(async () => {
    database = await createTestDatabase('terminated');
    t = await startTestServer({}, { database: { store: 'postgres', url: database.url, name: database.name, drop: () => database.drop() } });
  });
  after(async () => {
    await t?.stop();
    await database?.drop();
  });

  test('answers 503, does not bring the process down, and the next publish works', async () => {
    // A pooled connection to spare, as a server that has been running has.
    await t.publish('WARM');
    const lock = await lockIdempotencyKeys(database.url);
    let pids: number[] = [];
    const publish = t.api('POST', '/api/v1/codes', { body: { code: 'MID-TX' }, headers: { 'idempotency-key': 'mid-tx-1' } });
    try {
      for (let i = 0; i < 100 && pids.length === 0; i++) {
        pids = await waitingSessions(database.url, database.name);
        if (pids.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(pids.length, 1, 'one codecast session waits on the lock');
      // What a PostgreSQL restart or an operator's pg_terminate_backend does to it.
      await rows(
        database.url,
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${database.name}' and application_name = 'codecast' and state <> 'idle'`,
      );
      const answer = await publish;
      assert.equal(answer.status, 503, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'database_unavailable');
    } finally {
      await lock.release();
    }
    let again: ApiResponse | undefined;
    for (let i = 0; i < 50 && again?.status !== 201; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      again = await t.api('POST', '/api/v1/codes', { body: { code: 'AFTER-TX' } });
    }
    assert.equal(again?.status, 201, JSON.stringify(again?.body));
  });
});

describe('publishes on two processes sharing a database', () => {
  let database: TestDatabase;
  const stores: Store[] = [];

  before(async () => {
    database = await createTestDatabase('order');
  });
  after(async () => {
    for (const store of stores) await store.close();
    await database?.drop();
  });

  test('commit in the order of their ids, so a reader going by "ids after the last" misses none', async () => {
    const target = databaseTarget({ store: 'postgres', url: database.url, name: database.name, drop: async () => undefined });
    const [a, b] = [await Store.open(target), await Store.open(target)];
    stores.push(a as Store, b as Store);
    const draft = (code: string) => ({ code, value: null, type: null, message: null, source: 'test', ttlSeconds: null });
    const lock = await lockIdempotencyKeys(database.url);
    const finished: string[] = [];
    // A takes its id, then waits inside its transaction (the key's table is
    // locked); B starts after it.
    const first = (a as Store).codes
      .insert(draft('ORDER-A'), 'order-a', null, Date.now(), { idempotency: { key: 'k', requestHash: 'h', userId: 1 } })
      .then((code) => {
        finished.push('A');
        return code;
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = (b as Store).codes.insert(draft('ORDER-B'), 'order-b', null, Date.now()).then((code) => {
      finished.push('B');
      return code;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(finished, [], 'B waits for A rather than committing a later id first');
    await lock.release();
    const [codeA, codeB] = await Promise.all([first, second]);
    assert.deepEqual(finished, ['A', 'B']);
    assert.ok('id' in codeA && 'id' in codeB);
    assert.ok(codeA.id < codeB.id, `${codeA.id} < ${codeB.id}`);
  });
});

describe('a process starting while another holds the start-up lock', () => {
  let database: TestDatabase;

  before(async () => {
    database = await createTestDatabase('lock-wait');
  });
  after(async () => {
    await killAll();
    await database?.drop();
  });

  test('says it waits, and starts once the lock is free', async () => {
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    // The key codecast's start-up lock uses (store/postgres-database.ts).
    await holder.query('select pg_advisory_lock($1)', [0x636f6463]);
    let released = false;
    try {
      const starting = startServe({
        DATABASE_URL: database.url,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        CODECAST_ADMIN_TOKEN: undefined,
      });
      // Once it has connected (a loaded machine may take seconds to get there) it waits: nothing is migrated.
      const holderPid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
      for (let waited = 0; ; waited += 100) {
        const others = await holder.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> $1',
          [holderPid],
        );
        if ((others.rows[0]?.n ?? 0) > 0) break;
        assert.ok(waited < 20_000, 'the server connected to the database');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const tables = await rows<{ n: number }>(database.url, "select count(*)::int as n from pg_tables where tablename = 'codes'");
      assert.equal(tables[0]?.n, 0, 'nothing migrated while another holds the lock');
      await holder.query('select pg_advisory_unlock($1)', [0x636f6463]);
      released = true;
      const server = await starting;
      assert.match(server.process.stdout, /another codecast process is migrating the database or creating the first admin: waiting/);
      assert.equal((await request(`${server.url}/healthz`)).status, 200);
    } finally {
      if (!released) await holder.query('select pg_advisory_unlock($1)', [0x636f6463]).catch(() => undefined);
      await holder.end();
    }
  });
});
