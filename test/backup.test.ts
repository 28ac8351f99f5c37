/**
 * `codecast backup FILE` (issue 12) run as an operator runs it: the built
 * CLI as a real process, against a real `codecast serve` that is publishing
 * all the while; then a server started on the copy holds the codes and
 * serves. Needs dist/ (npx tsc -p tsconfig.json).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { killAll, request, runCli, startServe, type ServeProcess } from './support/cli-helpers.js';
import { createTestDatabase } from './support/postgres.js';
import { SseReader } from './support/sse.js';

const ADMIN = 'cc_backup-admin-token-0123456789abcdef';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-backup-'));
  dirs.push(dir);
  return dir;
}

function serverEnv(path: string): Record<string, string> {
  return { DATABASE_URL: `sqlite:${path}`, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', CODECAST_ADMIN_TOKEN: ADMIN };
}

async function stopServe(server: ServeProcess | undefined): Promise<void> {
  if (!server) return;
  server.process.kill('SIGTERM');
  await server.process.waitExit(15_000, 'the server to stop');
}

after(async () => {
  await killAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The README's statements that move the id counter past ids handed out after the backup. */
const SQLITE_ID_BUMP = "UPDATE sqlite_sequence SET seq = seq + 1000000 WHERE name = 'codes'";
const POSTGRES_ID_BUMP = "SELECT setval(pg_get_serial_sequence('codes', 'id'), (SELECT coalesce(max(id), 0) FROM codes) + 1000000)";

/**
 * Runs `backup` while codes are published one after another, and some more
 * after it (so what the copy lacks exists); every publish must answer 201.
 * Answers the ids published and how many were published before it began.
 */
