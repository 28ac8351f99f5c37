import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import type { DatabaseTarget } from '../config/index.js';
import { migrationProvider } from './migrations.js';
import { cachingStatements } from './statement-cache.js';
import type { Database } from './schema.js';

export interface OpenedDatabase {
  readonly db: Kysely<Database>;
  /** Queries run since open; the stats and tests read it. */
  queryCount(): number;
}

/** `onQuery` hears the duration of every query, for metrics. */
export function openDatabase(target: DatabaseTarget, onQuery: (ms: number) => void = () => undefined): OpenedDatabase {
  if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
  const sqlite = new SqliteDatabase(target.path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only an OS crash
  // can lose the last commits, which replay from clients cannot mend either way.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  let queries = 0;
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: cachingStatements(sqlite) }),
    log: (event) => {
      queries++;
      onQuery(event.queryDurationMillis);
    },
  });
  return { db, queryCount: () => queries };
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

/**
 * Whether an error means the database cannot serve now (locked, full,
 * unreachable, closed) rather than that our query is wrong.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (error.name === 'SqliteError' && typeof code === 'string') {
    return /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL)/.test(code);
  }
  return /database connection is not open|driver has already been destroyed/i.test(error.message);
}
