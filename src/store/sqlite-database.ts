import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { OpenedDatabase } from './database.js';
import { FileIdentity } from './file-identity.js';
import type { Database } from './schema.js';
import { cachingStatements } from './statement-cache.js';
import { WriteGuard, type WriteHealthListener } from './write-guard.js';

/**
 * How long a statement waits for another connection's lock (a backup, the
 * CLI) before it fails as busy.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/** The embedded store: one file, one connection, statements prepared once. */
export function openSqlite(
  target: { readonly path: string },
  onQuery: (ms: number) => void,
  listener: WriteHealthListener,
): OpenedDatabase {
  const inMemory = target.path === ':memory:';
  if (!inMemory) mkdirSync(dirname(target.path), { recursive: true });
  const sqlite = new SqliteDatabase(target.path);
  const identity = inMemory ? undefined : FileIdentity.of(target.path);
  const guard = new WriteGuard(sqlite, identity, listener);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only an OS crash
  // can lose the last commits, which replay from clients cannot mend either way.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  sqlite.pragma('foreign_keys = ON');
  let queries = 0;
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite, (text, statement) => guard.wrap(text, statement)) }),
    log: (event) => {
      queries++;
      onQuery(event.queryDurationMillis);
    },
  });
  let exclusive: Promise<unknown> = Promise.resolve();
  return {
    dialect: 'sqlite',
    db,
    identity,
    writeHealth: () => guard.health,
    fileBack: () => guard.fileBack(),
    fileGone: (detail) => guard.fileGone(detail),
    exclusively<T>(work: () => Promise<T>): Promise<T> {
      const run = exclusive.then(work, work);
      exclusive = run.catch(() => undefined);
      return run;
    },
    serialize: async () => undefined,
    queryCount: () => queries,
    close: () => db.destroy(),
  };
}
