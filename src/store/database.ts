import { type Kysely, Migrator, sql } from 'kysely';
import type { DatabaseTarget } from '../config/index.js';
import type { FileIdentity } from './file-identity.js';
import { migrationProvider, type Dialect } from './migrations.js';
import { openPostgres } from './postgres-database.js';
import type { Database } from './schema.js';
import { openSqlite } from './sqlite-database.js';
import type { WriteHealth, WriteHealthListener } from './write-guard.js';

/**
 * One open database, whichever the driver: what the store needs from it
 * beyond Kysely. Each driver decides for itself which of its errors mean
 * "cannot serve now" and throws `DatabaseUnavailableError` for them.
 */
export interface OpenedDatabase {
  readonly dialect: Dialect;
  readonly db: Kysely<Database>;
  /** Whether writes work now, from the outcome of every write. */
  writeHealth(): WriteHealth;
  /** SQLite: the opened file's identity, watched for deletion; undefined otherwise. */
  readonly identity: FileIdentity | undefined;
  /** SQLite: the file is (again) the one at its path, or not. */
  fileBack(): void;
  fileGone(detail: string): void;
  /**
   * Runs `work` while no other process sharing the database runs work
   * under the same lock: the migrations, the first admin. PostgreSQL takes
   * an advisory lock on a connection of its own; SQLite, which one server
   * owns, serialises within the process.
   */
  exclusively<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Called first inside a transaction: waits until no other process sharing
   * the database holds a transaction under the same lock, until this one
   * ends. PostgreSQL hands out an identity when a row is inserted, not when
   * it commits, so without it two publishes (or two access changes) on two
   * processes could commit ids out of order, and a reader going by "ids
   * after the last I saw" would skip the late one for good. SQLite has one
   * writer at a time already.
   */
  serialize(trx: Kysely<Database>, lock: SerialLock): Promise<void>;
  /** Queries run since open; the stats and tests read it. */
  queryCount(): number;
  close(): Promise<void>;
}

/**
 * The transactions that run one at a time across processes: those that must
 * commit in the order their ids were handed out, and the batches of
 * retention, so nodes pruning at once take turns rather than lock rows in
 * each other's way.
 */
export type SerialLock = 'publish' | 'access' | 'prune';

/** Opens the database `target` names: the factory of store drivers, chosen once at start. */
export function openDatabase(target: DatabaseTarget, onQuery: (ms: number) => void, listener: WriteHealthListener): OpenedDatabase {
  switch (target.driver) {
    case 'sqlite':
      return openSqlite(target, onQuery, listener);
    case 'postgres':
      return openPostgres(target, onQuery, listener);
  }
}

export async function migrateToLatest(opened: OpenedDatabase): Promise<string[]> {
  return opened.exclusively(async () => {
    const migrator = new Migrator({ db: opened.db, provider: migrationProvider(opened.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error instanceof Error ? error : new Error(String(error));
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  });
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