async function underLoad<T>(url: string, backup: () => Promise<T>): Promise<{ published: number[]; before: number; result: T }> {
  const published: number[] = [];
  let loading = true;
  let failures = 0;
  const load = (async () => {
    for (let i = 0; loading; i++) {
      const answer = await request(`${url}/api/v1/codes`, { method: 'POST', token: ADMIN, body: { code: `BACKUP-${i}` } });
      if (answer.status === 201) published.push(answer.body.code.id);
      else failures++;
    }
  })();
  const waitFor = async (count: number) => {
    while (published.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  try {
    await waitFor(50);
    const before = published.length;
    const result = await backup();
    await waitFor(published.length + 20);
    return { published, before, result };
  } finally {
    loading = false;
    await load;
    assert.equal(failures, 0, 'every publish answered 201 while the backup ran');
  }
}

/** A server on a restored copy lists a gapless prefix of what was published and delivers new codes. */
async function servesTheCopy(url: string, published: readonly number[], before: number): Promise<void> {
  const listed = await request(`${url}/api/v1/codes?since=0&limit=1000`, { token: ADMIN });
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const ids: number[] = listed.body.codes.map((c: { id: number }) => c.id);
  // One moment's snapshot: every code committed before the backup began, and no gaps.
  assert.ok(ids.length >= before, `the copy holds the ${before} codes published before the backup (it holds ${ids.length})`);
  assert.deepEqual(ids, published.slice(0, ids.length), 'the copy holds a prefix of what was published, without gaps');
  assert.ok(ids.length < published.length, 'codes published after the copy are not in it');

  const reader = await SseReader.open(url, { token: ADMIN, since: ids.at(-1) });
  try {
    await reader.waitForEvent('hello');
    const next = await request(`${url}/api/v1/codes`, { method: 'POST', token: ADMIN, body: { code: 'AFTER-RESTORE' } });
    assert.equal(next.status, 201, JSON.stringify(next.body));
    assert.ok(next.body.code.id > (ids.at(-1) ?? 0) + 1_000_000, `ids go on past any handed out since the backup (${next.body.code.id})`);
    await reader.waitForEvent('code');
    assert.deepEqual(reader.codeIds(), [next.body.code.id], 'the server on the copy delivers');
  } finally {
    reader.close();
  }
}

describe('codecast backup', () => {
  test('backs up a live database under publish load; a server started on the copy has the codes and serves', async () => {
    const dir = tempDir();
    const live = join(dir, 'live.db');
    const copy = join(dir, 'copy.db');
    let source: ServeProcess | undefined;
    let restored: ServeProcess | undefined;
    try {
      source = await startServe(serverEnv(live));
      const { published, before, result } = await underLoad(source.url, () => runCli(['backup', copy], { DATABASE_URL: `sqlite:${live}` }));
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /backed up .*copy\.db/);
      assert.deepEqual(
        readdirSync(dir).filter((name) => name.includes('partial')),
        [],
        'no partial file is left',
      );
      await stopServe(source);
      source = undefined;

      // The README's restore: the copy in place, the id counter moved past the ids handed out since.
      const sqlite = new Database(copy);
      sqlite.exec(SQLITE_ID_BUMP);
      sqlite.close();
      restored = await startServe(serverEnv(copy));
      await servesTheCopy(restored.url, published, before);
    } finally {
      await stopServe(source);
      await stopServe(restored);
    }
  });

  test('refuses to overwrite a file unless --force, and to copy the database onto itself', async () => {
    const dir = tempDir();
    const live = join(dir, 'live.db');
    const env = { DATABASE_URL: `sqlite:${live}` };
    assert.equal((await runCli(['migrate'], env)).code, 0);
    const target = join(dir, 'precious.txt');
    writeFileSync(target, 'not a database');

    const refused = await runCli(['backup', target], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /exists; pass --force/);
    assert.equal(readFileSync(target, 'utf8'), 'not a database', 'the file is untouched');

    const forced = await runCli(['backup', target, '--force'], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(target).subarray(0, 15).toString(), 'SQLite format 3');

    const onItself = await runCli(['backup', live, '--force'], env);
    assert.equal(onItself.code, 1);
    assert.match(onItself.stderr, /the database itself/);
  });

  test('a missing database is not created; PostgreSQL is pointed to pg_dump, its URL not echoed', async () => {
    const dir = tempDir();
    const missing = join(dir, 'missing.db');
    const none = await runCli(['backup', join(dir, 'copy.db')], { DATABASE_URL: `sqlite:${missing}` });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no SQLite database at/);
    assert.equal(existsSync(missing), false, 'backup never creates the database it was to copy');
    assert.equal(existsSync(join(dir, 'copy.db')), false);

    const postgres = await runCli(['backup', join(dir, 'copy.db')], {
      DATABASE_URL: 'postgres://codecast:s3cret-pw@db.example:5432/codecast',
    });
    assert.equal(postgres.code, 2);
    assert.match(postgres.stderr, /pg_dump --format=custom/);
    assert.match(postgres.stderr, /pg_restore/);
    assert.doesNotMatch(postgres.stderr + postgres.stdout, /s3cret-pw/);
    assert.equal(existsSync(join(dir, 'copy.db')), false);
  });
});

describe('PostgreSQL: pg_dump and pg_restore as the README gives them', () => {
  test('a dump taken under publish load restores into an empty database that a server then serves', async () => {
    const dir = tempDir();
    const dump = join(dir, 'codecast.dump');
    const original = await createTestDatabase('backup_source');
    const target = await createTestDatabase('backup_restored');
    const env = (url: string) => ({ DATABASE_URL: url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', CODECAST_ADMIN_TOKEN: ADMIN });
    let source: ServeProcess | undefined;
    let restored: ServeProcess | undefined;
    try {
      source = await startServe(env(original.url));
      const refused = await runCli(['backup', join(dir, 'copy.db')], { DATABASE_URL: original.url });
      assert.equal(refused.code, 2);
      const { published, before } = await underLoad(source.url, () => run('pg_dump', ['--format=custom', `--file=${dump}`, original.url]));
      await stopServe(source);
      source = undefined;

      await run('pg_restore', ['--no-owner', `--dbname=${target.url}`, dump]);
      await run('psql', ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', `--command=${POSTGRES_ID_BUMP}`, target.url]);
      restored = await startServe(env(target.url));
      await servesTheCopy(restored.url, published, before);
    } finally {
      await stopServe(source);
      await stopServe(restored);
      await original.drop();
      await target.drop();
    }
  });
});

/** Runs a program to completion; fails with its output unless it exits 0. */
function run(program: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${program} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}
