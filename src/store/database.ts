import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import type { DatabaseTarget } from '../config/index.js';
import { migrationProvider } from './migrations.js';
import { FileIdentity } from './file-identity.js';
import { cachingStatements } from './statement-cache.js';
import type { Database } from './schema.js';
import { WriteGuard, type WriteHealthListener } from './write-guard.js';

export interface OpenedDatabase {
  readonly db: Kysely<Database>;
  /** Sees every write's outcome; refuses writes once the file is gone. */
  readonly guard: WriteGuard;
  /** The opened file's identity; undefined for an in-memory database. */
  readonly identity: FileIdentity | undefined;
  /** Queries run since open; the stats and tests read it. */
  queryCount(): number;
}

/** `onQuery` hears the duration of every query, for metrics; `listener` hears write health change. */
export function openDatabase(
  target: DatabaseTarget,
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
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  let queries = 0;
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite, (text, statement) => guard.wrap(text, statement)) }),
    log: (event) => {
      queries++;
      onQuery(event.queryDurationMillis);
    },
  });
  return { db, guard, identity, queryCount: () => queries };
}

export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

/** A real, one-row write: what tells whether the database takes writes again. */
export async function probeWrite(db: Kysely<Database>, nowMs: number): Promise<void> {
  await db
    .insertInto('write_probe')
    .values({ id: 1, at_ms: nowMs })
    .onConflict((oc) => oc.column('id').doUpdateSet({ at_ms: nowMs }))
    .execute();
}
