// SQLite reads fail as the store's own errors, as writes do: a read that
// cannot get past another connection's lock is DatabaseUnavailableError
// ('busy'), not a raw SqliteError that the core would take for a bug.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { DatabaseUnavailableError } from '../src/domain/index.js';
import { CodeRepository } from '../src/store/code-repository.js';
import { migrateToLatest } from '../src/store/database.js';
import { openSqlite } from '../src/store/sqlite-database.js';
import { UserRepository } from '../src/store/user-repository.js';

const quiet = { writesFailed: () => undefined, writesResumed: () => undefined, fileGone: () => undefined, fileBack: () => undefined };

test('a read blocked past the busy timeout by another connection is DatabaseUnavailableError busy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'codecast-busy-'));
  const path = join(dir, 'codecast.db');
  const opened = openSqlite({ path }, () => undefined, quiet);
  const other = new SqliteDatabase(path);
  try {
    await migrateToLatest(opened);
    // In WAL mode readers never wait for a writer; in rollback-journal mode
    // an exclusive lock holds them off, which is what a reader meets when
    // another process locks the file. The busy timeout is shortened on the
    // store's own connection, so the test waits 100 ms, not 5 s.
    await sql`pragma journal_mode = DELETE`.execute(opened.db);
    await sql`pragma busy_timeout = 100`.execute(opened.db);
    const users = new UserRepository(opened.db);
    const codes = new CodeRepository(opened.db);
    assert.equal(await users.byName('nobody'), undefined, 'reads work before the lock');
    other.exec('begin exclusive');
    for (const [what, read] of [
      ['a user by name', () => users.byName('nobody')],
      ['codes since', () => codes.list({ since: 0, limit: 10, includeInactive: false, nowMs: Date.now() })],
    ] as const) {
      await assert.rejects(read(), (error: unknown) => {
        assert.ok(error instanceof DatabaseUnavailableError, `${what}: ${String(error)}`);
        assert.equal(error.reason, 'busy', what);
        assert.match(error.detail, /SQLITE_BUSY/, what);
        return true;
      });
    }
    other.exec('rollback');
    assert.equal(await users.byName('nobody'), undefined, 'reads work again once the lock is gone');
  } finally {
    other.close();
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
