import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';
import { LRUCache } from 'lru-cache';
import { asStoreError } from './unavailable.js';

/**
 * better-sqlite3 as Kysely's SQLite dialect wants it, but preparing each
 * distinct SQL text once. Kysely's SQLite driver calls `prepare` for every
 * query it runs, and compiling the statement was the largest single cost of
 * a publish (about a third of its database time in the sustained benchmark
 * profile). Kysely emits the same text for the same query shape, with the
 * values as parameters, so a small LRU keyed by text holds every hot one.
 * Reusing a statement is safe here because better-sqlite3 runs it to the
 * end synchronously; the one exception, `iterate` (Kysely's `stream()`), is
 * not used by codecast. `wrap` turns a prepared statement into what Kysely
 * gets (the write guard's facades); it runs once per SQL text. Preparing
 * can fail for an outage too (a locked schema, a closed connection): those
 * errors are the store's own as well.
 */
export function cachingStatements(
  sqlite: SqliteDatabase,
  wrap: (sql: string, statement: Statement) => SqliteStatement = (_sql, statement) => statement as unknown as SqliteStatement,
  max = 256,
): KyselySqliteDatabase {
  const statements = new LRUCache<string, SqliteStatement>({ max });
  return {
    close: () => sqlite.close(),
    prepare(sql: string): SqliteStatement {
      let statement = statements.get(sql);
      if (statement === undefined) {
        let prepared: Statement;
        try {
          prepared = sqlite.prepare(sql);
        } catch (error) {
          throw asStoreError(error);
        }
        statement = wrap(sql, prepared);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
